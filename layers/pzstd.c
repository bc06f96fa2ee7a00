/*
 * Parallel zstd: the input is cut into chunks, each compressed into a zstd
 * frame of its own, and the frames are written in order, one after the
 * other: a valid zstd stream (RFC 8878: one or more frames), as zstd's own
 * pzstd writes it and zstd decoders read it (libzstd's streaming decoder,
 * Go's, which skopeo and containerd use). Chunk boundaries depend on the
 * input alone, never on the thread count, so the output is the same on
 * every machine. Each frame starts with no history: 6 MiB chunks cost
 * about 0.2% in size against libzstd's own workers (whose jobs see 256 KiB
 * of the previous one), depending on where the cuts fall.
 *
 * There are as many busy threads as CPUs (at most PZSTD_MAX_THREADS): the
 * caller's and CPUs - 1 workers. While the workers compress, the caller
 * fills the next chunks; when every slot is taken it compresses the oldest
 * queued chunk itself rather than wait. On two CPUs that makes two busy
 * threads, not three: with libzstd's own two workers beside the thread
 * that makes the tar, the scheduler often left one CPU idle for
 * milliseconds while the other two shared a CPU.
 *
 * The first chunks are small (1, 2, 4 MiB, then PZSTD_CHUNK), so that a
 * worker starts early; the last one is cut into PZSTD_PIECE frames, so
 * that the threads finish together.
 *
 * Buffers move between the slots and a pool: a chunk's input buffer goes
 * back to the pool once it is compressed, and its output takes one from
 * the pool until the sink has it. So (threads + 2) slots need at most
 * (2 * threads + 3) buffers of a chunk each, however long the input and
 * whether it compresses or not.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "layers/layers-int.h"

#define PZSTD_CHUNK	  (6u << 20)
#define PZSTD_PIECE	  (1u << 20)
#define PZSTD_MAX_THREADS 4

enum slot_state { SLOT_FREE, SLOT_FILL, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct pz_slot {
	unsigned char *buf;	 /* the input this slot owns, until it is compressed */
	const unsigned char *in; /* what to compress: buf, or a piece of the last chunk */
	size_t in_len;
	unsigned char *out; /* the output, once compressed, until the sink has it */
	size_t out_len;
	const char *error; /* what libzstd said went wrong, or NULL */
	enum slot_state state;
};

struct pzstd {
	int level;
	compressed_sink_fn sink;
	void *arg;
	size_t buf_cap;	      /* of every buffer: a chunk, or its compressed bound */
	unsigned char **pool; /* free buffers */
	size_t npool;
	unsigned char *last; /* the last chunk's buffer, which its pieces point into */
	size_t nslots;
	struct pz_slot *slots; /* chunk s is in slots[s % nslots] */
	uint64_t fill;	       /* the chunk being filled */
	uint64_t out;	       /* the next chunk to hand to the sink */
	ZSTD_CCtx *cctx;       /* the caller's thread's */
	pthread_mutex_t mu;
	pthread_cond_t work; /* a chunk was queued, or stop */
	pthread_cond_t done; /* a chunk was compressed */
	bool stop;
	size_t nthreads;
	pthread_t threads[PZSTD_MAX_THREADS];
};

/* How many bytes chunk @s holds. */
static size_t chunk_cap(uint64_t s)
{
	return s < 3 ? (size_t)PZSTD_PIECE << s : PZSTD_CHUNK;
}

static struct pz_slot *slot(struct pzstd *z, uint64_t s)
{
	return &z->slots[s % z->nslots];
}

static ZSTD_CCtx *new_cctx(int level)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (c && ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level))) {
		ZSTD_freeCCtx(c);
		return NULL;
	}
	return c;
}

/* A buffer from the pool, or a new one (z->mu held). */
static unsigned char *take_buf(struct pzstd *z)
{
	return z->npool ? z->pool[--z->npool] : xmalloc(z->buf_cap);
}

/* Gives @b back to the pool (z->mu held). */
static void put_buf(struct pzstd *z, unsigned char *b)
{
	if (b == z->last)
		return; /* the pieces of the last chunk are still read from it */
	z->pool[z->npool++] = b;
}

/*
 * Compresses the queued chunk @k with @c, on this thread (z->mu held; let
 * go of while compressing).
 */
static void compress_slot(struct pzstd *z, ZSTD_CCtx *c, struct pz_slot *k)
{
	k->state = SLOT_BUSY;
	k->out = take_buf(z);
	pthread_mutex_unlock(&z->mu);
	k->out_len = 0;
	k->error = NULL;
	if (!c) {
		k->error = "cannot initialise the compressor";
	} else {
		size_t r = ZSTD_compress2(c, k->out, z->buf_cap, k->in, k->in_len);

		if (ZSTD_isError(r))
			k->error = ZSTD_getErrorName(r);
		else
			k->out_len = r;
	}
	pthread_mutex_lock(&z->mu);
	if (k->buf)
		put_buf(z, k->buf);
	k->buf = NULL;
	k->in = NULL;
	k->state = SLOT_DONE;
}

/* The oldest queued chunk, or NULL (z->mu held). */
static struct pz_slot *oldest_queued(struct pzstd *z)
{
	for (uint64_t s = z->out; s < z->fill; s++)
		if (slot(z, s)->state == SLOT_QUEUED)
			return slot(z, s);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct pzstd *z = arg;
	ZSTD_CCtx *c = new_cctx(z->level);
	struct pz_slot *k = NULL;

	pthread_mutex_lock(&z->mu);
	for (;;) {
		while (!z->stop && !(k = oldest_queued(z)))
			pthread_cond_wait(&z->work, &z->mu);
		if (z->stop)
			break;
		compress_slot(z, c, k);
		pthread_cond_signal(&z->done);
	}
	pthread_mutex_unlock(&z->mu);
	ZSTD_freeCCtx(c);
	return NULL;
}

/* Makes the slot of chunk z->fill the one being filled, with a buffer (z->mu held). */
static void open_fill(struct pzstd *z)
{
	struct pz_slot *k = slot(z, z->fill);

	k->buf = take_buf(z);
	k->in = k->buf;
	k->in_len = 0;
	k->state = SLOT_FILL;
}

struct pzstd *layers_pzstd_new(int level, compressed_sink_fn sink, void *arg)
{
	struct pzstd *z = xcalloc(1, sizeof(*z));
	int n = sys_ncpus();

	z->level = level > 0 ? level : 3;
	z->sink = sink;
	z->arg = arg;
	z->buf_cap = ZSTD_compressBound(PZSTD_CHUNK);
	n = n < 1 ? 1 : n > PZSTD_MAX_THREADS ? PZSTD_MAX_THREADS : n;
	/* One per thread, and two for the caller to fill while they are busy. */
	z->nslots = (size_t)n + 2;
	z->slots = xcalloc(z->nslots, sizeof(*z->slots));
	z->pool = xcalloc(z->nslots + (size_t)n + 1, sizeof(*z->pool));
	z->cctx = new_cctx(z->level);
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->done, NULL);
	for (int i = 1; i < n; i++)
		if (pthread_create(&z->threads[z->nthreads], NULL, worker_main, z) == 0)
			z->nthreads++;
	pthread_mutex_lock(&z->mu);
	open_fill(z);
	pthread_mutex_unlock(&z->mu);
	return z;
}

/* Hands the compressed chunks that are next in order to the sink (z->mu held). */
static int emit_done(struct pzstd *z, struct strata_error **err)
{
	while (z->out < z->fill && slot(z, z->out)->state == SLOT_DONE) {
		struct pz_slot *k = slot(z, z->out);
		int r;

		if (k->error)
			return strata_fail_msg(err, EIO, "zstd: %s", k->error);
		pthread_mutex_unlock(&z->mu);
		r = z->sink(z->arg, k->out, k->out_len, err);
		pthread_mutex_lock(&z->mu);
		if (r < 0)
			return -1;
		put_buf(z, k->out);
		k->out = NULL;
		k->state = SLOT_FREE;
		z->out++;
	}
	return 0;
}

/*
 * Makes progress on the chunks not yet handed on (z->mu held): hands on
 * what is done, else compresses the oldest queued chunk on this thread,
 * else waits for a worker.
 */
static int progress(struct pzstd *z, struct strata_error **err)
{
	struct pz_slot *k;

	if (emit_done(z, err) < 0)
		return -1;
	if (z->out == z->fill)
		return 0;
	if ((k = oldest_queued(z)))
		compress_slot(z, z->cctx, k);
	else if (slot(z, z->out)->state != SLOT_DONE)
		pthread_cond_wait(&z->done, &z->mu);
	return emit_done(z, err);
}

/* Queues chunk z->fill and waits until the slot of the next one is free (z->mu held). */
static int queue_fill(struct pzstd *z, struct strata_error **err)
{
	slot(z, z->fill)->state = SLOT_QUEUED;
	z->fill++;
	if (z->nthreads)
		pthread_cond_signal(&z->work);
	if (emit_done(z, err) < 0)
		return -1;
	while (slot(z, z->fill)->state != SLOT_FREE)
		if (progress(z, err) < 0)
			return -1;
	return 0;
}

int layers_pzstd_write(struct pzstd *z, const void *buf, size_t n, struct strata_error **err)
{
	const unsigned char *p = buf;

	while (n) {
		struct pz_slot *k = slot(z, z->fill);
		size_t cap = chunk_cap(z->fill), take = cap - k->in_len < n ? cap - k->in_len : n;
		int r;

		memcpy(k->buf + k->in_len, p, take);
		k->in_len += take;
		p += take;
		n -= take;
		if (k->in_len < cap)
			continue;
		pthread_mutex_lock(&z->mu);
		r = queue_fill(z, err);
		if (r == 0)
			open_fill(z);
		pthread_mutex_unlock(&z->mu);
		if (r < 0)
			return -1;
	}
	return 0;
}

int layers_pzstd_finish(struct pzstd *z, struct strata_error **err)
{
	struct pz_slot *k = slot(z, z->fill);
	const unsigned char *in = k->buf;
	size_t left = k->in_len;
	int r = 0;

	pthread_mutex_lock(&z->mu);
	/*
	 * The last chunk in pieces, each a frame of its own (with no input
	 * at all, one empty frame). The pieces point into its buffer, which
	 * stays out of the pool.
	 */
	if (left || z->fill == 0) {
		z->last = k->buf;
		for (;;) {
			k->in = in;
			k->in_len = left < PZSTD_PIECE ? left : PZSTD_PIECE;
			in += k->in_len;
			left -= k->in_len;
			if (queue_fill(z, err) < 0) {
				r = -1;
				break;
			}
			if (!left)
				break;
			k = slot(z, z->fill);
			k->state = SLOT_FILL;
		}
	} else {
		/* The chunk opened last has nothing: its buffer goes back. */
		put_buf(z, k->buf);
		k->buf = NULL;
		k->state = SLOT_FREE;
	}
	while (r == 0 && z->out < z->fill)
		r = progress(z, err);
	pthread_mutex_unlock(&z->mu);
	return r;
}

void layers_pzstd_free(struct pzstd *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->work);
	pthread_mutex_unlock(&z->mu);
	for (size_t i = 0; i < z->nthreads; i++)
		pthread_join(z->threads[i], NULL);
	for (size_t i = 0; i < z->nslots; i++) {
		if (z->slots[i].buf != z->last)
			free(z->slots[i].buf);
		free(z->slots[i].out);
	}
	while (z->npool)
		free(z->pool[--z->npool]);
	free(z->last);
	free(z->pool);
	free(z->slots);
	ZSTD_freeCCtx(z->cctx);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work);
	pthread_cond_destroy(&z->done);
	free(z);
}
