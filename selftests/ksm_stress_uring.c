// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress_uring.c - a long-term pin on advised memory for the stress:
 * an io_uring with one registered (fixed) buffer, and IORING_OP_WRITE_FIXED
 * from it.  Registering pins the pages with FOLL_LONGTERM; the write then
 * reads the pinned pages themselves, not what the page tables map.  If the
 * engine merged a pinned page, a later write by the process lands in a COW
 * copy and the I/O shows the old bytes.
 *
 * Raw system calls, so the tests need no liburing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "ksm_stress.h"

struct stress_uring {
	int fd;
	void *sq_ring, *cq_ring;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static void *ring_map(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

void stress_uring_close(struct stress_uring *u)
{
	if (!u)
		return;
	if (u->sqes)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_ring && u->cq_ring != u->sq_ring)
		munmap(u->cq_ring, u->cq_len);
	if (u->sq_ring)
		munmap(u->sq_ring, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

struct stress_uring *stress_uring_open(void)
{
	struct io_uring_params p = { 0 };
	struct stress_uring *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	u->fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (u->fd < 0)
		goto fail;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_len > u->sq_len)
			u->sq_len = u->cq_len;
		u->cq_len = u->sq_len;
	}
	u->sq_ring = ring_map(u->fd, u->sq_len, IORING_OFF_SQ_RING);
	if (!u->sq_ring)
		goto fail;
	u->cq_ring = (p.features & IORING_FEAT_SINGLE_MMAP) ? u->sq_ring :
		     ring_map(u->fd, u->cq_len, IORING_OFF_CQ_RING);
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = ring_map(u->fd, u->sqes_len, IORING_OFF_SQES);
	if (!u->cq_ring || !u->sqes)
		goto fail;
	u->sq_tail = (unsigned int *)((char *)u->sq_ring + p.sq_off.tail);
	u->sq_mask = (unsigned int *)((char *)u->sq_ring + p.sq_off.ring_mask);
	u->sq_array = (unsigned int *)((char *)u->sq_ring + p.sq_off.array);
	u->cq_head = (unsigned int *)((char *)u->cq_ring + p.cq_off.head);
	u->cq_tail = (unsigned int *)((char *)u->cq_ring + p.cq_off.tail);
	u->cq_mask = (unsigned int *)((char *)u->cq_ring + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_ring + p.cq_off.cqes);
	return u;
fail:
	err = errno;
	stress_uring_close(u);
	errno = err;
	return NULL;
}

/* Register [@buf, @buf + @len) as fixed buffer 0: pins it.  0 or -errno. */
int stress_uring_pin(struct stress_uring *u, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (syscall(SYS_io_uring_register, u->fd, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	return 0;
}

int stress_uring_unpin(struct stress_uring *u)
{
	if (syscall(SYS_io_uring_register, u->fd, IORING_UNREGISTER_BUFFERS,
		    NULL, 0))
		return -errno;
	return 0;
}

/*
 * Write @len bytes of the pinned buffer at @buf to @fd at offset 0, and
 * wait for it: bytes written or -errno.
 */
long stress_uring_write_fixed(struct stress_uring *u, int fd, void *buf,
			      size_t len)
{
	unsigned int tail = __atomic_load_n(u->sq_tail, __ATOMIC_ACQUIRE);
	unsigned int idx = tail & *u->sq_mask, head;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	long res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_WRITE_FIXED;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = (unsigned int)len;
	sqe->buf_index = 0;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, u->fd, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(u->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
		return -EIO;
	res = u->cqes[head & *u->cq_mask].res;
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}
