/*
 * A file read while another thread writes it: a pull unpacks a layer blob
 * as it arrives, from the very staging file the download appends to, so the
 * download never waits for the unpack (as a pipe would make it) and no
 * more of the blob is held in memory than the reader's buffers.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "layers/layers-int.h"

struct layers_follow {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t size;
	bool ended, complete;
};

struct layers_follow *layers_follow_new(void)
{
	struct layers_follow *f = xcalloc(1, sizeof(*f));

	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	return f;
}

void layers_follow_grow(struct layers_follow *f, uint64_t size)
{
	pthread_mutex_lock(&f->mu);
	if (size > f->size) {
		f->size = size;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
}

void layers_follow_end(struct layers_follow *f, bool complete)
{
	pthread_mutex_lock(&f->mu);
	f->ended = true;
	f->complete = complete;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

ssize_t layers_follow_pread(struct layers_follow *f, int fd, void *buf, size_t n, uint64_t off)
{
	uint64_t avail;
	ssize_t r;

	pthread_mutex_lock(&f->mu);
	while (f->size <= off && !f->ended)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->ended && !f->complete) {
		pthread_mutex_unlock(&f->mu);
		errno = ECANCELED;
		return -1;
	}
	avail = f->size > off ? f->size - off : 0;
	pthread_mutex_unlock(&f->mu);
	if (avail == 0)
		return 0;
	if (n > avail)
		n = (size_t)avail;
	do {
		r = pread(fd, buf, n, (off_t)off);
	} while (r < 0 && errno == EINTR);
	return r;
}

void layers_follow_free(struct layers_follow *f)
{
	if (!f)
		return;
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
