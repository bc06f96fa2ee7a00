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
 *
 * The threads and their deflate states live as long as the compressor: a
 * thread made and joined per block, and deflate's 270 KiB of state
 * allocated and freed per block, had the kernel unmap and map memory
 * (stacks, malloc arenas) thousands of times, and every unmap flushes the
 * TLB of every CPU; on a paravirtualised machine those flushes were 40%
 * of the CPU time of a 1 GiB gzip import.
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

enum block_state { BLOCK_IDLE, BLOCK_QUEUED, BLOCK_BUSY, BLOCK_DONE };

struct pgz_block {
	enum block_state state;
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
};

/*
 * A thread's deflate states, made on first use and reset for each block:
 * one per way of deflating (block_mode), and one for the probe.
 */
enum { MODE_ASKED, MODE_STORED, MODE_RLE, MODE_PROBE, MODE_COUNT };

struct pgz_streams {
	z_stream z[MODE_COUNT];
	bool ready[MODE_COUNT];
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
	struct pgz_streams own; /* the caller's, when no thread could be made */
	pthread_mutex_t mu;
	pthread_cond_t work; /* a block was queued, or stop */
	pthread_cond_t done; /* a block was compressed */
	bool stop;
	size_t nthreads;
	pthread_t threads[PGZ_MAX_WORKERS];
};

static void *worker_main(void *arg);

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
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->work, NULL);
	pthread_cond_init(&g->done, NULL);
	for (size_t i = 0; i < g->nblocks; i++)
		if (pthread_create(&g->threads[g->nthreads], NULL, worker_main, g) == 0)
			g->nthreads++;
	return g;
}

/* @t's stream for @mode, reset, or NULL when zlib cannot make it. */
static z_stream *stream_get(struct pgz_streams *t, int mode, int level)
{
	static const int levels[MODE_COUNT] = { -1, 0, -1, 1 };
	z_stream *z = &t->z[mode];

	if (t->ready[mode])
		return deflateReset(z) == Z_OK ? z : NULL;
	if (deflateInit2(z, levels[mode] < 0 ? level : levels[mode], Z_DEFLATED, -15, 8,
			 mode == MODE_RLE ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	t->ready[mode] = true;
	return z;
}

static void streams_release(struct pgz_streams *t)
{
	for (int m = 0; m < MODE_COUNT; m++)
		if (t->ready[m])
			deflateEnd(&t->z[m]);
}

/* Size of @n (at most 32 KiB) bytes at @in deflated at level 1, or SIZE_MAX. */
static size_t probe_size(struct pgz_streams *t, const unsigned char *in, size_t n)
{
	unsigned char out[(32u << 10) + 256];
	z_stream *z = stream_get(t, MODE_PROBE, 1);

	if (!z)
		return SIZE_MAX;
	z->next_in = (unsigned char *)in;
	z->avail_in = (uInt)n;
	z->next_out = out;
	z->avail_out = sizeof(out);
	return deflate(z, Z_FINISH) == Z_STREAM_END ? z->total_out : SIZE_MAX;
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
static int block_mode(struct pgz_streams *t, const struct pgz_block *k)
{
	enum { SAMPLE = 32u << 10 };
	uint64_t count[256] = { 0 }, sum = 0, n = 0, zeros = 0;
	const unsigned char *mid = k->in + k->in_len / 2 - SAMPLE / 2;
	size_t lz;

	if (k->in_len < 4 * SAMPLE)
		return MODE_ASKED;
	for (size_t i = 0; i < k->in_len; i += 4)
		count[k->in[i]]++, n++;
	n -= count[0];
	for (int c = 1; c < 256; c++)
		sum += count[c] * (count[c] ? count[c] - 1 : 0);
	if (n < SAMPLE / 2 || 255 * 100 * sum > 105 * n * (n - 1))
		return MODE_ASKED;
	for (size_t i = 0; i < SAMPLE; i++)
		zeros += !mid[i];
	lz = probe_size(t, mid, SAMPLE);
	if (lz == SIZE_MAX || lz * 100 < (SAMPLE - zeros) * 94)
		return MODE_ASKED;
	return count[0] * 256 * 100 <= (n + count[0]) * 120 ? MODE_STORED : MODE_RLE;
}

static void compress_block(struct pgz_streams *t, struct pgz_block *k)
{
	z_stream *z;

	k->failed = true;
	k->crc = crc32(crc32(0L, Z_NULL, 0), k->in, (uInt)k->in_len);
	z = stream_get(t, block_mode(t, k), k->level);
	if (!z)
		return;
	if (k->dict_len && deflateSetDictionary(z, k->dict, (uInt)k->dict_len) != Z_OK)
		return;
	z->next_in = k->in;
	z->avail_in = (uInt)k->in_len;
	z->next_out = k->out;
	z->avail_out = (uInt)k->out_cap;
	if (deflate(z, k->last ? Z_FINISH : Z_SYNC_FLUSH) == Z_STREAM_ERROR || z->avail_in ||
	    (k->last && z->avail_out == 0))
		return;
	k->out_len = k->out_cap - z->avail_out;
	k->failed = false;
}

/*
 * The first queued block of the running batches, or NULL (g->mu held). The
 * batch being filled is the caller's alone: its count is read only once
 * launch has made it running, under the lock.
 */
static struct pgz_block *next_queued(struct pgzip *g)
{
	for (int b = 0; b < 2; b++)
		for (size_t i = 0; g->batch[b].running && i < g->batch[b].used; i++)
			if (g->batch[b].blocks[i].state == BLOCK_QUEUED)
				return &g->batch[b].blocks[i];
	return NULL;
}

static void *worker_main(void *arg)
{
	struct pgzip *g = arg;
	struct pgz_streams t = { 0 };
	struct pgz_block *k;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->stop && !(k = next_queued(g)))
			pthread_cond_wait(&g->work, &g->mu);
		if (g->stop)
			break;
		k->state = BLOCK_BUSY;
		pthread_mutex_unlock(&g->mu);
		compress_block(&t, k);
		pthread_mutex_lock(&g->mu);
		k->state = BLOCK_DONE;
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->mu);
	streams_release(&t);
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
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < b->used; i++)
		while (b->blocks[i].state != BLOCK_DONE)
			pthread_cond_wait(&g->done, &g->mu);
	for (size_t i = 0; i < b->used; i++)
		b->blocks[i].state = BLOCK_IDLE;
	b->running = false;
	pthread_mutex_unlock(&g->mu);
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
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < b->used; i++) {
		struct pgz_block *k = &b->blocks[i];

		if (g->nthreads) {
			k->state = BLOCK_QUEUED;
		} else {
			compress_block(&g->own, k); /* no thread to be had: compress here */
			k->state = BLOCK_DONE;
		}
	}
	b->running = true;
	pthread_cond_broadcast(&g->work);
	pthread_mutex_unlock(&g->mu);
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
	/* The workers finish the blocks queued (their buffers are freed below), then stop. */
	pthread_mutex_lock(&g->mu);
	for (int b = 0; b < 2; b++)
		for (size_t i = 0; i < g->batch[b].used; i++)
			while (g->batch[b].running && g->batch[b].blocks[i].state != BLOCK_DONE &&
			       g->nthreads)
				pthread_cond_wait(&g->done, &g->mu);
	g->stop = true;
	pthread_cond_broadcast(&g->work);
	pthread_mutex_unlock(&g->mu);
	for (size_t i = 0; i < g->nthreads; i++)
		pthread_join(g->threads[i], NULL);
	streams_release(&g->own);
	pthread_cond_destroy(&g->work);
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->mu);
	for (int b = 0; b < 2; b++) {
		for (size_t i = 0; i < g->nblocks; i++) {
			free(g->batch[b].blocks[i].in);
			free(g->batch[b].blocks[i].out);
		}
	}
	free(g);
}
