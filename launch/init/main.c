/*
 * The init of `strata run --init`: PID 1 of the container, a static
 * program that strata writes into a sealed memfd and executes, so that
 * the container sees a fresh process, `init -- CMD ARGS` with the
 * container's own environment, and nothing of the strata process that
 * set it up (its command line, environment, memory or binary).
 *
 * It starts CMD in its own process group (the terminal's foreground one
 * when stdin is a terminal), forwards every signal it gets to it, reaps
 * every orphan of the container, and exits with CMD's status (128+N when
 * CMD died of signal N). When fd 3 is open it is the launcher's error
 * pipe: a failed exec of CMD is written there as "ERRNO message", and the
 * launcher reports it; a successful one closes it (close-on-exec).
 *
 * Built with -static: it runs in the container's root, where there may be
 * no dynamic loader and no libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERR_FD 3

/* Reports a failure to the launcher (or on stderr without it) and ends the process. */
static _Noreturn void die(int err_fd, int code, const char *what, const char *arg)
{
	char buf[1024];
	int n;

	if (err_fd >= 0)
		n = snprintf(buf, sizeof(buf), "%d %s '%s': %s", code, what, arg, strerror(code));
	else
		n = snprintf(buf, sizeof(buf), "init: %s '%s': %s\n", what, arg, strerror(code));
	if (n > 0 && write(err_fd >= 0 ? err_fd : 2, buf,
			   (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0)
		_exit(126);
	_exit(code == ENOENT ? 127 : 126);
}

/* In the child: the foreground of the terminal when there is one, then CMD. */
static _Noreturn void start_command(char **argv, const sigset_t *old, int err_fd)
{
	setpgid(0, 0);
	/* SIGTTOU is still blocked here: a background group may take the terminal. */
	if (isatty(0))
		tcsetpgrp(0, getpid());
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(argv[0], argv);
	die(err_fd, errno, "exec", argv[0]);
}

int main(int argc, char **argv)
{
	int err_fd = fcntl(ERR_FD, F_GETFD) >= 0 ? ERR_FD : -1;
	sigset_t all, old;
	pid_t child;

	if (argc < 3 || strcmp(argv[1], "--")) {
		static const char usage[] = "usage: init -- COMMAND [ARG...]\n";

		if (write(2, usage, sizeof(usage) - 1) < 0)
			return 125;
		return 125;
	}
	/* Started from a memfd, the kernel names us after the fd: say what we are. */
	prctl(PR_SET_NAME, "init", 0, 0, 0);
	if (err_fd >= 0)
		fcntl(err_fd, F_SETFD, FD_CLOEXEC);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0)
		die(err_fd, errno, "fork for", argv[2]);
	if (child == 0)
		start_command(argv + 2, &old, err_fd);
	/*
	 * Nothing inherited stays open here: the launcher waits for EOF on
	 * the error pipe, which must come when CMD has exec'd, not when the
	 * container ends.
	 */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	for (;;) {
		int sig, status;
		pid_t p;

		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (p == child)
				_exit(WIFEXITED(status) ? WEXITSTATUS(status)
							: 128 + WTERMSIG(status));
		if (sigwait(&all, &sig) == 0 && sig != SIGCHLD)
			kill(child, sig);
	}
}
