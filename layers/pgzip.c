/*
 * Parallel gzip, in the manner of pigz: the input is cut into fixed 512 KiB
 * blocks, each compressed on its own thread as raw deflate primed with the
 * previous block's last 32 KiB (so the ratio stays close to one stream) and
 * ended with a sync flush, which makes the outputs concatenate into one
 * valid deflate stream; the last block finishes it. The CRC-32s are combined.
 * Block boundaries do not depend on the thread count, so the output is the
 * same on every machine. While one batch of blocks compresses, the caller
 * fills the next. A block of data where string matching finds nothing
 * (already compressed files, random bytes) is stored, or coded with
 * run-lengths and Huffman codes only (Z_RLE): about as small, many times
 * faster (block_mode).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <stdint.h>
#include <zlib.h>

#include "layers/layers-int.h"

#define PGZ_BLOCK (512u << 10)
#define PGZ_DICT (32u << 10)
#define PGZ_MAX_WORKERS 8

struct pgz_block {
	unsigned char *in;
	size_t in_len;
	unsigned char dict[PGZ_DICT];
	size_t dict_len;
	unsigned char *out;
	size_t out_len, out_cap;
	unsigned long crc;
	int level;
	bool last;
	bool failed;
	bool threaded;
	pthread_t thread;
};

struct pgz_batch {
	struct pgz_block blocks[PGZ_MAX_WORKERS];
	size_t used; /* blocks holding input */
	bool running;
};

struct pgzip {
	int level;
	size_t nblocks; /* blocks per batch: the worker count */
	struct pgz_batch batch[2];
	int fill; /* the batch being filled; the other may be running */
	compressed_sink_fn sink;
	void *arg;
	bool header_done;
	unsigned long crc;
	uint64_t isize;
};

struct pgzip *layers_pgzip_new(int level, compressed_sink_fn sink, void *arg)
{
	struct pgzip *g = xcalloc(1, sizeof(*g));
	int n = sys_ncpus();

	g->level = level > 0 ? level : 6;
	g->nblocks = n < 1 ? 1 : n > PGZ_MAX_WORKERS ? PGZ_MAX_WORKERS : (size_t)n;
	g->sink = sink;
	g->arg = arg;
	g->crc = crc32(0L, Z_NULL, 0);
	for (int b = 0; b < 2; b++)
		for (size_t i = 0; i < g->nblocks; i++) {
			struct pgz_block *k = &g->batch[b].blocks[i];

			k->in = xmalloc(PGZ_BLOCK);
			k->out_cap = deflateBound(NULL, PGZ_BLOCK) + 64;
			k->out = xmalloc(k->out_cap);
			k->level = g->level;
		}
	return g;
}

/* Size of @n (at most 32 KiB) bytes at @in deflated at level 1, or SIZE_MAX. */
static size_t probe_size(const unsigned char *in, size_t n)
{
	unsigned char out[(32u << 10) + 256];
	z_stream z = { 0 };
	size_t size = SIZE_MAX;

	if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return size;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = sizeof(out);
	if (deflate(&z, Z_FINISH) == Z_STREAM_END)
		size = z.total_out;
	deflateEnd(&z);
	return size;
}

/*
 * How block @k is best deflated. When string matching finds nothing in it
 * (compressed formats, random bytes), it is stored (level 0) if it has no
 * more zeros than random bytes have, else run-length coded (Z_RLE), which
 * still shrinks the runs of zeros a tar pads files with: as small as
 * deflate's output, and many times faster. That is so when its bytes other
 * than zeros spread nearly evenly (the sum of c(c-1) over their counts
 * within 5% of a uniform spread's) and matching at level 1 saves less
 * than 6% on a 32 KiB sample from its middle, zeros aside. Otherwise it is
 * deflated as asked. Decided by the block's bytes alone (every fourth one
 * for the counts), so that the output is the same everywhere.
 */
static void block_mode(const struct pgz_block *k, int *level, int *strategy)
{
	enum { SAMPLE = 32u << 10 };
	uint64_t count[256] = { 0 }, sum = 0, n = 0, zeros = 0;
	const unsigned char *mid = k->in + k->in_len / 2 - SAMPLE / 2;
	size_t lz;

	*level = k->level;
	*strategy = Z_DEFAULT_STRATEGY;
	if (k->in_len < 4 * SAMPLE)
		return;
	for (size_t i = 0; i < k->in_len; i += 4)
		count[k->in[i]]++, n++;
	n -= count[0];
	for (int c = 1; c < 256; c++)
		sum += count[c] * (count[c] ? count[c] - 1 : 0);
	if (n < SAMPLE / 2 || 255 * 100 * sum > 105 * n * (n - 1))
		return;
	for (size_t i = 0; i < SAMPLE; i++)
		zeros += !mid[i];
	lz = probe_size(mid, SAMPLE);
	if (lz == SIZE_MAX || lz * 100 < (SAMPLE - zeros) * 94)
		return;
	if (count[0] * 256 * 100 <= (n + count[0]) * 120)
		*level = 0;
	else
		*strategy = Z_RLE;
}

static void *compress_block(void *data)
{
	struct pgz_block *k = data;
	z_stream z = { 0 };
	int level, strategy;

	k->failed = true;
	k->crc = crc32(crc32(0L, Z_NULL, 0), k->in, (uInt)k->in_len);
	block_mode(k, &level, &strategy);
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy) != Z_OK)
		return NULL;
	if (k->dict_len && deflateSetDictionary(&z, k->dict, (uInt)k->dict_len) != Z_OK)
		goto out;
	z.next_in = k->in;
	z.avail_in = (uInt)k->in_len;
	z.next_out = k->out;
	z.avail_out = (uInt)k->out_cap;
	if (deflate(&z, k->last ? Z_FINISH : Z_SYNC_FLUSH) == Z_STREAM_ERROR || z.avail_in ||
	    (k->last && z.avail_out == 0))
		goto out;
	k->out_len = k->out_cap - z.avail_out;
	k->failed = false;
out:
	deflateEnd(&z);
	return NULL;
}

static int emit_header(struct pgzip *g, struct strata_error **err)
{
	/* gzip member header: no name, mtime 0, OS unix; XFL as zlib sets it. */
	unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };

	h[8] = g->level == 9 ? 2 : g->level == 1 ? 4 : 0;
	g->header_done = true;
	return g->sink(g->arg, h, sizeof(h), err);
}

/* Waits for batch @b and hands its output on, in order. */
static int drain(struct pgzip *g, struct pgz_batch *b, struct strata_error **err)
{
	int ret = 0;

	if (!b->running)
		return 0;
	for (size_t i = 0; i < b->used; i++)
		if (b->blocks[i].threaded)
			pthread_join(b->blocks[i].thread, NULL);
	b->running = false;
	for (size_t i = 0; i < b->used; i++) {
		struct pgz_block *k = &b->blocks[i];

		if (ret < 0)
			continue;
		if (k->failed) {
			ret = strata_fail_msg(err, EIO, "gzip: deflate failed");
			continue;
		}
		if (!g->header_done && emit_header(g, err) < 0) {
			ret = -1;
			continue;
		}
		g->crc = crc32_combine(g->crc, k->crc, (z_off_t)k->in_len);
		g->isize += k->in_len;
		if (k->out_len && g->sink(g->arg, k->out, k->out_len, err) < 0)
			ret = -1;
	}
	b->used = 0;
	return ret;
}

/* Starts the fill batch compressing and makes the other one the fill batch. */
static int launch(struct pgzip *g, struct strata_error **err)
{
	struct pgz_batch *b = &g->batch[g->fill];

	if (drain(g, &g->batch[!g->fill], err) < 0)
		return -1;
	for (size_t i = 0; i < b->used; i++) {
		struct pgz_block *k = &b->blocks[i];

		k->threaded = pthread_create(&k->thread, NULL, compress_block, k) == 0;
		if (!k->threaded)
			compress_block(k); /* no thread to be had: compress here */
	}
	b->running = true;
	g->fill = !g->fill;
	return 0;
}

/* The block now being filled, opening a new one (primed with the previous block's tail). */
static struct pgz_block *current(struct pgzip *g, struct strata_error **err, bool *fail)
{
	struct pgz_batch *b = &g->batch[g->fill];
	struct pgz_block *prev = NULL, *k;

	*fail = false;
	if (b->used && b->blocks[b->used - 1].in_len < PGZ_BLOCK)
		return &b->blocks[b->used - 1];
	if (b->used == g->nblocks) {
		if (launch(g, err) < 0) {
			*fail = true;
			return NULL;
		}
		b = &g->batch[g->fill];
		/* The previous block is the last one of the batch just launched. */
		prev = &g->batch[!g->fill].blocks[g->nblocks - 1];
	} else if (b->used) {
		prev = &b->blocks[b->used - 1];
	} else if (g->batch[!g->fill].used) {
		prev = &g->batch[!g->fill].blocks[g->batch[!g->fill].used - 1];
	}
	k = &b->blocks[b->used++];
	k->in_len = 0;
	k->last = false;
	k->dict_len = 0;
	if (prev && prev->in_len) {
		k->dict_len = prev->in_len < PGZ_DICT ? prev->in_len : PGZ_DICT;
		memcpy(k->dict, prev->in + prev->in_len - k->dict_len, k->dict_len);
	}
	return k;
}

int layers_pgzip_write(struct pgzip *g, const void *buf, size_t n, struct strata_error **err)
{
	const unsigned char *p = buf;

	while (n) {
		bool fail;
		struct pgz_block *k = current(g, err, &fail);
		size_t room, take;

		if (fail)
			return -1;
		room = PGZ_BLOCK - k->in_len;
		take = n < room ? n : room;
		memcpy(k->in + k->in_len, p, take);
		k->in_len += take;
		p += take;
		n -= take;
	}
	return 0;
}

int layers_pgzip_finish(struct pgzip *g, struct strata_error **err)
{
	struct pgz_batch *b = &g->batch[g->fill];
	unsigned char t[8];

	if (!b->used) {
		/* No input at all: an empty final block finishes the stream. */
		bool fail;

		current(g, err, &fail);
		if (fail)
			return -1;
	}
	b->blocks[b->used - 1].last = true;
	if (launch(g, err) < 0 || drain(g, &g->batch[!g->fill], err) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		t[i] = (unsigned char)(g->crc >> (8 * i));
		t[4 + i] = (unsigned char)(g->isize >> (8 * i));
	}
	return g->sink(g->arg, t, sizeof(t), err);
}

void layers_pgzip_free(struct pgzip *g)
{
	if (!g)
		return;
	for (int b = 0; b < 2; b++) {
		if (g->batch[b].running)
			for (size_t i = 0; i < g->batch[b].used; i++)
				if (g->batch[b].blocks[i].threaded)
					pthread_join(g->batch[b].blocks[i].thread, NULL);
		for (size_t i = 0; i < g->nblocks; i++) {
			free(g->batch[b].blocks[i].in);
			free(g->batch[b].blocks[i].out);
		}
	}
	free(g);
}
