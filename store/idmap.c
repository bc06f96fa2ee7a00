/*
 * The layer copies of containers with an id map of their own: a layer
 * dir shown through another map is a copy of it with every owner moved
 * through the map (the kernel cannot idmap an overlay, nor, without root,
 * its lowers), made once per map and layer and shared by the containers
 * of that map. ROOT/idmap/<key>/map.json names the map, <key>/<backend>/
 * <chain-hex>/ holds a copy; each is made in tmp/ and renamed into place.
 * ROOT/idmap.lock: shared while a copy is made or mounted, exclusive while
 * copies no container uses are removed, so none goes under a container
 * that is being started.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

int store_idmap_lock(struct store *s, bool exclusive, struct strata_error **err)
{
	int fd = openat(s->root_fd, "idmap.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return strata_fail(err, errno, "open '%s/idmap.lock'", s->root);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			return strata_fail(err, e, "lock '%s/idmap.lock'", s->root);
		}
	}
	return fd;
}

char *store_idmap_path(struct store *s, const char *key, const char *backend, const char *hex)
{
	return xasprintf("%s/idmap/%s/%s/%s", s->root, key, backend, hex);
}

static int mkdir_at(int dfd, const char *name, struct strata_error **err)
{
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "mkdir '%s'", name);
	return 0;
}

int store_idmap_publish(struct store *s, const char *key, const json_t *map, const char *backend,
			const char *hex, const char *staged, struct strata_error **err)
{
	cleanup_free char *kdir = xasprintf("idmap/%s", key);
	cleanup_free char *bdir = xasprintf("idmap/%s/%s", key, backend);
	cleanup_free char *text = jv_dump_pretty(map);
	cleanup_close int bfd = -1;
	cleanup_close int kfd = -1;

	if (mkdir_at(s->root_fd, "idmap", err) < 0)
		return -1;
	/* the key dir comes whole with its map.json: a copy is never there without its map */
	if (faccessat(s->root_fd, kdir, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		cleanup_free char *kstage = NULL;

		kfd = store_tmp_mkdir(s, ".idmapkey", 0700, &kstage, err);
		if (kfd < 0)
			return -1;
		if (file_write_atomic_at(kfd, "map.json", text, strlen(text), 0644, err) < 0) {
			path_rm_rf_at(s->tmp_fd, kstage, NULL);
			return -1;
		}
		if (renameat(s->tmp_fd, kstage, s->root_fd, kdir) < 0) {
			int e = errno;

			/* another process was first: ours goes */
			path_rm_rf_at(s->tmp_fd, kstage, NULL);
			if (e != EEXIST && e != ENOTEMPTY)
				return strata_fail(err, e, "make '%s'", kdir);
		}
	}
	if (mkdir_at(s->root_fd, bdir, err) < 0)
		return -1;
	bfd = openat(s->root_fd, bdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return strata_fail(err, errno, "open '%s'", bdir);
	if (renameat(s->tmp_fd, staged, bfd, hex) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY) {
		/* another process made it first: ours goes */
		path_rm_rf_at(s->tmp_fd, staged, NULL);
		return 0;
	}
	return strata_fail(err, errno, "move the copy of layer '%s' into '%s'", hex, bdir);
}

/* "KEY/HEX" of every layer of every container with a map. */
static int used_copies(struct store *s, struct strmap *used, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;

	if (store_container_list(s, &ids, err) < 0)
		return -1;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *key = rec ? jv_str(json_object_get(rec, "IdMap"), "Key") : NULL;
		const char *dg = rec ? jv_str(rec, "ImageDigest") : NULL;
		struct store_image *img = NULL;
		cleanup_strv char **chains = NULL;

		if (!key || !dg || !*dg || store_image_load_manifest(s, dg, &img, NULL) < 0)
			continue;
		chains = store_image_chain_ids(img);
		for (size_t k = 0; chains && chains[k]; k++) {
			cleanup_free char *name = xasprintf("%s/%s", key, digest_hex(chains[k]));

			strmap_add(used, name);
		}
		store_image_free(img);
	}
	return 0;
}

static DIR *open_dir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (fd >= 0 && !d)
		close(fd);
	return d;
}

/* Moves @name of @dfd into tmp/ (one rename) and deletes it there. */
static int remove_aside(struct store *s, int dfd, const char *name, struct strata_error **err)
{
	cleanup_free char *trash = store_tmp_name(".idmap");

	if (renameat(dfd, name, s->tmp_fd, trash) < 0)
		return errno == ENOENT ? 0 : strata_fail(err, errno, "move '%s' aside", name);
	return path_rm_rf_at(s->tmp_fd, trash, err);
}

static bool is_hex64(const char *n)
{
	return strlen(n) == DIGEST_HEX_LEN && strspn(n, "0123456789abcdef") == DIGEST_HEX_LEN;
}

struct walk {
	struct store *s;
	struct strmap *used; /* prune: what stays */
	bool repair;	     /* fsck */
	void (*report)(const char *what, void *arg);
	void *arg;
	size_t n;
};

/* Counts and reports @msg (taken). */
static void tell(struct walk *w, char *msg)
{
	w->n++;
	if (w->report)
		w->report(msg, w->arg);
	free(msg);
}

/* One key dir: its copies not in @w->used (prune), or not well formed (fsck). */
static int walk_key(struct walk *w, int idfd, const char *key, struct strata_error **err)
{
	cleanup_dir DIR *kd = open_dir_at(idfd, key);
	struct dirent *be;
	bool left = false;

	if (!kd)
		return 0;
	while ((be = readdir(kd))) {
		cleanup_dir DIR *bd = NULL;
		struct dirent *ce;
		bool bleft = false;

		if (!strcmp(be->d_name, ".") || !strcmp(be->d_name, "..") ||
		    !strcmp(be->d_name, "map.json"))
			continue;
		if (be->d_type != DT_DIR || !(bd = open_dir_at(dirfd(kd), be->d_name))) {
			if (!w->used)
				tell(w, xasprintf("id-mapped copies %s: '%s' is not a backend dir", key,
						 be->d_name));
			left = true;
			continue;
		}
		while ((ce = readdir(bd))) {
			cleanup_free char *name = xasprintf("%s/%s", key, ce->d_name);

			if (!strcmp(ce->d_name, ".") || !strcmp(ce->d_name, ".."))
				continue;
			if (w->used ? strmap_has(w->used, name) : is_hex64(ce->d_name)) {
				bleft = true;
				continue;
			}
			if (w->used || w->repair) {
				if (remove_aside(w->s, dirfd(bd), ce->d_name, err) < 0)
					return -1;
			} else {
				bleft = true;
			}
			tell(w, xasprintf(w->used ? "id-mapped copy %s/%s"
						  : "id-mapped copy %s/%s: not a chain ID",
					  key, ce->d_name));
		}
		if (!bleft)
			unlinkat(dirfd(kd), be->d_name, AT_REMOVEDIR);
		left = left || bleft;
	}
	if (!w->used && faccessat(dirfd(kd), "map.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && left)
		tell(w, xasprintf("id-mapped copies %s: no map.json", key));
	if (!left && (w->used || w->repair)) {
		unlinkat(dirfd(kd), "map.json", 0);
		unlinkat(idfd, key, AT_REMOVEDIR);
	}
	return 0;
}

static int walk_all(struct walk *w, struct strata_error **err)
{
	cleanup_dir DIR *d = open_dir_at(w->s->root_fd, "idmap");
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!is_hex64(de->d_name)) {
			tell(w, xasprintf("id-mapped copies: '%s' is not a map key", de->d_name));
			if ((w->used || w->repair) && remove_aside(w->s, dirfd(d), de->d_name, err) < 0)
				return -1;
			continue;
		}
		if (walk_key(w, dirfd(d), de->d_name, err) < 0)
			return -1;
	}
	return 0;
}

int store_idmap_prune(struct store *s, void (*report)(const char *what, void *arg), void *arg,
		      size_t *removed, struct strata_error **err)
{
	struct strmap used = STRMAP_INIT;
	struct walk w = { s, &used, false, report, arg, 0 };
	int lfd, ret = -1;

	if (faccessat(s->root_fd, "idmap", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		if (removed)
			*removed = 0;
		return 0;
	}
	lfd = store_idmap_lock(s, true, err);
	if (lfd < 0)
		return -1;
	if (store_lock(s, STORE_LOCK_SHARED, err) == 0) {
		ret = used_copies(s, &used, err);
		store_unlock(s);
	}
	if (ret == 0)
		ret = walk_all(&w, err);
	close(lfd);
	strmap_release(&used, NULL);
	if (removed)
		*removed = w.n;
	return ret < 0 ? strata_wrap(err, "remove id-mapped layer copies") : 0;
}

int store_idmap_check(struct store *s, bool repair, void (*report)(const char *what, void *arg),
		      void *arg, size_t *problems, struct strata_error **err)
{
	struct walk w = { s, NULL, repair, report, arg, 0 };
	int ret;

	ret = walk_all(&w, err);
	*problems = w.n;
	return ret;
}
