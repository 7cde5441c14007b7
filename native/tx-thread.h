/*
 * tx-thread.h: the TUN writer thread (see tx-thread.c). tun.c owns one per
 * TUN fd when JavaScript asks for it (txStart) and stops it before the fd is
 * closed.
 */
#ifndef TUNTCP_TX_THREAD_H
#define TUNTCP_TX_THREAD_H

#include <stddef.h>
#include <stdint.h>

/* Descriptors in the ring (a power of two). Each packet in the ring is a
 * segment TCP has in flight, so the ring holds a window's worth of 1500-byte
 * packets (4096 x 1460 bytes = 6 MiB, Linux's tcp_rmem maximum) before it
 * drops. */
#define TX_SLOTS 4096
/* Bytes copied into a slot: virtio header (10) + IPv4 or IPv6 header with
 * options (<= 60) + TCP header with options (<= 60) fit with room to spare.
 * A longer first piece (a complete ICMP packet, say) is joined by JS and
 * passed as the body. */
#define TX_HDR_MAX 160

typedef struct tx_s tx_t;

/* What JavaScript reads through the state Uint32Array it handed to
 * tx_start: written by the thread only, read racily by JS (each word is
 * aligned and 32 bits wide, so never torn). */
enum {
  TX_STATE_HEAD = 0,    /* descriptors consumed (written or failed), mod 2^32 */
  TX_STATE_PACKETS = 1, /* packets written */
  TX_STATE_AGAIN = 2,   /* writev said EAGAIN/ENOBUFS: dropped */
  TX_STATE_ERRORS = 3,  /* writev failed otherwise: dropped */
  TX_STATE_WAKEUPS = 4, /* times JS had to wake the sleeping thread */
  TX_STATE_WORDS = 5
};

/* Start a writer thread on fd; `state` (TX_STATE_WORDS uint32) must stay
 * valid until tx_stop returns. Returns NULL and sets errno on failure. */
tx_t *tx_start(int fd, uint32_t *state);

/* Queue one packet: `a` then `b` (a_len + b_len <= TX_HDR_MAX, copied now),
 * then `body` (not copied: the caller keeps it unchanged and alive until the
 * state's head has passed this descriptor). Returns 1 when queued, 2 when
 * queued and the writer sleeps (call tx_kick, once, after the burst), 0 when
 * the ring is full. Only one thread (the JS thread) may call it. */
int tx_push(tx_t *tx, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *body,
            size_t body_len);

/* Wake the writer if it sleeps (from the thread that calls tx_push). */
void tx_kick(tx_t *tx);

/* Write what is queued, then stop and join the thread and free it. After it
 * returns the thread has no pointer into the fd, the state or any body. */
void tx_stop(tx_t *tx);

#endif
