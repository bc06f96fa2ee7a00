/*
 * aufs mounts, for kernels that carry the aufs patches (it was never
 * merged upstream; Debian dropped it after Linux 5.10).
 *
 * Branches go in one "br:" option, the upper first ("=rw") and lowers top
 * first ("=ro+wh": read-only, whiteouts honoured). The option string is
 * limited to a page, so branches that do not fit are added afterwards by
 * remounting with "append:DIR=ro+wh", as Docker's aufs driver did. Layer
 * dirs and the upper dir use the tar whiteout format (.wh.NAME and
 * .wh..wh..opq), which aufs reads natively; its own .wh..wh.plnk,
 * .wh..wh.aufs and .wh..wh.orph never go into a layer.
 */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

/* aufs' CONFIG_AUFS_BRANCH_MAX_127, the usual build: lowers plus the upper. */
#define AUFS_MAX_BRANCHES 127
/* One external inode-number table shared by every mount, as Docker used. */
#define AUFS_TAIL ",dio,xino=/dev/shm/aufs.xino"

static int probe_aufs(struct strata_error **err)
{
	if (!overlay_kernel_has("aufs"))
		return strata_fail_msg(err, ENODEV,
				       "this kernel has no aufs (not in /proc/filesystems); use --backend overlay or vfs");
	if (geteuid() != 0)
		return strata_fail_msg(err, EPERM, "mounting aufs needs root; use --backend vfs");
	return 0;
}

/* aufs has no escaping: ':' separates branches, ',' options, '=' a branch's mode. */
static int check_branch(const char *p, struct strata_error **err)
{
	if (strpbrk(p, ":,="))
		return strata_fail_msg(err, EINVAL,
				       "aufs branch '%s' has ':', ',' or '=' in its path", p);
	return 0;
}

char *overlay_aufs_options(const struct overlay_stack *st, size_t max_len, char ***append,
			   struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;
	char **rest = NULL;
	size_t i = 0, room;

	*append = NULL;
	if (st->n_lowers == 0) {
		strata_fail_msg(err, EINVAL, "aufs needs at least one lower dir");
		return NULL;
	}
	if ((st->upper && check_branch(st->upper, err) < 0))
		return NULL;
	for (size_t k = 0; k < st->n_lowers; k++)
		if (check_branch(st->lowers[k], err) < 0)
			return NULL;
	if (max_len <= strlen(AUFS_TAIL) + 4) {
		strata_fail_msg(err, E2BIG, "aufs options cannot fit in %zu bytes", max_len);
		return NULL;
	}
	room = max_len - 1 - strlen(AUFS_TAIL);
	sbuf_addstr(&b, "br:");
	if (st->upper) {
		sbuf_addf(&b, "%s=rw", st->upper);
	} else {
		/* Read-only: the top lower is the first branch. */
		sbuf_addf(&b, "%s=ro+wh", st->lowers[0]);
		i = 1;
	}
	if (b.len > room) {
		sbuf_release(&b);
		strata_fail_msg(err, E2BIG, "aufs first branch does not fit in %zu bytes", max_len);
		return NULL;
	}
	for (; i < st->n_lowers; i++) {
		size_t add = strlen(st->lowers[i]) + strlen(":=ro+wh");

		if (b.len + add > room)
			break;
		sbuf_addf(&b, ":%s=ro+wh", st->lowers[i]);
	}
	for (; i < st->n_lowers; i++) {
		char *a = xasprintf("append:%s=ro+wh", st->lowers[i]);

		strv_append(&rest, a);
		free(a);
	}
	sbuf_addstr(&b, AUFS_TAIL);
	*append = rest;
	return sbuf_detach(&b, NULL);
}

static int mount_aufs(const struct overlay_stack *st, const char *target,
		      struct strata_error **err)
{
	cleanup_strv char **append = NULL;
	cleanup_free char *opts = NULL;

	if (!st->upper && st->n_lowers == 1)
		return overlay_mount_bind_ro(st->lowers[0], target, err);
	opts = overlay_aufs_options(st, (size_t)sysconf(_SC_PAGESIZE), &append, err);
	if (!opts)
		return -1;
	if (overlay_mount_legacy("aufs", target, st->upper ? 0 : MS_RDONLY, opts, err) < 0)
		return -1;
	for (size_t i = 0; append && append[i]; i++) {
		if (overlay_mount_legacy("aufs", target, MS_REMOUNT | (st->upper ? 0 : MS_RDONLY), append[i],
				 err) < 0) {
			overlay_umount(target, true, NULL);
			return strata_wrap(err, "add aufs branch");
		}
	}
	return 0;
}

static size_t max_lowers_aufs(const struct overlay_stack *st)
{
	return st->upper ? AUFS_MAX_BRANCHES - 1 : AUFS_MAX_BRANCHES;
}

const struct backend_ops overlay_backend_aufs = {
	.name = "aufs",
	.whiteout = LAYERS_WHITEOUT_AUFS,
	.has_upper = true,
	.probe = probe_aufs,
	.mount = mount_aufs,
	.max_lowers = max_lowers_aufs,
};
