/*
 * libFuzzer target: any bytes as an image reference. A reference that
 * parses must print back (store_ref_string) to one that parses to the
 * same parts, and map to a registry host and repository; nothing may
 * crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strata_error *err = NULL;
	struct store_ref r, again;
	char *s, *printed, *name, *host, *repo;

	if (memchr(data, 0, size))
		return 0;
	s = strndup((const char *)data, size);
	if (store_ref_parse(s, &r, &err) < 0) {
		strata_error_free(err);
		free(s);
		return 0;
	}
	printed = store_ref_string(&r);
	name = store_ref_name(&r);
	host = reg_host_of(r.domain);
	repo = reg_repo_of(r.domain, r.path);
	if (store_ref_parse(printed, &again, NULL) < 0)
		abort();
	if (!same(r.path, again.path) || !same(r.tag, again.tag) || !same(r.digest, again.digest))
		abort();
	store_ref_release(&again);
	store_ref_release(&r);
	free(printed);
	free(name);
	free(host);
	free(repo);
	free(s);
	return 0;
}
