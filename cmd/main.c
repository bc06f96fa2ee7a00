/*
 * strata [--root DIR] [--backend B] [--log-level L] COMMAND [options] [args]
 *
 * Global options come before the command; each command parses its own.
 */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/template.h"
#include "overlay/overlay.h"

void cmd_set_current(const struct command *c);

static const struct command other_commands[];

static const struct {
	const char *title;
	const struct command *table;
} groups[] = {
	{ "System", cmd_info_commands },
	{ "Images", cmd_image_commands },
	{ "Layers and archives", cmd_layer_commands },
	{ "Containers", cmd_container_commands },
	{ "Running", cmd_run_commands },
	{ "Volumes", cmd_volume_commands },
	{ "Building", cmd_build_commands },
	{ "Registries", cmd_registry_commands },
	{ "Cleaning up", cmd_prune_commands },
	{ "Other commands", other_commands },
};

static const struct command *find_command(const char *name)
{
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		for (const struct command *c = groups[g].table; c->name; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

/* True when @word starts two-word commands ("layer" of "layer unpack"). */
static bool is_command_group(const char *word)
{
	size_t n = strlen(word);

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		for (const struct command *c = groups[g].table; c->name; c++)
			if (!strncmp(c->name, word, n) && c->name[n] == ' ')
				return true;
	return false;
}

static void print_group_help(const char *word)
{
	size_t n = strlen(word);

	printf("Usage: strata %s COMMAND [options] [args]\n\nCommands:\n", word);
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		for (const struct command *c = groups[g].table; c->name; c++)
			if (!strncmp(c->name, word, n) && c->name[n] == ' ')
				printf("  %-12s %s\n", c->name + n + 1, c->summary);
	printf("\nRun 'strata %s COMMAND --help' for a command's options.\n", word);
}

static int global_error(const char *fmt, ...) FMT(1, 2);

static int global_error(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "strata: %s (see 'strata --help')\n", msg);
	free(msg);
	return EXIT_STRATA;
}

static void print_main_help(void)
{
	cleanup_free char *backends = overlay_backend_names_text();

	printf("Usage: strata [global options] COMMAND [options] [args]\n\n"
	       "Layered image builder and union-filesystem manager.\n\n"
	       "Global options:\n"
	       "      --root DIR             store root (default /var/lib/strata as root,\n"
	       "                             $XDG_DATA_HOME/strata otherwise; or $STRATA_ROOT)\n"
	       "      --backend NAME         union backend: %s ($STRATA_BACKEND)\n"
	       "      --log-level LEVEL      error, warn, info or debug (default warn)\n"
	       "  -h, --help                 show this help\n"
	       "  -v, --version              show the version\n",
	       backends);
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		if (!groups[g].table->name)
			continue;
		printf("\n%s:\n", groups[g].title);
		for (const struct command *c = groups[g].table; c->name; c++)
			printf("  %-12s %s\n", c->name, c->summary);
	}
	printf("\nRun 'strata COMMAND --help' for the options of a command.\n");
}

static int unknown_backend(const char *name, const char *where)
{
	cleanup_free char *want = overlay_backend_names_text();

	return global_error("unknown backend '%s'%s (want %s)", name, where, want);
}

/* Takes "--opt VALUE" or "--opt=VALUE" at argv[*i]; returns the value or NULL when absent. */
static const char *take_value(int argc, char **argv, int *i, const char *opt, bool *matched)
{
	size_t n = strlen(opt);

	*matched = false;
	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=') {
		*matched = true;
		return argv[*i] + n + 1;
	}
	if (argv[*i][n] != '\0')
		return NULL;
	*matched = true;
	if (*i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

/*
 * Commands that read or write files of the store's layers and containers
 * run, without root, in a user namespace with the user's subordinate ids
 * (cmd_userns_enter), entered here once. These do not: they read records
 * only, signal or join a container (its namespaces are reachable only from
 * outside, where the user owns them all), or keep the user's own ids (layer
 * unpack and pack into the user's dirs); rm enters once it has killed.
 */
static bool runs_outside(const char *name)
{
	static const char *const outside[] = {
		"help",	   "version", "exec",  "kill",	  "stop",   "wait",	   "attach",
		"logs",	   "ps",      "stats", "inspect", "images", "history",	   "tag",
		"rmi",	   "login",   "logout", "info",	  "config", "mount",	   "umount",
		"unshare", "bundle",  "rm",    "layer unpack", "layer pack",
	};

	for (size_t i = 0; i < ARRAY_SIZE(outside); i++)
		if (!strcmp(name, outside[i]))
			return true;
	return false;
}

/* Runs the command named by argv[0] (and argv[1] for two words) with the rest. */
static int dispatch(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct command *cmd = NULL;
	int i = 0;

	/* Two-word commands ("layer unpack") first, then one word. */
	if (argc > 1) {
		cleanup_free char *two = xasprintf("%s %s", argv[0], argv[1]);

		cmd = find_command(two);
		if (cmd)
			i++;
	}
	if (!cmd)
		cmd = find_command(argv[0]);
	if (!cmd && is_command_group(argv[0])) {
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			print_group_help(argv[0]);
			return 0;
		}
		if (argc < 2)
			return global_error("'%s' needs a subcommand", argv[0]);
		return global_error("unknown command '%s %s'", argv[0], argv[1]);
	}
	if (!cmd)
		return global_error("unknown command '%s'", argv[0]);

	ctx->name = cmd->name;
	cmd_set_current(cmd);
	if (!runs_outside(cmd->name)) {
		struct strata_error *err = NULL;

		if (cmd_userns_enter(&err) < 0)
			return cmd_fail(ctx, err);
	}
	return cmd->run(ctx, argc - i, argv + i);
}

/* help [COMMAND]: the command's own --help, as podman's. */
static int cmd_help(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	char *av[4] = { NULL };
	int n = 0;

	if (cmd_parse_options(ctx, &argc, &argv, opts, CMD_PARSE_STOP_AT_OPERAND) < 0)
		return ctx->status;
	if (cmd_check_operands(ctx, argc, argv, 0, 2, ""))
		return EXIT_STRATA;
	if (argc == 0) {
		print_main_help();
		return 0;
	}
	while (n < argc)
		av[n] = argv[n], n++;
	av[n++] = (char *)"--help";
	return dispatch(ctx, n, av);
}

static int cmd_version(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_format fmt = { 0 };
	const struct cmd_option opts[] = {
		OPT_TEMPLATE('f', &fmt, "text (default), json, or a Go template on podman's\n"
					"names: '{{.Client.Version}}', '{{.Client.OsArch}}'"),
		OPT_END(),
	};
	cleanup_json json_t *v = NULL;
	struct strata_error *err = NULL;
	struct sbuf out = SBUF_INIT;
	cleanup_free char *osarch = xasprintf("linux/%s", store_arch());

	if (cmd_parse_args(ctx, &argc, &argv, opts, 0, 0, "") < 0) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	if (!fmt.json && !fmt.tmpl) {
		printf("strata version %s\n", STRATA_VERSION);
		return 0;
	}
	v = json_pack("{s:{s:s, s:s, s:s, s:s}}", "Client", "Version", STRATA_VERSION, "APIVersion",
		      STRATA_VERSION, "OsArch", osarch, "Os", "linux");
	if (fmt.json) {
		cmd_print_json(v);
		return 0;
	}
	if (cmd_template_exec(fmt.tmpl, v, &out, &err) < 0) {
		cmd_format_release(&fmt);
		sbuf_release(&out);
		return cmd_fail(ctx, err);
	}
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
	cmd_format_release(&fmt);
	return 0;
}

static const struct command other_commands[] = {
	{ "help", "[COMMAND]", "show this help, or a command's", cmd_help },
	{ "version", "[--format FORMAT]", "show the version", cmd_version },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	struct cmd_ctx ctx = { 0 };
	const char *root = NULL, *backend = NULL;
	int i, ret;

	setlocale(LC_CTYPE, "C.UTF-8");
	/* A closed pipe on stdout ends output quietly rather than killing us mid-write. */
	signal(SIGPIPE, SIG_IGN);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v;
		bool m;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_main_help();
			return 0;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
			printf("strata version %s\n", STRATA_VERSION);
			return 0;
		}
		if ((v = take_value(argc, argv, &i, "--root", &m)) || m) {
			if (!v || !*v)
				return global_error("option '%s' needs an argument", "--root");
			root = v;
			continue;
		}
		if ((v = take_value(argc, argv, &i, "--backend", &m)) || m) {
			if (!v || !*v)
				return global_error("option '%s' needs an argument", "--backend");
			if (!overlay_backend_is_valid(v))
				return unknown_backend(v, "");
			backend = v;
			continue;
		}
		if ((v = take_value(argc, argv, &i, "--log-level", &m)) || m) {
			enum log_level lvl;

			if (!v)
				return global_error("option '%s' needs an argument", "--log-level");
			if (log_level_parse(v, &lvl) < 0)
				return global_error("unknown log level '%s' (want error, warn, info or debug)",
						    v);
			log_set_level(lvl);
			continue;
		}
		return global_error("unknown option '%s'", a);
	}
	if (i >= argc) {
		fprintf(stderr, "strata: missing command (see 'strata --help')\n");
		return EXIT_STRATA;
	}
	if (!root)
		root = getenv("STRATA_ROOT");
	ctx.root = (root && *root) ? xstrdup(root) : store_default_root();
	if (!backend) {
		backend = getenv("STRATA_BACKEND");
		if (backend && *backend && !overlay_backend_is_valid(backend))
			return unknown_backend(backend, " in STRATA_BACKEND");
	}
	ctx.backend = (backend && *backend) ? xstrdup(backend) : NULL;
	ret = dispatch(&ctx, argc - i, argv + i);

	if (fflush(stdout) != 0 && ret == 0)
		ret = cmd_failf(&ctx, "write output: %s", strerror(errno));
	store_free(ctx.store);
	free(ctx.root);
	free(ctx.backend);
	return ret;
}
