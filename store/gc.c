/*
 * Garbage collection: mark everything reachable from the tags in
 * index.json, the container records and the build cache entries, then
 * sweep blobs/, layers/ and tmp/. It holds ROOT/gc.lock exclusively, which
 * waits for every process that is adding content (they hold it shared) and
 * keeps new ones out until the sweep is done.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

/* Sets, not arrays: a store of N images marks and sweeps in O(N), where scans were O(N^2). */
struct marks {
	struct strmap blobs;  /* reachable blob digests */
	struct strmap chains; /* reachable chain IDs (hex) */
};

static void mark_chains(struct marks *m, const json_t *config)
{
	json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	cleanup_strv char **ids = jv_to_strv(diffs);
	cleanup_strv char **chains = NULL;
	size_t n = strv_len(ids);

	for (size_t i = 0; i < n; i++)
		if (!digest_is_valid(ids[i]))
			return;
	chains = store_chain_ids(ids, n);
	for (size_t i = 0; i < n; i++)
		strmap_add(&m->chains, digest_hex(chains[i]));
}

/*
 * A blob's bytes, unverified (fsck checks content; a corrupt manifest marks
 * nothing either way): one open, fstat and read, where verifying reads
 * cost a stat, a read and a SHA-256 more for each of 20,000 manifests and
 * configs at 10,000 images. -1 when missing or larger than @max.
 */
static int blob_slurp(struct store *s, const char *digest, size_t max, char **buf, size_t *len)
{
	cleanup_close int fd = store_blob_open(s, digest, NULL);

	if (fd < 0)
		return -1;
	return file_read_fd(fd, max, buf, len, NULL);
}

/* Marks @digest and, when it is a manifest or index, what it names. */
static void mark(struct store *s, struct marks *m, const char *digest, int depth)
{
	cleanup_free char *buf = NULL;
	cleanup_json json_t *doc = NULL;
	size_t len = 0;
	const char *mt;

	if (!digest || !digest_is_valid(digest) || !strmap_add(&m->blobs, digest))
		return;
	if (depth > 4 || blob_slurp(s, digest, STORE_JSON_MAX, &buf, &len) < 0 || len == 0 ||
	    buf[0] != '{')
		return;
	doc = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(doc))
		return;
	mt = store_manifest_sniff(doc);
	if (store_media_is_index(mt)) {
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(doc, "manifests"), i, e)
			mark(s, m, jv_str(e, "digest"), depth + 1);
	} else if (store_media_is_manifest(mt)) {
		const char *cfg = jv_str(json_object_get(doc, "config"), "digest");
		cleanup_free char *cbuf = NULL;
		size_t clen = 0;
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(doc, "layers"), i, e)
		{
			const char *d = jv_str(e, "digest");

			if (d && digest_is_valid(d))
				strmap_add(&m->blobs, d);
		}
		/* A config marked already had its chains marked too. */
		if (cfg && digest_is_valid(cfg) && strmap_add(&m->blobs, cfg)) {
			if (blob_slurp(s, cfg, STORE_JSON_MAX, &cbuf, &clen) == 0) {
				cleanup_json json_t *config = json_loadb(cbuf, clen, 0, NULL);

				if (config)
					mark_chains(m, config);
			}
		}
	}
}

static void mark_blobs_array(struct store *s, struct marks *m, const json_t *rec)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(rec, "Blobs"), i, e)
		if (json_is_string(e))
			mark(s, m, json_string_value(e), 0);
}

/* A build cache entry keeps the blobs it lists. */
static int mark_cache_entry(struct store *s, const char *name, const struct stat *st,
			    json_t *entry, void *arg, struct strata_error **err)
{
	(void)name, (void)st, (void)err;
	if (entry)
		mark_blobs_array(s, arg, entry);
	return 0;
}

static int mark_all(struct store *s, struct marks *m, struct strata_error **err)
{
	struct store_index_scan idx;
	cleanup_strv char **ids = NULL;
	size_t i;

	if (store_index_scan(s, &idx, err) < 0)
		return strata_wrap(err, "gc");
	for (i = 0; i < idx.n; i++)
		mark(s, m, idx.entries[i].digest, 0);
	store_index_scan_release(&idx);

	if (store_container_list(s, &ids, err) < 0)
		return -1;
	for (i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *dg = rec ? jv_str(rec, "ImageDigest") : NULL;

		if (dg)
			mark(s, m, dg, 0);
		if (rec)
			mark_blobs_array(s, m, rec);
	}

	if (store_cache_walk(s, mark_cache_entry, m, err) < 0)
		return strata_wrap(err, "gc");
	return 0;
}

static int sweep_blobs(struct store *s, struct marks *m,
		       void (*report)(const char *what, void *arg), void *arg,
		       struct store_gc_stats *st, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->blobs_fd, ".")))
		return strata_fail(err, errno, "gc: read blobs");
	while ((de = readdir(d))) {
		cleanup_free char *digest = NULL;
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		digest = xasprintf("sha256:%s", de->d_name);
		if (strmap_has(&m->blobs, digest))
			continue;
		if (fstatat(s->blobs_fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (unlinkat(s->blobs_fd, de->d_name, 0) < 0)
			return strata_fail(err, errno, "gc: remove blob '%s'", digest);
		store_blob_tar_size_remove(s, digest);
		st->blobs++;
		st->blob_bytes += (uint64_t)sb.st_size;
		if (report) {
			cleanup_free char *what = xasprintf("blob %s", digest);

			report(what, arg);
		}
	}
	return 0;
}

struct sweep {
	struct store *s;
	struct marks *m;
	void (*report)(const char *what, void *arg);
	void *arg;
	struct store_gc_stats *st;
};

/*
 * Moves an unreachable layer dir into tmp/ (one atomic rename: a killed gc
 * leaves the whole dir or none of it in layers/), then deletes it there.
 */
static int sweep_layer(const struct store_layer_entry *e, void *arg, struct strata_error **err)
{
	struct sweep *w = arg;
	cleanup_free char *trash = store_tmp_name(".gc");

	if (strmap_has(&w->m->chains, e->hex))
		return 0;
	if (renameat(e->backend_fd, e->hex, w->s->tmp_fd, trash) < 0) {
		if (errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "gc: move layer '%s/%s' aside", e->backend, e->hex);
	}
	if (path_rm_rf_at(w->s->tmp_fd, trash, err) < 0)
		return strata_wrap(err, "gc: remove layer '%s/%s'", e->backend, e->hex);
	w->st->layers++;
	if (w->report) {
		cleanup_free char *what = xasprintf("layer %s/sha256:%s", e->backend, e->hex);

		w->report(what, w->arg);
	}
	return 0;
}

static int sweep_layers(struct store *s, struct marks *m,
			void (*report)(const char *what, void *arg), void *arg,
			struct store_gc_stats *st, struct strata_error **err)
{
	struct sweep w = { s, m, report, arg, st };

	return store_layer_walk(s, sweep_layer, &w, err);
}

static int sweep_tmp(struct store *s, struct store_gc_stats *st, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->tmp_fd, ".")))
		return strata_fail(err, errno, "gc: read tmp");
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (path_rm_rf_at(dirfd(d), de->d_name, err) < 0)
			return strata_wrap(err, "gc: clean tmp");
		st->tmp++;
	}
	return 0;
}

/*
 * Removes what killed writers left beside the records: the temporary files
 * of file_write_atomic_at and file_write_replace_at (whose process is
 * gone) in @rel, and with @children in each dir under it. A missing @rel
 * is nothing to sweep.
 */
static int sweep_stale_at(struct store *s, const char *rel, bool children,
			  struct store_gc_stats *st, struct strata_error **err)
{
	cleanup_close int fd = openat(s->root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int n;

	if (fd < 0)
		return errno == ENOENT ? 0 : strata_fail(err, errno, "gc: open '%s'", rel);
	if ((n = file_tmp_sweep_at(fd, err)) < 0)
		return strata_wrap(err, "gc: clean '%s'", rel);
	st->tmp += (uint64_t)n;
	if (!children)
		return 0;
	if (!(d = fdopendir(steal_fd(&fd))))
		return strata_fail(err, errno, "gc: read '%s'", rel);
	while ((de = readdir(d))) {
		cleanup_close int cfd = -1;

		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* removed meanwhile, or not a dir */
		if ((n = file_tmp_sweep_at(cfd, err)) < 0)
			return strata_wrap(err, "gc: clean '%s/%s'", rel, de->d_name);
		st->tmp += (uint64_t)n;
	}
	return 0;
}

/* A tar-size record whose blob is gone (removed by hand, moved aside by fsck) goes too. */
static int sweep_tar_sizes(struct store *s, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->root_fd, "tar-sizes")))
		return errno == ENOENT ? 0 : strata_fail(err, errno, "gc: read 'tar-sizes'");
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (faccessat(s->blobs_fd, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			return strata_fail(err, errno, "gc: remove 'tar-sizes/%s'", de->d_name);
	}
	return 0;
}

/* The stale temporaries of every place records are rewritten in. */
static int sweep_stale(struct store *s, struct store_gc_stats *st, struct strata_error **err)
{
	static const char *const flat[] = { ".", "tar-sizes", "cache", "buildcache" };
	static const char *const nested[] = { "containers", "volumes" };
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++)
		if (sweep_stale_at(s, flat[i], false, st, err) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(nested) / sizeof(nested[0]); i++)
		if (sweep_stale_at(s, nested[i], true, st, err) < 0)
			return -1;
	/* each backend's image mounts: layers/<backend>/mnt/<image>/mount.json */
	if (!(d = file_opendir_at(s->root_fd, "layers")))
		return errno == ENOENT ? 0 : strata_fail(err, errno, "gc: read 'layers'");
	while ((de = readdir(d))) {
		cleanup_free char *mnt = NULL;

		if (de->d_name[0] == '.')
			continue;
		mnt = xasprintf("layers/%s/mnt", de->d_name);
		if (sweep_stale_at(s, mnt, true, st, err) < 0)
			return -1;
	}
	return sweep_tar_sizes(s, err);
}

int store_gc(struct store *s, void (*report)(const char *what, void *arg), void *arg,
	     struct store_gc_stats *stats, struct strata_error **err)
{
	struct marks m = { STRMAP_INIT, STRMAP_INIT };
	struct store_gc_stats st = { 0 };
	int ret = -1;

	if (s->pin_depth > 0)
		return strata_fail_msg(err, EDEADLK, "gc: this process is adding content");
	while (flock(s->pin_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			strata_fail(err, errno, "gc: lock 'gc.lock'");
			goto out_free;
		}
	}
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		goto out_pin;
	if (mark_all(s, &m, err) < 0 || sweep_blobs(s, &m, report, arg, &st, err) < 0 ||
	    sweep_layers(s, &m, report, arg, &st, err) < 0 || sweep_tmp(s, &st, err) < 0 ||
	    sweep_stale(s, &st, err) < 0 ||
	    store_digest_locks_sweep(s, err) < 0)
		goto out_unlock;
	ret = 0;
out_unlock:
	store_unlock(s);
	/* after the record lock: the copies' lock is always taken before it */
	if (ret == 0) {
		size_t n = 0;

		ret = store_idmap_prune(s, report, arg, &n, err);
		st.idmap_copies = n;
	}
out_pin:
	flock(s->pin_fd, LOCK_UN);
out_free:
	strmap_release(&m.blobs, NULL);
	strmap_release(&m.chains, NULL);
	if (stats)
		*stats = st;
	return ret;
}
