/*
 * A ring of buffers that one thread empties in order: the caller copies
 * bytes in, and each full buffer is handed, with the offset of its first
 * byte in the stream, to a function that runs on the ring's own thread
 * while the caller goes on. So work that must see a stream in order
 * (hashing it, writing it with O_DIRECT) overlaps the work that makes it,
 * on another CPU, for the price of one copy.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct bufring {
	bufring_fn fn;
	void *arg;
	unsigned nbuf;
	size_t size, stride; /* bytes a buffer takes in, and apart (size + the padding room) */
	unsigned char *mem;
	size_t *len;
	uint64_t *off;
	unsigned head, count; /* the buffers queued for the thread, oldest first */
	unsigned fill;	      /* the buffer being filled: the caller's own */
	size_t fill_len;
	uint64_t total;
	int error; /* the first errno fn returned */
	bool stop;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *ring_main(void *arg)
{
	struct bufring *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		unsigned i;
		bool skip;
		int e = 0;

		while (!r->count && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->count)
			break;
		i = r->head;
		skip = r->error != 0;
		pthread_mutex_unlock(&r->mu);
		if (!skip)
			e = r->fn(r->arg, r->mem + (size_t)i * r->stride, r->len[i], r->off[i]);
		pthread_mutex_lock(&r->mu);
		if (e && !r->error)
			r->error = e;
		r->head = (r->head + 1) % r->nbuf;
		r->count--;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct bufring *bufring_new(unsigned nbuf, size_t size, size_t align, bufring_fn fn, void *arg)
{
	struct bufring *r = xcalloc(1, sizeof(*r));
	void *mem;

	r->fn = fn;
	r->arg = arg;
	r->nbuf = nbuf < 2 ? 2 : nbuf;
	r->size = size;
	align = align ? align : sizeof(void *);
	r->stride = (size + align + align - 1) / align * align;
	if (posix_memalign(&mem, align, r->stride * r->nbuf) != 0)
		abort(); /* out of memory, as xmalloc */
	r->mem = mem;
	r->len = xcalloc(r->nbuf, sizeof(*r->len));
	r->off = xcalloc(r->nbuf, sizeof(*r->off));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->thread, NULL, ring_main, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r->len);
		free(r->off);
		free(r->mem);
		free(r);
		return NULL;
	}
	return r;
}

/* Queues the buffer being filled and waits until the next one is free (r->mu not held). */
static int queue_fill(struct bufring *r)
{
	int e;

	pthread_mutex_lock(&r->mu);
	r->len[r->fill] = r->fill_len;
	r->off[r->fill] = r->total - r->fill_len;
	r->count++;
	r->fill = (r->fill + 1) % r->nbuf;
	r->fill_len = 0;
	pthread_cond_broadcast(&r->cv);
	while (r->count == r->nbuf)
		pthread_cond_wait(&r->cv, &r->mu);
	e = r->error;
	pthread_mutex_unlock(&r->mu);
	return e;
}

int bufring_write(struct bufring *r, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n) {
		size_t take = r->size - r->fill_len < n ? r->size - r->fill_len : n;
		int e;

		memcpy(r->mem + (size_t)r->fill * r->stride + r->fill_len, p, take);
		r->fill_len += take;
		r->total += take;
		p += take;
		n -= take;
		if (r->fill_len == r->size && (e = queue_fill(r)))
			return e;
	}
	return 0;
}

/* Stops the thread once the queue is empty, and frees @r: the first errno. */
static int ring_stop(struct bufring *r)
{
	int e;

	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	e = r->error;
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->len);
	free(r->off);
	free(r->mem);
	free(r);
	return e;
}

int bufring_finish(struct bufring *r)
{
	int e = r->fill_len ? queue_fill(r) : 0;
	int e2 = ring_stop(r);

	return e ? e : e2;
}

void bufring_free(struct bufring *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->error = r->error ? r->error : ECANCELED; /* what is queued is not handed on */
	pthread_mutex_unlock(&r->mu);
	ring_stop(r);
}
