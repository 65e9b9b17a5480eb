/*
 * hydra-conform PATH.so: runs the conformance checks on one plugin.
 *
 * Every check runs in its own child process, which loads the plugin
 * itself, under a deadline: a plugin that crashes or hangs costs that
 * check a CRASH or TIMEOUT, and the harness goes on to the next one. The
 * child's stdout and stderr go to a scratch file, so neither the plugin
 * nor a sanitizer report can corrupt the report; the first line of a
 * crashing child's output is quoted in its reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "conform.h"

#define MAX_PATTERNS 8

static const char *const outcome_names[] = {"PASS", "WARN", "SKIP", "FAIL", "CRASH", "TIMEOUT"};

typedef struct cli {
    const char *path;
    const char *params;
    const char *bot;
    const char *mode;
    const char *include[MAX_PATTERNS];
    const char *exclude[MAX_PATTERNS];
    int n_include, n_exclude;
    int json, in_process, list, have_seed;
    uint64_t seed;
} cli;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-conform PATH.so [--params FILE] [--bot ID] [--mode NAME] [--json]\n"
            "                     [--include RE] [--exclude RE] [--seed N] [--timeout S]\n"
            "                     [--budget-median MS] [--budget-p99 MS] [--repeat N] [--in-process]\n"
            "                     [--call-deadline MS] [--max-timeouts N]\n"
            "       hydra-conform --list\n"
            "\n"
            "Runs every conformance check on one Hydra plugin, each in its own process with a deadline.\n"
            "  --params FILE   a bots.yaml (same format as config/bots.yaml) holding the bot's configuration;\n"
            "                  the bot is --bot ID, else the first whose plugin is PATH's name, else the first\n"
            "  --mode NAME     the signal mode (overrides --params; without --params the first known mode\n"
            "                  create accepts is used, with one symbol per declared asset class)\n"
            "  --include RE    run only checks whose name matches RE (extended regex; repeatable)\n"
            "  --exclude RE    skip checks whose name matches RE (repeatable)\n"
            "  --seed N        seed of the synthetic tape (printed on every run; replays it)\n"
            "  --timeout S     deadline per check, seconds (default 10)\n"
            "  --budget-median MS, --budget-p99 MS   call-deadline budgets (default 1 and 10 ms)\n"
            "  --repeat N      create-destroy-repeat cycles (default 1000)\n"
            "  --call-deadline MS  one manage or on_tick call longer than this TIMES OUT its check at once\n"
            "                  (default 1000)\n"
            "  --max-timeouts N    after N checks TIME OUT the remaining ones are skipped (default 3)\n"
            "  --in-process    run the checks in this process, for a debugger (a crash ends the run;\n"
            "                  the plugin runs unconfined: only for code you trust)\n"
            "  --json          one JSON object on stdout instead of text\n"
            "  --list          print the check table and exit\n"
            "Exit status: 0 when no check FAILs, CRASHes or TIMEs OUT; 1 otherwise; 2 on a usage error.\n");
}

static int matches(const char *name, const char *const *patterns, int n, int *bad)
{
    int i;
    for (i = 0; i < n; i++) {
        regex_t re;
        int hit;
        if (regcomp(&re, patterns[i], REG_EXTENDED | REG_NOSUB) != 0) {
            *bad = 1;
            return 0;
        }
        hit = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit)
            return 1;
    }
    return 0;
}

/* ---- running one check in a child ---------------------------------------- */

/* The first line of the child's output worth quoting: a sanitizer's ERROR line, else the first line. */
static void child_output_line(FILE *f, char *out, size_t outsz)
{
    char line[512];
    out[0] = '\0';
    if (f == NULL || fseek(f, 0, SEEK_SET) != 0)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' || (strncmp(line, "==", 2) == 0 && strstr(line, "ERROR") == NULL))
            continue;
        if (strstr(line, "ERROR") != NULL || out[0] == '\0')
            snprintf(out, outsz, "%.300s", line);
        if (strstr(line, "ERROR") != NULL)
            break;
    }
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* True when the child has been inside one manage or on_tick call longer than the call deadline. */
static int call_overdue(const conform_probe *p, double deadline_ms)
{
    struct timespec now;
    if (p == NULL || !p->in_call || !(deadline_ms > 0))
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - p->call_start_ns) / 1e6 > deadline_ms;
}

/* A TIMEOUT, said with the call that was running, its case, and the times of the calls before it. */
static void describe_timeout(const conform_probe *p, const conform_opts *o, int late, conform_result *r)
{
    char times[160];
    if (p == NULL || p->callback[0] == '\0') {
        hydra_conform_set(r, CONFORM_TIMEOUT, "no result within %.3g s; the child was killed", o->timeout_s);
        return;
    }
    hydra_conform_probe_times(p, times, sizeof times);
    if (late)
        hydra_conform_set(r, CONFORM_TIMEOUT, "%s ran past the %.4g ms call deadline, %s; %s; the child was killed",
                          p->callback, o->call_deadline_ms, p->where, times);
    else
        hydra_conform_set(r, CONFORM_TIMEOUT, "no result within %.3g s (%s %s, %s); %s; the child was killed",
                          o->timeout_s, p->in_call ? "in" : "last after", p->callback, p->where, times);
    snprintf(r->where, sizeof r->where, "%s, %.290s", p->callback, p->where);
    if (p->in_call)
        snprintf(r->cause, sizeof r->cause, "%s past the %.4g ms call deadline", p->callback,
                 late ? o->call_deadline_ms : o->timeout_s * 1000);
}

/* Writes the child's result to the parent and exits. */
static void report_and_exit(int fd, const conform_result *mine)
{
    const char *p = (const char *)mine;
    for (size_t left = sizeof *mine; left > 0;) {
        ssize_t n = write(fd, p, left);
        if (n <= 0)
            _exit(3);
        p += n;
        left -= (size_t)n;
    }
    _exit(0);
}

/*
 * The check's child confines itself as hydra-worker does before any plugin
 * code runs (worker/confine.h): Landlock where the kernel has it (reads
 * beneath the system libraries and the plugin's directory only, no writes,
 * no TCP), then the worker's seccomp allow-list, where writes reach only the
 * result pipe and stderr. A plugin that a worker would kill for a system
 * call dies here the same way, and is reported as a crash (SIGSYS). If the
 * allow-list cannot be installed, the check fails rather than run the
 * plugin unconfined.
 */
static int confine_child(const char *plugin_path, int result_fd, conform_result *mine)
{
    char copy[4096], why[256];
    snprintf(copy, sizeof copy, "%s", plugin_path);
    const char *dir = dirname(copy);
    /* Without Landlock (an older kernel), seccomp alone, as a worker without landlock_required. */
    (void)hydra_confine_landlock(dir, why, sizeof why);
    if (hydra_confine_seccomp_load(result_fd, why, sizeof why) != 0) {
        memset(mine, 0, sizeof *mine);
        hydra_conform_set(mine, CONFORM_FAIL, "cannot confine the plugin as a worker does: %s", why);
        return -1;
    }
    return 0;
}

static void run_forked(const conform_check *c, const conform_opts *o, conform_result *r)
{
    int fds[2] = {-1, -1}, status = 0;
    FILE *scratch = tmpfile();
    struct timespec t0;
    size_t got = 0;
    char line[400];
    pid_t pid;

    conform_probe *probe = hydra_conform_probe_area;
    char fault[400];

    memset(r, 0, sizeof *r);
    if (probe != NULL)
        memset(probe, 0, sizeof *probe);
    if (scratch == NULL || pipe2(fds, O_CLOEXEC) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot start a child: %s", strerror(errno));
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        hydra_conform_set(r, CONFORM_FAIL, "fork failed: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        conform_result mine;
        /* The child: its own process group so a plugin's children die with it; output to the scratch file. */
        setpgid(0, 0);
        close(fds[0]);
        dup2(fileno(scratch), STDOUT_FILENO);
        dup2(fileno(scratch), STDERR_FILENO);
        hydra_conform_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        /*
         * LeakSanitizer's leak check stops the world with ptrace from a new
         * process and reads /proc, which the allow-list forbids: in a
         * sanitizer build (tests only) the two checks that ask it run
         * unconfined. Release builds confine every check.
         */
        if (!hydra_conform_asks_lsan(c) &&
            confine_child(o->path, fds[1], &mine) != 0)
            report_and_exit(fds[1], &mine);
        hydra_conform_run_check(c, o, &mine);
        report_and_exit(fds[1], &mine);
    }
    close(fds[1]);
    fds[1] = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < sizeof *r) {
        double left = o->timeout_s - elapsed_s(&t0);
        struct pollfd pfd = {fds[0], POLLIN, 0};
        ssize_t n;
        int pr, late = call_overdue(probe, o->call_deadline_ms);
        if (left <= 0 || late) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            describe_timeout(probe, o, late, r);
            goto fail;
        }
        /* Short waits while a call runs, so one past the call deadline is stopped at once. */
        pr = poll(&pfd, 1, left > 0.02 ? 20 : (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        n = read(fds[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    waitpid(pid, &status, 0);
    kill(-pid, SIGKILL); /* anything the plugin started is gone with its child */
    if (got == sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        goto fail;
    child_output_line(scratch, line, sizeof line);
    /* Where it died: the callback and case the probe last saw, and the faulting function. */
    fault[0] = '\0';
    if (probe != NULL && probe->callback[0] != '\0') {
        char at[300] = "";
        if (probe->fault_sig != 0)
            hydra_conform_probe_fault(probe, at, sizeof at);
        snprintf(fault, sizeof fault, " in %s, %.250s%s%.120s", probe->callback, probe->where, at[0] ? ", at " : "", at);
        snprintf(r->where, sizeof r->where, "%s, %.290s", probe->callback, probe->where);
    }
    if (WIFSIGNALED(status)) {
        hydra_conform_set(r, CONFORM_CRASH, "the child was killed by signal %d (%s)%s%s%s", WTERMSIG(status),
                          strsignal(WTERMSIG(status)), fault, line[0] ? ": " : "", line);
        if (probe != NULL && probe->callback[0] != '\0') {
            char at[300] = "";
            if (probe->fault_sig != 0)
                hydra_conform_probe_fault(probe, at, sizeof at);
            snprintf(r->cause, sizeof r->cause, "signal %d (SIG%s) in %s%s%.200s", WTERMSIG(status),
                     sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?", probe->callback,
                     at[0] ? " at " : "", at);
        }
    } else {
        hydra_conform_set(r, CONFORM_CRASH, "the child exited with status %d before reporting%s%s%s",
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1, fault, line[0] ? ": " : "", line);
        if (probe != NULL && probe->callback[0] != '\0')
            snprintf(r->cause, sizeof r->cause, "exit with status %d in %s%s%.120s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, probe->callback, line[0] ? ": " : "", line);
    }

fail:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (scratch != NULL)
        fclose(scratch);
    if ((unsigned)r->outcome > CONFORM_TIMEOUT)
        hydra_conform_set(r, CONFORM_FAIL, "the child reported an unknown outcome");
}

static void run_check(const conform_check *c, const conform_opts *o, int in_process, conform_result *r)
{
    if (in_process)
        hydra_conform_run_check(c, o, r);
    else
        run_forked(c, o, r);
}

/* ---- configuration ------------------------------------------------------- */

/* The plugin's name from its path: "build/plugins/momentum.so" -> "momentum". */
static void plugin_name(const char *path, char *out, size_t outsz)
{
    const char *base = strrchr(path, '/');
    size_t n;
    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    snprintf(out, outsz, "%.*s", (int)n, base);
}

/*
 * Loads the bot's configuration from a bots.yaml with the host's own
 * strict parser. hydra_config_load reads a directory, so a file that is not
 * a config directory's bots.yaml is linked into a scratch directory beside
 * an empty settings.yaml, and the messages name the file as given.
 */
static int load_params(const cli *a, hydra_bot_cfg *out)
{
    char dir[PATH_MAX], tmp[] = "/tmp/hydra-conform.XXXXXX", real[PATH_MAX], link[PATH_MAX + 16],
                        settings[PATH_MAX + 16], name[HYDRA_ID_LEN], copy[PATH_MAX];
    hydra_config *cfg = calloc(1, sizeof *cfg);
    const hydra_bot_cfg *pick = NULL;
    hydra_diag diag;
    int made = 0, rc = -1, i;
    size_t k;
    FILE *f;

    hydra_diag_init(&diag);
    if (cfg == NULL) {
        fprintf(stderr, "hydra-conform: out of memory\n");
        goto fail;
    }
    if (realpath(a->params, real) == NULL) {
        fprintf(stderr, "hydra-conform: %s: %s\n", a->params, strerror(errno));
        goto fail;
    }
    snprintf(copy, sizeof copy, "%s", real);
    snprintf(dir, sizeof dir, "%s", dirname(copy));
    snprintf(settings, sizeof settings, "%s/settings.yaml", dir);
    if (!(strcmp(strrchr(real, '/') + 1, "bots.yaml") == 0 && access(settings, R_OK) == 0)) {
        if (mkdtemp(tmp) == NULL) {
            fprintf(stderr, "hydra-conform: cannot make a scratch directory: %s\n", strerror(errno));
            goto fail;
        }
        made = 1;
        snprintf(dir, sizeof dir, "%s", tmp);
        snprintf(settings, sizeof settings, "%s/settings.yaml", tmp);
        snprintf(link, sizeof link, "%s/bots.yaml", tmp);
        f = fopen(settings, "w");
        if (f == NULL || fputs("{}\n", f) < 0 || fclose(f) != 0 || symlink(real, link) != 0) {
            fprintf(stderr, "hydra-conform: cannot prepare %s: %s\n", tmp, strerror(errno));
            goto fail;
        }
    }
    if (hydra_config_load(dir, cfg, &diag) != 0) {
        for (k = 0; k < diag.n; k++) {
            const char *line = diag.lines[k];
            if (made && strncmp(line, tmp, strlen(tmp)) == 0 && strncmp(line + strlen(tmp), "/bots.yaml", 10) == 0)
                fprintf(stderr, "%s%s\n", a->params, line + strlen(tmp) + 10);
            else
                fprintf(stderr, "%s\n", line);
        }
        goto fail;
    }
    plugin_name(a->path, name, sizeof name);
    for (i = 0; i < cfg->n_bots && pick == NULL; i++)
        if (a->bot != NULL ? strcmp(cfg->bots[i].bot_id, a->bot) == 0 : strcmp(cfg->bots[i].plugin, name) == 0)
            pick = &cfg->bots[i];
    if (pick == NULL && a->bot == NULL && cfg->n_bots > 0)
        pick = &cfg->bots[0];
    if (pick == NULL) {
        fprintf(stderr, "hydra-conform: %s: no bot %s%s\n", a->params, a->bot ? "with id " : "declared",
                a->bot ? a->bot : "");
        goto fail;
    }
    *out = *pick;
    rc = 0;

fail:
    if (made) {
        snprintf(link, sizeof link, "%s/bots.yaml", tmp);
        unlink(link);
        unlink(settings);
        rmdir(tmp);
    }
    hydra_diag_free(&diag);
    free(cfg);
    return rc;
}

/* Without --params: a generic bot whose symbols and mode the probe check picks. */
static void default_config(const cli *a, conform_opts *o, char *note, size_t notesz)
{
    conform_result r;
    unsigned classes = 0;
    char mode[HYDRA_ID_LEN] = "";
    hydra_bot_cfg *c = &o->cfg;

    memset(c, 0, sizeof *c);
    snprintf(c->bot_id, sizeof c->bot_id, "conform");
    plugin_name(a->path, c->plugin, sizeof c->plugin);
    c->kind = HYDRA_BOT_GENERIC;
    c->enabled = 1;
    c->max_trades_per_day = 3;
    c->max_concurrent_positions = 2;
    c->stop_loss_pct = 0.5;
    c->order_type = HYDRA_ORDER_MARKET;
    c->tif = HYDRA_TIF_DAY;
    c->default_notional_usd = 100.0;
    c->dte_min = 7;
    c->dte_max = 45;
    c->delta_min = 0.25;
    c->delta_max = 0.60;
    if (a->mode != NULL)
        snprintf(c->signal_mode, sizeof c->signal_mode, "%s", a->mode);
    run_check(&hydra_conform_probe, o, a->in_process, &r);
    if (r.outcome != CONFORM_PASS || sscanf(r.message, "%u %63s", &classes, mode) != 2) {
        /*
         * No configuration works (or the plugin does not even load). The
         * checks still run, so the ones about the reason say what is wrong
         * and the rest are skipped; the note says why.
         */
        snprintf(note, notesz, "no mode found: %s %s", outcome_names[r.outcome <= CONFORM_TIMEOUT ? r.outcome : CONFORM_FAIL],
                 r.message);
        classes = HYDRA_ASSET_EQUITY;
        snprintf(mode, sizeof mode, "%s", a->mode != NULL ? a->mode : "none");
    }
    hydra_conform_default_symbols(c, classes);
    snprintf(c->signal_mode, sizeof c->signal_mode, "%s", mode);
}

/* ---- one cause, many checks ------------------------------------------------- */

#define CAUSE_CASES 3 /* cases quoted for a cause seen by several checks */

/* The first selected check up to `upto` whose cause is that of check `upto`; -1 when it has none. */
static int first_with_cause(const conform_result *results, const int *selected, size_t upto)
{
    size_t j;
    if (results[upto].cause[0] == '\0')
        return -1;
    for (j = 0; j <= upto; j++)
        if (selected[j] && strcmp(results[j].cause, results[upto].cause) == 0)
            return (int)j;
    return -1;
}

static int cause_count(const conform_result *results, const int *selected, size_t first)
{
    int n = 0;
    for (size_t j = first; j < hydra_conform_n_checks; j++)
        if (selected[j] && strcmp(results[j].cause, results[first].cause) == 0)
            n++;
    return n;
}

/* Each cause seen by more than one check: once, with its count and its first few cases. */
static void print_repeated_causes(const conform_result *results, const int *selected)
{
    for (size_t i = 0; i < hydra_conform_n_checks; i++) {
        int n, shown = 0;
        if (!selected[i] || first_with_cause(results, selected, i) != (int)i ||
            (n = cause_count(results, selected, i)) < 2)
            continue;
        printf("one cause, %d checks: %s\n", n, results[i].cause);
        for (size_t j = i; j < hydra_conform_n_checks && shown < CAUSE_CASES; j++)
            if (selected[j] && strcmp(results[j].cause, results[i].cause) == 0) {
                printf("  %s: %s\n", hydra_conform_checks[j].name, results[j].where);
                shown++;
            }
        if (n > CAUSE_CASES)
            printf("  and %d more\n", n - CAUSE_CASES);
    }
}

/* The "causes" array of --json: every distinct cause, its checks and its first cases. */
static json_t *causes_json(const conform_result *results, const int *selected)
{
    json_t *all = json_array();
    for (size_t i = 0; i < hydra_conform_n_checks; i++) {
        json_t *c, *checks, *cases;
        if (!selected[i] || first_with_cause(results, selected, i) != (int)i)
            continue;
        c = json_object();
        checks = json_array();
        cases = json_array();
        for (size_t j = i; j < hydra_conform_n_checks; j++)
            if (selected[j] && strcmp(results[j].cause, results[i].cause) == 0) {
                json_array_append_new(checks, json_string(hydra_conform_checks[j].name));
                if (json_array_size(cases) < CAUSE_CASES)
                    json_array_append_new(cases, json_string(results[j].where));
            }
        json_object_set_new(c, "cause", json_string(results[i].cause));
        json_object_set_new(c, "count", json_integer((json_int_t)json_array_size(checks)));
        json_object_set_new(c, "checks", checks);
        json_object_set_new(c, "first_cases", cases);
        json_array_append_new(all, c);
    }
    return all;
}

/* ---- main ------------------------------------------------------------------ */

static void list_checks(void)
{
    size_t i;
    for (i = 0; i < hydra_conform_n_checks; i++)
        printf("%-24s %s%s\n", hydra_conform_checks[i].name, hydra_conform_checks[i].description,
               hydra_conform_checks[i].randomised ? " [seeded]" : "");
}

static int parse_args(int argc, char **argv, cli *a, conform_opts *o)
{
    static const struct option longs[] = {
        {"params", required_argument, NULL, 'p'},       {"bot", required_argument, NULL, 'b'},
        {"mode", required_argument, NULL, 'm'},         {"json", no_argument, NULL, 'j'},
        {"include", required_argument, NULL, 'i'},      {"exclude", required_argument, NULL, 'x'},
        {"seed", required_argument, NULL, 's'},         {"timeout", required_argument, NULL, 't'},
        {"budget-median", required_argument, NULL, 'M'}, {"budget-p99", required_argument, NULL, 'P'},
        {"repeat", required_argument, NULL, 'r'},       {"in-process", no_argument, NULL, 'n'},
        {"list", no_argument, NULL, 'l'},               {"help", no_argument, NULL, 'h'},
        {"call-deadline", required_argument, NULL, 'D'}, {"max-timeouts", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    char *end;
    int ch;

    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        errno = 0;
        switch (ch) {
        case 'p': a->params = optarg; break;
        case 'b': a->bot = optarg; break;
        case 'm': a->mode = optarg; break;
        case 'j': a->json = 1; break;
        case 'n': a->in_process = 1; break;
        case 'l': a->list = 1; break;
        case 'i':
            if (a->n_include == MAX_PATTERNS)
                return fprintf(stderr, "hydra-conform: at most %d --include\n", MAX_PATTERNS), -1;
            a->include[a->n_include++] = optarg;
            break;
        case 'x':
            if (a->n_exclude == MAX_PATTERNS)
                return fprintf(stderr, "hydra-conform: at most %d --exclude\n", MAX_PATTERNS), -1;
            a->exclude[a->n_exclude++] = optarg;
            break;
        case 's':
            a->seed = strtoull(optarg, &end, 0);
            if (errno || *end || optarg[0] == '\0' || optarg[0] == '-')
                return fprintf(stderr, "hydra-conform: --seed: expected an unsigned integer, got \"%s\"\n", optarg), -1;
            a->have_seed = 1;
            break;
        case 'T': {
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 1000)
                return fprintf(stderr, "hydra-conform: --max-timeouts: expected 1 to 1000, got \"%s\"\n", optarg), -1;
            o->max_timeouts = (int)v;
            break;
        }
        case 't':
        case 'D':
        case 'M':
        case 'P': {
            double v = strtod(optarg, &end);
            if (errno || *end || !(v > 0) || v > 1e6)
                return fprintf(stderr, "hydra-conform: expected a positive number, got \"%s\"\n", optarg), -1;
            if (ch == 't')
                o->timeout_s = v;
            else if (ch == 'D')
                o->call_deadline_ms = v;
            else if (ch == 'M')
                o->budget_median_ms = v;
            else
                o->budget_p99_ms = v;
            break;
        }
        case 'r': {
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 10000000)
                return fprintf(stderr, "hydra-conform: --repeat: expected 1 to 10000000, got \"%s\"\n", optarg), -1;
            o->repeat = (int)v;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (a->list)
        return 0;
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    a->path = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    static conform_opts o;
    static conform_result results[64];
    static char path[PATH_MAX + 2];
    static char note[1200];
    double seconds[64];
    int selected[64], counts[6] = {0}, bad_re = 0, status;
    size_t i;
    cli a;

    memset(&a, 0, sizeof a);
    o.timeout_s = 10.0;
    o.budget_median_ms = 1.0;
    o.budget_p99_ms = 10.0;
    o.repeat = 1000;
    o.call_deadline_ms = 1000.0;
    o.max_timeouts = 3;
    if (parse_args(argc, argv, &a, &o) != 0)
        return 2;
    if (!a.list && hydra_conform_probe_map() != 0) {
        fprintf(stderr, "hydra-conform: cannot map shared memory for the probe: %s\n", strerror(errno));
        return 2;
    }
    if (a.list) {
        list_checks();
        return 0;
    }
    /* dlopen treats a bare name as a library to search for; a plugin is always a path. */
    snprintf(path, sizeof path, "%s%s", strchr(a.path, '/') ? "" : "./", a.path);
    o.path = path;
    o.seed = a.have_seed ? a.seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    if (a.params != NULL) {
        if (load_params(&a, &o.cfg) != 0)
            return 2;
        if (a.mode != NULL)
            snprintf(o.cfg.signal_mode, sizeof o.cfg.signal_mode, "%s", a.mode);
    } else {
        default_config(&a, &o, note, sizeof note);
    }

    for (i = 0; i < hydra_conform_n_checks; i++) {
        const char *name = hydra_conform_checks[i].name;
        selected[i] = (a.n_include == 0 || matches(name, a.include, a.n_include, &bad_re)) &&
                      !matches(name, a.exclude, a.n_exclude, &bad_re);
    }
    if (bad_re) {
        fprintf(stderr, "hydra-conform: an --include or --exclude pattern is not a valid extended regex\n");
        return 2;
    }

    if (!a.json) {
        printf("hydra-conform %s: %s\n", HYDRA_VERSION, o.path);
        printf("bot %s, mode %s, symbols", o.cfg.bot_id, o.cfg.signal_mode);
        for (i = 0; i < (size_t)o.cfg.n_symbols; i++)
            printf(" %s", o.cfg.symbols[i]);
        printf(", %d param%s%s%s\n", o.cfg.n_params, o.cfg.n_params == 1 ? "" : "s", a.params ? " from " : "",
               a.params ? a.params : "");
        printf("seed %llu (replay with --seed %llu)\n", (unsigned long long)o.seed, (unsigned long long)o.seed);
        if (note[0] != '\0')
            printf("note: %s\n", note);
        fflush(stdout);
    }
    for (i = 0; i < hydra_conform_n_checks; i++) {
        struct timespec t0;
        int first;
        if (!selected[i])
            continue;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (hydra_conform_checks[i].loads_plugin && counts[CONFORM_TIMEOUT] >= o.max_timeouts) {
            /* A bot this slow would only cost every remaining check another wait. */
            memset(&results[i], 0, sizeof results[i]);
            hydra_conform_set(&results[i], CONFORM_SKIP, "not run: %d checks timed out already (--max-timeouts %d)",
                              counts[CONFORM_TIMEOUT], o.max_timeouts);
        } else {
            run_check(&hydra_conform_checks[i], &o, a.in_process, &results[i]);
        }
        seconds[i] = elapsed_s(&t0);
        counts[results[i].outcome]++;
        first = first_with_cause(results, selected, i);
        if (!a.json) {
            if (first >= 0 && first != (int)i)
                printf("%-8s %-24s same cause as %s, in %s\n", outcome_names[results[i].outcome],
                       hydra_conform_checks[i].name, hydra_conform_checks[first].name, results[i].where);
            else
                printf("%-8s %-24s %s\n", outcome_names[results[i].outcome], hydra_conform_checks[i].name,
                       results[i].message);
            fflush(stdout);
        }
    }
    status = counts[CONFORM_FAIL] + counts[CONFORM_CRASH] + counts[CONFORM_TIMEOUT] > 0 ? 1 : 0;

    if (a.json) {
        json_t *root = json_object(), *checks = json_array(), *sum = json_object(), *cfg = json_object();
        json_t *syms = json_array();
        char *text;
        for (i = 0; i < (size_t)o.cfg.n_symbols; i++)
            json_array_append_new(syms, json_string(o.cfg.symbols[i]));
        json_object_set_new(cfg, "bot_id", json_string(o.cfg.bot_id));
        json_object_set_new(cfg, "mode", json_string(o.cfg.signal_mode));
        json_object_set_new(cfg, "symbols", syms);
        json_object_set_new(cfg, "params_file", a.params ? json_string(a.params) : json_null());
        json_object_set_new(cfg, "note", note[0] ? json_string(note) : json_null());
        for (i = 0; i < hydra_conform_n_checks; i++) {
            json_t *c;
            if (!selected[i])
                continue;
            c = json_object();
            json_object_set_new(c, "name", json_string(hydra_conform_checks[i].name));
            json_object_set_new(c, "description", json_string(hydra_conform_checks[i].description));
            json_object_set_new(c, "outcome", json_string(outcome_names[results[i].outcome]));
            json_object_set_new(c, "message", json_string(results[i].message));
            json_object_set_new(c, "seeded", json_boolean(hydra_conform_checks[i].randomised));
            json_object_set_new(c, "seconds", json_real(seconds[i]));
            json_object_set_new(c, "cause", results[i].cause[0] ? json_string(results[i].cause) : json_null());
            json_object_set_new(c, "case", results[i].where[0] ? json_string(results[i].where) : json_null());
            json_array_append_new(checks, c);
        }
        for (i = 0; i < 6; i++) {
            char key[16];
            snprintf(key, sizeof key, "%s", outcome_names[i]);
            for (char *p = key; *p; p++)
                *p = (char)(*p - 'A' + 'a');
            json_object_set_new(sum, key, json_integer(counts[i]));
        }
        json_object_set_new(root, "tool", json_string("hydra-conform"));
        json_object_set_new(root, "version", json_string(HYDRA_VERSION));
        json_object_set_new(root, "plugin", json_string(o.path));
        json_object_set_new(root, "seed", json_integer((json_int_t)(o.seed & 0x7fffffffffffffffULL)));
        json_object_set_new(root, "seed_text", json_sprintf("%llu", (unsigned long long)o.seed));
        json_object_set_new(root, "config", cfg);
        json_object_set_new(root, "checks", checks);
        json_object_set_new(root, "causes", causes_json(results, selected));
        json_object_set_new(root, "summary", sum);
        json_object_set_new(root, "ok", json_boolean(status == 0));
        text = json_dumps(root, JSON_INDENT(2));
        if (text != NULL)
            puts(text);
        free(text);
        json_decref(root);
    } else {
        printf("%d checks: %d passed, %d warned, %d skipped, %d failed, %d crashed, %d timed out\n",
               counts[0] + counts[1] + counts[2] + counts[3] + counts[4] + counts[5], counts[CONFORM_PASS],
               counts[CONFORM_WARN], counts[CONFORM_SKIP], counts[CONFORM_FAIL], counts[CONFORM_CRASH],
               counts[CONFORM_TIMEOUT]);
        print_repeated_causes(results, selected);
        if (status != 0)
            printf("NOT CONFORMING (replay with --seed %llu)\n", (unsigned long long)o.seed);
    }
    return status;
}
