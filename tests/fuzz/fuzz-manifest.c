/*
 * libFuzzer target: any bytes as a manifest, an index and an image config,
 * as a registry or an archive hands them over: sniffed, parsed as a
 * manifest and as an index, and loaded as a config whose diffIDs are read
 * and to which a change and a history entry are applied. Errors are fine;
 * a crash, a leak or an out-of-bounds read is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_config(const char *buf, size_t len)
{
	struct strata_error *err = NULL;
	json_t *cfg = jv_loadb(buf, len, "config", &err);
	char **ids;

	if (!cfg) {
		strata_error_free(err);
		return;
	}
	ids = jv_to_strv(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"));
	for (size_t i = 0; ids && ids[i]; i++)
		digest_is_valid(ids[i]);
	strv_free(ids);
	if (json_is_object(cfg)) {
		if (store_config_apply_change(cfg, "ENV FUZZ=1", &err) < 0)
			strata_error_free(err);
		store_config_add_history(cfg, 0, "fuzz", NULL, NULL, true);
		free(jv_dump(cfg, NULL));
	}
	json_decref(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct strata_error *err = NULL;
	struct store_manifest *m = NULL;
	struct store_index *idx = NULL;
	json_t *doc = jv_loadb(buf, size, "manifest", NULL);

	if (doc) {
		store_manifest_sniff(doc);
		json_decref(doc);
	}
	if (store_manifest_parse(buf, size, &m, &err) == 0) {
		for (size_t i = 0; i < m->n_layers; i++)
			if (strlen(m->layers[i].digest) >= DIGEST_STR_LEN)
				abort();
		store_manifest_free(m);
	} else {
		strata_error_free(err);
		err = NULL;
	}
	if (store_index_parse(buf, size, &idx, &err) == 0)
		store_index_free(idx);
	else
		strata_error_free(err);
	as_config(buf, size);
	return 0;
}
