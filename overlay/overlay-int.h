/*
 * Internals of the overlay module, in sections per .c file (as the
 * kernel's fs/overlayfs/overlayfs.h).
 */
#ifndef STRATA_OVERLAY_OVERLAY_INT_H
#define STRATA_OVERLAY_OVERLAY_INT_H

#include <sys/stat.h>

#include "overlay/overlay.h"

/* ---- backend.c ---- */

/* One union backend: what its layer dirs look like and how it stacks them. */
struct backend_ops {
	const char *name;		/* "overlay", "aufs", "vfs" */
	enum layers_whiteout whiteout;	/* format of its layer dirs and of an upper dir */
	bool has_upper;			/* false: a container's rootfs is a full copy (vfs) */
	int (*probe)(struct strata_error **err);
	int (*mount)(const struct overlay_stack *st, const char *target, struct strata_error **err);
	size_t (*max_lowers)(const struct overlay_stack *st);
};

/* The ops of backend @name, or NULL when unknown. */
const struct backend_ops *overlay_backend_get(const char *name);

/* True when /proc/filesystems lists @fstype. */
bool overlay_kernel_has(const char *fstype);

/* ---- mount.c: overlayfs ---- */

extern const struct backend_ops overlay_backend_overlay;

/*
 * Read-only bind mount of @src at @target through libmount (a read-only
 * stack of one lower).
 */
int overlay_mount_bind_ro(const char *src, const char *target, struct strata_error **err);

/* Mounts @fstype at @target with the option string @opts through libmount (mount(2)). */
int overlay_mount_legacy(const char *fstype, const char *target, unsigned long flags, const char *opts,
		 struct strata_error **err);

/* ---- aufs.c ---- */

extern const struct backend_ops overlay_backend_aufs;

/* ---- vfs.c ---- */

extern const struct backend_ops overlay_backend_vfs;

/* ---- mountinfo.c ---- */

struct libmnt_table;

/* Parses /proc/self/mountinfo; NULL with an error when it cannot. */
struct libmnt_table *overlay_mountinfo_load(struct strata_error **err);

/* Frees a table from overlay_mountinfo_load; NULL is fine. */
void overlay_mountinfo_free(struct libmnt_table *tb);

/* True when @tb has a mount at exactly @path. */
bool overlay_mountinfo_has(struct libmnt_table *tb, const char *path);

/* ---- copy.c: copying trees with everything a layer holds ---- */

enum copy_flags {
	COPY_STRIP_OVERLAY = 1 << 0, /* drop overlayfs-private xattrs but the opaque marker */
	COPY_SKIP_AUFS_META = 1 << 1, /* drop aufs internals (.wh..wh.plnk, .wh..wh.aufs, ...) */
	COPY_REFLINK_ONLY = 1 << 2, /* share file data (FICLONE); EOPNOTSUPP where it cannot */
};

/*
 * Copies the contents of directory @srcfd into the existing directory
 * @dstfd: regular files (copy_file_range), directories, symlinks, devices,
 * fifos and sockets, with owners, modes (setuid and setgid after chown),
 * xattrs, times, and hardlinks kept as hardlinks; then the metadata of
 * @srcfd itself onto @dstfd.
 */
int overlay_copy_tree(int srcfd, int dstfd, unsigned flags, struct strata_error **err);

/*
 * With container record @rec's id map, replaces each layer dir of @lowers
 * (top first) by its id-mapped copy, made when missing. Caller holds
 * store_pin and the shared store_idmap_lock until the stack is mounted.
 */
int overlay_idmap_lowers(struct store *s, const json_t *rec, char **lowers,
			 struct strata_error **err);

/*
 * Root's fast path: true unless STRATA_IDMAP_COPY=1 (tests force the
 * copies with it) or not host root (a user may not idmap the lowers).
 */
bool overlay_idmap_mounts_wanted(void);

/*
 * With container record @rec's id map, mounts each of @lowers idmapped
 * (open_tree, mount_setattr MOUNT_ATTR_IDMAP) at @dir/N and puts that
 * path in its place; the mounts in *mounted (for overlay_idmap_mounts_drop
 * once the stack is mounted). -1, nothing left mounted, where the kernel
 * or the filesystem refuses.
 */
int overlay_idmap_mount_lowers(const json_t *rec, const char *dir, char **lowers,
			       char ***mounted);

/* Detaches and removes the mounts overlay_idmap_mount_lowers made, and frees @mounted. */
void overlay_idmap_mounts_drop(char **mounted);

/* As overlay_copy_tree, each owner moved through @map (inside to outside; one it lacks: 65534). */
int overlay_copy_tree_mapped(int srcfd, int dstfd, unsigned flags, const struct idmap *map,
			     struct strata_error **err);

/* Copies owner, mode, xattrs and times of @src_path onto @dst_path (lchown/lutimes style). */
int overlay_copy_meta_path(const char *src_path, const char *dst_path, unsigned flags,
		   struct strata_error **err);

/* True for an xattr that @flags says to drop. */
bool overlay_copy_xattr_skipped(const char *name, unsigned flags);

/* ---- whiteout.c: the whiteout formats of layer and upper dirs ---- */

/* If @name (with stat @st) in @dirfd is a whiteout in format @wh, returns the deleted name (borrowed or static), else NULL. */
const char *overlay_whiteout_target(int dirfd, const char *name, const struct stat *st,
			    enum layers_whiteout wh);

/* True when the directory @name in @dirfd is opaque in format @wh. */
bool overlay_whiteout_dir_is_opaque(int dirfd, const char *name, enum layers_whiteout wh);

/* "/proc/self/fd/<dirfd>/<name>": a path to @name that l*xattr() calls take. Caller frees. */
char *overlay_fd_path(int dirfd, const char *name);

/* True when @name in format @wh is private to the backend and never a change (aufs .wh..wh.*). */
bool overlay_whiteout_is_meta(const char *name, enum layers_whiteout wh);

/* ---- stack.c: the lowers of an image ---- */

/* Layers of one flattened snapshot are rounded up to this many, so that images that grow share it. */
#define FLATTEN_STEP 64

/*
 * The lower dirs of @img for @backend, top first, at most @max of them:
 * makes missing layer dirs, and when the image has more layers than @max,
 * flattens the lowest into one cached vfs snapshot named by its chain ID
 * (ROOT/layers/vfs/<chain-hex>). No layers gives one empty dir. Caller
 * holds store_pin; frees *out with strv_free.
 */
int overlay_stack_lowers(struct store *s, const char *backend, const struct store_image *img, size_t max,
		 char ***out, struct strata_error **err);

/* Every layer dir of @img for @backend, top first, made when missing (no flattening). */
int overlay_stack_all_layers(struct store *s, const char *backend, const struct store_image *img,
		     char ***out, struct strata_error **err);

/* The path of ROOT/layers/<backend>/empty, made when missing. Caller frees. */
char *overlay_stack_empty_dir(struct store *s, const char *backend, struct strata_error **err);

/* The top snapshot of @img on vfs (made when missing), or the empty dir. Caller frees. */
char *overlay_stack_vfs_top(struct store *s, const struct store_image *img, struct strata_error **err);

/* ---- container.c ---- */

/* A container opened for a change: its record, loaded under its own lock. */
struct ctr {
	struct store *s;
	char id[STORE_ID_LEN + 1];
	int dirfd;  /* ROOT/containers/<id>, flock()ed exclusively */
	json_t *rec;
	const struct backend_ops *b;
};

/* Opens and locks container @id (a full ID) and loads its record. */
int overlay_ctr_open(struct store *s, const char *id, struct ctr *c, struct strata_error **err);

/* Unlocks and frees what overlay_ctr_open took. */
void overlay_ctr_close(struct ctr *c);

/*
 * Drops from the change list @ch (*@n entries) the additions at the
 * launcher's mount points (/etc/hosts, /etc/resolv.conf, /etc/hostname,
 * /proc, /sys, /dev, the run's -v and --tmpfs destinations) still as it made
 * them, empty, in @treefd; with @remove they leave @treefd too.
 */
/*
 * The launcher's mount points still as it made them (see below) in @treefd,
 * as paths from its top; a NULL-terminated list the caller frees (strv_free).
 */
char **overlay_ctr_stub_paths(const struct ctr *c, int treefd);

void overlay_ctr_drop_stubs(const struct ctr *c, int treefd, struct layers_change *ch, size_t *n,
		    bool remove);

/* Opens @c's upper dir, made again (empty, owned as @img's root) when a killed commit left none. */
int overlay_ctr_open_upper(struct ctr *c, const struct store_image *img,
			   struct strata_error **err);

/*
 * The change list of container @c (of image @img) without the launcher's
 * mount points; with @remove_stubs they leave its upper dir as well.
 */
int overlay_ctr_diff(struct ctr *c, const struct store_image *img, bool remove_stubs,
	     struct layers_change **out, size_t *n, struct strata_error **err);

/* ROOT/containers/<id>/<name>. Caller frees. */
char *overlay_ctr_path(const struct ctr *c, const char *name);

/* The image of the container (NULL in *img for an empty rootfs). */
int overlay_ctr_image(const struct ctr *c, struct store_image **img, struct strata_error **err);

/* Writes the container's record (c->rec) back. */
int overlay_ctr_save(struct ctr *c, struct strata_error **err);

/* EBUSY when the record says running and its process is alive. */
int overlay_ctr_check_not_running(const struct ctr *c, const char *what, struct strata_error **err);

/* Unmounts everything at or below container @id's dir, deepest first (@force: lazily if busy). */
int overlay_ctr_umount_all(struct store *s, const char *id, bool force, struct strata_error **err);

#endif
