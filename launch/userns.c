/*
 * User namespaces for non-root users (rootless). Without subordinate ids
 * the only id a user may map is its own (user_namespaces(7)): the
 * caller's uid and gid become 0 inside, and every other id shows as the
 * overflow id (nobody). Writing gid_map unprivileged needs
 * /proc/PID/setgroups set to "deny" first (Linux 3.19), so the
 * supplementary groups cannot be changed inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "launch/launch-int.h"

char *launch_idmap_line(unsigned inside, unsigned outside, unsigned count)
{
	return xasprintf("%u %u %u\n", inside, outside, count);
}

bool launch_userns_refused(int e)
{
	/*
	 * EPERM: a sysctl (kernel.unprivileged_userns_clone, an LSM) or a
	 * seccomp filter forbids it; EINVAL: a kernel without CONFIG_USER_NS
	 * or a chroot; ENOSPC: user.max_user_namespaces reached (0 disables).
	 */
	return e == EPERM || e == EINVAL || e == ENOSPC;
}

static int write_proc(pid_t pid, const char *file, const char *text, struct strata_error **err)
{
	cleanup_free char *path =
	    pid ? xasprintf("/proc/%d/%s", (int)pid, file) : xasprintf("/proc/self/%s", file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return strata_fail(err, errno, "open %s", path);
	/* One write(2): the kernel takes a map only whole. */
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return strata_fail(err, errno, "write '%.*s' to %s", (int)strcspn(text, "\n"), text,
				   path);
	return 0;
}

int launch_userns_map(pid_t pid, uid_t uid, gid_t gid, struct strata_error **err)
{
	cleanup_free char *um = launch_idmap_line(0, (unsigned)uid, 1);
	cleanup_free char *gm = launch_idmap_line(0, (unsigned)gid, 1);

	if (write_proc(pid, "setgroups", "deny", err) < 0 ||
	    write_proc(pid, "uid_map", um, err) < 0 || write_proc(pid, "gid_map", gm, err) < 0)
		return strata_wrap(err, "map uid %u and gid %u to root in the user namespace",
				   (unsigned)uid, (unsigned)gid);
	return 0;
}

int launch_userns_enter(struct strata_error **err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (sys_unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		if (launch_userns_refused(errno))
			return strata_fail_msg(
			    err, errno,
			    "new user namespace: user namespaces are not available to this user");
		return strata_fail(err, errno, "new user namespace");
	}
	if (launch_userns_map(0, uid, gid, err) < 0)
		return -1;
	/* Nothing mounted here may reach the host's mount namespace. */
	if (sys_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return strata_fail(err, errno, "make mounts private");
	return 0;
}
