/*
 * check-config: what a run would find, found before the run.
 *
 * Each enabled bot is loaded as the host loads it (hydra_runner_load: in a
 * hydra-worker under the same sandbox limits, or in-process when its
 * isolation says so) and created with its params. A bot that refuses says
 * why through the host's log service; those lines are caught here and become
 * the reason shown. Nothing is written: no state database, no log, no order.
 */
#define _GNU_SOURCE
#include "checkconfig.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alpaca.h"
#include "clock.h"
#include "error.h"
#include "loader.h"
#include "sandbox.h"

/* The bot's own words during create: its last error or warning line. */
typedef struct said {
    char text[600];
} said;

static void cap_log(void *ctx, const char *bot_id, int level, const char *event,
                    const char *message)
{
    said *s = ctx;
    (void)bot_id;
    (void)event;
    if (level >= HYDRA_LOG_WARN && message != NULL && message[0] != '\0')
        snprintf(s->text, sizeof s->text, "%s", message);
}

/* No state is read or written by a check: every key is unset and writes vanish. */
static int cap_kv_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    (void)ctx, (void)bot_id, (void)key, (void)buf, (void)bufsz;
    return HYDRA_ENOTFOUND;
}

static int cap_kv_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    (void)ctx, (void)bot_id, (void)key, (void)value;
    return 0;
}

/* The chain extension is offered as the host offers it; no chain is read at create. */
static int cap_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                     hydra_option_view *out, uint32_t cap)
{
    (void)ctx, (void)bot_id, (void)underlying, (void)rights, (void)out, (void)cap;
    return HYDRA_EIO;
}

static const char *BUCKET_KEY[3] = {"momentum_bucket_pct_of_daily_risk",
                                    "options_bucket_pct_of_daily_risk",
                                    "crypto_bucket_pct_of_daily_risk"};

static int has_series(const hydra_sim_cfg *sim, const char *symbol)
{
    for (int i = 0; i < sim->n_series; i++)
        if (strcmp(sim->series[i].symbol, symbol) == 0)
            return 1;
    return 0;
}

int hydra_check_config_static(const hydra_config *cfg, hydra_diag *diag)
{
    size_t before = diag->n;
    const hydra_portfolio_cfg *p = &cfg->portfolio;
    if (p->enabled) {
        double sum = p->bucket_pct[0] + p->bucket_pct[1] + p->bucket_pct[2];
        if (sum > 100.0 + 1e-9)
            hydra_diag_add(diag,
                           "%s/bots.yaml: portfoliobot.buckets: %s %g + %s %g + %s %g = %g%% of "
                           "the daily risk; the buckets share it, so together at most 100%%",
                           cfg->dir, BUCKET_KEY[0], p->bucket_pct[0], BUCKET_KEY[1],
                           p->bucket_pct[1], BUCKET_KEY[2], p->bucket_pct[2], sum);
        int enabled = 0;
        for (int i = 0; i < cfg->n_bots; i++)
            enabled += cfg->bots[i].enabled;
        if (enabled > 0 && p->per_bot_min_pct * enabled > 100.0 + 1e-9)
            hydra_diag_add(diag,
                           "%s/bots.yaml: portfoliobot.guardrails.per_bot_min_pct_of_daily_risk: "
                           "%d enabled bots x %g%% = %g%% of the daily risk, more than all of it",
                           cfg->dir, enabled, p->per_bot_min_pct, p->per_bot_min_pct * enabled);
    }
    if (strcmp(cfg->settings.broker, "sim") == 0) {
        /* Under the embedded exchange a symbol without a series never has a price. */
        for (int i = 0; i < cfg->n_bots; i++) {
            const hydra_bot_cfg *b = &cfg->bots[i];
            if (!b->enabled)
                continue;
            for (int k = 0; k < b->n_symbols; k++)
                if (!has_series(&cfg->settings.sim, b->symbols[k]))
                    hydra_diag_add(diag,
                                   "%s/bots.yaml:%d: bot %s: symbol %s has no price source: "
                                   "broker is sim and %s/settings.yaml has no sim.series entry "
                                   "for %s (the bot would never get a price)",
                                   cfg->dir, b->line, b->bot_id, b->symbols[k], cfg->dir,
                                   b->symbols[k]);
        }
    }
    return (int)(diag->n - before);
}

/* Loads and creates every enabled bot as the host would; each failure is one problem. */
static void check_plugins(const hydra_config *cfg, const char *plugins_dir, hydra_diag *diag)
{
    const hydra_workers_cfg *w = &cfg->settings.workers;
    hydra_sandbox_limits lim;
    memset(&lim, 0, sizeof lim);
    hydra_worker_locate(w->worker_path, lim.worker_path, sizeof lim.worker_path);
    lim.start_deadline_ms = w->start_deadline_ms;
    lim.address_space_mb = w->address_space_mb;
    lim.cpu_seconds = w->cpu_seconds;
    lim.max_open_files = w->max_open_files;
    char why[512] = "";
    if (hydra_sandbox_configure(&lim, w, &lim.landlock_abi, why, sizeof why) != 0)
        snprintf(lim.refused, sizeof lim.refused, "%s", why);

    said s;
    hydra_host_services svc = {.log = cap_log,
                               .kv_get = cap_kv_get,
                               .kv_set = cap_kv_set,
                               .option_chain = cap_chain,
                               .ctx = &s};
    hydra_bot_runner *run = calloc(1, sizeof *run);
    if (run == NULL) {
        hydra_diag_add(diag, "check-config: out of memory");
        return;
    }
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (!b->enabled)
            continue;
        s.text[0] = '\0';
        char err[1024] = "", path[HYDRA_PATH_LEN] = "";
        if (hydra_plugin_path(plugins_dir, b->plugin, path, sizeof path) == 0 &&
            access(path, F_OK) != 0) {
            hydra_diag_add(diag, "%s/bots.yaml:%d: bot %s: plugin: %s: no plugin file %s (%s)",
                           cfg->dir, b->line, b->bot_id, b->plugin, path, strerror(errno));
            continue;
        }
        hydra_worker_peer peer = {&svc, b->bot_id};
        if (hydra_runner_load(run, b->isolation_process, &lim, plugins_dir, b, &peer, err,
                              sizeof err) != 0) {
            if (s.text[0] != '\0')
                hydra_diag_add(diag,
                               "%s/bots.yaml:%d: bot %s (plugin %s): the bot refused its "
                               "configuration: %s",
                               cfg->dir, b->line, b->bot_id, b->plugin, s.text);
            else
                hydra_diag_add(diag, "%s/bots.yaml:%d: bot %s (plugin %s): %s", cfg->dir, b->line,
                               b->bot_id, b->plugin, err);
            continue;
        }
        hydra_runner_unload(run);
    }
    free(run);
}

/*
 * One declared symbol against the broker: an asset it lists, active and
 * tradable, of the class the bot trades (an options bot declares its
 * underlyings, equities), and with a price. Returns 1 when a problem was added.
 */
static int check_symbol_online(const hydra_config *cfg, const hydra_bot_cfg *b, const char *sym,
                               hydra_broker *broker, const char *data_url, hydra_diag *diag)
{
    hydra_broker_err berr;
    memset(&berr, 0, sizeof berr);
    if (broker->ops->asset != NULL) {
        hydra_asset as;
        int rc = broker->ops->asset(broker->ctx, sym, &as, &berr);
        if (rc == HYDRA_ENOTFOUND) {
            hydra_diag_add(diag, "%s/bots.yaml:%d: bot %s: symbol %s is not an asset the broker lists",
                           cfg->dir, b->line, b->bot_id, sym);
            return 1;
        }
        if (rc != 0) {
            hydra_diag_add(diag, "%s/bots.yaml:%d: bot %s: symbol %s: the broker's asset answer: %s",
                           cfg->dir, b->line, b->bot_id, sym, berr.msg);
            return 1;
        }
        unsigned want = b->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
        if (!as.active || !as.tradable || as.asset_class != want) {
            hydra_diag_add(diag,
                           "%s/bots.yaml:%d: bot %s: symbol %s cannot be traded here: the broker says "
                           "%s, %s, %s (the bot trades %s)",
                           cfg->dir, b->line, b->bot_id, sym, as.active ? "active" : "inactive",
                           as.tradable ? "tradable" : "not tradable",
                           as.asset_class == HYDRA_ASSET_CRYPTO ? "crypto" : "us_equity",
                           want == HYDRA_ASSET_CRYPTO ? "crypto" : "us_equity");
            return 1;
        }
    }
    hydra_quote q;
    memset(&q, 0, sizeof q);
    memset(&berr, 0, sizeof berr);
    if (broker->ops->latest_prices(broker->ctx, &sym, 1, &q, &berr) != 0) {
        hydra_diag_add(diag, "%s/bots.yaml:%d: bot %s: symbol %s: %s answered no price: %s", cfg->dir,
                       b->line, b->bot_id, sym, data_url, berr.msg);
        return 1;
    }
    if (!(isfinite(q.price) && q.price > 0)) {
        hydra_diag_add(diag,
                       "%s/bots.yaml:%d: bot %s: symbol %s has no price at %s (no trade for it)",
                       cfg->dir, b->line, b->bot_id, sym, data_url);
        return 1;
    }
    return 0;
}

/* broker alpaca with --online: every declared symbol is a tradable asset with a price. */
static void check_alpaca_symbols(const hydra_config *cfg, hydra_diag *diag)
{
    hydra_credentials creds;
    hydra_credentials_load(".env", &creds, stderr);
    hydra_alpaca_cfg acfg;
    int live = 0;
    char err[1024] = "";
    hydra_broker broker;
    memset(&broker, 0, sizeof broker);
    if (hydra_alpaca_resolve_mode(&cfg->settings.alpaca, &creds, 0, cfg->settings.allow_live, &acfg,
                                  &live, err, sizeof err) != 0 ||
        hydra_alpaca_open(&acfg, &creds, &broker, err, sizeof err) != 0) {
        hydra_diag_add(diag, "%s/settings.yaml: alpaca: cannot check symbols online: %s", cfg->dir,
                       err);
        return;
    }
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (!b->enabled)
            continue;
        for (int k = 0; k < b->n_symbols; k++)
            check_symbol_online(cfg, b, b->symbols[k], &broker, acfg.data_url, diag);
    }
    if (broker.ops != NULL && broker.ops->destroy != NULL)
        broker.ops->destroy(broker.ctx);
}

int hydra_check_config(const hydra_check_options *opt, FILE *out, FILE *problems)
{
    hydra_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return 1;
    hydra_diag diag;
    hydra_diag_init(&diag);
    if (hydra_config_load(opt->config_dir, cfg, &diag) != 0) {
        hydra_diag_print(&diag, problems);
        fprintf(problems, "hydra-host: configuration invalid (%zu problem%s)\n", diag.n,
                diag.n == 1 ? "" : "s");
        hydra_diag_free(&diag);
        free(cfg);
        return 2;
    }
    hydra_tz_set(cfg->settings.timezone);
    hydra_config_print(cfg, out);
    fflush(out);
    hydra_check_config_static(cfg, &diag);
    check_plugins(cfg, opt->plugins_dir, &diag);
    int alpaca = strcmp(cfg->settings.broker, "alpaca") == 0;
    if (alpaca && opt->online)
        check_alpaca_symbols(cfg, &diag);
    int rc = 0;
    if (diag.n > 0) {
        hydra_diag_print(&diag, problems);
        fprintf(problems,
                "hydra-host: %zu problem%s in %s/: a run would fail or not trade as "
                "configured\n",
                diag.n, diag.n == 1 ? "" : "s", opt->config_dir);
        rc = 2;
    } else {
        fprintf(problems,
                "hydra-host: configuration in %s/ is valid: every enabled bot loaded "
                "and accepted its params%s; buckets add up\n",
                opt->config_dir,
                alpaca ? (opt->online ? ", every symbol a tradable asset with a price at the broker"
                                      : "; symbols not checked against Alpaca (pass --online)")
                       : ", every symbol has a sim.series");
    }
    hydra_diag_free(&diag);
    free(cfg);
    return rc;
}
