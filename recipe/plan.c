/*
 * Stages and ARG scoping (Dockerfile reference, "Understand how ARG and FROM
 * interact" and "Scope"):
 *  - ARGs before the first FROM are in scope for FROM lines only; inside a
 *    stage an "ARG NAME" without a value brings such a value in;
 *  - an ARG is in scope from its line to the end of its stage;
 *  - --build-arg values override defaults, but only for declared ARGs (and
 *    the predefined proxy ARGs, which need no declaration);
 *  - ENV always wins over an ARG of the same name (struct recipe_vars);
 *  - the automatic platform ARGs (TARGETARCH, BUILDPLATFORM, ...) are in the
 *    global scope, and come into a stage with "ARG NAME".
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "recipe/recipe-int.h"
#include "store/store.h"

static const char *const proxy_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					 "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
					 "ALL_PROXY",  "all_proxy",  NULL};

static const char *build_arg(const struct recipe_plan *p, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; p->build_args && p->build_args[i]; i++)
		if (strncmp(p->build_args[i], key, n) == 0 && p->build_args[i][n] == '=')
			return p->build_args[i] + n + 1;
	return NULL;
}

static void platform_args(char ***list)
{
	const char *arch = store_arch();
	cleanup_free char *plat = xasprintf("linux/%s", arch);

	recipe_vars_set(list, "BUILDPLATFORM", plat);
	recipe_vars_set(list, "BUILDOS", "linux");
	recipe_vars_set(list, "BUILDARCH", arch);
	recipe_vars_set(list, "BUILDVARIANT", "");
	recipe_vars_set(list, "TARGETPLATFORM", plat);
	recipe_vars_set(list, "TARGETOS", "linux");
	recipe_vars_set(list, "TARGETARCH", arch);
	recipe_vars_set(list, "TARGETVARIANT", "");
}

void recipe_plan_stage_vars(const struct recipe_plan *p, struct recipe_vars *out)
{
	out->env = xcalloc(1, sizeof(char *));
	out->args = xcalloc(1, sizeof(char *));
	for (size_t i = 0; proxy_args[i]; i++) {
		const char *v = build_arg(p, proxy_args[i]);

		if (v)
			recipe_vars_set(&out->args, proxy_args[i], v);
	}
}

static void apply_arg(const struct recipe_plan *p, char *const *meta,
		      const struct recipe_instr *arg, char ***args, char ***used)
{
	for (size_t i = 0; i < arg->n_kvs; i++) {
		const char *key = arg->kvs[i].key;
		const char *v = build_arg(p, key);
		cleanup_free char *copy = NULL;

		if (v) {
			if (used && !strv_contains(*used, key))
				strv_append(used, key);
		} else if (arg->kvs[i].value) {
			v = arg->kvs[i].value;
		} else if (meta) {
			struct recipe_vars mv = {NULL, (char **)meta};
			bool is_set = false;
			const char *m = recipe_vars_get(&mv, key, &is_set);

			/* @meta may be *args itself: copy before it changes. */
			if (is_set)
				v = copy = xstrdup(m);
		}
		recipe_vars_set(args, key, v);
	}
}

void recipe_plan_apply_arg(const struct recipe_plan *p, const struct recipe_instr *arg,
			   struct recipe_vars *vars, char ***used)
{
	apply_arg(p, p->meta_args, arg, &vars->args, used);
}

char **recipe_plan_unused_args(const struct recipe_plan *p, char *const *used)
{
	char **out = xcalloc(1, sizeof(char *));

	for (size_t i = 0; p->build_args && p->build_args[i]; i++) {
		cleanup_free char *key = xstrndup(p->build_args[i], strcspn(p->build_args[i], "="));

		if (strv_contains(used, key) || strv_contains(p->meta_used, key) ||
		    strv_contains((char *const *)proxy_args, key))
			continue;
		strv_append(&out, key);
	}
	return out;
}

long recipe_plan_find_stage(const struct recipe_plan *p, const char *ref, size_t before)
{
	bool digits = *ref != '\0';

	for (const char *c = ref; *c; c++)
		if (!isdigit((unsigned char)*c))
			digits = false;
	if (before > p->n_stages)
		before = p->n_stages;
	if (digits && strlen(ref) < 10) {
		long i = strtol(ref, NULL, 10);

		return (size_t)i < before ? i : -1;
	}
	for (size_t i = 0; i < before; i++)
		if (p->stages[i].name && strcasecmp(p->stages[i].name, ref) == 0)
			return (long)i;
	return -1;
}

void recipe_plan_free(struct recipe_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_stages; i++) {
		free(p->stages[i].name);
		free(p->stages[i].base);
		free(p->stages[i].platform);
		free(p->stages[i].instrs);
	}
	free(p->stages);
	strv_free(p->meta_args);
	strv_free(p->meta_used);
	strv_free(p->build_args);
	free(p);
}

static int fail_line(struct strata_error **err, const struct recipe_file *f, unsigned line,
		     const char *msg, const char *arg)
{
	return strata_fail_msg(err, EINVAL, "%s:%u: %s '%s'", f->name, line, msg, arg);
}

/* Marks what stage @i needs, simulating its ARG and ENV lines for COPY --from. */
static void mark_deps(struct recipe_plan *p, size_t i)
{
	struct recipe_stage *st = &p->stages[i];
	struct recipe_vars vars;

	if (st->base_stage >= 0)
		p->stages[st->base_stage].is_needed = true;
	recipe_plan_stage_vars(p, &vars);
	for (size_t k = 0; k < st->n_instrs; k++) {
		const struct recipe_instr *in = st->instrs[k];
		struct recipe_instr *x = NULL;

		if (in->cmd == RECIPE_RUN) {
			/* RUN --mount=...,from=STAGE needs that stage too */
			cleanup_strv char **specs = recipe_instr_flag_all(in, "mount");

			for (size_t j = 0; specs[j]; j++) {
				struct recipe_mount m;
				long dep;

				if (recipe_mount_parse(specs[j], p->file->escape, &vars, &m, NULL) < 0)
					continue;
				dep = m.from ? recipe_plan_find_stage(p, m.from, i) : -1;
				if (dep >= 0)
					p->stages[dep].is_needed = true;
				recipe_mount_release(&m);
			}
			continue;
		}
		if (in->cmd != RECIPE_ARG && in->cmd != RECIPE_ENV &&
		    !(in->cmd == RECIPE_COPY && recipe_instr_flag(in, "from")))
			continue;
		if (recipe_instr_expand(in, p->file->name, p->file->escape, &vars, &x, NULL) < 0)
			continue;
		if (in->cmd == RECIPE_ARG) {
			recipe_plan_apply_arg(p, x, &vars, NULL);
		} else if (in->cmd == RECIPE_ENV) {
			for (size_t j = 0; j < x->n_kvs; j++)
				recipe_vars_set(&vars.env, x->kvs[j].key, x->kvs[j].value);
		} else {
			long dep = recipe_plan_find_stage(p, recipe_instr_flag(x, "from"), i);

			if (dep >= 0)
				p->stages[dep].is_needed = true;
		}
		recipe_instr_free(x);
	}
	recipe_vars_release(&vars);
}

static int add_stage(struct recipe_plan *p, const struct recipe_instr *from,
		     struct recipe_vars *meta, struct strata_error **err)
{
	const struct recipe_file *f = p->file;
	struct recipe_instr *x = NULL;
	struct recipe_stage *st;
	const char *plat;

	if (recipe_instr_expand(from, f->name, f->escape, meta, &x, err) < 0)
		return -1;
	if (!*x->args[0]) {
		recipe_instr_free(x);
		return fail_line(err, f, from->line,
				 "base name should not be blank:", from->args[0]);
	}
	if (from->n_args == 3 && recipe_plan_find_stage(p, from->args[2], p->n_stages) >= 0) {
		recipe_instr_free(x);
		return fail_line(err, f, from->line, "duplicate stage name", from->args[2]);
	}
	p->stages = xrealloc(p->stages, (p->n_stages + 1) * sizeof(*p->stages));
	st = &p->stages[p->n_stages];
	memset(st, 0, sizeof(*st));
	st->index = p->n_stages;
	st->from = from;
	st->name = from->n_args == 3 ? xstrdup(from->args[2]) : NULL;
	st->base = xstrdup(x->args[0]);
	plat = recipe_instr_flag(x, "platform");
	st->platform = plat && *plat ? xstrdup(plat) : NULL;
	/* FROM names an earlier stage by name only: a number is an image reference. */
	st->base_stage = -1;
	for (size_t k = 0; k < p->n_stages; k++)
		if (p->stages[k].name && strcasecmp(p->stages[k].name, st->base) == 0)
			st->base_stage = (long)k;
	p->n_stages++;
	recipe_instr_free(x);
	return 0;
}

int recipe_plan_new(const struct recipe_file *f, char *const *build_args, const char *target,
		    struct recipe_plan **out, struct strata_error **err)
{
	struct recipe_plan *p = xcalloc(1, sizeof(*p));
	struct recipe_vars meta = {NULL, xcalloc(1, sizeof(char *))};
	size_t i = 0;
	long t;

	p->file = f;
	p->build_args = xcalloc(1, sizeof(char *));
	p->meta_used = xcalloc(1, sizeof(char *));
	for (size_t k = 0; build_args && build_args[k]; k++) {
		cleanup_free char *key = xstrndup(build_args[k], strcspn(build_args[k], "="));

		if (!strchr(build_args[k], '=') || !*key) {
			recipe_plan_free(p);
			recipe_vars_release(&meta);
			return strata_fail_msg(err, EINVAL, "build arg '%s' is not KEY=VALUE",
					       build_args[k]);
		}
		/* The last value given for a key wins. */
		for (size_t j = 0; p->build_args[j]; j++) {
			if (strncmp(p->build_args[j], key, strlen(key)) == 0 &&
			    p->build_args[j][strlen(key)] == '=') {
				free(p->build_args[j]);
				p->build_args[j] = xstrdup(build_args[k]);
				goto next;
			}
		}
		strv_append(&p->build_args, build_args[k]);
	next:;
	}
	platform_args(&meta.args);

	for (; i < f->n_instrs && f->instrs[i].cmd == RECIPE_ARG; i++) {
		struct recipe_instr *x = NULL;

		if (recipe_instr_expand(&f->instrs[i], f->name, f->escape, &meta, &x, err) < 0)
			goto fail;
		{
			cleanup_strv char **snapshot = strv_dup(meta.args);

			apply_arg(p, snapshot, x, &meta.args, &p->meta_used);
		}
		recipe_instr_free(x);
	}
	for (; i < f->n_instrs; i++) {
		const struct recipe_instr *in = &f->instrs[i];
		struct recipe_stage *st;

		if (in->cmd == RECIPE_FROM) {
			if (add_stage(p, in, &meta, err) < 0)
				goto fail;
			continue;
		}
		if (!p->n_stages) {
			strata_fail_msg(err, EINVAL, "%s:%u: no build stage in current context",
					f->name, in->line);
			goto fail;
		}
		st = &p->stages[p->n_stages - 1];
		st->instrs = xgrow(st->instrs, &st->cap_instrs, st->n_instrs, sizeof(*st->instrs));
		st->instrs[st->n_instrs++] = in;
	}
	if (!p->n_stages) {
		strata_fail_msg(err, EINVAL, "%s: no FROM instruction in file", f->name);
		goto fail;
	}
	p->meta_args = steal_ptr(&meta.args);
	recipe_vars_release(&meta);

	if (target && *target) {
		cleanup_free char *lower = xstrdup(target);

		for (char *c = lower; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		t = recipe_plan_find_stage(p, lower, p->n_stages);
		if (t < 0) {
			recipe_plan_free(p);
			return strata_fail_msg(err, ENOENT, "target stage '%s' could not be found",
					       target);
		}
	} else {
		t = (long)p->n_stages - 1;
	}
	p->target = (size_t)t;
	p->stages[t].is_needed = true;
	for (long k = t; k >= 0; k--)
		if (p->stages[k].is_needed)
			mark_deps(p, (size_t)k);
	*out = p;
	return 0;

fail:
	recipe_vars_release(&meta);
	recipe_plan_free(p);
	return -1;
}
