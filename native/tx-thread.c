/*
 * tx-thread.c: one writer thread per TUN fd, so the kernel's receive path,
 * which a TUN write runs in the writer's context (about 4 µs per 1500-byte
 * packet), runs beside the JavaScript thread instead of on it.
 *
 * Ring: a bounded single-producer (the JS thread, tx_push) single-consumer
 * (the writer) ring of descriptors. Each slot holds a copy of the packet's
 * headers (the stack reuses its header buffer at once) and a pointer to the
 * payload, which is not copied: the Link contract says a payload is never
 * changed after send, and JavaScript keeps the Buffer referenced until the
 * consumer's index has passed the slot (src/link/tx-ring.ts). One thread per fd
 * writes in ring order, so packets reach the kernel in the order sent.
 *
 * Sleep and wake: when the ring is empty the writer sleeps on a futex. The
 * producer learns from tx_push that it sleeps (an eventcount, seq_cst on both
 * sides so that either the producer sees `waiting` or the writer sees the new
 * tail) and wakes it with tx_kick, once per burst: JavaScript kicks at the end
 * of its current task (a doorbell, like a NIC's xmit_more), because a wake-up
 * costs the JS thread up to ~9 µs in a VM (measured: one per packet made a
 * send as dear as the writev it replaced). The writer does
 * not spin before it sleeps: measured (scripts/bench/txthread.ts), a 5 or
 * 20 µs spin saved the JS thread nothing visible and cost the writer up to
 * 0.15 CPU s/GB at MTU 65520, and on one core a spin only keeps JS off it.
 *
 * Stop: tx_stop sets `stop`; the writer writes every descriptor queued before
 * it (so a RST or FIN sent just before close still goes out, as a synchronous
 * write would), then exits, and tx_stop joins it. Nothing is written after.
 */
#define _GNU_SOURCE
#include "tx-thread.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct {
  uint32_t hdr_len;
  uint32_t body_len;
  const uint8_t *body;
  uint8_t hdr[TX_HDR_MAX];
} tx_slot_t;

struct tx_s {
  /* Producer side (JS thread). */
  _Alignas(64) _Atomic uint32_t tail;
  uint32_t head_cache; /* the last head the producer saw */
  /* Shared flags. */
  _Alignas(64) _Atomic uint32_t waiting; /* the writer is (about to go) asleep */
  _Atomic uint32_t wake_seq;             /* futex word: bumped to wake it */
  _Atomic uint32_t stop;
  /* Consumer side (writer thread). */
  _Alignas(64) _Atomic uint32_t head;
  int fd;
  uint32_t *state;
  pthread_t thread;
  tx_slot_t slots[TX_SLOTS];
};

static void futex_wait(_Atomic uint32_t *word, uint32_t expected) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* JS reads these words without atomics; each store is one aligned 32-bit word. */
static void state_add(uint32_t *state, int i, uint32_t n) {
  __atomic_store_n(&state[i], state[i] + n, __ATOMIC_RELAXED);
}

static void write_slot(tx_t *tx, const tx_slot_t *s) {
  struct iovec iov[2] = {{(void *)s->hdr, s->hdr_len}, {(void *)s->body, s->body_len}};
  int n_iov = s->body_len > 0 ? 2 : 1;
  ssize_t r;
  do r = writev(tx->fd, iov, n_iov); while (r < 0 && errno == EINTR);
  if (r >= 0) state_add(tx->state, TX_STATE_PACKETS, 1);
  else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) state_add(tx->state, TX_STATE_AGAIN, 1);
  else state_add(tx->state, TX_STATE_ERRORS, 1);
}

static void *writer(void *arg) {
  tx_t *tx = (tx_t *)arg;
  uint32_t h = atomic_load_explicit(&tx->head, memory_order_relaxed);
  for (;;) {
    uint32_t t = atomic_load_explicit(&tx->tail, memory_order_acquire);
    if (t == h) {
      if (atomic_load(&tx->stop)) {
        if (atomic_load(&tx->tail) == h) break; /* drained */
        continue;
      }
      atomic_store(&tx->waiting, 1);
      uint32_t seq = atomic_load(&tx->wake_seq);
      if (atomic_load(&tx->tail) == h && !atomic_load(&tx->stop)) futex_wait(&tx->wake_seq, seq);
      atomic_store(&tx->waiting, 0);
      continue;
    }
    while (h != t) {
      write_slot(tx, &tx->slots[h & (TX_SLOTS - 1)]);
      h++;
      /* Release: JS may drop the body's reference once it sees this. */
      atomic_store_explicit(&tx->head, h, memory_order_release);
      __atomic_store_n(&tx->state[TX_STATE_HEAD], h, __ATOMIC_RELEASE);
    }
  }
  return NULL;
}

static void wake(tx_t *tx) {
  atomic_fetch_add(&tx->wake_seq, 1);
  futex_wake(&tx->wake_seq);
}

tx_t *tx_start(int fd, uint32_t *state) {
  tx_t *tx = (tx_t *)aligned_alloc(64, (sizeof(tx_t) + 63) & ~(size_t)63);
  if (tx == NULL) return NULL;
  memset(tx, 0, sizeof *tx);
  tx->fd = fd;
  tx->state = state;
  memset(state, 0, TX_STATE_WORDS * sizeof *state);
  /* The writer takes no signals: they stay with Node's threads (Ctrl-C). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&tx->thread, NULL, writer, tx);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    free(tx);
    errno = e;
    return NULL;
  }
  pthread_setname_np(tx->thread, "tuntcp-tx");
  return tx;
}

int tx_push(tx_t *tx, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *body,
            size_t body_len) {
  uint32_t t = atomic_load_explicit(&tx->tail, memory_order_relaxed);
  if (t - tx->head_cache >= TX_SLOTS) {
    tx->head_cache = atomic_load_explicit(&tx->head, memory_order_acquire);
    if (t - tx->head_cache >= TX_SLOTS) return 0;
  }
  tx_slot_t *s = &tx->slots[t & (TX_SLOTS - 1)];
  if (a_len > 0) memcpy(s->hdr, a, a_len);
  if (b_len > 0) memcpy(s->hdr + a_len, b, b_len);
  s->hdr_len = (uint32_t)(a_len + b_len);
  s->body = body;
  s->body_len = (uint32_t)body_len;
  /* seq_cst store, then seq_cst load of `waiting`: pairs with the writer's
   * store of `waiting` and load of `tail` (one sees the other). */
  atomic_store(&tx->tail, t + 1);
  return atomic_load(&tx->waiting) ? 2 : 1;
}

void tx_kick(tx_t *tx) {
  /* The exchange: one wake per sleep. */
  if (atomic_exchange(&tx->waiting, 0)) {
    state_add(tx->state, TX_STATE_WAKEUPS, 1);
    wake(tx);
  }
}

void tx_stop(tx_t *tx) {
  atomic_store(&tx->stop, 1);
  wake(tx);
  pthread_join(tx->thread, NULL);
  free(tx);
}

#else /* not Linux: the addon has no TUN there; nothing starts a writer */

tx_t *tx_start(int fd, uint32_t *state) {
  errno = ENOSYS;
  return NULL;
}
int tx_push(tx_t *tx, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *body,
            size_t body_len) {
  return 0;
}
void tx_stop(tx_t *tx) {}
void tx_kick(tx_t *tx) {}

#endif
