/*
 * Pseudo-terminals for `run -t` and `exec -t`, made as runc and crun make
 * them: the pty is allocated in the container's own devpts instance
 * (mounted newinstance, ptmxmode=0666), so that the process sees
 * /dev/pts/0 and `tty` names it; the terminal side is its stdin, stdout,
 * stderr and controlling terminal (a new session and TIOCSCTTY); the
 * other side, the master, is sent to strata over a unix socket
 * (SCM_RIGHTS) and never opened by the container again. strata copies
 * between its own stdio and the master, in raw mode when its stdin is a
 * terminal, and passes window size changes on, until the process has
 * ended and its output is drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "launch/launch-int.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int launch_tty_open_in_root(int *master, int *slave, struct strata_error **err)
{
	cleanup_close int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int unlock = 0;
	int s;

	if (m < 0)
		return strata_fail(err, errno, "open the container's /dev/pts/ptmx");
	/* The container may have put anything there: only devpts' own ptmx (5:2) will do. */
	if (fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
	    minor(st.st_rdev) != 2)
		return strata_fail_msg(err, EINVAL, "the container's /dev/pts/ptmx is not a ptmx");
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return strata_fail(err, errno, "unlock the pseudo-terminal");
	/* The peer by fd, not by a path the container could have changed. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return strata_fail(err, errno, "open the pseudo-terminal's terminal side");
	*slave = s;
	*master = steal_fd(&m);
	return 0;
}

int launch_tty_take(int slave, struct strata_error **err)
{
	if (setsid() < 0 && errno != EPERM)
		return strata_fail(err, errno, "new session");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return strata_fail(err, errno, "take the terminal");
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return strata_fail(err, errno, "set up the terminal as stdio");
	if (slave > 2)
		close(slave);
	return 0;
}

int launch_tty_send_fd(int sock, int fd, struct strata_error **err)
{
	char byte = 't';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	memset(&c, 0, sizeof(c));
	msg.msg_control = c.buf;
	msg.msg_controllen = sizeof(c.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		if (errno != EINTR)
			return strata_fail(err, errno, "send the pseudo-terminal");
	return 0;
}

int launch_tty_recv_fd(int sock, struct strata_error **err)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	msg.msg_control = c.buf;
	msg.msg_controllen = sizeof(c.buf);
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return strata_fail(err, errno, "receive the pseudo-terminal");
	cm = CMSG_FIRSTHDR(&msg);
	if (n == 0 || !cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return strata_fail_msg(err, EIO, "the container process sent no pseudo-terminal");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

void launch_tty_size_copy(int from, int master)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

static void copy_some(int from, int to, bool *open_end)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || errno != EINTR)
			*open_end = false;
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

int launch_tty_relay_wait(pid_t pid, int master, bool forward_signals)
{
	static const int fwd[] = { SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct termios saved, raw;
	bool is_tty = tcgetattr(0, &saved) == 0;
	bool in_open = true, out_open = true, exited = false;
	sigset_t set, old;
	int sfd, status = 0;

	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	if (forward_signals)
		for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
			sigaddset(&set, fwd[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	while (out_open) {
		struct pollfd p[3] = { { master, POLLIN, 0 },
				       { sfd, POLLIN, 0 },
				       { in_open ? 0 : -1, POLLIN, 0 } };

		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
		/* once it has exited, drain what is left without waiting */
		if (poll(p, 3, exited ? 0 : -1) <= 0) {
			if (exited)
				break;
			continue;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			copy_some(master, 1, &out_open);
		if (p[2].revents & (POLLIN | POLLHUP))
			copy_some(0, master, &in_open);
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH)
					launch_tty_size_copy(0, master);
				else if (si.ssi_signo != SIGCHLD)
					kill(pid, (int)si.ssi_signo);
			}
		}
	}
	if (!exited)
		waitpid(pid, &status, 0);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (is_tty)
		tcsetattr(0, TCSANOW, &saved);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}
