/*
 * cmd/ internals shared by its files (never included from another module).
 */
#ifndef STRATA_CMD_CMD_INT_H
#define STRATA_CMD_CMD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

/* ---- template-funcs.c: the template engine's values and functions ---- */

/* The state of one execution of a template (template.c owns its fields). */
struct texec;

typedef int tfunc_fn(struct texec *x, json_t **av, size_t ac, json_t **out,
		     struct strata_error **err);

/* A function a template can call, with its argument counts. */
struct tfunc {
	const char *name;
	tfunc_fn *fn;
	int min, max; /* argument counts; max -1: any */
};

/* Appends @v to @b as Go's fmt prints it; NULL prints <no value> when @top, else <nil>. */
void cmd_template_value_print(struct sbuf *b, const json_t *v, bool top);

/* True when @v is Go-true: not nil, false, 0, "" or an empty list or map. */
bool cmd_template_value_is_true(const json_t *v);

/* @o's keys sorted as Go orders a map (freed by the caller; the keys are @o's), *@n of them. */
const char **cmd_template_keys_sorted(const json_t *o, size_t *n);

/* Go's name of @v's type ("string", "int", "map", "nil" for NULL), for errors. */
const char *cmd_template_value_type(const json_t *v);

/* A new JSON string owning nothing of @s, which it frees; keeps bytes that are not UTF-8. */
json_t *cmd_template_string_owned(char *s);

/* The function named by the @len bytes at @name, or NULL when there is none. */
const struct tfunc *cmd_template_func_find(const char *name, size_t len);

#endif
