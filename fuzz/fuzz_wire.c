/*
 * Fuzz target: the host's side of the worker protocol (host/wire.c).
 *
 * An input is what a worker writes to its socket: any number of messages,
 * each a 12-byte header and a body. It is written into one end of a fresh
 * socket pair, that end is shut, and the host's own reader
 * (hydra_wire_recv, with the header checks and the hostile-length handling)
 * takes messages off the other end until the stream ends or is refused.
 * Each message is decoded as the host decodes a worker's: LOADED, RESULT
 * (into the host's intent buffer, and into none as after on_fill), LOG,
 * KV_GET, KV_SET and CHAIN_GET. The messages only the host sends (LOAD,
 * CALL, FILL, KV_REPLY, CHAIN_REPLY) go through the worker's decoders, so
 * a snapshot is decoded too. A decoder must accept a body or refuse it
 * with a reason, never read outside it; an accepted body must have been
 * read to its last byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal names what was wrong; an acceptance read the whole body. */
static void check(int rc, const hydra_wire_in *in, const char *why)
{
    if (rc == 0) {
        if (in->bad || in->off != in->len)
            abort();
        return;
    }
    if (rc != HYDRA_EPROTO || why[0] == '\0')
        abort();
}

static void decode(const hydra_wire_header *h, const hydra_wire_out *body)
{
    static hydra_wire_snapshot *snap;
    static hydra_intent items[HYDRA_WIRE_MAX_INTENTS];
    static hydra_option_view views[64];
    static hydra_bot_cfg cfg;
    char why[256] = "", dir[HYDRA_PATH_LEN];
    hydra_wire_in in;
    int rc;

    hydra_wire_in_init(&in, body->p, body->len);
    switch (h->type) {
    case HYDRA_WIRE_LOADED: {
        hydra_wire_loaded l;
        rc = hydra_wire_get_loaded(&in, &l, why, sizeof why);
        check(rc, &in, why);
        if (rc == 0 && (strlen(l.name) >= sizeof l.name || strlen(l.version) >= sizeof l.version ||
                        strlen(l.seccomp_note) >= sizeof l.seccomp_note || l.error == NULL))
            abort();
        break;
    }
    case HYDRA_WIRE_RESULT: {
        int32_t status;
        uint32_t state, count;
        rc = hydra_wire_get_result(&in, &status, &state, items, HYDRA_WIRE_MAX_INTENTS, &count,
                                   why, sizeof why);
        check(rc, &in, why);
        if (rc == 0 && count > HYDRA_WIRE_MAX_INTENTS)
            abort();
        /* After on_fill the host offers no intent buffer at all. */
        hydra_wire_in_init(&in, body->p, body->len);
        why[0] = '\0';
        rc = hydra_wire_get_result(&in, &status, &state, items, 0, &count, why, sizeof why);
        check(rc, &in, why);
        if (rc == 0 && count != 0)
            abort();
        break;
    }
    case HYDRA_WIRE_LOG: {
        int32_t level;
        const char *event, *message;
        rc = hydra_wire_get_log(&in, &level, &event, &message, why, sizeof why);
        check(rc, &in, why);
        if (rc == 0 && (strlen(event) >= body->len || strlen(message) >= body->len))
            abort();
        break;
    }
    case HYDRA_WIRE_KV_GET: {
        const char *key;
        uint64_t bufsz;
        rc = hydra_wire_get_kv_get(&in, &key, &bufsz, why, sizeof why);
        check(rc, &in, why);
        break;
    }
    case HYDRA_WIRE_KV_SET: {
        const char *key, *value;
        rc = hydra_wire_get_kv_set(&in, &key, &value, why, sizeof why);
        check(rc, &in, why);
        break;
    }
    case HYDRA_WIRE_CHAIN_GET: {
        const char *underlying;
        uint32_t rights, cap;
        rc = hydra_wire_get_chain_get(&in, &underlying, &rights, &cap, why, sizeof why);
        check(rc, &in, why);
        break;
    }
    case HYDRA_WIRE_CALL: {
        if (snap == NULL && (snap = hydra_wire_snapshot_new()) == NULL)
            abort();
        (void)hydra_wire_get_u32(&in); /* the call kind, as the worker reads it */
        rc = hydra_wire_get_snapshot(&in, snap, why, sizeof why);
        check(rc, &in, why);
        break;
    }
    case HYDRA_WIRE_LOAD:
        rc = hydra_wire_get_load(&in, dir, sizeof dir, &cfg, why, sizeof why);
        check(rc, &in, why);
        break;
    case HYDRA_WIRE_FILL: {
        hydra_fill fill;
        rc = hydra_wire_get_fill(&in, &fill);
        if (rc == 0 && (in.bad || in.off != in.len))
            abort();
        break;
    }
    case HYDRA_WIRE_CHAIN_REPLY: {
        int32_t total;
        uint32_t n;
        rc = hydra_wire_get_chain_reply(&in, &total, views, 64, &n, why, sizeof why);
        check(rc, &in, why);
        if (rc == 0 && n > 64)
            abort();
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hydra_wire_out body; /* reused, as the host reuses a worker's buffer */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    /* What does not fit in the socket's buffer is not sent, as a worker would block there. */
    for (size_t off = 0; off < size;) {
        ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);

    for (;;) {
        hydra_wire_header h;
        char why[256] = "";
        /* The peer has shut its end, so a read never waits: the deadline is a safety net. */
        int rc = hydra_wire_recv(sv[0], &body, &h, hydra_wire_now_us() + 10 * 1000000, why,
                                 sizeof why);
        if (rc == HYDRA_EPROTO && why[0] == '\0')
            abort();
        if (rc != 0)
            break;
        if (body.len != h.length || h.length > HYDRA_WIRE_MAX_BODY)
            abort();
        decode(&h, &body);
    }
    close(sv[0]);
    close(sv[1]);
    return 0;
}
