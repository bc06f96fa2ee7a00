/*
 * Shared plumbing of the commands: option parsing with one-line errors,
 * error reporting, the lazily opened store, JSON and table output.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "launch/launch.h"

static const struct command *current;

void cmd_set_current(const struct command *c);
void cmd_set_current(const struct command *c)
{
	current = c;
}

void cmd_print_usage(struct cmd_ctx *ctx)
{
	if (!current) {
		printf("Usage: strata %s\n", ctx->name);
		return;
	}
	printf("Usage: strata %s%s%s\n\n%s\n", current->name, *current->synopsis ? " " : "",
	       current->synopsis, current->summary);
}

static void vreport(struct cmd_ctx *ctx, const char *hint, const char *fmt, va_list ap)
{
	char *msg = NULL;
	struct sbuf b = SBUF_INIT;

	msg = xvasprintf(fmt, ap);
	sbuf_addf(&b, "strata: %s: %s", ctx->name, msg);
	/* One line, always: newlines inside a message would break scripts. */
	for (size_t i = 0; i < b.len; i++)
		if (b.buf[i] == '\n' || b.buf[i] == '\r')
			b.buf[i] = ' ';
	if (hint)
		sbuf_addstr(&b, hint);
	sbuf_addstr(&b, "\n");
	fflush(stdout);
	if (fwrite(b.buf, 1, b.len, stderr) != b.len)
		clearerr(stderr);
	free(msg);
	sbuf_release(&b);
}

int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
	cleanup_free char *hint = xasprintf(" (see 'strata %s --help')", ctx->name);
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, hint, fmt, ap);
	va_end(ap);
	return EXIT_STRATA;
}

int cmd_failf(struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, NULL, fmt, ap);
	va_end(ap);
	return EXIT_STRATA;
}

int cmd_input_check(struct cmd_ctx *ctx, int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return cmd_failf(ctx, "'%s': %s", name, strerror(errno));
	if (S_ISCHR(st.st_mode))
		return cmd_failf(ctx, "'%s': a character device is not an archive", name);
	return 0;
}

int cmd_fail(struct cmd_ctx *ctx, struct strata_error *err)
{
	cmd_failf(ctx, "%s", strata_error_msg(err));
	strata_error_free(err);
	return EXIT_STRATA;
}

/* ---- the command's user namespace (without root) ---- */

/* The map this command entered, and who the user is (names its ranges in notes). */
static struct {
	bool entered;
	struct launch_idmap map;
	char *user;
} userns;

int cmd_userns_enter(struct strata_error **err)
{
	struct passwd *pw;

	/* root (of the host, or of a namespace such as `strata unshare`'s) is there already */
	if (userns.entered || geteuid() == 0)
		return 0;
	pw = getpwuid(getuid());
	userns.user = pw ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)getuid());
	launch_idmap_caller(&userns.map);
	if (launch_userns_enter(&userns.map, err) < 0)
		return -1;
	userns.entered = true;
	return 0;
}

const struct launch_idmap *cmd_userns_map(const char **user)
{
	if (!userns.entered)
		return NULL;
	if (user)
		*user = userns.user;
	return &userns.map;
}

/* The store's record of the map its files were written with: {"uid": TEXT, "gid": TEXT}. */
static json_t *idmap_record(const struct launch_idmap *m)
{
	cleanup_free char *u = launch_idmap_text(m->uid, m->n_uid);
	cleanup_free char *g = launch_idmap_text(m->gid, m->n_gid);

	return json_pack("{s:s, s:s}", "uid", u, "gid", g);
}

static int collect_layer(const struct store_layer_entry *e, void *arg, struct strata_error **err)
{
	(void)err;
	strv_append((char ***)arg, e->backend);
	strv_append((char ***)arg, e->hex);
	return 0;
}

/*
 * Removes every layer dir of @s: they are a cache of the blobs, made again
 * on first use, now with their owners. Not while a container runs on them.
 */
static int layers_reset(struct store *s, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	cleanup_strv char **dirs = NULL;

	if (store_container_list(s, &ids, err) < 0)
		return -1;
	for (size_t i = 0; ids && ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);

		if (rec && launch_container_running(rec))
			return strata_fail_msg(err, EBUSY,
					       "they are made again from their blobs once no container runs");
	}
	if (store_layer_walk(s, collect_layer, &dirs, err) < 0)
		return -1;
	for (size_t i = 0; dirs && dirs[i] && dirs[i + 1]; i += 2) {
		cleanup_free char *chain = xasprintf("sha256:%s", dirs[i + 1]);
		cleanup_free char *trash = NULL;

		if (store_layer_move_aside(s, dirs[i], chain, &trash, err) < 0)
			return -1;
		if (trash)
			store_tmp_remove(s, trash, NULL);
	}
	log_info("the store's layer dirs, unpacked with only this user mapped, are made again with "
		 "their owners");
	return 0;
}

/* How a user gets ranges, as root (shadow's usermod). */
static char *ranges_hint(void)
{
	return xasprintf("as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s",
			 userns.user);
}

/*
 * Compares the map this command runs with against the one the store
 * recorded. A store's files carry the ids of the map they were written
 * in: one made with only the user mapped (also every store before the
 * map was recorded) has lost the owners of its layers, which are made
 * again from their blobs when no container runs; one made with ranges
 * that are gone now holds files this user cannot reach.
 */
static void userns_check_store(struct cmd_ctx *ctx, bool was_new)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *rec = store_setting_get(ctx->store, "IdMap");
	cleanup_json json_t *now = idmap_record(&userns.map);
	bool ranges = userns.map.n_uid > 1;
	cleanup_free char *hint = NULL;
	bool rec_ranges;

	if (rec && json_equal(rec, now))
		return;
	hint = ranges_hint();
	rec_ranges = rec && strchr(jv_str(rec, "uid") ? jv_str(rec, "uid") : "", ',');
	if (rec_ranges) {
		log_warn("this store was written with the subordinate ids %s, this user now has %s: "
			 "files of other owners in it cannot be reached; restore them (%s)",
			 jv_str(rec, "uid"), ranges ? jv_str(now, "uid") : "none", hint);
		return;
	}
	if (!ranges)
		log_warn("no subordinate ids for '%s' in /etc/subuid and /etc/subgid: every file of an "
			 "image is this user's, other users in containers are refused (%s)",
			 userns.user, hint);
	else if (!was_new && layers_reset(ctx->store, &err) < 0) {
		/* not recorded: the next command tries again */
		log_warn("this store's layers were unpacked with only '%s' mapped and lost their "
			 "owners: %s", userns.user, strata_error_msg(err));
		strata_error_free(err);
		return;
	}
	if (store_setting_set(ctx->store, "IdMap", json_incref(now), &err) < 0) {
		log_warn("%s", strata_error_msg(err));
		strata_error_free(err);
	}
}

struct store *cmd_store(struct cmd_ctx *ctx)
{
	struct strata_error *err = NULL;
	cleanup_free char *index = NULL;
	bool was_new;

	if (ctx->store)
		return ctx->store;
	index = path_join(ctx->root, "index.json");
	was_new = access(index, F_OK) < 0;
	if (store_open(ctx->root, &ctx->store, &err) < 0) {
		cmd_fail(ctx, err);
		return NULL;
	}
	if (userns.entered)
		userns_check_store(ctx, was_new);
	return ctx->store;
}

int cmd_for_each_container(struct cmd_ctx *ctx, int argc, char **argv, cmd_container_fn *fn,
			   void *arg)
{
	int ret = 0;

	if (cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER"))
		return EXIT_STRATA;
	if (!cmd_store(ctx))
		return EXIT_STRATA;
	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;
		char id[STORE_ID_LEN + 1];

		if (store_container_find(ctx->store, argv[i], id, &err) < 0 ||
		    fn(ctx, id, argv[i], arg, &err) < 0)
			ret = cmd_fail(ctx, err);
	}
	return ret;
}

void cmd_print_json(const json_t *j)
{
	cleanup_free char *s = jv_dump_pretty(j);

	puts(s);
}
