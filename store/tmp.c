/*
 * Staging in ROOT/tmp: everything the store gains is written here first,
 * then renamed into place; whatever a crash leaves here is garbage that gc
 * removes (it holds gc.lock exclusively, so no maker is staging then).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

const char *store_root(const struct store *s)
{
	return s->root;
}

int store_tmp_mkdir(struct store *s, const char *suffix, unsigned mode, char **name,
		    struct strata_error **err)
{
	cleanup_free char *n = store_tmp_name(suffix);
	int fd;

	if (mkdirat(s->tmp_fd, n, (mode_t)mode) < 0)
		return strata_fail(err, errno, "create a staging dir in '%s/tmp'", s->root);
	fd = openat(s->tmp_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		strata_fail(err, errno, "open the staging dir '%s/tmp/%s'", s->root, n);
		unlinkat(s->tmp_fd, n, AT_REMOVEDIR);
		return -1;
	}
	*name = steal_ptr(&n);
	return fd;
}

int store_tmp_remove(struct store *s, const char *name, struct strata_error **err)
{
	return path_rm_rf_at(s->tmp_fd, name, err);
}

int store_tmp_move(struct store *s, const char *name, int dirfd, const char *dest,
		   struct strata_error **err)
{
	if (renameat(s->tmp_fd, name, dirfd, dest) < 0)
		return strata_fail(err, errno, "move '%s/tmp/%s' into place", s->root, name);
	return 0;
}

int store_tmp_file(struct store *s, struct strata_error **err)
{
	cleanup_free char *name = NULL;
	int fd = openat(s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return strata_fail(err, errno, "create a staging file in '%s/tmp'", s->root);
	/* A filesystem without O_TMPFILE: a named file, unlinked at once. */
	name = store_tmp_name(".stage");
	fd = openat(s->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return strata_fail(err, errno, "create a staging file in '%s/tmp'", s->root);
	unlinkat(s->tmp_fd, name, 0);
	return fd;
}

int store_tmp_create(struct store *s, const char *suffix, char **path, struct strata_error **err)
{
	cleanup_free char *name = store_tmp_name(suffix);
	int fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return strata_fail(err, errno, "create '%s/tmp/%s'", s->root, name);
	*path = xasprintf("%s/tmp/%s", s->root, name);
	return fd;
}
