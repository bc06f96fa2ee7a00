/*
 * Layer dirs: ROOT/layers/<backend>/<chain-hex>/{layer.json,diff/}, one per
 * layer stack, shared by every image with that chain. overlay and aufs dirs
 * hold one layer's changes in their whiteout format; a vfs dir is a full
 * snapshot (the parent's layers replayed, then this one applied).
 *
 * This file is their one maker: a stage (ROOT/tmp/<name>/ with an empty
 * diff/, made while the store is pinned) is filled (by an unpack, a stream,
 * a copy of a container's upper dir, a flattening, or a dir renamed in),
 * then recorded (layer.json, with the boot it was made in) and published
 * (renamed into place). A crash leaves only staging that gc removes, and two
 * makers of the same dir race harmlessly: the loser drops its copy.
 *
 * The content is not synced (it is a cache of a blob that is): a dir is
 * trusted only with a record of this boot naming its own chain ID. One from
 * an earlier boot, without a record, or with a broken one is treated as
 * absent and made again: the stale dir is first moved aside into ROOT/tmp
 * (atomically, under the store's exclusive lock, after checking again that
 * it is still invalid), so a new one can take its place.
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

bool layers_dir_valid(struct store *s, const char *backend, const char *chain_id)
{
	cleanup_json json_t *rec = NULL;
	const char *made, *cid;

	if (!store_layer_exists(s, backend, chain_id))
		return false;
	rec = store_layer_record(s, backend, chain_id, NULL);
	if (!json_is_object(rec))
		return false;
	cid = jv_str(rec, "ChainID");
	made = jv_str(rec, "Boot");
	return cid && !strcmp(cid, chain_id) && made && !strcmp(made, sys_boot_id());
}

/*
 * Moves an invalid layer dir of @chain_id out of the way and removes it.
 * Under the exclusive lock, so that a valid dir another maker published
 * meanwhile is never the one removed.
 */
static int discard_invalid(struct store *s, const char *backend, const char *chain_id,
			   struct strata_error **err)
{
	cleanup_free char *trash = NULL;
	int r = 0;

	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (!layers_dir_valid(s, backend, chain_id)) {
		log_info("layer %.19s: its dir is half-made, has no valid record or is from an "
			 "earlier boot: making it again", chain_id);
		r = store_layer_move_aside(s, backend, chain_id, &trash, err);
	}
	store_unlock(s);
	if (trash)
		store_tmp_remove(s, trash, NULL);
	return r;
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

/* ---- stage -> fill -> record -> publish ---- */

struct layers_stage {
	struct store *s;
	char *backend;
	char *tmp; /* ROOT/tmp/<tmp>, NULL once published */
	int tfd, dfd;
	bool pinned;
};

int layers_stage_new(struct store *s, const char *backend, struct layers_stage **out,
		     struct strata_error **err)
{
	struct layers_stage *st;
	enum layers_whiteout wh;

	*out = NULL;
	if (layers_backend_whiteout(backend, &wh) < 0)
		return strata_fail_msg(err, EINVAL, "unknown storage backend '%s'", backend);
	st = xcalloc(1, sizeof(*st));
	st->s = s;
	st->backend = xstrdup(backend);
	st->tfd = st->dfd = -1;
	if (store_pin(s, err) < 0)
		goto fail;
	st->pinned = true;
	st->tfd = store_tmp_mkdir(s, "-layer", 0700, &st->tmp, err);
	if (st->tfd < 0)
		goto fail;
	if (mkdirat(st->tfd, "diff", 0755) < 0 ||
	    (st->dfd = openat(st->tfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
		    0) {
		strata_fail(err, errno, "create tmp/%s/diff", st->tmp);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	layers_stage_free(st);
	return -1;
}

int layers_stage_diff_fd(const struct layers_stage *st)
{
	return st->dfd;
}

int layers_stage_adopt(struct layers_stage *st, int dirfd, const char *name,
		       struct strata_error **err)
{
	if (st->dfd >= 0)
		close(st->dfd);
	st->dfd = -1;
	if (unlinkat(st->tfd, "diff", AT_REMOVEDIR) < 0)
		return strata_fail(err, errno, "replace tmp/%s/diff", st->tmp);
	if (renameat(dirfd, name, st->tfd, "diff") < 0)
		return strata_fail(err, errno, "move '%s' into the new layer dir", name);
	st->dfd = openat(st->tfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->dfd < 0)
		return strata_fail(err, errno, "open tmp/%s/diff", st->tmp);
	return 0;
}

/* Writes layer.json into the stage. */
static int stage_record(struct layers_stage *st, const struct layers_dir_record *r,
			struct strata_error **err)
{
	cleanup_free char *created = time_rfc3339(time_now_ns() / 1000000000, 0);
	cleanup_json json_t *rec = NULL;

	rec = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:s, s:s}", "ChainID", r->chain_id, "DiffID",
			r->diff_id ? r->diff_id : "", "Parent", r->parent, "Blob",
			r->blob ? r->blob : "", "Size", (json_int_t)r->size, "Created", created,
			"Boot", sys_boot_id());
	return jv_write_at(st->tfd, "layer.json", rec, err);
}

int layers_stage_publish(struct layers_stage *st, const struct layers_dir_record *rec,
			 struct strata_error **err)
{
	struct store *s = st->s;

	if (!st->tmp)
		return strata_fail_msg(err, EINVAL, "layer %.19s: published twice", rec->chain_id);
	if (stage_record(st, rec, err) < 0)
		return strata_wrap(err, "layer %.19s", rec->chain_id);
	/* what the blob holds unpacked: the size listings show, as podman's */
	if (rec->blob && *rec->blob && rec->size)
		store_blob_tar_size_put(s, rec->blob, rec->size);
	/* A second round only after a stale dir was moved aside; a third means it came back. */
	for (int round = 0; round < 3; round++) {
		struct strata_error *e = NULL;

		if (store_layer_publish(s, st->backend, rec->chain_id, st->tmp, &e) == 0) {
			strata_error_free(e);
			free(steal_ptr(&st->tmp));
			return 0;
		}
		if (strata_error_code(e) != EEXIST) {
			*err = e;
			return strata_wrap(err, "layer %.19s", rec->chain_id);
		}
		strata_error_free(e);
		if (layers_dir_valid(s, st->backend, rec->chain_id)) {
			log_debug("layer dir %.19s made meanwhile by another process", rec->chain_id);
			return 0; /* ours is removed with the stage */
		}
		if (discard_invalid(s, st->backend, rec->chain_id, err) < 0)
			return strata_wrap(err, "layer %.19s", rec->chain_id);
	}
	return strata_fail_msg(err, EEXIST, "layer %.19s: an invalid dir keeps coming back in its place",
			       rec->chain_id);
}

void layers_stage_free(struct layers_stage *st)
{
	if (!st)
		return;
	if (st->dfd >= 0)
		close(st->dfd);
	if (st->tfd >= 0)
		close(st->tfd);
	if (st->tmp)
		store_tmp_remove(st->s, st->tmp, NULL);
	if (st->pinned)
		store_unpin(st->s);
	free(st->tmp);
	free(st->backend);
	free(st);
}

int layers_dir_unpack(struct store *s, const char *backend, const char *chain_id,
		      const char *parent_chain_id, const char *diff_id, const struct store_desc *blob,
		      struct strata_error **err)
{
	struct layers_dir_record rec = { chain_id, parent_chain_id, diff_id, blob->digest, 0 };
	struct layers_stage *st = NULL;
	enum layers_whiteout wh;
	int ret = -1;

	if (layers_backend_whiteout(backend, &wh) < 0)
		return strata_fail_msg(err, EINVAL, "unknown storage backend '%s'", backend);
	if (layers_dir_valid(s, backend, chain_id))
		return 0;
	if (wh == LAYERS_WHITEOUT_VFS && parent_chain_id &&
	    !layers_dir_valid(s, backend, parent_chain_id))
		return strata_fail_msg(err, ENOENT, "parent layer dir %.19s is missing",
				       parent_chain_id);
	if (layers_stage_new(s, backend, &st, err) < 0)
		return -1;
	if (wh == LAYERS_WHITEOUT_VFS && replay_parents(s, parent_chain_id, st->dfd, err) < 0)
		goto out;
	if (unpack_blob(s, blob->digest, diff_id, st->dfd, wh, &rec.size, err) < 0)
		goto out;
	ret = layers_stage_publish(st, &rec, err);
out:
	layers_stage_free(st);
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
	struct layers_stage *st;
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

	ds->ret = layers_unpack(ds->fd, ds->st->dfd, ds->wh, &o, &ds->stats, &ds->err);
	return NULL;
}

/* Frees @ds once its thread is joined (or was never started): staging removed, store unpinned. */
static void stream_free(struct layers_dir_stream *ds)
{
	if (ds->fd >= 0)
		close(ds->fd);
	strata_error_free(ds->err);
	layers_follow_free(ds->follow);
	layers_stage_free(ds->st);
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
	if (wh == LAYERS_WHITEOUT_VFS || layers_dir_valid(s, backend, chain_id))
		return 0;
	ds = xcalloc(1, sizeof(*ds));
	ds->s = s;
	ds->wh = wh;
	ds->fd = -1;
	if (layers_stage_new(s, backend, &ds->st, err) < 0)
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
		struct layers_dir_record rec = { ds->chain_id, ds->parent_chain_id, ds->diff_id,
						 ds->blob_digest, ds->stats.bytes };

		ret = layers_stage_publish(ds->st, &rec, err);
	}
	stream_free(ds);
	return ret;
}
