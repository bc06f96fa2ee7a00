/*
 * build: images from a Containerfile/Dockerfile (recipe/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "recipe/recipe.h"

/* -t NAME[:TAG]: a name, not a digest reference; repeatable. */
static int opt_tag(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct strata_error *err = NULL;
	struct store_ref r;

	if (store_ref_parse(arg, &r, &err) < 0)
		return cmd_fail(ctx, err);
	if (r.digest) {
		store_ref_release(&r);
		return cmd_usage_error(ctx, "cannot tag with a digest reference '%s'", arg);
	}
	store_ref_release(&r);
	strv_append(opt->value, arg);
	return 0;
}

/* "--build-arg KEY" takes KEY from the environment, as docker. */
static int opt_build_arg(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	const char *v;

	(void)ctx;
	if (strchr(arg, '=')) {
		strv_append(opt->value, arg);
	} else if ((v = getenv(arg))) {
		cleanup_free char *kv = xasprintf("%s=%s", arg, v);

		strv_append(opt->value, kv);
	}
	return 0;
}

static int opt_network(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (strcmp(arg, "host") != 0 && strcmp(arg, "none") != 0)
		return cmd_usage_error(ctx, "invalid --network '%s' (host or none)", arg);
	*(const char **)opt->value = arg;
	return 0;
}

static int opt_label(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (!strchr(arg, '=') || arg[0] == '=')
		return cmd_usage_error(ctx, "invalid --label '%s' (KEY=VALUE)", arg);
	strv_append(opt->value, arg);
	return 0;
}

/* @s split at each @sep. Caller frees. */
static char **split(const char *s, char sep)
{
	char **out = xcalloc(1, sizeof(char *));

	for (;;) {
		const char *e = strchr(s, sep);
		cleanup_free char *w = xstrndup(s, e ? (size_t)(e - s) : strlen(s));

		strv_append(&out, w);
		if (!e)
			return out;
		s = e + 1;
	}
}

/* --secret id=ID,src=FILE | id=ID,env=VAR (buildx's form; type=file|env optional). */
static int opt_secret(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	cleanup_strv char **fields = split(arg, ',');
	const char *id = NULL, *src = NULL, *env = NULL, *type = NULL;

	for (size_t i = 0; fields[i]; i++) {
		char *eq = strchr(fields[i], '=');

		if (!eq)
			return cmd_usage_error(ctx, "--secret '%s': '%s' is not KEY=VALUE", arg,
					       fields[i]);
		*eq = '\0';
		if (!strcmp(fields[i], "id"))
			id = eq + 1;
		else if (!strcmp(fields[i], "src") || !strcmp(fields[i], "source"))
			src = eq + 1;
		else if (!strcmp(fields[i], "env"))
			env = eq + 1;
		else if (!strcmp(fields[i], "type"))
			type = eq + 1;
		else
			return cmd_usage_error(ctx, "--secret '%s': unknown key '%s' (id, src, env, "
						    "type)",
					       arg, fields[i]);
	}
	if (type && strcmp(type, "file") && strcmp(type, "env"))
		return cmd_usage_error(ctx, "--secret '%s': type must be file or env", arg);
	if (!id || !*id)
		return cmd_usage_error(ctx, "--secret '%s': no id", arg);
	if (!src && !env && type && !strcmp(type, "env"))
		env = id;
	if ((!src && !env) || (src && env))
		return cmd_usage_error(ctx, "--secret '%s': give one of src=FILE or env=VAR", arg);
	{
		cleanup_free char *kv = xasprintf("%s\n%s\n%s", id, src ? "src" : "env",
						  src ? src : env);

		strv_append(opt->value, kv);
	}
	return 0;
}

/* --ssh ID[=SOCKET]: the agent socket; "default" alone means $SSH_AUTH_SOCK. */
static int opt_ssh(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	const char *eq = strchr(arg, '=');
	cleanup_free char *id = xstrndup(arg, eq ? (size_t)(eq - arg) : strlen(arg));
	const char *sock = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	cleanup_free char *kv = NULL;

	if (!*id || strchr(id, ','))
		return cmd_usage_error(ctx, "invalid --ssh '%s' (ID[=SOCKET])", arg);
	if (!sock || !*sock)
		return cmd_usage_error(ctx, "--ssh '%s': no socket given and SSH_AUTH_SOCK is unset",
				       arg);
	kv = xasprintf("%s=%s", id, sock);
	strv_append(opt->value, kv);
	return 0;
}

/* Largest secret read (buildkit's limit). */
#define BUILD_SECRET_MAX (500u << 10)

/* Reads the secrets --secret named: "ID\nsrc|env\nWHERE" each. */
static int load_secrets(char *const *specs, struct recipe_secret **out, char ***data,
			struct strata_error **err)
{
	size_t n = strv_len(specs);

	*out = xcalloc(n + 1, sizeof(**out));
	*data = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		cleanup_strv char **f = split(specs[i], '\n');
		size_t len = 0;
		char *buf = NULL;

		if (!strcmp(f[1], "src")) {
			cleanup_close int fd = open(f[2], O_RDONLY | O_CLOEXEC);

			if (fd < 0 || file_read_fd(fd, BUILD_SECRET_MAX, &buf, &len, err) < 0) {
				if (fd < 0)
					strata_fail(err, errno, "secret '%s': '%s'", f[0], f[2]);
				return strata_wrap(err, "--secret id=%s", f[0]);
			}
		} else {
			const char *v = getenv(f[2]);

			if (!v)
				return strata_fail_msg(err, ENOENT,
						       "--secret id=%s: environment variable '%s' is "
						       "not set",
						       f[0], f[2]);
			buf = xstrdup(v);
			len = strlen(v);
		}
		(*data)[i] = buf;
		(*out)[i].id = xstrdup(f[0]);
		(*out)[i].data = buf;
		(*out)[i].len = len;
	}
	return 0;
}

static int cmd_build(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct recipe_build_opts o = { .layers = true, .timestamp = -1, .network = "host",
				       .compression = LAYERS_COMPRESSION_GZIP };
	cleanup_strv char **tags = xcalloc(1, sizeof(char *));
	cleanup_strv char **build_args = xcalloc(1, sizeof(char *));
	cleanup_strv char **labels = xcalloc(1, sizeof(char *));
	cleanup_strv char **secret_specs = xcalloc(1, sizeof(char *));
	cleanup_strv char **ssh = xcalloc(1, sizeof(char *));
	struct strata_error *err = NULL;
	bool quiet = false;
	char id[DIGEST_STR_LEN];
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('t', "tag", &tags, "NAME[:TAG]", "name the image (repeatable)", opt_tag),
		OPT_STRING('f', "file", &o.file, "FILE",
			   "the recipe (default CONTEXT/Containerfile, then\n"
			   "CONTEXT/Dockerfile; '-' reads stdin)"),
		OPT_CALLBACK(0, "build-arg", &build_args, "KEY[=VALUE]",
			     "value of an ARG (KEY alone: from the environment)", opt_build_arg),
		OPT_STRING(0, "target", &o.target, "STAGE", "build up to this stage (name or index)"),
		OPT_BOOL(0, "no-cache", &o.no_cache, "run every step, ignoring the build cache"),
		OPT_CALLBACK(0, "timestamp", &o.timestamp, "N",
			     "created times and file mtimes set to N (seconds\n"
			     "since the epoch; default $SOURCE_DATE_EPOCH)",
			     cmd_option_timestamp),
		OPT_CALLBACK_OPTARG(0, "layers", &o.layers, "true|false",
				    "one cached image per step (default true); false:\n"
				    "no build cache",
				    cmd_option_bool_arg),
		OPT_CALLBACK(0, "network", &o.network, "host|none",
			     "network of RUN steps (default host)", opt_network),
		OPT_CALLBACK(0, "compression", &o.compression, "gzip|zstd",
			     "layer compression (default gzip)", cmd_option_compressed),
		OPT_CALLBACK(0, "label", &labels, "KEY=VALUE",
			     "set a label on the image (repeatable)", opt_label),
		OPT_STRING(0, "platform", &o.platform, "OS/ARCH",
			   "the platform to build for: only this machine's"),
		OPT_BOOL('q', "quiet", &quiet, "print only the image ID"),
		OPT_CALLBACK(0, "secret", &secret_specs, "id=ID,src=FILE|env=VAR",
			     "a secret RUN --mount=type=secret shows (repeatable;\n"
			     "never stored)",
			     opt_secret),
		OPT_CALLBACK(0, "ssh", &ssh, "ID[=SOCKET]",
			     "an ssh agent socket RUN --mount=type=ssh shows\n"
			     "(repeatable; 'default' alone: $SSH_AUTH_SOCK)",
			     opt_ssh),
		OPT_END(),
	};
	cleanup_strv char **secret_data = NULL;
	struct recipe_secret *secrets = NULL;
	int ret;

	if (cmd_parse_args(ctx, &argc, &argv, opts, 0, 1, "CONTEXT") < 0)
		return ctx->status;
	o.context = argc > 0 ? argv[0] : ".";
	if (o.timestamp < 0)
		o.timestamp = time_source_date_epoch();
	o.tags = tags;
	o.build_args = build_args;
	o.labels = labels;
	o.ssh = ssh;
	o.backend = ctx->backend;
	o.out = quiet ? NULL : stdout;
	o.run_stdout = quiet ? -1 : STDOUT_FILENO;
	o.run_stderr = quiet ? -1 : STDERR_FILENO;
	/*
	 * Without root the whole build runs as root of a user namespace (as
	 * buildah does): the working containers' overlays are mounted there,
	 * where COPY writes and RUN starts.
	 */
	if (geteuid() != 0 && launch_userns_enter(&err) < 0)
		return cmd_fail(ctx, err);
	ret = load_secrets(secret_specs, &secrets, &secret_data, &err);
	o.secrets = secrets;
	o.n_secrets = strv_len(secret_specs);
	if (ret == 0 && !(s = cmd_store(ctx)))
		ret = -2;
	else if (ret == 0)
		ret = recipe_build(s, &o, id, &err);
	for (size_t i = 0; secrets && secrets[i].id; i++) {
		explicit_bzero(secret_data[i], secrets[i].len);
		free((char *)secrets[i].id);
	}
	free(secrets);
	if (ret == -2)
		return EXIT_STRATA;
	if (ret < 0) {
		fflush(stdout);
		return cmd_fail(ctx, err);
	}
	printf("%s\n", digest_hex(id));
	return 0;
}

/* ---- builder prune ---- */

/*
 * The age "until=" names, in seconds: a Go-style duration ("24h", "1h30m",
 * "90s"), or a time (RFC 3339, or seconds since the epoch) turned into the
 * age of an entry written then. -1 when the value is neither.
 */
static int64_t parse_until(const char *v)
{
	int64_t sec, total = 0;
	long nsec;
	const char *p = v;
	char *end;

	if (time_parse_rfc3339(v, &sec, &nsec) == 0)
		return time_now_ns() / 1000000000LL - sec;
	sec = strtoll(v, &end, 10);
	if (*v && !*end && sec >= 0)
		return time_now_ns() / 1000000000LL - sec;
	if (!*p)
		return -1;
	while (*p) {
		double n = strtod(p, &end);

		if (end == p || n < 0)
			return -1;
		switch (*end) {
		case 'h':
			n *= 3600;
			break;
		case 'm':
			n *= 60;
			break;
		case 's':
			break;
		default:
			return -1;
		}
		total += (int64_t)n;
		p = end + 1;
	}
	return total;
}

static void print_key(const char *key, void *arg)
{
	(void)arg;
	printf("%s\n", digest_hex(key));
}

static void print_cachedir(const char *id, void *arg)
{
	(void)arg;
	printf("cache mount '%s'\n", id);
}

/* --filter until=AGE: the only filter there is. */
static int opt_filter(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	int64_t *age = opt->value;

	if (!str_has_prefix(arg, "until="))
		return cmd_usage_error(ctx, "unknown filter '%s' (want until=DURATION)", arg);
	*age = parse_until(arg + strlen("until="));
	if (*age < 0)
		return cmd_usage_error(ctx, "filter '%s': want a duration (24h, 90m) or a time", arg);
	return 0;
}

static int cmd_builder_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct store_cache_prune_opts o = { false, -1 };
	struct strata_error *err = NULL;
	struct store_gc_stats st;
	cleanup_free char *bytes = NULL;
	uint64_t removed = 0, mounts = 0;
	bool force = false;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &o.all,
			 "every entry (default: those whose image no tag\nor container uses)"),
		OPT_CALLBACK(0, "filter", &o.until_age, "until=AGE",
			     "only entries older than AGE (24h, 90m) or made\n"
			     "before a time (RFC 3339, seconds since the epoch)",
			     opt_filter),
		OPT_BOOL('f', "force", &force, "accepted; strata never asks"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if (store_cache_prune(s, &o, print_key, NULL, &removed, &err) < 0)
		return cmd_fail(ctx, err);
	/* RUN --mount=type=cache dirs no build uses now: gc keeps them, prune frees them */
	if (store_cachedir_prune(s, o.until_age, print_cachedir, NULL, &mounts, &err) < 0)
		return cmd_fail(ctx, err);
	/* What only those entries kept alive goes now, as podman's prune frees it at once. */
	if (store_gc(s, NULL, NULL, &st, &err) < 0)
		return cmd_fail(ctx, err);
	bytes = size_human(st.blob_bytes);
	printf("removed %llu build cache entries, %llu cache mounts; freed %llu blobs (%s), %llu "
	       "layer dirs\n",
	       (unsigned long long)removed, (unsigned long long)mounts,
	       (unsigned long long)st.blobs, bytes, (unsigned long long)st.layers);
	return 0;
}

const struct command cmd_build_commands[] = {
	{ "build", "[options] [CONTEXT]", "build an image from a Containerfile or Dockerfile",
	  cmd_build },
	{ "builder prune", "[options]", "remove build cache entries and what only they kept",
	  cmd_builder_prune },
	{ NULL, NULL, NULL, NULL },
};
