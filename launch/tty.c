/*
 * Pseudo-terminals for `run -t` and `exec -t`: the process gets the
 * terminal side as its stdin, stdout and stderr and as its controlling
 * terminal; this process copies between its own stdio and the other side,
 * in raw mode when its stdin is a terminal, and passes window size changes
 * on, until the process has ended and its output is drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "launch/launch-int.h"

int tty_open(int *master, int *slave, struct strata_error **err)
{
	struct winsize ws;
	char *name;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0)
		return strata_fail(err, errno, "open a pseudo-terminal");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || !(name = ptsname(m))) {
		close(m);
		return strata_fail(err, errno, "set up a pseudo-terminal");
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		close(m);
		return strata_fail(err, errno, "open %s", name);
	}
	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(m, TIOCSWINSZ, &ws);
	*master = m;
	return 0;
}

int tty_attach(int slave)
{
	if (setsid() < 0 && errno != EPERM)
		return -1;
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return -1;
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return -1;
	return 0;
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

int tty_relay_wait(pid_t pid, int master, bool forward_signals)
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
				if (si.ssi_signo == SIGWINCH) {
					struct winsize ws;

					if (ioctl(0, TIOCGWINSZ, &ws) == 0)
						ioctl(master, TIOCSWINSZ, &ws);
				} else if (si.ssi_signo != SIGCHLD) {
					kill(pid, (int)si.ssi_signo);
				}
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
