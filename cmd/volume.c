/*
 * volume commands: create, ls, inspect, rm, prune, exists, with podman's
 * options, filters and output.
 */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "overlay/overlay.h"

/* --label K=V (K alone: an empty value) into the JSON object at opt->value. */
static int opt_label(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	json_t *labels = opt->value;
	const char *eq = strchr(arg, '=');
	cleanup_free char *key = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);

	if (!*key)
		return cmd_usage_error(ctx, "invalid label '%s' (want KEY=VALUE)", arg);
	json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	return 0;
}

static int opt_driver(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	(void)opt;
	if (strcmp(arg, "local"))
		return cmd_usage_error(ctx, "unknown volume driver '%s' (want local)", arg);
	return 0;
}

static int cmd_volume_create(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *labels = json_object();
	cleanup_free char *name = NULL;
	bool ignore = false;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('l', "label", labels, "KEY=VALUE", "set a label (repeatable)",
			     opt_label),
		OPT_CALLBACK('d', "driver", NULL, "DRIVER", "the volume driver (only local)",
			     opt_driver),
		OPT_BOOL(0, "ignore", &ignore, "a volume of that name already there is no error"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 1, "[NAME]")))
		return ctx->status;
	if (store_volume_create(s, argc ? argv[0] : NULL, labels,
				ignore ? STORE_VOLUME_EXIST_OK : 0, &name, &err) < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", name);
	return 0;
}

/* ---- filters (ls, prune) ---- */

struct vol_filter {
	char **names;	/* regular expressions, any of which matches */
	char **labels;	/* KEY or KEY=VALUE: every one must be there */
	char **nolabels; /* label!=: none may be there */
	int dangling;	/* -1: either; 0: in use; 1: unused */
	int64_t until;	/* 0: none; else created before this (seconds) */
};

static void vol_filter_release(struct vol_filter *f)
{
	strv_free(f->names);
	strv_free(f->labels);
	strv_free(f->nolabels);
}

/* A time as podman's until= takes it: seconds since 1970, RFC 3339, or a Go duration ago. */
static int parse_until(const char *v, int64_t *out)
{
	int64_t sec;
	long nsec;
	char *end;
	double total = 0;
	const char *p = v;

	if (time_parse_rfc3339(v, &sec, &nsec) == 0) {
		*out = sec;
		return 0;
	}
	errno = 0;
	sec = strtoll(v, &end, 10);
	if (*v && !*end && !errno) {
		*out = sec;
		return 0;
	}
	/* a Go duration: 10m, 1h30m, 45s */
	while (*p) {
		double n = strtod(p, &end);

		if (end == p)
			return -1;
		if (*end == 'h')
			total += n * 3600;
		else if (*end == 'm' && end[1] != 's')
			total += n * 60;
		else if (*end == 's')
			total += n;
		else
			return -1;
		p = end + 1;
	}
	if (!*v || total <= 0)
		return -1;
	*out = (int64_t)time(NULL) - (int64_t)total;
	return 0;
}

/* Adds one --filter KEY=VALUE; @keys says which keys the command takes. */
static int filter_add(struct cmd_ctx *ctx, struct vol_filter *f, const char *arg,
		      const char *const *keys)
{
	const char *eq = strchr(arg, '=');
	cleanup_free char *key = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	const char *v = eq ? eq + 1 : NULL;
	bool neg = key[0] && key[strlen(key) - 1] == '!';

	if (neg)
		key[strlen(key) - 1] = '\0';
	if (!v || !strv_contains((char *const *)keys, neg ? "label!" : key))
		return cmd_usage_error(ctx, "\"%s\" is an invalid volume filter", arg);
	if (!strcmp(key, "name")) {
		regex_t re;

		if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB))
			return cmd_usage_error(ctx, "invalid name filter '%s'", v);
		regfree(&re);
		strv_append(&f->names, v);
	} else if (!strcmp(key, "label")) {
		strv_append(neg ? &f->nolabels : &f->labels, v);
	} else if (!strcmp(key, "dangling")) {
		if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
			return cmd_usage_error(ctx, "invalid dangling filter '%s' (want true or false)",
					       v);
		f->dangling = !strcmp(v, "true") || !strcmp(v, "1");
	} else if (!strcmp(key, "driver") || !strcmp(key, "scope")) {
		if (strcmp(v, "local"))
			f->dangling = 2; /* matches nothing: every volume is local */
	} else if (!strcmp(key, "until")) {
		if (parse_until(v, &f->until) < 0)
			return cmd_usage_error(ctx, "invalid until filter '%s' (a time or a duration "
						    "such as 24h)",
					       v);
	}
	return 0;
}

/* True when labels object @labels has @kv (KEY, or KEY=VALUE). */
static bool has_label(const json_t *labels, const char *kv)
{
	const char *eq = strchr(kv, '=');
	cleanup_free char *key = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
	json_t *v = json_object_get(labels, key);

	if (!v)
		return false;
	return !eq || (json_is_string(v) && !strcmp(json_string_value(v), eq + 1));
}

static bool filter_match(struct store *s, const struct vol_filter *f, const json_t *vol)
{
	const char *name = jv_str(vol, "Name");
	json_t *labels = json_object_get(vol, "Labels");

	if (f->dangling == 2)
		return false;
	if (f->names) {
		bool any = false;

		for (size_t i = 0; f->names[i] && !any; i++) {
			regex_t re;

			if (regcomp(&re, f->names[i], REG_EXTENDED | REG_NOSUB) == 0) {
				any = regexec(&re, name, 0, NULL, 0) == 0;
				regfree(&re);
			}
		}
		if (!any)
			return false;
	}
	for (size_t i = 0; f->labels && f->labels[i]; i++)
		if (!has_label(labels, f->labels[i]))
			return false;
	for (size_t i = 0; f->nolabels && f->nolabels[i]; i++)
		if (has_label(labels, f->nolabels[i]))
			return false;
	if (f->until) {
		int64_t sec = 0;
		long nsec;

		if (!jv_str(vol, "CreatedAt") ||
		    time_parse_rfc3339(jv_str(vol, "CreatedAt"), &sec, &nsec) < 0 || sec >= f->until)
			return false;
	}
	if (f->dangling >= 0) {
		cleanup_strv char **users = NULL;

		if (store_volume_users(s, name, &users, NULL) < 0)
			return false;
		if ((users[0] == NULL) != (f->dangling == 1))
			return false;
	}
	return true;
}

/* The records of the volumes that pass @f, in name order (a new JSON array). */
static json_t *select_volumes(struct store *s, const struct vol_filter *f,
			      struct strata_error **err)
{
	cleanup_strv char **names = NULL;
	json_t *out;

	if (store_volume_list(s, &names, err) < 0)
		return NULL;
	out = json_array();
	for (size_t i = 0; names[i]; i++) {
		json_t *vol = store_volume_load(s, names[i], NULL);

		/* one removed meanwhile, or broken (fsck says which), is left out */
		if (vol && filter_match(s, f, vol))
			json_array_append_new(out, vol);
		else
			json_decref(vol);
	}
	return out;
}

/* ---- output ---- */

/* --format: NULL or "table": the table; "json": JSON; anything else is refused. */
static int check_format(struct cmd_ctx *ctx, const char *fmt)
{
	if (fmt && strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "{{json .}}"))
		return cmd_usage_error(ctx, "unknown format '%s' (want 'table' or 'json')", fmt);
	return 0;
}

static bool format_is_json(const char *fmt)
{
	return fmt && (!strcmp(fmt, "json") || !strcmp(fmt, "{{json .}}"));
}

static int cmd_volume_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const keys[] = { "name",  "label", "label!", "dangling",
					    "driver", "scope", "until",	 NULL };
	struct vol_filter f = { .dangling = -1 };
	struct strata_error *err = NULL;
	cleanup_strv char **filters = NULL;
	cleanup_json json_t *vols = NULL;
	const char *fmt = NULL;
	bool quiet = false, noheading = false;
	struct store *s;
	size_t i;
	json_t *v;
	const struct cmd_option opts[] = {
		OPT_BOOL('q', "quiet", &quiet, "print the names only"),
		OPT_LIST('f', "filter", &filters, "KEY=VALUE",
			 "name=REGEX, label=KEY[=VALUE], label!=..., dangling=true|false, "
			 "driver=local, until=TIME"),
		OPT_STRING(0, "format", &fmt, "FORMAT", "table or json"),
		OPT_BOOL('n', "noheading", &noheading, "no header row"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if (check_format(ctx, fmt))
		return EXIT_STRATA;
	for (size_t k = 0; filters && filters[k]; k++)
		if (filter_add(ctx, &f, filters[k], keys)) {
			vol_filter_release(&f);
			return EXIT_STRATA;
		}
	vols = select_volumes(s, &f, &err);
	vol_filter_release(&f);
	if (!vols)
		return cmd_fail(ctx, err);
	if (quiet) {
		json_array_foreach(vols, i, v)
			printf("%s\n", jv_str(v, "Name"));
	} else if (format_is_json(fmt)) {
		cmd_print_json(vols);
	} else {
		static const char *const head[] = { "DRIVER", "VOLUME NAME", NULL };
		struct cmd_table *t = cmd_table_new(head);

		json_array_foreach(vols, i, v)
			cmd_table_add(t, (const char *const[]){ "local", jv_str(v, "Name") });
		cmd_table_print(t, noheading);
	}
	return 0;
}

static int cmd_volume_inspect(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *out = json_array();
	const char *fmt = NULL;
	bool all = false;
	int ret = 0;
	struct store *s;
	cleanup_strv char **names = NULL;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every volume"),
		OPT_STRING('f', "format", &fmt, "FORMAT", "json"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, -1, "VOLUME")))
		return ctx->status;
	if (fmt && !format_is_json(fmt))
		return cmd_usage_error(ctx, "unknown format '%s' (want 'json')", fmt);
	if (!all && !argc)
		return cmd_usage_error(ctx, "give a VOLUME, or --all");
	if (all && store_volume_list(s, &names, &err) < 0)
		return cmd_fail(ctx, err);
	for (int i = 0; all ? names[i] != NULL : i < argc; i++) {
		json_t *vol = store_volume_load(s, all ? names[i] : argv[i], &err);

		if (!vol) {
			ret = cmd_fail(ctx, err);
			err = NULL;
			continue;
		}
		json_array_append_new(out, vol);
	}
	cmd_print_json(out);
	return ret;
}

/* volume rm -f: the containers using @name go first (podman's -f). */
static int remove_users(struct cmd_ctx *ctx, const char *name, struct strata_error **err)
{
	cleanup_strv char **users = NULL;

	if (store_volume_users(ctx->store, name, &users, err) < 0)
		return -1;
	for (size_t i = 0; users[i]; i++) {
		cleanup_json json_t *rec = store_container_load(ctx->store, users[i], NULL);

		if (rec && launch_container_running(rec)) {
			int code;

			if (launch_container_kill(ctx->store, users[i], SIGKILL, err) < 0 ||
			    launch_container_wait(ctx->store, users[i], &code, err) < 0)
				return -1;
		}
		if (overlay_container_remove(ctx->store, users[i], true, err) < 0)
			return -1;
		if (rec)
			launch_volumes_remove_anonymous(ctx->store, rec);
	}
	return 0;
}

static int cmd_volume_rm(struct cmd_ctx *ctx, int argc, char **argv)
{
	bool force = false, all = false;
	cleanup_strv char **names = NULL;
	struct store *s;
	int ret = 0;
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "force", &force, "remove the containers using it first"),
		OPT_BOOL('a', "all", &all, "every volume"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, -1, "VOLUME")))
		return ctx->status;
	if (!all && !argc)
		return cmd_usage_error(ctx, "give a VOLUME, or --all");
	if (all) {
		struct strata_error *err = NULL;

		if (store_volume_list(s, &names, &err) < 0)
			return cmd_fail(ctx, err);
	}
	for (int i = 0; all ? names[i] != NULL : i < argc; i++) {
		const char *name = all ? names[i] : argv[i];
		struct strata_error *err = NULL;

		if ((force && store_volume_name_is_valid(name) && remove_users(ctx, name, &err) < 0) ||
		    store_volume_remove(s, name, &err) < 0) {
			ret = cmd_fail(ctx, err);
			continue;
		}
		printf("%s\n", name);
	}
	return ret;
}

/* Asks "[y/N]" on stderr; true for y or yes on stdin. */
static bool confirm(const char *question)
{
	char line[32];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return !strcmp(line, "y\n") || !strcmp(line, "Y\n") || !strcmp(line, "yes\n");
}

static int cmd_volume_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const keys[] = { "label", "label!", "until", NULL };
	struct vol_filter f = { .dangling = 1 };
	struct strata_error *err = NULL;
	cleanup_strv char **filters = NULL;
	cleanup_json json_t *vols = NULL;
	bool force = false;
	struct store *s;
	int ret = 0;
	size_t i;
	json_t *v;
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "force", &force, "do not ask"),
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "label=KEY[=VALUE], label!=KEY[=VALUE], until=TIME"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	for (size_t k = 0; filters && filters[k]; k++)
		if (filter_add(ctx, &f, filters[k], keys)) {
			vol_filter_release(&f);
			return EXIT_STRATA;
		}
	if (!force && !confirm("WARNING! This will remove all volumes not used by at least one "
			       "container.\nAre you sure you want to continue?")) {
		vol_filter_release(&f);
		return 0;
	}
	vols = select_volumes(s, &f, &err);
	vol_filter_release(&f);
	if (!vols)
		return cmd_fail(ctx, err);
	json_array_foreach(vols, i, v) {
		/* one a container took meanwhile is refused here (EBUSY) and kept: not an error */
		if (store_volume_remove(s, jv_str(v, "Name"), &err) < 0) {
			if (strata_error_code(err) != EBUSY && strata_error_code(err) != ENOENT)
				ret = cmd_fail(ctx, err);
			else
				strata_error_free(err);
			err = NULL;
			continue;
		}
		printf("%s\n", jv_str(v, "Name"));
	}
	return ret;
}

static int cmd_volume_exists(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	struct strata_error *err = NULL;
	cleanup_json json_t *vol = NULL;
	struct store *s;

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 1, 1, "VOLUME")))
		return ctx->status;
	vol = store_volume_load(s, argv[0], &err);
	if (vol)
		return 0;
	if (strata_error_code(err) == ENOENT || strata_error_code(err) == EINVAL) {
		strata_error_free(err);
		return 1;
	}
	return cmd_fail(ctx, err);
}

const struct command cmd_volume_commands[] = {
	{ "volume create", "[--label KEY=VALUE]... [NAME]",
	  "create a named volume (a random name when none is given)", cmd_volume_create },
	{ "volume ls", "[-q] [--filter KEY=VALUE]... [--format FORMAT]", "list volumes",
	  cmd_volume_ls },
	{ "volume inspect", "[--format json] VOLUME...", "print volumes' records",
	  cmd_volume_inspect },
	{ "volume rm", "[-f] VOLUME...",
	  "remove volumes (refused while a container uses one; -f removes those containers)",
	  cmd_volume_rm },
	{ "volume prune", "[-f] [--filter KEY=VALUE]...",
	  "remove the volumes no container uses", cmd_volume_prune },
	{ "volume exists", "VOLUME", "exit 0 when the volume exists, 1 when not",
	  cmd_volume_exists },
	{ NULL, NULL, NULL, NULL },
};
