/*
 * layer commands: unpack a layer tar into a directory, pack a directory
 * into a layer blob of the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "layers/layers.h"

static int opt_whiteout(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (layers_whiteout_parse(arg, opt->value) < 0)
		return cmd_usage_error(ctx, "unknown whiteout format '%s' (want overlay, aufs or vfs)",
				       arg);
	return 0;
}

static int cmd_layer_unpack(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum layers_whiteout wh = LAYERS_WHITEOUT_VFS;
	struct layers_unpack_opts uo = { 0 };
	struct layers_unpack_stats st;
	struct strata_error *err = NULL;
	cleanup_close int fd = -1;
	cleanup_close int dfd = -1;
	const char *src, *dir;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('w', "whiteout", &wh, "FORMAT", "vfs (apply, the default), overlay or aufs",
			     opt_whiteout),
		OPT_SIZE(0, "max-size", &uo.max_bytes, "SIZE",
			 "refuse layers larger than SIZE uncompressed"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 2, 2, "LAYER (a tar file or '-') and DIR") < 0)
		return ctx->status;
	src = argv[0];
	dir = argv[1];
	fd = strcmp(src, "-") ? open(src, O_RDONLY | O_CLOEXEC) : dup(0);
	if (fd < 0)
		return cmd_failf(ctx, "open '%s': %s", src, strerror(errno));
	if (cmd_input_check(ctx, fd, src))
		return EXIT_STRATA;
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
	struct layers_pack_opts po = { LAYERS_COMPRESSION_GZIP, 0, -1, NULL, NULL };
	enum layers_whiteout wh = LAYERS_WHITEOUT_VFS;
	struct strata_error *err = NULL;
	struct layers_blob blob;
	cleanup_close int dfd = -1;
	const char *output = NULL;
	struct store *s;
	int r;
	const struct cmd_option opts[] = {
		OPT_CALLBACK('w', "whiteout", &wh, "FORMAT",
			     "how DIR records deletions: vfs (none, the default),\noverlay or aufs",
			     opt_whiteout),
		OPT_CALLBACK(0, "compression", &po.compression, "ALGO", "gzip (default), zstd or none",
			     cmd_option_compression),
		OPT_INT(0, "level", &po.level, "N", "compression level", 1, 19),
		OPT_CALLBACK(0, "timestamp", &po.timestamp, "N",
			     "clamp mtimes to N (default: $SOURCE_DATE_EPOCH)", cmd_option_timestamp),
		OPT_STRING('o', "output", &output, "FILE",
			   "write a plain tar to FILE ('-': stdout) instead"),
		OPT_END(),
	};

	po.timestamp = time_source_date_epoch();
	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, 1, "DIR") < 0)
		return ctx->status;
	dfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cmd_failf(ctx, "open '%s': %s", argv[0], strerror(errno));
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
	  cmd_layer_unpack },
	{ "layer pack", "[options] DIR",
	  "pack DIR into a layer blob of the store; prints its digest and diffID", cmd_layer_pack },
	{ NULL, NULL, NULL, NULL },
};
