/*
 * Commit of a stopped container: its change becomes one new layer on top
 * of its image's layers.
 *
 * With an upper dir (overlay, aufs) the change is the upper dir as it is
 * (less the mount points the launcher made, empty, which a stopped
 * container's commit removes first), packed by layers/ with whiteouts
 * converted to the tar format; on vfs it
 * is the list of paths that differ from the image's top snapshot. Either
 * way nothing of the image below is read, so the cost follows the size of
 * the change. The new layer's dir is then made from the upper dir (without
 * overlayfs' private xattrs), which is what unpacking the new blob would
 * give, so that mounting the new image unpacks nothing, and the change is
 * never on disk three times (blob, upper dir, layer dir):
 *  - a stopped container that nothing has mounted gives its upper dir up:
 *    it is moved (renamed) into the layer dir, and the container goes on
 *    from the new image with a fresh, empty upper dir; it sees the same
 *    tree, and what it writes afterwards goes to its new upper dir, never
 *    into the committed layer (overlayfs does not write to lowers);
 *  - with opts->remove it is moved as well, the container then removed;
 *  - a running or mounted container's upper dir cannot move: the layer
 *    dir is a reflink copy (FICLONE) where the filesystem shares data
 *    (btrfs, XFS), else none is made now and the blob is unpacked when the
 *    image is first mounted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

/* Packs the container's change into a layer blob. */
static int pack_change(struct ctr *c, const struct store_image *img,
		       const struct layers_pack_opts *po, struct layers_blob *blob,
		       struct strata_error **err)
{
	cleanup_close int fd = -1;

	if (c->b->has_upper) {
		cleanup_strv char **stubs = NULL;
		struct layers_pack_opts o = *po;
		struct idmap map;
		int r;

		fd = overlay_ctr_open_upper(c, img, err);
		if (fd < 0)
			return -1;
		/*
		 * A running container's mount points cannot leave its upper dir
		 * (they are mounted over): they are left out of the layer instead.
		 */
		stubs = overlay_ctr_stub_paths(c, fd);
		o.skip = (const char *const *)stubs;
		if (overlay_idmap_from_record(c->rec, &map) < 0)
			return strata_fail_msg(err, EINVAL, "the container's record has a bad IdMap");
		if (idmap_is_set(&map))
			o.unmap = &map;
		r = layers_pack_dir(c->s, fd, c->b->whiteout, &o, blob, err);
		idmap_release(&map);
		return r;
	} else {
		cleanup_free char *top = overlay_stack_vfs_top(c->s, img, err);
		struct layers_change *ch = NULL;
		cleanup_close int ofd = -1;
		size_t n = 0;
		int r;

		if (!top)
			return -1;
		fd = openat(c->dirfd, "merged", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ofd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || ofd < 0)
			return strata_fail(err, errno, "open the rootfs");
		if (overlay_diff_trees(fd, ofd, &ch, &n, err) < 0)
			return -1;
		overlay_ctr_drop_stubs(c, fd, ch, &n, false);
		r = layers_pack_changes(c->s, fd, ch, n, po, blob, err);
		overlay_changes_free(ch, n);
		return r;
	}
}

int overlay_container_pack(struct store *s, const char *id, const struct layers_pack_opts *po,
			   struct layers_blob *blob, size_t *n_changes, struct strata_error **err)
{
	struct store_image *img = NULL;
	struct ctr c;
	int r = -1;

	if (n_changes) {
		struct layers_change *ch = NULL;

		*n_changes = 0;
		if (overlay_container_diff(s, id, &ch, n_changes, err) < 0)
			return -1;
		overlay_changes_free(ch, *n_changes);
	}
	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	if (overlay_ctr_image(&c, &img, err) == 0)
		r = pack_change(&c, img, po, blob, err);
	store_image_free(img);
	overlay_ctr_close(&c);
	return r;
}

/* A new config: the image's (or an empty one), with the layer, history and changes. */
static json_t *new_config(const struct ctr *c, const struct store_image *img,
			  const struct overlay_commit_opts *o, const struct layers_blob *blob,
			  int64_t created, struct strata_error **err)
{
	json_t *config = img ? json_deep_copy(img->config) : store_config_new(created);
	json_t *cmd = json_object_get(c->rec, "Command");
	cleanup_free char *ts = time_rfc3339(created, 0);
	json_t *cc;

	jv_set_str(config, "created", ts);
	if (o->author)
		jv_set_str(config, "author", o->author);
	cc = json_object_get(config, "config");
	if (!json_is_object(cc)) {
		cc = json_object();
		json_object_set_new(config, "config", cc);
	}
	/* As docker commit: the command the container was created with becomes the image's. */
	if (json_array_size(cmd) > 0)
		json_object_set(cc, "Cmd", cmd);
	store_config_add_diff_id(config, blob->diff_id);
	store_config_add_history(config, created, o->created_by ? o->created_by : "strata commit",
				 o->message, o->author, false);
	for (size_t i = 0; o->changes && o->changes[i]; i++) {
		if (store_config_apply_change(config, o->changes[i], err) < 0) {
			json_decref(config);
			return NULL;
		}
	}
	return config;
}

/* Takes overlayfs' private xattrs (origin, impure, ...) off @name in @dfd; opaque stays. */
static int strip_private(int dfd, const char *name, struct strata_error **err)
{
	cleanup_free char *path = overlay_fd_path(dfd, name);
	char list[8192];
	ssize_t n = sys_llistxattr(path, list, sizeof(list));

	if (n < 0)
		return errno == ENOTSUP || errno == ENODATA
			       ? 0
			       : strata_fail(err, errno, "list xattrs of '%s'", name);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		if (overlay_copy_xattr_skipped(list + off, COPY_STRIP_OVERLAY) &&
		    lremovexattr(path, list + off) < 0 && errno != ENODATA)
			return strata_fail(err, errno, "remove xattr '%s' of '%s'", list + off, name);
	return 0;
}

/* strip_private on everything below directory @fd (taken), recursively. */
static int strip_tree(int fd, struct strata_error **err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(fd);
		return strata_fail(err, errno, "open the upper dir");
	}
	while (ret == 0 && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = strip_private(dirfd(d), de->d_name, err);
		if (ret == 0 && de->d_type == DT_DIR) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			ret = sub < 0 ? strata_fail(err, errno, "open '%s'", de->d_name)
				      : strip_tree(sub, err);
		}
	}
	if (ret == 0 && errno)
		ret = strata_fail(err, errno, "read the upper dir");
	closedir(d);
	return ret;
}

/* How commit makes the new layer's dir from the container's upper dir. */
enum from_upper {
	UPPER_MOVE,    /* the container goes with the commit: its upper dir is moved */
	UPPER_REBASE,  /* stopped, kept: moved, and the container goes on from the new image */
	UPPER_REFLINK, /* running or mounted: a copy sharing the data, or no dir at all */
	UPPER_NONE,    /* id-mapped: its owners are not the layer's; made from the blob when needed */
};

/*
 * The container, stopped, now stands on the image just written: its record
 * names that image, whose top layer holds what the upper dir held, so its
 * view is the same. Saved before the upper dir moves: a crash between the
 * two leaves the change in both the upper dir and the new layer, which
 * shows the same tree.
 */
static int rebase_record(struct ctr *c, const char *image_id, const char *manifest,
			 const char *tag, struct strata_error **err)
{
	struct store_ref ref;

	jv_set_str(c->rec, "Image", image_id);
	jv_set_str(c->rec, "ImageDigest", manifest);
	if (tag && store_ref_parse(tag, &ref, NULL) == 0) {
		cleanup_free char *name = store_ref_string(&ref);

		jv_set_str(c->rec, "ImageName", name);
		store_ref_release(&ref);
	}
	return overlay_ctr_save(c, err);
}

/*
 * A new, empty upper dir with the owner and mode @top had, and a new work
 * dir (the old one belonged to the old upper dir).
 */
static int fresh_upper(struct ctr *c, const struct stat *top, struct strata_error **err)
{
	if (path_rm_rf_at(c->dirfd, "work", err) < 0)
		return -1;
	if (mkdirat(c->dirfd, "upper", 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "make a new upper dir");
	if (fchownat(c->dirfd, "upper", top->st_uid, top->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(c->dirfd, "upper", top->st_mode & 07777, 0) < 0)
		return strata_fail(err, errno, "set up the new upper dir");
	if (mkdirat(c->dirfd, "work", 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "make a new work dir");
	return 0;
}

/* The upper dir @src made a layer dir's diff/ in place: no overlayfs xattrs, a 0755 top. */
static int strip_upper(int src, struct strata_error **err)
{
	if (strip_private(src, ".", err) < 0 ||
	    strip_tree(openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err) < 0)
		return -1;
	if (fchmod(src, 0755) < 0)
		return strata_fail(err, errno, "move the upper dir into the layer dir");
	return 0;
}

/*
 * Stages the new layer dir from the upper dir as @how says, then its
 * record, and publishes it. UPPER_REFLINK where the filesystem cannot
 * share data makes no dir: it is unpacked from the blob when first
 * needed, and the change is never on disk three times.
 */
static int layer_dir_from_upper(struct ctr *c, const char *chain, const char *parent,
				const struct layers_blob *blob, enum from_upper how,
				struct strata_error **err)
{
	struct layers_dir_record rec = { chain, parent, blob->diff_id, blob->digest,
					 blob->tar_size };
	struct layers_stage *st = NULL;
	cleanup_close int src = -1;
	int ret = -1;

	src = openat(c->dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return strata_fail(err, errno, "open the upper dir");
	if (layers_stage_new(c->s, c->b->name, &st, err) < 0)
		return strata_wrap(err, "stage the new layer dir");
	if (how != UPPER_REFLINK) {
		if (strip_upper(src, err) < 0 || layers_stage_adopt(st, c->dirfd, "upper", err) < 0)
			goto out;
	} else {
		cleanup_error struct strata_error *cerr = NULL;
		unsigned flags = COPY_REFLINK_ONLY | (c->b->whiteout == LAYERS_WHITEOUT_AUFS
							      ? COPY_SKIP_AUFS_META
							      : COPY_STRIP_OVERLAY);

		if (overlay_copy_tree(src, layers_stage_diff_fd(st), flags, &cerr) < 0) {
			if (strata_error_code(cerr) != EOPNOTSUPP) {
				strata_fail_msg(err, strata_error_code(cerr), "%s",
						strata_error_msg(cerr));
				goto out;
			}
			log_debug("commit: no layer dir now (%s): made from the blob when needed",
				  strata_error_msg(cerr));
			ret = 0;
			goto out;
		}
	}
	ret = layers_stage_publish(st, &rec, err);
out:
	layers_stage_free(st);
	return ret;
}

/*
 * Makes the new chain's layer dir from the upper dir (overlay, aufs), unless
 * it exists; with UPPER_REBASE the container then stands on the new image
 * (@image_id, @manifest, @tag) with a fresh upper dir.
 */
static int make_layer_dir(struct ctr *c, const struct store_image *img,
			  const struct layers_blob *blob, enum from_upper how, const char *image_id,
			  const char *manifest, const char *tag, struct strata_error **err)
{
	size_t n = img ? img->n_layers : 0;
	char **diffs = xcalloc(n + 2, sizeof(char *));
	cleanup_strv char **chains = NULL;
	struct stat top;

	for (size_t i = 0; i < n; i++)
		diffs[i] = img->diff_ids[i];
	diffs[n] = (char *)blob->diff_id;
	chains = store_chain_ids(diffs, n + 1);
	free(diffs);
	if (how == UPPER_REBASE) {
		if (fstatat(c->dirfd, "upper", &top, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(err, errno, "stat the upper dir");
		if (rebase_record(c, image_id, manifest, tag, err) < 0)
			return -1;
	}
	if (how != UPPER_NONE && !layers_dir_valid(c->s, c->b->name, chains[n]) &&
	    layer_dir_from_upper(c, chains[n], n ? chains[n - 1] : NULL, blob, how, err) < 0)
		return -1;
	if (how != UPPER_REBASE)
		return 0;
	/* Moved, or the same chain's dir was there already: what it held is in the layer. */
	if (path_rm_rf_at(c->dirfd, "upper", err) < 0)
		return -1;
	return fresh_upper(c, &top, err);
}

/*
 * How the layer dir is made: a stopped overlay container that nothing has
 * mounted gives its upper dir up (moved) and goes on from the new image;
 * aufs branches hold internals (.wh..wh.plnk, ...) a layer dir must not
 * have, and a running or mounted container's upper dir cannot move.
 */
static enum from_upper upper_use(struct ctr *c, bool remove)
{
	cleanup_free char *merged = NULL;

	if (json_object_get(c->rec, "IdMap"))
		return UPPER_NONE;
	if (c->b->whiteout != LAYERS_WHITEOUT_OVERLAY)
		return UPPER_REFLINK;
	if (remove)
		return UPPER_MOVE;
	if (overlay_ctr_check_not_running(c, "", NULL) < 0)
		return UPPER_REFLINK;
	merged = overlay_ctr_path(c, "merged");
	return overlay_is_mounted(merged) ? UPPER_REFLINK : UPPER_REBASE;
}

int overlay_container_commit(struct store *s, const char *id, const struct overlay_commit_opts *o,
			     char image_id[DIGEST_STR_LEN], struct strata_error **err)
{
	char manifest[DIGEST_STR_LEN];
	struct layers_pack_opts po = { o->compression, 0, o->timestamp, NULL, NULL };
	struct store_image *img = NULL;
	struct store_desc *descs = NULL;
	cleanup_json json_t *config = NULL;
	struct layers_blob blob;
	int64_t created = o->timestamp >= 0 ? o->timestamp : time_now_ns() / 1000000000LL;
	size_t n;
	struct ctr c;
	int ret = -1;

	if (overlay_ctr_open(s, id, &c, err) < 0)
		return -1;
	if (o->remove && o->running_ok) {
		strata_fail_msg(err, EBUSY, "cannot remove a running container");
		goto out_close;
	}
	if (!o->running_ok && overlay_ctr_check_not_running(&c, "stop it before committing", err) < 0)
		goto out_close;
	/* its upper dir is about to move: nothing may have it mounted */
	if (o->remove && overlay_ctr_umount_all(s, id, false, err) < 0)
		goto out_close;
	if (overlay_ctr_image(&c, &img, err) < 0)
		goto out_close;
	/* From here until the tag (or the caller's record) reaches them, gc must keep our blobs. */
	if (store_pin(s, err) < 0)
		goto out_img;
	/* The mount points the launcher made go from a stopped container's upper dir first. */
	if (c.b->has_upper && overlay_ctr_check_not_running(&c, "", NULL) == 0) {
		struct layers_change *ch = NULL;
		size_t nch = 0;

		if (overlay_ctr_diff(&c, img, true, &ch, &nch, err) < 0)
			goto out;
		overlay_changes_free(ch, nch);
	}
	if (pack_change(&c, img, &po, &blob, err) < 0) {
		strata_wrap(err, "pack the change");
		goto out;
	}
	config = new_config(&c, img, o, &blob, created, err);
	if (!config)
		goto out;
	n = img ? img->manifest->n_layers : 0;
	descs = xcalloc(n + 1, sizeof(*descs));
	for (size_t i = 0; i < n; i++)
		descs[i] = img->manifest->layers[i];
	descs[n].media_type = (char *)blob.media_type;
	memcpy(descs[n].digest, blob.digest, DIGEST_STR_LEN);
	descs[n].size = (int64_t)blob.size;
	if (store_image_write(s, config, descs, n + 1, o->tag, image_id, manifest, err) < 0)
		goto out;
	/* The image is whole now; a layer dir not made here is made on the next mount. */
	if (c.b->has_upper) {
		cleanup_error struct strata_error *lerr = NULL;

		if (make_layer_dir(&c, img, &blob, upper_use(&c, o->remove), image_id, manifest,
				   o->tag, &lerr) < 0)
			log_warn("commit: the new layer dir will be unpacked when needed: %s",
				 strata_error_msg(lerr));
	}
	ret = 0;
out:
	free(descs);
	store_unpin(s);
out_img:
	store_image_free(img);
out_close:
	overlay_ctr_close(&c);
	if (ret == 0 && o->remove && overlay_container_remove(s, id, false, err) < 0)
		return strata_wrap(err, "committed as %s, but", image_id);
	if (ret < 0)
		strata_wrap(err, "commit container '%.12s'", id);
	return ret;
}
