/*
 * The tags of a repository: GET /v2/NAME/tags/list (distribution spec).
 * Asked without "n=", a registry answers with every tag in one page.
 */
#include <errno.h>
#include <string.h>

#include "registry/registry-int.h"

int registry_tags_list(const char *refstr, const struct registry_opts *o, char ***out,
		       struct strata_error **err)
{
	struct store_ref ref = { 0 };
	struct registry_opts eo = { 0 };
	const struct reg_conf *conf = NULL;
	const struct reg_registry *reg;
	cleanup_strv char **names = NULL;
	struct reg_client *c = NULL;
	struct reg_resp resp = { 0 };
	cleanup_free char *repo = NULL;
	cleanup_free char *url = NULL;
	cleanup_json json_t *j = NULL;
	char **tags = xcalloc(1, sizeof(char *));
	json_t *t;
	size_t i;
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
		if (reg_conf_candidates(conf, refstr, &ref, &names, err) < 0)
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
	{
		struct reg_req rq = { .method = "GET", .url = url, .accept = "application/json",
				      .body_fd = -1 };

		if (reg_do(c, &rq, &resp, err) < 0)
			goto out;
	}
	if (resp.status != 200) {
		reg_status_fail(&resp, "list tags", err);
		goto out;
	}
	if (!(j = jv_loadb(resp.body.buf, resp.body.len, "tag list", err)))
		goto out;
	json_array_foreach(json_object_get(j, "tags"), i, t)
		if (json_is_string(t))
			strv_append(&tags, json_string_value(t));
	*out = tags;
	tags = NULL;
	ret = 0;
out:
	strv_free(tags);
	reg_resp_release(&resp);
	reg_client_free(c);
	store_ref_release(&ref);
	return ret;
}
