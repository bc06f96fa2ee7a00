/*
 * An image's flattened rootfs as one tar, streamed from its layer blobs.
 *
 * One layer has nothing to merge: its entries are written as they come,
 * normalised as pack writes them (clean names, numeric owners, whole-second
 * mtimes, sorted xattrs, no whiteouts). Several layers are merged as they
 * stream: each layer's tar is read once, in step with the others, and the
 * next path written is the smallest of the layers' next paths in pack's
 * order (a directory's children by byte order of name, after the directory
 * itself). The topmost layer holding that path wins. Whiteouts and opaque
 * markers are kept in two hash maps (path -> highest layer) as they are
 * read, so hiding an entry is an O(1) lookup; a layer is read ahead (its
 * entries held in memory) only as far as the whiteout of the path at hand
 * could lie (".wh.NAME" sorts after NAME when NAME starts with '.' and a
 * letter before 'w', or with a byte below '.').
 *
 * The merge needs every layer in that order, which pack, GNU tar's
 * --sort=name and Go's archive walkers write. A layer out of order (or a
 * hardlink whose target a later layer replaced) is found while streaming;
 * the tar is then made the slow way instead (every layer applied to a
 * directory in ROOT/tmp, packed and removed), which the first MiBs of output
 * being held back (or a regular output file being truncated) make possible.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define CHUNK (1u << 20)
#define BLOCK (64u << 10)
/* Output held back before the first write: a fallback below this costs nothing. */
#define HOLD_BACK (8u << 20)
/* Content read ahead of the merge and kept in memory, at most. */
#define AHEAD_MAX (16u << 20)

/* ---- maps from path to the highest layer index, and from path hashes ---- */

struct idxmap {
	char **keys;
	size_t *vals;
	size_t cap, used;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static size_t idxmap_find(const struct idxmap *m, const char *k)
{
	size_t i = (size_t)hash_str(k) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], k))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Records @v for @k, keeping the larger of @v and what is there. */
static void idxmap_raise(struct idxmap *m, const char *k, size_t v)
{
	size_t i;

	if ((m->used + 1) * 4 >= m->cap * 3) {
		struct idxmap n = { .cap = m->cap ? m->cap * 2 : 64 };

		n.keys = xcalloc(n.cap, sizeof(*n.keys));
		n.vals = xcalloc(n.cap, sizeof(*n.vals));
		for (size_t j = 0; j < m->cap; j++) {
			if (m->keys[j]) {
				size_t t = idxmap_find(&n, m->keys[j]);

				n.keys[t] = m->keys[j];
				n.vals[t] = m->vals[j];
			}
		}
		n.used = m->used;
		free(m->keys);
		free(m->vals);
		*m = n;
	}
	i = idxmap_find(m, k);
	if (!m->keys[i]) {
		m->keys[i] = xstrdup(k);
		m->vals[i] = v;
		m->used++;
	} else if (v > m->vals[i]) {
		m->vals[i] = v;
	}
}

/*
 * The lowest layer that @k's marker (a whiteout, an opaque marker) leaves
 * alone: the marker's own layer, 0 when there is none.
 */
static size_t idxmap_floor(const struct idxmap *m, const char *k)
{
	size_t i;

	if (!m->cap)
		return 0;
	i = idxmap_find(m, k);
	return m->keys[i] ? m->vals[i] : 0;
}

static void idxmap_release(struct idxmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/*
 * The regular files written, by path hash: the layer each came from and the
 * metadata a hardlink to it shares (one inode on disk, so pack writes the
 * link with the target's mode, owner and mtime).
 */
struct file_meta {
	uint64_t key; /* 0: an empty slot */
	int64_t mtime;
	uint32_t mode, uid, gid, layer;
};

struct filemap {
	struct file_meta *slots;
	size_t cap, used;
};

static size_t filemap_slot(const struct filemap *m, uint64_t k)
{
	size_t i = (size_t)(k * 0x9e3779b97f4a7c15ULL >> 20) & (m->cap - 1);

	while (m->slots[i].key && m->slots[i].key != k)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void filemap_put(struct filemap *m, const struct file_meta *v)
{
	size_t i;

	if ((m->used + 1) * 4 >= m->cap * 3) {
		struct filemap n = { .cap = m->cap ? m->cap * 2 : 1024, .used = m->used };

		n.slots = xcalloc(n.cap, sizeof(*n.slots));
		for (size_t j = 0; j < m->cap; j++)
			if (m->slots[j].key)
				n.slots[filemap_slot(&n, m->slots[j].key)] = m->slots[j];
		free(m->slots);
		*m = n;
	}
	i = filemap_slot(m, v->key);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = *v;
}

static const struct file_meta *filemap_get(const struct filemap *m, uint64_t k)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = filemap_slot(m, k);
	return m->slots[i].key ? &m->slots[i] : NULL;
}

static uint64_t path_key(const char *path)
{
	uint64_t k = hash_str(path);

	return k ? k : 1;
}

/* ---- the order of entries ---- */

/*
 * Pack's order of two clean paths: component by component in byte order,
 * a directory before what is in it ("a" < "a/b" < "a-b").
 */
static int path_order(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		if (!ca || (ca == '/' && cb))
			return -1;
		if (!cb || cb == '/')
			return 1;
		return ca < cb ? -1 : 1;
	}
}

/* ---- reading the layers ---- */

struct item {
	char *path;
	struct archive_entry *e;
	char *data; /* content read ahead (regular files), or NULL */
	size_t len;
};

struct exporter;

struct cursor {
	struct exporter *x;
	size_t idx; /* 0 = bottom layer */
	int fd;
	struct layers_source *src;
	struct digester *dg;
	struct archive *a;
	char *buf;
	struct strata_error *read_err;
	struct item *q; /* read ahead, in order; q[qh..qn) */
	size_t qh, qn, qcap;
	struct item live; /* the entry the archive is at (its content unread) */
	bool has_live, eof;
	char *prev; /* the last entry's path, for the order check */
};

struct ancestor {
	char *path;
	size_t floor; /* entries below it from layers under this index are hidden */
};

struct exporter {
	struct store *s;
	const struct store_image *img;
	size_t n;
	struct cursor *c;
	struct idxmap wh, opq;
	struct filemap files;
	struct ancestor *stack;
	size_t depth, cap_stack;
	size_t ahead_bytes;
	bool need_staging; /* the merge cannot place what it met: make the tar the slow way */
	char *why_staging;

	struct archive *out;
	struct archive_entry *oe;
	int outfd;
	off_t start;
	char *held;
	size_t held_len, held_cap;
	bool committed;
	struct strata_error *werr;
	char *buf;
};

static la_ssize_t export_read_cb(struct archive *a, void *data, const void **buff)
{
	struct cursor *c = data;
	ssize_t n = layers_source_read(c->src, c->buf, CHUNK, &c->read_err);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", strata_error_msg(c->read_err));
		return -1;
	}
	if (n > 0)
		digester_update(c->dg, c->buf, (size_t)n);
	*buff = c->buf;
	return n;
}

static int cursor_fail(struct cursor *c, struct strata_error **err)
{
	if (c->read_err)
		return strata_fail_msg(err, strata_error_code(c->read_err), "layer %zu: %s",
				       c->idx + 1, strata_error_msg(c->read_err));
	return strata_fail_msg(err, EINVAL, "layer %zu: not a valid layer tar: %s", c->idx + 1,
			       archive_error_string(c->a) ? archive_error_string(c->a)
							  : "unrecognized format");
}

static void item_release(struct item *it)
{
	free(it->path);
	free(it->data);
	if (it->e)
		archive_entry_free(it->e);
	memset(it, 0, sizeof(*it));
}

static void stage_reason(struct exporter *x, char *why)
{
	x->need_staging = true;
	free(x->why_staging);
	x->why_staging = why;
}

/* The end of a layer: the rest of its stream hashed and its diffID checked. */
static int cursor_finish(struct cursor *c, struct strata_error **err)
{
	const struct store_image *img = c->x->img;
	char diff_id[DIGEST_STR_LEN];

	for (;;) {
		ssize_t n = layers_source_read(c->src, c->buf, CHUNK, err);

		if (n < 0)
			return strata_wrap(err, "layer %zu", c->idx + 1);
		if (n == 0)
			break;
		digester_update(c->dg, c->buf, (size_t)n);
	}
	digester_final(c->dg, diff_id);
	digester_free(c->dg);
	c->dg = NULL;
	c->eof = true;
	if (c->idx < img->n_layers && img->diff_ids[c->idx] && strcmp(img->diff_ids[c->idx], diff_id))
		return strata_fail_msg(err, EINVAL,
				       "layer %zu (%.19s): its content has diffID %s, the image "
				       "config says %s",
				       c->idx + 1, img->manifest->layers[c->idx].digest, diff_id,
				       img->diff_ids[c->idx]);
	return 0;
}

/* Records a whiteout or opaque marker read in layer @c; false when @path is none. */
static bool note_whiteout(struct cursor *c, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	cleanup_free char *target = NULL;

	if (!str_has_prefix(base, ".wh."))
		return false;
	if (!strcmp(base, ".wh..wh..opq")) {
		target = xstrndup(path, dlen);
		idxmap_raise(&c->x->opq, target, c->idx);
		return true;
	}
	if (str_has_prefix(base, ".wh..wh.") || !base[4] || !strcmp(base + 4, ".") ||
	    !strcmp(base + 4, ".."))
		return true; /* aufs internals, or names no file: nothing to hide */
	target = slash ? xasprintf("%.*s/%s", (int)dlen, path, base + 4) : xstrdup(base + 4);
	idxmap_raise(&c->x->wh, target, c->idx);
	return true;
}

/*
 * Moves layer @c to its next entry (c->live), recording the whiteouts passed
 * on the way; at the end, c->has_live is false.
 */
static int cursor_pull(struct cursor *c, struct strata_error **err)
{
	struct archive_entry *e;
	int r;

	c->has_live = false;
	while (!c->eof) {
		cleanup_free char *path = NULL;
		const char *raw;

		r = archive_read_next_header(c->a, &e);
		if (r == ARCHIVE_EOF)
			return cursor_finish(c, err);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return cursor_fail(c, err);
		raw = archive_entry_pathname(e);
		if (!raw)
			return strata_fail_msg(err, EINVAL, "layer %zu: an entry without a name",
					       c->idx + 1);
		path = path_clean(raw);
		if (!*path)
			continue; /* the top itself */
		if (note_whiteout(c, path))
			continue; /* for one layer, nothing below to hide */
		if (c->x->n > 1 && c->prev && path_order(c->prev, path) >= 0) {
			stage_reason(c->x, xasprintf("layer %zu is not in name order ('%s' after "
						     "'%s')",
						     c->idx + 1, path, c->prev));
			return -1;
		}
		free(c->prev);
		c->prev = xstrdup(path);
		c->live.path = steal_ptr(&path);
		c->live.e = archive_entry_clone(e);
		c->has_live = true;
		return 0;
	}
	return 0;
}

static struct item *cursor_head(struct cursor *c)
{
	if (c->qh < c->qn)
		return &c->q[c->qh];
	return c->has_live ? &c->live : NULL;
}

/* Reads the live entry's content into memory and queues it; pulls the next. */
static int cursor_hold(struct cursor *c, struct strata_error **err)
{
	struct item *it = &c->live;

	if (archive_entry_filetype(it->e) == AE_IFREG && !archive_entry_hardlink(it->e) &&
	    archive_entry_size(it->e) > 0) {
		int64_t size = archive_entry_size(it->e);
		size_t got = 0;

		if ((uint64_t)size > AHEAD_MAX - c->x->ahead_bytes) {
			stage_reason(c->x, xasprintf("layer %zu: more than %u MiB to read ahead",
						     c->idx + 1, AHEAD_MAX >> 20));
			return -1;
		}
		it->data = xmalloc((size_t)size);
		while (got < (size_t)size) {
			la_ssize_t n = archive_read_data(c->a, it->data + got, (size_t)size - got);

			if (n < 0)
				return cursor_fail(c, err);
			if (n == 0)
				break;
			got += (size_t)n;
		}
		memset(it->data + got, 0, (size_t)size - got);
		it->len = (size_t)size;
		c->x->ahead_bytes += it->len;
	}
	if (c->qn == c->qcap) {
		if (c->qh) {
			memmove(c->q, c->q + c->qh, (c->qn - c->qh) * sizeof(*c->q));
			c->qn -= c->qh;
			c->qh = 0;
		} else {
			c->qcap = c->qcap ? 2 * c->qcap : 16;
			c->q = xrealloc(c->q, c->qcap * sizeof(*c->q));
		}
	}
	c->q[c->qn++] = *it;
	memset(it, 0, sizeof(*it));
	c->has_live = false;
	return cursor_pull(c, err);
}

/* Reads every layer ahead until its next entry sorts after @key: their whiteouts up to @key are known. */
static int read_past(struct exporter *x, const char *key, struct strata_error **err)
{
	for (size_t i = 0; i < x->n; i++) {
		struct cursor *c = &x->c[i];

		while (c->has_live && path_order(c->live.path, key) <= 0)
			if (cursor_hold(c, err) < 0)
				return -1;
	}
	return 0;
}

/* Knows the whiteouts of @path in every layer. */
static int learn_whiteout(struct exporter *x, const char *path, struct strata_error **err)
{
	const char *slash = strrchr(path, '/');
	cleanup_free char *key =
		slash ? xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1)
		      : xasprintf(".wh.%s", path);

	return read_past(x, key, err);
}

/* Knows the opaque markers of directory @path in every layer. */
static int learn_opaque(struct exporter *x, const char *path, struct strata_error **err)
{
	cleanup_free char *key = xasprintf("%s/.wh..wh..opq", path);

	return read_past(x, key, err);
}

/* ---- writing the tar ---- */

static int flush_held(struct exporter *x, struct strata_error **err)
{
	if (x->held_len && file_write_all(x->outfd, x->held, x->held_len, err) < 0)
		return -1;
	free(x->held);
	x->held = NULL;
	x->held_len = x->held_cap = 0;
	x->committed = true;
	return 0;
}

static la_ssize_t export_write_cb(struct archive *a, void *data, const void *buf, size_t n)
{
	struct exporter *x = data;

	if (!x->committed) {
		if (x->held_len + n > x->held_cap) {
			x->held_cap = x->held_len + n > HOLD_BACK ? x->held_len + n : HOLD_BACK;
			x->held = xrealloc(x->held, x->held_cap);
		}
		memcpy(x->held + x->held_len, buf, n);
		x->held_len += n;
		if (x->held_len < HOLD_BACK)
			return (la_ssize_t)n;
		if (flush_held(x, &x->werr) < 0)
			goto fail;
		return (la_ssize_t)n;
	}
	if (file_write_all(x->outfd, buf, n, &x->werr) == 0)
		return (la_ssize_t)n;
fail:
	archive_set_error(a, EIO, "%s", strata_error_msg(x->werr));
	return -1;
}

static int out_fail(struct exporter *x, const char *path, struct strata_error **err)
{
	if (x->werr)
		return strata_fail_msg(err, strata_error_code(x->werr), "%s",
				       strata_error_msg(x->werr));
	return strata_fail_msg(err, EIO, "write '%s': %s", path, archive_error_string(x->out));
}

/* As unpack applies and pack keeps them: user.*, trusted.* (not overlay's), security.capability. */
static bool xattr_kept(const char *name)
{
	if (str_has_prefix(name, "trusted.overlay.") || str_has_prefix(name, "user.overlay."))
		return false;
	return str_has_prefix(name, "user.") || str_has_prefix(name, "trusted.") ||
	       !strcmp(name, "security.capability");
}

struct xattr {
	const char *name;
	const void *val;
	size_t size;
};

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

static void copy_xattrs(struct exporter *x, struct archive_entry *e)
{
	struct xattr v[256];
	size_t k = 0;

	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (k < ARRAY_SIZE(v) &&
	       archive_entry_xattr_next(e, &v[k].name, &v[k].val, &v[k].size) == ARCHIVE_OK)
		if (xattr_kept(v[k].name))
			k++;
	qsort(v, k, sizeof(*v), cmp_xattr);
	for (size_t i = 0; i < k; i++)
		archive_entry_xattr_add_entry(x->oe, v[i].name, v[i].val, v[i].size);
}

/* Writes the content of @it: held in memory, or read from layer @c's stream. */
static int write_data(struct exporter *x, struct cursor *c, const struct item *it,
		      struct strata_error **err)
{
	int64_t size = archive_entry_size(it->e), done = 0;

	if (it->data) {
		if (archive_write_data(x->out, it->data, it->len) < 0)
			return out_fail(x, it->path, err);
		return 0;
	}
	while (done < size) {
		la_ssize_t n = archive_read_data(c->a, x->buf, CHUNK);

		if (n < 0)
			return cursor_fail(c, err);
		if (n == 0) {
			/* a short sparse tail: zeros to the size in the header */
			n = size - done < CHUNK ? (la_ssize_t)(size - done) : CHUNK;
			memset(x->buf, 0, (size_t)n);
		}
		if (n > size - done)
			n = (la_ssize_t)(size - done);
		if (archive_write_data(x->out, x->buf, (size_t)n) < 0)
			return out_fail(x, it->path, err);
		done += n;
	}
	return 0;
}

/* Writes entry @it of layer @c as pack would have written it from an unpacked tree. */
static int emit(struct exporter *x, struct cursor *c, const struct item *it,
		struct strata_error **err)
{
	struct archive_entry *e = it->e;
	mode_t type = archive_entry_filetype(e);
	const char *hard = archive_entry_hardlink(e);

	if (type == AE_IFSOCK)
		return 0;
	archive_entry_clear(x->oe);
	archive_entry_set_pathname(x->oe, it->path);
	archive_entry_set_mode(x->oe, archive_entry_mode(e));
	archive_entry_set_uid(x->oe, (la_int64_t)archive_entry_uid(e));
	archive_entry_set_gid(x->oe, (la_int64_t)archive_entry_gid(e));
	archive_entry_set_mtime(x->oe, archive_entry_mtime(e), 0);
	if (hard) {
		cleanup_free char *target = path_clean(hard);
		const struct file_meta *m = filemap_get(&x->files, path_key(target));

		if (!strcmp(target, it->path))
			return 0;
		if (!m || m->layer != c->idx) {
			stage_reason(x, xasprintf("layer %zu: hardlink '%s' to '%s', which is not "
						  "in the tar from that layer",
						  c->idx + 1, it->path, target));
			return -1;
		}
		archive_entry_set_mode(x->oe, m->mode);
		archive_entry_set_uid(x->oe, m->uid);
		archive_entry_set_gid(x->oe, m->gid);
		archive_entry_set_mtime(x->oe, m->mtime, 0);
		archive_entry_set_hardlink(x->oe, target);
		archive_entry_set_size(x->oe, 0);
		if (archive_write_header(x->out, x->oe) < ARCHIVE_WARN)
			return out_fail(x, it->path, err);
		return 0;
	}
	switch (type) {
	case AE_IFREG:
		copy_xattrs(x, e);
		archive_entry_set_size(x->oe, archive_entry_size(e));
		if (archive_write_header(x->out, x->oe) < ARCHIVE_WARN)
			return out_fail(x, it->path, err);
		{
			struct file_meta m = { path_key(it->path), archive_entry_mtime(e),
					       archive_entry_mode(e), (uint32_t)archive_entry_uid(e),
					       (uint32_t)archive_entry_gid(e), (uint32_t)c->idx };

			filemap_put(&x->files, &m);
		}
		return write_data(x, c, it, err);
	case AE_IFDIR:
		copy_xattrs(x, e);
		break;
	case AE_IFLNK:
		if (!archive_entry_symlink(e))
			return strata_fail_msg(err, EINVAL, "layer %zu: symlink '%s' has no target",
					       c->idx + 1, it->path);
		archive_entry_set_symlink(x->oe, archive_entry_symlink(e));
		archive_entry_set_perm(x->oe, 0777); /* what lstat says of every symlink */
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		archive_entry_set_rdev(x->oe, archive_entry_rdev(e));
		break;
	case AE_IFIFO:
		break;
	default:
		return strata_fail_msg(err, EINVAL, "layer %zu: entry '%s' has an unknown type 0%o",
				       c->idx + 1, it->path, (unsigned)type);
	}
	if (archive_write_header(x->out, x->oe) < ARCHIVE_WARN)
		return out_fail(x, it->path, err);
	return 0;
}

/* ---- the merge ---- */

/* Takes the head entry of @c (whose path is the one at hand): written when @write, skipped otherwise. */
static int take(struct exporter *x, struct cursor *c, bool write, struct strata_error **err)
{
	bool held = c->qh < c->qn;
	struct item *it = held ? &c->q[c->qh] : &c->live;
	int r = 0;

	if (write)
		r = emit(x, c, it, err);
	else if (!held && archive_read_data_skip(c->a) < ARCHIVE_WARN)
		r = cursor_fail(c, err);
	if (held) {
		x->ahead_bytes -= it->len;
		item_release(it);
		c->qh++;
		if (c->qh == c->qn)
			c->qh = c->qn = 0;
		return r;
	}
	item_release(it);
	c->has_live = false;
	if (r < 0)
		return r;
	return cursor_pull(c, err);
}

static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

static void push_ancestor(struct exporter *x, const char *path, size_t floor)
{
	if (x->depth == x->cap_stack) {
		x->cap_stack = x->cap_stack ? 2 * x->cap_stack : 32;
		x->stack = xrealloc(x->stack, x->cap_stack * sizeof(*x->stack));
	}
	x->stack[x->depth++] = (struct ancestor){ xstrdup(path), floor };
}

static size_t max_z(size_t a, size_t b)
{
	return a > b ? a : b;
}

/*
 * The floor of @path's parent directory: the lowest layer whose entries
 * there are not hidden. Directories that no layer lists (a tar may leave
 * them out) are placed on the stack here, with their own whiteouts.
 */
static int parent_floor(struct exporter *x, const char *path, size_t *floor,
			struct strata_error **err)
{
	cleanup_free char *dir = NULL;
	const char *slash;

	while (x->depth && !is_below(path, x->stack[x->depth - 1].path))
		free(x->stack[--x->depth].path);
	slash = strrchr(path, '/');
	if (!slash) {
		*floor = 0;
		return 0;
	}
	dir = xstrndup(path, (size_t)(slash - path));
	if (!x->depth || strcmp(x->stack[x->depth - 1].path, dir)) {
		/* the missing directories between the stack's top and @dir, outermost first */
		size_t start = x->depth ? strlen(x->stack[x->depth - 1].path) + 1 : 0;

		for (char *p = dir + start;; p++) {
			if (*p != '/' && *p)
				continue;
			{
				char keep = *p;
				size_t f = x->depth ? x->stack[x->depth - 1].floor : 0;

				*p = '\0';
				if (learn_whiteout(x, dir, err) < 0 || learn_opaque(x, dir, err) < 0)
					return -1;
				f = max_z(f, idxmap_floor(&x->wh, dir));
				f = max_z(f, idxmap_floor(&x->opq, dir));
				push_ancestor(x, dir, f);
				*p = keep;
				if (!keep)
					break;
			}
		}
	}
	*floor = x->stack[x->depth - 1].floor;
	return 0;
}

/*
 * Writes the next path: the smallest among the layers' next entries, from
 * the topmost layer holding it, unless a whiteout, an opaque directory or a
 * non-directory above hides it. *done is set when every layer has ended.
 */
static int merge_step(struct exporter *x, bool *done, struct strata_error **err)
{
	cleanup_free char *path = NULL;
	size_t top = 0, floor, wh, hide_below = 0;
	bool found = false, visible, is_dir;

	for (size_t i = 0; i < x->n; i++) {
		struct item *h = cursor_head(&x->c[i]);

		if (h && (!path || path_order(h->path, path) < 0)) {
			free(path);
			path = xstrdup(h->path);
		}
	}
	if (!path) {
		*done = true;
		return 0;
	}
	if (parent_floor(x, path, &floor, err) < 0 || learn_whiteout(x, path, err) < 0)
		return -1;
	for (size_t i = x->n; i-- > 0;) {
		struct item *h = cursor_head(&x->c[i]);

		if (h && !strcmp(h->path, path)) {
			top = i;
			found = true;
			break;
		}
	}
	if (!found)
		return strata_fail_msg(err, EINVAL, "export: '%s' vanished from the merge", path);
	wh = idxmap_floor(&x->wh, path); /* hides the layers below it */
	visible = top >= max_z(floor, wh);
	is_dir = archive_entry_filetype(cursor_head(&x->c[top])->e) == AE_IFDIR &&
		 !archive_entry_hardlink(cursor_head(&x->c[top])->e);
	if (visible && is_dir && learn_opaque(x, path, err) < 0)
		return -1;
	for (size_t i = x->n; i-- > 0;) {
		struct cursor *c = &x->c[i];
		struct item *h = cursor_head(c);

		if (!h || strcmp(h->path, path))
			continue;
		if (archive_entry_filetype(h->e) != AE_IFDIR || archive_entry_hardlink(h->e))
			hide_below = max_z(hide_below, i);
		if (take(x, c, visible && i == top, err) < 0)
			return -1;
	}
	if (visible && is_dir) {
		size_t f = max_z(floor, wh);

		f = max_z(f, idxmap_floor(&x->opq, path));
		f = max_z(f, hide_below);
		push_ancestor(x, path, f);
	} else {
		push_ancestor(x, path, x->n); /* nothing below it shows */
	}
	return 0;
}

/* ---- setting up, the slow way, and the whole ---- */

static int cursor_open(struct exporter *x, struct cursor *c, size_t idx, struct strata_error **err)
{
	c->x = x;
	c->idx = idx;
	c->fd = store_blob_open(x->s, x->img->manifest->layers[idx].digest, err);
	if (c->fd < 0)
		return strata_wrap(err, "layer %zu", idx + 1);
	if (layers_source_open(c->fd, &c->src, err) < 0)
		return strata_wrap(err, "layer %zu", idx + 1);
	c->dg = digester_new();
	c->buf = xmalloc(CHUNK);
	c->a = archive_read_new();
	if (!c->a)
		abort();
	archive_read_support_format_tar(c->a);
	archive_read_support_format_gnutar(c->a);
	if (archive_read_open(c->a, c, NULL, export_read_cb, NULL) != ARCHIVE_OK)
		return cursor_fail(c, err);
	return cursor_pull(c, err);
}

static void cursor_release(struct cursor *c)
{
	for (size_t i = c->qh; i < c->qn; i++)
		item_release(&c->q[i]);
	free(c->q);
	item_release(&c->live);
	if (c->a)
		archive_read_free(c->a);
	layers_source_free(c->src);
	if (c->fd >= 0)
		close(c->fd);
	digester_free(c->dg);
	strata_error_free(c->read_err);
	free(c->buf);
	free(c->prev);
}

static void exporter_release(struct exporter *x)
{
	for (size_t i = 0; i < x->n; i++)
		cursor_release(&x->c[i]);
	free(x->c);
	idxmap_release(&x->wh);
	idxmap_release(&x->opq);
	free(x->files.slots);
	for (size_t i = 0; i < x->depth; i++)
		free(x->stack[i].path);
	free(x->stack);
	if (x->out)
		archive_write_free(x->out);
	if (x->oe)
		archive_entry_free(x->oe);
	free(x->held);
	free(x->buf);
	free(x->why_staging);
	strata_error_free(x->werr);
}

static int stream(struct exporter *x, struct strata_error **err)
{
	bool done = false;

	x->c = xcalloc(x->n ? x->n : 1, sizeof(*x->c));
	for (size_t i = 0; i < x->n; i++)
		x->c[i].fd = -1;
	x->buf = xmalloc(CHUNK);
	if (layers_libarchive_load(err) < 0)
		return -1;
	x->out = archive_write_new();
	x->oe = archive_entry_new();
	if (!x->out || !x->oe)
		abort();
	/* as layers_pack_tar_fd writes it: pax, 64 KiB writes, no padding past the end blocks */
	if (archive_write_set_format_pax(x->out) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(x->out, BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(x->out, 1) != ARCHIVE_OK ||
	    archive_write_open(x->out, x, NULL, export_write_cb, NULL) != ARCHIVE_OK)
		return strata_fail_msg(err, EIO, "start tar: %s", archive_error_string(x->out));
	for (size_t i = 0; i < x->n; i++)
		if (cursor_open(x, &x->c[i], i, err) < 0)
			return -1;
	if (x->n == 1) {
		struct cursor *c = &x->c[0];

		while (c->has_live)
			if (take(x, c, true, err) < 0)
				return -1;
	} else {
		while (!done)
			if (merge_step(x, &done, err) < 0)
				return -1;
	}
	if (archive_write_close(x->out) != ARCHIVE_OK)
		return out_fail(x, "end of archive", err);
	return flush_held(x, err);
}

/* Every layer applied to a directory in ROOT/tmp, then packed to @outfd. */
static int export_staged(struct store *s, const struct store_image *img, int outfd,
			 struct strata_error **err)
{
	cleanup_free char *tmp = NULL;
	struct strata_error *rm_err = NULL;
	cleanup_close int dfd = -1;
	int r = -1;

	dfd = store_tmp_mkdir(s, "-export", 0755, &tmp, err);
	if (dfd < 0)
		return strata_wrap(err, "create a staging directory");
	if (layers_apply_image(s, img, dfd, err) == 0)
		r = layers_pack_tar_fd(dfd, outfd, -1, err);
	if (store_tmp_remove(s, tmp, &rm_err) < 0) {
		log_warn("remove staging directory: %s", strata_error_msg(rm_err));
		strata_error_free(rm_err);
	}
	return r;
}

int layers_export(struct store *s, const struct store_image *img, int outfd,
		  struct strata_error **err)
{
	struct exporter x = { .s = s, .img = img, .n = img->manifest->n_layers, .outfd = outfd };
	struct strata_error *e2 = NULL;
	int r;

	x.start = lseek(outfd, 0, SEEK_CUR);
	r = stream(&x, &e2);
	if (r == 0 || !x.need_staging) {
		if (r < 0)
			strata_fail_msg(err, strata_error_code(e2), "%s", strata_error_msg(e2));
		strata_error_free(e2);
		exporter_release(&x);
		return r;
	}
	strata_error_free(e2);
	log_debug("export: %s: applying the layers in a staging directory", x.why_staging);
	if (x.committed) {
		struct stat st;

		/* what was written goes, where the output lets it */
		if (x.start < 0 || fstat(outfd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    ftruncate(outfd, x.start) < 0 || lseek(outfd, x.start, SEEK_SET) < 0) {
			r = strata_fail_msg(err, ESPIPE,
					    "%s, and the tar was partly written to a pipe: export "
					    "to a file (-o FILE) instead",
					    x.why_staging);
			exporter_release(&x);
			return r;
		}
	}
	exporter_release(&x);
	return export_staged(s, img, outfd, err);
}
