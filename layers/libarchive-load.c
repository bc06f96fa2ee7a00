/*
 * libarchive, loaded when a tar stream is first read or written. A binary
 * linked with -larchive maps libarchive and the 16 libraries it needs
 * (libxml2 for the xar format, and through it ICU and libstdc++; nettle,
 * acl, lzma, lz4, bzip2) at every start: 146 of the 390 page faults of a
 * bare start, about 5 ms, for every command, while only those that unpack,
 * pack, import, export, save or load use it (see BENCHMARKS.md).
 *
 * So strata is linked without libarchive, and the libarchive functions it
 * calls are defined here, each resolving the real one through util/dlib.c
 * on its first call, as registry/curl-load.c does for libcurl. The callers
 * keep libarchive's own header and types; the compiler checks every
 * definition below against its declaration there. When the library cannot
 * be loaded, the functions fail as libarchive reports failure (NULL,
 * ARCHIVE_FATAL) and archive_error_string() says why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <archive.h>
#include <archive_entry.h>

#include "layers/layers.h"

typedef struct archive A;
typedef struct archive_entry E;

/*
 * Every function strata calls: F(type, name, (parameters), (arguments),
 * value when the library cannot be loaded), V(...) for those that return
 * nothing. archive_set_error, the one with a variable argument list, is
 * written out below.
 */
#define FUNCS(F, V)                                                                                \
	F(A *, archive_read_new, (void), (), NULL)                                                 \
	F(int, archive_read_free, (A * a), (a), ARCHIVE_FATAL)                                     \
	F(int, archive_read_support_filter_all, (A * a), (a), ARCHIVE_FATAL)                       \
	F(int, archive_read_support_format_tar, (A * a), (a), ARCHIVE_FATAL)                       \
	F(int, archive_read_support_format_gnutar, (A * a), (a), ARCHIVE_FATAL)                    \
	F(int, archive_read_support_format_raw, (A * a), (a), ARCHIVE_FATAL)                       \
	F(int, archive_read_open,                                                                  \
	  (A * a, void *data, archive_open_callback *o, archive_read_callback *r,                  \
	   archive_close_callback *c),                                                             \
	  (a, data, o, r, c), ARCHIVE_FATAL)                                                       \
	F(int, archive_read_open_fd, (A * a, int fd, size_t block), (a, fd, block), ARCHIVE_FATAL) \
	F(int, archive_read_open_filename, (A * a, const char *path, size_t block),                \
	  (a, path, block), ARCHIVE_FATAL)                                                         \
	F(int, archive_read_next_header, (A * a, E * *e), (a, e), ARCHIVE_FATAL)                   \
	F(la_ssize_t, archive_read_data, (A * a, void *buf, size_t n), (a, buf, n), ARCHIVE_FATAL) \
	F(int, archive_read_data_block, (A * a, const void **buf, size_t *n, la_int64_t *off),     \
	  (a, buf, n, off), ARCHIVE_FATAL)                                                         \
	F(int, archive_read_data_skip, (A * a), (a), ARCHIVE_FATAL)                                \
	F(A *, archive_write_new, (void), (), NULL)                                                \
	F(int, archive_write_free, (A * a), (a), ARCHIVE_FATAL)                                    \
	F(int, archive_write_add_filter_none, (A * a), (a), ARCHIVE_FATAL)                         \
	F(int, archive_write_add_filter_gzip, (A * a), (a), ARCHIVE_FATAL) /* unit tests' layers */ \
	F(int, archive_write_set_format_pax, (A * a), (a), ARCHIVE_FATAL)                          \
	F(int, archive_write_set_format_pax_restricted, (A * a), (a), ARCHIVE_FATAL)               \
	F(int, archive_write_set_bytes_per_block, (A * a, int n), (a, n), ARCHIVE_FATAL)           \
	F(int, archive_write_set_bytes_in_last_block, (A * a, int n), (a, n), ARCHIVE_FATAL)       \
	F(int, archive_write_open,                                                                 \
	  (A * a, void *data, archive_open_callback *o, archive_write_callback *w,                 \
	   archive_close_callback *c),                                                             \
	  (a, data, o, w, c), ARCHIVE_FATAL)                                                       \
	F(int, archive_write_open_fd, (A * a, int fd), (a, fd), ARCHIVE_FATAL)                     \
	F(int, archive_write_open_filename, (A * a, const char *path), (a, path), ARCHIVE_FATAL)   \
	F(int, archive_write_header, (A * a, E * e), (a, e), ARCHIVE_FATAL)                        \
	F(la_ssize_t, archive_write_data, (A * a, const void *buf, size_t n), (a, buf, n),         \
	  ARCHIVE_FATAL)                                                                           \
	F(int, archive_write_close, (A * a), (a), ARCHIVE_FATAL)                                   \
	F(int, archive_errno, (A * a), (a), ENOSYS)                                                \
	F(int, archive_filter_count, (A * a), (a), 0)                                              \
	F(const char *, archive_filter_name, (A * a, int n), (a, n), NULL)                         \
	F(E *, archive_entry_new, (void), (), NULL)                                                \
	F(E *, archive_entry_clone, (E * e), (e), NULL)                                            \
	F(E *, archive_entry_clear, (E * e), (e), NULL)                                            \
	V(archive_entry_free, (E * e), (e))                                                        \
	F(const char *, archive_entry_pathname, (E * e), (e), NULL)                                \
	F(const char *, archive_entry_hardlink, (E * e), (e), NULL)                                \
	F(const char *, archive_entry_symlink, (E * e), (e), NULL)                                 \
	F(mode_t, archive_entry_filetype, (E * e), (e), 0)                                         \
	F(mode_t, archive_entry_mode, (E * e), (e), 0)                                             \
	F(mode_t, archive_entry_perm, (E * e), (e), 0)                                             \
	F(la_int64_t, archive_entry_uid, (E * e), (e), 0)                                          \
	F(la_int64_t, archive_entry_gid, (E * e), (e), 0)                                          \
	F(la_int64_t, archive_entry_size, (E * e), (e), 0)                                         \
	F(dev_t, archive_entry_rdev, (E * e), (e), 0)                                              \
	F(dev_t, archive_entry_rdevmajor, (E * e), (e), 0)                                         \
	F(dev_t, archive_entry_rdevminor, (E * e), (e), 0)                                         \
	F(time_t, archive_entry_atime, (E * e), (e), 0)                                            \
	F(long, archive_entry_atime_nsec, (E * e), (e), 0)                                         \
	F(int, archive_entry_atime_is_set, (E * e), (e), 0)                                        \
	F(time_t, archive_entry_mtime, (E * e), (e), 0)                                            \
	F(long, archive_entry_mtime_nsec, (E * e), (e), 0)                                         \
	V(archive_entry_set_pathname, (E * e, const char *s), (e, s))                              \
	V(archive_entry_set_hardlink, (E * e, const char *s), (e, s))                              \
	V(archive_entry_set_symlink, (E * e, const char *s), (e, s))                               \
	V(archive_entry_set_filetype, (E * e, unsigned int t), (e, t))                             \
	V(archive_entry_set_mode, (E * e, mode_t m), (e, m))                                       \
	V(archive_entry_set_perm, (E * e, mode_t m), (e, m))                                       \
	V(archive_entry_set_uid, (E * e, la_int64_t id), (e, id))                                  \
	V(archive_entry_set_gid, (E * e, la_int64_t id), (e, id))                                  \
	V(archive_entry_set_size, (E * e, la_int64_t n), (e, n))                                   \
	V(archive_entry_set_rdev, (E * e, dev_t d), (e, d))                                        \
	V(archive_entry_set_mtime, (E * e, time_t t, long ns), (e, t, ns))                         \
	V(archive_entry_xattr_add_entry, (E * e, const char *k, const void *v, size_t n),          \
	  (e, k, v, n))                                                                            \
	F(int, archive_entry_xattr_reset, (E * e), (e), 0)                                         \
	F(int, archive_entry_xattr_next, (E * e, const char **k, const void **v, size_t *n),       \
	  (e, k, v, n), ARCHIVE_WARN)

static struct {
#define FIELD(type, name, params, args, fail) __typeof__(&name) name;
#define VFIELD(name, params, args) __typeof__(&name) name;
	FUNCS(FIELD, VFIELD)
	__typeof__(&archive_set_error) archive_set_error;
	__typeof__(&archive_error_string) archive_error_string;
	__typeof__(&archive_version_details) archive_version_details;
#undef FIELD
#undef VFIELD
} la;

#define SYM(name) DLIB_SYM(__typeof__(la), name, #name)
#define FSYM(type, name, params, args, fail) SYM(name),
#define VSYM(name, params, args) SYM(name),
static const struct dlib_sym syms[] = {
	FUNCS(FSYM, VSYM)
	SYM(archive_set_error),
	SYM(archive_error_string),
	SYM(archive_version_details),
};
#undef FSYM
#undef VSYM
#undef SYM

/* The ABI's soname: libarchive has kept version 13 since 2013 (3.0). */
static const char *const sonames[] = {"libarchive.so.13", NULL};
static struct dlib libarchive = DLIB_INIT(sonames, syms, &la, NULL);

static bool ready(void)
{
	return dlib_ready(&libarchive);
}

int layers_libarchive_load(struct strata_error **err)
{
	return dlib_load(&libarchive, err);
}

/* ---- libarchive's entry points, as archive.h and archive_entry.h declare them ---- */

#define WRAP(type, name, params, args, fail)                                                       \
	type name params                                                                           \
	{                                                                                          \
		return ready() ? la.name args : (fail);                                            \
	}
#define VWRAP(name, params, args)                                                                  \
	void name params                                                                           \
	{                                                                                          \
		if (ready())                                                                       \
			la.name args;                                                              \
	}
FUNCS(WRAP, VWRAP)

/* Formatted here: libarchive takes no va_list. */
void archive_set_error(A *a, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ready())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	la.archive_set_error(a, err, "%s", msg);
}

/* Says why, when an archive could not even be made. */
const char *archive_error_string(A *a)
{
	return ready() ? la.archive_error_string(a) : dlib_error(&libarchive);
}

const char *archive_version_details(void)
{
	return ready() ? la.archive_version_details() : dlib_error(&libarchive);
}
