/*
 * containers-registries.conf(5), version 2 (and the deprecated version 1):
 * the search list for short names, short-name aliases and mode, and the
 * [[registry]] tables that block, mark insecure, move (prefix -> location)
 * and mirror parts of the name space.
 *
 * Files, as containers-registries.conf.d(5) orders them: the main file is
 * $CONTAINERS_REGISTRIES_CONF when set, else
 * $HOME/.config/containers/registries.conf when it exists, else
 * $STRATA_SYSCONFDIR/containers/registries.conf (/etc by default); then the
 * drop-ins "*.conf" of $STRATA_SYSCONFDIR/containers/registries.conf.d (not
 * when the user's main file is used) and of
 * $HOME/.config/containers/registries.conf.d, each dir in name order. A
 * drop-in replaces the settings it gives: the search list, the mode, each
 * alias (an empty value removes it), each [[registry]] by its prefix.
 *
 * Read once per process, and only by the commands that reach a registry.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define CONF_MAX (4u << 20)

static void registry_release(struct reg_registry *r)
{
	free(r->prefix);
	free(r->location);
	for (size_t i = 0; i < r->n_mirrors; i++)
		free(r->mirrors[i].location);
	free(r->mirrors);
	memset(r, 0, sizeof(*r));
}

void reg_conf_free(struct reg_conf *c)
{
	if (!c)
		return;
	strv_free(c->search);
	if (c->aliases)
		json_decref(c->aliases);
	if (c->cache_aliases)
		json_decref(c->cache_aliases);
	free(c->cache_path);
	for (size_t i = 0; i < c->n_regs; i++)
		registry_release(&c->regs[i]);
	free(c->regs);
	strv_free(c->files);
	free(c);
}

struct reg_conf *reg_conf_new(void)
{
	struct reg_conf *c = xcalloc(1, sizeof(*c));

	c->aliases = json_object();
	return c;
}

/* ---- one file ---- */

/* A boolean field of @t; absent leaves *@out. */
static int get_bool(const json_t *t, const char *key, bool *out, const char *where,
		    struct strata_error **err)
{
	json_t *v = json_object_get(t, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return strata_fail_msg(err, EINVAL, "%s: '%s' wants true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* A string field of @t; absent gives NULL. */
static int get_str(const json_t *t, const char *key, const char **out, const char *where,
		   struct strata_error **err)
{
	json_t *v = json_object_get(t, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return strata_fail_msg(err, EINVAL, "%s: '%s' wants a string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* A list of strings into *@out (caller frees). */
static int get_strv(const json_t *t, const char *key, char ***out, bool *present,
		    const char *where, struct strata_error **err)
{
	json_t *v = json_object_get(t, key), *e;
	size_t i;

	if (present)
		*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return strata_fail_msg(err, EINVAL, "%s: '%s' wants a list of strings", where, key);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return strata_fail_msg(err, EINVAL, "%s: '%s' wants a list of strings", where,
					       key);
		strv_append(out, json_string_value(e));
	}
	if (!*out)
		*out = xcalloc(1, sizeof(char *));
	return 0;
}

/*
 * A prefix or location: no URL scheme, no trailing '/'. Caller frees; NULL
 * with *err when malformed.
 */
static char *parse_location(const char *s, const char *what, const char *where,
			    struct strata_error **err)
{
	size_t n;

	if (str_has_prefix(s, "http://") || str_has_prefix(s, "https://")) {
		strata_fail_msg(err, EINVAL, "%s: %s '%s': URL schemes are not supported", where,
				what, s);
		return NULL;
	}
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			strata_fail_msg(err, EINVAL, "%s: %s '%s': blanks or control characters",
					where, what, s);
			return NULL;
		}
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (strchr(s, '*') && !str_has_prefix(s, "*.")) {
		strata_fail_msg(err, EINVAL, "%s: %s '%s': a wildcard only starts a host (*.example.com)",
				where, what, s);
		return NULL;
	}
	if (str_has_prefix(s, "*.") && (strchr(s, '/') || strchr(s, ':') || strchr(s + 1, '*'))) {
		strata_fail_msg(err, EINVAL,
				"%s: %s '%s': a wildcarded host takes no port and no namespace", where,
				what, s);
		return NULL;
	}
	return xstrndup(s, n);
}

static int parse_mirror(const json_t *m, struct reg_mirror *out, bool by_digest_only,
			const char *where, struct strata_error **err)
{
	const char *loc = NULL, *pull = NULL;

	if (!json_is_object(m))
		return strata_fail_msg(err, EINVAL, "%s: a mirror is a table", where);
	if (get_str(m, "location", &loc, where, err) < 0 ||
	    get_bool(m, "insecure", &out->insecure, where, err) < 0 ||
	    get_str(m, "pull-from-mirror", &pull, where, err) < 0)
		return -1;
	if (!loc || !*loc)
		return strata_fail_msg(err, EINVAL, "%s: a mirror's location is unset", where);
	if (!(out->location = parse_location(loc, "mirror location", where, err)))
		return -1;
	if (str_has_prefix(out->location, "*."))
		return strata_fail_msg(err, EINVAL, "%s: mirror location '%s' has a wildcard",
				       where, loc);
	if (pull && *pull && by_digest_only)
		return strata_fail_msg(err, EINVAL,
				       "%s: mirror-by-digest-only and a mirror's pull-from-mirror do not go together",
				       where);
	if (!pull || !*pull || strcmp(pull, "all") == 0)
		out->pull_from = REG_MIRROR_ALL;
	else if (strcmp(pull, "digest-only") == 0)
		out->pull_from = REG_MIRROR_DIGEST_ONLY;
	else if (strcmp(pull, "tag-only") == 0)
		out->pull_from = REG_MIRROR_TAG_ONLY;
	else
		return strata_fail_msg(err, EINVAL,
				       "%s: pull-from-mirror '%s': want all, digest-only or tag-only",
				       where, pull);
	return 0;
}

static int parse_registry(const json_t *t, struct reg_registry *r, const char *where,
			  struct strata_error **err)
{
	const char *prefix = NULL, *loc = NULL, *pull = NULL;
	json_t *mirrors, *m;
	size_t i;

	if (!json_is_object(t))
		return strata_fail_msg(err, EINVAL, "%s: want a table", where);
	if (get_str(t, "prefix", &prefix, where, err) < 0 ||
	    get_str(t, "location", &loc, where, err) < 0 ||
	    get_bool(t, "insecure", &r->insecure, where, err) < 0 ||
	    get_bool(t, "blocked", &r->blocked, where, err) < 0 ||
	    get_bool(t, "mirror-by-digest-only", &r->mirror_by_digest_only, where, err) < 0 ||
	    get_str(t, "pull-from-mirror", &pull, where, err) < 0)
		return -1;
	if (pull)
		return strata_fail_msg(err, EINVAL, "%s: pull-from-mirror is for mirrors only",
				       where);
	if (loc && *loc && !(r->location = parse_location(loc, "location", where, err)))
		return -1;
	if (r->location && str_has_prefix(r->location, "*."))
		return strata_fail_msg(err, EINVAL, "%s: location '%s' has a wildcard", where, loc);
	if (prefix && *prefix) {
		if (!(r->prefix = parse_location(prefix, "prefix", where, err)))
			return -1;
		if (!r->location && !str_has_prefix(r->prefix, "*."))
			return strata_fail_msg(err, EINVAL,
					       "%s: location is unset and prefix '%s' is not a wildcard (*.example.com)",
					       where, prefix);
	} else if (r->location) {
		r->prefix = xstrdup(r->location);
	} else {
		return strata_fail_msg(err, EINVAL, "%s: neither prefix nor location is set", where);
	}
	mirrors = json_object_get(t, "mirror");
	if (mirrors && !json_is_array(mirrors))
		return strata_fail_msg(err, EINVAL, "%s: 'mirror' wants [[registry.mirror]] tables",
				       where);
	r->mirrors = xcalloc(json_array_size(mirrors) + 1, sizeof(*r->mirrors));
	json_array_foreach (mirrors, i, m) {
		cleanup_free char *mw = xasprintf("%s mirror %zu", where, i + 1);

		r->n_mirrors++;
		if (parse_mirror(m, &r->mirrors[i], r->mirror_by_digest_only, mw, err) < 0)
			return -1;
	}
	return 0;
}

int reg_alias_check(const char *name, const json_t *v, const char *where,
		    struct strata_error **err)
{
	struct store_ref r = { 0 };
	const char *val;
	bool bad;

	if (!json_is_string(v))
		return strata_fail_msg(err, EINVAL, "%s: alias '%s' wants a string", where, name);
	val = json_string_value(v);
	if (store_ref_parse(name, &r, NULL) < 0 || r.domain || strchr(name, ':') ||
	    strchr(name, '@') || str_has_prefix(name, "localhost/")) {
		store_ref_release(&r);
		return strata_fail_msg(err, EINVAL,
				       "%s: alias '%s': the name must be a short name without tag or digest",
				       where, name);
	}
	store_ref_release(&r);
	if (!*val)
		return 0;
	bad = store_ref_parse(val, &r, NULL) < 0 || !r.domain || r.digest ||
	      strchr(val + strlen(r.domain), ':');
	store_ref_release(&r);
	if (bad)
		return strata_fail_msg(err, EINVAL,
				       "%s: alias '%s' = '%s': the value must be a fully qualified name without tag or digest",
				       where, name, val);
	return 0;
}

/* Version 1: [registries.search], [registries.insecure], [registries.block] lists. */
static int parse_v1(const json_t *v1, struct reg_conf *f, const char *where,
		    struct strata_error **err)
{
	static const char *const kinds[] = { "search", "insecure", "block" };

	if (!json_is_object(v1))
		return strata_fail_msg(err, EINVAL, "%s: 'registries' wants [registries.*] tables",
				       where);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		json_t *t = json_object_get(v1, kinds[k]);
		cleanup_strv char **list = NULL;
		cleanup_free char *w = xasprintf("%s: registries.%s", where, kinds[k]);

		if (t && get_strv(t, "registries", &list, NULL, w, err) < 0)
			return -1;
		if (k == 0) {
			if (list) {
				f->search = steal_ptr(&list);
				f->has_search = true;
			}
			continue;
		}
		for (size_t i = 0; list && list[i]; i++) {
			struct reg_registry *r = NULL;

			for (size_t j = 0; j < f->n_regs; j++)
				if (strcmp(f->regs[j].prefix, list[i]) == 0)
					r = &f->regs[j];
			if (!r) {
				f->regs = xgrow(f->regs, &f->cap_regs, f->n_regs, sizeof(*f->regs));
				r = &f->regs[f->n_regs++];
				memset(r, 0, sizeof(*r));
				if (!(r->location = parse_location(list[i], "registry", w, err)))
					return -1;
				r->prefix = xstrdup(r->location);
			}
			if (k == 1)
				r->insecure = true;
			else
				r->blocked = true;
		}
	}
	return 0;
}

int reg_conf_parse(const char *buf, size_t len, const char *path, bool dropin,
		   struct reg_conf **out, struct strata_error **err)
{
	cleanup_json json_t *doc = NULL;
	struct reg_conf *f = reg_conf_new();
	const char *mode = NULL, *key;
	json_t *regs, *r, *aliases, *v, *v1;
	size_t i;

	if (reg_toml_parse(buf, len, &doc, err) < 0) {
		reg_conf_free(f);
		return strata_wrap(err, "%s", path);
	}
	json_object_foreach (doc, key, v) {
		static const char *const known[] = { "unqualified-search-registries",
						     "short-name-mode", "registry", "aliases",
						     "registries", "credential-helpers",
						     "additional-layer-store-auth-helper" };
		bool ok = false;

		for (size_t k = 0; k < ARRAY_SIZE(known); k++)
			ok = ok || strcmp(key, known[k]) == 0;
		if (!ok)
			log_debug("registries.conf %s: key '%s' ignored", path, key);
	}
	v1 = json_object_get(doc, "registries");
	if (v1 && (json_object_get(doc, "registry") ||
		   json_object_get(doc, "unqualified-search-registries") ||
		   json_object_get(doc, "aliases"))) {
		strata_fail_msg(err, EINVAL, "%s: mixes the version 1 ([registries.*]) and version 2 formats",
				path);
		goto fail;
	}
	if (v1 && dropin) {
		strata_fail_msg(err, EINVAL, "%s: a drop-in must use the version 2 format", path);
		goto fail;
	}
	if (v1 && parse_v1(v1, f, path, err) < 0)
		goto fail;
	if (get_strv(doc, "unqualified-search-registries", &f->search, &f->has_search, path, err) <
	    0)
		goto fail;
	for (i = 0; f->search && f->search[i]; i++) {
		const char *sr = f->search[i];

		if (!*sr || strchr(sr, '/') || strstr(sr, "://") || strchr(sr, '*')) {
			strata_fail_msg(err, EINVAL,
					"%s: unqualified-search-registries: '%s' is not a host[:port]",
					path, sr);
			goto fail;
		}
	}
	if (get_str(doc, "short-name-mode", &mode, path, err) < 0)
		goto fail;
	if (mode && *mode) {
		if (strcmp(mode, "enforcing") == 0)
			f->mode = REG_SHORT_ENFORCING;
		else if (strcmp(mode, "permissive") == 0)
			f->mode = REG_SHORT_PERMISSIVE;
		else if (strcmp(mode, "disabled") == 0)
			f->mode = REG_SHORT_DISABLED;
		else {
			strata_fail_msg(err, EINVAL,
					"%s: short-name-mode '%s': want enforcing, permissive or disabled",
					path, mode);
			goto fail;
		}
		f->has_mode = true;
	}
	aliases = json_object_get(doc, "aliases");
	if (aliases && !json_is_object(aliases)) {
		strata_fail_msg(err, EINVAL, "%s: [aliases] wants a table", path);
		goto fail;
	}
	json_object_foreach (aliases, key, v) {
		if (reg_alias_check(key, v, path, err) < 0)
			goto fail;
		json_object_set(f->aliases, key, v);
	}
	regs = json_object_get(doc, "registry");
	if (regs && !json_is_array(regs)) {
		strata_fail_msg(err, EINVAL, "%s: 'registry' wants [[registry]] tables", path);
		goto fail;
	}
	json_array_foreach (regs, i, r) {
		cleanup_free char *where = xasprintf("%s: [[registry]] %zu", path, i + 1);
		struct reg_registry reg = { 0 };

		if (parse_registry(r, &reg, where, err) < 0) {
			registry_release(&reg);
			goto fail;
		}
		/* A prefix given twice in one file: the later table wins, as in a drop-in. */
		reg_conf_add_registry(f, &reg);
	}
	strv_append(&f->files, path);
	*out = f;
	return 0;
fail:
	reg_conf_free(f);
	return -1;
}

void reg_conf_add_registry(struct reg_conf *c, struct reg_registry *r)
{
	for (size_t j = 0; j < c->n_regs; j++)
		if (strcmp(c->regs[j].prefix, r->prefix) == 0) {
			registry_release(&c->regs[j]);
			c->regs[j] = *r;
			memset(r, 0, sizeof(*r));
			return;
		}
	c->regs = xgrow(c->regs, &c->cap_regs, c->n_regs, sizeof(*c->regs));
	c->regs[c->n_regs++] = *r;
	memset(r, 0, sizeof(*r));
}

void reg_conf_merge(struct reg_conf *c, struct reg_conf *f)
{
	const char *key;
	json_t *v;

	if (f->has_search) {
		strv_free(c->search);
		c->search = steal_ptr(&f->search);
		c->has_search = true;
	}
	if (f->has_mode) {
		c->mode = f->mode;
		c->has_mode = true;
	}
	json_object_foreach (f->aliases, key, v) {
		if (!*json_string_value(v))
			json_object_del(c->aliases, key);
		else
			json_object_set(c->aliases, key, v);
	}
	for (size_t i = 0; i < f->n_regs; i++)
		reg_conf_add_registry(c, &f->regs[i]);
	for (size_t i = 0; f->files && f->files[i]; i++)
		strv_append(&c->files, f->files[i]);
}

/* Registries that name one location must agree on insecure and blocked. */
static int check_conflicts(const struct reg_conf *c, struct strata_error **err)
{
	for (size_t i = 0; i < c->n_regs; i++)
		for (size_t j = i + 1; j < c->n_regs; j++) {
			const struct reg_registry *a = &c->regs[i], *b = &c->regs[j];

			if (!a->location || !b->location || strcmp(a->location, b->location) != 0)
				continue;
			if (a->insecure != b->insecure || a->blocked != b->blocked)
				return strata_fail_msg(err, EINVAL,
						       "registries.conf: location '%s' is given with conflicting '%s' settings",
						       a->location,
						       a->insecure != b->insecure ? "insecure"
										  : "blocked");
		}
	return 0;
}

/* Reads and merges one file; a missing one is skipped. */
static int load_file(struct reg_conf *c, const char *path, bool dropin, bool must_exist,
		     struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	struct reg_conf *f = NULL;
	size_t len;

	if (file_read_regular_at(AT_FDCWD, path, CONF_MAX, &buf, &len, err) < 0) {
		if (!must_exist && err && *err && strata_error_code(*err) == ENOENT) {
			strata_error_free(*err);
			*err = NULL;
			return 0;
		}
		return strata_wrap(err, "registries.conf %s", path);
	}
	if (reg_conf_parse(buf, len, path, dropin, &f, err) < 0)
		return strata_wrap(err, "registries.conf");
	reg_conf_merge(c, f);
	reg_conf_free(f);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every "*.conf" file of @dir, in name order; a missing dir has none. */
static int load_dir(struct reg_conf *c, const char *dir, struct strata_error **err)
{
	cleanup_dir DIR *d = opendir(dir);
	cleanup_strv char **names = NULL;
	struct dirent *de;

	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return strata_fail(err, errno, "registries.conf.d %s", dir);
	}
	while ((de = readdir(d)))
		if (str_has_suffix(de->d_name, ".conf") && de->d_name[0] != '.')
			strv_append(&names, de->d_name);
	if (!names)
		return 0;
	qsort(names, strv_len(names), sizeof(*names), name_cmp);
	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *p = path_join(dir, names[i]);
		struct stat st;

		if (stat(p, &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (load_file(c, p, true, false, err) < 0)
			return -1;
	}
	return 0;
}

int reg_conf_load(struct reg_conf **out, struct strata_error **err)
{
	struct reg_conf *c = reg_conf_new();
	const char *env = getenv("CONTAINERS_REGISTRIES_CONF");
	cleanup_free char *user = reg_user_config_path("registries.conf");
	cleanup_free char *user_d = reg_user_config_path("registries.conf.d");
	cleanup_free char *sys = xasprintf("%s/containers/registries.conf", reg_sysconfdir());
	cleanup_free char *sys_d = xasprintf("%s/containers/registries.conf.d", reg_sysconfdir());
	const char *main_path;
	bool user_main = false;
	struct stat st;

	if (env && *env) {
		main_path = env;
	} else if (user && stat(user, &st) == 0) {
		main_path = user;
		user_main = true;
	} else {
		main_path = sys;
	}
	if (load_file(c, main_path, false, env && *env, err) < 0)
		goto fail;
	if (!user_main && load_dir(c, sys_d, err) < 0)
		goto fail;
	if (user_d && load_dir(c, user_d, err) < 0)
		goto fail;
	if (check_conflicts(c, err) < 0)
		goto fail;
	if (!c->files)
		strv_append(&c->files, main_path);
	/* the machine-written aliases come before those of the files */
	c->cache_path = reg_alias_cache_path();
	if (reg_alias_cache_load(c->cache_path, &c->cache_aliases, err) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	reg_conf_free(c);
	return -1;
}

/* ---- matching and rewriting ---- */

/* The length of @prefix's match at the start of @ref, or -1 (containers/image's rule). */
ssize_t reg_prefix_match(const char *ref, const char *prefix)
{
	size_t rl = strlen(ref), pl;
	const char *hit, *slash;
	size_t idx;

	if (str_has_prefix(prefix, "*.")) {
		/* ".example.com" within the host: any number of subdomains before it. */
		const char *dom = prefix + 1;

		hit = strstr(ref, dom);
		slash = strchr(ref, '/');
		if (!hit || (slash && slash < hit))
			return -1;
		idx = (size_t)(hit - ref) + strlen(dom);
		if (idx == rl || ref[idx] == ':' || ref[idx] == '/' || ref[idx] == '@')
			return (ssize_t)idx;
		return -1;
	}
	pl = strlen(prefix);
	if (rl < pl || strncmp(ref, prefix, pl) != 0)
		return -1;
	if (rl == pl || ref[pl] == ':' || ref[pl] == '/' || ref[pl] == '@')
		return (ssize_t)pl;
	return -1;
}

const struct reg_registry *reg_conf_find(const struct reg_conf *c, const char *ref)
{
	const struct reg_registry *best = NULL;
	ssize_t best_len = -1;

	for (size_t i = 0; c && i < c->n_regs; i++) {
		ssize_t n = reg_prefix_match(ref, c->regs[i].prefix);

		if (n > best_len) {
			best_len = n;
			best = &c->regs[i];
		}
	}
	return best;
}

/* @ref with the part @prefix matched replaced by @location (NULL: unchanged). */
static char *rewrite(const char *ref, const char *prefix, const char *location)
{
	ssize_t n = reg_prefix_match(ref, prefix);

	if (!location || n < 0)
		return xstrdup(ref);
	return xasprintf("%s%s", location, ref + n);
}

static void add_endpoint(struct reg_endpoint **eps, size_t *n, char *ref, bool insecure,
			 bool mirror)
{
	*eps = xrealloc(*eps, (*n + 1) * sizeof(**eps));
	(*eps)[*n].ref = ref;
	(*eps)[*n].insecure = insecure;
	(*eps)[*n].mirror = mirror;
	(*n)++;
}

size_t reg_conf_endpoints(const struct reg_registry *r, const char *ref, bool pull,
			  struct reg_endpoint **out)
{
	bool digested = strchr(ref, '@') != NULL;
	struct reg_endpoint *eps = NULL;
	size_t n = 0;

	if (!r) {
		add_endpoint(&eps, &n, xstrdup(ref), false, false);
		*out = eps;
		return n;
	}
	for (size_t i = 0; pull && i < r->n_mirrors; i++) {
		const struct reg_mirror *m = &r->mirrors[i];

		if (r->mirror_by_digest_only && !digested)
			continue;
		if ((m->pull_from == REG_MIRROR_DIGEST_ONLY && !digested) ||
		    (m->pull_from == REG_MIRROR_TAG_ONLY && digested))
			continue;
		add_endpoint(&eps, &n, rewrite(ref, r->prefix, m->location), m->insecure, true);
	}
	add_endpoint(&eps, &n, rewrite(ref, r->prefix, r->location), r->insecure, false);
	*out = eps;
	return n;
}

void reg_endpoints_free(struct reg_endpoint *eps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(eps[i].ref);
	free(eps);
}

/* ---- short names ---- */

char *reg_ref_qualify(const char *domain, const struct store_ref *r)
{
	bool hub = strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0;
	cleanup_free char *path = hub && !strchr(r->path, '/') ? xasprintf("library/%s", r->path)
							      : xstrdup(r->path);
	struct sbuf b = SBUF_INIT;

	sbuf_addf(&b, "%s/%s", hub ? "docker.io" : domain, path);
	if (r->tag)
		sbuf_addf(&b, ":%s", r->tag);
	if (r->digest)
		sbuf_addf(&b, "@%s", r->digest);
	return sbuf_detach(&b, NULL);
}

int reg_conf_candidates(const struct reg_conf *c, const char *name, const struct store_ref *r,
			char ***out, bool *ambiguous, struct strata_error **err)
{
	/* the cache's alias first: an empty one there hides the files' (containers/image) */
	const char *cached = c->cache_aliases ? jv_str(c->cache_aliases, r->path) : NULL;
	const char *alias = cached ? cached : jv_str(c->aliases, r->path);
	const char *files = c->files && c->files[0] ? c->files[0] : "registries.conf";
	size_t n = strv_len(c->search);

	if (ambiguous)
		*ambiguous = false;
	if (cached && *cached)
		log_debug("registry: short name '%s': alias from %s", name, c->cache_path);

	if (alias && *alias) {
		struct store_ref a = { 0 };

		if (store_ref_parse(alias, &a, err) < 0)
			return strata_wrap(err, "alias '%s'", r->path);
		free(a.tag);
		a.tag = r->tag ? xstrdup(r->tag) : NULL;
		a.digest = r->digest ? xstrdup(r->digest) : NULL;
		{
			char *q = reg_ref_qualify(a.domain, &a);

			strv_append(out, q);
			free(q);
		}
		log_debug("registry: short name '%s' is an alias of '%s'", name, alias);
		store_ref_release(&a);
		return 0;
	}
	if (n == 0)
		return strata_fail_msg(err, ENOENT,
				       "short name '%s' did not resolve to an alias and no unqualified-search registries are defined in %s",
				       name, files);
	/* a choice among several: the caller may prompt; enforcing refuses when it cannot */
	if (ambiguous && n > 1 && c->mode != REG_SHORT_DISABLED)
		*ambiguous = true;
	else if (n > 1 && c->mode == REG_SHORT_ENFORCING)
		return strata_fail_msg(err, EINVAL,
				       "short name '%s' did not resolve to an alias and short-name-mode is enforcing with %zu search registries (strata does not prompt): give a fully qualified name or an alias",
				       name, n);
	for (size_t i = 0; i < n; i++) {
		char *q = reg_ref_qualify(c->search[i], r);

		strv_append(out, q);
		free(q);
	}
	return 0;
}

/* ---- the process's configuration ---- */

static struct reg_conf *loaded;

int reg_conf_get(const struct reg_conf **out, struct strata_error **err)
{
	if (!loaded && reg_conf_load(&loaded, err) < 0)
		return -1;
	*out = loaded;
	return 0;
}
