/*
 * Opening a store: the layout is created on first use under the exclusive
 * lock, so two processes starting on an empty root agree on one layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

char *store_default_root(void)
{
	const char *xdg;
	const char *home;

	/* Root in a user namespace (strata unshare, a rootless build) keeps the user's store. */
	if (sys_is_host_root())
		return xstrdup("/var/lib/strata");
	xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg)
		return path_join(xdg, "strata");
	home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(geteuid());

		home = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.local/share/strata", home);
}

char *store_tmp_name(const char *suffix)
{
	char rnd[17];

	random_hex(rnd, 16);
	return xasprintf("%d-%s%s", (int)getpid(), rnd, suffix ? suffix : "");
}

static int open_dir(int dirfd, const char *name, bool create, struct strata_error **err)
{
	int fd;

	if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "mkdir '%s'", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", name);
	return fd;
}

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char empty_index[] = "{\"schemaVersion\":2,\"manifests\":[]}";

/* Creates whatever part of the layout is missing; the caller holds the exclusive lock. */
static int create_layout(int root_fd, struct strata_error **err)
{
	static const char *const dirs[] = { "blobs", "blobs/sha256", "layers", "containers",
					    "cache", "tmp" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (mkdirat(root_fd, dirs[i], 0700) < 0 && errno != EEXIST)
			return strata_fail(err, errno, "mkdir '%s'", dirs[i]);
	}
	if (faccessat(root_fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    file_write_atomic_at(root_fd, "oci-layout", oci_layout, strlen(oci_layout), 0644,
				 err) < 0)
		return -1;
	if (faccessat(root_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    file_write_atomic_at(root_fd, "index.json", empty_index, strlen(empty_index), 0644,
				 err) < 0)
		return -1;
	return 0;
}

int store_open(const char *root, struct store **out, struct strata_error **err)
{
	struct store *s;
	char *abs;
	bool complete;

	if (path_mkdir_p(root, 0711, err) < 0)
		return strata_wrap(err, "store root");
	abs = realpath(root, NULL);
	if (!abs)
		return strata_fail(err, errno, "store root '%s'", root);
	s = xcalloc(1, sizeof(*s));
	s->root = abs;
	s->root_fd = s->blobs_fd = s->tmp_fd = s->layers_fd = s->containers_fd = s->cache_fd = -1;
	s->lock_fd = s->pin_fd = s->users_fd = -1;

	s->root_fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		strata_fail(err, errno, "open store root '%s'", abs);
		goto fail;
	}
	s->lock_fd = openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0) {
		strata_fail(err, errno, "open '%s/lock'", abs);
		goto fail;
	}
	s->pin_fd = openat(s->root_fd, "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->pin_fd < 0) {
		strata_fail(err, errno, "open '%s/gc.lock'", abs);
		goto fail;
	}
	complete = faccessat(s->root_fd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
		   faccessat(s->root_fd, "tmp", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
		   faccessat(s->root_fd, "blobs/sha256", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (!complete) {
		int r;

		if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
			goto fail;
		r = create_layout(s->root_fd, err);
		store_unlock(s);
		if (r < 0) {
			strata_wrap(err, "create store in '%s'", abs);
			goto fail;
		}
	}
	if ((s->blobs_fd = open_dir(s->root_fd, "blobs/sha256", true, err)) < 0 ||
	    (s->tmp_fd = open_dir(s->root_fd, "tmp", true, err)) < 0 ||
	    (s->layers_fd = open_dir(s->root_fd, "layers", true, err)) < 0 ||
	    (s->containers_fd = open_dir(s->root_fd, "containers", true, err)) < 0 ||
	    (s->cache_fd = open_dir(s->root_fd, "cache", true, err)) < 0) {
		strata_wrap(err, "store '%s'", abs);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_free(s);
	return -1;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	{
		int fds[] = { s->root_fd,	s->blobs_fd, s->tmp_fd,	 s->layers_fd,
			      s->containers_fd, s->cache_fd, s->lock_fd, s->pin_fd,
			      s->users_fd };

		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	free(s->root);
	free(s);
}
