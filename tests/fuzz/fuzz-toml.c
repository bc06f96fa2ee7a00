/*
 * libFuzzer target: any bytes as a registries.conf (a file any user may
 * write in ~/.config/containers). The TOML parser must give a tree or one
 * error line, never crash, leak or read out of bounds; a tree must also go
 * through the registries.conf checks the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strata_error *err = NULL;
	struct reg_conf *c = NULL;
	json_t *doc = NULL;

	if (reg_toml_parse((const char *)data, size, &doc, &err) == 0) {
		if (!json_is_object(doc))
			abort();
		json_decref(doc);
	} else if (!err || strchr(strata_error_msg(err), '\n')) {
		abort();
	}
	strata_error_free(err);
	err = NULL;
	if (reg_conf_parse((const char *)data, size, "fuzz.conf", false, &c, &err) == 0)
		reg_conf_free(c);
	strata_error_free(err);
	return 0;
}
