#include "exitbot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "halt.h"
#include "notify.h"
#include "orders.h"

static int kill_switch_present(const hydra_engine *e)
{
    const char *path = e->cfg->settings.kill_switch_path;
    return path[0] != '\0' && access(path, F_OK) == 0;
}

static int fetch_account(hydra_engine *e)
{
    hydra_broker_err err = {0};
    int rc = e->broker.ops->account(e->broker.ctx, &e->account, &err);
    if (rc != 0)
        hydra_engine_broker_failure(e, "account", &err);
    return rc;
}

/* Account anomalies: 1 with a reason, 0 when the account looks sane, negative on failure. */
static int account_anomaly(hydra_engine *e, char *why, size_t whysz)
{
    const hydra_account *a = &e->account;
    if (!isfinite(a->equity) || a->equity <= 0) {
        snprintf(why, whysz, "equity is %g", a->equity);
        return 1;
    }
    if (!isfinite(a->cash)) {
        snprintf(why, whysz, "cash is %g", a->cash);
        return 1;
    }
    if (!a->active || a->trading_blocked) {
        snprintf(why, whysz, "account %s", !a->active ? "not active" : "blocked for trading");
        return 1;
    }
    if (hydra_exitbot_equity_jump(e->last_equity, a->equity, e->cfg->settings.max_equity_jump_pct,
                                  why, whysz))
        return 1;
    return hydra_orders_check_positions(e, why, whysz);
}

static int daily_loss_breached(const hydra_engine *e, char *why, size_t whysz)
{
    return hydra_exitbot_daily_loss(e->day_start_equity, e->account.equity,
                                    e->cfg->settings.global_max_daily_loss_pct, why, whysz);
}

int hydra_exitbot_daily_loss(double day_start_equity, double equity, double max_daily_loss_pct,
                             char *why, size_t whysz)
{
    if (!(day_start_equity > 0))
        return 0;
    double pnl = equity - day_start_equity;
    double max_loss = day_start_equity * max_daily_loss_pct / 100.0;
    if (pnl <= -max_loss) {
        snprintf(why, whysz, "daily loss: pnl %.2f <= -%.2f (%.2f%% of day-start equity %.2f)",
                 pnl, max_loss, max_daily_loss_pct, day_start_equity);
        return 1;
    }
    return 0;
}

int hydra_exitbot_equity_jump(double last_equity, double equity, double max_jump_pct, char *why,
                              size_t whysz)
{
    if (last_equity > 0 && max_jump_pct > 0) {
        double moved = fabs(equity - last_equity) / last_equity * 100.0;
        if (moved > max_jump_pct) {
            snprintf(why, whysz, "equity moved %.2f%% in one tick (%.2f -> %.2f), limit %.2f%%",
                     moved, last_equity, equity, max_jump_pct);
            return 1;
        }
    }
    return 0;
}

int hydra_exitbot_conditions(hydra_engine *e, char *why, size_t whysz)
{
    if (kill_switch_present(e)) {
        snprintf(why, whysz, "kill-switch file present: %s", e->cfg->settings.kill_switch_path);
        return 1;
    }
    int rc = fetch_account(e);
    if (rc != 0) {
        snprintf(why, whysz, "account unreadable: %s", hydra_strerror(rc));
        return rc;
    }
    rc = account_anomaly(e, why, whysz);
    if (rc != 0)
        return rc;
    return daily_loss_breached(e, why, whysz);
}

int hydra_exitbot_run(hydra_engine *e)
{
    const hydra_exitbot_cfg *xb = &e->cfg->exitbot;
    int64_t now = hydra_clock_now_ms(&e->clock);
    char why[HYDRA_PATH_LEN + 64];

    hydra_halt halt;
    if (hydra_halt_get(e->state, &halt) != 0)
        return HYDRA_ESTATE;
    if (halt.active && halt.until_ms > 0 && now >= halt.until_ms) {
        if (hydra_halt_clear(e->state, "expiry", now) != 0)
            return HYDRA_ESTATE;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "halt_cleared", NULL, "{s:s,s:s}", "reason",
                       halt.reason, "cleared_by", "expiry");
        hydra_notify_event(e->notify, "resume", NULL, "RESUMED: the halt's cooloff ended (%s)",
                           halt.reason);
        halt.active = 0;
        e->halt_seen = 0;
        /* The failures that caused the halt are history: the cooloff starts a clean window. */
        hydra_health_reset(&e->health);
    }
    if (!halt.active && e->halt_seen) {
        /* Cleared by `hydra-host resume` since the last tick. */
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "halt_cleared", NULL, "{s:s}", "cleared_by",
                       "resume");
        hydra_notify_event(e->notify, "resume", NULL, "RESUMED: an operator ended the halt");
    }
    e->halt_seen = halt.active;
    if (halt.active) {
        /* Whoever set it (this host, an operator, an earlier run): flatten until flat. */
        hydra_halt_keep_flat(e, &halt);
        return 1;
    }
    if (!xb->enabled) {
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "exitbot_disabled", NULL, "{s:s}", "reason",
                       "exitbot.enabled is false in bots.yaml");
        return 0;
    }

    if (kill_switch_present(e)) {
        snprintf(why, sizeof why, "kill-switch file present: %s", e->cfg->settings.kill_switch_path);
        hydra_engine_halt(e, "kill_switch", why, xb->cooloff_minutes);
        return 1;
    }

    hydra_health_set_log_ok(&e->health, hydra_log_healthy(e->log));
    hydra_health_status hs = hydra_health_check(&e->health, hydra_monotonic_ms(), why, sizeof why);
    int health_halts = (hs == HYDRA_HEALTH_API_FAILURES && xb->api_failure_halt) ||
                       (hs == HYDRA_HEALTH_LOG && xb->api_failure_halt) ||
                       (hs == HYDRA_HEALTH_STALE && xb->data_stale_halt);
    if (health_halts) {
        char reason[HYDRA_PATH_LEN + 128];
        snprintf(reason, sizeof reason, "health: %s", why);
        hydra_engine_halt(e, "exitbot", reason, xb->cooloff_minutes);
        return 1;
    }

    /*
     * A transient failure to read the account (or the positions the anomaly
     * check compares) skips this tick's entries and counts once in the
     * health window checked above; a permanent one halts (the caller).
     */
    int rc = e->account_unread ? HYDRA_ETRANSIENT : fetch_account(e); /* one read failure a tick */
    if (rc != 0) {
        e->account_unread = 1;
        return hydra_engine_read_failed(e, rc, "account unreadable");
    }
    rc = hydra_orders_learn_account(e, &e->account, why, sizeof why);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        hydra_engine_halt(e, "exitbot", why, xb->cooloff_minutes);
        return 1;
    }

    if (xb->anomaly_halt) {
        rc = account_anomaly(e, why, sizeof why);
        if (rc < 0)
            return hydra_engine_read_failed(e, rc, "positions unreadable");
        if (rc == 1) {
            char reason[HYDRA_PATH_LEN + 128];
            snprintf(reason, sizeof reason, "anomaly: %s", why);
            hydra_engine_halt(e, "exitbot", reason, xb->cooloff_minutes);
            return 1;
        }
    }
    if (xb->max_daily_loss_halt && daily_loss_breached(e, why, sizeof why)) {
        hydra_engine_halt(e, "exitbot", why, xb->cooloff_minutes);
        return 1;
    }
    e->last_equity = e->account.equity;
    hydra_log_pack(e->log, HYDRA_LOG_DEBUG, "exitbot_ok", NULL, "{s:f,s:f,s:f,s:s}", "equity",
                   e->account.equity, "day_start_equity", e->day_start_equity, "pnl",
                   e->account.equity - e->day_start_equity, "health",
                   hydra_health_status_name(hs));
    return 0;
}
