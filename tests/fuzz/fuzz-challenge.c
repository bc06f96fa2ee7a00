/*
 * libFuzzer target: any bytes as a WWW-Authenticate header (the registry,
 * or anything between, chooses them). The parser must return a scheme and
 * NUL-terminated parameters, and never crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h, *scheme, *realm = NULL, *service = NULL, *scope = NULL;

	if (memchr(data, 0, size))
		return 0;
	h = strndup((const char *)data, size);
	scheme = reg_challenge_parse(h, &realm, &service, &scope);
	if (!scheme || strlen(scheme) > size)
		abort();
	if ((realm && strlen(realm) > size) || (service && strlen(service) > size) ||
	    (scope && strlen(scope) > size))
		abort();
	free(scheme);
	free(realm);
	free(service);
	free(scope);
	free(h);
	return 0;
}
