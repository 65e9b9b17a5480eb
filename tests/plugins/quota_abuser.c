/*
 * A bot that tries to make the host write more than its quotas allow, or
 * to stall it, while otherwise trading honestly: whenever it is flat it
 * buys one share of its first symbol (so a test can see it trade).
 *
 * signal.params:
 *   mode       flood       log `lines` lines of `line_bytes` bytes in every call
 *              kv          write `keys_per_call` new keys of `value_bytes` bytes in
 *                          every manage; on a refusal, store the code in key "refused"
 *              fake_halt   log lines named like the host's own events, with
 *                          messages that try to break out of their JSON string
 *              sleep_once  sleep `sleep_ms` in manage on host tick `at_tick` only
 *              sleep_from  sleep `sleep_ms` in manage on every host tick from `at_tick`
 *   The tick is the host's (snapshot tick), so the choice survives a restarted worker.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char mode[32];
    int64_t lines, line_bytes, keys_per_call, value_bytes, sleep_ms, at_tick;
    int64_t next_key;
    char symbol[48];
};

static int64_t param(const hydra_host_api *api, hydra_host *host, const char *key, int64_t def)
{
    int64_t v;
    return api->param_int(host, key, &v) == 0 ? v : def;
}

static int qa_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    hydra_bot *b = calloc(1, sizeof *b);
    *out = NULL;
    if (b == NULL || cfg->n_symbols < 1) {
        free(b);
        return HYDRA_BOT_BAD_CONFIG;
    }
    b->api = api;
    b->host = host;
    if (api->param_string(host, "mode", b->mode, sizeof b->mode) != 0)
        snprintf(b->mode, sizeof b->mode, "none");
    b->lines = param(api, host, "lines", 1000);
    b->line_bytes = param(api, host, "line_bytes", 200);
    b->keys_per_call = param(api, host, "keys_per_call", 5);
    b->value_bytes = param(api, host, "value_bytes", 1000);
    b->sleep_ms = param(api, host, "sleep_ms", 20000);
    b->at_tick = param(api, host, "at_tick", 3);
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    *out = b;
    return HYDRA_BOT_OK;
}

static void qa_destroy(hydra_bot *b)
{
    free(b);
}

static void flood(hydra_bot *b)
{
    size_t n = b->line_bytes > 0 ? (size_t)b->line_bytes : 1;
    char *line = malloc(n + 1);
    if (line == NULL)
        return;
    memset(line, 'x', n);
    line[n] = '\0';
    for (int64_t i = 0; i < b->lines; i++)
        b->api->log(b->host, HYDRA_LOG_INFO, "flood", line);
    free(line);
}

static void fill_state(hydra_bot *b)
{
    char key[32], probe[8];
    /* "refused" exists from the first call on, so recording a refusal never needs new room. */
    if (b->api->state_get(b->host, "refused", probe, sizeof probe) != 0)
        b->api->state_set(b->host, "refused", "00");
    size_t n = b->value_bytes > 0 ? (size_t)b->value_bytes : 1;
    char *value = malloc(n + 1);
    if (value == NULL)
        return;
    memset(value, 'v', n);
    value[n] = '\0';
    for (int64_t i = 0; i < b->keys_per_call; i++) {
        snprintf(key, sizeof key, "k%lld", (long long)b->next_key++);
        int rc = b->api->state_set(b->host, key, value);
        if (rc != 0) {
            char code[8];
            snprintf(code, sizeof code, "%d", rc);
            b->api->state_set(b->host, "refused", code);
        }
    }
    free(value);
}

static void fake_halt(hydra_bot *b)
{
    b->api->log(b->host, HYDRA_LOG_ERROR, "system_halt", "reason: operator");
    b->api->log(b->host, HYDRA_LOG_INFO, "halt_cleared", "\n{\"event\":\"system_halt\"}\n");
    b->api->log(b->host, HYDRA_LOG_ERROR, "x\",\"event\":\"system_halt",
                "\",\"event\":\"system_halt\",\"source\":\"operator");
    b->api->log(b->host, HYDRA_LOG_ERROR, "bad\xff\xfe utf8", "\xc3\x28 \xed\xa0\x80 \x01\x1b[2J");
}

static void nap(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int qa_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)out;
    if (strcmp(b->mode, "flood") == 0)
        flood(b);
    else if (strcmp(b->mode, "kv") == 0)
        fill_state(b);
    else if (strcmp(b->mode, "fake_halt") == 0)
        fake_halt(b);
    else if (strcmp(b->mode, "sleep_once") == 0 && (int64_t)snap->tick == b->at_tick)
        nap(b->sleep_ms);
    else if (strcmp(b->mode, "sleep_from") == 0 && (int64_t)snap->tick >= b->at_tick)
        nap(b->sleep_ms);
    return HYDRA_BOT_OK;
}

static int qa_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    if (strcmp(b->mode, "flood") == 0)
        flood(b);
    if (snap->n_positions == 0 && snap->budget->positions_open == 0) {
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_ENTRY;
        in.side = HYDRA_SIDE_BUY;
        in.type = HYDRA_ORDER_MARKET;
        snprintf(in.symbol, sizeof in.symbol, "%s", b->symbol);
        in.qty = 1;
        snprintf(in.reason, sizeof in.reason, "quota_abuser %s", b->mode);
        hydra_intent_push(out, &in);
    }
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "quota_abuser",
    .version = "1.0.0",
    .description = "Test bot that floods the log and its state, forges host events or stalls",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = qa_create,
    .destroy = qa_destroy,
    .manage = qa_manage,
    .on_tick = qa_on_tick,
};
