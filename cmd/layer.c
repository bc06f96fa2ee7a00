/*
 * layer commands: unpack a layer tar into a directory, pack a directory
 * into a layer blob of the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "layers/layers.h"

static int parse_whiteout(struct cmd_ctx *ctx, const char *arg, enum layers_whiteout *wh)
{
	if (layers_whiteout_parse(arg, wh) < 0)
		return cmd_usage_error(ctx, "unknown whiteout format '%s' (want overlay, aufs or vfs)",
				       arg);
	return 0;
}

static int cmd_layer_unpack(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "whiteout", required_argument, NULL, 'w' },
					      { "max-size", required_argument, NULL, 'M' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	enum layers_whiteout wh = LAYERS_WHITEOUT_VFS;
	struct layers_unpack_opts uo = { 0 };
	struct layers_unpack_stats st;
	struct strata_error *err = NULL;
	cleanup_close int fd = -1;
	cleanup_close int dfd = -1;
	const char *src, *dir;
	int c;

	while ((c = cmd_getopt(ctx, argc, argv, "w:", opts)) != -1) {
		switch (c) {
		case 'w':
			if (parse_whiteout(ctx, optarg, &wh))
				return EXIT_STRATA;
			break;
		case 'M':
			if (size_parse(optarg, &uo.max_bytes) < 0 || uo.max_bytes == 0)
				return cmd_usage_error(ctx, "invalid size '%s'", optarg);
			break;
		default:
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 2, 2, "LAYER (a tar file or '-') and DIR")))
		return c;
	src = argv[optind];
	dir = argv[optind + 1];
	fd = strcmp(src, "-") ? open(src, O_RDONLY | O_CLOEXEC) : dup(0);
	if (fd < 0)
		return cmd_failf(ctx, "open '%s': %s", src, strerror(errno));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return cmd_failf(ctx, "create '%s': %s", dir, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cmd_failf(ctx, "open '%s': %s", dir, strerror(errno));
	if (layers_unpack(fd, dfd, wh, &uo, &st, &err) < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", st.diff_id);
	log_info("%llu entries, %llu bytes", (unsigned long long)st.entries,
		 (unsigned long long)st.bytes);
	return 0;
}

static int cmd_layer_pack(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "whiteout", required_argument, NULL, 'w' },
					      { "compression", required_argument, NULL, 'C' },
					      { "level", required_argument, NULL, 'l' },
					      { "timestamp", required_argument, NULL, 't' },
					      { "output", required_argument, NULL, 'o' },
					      CMD_OPT_HELP,
					      CMD_OPT_END };
	struct layers_pack_opts po = { LAYERS_COMPRESSION_GZIP, 0, -1 };
	enum layers_whiteout wh = LAYERS_WHITEOUT_VFS;
	struct strata_error *err = NULL;
	struct layers_blob blob;
	cleanup_close int dfd = -1;
	const char *output = NULL;
	struct store *s;
	char *end;
	int c, r;

	po.timestamp = time_source_date_epoch();
	while ((c = cmd_getopt(ctx, argc, argv, "w:o:", opts)) != -1) {
		switch (c) {
		case 'w':
			if (parse_whiteout(ctx, optarg, &wh))
				return EXIT_STRATA;
			break;
		case 'C':
			if (layers_compression_parse(optarg, &po.compression) < 0)
				return cmd_usage_error(
					ctx, "unknown compression '%s' (want gzip, zstd or none)", optarg);
			break;
		case 'l':
			po.level = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || po.level < 1 || po.level > 19)
				return cmd_usage_error(ctx, "invalid level '%s' (1 to 19)", optarg);
			break;
		case 't':
			po.timestamp = strtoll(optarg, &end, 10);
			if (*end || end == optarg || po.timestamp < 0)
				return cmd_usage_error(ctx, "invalid timestamp '%s' (seconds since 1970)",
						       optarg);
			break;
		case 'o':
			output = optarg;
			break;
		default:
			return cmd_getopt_status(c);
		}
	}
	if ((c = cmd_check_operands(ctx, argc, argv, 1, 1, "DIR")))
		return c;
	dfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cmd_failf(ctx, "open '%s': %s", argv[optind], strerror(errno));
	if (output) {
		cleanup_close int ofd = strcmp(output, "-") ? open(output, O_WRONLY | O_CREAT |
									  O_TRUNC | O_CLOEXEC,
								   0644)
							    : dup(1);

		if (po.compression != LAYERS_COMPRESSION_NONE)
			return cmd_usage_error(ctx, "--output writes a plain tar: add --compression none");
		if (ofd < 0)
			return cmd_failf(ctx, "create '%s': %s", output, strerror(errno));
		if (wh != LAYERS_WHITEOUT_VFS)
			return cmd_usage_error(ctx, "--output packs a whole tree: use --whiteout vfs");
		if (layers_pack_tar_fd(dfd, ofd, po.timestamp, &err) < 0)
			return cmd_fail(ctx, err);
		return 0;
	}
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (store_pin(s, &err) < 0)
		return cmd_fail(ctx, err);
	r = layers_pack_dir(s, dfd, wh, &po, &blob, &err);
	store_unpin(s);
	if (r < 0)
		return cmd_fail(ctx, err);
	printf("%s\n%s\n", blob.digest, blob.diff_id);
	return 0;
}

const struct command cmd_layer_commands[] = {
	{ "layer unpack", "[options] LAYER DIR",
	  "unpack a layer tar (plain, gzip, zstd; '-' for stdin) into DIR; prints its diffID",
	  "  -w, --whiteout FORMAT      vfs (apply, the default), overlay or aufs\n"
	  "      --max-size SIZE        refuse layers larger than SIZE uncompressed\n",
	  cmd_layer_unpack },
	{ "layer pack", "[options] DIR",
	  "pack DIR into a layer blob of the store; prints its digest and diffID",
	  "  -w, --whiteout FORMAT      how DIR records deletions: vfs (none, the default),\n"
	  "                             overlay or aufs\n"
	  "      --compression ALGO     gzip (default), zstd or none\n"
	  "      --level N              compression level\n"
	  "      --timestamp N          clamp mtimes to N (default: $SOURCE_DATE_EPOCH)\n"
	  "  -o, --output FILE          write a plain tar to FILE ('-': stdout) instead\n",
	  cmd_layer_pack },
	{ NULL, NULL, NULL, NULL, NULL },
};
