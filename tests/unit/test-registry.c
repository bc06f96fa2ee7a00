/*
 * registry: the pure parts of the distribution client: WWW-Authenticate
 * challenges, which URLs get the registry's credentials, upload Locations
 * and Range headers, platforms, and references to hosts and repositories.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

START_TEST(test_base64)
{
	cleanup_free char *e = reg_base64("user:pa:ss", 10);
	cleanup_free char *d = reg_unbase64(e);
	cleanup_free char *bad = reg_unbase64("!!!");

	ck_assert_str_eq(e, "dXNlcjpwYTpzcw==");
	ck_assert_str_eq(d, "user:pa:ss");
	ck_assert_ptr_null(bad);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("platform");
	tcase_add_test(tc, test_platform_parse);
	tcase_add_test(tc, test_platform_pick);
	suite_add_tcase(s, tc);

	tc = tcase_create("reference");
	tcase_add_test(tc, test_reference_hosts);
	tcase_add_test(tc, test_reference_errors);
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);
	return s;
}
