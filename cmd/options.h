/*
 * cmd/options: declarative command-line options, in the manner of git's
 * parse-options. A command declares its options in one table (long name,
 * short name, type, target, argument name, help); cmd_parse_options() parses
 * argv with it and prints `strata COMMAND --help` from it, so an option and
 * its help cannot drift apart.
 *
 * Parsing follows getopt_long's conventions: short options bundle (`-dit`),
 * a short option's argument is attached (`-eK=V`) or the next word (`-e K=V`),
 * a long one's is `--name=VALUE` or `--name VALUE`, a long name may be
 * abbreviated to any unique prefix, `--` ends the options, and options and
 * operands mix unless CMD_PARSE_STOP_AT_OPERAND is given (then the first
 * operand ends the options: `run IMAGE CMD -x` leaves `-x` to CMD).
 */
#ifndef STRATA_CMD_OPTIONS_H
#define STRATA_CMD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

struct cmd_ctx;
struct cmd_option;
struct store;

enum cmd_option_type {
	CMD_OPTION_END = 0,
	CMD_OPTION_BOOL,     /* bool *: set to true */
	CMD_OPTION_STRING,   /* const char **: the argument (the last one given wins) */
	CMD_OPTION_INT,      /* int *: a decimal number between min and max */
	CMD_OPTION_SIZE,     /* uint64_t *: a size (64m, 1g; size_parse), not 0 */
	CMD_OPTION_LIST,     /* char ***: every use appends its argument (strv) */
	CMD_OPTION_CALLBACK, /* callback(ctx, opt, arg); value is the callback's */
};

enum cmd_option_flags {
	/* The argument is optional and only given as --name=VALUE (the callback gets NULL). */
	CMD_OPTION_OPTARG = 1 << 0,
	/* Accepted but not listed in --help. */
	CMD_OPTION_HIDDEN = 1 << 1,
};

/*
 * Called with the option's argument (NULL for an OPTARG option given
 * without one, "" for a CALLBACK option that takes none); returns 0, or
 * EXIT_STRATA once it has reported the error (cmd_usage_error).
 */
typedef int cmd_option_fn(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

struct cmd_option {
	enum cmd_option_type type;
	int short_name;		/* 0: none */
	const char *long_name;	/* NULL: none */
	void *value;		/* where the value goes, per type */
	const char *argh;	/* the argument's name in --help; NULL: takes none */
	const char *help;	/* one line; '\n' continues it on the next line */
	unsigned flags;		/* enum cmd_option_flags */
	cmd_option_fn *callback;
	long long min, max;	/* CMD_OPTION_INT bounds */
};

#define OPT_BOOL(s, l, v, h) { CMD_OPTION_BOOL, (s), (l), (v), NULL, (h), 0, NULL, 0, 0 }
#define OPT_STRING(s, l, v, a, h) { CMD_OPTION_STRING, (s), (l), (v), (a), (h), 0, NULL, 0, 0 }
#define OPT_INT(s, l, v, a, h, lo, hi) { CMD_OPTION_INT, (s), (l), (v), (a), (h), 0, NULL, (lo), (hi) }
#define OPT_SIZE(s, l, v, a, h) { CMD_OPTION_SIZE, (s), (l), (v), (a), (h), 0, NULL, 0, 0 }
#define OPT_LIST(s, l, v, a, h) { CMD_OPTION_LIST, (s), (l), (v), (a), (h), 0, NULL, 0, 0 }
/* A callback option; @a NULL: it takes no argument. */
#define OPT_CALLBACK(s, l, v, a, h, cb) \
	{ CMD_OPTION_CALLBACK, (s), (l), (v), (a), (h), 0, (cb), 0, 0 }
/* A callback option whose argument is optional and only given as --name=VALUE. */
#define OPT_CALLBACK_OPTARG(s, l, v, a, h, cb) \
	{ CMD_OPTION_CALLBACK, (s), (l), (v), (a), (h), CMD_OPTION_OPTARG, (cb), 0, 0 }
/* --format table|json into a bool * (true: json). */
#define OPT_FORMAT(s, v, h) OPT_CALLBACK((s), "format", (v), "FORMAT", (h), cmd_option_format)
#define OPT_END() { CMD_OPTION_END, 0, NULL, NULL, NULL, NULL, 0, NULL, 0, 0 }

enum cmd_parse_flags {
	/* The first operand ends the options (run IMAGE CMD ARG...). */
	CMD_PARSE_STOP_AT_OPERAND = 1 << 0,
};

/*
 * Parses the options of @opts out of @argc and @argv (argv[0] is the
 * command's name) and leaves the operands in (*argv)[0] to (*argv)[*argc - 1],
 * in order, NULL after them.
 * Returns 0 to go on; -1 when the command is to end with ctx->status:
 * 0 after --help (or -h, when no option claims it) was printed, EXIT_STRATA
 * after a one-line usage error was reported.
 */
int cmd_parse_options(struct cmd_ctx *ctx, int *argc, char ***argv,
		      const struct cmd_option *opts, unsigned flags);

/*
 * cmd_parse_options (options and operands mixed), then cmd_check_operands:
 * 0 to go on, or -1 with ctx->status to end with.
 */
int cmd_parse_args(struct cmd_ctx *ctx, int *argc, char ***argv, const struct cmd_option *opts,
		   int min, int max, const char *what);

/* cmd_parse_args, then cmd_store: the store, or NULL with ctx->status to end with. */
struct store *cmd_parse_store(struct cmd_ctx *ctx, int *argc, char ***argv,
			      const struct cmd_option *opts, int min, int max, const char *what);

/* Prints `strata COMMAND --help` for @opts: usage, summary, the options. */
void cmd_print_options_help(struct cmd_ctx *ctx, const struct cmd_option *opts);

/*
 * Checks that there are between @min and @max operands (@max < 0: no
 * limit); reports "missing argument: @what" or "unexpected argument" and
 * returns EXIT_STRATA, else 0.
 */
int cmd_check_operands(struct cmd_ctx *ctx, int argc, char **argv, int min, int max,
		       const char *what);

/* Callback of OPT_FORMAT: "table" or "json" (also "{{json .}}") into the bool at opt->value. */
int cmd_option_format(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

/* Callback: a compression (gzip, zstd or none) into the enum layers_compression at opt->value. */
int cmd_option_compression(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

/* Callback: as cmd_option_compression, but a compressed one only (gzip or zstd). */
int cmd_option_compressed(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

/* Callback: a non-negative number of seconds since 1970 into the int64_t at opt->value. */
int cmd_option_timestamp(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

/* Callback: true or false (also 1, 0, any case; none given: true) into the bool at opt->value. */
int cmd_option_bool_arg(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

#endif
