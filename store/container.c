/*
 * Container records: ROOT/containers/<64-hex id>/container.json. The store
 * owns identity (ID, name, creation time) and the record's integrity; what
 * else a record holds (image, filesystem, process state) belongs to the
 * overlay and launch modules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

#define RECORD "container.json"

static const char *const adjectives[] = {
	"amber", "brave", "calm", "dusty", "eager", "fuzzy", "gentle", "hardy", "icy", "jolly",
	"keen", "lucid", "mellow", "nimble", "odd", "proud", "quiet", "rapid", "sunny", "tidy",
	"upbeat", "vivid", "witty", "young", "zesty",
};
static const char *const nouns[] = {
	"basalt", "chalk", "dolomite", "flint", "gneiss", "granite", "gypsum", "jasper", "marble",
	"mica", "obsidian", "onyx", "pumice", "quartz", "schist", "shale", "slate", "talc",
};

static bool name_is_valid(const char *n)
{
	if (!n[0] || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
		       (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (const char *p = n; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return strlen(n) <= 128;
}

static bool is_full_id(const char *s)
{
	return strlen(s) == STORE_ID_LEN && digest_is_hex_prefix(s);
}

int store_container_list(struct store *s, char ***ids, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	size_t n = 0, cap = 16;

	*ids = xcalloc(cap, sizeof(char *));
	if (!(d = file_opendir_at(s->containers_fd, ".")))
		return strata_fail(err, errno, "list containers");
	/* Grown by doubling: strv_append would walk the array for each of N containers. */
	while ((de = readdir(d))) {
		if (!is_full_id(de->d_name))
			continue;
		if (n + 1 >= cap) {
			cap = cap * 2;
			*ids = xrealloc(*ids, cap * sizeof(char *));
		}
		(*ids)[n++] = xstrdup(de->d_name);
		(*ids)[n] = NULL;
	}
	return 0;
}

json_t *store_container_load(struct store *s, const char *id, struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" RECORD, id);
	json_t *j;

	if (!is_full_id(id)) {
		strata_fail_msg(err, EINVAL, "invalid container ID '%s'", id);
		return NULL;
	}
	j = jv_load_at(s->containers_fd, rel, STORE_JSON_MAX, err);
	if (!j) {
		strata_wrap(err, "container '%.12s'", id);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		strata_fail_msg(err, EINVAL, "container '%.12s': record is not a JSON object", id);
		return NULL;
	}
	return j;
}

/*
 * The names index: ROOT/container-names/<name> is a symlink to the ID of
 * the container of that name, so that finding a container by name, and
 * checking that a new name is free, reads one link instead of every record
 * (removing 1,000 containers by name read a million records). Under the
 * exclusive lock, create makes the link before the record and remove drops
 * it after the record has gone: a crash in between leaves a link to a
 * missing container, which counts as absent. The index is trusted once
 * .names/.complete exists; a store made before it has no index until the
 * next lookup or create builds it from the records. It sits beside
 * ROOT/containers/, which holds nothing but containers.
 */
#define NAMES_DIR "container-names"
#define NAMES_COMPLETE NAMES_DIR "/.complete"

static bool names_ready(struct store *s)
{
	return faccessat(s->root_fd, NAMES_COMPLETE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The live container named @name by the index: fills @id and returns true. */
static bool names_lookup(struct store *s, const char *name, char id[STORE_ID_LEN + 1])
{
	cleanup_free char *link = NULL;
	char target[STORE_ID_LEN + 2];
	ssize_t n;

	if (!name_is_valid(name))
		return false;
	link = xasprintf(NAMES_DIR "/%s", name);
	n = readlinkat(s->root_fd, link, target, sizeof(target) - 1);
	if (n != STORE_ID_LEN)
		return false;
	target[n] = '\0';
	if (!is_full_id(target) ||
	    faccessat(s->containers_fd, target, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	memcpy(id, target, STORE_ID_LEN + 1);
	return true;
}

/* Points .names/@name at @id, replacing a stale link. Caller holds the exclusive lock. */
static int names_link(struct store *s, const char *name, const char *id, struct strata_error **err)
{
	cleanup_free char *link = xasprintf(NAMES_DIR "/%s", name);

	if (symlinkat(id, s->root_fd, link) == 0)
		return 0;
	if (errno != EEXIST)
		return strata_fail(err, errno, "container name index: link '%s'", name);
	if (unlinkat(s->root_fd, link, 0) < 0 || symlinkat(id, s->root_fd, link) < 0)
		return strata_fail(err, errno, "container name index: link '%s'", name);
	return 0;
}

/* Drops .names/@name when it points at @id. */
static void names_unlink(struct store *s, const char *name, const char *id)
{
	cleanup_free char *link = NULL;
	char target[STORE_ID_LEN + 2];
	ssize_t n;

	if (!name || !name_is_valid(name))
		return;
	link = xasprintf(NAMES_DIR "/%s", name);
	n = readlinkat(s->root_fd, link, target, sizeof(target) - 1);
	if (n == STORE_ID_LEN && memcmp(target, id, STORE_ID_LEN) == 0)
		unlinkat(s->root_fd, link, 0);
}

/* Builds the index from every record. Caller holds the exclusive lock. */
static int names_build(struct store *s, struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	int fd;

	if (mkdirat(s->root_fd, NAMES_DIR, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "container name index: create");
	if (store_container_list(s, &ids, err) < 0)
		return -1;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *n = rec ? jv_str(rec, "Name") : NULL;

		if (n && name_is_valid(n) && names_link(s, n, ids[i], err) < 0)
			return -1;
	}
	fd = openat(s->root_fd, NAMES_COMPLETE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return strata_fail(err, errno, "container name index: mark complete");
	close(fd);
	return 0;
}

/* Looks for a container named @name by reading every record; fills @id. Caller holds a lock. */
static bool find_by_name(struct store *s, char **ids, const char *name, char id[STORE_ID_LEN + 1])
{
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *n = rec ? jv_str(rec, "Name") : NULL;

		if (n && strcmp(n, name) == 0) {
			memcpy(id, ids[i], STORE_ID_LEN + 1);
			return true;
		}
	}
	return false;
}

int store_container_find(struct store *s, const char *spec, char id[STORE_ID_LEN + 1],
			 struct strata_error **err)
{
	cleanup_strv char **ids = NULL;
	const char *match = NULL;
	int ret = -1;

	/* A store made before the name index gets it now (unless a lock is held already: no upgrade). */
	if (!names_ready(s) && s->lock_depth == 0 && store_lock(s, STORE_LOCK_EXCLUSIVE, NULL) == 0) {
		struct strata_error *berr = NULL;

		if (!names_ready(s) && names_build(s, &berr) < 0) {
			log_debug("container name index: %s", strata_error_msg(berr));
			strata_error_free(berr);
		}
		store_unlock(s);
	}
	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	if (is_full_id(spec) && faccessat(s->containers_fd, spec, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		memcpy(id, spec, STORE_ID_LEN + 1);
		ret = 0;
		goto out;
	}
	if (names_ready(s) && names_lookup(s, spec, id)) {
		ret = 0;
		goto out;
	}
	if (store_container_list(s, &ids, err) < 0)
		goto out;
	if (!names_ready(s) && find_by_name(s, ids, spec, id)) {
		ret = 0;
		goto out;
	}
	if (digest_is_hex_prefix(spec)) {
		for (size_t i = 0; ids[i]; i++) {
			if (!str_has_prefix(ids[i], spec))
				continue;
			if (match) {
				strata_fail_msg(err, EINVAL, "container ID prefix '%s' is ambiguous",
						spec);
				goto out;
			}
			match = ids[i];
		}
		if (match) {
			memcpy(id, match, STORE_ID_LEN + 1);
			ret = 0;
			goto out;
		}
	}
	strata_fail_msg(err, ENOENT, "no such container '%s'", spec);
out:
	store_unlock(s);
	return ret;
}

/*
 * Writes a container record whole (temp + rename), durably unless it says
 * "Volatile": a container removed when it ends (run --rm) is not worth the
 * fsyncs (a torn record left by a crash is skipped by ps, reported by fsck
 * and removed by rm).
 */
static int write_record(int dirfd, const char *rel, const json_t *record,
			struct strata_error **err)
{
	size_t len;
	cleanup_free char *buf = NULL;

	if (!json_is_true(json_object_get(record, "Volatile")))
		return jv_write_at(dirfd, rel, record, err);
	buf = jv_dump(record, &len);
	return file_write_replace_at(dirfd, rel, buf, len, 0644, err);
}

/*
 * Makes containers/@id with its record in one step: the dir is made and
 * filled in tmp/, then renamed into place, so that a crash at any point
 * leaves either no container or a whole one (a dir in tmp is gc's).
 */
static int publish_new(struct store *s, const char *id, const json_t *record,
		       struct strata_error **err)
{
	cleanup_free char *stage = store_tmp_name(".ctr");
	cleanup_free char *rel = xasprintf("%s/" RECORD, stage);

	if (mkdirat(s->tmp_fd, stage, 0700) < 0)
		return strata_fail(err, errno, "create container directory");
	if (write_record(s->tmp_fd, rel, record, err) < 0)
		goto fail;
	if (renameat(s->tmp_fd, stage, s->containers_fd, id) < 0) {
		strata_fail(err, errno, "create container directory");
		goto fail;
	}
	if (!json_is_true(json_object_get(record, "Volatile")))
		fsync(s->containers_fd); /* the new entry, durable as its record */
	return 0;
fail:
	path_rm_rf_at(s->tmp_fd, stage, NULL);
	return -1;
}

int store_container_create(struct store *s, const char *name, json_t *record,
			   char id[STORE_ID_LEN + 1], struct strata_error **err)
{
	cleanup_free char *gen = NULL;
	cleanup_free char *created = NULL;
	char other[STORE_ID_LEN + 1];
	int64_t now = time_now_ns();

	if (name && !name_is_valid(name))
		return strata_fail_msg(err, EINVAL,
				       "invalid container name '%s': must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
				       name);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (!names_ready(s) && names_build(s, err) < 0)
		goto fail;
	if (name && names_lookup(s, name, other)) {
		strata_fail_msg(err, EEXIST, "the container name '%s' is already in use by '%.12s'",
				name, other);
		goto fail;
	}
	do {
		random_hex(id, STORE_ID_LEN);
	} while (faccessat(s->containers_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0);
	while (!name) {
		unsigned char r[2];
		char rnd[5];

		random_hex(rnd, 4);
		r[0] = (unsigned char)strtoul((char[]){ rnd[0], rnd[1], 0 }, NULL, 16);
		r[1] = (unsigned char)strtoul((char[]){ rnd[2], rnd[3], 0 }, NULL, 16);
		free(gen);
		gen = xasprintf("%s_%s", adjectives[r[0] % ARRAY_SIZE(adjectives)],
				nouns[r[1] % ARRAY_SIZE(nouns)]);
		if (!names_lookup(s, gen, other))
			name = gen;
		else if (strlen(gen) < 40) {
			/* Crowded: add digits until the name is free. */
			char *longer = xasprintf("%s%c%c", gen, rnd[0], rnd[1]);

			free(gen);
			gen = longer;
			if (!names_lookup(s, gen, other))
				name = gen;
		}
	}
	jv_set_str(record, "Id", id);
	jv_set_str(record, "Name", name);
	created = time_rfc3339(now / 1000000000LL, (long)(now % 1000000000LL));
	if (!json_object_get(record, "Created"))
		jv_set_str(record, "Created", created);
	/* The name first: a crash before the record leaves a link to nothing, which is no name. */
	if (names_link(s, name, id, err) < 0)
		goto fail;
	if (publish_new(s, id, record, err) < 0) {
		names_unlink(s, name, id);
		goto fail;
	}
	store_unlock(s);
	return 0;
fail:
	store_unlock(s);
	return -1;
}

int store_container_save(struct store *s, const char *id, const json_t *record,
			 struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/" RECORD, id);
	int ret;

	if (!is_full_id(id))
		return strata_fail_msg(err, EINVAL, "invalid container ID '%s'", id);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (faccessat(s->containers_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		store_unlock(s);
		return strata_fail(err, errno, "container '%.12s'", id);
	}
	ret = write_record(s->containers_fd, rel, record, err);
	store_unlock(s);
	return ret;
}

int store_container_remove(struct store *s, const char *id, struct strata_error **err)
{
	cleanup_json json_t *rec = NULL;
	cleanup_free char *trash = NULL;
	int ret = 0;

	if (!is_full_id(id))
		return strata_fail_msg(err, EINVAL, "invalid container ID '%s'", id);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	rec = store_container_load(s, id, NULL);
	/*
	 * Rename into tmp first: the record disappears atomically, and a crash
	 * during the slow recursive removal leaves only garbage in tmp.
	 */
	trash = store_tmp_name(".rm");
	if (renameat(s->containers_fd, id, s->tmp_fd, trash) < 0) {
		if (errno != ENOENT)
			ret = strata_fail(err, errno, "remove container '%.12s'", id);
		store_unlock(s);
		return ret;
	}
	/* Then its name (a crash before this leaves a link to nothing, which is no name). */
	names_unlink(s, rec ? jv_str(rec, "Name") : NULL, id);
	store_unlock(s);
	if (path_rm_rf_at(s->tmp_fd, trash, err) < 0)
		return strata_wrap(err, "remove container '%.12s'", id);
	return 0;
}

int store_container_dirfd(struct store *s, const char *id, struct strata_error **err)
{
	int fd;

	if (!is_full_id(id))
		return strata_fail_msg(err, EINVAL, "invalid container ID '%s'", id);
	fd = openat(s->containers_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return strata_fail(err, errno, "container '%.12s'", id);
	return fd;
}

char *store_container_path(struct store *s, const char *id)
{
	return xasprintf("%s/containers/%s", s->root, id);
}
