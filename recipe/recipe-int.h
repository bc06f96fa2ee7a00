/*
 * recipe internals, in sections per .c file.
 */
#ifndef STRATA_RECIPE_RECIPE_INT_H
#define STRATA_RECIPE_RECIPE_INT_H

#include "recipe/recipe.h"

/* ---- shell.c ---- */

/*
 * Splits @rest at unquoted whitespace keeping quotes and escapes inside the
 * words (buildkit's parseWords). Never fails; caller frees with strv_free.
 */
char **recipe_split_words(const char *rest, char escape);

/* ---- instr.c ---- */

/* Deep copy of @in into @out. */
void recipe_instr_copy(struct recipe_instr *out, const struct recipe_instr *in);

/* The builder flags @c takes; a NULL-terminated static list. */
const char *const *recipe_cmd_flags(enum recipe_cmd c);

/* True when flag @name of @c is boolean (--link). */
bool recipe_flag_is_bool(enum recipe_cmd c, const char *name);

#endif
