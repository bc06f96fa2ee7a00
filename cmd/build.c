/*
 * build: images from a Containerfile/Dockerfile (recipe/).
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "recipe/recipe.h"
#include "registry/registry.h"

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

/*
 * --pull[=POLICY]: always, missing, never, newer; bare --pull and "true"
 * are always, "false" is missing (as buildah).
 */
static int opt_pull(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	static const char *const names[] = { [RECIPE_PULL_MISSING] = "missing",
					     [RECIPE_PULL_ALWAYS] = "always",
					     [RECIPE_PULL_NEVER] = "never",
					     [RECIPE_PULL_NEWER] = "newer" };
	enum recipe_pull *p = opt->value;

	if (!arg || strcmp(arg, "true") == 0) {
		*p = RECIPE_PULL_ALWAYS;
		return 0;
	}
	if (strcmp(arg, "false") == 0) {
		*p = RECIPE_PULL_MISSING;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(arg, names[i]) == 0) {
			*p = (enum recipe_pull)i;
			return 0;
		}
	}
	return cmd_usage_error(ctx, "invalid --pull '%s' (always, missing, never or newer)", arg);
}

/* --tls-verify[=true|false] for the pulls of a build. */
static int opt_tls_verify(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct registry_opts *o = opt->value;

	if (!arg || strcmp(arg, "true") == 0)
		o->insecure = false;
	else if (strcmp(arg, "false") == 0)
		o->insecure = true;
	else
		return cmd_usage_error(ctx, "--tls-verify wants true or false, not '%s'", arg);
	return 0;
}

/* --creds USER[:PASS]: copied, and the password blanked in argv (the process title). */
static int opt_build_creds(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char **creds = opt->value;
	char *colon = strchr(arg, ':');

	(void)ctx;
	if (*creds) {
		explicit_bzero(*creds, strlen(*creds));
		free(*creds);
	}
	*creds = xstrdup(arg);
	if (colon)
		memset(colon + 1, 'x', strlen(colon + 1));
	return 0;
}

/* --annotation KEY=VALUE: on the manifest of the image made. */
static int opt_annotation(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (!strchr(arg, '=') || arg[0] == '=')
		return cmd_usage_error(ctx, "invalid --annotation '%s' (KEY=VALUE)", arg);
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

/* -o/--output: where the result goes besides the store. */
enum build_output { OUT_NONE, OUT_LOCAL, OUT_TAR, OUT_OCI, OUT_DOCKER };

struct build_out {
	enum build_output type;
	char *dest;
};

/* -o type=local|tar|oci|docker,dest=PATH; "-o DIR" is local, "-o -" a tar on stdout. */
static int opt_output(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	static const char *const types[] = { [OUT_LOCAL] = "local", [OUT_TAR] = "tar",
					     [OUT_OCI] = "oci", [OUT_DOCKER] = "docker" };
	struct build_out *o = opt->value;
	cleanup_strv char **fields = NULL;
	const char *type = NULL, *dest = NULL;

	if (o->type != OUT_NONE)
		return cmd_usage_error(ctx, "only one --output");
	if (!strchr(arg, '=')) {
		o->type = strcmp(arg, "-") == 0 ? OUT_TAR : OUT_LOCAL;
		o->dest = xstrdup(arg);
		return 0;
	}
	fields = split(arg, ',');
	for (size_t i = 0; fields[i]; i++) {
		char *eq = strchr(fields[i], '=');

		if (!eq)
			return cmd_usage_error(ctx, "--output '%s': '%s' is not KEY=VALUE", arg,
					       fields[i]);
		*eq = '\0';
		if (!strcmp(fields[i], "type"))
			type = eq + 1;
		else if (!strcmp(fields[i], "dest"))
			dest = eq + 1;
		else
			return cmd_usage_error(ctx, "--output '%s': unknown key '%s' (type, dest)", arg,
					       fields[i]);
	}
	for (size_t i = 1; type && i < ARRAY_SIZE(types); i++)
		if (!strcmp(type, types[i]))
			o->type = (enum build_output)i;
	if (o->type == OUT_NONE)
		return cmd_usage_error(ctx, "--output '%s': type must be local, tar, oci or docker",
				       arg);
	if (!dest || !*dest)
		return cmd_usage_error(ctx, "--output '%s': no dest", arg);
	if (strcmp(dest, "-") == 0 && o->type != OUT_TAR)
		return cmd_usage_error(ctx, "--output '%s': only type=tar can go to stdout", arg);
	o->dest = xstrdup(dest);
	return 0;
}

/* Writes the built image @img where -o says. */
static int write_output(struct store *s, const struct build_out *bo, const char *const *tags,
			const struct store_image *img, struct strata_error **err)
{
	int r = -1;

	if (store_pin(s, err) < 0)
		return -1;
	if (bo->type == OUT_LOCAL) {
		cleanup_close int dfd = -1;

		if (path_mkdir_p(bo->dest, 0755, err) < 0)
			goto out;
		dfd = open(bo->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			strata_fail(err, errno, "--output '%s'", bo->dest);
			goto out;
		}
		r = layers_apply_image(s, img, dfd, err);
	} else if (bo->type == OUT_TAR) {
		bool to_stdout = strcmp(bo->dest, "-") == 0;
		int fd = to_stdout ? dup(STDOUT_FILENO)
				   : open(bo->dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0) {
			strata_fail(err, errno, "--output '%s'", bo->dest);
			goto out;
		}
		r = layers_export(s, img, fd, err);
		if (close(fd) < 0 && r == 0)
			r = strata_fail(err, errno, "write '%s'", bo->dest);
		if (r < 0 && !to_stdout)
			unlink(bo->dest);
	} else {
		struct layers_save_item item = { img, (char **)tags };

		r = layers_save(s, &item, 1,
				bo->type == OUT_OCI ? LAYERS_ARCHIVE_OCI_ARCHIVE
						    : LAYERS_ARCHIVE_DOCKER_ARCHIVE,
				bo->dest, err);
	}
out:
	store_unpin(s);
	if (r < 0)
		return strata_wrap(err, "--output");
	return 0;
}

/* --build-context NAME=DIR|docker-image://REF. */
static int opt_build_context(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct stat st;

	if (!eq || eq == arg || !eq[1])
		return cmd_usage_error(ctx, "invalid --build-context '%s' (NAME=DIR or "
					    "NAME=docker-image://REF)",
				       arg);
	if (str_has_prefix(eq + 1, "docker-image://")) {
		if (!eq[1 + strlen("docker-image://")])
			return cmd_usage_error(ctx, "--build-context '%s': no image", arg);
	} else if (strstr(eq + 1, "://")) {
		return cmd_usage_error(ctx, "--build-context '%s': only a directory or "
					    "docker-image://REF is supported",
				       arg);
	} else if (stat(eq + 1, &st) < 0 || !S_ISDIR(st.st_mode)) {
		return cmd_usage_error(ctx, "--build-context '%s': '%s' is not a directory", arg,
				       eq + 1);
	}
	strv_append(opt->value, arg);
	return 0;
}

/* The ssh agents started for --ssh ID=KEYFILE: one per key file. */
struct key_agents {
	pid_t *pids;
	char **dirs;
	size_t n;
};

static void key_agents_stop(struct key_agents *ka)
{
	for (size_t i = 0; i < ka->n; i++) {
		cleanup_free char *sock = xasprintf("%s/agent.sock", ka->dirs[i]);

		if (ka->pids[i] > 0) {
			kill(ka->pids[i], SIGTERM);
			while (waitpid(ka->pids[i], NULL, 0) < 0 && errno == EINTR)
				;
		}
		unlink(sock);
		rmdir(ka->dirs[i]);
		free(ka->dirs[i]);
	}
	free(ka->pids);
	free(ka->dirs);
	memset(ka, 0, sizeof(*ka));
}

/*
 * Runs @argv with SSH_AUTH_SOCK=@sock, stdio on /dev/null: in the
 * background when @bg (its PID there), else waited for (its exit status).
 */
static int run_with_sock(const char *const *argv, const char *sock, pid_t *bg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		setenv("SSH_AUTH_SOCK", sock, 1);
		unsetenv("DISPLAY");
		unsetenv("SSH_ASKPASS");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (bg) {
		*bg = pid;
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * --ssh ID=KEYFILE: an ssh-agent of our own holding that key (as buildkit
 * loads key files into an agent it runs), its socket taking the file's
 * place in @ssh; a socket is used as it is.
 */
static int key_agents_start(char **ssh, struct key_agents *ka, struct strata_error **err)
{
	for (size_t i = 0; ssh[i]; i++) {
		char *eq = strchr(ssh[i], '=');
		char tmpl[] = "/tmp/strata-ssh-XXXXXX";
		cleanup_free char *sock = NULL;
		cleanup_free char *id = NULL;
		const char *agent[] = { "ssh-agent", "-D", "-a", NULL, NULL };
		const char *add[] = { "ssh-add", "-q", NULL, NULL };
		struct stat st;
		pid_t pid = -1;

		if (!eq || stat(eq + 1, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!mkdtemp(tmpl))
			return strata_fail(err, errno, "--ssh: a directory for the agent");
		ka->pids = xrealloc(ka->pids, (ka->n + 1) * sizeof(*ka->pids));
		ka->dirs = xrealloc(ka->dirs, (ka->n + 1) * sizeof(*ka->dirs));
		ka->pids[ka->n] = -1;
		ka->dirs[ka->n++] = xstrdup(tmpl);
		sock = xasprintf("%s/agent.sock", tmpl);
		agent[3] = sock;
		if (run_with_sock(agent, sock, &pid) < 0)
			return strata_fail(err, errno, "--ssh: start ssh-agent");
		ka->pids[ka->n - 1] = pid;
		for (int k = 0; k < 500 && stat(sock, &st) < 0; k++)
			usleep(10000);
		if (stat(sock, &st) < 0)
			return strata_fail_msg(err, EIO,
					       "--ssh %s: ssh-agent did not start (is openssh-client "
					       "installed?)",
					       ssh[i]);
		add[2] = eq + 1;
		if (run_with_sock(add, sock, NULL) != 0)
			return strata_fail_msg(err, EINVAL,
					       "--ssh %s: ssh-add could not load the key (a "
					       "passphrase, or not a private key)",
					       ssh[i]);
		id = xstrndup(ssh[i], (size_t)(eq - ssh[i]));
		free(ssh[i]);
		ssh[i] = xasprintf("%s=%s", id, sock);
	}
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
	struct build_out bout = { OUT_NONE, NULL };
	bool tar_stdout;
	const char *iidfile = NULL;
	cleanup_strv char **ssh = xcalloc(1, sizeof(char *));
	cleanup_strv char **contexts = xcalloc(1, sizeof(char *));
	cleanup_strv char **annotations = xcalloc(1, sizeof(char *));
	struct registry_opts ro = { 0 };
	char *creds = NULL;
	bool squash = false, squash_all = false;
	struct key_agents agents = { NULL, NULL, 0 };
	struct strata_error *err = NULL;
	bool quiet = false;
	char id[DIGEST_STR_LEN];
	struct store *s = NULL;
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
		OPT_CALLBACK('o', "output", &bout, "type=local|tar|oci|docker,dest=PATH",
			     "also write the result: its files to a directory\n"
			     "(local; '-o DIR'), its rootfs as a tar (tar; '-o -':\n"
			     "stdout), or the image as an archive (oci, docker)",
			     opt_output),
		OPT_STRING(0, "iidfile", &iidfile, "FILE", "write the image ID (sha256:...) to FILE"),
		OPT_CALLBACK(0, "secret", &secret_specs, "id=ID,src=FILE|env=VAR",
			     "a secret RUN --mount=type=secret shows (repeatable;\n"
			     "never stored)",
			     opt_secret),
		OPT_CALLBACK(0, "build-context", &contexts, "NAME=DIR|docker-image://REF",
			     "what FROM NAME, COPY --from=NAME and RUN --mount\n"
			     "from=NAME read (repeatable)",
			     opt_build_context),
		OPT_CALLBACK(0, "ssh", &ssh, "ID[=SOCKET|KEYFILE]",
			     "an ssh agent socket, or a key file loaded into an\n"
			     "agent of its own, that RUN --mount=type=ssh shows\n"
			     "(repeatable; 'default' alone: $SSH_AUTH_SOCK)",
			     opt_ssh),
		OPT_CALLBACK_OPTARG(0, "pull", &o.pull, "always|missing|never|newer",
				    "when to pull the images FROM, COPY --from and\n"
				    "RUN --mount from= name (default missing; bare: always)",
				    opt_pull),
		OPT_CALLBACK_OPTARG(0, "tls-verify", &ro, "false",
				    "pulls: allow plain http and unverified https", opt_tls_verify),
		OPT_CALLBACK(0, "creds", &creds, "USER:PASS",
			     "pulls: credentials (else the auth file's)", opt_build_creds),
		OPT_STRING(0, "authfile", &ro.authfile, "FILE", "pulls: read credentials from FILE"),
		OPT_CALLBACK(0, "annotation", &annotations, "KEY=VALUE",
			     "set an annotation on the image's manifest\n(repeatable)",
			     opt_annotation),
		OPT_BOOL(0, "squash", &squash, "the layers the build makes as one layer"),
		OPT_BOOL(0, "squash-all", &squash_all,
			 "all layers, the base image's too, as one layer"),
		OPT_END(),
	};
	cleanup_strv char **secret_data = NULL;
	struct recipe_secret *secrets = NULL;
	int ret;

	if (cmd_parse_args(ctx, &argc, &argv, opts, 0, 1, "CONTEXT") < 0) {
		free(creds);
		return ctx->status;
	}
	if (squash && squash_all) {
		free(creds);
		return cmd_usage_error(ctx, "--squash and --squash-all cannot go together");
	}
	o.squash = squash_all ? RECIPE_SQUASH_ALL : squash ? RECIPE_SQUASH_NEW : RECIPE_SQUASH_NONE;
	ro.creds = creds;
	o.registry = &ro;
	o.annotations = annotations;
	o.context = argc > 0 ? argv[0] : ".";
	if (o.timestamp < 0)
		o.timestamp = time_source_date_epoch();
	o.tags = tags;
	o.build_args = build_args;
	o.labels = labels;
	o.ssh = ssh;
	o.build_contexts = contexts;
	o.backend = ctx->backend;
	/* a tar on stdout: the progress goes to stderr */
	tar_stdout = bout.type == OUT_TAR && !strcmp(bout.dest, "-");
	o.out = quiet ? NULL : tar_stdout ? stderr : stdout;
	o.run_stdout = quiet ? -1 : o.out == stderr ? STDERR_FILENO : STDOUT_FILENO;
	o.run_stderr = quiet ? -1 : STDERR_FILENO;
	/*
	 * Without root the whole build runs as root of a user namespace (as
	 * buildah does): the working containers' overlays are mounted there,
	 * where COPY writes and RUN starts.
	 */
	if (cmd_userns_enter(&err) < 0)
		return cmd_fail(ctx, err);
	ret = load_secrets(secret_specs, &secrets, &secret_data, &err);
	if (ret == 0)
		ret = key_agents_start(ssh, &agents, &err);
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
	key_agents_stop(&agents);
	if (creds) {
		explicit_bzero(creds, strlen(creds));
		free(creds);
	}
	if (ret == -2)
		return EXIT_STRATA;
	if (ret == 0 && bout.type != OUT_NONE) {
		struct store_image *img = NULL;

		fflush(stdout);
		ret = store_image_load(s, id, &img, &err);
		if (ret == 0)
			ret = write_output(s, &bout, (const char *const *)tags, img, &err);
		store_image_free(img);
	}
	if (ret == 0 && iidfile) {
		cleanup_close int fd = open(iidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			ret = strata_fail(&err, errno, "--iidfile '%s'", iidfile);
		else if (file_write_all(fd, id, strlen(id), &err) < 0)
			ret = strata_wrap(&err, "--iidfile '%s'", iidfile);
	}
	free(bout.dest);
	if (ret < 0) {
		fflush(stdout);
		return cmd_fail(ctx, err);
	}
	if (!tar_stdout)
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
	bytes = size_human(st.blob_bytes, SIZE_LIST);
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
