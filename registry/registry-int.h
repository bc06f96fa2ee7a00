/*
 * Internals of the registry module, shared between its .c files only.
 */
#ifndef STRATA_REGISTRY_REGISTRY_INT_H
#define STRATA_REGISTRY_REGISTRY_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <sys/types.h>

#include "registry/registry.h"

/* The distribution spec's Accept list for manifests. */
#define REG_ACCEPT_MANIFESTS                                                                        \
	MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST

/*
 * What one operation may spend on failed attempts (retry.c). Settable for
 * tests and slow links: STRATA_RETRIES (count), STRATA_RETRY_TIME (s),
 * STRATA_STALL_FLOOR (bytes/s, "1k") and STRATA_STALL_TIME (s; 0 turns
 * stall detection off).
 */
struct reg_budget {
	int retries, max_retries;
	int64_t lost_ms, max_ms;  /* stall windows and waits so far; their cap */
	uint64_t stall_floor;	  /* a transfer slower than this ... */
	long stall_time;	  /* ... for this many seconds is a stall */
};

/* A connection to one registry, for one repository. */
struct reg_client {
	char *host;	   /* host[:port] to connect to */
	char *base;	   /* "https://host" or "http://host" */
	char *scope;	   /* "repository:NAME:pull[,push]", or NULL */
	bool insecure;
	char *user, *pass; /* NULL when anonymous */
	char *token;	   /* Bearer token, once obtained */
	bool basic;	   /* the registry asked for Basic auth */
	char *realm, *service; /* the last Bearer challenge */
	char *certs_dir;   /* --cert-dir, or the first certs.d/HOST that exists */
	struct sbuf ca_pem; /* its *.crt, concatenated */
	char *client_cert, *client_key; /* its first *.cert and *.key pair, or NULL */
	const struct registry_opts *o; /* borrowed: for progress notes */
	struct reg_budget budget;
	CURL *curl;
};

/* Receives a 2xx body as it streams; returns -1 with *err set to stop. */
typedef int (*reg_sink)(const void *buf, size_t n, void *arg, struct strata_error **err);

/* Told the bytes of a request body sent so far. */
typedef void (*reg_sent_fn)(uint64_t sent, void *arg);

/* One request. Unused fields zero; body_fd -1 when there is no file body. */
struct reg_req {
	const char *method;	  /* "GET", "HEAD", "PUT", "POST", "PATCH" */
	const char *url;	  /* absolute, or a path that starts with '/' */
	const char *accept;
	const char *content_type;
	const void *body;	  /* in-memory body for PUT or POST */
	size_t body_len;
	int body_fd;		  /* file body for PUT or PATCH, read from body_offset */
	uint64_t body_offset;
	uint64_t body_size;
	const char *content_range; /* "START-END" for a PATCH chunk, or NULL */
	reg_sent_fn sent;	  /* called as the body goes out, or NULL */
	void *sent_arg;
	reg_sink sink;		  /* NULL: a 2xx body is kept in resp->body */
	void *sink_arg;
	size_t max_body;	  /* limit for a kept body (0: STORE_JSON_MAX) */
	uint64_t range_from;	  /* > 0: ask for the bytes from here on; an answer other than 206 fails with ERANGE */
};

/* What came back. */
struct reg_resp {
	long status;
	char *content_type; /* without parameters */
	char *location;
	char *docker_digest;
	char *www_auth;
	char *range;	    /* the Range header of an upload's answer ("0-N") */
	char *retry_after;  /* Retry-After, as sent */
	char *link;	    /* Link, as sent (a tag list's next page) */
	char *gave_up;	    /* why a transient status was not retried again, or NULL */
	struct sbuf body;
};

/*
 * Connects to @host (the registry part of a reference, "docker.io" for
 * Docker Hub) for repository @repo with @actions ("pull" or "pull,push"):
 * credentials from @user/@pass, else o->creds, else the auth files; checks
 * /v2/ (https, or http when o->insecure and https fails) and answers its
 * challenge.
 */
int reg_client_new(const char *host, const char *repo, const char *actions, const char *user,
		   const char *pass, const struct registry_opts *o, struct reg_client **out,
		   struct strata_error **err);

/* True when a Bearer token is visible ASCII only (it is sent as a header value as it is). */
bool reg_token_is_valid(const char *tok);

/* Frees @c; NULL is fine. */
void reg_client_free(struct reg_client *c);

/*
 * Runs @rq, answering one 401 challenge (Bearer token or Basic) and
 * retrying. Within the client's budget it retries a transient status
 * (429, 5xx but 501) unless @rq has a file body, and a transport error
 * when it has neither a file body nor a sink. Any HTTP status is returned
 * in @resp; -1 only for transport errors (ECONNABORTED a dropped or refused
 * connection (ECONNREFUSED before any answer), ETIMEDOUT a stall, ELOOP too
 * many redirects, EPROTO others), an ignored Range (ERANGE) and sink errors.
 */
int reg_do(struct reg_client *c, const struct reg_req *rq, struct reg_resp *resp,
	   struct strata_error **err);

/* Fills @rq (zeroed, body_fd -1) for transfer @i; leaving rq->url NULL skips it. */
typedef int (*reg_begin_fn)(size_t i, struct reg_req *rq, void *arg, struct strata_error **err);

/*
 * Ends transfer @i: @resp is what came back and @xerr (owned) a transport
 * or sink error; a NULL @resp means it was cancelled after another failed.
 */
typedef int (*reg_end_fn)(size_t i, struct reg_resp *resp, struct strata_error *xerr, void *arg,
			  struct strata_error **err);

/*
 * Runs @n requests, at most @parallel at a time (libcurl multi), with the
 * client's credentials as they stand (no challenge is answered: @end sees a
 * 401 and may retry with reg_do). Stops at the first failure of @begin or @end.
 */
int reg_do_parallel(struct reg_client *c, size_t n, int parallel, reg_begin_fn begin,
		    reg_end_fn end, void *arg, struct strata_error **err);

/* Frees the strings and body of @r and zeroes it. */
void reg_resp_release(struct reg_resp *r);

/*
 * Fails with "WHAT: HTTP STATUS: the registry's error message" (one line);
 * the code is EAGAIN for a transient status (which a caller may retry).
 */
int reg_status_fail(const struct reg_resp *r, const char *what, struct strata_error **err);

/* The registry host for a reference's domain (NULL: Docker Hub). Caller frees. */
char *reg_host_of(const char *domain);

/* The repository path for a reference: "library/" added for one-component Docker Hub names. Caller frees. */
char *reg_repo_of(const char *domain, const char *path);

/* ---- retry.c ---- */

/* Fills @b from the defaults and the environment. */
void reg_budget_init(struct reg_budget *b);

/* True for the statuses retried: 429, 500, 502, 503, 504. */
bool reg_status_is_transient(long status);

/* Milliseconds a Retry-After value asks to wait (seconds or HTTP date); -1 when malformed. */
int64_t reg_retry_after_ms(const char *v, int64_t now_s);

/*
 * After a failed attempt with error *@e (about blob @digest, or NULL):
 * true when it may be tried again (a dropped or refused connection, a stall,
 * EAGAIN, ERANGE: a start over), having spent the budget and waited the backoff; *@e is then
 * freed. False otherwise, *@e kept, with the reason added when the budget
 * is spent.
 */
bool reg_retry_error(struct reg_client *c, const char *digest, struct strata_error **e);

/*
 * After a transient status in @resp: true when it may be retried, having
 * spent the budget and waited (Retry-After when given, capped within the
 * budget). False when the status is not transient, or the budget is spent
 * (then resp->gave_up says so, for reg_status_fail).
 */
bool reg_retry_status(struct reg_client *c, struct reg_resp *resp, const char *digest);

/* ---- client.c ---- */

/* True when the absolute @url is on the registry at @base ("SCHEME://HOST[:PORT]"): credentials go there only. */
bool reg_url_on_base(const char *url, const char *base);

/*
 * Parses a WWW-Authenticate challenge `Scheme k="v", k2=v2`: returns the
 * scheme and sets *@realm, *@service, *@scope (NULL when absent). Caller frees all.
 */
char *reg_challenge_parse(const char *h, char **realm, char **service, char **scope);

/*
 * Reads a certificates directory as containers-certs.d(5) says: every *.crt
 * appended to @ca, the first *.cert with its *.key as the client pair (each
 * must have the other: ENOENT). A missing @dir has nothing.
 */
int reg_certs_load(const char *dir, struct sbuf *ca, char **cert, char **key,
		   struct strata_error **err);

/* ---- auth.c ---- */

/*
 * An auth file key as compared: no scheme (and then no path), host only
 * when @legacy, Docker Hub's names as "index.docker.io". Caller frees.
 */
char *reg_auth_key_normalize(const char *key, bool legacy);

/* ---- push.c ---- */

/*
 * The end offset (exclusive) a Range header "0-N" (or "bytes=0-N") gives:
 * N + 1; @fallback when there is none. -1 when it is malformed.
 */
int64_t reg_range_end(const char *range, uint64_t fallback);

/*
 * Checks an upload Location header of registry @host: an absolute http(s)
 * URL or a path on the registry. A copy; NULL with *err (EPROTO) otherwise.
 */
char *reg_upload_location(const char *host, const char *location, struct strata_error **err);

/* ---- pull.c ---- */

/* A platform: OS/ARCH[/VARIANT]. */
struct reg_platform {
	char *os, *arch, *variant;
};

/* Parses "OS/ARCH[/VARIANT]" (NULL: linux and this machine's arch) into @p; EINVAL when malformed. */
int reg_platform_parse(const char *s, struct reg_platform *p, struct strata_error **err);

/* Frees the strings of @p. */
void reg_platform_release(struct reg_platform *p);

/* The entry of @idx for @p (a variant asked for must match); NULL when none. */
const struct store_desc *reg_platform_pick(const struct store_index *idx,
					   const struct reg_platform *p);

/* ---- toml.c ---- */

/*
 * Parses TOML text into a JSON tree (tables as objects). The subset
 * containers' files use; anything else is refused with the line. EINVAL.
 */
int reg_toml_parse(const char *buf, size_t len, json_t **out, struct strata_error **err);

/* ---- policy.c ---- */

/* A loaded and checked containers-policy.json(5). */
struct reg_policy;

/* $STRATA_SYSCONFDIR, or "/etc": where the system's containers files are. */
const char *reg_sysconfdir(void);

/* $HOME/.config/containers/@name, or NULL without $HOME. Caller frees. */
char *reg_user_config_path(const char *name);

/* Parses and checks a policy read from @path (named in errors). EINVAL. */
int reg_policy_parse(const char *buf, size_t len, const char *path, struct reg_policy **out,
		     struct strata_error **err);

/*
 * Loads @override, else the user's, else the system's policy file; *out is
 * NULL (everything accepted) when there is none.
 */
int reg_policy_load(const char *override, struct reg_policy **out, struct strata_error **err);

/* Frees @p; NULL is fine. */
void reg_policy_free(struct reg_policy *p);

/* The docker scopes of @name ("host/a/b"), longest first: host/a/b, host/a, host, *.domain. */
char **reg_docker_scopes(const char *name);

/* The scopes of a directory: itself and each parent but "/". */
char **reg_path_scopes(const char *dir);

/*
 * The requirements for @identity in @transport: the first scope of
 * @identity, @scopes, "" that the transport has, else the default.
 * *@matched names that scope (NULL: the default). Borrowed.
 */
const json_t *reg_policy_requirements(const struct reg_policy *p, const char *transport,
				      const char *identity, char *const *scopes,
				      const char **matched);

/*
 * 0 when @p (NULL: none) accepts @identity; EACCES when it rejects it,
 * ENOTSUP when it asks for signatures, which cannot be checked yet.
 */
int reg_policy_check(const struct reg_policy *p, const char *transport, const char *identity,
		     char *const *scopes, struct strata_error **err);

/* ---- regconf.c ---- */

enum reg_mirror_pull { REG_MIRROR_ALL, REG_MIRROR_DIGEST_ONLY, REG_MIRROR_TAG_ONLY };

struct reg_mirror {
	char *location;
	bool insecure;
	enum reg_mirror_pull pull_from;
};

/* One [[registry]] table. */
struct reg_registry {
	char *prefix;	/* "host[:port][/ns...]" or "*.example.com" */
	char *location; /* NULL: the name stays as it is (a wildcarded prefix) */
	bool insecure, blocked, mirror_by_digest_only;
	struct reg_mirror *mirrors;
	size_t n_mirrors;
};

enum reg_short_mode { REG_SHORT_PERMISSIVE, REG_SHORT_ENFORCING, REG_SHORT_DISABLED };

/* registries.conf and its drop-ins, merged. */
struct reg_conf {
	char **search; /* unqualified-search-registries */
	bool has_search;
	enum reg_short_mode mode;
	bool has_mode;
	json_t *aliases; /* short name -> fully qualified name */
	json_t *cache_aliases; /* the same from the alias cache ("": none); before @aliases */
	char *cache_path;      /* the alias cache file, or NULL */
	struct reg_registry *regs;
	size_t n_regs, cap_regs;
	char **files; /* the files read, in order */
};

/* Where to reach an image: a reference ("host/repo:tag") and whether plain http is allowed. */
struct reg_endpoint {
	char *ref;
	bool insecure;
	bool mirror;
};

/* An empty configuration. */
struct reg_conf *reg_conf_new(void);

/* Frees @c; NULL is fine. */
void reg_conf_free(struct reg_conf *c);

/* Parses one file (@dropin: version 2 only) named @path into *out. EINVAL. */
int reg_conf_parse(const char *buf, size_t len, const char *path, bool dropin,
		   struct reg_conf **out, struct strata_error **err);

/* Adds @r (its contents taken) to @c, replacing a table of the same prefix. */
void reg_conf_add_registry(struct reg_conf *c, struct reg_registry *r);

/* Merges the drop-in @f into @c (what @f sets wins); takes @f's registries. */
void reg_conf_merge(struct reg_conf *c, struct reg_conf *f);

/* Loads the main file and drop-ins, in containers-registries.conf.d(5)'s order. */
int reg_conf_load(struct reg_conf **out, struct strata_error **err);

/* The process's configuration, loaded on first use. Borrowed. */
int reg_conf_get(const struct reg_conf **out, struct strata_error **err);

/* The length of @prefix's match at the start of @ref ("host/repo:tag"), or -1. */
ssize_t reg_prefix_match(const char *ref, const char *prefix);

/* The [[registry]] whose prefix matches @ref longest, or NULL. */
const struct reg_registry *reg_conf_find(const struct reg_conf *c, const char *ref);

/*
 * Where to get @ref under @r (NULL: @ref itself): with @pull the mirrors
 * that apply, in order, then the location; else the location alone.
 * Returns the count; free with reg_endpoints_free.
 */
size_t reg_conf_endpoints(const struct reg_registry *r, const char *ref, bool pull,
			  struct reg_endpoint **out);

/* Frees what reg_conf_endpoints made. */
void reg_endpoints_free(struct reg_endpoint *eps, size_t n);

/* "@domain/path[:tag][@digest]" for @r, Docker Hub's "library/" added. Caller frees. */
char *reg_ref_qualify(const char *domain, const struct store_ref *r);

/*
 * The fully qualified names to try for the short name @r (as typed: @name):
 * its alias (the alias cache's first), else the search registries the
 * short-name mode allows. With @ambiguous, a choice among several search
 * registries that is not disabled sets it (the caller may prompt, and
 * refuses in enforcing mode when it cannot); without, enforcing refuses it.
 */
int reg_conf_candidates(const struct reg_conf *c, const char *name, const struct store_ref *r,
			char ***out, bool *ambiguous, struct strata_error **err);

/* Checks alias @name = @v (a string; "" erases); @where names the file in errors. EINVAL. */
int reg_alias_check(const char *name, const json_t *v, const char *where,
		    struct strata_error **err);

/* ---- aliascache.c ---- */

/*
 * The short-name alias cache file: /var/cache/containers/short-name-aliases.conf
 * for root, else under $XDG_CACHE_HOME or ~/.cache; NULL without a home. Caller frees.
 */
char *reg_alias_cache_path(void);

/* The cache's [aliases] (an empty object when @path is NULL or missing), read under its lock. */
int reg_alias_cache_load(const char *path, json_t **out, struct strata_error **err);

/* Adds alias @name = @value to the cache @path (made 0600, its dir 0700), under its lock. */
int reg_alias_cache_record(const char *path, const char *name, const char *value,
			   struct strata_error **err);

/* ---- blobinfo.c ---- */

/* What the blob-info cache keeps: digests, and places per digest. */
#define BLOBINFO_MAX_BLOBS 1024
#define BLOBINFO_MAX_PLACES 8

/*
 * Remembers that repository @repo of registry @host holds each of @digests
 * (NULL-terminated), in @s's cache. A cache: failures are only logged.
 */
void reg_blobinfo_record(struct store *s, const char *host, const char *repo,
			 char *const *digests);

/* The cache of @s as it stands (empty when absent or damaged). Caller decrefs. */
json_t *reg_blobinfo_load(struct store *s);

/* The repositories of @host but @repo where @cache saw @digest, latest first. Caller frees. */
char **reg_blobinfo_repos(const json_t *cache, const char *host, const char *repo,
			  const char *digest);

/* ---- event.c ---- */

/* Sends one progress event to o->progress, when there is one. */
void reg_event(const struct registry_opts *o, enum registry_event_kind kind, const char *digest,
	       uint64_t done, uint64_t total, const char *msg);

/* Sends a NOTE (about blob @digest, or the image when NULL) formatted from @fmt. */
void reg_notef(const struct registry_opts *o, const char *digest, const char *fmt, ...) FMT(3, 4);

/* Sends DONE for blob @digest with its size, human-readable, as the message. */
void reg_done_size(const struct registry_opts *o, const char *digest, uint64_t size);

/* ---- tags.c ---- */

/* The URL of a Link header's rel="next" link (new string), or NULL when it has none. */
char *reg_link_next(const char *link);

#endif
