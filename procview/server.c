/*
 * The view's FUSE filesystem (libfuse3's low-level API): a root directory
 * holding one read-only file per view file. A file is rendered when it is
 * read at offset 0, and later offsets are served from that rendering, so a
 * reader sees one consistent snapshot per pass and a tool that rereads an
 * open file from the start (top, on /proc/stat) gets fresh values. Direct
 * I/O: the kernel caches nothing, and the size (0, as procfs says) does not
 * cut reads short.
 *
 * One thread serves: it polls the device and an eventfd that
 * procview_server_free writes. The kernel ends the connection (reads
 * return ENODEV) once the last mount of it is gone, which is when the
 * container's mount namespace dies; after the device is closed, reads in a
 * mount that outlives the server fail with ENOTCONN instead of waiting.
 */
#define FUSE_USE_VERSION 34
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
#include <unistd.h>

#include "procview/procview-int.h"

/* The entries never change: the kernel may keep them for as long as it likes. */
#define TIMEOUT 86400.0

struct procview_server {
	struct procview_source *src;
	struct fuse_session *se;
	pthread_t thread;
	int stop_fd;
	int go_fd; /* -1, or written once the device is mounted (procview_server_mounted) */
	atomic_bool alive;
	bool started;
	struct handle *open; /* the open files, freed with the server if never released */
};

/* One open file: its last rendering. */
struct handle {
	enum procview_file file;
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

/* The view file of inode @ino, or -1 (the root, or none). */
static int ino_file(fuse_ino_t ino)
{
	return ino >= 2 && ino < 2 + PROCVIEW_N_FILES ? (int)(ino - 2) : -1;
}

/* Attributes: the size is 0, as procfs says (see op_open for what sendfile needs). */
static void file_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (int f = 0; f < PROCVIEW_N_FILES; f++)
		if (!strcmp(name, procview_file_name((enum procview_file)f))) {
			e.ino = 2 + (fuse_ino_t)f;
			e.attr_timeout = e.entry_timeout = TIMEOUT;
			file_attr(e.ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino_file(ino) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_attr(ino, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

/* Renders the handle's file afresh. */
static int handle_render(struct procview_server *srv, struct handle *h)
{
	struct strata_error *e = NULL;

	sbuf_release(&h->text);
	h->rendered = h->served = false;
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
	int f = ino_file(ino);
	struct handle *h;

	if (f < 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->file = (enum procview_file)f;
	if (handle_render(fuse_req_userdata(req), h) < 0) {
		free(h);
		fuse_reply_err(req, EIO);
		return;
	}
	if (h->text.len) {
		struct fuse_bufvec last = FUSE_BUFVEC_INIT(1);

		last.buf[0].mem = h->text.buf + h->text.len - 1;
		fuse_lowlevel_notify_store(((struct procview_server *)fuse_req_userdata(req))->se,
					   ino, (off_t)h->text.len - 1, &last, 0);
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	handle_link(fuse_req_userdata(req), h);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fuse_req_userdata(req), h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct procview_server *srv = fuse_req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	/* read again from the start (top rereads /proc/stat so): a new rendering */
	if (((off == 0 && h->served) || !h->rendered) && handle_render(srv, h) < 0) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (off < 0 || (size_t)off >= h->text.len) {
		h->served = true;
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > h->text.len - (size_t)off)
		size = h->text.len - (size_t)off;
	h->served = true;
	fuse_reply_buf(req, h->text.buf + off, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (h)
		handle_free(fuse_req_userdata(req), h);
	fuse_reply_err(req, 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char buf[4096];
	size_t len = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < PROCVIEW_N_FILES; i++) {
		struct stat st;
		size_t n;

		file_attr(2 + (fuse_ino_t)i, &st);
		n = fuse_add_direntry(req, buf + len, sizeof(buf) - len,
				      procview_file_name((enum procview_file)i), &st, i + 1);
		if (len + n > size || len + n > sizeof(buf))
			break;
		len += n;
	}
	fuse_reply_buf(req, buf, len);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .readdir = op_readdir,
};

/* Replaces the device @fd with /dev/null, which ends the connection when it held the last
 * reference. */
static void abort_connection(int fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0 || dup3(null, fd, O_CLOEXEC) < 0)
		log_debug("procview: close the device: %s", strerror(errno));
	if (null >= 0)
		close(null);
}

/* Serves until stopped, or until the kernel ends the connection. */
static void *serve(void *arg)
{
	struct procview_server *srv = arg;
	struct fuse_buf buf;
	struct pollfd pf[2] = {{.fd = fuse_session_fd(srv->se), .events = POLLIN},
			       {.fd = srv->stop_fd, .events = POLLIN}};

	memset(&buf, 0, sizeof(buf));
	/* a device not mounted yet polls as an error: wait for the word that it is */
	if (srv->go_fd >= 0) {
		struct pollfd w[2] = { { .fd = srv->go_fd, .events = POLLIN },
				       { .fd = srv->stop_fd, .events = POLLIN } };

		while (poll(w, 2, -1) < 0 && errno == EINTR)
			;
		if (w[1].revents || !w[0].revents)
			fuse_session_exit(srv->se);
	}
	while (!fuse_session_exited(srv->se)) {
		int r;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		r = fuse_session_receive_buf(srv->se, &buf);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0)
			break;
		fuse_session_process_buf(srv->se, &buf);
	}
	free(buf.mem);
	/*
	 * Whatever ended the loop, no request may wait for an answer that
	 * will not come: a request the kernel has handed over waits even
	 * SIGKILL out, and a container process stuck so would hold the
	 * container's exit. Closing the device (its number stays valid for
	 * fuse_session_destroy) aborts the connection: reads fail at once.
	 */
	abort_connection(pf[0].fd);
	atomic_store(&srv->alive, false);
	return NULL;
}

static int server_start(struct procview_source *src, int fuse_fd, bool before_mount,
			struct procview_server **out, struct strata_error **err);

int procview_server_start(struct procview_source *src, int fuse_fd, struct procview_server **out,
			  struct strata_error **err)
{
	return server_start(src, fuse_fd, false, out, err);
}

int procview_server_start_unmounted(struct procview_source *src, int fuse_fd,
				    struct procview_server **out, struct strata_error **err)
{
	return server_start(src, fuse_fd, true, out, err);
}

void procview_server_mounted(struct procview_server *srv)
{
	uint64_t one = 1;

	if (srv && srv->go_fd >= 0 && write(srv->go_fd, &one, sizeof(one)) < 0)
		log_debug("procview: go: %s", strerror(errno));
}

static int server_start(struct procview_source *src, int fuse_fd, bool before_mount,
			struct procview_server **out, struct strata_error **err)
{
	char *argv[] = {(char *)"strata", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct procview_server *srv = xcalloc(1, sizeof(*srv));
	char dev[32];
	sigset_t all, old;
	int r;

	srv->src = src;
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	srv->go_fd = before_mount ? eventfd(0, EFD_CLOEXEC) : -1;
	srv->se = fuse_session_new(&args, &ops, sizeof(ops), srv);
	fuse_opt_free_args(&args); /* what it parsed into args: the session keeps none of it */
	if (srv->stop_fd < 0 || !srv->se || (before_mount && srv->go_fd < 0)) {
		close(fuse_fd);
		procview_server_free(srv);
		return strata_fail_msg(err, EIO, "start the /proc view's filesystem");
	}
	/* "/dev/fd/N": libfuse serves an fd its caller mounted (or will mount) itself */
	snprintf(dev, sizeof(dev), "/dev/fd/%d", fuse_fd);
	if (fuse_session_mount(srv->se, dev) != 0) {
		close(fuse_fd);
		procview_server_free(srv);
		return strata_fail_msg(err, EIO, "serve the /proc view on its device");
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
	if (srv->se)
		fuse_session_destroy(srv->se);
	/* files still open when the connection ended get no release */
	while (srv->open)
		handle_free(srv, srv->open);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	if (srv->go_fd > 0)
		close(srv->go_fd);
	procview_source_free(srv->src);
	free(srv);
}

char *procview_mount_data(int fuse_fd)
{
	return xasprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fuse_fd);
}
