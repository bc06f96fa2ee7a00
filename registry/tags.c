/*
 * The tags of a repository: GET /v2/NAME/tags/list (distribution spec).
 * Asked without "n=", a registry answers with every tag in one page.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "registry/registry-int.h"

/*
 * A registry may answer in pages, each naming the next in a Link header
 * (RFC 8288: <URL>; rel="next"). A registry that lies is held to bounds:
 * no page twice (a loop), at most TAGS_PAGES_MAX pages and TAGS_MAX
 * distinct tags, each a valid tag.
 */
#define TAGS_PAGES_MAX 10000
#define TAGS_MAX 100000

char *reg_link_next(const char *link)
{
	const char *p = link;

	while (p && *p) {
		const char *lt = strchr(p, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		const char *end;
		size_t plen;

		if (!gt)
			return NULL;
		end = strchr(gt, ',');
		plen = end ? (size_t)(end - gt) : strlen(gt);
		/* the parameters of this link, up to the next one */
		for (const char *q = gt + 1; q < gt + plen; q++) {
			if (strncasecmp(q, "rel=", 4) != 0)
				continue;
			q += 4;
			if (*q == '"')
				q++;
			if (strncasecmp(q, "next", 4) == 0 && (q[4] == '"' || q[4] == ';' ||
							       q[4] == ',' || q[4] == ' ' || !q[4]))
				return xstrndup(lt + 1, (size_t)(gt - lt - 1));
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * Adds the tags of one page to @tags (@n of them, room for @cap; each once,
 * in @seen); -1 on a tag that is not one.
 */
static int tags_add_page(const struct reg_resp *resp, struct strmap *seen, char ***tags,
			 size_t *n, size_t *cap, struct strata_error **err)
{
	cleanup_json json_t *j = jv_loadb(resp->body.buf, resp->body.len, "tag list", err);
	json_t *t, *arr;
	size_t i;

	if (!j)
		return -1;
	arr = json_object_get(j, "tags");
	if (arr && !json_is_array(arr) && !json_is_null(arr))
		return strata_fail_msg(err, EPROTO, "tag list: 'tags' is not an array");
	json_array_foreach(arr, i, t) {
		const char *tag = json_string_value(t);

		if (!tag || !store_tag_is_valid(tag))
			return strata_fail_msg(err, EPROTO, "tag list: '%.128s' is not a valid tag",
					       tag ? tag : "(not a string)");
		if (strmap_has(seen, tag))
			continue;
		if (*n >= TAGS_MAX)
			return strata_fail_msg(err, EFBIG, "tag list: more than %d tags", TAGS_MAX);
		strmap_add(seen, tag);
		/* grown geometrically: strv_append counts the list each time */
		*tags = xgrow(*tags, cap, *n + 1, sizeof(**tags));
		(*tags)[(*n)++] = xstrdup(tag);
		(*tags)[*n] = NULL;
	}
	return 0;
}

/* GETs @url and the pages after it, into @tags. */
static int tags_fetch(struct reg_client *c, const char *repo, const char *url, char ***tags,
		      struct strata_error **err)
{
	struct strmap seen = STRMAP_INIT, pages = STRMAP_INIT;
	cleanup_free char *next = xstrdup(url);
	cleanup_free char *prefix = xasprintf("/v2/%s/tags/list", repo);
	size_t n = 0, cap = 1; /* @tags comes as one NULL */
	int ret = -1;

	for (int page = 0; next; page++) {
		struct reg_req rq = { .method = "GET", .url = next, .accept = "application/json",
				      .body_fd = -1 };
		struct reg_resp resp = { 0 };
		char *link;

		if (page >= TAGS_PAGES_MAX) {
			strata_fail_msg(err, EPROTO, "tag list: more than %d pages", TAGS_PAGES_MAX);
			goto out;
		}
		strmap_add(&pages, next);
		if (reg_do(c, &rq, &resp, err) < 0)
			goto out;
		if (resp.status != 200) {
			reg_status_fail(&resp, "list tags", err);
			reg_resp_release(&resp);
			goto out;
		}
		if (tags_add_page(&resp, &seen, tags, &n, &cap, err) < 0) {
			reg_resp_release(&resp);
			goto out;
		}
		link = resp.link ? reg_link_next(resp.link) : NULL;
		reg_resp_release(&resp);
		free(next);
		next = link;
		if (!next)
			break;
		/* an absolute link on this registry is its path there */
		if (reg_url_on_base(next, c->base)) {
			char *path = xstrdup(next + strlen(c->base));

			free(next);
			next = path;
		}
		/* the next page: of this repository's list, on this registry */
		if (!str_has_prefix(next, prefix) ||
		    (next[strlen(prefix)] != '?' && next[strlen(prefix)] != '\0')) {
			strata_fail_msg(err, EPROTO, "tag list: the next page '%.256s' is not %s",
					next, prefix);
			goto out;
		}
		if (strmap_has(&pages, next)) {
			strata_fail_msg(err, ELOOP, "tag list: the pages loop back to '%.256s'", next);
			goto out;
		}
	}
	ret = 0;
out:
	strmap_release(&seen, NULL);
	strmap_release(&pages, NULL);
	return ret;
}

int registry_tags_list(const char *refstr, const struct registry_opts *o, char ***out,
		       struct strata_error **err)
{
	struct store_ref ref = { 0 };
	struct registry_opts eo = { 0 };
	const struct reg_conf *conf = NULL;
	const struct reg_registry *reg;
	cleanup_strv char **names = NULL;
	struct reg_client *c = NULL;
	cleanup_free char *repo = NULL;
	cleanup_free char *url = NULL;
	char **tags = xcalloc(1, sizeof(char *));
	int ret = -1;

	if (str_has_prefix(refstr, "docker://"))
		refstr += strlen("docker://");
	if (store_ref_parse(refstr, &ref, err) < 0 || reg_conf_get(&conf, err) < 0)
		goto out;
	/*
	 * A short name lists the tags of its alias or first search registry;
	 * registries.conf's insecure and blocked apply.
	 */
	if (!ref.domain) {
		if (reg_conf_candidates(conf, refstr, &ref, &names, NULL, err) < 0)
			goto out;
		store_ref_release(&ref);
		if (store_ref_parse(names[0], &ref, err) < 0)
			goto out;
	}
	{
		cleanup_free char *q = reg_ref_qualify(ref.domain, &ref);

		reg = reg_conf_find(conf, q);
		if (reg && reg->blocked) {
			strata_fail_msg(err, EACCES, "%s: registry '%s' is blocked in %s", q,
					reg->prefix, conf->files[0]);
			goto out;
		}
	}
	if (o)
		eo = *o;
	eo.insecure = !eo.tls_verify && (eo.insecure || (reg && reg->insecure));
	repo = reg_repo_of(ref.domain, ref.path);
	if (reg_client_new(ref.domain, repo, "pull", NULL, NULL, &eo, &c, err) < 0)
		goto out;
	url = xasprintf("/v2/%s/tags/list", repo);
	if (tags_fetch(c, repo, url, &tags, err) < 0)
		goto out;
	*out = tags;
	tags = NULL;
	ret = 0;
out:
	strv_free(tags);
	reg_client_free(c);
	store_ref_release(&ref);
	return ret;
}
