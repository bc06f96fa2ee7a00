/*
 * overlay: union-mount backends behind one interface, and the filesystems
 * of containers.
 *
 * Backends (ROOT/layers/<backend>/<chain-hex>/diff are their layer dirs,
 * made by layers/ on demand from blobs):
 *   overlay  overlayfs; lowers top first, mounted with the new mount API
 *            (fsopen/fsconfig, one "lowerdir+" per layer) where the kernel
 *            has it, else mount(2) through libmount, switching to short
 *            symlinks when the options would pass a page. Always
 *            index=off,redirect_dir=off,metacopy=off so that the upper dir
 *            alone holds a container's changes.
 *   aufs     "br:UPPER=rw:LOWER=ro+wh:..." where the kernel has aufs; layer
 *            dirs keep the tar whiteout format (.wh.NAME, .wh..wh..opq).
 *   vfs      every layer dir is a full snapshot; a container's rootfs is a
 *            copy of the top one. Needs no kernel support.
 *
 * A container lives in ROOT/containers/<id>/: container.json, and upper/,
 * work/ and merged/ (overlay, aufs) or merged/ alone (vfs: the copy).
 * Image mounts live in ROOT/layers/<backend>/mnt/<image-hex>/.
 */
#ifndef STRATA_OVERLAY_OVERLAY_H
#define STRATA_OVERLAY_OVERLAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"
#include "store/store.h"
#include "layers/layers.h"

/* The kernel's limit on overlayfs lower layers (fs/overlayfs/params.h OVL_MAX_STACK). */
#define OVERLAY_MAX_LOWERS 500

/* ---- backend.c: picking and checking a backend ---- */

/* True for "overlay", "aufs" and "vfs". */
bool overlay_backend_is_valid(const char *name);

/* The name of backend @i (0, 1, ...: overlay, aufs, vfs); NULL past the last. Static string. */
const char *overlay_backend_name(size_t i);

/* "overlay, aufs or vfs", for messages. Caller frees. */
char *overlay_backend_names_text(void);

/*
 * The backend used when none is asked for: "overlay" where the kernel has
 * overlayfs and this process may mount it (root, or a non-root user where
 * overlay_rootless_possible), else "vfs", saying why once. Static string.
 */
const char *overlay_backend_default(void);

/*
 * The default backend from what the machine allows: @host_root with
 * @has_overlay, or a non-root user with @rootless_ok, gets "overlay";
 * the rest "vfs". Static string.
 */
const char *overlay_backend_pick(bool host_root, bool has_overlay, bool rootless_ok);

/*
 * True when a non-root user can mount overlayfs inside a user namespace
 * here (overlayfs, Linux 5.11 or later, user namespaces allowed); else
 * false with the reason in *why (static).
 */
bool overlay_rootless_possible(const char **why);

/* True when kernel @release ("6.18.4-foo") is @major.@minor or later. */
bool overlay_kernel_at_least(const char *release, int major, int minor);

/*
 * Checks that backend @name can work on this machine. An unknown name is
 * EINVAL; aufs on a kernel without it (not in /proc/filesystems) is ENODEV
 * with a message that says so; overlay without overlayfs, or without the
 * privilege to mount, is ENODEV or EPERM.
 */
int overlay_backend_check(const char *name, struct strata_error **err);

/*
 * How overlayfs is mounted here: "fsopen" (the new mount API with
 * lowerdir+) or "mount(2)". Probed once per process. Static string.
 */
const char *overlay_mount_api(void);

/* ---- mount.c, aufs.c: union mounts of directories ---- */

/* What to stack. Paths are absolute host paths. */
struct overlay_stack {
	char *const *lowers; /* lower dirs, top first */
	size_t n_lowers;
	const char *upper;    /* the writable dir; NULL for a read-only mount */
	const char *work;     /* overlayfs' work dir (same filesystem as upper); NULL with no upper */
	const char *link_dir; /* where mount(2) may make short links to lowers; NULL: never */
	bool volatile_upper;  /* overlayfs "volatile": no sync of the upper (a --rm container) */
};

/*
 * Mounts @st at @target with @backend ("overlay" or "aufs"; vfs stacks
 * nothing and is EINVAL). A read-only stack of one lower is a read-only
 * bind mount (overlayfs needs two lowers without an upper). Errors carry
 * the kernel's own message where it gives one.
 */
int overlay_mount(const char *backend, const struct overlay_stack *st, const char *target,
		  struct strata_error **err);

/*
 * The most lowers a mount of @st with @backend can take: OVERLAY_MAX_LOWERS
 * with the new mount API; with mount(2), as many as fit in one page of
 * options using short links (the upper and work paths count too). Before
 * its lowers are known, @st's n_lowers may say how many are wanted: when
 * they fit either way, the kernel is not asked which API it has.
 */
size_t overlay_max_lowers(const char *backend, const struct overlay_stack *st);

/*
 * Unmounts @target through libmount. A busy mount is EBUSY unless @force,
 * which detaches it lazily. Not mounted is fine.
 */
int overlay_umount(const char *target, bool force, struct strata_error **err);

/* True when something is mounted exactly at @path (libmount's mountinfo table). */
bool overlay_is_mounted(const char *path);

/*
 * The mount points at or below the directory @prefix, deepest first (for
 * unmounting in order). Caller frees with strv_free.
 */
int overlay_mounts_under(const char *prefix, char ***out, struct strata_error **err);

/*
 * The aufs mount options for @st: "br:UPPER=rw:LOWER=ro+wh:...", plus
 * "dio,xino=..."-style settings, limited to @max_len bytes (the page size).
 * Lowers that do not fit are returned in *append as "append:DIR=ro+wh"
 * remount options, in order (NULL when all fit). Paths with ':' or ','
 * cannot be aufs branches: EINVAL. Caller frees the result and *append.
 */
char *overlay_aufs_options(const struct overlay_stack *st, size_t max_len, char ***append,
			   struct strata_error **err);

/* ---- diff.c: changes of an upper dir ---- */

/*
 * Lists the changes that the upper dir @upperfd holds over the lower dirs
 * @lowers (top first), like `docker diff`: every entry of the upper dir is
 * an ADD, or a MODIFY when a lower has it; a whiteout in @wh format
 * (overlay: 0:0 char device; aufs: .wh.NAME) is a DELETE, and an opaque
 * directory's lower entries that it hides are DELETEs too. Lower dirs are
 * read in @lower_wh format. Paths are relative ("etc/passwd"), sorted.
 * Free with overlay_changes_free.
 */
int overlay_diff_upper(int upperfd, enum layers_whiteout wh, char *const *lowers, size_t n_lowers,
		       enum layers_whiteout lower_wh, struct layers_change **out, size_t *n,
		       struct strata_error **err);

/*
 * Compares two full trees, @newfd against @oldfd (vfs): added, changed
 * (type, mode, owner, size, mtime, link target, device, xattrs) and
 * deleted entries; a deleted directory is listed alone, an added one with
 * everything under it. Sorted, relative paths. Free with overlay_changes_free.
 */
int overlay_diff_trees(int newfd, int oldfd, struct layers_change **out, size_t *n,
		       struct strata_error **err);

/* Frees @n changes and the array; NULL is fine. */
void overlay_changes_free(struct layers_change *c, size_t n);

/* "A", "C" or "D" for a change kind, as `docker diff` prints. */
const char *overlay_change_letter(enum layers_change_kind k);

/* ---- container.c: container filesystems ---- */

/*
 * Creates a container of @img (NULL: an empty rootfs, FROM scratch) on
 * @backend (NULL: the default): makes the layer dirs it needs, the record
 * (Id, Name, Created, Image, ImageDigest, ImageName, Backend, Command,
 * Config, MountCount, State.Status "created") and its directories; on vfs
 * the rootfs copy. @name NULL generates one; @command may be NULL. Writes
 * the 64-hex ID to @id. On failure nothing is left.
 */
int overlay_container_create(struct store *s, const char *backend, const struct store_image *img,
			     const char *name, char *const *command, unsigned flags,
			     char id[STORE_ID_LEN + 1], struct strata_error **err);

/*
 * overlay_container_create() flags. VOLATILE: the container is removed when
 * it ends (run --rm): its record is never fsynced, its overlay is mounted
 * volatile (no sync of the upper dir at unmount). BUILD: a build's working
 * container, owned by this process: its record says so ("Builder": Pid and
 * PidStartTime), and overlay_container_remove_orphans() removes it once
 * that process is gone.
 */
enum overlay_create_flags { OVERLAY_CREATE_VOLATILE = 1 << 0, OVERLAY_CREATE_BUILD = 1 << 1 };

/*
 * Mounts container @id (full ID) if it is not mounted and counts one more
 * user; sets *merged to the rootfs path (caller frees). A count left by a
 * killed process or lost by a reboot is noticed and corrected: what is
 * mounted, not what the record says, decides.
 */
int overlay_container_mount(struct store *s, const char *id, char **merged,
			    struct strata_error **err);

/*
 * A container's rootfs as the launcher needs it. Root mounts it here
 * (overlay_container_mount, counted). Without root an overlay or aufs
 * stack cannot be mounted in this namespace: the container's process
 * mounts @stack at @merged itself, inside its new user and mount
 * namespaces, and the mount ends with them.
 */
struct overlay_rootfs {
	char *merged;		    /* the rootfs path */
	bool counted;		    /* mounted (or counted) here: overlay_container_umount undoes it */
	char *backend;		    /* NULL, or the backend to mount @stack with in the container */
	struct overlay_stack stack; /* with @backend: what to mount at @merged */
	char **lowers;		    /* storage of @stack */
	char *upper, *work, *link_dir;
	int idmap_lock;		    /* held (shared) from its id-mapped copies made to its mount, or -1 */
	char **idmapped;	    /* idmapped mounts of its lowers, until the stack is mounted */
};

/*
 * Fills @r for container @id: mounted and counted as overlay_container_mount
 * as root or on vfs; otherwise the stack, its layer dirs made, unmounted.
 * Free with overlay_rootfs_release.
 */
int overlay_container_rootfs(struct store *s, const char *id, struct overlay_rootfs *r,
			     struct strata_error **err);

/* Frees what overlay_container_rootfs filled in (it unmounts nothing). */
void overlay_rootfs_release(struct overlay_rootfs *r);

/*
 * Counts one user less and unmounts at zero; @force unmounts now whatever
 * the count, lazily if busy. Not mounted is fine (the count is reset).
 */
int overlay_container_umount(struct store *s, const char *id, bool force,
			     struct strata_error **err);

/*
 * Unmounts container @id and removes its upper, work and merged dirs and
 * its record. A running container (State.Status "running" with a live Pid)
 * is EBUSY unless @force; @force also detaches busy mounts. Afterwards
 * nothing of it is mounted.
 */
int overlay_container_remove(struct store *s, const char *id, bool force,
			     struct strata_error **err);

/*
 * Removes (unmounting them) the working containers of builds that are gone:
 * made with OVERLAY_CREATE_BUILD by a process that no longer lives (pid and
 * start time), as a build killed in the middle leaves them. A live build's
 * containers are never touched. Sets *@removed (may be NULL) to how many.
 */
int overlay_container_remove_orphans(struct store *s, size_t *removed, struct strata_error **err);

/*
 * The records of every container, each with "Mounted" (true/false) added,
 * after correcting stale mount counts. Returns a new JSON array in *out,
 * oldest first.
 */
int overlay_container_list(struct store *s, json_t **out, struct strata_error **err);

/* The changes of container @id against its image, as overlay_diff_upper/overlay_diff_trees. */
int overlay_container_diff(struct store *s, const char *id, struct layers_change **out, size_t *n,
			   struct strata_error **err);

/* ---- idmap.c: containers with an id map of their own ---- */

/*
 * Gives container @id (just created, not started) id map @m (container ids
 * to the store's): recorded as "IdMap" (Key, Mode @mode, UidMap, GidMap as
 * podman prints them); its lowers become copies of the layer dirs with the
 * owners mapped (made on first mount, shared by every container of the
 * map) and its upper dir's root goes to the mapped root. EINVAL on vfs.
 */
int overlay_container_idmap_set(struct store *s, const char *id, const struct idmap *m,
				const char *mode, struct strata_error **err);

/* The map of container record @rec into @m: 1 when it has one, 0 when not, -1 when it is bad. */
int overlay_idmap_from_record(const json_t *rec, struct idmap *m);

/* ---- commit.c ---- */

struct overlay_commit_opts {
	const char *message;	    /* history comment, or NULL */
	const char *author;	    /* config "author", or NULL */
	char *const *changes;	    /* Dockerfile-style changes (CMD, ENV, ...), NULL-terminated or NULL */
	enum layers_compression compression;
	int64_t timestamp;	    /* created time and layer mtimes; -1: now and real mtimes */
	const char *tag;	    /* NAME[:TAG] to tag the image with, or NULL */
	const char *created_by;	    /* history created_by; NULL: "strata commit" */
	bool running_ok;	    /* the caller has frozen the running container (or accepts a live read) */
	bool remove;		    /* remove the container once committed; its upper dir is moved, not copied */
};

/*
 * Makes a new image from container @id, which must not be running unless
 * opts->running_ok (the caller froze it): packs
 * only its change (the upper dir; on vfs the diff against the image's top
 * snapshot) into one layer, writes a config with the new diffID, a history
 * entry and the changes, and a manifest; tags it when opts->tag is set.
 * Writes the image ID (config digest) to @image_id. The new layer dir is
 * the upper dir moved (a stopped, unmounted overlay container then goes on
 * from the new image with an empty upper dir; with opts->remove it goes),
 * else a reflink of it, else made from the blob when first needed.
 */
int overlay_container_commit(struct store *s, const char *id, const struct overlay_commit_opts *o,
			     char image_id[DIGEST_STR_LEN], struct strata_error **err);

/* ---- image.c: read-only mounts of images ---- */

/*
 * Packs container @id's change (as commit does) into a layer blob without
 * writing an image: the builder's step. Sets *n_changes (may be NULL) to
 * the number of changed paths, so an empty change can be left out.
 */
int overlay_container_pack(struct store *s, const char *id, const struct layers_pack_opts *po,
			   struct layers_blob *blob, size_t *n_changes, struct strata_error **err);

/*
 * Copies the tree of directory @srcfd into the existing directory @dstfd
 * with owners, modes, xattrs (overlayfs' own dropped), times and hard links.
 */
int overlay_tree_copy(int srcfd, int dstfd, struct strata_error **err);

/*
 * Mounts image @img read-only with @backend (NULL: the default) and counts
 * one more user; sets *merged (caller frees). vfs gives a read-only bind
 * mount of the top snapshot.
 */
int overlay_image_mount(struct store *s, const char *backend, const struct store_image *img,
			char **merged, struct strata_error **err);

/*
 * Counts one user less of the mount of image @image_id (config digest) on
 * @backend and unmounts at zero (@force: now). ENOENT when it is not mounted.
 */
int overlay_image_umount(struct store *s, const char *backend, const char *image_id, bool force,
			 struct strata_error **err);

#endif
