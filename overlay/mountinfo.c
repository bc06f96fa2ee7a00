/*
 * Reading the mount table through libmount: which of our directories are
 * mount points. What the kernel says is mounted decides, never a count in
 * a record, so a killed process or a reboot cannot mislead us.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "overlay/overlay-int.h"

struct libmnt_table *overlay_mountinfo_load(struct strata_error **err)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");

	if (!tb)
		strata_fail(err, errno ? errno : EIO, "read '/proc/self/mountinfo'");
	return tb;
}

void overlay_mountinfo_free(struct libmnt_table *tb)
{
	if (tb)
		mnt_unref_table(tb);
}

bool overlay_mountinfo_has(struct libmnt_table *tb, const char *path)
{
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs;
	bool found = false;

	if (!it)
		return false;
	/*
	 * Plain string comparison: our paths are canonical (the store root
	 * went through realpath), and mnt_table_find_target() would try to
	 * canonicalize every target in the table when it misses.
	 */
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);

		if (t && strcmp(t, path) == 0) {
			found = true;
			break;
		}
	}
	mnt_free_iter(it);
	return found;
}

bool overlay_is_mounted(const char *path)
{
	struct libmnt_table *tb;
	struct statx stx;
	bool r;

	/*
	 * statx says whether @path is the root of a mount (Linux 5.8): one
	 * call, where reading mountinfo costs in proportion to every mount on
	 * the host. Older kernels do not fill the attribute; mountinfo then.
	 */
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	tb = overlay_mountinfo_load(NULL);
	if (!tb)
		return false;
	r = overlay_mountinfo_has(tb, path);
	overlay_mountinfo_free(tb);
	return r;
}

static int cmp_depth_desc(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	if (lx != ly)
		return lx < ly ? 1 : -1;
	return strcmp(y, x);
}

int overlay_mounts_under(const char *prefix, char ***out, struct strata_error **err)
{
	struct libmnt_table *tb = overlay_mountinfo_load(err);
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	size_t plen = strlen(prefix);
	char **v = xcalloc(1, sizeof(char *));

	while (plen > 1 && prefix[plen - 1] == '/')
		plen--;
	if (!tb) {
		free(v);
		return -1;
	}
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!it) {
		overlay_mountinfo_free(tb);
		free(v);
		return strata_fail(err, ENOMEM, "mountinfo");
	}
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);

		if (!t || strncmp(t, prefix, plen) != 0 || (t[plen] != '\0' && t[plen] != '/'))
			continue;
		/* A path mounted over several times is listed once per mount. */
		strv_append(&v, t);
	}
	mnt_free_iter(it);
	overlay_mountinfo_free(tb);
	if (v)
		qsort(v, strv_len(v), sizeof(char *), cmp_depth_desc);
	*out = v;
	return 0;
}
