/*
 * tun.c: the only C in tuntcp. It owns a Linux TUN file descriptor and moves
 * raw IPv4 and IPv6 packets between it and JavaScript. Everything else (parsing, TCP,
 * counters) is TypeScript.
 *
 * Exports (see src/link/native.ts for the typed view):
 *   open(name, exclusive, offload, multiQueue) -> { handle, name }
 *   start(handle, pool, meta, onBatch)   begin watching the fd with uv_poll
 *   writev(handle, a[, b[, c]])       -> bytes written or -errno (one packet)
 *   txStart(handle, state, keep)         start the writer thread (tx-thread.c)
 *   txPush(handle, a, b, c)              -> 1 queued, 2 queued + kick, 0 ring full, -errno
 *   txKick(handle)                       wake the writer thread if it sleeps
 *   close(handle)                        idempotent
 *   setRef(handle, bool)                 whether the fd keeps Node alive
 *   READ_MAX, BATCH_MAX                  sizes the JS side must respect
 *
 * Receive path, per poll wakeup: read() every queued packet into one pool
 * buffer that JavaScript owns (each packet at an 8-byte aligned offset), write
 * (offset, length) pairs into a Uint32Array, then call JavaScript once with
 * the count. No allocation happens here per packet or per batch; JS makes the
 * Buffer views. The pool is reused on the next wakeup, which the Link contract
 * allows ("copy what you keep").
 *
 * Lifetime: the tun_t lives until BOTH the uv poll handle is closed (uv_close
 * callback ran) AND the JS external that points at it was garbage collected.
 * Whichever happens last frees it, so neither libuv nor JS can see freed memory.
 */
#include <node_api.h>
#include <uv.h>

#include "tx-thread.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#else
#define IFNAMSIZ 16
#endif

/* Largest IPv4 packet is 65535 bytes, largest IPv6 one (no jumbograms) 40 +
 * 65535, plus 10 bytes of virtio header with offload; a read needs at least
 * that much room or the kernel silently truncates the packet (IFF_NO_PI has no
 * flag for it). */
#define READ_MAX (65536 + 64)
/* Hard upper bound on packets per wakeup; JS picks its own cap <= this via
 * the size of the meta array. A cap keeps one busy device from starving the
 * rest of the event loop: epoll is level-triggered, so leftovers wake us again. */
#define BATCH_MAX 4096

typedef struct tun_s {
  uv_poll_t poll;
  napi_env env;
  int fd;            /* -1 once closed */
  int started;       /* uv_poll_start was called */
  int closing;       /* close requested: no more JS calls from now on */
  int handle_closed; /* uv_close callback ran */
  int finalized;     /* the JS external was collected */
  napi_ref cb_ref, pool_ref, meta_ref;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  uint8_t *pool;
  size_t pool_len;
  uint32_t *meta;
  uint32_t batch_max;
  tx_t *tx;                    /* the writer thread, once txStart ran */
  napi_ref tx_state_ref, tx_keep_ref; /* held until the thread is joined */
} tun_t;

/* Marks externals made by this addon, so a stray external from elsewhere is a
 * TypeError instead of a wild pointer. */
static const napi_type_tag TUN_TAG = {0x74756e7463700001ULL, 0x9d2c5680a1b34e11ULL};

/* ---- errors ------------------------------------------------------------ */

static void throw_coded(napi_env env, const char *code, int errnum, const char *syscall,
                        const char *fmt, ...) {
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_value c, m, err, v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  if (errnum != 0) {
    napi_create_int32(env, -errnum, &v); /* negative, like Node's own errors */
    napi_set_named_property(env, err, "errno", v);
  }
  if (syscall != NULL) {
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, err, "syscall", v);
  }
  napi_throw(env, err);
}

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: case EACCES: return "EPERM";
    case EBUSY: case EEXIST: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOENT: case ENODEV: case ENXIO: return "ENOTUN";
    default: return "ETUN";
  }
}

/* ---- argument helpers ---------------------------------------------------- */

#define GET_ARGS(n)                                                          \
  size_t argc = (n);                                                         \
  napi_value argv[(n) > 0 ? (n) : 1];                                        \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)       \
    return NULL;

static tun_t *get_tun(napi_env env, napi_value v) {
  napi_valuetype t;
  bool ok = false;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, v, &TUN_TAG, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, &p) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a tun handle from open()");
    return NULL;
  }
  return (tun_t *)p;
}

/* A Uint8Array (Buffer is one) as pointer + length. */
static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *p;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "EINVAL", "expected a Buffer or Uint8Array");
    return -1;
  }
  *data = (uint8_t *)p; /* already adjusted by byteOffset */
  return 0;
}

/* A packet's pieces argv[1..3] (a, b, c); an absent or undefined one is NULL, 0. */
static int get_pieces(napi_env env, size_t argc, napi_value *argv, uint8_t *d[3], size_t l[3]) {
  for (size_t i = 0; i < 3; i++) {
    d[i] = NULL;
    l[i] = 0;
    napi_valuetype vt;
    if (i + 1 >= argc || (napi_typeof(env, argv[i + 1], &vt) == napi_ok && vt == napi_undefined)) continue;
    if (get_bytes(env, argv[i + 1], &d[i], &l[i]) != 0) return -1;
  }
  return 0;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

/* ---- teardown ------------------------------------------------------------ */

static void on_closed(uv_handle_t *h) {
  tun_t *t = (tun_t *)h->data;
  t->handle_closed = 1;
  if (t->actx != NULL) {
    napi_async_destroy(t->env, t->actx);
    t->actx = NULL;
  }
  if (t->cleanup != NULL) {
    /* Also tells Node, during environment teardown, that we are done. */
    napi_remove_async_cleanup_hook(t->cleanup);
    t->cleanup = NULL;
  }
  if (t->finalized) free(t);
}

/* Stop, close the fd, drop JS references, then uv_close. Idempotent. Safe from
 * inside the receive callback: the JS function is still on the stack, and the
 * async context is destroyed later, in on_closed. */
static void tun_shutdown(tun_t *t) {
  if (t->closing) return;
  t->closing = 1;
  uv_poll_stop(&t->poll); /* the fd must not be closed while it is polled */
  /* Nor while the writer may write to it: it writes what is queued, then exits. */
  if (t->tx != NULL) tx_stop(t->tx);
  t->tx = NULL;
  if (t->tx_state_ref != NULL) napi_delete_reference(t->env, t->tx_state_ref);
  if (t->tx_keep_ref != NULL) napi_delete_reference(t->env, t->tx_keep_ref);
  t->tx_state_ref = t->tx_keep_ref = NULL;
#ifdef __linux__
  if (t->fd >= 0) close(t->fd);
#endif
  t->fd = -1;
  if (t->cb_ref != NULL) napi_delete_reference(t->env, t->cb_ref);
  if (t->pool_ref != NULL) napi_delete_reference(t->env, t->pool_ref);
  if (t->meta_ref != NULL) napi_delete_reference(t->env, t->meta_ref);
  t->cb_ref = t->pool_ref = t->meta_ref = NULL;
  t->pool = NULL;
  t->meta = NULL;
  uv_close((uv_handle_t *)&t->poll, on_closed);
}

/* The JS handle was collected. If nobody called close(), close now. */
static void tun_finalize(napi_env env, void *data, void *hint) {
  tun_t *t = (tun_t *)data;
  t->finalized = 1;
  if (!t->closing) tun_shutdown(t);
  if (t->handle_closed) free(t);
}

/* Node is tearing down this environment (worker exit): release the device and
 * let Node wait for uv_close (on_closed removes the hook). */
static void env_cleanup(napi_async_cleanup_hook_handle handle, void *data) {
  tun_shutdown((tun_t *)data);
}

/* ---- receive path -------------------------------------------------------- */

/* Call onBatch(count, errno) once, as a proper async callback: make_callback
 * runs process.nextTick and microtasks queued by the stack afterwards. */
static void deliver(tun_t *t, uint32_t count, int err) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (t->cb_ref == NULL) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (napi_get_reference_value(env, t->cb_ref, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_uint32(env, count, &argv[0]);
    napi_create_int32(env, -err, &argv[1]);
    if (napi_make_callback(env, t->actx, recv, cb, 2, argv, &result) == napi_pending_exception) {
      /* Nobody up the C stack can catch it: report it like an event listener
       * that threw (process 'uncaughtException'). */
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

#ifdef __linux__
static void on_readable(uv_poll_t *h, int status, int events) {
  tun_t *t = (tun_t *)h->data;
  if (t->closing) return;
  if (status < 0) {
    /* POLLERR: e.g. the interface was deleted under us. Stop, or libuv would
     * wake us forever; tell JS once. */
    uv_poll_stop(&t->poll);
    deliver(t, 0, -status);
    return;
  }
  uint32_t n = 0;
  size_t off = 0;
  int err = 0;
  /* Drain the queue: each read() returns exactly one packet. Stop at the
   * batch cap or when the pool can no longer fit a maximum-size packet. */
  while (n < t->batch_max && t->pool_len - off >= READ_MAX) {
    ssize_t r = read(t->fd, t->pool + off, READ_MAX);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (r == 0) break;
    t->meta[2 * n] = (uint32_t)off;
    t->meta[2 * n + 1] = (uint32_t)r;
    n++;
    off += ((size_t)r + 7) & ~(size_t)7; /* aligned views allow Uint32Array reads */
  }
  if (err != 0) uv_poll_stop(&t->poll); /* EBADFD, EIO: the device is gone */
  if (n > 0 || err != 0) deliver(t, n, err);
}
#endif

/* ---- exported functions -------------------------------------------------- */

static napi_value js_open(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char name[IFNAMSIZ];
  size_t len = 0;
  napi_valuetype vt;
  if (argc < 1 || napi_typeof(env, argv[0], &vt) != napi_ok || vt != napi_string) {
    napi_throw_type_error(env, "EINVAL", "open(name): name must be a string");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
  if (len > IFNAMSIZ - 1) {
    throw_coded(env, "EINVAL", 0, NULL, "tun device name is longer than %d bytes", IFNAMSIZ - 1);
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  bool exclusive = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &exclusive); /* non-bool: false */
  bool offload = false;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &offload);
  bool multi_queue = false;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &multi_queue);

#ifndef __linux__
  throw_coded(env, "ENOTUN", 0, NULL, "TUN devices are only supported on Linux");
  return NULL;
#else
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES)
      throw_coded(env, "EPERM", e, "open",
                  "cannot open /dev/net/tun: needs root or CAP_NET_ADMIN (%s)", strerror(e));
    else if (e == ENOENT || e == ENODEV || e == ENXIO)
      throw_coded(env, "ENOTUN", e, "open",
                  "/dev/net/tun is missing (%s): load the module with `modprobe tun`", strerror(e));
    else
      throw_coded(env, errno_code(e), e, "open", "cannot open /dev/net/tun: %s", strerror(e));
    return NULL;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: plain IP packets, no 4-byte protocol header in front.
   * IFF_TUN_EXCL: fail with EBUSY if the name exists, instead of attaching.
   * IFF_MULTI_QUEUE: this fd is one queue of the device; opening the name
   * again (not exclusive) attaches one more queue (up to MAX_TAP_QUEUES, 256),
   * and the kernel spreads its packets over the queues by flow. Every queue
   * must ask for the same flags, or the kernel says EINVAL. */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (exclusive ? IFF_TUN_EXCL : 0) | (offload ? IFF_VNET_HDR : 0) |
                  (multi_queue ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, len); /* len < IFNAMSIZ, rest is zero */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    if (e == EPERM || e == EACCES)
      throw_coded(env, "EPERM", e, "ioctl",
                  "cannot create tun device %s: needs root or CAP_NET_ADMIN", name);
    else if (e == EBUSY || e == EEXIST)
      throw_coded(env, "EBUSY", e, "ioctl", "tun device %s is already in use", name);
    else if (e == EINVAL)
      throw_coded(env, "EINVAL", e, "ioctl",
                  "cannot create tun device %s: invalid name, or a non-tun device has it", name);
    else
      throw_coded(env, errno_code(e), e, "ioctl", "cannot create tun device %s: %s", name,
                  strerror(e));
    return NULL;
  }
  if (offload) {
    /* Every packet, both ways, now starts with a 10-byte struct virtio_net_hdr
     * (checksum and segmentation metadata). TUN_F_CSUM: the kernel may hand us
     * TCP with only the pseudo-header summed, and takes ours that way.
     * TUN_F_TSO4, TUN_F_TSO6: IPv4 and IPv6 TCP up to 64 KiB per packet both
     * ways, cut to MSS-sized segments by the kernel (GSO) only where a real
     * MTU requires it. */
    int hdrsz = 10;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0) {
      int e = errno;
      close(fd);
      throw_coded(env, errno_code(e), e, "ioctl", "tun device %s: kernel offloads unavailable: %s", name,
                  strerror(e));
      return NULL;
    }
  }

  tun_t *t = (tun_t *)calloc(1, sizeof *t);
  uv_loop_t *loop = NULL;
  if (t == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, &t->poll, fd) != 0) {
    free(t);
    close(fd);
    throw_coded(env, "ENOMEM", 0, NULL, "cannot set up polling for tun device %s", name);
    return NULL;
  }
  t->poll.data = t;
  t->env = env;
  t->fd = fd;
  napi_add_async_cleanup_hook(env, env_cleanup, t, &t->cleanup);

  napi_value ext, res, v;
  if (napi_create_external(env, t, tun_finalize, NULL, &ext) != napi_ok) {
    tun_shutdown(t);
    t->finalized = 1; /* no external will ever finalize: on_closed frees */
    return NULL;
  }
  napi_type_tag_object(env, ext, &TUN_TAG);
  napi_create_object(env, &res);
  napi_set_named_property(env, res, "handle", ext);
  napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &v);
  napi_set_named_property(env, res, "name", v);
  return res;
#endif
}

/* start(handle, pool: Uint8Array, meta: Uint32Array, onBatch(count, errno)) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  if (argc < 4) {
    napi_throw_type_error(env, "EINVAL", "start(handle, pool, meta, onBatch)");
    return NULL;
  }
  tun_t *t = get_tun(env, argv[0]);
  if (t == NULL) return NULL;
  if (t->closing) {
    throw_coded(env, "EBADF", 0, NULL, "tun device is closed");
    return NULL;
  }
  if (t->started) {
    throw_coded(env, "EINVAL", 0, NULL, "tun device is already started");
    return NULL;
  }
  uint8_t *pool;
  size_t pool_len;
  if (get_bytes(env, argv[1], &pool, &pool_len) != 0) return NULL;
  if (pool_len < READ_MAX) {
    throw_coded(env, "EINVAL", 0, NULL, "pool must hold at least READ_MAX (%d) bytes", READ_MAX);
    return NULL;
  }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t meta_len = 0;
  void *meta = NULL;
  if (napi_is_typedarray(env, argv[2], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[2], &type, &meta_len, &meta, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || meta_len < 2) {
    napi_throw_type_error(env, "EINVAL", "meta must be a Uint32Array of at least 2 elements");
    return NULL;
  }
  napi_valuetype vt;
  napi_typeof(env, argv[3], &vt);
  if (vt != napi_function) {
    napi_throw_type_error(env, "EINVAL", "onBatch must be a function");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "tuntcp:TunLink", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, NULL, name, &t->actx) != napi_ok) return NULL;
  /* Strong references: the pool and meta memory must outlive every read. */
  napi_create_reference(env, argv[1], 1, &t->pool_ref);
  napi_create_reference(env, argv[2], 1, &t->meta_ref);
  napi_create_reference(env, argv[3], 1, &t->cb_ref);
  t->pool = pool;
  t->pool_len = pool_len;
  t->meta = (uint32_t *)meta;
  t->batch_max = (uint32_t)(meta_len / 2 < BATCH_MAX ? meta_len / 2 : BATCH_MAX);
  t->started = 1;
#ifdef __linux__
  int r = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  if (r != 0) {
    throw_coded(env, "ETUN", -r, "uv_poll_start", "cannot poll tun device: %s", uv_strerror(r));
    return NULL;
  }
#endif
  return undefined(env);
}

/* One packet from up to three pieces (virtio header, IP+TCP header, payload),
 * never joined in memory. Never throws for I/O: a full queue (EAGAIN) or any
 * other error comes back as -errno so the packet path can count a drop and
 * move on. */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "writev(handle, a[, b[, c]])");
    return NULL;
  }
  tun_t *t = get_tun(env, argv[0]);
  if (t == NULL) return NULL;
#ifdef __linux__
  uint8_t *d[3];
  size_t l[3];
  if (get_pieces(env, argc, argv, d, l) != 0) return NULL;
  struct iovec iov[3];
  int n_iov = 0;
  for (int i = 0; i < 3; i++) {
    if (d[i] == NULL) continue;
    iov[n_iov].iov_base = d[i];
    iov[n_iov].iov_len = l[i];
    n_iov++;
  }
  if (t->fd < 0) return num(env, -EBADF);
  ssize_t n;
  do n = writev(t->fd, iov, n_iov); while (n < 0 && errno == EINTR);
  return num(env, n < 0 ? -errno : (double)n);
#else
  return num(env, -EBADF);
#endif
}

/* txStart(handle, state: Uint32Array(TX_STATE_WORDS), keep: object): from now
 * on txPush queues packets for a writer thread. `keep` is the JS array that
 * holds each queued payload: referenced from here too, so the payloads outlive
 * the thread even if the TunLink is collected without close(). */
static napi_value js_tx_start(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  if (argc < 3) {
    napi_throw_type_error(env, "EINVAL", "txStart(handle, state, keep)");
    return NULL;
  }
  tun_t *t = get_tun(env, argv[0]);
  if (t == NULL) return NULL;
  if (t->closing || t->fd < 0) {
    throw_coded(env, "EBADF", 0, NULL, "tun device is closed");
    return NULL;
  }
  if (t->tx != NULL) {
    throw_coded(env, "EINVAL", 0, NULL, "the writer thread is already started");
    return NULL;
  }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *state = NULL;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &state, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || len < TX_STATE_WORDS) {
    napi_throw_type_error(env, "EINVAL", "state must be a Uint32Array of TX_STATE_WORDS elements");
    return NULL;
  }
  napi_valuetype vt;
  napi_typeof(env, argv[2], &vt);
  if (vt != napi_object) {
    napi_throw_type_error(env, "EINVAL", "keep must be an array");
    return NULL;
  }
  t->tx = tx_start(t->fd, (uint32_t *)state);
  if (t->tx == NULL) {
    int e = errno;
    throw_coded(env, errno_code(e), e, "pthread_create", "cannot start the writer thread: %s", strerror(e));
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &t->tx_state_ref);
  napi_create_reference(env, argv[2], 1, &t->tx_keep_ref);
  return undefined(env);
}

/* Queue one packet for the writer: a and b (optional, <= TX_HDR_MAX bytes
 * together) are copied; c, the payload, is not (JS keeps it in `keep`). */
static napi_value js_tx_push(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "txPush(handle, a[, b[, c]])");
    return NULL;
  }
  tun_t *t = get_tun(env, argv[0]);
  if (t == NULL) return NULL;
  uint8_t *d[3];
  size_t l[3];
  if (get_pieces(env, argc, argv, d, l) != 0) return NULL;
  if (t->tx == NULL || t->closing) return num(env, -EBADF);
  if (l[0] + l[1] > TX_HDR_MAX) return num(env, -EMSGSIZE);
  return num(env, tx_push(t->tx, d[0], l[0], d[1], l[1], d[2], l[2]));
}

static napi_value js_tx_kick(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  tun_t *t = argc >= 1 ? get_tun(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  if (t->tx != NULL && !t->closing) tx_kick(t->tx);
  return undefined(env);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  tun_t *t = argc >= 1 ? get_tun(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  tun_shutdown(t);
  return undefined(env);
}

/* Like socket.unref(): an unref'd device does not keep the process alive. */
static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  tun_t *t = argc >= 1 ? get_tun(env, argv[0]) : NULL;
  if (t == NULL) return NULL;
  bool ref = true;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &ref);
  if (!t->closing) {
    if (ref) uv_ref((uv_handle_t *)&t->poll);
    else uv_unref((uv_handle_t *)&t->poll);
  }
  return undefined(env);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writev", NULL, js_writev, NULL, NULL, NULL, napi_enumerable, NULL},
      {"txStart", NULL, js_tx_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"txPush", NULL, js_tx_push, NULL, NULL, NULL, napi_enumerable, NULL},
      {"txKick", NULL, js_tx_kick, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"READ_MAX", NULL, NULL, NULL, NULL, num(env, READ_MAX), napi_enumerable, NULL},
      {"BATCH_MAX", NULL, NULL, NULL, NULL, num(env, BATCH_MAX), napi_enumerable, NULL},
      {"TX_SLOTS", NULL, NULL, NULL, NULL, num(env, TX_SLOTS), napi_enumerable, NULL},
      {"TX_HDR_MAX", NULL, NULL, NULL, NULL, num(env, TX_HDR_MAX), napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
