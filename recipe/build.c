/*
 * The builder: runs the stages a target needs, one step per instruction.
 *
 * Each step has a cache key: the key of the state before it (the base
 * image's manifest digest for the first), the instruction with its
 * variables resolved, and what else decides its result: the ARG values a
 * RUN sees, the digest of COPY/ADD sources after ignore rules, the image a
 * COPY --from reads, the build settings that change bytes (compression,
 * timestamp). A hit reuses the image the step made last time and runs
 * nothing. Every step makes an image (a config naming the layers so far,
 * and a manifest); its cache entry names the manifest in "Blobs", so gc
 * keeps the image while the entry exists.
 *
 * Steps that change only the config write a new config with an
 * "empty_layer" history entry. RUN, COPY, ADD and WORKDIR change the
 * filesystem: they work in a container of the current image and commit its
 * upper dir as one layer (build-fs.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch.h"
#include "overlay/overlay.h"
#include "recipe/recipe-int.h"

static void say(struct builder *b, const char *fmt, ...) FMT(2, 3);

static void say(struct builder *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->o->out)
		return;
	va_start(ap, fmt);
	vfprintf(b->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', b->o->out);
	fflush(b->o->out);
}

static char *short_id(const char *id)
{
	return xstrndup(digest_hex(id), 12);
}

void recipe_build_set_created(const struct builder *b, json_t *config)
{
	cleanup_free char *ts = NULL;

	if (b->o->timestamp >= 0) {
		ts = time_rfc3339(b->o->timestamp, 0);
	} else {
		int64_t now = time_now_ns();

		ts = time_rfc3339(now / 1000000000LL, (long)(now % 1000000000LL));
	}
	jv_set_str(config, "created", ts);
}

/* Makes the env of @ss->vars the Env of its config: ENV and the base's Env beat ARGs. */
static void sync_env(struct stage_state *ss)
{
	json_t *env = json_object_get(json_object_get(ss->config, "config"), "Env");

	strv_free(ss->vars.env);
	ss->vars.env = json_is_array(env) ? jv_to_strv(env) : xcalloc(1, sizeof(char *));
}

/* Takes @img (owned) as the current state of @ss. */
static void set_image(struct stage_state *ss, struct store_image *img)
{
	store_image_free(ss->img);
	ss->img = img;
	json_decref(ss->config);
	ss->config = json_deep_copy(img->config);
	sync_env(ss);
}

int recipe_build_write_image(struct builder *b, struct stage_state *ss, json_t *config,
			     const struct layers_blob *layer, struct strata_error **err)
{
	size_t n = ss->img ? ss->img->manifest->n_layers : 0;
	struct store_desc *layers = xcalloc(n + 1, sizeof(*layers));
	char manifest[DIGEST_STR_LEN];
	struct store_image *img = NULL;
	int r;

	for (size_t i = 0; i < n; i++)
		layers[i] = ss->img->manifest->layers[i];
	if (layer) {
		layers[n].media_type = (char *)layer->media_type;
		memcpy(layers[n].digest, layer->digest, DIGEST_STR_LEN);
		layers[n].size = (int64_t)layer->size;
		n++;
	}
	r = store_image_write(b->s, config, layers, n, NULL, NULL, manifest, err);
	free(layers);
	if (r < 0)
		return -1;
	if (store_image_load_manifest(b->s, manifest, &img, err) < 0)
		return -1;
	set_image(ss, img);
	return 0;
}

/* A cached step: the image its entry names, when all of it is still here. */
static int cache_lookup(struct builder *b, const char *key, struct store_image **out)
{
	cleanup_json json_t *entry = NULL;
	struct store_image *img = NULL;
	const char *manifest;

	if (b->o->no_cache || !b->o->layers)
		return 0;
	entry = store_cache_get(b->s, key, NULL);
	manifest = entry ? jv_str(entry, "Image") : NULL;
	if (!manifest || !digest_is_valid(manifest) || !store_blob_exists(b->s, manifest))
		return 0;
	if (store_image_load_manifest(b->s, manifest, &img, NULL) < 0)
		return 0;
	for (size_t i = 0; i < img->manifest->n_layers; i++) {
		if (!store_blob_exists(b->s, img->manifest->layers[i].digest)) {
			store_image_free(img);
			return 0;
		}
	}
	*out = img;
	return 1;
}

static int cache_store(struct builder *b, const char *key, const struct store_image *img,
		       struct strata_error **err)
{
	cleanup_json json_t *entry = NULL;

	if (!b->o->layers)
		return 0;
	entry = json_pack("{s:s, s:s, s:[s]}", "Image", img->manifest_digest, "Id", img->id,
			  "Blobs", img->manifest_digest);
	return store_cache_put(b->s, key, entry, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ARG values a RUN sees, sorted: a changed value re-runs it, as in Docker. */
static char *run_args_extra(const struct stage_state *ss)
{
	cleanup_strv char **set = xcalloc(1, sizeof(char *));
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; ss->vars.args && ss->vars.args[i]; i++)
		if (strchr(ss->vars.args[i], '='))
			strv_append(&set, ss->vars.args[i]);
	qsort(set, strv_len(set), sizeof(char *), cmp_str);
	for (size_t i = 0; set[i]; i++) {
		sbuf_add(&sb, set[i], strlen(set[i]) + 1);
	}
	return sbuf_detach(&sb, NULL);
}

/*
 * What a step's cache key hashes besides the parent and the instruction.
 * COPY/ADD sources are gathered here into @job, so that what is hashed is
 * what is copied.
 */
static int step_extra(struct builder *b, size_t stage, struct stage_state *ss,
		      const struct recipe_instr *x, struct copy_job *job, char **out,
		      struct strata_error **err)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addstr(&sb, b->settings);
	if (x->cmd == RECIPE_RUN) {
		cleanup_free char *args = run_args_extra(ss);
		const char *net = recipe_instr_flag(x, "network");

		sbuf_addf(&sb, "\nnetwork=%s\nargs=", net && strcmp(net, "default") != 0
								? net
								: b->o->network);
		sbuf_addstr(&sb, args);
		if (recipe_run_mounts_prepare(b, stage, x, ss->config, &b->run, &sb, err) < 0) {
			sbuf_release(&sb);
			return -1;
		}
	} else if (x->cmd == RECIPE_ARG) {
		sbuf_addstr(&sb, "\nargs=");
		for (size_t i = 0; i < x->n_kvs; i++) {
			bool is_set = false;
			const char *v = recipe_vars_get(&ss->vars, x->kvs[i].key, &is_set);

			sbuf_addf(&sb, "%s%c%s", x->kvs[i].key, is_set ? '=' : '-', v);
			sbuf_add(&sb, "", 1);
		}
	} else if (x->cmd == RECIPE_COPY || x->cmd == RECIPE_ADD) {
		char d[DIGEST_STR_LEN];

		if (recipe_copy_prepare(b, stage, x, job, err) < 0) {
			sbuf_release(&sb);
			return -1;
		}
		recipe_copy_digest(job, d);
		sbuf_addf(&sb, "\ncopy=%s", d);
	}
	*out = sbuf_detach(&sb, NULL);
	return 0;
}

/* One step: expand, look up the cache, else execute; prints "--> ID". */
static int do_step(struct builder *b, size_t stage, const struct recipe_instr *in,
		   struct strata_error **err)
{
	struct stage_state *ss = &b->ss[stage];
	struct recipe_instr *x = NULL;
	struct copy_job job;
	cleanup_free char *text = NULL;
	cleanup_free char *extra = NULL;
	struct store_image *hit = NULL;
	char key[DIGEST_STR_LEN];
	int ret = -1;

	memset(&job, 0, sizeof(job));
	if (recipe_instr_expand(in, b->file->name, b->file->escape, &ss->vars, &x, err) < 0)
		return -1;
	if (x->cmd == RECIPE_ARG)
		recipe_plan_apply_arg(b->plan, x, &ss->vars, &b->used_args);
	if (step_extra(b, stage, ss, x, &job, &extra, err) < 0) {
		strata_wrap(err, "%s:%u", b->file->name, in->line);
		goto out;
	}
	text = recipe_instr_string(x);
	recipe_cache_key(ss->key, text, extra, key);

	if (cache_lookup(b, key, &hit) > 0) {
		say(b, "--> Using cache %s", digest_hex(hit->id));
		set_image(ss, hit);
	} else if (recipe_cmd_is_config_only(x->cmd)) {
		cleanup_json json_t *config = json_deep_copy(ss->config);
		cleanup_free char *by = NULL;
		bool cmd_set = ss->cmd_set;

		if (recipe_config_apply(config, x, b->file->name, &cmd_set, err) < 0)
			goto out;
		recipe_build_set_created(b, config);
		by = recipe_history_created_by(config, x);
		store_config_add_history(config, b->o->timestamp, by, NULL, NULL, true);
		if (recipe_build_write_image(b, ss, config, NULL, err) < 0 ||
		    cache_store(b, key, ss->img, err) < 0)
			goto out;
	} else {
		if (recipe_build_fs_step(b, stage, x, &job, err) < 0) {
			strata_wrap(err, "%s:%u", b->file->name, in->line);
			goto out;
		}
		if (cache_store(b, key, ss->img, err) < 0)
			goto out;
	}
	if (x->cmd == RECIPE_CMD)
		ss->cmd_set = true;
	memcpy(ss->key, key, DIGEST_STR_LEN);
	{
		cleanup_free char *sid = short_id(ss->img->id);

		say(b, "--> %s", sid);
	}
	ret = 0;
out:
	recipe_run_mounts_release(b, &b->run);
	recipe_copy_job_release(&job);
	recipe_instr_free(x);
	return ret;
}

/* @a (@len bytes) and @b name the same architecture (Go's names and the kernel's). */
static bool arch_eq(const char *a, size_t len, const char *b)
{
	static const char *const alias[][2] = { { "x86_64", "amd64" }, { "aarch64", "arm64" } };
	cleanup_free char *x = xstrndup(a, len);
	const char *name = x;

	for (size_t i = 0; i < ARRAY_SIZE(alias); i++)
		if (strcmp(x, alias[i][0]) == 0)
			name = alias[i][1];
	return strcmp(name, b) == 0;
}

/* True when the platform @plat ("OS[/ARCH[/VARIANT]]") is this machine's. */
static bool platform_is_native(const char *plat)
{
	const char *slash = strchr(plat, '/');
	size_t oslen = slash ? (size_t)(slash - plat) : strlen(plat);
	const char *arch = slash ? slash + 1 : "";
	size_t alen = strcspn(arch, "/");

	if (oslen != 5 || strncmp(plat, "linux", 5) != 0)
		return false;
	return alen == 0 || arch_eq(arch, alen, store_arch());
}

/* Until builds for other platforms exist, any other platform is refused, never ignored. */
static int check_platform(const char *plat, struct strata_error **err)
{
	if (platform_is_native(plat))
		return 0;
	return strata_fail_msg(err, ENOTSUP,
			       "platform '%s' is not this machine's (linux/%s): building for "
			       "another platform is not supported",
			       plat, store_arch());
}

/* True when @spec names an image by its ID (or digest) rather than by a name a registry knows. */
static bool names_an_id(const char *spec, const struct store_image *have)
{
	size_t n = strspn(spec, "0123456789abcdef");

	if (str_has_prefix(spec, "sha256:"))
		return true;
	return have && spec[n] == '\0' && n >= 3 && str_has_prefix(digest_hex(have->id), spec);
}

int recipe_build_image_get(struct builder *b, const char *spec, struct store_image **out,
			   struct strata_error **err)
{
	struct registry_opts ro = { 0 };
	struct strata_error *local = NULL;
	struct strata_error *perr = NULL;
	struct store_image *have = NULL;
	char id[DIGEST_STR_LEN];
	enum recipe_pull pull = b->o->pull;
	bool is_pulled = false;
	int r;

	if (store_image_load(b->s, spec, &have, &local) < 0 &&
	    strata_error_code(local) != ENOENT) {
		*err = local;
		return -1;
	}
	for (size_t i = 0; b->pulled && b->pulled[i]; i++)
		is_pulled |= strcmp(b->pulled[i], spec) == 0;
	if (pull == RECIPE_PULL_NEVER || is_pulled || (have && pull == RECIPE_PULL_MISSING) ||
	    (have && names_an_id(spec, have)) || (!have && names_an_id(spec, NULL))) {
		if (!have) {
			*err = local;
			return -1;
		}
		strata_error_free(local);
		*out = have;
		return 0;
	}
	strata_error_free(local);
	if (b->o->registry)
		ro = *b->o->registry;
	ro.unpack_backend = b->o->backend ? b->o->backend : overlay_backend_default();
	say(b, "Pulling %s", spec);
	r = registry_pull(b->s, spec, &ro, id, &perr);
	if (r == 0) {
		strv_append(&b->pulled, spec);
		store_image_free(have);
		strata_error_free(perr);
		return store_image_load(b->s, id, out, err);
	}
	if (have && pull == RECIPE_PULL_NEWER) {
		/* as podman: a pull error is no error when the store has the image */
		log_warn("build: pull '%s' failed, the stored image is used: %s", spec,
			 strata_error_msg(perr));
		strata_error_free(perr);
		strv_append(&b->pulled, spec);
		*out = have;
		return 0;
	}
	if (!have)
		strata_fail_msg(err, ENOENT, "image '%s' not found, and pulling it failed: %s", spec,
				strata_error_msg(perr));
	else
		strata_fail_msg(err, strata_error_code(perr), "pull '%s' (--pull=always): %s", spec,
				strata_error_msg(perr));
	store_image_free(have);
	strata_error_free(perr);
	return -1;
}

/* The base image must run here: its config's os and architecture are this machine's. */
static int check_base_platform(const struct builder *b, const struct recipe_stage *st,
			       const struct store_image *img, struct strata_error **err)
{
	const char *os = jv_str(img->config, "os");
	const char *arch = jv_str(img->config, "architecture");

	if ((!os || !*os || strcmp(os, "linux") == 0) &&
	    (!arch || !*arch || arch_eq(arch, strlen(arch), store_arch())))
		return 0;
	return strata_fail_msg(err, ENOTSUP,
			       "%s:%u: base image '%s' is for %s/%s, not this machine's linux/%s: "
			       "building for another platform is not supported",
			       b->file->name, st->from->line, st->base, os && *os ? os : "linux",
			       arch && *arch ? arch : "?", store_arch());
}

const char *recipe_build_context_get(const struct builder *b, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; b->o->build_contexts && b->o->build_contexts[i]; i++) {
		const char *c = b->o->build_contexts[i];

		if (strncmp(c, name, len) == 0 && c[len] == '=')
			return c + len + 1;
	}
	return NULL;
}

int recipe_build_context_open(const struct builder *b, const char *name, const char **image_ref,
			      int *fd, struct strata_error **err)
{
	const char *v = recipe_build_context_get(b, name);

	*image_ref = NULL;
	if (!v)
		return 0;
	if (str_has_prefix(v, "docker-image://")) {
		*image_ref = v + strlen("docker-image://");
		return 0;
	}
	*fd = open(v, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return strata_fail(err, errno, "build context '%s': '%s'", name, v);
	return 1;
}

/* The image FROM names: an earlier stage's result, an image in the store, or none (scratch). */
static int load_base(struct builder *b, const struct recipe_stage *st, struct store_image **out,
		     struct strata_error **err)
{
	if (st->base_stage >= 0) {
		const struct stage_state *bs = &b->ss[st->base_stage];

		if (!bs->img)
			return strata_fail_msg(err, EINVAL, "%s:%u: stage '%s' made no image",
					       b->file->name, st->from->line, st->base);
		return store_image_load_manifest(b->s, bs->img->manifest_digest, out, err);
	}
	if (recipe_build_context_get(b, st->base)) {
		const char *v = recipe_build_context_get(b, st->base);

		/* --build-context NAME=docker-image://REF stands for the image NAME */
		if (!str_has_prefix(v, "docker-image://"))
			return strata_fail_msg(err, ENOTSUP,
					       "%s:%u: FROM build context '%s': a directory as a "
					       "base is not supported (only docker-image://REF)",
					       b->file->name, st->from->line, st->base);
		if (recipe_build_image_get(b, v + strlen("docker-image://"), out, err) < 0)
			return strata_wrap(err, "%s:%u: base image (build context '%s')",
					   b->file->name, st->from->line, st->base);
		return check_base_platform(b, st, *out, err) < 0 ? -1 : 0;
	}
	if (strcasecmp(st->base, "scratch") == 0) {
		*out = NULL;
		return 0;
	}
	if (st->platform && check_platform(st->platform, err) < 0)
		return strata_wrap(err, "%s:%u: FROM --platform", b->file->name, st->from->line);
	if (recipe_build_image_get(b, st->base, out, err) < 0)
		return strata_wrap(err, "%s:%u: base image", b->file->name, st->from->line);
	if (check_base_platform(b, st, *out, err) < 0) {
		store_image_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int build_stage(struct builder *b, size_t i, struct strata_error **err)
{
	const struct recipe_stage *st = &b->plan->stages[i];
	struct stage_state *ss = &b->ss[i];
	struct store_image *base = NULL;
	cleanup_strv char **triggers = NULL;
	size_t total = st->n_instrs + 1;
	json_t *cc;

	b->stage_no++;
	if (b->n_needed > 1)
		snprintf(b->prefix, sizeof(b->prefix), "[%zu/%zu] ", b->stage_no, b->n_needed);
	say(b, "%sSTEP 1/%zu: %s", b->prefix, total, st->from->original);
	if (load_base(b, st, &base, err) < 0)
		return -1;
	recipe_plan_stage_vars(b->plan, &ss->vars);
	if (st->base_stage >= 0)
		memcpy(ss->base_manifest, b->ss[st->base_stage].base_manifest, DIGEST_STR_LEN);
	else if (base)
		memcpy(ss->base_manifest, base->manifest_digest, DIGEST_STR_LEN);
	if (base) {
		recipe_cache_key(base->manifest_digest, "FROM", b->settings, ss->key);
		set_image(ss, base);
	} else {
		recipe_cache_key("scratch", "FROM", b->settings, ss->key);
		ss->config = store_config_new(b->o->timestamp);
		sync_env(ss);
	}
	/* As buildkit and buildah, a stage always has a PATH. */
	cc = json_object_get(ss->config, "config");
	if (!json_is_object(cc)) {
		cc = json_object();
		json_object_set_new(ss->config, "config", cc);
	}
	{
		bool has_path = false;

		for (size_t k = 0; ss->vars.env[k]; k++)
			has_path |= str_has_prefix(ss->vars.env[k], "PATH=");
		if (!has_path) {
			store_config_set_env(cc, "PATH", RECIPE_DEFAULT_PATH);
			sync_env(ss);
		}
	}
	/* ONBUILD triggers of the base run first, and are not inherited. */
	triggers = jv_to_strv(json_object_get(cc, "OnBuild"));
	if (json_is_object(cc))
		json_object_del(cc, "OnBuild");
	for (size_t t = 0; triggers && triggers[t]; t++) {
		struct recipe_instr *in = NULL;
		cleanup_free char *what = xasprintf("%s:%u: ONBUILD trigger %zu of '%s'",
						    b->file->name, st->from->line, t + 1, st->base);

		say(b, "--> Running ONBUILD trigger: %s", triggers[t]);
		if (recipe_parse_trigger(triggers[t], what, &in, err) < 0)
			return -1;
		in->line = st->from->line;
		if (do_step(b, i, in, err) < 0) {
			recipe_instr_free(in);
			return -1;
		}
		recipe_instr_free(in);
	}
	for (size_t k = 0; k < st->n_instrs; k++) {
		say(b, "%sSTEP %zu/%zu: %s", b->prefix, k + 2, total, st->instrs[k]->original);
		if (do_step(b, i, st->instrs[k], err) < 0)
			return -1;
	}
	if (recipe_build_stage_done(b, i, err) < 0)
		return -1;
	/* FROM scratch alone: an empty image. */
	if (!ss->img) {
		cleanup_json json_t *config = json_deep_copy(ss->config);

		recipe_build_set_created(b, config);
		if (recipe_build_write_image(b, ss, config, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* --label values and the tags, on the final image. */
/*
 * The history of a squashed config: the entries of the @k layers kept stay,
 * every later one is marked empty but the last, which now stands for the
 * squashed layer.
 */
static void squash_history(json_t *config, size_t k)
{
	json_t *hist = json_object_get(config, "history");
	size_t i, seen = 0, first = 0;
	json_t *h;

	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(config, "history", hist);
	}
	json_array_foreach(hist, i, h) {
		if (seen == k) {
			first = i;
			break;
		}
		seen += !json_is_true(json_object_get(h, "empty_layer"));
		first = i + 1;
	}
	for (i = first; i < json_array_size(hist); i++)
		json_object_set_new(json_array_get(hist, i), "empty_layer", json_true());
	if (first >= json_array_size(hist))
		json_array_append_new(hist, json_pack("{s:s}", "created_by",
						      "/bin/sh -c #(nop) squashed layers"));
	json_object_del(json_array_get(hist, json_array_size(hist) - 1), "empty_layer");
}

/* --squash, --squash-all and --annotation: the final image written again. */
static int squash_and_annotate(struct builder *b, struct stage_state *ss,
			       struct strata_error **err)
{
	cleanup_json json_t *config = json_deep_copy(ss->config);
	cleanup_json json_t *ann = json_object();
	struct store_image *base = NULL;
	struct store_image *img = NULL;
	struct store_desc *layers = NULL;
	struct layers_blob blob;
	bool is_pinned = false;
	char manifest[DIGEST_STR_LEN];
	size_t n = ss->img ? ss->img->manifest->n_layers : 0;
	int r = -1;

	for (size_t i = 0; b->o->annotations && b->o->annotations[i]; i++) {
		const char *a = b->o->annotations[i];
		const char *eq = strchr(a, '=');
		cleanup_free char *k = xstrndup(a, eq ? (size_t)(eq - a) : strlen(a));

		json_object_set_new(ann, k, jv_string(eq ? eq + 1 : ""));
	}
	if (b->o->squash == RECIPE_SQUASH_NEW && ss->base_manifest[0] &&
	    store_image_load_manifest(b->s, ss->base_manifest, &base, err) < 0)
		return -1;
	layers = xcalloc(n + 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++)
		layers[i] = ss->img->manifest->layers[i];
	if (b->o->squash != RECIPE_SQUASH_NONE && n > (base ? base->manifest->n_layers : 0) + 1) {
		size_t k = base ? base->manifest->n_layers : 0;
		json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");

		say(b, "Squashing %zu layers into one", n - k);
		if (recipe_build_squash_layer(b, base, ss->img, &blob, err) < 0)
			goto out;
		is_pinned = true;
		while (json_array_size(diffs) > k)
			json_array_remove(diffs, json_array_size(diffs) - 1);
		store_config_add_diff_id(config, blob.diff_id);
		squash_history(config, k);
		layers[k].media_type = (char *)blob.media_type;
		memcpy(layers[k].digest, blob.digest, DIGEST_STR_LEN);
		layers[k].size = (int64_t)blob.size;
		n = k + 1;
	}
	if (store_image_write_annotated(b->s, config, layers, n, ann, NULL, NULL, manifest, err) <
		    0 ||
	    store_image_load_manifest(b->s, manifest, &img, err) < 0)
		goto out;
	set_image(ss, img);
	r = 0;
out:
	if (is_pinned)
		store_unpin(b->s);
	free(layers);
	store_image_free(base);
	return r;
}

static int finish(struct builder *b, struct stage_state *ss, struct strata_error **err)
{
	if (b->o->labels && b->o->labels[0]) {
		cleanup_json json_t *config = json_deep_copy(ss->config);
		json_t *cc = json_object_get(config, "config");
		json_t *labels;

		if (!json_is_object(cc)) {
			cc = json_object();
			json_object_set_new(config, "config", cc);
		}
		labels = json_object_get(cc, "Labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(cc, "Labels", labels);
		}
		for (size_t i = 0; b->o->labels[i]; i++) {
			const char *eq = strchr(b->o->labels[i], '=');
			cleanup_free char *k = xstrndup(b->o->labels[i],
							eq ? (size_t)(eq - b->o->labels[i])
							   : strlen(b->o->labels[i]));

			json_object_set_new(labels, k, jv_string(eq ? eq + 1 : ""));
		}
		if (recipe_build_write_image(b, ss, config, NULL, err) < 0)
			return -1;
	}
	if (ss->img && (b->o->squash != RECIPE_SQUASH_NONE ||
			(b->o->annotations && b->o->annotations[0])) &&
	    squash_and_annotate(b, ss, err) < 0)
		return -1;
	for (size_t i = 0; b->o->tags && b->o->tags[i]; i++) {
		if (store_tag_set(b->s, b->o->tags[i], ss->img->manifest_digest,
				  ss->img->manifest->media_type, ss->img->manifest_size, err) < 0)
			return -1;
	}
	/* An image built without a name stays, unnamed, until rmi of its ID (podman's dangling image). */
	if ((!b->o->tags || !b->o->tags[0]) &&
	    store_image_keep(b->s, ss->img->manifest_digest, ss->img->manifest->media_type,
			     ss->img->manifest_size, err) < 0)
		return -1;
	if (b->o->tags && b->o->tags[0]) {
		say(b, "COMMIT %s", b->o->tags[0]);
		for (size_t i = 0; b->o->tags[i]; i++)
			say(b, "Successfully tagged %s", b->o->tags[i]);
	}
	return 0;
}

/* The recipe file: -f as given, else CONTEXT/Containerfile, else CONTEXT/Dockerfile. */
static char *find_file(const struct recipe_build_opts *o, struct strata_error **err)
{
	static const char *const names[] = { "Containerfile", "Dockerfile" };

	if (o->file)
		return xstrdup(o->file);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = path_join(o->context, names[i]);

		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	strata_fail_msg(err, ENOENT, "no Containerfile or Dockerfile in '%s'", o->context);
	return NULL;
}

static void builder_release(struct builder *b)
{
	for (size_t i = 0; b->plan && i < b->plan->n_stages; i++) {
		store_image_free(b->ss[i].img);
		json_decref(b->ss[i].config);
		recipe_vars_release(&b->ss[i].vars);
	}
	free(b->ss);
	strv_free(b->used_args);
	strv_free(b->pulled);
	recipe_plan_free(b->plan);
	recipe_file_free(b->file);
	recipe_ignore_free(b->ig);
	recipe_build_fs_release(b);
	if (b->ctxfd >= 0)
		close(b->ctxfd);
}

static int build(struct store *s, const struct recipe_build_opts *o, char id[DIGEST_STR_LEN],
		 struct strata_error **err)
{
	struct builder b = { .s = s, .o = o, .ctxfd = -1 };
	cleanup_free char *path = NULL;
	cleanup_strv char **unused = NULL;
	int ret = -1;

	b.ctxfd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctxfd < 0)
		return strata_fail(err, errno, "build context '%s'", o->context);
	{
		/* What a killed build left (its working containers, mounted): gone before we start. */
		struct strata_error *e = NULL;
		size_t n = 0;

		if (sys_is_host_root())
			launch_cgroup_remove_dead_builds("/sys/fs/cgroup", "/proc/self/cgroup");
		if (overlay_container_remove_orphans(s, &n, &e) < 0) {
			log_warn("build: %s", strata_error_msg(e));
			strata_error_free(e);
		} else if (n) {
			log_info("build: removed %zu working container%s of builds that are gone", n,
				 n == 1 ? "" : "s");
		}
	}
	if (!(path = find_file(o, err)) || recipe_parse_path(path, &b.file, err) < 0 ||
	    recipe_plan_new(b.file, o->build_args, o->target, &b.plan, err) < 0 ||
	    recipe_ignore_load(b.ctxfd, &b.ig, err) < 0)
		goto out;
	snprintf(b.settings, sizeof(b.settings), "compression=%s timestamp=%lld",
		 layers_compression_name(o->compression), (long long)o->timestamp);
	b.ss = xcalloc(b.plan->n_stages, sizeof(*b.ss));
	b.used_args = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < b.plan->n_stages; i++)
		b.n_needed += b.plan->stages[i].is_needed;
	if (store_pin(s, err) < 0)
		goto out;
	for (size_t i = 0; i <= b.plan->target; i++) {
		if (!b.plan->stages[i].is_needed)
			continue;
		if (build_stage(&b, i, err) < 0)
			goto unpin;
	}
	b.prefix[0] = '\0';
	if (finish(&b, &b.ss[b.plan->target], err) < 0)
		goto unpin;
	unused = recipe_plan_unused_args(b.plan, b.used_args);
	for (size_t i = 0; unused[i]; i++)
		log_warn("build arg '%s' was not consumed by any ARG", unused[i]);
	memcpy(id, b.ss[b.plan->target].img->id, DIGEST_STR_LEN);
	{
		cleanup_free char *sid = short_id(id);

		say(&b, "--> %s", sid);
	}
	ret = 0;
unpin:
	store_unpin(s);
out:
	builder_release(&b);
	return ret;
}

/*
 * A context given as a tar archive (a file, "-": stdin, or a download;
 * compressed or not) is unpacked into ROOT/tmp/@name first, as docker
 * takes it; -f then names a file inside it. @in is the archive, @what the
 * context as given.
 */
static int unpack_context(struct store *s, const struct recipe_build_opts *o, int in,
			  const char *what, char **name, struct recipe_build_opts *lo, char **dir,
			  char **file, struct strata_error **err)
{
	cleanup_close int dfd = -1;

	dfd = store_tmp_mkdir(s, ".context", 0700, name, err);
	if (dfd < 0)
		return strata_wrap(err, "unpack the build context");
	if (recipe_archive_extract(in, dfd, err) < 0)
		return strata_wrap(err, "build context '%s'", what);
	*dir = xasprintf("%s/tmp/%s", store_root(s), *name);
	lo->context = *dir;
	if (o->file && o->file[0] != '/' && strcmp(o->file, "-") != 0) {
		*file = path_join(*dir, o->file);
		lo->file = *file;
	}
	return 0;
}

/*
 * A git URL as the context ("https://host/repo.git#ref:subdir", "git@...",
 * "git://", "ssh://", "file://...git"): cloned as ADD clones one, into
 * ROOT/tmp/@name; the checkout (or its SUBDIR) is the context.
 */
static int clone_context(struct store *s, const struct recipe_build_opts *o, char **name,
			 struct recipe_build_opts *lo, char **dir, char **file,
			 struct strata_error **err)
{
	cleanup_free char *fdpath = NULL;
	char commit[41];
	int dfd = -1;

	if (recipe_git_fetch(s, o->context, false, name, &dfd, commit, err) < 0)
		return strata_wrap(err, "build context '%s'", o->context);
	fdpath = xasprintf("/proc/self/fd/%d", dfd);
	*dir = realpath(fdpath, NULL);
	close(dfd);
	if (!*dir)
		return strata_fail(err, errno, "build context '%s'", o->context);
	lo->context = *dir;
	if (o->file && o->file[0] != '/' && strcmp(o->file, "-") != 0) {
		*file = path_join(*dir, o->file);
		lo->file = *file;
	}
	return 0;
}

static bool is_http_url(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://");
}

int recipe_build(struct store *s, const struct recipe_build_opts *o, char id[DIGEST_STR_LEN],
		 struct strata_error **err)
{
	struct recipe_build_opts lo = *o;
	cleanup_free char *ctx_name = NULL;
	cleanup_free char *ctx_dir = NULL;
	cleanup_free char *ctx_file = NULL;
	cleanup_free char *download = NULL;
	bool from_stdin = strcmp(o->context, "-") == 0;
	struct stat st;
	int r;

	if (o->platform && check_platform(o->platform, err) < 0)
		return strata_wrap(err, "--platform");
	if (recipe_git_is_url(o->context)) {
		r = clone_context(s, o, &ctx_name, &lo, &ctx_dir, &ctx_file, err);
	} else if (is_http_url(o->context)) {
		/* a tarball URL, downloaded into ROOT/tmp, then unpacked beside it */
		char digest[DIGEST_STR_LEN];
		cleanup_close int in = -1;

		r = recipe_fetch(s, o->context, &download, digest, err);
		if (r == 0 && (in = open(download, O_RDONLY | O_CLOEXEC)) < 0)
			r = strata_fail(err, errno, "build context '%s'", o->context);
		if (r == 0)
			r = unpack_context(s, o, in, o->context, &ctx_name, &lo, &ctx_dir, &ctx_file,
					   err);
		if (download)
			unlink(download);
	} else if (from_stdin || (stat(o->context, &st) == 0 &&
				  (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)))) {
		/* a file, stdin, or a pipe such as the shell's <(tar -c .) */
		cleanup_close int in = -1;

		if (from_stdin && o->file && strcmp(o->file, "-") == 0)
			return strata_fail_msg(err, EINVAL, "the recipe (-f -) and the context (-) "
							    "cannot both be stdin");
		in = from_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
				: open(o->context, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return strata_fail(err, errno, "build context '%s'", o->context);
		r = unpack_context(s, o, in, o->context, &ctx_name, &lo, &ctx_dir, &ctx_file, err);
	} else {
		return build(s, o, id, err);
	}
	if (r == 0)
		r = build(s, &lo, id, err);
	if (ctx_name)
		store_tmp_remove(s, ctx_name, NULL);
	return r;
}
