/*
 * libFuzzer target: any bytes as a Containerfile (parse, plan, expand every
 * instruction and RUN --mount, print it back), as an ignore file (match a few paths) and as
 * glob pattern and name. Nothing may crash, hang, leak or read out of
 * bounds. `make fuzz` builds it with clang and runs it for FUZZ_TIME seconds
 * over fixtures/recipes and tests/fuzz/corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_file(const struct recipe_file *f)
{
	static const char *const args[] = {"A=1", "TAG=2", "HTTP_PROXY=p", NULL};
	struct recipe_plan *p = NULL;
	struct strata_error *err = NULL;

	for (size_t i = 0; i < f->n_instrs; i++) {
		char *s = recipe_instr_string(&f->instrs[i]);

		free(s);
	}
	if (recipe_plan_new(f, (char **)args, NULL, &p, &err) < 0) {
		strata_error_free(err);
		return;
	}
	for (size_t i = 0; i < p->n_stages; i++) {
		struct recipe_vars v;

		recipe_plan_stage_vars(p, &v);
		recipe_vars_set(&v.env, "PATH", "/bin");
		for (size_t k = 0; k < p->stages[i].n_instrs; k++) {
			struct recipe_instr *x = NULL;

			if (recipe_instr_expand(p->stages[i].instrs[k], f->name, f->escape, &v, &x,
						&err) < 0) {
				strata_error_free(err);
				err = NULL;
				continue;
			}
			if (x->cmd == RECIPE_RUN) {
				/* RUN --mount values are expanded where the step runs */
				char **specs = recipe_instr_flag_all(x, "mount");

				for (size_t j = 0; specs[j]; j++) {
					struct recipe_mount m;

					if (recipe_mount_parse(specs[j], f->escape, &v, &m, &err) == 0)
						recipe_mount_release(&m);
					strata_error_free(err);
					err = NULL;
				}
				strv_free(specs);
			}
			if (x->cmd == RECIPE_ARG)
				recipe_plan_apply_arg(p, x, &v, NULL);
			else if (x->cmd == RECIPE_ENV)
				for (size_t j = 0; j < x->n_kvs; j++)
					recipe_vars_set(&v.env, x->kvs[j].key, x->kvs[j].value);
			recipe_instr_free(x);
		}
		recipe_vars_release(&v);
	}
	recipe_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"a", "a/b", "src/main.c", "build/x/y.o", ".git"};
	struct recipe_file *f = NULL;
	struct recipe_ignore *ig = NULL;
	struct strata_error *err = NULL;

	if (recipe_parse((const char *)data, size, "Containerfile", &f, &err) == 0)
		exercise_file(f);
	else
		strata_error_free(err);
	err = NULL;
	recipe_file_free(f);

	if (recipe_ignore_parse((const char *)data, size, ".dockerignore", &ig, &err) == 0) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			recipe_ignore_match(ig, paths[i]);
		recipe_ignore_free(ig);
	} else {
		strata_error_free(err);
	}

	if (size < 4096 && !memchr(data, 0, size)) {
		char *s = strndup((const char *)data, size);
		char *nl = strchr(s, '\n');

		if (nl) {
			*nl = '\0';
			recipe_glob_match(s, nl + 1);
		}
		free(s);
	}
	return 0;
}
