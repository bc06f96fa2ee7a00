/*
 * The view's FUSE filesystems (libfuse3's low-level API): one connection
 * per view file, whose root inode is the file itself, so that the
 * container mounts each one straight on its place in /proc or /sys. No
 * lookup, scratch mount or answer from this server is on the container's
 * way to exec: the kernel queues FUSE_INIT at the mount and holds a read
 * until it is answered, and the thread answers once told the devices are
 * mounted (procview_server_mounted), while the container goes on. libfuse3
 * is loaded with dlopen when a view starts (procview_fuse_load), so that
 * no other command maps it.
 *
 * A file is rendered when it is read at offset 0, and later offsets are
 * served from that rendering, so a reader sees one consistent snapshot per
 * pass and a tool that rereads an open file from the start (top, on
 * /proc/stat) gets fresh values. Direct I/O: the kernel caches nothing, and
 * the size (0, as procfs says) does not cut reads short.
 *
 * One thread serves every connection: it polls the devices and an eventfd
 * that procview_server_free writes. The kernel ends a connection (its
 * device polls as an error) once the last mount of it is gone, which is
 * when the container's mount namespace dies; after the device is closed,
 * reads in a mount that outlives the server fail with ENOTCONN instead of
 * waiting.
 */
#define FUSE_USE_VERSION 34
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "procview/procview-int.h"

/* The entries never change: the kernel may keep them for as long as it likes. */
#define TIMEOUT 86400.0

/* ---- libfuse3, loaded on first use ---- */

/* libfuse's functions the server calls, typed from its own header. */
static struct {
	__typeof__(&fuse_session_new) session_new;
	__typeof__(&fuse_session_mount) session_mount;
	__typeof__(&fuse_session_fd) session_fd;
	__typeof__(&fuse_session_receive_buf) session_receive_buf;
	__typeof__(&fuse_session_process_buf) session_process_buf;
	__typeof__(&fuse_session_destroy) session_destroy;
	__typeof__(&fuse_opt_free_args) opt_free_args;
	__typeof__(&fuse_reply_err) reply_err;
	__typeof__(&fuse_reply_entry) reply_entry;
	__typeof__(&fuse_reply_attr) reply_attr;
	__typeof__(&fuse_reply_open) reply_open;
	__typeof__(&fuse_reply_buf) reply_buf;
	__typeof__(&fuse_reply_readlink) reply_readlink;
	__typeof__(&fuse_req_userdata) req_userdata;
	__typeof__(&fuse_req_ctx) req_ctx;
	__typeof__(&fuse_add_direntry) add_direntry;
	__typeof__(&fuse_lowlevel_notify_store) notify_store;
} fl;

#define SYM(field, name) DLIB_SYM(__typeof__(fl), field, name)
static const struct dlib_sym syms[] = {
	SYM(session_new, "fuse_session_new"),
	SYM(session_mount, "fuse_session_mount"),
	SYM(session_fd, "fuse_session_fd"),
	SYM(session_receive_buf, "fuse_session_receive_buf"),
	SYM(session_process_buf, "fuse_session_process_buf"),
	SYM(session_destroy, "fuse_session_destroy"),
	SYM(opt_free_args, "fuse_opt_free_args"),
	SYM(reply_err, "fuse_reply_err"),
	SYM(reply_entry, "fuse_reply_entry"),
	SYM(reply_attr, "fuse_reply_attr"),
	SYM(reply_open, "fuse_reply_open"),
	SYM(reply_buf, "fuse_reply_buf"),
	SYM(reply_readlink, "fuse_reply_readlink"),
	SYM(req_userdata, "fuse_req_userdata"),
	SYM(req_ctx, "fuse_req_ctx"),
	SYM(add_direntry, "fuse_add_direntry"),
	SYM(notify_store, "fuse_lowlevel_notify_store"),
};
#undef SYM

/* The ABI's soname: libfuse has kept version 3 since 2016. */
static const char *const sonames[] = {"libfuse3.so.3", NULL};
static struct dlib libfuse = DLIB_INIT(sonames, syms, &fl, NULL);

static void *preload(void *arg)
{
	(void)arg;
	dlib_ready(&libfuse);
	return NULL;
}

/* The thread procview_fuse_preload started, joined by procview_fuse_load. */
static pthread_t preload_thread;
static bool preloading;

void procview_fuse_preload(void)
{
	sigset_t all, old;

	if (preloading)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	preloading = pthread_create(&preload_thread, NULL, preload, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int procview_fuse_load(struct strata_error **err)
{
	/*
	 * Joined, not only waited for: the launcher clones its container
	 * process with a raw clone(2), and a thread still ending (glibc's
	 * locks held as it frees its stack and arena) would leave them held
	 * in the child for ever.
	 */
	if (preloading) {
		pthread_join(preload_thread, NULL);
		preloading = false;
	}
	return dlib_load(&libfuse, err);
}

/* ---- the filesystems ---- */

/* One connection: one file of the view, its root inode. */
struct conn {
	struct procview_server *srv;
	struct fuse_session *se;
	enum procview_file file;
	int fd;	   /* the device, owned by the session once it has one */
	bool live; /* served: mounted, and the connection not ended */
	/* a directory root (the cpu directory): the host's, and its nodes by inode */
	int host_fd;  /* O_PATH of the host's directory */
	char **paths; /* inode 2 + i: path under it (the host's names) */
	size_t n_paths;
};

struct procview_server {
	struct procview_source *src;
	struct conn conns[PROCVIEW_N_FILES];
	pthread_t thread;
	int stop_fd;
	int go_fd;	     /* written once the devices are mounted (procview_server_mounted) */
	atomic_uint mounted; /* bit f: file f's device is mounted */
	atomic_bool alive;
	bool started;
	struct handle *open; /* the open files, freed with the server if never released */
};

/* One open file: its last rendering. */
struct handle {
	enum procview_file file;
	const char *path; /* a host file of a directory root (a node's), or NULL: the view file */
	struct sbuf text;
	bool rendered, served;
	struct handle *prev, *next;
};

/* Adds @h to the server's open files (the server's one thread calls this). */
static void handle_link(struct procview_server *srv, struct handle *h)
{
	h->prev = NULL;
	h->next = srv->open;
	if (srv->open)
		srv->open->prev = h;
	srv->open = h;
}

/* Takes @h out of the server's open files and frees it. */
static void handle_free(struct procview_server *srv, struct handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else if (srv->open == h)
		srv->open = h->next;
	if (h->next)
		h->next->prev = h->prev;
	sbuf_release(&h->text);
	free(h);
}

/* A file root's attributes: size 0, as procfs says (op_open says what sendfile needs). */
static void file_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
}

/* ---- the cpu directory: the host's, but the CPUs the container does not see ---- */

/* Entries of the cpu directory may change (cpuset, hotplug): the kernel keeps them a second. */
#define DIR_TIMEOUT 1.0

/* The host path of inode @ino of a directory root ("" for the root), or NULL. */
static const char *node_path(const struct conn *c, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return "";
	if (ino < 2 || ino - 2 >= c->n_paths)
		return NULL;
	return c->paths[ino - 2];
}

/* The inode of host path @path, added when new. */
static fuse_ino_t node_ino(struct conn *c, const char *path)
{
	for (size_t i = 0; i < c->n_paths; i++)
		if (!strcmp(c->paths[i], path))
			return 2 + i;
	c->paths = xrealloc(c->paths, (c->n_paths + 1) * sizeof(*c->paths));
	c->paths[c->n_paths] = xstrdup(path);
	return 2 + c->n_paths++;
}

/* N when @name is "cpuN" (a CPU's directory), else -1. */
static long cpu_number(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "cpu", 3) || name[3] < '0' || name[3] > '9')
		return -1;
	n = strtol(name + 3, &end, 10);
	return *end || n >= PROCVIEW_MAX_CPUS ? -1 : n;
}

/*
 * The host CPU shown as CPU @shown, or -1 when the container does not see
 * it: its own number when the cpuset gives the CPUs, the shown-th of them
 * when the quota cut them (shown as 0..n-1, as cpuinfo and online number them).
 */
static long cpu_shown_host(const struct procview_visible *v, long shown)
{
	if (!v->renumbered)
		return procview_cpus_has(&v->cpus, (unsigned)shown) ? shown : -1;
	for (unsigned c = 0, k = 0; c < PROCVIEW_MAX_CPUS; c++)
		if (procview_cpus_has(&v->cpus, c) && k++ == (unsigned)shown)
			return c;
	return -1;
}

/* The attributes of host path @path as the container sees them (read-only); -1 with errno. */
static int node_attr(const struct conn *c, const char *path, fuse_ino_t ino, struct stat *st)
{
	if (!strcmp(path, "online")) {
		file_attr(ino, st);
		return 0;
	}
	if (fstatat(c->host_fd, *path ? path : ".", st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		return -1;
	st->st_ino = ino;
	st->st_mode &= ~(mode_t)0222;
	return 0;
}

static void dir_lookup(fuse_req_t req, struct conn *c, fuse_ino_t parent, const char *name)
{
	const char *dir = node_path(c, parent);
	struct fuse_entry_param e;
	cleanup_free char *path = NULL;
	long cpu = -1;

	memset(&e, 0, sizeof(e));
	if (!dir) {
		fl.reply_err(req, ENOENT);
		return;
	}
	if (!*dir && (cpu = cpu_number(name)) >= 0) {
		struct procview_visible v;

		procview_visible_cpus(c->srv->src, &v);
		cpu = cpu_shown_host(&v, cpu);
		if (cpu < 0) {
			fl.reply_err(req, ENOENT);
			return;
		}
		path = xasprintf("cpu%ld", cpu);
	} else {
		path = *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
	}
	e.ino = node_ino(c, path);
	if (node_attr(c, path, e.ino, &e.attr) < 0) {
		fl.reply_err(req, errno);
		return;
	}
	e.attr_timeout = e.entry_timeout = DIR_TIMEOUT;
	fl.reply_entry(req, &e);
}

/* The names listed in directory @dir: the host's, without the CPUs not seen (renamed when renumbered). */
static char **dir_names(struct conn *c, const char *dir, size_t *n)
{
	cleanup_close int fd = openat(c->host_fd, *dir ? dir : ".",
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct procview_visible v;
	char **names = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	memset(&v, 0, sizeof(v));
	if (fd < 0 || !(d = fdopendir(fd)))
		return NULL;
	fd = -1;
	if (!*dir)
		procview_visible_cpus(c->srv->src, &v);
	while ((de = readdir(d))) {
		long cpu = *dir ? -1 : cpu_number(de->d_name);

		if (cpu >= 0 && v.renumbered)
			continue; /* listed below, as 0..n-1 */
		if (cpu >= 0 && !procview_cpus_has(&v.cpus, (unsigned)cpu))
			continue;
		names = xrealloc(names, (*n + 1) * sizeof(*names));
		names[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (unsigned k = 0; !*dir && v.renumbered && k < v.n; k++) {
		names = xrealloc(names, (*n + 1) * sizeof(*names));
		names[(*n)++] = xasprintf("cpu%u", k);
	}
	return names;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct conn *c = fl.req_userdata(req);
	const char *dir = c->host_fd >= 0 ? node_path(c, ino) : NULL;
	cleanup_free char *buf = NULL;
	char **names;
	size_t n, len = 0;

	(void)fi;
	if (!dir) {
		fl.reply_err(req, ENOTDIR);
		return;
	}
	names = dir_names(c, dir, &n);
	buf = xmalloc(size);
	for (size_t i = off > 0 ? (size_t)off : 0; i < n; i++) {
		struct stat st = { .st_ino = 1, .st_mode = S_IFREG };
		size_t add = fl.add_direntry(req, buf + len, size - len, names[i], &st, (off_t)i + 1);

		if (add > size - len)
			break;
		len += add;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fl.reply_buf(req, buf, len);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct conn *c = fl.req_userdata(req);
	const char *path = c->host_fd >= 0 ? node_path(c, ino) : NULL;
	char target[4096];
	ssize_t n;

	if (!path || (n = readlinkat(c->host_fd, path, target, sizeof(target) - 1)) < 0) {
		fl.reply_err(req, path ? errno : EINVAL);
		return;
	}
	target[n] = '\0';
	fl.reply_readlink(req, target);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct conn *c = fl.req_userdata(req);

	if (c->host_fd < 0) {
		fl.reply_err(req, ENOTDIR);
		return;
	}
	dir_lookup(req, c, parent, name);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct conn *c = fl.req_userdata(req);
	const char *path;
	struct stat st;

	(void)fi;
	if (c->host_fd >= 0) {
		if (!(path = node_path(c, ino)) || node_attr(c, path, ino, &st) < 0)
			fl.reply_err(req, path ? errno : ENOENT);
		else
			fl.reply_attr(req, &st, DIR_TIMEOUT);
		return;
	}
	if (ino != FUSE_ROOT_ID) {
		fl.reply_err(req, ENOENT);
		return;
	}
	file_attr(ino, &st);
	fl.reply_attr(req, &st, TIMEOUT);
}

/* Reads the host's file @path under @dirfd into @out (sysfs files are small: at most 1 MiB). */
static int host_read(int dirfd, const char *path, struct sbuf *out)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[8192];
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		sbuf_add(out, buf, (size_t)n);
		if (out->len > (1 << 20))
			break;
	}
	return 0;
}

/* Renders the handle's file afresh, for the reader @reader (a thread id on the host). */
static int handle_render(struct procview_server *srv, struct handle *h, pid_t reader)
{
	struct strata_error *e = NULL;

	sbuf_release(&h->text);
	h->rendered = h->served = false;
	procview_source_set_reader(srv->src, reader);
	if (h->path) {
		if (host_read(srv->conns[h->file].host_fd, h->path, &h->text) < 0)
			return -1;
		h->rendered = true;
		return 0;
	}
	if (procview_render(srv->src, h->file, &h->text, &e) < 0) {
		log_debug("procview: %s: %s", procview_file_name(h->file), strata_error_msg(e));
		strata_error_free(e);
		return -1;
	}
	h->rendered = true;
	return 0;
}

/*
 * Opening renders the file. Reads through the page cache (sendfile and
 * splice, which busybox's cat uses) stop at the inode's size, which the
 * kernel cuts to the end of the last short read; so the size is made at
 * least this rendering's by storing its last byte (FUSE_NOTIFY_STORE grows
 * the size), and the page-cache read that follows, short, sets it exactly.
 * Reads through read(2) are direct and see no size.
 */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct conn *c = fl.req_userdata(req);
	const char *path = NULL;
	struct handle *h;

	if (c->host_fd >= 0 ? !(path = node_path(c, ino)) : ino != FUSE_ROOT_ID) {
		fl.reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fl.reply_err(req, EACCES);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->file = c->file;
	/* in the cpu directory, "online" is the view's; the rest the host's */
	h->path = path && strcmp(path, "online") ? path : NULL;
	if (handle_render(c->srv, h, fl.req_ctx(req)->pid) < 0) {
		int e = h->path && errno ? errno : EIO;

		free(h);
		fl.reply_err(req, e);
		return;
	}
	if (h->text.len) {
		struct fuse_bufvec last = FUSE_BUFVEC_INIT(1);

		last.buf[0].mem = h->text.buf + h->text.len - 1;
		fl.notify_store(c->se, ino, (off_t)h->text.len - 1, &last, 0);
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	handle_link(c->srv, h);
	if (fl.reply_open(req, fi) != 0)
		handle_free(c->srv, h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct conn *c = fl.req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	/* read again from the start (top rereads /proc/stat so): a new rendering */
	if (((off == 0 && h->served) || !h->rendered) &&
	    handle_render(c->srv, h, fl.req_ctx(req)->pid) < 0) {
		fl.reply_err(req, EIO);
		return;
	}
	if (off < 0 || (size_t)off >= h->text.len) {
		h->served = true;
		fl.reply_buf(req, NULL, 0);
		return;
	}
	if (size > h->text.len - (size_t)off)
		size = h->text.len - (size_t)off;
	h->served = true;
	fl.reply_buf(req, h->text.buf + off, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct conn *c = fl.req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (h)
		handle_free(c->srv, h);
	fl.reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .readdir = op_readdir,
    .readlink = op_readlink,
};

/* ---- the thread ---- */

/*
 * Ends connection @c on this side: its device is replaced with /dev/null
 * (the number stays valid for fuse_session_destroy), which ends the
 * connection when it held the last reference; reads then fail at once.
 */
static void conn_end(struct conn *c)
{
	int null;

	if (c->fd < 0 || !c->live)
		return;
	c->live = false;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup3(null, c->fd, O_CLOEXEC) < 0)
		log_debug("procview: close the device: %s", strerror(errno));
	if (null >= 0)
		close(null);
}

/* Waits for the word that the devices are mounted (an unmounted one polls as an error). */
static bool wait_mounted(struct procview_server *srv)
{
	struct pollfd w[2] = {{.fd = srv->go_fd, .events = POLLIN},
			      {.fd = srv->stop_fd, .events = POLLIN}};
	unsigned mounted;

	while (poll(w, 2, -1) < 0)
		if (errno != EINTR)
			return false;
	if (w[1].revents || !w[0].revents)
		return false;
	mounted = atomic_load(&srv->mounted);
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		if (!(mounted & (1u << f)))
			conn_end(&srv->conns[f]);
	return true;
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Serves every live connection until stopped, or until the kernel has ended them all. */
static void *serve(void *arg)
{
	struct procview_server *srv = arg;
	double sampled = seconds_now();
	struct fuse_buf buf;
	int r;

	memset(&buf, 0, sizeof(buf));
	if (!wait_mounted(srv))
		goto out;
	for (;;) {
		struct pollfd pf[PROCVIEW_N_FILES + 1];
		struct conn *who[PROCVIEW_N_FILES];
		nfds_t n = 0;

		for (int f = 0; f < PROCVIEW_N_FILES; f++)
			if (srv->conns[f].live) {
				who[n] = &srv->conns[f];
				pf[n++] = (struct pollfd){.fd = srv->conns[f].fd, .events = POLLIN};
			}
		if (!n)
			break;
		pf[n] = (struct pollfd){.fd = srv->stop_fd, .events = POLLIN};
		r = poll(pf, n + 1, PROCVIEW_LOAD_EVERY * 1000);
		if (r < 0 && errno != EINTR)
			break;
		/* the load's sample every few seconds, read or not, as the kernel's */
		if (seconds_now() - sampled >= PROCVIEW_LOAD_EVERY) {
			procview_source_sample(srv->src);
			sampled = seconds_now();
		}
		if (r <= 0)
			continue;
		if (pf[n].revents)
			break;
		for (nfds_t i = 0; i < n; i++) {
			if (pf[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				conn_end(who[i]);
				continue;
			}
			if (!(pf[i].revents & POLLIN))
				continue;
			r = fl.session_receive_buf(who[i]->se, &buf);
			if (r == -EINTR || r == -EAGAIN)
				continue;
			if (r <= 0) {
				conn_end(who[i]);
				continue;
			}
			fl.session_process_buf(who[i]->se, &buf);
		}
	}
out:
	free(buf.mem);
	/*
	 * Whatever ended the loop, no request may wait for an answer that
	 * will not come: a request the kernel has handed over waits even
	 * SIGKILL out, and a container process stuck so would hold the
	 * container's exit. Closing the devices aborts the connections.
	 */
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		conn_end(&srv->conns[f]);
	atomic_store(&srv->alive, false);
	return NULL;
}

/* A session of libfuse on device @fd (taken) for file @f of @srv. */
static int conn_init(struct procview_server *srv, enum procview_file f, int fd)
{
	char *argv[] = {(char *)"strata", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct conn *c = &srv->conns[f];
	char dev[32];

	c->srv = srv;
	c->file = f;
	c->fd = fd;
	c->host_fd = -1;
	if (fd < 0)
		return 0;
	if (procview_file_is_dir(f)) {
		cleanup_free char *dir = xstrdup(srv->src->host_cpu_online);
		char *slash = strrchr(dir, '/');

		if (slash)
			*slash = '\0';
		c->host_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (c->host_fd < 0)
			return -1;
	}
	c->se = fl.session_new(&args, &ops, sizeof(ops), c);
	fl.opt_free_args(&args); /* what it parsed into args: the session keeps none of it */
	if (!c->se)
		return -1;
	/* "/dev/fd/N": libfuse serves an fd its caller mounted (or will mount) itself */
	snprintf(dev, sizeof(dev), "/dev/fd/%d", fd);
	if (fl.session_mount(c->se, dev) != 0)
		return -1;
	c->live = true;
	return 0;
}

int procview_server_start(struct procview_source *src, int fds[PROCVIEW_N_FILES],
			  struct procview_server **out, struct strata_error **err)
{
	struct procview_server *srv;
	sigset_t all, old;
	int r = 0;

	if (procview_fuse_load(err) < 0) {
		procview_devices_close(fds);
		procview_source_free(src);
		return -1;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->src = src;
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	srv->go_fd = eventfd(0, EFD_CLOEXEC);
	for (int f = 0; f < PROCVIEW_N_FILES; f++) {
		int fd = fds[f];

		fds[f] = -1;
		if (conn_init(srv, (enum procview_file)f, fd) < 0 && r == 0)
			r = -1;
	}
	if (r < 0 || srv->stop_fd < 0 || srv->go_fd < 0) {
		procview_server_free(srv);
		return strata_fail_msg(err, EIO, "start the /proc view's filesystem");
	}
	/* the caller's signals (SIGCHLD, the forwarded ones) are never this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_store(&srv->alive, true);
	r = pthread_create(&srv->thread, NULL, serve, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		atomic_store(&srv->alive, false);
		procview_server_free(srv);
		return strata_fail(err, r, "start the /proc view's thread");
	}
	srv->started = true;
	*out = srv;
	return 0;
}

void procview_server_mounted(struct procview_server *srv, unsigned mounted)
{
	uint64_t one = 1;

	if (!srv)
		return;
	atomic_store(&srv->mounted, mounted);
	if (write(srv->go_fd, &one, sizeof(one)) < 0)
		log_debug("procview: go: %s", strerror(errno));
}

bool procview_server_alive(const struct procview_server *srv)
{
	return srv && atomic_load(&srv->alive);
}

void procview_server_free(struct procview_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (srv->started) {
		if (write(srv->stop_fd, &one, sizeof(one)) < 0)
			log_debug("procview: stop: %s", strerror(errno));
		pthread_join(srv->thread, NULL);
	}
	for (int f = 0; f < PROCVIEW_N_FILES; f++) {
		struct conn *c = &srv->conns[f];

		if (c->se)
			fl.session_destroy(c->se); /* closes the device */
		else if (c->fd >= 0)
			close(c->fd);
		if (c->host_fd >= 0)
			close(c->host_fd);
		for (size_t i = 0; i < c->n_paths; i++)
			free(c->paths[i]);
		free(c->paths);
	}
	/* files still open when the connection ended get no release */
	while (srv->open)
		handle_free(srv, srv->open);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	if (srv->go_fd >= 0)
		close(srv->go_fd);
	procview_source_free(srv->src);
	free(srv);
}

/* ---- devices and mounts ---- */

int procview_devices_open(int fds[PROCVIEW_N_FILES], struct strata_error **err)
{
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		fds[f] = -1;
	for (int f = 0; f < PROCVIEW_N_FILES; f++) {
		fds[f] = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (fds[f] < 0) {
			int e = errno;

			procview_devices_close(fds);
			return strata_fail(err, e, "open /dev/fuse");
		}
	}
	return 0;
}

void procview_devices_close(int fds[PROCVIEW_N_FILES])
{
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		if (fds[f] >= 0) {
			close(fds[f]);
			fds[f] = -1;
		}
}

char *procview_mount_data(int fuse_fd, enum procview_file f)
{
	/* rootmode: the root's type, S_IFDIR or S_IFREG (octal) */
	return xasprintf("fd=%d,rootmode=%o,user_id=0,group_id=0,allow_other", fuse_fd,
			 procview_file_is_dir(f) ? S_IFDIR : S_IFREG);
}
