/*
 * lb/_native/pump.c — the C half of lb._native (built by build.py with cffi in API mode).
 *
 * Two things live here because Python cannot do them cheaply or at all:
 *
 *   lb_splice_pump   moves bytes src socket -> pipe -> dst socket with splice(2) until something
 *                    would block, in ONE call per readiness event, so a 10 GbE stream costs a
 *                    handful of Python-level calls per megabyte instead of one per syscall.
 *   lb_atomic_*      64-bit atomics on a shared-memory region (memfd mmap) that every worker
 *                    maps, for daemon-wide maxconn/queue gauges.
 *
 * The pure-Python fallbacks in pump.py / counters.py mirror this file step by step; keep them
 * in sync (the tests run both against the same assertions).
 */
#ifndef _GNU_SOURCE /* Python.h, included first by cffi, usually defines it already */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* Why a pump call returned; must match lb._native._stop.Stop. */
#define LB_SRC_AGAIN 1
#define LB_DST_AGAIN 2
#define LB_EOF 3
#define LB_SRC_ERROR 4
#define LB_DST_ERROR 5
#define LB_BUDGET 6

/* Per-direction state kept between calls; one is allocated per pump when it is created,
 * so the hot path passes a pointer and allocates nothing. */
struct lb_pump_state {
    int64_t pending; /* bytes sitting in the pipe, not yet delivered to dst */
    int stop;        /* LB_* reason of the last return */
    int err;         /* errno for LB_SRC_ERROR / LB_DST_ERROR, else 0 */
};

/*
 * Pump src -> pipe -> dst until a side would block, EOF, an error, or `budget` bytes delivered.
 * Returns the number of bytes delivered to dst during this call.
 *
 * Invariant: we read from src only when the pipe is empty.  Hence EAGAIN on the read side can
 * only mean "the socket has nothing" (never "the pipe is full"), and EOF is reported only after
 * everything read before it was delivered.
 *
 * `chunk` bounds one read; the kernel further bounds it by the pipe's capacity.
 * SIGPIPE: a write to a closed peer may raise it; CPython ignores SIGPIPE, so we see EPIPE.
 */
static int64_t lb_splice_pump(int src, int pipe_r, int pipe_w, int dst, int64_t chunk,
                              int64_t budget, struct lb_pump_state *st)
{
    const unsigned int flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
    int64_t pending = st->pending;
    int64_t delivered = 0;
    ssize_t n;

    for (;;) {
        /* 1. drain the pipe into dst */
        while (pending > 0) {
            n = splice(pipe_r, NULL, dst, NULL, (size_t)pending, flags);
            if (n > 0) {
                pending -= n;
                delivered += n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            st->pending = pending;
            if (n < 0 && errno == EAGAIN) {
                st->stop = LB_DST_AGAIN;
                st->err = 0;
            } else {
                /* n == 0 with bytes in the pipe cannot happen for a socket; never spin on it */
                st->stop = LB_DST_ERROR;
                st->err = n < 0 ? errno : EIO;
            }
            return delivered;
        }
        /* 2. pipe empty: fairness check before reading more */
        if (delivered >= budget) {
            st->pending = 0;
            st->stop = LB_BUDGET;
            st->err = 0;
            return delivered;
        }
        /* 3. refill the (empty) pipe from src */
        n = splice(src, NULL, pipe_w, NULL, (size_t)chunk, flags);
        if (n > 0) {
            pending = n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        st->pending = 0;
        if (n == 0) {
            st->stop = LB_EOF;
            st->err = 0;
        } else if (errno == EAGAIN) {
            st->stop = LB_SRC_AGAIN;
            st->err = 0;
        } else {
            st->stop = LB_SRC_ERROR;
            st->err = errno;
        }
        return delivered;
    }
}

/*
 * Atomics on 8-byte slots of a shared mapping.  `base` is the start of the mapping (cached by
 * the Python side from ffi.from_buffer), `index` a slot number; bounds are checked in Python.
 * Read-modify-writes are sequentially consistent: they are rare (per connection, not per byte)
 * and on x86 a locked instruction is a full barrier anyway.
 */
static int64_t lb_atomic_add(int64_t *base, int64_t index, int64_t delta)
{
    return __atomic_add_fetch(base + index, delta, __ATOMIC_SEQ_CST);
}

static int64_t lb_atomic_load(int64_t *base, int64_t index)
{
    return __atomic_load_n(base + index, __ATOMIC_ACQUIRE);
}

static void lb_atomic_store(int64_t *base, int64_t index, int64_t value)
{
    __atomic_store_n(base + index, value, __ATOMIC_RELEASE);
}

/* Compare-and-swap: if the slot holds `expected`, store `desired`.  Returns the value the slot
 * held before (== expected on success), so the caller retries from what it now sees.  The
 * stick tables build their lock-free updates (claim a slot, roll a rate period) on it. */
static int64_t lb_atomic_cas(int64_t *base, int64_t index, int64_t expected, int64_t desired)
{
    __atomic_compare_exchange_n(base + index, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return expected; /* on failure the builtin wrote the current value here */
}

/* if value < limit: value += 1, return 1; else return 0.  limit <= 0 means "no limit". */
static int lb_atomic_try_acquire(int64_t *base, int64_t index, int64_t limit)
{
    int64_t *p = base + index;
    int64_t cur;

    if (limit <= 0) {
        __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    do {
        if (cur >= limit)
            return 0;
        /* on failure `cur` is reloaded with the current value and we re-check the limit */
    } while (!__atomic_compare_exchange_n(p, &cur, cur + 1, 1, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    return 1;
}
