/*
 * layers: unpack (types, metadata, whiteouts, path safety, limits), pack
 * (round trip, determinism, whiteout conversion), apply, layer dirs.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "layers/layers.h"
#include "tests/unit/unit.h"

static char *scratch;
static struct store *st;

static void setup(void)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *root = NULL;

	scratch = unit_scratch();
	root = xasprintf("%s/root", scratch);
	ck_assert_ok(store_open(root, &st, &err), err);
}

static void teardown(void)
{
	store_free(st);
	st = NULL;
	unit_scratch_cleanup(scratch);
	scratch = NULL;
}

/* ---- making tars ---- */

struct tentry {
	const char *name;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; 0 with link: hardlink */
	const char *data_or_target;
	const char *hardlink;
};

/* Writes a tar (gzip when @gz) of @n entries to scratch/@file; returns its path. */
static char *make_tar(const char *file, const struct tentry *t, size_t n, bool gz)
{
	char *path = xasprintf("%s/%s", scratch, file);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, t[i].name);
		archive_entry_set_mtime(e, 1000, 0);
		if (t[i].hardlink) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, t[i].hardlink);
			archive_entry_set_size(e, 0);
			ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
			continue;
		}
		archive_entry_set_filetype(e, t[i].type);
		archive_entry_set_perm(e, t[i].type == AE_IFDIR ? 0755 : 0644);
		if (t[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, t[i].data_or_target);
		if (t[i].type == AE_IFREG)
			archive_entry_set_size(e, t[i].data_or_target ? strlen(t[i].data_or_target) : 0);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (t[i].type == AE_IFREG && t[i].data_or_target)
			archive_write_data(a, t[i].data_or_target, strlen(t[i].data_or_target));
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return path;
}

static int open_dir(const char *rel)
{
	cleanup_free char *p = xasprintf("%s/%s", scratch, rel);
	int fd;

	mkdir(p, 0755);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int unpack_file(const char *tar, int dfd, enum layers_whiteout wh, uint64_t max,
		       struct strata_error **err)
{
	struct layers_unpack_opts o = { .max_bytes = max };
	struct layers_unpack_stats s;
	int fd = open(tar, O_RDONLY | O_CLOEXEC);
	int r;

	ck_assert_int_ge(fd, 0);
	r = layers_unpack(fd, dfd, wh, &o, &s, err);
	close(fd);
	return r;
}

static bool exists_at(int dfd, const char *p)
{
	struct stat sb;

	return fstatat(dfd, p, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static char *read_at(int dfd, const char *p)
{
	char *buf = NULL;
	size_t len;
	struct strata_error *err = NULL;

	if (file_read_at(dfd, p, 1 << 20, &buf, &len, &err) < 0) {
		strata_error_free(err);
		return NULL;
	}
	return buf;
}

/* ---- unpack ---- */

START_TEST(test_unpack_basic_and_diff_id)
{
	const struct tentry t[] = {
		{ "./", AE_IFDIR, NULL, NULL },
		{ "etc/", AE_IFDIR, NULL, NULL },
		{ "etc/hosts", AE_IFREG, "127.0.0.1 localhost\n", NULL },
		{ "etc/link", AE_IFLNK, "/etc/hosts", NULL },
		{ "etc/hard", 0, NULL, "etc/hosts" },
		{ "deep/a/b/c", AE_IFREG, "x", NULL }, /* parents missing from the tar */
	};
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_tar("a.tar.gz", t, ARRAY_SIZE(t), true);
	cleanup_free char *plain = make_tar("a.tar", t, ARRAY_SIZE(t), false);
	cleanup_free char *hosts = NULL;
	cleanup_close int d = open_dir("d");
	struct layers_unpack_stats s;
	char want[DIGEST_STR_LEN];
	struct stat a, b;
	uint64_t size;
	int fd;

	fd = open(tar, O_RDONLY);
	ck_assert_ok(layers_unpack(fd, d, LAYERS_WHITEOUT_VFS, NULL, &s, &err), err);
	close(fd);
	/* The diffID is the digest of the uncompressed tar. */
	fd = open(plain, O_RDONLY);
	ck_assert_ok(digest_fd(fd, want, &size, &err), err);
	close(fd);
	ck_assert_str_eq(s.diff_id, want);
	ck_assert_int_eq(s.bytes, size);
	ck_assert_int_eq(s.entries, ARRAY_SIZE(t));
	hosts = read_at(d, "etc/hosts");
	ck_assert_str_eq(hosts, "127.0.0.1 localhost\n");
	ck_assert_int_eq(fstatat(d, "etc/hosts", &a, 0), 0);
	ck_assert_int_eq(fstatat(d, "etc/hard", &b, 0), 0);
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1000);
	ck_assert(exists_at(d, "deep/a/b/c"));
	ck_assert_int_eq(fstatat(d, "etc", &a, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(a.st_mtim.tv_sec, 1000); /* set after its children */
	ck_assert_int_eq(a.st_mode & 07777, 0755);
}
END_TEST

START_TEST(test_unpack_stays_inside)
{
	/* Each of these would write outside the root if followed naively. */
	const struct tentry t[] = {
		{ "/abs", AE_IFREG, "abs", NULL },		 /* absolute: lands inside */
		{ "esc", AE_IFLNK, "/", NULL },			 /* symlink to / ... */
		{ "esc/through", AE_IFREG, "via link", NULL },	 /* ... then a file through it */
		{ "up", AE_IFLNK, "../../../../..", NULL },	 /* symlink to .. */
		{ "up/upfile", AE_IFREG, "via up", NULL },
		{ "inside/", AE_IFDIR, NULL, NULL },
		{ "chain1", AE_IFLNK, "chain2", NULL },		 /* symlinked directory chain */
		{ "chain2", AE_IFLNK, "../../inside", NULL },
		{ "chain1/x", AE_IFREG, "chain", NULL },
		{ "lnk2out", AE_IFLNK, "../sentinel", NULL },
		{ "lnk2out", AE_IFREG, "replaced, not followed", NULL },
	};
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_tar("s.tar", t, ARRAY_SIZE(t), false);
	cleanup_free char *sentinel = xasprintf("%s/sentinel", scratch);
	cleanup_free char *content = NULL;
	cleanup_close int d = open_dir("d");
	cleanup_close int top = open(scratch, O_RDONLY | O_DIRECTORY);

	unit_write_file(sentinel, "keep", 0644);
	ck_assert_ok(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
	content = read_at(top, "sentinel");
	ck_assert_str_eq(content, "keep");
	ck_assert(!exists_at(top, "abs") && !exists_at(top, "through") &&
		  !exists_at(top, "upfile") && !exists_at(top, "x"));
	ck_assert(exists_at(d, "abs"));
	ck_assert(exists_at(d, "through")); /* "/" resolved to the layer root */
	ck_assert(exists_at(d, "upfile"));
	ck_assert(exists_at(d, "inside/x"));
	free(content);
	content = read_at(d, "lnk2out");
	ck_assert_str_eq(content, "replaced, not followed");
}
END_TEST

START_TEST(test_unpack_refuses_escapes)
{
	static const struct {
		struct tentry e;
		const char *msg;
	} bad[] = {
		{ { "../x", AE_IFREG, "x", NULL }, "leaves the layer root" },
		{ { "a/../../x", AE_IFREG, "x", NULL }, "leaves the layer root" },
		{ { "h", 0, NULL, "../../etc/passwd" }, "leaves the layer root" },
		{ { "d/.wh..", AE_IFREG, NULL, NULL }, "names no file" },
		{ { "h", 0, NULL, "missing" }, "hardlink" },
	};
	cleanup_close int top = open(scratch, O_RDONLY | O_DIRECTORY);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_error struct strata_error *err = NULL;
		cleanup_free char *name = xasprintf("bad%zu.tar", i);
		cleanup_free char *dname = xasprintf("bad%zu", i);
		cleanup_free char *tar = make_tar(name, &bad[i].e, 1, false);
		cleanup_close int d = open_dir(dname);

		ck_assert_int_eq(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), -1);
		ck_assert_msg(strstr(strata_error_msg(err), bad[i].msg), "%zu: %s", i,
			      strata_error_msg(err));
		ck_assert(!strchr(strata_error_msg(err), '\n'));
	}
	ck_assert(!exists_at(top, "x"));
}
END_TEST

START_TEST(test_unpack_size_limit)
{
	/* 8 MiB of zeros in a tiny gzip: a bomb in miniature against a 1 MiB limit. */
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *path = xasprintf("%s/bomb.tar.gz", scratch);
	cleanup_close int d = open_dir("d");
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	static char zeros[1 << 16];
	struct stat sb;

	archive_write_set_format_pax(a);
	archive_write_add_filter_gzip(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, "zeros");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 8 << 20);
	archive_write_header(a, e);
	for (int i = 0; i < 128; i++)
		archive_write_data(a, zeros, sizeof(zeros));
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_lt(sb.st_size, 64 << 10);

	ck_assert_int_eq(unpack_file(path, d, LAYERS_WHITEOUT_VFS, 1 << 20, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "limit"));
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(unpack_file(path, d, LAYERS_WHITEOUT_VFS, 16 << 20, &err), err);
}
END_TEST

START_TEST(test_unpack_truncated_and_garbage)
{
	const struct tentry t[] = { { "f", AE_IFREG, "0123456789abcdef", NULL } };
	cleanup_free char *tar = make_tar("t.tar", t, 1, false);
	cleanup_free char *junk = xasprintf("%s/junk", scratch);
	cleanup_close int d = open_dir("d");
	struct strata_error *err = NULL;

	ck_assert_int_eq(truncate(tar, 700), 0);
	ck_assert_int_eq(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), -1);
	strata_error_free(err);
	err = NULL;
	unit_write_file(junk, "this is not a tar archive at all, not even close......", 0644);
	ck_assert_int_eq(unpack_file(junk, d, LAYERS_WHITEOUT_VFS, 0, &err), -1);
	ck_assert(!strchr(strata_error_msg(err), '\n'));
	strata_error_free(err);
}
END_TEST

START_TEST(test_file_replaces_dir_and_reverse)
{
	const struct tentry t[] = {
		{ "a/", AE_IFDIR, NULL, NULL },	   { "a/inner", AE_IFREG, "in", NULL },
		{ "a", AE_IFREG, "now a file", NULL }, { "b", AE_IFREG, "file", NULL },
		{ "b/", AE_IFDIR, NULL, NULL },	   { "b/c", AE_IFREG, "c", NULL },
		{ "dup", AE_IFREG, "first", NULL },	   { "dup", AE_IFREG, "second", NULL },
	};
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_tar("r.tar", t, ARRAY_SIZE(t), false);
	cleanup_free char *a = NULL, *dup = NULL;
	cleanup_close int d = open_dir("d");

	ck_assert_ok(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
	a = read_at(d, "a");
	ck_assert_str_eq(a, "now a file");
	ck_assert(exists_at(d, "b/c"));
	dup = read_at(d, "dup");
	ck_assert_str_eq(dup, "second");
}
END_TEST

/* ---- modes and owners: made right without a chmod or chown where none is needed ---- */

struct mentry {
	const char *name;
	mode_t type, mode;
	unsigned uid, gid;
};

static char *make_mode_tar(const char *file, const struct mentry *t, size_t n)
{
	char *path = xasprintf("%s/%s", scratch, file);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, t[i].name);
		archive_entry_set_filetype(e, t[i].type);
		archive_entry_set_perm(e, t[i].mode);
		archive_entry_set_uid(e, t[i].uid);
		archive_entry_set_gid(e, t[i].gid);
		archive_entry_set_mtime(e, 1000, 0);
		if (t[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, "target");
		archive_entry_set_size(e, t[i].type == AE_IFREG ? 1 : 0);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (t[i].type == AE_IFREG)
			archive_write_data(a, "x", 1);
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return path;
}

static const struct mentry modes[] = {
	{ "sg/", AE_IFDIR, 02775, 0, 50 },  { "sg/f", AE_IFREG, 0644, 0, 0 },
	{ "a", AE_IFREG, 0644, 0, 0 },	    { "b", AE_IFREG, 0755, 0, 0 },
	{ "c", AE_IFREG, 0600, 0, 0 },	    { "d", AE_IFREG, 0666, 0, 0 },
	{ "e", AE_IFREG, 04755, 0, 0 },	    { "f", AE_IFREG, 02750, 0, 42 },
	{ "g", AE_IFREG, 0644, 1000, 1000 }, { "h", AE_IFREG, 0, 0, 0 },
	{ "l", AE_IFLNK, 0777, 7, 8 },	    { "dir/", AE_IFDIR, 0750, 3, 4 },
	{ "dir/i", AE_IFREG, 0640, 0, 0 },
};

/* Checks every entry of modes[] in @d: exact permission bits, owner and group. */
static void check_modes(int d)
{
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		cleanup_free char *p = xstrdup(modes[i].name);
		struct stat sb;

		if (p[strlen(p) - 1] == '/')
			p[strlen(p) - 1] = '\0';
		ck_assert_int_eq(fstatat(d, p, &sb, AT_SYMLINK_NOFOLLOW), 0);
		if (modes[i].type != AE_IFLNK)
			ck_assert_msg((sb.st_mode & 07777) == modes[i].mode, "%s: mode %o, want %o", p,
				      (unsigned)(sb.st_mode & 07777), (unsigned)modes[i].mode);
		ck_assert_msg(sb.st_uid == modes[i].uid && sb.st_gid == modes[i].gid,
			      "%s: owner %u:%u, want %u:%u", p, (unsigned)sb.st_uid,
			      (unsigned)sb.st_gid, modes[i].uid, modes[i].gid);
	}
}

START_TEST(test_unpack_modes_and_owners)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_mode_tar("m.tar", modes, ARRAY_SIZE(modes));
	const mode_t masks[] = { 022, 077, 0 };

	for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
		cleanup_free char *rel = xasprintf("m%zu", m);
		cleanup_close int d = open_dir(rel);
		mode_t old = umask(masks[m]);

		ck_assert_ok(unpack_file(tar, d, LAYERS_WHITEOUT_OVERLAY, 0, &err), err);
		umask(old);
		check_modes(d);
	}
	{
		/*
		 * Over an existing tree (vfs): a file made in a setgid directory
		 * would take the directory's group, so its own is set.
		 */
		cleanup_close int d = open_dir("over");

		ck_assert_ok(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
		ck_assert_int_eq(unlinkat(d, "sg/f", 0), 0);
		ck_assert_ok(unpack_file(tar, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
		check_modes(d);
	}
}
END_TEST

/* ---- whiteouts ---- */

static const struct tentry lower[] = {
	{ "keep", AE_IFREG, "k", NULL },     { "gone", AE_IFREG, "g", NULL },
	{ "dir/", AE_IFDIR, NULL, NULL },    { "dir/old", AE_IFREG, "o", NULL },
	{ "dir/sub/", AE_IFDIR, NULL, NULL }, { "dir/sub/old2", AE_IFREG, "o", NULL },
};
static const struct tentry upper[] = {
	{ ".wh.gone", AE_IFREG, NULL, NULL },
	{ "dir/", AE_IFDIR, NULL, NULL },
	{ "dir/new", AE_IFREG, "n", NULL }, /* before the marker: must survive it */
	{ "dir/.wh..wh..opq", AE_IFREG, NULL, NULL },
	{ "dir/sub/", AE_IFDIR, NULL, NULL },
	{ ".wh..wh.plnk", AE_IFREG, NULL, NULL }, /* aufs internals: never unpacked */
};

START_TEST(test_whiteouts_vfs_apply)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *l = make_tar("l.tar", lower, ARRAY_SIZE(lower), false);
	cleanup_free char *u = make_tar("u.tar", upper, ARRAY_SIZE(upper), false);
	cleanup_close int d = open_dir("d");

	ck_assert_ok(unpack_file(l, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
	ck_assert_ok(unpack_file(u, d, LAYERS_WHITEOUT_VFS, 0, &err), err);
	ck_assert(exists_at(d, "keep"));
	ck_assert(!exists_at(d, "gone") && !exists_at(d, ".wh.gone"));
	ck_assert(exists_at(d, "dir/new"));
	ck_assert(!exists_at(d, "dir/old"));
	ck_assert(exists_at(d, "dir/sub"));
	ck_assert(!exists_at(d, "dir/sub/old2")); /* lower content under a kept dir goes too */
	ck_assert(!exists_at(d, "dir/.wh..wh..opq") && !exists_at(d, ".wh..wh.plnk"));
}
END_TEST

START_TEST(test_whiteouts_overlay_and_aufs_round_trip)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *u = make_tar("u.tar", upper, ARRAY_SIZE(upper), false);
	cleanup_close int o = open_dir("o");
	cleanup_close int a = open_dir("a");
	cleanup_close int dir = -1;
	struct layers_pack_opts po = { LAYERS_COMPRESSION_NONE, 0, 0, NULL, NULL };
	struct layers_blob b1, b2;
	struct stat sb;
	char v[4];

	ck_assert_ok(unpack_file(u, o, LAYERS_WHITEOUT_OVERLAY, 0, &err), err);
	ck_assert_int_eq(fstatat(o, "gone", &sb, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0));
	dir = openat(o, "dir", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fgetxattr(dir, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert(!exists_at(o, ".wh..wh.plnk") && !exists_at(o, "dir/.wh..wh..opq"));

	ck_assert_ok(unpack_file(u, a, LAYERS_WHITEOUT_AUFS, 0, &err), err);
	ck_assert(exists_at(a, ".wh.gone") && exists_at(a, "dir/.wh..wh..opq"));
	ck_assert(!exists_at(a, ".wh..wh.plnk"));

	/* Both formats pack back to the same OCI layer. */
	ck_assert_ok(layers_pack_dir(st, o, LAYERS_WHITEOUT_OVERLAY, &po, &b1, &err), err);
	ck_assert_ok(layers_pack_dir(st, a, LAYERS_WHITEOUT_AUFS, &po, &b2, &err), err);
	ck_assert_str_eq(b1.diff_id, b2.diff_id);
	{
		cleanup_close int v2 = open_dir("v");
		cleanup_close int fd = store_blob_open(st, b1.digest, &err);
		struct layers_unpack_stats s;
		cleanup_close int l = open_dir("v");

		ck_assert_int_ge(fd, 0);
		(void)v2;
		ck_assert_ok(layers_unpack(fd, l, LAYERS_WHITEOUT_AUFS, NULL, &s, &err), err);
		ck_assert(exists_at(l, ".wh.gone") && exists_at(l, "dir/.wh..wh..opq"));
		ck_assert(exists_at(l, "dir/new"));
	}
}
END_TEST

/* ---- pack ---- */

/* Makes a tree with every kind of entry and metadata a layer can carry. */
static void make_rich_tree(int d)
{
	char longname[300];
	struct timespec ts[2] = { { 5, 123456789 }, { 7, 987654321 } };
	int fd;

	ck_assert_int_eq(mkdirat(d, "empty", 0700), 0);
	ck_assert_int_eq(mkdirat(d, "sub", 0755), 0);
	fd = openat(d, "sub/file", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, "hello", 5), 5);
	ck_assert_int_eq(fsetxattr(fd, "user.color", "blue", 4, 0), 0);
	ck_assert_int_eq(fsetxattr(fd, "trusted.note", "t", 1, 0), 0);
	ck_assert_int_eq(fchown(fd, 1234, 5678), 0);
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
	ck_assert_int_eq(linkat(d, "sub/file", d, "sub/hard", 0), 0);
	fd = openat(d, "suid", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(fchmod(fd, 04755), 0);
	close(fd);
	ck_assert_int_eq(fchmodat(d, "empty", 03777, 0), 0);
	fd = openat(d, "sparse", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(pwrite(fd, "end", 3, 1 << 20), 3);
	close(fd);
	ck_assert_int_eq(symlinkat("sub/file", d, "link"), 0);
	ck_assert_int_eq(mkfifoat(d, "fifo", 0600), 0);
	ck_assert_int_eq(mknodat(d, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	memset(longname, 'n', sizeof(longname));
	longname[200] = '\0';
	fd = openat(d, longname, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ck_assert_int_eq(symlinkat(longname, d, "longlink"), 0);
}

static void same_entry(int a, int b, const char *p)
{
	struct stat x, y;

	ck_assert_msg(fstatat(a, p, &x, AT_SYMLINK_NOFOLLOW) == 0, "%s missing in a", p);
	ck_assert_msg(fstatat(b, p, &y, AT_SYMLINK_NOFOLLOW) == 0, "%s missing in b", p);
	ck_assert_msg(x.st_mode == y.st_mode, "%s mode %o vs %o", p, x.st_mode, y.st_mode);
	ck_assert_int_eq(x.st_uid, y.st_uid);
	ck_assert_int_eq(x.st_gid, y.st_gid);
	if (!S_ISDIR(x.st_mode)) /* a directory's size is its filesystem's business */
		ck_assert_int_eq(x.st_size, y.st_size);
	ck_assert_int_eq(x.st_rdev, y.st_rdev);
	if (!S_ISLNK(x.st_mode)) {
		/* whole seconds in the tar, as GNU tar and BuildKit write them */
		ck_assert_int_eq(x.st_mtim.tv_sec, y.st_mtim.tv_sec);
		ck_assert_int_eq(y.st_mtim.tv_nsec, 0);
	}
}

START_TEST(test_pack_round_trip)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_close int a = open_dir("a");
	cleanup_close int b = open_dir("b");
	cleanup_close int fd = -1;
	struct layers_pack_opts po = { LAYERS_COMPRESSION_ZSTD, 0, -1, NULL, NULL };
	struct layers_unpack_stats s;
	struct layers_blob blob;
	const char *paths[] = { "empty", "sub", "sub/file", "sub/hard", "suid", "sparse",
				"link", "fifo", "null", "longlink" };
	cleanup_free char *sparse = NULL;
	char v[8];
	struct stat x, y;
	char longname[201];

	make_rich_tree(a);
	ck_assert_ok(layers_pack_dir(st, a, LAYERS_WHITEOUT_VFS, &po, &blob, &err), err);
	ck_assert_str_eq(blob.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
	fd = store_blob_open(st, blob.digest, &err);
	ck_assert_int_ge(fd, 0);
	ck_assert_ok(layers_unpack(fd, b, LAYERS_WHITEOUT_VFS, NULL, &s, &err), err);
	ck_assert_str_eq(s.diff_id, blob.diff_id);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		same_entry(a, b, paths[i]);
	memset(longname, 'n', 200);
	longname[200] = '\0';
	same_entry(a, b, longname);
	/* hardlinks stay links */
	ck_assert_int_eq(fstatat(b, "sub/file", &x, 0), 0);
	ck_assert_int_eq(fstatat(b, "sub/hard", &y, 0), 0);
	ck_assert_int_eq(x.st_ino, y.st_ino);
	/* xattrs */
	{
		cleanup_close int f = openat(b, "sub/file", O_RDONLY);

		ck_assert_int_eq(fgetxattr(f, "user.color", v, sizeof(v)), 4);
		ck_assert_int_eq(memcmp(v, "blue", 4), 0);
		ck_assert_int_eq(fgetxattr(f, "trusted.note", v, sizeof(v)), 1);
	}
	/* sparse content */
	{
		cleanup_close int f = openat(b, "sparse", O_RDONLY);
		char tail[4] = { 0 };

		ck_assert_int_eq(pread(f, tail, 3, 1 << 20), 3);
		ck_assert_str_eq(tail, "end");
		ck_assert_int_eq(pread(f, tail, 1, 4096), 1);
		ck_assert_int_eq(tail[0], 0);
	}
	(void)sparse;
}
END_TEST

START_TEST(test_pack_is_deterministic)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_close int a = open_dir("a");
	cleanup_close int c = open_dir("c");
	struct layers_pack_opts po = { LAYERS_COMPRESSION_GZIP, 0, 1700000000, NULL, NULL };
	struct layers_blob b1, b2, b3;

	make_rich_tree(a);
	make_rich_tree(c); /* the same tree made again: other inodes, other ctimes */
	ck_assert_ok(layers_pack_dir(st, a, LAYERS_WHITEOUT_VFS, &po, &b1, &err), err);
	ck_assert_ok(layers_pack_dir(st, a, LAYERS_WHITEOUT_VFS, &po, &b2, &err), err);
	ck_assert_str_eq(b1.diff_id, b2.diff_id);
	ck_assert_str_eq(b1.digest, b2.digest);
	ck_assert_ok(layers_pack_dir(st, c, LAYERS_WHITEOUT_VFS, &po, &b3, &err), err);
	ck_assert_str_eq(b1.digest, b3.digest); /* the same tree made again */
	sleep(1);
	ck_assert_int_eq(utimensat(c, "suid", NULL, 0), 0);
	/* mtimes after the timestamp are clamped to it: same digest */
	ck_assert_str_eq(b1.digest, b3.digest);
	po.timestamp = -1;
	ck_assert_ok(layers_pack_dir(st, c, LAYERS_WHITEOUT_VFS, &po, &b3, &err), err);
	ck_assert_str_ne(b1.digest, b3.digest);
}
END_TEST

/* A tree whose file data is not cached packs into the same layer as when it is. */
START_TEST(test_pack_uncached_tree)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_close int t = open_dir("cold");
	struct layers_pack_opts po = { LAYERS_COMPRESSION_NONE, 0, 1700000000, NULL, NULL };
	struct layers_blob warm, cold;

	unit_make_file_tree(t, 10, 30);
	ck_assert_ok(layers_pack_dir(st, t, LAYERS_WHITEOUT_VFS, &po, &warm, &err), err);
	unit_evict_file_tree(t, 10, 30);
	unit_uncached_or_skip(t, "d00/f000", 0, "packing uncached data");
	ck_assert_ok(layers_pack_dir(st, t, LAYERS_WHITEOUT_VFS, &po, &cold, &err), err);
	ck_assert_str_eq(warm.diff_id, cold.diff_id);
	ck_assert_str_eq(warm.digest, cold.digest);
}
END_TEST

START_TEST(test_pack_changes)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_close int a = open_dir("a");
	cleanup_close int b = open_dir("b");
	cleanup_close int fd = -1;
	struct layers_pack_opts po = { LAYERS_COMPRESSION_NONE, 0, -1, NULL, NULL };
	struct layers_change ch[] = {
		{ (char *)"sub/file", LAYERS_CHANGE_MODIFY },
		{ (char *)"empty", LAYERS_CHANGE_ADD },
		{ (char *)"was/here", LAYERS_CHANGE_DELETE },
	};
	struct layers_unpack_stats s;
	struct layers_blob blob;

	make_rich_tree(a);
	ck_assert_ok(layers_pack_changes(st, a, ch, ARRAY_SIZE(ch), &po, &blob, &err), err);
	fd = store_blob_open(st, blob.digest, &err);
	ck_assert_ok(layers_unpack(fd, b, LAYERS_WHITEOUT_AUFS, NULL, &s, &err), err);
	ck_assert(exists_at(b, "sub/file") && exists_at(b, "empty"));
	ck_assert(exists_at(b, "was/.wh.here"));
	ck_assert(!exists_at(b, "sub/hard") && !exists_at(b, "suid"));
	same_entry(a, b, "sub"); /* the parent travels with its mode and owner */
}
END_TEST

/* ---- layer dirs ---- */

static void write_image(const char *ref, struct store_image **out)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *config = store_config_new(0);
	cleanup_free char *l = make_tar("l.tar", lower, ARRAY_SIZE(lower), false);
	cleanup_free char *u = make_tar("u.tar", upper, ARRAY_SIZE(upper), false);
	const char *tars[] = { l, u };
	struct store_desc d[2] = { { 0 } };
	struct layers_blob b[2];

	for (int i = 0; i < 2; i++) {
		cleanup_close int fd = open(tars[i], O_RDONLY);

		ck_assert_ok(layers_import_tar(st, fd, LAYERS_COMPRESSION_GZIP, 0, &b[i], &err),
			     err);
		store_config_add_diff_id(config, b[i].diff_id);
		d[i].media_type = (char *)b[i].media_type;
		memcpy(d[i].digest, b[i].digest, DIGEST_STR_LEN);
		d[i].size = (int64_t)b[i].size;
	}
	ck_assert_ok(store_image_write(st, config, d, 2, ref, NULL, NULL, &err), err);
	ck_assert_ok(store_image_load(st, ref, out, &err), err);
}

/* Names in tmp/ left by a layer dir's staging (or a stale dir moved aside). */
static int staging_left(void)
{
	cleanup_free char *tmp = xasprintf("%s/tmp", store_root(st));
	cleanup_dir DIR *d = opendir(tmp);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, "-layer"))
			n++;
	return n;
}

START_TEST(test_layer_dirs)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_image *img = NULL;
	cleanup_strv char **chains = NULL;
	const char *backends[] = { "vfs", "overlay", "aufs" };

	write_image("two:layers", &img);
	chains = store_image_chain_ids(img);
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		cleanup_free char *top = NULL;
		cleanup_close int d = -1;
		cleanup_json json_t *rec = NULL;

		ck_assert_ok(layers_dir_ensure(st, backends[i], img, 2, &err), err);
		ck_assert_ok(layers_dir_ensure(st, backends[i], img, 2, &err), err); /* idempotent */
		top = layers_dir_path(st, backends[i], chains[1]);
		d = open(top, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(d, 0);
		rec = store_layer_record(st, backends[i], chains[1], &err);
		ck_assert_ptr_nonnull(rec);
		ck_assert_str_eq(jv_str(rec, "ChainID"), chains[1]);
		ck_assert_str_eq(jv_str(rec, "Parent"), chains[0]);
		ck_assert_str_eq(jv_str(rec, "DiffID"), img->diff_ids[1]);
		if (i == 0) { /* vfs: a full snapshot with whiteouts applied */
			ck_assert(exists_at(d, "keep") && !exists_at(d, "gone"));
			ck_assert(exists_at(d, "dir/new") && !exists_at(d, "dir/old"));
		} else {
			ck_assert(!exists_at(d, "keep"));
			ck_assert(exists_at(d, i == 1 ? "gone" : ".wh.gone"));
		}
	}
	{
		/* a diffID the layer does not have is refused, and nothing is left */
		struct store_desc *l = &img->manifest->layers[0];
		char bad[DIGEST_STR_LEN];

		memcpy(bad, img->diff_ids[1], DIGEST_STR_LEN);
		ck_assert_int_eq(layers_dir_unpack(st, "overlay", img->diff_ids[1], NULL, bad, l,
						   &err),
				 -1);
		ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "diffID"));
		ck_assert(!store_layer_exists(st, "overlay", img->diff_ids[1]));
	}
	{
		/* a dir made during another boot (a crash may have cut it) is made again */
		cleanup_json json_t *rec = store_layer_record(st, "overlay", chains[0], &err);
		cleanup_free char *path = store_layer_path(st, "overlay", chains[0]);
		cleanup_free char *marker = xasprintf("%s/diff/stale-marker", path);
		cleanup_json json_t *again = NULL;
		cleanup_close int lfd = open(path, O_RDONLY | O_DIRECTORY);

		ck_assert_int_ge(lfd, 0);
		ck_assert_ptr_nonnull(rec);
		ck_assert_str_eq(jv_str(rec, "Boot"), sys_boot_id());
		jv_set_str(rec, "Boot", "an-earlier-boot");
		ck_assert_ok(jv_write_at(lfd, "layer.json", rec, &err), err);
		unit_write_file(marker, "", 0644);
		ck_assert(!layers_dir_valid(st, "overlay", chains[0]));
		ck_assert_ok(layers_dir_ensure(st, "overlay", img, 2, &err), err);
		again = store_layer_record(st, "overlay", chains[0], &err);
		ck_assert_str_eq(jv_str(again, "Boot"), sys_boot_id());
		ck_assert_int_eq(access(marker, F_OK), -1);
	}
	{
		/*
		 * Half-made dirs in the way (no record, as a gc killed while deleting
		 * in place left them; a record without a Boot; one naming another
		 * chain) count as absent and are replaced whole.
		 */
		for (size_t k = 0; k < 3; k++) {
			cleanup_free char *path = store_layer_path(st, "aufs", chains[1]);
			cleanup_free char *marker = xasprintf("%s/diff/half-made", path);

			ck_assert_int_eq(unit_sh("rm -rf '%s' && mkdir -p '%s/diff'", path, path), 0);
			unit_write_file(marker, "", 0644);
			if (k > 0) {
				cleanup_free char *j =
					k == 1 ? xasprintf("{\"ChainID\": \"%s\"}", chains[1])
					       : xasprintf("{\"ChainID\": \"sha256:00\", \"Boot\": \"%s\"}",
							   sys_boot_id());
				cleanup_free char *rp = xasprintf("%s/layer.json", path);

				unit_write_file(rp, j, 0644);
			}
			ck_assert(!layers_dir_valid(st, "aufs", chains[1]));
			ck_assert_ok(layers_dir_ensure(st, "aufs", img, 2, &err), err);
			ck_assert(layers_dir_valid(st, "aufs", chains[1]));
			ck_assert_int_eq(access(marker, F_OK), -1);
			ck_assert_int_eq(staging_left(), 0);
		}
	}
	{
		/* apply: the flattened rootfs */
		cleanup_close int d = open_dir("flat");

		ck_assert_ok(layers_apply_image(st, img, d, &err), err);
		ck_assert(exists_at(d, "keep") && !exists_at(d, "gone") && exists_at(d, "dir/new"));
	}
	store_image_free(img);
}
END_TEST

/*
 * A maker that filled a dir of its own (a container's upper dir, moved
 * rather than copied) publishes it by rename; a twin already in place wins
 * and the stage leaves nothing behind.
 */
START_TEST(test_layer_stage_adopt)
{
	cleanup_error struct strata_error *err = NULL;
	const char *chain = "sha256:1234567890123456789012345678901234567890123456789012345678901234";
	struct layers_dir_record rec = { chain, NULL, chain, "sha256:00", 5 };
	struct layers_stage *stage = NULL;
	cleanup_free char *name = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *diff = NULL;
	cleanup_close int fd = -1;

	fd = store_tmp_mkdir(st, ".filled", 0755, &name, &err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mkdirat(fd, "own", 0755), 0);
	{
		cleanup_free char *f = xasprintf("%s/tmp/%s/own/file", store_root(st), name);

		unit_write_file(f, "hello", 0644);
	}
	ck_assert_ok(layers_stage_new(st, "overlay", &stage, &err), err);
	ck_assert_ok(layers_stage_adopt(stage, fd, "own", &err), err);
	ck_assert_ok(layers_stage_publish(stage, &rec, &err), err);
	layers_stage_free(stage);
	ck_assert(layers_dir_valid(st, "overlay", chain));
	diff = layers_dir_path(st, "overlay", chain);
	path = xasprintf("%s/file", diff);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(faccessat(fd, "own", F_OK, 0), -1);
	/* A second maker of the same dir loses to the first, quietly. */
	stage = NULL;
	ck_assert_ok(layers_stage_new(st, "overlay", &stage, &err), err);
	ck_assert_ok(layers_stage_publish(stage, &rec, &err), err);
	layers_stage_free(stage);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(staging_left(), 0);
	store_tmp_remove(st, name, NULL);
}
END_TEST

/* ---- compression ---- */

/* Stores @n bytes of @buf as a gzip blob; returns the digest and checks the round trip. */
/* ---- layer dirs made while the blob arrives ---- */

/*
 * Writes @tar's bytes into a new blob in three pieces, growing @ds after
 * each as a pull does; returns the writer (still open) for the caller.
 */
static struct store_blob_writer *feed_blob(const char *tar, struct layers_dir_stream **ds,
					   const char *diff_id, size_t stop_after)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *buf = NULL;
	struct store_blob_writer *w = NULL;
	size_t len = 0, step;
	int fd;

	ck_assert_ok(file_read_at(AT_FDCWD, tar, 1 << 20, &buf, &len, &err), err);
	ck_assert_ok(store_blob_writer_new(st, &w, &err), err);
	fd = store_blob_writer_open_read(w, &err);
	ck_assert_ok(fd, err);
	ck_assert_ok(layers_dir_stream_new(st, "aufs", diff_id, NULL, diff_id,
					   "sha256:0000000000000000000000000000000000000000000000000000000000000000",
					   fd, ds, &err),
		     err);
	close(fd); /* the stream holds its own */
	ck_assert_ptr_nonnull(*ds);
	step = len / 3 + 1;
	for (size_t off = 0; off < len && off < stop_after; off += step) {
		size_t n = len - off < step ? len - off : step;

		ck_assert_ok(store_blob_writer_write(w, buf + off, n, &err), err);
		layers_dir_stream_grow(*ds, store_blob_writer_size(w));
		usleep(20000); /* the unpack thread waits at the end of what is there */
	}
	return w;
}

START_TEST(test_layer_dir_stream)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_tar("s.tar.gz", upper, ARRAY_SIZE(upper), true);
	struct layers_dir_stream *ds = NULL;
	struct store_blob_writer *w;
	struct layers_unpack_stats sts;
	char diff_id[DIGEST_STR_LEN];

	/* the diffID of the uncompressed tar, from an unpack of the whole file */
	{
		cleanup_close int d = open_dir("ref");
		cleanup_close int fd = open(tar, O_RDONLY | O_CLOEXEC);

		ck_assert_ok(layers_unpack(fd, d, LAYERS_WHITEOUT_AUFS, NULL, &sts, &err), err);
		memcpy(diff_id, sts.diff_id, DIGEST_STR_LEN);
	}

	/* arrives whole: the dir is installed with the layer's content and record */
	w = feed_blob(tar, &ds, diff_id, SIZE_MAX);
	layers_dir_stream_end(ds);
	ck_assert_ok(layers_dir_stream_finish(ds, true, &err), err);
	store_blob_writer_abort(w);
	ck_assert(store_layer_exists(st, "aufs", diff_id));
	{
		cleanup_free char *top = layers_dir_path(st, "aufs", diff_id);
		cleanup_close int d = open(top, O_RDONLY | O_DIRECTORY);
		cleanup_json json_t *rec = store_layer_record(st, "aufs", diff_id, &err);

		ck_assert_int_ge(d, 0);
		ck_assert(exists_at(d, ".wh.gone") && exists_at(d, "dir/new"));
		ck_assert(!exists_at(d, ".wh..wh.plnk"));
		ck_assert_ptr_nonnull(rec);
		ck_assert_str_eq(jv_str(rec, "DiffID"), diff_id);
	}
	/* the dir exists now: nothing to stream */
	{
		int fd = open(tar, O_RDONLY);

		ck_assert_ok(layers_dir_stream_new(st, "aufs", diff_id, NULL, diff_id,
						   "sha256:00", fd, &ds, &err),
			     err);
		ck_assert_ptr_null(ds);
		close(fd);
	}
	ck_assert_int_eq(staging_left(), 0);
}
END_TEST

START_TEST(test_layer_dir_stream_dropped)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *tar = make_tar("s.tar.gz", upper, ARRAY_SIZE(upper), true);
	const char *other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	struct layers_dir_stream *ds = NULL;
	struct store_blob_writer *w;

	/* cut short (a dropped download): discarded, the unpack thread ends, nothing stays */
	w = feed_blob(tar, &ds, other, 10);
	ck_assert_int_eq(layers_dir_stream_finish(ds, false, &err), 0);
	store_blob_writer_abort(w);
	ck_assert(!store_layer_exists(st, "aufs", other));
	ck_assert_int_eq(staging_left(), 0);

	/* whole, but not the diffID the image names: refused, nothing stays */
	w = feed_blob(tar, &ds, other, SIZE_MAX);
	layers_dir_stream_end(ds);
	ck_assert_int_eq(layers_dir_stream_finish(ds, true, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "diffID"));
	store_blob_writer_abort(w);
	ck_assert(!store_layer_exists(st, "aufs", other));
	ck_assert_int_eq(staging_left(), 0);

	/* vfs dirs replay their parents: never streamed */
	{
		int fd = open(tar, O_RDONLY);

		ck_assert_ok(layers_dir_stream_new(st, "vfs", other, NULL, other, "sha256:00", fd,
						   &ds, &err),
			     err);
		ck_assert_ptr_null(ds);
		close(fd);
	}
}
END_TEST

/*
 * Compresses @n bytes with @c into a blob, checks they come back, and gives
 * its digest (and size when @size).
 */
static void compressed_blob(enum layers_compression c, const unsigned char *buf, size_t n,
			    char digest[DIGEST_STR_LEN], uint64_t *size)
{
	cleanup_error struct strata_error *err = NULL;
	struct layers_blob_writer *w;
	struct layers_source *src;
	struct layers_blob b;
	unsigned char *back = xmalloc(n + 1);
	size_t got = 0;
	ssize_t r;
	int fd;

	ck_assert_ok(layers_blob_writer_new(st, c, 0, &w, &err), err);
	/*
	 * uneven writes across block boundaries, small ones (gathered before
	 * they are compressed) among them
	 */
	for (size_t off = 0, i = 0; off < n; i++) {
		static const size_t steps[] = { 70001, 1, 511, 16383, 16384, 130000, 512 };
		size_t step = steps[i % ARRAY_SIZE(steps)];
		size_t k = n - off < step ? n - off : step;

		ck_assert_ok(layers_blob_writer_write(w, buf + off, k, &err), err);
		off += k;
	}
	ck_assert_ok(layers_blob_writer_commit(w, &b, &err), err);
	ck_assert_int_eq(b.tar_size, n);
	{
		char tar_digest[DIGEST_STR_LEN];

		digest_buf(buf, n, tar_digest);
		ck_assert_str_eq(b.diff_id, tar_digest);
	}
	if (n == 0 && c == LAYERS_COMPRESSION_GZIP) {
		/* libarchive reads no stream from an empty member: ask gzip */
		cleanup_free char *path = store_blob_path(st, b.digest);

		ck_assert_int_eq(unit_sh("gzip -t < %s && test -z \"$(gzip -dc < %s)\"", path, path), 0);
		free(back);
		memcpy(digest, b.digest, DIGEST_STR_LEN);
		if (size)
			*size = b.size;
		return;
	}
	fd = store_blob_open(st, b.digest, &err);
	if (c == LAYERS_COMPRESSION_NONE) {
		/* the bytes as they were (these are no tars: a source would refuse them) */
		while ((r = read(fd, back + got, n + 1 - got)) > 0)
			got += (size_t)r;
	} else {
		ck_assert_ok(layers_source_open(fd, &src, &err), err);
		ck_assert_str_eq(layers_source_compression(src), layers_compression_name(c));
		while ((r = layers_source_read(src, back + got, n + 1 - got, &err)) > 0)
			got += (size_t)r;
		ck_assert_ok(r < 0 ? -1 : 0, err);
		layers_source_free(src);
	}
	ck_assert_int_eq(got, n);
	ck_assert(n == 0 || memcmp(buf, back, n) == 0);
	close(fd);
	free(back);
	memcpy(digest, b.digest, DIGEST_STR_LEN);
	if (size)
		*size = b.size;
}

static void gzip_blob(const unsigned char *buf, size_t n, char digest[DIGEST_STR_LEN],
		      uint64_t *size)
{
	compressed_blob(LAYERS_COMPRESSION_GZIP, buf, n, digest, size);
}

/*
 * Compresses @n bytes with @c again on the first of this process's CPUs
 * alone (one worker) and checks the blob is @digest, made on all of them.
 */
static void same_blob_on_one_cpu(enum layers_compression c, const unsigned char *buf, size_t n,
				 const char digest[DIGEST_STR_LEN])
{
	char d_one[DIGEST_STR_LEN];
	cpu_set_t all, one;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	CPU_ZERO(&one);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &all)) {
			CPU_SET(cpu, &one);
			break;
		}
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	compressed_blob(c, buf, n, d_one, NULL);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	ck_assert_str_eq(digest, d_one);
}

/* Compressible but not trivial: text-like bytes with some noise. */
static void fill_text_like(unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)("strata layers "[i % 14] ^ ((i * 2654435761u) >> 29));
}

static double cpu_seconds(void)
{
	struct timespec t;

	ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t), 0);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds the blob writer alone takes to turn @n bytes into a blob. */
static double writer_cpu_seconds(enum layers_compression c, const unsigned char *buf, size_t n)
{
	cleanup_error struct strata_error *err = NULL;
	struct layers_blob_writer *w;
	struct layers_blob b;
	double t = cpu_seconds();

	ck_assert_ok(layers_blob_writer_new(st, c, 0, &w, &err), err);
	ck_assert_ok(layers_blob_writer_write(w, buf, n, &err), err);
	ck_assert_ok(layers_blob_writer_commit(w, &b, &err), err);
	return cpu_seconds() - t;
}

/*
 * Data that deflate's matching cannot shrink (compressed files, random
 * bytes) is stored or run-length coded, as small and much faster; data
 * whose bytes look random but repeat still gets matched.
 */
START_TEST(test_gzip_incompressible)
{
	size_t n = 8u << 20;
	unsigned char *buf = xmalloc(n), *out = xmalloc(compressBound(n));
	uLongf out_len = compressBound(n);
	char d[DIGEST_STR_LEN];
	uint64_t x = 88172645463325252ull, size;
	double t, ref;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)(x >> 32);
	}
	/* what deflate itself takes on them: 0.2 s of CPU on the development machine */
	ref = cpu_seconds();
	ck_assert_int_eq(compress2(out, &out_len, buf, n, 6), Z_OK);
	ref = cpu_seconds() - ref;
	t = writer_cpu_seconds(LAYERS_COMPRESSION_GZIP, buf, n);
	gzip_blob(buf, n, d, &size);
	ck_assert_uint_le(size, n + n / 500);
	/* stored: the writer alone (compress, both digests, fsync), not the read-back check */
	if (unit_measurable())
		ck_assert_msg(t < ref / 2, "8 MiB of random bytes took %.3f s of CPU to gzip, "
					   "deflate %.3f s", t, ref);

	/* random files with a tar's zero padding: the runs of zeros still shrink */
	for (size_t i = 0; i + 100000 < n; i += 100000)
		memset(buf + i + 99500, 0, 500);
	gzip_blob(buf, n, d, &size);
	ck_assert_uint_lt(size, n - n / 100000 * 400);
	/* and the same bytes come out on one CPU */
	same_blob_on_one_cpu(LAYERS_COMPRESSION_GZIP, buf, n, d);

	/*
	 * random-looking bytes that repeat every 24 KiB, within deflate's
	 * window: their counts look even, matching finds them all the same
	 */
	for (size_t i = 24576; i < n; i++)
		buf[i] = buf[i - 24576];
	gzip_blob(buf, n, d, &size);
	ck_assert_uint_lt(size, n / 20);
	free(buf);
	free(out);
}
END_TEST

START_TEST(test_parallel_gzip)
{
	/* sizes around the 512 KiB blocks and the batches of blocks */
	const size_t sizes[] = { 0, 1, 524288, 524289, 1048576, 3 * 524288 + 17, 9 << 20 };
	unsigned char *buf = xmalloc(9 << 20);

	fill_text_like(buf, 9u << 20);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char d_all[DIGEST_STR_LEN];

		gzip_blob(buf, sizes[i], d_all, NULL);
		/* one worker: the same bytes, whatever the CPU count */
		same_blob_on_one_cpu(LAYERS_COMPRESSION_GZIP, buf, sizes[i], d_all);
	}
	free(buf);
}
END_TEST

/* Peak RSS of this process so far, in bytes. */
static uint64_t peak_rss(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return (uint64_t)ru.ru_maxrss << 10;
}

/*
 * zstd on data that does not compress: every frame is as large as its
 * chunk. Memory stays at the buffers, at most 2 * threads + 3 of a chunk
 * (6 MiB) each, a compressor's tables per thread and the libraries' pages,
 * however long the input.
 */
START_TEST(test_zstd_memory_bounded)
{
	cleanup_error struct strata_error *err = NULL;
	const size_t chunk = 1u << 20, job = 6u << 20;
	size_t threads = sys_ncpus() < 4 ? (size_t)sys_ncpus() : 4;
	unsigned char *buf = xmalloc(chunk);
	struct layers_blob_writer *w;
	struct layers_blob b;
	uint64_t x = 88172645463325252ull, before, grown;

	memset(buf, 1, chunk);
	before = peak_rss();
	ck_assert_ok(layers_blob_writer_new(st, LAYERS_COMPRESSION_ZSTD, 0, &w, &err), err);
	for (int m = 0; m < 96; m++) {
		for (size_t i = 0; i < chunk; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (unsigned char)(x >> 32);
		}
		ck_assert_ok(layers_blob_writer_write(w, buf, chunk, &err), err);
	}
	ck_assert_ok(layers_blob_writer_commit(w, &b, &err), err);
	grown = peak_rss() - before;
	ck_assert_uint_ge(b.size, 96 * chunk);
	/* sanitizers and valgrind keep memory of their own */
	if (unit_measurable())
		ck_assert_msg(grown < (2 * threads + 3) * job + (16u << 20),
			      "96 MiB of random bytes took %" PRIu64 " MiB to zstd with %zu threads",
			      grown >> 20, threads);
	free(buf);
}
END_TEST

/*
 * zstd compresses chunks of 1, 2, 4, then 6 MiB on every CPU, each a frame
 * of its own, and the last chunk in frames of 1 MiB: the same blob comes
 * out on one CPU as on all, for sizes around and across the chunks, and
 * with more pieces at the end than there are slots.
 */
START_TEST(test_parallel_zstd)
{
	const size_t mib = 1u << 20;
	const size_t sizes[] = { 1, mib - 1, mib + 1, 7 * mib, 7 * mib + 1, 18 * mib + 12345 };
	size_t most = sizes[ARRAY_SIZE(sizes) - 1];
	unsigned char *buf = xmalloc(most);
	uint64_t size;

	fill_text_like(buf, most);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char d_all[DIGEST_STR_LEN];

		compressed_blob(LAYERS_COMPRESSION_ZSTD, buf, sizes[i], d_all, &size);
		ck_assert_uint_lt(size, sizes[i] / 2 + 64);
		same_blob_on_one_cpu(LAYERS_COMPRESSION_ZSTD, buf, sizes[i], d_all);
	}
	free(buf);
}
END_TEST

/* The content sizes of the zstd frames of the blob @digest, in order, into @sizes. */
static size_t zstd_frames(const char *digest, uint64_t *sizes, size_t max)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *data = NULL;
	size_t len = 0, n = 0;
	int fd = store_blob_open(st, digest, &err);

	ck_assert_ok(fd < 0 ? -1 : file_read_fd(fd, 64u << 20, &data, &len, &err), err);
	close(fd);
	for (size_t off = 0; off < len; n++) {
		size_t f = ZSTD_findFrameCompressedSize(data + off, len - off);

		ck_assert_msg(!ZSTD_isError(f), "frame %zu at %zu: %s", n, off, ZSTD_getErrorName(f));
		ck_assert_uint_lt(n, max);
		sizes[n] = ZSTD_getFrameContentSize(data + off, len - off);
		off += f;
	}
	return n;
}

/*
 * The frames are what the format promises, whatever the CPU count: chunks
 * of 1, 2, 4 and 6 MiB, the last one in 1 MiB pieces; no input, one empty
 * frame.
 */
START_TEST(test_zstd_frames)
{
	const size_t mib = 1u << 20;
	const uint64_t want[] = { mib, 2 * mib, 4 * mib, 6 * mib, 6 * mib,
				  mib, mib, mib, mib, 12345 };
	size_t n = 23 * mib + 12345;
	unsigned char *buf = xmalloc(n);
	char d[DIGEST_STR_LEN];
	uint64_t got[16];
	size_t frames;

	fill_text_like(buf, n);
	compressed_blob(LAYERS_COMPRESSION_ZSTD, buf, n, d, NULL);
	frames = zstd_frames(d, got, ARRAY_SIZE(got));
	ck_assert_uint_eq(frames, ARRAY_SIZE(want));
	for (size_t i = 0; i < frames; i++)
		ck_assert_uint_eq(got[i], want[i]);
	{
		cleanup_error struct strata_error *err = NULL;
		struct layers_blob_writer *w;
		struct layers_blob b;

		ck_assert_ok(layers_blob_writer_new(st, LAYERS_COMPRESSION_ZSTD, 0, &w, &err), err);
		ck_assert_ok(layers_blob_writer_commit(w, &b, &err), err);
		ck_assert_uint_eq(zstd_frames(b.digest, got, ARRAY_SIZE(got)), 1);
		ck_assert_uint_eq(got[0], 0);
	}
	free(buf);
}
END_TEST

/*
 * layers_recompress: a gzip layer in the store to zstd in a plain file and
 * back to gzip; the tar inside (diffID) stays, digest and size are those
 * of the bytes written, and gzip comes back byte for byte as the store's.
 */
/* Uncompressed, the blob is the tar: its digest is the diffID (hashed once). */
START_TEST(test_uncompressed_blob)
{
	size_t sizes[] = { 0, 1, 300000, 3u << 20 };
	unsigned char *buf = xmalloc(3u << 20);
	char d[DIGEST_STR_LEN];
	uint64_t size;

	fill_text_like(buf, 3u << 20);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char want[DIGEST_STR_LEN];

		compressed_blob(LAYERS_COMPRESSION_NONE, buf, sizes[i], d, &size);
		digest_buf(buf, sizes[i], want);
		ck_assert_str_eq(d, want);
		ck_assert_int_eq(size, sizes[i]);
	}
	free(buf);
}
END_TEST

START_TEST(test_recompress)
{
	cleanup_error struct strata_error *err = NULL;
	const struct tentry t[] = {
		{ "dir", AE_IFDIR, NULL, NULL },
		{ "dir/file", AE_IFREG, "recompressed content\n", NULL },
		{ "link", AE_IFLNK, "dir/file", NULL },
	};
	cleanup_free char *tar = make_tar("r.tar", t, ARRAY_SIZE(t), false);
	cleanup_free char *zpath = xasprintf("%s/r.zst", scratch);
	cleanup_free char *gpath = xasprintf("%s/r.gz", scratch);
	struct layers_blob stored, z, g;
	char d[DIGEST_STR_LEN];
	unsigned char magic[4];
	int in, zfd, gfd, sfd;
	struct stat sb;
	cleanup_free char *gbuf = NULL, *sbuf = NULL;
	size_t glen, slen;

	in = open(tar, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	ck_assert_ok(layers_import_tar(st, in, LAYERS_COMPRESSION_GZIP, 0, &stored, &err), err);
	close(in);

	sfd = store_blob_open(st, stored.digest, &err);
	ck_assert_ok(sfd, err);
	zfd = open(zpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(zfd, 0);
	ck_assert_ok(layers_recompress(sfd, LAYERS_COMPRESSION_ZSTD, 0, zfd, &z, &err), err);
	close(sfd);
	ck_assert_str_eq(z.diff_id, stored.diff_id);
	ck_assert_str_eq(z.media_type, MEDIA_OCI_LAYER_ZSTD);
	ck_assert_int_eq(fstat(zfd, &sb), 0);
	ck_assert_uint_eq((uint64_t)sb.st_size, z.size);
	ck_assert_int_eq(pread(zfd, magic, 4, 0), 4);
	ck_assert(memcmp(magic, "\x28\xb5\x2f\xfd", 4) == 0);
	ck_assert_int_eq(lseek(zfd, 0, SEEK_SET), 0);
	ck_assert_ok(digest_fd(zfd, d, NULL, &err), err);
	ck_assert_str_eq(d, z.digest);
	ck_assert_str_ne(z.digest, stored.digest);

	ck_assert_int_eq(lseek(zfd, 0, SEEK_SET), 0);
	gfd = open(gpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(gfd, 0);
	ck_assert_ok(layers_recompress(zfd, LAYERS_COMPRESSION_GZIP, 0, gfd, &g, &err), err);
	close(zfd);
	close(gfd);
	ck_assert_str_eq(g.diff_id, stored.diff_id);
	ck_assert_str_eq(g.digest, stored.digest);
	ck_assert_ok(file_read_at(AT_FDCWD, gpath, 1 << 20, &gbuf, &glen, &err), err);
	ck_assert_ok(store_blob_read(st, stored.digest, 1 << 20, &sbuf, &slen, &err), err);
	ck_assert_uint_eq(glen, slen);
	ck_assert(memcmp(gbuf, sbuf, glen) == 0);

	/* Not a compressed tar at all: the source says so, and nothing is claimed. */
	in = open(zpath, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(write(in, "\x28\xb5\x2f\xfd garbage", 12), 12);
	close(in);
	in = open(zpath, O_RDONLY | O_CLOEXEC);
	gfd = open(gpath, O_RDWR | O_TRUNC | O_CLOEXEC);
	ck_assert_int_eq(layers_recompress(in, LAYERS_COMPRESSION_GZIP, 0, gfd, &g, &err), -1);
	ck_assert_ptr_nonnull(err);
	close(in);
	close(gfd);
}
END_TEST

/* The read-ahead thread: small odd reads across its chunks, an early free, a truncated stream. */
START_TEST(test_source_read_ahead)
{
	cleanup_error struct strata_error *err = NULL;
	char *dir = unit_scratch();
	cleanup_free char *plain = path_join(dir, "data");
	cleanup_free char *zst = path_join(dir, "data.zst");
	cleanup_free char *cut = path_join(dir, "cut.zst");
	size_t n = (5u << 20) + 12345, got = 0;
	unsigned char *buf = xmalloc(n), *back = xmalloc(n + 1000);
	struct layers_source *src;
	ssize_t r;
	int fd;

	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)((i * 2654435761u) >> 13);
	fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_ok(file_write_all(fd, buf, n, &err), err);
	close(fd);
	ck_assert_int_eq(unit_sh("zstd -q -c %s > %s && head -c 100000 %s > %s", plain, zst, zst,
				 cut), 0);

	fd = open(zst, O_RDONLY | O_CLOEXEC);
	ck_assert_ok(layers_source_open(fd, &src, &err), err);
	ck_assert_str_eq(layers_source_compression(src), "zstd");
	while ((r = layers_source_read(src, back + got, got + 777 <= n + 1000 ? 777 : 1, &err)) > 0)
		got += (size_t)r;
	ck_assert_ok(r < 0 ? -1 : 0, err);
	ck_assert_int_eq(got, n);
	ck_assert(memcmp(buf, back, n) == 0);
	ck_assert_int_eq(layers_source_bytes(src), n);
	ck_assert_int_gt(layers_source_raw_bytes(src), 0);
	ck_assert_int_eq(layers_source_read(src, back, 10, &err), 0);
	layers_source_free(src);
	close(fd);

	/* Freed after one read, with chunks still queued and the thread busy. */
	fd = open(zst, O_RDONLY | O_CLOEXEC);
	ck_assert_ok(layers_source_open(fd, &src, &err), err);
	ck_assert_int_gt(layers_source_read(src, back, 10, &err), 0);
	layers_source_free(src);
	close(fd);

	/* A truncated stream is an error at its end, not a short success. */
	fd = open(cut, O_RDONLY | O_CLOEXEC);
	ck_assert_ok(layers_source_open(fd, &src, &err), err);
	while ((r = layers_source_read(src, back, n, &err)) > 0)
		;
	ck_assert_int_lt(r, 0);
	ck_assert_ptr_nonnull(err);
	layers_source_free(src);
	close(fd);
	unit_scratch_cleanup(dir);
	free(buf);
	free(back);
}
END_TEST

/* ---- export: streamed, the same bytes as the tree applied and packed ---- */

/* Stores the tars @tars (plain) as the layers of image @ref, bottom first. */
static struct store_image *image_of_tars(const char *ref, char *const *tars, size_t n)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *config = store_config_new(0);
	struct store_desc *d = xcalloc(n, sizeof(*d));
	struct store_image *img = NULL;

	for (size_t i = 0; i < n; i++) {
		cleanup_close int fd = open(tars[i], O_RDONLY);
		struct layers_blob b;

		ck_assert_ok(layers_import_tar(st, fd, LAYERS_COMPRESSION_ZSTD, 0, &b, &err), err);
		store_config_add_diff_id(config, b.diff_id);
		d[i].media_type = (char *)b.media_type;
		memcpy(d[i].digest, b.digest, DIGEST_STR_LEN);
		d[i].size = (int64_t)b.size;
	}
	ck_assert_ok(store_image_write(st, config, d, n, ref, NULL, NULL, &err), err);
	ck_assert_ok(store_image_load(st, ref, &img, &err), err);
	free(d);
	return img;
}

static char *file_bytes(int fd, size_t *len)
{
	struct stat sb;
	char *buf;

	ck_assert_int_eq(fstat(fd, &sb), 0);
	buf = xmalloc((size_t)sb.st_size + 1);
	ck_assert_int_eq(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
	*len = (size_t)sb.st_size;
	return buf;
}

static size_t tmp_entries(void)
{
	cleanup_free char *p = xasprintf("%s/root/tmp", scratch);
	DIR *d = opendir(p);
	size_t n = 0;
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * Exports @img streamed and the slow way (applied to a directory, packed)
 * and checks both give the same bytes; returns the streamed tar's path.
 */
static char *export_matches_applied(const struct store_image *img, const char *name)
{
	cleanup_error struct strata_error *err = NULL;
	char *path = xasprintf("%s/%s.tar", scratch, name);
	cleanup_free char *slow = xasprintf("%s/%s.slow.tar", scratch, name);
	cleanup_free char *tree = xasprintf("%s.tree", name);
	cleanup_free char *a = NULL, *b = NULL;
	cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cleanup_close int sfd = open(slow, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cleanup_close int d = open_dir(tree);
	size_t alen, blen;

	ck_assert_ok(layers_export(st, img, fd, &err), err);
	ck_assert_uint_eq(tmp_entries(), 0);
	ck_assert_ok(layers_apply_image(st, img, d, &err), err);
	ck_assert_ok(layers_pack_tar_fd(d, sfd, -1, &err), err);
	a = file_bytes(fd, &alen);
	b = file_bytes(sfd, &blen);
	ck_assert_msg(alen == blen && !memcmp(a, b, alen),
		      "%s: the streamed export (%zu bytes) differs from the applied tree's tar "
		      "(%zu bytes)",
		      name, alen, blen);
	return path;
}

/* The paths in tar @path, one per line, in order. */
static char *tar_list(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *out = xstrdup("");

	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 1 << 16), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char *n = xasprintf("%s%s%s\n", out, archive_entry_pathname(e),
				    archive_entry_hardlink(e) ? " (link)" : "");

		free(out);
		out = n;
	}
	archive_read_free(a);
	return out;
}

struct xentry {
	const char *name;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK; a hardlink when link is set */
	const char *data;
	const char *link;
	long nsec; /* sub-second part of the mtime */
};

static char *make_xtar(const char *file, const struct xentry *t, size_t n)
{
	char *path = xasprintf("%s/%s", scratch, file);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		size_t len = t[i].data ? strlen(t[i].data) : 0;

		archive_entry_clear(e);
		archive_entry_set_pathname(e, t[i].name);
		archive_entry_set_mtime(e, 1000000 + (time_t)i, t[i].nsec);
		archive_entry_set_filetype(e, t[i].type);
		archive_entry_set_perm(e, t[i].type == AE_IFDIR ? 0750 + i % 8 : 0640 + i % 8);
		archive_entry_set_uid(e, (la_int64_t)i);
		archive_entry_set_gid(e, (la_int64_t)(2 * i));
		if (t[i].link) {
			archive_entry_set_hardlink(e, t[i].link);
			len = 0;
		} else if (t[i].type == AE_IFLNK) {
			archive_entry_set_symlink(e, t[i].data);
			len = 0;
		}
		archive_entry_set_size(e, (la_int64_t)len);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			archive_write_data(a, t[i].data, len);
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return path;
}

/* Bottom, middle and top layer: whiteouts, an opaque dir, types replaced, hardlinks. */
static const struct xentry x_bottom[] = {
	{ ".bashrc", AE_IFREG, "rc", NULL, 1 },
	{ ".config/", AE_IFDIR, NULL, NULL, 0 },
	{ ".config/a", AE_IFREG, "conf", NULL, 0 },
	{ "a/", AE_IFDIR, NULL, NULL, 500 },
	{ "a/f1", AE_IFREG, "one", NULL, 0 },
	{ "a/f2", AE_IFREG, "two", NULL, 999999999 },
	{ "d/", AE_IFDIR, NULL, NULL, 0 },
	{ "d/x", AE_IFREG, "x", NULL, 0 },
	{ "d/y/", AE_IFDIR, NULL, NULL, 0 },
	{ "d/y/z", AE_IFREG, "z", NULL, 0 },
	{ "dirfile/", AE_IFDIR, NULL, NULL, 0 },
	{ "dirfile/in", AE_IFREG, "in", NULL, 0 },
	{ "filedir", AE_IFREG, "was a file", NULL, 0 },
	{ "h1", AE_IFREG, "linked", NULL, 0 },
	{ "h2", AE_IFREG, NULL, "h1", 0 },
	{ "s", AE_IFLNK, "a/f2", NULL, 0 },
};
static const struct xentry x_middle[] = {
	{ ".wh..bashrc", AE_IFREG, NULL, NULL, 0 },
	{ ".wh..config", AE_IFREG, NULL, NULL, 0 },
	{ "a/", AE_IFDIR, NULL, NULL, 7 },
	{ "a/.wh.f1", AE_IFREG, NULL, NULL, 0 },
	{ "d/", AE_IFDIR, NULL, NULL, 0 },
	{ "d/.wh..wh..opq", AE_IFREG, NULL, NULL, 0 },
	{ "d/new", AE_IFREG, "new", NULL, 0 },
	{ "dirfile", AE_IFREG, "now a file", NULL, 0 },
	{ "filedir/", AE_IFDIR, NULL, NULL, 0 },
	{ "filedir/in", AE_IFREG, "now a dir", NULL, 0 },
	{ "m1", AE_IFREG, "middle", NULL, 0 },
	{ "m2", AE_IFREG, NULL, "m1", 0 },
};
static const struct xentry x_top[] = {
	{ ".bashrc", AE_IFREG, "again", NULL, 0 },
	{ "a/", AE_IFDIR, NULL, NULL, 0 },
	{ "a/f1", AE_IFREG, "back", NULL, 0 },
	{ "a/g", AE_IFREG, "g", NULL, 3 },
	{ "d/", AE_IFDIR, NULL, NULL, 0 },
	{ "d/.wh.new", AE_IFREG, NULL, NULL, 0 },
	{ "d/x", AE_IFREG, "x again", NULL, 0 },
	{ "t/", AE_IFDIR, NULL, NULL, 0 },
	{ "t/deep/", AE_IFDIR, NULL, NULL, 0 },
	{ "t/deep/f", AE_IFREG, "deep", NULL, 0 },
};

START_TEST(test_export_streams_layers)
{
	char *tars[3];
	struct store_image *img;
	cleanup_free char *out = NULL, *list = NULL;

	tars[0] = make_xtar("x0.tar", x_bottom, ARRAY_SIZE(x_bottom));
	tars[1] = make_xtar("x1.tar", x_middle, ARRAY_SIZE(x_middle));
	tars[2] = make_xtar("x2.tar", x_top, ARRAY_SIZE(x_top));
	/* one layer: streamed as it is */
	img = image_of_tars("x:one", tars, 1);
	free(export_matches_applied(img, "one"));
	store_image_free(img);
	/* three layers merged, whiteouts and opaque dirs applied */
	img = image_of_tars("x:three", tars, 3);
	out = export_matches_applied(img, "three");
	list = tar_list(out);
	ck_assert_str_eq(list, ".bashrc\n"
			       "a/\n"
			       "a/f1\n"
			       "a/f2\n"
			       "a/g\n"
			       "d/\n"
			       "d/x\n"
			       "dirfile\n"
			       "filedir/\n"
			       "filedir/in\n"
			       "h1\n"
			       "h2 (link)\n"
			       "m1\n"
			       "m2 (link)\n"
			       "s\n"
			       "t/\n"
			       "t/deep/\n"
			       "t/deep/f\n");
	store_image_free(img);
	for (size_t i = 0; i < 3; i++)
		free(tars[i]);
}
END_TEST

START_TEST(test_export_falls_back)
{
	/* a layer out of name order, and a hardlink whose target a later layer replaced */
	static const struct xentry unsorted[] = {
		{ "b", AE_IFREG, "b", NULL, 0 },
		{ "a/", AE_IFDIR, NULL, NULL, 0 },
		{ "a/x", AE_IFREG, "x", NULL, 0 },
	};
	static const struct xentry links[] = {
		{ "l", AE_IFREG, NULL, "t", 0 },
	};
	static const struct xentry target[] = {
		{ "t", AE_IFREG, "old", NULL, 0 },
	};
	static const struct xentry replace[] = {
		{ "t", AE_IFREG, "new", NULL, 0 },
	};
	char *tars[3];
	struct store_image *img;
	cleanup_free char *out = NULL, *list = NULL;

	tars[0] = make_xtar("u0.tar", unsorted, ARRAY_SIZE(unsorted));
	tars[1] = make_xtar("u1.tar", x_middle, ARRAY_SIZE(x_middle));
	img = image_of_tars("u:two", tars, 2);
	free(export_matches_applied(img, "unsorted"));
	store_image_free(img);
	free(tars[0]);
	free(tars[1]);

	tars[0] = make_xtar("t0.tar", target, ARRAY_SIZE(target));
	tars[1] = make_xtar("t1.tar", links, ARRAY_SIZE(links));
	tars[2] = make_xtar("t2.tar", replace, ARRAY_SIZE(replace));
	img = image_of_tars("t:three", tars, 3);
	out = export_matches_applied(img, "relinked");
	list = tar_list(out);
	ck_assert_str_eq(list, "l\nt\n");
	store_image_free(img);
	for (size_t i = 0; i < 3; i++)
		free(tars[i]);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("layers");
	TCase *tc;

	tc = tcase_create("unpack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unpack_basic_and_diff_id);
	tcase_add_test(tc, test_unpack_stays_inside);
	tcase_add_test(tc, test_unpack_refuses_escapes);
	tcase_add_test(tc, test_unpack_size_limit);
	tcase_add_test(tc, test_unpack_truncated_and_garbage);
	tcase_add_test(tc, test_file_replaces_dir_and_reverse);
	tcase_add_test(tc, test_whiteouts_vfs_apply);
	suite_add_tcase(s, tc);

	tc = tcase_create("compression");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parallel_gzip);
	tcase_add_test(tc, test_gzip_incompressible);
	tcase_add_test(tc, test_parallel_zstd);
	tcase_add_test(tc, test_zstd_frames);
	tcase_add_test(tc, test_zstd_memory_bounded);
	tcase_add_test(tc, test_source_read_ahead);
	tcase_add_test(tc, test_uncompressed_blob);
	tcase_add_test(tc, test_recompress);
	tcase_add_test(tc, test_layer_dir_stream);
	tcase_add_test(tc, test_layer_dir_stream_dropped);
	suite_add_tcase(s, tc);

	tc = tcase_create("root");
	unit_need_root(s, tc, "overlay whiteouts, owners, devices and trusted xattrs need root");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_whiteouts_overlay_and_aufs_round_trip);
	tcase_add_test(tc, test_pack_round_trip);
	tcase_add_test(tc, test_unpack_modes_and_owners);
	tcase_add_test(tc, test_pack_is_deterministic);
	tcase_add_test(tc, test_pack_uncached_tree);
	tcase_add_test(tc, test_pack_changes);
	tcase_add_test(tc, test_layer_dirs);
	tcase_add_test(tc, test_export_streams_layers);
	tcase_add_test(tc, test_export_falls_back);
	tcase_add_test(tc, test_layer_stage_adopt);
	suite_add_tcase(s, tc);
	return s;
}
