/*
 * The whiteout formats of layer and upper dirs (DESIGN.md, "Whiteouts"):
 *   overlay  a deleted NAME is a 0:0 character device NAME; an opaque DIR
 *            has the xattr trusted.overlay.opaque=y (user.overlay.opaque
 *            when mounted with userxattr);
 *   aufs     a deleted NAME is a file .wh.NAME; an opaque DIR holds
 *            .wh..wh..opq; other .wh..wh.* names are aufs' own;
 *   vfs      none: deletions were applied when the snapshot was made.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

char *overlay_fd_path(int dirfd, const char *name)
{
	return xasprintf("/proc/self/fd/%d/%s", dirfd, name);
}

const char *overlay_whiteout_target(int dirfd, const char *name, const struct stat *st,
			    enum layers_whiteout wh)
{
	(void)dirfd;
	switch (wh) {
	case LAYERS_WHITEOUT_OVERLAY:
		if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
			return name;
		return NULL;
	case LAYERS_WHITEOUT_AUFS:
		if (str_has_prefix(name, WH_PREFIX) && !str_has_prefix(name, WH_META_PREFIX) &&
		    name[strlen(WH_PREFIX)] != '\0')
			return name + strlen(WH_PREFIX);
		return NULL;
	case LAYERS_WHITEOUT_VFS:
		return NULL;
	}
	return NULL;
}

bool overlay_whiteout_dir_is_opaque(int dirfd, const char *name, enum layers_whiteout wh)
{
	switch (wh) {
	case LAYERS_WHITEOUT_OVERLAY: {
		cleanup_free char *p = overlay_fd_path(dirfd, name);
		char v[2];
		ssize_t n = sys_lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v));

		if (n < 0)
			n = sys_lgetxattr(p, "user.overlay.opaque", v, sizeof(v));
		return n == 1 && v[0] == 'y';
	}
	case LAYERS_WHITEOUT_AUFS: {
		cleanup_free char *rel = xasprintf("%s/" WH_OPAQUE, name);

		return faccessat(dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	}
	case LAYERS_WHITEOUT_VFS:
		return false;
	}
	return false;
}

bool overlay_whiteout_is_meta(const char *name, enum layers_whiteout wh)
{
	return wh == LAYERS_WHITEOUT_AUFS && str_has_prefix(name, WH_META_PREFIX);
}
