/*
 * A momentum bot written against ABI 1.0 only: it uses nothing a 1.0 SDK
 * lacks, so the same source builds against the frozen 1.0 headers
 * (tests/abi10/hydra) and against today's SDK, and both binaries must give
 * the host exactly the same orders.
 *
 * on_tick buys `qty` of its first symbol when it holds nothing, has a
 * position slot and the close has risen over `roc_bars` bars; manage sells
 * what it holds after `hold_bars` bars. signal.params: roc_bars [5],
 * hold_bars [10], qty [1]; signal.mode must be bot10_v1.
 *
 * It records, in its state, the sizes it was built with and the sizes the
 * host gave it ("sizes": "<snapshot sizeof> <snapshot struct_size> <intent
 * sizeof> <buffer item_size>"), so a test can see that a newer host's
 * structs are a superset of what the bot knows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char symbol[48];
    uint32_t asset_class;
    int64_t roc_bars, hold_bars;
    double qty;
    int sizes_written;
};

static int b10_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    *out = NULL;
    if (cfg->n_symbols < 1 || cfg->signal_mode == NULL || strcmp(cfg->signal_mode, "bot10_v1") != 0)
        return HYDRA_BOT_BAD_CONFIG;
    hydra_bot *b = calloc(1, sizeof *b);
    if (b == NULL)
        return HYDRA_BOT_ERROR;
    b->api = api;
    b->host = host;
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    b->asset_class = strchr(b->symbol, '/') != NULL ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
    if (api->param_int(host, "roc_bars", &b->roc_bars) != HYDRA_PARAM_OK)
        b->roc_bars = 5;
    if (api->param_int(host, "hold_bars", &b->hold_bars) != HYDRA_PARAM_OK)
        b->hold_bars = 10;
    if (api->param_double(host, "qty", &b->qty) != HYDRA_PARAM_OK)
        b->qty = 1;
    if (b->roc_bars < 1 || b->roc_bars > 1000 || b->hold_bars < 1 || !(b->qty > 0)) {
        free(b);
        return HYDRA_BOT_BAD_CONFIG;
    }
    *out = b;
    return HYDRA_BOT_OK;
}

static void b10_destroy(hydra_bot *b)
{
    free(b);
}

static const hydra_symbol_view *find_symbol(const hydra_bot *b, const hydra_snapshot *snap)
{
    for (uint32_t i = 0; i < snap->n_symbols; i++)
        if (snap->symbols[i] != NULL && snap->symbols[i]->symbol != NULL &&
            strcmp(snap->symbols[i]->symbol, b->symbol) == 0)
            return snap->symbols[i];
    return NULL;
}

static const hydra_position_view *find_position(const hydra_bot *b, const hydra_snapshot *snap)
{
    for (uint32_t i = 0; i < snap->n_positions; i++)
        if (snap->positions[i] != NULL && snap->positions[i]->symbol != NULL &&
            strcmp(snap->positions[i]->symbol, b->symbol) == 0)
            return snap->positions[i];
    return NULL;
}

static void push(const hydra_bot *b, hydra_intent_buf *out, int kind, int side, double qty,
                 const char *why)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = (uint32_t)kind;
    in.side = (uint32_t)side;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = b->asset_class;
    snprintf(in.symbol, sizeof in.symbol, "%s", b->symbol);
    in.qty = qty;
    snprintf(in.reason, sizeof in.reason, "%s", why);
    hydra_intent_push(out, &in);
}

static void write_sizes(hydra_bot *b, const hydra_snapshot *snap, const hydra_intent_buf *out)
{
    char v[96];
    if (b->sizes_written)
        return;
    snprintf(v, sizeof v, "%zu %u %zu %u", sizeof(hydra_snapshot), (unsigned)snap->struct_size,
             sizeof(hydra_intent), (unsigned)out->item_size);
    if (b->api->state_set(b->host, "sizes", v) == 0)
        b->sizes_written = 1;
}

static int b10_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_position_view *p = find_position(b, snap);
    write_sizes(b, snap, out);
    if (p != NULL && p->qty > 0 && snap->now_ms - p->opened_ms >= b->hold_bars * 60000)
        push(b, out, HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, p->qty, "held long enough");
    return HYDRA_BOT_OK;
}

static int b10_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_symbol_view *s = find_symbol(b, snap);
    write_sizes(b, snap, out);
    if (s == NULL || !isfinite(s->last_price) || s->last_price <= 0 ||
        s->n_bars <= (uint32_t)b->roc_bars || find_position(b, snap) != NULL)
        return HYDRA_BOT_OK;
    if (snap->budget->positions_open >= snap->budget->max_concurrent_positions ||
        snap->budget->trades_left_today == 0)
        return HYDRA_BOT_OK;
    double now = s->bars[s->n_bars - 1].close;
    double then = s->bars[s->n_bars - 1 - (uint32_t)b->roc_bars].close;
    if (!isfinite(now) || !isfinite(then) || !(then > 0) || !(now > then))
        return HYDRA_BOT_OK;
    char why[96];
    snprintf(why, sizeof why, "close %.2f above %.2f %lld bars ago", now, then,
             (long long)b->roc_bars);
    push(b, out, HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, b->qty, why);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "bot10",
    .version = "1.0.0",
    .description = "momentum on ABI 1.0: buy a rising close, sell after a hold",
    .asset_classes = HYDRA_ASSET_EQUITY | HYDRA_ASSET_CRYPTO,
    .create = b10_create,
    .destroy = b10_destroy,
    .manage = b10_manage,
    .on_tick = b10_on_tick,
    .on_fill = NULL,
};
