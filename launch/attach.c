/*
 * Detached containers with a terminal (`run -dit`, `start` of a container
 * made with -t) and `attach`. The monitor holds the pty's master: what
 * the container writes goes to its log and to every attached client;
 * what a client types goes to the container. A client reaches the
 * monitor on the unix socket "attach" in the container's directory
 * (SOCK_SEQPACKET, one message per record, its first byte the kind):
 *
 *   client -> monitor   'i' + bytes typed    'w' + struct winsize
 *   monitor -> client   'o' + bytes written  'x' + int exit status (last)
 *
 * The client reads its terminal raw and watches for the detach keys
 * (ctrl-p ctrl-q unless told otherwise, as podman): on them it leaves,
 * and the container goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "launch/launch-int.h"

#define ATTACH_SOCK "attach"
#define MAX_CLIENTS 16
#define MSG_MAX 8192

/*
 * sockaddr_un of the socket in the directory @dirfd: through
 * /proc/self/fd, so that a store path longer than sun_path (108 bytes)
 * still works.
 */
static socklen_t sock_addr(int dirfd, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dirfd, ATTACH_SOCK);
	return (socklen_t)sizeof(*sa);
}

int launch_attach_listen(int dirfd, struct strata_error **err)
{
	struct sockaddr_un sa;
	socklen_t len = sock_addr(dirfd, &sa);
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return strata_fail(err, errno, "attach socket");
	unlinkat(dirfd, ATTACH_SOCK, 0); /* a monitor that died left it */
	/* only root (or the rootless owner) may reach the container's terminal */
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || fchmodat(dirfd, ATTACH_SOCK, 0600, 0) < 0 ||
	    listen(fd, 8) < 0)
		return strata_fail(err, errno, "listen on the attach socket");
	return steal_fd(&fd);
}

/* Sends kind @k and @len bytes to a client; false when it is gone or stuck. */
static bool send_msg(int fd, char k, const void *data, size_t len)
{
	char buf[MSG_MAX + 1];

	buf[0] = k;
	memcpy(buf + 1, data, len);
	return send(fd, buf, len + 1, MSG_NOSIGNAL) == (ssize_t)(len + 1);
}

static void write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

struct serve {
	int master, log_fd, listen_fd;
	int clients[MAX_CLIENTS];
	size_t n_clients;
	bool master_open;
};

static void drop_client(struct serve *sv, size_t i)
{
	close(sv->clients[i]);
	sv->clients[i] = sv->clients[--sv->n_clients];
}

/* One read of the container's output: to the log and to every client. */
static void serve_output(struct serve *sv)
{
	char buf[MSG_MAX];
	ssize_t n = read(sv->master, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EIO: no process holds the terminal side any more */
		sv->master_open = false;
		return;
	}
	if (sv->log_fd >= 0)
		write_all_fd(sv->log_fd, buf, (size_t)n);
	for (size_t i = 0; i < sv->n_clients;)
		if (!send_msg(sv->clients[i], 'o', buf, (size_t)n))
			drop_client(sv, i);
		else
			i++;
}

static void serve_accept(struct serve *sv)
{
	/* a client that stops reading for 2 s is dropped rather than stall the container */
	struct timeval tv = { 2, 0 };
	int c = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (sv->n_clients == MAX_CLIENTS) {
		close(c);
		return;
	}
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sv->clients[sv->n_clients++] = c;
}

/* A client's message: typed bytes for the container, or its window size. */
static void serve_client(struct serve *sv, size_t i)
{
	char buf[MSG_MAX + 1];
	ssize_t n = recv(sv->clients[i], buf, sizeof(buf), 0);

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			drop_client(sv, i);
		return;
	}
	if (buf[0] == 'i')
		write_all_fd(sv->master, buf + 1, (size_t)n - 1);
	else if (buf[0] == 'w' && (size_t)n == 1 + sizeof(struct winsize))
		ioctl(sv->master, TIOCSWINSZ, buf + 1);
}

struct attach_server *launch_attach_server_new(int master, int log_fd, int listen_fd)
{
	struct serve *sv = xcalloc(1, sizeof(*sv));

	sv->master = master;
	sv->log_fd = log_fd;
	sv->listen_fd = listen_fd;
	sv->master_open = true;
	return (struct attach_server *)sv;
}

void launch_attach_server_accept(struct attach_server *srv, int timeout_ms)
{
	struct serve *sv = (struct serve *)srv;
	struct pollfd p = { sv->listen_fd, POLLIN, 0 };

	if (poll(&p, 1, timeout_ms) == 1)
		serve_accept(sv);
}

int launch_attach_server_run(struct attach_server *srv, pid_t pid)
{
	struct serve *sv = (struct serve *)srv;
	sigset_t set, old;
	int sfd, status = 0;
	bool exited = false;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		struct pollfd p[3 + MAX_CLIENTS];
		size_t n = sv->n_clients;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		p[0] = (struct pollfd){ sv->master_open ? sv->master : -1, POLLIN, 0 };
		p[1] = (struct pollfd){ sv->listen_fd, POLLIN, 0 };
		p[2] = (struct pollfd){ sfd, POLLIN, 0 };
		for (size_t i = 0; i < n; i++)
			p[3 + i] = (struct pollfd){ sv->clients[i], POLLIN, 0 };
		/* without a signalfd, look at the child every 100 ms */
		if (poll(p, 3 + n, sfd < 0 ? 100 : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			serve_output(sv);
		if (p[1].revents & POLLIN)
			serve_accept(sv);
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) < 0)
				log_debug("monitor: signalfd: %s", strerror(errno));
		}
		/* from the last to the first: dropping one moves the last into its place */
		for (size_t i = n; i-- > 0;)
			if (p[3 + i].revents)
				serve_client(sv, i);
	}
	if (!exited && waitpid(pid, &status, 0) < 0)
		status = 0;
	/* what the container wrote last, before its terminal went away */
	fcntl(sv->master, F_SETFL, fcntl(sv->master, F_GETFL) | O_NONBLOCK);
	while (sv->master_open) {
		struct pollfd p = { sv->master, POLLIN, 0 };

		if (poll(&p, 1, 0) <= 0)
			break;
		serve_output(sv);
	}
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}

void launch_attach_server_end(struct attach_server *srv, int code)
{
	struct serve *sv = (struct serve *)srv;

	if (!sv)
		return;
	for (size_t i = 0; i < sv->n_clients; i++) {
		send_msg(sv->clients[i], 'x', &code, sizeof(code));
		close(sv->clients[i]);
	}
	free(sv);
}

/* ---- the client ---- */

bool launch_container_has_tty(const json_t *rec)
{
	struct launch_run_config rc;
	bool tty;

	launch_run_config_get(rec, &rc);
	tty = rc.tty;
	launch_run_config_release(&rc);
	return tty;
}

int launch_detach_keys_parse(const char *spec, char *keys, size_t *n, struct strata_error **err)
{
	cleanup_free char *copy = xstrdup(spec);
	char *save = NULL;

	*n = 0;
	if (!*spec)
		return 0; /* "": never detach */
	for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		char c;

		if (*n == LAUNCH_DETACH_KEYS_MAX)
			return strata_fail_msg(err, EINVAL, "detach keys '%s': more than %d keys",
					       spec, LAUNCH_DETACH_KEYS_MAX);
		if (strlen(k) == 1) {
			c = k[0];
		} else if (!strncmp(k, "ctrl-", 5) && strlen(k) == 6) {
			char x = k[5];

			/* podman's set: ctrl-a..z, ctrl-@, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_ */
			if (x >= 'a' && x <= 'z')
				c = (char)(x - 'a' + 1);
			else if (strchr("@[\\]^_", x))
				c = (char)(x == '@' ? 0 : x - '@');
			else
				return strata_fail_msg(err, EINVAL,
						       "detach keys '%s': unknown key '%s'", spec, k);
		} else {
			return strata_fail_msg(err, EINVAL,
					       "detach keys '%s': unknown key '%s' (want a character or ctrl-X)",
					       spec, k);
		}
		keys[(*n)++] = c;
	}
	if (*n == 0)
		return strata_fail_msg(err, EINVAL, "detach keys '%s': no key", spec);
	return 0;
}

struct client {
	int sock;
	pid_t pid; /* the container's PID 1, which gets the signals we get */
	const char *keys;
	size_t n_keys, matched; /* keys seen so far of the detach sequence, held back */
	bool detached;
};

/* Typed bytes to the monitor, except the detach sequence, which ends the attach. */
static bool client_input(struct client *c, const char *buf, size_t n)
{
	char out[MSG_MAX];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (c->n_keys && buf[i] == c->keys[c->matched]) {
			if (++c->matched == c->n_keys) {
				c->detached = true;
				break;
			}
			continue;
		}
		/* not the sequence after all: what was held back goes first */
		for (size_t k = 0; k < c->matched && o < sizeof(out); k++)
			out[o++] = c->keys[k];
		c->matched = 0;
		if (c->n_keys && buf[i] == c->keys[0]) {
			c->matched = 1;
			continue;
		}
		if (o < sizeof(out))
			out[o++] = buf[i];
	}
	return o == 0 || send_msg(c->sock, 'i', out, o);
}

static void client_size(int sock)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		send_msg(sock, 'w', &ws, sizeof(ws));
}

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* Relays until the container ends (*status set, 1), the user detaches (0) or the monitor goes (-1). */
static int client_loop(struct client *c, int *status)
{
	bool in_open = true;
	sigset_t set, old;
	int sfd, ret = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	/* as podman's --sig-proxy: signals to us go to the container */
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	client_size(c->sock);
	for (;;) {
		struct pollfd p[3] = { { c->sock, POLLIN, 0 },
				       { in_open ? 0 : -1, POLLIN, 0 },
				       { sfd, POLLIN, 0 } };
		char buf[MSG_MAX + 1];
		ssize_t n;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			n = read(0, buf, MSG_MAX);
			if (n <= 0 && !(n < 0 && errno == EINTR))
				in_open = false;
			else if (n > 0 && !client_input(c, buf, (size_t)n))
				break;
			if (c->detached) {
				ret = 0;
				break;
			}
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGWINCH)
				client_size(c->sock);
			else if (c->pid > 1)
				kill(c->pid, (int)si.ssi_signo);
		}
		if (p[0].revents) {
			n = recv(c->sock, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (buf[0] == 'o') {
				write_all_fd(1, buf + 1, (size_t)n - 1);
			} else if (buf[0] == 'x' && (size_t)n == 1 + sizeof(int)) {
				memcpy(status, buf + 1, sizeof(int));
				ret = 1;
				break;
			}
		}
	}
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int launch_container_attach(struct store *s, const char *id, const char *detach_keys,
			    int *status, bool *detached, struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, err);
	cleanup_close int dirfd = -1;
	cleanup_close int sock = -1;
	struct client c = { .sock = -1 };
	char keys[LAUNCH_DETACH_KEYS_MAX];
	struct sockaddr_un sa;
	struct termios saved, raw;
	bool is_tty;
	int r;

	*detached = false;
	*status = 0;
	if (!rec)
		return -1;
	if (launch_detach_keys_parse(detach_keys ? detach_keys : LAUNCH_DETACH_KEYS, keys,
				     &c.n_keys, err) < 0)
		return -1;
	if (!launch_container_running(rec))
		return strata_fail_msg(err, EINVAL, "container '%.12s' is not running", id);
	if (!launch_container_has_tty(rec))
		return strata_fail_msg(err, EINVAL,
				       "container '%.12s' has no terminal (made without -t): "
				       "its output is in 'strata logs'",
				       id);
	dirfd = store_container_dirfd(s, id, err);
	if (dirfd < 0)
		return -1;
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return strata_fail(err, errno, "attach socket");
	if (connect(sock, (struct sockaddr *)&sa, sock_addr(dirfd, &sa)) < 0)
		return strata_fail(err, errno, "reach the monitor of container '%.12s'", id);
	c.sock = sock;
	c.keys = keys;
	c.pid = (pid_t)jv_int(json_object_get(rec, "State"), "Pid", 0);
	is_tty = tcgetattr(0, &saved) == 0;
	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	r = client_loop(&c, status);
	if (is_tty)
		tcsetattr(0, TCSANOW, &saved);
	if (r == 0) {
		*detached = true;
		return 0;
	}
	if (r == 1)
		return 0;
	/* the monitor went without a word: the record has the status */
	return launch_container_wait(s, id, status, err);
}
