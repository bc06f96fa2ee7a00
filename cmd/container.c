/*
 * Container commands: create, mount, umount, diff, rm, ps, commit.
 */
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "layers/layers.h"
#include "overlay/overlay.h"

/* The backend for new containers and image mounts: --backend, $STRATA_BACKEND, or the default. */
static const char *backend_of(const struct cmd_ctx *ctx)
{
	return ctx->backend ? ctx->backend : overlay_backend_default();
}

/* Finds a container by ID, ID prefix or name; 1 found, 0 none, -1 error (reported). */
static int find_container(struct store *s, const char *spec, char id[STORE_ID_LEN + 1],
			  struct strata_error **err)
{
	if (store_container_find(s, spec, id, err) == 0)
		return 1;
	if (strata_error_code(*err) == ENOENT) {
		strata_error_free(*err);
		*err = NULL;
		return 0;
	}
	return -1;
}

/* Reports a failed image lookup after a failed container lookup. */
static int fail_not_found(struct cmd_ctx *ctx, const char *spec, struct strata_error *err)
{
	if (strata_error_code(err) == ENOENT) {
		strata_error_free(err);
		return cmd_failf(ctx, "no such container or image '%s'", spec);
	}
	return cmd_fail(ctx, err);
}

/* What an operand of mount or umount names. */
enum target { TARGET_NONE, TARGET_CONTAINER, TARGET_IMAGE };

/*
 * Finds the container (its ID into @id), else the image (into *@img) that
 * @spec names; reports a failure and returns TARGET_NONE.
 */
static enum target find_target(struct cmd_ctx *ctx, struct store *s, const char *spec,
			       char id[STORE_ID_LEN + 1], struct store_image **img)
{
	struct strata_error *err = NULL;
	int f = find_container(s, spec, id, &err);

	if (f < 0) {
		cmd_fail(ctx, err);
		return TARGET_NONE;
	}
	if (f)
		return TARGET_CONTAINER;
	if (store_image_load(s, spec, img, &err) < 0) {
		fail_not_found(ctx, spec, err);
		return TARGET_NONE;
	}
	return TARGET_IMAGE;
}

/* ---- mount, umount, unshare ---- */

/*
 * unshare [COMMAND [ARG...]]: as `podman unshare`, runs COMMAND (default
 * $SHELL, else /bin/sh) as root of a new user namespace, with a mount
 * namespace of its own, on the same store: a non-root user's overlay
 * mounts (strata mount) work there and go when COMMAND ends.
 */
static int cmd_unshare(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	struct strata_error *err = NULL;
	const char *shell = getenv("SHELL");
	char *sh_argv[] = { (char *)(shell && *shell ? shell : "/bin/sh"), NULL };
	char **args;
	int c;

	if (cmd_parse_options(ctx, &argc, &argv, opts, CMD_PARSE_STOP_AT_OPERAND) < 0)
		return ctx->status;
	if (geteuid() == 0)
		return cmd_failf(ctx, "already root: mounts need no user namespace, run the command as it is");
	args = argc > 0 ? argv : sh_argv;
	if (cmd_userns_enter(&err) < 0)
		return cmd_fail(ctx, err);
	/* Root here would pick /var/lib/strata: keep the caller's store and backend. */
	setenv("STRATA_ROOT", ctx->root, 1);
	if (ctx->backend)
		setenv("STRATA_BACKEND", ctx->backend, 1);
	execvp(args[0], args);
	c = errno;
	cmd_failf(ctx, "exec '%s': %s", args[0], strerror(c));
	return c == ENOENT ? 127 : 126;
}

/* Mounts (printing the path) or unmounts each container or image the operands name. */
static int mount_each(struct cmd_ctx *ctx, struct store *s, int argc, char **argv, bool umount,
		      bool force)
{
	int ret = 0;

	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;
		struct store_image *img = NULL;
		cleanup_free char *merged = NULL;
		char id[STORE_ID_LEN + 1];
		int r = 0;

		switch (find_target(ctx, s, argv[i], id, &img)) {
		case TARGET_NONE:
			ret = EXIT_STRATA;
			continue;
		case TARGET_CONTAINER:
			r = umount ? overlay_container_umount(s, id, force, &err)
				   : overlay_container_mount(s, id, &merged, &err);
			break;
		case TARGET_IMAGE:
			r = umount ? overlay_image_umount(s, ctx->backend, img->id, force, &err)
				   : overlay_image_mount(s, backend_of(ctx), img, &merged, &err);
			store_image_free(img);
			break;
		}
		if (r < 0)
			ret = cmd_fail(ctx, err);
		else if (merged)
			printf("%s\n", merged);
	}
	return ret;
}

static int cmd_mount(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	struct store *s = cmd_parse_store(ctx, &argc, &argv, opts, 1, -1, "CONTAINER or IMAGE");

	return s ? mount_each(ctx, s, argc, argv, false, false) : ctx->status;
}

static int cmd_umount(struct cmd_ctx *ctx, int argc, char **argv)
{
	bool force = false;
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "force", &force, "unmount now whatever the count, lazily if busy"),
		OPT_END(),
	};
	struct store *s = cmd_parse_store(ctx, &argc, &argv, opts, 1, -1, "CONTAINER or IMAGE");

	return s ? mount_each(ctx, s, argc, argv, true, force) : ctx->status;
}

/* ---- diff ---- */

static int cmd_diff(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct layers_change *ch = NULL;
	char id[STORE_ID_LEN + 1];
	bool json = false;
	struct store *s;
	size_t n = 0;
	const struct cmd_option opts[] = {
		OPT_FORMAT(0, &json, "lines (default) or json"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 1, 1, "CONTAINER")))
		return ctx->status;
	if (store_container_find(s, argv[0], id, &err) < 0 ||
	    overlay_container_diff(s, id, &ch, &n, &err) < 0)
		return cmd_fail(ctx, err);
	if (json) {
		cleanup_json json_t *arr = json_array();

		/* Kind as Docker's API numbers it: 0 modified, 1 added, 2 deleted. */
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *p = xasprintf("/%s", ch[i].path);
			int kind = ch[i].kind == LAYERS_CHANGE_MODIFY ? 0
				   : ch[i].kind == LAYERS_CHANGE_ADD  ? 1
								      : 2;

			json_array_append_new(arr, json_pack("{s:s, s:i}", "Path", p, "Kind", kind));
		}
		cmd_print_json(arr);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s /%s\n", overlay_change_letter(ch[i].kind), ch[i].path);
	}
	overlay_changes_free(ch, n);
	return 0;
}

/* ---- rm ---- */

/*
 * Before removing: a running container is refused, or killed with -f; a
 * cgroup left by a container whose monitor died is removed.
 */
static int release_container(struct store *s, const char *id, bool force,
			     struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, NULL);
	struct launch_cgroup *cg;
	int code;

	if (!rec)
		return 0; /* overlay removes what does not parse */
	if (launch_container_running(rec)) {
		if (!force)
			return strata_fail_msg(err, EBUSY,
					       "container '%.12s' is running; stop it first or use -f",
					       id);
		if (launch_container_kill(s, id, SIGKILL, err) < 0 ||
		    launch_container_wait(s, id, &code, err) < 0)
			return -1;
		/* Its monitor, dead too, will not remove the cgroup: do it here. */
	}
	cg = launch_cgroup_from_json(json_object_get(json_object_get(rec, "State"), "Cgroup"));
	launch_cgroup_destroy(cg);
	return 0;
}

int cmd_container_remove(struct store *s, const char *id, bool force, struct strata_error **err)
{
	return release_container(s, id, force, err) < 0 ? -1
							: overlay_container_remove(s, id, force, err);
}

struct rm_opts {
	bool force, volumes;
};

/* Removes container @id (released already) and, with -v, its anonymous volumes. */
static int rm_one(struct cmd_ctx *ctx, const char *id, const struct rm_opts *o,
		  struct strata_error **err)
{
	cleanup_json json_t *rec = o->volumes ? store_container_load(ctx->store, id, NULL) : NULL;

	if (cmd_userns_enter(err) < 0 || overlay_container_remove(ctx->store, id, o->force, err) < 0)
		return -1;
	/* -v: its anonymous volumes go with it; named ones stay, as podman */
	if (rec)
		launch_volumes_remove_anonymous(ctx->store, rec);
	return 0;
}

static int cmd_rm(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct rm_opts o = { false, false };
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "force", &o.force, "remove even when running or busy"),
		OPT_BOOL('v', "volumes", &o.volumes, "remove its anonymous volumes too"),
		OPT_END(),
	};
	char (*ids)[STORE_ID_LEN + 1] = NULL;
	bool *ok = NULL;
	int ret = 0;

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0)
		return ctx->status;
	if (cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER"))
		return EXIT_STRATA;
	if (!cmd_store(ctx))
		return EXIT_STRATA;
	ids = xcalloc((size_t)argc, sizeof(*ids));
	ok = xcalloc((size_t)argc, sizeof(*ok));
	/*
	 * All killed first, from outside any user namespace (without root the
	 * user owns every one its containers run in), then removed from inside
	 * the command's, where files of every owner may go.
	 */
	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;

		if (store_container_find(ctx->store, argv[i], ids[i], &err) < 0 ||
		    release_container(ctx->store, ids[i], o.force, &err) < 0)
			ret = cmd_fail(ctx, err);
		else
			ok[i] = true;
	}
	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;

		if (!ok[i])
			continue;
		if (rm_one(ctx, ids[i], &o, &err) < 0)
			ret = cmd_fail(ctx, err);
		else
			printf("%s\n", argv[i]);
	}
	free(ids);
	free(ok);
	return ret;
}

/* ---- ps ---- */

/* The command a container runs: its own, else the image's entrypoint and cmd. Caller frees. */
static char *command_of(const json_t *rec)
{
	json_t *cmd = json_object_get(rec, "Command");
	json_t *cc = json_object_get(rec, "Config");
	struct sbuf b = SBUF_INIT;
	json_t *parts[2] = { NULL, NULL };
	json_t *v;
	size_t i;

	if (json_array_size(cmd) > 0) {
		parts[0] = json_object_get(cc, "Entrypoint");
		parts[1] = cmd;
	} else {
		parts[0] = json_object_get(cc, "Entrypoint");
		parts[1] = json_object_get(cc, "Cmd");
	}
	for (int k = 0; k < 2; k++) {
		json_array_foreach(parts[k], i, v)
		{
			if (!json_is_string(v))
				continue;
			sbuf_addf(&b, "%s%s", b.len ? " " : "", json_string_value(v));
		}
	}
	return sbuf_detach(&b, NULL);
}

/* The destinations of the container's mounts, as podman's ps shows them (a new array). */
static json_t *mount_destinations(const json_t *rec)
{
	cleanup_json json_t *mounts = launch_mounts_inspect(rec);
	json_t *out = json_array();
	json_t *m;
	size_t i;

	json_array_foreach(mounts, i, m)
		json_array_append(out, json_object_get(m, "Destination"));
	return out;
}

const char *cmd_container_state(const json_t *rec)
{
	const char *st = jv_str(json_object_get(rec, "State"), "Status");

	if (st && strcmp(st, "running") == 0 && !launch_container_running(rec))
		return "exited";
	return st ? st : "created";
}

/* "Created", "Up 3 minutes", "Exited (1) 2 hours ago", as docker prints. Caller frees. */
static char *status_text(const json_t *rec)
{
	json_t *state = json_object_get(rec, "State");
	const char *st = cmd_container_state(rec);
	int64_t sec = 0;

	if (strcmp(st, "running") == 0) {
		const char *at = jv_str(state, "StartedAt");
		const char *view;
		cleanup_free char *ago = NULL;

		if (at && time_parse_rfc3339(at, &sec, NULL) == 0) {
			ago = time_ago(sec);
			/* time_ago says "N units ago"; docker says "Up N units". */
			if (str_has_suffix(ago, " ago"))
				ago[strlen(ago) - 4] = '\0';
			/* a dead /proc view server: the container's view files fail */
			view = launch_container_view_state(rec);
			if (view && !strcmp(view, "dead"))
				return xasprintf("Up %s (proc view dead)", ago);
			return xasprintf("Up %s", ago);
		}
		return xstrdup("Up");
	}
	if (strcmp(st, "exited") == 0) {
		const char *at = jv_str(state, "FinishedAt");
		cleanup_free char *ago = NULL;

		if (at && time_parse_rfc3339(at, &sec, NULL) == 0)
			ago = time_ago(sec);
		/* Killed with its monitor, no status was written: 137, as wait says. */
		return xasprintf("Exited (%lld)%s%s", (long long)jv_int(state, "ExitCode", 137),
				 ago ? " " : "", ago ? ago : "");
	}
	if (strcmp(st, "created") == 0)
		return xstrdup("Created");
	return xstrdup(st);
}

/* The fields of a row of `ps --format`, podman's names, and the headers not derived from them. */
static const char *const ps_fields[] = {
	"ID",	     "Id",	   "Image",	 "ImageID",    "Command",  "CreatedAt", "Created",
	"CreatedHuman", "RunningFor", "Status",	 "State",      "Names",	   "Ports",	"Labels",
	"Mounts",    "Networks",   "Pod",	 "PodName",    "ExitCode", "Exited",	"ExitedAt",
	"StartedAt", "Pid",	   "AutoRemove", "IsInfra",    "Namespaces", "Backend", NULL,
};
static const char *const ps_headers[] = {
	"ID", "CONTAINER ID", "Pod", "POD ID", "CreatedHuman", "CREATED", NULL,
};

static const char *const ps_filter_keys[] = { "status", "ancestor", "name", "id", "label",
					      "exited", "before", "since", "until", NULL };

static int64_t rec_time(const json_t *o, const char *key, long *nsec)
{
	int64_t sec = 0;
	const char *v = jv_str(o, key);

	if (nsec)
		*nsec = 0;
	if (v)
		time_parse_rfc3339(v, &sec, nsec);
	return sec;
}

/* The row of container @rec for a template (podman's psReporter). */
static json_t *ps_row(const json_t *rec, bool no_trunc)
{
	json_t *o = json_object();
	json_t *state = json_object_get(rec, "State");
	json_t *rc = json_object_get(rec, "RunConfig");
	json_t *labels = json_object_get(json_object_get(rec, "Config"), "Labels");
	json_t *mounts = json_array(), *m;
	const char *id = jv_str(rec, "Id");
	const char *st = cmd_container_state(rec);
	cleanup_free char *cmd = command_of(rec);
	cleanup_free char *status = status_text(rec);
	cleanup_free char *at = NULL;
	cleanup_free char *ago = NULL;
	int64_t sec;
	long nsec;
	size_t i;

	sec = rec_time(rec, "Created", &nsec);
	at = cmd_go_time(sec, nsec);
	ago = time_ago(sec);
	json_array_foreach(json_object_get(rc, "Mounts"), i, m)
		if (jv_str(m, "Destination"))
			json_array_append_new(mounts, json_string(jv_str(m, "Destination")));
	if (no_trunc)
		jv_set_str(o, "ID", id);
	else
		json_object_set_new(o, "ID", json_stringn(id, 12));
	jv_set_str(o, "Id", id);
	jv_set_str(o, "Image", jv_str(rec, "ImageName"));
	{
		const char *img = digest_hex(jv_str(rec, "Image") ? jv_str(rec, "Image") : "");

		json_object_set_new(o, "ImageID", json_stringn(img, no_trunc ? strlen(img)
									 : strnlen(img, 12)));
	}
	jv_set_str(o, "Command", cmd);
	jv_set_str(o, "CreatedAt", at);
	jv_set_str(o, "Created", at);
	jv_set_str(o, "CreatedHuman", ago);
	jv_set_str(o, "RunningFor", ago);
	jv_set_str(o, "Status", status);
	jv_set_str(o, "State", status);
	jv_set_str(o, "Names", jv_str(rec, "Name") ? jv_str(rec, "Name") : "");
	jv_set_str(o, "Ports", "");
	json_object_set_new(o, "Labels", json_is_object(labels) ? json_incref(labels) : json_object());
	json_object_set_new(o, "Mounts", mounts);
	json_object_set_new(o, "Networks", json_array());
	jv_set_str(o, "Pod", "");
	jv_set_str(o, "PodName", "");
	json_object_set_new(o, "ExitCode", json_integer(jv_int(state, "ExitCode", 0)));
	json_object_set_new(o, "Exited", json_boolean(!strcmp(st, "exited")));
	json_object_set_new(o, "ExitedAt", json_integer(rec_time(state, "FinishedAt", NULL)));
	json_object_set_new(o, "StartedAt", json_integer(rec_time(state, "StartedAt", NULL)));
	json_object_set_new(o, "Pid", json_integer(strcmp(st, "running") ? 0
									 : jv_int(state, "Pid", 0)));
	json_object_set_new(o, "AutoRemove", json_boolean(json_is_true(json_object_get(rc, "AutoRemove"))));
	json_object_set_new(o, "IsInfra", json_false());
	json_object_set_new(o, "Namespaces", json_object());
	jv_set_str(o, "Backend", jv_str(rec, "Backend"));
	return o;
}

/* The container @spec names: its created time (before=, since=). */
static int container_created(struct cmd_ctx *ctx, struct store *s, const char *spec, int64_t *out)
{
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	cleanup_json json_t *rec = NULL;

	if (store_container_find(s, spec, id, &err) < 0 || !(rec = store_container_load(s, id, &err)))
		return cmd_fail(ctx, err);
	*out = rec_time(rec, "Created", NULL);
	return 0;
}

struct ps_filter_ctx {
	struct cmd_filters f;
	int64_t before, since;
};

static bool ps_filter_one(struct store *s, const struct ps_filter_ctx *c, const json_t *rec,
			  const char *key, const char *val)
{
	const char *id = jv_str(rec, "Id"), *name = jv_str(rec, "Name");
	const char *image = jv_str(rec, "ImageName"), *image_id = jv_str(rec, "Image");
	const char *st = cmd_container_state(rec);
	int64_t created = rec_time(rec, "Created", NULL), t;

	if (!strcmp(key, "status"))
		return !strcmp(st, val) || (!strcmp(val, "stopped") && !strcmp(st, "exited"));
	if (!strcmp(key, "id"))
		return str_has_prefix(id, val);
	if (!strcmp(key, "name")) {
		regex_t re;
		bool m;

		/* podman: a regular expression on the name */
		if (!name || regcomp(&re, val, REG_EXTENDED | REG_NOSUB))
			return name && strstr(name, val);
		m = regexec(&re, name, 0, NULL, 0) == 0;
		regfree(&re);
		return m;
	}
	if (!strcmp(key, "label"))
		return cmd_label_matches(json_object_get(json_object_get(rec, "Config"), "Labels"), val);
	if (!strcmp(key, "exited"))
		return !strcmp(st, "exited") &&
		       jv_int(json_object_get(rec, "State"), "ExitCode", 137) == atoll(val);
	if (!strcmp(key, "ancestor")) {
		struct store_image *img = NULL;
		bool m;

		if (image && (fnmatch(val, image, 0) == 0 || !strcmp(image, val)))
			return true;
		if (image_id && str_has_prefix(digest_hex(image_id), val))
			return true;
		/* a name as the user writes it (busybox for busybox:latest), or another name of it */
		if (store_image_load(s, val, &img, NULL) < 0)
			return false;
		m = image_id && !strcmp(img->id, image_id);
		store_image_free(img);
		return m;
	}
	if (!strcmp(key, "before"))
		return created < c->before;
	if (!strcmp(key, "since"))
		return created > c->since;
	if (!strcmp(key, "until"))
		return cmd_time_parse(val, &t) == 0 && created < t;
	return false;
}

static bool ps_filter(struct store *s, const struct ps_filter_ctx *c, const json_t *rec)
{
	for (size_t i = 0; i < c->f.n; i++) {
		bool any = false;

		for (size_t k = 0; !any && c->f.v[i].values[k]; k++)
			any = ps_filter_one(s, c, rec, c->f.v[i].key, c->f.v[i].values[k]);
		if (!any)
			return false;
	}
	return true;
}

static int ps_filter_setup(struct cmd_ctx *ctx, struct store *s, char **specs,
			   struct ps_filter_ctx *c)
{
	static const char *const states[] = { "created", "running", "exited", "stopped", "paused",
					      NULL };
	char *const *v;

	if (cmd_filters_parse(ctx, specs, ps_filter_keys, &c->f))
		return EXIT_STRATA;
	for (v = cmd_filters_get(&c->f, "status"); v && *v; v++) {
		size_t k;

		for (k = 0; states[k] && strcmp(states[k], *v); k++)
			;
		if (!states[k])
			return cmd_usage_error(ctx, "invalid filter 'status=%s' (want created, running, "
						    "exited, stopped or paused)", *v);
	}
	for (v = cmd_filters_get(&c->f, "exited"); v && *v; v++) {
		char *end = NULL;

		strtol(*v, &end, 10);
		if (!**v || *end)
			return cmd_usage_error(ctx, "invalid filter 'exited=%s' (an exit code)", *v);
	}
	for (v = cmd_filters_get(&c->f, "until"); v && *v; v++) {
		int64_t t;

		if (cmd_time_parse(*v, &t) < 0)
			return cmd_usage_error(ctx, "invalid filter 'until=%s' (a time or a duration)",
					       *v);
	}
	c->before = INT64_MAX;
	c->since = INT64_MIN;
	for (v = cmd_filters_get(&c->f, "before"); v && *v; v++) {
		int64_t t;

		if (container_created(ctx, s, *v, &t))
			return EXIT_STRATA;
		c->before = c->before == INT64_MAX || t > c->before ? t : c->before;
	}
	for (v = cmd_filters_get(&c->f, "since"); v && *v; v++) {
		int64_t t;

		if (container_created(ctx, s, *v, &t))
			return EXIT_STRATA;
		c->since = t < c->since || c->since == INT64_MIN ? t : c->since;
	}
	return 0;
}

static int cmd_ps(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const hdr[] = { "CONTAINER ID", "IMAGE",  "COMMAND", "CREATED",
					   "STATUS",	   "NAMES", NULL };
	struct strata_error *err = NULL;
	cleanup_json json_t *recs = NULL;
	cleanup_json json_t *out = json_array();
	cleanup_strv char **filters = NULL;
	struct ps_filter_ctx fc = { 0 };
	struct cmd_format fmt = { 0 };
	bool all = false, quiet = false, no_trunc = false, noheading = false;
	struct cmd_table *t = NULL;
	struct cmd_rows *rows = NULL;
	struct store *s;
	int ret = 0;
	json_t *rec;
	size_t i;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "all containers (default: running ones)"),
		OPT_BOOL('q', "quiet", &quiet, "only IDs"),
		/* -n: accepted for --no-trunc as it always was, unlisted (podman's -n is --last) */
		OPT_BOOL(0, "no-trunc", &no_trunc, "full IDs and commands"),
		{ CMD_OPTION_BOOL, 'n', NULL, &no_trunc, NULL, NULL, CMD_OPTION_HIDDEN, NULL, 0, 0 },
		OPT_BOOL(0, "noheading", &noheading, "no header row"),
		OPT_LIST('f', "filter", &filters, "KEY=VALUE",
			 "status=STATE, ancestor=IMAGE, name=REGEX, id=ID, label=KEY[=VALUE],\n"
			 "exited=CODE, before=CONTAINER, since=CONTAINER, until=TIME\n"
			 "(one key's values: any; keys: all)"),
		OPT_TEMPLATE(0, &fmt, "table (default), json, or a Go template:\n"
				      "'table {{.ID}}\\t{{.Names}}\\t{{.Status}}'"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, ""))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	fmt.noheading = noheading;
	if ((ret = ps_filter_setup(ctx, s, filters, &fc)))
		goto out;
	/* a filter looks at every container, as podman's */
	if (fc.f.n)
		all = true;
	if (overlay_container_list(s, &recs, &err) < 0) {
		ret = cmd_fail(ctx, err);
		goto out;
	}
	if (fmt.tmpl && !quiet && !(rows = cmd_rows_new(ctx, &fmt, ps_fields, ps_headers))) {
		ret = EXIT_STRATA;
		goto out;
	}
	if (!fmt.json && !quiet && !rows)
		t = cmd_table_new(hdr);
	json_array_foreach(recs, i, rec)
	{
		const char *id = jv_str(rec, "Id");
		const char *created = jv_str(rec, "Created");
		cleanup_free char *cmd = NULL;
		cleanup_free char *status = NULL;
		cleanup_free char *shown = NULL;
		cleanup_free char *ago = NULL;
		cleanup_free char *sid = NULL;
		int64_t sec = 0;

		if (!id)
			continue;
		if (!all && strcmp(cmd_container_state(rec), "running") != 0)
			continue;
		if (fc.f.n && !ps_filter(s, &fc, rec))
			continue;
		if (rows) {
			cleanup_json json_t *row = ps_row(rec, no_trunc);

			if (cmd_rows_add(rows, row) < 0) {
				ret = EXIT_STRATA;
				break;
			}
			continue;
		}
		cmd = command_of(rec);
		status = status_text(rec);
		if (created)
			time_parse_rfc3339(created, &sec, NULL);
		if (fmt.json) {
			json_t *o = json_object();
			const char *name = jv_str(rec, "Name");

			jv_set_str(o, "Id", id);
			json_object_set_new(o, "Names", json_pack("[s]", name ? name : ""));
			jv_set_str(o, "Image", jv_str(rec, "ImageName"));
			jv_set_str(o, "ImageID", jv_str(rec, "Image"));
			jv_set_str(o, "Command", cmd);
			json_object_set_new(o, "Created", json_integer(sec));
			jv_set_str(o, "CreatedAt", created);
			jv_set_str(o, "State", cmd_container_state(rec));
			jv_set_str(o, "Status", status);
			jv_set_str(o, "ProcView", launch_container_view_state(rec));
			json_object_set(o, "Mounted", json_object_get(rec, "Mounted"));
			json_object_set_new(o, "Mounts", mount_destinations(rec));
			jv_set_str(o, "Backend", jv_str(rec, "Backend"));
			json_array_append_new(out, o);
			continue;
		}
		sid = no_trunc ? xstrdup(id) : xstrndup(id, 12);
		if (quiet) {
			printf("%s\n", sid);
			continue;
		}
		ago = time_ago(sec);
		/* docker quotes the command and cuts it at 20 characters. */
		if (!no_trunc && strlen(cmd) > 20)
			shown = xasprintf("\"%.19s…\"", cmd);
		else
			shown = xasprintf("\"%s\"", cmd);
		cmd_table_add(t, (const char *const[]){ sid, jv_str(rec, "ImageName"), shown, ago,
							status, jv_str(rec, "Name") });
	}
	if (ret)
		cmd_rows_free(rows);
	else
		cmd_rows_print(rows);
	if (fmt.json && !ret)
		cmd_print_json(out);
	if (t)
		cmd_table_print(t, noheading);
out:
	cmd_filters_release(&fc.f);
	cmd_format_release(&fmt);
	return ret;
}

/* ---- commit ---- */

static int cmd_commit(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct overlay_commit_opts o = { .compression = LAYERS_COMPRESSION_GZIP, .timestamp = -1 };
	bool pause = true, frozen = false;
	cleanup_json json_t *rec = NULL;
	int r;
	struct strata_error *err = NULL;
	cleanup_strv char **changes = NULL;
	cleanup_json json_t *probe = NULL;
	char id[STORE_ID_LEN + 1];
	char image_id[DIGEST_STR_LEN];
	struct store_ref ref;
	bool quiet = false;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_STRING('m', "message", &o.message, "TEXT", "history comment"),
		OPT_STRING('a', "author", &o.author, "NAME", "the image's author"),
		OPT_LIST('c', "change", &changes, "INSTR",
			 "apply a Dockerfile instruction (CMD, ENV, ...)"),
		OPT_CALLBACK(0, "compression", &o.compression, "ALGO", "gzip (default) or zstd",
			     cmd_option_compressed),
		OPT_CALLBACK(0, "pause", &pause, "true|false",
			     "freeze a running container while its change is read (default true)",
			     cmd_option_bool_arg),
		OPT_BOOL('q', "quiet", &quiet, "(accepted; only the ID is printed anyway)"),
		OPT_BOOL(0, "rm", &o.remove,
			 "remove the container; its upper dir becomes the layer's (moved)"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 2, 2, "CONTAINER and NAME[:TAG]") < 0)
		return ctx->status;
	/* Cheap checks first: the name, and every change on a scratch config. */
	if (store_ref_parse(argv[1], &ref, &err) < 0)
		return cmd_fail(ctx, err);
	if (ref.digest) {
		store_ref_release(&ref);
		return cmd_failf(ctx, "cannot name an image with a digest reference '%s'", argv[1]);
	}
	store_ref_release(&ref);
	probe = store_config_new(0);
	for (size_t i = 0; changes && changes[i]; i++)
		if (store_config_apply_change(probe, changes[i], &err) < 0)
			return cmd_fail(ctx, err);
	o.changes = changes;
	o.tag = argv[1];
	o.timestamp = time_source_date_epoch();
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (store_container_find(s, argv[0], id, &err) < 0)
		return cmd_fail(ctx, err);
	rec = store_container_load(s, id, &err);
	if (!rec)
		return cmd_fail(ctx, err);
	if (launch_container_running(rec) && o.remove)
		return cmd_failf(ctx, "cannot remove running container '%.12s': stop it first", id);
	if (launch_container_running(rec)) {
		/* Commit while running: frozen (unless --pause=false) while the change is read. */
		o.running_ok = true;
		if (pause) {
			if (launch_container_freeze(s, id, &err) < 0)
				return cmd_fail(ctx, err);
			frozen = true;
		}
	}
	r = overlay_container_commit(s, id, &o, image_id, &err);
	if (frozen) {
		struct strata_error *e2 = NULL;

		if (launch_container_thaw(s, id, &e2) < 0) {
			if (r == 0)
				return cmd_fail(ctx, e2);
			strata_error_free(e2);
		}
	}
	if (r < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", digest_hex(image_id));
	return 0;
}

const struct command cmd_container_commands[] = {
	{ "create", "[options] IMAGE [COMMAND [ARG...]]", "create a container (prints its ID)",
	  cmd_create_container },
	{ "mount", "CONTAINER|IMAGE [...]",
	  "mount a container's rootfs, or an image read-only; prints the path", cmd_mount },
	{ "umount", "[options] CONTAINER|IMAGE [...]", "unmount (when the last user is done)",
	  cmd_umount },
	{ "unshare", "[COMMAND [ARG...]]",
	  "without root: run a command as root of a user namespace, where mount works",
	  cmd_unshare },
	{ "diff", "[options] CONTAINER", "list changed files: A added, C changed, D deleted",
	  cmd_diff },
	{ "rm", "[options] CONTAINER [...]", "remove containers and their filesystems", cmd_rm },
	{ "ps", "[options]", "list containers", cmd_ps },
	{ "commit", "[options] CONTAINER NAME[:TAG]",
	  "make an image from a container's changes (prints the image ID)", cmd_commit },
	{ NULL, NULL, NULL, NULL },
};
