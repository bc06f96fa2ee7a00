/*
 * The blob-info cache: where each blob was last seen, so that a push can
 * ask a registry to mount it from another of its repositories instead of
 * uploading it (containers/image keeps the same kind of cache). One JSON
 * file in the store, ROOT/blob-info.json:
 *
 *   {"version": 1, "blobs": {"sha256:...": [{"registry": "HOST[:PORT]",
 *    "repository": "NAME", "time": UNIX}, ...]}}
 *
 * It is a cache: written whole through a temporary file and a rename under
 * an flock of ROOT/blob-info.lock (readers see the old or the new file,
 * never a torn one), bounded (BLOBINFO_MAX_BLOBS digests, the least recent
 * dropped; BLOBINFO_MAX_PLACES places each), and an unreadable or damaged
 * file is simply started again. Nothing else depends on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define BLOBINFO_FILE "blob-info.json"
#define BLOBINFO_LOCK "blob-info.lock"
#define BLOBINFO_MAX (16u << 20)

/* Loads the cache of @dirfd; an absent or damaged file gives an empty one. */
static json_t *load(int dirfd)
{
	struct strata_error *err = NULL;
	json_t *doc = jv_load_at(dirfd, BLOBINFO_FILE, BLOBINFO_MAX, &err);

	if (!doc || !json_is_object(json_object_get(doc, "blobs"))) {
		if (err && strata_error_code(err) != ENOENT)
			log_debug("blob-info: %s: started again", strata_error_msg(err));
		strata_error_free(err);
		if (doc)
			json_decref(doc);
		doc = json_pack("{s:i,s:o}", "version", 1, "blobs", json_object());
	}
	return doc;
}

static json_int_t latest(const json_t *places)
{
	json_int_t t = 0;
	size_t i;
	json_t *p;

	json_array_foreach (places, i, p)
		if (jv_int(p, "time", 0) > t)
			t = jv_int(p, "time", 0);
	return t;
}

/* Puts @host/@repo first among the places of @digest, at @now. */
static void add_place(json_t *blobs, const char *digest, const char *host, const char *repo,
		      json_int_t now)
{
	json_t *places = json_object_get(blobs, digest), *p;
	size_t i;

	if (!json_is_array(places)) {
		places = json_array();
		json_object_set_new(blobs, digest, places);
	}
	json_array_foreach (places, i, p) {
		const char *r = jv_str(p, "registry"), *n = jv_str(p, "repository");

		if (r && n && strcmp(r, host) == 0 && strcmp(n, repo) == 0) {
			json_array_remove(places, i);
			break;
		}
	}
	json_array_insert_new(places, 0,
			      json_pack("{s:s,s:s,s:I}", "registry", host, "repository", repo,
					"time", (json_int_t)now));
	while (json_array_size(places) > BLOBINFO_MAX_PLACES)
		json_array_remove(places, json_array_size(places) - 1);
}

/* Drops the least recently seen digests past the bound. */
static void trim(json_t *blobs)
{
	while (json_object_size(blobs) > BLOBINFO_MAX_BLOBS) {
		const char *key, *oldest = NULL;
		json_int_t t_old = 0;
		json_t *v;

		json_object_foreach (blobs, key, v) {
			json_int_t t = latest(v);

			if (!oldest || t < t_old) {
				oldest = key;
				t_old = t;
			}
		}
		json_object_del(blobs, oldest);
	}
}

void reg_blobinfo_record(struct store *s, const char *host, const char *repo,
			 char *const *digests)
{
	cleanup_close int dirfd = open(store_root(s), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int lock = -1;
	struct strata_error *err = NULL;
	cleanup_json json_t *doc = NULL;
	cleanup_free char *body = NULL;
	size_t len;
	json_t *blobs;
	json_int_t now = (json_int_t)time(NULL);

	if (dirfd < 0)
		return;
	lock = openat(dirfd, BLOBINFO_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		log_debug("blob-info: lock: %s", strerror(errno));
		return;
	}
	doc = load(dirfd);
	blobs = json_object_get(doc, "blobs");
	for (size_t i = 0; digests && digests[i]; i++)
		add_place(blobs, digests[i], host, repo, now);
	trim(blobs);
	/* Not fsynced: a cache whose loss in a crash costs one upload. */
	body = jv_dump(doc, &len);
	if (file_write_replace_at(dirfd, BLOBINFO_FILE, body, len, 0644, &err) < 0) {
		log_debug("blob-info: %s", strata_error_msg(err));
		strata_error_free(err);
	}
}

json_t *reg_blobinfo_load(struct store *s)
{
	cleanup_close int dirfd = open(store_root(s), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return json_pack("{s:i,s:o}", "version", 1, "blobs", json_object());
	return load(dirfd);
}

/*
 * A repository name as the distribution spec's grammar allows it (lower
 * case alphanumerics, separators . _ - between them, / between
 * components): an entry of a file edited by hand or damaged is no mount
 * source, and nothing of it goes into a URL's query.
 */
static bool is_alnum_lower(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool repo_is_valid(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 255 || !is_alnum_lower(n[0]) || !is_alnum_lower(n[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		if (is_alnum_lower(n[i]))
			continue;
		if (n[i] == '/' || n[i] == '.') {
			/* between two alphanumerics */
			if (!is_alnum_lower(n[i - 1]) || !is_alnum_lower(n[i + 1]))
				return false;
		} else if (n[i] != '_' && n[i] != '-') {
			return false;
		} else if (n[i - 1] == '/' || n[i - 1] == '.' || n[i + 1] == '/' || n[i + 1] == '.') {
			return false;
		}
	}
	return true;
}

char **reg_blobinfo_repos(const json_t *cache, const char *host, const char *repo,
			  const char *digest)
{
	json_t *places = json_object_get(json_object_get(cache, "blobs"), digest), *p;
	char **out = NULL;
	size_t i;

	json_array_foreach (places, i, p) {
		const char *r = jv_str(p, "registry"), *n = jv_str(p, "repository");

		if (r && n && strcmp(r, host) == 0 && strcmp(n, repo) != 0 && repo_is_valid(n) &&
		    !strv_contains(out, n))
			strv_append(&out, n);
	}
	return out;
}
