/*
 * Container filesystems: create, mount (counted), umount, remove, list.
 *
 * A container's record is ROOT/containers/<id>/container.json (the store
 * owns its identity); its dirs sit beside it: upper/, work/ and merged/
 * for overlay and aufs, merged/ alone for vfs (the rootfs copy). Changes
 * to one container are serialised by flock() on its directory, so two
 * `strata mount` of one container count correctly.
 *
 * Crashes and reboots: the record's MountCount can be wrong after a kill
 * -9 between mount and save, or after a reboot that dropped every mount.
 * What the kernel's mount table says decides: not mounted means a count
 * of zero whatever the record says, mounted with a zero count is adopted.
 * vfs mounts nothing, so its count is tied to the boot it was taken in.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

int overlay_ctr_open(struct store *s, const char *id, struct ctr *c, struct strata_error **err)
{
	const char *backend;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->dirfd = -1;
	memcpy(c->id, id, STORE_ID_LEN);
	c->id[STORE_ID_LEN] = '\0';
	c->dirfd = store_container_dirfd(s, id, err);
	if (c->dirfd < 0)
		return -1;
	while (flock(c->dirfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			strata_fail(err, errno, "lock container '%.12s'", id);
			goto fail;
		}
	}
	c->rec = store_container_load(s, id, err);
	if (!c->rec)
		goto fail;
	backend = jv_str(c->rec, "Backend");
	c->b = overlay_backend_get(backend);
	if (!c->b) {
		strata_fail_msg(err, EINVAL, "container '%.12s' has an unknown backend '%s'", id,
				backend ? backend : "");
		goto fail;
	}
	return 0;
fail:
	overlay_ctr_close(c);
	return -1;
}

void overlay_ctr_close(struct ctr *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd); /* releases the flock */
	c->dirfd = -1;
	if (c->rec)
		json_decref(c->rec);
	c->rec = NULL;
}

char *overlay_ctr_path(const struct ctr *c, const char *name)
{
	return xasprintf("%s/containers/%s/%s", store_root(c->s), c->id, name);
}

int overlay_ctr_image(const struct ctr *c, struct store_image **img, struct strata_error **err)
{
	const char *dg = jv_str(c->rec, "ImageDigest");

	*img = NULL;
	if (!dg || !*dg)
		return 0;
	if (store_image_load_manifest(c->s, dg, img, err) < 0)
		return strata_wrap(err, "image of container '%.12s'", c->id);
	return 0;
}

static bool is_running(const json_t *rec)
{
	json_t *state = json_object_get(rec, "State");
	const char *status = jv_str(state, "Status");
	json_int_t pid = jv_int(state, "Pid", 0);

	/* launch records the start time with the pid: a pid reused since is not the container's */
	return status && strcmp(status, "running") == 0 && pid > 0 &&
	       sys_pid_alive_since((pid_t)pid, (uint64_t)jv_int(state, "PidStartTime", 0));
}

int overlay_ctr_check_not_running(const struct ctr *c, const char *what, struct strata_error **err)
{
	if (is_running(c->rec))
		return strata_fail_msg(err, EBUSY, "container '%.12s' is running; %s", c->id, what);
	return 0;
}

int overlay_ctr_save(struct ctr *c, struct strata_error **err)
{
	return store_container_save(c->s, c->id, c->rec, err);
}

static bool vfs_counted(const json_t *rec)
{
	const char *b = jv_str(rec, "MountBoot");

	return jv_int(rec, "MountCount", 0) > 0 && b && strcmp(b, sys_boot_id()) == 0;
}

/* mkdir that accepts an existing dir. */
static int mkdir_ok(int dirfd, const char *name, mode_t mode, struct strata_error **err)
{
	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "mkdir '%s'", name);
	return 0;
}

/* The upper dir's root becomes the merged root: give it the owner and mode the image's root has. */
static int make_upper(int dirfd, const char *top_lower, struct strata_error **err)
{
	struct stat st;

	if (mkdir_ok(dirfd, "upper", 0755, err) < 0)
		return -1;
	if (top_lower && stat(top_lower, &st) == 0) {
		if (fchownat(dirfd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(dirfd, "upper", st.st_mode & 07777, 0) < 0)
			return strata_fail(err, errno, "set up 'upper'");
	}
	return 0;
}

/* Makes whichever of upper/, work/, merged/ is missing (after a crash in create, say). */
static int ensure_dirs(struct ctr *c, const char *top_lower, struct strata_error **err)
{
	if (c->b->has_upper) {
		if (faccessat(c->dirfd, "upper", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    make_upper(c->dirfd, top_lower, err) < 0)
			return -1;
		if (mkdir_ok(c->dirfd, "work", 0700, err) < 0)
			return -1;
	}
	return mkdir_ok(c->dirfd, "merged", 0755, err);
}

/* Copies the vfs top snapshot of @img to ROOT/tmp/<name>; sets *name. */
static int stage_vfs_rootfs(struct store *s, const struct store_image *img, char **name,
			    struct strata_error **err)
{
	cleanup_free char *top = overlay_stack_vfs_top(s, img, err);
	cleanup_free char *n = NULL;
	cleanup_close int src = -1;
	cleanup_close int dst = -1;

	if (!top)
		return -1;
	src = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return strata_fail(err, errno, "open '%s'", top);
	dst = store_tmp_mkdir(s, ".rootfs", 0755, &n, err);
	if (dst < 0)
		return strata_wrap(err, "stage a rootfs");
	if (overlay_copy_tree(src, dst, 0, err) < 0) {
		store_tmp_remove(s, n, NULL);
		return strata_wrap(err, "copy the image's rootfs");
	}
	*name = steal_ptr(&n);
	return 0;
}

/* The path of the top lower dir of @img for @backend, or NULL for none. */
static char *top_lower(struct store *s, const char *backend, const struct store_image *img)
{
	cleanup_strv char **chains = NULL;

	if (!img || img->n_layers == 0)
		return NULL;
	chains = store_image_chain_ids(img);
	return layers_dir_path(s, backend, chains[img->n_layers - 1]);
}

static json_t *new_record(const char *backend, const struct store_image *img,
			  char *const *command)
{
	json_t *rec = json_object();
	json_t *state = json_object();
	json_t *cc = img ? json_object_get(img->config, "config") : NULL;

	jv_set_str(rec, "Image", img ? img->id : "");
	jv_set_str(rec, "ImageDigest", img ? img->manifest_digest : "");
	if (img && img->tags && img->tags[0]) {
		jv_set_str(rec, "ImageName", img->tags[0]);
	} else if (img) {
		cleanup_free char *shortid = xstrndup(digest_hex(img->id), 12);

		jv_set_str(rec, "ImageName", shortid);
	} else {
		jv_set_str(rec, "ImageName", "scratch");
	}
	jv_set_str(rec, "Backend", backend);
	json_object_set_new(rec, "Command", command ? jv_strv(command) : json_array());
	json_object_set_new(rec, "Config", json_is_object(cc) ? json_deep_copy(cc) : json_object());
	json_object_set_new(rec, "MountCount", json_integer(0));
	jv_set_str(state, "Status", "created");
	json_object_set_new(rec, "State", state);
	return rec;
}

int overlay_container_create(struct store *s, const char *backend, const struct store_image *img,
			     const char *name, char *const *command, unsigned flags,
			     char id[STORE_ID_LEN + 1], struct strata_error **err)
{
	const struct backend_ops *b;
	cleanup_json json_t *rec = NULL;
	cleanup_free char *staged = NULL;
	cleanup_free char *top = NULL;
	cleanup_close int dirfd = -1;
	int ret = -1;

	if (!backend)
		backend = overlay_backend_default();
	if (overlay_backend_check(backend, err) < 0)
		return -1;
	b = overlay_backend_get(backend);
	if (store_pin(s, err) < 0)
		return -1;
	if (img && img->n_layers && layers_dir_ensure(s, backend, img, img->n_layers, err) < 0)
		goto out;
	if (!b->has_upper && stage_vfs_rootfs(s, img, &staged, err) < 0)
		goto out;
	rec = new_record(backend, img, command);
	if (flags & OVERLAY_CREATE_VOLATILE)
		json_object_set_new(rec, "Volatile", json_true());
	if (flags & OVERLAY_CREATE_BUILD)
		json_object_set_new(rec, "Builder",
				    json_pack("{s:i, s:I}", "Pid", (json_int_t)getpid(), "PidStartTime",
					      (json_int_t)sys_pid_start_time(getpid())));
	if (store_container_create(s, name, rec, id, err) < 0)
		goto out_staged;
	dirfd = store_container_dirfd(s, id, err);
	if (dirfd < 0)
		goto out_remove;
	if (b->has_upper) {
		top = top_lower(s, backend, img);
		if (make_upper(dirfd, top, err) < 0 || mkdir_ok(dirfd, "work", 0700, err) < 0 ||
		    mkdir_ok(dirfd, "merged", 0755, err) < 0)
			goto out_remove;
	} else if (store_tmp_move(s, staged, dirfd, "merged", err) < 0) {
		goto out_remove;
	}
	ret = 0;
	goto out;
out_remove:
	store_container_remove(s, id, NULL);
out_staged:
	if (staged)
		store_tmp_remove(s, staged, NULL);
out:
	store_unpin(s);
	if (ret < 0)
		strata_wrap(err, "create container");
	return ret;
}

/*
 * The stack of the container (overlay, aufs) in @r: its lowers (made when
 * missing), upper and work dirs. Caller holds the container lock.
 */
static int prepare_stack(struct ctr *c, struct overlay_rootfs *r, bool idmapped,
			 struct strata_error **err)
{
	const char *backend = c->b->name;
	cleanup_free char *top = NULL;
	struct store_image *img = NULL;
	int ret = -1;

	r->upper = overlay_ctr_path(c, "upper");
	r->work = overlay_ctr_path(c, "work");
	r->link_dir = store_layers_path(c->s, backend, "l");
	r->stack = (struct overlay_stack){ NULL, 0, r->upper, r->work, r->link_dir, false };
	r->idmap_lock = -1;
	if (overlay_ctr_image(c, &img, err) < 0)
		return -1;
	if (store_pin(c->s, err) < 0)
		goto out_img;
	r->stack.n_lowers = img ? img->n_layers : 0;
	if (overlay_stack_lowers(c->s, backend, img, overlay_max_lowers(backend, &r->stack), &r->lowers,
			 err) < 0)
		goto out;
	if (json_object_get(c->rec, "IdMap")) {
		cleanup_free char *dir = overlay_ctr_path(c, "idmapped");

		/* root: the lowers mounted idmapped where the kernel can; else copies */
		if (!(idmapped && overlay_idmap_mounts_wanted() &&
		      overlay_idmap_mount_lowers(c->rec, dir, r->lowers, &r->idmapped) == 0)) {
			r->idmap_lock = store_idmap_lock(c->s, false, err);
			if (r->idmap_lock < 0 || overlay_idmap_lowers(c->s, c->rec, r->lowers, err) < 0)
				goto out;
		}
	}
	top = top_lower(c->s, backend, img);
	if (ensure_dirs(c, top, err) < 0)
		goto out;
	r->stack.lowers = r->lowers;
	r->stack.n_lowers = strv_len(r->lowers);
	/*
	 * A container that is thrown away afterwards (run --rm) skips the sync
	 * of its upper dir. After a crash overlayfs refuses such a work dir
	 * until its incompat/volatile marker goes; the container goes anyway.
	 */
	r->stack.volatile_upper = json_is_true(json_object_get(c->rec, "Volatile"));
	{
		cleanup_close int wfd = openat(c->dirfd, "work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (wfd >= 0)
			path_rm_rf_at(wfd, "incompat", NULL);
	}
	ret = 0;
out:
	store_unpin(c->s);
out_img:
	store_image_free(img);
	return ret;
}

/* Mounts the container's stack at merged/ (overlay, aufs). Caller holds the container lock. */
static int mount_stack(struct ctr *c, const char *merged, struct strata_error **err)
{
	struct overlay_rootfs r = { 0 };
	int ret = prepare_stack(c, &r, true, err);

	if (ret == 0 && r.idmapped) {
		cleanup_error struct strata_error *e = NULL;

		/* overlayfs keeps private clones of its lowers: theirs go at once */
		ret = overlay_mount(c->b->name, &r.stack, merged, &e);
		overlay_idmap_mounts_drop(r.idmapped);
		r.idmapped = NULL;
		if (ret == 0)
			goto out;
		/* a kernel whose overlayfs refuses idmapped lowers (before 5.19): copies */
		log_debug("overlay: idmapped lowers refused (%s): copies", strata_error_msg(e));
		overlay_rootfs_release(&r);
		ret = prepare_stack(c, &r, false, err);
	}
	if (ret == 0)
		ret = overlay_mount(c->b->name, &r.stack, merged, err);
out:
	overlay_rootfs_release(&r);
	return ret;
}

void overlay_rootfs_release(struct overlay_rootfs *r)
{
	free(r->merged);
	free(r->backend);
	strv_free(r->lowers);
	free(r->upper);
	free(r->work);
	free(r->link_dir);
	if (r->idmap_lock > 0)
		close(r->idmap_lock);
	overlay_idmap_mounts_drop(r->idmapped);
	memset(r, 0, sizeof(*r));
}

int overlay_container_rootfs(struct store *s, const char *id, struct overlay_rootfs *r,
			     struct strata_error **err)
{
	struct ctr c;
	int ret;

	memset(r, 0, sizeof(*r));
	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	if (geteuid() == 0 || !c.b->has_upper) {
		/* root (also of a user namespace) mounts here; vfs mounts nothing */
		overlay_ctr_close(&c);
		if (overlay_container_mount(s, id, &r->merged, err) < 0)
			return -1;
		r->counted = true;
		return 0;
	}
	r->merged = overlay_ctr_path(&c, "merged");
	r->backend = xstrdup(c.b->name);
	ret = prepare_stack(&c, r, false, err);
	overlay_ctr_close(&c);
	if (ret < 0) {
		overlay_rootfs_release(r);
		return strata_wrap(err, "mount container '%.12s'", id);
	}
	return 0;
}

/* The vfs rootfs went missing (a crash inside create): copy it again, nothing is lost. */
static int restore_vfs_rootfs(struct ctr *c, struct strata_error **err)
{
	struct store_image *img = NULL;
	cleanup_free char *staged = NULL;
	int ret = -1;

	if (faccessat(c->dirfd, "merged", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	log_warn("container '%.12s' has no rootfs; copying it from the image again", c->id);
	if (overlay_ctr_image(c, &img, err) < 0)
		return -1;
	if (store_pin(c->s, err) < 0)
		goto out;
	if (stage_vfs_rootfs(c->s, img, &staged, err) == 0) {
		if (store_tmp_move(c->s, staged, c->dirfd, "merged", err) == 0)
			ret = 0;
		else
			store_tmp_remove(c->s, staged, NULL);
	}
	store_unpin(c->s);
out:
	store_image_free(img);
	return ret;
}

int overlay_container_mount(struct store *s, const char *id, char **merged,
			    struct strata_error **err)
{
	struct ctr c;
	cleanup_free char *path = NULL;
	json_int_t count;
	int ret = -1;

	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	path = overlay_ctr_path(&c, "merged");
	count = jv_int(c.rec, "MountCount", 0);
	if (count < 0)
		count = 0;
	if (c.b->has_upper) {
		if (!overlay_is_mounted(path)) {
			if (count > 0)
				log_info("container '%.12s' was counted as mounted %lld times but is not mounted (a lost mount or a reboot): mounting it again",
					 id, (long long)count);
			if (mount_stack(&c, path, err) < 0)
				goto out;
			count = 0;
		}
	} else {
		if (restore_vfs_rootfs(&c, err) < 0)
			goto out;
		if (!vfs_counted(c.rec))
			count = 0;
	}
	json_object_set_new(c.rec, "MountCount", json_integer(count + 1));
	jv_set_str(c.rec, "MountBoot", sys_boot_id());
	if (overlay_ctr_save(&c, err) < 0)
		goto out;
	*merged = steal_ptr(&path);
	ret = 0;
out:
	overlay_ctr_close(&c);
	if (ret < 0)
		strata_wrap(err, "mount container '%.12s'", id);
	return ret;
}

int overlay_container_umount(struct store *s, const char *id, bool force,
			     struct strata_error **err)
{
	struct ctr c;
	cleanup_free char *path = NULL;
	json_int_t count;
	int ret = -1;

	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	path = overlay_ctr_path(&c, "merged");
	count = jv_int(c.rec, "MountCount", 0);
	if (c.b->has_upper) {
		if (!overlay_is_mounted(path)) {
			count = 0;
		} else if (force || count <= 1) {
			if (overlay_umount(path, force, err) < 0)
				goto out;
			count = 0;
		} else {
			count--;
		}
	} else {
		count = (force || !vfs_counted(c.rec) || count <= 1) ? 0 : count - 1;
	}
	json_object_set_new(c.rec, "MountCount", json_integer(count));
	ret = overlay_ctr_save(&c, err);
out:
	overlay_ctr_close(&c);
	if (ret < 0)
		strata_wrap(err, "unmount container '%.12s'", id);
	return ret;
}

int overlay_ctr_umount_all(struct store *s, const char *id, bool force, struct strata_error **err)
{
	cleanup_free char *dir = store_container_path(s, id);
	cleanup_strv char **mounts = NULL;

	if (overlay_mounts_under(dir, &mounts, err) < 0)
		return -1;
	for (size_t i = 0; mounts[i]; i++) {
		if (overlay_umount(mounts[i], force, err) < 0) {
			if (err && strata_error_code(*err) == EBUSY)
				return strata_wrap(err, "container '%.12s' is in use (use -f)", id);
			return -1;
		}
	}
	strv_free(mounts);
	mounts = NULL;
	if (overlay_mounts_under(dir, &mounts, err) < 0)
		return -1;
	if (mounts[0])
		return strata_fail_msg(err, EBUSY, "'%s' is still mounted", mounts[0]);
	return 0;
}

int overlay_container_remove(struct store *s, const char *id, bool force,
			     struct strata_error **err)
{
	cleanup_error struct strata_error *lerr = NULL;
	struct ctr c;
	bool opened;

	/* A record that does not parse is still removed: unmount by path, then delete. */
	opened = overlay_ctr_open(s, id, &c, &lerr) == 0;
	if (opened && !force && overlay_ctr_check_not_running(&c, "stop it first or use -f", err) < 0) {
		overlay_ctr_close(&c);
		return -1;
	}
	if (overlay_ctr_umount_all(s, id, force, err) < 0) {
		if (opened)
			overlay_ctr_close(&c);
		return strata_wrap(err, "remove container '%.12s'", id);
	}
	if (opened)
		overlay_ctr_close(&c);
	else
		log_warn("container '%.12s': %s; removing it anyway", id, strata_error_msg(lerr));
	/* its id-mapped layer copies stay for the next container of that map: gc removes them */
	return store_container_remove(s, id, err);
}

static int64_t created_ns(const json_t *rec)
{
	int64_t sec = 0;
	long nsec = 0;
	const char *c = jv_str(rec, "Created");

	if (c)
		time_parse_rfc3339(c, &sec, &nsec);
	return sec * 1000000000LL + nsec;
}

static int cmp_created(const void *a, const void *b)
{
	int64_t x = created_ns(*(json_t *const *)a), y = created_ns(*(json_t *const *)b);

	return x < y ? -1 : x > y;
}

/* Corrects a count that the mount table contradicts, under the container's lock. */
static void fix_count(struct store *s, const char *id)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *path = NULL;
	struct ctr c;

	if (overlay_ctr_open(s, id, &c, &err) < 0)
		return;
	path = overlay_ctr_path(&c, "merged");
	if (c.b->has_upper ? !overlay_is_mounted(path) : !vfs_counted(c.rec)) {
		log_info("container '%.12s' is not mounted any more (a lost mount or a reboot)", id);
		json_object_set_new(c.rec, "MountCount", json_integer(0));
		overlay_ctr_save(&c, NULL);
	}
	overlay_ctr_close(&c);
}

int overlay_container_remove_orphans(struct store *s, size_t *removed, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	size_t n = 0;

	if (removed)
		*removed = 0;
	if (store_container_list(s, &ids, err) < 0)
		return -1;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		json_t *by = rec ? json_object_get(rec, "Builder") : NULL;
		json_int_t pid = jv_int(by, "Pid", 0);
		struct strata_error *e = NULL;

		if (!by || pid <= 0 ||
		    sys_pid_alive_since((pid_t)pid, (uint64_t)jv_int(by, "PidStartTime", 0)))
			continue;
		if (overlay_container_remove(s, ids[i], true, &e) < 0) {
			if (strata_error_code(e) == ENOENT) {
				strata_error_free(e); /* removed meanwhile */
				continue;
			}
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			return strata_wrap(err, "working container %.12s of a build that is gone",
					   ids[i]);
		}
		log_debug("overlay: removed %.12s, left by build %lld", ids[i], (long long)pid);
		n++;
	}
	if (removed)
		*removed = n;
	return 0;
}

int overlay_container_list(struct store *s, json_t **out, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	struct libmnt_table *tb = NULL;
	json_t **recs;
	size_t n = 0;
	json_t *arr;

	if (store_container_list(s, &ids, err) < 0)
		return -1;
	tb = overlay_mountinfo_load(err);
	if (!tb)
		return -1;
	recs = xcalloc(strv_len(ids) + 1, sizeof(json_t *));
	for (size_t i = 0; ids[i]; i++) {
		cleanup_free char *merged =
			xasprintf("%s/containers/%s/merged", store_root(s), ids[i]);
		const struct backend_ops *b;
		json_t *rec = store_container_load(s, ids[i], NULL);
		bool mounted;

		if (!rec)
			continue; /* removed meanwhile, or broken: fsck reports it */
		b = overlay_backend_get(jv_str(rec, "Backend"));
		mounted = b && (b->has_upper ? overlay_mountinfo_has(tb, merged) : vfs_counted(rec));
		if (jv_int(rec, "MountCount", 0) > 0 && !mounted) {
			fix_count(s, ids[i]);
			json_object_set_new(rec, "MountCount", json_integer(0));
		}
		json_object_set_new(rec, "Mounted", json_boolean(mounted));
		recs[n++] = rec;
	}
	overlay_mountinfo_free(tb);
	if (recs)
		qsort(recs, n, sizeof(json_t *), cmp_created);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, recs[i]);
	free(recs);
	*out = arr;
	return 0;
}

/* Where the launcher makes a mount point when the image has none. */
static const char *const launch_stubs[] = { "etc/hosts", "etc/hostname", "etc/resolv.conf",
					    "run/.containerenv", "dev", "proc", "sys" };

/* True when @path is one of the launcher's mount points or a -v/--tmpfs destination of @rec. */
static bool is_stub_path(const json_t *rec, const char *path)
{
	json_t *m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(launch_stubs); i++)
		if (strcmp(path, launch_stubs[i]) == 0)
			return true;
	json_array_foreach(json_object_get(json_object_get(rec, "RunConfig"), "Mounts"), i, m) {
		const char *d = jv_str(m, "Destination");
		cleanup_free char *clean = d ? path_clean(d) : NULL;

		if (clean && strcmp(clean, path) == 0)
			return true;
	}
	return false;
}

/* True when @path in @treefd is as a mount point is made: an empty file or directory. */
static bool stub_like(int treefd, const char *path)
{
	struct stat st;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (fstatat(treefd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (S_ISREG(st.st_mode))
		return st.st_size == 0;
	if (!S_ISDIR(st.st_mode))
		return false;
	fd = openat(treefd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

char **overlay_ctr_stub_paths(const struct ctr *c, int treefd)
{
	json_t *mounts = json_object_get(json_object_get(c->rec, "RunConfig"), "Mounts");
	char **v = xcalloc(ARRAY_SIZE(launch_stubs) + json_array_size(mounts) + 1, sizeof(*v));
	size_t i, n = 0;
	json_t *m;

	for (i = 0; i < ARRAY_SIZE(launch_stubs); i++)
		if (stub_like(treefd, launch_stubs[i]))
			v[n++] = xstrdup(launch_stubs[i]);
	json_array_foreach(mounts, i, m) {
		const char *d = jv_str(m, "Destination");
		char *clean = d ? path_clean(d) : NULL;

		if (clean && *clean && stub_like(treefd, clean))
			v[n++] = clean;
		else
			free(clean);
	}
	return v;
}

void overlay_ctr_drop_stubs(const struct ctr *c, int treefd, struct layers_change *ch, size_t *n,
		    bool remove)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		const char *p = ch[i].path + (ch[i].path[0] == '/');

		if (ch[i].kind == LAYERS_CHANGE_ADD && is_stub_path(c->rec, p) &&
		    stub_like(treefd, p)) {
			if (remove && unlinkat(treefd, p, 0) < 0 && errno == EISDIR)
				unlinkat(treefd, p, AT_REMOVEDIR);
			free(ch[i].path);
			continue;
		}
		ch[k++] = ch[i];
	}
	*n = k;
}

int overlay_ctr_open_upper(struct ctr *c, const struct store_image *img,
			   struct strata_error **err)
{
	int fd = openat(c->dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/*
		 * A commit killed after the container moved onto its new image
		 * and gave its upper dir up: nothing changed since, so an empty
		 * upper dir is the container's change.
		 */
		cleanup_free char *top = top_lower(c->s, c->b->name, img);

		if (ensure_dirs(c, top, err) < 0)
			return -1;
		fd = openat(c->dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return strata_fail(err, errno, "open the upper dir");
	return fd;
}

int overlay_ctr_diff(struct ctr *c, const struct store_image *img, bool remove_stubs,
	     struct layers_change **out, size_t *n, struct strata_error **err)
{
	cleanup_strv char **lowers = NULL;
	cleanup_free char *top = NULL;
	cleanup_close int fd = -1;
	cleanup_close int ofd = -1;
	int ret;

	if (c->b->has_upper) {
		if (overlay_stack_all_layers(c->s, c->b->name, img, &lowers, err) < 0)
			return -1;
		fd = overlay_ctr_open_upper(c, img, err);
		if (fd < 0)
			return -1;
		ret = overlay_diff_upper(fd, c->b->whiteout, lowers, strv_len(lowers), c->b->whiteout,
					 out, n, err);
	} else {
		top = overlay_stack_vfs_top(c->s, img, err);
		if (!top)
			return -1;
		fd = openat(c->dirfd, "merged", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ofd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || ofd < 0)
			return strata_fail(err, errno, "open the rootfs");
		ret = overlay_diff_trees(fd, ofd, out, n, err);
	}
	/* what the launcher made only to mount over is no change of the container's */
	if (ret == 0)
		overlay_ctr_drop_stubs(c, fd, *out, n, remove_stubs && c->b->has_upper);
	return ret;
}

int overlay_container_diff(struct store *s, const char *id, struct layers_change **out, size_t *n,
			   struct strata_error **err)
{
	struct store_image *img = NULL;
	struct ctr c;
	int ret = -1;

	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	if (overlay_ctr_image(&c, &img, err) < 0)
		goto out_close;
	if (store_pin(s, err) < 0)
		goto out_img;
	ret = overlay_ctr_diff(&c, img, false, out, n, err);
	store_unpin(s);
out_img:
	store_image_free(img);
out_close:
	overlay_ctr_close(&c);
	if (ret < 0)
		strata_wrap(err, "diff container '%.12s'", id);
	return ret;
}
