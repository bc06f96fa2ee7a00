/*
 * Thin wrappers over mount, namespace and xattr syscalls (the kernel's
 * ovl_do_* pattern): each logs its call and result under STRATA_DEBUG=1 and
 * otherwise behaves exactly like the syscall, returning -1 with errno set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/util.h"

static int logged(int ret, const char *fmt, ...) FMT(2, 3);

static int logged(int ret, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	char *call = NULL;

	if (log_get_level() < LOG_LEVEL_DEBUG)
		return ret;
	va_start(ap, fmt);
	call = xvasprintf(fmt, ap);
	va_end(ap);
	if (ret < 0)
		log_debug("%s = -1 (%s)", call, strerror(saved));
	else
		log_debug("%s = %d", call, ret);
	free(call);
	errno = saved;
	return ret;
}

#define NS(s) ((s) ? (s) : "NULL")

int sys_mount(const char *src, const char *target, const char *fstype, unsigned long flags,
	      const void *data)
{
	int r = mount(src, target, fstype, flags, data);

	return logged(r, "mount(%s, %s, %s, 0x%lx, %s)", NS(src), NS(target), NS(fstype), flags,
		      data ? (const char *)data : "NULL");
}

int sys_umount2(const char *target, int flags)
{
	return logged(umount2(target, flags), "umount2(%s, 0x%x)", target, flags);
}

int sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
	int r = (int)syscall(SYS_openat2, dirfd, path, how, size);

	if (log_get_level() >= LOG_LEVEL_DEBUG && r < 0)
		return logged(r, "openat2(%d, %s, flags=0x%llx, resolve=0x%llx)", dirfd, path,
			      (unsigned long long)how->flags, (unsigned long long)how->resolve);
	return r;
}

int sys_fsopen(const char *fsname, unsigned int flags)
{
	return logged(fsopen(fsname, flags), "fsopen(%s, 0x%x)", fsname, flags);
}

int sys_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{
	int r = fsconfig(fd, cmd, key, value, aux);

	return logged(r, "fsconfig(%d, %u, %s, %s, %d)", fd, cmd, NS(key),
		      cmd == FSCONFIG_SET_STRING && value ? (const char *)value : "-", aux);
}

int sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
	return logged(fsmount(fd, flags, attr_flags), "fsmount(%d, 0x%x, 0x%x)", fd, flags,
		      attr_flags);
}

int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned int flags)
{
	return logged(move_mount(from_dfd, from, to_dfd, to, flags),
		      "move_mount(%d, %s, %d, %s, 0x%x)", from_dfd, from, to_dfd, to, flags);
}

int sys_open_tree(int dfd, const char *path, unsigned int flags)
{
	return logged(open_tree(dfd, path, flags), "open_tree(%d, %s, 0x%x)", dfd, path, flags);
}

int sys_pivot_root(const char *new_root, const char *put_old)
{
	return logged((int)syscall(SYS_pivot_root, new_root, put_old), "pivot_root(%s, %s)",
		      new_root, put_old);
}

int sys_unshare(int flags)
{
	return logged(unshare(flags), "unshare(0x%x)", flags);
}

pid_t sys_clone(unsigned long flags, int cgroup_fd)
{
	if (cgroup_fd >= 0) {
		/* CLONE_INTO_CGROUP and struct clone_args as in linux/sched.h (5.7) */
		struct {
			uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
				tls, set_tid, set_tid_size, cgroup;
		} args = { .flags = (flags & ~(unsigned long)CSIGNAL) | 0x200000000ULL,
			   .exit_signal = SIGCHLD,
			   .cgroup = (uint64_t)cgroup_fd };
		long r = syscall(SYS_clone3, &args, sizeof(args));

		if (r == 0)
			return 0; /* the child: nothing may be logged yet */
		return (pid_t)logged((int)r, "clone3(0x%lx, into cgroup fd %d)", flags, cgroup_fd);
	}
	{
		long r = syscall(SYS_clone, (flags & ~(unsigned long)CSIGNAL) | SIGCHLD, NULL, NULL,
				 NULL, NULL);

		if (r == 0)
			return 0;
		return (pid_t)logged((int)r, "clone(0x%lx)", flags);
	}
}

int sys_setns(int fd, int nstype)
{
	return logged(setns(fd, nstype), "setns(%d, 0x%x)", fd, nstype);
}

int sys_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	return logged(fsetxattr(fd, name, value, size, flags), "fsetxattr(%d, %s, %zu)", fd, name,
		      size);
}

int sys_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	return logged(lsetxattr(path, name, value, size, flags), "lsetxattr(%s, %s, %zu)", path,
		      name, size);
}

ssize_t sys_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	return lgetxattr(path, name, value, size);
}

ssize_t sys_llistxattr(const char *path, char *list, size_t size)
{
	return llistxattr(path, list, size);
}

ssize_t sys_flistxattr(int fd, char *list, size_t size)
{
	return flistxattr(fd, list, size);
}

ssize_t sys_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	return fgetxattr(fd, name, value, size);
}

int sys_ncpus(void)
{
	cpu_set_t set;
	long n;

	/* The CPUs this process may run on (taskset, cpusets), else all online. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

bool sys_userns_is_initial(void)
{
	char buf[128], *nl;
	unsigned long a, b, c;
	ssize_t n;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true; /* no /proc or no user namespaces: nothing but the initial one */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	/* The initial namespace maps every uid onto itself: "0 0 4294967295", one line. */
	return sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 &&
	       c == 4294967295UL && (!nl || !nl[1]);
}

bool sys_is_host_root(void)
{
	return geteuid() == 0 && sys_userns_is_initial();
}

bool sys_may_chown(void)
{
	char buf[512];
	unsigned long a, b, c, total = 0;
	ssize_t n;
	int fd;

	if (geteuid() != 0)
		return false;
	fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true; /* no user namespaces: the host's root */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (sscanf(l, "%lu %lu %lu", &a, &b, &c) == 3)
			total += c;
	return total > 1;
}

static char boot_id_buf[64];

static void read_boot_id(void)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (file_read_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", sizeof(boot_id_buf) - 1,
			 &buf, &len, NULL) < 0)
		return;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
		len--;
	memcpy(boot_id_buf, buf, len);
	boot_id_buf[len] = '\0';
}

const char *sys_boot_id(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, read_boot_id);
	return boot_id_buf;
}

bool sys_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	return kill(pid, 0) == 0 || errno == EPERM;
}

/*
 * Fields 3 (state) and 22 (starttime, clock ticks after boot) of
 * /proc/PID/stat, read after the last ')' since the command name may hold
 * spaces and parentheses (proc(5)). 0 when the process is gone.
 */
static uint64_t stat_start(pid_t pid, char *state)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	const char *p;
	ssize_t n;
	int fd;

	*state = '?';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 state, &start) != 2)
		return 0;
	return start;
}

uint64_t sys_pid_start_time(pid_t pid)
{
	char state;

	return pid > 0 ? stat_start(pid, &state) : 0;
}

bool sys_pid_alive_since(pid_t pid, uint64_t start)
{
	char state;
	uint64_t now;

	if (pid <= 0)
		return false;
	now = stat_start(pid, &state);
	if (!now)
		return sys_pid_alive(pid); /* no /proc to read: kill(0) is all there is */
	if (state == 'Z' || state == 'X')
		return false;
	return !start || now == start;
}
