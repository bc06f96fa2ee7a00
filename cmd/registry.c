/*
 * registry commands: pull, push, login, logout.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "layers/layers.h"
#include "overlay/overlay.h"
#include "registry/registry.h"

/*
 * The options pull and push share: what they set, and the secret to wipe
 * whatever happens.
 */
struct transfer_opts {
	struct registry_opts o;
	char *creds; /* a copy; the argument is blanked in argv */
	bool quiet;
};

static int opt_tls(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct registry_opts *o = opt->value;

	if (!arg || strcmp(arg, "true") == 0) {
		o->insecure = false;
		o->tls_verify = true;
	} else if (strcmp(arg, "false") == 0) {
		o->insecure = true;
		o->tls_verify = false;
	}
	else
		return cmd_usage_error(ctx, "--tls-verify wants true or false, not '%s'", arg);
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Copies a secret argument and blanks it in argv, so it is not left in the process title. */
static int opt_creds(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char **creds = opt->value;
	char *colon = strchr(arg, ':');
	char *secret = (char *)(colon ? colon + 1 : arg);

	(void)ctx;
	wipe_free(*creds);
	*creds = xstrdup(arg);
	memset(secret, 'x', strlen(secret));
	return 0;
}

static int opt_password(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char **pass = opt->value;

	(void)ctx;
	wipe_free(*pass);
	*pass = xstrdup(arg);
	memset((char *)arg, 'x', strlen(arg));
	return 0;
}

#define OPT_TLS_VERIFY(o) \
	OPT_CALLBACK_OPTARG(0, "tls-verify", (o), "false", \
			    "false: plain http and unverified https allowed; " \
			    "true: never, whatever registries.conf says", opt_tls)
#define OPT_AUTHFILE(v, h) OPT_STRING(0, "authfile", (v), "FILE", (h))

/*
 * Parses pull's or push's options (@extra first) and checks @min to @max
 * operands; 0 or -1 (ctx->status says how to end, *t's secret wiped).
 */
static int parse_transfer(struct cmd_ctx *ctx, int *argc, char ***argv,
			  const struct cmd_option *extra, struct transfer_opts *t, int min,
			  int max, const char *what)
{
	const struct cmd_option common[] = {
		OPT_TLS_VERIFY(&t->o),
		OPT_CALLBACK(0, "creds", &t->creds, "USER:PASS",
			     "credentials (else the auth file's)", opt_creds),
		OPT_AUTHFILE(&t->o.authfile, "read credentials from FILE"),
		OPT_BOOL('q', "quiet", &t->quiet, "no progress lines"),
		OPT_STRING(0, "signature-policy", &t->o.signature_policy, "FILE",
			   "the containers-policy.json to obey (default: the user's, else the system's)"),
		OPT_STRING(0, "cert-dir", &t->o.cert_dir, "DIR",
			   "TLS certificates: *.crt CAs, *.cert/*.key client pairs (default: certs.d)"),
	};
	size_t n_extra = 0, n_common = ARRAY_SIZE(common);

	while (extra[n_extra].type != CMD_OPTION_END)
		n_extra++;
	{
		cleanup_free struct cmd_option *opts =
			xcalloc(n_extra + n_common + 1, sizeof(*opts));

		memcpy(opts, extra, n_extra * sizeof(*opts));
		memcpy(opts + n_extra, common, sizeof(common));
		if (cmd_parse_args(ctx, argc, argv, opts, min, max, what) == 0) {
			t->o.creds = t->creds;
			return 0;
		}
	}
	wipe_free(t->creds);
	t->creds = NULL;
	return -1;
}

/* A progress display unless -q: its events go to @t's registry options. */
static struct cmd_progress *start_progress(struct transfer_opts *t)
{
	struct cmd_progress *prog;

	if (t->quiet)
		return NULL;
	prog = cmd_progress_new();
	t->o.progress = cmd_progress_event;
	t->o.progress_arg = prog;
	return prog;
}

/*
 * podman's prompt for a short name that several search registries could
 * serve: only when stdin and stdout are terminals (else -1: nobody to ask).
 */
static int choose_short_name(const char *name, char *const *cands, size_t n, void *arg)
{
	cleanup_free char *line = NULL;
	size_t cap = 0;

	(void)arg;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -1;
	printf("? Please select an image for '%s':\n", name);
	for (size_t i = 0; i < n; i++)
		printf("  %zu) %s\n", i + 1, cands[i]);
	for (;;) {
		char *end;
		unsigned long k;

		printf("Enter a number from 1 to %zu [1]: ", n);
		fflush(stdout);
		if (getline(&line, &cap, stdin) < 0)
			return -1;
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			return 0;
		k = strtoul(line, &end, 10);
		if (!*end && k >= 1 && k <= n)
			return (int)k - 1;
	}
}

/* Pulls @ref with @t and makes its layer dirs; 0, or EXIT_STRATA once reported. */
static int pull_one(struct cmd_ctx *ctx, struct store *s, const char *ref, struct transfer_opts *t,
		    char id[DIGEST_STR_LEN])
{
	struct strata_error *err = NULL;
	struct cmd_progress *prog = start_progress(t);
	struct store_image *img = NULL;
	int r;

	/*
	 * Ready to mount: the layer dirs of the backend are made as the layers
	 * arrive, and whatever could not be (vfs dirs, which replay their
	 * parents) right after, not at first use.
	 */
	t->o.unpack_backend = ctx->backend ? ctx->backend : overlay_backend_default();
	t->o.choose = choose_short_name;
	r = registry_pull(s, ref, &t->o, id, &err);
	cmd_progress_free(prog);
	t->o.progress = NULL;
	t->o.progress_arg = NULL;
	if (r < 0)
		return cmd_fail(ctx, err);
	if (store_image_load(s, id, &img, &err) < 0 ||
	    layers_dir_ensure(s, t->o.unpack_backend, img, img->manifest->n_layers, &err) < 0) {
		store_image_free(img);
		return cmd_fail(ctx, err);
	}
	store_image_free(img);
	return 0;
}

int cmd_pull_image(struct cmd_ctx *ctx, struct store *s, const char *ref, bool quiet,
		   bool insecure, bool silent, char id[DIGEST_STR_LEN])
{
	struct transfer_opts t = { .quiet = quiet };
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	int r;

	t.o.insecure = insecure;
	if (!silent)
		return pull_one(ctx, s, ref, &t, id);
	/* no report: the caller goes on with what the store has */
	t.o.unpack_backend = ctx->backend ? ctx->backend : overlay_backend_default();
	r = registry_pull(s, ref, &t.o, id, &err);
	if (r == 0 && store_image_load(s, id, &img, &err) == 0)
		r = layers_dir_ensure(s, t.o.unpack_backend, img, img->manifest->n_layers, &err);
	store_image_free(img);
	if (r < 0) {
		log_debug("pull '%s': %s", ref, strata_error_msg(err));
		strata_error_free(err);
		return EXIT_STRATA;
	}
	return 0;
}

/* pull --all-tags REPO: each tag the registry lists, one after the other. */
static int pull_all_tags(struct cmd_ctx *ctx, struct store *s, const char *repo,
			 struct transfer_opts *t)
{
	struct strata_error *err = NULL;
	cleanup_strv char **tags = NULL;
	struct store_ref ref;
	int ret = 0;

	if (store_ref_parse(repo, &ref, &err) < 0) {
		wipe_free(t->creds);
		return cmd_fail(ctx, err);
	}
	/* a reference without tag parses as :latest; podman refuses one written with a tag */
	if (ref.digest || strchr(repo + (strrchr(repo, '/') ? strrchr(repo, '/') - repo : 0), ':')) {
		store_ref_release(&ref);
		wipe_free(t->creds);
		return cmd_usage_error(ctx, "--all-tags takes a repository without a tag or digest: '%s'",
				       repo);
	}
	store_ref_release(&ref);
	if (registry_tags_list(repo, &t->o, &tags, &err) < 0) {
		wipe_free(t->creds);
		return cmd_fail(ctx, err);
	}
	if (!tags[0])
		ret = cmd_failf(ctx, "repository '%s' has no tags", repo);
	for (size_t i = 0; tags[i]; i++) {
		cleanup_free char *one = xasprintf("%s:%s", repo, tags[i]);
		char id[DIGEST_STR_LEN];

		if (pull_one(ctx, s, one, t, id) == 0)
			printf("%s\n", digest_hex(id));
		else
			ret = EXIT_STRATA;
	}
	wipe_free(t->creds);
	return ret;
}

static int cmd_pull(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct transfer_opts t = { 0 };
	char id[DIGEST_STR_LEN];
	bool all_tags = false;
	struct store *s;
	int r;
	const struct cmd_option opts[] = {
		OPT_STRING(0, "platform", &t.o.platform, "OS/ARCH[/V]",
			   "the image to pick from an index (default: this machine)"),
		OPT_BOOL('a', "all-tags", &all_tags, "every tag of the repository REF names"),
		OPT_END(),
	};

	if (parse_transfer(ctx, &argc, &argv, opts, &t, 1, 1, "REF") < 0)
		return ctx->status;
	if (!(s = cmd_store(ctx))) {
		wipe_free(t.creds);
		return EXIT_STRATA;
	}
	if (all_tags)
		return pull_all_tags(ctx, s, argv[0], &t);
	r = pull_one(ctx, s, argv[0], &t, id);
	wipe_free(t.creds);
	if (r)
		return r;
	printf("%s\n", digest_hex(id));
	return 0;
}

static int write_digestfile(const char *path, const char *digest, struct strata_error **err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return strata_fail(err, errno, "--digestfile %s", path);
	return file_write_all(fd, digest, strlen(digest), err);
}

static int opt_push_compression(struct cmd_ctx *ctx, const struct cmd_option *opt,
				const char *arg)
{
	struct registry_opts *o = opt->value;
	struct cmd_option inner = *opt;

	inner.value = &o->compression;
	if (cmd_option_compressed(ctx, &inner, arg))
		return EXIT_STRATA;
	o->recompress = true;
	return 0;
}

static int cmd_push(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct transfer_opts t = { 0 };
	struct strata_error *err = NULL;
	struct cmd_progress *prog = NULL;
	const char *digestfile = NULL;
	char digest[DIGEST_STR_LEN];
	struct store *s;
	int r;
	const struct cmd_option opts[] = {
		OPT_STRING(0, "digestfile", &digestfile, "FILE", "write the manifest digest to FILE"),
		OPT_CALLBACK(0, "compression", &t.o, "C",
			     "recompress the layers to gzip or zstd (the local image stays)",
			     opt_push_compression),
		OPT_END(),
	};

	if (parse_transfer(ctx, &argc, &argv, opts, &t, 1, 2, "IMAGE [DEST]") < 0)
		return ctx->status;
	if (!(s = cmd_store(ctx))) {
		wipe_free(t.creds);
		return EXIT_STRATA;
	}
	prog = start_progress(&t);
	r = registry_push(s, argv[0], argc > 1 ? argv[1] : NULL, &t.o, digest, &err);
	cmd_progress_free(prog);
	wipe_free(t.creds);
	if (r < 0)
		return cmd_fail(ctx, err);
	if (digestfile && write_digestfile(digestfile, digest, &err) < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", digest);
	return 0;
}

/* Reads the password from stdin: everything up to the first newline. */
static char *read_password_stdin(struct strata_error **err)
{
	char *buf = NULL;
	size_t len = 0;

	if (file_read_fd(0, 4096, &buf, &len, err) < 0)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

static int cmd_login(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct registry_opts o = { 0 };
	struct strata_error *err = NULL;
	const char *user = NULL;
	char *pass = NULL;
	bool from_stdin = false;
	int r;
	const struct cmd_option opts[] = {
		OPT_STRING('u', "username", &user, "USER", "user name"),
		OPT_CALLBACK('p', "password", &pass, "PASS", "password", opt_password),
		OPT_BOOL(0, "password-stdin", &from_stdin, "read the password from stdin"),
		OPT_AUTHFILE(&o.authfile, "the auth file to write"),
		OPT_TLS_VERIFY(&o),
		OPT_END(),
	};

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0) {
		wipe_free(pass);
		return ctx->status;
	}
	if (cmd_check_operands(ctx, argc, argv, 1, 1, "REGISTRY")) {
		wipe_free(pass);
		return EXIT_STRATA;
	}
	if (from_stdin && pass) {
		wipe_free(pass);
		return cmd_usage_error(ctx, "--password and --password-stdin do not go together");
	}
	if (!user) {
		wipe_free(pass);
		return cmd_usage_error(ctx, "a user name is needed (-u USER)");
	}
	if (from_stdin && !(pass = read_password_stdin(&err)))
		return cmd_fail(ctx, err);
	if (!pass)
		return cmd_usage_error(ctx, "a password is needed (-p PASS or --password-stdin)");
	r = registry_login(argv[0], user, pass, &o, &err);
	wipe_free(pass);
	if (r < 0)
		return cmd_fail(ctx, err);
	printf("Login Succeeded!\n");
	return 0;
}

static int cmd_logout(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	const char *authfile = NULL;
	bool all = false;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every registry"),
		OPT_AUTHFILE(&authfile, "the auth file to change"),
		OPT_END(),
	};

	if (cmd_parse_options(ctx, &argc, &argv, opts, 0) < 0)
		return ctx->status;
	/* How many operands depends on --all, known only now. */
	if (cmd_check_operands(ctx, argc, argv, all ? 0 : 1, all ? 0 : 1, all ? "" : "REGISTRY"))
		return EXIT_STRATA;
	if (registry_logout(all ? NULL : argv[0], all, authfile, &err) < 0)
		return cmd_fail(ctx, err);
	if (all)
		printf("Removed login credentials for all registries\n");
	else
		printf("Removed login credentials for %s\n", argv[0]);
	return 0;
}

const struct command cmd_registry_commands[] = {
	{ "pull", "[options] REF", "download an image from a registry", cmd_pull },
	{ "push", "[options] IMAGE [DEST]", "upload an image to a registry", cmd_push },
	{ "login", "[options] REGISTRY", "check and store credentials for a registry", cmd_login },
	{ "logout", "[options] REGISTRY", "remove stored credentials", cmd_logout },
	{ NULL, NULL, NULL, NULL },
};
