/*
 * The HTTP side: one libcurl easy handle per registry connection (so
 * connections are reused), the /v2/ ping, the WWW-Authenticate challenge
 * (Bearer tokens from the realm, Basic), streaming bodies into sinks, and
 * one-line errors from the registry's {"errors": [...]} bodies.
 * Credentials and tokens never appear in errors or logs.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define ERROR_BODY_MAX (64u << 10)

char *reg_host_of(const char *domain)
{
	if (!domain || strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0)
		return xstrdup("registry-1.docker.io");
	return xstrdup(domain);
}

char *reg_repo_of(const char *domain, const char *path)
{
	bool hub = !domain || strcmp(domain, "docker.io") == 0 ||
		   strcmp(domain, "index.docker.io") == 0;

	if (hub && !strchr(path, '/'))
		return xasprintf("library/%s", path);
	return xstrdup(path);
}

void reg_resp_release(struct reg_resp *r)
{
	free(r->content_type);
	free(r->location);
	free(r->docker_digest);
	free(r->www_auth);
	free(r->range);
	free(r->retry_after);
	free(r->link);
	free(r->gave_up);
	sbuf_release(&r->body);
	memset(r, 0, sizeof(*r));
}

static void resp_reset_headers(struct reg_resp *r)
{
	free(r->content_type);
	free(r->location);
	free(r->docker_digest);
	free(r->www_auth);
	free(r->range);
	free(r->retry_after);
	free(r->link);
	r->content_type = r->location = r->docker_digest = r->www_auth = r->range = NULL;
	r->retry_after = r->link = NULL;
}

/* ---- one transfer ---- */

struct xfer {
	CURL *curl;
	const struct reg_req *rq;
	struct reg_resp *resp;
	struct strata_error *sink_err;
	bool too_big;
	bool range_ignored;
	long block_status; /* the status of the header block being read */
	uint64_t sent;
	char *url;
	struct curl_slist *hdrs;
	char *h_accept, *h_ct, *h_auth, *h_range, *h_crange;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems, klen;
	const char *colon, *v, *end = buf + n;
	char **slot = NULL;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', n);

		resp_reset_headers(x->resp);
		x->block_status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	colon = memchr(buf, ':', n);
	if (!colon)
		return n;
	klen = (size_t)(colon - buf);
	if (klen == 14 && strncasecmp(buf, "Content-Length", 14) == 0 && !x->rq->sink &&
	    x->block_status >= 200 && x->block_status < 300 && strcmp(x->rq->method, "HEAD") != 0) {
		/* A body kept in memory that says it is too big is refused before it comes. */
		unsigned long long len = strtoull(colon + 1, NULL, 10);
		size_t max = x->rq->max_body ? x->rq->max_body : STORE_JSON_MAX;

		if (len > max) {
			x->too_big = true;
			return 0;
		}
		return n;
	}
	if (klen == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
		slot = &x->resp->content_type;
	else if (klen == 8 && strncasecmp(buf, "Location", 8) == 0)
		slot = &x->resp->location;
	else if (klen == 21 && strncasecmp(buf, "Docker-Content-Digest", 21) == 0)
		slot = &x->resp->docker_digest;
	else if (klen == 16 && strncasecmp(buf, "WWW-Authenticate", 16) == 0)
		slot = &x->resp->www_auth;
	else if (klen == 5 && strncasecmp(buf, "Range", 5) == 0)
		slot = &x->resp->range;
	else if (klen == 11 && strncasecmp(buf, "Retry-After", 11) == 0)
		slot = &x->resp->retry_after;
	else if (klen == 4 && strncasecmp(buf, "Link", 4) == 0)
		slot = &x->resp->link;
	if (!slot)
		return n;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (slot == &x->resp->content_type) {
		const char *semi = memchr(v, ';', (size_t)(end - v));

		if (semi)
			end = semi;
		while (end > v && end[-1] == ' ')
			end--;
	}
	free(*slot);
	*slot = xstrndup(v, (size_t)(end - v));
	return n;
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	size_t max = x->rq->max_body ? x->rq->max_body : STORE_JSON_MAX;
	long status = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		if (x->rq->range_from && status != 206) {
			x->range_ignored = true;
			return 0;
		}
		if (x->rq->sink) {
			if (x->rq->sink(buf, n, x->rq->sink_arg, &x->sink_err) < 0)
				return 0;
			return n;
		}
		if (x->resp->body.len + n > max) {
			x->too_big = true;
			return 0;
		}
	} else if (x->resp->body.len + n > ERROR_BODY_MAX) {
		return n; /* keep only the start of an error body */
	}
	sbuf_add(&x->resp->body, buf, n);
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * nitems;
	uint64_t total = x->rq->body_fd >= 0 ? x->rq->body_size : x->rq->body_len;
	ssize_t r;

	if (x->sent >= total)
		return 0;
	if (want > total - x->sent)
		want = (size_t)(total - x->sent);
	if (x->rq->body_fd < 0) {
		memcpy(buf, (const char *)x->rq->body + x->sent, want);
		r = (ssize_t)want;
	} else {
		do
			r = pread(x->rq->body_fd, buf, want, (off_t)(x->rq->body_offset + x->sent));
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)r;
	if (x->rq->sent)
		x->rq->sent(x->sent, x->rq->sent_arg);
	return (size_t)r;
}

/* The URL without its query, for messages (upload URLs carry long state). */
static char *url_for_msg(const char *url)
{
	const char *q = strchr(url, '?');

	return q ? xstrndup(url, (size_t)(q - url)) : xstrdup(url);
}

/*
 * STRATA_RATE_LIMIT=BYTES ("512k", "2m") caps each transfer's speed both
 * ways: the tests use it to keep a transfer running long enough to watch
 * its progress or to kill the registry in the middle of it.
 */
static void set_rate_limit(CURL *h)
{
	const char *v = getenv("STRATA_RATE_LIMIT");
	uint64_t bps;

	if (!v || !*v || size_parse(v, &bps) < 0 || bps == 0)
		return;
	curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)bps);
	curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)bps);
	/*
	 * libcurl checks the speed between reads of up to 100 buffers: from a
	 * fast local server a whole blob fits in one such burst unless the
	 * buffers are small.
	 */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1024L);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
}

static void set_tls(struct reg_client *c, CURL *h)
{
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->ca_pem.len) {
		/* Added to the system's CAs (its CApath stays), as containers/image adds them to the pool. */
		struct curl_blob blob = { .data = c->ca_pem.buf, .len = c->ca_pem.len,
					  .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->client_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The certificates directory of @host: --cert-dir, else the first certs.d dir that has it. */
static char *certs_dir_for(const char *host, const char *cert_dir)
{
	cleanup_free char *user = reg_user_config_path("certs.d");
	char *dirs[] = { user ? path_join(user, host) : NULL,
			 xasprintf("%s/containers/certs.d/%s", reg_sysconfdir(), host),
			 xasprintf("%s/docker/certs.d/%s", reg_sysconfdir(), host) };
	char *found = NULL;
	struct stat st;

	if (cert_dir) {
		found = xstrdup(cert_dir);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(dirs) && !found; i++)
			if (dirs[i] && stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
				found = xstrdup(dirs[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		free(dirs[i]);
	return found;
}

int reg_certs_load(const char *dir, struct sbuf *ca, char **cert, char **key,
		   struct strata_error **err)
{
	cleanup_dir DIR *d = opendir(dir);
	cleanup_strv char **names = NULL;
	struct dirent *de;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "certificates %s", dir);
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			strv_append(&names, de->d_name);
	if (names)
		qsort(names, strv_len(names), sizeof(*names), name_cmp);
	for (size_t i = 0; names && names[i]; i++) {
		const char *n = names[i];
		size_t len = strlen(n);
		cleanup_free char *p = path_join(dir, n), *base = NULL, *other = NULL;

		if (str_has_suffix(n, ".crt")) {
			cleanup_free char *buf = NULL;
			size_t blen;

			if (file_read_regular_at(AT_FDCWD, p, 1u << 20, &buf, &blen, err) < 0)
				return strata_wrap(err, "CA certificate");
			sbuf_add(ca, buf, blen);
			sbuf_addstr(ca, "\n");
		} else if (str_has_suffix(n, ".cert")) {
			base = xstrndup(n, len - 5);
			other = xasprintf("%s/%s.key", dir, base);
			if (access(other, F_OK) < 0)
				return strata_fail_msg(err, ENOENT,
						       "certificates %s: client certificate '%s' has no key '%s.key' (a CA certificate is named *.crt)",
						       dir, n, base);
			if (!*cert) {
				*cert = steal_ptr(&p);
				*key = steal_ptr(&other);
			}
		} else if (str_has_suffix(n, ".key")) {
			base = xstrndup(n, len - 4);
			other = xasprintf("%s/%s.cert", dir, base);
			if (access(other, F_OK) < 0)
				return strata_fail_msg(err, ENOENT,
						       "certificates %s: key '%s' has no client certificate '%s.cert'",
						       dir, n, base);
		}
	}
	return 0;
}

bool reg_url_on_base(const char *url, const char *base)
{
	size_t n = strlen(base);

	return strncasecmp(url, base, n) == 0 && (url[n] == '/' || url[n] == '?' || !url[n]);
}

/*
 * Sets up the easy handle @h for @rq into @x (zeroed by the caller). @auth:
 * 0 none, 1 the client's (token or Basic), 2 Basic with the client's
 * credentials (for the token realm). An absolute URL elsewhere than the
 * registry (an upload Location naming another host) gets no credentials
 * from the registry's client; curl drops them on redirects to another host.
 */
static void xfer_setup(struct reg_client *c, CURL *h, struct xfer *x, const struct reg_req *rq,
		       int auth, struct reg_resp *resp)
{
	x->curl = h;
	x->rq = rq;
	x->resp = resp;
	x->url = rq->url[0] == '/' ? xasprintf("%s%s", c->base, rq->url) : xstrdup(rq->url);
	if (auth == 1 && rq->url[0] != '/' && !reg_url_on_base(rq->url, c->base)) {
		log_debug("registry: no credentials for '%s', not on %s", rq->url, c->base);
		auth = 0;
	}
	reg_resp_release(resp);
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "strata/" STRATA_VERSION);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	if (c->budget.stall_floor) {
		/* A stall (retry.c): slower than the floor for the whole window, either way. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)c->budget.stall_floor);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->budget.stall_time);
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	set_tls(c, h);
	set_rate_limit(h);

	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (rq->accept) {
		x->h_accept = xasprintf("Accept: %s", rq->accept);
		x->hdrs = curl_slist_append(x->hdrs, x->h_accept);
	}
	if (rq->content_type) {
		x->h_ct = xasprintf("Content-Type: %s", rq->content_type);
		x->hdrs = curl_slist_append(x->hdrs, x->h_ct);
	}
	if (rq->content_range) {
		x->h_crange = xasprintf("Content-Range: %s", rq->content_range);
		x->hdrs = curl_slist_append(x->hdrs, x->h_crange);
	}
	if (rq->range_from) {
		x->h_range = xasprintf("Range: bytes=%llu-", (unsigned long long)rq->range_from);
		x->hdrs = curl_slist_append(x->hdrs, x->h_range);
	}
	if (auth == 1 && c->token) {
		x->h_auth = xasprintf("Authorization: Bearer %s", c->token);
		x->hdrs = curl_slist_append(x->hdrs, x->h_auth);
	} else if ((auth == 1 && c->basic && c->user) || (auth == 2 && c->user)) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass ? c->pass : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);

	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "PATCH") == 0) {
		if (strcmp(rq->method, "PATCH") == 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(rq->body_fd >= 0 ? rq->body_size : rq->body_len));
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
}

/*
 * The error code for a transfer that failed with @rc: ECONNABORTED for a
 * connection that broke (worth another attempt), ECONNREFUSED for one that
 * never opened, ETIMEDOUT for a stall (libcurl's low-speed limit, or the
 * connect timeout), ELOOP for a redirect loop, EPROTO for the rest (TLS,
 * a malformed answer): trying again would only repeat them.
 */
static int transport_code(CURLcode rc)
{
	/* if, not switch: -Wswitch-enum would want each of libcurl's ~100 codes. */
	if (rc == CURLE_COULDNT_CONNECT)
		return ECONNREFUSED;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return ETIMEDOUT;
	if (rc == CURLE_TOO_MANY_REDIRECTS)
		return ELOOP;
	if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
	    rc == CURLE_GOT_NOTHING || rc == CURLE_UPLOAD_FAILED || rc == CURLE_HTTP2 ||
	    rc == CURLE_HTTP2_STREAM)
		return ECONNABORTED;
	return EPROTO;
}

/* Ends a transfer that finished with @rc: the status into the response, errors into @err; frees what setup made. */
static int xfer_finish(struct xfer *x, CURLcode rc, struct strata_error **err)
{
	const struct reg_req *rq = x->rq;
	int ret = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->resp->status);
	if (x->sink_err) {
		if (err && !*err)
			*err = x->sink_err;
		else
			strata_error_free(x->sink_err);
		x->sink_err = NULL;
		ret = -1;
	} else if (x->range_ignored) {
		cleanup_free char *u = url_for_msg(x->url);

		ret = strata_fail_msg(err, ERANGE, "%s %s: the server ignored the Range request",
				      rq->method, u);
	} else if (x->too_big) {
		cleanup_free char *u = url_for_msg(x->url);

		ret = strata_fail_msg(err, EFBIG, "%s %s: response larger than %zu bytes", rq->method,
				      u, rq->max_body ? rq->max_body : STORE_JSON_MAX);
	} else if (rc != CURLE_OK) {
		cleanup_free char *u = url_for_msg(x->url);
		const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

		/* A TLS alert (a certificate refused) is an answer, not a dropped connection. */
		int code = rc == CURLE_RECV_ERROR && strstr(why, "SSL") && strstr(why, "alert")
				   ? EPROTO
				   : transport_code(rc);

		ret = strata_fail_msg(err, code, "%s %s: %s%s", rq->method, u,
				      rc == CURLE_PARTIAL_FILE ? "truncated: " : "", why);
	}
	curl_slist_free_all(x->hdrs);
	free(x->url);
	free(x->h_accept);
	free(x->h_ct);
	free(x->h_auth);
	free(x->h_range);
	free(x->h_crange);
	x->hdrs = NULL;
	x->url = x->h_accept = x->h_ct = x->h_auth = x->h_range = x->h_crange = NULL;
	return ret;
}

/* One HTTP exchange on the client's own handle (so its connection is reused). */
static int perform(struct reg_client *c, const struct reg_req *rq, int auth, struct reg_resp *resp,
		   struct strata_error **err)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	CURLcode rc;
	int ret;

	curl_easy_reset(c->curl);
	xfer_setup(c, c->curl, x, rq, auth, resp);
	rc = curl_easy_perform(c->curl);
	ret = xfer_finish(x, rc, err);
	free(x);
	return ret;
}

int reg_do_parallel(struct reg_client *c, size_t n, int parallel, reg_begin_fn begin,
		    reg_end_fn end, void *arg, struct strata_error **err)
{
	struct reg_req *rqs = xcalloc(n ? n : 1, sizeof(*rqs));
	struct reg_resp *resps = xcalloc(n ? n : 1, sizeof(*resps));
	struct xfer **xs = xcalloc(n ? n : 1, sizeof(*xs));
	CURLM *m = curl_multi_init();
	size_t next = 0, active = 0;
	int ret = 0;

	if (!m) {
		free(rqs);
		free(resps);
		free(xs);
		return strata_fail_msg(err, ENOMEM, "curl_multi_init failed");
	}
	if (parallel < 1)
		parallel = 1;
	while (ret == 0 && (next < n || active)) {
		CURLMsg *msg;
		int running, left;

		while (active < (size_t)parallel && next < n) {
			size_t i = next++;
			CURL *h;

			rqs[i].body_fd = -1;
			if (begin(i, &rqs[i], arg, err) < 0) {
				ret = -1;
				break;
			}
			if (!rqs[i].url)
				continue; /* nothing to fetch */
			h = curl_easy_init();
			if (!h) {
				end(i, NULL, NULL, arg, NULL);
				ret = strata_fail_msg(err, ENOMEM, "curl_easy_init failed");
				break;
			}
			xs[i] = xcalloc(1, sizeof(*xs[i]));
			xfer_setup(c, h, xs[i], &rqs[i], 1, &resps[i]);
			curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)xs[i]);
			curl_multi_add_handle(m, h);
			active++;
		}
		if (ret < 0 || !active)
			continue;
		curl_multi_perform(m, &running);
		while (ret == 0 && (msg = curl_multi_info_read(m, &left))) {
			struct strata_error *xerr = NULL;
			size_t i;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < next && (!xs[i] || xs[i]->curl != msg->easy_handle); i++)
				;
			if (i == next)
				continue;
			curl_multi_remove_handle(m, xs[i]->curl);
			xfer_finish(xs[i], msg->data.result, &xerr);
			curl_easy_cleanup(xs[i]->curl);
			free(xs[i]);
			xs[i] = NULL;
			active--;
			if (end(i, &resps[i], xerr, arg, err) < 0)
				ret = -1;
			reg_resp_release(&resps[i]);
		}
		if (ret == 0 && active)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	/* After a failure: cancel what still runs. */
	for (size_t i = 0; i < next; i++) {
		struct strata_error *ignored = NULL;

		if (!xs[i])
			continue;
		curl_multi_remove_handle(m, xs[i]->curl);
		xfer_finish(xs[i], CURLE_ABORTED_BY_CALLBACK, &ignored);
		strata_error_free(ignored);
		curl_easy_cleanup(xs[i]->curl);
		free(xs[i]);
		end(i, NULL, NULL, arg, NULL);
		reg_resp_release(&resps[i]);
	}
	curl_multi_cleanup(m);
	free(rqs);
	free(resps);
	free(xs);
	return ret;
}

/* ---- errors ---- */

static void add_clean(struct sbuf *b, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++)
		sbuf_add(b, isprint((unsigned char)s[i]) ? &s[i] : " ", 1);
}

int reg_status_fail(const struct reg_resp *r, const char *what, struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;
	cleanup_free char *msg = NULL;
	json_t *doc = NULL, *errors;
	int code = r->status == 401 || r->status == 403 ? EACCES
		   : r->status == 404			 ? ENOENT
		   : reg_status_is_transient(r->status)	 ? EAGAIN
							 : EIO;

	sbuf_addf(&b, "%s: HTTP %ld", what, r->status);
	if (r->body.len)
		doc = json_loadb(r->body.buf, r->body.len, 0, NULL);
	errors = doc ? json_object_get(doc, "errors") : NULL;
	if (json_is_array(errors) && json_array_size(errors) > 0) {
		json_t *e = json_array_get(errors, 0);
		const char *m = jv_str(e, "message"), *c = jv_str(e, "code");

		sbuf_addstr(&b, ": ");
		add_clean(&b, m ? m : c ? c : "error", 300);
		if (m && c) {
			sbuf_addstr(&b, " (");
			add_clean(&b, c, 64);
			sbuf_addstr(&b, ")");
		}
	} else if (r->body.len && !doc) {
		const char *s = r->body.buf;
		size_t n = strcspn(s, "\r\n");

		while (n && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		if (n && n < 300) {
			cleanup_free char *line = xstrndup(s, n);

			sbuf_addstr(&b, ": ");
			add_clean(&b, line, 300);
		}
	}
	if (r->status == 401)
		sbuf_addstr(&b, " (wrong or missing credentials?)");
	if (r->gave_up)
		sbuf_addf(&b, " (%s)", r->gave_up);
	if (doc)
		json_decref(doc);
	msg = sbuf_detach(&b, NULL);
	return strata_fail_msg(err, code, "%s", msg);
}

/* ---- the challenge ---- */

char *reg_challenge_parse(const char *h, char **realm, char **service, char **scope)
{
	const char *p = h;
	char *scheme;
	size_t n;

	*realm = *service = *scope = NULL;
	while (*p == ' ')
		p++;
	n = strcspn(p, " ");
	scheme = xstrndup(p, n);
	p += n;
	while (*p) {
		const char *k;
		size_t klen;
		struct sbuf v = SBUF_INIT;
		char **slot = NULL;

		while (*p == ' ' || *p == ',')
			p++;
		k = p;
		while (*p && *p != '=' && *p != ',')
			p++;
		klen = (size_t)(p - k);
		if (*p != '=')
			continue;
		p++;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				sbuf_add(&v, p, 1);
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			n = strcspn(p, ", ");
			sbuf_add(&v, p, n);
			p += n;
		}
		if (klen == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = realm;
		else if (klen == 7 && strncasecmp(k, "service", 7) == 0)
			slot = service;
		else if (klen == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = scope;
		if (slot) {
			free(*slot);
			*slot = sbuf_detach(&v, NULL);
		} else {
			sbuf_release(&v);
		}
	}
	return scheme;
}

bool reg_token_is_valid(const char *tok)
{
	for (const unsigned char *p = (const unsigned char *)tok; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	return true;
}

static int fetch_token(struct reg_client *c, const char *scope, struct strata_error **err)
{
	struct reg_resp resp = { 0 };
	struct sbuf url = SBUF_INIT;
	struct reg_req rq = { .method = "GET", .body_fd = -1, .max_body = 1u << 20 };
	cleanup_free char *u = NULL;
	json_t *doc;
	const char *tok;
	char sep = strchr(c->realm, '?') ? '&' : '?';
	int ret = -1;

	if (!str_has_prefix(c->realm, "https://") && !str_has_prefix(c->realm, "http://"))
		return strata_fail_msg(err, EPROTO, "registry %s: token realm '%.256s' is not an http(s) URL",
				       c->host, c->realm);
	sbuf_addstr(&url, c->realm);
	if (c->service) {
		char *e = curl_easy_escape(c->curl, c->service, 0);

		sbuf_addf(&url, "%cservice=%s", sep, e);
		curl_free(e);
		sep = '&';
	}
	if (scope) {
		char *e = curl_easy_escape(c->curl, scope, 0);

		sbuf_addf(&url, "%cscope=%s", sep, e);
		curl_free(e);
	}
	u = sbuf_detach(&url, NULL);
	rq.url = u;
	if (perform(c, &rq, 2, &resp, err) < 0)
		return strata_wrap(err, "registry %s: token", c->host);
	if (resp.status != 200) {
		cleanup_free char *what = xasprintf("registry %s: token from %.256s", c->host, c->realm);

		reg_status_fail(&resp, what, err);
		reg_resp_release(&resp);
		return -1;
	}
	doc = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
	tok = doc ? jv_str(doc, "token") : NULL;
	if (!tok || !*tok)
		tok = doc ? jv_str(doc, "access_token") : NULL;
	if (!tok || !*tok) {
		strata_fail_msg(err, EPROTO, "registry %s: the token server %.256s gave no token",
				c->host, c->realm);
	} else if (!reg_token_is_valid(tok)) {
		/* it goes into a header: a CR or LF there would add headers of the server's choice */
		strata_fail_msg(err, EPROTO,
				"registry %s: the token server %.256s gave a token that cannot be sent "
				"(a control character, a space or a byte outside ASCII)",
				c->host, c->realm);
	} else {
		free(c->token);
		c->token = xstrdup(tok);
		ret = 0;
	}
	if (doc)
		json_decref(doc);
	reg_resp_release(&resp);
	return ret;
}

/* Takes the challenge of a 401 response: 1 when a retry may succeed, 0 when not, -1 on error. */
static int answer_challenge(struct reg_client *c, const struct reg_resp *resp,
			    struct strata_error **err)
{
	cleanup_free char *scheme = NULL, *scope = NULL;
	char *realm, *service;
	int ret = 0;

	if (!resp->www_auth)
		return 0;
	scheme = reg_challenge_parse(resp->www_auth, &realm, &service, &scope);
	if (strcasecmp(scheme, "Bearer") == 0 && realm) {
		free(c->realm);
		free(c->service);
		c->realm = realm;
		c->service = service;
		realm = service = NULL;
		if (fetch_token(c, scope ? scope : c->scope, err) < 0)
			ret = -1;
		else
			ret = 1;
	} else if (strcasecmp(scheme, "Basic") == 0) {
		ret = c->user && !c->basic ? 1 : 0;
		c->basic = true;
	}
	free(realm);
	free(service);
	return ret;
}

int reg_do(struct reg_client *c, const struct reg_req *rq, struct reg_resp *resp,
	   struct strata_error **err)
{
	/*
	 * A file body belongs to an upload session that a broken attempt may
	 * have spoilt: its caller knows how to resume or start over. A sink
	 * has taken the bytes that came: its caller resumes after them.
	 */
	bool replayable = rq->body_fd < 0;
	bool challenged = false;

	for (;;) {
		struct strata_error *e = NULL;
		int r;

		if (perform(c, rq, 1, resp, &e) < 0) {
			if (replayable && !rq->sink && reg_retry_error(c, NULL, &e))
				continue;
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			return -1;
		}
		if (resp->status == 401 && !challenged) {
			challenged = true;
			r = answer_challenge(c, resp, err);
			if (r < 0)
				return -1;
			if (r == 0)
				return 0;
			continue;
		}
		if (replayable && reg_status_is_transient(resp->status) &&
		    reg_retry_status(c, resp, NULL))
			continue;
		return 0;
	}
}

/* ---- connecting ---- */

static int split_creds(const char *creds, char **user, char **pass, struct strata_error **err)
{
	const char *colon = strchr(creds, ':');

	if (!colon || colon == creds)
		return strata_fail_msg(err, EINVAL, "--creds: want USER:PASSWORD");
	*user = xstrndup(creds, (size_t)(colon - creds));
	*pass = xstrdup(colon + 1);
	return 0;
}

/*
 * GET /v2/ on c->base: a broken connection or a transient status is
 * retried within the budget when @retry, but not a refused connection
 * (nothing listens there: say so at once).
 */
static int ping(struct reg_client *c, const struct reg_req *rq, struct reg_resp *resp, bool retry,
		struct strata_error **err)
{
	for (;;) {
		struct strata_error *e = NULL;

		if (perform(c, rq, 0, resp, &e) < 0) {
			if (retry && strata_error_code(e) != ECONNREFUSED &&
			    reg_retry_error(c, NULL, &e))
				continue;
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			return -1;
		}
		if (retry && reg_status_is_transient(resp->status) && reg_retry_status(c, resp, NULL))
			continue;
		return 0;
	}
}

int reg_client_new(const char *host, const char *repo, const char *actions, const char *user,
		   const char *pass, const struct registry_opts *o, struct reg_client **out,
		   struct strata_error **err)
{
	struct reg_client *c = xcalloc(1, sizeof(*c));
	struct reg_req rq = { .method = "GET", .url = "/v2/", .body_fd = -1, .max_body = 1u << 20 };
	struct reg_resp resp = { 0 };
	cleanup_free char *auth_key = NULL;
	int r;

	if (registry_http_load(err) < 0) {
		free(c);
		return -1;
	}
	c->host = reg_host_of(host);
	c->insecure = o && o->insecure;
	c->o = o;
	reg_budget_init(&c->budget);
	if (repo)
		c->scope = xasprintf("repository:%s:%s", repo, actions);
	c->certs_dir = certs_dir_for(c->host, o ? o->cert_dir : NULL);
	if (c->certs_dir &&
	    reg_certs_load(c->certs_dir, &c->ca_pem, &c->client_cert, &c->client_key, err) < 0) {
		reg_client_free(c);
		return -1;
	}
	/* Credentials for the repository's namespace first (containers-auth.json(5)). */
	auth_key = repo ? xasprintf("%s/%s", host ? host : "docker.io", repo)
			: xstrdup(host ? host : "docker.io");
	c->curl = curl_easy_init();
	if (!c->curl) {
		reg_client_free(c);
		return strata_fail_msg(err, ENOMEM, "curl_easy_init failed");
	}
	if (user) {
		c->user = xstrdup(user);
		c->pass = xstrdup(pass ? pass : "");
	} else if (o && o->creds) {
		if (split_creds(o->creds, &c->user, &c->pass, err) < 0)
			goto fail;
	} else if (registry_auth_lookup(auth_key, o ? o->authfile : NULL, &c->user, &c->pass, err) <
		   0) {
		goto fail;
	}

	c->base = xasprintf("https://%s", c->host);
	r = ping(c, &rq, &resp, !c->insecure, err);
	if (r < 0 && c->insecure) {
		strata_error_free(*err);
		*err = NULL;
		free(c->base);
		c->base = xasprintf("http://%s", c->host);
		r = ping(c, &rq, &resp, true, err);
	}
	if (r < 0) {
		strata_wrap(err, "registry %s", c->host);
		if (!c->insecure && err && *err &&
		    strstr(strata_error_msg(*err), "wrong version number")) {
			cleanup_free char *m = xstrdup(strata_error_msg(*err));
			int code = strata_error_code(*err);

			strata_error_free(*err);
			*err = NULL;
			strata_fail_msg(err, code, "%s (plain http? --tls-verify=false allows it)", m);
		}
		goto fail;
	}
	if (resp.status == 401) {
		r = answer_challenge(c, &resp, err);
		if (r < 0)
			goto fail;
		if (c->basic && c->user) {
			/* Check the credentials now: a clear error before any transfer. */
			if (perform(c, &rq, 1, &resp, err) < 0)
				goto fail;
			if (resp.status != 200) {
				cleanup_free char *what = xasprintf("registry %s", c->host);

				reg_status_fail(&resp, what, err);
				goto fail;
			}
		}
	} else if (resp.status != 200) {
		cleanup_free char *what = xasprintf("registry %s: GET /v2/ (not a registry?)", c->host);

		reg_status_fail(&resp, what, err);
		goto fail;
	}
	reg_resp_release(&resp);
	*out = c;
	return 0;
fail:
	reg_resp_release(&resp);
	reg_client_free(c);
	return -1;
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->host);
	free(c->base);
	free(c->scope);
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->user);
	free(c->pass);
	free(c->token);
	free(c->realm);
	free(c->service);
	free(c->certs_dir);
	sbuf_release(&c->ca_pem);
	free(c->client_cert);
	free(c->client_key);
	free(c);
}
