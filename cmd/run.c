/*
 * run commands: run, create's run options, start, stop, kill, wait, logs,
 * exec, stats, bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

struct run_opts {
	struct launch_run_config rc;
	const char *name;
	const char *detach_keys; /* run -it */
	bool is_run; /* run (takes -d) rather than create or bundle */
	bool is_bundle;
	bool detach;
	const char *pull;   /* --pull: always, missing (the default), never or newer */
	bool quiet;	    /* -q: no pull progress */
	bool insecure;	    /* --tls-verify=false for the pull */
	const char *userns; /* --userns: host (default) or keep-id[:uid=N,gid=N] */
	char **uidmap, **gidmap; /* --uidmap, --gidmap: CONTAINER:HOST:SIZE each */
	const char *subuidname, *subgidname; /* the ranges of that name in /etc/subuid, /etc/subgid */
};

static void run_opts_release(struct run_opts *o)
{
	launch_run_config_release(&o->rc);
	strv_free(o->uidmap);
	strv_free(o->gidmap);
	o->uidmap = o->gidmap = NULL;
}

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

/* The options' callbacks; opt->value as each says. */

/* -e KEY=VALUE, or KEY (from here), into the strv at opt->value. */
static int opt_env(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	return add_env(ctx, opt->value, arg);
}

/* --env-file FILE: its KEY=VALUE lines into the strv at opt->value. */
static int opt_env_file(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *file)
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
		if (add_env(ctx, opt->value, l))
			return EXIT_STRATA;
	}
	return 0;
}

/* @s split at each @sep (empty parts kept). Caller frees. */
static char **split(const char *s, char sep)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *p = s;

	for (;;) {
		const char *e = strchr(p, sep);
		cleanup_free char *part = e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);

		strv_append(&v, part);
		if (!e)
			return v;
		p = e + 1;
	}
}

/* A bind's host source: absolute, or relative to here ("./dir"), resolved now. */
static int bind_source(struct cmd_ctx *ctx, const char *src, char **out)
{
	if (src[0] != '/' && src[0] != '.')
		return cmd_usage_error(ctx, "bind source '%s' is not a host path", src);
	*out = realpath(src, NULL);
	if (!*out)
		return cmd_failf(ctx, "bind source '%s': %s", src, strerror(errno));
	return 0;
}

/* What -v and --mount may say of a mount besides its source and destination. */
struct mount_flags {
	bool ro, nocopy, chown;
	unsigned long propagation;
};

/*
 * One option of -v's third part: ro, rw, [no]copy, U, z and Z (SELinux
 * labels: nothing to relabel on a host without SELinux, as podman there),
 * rbind, and the propagation: [r]private (the default), [r]shared, [r]slave.
 */
static int volume_flag(struct cmd_ctx *ctx, const char *f, struct mount_flags *mf)
{
	static const char *const same[] = { "z", "Z", "rbind", NULL };

	if (!strcmp(f, "ro") || !strcmp(f, "rw"))
		mf->ro = !strcmp(f, "ro");
	else if (!strcmp(f, "nocopy") || !strcmp(f, "copy"))
		mf->nocopy = !strcmp(f, "nocopy");
	else if (!strcmp(f, "U"))
		mf->chown = true;
	else if (strv_contains((char *const *)same, f))
		return 0;
	else if (launch_propagation_parse(f, &mf->propagation) < 0)
		return cmd_usage_error(ctx, "invalid volume option '%s' (want ro, rw, z, Z, U, "
					    "nocopy, copy, rbind, [r]private, [r]shared or [r]slave)",
				       f);
	return 0;
}

static void set_flags(struct launch_mount *m, const struct mount_flags *mf)
{
	m->nocopy = mf->nocopy;
	m->chown = mf->chown;
	m->propagation = mf->propagation;
}

/*
 * -v SRC:DST[:OPTS] into the struct launch_run_config at opt->value: SRC a
 * host path (absolute, or starting with '.') or a volume name; -v DST alone
 * is an anonymous volume.
 */
static int opt_volume(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *spec)
{
	cleanup_strv char **parts = split(spec, ':');
	size_t n = strv_len(parts);
	struct mount_flags mf = { 0 };
	cleanup_free char *src = NULL;
	cleanup_strv char **flags = NULL;
	const char *dst;
	struct launch_mount *m;

	if (n < 1 || n > 3 || !*parts[0] || (n > 1 && !*parts[1]))
		return cmd_usage_error(ctx, "invalid volume '%s' (want [SRC:]DST[:OPTS])", spec);
	dst = n == 1 ? parts[0] : parts[1];
	if (*dst != '/')
		return cmd_usage_error(ctx, "volume destination '%s' is not absolute", dst);
	if (n == 3) {
		flags = split(parts[2], ',');
		for (size_t i = 0; flags[i]; i++)
			if (volume_flag(ctx, flags[i], &mf))
				return EXIT_STRATA;
	}
	if (n == 1) {
		m = launch_run_config_add_volume(opt->value, "", dst, false);
	} else if (parts[0][0] == '/' || parts[0][0] == '.') {
		if (bind_source(ctx, parts[0], &src))
			return EXIT_STRATA;
		m = launch_run_config_add_mount(opt->value, src, dst, mf.ro);
	} else {
		if (!store_volume_name_is_valid(parts[0]))
			return cmd_usage_error(ctx, "invalid volume name '%s': names must match "
						    "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
					       parts[0]);
		m = launch_run_config_add_volume(opt->value, parts[0], dst, mf.ro);
	}
	set_flags(m, &mf);
	return 0;
}

/* A boolean of --mount: "KEY" alone or KEY=true|false. */
static int mount_bool(struct cmd_ctx *ctx, const char *key, const char *v, bool *out)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return cmd_usage_error(ctx, "--mount: invalid value '%s' for '%s' (want true or false)",
				       v, key);
	return 0;
}

/* The settings of one --mount. */
struct mount_spec {
	const char *type, *src, *dst;
	struct mount_flags mf;
	uint64_t size;
	unsigned mode;
	bool has_mode;
};

/* One KEY[=VALUE] of --mount into @ms; each key only with the types that take it. */
static int mount_key(struct cmd_ctx *ctx, char *kv, struct mount_spec *ms)
{
	char *v = strchr(kv, '=');
	const char *t = ms->type ? ms->type : "";

	if (v)
		*v++ = '\0';
	if (!strcmp(kv, "type")) {
		if (!v || (strcmp(v, "bind") && strcmp(v, "volume") && strcmp(v, "tmpfs")))
			return cmd_usage_error(ctx, "--mount: unknown type '%s' (want bind, volume or "
						    "tmpfs)",
					       v ? v : "");
		ms->type = v;
		return 0;
	}
	if (!strcmp(kv, "source") || !strcmp(kv, "src")) {
		if (!v || !*v)
			return cmd_usage_error(ctx, "--mount: '%s' needs a value", kv);
		ms->src = v;
	} else if (!strcmp(kv, "target") || !strcmp(kv, "destination") || !strcmp(kv, "dst")) {
		if (!v || !*v)
			return cmd_usage_error(ctx, "--mount: '%s' needs a value", kv);
		ms->dst = v;
	} else if (!strcmp(kv, "readonly") || !strcmp(kv, "ro")) {
		return mount_bool(ctx, kv, v, &ms->mf.ro);
	} else if (!strcmp(kv, "rw")) {
		bool rw = true;

		if (mount_bool(ctx, kv, v, &rw))
			return EXIT_STRATA;
		ms->mf.ro = !rw;
	} else if (!strcmp(kv, "bind-propagation") && !strcmp(t, "bind")) {
		if (!v || launch_propagation_parse(v, &ms->mf.propagation) < 0)
			return cmd_usage_error(ctx, "--mount: invalid bind-propagation '%s' (want "
						    "[r]private, [r]shared or [r]slave)",
					       v ? v : "");
	} else if (!strcmp(kv, "relabel") && !strcmp(t, "bind")) {
		if (!v || (strcmp(v, "shared") && strcmp(v, "private")))
			return cmd_usage_error(ctx, "--mount: invalid relabel '%s' (want shared or "
						    "private)",
					       v ? v : "");
	} else if (!strcmp(kv, "volume-nocopy") && !strcmp(t, "volume")) {
		return mount_bool(ctx, kv, v, &ms->mf.nocopy);
	} else if ((!strcmp(kv, "U") || !strcmp(kv, "chown")) &&
		   (!strcmp(t, "bind") || !strcmp(t, "volume"))) {
		return mount_bool(ctx, kv, v, &ms->mf.chown);
	} else if (!strcmp(kv, "tmpfs-size") && !strcmp(t, "tmpfs")) {
		if (!v || size_parse(v, &ms->size) < 0 || !ms->size)
			return cmd_usage_error(ctx, "--mount: invalid tmpfs-size '%s'", v ? v : "");
	} else if (!strcmp(kv, "tmpfs-mode") && !strcmp(t, "tmpfs")) {
		char *end;
		unsigned long m = v ? strtoul(v, &end, 8) : 0;

		if (!v || !*v || *end || m > 07777)
			return cmd_usage_error(ctx, "--mount: invalid tmpfs-mode '%s' (want octal)",
					       v ? v : "");
		ms->mode = (unsigned)m;
		ms->has_mode = true;
	} else {
		return cmd_usage_error(ctx, "--mount: unknown option '%s' for type '%s'", kv,
				       ms->type ? ms->type : "(none yet: type= comes first)");
	}
	return 0;
}

/*
 * --mount type=bind|volume|tmpfs,KEY=VALUE,... (podman's syntax) into the
 * struct launch_run_config at opt->value.
 */
static int opt_mount(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	cleanup_strv char **kvs = split(arg, ',');
	struct mount_spec ms = { 0 };
	cleanup_free char *src = NULL;
	struct launch_mount *m;

	/*
	 * type= may come anywhere: find it first, so that the keys are checked
	 * against it (mount_key cuts "type=bind" to "type", which the second pass skips)
	 */
	for (size_t i = 0; kvs[i]; i++)
		if ((str_has_prefix(kvs[i], "type=") || !strcmp(kvs[i], "type")) &&
		    mount_key(ctx, kvs[i], &ms))
			return EXIT_STRATA;
	if (!ms.type)
		return cmd_usage_error(ctx, "--mount '%s': no type= (want bind, volume or tmpfs)",
				       arg);
	for (size_t i = 0; kvs[i]; i++)
		if (strcmp(kvs[i], "type") && mount_key(ctx, kvs[i], &ms))
			return EXIT_STRATA;
	if (!ms.dst)
		return cmd_usage_error(ctx, "--mount '%s': no target=", arg);
	if (ms.dst[0] != '/')
		return cmd_usage_error(ctx, "--mount target '%s' is not absolute", ms.dst);
	if (!strcmp(ms.type, "tmpfs")) {
		if (ms.src)
			return cmd_usage_error(ctx, "--mount: a tmpfs takes no source");
		m = launch_run_config_add_mount(opt->value, NULL, ms.dst, ms.mf.ro);
		m->tmpfs_size = ms.size;
		m->tmpfs_mode = ms.has_mode ? ms.mode : 0;
		return 0;
	}
	if (!strcmp(ms.type, "bind")) {
		if (!ms.src)
			return cmd_usage_error(ctx, "--mount '%s': a bind needs source=", arg);
		if (bind_source(ctx, ms.src, &src))
			return EXIT_STRATA;
		m = launch_run_config_add_mount(opt->value, src, ms.dst, ms.mf.ro);
	} else {
		if (ms.src && !store_volume_name_is_valid(ms.src))
			return cmd_usage_error(ctx, "invalid volume name '%s': names must match "
						    "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
					       ms.src);
		m = launch_run_config_add_volume(opt->value, ms.src ? ms.src : "", ms.dst, ms.mf.ro);
	}
	set_flags(m, &ms.mf);
	return 0;
}

/* --tmpfs DST into the struct launch_run_config at opt->value. */
static int opt_tmpfs(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (arg[0] != '/')
		return cmd_usage_error(ctx, "--tmpfs '%s' is not absolute", arg);
	launch_run_config_add_mount(opt->value, NULL, arg, false);
	return 0;
}

/* --device HOST[:CONTAINER][:rwm]: a host device bound in and allowed. */
static int opt_device(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct strata_error *err = NULL;
	struct launch_device dev;
	int r;

	if (launch_device_parse(arg, &dev, &err) < 0) {
		r = cmd_usage_error(ctx, "%s", strata_error_msg(err));
		strata_error_free(err);
		return r;
	}
	launch_run_config_add_device(opt->value, &dev);
	free(dev.source);
	free(dev.destination);
	return 0;
}

/* A size into the int64_t at opt->value; --memory-swap also takes -1 (unlimited). */
static int opt_size64(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	int64_t *out = opt->value;
	uint64_t v;

	if (!strcmp(opt->long_name, "memory-swap") && !strcmp(arg, "-1")) {
		*out = -1;
		return 0;
	}
	if (size_parse(arg, &v) < 0 || v == 0 || v > INT64_MAX)
		return cmd_usage_error(ctx, "invalid size '%s' for --%s", arg, opt->long_name);
	*out = (int64_t)v;
	return 0;
}

/* A count above 0 into the int64_t at opt->value. */
static int opt_count(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (*end || end == arg || v <= 0)
		return cmd_usage_error(ctx, "invalid value '%s' for --%s", arg, opt->long_name);
	*(int64_t *)opt->value = v;
	return 0;
}

/* --cpus N into the struct launch_limits at opt->value. */
static int opt_cpus(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct launch_limits *l = opt->value;
	char *end;
	double v = strtod(arg, &end);

	if (*end || end == arg || !(v > 0) || v > 1024)
		return cmd_usage_error(ctx, "invalid value '%s' for --cpus", arg);
	l->cpu_quota = (int64_t)(v * 100000);
	l->cpu_period = 100000;
	return 0;
}

/* A copy of the argument into the char * at opt->value (the last one given wins). */
static int opt_copy(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char **dst = opt->value;

	(void)ctx;
	free(*dst);
	*dst = xstrdup(arg);
	return 0;
}

static int opt_cpuset(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct launch_limits *l = opt->value;

	(void)ctx;
	free((char *)l->cpuset);
	l->cpuset = xstrdup(arg);
	return 0;
}

static int opt_net(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (strcmp(arg, "none") && strcmp(arg, "host"))
		return cmd_usage_error(ctx, "unknown network '%s' (want none or host)", arg);
	*(bool *)opt->value = !strcmp(arg, "host");
	return 0;
}

static int opt_security(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct launch_run_config *rc = opt->value;

	if (!strcmp(arg, "seccomp=unconfined") || !strcmp(arg, "seccomp:unconfined"))
		rc->no_seccomp = true;
	else if (!strcmp(arg, "no-new-privileges") || !strcmp(arg, "no-new-privileges=true") ||
		 !strcmp(arg, "no-new-privileges:true"))
		rc->no_new_privs = true;
	else
		return cmd_usage_error(ctx, "unknown security option '%s' (want seccomp=unconfined or "
					    "no-new-privileges)",
				       arg);
	return 0;
}

static int opt_entrypoint(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct launch_run_config *rc = opt->value;

	(void)ctx;
	strv_free(rc->entrypoint);
	rc->entrypoint = NULL;
	rc->has_entrypoint = true;
	if (*arg)
		strv_append(&rc->entrypoint, arg);
	return 0;
}

static int opt_detach(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct run_opts *o = opt->value;

	(void)arg;
	if (!o->is_run)
		return cmd_usage_error(ctx, "-d is an option of run");
	o->detach = true;
	return 0;
}

/* --detach-keys KEYS (podman's format) into the const char * at opt->value. */
static int opt_detach_keys(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct strata_error *err = NULL;
	char keys[LAUNCH_DETACH_KEYS_MAX];
	size_t n;

	if (launch_detach_keys_parse(arg, keys, &n, &err) < 0) {
		ctx->status = cmd_usage_error(ctx, "%s", strata_error_msg(err));
		strata_error_free(err);
		return ctx->status;
	}
	*(const char **)opt->value = arg;
	return 0;
}

/*
 * Parses the options of run, create and bundle into o->rc and leaves the
 * operands (IMAGE [COMMAND...], or IMAGE DIR [COMMAND...]) in argc/argv;
 * the first operand ends the options. As cmd_parse_options.
 */
static int opt_pull(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	static const char *const policies[] = { "always", "missing", "never", "newer", NULL };

	for (size_t i = 0; policies[i]; i++)
		if (!strcmp(arg, policies[i])) {
			*(const char **)opt->value = policies[i];
			return 0;
		}
	return cmd_usage_error(ctx, "invalid --pull '%s' (want always, missing, never or newer)",
			       arg);
}

/* --tls-verify[=true|false] into the bool "insecure" at opt->value. */
static int opt_tls_verify(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	bool verify = true;
	struct cmd_option inner = *opt;

	inner.value = &verify;
	if (cmd_option_bool_arg(ctx, &inner, arg))
		return EXIT_STRATA;
	*(bool *)opt->value = !verify;
	return 0;
}

/*
 * The image IMAGE names, pulled first as --pull says (podman's default:
 * missing, so that `run IMAGE` pulls an image the store does not have).
 * Called with users.lock shared; returns with it held, also on failure.
 */
static int image_for_run(struct cmd_ctx *ctx, struct store *s, const char *spec,
			 const struct run_opts *o, struct store_image **img)
{
	const char *policy = o->pull ? o->pull : "missing";
	struct strata_error *err = NULL;
	char id[DIGEST_STR_LEN];
	bool have;

	have = store_image_load(s, spec, img, &err) == 0;
	if (!have && strata_error_code(err) != ENOENT)
		return cmd_fail(ctx, err);
	if (!have && !strcmp(policy, "never")) {
		strata_error_free(err);
		return cmd_failf(ctx, "image '%s' not in the store, and --pull=never", spec);
	}
	strata_error_free(err);
	err = NULL;
	if (have && (!strcmp(policy, "missing") || !strcmp(policy, "never")))
		return 0;
	/*
	 * newer: a registry that cannot be reached is no failure while the
	 * store has the image. users.lock is not held through a transfer (an
	 * rmi would wait for it): the image is read again once it is taken back.
	 */
	store_users_unlock(s);
	if (cmd_pull_image(ctx, s, spec, o->quiet || (have && !strcmp(policy, "newer")), o->insecure,
			   have && !strcmp(policy, "newer"), id) != 0) {
		store_image_free(*img);
		*img = NULL;
		if (!have || strcmp(policy, "newer"))
			return EXIT_STRATA;
		if (store_users_lock(s, STORE_LOCK_SHARED, &err) < 0)
			return cmd_fail(ctx, err);
		return store_image_load(s, spec, img, &err) < 0 ? cmd_fail(ctx, err) : 0;
	}
	store_image_free(*img);
	*img = NULL;
	if (store_users_lock(s, STORE_LOCK_SHARED, &err) < 0 ||
	    store_image_load(s, id, img, &err) < 0)
		return cmd_fail(ctx, err);
	return 0;
}

static int parse_run_opts(struct cmd_ctx *ctx, int *argc, char ***argv, struct run_opts *o)
{
	struct launch_run_config *rc = &o->rc;
	struct launch_limits *l = &rc->limits;
	unsigned only_run = o->is_run ? 0 : CMD_OPTION_HIDDEN;
	struct strata_error *err = NULL;
	bool proc_view = true;
	const struct cmd_option opts[] = {
		{ CMD_OPTION_BOOL, 0, "rm", &rc->auto_remove, NULL,
		  "remove the container when it ends", only_run, NULL, 0, 0 },
		{ CMD_OPTION_CALLBACK, 'd', "detach", o, NULL, "run in the background; print the ID",
		  only_run, opt_detach, 0, 0 },
		OPT_BOOL('i', "interactive", &rc->interactive, "keep stdin open"),
		OPT_BOOL('t', "tty", &rc->tty, "a pseudo-terminal (with -d: reach it with attach)"),
		OPT_STRING(0, "name", &o->name, "NAME", "name the container"),
		OPT_CALLBACK('e', "env", &rc->env, "KEY=VALUE",
			     "set an environment variable (KEY alone: from here)", opt_env),
		OPT_CALLBACK(0, "env-file", &rc->env, "FILE", "read KEY=VALUE lines", opt_env_file),
		OPT_CALLBACK('w', "workdir", &rc->workdir, "DIR", "working directory", opt_copy),
		OPT_CALLBACK('u', "user", &rc->user, "USER[:GROUP]",
			     "user (names from the container's /etc/passwd)", opt_copy),
		OPT_CALLBACK(0, "hostname", &rc->hostname, "NAME", "hostname (default: the short ID)",
			     opt_copy),
		OPT_CALLBACK(0, "entrypoint", rc, "CMD",
			     "replace the image's entrypoint (and its Cmd)", opt_entrypoint),
		OPT_CALLBACK('v', "volume", rc, "[SRC:]DST[:OPTS]",
			     "bind a host path (SRC from / or .) or a named volume; DST alone: an "
			     "anonymous volume; OPTS: ro, rw, nocopy, U, z, Z, [r]shared, [r]slave",
			     opt_volume),
		OPT_CALLBACK(0, "mount", rc, "type=TYPE,...",
			     "bind (source=,target=,readonly,bind-propagation=), volume (source=,"
			     "target=,ro,volume-nocopy) or tmpfs (target=,tmpfs-size=,tmpfs-mode=)",
			     opt_mount),
		OPT_CALLBACK(0, "tmpfs", rc, "DST", "mount a tmpfs", opt_tmpfs),
		OPT_BOOL(0, "read-only", &rc->readonly_rootfs, "read-only rootfs"),
		OPT_CALLBACK(0, "device", rc, "HOST[:CTR][:rwm]", "give a host device to the container",
			     opt_device),
		OPT_CALLBACK(0, "memory", &l->memory, "SIZE", "memory limit (64m)", opt_size64),
		OPT_CALLBACK(0, "memory-swap", &l->memory_swap, "SIZE",
			     "memory + swap limit (-1: unlimited swap)", opt_size64),
		OPT_CALLBACK(0, "cpus", l, "N", "CPU limit (0.5)", opt_cpus),
		OPT_CALLBACK(0, "cpu-shares", &l->cpu_shares, "N", "relative CPU weight", opt_count),
		OPT_CALLBACK(0, "cpuset-cpus", l, "LIST", "CPUs allowed (0-1)", opt_cpuset),
		OPT_CALLBACK(0, "pids-limit", &l->pids, "N", "maximum number of processes",
			     opt_count),
		OPT_CALLBACK(0, "net", &rc->host_network, "none|host",
			     "network (default: none, only lo)", opt_net),
		{ CMD_OPTION_CALLBACK, 0, "network", &rc->host_network, "none|host", NULL,
		  CMD_OPTION_HIDDEN, opt_net, 0, 0 },
		OPT_LIST(0, "cap-add", &rc->cap_add, "CAP", "add a capability (ALL: every one)"),
		OPT_LIST(0, "cap-drop", &rc->cap_drop, "CAP", "drop a capability"),
		OPT_CALLBACK(0, "security-opt", rc, "OPT", "seccomp=unconfined or no-new-privileges",
			     opt_security),
		OPT_BOOL(0, "init", &rc->init, "run a reaper as PID 1 that forwards signals"),
		OPT_STRING(0, "userns", &o->userns, "MODE",
			   "host (default), or keep-id[:uid=N,gid=N] without root: your ids inside"),
		OPT_LIST(0, "uidmap", &o->uidmap, "CTR:HOST:SIZE",
			 "a user namespace of its own: map these uids (HOST: this namespace's)"),
		OPT_LIST(0, "gidmap", &o->gidmap, "CTR:HOST:SIZE",
			 "map these gids (default: as --uidmap)"),
		OPT_STRING(0, "subuidname", &o->subuidname, "NAME",
			   "root: map the uids onto NAME's ranges of /etc/subuid"),
		OPT_STRING(0, "subgidname", &o->subgidname, "NAME",
			   "root: map the gids onto NAME's ranges of /etc/subgid"),
		OPT_CALLBACK(0, "stop-signal", &rc->stop_signal, "SIG",
			     "signal for stop (default: the image's, or TERM)", opt_copy),
		{ CMD_OPTION_CALLBACK, 0, "detach-keys", &o->detach_keys, "KEYS",
		  "-it: keys that detach (default ctrl-p,ctrl-q)", only_run,
		  opt_detach_keys, 0, 0 },
		{ CMD_OPTION_CALLBACK, 0, "proc-view", &proc_view, "true|false",
		  "the container's own /proc/meminfo, cpuinfo, stat, uptime... (default; =false: "
		  "the host's)",
		  CMD_OPTION_OPTARG | (o->is_bundle ? CMD_OPTION_HIDDEN : 0), cmd_option_bool_arg, 0,
		  0 },
		{ CMD_OPTION_CALLBACK, 0, "pull", &o->pull, "POLICY",
		  "missing (default: pull an image not in the store), always,\n"
		  "newer (pull; a failure is ignored when the store has it) or never",
		  o->is_bundle ? CMD_OPTION_HIDDEN : 0, opt_pull, 0, 0 },
		{ CMD_OPTION_BOOL, 'q', "quiet", &o->quiet, NULL, "no pull progress",
		  o->is_bundle ? CMD_OPTION_HIDDEN : 0, NULL, 0, 0 },
		{ CMD_OPTION_CALLBACK, 0, "tls-verify", &o->insecure, "false",
		  "pull over plain http or unverified https", CMD_OPTION_OPTARG |
		  (o->is_bundle ? CMD_OPTION_HIDDEN : 0), opt_tls_verify, 0, 0 },
		OPT_END(),
	};

	if (cmd_parse_options(ctx, argc, argv, opts, CMD_PARSE_STOP_AT_OPERAND) < 0)
		return -1;
	rc->no_proc_view = !proc_view;
	if (launch_run_config_check(rc, &err) < 0) {
		ctx->status = cmd_usage_error(ctx, "%s", strata_error_msg(err));
		strata_error_free(err);
		return -1;
	}
	if (o->detach && rc->auto_remove)
		log_debug("run: -d with --rm: the monitor removes the container when it ends");
	return 0;
}

/* ---- --userns, --uidmap, --gidmap ---- */

/* Parses "uid=N,gid=N" of keep-id: into *uid and *gid. */
static int keep_id_opts(const char *s, unsigned long *uid, unsigned long *gid,
			struct strata_error **err)
{
	while (s && *s) {
		size_t len = strcspn(s, ",");
		unsigned long *dst = !strncmp(s, "uid=", 4) ? uid : !strncmp(s, "gid=", 4) ? gid : NULL;
		char *end = NULL;

		if (dst) {
			errno = 0;
			*dst = strtoul(s + 4, &end, 10);
		}
		if (!dst || end == s + 4 || end != s + len || errno || *dst > 0xfffffffeUL ||
		    s[4] == '-')
			return strata_fail_msg(err, EINVAL, "--userns: keep-id takes uid=N,gid=N, not '%.*s'",
					       (int)len, s);
		s += len + (s[len] == ',');
	}
	return 0;
}

/*
 * keep-id's map of one kind, as podman lays it out: @self (the caller, 0
 * of this namespace) at @want inside, its @n subordinate ids (1..n here)
 * at 0.. around it.
 */
static void keep_id_ranges(unsigned long want, unsigned long n, struct idrange **r, size_t *cnt)
{
	*r = xcalloc(3, sizeof(**r));
	*cnt = 0;
	if (n > 0 && want > 0)
		(*r)[(*cnt)++] = (struct idrange){ 0, 1, (unsigned)(want < n ? want : n) };
	(*r)[(*cnt)++] = (struct idrange){ (unsigned)want, 0, 1 };
	if (n > want)
		(*r)[(*cnt)++] = (struct idrange){ (unsigned)want + 1, (unsigned)want + 1,
						   (unsigned)(n - want) };
}

/* How many ids this namespace has past its 0 (the caller's subordinate ids). */
static unsigned long ns_subids(const struct launch_idrange *r, size_t n)
{
	unsigned long total = 0;

	for (size_t i = 0; i < n; i++)
		total += r[i].count;
	return total ? total - 1 : 0;
}

/* The passwd and group lines keep-id adds when the image lacks them, as podman writes them. */
static void keep_id_entries(struct run_opts *o, const struct store_image *img, const char *user,
			    bool named, unsigned long uid, unsigned long gid, uid_t host_uid,
			    gid_t host_gid)
{
	json_t *cfg = json_object_get(img->config, "config");
	const char *wd = o->rc.workdir ? o->rc.workdir : jv_str(cfg, "WorkingDir");
	struct passwd *pw = named ? getpwuid(host_uid) : NULL;
	cleanup_free char *gecos = pw && pw->pw_gecos ? xstrdup(pw->pw_gecos) : NULL;
	struct group *gr = named ? getgrgid(host_gid) : NULL;
	cleanup_free char *uname = named && user ? xstrdup(user) : xasprintf("%lu", uid);
	cleanup_free char *gname = gr ? xstrdup(gr->gr_name) : xasprintf("%lu", gid);

	o->rc.passwd_entry = xasprintf("%s:*:%lu:%lu:%s:%s:/bin/sh", uname, uid, gid,
				       named ? (gecos ? gecos : "") : "container user",
				       wd && *wd ? wd : "/");
	o->rc.group_entry = xasprintf("%s:x:%lu:%s", gname, gid, uname);
}

/* keep-id: the caller's (or the given) ids inside are the caller outside. */
static int keep_id_map(struct run_opts *o, const struct store_image *img, const char *opts,
		       struct idmap *m, struct strata_error **err)
{
	const char *user = NULL;
	const struct launch_idmap *ns = cmd_userns_map(&user);
	unsigned long uid, gid;

	if (sys_is_host_root() || !ns)
		return strata_fail_msg(err, EINVAL, "--userns: keep-id is only supported in rootless mode");
	uid = ns->uid_self;
	gid = ns->gid_self;
	if (keep_id_opts(opts, &uid, &gid, err) < 0)
		return -1;
	keep_id_ranges(uid, ns_subids(ns->uid, ns->n_uid), &m->uid, &m->n_uid);
	keep_id_ranges(gid, ns_subids(ns->gid, ns->n_gid), &m->gid, &m->n_gid);
	keep_id_entries(o, img, user, !opts, uid, gid, ns->uid_self, ns->gid_self);
	/* podman: the process runs as that user unless --user says otherwise */
	if (!o->rc.user)
		o->rc.user = xasprintf("%lu:%lu", uid, gid);
	return 0;
}

/* --uidmap/--gidmap: HOST ids must be ids this namespace has (rootless: 0 and its ranges). */
static int explicit_map(const struct run_opts *o, struct idmap *m, struct strata_error **err)
{
	const struct launch_idmap *ns = cmd_userns_map(NULL);

	for (size_t i = 0; o->uidmap && o->uidmap[i]; i++)
		if (idmap_ranges_add(o->uidmap[i], &m->uid, &m->n_uid, err) < 0)
			return strata_wrap(err, "--uidmap");
	for (size_t i = 0; o->gidmap && o->gidmap[i]; i++)
		if (idmap_ranges_add(o->gidmap[i], &m->gid, &m->n_gid, err) < 0)
			return strata_wrap(err, "--gidmap");
	/* podman: without --gidmap the gids are mapped as the uids */
	if (!m->n_gid && idmap_ranges_add(o->uidmap ? o->uidmap[0] : "", &m->gid, &m->n_gid, err) == 0)
		for (size_t i = 1; o->uidmap && o->uidmap[i]; i++)
			idmap_ranges_add(o->uidmap[i], &m->gid, &m->n_gid, NULL);
	if (!m->n_uid)
		return strata_fail_msg(err, EINVAL, "--gidmap: needs a --uidmap too");
	if (!ns)
		return 0;
	for (int k = 0; k < 2; k++) {
		const struct idrange *r = k ? m->gid : m->uid;
		size_t n = k ? m->n_gid : m->n_uid;
		unsigned long have = ns_subids(k ? ns->gid : ns->uid, k ? ns->n_gid : ns->n_uid);

		for (size_t i = 0; i < n; i++)
			if ((unsigned long)r[i].outside + r[i].count - 1 > have)
				return strata_fail_msg(
				    err, EINVAL,
				    "--%s: %u:%u:%u: without root the HOST ids are those of the "
				    "user's namespace, 0 to %lu (0 is the user, then its "
				    "subordinate ids)",
				    k ? "gidmap" : "uidmap", r[i].inside, r[i].outside, r[i].count, have);
	}
	return 0;
}

/*
 * --subuidname/--subgidname (root, as podman): the ranges of NAME in
 * /etc/subuid (/etc/subgid), laid out from 0 inside in file order, as
 * --uidmap ranges. Without --subgidname the gids follow --subuidname's name.
 */
static int subid_map(const struct run_opts *o, struct idmap *m, struct strata_error **err)
{
	const char *names[2] = { o->subuidname ? o->subuidname : o->subgidname,
				 o->subgidname ? o->subgidname : o->subuidname };
	const char *files[2] = { "/etc/subuid", "/etc/subgid" };

	if (!sys_is_host_root())
		return strata_fail_msg(err, EPERM, "--subuidname: needs root (without root: "
						   "--uidmap with ids of the user's namespace)");
	for (int k = 0; k < 2; k++) {
		cleanup_free char *text = NULL;
		struct launch_idrange *r = NULL;
		struct passwd *pw = getpwnam(names[k]);
		unsigned long next = 0;
		size_t n = 0, len;

		if (file_read_at(AT_FDCWD, files[k], 1 << 20, &text, &len, err) < 0)
			return -1;
		launch_subid_parse(text, names[k], pw ? (unsigned long)pw->pw_uid : ~0UL, &r, &n);
		if (n == 0) {
			free(r);
			return strata_fail_msg(err, ENOENT, "--%s: no ranges for '%s' in %s",
					       k ? "subgidname" : "subuidname", names[k], files[k]);
		}
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *t = xasprintf("%lu:%u:%u", next, r[i].outside, r[i].count);

			next += r[i].count;
			if (idmap_ranges_add(t, k ? &m->gid : &m->uid, k ? &m->n_gid : &m->n_uid, err) < 0) {
				free(r);
				return strata_wrap(err, "--%s", k ? "subgidname" : "subuidname");
			}
		}
		free(r);
	}
	return 0;
}

/*
 * The container's id map from --userns, --uidmap and --gidmap into @m
 * (unset: the host's ids, as today); *mode is what inspect shows.
 */
static int userns_map(struct run_opts *o, const struct store_image *img, struct idmap *m,
		      const char **mode, struct strata_error **err)
{
	const char *u = o->userns;

	memset(m, 0, sizeof(*m));
	*mode = NULL;
	if (u && *u && (o->uidmap || o->gidmap))
		return strata_fail_msg(err, EINVAL,
				       "--userns: cannot be used with --uidmap or --gidmap");
	if ((o->subuidname || o->subgidname) && (o->uidmap || o->gidmap || (u && *u)))
		return strata_fail_msg(err, EINVAL, "--subuidname: cannot be used with --userns, "
						    "--uidmap or --gidmap");
	if (o->subuidname || o->subgidname) {
		*mode = "private";
		return subid_map(o, m, err);
	}
	if (o->uidmap || o->gidmap) {
		*mode = "private";
		return explicit_map(o, m, err);
	}
	if (!u || !*u || !strcmp(u, "host"))
		return 0;
	if (!strcmp(u, "keep-id") || !strncmp(u, "keep-id:", 8)) {
		*mode = "keep-id";
		return keep_id_map(o, img, u[7] ? u + 8 : NULL, m, err);
	}
	if (!strcmp(u, "auto") || !strncmp(u, "auto:", 5) || !strcmp(u, "nomap") ||
	    !strncmp(u, "ns:", 3) || !strncmp(u, "container:", 10) || !strcmp(u, "private"))
		return strata_fail_msg(err, ENOTSUP,
				       "--userns: '%s' is not supported (host, keep-id[:uid=N,gid=N], "
				       "or --uidmap/--gidmap)",
				       u);
	return strata_fail_msg(err, EINVAL, "--userns: unknown mode '%s'", u);
}

/* Creates the container of the operands IMAGE [CMD...] with the run options. */
static int create_container(struct cmd_ctx *ctx, int argc, char **argv, struct run_opts *o,
			    bool check_command, char id[STORE_ID_LEN + 1])
{
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_strv char **made = NULL;
	struct idmap map = { 0 };
	const char *mode = NULL;
	struct store *s;
	int r;

	if (cmd_check_operands(ctx, argc, argv, 1, -1, "IMAGE"))
		return EXIT_STRATA;
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	/*
	 * From reading the image to saving the record that names it and its
	 * volumes: no rmi, image prune or volume prune decides meanwhile that
	 * they are unused.
	 */
	if (store_users_lock(s, STORE_LOCK_SHARED, &err) < 0)
		return cmd_fail(ctx, err);
	if ((r = image_for_run(ctx, s, argv[0], o, &img))) {
		store_users_unlock(s);
		return r;
	}
	if (userns_map(o, img, &map, &mode, &err) < 0) {
		store_image_free(img);
		goto fail;
	}
	/* named volumes made on first use, anonymous ones for the image's VOLUMEs */
	if (launch_run_config_volumes(s, &o->rc, img->config, &made, &err) < 0) {
		store_image_free(img);
		goto fail;
	}
	r = overlay_container_create(s, ctx->backend, img, o->name, argc > 1 ? argv + 1 : NULL,
				     o->rc.auto_remove ? OVERLAY_CREATE_VOLATILE : 0, id, &err);
	store_image_free(img);
	if (r < 0)
		goto fail;
	r = mode ? overlay_container_idmap_set(s, id, &map, mode, &err) : 0;
	idmap_release(&map);
	if (r < 0)
		goto fail_rm;
	rec = store_container_load(s, id, &err);
	if (!rec || launch_run_config_put(rec, &o->rc, &err) < 0)
		goto fail_rm;
	if (check_command) {
		/* Check the command now rather than at start. */
		struct launch_spec spec;
		struct launch_limits lim;

		if (launch_spec_from_record(rec, &spec, &lim, &err) < 0)
			goto fail_rm;
		launch_spec_free(&spec);
		/* run starts it next: a container prune meanwhile leaves it to this process */
		json_object_set_new(rec, "Runner",
				    json_pack("{s:I, s:I}", "Pid", (json_int_t)getpid(), "PidStartTime",
					      (json_int_t)sys_pid_start_time(getpid())));
	}
	if (store_container_save(s, id, rec, &err) < 0)
		goto fail_rm;
	store_users_unlock(s);
	return 0;
fail_rm:
	overlay_container_remove(s, id, true, NULL);
fail:
	idmap_release(&map);
	/* removing volumes takes users.lock exclusively */
	store_users_unlock(s);
	launch_volumes_remove(s, made);
	return cmd_fail(ctx, err);
}

int cmd_create_container(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { 0 };
	char id[STORE_ID_LEN + 1];
	int r = parse_run_opts(ctx, &argc, &argv, &o);

	/* A container without a command is fine for mount and commit (buildah-style). */
	if (r == 0)
		r = create_container(ctx, argc, argv, &o, false, id);
	run_opts_release(&o);
	if (r)
		return r < 0 ? ctx->status : r;
	printf("%s\n", id);
	return 0;
}

static int cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { .is_run = true };
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	int status = 0;
	int r = parse_run_opts(ctx, &argc, &argv, &o);
	bool rm = o.rc.auto_remove;
	bool tty_in = o.rc.tty && o.rc.interactive;

	if (r == 0)
		r = create_container(ctx, argc, argv, &o, true, id);
	run_opts_release(&o);
	if (r)
		return r < 0 ? ctx->status : r;
	if (tty_in && !o.detach) {
		/* as podman: the monitor holds the terminal, the detach keys leave it running */
		bool detached = false;

		r = launch_container_run_attached(ctx->store, id, o.detach_keys, &status, &detached,
						  &err);
		if (r == 0)
			return detached ? 0 : status;
	} else {
		r = launch_container_start(ctx->store, id, !o.detach, &status, &err);
	}
	if (r < 0) {
		int code = strata_error_code(err);
		cleanup_json json_t *rec = rm ? store_container_load(ctx->store, id, NULL) : NULL;

		/* not one that started and could not be attached to: it runs on */
		if (rec && !launch_container_running(rec) &&
		    overlay_container_remove(ctx->store, id, true, NULL) == 0)
			launch_volumes_remove_anonymous(ctx->store, rec);
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
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	bool attach = false;
	int c, status = 0;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "attach", &attach, "stay attached; exit with its status"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, 1, "CONTAINER") < 0)
		return ctx->status;
	if ((c = find(ctx, argv[0], id)))
		return c;
	if (launch_container_start(ctx->store, id, attach, &status, &err) < 0)
		return cmd_fail(ctx, err);
	if (!attach)
		printf("%s\n", argv[0]);
	return status;
}

static int cmd_attach(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	char id[STORE_ID_LEN + 1];
	const char *keys = NULL;
	bool detached = false;
	int c, status = 0;
	const struct cmd_option opts[] = {
		OPT_CALLBACK(0, "detach-keys", &keys, "KEYS",
			     "keys that detach (default ctrl-p,ctrl-q; \"\": none)",
			     opt_detach_keys),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, 1, "CONTAINER") < 0)
		return ctx->status;
	if ((c = find(ctx, argv[0], id)))
		return c;
	if (launch_container_attach(ctx->store, id, keys, &status, &detached, &err) < 0)
		return cmd_fail(ctx, err);
	return detached ? 0 : status;
}

static int stop_one(struct cmd_ctx *ctx, const char *id, const char *name, void *arg,
		    struct strata_error **err)
{
	if (launch_container_stop(ctx->store, id, *(int *)arg, err) < 0)
		return -1;
	printf("%s\n", name);
	return 0;
}

static int cmd_stop(struct cmd_ctx *ctx, int argc, char **argv)
{
	int timeout = 10;
	const struct cmd_option opts[] = {
		OPT_INT('t', "time", &timeout, "SECONDS", "wait this long before KILL (default 10)", 0,
			INT_MAX),
		OPT_END(),
	};

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0)
		return ctx->status;
	return cmd_for_each_container(ctx, argc, argv, stop_one, &timeout);
}

static int kill_one(struct cmd_ctx *ctx, const char *id, const char *name, void *arg,
		    struct strata_error **err)
{
	if (launch_container_kill(ctx->store, id, *(int *)arg, err) < 0)
		return -1;
	printf("%s\n", name);
	return 0;
}

static int opt_signal(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	int sig = launch_signal_parse(arg);

	if (sig < 0)
		return cmd_usage_error(ctx, "unknown signal '%s'", arg);
	*(int *)opt->value = sig;
	return 0;
}

static int cmd_kill(struct cmd_ctx *ctx, int argc, char **argv)
{
	int sig = SIGKILL;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('s', "signal", &sig, "SIG", "the signal (name or number)", opt_signal),
		OPT_END(),
	};

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0)
		return ctx->status;
	return cmd_for_each_container(ctx, argc, argv, kill_one, &sig);
}

static int wait_one(struct cmd_ctx *ctx, const char *id, const char *name, void *arg,
		    struct strata_error **err)
{
	int code;

	(void)name;
	(void)arg;
	if (launch_container_wait(ctx->store, id, &code, err) < 0)
		return -1;
	printf("%d\n", code);
	return 0;
}

static int cmd_wait(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0)
		return ctx->status;
	return cmd_for_each_container(ctx, argc, argv, wait_one, NULL);
}

static int cmd_logs(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	char id[STORE_ID_LEN + 1];
	bool follow = false;
	char buf[65536];
	int c;
	const struct cmd_option opts[] = {
		OPT_BOOL('f', "follow", &follow, "keep printing while it runs"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, 1, "CONTAINER") < 0)
		return ctx->status;
	if ((c = find(ctx, argv[0], id)))
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
	struct strata_error *err = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_strv char **extra = NULL;
	struct launch_spec spec;
	struct launch_limits lim;
	char id[STORE_ID_LEN + 1];
	const char *cwd = NULL, *user = NULL;
	bool interactive = false, tty = false;
	int c, status = 0, r;
	const struct cmd_option opts[] = {
		OPT_BOOL('i', "interactive", &interactive, "keep stdin open"),
		OPT_BOOL('t', "tty", &tty, "a pseudo-terminal"),
		OPT_CALLBACK('e', "env", &extra, "KEY=VALUE", "set an environment variable", opt_env),
		OPT_STRING('w', "workdir", &cwd, "DIR", "working directory"),
		OPT_STRING('u', "user", &user, "USER[:GROUP]", "user"),
		OPT_END(),
	};

	if (cmd_parse_options(ctx, &argc, &argv, opts, CMD_PARSE_STOP_AT_OPERAND) < 0)
		return ctx->status;
	if (cmd_check_operands(ctx, argc, argv, 2, -1, "CONTAINER and COMMAND"))
		return EXIT_STRATA;
	if ((c = find(ctx, argv[0], id)))
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
	spec.argv = strv_dup(argv + 1);
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
	bool no_stream = false;
	const struct cmd_option opts[] = {
		OPT_BOOL(0, "no-stream", &no_stream, "print once"),
		OPT_END(),
	};

	if (!cmd_parse_store(ctx, &argc, &argv, opts, 1, -1, "CONTAINER"))
		return ctx->status;
	do {
		static const char *const head[] = { "CONTAINER ID", "CPU %", "MEM USAGE / LIMIT",
						    "PIDS", NULL };
		struct cmd_table *t = cmd_table_new(head);
		int ret = 0;

		for (int i = 0; i < argc; i++) {
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
			mem = size_human(b.memory, SIZE_LIST);
			lim = b.memory_max ? size_human(b.memory_max, SIZE_LIST) : xstrdup("unlimited");
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
	} while (!no_stream);
	return 0;
}

static int cmd_bundle(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct run_opts o = { .is_bundle = true };
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	cleanup_json json_t *rec = NULL;
	cleanup_free char *rootfs = NULL;
	cleanup_close int rfd = -1;
	struct launch_spec spec;
	struct launch_limits lim;
	const char *dir;
	int r = parse_run_opts(ctx, &argc, &argv, &o);

	if (r) {
		run_opts_release(&o);
		return ctx->status;
	}
	if ((r = cmd_check_operands(ctx, argc, argv, 2, -1, "IMAGE and DIR"))) {
		run_opts_release(&o);
		return r;
	}
	if (o.userns || o.uidmap || o.gidmap || o.subuidname || o.subgidname) {
		run_opts_release(&o);
		return cmd_failf(ctx, "--userns, --uidmap, --gidmap, --subuidname: a bundle is "
				      "written for the host's ids");
	}
	for (size_t i = 0; i < o.rc.n_mounts; i++)
		if (o.rc.mounts[i].volume || o.rc.mounts[i].chown) {
			run_opts_release(&o);
			return cmd_usage_error(ctx, "a bundle takes binds and tmpfs mounts, not volumes "
						    "or :U (its runtime would not fill them)");
		}
	dir = argv[1];
	if (!cmd_store(ctx) || store_image_load(ctx->store, argv[0], &img, &err) < 0) {
		run_opts_release(&o);
		return err ? cmd_fail(ctx, err) : EXIT_STRATA;
	}
	{
		json_t *cfg = json_object_get(img->config, "config");

		rec = json_pack("{s:s, s:O, s:o}", "Id", img->id + 7, "Config",
				cfg ? cfg : json_object(), "Command",
				jv_strv(argc > 2 ? argv + 2 : NULL));
		if (!cfg)
			json_decref(json_object_get(rec, "Config")); /* O took a reference too */
	}
	r = launch_run_config_put(rec, &o.rc, &err);
	run_opts_release(&o);
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
	{ "run", "[options] IMAGE [COMMAND [ARG...]]", "run a command in a new container", cmd_run },
	{ "start", "[-a] CONTAINER", "start a created or exited container", cmd_start },
	{ "attach", "[--detach-keys KEYS] CONTAINER",
	  "attach to the terminal of a container started with -dt", cmd_attach },
	{ "stop", "[-t SECONDS] CONTAINER...", "stop containers: the stop signal, then KILL",
	  cmd_stop },
	{ "kill", "[-s SIGNAL] CONTAINER...", "send a signal to containers (default KILL)",
	  cmd_kill },
	{ "wait", "CONTAINER...", "wait for containers to end; print their exit codes", cmd_wait },
	{ "logs", "[-f] CONTAINER", "print a detached container's output", cmd_logs },
	{ "exec", "[options] CONTAINER COMMAND [ARG...]", "run a command in a running container",
	  cmd_exec },
	{ "stats", "[--no-stream] CONTAINER...", "CPU, memory and process counts of containers",
	  cmd_stats },
	{ "bundle", "[run options] IMAGE DIR [COMMAND [ARG...]]",
	  "write an OCI runtime bundle (config.json, rootfs/) for crun or runc; without the "
	  "/proc view: a bundle cannot carry its FUSE server",
	  cmd_bundle },
	{ NULL, NULL, NULL, NULL },
};
