#define _GNU_SOURCE
#include "dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "loop.h"
#include "state.h"

#define LOG_TAIL_BYTES 32768 /* the page shows the log's last lines, from this much of its end */
#define LOG_TAIL_LINES 40
#define MAX_POSITIONS 256

struct hydra_dashboard {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    char *published;  /* the state document, without the log (engine thread builds it) */
    uint64_t version; /* bumped at every publish */
    int stopping;
    hydra_dash_request request;
    int has_request;
    char answer[256];
    char log_path[1024];
    hydra_bot_position pos[MAX_POSITIONS]; /* engine thread's scratch */
};

hydra_dashboard *hydra_dashboard_new(const char *log_path)
{
    hydra_dashboard *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->changed, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(d->log_path, sizeof d->log_path, "%s", log_path != NULL ? log_path : "");
    return d;
}

void hydra_dashboard_stop(hydra_dashboard *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
}

void hydra_dashboard_free(hydra_dashboard *d)
{
    if (d == NULL)
        return;
    pthread_cond_destroy(&d->changed);
    pthread_mutex_destroy(&d->mu);
    free(d->published);
    free(d);
}

/* ---- engine thread ---- */

static json_t *utc(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[32];
    hydra_format_utc(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *halt_json(hydra_engine *e)
{
    hydra_halt h = {0};
    if (e->state == NULL || hydra_halt_get(e->state, &h) != 0 || !h.active)
        return json_pack("{s:b}", "active", 0);
    return json_pack("{s:b,s:s,s:s,s:o,s:o,s:s,s:b}", "active", 1, "source", h.source, "reason",
                     h.reason, "since", utc(h.since_ms), "until", utc(h.until_ms),
                     "requested_by", h.requested_by, "acknowledged", h.ack_pid != 0);
}

static json_t *bots_json(hydra_engine *e)
{
    json_t *bots = json_array();
    for (int i = 0; i < e->n_slots; i++) {
        const hydra_bot_slot *s = &e->slots[i];
        hydra_bot_day day = {0};
        double pnl = e->state != NULL && e->day[0] != '\0' &&
                             hydra_bot_day_get(e->state, s->cfg->bot_id, e->day, &day) == 0
                         ? day.realized_pnl
                         : 0;
        json_t *b = json_pack("{s:s,s:b,s:s,s:f,s:i}", "bot_id", s->cfg->bot_id, "quarantined",
                              s->quarantined, "quarantine_reason", s->quarantine_reason,
                              "realized_pnl", pnl, "trades_today", day.trades);
        if (s->have_budget)
            json_object_set_new(
                b, "budget",
                json_pack("{s:f,s:f,s:i,s:i,s:b}", "max_daily_loss", s->budget.max_daily_loss,
                          "max_open_risk", s->budget.max_open_risk, "max_trades_per_day",
                          s->budget.max_trades_per_day, "max_concurrent_positions",
                          s->budget.max_concurrent_positions, "allowed", s->budget.allowed));
        json_array_append_new(bots, b);
    }
    return bots;
}

static json_t *positions_json(hydra_dashboard *d, hydra_engine *e)
{
    json_t *out = json_array();
    size_t n = 0;
    if (e->state == NULL || hydra_position_list(e->state, NULL, d->pos, MAX_POSITIONS, &n) != 0)
        return out;
    for (size_t i = 0; i < n; i++) {
        const hydra_bot_position *p = &d->pos[i];
        double mult = p->multiplier > 0 ? p->multiplier : 1;
        double px = hydra_market_price(&e->market, p->symbol);
        json_t *j = json_pack("{s:s,s:s,s:f,s:f}", "bot_id", p->bot_id, "symbol", p->symbol, "qty",
                              p->qty, "avg_price", p->avg_price);
        /* No price this tick: no mark and no unrealised figure, rather than a wrong one. */
        json_object_set_new(j, "price", isfinite(px) && px > 0 ? json_real(px) : json_null());
        json_object_set_new(j, "unrealized_pnl", isfinite(px) && px > 0
                                                     ? json_real((px - p->avg_price) * p->qty * mult)
                                                     : json_null());
        json_array_append_new(out, j);
    }
    return out;
}

static json_t *orders_json(hydra_engine *e)
{
    json_t *out = json_array();
    for (size_t i = 0; i < e->n_open_orders; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        json_array_append_new(
            out, json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:o}", "client_order_id",
                           o->client_order_id, "bot_id", o->bot_id, "symbol", o->symbol, "side",
                           o->side == HYDRA_SIDE_BUY ? "buy" : "sell", "qty", o->qty, "notional",
                           o->notional, "filled_qty", o->filled_qty, "limit_price", o->limit_price,
                           "state", hydra_order_state_name(o->state), "created", utc(o->created_ms)));
    }
    return out;
}

void hydra_dashboard_collect(hydra_dashboard *d, hydra_engine *e)
{
    if (d == NULL)
        return;
    char why[256] = "";
    hydra_health_status hs = hydra_health_check(&e->health, hydra_monotonic_ms(), why, sizeof why);
    int have = isfinite(e->account.equity) && e->account.equity > 0;
    json_t *acct = json_object();
    if (have) {
        json_object_set_new(acct, "equity", json_real(e->account.equity));
        json_object_set_new(acct, "cash", json_real(e->account.cash));
        json_object_set_new(acct, "buying_power", json_real(e->account.buying_power));
        json_object_set_new(acct, "day_start_equity", json_real(e->day_start_equity));
        json_object_set_new(acct, "day_pnl", e->day_start_equity > 0
                                                 ? json_real(e->account.equity - e->day_start_equity)
                                                 : json_null());
    }
    pthread_mutex_lock(&d->mu);
    json_t *doc = json_pack(
        "{s:i,s:o,s:I,s:i,s:s,s:o,s:{s:s,s:s},s:o,s:o,s:o,s:o,s:s}", "schema", 1, "t",
        utc(hydra_clock_now_ms(&e->clock)), "tick", (json_int_t)e->tick, "pid", (int)getpid(),
        "day", e->day, "halt", halt_json(e), "health", "status", hydra_health_status_name(hs),
        "reason", why, "account", acct, "bots", bots_json(e), "positions", positions_json(d, e),
        "open_orders", orders_json(e), "last_answer", d->answer);
    pthread_mutex_unlock(&d->mu);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return; /* no memory: the page keeps the last state, marked by its tick */
    pthread_mutex_lock(&d->mu);
    free(d->published);
    d->published = text;
    d->version++;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
}

int hydra_dashboard_take(hydra_dashboard *d, hydra_dash_request *out)
{
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&d->mu);
    int had = d->has_request;
    if (had)
        *out = d->request;
    d->has_request = 0;
    pthread_mutex_unlock(&d->mu);
    return had;
}

int hydra_dashboard_pending(hydra_dashboard *d)
{
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&d->mu);
    int p = d->has_request;
    pthread_mutex_unlock(&d->mu);
    return p;
}

void hydra_dashboard_answer(hydra_dashboard *d, const char *text)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    snprintf(d->answer, sizeof d->answer, "%s", text);
    pthread_mutex_unlock(&d->mu);
}

/* ---- server threads ---- */

void hydra_dashboard_request(hydra_dashboard *d, const hydra_dash_request *r)
{
    pthread_mutex_lock(&d->mu);
    d->request = *r;
    d->has_request = 1;
    pthread_mutex_unlock(&d->mu);
}

/* The last lines of app.jsonl that parse, oldest first. */
static json_t *log_tail(const char *path)
{
    json_t *lines = json_array();
    int fd = path[0] != '\0' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return lines;
    struct stat st;
    char *buf = malloc(LOG_TAIL_BYTES + 1);
    if (buf == NULL || fstat(fd, &st) != 0) {
        free(buf);
        close(fd);
        return lines;
    }
    off_t from = st.st_size > LOG_TAIL_BYTES ? st.st_size - LOG_TAIL_BYTES : 0;
    ssize_t n = pread(fd, buf, LOG_TAIL_BYTES, from);
    close(fd);
    if (n <= 0) {
        free(buf);
        return lines;
    }
    buf[n] = '\0';
    /* A read that starts mid-file starts mid-line: that first piece is skipped. */
    char *p = from > 0 ? strchr(buf, '\n') : buf;
    json_t *all = json_array();
    while (p != NULL && *p != '\0') {
        if (*p == '\n')
            p++;
        char *end = strchr(p, '\n');
        if (end == NULL)
            break; /* a line still being written */
        *end = '\0';
        json_t *j = json_loads(p, 0, NULL);
        if (json_is_object(j))
            json_array_append_new(all, j);
        else
            json_decref(j);
        p = end + 1;
    }
    size_t total = json_array_size(all);
    for (size_t i = total > LOG_TAIL_LINES ? total - LOG_TAIL_LINES : 0; i < total; i++)
        json_array_append(lines, json_array_get(all, i));
    json_decref(all);
    free(buf);
    return lines;
}

char *hydra_dashboard_state(hydra_dashboard *d, uint64_t after, int wait_ms, uint64_t *version)
{
    pthread_mutex_lock(&d->mu);
    if (after > 0 && d->version <= after && !d->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (d->version <= after && !d->stopping &&
               pthread_cond_timedwait(&d->changed, &d->mu, &until) != ETIMEDOUT) {
        }
    }
    if (d->stopping) {
        pthread_mutex_unlock(&d->mu);
        return NULL;
    }
    *version = d->version;
    json_t *doc = d->published != NULL ? json_loads(d->published, 0, NULL) : json_object();
    pthread_mutex_unlock(&d->mu);
    if (doc == NULL)
        return NULL;
    json_object_set_new(doc, "log", log_tail(d->log_path));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}
