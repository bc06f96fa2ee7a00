/*
 * overlayfs mounts.
 *
 * The new mount API (fsopen/fsconfig/fsmount/move_mount, with "lowerdir+"
 * since Linux 6.8) takes one lower layer per fsconfig() call, so the
 * depth is limited only by the kernel's 500 lowers, and the kernel's own
 * error message can be read back from the fs context. Where fsopen() is
 * missing (ENOSYS: an old kernel or a seccomp filter) or does not know
 * "lowerdir+" (EINVAL), mount(2) through libmount takes one option string
 * of at most a page; when absolute paths would pass that, lowers are
 * given as short symlinks relative to a link directory we chdir into, as
 * Docker's overlay2 driver does (its "l/" directory).
 *
 * Always index=off, redirect_dir=off, metacopy=off: with them, copy-up
 * copies whole files and renamed directories, so the upper dir alone holds
 * a container's changes and can be packed as a layer as it is
 * (Documentation/filesystems/overlayfs.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

static const char *const fixed_opts[][2] = {
	{ "index", "off" },
	{ "redirect_dir", "off" },
	{ "metacopy", "off" },
};

/*
 * In a user namespace (rootless) overlayfs keeps its own xattrs under
 * user.overlay.* ("userxattr", since Linux 5.11), and refuses userxattr
 * with any redirect_dir but "nofollow", which creates no redirect either.
 */
static const char *const userns_opts[][2] = {
	{ "index", "off" },
	{ "redirect_dir", "nofollow" },
	{ "metacopy", "off" },
};

/* The fixed options for a mount made now: the userns set outside the initial namespace. */
static const char *const (*mount_opts(bool *userxattr))[2]
{
	*userxattr = !sys_userns_is_initial();
	return *userxattr ? userns_opts : fixed_opts;
}

/* Bytes per lower in a mount(2) option string with short links: name + ':'. */
#define LINK_NAME_LEN 8
#define LINK_SLOT (LINK_NAME_LEN + 2)

enum api_state { API_UNKNOWN = 0, API_NEW, API_LEGACY };
static enum api_state api_state;

/*
 * Probes once whether fsopen("overlay") works and takes "lowerdir+": a
 * context that is never created costs two syscalls and mounts nothing.
 */
static enum api_state probe_api(void)
{
	int fd;

	if (api_state != API_UNKNOWN)
		return api_state;
	api_state = API_LEGACY;
	fd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fd < 0) {
		/* Not allowed here (no root): ask again in the user namespace that mounts. */
		if (errno == EPERM)
			api_state = API_UNKNOWN;
		return API_LEGACY;
	}
	if (sys_fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", "/", 0) == 0)
		api_state = API_NEW;
	close(fd);
	return api_state;
}

const char *overlay_mount_api(void)
{
	return probe_api() == API_NEW ? "fsopen" : "mount(2)";
}

static int probe_overlay(struct strata_error **err)
{
	if (!overlay_kernel_has("overlay"))
		return strata_fail_msg(err, ENODEV,
				       "the kernel has no overlayfs (not in /proc/filesystems)");
	if (!sys_is_host_root()) {
		const char *why;

		if (!overlay_rootless_possible(&why))
			return strata_fail_msg(err, EPERM, "%s; use --backend vfs", why);
	}
	return 0;
}

/* Appends the kernel's messages from fs context @fd ("e overlay: ...") to @b. */
static void read_fs_log(int fd, struct sbuf *b)
{
	char msg[512];
	ssize_t n;

	while ((n = read(fd, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
		sbuf_addf(b, "%s%s", b->len ? "; " : "", n > 2 && msg[1] == ' ' ? msg + 2 : msg);
	}
}

static int fs_fail(struct strata_error **err, int fd, int code, const char *what)
{
	struct sbuf log = SBUF_INIT;
	int r;

	read_fs_log(fd, &log);
	if (log.len)
		r = strata_fail_msg(err, code, "%s: %s", what, log.buf);
	else
		r = strata_fail(err, code, "%s", what);
	sbuf_release(&log);
	return r;
}

/* 1: mounted; 0: this kernel needs mount(2); -1: failed. */
static int mount_new_api(const struct overlay_stack *st, const char *target,
			 struct strata_error **err)
{
	cleanup_close int fd = -1;
	cleanup_close int mfd = -1;
	const char *const (*opts)[2];
	bool userxattr;

	fd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOSYS)
			return 0;
		return strata_fail(err, errno, "fsopen overlay");
	}
	if (sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", "strata", 0) < 0)
		return fs_fail(err, fd, errno, "fsconfig source");
	for (size_t i = 0; i < st->n_lowers; i++) {
		if (sys_fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", st->lowers[i], 0) < 0) {
			/* Before Linux 6.8 the parameter is unknown: use mount(2). */
			if (errno == EINVAL && i == 0)
				return 0;
			return fs_fail(err, fd, errno, "overlay lower layer");
		}
	}
	if (st->upper) {
		if (sys_fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", st->upper, 0) < 0)
			return fs_fail(err, fd, errno, "overlay upper dir");
		if (sys_fsconfig(fd, FSCONFIG_SET_STRING, "workdir", st->work, 0) < 0)
			return fs_fail(err, fd, errno, "overlay work dir");
	}
	opts = mount_opts(&userxattr);
	for (size_t i = 0; i < ARRAY_SIZE(fixed_opts); i++)
		if (sys_fsconfig(fd, FSCONFIG_SET_STRING, opts[i][0], opts[i][1], 0) < 0)
			return fs_fail(err, fd, errno, "overlay option");
	if (userxattr && sys_fsconfig(fd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return fs_fail(err, fd, errno, "overlay option userxattr");
	if (st->upper && st->volatile_upper &&
	    sys_fsconfig(fd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
		return fs_fail(err, fd, errno, "overlay option volatile");
	if (sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fs_fail(err, fd, errno, "create overlay");
	mfd = sys_fsmount(fd, FSMOUNT_CLOEXEC, st->upper ? 0 : MOUNT_ATTR_RDONLY);
	if (mfd < 0)
		return fs_fail(err, fd, errno, "fsmount overlay");
	if (sys_move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return strata_fail(err, errno, "attach overlay at '%s'", target);
	return 1;
}

/* Appends @p with ',', ':' and '\' escaped by '\', as overlayfs' option parser expects. */
static void add_escaped(struct sbuf *b, const char *p)
{
	for (; *p; p++) {
		if (*p == ',' || *p == ':' || *p == '\\')
			sbuf_add(b, "\\", 1);
		sbuf_add(b, p, 1);
	}
}

/* The option string with @names for lowers (absolute paths or link names). */
static char *legacy_options(const struct overlay_stack *st, char *const *names)
{
	struct sbuf b = SBUF_INIT;
	const char *const (*opts)[2];
	bool userxattr;

	sbuf_addstr(&b, "lowerdir=");
	for (size_t i = 0; i < st->n_lowers; i++) {
		if (i)
			sbuf_addstr(&b, ":");
		add_escaped(&b, names[i]);
	}
	if (st->upper) {
		sbuf_addstr(&b, ",upperdir=");
		add_escaped(&b, st->upper);
		sbuf_addstr(&b, ",workdir=");
		add_escaped(&b, st->work);
	}
	opts = mount_opts(&userxattr);
	for (size_t i = 0; i < ARRAY_SIZE(fixed_opts); i++)
		sbuf_addf(&b, ",%s=%s", opts[i][0], opts[i][1]);
	if (userxattr)
		sbuf_addstr(&b, ",userxattr");
	if (st->upper && st->volatile_upper)
		sbuf_addstr(&b, ",volatile");
	return sbuf_detach(&b, NULL);
}

/*
 * A short name in @linkfd that is a symlink to @target: the first hex
 * digits of sha256(target), longer on the (rare) clash with another
 * target. The links are a cache: a wrong or dangling one is replaced.
 */
static char *short_link(int linkfd, const char *target, struct strata_error **err)
{
	char d[DIGEST_STR_LEN], cur[4096];
	const char *hex;

	digest_buf(target, strlen(target), d);
	hex = digest_hex(d);
	for (size_t len = LINK_NAME_LEN; len <= DIGEST_HEX_LEN; len += 4) {
		char *name = xstrndup(hex, len);

		for (int tries = 0; tries < 3; tries++) {
			ssize_t n = readlinkat(linkfd, name, cur, sizeof(cur) - 1);

			if (n >= 0) {
				cur[n] = '\0';
				if (strcmp(cur, target) == 0)
					return name;
				break; /* another target: a longer name */
			}
			if (errno != ENOENT) {
				/* Not a symlink at all: ours to replace. */
				if (errno == EINVAL && unlinkat(linkfd, name, 0) == 0)
					continue;
				strata_fail(err, errno, "read link '%s'", name);
				free(name);
				return NULL;
			}
			if (symlinkat(target, linkfd, name) == 0)
				return name;
			if (errno != EEXIST) {
				strata_fail(err, errno, "make link '%s'", name);
				free(name);
				return NULL;
			}
		}
		free(name);
	}
	strata_fail_msg(err, EEXIST, "no free short link name for '%s'", target);
	return NULL;
}

int overlay_mount_legacy(const char *fstype, const char *target, unsigned long flags, const char *opts,
		 struct strata_error **err)
{
	struct libmnt_context *cxt = mnt_new_context();
	int rc, code;

	if (!cxt)
		return strata_fail(err, ENOMEM, "libmount context");
	/* Nothing from fstab or mtab, no /sbin/mount.* helper, no utab. */
	mnt_context_set_optsmode(cxt, MNT_OMODE_IGNORE | MNT_OMODE_NOTAB);
	mnt_context_disable_helpers(cxt, 1);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_disable_canonicalize(cxt, 1);
	mnt_context_set_fstype(cxt, fstype);
	mnt_context_set_source(cxt, (flags & MS_BIND) ? opts : "strata");
	mnt_context_set_target(cxt, target);
	mnt_context_set_mflags(cxt, flags);
	if (!(flags & MS_BIND) && opts)
		mnt_context_set_options(cxt, opts);
	rc = mnt_context_mount(cxt);
	code = mnt_context_syscall_called(cxt) ? mnt_context_get_syscall_errno(cxt) : 0;
	log_debug("libmount: mount(%s, %s, 0x%lx, %zu bytes of options) = %d (%s)", fstype, target,
		  flags, (flags & MS_BIND) || !opts ? 0 : strlen(opts), rc,
		  code ? strerror(code) : "ok");
	mnt_free_context(cxt);
	if (rc == 0)
		return 0;
	if (code)
		return strata_fail(err, code, "mount %s at '%s'", fstype, target);
	return strata_fail_msg(err, rc < 0 ? -rc : EIO, "mount %s at '%s': libmount error %d",
			       fstype, target, rc);
}

/*
 * Without root, overlayfs (and a bind) is mounted in a user namespace, so
 * the mount exists only there: in the container's (run, start) or in a
 * session of 'strata unshare', as with 'podman unshare'.
 */
static int check_may_mount(struct strata_error **err)
{
	if (geteuid() != 0)
		return strata_fail_msg(err, EPERM,
				       "without root a rootfs is mounted only inside a user namespace: run this in 'strata unshare'");
	return 0;
}

int overlay_mount_bind_ro(const char *src, const char *target, struct strata_error **err)
{
	if (check_may_mount(err) < 0)
		return -1;
	return overlay_mount_legacy("none", target, MS_BIND | MS_RDONLY, src, err);
}

/* mount(2) with absolute paths, or short links under st->link_dir when those pass a page. */
static int mount_old_api(const struct overlay_stack *st, const char *target,
			 struct strata_error **err)
{
	long page = sysconf(_SC_PAGESIZE);
	cleanup_free char *opts = legacy_options(st, st->lowers);
	cleanup_strv char **names = NULL;
	cleanup_close int linkfd = -1;
	cleanup_close int cwd = -1;
	int r;

	if ((long)strlen(opts) < page)
		return overlay_mount_legacy("overlay", target, st->upper ? 0 : MS_RDONLY, opts, err);
	if (!st->link_dir)
		return strata_fail_msg(err, E2BIG, "overlay options of %zu bytes pass the page size",
				       strlen(opts));
	if (path_mkdir_p(st->link_dir, 0700, err) < 0)
		return -1;
	linkfd = open(st->link_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (linkfd < 0)
		return strata_fail(err, errno, "open '%s'", st->link_dir);
	names = xcalloc(st->n_lowers + 1, sizeof(char *));
	for (size_t i = 0; i < st->n_lowers; i++)
		if (!(names[i] = short_link(linkfd, st->lowers[i], err)))
			return -1;
	free(opts);
	opts = legacy_options(st, names);
	if ((long)strlen(opts) >= page)
		return strata_fail_msg(err, E2BIG,
				       "overlay options of %zu bytes pass the page size even with short links",
				       strlen(opts));
	/*
	 * The lowers are now relative to the link dir: the kernel resolves
	 * them against our working directory while mount(2) runs.
	 */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return strata_fail(err, errno, "open the working directory");
	if (fchdir(linkfd) < 0)
		return strata_fail(err, errno, "chdir '%s'", st->link_dir);
	r = overlay_mount_legacy("overlay", target, st->upper ? 0 : MS_RDONLY, opts, err);
	if (fchdir(cwd) < 0 && r == 0)
		log_warn("cannot return to the working directory: %s", strerror(errno));
	return r;
}

static int mount_overlay(const struct overlay_stack *st, const char *target,
			 struct strata_error **err)
{
	int r;

	if (st->n_lowers == 0)
		return strata_fail_msg(err, EINVAL, "overlay needs at least one lower dir");
	if (st->upper && !st->work)
		return strata_fail_msg(err, EINVAL, "overlay needs a work dir beside the upper dir");
	if (check_may_mount(err) < 0)
		return -1;
	/* overlayfs refuses one lower without an upper: a read-only bind is the same tree. */
	if (!st->upper && st->n_lowers == 1)
		return overlay_mount_bind_ro(st->lowers[0], target, err);
	/*
	 * The new API is tried at once rather than probed first: a probe's fs
	 * context, once freed, waits out an RCU grace period (overlayfs frees
	 * its private mounts with kern_unmount_array), about 1 ms a start.
	 */
	if (api_state != API_LEGACY) {
		r = mount_new_api(st, target, err);
		if (r != 0) {
			if (r > 0)
				api_state = API_NEW;
			return r < 0 ? -1 : 0;
		}
		api_state = API_LEGACY;
		log_debug("overlay: the new mount API is missing, using mount(2)");
	}
	return mount_old_api(st, target, err);
}

static size_t escaped_len(const char *p)
{
	size_t n = strlen(p);

	for (; *p; p++)
		n += *p == ',' || *p == ':' || *p == '\\';
	return n;
}

/* How many lowers fit in one page of mount(2) options (short links when @st has a link dir). */
static size_t max_lowers_legacy(const struct overlay_stack *st)
{
	struct overlay_stack none = *st;
	cleanup_free char *fixed = NULL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t used, n = 0;

	none.n_lowers = 0;
	fixed = legacy_options(&none, NULL);
	used = strlen(fixed);
	if (!st->link_dir) {
		/* Absolute paths, as many as fit. */
		while (st->lowers && n < st->n_lowers && used + escaped_len(st->lowers[n]) + 1 < page)
			used += escaped_len(st->lowers[n++]) + 1;
	} else {
		/* Short links; a slot leaves room for the odd longer name. */
		while (n < OVERLAY_MAX_LOWERS && used + LINK_SLOT < page) {
			used += LINK_SLOT;
			n++;
		}
	}
	return n ? n : 1;
}

static size_t max_lowers_overlay(const struct overlay_stack *st)
{
	/*
	 * Asking the kernel costs an RCU grace period (see mount_overlay):
	 * not when st->n_lowers lowers fit in short links either way.
	 */
	if (api_state == API_UNKNOWN && st->link_dir && st->n_lowers &&
	    st->n_lowers <= max_lowers_legacy(st))
		return max_lowers_legacy(st);
	if (probe_api() == API_NEW)
		return OVERLAY_MAX_LOWERS;
	return max_lowers_legacy(st);
}

int overlay_mount(const char *backend, const struct overlay_stack *st, const char *target,
		  struct strata_error **err)
{
	const struct backend_ops *b = overlay_backend_get(backend);

	if (!b)
		return strata_fail_msg(err, EINVAL, "unknown backend '%s'", backend);
	if (!b->mount)
		return strata_fail_msg(err, EINVAL, "backend '%s' stacks nothing to mount", backend);
	if (b->probe && b->probe(err) < 0)
		return strata_wrap(err, "backend '%s'", backend);
	return b->mount(st, target, err);
}

size_t overlay_max_lowers(const char *backend, const struct overlay_stack *st)
{
	const struct backend_ops *b = overlay_backend_get(backend);

	return b && b->max_lowers ? b->max_lowers(st) : OVERLAY_MAX_LOWERS;
}

int overlay_umount(const char *target, bool force, struct strata_error **err)
{
	struct libmnt_context *cxt;
	int rc, code;

	if (!overlay_is_mounted(target))
		return 0;
	cxt = mnt_new_context();
	if (!cxt)
		return strata_fail(err, ENOMEM, "libmount context");
	mnt_context_disable_helpers(cxt, 1);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_disable_canonicalize(cxt, 1);
	mnt_context_set_target(cxt, target);
	rc = mnt_context_umount(cxt);
	code = mnt_context_syscall_called(cxt) ? mnt_context_get_syscall_errno(cxt) : 0;
	log_debug("libmount: umount(%s) = %d (%s)", target, rc, code ? strerror(code) : "ok");
	if (rc != 0 && code == EBUSY && force) {
		/* Busy (a shell sits in it): detach now, the kernel frees it when the last user goes. */
		mnt_reset_context(cxt);
		mnt_context_disable_helpers(cxt, 1);
		mnt_context_disable_mtab(cxt, 1);
		mnt_context_disable_canonicalize(cxt, 1);
		mnt_context_enable_lazy(cxt, 1);
		mnt_context_set_target(cxt, target);
		rc = mnt_context_umount(cxt);
		code = mnt_context_syscall_called(cxt) ? mnt_context_get_syscall_errno(cxt) : 0;
		log_debug("libmount: umount(%s, MNT_DETACH) = %d (%s)", target, rc,
			  code ? strerror(code) : "ok");
	}
	mnt_free_context(cxt);
	if (rc == 0)
		return 0;
	if (code == EBUSY)
		return strata_fail_msg(err, EBUSY, "unmount '%s': it is busy", target);
	if (code)
		return strata_fail(err, code, "unmount '%s'", target);
	return strata_fail_msg(err, EIO, "unmount '%s': libmount error %d", target, rc);
}

const struct backend_ops overlay_backend_overlay = {
	.name = "overlay",
	.whiteout = LAYERS_WHITEOUT_OVERLAY,
	.has_upper = true,
	.probe = probe_overlay,
	.mount = mount_overlay,
	.max_lowers = max_lowers_overlay,
};
