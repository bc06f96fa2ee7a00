/*
 * run commands: run, create's run options, start, stop, kill, wait, logs,
 * exec, stats, bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "layers/layers.h"
#include "overlay/overlay.h"

enum {
	OPT_RM = 0x2000,
	OPT_ENV_FILE,
	OPT_HOSTNAME,
	OPT_ENTRYPOINT,
	OPT_TMPFS,
	OPT_READ_ONLY,
	OPT_MEMORY,
	OPT_MEMORY_SWAP,
	OPT_CPUS,
	OPT_CPU_SHARES,
	OPT_CPUSET,
	OPT_PIDS,
	OPT_NET,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_SECURITY,
	OPT_INIT,
	OPT_NAME,
	OPT_STOP_SIGNAL,
};

static const struct option run_opts[] = {
	{ "rm", no_argument, NULL, OPT_RM },
	{ "detach", no_argument, NULL, 'd' },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
	{ "volume", required_argument, NULL, 'v' },
	{ "tmpfs", required_argument, NULL, OPT_TMPFS },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "memory-swap", required_argument, NULL, OPT_MEMORY_SWAP },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "cpu-shares", required_argument, NULL, OPT_CPU_SHARES },
	{ "cpuset-cpus", required_argument, NULL, OPT_CPUSET },
	{ "pids-limit", required_argument, NULL, OPT_PIDS },
	{ "net", required_argument, NULL, OPT_NET },
	{ "network", required_argument, NULL, OPT_NET },
	{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
	{ "cap-drop", required_argument, NULL, OPT_CAP_DROP },
	{ "security-opt", required_argument, NULL, OPT_SECURITY },
	{ "init", no_argument, NULL, OPT_INIT },
	{ "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
	CMD_OPT_HELP,
	CMD_OPT_END,
};

#define RUN_OPTS_HELP                                                                              \
	"      --name NAME            name the container\n"                                      \
	"  -e, --env KEY=VALUE        set an environment variable (KEY alone: from here)\n"       \
	"      --env-file FILE        read KEY=VALUE lines\n"                                     \
	"  -w, --workdir DIR          working directory\n"                                        \
	"  -u, --user USER[:GROUP]    user (names from the container's /etc/passwd)\n"            \
	"      --hostname NAME        hostname (default: the short ID)\n"                         \
	"      --entrypoint CMD       replace the image's entrypoint (and its Cmd)\n"             \
	"  -v, --volume SRC:DST[:ro]  bind mount a host path\n"                                   \
	"      --tmpfs DST            mount a tmpfs\n"                                            \
	"      --read-only            read-only rootfs\n"                                         \
	"      --memory SIZE          memory limit (64m)\n"                                       \
	"      --memory-swap SIZE     memory + swap limit (-1: unlimited swap)\n"                 \
	"      --cpus N               CPU limit (0.5)\n"                                          \
	"      --cpu-shares N         relative CPU weight\n"                                      \
	"      --cpuset-cpus LIST     CPUs allowed (0-1)\n"                                       \
	"      --pids-limit N         maximum number of processes\n"                              \
	"      --net none|host        network (default: none, only lo)\n"                         \
	"      --cap-add CAP          add a capability (ALL: every one)\n"                        \
	"      --cap-drop CAP         drop a capability\n"                                        \
	"      --security-opt OPT     seccomp=unconfined or no-new-privileges\n"                  \
	"      --init                 run a reaper as PID 1 that forwards signals\n"              \
	"      --stop-signal SIG      signal for stop (default: the image's, or TERM)\n"

struct run_opts {
	struct launch_run_config rc;
	const char *name;
	bool detach;
};

static int add_env(struct cmd_ctx *ctx, char ***env, const char *kv)
{
	if (!*kv || *kv == '=')
		return cmd_usage_error(ctx, "invalid environment variable '%s'", kv);
	if (!strchr(kv, '=')) {
		const char *v = getenv(kv);
		cleanup_free char *full = NULL;

		if (!v)
			return 0; /* docker: an unset variable is left out */
		full = xasprintf("%s=%s", kv, v);
		strv_append(env, full);
		return 0;
	}
	strv_append(env, kv);
	return 0;
}

static int read_env_file(struct cmd_ctx *ctx, char ***env, const char *file)
{
	cleanup_free char *buf = NULL;
	size_t len;
	char *save = NULL;
	struct strata_error *err = NULL;

	if (file_read_at(AT_FDCWD, file, 1 << 20, &buf, &len, &err) < 0)
		return cmd_fail(ctx, err);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#')
			continue;
		if (add_env(ctx, env, l))
			return EXIT_STRATA;
	}
	return 0;
}

static int add_volume(struct cmd_ctx *ctx, struct launch_run_config *rc, const char *spec)
{
	cleanup_free char *copy = xstrdup(spec);
	char *dst = strchr(copy, ':');
	char *mode = NULL;
	cleanup_free char *src = NULL;
	bool ro = false;

	if (!dst || dst == copy || !dst[1])
		return cmd_usage_error(ctx, "invalid volume '%s' (want SRC:DST[:ro])", spec);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode) {
		*mode++ = '\0';
		if (!strcmp(mode, "ro"))
			ro = true;
		else if (strcmp(mode, "rw"))
			return cmd_usage_error(ctx, "invalid volume mode '%s' (want ro or rw)", mode);
	}
	if (*dst != '/')
		return cmd_usage_error(ctx, "volume destination '%s' is not absolute", dst);
	if (copy[0] != '/')
		return cmd_usage_error(ctx, "volume source '%s' is not an absolute host path", copy);
	src = realpath(copy, NULL);
	if (!src)
		return cmd_failf(ctx, "volume source '%s': %s", copy, strerror(errno));
	launch_run_config_add_mount(rc, src, dst, ro);
	return 0;
}

static int parse_size(struct cmd_ctx *ctx, int64_t *out, const char *opt, const char *arg,
		      bool allow_minus_one)
{
	uint64_t v;

	if (allow_minus_one && !strcmp(arg, "-1")) {
		*out = -1;
		return 0;
	}
	if (size_parse(arg, &v) < 0 || v == 0 || v > INT64_MAX)
		return cmd_usage_error(ctx, "invalid size '%s' for %s", arg, opt);
	*out = (int64_t)v;
	return 0;
}

static int parse_int(struct cmd_ctx *ctx, int64_t *out, const char *arg, const char *opt)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (*end || end == arg || v <= 0)
		return cmd_usage_error(ctx, "invalid value '%s' for %s", arg, opt);
	*out = v;
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Parses run/create options into o->rc; stops at the image (the first operand). */
static int parse_run_opts(struct cmd_ctx *ctx, int argc, char **argv, struct run_opts *o,
			  bool run)
{
	struct launch_run_config *rc = &o->rc;
	struct launch_limits *l = &rc->limits;
	struct strata_error *err = NULL;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "+dite:w:u:v:", run_opts)) != -1) {
		int r = 0;

		switch (c) {
		case OPT_RM:
			rc->auto_remove = true;
			break;
		case 'd':
			if (!run)
				return cmd_usage_error(ctx, "-d is an option of run");
			o->detach = true;
			break;
		case 'i':
			rc->interactive = true;
			break;
		case 't':
			rc->tty = true;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case 'e':
			r = add_env(ctx, &rc->env, optarg);
			break;
		case OPT_ENV_FILE:
			r = read_env_file(ctx, &rc->env, optarg);
			break;
		case 'w':
			set_str(&rc->workdir, optarg);
			break;
		case 'u':
			set_str(&rc->user, optarg);
			break;
		case OPT_HOSTNAME:
			set_str(&rc->hostname, optarg);
			break;
		case OPT_ENTRYPOINT:
			strv_free(rc->entrypoint);
			rc->entrypoint = NULL;
			rc->has_entrypoint = true;
			if (*optarg)
				strv_append(&rc->entrypoint, optarg);
			break;
		case 'v':
			r = add_volume(ctx, rc, optarg);
			break;
		case OPT_TMPFS:
			if (optarg[0] != '/')
				return cmd_usage_error(ctx, "--tmpfs '%s' is not absolute", optarg);
			launch_run_config_add_mount(rc, NULL, optarg, false);
			break;
		case OPT_READ_ONLY:
			rc->readonly_rootfs = true;
			break;
		case OPT_MEMORY:
			r = parse_size(ctx, &l->memory, "--memory", optarg, false);
			break;
		case OPT_MEMORY_SWAP:
			r = parse_size(ctx, &l->memory_swap, "--memory-swap", optarg, true);
			break;
		case OPT_CPUS: {
			char *end;
			double v = strtod(optarg, &end);

			if (*end || end == optarg || !(v > 0) || v > 1024)
				return cmd_usage_error(ctx, "invalid value '%s' for --cpus", optarg);
			l->cpu_quota = (int64_t)(v * 100000);
			l->cpu_period = 100000;
			break;
		}
		case OPT_CPU_SHARES:
			r = parse_int(ctx, &l->cpu_shares, optarg, "--cpu-shares");
			break;
		case OPT_CPUSET:
			free((char *)l->cpuset);
			l->cpuset = xstrdup(optarg);
			break;
		case OPT_PIDS:
			r = parse_int(ctx, &l->pids, optarg, "--pids-limit");
			break;
		case OPT_NET:
			if (strcmp(optarg, "none") && strcmp(optarg, "host"))
				return cmd_usage_error(ctx, "unknown network '%s' (want none or host)",
						       optarg);
			rc->host_network = !strcmp(optarg, "host");
			break;
		case OPT_CAP_ADD:
			strv_append(&rc->cap_add, optarg);
			break;
		case OPT_CAP_DROP:
			strv_append(&rc->cap_drop, optarg);
			break;
		case OPT_SECURITY:
			if (!strcmp(optarg, "seccomp=unconfined") || !strcmp(optarg, "seccomp:unconfined"))
				rc->no_seccomp = true;
			else if (!strcmp(optarg, "no-new-privileges") ||
				 !strcmp(optarg, "no-new-privileges=true") ||
				 !strcmp(optarg, "no-new-privileges:true"))
				rc->no_new_privs = true;
			else
				return cmd_usage_error(
					ctx, "unknown security option '%s' (want seccomp=unconfined or "
					     "no-new-privileges)",
					optarg);
			break;
		case OPT_INIT:
			rc->init = true;
			break;
		case OPT_STOP_SIGNAL:
			set_str(&rc->stop_signal, optarg);
			break;
		default:
			/* -1: --help was printed, the caller exits 0 */
			return c == CMD_GETOPT_HELP ? -1 : cmd_getopt_status(c);
		}
		if (r)
			return r;
	}
	if (launch_run_config_check(rc, &err) < 0) {
		c = cmd_usage_error(ctx, "%s", strata_error_msg(err));
		strata_error_free(err);
		return c;
	}
	if (o->detach && rc->tty)
		return cmd_usage_error(ctx, "-t with -d: a detached container writes to its log, "
					    "not to a terminal; drop -t");
	if (o->detach && rc->auto_remove)
		log_debug("run: -d with --rm: the monitor removes the container when it ends");
	return 0;
}

/* Creates the container of the operands IMAGE [CMD...] with the run options. */
static int create_container(struct cmd_ctx *ctx, int argc, char **argv, struct run_opts *o,
			    bool check_command, char id[STORE_ID_LEN + 1])
{
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	cleanup_json json_t *rec = NULL;
	struct store *s;
	int c, r;

	if ((c = cmd_check_operands(ctx, argc, argv, 1, -1, "IMAGE")))
		return c;
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (store_image_load(s, argv[optind], &img, &err) < 0)
		return cmd_fail(ctx, err);
	r = overlay_container_create(s, ctx->backend, img, o->name,
				     optind + 1 < argc ? argv + optind + 1 : NULL,
				     o->rc.auto_remove ? OVERLAY_CREATE_VOLATILE : 0, id, &err);
	store_image_free(img);
	if (r < 0)
		return cmd_fail(ctx, err);
	rec = store_container_load(s, id, &err);
	if (!rec)
		return cmd_fail(ctx, err);
	if (launch_run_config_put(rec, &o->rc, &err) < 0) {
		overlay_container_remove(s, id, true, NULL);
		return cmd_fail(ctx, err);
	}
	if (check_command) {
		/* Check the command now rather than at start. */
		struct launch_spec spec;
		struct launch_limits lim;

		if (launch_spec_from_record(rec, &spec, &lim, &err) < 0) {
			overlay_container_remove(s, id, true, NULL);
			return cmd_fail(ctx, err);
		}
		launch_spec_free(&spec);
	}
	if (store_container_save(s, id, rec, &err) < 0) {
		overlay_container_remove(s, id, true, NULL);
		return cmd_fail(ctx, err);
	}
	return 0;
}

int cmd_create_container(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { 0 };
	char id[STORE_ID_LEN + 1];
	int r = parse_run_opts(ctx, argc, argv, &o, false);

	/* A container without a command is fine for mount and commit (buildah-style). */
	if (r == 0)
		r = create_container(ctx, argc, argv, &o, false, id);
	launch_run_config_release(&o.rc);
	if (r)
		return r < 0 ? 0 : r;
	printf("%s\n", id);
	return 0;
}

static int cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	int status = 0;
	int r = parse_run_opts(ctx, argc, argv, &o, true);
	bool rm = o.rc.auto_remove;

	if (r == 0)
		r = create_container(ctx, argc, argv, &o, true, id);
	launch_run_config_release(&o.rc);
	if (r)
		return r < 0 ? 0 : r;
	if (launch_container_start(ctx->store, id, !o.detach, &status, &err) < 0) {
		int code = strata_error_code(err);

		if (rm)
			overlay_container_remove(ctx->store, id, true, NULL);
		cmd_fail(ctx, err);
		/* docker: 127 when the command is not found, 126 when it cannot run */
		return code == ENOENT ? 127 : code == EACCES ? 126 : EXIT_STRATA;
	}
	if (o.detach) {
		printf("%s\n", id);
		return 0;
	}
	return status;
}

static int find(struct cmd_ctx *ctx, const char *spec, char id[STORE_ID_LEN + 1])
{
	struct strata_error *err = NULL;

	if (!cmd_store(ctx))
		return EXIT_STRATA;
	if (store_container_find(ctx->store, spec, id, &err) < 0)
		return cmd_fail(ctx, err);
	return 0;
}

static int cmd_start(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "attach", no_argument, NULL, 'a' }, CMD_OPT_HELP,
					      CMD_OPT_END };
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	bool attach = false;
	int c, status = 0;

	while ((c = cmd_getopt(ctx, argc, argv, "a", opts)) != -1) {
		if (c == 'a')
			attach = true;
		else
			return cmd_getopt_status(c);
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 1, "CONTAINER")))
		return c;
	if ((c = find(ctx, argv[optind], id)))
		return c;
	if (launch_container_start(ctx->store, id, attach, &status, &err) < 0)
		return cmd_fail(ctx, err);
	if (!attach)
		printf("%s\n", argv[optind]);
	return status;
}

static int cmd_stop(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "time", required_argument, NULL, 't' },
					      CMD_OPT_HELP, CMD_OPT_END };
	int timeout = 10, c, ret = 0;
	char *end;

	while ((c = cmd_getopt(ctx, argc, argv, "t:", opts)) != -1) {
		if (c != 't')
			return cmd_getopt_status(c);
		timeout = (int)strtol(optarg, &end, 10);
		if (*end || end == optarg || timeout < 0)
			return cmd_usage_error(ctx, "invalid timeout '%s'", optarg);
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER")))
		return c;
	for (int i = optind; i < argc; i++) {
		struct strata_error *err = NULL;
		char id[STORE_ID_LEN + 1];

		if ((c = find(ctx, argv[i], id))) {
			ret = c;
			continue;
		}
		if (launch_container_stop(ctx->store, id, timeout, &err) < 0) {
			ret = cmd_fail(ctx, err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return ret;
}

static int cmd_kill(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "signal", required_argument, NULL, 's' },
					      CMD_OPT_HELP, CMD_OPT_END };
	int sig = SIGKILL, c, ret = 0;

	while ((c = cmd_getopt(ctx, argc, argv, "s:", opts)) != -1) {
		if (c != 's')
			return cmd_getopt_status(c);
		sig = launch_signal_parse(optarg);
		if (sig < 0)
			return cmd_usage_error(ctx, "unknown signal '%s'", optarg);
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER")))
		return c;
	for (int i = optind; i < argc; i++) {
		struct strata_error *err = NULL;
		char id[STORE_ID_LEN + 1];

		if ((c = find(ctx, argv[i], id))) {
			ret = c;
			continue;
		}
		if (launch_container_kill(ctx->store, id, sig, &err) < 0) {
			ret = cmd_fail(ctx, err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return ret;
}

static int cmd_wait(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CMD_OPT_HELP, CMD_OPT_END };
	int c, ret = 0;

	while ((c = cmd_getopt(ctx, argc, argv, "", opts)) != -1)
		return cmd_getopt_status(c);
	if ((c = cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER")))
		return c;
	for (int i = optind; i < argc; i++) {
		struct strata_error *err = NULL;
		char id[STORE_ID_LEN + 1];
		int code;

		if ((c = find(ctx, argv[i], id))) {
			ret = c;
			continue;
		}
		if (launch_container_wait(ctx->store, id, &code, &err) < 0) {
			ret = cmd_fail(ctx, err);
			continue;
		}
		printf("%d\n", code);
	}
	return ret;
}

static int cmd_logs(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "follow", no_argument, NULL, 'f' }, CMD_OPT_HELP,
					      CMD_OPT_END };
	struct strata_error *err = NULL;
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	char id[STORE_ID_LEN + 1];
	bool follow = false;
	char buf[65536];
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "f", opts)) != -1) {
		if (c == 'f')
			follow = true;
		else
			return cmd_getopt_status(c);
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 1, "CONTAINER")))
		return c;
	if ((c = find(ctx, argv[optind], id)))
		return c;
	path = launch_container_log_path(ctx->store, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return cmd_failf(ctx, "open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;

		if (n > 0) {
			if (file_write_all(1, buf, (size_t)n, &err) < 0)
				return cmd_fail(ctx, err);
			continue;
		}
		if (!follow)
			break;
		{
			cleanup_json json_t *rec = store_container_load(ctx->store, id, NULL);

			if (!rec || !launch_container_running(rec)) {
				/* drain what the last moments wrote, then stop */
				while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
					if (file_write_all(1, buf, (size_t)n, &err) < 0)
						return cmd_fail(ctx, err);
				break;
			}
		}
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	return 0;
}

static int cmd_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "interactive", no_argument, NULL, 'i' },
					      { "tty", no_argument, NULL, 't' },
					      { "env", required_argument, NULL, 'e' },
					      { "workdir", required_argument, NULL, 'w' },
					      { "user", required_argument, NULL, 'u' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct strata_error *err = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_strv char **extra = NULL;
	struct launch_spec spec;
	struct launch_limits lim;
	char id[STORE_ID_LEN + 1];
	const char *cwd = NULL, *user = NULL;
	bool interactive = false, tty = false;
	int c, status = 0, r;

	while ((c = cmd_getopt(ctx, argc, argv, "+ite:w:u:", opts)) != -1) {
		switch (c) {
		case 'i':
			interactive = true;
			break;
		case 't':
			tty = true;
			break;
		case 'e':
			if (add_env(ctx, &extra, optarg))
				return EXIT_STRATA;
			break;
		case 'w':
			cwd = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 2, -1, "CONTAINER and COMMAND")))
		return c;
	if ((c = find(ctx, argv[optind], id)))
		return c;
	rec = store_container_load(ctx->store, id, &err);
	if (!rec)
		return cmd_fail(ctx, err);
	/* The container's env, user and working directory; the command given here. */
	json_object_set_new(rec, "Command", json_array());
	if (launch_spec_from_record(rec, &spec, &lim, &err) < 0) {
		/* an image without a command still takes exec */
		strata_error_free(err);
		err = NULL;
		json_object_set_new(rec, "Command", json_pack("[s]", "true"));
		if (launch_spec_from_record(rec, &spec, &lim, &err) < 0)
			return cmd_fail(ctx, err);
	}
	strv_free(spec.argv);
	spec.argv = strv_dup(argv + optind + 1);
	for (size_t i = 0; extra && extra[i]; i++)
		strv_append(&spec.env, extra[i]);
	if (cwd) {
		free((char *)spec.cwd);
		spec.cwd = xstrdup(cwd);
	}
	if (user) {
		free((char *)spec.user);
		spec.user = xstrdup(user);
	}
	spec.stdin_fd = interactive ? 0 : -1;
	spec.forward_signals = true;
	spec.tty = tty;
	r = launch_container_exec(ctx->store, id, &spec, &status, &err);
	launch_spec_free(&spec);
	if (r < 0) {
		int code = strata_error_code(err);

		cmd_fail(ctx, err);
		return code == ENOENT ? 127 : code == EACCES ? 126 : EXIT_STRATA;
	}
	return status;
}

static int cmd_stats(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "no-stream", no_argument, NULL, 'n' },
					      CMD_OPT_HELP, CMD_OPT_END };
	bool stream = true;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "", opts)) != -1) {
		if (c == 'n')
			stream = false;
		else
			return cmd_getopt_status(c);
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER")))
		return c;
	if (!cmd_store(ctx))
		return EXIT_STRATA;
	do {
		static const char *const head[] = { "CONTAINER ID", "CPU %", "MEM USAGE / LIMIT",
						    "PIDS", NULL };
		struct cmd_table *t = cmd_table_new(head);
		int ret = 0;

		for (int i = optind; i < argc; i++) {
			struct strata_error *err = NULL;
			struct launch_stats a, b;
			char id[STORE_ID_LEN + 1];
			cleanup_free char *mem = NULL, *lim = NULL, *usage = NULL, *cpu = NULL,
					  *pids = NULL, *sid = NULL;

			if (store_container_find(ctx->store, argv[i], id, &err) < 0 ||
			    launch_container_stats(ctx->store, id, &a, &err) < 0) {
				ret = cmd_fail(ctx, err);
				continue;
			}
			nanosleep(&(struct timespec){ 0, 500000000 }, NULL);
			if (launch_container_stats(ctx->store, id, &b, &err) < 0) {
				ret = cmd_fail(ctx, err);
				continue;
			}
			mem = size_human(b.memory);
			lim = b.memory_max ? size_human(b.memory_max) : xstrdup("unlimited");
			usage = xasprintf("%s / %s", mem, lim);
			cpu = xasprintf("%.2f%%",
					(double)(b.cpu_usec - a.cpu_usec) / 500000.0 * 100.0);
			pids = xasprintf("%llu", (unsigned long long)b.pids);
			sid = xstrndup(id, 12);
			cmd_table_add(t, (const char *const[]){ sid, cpu, usage, pids });
		}
		cmd_table_print(t, false);
		if (ret)
			return ret;
		fflush(stdout);
	} while (stream);
	return 0;
}

static int cmd_bundle(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_free char *rootfs = NULL;
	cleanup_close int rfd = -1;
	struct launch_spec spec;
	struct launch_limits lim;
	const char *dir;
	int r = parse_run_opts(ctx, argc, argv, &o, false);

	if (r) {
		launch_run_config_release(&o.rc);
		return r < 0 ? 0 : r;
	}
	if ((r = cmd_check_operands(ctx, argc, argv, 2, -1, "IMAGE and DIR"))) {
		launch_run_config_release(&o.rc);
		return r;
	}
	dir = argv[optind + 1];
	if (!cmd_store(ctx) || store_image_load(ctx->store, argv[optind], &img, &err) < 0) {
		launch_run_config_release(&o.rc);
		return err ? cmd_fail(ctx, err) : EXIT_STRATA;
	}
	{
		json_t *cfg = json_object_get(img->config, "config");

		rec = json_pack("{s:s, s:O, s:o}", "Id", img->id + 7, "Config",
				cfg ? cfg : json_object(), "Command",
				jv_strv(optind + 2 < argc ? argv + optind + 2 : NULL));
		if (!cfg)
			json_decref(json_object_get(rec, "Config")); /* O took a reference too */
	}
	r = launch_run_config_put(rec, &o.rc, &err);
	launch_run_config_release(&o.rc);
	if (r < 0 || launch_spec_from_record(rec, &spec, &lim, &err) < 0) {
		store_image_free(img);
		return cmd_fail(ctx, err);
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = cmd_failf(ctx, "create '%s': %s", dir, strerror(errno));
		goto out;
	}
	rootfs = path_join(dir, "rootfs");
	if (mkdir(rootfs, 0755) < 0) {
		r = cmd_failf(ctx, "create '%s': %s", rootfs,
			      errno == EEXIST ? "it exists already" : strerror(errno));
		goto out;
	}
	rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0 || layers_apply_image(ctx->store, img, rfd, &err) < 0 ||
	    launch_bundle_write(dir, &spec, &lim, &err) < 0) {
		r = err ? cmd_fail(ctx, err) : cmd_failf(ctx, "open '%s'", rootfs);
		goto out;
	}
	printf("%s\n", dir);
out:
	launch_spec_free(&spec);
	store_image_free(img);
	return r;
}

const struct command cmd_run_commands[] = {
	{ "run", "[options] IMAGE [COMMAND [ARG...]]", "run a command in a new container",
	  "      --rm                   remove the container when it ends\n"
	  "  -d, --detach               run in the background; print the ID\n"
	  "  -i, --interactive          keep stdin open\n"
	  "  -t, --tty                  a pseudo-terminal (attached runs)\n" RUN_OPTS_HELP,
	  cmd_run },
	{ "start", "[-a] CONTAINER", "start a created or exited container",
	  "  -a, --attach               stay attached; exit with its status\n", cmd_start },
	{ "stop", "[-t SECONDS] CONTAINER...", "stop containers: the stop signal, then KILL",
	  "  -t, --time SECONDS         wait this long before KILL (default 10)\n", cmd_stop },
	{ "kill", "[-s SIGNAL] CONTAINER...", "send a signal to containers (default KILL)",
	  "  -s, --signal SIG           the signal (name or number)\n", cmd_kill },
	{ "wait", "CONTAINER...", "wait for containers to end; print their exit codes", "",
	  cmd_wait },
	{ "logs", "[-f] CONTAINER", "print a detached container's output",
	  "  -f, --follow               keep printing while it runs\n", cmd_logs },
	{ "exec", "[options] CONTAINER COMMAND [ARG...]", "run a command in a running container",
	  "  -i, --interactive          keep stdin open\n"
	  "  -t, --tty                  a pseudo-terminal\n"
	  "  -e, --env KEY=VALUE        set an environment variable\n"
	  "  -w, --workdir DIR          working directory\n"
	  "  -u, --user USER[:GROUP]    user\n",
	  cmd_exec },
	{ "stats", "[--no-stream] CONTAINER...", "CPU, memory and process counts of containers",
	  "      --no-stream            print once\n", cmd_stats },
	{ "bundle", "[run options] IMAGE DIR [COMMAND [ARG...]]",
	  "write an OCI runtime bundle (config.json, rootfs/) for crun or runc", RUN_OPTS_HELP,
	  cmd_bundle },
	{ NULL, NULL, NULL, NULL, NULL },
};
