/*
 * Credentials in containers-auth.json(5) files: {"auths": {"HOST[:PORT]":
 * {"auth": base64("user:pass")}}}, the format podman, skopeo and docker
 * (config.json) share. Keys may carry a scheme ("https://host:port") or a
 * namespace ("host:port/repo/sub"): the longest namespace of an image
 * wins, down to its host. Files are written atomically with mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define AUTH_MAX (4u << 20)

/* ${XDG_RUNTIME_DIR:-/run/user/UID}/containers/auth.json. Caller frees. */
static char *xdg_authfile(void)
{
	const char *x = getenv("XDG_RUNTIME_DIR");

	if (x && *x)
		return xasprintf("%s/containers/auth.json", x);
	return xasprintf("/run/user/%u/containers/auth.json", (unsigned)getuid());
}

char *registry_authfile_path(const char *authfile)
{
	const char *env = getenv("REGISTRY_AUTH_FILE");

	if (authfile && *authfile)
		return xstrdup(authfile);
	if (env && *env)
		return xstrdup(env);
	return xdg_authfile();
}

/* Loads @path; a missing file gives an empty object. NULL on error. */
static json_t *auth_load(const char *path, struct strata_error **err)
{
	json_t *doc = jv_load_at(AT_FDCWD, path, AUTH_MAX, err);

	if (!doc) {
		if (err && *err &&
		    (strata_error_code(*err) == ENOENT || strata_error_code(*err) == ENOTDIR)) {
			strata_error_free(*err);
			*err = NULL;
			return json_object();
		}
		strata_wrap(err, "auth file %s", path);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		strata_fail_msg(err, EINVAL, "auth file %s: not a JSON object", path);
		return NULL;
	}
	return doc;
}

/*
 * A key of an auth file as containers/image compares them: without an
 * http(s):// scheme (and then without any path after the host, as in
 * "https://index.docker.io/v1/"); in a legacy .dockercfg host only; Docker
 * Hub's names made one ("index.docker.io"). Caller frees.
 */
char *reg_auth_key_normalize(const char *key, bool legacy)
{
	const char *k = key;
	cleanup_free char *n = NULL;
	size_t hl;

	if (str_has_prefix(k, "http://"))
		k += strlen("http://");
	else if (str_has_prefix(k, "https://"))
		k += strlen("https://");
	n = legacy || k != key ? xstrndup(k, strcspn(k, "/")) : xstrdup(k);
	hl = strcspn(n, "/");
	if ((hl == 9 && strncmp(n, "docker.io", 9) == 0) ||
	    (hl == 20 && strncmp(n, "registry-1.docker.io", 20) == 0))
		return xasprintf("index.docker.io%s", n + hl);
	return steal_ptr(&n);
}

/* The entry of @auths whose normalized key is @want, or NULL. */
static json_t *find_entry(json_t *auths, const char *want, bool legacy)
{
	const char *k;
	json_t *v;

	json_object_foreach (auths, k, v) {
		cleanup_free char *nk = reg_auth_key_normalize(k, legacy);

		if (strcmp(nk, want) == 0 && json_is_object(v) && jv_str(v, "auth") &&
		    *jv_str(v, "auth"))
			return v;
	}
	return NULL;
}

/*
 * Looks @name ("host[:port][/namespace...]") up in one file, the longest
 * namespace first, down to the host: 1 found, 0 not there, -1 error.
 */
static int lookup_in(const char *path, bool legacy, const char *name, char **user, char **pass,
		     struct strata_error **err)
{
	cleanup_json json_t *doc = auth_load(path, err);
	cleanup_free char *want = NULL, *plain = NULL;
	json_t *auths, *e = NULL;
	const char *b64;
	char *colon;

	if (!doc)
		return -1;
	auths = legacy ? doc : json_object_get(doc, "auths");
	if (!json_is_object(auths))
		return 0;
	want = reg_auth_key_normalize(name, false);
	for (;;) {
		char *slash;

		if ((e = find_entry(auths, want, legacy)))
			break;
		slash = strrchr(want, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
	b64 = jv_str(e, "auth");
	plain = base64_decode(b64);
	if (!plain || !(colon = strchr(plain, ':')))
		return strata_fail_msg(err, EINVAL, "auth file %s: the entry of %s is not base64 of USER:PASSWORD",
				       path, want);
	*user = xstrndup(plain, (size_t)(colon - plain));
	*pass = xstrdup(colon + 1);
	explicit_bzero(plain, strlen(plain));
	return 1;
}

int registry_auth_lookup(const char *registry, const char *authfile, char **user, char **pass,
			 struct strata_error **err)
{
	cleanup_strv char **paths = NULL;
	cleanup_free char *xdg = xdg_authfile();
	const char *home = getenv("HOME");
	const char *env = getenv("REGISTRY_AUTH_FILE");
	const char *xdg_cfg = getenv("XDG_CONFIG_HOME");
	const char *docker_cfg = getenv("DOCKER_CONFIG");
	size_t legacy_at = SIZE_MAX;

	*user = *pass = NULL;
	/* A file named by the user is the only one read (as podman does). */
	if (authfile && *authfile) {
		strv_append(&paths, authfile);
	} else if (env && *env) {
		strv_append(&paths, env);
	} else {
		strv_append(&paths, xdg);
		if (xdg_cfg && *xdg_cfg) {
			cleanup_free char *d = xasprintf("%s/containers/auth.json", xdg_cfg);

			strv_append(&paths, d);
		} else if (home && *home) {
			cleanup_free char *d = xasprintf("%s/.config/containers/auth.json", home);

			strv_append(&paths, d);
		}
		if (docker_cfg && *docker_cfg) {
			cleanup_free char *d = xasprintf("%s/config.json", docker_cfg);

			strv_append(&paths, d);
		} else if (home && *home) {
			cleanup_free char *d = xasprintf("%s/.docker/config.json", home);

			strv_append(&paths, d);
		}
		if (home && *home) {
			cleanup_free char *d = xasprintf("%s/.dockercfg", home);

			legacy_at = strv_len(paths);
			strv_append(&paths, d);
		}
	}
	for (size_t i = 0; paths && paths[i]; i++) {
		int r = lookup_in(paths[i], i == legacy_at, registry, user, pass, err);

		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	return 0;
}

static int auth_save(const char *path, const json_t *doc, struct strata_error **err)
{
	cleanup_free char *copy = xstrdup(path);
	cleanup_free char *body = NULL;
	cleanup_close int dfd = -1;
	const char *dir = dirname(copy);
	cleanup_free char *base = NULL;
	const char *slash = strrchr(path, '/');
	size_t len;

	base = xstrdup(slash ? slash + 1 : path);
	if (path_mkdir_p(dir, 0700, err) < 0)
		return strata_wrap(err, "auth file %s", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return strata_fail(err, errno, "auth file %s: open %s", path, dir);
	body = jv_dump_pretty(doc);
	len = strlen(body);
	if (file_write_atomic_at(dfd, base, body, len, 0600, err) < 0)
		return strata_wrap(err, "auth file %s", path);
	return 0;
}

/* Stores @user/@pass for @registry in the auth file. */
static int auth_store(const char *registry, const char *user, const char *pass,
		      const char *authfile, struct strata_error **err)
{
	cleanup_free char *path = registry_authfile_path(authfile);
	cleanup_json json_t *doc = auth_load(path, err);
	cleanup_free char *plain = NULL, *b64 = NULL;
	json_t *auths;

	if (!doc)
		return -1;
	auths = json_object_get(doc, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(doc, "auths", auths);
	}
	plain = xasprintf("%s:%s", user, pass);
	b64 = base64_encode(plain, strlen(plain));
	explicit_bzero(plain, strlen(plain));
	json_object_set_new(auths, registry, json_pack("{s:s}", "auth", b64));
	return auth_save(path, doc, err);
}

int registry_login(const char *registry, const char *user, const char *pass,
		   const struct registry_opts *o, struct strata_error **err)
{
	struct reg_client *c = NULL;
	struct registry_opts eo = { 0 };
	const struct reg_conf *conf = NULL;
	const struct reg_registry *reg;
	cleanup_free char *key = NULL;

	if (!user || !*user)
		return strata_fail_msg(err, EINVAL, "login: a user name is needed");
	if (strchr(user, ':'))
		return strata_fail_msg(err, EINVAL, "login: the user name may not contain ':'");
	key = xstrdup(strcmp(registry, "index.docker.io") == 0 ? "docker.io" : registry);
	/* registries.conf's insecure applies to the login as to the pulls it is for. */
	if (reg_conf_get(&conf, err) < 0)
		return -1;
	reg = reg_conf_find(conf, key);
	if (o)
		eo = *o;
	eo.insecure = !eo.tls_verify && (eo.insecure || (reg && reg->insecure));
	if (reg_client_new(strcmp(key, "docker.io") == 0 ? NULL : key, NULL, NULL, user, pass, &eo,
			   &c, err) < 0)
		return -1;
	/* A Bearer registry checked the credentials at the token server; a Basic one at /v2/. */
	if (!c->token && !c->basic) {
		reg_client_free(c);
		return strata_fail_msg(err, EPROTO,
				       "registry %s: /v2/ asks for no authentication; nothing to log in to",
				       registry);
	}
	reg_client_free(c);
	return auth_store(key, user, pass, o ? o->authfile : NULL, err);
}

int registry_logout(const char *registry, bool all, const char *authfile,
		    struct strata_error **err)
{
	cleanup_free char *path = registry_authfile_path(authfile);
	cleanup_json json_t *doc = auth_load(path, err);
	json_t *auths;

	if (!doc)
		return -1;
	auths = json_object_get(doc, "auths");
	if (all) {
		json_object_set_new(doc, "auths", json_object());
		return auth_save(path, doc, err);
	}
	if (!json_is_object(auths) || !json_object_get(auths, registry))
		return strata_fail_msg(err, ENOENT, "not logged in to %s (in %s)", registry, path);
	json_object_del(auths, registry);
	return auth_save(path, doc, err);
}
