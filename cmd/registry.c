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

#define OPT_TLS 0x2001
#define OPT_CREDS 0x2002
#define OPT_AUTHFILE 0x2003
#define OPT_PLATFORM 0x2004
#define OPT_DIGESTFILE 0x2005
#define OPT_PASSWORD_STDIN 0x2006
#define OPT_ALL 0x2007
#define OPT_COMPRESSION 0x2008

static int parse_tls(struct cmd_ctx *ctx, const char *arg, struct registry_opts *o)
{
	if (!arg || strcmp(arg, "true") == 0)
		o->insecure = false;
	else if (strcmp(arg, "false") == 0)
		o->insecure = true;
	else
		return cmd_usage_error(ctx, "--tls-verify wants true or false, not '%s'", arg);
	return 0;
}

/* Copies a secret argument and blanks it in argv, so it is not left in the process title. */
static char *take_secret(char *arg)
{
	char *copy = xstrdup(arg);
	char *colon = strchr(arg, ':');

	memset(colon ? colon + 1 : arg, 'x', strlen(colon ? colon + 1 : arg));
	return copy;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int cmd_pull(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "tls-verify", optional_argument, NULL, OPT_TLS },
					      { "creds", required_argument, NULL, OPT_CREDS },
					      { "authfile", required_argument, NULL, OPT_AUTHFILE },
					      { "platform", required_argument, NULL, OPT_PLATFORM },
					      { "quiet", no_argument, NULL, 'q' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct registry_opts o = { 0 };
	struct strata_error *err = NULL;
	struct cmd_progress *prog = NULL;
	bool quiet = false;
	char *creds = NULL;
	char id[DIGEST_STR_LEN];
	struct store *s;
	int c, r;

	while ((c = cmd_getopt(ctx, argc, argv, "q", opts)) != -1) {
		switch (c) {
		case OPT_TLS:
			if ((r = parse_tls(ctx, optarg, &o)))
				return r;
			break;
		case OPT_CREDS:
			free(creds);
			creds = take_secret(optarg);
			break;
		case OPT_AUTHFILE:
			o.authfile = optarg;
			break;
		case OPT_PLATFORM:
			o.platform = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			wipe_free(creds);
			return cmd_getopt_status(c);
		}
	}
	o.creds = creds;
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 1, "REF"))) {
		wipe_free(creds);
		return c;
	}
	if (!(s = cmd_store(ctx))) {
		wipe_free(creds);
		return EXIT_STRATA;
	}
	if (!quiet) {
		prog = cmd_progress_new();
		o.progress = cmd_progress_event;
		o.progress_arg = prog;
	}
	/*
	 * Ready to mount: the layer dirs of the backend are made as the layers
	 * arrive, and whatever could not be (vfs dirs, which replay their
	 * parents) right after, not at first use.
	 */
	o.unpack_backend = ctx->backend ? ctx->backend : overlay_backend_default();
	r = registry_pull(s, argv[optind], &o, id, &err);
	cmd_progress_free(prog);
	wipe_free(creds);
	if (r < 0)
		return cmd_fail(ctx, err);
	{
		struct store_image *img = NULL;
		const char *backend = o.unpack_backend;

		if (store_image_load(s, id, &img, &err) < 0 ||
		    layers_dir_ensure(s, backend, img, img->manifest->n_layers, &err) < 0) {
			store_image_free(img);
			return cmd_fail(ctx, err);
		}
		store_image_free(img);
	}
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

static int cmd_push(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "tls-verify", optional_argument, NULL, OPT_TLS },
					      { "creds", required_argument, NULL, OPT_CREDS },
					      { "authfile", required_argument, NULL, OPT_AUTHFILE },
					      { "digestfile", required_argument, NULL, OPT_DIGESTFILE },
					      { "compression", required_argument, NULL, OPT_COMPRESSION },
					      { "quiet", no_argument, NULL, 'q' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct registry_opts o = { 0 };
	struct strata_error *err = NULL;
	struct cmd_progress *prog = NULL;
	const char *digestfile = NULL;
	bool quiet = false;
	char *creds = NULL;
	char digest[DIGEST_STR_LEN];
	struct store *s;
	int c, r;

	while ((c = cmd_getopt(ctx, argc, argv, "q", opts)) != -1) {
		switch (c) {
		case OPT_TLS:
			if ((r = parse_tls(ctx, optarg, &o)))
				return r;
			break;
		case OPT_CREDS:
			free(creds);
			creds = take_secret(optarg);
			break;
		case OPT_AUTHFILE:
			o.authfile = optarg;
			break;
		case OPT_DIGESTFILE:
			digestfile = optarg;
			break;
		case OPT_COMPRESSION:
			if (layers_compression_parse(optarg, &o.compression) < 0 ||
			    o.compression == LAYERS_COMPRESSION_NONE) {
				wipe_free(creds);
				return cmd_usage_error(ctx,
						       "--compression wants gzip or zstd, not '%s'",
						       optarg);
			}
			o.recompress = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			wipe_free(creds);
			return cmd_getopt_status(c);
		}
	}
	o.creds = creds;
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 2, "IMAGE [DEST]"))) {
		wipe_free(creds);
		return c;
	}
	if (!(s = cmd_store(ctx))) {
		wipe_free(creds);
		return EXIT_STRATA;
	}
	if (!quiet) {
		prog = cmd_progress_new();
		o.progress = cmd_progress_event;
		o.progress_arg = prog;
	}
	r = registry_push(s, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, &o, digest,
			  &err);
	cmd_progress_free(prog);
	wipe_free(creds);
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
	static const struct option opts[] = { { "username", required_argument, NULL, 'u' },
					      { "password", required_argument, NULL, 'p' },
					      { "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
					      { "authfile", required_argument, NULL, OPT_AUTHFILE },
					      { "tls-verify", optional_argument, NULL, OPT_TLS },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct registry_opts o = { 0 };
	struct strata_error *err = NULL;
	const char *user = NULL;
	char *pass = NULL;
	bool from_stdin = false;
	int c, r;

	while ((c = cmd_getopt(ctx, argc, argv, "u:p:", opts)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'p':
			wipe_free(pass);
			pass = xstrdup(optarg);
			memset(optarg, 'x', strlen(optarg));
			break;
		case OPT_PASSWORD_STDIN:
			from_stdin = true;
			break;
		case OPT_AUTHFILE:
			o.authfile = optarg;
			break;
		case OPT_TLS:
			if ((r = parse_tls(ctx, optarg, &o))) {
				wipe_free(pass);
				return r;
			}
			break;
		default:
			wipe_free(pass);
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 1, "REGISTRY"))) {
		wipe_free(pass);
		return c;
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
	r = registry_login(argv[optind], user, pass, &o, &err);
	wipe_free(pass);
	if (r < 0)
		return cmd_fail(ctx, err);
	printf("Login Succeeded!\n");
	return 0;
}

static int cmd_logout(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
					      { "authfile", required_argument, NULL, OPT_AUTHFILE },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct strata_error *err = NULL;
	const char *authfile = NULL;
	bool all = false;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "a", opts)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case OPT_AUTHFILE:
			authfile = optarg;
			break;
		default:
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, all ? 0 : 1, all ? 0 : 1,
				    all ? "" : "REGISTRY")))
		return c;
	if (registry_logout(all ? NULL : argv[optind], all, authfile, &err) < 0)
		return cmd_fail(ctx, err);
	if (all)
		printf("Removed login credentials for all registries\n");
	else
		printf("Removed login credentials for %s\n", argv[optind]);
	return 0;
}

const struct command cmd_registry_commands[] = {
	{ "pull", "[options] REF", "download an image from a registry",
	  "      --platform OS/ARCH[/V] the image to pick from an index (default: this machine)\n"
	  "      --tls-verify=false     allow plain http and unverified https\n"
	  "      --creds USER:PASS      credentials (else the auth file's)\n"
	  "      --authfile FILE        read credentials from FILE\n"
	  "  -q, --quiet                no progress lines\n",
	  cmd_pull },
	{ "push", "[options] IMAGE [DEST]", "upload an image to a registry",
	  "      --tls-verify=false     allow plain http and unverified https\n"
	  "      --creds USER:PASS      credentials (else the auth file's)\n"
	  "      --authfile FILE        read credentials from FILE\n"
	  "      --digestfile FILE      write the manifest digest to FILE\n"
	  "      --compression C        recompress the layers to gzip or zstd (the local image stays)\n"
	  "  -q, --quiet                no progress lines\n",
	  cmd_push },
	{ "login", "[options] REGISTRY", "check and store credentials for a registry",
	  "  -u, --username USER        user name\n"
	  "  -p, --password PASS        password\n"
	  "      --password-stdin       read the password from stdin\n"
	  "      --authfile FILE        the auth file to write\n"
	  "      --tls-verify=false     allow plain http and unverified https\n",
	  cmd_login },
	{ "logout", "[options] REGISTRY", "remove stored credentials",
	  "  -a, --all                  every registry\n"
	  "      --authfile FILE        the auth file to change\n",
	  cmd_logout },
	{ NULL, NULL, NULL, NULL, NULL },
};
