/*
 * What instructions do to an image config (the OCI image spec's "config"
 * object, with Docker's extensions Healthcheck, OnBuild, Shell), as Docker
 * and buildah write it: CMD and ENTRYPOINT in shell form go through SHELL;
 * an ENTRYPOINT drops a CMD inherited from the base; EXPOSE ranges become
 * single ports with a protocol; HEALTHCHECK durations are nanoseconds.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "recipe/recipe-int.h"
#include "store/store.h"

static json_t *cc_of(json_t *config)
{
	json_t *cc = json_object_get(config, "config");

	if (!json_is_object(cc)) {
		cc = json_object();
		json_object_set_new(config, "config", cc);
	}
	return cc;
}

static json_t *member_object(json_t *o, const char *key)
{
	json_t *m = json_object_get(o, key);

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(o, key, m);
	}
	return m;
}

char **recipe_config_shell(const json_t *config)
{
	json_t *sh = json_object_get(json_object_get(config, "config"), "Shell");
	char **v = json_array_size(sh) ? jv_to_strv(sh) : NULL;

	if (!v || !v[0]) {
		strv_free(v);
		v = xcalloc(1, sizeof(char *));
		strv_append(&v, "/bin/sh");
		strv_append(&v, "-c");
	}
	return v;
}

/* The command of CMD, ENTRYPOINT, RUN or HEALTHCHECK CMD: exec form, or SHELL + text. */
static json_t *command_of(const json_t *config, const struct recipe_instr *x, size_t first)
{
	cleanup_strv char **sh = NULL;
	json_t *a;

	if (x->is_json)
		return jv_strv(x->args + first);
	sh = recipe_config_shell(config);
	a = jv_strv(sh);
	json_array_append_new(a, jv_string(x->args[first] ? x->args[first] : ""));
	return a;
}

static int parse_port(const char *file, unsigned line, const char *spec, json_t *ports,
		      struct strata_error **err)
{
	const char *slash = strchr(spec, '/');
	cleanup_free char *range = xstrndup(spec, slash ? (size_t)(slash - spec) : strlen(spec));
	cleanup_free char *proto = xstrdup(slash ? slash + 1 : "tcp");
	char *dash, *end = NULL;
	unsigned long lo, hi;

	for (char *c = proto; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0)
		return strata_fail_msg(err, EINVAL, "%s:%u: invalid proto '%s' in EXPOSE", file,
				       line, proto);
	dash = strchr(range, '-');
	if (dash)
		*dash = '\0';
	errno = 0;
	lo = strtoul(range, &end, 10);
	if (!*range || *end || errno || lo > 65535 || !isdigit((unsigned char)*range))
		goto bad;
	hi = lo;
	if (dash) {
		hi = strtoul(dash + 1, &end, 10);
		if (!dash[1] || *end || errno || hi > 65535 || hi < lo ||
		    !isdigit((unsigned char)dash[1]))
			goto bad;
	}
	for (unsigned long p = lo; p <= hi; p++) {
		cleanup_free char *key = xasprintf("%lu/%s", p, proto);

		json_object_set_new(ports, key, json_object());
	}
	return 0;
bad:
	return strata_fail_msg(err, EINVAL, "%s:%u: invalid port '%s' in EXPOSE", file, line, spec);
}

/* Docker's signal.ParseSignal: a number, or a name with or without "SIG". */
static bool valid_signal(const char *s)
{
	static const char *const names[] = {
		"ABRT", "ALRM", "BUS",	"CHLD", "CONT", "FPE",	"HUP",	  "ILL",    "INT",
		"IO",	"IOT",	"KILL", "PIPE", "POLL", "PROF", "PWR",	  "QUIT",   "SEGV",
		"STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN",  "TTOU",   "URG",
		"USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", NULL
	};
	char *end = NULL;
	long n;

	if (isdigit((unsigned char)*s)) {
		n = strtol(s, &end, 10);
		return !*end && n > 0 && n < 65;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		const char *r = s + 5;

		if (!*r)
			return true;
		n = strtol(r, &end, 10);
		return !*end && n >= -30 && n <= 30;
	}
	for (size_t i = 0; names[i]; i++)
		if (strcasecmp(s, names[i]) == 0)
			return true;
	return false;
}

static int apply_healthcheck(json_t *cc, const struct recipe_instr *x, const json_t *config)
{
	static const struct {
		const char *flag, *key;
	} durs[] = { { "interval", "Interval" },
		     { "timeout", "Timeout" },
		     { "start-period", "StartPeriod" },
		     { "start-interval", "StartInterval" } };
	json_t *hc = json_object();
	const char *retries = recipe_instr_flag(x, "retries");

	if (strcmp(x->args[0], "NONE") == 0) {
		json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
	} else if (x->is_json) {
		json_t *t = jv_strv(x->args + 1);

		json_array_insert_new(t, 0, json_string("CMD"));
		json_object_set_new(hc, "Test", t);
	} else {
		json_object_set_new(hc, "Test", json_pack("[s,s]", "CMD-SHELL", x->args[1]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		const char *v = recipe_instr_flag(x, durs[i].flag);
		int64_t ns = 0;

		if (v && recipe_duration_parse(v, &ns) == 0 && ns)
			json_object_set_new(hc, durs[i].key, json_integer(ns));
	}
	if (retries && strtol(retries, NULL, 10) > 0)
		json_object_set_new(hc, "Retries", json_integer(strtol(retries, NULL, 10)));
	(void)config;
	json_object_set_new(cc, "Healthcheck", hc);
	return 0;
}

int recipe_config_apply(json_t *config, const struct recipe_instr *x, const char *file,
			bool *cmd_set, struct strata_error **err)
{
	json_t *cc = cc_of(config);

	switch (x->cmd) {
	case RECIPE_ENV:
		for (size_t i = 0; i < x->n_kvs; i++)
			store_config_set_env(cc, x->kvs[i].key, x->kvs[i].value ? x->kvs[i].value : "");
		return 0;
	case RECIPE_LABEL:
		for (size_t i = 0; i < x->n_kvs; i++)
			json_object_set_new(member_object(cc, "Labels"), x->kvs[i].key,
					    jv_string(x->kvs[i].value ? x->kvs[i].value : ""));
		return 0;
	case RECIPE_CMD:
		json_object_set_new(cc, "Cmd", command_of(config, x, 0));
		*cmd_set = true;
		return 0;
	case RECIPE_ENTRYPOINT:
		json_object_set_new(cc, "Entrypoint", command_of(config, x, 0));
		/* An ENTRYPOINT resets a CMD that came from the base image. */
		if (!*cmd_set)
			json_object_del(cc, "Cmd");
		return 0;
	case RECIPE_WORKDIR: {
		const char *prev = jv_str(cc, "WorkingDir");
		cleanup_free char *joined = x->args[0][0] == '/'
						    ? xstrdup(x->args[0])
						    : path_join(prev && *prev ? prev : "/", x->args[0]);
		cleanup_free char *clean = path_clean(joined);
		cleanup_free char *abs = xasprintf("/%s", clean);

		jv_set_str(cc, "WorkingDir", abs);
		return 0;
	}
	case RECIPE_USER:
		jv_set_str(cc, "User", x->args[0]);
		return 0;
	case RECIPE_EXPOSE:
		for (size_t i = 0; i < x->n_args; i++)
			if (parse_port(file, x->line, x->args[i], member_object(cc, "ExposedPorts"),
				       err) < 0)
				return -1;
		return 0;
	case RECIPE_VOLUME:
		for (size_t i = 0; i < x->n_args; i++)
			json_object_set_new(member_object(cc, "Volumes"), x->args[i], json_object());
		return 0;
	case RECIPE_SHELL:
		json_object_set_new(cc, "Shell", jv_strv(x->args));
		return 0;
	case RECIPE_STOPSIGNAL:
		if (!valid_signal(x->args[0]))
			return strata_fail_msg(err, EINVAL, "%s:%u: invalid signal '%s'", file, x->line,
					       x->args[0]);
		jv_set_str(cc, "StopSignal", x->args[0]);
		return 0;
	case RECIPE_HEALTHCHECK:
		return apply_healthcheck(cc, x, config);
	case RECIPE_ONBUILD: {
		json_t *ob = json_object_get(cc, "OnBuild");

		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(cc, "OnBuild", ob);
		}
		json_array_append_new(ob, jv_string(x->args[0]));
		return 0;
	}
	case RECIPE_MAINTAINER:
		jv_set_str(config, "author", x->args[0]);
		return 0;
	case RECIPE_ARG:
		return 0;
	case RECIPE_FROM:
	case RECIPE_RUN:
	case RECIPE_COPY:
	case RECIPE_ADD:
		break;
	}
	return strata_fail_msg(err, EINVAL, "%s:%u: %s changes more than the config", file, x->line,
			       recipe_cmd_name(x->cmd));
}

bool recipe_cmd_is_config_only(enum recipe_cmd c)
{
	return c != RECIPE_FROM && c != RECIPE_RUN && c != RECIPE_COPY && c != RECIPE_ADD &&
	       c != RECIPE_WORKDIR;
}

char *recipe_history_created_by(const json_t *config, const struct recipe_instr *x)
{
	cleanup_free char *s = NULL;

	if (x->cmd == RECIPE_RUN && !x->n_heredocs) {
		cleanup_strv char **sh = NULL;
		struct sbuf b = SBUF_INIT;

		if (x->is_json) {
			for (size_t i = 0; i < x->n_args; i++)
				sbuf_addf(&b, "%s%s", i ? " " : "", x->args[i]);
			return sbuf_detach(&b, NULL);
		}
		sh = recipe_config_shell(config);
		for (size_t i = 0; sh[i]; i++)
			sbuf_addf(&b, "%s ", sh[i]);
		sbuf_addstr(&b, x->args[0]);
		return sbuf_detach(&b, NULL);
	}
	s = recipe_instr_string(x);
	return xasprintf("/bin/sh -c #(nop) %s", s);
}
