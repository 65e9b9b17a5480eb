#include "marketdata.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"

void hydra_market_init(hydra_market *m)
{
    memset(m, 0, sizeof *m);
}

void hydra_market_free(hydra_market *m)
{
    for (size_t i = 0; i < m->n_chains; i++)
        free(m->chains[i].quotes);
    memset(m, 0, sizeof *m);
}

const hydra_market_symbol *hydra_market_find(const hydra_market *m, const char *symbol)
{
    for (size_t i = 0; i < m->n_symbols; i++)
        if (strcmp(m->symbols[i].symbol, symbol) == 0)
            return &m->symbols[i];
    return NULL;
}

const hydra_market_chain *hydra_market_find_chain(const hydra_market *m, const char *underlying)
{
    for (size_t i = 0; i < m->n_chains; i++)
        if (strcmp(m->chains[i].underlying, underlying) == 0)
            return &m->chains[i];
    return NULL;
}

const hydra_option_quote *hydra_market_option(const hydra_market *m, const char *occ)
{
    char root[16];
    int expiry, is_call;
    double strike;
    if (hydra_occ_parse(occ, root, sizeof root, &expiry, &is_call, &strike) != 0)
        return NULL;
    const hydra_market_chain *c = hydra_market_find_chain(m, root);
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->quotes[i].symbol, occ) == 0)
            return &c->quotes[i];
    return NULL;
}

double hydra_market_price(const hydra_market *m, const char *symbol)
{
    const hydra_market_symbol *s = hydra_market_find(m, symbol);
    if (s != NULL)
        return s->price;
    const hydra_option_quote *q = hydra_market_option(m, symbol);
    if (q != NULL && q->bid > 0 && q->ask >= q->bid)
        return (q->bid + q->ask) / 2;
    return NAN;
}

int hydra_market_symbol_stale(const hydra_market *m, const char *symbol, int64_t now_ms,
                              int64_t max_ms)
{
    const hydra_market_symbol *s = hydra_market_find(m, symbol);
    if (s == NULL)
        return 0;
    return s->priced_ms == 0 || now_ms - s->priced_ms > max_ms;
}

static hydra_market_symbol *slot_for(hydra_market *m, const char *symbol)
{
    for (size_t i = 0; i < m->n_symbols; i++)
        if (strcmp(m->symbols[i].symbol, symbol) == 0)
            return &m->symbols[i];
    if (m->n_symbols >= HYDRA_MARKET_MAX_SYMBOLS)
        return NULL;
    hydra_market_symbol *s = &m->symbols[m->n_symbols++];
    memset(s, 0, sizeof *s);
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    s->asset_class = hydra_symbol_asset_class(symbol);
    s->price = NAN;
    return s;
}

static hydra_market_chain *chain_for(hydra_market *m, const char *underlying)
{
    for (size_t i = 0; i < m->n_chains; i++)
        if (strcmp(m->chains[i].underlying, underlying) == 0)
            return &m->chains[i];
    if (m->n_chains >= HYDRA_MARKET_MAX_CHAINS)
        return NULL;
    hydra_market_chain *c = &m->chains[m->n_chains];
    c->quotes = calloc(HYDRA_MARKET_MAX_CONTRACTS, sizeof *c->quotes);
    if (c->quotes == NULL)
        return NULL;
    snprintf(c->underlying, sizeof c->underlying, "%s", underlying);
    c->n = 0;
    m->n_chains++;
    return c;
}

static int has_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

void hydra_market_forget_chains(hydra_market *m)
{
    for (size_t i = 0; i < m->n_chains; i++) {
        m->chains[i].n = 0;
        m->chains[i].fetched = 0;
    }
}

static void mark_unknown(hydra_market *m)
{
    for (size_t i = 0; i < m->n_symbols; i++)
        m->symbols[i].price = NAN;
    hydra_market_forget_chains(m);
}

hydra_chain_filter hydra_chain_filter_of(const hydra_bot_cfg *b)
{
    hydra_chain_filter f = {b->dte_min, b->dte_max, b->delta_min, b->delta_max};
    return f;
}

/* Widens f to take in g as well. */
static void widen(hydra_chain_filter *f, const hydra_chain_filter *g)
{
    f->min_dte = g->min_dte < f->min_dte ? g->min_dte : f->min_dte;
    f->max_dte = g->max_dte > f->max_dte ? g->max_dte : f->max_dte;
    f->delta_min = g->delta_min < f->delta_min ? g->delta_min : f->delta_min;
    f->delta_max = g->delta_max > f->delta_max ? g->delta_max : f->delta_max;
}

static int covers(const hydra_chain_filter *f, const hydra_chain_filter *g)
{
    return f->min_dte <= g->min_dte && f->max_dte >= g->max_dte && f->delta_min <= g->delta_min &&
           f->delta_max >= g->delta_max;
}

static int fetch_chain(hydra_market_chain *c, hydra_broker *b, const hydra_chain_filter *filter,
                       hydra_broker_err *err)
{
    size_t got = 0;
    c->n = 0;
    c->fetched = 0;
    int rc = b->ops->option_chain(b->ctx, c->underlying, filter, c->quotes,
                                  HYDRA_MARKET_MAX_CONTRACTS, &got, err);
    if (rc != 0)
        return rc;
    c->n = got;
    c->fetched = 1;
    c->filter = *filter;
    return 0;
}

int hydra_market_chain_get(hydra_market *m, hydra_broker *b, const char *underlying,
                           const hydra_chain_filter *filter, const hydra_market_chain **out,
                           hydra_broker_err *err)
{
    hydra_market_chain *c = chain_for(m, underlying);
    if (c == NULL)
        return hydra_broker_fail(err, HYDRA_EFULL, 0, "no room for the chain of %s", underlying);
    if (!c->fetched || !covers(&c->filter, filter)) {
        hydra_chain_filter want = *filter;
        if (c->fetched)
            widen(&want, &c->filter);
        int rc = fetch_chain(c, b, &want, err);
        if (rc != 0)
            return rc;
    }
    *out = c;
    return 0;
}

uint32_t hydra_chain_views(const hydra_bot_cfg *b, const hydra_market_chain *c, int today,
                           uint32_t rights, hydra_option_view *out, uint32_t cap)
{
    uint32_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const hydra_option_quote *q = &c->quotes[i];
        uint32_t kind = q->is_call ? HYDRA_CHAIN_CALLS : HYDRA_CHAIN_PUTS;
        if ((rights & kind) == 0 || !hydra_chain_rules_admit(b, q, today))
            continue;
        if (n < cap)
            hydra_option_view_of(q, c->underlying, hydra_days_between(today, q->expiry_yyyymmdd),
                                 &out[n]);
        n++;
    }
    return n;
}

int hydra_bot_declares(const hydra_bot_cfg *b, const char *symbol)
{
    for (int k = 0; k < b->n_symbols; k++)
        if (strcmp(b->symbols[k], symbol) == 0)
            return 1;
    return 0;
}

int hydra_market_offers(const hydra_market *m, const hydra_bot_cfg *b, const char *occ, int today)
{
    const hydra_option_quote *q = hydra_market_option(m, occ);
    return q != NULL && hydra_bot_declares(b, q->underlying) && hydra_chain_rules_admit(b, q, today);
}

int hydra_market_bot_chain(hydra_market *m, hydra_broker *broker, const hydra_bot_cfg *b,
                           const char *underlying, uint32_t rights, int today,
                           hydra_option_view *out, uint32_t cap, hydra_broker_err *err)
{
    hydra_chain_filter rules = hydra_chain_filter_of(b);
    const hydra_market_chain *c = NULL;
    int rc = hydra_market_chain_get(m, broker, underlying, &rules, &c, err);
    return rc != 0 ? rc : (int)hydra_chain_views(b, c, today, rights, out, cap);
}

uint32_t hydra_market_snapshot_chain(hydra_market *m, hydra_broker *broker, const hydra_bot_cfg *b,
                                     int today, hydra_option_view *views,
                                     const hydra_option_view **ptrs)
{
    uint32_t n = 0;
    for (int k = 0; k < b->n_symbols; k++) {
        hydra_broker_err err = {0};
        int got = hydra_market_bot_chain(m, broker, b, b->symbols[k],
                                         HYDRA_CHAIN_CALLS | HYDRA_CHAIN_PUTS, today, &views[n],
                                         HYDRA_MARKET_MAX_CONTRACTS - n, &err);
        if (got > 0)
            n += (uint32_t)got;
        if (n > HYDRA_MARKET_MAX_CONTRACTS)
            n = HYDRA_MARKET_MAX_CONTRACTS;
    }
    for (uint32_t i = 0; i < n; i++)
        ptrs[i] = &views[i];
    return n;
}

int hydra_chain_request_add(hydra_chain_request *reqs, size_t cap, size_t *n, const char *underlying,
                            const hydra_chain_filter *filter)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(reqs[i].underlying, underlying) != 0)
            continue;
        widen(&reqs[i].filter, filter);
        return 0;
    }
    if (*n >= cap)
        return HYDRA_EFULL;
    reqs[*n].underlying = underlying;
    reqs[*n].filter = *filter;
    (*n)++;
    return 0;
}

int hydra_market_refresh(hydra_market *m, hydra_broker *b, const char *const *symbols, size_t n,
                         const hydra_chain_request *chains, size_t n_chains, int bar_seconds,
                         int64_t now_ms, hydra_broker_err *err)
{
    const char *plain[HYDRA_MARKET_MAX_SYMBOLS];
    size_t n_plain = 0;
    int rc = 0;

    /* Last tick's chains are gone; a bot that asks for its chain fetches it during the tick. */
    hydra_market_forget_chains(m);

    for (size_t i = 0; i < n; i++) {
        if (has_name(plain, n_plain, symbols[i]))
            continue;
        if (n_plain >= HYDRA_MARKET_MAX_SYMBOLS)
            return hydra_broker_fail(err, HYDRA_EFULL, 0, "more than %d symbols",
                                     HYDRA_MARKET_MAX_SYMBOLS);
        plain[n_plain++] = symbols[i];
    }

    if (n_plain > 0) {
        hydra_quote quotes[HYDRA_MARKET_MAX_SYMBOLS];
        rc = b->ops->latest_prices(b->ctx, plain, n_plain, quotes, err);
        if (rc != 0)
            goto fail;
        for (size_t i = 0; i < n_plain; i++) {
            hydra_market_symbol *s = slot_for(m, plain[i]);
            if (s == NULL)
                return hydra_broker_fail(err, HYDRA_EFULL, 0, "no room for symbol %s", plain[i]);
            if (quotes[i].price == 0 && quotes[i].t_ms == 0) {
                /*
                 * The answer left this symbol out (no trade for it): it keeps its
                 * last price and time and goes stale on its own; the others are
                 * priced.
                 */
                continue;
            }
            if (!isfinite(quotes[i].price) || quotes[i].price <= 0) {
                rc = hydra_broker_fail(err, HYDRA_EMALFORMED, 0, "price of %s is not positive: %g",
                                       plain[i], quotes[i].price);
                goto fail;
            }
            s->price = quotes[i].price;
            s->t_ms = quotes[i].t_ms;
            s->priced_ms = now_ms;
            /* Bots see bars of stocks and pairs; a contract is priced, never charted. */
            if (s->asset_class == HYDRA_ASSET_OPTION)
                continue;
            /* A new bar can only exist once a bar interval has passed since the last fetch. */
            if (s->bars_fetched_ms == 0 ||
                now_ms - s->bars_fetched_ms >= (int64_t)bar_seconds * 1000 ||
                now_ms < s->bars_fetched_ms) {
                size_t got = 0;
                rc = b->ops->bars(b->ctx, s->symbol, bar_seconds, HYDRA_SNAPSHOT_BARS, s->bars, &got,
                                  err);
                if (rc != 0)
                    goto fail;
                s->n_bars = got;
                s->bars_fetched_ms = now_ms;
            }
        }
    }

    for (size_t i = 0; i < n_chains; i++) {
        hydra_market_chain *c = chain_for(m, chains[i].underlying);
        if (c == NULL)
            return hydra_broker_fail(err, HYDRA_ENOMEM, 0, "no room for chain %s",
                                     chains[i].underlying);
        rc = fetch_chain(c, b, &chains[i].filter, err);
        if (rc != 0)
            goto fail;
    }

    rc = b->ops->clock(b->ctx, &m->mclock, err);
    if (rc != 0)
        goto fail;
    m->have_mclock = 1;
    m->fetched_ms = now_ms;
    return 0;

fail:
    mark_unknown(m);
    m->have_mclock = 0;
    return rc;
}

int hydra_chain_rules_admit(const hydra_bot_cfg *b, const hydra_option_quote *q, int today)
{
    int dte = hydra_days_between(today, q->expiry_yyyymmdd);
    double ad = fabs(q->delta);
    return dte >= b->dte_min && dte <= b->dte_max && ad >= b->delta_min && ad <= b->delta_max;
}

void hydra_position_view_of(const hydra_bot_position *p, double price, hydra_position_view *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->asset_class = (uint32_t)p->asset_class;
    v->symbol = p->symbol;
    v->qty = p->qty;
    v->avg_entry_price = p->avg_price;
    v->current_price = price;
    v->unrealized_pl = isfinite(price) ? (price - p->avg_price) * p->qty * p->multiplier : 0;
    v->opened_ms = p->opened_ms;
}

void hydra_option_view_of(const hydra_option_quote *q, const char *underlying, int dte,
                          hydra_option_view *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->is_call = (uint32_t)q->is_call;
    v->symbol = q->symbol;
    v->underlying = underlying;
    v->strike = q->strike;
    v->expiry_yyyymmdd = q->expiry_yyyymmdd;
    v->dte = dte;
    v->bid = q->bid;
    v->ask = q->ask;
    v->iv = q->iv;
    v->delta = q->delta;
    v->multiplier = (uint32_t)(q->multiplier > 0 ? q->multiplier : 100);
}
