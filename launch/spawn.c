/*
 * One process in a container. The parent clones a child into new mount,
 * PID, UTS, IPC (and network) namespaces, puts it in its cgroup, then lets
 * it go. The child, PID 1 of its namespace, joins a new cgroup namespace,
 * makes every mount private, mounts /proc, /sys, /dev and the binds on
 * targets opened inside the rootfs (openat2 RESOLVE_IN_ROOT, mounted
 * through /proc/self/fd, so a symlink swapped into the rootfs cannot point
 * a mount at the host), masks the OCI runtime's paths, pivots into the
 * rootfs and detaches the old root, drops capabilities, loads the seccomp
 * filter, takes its user and execs. Before exec every error is sent back
 * on a close-on-exec pipe, so the parent reports it as its own; EOF on the
 * pipe means the exec happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/launch-int.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

static const char *const masked_paths[] = {
	"proc/acpi",	     "proc/kcore",	  "proc/keys",	    "proc/latency_stats",
	"proc/timer_list",   "proc/timer_stats", "proc/sched_debug", "proc/scsi",
	"sys/firmware",	     NULL,
};
static const char *const readonly_paths[] = {
	"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger", NULL,
};

/* The signals a waiting launcher passes on to the container. */
static void forwarded_set(sigset_t *set)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

	sigemptyset(set);
	for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaddset(set, fwd[i]);
}

void launch_signals_hold(bool forward, sigset_t *old)
{
	sigset_t set;

	forwarded_set(&set);
	sigprocmask(forward ? SIG_BLOCK : SIG_SETMASK, forward ? &set : NULL, old);
}

void launch_signals_release(bool forward, const sigset_t *old)
{
	if (forward)
		sigprocmask(SIG_SETMASK, old, NULL);
}

/* In a new process about to exec the container's: none of the held signals stays blocked. */
static void signals_unblock(void)
{
	sigset_t set;

	forwarded_set(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Sends the error to the parent and ends the child. */
static _Noreturn void child_die(int errfd, struct strata_error *err)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%d %s", strata_error_code(err), strata_error_msg(err));

	if (n > 0 && write(errfd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0)
		_exit(125);
	_exit(127);
}

/* Opens (making it first when missing: a directory, or an empty file when @file) @path in @rootfd. */
static int open_target(int rootfd, const char *path, bool file, struct strata_error **err)
{
	int fd = path_open_in(rootfd, path, O_PATH | O_NOFOLLOW, 0, NULL);

	if (fd >= 0)
		return fd;
	if (!file) {
		int d = path_mkdirs_in(rootfd, path, 0755, err);

		return d;
	}
	{
		cleanup_free char *owner = NULL;
		const char *base;
		cleanup_close int pfd = path_open_parent_in(rootfd, path, true, &owner, &base, err);
		int f;

		if (pfd < 0)
			return -1;
		f = openat(pfd, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0 && errno != EEXIST)
			return strata_fail(err, errno, "create mount point '/%s'", path);
		if (f >= 0)
			close(f);
	}
	return path_open_in(rootfd, path, O_PATH | O_NOFOLLOW, 0, err);
}

static int mount_fd(const char *src, int target_fd, const char *fstype, unsigned long flags,
		    const char *data, const char *what, struct strata_error **err)
{
	char t[64];

	snprintf(t, sizeof(t), "/proc/self/fd/%d", target_fd);
	if (sys_mount(src, t, fstype, flags, data) < 0)
		return strata_fail(err, errno, "mount %s", what);
	return 0;
}

/* Mounts a filesystem on @path inside the rootfs. */
static int mount_in(int rootfd, const char *path, const char *fstype, const char *src,
		    unsigned long flags, const char *data, struct strata_error **err)
{
	cleanup_close int fd = open_target(rootfd, path, false, err);
	cleanup_free char *what = xasprintf("%s on /%s", fstype, path);

	if (fd < 0)
		return -1;
	return mount_fd(src, fd, fstype, flags, data, what, err);
}

/*
 * The flags of the mount under @fd that a remount must repeat: in a user
 * namespace those of a mount from the host are locked (mount_namespaces(7)),
 * and a remount that leaves out nosuid, nodev, noexec or an atime flag is
 * EPERM.
 */
static unsigned long kept_flags(int fd)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/*
 * With a user namespace of its own the container process becomes the
 * container's root before its mounts, and that id may not search the
 * store's dirs (0700): the host files it binds are opened before, here.
 * Per process (the child's copy).
 */
static struct preopen {
	const char *path;
	int fd;
} preopened[64];
static size_t n_preopened;

static void preopen_add(const char *path, int flags)
{
	int fd;

	if (!path || n_preopened >= ARRAY_SIZE(preopened))
		return;
	fd = open(path, O_PATH | O_CLOEXEC | flags);
	if (fd < 0)
		return; /* the bind says why, later */
	preopened[n_preopened++] = (struct preopen){ path, fd };
}

/* A new fd on host @path opened before, or -1. */
static int preopen_get(const char *path)
{
	for (size_t i = 0; i < n_preopened; i++)
		if (preopened[i].path == path || !strcmp(preopened[i].path, path))
			return fcntl(preopened[i].fd, F_DUPFD_CLOEXEC, 3);
	return -1;
}

static void preopen_sources(const char *rootfs, const struct launch_spec *spec)
{
	preopen_add(rootfs, O_DIRECTORY);
	preopen_add(spec->hosts_file, 0);
	preopen_add(spec->resolv_file, 0);
	preopen_add(spec->hostname_file, 0);
	for (size_t i = 0; i < spec->n_mounts; i++)
		preopen_add(spec->mounts[i].source, spec->mounts[i].volume ? O_NOFOLLOW : 0);
}

/* Bind mounts host @src (opened here) onto @path inside the rootfs, read-only when @ro. */
static int bind_in(int rootfd, const char *src, const char *path, bool ro,
		   struct strata_error **err)
{
	int pre = preopen_get(src);
	cleanup_close int sfd = pre >= 0 ? pre : open(src, O_PATH | O_CLOEXEC);
	cleanup_close int tfd = -1;
	cleanup_free char *what = xasprintf("%s on /%s", src, path);
	struct stat st;
	char s[64];

	if (sfd < 0 || fstat(sfd, &st) < 0)
		return strata_fail(err, errno, "bind source '%s'", src);
	tfd = open_target(rootfd, path, !S_ISDIR(st.st_mode), err);
	if (tfd < 0)
		return -1;
	snprintf(s, sizeof(s), "/proc/self/fd/%d", sfd);
	if (mount_fd(s, tfd, NULL, MS_BIND | MS_REC, NULL, what, err) < 0)
		return -1;
	if (ro) {
		/* A new fd: the old one names the covered inode. */
		cleanup_close int nfd = path_open_in(rootfd, path, O_PATH | O_NOFOLLOW, 0, err);

		unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC;

		if (nfd < 0 || mount_fd(NULL, nfd, NULL, fl | kept_flags(nfd), NULL, what, err) < 0)
			return -1;
	}
	return 0;
}

static int setup_dev(int rootfd, struct strata_error **err)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = { { "null", 1, 3 },	  { "zero", 1, 5 }, { "full", 1, 7 },
		      { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	cleanup_close int dfd = -1;

	if (mount_in(rootfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
		     "mode=755,size=65536k", err) < 0)
		return -1;
	dfd = path_open_in(rootfd, "dev", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, err);
	if (dfd < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		if (mknodat(dfd, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) <
		    0) {
			/* No CAP_MKNOD: bind the host's node instead. */
			cleanup_free char *src = xasprintf("/dev/%s", nodes[i].name);
			cleanup_free char *dst = xasprintf("dev/%s", nodes[i].name);

			if (bind_in(rootfd, src, dst, false, err) < 0)
				return -1;
		} else if (fchmodat(dfd, nodes[i].name, 0666, 0) < 0) {
			return strata_fail(err, errno, "chmod /dev/%s", nodes[i].name);
		}
	}
	if (mkdirat(dfd, "pts", 0755) < 0 || mkdirat(dfd, "shm", 01777) < 0 ||
	    mkdirat(dfd, "mqueue", 0755) < 0)
		return strata_fail(err, errno, "make /dev directories");
	/* gid 5 (tty) is not mapped in a rootless user namespace: devpts refuses it there. */
	if (mount_in(rootfd, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		     sys_userns_is_initial() ? "newinstance,ptmxmode=0666,mode=0620,gid=5"
					     : "newinstance,ptmxmode=0666,mode=0620",
		     err) < 0)
		return -1;
	if (mount_in(rootfd, "dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "mode=1777,size=65536k", err) < 0)
		return -1;
	if (mount_in(rootfd, "dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     NULL, err) < 0)
		return -1;
	if (symlinkat("pts/ptmx", dfd, "ptmx") < 0 || symlinkat("/proc/self/fd", dfd, "fd") < 0 ||
	    symlinkat("/proc/self/fd/0", dfd, "stdin") < 0 ||
	    symlinkat("/proc/self/fd/1", dfd, "stdout") < 0 ||
	    symlinkat("/proc/self/fd/2", dfd, "stderr") < 0)
		return strata_fail(err, errno, "make /dev links");
	return 0;
}

/*
 * /sys/fs/cgroup: the container's own cgroup, read-only, as podman shows
 * it: the files runtimes read to size themselves (memory.limit_in_bytes,
 * memory.max, cpu.max) are the container's. v2: its cgroup2 directory,
 * which its cgroup namespace shows as the root; v1: a read-only tmpfs
 * holding each controller's directory at its name. Nothing of the host's
 * tree is reachable from it.
 */
static int mount_cgroup(int rootfd, const struct launch_cgroup *cg, struct strata_error **err)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	const char *name, *dir;
	cleanup_close int fd = -1;
	size_t n = 0;

	if (launch_cgroup_dir(cg, 0, &name, &dir) && !*name)
		return bind_in(rootfd, dir, "sys/fs/cgroup", true, err);
	if (mount_in(rootfd, "sys/fs/cgroup", "tmpfs", "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "mode=755", err) < 0)
		return -1;
	for (; launch_cgroup_dir(cg, n, &name, &dir); n++) {
		cleanup_free char *dst = xasprintf("sys/fs/cgroup/%s", name);

		if (bind_in(rootfd, dir, dst, false, err) < 0)
			return -1;
	}
	/* The whole tree read-only in one call (Linux 5.12); else one remount per mount. */
	fd = path_open_in(rootfd, "sys/fs/cgroup", O_PATH | O_NOFOLLOW, 0, err);
	if (fd < 0)
		return -1;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof(ro)) == 0)
		return 0;
	if (errno != ENOSYS)
		return strata_fail(err, errno, "make /sys/fs/cgroup read-only");
	for (size_t i = 0; i < n && launch_cgroup_dir(cg, i, &name, &dir) && *name; i++) {
		cleanup_free char *dst = xasprintf("sys/fs/cgroup/%s", name);
		cleanup_close int d = path_open_in(rootfd, dst, O_PATH | O_NOFOLLOW, 0, err);

		if (d < 0 || mount_fd(NULL, d, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(d),
				      NULL, dst, err) < 0)
			return -1;
	}
	return mount_fd(NULL, fd, NULL,
			MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
			"read-only /sys/fs/cgroup", err);
}

static int mask_paths(int rootfd, struct strata_error **err)
{
	for (size_t i = 0; masked_paths[i]; i++) {
		cleanup_close int fd = path_open_in(rootfd, masked_paths[i], O_PATH | O_NOFOLLOW, 0,
						    NULL);
		cleanup_free char *what = xasprintf("mask on /%s", masked_paths[i]);
		struct stat st;

		if (fd < 0 || fstat(fd, &st) < 0)
			continue; /* not there: nothing to hide */
		if (S_ISDIR(st.st_mode)) {
			if (mount_fd("tmpfs", fd, "tmpfs", MS_RDONLY, "size=0", what, err) < 0)
				return -1;
		} else if (mount_fd("/dev/null", fd, NULL, MS_BIND, NULL, what, err) < 0) {
			return -1;
		}
	}
	for (size_t i = 0; readonly_paths[i]; i++) {
		cleanup_close int fd = path_open_in(rootfd, readonly_paths[i], O_PATH | O_NOFOLLOW, 0,
						    NULL);
		cleanup_close int nfd = -1;
		cleanup_free char *what = xasprintf("read-only /%s", readonly_paths[i]);
		char p[64];

		if (fd < 0)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (mount_fd(p, fd, NULL, MS_BIND | MS_REC, NULL, what, err) < 0)
			return -1;
		nfd = path_open_in(rootfd, readonly_paths[i], O_PATH | O_NOFOLLOW, 0, err);
		if (nfd < 0 || mount_fd(NULL, nfd, NULL,
					MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
						MS_NOEXEC,
					NULL, what, err) < 0)
			return -1;
	}
	return 0;
}

static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

static bool env_has(char **env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, n) && env[i][n] == '=')
			return true;
	return false;
}

/*
 * setgroups, setresgid, setresuid. In a rootless user namespace setgroups
 * is denied (the parent wrote "deny" so that it could map the gid) and
 * only root is mapped: another user is refused with a message that says
 * why rather than the kernel's EINVAL.
 */
static int become_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
		       struct strata_error **err)
{
	bool userns = !sys_userns_is_initial();

	if (setgroups(n_groups, groups) < 0 && !(userns && errno == EPERM))
		return strata_fail(err, errno, "become user %u:%u", (unsigned)uid, (unsigned)gid);
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		if (userns && errno == EINVAL)
			return strata_fail_msg(err, EINVAL,
					       "become user %u:%u: only root is mapped in this rootless user namespace",
					       (unsigned)uid, (unsigned)gid);
		return strata_fail(err, errno, "become user %u:%u", (unsigned)uid, (unsigned)gid);
	}
	return 0;
}

struct child_args {
	const char *rootfs;
	const struct launch_spec *spec;
	uint64_t caps;
	int sync_fd, err_fd;
	int *trees;			/* per mount: the tree the parent cloned (propagation), or -1 */
	bool view;			/* the container gets its /proc view */
	bool view_early;		/* the child opens view_fds at its start and says 'o' */
	bool view_own;			/* view_fds opened by the child (its own user namespace) */
	int view_fds[PROCVIEW_N_FILES]; /* /dev/fuse per view file, opened by the parent (root) */
};

/* Who the process becomes, read from the container's /etc/passwd and /etc/group. */
struct child_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	char *home;
};

/*
 * First stage: waits for the parent's go, leaves strata's session and
 * takes the container's stdio.
 */
static int child_start(struct child_args *a, struct strata_error **err)
{
	const struct launch_spec *spec = a->spec;
	char go;
	int in;

	/*
	 * Rootless, wait until the parent has written our uid and gid maps
	 * (for that we stay dumpable until then, or our /proc/PID files would
	 * be root's). As root the parent says so at once.
	 */
	/*
	 * A user namespace of our own made by root: the view's devices must be
	 * opened in it, and before the parent puts us in our cgroup, whose
	 * device policy refuses them; the parent waits for the word.
	 */
	if (a->view_early) {
		a->view_own = procview_devices_open(a->view_fds, NULL) == 0;
		if (send(a->sync_fd, "o", 1, MSG_NOSIGNAL) != 1)
			_exit(125);
	}
	if (read(a->sync_fd, &go, 1) != 1 || go != 'm')
		_exit(125);
	/*
	 * A user namespace of our own: our ids are still the parent's, which
	 * the map may not hold (files we made would be EOVERFLOW); become the
	 * container's root, whose capabilities in it we have.
	 */
	if (spec->idmap)
		preopen_sources(a->rootfs, spec);
	if (spec->idmap && (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 ||
			    setresuid(0, 0, 0) < 0))
		return strata_fail(err, errno, "become root of the container's user namespace");
	signals_unblock();
	/*
	 * Not dumpable until exec: no process of the container may open our
	 * /proc/PID/exe (strata's binary on the host) or our fds, which would
	 * let it write the host binary.
	 */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (setsid() < 0)
		return strata_fail(err, errno, "new session");
	/* -t: stdio is a terminal of the container's own devpts, made once it is mounted */
	if (spec->tty)
		return 0;
	in = spec->stdin_fd >= 0 ? spec->stdin_fd : open("/dev/null", O_RDONLY);
	if (in < 0 || dup2(in, 0) < 0 || dup2(spec->stdout_fd, 1) < 0 ||
	    dup2(spec->stderr_fd, 2) < 0)
		return strata_fail(err, errno, "set up stdio");
	return 0;
}

/*
 * Second stage: the rootfs (mounted here when rootless) bound onto itself,
 * with /proc, /dev and /sys; returns an fd on it.
 */
static int child_mount_rootfs(const struct child_args *a, struct strata_error **err)
{
	const struct launch_spec *spec = a->spec;
	cleanup_close int rootfd = -1;

	if (sys_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return strata_fail(err, errno, "make mounts private");
	/* Rootless: the overlay can only be mounted here, in our user and mount namespaces. */
	if (spec->rootfs_stack &&
	    overlay_mount(spec->rootfs_backend, spec->rootfs_stack, a->rootfs, err) < 0)
		return -1;
	if (spec->idmap) {
		/* opened before we became the container's root: a clone of it moved onto it */
		cleanup_close int at = preopen_get(a->rootfs);
		cleanup_close int tree = at >= 0 ? sys_open_tree(at, "", OPEN_TREE_CLONE | AT_RECURSIVE |
								   AT_EMPTY_PATH | OPEN_TREE_CLOEXEC)
						 : -1;

		if (tree < 0 || sys_move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH |
								  MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return strata_fail(err, errno, "bind the rootfs");
		rootfd = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		if (sys_mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
			return strata_fail(err, errno, "bind the rootfs");
		rootfd = open(a->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (rootfd < 0)
		return strata_fail(err, errno, "open the rootfs");
	if (mount_in(rootfd, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) <
		    0 ||
	    setup_dev(rootfd, err) < 0)
		return -1;
	if (mount_in(rootfd, "sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		     NULL, err) < 0) {
		/* sysfs of another network namespace can be refused: bind the host's, read-only. */
		strata_error_free(*err);
		*err = NULL;
		if (bind_in(rootfd, "/sys", "sys", true, err) < 0)
			return -1;
	}
	return steal_fd(&rootfd);
}

/*
 * What the container process says of its /proc view: 0 and which files it
 * mounted (bit f: file f), or why there is none.
 */
struct view_msg {
	int code;
	unsigned mounted;
	char what[160];
};

/* Sends @m up the sync socket, with the @n devices of @fds (SCM_RIGHTS) when @n is not 0. */
static int view_send(int sock, const struct view_msg *m, const int *fds, size_t n,
		     struct strata_error **err)
{
	struct iovec iov = { (void *)m, sizeof(*m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * PROCVIEW_N_FILES)];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&c, 0, sizeof(c));
	if (n) {
		struct cmsghdr *cm;

		msg.msg_control = c.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		if (errno != EINTR)
			return strata_fail(err, errno, "send the /proc view");
	return 0;
}

/* Tells the parent why the view is off; the container runs without it. */
static int view_off(int sock, int code, const char *what, struct strata_error **err)
{
	struct view_msg m = { .code = code ? code : EIO };

	snprintf(m.what, sizeof(m.what), "%s", what);
	return view_send(sock, &m, NULL, 0, err);
}

/*
 * Mounts the view's files, each its own FUSE connection whose root is the
 * file, straight on its place in /proc and /sys; a kernel without the file
 * (no swap support: no /proc/swaps) gets none. Returns the files mounted,
 * or -1 with errno when the first mount is refused (no view at all).
 */
static int view_mount(int rootfd, const int *fds, unsigned *mounted, struct strata_error **err)
{
	*mounted = 0;
	for (int f = 0; f < PROCVIEW_N_FILES; f++) {
		const char *target = procview_file_target((enum procview_file)f);
		cleanup_close int tfd = path_open_in(rootfd, target, O_PATH | O_NOFOLLOW, 0, NULL);
		cleanup_free char *what = xasprintf("the /proc view on /%s", target);
		cleanup_free char *data = NULL;

		if (tfd < 0)
			continue;
		data = procview_mount_data(fds[f], (enum procview_file)f);
		if (mount_fd("strata", tfd, PROCVIEW_FSTYPE,
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data, what,
			     *mounted ? err : NULL) < 0)
			return -1;
		*mounted |= 1u << f;
	}
	return 0;
}

/*
 * The container's /proc view: one /dev/fuse per file, opened by the parent
 * as root (before this process is in its cgroup, whose device policy
 * refuses it), or here, rootless (a FUSE mount must match the user
 * namespace of the device's opener), each mounted read-only over its file.
 * The parent serves them: as root on its own copies, told here which are
 * mounted; rootless on the devices sent up. Nothing here waits for the
 * server (the kernel holds a read until the connection's INIT is
 * answered), and the view lives in this mount namespace alone, so nothing
 * of it is left on the host or after the container. Without /dev/fuse, or
 * when the mount is refused, the parent is told why and the container
 * runs with the host's files.
 */
static int child_proc_view(const struct child_args *a, int rootfd, struct strata_error **err)
{
	int fds[PROCVIEW_N_FILES];
	bool own = a->view_fds[0] < 0 || a->view_own;
	struct view_msg ok = { 0 };
	int r;

	memcpy(fds, a->view_fds, sizeof(fds));
	if (a->view_fds[0] < 0 && procview_devices_open(fds, NULL) < 0)
		return view_off(a->sync_fd, errno, "open /dev/fuse", err);
	if (view_mount(rootfd, fds, &ok.mounted, err) < 0) {
		int e = errno;

		procview_devices_close(fds);
		if (ok.mounted)
			return -1;
		return view_off(a->sync_fd, e, "mount a FUSE filesystem", err);
	}
	r = view_send(a->sync_fd, &ok, fds, own ? PROCVIEW_N_FILES : 0, err);
	/* the parent's are the only ones left: when they go, the connections end */
	procview_devices_close(fds);
	return r;
}

/*
 * A bind that keeps receiving (rslave) or exchanging (rshared) the host's
 * mount events: the tree the parent cloned before the namespaces were made
 * private, still in its host peer group, moved into place, then made a
 * slave or left shared.
 */
static int attach_tree(int rootfd, int tree, const struct launch_mount *m, const char *path,
		       struct strata_error **err)
{
	cleanup_free char *what = xasprintf("%s on /%s", m->source, path);
	cleanup_close int tfd = -1;
	cleanup_close int nfd = -1;
	struct stat st;

	if (fstat(tree, &st) < 0)
		return strata_fail(err, errno, "bind source '%s'", m->source);
	tfd = open_target(rootfd, path, !S_ISDIR(st.st_mode), err);
	if (tfd < 0)
		return -1;
	if (sys_move_mount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return strata_fail(err, errno, "mount %s", what);
	/* a new fd: the old one names the covered inode */
	nfd = path_open_in(rootfd, path, O_PATH | O_NOFOLLOW, 0, err);
	if (nfd < 0 || mount_fd(NULL, nfd, NULL, m->propagation, NULL, what, err) < 0)
		return -1;
	if (m->readonly && mount_fd(NULL, nfd, NULL,
				    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | kept_flags(nfd), NULL,
				    what, err) < 0)
		return -1;
	return 0;
}

static void close_trees(int *trees, size_t n)
{
	for (size_t i = 0; trees && i < n; i++)
		if (trees[i] >= 0)
			close(trees[i]);
	free(trees);
}

/* The binds with a propagation, cloned here (still peers of the host's mounts); *trees per mount. */
static int open_trees(const struct launch_spec *spec, int **trees, struct strata_error **err)
{
	*trees = NULL;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];

		if (!m->propagation || m->tmpfs)
			continue;
		if (!*trees) {
			*trees = xcalloc(spec->n_mounts, sizeof(int));
			for (size_t k = 0; k < spec->n_mounts; k++)
				(*trees)[k] = -1;
		}
		if (launch_propagation_check(m->source, m->propagation, err) < 0)
			goto fail;
		(*trees)[i] = sys_open_tree(AT_FDCWD, m->source,
					    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if ((*trees)[i] < 0) {
			strata_fail(err, errno, "%s propagation of '%s'",
				    launch_propagation_name(m->propagation), m->source);
			goto fail;
		}
	}
	return 0;
fail:
	close_trees(*trees, spec->n_mounts);
	*trees = NULL;
	return -1;
}

/* A volume's data dir is a directory of the store, never a symlink planted there. */
static int volume_source_check(const struct launch_mount *m, struct strata_error **err)
{
	cleanup_close int pre = preopen_get(m->source);
	struct stat st;

	if ((pre >= 0 ? fstatat(pre, "", &st, AT_EMPTY_PATH) : lstat(m->source, &st)) < 0)
		return strata_fail(err, errno, "volume '%s'", m->volume);
	if (!S_ISDIR(st.st_mode))
		return strata_fail_msg(err, ENOTDIR, "volume '%s': its data dir '%s' is not a directory",
				       m->volume, m->source);
	return 0;
}

/*
 * Third stage: the container's cgroup at /sys/fs/cgroup, /etc/hosts,
 * resolv.conf and hostname, the volumes and tmpfs mounts, the --device
 * nodes, the masked paths, then the rootfs read-only when asked.
 */
static int child_mount_binds(const struct child_args *a, int rootfd, struct strata_error **err)
{
	const struct launch_spec *spec = a->spec;

	if (mount_cgroup(rootfd, spec->cgroup, err) < 0)
		return -1;
	if (a->view && child_proc_view(a, rootfd, err) < 0)
		return -1;
	if ((spec->hosts_file && bind_in(rootfd, spec->hosts_file, "etc/hosts", false, err) < 0) ||
	    (spec->resolv_file &&
	     bind_in(rootfd, spec->resolv_file, "etc/resolv.conf", false, err) < 0) ||
	    (spec->hostname_file &&
	     bind_in(rootfd, spec->hostname_file, "etc/hostname", false, err) < 0))
		return -1;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];
		cleanup_free char *dst = path_clean(m->destination);
		char data[64];
		int r;

		if (!*dst)
			return strata_fail_msg(err, EINVAL, "cannot mount over '/'");

		snprintf(data, sizeof(data), m->tmpfs_size ? "mode=%o,size=%llu" : "mode=%o",
			 m->tmpfs_mode ? m->tmpfs_mode : 01777, (unsigned long long)m->tmpfs_size);
		if (m->volume && volume_source_check(m, err) < 0)
			return -1;
		if (m->tmpfs)
			r = mount_in(rootfd, dst, "tmpfs", "tmpfs",
				     MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0), data, err);
		else if (a->trees && a->trees[i] >= 0)
			r = attach_tree(rootfd, a->trees[i], m, dst, err);
		else
			r = bind_in(rootfd, m->source, dst, m->readonly, err);
		if (r < 0)
			return -1;
	}
	/* --device: the host's node bound in; the cgroup's device policy allows it */
	for (size_t i = 0; i < spec->n_devices; i++) {
		cleanup_free char *dst = path_clean(spec->devices[i].destination);

		if (bind_in(rootfd, spec->devices[i].source, dst, false, err) < 0)
			return -1;
	}
	if (mask_paths(rootfd, err) < 0)
		return -1;
	if (spec->readonly_rootfs &&
	    sys_mount(NULL, a->rootfs, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(rootfd),
		      NULL) < 0)
		return strata_fail(err, errno, "make the rootfs read-only");
	return 0;
}

/*
 * Fourth stage: the hostname, pivot_root into the rootfs (letting go of
 * the old root), lo up; returns an fd on the new "/".
 */
static int child_pivot(const struct launch_spec *spec, int rootfd, struct strata_error **err)
{
	int fd;

	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return strata_fail(err, errno, "set the hostname");
	if (fchdir(rootfd) < 0 || sys_pivot_root(".", ".") < 0 || sys_umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0)
		return strata_fail(err, errno, "pivot_root into the rootfs");
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open the new root");
	if (!spec->host_network)
		loopback_up();
	return fd;
}

/*
 * -t, in the new root: a pty of the container's devpts becomes our stdio
 * and controlling terminal; its master goes to the parent.
 */
static int child_terminal(const struct child_args *a, struct strata_error **err)
{
	int master, slave;

	if (launch_tty_open_in_root(&master, &slave, err) < 0)
		return -1;
	if (launch_tty_take(slave, err) < 0 || launch_tty_send_fd(a->sync_fd, master, err) < 0) {
		close(master);
		return -1;
	}
	close(master);
	return 0;
}

/* The working directory, made when missing; relative to "/" when not absolute. */
static int child_chdir(int rootfd, const char *dir, struct strata_error **err)
{
	cleanup_free char *cwd = NULL;
	int dfd;

	if (!dir || !*dir)
		return 0;
	cwd = path_clean(dir);
	dfd = *cwd ? path_mkdirs_in(rootfd, cwd, 0755, err) : 0;
	if (dfd < 0)
		return -1;
	if (*cwd)
		close(dfd);
	if (chdir(dir[0] == '/' ? dir : "/") < 0 || (dir[0] != '/' && chdir(cwd) < 0))
		return strata_fail(err, errno, "working directory '%s'", dir);
	return 0;
}

/* The process's environment: @spec's, with PATH, HOSTNAME and HOME when not set. */
static char **child_env(const struct launch_spec *spec, const char *home)
{
	char **env = strv_dup(spec->env);

	if (!env_has(env, "PATH"))
		strv_append(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (!env_has(env, "HOSTNAME") && spec->hostname) {
		cleanup_free char *h = xasprintf("HOSTNAME=%s", spec->hostname);

		strv_append(&env, h);
	}
	if (!env_has(env, "HOME")) {
		cleanup_free char *h = xasprintf("HOME=%s", home && *home ? home : "/");

		strv_append(&env, h);
	}
	/* runc, crun and podman: a terminal is an xterm unless told otherwise */
	if (spec->tty && !env_has(env, "TERM"))
		strv_append(&env, "TERM=xterm");
	return env;
}

/*
 * no_new_privs, the bounding set, seccomp (while CAP_SYS_ADMIN is still
 * held), the user, the capabilities in @caps.
 */
static int drop_privileges(const struct launch_spec *spec, uint64_t caps,
			   const struct child_user *u, struct strata_error **err)
{
	if (spec->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return strata_fail(err, errno, "no_new_privs");
	if (launch_caps_drop_bounding(caps, err) < 0 ||
	    (!spec->no_seccomp && launch_seccomp_load(caps, err) < 0) ||
	    become_user(u->uid, u->gid, u->groups, u->n_groups, err) < 0 ||
	    launch_caps_apply(caps, err) < 0)
		return -1;
	return 0;
}

/*
 * Last stage, once the parent has put us in our cgroup: the cgroup
 * namespace, no_new_privs, the bounding set, seccomp (while CAP_SYS_ADMIN
 * is still held), the user, the capabilities, the parent death signal
 * when asked; every fd of ours is close-on-exec.
 */
static int child_drop_privileges(struct child_args *a, const struct child_user *u,
				 struct strata_error **err)
{
	const struct launch_spec *spec = a->spec;
	char go;

	/*
	 * The filesystem is ready while the parent puts us in our cgroup: a
	 * first write to cgroup.procs waits out an RCU grace period (the
	 * kernel's cgroup_threadgroup_rwsem), ~10 ms here, which our mounts
	 * overlapped. Nothing of the container's runs before we are in it;
	 * the cgroup namespace is rooted there.
	 */
	if (read(a->sync_fd, &go, 1) != 1 || go != 'g')
		_exit(125);
	close(a->sync_fd);
	if (spec->cgroup && sys_unshare(CLONE_NEWCGROUP) < 0)
		log_debug("launch: no cgroup namespace: %s", strerror(errno));
	if (drop_privileges(spec, a->caps, u, err) < 0)
		return -1;
	if (spec->die_with_parent) {
		/*
		 * Last: a change of credentials (the user, the capabilities)
		 * clears it (prctl(2)). PID 1 killed, the kernel kills the rest
		 * of its PID namespace. A parent that died before has closed its
		 * end of the error pipe, which poll reports as POLLERR.
		 */
		struct pollfd pf = { .fd = a->err_fd };

		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			return strata_fail(err, errno, "parent death signal");
		if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR))
			_exit(137);
	}
	/* Nothing of ours may leak into the container. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 1024; fd++)
			if (fd != a->err_fd)
				close(fd);
	return 0;
}

/* The container's PID 1 from clone to exec; each stage's error goes up the pipe. */
static _Noreturn void child_main(struct child_args *a)
{
	const struct launch_spec *spec = a->spec;
	struct strata_error *err = NULL;
	struct child_user u = { 0 };
	cleanup_close int rootfd = -1;
	char **env;
	int fd, init_fd = -1;

	if (child_start(a, &err) < 0)
		child_die(a->err_fd, err);
	rootfd = child_mount_rootfs(a, &err);
	if (rootfd < 0 || child_mount_binds(a, rootfd, &err) < 0)
		child_die(a->err_fd, err);
	fd = child_pivot(spec, rootfd, &err);
	if (fd < 0)
		child_die(a->err_fd, err);
	close(rootfd);
	rootfd = fd;
	if (spec->tty && child_terminal(a, &err) < 0)
		child_die(a->err_fd, err);
	if (launch_user_resolve(rootfd, spec->user, &u.uid, &u.gid, &u.groups, &u.n_groups, &u.home,
				&err) < 0 ||
	    child_chdir(rootfd, spec->cwd, &err) < 0)
		child_die(a->err_fd, err);
	env = child_env(spec, u.home);
	if ((spec->init && (init_fd = launch_init_open(&err)) < 0) ||
	    child_drop_privileges(a, &u, &err) < 0)
		child_die(a->err_fd, err);
	if (spec->init) {
		launch_init_exec(init_fd, spec->argv, env, a->err_fd, &err);
		child_die(a->err_fd, err);
	}
	environ = env;
	execvp(spec->argv[0], spec->argv);
	strata_fail(&err, errno, "exec '%s'", spec->argv[0]);
	child_die(a->err_fd, err);
}

/* The error a child sent up its pipe ("ERRNO message") before it died. */
static int child_error(char *buf, size_t len, struct strata_error **err)
{
	char *msg;
	int code;

	buf[len] = '\0';
	code = (int)strtol(buf, &msg, 10);
	return strata_fail_msg(err, code ? code : EIO, "%s", *msg == ' ' ? msg + 1 : msg);
}

/*
 * Reads the error pipe until EOF: nothing means the process exec'd;
 * otherwise its error, once @child is reaped.
 */
static int wait_exec(int errfd, pid_t child, struct strata_error **err)
{
	char buf[2048];
	ssize_t n, got = 0;

	while ((n = read(errfd, buf + got, sizeof(buf) - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += n;
		if ((size_t)got >= sizeof(buf) - 1)
			break;
	}
	close(errfd);
	if (got > 0) {
		waitpid(child, NULL, 0);
		return child_error(buf, (size_t)got, err);
	}
	return 0;
}

/* The view's source: the host's files and the container's cgroup directories. */
static struct procview_source *view_source(const struct launch_spec *spec, pid_t child)
{
	struct procview_source *src =
	    procview_source_new("/proc", "/sys/devices/system/cpu/online");
	const char *name, *dir;

	for (size_t i = 0; launch_cgroup_dir(spec->cgroup, i, &name, &dir); i++)
		procview_source_set_dir(src, name, dir);
	procview_source_set_start(src, procview_pid_boottime(child));
	return src;
}

/* Loads libfuse3 for the view; without it the container runs with the host's files. */
static bool view_load(void)
{
	cleanup_error struct strata_error *e = NULL;

	if (procview_fuse_load(&e) == 0)
		return true;
	log_warn("the /proc view is off: %s", strata_error_msg(e));
	return false;
}

/*
 * The parent's side of the view: the container process's word, then the
 * server on the devices it mounted. A view that cannot be had is no error:
 * the container runs with the host's files, and this says why.
 */
static int view_recv(pid_t child, int sock, const struct launch_spec *spec,
		     struct strata_error **err)
{
	struct view_msg m;
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * PROCVIEW_N_FILES)];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int fds[PROCVIEW_N_FILES];
	size_t n = 0;
	ssize_t got;

	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		fds[f] = -1;
	msg.msg_control = c.buf;
	msg.msg_controllen = sizeof(c.buf);
	while ((got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL)) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(m))
		return strata_fail_msg(err, EIO,
				       "the container process ended before its /proc view");
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (n < PROCVIEW_N_FILES ? n : PROCVIEW_N_FILES));
	}
	m.what[sizeof(m.what) - 1] = '\0';
	if (m.code) {
		procview_devices_close(fds);
		procview_server_free(*spec->proc_view);
		*spec->proc_view = NULL;
		log_warn("the /proc view is off: %s: %s", m.what, strerror(m.code));
		return 0;
	}
	/* rootless: the devices came up with the word; as root the server has its own */
	if (!*spec->proc_view && n == PROCVIEW_N_FILES &&
	    procview_server_start(view_source(spec, child), fds, spec->proc_view, err) < 0)
		return -1;
	procview_devices_close(fds);
	if (!*spec->proc_view)
		return strata_fail_msg(err, EIO, "the /proc view's server did not start");
	procview_server_mounted(*spec->proc_view, m.mounted);
	return 0;
}

/*
 * The parent's side of the start: "m" once the uid/gid maps are written
 * (rootless), and the child makes its mounts; with -t its pty's master
 * comes back (given our window size); "g" once it is in its cgroup, and
 * it execs. When a step fails, the child's own error (it may have died in
 * its setup meanwhile) is the one reported.
 */
static int spawn_handshake(pid_t child, int sock, int errfd, const struct launch_spec *spec,
			   bool placed, bool view, int *tty_master, struct strata_error **err)
{
	struct strata_error *e = NULL;
	cleanup_close int master = -1;
	char buf[2048];
	ssize_t n;
	int r = 0;

	if (geteuid() != 0) {
		r = launch_userns_map(child, geteuid(), getegid(), &e);
	} else if (spec->idmap) {
		char c = 0;

		if (view && (recv(sock, &c, 1, MSG_WAITALL) != 1 || c != 'o'))
			r = strata_fail_msg(&e, EIO, "the container process ended before its user namespace was mapped");
		if (r == 0)
			r = launch_userns_map_ranges(child, spec->idmap, &e);
	}
	if (r == 0 && send(sock, "m", 1, MSG_NOSIGNAL) != 1)
		r = strata_fail(&e, errno, "start the container process");
	if (r == 0 && spec->cgroup && !placed)
		r = launch_cgroup_add(spec->cgroup, child, &e);
	if (r == 0 && view)
		r = view_recv(child, sock, spec, &e);
	if (r == 0 && spec->tty) {
		master = launch_tty_recv_fd(sock, &e);
		r = master < 0 ? -1 : 0;
		if (r == 0 && spec->tty_rows && spec->tty_cols) {
			struct winsize ws = { .ws_row = spec->tty_rows, .ws_col = spec->tty_cols };

			ioctl(master, TIOCSWINSZ, &ws);
		} else if (r == 0) {
			launch_tty_size_copy(0, master);
		}
	}
	if (r == 0 && send(sock, "g", 1, MSG_NOSIGNAL) != 1)
		r = strata_fail(&e, errno, "start the container process");
	close(sock);
	if (r == 0) {
		if (tty_master)
			*tty_master = steal_fd(&master);
		return 0;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* the child's error, if it sent one before it died */
	n = read(errfd, buf, sizeof(buf) - 1);
	close(errfd);
	if (n > 0) {
		strata_error_free(e);
		return child_error(buf, (size_t)n, err);
	}
	if (err && !*err)
		*err = e;
	else
		strata_error_free(e);
	return -1;
}

int launch_spawn(const char *rootfs, const struct launch_spec *spec, pid_t *pid, int *tty_master,
		 struct strata_error **err)
{
	int sync[2], errp[2];
	struct child_args a = { rootfs, spec, 0, -1, -1, NULL, false, false, false, { 0 } };
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	/* Root of a user namespace (strata unshare) has its namespace already. */
	bool rootless = geteuid() != 0;
	pid_t child;
	int cg_fd;
	bool placed;

	if (tty_master)
		*tty_master = -1;
	if (spec->proc_view)
		*spec->proc_view = NULL;
	if (!spec->argv || !spec->argv[0])
		return strata_fail_msg(err, EINVAL, "no command to run");
	if (spec->tty && !tty_master)
		return strata_fail_msg(err, EINVAL, "a terminal asked for without a place for it");
	if (launch_caps_mask(spec->cap_add, spec->cap_drop, &a.caps, err) < 0 ||
	    open_trees(spec, &a.trees, err) < 0)
		return -1;
	if (!spec->host_network)
		flags |= CLONE_NEWNET;
	/* The user namespace is made first and owns the others (clone(2)). */
	if (rootless || spec->idmap)
		flags |= CLONE_NEWUSER;
	/* A socket, not a pipe: a send to a child that died is EPIPE, not SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0)
		return strata_fail(err, errno, "socketpair");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(sync[0]);
		close(sync[1]);
		return strata_fail(err, errno, "pipe");
	}
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		a.view_fds[f] = -1;
	a.view = spec->proc_view && view_load();
	a.view_early = a.view && spec->idmap && !rootless;
	/* failing, the child opens them and says why */
	if (a.view && !rootless && !spec->idmap && procview_devices_open(a.view_fds, NULL) < 0)
		log_debug("launch: /dev/fuse: %s", strerror(errno));
	fflush(NULL);
	/*
	 * On cgroup v2 the child starts in its cgroup (clone3 CLONE_INTO_CGROUP):
	 * no cgroup.procs write, which waits out an RCU grace period.
	 */
	/* with its own user namespace it opens the view's devices before it joins its cgroup */
	cg_fd = spec->idmap ? -1 : launch_cgroup_v2_fd(spec->cgroup);
	child = cg_fd >= 0 ? sys_clone(flags, cg_fd) : -1;
	placed = child >= 0;
	if (child < 0)
		child = sys_clone(flags, -1); /* v1, or a kernel before 5.7 */
	if (child == 0) {
		close(sync[1]);
		close(errp[0]);
		a.sync_fd = sync[0];
		a.err_fd = errp[1];
		child_main(&a);
	}
	close(sync[0]);
	close(errp[1]);
	if (cg_fd >= 0)
		close(cg_fd);
	/*
	 * As root, the server starts now, on the device the child mounts,
	 * while the child makes its mounts: its thread is up when the child
	 * says the view is mounted, and answers its binds at once.
	 */
	if (a.view_fds[0] >= 0 && child > 0) {
		cleanup_error struct strata_error *e = NULL;

		if (procview_server_start(view_source(spec, child), a.view_fds, spec->proc_view,
					  &e) < 0)
			log_debug("launch: %s", strata_error_msg(e));
	}
	procview_devices_close(a.view_fds);
	close_trees(a.trees, spec->n_mounts);
	if (child < 0) {
		int e = errno;

		close(sync[1]);
		close(errp[0]);
		if (rootless && launch_userns_refused(e))
			return strata_fail_msg(err, e,
					       "clone the container process: user namespaces are not available to this user");
		return strata_fail(err, e, "clone the container process");
	}
	if (spawn_handshake(child, sync[1], errp[0], spec, placed, a.view, tty_master, err) < 0 ||
	    wait_exec(errp[0], child, err) < 0) {
		if (tty_master && *tty_master >= 0) {
			close(*tty_master);
			*tty_master = -1;
		}
		if (spec->proc_view) {
			procview_server_free(*spec->proc_view);
			*spec->proc_view = NULL;
		}
		return -1;
	}
	*pid = child;
	return 0;
}

int launch_wait(pid_t pid, bool forward_signals)
{
	sigset_t set, old;
	int sfd, status = 0;

	if (forward_signals)
		forwarded_set(&set);
	else
		sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		struct signalfd_siginfo si;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			break;
		if (sfd < 0) {
			if (waitpid(pid, &status, 0) == pid)
				break;
			continue;
		}
		if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
			kill(pid, (int)si.ssi_signo);
	}
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}

int launch_run(const char *rootfs, const struct launch_spec *spec, int *status,
	       struct strata_error **err)
{
	int master = -1;
	sigset_t old;
	pid_t pid;

	launch_signals_hold(spec->forward_signals, &old);
	if (launch_spawn(rootfs, spec, &pid, &master, err) < 0) {
		launch_signals_release(spec->forward_signals, &old);
		return -1;
	}
	if (master < 0) {
		*status = launch_wait(pid, spec->forward_signals);
	} else {
		*status = launch_tty_relay_wait(pid, master, spec->forward_signals);
		close(master);
	}
	launch_signals_release(spec->forward_signals, &old);
	return 0;
}

/* Joins the namespaces of @pid (mnt last: it changes what /proc means). */
static int join_namespaces(pid_t pid, struct strata_error **err)
{
	/* user first: joining it gives the capabilities to join the ones it owns */
	static const char *const ns[] = { "user", "cgroup", "ipc", "uts", "net", "pid", "mnt" };
	int fds[ARRAY_SIZE(ns)];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		cleanup_free char *p = xasprintf("/proc/%d/ns/%s", (int)pid, ns[i]);

		fds[i] = open(p, O_RDONLY | O_CLOEXEC);
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		if (fds[i] < 0)
			continue;
		if (ret == 0 && sys_setns(fds[i], 0) < 0) {
			struct stat a, b;
			cleanup_free char *mine = xasprintf("/proc/self/ns/%s", ns[i]);

			/* the same namespace as ours (host network): nothing to join */
			if (!(fstat(fds[i], &a) == 0 && stat(mine, &b) == 0 && a.st_ino == b.st_ino))
				ret = strata_fail(err, errno, "join the %s namespace", ns[i]);
		}
		close(fds[i]);
	}
	return ret;
}

/* Where this process's argv and environment strings are (what /proc/PID/cmdline and environ read). */
struct args_area {
	unsigned long arg_start, arg_end, env_start, env_end;
};

/* Fields 48 to 51 of /proc/self/stat; all 0 when they cannot be read. */
static void args_area_read(struct args_area *area)
{
	char buf[4096];
	cleanup_close int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	char *p;

	memset(area, 0, sizeof(*area));
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* after the command name, which may hold spaces and parentheses: field 3 on */
	p = strrchr(buf, ')');
	for (int field = 3; p && field <= 48; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lu %lu %lu %lu", &area->arg_start, &area->arg_end,
			 &area->env_start, &area->env_end) != 4)
		memset(area, 0, sizeof(*area));
}

/*
 * Zeroes strata's command line and environment strings in this process,
 * a fork about to fork into the container's PID namespace: until that
 * child execs, a process of the container could read them in
 * /proc/PID/cmdline.
 */
static void args_area_scrub(const struct args_area *area)
{
	if (area->arg_end > area->arg_start)
		memset((void *)area->arg_start, 0, area->arg_end - area->arg_start);
	if (area->env_end > area->env_start)
		memset((void *)area->env_start, 0, area->env_end - area->env_start);
}

struct exec_args {
	pid_t pid;		/* the container's PID 1 */
	struct launch_cgroup *cg;
	const struct launch_spec *spec;
	uint64_t caps;
	struct args_area area;
	int err_fd, tty_sock;
};

/* -t: a pty of the container's devpts as stdio; its master to strata, which says when it is sized. */
static int exec_terminal(const struct exec_args *x, struct strata_error **err)
{
	int master, slave;
	char go;

	if (launch_tty_open_in_root(&master, &slave, err) < 0)
		return -1;
	if (launch_tty_take(slave, err) < 0 || launch_tty_send_fd(x->tty_sock, master, err) < 0) {
		close(master);
		return -1;
	}
	close(master);
	if (read(x->tty_sock, &go, 1) != 1)
		_exit(125);
	close(x->tty_sock);
	return 0;
}

/* In the container's namespaces: stdio, user, working directory, privileges, exec. */
static _Noreturn void exec_inner(const struct exec_args *x)
{
	const struct launch_spec *spec = x->spec;
	struct strata_error *e = NULL;
	cleanup_close int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct child_user u = { 0 };
	char **env;

	signals_unblock();
	if (spec->tty) {
		if (exec_terminal(x, &e) < 0)
			child_die(x->err_fd, e);
	} else {
		if (spec->stdin_fd >= 0)
			dup2(spec->stdin_fd, 0);
		dup2(spec->stdout_fd, 1);
		dup2(spec->stderr_fd, 2);
	}
	if (launch_user_resolve(rootfd, spec->user, &u.uid, &u.gid, &u.groups, &u.n_groups, &u.home,
				&e) < 0)
		child_die(x->err_fd, e);
	if (chdir(spec->cwd && *spec->cwd ? spec->cwd : "/") < 0) {
		strata_fail(&e, errno, "working directory '%s'", spec->cwd);
		child_die(x->err_fd, e);
	}
	env = child_env(spec, u.home);
	if (drop_privileges(spec, x->caps, &u, &e) < 0)
		child_die(x->err_fd, e);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		log_debug("exec: close_range: %s", strerror(errno));
	environ = env;
	execvp(spec->argv[0], spec->argv);
	strata_fail(&e, errno, "exec '%s'", spec->argv[0]);
	child_die(x->err_fd, e);
}

/*
 * The first fork: joins the container's cgroup and namespaces, then forks
 * the process that runs there (the PID namespace applies to children) and
 * waits for it, passing signals on.
 */
static _Noreturn void exec_outer(const struct exec_args *x)
{
	struct strata_error *e = NULL;
	pid_t inner;

	/* not dumpable: the container must not reach strata's binary through /proc (see child_start) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* before the fork that the container will see */
	args_area_scrub(&x->area);
	if (x->cg && launch_cgroup_add(x->cg, getpid(), &e) < 0)
		child_die(x->err_fd, e);
	if (join_namespaces(x->pid, &e) < 0)
		child_die(x->err_fd, e);
	inner = fork();
	if (inner < 0) {
		strata_fail(&e, errno, "fork");
		child_die(x->err_fd, e);
	}
	if (inner == 0)
		exec_inner(x);
	close(x->err_fd);
	if (x->tty_sock >= 0)
		close(x->tty_sock);
	_exit(launch_wait(inner, true));
}

static int exec_and_wait(pid_t pid, struct launch_cgroup *cg, const struct launch_spec *spec,
			 int *status, struct strata_error **err)
{
	struct exec_args x = { .pid = pid, .cg = cg, .spec = spec, .err_fd = -1, .tty_sock = -1 };
	int errp[2], tsock[2] = { -1, -1 };
	cleanup_close int master = -1;
	pid_t child;

	if (launch_caps_mask(spec->cap_add, spec->cap_drop, &x.caps, err) < 0)
		return -1;
	args_area_read(&x.area);
	if (spec->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tsock) < 0)
		return strata_fail(err, errno, "socketpair");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		if (tsock[0] >= 0) {
			close(tsock[0]);
			close(tsock[1]);
		}
		return strata_fail(err, errno, "pipe");
	}
	fflush(NULL);
	child = fork();
	if (child == 0) {
		close(errp[0]);
		if (tsock[0] >= 0)
			close(tsock[0]);
		x.err_fd = errp[1];
		x.tty_sock = tsock[1];
		exec_outer(&x);
	}
	close(errp[1]);
	if (tsock[1] >= 0)
		close(tsock[1]);
	if (child < 0) {
		close(errp[0]);
		if (tsock[0] >= 0)
			close(tsock[0]);
		return strata_fail(err, errno, "fork");
	}
	if (tsock[0] >= 0) {
		/* EOF instead of a pty: the process died; its error is on the pipe */
		master = launch_tty_recv_fd(tsock[0], NULL);
		if (master >= 0) {
			launch_tty_size_copy(0, master);
			if (send(tsock[0], "g", 1, MSG_NOSIGNAL) != 1)
				log_debug("exec: the process is gone");
		}
		close(tsock[0]);
	}
	if (wait_exec(errp[0], child, err) < 0)
		return -1;
	if (spec->tty && master < 0) {
		waitpid(child, NULL, 0);
		return strata_fail_msg(err, EIO, "the exec'd process sent no pseudo-terminal");
	}
	*status = master >= 0 ? launch_tty_relay_wait(child, master, spec->forward_signals)
			      : launch_wait(child, spec->forward_signals);
	return 0;
}

int launch_exec(pid_t pid, struct launch_cgroup *cg, const struct launch_spec *spec, int *status,
		struct strata_error **err)
{
	sigset_t old;
	int r;

	/* as launch_run: a signal before the wait begins is held for it */
	launch_signals_hold(spec->forward_signals, &old);
	r = exec_and_wait(pid, cg, spec, status, err);
	launch_signals_release(spec->forward_signals, &old);
	return r;
}
