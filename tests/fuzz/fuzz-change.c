/*
 * libFuzzer target: any bytes as `--change` instructions (commit and import
 * take them from the command line), one per line, applied in turn to a
 * fresh image config; the result must still print as JSON. Errors are
 * fine; a crash, a leak or an out-of-bounds read is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *cfg;
	char *copy, *line, *save = NULL;

	if (memchr(data, 0, size))
		return 0;
	copy = strndup((const char *)data, size);
	cfg = store_config_new(0);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct strata_error *err = NULL;

		if (store_config_apply_change(cfg, line, &err) < 0)
			strata_error_free(err);
	}
	free(jv_dump(cfg, NULL));
	json_decref(cfg);
	free(copy);
	return 0;
}
