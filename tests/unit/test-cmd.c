/*
 * cmd: the declarative option parser (cmd/options.c) and every command's
 * generated --help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "layers/layers.h"
#include "tests/unit/unit.h"

void cmd_set_current(const struct command *c);

/*
 * What the parses of one test allocated. Option values point into the words
 * (as into a process's argv), and the parser moves operands down over the
 * options it took: the words live until the test ends (free_words).
 */
static void **allocated;
static size_t n_allocated;

static void *keep(void *p)
{
	allocated = xrealloc(allocated, (n_allocated + 1) * sizeof(*allocated));
	allocated[n_allocated++] = p;
	return p;
}

static void free_words(void)
{
	while (n_allocated)
		free(allocated[--n_allocated]);
	free(allocated);
	allocated = NULL;
}

/* argv of the words of @line (split at spaces), argv[0] "test"; freed by free_words. */
static char **words(const char *line, int *argc)
{
	char *copy = keep(xasprintf("test %s", line));
	char **v = keep(xcalloc(strlen(copy) + 2, sizeof(char *)));
	char *save = NULL;
	int n = 0;

	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		v[n++] = w;
	*argc = n;
	return v;
}

/* What a parse printed on stdout and stderr. */
struct captured {
	char out[8192], err[1024];
};

static void read_back(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Parses @line with @opts as command "test"; fills @cap; returns cmd_parse_options' value. */
static int parse(const char *line, const struct cmd_option *opts, unsigned flags,
		 struct cmd_ctx *ctx, int *argc, char ***argv, struct captured *cap)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out = dup(1), saved_err = dup(2);
	int r;

	ck_assert(out && err && saved_out >= 0 && saved_err >= 0);
	*argv = words(line, argc);
	ctx->name = "test";
	ctx->status = -1;
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	r = cmd_parse_options(ctx, argc, argv, opts, flags);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	read_back(out, cap->out, sizeof(cap->out));
	read_back(err, cap->err, sizeof(cap->err));
	return r;
}

/* A table like run's: bools, strings, a list, an int, a size, a callback with an optional argument. */
struct vals {
	bool d, i, t, q, no_trunc, h_claimed;
	const char *name, *env;
	char **changes;
	int level;
	uint64_t size;
	const char *tls; /* "(none)" when --tls-verify came without a value */
	int tls_calls;
};

static int tls_cb(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct vals *v = opt->value;

	(void)ctx;
	v->tls = arg ? arg : "(none)";
	v->tls_calls++;
	return 0;
}

#define TABLE(v)                                                                                   \
	{                                                                                          \
		OPT_BOOL('d', "detach", &(v).d, "run in the background"),                          \
		OPT_BOOL('i', "interactive", &(v).i, "keep stdin open"),                           \
		OPT_BOOL('t', "tty", &(v).t, "a terminal"),                                        \
		OPT_BOOL('q', "quiet", &(v).q, "quiet"),                                           \
		OPT_BOOL(0, "no-trunc", &(v).no_trunc, "full IDs"),                                \
		OPT_STRING(0, "name", &(v).name, "NAME", "name it"),                               \
		OPT_STRING(0, "network", &(v).env, "NET", "the network"),                          \
		OPT_STRING('e', "env", &(v).env, "KEY=VALUE", "an environment variable"),          \
		OPT_LIST('c', "change", &(v).changes, "INSTR", "a change\nthat goes on"),          \
		OPT_INT(0, "level", &(v).level, "N", "level", 1, 19),                              \
		OPT_SIZE(0, "max-size", &(v).size, "SIZE", "at most"),                             \
		OPT_CALLBACK_OPTARG(0, "tls-verify", &(v), "false", "tls", tls_cb),                \
		OPT_END(),                                                                         \
	}

START_TEST(test_bundled_short_options)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	ck_assert_int_eq(parse("-dit img", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert(v.d && v.i && v.t && !v.q);
	ck_assert_int_eq(argc, 1);
	ck_assert_str_eq(argv[0], "img");
	ck_assert_ptr_null(argv[1]);

	/* An option with an argument ends a bundle: the rest is its argument. */
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(parse("-ieK=V -e X=1", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert(v.i);
	ck_assert_str_eq(v.env, "X=1");
	ck_assert_int_eq(argc, 0);
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(parse("-qeK=V", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert(v.q);
	ck_assert_str_eq(v.env, "K=V");
}
END_TEST

START_TEST(test_long_options)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	ck_assert_int_eq(parse("--name=a --env b --level 3 --max-size=64m x", opts, 0, &ctx, &argc,
			       &argv, &cap),
			 0);
	ck_assert_str_eq(v.name, "a");
	ck_assert_str_eq(v.env, "b");
	ck_assert_int_eq(v.level, 3);
	ck_assert_uint_eq(v.size, 64 << 20);
	ck_assert_int_eq(argc, 1);
	ck_assert_str_eq(argv[0], "x");

	/* A unique prefix is the option, as getopt_long takes it. */
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(parse("--no-t --qu", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert(v.no_trunc && v.q);
	/* --na is --name only; --n is --name, --network or --no-trunc. */
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(parse("--na x", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert_str_eq(v.name, "x");
	ck_assert_int_eq(parse("--n x", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_int_eq(ctx.status, EXIT_STRATA);
	ck_assert_ptr_nonnull(strstr(cap.err, "ambiguous option '--n'"));
}
END_TEST

START_TEST(test_repeatable_and_last_wins)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	ck_assert_int_eq(parse("-c A --change=B -cC --name x --name y", opts, 0, &ctx, &argc, &argv,
			       &cap),
			 0);
	ck_assert_int_eq(strv_len(v.changes), 3);
	ck_assert_str_eq(v.changes[0], "A");
	ck_assert_str_eq(v.changes[1], "B");
	ck_assert_str_eq(v.changes[2], "C");
	ck_assert_str_eq(v.name, "y");
	strv_free(v.changes);
}
END_TEST

START_TEST(test_operands_and_double_dash)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	/* Options and operands mix; '-' alone is an operand; '--' ends the options. */
	ck_assert_int_eq(parse("a -q - b -- -d --name", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert(v.q && !v.d && !v.name);
	ck_assert_int_eq(argc, 5);
	ck_assert_str_eq(argv[0], "a");
	ck_assert_str_eq(argv[1], "-");
	ck_assert_str_eq(argv[2], "b");
	ck_assert_str_eq(argv[3], "-d");
	ck_assert_str_eq(argv[4], "--name");
	ck_assert_ptr_null(argv[5]);
}
END_TEST

START_TEST(test_stop_at_operand)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	/* run IMAGE CMD ARGS: options after the image belong to the command. */
	ck_assert_int_eq(parse("-i busybox ls -t --name x -- y", opts, CMD_PARSE_STOP_AT_OPERAND,
			       &ctx, &argc, &argv, &cap),
			 0);
	ck_assert(v.i && !v.t && !v.name);
	ck_assert_int_eq(argc, 7);
	ck_assert_str_eq(argv[0], "busybox");
	ck_assert_str_eq(argv[2], "-t");
	ck_assert_str_eq(argv[5], "--");
}
END_TEST

START_TEST(test_optional_argument)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	/* As getopt_long's optional_argument: the value only after '='. */
	ck_assert_int_eq(parse("--tls-verify false", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert_str_eq(v.tls, "(none)");
	ck_assert_int_eq(argc, 1);
	ck_assert_str_eq(argv[0], "false");
	ck_assert_int_eq(parse("--tls-verify=false", opts, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert_str_eq(v.tls, "false");
	ck_assert_int_eq(v.tls_calls, 2);
	ck_assert_int_eq(argc, 0);
}
END_TEST

/* Each usage error: -1, status 125, one line "strata: test: ... (see 'strata test --help')". */
static void expect_error(const char *line, const char *what)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	ck_assert_int_eq(parse(line, opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_int_eq(ctx.status, EXIT_STRATA);
	ck_assert_msg(str_has_prefix(cap.err, "strata: test: "), "'%s': %s", line, cap.err);
	ck_assert_msg(strstr(cap.err, what), "'%s': '%s' not in %s", line, what, cap.err);
	ck_assert_msg(strstr(cap.err, "(see 'strata test --help')\n"), "%s", cap.err);
	ck_assert_ptr_eq(strchr(cap.err, '\n'), cap.err + strlen(cap.err) - 1);
	ck_assert_str_eq(cap.out, "");
	strv_free(v.changes);
}

START_TEST(test_errors)
{
	expect_error("--frob", "unknown option '--frob'");
	expect_error("-x", "unknown option '-x'");
	expect_error("-dx", "unknown option '-x'");
	expect_error("-e", "option '-e' needs an argument");
	expect_error("--env", "option '--env' needs an argument");
	expect_error("--quiet=yes", "option '--quiet' takes no argument");
	expect_error("--level 20", "invalid --level '20' (1 to 19)");
	expect_error("--level 0", "invalid --level '0'");
	expect_error("--level 2x", "invalid --level '2x'");
	expect_error("--max-size 0", "invalid size '0' for --max-size");
	expect_error("--max-size lots", "invalid size 'lots' for --max-size");
}
END_TEST

START_TEST(test_help_generated)
{
	struct vals v = { 0 };
	const struct cmd_option opts[] = TABLE(v);
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	cmd_set_current(NULL);
	ck_assert_int_eq(parse("-q --help --frob", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_int_eq(ctx.status, 0);
	ck_assert_str_eq(cap.err, "");
	ck_assert_ptr_nonnull(strstr(cap.out, "Usage: strata test\n"));
	ck_assert_ptr_nonnull(strstr(cap.out, "\n  -e, --env KEY=VALUE        an environment variable\n"));
	ck_assert_ptr_nonnull(strstr(cap.out, "\n      --no-trunc             full IDs\n"));
	ck_assert_ptr_nonnull(strstr(cap.out, "\n      --tls-verify=false     tls\n"));
	/* A second line of help starts at the column of the first. */
	ck_assert_ptr_nonnull(strstr(cap.out, "a change\n                             that goes on\n"));
	ck_assert_ptr_nonnull(strstr(cap.out, "\n  -h, --help                 show this help\n"));

	/* -h is help, abbreviations of --help too, unless the table claims -h. */
	ck_assert_int_eq(parse("-h", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_int_eq(ctx.status, 0);
	ck_assert_ptr_nonnull(strstr(cap.out, "Options:"));
	ck_assert_int_eq(parse("--he", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_int_eq(ctx.status, 0);
	{
		bool hflag = false;
		const struct cmd_option hopts[] = {
			OPT_BOOL('h', "hostname-ish", &hflag, "claims -h"),
			OPT_END(),
		};

		ck_assert_int_eq(parse("-h", hopts, 0, &ctx, &argc, &argv, &cap), 0);
		ck_assert(hflag);
			ck_assert_int_eq(parse("--help", hopts, 0, &ctx, &argc, &argv, &cap), -1);
		ck_assert_ptr_nonnull(strstr(cap.out, "\n      --help"));
		}
}
END_TEST

START_TEST(test_check_operands)
{
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;
	static const struct cmd_option none[] = { OPT_END() };

	ck_assert_int_eq(parse("a b", none, 0, &ctx, &argc, &argv, &cap), 0);
	ck_assert_int_eq(cmd_check_operands(&ctx, argc, argv, 1, 2, "X"), 0);
	ck_assert_int_eq(cmd_check_operands(&ctx, argc, argv, 2, -1, "X"), 0);
	fflush(stderr);
	{
		FILE *err = tmpfile();
		int saved = dup(2);
		char buf[512];

		dup2(fileno(err), 2);
		ck_assert_int_eq(cmd_check_operands(&ctx, argc, argv, 3, -1, "A, B and C"),
				 EXIT_STRATA);
		ck_assert_int_eq(cmd_check_operands(&ctx, argc, argv, 0, 1, ""), EXIT_STRATA);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		read_back(err, buf, sizeof(buf));
		ck_assert_str_eq(buf, "strata: test: missing argument: A, B and C "
				      "(see 'strata test --help')\n"
				      "strata: test: unexpected argument 'b' "
				      "(see 'strata test --help')\n");
	}
}
END_TEST

START_TEST(test_shared_callbacks)
{
	enum layers_compression comp = LAYERS_COMPRESSION_GZIP;
	enum layers_compression packed = LAYERS_COMPRESSION_GZIP;
	int64_t ts = -1;
	bool json = false, layers = false;
	const struct cmd_option opts[] = {
		OPT_FORMAT('f', &json, "format"),
		OPT_CALLBACK(0, "compression", &comp, "C", "any", cmd_option_compression),
		OPT_CALLBACK(0, "packed", &packed, "C", "compressed", cmd_option_compressed),
		OPT_CALLBACK(0, "timestamp", &ts, "N", "when", cmd_option_timestamp),
		OPT_CALLBACK_OPTARG(0, "layers", &layers, "true|false", "b", cmd_option_bool_arg),
		OPT_END(),
	};
	struct cmd_ctx ctx = { 0 };
	struct captured cap;
	char **argv;
	int argc;

	ck_assert_int_eq(parse("-f json --compression none --packed zstd --timestamp 7 --layers",
			       opts, 0, &ctx, &argc, &argv, &cap),
			 0);
	ck_assert(json && layers);
	ck_assert_int_eq(comp, LAYERS_COMPRESSION_NONE);
	ck_assert_int_eq(packed, LAYERS_COMPRESSION_ZSTD);
	ck_assert_int_eq(ts, 7);
	ck_assert_int_eq(parse("--format json --layers=FALSE -f table", opts, 0, &ctx,
			       &argc, &argv, &cap),
			 0);
	ck_assert(!json && !layers);
	ck_assert_int_eq(parse("--packed none", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_ptr_nonnull(strstr(cap.err, "unknown compression 'none' for --packed (want gzip or zstd)"));
	ck_assert_int_eq(parse("-f yaml", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_ptr_nonnull(strstr(cap.err, "unknown format 'yaml'"));
	ck_assert_int_eq(parse("--timestamp -1", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_ptr_nonnull(strstr(cap.err, "invalid --timestamp '-1'"));
	ck_assert_int_eq(parse("--layers=maybe", opts, 0, &ctx, &argc, &argv, &cap), -1);
	ck_assert_ptr_nonnull(strstr(cap.err, "invalid --layers 'maybe' (true or false)"));
}
END_TEST

/* The names of an option line of --help ("  -e, --env ...", "      --rm ..."): "e", "env". */
static void option_names(const char *l, char sname[3], char *lname, size_t size)
{
	size_t n;

	if (!strncmp(l, "  -", 3) && l[3] != '-') {
		sname[0] = '-';
		sname[1] = l[3];
		sname[2] = '\0';
		l += 4;
		if (*l == ',')
			l += 2;
	} else {
		l += strspn(l, " ");
	}
	if (strncmp(l, "--", 2) != 0)
		return;
	n = strcspn(l + 2, " =");
	snprintf(lname, size, "%.*s", (int)n, l + 2);
}

/*
 * Every command answers --help (before it touches a store) with its usage
 * and a list of options in which no long or short name is given twice.
 */
START_TEST(test_every_command_help)
{
	const struct command *const tables[] = {
		cmd_info_commands,	cmd_image_commands, cmd_layer_commands, cmd_container_commands,
		cmd_run_commands,	cmd_build_commands, cmd_registry_commands,
		cmd_prune_commands,	cmd_volume_commands,
	};
	/* options podman users type, which --help must list (from the option tables) */
	static const char *const want[][2] = {
		{ "images", "filter" },	     { "images", "format" },	 { "images", "noheading" },
		{ "images", "digests" },     { "ps", "filter" },	 { "ps", "format" },
		{ "inspect", "format" },     { "inspect", "type" },	 { "history", "format" },
		{ "info", "format" },	     { "run", "pull" },		 { "create", "pull" },
		{ "save", "output" },	     { "load", "input" },	 { "pull", "all-tags" },
		{ "rmi", "all" },	     { "image prune", "all" },	 { "image prune", "filter" },
		{ "image prune", "force" },  { "container prune", "filter" },
		{ "system prune", "all" },   { "system prune", "force" }, { "system df", "verbose" },
		{ "system df", "format" },
		{ "volume create", "label" }, { "volume ls", "filter" },   { "volume ls", "format" },
		{ "volume ls", "quiet" },     { "volume inspect", "format" }, { "volume rm", "force" },
		{ "volume prune", "force" },  { "volume prune", "filter" }, { "run", "volume" },
		{ "run", "mount" },	      { "create", "mount" },	      { "rm", "volumes" },
		{ "system prune", "volumes" },
	};
	size_t n = 0;

	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		for (const struct command *c = tables[t]; c->name; c++, n++) {
			struct cmd_ctx ctx = { .name = c->name, .root = (char *)"/nonexistent" };
			char *argv[] = { (char *)c->name, (char *)"--help", NULL };
			cleanup_strv char **seen = xcalloc(1, sizeof(char *));
			FILE *out = tmpfile();
			int saved = dup(1), r;
			char buf[8192], *save = NULL;
			cleanup_free char *usage = xasprintf("Usage: strata %s", c->name);

			fflush(stdout);
			dup2(fileno(out), 1);
			cmd_set_current(c);
			r = c->run(&ctx, 2, argv);
			fflush(stdout);
			dup2(saved, 1);
			close(saved);
			read_back(out, buf, sizeof(buf));
			ck_assert_msg(r == 0, "%s --help: %d", c->name, r);
			ck_assert_ptr_null(ctx.store);
			ck_assert_msg(str_has_prefix(buf, usage), "%s --help: %s", c->name, buf);
			for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
				char sname[3] = "", lname[64] = "";

				option_names(l, sname, lname, sizeof(lname));
				ck_assert_msg(!*sname || !strv_contains(seen, sname), "%s: '%s' twice",
					      c->name, sname);
				ck_assert_msg(!*lname || !strv_contains(seen, lname), "%s: '%s' twice",
					      c->name, lname);
				if (*sname)
					strv_append(&seen, sname);
				if (*lname)
					strv_append(&seen, lname);
			}
			for (size_t w = 0; w < ARRAY_SIZE(want); w++)
				ck_assert_msg(strcmp(want[w][0], c->name) || strv_contains(seen, want[w][1]),
					      "%s --help does not list --%s", c->name, want[w][1]);
			ck_assert_msg(strv_contains(seen, "help"), "%s: no --help line", c->name);
		}
	}
	ck_assert_uint_ge(n, 30);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, NULL, free_words);
	tcase_add_test(tc, test_bundled_short_options);
	tcase_add_test(tc, test_long_options);
	tcase_add_test(tc, test_repeatable_and_last_wins);
	tcase_add_test(tc, test_operands_and_double_dash);
	tcase_add_test(tc, test_stop_at_operand);
	tcase_add_test(tc, test_optional_argument);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_shared_callbacks);
	suite_add_tcase(s, tc);

	tc = tcase_create("help");
	tcase_add_checked_fixture(tc, NULL, free_words);
	tcase_add_test(tc, test_help_generated);
	tcase_add_test(tc, test_check_operands);
	tcase_add_test(tc, test_every_command_help);
	suite_add_tcase(s, tc);
	return s;
}
