#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "dashboard.h"
#include "error.h"
#include "exitbot.h"
#include "exits.h"
#include "gates.h"
#include "metrics.h"
#include "notify.h"
#include "orders.h"
#include "portfolio.h"
#include "service.h"

#define MAX_BOT_POSITIONS HYDRA_MAX_BOT_POSITIONS

/* Per-call views handed to a bot; rebuilt for every call, reused across calls. */
typedef struct snap_scratch {
    hydra_symbol_view sym[HYDRA_MAX_BOT_SYMBOLS];
    const hydra_symbol_view *sym_p[HYDRA_MAX_BOT_SYMBOLS];
    hydra_bot_position bpos[MAX_BOT_POSITIONS];
    hydra_position_view pos[MAX_BOT_POSITIONS];
    const hydra_position_view *pos_p[MAX_BOT_POSITIONS];
    hydra_option_view opt[HYDRA_MARKET_MAX_CONTRACTS];
    const hydra_option_view *opt_p[HYDRA_MARKET_MAX_CONTRACTS];
    hydra_order_view ord[HYDRA_MAX_OPEN_ORDERS];
    const hydra_order_view *ord_p[HYDRA_MAX_OPEN_ORDERS];
    hydra_budget_view budget;
    hydra_snapshot snap;
} snap_scratch;

static snap_scratch *scratch_of(hydra_engine *e)
{
    return e->scratch;
}

int hydra_loop_init(hydra_engine *e)
{
    e->scratch = calloc(1, sizeof(snap_scratch));
    return e->scratch != NULL ? 0 : HYDRA_ENOMEM;
}

void hydra_loop_free(hydra_engine *e)
{
    free(e->scratch);
    e->scratch = NULL;
}

/* ---- small helpers ---- */

static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A 429 asked to wait until `until` (wall clock): entries pause, logged once per reset. */
static void note_rate_limit(hydra_engine *e, int64_t until)
{
    if (until <= e->rate_limited_until_ms)
        return;
    e->rate_limited_until_ms = until;
    char until_s[32];
    hydra_format_utc(until, until_s, sizeof until_s);
    hydra_log_pack(e->log, HYDRA_LOG_WARN, "rate_limited", NULL, "{s:s,s:s}", "reset", until_s,
                   "effect", "calls held until the reset, not counted as failures; entries pause");
}

/*
 * The reads every tick makes. Their failures repeat tick after tick while
 * the cause lasts (a symbol with no price); orders' calls are never among
 * them: each of those failures is its own line.
 */
static int is_tick_read(const char *call)
{
    static const char *const reads[] = {"market_snapshot", "account", "positions", "open_orders",
                                        "clock", "calendar", "option_chain"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (strcmp(call, reads[i]) == 0)
            return 1;
    return 0;
}

void hydra_engine_broker_failure(hydra_engine *e, const char *call, const hydra_broker_err *err)
{
    hydra_failure_class fc = hydra_broker_classify(err->code);
    if (err->retry_at_ms > 0)
        note_rate_limit(e, err->retry_at_ms);
    /* Held back by a rate limit: not sent, so not a failure of the broker; the 429 was. */
    if (err->held)
        return;
    /* A refusal is the broker answering; transient and permanent failures count against health. */
    if (fc == HYDRA_FAILURE_TRANSIENT || fc == HYDRA_FAILURE_PERMANENT) {
        hydra_health_record_api_failure(&e->health, hydra_monotonic_ms());
        hydra_metrics_api_failure(e->metrics, call);
    }
    if (fc == HYDRA_FAILURE_PERMANENT && e->permanent_failure[0] == '\0')
        snprintf(e->permanent_failure, sizeof e->permanent_failure, "%s: %s", call, err->msg);
    json_t *fields = json_pack("{s:s,s:s,s:s,s:i,s:s}", "call", call, "class",
                               hydra_strerror(err->code), "failure", hydra_failure_class_name(fc),
                               "http_status", err->http_status, "error", err->msg);
    if (is_tick_read(call)) {
        /* The same read failing the same way every tick: written when it starts, changes, ends. */
        char what[360];
        snprintf(what, sizeof what, "%d %d %s", err->code, err->http_status, err->msg);
        hydra_log_repeat(e->log, HYDRA_LOG_WARN, "broker_error", NULL, call, what, fields);
    } else {
        hydra_log_event(e->log, HYDRA_LOG_WARN, "broker_error", NULL, fields);
    }
}

int hydra_engine_read_failed(hydra_engine *e, int rc, const char *what)
{
    hydra_failure_class fc = hydra_broker_classify(rc);
    if (fc == HYDRA_FAILURE_NONE)
        return 0;
    if (fc != HYDRA_FAILURE_TRANSIENT) {
        /* A read refused or not understood: the tick cannot go on without it. */
        if (e->permanent_failure[0] == '\0')
            snprintf(e->permanent_failure, sizeof e->permanent_failure, "%s: %s", what,
                     hydra_strerror(rc));
        return rc;
    }
    if (e->entry_block[0] == '\0')
        snprintf(e->entry_block, sizeof e->entry_block, "%s this tick (transient broker failure)",
                 what);
    return 0;
}

static hydra_bot_slot *find_slot(hydra_engine *e, const char *bot_id)
{
    for (int i = 0; i < e->n_slots; i++)
        if (strcmp(e->slots[i].cfg->bot_id, bot_id) == 0)
            return &e->slots[i];
    return NULL;
}

void hydra_loop_quarantine(hydra_engine *e, hydra_bot_slot *slot, const char *why)
{
    if (slot->quarantined)
        return;
    slot->quarantined = 1;
    hydra_metrics_quarantine(e->metrics);
    hydra_notify_event(e->notify, "quarantine", slot->cfg->bot_id, "quarantined: %s", why);
    snprintf(slot->quarantine_reason, sizeof slot->quarantine_reason, "%s", why);
    hydra_bot_day_quarantine(e->state, slot->cfg->bot_id, e->day, why);
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "bot_quarantined", slot->cfg->bot_id, "{s:s,s:s}",
                   "reason", why, "until", "end of trading day");
}

void hydra_engine_quarantine(hydra_engine *e, const char *bot_id, const char *why)
{
    hydra_bot_slot *slot = find_slot(e, bot_id);
    if (slot != NULL) {
        hydra_loop_quarantine(e, slot, why);
        return;
    }
    /* A bot no longer configured: the day's record still says so if it comes back. */
    hydra_bot_day_quarantine(e->state, bot_id, e->day, why);
}

/* Halts and the flatten are in halt.c. */

/* An operator action from the dashboard: logged and stored like the command line's. */
static void record_dashboard_action(hydra_engine *e, int64_t now, const char *action,
                                    const hydra_dash_request *r, const char *detail)
{
    char who[96];
    snprintf(who, sizeof who, "dashboard %s", r->from[0] ? r->from : "(unknown address)");
    char event[32];
    snprintf(event, sizeof event, "operator_%s", action);
    hydra_log_pack(e->log, HYDRA_LOG_WARN, event, NULL, "{s:s,s:I,s:s,s:s,s:i}", "user", who,
                   "uid", (json_int_t)-1, "reason", r->reason, "detail", detail, "pid",
                   (int)getpid());
    if (hydra_operator_action_add(e->state, now, action, who, -1, r->reason, detail) != 0)
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "operator_action_not_stored", NULL, "{s:s,s:s}",
                       "action", action, "error", hydra_state_errmsg(e->state));
}

/*
 * A button pressed on the dashboard since the last tick. A halt is written
 * as `hydra-host halt` writes it, so this tick's ExitBot acts on it (cancels
 * Hydra's orders, sells what Hydra holds); a resume passes the checks
 * `hydra-host resume` makes. The page shows the answer.
 */
static void take_dashboard_request(hydra_engine *e)
{
    hydra_dash_request r;
    if (!hydra_dashboard_take(e->dashboard, &r))
        return;
    int64_t now = hydra_clock_now_ms(&e->clock);
    char who[96], answer[256];
    snprintf(who, sizeof who, "dashboard %s", r.from[0] ? r.from : "(unknown address)");
    hydra_halt h = {0};
    int rc = hydra_halt_get(e->state, &h);
    if (r.action == HYDRA_DASH_HALT) {
        if (rc == 0 && h.active) {
            snprintf(answer, sizeof answer, "already halted (%.32s): %.160s", h.source, h.reason);
        } else if (hydra_halt_request(e->state, r.reason, "operator", now, 0, who) == 0) {
            record_dashboard_action(e, now, "halt", &r, "host running");
            snprintf(answer, sizeof answer, "halted: %.200s", r.reason);
        } else {
            snprintf(answer, sizeof answer, "the halt could not be written: %.180s",
                     hydra_state_errmsg(e->state));
        }
    } else {
        char why[200] = "";
        if (rc != 0 || !h.active) {
            snprintf(answer, sizeof answer, "no halt is active");
        } else if (hydra_exitbot_conditions(e, why, sizeof why) != 0) {
            snprintf(answer, sizeof answer, "resume refused: %.200s", why);
        } else if (hydra_halt_clear(e->state, who, now) == 0) {
            char detail[320];
            snprintf(detail, sizeof detail, "cleared halt (%.32s): %.256s", h.source, h.reason);
            record_dashboard_action(e, now, "resume", &r, detail);
            snprintf(answer, sizeof answer, "resumed: cleared \"%.200s\"", h.reason);
        } else {
            snprintf(answer, sizeof answer, "the resume could not be written: %.180s",
                     hydra_state_errmsg(e->state));
        }
    }
    hydra_dashboard_answer(e->dashboard, answer);
}

/*
 * A quarantine an operator cleared (`hydra-host unquarantine`) ends at the
 * tick boundary: only quarantined bots are looked up, so a healthy day
 * costs nothing.
 */
static void pick_up_unquarantines(hydra_engine *e)
{
    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        hydra_bot_day day;
        if (!slot->quarantined || e->day[0] == '\0' ||
            hydra_bot_day_get(e->state, slot->cfg->bot_id, e->day, &day) != 0 || day.quarantined)
            continue;
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "bot_unquarantined", slot->cfg->bot_id,
                       "{s:s,s:s}", "by", "operator", "was", slot->quarantine_reason);
        slot->quarantined = 0;
        slot->quarantine_reason[0] = '\0';
    }
}

/* ---- PortfolioBot ---- */

int hydra_loop_portfolio(hydra_engine *e)
{
    hydra_budget budgets[HYDRA_MAX_BOTS];
    size_t n = 0;
    int64_t now = hydra_clock_now_ms(&e->clock);
    for (int i = 0; i < e->n_slots; i++)
        e->slots[i].have_budget = 0;
    if (!e->cfg->portfolio.enabled) {
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "portfoliobot_disabled", NULL, "{s:s}", "effect",
                       "no budgets: bots refuse entries");
        return 0;
    }
    int rc = hydra_budget_clear_all(e->state);
    if (rc == 0)
        rc = hydra_portfolio_compute(e->cfg, e->day_start_equity, e->day, now, budgets,
                                     HYDRA_MAX_BOTS, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = hydra_budget_set(e->state, &budgets[i]);
        hydra_bot_slot *slot = find_slot(e, budgets[i].bot_id);
        if (rc == 0 && slot != NULL) {
            slot->budget = budgets[i];
            slot->have_budget = 1;
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "portfoliobot_budget", slot->cfg->bot_id,
                           "{s:f,s:f,s:i,s:i}", "max_daily_loss", budgets[i].max_daily_loss,
                           "max_open_risk", budgets[i].max_open_risk, "max_trades_per_day",
                           budgets[i].max_trades_per_day, "max_concurrent_positions",
                           budgets[i].max_concurrent_positions);
        }
    }
    if (rc != 0) {
        for (int i = 0; i < e->n_slots; i++)
            e->slots[i].have_budget = 0;
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "portfoliobot_error", NULL, "{s:s,s:s}", "error",
                       hydra_strerror(rc), "effect", "budgets missing: bots refuse entries");
    }
    return rc;
}

/* ---- bootstrap: day rollover and the journal ---- */

static int bootstrap(hydra_engine *e, int64_t now)
{
    char day[11];
    hydra_day_key(now, day, sizeof day);
    if (strcmp(day, e->day) != 0) {
        hydra_broker_err err = {0};
        int rc = e->broker.ops->account(e->broker.ctx, &e->account, &err);
        if (rc != 0) {
            /* Transient: the rollover (and its budgets) waits for the next tick; no entries now. */
            hydra_engine_broker_failure(e, "account", &err);
            e->account_unread = 1;
            return hydra_engine_read_failed(e, rc, "account unreadable at the day rollover");
        }
        if (!isfinite(e->account.equity) || e->account.equity <= 0)
            return HYDRA_EMALFORMED;
        /* The first account read names the account in every order id; a change is ExitBot's to halt. */
        char why[400];
        if (e->account_key[0] == '\0' && hydra_orders_learn_account(e, &e->account, why, sizeof why) < 0)
            return HYDRA_ESTATE;
        char prev[11];
        snprintf(prev, sizeof prev, "%s", e->day);
        if (prev[0] != '\0' && e->day_start_equity > 0)
            hydra_notify_event(e->notify, "daily_summary", NULL,
                               "%s closed: equity %.2f (start %.2f, PnL %+.2f)", prev,
                               e->account.equity, e->day_start_equity,
                               e->account.equity - e->day_start_equity);
        snprintf(e->day, sizeof e->day, "%s", day);
        e->day_start_equity = e->account.equity;
        e->last_equity = e->account.equity;
        if (hydra_kv_set_str(e->state, "day_key", day) != 0 ||
            hydra_kv_set_double(e->state, "day_start_equity", e->day_start_equity) != 0)
            return HYDRA_ESTATE;
        hydra_health_reset(&e->health);
        for (int i = 0; i < e->n_slots; i++) {
            e->slots[i].quarantined = 0;
            e->slots[i].quarantine_reason[0] = '\0';
            /* A new trading day gives a failed worker its restarts back, starting now. */
            e->slots[i].restarts_today = 0;
            e->slots[i].restarts_exhausted_logged = 0;
            e->slots[i].backoff_ms = e->cfg->settings.workers.restart_backoff_ms;
            e->slots[i].restart_at_us = 0;
            /* Quarantines last a day, so do the strikes that lead to them. */
            hydra_strikes_clear(&e->slots[i].deadline_misses);
            hydra_strikes_clear(&e->slots[i].logq.throttled);
        }
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "day_rollover", NULL, "{s:s,s:s,s:f}", "from",
                       prev, "to", day, "day_start_equity", e->day_start_equity);
        hydra_loop_portfolio(e);
    }
    int rc = hydra_orders_sync(e);
    /*
     * A sync that failed on a broker call is counted by health. Transient:
     * the tick goes on without it (no entries on a journal not up to date);
     * a refusal is an order answered (a resend refused); permanent halts.
     */
    if (hydra_broker_classify(rc) == HYDRA_FAILURE_REFUSED)
        return 0;
    if (!hydra_err_is_broker(rc))
        return rc;
    return hydra_engine_read_failed(e, rc, "orders not synced with the broker");
}

/* ---- the broker's calendar: today's session, read once a day ---- */

static void refresh_session(hydra_engine *e, int64_t now)
{
    if (e->broker.ops->calendar == NULL)
        return;
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);
    if (e->session_date == lt.date)
        return;
    hydra_session days[4];
    size_t n = 0;
    hydra_broker_err err = {0};
    int rc = e->broker.ops->calendar(e->broker.ctx, lt.date, lt.date, days, 4, &n, &err);
    if (rc != 0) {
        /* Not known: equity and option entries wait (crypto does not); asked again next tick. */
        hydra_engine_broker_failure(e, "calendar", &err);
        return;
    }
    e->session_date = lt.date;
    e->session_today = n > 0 && days[0].date == lt.date;
    if (e->session_today)
        e->session = days[0];
    char open_s[32] = "", close_s[32] = "";
    if (e->session_today) {
        hydra_format_utc(e->session.open_ms, open_s, sizeof open_s);
        hydra_format_utc(e->session.close_ms, close_s, sizeof close_s);
    }
    hydra_log_pack(e->log, HYDRA_LOG_INFO, "market_session", NULL, "{s:i,s:b,s:s,s:s}", "date",
                   lt.date, "trading_day", e->session_today, "open", open_s, "close", close_s);
}

/*
 * Equity and option entries: only while the broker's clock says open and,
 * when the broker has a calendar, inside today's session (early closes
 * count). NULL when entries may go out, else why not.
 */
static const char *market_hours_refusal(hydra_engine *e, int64_t now, char *buf, size_t bufsz)
{
    if (!e->market.have_mclock || !e->market.mclock.is_open)
        return "market closed (broker clock)";
    if (e->broker.ops->calendar == NULL)
        return NULL;
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);
    if (e->session_date != lt.date)
        return "today's session unknown (broker calendar not read)";
    if (!e->session_today)
        return "no session today (broker calendar)";
    if (now < e->session.open_ms || now >= e->session.close_ms) {
        char o[32], c[32];
        hydra_format_utc(e->session.open_ms, o, sizeof o);
        hydra_format_utc(e->session.close_ms, c, sizeof c);
        snprintf(buf, bufsz, "outside today's session %s to %s (broker calendar)", o, c);
        return buf;
    }
    return NULL;
}

/*
 * The market clock the host's exits see: the broker's, with today's close
 * taken from the calendar when it is known, so flatten_before_close keeps
 * an early close. NULL when no clock is known this tick.
 */
static const hydra_market_clock *exit_clock(hydra_engine *e, int64_t now, hydra_market_clock *mc)
{
    if (!e->market.have_mclock)
        return NULL;
    *mc = e->market.mclock;
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);
    if (e->session_date == lt.date && e->session_today && now >= e->session.open_ms)
        mc->next_close_ms = e->session.close_ms;
    return mc;
}

/* ---- the market snapshot ---- */

/* Adds a symbol once; 0, or HYDRA_EFULL when the snapshot has no room left. */
static int add_symbol(const char **symbols, size_t *n, const char *symbol)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(symbols[i], symbol) == 0)
            return 0;
    if (*n >= HYDRA_MARKET_MAX_SYMBOLS)
        return HYDRA_EFULL;
    symbols[(*n)++] = symbol;
    return 0;
}

static int refresh_market(hydra_engine *e, int64_t now)
{
    const char *symbols[HYDRA_MARKET_MAX_SYMBOLS];
    hydra_chain_request chains[HYDRA_MARKET_MAX_CHAINS];
    size_t n = 0, n_chains = 0;
    hydra_bot_position pos[256];
    size_t np = 0;
    hydra_broker_err err = {0};
    int rc = 0;

    for (int i = 0; i < e->n_slots && rc == 0; i++) {
        const hydra_bot_cfg *b = e->slots[i].cfg;
        if (!b->enabled)
            continue;
        hydra_chain_filter rules = hydra_chain_filter_of(b);
        /* A bot that asks for its chain (hydra.options-chain/1) fetches it only when it wants to buy. */
        int eager_chain = b->asset_class == HYDRA_ASSET_OPTION &&
                          !(e->slots[i].loaded && hydra_runner_asks_chain(e->slots[i].run));
        for (int k = 0; k < b->n_symbols && rc == 0; k++) {
            if (eager_chain)
                rc = hydra_chain_request_add(chains, HYDRA_MARKET_MAX_CHAINS, &n_chains,
                                             b->symbols[k], &rules);
            if (rc == 0)
                rc = add_symbol(symbols, &n, b->symbols[k]);
        }
    }
    /* Held contracts are priced by symbol, whatever today's chain rules offer. */
    if (rc == 0)
        rc = hydra_position_list(e->state, NULL, pos, 256, &np);
    for (size_t i = 0; i < np && rc == 0; i++)
        rc = add_symbol(symbols, &n, pos[i].symbol);
    if (rc != 0) {
        /* Never a partial snapshot: a bot or a position without its price is not traded blind. */
        hydra_broker_fail(&err, rc, 0, "snapshot: more symbols, chains or positions than it holds (%s)",
                          hydra_strerror(rc));
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "market_snapshot_failed", NULL, "{s:s}", "error",
                       err.msg);
        return rc;
    }

    int bar_seconds = e->sim != NULL ? e->cfg->settings.sim.bar_seconds : 60;
    rc = hydra_market_refresh(&e->market, &e->broker, symbols, n, chains, n_chains, bar_seconds,
                              now, &err);
    if (rc != 0) {
        /* Transient: no entries this tick ("no market data"); refused or malformed: a halt. */
        hydra_engine_broker_failure(e, "market_snapshot", &err);
        if (hydra_broker_classify(rc) != HYDRA_FAILURE_TRANSIENT)
            hydra_engine_read_failed(e, rc, "market snapshot");
        return rc;
    }
    hydra_health_record_prices(&e->health, hydra_monotonic_ms());
    return 0;
}

/* ---- building a bot's snapshot ---- */

static double multiplier_of(unsigned asset_class)
{
    return asset_class == HYDRA_ASSET_OPTION ? 100.0 : 1.0;
}




/*
 * The bot's own working orders from the journal (ABI 1.1). Only rows whose
 * owner is this bot: what another bot or a stranger has working is none of
 * its business, and naming it could only lead to a refused cancel.
 */
static uint32_t list_orders(const hydra_engine *e, const char *bot_id, hydra_order_view *ord,
                            const hydra_order_view **ord_p)
{
    uint32_t n = 0;
    for (size_t i = 0; i < e->n_open_orders && n < HYDRA_MAX_OPEN_ORDERS; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        if (strcmp(o->bot_id, bot_id) != 0 || hydra_order_state_final(o->state))
            continue;
        hydra_order_view *v = &ord[n];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->kind = (uint32_t)o->kind;
        v->side = (uint32_t)o->side;
        v->type = (uint32_t)o->type;
        v->asset_class = (uint32_t)o->asset_class;
        v->state = o->state == HYDRA_ORD_PENDING_SUBMIT ? HYDRA_ORDER_VIEW_PENDING
                                                         : HYDRA_ORDER_VIEW_OPEN;
        v->client_order_id = o->client_order_id;
        v->symbol = o->symbol;
        v->qty = o->qty;
        v->filled_qty = o->filled_qty;
        v->limit_price = o->type == HYDRA_ORDER_LIMIT ? o->limit_price : 0;
        v->submitted_ms = o->created_ms;
        ord_p[n++] = v;
    }
    return n;
}

static void build_snapshot(hydra_engine *e, hydra_bot_slot *slot, int64_t now, size_t npos)
{
    snap_scratch *s = scratch_of(e);
    const hydra_bot_cfg *b = slot->cfg;
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);

    uint32_t ns = 0;
    for (int k = 0; k < b->n_symbols; k++) {
        const hydra_market_symbol *m = hydra_market_find(&e->market, b->symbols[k]);
        hydra_symbol_view *v = &s->sym[ns];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->symbol = b->symbols[k];
        v->asset_class = hydra_symbol_asset_class(b->symbols[k]);
        if (m != NULL) {
            v->last_price = m->price;
            v->last_time_ms = m->t_ms;
            v->bars = m->bars;
            v->n_bars = (uint32_t)m->n_bars;
        } else {
            v->last_price = NAN;
        }
        s->sym_p[ns++] = v;
    }

    for (size_t i = 0; i < npos; i++) {
        hydra_position_view_of(&s->bpos[i], hydra_market_price(&e->market, s->bpos[i].symbol),
                               &s->pos[i]);
        s->pos_p[i] = &s->pos[i];
    }

    /* Options bots see their underlyings' chains, filtered by chain_rules, unless they ask. */
    uint32_t no = 0;
    if (b->asset_class == HYDRA_ASSET_OPTION && !hydra_runner_asks_chain(slot->run))
        no = hydra_market_snapshot_chain(&e->market, &e->broker, b, lt.date, s->opt, s->opt_p);

    hydra_bot_day day = {0};
    hydra_bot_day_get(e->state, b->bot_id, e->day, &day);
    int working = 0;
    double working_risk = 0, open_risk = 0;
    hydra_orders_working_entries(e, b, &working, &working_risk);
    for (size_t i = 0; i < npos; i++)
        open_risk += hydra_gates_order_risk(b, s->bpos[i].qty * s->bpos[i].avg_price *
                                                   s->bpos[i].multiplier);
    memset(&s->budget, 0, sizeof s->budget);
    s->budget.struct_size = sizeof s->budget;
    if (slot->have_budget) {
        s->budget.max_daily_loss = slot->budget.max_daily_loss;
        s->budget.max_open_risk = slot->budget.max_open_risk;
        int left = slot->budget.max_trades_per_day - day.trades;
        s->budget.trades_left_today = left > 0 ? (uint32_t)left : 0;
        s->budget.max_concurrent_positions = (uint32_t)slot->budget.max_concurrent_positions;
    }
    s->budget.open_risk_used = open_risk + working_risk;
    s->budget.realized_pnl_today = day.realized_pnl;
    s->budget.positions_open = (uint32_t)(npos + (size_t)working);
    s->budget.stop_loss_pct = b->stop_loss_pct;

    memset(&s->snap, 0, sizeof s->snap);
    s->snap.struct_size = sizeof s->snap;
    s->snap.tick = e->tick;
    s->snap.now_ms = now;
    s->snap.local_date = lt.date;
    s->snap.local_minute = lt.minute_of_day;
    s->snap.symbols = s->sym_p;
    s->snap.n_symbols = ns;
    s->snap.positions = s->pos_p;
    s->snap.n_positions = (uint32_t)npos;
    s->snap.options = s->opt_p;
    s->snap.n_options = no;
    s->snap.budget = &s->budget;
    s->snap.n_orders = list_orders(e, b->bot_id, s->ord, s->ord_p);
    s->snap.orders = s->ord_p;
}

/* ---- intents: structure, gates, submission ---- */

/* An option the bot may buy: in its underlyings' chain this tick and inside its chain rules. */
static int option_offered(hydra_engine *e, const hydra_bot_cfg *b, const char *symbol)
{
    hydra_local_time lt;
    hydra_local_from_utc(hydra_clock_now_ms(&e->clock), &lt);
    return hydra_market_offers(&e->market, b, symbol, lt.date);
}

int hydra_loop_option_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                            hydra_option_view *out, uint32_t cap)
{
    hydra_engine *e = ctx;
    hydra_bot_slot *slot = find_slot(e, bot_id);
    if (slot == NULL || slot->cfg->asset_class != HYDRA_ASSET_OPTION ||
        !hydra_bot_declares(slot->cfg, underlying)) {
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "chain_refused", bot_id, "{s:s,s:s}", "underlying",
                       underlying, "reason", "not an underlying this options bot declares");
        return HYDRA_EINVAL;
    }
    hydra_local_time lt;
    hydra_local_from_utc(hydra_clock_now_ms(&e->clock), &lt);
    hydra_broker_err err = {0};
    int rc = hydra_market_bot_chain(&e->market, &e->broker, slot->cfg, underlying, rights, lt.date,
                                    out, cap, &err);
    if (rc < 0)
        hydra_engine_broker_failure(e, "option_chain", &err);
    return rc;
}

static void fill_facts(hydra_engine *e, hydra_bot_slot *slot, const hydra_intent *in,
                       size_t npos, hydra_bot_day *day, hydra_gate_facts *f)
{
    snap_scratch *s = scratch_of(e);
    const hydra_bot_cfg *b = slot->cfg;
    memset(f, 0, sizeof *f);
    f->bot = b;
    f->budget = slot->have_budget ? &slot->budget : NULL;
    f->day = day;
    int working = 0;
    double working_risk = 0;
    hydra_orders_working_entries(e, b, &working, &working_risk);
    f->positions_open = (int)npos + working;
    f->open_risk_used = working_risk;
    for (size_t i = 0; i < npos; i++)
        f->open_risk_used += hydra_gates_order_risk(b, s->bpos[i].qty * s->bpos[i].avg_price *
                                                           s->bpos[i].multiplier);
    f->orders_last_minute = hydra_orders_count_since(e, hydra_clock_now_ms(&e->clock) - 60000);
    f->max_orders_per_minute = e->cfg->settings.max_orders_per_minute;
    unsigned ac = hydra_symbol_asset_class(in->symbol);
    f->last_price = hydra_market_price(&e->market, in->symbol);
    /* A symbol the broker's answers have left out for too long has no trustworthy price. */
    if (hydra_market_symbol_stale(&e->market, in->symbol, hydra_clock_now_ms(&e->clock),
                                  (int64_t)e->cfg->settings.max_price_staleness_seconds * 1000))
        f->last_price = NAN;
    if (ac == HYDRA_ASSET_OPTION && in->side == HYDRA_SIDE_BUY) {
        const hydra_option_quote *q = hydra_market_option(&e->market, in->symbol);
        if (q != NULL)
            f->last_price = q->ask; /* what a buy will pay */
    }
    f->multiplier = multiplier_of(ac);
    f->spendable_cash = hydra_portfolio_spendable_cash(&e->cfg->portfolio, e->account.cash,
                                                       e->account.equity);
    f->max_notional_per_order = e->cfg->settings.max_notional_per_order;
    f->max_limit_distance_pct = e->cfg->settings.max_limit_distance_pct;
    f->symbol_known = ac == HYDRA_ASSET_OPTION ? option_offered(e, b, in->symbol)
                                               : hydra_bot_declares(b, in->symbol);
    f->held_qty = 0;
    for (size_t i = 0; i < npos; i++)
        if (strcmp(s->bpos[i].symbol, in->symbol) == 0)
            f->held_qty = s->bpos[i].qty;
    f->held_qty -= hydra_orders_working_qty(e, b->bot_id, in->symbol, HYDRA_SIDE_SELL);
    if (f->held_qty < 0)
        f->held_qty = 0;
}

/*
 * A bot's cancel (ABI 1.1): only one of its own working orders, found in
 * the journal by client order id and owner, and cancelled at the broker by
 * the broker's id as a halt does. Anything else (another bot's order, a
 * stranger's, an unknown or finished one) is a gate rejection (gate
 * "cancel"), and the broker is never asked. The journal row learns the
 * outcome from the next sync, like any order's end.
 */
static void handle_cancel(hydra_engine *e, hydra_bot_slot *slot, const hydra_intent *in,
                          const char *source)
{
    const char *bot_id = slot->cfg->bot_id;
    const hydra_journal_order *o = NULL;
    for (size_t i = 0; i < e->n_open_orders; i++)
        if (strcmp(e->open_orders[i].client_order_id, in->client_order_id) == 0) {
            o = &e->open_orders[i];
            break;
        }
    const char *refusal = NULL;
    if (o == NULL || strcmp(o->bot_id, bot_id) != 0)
        refusal = "not one of the bot's working orders"; /* never says whose it is */
    else if (hydra_order_state_final(o->state))
        refusal = "the order is no longer working";
    else if (o->broker_id[0] == '\0')
        refusal = "the order has not reached the broker yet";
    if (refusal != NULL) {
        hydra_metrics_order(e->metrics, HYDRA_METRIC_ORDER_GATE_BLOCKED);
        /* A gate rejection like any other intent's: counted, logged, never sent. */
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "gate_reject", bot_id, "{s:s,s:s,s:s,s:s,s:s}",
                       "source", source, "gate", "cancel", "client_order_id",
                       in->client_order_id, "detail", refusal, "bot_reason", in->reason);
        return;
    }
    hydra_broker_err err = {0};
    int rc = e->broker.ops->cancel_order(e->broker.ctx, o->broker_id, &err);
    if (rc == 0 || rc == HYDRA_ENOTFOUND || rc == HYDRA_EREJECTED) {
        /* Gone or no longer cancelable: the sync settles the row either way. */
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "bot_cancel", bot_id, "{s:s,s:s,s:s,s:s,s:s,s:s}",
                       "source", source, "client_order_id", o->client_order_id, "order_id",
                       o->broker_id, "symbol", o->symbol, "outcome",
                       rc == 0 ? "canceled" : "no longer cancelable", "bot_reason", in->reason);
        return;
    }
    hydra_engine_broker_failure(e, "cancel_order", &err);
}

/* Gates one intent and, when it passes, journals and sends it. */
static void handle_intent(hydra_engine *e, hydra_bot_slot *slot, hydra_intent *in, size_t npos,
                          const char *source)
{
    if (in->kind == HYDRA_INTENT_CANCEL) {
        in->reason[sizeof in->reason - 1] = '\0';
        handle_cancel(e, slot, in, source);
        return;
    }
    hydra_bot_day day = {0};
    hydra_bot_day_get(e->state, slot->cfg->bot_id, e->day, &day);
    in->asset_class = hydra_symbol_asset_class(in->symbol); /* the host decides, not the bot */
    in->reason[sizeof in->reason - 1] = '\0';
    hydra_gate_facts f;
    fill_facts(e, slot, in, npos, &day, &f);
    hydra_gate_result r;
    if (in->kind == HYDRA_INTENT_ENTRY)
        hydra_gates_entry(&f, in, &r);
    else
        hydra_gates_exit(&f, in, &r);
    if (!r.pass) {
        hydra_metrics_order(e->metrics, HYDRA_METRIC_ORDER_GATE_BLOCKED);
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "gate_reject", slot->cfg->bot_id,
                       "{s:s,s:s,s:s,s:s,s:s}", "source", source, "symbol", in->symbol, "gate",
                       r.gate, "detail", r.detail, "bot_reason", in->reason);
        return;
    }
    if (r.resized)
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "gate_resized", slot->cfg->bot_id,
                       "{s:s,s:f,s:f,s:s}", "symbol", in->symbol, "qty", in->qty, "notional",
                       in->notional, "detail", r.detail);
    if (in->type == HYDRA_ORDER_LIMIT && in->notional > 0) {
        /* Brokers take dollar amounts on market orders only: a limit order is sent as the
         * quantity the notional buys at the limit, rounded down to 1e-9. */
        in->qty = floor(in->notional / in->limit_price * 1e9) / 1e9;
        in->notional = 0;
    }
    char reason[128];
    snprintf(reason, sizeof reason, "%s: %.100s", source, in->reason);
    if (hydra_orders_submit(e, slot, in, reason, NULL) == 0 && in->kind == HYDRA_INTENT_ENTRY)
        hydra_bot_day_add_trade(e->state, slot->cfg->bot_id, e->day);
}

/*
 * A bot's worker died with it (or was killed): it is restarted later with
 * backoff, so the bot can trade again once any quarantine ends.
 */
static void worker_lost(hydra_engine *e, hydra_bot_slot *slot, const char *why)
{
    if (!slot->run->process || hydra_worker_alive(&slot->run->worker))
        return;
    slot->worker_down = 1;
    slot->loaded = 0;
    if (slot->backoff_ms <= 0)
        slot->backoff_ms = e->cfg->settings.workers.restart_backoff_ms;
    slot->restart_at_us = hydra_monotonic_us() + (int64_t)slot->backoff_ms * 1000;
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "worker_failed", slot->cfg->bot_id, "{s:s,s:i,s:i,s:i}",
                   "cause", why, "restart_in_ms", slot->backoff_ms, "restarts_today",
                   slot->restarts_today, "restarts_per_day",
                   e->cfg->settings.workers.restarts_per_day);
}

/*
 * A call passed its deadline. On a busy machine an honest bot can be late
 * once, so one miss costs the bot only this call: its answer is ignored and
 * the worker, which may be hung, is killed (sandbox.c did so) and restarted
 * with the usual backoff. A fresh worker is simpler and safer than reading
 * the late answer later: a hung worker would hold its slot's socket with a
 * half-finished exchange, and the next call would have to skip it. Only
 * misses that repeat (workers.deadline_misses_to_quarantine within
 * workers.deadline_window_ticks) quarantine the bot for the day.
 */
static void deadline_missed(hydra_engine *e, hydra_bot_slot *slot, const char *why)
{
    const hydra_workers_cfg *wc = &e->cfg->settings.workers;
    int misses = hydra_strikes_add(&slot->deadline_misses, e->tick, wc->deadline_window_ticks);
    int quarantine_now = misses >= wc->deadline_misses_to_quarantine;
    hydra_log_pack(e->log, HYDRA_LOG_WARN, "bot_deadline_missed", slot->cfg->bot_id,
                   "{s:s,s:i,s:i,s:i,s:s}", "cause", why, "misses_in_window", misses,
                   "quarantine_at", wc->deadline_misses_to_quarantine, "window_ticks",
                   wc->deadline_window_ticks, "effect",
                   quarantine_now ? "answer ignored; bot quarantined"
                                  : "answer ignored this tick; worker restarted");
    if (quarantine_now) {
        char reason[256];
        snprintf(reason, sizeof reason, "%d deadline misses within %d ticks (last: %.160s)", misses,
                 wc->deadline_window_ticks, why);
        hydra_loop_quarantine(e, slot, reason);
    }
    worker_lost(e, slot, why);
}

/*
 * A bot failed. A missed deadline is handled by deadline_missed; any other
 * failure (a crash, a protocol violation, a corrupted buffer) quarantines
 * the bot for the day, and a worker that died with it is restarted.
 */
static void bot_failed(hydra_engine *e, hydra_bot_slot *slot, int rc, const char *why)
{
    if (rc == HYDRA_ETIMEDOUT && slot->run->process) {
        deadline_missed(e, slot, why);
        return;
    }
    hydra_loop_quarantine(e, slot, why);
    worker_lost(e, slot, why);
}

void hydra_loop_restart_workers(hydra_engine *e)
{
    const hydra_workers_cfg *wc = &e->cfg->settings.workers;
    int64_t now = hydra_monotonic_us();
    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        if (!slot->worker_down || now < slot->restart_at_us)
            continue;
        if (slot->restarts_today >= wc->restarts_per_day) {
            if (!slot->restarts_exhausted_logged)
                hydra_log_pack(e->log, HYDRA_LOG_ERROR, "worker_restarts_exhausted",
                               slot->cfg->bot_id, "{s:i,s:s}", "restarts_today",
                               slot->restarts_today, "effect",
                               "the bot stays down until the next trading day");
            slot->restarts_exhausted_logged = 1;
            continue;
        }
        char err[512] = "";
        hydra_worker_peer peer = {&e->svc, slot->cfg->bot_id};
        hydra_runner_unload(slot->run);
        slot->restarts_today++;
        e->svc_slot = slot;
        int rc = hydra_runner_load(slot->run, 1, &e->limits, e->opt.plugins_dir, slot->cfg, &peer,
                                   err, sizeof err);
        e->svc_slot = NULL;
        int next = slot->backoff_ms * 2 < 60000 ? slot->backoff_ms * 2 : 60000;
        if (rc != 0) {
            slot->backoff_ms = next > 0 ? next : 1;
            slot->restart_at_us = now + (int64_t)slot->backoff_ms * 1000;
            hydra_log_pack(e->log, HYDRA_LOG_ERROR, "worker_restart_failed", slot->cfg->bot_id,
                           "{s:s,s:i,s:i}", "error", err, "restart_in_ms", slot->backoff_ms,
                           "restarts_today", slot->restarts_today);
            continue;
        }
        slot->backoff_ms = next;
        slot->worker_down = 0;
        slot->loaded = 1;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "worker_restarted", slot->cfg->bot_id,
                       "{s:i,s:i,s:b}", "pid", (int)slot->run->worker.pid, "restarts_today",
                       slot->restarts_today, "quarantined", slot->quarantined);
    }
}

void hydra_loop_on_fill(hydra_engine *e, hydra_bot_slot *slot, const hydra_fill *fill)
{
    char why[256];
    hydra_worker_peer peer = {&e->svc, slot->cfg->bot_id};
    e->svc_slot = slot;
    int rc = hydra_runner_fill(slot->run, fill, &peer, e->call_deadline_ms, why, sizeof why);
    e->svc_slot = NULL;
    if (rc != 0)
        bot_failed(e, slot, rc, why);
}

/* Runs a bot callback and handles its intents; a failing bot is quarantined. */
/*
 * The bot's open positions into the scratch. A state that cannot say what a
 * bot holds is not read as "nothing": the bot is skipped for this tick.
 */
static int list_positions(hydra_engine *e, const hydra_bot_slot *slot, size_t *npos)
{
    *npos = 0;
    int rc = hydra_position_list(e->state, slot->cfg->bot_id, scratch_of(e)->bpos,
                                 MAX_BOT_POSITIONS, npos);
    if (rc != 0)
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "positions_unreadable", slot->cfg->bot_id,
                       "{s:s,s:s}", "error", hydra_strerror(rc), "effect",
                       "bot skipped this tick");
    return rc;
}

/*
 * Starts a manage or on_tick call: an in-process bot answers at once, a
 * worker is sent its snapshot and computes while the host starts the others.
 */
static void start_call(hydra_engine *e, hydra_bot_slot *slot, int entries, int64_t now)
{
    snap_scratch *s = scratch_of(e);
    size_t npos;
    if (list_positions(e, slot, &npos) != 0)
        return;
    build_snapshot(e, slot, now, npos);
    hydra_intent_buf *buf = &slot->call_buf;
    memset(buf, 0, sizeof *buf);
    buf->struct_size = sizeof *buf;
    buf->item_size = sizeof(hydra_intent);
    buf->capacity = HYDRA_MAX_INTENTS;
    buf->items = slot->call_intents;
    slot->call_status = 0;
    char why[256];
    e->svc_slot = slot; /* an in-process bot runs the call now */
    int rc = hydra_runner_start(slot->run, entries ? HYDRA_WIRE_CALL_ON_TICK : HYDRA_WIRE_CALL_MANAGE,
                                &s->snap, buf, e->call_deadline_ms, &slot->call_status, why,
                                sizeof why);
    e->svc_slot = NULL;
    if (rc != 0) {
        bot_failed(e, slot, rc, why);
        return;
    }
    slot->call_started = 1;
}

/*
 * Serves the started calls' workers in the order they ask (see
 * hydra_runners_gather), so answers are then collected in rank order
 * without one slow bot holding up another's requests.
 */
static void gather_calls(hydra_engine *e)
{
    hydra_bot_runner *rs[HYDRA_MAX_BOTS];
    hydra_worker_peer peers[HYDRA_MAX_BOTS];
    size_t n = 0;
    for (int i = 0; i < e->n_slots && n < HYDRA_MAX_BOTS; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        if (!slot->call_started)
            continue;
        rs[n] = slot->run;
        peers[n].svc = &e->svc;
        peers[n].bot_id = slot->cfg->bot_id;
        n++;
    }
    hydra_runners_gather(rs, peers, n);
}

/* Collects a started call and acts on its intents; a failing bot is quarantined. */
static void collect_call(hydra_engine *e, hydra_bot_slot *slot, int entries)
{
    if (!slot->call_started)
        return;
    slot->call_started = 0;
    const char *call = entries ? "on_tick" : "manage";
    char why[256];
    hydra_worker_peer peer = {&e->svc, slot->cfg->bot_id};
    e->svc_slot = slot; /* a worker's log and state requests are served now */
    int rc = hydra_runner_finish(slot->run, &peer, &slot->call_buf, &slot->call_status, why,
                                 sizeof why);
    e->svc_slot = NULL;
    if (rc != 0) {
        bot_failed(e, slot, rc, why);
        return;
    }
    int n = hydra_gates_check_reply(call, slot->call_status, &slot->call_buf, slot->call_intents,
                                    HYDRA_MAX_INTENTS, entries, why, sizeof why);
    if (n < 0) {
        hydra_loop_quarantine(e, slot, why);
        return;
    }
    size_t npos;
    if (list_positions(e, slot, &npos) != 0)
        return;
    for (int i = 0; i < n; i++)
        handle_intent(e, slot, &slot->call_intents[i], npos, entries ? "bot_on_tick" : "bot_manage");
}

/* The seed's preflight doctrine: NULL when the bot may enter, else the reason. */
static const char *preflight(hydra_engine *e, hydra_bot_slot *slot, int64_t now, int market_ok,
                             char *buf, size_t bufsz)
{
    const hydra_bot_cfg *b = slot->cfg;
    if (e->halted)
        return "global halt";
    if (e->state_unwritable)
        return "state database not writable";
    if (e->entry_block[0] != '\0')
        return e->entry_block;
    if (e->rate_limited_until_ms > wall_now_ms()) {
        char until_s[32];
        hydra_format_utc(e->rate_limited_until_ms, until_s, sizeof until_s);
        snprintf(buf, bufsz, "rate limited until %s", until_s);
        return buf;
    }
    if (!b->enabled)
        return "disabled";
    if (!slot->loaded)
        return "not loaded";
    if (slot->quarantined) {
        snprintf(buf, bufsz, "quarantined: %s", slot->quarantine_reason);
        return buf;
    }
    if (!slot->have_budget)
        return "missing budgets";
    if (!slot->budget.allowed || !slot->budget.enabled)
        return "disallowed";
    if (!(slot->budget.max_daily_loss > 0 && slot->budget.max_daily_loss < 1e12 &&
          slot->budget.max_open_risk > 0 && slot->budget.max_open_risk < 1e12))
        return "invalid budgets";
    if (b->bar_timeframe != HYDRA_BARS_DAY && /* daily bars: every trading day is inside */
        !hydra_in_window(now, b->trade_start_min, b->trade_end_min))
        return "outside trade window";
    char hreason[200];
    if (hydra_health_check(&e->health, hydra_monotonic_ms(), hreason, sizeof hreason) !=
        HYDRA_HEALTH_OK) {
        snprintf(buf, bufsz, "health: %s", hreason);
        return buf;
    }
    if (!market_ok)
        return "no market data this tick";
    if (b->asset_class != HYDRA_ASSET_CRYPTO)
        return market_hours_refusal(e, now, buf, bufsz);
    return NULL;
}

/* Host-enforced exits for one bot's positions, whatever the bot's state. */
static void host_exits(hydra_engine *e, hydra_bot_slot *slot, int64_t now, size_t npos)
{
    snap_scratch *s = scratch_of(e);
    hydra_market_clock mc;
    const hydra_market_clock *mcp = exit_clock(e, now, &mc);
    for (size_t i = 0; i < npos; i++) {
        const hydra_bot_position *p = &s->bpos[i];
        double price = hydra_market_price(&e->market, p->symbol);
        hydra_exit_reason why = hydra_exit_check(slot->cfg, p, price, now, mcp);
        if (why == HYDRA_EXIT_NONE)
            continue;
        double working = hydra_orders_working_qty(e, p->bot_id, p->symbol, HYDRA_SIDE_SELL);
        if (working >= p->qty - 1e-12)
            continue; /* already on its way out */
        hydra_intent in = {0};
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_EXIT;
        in.side = HYDRA_SIDE_SELL;
        in.type = HYDRA_ORDER_MARKET;
        in.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
        snprintf(in.symbol, sizeof in.symbol, "%s", p->symbol);
        in.qty = p->qty - working;
        snprintf(in.reason, sizeof in.reason, "%s at %.4f (entry %.4f)", hydra_exit_reason_name(why),
                 price, p->avg_price);
        /* A position leaving by the host's exit rule ("host_exit" before; not the process). */
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "exit_rule", slot->cfg->bot_id,
                       "{s:s,s:s,s:f,s:f,s:f}", "symbol", p->symbol, "rule",
                       hydra_exit_reason_name(why), "price", price, "avg_price", p->avg_price, "qty",
                       in.qty);
        handle_intent(e, slot, &in, npos, "exit_rule");
    }
}

void hydra_engine_status_line(hydra_engine *e, int64_t now, char *buf, size_t size)
{
    hydra_local_time lt;
    hydra_local_from_utc(now, &lt);
    hydra_bot_position pos[256];
    size_t np = 0;
    hydra_position_list(e->state, NULL, pos, 256, &np);
    int quarantined = 0;
    for (int i = 0; i < e->n_slots; i++)
        quarantined += e->slots[i].quarantined != 0;
    char hreason[200] = "ok";
    hydra_health_status hs = hydra_health_check(&e->health, hydra_monotonic_ms(), hreason,
                                                sizeof hreason);
    char halt[200] = "trading";
    hydra_halt h = {0};
    if (e->halted && hydra_halt_get(e->state, &h) == 0 && h.active)
        snprintf(halt, sizeof halt, "HALTED (%s: %.120s)", h.source, h.reason);
    else if (e->halted)
        snprintf(halt, sizeof halt, "HALTED");
    snprintf(buf, size,
             "%04d-%02d-%02d %02d:%02d tick %llu  equity %.2f  day pnl %+.2f  positions %zu  "
             "open orders %zu  quarantined %d  health %s  %s",
             lt.year, lt.month, lt.day, lt.hour, lt.minute, (unsigned long long)e->tick,
             e->account.equity, e->account.equity - e->day_start_equity, np, e->n_open_orders,
             quarantined, hs == HYDRA_HEALTH_OK ? "ok" : hreason, halt);
}

/*
 * Step 5 in three passes over the bots in rank order: the host's exits for
 * every bot; then every bot's manage; then every bot whose preflight passes
 * gets on_tick. Within a pass every call is started before any answer is
 * collected, so bots in worker processes compute side by side; answers are
 * acted on in rank order, so the decisions do not depend on where a bot runs.
 */
static void execute(hydra_engine *e, int64_t now, int market_ok)
{
    for (int i = 0; i < e->n_slots; i++) {
        size_t npos;
        if (list_positions(e, &e->slots[i], &npos) == 0)
            host_exits(e, &e->slots[i], now, npos);
    }

    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        if (slot->loaded && !slot->quarantined && market_ok)
            start_call(e, slot, 0, now);
    }
    gather_calls(e);
    for (int i = 0; i < e->n_slots; i++)
        collect_call(e, &e->slots[i], 0);

    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        char buf[300];
        const char *skip = preflight(e, slot, now, market_ok, buf, sizeof buf);
        /* A bot skipped for the same reason tick after tick: one line when it starts and ends. */
        if (skip != NULL)
            hydra_log_repeat(e->log, HYDRA_LOG_INFO, "preflight_skip", slot->cfg->bot_id, NULL,
                             skip, json_pack("{s:s}", "reason", skip));
        else
            start_call(e, slot, 1, now);
    }
    gather_calls(e);
    for (int i = 0; i < e->n_slots; i++)
        collect_call(e, &e->slots[i], 1);
}

/* ---- quotas at the tick boundary ---- */

void hydra_loop_quota_tick(hydra_engine *e)
{
    const hydra_quotas_cfg *q = &e->cfg->settings.quotas;
    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        hydra_log_quota *lq = &slot->logq;
        if (lq->dropped_lines > 0) {
            int n = hydra_strikes_add(&lq->throttled, e->tick, q->log_throttle_window_ticks);
            hydra_log_pack(e->log, HYDRA_LOG_WARN, "bot_log_throttled", slot->cfg->bot_id,
                           "{s:i,s:I,s:i,s:I,s:I,s:i,s:i,s:i}", "dropped_lines",
                           lq->dropped_lines, "dropped_bytes", (json_int_t)lq->dropped_bytes,
                           "kept_lines", lq->lines, "kept_bytes", (json_int_t)lq->bytes,
                           "dropped_total", (json_int_t)lq->dropped_total,
                           "throttled_ticks_in_window", n, "quarantine_at",
                           q->log_throttled_ticks_to_quarantine, "window_ticks",
                           q->log_throttle_window_ticks);
            if (n >= q->log_throttled_ticks_to_quarantine) {
                char why[200];
                snprintf(why, sizeof why,
                         "log quota: throttled on %d ticks within %d (%d lines, %d bytes a tick "
                         "allowed)",
                         n, q->log_throttle_window_ticks, q->log_lines_per_tick,
                         q->log_bytes_per_tick);
                hydra_loop_quarantine(e, slot, why);
            }
        }
        hydra_log_quota_next_tick(lq);
    }
}

/* ---- finalize ---- */

/* The tick's closing account read: asked once per tick at most after a failure. */
static void finalize_account(hydra_engine *e)
{
    hydra_broker_err err = {0};
    if (e->account_unread)
        return;
    if (e->broker.ops->account(e->broker.ctx, &e->account, &err) != 0) {
        hydra_engine_broker_failure(e, "account", &err);
        e->account_unread = 1;
    }
}

/* A permanent broker failure anywhere in the tick halts (once; a halt already active stands). */
static void halt_on_permanent(hydra_engine *e)
{
    if (e->permanent_failure[0] == '\0' || e->halted)
        return;
    char reason[360];
    snprintf(reason, sizeof reason, "BROKER_FAIL: %s", e->permanent_failure);
    hydra_engine_halt(e, "broker", reason, e->cfg->settings.global_cooldown_minutes);
}

/* Rows of history retention may delete in one tick: a backlog goes in steps this small. */
#define PRUNE_ROWS_PER_TICK 200

/*
 * Retention of the state database's history (state.retention_days), after
 * the tick's orders: equity samples, closed orders and their fills older
 * than the retention go, PRUNE_ROWS_PER_TICK rows a tick at most, never an
 * open order or today's. One state_pruned line when a backlog is done.
 */
static void prune_history(hydra_engine *e, int64_t now)
{
    int days = e->cfg->settings.state.retention_days;
    if (days <= 0 || e->day[0] == '\0')
        return;
    hydra_prune_counts c;
    int rc = hydra_state_prune(e->state, now - (int64_t)days * 86400000, e->day,
                               PRUNE_ROWS_PER_TICK, &c);
    if (rc != 0) {
        const char *why = hydra_state_errmsg(e->state);
        hydra_log_repeat(e->log, HYDRA_LOG_WARN, "state_prune_failed", NULL, NULL, why,
                         json_pack("{s:s,s:s}", "error", why, "effect",
                                   "history kept for now; trading goes on"));
        return;
    }
    e->pruned.fills += c.fills;
    e->pruned.orders += c.orders;
    e->pruned.equity += c.equity;
    int total = e->pruned.fills + e->pruned.orders + e->pruned.equity;
    if (c.fills + c.orders + c.equity == 0 && total > 0) {
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "state_pruned", NULL, "{s:i,s:i,s:i,s:i}", "fills",
                       e->pruned.fills, "orders", e->pruned.orders, "equity_samples",
                       e->pruned.equity, "retention_days", days);
        memset(&e->pruned, 0, sizeof e->pruned);
    }
}

static void finalize(hydra_engine *e, int64_t now, int64_t started_us)
{
    /* An equity not read this tick is not written as if it were. */
    if (!e->account_unread)
        hydra_equity_insert(e->state, now, e->account.equity, e->account.cash);
    hydra_kv_set_int(e->state, "last_tick_ms", now);
    hydra_kv_set_int(e->state, "last_tick", (int64_t)e->tick);
    /*
     * The heartbeat `hydra-host status` reads: who ticks, since when, and the
     * tick's wall-clock time (engine time may be simulated), with the account
     * as last read. Written in the tick's batch, so it is never ahead of it.
     */
    json_t *hb = json_pack("{s:i,s:I,s:I,s:I,s:I,s:b,s:f,s:f,s:f}", "schema", 1, "pid",
                           (json_int_t)getpid(), "started_ms", (json_int_t)e->started_wall_ms,
                           "wall_ms", (json_int_t)wall_now_ms(), "tick", (json_int_t)e->tick,
                           "account_read", !e->account_unread, "equity", e->account.equity,
                           "cash", e->account.cash, "buying_power", e->account.buying_power);
    char *hb_s = hb != NULL ? json_dumps(hb, JSON_COMPACT) : NULL;
    if (hb_s != NULL)
        hydra_kv_set(e->state, "heartbeat", hb_s);
    free(hb_s);
    json_decref(hb);

    json_t *marks = json_object();
    for (size_t i = 0; i < e->market.n_symbols; i++)
        if (isfinite(e->market.symbols[i].price))
            json_object_set_new(marks, e->market.symbols[i].symbol,
                                json_real(e->market.symbols[i].price));
    char *marks_s = json_dumps(marks, JSON_COMPACT | JSON_SORT_KEYS);
    if (marks_s != NULL)
        hydra_kv_set(e->state, "marks", marks_s);
    free(marks_s);
    json_decref(marks);

    char hreason[200] = "ok";
    int64_t mono = hydra_monotonic_ms();
    hydra_health_status hs = hydra_health_check(&e->health, mono, hreason, sizeof hreason);
    json_t *health = json_pack("{s:s,s:s,s:i}", "status", hydra_health_status_name(hs), "reason",
                               hreason, "api_failures_in_window",
                               hydra_health_failures_in_window(&e->health, mono));
    char *health_s = health != NULL ? json_dumps(health, JSON_COMPACT) : NULL;
    if (health_s != NULL)
        hydra_kv_set(e->state, "health", health_s);
    free(health_s);
    json_decref(health);

    hydra_loop_quota_tick(e);
    prune_history(e, now);

    hydra_bot_position pos[256];
    size_t np = 0;
    hydra_position_list(e->state, NULL, pos, 256, &np);
    /* A repeated line not noted this tick has ended: said before the tick's summary. */
    hydra_log_repeats_round(e->log);
    int64_t took_us = hydra_monotonic_us() - started_us;
    hydra_log_pack(e->log, HYDRA_LOG_INFO, "tick_summary", NULL, "{s:f,s:f,s:i,s:i,s:i,s:b,s:I}",
                   "equity", e->account.equity, "cash", e->account.cash, "positions", (int)np,
                   "open_orders", (int)e->n_open_orders, "orders_sent", e->orders_sent, "halted",
                   e->halted, "took_us", (json_int_t)took_us);
    hydra_metrics_collect(e->metrics, e);
    /* No trading without durable state: entries stay refused until a commit succeeds. */
    e->state_unwritable = hydra_state_commit(e->state) != 0;
    if (e->state_unwritable) {
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "state_commit_failed", NULL, "{s:s,s:s}", "error",
                       hydra_state_errmsg(e->state), "effect", "entries refused until it succeeds");
        /* The tick's bot state writes may be gone with it: read the usage afresh. */
        for (int i = 0; i < e->n_slots; i++)
            e->slots[i].kv.known = 0;
        /* A halt this tick raised may not be on disk: a restart would not know it. */
        if (e->halt_raised && !e->fatal) {
            e->fatal = HYDRA_ESTATE;
            hydra_log_pack(e->log, HYDRA_LOG_ERROR, "halt_not_persisted", NULL, "{s:s,s:s}",
                           "error", hydra_state_errmsg(e->state), "effect",
                           "the host stops trading and exits with status 1");
        }
    }

    /* On a terminal, a status line a minute (the first after the first tick), unless --quiet. */
    int64_t mono_now = hydra_monotonic_ms();
    if (!e->opt.quiet && isatty(STDERR_FILENO) &&
        (e->status_line_ms == 0 || mono_now - e->status_line_ms >= HYDRA_STATUS_LINE_MS)) {
        e->status_line_ms = mono_now;
        char line[512];
        hydra_engine_status_line(e, now, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    /* The tick is complete: readers of /metrics see it whole, never half way through. */
    hydra_metrics_tick(e->metrics, hydra_monotonic_us() - started_us);
    hydra_metrics_publish(e->metrics);
    hydra_dashboard_collect(e->dashboard, e);
}

/*
 * The state database at the tick boundary: still the file the host opened,
 * not cut short (two stats, every tick), and now and then whole
 * (quick_check, every safety.state_quick_check_every_ticks ticks).
 */
static int check_state(hydra_engine *e, char *why, size_t whysz)
{
    int every = e->cfg->settings.state_quick_check_every_ticks;
    int rc = hydra_state_check_file(e->state, why, whysz);
    if (rc == 0 && every > 0 && e->tick % (uint64_t)every == 0)
        rc = hydra_state_quick_check(e->state, why, whysz);
    return rc;
}

/*
 * The state database is gone or damaged under the running host. Nothing
 * the host writes now is sure to survive it, and no order may leave
 * without a journal row that does: the host halts through the one halt
 * routine (persisted where it can be, logged, orders cancelled, positions
 * closed), and stops for good. The run ends with HYDRA_ESTATE, so the
 * process exits 1; the operator restores the database or starts over.
 */
static int state_lost(hydra_engine *e, const char *why)
{
    char reason[700];
    snprintf(reason, sizeof reason, "STATE_LOST: %s", why);
    hydra_engine_halt(e, "state", reason, e->cfg->settings.global_cooldown_minutes);
    e->fatal = HYDRA_ESTATE;
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "state_lost", NULL, "{s:s,s:s}", "reason", why,
                   "effect",
                   "trading stopped; the host exits with status 1; restore the state database "
                   "(or start over) and restart");
    hydra_state_commit(e->state);
    return e->fatal;
}

int hydra_engine_tick(hydra_engine *e)
{
    if (e->fatal)
        return e->fatal;
    int64_t started_us = hydra_monotonic_us();
    e->tick++;
    e->orders_sent = 0;
    e->halted = 0;
    e->halt_raised = 0;
    e->entry_block[0] = '\0';
    e->permanent_failure[0] = '\0';
    e->account_unread = 0;
    hydra_log_set_tick(e->log, e->tick);

    if (e->sim != NULL) {
        int rc = hydra_sim_step(e->sim);
        if (rc == HYDRA_EEOF) {
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "replay_finished", NULL, "{s:s}", "reason",
                           "every data series is exhausted");
            return HYDRA_EEOF;
        }
    }
    /*
     * Against the local exchange, engine time is the exchange's clock. A
     * transient failure to read it leaves the time where it was and skips
     * this tick's entries; a permanent one is a bootstrap failure.
     */
    int clock_rc = 0;
    if (e->sim == NULL && e->cfg->settings.alpaca.use_broker_clock)
        clock_rc = hydra_engine_read_failed(e, hydra_engine_adopt_broker_clock(e),
                                            "broker clock unreadable");
    int64_t now = hydra_clock_now_ms(&e->clock);
    char lost[600] = "";
    int state_rc = check_state(e, lost, sizeof lost);
    hydra_state_begin(e->state);
    if (state_rc != 0)
        return state_lost(e, lost);

    pick_up_unquarantines(e);
    take_dashboard_request(e);

    /* 1. Bootstrap. */
    int rc = clock_rc != 0 ? clock_rc : bootstrap(e, now);
    hydra_halt active = {0};
    if (rc < 0 && hydra_halt_get(e->state, &active) == 0 && active.active) {
        /* Already halted: the failure is logged; the halt and its cooloff stand as they are. */
        e->halted = 1;
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "bootstrap_failed", NULL, "{s:s,s:s}", "error",
                       hydra_strerror(rc), "halt", active.reason);
    } else if (rc < 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "BOOTSTRAP_FAIL: %s", hydra_strerror(rc));
        hydra_engine_halt(e, "bootstrap", reason, e->cfg->settings.global_cooldown_minutes);
    } else {
        /* 2. ExitBot. */
        rc = hydra_exitbot_run(e);
        if (rc < 0) {
            char reason[200];
            snprintf(reason, sizeof reason, "EXITBOT_FAIL: %s", hydra_strerror(rc));
            hydra_engine_halt(e, "exitbot", reason, e->cfg->settings.global_cooldown_minutes);
        }
    }

    /* 3. PortfolioBot ran at start and rollover; budgets are in the slots. */
    /* 4. Snapshot. */
    int market_ok = refresh_market(e, now) == 0;
    refresh_session(e, now);

    /* 5. Execution, every bot in rank order (failed workers first get their restart). */
    hydra_loop_restart_workers(e);
    execute(e, now, market_ok);

    /* 6. Finalize. */
    finalize_account(e);
    halt_on_permanent(e);
    finalize(e, now, started_us);
    return e->fatal;
}

/* ---- cadence ---- */

/* Sleeps until the deadline, a stop, or (polled every 100 ms) a dashboard button. */
static void sleep_until(int64_t deadline_us, volatile sig_atomic_t *stop, hydra_dashboard *dash)
{
    for (;;) {
        int64_t left = deadline_us - hydra_monotonic_us();
        if (left <= 0 || (stop != NULL && *stop) || hydra_dashboard_pending(dash))
            return;
        if (dash != NULL && left > 100000)
            left = 100000;
        struct timespec ts = {left / 1000000, (left % 1000000) * 1000};
        if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
            return;
    }
}

int hydra_engine_run(hydra_engine *e)
{
    int interval_ms = e->opt.interval_ms;
    if (interval_ms < 0)
        interval_ms = e->sim != NULL ? e->cfg->settings.sim.tick_interval_ms
                                     : e->cfg->settings.loop_interval_seconds * 1000;
    int64_t next = hydra_monotonic_us();
    int rc = 0;
    while (!(e->stop != NULL && *e->stop)) {
        if (e->reload != NULL && *e->reload) {
            *e->reload = 0;
            hydra_engine_reload(e);
        }
        rc = hydra_engine_tick(e);
        if (rc == HYDRA_EEOF) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break; /* the host must stop (e->fatal): say so by the exit status */
        hydra_service_tick(e->tick, e->account.equity, e->halted); /* only a completed tick */
        if (e->opt.max_ticks > 0 && (long)e->tick >= e->opt.max_ticks)
            break;
        /* Keep the cadence without drift; an overrun is logged, never absorbed silently. */
        next += (int64_t)interval_ms * 1000;
        int64_t now = hydra_monotonic_us();
        if (interval_ms > 0 && now > next) {
            hydra_log_pack(e->log, HYDRA_LOG_WARN, "tick_overrun", NULL, "{s:I,s:i}", "late_ms",
                           (json_int_t)((now - next) / 1000), "interval_ms", interval_ms);
            next = now;
        }
        sleep_until(next, e->stop, e->dashboard);
    }
    hydra_log_pack(e->log, rc != 0 ? HYDRA_LOG_ERROR : HYDRA_LOG_INFO, "host_stop", NULL,
                   "{s:I,s:s}", "ticks", (json_int_t)e->tick, "reason",
                   rc != 0                           ? "state database lost or halt not persisted"
                   : (e->stop != NULL && *e->stop) ? "signal"
                                                     : "finished");
    return rc;
}
