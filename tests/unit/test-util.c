/*
 * util: errors, path confinement, digests, atomic writes, sizes and times,
 * read-ahead, libraries loaded on first use.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/types.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tests/unit/unit.h"

static char *scratch;

static void setup(void)
{
	scratch = unit_scratch();
}

static void teardown(void)
{
	unit_scratch_cleanup(scratch);
	scratch = NULL;
}

/* ---- errors ---- */

static int fails_with(struct strata_error **err)
{
	return strata_fail(err, ENOENT, "open '%s'", "x");
}

START_TEST(test_error_wrap)
{
	cleanup_error struct strata_error *err = NULL;

	ck_assert_int_eq(fails_with(&err), -1);
	ck_assert_int_eq(strata_wrap(&err, "layer '%s'", "abc"), -1);
	ck_assert_str_eq(strata_error_msg(err), "layer 'abc': open 'x': No such file or directory");
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	/* The first failure is kept. */
	strata_fail(&err, EIO, "later");
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	ck_assert_int_eq(strata_fail(NULL, EIO, "ignored"), -1);
}
END_TEST

/* ---- paths ---- */

START_TEST(test_path_clean)
{
	static const char *const cases[][2] = {
		{ "a/b/c", "a/b/c" }, { "/a//b/", "a/b" },  { "./a/./b", "a/b" },
		{ "../../a", "a" },   { "a/../../b", "b" }, { "a/b/..", "a" },
		{ "/", "" },	      { "..", "" },	    { "a/.../b", "a/.../b" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *c = path_clean(cases[i][0]);

		ck_assert_msg(strcmp(c, cases[i][1]) == 0, "clean('%s') = '%s', want '%s'",
			      cases[i][0], c, cases[i][1]);
	}
}
END_TEST

START_TEST(test_path_join)
{
	cleanup_free char *a = path_join("/x/", "/y");
	cleanup_free char *b = path_join("/", "y");
	cleanup_free char *c = path_join("", "y");

	ck_assert_str_eq(a, "/x/y");
	ck_assert_str_eq(b, "/y");
	ck_assert_str_eq(c, "y");
}
END_TEST

/* Builds root/ with an escaping symlink and a sentinel file beside root. */
static int make_escape_tree(void)
{
	cleanup_free char *root = xasprintf("%s/root", scratch);
	cleanup_free char *outside = xasprintf("%s/outside", scratch);
	cleanup_free char *l1 = xasprintf("%s/root/up", scratch);
	cleanup_free char *l2 = xasprintf("%s/root/abs", scratch);
	cleanup_free char *l3 = xasprintf("%s/root/dir", scratch);
	cleanup_free char *inner = xasprintf("%s/root/dir/inner", scratch);
	cleanup_free char *decoy = xasprintf("%s/root/outside", scratch);

	ck_assert_int_eq(mkdir(root, 0755), 0);
	/* Where "up" lands when resolved inside the root. */
	ck_assert_int_eq(mkdir(decoy, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(mkdir(l3, 0755), 0);
	unit_write_file(inner, "in", 0644);
	ck_assert_int_eq(symlink("../../outside", l1), 0);
	ck_assert_int_eq(symlink("/", l2), 0);
	return open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void check_confined(void)
{
	cleanup_close int rootfd = make_escape_tree();
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *leak1 = xasprintf("%s/outside/pwned", scratch);
	cleanup_free char *inroot = xasprintf("%s/root/outside/pwned", scratch);
	int fd;

	/* "up" points above the root: in-root resolution clamps it at the root. */
	fd = path_open_in(rootfd, "up/pwned", O_WRONLY | O_CREAT, 0644, &err);
	ck_assert_ok(fd, err);
	close(fd);
	ck_assert_int_ne(access(leak1, F_OK), 0);
	ck_assert_int_eq(access(inroot, F_OK), 0);

	/* An absolute link re-anchors at the root. */
	fd = path_open_in(rootfd, "abs/dir/inner", O_RDONLY, 0, &err);
	ck_assert_ok(fd, err);
	close(fd);

	/* O_NOFOLLOW on the last component refuses the link itself. */
	fd = path_open_in(rootfd, "abs", O_RDONLY | O_NOFOLLOW, 0, &err);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(strata_error_code(err), ELOOP);
}

START_TEST(test_path_open_in_confined)
{
	check_confined();
}
END_TEST

START_TEST(test_path_open_in_fallback)
{
	unsigned long walks = path_walk_count();

	/* The component walk must give the same answers as openat2. */
	setenv("STRATA_TEST_NO_OPENAT2", "1", 1);
	check_confined();
	/* ...and it is what answered: all three resolutions were walks. */
	ck_assert_uint_ge(path_walk_count(), walks + 3);
}
END_TEST

START_TEST(test_path_mkdirs_in)
{
	cleanup_close int rootfd = make_escape_tree();
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *leak = xasprintf("%s/outside/x", scratch);
	cleanup_free char *made = xasprintf("%s/root/outside/x/y", scratch);
	int fd = path_mkdirs_in(rootfd, "up/x/y", 0755, &err);

	ck_assert_ok(fd, err);
	close(fd);
	ck_assert_int_ne(access(leak, F_OK), 0);
	ck_assert_int_eq(access(made, F_OK), 0);
}
END_TEST

START_TEST(test_path_mkdirs_owned_in)
{
	cleanup_close int rootfd = make_escape_tree();
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *dangling = xasprintf("%s/root/dangling", scratch);
	cleanup_free char *esc = xasprintf("%s/root/esc", scratch);
	cleanup_free char *loop = xasprintf("%s/root/loop", scratch);
	cleanup_free char *made = xasprintf("%s/root/target/sub", scratch);
	cleanup_free char *made_far = xasprintf("%s/root/far/x", scratch);
	cleanup_free char *leak = xasprintf("%s/far", scratch);
	struct stat st;
	int fd;

	/* A dangling symlink on the way has its target made, inside the root. */
	ck_assert_int_eq(symlink("target", dangling), 0);
	fd = path_mkdirs_owned_in(rootfd, "dangling/sub", 0755, 7, 8, &err);
	ck_assert_ok(fd, err);
	close(fd);
	ck_assert_int_eq(stat(made, &st), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(st.st_uid, 7);
		ck_assert_int_eq(st.st_gid, 8);
	}
	ck_assert_int_eq(symlink("../../../far", esc), 0);
	fd = path_mkdirs_owned_in(rootfd, "esc/x", 0755, (uid_t)-1, (gid_t)-1, &err);
	ck_assert_ok(fd, err);
	close(fd);
	ck_assert_int_eq(access(made_far, F_OK), 0);
	ck_assert_int_ne(access(leak, F_OK), 0);
	/* A loop ends in an error, not a hang. */
	ck_assert_int_eq(symlink("loop", loop), 0);
	ck_assert_int_eq(path_mkdirs_owned_in(rootfd, "loop/x", 0755, (uid_t)-1, (gid_t)-1, &err),
			 -1);
}
END_TEST

START_TEST(test_path_rm_rf)
{
	cleanup_close int rootfd = make_escape_tree();
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *outside = xasprintf("%s/outside", scratch);
	cleanup_free char *sentinel = xasprintf("%s/outside/keep", scratch);
	cleanup_free char *root = xasprintf("%s/root", scratch);

	unit_write_file(sentinel, "keep", 0644);
	/* Removing a tree never follows its symlinks. */
	ck_assert_ok(path_rm_rf_at(AT_FDCWD, root, &err), err);
	ck_assert_int_ne(access(root, F_OK), 0);
	ck_assert_int_eq(access(sentinel, F_OK), 0);
	ck_assert_ok(path_rm_rf_at(AT_FDCWD, root, &err), err);
}
END_TEST

/* ---- files ---- */

START_TEST(test_write_atomic)
{
	cleanup_close int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *buf = NULL;
	size_t len = 0;

	ck_assert_ok(file_write_atomic_at(dfd, "f", "one", 3, 0640, &err), err);
	ck_assert_ok(file_write_atomic_at(dfd, "f", "second", 6, 0640, &err), err);
	ck_assert_ok(file_read_at(dfd, "f", 100, &buf, &len, &err), err);
	ck_assert_str_eq(buf, "second");
	ck_assert_int_eq(len, 6);
	/* No temporary file is left beside it. */
	ck_assert_int_eq(unit_sh("test $(ls -A '%s' | wc -l) -eq 1", scratch), 0);
	/* A limit is enforced. */
	free(buf);
	buf = NULL;
	ck_assert_int_eq(file_read_at(dfd, "f", 3, &buf, &len, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EFBIG);
}
END_TEST

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

/* Pages of the file under @fd still dirty (not written back nor being written), or -1 where cachestat(2) is missing. */
static long dirty_pages(int fd)
{
	struct {
		__u64 off, len;
	} range = { 0, 0 };
	struct {
		__u64 nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
	} cs = { 0 };

	if (syscall(__NR_cachestat, fd, &range, &cs, 0) < 0)
		return -1;
	return (long)cs.nr_dirty;
}

/*
 * A record that need not be durable is replaced by exchanging names, not
 * renamed over (which makes ext4 write it out at once): the name gets the
 * new content atomically, a reader holding the old file keeps the old one,
 * the old content leaves no temporary file, and a first write still works.
 */
/* A stream of its own: two of one fd read every entry each; a link is not followed. */
START_TEST(test_opendir_at)
{
	cleanup_close int dfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *sub = xasprintf("%s/sub", scratch);
	cleanup_free char *link = xasprintf("%s/link", scratch);
	DIR *a, *b;
	int na = 0, nb = 0;

	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(symlink("sub", link), 0);
	a = file_opendir_at(dfd, ".");
	b = file_opendir_at(dfd, ".");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	while (readdir(a))
		na++;
	while (readdir(b))
		nb++;
	ck_assert_int_eq(na, 4); /* . .. sub link */
	ck_assert_int_eq(nb, 4);
	closedir(a);
	closedir(b);
	a = file_opendir_at(dfd, "sub");
	ck_assert_ptr_nonnull(a);
	closedir(a);
	ck_assert_ptr_null(file_opendir_at(dfd, "link"));
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_ptr_null(file_opendir_at(dfd, "none"));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_write_replace)
{
	cleanup_close int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *buf = NULL;
	cleanup_close int old = -1;
	char got[16] = { 0 };
	struct stat a, b;
	size_t len = 0;

	ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
	ck_assert_ok(file_write_replace_at(dfd, "d/f", "one", 3, 0640, &err), err);
	old = openat(dfd, "d/f", O_RDONLY);
	ck_assert_int_ge(old, 0);
	ck_assert_int_eq(fstat(old, &a), 0);
	ck_assert_ok(file_write_replace_at(dfd, "d/f", "second", 6, 0600, &err), err);
	ck_assert_ok(file_read_at(dfd, "d/f", 100, &buf, &len, &err), err);
	ck_assert_str_eq(buf, "second");
	ck_assert_int_eq(fstatat(dfd, "d/f", &b, 0), 0);
	ck_assert_int_ne(a.st_ino, b.st_ino);
	ck_assert_int_eq(b.st_mode & 07777, 0600);
	ck_assert_int_eq(pread(old, got, sizeof(got) - 1, 0), 3);
	ck_assert_str_eq(got, "one");
	ck_assert_int_eq(unit_sh("test \"$(ls -A '%s/d')\" = f", scratch), 0);
	/*
	 * On ext4 a rename over an existing file starts writing the new one
	 * out within the rename (auto_da_alloc): its page is never found
	 * dirty after it. The exchange leaves it dirty, unless the flusher
	 * (a busy machine's background writeback, a sync) came in between:
	 * one dirty page in ten tries.
	 */
	{
		struct statfs sf;
		bool seen_dirty = false;

		if (fstatfs(dfd, &sf) < 0 || sf.f_type != EXT4_SUPER_MAGIC || dirty_pages(dfd) < 0)
			return;
		for (int i = 0; i < 10 && !seen_dirty; i++) {
			cleanup_close int fd = -1;

			ck_assert_ok(file_write_replace_at(dfd, "d/f", "third", 5, 0600, &err), err);
			fd = openat(dfd, "d/f", O_RDONLY);
			ck_assert_int_ge(fd, 0);
			seen_dirty = dirty_pages(fd) == 1;
		}
		ck_assert_msg(seen_dirty, "a replaced record was written out at once");
	}
}
END_TEST

/* ---- digests ---- */

START_TEST(test_digest_known)
{
	char d[DIGEST_STR_LEN];

	digest_buf("", 0, d);
	ck_assert_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest_buf("abc", 3, d);
	ck_assert_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_digest_streaming_equals_whole)
{
	struct digester *dg = digester_new();
	char a[DIGEST_STR_LEN], b[DIGEST_STR_LEN];
	char *big = xmalloc(1 << 20);

	for (int i = 0; i < (1 << 20); i++)
		big[i] = (char)(i * 7);
	for (int off = 0; off < (1 << 20); off += 4099) {
		int n = (1 << 20) - off < 4099 ? (1 << 20) - off : 4099;

		digester_update(dg, big + off, (size_t)n);
	}
	digester_final(dg, a);
	digester_free(dg);
	digest_buf(big, 1 << 20, b);
	ck_assert_str_eq(a, b);
	free(big);
}
END_TEST

START_TEST(test_strmap)
{
	struct strmap m = STRMAP_INIT;
	char key[32];
	void *old = NULL;

	ck_assert(!strmap_has(&m, "a"));
	ck_assert_ptr_null(strmap_get(&m, "a"));
	/* Many keys: the table grows and every key stays found. */
	for (uintptr_t i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		ck_assert(strmap_put(&m, key, (void *)(i + 1), NULL));
	}
	ck_assert_uint_eq(m.len, 20000);
	for (uintptr_t i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		ck_assert_ptr_eq(strmap_get(&m, key), (void *)(i + 1));
	}
	ck_assert(!strmap_has(&m, "k20000"));
	/* A put on a present key replaces and returns the old value. */
	ck_assert(!strmap_put(&m, "k7", (void *)42, &old));
	ck_assert_ptr_eq(old, (void *)8);
	ck_assert_ptr_eq(strmap_get(&m, "k7"), (void *)42);
	/* The set form. */
	ck_assert(!strmap_add(&m, "k7"));
	ck_assert(strmap_add(&m, ""));
	ck_assert(strmap_has(&m, ""));
	ck_assert_uint_eq(m.len, 20001);
	strmap_release(&m, NULL);
	ck_assert_uint_eq(m.len, 0);
	ck_assert(!strmap_has(&m, "k1"));
	/* Values are freed on request. */
	strmap_put(&m, "x", xstrdup("owned"), NULL);
	strmap_release(&m, free);
}
END_TEST

START_TEST(test_xgrow_doubles)
{
	size_t cap = 0, grows = 0, last = 0;
	uint32_t *v = NULL;

	for (size_t i = 0; i < 100000; i++) {
		v = xgrow(v, &cap, i, sizeof(*v));
		ck_assert_uint_gt(cap, i);
		if (cap != last) {
			ck_assert(last == 0 || cap == 2 * last);
			grows++;
			last = cap;
		}
		v[i] = (uint32_t)i * 7;
	}
	/* 8 doubled to 131072: 15 reallocs for 100,000 appends, not 100,000 */
	ck_assert_uint_eq(cap, 131072);
	ck_assert_uint_eq(grows, 15);
	for (size_t i = 0; i < 100000; i++)
		ck_assert_uint_eq(v[i], (uint32_t)i * 7);
	/* an index far past the capacity gets room for itself at once */
	v = xgrow(v, &cap, 1000000, sizeof(*v));
	ck_assert_uint_eq(cap, 1000001);
	v[1000000] = 1;
	free(v);
}
END_TEST

START_TEST(test_xgrow_overflow_aborts)
{
	size_t cap = SIZE_MAX / 16 + 1;
	char *p = NULL;

	/* the doubled size would wrap: abort rather than allocate too little */
	p = xgrow(p, &cap, cap, 16);
	free(p);
}
END_TEST

START_TEST(test_strmap_sized_borrowed)
{
	struct strmap m;
	char buf[] = "alpha\0beta\0gamma";
	const char *keys[] = { buf, buf + 6, buf + 11 };

	strmap_init_sized(&m, 3, true);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		ck_assert(strmap_put(&m, keys[i], (void *)(uintptr_t)(i + 1), NULL));
	/* Borrowed: the map holds the caller's pointers, not copies. */
	ck_assert_ptr_eq(strmap_get(&m, "beta"), (void *)2);
	ck_assert(!strmap_add(&m, "gamma"));
	/* Sized for 3, it still grows past them. */
	char *extra[100];

	for (int i = 0; i < 100; i++) {
		extra[i] = xasprintf("extra%d", i);
		ck_assert(strmap_add(&m, extra[i]));
		ck_assert_uint_eq(m.len, (size_t)(4 + i));
	}
	ck_assert_ptr_eq(strmap_get(&m, "alpha"), (void *)1);
	ck_assert(strmap_has(&m, "extra99"));
	strmap_release(&m, NULL); /* frees no key: they are the caller's */
	for (int i = 0; i < 100; i++)
		free(extra[i]);
}
END_TEST

/* Scans @doc whole with jscan: true when it is one valid value and nothing after it. */
static bool jscan_accepts(const char *doc)
{
	char *copy = xstrdup(doc);
	struct jscan j;
	bool ok;

	jscan_init(&j, copy, strlen(copy));
	ok = jscan_skip(&j) && jscan_at_end(&j);
	free(copy);
	return ok;
}

START_TEST(test_jscan_agrees_with_jansson)
{
	/* Each is accepted by both or refused by both (jansson: an object or array at the top). */
	static const char *const docs[] = {
		"{}", "[]", " { \"a\" : [1, -2, 3.5e+2, true, false, null, \"x\"] } ",
		"{\"k\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\\\\/\"}", "[\"caf\xc3\xa9\"]", "[0]", "[-0.0]",
		"[1e5]", "[9223372036854775807]", "[-9223372036854775808]",
		/* refused */
		"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "[01]", "[1.]", "[.5]", "[+1]", "[1e]",
		"[\"\\u0000\"]", "[\"\\ud800\"]", "[\"\\udc00x\"]", "[\"\\x\"]", "[\"a\tb\"]",
		"[\"\xff\"]", "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[tru]", "[nul]", "{} x",
		"[9223372036854775808]", "{\"a\":1}{}", "[\"unterminated]",
	};

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		json_error_t jerr;
		json_t *j = json_loads(docs[i], 0, &jerr);

		ck_assert_msg(jscan_accepts(docs[i]) == (j != NULL), "jscan and jansson disagree on '%s'",
			      docs[i]);
		json_decref(j);
	}
}
END_TEST

START_TEST(test_jscan_decodes_in_place)
{
	char doc[] = "{\"name\": \"a\\\"b\\u00e9\\ud83d\\ude00\", \"n\": 42, \"skip\": {\"x\": [1, {}]}, "
		     "\"f\": 1.5}";
	struct jscan j;
	bool first = true, is_int = false;
	char *key, *name = NULL;
	int64_t n = 0, f = -1;

	jscan_init(&j, doc, strlen(doc));
	ck_assert(jscan_enter(&j, '{'));
	while (jscan_object_next(&j, &first, &key)) {
		if (strcmp(key, "name") == 0) {
			ck_assert_int_eq(jscan_peek(&j), '"');
			name = jscan_string(&j);
		} else if (strcmp(key, "n") == 0) {
			ck_assert(jscan_number(&j, &n, &is_int));
			ck_assert(is_int);
		} else if (strcmp(key, "f") == 0) {
			ck_assert(jscan_number(&j, &f, &is_int));
			ck_assert(!is_int);
		} else {
			ck_assert(jscan_skip(&j));
		}
	}
	ck_assert(!j.failed);
	ck_assert(jscan_at_end(&j));
	ck_assert_str_eq(name, "a\"b\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_int_eq(n, 42);
	ck_assert_int_eq(f, 0);
}
END_TEST

START_TEST(test_base64)
{
	cleanup_free char *e = base64_encode("user:pa:ss", 10);
	cleanup_free char *d = base64_decode(e);
	cleanup_free char *bad = base64_decode("!!!");

	ck_assert_str_eq(e, "dXNlcjpwYTpzcw==");
	ck_assert_str_eq(d, "user:pa:ss");
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_digest_valid)
{
	ck_assert(digest_is_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_is_valid("sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_is_valid("sha256:e3b0"));
	ck_assert(!digest_is_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_is_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
	ck_assert(!digest_is_valid(NULL));
}
END_TEST

/* ---- sizes and times ---- */

START_TEST(test_size_parse)
{
	uint64_t v;

	ck_assert_int_eq(size_parse("64m", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 20);
	ck_assert_int_eq(size_parse("1g", &v), 0);
	ck_assert_uint_eq(v, 1ULL << 30);
	ck_assert_int_eq(size_parse("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(size_parse("1.5k", &v), 0);
	ck_assert_uint_eq(v, 1536);
	ck_assert_int_eq(size_parse("2MiB", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 20);
	ck_assert_int_eq(size_parse("-1m", &v), -1);
	ck_assert_int_eq(size_parse("12q", &v), -1);
	ck_assert_int_eq(size_parse("", &v), -1);
}
END_TEST

START_TEST(test_time_roundtrip)
{
	cleanup_free char *s = time_rfc3339(1700000000, 500000000);
	int64_t sec;
	long nsec;

	ck_assert_str_eq(s, "2023-11-14T22:13:20.5Z");
	ck_assert_int_eq(time_parse_rfc3339(s, &sec, &nsec), 0);
	ck_assert_int_eq(sec, 1700000000);
	ck_assert_int_eq(nsec, 500000000);
	ck_assert_int_eq(time_parse_rfc3339("2023-11-14T23:13:20+01:00", &sec, NULL), 0);
	ck_assert_int_eq(sec, 1700000000);
	ck_assert_int_eq(time_parse_rfc3339("yesterday", &sec, NULL), -1);
}
END_TEST

START_TEST(test_size_human)
{
	cleanup_free char *a = size_human(999, SIZE_LIST);
	cleanup_free char *b = size_human(1234567, SIZE_LIST);
	cleanup_free char *c = size_human(123456789, SIZE_LIST);

	ck_assert_str_eq(a, "999B");
	ck_assert_str_eq(b, "1.23MB");
	ck_assert_str_eq(c, "123MB");

	/* go-units' HumanSize of podman's system df, and no exponent where %g would write one */
	static const struct {
		uint64_t n;
		int digits;
		const char *want;
	} cases[] = {
		{ 0, SIZE_DF, "0B" },
		{ 999, SIZE_DF, "999B" },
		{ 1000, SIZE_DF, "1kB" },
		{ 1234567, SIZE_DF, "1.235MB" },
		{ 123456789, SIZE_DF, "123.5MB" },
		{ 4283000, SIZE_DF, "4.283MB" },
		{ 999700, SIZE_LIST, "1000kB" },
		{ 99960, SIZE_LIST, "100kB" },
		{ 2000000000000000000ULL, SIZE_DF, "2000PB" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *got = size_human(cases[i].n, cases[i].digits);

		ck_assert_msg(strcmp(got, cases[i].want) == 0, "%llu, %d digits: %s, want %s",
			      (unsigned long long)cases[i].n, cases[i].digits, got, cases[i].want);
	}
}
END_TEST

START_TEST(test_jv_string_non_utf8)
{
	json_t *j = jv_string("ok\xff");

	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(j), "ok?");
	json_decref(j);
}
END_TEST

/* ---- read-ahead ---- */

static int open_scratch_dir(const char *name)
{
	cleanup_free char *p = path_join(scratch, name);
	int fd;

	ck_assert_int_eq(mkdir(p, 0755), 0);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Reads file @f of directory @d through @ra and checks its bytes. */
static void read_tree_file(struct read_ahead *ra, int t, int d, int f)
{
	cleanup_free char *name = xasprintf("d%02d/f%03d", d, f);
	cleanup_close int fd = openat(t, name, O_RDONLY | O_CLOEXEC);
	unsigned char buf[4096];
	size_t got = 0;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read_ahead_read(ra, fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	ck_assert_int_eq(got, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], unit_file_tree_byte(d, f, i));
}

/*
 * A cached tree: reads go through, the files are left alone, no thread is
 * started; so do reads that cannot say.
 */
START_TEST(test_read_ahead_warm)
{
	cleanup_close int t = open_scratch_dir("warm");
	struct read_ahead *ra;

	unit_make_file_tree(t, 3, 5);
	ra = read_ahead_start(t);
	if (sys_ncpus() < 2) {
		ck_assert_ptr_null(ra);
		return;
	}
	ck_assert_ptr_nonnull(ra);
	for (int d = 0; d < 3; d++)
		for (int f = 0; f < 5; f++) {
			read_tree_file(ra, t, d, f);
			read_ahead_entry_done(ra);
		}
	ck_assert(!read_ahead_cold(ra));
	ck_assert(!read_ahead_running(ra));
	/* procfs (like overlayfs) refuses RWF_NOWAIT: a plain read then, not "uncached" */
	{
		cleanup_close int proc = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		char buf[64];

		ck_assert_int_ge(proc, 0);
		ck_assert_int_gt(read_ahead_read(ra, proc, buf, sizeof(buf)), 0);
		ck_assert_int_gt(read_ahead_read(ra, proc, buf, sizeof(buf)), 0);
	}
	ck_assert(!read_ahead_cold(ra));
	read_ahead_stop(ra);
	read_ahead_stop(NULL);
}
END_TEST

/* Uncached data: the read says so, and the thread has the files further on read to their ends. */
START_TEST(test_read_ahead_cold)
{
	cleanup_close int t = open_scratch_dir("cold");
	size_t big = unit_file_tree_size(10, 30, 9, 29);
	struct read_ahead *ra;
	int tries;

	unit_make_file_tree(t, 10, 30);
	unit_evict_file_tree(t, 10, 30);
	if (!unit_uncached_or_skip(t, "d00/f000", 0, "read-ahead of uncached data") ||
	    !unit_uncached_or_skip(t, "d09/f029", (off_t)big - 1, "read-ahead of uncached data"))
		return;
	ra = read_ahead_start(t);
	if (sys_ncpus() < 2) {
		ck_assert_ptr_null(ra);
		return;
	}
	ck_assert_ptr_nonnull(ra);
	ck_assert(!read_ahead_cold(ra));
	ck_assert(!read_ahead_running(ra));
	read_tree_file(ra, t, 0, 0);
	ck_assert(read_ahead_cold(ra));
	ck_assert(read_ahead_running(ra));
	for (tries = 0; tries < 300 && unit_uncached(t, "d09/f029", (off_t)big - 1); tries++)
		usleep(10000);
	ck_assert_msg(tries < 300, "the read-ahead did not read d09/f029 to its end");
	read_ahead_stop(ra);
}
END_TEST

/*
 * The walk made the disk read for it without a read of file data through
 * the read-ahead (a directory, an inode: here a file read with read(2)):
 * the thread starts within 16 entries, reading directories only.
 */
START_TEST(test_read_ahead_starts_on_disk_reads)
{
	cleanup_close int t = open_scratch_dir("meta");
	struct read_ahead *ra;
	char buf[4096];
	int e;

	unit_make_file_tree(t, 2, 4);
	unit_evict_file_tree(t, 2, 4);
	if (!unit_uncached_or_skip(t, "d01/f003", 0, "read-ahead started by disk reads"))
		return;
	ra = read_ahead_start(t);
	if (sys_ncpus() < 2) {
		ck_assert_ptr_null(ra);
		return;
	}
	for (e = 0; e < 15; e++)
		read_ahead_entry_done(ra);
	ck_assert(!read_ahead_running(ra));
	{
		cleanup_close int fd = openat(t, "d01/f003", O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_gt(read(fd, buf, sizeof(buf)), 0);
	}
	for (e = 0; e < 16 && !read_ahead_running(ra); e++)
		read_ahead_entry_done(ra);
	ck_assert_msg(read_ahead_running(ra), "no thread after a read from the disk");
	ck_assert(!read_ahead_cold(ra));
	read_ahead_stop(ra);
}
END_TEST

/*
 * A batch through io_uring: opens (one failing), reads linked to closes,
 * a read of a kept fd; every result where its slot says.
 */
START_TEST(test_uring_batch)
{
	struct uring *u = NULL;
	cleanup_close int dfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char a[8] = { 0 }, b[8] = { 0 };
	int32_t res[8];

	/* the way to do without, for kernels or filters that refuse it (and memcheck) */
	if (getenv("STRATA_NO_IO_URING")) {
		ck_assert_ptr_null(uring_new(16, 0));
		return;
	}
	u = uring_new(16, URING_ASYNC);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(file_write_atomic_at(dfd, "a", "alpha", 5, 0644, NULL), 0);
	ck_assert_int_eq(file_write_atomic_at(dfd, "b", "beta", 4, 0644, NULL), 0);
	ck_assert_uint_eq(uring_room(u), 16);
	uring_openat(u, dfd, "a", O_RDONLY | O_CLOEXEC, 0);
	uring_openat(u, dfd, "b", O_RDONLY | O_CLOEXEC, 1);
	uring_openat(u, dfd, "missing", O_RDONLY | O_CLOEXEC, 2);
	ck_assert_uint_eq(uring_room(u), 13);
	ck_assert_int_eq(uring_run(u, res, 8), 0);
	ck_assert_int_ge(res[0], 0);
	ck_assert_int_ge(res[1], 0);
	ck_assert_int_eq(res[2], -ENOENT);
	/* a: read (more than it holds: short) and closed; b: read, kept open */
	uring_read_close(u, res[0], a, sizeof(a), 3, 4);
	uring_read(u, res[1], b, 2, 1, 5);
	ck_assert_int_eq(uring_run(u, res + 0, 8), 0);
	ck_assert_int_eq(res[3], 5);
	ck_assert_int_eq(res[4], 0);
	ck_assert_int_eq(res[5], 2);
	ck_assert_str_eq(a, "alpha");
	ck_assert_str_eq(b, "et");
	ck_assert_int_eq(close(res[1]), 0);
	uring_free(u);
	setenv("STRATA_NO_IO_URING", "1", 1);
	ck_assert_ptr_null(uring_new(16, 0));
	unsetenv("STRATA_NO_IO_URING");
}
END_TEST

/* ---- bufring ---- */

struct ring_seen {
	struct digester *d;
	uint64_t next_off;
	int calls;
	int fail_at; /* the call that returns EIO, or 0 */
};

static int ring_take(void *arg, unsigned char *buf, size_t len, uint64_t off)
{
	struct ring_seen *t = arg;

	if (off != t->next_off)
		return EPROTO; /* out of order, or a gap */
	t->next_off += len;
	if (++t->calls == t->fail_at)
		return EIO;
	/* the room past len, up to the alignment, is the function's to pad */
	memset(buf + len, 0xaa, (4096 - len % 4096) % 4096);
	digester_update(t->d, buf, len);
	return 0;
}

START_TEST(test_bufring_in_order)
{
	struct ring_seen t = { .d = digester_new() };
	struct digester *want = digester_new();
	struct bufring *r = bufring_new(3, 64 << 10, 4096, ring_take, &t);
	unsigned char piece[10007];
	char a[DIGEST_STR_LEN], b[DIGEST_STR_LEN];
	uint64_t total = 0;

	ck_assert_ptr_nonnull(r);
	/* pieces that straddle buffers, and a partial last buffer */
	for (int i = 0; i < 300; i++) {
		size_t n = (size_t)(i * 37) % sizeof(piece) + 1;

		for (size_t j = 0; j < n; j++)
			piece[j] = (unsigned char)(i + j);
		digester_update(want, piece, n);
		ck_assert_int_eq(bufring_write(r, piece, n), 0);
		total += n;
	}
	ck_assert_int_eq(bufring_finish(r), 0);
	ck_assert_uint_eq(t.next_off, total);
	digester_final(t.d, a);
	digester_final(want, b);
	ck_assert_str_eq(a, b);
	digester_free(t.d);
	digester_free(want);
}
END_TEST

START_TEST(test_bufring_error_sticks)
{
	struct ring_seen t = { .d = digester_new(), .fail_at = 2 };
	struct bufring *r = bufring_new(2, 4096, 0, ring_take, &t);
	unsigned char page[4096] = { 0 };
	int e = 0;

	ck_assert_ptr_nonnull(r);
	for (int i = 0; i < 20 && !e; i++)
		e = bufring_write(r, page, sizeof(page));
	/* the error comes back from a later write or from the finish */
	if (!e)
		e = bufring_finish(r);
	else
		bufring_free(r);
	ck_assert_int_eq(e, EIO);
	ck_assert_int_eq(t.calls, 2); /* nothing more handed on after the failure */
	/* dropped with data queued: no hang, nothing handed on */
	t.calls = 0;
	t.fail_at = 0;
	t.next_off = 0;
	r = bufring_new(2, 4096, 0, ring_take, &t);
	ck_assert_int_eq(bufring_write(r, page, 100), 0);
	bufring_free(r);
	ck_assert_int_eq(t.calls, 0);
	digester_free(t.d);
}
END_TEST

/* ---- libraries loaded on first use ---- */

/* libm's cos(): a real system library every glibc system has. */
struct m_table {
	double (*cos)(double);
	double (*sqrt)(double);
};

static const struct dlib_sym m_syms[] = {
	DLIB_SYM(struct m_table, cos, "cos"),
	DLIB_SYM(struct m_table, sqrt, "sqrt"),
};

START_TEST(test_dlib_loads_real_library)
{
	static const char *const names[] = {"libm.so.6", NULL};
	struct m_table t = {0};
	struct dlib lib = DLIB_INIT(names, m_syms, &t, NULL);
	cleanup_error struct strata_error *err = NULL;

	ck_assert_ok(dlib_load(&lib, &err), err);
	ck_assert_str_eq(lib.soname, "libm.so.6");
	ck_assert_str_eq(dlib_error(&lib), "");
	ck_assert_ptr_nonnull(t.cos);
	ck_assert(t.cos(0.0) == 1.0);
	ck_assert(t.sqrt(16.0) == 4.0);
	ck_assert(dlib_ready(&lib));
}
END_TEST

START_TEST(test_dlib_soname_fallback)
{
	static const char *const names[] = {"libstrata-no-such.so.9", "libm.so.6", NULL};
	struct m_table t = {0};
	struct dlib lib = DLIB_INIT(names, m_syms, &t, NULL);

	ck_assert(dlib_ready(&lib));
	ck_assert_str_eq(lib.soname, "libm.so.6");
	ck_assert(t.sqrt(9.0) == 3.0);
}
END_TEST

START_TEST(test_dlib_missing_library)
{
	static const char *const names[] = {"libstrata-no-such.so.9", "libstrata-nor-this.so.1",
					    NULL};
	struct m_table t = {0};
	struct dlib lib = DLIB_INIT(names, m_syms, &t, NULL);
	cleanup_error struct strata_error *err = NULL;

	ck_assert_int_eq(dlib_load(&lib, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOSYS);
	/* the preferred soname is the one named, with dlopen's reason */
	ck_assert_msg(str_has_prefix(strata_error_msg(err), "cannot load libstrata-no-such.so.9: "),
		      "%s", strata_error_msg(err));
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "cannot open shared object file"));
	ck_assert_str_eq(dlib_error(&lib), strata_error_msg(err));
	ck_assert_ptr_null(t.cos);
	/* the failure is kept: the same answer again, no second try */
	ck_assert(!dlib_ready(&lib));
}
END_TEST

START_TEST(test_dlib_missing_symbol)
{
	static const char *const names[] = {"libm.so.6", NULL};
	struct m_table t = {0};
	static const struct dlib_sym syms[] = {
		DLIB_SYM(struct m_table, cos, "cos"),
		DLIB_SYM(struct m_table, sqrt, "strata_no_such_function"),
	};
	struct dlib lib = DLIB_INIT(names, syms, &t, NULL);
	cleanup_error struct strata_error *err = NULL;

	ck_assert_int_eq(dlib_load(&lib, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOSYS);
	ck_assert_str_eq(strata_error_msg(err), "libm.so.6 has no 'strata_no_such_function'");
	ck_assert(!dlib_ready(&lib));
}
END_TEST

static int init_calls;

static const char *init_fails(void)
{
	init_calls++;
	return "initialisation failed";
}

START_TEST(test_dlib_init_once)
{
	static const char *const names[] = {"libm.so.6", NULL};
	struct m_table t = {0};
	struct dlib lib = DLIB_INIT(names, m_syms, &t, init_fails);

	init_calls = 0;
	ck_assert(!dlib_ready(&lib));
	ck_assert(!dlib_ready(&lib));
	ck_assert_int_eq(init_calls, 1);
	ck_assert_str_eq(dlib_error(&lib), "libm.so.6: initialisation failed");
}
END_TEST

/* Threads racing for the first load: one load, every thread sees it done. */
static struct m_table race_table;
static const char *const race_names[] = {"libm.so.6", NULL};
static struct dlib race_lib = DLIB_INIT(race_names, m_syms, &race_table, NULL);

static void *race_load(void *arg)
{
	(void)arg;
	return dlib_ready(&race_lib) && race_table.cos(0.0) == 1.0 ? &race_lib : NULL;
}

START_TEST(test_dlib_threads)
{
	pthread_t th[8];
	void *ret;

	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, race_load, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++) {
		ck_assert_int_eq(pthread_join(th[i], &ret), 0);
		ck_assert_ptr_eq(ret, &race_lib);
	}
}
END_TEST

/* ---- id maps ---- */

START_TEST(test_idmap_parse_and_map)
{
	struct idmap m = { 0 };
	struct strata_error *err = NULL;
	char k1[DIGEST_HEX_LEN + 1], k2[DIGEST_HEX_LEN + 1];
	unsigned out = 0;
	char *text;

	ck_assert_ok(idmap_ranges_add("0:1:1001", &m.uid, &m.n_uid, &err), err);
	ck_assert_ok(idmap_ranges_add("1001:0:1,1002:1002:64535", &m.uid, &m.n_uid, &err), err);
	ck_assert_uint_eq(m.n_uid, 3);
	text = idmap_ranges_text(m.uid, m.n_uid);
	ck_assert_str_eq(text, "0:1:1001,1001:0:1,1002:1002:64535");
	free(text);
	ck_assert(idmap_to_outside(m.uid, m.n_uid, 0, &out) && out == 1);
	ck_assert(idmap_to_outside(m.uid, m.n_uid, 1001, &out) && out == 0);
	ck_assert(idmap_to_outside(m.uid, m.n_uid, 65536, &out) && out == 65536);
	ck_assert(!idmap_to_outside(m.uid, m.n_uid, 65537, &out));
	ck_assert(idmap_to_inside(m.uid, m.n_uid, 0, &out) && out == 1001);
	ck_assert(idmap_to_inside(m.uid, m.n_uid, 1000, &out) && out == 999);
	ck_assert(!idmap_to_inside(m.uid, m.n_uid, 70000, &out));
	/* overlaps on either side, malformed, empty, past 2^32-2 */
	ck_assert_int_eq(idmap_ranges_add("5:100000:1", &m.uid, &m.n_uid, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "overlaps"));
	strata_error_free(err);
	err = NULL;
	ck_assert_int_eq(idmap_ranges_add("70000:0:1", &m.uid, &m.n_uid, NULL), -1);
	ck_assert_int_eq(idmap_ranges_add("0:1", &m.gid, &m.n_gid, NULL), -1);
	ck_assert_int_eq(idmap_ranges_add("0:-1:5", &m.gid, &m.n_gid, NULL), -1);
	ck_assert_int_eq(idmap_ranges_add("0:1:0", &m.gid, &m.n_gid, NULL), -1);
	ck_assert_int_eq(idmap_ranges_add("0:4294967290:10", &m.gid, &m.n_gid, NULL), -1);
	ck_assert_int_eq(idmap_ranges_add("0:1:5x", &m.gid, &m.n_gid, NULL), -1);
	ck_assert(!idmap_is_set(&m));
	ck_assert_ok(idmap_ranges_add("0:1:1001", &m.gid, &m.n_gid, &err), err);
	ck_assert(idmap_is_set(&m));
	/* the key names the map: uid and gid maps both count */
	idmap_key(&m, k1);
	ck_assert_uint_eq(strlen(k1), DIGEST_HEX_LEN);
	ck_assert_ok(idmap_ranges_add("1001:0:1", &m.gid, &m.n_gid, &err), err);
	idmap_key(&m, k2);
	ck_assert_str_ne(k1, k2);
	idmap_release(&m);
	ck_assert_uint_eq(m.n_uid, 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("errors");
	tcase_add_test(tc, test_error_wrap);
	suite_add_tcase(s, tc);

	tc = tcase_create("paths");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_path_clean);
	tcase_add_test(tc, test_path_join);
	tcase_add_test(tc, test_path_open_in_confined);
	tcase_add_test(tc, test_path_open_in_fallback);
	tcase_add_test(tc, test_path_mkdirs_in);
	tcase_add_test(tc, test_path_mkdirs_owned_in);
	tcase_add_test(tc, test_path_rm_rf);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_atomic);
	tcase_add_test(tc, test_write_replace);
	tcase_add_test(tc, test_opendir_at);
	suite_add_tcase(s, tc);

	tc = tcase_create("strmap");
	tcase_add_test(tc, test_strmap);
	tcase_add_test(tc, test_strmap_sized_borrowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("xgrow");
	tcase_add_test(tc, test_xgrow_doubles);
	tcase_add_test_raise_signal(tc, test_xgrow_overflow_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("digests");
	tcase_add_test(tc, test_digest_known);
	tcase_add_test(tc, test_digest_streaming_equals_whole);
	tcase_add_test(tc, test_digest_valid);
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);

	tc = tcase_create("formats");
	tcase_add_test(tc, test_size_parse);
	tcase_add_test(tc, test_time_roundtrip);
	tcase_add_test(tc, test_size_human);
	tcase_add_test(tc, test_jv_string_non_utf8);
	tcase_add_test(tc, test_jscan_agrees_with_jansson);
	tcase_add_test(tc, test_jscan_decodes_in_place);
	suite_add_tcase(s, tc);

	tc = tcase_create("read-ahead");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_ahead_warm);
	tcase_add_test(tc, test_read_ahead_cold);
	tcase_add_test(tc, test_read_ahead_starts_on_disk_reads);
	suite_add_tcase(s, tc);

	tc = tcase_create("bufring");
	tcase_add_test(tc, test_bufring_in_order);
	tcase_add_test(tc, test_bufring_error_sticks);
	suite_add_tcase(s, tc);

	tc = tcase_create("io_uring");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_uring_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("dlib");
	tcase_add_test(tc, test_dlib_loads_real_library);
	tcase_add_test(tc, test_dlib_soname_fallback);
	tcase_add_test(tc, test_dlib_missing_library);
	tcase_add_test(tc, test_dlib_missing_symbol);
	tcase_add_test(tc, test_dlib_init_once);
	tcase_add_test(tc, test_dlib_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("idmap");
	tcase_add_test(tc, test_idmap_parse_and_map);
	suite_add_tcase(s, tc);
	return s;
}
