/*
 * A bot that trades honestly, then misbehaves on a chosen on_tick call.
 *
 * Until then it buys one share of its first symbol whenever it is flat, so
 * it holds a position when it breaks and the host has something to manage.
 * signal.params:
 *   mode     what goes wrong: segfault, loop, abort, exit, overflow, nan,
 *            negative, alloc, socket, write_file; or chatty: no misbehaviour,
 *            but every on_tick first writes its call count to its state
 *            and waits for the host's answer (a worker asks the host)
 *   at_call  the on_tick call (1-based) that misbehaves (default 3)
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char mode[32];
    int64_t at_call;
    int64_t calls;
    char symbol[48];
};

static int mb_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    hydra_bot *b = calloc(1, sizeof *b);
    *out = NULL;
    if (b == NULL || cfg->n_symbols < 1) {
        free(b);
        return HYDRA_BOT_BAD_CONFIG;
    }
    if (api->param_string(host, "mode", b->mode, sizeof b->mode) != 0)
        snprintf(b->mode, sizeof b->mode, "none");
    if (api->param_int(host, "at_call", &b->at_call) != 0)
        b->at_call = 3;
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    b->api = api;
    b->host = host;
    *out = b;
    return HYDRA_BOT_OK;
}

static void mb_destroy(hydra_bot *b)
{
    free(b);
}

static int mb_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)snap, (void)out;
    return HYDRA_BOT_OK;
}

static void push_buy(hydra_bot *b, hydra_intent_buf *out, double qty)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_MARKET;
    snprintf(in.symbol, sizeof in.symbol, "%s", b->symbol);
    in.qty = qty;
    snprintf(in.reason, sizeof in.reason, "misbehave %s", b->mode);
    hydra_intent_push(out, &in);
}

/* The misbehaviour itself; volatile keeps the compiler from reasoning any of it away. */
static int misbehave(hydra_bot *b, hydra_intent_buf *out)
{
    if (strcmp(b->mode, "segfault") == 0) {
        volatile int *p = NULL;
        *p = 1;
    } else if (strcmp(b->mode, "loop") == 0) {
        for (volatile unsigned long i = 0;; i++) {
        }
    } else if (strcmp(b->mode, "abort") == 0) {
        abort();
    } else if (strcmp(b->mode, "exit") == 0) {
        exit(0);
    } else if (strcmp(b->mode, "overflow") == 0) {
        /* Every slot, then on past the last one by the size of a buffer header. */
        memset(out->items, 0x41,
               (size_t)out->capacity * out->item_size + sizeof(hydra_intent_buf));
    } else if (strcmp(b->mode, "nan") == 0) {
        push_buy(b, out, NAN);
    } else if (strcmp(b->mode, "negative") == 0) {
        push_buy(b, out, -5);
    } else if (strcmp(b->mode, "alloc") == 0) {
        /* Naive code that never checks malloc: 8 GB, first and last byte written. */
        size_t n = (size_t)8 << 30;
        volatile char *p = malloc(n);
        p[0] = 1;
        p[n - 1] = 1;
    } else if (strcmp(b->mode, "socket") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0)
            push_buy(b, out, 1000); /* the host's gates would stop this; the sandbox must first */
    } else if (strcmp(b->mode, "write_file") == 0) {
        FILE *f = fopen("/tmp/hydra-misbehave-wrote-here", "w");
        if (f != NULL) {
            fputs("escaped\n", f);
            fclose(f);
        }
    }
    return HYDRA_BOT_OK;
}

static int mb_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    b->calls++;
    if (strcmp(b->mode, "chatty") == 0) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)b->calls);
        if (b->api->state_set(b->host, "calls", n) != 0)
            return HYDRA_BOT_ERROR;
    } else if (b->calls == b->at_call)
        return misbehave(b, out);
    if (snap->n_positions == 0 && snap->budget->positions_open == 0)
        push_buy(b, out, 1);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "misbehave",
    .version = "1.0.0",
    .description = "Test bot that breaks in a chosen way on a chosen call",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = mb_create,
    .destroy = mb_destroy,
    .manage = mb_manage,
    .on_tick = mb_on_tick,
};
