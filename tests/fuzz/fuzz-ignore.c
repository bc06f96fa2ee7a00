/*
 * libFuzzer target: any bytes as a .dockerignore file, matched against
 * paths of every shape (nested, dotted, with exceptions in play), and any
 * first line as a glob matched against the rest. Errors are fine; a crash,
 * a hang, a leak or an out-of-bounds read is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "a", "a/b", "a/b/c", ".git", ".git/config",
					     "src/main.c", "build/x/y.o", "Dockerfile",
					     "dir/.hidden", "deep/a/b/c/d/e/f/g", "x.txt",
					     "**", "[a]", "a\\b" };
	struct recipe_ignore *ig = NULL;
	struct strata_error *err = NULL;

	if (recipe_ignore_parse((const char *)data, size, ".dockerignore", &ig, &err) == 0) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			recipe_ignore_match(ig, paths[i]);
		recipe_ignore_has_exceptions(ig);
		recipe_ignore_free(ig);
	} else {
		strata_error_free(err);
	}
	if (size < 1024 && !memchr(data, 0, size)) {
		char *s = strndup((const char *)data, size);
		char *nl = strchr(s, '\n');

		if (nl) {
			*nl = '\0';
			for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
				recipe_glob_match(s, paths[i]);
			recipe_glob_match(s, nl + 1);
		}
		free(s);
	}
	return 0;
}
