/*
 * podman's local volume driver options (`volume create -o type=,device=,o=`):
 * checked when the volume is made, and mounted on the volume's data dir in
 * the host's mount namespace when a container using it starts, unmounted
 * when the last one using it stops, as podman does (it runs mount(8) with
 * the same three values).
 *
 * Which containers use the mount: each one's launcher (the monitor, or an
 * attached run) holds a shared flock of ROOT/volumes/<name> for the
 * container's life. Deciding to mount or to unmount happens under the
 * store's exclusive lock: a start mounts when nothing is mounted there; a
 * stop, its own flock released, unmounts when an exclusive flock can be
 * taken, that is when no other launcher holds one. A killed launcher's
 * flock goes with it, and the next stop (or a volume rm) unmounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch-int.h"

/* mount(8)'s flag words of o=; the rest goes to the filesystem as its data. */
static const struct {
	const char *word;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },
	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },
	{ "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },
	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "noatime", MS_NOATIME, 0 },
	{ "atime", 0, MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "diratime", 0, MS_NODIRATIME },
	{ "relatime", MS_RELATIME, 0 },
	{ "norelatime", 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "lazytime", MS_LAZYTIME, 0 },
	{ "nolazytime", 0, MS_LAZYTIME },
	{ "bind", MS_BIND, 0 },
	{ "rbind", MS_BIND | MS_REC, 0 },
	{ "defaults", 0, 0 },
};

/*
 * The words of @o: flags into *flags, the rest (comma-joined) into *data.
 * -1 with the word refused in *bad (caller frees).
 */
static int split_o(const char *o, unsigned long *flags, char **data, char **bad)
{
	cleanup_free char *copy = xstrdup(o ? o : "");
	struct sbuf b = SBUF_INIT;
	char *save = NULL;

	*flags = 0;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(mount_flags) && !known; i++)
			if (!strcmp(w, mount_flags[i].word)) {
				*flags = (*flags & ~mount_flags[i].clear) | mount_flags[i].set;
				known = true;
			}
		if (known)
			continue;
		if (!strcmp(w, "remount") || !strcmp(w, "loop") || !strncmp(w, "loop=", 5)) {
			*bad = xstrdup(w);
			sbuf_release(&b);
			return -1;
		}
		sbuf_addf(&b, "%s%s", b.len ? "," : "", w);
	}
	*data = b.len ? sbuf_detach(&b, NULL) : NULL;
	sbuf_release(&b);
	return 0;
}

/* o=uid=N / gid=N: kept as podman's "UID"/"GID" options (the data dir's owner). */
static int take_id(json_t *out, const char *key, const char *word, struct strata_error **err)
{
	const char *v = strchr(word, '=') + 1;
	char *end;
	long n = strtol(v, &end, 10);

	if (!*v || *end || n < 0 || n > 0x7fffffff)
		return strata_fail_msg(err, EINVAL, "volume option o=%s: %s wants a number", word,
				       key);
	json_object_set_new(out, key, json_string(v));
	return 0;
}

/* Checks o= and takes its uid= and gid=; @typed: type= was given. */
static int check_o(const char *o, bool typed, json_t *out, struct strata_error **err)
{
	cleanup_free char *copy = xstrdup(o);
	cleanup_free char *data = NULL;
	unsigned long flags;
	cleanup_free char *bad = NULL;
	char *save = NULL;

	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strncmp(w, "uid=", 4) && take_id(out, "UID", w, err) < 0)
			return -1;
		if (!strncmp(w, "gid=", 4) && take_id(out, "GID", w, err) < 0)
			return -1;
		if (strncmp(w, "uid=", 4) && strncmp(w, "gid=", 4) && !typed)
			return strata_fail_msg(err, EINVAL,
					       "volume option o=%s: '%s' is a mount option: it needs "
					       "type= (and device=); without them only uid= and gid=",
					       o, w);
	}
	if (split_o(o, &flags, &data, &bad) < 0)
		return strata_fail_msg(err, EINVAL,
				       "volume option o=%s: '%s' is not supported (for a file, attach "
				       "it to a loop device with losetup and give device=/dev/loopN)",
				       o, bad);
	return 0;
}

/* What a typed volume needs: tmpfs nothing more; a bind or a filesystem an absolute device. */
static int check_typed(const char *type, const char *device, const char *o,
		       struct strata_error **err)
{
	unsigned long flags = 0;
	cleanup_free char *data = NULL;
	cleanup_free char *bad = NULL;
	bool bind;
	struct stat st;

	if (split_o(o, &flags, &data, &bad) < 0)
		return -1; /* reported by check_o */
	bind = !strcmp(type, "bind") || (flags & MS_BIND);
	if (!strcmp(type, "tmpfs") && !bind)
		return 0;
	if (!device || device[0] != '/')
		return strata_fail_msg(err, EINVAL,
				       "volume option type=%s needs device=, an absolute path", type);
	if (stat(device, &st) < 0)
		return strata_fail(err, errno, "volume option device=%s", device);
	if (bind && !S_ISDIR(st.st_mode))
		return strata_fail_msg(err, ENOTDIR,
				       "volume option device=%s: a bind volume's device is a directory",
				       device);
	if (!bind && !S_ISBLK(st.st_mode))
		return strata_fail_msg(err, ENOTBLK,
				       "volume option device=%s: a type=%s volume's device is a block device",
				       device, type);
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @o with its keys in byte order, as podman's inspect prints a Go map. */
static json_t *sorted_copy(const json_t *o)
{
	cleanup_free const char **keys = xcalloc(json_object_size(o) + 1, sizeof(char *));
	json_t *out = json_object(), *v;
	const char *key;
	size_t n = 0;

	json_object_foreach ((json_t *)o, key, v)
		keys[n++] = key;
	qsort(keys, n, sizeof(char *), cmp_key);
	for (size_t i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(o, keys[i]));
	return out;
}

int launch_volume_options_parse(char *const *opts, json_t **out, struct strata_error **err)
{
	cleanup_json json_t *o = json_object();
	const char *type, *device, *mo;

	*out = NULL;
	for (size_t i = 0; opts && opts[i]; i++) {
		const char *eq = strchr(opts[i], '=');
		cleanup_free char *key = eq ? xstrndup(opts[i], (size_t)(eq - opts[i]))
					    : xstrdup(opts[i]);

		if (!strcmp(key, "type") || !strcmp(key, "device") || !strcmp(key, "o")) {
			if (!eq)
				return strata_fail_msg(err, EINVAL, "volume option '%s' wants %s=VALUE",
						       key, key);
			json_object_set_new(o, key, json_string(eq + 1));
		} else if (!strcmp(key, "nocopy") || !strcmp(key, "copy")) {
			json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
		} else {
			return strata_fail_msg(err, EINVAL,
					       "unknown volume option '%s' for driver 'local' (want "
					       "type=, device=, o=, copy or nocopy)",
					       key);
		}
	}
	type = jv_str(o, "type");
	device = jv_str(o, "device");
	mo = jv_str(o, "o");
	if (type && !*type)
		return strata_fail_msg(err, EINVAL, "volume option type= is empty");
	if (device && !type)
		return strata_fail_msg(err, EINVAL, "volume option device=%s needs type=", device);
	if (mo && check_o(mo, type != NULL, o, err) < 0)
		return -1;
	if (type && check_typed(type, device, mo, err) < 0)
		return -1;
	*out = sorted_copy(o);
	return 0;
}

bool launch_volume_needs_mount(const json_t *options)
{
	return jv_str(options, "type") != NULL;
}

/* True when @path is the root of a mount (statx; kernels before 5.8: a device change). */
static bool is_mount_root(const char *path)
{
	struct statx stx, up;
	cleanup_free char *parent = xasprintf("%s/..", path);

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
	return statx(AT_FDCWD, parent, 0, STATX_TYPE, &up) == 0 &&
	       (up.stx_dev_major != stx.stx_dev_major || up.stx_dev_minor != stx.stx_dev_minor);
}

/* Mounts @options on @path as mount(8) would with -t TYPE -o O DEVICE. */
static int mount_options(const char *name, const json_t *options, const char *path,
			 struct strata_error **err)
{
	const char *type = jv_str(options, "type"), *device = jv_str(options, "device");
	cleanup_free char *data = NULL;
	unsigned long flags = 0;
	cleanup_free char *bad = NULL;

	if (split_o(jv_str(options, "o"), &flags, &data, &bad) < 0)
		return strata_fail_msg(err, EINVAL, "volume '%s': o= '%s' is not supported", name,
				       bad);
	if (!strcmp(type, "bind") || (flags & MS_BIND)) {
		if (sys_mount(device, path, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			return strata_fail(err, errno, "volume '%s': bind '%s'", name, device);
		flags &= ~(MS_BIND | MS_REC);
		/* a bind takes its flags in a remount of its own */
		if (flags && sys_mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0) {
			int e = errno;

			sys_umount2(path, MNT_DETACH);
			return strata_fail(err, e, "volume '%s': remount the bind of '%s' with o=%s",
					   name, device, jv_str(options, "o"));
		}
		return 0;
	}
	if (sys_mount(device ? device : type, path, type, flags, data) < 0)
		return strata_fail(err, errno, "volume '%s': mount %s '%s'%s%s", name, type,
				   device ? device : type, data ? " with " : "", data ? data : "");
	return 0;
}

/* Takes volume @name's place among its users and mounts it when it is not; the held fd. */
static int mount_one(struct store *s, const char *name, const json_t *options,
		     struct strata_error **err)
{
	cleanup_free char *path = store_volume_path(s, name);
	cleanup_close int fd = store_volume_dir_open(s, name, err);
	int r = 0;

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return strata_fail(err, errno, "volume '%s': lock", name);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (!is_mount_root(path))
		r = mount_options(name, options, path, err);
	store_unlock(s);
	return r < 0 ? -1 : steal_fd(&fd);
}

int launch_volumes_mount(struct store *s, const struct launch_spec *spec, int **held,
			 struct strata_error **err)
{
	*held = xcalloc(spec->n_mounts + 1, sizeof(int));
	for (size_t i = 0; i <= spec->n_mounts; i++)
		(*held)[i] = -1;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];
		cleanup_json json_t *vol = NULL;
		json_t *options;

		if (!m->volume || !*m->volume)
			continue;
		if (!(vol = store_volume_load(s, m->volume, err)))
			goto fail;
		options = json_object_get(vol, "Options");
		if (!launch_volume_needs_mount(options))
			continue;
		if (!sys_is_host_root()) {
			strata_fail_msg(err, EPERM,
					"volume '%s' is mounted from its options (type=%s): that "
					"needs root, as podman's",
					m->volume, jv_str(options, "type"));
			goto fail;
		}
		if (((*held)[i] = mount_one(s, m->volume, options, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	launch_volumes_unmount(s, spec, held);
	return -1;
}

void launch_volumes_unmount(struct store *s, const struct launch_spec *spec, int **heldp)
{
	int *held = *heldp;

	*heldp = NULL;
	for (size_t i = 0; held && i < spec->n_mounts; i++) {
		const char *name = spec->mounts[i].volume;
		cleanup_free char *path = NULL;
		cleanup_close int fd = -1;
		struct strata_error *e = NULL;

		if (held[i] < 0)
			continue;
		close(held[i]);
		path = store_volume_path(s, name);
		if (store_lock(s, STORE_LOCK_EXCLUSIVE, &e) < 0) {
			log_warn("volume '%s' stays mounted: %s", name, strata_error_msg(e));
			strata_error_free(e);
			continue;
		}
		/* the last one out unmounts: no other launcher holds its shared flock */
		fd = store_volume_dir_open(s, name, NULL);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && is_mount_root(path) &&
		    sys_umount2(path, 0) < 0 && sys_umount2(path, MNT_DETACH) < 0)
			log_warn("volume '%s': unmount '%s': %s", name, path, strerror(errno));
		store_unlock(s);
	}
	free(held);
}
