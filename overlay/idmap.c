/*
 * Containers with an id map of their own (run --userns=keep-id, --uidmap).
 * Their process sees the store's ids through the map, so the image's
 * files must carry, on disk, the ids the map turns into the image's own:
 * each lower is a copy of its layer dir with every owner moved through
 * the map (store/idmap.c keeps them, one per map and layer, shared).
 * The copy is made in tmp/ and renamed into place: a killed copy leaves
 * only staging, which gc removes. Hard links, xattrs (security.capability
 * written back after the chown that clears it), device nodes, sockets,
 * setuid bits (set again after the chown) and symlinks are kept
 * (overlay/copy.c). The upper dir gets the container's ids as they are
 * on disk; commit moves them back through the map.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

static json_t *ranges_json(const struct idrange *r, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_sprintf("%u:%u:%u", r[i].inside, r[i].outside,
						      r[i].count));
	return a;
}

static int ranges_from_json(const json_t *a, struct idrange **r, size_t *n)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
		if (!json_is_string(e) || idmap_ranges_add(json_string_value(e), r, n, NULL) < 0)
			return -1;
	return 0;
}

int overlay_idmap_from_record(const json_t *rec, struct idmap *m)
{
	json_t *im = json_object_get(rec, "IdMap");

	memset(m, 0, sizeof(*m));
	if (!json_is_object(im))
		return 0;
	if (ranges_from_json(json_object_get(im, "UidMap"), &m->uid, &m->n_uid) < 0 ||
	    ranges_from_json(json_object_get(im, "GidMap"), &m->gid, &m->n_gid) < 0 ||
	    !idmap_is_set(m)) {
		idmap_release(m);
		return -1;
	}
	return 1;
}

/* map.json of a key, and the record's "IdMap": the key, the ranges, the mode asked for. */
static json_t *map_json(const struct idmap *m, const char *key, const char *mode)
{
	json_t *j = json_object();

	if (key)
		jv_set_str(j, "Key", key);
	if (mode)
		jv_set_str(j, "Mode", mode);
	json_object_set_new(j, "UidMap", ranges_json(m->uid, m->n_uid));
	json_object_set_new(j, "GidMap", ranges_json(m->gid, m->n_gid));
	return j;
}

int overlay_container_idmap_set(struct store *s, const char *id, const struct idmap *m,
				const char *mode, struct strata_error **err)
{
	char key[DIGEST_HEX_LEN + 1];
	struct ctr c;
	struct stat st;
	unsigned uid = 0, gid = 0;
	int ret = -1;

	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	if (!c.b->has_upper) {
		strata_fail_msg(err, EINVAL, "an id map needs a backend with lower layers (overlay "
					     "or aufs), not '%s'", c.b->name);
		goto out;
	}
	idmap_key(m, key);
	json_object_set_new(c.rec, "IdMap", map_json(m, key, mode));
	/* the upper dir's root is the merged root: the image root's owner, mapped */
	if (fstatat(c.dirfd, "upper", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		strata_fail(err, errno, "stat the upper dir");
		goto out;
	}
	if (!idmap_to_outside(m->uid, m->n_uid, st.st_uid, &uid))
		uid = 65534;
	if (!idmap_to_outside(m->gid, m->n_gid, st.st_gid, &gid))
		gid = 65534;
	if (fchownat(c.dirfd, "upper", uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(c.dirfd, "upper", st.st_mode & 07777, 0) < 0) {
		strata_fail(err, errno, "give the upper dir to the container's root");
		goto out;
	}
	ret = overlay_ctr_save(&c, err);
out:
	overlay_ctr_close(&c);
	return ret;
}

/*
 * (backend, chain hex) of lower @path when it is a layer dir of the store
 * (ROOT/layers/<backend>/<hex>/diff); false for anything else (the empty
 * dir of an image without layers).
 */
static bool lower_names(struct store *s, const char *path, char **backend, char **hex)
{
	cleanup_free char *prefix = xasprintf("%s/layers/", store_root(s));
	const char *p = path, *slash, *tail;

	if (strncmp(p, prefix, strlen(prefix)) != 0)
		return false;
	p += strlen(prefix);
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return false;
	tail = strchr(slash + 1, '/');
	if (!tail || (size_t)(tail - slash - 1) != DIGEST_HEX_LEN || strcmp(tail, "/diff") != 0)
		return false;
	*backend = xstrndup(p, (size_t)(slash - p));
	*hex = xstrndup(slash + 1, DIGEST_HEX_LEN);
	return true;
}

/* Copies layer dir @lower into tmp/, owners mapped, and publishes it. */
static int make_copy(struct store *s, const char *lower, const struct idmap *m, const char *key,
		     const char *backend, const char *hex, struct strata_error **err)
{
	cleanup_close int src = open(lower, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int dst = -1;
	cleanup_free char *staged = NULL;
	cleanup_json json_t *rec = map_json(m, NULL, NULL);

	if (src < 0)
		return strata_fail(err, errno, "open '%s'", lower);
	dst = store_tmp_mkdir(s, ".idmap", 0700, &staged, err);
	if (dst < 0)
		return -1;
	log_info("making a copy of layer %.12s for the id map %.12s", hex, key);
	if (overlay_copy_tree_mapped(src, dst, 0, m, err) < 0 ||
	    store_idmap_publish(s, key, rec, backend, hex, staged, err) < 0) {
		store_tmp_remove(s, staged, NULL);
		return strata_wrap(err, "copy layer %.12s for the container's id map", hex);
	}
	return 0;
}

int overlay_idmap_lowers(struct store *s, const json_t *rec, char **lowers,
			 struct strata_error **err)
{
	struct idmap m;
	char key[DIGEST_HEX_LEN + 1];
	int r = overlay_idmap_from_record(rec, &m);

	if (r == 0)
		return 0;
	if (r < 0)
		return strata_fail_msg(err, EINVAL, "the container's record has a bad IdMap");
	idmap_key(&m, key);
	for (size_t i = 0; lowers[i]; i++) {
		cleanup_free char *backend = NULL;
		cleanup_free char *hex = NULL;
		char *copy;

		if (!lower_names(s, lowers[i], &backend, &hex))
			continue;
		copy = store_idmap_path(s, key, backend, hex);
		if (access(copy, F_OK) < 0 &&
		    make_copy(s, lowers[i], &m, key, backend, hex, err) < 0) {
			free(copy);
			idmap_release(&m);
			return -1;
		}
		free(lowers[i]);
		lowers[i] = copy;
	}
	idmap_release(&m);
	return 0;
}

/* ---- root's fast path: idmapped lower mounts ---- */

bool overlay_idmap_mounts_wanted(void)
{
	const char *e = getenv("STRATA_IDMAP_COPY");

	return sys_is_host_root() && !(e && *e && strcmp(e, "0") != 0);
}

static int write_map(pid_t pid, const char *file, const struct idrange *r, size_t n)
{
	cleanup_free char *path = xasprintf("/proc/%d/%s", (int)pid, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	struct sbuf b = SBUF_INIT;
	cleanup_free char *text = NULL;
	size_t len;

	for (size_t i = 0; i < n; i++)
		sbuf_addf(&b, "%u %u %u\n", r[i].inside, r[i].outside, r[i].count);
	text = sbuf_detach(&b, &len);
	return fd >= 0 && write(fd, text, len) == (ssize_t)len ? 0 : -1;
}

/*
 * An fd on a user namespace with @m, which MOUNT_ATTR_IDMAP takes: a child
 * made in a new one waits while its maps are written and the namespace
 * opened, then goes; the namespace lives on in the fd.
 */
static int userns_fd(const struct idmap *m)
{
	int p[2], fd = -1;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid = sys_clone(CLONE_NEWUSER, -1);
	if (pid == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) < 0 ? 1 : 0);
	}
	close(p[0]);
	if (pid > 0 && write_map(pid, "uid_map", m->uid, m->n_uid) == 0 &&
	    write_map(pid, "gid_map", m->gid, m->n_gid) == 0) {
		cleanup_free char *ns = xasprintf("/proc/%d/ns/user", (int)pid);

		fd = open(ns, O_RDONLY | O_CLOEXEC);
	}
	close(p[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

int overlay_idmap_mount_lowers(const json_t *rec, const char *dir, char **lowers, char ***mounted)
{
	struct idmap m;
	cleanup_close int ns = -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	char **done = NULL;

	*mounted = NULL;
	if (overlay_idmap_from_record(rec, &m) <= 0)
		return -1;
	ns = userns_fd(&m);
	idmap_release(&m);
	if (ns < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		return -1;
	attr.userns_fd = (uint64_t)ns;
	for (size_t i = 0; lowers[i]; i++) {
		cleanup_free char *target = xasprintf("%s/%zu", dir, i);
		cleanup_close int tree = -1;

		/* one a killed process left here goes first */
		while (sys_umount2(target, MNT_DETACH) == 0)
			;
		if (mkdir(target, 0700) < 0 && errno != EEXIST)
			goto fail;
		strv_append(&done, target);
		tree = sys_open_tree(AT_FDCWD, lowers[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
		    sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			log_debug("overlay: idmapped mount of '%s': %s", lowers[i], strerror(errno));
			goto fail;
		}
	}
	/* all mounted: only now do they replace the lowers (a failure leaves them as they were) */
	for (size_t i = 0; lowers[i]; i++) {
		free(lowers[i]);
		lowers[i] = xstrdup(done[i]);
	}
	*mounted = done;
	return 0;
fail:
	overlay_idmap_mounts_drop(done);
	return -1;
}

void overlay_idmap_mounts_drop(char **mounted)
{
	cleanup_free char *parent = NULL;

	for (size_t i = 0; mounted && mounted[i]; i++) {
		if (!parent)
			parent = xstrdup(mounted[i]);
		while (sys_umount2(mounted[i], MNT_DETACH) == 0)
			;
		rmdir(mounted[i]);
	}
	if (parent) {
		char *slash = strrchr(parent, '/');

		if (slash) {
			*slash = '\0';
			rmdir(parent);
		}
	}
	strv_free(mounted);
}
