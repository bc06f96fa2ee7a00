/*
 * A minimal io_uring (Linux 5.6) for batches of file system calls: the
 * caller queues operations, then submits them all and waits for them all
 * in one io_uring_enter. Packing a tree of small files costs a system call
 * per open, read and close otherwise, and on a virtual machine a system
 * call's entry and exit cost a microsecond or more, as much as the work of
 * a small file. With URING_ASYNC every operation goes to the kernel's
 * io-wq workers, which run on every CPU while the caller does other work
 * or waits: opens and reads of a batch run in parallel, and reads of
 * uncached files are in flight together where read(2) waits for each in
 * turn.
 *
 * The rings are mapped as io_uring_setup(2) describes; no liburing. A
 * kernel without io_uring, or one where it is disabled (the
 * kernel.io_uring_disabled sysctl, a seccomp filter: ENOSYS, EPERM), gives
 * NULL from uring_new and the caller does without.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

struct uring {
	int fd;
	unsigned entries;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_ring, *cq_ring;
	size_t sq_ring_size, cq_ring_size, sqes_size;
	unsigned queued;    /* queued since the last uring_run */
	unsigned sqe_flags; /* IOSQE_ASYNC with URING_ASYNC */
};

static int uring_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_enter(int fd, unsigned submit, unsigned wait)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait, IORING_ENTER_GETEVENTS, NULL, 0);
}

static int map_rings(struct uring *u, const struct io_uring_params *p)
{
	u->sq_ring_size = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	u->cq_ring_size = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_ring_size > u->sq_ring_size)
			u->sq_ring_size = u->cq_ring_size;
		u->cq_ring_size = u->sq_ring_size;
	}
	u->sq_ring = mmap(NULL, u->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  u->fd, IORING_OFF_SQ_RING);
	if (u->sq_ring == MAP_FAILED)
		return -1;
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		u->cq_ring = u->sq_ring;
	} else {
		u->cq_ring = mmap(NULL, u->cq_ring_size, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
		if (u->cq_ring == MAP_FAILED)
			return -1;
	}
	u->sqes_size = p->sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		       IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return -1;
	u->sq_head = (unsigned *)((char *)u->sq_ring + p->sq_off.head);
	u->sq_tail = (unsigned *)((char *)u->sq_ring + p->sq_off.tail);
	u->sq_mask = (unsigned *)((char *)u->sq_ring + p->sq_off.ring_mask);
	u->sq_array = (unsigned *)((char *)u->sq_ring + p->sq_off.array);
	u->cq_head = (unsigned *)((char *)u->cq_ring + p->cq_off.head);
	u->cq_tail = (unsigned *)((char *)u->cq_ring + p->cq_off.tail);
	u->cq_mask = (unsigned *)((char *)u->cq_ring + p->cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_ring + p->cq_off.cqes);
	return 0;
}

struct uring *uring_new(unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	struct uring *u;
	int saved;

	if (getenv("STRATA_NO_IO_URING"))
		return errno = ENOSYS, NULL;
	u = xcalloc(1, sizeof(*u));
	u->sq_ring = u->cq_ring = MAP_FAILED;
	u->sqes = MAP_FAILED;
	memset(&p, 0, sizeof(p));
	/* Linux 5.19: no interrupt of the task for completions it waits for anyway */
	p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
	u->fd = uring_setup(entries, &p);
	if (u->fd < 0 && errno == EINVAL) {
		memset(&p, 0, sizeof(p));
		u->fd = uring_setup(entries, &p);
	}
	if (u->fd < 0 || map_rings(u, &p) < 0) {
		saved = errno;
		uring_free(u);
		errno = saved;
		return NULL;
	}
	u->entries = p.sq_entries;
	u->sqe_flags = flags & URING_ASYNC ? IOSQE_ASYNC : 0;
	return u;
}

void uring_free(struct uring *u)
{
	if (!u)
		return;
	if (u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_size);
	if (u->cq_ring != MAP_FAILED && u->cq_ring != u->sq_ring)
		munmap(u->cq_ring, u->cq_ring_size);
	if (u->sq_ring != MAP_FAILED)
		munmap(u->sq_ring, u->sq_ring_size);
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

unsigned uring_room(const struct uring *u)
{
	return u->entries - u->queued;
}

/* The next free submission entry, cleared, its result to go to @slot. */
static struct io_uring_sqe *next_sqe(struct uring *u, uint64_t slot, unsigned flags)
{
	unsigned tail = *u->sq_tail + u->queued;
	unsigned idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->user_data = slot;
	sqe->flags = (uint8_t)(flags | u->sqe_flags);
	u->sq_array[idx] = idx;
	u->queued++;
	return sqe;
}

void uring_openat(struct uring *u, int dirfd, const char *name, int flags, uint64_t slot)
{
	struct io_uring_sqe *sqe = next_sqe(u, slot, 0);

	sqe->opcode = IORING_OP_OPENAT;
	sqe->fd = dirfd;
	sqe->addr = (uint64_t)(uintptr_t)name;
	sqe->open_flags = (uint32_t)flags;
}

static void queue_read(struct uring *u, int fd, void *buf, unsigned len, uint64_t off,
		       unsigned sqe_flags, uint64_t slot)
{
	struct io_uring_sqe *sqe = next_sqe(u, slot, sqe_flags);

	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = len;
	sqe->off = off;
}

void uring_read(struct uring *u, int fd, void *buf, unsigned len, uint64_t off, uint64_t slot)
{
	queue_read(u, fd, buf, len, off, 0, slot);
}

void uring_read_close(struct uring *u, int fd, void *buf, unsigned len, uint64_t read_slot,
		      uint64_t close_slot)
{
	struct io_uring_sqe *sqe;

	/* a hard link: the close runs even when the read fails or is short */
	queue_read(u, fd, buf, len, 0, IOSQE_IO_HARDLINK, read_slot);
	sqe = next_sqe(u, close_slot, 0);
	sqe->opcode = IORING_OP_CLOSE;
	sqe->fd = fd;
}

int uring_run(struct uring *u, int32_t *res, size_t nres)
{
	unsigned n = u->queued, done = 0;

	if (n == 0)
		return 0;
	/* the entries' contents before the tail that publishes them */
	__atomic_store_n(u->sq_tail, *u->sq_tail + n, __ATOMIC_RELEASE);
	u->queued = 0;
	while (done < n) {
		unsigned head = *u->cq_head;
		unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);

		if (head == tail) {
			/* submits what the kernel has not taken yet, and waits for the rest */
			unsigned left = n - done;
			unsigned unsubmitted =
				*u->sq_tail - __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);

			if (uring_enter(u->fd, unsubmitted, left) < 0 && errno != EINTR &&
			    errno != EAGAIN && errno != EBUSY)
				return -1;
			continue;
		}
		for (; head != tail; head++, done++) {
			const struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];

			if (cqe->user_data < nres)
				res[cqe->user_data] = cqe->res;
		}
		__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
	}
	return 0;
}
