/*
 * hydra-host: the command line.
 *
 *   hydra-host [run] [--config DIR] [--plugins DIR] [--once] [--ticks N]
 *              [--interval-ms MS] [--live] [--quiet]
 *   hydra-host check-config [--config DIR] [--plugins DIR] [--online]
 *   hydra-host status [--json] [--config DIR]
 *   hydra-host halt --reason TEXT [--config DIR]
 *   hydra-host resume [--reason TEXT] [--config DIR]
 *   hydra-host reset-paper [--yes] [--config DIR]
 *   hydra-host unquarantine BOT [--reason TEXT] [--config DIR]
 *   hydra-host backtest ... (backtest_cli.c)
 *   hydra-host sweep ... (sweep.c)
 *   hydra-host data fetch ... (datafetch.c)
 *   hydra-host reload [--config DIR]
 *   hydra-host COMMAND --help, hydra-host --version
 *
 * halt, resume, reset-paper and unquarantine are operator actions: each is
 * logged to the app log (operator_halt, ...) and stored in the state
 * database's operator_actions table with the operator's user name, uid and
 * reason. They reach a running host through the state database; reset-paper,
 * which deletes that database, refuses while a host holds the instance lock.
 *
 * Exit status: 0 success, 1 runtime failure (fail closed), 2 usage or
 * configuration error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backtest.h"
#include "checkconfig.h"
#include "datafetch.h"
#include "error.h"
#include "exitbot.h"
#include "loop.h"
#include "service.h"
#include "state.h"
#include "sweep.h"
#include "status.h"

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

/* Each command's usage: `hydra-host COMMAND --help` prints its entry. */
typedef struct command_help {
    const char *name;
    const char *usage;
} command_help;

static const command_help HELP[] = {
    {"run",
     "usage: hydra-host [run] [--config DIR] [--plugins DIR] [--once] [--ticks N]\n"
     "                  [--interval-ms MS] [--live] [--quiet]\n"
     "Runs every bot every tick behind the fail-closed gates until stopped (Ctrl-C or SIGTERM\n"
     "finish the tick). Defaults: --config config/ --plugins plugins/. One host per state\n"
     "database (a lock file beside it).\n"},
    {"check-config",
     "usage: hydra-host check-config [--config DIR] [--plugins DIR] [--online]\n"
     "Validates settings.yaml and bots.yaml, prints the effective configuration, and predicts\n"
     "the run: loads every enabled bot as the host would (in its worker) and creates it with\n"
     "its params, checks every symbol has a price source (a sim.series entry; with broker\n"
     "alpaca and --online, an active, tradable Alpaca asset of the bot's class with a price)\n"
     "and PortfolioBot's bucket arithmetic.\n"
     "Exit 0 when the run would start and trade as configured, 2 with every problem listed.\n"},
    {"status",
     "usage: hydra-host status [--json] [--config DIR]\n"
     "Halt (and whether a running host acknowledged it), health, each bot's budgets, trades,\n"
     "positions and PnL, from the state database. Safe while a host runs.\n"},
    {"halt",
     "usage: hydra-host halt --reason TEXT [--config DIR]\n"
     "Operator halt, lasting until 'hydra-host resume'. A running host acts on it at its next\n"
     "tick: cancels Hydra's open orders and sells what Hydra holds, every tick until flat.\n"
     "Logged (operator_halt) and stored with your user name and uid.\n"},
    {"resume",
     "usage: hydra-host resume [--reason TEXT] [--config DIR]\n"
     "Clears the active halt; refused while a halt condition still holds (says which).\n"
     "Logged (operator_resume) and stored with your user name and uid.\n"},
    {"reset-paper",
     "usage: hydra-host reset-paper [--yes] [--config DIR]\n"
     "Deletes the paper account and the host's state database to start over. Refused while a\n"
     "host runs with this state; asks on a terminal, and without one needs --yes.\n"
     "Logged (operator_reset_paper) and stored in the new state database.\n"},
    {"unquarantine",
     "usage: hydra-host unquarantine BOT [--reason TEXT] [--config DIR]\n"
     "Clears BOT's quarantine for today; a running host picks it up at its next tick.\n"
     "Logged (operator_unquarantine) and stored with your user name and uid.\n"},
    {"reload",
     "usage: hydra-host reload [--config DIR]\n"
     "Asks the running host (SIGHUP) to re-read bots.yaml and swap changed bots.\n"},
};
#define N_HELP (sizeof HELP / sizeof HELP[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-host [run] [--config DIR] [--plugins DIR] [--once] [--ticks N]\n"
            "                  [--interval-ms MS] [--live] [--quiet]\n"
            "       hydra-host check-config [--config DIR] [--plugins DIR] [--online]\n"
            "       hydra-host status [--json] [--config DIR]\n"
            "       hydra-host halt --reason TEXT [--config DIR]\n"
            "       hydra-host resume [--reason TEXT] [--config DIR]\n"
            "       hydra-host reset-paper [--yes] [--config DIR]\n"
            "       hydra-host unquarantine BOT [--reason TEXT] [--config DIR]\n"
            "       hydra-host backtest [--from D] [--to D] [--cash N] [--out DIR] ... (backtest --help)\n"
            "       hydra-host sweep SPEC.yaml [--jobs N] [--shard K/N] [--out FILE] ... (sweep --help)\n"
            "       hydra-host sweep collect DIR [--out FILE]\n"
            "       hydra-host data fetch --symbols S,... --timeframe TF --from D --to D ... (data fetch --help)\n"
            "       hydra-host reload [--config DIR]\n"
            "       hydra-host COMMAND --help | --version\n"
            "\n"
            "Runs every bot every tick behind the fail-closed gates; defaults: --config config/\n"
            "--plugins plugins/. The default broker is the embedded simulated exchange.\n"
            "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

/* The command's own usage, or the global one for a command nobody knows. */
static void usage_of(const char *command, FILE *out)
{
    for (size_t i = 0; i < N_HELP; i++)
        if (strcmp(HELP[i].name, command) == 0) {
            fputs(HELP[i].usage, out);
            return;
        }
    usage(out);
}

typedef struct cli {
    const char *command;
    hydra_engine_options opt;
    int json;
    int yes;
    int online; /* check-config --online */
    const char *reason;
    const char *bot;   /* unquarantine's argument */
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"plugins", required_argument, NULL, 'p'},
        {"once", no_argument, NULL, '1'},          {"ticks", required_argument, NULL, 'n'},
        {"interval-ms", required_argument, NULL, 'i'}, {"live", no_argument, NULL, 'L'},
        {"quiet", no_argument, NULL, 'q'},         {"json", no_argument, NULL, 'j'},
        {"reason", required_argument, NULL, 'r'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {"yes", no_argument, NULL, 'y'},
        {"online", no_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    memset(c, 0, sizeof *c);
    c->command = "run";
    snprintf(c->opt.config_dir, sizeof c->opt.config_dir, "config");
    snprintf(c->opt.plugins_dir, sizeof c->opt.plugins_dir, "plugins");
    c->opt.interval_ms = -1;
    int named = argc > 1 && argv[1][0] != '-';
    if (named) {
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
        case 'y': c->yes = 1; break;
        case 'o': c->online = 1; break;
        case 'h':
            /* A command's own usage; every command's when none is named. */
            if (named)
                usage_of(c->command, stdout);
            else
                usage(stdout);
            exit(0);
        case 'V': printf("hydra-host %s (plugin ABI %u.%u.%u)\n", HYDRA_VERSION, HYDRA_ABI_MAJOR,
                         HYDRA_ABI_MINOR, HYDRA_ABI_PATCH); exit(0);
        default: usage_of(c->command, stderr); return 2;
        }
    }
    if (strcmp(c->command, "unquarantine") == 0 && optind < argc)
        c->bot = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "hydra-host: unexpected argument \"%s\"\n", argv[optind]);
        usage_of(c->command, stderr);
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

/* ---- operators ---- */

typedef struct operator_id {
    char user[64];
    long uid;
    char who[96]; /* "user (uid N)" */
} operator_id;

/* Who runs this command: the user name of the real uid (getpwuid), or "uid N" without one. */
static void operator_of(operator_id *op)
{
    uid_t uid = getuid();
    struct passwd *pw = getpwuid(uid);
    op->uid = (long)uid;
    snprintf(op->user, sizeof op->user, "%s", pw != NULL && pw->pw_name != NULL ? pw->pw_name : "");
    if (op->user[0] == '\0')
        snprintf(op->user, sizeof op->user, "uid %ld", op->uid);
    snprintf(op->who, sizeof op->who, "%s (uid %ld)", op->user, op->uid);
}

/*
 * The PID of the hydra-host that holds the state's instance lock, or 0 when
 * none does (the lock is an flock on "<db>.lock" holding the PID).
 */
static long running_host(const hydra_config *cfg)
{
    char path[HYDRA_PATH_LEN + 8], pid_s[32] = "";
    snprintf(path, sizeof path, "%s.lock", cfg->settings.state_db_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        ssize_t n = pread(fd, pid_s, sizeof pid_s - 1, 0);
        pid_s[n > 0 ? n : 0] = '\0';
        pid = strtol(pid_s, NULL, 10);
        if (pid <= 0)
            pid = -1; /* held, by a process that did not say which */
    }
    close(fd);
    return pid;
}

/*
 * Records an operator action: a line in the app log (event "operator_<action>")
 * and a row in operator_actions. Either failing is reported; the caller decides.
 */
static int record_action(const hydra_config *cfg, hydra_state *st, const operator_id *op,
                         const char *action, const char *reason, const char *detail)
{
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    int64_t now = hydra_clock_now_ms(&wall);
    int rc = 0;
    char err[HYDRA_PATH_LEN + 128] = "";
    hydra_log *lg = NULL;
    char event[64];
    snprintf(event, sizeof event, "operator_%s", action);
    if (hydra_log_open(cfg->settings.log_path, hydra_settings_log_keep(&cfg->settings), &lg, err,
                       sizeof err) == 0) {
        /* Written like the host's lines: never into a rotated file being compressed. */
        hydra_log_set_rotation(lg, 0, 1);
        rc = hydra_log_pack(lg, HYDRA_LOG_WARN, event, NULL, "{s:s,s:I,s:s,s:s,s:i}", "user",
                            op->user, "uid", (json_int_t)op->uid, "reason", reason ? reason : "",
                            "detail", detail ? detail : "", "pid", (int)getpid());
        hydra_log_close(lg);
    } else {
        rc = HYDRA_EIO;
    }
    if (rc != 0)
        fprintf(stderr, "hydra-host: could not log %s to %s: %s\n", event, cfg->settings.log_path,
                err[0] ? err : "write failed");
    if (st != NULL && hydra_operator_action_add(st, now, action, op->user, op->uid, reason,
                                                detail) != 0) {
        fprintf(stderr, "hydra-host: could not store the %s action: %s\n", action,
                hydra_state_errmsg(st));
        rc = HYDRA_ESTATE;
    }
    return rc;
}

static int cmd_check_config(const cli *c)
{
    hydra_check_options opt = {c->opt.config_dir, c->opt.plugins_dir, c->online};
    return hydra_check_config(&opt, stdout, stderr);
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
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    json_t *s = hydra_status_build(cfg, st, hydra_clock_now_ms(&wall));
    if (s == NULL) {
        fprintf(stderr, "hydra-host: status: out of memory\n");
        rc = 1;
    } else if (c->json) {
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text != NULL)
            puts(text);
        free(text);
    } else {
        hydra_status_print(s, stdout);
    }
    json_decref(s);
    hydra_state_close(st);
    free(cfg);
    return rc;
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
    operator_id op;
    operator_of(&op);
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    /* until 0: an operator halt lasts until an operator resumes. */
    rc = hydra_halt_request(st, c->reason, "operator", hydra_clock_now_ms(&wall), 0, op.who);
    if (rc == 0) {
        long host = running_host(cfg);
        char detail[96] = "no host running";
        if (host != 0)
            snprintf(detail, sizeof detail, "host pid %ld running", host);
        record_action(cfg, st, &op, "halt", c->reason, detail);
        if (host != 0)
            printf("halted: %s\nhydra-host pid %ld acts on it at its next tick (cancels Hydra's "
                   "open orders, sells what Hydra holds); 'hydra-host status' shows when. Clear "
                   "with 'hydra-host resume'.\n",
                   c->reason, host);
        else
            printf("halted: %s\nno host is running; the next start acts on it. Clear with "
                   "'hydra-host resume'.\n",
                   c->reason);
    } else {
        fprintf(stderr, "hydra-host: could not write the halt: %s\n", hydra_state_errmsg(st));
    }
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
    operator_id op;
    operator_of(&op);
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    char by[128];
    snprintf(by, sizeof by, "operator %s", op.who);
    rc = hydra_halt_clear(e.state, by, hydra_clock_now_ms(&wall));
    if (rc == 0) {
        char detail[320];
        snprintf(detail, sizeof detail, "cleared halt (%s): %s", h.source, h.reason);
        record_action(e.cfg, e.state, &op, "resume", c->reason, detail);
        printf("resumed: cleared halt \"%s\"\n", h.reason);
    }
    hydra_engine_close(&e);
    return rc == 0 ? 0 : 1;
}

/* y/N on a terminal; anything but y or yes is no. */
static int confirm(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 || strcmp(line, "yes") == 0;
}

static int cmd_reset_paper(const cli *c)
{
    hydra_config *cfg = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    const char *sim_db = cfg->settings.sim.db_path, *state_db = cfg->settings.state_db_path;
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
    /*
     * Deleting the state under a running host leaves it writing to a file
     * nobody can see and deaf to every later command: the instance lock is
     * taken for the whole reset, and a host holding it means no.
     */
    char lock_path[HYDRA_PATH_LEN + 8];
    snprintf(lock_path, sizeof lock_path, "%s.lock", state_db);
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) {
        fprintf(stderr, "hydra-host: reset-paper: %s: %s\n", lock_path, strerror(errno));
        free(cfg);
        return 1;
    }
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(lock, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr,
                "hydra-host: reset-paper refused: hydra-host pid %s is running with this state "
                "(%s); stop it first (Ctrl-C or SIGTERM finishes its tick)\n",
                pid[0] ? pid : "unknown", state_db);
        close(lock);
        free(cfg);
        return 1;
    }
    if (!c->yes) {
        char q[2 * HYDRA_PATH_LEN + 128];
        snprintf(q, sizeof q, "reset-paper deletes the paper account %s and the host state %s "
                              "(journal, positions, halts). Continue?", sim_db, state_db);
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "hydra-host: reset-paper refused: it deletes %s and %s; nobody at a "
                            "terminal to confirm, so run it again with --yes\n",
                    sim_db, state_db);
            close(lock);
            free(cfg);
            return 1;
        }
        if (!confirm(q)) {
            fprintf(stderr, "hydra-host: reset-paper: nothing deleted\n");
            close(lock);
            free(cfg);
            return 1;
        }
    }

    operator_id op;
    operator_of(&op);
    char detail[2 * HYDRA_PATH_LEN + 16];
    snprintf(detail, sizeof detail, "%s, %s", sim_db, state_db);
    /* Logged before anything goes: the log outlives the database. */
    record_action(cfg, NULL, &op, "reset_paper", c->reason, detail);

    char err[HYDRA_PATH_LEN + 256];
    /* Starting over means both sides: the paper exchange and the host's journal and state. */
    rc = hydra_sim_reset(sim_db, err, sizeof err);
    if (rc == 0) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[HYDRA_PATH_LEN + 8];
            snprintf(p, sizeof p, "%s%s", state_db, suffix[i]);
            if (unlink(p) != 0 && errno != ENOENT) {
                snprintf(err, sizeof err, "%s: %s", p, strerror(errno));
                rc = HYDRA_EIO;
            }
        }
    }
    if (rc == 0) {
        /* The new state database starts with who reset it. */
        hydra_state *st = NULL;
        hydra_clock wall;
        hydra_clock_init_wall(&wall);
        if (hydra_state_open(state_db, &st, err, sizeof err) != 0 ||
            hydra_operator_action_add(st, hydra_clock_now_ms(&wall), "reset_paper", op.user,
                                      op.uid, c->reason, detail) != 0)
            fprintf(stderr, "hydra-host: reset-paper: could not record the reset in %s\n",
                    state_db);
        hydra_state_close(st);
    }
    close(lock);
    if (rc != 0)
        fprintf(stderr, "hydra-host: reset-paper failed: %s\n", err);
    else
        printf("paper account and host state reset (%s, %s)\n", sim_db, state_db);
    free(cfg);
    return rc == 0 ? 0 : 1;
}

/* Clears a bot's quarantine for the current trading day; a running host picks it up next tick. */
static int cmd_unquarantine(const cli *c)
{
    if (c->bot == NULL || c->bot[0] == '\0') {
        fprintf(stderr, "hydra-host: unquarantine needs the bot id\n");
        usage_of("unquarantine", stderr);
        return 2;
    }
    hydra_config *cfg = NULL;
    hydra_state *st = NULL;
    int rc = load_config(c, &cfg);
    if (rc != 0)
        return rc;
    if (hydra_config_find_bot(cfg, c->bot) == NULL) {
        fprintf(stderr, "hydra-host: unquarantine: no bot \"%s\" in %s/bots.yaml\n", c->bot,
                c->opt.config_dir);
        free(cfg);
        return 2;
    }
    if ((rc = open_state(cfg, &st)) != 0) {
        free(cfg);
        return rc;
    }
    char day[16] = "";
    hydra_kv_get_str(st, "day_key", day, sizeof day);
    hydra_bot_day bd = {0};
    int cleared = 0;
    rc = hydra_bot_day_get(st, c->bot, day, &bd);
    if (rc == 0 && bd.quarantined)
        rc = hydra_bot_day_unquarantine(st, c->bot, day, &cleared);
    if (rc != 0) {
        fprintf(stderr, "hydra-host: unquarantine: %s\n", hydra_state_errmsg(st));
    } else if (!cleared) {
        printf("%s is not quarantined on trading day %s; nothing to clear\n", c->bot,
               day[0] ? day : "(none yet)");
    } else {
        operator_id op;
        operator_of(&op);
        char detail[400];
        snprintf(detail, sizeof detail, "bot %.64s, day %.15s, was: %.250s", c->bot, day,
                 bd.quarantine_reason);
        record_action(cfg, st, &op, "unquarantine", c->reason, detail);
        long host = running_host(cfg);
        printf("%s: quarantine cleared for %s (was: %s)%s\n", c->bot, day, bd.quarantine_reason,
               host != 0 ? "; the running host picks it up at its next tick" : "");
    }
    hydra_state_close(st);
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
    hydra_service_init(); /* before any worker starts: they must not inherit NOTIFY_SOCKET */
    if (hydra_engine_open(&e, &c->opt, err, sizeof err, &exit_code) != 0) {
        fprintf(stderr, "%s\nhydra-host: refusing to start\n", err);
        hydra_service_notify("STATUS=refusing to start; see the journal");
        hydra_service_close();
        return exit_code;
    }
    hydra_service_notify("READY=1\nSTATUS=started; reconciled; ticking");
    e.stop = &g_stop;
    e.reload = &g_reload;
    if (!c->opt.quiet)
        fprintf(stderr,
                "hydra-host %s: %d bots, broker %s, log %s; Ctrl-C stops after the tick\n",
                HYDRA_VERSION, e.n_slots, e.cfg->settings.broker, e.cfg->settings.log_path);
    int rc = hydra_engine_run(&e);
    hydra_service_notify("STOPPING=1\nSTATUS=stopping");
    if (rc != 0)
        fprintf(stderr, "hydra-host: stopped with trading halted: %s (the state database was lost "
                        "or a halt could not be persisted; %s says why)\n",
                hydra_strerror(rc), e.cfg->settings.log_path);
    hydra_engine_close(&e);
    hydra_service_close();
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
    if (argc > 1 && strcmp(argv[1], "data") == 0)
        return hydra_data_main(argc - 1, argv + 1);
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
    if (strcmp(c.command, "unquarantine") == 0)
        return cmd_unquarantine(&c);
    fprintf(stderr, "hydra-host: unknown command \"%s\"\n", c.command);
    usage(stderr);
    return 2;
}
