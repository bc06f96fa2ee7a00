/*
 * Consistency check: every blob re-hashed against its name, every tag,
 * container record, layer record, volume and cache entry checked for what
 * it points at. With repair, corrupt blobs move to ROOT/corrupt/ (kept for
 * inspection, never served again) and dangling records are dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

struct fsck {
	struct store *s;
	bool repair;
	void (*report)(const char *problem, void *arg);
	void *arg;
	unsigned problems;
	unsigned repaired;
	struct strmap sound; /* manifests checked whole already: N names of one image check it once */
};

static void problem(struct fsck *f, bool repaired, const char *fmt, ...) FMT(3, 4);

static void problem(struct fsck *f, bool repaired, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	f->problems++;
	if (repaired)
		f->repaired++;
	if (f->report) {
		char *line = repaired ? xasprintf("%s (repaired)", msg) : xstrdup(msg);

		f->report(line, f->arg);
		free(line);
	}
	free(msg);
}

static bool move_aside(struct fsck *f, const char *hex)
{
	struct store *s = f->s;

	if (mkdirat(s->root_fd, "corrupt", 0700) < 0 && errno != EEXIST)
		return false;
	{
		cleanup_free char *dst = xasprintf("corrupt/%s", hex);

		return renameat(s->blobs_fd, hex, s->root_fd, dst) == 0;
	}
}

static int check_blobs(struct fsck *f, struct strata_error **err)
{
	struct store *s = f->s;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->blobs_fd, ".")))
		return strata_fail(err, errno, "fsck: read blobs");
	while ((de = readdir(d))) {
		char want[DIGEST_STR_LEN], got[DIGEST_STR_LEN];
		cleanup_close int bfd = -1;
		struct strata_error *rerr = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strlen(de->d_name) != DIGEST_HEX_LEN || !digest_is_hex_prefix(de->d_name)) {
			problem(f, false, "blobs/sha256/%s: not a blob name", de->d_name);
			continue;
		}
		snprintf(want, sizeof(want), "sha256:%.64s", de->d_name);
		bfd = openat(s->blobs_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (bfd < 0 || digest_fd(bfd, got, NULL, &rerr) < 0) {
			problem(f, false, "blob %s: unreadable: %s", want,
				rerr ? strata_error_msg(rerr) : strerror(errno));
			strata_error_free(rerr);
			continue;
		}
		if (strcmp(want, got) != 0) {
			bool fixed = f->repair && move_aside(f, de->d_name);

			problem(f, fixed, "blob %s: corrupt, content hashes to %s", want, got);
		}
	}
	return 0;
}

static bool check_manifest_once(struct fsck *f, const char *digest, int64_t size, const char *what,
				int depth);

/* Checks that an image manifest (or index) and what it names are present, once per digest and size. */
static bool check_manifest(struct fsck *f, const char *digest, int64_t size, const char *what,
			   int depth)
{
	cleanup_free char *key = NULL;
	bool ok;

	if (!digest || !digest_is_valid(digest)) {
		problem(f, false, "%s: invalid digest", what);
		return false;
	}
	key = xasprintf("%s/%lld", digest, (long long)size);
	if (strmap_has(&f->sound, key))
		return true;
	ok = check_manifest_once(f, digest, size, what, depth);
	if (ok)
		strmap_add(&f->sound, key);
	return ok;
}

static bool check_manifest_once(struct fsck *f, const char *digest, int64_t size, const char *what,
				int depth)
{
	struct store *s = f->s;
	cleanup_free char *buf = NULL;
	cleanup_json json_t *doc = NULL;
	struct strata_error *rerr = NULL;
	size_t len = 0;
	const char *mt;
	bool ok = true;

	if (store_blob_read(s, digest, STORE_JSON_MAX, &buf, &len, &rerr) < 0) {
		problem(f, false, "%s: manifest %s: %s", what, digest, strata_error_msg(rerr));
		strata_error_free(rerr);
		return false;
	}
	if (size >= 0 && (size_t)size != len) {
		problem(f, false, "%s: size %lld does not match manifest %s (%zu bytes)", what,
			(long long)size, digest, len);
		return false;
	}
	doc = json_loadb(buf, len, 0, NULL);
	mt = doc ? store_manifest_sniff(doc) : NULL;
	if (store_media_is_index(mt) && depth < 2) {
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(doc, "manifests"), i, e)
			if (!check_manifest(f, jv_str(e, "digest"), jv_int(e, "size", -1), what,
					    depth + 1))
				ok = false;
		return ok;
	}
	{
		struct store_manifest *m = NULL;

		if (store_manifest_parse(buf, len, &m, &rerr) < 0) {
			problem(f, false, "%s: %s", what, strata_error_msg(rerr));
			strata_error_free(rerr);
			return false;
		}
		if (!store_blob_exists(s, m->config.digest)) {
			problem(f, false, "%s: config %s is missing", what, m->config.digest);
			ok = false;
		}
		for (size_t i = 0; i < m->n_layers; i++) {
			if (!store_blob_exists(s, m->layers[i].digest)) {
				problem(f, false, "%s: layer %s is missing", what, m->layers[i].digest);
				ok = false;
			}
		}
		store_manifest_free(m);
	}
	return ok;
}

static int check_tags(struct fsck *f, struct strata_error **err)
{
	cleanup_json json_t *idx = store_index_load(f->s, err);
	json_t *list, *e;
	bool changed = false;
	size_t i;

	if (!idx) {
		problem(f, false, "index.json: %s", strata_error_msg(*err));
		strata_error_free(*err);
		*err = NULL;
		return 0;
	}
	list = json_object_get(idx, "manifests");
	for (i = 0; i < json_array_size(list);) {
		const char *ref;
		cleanup_free char *what = NULL;

		e = json_array_get(list, i);
		ref = store_index_entry_ref(e);
		what = ref ? xasprintf("tag '%s'", ref) : xasprintf("index.json entry %zu", i);
		/* Problems are reported inside; count them to know whether to drop. */
		{
			unsigned before = f->problems;
			bool ok = check_manifest(f, jv_str(e, "digest"), jv_int(e, "size", -1), what, 0);

			if (!ok && f->repair) {
				json_array_remove(list, i);
				changed = true;
				/* Every problem of this entry is repaired by dropping it. */
				f->repaired += f->problems - before;
				if (f->report) {
					cleanup_free char *line = xasprintf("%s: dropped", what);

					f->report(line, f->arg);
				}
				continue;
			}
		}
		i++;
	}
	if (changed && store_index_save(f->s, idx, err) < 0)
		return -1;
	return 0;
}

/* Each volume a container's record lists must exist. */
static void check_container_volumes(struct fsck *f, const char *id, const json_t *rec)
{
	json_t *vols = json_object_get(rec, "Volumes");
	json_t *v;
	size_t i;

	json_array_foreach(vols, i, v) {
		const char *name = json_string_value(v);
		cleanup_free char *rel = NULL;

		if (!name || !store_volume_name_is_valid(name)) {
			problem(f, false, "container %.12s: invalid volume name in its record", id);
			continue;
		}
		rel = xasprintf("volumes/%s", name);
		if (faccessat(f->s->root_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			problem(f, false, "container %.12s: volume '%s' is missing", id, name);
	}
}

/*
 * Volumes: each entry of ROOT/volumes a valid name with a record naming it
 * and a data dir. A broken one is reported, never removed: its data is the
 * user's (a killed create or rm leaves nothing half-made here, only
 * garbage in tmp).
 */
static int check_volumes(struct fsck *f, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(f->s->root_fd, "volumes")))
		return errno == ENOENT ? 0 : strata_fail(err, errno, "fsck: read volumes");
	while ((de = readdir(d))) {
		struct strata_error *e = NULL;
		cleanup_json json_t *vol = NULL;
		int dfd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!store_volume_name_is_valid(de->d_name)) {
			problem(f, false, "volumes/%s: not a volume name", de->d_name);
			continue;
		}
		vol = store_volume_load(f->s, de->d_name, &e);
		dfd = vol ? store_volume_data_open(f->s, de->d_name, &e) : -1;
		if (dfd >= 0)
			close(dfd);
		else
			problem(f, false, "volume '%s': %s", de->d_name, strata_error_msg(e));
		strata_error_free(e);
	}
	return 0;
}

/*
 * Reads the records under the shared lock, as their writers (create, save,
 * remove) hold the exclusive one: a record is never seen half-made or
 * half-removed. A broken one is removed after the lock is dropped
 * (removal takes it exclusively), unless it was removed meanwhile.
 */
static int check_containers(struct fsck *f, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	cleanup_strv char **broken = NULL;
	cleanup_strv char **why = NULL;

	if (store_lock(f->s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	if (store_container_list(f->s, &ids, err) < 0) {
		store_unlock(f->s);
		return -1;
	}
	broken = xcalloc(1, sizeof(char *));
	why = xcalloc(1, sizeof(char *));
	for (size_t i = 0; ids[i]; i++) {
		struct strata_error *rerr = NULL;
		cleanup_json json_t *rec = store_container_load(f->s, ids[i], &rerr);
		const char *dg;

		if (!rec) {
			strv_append(&broken, ids[i]);
			strv_append(&why, strata_error_msg(rerr));
			strata_error_free(rerr);
			continue;
		}
		if (!jv_str(rec, "Id") || strcmp(jv_str(rec, "Id"), ids[i]) != 0) {
			problem(f, false, "container %.12s: record names another ID", ids[i]);
			continue;
		}
		dg = jv_str(rec, "ImageDigest");
		if (dg && *dg && !store_blob_exists(f->s, dg))
			problem(f, false, "container %.12s: image manifest %s is missing", ids[i], dg);
		check_container_volumes(f, ids[i], rec);
	}
	store_unlock(f->s);
	for (size_t i = 0; broken[i]; i++) {
		bool fixed = f->repair && store_container_remove(f->s, broken[i], NULL) == 0;

		problem(f, fixed, "container %.12s: %s", broken[i], why[i]);
	}
	return 0;
}

/* A layer dir without a valid record is reported; repair moves it aside and deletes it. */
static int check_layer(const struct store_layer_entry *e, void *arg, struct strata_error **err)
{
	struct fsck *f = arg;
	cleanup_free char *chain = xasprintf("sha256:%s", e->hex);
	cleanup_json json_t *rec = NULL;
	struct strata_error *rerr = NULL;
	const char *cid;

	(void)err;
	rec = store_layer_record(f->s, e->backend, chain, &rerr);
	cid = rec ? jv_str(rec, "ChainID") : NULL;
	if (!rec || !cid || strcmp(cid, chain) != 0) {
		cleanup_free char *trash = store_tmp_name(".fsck");
		bool fixed = f->repair && renameat(e->backend_fd, e->hex, f->s->tmp_fd, trash) == 0;

		if (fixed)
			path_rm_rf_at(f->s->tmp_fd, trash, NULL);
		problem(f, fixed, "layer %s/%s: %s", e->backend, chain,
			rec ? "record names another chain ID" : strata_error_msg(rerr));
	}
	strata_error_free(rerr);
	return 0;
}

static int check_layers(struct fsck *f, struct strata_error **err)
{
	if (store_layer_walk(f->s, check_layer, f, err) < 0)
		return strata_wrap(err, "fsck");
	return 0;
}

static void idmap_problem(const char *what, void *arg)
{
	struct fsck *f = arg;

	problem(f, f->repair, "%s", what);
}

/* The id-mapped layer copies, under their own lock (taken before the record lock, never after). */
static int check_idmap(struct fsck *f, struct strata_error **err)
{
	size_t n = 0;
	int lfd = store_idmap_lock(f->s, f->repair, err);
	int ret;

	if (lfd < 0)
		return -1;
	ret = store_idmap_check(f->s, f->repair, idmap_problem, f, &n, err);
	close(lfd);
	return ret;
}

int store_fsck(struct store *s, bool repair, void (*report)(const char *problem, void *arg),
	       void *arg, unsigned *problems, unsigned *repaired, struct strata_error **err)
{
	struct fsck f = { s, repair, report, arg, 0, 0, STRMAP_INIT };
	int ret;

	if (store_lock(s, repair ? STORE_LOCK_EXCLUSIVE : STORE_LOCK_SHARED, err) < 0)
		return -1;
	ret = check_blobs(&f, err);
	if (ret == 0)
		ret = check_tags(&f, err);
	if (ret == 0)
		ret = check_layers(&f, err);
	if (ret == 0)
		ret = check_volumes(&f, err);
	store_unlock(s);
	if (ret == 0)
		ret = check_idmap(&f, err);
	/* Container removal takes the lock itself. */
	if (ret == 0)
		ret = check_containers(&f, err);
	strmap_release(&f.sound, NULL);
	*problems = f.problems;
	*repaired = f.repaired;
	return ret;
}
