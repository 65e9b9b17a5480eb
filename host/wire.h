/*
 * The worker protocol: how the host and a bot's worker process talk over
 * their socket pair.
 *
 * Every message is a 12-byte header followed by `length` bytes of body:
 *
 *   u32 magic   HYDRA_WIRE_MAGIC ("HYDW")
 *   u16 version HYDRA_WIRE_VERSION; a peer refuses any other
 *   u16 type    enum hydra_wire_type
 *   u32 length  body bytes, at most HYDRA_WIRE_MAX_BODY
 *
 * Integers and doubles travel in the host's byte order (both ends run on
 * the same machine, from the same build). Strings are a u32 length that
 * counts a terminating NUL, then the bytes including that NUL, so a decoded
 * string can point straight into the message. Fixed-size char arrays of the
 * ABI (an intent's symbol and reason) travel as their raw bytes, so a bot
 * that forgets the terminator is caught by the host's own checks exactly as
 * in-process.
 *
 * One exchange per call: the host sends LOAD, CALL or FILL; while handling it
 * the worker may send LOG (no answer), KV_GET and KV_SET (answered inline by
 * KV_REPLY) and CHAIN_GET (answered by CHAIN_REPLY); it ends the exchange
 * with LOADED or RESULT. Anything else is a protocol violation and the host
 * kills the worker.
 *
 * Decoders never trust a length: every read is bounds-checked and a short,
 * long or malformed body is an error naming what was wrong.
 */
#ifndef HYDRA_WIRE_H
#define HYDRA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/plugin.h>

#include "config.h"

#define HYDRA_WIRE_MAGIC 0x57445948u /* "HYDW" in memory on little-endian machines */
/* 3: ABI 1.1, the snapshot's working orders and the intent's client_order_id */
#define HYDRA_WIRE_VERSION 3u
#define HYDRA_WIRE_HEADER_SIZE 12u
#define HYDRA_WIRE_MAX_BODY (16u << 20)

/* Limits a decoded snapshot holds; the host never builds a larger one. */
#define HYDRA_WIRE_MAX_SYMBOLS HYDRA_MAX_BOT_SYMBOLS
#define HYDRA_WIRE_MAX_BARS 1024u
#define HYDRA_WIRE_MAX_POSITIONS 64u
#define HYDRA_WIRE_MAX_OPTIONS 4096u
#define HYDRA_WIRE_MAX_INTENTS 32u
#define HYDRA_WIRE_MAX_ORDERS 512u

enum hydra_wire_type {
    HYDRA_WIRE_LOAD = 1,     /* host: plugins dir, bot configuration */
    HYDRA_WIRE_LOADED = 2,   /* worker: status, plugin name, version, ABI, seccomp, asks for its chain; or the error */
    HYDRA_WIRE_CALL = 3,     /* host: call kind, snapshot */
    HYDRA_WIRE_FILL = 4,     /* host: one fill for on_fill */
    HYDRA_WIRE_RESULT = 5,   /* worker: status, buffer state, intents */
    HYDRA_WIRE_LOG = 6,      /* worker: level, event, message */
    HYDRA_WIRE_KV_GET = 7,   /* worker: key, buffer size */
    HYDRA_WIRE_KV_SET = 8,   /* worker: key, value */
    HYDRA_WIRE_KV_REPLY = 9, /* host: status, value */
    HYDRA_WIRE_CHAIN_GET = 10,  /* worker: underlying, rights, cap (hydra.options-chain/1) */
    HYDRA_WIRE_CHAIN_REPLY = 11 /* host: admitted count or negative status, the views */
};

/* Which plugin callback a CALL runs. */
enum hydra_wire_call {
    HYDRA_WIRE_CALL_MANAGE = 1,
    HYDRA_WIRE_CALL_ON_TICK = 2
};

/* What the worker found in the intent buffer after a call. */
enum hydra_wire_buffer_state {
    HYDRA_WIRE_BUFFER_OK = 0,
    HYDRA_WIRE_BUFFER_CORRUPTED = 1 /* the bot overwrote the buffer's own fields */
};

typedef struct hydra_wire_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t length;
} hydra_wire_header;

/* A growable output buffer. A failed allocation sets `failed`; later puts are ignored. */
typedef struct hydra_wire_out {
    unsigned char *p;
    size_t len, cap;
    int failed;
} hydra_wire_out;

/* A bounds-checked reader over one message body. The first overrun sets `bad`. */
typedef struct hydra_wire_in {
    const unsigned char *p;
    size_t len, off;
    int bad;
} hydra_wire_in;

/* Starts a message of `type` (writes a header whose length hydra_wire_finish fills in). */
void hydra_wire_begin(hydra_wire_out *o, uint16_t type);
/* Fills in the length; returns 0, or HYDRA_ENOMEM / HYDRA_EINVAL when the message is unusable. */
int hydra_wire_finish(hydra_wire_out *o);
void hydra_wire_out_free(hydra_wire_out *o);

void hydra_wire_put_u32(hydra_wire_out *o, uint32_t v);
void hydra_wire_put_i32(hydra_wire_out *o, int32_t v);
void hydra_wire_put_u64(hydra_wire_out *o, uint64_t v);
void hydra_wire_put_i64(hydra_wire_out *o, int64_t v);
void hydra_wire_put_f64(hydra_wire_out *o, double v);
void hydra_wire_put_bytes(hydra_wire_out *o, const void *p, size_t n);
/* A NULL string travels as an empty one. */
void hydra_wire_put_str(hydra_wire_out *o, const char *s);

void hydra_wire_in_init(hydra_wire_in *in, const void *body, size_t len);
uint32_t hydra_wire_get_u32(hydra_wire_in *in);
int32_t hydra_wire_get_i32(hydra_wire_in *in);
uint64_t hydra_wire_get_u64(hydra_wire_in *in);
int64_t hydra_wire_get_i64(hydra_wire_in *in);
double hydra_wire_get_f64(hydra_wire_in *in);
void hydra_wire_get_bytes(hydra_wire_in *in, void *out, size_t n);
/* A NUL-terminated string inside the body (valid while the body is), or "" after an error. */
const char *hydra_wire_get_str(hydra_wire_in *in);
/* Copies a string into out; sets `bad` when it does not fit. */
void hydra_wire_get_str_into(hydra_wire_in *in, char *out, size_t outsz);

/*
 * Checks a received header. Returns 0, or HYDRA_EPROTO with the reason in
 * why (bad magic, another version, a body over the limit).
 */
int hydra_wire_check_header(const hydra_wire_header *h, char *why, size_t whysz);

/* ---- messages ------------------------------------------------------------ */

/* LOAD: the configuration fields the loader and the host API read. */
void hydra_wire_put_load(hydra_wire_out *o, const char *plugins_dir, const hydra_bot_cfg *cfg);
/* Decodes LOAD into a zeroed cfg and plugins_dir. Returns 0 or HYDRA_EPROTO with why. */
int hydra_wire_get_load(hydra_wire_in *in, char *plugins_dir, size_t dirsz, hydra_bot_cfg *cfg,
                        char *why, size_t whysz);

void hydra_wire_put_snapshot(hydra_wire_out *o, const hydra_snapshot *s);

/*
 * A decoded snapshot: the views a plugin reads, backed by storage this
 * struct owns (strings point into the message body, which must outlive the
 * call). Large; allocate it once with hydra_wire_snapshot_new.
 */
typedef struct hydra_wire_snapshot {
    hydra_snapshot snap;
    hydra_budget_view budget;
    hydra_symbol_view sym[HYDRA_WIRE_MAX_SYMBOLS];
    const hydra_symbol_view *sym_p[HYDRA_WIRE_MAX_SYMBOLS];
    hydra_bar bars[HYDRA_WIRE_MAX_SYMBOLS][HYDRA_WIRE_MAX_BARS];
    hydra_position_view pos[HYDRA_WIRE_MAX_POSITIONS];
    const hydra_position_view *pos_p[HYDRA_WIRE_MAX_POSITIONS];
    hydra_option_view opt[HYDRA_WIRE_MAX_OPTIONS];
    const hydra_option_view *opt_p[HYDRA_WIRE_MAX_OPTIONS];
    hydra_order_view ord[HYDRA_WIRE_MAX_ORDERS];
    const hydra_order_view *ord_p[HYDRA_WIRE_MAX_ORDERS];
} hydra_wire_snapshot;

hydra_wire_snapshot *hydra_wire_snapshot_new(void);
/* Returns 0 or HYDRA_EPROTO with why (a count over its limit, a short body). */
int hydra_wire_get_snapshot(hydra_wire_in *in, hydra_wire_snapshot *out, char *why, size_t whysz);

/*
 * RESULT: the callback's status, the buffer state and every intent slot the
 * bot filled, as raw ABI fields (struct_size as the bot wrote it).
 */
void hydra_wire_put_result(hydra_wire_out *o, int32_t status, uint32_t buffer_state,
                           const hydra_intent *items, uint32_t count);
/*
 * Decodes RESULT into items (capacity `cap`). Returns 0 or HYDRA_EPROTO with
 * why (more intents than the buffer holds, a short body, an unknown state).
 */
int hydra_wire_get_result(hydra_wire_in *in, int32_t *status, uint32_t *buffer_state,
                          hydra_intent *items, uint32_t cap, uint32_t *count, char *why,
                          size_t whysz);

/*
 * CHAIN_REPLY: how many contracts the bot's rules admit (or a negative
 * status) and the first n of them. The decoder's strings point into the
 * body; it refuses more views than `cap` (what the worker asked for) or
 * than the admitted count.
 */
void hydra_wire_put_chain_reply(hydra_wire_out *o, int32_t total, const hydra_option_view *views,
                                uint32_t n);
int hydra_wire_get_chain_reply(hydra_wire_in *in, int32_t *total, hydra_option_view *out,
                               uint32_t cap, uint32_t *n, char *why, size_t whysz);

/*
 * LOADED: the worker's answer to LOAD. A refusal carries only status and
 * error; a loaded bot carries everything else. The decoder copies the
 * fixed-size fields (a longer string is malformed, never cut) and points
 * `error` into the body.
 */
typedef struct hydra_wire_loaded {
    int32_t status;          /* 0: the bot is loaded and created; else why it is not */
    const char *error;       /* the loader's message when status != 0, else "" */
    char name[64];           /* the plugin's name and version */
    char version[32];
    hydra_abi_version abi;
    uint32_t seccomp;        /* 1: the worker runs under its seccomp filter */
    char seccomp_note[160];  /* why not, when it does not */
    uint32_t asks_chain;     /* 1: the bot took hydra.options-chain/1 */
} hydra_wire_loaded;

void hydra_wire_put_loaded(hydra_wire_out *o, const char *name, const char *version,
                           hydra_abi_version abi, uint32_t seccomp, const char *seccomp_note,
                           uint32_t asks_chain);
/* LOADED for a bot the worker could not load: a non-zero status and the loader's message. */
void hydra_wire_put_load_refused(hydra_wire_out *o, int32_t status, const char *error);
/* Returns 0 or HYDRA_EPROTO with why (a short or long body, a string too long for its field). */
int hydra_wire_get_loaded(hydra_wire_in *in, hydra_wire_loaded *out, char *why, size_t whysz);

/*
 * The requests a worker makes while it handles a call. The decoders point
 * the strings into the body and return 0 or HYDRA_EPROTO with why; the host
 * acts on a request only after it decoded completely.
 */
/* LOG: a log line of the bot (level as the bot gave it; the host clamps it). */
void hydra_wire_put_log(hydra_wire_out *o, int32_t level, const char *event, const char *message);
int hydra_wire_get_log(hydra_wire_in *in, int32_t *level, const char **event,
                       const char **message, char *why, size_t whysz);
/* KV_GET: a state read into the bot's buffer of bufsz bytes. */
void hydra_wire_put_kv_get(hydra_wire_out *o, const char *key, uint64_t bufsz);
int hydra_wire_get_kv_get(hydra_wire_in *in, const char **key, uint64_t *bufsz, char *why,
                          size_t whysz);
/* KV_SET: a state write. */
void hydra_wire_put_kv_set(hydra_wire_out *o, const char *key, const char *value);
int hydra_wire_get_kv_set(hydra_wire_in *in, const char **key, const char **value, char *why,
                          size_t whysz);
/* CHAIN_GET: the bot's chain for an underlying, at most cap contracts. */
void hydra_wire_put_chain_get(hydra_wire_out *o, const char *underlying, uint32_t rights,
                              uint32_t cap);
int hydra_wire_get_chain_get(hydra_wire_in *in, const char **underlying, uint32_t *rights,
                             uint32_t *cap, char *why, size_t whysz);

void hydra_wire_put_fill(hydra_wire_out *o, const hydra_fill *f);
/* Decodes FILL; the strings point into the body. Returns 0 or HYDRA_EPROTO. */
int hydra_wire_get_fill(hydra_wire_in *in, hydra_fill *f);

const char *hydra_wire_type_name(uint32_t type);

/* ---- moving messages ------------------------------------------------------ */

/* CLOCK_MONOTONIC in microseconds: the time base of every deadline below. */
int64_t hydra_wire_now_us(void);

/*
 * Sends a finished message on a socket, waiting for buffer space until
 * deadline_us (-1: no deadline). Returns 0, HYDRA_ETIMEDOUT, or
 * HYDRA_EWORKER when the peer has gone.
 */
int hydra_wire_send(int fd, const hydra_wire_out *o, int64_t deadline_us);

/*
 * Receives one message: the header into *h, the body into buf->p[0..len).
 * Returns 0; HYDRA_EEOF when the peer closed between messages; HYDRA_EWORKER
 * when it closed inside one; HYDRA_ETIMEDOUT; HYDRA_EPROTO with why for a
 * bad header.
 */
int hydra_wire_recv(int fd, hydra_wire_out *buf, hydra_wire_header *h, int64_t deadline_us,
                    char *why, size_t whysz);

/*
 * A jailed worker runs under a small init (PID 1 of its namespace) that
 * exits with this plus N when the worker proper was killed by signal N.
 */
#define HYDRA_WIRE_EXIT_SIGNALED 128

/*
 * A worker's exit codes when the host, not the bot, breaks the exchange.
 * Fixed across protocol versions, so a host can tell what a worker of
 * another version meant: a worker that cannot read the host's first
 * message (another protocol version refuses it) exits with
 * HYDRA_WIRE_EXIT_PROTOCOL, as every worker since version 1 has.
 */
#define HYDRA_WIRE_EXIT_HOST_GONE 2
#define HYDRA_WIRE_EXIT_PROTOCOL 3

#endif
