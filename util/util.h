/*
 * util: errors, logging, memory, strings, safe path resolution inside a root,
 * atomic file writes, SHA-256 digests, JSON helpers, time and size
 * formatting, and the thin sys_* syscall wrappers. Every other module uses it.
 */
#ifndef STRATA_UTIL_UTIL_H
#define STRATA_UTIL_UTIL_H

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/cleanup.h"
#include "util/banned.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FMT(a, b) __attribute__((format(printf, a, b)))

/* ---- errors (error.c) ---- */

struct strata_error;

/*
 * Sets *err to a new error with @code (an errno value, 0 for none) and the
 * formatted message, followed by ": strerror(code)" when code is non-zero.
 * Returns -1. A NULL @err only returns -1; an already set *err is kept.
 */
int strata_fail(struct strata_error **err, int code, const char *fmt, ...) FMT(3, 4);

/* As strata_fail, but without appending strerror(code) to the message. */
int strata_fail_msg(struct strata_error **err, int code, const char *fmt, ...) FMT(3, 4);

/* Prefixes the message of *err with the formatted context and ": ". Returns -1. */
int strata_wrap(struct strata_error **err, const char *fmt, ...) FMT(2, 3);

/* The errno-style cause of @e (0 when none was given). */
int strata_error_code(const struct strata_error *e);

/* The message of @e; borrowed, valid until the error is freed. */
const char *strata_error_msg(const struct strata_error *e);

/* Frees @e; NULL is fine. */
void strata_error_free(struct strata_error *e);

/* ---- logging (log.c) ---- */

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the threshold; messages above it are dropped. STRATA_DEBUG=1 sets debug at start. */
void log_set_level(enum log_level lvl);

/* The current threshold. */
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug". Returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes "strata: LEVEL: message" to stderr when @lvl passes the threshold. */
void log_msg(enum log_level lvl, const char *fmt, ...) FMT(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* ---- memory and strings (xalloc.c) ---- */

/*
 * Says that about @bytes will be allocated in small pieces before exit: the
 * heap grows once, in huge pages where the kernel gives them. Once a process.
 */
void xalloc_expect(size_t bytes);
/* Allocation that aborts with a message when memory runs out. */
void *xmalloc(size_t n);
/* As calloc, aborting when memory runs out. */
void *xcalloc(size_t nmemb, size_t size);
/* As realloc, aborting when memory runs out. */
void *xrealloc(void *p, size_t n);
/*
 * Makes room in array @p of *@cap elements of @size bytes for element @n
 * (n + 1 in all): when full the capacity doubles (at least 8), so n appends
 * copy O(n). Updates *@cap and returns the array; aborts on overflow or OOM.
 */
void *xgrow(void *p, size_t *cap, size_t n, size_t size);
/* As strdup; NULL stays NULL. */
char *xstrdup(const char *s);
/* As strndup, aborting when memory runs out. */
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string, aborting when memory runs out. */
char *xasprintf(const char *fmt, ...) FMT(1, 2);
/* As xasprintf, with a va_list. */
char *xvasprintf(const char *fmt, va_list ap) FMT(1, 0);

/* Number of strings in the NULL-terminated array @v (0 for NULL). */
size_t strv_len(char *const *v);
/* Appends a copy of @s to the NULL-terminated array *v (which may be NULL). */
void strv_append(char ***v, const char *s);
/* Deep copy of a NULL-terminated array (NULL gives NULL). */
char **strv_dup(char *const *v);
/* True when @s is in @v. */
bool strv_contains(char *const *v, const char *s);

/*
 * A hash map from strings (copied in) to borrowed pointers, O(1) per lookup
 * and insert on average; also a set of strings (strmap_add/strmap_has).
 * Zero-initialised (STRMAP_INIT) or strmap_init() is an empty map.
 */
struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t len; /* keys held */
	bool borrow_keys; /* keys are the caller's, not copied (strmap_init_sized) */
};
#define STRMAP_INIT { NULL, 0, 0, false }

/* Makes @m an empty map. */
void strmap_init(struct strmap *m);
/*
 * Makes @m an empty map with room for @n keys before it grows; with
 * @borrow_keys, keys are not copied and must outlive @m (a map of strings
 * inside one buffer then costs no allocation per key).
 */
void strmap_init_sized(struct strmap *m, size_t n, bool borrow_keys);
/* Frees the keys and slots of @m (and each value with @free_value when not NULL); @m is empty after. */
void strmap_release(struct strmap *m, void (*free_value)(void *value));
/* Maps @key to @value; true when @key is new, else false with the previous value in *old (may be NULL). */
bool strmap_put(struct strmap *m, const char *key, void *value, void **old);
/* Adds @key to the set (value NULL); true when it was not there yet. */
bool strmap_add(struct strmap *m, const char *key);
/* True when @key is in @m. */
bool strmap_has(const struct strmap *m, const char *key);
/* The value of @key, or NULL when absent. */
void *strmap_get(const struct strmap *m, const char *key);

/* True when @s starts with @prefix. */
bool str_has_prefix(const char *s, const char *prefix);
/* True when @s ends with @suffix. */
bool str_has_suffix(const char *s, const char *suffix);

/* A growable byte buffer, always NUL-terminated. */
struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
};
#define SBUF_INIT { NULL, 0, 0 }

/* Appends @n bytes of @data. */
void sbuf_add(struct sbuf *b, const void *data, size_t n);
/* Appends a string. */
void sbuf_addstr(struct sbuf *b, const char *s);
/* Appends a formatted string. */
void sbuf_addf(struct sbuf *b, const char *fmt, ...) FMT(2, 3);
/* Frees the contents and resets @b to empty. */
void sbuf_release(struct sbuf *b);
/* Returns the contents (caller frees; never NULL) and resets @b. */
char *sbuf_detach(struct sbuf *b, size_t *len);

/* ---- paths (path.c) ---- */

/*
 * Opens @path inside the directory tree @rootfd as if @rootfd were "/":
 * symlinks and ".." never leave it, magic links are refused (openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS; a component-by-component O_NOFOLLOW
 * walk where openat2 is missing). @flags and @mode as for openat(2); O_CLOEXEC
 * is always added. Returns the fd or -1.
 */
int path_open_in(int rootfd, const char *path, int flags, mode_t mode, struct strata_error **err);

/* How many resolutions path_open_in did without openat2 (the component walk), for tests. */
unsigned long path_walk_count(void);

/*
 * Opens the directory that would hold @path inside @rootfd, creating missing
 * directories (mode 0755) when @create. Never follows a symlink out of the
 * root. Sets *base to the last component (borrowed from a copy the caller
 * frees through *base_owner). Returns a directory fd or -1.
 */
int path_open_parent_in(int rootfd, const char *path, bool create, char **base_owner,
			const char **base, struct strata_error **err);

/* Creates @path and its parents inside @rootfd (mode @mode); returns an O_DIRECTORY fd or -1. */
int path_mkdirs_in(int rootfd, const char *path, mode_t mode, struct strata_error **err);

/*
 * As path_mkdirs_in, but a dangling symlink on the way has its target
 * created (resolved inside @rootfd), as docker and buildah do, and every
 * directory created gets the owner @uid:@gid ((uid_t)-1 keeps root's).
 */
int path_mkdirs_owned_in(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid,
			 struct strata_error **err);

/*
 * Lexically cleans @p: drops empty and "." components, resolves ".." without
 * ever going above the top, and drops leading '/'. "" stands for the top.
 * Returns a new string.
 */
char *path_clean(const char *p);

/* Joins two path parts with exactly one '/'. Returns a new string. */
char *path_join(const char *a, const char *b);

/* Removes @name under @dirfd recursively without following symlinks; missing is fine. */
int path_rm_rf_at(int dirfd, const char *name, struct strata_error **err);

/* Creates the host directory @path and its parents with @mode. */
int path_mkdir_p(const char *path, mode_t mode, struct strata_error **err);

/* ---- files (file.c) ---- */

/* Writes all @len bytes to @fd, retrying on EINTR and short writes. */
int file_write_all(int fd, const void *buf, size_t len, struct strata_error **err);

/* Reads up to @len bytes, looping over short reads; returns bytes read (< len at EOF) or -1. */
ssize_t file_read_full(int fd, void *buf, size_t len);

/*
 * Replaces @name in @dirfd with @len bytes of @buf, atomically: a temporary
 * file in the same directory, fsync, rename, fsync of the directory.
 */
int file_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			 struct strata_error **err);

/*
 * As file_write_atomic_at (readers see the old or the new content), without
 * the fsyncs: for files whose loss in a crash is acceptable.
 */
int file_write_replace_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			  struct strata_error **err);

/* True for a temporary name of the writes above (".tmp-PID-...") whose process is gone. */
bool file_tmp_is_stale(const char *name);

/* Removes the stale temporary files (file_tmp_is_stale) in @dirfd; returns how many, or -1. */
int file_tmp_sweep_at(int dirfd, struct strata_error **err);

/*
 * Reads the whole file @name in @dirfd (at most @max bytes, else EFBIG) into a
 * new NUL-terminated buffer *out of *len bytes (len may be NULL).
 */
int file_read_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
		 struct strata_error **err);

/*
 * As file_read_at, for records and configuration files: anything but a
 * regular file (a FIFO that would block, a device without end) is EINVAL.
 */
int file_read_regular_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
			 struct strata_error **err);

/* As file_read_at on an open descriptor, from its current offset. */
int file_read_fd(int fd, size_t max, char **out, size_t *len, struct strata_error **err);

/*
 * A directory stream of @name under @dirfd ("." for @dirfd itself; a link
 * is not followed) on a new fd, so that its offset is its own; NULL with
 * errno on failure.
 */
DIR *file_opendir_at(int dirfd, const char *name);

/* Copies everything from @in to @out (copy_file_range, then read/write). */
int file_copy_fd(int in, int out, struct strata_error **err);

/* fsyncs the directory @dirfd. */
int file_fsync_dir(int dirfd, struct strata_error **err);

/* ---- digests and base64 (digest.c): libcrypto, loaded on first use ---- */

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN 72 /* "sha256:" + 64 hex + NUL */

/* A streaming SHA-256 (libcrypto EVP). */
struct digester;

/* A new SHA-256 state. */
struct digester *digester_new(void);
/* Feeds @n bytes. */
void digester_update(struct digester *d, const void *buf, size_t n);
/* Writes "sha256:<hex>" to @out; the digester may not be fed again. */
void digester_final(struct digester *d, char out[DIGEST_STR_LEN]);
/* Frees @d; NULL is fine. */
void digester_free(struct digester *d);

/* "sha256:<hex>" of a buffer. */
void digest_buf(const void *buf, size_t n, char out[DIGEST_STR_LEN]);

/* Digest and size of everything readable from @fd. */
int digest_fd(int fd, char out[DIGEST_STR_LEN], uint64_t *size, struct strata_error **err);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_is_valid(const char *d);

/* The hex part of a valid digest (borrowed from @d). */
const char *digest_hex(const char *d);

/* True when @s is 1 to 64 lowercase hex digits. */
bool digest_is_hex_prefix(const char *s);

/* Base64 of @n bytes (padded). Caller frees. */
char *base64_encode(const void *buf, size_t n);

/* Decodes base64 @s into a NUL-terminated string; NULL when malformed. Caller frees. */
char *base64_decode(const char *s);

/* libcrypto's version ("OpenSSL 3.0.x ..."), or why it cannot be loaded. */
const char *digest_library_version(void);

/* Writes @nhex random lowercase hex digits and a NUL to @out. */
void random_hex(char *out, size_t nhex);

/* ---- id maps of user namespaces (idmap.c) ---- */

/* @count ids from @inside (in a namespace) are @outside in its parent. */
struct idrange {
	unsigned inside, outside, count;
};

/* A namespace's uid and gid maps. */
struct idmap {
	struct idrange *uid, *gid;
	size_t n_uid, n_gid;
};

/* Id @id of the namespace as its parent sees it; false when the map does not hold it. */
bool idmap_to_outside(const struct idrange *r, size_t n, unsigned id, unsigned *out);

/* Id @id of the parent as the namespace sees it; false when the map does not hold it. */
bool idmap_to_inside(const struct idrange *r, size_t n, unsigned id, unsigned *out);

/* "IN:OUT:COUNT,..." as podman prints a map; "" for none. Caller frees. */
char *idmap_ranges_text(const struct idrange *r, size_t n);

/*
 * Appends the ranges of @text ("IN:OUT:COUNT", comma-separated) to *r;
 * EINVAL saying which one is malformed, empty or overlaps another.
 */
int idmap_ranges_add(const char *text, struct idrange **r, size_t *n, struct strata_error **err);

/* Frees what @m holds and zeroes it. */
void idmap_release(struct idmap *m);

/* True when @m (may be NULL) maps both uids and gids. */
bool idmap_is_set(const struct idmap *m);

/* The hex SHA-256 of @m's text: the name of what is made for it (its layer copies). */
void idmap_key(const struct idmap *m, char out[DIGEST_HEX_LEN + 1]);

/* ---- a ring of buffers emptied in order by a thread of its own (bufring.c) ---- */

/*
 * Takes @len bytes at @buf, the stream's bytes from @off, on the ring's
 * thread; returns 0 or an errno (the ring then hands nothing more on).
 * @buf has room for padding up to the ring's alignment past @len.
 */
typedef int (*bufring_fn)(void *arg, unsigned char *buf, size_t len, uint64_t off);

struct bufring;

/*
 * @nbuf buffers of @size bytes, aligned to @align (0: any), handed to @fn
 * as each fills; NULL when no thread can be made.
 */
struct bufring *bufring_new(unsigned nbuf, size_t size, size_t align, bufring_fn fn, void *arg);

/* Copies @n bytes in, waiting while every buffer is queued; 0 or @fn's first errno. */
int bufring_write(struct bufring *r, const void *buf, size_t n);

/* Hands on the last, partial buffer, waits for the thread and frees @r; 0 or @fn's first errno. */
int bufring_finish(struct bufring *r);

/* Stops the thread, dropping what is queued, and frees @r (NULL is fine). */
void bufring_free(struct bufring *r);

/* ---- read-ahead of a tree being walked in sorted depth-first order (readahead.c) ---- */

struct read_ahead;

/*
 * Read-ahead of the tree under @dirfd for a walk: a thread, started once the
 * walk meets the disk; NULL on one CPU. @dirfd must stay open until
 * read_ahead_stop. Call the functions below from the walking thread.
 */
struct read_ahead *read_ahead_start(int dirfd);

/* The walk has done one more entry (NULL @ra is fine); may start the thread. */
void read_ahead_entry_done(struct read_ahead *ra);

/* True once the thread has been started. */
bool read_ahead_running(const struct read_ahead *ra);

/* read(2) of a file of the walk, telling @ra when its data was not cached (NULL is fine). */
ssize_t read_ahead_read(struct read_ahead *ra, int fd, void *buf, size_t n);

/* True while @ra reads file data ahead because the walk met uncached data. */
bool read_ahead_cold(struct read_ahead *ra);

/* Stops the thread, waits for it, and frees @ra (NULL is fine). */
void read_ahead_stop(struct read_ahead *ra);

/* ---- batches of file system calls through io_uring (uring.c) ---- */

struct uring;

enum uring_flags {
	URING_ASYNC = 1 << 0, /* every operation to the kernel's workers (IOSQE_ASYNC) */
};

/*
 * A ring of @entries submission slots (@flags: enum uring_flags); NULL
 * (errno set) where the kernel has no io_uring or refuses it (or
 * STRATA_NO_IO_URING is set).
 */
struct uring *uring_new(unsigned entries, unsigned flags);

/* Frees @u (NULL is fine); call only with nothing in flight. */
void uring_free(struct uring *u);

/* How many more operations may be queued before uring_run. */
unsigned uring_room(const struct uring *u);

/* Queues openat(@dirfd, @name, @flags); its result (fd or -errno) goes to res[@slot]. */
void uring_openat(struct uring *u, int dirfd, const char *name, int flags, uint64_t slot);

/* Queues pread(@fd, @buf, @len, @off); its result (bytes or -errno) goes to res[@slot]. */
void uring_read(struct uring *u, int fd, void *buf, unsigned len, uint64_t off, uint64_t slot);

/* Queues pread(@fd, @buf, @len, 0) to res[@read_slot], then close(@fd) whatever it gave. */
void uring_read_close(struct uring *u, int fd, void *buf, unsigned len, uint64_t read_slot,
		      uint64_t close_slot);

/*
 * Submits what was queued and waits until all of it is done, each result
 * in res[slot] (slots past @nres are dropped); -1 when io_uring_enter fails.
 */
int uring_run(struct uring *u, int32_t *res, size_t nres);

/* ---- JSON helpers (json.c); jansson underneath ---- */

/* Parses @len bytes; errors name @what and jansson's line and column. */
json_t *jv_loadb(const char *buf, size_t len, const char *what, struct strata_error **err);

/* Reads and parses the file @name in @dirfd (a regular file, at most @max bytes). */
json_t *jv_load_at(int dirfd, const char *name, size_t max, struct strata_error **err);

/* Compact serialisation in insertion order; deterministic for equal input. Caller frees. */
char *jv_dump(const json_t *j, size_t *len);

/* Indented serialisation for people (4 spaces, as podman inspect). Caller frees. */
char *jv_dump_pretty(const json_t *j);

/* Writes @j compactly to @name in @dirfd atomically. */
int jv_write_at(int dirfd, const char *name, const json_t *j, struct strata_error **err);

/* The string member @key of @obj, or NULL when missing or not a string. */
const char *jv_str(const json_t *obj, const char *key);

/* The integer member @key of @obj, or @def when missing or not an integer. */
json_int_t jv_int(const json_t *obj, const char *key, json_int_t def);

/* A JSON string of @s; bytes that are not UTF-8 become '?' (never NULL). */
json_t *jv_string(const char *s);

/* Sets @key to a copy of string @val (NULL sets null). */
void jv_set_str(json_t *obj, const char *key, const char *val);

/* An array of the strings in @v. */
json_t *jv_strv(char *const *v);

/* A NULL-terminated copy of the string array @a (non-strings skipped); NULL when not an array. */
char **jv_to_strv(const json_t *a);

static inline void jv_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(jv_decrefp)))

/* ---- a JSON scanner that builds no tree (jscan.c) ---- */

/* A position in a JSON document held in a writable buffer. */
struct jscan {
	char *p, *end;
	int depth;
	bool failed; /* set by the first syntax error; every call then fails */
};

/* Starts scanning the @len bytes at @buf (strings are decoded in place there). */
void jscan_init(struct jscan *j, char *buf, size_t len);

/* Consumes @c if it is the next character after whitespace. */
bool jscan_eat(struct jscan *j, char c);

/* The next character after whitespace, not consumed; '\0' at the end or after an error. */
char jscan_peek(struct jscan *j);

/* Enters the object or array @open ('{' or '['); false when the next value is not one. */
bool jscan_enter(struct jscan *j, char open);

/*
 * Steps to the next member of an entered object: true with *@key set, false
 * at its end (or on an error: see failed). *@first is true before the first.
 */
bool jscan_object_next(struct jscan *j, bool *first, char **key);

/* Steps to the next element of an entered array, as jscan_object_next. */
bool jscan_array_next(struct jscan *j, bool *first);

/* A string value, decoded in place and NUL-terminated inside the buffer; NULL on error. */
char *jscan_string(struct jscan *j);

/* A number; *@is_int false (and *@ival 0) for one with a fraction or exponent. */
bool jscan_number(struct jscan *j, int64_t *ival, bool *is_int);

/* Skips one value of any kind, checking its syntax. */
bool jscan_skip(struct jscan *j);

/* True when only whitespace is left and no error was met. */
bool jscan_at_end(struct jscan *j);

/* ---- time and sizes (fmt.c) ---- */

/* Current wall clock in nanoseconds. */
int64_t time_now_ns(void);
/* RFC 3339 UTC time with nanoseconds when non-zero: "2026-11-22T10:11:12.5Z". Caller frees. */
char *time_rfc3339(int64_t sec, long nsec);
/* Parses RFC 3339 (any offset); returns -1 on a bad string. */
int time_parse_rfc3339(const char *s, int64_t *sec, long *nsec);
/* "3 minutes ago" style, as docker prints. Caller frees. */
char *time_ago(int64_t sec);
/*
 * @n bytes in decimal units with @digits significant digits: SIZE_LIST as
 * Docker's and podman's listings ("1.23MB"), SIZE_DF as podman's system df
 * and prune ("1.235MB"). Caller frees.
 */
char *size_human(uint64_t n, int digits);
#define SIZE_LIST 3
#define SIZE_DF 4
/* Parses "123", "64k", "64m", "1g", "1.5GB" (binary multiples) into bytes. */
int size_parse(const char *s, uint64_t *out);
/* SOURCE_DATE_EPOCH when set and valid, else -1. */
int64_t time_source_date_epoch(void);

/* ---- libraries loaded with dlopen on first use (dlib.c) ---- */

/* A function the library must export, and the offset in the table where its address goes. */
struct dlib_sym {
	const char *name;
	size_t offset;
};
/* The entry of struct member @field of the table @type for the function @name. */
#define DLIB_SYM(type, field, name) {(name), offsetof(type, field)}

/*
 * A library loaded on first use and never closed, one static object per
 * library, made with DLIB_INIT; its fields are dlib.c's.
 */
struct dlib {
	const char *const *sonames;   /* tried in order, NULL-terminated */
	const struct dlib_sym *syms;  /* every one must resolve */
	size_t n_syms;
	void *table;		      /* receives each symbol's address at its offset */
	const char *(*init)(void);    /* run once after the symbols: NULL, or what failed */
	pthread_mutex_t lock;
	bool done, loaded;
	const char *soname;	      /* the one loaded */
	char error[256];
};
#define DLIB_INIT(sonames_, syms_, table_, init_)                                                  \
	{                                                                                          \
		.sonames = (sonames_), .syms = (syms_), .n_syms = ARRAY_SIZE(syms_),               \
		.table = (table_), .init = (init_), .lock = PTHREAD_MUTEX_INITIALIZER,             \
	}

/*
 * Loads @lib the first time (thread-safe): the first of its sonames that
 * dlopen finds, every symbol, then its init. True when it is usable; a
 * failure is kept, never retried.
 */
bool dlib_ready(struct dlib *lib);
/* dlib_ready, with its failure as an error (ENOSYS): "cannot load SONAME: why". */
int dlib_load(struct dlib *lib, struct strata_error **err);
/* Why @lib cannot be used ("" when it can); a string @lib owns. */
const char *dlib_error(struct dlib *lib);

/* ---- syscalls (sys.c): thin wrappers that log call and result under STRATA_DEBUG=1 ---- */

struct open_how;

/* mount(2). */
int sys_mount(const char *src, const char *target, const char *fstype, unsigned long flags,
	      const void *data);
/* umount2(2). */
int sys_umount2(const char *target, int flags);
/* openat2(2); ENOSYS where the kernel lacks it. */
int sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size);
/* fsopen(2). */
int sys_fsopen(const char *fsname, unsigned int flags);
/* fsconfig(2); @value is logged unless the key is "source" of a secret (never). */
int sys_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
/* fsmount(2). */
int sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
/* move_mount(2). */
int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned int flags);
/* open_tree(2). */
int sys_open_tree(int dfd, const char *path, unsigned int flags);
/* pivot_root(2). */
int sys_pivot_root(const char *new_root, const char *put_old);
/* unshare(2). */
int sys_unshare(int flags);
/*
 * clone(2) as fork with the namespace @flags (SIGCHLD implied). With
 * @cgroup_fd >= 0, clone3(2) with CLONE_INTO_CGROUP starts the child in
 * that cgroup v2 directory (Linux 5.7; fails with ENOSYS, E2BIG or EINVAL
 * where the kernel lacks it). Returns the child's pid, 0 in the child.
 */
pid_t sys_clone(unsigned long flags, int cgroup_fd);
/* setns(2). */
int sys_setns(int fd, int nstype);
/* fsetxattr(2). */
int sys_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
/* lsetxattr(2) on a path (used through /proc/self/fd/N for O_PATH fds). */
int sys_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
/* lgetxattr(2). */
ssize_t sys_lgetxattr(const char *path, const char *name, void *value, size_t size);
/* llistxattr(2). */
ssize_t sys_llistxattr(const char *path, char *list, size_t size);
/* flistxattr(2). */
ssize_t sys_flistxattr(int fd, char *list, size_t size);
/* fgetxattr(2). */
ssize_t sys_fgetxattr(int fd, const char *name, void *value, size_t size);

/* CPUs this process may run on (its affinity mask), at least 1. */
int sys_ncpus(void);
/* True in the initial user namespace (its uid_map maps every uid to itself). */
bool sys_userns_is_initial(void);
/*
 * True for uid 0 of the initial user namespace: real root, which may mknod,
 * chown to any uid, write trusted.* xattrs and the cgroup tree. False for
 * other users and for root inside a user namespace (rootless).
 */
bool sys_is_host_root(void);
/*
 * True for uid 0 of a namespace that maps other ids too (the host's, or a
 * rootless one with subordinate ids): files may be given other owners.
 */
bool sys_may_chown(void);
/*
 * This boot's ID (/proc/sys/kernel/random/boot_id, without its newline), or
 * "" when unknown. A static string, read once.
 */
const char *sys_boot_id(void);
/* True when process @pid exists. */
bool sys_pid_alive(pid_t pid);
/* The start time of @pid (clock ticks after boot, /proc/PID/stat); 0 when it is gone. */
uint64_t sys_pid_start_time(pid_t pid);
/*
 * True when @pid lives (a zombie does not) and, when @start is not 0, is the
 * process that started then, not another one given the same pid since.
 */
bool sys_pid_alive_since(pid_t pid, uint64_t start);

#endif
