/*
 * volume commands: create, ls, inspect, rm, prune, exists, with podman's
 * options, filters and output.
 */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/template.h"
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
	cleanup_json json_t *options = NULL;
	cleanup_strv char **opt = NULL;
	cleanup_free char *name = NULL;
	bool ignore = false;
	unsigned flags;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('l', "label", labels, "KEY=VALUE", "set a label (repeatable)",
			     opt_label),
		OPT_CALLBACK('d', "driver", NULL, "DRIVER", "the volume driver (only local)",
			     opt_driver),
		OPT_LIST('o', "opt", &opt, "KEY=VALUE",
			 "local driver option (repeatable): type=tmpfs|bind|FSTYPE, device=PATH,\n"
			 "o=MOUNT,OPTIONS (uid=, gid=: the data dir's owner), nocopy"),
		OPT_BOOL(0, "ignore", &ignore, "a volume of that name already there is no error"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 1, "[NAME]")))
		return ctx->status;
	if (launch_volume_options_parse(opt, &options, &err) < 0)
		return cmd_fail(ctx, err);
	flags = (ignore ? STORE_VOLUME_EXIST_OK : 0) |
		(json_object_get(options, "nocopy") ? STORE_VOLUME_NOCOPY : 0);
	if (store_volume_create_with(s, argc ? argv[0] : NULL, labels,
				     json_object_size(options) ? options : NULL, flags, &name,
				     &err) < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", name);
	return 0;
}

/* ---- users, sizes, filters ---- */

void cmd_volume_links(struct store *s, struct strmap *links, struct strmap *running)
{
	cleanup_strv char **ids = NULL;

	if (store_container_list(s, &ids, NULL) < 0)
		return;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		json_t *v;
		size_t k;

		bool up = running && rec && launch_container_running(rec);

		json_array_foreach(rec ? json_object_get(rec, "Volumes") : NULL, k, v) {
			const char *name = json_string_value(v);

			if (name)
				strmap_put(links, name,
					   (void *)((uintptr_t)strmap_get(links, name) + 1), NULL);
			if (name && up)
				strmap_put(running, name,
					   (void *)((uintptr_t)strmap_get(running, name) + 1), NULL);
		}
	}
}

static int check_filters(struct cmd_ctx *ctx, char **specs, const char *const *keys,
			 struct cmd_filters *f)
{
	char *const *v;

	if (cmd_filters_parse(ctx, specs, keys, f))
		return EXIT_STRATA;
	for (v = cmd_filters_get(f, "until"); v && *v; v++) {
		int64_t t;

		if (cmd_time_parse(*v, &t) < 0)
			goto bad;
	}
	for (v = cmd_filters_get(f, "name"); v && *v; v++) {
		regex_t re;

		if (regcomp(&re, *v, REG_EXTENDED | REG_NOSUB))
			goto bad;
		regfree(&re);
	}
	for (v = cmd_filters_get(f, "dangling"); v && *v; v++)
		if (strcmp(*v, "true") && strcmp(*v, "false") && strcmp(*v, "1") && strcmp(*v, "0"))
			goto bad;
	return 0;
bad:
	{
		cleanup_free char *what = xstrdup(*v);
		int r;

		cmd_filters_release(f);
		r = cmd_usage_error(ctx, "invalid volume filter value '%s'", what);
		return r;
	}
}

/* True when one of the regular expressions @res matches @name. */
static bool name_matches(char *const *res, const char *name)
{
	for (; *res; res++) {
		regex_t re;
		bool hit;

		if (regcomp(&re, *res, REG_EXTENDED | REG_NOSUB))
			continue;
		hit = regexec(&re, name, 0, NULL, 0) == 0;
		regfree(&re);
		if (hit)
			return true;
	}
	return false;
}

/*
 * podman's volume filters: values of one key are alternatives (label and
 * label!: every one must hold), keys must all match. @links: users per name.
 */
static bool filter_match(const struct cmd_filters *f, const json_t *vol,
			 const struct strmap *links)
{
	const char *name = jv_str(vol, "Name");
	json_t *labels = json_object_get(vol, "Labels");
	bool used = strmap_get(links, name) != NULL;
	char *const *v;

	if ((v = cmd_filters_get(f, "name")) && !name_matches(v, name))
		return false;
	if (!cmd_filters_labels_pass(f, labels))
		return false;
	for (v = cmd_filters_get(f, "driver"); v && *v; v++)
		if (strcmp(*v, "local"))
			return false;
	for (v = cmd_filters_get(f, "scope"); v && *v; v++)
		if (strcmp(*v, "local"))
			return false;
	for (v = cmd_filters_get(f, "until"); v && *v; v++) {
		int64_t t = 0, sec = 0;
		long nsec;

		if (cmd_time_parse(*v, &t) < 0 || !jv_str(vol, "CreatedAt") ||
		    time_parse_rfc3339(jv_str(vol, "CreatedAt"), &sec, &nsec) < 0 || sec >= t)
			return false;
	}
	if ((v = cmd_filters_get(f, "dangling"))) {
		bool any = false;

		for (; *v; v++)
			any |= used != (!strcmp(*v, "true") || !strcmp(*v, "1"));
		if (!any)
			return false;
	}
	return true;
}

/*
 * podman's MountCount: how many running containers have the volume mounted,
 * for a volume mounted from its options (type=...); 0 for the others,
 * which are never mounted, only bound.
 */
static void set_mount_count(json_t *vol, const struct strmap *running)
{
	const char *name = jv_str(vol, "Name");

	if (name && launch_volume_needs_mount(json_object_get(vol, "Options")))
		json_object_set_new(vol, "MountCount",
				    json_integer((json_int_t)(uintptr_t)strmap_get(running, name)));
}

/* The records of the volumes that pass @f (and unused ones only with @unused), in name order. */
static json_t *select_volumes(struct store *s, const struct cmd_filters *f, bool unused,
			      struct strata_error **err)
{
	cleanup_strv char **names = NULL;
	struct strmap links = STRMAP_INIT, running = STRMAP_INIT;
	json_t *out;

	if (store_volume_list(s, &names, err) < 0)
		return NULL;
	cmd_volume_links(s, &links, &running);
	out = json_array();
	for (size_t i = 0; names[i]; i++) {
		json_t *vol = store_volume_load(s, names[i], NULL);

		/* one removed meanwhile, or broken (fsck says which), is left out */
		if (vol && filter_match(f, vol, &links) &&
		    !(unused && strmap_get(&links, names[i]))) {
			set_mount_count(vol, &running);
			json_array_append_new(out, vol);
		} else {
			json_decref(vol);
		}
	}
	strmap_release(&links, NULL);
	strmap_release(&running, NULL);
	return out;
}

/* ---- output ---- */

/* The fields of a row of `volume ls --format`, podman's names. */
static const char *const volume_fields[] = { "Name",	    "Driver",	  "Mountpoint",
					     "CreatedAt",   "Labels",	  "Scope",
					     "Options",	    "Anonymous",  "NeedsCopyUp",
					     "NeedsChown",  "MountCount", "UID",
					     "GID",	    NULL };

/* A record as a template sees it: podman's zero values where the record has none. */
static void template_row(json_t *vol)
{
	if (!json_object_get(vol, "Anonymous"))
		json_object_set_new(vol, "Anonymous", json_false());
	if (!json_object_get(vol, "NeedsCopyUp"))
		json_object_set_new(vol, "NeedsCopyUp", json_false());
	if (!json_object_get(vol, "NeedsChown"))
		json_object_set_new(vol, "NeedsChown", json_false());
	if (!json_object_get(vol, "UID"))
		json_object_set_new(vol, "UID", json_integer(0));
	if (!json_object_get(vol, "GID"))
		json_object_set_new(vol, "GID", json_integer(0));
}

/* Prints @vols through the template of @fmt; 0 or EXIT_STRATA once reported. */
static int print_template(struct cmd_ctx *ctx, const struct cmd_format *fmt, json_t *vols)
{
	static const char *const headers[] = { "Name", "VOLUME NAME", NULL };
	struct cmd_rows *rows = cmd_rows_new(ctx, fmt, volume_fields, headers);
	json_t *v;
	size_t i;

	if (!rows)
		return EXIT_STRATA;
	json_array_foreach(vols, i, v) {
		template_row(v);
		if (cmd_rows_add(rows, v) < 0) {
			cmd_rows_free(rows);
			return EXIT_STRATA;
		}
	}
	cmd_rows_print(rows);
	return 0;
}

static int cmd_volume_ls(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const keys[] = { "name",  "label", "label!", "dangling",
					    "driver", "scope", "until",	 NULL };
	struct cmd_filters f = { 0 };
	struct cmd_format fmt = { 0 };
	struct strata_error *err = NULL;
	cleanup_strv char **filters = NULL;
	cleanup_json json_t *vols = NULL;
	bool quiet = false, noheading = false;
	struct store *s;
	int ret = 0;
	size_t i;
	json_t *v;
	const struct cmd_option opts[] = {
		OPT_BOOL('q', "quiet", &quiet, "print the names only"),
		OPT_LIST('f', "filter", &filters, "KEY=VALUE",
			 "name=REGEX, label=KEY[=VALUE], label!=..., dangling=true|false,\n"
			 "driver=local, until=TIME"),
		OPT_TEMPLATE(0, &fmt, "table (default), json, or a Go template on Name, Driver,\n"
				      "Mountpoint, CreatedAt, Labels, Scope, Options"),
		OPT_BOOL('n', "noheading", &noheading, "no header row"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, ""))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	if (check_filters(ctx, filters, keys, &f)) {
		cmd_format_release(&fmt);
		return EXIT_STRATA;
	}
	vols = select_volumes(s, &f, false, &err);
	cmd_filters_release(&f);
	fmt.noheading = noheading;
	if (!vols)
		ret = cmd_fail(ctx, err);
	else if (quiet)
		json_array_foreach(vols, i, v)
			printf("%s\n", jv_str(v, "Name"));
	else if (fmt.json)
		cmd_print_json(vols);
	else if (!fmt.tmpl && !(fmt.tmpl = cmd_template_parse("table {{.Driver}}\t{{.Name}}", &err)))
		ret = cmd_fail(ctx, err);
	else
		ret = print_template(ctx, &fmt, vols);
	cmd_format_release(&fmt);
	return ret;
}

static int cmd_volume_inspect(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *out = json_array();
	struct cmd_format fmt = { 0 };
	struct strmap links = STRMAP_INIT, running = STRMAP_INIT;
	bool all = false;
	int ret = 0;
	struct store *s;
	cleanup_strv char **names = NULL;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every volume"),
		OPT_TEMPLATE('f', &fmt, "json (the default), or a Go template: '{{.Mountpoint}}'"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, -1, "VOLUME"))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	if (!all && !argc) {
		cmd_format_release(&fmt);
		return cmd_usage_error(ctx, "give a VOLUME, or --all");
	}
	if (all && store_volume_list(s, &names, &err) < 0) {
		cmd_format_release(&fmt);
		return cmd_fail(ctx, err);
	}
	cmd_volume_links(s, &links, &running);
	for (int i = 0; all ? names[i] != NULL : i < argc; i++) {
		json_t *vol = store_volume_load(s, all ? names[i] : argv[i], &err);

		if (!vol) {
			ret = cmd_fail(ctx, err);
			err = NULL;
			continue;
		}
		set_mount_count(vol, &running);
		json_array_append_new(out, vol);
	}
	strmap_release(&links, NULL);
	strmap_release(&running, NULL);
	if (fmt.tmpl) {
		struct sbuf b = SBUF_INIT;
		size_t i;
		json_t *v;

		/* inspect --format: the template once per volume, no header */
		json_array_foreach(out, i, v) {
			template_row(v);
			if (cmd_template_exec(fmt.tmpl, v, &b, &err) < 0) {
				ret = cmd_fail(ctx, err);
				err = NULL;
			}
		}
		fwrite(b.buf ? b.buf : "", 1, b.len, stdout);
		sbuf_release(&b);
	} else {
		cmd_print_json(out);
	}
	cmd_format_release(&fmt);
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

int cmd_volumes_prune(struct cmd_ctx *ctx, struct store *s, const struct cmd_filters *f,
		      char ***removed, uint64_t *bytes)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *vols = select_volumes(s, f, true, &err);
	int ret = 0;
	size_t i;
	json_t *v;

	if (!vols)
		return cmd_fail(ctx, err);
	json_array_foreach(vols, i, v) {
		const char *name = jv_str(v, "Name");
		uint64_t n = 0;

		store_volume_size(s, name, &n, NULL);
		/* one a container took meanwhile is refused here (EBUSY) and kept: not an error */
		if (store_volume_remove(s, name, &err) < 0) {
			if (strata_error_code(err) != EBUSY && strata_error_code(err) != ENOENT)
				ret = cmd_fail(ctx, err);
			else
				strata_error_free(err);
			err = NULL;
			continue;
		}
		strv_append(removed, name);
		if (bytes)
			*bytes += n;
	}
	return ret;
}

static int cmd_volume_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const keys[] = { "label", "label!", "until", NULL };
	struct cmd_filters f = { 0 };
	cleanup_strv char **filters = NULL;
	cleanup_strv char **removed = xcalloc(1, sizeof(char *));
	bool force = false;
	struct store *s;
	int ret;
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "force", &force, "do not ask"),
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "label=KEY[=VALUE], label!=KEY[=VALUE], until=TIME"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if (check_filters(ctx, filters, keys, &f))
		return EXIT_STRATA;
	if (!cmd_confirm(force, "WARNING! This will remove all volumes not used by at least one "
				"container.\nAre you sure you want to continue?")) {
		cmd_filters_release(&f);
		return cmd_failf(ctx, "not confirmed: nothing removed (use -f not to be asked)");
	}
	ret = cmd_volumes_prune(ctx, s, &f, &removed, NULL);
	cmd_filters_release(&f);
	for (size_t i = 0; removed[i]; i++)
		printf("%s\n", removed[i]);
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
	{ "volume create", "[--label KEY=VALUE]... [-o KEY=VALUE]... [NAME]",
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
