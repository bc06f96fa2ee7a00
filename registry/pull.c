/*
 * Pull: manifest (resolving an index to one platform), then config and
 * layer blobs streamed into the store and verified against their digests,
 * the layer dirs of the backend asked for, then the manifest blob and the
 * tag. The tag is the last step: until it is written nothing refers to the
 * new blobs and dirs, and a failure (a full disk among them) leaves only
 * unreferenced ones that gc removes (the store stays consistent).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-int.h"

/* ---- blobs ---- */

struct blob_sink {
	struct store_blob_writer *w;
	const struct store_desc *d;
	struct layers_dir_stream *stream; /* the layer dir unpacked as the blob arrives, or NULL */
	const struct registry_opts *o;
};

static int blob_sink_write(const void *buf, size_t n, void *arg, struct strata_error **err)
{
	struct blob_sink *b = arg;

	if (store_blob_writer_size(b->w) + n > (uint64_t)b->d->size)
		return strata_fail_msg(err, EBADMSG,
				       "blob %s: the registry sent more than the %" PRId64
				       " bytes its descriptor gives",
				       b->d->digest, b->d->size);
	if (store_blob_writer_write(b->w, buf, n, err) < 0)
		return -1;
	layers_dir_stream_grow(b->stream, store_blob_writer_size(b->w));
	reg_event(b->o, REGISTRY_EVENT_BYTES, b->d->digest, store_blob_writer_size(b->w),
		  (uint64_t)b->d->size, NULL);
	return 0;
}

/* Announces a transfer of @sink's blob that starts (or resumes) now. */
static void blob_start(const struct blob_sink *sink)
{
	reg_event(sink->o, REGISTRY_EVENT_START, sink->d->digest,
		  sink->w ? store_blob_writer_size(sink->w) : 0, (uint64_t)sink->d->size, NULL);
}

/*
 * Waits for the layer dir unpacked as the blob arrived, and keeps it when its
 * diffID is right. When not, it is dropped: the dir is then made (and its
 * error reported) after the pull, as for a layer that was not streamed.
 */
static void sink_install(struct blob_sink *b)
{
	struct strata_error *e = NULL;

	if (!b->stream)
		return;
	if (layers_dir_stream_finish(steal_ptr(&b->stream), true, &e) < 0) {
		log_debug("pull: %s", strata_error_msg(e));
		strata_error_free(e);
		return;
	}
	log_debug("pull: layer %.19s unpacked as it arrived", b->d->digest);
}

/* Drops what a sink holds: the partial blob and its layer dir stream. */
static void sink_drop(struct blob_sink *b)
{
	store_blob_writer_abort(steal_ptr(&b->w));
	layers_dir_stream_finish(steal_ptr(&b->stream), false, NULL);
}

/* Checks the size and commits a fetched blob (always consumes the writer). */
static int blob_finish(struct blob_sink *sink, const struct registry_opts *o,
		       struct strata_error **err)
{
	const struct store_desc *d = sink->d;
	struct store_blob_writer *w = steal_ptr(&sink->w);
	uint64_t size = store_blob_writer_size(w);
	char got[DIGEST_STR_LEN];

	if (size != (uint64_t)d->size) {
		store_blob_writer_abort(w);
		layers_dir_stream_finish(steal_ptr(&sink->stream), false, NULL);
		return strata_fail_msg(err, EBADMSG,
				       "blob %s: the registry sent %" PRIu64 " bytes, want %" PRId64
				       " (truncated?)",
				       d->digest, size, d->size);
	}
	if (store_blob_writer_commit(w, d->digest, got, NULL, err) < 0) {
		layers_dir_stream_finish(steal_ptr(&sink->stream), false, NULL);
		return strata_wrap(err, "blob %s", d->digest);
	}
	/* Whole and verified: its unpack may read to the end (sink_install keeps it). */
	layers_dir_stream_end(sink->stream);
	reg_done_size(o, d->digest, size);
	return 0;
}

/*
 * The error for a blob that came short and could not be resumed: the
 * registry ignored (@status 0) or refused (@status) the Range request.
 */
static int truncated_fail(const struct store_desc *d, uint64_t got, long status,
			  struct strata_error **err)
{
	if (!status)
		return strata_fail_msg(err, ERANGE,
				       "blob %s: truncated: the registry sent %" PRIu64 " of %" PRId64
				       " bytes, then ignored the Range request to resume",
				       d->digest, got, d->size);
	return strata_fail_msg(err, EBADMSG,
			       "blob %s: truncated: the registry sent %" PRIu64 " of %" PRId64
			       " bytes, then refused the Range request to resume: HTTP %ld",
			       d->digest, got, d->size, status);
}

/*
 * Fetches one blob into the store, unless it is there already. @resume,
 * when not NULL, holds the bytes a broken transfer already wrote: the fetch
 * resumes after them with a Range request (and starts over when the
 * registry ignores it). Every failed attempt (a drop, a stall, a start over)
 * spends the client's retry budget, whatever it brought.
 */
static int fetch_blob_from(struct reg_client *c, struct store *s, const char *repo,
			   const struct store_desc *d, const struct registry_opts *o,
			   struct blob_sink *resume, struct strata_error **err)
{
	struct blob_sink sink = { .d = d, .o = o };
	cleanup_free char *url = xasprintf("/v2/%s/blobs/%s", repo, d->digest);
	struct reg_resp resp = { 0 };
	uint64_t from = 0;

	if (resume) {
		sink.w = steal_ptr(&resume->w);
		sink.stream = steal_ptr(&resume->stream);
	}
	if (!sink.w && store_blob_exists(s, d->digest)) {
		reg_event(o, REGISTRY_EVENT_DONE, d->digest, 0, (uint64_t)d->size,
			  "already present");
		return 0;
	}
	for (;;) {
		struct reg_req rq = { .method = "GET", .url = url, .body_fd = -1,
				      .sink = blob_sink_write, .sink_arg = &sink };
		struct strata_error *e = NULL;
		uint64_t got;
		int code;

		if (!sink.w && store_blob_writer_new(s, &sink.w, err) < 0)
			return -1;
		from = rq.range_from = store_blob_writer_size(sink.w);
		blob_start(&sink);
		if (reg_do(c, &rq, &resp, &e) == 0)
			break;
		code = strata_error_code(e);
		got = store_blob_writer_size(sink.w);
		if (code == ERANGE) {
			/* Started over: the stream would see the bytes twice. */
			sink_drop(&sink);
			strata_error_free(e);
			e = NULL;
			truncated_fail(d, from, 0, &e);
			if (reg_retry_error(c, d->digest, &e))
				continue;
		} else if (code == ECONNABORTED || code == ECONNREFUSED || code == ETIMEDOUT) {
			reg_notef(o, d->digest, "%s after %" PRIu64 " bytes, retrying",
				  code == ETIMEDOUT ? "stalled" : "connection lost", got);
			if (reg_retry_error(c, d->digest, &e))
				continue;
		}
		sink_drop(&sink);
		reg_resp_release(&resp);
		if (err && !*err)
			*err = e;
		else
			strata_error_free(e);
		if (code == EBADMSG || code == ERANGE)
			return -1;
		return strata_wrap(err, "blob %s", d->digest);
	}
	if (resp.status != 200 && resp.status != 206) {
		cleanup_free char *what = xasprintf("blob %s", d->digest);

		sink_drop(&sink);
		if (from > 0 && resp.status >= 400 && !reg_status_is_transient(resp.status))
			truncated_fail(d, from, resp.status, err);
		else
			reg_status_fail(&resp, what, err);
		reg_resp_release(&resp);
		return -1;
	}
	reg_resp_release(&resp);
	if (blob_finish(&sink, o, err) < 0)
		return -1;
	if (resume)
		resume->stream = steal_ptr(&sink.stream); /* installed with its siblings */
	else
		sink_install(&sink);
	return 0;
}

/* Fetches one blob into the store, unless it is there already. */
static int fetch_blob(struct reg_client *c, struct store *s, const char *repo,
		      const struct store_desc *d, const struct registry_opts *o,
		      struct strata_error **err)
{
	return fetch_blob_from(c, s, repo, d, o, NULL, err);
}

/* Layers fetched at once. */
#define PULL_PARALLEL 3

/*
 * A layer whose transfer failed in a way worth another attempt waits until
 * the parallel transfers end: retried in the middle of them (blocking) it
 * would starve the others, which libcurl would then take for stalls.
 */
enum layer_later { LATER_NONE, LATER_RESUME, LATER_AUTH, LATER_STATUS };

struct layer_fetch {
	struct reg_client *c;
	struct store *s;
	const char *repo;
	const struct store_manifest *m;
	const struct registry_opts *o;
	struct blob_sink *sinks;
	char **urls;
	char **diff_ids, **chain_ids; /* from the config, one per layer */
	enum layer_later *later;      /* what waits for each layer */
	struct strata_error **later_err; /* LATER_RESUME: the transfer's error */
	struct reg_resp *later_resp;  /* LATER_STATUS: the answer */
	size_t *map;		      /* this round's transfer -> layer index */
	int *locks;		      /* per layer: its digest lock while this process fetches it */
	bool *busy;		      /* per layer: another process holds its lock */
};

static int layer_begin(size_t k, struct reg_req *rq, void *arg, struct strata_error **err)
{
	struct layer_fetch *lf = arg;
	size_t i = lf->map[k];
	const struct store_desc *d = &lf->m->layers[i];
	struct strata_error *lerr = NULL;

	/*
	 * One process fetches a blob and makes its layer dir; another pulling
	 * the same blob now leaves it for the next round, when it has waited
	 * for the lock and finds it present (a wait here, holding the locks of
	 * earlier layers, could deadlock with a pull of the layers in another order).
	 */
	lf->locks[i] = store_digest_lock(lf->s, d->digest, false, &lerr);
	if (lf->locks[i] < 0) {
		if (strata_error_code(lerr) == EWOULDBLOCK) {
			lf->busy[i] = true;
			strata_error_free(lerr);
			return 0;
		}
		if (err && !*err)
			*err = lerr;
		else
			strata_error_free(lerr);
		return -1;
	}
	if (store_blob_exists(lf->s, d->digest)) {
		reg_event(lf->o, REGISTRY_EVENT_DONE, d->digest, 0, (uint64_t)d->size,
			  "already present");
		return 0;
	}
	lf->sinks[i].d = d;
	lf->sinks[i].o = lf->o;
	if (store_blob_writer_new(lf->s, &lf->sinks[i].w, err) < 0)
		return -1;
	if (lf->o && lf->o->unpack_backend) {
		/* Unpacked as it arrives; if that cannot start, it is made after the pull. */
		struct strata_error *e = NULL;
		int fd = store_blob_writer_open_read(lf->sinks[i].w, &e);

		if (fd < 0 ||
		    layers_dir_stream_new(lf->s, lf->o->unpack_backend, lf->chain_ids[i],
					  i ? lf->chain_ids[i - 1] : NULL, lf->diff_ids[i], d->digest,
					  fd, &lf->sinks[i].stream, &e) < 0) {
			log_debug("pull: layer %.19s is unpacked after the download: %s", d->digest,
				  strata_error_msg(e));
			strata_error_free(e);
		}
		if (fd >= 0)
			close(fd);
	}
	lf->urls[i] = xasprintf("/v2/%s/blobs/%s", lf->repo, d->digest);
	rq->method = "GET";
	rq->url = lf->urls[i];
	rq->sink = blob_sink_write;
	rq->sink_arg = &lf->sinks[i];
	blob_start(&lf->sinks[i]);
	return 0;
}

static int layer_end(size_t k, struct reg_resp *resp, struct strata_error *xerr, void *arg,
		     struct strata_error **err)
{
	struct layer_fetch *lf = arg;
	size_t i = lf->map[k];
	struct blob_sink *sink = &lf->sinks[i];
	const struct store_desc *d = &lf->m->layers[i];

	int code = xerr ? strata_error_code(xerr) : 0;

	if (code == ECONNABORTED || code == ECONNREFUSED || code == ETIMEDOUT) {
		/* A broken transfer: resumed after the others, within the budget. */
		reg_notef(lf->o, d->digest, "%s after %" PRIu64 " bytes, resuming",
			  code == ETIMEDOUT ? "stalled" : "connection lost",
			  sink->w ? store_blob_writer_size(sink->w) : 0);
		lf->later[i] = LATER_RESUME;
		lf->later_err[i] = xerr;
		return 0;
	}
	if (!resp || xerr) {
		sink_drop(sink);
		if (!xerr)
			return 0;
		if (code != EBADMSG && code != ERANGE)
			strata_wrap(&xerr, "blob %s", d->digest);
		if (err && !*err)
			*err = xerr;
		else
			strata_error_free(xerr);
		return -1;
	}
	if (resp->status == 401 || reg_status_is_transient(resp->status)) {
		/*
		 * The token ran out or never covered this (answer the challenge),
		 * or the registry said later: again after the others.
		 */
		sink_drop(sink);
		lf->later[i] = resp->status == 401 ? LATER_AUTH : LATER_STATUS;
		lf->later_resp[i] = *resp;
		memset(resp, 0, sizeof(*resp)); /* now ours */
		return 0;
	}
	if (resp->status != 200) {
		cleanup_free char *what = xasprintf("blob %s", d->digest);

		sink_drop(sink);
		return reg_status_fail(resp, what, err);
	}
	return blob_finish(sink, lf->o, err);
}

/* The layers that waited for the parallel transfers to end, one at a time. */
static int fetch_later(struct layer_fetch *lf, struct strata_error **err)
{
	for (size_t i = 0; i < lf->m->n_layers; i++) {
		const struct store_desc *d = &lf->m->layers[i];
		enum layer_later what = lf->later[i];

		lf->later[i] = LATER_NONE;
		if (what == LATER_RESUME) {
			struct strata_error *e = steal_ptr(&lf->later_err[i]);

			if (!reg_retry_error(lf->c, d->digest, &e)) {
				sink_drop(&lf->sinks[i]);
				if (!str_has_prefix(strata_error_msg(e), "blob "))
					strata_wrap(&e, "blob %s", d->digest);
				if (err && !*err)
					*err = e;
				else
					strata_error_free(e);
				return -1;
			}
			if (fetch_blob_from(lf->c, lf->s, lf->repo, d, lf->o, &lf->sinks[i], err) < 0)
				return -1;
		} else if (what == LATER_AUTH || what == LATER_STATUS) {
			if (what == LATER_STATUS &&
			    !reg_retry_status(lf->c, &lf->later_resp[i], d->digest)) {
				cleanup_free char *msg = xasprintf("blob %s", d->digest);

				return reg_status_fail(&lf->later_resp[i], msg, err);
			}
			reg_resp_release(&lf->later_resp[i]);
			if (fetch_blob(lf->c, lf->s, lf->repo, d, lf->o, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* Fetches the layers of @m that the store lacks, PULL_PARALLEL at a time. */
static int fetch_layers(struct reg_client *c, struct store *s, const char *repo,
			const struct store_manifest *m, char **diff_ids,
			const struct registry_opts *o, struct strata_error **err)
{
	struct layer_fetch lf = { .c = c, .s = s, .repo = repo, .m = m, .o = o,
				  .diff_ids = diff_ids };
	size_t pending = m->n_layers;
	int ret;

	lf.chain_ids = store_chain_ids(diff_ids, m->n_layers);
	lf.sinks = xcalloc(m->n_layers + 1, sizeof(*lf.sinks));
	lf.urls = xcalloc(m->n_layers + 1, sizeof(*lf.urls));
	lf.later = xcalloc(m->n_layers + 1, sizeof(*lf.later));
	lf.later_err = xcalloc(m->n_layers + 1, sizeof(*lf.later_err));
	lf.later_resp = xcalloc(m->n_layers + 1, sizeof(*lf.later_resp));
	lf.map = xcalloc(m->n_layers + 1, sizeof(*lf.map));
	lf.locks = xcalloc(m->n_layers + 1, sizeof(*lf.locks));
	lf.busy = xcalloc(m->n_layers + 1, sizeof(*lf.busy));
	for (size_t i = 0; i < m->n_layers; i++) {
		lf.map[i] = i;
		lf.locks[i] = -1;
	}
	/*
	 * Rounds: the layers another process was fetching are looked at again
	 * once it is done, or dead (the kernel drops its lock; this process then
	 * finds the blob absent and fetches it itself).
	 */
	for (ret = 0; ret == 0 && pending > 0;) {
		size_t next = 0;

		for (size_t k = 0; k < pending; k++)
			lf.busy[lf.map[k]] = false;
		ret = reg_do_parallel(c, pending, PULL_PARALLEL, layer_begin, layer_end, &lf, err);
		if (ret == 0)
			ret = fetch_later(&lf, err);
		for (size_t k = 0; k < pending; k++) {
			size_t i = lf.map[k];

			strata_error_free(steal_ptr(&lf.later_err[i]));
			reg_resp_release(&lf.later_resp[i]);
			/*
			 * After the transfers, so that none waited for an unpack to end;
			 * the lock goes once the layer dir is in place.
			 */
			if (ret == 0)
				sink_install(&lf.sinks[i]);
			sink_drop(&lf.sinks[i]);
			free(lf.urls[i]);
			lf.urls[i] = NULL;
			store_digest_unlock(lf.locks[i]);
			lf.locks[i] = -1;
			if (lf.busy[i])
				lf.map[next++] = i;
		}
		pending = next;
		if (ret == 0 && pending > 0) {
			/* Holding no lock: wait for the other process to end one of them. */
			const char *dg = m->layers[lf.map[0]].digest;
			int fd;

			reg_notef(o, dg, "being fetched by another process, waiting");
			fd = store_digest_lock(s, dg, true, err);
			if (fd < 0)
				ret = -1;
			store_digest_unlock(fd);
		}
	}
	strv_free(lf.chain_ids);
	free(lf.sinks);
	free(lf.urls);
	free(lf.later);
	free(lf.later_err);
	free(lf.later_resp);
	free(lf.map);
	free(lf.locks);
	free(lf.busy);
	return ret;
}

/*
 * Makes every layer dir of the image that streaming did not (vfs dirs, a
 * stream that could not start): the tag comes after, so a pull that fails
 * here (a full disk: the blobs fitted, their content does not) tags nothing.
 */
static int make_layer_dirs(struct store *s, const char *backend, const struct store_manifest *m,
			   char **diff_ids, struct strata_error **err)
{
	cleanup_strv char **chains = store_chain_ids(diff_ids, m->n_layers);

	for (size_t i = 0; i < m->n_layers; i++) {
		/* Under the blob's lock: one process unpacks it, the others then find the dir. */
		int fd = store_digest_lock(s, m->layers[i].digest, true, err);
		int r = fd < 0 ? -1
			       : layers_dir_unpack(s, backend, chains[i], i ? chains[i - 1] : NULL,
						   diff_ids[i], &m->layers[i], err);

		store_digest_unlock(fd);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* ---- manifests ---- */

/* GETs a manifest by tag or digest into @resp; checks its digest; fills @digest. */
static int fetch_manifest(struct reg_client *c, const char *repo, const char *reference,
			  const char *want_digest, struct reg_resp *resp, char digest[DIGEST_STR_LEN],
			  struct strata_error **err)
{
	cleanup_free char *url = xasprintf("/v2/%s/manifests/%s", repo, reference);
	struct reg_req rq = { .method = "GET", .url = url, .accept = REG_ACCEPT_MANIFESTS,
			      .body_fd = -1 };

	if (reg_do(c, &rq, resp, err) < 0)
		return strata_wrap(err, "manifest %s:%s", repo, reference);
	if (resp->status != 200) {
		cleanup_free char *what = xasprintf("manifest %s:%s", repo, reference);

		return reg_status_fail(resp, what, err);
	}
	digest_buf(resp->body.buf, resp->body.len, digest);
	if (want_digest && strcmp(want_digest, digest) != 0)
		return strata_fail_msg(err, EBADMSG, "manifest %s@%s: digest mismatch: got '%s'", repo,
				       want_digest, digest);
	if (!want_digest && resp->docker_digest && digest_is_valid(resp->docker_digest) &&
	    strcmp(resp->docker_digest, digest) != 0)
		return strata_fail_msg(err, EBADMSG,
				       "manifest %s:%s: digest mismatch: the registry says '%s', the body is '%s'",
				       repo, reference, resp->docker_digest, digest);
	return 0;
}

/* The media type of a fetched manifest: the header when it names one, else the body's. */
static const char *manifest_type(const struct reg_resp *resp, struct strata_error **err)
{
	cleanup_json json_t *doc = NULL;
	const char *ct = resp->content_type;

	if (ct && (store_media_is_index(ct) || store_media_is_manifest(ct)))
		return store_media_is_index(ct) ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST;
	doc = jv_loadb(resp->body.buf, resp->body.len, "manifest", err);
	if (!doc)
		return NULL;
	ct = store_manifest_sniff(doc);
	if (ct && store_media_is_index(ct))
		return MEDIA_OCI_INDEX;
	if (ct && store_media_is_manifest(ct))
		return MEDIA_OCI_MANIFEST;
	strata_fail_msg(err, EPROTO, "manifest: unsupported media type '%s'", ct ? ct : "(none)");
	return NULL;
}

int reg_platform_parse(const char *s, struct reg_platform *p, struct strata_error **err)
{
	cleanup_free char *copy = NULL;
	char *a, *v;

	memset(p, 0, sizeof(*p));
	if (!s) {
		p->os = xstrdup("linux");
		p->arch = xstrdup(store_arch());
		return 0;
	}
	copy = xstrdup(s);
	a = strchr(copy, '/');
	if (!a || a == copy || !a[1])
		return strata_fail_msg(err, EINVAL, "platform '%s': want OS/ARCH[/VARIANT]", s);
	*a++ = '\0';
	v = strchr(a, '/');
	if (v)
		*v++ = '\0';
	if (!*a || (v && !*v))
		return strata_fail_msg(err, EINVAL, "platform '%s': want OS/ARCH[/VARIANT]", s);
	p->os = xstrdup(copy);
	p->arch = xstrdup(a);
	p->variant = v ? xstrdup(v) : NULL;
	return 0;
}

void reg_platform_release(struct reg_platform *p)
{
	free(p->os);
	free(p->arch);
	free(p->variant);
}

const struct store_desc *reg_platform_pick(const struct store_index *idx,
					   const struct reg_platform *p)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct store_desc *d = &idx->manifests[i];

		if (!d->os || !d->arch || strcmp(d->os, p->os) != 0 || strcmp(d->arch, p->arch) != 0)
			continue;
		if (p->variant && (!d->variant || strcmp(d->variant, p->variant) != 0))
			continue;
		if (!store_media_is_manifest(d->media_type) && d->media_type[0])
			continue;
		return d;
	}
	return NULL;
}

/* Checks that the config is JSON with one diffID per layer, and returns them in *diff_ids. */
static int check_config(struct store *s, const struct store_manifest *m, char ***diff_ids,
			struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	cleanup_json json_t *cfg = NULL;
	size_t len;
	json_t *ids;

	if (store_blob_read(s, m->config.digest, STORE_JSON_MAX, &buf, &len, err) < 0)
		return strata_wrap(err, "config %s", m->config.digest);
	cfg = jv_loadb(buf, len, "config", err);
	if (!cfg)
		return strata_wrap(err, "config %s", m->config.digest);
	ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != m->n_layers)
		return strata_fail_msg(err, EBADMSG,
				       "config %s: rootfs.diff_ids does not list the %zu layers of the manifest",
				       m->config.digest, m->n_layers);
	for (size_t i = 0; i < m->n_layers; i++) {
		const char *d = json_string_value(json_array_get(ids, i));

		if (!d || !digest_is_valid(d))
			return strata_fail_msg(err, EBADMSG, "config %s: diff_ids[%zu] is not a digest",
					       m->config.digest, i);
		strv_append(diff_ids, d);
	}
	return 0;
}

/* An image's manifest as one source gave it; the client stays open for the blobs. */
struct pull_source {
	struct registry_opts eo; /* the caller's options, with the source's insecure */
	struct reg_client *c;
	char *repo;
	struct reg_resp resp;
	char digest[DIGEST_STR_LEN];
};

static void source_release(struct pull_source *src)
{
	reg_client_free(src->c);
	free(src->repo);
	reg_resp_release(&src->resp);
	memset(src, 0, sizeof(*src));
}

/*
 * Connects to @ep and fetches its manifest, resolving an index to the
 * manifest of @plat, into @src (to release whatever happens).
 */
static int open_source(const struct reg_endpoint *ep, const struct registry_opts *o,
		       const struct reg_platform *plat, struct pull_source *src,
		       struct strata_error **err)
{
	struct store_ref ref = { 0 };
	const char *mt;
	int ret = -1;

	if (o)
		src->eo = *o;
	/* --tls-verify=true beats an insecure registry; --tls-verify=false allows all. */
	src->eo.insecure = !src->eo.tls_verify && (src->eo.insecure || ep->insecure);
	if (store_ref_parse(ep->ref, &ref, err) < 0)
		return -1;
	src->repo = reg_repo_of(ref.domain, ref.path);
	if (reg_client_new(ref.domain, src->repo, "pull", NULL, NULL, &src->eo, &src->c, err) < 0)
		goto out;
	if (fetch_manifest(src->c, src->repo, ref.digest ? ref.digest : ref.tag, ref.digest,
			   &src->resp, src->digest, err) < 0)
		goto out;
	if (!(mt = manifest_type(&src->resp, err)))
		goto out;
	if (store_media_is_index(mt)) {
		struct store_index *idx = NULL;
		const struct store_desc *d;
		char want[DIGEST_STR_LEN];

		if (store_index_parse(src->resp.body.buf, src->resp.body.len, &idx, err) < 0) {
			strata_wrap(err, "index %s", src->digest);
			goto out;
		}
		d = reg_platform_pick(idx, plat);
		if (!d) {
			strata_fail_msg(err, ENOENT, "%s: no image for platform %s/%s%s%s in the index",
					ep->ref, plat->os, plat->arch, plat->variant ? "/" : "",
					plat->variant ? plat->variant : "");
			store_index_free(idx);
			goto out;
		}
		memcpy(want, d->digest, DIGEST_STR_LEN);
		store_index_free(idx);
		if (fetch_manifest(src->c, src->repo, want, want, &src->resp, src->digest, err) < 0)
			goto out;
		if (!(mt = manifest_type(&src->resp, err)))
			goto out;
		if (!store_media_is_manifest(mt)) {
			strata_fail_msg(err, EPROTO, "manifest %s: an index inside an index", want);
			goto out;
		}
	}
	/*
	 * A manifest that does not parse is this source's failure, as one that
	 * does not come: the next mirror, or the registry itself, is asked.
	 */
	{
		struct store_manifest *m = NULL;

		if (store_manifest_parse(src->resp.body.buf, src->resp.body.len, &m, err) < 0) {
			strata_wrap(err, "manifest %s", src->digest);
			goto out;
		}
		store_manifest_free(m);
	}
	ret = 0;
out:
	store_ref_release(&ref);
	return ret;
}

/* Fetches the config and layers @src's manifest names, then tags it @tag. */
static int pull_image(struct store *s, struct pull_source *src, const char *tag,
		      char id[DIGEST_STR_LEN], struct strata_error **err)
{
	const struct registry_opts *o = &src->eo;
	struct reg_client *c = src->c;
	struct store_manifest *m = NULL;
	cleanup_strv char **diff_ids = NULL;
	char stored[DIGEST_STR_LEN];
	bool pinned = false;
	int ret = -1;

	if (store_manifest_parse(src->resp.body.buf, src->resp.body.len, &m, err) < 0) {
		strata_wrap(err, "manifest %s", src->digest);
		goto out;
	}
	if (store_pin(s, err) < 0)
		goto out;
	pinned = true;
	/* The config, like each layer, is fetched by one process at a time (no other lock held here). */
	{
		int fd = store_digest_lock(s, m->config.digest, true, err);
		int r = fd < 0 ? -1 : fetch_blob(c, s, src->repo, &m->config, o, err);

		store_digest_unlock(fd);
		if (r < 0)
			goto out;
	}
	if (check_config(s, m, &diff_ids, err) < 0)
		goto out;
	if (fetch_layers(c, s, src->repo, m, diff_ids, o, err) < 0)
		goto out;
	if (o->unpack_backend && make_layer_dirs(s, o->unpack_backend, m, diff_ids, err) < 0)
		goto out;
	if (store_blob_put_buf(s, src->resp.body.buf, src->resp.body.len, src->digest, stored,
			       err) < 0) {
		strata_wrap(err, "manifest %s", src->digest);
		goto out;
	}
	if (store_tag_set(s, tag, src->digest,
			  m->media_type && *m->media_type ? m->media_type : MEDIA_OCI_MANIFEST,
			  (int64_t)src->resp.body.len, err) < 0)
		goto out;
	{
		cleanup_strv char **seen = NULL;

		strv_append(&seen, m->config.digest);
		for (size_t i = 0; i < m->n_layers; i++)
			strv_append(&seen, m->layers[i].digest);
		reg_blobinfo_record(s, c->host, src->repo, seen);
	}
	reg_notef(o, NULL, "Tagged %s (%s)", tag, src->digest);
	memcpy(id, m->config.digest, DIGEST_STR_LEN);
	ret = 0;
out:
	if (pinned)
		store_unpin(s);
	store_manifest_free(m);
	return ret;
}

/*
 * Pulls the fully qualified @name: the policy's verdict, the [[registry]]
 * that covers it (blocked?), then its mirrors and location in order, until
 * one gives the manifest. The tag is @name, whichever source served it.
 */
static int pull_candidate(struct store *s, const char *name, const struct reg_policy *policy,
			  const struct reg_conf *conf, const struct registry_opts *o,
			  const struct reg_platform *plat, char id[DIGEST_STR_LEN],
			  struct strata_error **err)
{
	struct store_ref ref = { 0 };
	struct pull_source src = { 0 };
	const struct reg_registry *reg;
	struct reg_endpoint *eps = NULL;
	cleanup_free char *repo_name = NULL, *tag = NULL;
	cleanup_strv char **scopes = NULL;
	size_t n = 0, i;
	int ret = -1;

	if (store_ref_parse(name, &ref, err) < 0)
		return -1;
	repo_name = store_ref_name(&ref);
	scopes = reg_docker_scopes(repo_name);
	if (reg_policy_check(policy, "docker", name, scopes, err) < 0)
		goto out;
	reg = reg_conf_find(conf, name);
	if (reg && reg->blocked) {
		strata_fail_msg(err, EACCES, "%s: registry '%s' is blocked in %s", name, reg->prefix,
				conf->files[0]);
		goto out;
	}
	n = reg_conf_endpoints(reg, name, true, &eps);
	for (i = 0; i < n; i++) {
		struct strata_error *e = NULL;

		if (n > 1 || strcmp(eps[i].ref, name) != 0)
			reg_notef(o, NULL, "Trying to pull %s from %s%s", name, eps[i].ref,
				  eps[i].mirror ? " (mirror)" : "");
		if (open_source(&eps[i], o, plat, &src, &e) == 0)
			break;
		source_release(&src);
		if (i + 1 == n) {
			if (n > 1)
				strata_wrap(&e, "%s (and its %zu mirrors)", eps[i].ref, n - 1);
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			goto out;
		}
		reg_notef(o, NULL, "%s: %s", eps[i].ref, strata_error_msg(e));
		strata_error_free(e);
	}
	tag = ref.tag ? xasprintf("%s:%s", repo_name, ref.tag)
		      : xasprintf("%s@%s", repo_name, src.digest);
	ret = pull_image(s, &src, tag, id, err);
out:
	source_release(&src);
	reg_endpoints_free(eps, n);
	store_ref_release(&ref);
	return ret;
}

/*
 * A short name with several search registries: the index the user chose,
 * -1 to try them all (permissive, nobody to ask), -2 with an error
 * (enforcing, nobody to ask: containers/image's refusal).
 */
static int choose_candidate(const struct reg_conf *conf, const char *name, char *const *names,
			    size_t n, const struct registry_opts *o, struct strata_error **err)
{
	int i = o && o->choose ? o->choose(name, names, n, o->choose_arg) : -1;

	if (i >= 0 && (size_t)i < n)
		return i;
	if (conf->mode != REG_SHORT_ENFORCING)
		return -1;
	strata_fail_msg(err, EINVAL,
			"short name '%s' did not resolve to an alias and short-name-mode is "
			"enforcing with %zu search registries, and there is no terminal to ask on: "
			"give a fully qualified name or an alias",
			name, n);
	return -2;
}

/*
 * Pulls the candidate @q the user chose for short name @ref, then records
 * the choice in the alias cache as podman does (a failure to record it is
 * only a warning there too).
 */
static int pull_chosen(struct store *s, const struct store_ref *ref, const char *q,
		       const struct reg_policy *policy, const struct reg_conf *conf,
		       const struct registry_opts *o, const struct reg_platform *plat,
		       char id[DIGEST_STR_LEN], struct strata_error **err)
{
	struct store_ref c = { 0 };
	cleanup_free char *value = NULL;
	struct strata_error *e = NULL;

	if (pull_candidate(s, q, policy, conf, o, plat, id, err) < 0)
		return -1;
	if (store_ref_parse(q, &c, &e) == 0) {
		value = xasprintf("%s/%s", c.domain, c.path);
		if (reg_alias_cache_record(conf->cache_path, ref->path, value, &e) == 0)
			log_debug("registry: alias '%s' = '%s' recorded in %s", ref->path, value,
				  conf->cache_path);
	}
	if (e) {
		log_warn("pulled %s, but the short-name alias was not recorded: %s", q,
			 strata_error_msg(e));
		strata_error_free(e);
	}
	store_ref_release(&c);
	return 0;
}

int registry_pull(struct store *s, const char *refstr, const struct registry_opts *o,
		  char id[DIGEST_STR_LEN], struct strata_error **err)
{
	struct store_ref ref = { 0 };
	struct reg_platform plat = { 0 };
	struct reg_policy *policy = NULL;
	const struct reg_conf *conf = NULL;
	cleanup_strv char **names = NULL;
	struct sbuf why = SBUF_INIT;
	bool ambiguous = false;
	int chosen = -1;
	size_t n;
	int ret = -1;

	if (str_has_prefix(refstr, "docker://"))
		refstr += strlen("docker://");
	if (store_ref_parse(refstr, &ref, err) < 0)
		return -1;
	if (reg_platform_parse(o ? o->platform : NULL, &plat, err) < 0)
		goto out;
	if (reg_policy_load(o ? o->signature_policy : NULL, &policy, err) < 0 ||
	    reg_conf_get(&conf, err) < 0)
		goto out;
	if (ref.domain) {
		char *q = reg_ref_qualify(ref.domain, &ref);

		strv_append(&names, q);
		free(q);
	} else if (reg_conf_candidates(conf, refstr, &ref, &names, &ambiguous, err) < 0) {
		goto out;
	}
	n = strv_len(names);
	if (ambiguous && (chosen = choose_candidate(conf, refstr, names, n, o, err)) == -2)
		goto out;
	if (chosen >= 0) {
		ret = pull_chosen(s, &ref, names[chosen], policy, conf, o, &plat, id, err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct strata_error *e = NULL;

		if (n > 1)
			reg_notef(o, NULL, "Trying to pull %s...", names[i]);
		if (pull_candidate(s, names[i], policy, conf, o, &plat, id, &e) == 0) {
			ret = 0;
			goto out;
		}
		if (n == 1) {
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			goto out;
		}
		sbuf_addf(&why, "%s%s", i ? "; " : "", strata_error_msg(e));
		strata_error_free(e);
	}
	strata_fail_msg(err, ENOENT, "%s: no search registry gave it: %s", refstr, why.buf);
out:
	sbuf_release(&why);
	reg_policy_free(policy);
	reg_platform_release(&plat);
	store_ref_release(&ref);
	return ret;
}
