/*
 * The machine-written short-name alias cache of containers-registries.conf(5):
 * /var/cache/containers/short-name-aliases.conf for root, and
 * $XDG_CACHE_HOME (else ~/.cache)/containers/short-name-aliases.conf for
 * other users (STRATA_CACHEDIR moves /var/cache). Its [aliases] come before those of registries.conf, an
 * empty value hiding theirs. podman writes an alias there after a user
 * chose among the search registries at a prompt and the pull succeeded;
 * strata does the same. Readers and writers hold an fcntl lock of
 * "<file>.lock" (shared to read, exclusive to write), as containers/image
 * does, so that a reader never sees a file half written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define CACHE_FILE "containers/short-name-aliases.conf"
#define CACHE_MAX (1u << 20)

char *reg_alias_cache_path(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	const char *cachedir = getenv("STRATA_CACHEDIR");

	/* STRATA_CACHEDIR moves /var/cache, as STRATA_SYSCONFDIR moves /etc (tests, chroots) */
	if (sys_is_host_root())
		return xasprintf("%s/" CACHE_FILE, cachedir && *cachedir ? cachedir : "/var/cache");
	if (xdg && *xdg)
		return xasprintf("%s/" CACHE_FILE, xdg);
	if (home && *home)
		return xasprintf("%s/.cache/" CACHE_FILE, home);
	return NULL;
}

/* Takes an fcntl lock of @path".lock" of @type; the fd, or -1 (ENOENT when absent and !@create). */
static int lock_file(const char *path, short type, bool create, struct strata_error **err)
{
	cleanup_free char *lp = xasprintf("%s.lock", path);
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	int fd = open(lp, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", lp);
	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno == EINTR)
			continue;
		strata_fail(err, errno, "lock '%s'", lp);
		close(fd);
		return -1;
	}
	return fd;
}

/* Parses the cache file @buf: its [aliases], checked as registries.conf's; other keys ignored. */
static int parse_cache(const char *buf, size_t len, const char *path, json_t **out,
		       struct strata_error **err)
{
	cleanup_json json_t *doc = NULL;
	json_t *aliases, *v;
	const char *key;

	if (reg_toml_parse(buf, len, &doc, err) < 0)
		return strata_wrap(err, "short-name alias cache %s", path);
	aliases = json_object_get(doc, "aliases");
	if (aliases && !json_is_object(aliases))
		return strata_fail_msg(err, EINVAL, "short-name alias cache %s: [aliases] wants a table",
				       path);
	json_object_foreach (aliases, key, v) {
		cleanup_free char *where = xasprintf("short-name alias cache %s", path);

		if (reg_alias_check(key, v, where, err) < 0)
			return -1;
	}
	*out = aliases ? json_incref(aliases) : json_object();
	return 0;
}

/* Reads @path (locked by the caller) into *out; a missing file is an empty cache. */
static int read_cache(const char *path, json_t **out, struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	struct strata_error *e = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, path, CACHE_MAX, &buf, &len, &e) < 0) {
		if (strata_error_code(e) == ENOENT) {
			strata_error_free(e);
			*out = json_object();
			return 0;
		}
		*err = e;
		return strata_wrap(err, "short-name alias cache %s", path);
	}
	return parse_cache(buf, len, path, out, err);
}

int reg_alias_cache_load(const char *path, json_t **out, struct strata_error **err)
{
	struct strata_error *e = NULL;
	cleanup_close int lfd = -1;

	*out = NULL;
	if (!path || access(path, F_OK) < 0) {
		*out = json_object();
		return 0;
	}
	/* podman makes the lock file with the cache; without one, nobody writes it now */
	lfd = lock_file(path, F_RDLCK, false, &e);
	if (lfd < 0) {
		if (strata_error_code(e) != ENOENT) {
			*err = e;
			return -1;
		}
		strata_error_free(e);
	}
	return read_cache(path, out, err);
}

/* A TOML key as BurntSushi's encoder writes it: bare when it can be, else quoted. */
static void add_key(struct sbuf *b, const char *k)
{
	if (*k && strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
			  strlen(k)) {
		sbuf_addf(b, "%s", k);
		return;
	}
	sbuf_addf(b, "\"");
	for (; *k; k++)
		sbuf_addf(b, *k == '"' || *k == '\\' ? "\\%c" : "%c", *k);
	sbuf_addf(b, "\"");
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file as podman writes it: "[aliases]", then one indented line per alias, sorted. */
static char *render(const json_t *aliases, size_t *len)
{
	struct sbuf b = SBUF_INIT;
	cleanup_free const char **keys = xcalloc(json_object_size(aliases) + 1, sizeof(char *));
	const char *key;
	json_t *v;
	size_t n = 0;

	json_object_foreach ((json_t *)aliases, key, v)
		keys[n++] = key;
	qsort(keys, n, sizeof(char *), cmp_key);
	sbuf_addf(&b, "[aliases]\n");
	for (size_t i = 0; i < n; i++) {
		sbuf_addf(&b, "  ");
		add_key(&b, keys[i]);
		sbuf_addf(&b, " = \"%s\"\n", jv_str(aliases, keys[i]));
	}
	return sbuf_detach(&b, len);
}

int reg_alias_cache_record(const char *path, const char *name, const char *value,
			   struct strata_error **err)
{
	cleanup_free char *dir = NULL;
	cleanup_free char *text = NULL;
	cleanup_json json_t *aliases = NULL;
	cleanup_json json_t *v = json_string(value);
	cleanup_close int lfd = -1;
	char *slash;
	size_t len;

	if (!path)
		return strata_fail_msg(err, ENOENT, "no short-name alias cache: HOME is not set");
	if (reg_alias_check(name, v, "short-name alias", err) < 0)
		return -1;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')))
		*slash = '\0';
	if (path_mkdir_p(dir, 0700, err) < 0 || (lfd = lock_file(path, F_WRLCK, true, err)) < 0 ||
	    read_cache(path, &aliases, err) < 0)
		return strata_wrap(err, "record the alias '%s'", name);
	json_object_set(aliases, name, v);
	text = render(aliases, &len);
	/* a whole new file renamed in (mode 0600, as podman makes it): a crash leaves the old one */
	if (file_write_atomic_at(AT_FDCWD, path, text, len, 0600, err) < 0)
		return strata_wrap(err, "record the alias '%s'", name);
	return 0;
}
