/*
 * registry: the pure parts of the distribution client: WWW-Authenticate
 * challenges, which URLs get the registry's credentials, upload Locations
 * and Range headers, platforms, and references to hosts and repositories.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"
#include "tests/unit/unit.h"

/* ---- challenges ---- */

struct challenge {
	char *scheme, *realm, *service, *scope;
};

static void parse_challenge(const char *h, struct challenge *c)
{
	c->scheme = reg_challenge_parse(h, &c->realm, &c->service, &c->scope);
}

static void challenge_release(struct challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
}

START_TEST(test_challenge_bearer)
{
	struct challenge c;

	parse_challenge("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
			"scope=\"repository:library/busybox:pull\"",
			&c);
	ck_assert_str_eq(c.scheme, "Bearer");
	ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(c.service, "registry.docker.io");
	ck_assert_str_eq(c.scope, "repository:library/busybox:pull");
	challenge_release(&c);

	/* Spaces after commas, unquoted values, keys in any case, unknown keys skipped. */
	parse_challenge("  Bearer REALM=http://127.0.0.1:5001/auth, error=\"invalid_token\", "
			"Service=reg",
			&c);
	ck_assert_str_eq(c.scheme, "Bearer");
	ck_assert_str_eq(c.realm, "http://127.0.0.1:5001/auth");
	ck_assert_str_eq(c.service, "reg");
	ck_assert_ptr_null(c.scope);
	challenge_release(&c);
}
END_TEST

START_TEST(test_challenge_quoting)
{
	struct challenge c;

	/* A comma inside quotes is part of the value; a backslash escapes a quote. */
	parse_challenge("Bearer realm=\"https://a/t\",scope=\"repository:a:pull,push\","
			"service=\"say \\\"hi\\\"\"",
			&c);
	ck_assert_str_eq(c.scope, "repository:a:pull,push");
	ck_assert_str_eq(c.service, "say \"hi\"");
	challenge_release(&c);

	/* An unterminated quote ends at the end of the header. */
	parse_challenge("Bearer realm=\"https://a/t", &c);
	ck_assert_str_eq(c.realm, "https://a/t");
	challenge_release(&c);
}
END_TEST

START_TEST(test_challenge_basic_and_junk)
{
	struct challenge c;

	parse_challenge("Basic realm=\"Registry Realm\"", &c);
	ck_assert_str_eq(c.scheme, "Basic");
	ck_assert_str_eq(c.realm, "Registry Realm");
	challenge_release(&c);

	/* Nothing that parses: a scheme, no parameters, no crash. */
	const char *const junk[] = { "", "Bearer", "Bearer ,,,", "Bearer =x", "Bearer realm",
				     "Bearer realm=", "Bearer a=b=c", "Bearer \"realm\"=\"x\"" };

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
		parse_challenge(junk[i], &c);
		ck_assert_ptr_nonnull(c.scheme);
		challenge_release(&c);
	}
	parse_challenge("Bearer realm=", &c);
	ck_assert_str_eq(c.realm, "");
	challenge_release(&c);
}
END_TEST

/* ---- where credentials go ---- */

START_TEST(test_url_on_base)
{
	const char *base = "https://reg.example:5000";

	ck_assert(reg_url_on_base("https://reg.example:5000/v2/a/blobs/uploads/x", base));
	ck_assert(reg_url_on_base("https://reg.example:5000?x=1", base));
	ck_assert(reg_url_on_base("https://reg.example:5000", base));
	ck_assert(reg_url_on_base("HTTPS://REG.EXAMPLE:5000/v2/", base));
	/* Another host, another port, a longer host name, another scheme: no credentials. */
	ck_assert(!reg_url_on_base("https://blobs.example/v2/a", base));
	ck_assert(!reg_url_on_base("https://reg.example:5001/v2/a", base));
	ck_assert(!reg_url_on_base("https://reg.example:50001/v2/a", base));
	ck_assert(!reg_url_on_base("https://reg.example:5000.evil.example/v2/", base));
	ck_assert(!reg_url_on_base("https://reg.example:5000@evil.example/v2/", base));
	ck_assert(!reg_url_on_base("http://reg.example:5000/v2/", base));
	ck_assert(!reg_url_on_base("https://reg.example", base));
}
END_TEST

START_TEST(test_upload_location)
{
	struct strata_error *err = NULL;
	char *loc;

	loc = reg_upload_location("reg:5000", "/v2/a/blobs/uploads/u1?_state=x", &err);
	ck_assert_str_eq(loc, "/v2/a/blobs/uploads/u1?_state=x");
	free(loc);
	loc = reg_upload_location("reg:5000", "https://store.example/upload/u1", &err);
	ck_assert_str_eq(loc, "https://store.example/upload/u1");
	free(loc);

	const char *const bad[] = { NULL, "", "v2/a/blobs/uploads/u1", "ftp://reg/x",
				    "file:///etc/passwd", "javascript:x" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_ptr_null(reg_upload_location("reg:5000", bad[i], &err));
		ck_assert_int_eq(strata_error_code(err), EPROTO);
		ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "registry reg:5000: upload"));
		strata_error_free(err);
		err = NULL;
	}
}
END_TEST

START_TEST(test_range_end)
{
	ck_assert_int_eq(reg_range_end("0-1023", 7), 1024);
	ck_assert_int_eq(reg_range_end("bytes=0-0", 7), 1);
	ck_assert_int_eq(reg_range_end(NULL, 7), 7);
	ck_assert_int_eq(reg_range_end("0-9223372036854775806", 0), INT64_MAX);
	/* Only ranges from 0; anything else is malformed. */
	ck_assert_int_eq(reg_range_end("5-10", 0), -1);
	ck_assert_int_eq(reg_range_end("0-", 0), -1);
	ck_assert_int_eq(reg_range_end("0-x", 0), -1);
	ck_assert_int_eq(reg_range_end("0-10x", 0), -1);
	ck_assert_int_eq(reg_range_end("10", 0), -1);
	ck_assert_int_eq(reg_range_end("", 0), -1);
	ck_assert_int_eq(reg_range_end("0-9223372036854775807", 0), -1);
	ck_assert_int_eq(reg_range_end("0-99999999999999999999999", 0), -1);
}
END_TEST

/* A tag list's next page (RFC 8288 Link): only rel="next", in any of the links. */
START_TEST(test_link_next)
{
	static const struct {
		const char *link, *want;
	} cases[] = {
		{ "</v2/a/tags/list?last=x&n=2>; rel=\"next\"", "/v2/a/tags/list?last=x&n=2" },
		{ "</v2/a/tags/list?last=x>; rel=next", "/v2/a/tags/list?last=x" },
		{ "</docs>; rel=\"help\", <https://r/v2/a/tags/list?last=y>; REL=\"next\"",
		  "https://r/v2/a/tags/list?last=y" },
		{ "</v2/a/tags/list?last=x>; title=\"z\"; rel=\"next\"", "/v2/a/tags/list?last=x" },
		{ "</v2/a/tags/list?last=x>; rel=\"prev\"", NULL },
		{ "</v2/a/tags/list?last=x>; rel=\"nextpage\"", NULL },
		{ "<unclosed; rel=\"next\"", NULL },
		{ "rel=\"next\"", NULL },
		{ "", NULL },
		{ "<>; rel=next", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *got = reg_link_next(cases[i].link);

		if (!cases[i].want)
			ck_assert_msg(!got, "'%s' gave '%s'", cases[i].link, got);
		else
			ck_assert_msg(got && !strcmp(got, cases[i].want), "'%s' gave '%s'",
				      cases[i].link, got ? got : "(null)");
	}
}
END_TEST

/* A Bearer token goes into a header as it is: visible ASCII only. */
START_TEST(test_token_is_valid)
{
	ck_assert(reg_token_is_valid("eyJhbGciOiJSUzI1NiJ9.e30.sig-_~+/=="));
	ck_assert(!reg_token_is_valid("abc\r\nX-Injected: yes"));
	ck_assert(!reg_token_is_valid("a b"));
	ck_assert(!reg_token_is_valid("a\tb"));
	ck_assert(!reg_token_is_valid("t\xc3\xa9"));
	ck_assert(!reg_token_is_valid("a\x7f"));
}
END_TEST

/* ---- platforms ---- */

START_TEST(test_platform_parse)
{
	struct strata_error *err = NULL;
	struct reg_platform p;

	ck_assert_ok(reg_platform_parse("linux/arm64/v8", &p, &err), err);
	ck_assert_str_eq(p.os, "linux");
	ck_assert_str_eq(p.arch, "arm64");
	ck_assert_str_eq(p.variant, "v8");
	reg_platform_release(&p);
	ck_assert_ok(reg_platform_parse("linux/amd64", &p, &err), err);
	ck_assert_ptr_null(p.variant);
	reg_platform_release(&p);
	ck_assert_ok(reg_platform_parse(NULL, &p, &err), err);
	ck_assert_str_eq(p.os, "linux");
	ck_assert_str_eq(p.arch, store_arch());
	reg_platform_release(&p);

	const char *const bad[] = { "", "linux", "/amd64", "linux/", "linux/arm/", "linux//v7" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(reg_platform_parse(bad[i], &p, &err) < 0, "'%s' parsed", bad[i]);
		ck_assert_int_eq(strata_error_code(err), EINVAL);
		ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "want OS/ARCH[/VARIANT]"));
		strata_error_free(err);
		err = NULL;
		reg_platform_release(&p);
	}
}
END_TEST

START_TEST(test_platform_pick)
{
	struct store_desc m[] = {
		{ .media_type = (char *)MEDIA_OCI_MANIFEST, .os = (char *)"linux",
		  .arch = (char *)"arm", .variant = (char *)"v6" },
		{ .media_type = (char *)MEDIA_OCI_MANIFEST, .os = (char *)"linux",
		  .arch = (char *)"arm", .variant = (char *)"v7" },
		{ .media_type = (char *)"application/vnd.in-toto+json", .os = (char *)"linux",
		  .arch = (char *)"amd64" },
		{ .media_type = (char *)MEDIA_DOCKER_MANIFEST, .os = (char *)"linux",
		  .arch = (char *)"amd64" },
		{ .media_type = (char *)MEDIA_OCI_MANIFEST, .os = NULL, .arch = (char *)"s390x" },
	};
	struct store_index idx = { .manifests = m, .n_manifests = ARRAY_SIZE(m) };
	struct reg_platform p = { 0 };

	p.os = (char *)"linux";
	p.arch = (char *)"arm";
	p.variant = (char *)"v7";
	ck_assert_ptr_eq(reg_platform_pick(&idx, &p), &m[1]);
	/* No variant asked: the first of the arch. */
	p.variant = NULL;
	ck_assert_ptr_eq(reg_platform_pick(&idx, &p), &m[0]);
	p.variant = (char *)"v8";
	ck_assert_ptr_null(reg_platform_pick(&idx, &p));
	/* An attestation is not an image of the platform. */
	p.arch = (char *)"amd64";
	p.variant = NULL;
	ck_assert_ptr_eq(reg_platform_pick(&idx, &p), &m[3]);
	/* An entry without an os matches nothing. */
	p.arch = (char *)"s390x";
	ck_assert_ptr_null(reg_platform_pick(&idx, &p));
}
END_TEST

/* ---- references ---- */

/* The host and repository a reference is pulled from. */
static void check_ref(const char *s, const char *host, const char *repo, const char *tag,
		      const char *digest)
{
	struct strata_error *err = NULL;
	struct store_ref r;
	cleanup_free char *h = NULL, *p = NULL;

	ck_assert_msg(store_ref_parse(s, &r, &err) == 0, "'%s': %s", s, strata_error_msg(err));
	h = reg_host_of(r.domain);
	p = reg_repo_of(r.domain, r.path);
	ck_assert_msg(!strcmp(h, host), "'%s': host %s, want %s", s, h, host);
	ck_assert_msg(!strcmp(p, repo), "'%s': repo %s, want %s", s, p, repo);
	if (tag)
		ck_assert_str_eq(r.tag, tag);
	else
		ck_assert_ptr_null(r.tag);
	if (digest)
		ck_assert_str_eq(r.digest, digest);
	else
		ck_assert_ptr_null(r.digest);
	store_ref_release(&r);
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_reference_hosts)
{
	check_ref("busybox", "registry-1.docker.io", "library/busybox", "latest", NULL);
	check_ref("docker.io/busybox:1.36", "registry-1.docker.io", "library/busybox", "1.36", NULL);
	check_ref("index.docker.io/user/app", "registry-1.docker.io", "user/app", "latest", NULL);
	check_ref("user/app:v1", "registry-1.docker.io", "user/app", "v1", NULL);
	check_ref("localhost/app", "localhost", "app", "latest", NULL);
	check_ref("localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", NULL);
	check_ref("127.0.0.1:5000/p/bb@" D64, "127.0.0.1:5000", "p/bb", NULL, D64);
	check_ref("reg.example/app:v1@" D64, "reg.example", "app", "v1", D64);
	/* An upper-case first component is a registry host, as docker splits names. */
	check_ref("Reg/app", "Reg", "app", "latest", NULL);
}
END_TEST

START_TEST(test_reference_errors)
{
	const char *const bad[] = {
		"",	    "app/UPPER",	 "app:",	  "app@sha256:12",
		":tag",	    "a//b",		 "a/b/",	  "app:t@",
		"-app",	    "app:" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
		"reg:port/app", "app@md5:0123",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct strata_error *err = NULL;
		struct store_ref r;

		ck_assert_msg(store_ref_parse(bad[i], &r, &err) < 0, "'%s' parsed", bad[i]);
		ck_assert_ptr_nonnull(strata_error_msg(err));
		ck_assert_ptr_null(strchr(strata_error_msg(err), '\n'));
		strata_error_free(err);
	}
}
END_TEST

/* ---- TOML ---- */

/* Parses @text, expecting success; the tree as compact JSON (caller frees). */
static char *toml_json(const char *text)
{
	struct strata_error *err = NULL;
	json_t *doc = NULL;
	char *out;

	ck_assert_ok(reg_toml_parse(text, strlen(text), &doc, &err), err);
	out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return out;
}

/* Parses @text, expecting an error that contains @want. */
static void toml_bad(const char *text, size_t len, const char *want)
{
	struct strata_error *err = NULL;
	json_t *doc = NULL;

	ck_assert_msg(reg_toml_parse(text, len, &doc, &err) < 0, "accepted: %s", text);
	ck_assert_ptr_null(doc);
	ck_assert_msg(strstr(strata_error_msg(err), want), "'%s' not in '%s'", want,
		      strata_error_msg(err));
	ck_assert_ptr_null(strchr(strata_error_msg(err), '\n'));
	strata_error_free(err);
}

START_TEST(test_toml_registries_conf)
{
	cleanup_free char *j = toml_json(
		"# comment\n"
		"unqualified-search-registries = [\"a.io\", 'b.io:5000',] # trailing\n"
		"short-name-mode=\"enforcing\"\r\n"
		"\n"
		"[aliases]\n"
		"\"box\" = \"a.io/lib/box\"\n"
		"[[registry]]\n"
		"prefix = \"a.io/x\"\n"
		"insecure = true\n"
		"[[registry.mirror]]\n"
		"location = \"m.io\"\n"
		"[[registry.mirror]]\n"
		"location = \"n.io\"\n"
		"[[registry]]\n"
		"location = \"c.io\"\n"
		"mirror = [ { location = \"d.io\", insecure = false },\n"
		"  # between\n"
		"  { location = \"e.io\" } ]\n"
		"[registries.search]\n"
		"registries = [\n  \"x\",\n  \"y\"\n]\n"
		"n = -1_000\n"
		"s = \"tab\\tq\\\"\\u00e9\"\n"
		"a.b.c = 1\n");

	ck_assert_str_eq(j, "{\"aliases\":{\"box\":\"a.io/lib/box\"},"
			    "\"registries\":{\"search\":{\"a\":{\"b\":{\"c\":1}},\"n\":-1000,"
			    "\"registries\":[\"x\",\"y\"],\"s\":\"tab\\tq\\\"\u00e9\"}},"
			    "\"registry\":[{\"insecure\":true,\"mirror\":[{\"location\":\"m.io\"},"
			    "{\"location\":\"n.io\"}],\"prefix\":\"a.io/x\"},{\"location\":\"c.io\","
			    "\"mirror\":[{\"insecure\":false,\"location\":\"d.io\"},{\"location\":"
			    "\"e.io\"}]}],\"short-name-mode\":\"enforcing\","
			    "\"unqualified-search-registries\":[\"a.io\",\"b.io:5000\"]}");
}
END_TEST

START_TEST(test_toml_hostile)
{
	static const char nul[] = "a = \"x\0y\"\n";
	cleanup_free char *deep = NULL;
	struct sbuf b = SBUF_INIT;

	toml_bad("a = 1\na = 2\n", 12, "line 2: key 'a' is defined twice");
	toml_bad("[t]\n[t]\n", 8, "line 2: table 't' is defined twice");
	toml_bad("a = yes\n", 8, "unsupported value 'yes'");
	toml_bad("a = 1.5\n", 8, "unsupported value");
	toml_bad("a = 1979-05-27\n", 15, "unsupported value");
	toml_bad("a = \"\"\"x\"\"\"\n", 12, "multi-line strings are not supported");
	toml_bad("a = \"open\n", 10, "line 1: unterminated string");
	toml_bad("a = \"\\q\"\n", 9, "invalid escape");
	toml_bad("a = \"\\ud800\"\n", 13, "not a Unicode scalar value");
	toml_bad("a = \"\\u00\"\n", 11, "hex digits");
	toml_bad(nul, sizeof(nul) - 1, "NUL");
	/* Found by fuzzing: an escaped NUL was freed twice; a raw newline went into the message. */
	toml_bad("a = \"\\u0000\"\n", 13, "NUL character in a string");
	toml_bad("a = \"\\\n\"\n", 9, "invalid escape '\\\\x0a'");
	toml_bad("\"a\\nb\" = 1\n\"a\\nb\" = 2\n", 22, "key 'a?b' is defined twice");
	toml_bad("a = \"\xff\xfe\"\n", 9, "UTF-8");
	toml_bad("a = 1 b = 2\n", 12, "after the value");
	toml_bad("a = [1 2]\n", 10, "',' or ']'");
	toml_bad("a = {x = 1\n", 11, "',' or '}'");
	toml_bad("= 1\n", 4, "invalid character '=' in a key");
	toml_bad("a b = 1\n", 8, "want '='");
	toml_bad("a = \n", 5, "a value is missing");
	toml_bad("a = 99999999999999999999\n", 25, "too large");
	toml_bad("a = 012\n", 8, "leading zeros");
	toml_bad("a = 1\n[a]\n", 10, "already defined as a value");
	toml_bad("a = {x = 1}\n[a.b]\n", 18, "inline");
	toml_bad("a = [1]\n[[a]]\n", 14, "not an array of tables");
	toml_bad("[[a]]\n[a]\n", 10, "already defined as a value");
	toml_bad("[a\n", 3, "wants ']'");
	toml_bad("a = \"x\x01\"\n", 9, "control character");
	for (int i = 0; i < 100; i++)
		sbuf_addstr(&b, "[");
	deep = sbuf_detach(&b, NULL);
	{
		cleanup_free char *t = xasprintf("a = %s\n", deep);

		toml_bad(t, strlen(t), "nested more than");
	}
}
END_TEST

/* ---- registries.conf ---- */

static struct reg_conf *conf_of(const char *text)
{
	struct strata_error *err = NULL;
	struct reg_conf *c = NULL;

	ck_assert_ok(reg_conf_parse(text, strlen(text), "test.conf", false, &c, &err), err);
	return c;
}

static void conf_bad(const char *text, bool dropin, const char *want)
{
	struct strata_error *err = NULL;
	struct reg_conf *c = NULL;

	ck_assert_msg(reg_conf_parse(text, strlen(text), "test.conf", dropin, &c, &err) < 0,
		      "accepted: %s", text);
	ck_assert_msg(strstr(strata_error_msg(err), want), "'%s' not in '%s'", want,
		      strata_error_msg(err));
	ck_assert_ptr_null(strchr(strata_error_msg(err), '\n'));
	strata_error_free(err);
}

START_TEST(test_conf_prefix_match)
{
	ck_assert_int_eq(reg_prefix_match("example.com/foo/bar:1", "example.com/foo"), 15);
	ck_assert_int_eq(reg_prefix_match("example.com/foobar", "example.com/foo"), -1);
	ck_assert_int_eq(reg_prefix_match("example.com", "example.com"), 11);
	ck_assert_int_eq(reg_prefix_match("example.com@sha256:1", "example.com"), 11);
	ck_assert_int_eq(reg_prefix_match("a.b.example.com/x", "*.example.com"), 15);
	ck_assert_int_eq(reg_prefix_match("example.com/x", "*.example.com"), -1);
	ck_assert_int_eq(reg_prefix_match("q.io/a.example.com", "*.example.com"), -1);
	ck_assert_int_eq(reg_prefix_match("a.example.community/x", "*.example.com"), -1);
}
END_TEST

START_TEST(test_conf_find_and_endpoints)
{
	struct reg_conf *c = conf_of("[[registry]]\n"
				     "prefix = \"example.com\"\n"
				     "location = \"host.io\"\n"
				     "[[registry]]\n"
				     "prefix = \"example.com/foo\"\n"
				     "location = \"internal.io/bar/\"\n"
				     "insecure = true\n"
				     "[[registry.mirror]]\n"
				     "location = \"m0.local/mirror-for-foo\"\n"
				     "[[registry.mirror]]\n"
				     "location = \"m1.local/mirrors/foo\"\n"
				     "insecure = true\n"
				     "pull-from-mirror = \"digest-only\"\n"
				     "[[registry]]\n"
				     "prefix = \"*.wild.io\"\n"
				     "blocked = true\n");
	const struct reg_registry *r;
	struct reg_endpoint *eps = NULL;
	size_t n;

	r = reg_conf_find(c, "example.com/foo/image:latest");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->location, "internal.io/bar");
	n = reg_conf_endpoints(r, "example.com/foo/image:latest", true, &eps);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(eps[0].ref, "m0.local/mirror-for-foo/image:latest");
	ck_assert(eps[0].mirror && !eps[0].insecure);
	ck_assert_str_eq(eps[1].ref, "internal.io/bar/image:latest");
	ck_assert(!eps[1].mirror && eps[1].insecure);
	reg_endpoints_free(eps, n);
	/* By digest the digest-only mirror is used too; a push uses no mirror. */
	n = reg_conf_endpoints(r, "example.com/foo/image@sha256:0", true, &eps);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(eps[1].ref, "m1.local/mirrors/foo/image@sha256:0");
	reg_endpoints_free(eps, n);
	n = reg_conf_endpoints(r, "example.com/foo/image:1", false, &eps);
	ck_assert_uint_eq(n, 1);
	reg_endpoints_free(eps, n);
	r = reg_conf_find(c, "example.com/other:1");
	ck_assert_str_eq(r->prefix, "example.com");
	r = reg_conf_find(c, "x.y.wild.io/img:1");
	ck_assert(r && r->blocked && !r->location);
	n = reg_conf_endpoints(r, "x.y.wild.io/img:1", true, &eps);
	ck_assert_str_eq(eps[0].ref, "x.y.wild.io/img:1");
	reg_endpoints_free(eps, n);
	ck_assert_ptr_null(reg_conf_find(c, "other.io/x:1"));
	reg_conf_free(c);
}
END_TEST

START_TEST(test_conf_short_names)
{
	struct reg_conf *c = conf_of("unqualified-search-registries = [\"one.io\", \"docker.io\"]\n"
				     "[aliases]\n"
				     "\"box\" = \"q.io/ns/box\"\n");
	struct strata_error *err = NULL;
	struct store_ref r = { 0 };
	char **names = NULL;

	ck_assert_ok(store_ref_parse("busybox", &r, &err), err);
	ck_assert_ok(reg_conf_candidates(c, "busybox", &r, &names, NULL, &err), err);
	ck_assert_uint_eq(strv_len(names), 2);
	ck_assert_str_eq(names[0], "one.io/busybox:latest");
	ck_assert_str_eq(names[1], "docker.io/library/busybox:latest");
	strv_free(names);
	names = NULL;
	store_ref_release(&r);
	/* An alias keeps the tag typed; no search. */
	ck_assert_ok(store_ref_parse("box:2", &r, &err), err);
	ck_assert_ok(reg_conf_candidates(c, "box:2", &r, &names, NULL, &err), err);
	ck_assert_uint_eq(strv_len(names), 1);
	ck_assert_str_eq(names[0], "q.io/ns/box:2");
	strv_free(names);
	names = NULL;
	/* Enforcing with two registries cannot choose without a prompt. */
	c->mode = REG_SHORT_ENFORCING;
	store_ref_release(&r);
	ck_assert_ok(store_ref_parse("busybox", &r, &err), err);
	ck_assert_int_lt(reg_conf_candidates(c, "busybox", &r, &names, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "enforcing"));
	strata_error_free(err);
	err = NULL;
	/* ... but one is no ambiguity. */
	free(c->search[1]);
	c->search[1] = NULL;
	ck_assert_ok(reg_conf_candidates(c, "busybox", &r, &names, NULL, &err), err);
	ck_assert_uint_eq(strv_len(names), 1);
	strv_free(names);
	store_ref_release(&r);
	reg_conf_free(c);
}
END_TEST

/* The alias cache: written as podman writes it, read back first, "" hiding the files' alias. */
START_TEST(test_alias_cache)
{
	char dir[] = "/tmp/strata-alias-cache-XXXXXX";
	cleanup_free char *path = NULL, *text = NULL;
	struct reg_conf *c = conf_of("unqualified-search-registries = [\"one.io\", \"two.io\"]\n"
				     "[aliases]\n\"box\" = \"q.io/ns/box\"\n");
	struct strata_error *err = NULL;
	struct store_ref r = { 0 };
	char **names = NULL;
	bool ambiguous = false;
	size_t len;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/sub/containers/short-name-aliases.conf", dir);
	ck_assert_ok(reg_alias_cache_record(path, "box", "one.io/box", &err), err);
	ck_assert_ok(reg_alias_cache_record(path, "a/b", "docker.io/library/b", &err), err);
	ck_assert_ok(reg_alias_cache_record(path, "box", "two.io/box", &err), err);
	ck_assert_int_eq(file_read_at(AT_FDCWD, path, 4096, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "[aliases]\n  \"a/b\" = \"docker.io/library/b\"\n"
			       "  box = \"two.io/box\"\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_lt(reg_alias_cache_record(path, "x.io/box", "one.io/box", &err), 0);
	strata_error_free(err);
	err = NULL;
	/* the cache's alias wins over the files' */
	ck_assert_ok(reg_alias_cache_load(path, &c->cache_aliases, &err), err);
	ck_assert_ok(store_ref_parse("box", &r, &err), err);
	ck_assert_ok(reg_conf_candidates(c, "box", &r, &names, &ambiguous, &err), err);
	ck_assert_uint_eq(strv_len(names), 1);
	ck_assert_str_eq(names[0], "two.io/box:latest");
	ck_assert(!ambiguous);
	strv_free(names);
	names = NULL;
	/* "" hides it: the search list, a choice to offer */
	json_object_set_new(c->cache_aliases, "box", json_string(""));
	ck_assert_ok(reg_conf_candidates(c, "box", &r, &names, &ambiguous, &err), err);
	ck_assert_uint_eq(strv_len(names), 2);
	ck_assert(ambiguous);
	strv_free(names);
	store_ref_release(&r);
	reg_conf_free(c);
	/* a missing file is an empty cache; a broken one an error naming it */
	{
		json_t *a = NULL;

		ck_assert_ok(reg_alias_cache_load("/nonexistent/x.conf", &a, &err), err);
		ck_assert_uint_eq(json_object_size(a), 0);
		json_decref(a);
		a = NULL;
		ck_assert_int_eq(file_write_atomic_at(AT_FDCWD, path, "[aliases]\nbox = 1\n", 18,
						      0600, NULL),
				 0);
		ck_assert_int_lt(reg_alias_cache_load(path, &a, &err), 0);
		ck_assert_ptr_nonnull(strstr(strata_error_msg(err), path));
		strata_error_free(err);
	}
	{
		cleanup_free char *rm = xasprintf("rm -rf %s", dir);

		ck_assert_int_eq(system(rm), 0);
	}
}
END_TEST

/* Whose alias cache: root's in STRATA_CACHEDIR (/var/cache), a user's under XDG_CACHE_HOME or HOME. */
START_TEST(test_alias_cache_path)
{
	cleanup_free char *root = NULL;

	unsetenv("STRATA_CACHEDIR");
	root = reg_alias_cache_path();
	if (!sys_is_host_root())
		return; /* a user's own namespace need not be allowed; root's is */
	ck_assert_str_eq(root, "/var/cache/containers/short-name-aliases.conf");
	/* in a new user namespace, unmapped, this process is nobody: a user's cache */
	ck_assert_int_eq(unshare(CLONE_NEWUSER), 0);
	{
		cleanup_free char *xdg = NULL, *home = NULL;

		ck_assert(!sys_is_host_root());
		setenv("XDG_CACHE_HOME", "/x/cache", 1);
		setenv("HOME", "/home/u", 1);
		xdg = reg_alias_cache_path();
		ck_assert_str_eq(xdg, "/x/cache/containers/short-name-aliases.conf");
		unsetenv("XDG_CACHE_HOME");
		home = reg_alias_cache_path();
		ck_assert_str_eq(home, "/home/u/.cache/containers/short-name-aliases.conf");
		unsetenv("HOME");
		ck_assert_ptr_null(reg_alias_cache_path());
	}
}
END_TEST

START_TEST(test_conf_merge_and_v1)
{
	struct reg_conf *c = conf_of("[registries.search]\nregistries = ['a.io', 'b.io']\n"
				     "[registries.insecure]\nregistries = ['b.io']\n"
				     "[registries.block]\nregistries = ['bad.io']\n");
	struct reg_conf *d = conf_of("unqualified-search-registries = [\"c.io\"]\n"
				     "short-name-mode = \"disabled\"\n"
				     "[aliases]\n\"x\" = \"\"\n\"y\" = \"c.io/y\"\n"
				     "[[registry]]\nlocation = \"b.io\"\ninsecure = false\n");
	const struct reg_registry *r;

	ck_assert_uint_eq(strv_len(c->search), 2);
	ck_assert(reg_conf_find(c, "b.io/x:1")->insecure);
	ck_assert(reg_conf_find(c, "bad.io/x:1")->blocked);
	json_object_set_new(c->aliases, "x", json_string("q.io/x"));
	reg_conf_merge(c, d);
	reg_conf_free(d);
	ck_assert_uint_eq(strv_len(c->search), 1);
	ck_assert_str_eq(c->search[0], "c.io");
	ck_assert_int_eq(c->mode, REG_SHORT_DISABLED);
	ck_assert_ptr_null(json_object_get(c->aliases, "x"));
	ck_assert_str_eq(jv_str(c->aliases, "y"), "c.io/y");
	r = reg_conf_find(c, "b.io/x:1");
	ck_assert(!r->insecure);
	ck_assert(reg_conf_find(c, "bad.io/x:1")->blocked);
	reg_conf_free(c);
}
END_TEST

START_TEST(test_conf_errors)
{
	conf_bad("[[registry]]\ninsecure = true\n", false, "neither prefix nor location");
	conf_bad("[[registry]]\nprefix = \"a.io\"\n", false, "not a wildcard");
	conf_bad("[[registry]]\nlocation = \"https://a.io\"\n", false, "URL schemes");
	conf_bad("[[registry]]\nprefix = \"a.*.io\"\nlocation = \"a.io\"\n", false, "wildcard");
	conf_bad("[[registry]]\nprefix = \"*.a.io/ns\"\n", false, "no port and no namespace");
	conf_bad("[[registry]]\nlocation = \"a.io\"\nblocked = \"yes\"\n", false, "true or false");
	conf_bad("[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n", false,
		 "mirror's location is unset");
	conf_bad("[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n"
		 "[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n",
		 false, "do not go together");
	conf_bad("[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\n"
		 "pull-from-mirror = \"sometimes\"\n",
		 false, "pull-from-mirror 'sometimes'");
	conf_bad("short-name-mode = \"lax\"\n", false, "want enforcing, permissive or disabled");
	conf_bad("unqualified-search-registries = \"a.io\"\n", false, "list of strings");
	conf_bad("unqualified-search-registries = [\"a.io/ns\"]\n", false, "not a host[:port]");
	conf_bad("[aliases]\n\"a.io/box\" = \"b.io/box\"\n", false, "must be a short name");
	conf_bad("[aliases]\n\"box:1\" = \"b.io/box\"\n", false, "must be a short name");
	conf_bad("[aliases]\n\"box\" = \"box\"\n", false, "fully qualified");
	conf_bad("[aliases]\n\"box\" = \"b.io/box:1\"\n", false, "fully qualified");
	conf_bad("[registries.search]\nregistries = ['a.io']\n[[registry]]\nlocation = \"b.io\"\n",
		 false, "mixes the version 1");
	conf_bad("[registries.search]\nregistries = ['a.io']\n", true, "version 2");
	conf_bad("a = 1\na = 2\n", false, "test.conf: line 2");
}
END_TEST

/* ---- policy.json ---- */

static struct reg_policy *policy_of(const char *text)
{
	struct strata_error *err = NULL;
	struct reg_policy *p = NULL;

	ck_assert_ok(reg_policy_parse(text, strlen(text), "p.json", &p, &err), err);
	return p;
}

static void policy_bad(const char *text, const char *want)
{
	struct strata_error *err = NULL;
	struct reg_policy *p = NULL;

	ck_assert_msg(reg_policy_parse(text, strlen(text), "p.json", &p, &err) < 0, "accepted %s",
		      text);
	ck_assert_msg(strstr(strata_error_msg(err), want), "'%s' not in '%s'", want,
		      strata_error_msg(err));
	strata_error_free(err);
}

/* The check of @p for docker image @id ("host/repo:tag"): 0, or the error code. */
static int docker_verdict(const struct reg_policy *p, const char *id)
{
	struct strata_error *err = NULL;
	cleanup_free char *name = xstrndup(id, strcspn(id, "@"));
	char *colon = strrchr(name, ':');
	cleanup_strv char **scopes = NULL;
	int code = 0;

	if (colon && !strchr(colon, '/'))
		*colon = '\0';
	scopes = reg_docker_scopes(name);
	if (reg_policy_check(p, "docker", id, scopes, &err) < 0) {
		code = strata_error_code(err);
		strata_error_free(err);
	}
	return code;
}

START_TEST(test_policy_scopes)
{
	cleanup_strv char **d = reg_docker_scopes("reg.example.com:5000/ns/sub/repo");
	cleanup_strv char **o = reg_path_scopes("/var/lib/strata/");

	ck_assert_uint_eq(strv_len(d), 6);
	ck_assert_str_eq(d[0], "reg.example.com:5000/ns/sub/repo");
	ck_assert_str_eq(d[2], "reg.example.com:5000/ns");
	ck_assert_str_eq(d[3], "reg.example.com:5000");
	ck_assert_str_eq(d[4], "*.example.com");
	ck_assert_str_eq(d[5], "*.com");
	ck_assert_uint_eq(strv_len(o), 3);
	ck_assert_str_eq(o[0], "/var/lib/strata");
	ck_assert_str_eq(o[2], "/var");
}
END_TEST

START_TEST(test_policy_verdicts)
{
	struct reg_policy *p = policy_of(
		"{\"default\": [{\"type\": \"reject\"}],"
		" \"transports\": {\"docker\": {"
		"   \"a.io/ok\": [{\"type\": \"insecureAcceptAnything\"}],"
		"   \"a.io/ok/no:tag\": [{\"type\": \"reject\"}],"
		"   \"a.io/signed\": [{\"type\": \"insecureAcceptAnything\"},"
		"                     {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\"}],"
		"   \"*.wild.io\": [{\"type\": \"insecureAcceptAnything\"}],"
		"   \"b.io\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k\"}]},"
		"  \"oci\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]}}}");
	struct strata_error *err = NULL;

	ck_assert_int_eq(docker_verdict(p, "a.io/ok:1"), 0);
	ck_assert_int_eq(docker_verdict(p, "a.io/ok/sub:1"), 0);
	ck_assert_int_eq(docker_verdict(p, "a.io/ok/no:tag"), EACCES);
	ck_assert_int_eq(docker_verdict(p, "a.io/okay:1"), EACCES);
	ck_assert_int_eq(docker_verdict(p, "a.io/signed:1"), ENOTSUP);
	ck_assert_int_eq(docker_verdict(p, "b.io/x/y:1"), ENOTSUP);
	ck_assert_int_eq(docker_verdict(p, "r.wild.io:5000/x:1"), 0);
	ck_assert_int_eq(docker_verdict(p, "other.io/x:1"), EACCES);
	ck_assert_int_eq(reg_policy_check(p, "oci", "/any/dir", NULL, &err), 0);
	ck_assert_int_eq(reg_policy_check(NULL, "docker", "x.io/y:1", NULL, &err), 0);
	reg_policy_free(p);
}
END_TEST

START_TEST(test_policy_errors)
{
	policy_bad("{}", "\"default\" policy is missing");
	policy_bad("{\"default\": []}", "must not be empty");
	policy_bad("{\"default\": [{\"type\": \"maybe\"}]}", "unknown requirement type 'maybe'");
	policy_bad("{\"default\": [{\"type\": \"reject\", \"x\": 1}]}", "unknown key 'x'");
	policy_bad("{\"default\": [{}]}", "without a \"type\"");
	policy_bad("{\"default\": [{\"type\": \"reject\"}], \"extra\": 1}", "unknown key 'extra'");
	policy_bad("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": []}}",
		   "not an object of scopes");
	policy_bad("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"a\": {}}}}",
		   "list of requirements");
	policy_bad("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"oci\": {\"rel\": "
		   "[{\"type\": \"reject\"}]}}}",
		   "absolute path");
	policy_bad("not json", "p.json");
}
END_TEST

/* Scopes containers/image refuses for their transport make the whole file an error. */
START_TEST(test_policy_transport_scopes)
{
	static const struct {
		const char *transport, *scope;
		bool ok;
	} rows[] = {
		{ "docker-archive", "", true },
		{ "docker-archive", "/a.tar", false },
		{ "tarball", "x", false },
		{ "oci", "/a/b:tag", true },
		{ "oci", "/", false },
		{ "oci", "/a/", false },
		{ "oci", "/a/../b", false },
		{ "dir", "/a//b", false },
		{ "sif", "/a/.", false },
		{ "docker-daemon", "sha256:"
				   "0000000000000000000000000000000000000000000000000000000000000000",
		  false },
		{ "docker-daemon", "x/y", true },
		{ "containers-storage", "[vfs@/var/lib/c]busybox:1", true },
		{ "containers-storage", "[c]busybox", false },
		{ "containers-storage", "busybox", false },
		{ "docker", "anything goes", true },
		{ "ostree", "anything goes", true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		cleanup_free char *text = xasprintf(
			"{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"%s\": "
			"{\"%s\": [{\"type\": \"reject\"}]}}}",
			rows[i].transport, rows[i].scope);
		cleanup_free char *want =
			xasprintf("%s scope '%s'", rows[i].transport, rows[i].scope);

		if (rows[i].ok)
			reg_policy_free(policy_of(text));
		else
			policy_bad(text, want);
	}
}
END_TEST

/* The verdict of registry_policy_check_load on @path under the policy text @json. */
static int load_verdict(const char *dir, const char *json, const char *path)
{
	cleanup_free char *pf = xasprintf("%s/p.json", dir);
	struct strata_error *err = NULL;
	int code = 0;

	ck_assert_int_eq(file_write_atomic_at(AT_FDCWD, pf, json, strlen(json), 0644, NULL), 0);
	if (registry_policy_check_load(pf, path, &err) < 0) {
		code = strata_error_code(err);
		strata_error_free(err);
	}
	return code;
}

START_TEST(test_policy_load_input)
{
	char dir[] = "/tmp/strata-policy-load-XXXXXX";
	cleanup_free char *layout = NULL, *junk = NULL, *policy = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	layout = xasprintf("%s/layout", dir);
	junk = xasprintf("%s/junk.tar", dir);
	ck_assert_int_eq(mkdir(layout, 0755), 0);
	ck_assert_int_eq(file_write_atomic_at(AT_FDCWD, junk, "junk", 4, 0644, NULL), 0);
	/* a layout directory is judged as oci, by its path and then its parents */
	policy = xasprintf("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"oci\": "
			   "{\"%s\": [{\"type\": \"insecureAcceptAnything\"}]}}}", dir);
	ck_assert_int_eq(load_verdict(dir, policy, layout), 0);
	ck_assert_int_eq(load_verdict(dir, policy, "/tmp"), EACCES);
	/* the oci-archive scopes do not cover a layout directory */
	free(policy);
	policy = xasprintf("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"oci-archive\": "
			   "{\"%s\": [{\"type\": \"insecureAcceptAnything\"}]}}}", dir);
	ck_assert_int_eq(load_verdict(dir, policy, layout), EACCES);
	/* what is no archive at all is refused as such, never accepted */
	ck_assert_int_eq(load_verdict(dir, "{\"default\": [{\"type\": \"insecureAcceptAnything\"}]}",
				      junk), EINVAL);
	ck_assert_int_eq(path_rm_rf_at(AT_FDCWD, dir, NULL), 0);
}
END_TEST

/* ---- auth files and certificates ---- */

START_TEST(test_auth_keys)
{
	static const struct {
		const char *key, *want;
		bool legacy;
	} cases[] = {
		{ "reg.io:5000", "reg.io:5000", false },
		{ "https://reg.io:5000", "reg.io:5000", false },
		{ "http://reg.io/v1/", "reg.io", false },
		{ "reg.io/ns/repo", "reg.io/ns/repo", false },
		{ "reg.io/ns/repo", "reg.io", true },
		{ "https://index.docker.io/v1/", "index.docker.io", false },
		{ "docker.io", "index.docker.io", false },
		{ "docker.io/library/busybox", "index.docker.io/library/busybox", false },
		{ "registry-1.docker.io", "index.docker.io", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *n = reg_auth_key_normalize(cases[i].key, cases[i].legacy);

		ck_assert_str_eq(n, cases[i].want);
	}
}
END_TEST

/* Looks @name up in @file, expecting @want_user (NULL: none). */
static void auth_expect(const char *file, const char *name, const char *want_user)
{
	struct strata_error *err = NULL;
	cleanup_free char *user = NULL, *pass = NULL;

	ck_assert_ok(registry_auth_lookup(name, file, &user, &pass, &err), err);
	if (!want_user) {
		ck_assert_ptr_null(user);
		return;
	}
	ck_assert_ptr_nonnull(user);
	ck_assert_str_eq(user, want_user);
	ck_assert_str_eq(pass, "pw");
}

START_TEST(test_auth_namespaces)
{
	cleanup_free char *dir = unit_scratch();
	cleanup_free char *f = path_join(dir, "auth.json");
	cleanup_free char *host = base64_encode("host:pw", 7);
	cleanup_free char *ns = base64_encode("ns:pw", 5);
	cleanup_free char *repo = base64_encode("repo:pw", 7);
	cleanup_free char *hub = base64_encode("hub:pw", 6);
	cleanup_free char *body = xasprintf(
		"{\"auths\": {\"https://reg.io:5000\": {\"auth\": \"%s\"},"
		" \"reg.io:5000/team\": {\"auth\": \"%s\"},"
		" \"reg.io:5000/team/app/web\": {\"auth\": \"%s\"},"
		" \"reg.io:5000/empty\": {},"
		" \"https://index.docker.io/v1/\": {\"auth\": \"%s\"}}}",
		host, ns, repo, hub);

	unit_write_file(f, body, 0600);
	auth_expect(f, "reg.io:5000/team/app/web", "repo");
	auth_expect(f, "reg.io:5000/team/app/web/sub", "repo");
	auth_expect(f, "reg.io:5000/team/app", "ns");
	auth_expect(f, "reg.io:5000/team", "ns");
	auth_expect(f, "reg.io:5000/teams", "host");
	auth_expect(f, "reg.io:5000/empty/x", "host");
	auth_expect(f, "reg.io:5000", "host");
	auth_expect(f, "reg.io:5001/team", NULL);
	auth_expect(f, "docker.io/library/busybox", "hub");
	unit_scratch_cleanup(steal_ptr(&dir));
}
END_TEST

START_TEST(test_certs_dir)
{
	cleanup_free char *dir = unit_scratch();
	cleanup_free char *a = path_join(dir, "a.crt"), *b = path_join(dir, "b.crt");
	cleanup_free char *cert = path_join(dir, "client.cert"), *key = path_join(dir, "client.key");
	cleanup_free char *lone = path_join(dir, "lone.key");
	struct strata_error *err = NULL;
	struct sbuf ca = SBUF_INIT;
	char *c = NULL, *k = NULL;

	unit_write_file(a, "CA-A", 0644);
	unit_write_file(b, "CA-B", 0644);
	unit_write_file(cert, "C", 0644);
	unit_write_file(key, "K", 0600);
	ck_assert_ok(reg_certs_load(dir, &ca, &c, &k, &err), err);
	ck_assert_ptr_nonnull(ca.buf);
	ck_assert_str_eq(ca.buf, "CA-A\nCA-B\n");
	ck_assert_str_eq(c, cert);
	ck_assert_str_eq(k, key);
	free(c);
	free(k);
	c = k = NULL;
	sbuf_release(&ca);
	/* A key without its certificate, and a certificate without its key. */
	unit_write_file(lone, "K", 0600);
	ck_assert_int_lt(reg_certs_load(dir, &ca, &c, &k, &err), 0);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "'lone.key' has no client certificate"));
	strata_error_free(err);
	err = NULL;
	unlink(lone);
	unlink(key);
	free(c);
	free(k);
	c = k = NULL;
	sbuf_release(&ca);
	ck_assert_int_lt(reg_certs_load(dir, &ca, &c, &k, &err), 0);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "'client.cert' has no key"));
	strata_error_free(err);
	free(c);
	free(k);
	sbuf_release(&ca);
	unit_scratch_cleanup(steal_ptr(&dir));
}
END_TEST

/* ---- the blob-info cache ---- */

START_TEST(test_blobinfo_bounded)
{
	cleanup_free char *dir = unit_scratch();
	cleanup_free char *root = path_join(dir, "root");
	cleanup_free char *file = path_join(root, "blob-info.json");
	struct strata_error *err = NULL;
	struct store *st = NULL;
	char **digests = NULL, **repos;
	json_t *cache;
	size_t total = BLOBINFO_MAX_BLOBS + 20;

	ck_assert_ok(store_open(root, &st, &err), err);
	for (size_t i = 0; i < total; i++) {
		char d[DIGEST_STR_LEN];
		cleanup_free char *in = xasprintf("%zu", i);

		digest_buf(in, strlen(in), d);
		strv_append(&digests, d);
	}
	reg_blobinfo_record(st, "r.io:5000", "a", digests);
	/* The same blob seen in more repositories than are kept: the latest first. */
	for (int k = 0; k < BLOBINFO_MAX_PLACES + 3; k++) {
		cleanup_free char *repo = xasprintf("repo%d", k);
		char *one[] = { digests[0], NULL };

		reg_blobinfo_record(st, "r.io:5000", repo, one);
	}
	cache = reg_blobinfo_load(st);
	ck_assert_uint_eq(json_object_size(json_object_get(cache, "blobs")), BLOBINFO_MAX_BLOBS);
	repos = reg_blobinfo_repos(cache, "r.io:5000", "x", digests[0]);
	ck_assert_uint_eq(strv_len(repos), BLOBINFO_MAX_PLACES);
	ck_assert_str_eq(repos[0], "repo10");
	ck_assert(!strv_contains(repos, "repo0") && !strv_contains(repos, "a"));
	strv_free(repos);
	/* Its own repository is no source of a mount. */
	repos = reg_blobinfo_repos(cache, "r.io:5000", "repo10", digests[0]);
	ck_assert_uint_eq(strv_len(repos), BLOBINFO_MAX_PLACES - 1);
	strv_free(repos);
	ck_assert_ptr_null(reg_blobinfo_repos(cache, "other.io", "x", digests[0]));
	ck_assert_ptr_null(reg_blobinfo_repos(cache, "r.io:5000", "x", "sha256:00"));
	json_decref(cache);
	/* A damaged file is started again, never an error. */
	unit_write_file(file, "{\"blobs\": [1, 2", 0644);
	cache = reg_blobinfo_load(st);
	ck_assert_uint_eq(json_object_size(json_object_get(cache, "blobs")), 0);
	json_decref(cache);
	{
		char *one[] = { digests[1], NULL };

		reg_blobinfo_record(st, "r.io:5000", "b", one);
	}
	cache = reg_blobinfo_load(st);
	repos = reg_blobinfo_repos(cache, "r.io:5000", "x", digests[1]);
	ck_assert_uint_eq(strv_len(repos), 1);
	ck_assert_str_eq(repos[0], "b");
	strv_free(repos);
	json_decref(cache);
	strv_free(digests);
	store_free(st);
	unit_scratch_cleanup(steal_ptr(&dir));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc;

	tc = tcase_create("challenge");
	tcase_add_test(tc, test_challenge_bearer);
	tcase_add_test(tc, test_challenge_quoting);
	tcase_add_test(tc, test_challenge_basic_and_junk);
	suite_add_tcase(s, tc);

	tc = tcase_create("upload");
	tcase_add_test(tc, test_url_on_base);
	tcase_add_test(tc, test_upload_location);
	tcase_add_test(tc, test_range_end);
	tcase_add_test(tc, test_link_next);
	tcase_add_test(tc, test_token_is_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("platform");
	tcase_add_test(tc, test_platform_parse);
	tcase_add_test(tc, test_platform_pick);
	suite_add_tcase(s, tc);

	tc = tcase_create("reference");
	tcase_add_test(tc, test_reference_hosts);
	tcase_add_test(tc, test_reference_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("toml");
	tcase_add_test(tc, test_toml_registries_conf);
	tcase_add_test(tc, test_toml_hostile);
	suite_add_tcase(s, tc);

	tc = tcase_create("registries-conf");
	tcase_add_test(tc, test_conf_prefix_match);
	tcase_add_test(tc, test_conf_find_and_endpoints);
	tcase_add_test(tc, test_conf_short_names);
	tcase_add_test(tc, test_alias_cache);
	tcase_add_test(tc, test_alias_cache_path);
	tcase_add_test(tc, test_conf_merge_and_v1);
	tcase_add_test(tc, test_conf_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, test_policy_scopes);
	tcase_add_test(tc, test_policy_verdicts);
	tcase_add_test(tc, test_policy_load_input);
	tcase_add_test(tc, test_policy_errors);
	tcase_add_test(tc, test_policy_transport_scopes);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_add_test(tc, test_auth_keys);
	tcase_add_test(tc, test_auth_namespaces);
	tcase_add_test(tc, test_certs_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("blob-info");
	tcase_add_test(tc, test_blobinfo_bounded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
