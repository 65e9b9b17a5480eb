/*
 * A bot as built against an older, smaller 1.x SDK: its descriptor ends at
 * on_tick (no on_fill slot) and its intent ends at limit_price (no reason).
 * It carries its own copies of those structs and of hydra_intent_push, as a
 * plugin compiled against the old headers would.
 *
 * Right after its descriptor it places a pointer to a function that aborts,
 * where today's on_fill slot would be: a host that read past struct_size
 * would find it and call it.
 */
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct old_plugin {
    hydra_abi_version abi;
    uint32_t struct_size;
    const char *name;
    const char *version;
    const char *description;
    uint32_t asset_classes;
    int (*create)(const hydra_host_api *, hydra_host *, const hydra_bot_config *, hydra_bot **);
    void (*destroy)(hydra_bot *);
    int (*manage)(hydra_bot *, const hydra_snapshot *, hydra_intent_buf *);
    int (*on_tick)(hydra_bot *, const hydra_snapshot *, hydra_intent_buf *);
};

struct old_intent {
    uint32_t struct_size;
    uint32_t kind;
    uint32_t side;
    uint32_t type;
    uint32_t tif;
    uint32_t asset_class;
    char symbol[48];
    double qty;
    double notional;
    double limit_price;
};

struct old_entry {
    struct old_plugin plugin;
    void (*beyond)(hydra_bot *, const hydra_fill *);
};

struct hydra_bot {
    char symbol[48];
};

static int old_push(hydra_intent_buf *buf, const struct old_intent *in)
{
    unsigned char *slot;
    size_t n;
    uint32_t written;
    if (buf == NULL || in == NULL || buf->items == NULL || buf->count >= buf->capacity ||
        buf->item_size < sizeof(uint32_t))
        return -1;
    slot = (unsigned char *)buf->items + (size_t)buf->count * buf->item_size;
    n = sizeof(*in) < buf->item_size ? sizeof(*in) : buf->item_size;
    memset(slot, 0, buf->item_size);
    memcpy(slot, in, n);
    written = (uint32_t)n;
    memcpy(slot, &written, sizeof written);
    buf->count++;
    return 0;
}

static int old_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    hydra_bot *bot;
    (void)api, (void)host;
    *out = NULL;
    if (cfg->n_symbols < 1 || strlen(cfg->symbols[0]) >= sizeof bot->symbol)
        return HYDRA_BOT_BAD_CONFIG;
    bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    strcpy(bot->symbol, cfg->symbols[0]);
    *out = bot;
    return 0;
}

static void old_destroy(hydra_bot *bot)
{
    free(bot);
}

static int old_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot, (void)snap, (void)out;
    return 0;
}

/* Asks for one share of its symbol on every tick that shows a price for it. */
static int old_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    struct old_intent in;
    uint32_t i;
    for (i = 0; i < snap->n_symbols; i++) {
        if (strcmp(snap->symbols[i]->symbol, bot->symbol) != 0 || !(snap->symbols[i]->last_price > 0))
            continue;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_ENTRY;
        in.side = HYDRA_SIDE_BUY;
        in.type = HYDRA_ORDER_MARKET;
        in.asset_class = HYDRA_ASSET_EQUITY;
        strcpy(in.symbol, bot->symbol);
        in.qty = 1;
        old_push(out, &in);
    }
    return 0;
}

static void beyond_struct_size(hydra_bot *bot, const hydra_fill *fill)
{
    (void)bot, (void)fill;
    abort();
}

HYDRA_EXPORT const struct old_entry hydra_plugin_entry = {
    .plugin =
        {
            .abi = {HYDRA_ABI_MAJOR, 0, 0},
            .struct_size = sizeof(struct old_plugin),
            .name = "old_struct",
            .version = "0.9.0",
            .description = "Test plugin built against a smaller 1.x descriptor and intent",
            .asset_classes = HYDRA_ASSET_EQUITY,
            .create = old_create,
            .destroy = old_destroy,
            .manage = old_manage,
            .on_tick = old_on_tick,
        },
    .beyond = beyond_struct_size,
};
