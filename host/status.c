/*
 * `hydra-host status`: the instance lock says whether a host runs; the state
 * database says the rest. The running host writes, in every tick's batch,
 * kv "heartbeat" (its PID, when it started, the tick's wall-clock time and
 * the account as last read), "last_tick", "health", "marks" (the last price
 * of each symbol), "day_key" and "day_start_equity"; the journal holds the
 * open orders, the positions and budgets tables the rest. Nothing here
 * writes: status is safe beside a running host.
 */
#define _GNU_SOURCE
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

void hydra_status_probe(const char *state_db_path, hydra_host_probe *out)
{
    memset(out, 0, sizeof *out);
    char path[HYDRA_PATH_LEN + 8], pid_s[32] = "";
    snprintf(path, sizeof path, "%s.lock", state_db_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = pread(fd, pid_s, sizeof pid_s - 1, 0);
    pid_s[n > 0 ? n : 0] = '\0';
    char *end;
    long pid = strtol(pid_s, &end, 10);
    if (pid > 0 && (*end == '\n' || *end == '\0'))
        out->pid = pid;
    /* A shared lock we can take means no host holds the exclusive one. */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        out->holds_lock = errno == EWOULDBLOCK;
    close(fd);
    /* EPERM: the process exists but belongs to another user (a service account). */
    if (out->pid > 0)
        out->pid_alive = kill((pid_t)out->pid, 0) == 0 || errno == EPERM;
}

static json_t *utc_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[32];
    hydra_format_utc(ms, buf, sizeof buf);
    return json_string(buf);
}

/* The health the host last wrote, with a sentence a person can act on. */
static json_t *health_json(hydra_state *st, int running)
{
    char text[512] = "";
    json_t *h = NULL;
    if (hydra_kv_get(st, "health", text, sizeof text) == 0)
        h = json_loads(text, 0, NULL);
    if (!json_is_object(h)) {
        json_decref(h);
        return json_pack("{s:s,s:s,s:I,s:s}", "status", "unknown", "reason", "",
                         "api_failures_in_window", (json_int_t)0, "words",
                         "unknown: no host has ticked with this state yet");
    }
    const char *status = json_string_value(json_object_get(h, "status"));
    const char *reason = json_string_value(json_object_get(h, "reason"));
    status = status != NULL ? status : "unknown";
    reason = reason != NULL ? reason : "";
    char words[400];
    if (strcmp(status, "ok") == 0)
        snprintf(words, sizeof words, "healthy: broker answering, prices fresh, log writable");
    else if (strcmp(status, "api_failures") == 0)
        snprintf(words, sizeof words, "unhealthy: the broker keeps failing (%s); entries stop",
                 reason);
    else if (strcmp(status, "stale_prices") == 0)
        snprintf(words, sizeof words, "unhealthy: prices are stale (%s); entries stop", reason);
    else if (strcmp(status, "log_not_writable") == 0)
        snprintf(words, sizeof words, "unhealthy: the log cannot be written (%s); entries stop",
                 reason);
    else
        snprintf(words, sizeof words, "%s: %s", status, reason);
    if (!running) {
        size_t len = strlen(words);
        snprintf(words + len, sizeof words - len, " (as of the last tick; no host is running)");
    }
    json_object_set_new(h, "words", json_string(words));
    return h;
}

static json_t *order_json(const hydra_journal_order *o)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:o,s:s}", "client_order_id",
                     o->client_order_id, "bot_id", o->bot_id, "symbol", o->symbol, "side",
                     o->side == HYDRA_SIDE_SELL ? "sell" : "buy", "kind",
                     o->kind == HYDRA_INTENT_EXIT ? "exit" : "entry", "type",
                     o->type == HYDRA_ORDER_LIMIT ? "limit" : "market", "qty", o->qty,
                     "limit_price", o->limit_price, "filled_qty", o->filled_qty, "notional",
                     o->notional, "state", hydra_order_state_name(o->state), "created_at",
                     utc_or_null(o->created_ms), "reason", o->reason);
}

json_t *hydra_status_build(const hydra_config *cfg, hydra_state *st, int64_t now_ms)
{
    json_t *root = json_object();
    if (root == NULL)
        return NULL;
    json_object_set_new(root, "schema", json_integer(HYDRA_STATUS_SCHEMA));
    json_object_set_new(root, "generated_at", utc_or_null(now_ms));
    json_object_set_new(root, "state_db", json_string(cfg->settings.state_db_path));

    /* ---- host: running or not, uptime, last tick and its age ---- */
    hydra_host_probe probe;
    hydra_status_probe(cfg->settings.state_db_path, &probe);
    char text[8192] = "";
    json_t *hb = NULL;
    if (hydra_kv_get(st, "heartbeat", text, sizeof text) == 0)
        hb = json_loads(text, 0, NULL);
    if (!json_is_object(hb)) {
        json_decref(hb);
        hb = json_object();
    }
    int64_t last_tick = 0, last_tick_engine_ms = 0;
    hydra_kv_get_int(st, "last_tick", &last_tick);
    hydra_kv_get_int(st, "last_tick_ms", &last_tick_engine_ms);
    int64_t hb_pid = json_integer_value(json_object_get(hb, "pid"));
    int64_t started = json_integer_value(json_object_get(hb, "started_ms"));
    int64_t tick_wall = json_integer_value(json_object_get(hb, "wall_ms"));
    /* Uptime is the running host's: a heartbeat of an earlier host says nothing about it. */
    int same_host = probe.holds_lock && probe.pid > 0 && hb_pid == probe.pid;
    json_t *host = json_object();
    json_object_set_new(host, "running", json_boolean(probe.holds_lock));
    json_object_set_new(host, "pid", probe.pid > 0 ? json_integer(probe.pid) : json_null());
    json_object_set_new(host, "pid_alive", json_boolean(probe.pid_alive));
    json_object_set_new(host, "holds_lock", json_boolean(probe.holds_lock));
    json_object_set_new(host, "started_at", same_host ? utc_or_null(started) : json_null());
    json_object_set_new(host, "uptime_seconds",
                        same_host && started > 0 ? json_integer((now_ms - started) / 1000)
                                                 : json_null());
    json_object_set_new(host, "last_tick", json_integer(last_tick));
    json_object_set_new(host, "last_tick_at", utc_or_null(tick_wall));
    json_object_set_new(host, "last_tick_age_seconds",
                        tick_wall > 0 ? json_real((double)(now_ms - tick_wall) / 1000.0)
                                      : json_null());
    json_object_set_new(host, "last_tick_engine_time", utc_or_null(last_tick_engine_ms));
    json_object_set_new(host, "last_tick_pid", hb_pid > 0 ? json_integer(hb_pid) : json_null());
    json_object_set_new(root, "host", host);

    /* ---- halt ---- */
    hydra_halt h;
    if (hydra_halt_get(st, &h) == 0) {
        json_object_set_new(
            root, "halt",
            json_pack("{s:b,s:s,s:s,s:o,s:o,s:s,s:b,s:I,s:I,s:o}", "active", h.active, "reason",
                      h.active ? h.reason : "", "source", h.active ? h.source : "", "since",
                      h.active ? utc_or_null(h.since_ms) : json_null(), "until",
                      !h.active        ? json_null()
                      : h.until_ms > 0 ? utc_or_null(h.until_ms)
                                       : json_string("resume"),
                      "requested_by", h.active ? h.requested_by : "", "acknowledged",
                      h.active && h.ack_pid != 0, "acknowledged_by_pid",
                      (json_int_t)(h.active ? h.ack_pid : 0), "acknowledged_at_tick",
                      (json_int_t)(h.active ? h.ack_tick : 0), "acknowledged_at",
                      h.active && h.ack_pid != 0 ? utc_or_null(h.ack_ms) : json_null()));
    }

    json_object_set_new(root, "health", health_json(st, probe.holds_lock));

    /* ---- account ---- */
    char day[16] = "";
    double day_start = 0;
    hydra_kv_get_str(st, "day_key", day, sizeof day);
    hydra_kv_get_double(st, "day_start_equity", &day_start);
    json_t *equity = json_object_get(hb, "equity");
    int have_account = json_is_number(equity);
    double eq = json_number_value(equity);
    json_object_set_new(
        root, "account",
        json_pack("{s:o,s:b,s:o,s:o,s:o,s:s,s:f,s:o}", "as_of",
                  have_account ? utc_or_null(tick_wall) : json_null(), "read_last_tick",
                  json_is_true(json_object_get(hb, "account_read")), "equity",
                  have_account ? json_real(eq) : json_null(), "cash",
                  have_account ? json_real(json_number_value(json_object_get(hb, "cash")))
                               : json_null(),
                  "buying_power",
                  have_account ? json_real(json_number_value(json_object_get(hb, "buying_power")))
                               : json_null(),
                  "day", day, "day_start_equity", day_start, "day_pnl",
                  have_account && day_start > 0 ? json_real(eq - day_start) : json_null()));
    json_decref(hb);

    /* ---- open orders, from the journal ---- */
    hydra_journal_order *open = calloc(HYDRA_MAX_OPEN_ORDERS, sizeof *open);
    size_t n_open = 0;
    json_t *orders = json_array();
    if (open != NULL && hydra_journal_list_open(st, open, HYDRA_MAX_OPEN_ORDERS, &n_open) == 0)
        for (size_t i = 0; i < n_open; i++)
            json_array_append_new(orders, order_json(&open[i]));
    free(open);
    json_object_set_new(root, "open_orders", orders);

    /* ---- bots: budgets, positions with unrealised PnL at the last recorded prices ---- */
    json_t *marks = NULL;
    if (hydra_kv_get(st, "marks", text, sizeof text) == 0)
        marks = json_loads(text, 0, NULL);
    json_t *bots = json_array(), *quarantines = json_array();
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        hydra_budget bud;
        int have = hydra_budget_get(st, b->bot_id, &bud) == 0;
        hydra_bot_day bd = {0};
        hydra_bot_day_get(st, b->bot_id, day, &bd);
        hydra_bot_position pos[64];
        size_t np = 0;
        hydra_position_list(st, b->bot_id, pos, 64, &np);
        json_t *pj = json_array();
        double unreal = 0;
        for (size_t k = 0; k < np; k++) {
            json_t *m = marks != NULL ? json_object_get(marks, pos[k].symbol) : NULL;
            double mark = json_is_number(m) ? json_number_value(m) : NAN;
            double u =
                isfinite(mark) ? (mark - pos[k].avg_price) * pos[k].qty * pos[k].multiplier : 0;
            unreal += u;
            json_array_append_new(
                pj, json_pack("{s:s,s:f,s:f,s:o,s:f}", "symbol", pos[k].symbol, "qty", pos[k].qty,
                              "avg_price", pos[k].avg_price, "last_price",
                              isfinite(mark) ? json_real(mark) : json_null(), "unrealized_pnl", u));
        }
        if (bd.quarantined)
            json_array_append_new(quarantines,
                                  json_pack("{s:s,s:s,s:s}", "bot_id", b->bot_id, "day", day,
                                            "reason", bd.quarantine_reason));
        json_array_append_new(
            bots,
            json_pack(
                "{s:s,s:b,s:b,s:b,s:s,s:f,s:f,s:f,s:i,s:i,s:i,s:o,s:f,s:f}", "bot_id", b->bot_id,
                "enabled", b->enabled, "allowed", have && bud.allowed, "quarantined",
                bd.quarantined, "quarantine_reason", bd.quarantine_reason, "budget_max_daily_loss",
                have ? bud.max_daily_loss : 0.0, "daily_loss_left",
                have ? fmax(0.0, bud.max_daily_loss + fmin(0.0, bd.realized_pnl)) : 0.0,
                "budget_max_open_risk", have ? bud.max_open_risk : 0.0, "trades_today", bd.trades,
                "max_trades_per_day", b->max_trades_per_day, "max_concurrent_positions",
                have ? bud.max_concurrent_positions : b->max_concurrent_positions, "positions", pj,
                "realized_pnl_today", bd.realized_pnl, "unrealized_pnl", unreal));
    }
    json_decref(marks);
    json_object_set_new(root, "bots", bots);
    json_object_set_new(root, "quarantines", quarantines);

    json_t *series = NULL;
    if (hydra_kv_get(st, "series", text, sizeof text) == 0)
        series = json_loads(text, 0, NULL);
    json_object_set_new(root, "series", json_is_array(series) ? series : json_array());
    if (series != NULL && !json_is_array(series))
        json_decref(series);
    return root;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static void money(FILE *out, const char *label, const json_t *v)
{
    if (json_is_number(v))
        fprintf(out, "%-16s%.2f\n", label, json_number_value(v));
    else
        fprintf(out, "%-16s-\n", label);
}

void hydra_status_print(const json_t *s, FILE *out)
{
    const json_t *host = json_object_get(s, "host");
    long long pid = json_integer_value(json_object_get(host, "pid"));
    if (json_is_true(json_object_get(host, "running"))) {
        fprintf(out, "host:         running, pid %lld", pid);
        const json_t *up = json_object_get(host, "uptime_seconds");
        if (json_is_integer(up)) {
            long long u = json_integer_value(up);
            fprintf(out, ", up %lldh%02lldm%02llds (since %s)", u / 3600, u / 60 % 60, u % 60,
                    str(host, "started_at"));
        }
        fputc('\n', out);
    } else if (pid > 0) {
        fprintf(out, "host:         not running (lock file names pid %lld, %s)\n", pid,
                json_is_true(json_object_get(host, "pid_alive"))
                    ? "alive but not holding the lock: not a host of this state"
                    : "no longer alive");
    } else {
        fprintf(out, "host:         not running\n");
    }
    const json_t *age = json_object_get(host, "last_tick_age_seconds");
    if (json_is_number(age))
        fprintf(out, "last tick:    %lld at %s, %.1f s ago (engine time %s)\n",
                (long long)json_integer_value(json_object_get(host, "last_tick")),
                str(host, "last_tick_at"), json_number_value(age),
                str(host, "last_tick_engine_time"));
    else
        fprintf(out, "last tick:    %lld (no heartbeat recorded)\n",
                (long long)json_integer_value(json_object_get(host, "last_tick")));

    const json_t *h = json_object_get(s, "halt");
    if (json_is_true(json_object_get(h, "active"))) {
        const char *by = str(h, "requested_by");
        fprintf(out, "trading:      HALTED (%s) since %s until %s\n              %s\n",
                str(h, "source"), str(h, "since"), str(h, "until"), str(h, "reason"));
        fprintf(out, "              requested by %s, ", by[0] ? by : str(h, "source"));
        if (json_is_true(json_object_get(h, "acknowledged")))
            fprintf(out, "acknowledged by host pid %lld at tick %lld (%s)\n",
                    (long long)json_integer_value(json_object_get(h, "acknowledged_by_pid")),
                    (long long)json_integer_value(json_object_get(h, "acknowledged_at_tick")),
                    str(h, "acknowledged_at"));
        else if (json_is_true(json_object_get(host, "running")))
            fprintf(out, "not yet acknowledged: host pid %lld acts on it at its next tick\n", pid);
        else
            fprintf(out, "not yet acknowledged: no host is running; the next start acts on it\n");
    } else {
        fprintf(out, "trading:      allowed (no halt)\n");
    }
    fprintf(out, "health:       %s\n", str(json_object_get(s, "health"), "words"));

    const json_t *acc = json_object_get(s, "account");
    fprintf(out, "account:      as of %s%s, trading day %s\n",
            json_is_string(json_object_get(acc, "as_of")) ? str(acc, "as_of") : "-",
            json_is_true(json_object_get(acc, "read_last_tick")) ? "" : " (the last read failed)",
            str(acc, "day")[0] ? str(acc, "day") : "-");
    money(out, "  equity", json_object_get(acc, "equity"));
    money(out, "  cash", json_object_get(acc, "cash"));
    money(out, "  buying power", json_object_get(acc, "buying_power"));
    money(out, "  day PnL", json_object_get(acc, "day_pnl"));

    const json_t *orders = json_object_get(s, "open_orders");
    fprintf(out, "open orders:  %zu\n", json_array_size(orders));
    size_t i;
    json_t *o;
    json_array_foreach(orders, i, o)
    {
        fprintf(out, "  %-14s %-4s %-5s %-6s %-10s qty %g", str(o, "bot_id"), str(o, "side"),
                str(o, "kind"), str(o, "type"), str(o, "symbol"),
                json_number_value(json_object_get(o, "qty")));
        if (strcmp(str(o, "type"), "limit") == 0)
            fprintf(out, " @ %.4f", json_number_value(json_object_get(o, "limit_price")));
        fprintf(out, "  %s  %s\n", str(o, "state"), str(o, "client_order_id"));
    }

    json_t *se;
    json_array_foreach(json_object_get(s, "series"), i, se)
    {
        fprintf(out, "%-14s%-8s %s%s\n", i == 0 ? "data:" : "", str(se, "symbol"),
                str(se, "source"),
                json_is_true(json_object_get(se, "generated")) ? "  [generated]" : "");
    }

    fprintf(out, "%-14s %-8s %-11s %-11s %9s %9s %11s %11s\n", "bot", "enabled", "state", "trades",
            "budget", "loss left", "realized", "unrealized");
    json_t *b;
    json_array_foreach(json_object_get(s, "bots"), i, b)
    {
        char trades[32];
        snprintf(trades, sizeof trades, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(b, "trades_today")),
                 (long long)json_integer_value(json_object_get(b, "max_trades_per_day")));
        const char *state = json_is_true(json_object_get(b, "quarantined")) ? "quarantined"
                            : !json_is_true(json_object_get(b, "enabled"))  ? "disabled"
                            : json_is_true(json_object_get(b, "allowed"))   ? "allowed"
                                                                            : "no budget";
        fprintf(out, "%-14s %-8s %-11s %-11s %9.2f %9.2f %11.2f %11.2f\n", str(b, "bot_id"),
                json_is_true(json_object_get(b, "enabled")) ? "yes" : "no", state, trades,
                json_number_value(json_object_get(b, "budget_max_daily_loss")),
                json_number_value(json_object_get(b, "daily_loss_left")),
                json_number_value(json_object_get(b, "realized_pnl_today")),
                json_number_value(json_object_get(b, "unrealized_pnl")));
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(b, "positions"), k, p)
        {
            const json_t *last = json_object_get(p, "last_price");
            fprintf(out, "  position    %-10s qty %g avg %.4f last ", str(p, "symbol"),
                    json_number_value(json_object_get(p, "qty")),
                    json_number_value(json_object_get(p, "avg_price")));
            if (json_is_number(last))
                fprintf(out, "%.4f", json_number_value(last));
            else
                fprintf(out, "-");
            fprintf(out, " unrealized %.2f\n",
                    json_number_value(json_object_get(p, "unrealized_pnl")));
        }
    }
    const json_t *q = json_object_get(s, "quarantines");
    if (json_array_size(q) == 0)
        fprintf(out, "quarantines:  none\n");
    json_array_foreach(q, i, b)
    {
        fprintf(out, "%-14s%s on %s: %s (clear: hydra-host unquarantine %s)\n",
                i == 0 ? "quarantines:" : "", str(b, "bot_id"), str(b, "day"), str(b, "reason"),
                str(b, "bot_id"));
    }
}
