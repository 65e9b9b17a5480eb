/*
 * hydra-worker: runs one bot in its own process for hydra-host.
 *
 * The host starts it inside its jail (host/jail.h: namespaces, a private
 * read-only root, an unprivileged identity, resource limits) with its
 * socket as fd 3 and an empty environment. The worker reads LOAD, then
 * confines itself further (worker/confine.h: Landlock, then a seccomp
 * allow-list on every thread) before it loads the plugin with the host's
 * own loader, so no plugin code ever runs outside every layer. Once the bot
 * is created a second filter forbids opening files and new executable
 * memory. A layer that cannot be set up is refused, never skipped, unless
 * the operator gave it up in settings.
 *
 * After LOADED it answers CALL and FILL one at a time until the host closes
 * the socket, then destroys the bot and exits 0. The bot's log lines, state
 * reads and writes and chain requests travel to the host inside the call
 * that made them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "error.h"
#include "loader.h"
#include "wire.h"

#define HOST_FD 3

/* Exit codes when the host, not the bot, breaks the exchange (wire.h). */
#define EXIT_HOST_GONE HYDRA_WIRE_EXIT_HOST_GONE
#define EXIT_PROTOCOL HYDRA_WIRE_EXIT_PROTOCOL

static hydra_wire_out g_out;
static hydra_wire_out g_in;

/*
 * The intent buffer sits directly before its own header, as it does in the
 * host's scratch, so a bot that writes past the last slot overwrites the
 * header and is caught the same way in both isolation modes.
 */
static struct {
    hydra_intent items[HYDRA_WIRE_MAX_INTENTS];
    hydra_intent_buf buf;
} g_intents;

static void send_or_die(void)
{
    if (hydra_wire_finish(&g_out) != 0 || hydra_wire_send(HOST_FD, &g_out, -1) != 0)
        _exit(EXIT_HOST_GONE);
}

/* Waits for the host's reply of type `want`; anything else means the two ends disagree. */
static void recv_reply(hydra_wire_in *in, uint16_t want)
{
    hydra_wire_header h;
    if (hydra_wire_recv(HOST_FD, &g_in, &h, -1, NULL, 0) != 0)
        _exit(EXIT_HOST_GONE);
    if (h.type != want)
        _exit(EXIT_PROTOCOL);
    hydra_wire_in_init(in, g_in.p, g_in.len);
}

static void svc_log(void *ctx, const char *bot_id, int level, const char *event,
                    const char *message)
{
    (void)ctx, (void)bot_id;
    hydra_wire_begin(&g_out, HYDRA_WIRE_LOG);
    hydra_wire_put_log(&g_out, level, event, message);
    send_or_die();
}

static int svc_kv_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    hydra_wire_in in;
    int32_t rc;
    const char *value;
    (void)ctx, (void)bot_id;
    hydra_wire_begin(&g_out, HYDRA_WIRE_KV_GET);
    hydra_wire_put_kv_get(&g_out, key, bufsz);
    send_or_die();
    recv_reply(&in, HYDRA_WIRE_KV_REPLY);
    rc = hydra_wire_get_i32(&in);
    value = hydra_wire_get_str(&in);
    if (in.bad)
        _exit(EXIT_PROTOCOL);
    if (rc != 0)
        return rc;
    if (strlen(value) >= bufsz)
        return HYDRA_PARAM_SPACE;
    memcpy(buf, value, strlen(value) + 1);
    return 0;
}

static int svc_kv_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    hydra_wire_in in;
    int32_t rc;
    (void)ctx, (void)bot_id;
    hydra_wire_begin(&g_out, HYDRA_WIRE_KV_SET);
    hydra_wire_put_kv_set(&g_out, key, value);
    send_or_die();
    recv_reply(&in, HYDRA_WIRE_KV_REPLY);
    rc = hydra_wire_get_i32(&in);
    if (in.bad)
        _exit(EXIT_PROTOCOL);
    return rc;
}

/* The views' strings point into g_in, which the loader copies before the next message. */
static int svc_option_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                            hydra_option_view *out, uint32_t cap)
{
    hydra_wire_in in;
    int32_t total;
    uint32_t n;
    (void)ctx, (void)bot_id;
    hydra_wire_begin(&g_out, HYDRA_WIRE_CHAIN_GET);
    hydra_wire_put_chain_get(&g_out, underlying, rights, cap);
    send_or_die();
    recv_reply(&in, HYDRA_WIRE_CHAIN_REPLY);
    if (hydra_wire_get_chain_reply(&in, &total, out, cap, &n, NULL, 0) != 0)
        _exit(EXIT_PROTOCOL);
    return total;
}

static const hydra_host_services g_svc = {
    .log = svc_log,
    .kv_get = svc_kv_get,
    .kv_set = svc_kv_set,
    .option_chain = svc_option_chain,
};

static void reset_buffer(void)
{
    memset(&g_intents.buf, 0, sizeof g_intents.buf);
    g_intents.buf.struct_size = sizeof g_intents.buf;
    g_intents.buf.item_size = sizeof(hydra_intent);
    g_intents.buf.capacity = HYDRA_WIRE_MAX_INTENTS;
    g_intents.buf.items = g_intents.items;
}

static int buffer_intact(void)
{
    const hydra_intent_buf *b = &g_intents.buf;
    return b->struct_size == sizeof *b && b->item_size == sizeof(hydra_intent) &&
           b->capacity == HYDRA_WIRE_MAX_INTENTS && b->items == (void *)g_intents.items &&
           b->count <= b->capacity;
}

static void handle_call(hydra_bot_instance *inst, hydra_wire_snapshot *snap)
{
    hydra_wire_in in;
    uint32_t call;
    int32_t status;
    char why[256];

    hydra_wire_in_init(&in, g_in.p, g_in.len);
    call = hydra_wire_get_u32(&in);
    if (in.bad || (call != HYDRA_WIRE_CALL_MANAGE && call != HYDRA_WIRE_CALL_ON_TICK) ||
        hydra_wire_get_snapshot(&in, snap, why, sizeof why) != 0)
        _exit(EXIT_PROTOCOL);
    reset_buffer();
    status = call == HYDRA_WIRE_CALL_ON_TICK
                 ? inst->plugin.entry->on_tick(inst->bot, &snap->snap, &g_intents.buf)
                 : inst->plugin.entry->manage(inst->bot, &snap->snap, &g_intents.buf);
    hydra_wire_begin(&g_out, HYDRA_WIRE_RESULT);
    if (buffer_intact())
        hydra_wire_put_result(&g_out, status, HYDRA_WIRE_BUFFER_OK, g_intents.items,
                              g_intents.buf.count);
    else
        hydra_wire_put_result(&g_out, status, HYDRA_WIRE_BUFFER_CORRUPTED, NULL, 0);
    send_or_die();
}

static void handle_fill(hydra_bot_instance *inst)
{
    hydra_wire_in in;
    hydra_fill fill;
    hydra_wire_in_init(&in, g_in.p, g_in.len);
    if (hydra_wire_get_fill(&in, &fill) != 0)
        _exit(EXIT_PROTOCOL);
    if (inst->plugin.entry->on_fill != NULL)
        inst->plugin.entry->on_fill(inst->bot, &fill);
    hydra_wire_begin(&g_out, HYDRA_WIRE_RESULT);
    hydra_wire_put_result(&g_out, 0, HYDRA_WIRE_BUFFER_OK, NULL, 0);
    send_or_die();
}

/*
 * In its jail the worker starts as PID 1 of its namespace, and the kernel
 * does not deliver to PID 1 a signal it sends itself without a handler
 * (abort() and raise() would not end it). So PID 1 stays a small init: it
 * forks the worker proper, holds nothing (no socket, no plugin), waits, and
 * exits with the worker's status, a death by signal N as exit status
 * HYDRA_WIRE_EXIT_SIGNALED + N, which the host reports as the signal. When
 * it dies, the kernel kills everything left in the namespace.
 */
static void run_as_init(void)
{
    int status = 0;
    pid_t child = fork();
    if (child < 0)
        _exit(EXIT_HOST_GONE);
    if (child == 0)
        return; /* the worker proper */
    close(HOST_FD);
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            _exit(EXIT_HOST_GONE);
    }
    if (WIFSIGNALED(status))
        _exit(HYDRA_WIRE_EXIT_SIGNALED + WTERMSIG(status));
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_HOST_GONE);
}

/* Tells the host the bot could not be loaded (or confined), and why. */
static int refuse(const char *why)
{
    hydra_wire_begin(&g_out, HYDRA_WIRE_LOADED);
    hydra_wire_put_load_refused(&g_out, HYDRA_EPLUGIN, why);
    send_or_die();
    return 1;
}

int main(int argc, char **argv)
{
    static hydra_bot_cfg cfg;
    static hydra_bot_instance inst;
    char dir[HYDRA_PATH_LEN], err[1024] = "", note[160] = "", why[128];
    hydra_wire_snapshot *snap = hydra_wire_snapshot_new();
    hydra_wire_header h;
    hydra_wire_in in;
    int landlock_required = 1, abi;

    /* The host says whether the operator gave Landlock up (workers.unsafe_allow_missing_landlock). */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--landlock=optional") == 0)
            landlock_required = 0;
    }
    if (getpid() == 1)
        run_as_init();
    if (snap == NULL)
        return EXIT_HOST_GONE;
    if (hydra_wire_recv(HOST_FD, &g_in, &h, -1, NULL, 0) != 0 || h.type != HYDRA_WIRE_LOAD)
        return EXIT_PROTOCOL;
    hydra_wire_in_init(&in, g_in.p, g_in.len);
    if (hydra_wire_get_load(&in, dir, sizeof dir, &cfg, err, sizeof err) != 0)
        return EXIT_PROTOCOL;

    /* Every layer is in place before the first byte of plugin code runs (its constructors). */
    abi = hydra_confine_landlock(dir, why, sizeof why);
    if (abi > 0) {
        snprintf(note, sizeof note, "landlock ABI %d", abi);
    } else if (landlock_required) {
        snprintf(err, sizeof err, "worker sandbox: %s", why);
        return refuse(err);
    } else {
        snprintf(note, sizeof note, "without landlock (%s)", why);
    }
    if (hydra_confine_seccomp_load(HOST_FD, why, sizeof why) != 0) {
        snprintf(err, sizeof err, "worker sandbox: %s", why);
        return refuse(err);
    }
    if (hydra_bot_load(&inst, dir, &cfg, &g_svc, err, sizeof err) != 0)
        return refuse(err);
    if (hydra_confine_seccomp_run(why, sizeof why) != 0) {
        snprintf(err, sizeof err, "worker sandbox: %s", why);
        return refuse(err);
    }

    hydra_wire_begin(&g_out, HYDRA_WIRE_LOADED);
    /* seccomp: always, or the worker refused above */
    hydra_wire_put_loaded(&g_out, inst.plugin.entry->name, inst.plugin.entry->version,
                          inst.plugin.entry->abi, 1, note, (uint32_t)inst.host.asks_chain);
    send_or_die();

    for (;;) {
        int rc = hydra_wire_recv(HOST_FD, &g_in, &h, -1, NULL, 0);
        if (rc == HYDRA_EEOF)
            break;
        if (rc != 0)
            _exit(EXIT_HOST_GONE);
        if (h.type == HYDRA_WIRE_CALL)
            handle_call(&inst, snap);
        else if (h.type == HYDRA_WIRE_FILL)
            handle_fill(&inst);
        else
            _exit(EXIT_PROTOCOL);
    }
    hydra_bot_unload(&inst);
    free(snap);
    hydra_wire_out_free(&g_out);
    hydra_wire_out_free(&g_in);
    return 0;
}
