/*
 * A container's volumes, as podman gives them: a named volume is made on
 * first use, each VOLUME of the image that no mount covers gets an
 * anonymous one, and a new, empty volume is filled with the image's
 * content at its destination before its first mount (copy-up) unless
 * nocopy. The volumes themselves are records of the store (store/volume.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch-int.h"
#include "overlay/overlay.h"

/* True when a mount of @rc already has destination @path (both cleaned). */
static bool covered(const struct launch_run_config *rc, const char *path)
{
	cleanup_free char *want = path_clean(path);

	for (size_t i = 0; i < rc->n_mounts; i++) {
		cleanup_free char *have = path_clean(rc->mounts[i].destination);

		if (!strcmp(want, have))
			return true;
	}
	return false;
}

/* Makes or finds the volume of mount @m and points its source at the data dir. */
static int resolve(struct store *s, struct launch_mount *m, char ***made,
		   struct strata_error **err)
{
	char *name = NULL;

	if (!*m->volume) {
		if (store_volume_create(s, NULL, NULL, STORE_VOLUME_ANONYMOUS, &name, err) < 0)
			return -1;
		strv_append(made, name);
		m->anonymous = true;
	} else if (store_volume_create(s, m->volume, NULL, STORE_VOLUME_EXIST_OK, &name, err) <
		   0) {
		return -1;
	}
	free(m->volume);
	m->volume = name;
	free(m->source);
	m->source = store_volume_path(s, name);
	return 0;
}

int launch_run_config_volumes(struct store *s, struct launch_run_config *rc,
			      const json_t *image_config, char ***made, struct strata_error **err)
{
	json_t *vols = json_object_get(json_object_get(image_config, "config"), "Volumes");
	const char *path;
	json_t *v;

	*made = xcalloc(1, sizeof(char *));
	/* the image's VOLUMEs no mount covers: anonymous volumes, in the config's order */
	json_object_foreach(vols, path, v) {
		(void)v;
		if (path[0] != '/')
			return strata_fail_msg(err, EINVAL, "image VOLUME '%s' is not absolute",
					       path);
		if (!covered(rc, path))
			launch_run_config_add_volume(rc, "", path, false);
	}
	/* on failure the caller removes *made, once it no longer holds users.lock */
	for (size_t i = 0; i < rc->n_mounts; i++)
		if (rc->mounts[i].volume && resolve(s, &rc->mounts[i], made, err) < 0)
			return -1;
	return 0;
}

/*
 * Copies the tree of @src into a staging dir of ROOT/tmp, then puts it in
 * the place of the volume's empty data dir in one rename: a copy that fails
 * (a full disk) or is killed leaves the volume empty and still to be
 * filled, where a copy into the data dir itself left part of the tree,
 * which the next start took for the volume's own content.
 */
static int copy_up_staged(struct store *s, const char *volume, int src,
			  struct strata_error **err)
{
	cleanup_free char *staged = NULL;
	cleanup_close int sfd = -1;
	int r;

	if (store_pin(s, err) < 0)
		return -1;
	sfd = store_tmp_mkdir(s, ".copyup", 0755, &staged, err);
	r = sfd < 0 ? -1 : overlay_tree_copy(src, sfd, err);
	if (r == 0)
		r = store_volume_data_replace(s, volume, staged, err);
	else if (staged)
		store_tmp_remove(s, staged, NULL);
	store_unpin(s);
	return r;
}

/* Copy-up of one volume, under an flock of its data dir against another start doing it. */
static int copy_up_one(struct store *s, const struct launch_mount *m, int rootfd,
		       struct strata_error **err)
{
	cleanup_json json_t *rec = store_volume_load(s, m->volume, err);
	cleanup_close int dfd = -1;
	cleanup_close int src = -1;
	cleanup_free char *dst = path_clean(m->destination);
	struct strata_error *e = NULL;
	bool copied = true;

	if (!rec)
		return -1;
	if (!json_is_true(json_object_get(rec, "NeedsCopyUp")))
		return 0;
	if ((dfd = store_volume_data_open(s, m->volume, err)) < 0)
		return -1;
	if (flock(dfd, LOCK_EX) < 0)
		return strata_fail(err, errno, "lock volume '%s'", m->volume);
	json_decref(rec);
	/* another start may have done it while we waited */
	if (!(rec = store_volume_load(s, m->volume, err)))
		return -1;
	if (!json_is_true(json_object_get(rec, "NeedsCopyUp")))
		return 0;
	if (store_volume_is_empty(dfd)) {
		/* inside the rootfs: a symlink in the image never leads out of it */
		src = path_open_in(rootfd, dst, O_RDONLY | O_DIRECTORY, 0, &e);
		if (src < 0) {
			int code = strata_error_code(e);

			strata_error_free(e);
			if (code != ENOENT && code != ENOTDIR)
				return strata_fail(err, code, "volume '%s': open '/%s' in the image",
						   m->volume, dst);
			/* podman: nothing there to copy, so the copy-up is still to come */
			copied = false;
		} else if (store_volume_is_empty(src)) {
			copied = false;
		} else if (launch_volume_needs_mount(json_object_get(rec, "Options"))
				   /* a mount's root cannot be exchanged: into it, as podman */
				   ? overlay_tree_copy(src, dfd, err) < 0
				   : copy_up_staged(s, m->volume, src, err) < 0) {
			return strata_wrap(err, "volume '%s': copy '/%s' of the image", m->volume,
					   dst);
		}
	}
	return store_volume_copied(s, m->volume, copied, err);
}

/* Gives the tree under @dirfd to @uid:@gid, never following a symlink. */
static int chown_tree(int dirfd, uid_t uid, gid_t gid, unsigned depth, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fchown(fd, uid, gid) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return strata_fail(err, e, "chown");
	}
	if (depth > 256) {
		close(fd);
		return strata_fail_msg(err, ELOOP, "chown: too deep");
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		return strata_fail(err, errno, "chown: read a directory");
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(err, errno, "chown '%s'", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int sub = openat(fd, de->d_name,
						       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0 || chown_tree(sub, uid, gid, depth + 1, err) < 0)
				return sub < 0 ? strata_fail(err, errno, "chown '%s'", de->d_name) : -1;
		} else if (fchownat(fd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
			return strata_fail(err, errno, "chown '%s'", de->d_name);
		}
	}
	return 0;
}

/* :U: the source of @m is given to the user the container runs as. */
static int chown_source(const struct launch_mount *m, int rootfd, const char *user,
			struct strata_error **err)
{
	uid_t uid = 0;
	gid_t gid = 0;
	gid_t *groups = NULL;
	size_t n_groups = 0;
	char *home = NULL;
	cleanup_close int fd = -1;

	if (user && launch_user_resolve(rootfd, user, &uid, &gid, &groups, &n_groups, &home, err) < 0)
		return -1;
	free(groups);
	free(home);
	fd = open(m->source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "%s: chown to the container's user", m->source);
	if (chown_tree(fd, uid, gid, 0, err) < 0)
		return strata_wrap(err, "%s: chown to %u:%u", m->source, (unsigned)uid,
				   (unsigned)gid);
	return 0;
}

bool launch_mounts_need_prepare(const struct launch_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];

		if ((m->volume && !m->nocopy) || (m->chown && !m->tmpfs))
			return true;
	}
	return false;
}

int launch_mounts_prepare(struct store *s, const struct launch_spec *spec, int rootfd,
			  struct strata_error **err)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];

		if (m->volume && !m->nocopy && copy_up_one(s, m, rootfd, err) < 0)
			return -1;
		if (m->chown && !m->tmpfs && chown_source(m, rootfd, spec->user, err) < 0)
			return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
	{ "rprivate", 0 },	    { "private", 0 },	      { "rshared", MS_SHARED | MS_REC },
	{ "shared", MS_SHARED }, { "rslave", MS_SLAVE | MS_REC }, { "slave", MS_SLAVE },
};

int launch_propagation_parse(const char *name, unsigned long *flags)
{
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (!strcmp(name, propagations[i].name)) {
			*flags = propagations[i].flags;
			return 0;
		}
	return -1;
}

const char *launch_propagation_name(unsigned long flags)
{
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (propagations[i].flags == flags)
			return propagations[i].name;
	return "rprivate";
}

/* The optional fields (shared:N master:N ...) of the mount that holds @path. Caller frees. */
static char *mount_fields_of(const char *path)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, best = 0;
	char *found = NULL;

	while (f && getline(&line, &cap, f) > 0) {
		char mp[4096], *dash = strstr(line, " - ");
		int off = 0;
		size_t n;

		/* id parent maj:min root mountpoint options [optional fields...] - fs ... */
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s %*s %n", mp, &off) != 1 || !off)
			continue;
		n = strlen(mp);
		if (!(str_has_prefix(path, mp) && (path[n] == '/' || !path[n] || n == 1)) ||
		    n < best)
			continue;
		best = n;
		free(found);
		found = xstrndup(line + off, (size_t)(dash - line) - (size_t)off);
	}
	return found ? found : xstrdup("");
}

int launch_propagation_check(const char *path, unsigned long flags, struct strata_error **err)
{
	cleanup_free char *fields = mount_fields_of(path);
	bool shared = strstr(fields, "shared:") != NULL;
	bool slave = strstr(fields, "master:") != NULL;

	if ((flags & MS_SHARED) && !shared)
		return strata_fail_msg(err, EINVAL,
				       "'%s' is not on a shared mount: %s propagation needs one "
				       "(mount --make-shared)",
				       path, launch_propagation_name(flags));
	if ((flags & MS_SLAVE) && !shared && !slave)
		return strata_fail_msg(err, EINVAL,
				       "'%s' is not on a shared or slave mount: %s propagation needs "
				       "one (mount --make-shared)",
				       path, launch_propagation_name(flags));
	return 0;
}

void launch_volumes_remove(struct store *s, char *const *names)
{
	for (size_t i = 0; names && names[i]; i++) {
		struct strata_error *e = NULL;

		if (store_volume_remove(s, names[i], &e) < 0) {
			log_debug("volume '%s' kept: %s", names[i], strata_error_msg(e));
			strata_error_free(e);
		}
	}
}

void launch_volumes_remove_anonymous(struct store *s, const json_t *rec)
{
	struct launch_run_config rc;
	cleanup_strv char **names = xcalloc(1, sizeof(char *));

	launch_run_config_get(rec, &rc);
	for (size_t i = 0; i < rc.n_mounts; i++)
		if (rc.mounts[i].volume && rc.mounts[i].anonymous)
			strv_append(&names, rc.mounts[i].volume);
	launch_run_config_release(&rc);
	launch_volumes_remove(s, names);
}

json_t *launch_mounts_inspect(const json_t *rec)
{
	struct launch_run_config rc;
	json_t *a = json_array();

	launch_run_config_get(rec, &rc);
	for (size_t i = 0; i < rc.n_mounts; i++) {
		const struct launch_mount *m = &rc.mounts[i];
		const char *type = m->volume ? "volume" : m->tmpfs ? "tmpfs" : "bind";
		json_t *j = json_pack("{s:s}", "Type", type);

		if (m->volume)
			json_object_set_new(j, "Name", json_string(m->volume));
		json_object_set_new(j, "Source", json_string(m->tmpfs ? "tmpfs" : m->source));
		json_object_set_new(j, "Destination", json_string(m->destination));
		if (m->volume)
			json_object_set_new(j, "Driver", json_string("local"));
		json_object_set_new(j, "Mode", json_string(""));
		json_object_set_new(j, "RW", json_boolean(!m->readonly));
		json_object_set_new(j, "Propagation",
				    json_string(m->tmpfs ? "" : launch_propagation_name(m->propagation)));
		json_array_append_new(a, j);
	}
	launch_run_config_release(&rc);
	return a;
}
