/*
 * The signature policy of containers-policy.json(5): which images may be
 * read, per transport and scope. The file is --signature-policy when given,
 * else $HOME/.config/containers/policy.json, else
 * $STRATA_SYSCONFDIR/containers/policy.json (/etc by default); with none of
 * them there is no policy and everything is accepted (as strata did before
 * it read one).
 *
 * The requirements for an image are those of the first match among: its
 * full identity, its namespaces from the longest down (for docker: the
 * repository, each parent namespace, the host, then the host's wildcarded
 * domains "*.example.com"), the transport's "" scope, then "default". All of
 * them must accept: "insecureAcceptAnything" does, "reject" does not, and
 * "signedBy", "sigstoreSigned" and "signedBaseLayer", which need signatures
 * strata cannot verify yet, refuse the image with an error saying so
 * (never an image accepted without the check the policy asks for). A
 * scope that containers/image refuses for its transport (any but "" for
 * docker-archive, a relative path for oci...) makes the whole file an
 * error, as it does there.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define POLICY_MAX (4u << 20)

struct reg_policy {
	json_t *doc;
	char *path;
};

const char *reg_sysconfdir(void)
{
	const char *d = getenv("STRATA_SYSCONFDIR");

	return d && *d ? d : "/etc";
}

char *reg_user_config_path(const char *name)
{
	const char *home = getenv("HOME");

	if (!home || !*home)
		return NULL;
	return xasprintf("%s/.config/containers/%s", home, name);
}

static const char *const known_types[] = { "insecureAcceptAnything", "reject", "signedBy",
					   "sigstoreSigned", "signedBaseLayer", NULL };

/* Checks one list of requirements; @where names it in errors. */
static int check_requirements(const json_t *reqs, const char *where, struct strata_error **err)
{
	size_t i;
	json_t *r;

	if (!json_is_array(reqs))
		return strata_fail_msg(err, EINVAL, "%s: want a list of requirements", where);
	if (json_array_size(reqs) == 0)
		return strata_fail_msg(err, EINVAL, "%s: the list of requirements must not be empty",
				       where);
	json_array_foreach (reqs, i, r) {
		const char *type = jv_str(r, "type");
		bool known = false;

		if (!json_is_object(r) || !type)
			return strata_fail_msg(err, EINVAL, "%s: a requirement without a \"type\"",
					       where);
		for (size_t k = 0; known_types[k]; k++)
			known = known || strcmp(type, known_types[k]) == 0;
		if (!known)
			return strata_fail_msg(err, EINVAL, "%s: unknown requirement type '%s'", where,
					       type);
		if ((strcmp(type, "insecureAcceptAnything") == 0 || strcmp(type, "reject") == 0) &&
		    json_object_size(r) != 1) {
			const char *key;
			json_t *v;

			json_object_foreach ((json_t *)r, key, v) {
				if (strcmp(key, "type") != 0)
					return strata_fail_msg(err, EINVAL,
							       "%s: unknown key '%s' in '%s'", where,
							       key, type);
			}
		}
	}
	return 0;
}

/* True when absolute path @p is as Go's filepath.Clean leaves it: no "//", ".", ".." or final '/'. */
static bool path_is_canonical(const char *p)
{
	if (p[0] != '/' || !p[1])
		return false;
	for (const char *c = p; *c; c++) {
		if (*c != '/')
			continue;
		if (c[1] == '/' || !c[1] || (c[1] == '.' && (c[2] == '/' || !c[2])) ||
		    (c[1] == '.' && c[2] == '.' && (c[3] == '/' || !c[3])))
			return false;
	}
	return true;
}

/* True for "sha256:" and 64, "sha384:" and 96 or "sha512:" and 128 lowercase hex digits. */
static bool is_digest(const char *s)
{
	static const struct {
		const char *algo;
		size_t hex;
	} algos[] = { { "sha256:", 64 }, { "sha384:", 96 }, { "sha512:", 128 } };

	for (size_t i = 0; i < ARRAY_SIZE(algos); i++) {
		size_t n = strlen(algos[i].algo);

		if (!strncmp(s, algos[i].algo, n) && strlen(s + n) == algos[i].hex &&
		    strspn(s + n, "0123456789abcdef") == algos[i].hex)
			return true;
	}
	return false;
}

/* True for an image ID of containers-storage: 64 lowercase hex digits. */
static bool is_image_id(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* containers-storage: "[DRIVER@/ROOT]" or "[/ROOT]", then NAME[:TAG][@DIGEST][@ID]. */
static const char *storage_scope_error(const char *scope)
{
	const char *close = strchr(scope, ']');
	cleanup_free char *spec = NULL;
	cleanup_free char *rest = NULL;
	char *at, *fields[3] = { NULL, NULL, NULL };
	size_t n = 0;

	if (scope[0] != '[' || !close || close == scope + 1)
		return "want [DRIVER@/ROOT] or [/ROOT] first";
	spec = xstrndup(scope + 1, (size_t)(close - scope - 1));
	at = strchr(spec, '@');
	if (at ? (at == spec || at[1] != '/') : spec[0] != '/')
		return "its store is not [DRIVER@/ROOT] or [/ROOT] with an absolute root";
	if (!close[1])
		return NULL;
	rest = xstrdup(close + 1);
	for (char *f = rest; f; f = at) {
		if (n == ARRAY_SIZE(fields))
			return "too many '@'";
		at = strchr(f, '@');
		if (at)
			*at++ = '\0';
		fields[n++] = f;
	}
	switch (n) {
	case 1:
		return NULL;
	case 2:
		return is_image_id(fields[1]) || is_digest(fields[1])
			       ? NULL
			       : "what follows '@' is neither a digest nor an image ID";
	case 3:
		return is_digest(fields[1]) && is_image_id(fields[2])
			       ? NULL
			       : "want NAME@DIGEST@ID after the store";
	default:
		return "too many '@'";
	}
}

/*
 * Why @scope is not one of @transport's, as containers/image refuses it
 * (which then refuses the whole file), or NULL. Transports it does not
 * know take any scope; "" is every transport's.
 */
static const char *scope_error(const char *transport, const char *scope)
{
	static const char *const only_default[] = { "docker-archive", "tarball", NULL };
	static const char *const paths[] = { "oci", "oci-archive", "dir", "sif", NULL };

	if (!*scope)
		return NULL;
	for (size_t i = 0; only_default[i]; i++)
		if (!strcmp(transport, only_default[i]))
			return "this transport takes no scope but the default \"\"";
	for (size_t i = 0; paths[i]; i++)
		if (!strcmp(transport, paths[i]))
			return path_is_canonical(scope)
				       ? NULL
				       : "want an absolute path other than '/', without '.', '..', "
					 "'//' or a final '/'";
	if (!strcmp(transport, "docker-daemon"))
		return is_digest(scope) ? "a digest cannot be a namespace" : NULL;
	if (!strcmp(transport, "containers-storage"))
		return storage_scope_error(scope);
	return NULL;
}

int reg_policy_parse(const char *buf, size_t len, const char *path, struct reg_policy **out,
		     struct strata_error **err)
{
	cleanup_json json_t *doc = jv_loadb(buf, len, "policy", err);
	const char *key, *tkey, *skey;
	json_t *v, *tv, *sv;

	if (!doc)
		return strata_wrap(err, "signature policy %s", path);
	if (!json_is_object(doc))
		return strata_fail_msg(err, EINVAL, "signature policy %s: not a JSON object", path);
	json_object_foreach (doc, key, v) {
		if (strcmp(key, "default") != 0 && strcmp(key, "transports") != 0)
			return strata_fail_msg(err, EINVAL, "signature policy %s: unknown key '%s'",
					       path, key);
	}
	if (!json_object_get(doc, "default"))
		return strata_fail_msg(err, EINVAL, "signature policy %s: the \"default\" policy is missing",
				       path);
	{
		cleanup_free char *where = xasprintf("signature policy %s: default", path);

		if (check_requirements(json_object_get(doc, "default"), where, err) < 0)
			return -1;
	}
	v = json_object_get(doc, "transports");
	if (v && !json_is_object(v))
		return strata_fail_msg(err, EINVAL, "signature policy %s: \"transports\" is not an object",
				       path);
	json_object_foreach (v, tkey, tv) {
		if (!json_is_object(tv))
			return strata_fail_msg(err, EINVAL,
					       "signature policy %s: transport '%s' is not an object of scopes",
					       path, tkey);
		json_object_foreach (tv, skey, sv) {
			cleanup_free char *where =
				xasprintf("signature policy %s: %s scope '%s'", path, tkey, skey);

			const char *why = scope_error(tkey, skey);

			if (why)
				return strata_fail_msg(err, EINVAL, "%s: %s", where, why);
			if (check_requirements(sv, where, err) < 0)
				return -1;
		}
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->doc = steal_ptr(&doc);
	(*out)->path = xstrdup(path);
	return 0;
}

void reg_policy_free(struct reg_policy *p)
{
	if (!p)
		return;
	json_decref(p->doc);
	free(p->path);
	free(p);
}

/* The first of @paths (NULL entries skipped) that exists, or NULL. */
static const char *first_existing(char *const *paths, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < n; i++)
		if (paths[i] && stat(paths[i], &st) == 0)
			return paths[i];
	return NULL;
}

int reg_policy_load(const char *override, struct reg_policy **out, struct strata_error **err)
{
	cleanup_free char *user = reg_user_config_path("policy.json");
	cleanup_free char *sys = xasprintf("%s/containers/policy.json", reg_sysconfdir());
	char *paths[] = { user, sys };
	cleanup_free char *buf = NULL;
	const char *path = override;
	size_t len;

	*out = NULL;
	if (!path && !(path = first_existing(paths, ARRAY_SIZE(paths)))) {
		log_debug("registry: no signature policy file: every image is accepted");
		return 0;
	}
	if (file_read_regular_at(AT_FDCWD, path, POLICY_MAX, &buf, &len, err) < 0)
		return strata_wrap(err, "signature policy %s", path);
	return reg_policy_parse(buf, len, path, out, err);
}

char **reg_docker_scopes(const char *name)
{
	cleanup_free char *n = xstrdup(name);
	char **res = NULL;
	char *slash, *colon, *host;

	for (;;) {
		strv_append(&res, n);
		slash = strrchr(n, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	/* Now the host: its wildcarded parent domains, without the port. */
	host = n;
	if ((colon = strchr(host, ':')))
		*colon = '\0';
	for (char *dot = strchr(host, '.'); dot; dot = strchr(dot + 1, '.')) {
		cleanup_free char *w = xasprintf("*%s", dot);

		strv_append(&res, w);
	}
	return res;
}

char **reg_path_scopes(const char *dir)
{
	cleanup_free char *n = xstrdup(dir);
	char **res = NULL;
	char *slash;

	for (;;) {
		size_t len = strlen(n);

		while (len > 1 && n[len - 1] == '/')
			n[--len] = '\0';
		if (len <= 1)
			break;
		strv_append(&res, n);
		slash = strrchr(n, '/');
		if (!slash || slash == n)
			break;
		*slash = '\0';
	}
	return res;
}

const json_t *reg_policy_requirements(const struct reg_policy *p, const char *transport,
				      const char *identity, char *const *scopes,
				      const char **matched)
{
	json_t *ts = json_object_get(json_object_get(p->doc, "transports"), transport);
	json_t *r;

	if (ts) {
		if ((r = json_object_get(ts, identity))) {
			*matched = identity;
			return r;
		}
		for (size_t i = 0; scopes && scopes[i]; i++)
			if ((r = json_object_get(ts, scopes[i]))) {
				*matched = scopes[i];
				return r;
			}
		if ((r = json_object_get(ts, ""))) {
			*matched = "";
			return r;
		}
	}
	*matched = NULL;
	return json_object_get(p->doc, "default");
}

int reg_policy_check(const struct reg_policy *p, const char *transport, const char *identity,
		     char *const *scopes, struct strata_error **err)
{
	const char *matched = NULL, *unsupported = NULL;
	const json_t *reqs;
	cleanup_free char *where = NULL, *image = NULL;
	size_t i;
	json_t *r;

	if (!p)
		return 0;
	reqs = reg_policy_requirements(p, transport, identity, scopes, &matched);
	where = matched ? xasprintf("%s scope '%s'", transport, matched) : xstrdup("default");
	image = strcmp(transport, "docker") == 0 ? xasprintf("docker://%s", identity)
		: *identity ? xasprintf("%s:%s", transport, identity)
			    : xstrdup(transport);
	json_array_foreach (reqs, i, r) {
		const char *type = jv_str(r, "type");

		if (strcmp(type, "reject") == 0)
			return strata_fail_msg(err, EACCES,
					       "%s: rejected by the signature policy %s (%s)", image,
					       p->path, where);
		if (strcmp(type, "insecureAcceptAnything") != 0 && !unsupported)
			unsupported = type;
	}
	if (unsupported)
		return strata_fail_msg(err, ENOTSUP,
				       "%s: the signature policy %s asks for '%s' signatures (%s), which strata cannot verify yet: refused",
				       image, p->path, unsupported, where);
	return 0;
}

int registry_policy_check_load(const char *policy_file, const char *path,
			       struct strata_error **err)
{
	struct reg_policy *p = NULL;
	enum layers_archive_format f;
	cleanup_free char *resolved = NULL;
	cleanup_strv char **scopes = NULL;
	const char *transport;
	int r;

	if (reg_policy_load(policy_file, &p, err) < 0)
		return -1;
	if (!p)
		return 0;
	if (layers_archive_detect(path, &f, err) < 0) {
		reg_policy_free(p);
		return -1;
	}
	if (f == LAYERS_ARCHIVE_DOCKER_ARCHIVE) {
		/* docker-archive has no identity: only its "" scope and the default apply */
		r = reg_policy_check(p, "docker-archive", "", NULL, err);
		if (r < 0)
			strata_wrap(err, "%s", path);
	} else {
		transport = f == LAYERS_ARCHIVE_OCI_DIR ? "oci" : "oci-archive";
		resolved = realpath(path, NULL);
		if (!resolved)
			resolved = xstrdup(path);
		scopes = reg_path_scopes(resolved);
		r = reg_policy_check(p, transport, resolved, scopes, err);
	}
	reg_policy_free(p);
	return r;
}
