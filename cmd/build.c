/*
 * build: images from a Containerfile/Dockerfile (recipe/).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"
#include "recipe/recipe.h"

static int parse_bool(const char *s, bool *out)
{
	if (!s || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

static int cmd_build(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum { O_BUILD_ARG = 0x2000, O_TARGET, O_NO_CACHE, O_TIMESTAMP, O_LAYERS, O_NETWORK,
	       O_COMPRESSION, O_LABEL };
	static const struct option opts[] = { { "tag", required_argument, NULL, 't' },
					      { "file", required_argument, NULL, 'f' },
					      { "build-arg", required_argument, NULL, O_BUILD_ARG },
					      { "target", required_argument, NULL, O_TARGET },
					      { "no-cache", no_argument, NULL, O_NO_CACHE },
					      { "timestamp", required_argument, NULL, O_TIMESTAMP },
					      { "layers", optional_argument, NULL, O_LAYERS },
					      { "network", required_argument, NULL, O_NETWORK },
					      { "compression", required_argument, NULL, O_COMPRESSION },
					      { "label", required_argument, NULL, O_LABEL },
					      { "quiet", no_argument, NULL, 'q' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct recipe_build_opts o = { .layers = true, .timestamp = -1, .network = "host",
				       .compression = LAYERS_COMPRESSION_GZIP };
	cleanup_strv char **tags = xcalloc(1, sizeof(char *));
	cleanup_strv char **build_args = xcalloc(1, sizeof(char *));
	cleanup_strv char **labels = xcalloc(1, sizeof(char *));
	struct strata_error *err = NULL;
	bool quiet = false, has_ts = false;
	char id[DIGEST_STR_LEN];
	struct store *s;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "t:f:q", opts)) != -1) {
		switch (c) {
		case 't': {
			struct store_ref r;

			if (store_ref_parse(optarg, &r, &err) < 0)
				return cmd_fail(ctx, err);
			if (r.digest) {
				store_ref_release(&r);
				return cmd_usage_error(ctx, "cannot tag with a digest reference '%s'",
						       optarg);
			}
			store_ref_release(&r);
			strv_append(&tags, optarg);
			break;
		}
		case 'f':
			o.file = optarg;
			break;
		case O_BUILD_ARG:
			if (strchr(optarg, '=')) {
				strv_append(&build_args, optarg);
			} else {
				/* "--build-arg KEY" takes KEY from the environment, as docker. */
				const char *v = getenv(optarg);

				if (v) {
					cleanup_free char *kv = xasprintf("%s=%s", optarg, v);

					strv_append(&build_args, kv);
				}
			}
			break;
		case O_TARGET:
			o.target = optarg;
			break;
		case O_NO_CACHE:
			o.no_cache = true;
			break;
		case O_TIMESTAMP: {
			char *end = NULL;
			long long t;

			errno = 0;
			t = strtoll(optarg, &end, 10);
			if (!*optarg || *end || errno || t < 0)
				return cmd_usage_error(ctx, "invalid --timestamp '%s' (seconds since the epoch)",
						       optarg);
			o.timestamp = t;
			has_ts = true;
			break;
		}
		case O_LAYERS:
			if (parse_bool(optarg, &o.layers) < 0)
				return cmd_usage_error(ctx, "invalid --layers '%s' (true or false)", optarg);
			break;
		case O_NETWORK:
			if (strcmp(optarg, "host") != 0 && strcmp(optarg, "none") != 0)
				return cmd_usage_error(ctx, "invalid --network '%s' (host or none)", optarg);
			o.network = optarg;
			break;
		case O_COMPRESSION:
			if (layers_compression_parse(optarg, &o.compression) < 0 ||
			    o.compression == LAYERS_COMPRESSION_NONE)
				return cmd_usage_error(ctx, "invalid --compression '%s' (gzip or zstd)",
						       optarg);
			break;
		case O_LABEL:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cmd_usage_error(ctx, "invalid --label '%s' (KEY=VALUE)", optarg);
			strv_append(&labels, optarg);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 0, 1, "CONTEXT")))
		return c;
	o.context = optind < argc ? argv[optind] : ".";
	if (!has_ts)
		o.timestamp = time_source_date_epoch();
	o.tags = tags;
	o.build_args = build_args;
	o.labels = labels;
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
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (recipe_build(s, &o, id, &err) < 0) {
		fflush(stdout);
		return cmd_fail(ctx, err);
	}
	printf("%s\n", digest_hex(id));
	return 0;
}

const struct command cmd_build_commands[] = {
	{ "build", "[options] [CONTEXT]", "build an image from a Containerfile or Dockerfile",
	  "  -t, --tag NAME[:TAG]        name the image (repeatable)\n"
	  "  -f, --file FILE             the recipe (default CONTEXT/Containerfile, then\n"
	  "                              CONTEXT/Dockerfile; '-' reads stdin)\n"
	  "      --build-arg KEY[=VALUE] value of an ARG (KEY alone: from the environment)\n"
	  "      --target STAGE          build up to this stage (name or index)\n"
	  "      --no-cache              run every step, ignoring the build cache\n"
	  "      --timestamp N           created times and file mtimes set to N (seconds\n"
	  "                              since the epoch; default $SOURCE_DATE_EPOCH)\n"
	  "      --layers=true|false     one cached image per step (default true); false:\n"
	  "                              no build cache\n"
	  "      --network host|none    network of RUN steps (default host)\n"
	  "      --compression gzip|zstd layer compression (default gzip)\n"
	  "      --label KEY=VALUE       set a label on the image (repeatable)\n"
	  "  -q, --quiet                 print only the image ID\n",
	  cmd_build },
	{ NULL, NULL, NULL, NULL, NULL },
};
