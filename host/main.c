/*
 * hydra-host: the command line.
 *
 *   hydra-host [run] [--config DIR] [--plugins DIR] [--once] [--ticks N]
 *              [--interval-ms MS] [--live] [--quiet]
 *   hydra-host check-config [--config DIR]
 *   hydra-host status [--json] [--config DIR]
 *   hydra-host halt --reason TEXT [--config DIR]
 *   hydra-host resume [--config DIR]
 *   hydra-host reset-paper [--config DIR]
 *   hydra-host backtest ... (backtest_cli.c)
 *   hydra-host sweep ... (sweep.c)
 *   hydra-host reload [--config DIR]
 *
 * Exit status: 0 success, 1 runtime failure (fail closed), 2 usage or
 * configuration error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <unistd.h>

#include "backtest.h"
#include "error.h"
#include "exitbot.h"
#include "loop.h"
#include "state.h"
#include "sweep.h"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    g_reload = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-host [run] [--config DIR] [--plugins DIR] [--once] [--ticks N]\n"
            "                  [--interval-ms MS] [--live] [--quiet]\n"
            "       hydra-host check-config [--config DIR]\n"
            "       hydra-host status [--json] [--config DIR]\n"
            "       hydra-host halt --reason TEXT [--config DIR]\n"
            "       hydra-host resume [--config DIR]\n"
            "       hydra-host reset-paper [--config DIR]\n"
            "       hydra-host backtest [--from D] [--to D] [--cash N] [--out DIR] ... (backtest --help)\n"
            "       hydra-host sweep SPEC.yaml [--jobs N] [--shard K/N] [--out FILE] ... (sweep --help)\n"
            "       hydra-host sweep collect DIR [--out FILE]\n"
            "       hydra-host reload [--config DIR]\n"
            "       hydra-host --help | --version\n"
            "\n"
            "Runs every bot every tick behind the fail-closed gates; defaults: --config config/\n"
            "--plugins plugins/. The default broker is the embedded simulated exchange.\n"
            "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

typedef struct cli {
    const char *command;
    hydra_engine_options opt;
    int json;
    const char *reason;
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"plugins", required_argument, NULL, 'p'},
        {"once", no_argument, NULL, '1'},          {"ticks", required_argument, NULL, 'n'},
        {"interval-ms", required_argument, NULL, 'i'}, {"live", no_argument, NULL, 'L'},
        {"quiet", no_argument, NULL, 'q'},         {"json", no_argument, NULL, 'j'},
        {"reason", required_argument, NULL, 'r'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    memset(c, 0, sizeof *c);
    c->command = "run";
    snprintf(c->opt.config_dir, sizeof c->opt.config_dir, "config");
    snprintf(c->opt.plugins_dir, sizeof c->opt.plugins_dir, "plugins");
    c->opt.interval_ms = -1;
    if (argc > 1 && argv[1][0] != '-') {
        c->command = argv[1];
        argv++;
        argc--;
    }
    int ch;
    char *end;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': snprintf(c->opt.config_dir, sizeof c->opt.config_dir, "%s", optarg); break;
        case 'p': snprintf(c->opt.plugins_dir, sizeof c->opt.plugins_dir, "%s", optarg); break;
        case '1': c->opt.max_ticks = 1; break;
        case 'n':
            errno = 0;
            c->opt.max_ticks = strtol(optarg, &end, 10);
            if (errno || *end || c->opt.max_ticks <= 0) {
                fprintf(stderr, "hydra-host: --ticks: expected a positive integer, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'i':
            errno = 0;
            c->opt.interval_ms = (int)strtol(optarg, &end, 10);
            if (errno || *end || c->opt.interval_ms < 0) {
                fprintf(stderr, "hydra-host: --interval-ms: expected a non-negative integer, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'L': c->opt.live = 1; break;
        case 'q': c->opt.quiet = 1; break;
        case 'j': c->json = 1; break;
        case 'r': c->reason = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("hydra-host %s (plugin ABI %u.%u.%u)\n", HYDRA_VERSION, HYDRA_ABI_MAJOR,
                         HYDRA_ABI_MINOR, HYDRA_ABI_PATCH); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hydra-host: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return 0;
}

static int load_config(const cli *c, hydra_config **out)
{
    hydra_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return 1;
    hydra_diag diag;
    hydra_diag_init(&diag);
    if (hydra_config_load(c->opt.config_dir, cfg, &diag) != 0) {
        hydra_diag_print(&diag, stderr);
        fprintf(stderr, "hydra-host: configuration invalid (%zu error%s); refusing to start\n",
                diag.n, diag.n == 1 ? "" : "s");
        hydra_diag_free(&diag);
        free(cfg);
        return 2;
    }
    hydra_diag_free(&diag);
    hydra_tz_set(cfg->settings.timezone);
    *out = cfg;
    return 0;
}

static int cmd_check_config(const cli *c)
{
    hydra_config *cfg = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    hydra_config_print(cfg, stdout);
    fprintf(stderr, "hydra-host: configuration in %s/ is valid\n", c->opt.config_dir);
    free(cfg);
    return 0;
}

static int open_state(const hydra_config *cfg, hydra_state **st)
{
    char err[512];
    if (hydra_state_open(cfg->settings.state_db_path, st, err, sizeof err) != 0) {
        fprintf(stderr, "hydra-host: %s\n", err);
        return 1;
    }
    return 0;
}

static json_t *status_json(const hydra_config *cfg, hydra_state *st)
{
    json_t *root = json_object();
    hydra_halt h;
    if (hydra_halt_get(st, &h) == 0) {
        char since[32] = "", until[32] = "";
        if (h.active) {
            hydra_format_utc(h.since_ms, since, sizeof since);
            if (h.until_ms > 0)
                hydra_format_utc(h.until_ms, until, sizeof until);
        }
        json_object_set_new(root, "halt",
                            json_pack("{s:b,s:s,s:s,s:s,s:s}", "active", h.active, "reason",
                                      h.active ? h.reason : "", "source", h.active ? h.source : "",
                                      "since", since, "until", h.active && !until[0] ? "resume" : until));
    }
    char day[16] = "", health[512] = "{}", marks_s[8192] = "{}";
    double day_start = 0;
    int64_t last_tick = 0, last_tick_ms = 0;
    hydra_kv_get_str(st, "day_key", day, sizeof day);
    hydra_kv_get_double(st, "day_start_equity", &day_start);
    hydra_kv_get_int(st, "last_tick", &last_tick);
    hydra_kv_get_int(st, "last_tick_ms", &last_tick_ms);
    hydra_kv_get(st, "health", health, sizeof health);
    hydra_kv_get(st, "marks", marks_s, sizeof marks_s);
    char last[32] = "";
    if (last_tick_ms > 0)
        hydra_format_utc(last_tick_ms, last, sizeof last);
    json_object_set_new(root, "day", json_string(day));
    json_object_set_new(root, "day_start_equity", json_real(day_start));
    json_object_set_new(root, "last_tick", json_integer(last_tick));
    json_object_set_new(root, "last_tick_time", json_string(last));
    json_t *hj = json_loads(health, 0, NULL);
    json_object_set_new(root, "health", hj != NULL ? hj : json_object());
    json_t *marks = json_loads(marks_s, 0, NULL);
    char series_s[8192] = "[]";
    hydra_kv_get(st, "series", series_s, sizeof series_s);
    json_t *series = json_loads(series_s, 0, NULL);
    json_object_set_new(root, "series", series != NULL ? series : json_array());

    json_t *bots = json_array();
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
            double mark = m != NULL ? json_number_value(m) : NAN;
            double u = isfinite(mark) ? (mark - pos[k].avg_price) * pos[k].qty * pos[k].multiplier : 0;
            unreal += u;
            json_array_append_new(pj, json_pack("{s:s,s:f,s:f,s:f}", "symbol", pos[k].symbol, "qty",
                                                pos[k].qty, "avg_price", pos[k].avg_price,
                                                "unrealized_pnl", u));
        }
        json_array_append_new(
            bots, json_pack("{s:s,s:b,s:b,s:b,s:s,s:f,s:f,s:f,s:i,s:i,s:o,s:f,s:f}", "bot_id",
                            b->bot_id, "enabled", b->enabled, "allowed", have && bud.allowed,
                            "quarantined", bd.quarantined, "quarantine_reason",
                            bd.quarantine_reason, "budget_max_daily_loss",
                            have ? bud.max_daily_loss : 0.0, "daily_loss_left",
                            have ? fmax(0.0, bud.max_daily_loss + fmin(0.0, bd.realized_pnl)) : 0.0,
                            "budget_max_open_risk", have ? bud.max_open_risk : 0.0,
                            "trades_today", bd.trades,
                            "max_trades_per_day", b->max_trades_per_day, "positions", pj,
                            "realized_pnl_today", bd.realized_pnl, "unrealized_pnl", unreal));
    }
    json_decref(marks);
    json_object_set_new(root, "bots", bots);
    return root;
}

static int cmd_status(const cli *c)
{
    hydra_config *cfg = NULL;
    hydra_state *st = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    if ((rc = open_state(cfg, &st)) != 0) {
        free(cfg);
        return rc;
    }
    json_t *s = status_json(cfg, st);
    if (c->json) {
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else {
        json_t *h = json_object_get(s, "halt");
        if (json_is_true(json_object_get(h, "active")))
            printf("trading:    HALTED (%s) since %s until %s\n            %s\n",
                   json_string_value(json_object_get(h, "source")),
                   json_string_value(json_object_get(h, "since")),
                   json_string_value(json_object_get(h, "until")),
                   json_string_value(json_object_get(h, "reason")));
        else
            printf("trading:    allowed (no halt)\n");
        printf("last tick:  %lld at %s (engine time)\n",
               (long long)json_integer_value(json_object_get(s, "last_tick")),
               json_string_value(json_object_get(s, "last_tick_time")));
        printf("day:        %s, day-start equity %.2f\n",
               json_string_value(json_object_get(s, "day")),
               json_number_value(json_object_get(s, "day_start_equity")));
        char *hs = json_dumps(json_object_get(s, "health"), JSON_COMPACT);
        printf("health:     %s\n", hs != NULL ? hs : "{}");
        free(hs);
        size_t k;
        json_t *se;
        json_array_foreach(json_object_get(s, "series"), k, se)
        {
            printf("%-11s %-8s %s%s\n", k == 0 ? "data:" : "",
                   json_string_value(json_object_get(se, "symbol")),
                   json_string_value(json_object_get(se, "source")),
                   json_is_true(json_object_get(se, "generated")) ? "  [generated]" : "");
        }
        printf("%-14s %-8s %-10s %-11s %-10s %9s %9s %11s %11s\n", "bot", "enabled", "state",
               "trades", "positions", "budget", "loss left", "realized", "unrealized");
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(s, "bots"), i, b)
        {
            char trades[32];
            snprintf(trades, sizeof trades, "%lld/%lld",
                     (long long)json_integer_value(json_object_get(b, "trades_today")),
                     (long long)json_integer_value(json_object_get(b, "max_trades_per_day")));
            const char *state = json_is_true(json_object_get(b, "quarantined")) ? "quarantined"
                                : json_is_true(json_object_get(b, "allowed"))   ? "allowed"
                                                                                : "no budget";
            printf("%-14s %-8s %-10s %-11s %-10zu %9.2f %9.2f %11.2f %11.2f\n",
                   json_string_value(json_object_get(b, "bot_id")),
                   json_is_true(json_object_get(b, "enabled")) ? "yes" : "no", state, trades,
                   json_array_size(json_object_get(b, "positions")),
                   json_number_value(json_object_get(b, "budget_max_daily_loss")),
                   json_number_value(json_object_get(b, "daily_loss_left")),
                   json_number_value(json_object_get(b, "realized_pnl_today")),
                   json_number_value(json_object_get(b, "unrealized_pnl")));
        }
    }
    json_decref(s);
    hydra_state_close(st);
    free(cfg);
    return 0;
}

static int cmd_halt(const cli *c)
{
    if (c->reason == NULL || c->reason[0] == '\0') {
        fprintf(stderr, "hydra-host: halt needs --reason TEXT\n");
        return 2;
    }
    hydra_config *cfg = NULL;
    hydra_state *st = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    if ((rc = open_state(cfg, &st)) != 0) {
        free(cfg);
        return rc;
    }
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    /* until 0: an operator halt lasts until an operator resumes. */
    rc = hydra_halt_set(st, c->reason, "operator", hydra_clock_now_ms(&wall), 0);
    if (rc == 0)
        printf("halted: %s (the running host flattens on its next tick; clear with "
               "'hydra-host resume')\n", c->reason);
    else
        fprintf(stderr, "hydra-host: could not write the halt: %s\n", hydra_state_errmsg(st));
    hydra_state_close(st);
    free(cfg);
    return rc == 0 ? 0 : 1;
}

static int cmd_resume(const cli *c)
{
    hydra_engine e;
    hydra_engine_options opt = c->opt;
    opt.tools_only = 1;
    char err[2048];
    int exit_code = 1;
    if (hydra_engine_open(&e, &opt, err, sizeof err, &exit_code) != 0) {
        fprintf(stderr, "hydra-host: %s\n", err);
        return exit_code;
    }
    hydra_halt h;
    int rc = hydra_halt_get(e.state, &h);
    if (rc == 0 && !h.active) {
        printf("no halt is active\n");
        hydra_engine_close(&e);
        return 0;
    }
    char why[512] = "";
    int cond = hydra_exitbot_conditions(&e, why, sizeof why);
    if (cond != 0) {
        fprintf(stderr, "hydra-host: resume refused: %s\n", why[0] ? why : hydra_strerror(cond));
        hydra_engine_close(&e);
        return 1;
    }
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    rc = hydra_halt_clear(e.state, "operator", hydra_clock_now_ms(&wall));
    if (rc == 0)
        printf("resumed: cleared halt \"%s\"\n", h.reason);
    hydra_engine_close(&e);
    return rc == 0 ? 0 : 1;
}

static int cmd_reset_paper(const cli *c)
{
    hydra_config *cfg = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    char err[HYDRA_PATH_LEN + 256];
    if (strcmp(cfg->settings.broker, "sim") != 0) {
        /*
         * Only the embedded exchange can be reset. Deleting the journal while a
         * real account keeps its orders and positions would leave Hydra
         * blind to what it holds, so nothing is touched.
         */
        fprintf(stderr,
                "hydra-host: reset-paper refused: settings.yaml has broker: %s, and Hydra cannot "
                "reset a real account (paper or live); nothing was changed (%s is kept).\n"
                "To start over with this account: run `hydra-host halt` (Hydra cancels its own "
                "orders and closes what it holds), reset the paper account in Alpaca's dashboard "
                "if you want a fresh balance, then `hydra-host resume`. The journal stays: it is "
                "what tells Hydra's positions from yours. If you delete the state database by "
                "hand, the next start draws a new install id, so no old order id is reused.\n",
                cfg->settings.broker, cfg->settings.state_db_path);
        free(cfg);
        return 2;
    }
    /* Starting over means both sides: the paper exchange and the host's journal and state. */
    rc = hydra_sim_reset(cfg->settings.sim.db_path, err, sizeof err);
    if (rc == 0) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[HYDRA_PATH_LEN + 8];
            snprintf(p, sizeof p, "%s%s", cfg->settings.state_db_path, suffix[i]);
            if (unlink(p) != 0 && errno != ENOENT) {
                snprintf(err, sizeof err, "%s: %s", p, strerror(errno));
                rc = HYDRA_EIO;
            }
        }
    }
    if (rc != 0)
        fprintf(stderr, "hydra-host: reset-paper failed: %s\n", err);
    else
        printf("paper account and host state reset (%s, %s)\n", cfg->settings.sim.db_path,
               cfg->settings.state_db_path);
    free(cfg);
    return rc == 0 ? 0 : 1;
}

/*
 * Asks the running host to re-read its configuration and swap changed bots:
 * SIGHUP to the PID in the state lock file, but only while that host still
 * holds the lock (a stale PID may belong to another process by now).
 */
static int cmd_reload(const cli *c)
{
    hydra_config *cfg = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    char path[HYDRA_PATH_LEN + 8], pid_s[32] = "";
    snprintf(path, sizeof path, "%s.lock", cfg->settings.state_db_path);
    free(cfg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "hydra-host: reload: %s: %s (is hydra-host running with this configuration?)\n",
                path, strerror(errno));
        return 1;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        fprintf(stderr, "hydra-host: reload: no hydra-host holds %s; nothing to reload\n", path);
        close(fd);
        return 1;
    }
    ssize_t n = pread(fd, pid_s, sizeof pid_s - 1, 0);
    close(fd);
    pid_s[n > 0 ? n : 0] = '\0';
    char *end;
    long pid = strtol(pid_s, &end, 10);
    if (pid <= 1 || (*end != '\n' && *end != '\0')) {
        fprintf(stderr, "hydra-host: reload: %s does not hold a process id\n", path);
        return 1;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        fprintf(stderr, "hydra-host: reload: cannot signal pid %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    printf("reload requested from hydra-host pid %ld; the log says what changed (config_reloaded, "
           "bot_swapped) or why nothing did (config_reload_rejected)\n", pid);
    return 0;
}

static int cmd_run(const cli *c)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);

    hydra_engine e;
    char err[4096];
    int exit_code = 1;
    if (hydra_engine_open(&e, &c->opt, err, sizeof err, &exit_code) != 0) {
        fprintf(stderr, "%s\nhydra-host: refusing to start\n", err);
        return exit_code;
    }
    e.stop = &g_stop;
    e.reload = &g_reload;
    fprintf(stderr, "hydra-host %s: %d bots, broker %s, log %s; Ctrl-C stops after the tick\n",
            HYDRA_VERSION, e.n_slots, e.cfg->settings.broker, e.cfg->settings.log_path);
    int rc = hydra_engine_run(&e);
    if (rc != 0)
        fprintf(stderr, "hydra-host: stopped with trading halted: %s (the state database was lost "
                        "or a halt could not be persisted; %s says why)\n",
                hydra_strerror(rc), e.cfg->settings.log_path);
    hydra_engine_close(&e);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    /*
     * No process of the same user may read this one's memory, environment
     * or descriptors (/proc/<pid>/mem, process_vm_readv, pidfd_getfd,
     * ptrace): the host holds the broker keys. It also means no core file.
     */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc > 1 && strcmp(argv[1], "backtest") == 0)
        return hydra_backtest_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "sweep") == 0)
        return hydra_sweep_main(argc - 1, argv + 1);
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc != 0)
        return rc;
    if (strcmp(c.command, "run") == 0)
        return cmd_run(&c);
    if (strcmp(c.command, "check-config") == 0)
        return cmd_check_config(&c);
    if (strcmp(c.command, "status") == 0)
        return cmd_status(&c);
    if (strcmp(c.command, "halt") == 0)
        return cmd_halt(&c);
    if (strcmp(c.command, "resume") == 0)
        return cmd_resume(&c);
    if (strcmp(c.command, "reset-paper") == 0)
        return cmd_reset_paper(&c);
    if (strcmp(c.command, "reload") == 0)
        return cmd_reload(&c);
    fprintf(stderr, "hydra-host: unknown command \"%s\"\n", c.command);
    usage(stderr);
    return 2;
}
