/*
 * Layer dirs: ROOT/layers/<backend>/<chain-hex>/{layer.json,diff/}, one per
 * layer stack, shared by every image with that chain. overlay and aufs dirs
 * hold one layer's changes in their whiteout format; a vfs dir is a full
 * snapshot (the parent's layers replayed, then this one applied). Each is
 * made under ROOT/tmp and renamed into place while the store is pinned, so
 * a crash leaves only staging that gc removes, and two makers of the same
 * dir race harmlessly: the loser drops its copy. The content is not synced
 * (it is a cache of a blob that is): layer.json names the boot it was made
 * in, and a dir from an earlier boot is made again before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-int.h"

int layers_backend_whiteout(const char *backend, enum layers_whiteout *out)
{
	return layers_whiteout_parse(backend, out);
}

char *layers_dir_path(struct store *s, const char *backend, const char *chain_id)
{
	cleanup_free char *dir = store_layer_path(s, backend, chain_id);

	return path_join(dir, "diff");
}

/* This boot's ID (/proc/sys/kernel/random/boot_id), or "" when unknown. */
static const char *boot_id(void)
{
	static char id[64];
	static bool read_once;

	if (!read_once) {
		cleanup_free char *buf = NULL;
		size_t len = 0;

		read_once = true;
		if (file_read_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", sizeof(id) - 1, &buf,
				 &len, NULL) == 0) {
			while (len && buf[len - 1] == '\n')
				len--;
			memcpy(id, buf, len);
			id[len] = '\0';
		}
	}
	return id;
}

/*
 * True when the layer dir exists and can be trusted: its content is not
 * synced when it is made (a cache of a blob that is), so a dir made during
 * an earlier boot, which a crash may have cut short, is made again.
 */
static bool layer_dir_valid(struct store *s, const char *backend, const char *chain_id)
{
	cleanup_json json_t *rec = NULL;
	const char *made;

	if (!store_layer_exists(s, backend, chain_id))
		return false;
	rec = store_layer_record(s, backend, chain_id, NULL);
	made = rec ? jv_str(rec, "Boot") : NULL;
	if (!made || !*boot_id() || !strcmp(made, boot_id()))
		return true;
	log_info("layer %.19s was unpacked before a reboot: unpacking it again", chain_id);
	{
		cleanup_free char *rel = xasprintf("%s/%s", backend, digest_hex(chain_id));
		cleanup_free char *tmp = store_tmp_name("-stale");

		/* out of the way first (atomically), then removed */
		if (renameat(s->layers_fd, rel, s->tmp_fd, tmp) == 0)
			path_rm_rf_at(s->tmp_fd, tmp, NULL);
	}
	return store_layer_exists(s, backend, chain_id);
}

/* Fails unless the unpacked tar's diffID @got is @want (when the image names one). */
static int check_diff_id(const char *digest, const char *want, const char *got,
			 struct strata_error **err)
{
	if (want && strcmp(want, got))
		return strata_fail_msg(err, EINVAL,
				       "layer %.19s: its content has diffID %s, the image says %s",
				       digest, got, want);
	return 0;
}

/* Unpacks blob @digest into @dfd, checking its diffID when @diff_id is given. */
static int unpack_blob(struct store *s, const char *digest, const char *diff_id, int dfd,
		       enum layers_whiteout wh, uint64_t *bytes, struct strata_error **err)
{
	struct layers_unpack_stats st;
	int fd = store_blob_open(s, digest, err);
	int r;

	if (fd < 0)
		return -1;
	r = layers_unpack(fd, dfd, wh, NULL, &st, err);
	close(fd);
	if (r < 0)
		return strata_wrap(err, "layer %.19s", digest);
	if (check_diff_id(digest, diff_id, st.diff_id, err) < 0)
		return -1;
	if (bytes)
		*bytes = st.bytes;
	return 0;
}

/* vfs: replays the layers below @parent (bottom first) into @dfd. */
static int replay_parents(struct store *s, const char *parent, int dfd, struct strata_error **err)
{
	cleanup_strv char **blobs = NULL;
	cleanup_strv char **diffs = NULL;
	cleanup_free char *cur = parent ? xstrdup(parent) : NULL;

	while (cur) {
		cleanup_json json_t *rec = store_layer_record(s, "vfs", cur, err);
		const char *blob, *diff, *next;

		if (!rec)
			return strata_wrap(err, "parent layer %.19s", cur);
		blob = jv_str(rec, "Blob");
		diff = jv_str(rec, "DiffID");
		next = jv_str(rec, "Parent");
		if (!blob || !diff)
			return strata_fail_msg(err, EINVAL, "layer record %.19s has no Blob or DiffID",
					       cur);
		strv_append(&blobs, blob);
		strv_append(&diffs, diff);
		free(cur);
		cur = next ? xstrdup(next) : NULL;
	}
	for (size_t i = strv_len(blobs); i-- > 0;)
		if (unpack_blob(s, blobs[i], diffs[i], dfd, LAYERS_WHITEOUT_VFS, NULL, err) < 0)
			return -1;
	return 0;
}

/* A layer dir being made in ROOT/tmp/<tmp>/, diff/ inside; the caller pins the store. */
struct staging {
	char *tmp;
	int tfd, dfd;
};

/* Makes the staging dirs; on failure, staging_end() removes what was made. */
static int staging_begin(struct store *s, const char *backend, struct staging *st,
			 struct strata_error **err)
{
	cleanup_free char *tmp = store_tmp_name("-layer");

	st->tmp = NULL;
	st->tfd = st->dfd = -1;
	if (mkdirat(s->layers_fd, backend, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "create layers/%s", backend);
	if (mkdirat(s->tmp_fd, tmp, 0700) < 0)
		return strata_fail(err, errno, "create tmp/%s", tmp);
	st->tmp = steal_ptr(&tmp);
	st->tfd = openat(s->tmp_fd, st->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->tfd < 0 || mkdirat(st->tfd, "diff", 0755) < 0 ||
	    (st->dfd = openat(st->tfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
		    0)
		return strata_fail(err, errno, "create tmp/%s/diff", st->tmp);
	return 0;
}

/* Writes the record and renames the staged dir into place (a twin made meanwhile wins). */
static int staging_install(struct store *s, const char *backend, struct staging *st,
			   const char *chain_id, const char *parent_chain_id, const char *diff_id,
			   const char *blob_digest, uint64_t bytes, struct strata_error **err)
{
	cleanup_free char *created = time_rfc3339(time_now_ns() / 1000000000, 0);
	cleanup_free char *final = NULL;
	cleanup_json json_t *rec = NULL;

	rec = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:s, s:s}", "ChainID", chain_id, "DiffID",
			diff_id ? diff_id : "", "Parent", parent_chain_id, "Blob", blob_digest,
			"Size", (json_int_t)bytes, "Created", created, "Boot", boot_id());
	if (jv_write_at(st->tfd, "layer.json", rec, err) < 0)
		return -1;
	final = xasprintf("%s/%s", backend, digest_hex(chain_id));
	if (renameat(s->tmp_fd, st->tmp, s->layers_fd, final) < 0) {
		if ((errno == EEXIST || errno == ENOTEMPTY) &&
		    store_layer_exists(s, backend, chain_id)) {
			log_debug("layer dir %s made meanwhile by another process", final);
			return 0;
		}
		return strata_fail(err, errno, "move layer dir into layers/%s", final);
	}
	free(st->tmp);
	st->tmp = NULL;
	file_fsync_dir(s->layers_fd, NULL);
	return 0;
}

/* Closes the staging and removes what is left of it (nothing once installed). */
static void staging_end(struct store *s, struct staging *st)
{
	if (st->dfd >= 0)
		close(st->dfd);
	if (st->tfd >= 0)
		close(st->tfd);
	if (st->tmp)
		path_rm_rf_at(s->tmp_fd, st->tmp, NULL);
	free(st->tmp);
	st->tmp = NULL;
	st->tfd = st->dfd = -1;
}

int layers_dir_unpack(struct store *s, const char *backend, const char *chain_id,
		      const char *parent_chain_id, const char *diff_id, const struct store_desc *blob,
		      struct strata_error **err)
{
	enum layers_whiteout wh;
	struct staging st;
	uint64_t bytes = 0;
	int ret = -1;

	if (layers_backend_whiteout(backend, &wh) < 0)
		return strata_fail_msg(err, EINVAL, "unknown storage backend '%s'", backend);
	if (layer_dir_valid(s, backend, chain_id))
		return 0;
	if (wh == LAYERS_WHITEOUT_VFS && parent_chain_id &&
	    !store_layer_exists(s, backend, parent_chain_id))
		return strata_fail_msg(err, ENOENT, "parent layer dir %.19s is missing",
				       parent_chain_id);
	if (store_pin(s, err) < 0)
		return -1;
	if (staging_begin(s, backend, &st, err) < 0)
		goto out;
	if (wh == LAYERS_WHITEOUT_VFS && replay_parents(s, parent_chain_id, st.dfd, err) < 0)
		goto out;
	if (unpack_blob(s, blob->digest, diff_id, st.dfd, wh, &bytes, err) < 0)
		goto out;
	ret = staging_install(s, backend, &st, chain_id, parent_chain_id, diff_id, blob->digest,
			      bytes, err);
out:
	staging_end(s, &st);
	store_unpin(s);
	return ret;
}

int layers_dir_ensure(struct store *s, const char *backend, const struct store_image *img, size_t n,
		      struct strata_error **err)
{
	cleanup_strv char **chains = store_image_chain_ids(img);

	if (n > img->manifest->n_layers)
		n = img->manifest->n_layers;
	for (size_t i = 0; i < n; i++) {
		const char *diff = i < img->n_layers ? img->diff_ids[i] : NULL;

		if (layers_dir_unpack(s, backend, chains[i], i ? chains[i - 1] : NULL, diff,
				      &img->manifest->layers[i], err) < 0)
			return -1;
	}
	return 0;
}

/* ---- a layer dir made while its blob arrives ---- */

struct layers_dir_stream {
	struct store *s;
	char *backend, *chain_id, *parent_chain_id, *diff_id, *blob_digest;
	enum layers_whiteout wh;
	struct staging st;
	struct layers_follow *follow;
	int fd; /* the blob's staging file, read-only */
	pthread_t thread;
	/* the unpack thread's results */
	int ret;
	struct layers_unpack_stats stats;
	struct strata_error *err;
};

static void *stream_main(void *arg)
{
	struct layers_dir_stream *ds = arg;
	struct layers_unpack_opts o = { .follow = ds->follow };

	ds->ret = layers_unpack(ds->fd, ds->st.dfd, ds->wh, &o, &ds->stats, &ds->err);
	return NULL;
}

/* Frees @ds once its thread is joined (or was never started): staging removed, store unpinned. */
static void stream_free(struct layers_dir_stream *ds)
{
	if (ds->fd >= 0)
		close(ds->fd);
	strata_error_free(ds->err);
	layers_follow_free(ds->follow);
	staging_end(ds->s, &ds->st);
	store_unpin(ds->s);
	free(ds->backend);
	free(ds->chain_id);
	free(ds->parent_chain_id);
	free(ds->diff_id);
	free(ds->blob_digest);
	free(ds);
}

int layers_dir_stream_new(struct store *s, const char *backend, const char *chain_id,
			  const char *parent_chain_id, const char *diff_id,
			  const char *blob_digest, int blob_fd, struct layers_dir_stream **out,
			  struct strata_error **err)
{
	struct layers_dir_stream *ds;
	enum layers_whiteout wh;

	*out = NULL;
	if (layers_backend_whiteout(backend, &wh) < 0)
		return strata_fail_msg(err, EINVAL, "unknown storage backend '%s'", backend);
	/* A vfs dir is its parents replayed first: made once they are, after the pull. */
	if (wh == LAYERS_WHITEOUT_VFS || layer_dir_valid(s, backend, chain_id))
		return 0;
	ds = xcalloc(1, sizeof(*ds));
	ds->s = s;
	ds->wh = wh;
	ds->fd = -1;
	ds->st.tfd = ds->st.dfd = -1;
	if (store_pin(s, err) < 0) {
		free(ds);
		return -1;
	}
	if (staging_begin(s, backend, &ds->st, err) < 0)
		goto fail;
	ds->fd = fcntl(blob_fd, F_DUPFD_CLOEXEC, 0);
	if (ds->fd < 0) {
		strata_fail(err, errno, "layer %.19s: reopen the blob", blob_digest);
		goto fail;
	}
	ds->backend = xstrdup(backend);
	ds->chain_id = xstrdup(chain_id);
	ds->parent_chain_id = parent_chain_id ? xstrdup(parent_chain_id) : NULL;
	ds->diff_id = diff_id ? xstrdup(diff_id) : NULL;
	ds->blob_digest = xstrdup(blob_digest);
	ds->follow = layers_follow_new();
	if (pthread_create(&ds->thread, NULL, stream_main, ds) != 0) {
		strata_fail(err, EAGAIN, "layer %.19s: start the unpack thread", blob_digest);
		goto fail;
	}
	*out = ds;
	return 0;
fail:
	stream_free(ds);
	return -1;
}

void layers_dir_stream_grow(struct layers_dir_stream *ds, uint64_t size)
{
	if (ds)
		layers_follow_grow(ds->follow, size);
}

void layers_dir_stream_end(struct layers_dir_stream *ds)
{
	if (ds)
		layers_follow_end(ds->follow, true);
}

int layers_dir_stream_finish(struct layers_dir_stream *ds, bool complete,
			     struct strata_error **err)
{
	int ret = -1;

	if (!ds)
		return 0;
	layers_follow_end(ds->follow, complete);
	pthread_join(ds->thread, NULL);
	if (!complete) {
		ret = 0; /* discarded, as asked */
	} else if (ds->ret < 0) {
		strata_fail_msg(err, strata_error_code(ds->err), "layer %.19s: %s", ds->blob_digest,
				strata_error_msg(ds->err));
	} else if (check_diff_id(ds->blob_digest, ds->diff_id, ds->stats.diff_id, err) == 0) {
		ret = staging_install(ds->s, ds->backend, &ds->st, ds->chain_id,
				      ds->parent_chain_id, ds->diff_id, ds->blob_digest,
				      ds->stats.bytes, err);
	}
	stream_free(ds);
	return ret;
}
