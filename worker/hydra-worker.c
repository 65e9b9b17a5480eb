/*
 * hydra-worker: runs one bot in its own process for hydra-host.
 *
 * The host starts it with its socket as fd 3, an empty environment and
 * resource limits already set. The worker reads LOAD, loads the plugin with
 * the host's own loader (so every check of the in-process path applies),
 * creates the bot, then installs a seccomp filter: from then on opening a
 * socket, connecting, exec'ing or opening a file for writing kills the
 * process with SIGSYS, which the host reports as the cause. The filter comes
 * after loading because dlopen itself opens files.
 *
 * After LOADED it answers CALL and FILL one at a time until the host closes
 * the socket, then destroys the bot and exits 0. The bot's log lines, state
 * reads and writes and chain requests travel to the host inside the call
 * that made them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "loader.h"
#include "wire.h"

#define HOST_FD 3

/* Exit codes when the host, not the bot, breaks the exchange. */
#define EXIT_HOST_GONE 2
#define EXIT_PROTOCOL 3

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

/* Adds one rule; a rule the kernel or libseccomp does not know is skipped, the rest still apply. */
static int deny(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned n,
                const struct scmp_arg_cmp *args)
{
    if (syscall == __NR_SCMP_ERROR || syscall < 0)
        return 0;
    return seccomp_rule_add_array(ctx, action, syscall, n, args);
}

/*
 * No network, no exec, no writing files. Returns 0, or negative with the
 * reason in note (the worker then runs with its rlimits only).
 */
static int install_seccomp(char *note, size_t notesz)
{
    const uint32_t kill = SCMP_ACT_KILL_PROCESS;
    static const char *const plain[] = {"socket", "socketpair", "connect", "bind", "listen",
                                        "accept", "accept4", "execve", "execveat", "creat",
                                        "truncate", "rename", "renameat", "renameat2", "unlink",
                                        "unlinkat", "mkdir", "mkdirat", "link", "linkat",
                                        "symlink", "symlinkat", "ptrace"};
    /* Flag bits that make an open a write; one rule each, on the flags argument. */
    static const unsigned long write_masks[][2] = {
        {O_ACCMODE, O_WRONLY}, {O_ACCMODE, O_RDWR}, {O_CREAT, O_CREAT},
        {O_TRUNC, O_TRUNC},    {O_APPEND, O_APPEND},
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = 0;
    size_t i;

    if (ctx == NULL) {
        snprintf(note, notesz, "seccomp_init failed");
        return -1;
    }
    for (i = 0; rc == 0 && i < sizeof plain / sizeof plain[0]; i++)
        rc = deny(ctx, kill, seccomp_syscall_resolve_name(plain[i]), 0, NULL);
    for (i = 0; rc == 0 && i < sizeof write_masks / sizeof write_masks[0]; i++) {
        struct scmp_arg_cmp open_flags = SCMP_A1(SCMP_CMP_MASKED_EQ, write_masks[i][0],
                                                 write_masks[i][1]);
        struct scmp_arg_cmp openat_flags = SCMP_A2(SCMP_CMP_MASKED_EQ, write_masks[i][0],
                                                   write_masks[i][1]);
        rc = deny(ctx, kill, seccomp_syscall_resolve_name("open"), 1, &open_flags);
        if (rc == 0)
            rc = deny(ctx, kill, seccomp_syscall_resolve_name("openat"), 1, &openat_flags);
    }
    /* openat2 hides its flags behind a pointer the filter cannot read: refuse it outright. */
    if (rc == 0)
        rc = deny(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("openat2"), 0, NULL);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc != 0)
        snprintf(note, notesz, "seccomp filter not installed: %s", strerror(-rc));
    seccomp_release(ctx);
    return rc;
}

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

int main(void)
{
    static hydra_bot_cfg cfg;
    static hydra_bot_instance inst;
    char dir[HYDRA_PATH_LEN], err[1024] = "", note[160] = "";
    hydra_wire_snapshot *snap = hydra_wire_snapshot_new();
    hydra_wire_header h;
    hydra_wire_in in;
    int seccomp_on;

    if (snap == NULL)
        return EXIT_HOST_GONE;
    if (hydra_wire_recv(HOST_FD, &g_in, &h, -1, NULL, 0) != 0 || h.type != HYDRA_WIRE_LOAD)
        return EXIT_PROTOCOL;
    hydra_wire_in_init(&in, g_in.p, g_in.len);
    if (hydra_wire_get_load(&in, dir, sizeof dir, &cfg, err, sizeof err) != 0)
        return EXIT_PROTOCOL;

    if (hydra_bot_load(&inst, dir, &cfg, &g_svc, err, sizeof err) != 0) {
        hydra_wire_begin(&g_out, HYDRA_WIRE_LOADED);
        hydra_wire_put_load_refused(&g_out, HYDRA_EPLUGIN, err);
        send_or_die();
        return 1;
    }
    seccomp_on = install_seccomp(note, sizeof note) == 0;

    hydra_wire_begin(&g_out, HYDRA_WIRE_LOADED);
    hydra_wire_put_loaded(&g_out, inst.plugin.entry->name, inst.plugin.entry->version,
                          inst.plugin.entry->abi, (uint32_t)seccomp_on, note,
                          (uint32_t)inst.host.asks_chain);
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
