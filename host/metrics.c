#define _GNU_SOURCE
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "loop.h"
#include "marketdata.h"
#include "notify.h"
#include "state.h"

/* Tick duration buckets in seconds: a tick is milliseconds, an overrun is seconds. */
static const double TICK_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   5,    10};
#define N_TICK_BUCKETS (sizeof TICK_BUCKETS / sizeof TICK_BUCKETS[0])

/* Label sets are open (a new broker call, a new halt source) but bounded. */
#define MAX_LABELS 32
#define LABEL_LEN 48
#define POSITIONS_SEEN 256

static const char *const ORDER_OUTCOME[HYDRA_METRIC_ORDER_OUTCOMES] = {
    "submitted", "rejected", "unknown", "gate_blocked"};

typedef struct labelled {
    char label[LABEL_LEN];
    uint64_t count;
} labelled;

typedef struct bot_numbers {
    char bot_id[64];
    double realized_pnl; /* today's, from the state database */
    double exposure;     /* |qty| x price x multiplier over open positions */
    int quarantined;
} bot_numbers;

typedef struct numbers {
    uint64_t ticks;
    uint64_t tick_bucket[N_TICK_BUCKETS]; /* not cumulative; summed when rendered */
    double tick_seconds_sum;
    uint64_t orders[HYDRA_METRIC_ORDER_OUTCOMES];
    uint64_t fills;
    uint64_t quarantines;
    uint64_t notify_sent, notify_failed, notify_dropped; /* read from the sender at collect */
    labelled halts[MAX_LABELS];
    int n_halts;
    labelled api_failures[MAX_LABELS];
    int n_api_failures;
    double equity, cash;
    int halted;
    int have_account;
    int64_t last_tick_ms; /* engine clock, ms since the epoch */
    bot_numbers bots[HYDRA_MAX_BOTS];
    int n_bots;
} numbers;

struct hydra_metrics {
    numbers live;
    pthread_mutex_t mu; /* guards `published` only */
    numbers published;
    hydra_bot_position pos[POSITIONS_SEEN]; /* publish's scratch, so a tick never allocates */
};

hydra_metrics *hydra_metrics_new(void)
{
    hydra_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void hydra_metrics_free(hydra_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void hydra_metrics_tick(hydra_metrics *m, int64_t took_us)
{
    if (m == NULL)
        return;
    double s = took_us > 0 ? (double)took_us / 1e6 : 0;
    m->live.ticks++;
    m->live.tick_seconds_sum += s;
    for (size_t i = 0; i < N_TICK_BUCKETS; i++)
        if (s <= TICK_BUCKETS[i]) {
            m->live.tick_bucket[i]++;
            break;
        }
}

void hydra_metrics_order(hydra_metrics *m, hydra_metric_order outcome)
{
    if (m != NULL && (unsigned)outcome < HYDRA_METRIC_ORDER_OUTCOMES)
        m->live.orders[outcome]++;
}

void hydra_metrics_fill(hydra_metrics *m)
{
    if (m != NULL)
        m->live.fills++;
}

void hydra_metrics_quarantine(hydra_metrics *m)
{
    if (m != NULL)
        m->live.quarantines++;
}

/* Counts one event under `label`; past MAX_LABELS distinct labels, under "other". */
static void count_label(labelled *tab, int *n, const char *label)
{
    if (label == NULL || label[0] == '\0')
        label = "unknown";
    for (int i = 0; i < *n; i++)
        if (strncmp(tab[i].label, label, LABEL_LEN - 1) == 0) {
            tab[i].count++;
            return;
        }
    if (*n == MAX_LABELS - 1 && strcmp(label, "other") != 0) {
        count_label(tab, n, "other");
        return;
    }
    snprintf(tab[*n].label, LABEL_LEN, "%s", label);
    tab[*n].count = 1;
    (*n)++;
}

void hydra_metrics_halt(hydra_metrics *m, const char *source)
{
    if (m != NULL)
        count_label(m->live.halts, &m->live.n_halts, source);
}

void hydra_metrics_api_failure(hydra_metrics *m, const char *call)
{
    if (m != NULL)
        count_label(m->live.api_failures, &m->live.n_api_failures, call);
}

void hydra_metrics_collect(hydra_metrics *m, hydra_engine *e)
{
    if (m == NULL)
        return;
    numbers *l = &m->live;
    l->equity = e->account.equity;
    l->cash = e->account.cash;
    l->have_account = isfinite(e->account.equity) && e->account.equity > 0;
    l->halted = e->halted;
    l->last_tick_ms = hydra_clock_now_ms(&e->clock);
    hydra_notify_counts(e->notify, &l->notify_sent, &l->notify_failed, &l->notify_dropped);

    size_t np = 0;
    if (e->state == NULL || hydra_position_list(e->state, NULL, m->pos, POSITIONS_SEEN, &np) != 0)
        np = 0;
    int nb = e->n_slots < HYDRA_MAX_BOTS ? e->n_slots : HYDRA_MAX_BOTS;
    for (int i = 0; i < nb; i++) {
        const hydra_bot_slot *slot = &e->slots[i];
        bot_numbers *b = &l->bots[i];
        snprintf(b->bot_id, sizeof b->bot_id, "%s", slot->cfg->bot_id);
        b->quarantined = slot->quarantined;
        hydra_bot_day day = {0};
        b->realized_pnl = e->state != NULL && e->day[0] != '\0' &&
                                  hydra_bot_day_get(e->state, b->bot_id, e->day, &day) == 0
                              ? day.realized_pnl
                              : 0;
        b->exposure = 0;
        for (size_t k = 0; k < np; k++) {
            if (strcmp(m->pos[k].bot_id, b->bot_id) != 0)
                continue;
            double price = hydra_market_price(&e->market, m->pos[k].symbol);
            if (!isfinite(price) || price <= 0)
                price = m->pos[k].avg_price; /* no mark this tick: valued at cost */
            double mult = m->pos[k].multiplier > 0 ? m->pos[k].multiplier : 1;
            b->exposure += fabs(m->pos[k].qty) * price * mult;
        }
    }
    l->n_bots = nb;
}

void hydra_metrics_publish(hydra_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->published = m->live;
    pthread_mutex_unlock(&m->mu);
}

/* ---- text exposition ---- */

typedef struct out {
    char *buf;
    size_t len, cap;
    int oom;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n + 1) * 2;
        char *b = realloc(o->buf, cap);
        if (b == NULL) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void escape_label(const char *in, char *outb, size_t size)
{
    size_t o = 0;
    for (; *in != '\0' && o + 3 < size; in++) {
        if (*in == '\\' || *in == '"') {
            outb[o++] = '\\';
            outb[o++] = *in;
        } else if (*in == '\n') {
            outb[o++] = '\\';
            outb[o++] = 'n';
        } else {
            outb[o++] = *in;
        }
    }
    outb[o] = '\0';
}

static void head(out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prometheus wants +Inf, -Inf and NaN spelled its way; %.17g round-trips a double. */
static void put_value(out *o, double v)
{
    if (isnan(v))
        put(o, "NaN\n");
    else if (isinf(v))
        put(o, v > 0 ? "+Inf\n" : "-Inf\n");
    else
        put(o, "%.17g\n", v);
}

static void labelled_counter(out *o, const char *name, const char *label, const char *help,
                             const labelled *tab, int n)
{
    head(o, name, "counter", help);
    char esc[LABEL_LEN * 2 + 1];
    for (int i = 0; i < n; i++) {
        escape_label(tab[i].label, esc, sizeof esc);
        put(o, "%s{%s=\"%s\"} %llu\n", name, label, esc, (unsigned long long)tab[i].count);
    }
}

int hydra_metrics_render(hydra_metrics *m, char **outp, size_t *lenp)
{
    *outp = NULL;
    *lenp = 0;
    numbers *n = malloc(sizeof *n);
    if (n == NULL)
        return HYDRA_ENOMEM;
    pthread_mutex_lock(&m->mu);
    *n = m->published;
    pthread_mutex_unlock(&m->mu);

    out o = {0};
    o.cap = 8192;
    o.buf = malloc(o.cap);
    if (o.buf == NULL) {
        free(n);
        return HYDRA_ENOMEM;
    }
    o.buf[0] = '\0';

    head(&o, "hydra_ticks_total", "counter", "Ticks the engine completed.");
    put(&o, "hydra_ticks_total %llu\n", (unsigned long long)n->ticks);

    head(&o, "hydra_tick_duration_seconds", "histogram",
         "Wall time of one tick, from its start to its state commit.");
    uint64_t cum = 0;
    for (size_t i = 0; i < N_TICK_BUCKETS; i++) {
        cum += n->tick_bucket[i];
        put(&o, "hydra_tick_duration_seconds_bucket{le=\"%g\"} %llu\n", TICK_BUCKETS[i],
            (unsigned long long)cum);
    }
    put(&o, "hydra_tick_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)n->ticks);
    put(&o, "hydra_tick_duration_seconds_sum ");
    put_value(&o, n->tick_seconds_sum);
    put(&o, "hydra_tick_duration_seconds_count %llu\n", (unsigned long long)n->ticks);

    head(&o, "hydra_orders_total", "counter",
         "Orders by outcome: submitted (broker accepted), rejected (broker refused), unknown "
         "(no answer, resolved later by client_order_id), gate_blocked (stopped by a gate).");
    for (int i = 0; i < HYDRA_METRIC_ORDER_OUTCOMES; i++)
        put(&o, "hydra_orders_total{outcome=\"%s\"} %llu\n", ORDER_OUTCOME[i],
            (unsigned long long)n->orders[i]);

    head(&o, "hydra_fills_total", "counter", "Fills (or partial fills) applied to positions.");
    put(&o, "hydra_fills_total %llu\n", (unsigned long long)n->fills);

    labelled_counter(&o, "hydra_halts_total", "source",
                     "Halts by source (operator, kill_switch, exitbot, reconcile, ...).", n->halts,
                     n->n_halts);
    labelled_counter(&o, "hydra_api_failures_total", "call",
                     "Broker calls that failed, by call.", n->api_failures, n->n_api_failures);

    head(&o, "hydra_quarantines_total", "counter", "Bots put in quarantine.");
    put(&o, "hydra_quarantines_total %llu\n", (unsigned long long)n->quarantines);

    head(&o, "hydra_notifications_total", "counter",
         "Notifications by result: sent (2xx), failed (error or other status), dropped (queue full "
         "or shut down).");
    put(&o, "hydra_notifications_total{result=\"sent\"} %llu\n", (unsigned long long)n->notify_sent);
    put(&o, "hydra_notifications_total{result=\"failed\"} %llu\n",
        (unsigned long long)n->notify_failed);
    put(&o, "hydra_notifications_total{result=\"dropped\"} %llu\n",
        (unsigned long long)n->notify_dropped);

    head(&o, "hydra_halted", "gauge", "1 while a halt is active at the last tick.");
    put(&o, "hydra_halted %d\n", n->halted ? 1 : 0);

    if (n->have_account) {
        head(&o, "hydra_equity_dollars", "gauge", "Account equity at the last tick.");
        put(&o, "hydra_equity_dollars ");
        put_value(&o, n->equity);
        head(&o, "hydra_cash_dollars", "gauge", "Account cash at the last tick.");
        put(&o, "hydra_cash_dollars ");
        put_value(&o, n->cash);
    }
    if (n->last_tick_ms > 0) {
        head(&o, "hydra_last_tick_timestamp_seconds", "gauge",
             "Engine time of the last tick (the data clock in simulation).");
        put(&o, "hydra_last_tick_timestamp_seconds %.3f\n", (double)n->last_tick_ms / 1000.0);
    }

    char esc[160];
    head(&o, "hydra_bot_realized_pnl_dollars", "gauge", "Each bot's realised PnL today.");
    for (int i = 0; i < n->n_bots; i++) {
        escape_label(n->bots[i].bot_id, esc, sizeof esc);
        put(&o, "hydra_bot_realized_pnl_dollars{bot=\"%s\"} ", esc);
        put_value(&o, n->bots[i].realized_pnl);
    }
    head(&o, "hydra_bot_exposure_dollars", "gauge",
         "Each bot's open positions at the last tick's prices.");
    for (int i = 0; i < n->n_bots; i++) {
        escape_label(n->bots[i].bot_id, esc, sizeof esc);
        put(&o, "hydra_bot_exposure_dollars{bot=\"%s\"} ", esc);
        put_value(&o, n->bots[i].exposure);
    }
    head(&o, "hydra_bot_quarantined", "gauge", "1 while the bot is quarantined.");
    for (int i = 0; i < n->n_bots; i++) {
        escape_label(n->bots[i].bot_id, esc, sizeof esc);
        put(&o, "hydra_bot_quarantined{bot=\"%s\"} %d\n", esc, n->bots[i].quarantined ? 1 : 0);
    }
    free(n);
    if (o.oom) {
        free(o.buf);
        return HYDRA_ENOMEM;
    }
    *outp = o.buf;
    *lenp = o.len;
    return 0;
}
