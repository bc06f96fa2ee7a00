/*
 * Image config changes written as Dockerfile instructions, the form that
 * `docker commit --change` and `podman import --change` take:
 * CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "store/store-int.h"

/* Splits @s into words, honouring '...' and "..." quotes and backslash escapes. */
static int split_words(const char *s, char ***out, struct strata_error **err)
{
	char **words = xcalloc(1, sizeof(char *));
	struct sbuf w = SBUF_INIT;
	bool in_word = false;
	char quote = 0;

	for (const char *p = s;; p++) {
		char ch = *p;

		if (!ch) {
			if (quote) {
				sbuf_release(&w);
				strv_free(words);
				return strata_fail_msg(err, EINVAL, "unterminated quote in '%s'", s);
			}
			if (in_word) {
				strv_append(&words, w.buf ? w.buf : "");
			}
			break;
		}
		if (quote) {
			if (ch == quote)
				quote = 0;
			else if (ch == '\\' && quote == '"' && p[1])
				sbuf_add(&w, ++p, 1);
			else
				sbuf_add(&w, &ch, 1);
			continue;
		}
		if (isspace((unsigned char)ch)) {
			if (in_word) {
				strv_append(&words, w.buf ? w.buf : "");
				sbuf_release(&w);
				in_word = false;
			}
			continue;
		}
		in_word = true;
		if (ch == '"' || ch == '\'') {
			quote = ch;
			sbuf_add(&w, "", 0);
		} else if (ch == '\\' && p[1]) {
			sbuf_add(&w, ++p, 1);
		} else {
			sbuf_add(&w, &ch, 1);
		}
	}
	sbuf_release(&w);
	*out = words;
	return 0;
}

/* A JSON array of strings (exec form) or ["/bin/sh", "-c", s] (shell form). */
static json_t *command_form(const char *rest, struct strata_error **err)
{
	if (rest[0] == '[') {
		json_t *a = jv_loadb(rest, strlen(rest), "exec form", err);
		json_t *e;
		size_t i;

		if (!a)
			return NULL;
		if (!json_is_array(a)) {
			json_decref(a);
			strata_fail_msg(err, EINVAL, "exec form must be a JSON array of strings");
			return NULL;
		}
		json_array_foreach(a, i, e)
		{
			if (!json_is_string(e)) {
				json_decref(a);
				strata_fail_msg(err, EINVAL, "exec form must be a JSON array of strings");
				return NULL;
			}
		}
		return a;
	}
	return json_pack("[s,s,s]", "/bin/sh", "-c", rest);
}

void store_config_set_env(json_t *cc, const char *key, const char *value)
{
	json_t *env = json_object_get(cc, "Env");
	cleanup_free char *kv = xasprintf("%s=%s", key, value);
	size_t klen = strlen(key);
	json_t *e;
	size_t i;

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cc, "Env", env);
	}
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);

		if (s && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			json_array_set_new(env, i, jv_string(kv));
			return;
		}
	}
	json_array_append_new(env, jv_string(kv));
}

static json_t *object_member(json_t *cc, const char *key)
{
	json_t *o = json_object_get(cc, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(cc, key, o);
	}
	return o;
}

/* Applies KEY=VALUE pairs (or the legacy "KEY VALUE") to an object or the Env array. */
static int apply_pairs(json_t *cc, const char *what, const char *rest, bool env,
		       struct strata_error **err)
{
	cleanup_strv char **words = NULL;

	if (!strchr(rest, '=')) {
		/* Legacy form: the first word is the key, the rest of the line its value. */
		const char *sp = rest;
		cleanup_free char *key = NULL;

		while (*sp && !isspace((unsigned char)*sp))
			sp++;
		key = xstrndup(rest, (size_t)(sp - rest));
		while (isspace((unsigned char)*sp))
			sp++;
		if (!*key || !*sp)
			return strata_fail_msg(err, EINVAL, "%s needs KEY=VALUE or KEY VALUE", what);
		if (env)
			store_config_set_env(cc, key, sp);
		else
			json_object_set_new(object_member(cc, "Labels"), key, jv_string(sp));
		return 0;
	}
	if (split_words(rest, &words, err) < 0)
		return strata_wrap(err, "%s", what);
	for (size_t i = 0; words[i]; i++) {
		char *eq = strchr(words[i], '=');

		if (!eq || eq == words[i])
			return strata_fail_msg(err, EINVAL, "%s: '%s' is not KEY=VALUE", what, words[i]);
		*eq = '\0';
		if (env)
			store_config_set_env(cc, words[i], eq + 1);
		else
			json_object_set_new(object_member(cc, "Labels"), words[i], jv_string(eq + 1));
	}
	return 0;
}

int store_config_apply_change(json_t *config, const char *change, struct strata_error **err)
{
	const char *p = change;
	cleanup_free char *verb = NULL;
	cleanup_free char *rest = NULL;
	json_t *cc;
	size_t n;

	while (isspace((unsigned char)*p))
		p++;
	n = strcspn(p, " \t\n");
	verb = xstrndup(p, n);
	p += n;
	while (isspace((unsigned char)*p))
		p++;
	rest = xstrdup(p);
	for (n = strlen(rest); n > 0 && isspace((unsigned char)rest[n - 1]); n--)
		rest[n - 1] = '\0';
	if (!*verb)
		return strata_fail_msg(err, EINVAL, "empty change");

	cc = json_object_get(config, "config");
	if (!json_is_object(cc)) {
		cc = json_object();
		json_object_set_new(config, "config", cc);
	}
	if (strcasecmp(verb, "CMD") == 0 || strcasecmp(verb, "ENTRYPOINT") == 0) {
		json_t *v;

		if (!*rest)
			return strata_fail_msg(err, EINVAL, "%s needs a command", verb);
		v = command_form(rest, err);
		if (!v)
			return strata_wrap(err, "%s", verb);
		json_object_set_new(cc, strcasecmp(verb, "CMD") == 0 ? "Cmd" : "Entrypoint", v);
		return 0;
	}
	if (strcasecmp(verb, "ENV") == 0)
		return apply_pairs(cc, "ENV", rest, true, err);
	if (strcasecmp(verb, "LABEL") == 0)
		return apply_pairs(cc, "LABEL", rest, false, err);
	if (strcasecmp(verb, "WORKDIR") == 0) {
		const char *prev = jv_str(cc, "WorkingDir");
		cleanup_free char *joined = NULL;
		cleanup_free char *clean = NULL;

		if (!*rest)
			return strata_fail_msg(err, EINVAL, "WORKDIR needs a path");
		joined = rest[0] == '/' ? xstrdup(rest) : path_join(prev ? prev : "/", rest);
		clean = path_clean(joined);
		{
			cleanup_free char *abs = xasprintf("/%s", clean);

			jv_set_str(cc, "WorkingDir", abs);
		}
		return 0;
	}
	if (strcasecmp(verb, "USER") == 0) {
		if (!*rest || strchr(rest, ' '))
			return strata_fail_msg(err, EINVAL, "USER needs one USER[:GROUP]");
		jv_set_str(cc, "User", rest);
		return 0;
	}
	if (strcasecmp(verb, "STOPSIGNAL") == 0) {
		if (!*rest || strchr(rest, ' '))
			return strata_fail_msg(err, EINVAL, "STOPSIGNAL needs one signal");
		jv_set_str(cc, "StopSignal", rest);
		return 0;
	}
	if (strcasecmp(verb, "EXPOSE") == 0 || strcasecmp(verb, "VOLUME") == 0) {
		bool expose = strcasecmp(verb, "EXPOSE") == 0;
		json_t *obj = object_member(cc, expose ? "ExposedPorts" : "Volumes");
		cleanup_strv char **words = NULL;

		if (!expose && rest[0] == '[') {
			json_t *a = command_form(rest, err);
			json_t *e;
			size_t i;

			if (!a)
				return strata_wrap(err, "VOLUME");
			json_array_foreach(a, i, e)
				json_object_set_new(obj, json_string_value(e), json_object());
			json_decref(a);
			return 0;
		}
		if (split_words(rest, &words, err) < 0)
			return strata_wrap(err, "%s", verb);
		if (!words[0])
			return strata_fail_msg(err, EINVAL, "%s needs an argument", verb);
		for (size_t i = 0; words[i]; i++) {
			if (expose) {
				cleanup_free char *port = strchr(words[i], '/')
								  ? xstrdup(words[i])
								  : xasprintf("%s/tcp", words[i]);
				char *end = NULL;
				long num = strtol(port, &end, 10);

				if (num <= 0 || num > 65535 || *end != '/' ||
				    (strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0 &&
				     strcmp(end, "/sctp") != 0))
					return strata_fail_msg(err, EINVAL, "EXPOSE: invalid port '%s'",
							       words[i]);
				json_object_set_new(obj, port, json_object());
			} else {
				json_object_set_new(obj, words[i], json_object());
			}
		}
		return 0;
	}
	return strata_fail_msg(err, EINVAL,
			       "unsupported change '%s' (want CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME or STOPSIGNAL)",
			       verb);
}
