/*
 * Internals of the registry module, shared between its .c files only.
 */
#ifndef STRATA_REGISTRY_REGISTRY_INT_H
#define STRATA_REGISTRY_REGISTRY_INT_H

#include <curl/curl.h>
#include <stdbool.h>

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
	char *certs_dir;   /* /etc/containers/certs.d/HOST when it exists */
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

/* Base64 of @n bytes. Caller frees. */
char *reg_base64(const void *buf, size_t n);

/* Decodes base64 @s into a NUL-terminated string; NULL when malformed. Caller frees. */
char *reg_unbase64(const char *s);

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

/* ---- event.c ---- */

/* Sends one progress event to o->progress, when there is one. */
void reg_event(const struct registry_opts *o, enum registry_event_kind kind, const char *digest,
	       uint64_t done, uint64_t total, const char *msg);

/* Sends a NOTE (about blob @digest, or the image when NULL) formatted from @fmt. */
void reg_notef(const struct registry_opts *o, const char *digest, const char *fmt, ...) FMT(3, 4);

/* Sends DONE for blob @digest with its size, human-readable, as the message. */
void reg_done_size(const struct registry_opts *o, const char *digest, uint64_t size);

#endif
