/*
 * Read-only mounts of images (`strata mount IMAGE`), counted per user as
 * container mounts are. Each lives in ROOT/layers/<backend>/mnt/<image-hex>/
 * (merged/ and mount.json with the count); gc leaves that name alone, and
 * an unmounted image's dir goes away. All image mounts of a backend are
 * serialised by flock() on its mnt/ dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

#define MOUNT_RECORD "mount.json"

/* Opens and locks ROOT/layers/<backend>/mnt, creating it when @create. */
static int lock_mnt(struct store *s, const char *backend, bool create, struct strata_error **err)
{
	int fd = store_layers_open(s, backend, "mnt", create, err);

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			strata_fail(err, errno, "lock 'layers/%s/mnt'", backend);
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int mount_image_stack(struct store *s, const struct backend_ops *b,
			     const struct store_image *img, const char *merged,
			     struct strata_error **err)
{
	cleanup_free char *links = store_layers_path(s, b->name, "l");
	cleanup_strv char **lowers = NULL;
	cleanup_free char *top = NULL;
	/* n_lowers: the depth wanted, for overlay_max_lowers */
	struct overlay_stack st = { NULL, img->n_layers, NULL, NULL, links, false };
	int ret = -1;

	if (store_pin(s, err) < 0)
		return -1;
	if (!b->mount) {
		top = overlay_stack_vfs_top(s, img, err);
		if (top)
			ret = overlay_mount_bind_ro(top, merged, err);
	} else if (overlay_stack_lowers(s, b->name, img, overlay_max_lowers(b->name, &st), &lowers, err) ==
		   0) {
		st.lowers = lowers;
		st.n_lowers = strv_len(lowers);
		ret = overlay_mount(b->name, &st, merged, err);
	}
	store_unpin(s);
	return ret;
}

int overlay_image_mount(struct store *s, const char *backend, const struct store_image *img,
			char **merged, struct strata_error **err)
{
	const struct backend_ops *b;
	cleanup_free char *dir = NULL;
	cleanup_free char *path = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_close int mfd = -1;
	cleanup_close int dfd = -1;
	const char *hex = digest_hex(img->id);
	json_int_t count = 0;

	if (!backend)
		backend = overlay_backend_default();
	if (overlay_backend_check(backend, err) < 0)
		return -1;
	b = overlay_backend_get(backend);
	mfd = lock_mnt(s, backend, true, err);
	if (mfd < 0)
		return -1;
	if (mkdirat(mfd, hex, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "mkdir 'layers/%s/mnt/%s'", backend, hex);
	dfd = openat(mfd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || (mkdirat(dfd, "merged", 0755) < 0 && errno != EEXIST))
		return strata_fail(err, errno, "mkdir 'layers/%s/mnt/%s'", backend, hex);
	dir = xasprintf("%s/layers/%s/mnt/%s", store_root(s), backend, hex);
	path = xasprintf("%s/merged", dir);
	if (faccessat(dfd, MOUNT_RECORD, F_OK, 0) == 0)
		rec = jv_load_at(dfd, MOUNT_RECORD, STORE_JSON_MAX, NULL);
	if (!rec)
		rec = json_object();
	if (overlay_is_mounted(path)) {
		count = jv_int(rec, "MountCount", 0);
		if (count < 0)
			count = 0;
	} else if (mount_image_stack(s, b, img, path, err) < 0) {
		return strata_wrap(err, "mount image '%.12s'", hex);
	}
	jv_set_str(rec, "Image", img->id);
	json_object_set_new(rec, "MountCount", json_integer(count + 1));
	if (jv_write_at(dfd, MOUNT_RECORD, rec, err) < 0)
		return -1;
	*merged = steal_ptr(&path);
	return 0;
}

/* Unmounts and removes one image mount dir. Caller holds the mnt/ lock. */
static int umount_one(struct store *s, const char *backend, int mfd, const char *hex, bool force,
		      struct strata_error **err)
{
	cleanup_free char *path =
		xasprintf("%s/layers/%s/mnt/%s/merged", store_root(s), backend, hex);
	cleanup_free char *rel = xasprintf("%s/" MOUNT_RECORD, hex);
	cleanup_json json_t *rec = NULL;
	json_int_t count;

	rec = jv_load_at(mfd, rel, STORE_JSON_MAX, NULL);
	count = rec ? jv_int(rec, "MountCount", 0) : 0;
	if (overlay_is_mounted(path)) {
		if (!force && count > 1) {
			json_object_set_new(rec, "MountCount", json_integer(count - 1));
			return jv_write_at(mfd, rel, rec, err);
		}
		if (overlay_umount(path, force, err) < 0)
			return -1;
	}
	return path_rm_rf_at(mfd, hex, err);
}

int overlay_image_umount(struct store *s, const char *backend, const char *image_id, bool force,
			 struct strata_error **err)
{
	const char *hex = digest_hex(image_id);
	bool found = false;
	const char *name;

	for (size_t i = 0; (name = overlay_backend_name(i)); i++) {
		cleanup_free char *rel = xasprintf("mnt/%s", hex);
		cleanup_close int mfd = -1;
		cleanup_close int bfd = -1;

		if (backend && strcmp(backend, name) != 0)
			continue;
		bfd = store_layers_open(s, name, NULL, false, NULL);
		if (bfd < 0 || faccessat(bfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		mfd = lock_mnt(s, name, false, err);
		if (mfd < 0)
			return -1;
		found = true;
		if (umount_one(s, name, mfd, hex, force, err) < 0)
			return strata_wrap(err, "unmount image '%.12s'", hex);
	}
	if (!found)
		return strata_fail_msg(err, ENOENT, "image '%.12s' is not mounted", hex);
	return 0;
}
