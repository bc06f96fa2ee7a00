/*
 * store: blobs, references, tags, images, containers, gc, fsck, locking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/unit/unit.h"

static char *scratch;
static struct store *st;

/* An O_DIRECTORY fd on the store's root, closed at the end of the test process. */
static int root_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open(store_root(st), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

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

static int count_entries(const char *rel)
{
	cleanup_free char *cmd = xasprintf("test $(ls -A '%s/%s' | wc -l) -eq 0", store_root(st), rel);

	return unit_sh("%s", cmd) == 0 ? 0 : 1;
}

/* ---- layout ---- */

START_TEST(test_layout_is_oci)
{
	cleanup_free char *buf = NULL;
	cleanup_error struct strata_error *err = NULL;

	ck_assert_ok(file_read_at(root_fd(), "oci-layout", 1000, &buf, NULL, &err), err);
	ck_assert_str_eq(buf, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(buf);
	buf = NULL;
	ck_assert_ok(file_read_at(root_fd(), "index.json", 1000, &buf, NULL, &err), err);
	ck_assert_str_eq(buf, "{\"schemaVersion\":2,\"manifests\":[]}");
	ck_assert_int_eq(faccessat(root_fd(), "blobs/sha256", F_OK, 0), 0);
}
END_TEST

/* ---- blobs ---- */

START_TEST(test_blob_put_and_read)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *buf = NULL;
	char d[DIGEST_STR_LEN];
	size_t len;

	ck_assert_ok(store_blob_put_buf(st, "hello", 5, NULL, d, &err), err);
	ck_assert_str_eq(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	ck_assert(store_blob_exists(st, d));
	ck_assert_ok(store_blob_read(st, d, 100, &buf, &len, &err), err);
	ck_assert_int_eq(len, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(count_entries("tmp"), 0);
}
END_TEST

START_TEST(test_blob_mismatch_leaves_nothing)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_blob_writer *w = NULL;
	char d[DIGEST_STR_LEN];
	static const char wrong[] =
		"sha256:0000000000000000000000000000000000000000000000000000000000000000";

	ck_assert_ok(store_blob_writer_new(st, &w, &err), err);
	ck_assert_ok(store_blob_writer_write(w, "data", 4, &err), err);
	ck_assert_int_eq(store_blob_writer_commit(w, wrong, d, NULL, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EBADMSG);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "digest mismatch"));
	ck_assert_int_eq(count_entries("tmp"), 0);
	ck_assert_int_eq(count_entries("blobs/sha256"), 0);
}
END_TEST

START_TEST(test_blob_abort_leaves_nothing)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_blob_writer *w = NULL;

	ck_assert_ok(store_blob_writer_new(st, &w, &err), err);
	ck_assert_ok(store_blob_writer_write(w, "partial", 7, &err), err);
	store_blob_writer_abort(w);
	ck_assert_int_eq(count_entries("tmp"), 0);
	ck_assert_int_eq(count_entries("blobs/sha256"), 0);
}
END_TEST

START_TEST(test_blob_put_fd_streams)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *path = xasprintf("%s/big", scratch);
	char d[DIGEST_STR_LEN], want[DIGEST_STR_LEN];
	cleanup_close int fd = -1;
	uint64_t size = 0;
	char *data = xmalloc(3 << 20);

	for (int i = 0; i < (3 << 20); i++)
		data[i] = (char)(i % 251);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(write(fd, data, 3 << 20), 3 << 20);
	lseek(fd, 0, SEEK_SET);
	digest_buf(data, 3 << 20, want);
	ck_assert_ok(store_blob_put_fd(st, fd, want, d, &size, &err), err);
	ck_assert_str_eq(d, want);
	ck_assert_uint_eq(size, 3 << 20);
	free(data);
}
END_TEST

/* A blob past the direct-write threshold, in odd pieces, with an unaligned tail. */
START_TEST(test_blob_bypass_cache)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *back = NULL;
	struct store_blob_writer *w = NULL;
	struct digester *dg = digester_new();
	char d[DIGEST_STR_LEN], want[DIGEST_STR_LEN];
	const size_t total = (21u << 20) + 4321;
	unsigned char *data = xmalloc(total);
	size_t done = 0, len = 0;
	uint64_t size = 0;

	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)(i * 7 + i / 4099);
	ck_assert_ok(store_blob_writer_new(st, &w, &err), err);
	store_blob_writer_bypass_cache(w);
	for (size_t n = 1; done < total; n = n * 3 % 1000003 + 1) {
		size_t k = total - done < n ? total - done : n;

		ck_assert_ok(store_blob_writer_write(w, data + done, k, &err), err);
		done += k;
		ck_assert_uint_eq(store_blob_writer_size(w), done);
	}
	digester_update(dg, data, total);
	digester_final(dg, want);
	ck_assert_ok(store_blob_writer_commit(w, want, d, &size, &err), err);
	ck_assert_str_eq(d, want);
	ck_assert_uint_eq(size, total);
	path = xasprintf("blobs/sha256/%s", digest_hex(d));
	ck_assert_ok(file_read_at(root_fd(), path, total + 1, &back, &len, &err), err);
	ck_assert_uint_eq(len, total);
	ck_assert_int_eq(memcmp(back, data, total), 0);
	ck_assert_int_eq(count_entries("tmp"), 0);
	digester_free(dg);
	free(data);
}
END_TEST

/* ENOSPC: a tiny tmpfs as the store root. */
START_TEST(test_blob_full_disk)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *small = xasprintf("%s/small", scratch);
	struct store *s2 = NULL;
	struct store_blob_writer *w = NULL;
	char *chunk = xcalloc(1, 1 << 20);
	int r = 0;

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(sys_mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mkdir(small, 0755), 0);
	ck_assert_int_eq(sys_mount("tmpfs", small, "tmpfs", 0, "size=1m"), 0);
	ck_assert_ok(store_open(small, &s2, &err), err);
	ck_assert_ok(store_blob_writer_new(s2, &w, &err), err);
	for (int i = 0; i < 4 && r == 0; i++)
		r = store_blob_writer_write(w, chunk, 1 << 20, &err);
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(strata_error_code(err), ENOSPC);
	store_blob_writer_abort(w);
	ck_assert_int_eq(unit_sh("test $(ls -A '%s/tmp' | wc -l) -eq 0", small), 0);
	ck_assert_int_eq(unit_sh("test $(ls -A '%s/blobs/sha256' | wc -l) -eq 0", small), 0);
	store_free(s2);
	free(chunk);
}
END_TEST

/* ENOSPC past the direct-write threshold: from a write or from the commit. */
START_TEST(test_blob_full_disk_bypass)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *small = xasprintf("%s/small", scratch);
	struct store *s2 = NULL;
	struct store_blob_writer *w = NULL;
	char *chunk = xcalloc(1, 1 << 20);
	char d[DIGEST_STR_LEN];
	int r = 0;

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(sys_mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mkdir(small, 0755), 0);
	ck_assert_int_eq(sys_mount("tmpfs", small, "tmpfs", 0, "size=24m"), 0);
	ck_assert_ok(store_open(small, &s2, &err), err);
	ck_assert_ok(store_blob_writer_new(s2, &w, &err), err);
	store_blob_writer_bypass_cache(w);
	for (int i = 0; i < 32 && r == 0; i++)
		r = store_blob_writer_write(w, chunk, 1 << 20, &err);
	if (r == 0) {
		r = store_blob_writer_commit(w, NULL, d, NULL, &err);
		w = NULL;
	}
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(strata_error_code(err), ENOSPC);
	store_blob_writer_abort(w);
	ck_assert_int_eq(unit_sh("test $(ls -A '%s/tmp' | wc -l) -eq 0", small), 0);
	ck_assert_int_eq(unit_sh("test $(ls -A '%s/blobs/sha256' | wc -l) -eq 0", small), 0);
	store_free(s2);
	free(chunk);
}
END_TEST

/* ---- references ---- */

START_TEST(test_refs_good)
{
	static const char *const good[][2] = {
		{ "busybox", "busybox:latest" },
		{ "busybox:1.36", "busybox:1.36" },
		{ "library/busybox", "library/busybox:latest" },
		{ "localhost/a", "localhost/a:latest" },
		{ "localhost:5000/a/b:v1", "localhost:5000/a/b:v1" },
		{ "127.0.0.1:5000/x:y", "127.0.0.1:5000/x:y" },
		{ "registry.example.com/ns/img", "registry.example.com/ns/img:latest" },
		{ "a__b/c.d/e-f--g", "a__b/c.d/e-f--g:latest" },
		{ "x:_tag.with-Stuff", "x:_tag.with-Stuff" },
		{ "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "x:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "x:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "[::1]:5000/x", "[::1]:5000/x:latest" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		cleanup_error struct strata_error *err = NULL;
		cleanup_free char *s = NULL;
		struct store_ref r;

		ck_assert_msg(store_ref_parse(good[i][0], &r, &err) == 0, "'%s': %s", good[i][0],
			      strata_error_msg(err));
		s = store_ref_string(&r);
		ck_assert_msg(strcmp(s, good[i][1]) == 0, "'%s' -> '%s'", good[i][0], s);
		store_ref_release(&r);
	}
}
END_TEST

START_TEST(test_refs_bad)
{
	static const char *const bad[][2] = {
		{ "", "must not be empty" },
		{ "Busybox", "repository name must be lowercase" },
		{ "c-Name", "repository name must be lowercase" },
		{ "my_Image:v1", "repository name must be lowercase" },
		{ "busy box", "may hold only" },
		{ "a:", "tag must match" },
		{ "a:-x", "tag must match" },
		{ "a:0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
		  "tag must match" },
		{ "a//b", "must not be empty" },
		{ "a/b_", "separators" },
		{ "-a", "must start with" },
		{ "a@sha256:abc", "digest must be" },
		{ "a@md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "digest must be" },
		{ "host:99999999/x", "port" },
		{ "-host.com/x", "start and end" },
		{ "a...b", "separators" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_error struct strata_error *err = NULL;
		struct store_ref r;

		ck_assert_msg(store_ref_parse(bad[i][0], &r, &err) == -1, "'%s' was accepted",
			      bad[i][0]);
		ck_assert_msg(strstr(strata_error_msg(err), bad[i][1]) != NULL,
			      "'%s': message '%s' does not name the rule '%s'", bad[i][0],
			      strata_error_msg(err), bad[i][1]);
	}
}
END_TEST

/* ---- tags and images ---- */

/* Writes a one-layer image whose layer is the bytes of @content. */
static void put_image(const char *tag, const char *content, char id[DIGEST_STR_LEN],
		      char man[DIGEST_STR_LEN])
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *cfg = store_config_new(0);
	struct store_desc layer = { 0 };
	char d[DIGEST_STR_LEN];

	ck_assert_ok(store_blob_put_buf(st, content, strlen(content), NULL, d, &err), err);
	store_config_add_diff_id(cfg, d);
	store_config_add_history(cfg, 0, "test", NULL, NULL, false);
	layer.media_type = (char *)MEDIA_OCI_LAYER;
	memcpy(layer.digest, d, DIGEST_STR_LEN);
	layer.size = (int64_t)strlen(content);
	ck_assert_ok(store_image_write(st, cfg, &layer, 1, tag, id, man, &err), err);
}

START_TEST(test_index_roundtrip)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_image *img = NULL;
	struct store_tag *tags = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	size_t n = 0;

	put_image("busybox", "layer-a", id, man);
	ck_assert_ok(store_tags_list(st, &tags, &n, &err), err);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(tags[0].ref, "busybox:latest");
	ck_assert_str_eq(tags[0].digest, man);
	ck_assert_str_eq(tags[0].media_type, MEDIA_OCI_MANIFEST);
	store_tags_free(tags, n);

	/* By name, by ID prefix, by full ID and by manifest digest. */
	ck_assert_ok(store_image_load(st, "busybox", &img, &err), err);
	ck_assert_str_eq(img->id, id);
	ck_assert_int_eq(img->n_layers, 1);
	ck_assert_str_eq(img->tags[0], "busybox:latest");
	store_image_free(img);
	{
		cleanup_free char *prefix = xstrndup(digest_hex(id), 12);

		ck_assert_ok(store_image_load(st, prefix, &img, &err), err);
		ck_assert_str_eq(img->id, id);
		store_image_free(img);
	}
	ck_assert_ok(store_image_load(st, id, &img, &err), err);
	store_image_free(img);
	ck_assert_ok(store_image_load(st, man, &img, &err), err);
	ck_assert_str_eq(img->id, id);
	store_image_free(img);

	/* Retagging replaces; removing removes. */
	put_image("busybox", "layer-b", id, man);
	ck_assert_ok(store_tags_list(st, &tags, &n, &err), err);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(tags[0].digest, man);
	store_tags_free(tags, n);
	ck_assert_ok(store_tag_remove(st, "busybox:latest", &err), err);
	ck_assert_int_eq(store_image_load(st, "busybox", &img, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
}
END_TEST

/* Writes an image of config @cfg whose one layer is the blob of @content with @media_type. */
static void put_image_cfg(const json_t *cfg, const char *content, const char *media_type,
			  const char *tag, char id[DIGEST_STR_LEN], char man[DIGEST_STR_LEN])
{
	cleanup_error struct strata_error *err = NULL;
	struct store_desc layer = { 0 };
	char d[DIGEST_STR_LEN];

	ck_assert_ok(store_blob_put_buf(st, content, strlen(content), NULL, d, &err), err);
	layer.media_type = (char *)media_type;
	memcpy(layer.digest, d, DIGEST_STR_LEN);
	layer.size = (int64_t)strlen(content);
	ck_assert_ok(store_image_write(st, cfg, &layer, 1, tag, id, man, &err), err);
}

START_TEST(test_one_id_two_manifests)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *cfg = store_config_new(0);
	char id1[DIGEST_STR_LEN], id2[DIGEST_STR_LEN], m1[DIGEST_STR_LEN], m2[DIGEST_STR_LEN];
	struct store_image_info *infos = NULL;
	struct store_image *img = NULL;
	cleanup_free char *prefix = NULL;
	size_t n = 0;

	/* One config (one diffID), two manifests: the layer as gzip and as zstd. */
	store_config_add_diff_id(cfg, "sha256:" "0123456789abcdef0123456789abcdef"
				 "0123456789abcdef0123456789abcdef");
	put_image_cfg(cfg, "as-gzip", MEDIA_OCI_LAYER_GZIP, "img:gzip", id1, m1);
	put_image_cfg(cfg, "as-zstd", MEDIA_OCI_LAYER_ZSTD, "img:zstd", id2, m2);
	ck_assert_str_eq(id1, id2);
	ck_assert_str_ne(m1, m2);

	/* Every way of naming it finds it; a digest loads that manifest, an ID the first. */
	prefix = xstrndup(digest_hex(id1), 3);
	{
		const char *specs[] = { prefix, digest_hex(id1), id1, m1, m2, digest_hex(m2),
					"img:zstd" };

		for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
			ck_assert_ok(store_image_load(st, specs[i], &img, &err), err);
			ck_assert_str_eq(img->id, id1);
			ck_assert_uint_eq(strv_len(img->tags), 2);
			ck_assert_uint_eq(strv_len(img->digests), 2);
			if (specs[i] == m2 || i == 5 || i == 6)
				ck_assert_str_eq(img->manifest_digest, m2);
			else
				ck_assert_str_eq(img->manifest_digest, m1);
			store_image_free(img);
			img = NULL;
		}
	}
	{
		cleanup_free char *byname = xasprintf("img@%s", m2);

		ck_assert_ok(store_image_load(st, byname, &img, &err), err);
		ck_assert_str_eq(img->manifest_digest, m2);
		store_image_free(img);
	}

	/* One image in a listing, each name with its own manifest digest. */
	ck_assert_ok(store_image_list(st, &infos, &n, &err), err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(infos[0].tags[0], "img:gzip");
	ck_assert_str_eq(infos[0].tag_digests[0], m1);
	ck_assert_str_eq(infos[0].tag_digests[1], m2);
	store_image_infos_free(infos, n);

	/* Removing both digests removes the image. */
	{
		char *dgs[] = { m1, m2 };

		ck_assert_ok(store_tags_remove(st, NULL, 0, dgs, 2, &err), err);
	}
	ck_assert_int_eq(store_image_load(st, prefix, &img, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
}
END_TEST

/* A config differing from others by the label n=@i. */
static json_t *config_n(int i)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *label = xasprintf("LABEL n=%d", i);
	json_t *cfg = store_config_new(0);

	ck_assert_ok(store_config_apply_change(cfg, label, &err), err);
	store_config_add_diff_id(cfg, "sha256:" "0123456789abcdef0123456789abcdef"
				 "0123456789abcdef0123456789abcdef");
	return cfg;
}

START_TEST(test_prefix_of_two_ids_is_ambiguous)
{
	cleanup_error struct strata_error *err = NULL;
	struct strmap seen = STRMAP_INIT;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN], d[DIGEST_STR_LEN];
	struct store_image *img = NULL;
	char prefix[4] = "";
	int a = -1, b = -1;

	/* Two configs whose IDs share 3 hex digits (about 80 tries). */
	for (int i = 0; i < 100000 && b < 0; i++) {
		cleanup_json json_t *cfg = config_n(i);
		cleanup_free char *buf = NULL;
		size_t len;
		void *old = NULL;

		buf = jv_dump(cfg, &len);
		digest_buf(buf, len, d);
		snprintf(prefix, sizeof(prefix), "%.3s", digest_hex(d));
		if (!strmap_put(&seen, prefix, (void *)(intptr_t)(i + 1), &old)) {
			a = (int)(intptr_t)old - 1;
			b = i;
		}
	}
	strmap_release(&seen, NULL);
	ck_assert_int_ge(b, 0);
	{
		cleanup_json json_t *ca = config_n(a);
		cleanup_json json_t *cb = config_n(b);

		put_image_cfg(ca, "layer", MEDIA_OCI_LAYER, "a:1", id, man);
		put_image_cfg(cb, "layer", MEDIA_OCI_LAYER, "b:1", id, man);
	}
	ck_assert_int_eq(store_image_load(st, prefix, &img, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EINVAL);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "ambiguous"));
	/* The full ID of either is no ambiguity. */
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_image_load(st, id, &img, &err), err);
	ck_assert_str_eq(img->id, id);
	store_image_free(img);
}
END_TEST

START_TEST(test_tags_set_many_and_keep)
{
	cleanup_error struct strata_error *err = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	struct store_tag *tags = NULL;
	struct store_image *img = NULL;
	char r1[] = "x:1", r2[] = "x:2", r3[] = "x:1", r4[] = "y:latest";
	char *refs[] = { r1, r2, r3, r4 };
	size_t n = 0;

	put_image(NULL, "kept", id, man);
	/* Without a name nothing is in index.json until it is kept. */
	ck_assert_int_eq(store_image_load(st, id, &img, &err), -1);
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_image_keep(st, man, MEDIA_OCI_MANIFEST, 10, &err), err);
	ck_assert_ok(store_image_keep(st, man, MEDIA_OCI_MANIFEST, 10, &err), err);
	ck_assert_ok(store_tags_list(st, &tags, &n, &err), err);
	ck_assert_uint_eq(n, 0); /* an unnamed entry is no tag */
	store_tags_free(tags, n);
	ck_assert_ok(store_image_load(st, id, &img, &err), err);
	ck_assert_uint_eq(strv_len(img->tags), 0);
	ck_assert_uint_eq(strv_len(img->digests), 1);
	store_image_free(img);

	/* Many names in one call: duplicates once, the unnamed entry replaced. */
	ck_assert_ok(store_tags_set(st, refs, ARRAY_SIZE(refs), man, MEDIA_OCI_MANIFEST, 10, &err),
		     err);
	ck_assert_ok(store_tags_list(st, &tags, &n, &err), err);
	ck_assert_uint_eq(n, 3);
	store_tags_free(tags, n);
	ck_assert_ok(store_image_load(st, id, &img, &err), err);
	ck_assert_uint_eq(strv_len(img->tags), 3);
	ck_assert_uint_eq(strv_len(img->digests), 1);
	store_image_free(img);
	/* Removing names leaves the others. */
	ck_assert_ok(store_tags_remove(st, refs, 2, NULL, 0, &err), err);
	ck_assert_ok(store_image_load(st, id, &img, &err), err);
	ck_assert_uint_eq(strv_len(img->tags), 1);
	ck_assert_str_eq(img->tags[0], "y:latest");
	store_image_free(img);
}
END_TEST

START_TEST(test_image_summary)
{
	cleanup_error struct strata_error *err = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	struct store_image_info *infos = NULL;
	cleanup_free char *buf = NULL;
	cleanup_free char *summary = NULL;
	size_t n = 0;

	put_image("s:1", "summarised", id, man);
	ck_assert_ok(store_image_list(st, &infos, &n, &err), err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(infos[0].id, id);
	ck_assert_uint_gt(infos[0].size, 0);
	ck_assert_ptr_nonnull(infos[0].created);
	store_image_infos_free(infos, n);
	/* The listing wrote the summary: one line per manifest, then "end". */
	summary = xasprintf("%s/image-summary", store_root(st));
	ck_assert_ok(file_read_at(AT_FDCWD, summary, 1 << 20, &buf, NULL, &err), err);
	ck_assert_ptr_nonnull(strstr(buf, man));
	ck_assert_ptr_nonnull(strstr(buf, id));
	ck_assert(str_has_suffix(buf, "\nend\n"));
	/* A torn summary (no "end") is not trusted: the listing reads the blobs and rewrites it. */
	{
		cleanup_free char *torn = xasprintf("strata-image-summary 1\n%s sha256:%064d 1 -\n", man, 0);

		ck_assert_ok(file_write_replace_at(AT_FDCWD, summary, torn, strlen(torn), 0644, &err),
			     err);
	}
	ck_assert_ok(store_image_list(st, &infos, &n, &err), err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(infos[0].id, id);
	store_image_infos_free(infos, n);
}
END_TEST

/* The tar size of a layer blob: recorded, read back, preferred to the blob's, gone with it. */
START_TEST(test_tar_size_record)
{
	struct store_desc gz = { .media_type = (char *)MEDIA_OCI_LAYER_GZIP, .size = 100 };
	struct store_desc tar = { .media_type = (char *)MEDIA_OCI_LAYER, .size = 300 };
	uint64_t n = 0;

	memcpy(gz.digest, "sha256:", 7);
	memset(gz.digest + 7, 'a', DIGEST_HEX_LEN);
	gz.digest[DIGEST_STR_LEN - 1] = '\0';
	memcpy(tar.digest, gz.digest, DIGEST_STR_LEN);
	ck_assert(!store_blob_tar_size_get(st, gz.digest, &n));
	ck_assert_uint_eq(store_layer_tar_size(st, &gz), 100); /* unknown: the blob's */
	store_blob_tar_size_put(st, gz.digest, 250);
	ck_assert(store_blob_tar_size_get(st, gz.digest, &n));
	ck_assert_uint_eq(n, 250);
	ck_assert_uint_eq(store_layer_tar_size(st, &gz), 250);
	ck_assert_uint_eq(store_layer_tar_size(st, &tar), 300); /* a plain tar is its blob */
	store_blob_tar_size_put(st, "sha256:nothex", 1); /* ignored */
	store_blob_tar_size_remove(st, gz.digest);
	ck_assert(!store_blob_tar_size_get(st, gz.digest, &n));
}
END_TEST

START_TEST(test_image_list_groups_tags)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_image_info *imgs = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	size_t n = 0;

	put_image("a:1", "same", id, man);
	put_image("b:2", "same", id, man);
	put_image("c", "other", id, man);
	ck_assert_ok(store_image_list(st, &imgs, &n, &err), err);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(strv_len(imgs[0].tags), 2);
	store_image_infos_free(imgs, n);
}
END_TEST

START_TEST(test_malformed_index_is_an_error)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_image_info *imgs = NULL;
	size_t n = 0;

	unit_sh("printf '{\"manifests\": [' > '%s/index.json'", store_root(st));
	ck_assert_int_eq(store_image_list(st, &imgs, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "index.json"));
}
END_TEST

START_TEST(test_chain_ids)
{
	char *diffs[] = {
		(char *)"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		(char *)"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		NULL,
	};
	cleanup_strv char **chain = store_chain_ids(diffs, 2);
	cleanup_free char *in = xasprintf("%s %s", diffs[0], diffs[1]);
	char want[DIGEST_STR_LEN];

	digest_buf(in, strlen(in), want);
	ck_assert_str_eq(chain[0], diffs[0]);
	ck_assert_str_eq(chain[1], want);
}
END_TEST

START_TEST(test_manifest_parse_docker_and_reject_index)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_manifest *m = NULL;
	struct store_index *idx = NULL;
	static const char docker[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_DOCKER_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" MEDIA_DOCKER_CONFIG "\",\"size\":3,"
		"\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
		"\"layers\":[{\"mediaType\":\"" MEDIA_DOCKER_LAYER_GZIP "\",\"size\":5,"
		"\"digest\":\"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]}";
	static const char list[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_DOCKER_LIST "\",\"manifests\":["
		"{\"mediaType\":\"" MEDIA_DOCKER_MANIFEST "\",\"size\":7,"
		"\"digest\":\"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}";

	ck_assert_ok(store_manifest_parse(docker, strlen(docker), &m, &err), err);
	ck_assert_str_eq(m->media_type, MEDIA_DOCKER_MANIFEST);
	ck_assert_int_eq(m->n_layers, 1);
	ck_assert_int_eq(m->layers[0].size, 5);
	store_manifest_free(m);
	ck_assert_int_eq(store_manifest_parse(list, strlen(list), &m, &err), -1);
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_index_parse(list, strlen(list), &idx, &err), err);
	ck_assert_int_eq(idx->n_manifests, 1);
	ck_assert_str_eq(idx->manifests[0].arch, "arm64");
	ck_assert_str_eq(idx->manifests[0].variant, "v8");
	store_index_free(idx);
	ck_assert_int_eq(store_manifest_parse("{", 1, &m, &err), -1);
}
END_TEST

START_TEST(test_config_changes)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *cfg = store_config_new(0);
	json_t *cc;

	ck_assert_ok(store_config_apply_change(cfg, "CMD [\"sh\", \"-c\", \"echo hi\"]", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "ENTRYPOINT /bin/init", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "ENV A=1 B=\"two words\"", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "ENV A 3", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "WORKDIR /srv", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "WORKDIR app", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "USER nobody:nogroup", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "LABEL a=b c=\"d e\"", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "EXPOSE 80 53/udp", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "VOLUME [\"/data\"]", &err), err);
	ck_assert_ok(store_config_apply_change(cfg, "STOPSIGNAL SIGINT", &err), err);
	cc = json_object_get(cfg, "config");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cc, "Cmd"), 2)), "echo hi");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cc, "Entrypoint"), 2)),
			 "/bin/init");
	ck_assert_int_eq(json_array_size(json_object_get(cc, "Env")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cc, "Env"), 0)), "A=3");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cc, "Env"), 1)),
			 "B=two words");
	ck_assert_str_eq(jv_str(cc, "WorkingDir"), "/srv/app");
	ck_assert_str_eq(jv_str(cc, "User"), "nobody:nogroup");
	ck_assert_str_eq(jv_str(json_object_get(cc, "Labels"), "c"), "d e");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(cc, "ExposedPorts"), "80/tcp"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(cc, "ExposedPorts"), "53/udp"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(cc, "Volumes"), "/data"));
	ck_assert_str_eq(jv_str(cc, "StopSignal"), "SIGINT");
	ck_assert_int_eq(store_config_apply_change(cfg, "RUN make", &err), -1);
	strata_error_free(err);
	err = NULL;
	ck_assert_int_eq(store_config_apply_change(cfg, "EXPOSE 99999", &err), -1);
}
END_TEST

/* ---- containers ---- */

START_TEST(test_containers)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *rec = json_object();
	cleanup_json json_t *rec2 = json_object();
	cleanup_json json_t *loaded = NULL;
	char id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1], found[STORE_ID_LEN + 1];
	cleanup_strv char **ids = NULL;

	ck_assert_ok(store_container_create(st, "web", rec, id, &err), err);
	ck_assert_int_eq(strlen(id), 64);
	ck_assert_int_eq(store_container_create(st, "web", rec2, id2, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EEXIST);
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_container_create(st, NULL, rec2, id2, &err), err);
	ck_assert_ptr_nonnull(jv_str(rec2, "Name"));

	ck_assert_ok(store_container_find(st, "web", found, &err), err);
	ck_assert_str_eq(found, id);
	{
		cleanup_free char *prefix = xstrndup(id, 12);

		ck_assert_ok(store_container_find(st, prefix, found, &err), err);
		ck_assert_str_eq(found, id);
	}
	loaded = store_container_load(st, id, &err);
	ck_assert_ptr_nonnull(loaded);
	ck_assert_str_eq(jv_str(loaded, "Name"), "web");
	ck_assert_ok(store_container_list(st, &ids, &err), err);
	ck_assert_int_eq(strv_len(ids), 2);
	ck_assert_ok(store_container_remove(st, id, &err), err);
	ck_assert_int_eq(store_container_find(st, "web", found, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	ck_assert_int_eq(count_entries("tmp"), 0);
}
END_TEST

/* ---- volumes ---- */

START_TEST(test_volume_names)
{
	static const char *const good[] = { "a", "data", "my_vol.1-x", "0abc", NULL };
	static const char *const bad[] = { "", ".", "..", "a/b", "/abs", ".hidden", "-x",
					   "_x", "x y", "x:y", "../up", NULL };

	for (size_t i = 0; good[i]; i++)
		ck_assert_msg(store_volume_name_is_valid(good[i]), "'%s' is a name", good[i]);
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(!store_volume_name_is_valid(bad[i]), "'%s' is not a name", bad[i]);
}
END_TEST

START_TEST(test_volume_lifecycle)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *labels = json_pack("{s:s}", "env", "prod");
	cleanup_json json_t *vol = NULL;
	cleanup_json json_t *rec = json_object();
	cleanup_free char *name = NULL;
	cleanup_free char *anon = NULL;
	cleanup_strv char **names = NULL;
	cleanup_strv char **users = NULL;
	char id[STORE_ID_LEN + 1];
	int fd;

	ck_assert_ok(store_volume_create(st, "v1", labels, 0, &name, &err), err);
	ck_assert_str_eq(name, "v1");
	ck_assert_int_eq(store_volume_create(st, "v1", NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EEXIST);
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_volume_create(st, "v1", NULL, STORE_VOLUME_EXIST_OK, NULL, &err), err);
	ck_assert_ok(store_volume_create(st, NULL, NULL, STORE_VOLUME_ANONYMOUS, &anon, &err), err);
	ck_assert_int_eq(strlen(anon), 64);
	ck_assert_int_eq(store_volume_create(st, "a/b", NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EINVAL);
	strata_error_free(err);
	err = NULL;

	vol = store_volume_load(st, "v1", &err);
	ck_assert_ptr_nonnull(vol);
	ck_assert_str_eq(jv_str(vol, "Driver"), "local");
	ck_assert_str_eq(jv_str(json_object_get(vol, "Labels"), "env"), "prod");
	ck_assert(json_is_true(json_object_get(vol, "NeedsCopyUp")));
	ck_assert_ok(store_volume_copied(st, "v1", true, &err), err);
	json_decref(vol);
	vol = store_volume_load(st, "v1", &err);
	ck_assert_ptr_null(json_object_get(vol, "NeedsCopyUp"));
	fd = store_volume_data_open(st, "v1", &err);
	ck_assert_int_ge(fd, 0);
	ck_assert(store_volume_is_empty(fd));
	close(fd);

	ck_assert_ok(store_volume_list(st, &names, &err), err);
	ck_assert_int_eq(strv_len(names), 2);
	ck_assert_str_eq(names[1], "v1");

	/* a container listing it: in use, refused */
	json_object_set_new(rec, "Volumes", json_pack("[s]", "v1"));
	ck_assert_ok(store_container_create(st, "user", rec, id, &err), err);
	ck_assert_ok(store_volume_users(st, "v1", &users, &err), err);
	ck_assert_int_eq(strv_len(users), 1);
	ck_assert_str_eq(users[0], id);
	ck_assert_int_eq(store_volume_remove(st, "v1", &err), -1);
	ck_assert_int_eq(strata_error_code(err), EBUSY);
	strata_error_free(err);
	err = NULL;
	ck_assert_ok(store_container_remove(st, id, &err), err);
	ck_assert_ok(store_volume_remove(st, "v1", &err), err);
	ck_assert_int_eq(store_volume_remove(st, "v1", &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	ck_assert_int_eq(count_entries("tmp"), 0);
}
END_TEST

START_TEST(test_volume_rm_follows_no_symlink)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *victim = xasprintf("%s/victim", scratch);
	cleanup_free char *data = NULL;
	uint64_t size = 0;

	ck_assert_int_eq(unit_sh("mkdir -p '%s' && echo precious >'%s/file'", victim, victim), 0);
	ck_assert_ok(store_volume_create(st, "evil", NULL, 0, NULL, &err), err);
	data = store_volume_path(st, "evil");
	ck_assert_int_eq(unit_sh("ln -s '%s' '%s/out' && echo 12345 >'%s/own'", victim, data, data),
			 0);
	ck_assert_ok(store_volume_size(st, "evil", &size, &err), err);
	ck_assert_uint_eq(size, 6 + strlen(victim)); /* "12345\n" and the link itself */
	ck_assert_ok(store_volume_remove(st, "evil", &err), err);
	ck_assert_int_eq(unit_sh("grep -q precious '%s/file'", victim), 0);
	/* a data dir replaced by a symlink is not opened */
	ck_assert_ok(store_volume_create(st, "swapped", NULL, 0, NULL, &err), err);
	free(data);
	data = store_volume_path(st, "swapped");
	ck_assert_int_eq(unit_sh("rmdir '%s' && ln -s '%s' '%s'", data, victim, data), 0);
	ck_assert_int_eq(store_volume_data_open(st, "swapped", &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOTDIR);
}
END_TEST

/* ---- gc and fsck ---- */

START_TEST(test_gc_frees_unreached)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_gc_stats stats;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN], keep_id[DIGEST_STR_LEN],
		keep_man[DIGEST_STR_LEN];
	char loose[DIGEST_STR_LEN];
	cleanup_free char *layer_dir = NULL;
	cleanup_free char *stale_layer = xasprintf(
		"%s/layers/vfs/%s", store_root(st),
		"1111111111111111111111111111111111111111111111111111111111111111");

	put_image("gone", "layer-gone", id, man);
	put_image("kept", "layer-kept", keep_id, keep_man);
	ck_assert_ok(store_blob_put_buf(st, "loose", 5, NULL, loose, &err), err);
	ck_assert_ok(store_tag_remove(st, "gone", &err), err);
	/* A layer dir of the kept image stays; a stale one goes. */
	{
		struct store_image *img = NULL;
		cleanup_strv char **chain = NULL;

		ck_assert_ok(store_image_load(st, "kept", &img, &err), err);
		chain = store_image_chain_ids(img);
		layer_dir = store_layer_path(st, "vfs", chain[0]);
		store_image_free(img);
	}
	ck_assert_int_eq(unit_sh("mkdir -p '%s' '%s' && touch '%s/stale'", layer_dir, stale_layer,
				 store_root(st)),
			 0);
	unit_sh("touch '%s/tmp/123-leftover.blob'", store_root(st));

	ck_assert_ok(store_gc(st, NULL, NULL, &stats, &err), err);
	/* gone: manifest, config, layer; plus the loose blob. */
	ck_assert_uint_eq(stats.blobs, 4);
	ck_assert_uint_eq(stats.layers, 1);
	ck_assert_uint_eq(stats.tmp, 1);
	ck_assert(!store_blob_exists(st, man));
	ck_assert(!store_blob_exists(st, loose));
	ck_assert(store_blob_exists(st, keep_man));
	ck_assert(store_blob_exists(st, keep_id));
	ck_assert_int_eq(access(layer_dir, F_OK), 0);
	ck_assert_int_ne(access(stale_layer, F_OK), 0);
}
END_TEST

START_TEST(test_gc_keeps_container_and_cache)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *rec = json_object();
	cleanup_json json_t *entry = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN], id2[DIGEST_STR_LEN], man2[DIGEST_STR_LEN];
	char cid[STORE_ID_LEN + 1];
	struct store_gc_stats stats;

	put_image("used", "layer-used", id, man);
	put_image("cached", "layer-cached", id2, man2);
	jv_set_str(rec, "ImageDigest", man);
	ck_assert_ok(store_container_create(st, "c", rec, cid, &err), err);
	entry = json_pack("{s:[s]}", "Blobs", man2);
	ck_assert_ok(store_cache_put(st, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
				     entry, &err),
		     err);
	ck_assert_ok(store_tag_remove(st, "used", &err), err);
	ck_assert_ok(store_tag_remove(st, "cached", &err), err);
	ck_assert_ok(store_gc(st, NULL, NULL, &stats, &err), err);
	ck_assert_uint_eq(stats.blobs, 0);
	ck_assert(store_blob_exists(st, man));
	ck_assert(store_blob_exists(st, man2));
}
END_TEST

/* Counts the keys store_cache_prune reports. */
static void count_key(const char *key, void *arg)
{
	ck_assert(str_has_prefix(key, "sha256:"));
	(*(int *)arg)++;
}

/*
 * The one walk of ROOT/cache that prune, usage and gc share reads regular
 * files only: a FIFO named like an entry would block a read for ever, a
 * link would be followed out of the store.
 */
START_TEST(test_cache_walk_regular_only)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *entry = NULL;
	cleanup_free char *cache = xasprintf("%s/cache", store_root(st));
	cleanup_free char *path = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	const char *key = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	cleanup_free char *target = xasprintf("%s.json", strchr(key, ':') + 1); /* the entry */
	struct store_cache_prune_opts all_unused = { .all = false, .until_age = -1 };
	struct store_cache_usage u;
	struct store_gc_stats stats;
	uint64_t size = 0, removed = 0;
	int reports = 0;

	put_image("cached", "layer-cached", id, man);
	/* an entry of an image nothing uses (its name: a digest no blob has) */
	entry = json_pack("{s:s, s:[s]}", "Image", key, "Blobs", man);
	ck_assert_ok(store_cache_put(st, key, entry, &err), err);
	ck_assert_ok(store_tag_remove(st, "cached", &err), err);
	path = xasprintf("%s/fifo.json", cache);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	free(path);
	path = xasprintf("%s/link.json", cache);
	ck_assert_int_eq(symlink(target, path), 0);
	free(path);
	path = xasprintf("%s/dir.json", cache);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/%s.json", cache, "a1b2c3");
	unit_write_file(path, "not json", 0600);

	ck_assert_ok(store_cache_usage(st, &u, &err), err);
	ck_assert_ok(store_blob_size(st, man, &size, &err), err);
	ck_assert_uint_eq(u.entries, 1);
	ck_assert_uint_eq(u.unused_entries, 1);
	ck_assert_uint_eq(u.bytes, size);
	ck_assert_uint_eq(u.unused_bytes, size);

	/* gc marks from the entry, not from the link, and does not block on the FIFO */
	ck_assert_ok(store_gc(st, NULL, NULL, &stats, &err), err);
	ck_assert(store_blob_exists(st, man));

	/* prune removes the entry and the one that does not parse, nothing else */
	ck_assert_ok(store_cache_prune(st, &all_unused, count_key, &reports, &removed, &err), err);
	ck_assert_uint_eq(removed, 2);
	ck_assert_int_eq(reports, 2);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
	path = xasprintf("%s/fifo.json", cache);
	ck_assert_int_eq(access(path, F_OK), 0);
	free(path);
	path = xasprintf("%s/dir.json", cache);
	ck_assert_int_eq(access(path, F_OK), 0);
	free(path);
	path = xasprintf("%s/link.json", cache);
	ck_assert_int_eq(faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW), 0);
}
END_TEST

/*
 * A writer killed between the temporary file of a record and its rename
 * leaves it beside the record: gc removes those of dead processes, in
 * every place records are rewritten, and keeps those of live ones.
 */
START_TEST(test_gc_removes_stale_temporaries)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_gc_stats stats;
	const char *r = store_root(st);
	pid_t dead = fork();
	static const char *const places[] = { ".", "tar-sizes", "cache", "buildcache",
					      "containers/c1", "volumes/v1/", "layers/overlay/mnt/i1" };

	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		ck_assert_int_eq(unit_sh("mkdir -p '%s/%s' && echo x >'%s/%s/.tmp-%d-0badf00d' && "
					 "echo y >'%s/%s/.tmp-%d-0badf00d'",
					 r, places[i], r, places[i], (int)dead, r, places[i],
					 (int)getpid()),
				 0);
	/* a tar size whose blob is gone */
	unit_sh("echo 5 >'%s/tar-sizes/%064d'", r, 7);
	ck_assert_ok(store_gc(st, NULL, NULL, &stats, &err), err);
	ck_assert_uint_eq(stats.tmp, sizeof(places) / sizeof(places[0]));
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		cleanup_free char *gone = xasprintf("%s/%s/.tmp-%d-0badf00d", r, places[i], (int)dead);
		cleanup_free char *kept =
			xasprintf("%s/%s/.tmp-%d-0badf00d", r, places[i], (int)getpid());

		ck_assert_msg(access(gone, F_OK) < 0, "%s is left", gone);
		ck_assert_msg(access(kept, F_OK) == 0, "%s is gone", kept);
	}
	ck_assert_int_ne(unit_sh("test -e '%s/tar-sizes/%064d'", r, 7), 0);
}
END_TEST

static void count_report(const char *what, void *arg)
{
	(void)what;
	(*(int *)arg)++;
}

START_TEST(test_fsck_flipped_byte)
{
	cleanup_error struct strata_error *err = NULL;
	char id[DIGEST_STR_LEN], man[DIGEST_STR_LEN];
	unsigned problems = 0, repaired = 0;
	int reports = 0;
	cleanup_free char *layer_path = NULL;
	struct store_image *img = NULL;

	put_image("img", "layer-content-to-corrupt", id, man);
	ck_assert_ok(store_fsck(st, false, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_eq(problems, 0);

	ck_assert_ok(store_image_load(st, "img", &img, &err), err);
	layer_path = store_blob_path(st, img->manifest->layers[0].digest);
	store_image_free(img);
	/* Flip one byte of the layer blob. */
	ck_assert_int_eq(unit_sh("printf 'X' | dd of='%s' bs=1 seek=3 conv=notrunc status=none",
				 layer_path),
			 0);
	ck_assert_ok(store_fsck(st, false, count_report, &reports, &problems, &repaired, &err), err);
	ck_assert_uint_eq(problems, 1);
	ck_assert_int_eq(reports, 1);

	/* Repair moves the blob aside and drops the tag that now dangles. */
	ck_assert_ok(store_fsck(st, true, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_ge(problems, 2);
	ck_assert_uint_eq(repaired, problems);
	ck_assert_int_eq(unit_sh("test $(ls '%s/corrupt' | wc -l) -eq 1", store_root(st)), 0);
	ck_assert_ok(store_fsck(st, false, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_eq(problems, 0);
}
END_TEST

START_TEST(test_fsck_bad_records)
{
	cleanup_error struct strata_error *err = NULL;
	unsigned problems = 0, repaired = 0;
	char cid[STORE_ID_LEN + 1];
	cleanup_json json_t *rec = json_object();

	ck_assert_ok(store_container_create(st, "c", rec, cid, &err), err);
	unit_sh("echo 'not json' > '%s/containers/%s/container.json'", store_root(st), cid);
	unit_sh("mkdir -p '%s/layers/overlay/%s'", store_root(st),
		"2222222222222222222222222222222222222222222222222222222222222222");
	ck_assert_ok(store_fsck(st, false, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_eq(problems, 2);
	ck_assert_ok(store_fsck(st, true, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_eq(repaired, 2);
	ck_assert_ok(store_fsck(st, false, NULL, NULL, &problems, &repaired, &err), err);
	ck_assert_uint_eq(problems, 0);
}
END_TEST

/* ---- locking ---- */

/* In another process: 0 if another open of @root's lock file cannot take it, 1 if it can, 2 on error. */
static int lock_blocked(const char *root)
{
	cleanup_free char *lock = xasprintf("%s/lock", root);
	int fd = open(lock, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return 2;
	r = flock(fd, LOCK_SH | LOCK_NB);
	r = r < 0 && errno == EWOULDBLOCK ? 0 : 1;
	close(fd);
	return r;
}

START_TEST(test_lock_excludes_other_process)
{
	cleanup_error struct strata_error *err = NULL;
	int pfd[2];
	pid_t pid;
	int status;

	ck_assert_ok(store_lock(st, STORE_LOCK_EXCLUSIVE, &err), err);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	if (pid == 0)
		_exit(lock_blocked(store_root(st)));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* A child killed by a signal has no exit status: WEXITSTATUS alone would read 0. */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status 0x%x", status);
	/* Nesting counts; exclusive under shared is refused. */
	ck_assert_ok(store_lock(st, STORE_LOCK_SHARED, &err), err);
	store_unlock(st);
	store_unlock(st);
	ck_assert_ok(store_lock(st, STORE_LOCK_SHARED, &err), err);
	ck_assert_int_eq(store_lock(st, STORE_LOCK_EXCLUSIVE, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EDEADLK);
	store_unlock(st);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* 0 when ROOT/users.lock cannot be taken exclusively now (another process holds it). */
static int users_lock_blocked(const char *root)
{
	cleanup_free char *path = xasprintf("%s/users.lock", root);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return 2;
	r = flock(fd, LOCK_EX | LOCK_NB);
	r = r < 0 && errno == EWOULDBLOCK ? 0 : 1;
	close(fd);
	return r;
}

START_TEST(test_users_lock)
{
	cleanup_error struct strata_error *err = NULL;
	pid_t pid;
	int status;

	/* shared, as a create holds it: a remover in another process must wait */
	ck_assert_ok(store_users_lock(st, STORE_LOCK_SHARED, &err), err);
	pid = fork();
	if (pid == 0)
		_exit(users_lock_blocked(store_root(st)));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status 0x%x", status);
	/* a volume removal under it would deadlock against itself: refused */
	ck_assert_int_eq(store_users_lock(st, STORE_LOCK_EXCLUSIVE, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EDEADLK);
	strata_error_free(err);
	err = NULL;
	store_users_unlock(st);
	/* released: free for another process; exclusive nests */
	ck_assert_ok(store_users_lock(st, STORE_LOCK_EXCLUSIVE, &err), err);
	ck_assert_ok(store_users_lock(st, STORE_LOCK_SHARED, &err), err);
	store_users_unlock(st);
	store_users_unlock(st);
	pid = fork();
	if (pid == 0)
		_exit(users_lock_blocked(store_root(st)) == 1 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status 0x%x", status);
}
END_TEST

/* ---- cache-mount dirs ---- */

/* Counts the report calls of store_cachedir_prune. */
static void count_id(const char *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
}

START_TEST(test_cachedir_sharing)
{
	cleanup_error struct strata_error *err = NULL;
	struct store_cachedir a, b, c;
	uint64_t removed = 0;
	int reports = 0;

	/* new: made and reported so; the same id again is the same dir */
	ck_assert_ok(store_cachedir_open(st, "/root/.cache", STORE_CACHEDIR_SHARED, &a, &err), err);
	ck_assert(a.is_new);
	ck_assert_ok(store_cachedir_ready(&a, &err), err);
	ck_assert_ok(store_cachedir_open(st, "/root/.cache", STORE_CACHEDIR_SHARED, &b, &err), err);
	ck_assert(!b.is_new);
	ck_assert_str_eq(a.path, b.path);
	/* private, while it is in use: another instance */
	ck_assert_ok(store_cachedir_open(st, "/root/.cache", STORE_CACHEDIR_PRIVATE, &c, &err), err);
	ck_assert_str_ne(a.path, c.path);
	ck_assert(c.is_new);
	store_cachedir_close(&c);
	/* prune leaves the one in use, removes the idle one */
	ck_assert_ok(store_cachedir_prune(st, -1, count_id, &reports, &removed, &err), err);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(reports, 1);
	ck_assert_int_eq(access(a.path, F_OK), 0);
	/* locked: another process waits while a user holds it */
	{
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct store_cachedir l;
			int64_t t0 = time_now_ns();

			/* the parent's descriptions: held here, they would hold the lock too */
			close(a.lock_fd);
			close(b.lock_fd);
			if (store_cachedir_open(st, "/root/.cache", STORE_CACHEDIR_LOCKED, &l,
						NULL) < 0)
				_exit(2);
			_exit(time_now_ns() - t0 >= 200000000LL ? 0 : 3);
		}
		usleep(300000);
		ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
		store_cachedir_close(&a);
		store_cachedir_close(&b);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_ok(store_cachedir_prune(st, -1, NULL, NULL, &removed, &err), err);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(count_entries("buildcache"), 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("blobs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_layout_is_oci);
	tcase_add_test(tc, test_blob_put_and_read);
	tcase_add_test(tc, test_blob_mismatch_leaves_nothing);
	tcase_add_test(tc, test_blob_abort_leaves_nothing);
	tcase_add_test(tc, test_blob_put_fd_streams);
	tcase_add_test(tc, test_blob_bypass_cache);
	suite_add_tcase(s, tc);

	tc = tcase_create("full-disk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_blob_full_disk);
	tcase_add_test(tc, test_blob_full_disk_bypass);
	unit_need_root(s, tc, "mounts a small tmpfs to fill it");

	tc = tcase_create("refs");
	tcase_add_test(tc, test_refs_good);
	tcase_add_test(tc, test_refs_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("images");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_index_roundtrip);
	tcase_add_test(tc, test_image_list_groups_tags);
	tcase_add_test(tc, test_one_id_two_manifests);
	tcase_add_test(tc, test_prefix_of_two_ids_is_ambiguous);
	tcase_add_test(tc, test_tags_set_many_and_keep);
	tcase_add_test(tc, test_image_summary);
	tcase_add_test(tc, test_tar_size_record);
	tcase_add_test(tc, test_malformed_index_is_an_error);
	tcase_add_test(tc, test_chain_ids);
	tcase_add_test(tc, test_manifest_parse_docker_and_reject_index);
	tcase_add_test(tc, test_config_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("containers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_containers);
	suite_add_tcase(s, tc);

	tc = tcase_create("volumes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_volume_names);
	tcase_add_test(tc, test_volume_lifecycle);
	tcase_add_test(tc, test_volume_rm_follows_no_symlink);
	suite_add_tcase(s, tc);

	tc = tcase_create("gc-fsck");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_gc_frees_unreached);
	tcase_add_test(tc, test_gc_keeps_container_and_cache);
	tcase_add_test(tc, test_cache_walk_regular_only);
	tcase_add_test(tc, test_gc_removes_stale_temporaries);
	tcase_add_test(tc, test_fsck_flipped_byte);
	tcase_add_test(tc, test_fsck_bad_records);
	suite_add_tcase(s, tc);

	tc = tcase_create("locks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lock_excludes_other_process);
	tcase_add_test(tc, test_users_lock);
	tcase_add_test(tc, test_cachedir_sharing);
	suite_add_tcase(s, tc);
	return s;
}
