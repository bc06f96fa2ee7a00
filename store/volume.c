/*
 * Named volumes, kept as podman keeps them: ROOT/volumes/<name>/ holds
 * volume.json (the record) and _data/ (what containers see). A volume is
 * made whole in ROOT/tmp and renamed into place, and removed by a rename
 * into ROOT/tmp before the slow recursive removal, both under the
 * exclusive lock: a killed command leaves either no volume or a whole one,
 * plus garbage in tmp that gc removes. Which containers use a volume is
 * read from their records' "Volumes" lists, under the same lock, and a
 * removal also holds users.lock exclusively, so that a container being
 * created, whose record does not list its volumes yet, keeps them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store-int.h"

#define VOLUMES_DIR "volumes"
#define RECORD "volume.json"

bool store_volume_name_is_valid(const char *n)
{
	size_t len = strlen(n);

	/* podman's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]*: never '/', never "." or ".." */
	if (!len || len > STORE_VOLUME_NAME_MAX ||
	    !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
	      (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (const char *p = n; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int check_name(const char *name, struct strata_error **err)
{
	if (!store_volume_name_is_valid(name))
		return strata_fail_msg(err, EINVAL,
				       "invalid volume name '%s': names must match "
				       "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most %d characters)",
				       name, STORE_VOLUME_NAME_MAX);
	return 0;
}

/* Opens ROOT/volumes (made when @create); ENOENT when missing otherwise. */
static int volumes_fd(struct store *s, bool create, struct strata_error **err)
{
	int fd;

	if (create && mkdirat(s->root_fd, VOLUMES_DIR, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "create '%s/" VOLUMES_DIR "'", s->root);
	fd = openat(s->root_fd, VOLUMES_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s/" VOLUMES_DIR "'", s->root);
	return fd;
}

char *store_volume_path(struct store *s, const char *name)
{
	return xasprintf("%s/" VOLUMES_DIR "/%s/" STORE_VOLUME_DATA, s->root, name);
}

/* The record as inspect shows it: podman's keys, in podman's order. */
static json_t *inspect_view(struct store *s, const char *name, const json_t *rec)
{
	cleanup_free char *mp = store_volume_path(s, name);
	json_t *labels = json_object_get(rec, "Labels");
	json_t *opts = json_object_get(rec, "Options");
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Name", name, "Driver", "local",
			      "Mountpoint", mp, "CreatedAt",
			      jv_str(rec, "CreatedAt") ? jv_str(rec, "CreatedAt") : "");

	json_object_set_new(o, "Labels", json_is_object(labels) ? json_deep_copy(labels)
								  : json_object());
	json_object_set_new(o, "Scope", json_string("local"));
	json_object_set_new(o, "Options", json_is_object(opts) ? json_deep_copy(opts)
							       : json_object());
	/* podman: o=uid=,gid= show as numbers too; MountCount is what is mounted now (the caller's) */
	if (jv_str(opts, "UID"))
		json_object_set_new(o, "UID", json_integer(atoi(jv_str(opts, "UID"))));
	if (jv_str(opts, "GID"))
		json_object_set_new(o, "GID", json_integer(atoi(jv_str(opts, "GID"))));
	json_object_set_new(o, "MountCount", json_integer(0));
	if (json_is_true(json_object_get(rec, "Anonymous")))
		json_object_set_new(o, "Anonymous", json_true());
	if (json_is_true(json_object_get(rec, "NeedsCopyUp")))
		json_object_set_new(o, "NeedsCopyUp", json_true());
	if (json_is_true(json_object_get(rec, "NeedsChown")))
		json_object_set_new(o, "NeedsChown", json_true());
	return o;
}

json_t *store_volume_load(struct store *s, const char *name, struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" RECORD, name);
	cleanup_close int vfd = -1;
	cleanup_json json_t *rec = NULL;
	struct strata_error *e = NULL;

	if (check_name(name, err) < 0)
		return NULL;
	if ((vfd = volumes_fd(s, false, &e)) < 0 ||
	    faccessat(vfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		strata_error_free(e);
		strata_fail_msg(err, ENOENT, "no such volume '%s'", name);
		return NULL;
	}
	rec = jv_load_at(vfd, rel, STORE_JSON_MAX, err);
	if (!rec) {
		strata_wrap(err, "volume '%s'", name);
		return NULL;
	}
	if (!json_is_object(rec) || !jv_str(rec, "Name") || strcmp(jv_str(rec, "Name"), name)) {
		strata_fail_msg(err, EINVAL, "volume '%s': its record names another volume", name);
		return NULL;
	}
	return inspect_view(s, name, rec);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_volume_list(struct store *s, char ***names, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	struct strata_error *e = NULL;
	int fd = volumes_fd(s, false, &e);
	size_t n = 0;

	*names = xcalloc(1, sizeof(char *));
	if (fd < 0) {
		bool missing = strata_error_code(e) == ENOENT;

		if (missing) {
			strata_error_free(e);
			return 0;
		}
		*err = e;
		return -1;
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		return strata_fail(err, errno, "list volumes");
	}
	while ((de = readdir(d))) {
		if (!store_volume_name_is_valid(de->d_name))
			continue;
		strv_append(names, de->d_name);
		n++;
	}
	qsort(*names, n, sizeof(char *), cmp_str);
	return 0;
}

/* True when container record @rec lists volume @name. */
static bool record_uses(const json_t *rec, const char *name)
{
	json_t *vols = json_object_get(rec, "Volumes");
	json_t *v;
	size_t i;

	json_array_foreach(vols, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), name))
			return true;
	}
	return false;
}

int store_volume_users(struct store *s, const char *name, char ***ids, struct strata_error **err)
{
	cleanup_strv char **all = NULL;

	*ids = xcalloc(1, sizeof(char *));
	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	if (store_container_list(s, &all, err) < 0) {
		store_unlock(s);
		return -1;
	}
	for (size_t i = 0; all[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, all[i], NULL);

		if (rec && record_uses(rec, name))
			strv_append(ids, all[i]);
	}
	store_unlock(s);
	return 0;
}

/* Makes the volume whole in ROOT/tmp: _data/ and the record, synced. */
static int stage(struct store *s, const char *name, const json_t *labels, const json_t *options,
		 unsigned flags, char **staged, struct strata_error **err)
{
	const char *uid = jv_str(options, "UID"), *gid = jv_str(options, "GID");
	struct timespec ts;
	cleanup_free char *created = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_close int dfd = store_tmp_mkdir(s, ".vol", 0700, staged, err);
	int ret = -1;

	if (dfd < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	created = time_rfc3339(ts.tv_sec, ts.tv_nsec);
	rec = json_pack("{s:s, s:s, s:s, s:O, s:s, s:O, s:b}", "Name", name, "Driver", "local",
			"CreatedAt", created, "Labels", labels ? labels : json_object(), "Scope",
			"local", "Options", options ? options : json_object(), "NeedsCopyUp",
			!(flags & STORE_VOLUME_NOCOPY));
	if (!labels)
		json_decref(json_object_get(rec, "Labels")); /* O took a reference too */
	if (!options)
		json_decref(json_object_get(rec, "Options"));
	/* podman: the first container's user gets the data dir, unless o=uid=,gid= said whose */
	if (!uid && !gid)
		json_object_set_new(rec, "NeedsChown", json_true());
	if (flags & STORE_VOLUME_ANONYMOUS)
		json_object_set_new(rec, "Anonymous", json_true());
	/* _data as podman makes it: root's, 0755 whatever the umask */
	if (mkdirat(dfd, STORE_VOLUME_DATA, 0755) < 0 ||
	    fchmodat(dfd, STORE_VOLUME_DATA, 0755, 0) < 0) {
		strata_fail(err, errno, "create the data dir of volume '%s'", name);
		goto out;
	}
	if ((uid || gid) && fchownat(dfd, STORE_VOLUME_DATA, uid ? (uid_t)atoi(uid) : (uid_t)-1,
				     gid ? (gid_t)atoi(gid) : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0) {
		strata_fail(err, errno, "volume '%s': give its data dir to %s:%s", name,
			    uid ? uid : "", gid ? gid : "");
		goto out;
	}
	if (jv_write_at(dfd, RECORD, rec, err) < 0 || file_fsync_dir(dfd, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		store_tmp_remove(s, *staged, NULL);
		free(*staged);
		*staged = NULL;
	}
	return ret;
}

int store_volume_create(struct store *s, const char *name, const json_t *labels, unsigned flags,
			char **created, struct strata_error **err)
{
	return store_volume_create_with(s, name, labels, NULL, flags, created, err);
}

int store_volume_create_with(struct store *s, const char *name, const json_t *labels,
			     const json_t *options, unsigned flags, char **created,
			     struct strata_error **err)
{
	char rnd[STORE_ID_LEN + 1];
	cleanup_free char *staged = NULL;
	cleanup_close int vfd = -1;
	int ret = -1;

	if (!name) {
		random_hex(rnd, STORE_ID_LEN);
		name = rnd;
	}
	if (check_name(name, err) < 0)
		return -1;
	if (labels && !json_is_object(labels))
		return strata_fail_msg(err, EINVAL, "volume labels are not a JSON object");
	if (options && !json_is_object(options))
		return strata_fail_msg(err, EINVAL, "volume options are not a JSON object");
	if (store_pin(s, err) < 0)
		return -1;
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		goto out_unpin;
	if ((vfd = volumes_fd(s, true, err)) < 0)
		goto out_unlock;
	if (faccessat(vfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		if (flags & STORE_VOLUME_EXIST_OK)
			ret = 0;
		else
			strata_fail_msg(err, EEXIST, "volume with name '%s' already exists", name);
		goto out_unlock;
	}
	if (stage(s, name, labels, options, flags, &staged, err) < 0)
		goto out_unlock;
	if (store_tmp_move(s, staged, vfd, name, err) < 0 || file_fsync_dir(vfd, err) < 0) {
		store_tmp_remove(s, staged, NULL);
		goto out_unlock;
	}
	ret = 0;
out_unlock:
	store_unlock(s);
out_unpin:
	store_unpin(s);
	if (ret == 0 && created)
		*created = xstrdup(name);
	return ret;
}

int store_volume_copied(struct store *s, const char *name, bool copied,
			struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" RECORD, name);
	cleanup_close int vfd = -1;
	cleanup_json json_t *rec = NULL;
	int ret = -1;

	if (check_name(name, err) < 0 || store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if ((vfd = volumes_fd(s, false, err)) < 0 ||
	    !(rec = jv_load_at(vfd, rel, STORE_JSON_MAX, err)))
		goto out;
	ret = 0;
	if ((copied && json_object_get(rec, "NeedsCopyUp")) || json_object_get(rec, "NeedsChown")) {
		if (copied)
			json_object_del(rec, "NeedsCopyUp");
		json_object_del(rec, "NeedsChown");
		ret = jv_write_at(vfd, rel, rec, err);
	}
out:
	store_unlock(s);
	return ret;
}

int store_volume_dir_open(struct store *s, const char *name, struct strata_error **err)
{
	cleanup_close int vfd = -1;
	int fd;

	if (check_name(name, err) < 0 || (vfd = volumes_fd(s, false, err)) < 0)
		return -1;
	fd = openat(vfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open volume '%s'", name);
	return fd;
}

/*
 * A volume mounted by its driver options (tmpfs, a bind, a device) that no
 * container holds any more (a crashed one's mount stays): unmounted, so
 * that the removal deletes the store's dir and never what the mount shows.
 * EBUSY while a container holds it (a shared flock of its dir).
 */
static int unmount_leftover(struct store *s, int vfd, const char *name, struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" STORE_VOLUME_DATA, name);
	cleanup_free char *path = NULL;
	cleanup_close int dfd = -1;
	struct statx stx;

	if (statx(vfd, rel, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return 0;
	dfd = openat(vfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX | LOCK_NB) < 0)
		return strata_fail_msg(err, EBUSY, "volume '%s' is mounted by a running container",
				       name);
	path = store_volume_path(s, name);
	if (sys_umount2(path, MNT_DETACH) < 0)
		return strata_fail(err, errno, "volume '%s': unmount '%s'", name, path);
	return 0;
}

int store_volume_data_open(struct store *s, const char *name, struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" STORE_VOLUME_DATA, name);
	cleanup_close int vfd = -1;
	int fd;

	if (check_name(name, err) < 0 || (vfd = volumes_fd(s, false, err)) < 0)
		return -1;
	/* never through a symlink: the data dir of a volume is a directory of the store */
	fd = openat(vfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno == ENOTDIR || errno == ELOOP ? ENOTDIR : errno,
				   "volume '%s': open its data dir", name);
	return fd;
}

int store_volume_data_replace(struct store *s, const char *name, const char *staged,
			      struct strata_error **err)
{
	cleanup_close int vfd = -1, nfd = -1;

	if (check_name(name, err) < 0 || (vfd = volumes_fd(s, false, err)) < 0)
		return -1;
	nfd = openat(vfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0)
		return strata_fail(err, errno, "volume '%s'", name);
	/* one step: the data dir is the old one or the whole new one, never a part */
	if (renameat2(s->tmp_fd, staged, nfd, STORE_VOLUME_DATA, RENAME_EXCHANGE) < 0)
		return strata_fail(err, errno, "volume '%s': put its data in place", name);
	/* the old one, now under tmp/, goes here or at gc */
	if (path_rm_rf_at(s->tmp_fd, staged, NULL) < 0)
		log_debug("volume '%s': the old data dir is left for gc", name);
	return 0;
}

int store_volume_remove(struct store *s, const char *name, struct strata_error **err)
{
	cleanup_strv char **users = NULL;
	cleanup_free char *trash = NULL;
	cleanup_close int vfd = -1;
	int ret = -1;

	/*
	 * users.lock first: a create that has made or found this volume holds
	 * it shared until its record lists the volume, which the check below
	 * then sees.
	 */
	if (check_name(name, err) < 0 || store_users_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (store_pin(s, err) < 0) {
		store_users_unlock(s);
		return -1;
	}
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		goto out_unpin;
	if ((vfd = volumes_fd(s, false, NULL)) < 0 ||
	    faccessat(vfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		strata_fail_msg(err, ENOENT, "no such volume '%s'", name);
		goto out_unlock;
	}
	if (store_volume_users(s, name, &users, err) < 0)
		goto out_unlock;
	if (users[0]) {
		struct sbuf b = SBUF_INIT;
		cleanup_free char *list = NULL;

		for (size_t i = 0; users[i]; i++)
			sbuf_addf(&b, "%s%.12s", i ? ", " : "", users[i]);
		list = sbuf_detach(&b, NULL);
		strata_fail_msg(err, EBUSY, "volume '%s' is being used by container(s) %s", name,
				list);
		goto out_unlock;
	}
	if (unmount_leftover(s, vfd, name, err) < 0)
		goto out_unlock;
	/* out of volumes/ in one rename: a crash after it leaves garbage in tmp only */
	trash = store_tmp_name(".rmvol");
	if (renameat(vfd, name, s->tmp_fd, trash) < 0) {
		strata_fail(err, errno, "remove volume '%s'", name);
		goto out_unlock;
	}
	ret = 0;
out_unlock:
	store_unlock(s);
	store_users_unlock(s);
	/* the slow part holds only the pin: the volume is out of volumes/ already */
	if (ret == 0 && path_rm_rf_at(s->tmp_fd, trash, err) < 0)
		ret = strata_wrap(err, "remove volume '%s'", name);
	store_unpin(s);
	return ret;
out_unpin:
	store_unpin(s);
	store_users_unlock(s);
	return ret;
}

/* Adds the sizes of what @dirfd holds, never following a symlink. */
static void add_sizes(int dirfd, uint64_t *bytes, unsigned depth)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (depth > 256 || !(d = fdopendir(dirfd))) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				add_sizes(sub, bytes, depth + 1);
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			*bytes += (uint64_t)st.st_size;
		}
	}
}

int store_volume_size(struct store *s, const char *name, uint64_t *bytes,
		      struct strata_error **err)
{
	int fd = store_volume_data_open(s, name, err);

	*bytes = 0;
	if (fd < 0)
		return -1;
	add_sizes(fd, bytes, 0);
	return 0;
}

bool store_volume_is_empty(int datafd)
{
	int fd = openat(datafd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}
