/*
 * Hostile bots in real workers. Each test loads tests/plugins/hostile.so
 * (or hostile_ctor.so) configured for one escape attempt, next to an honest
 * bot, runs the real engine in this process (so this process is the host
 * the bot attacks: it is given our pid and the address of a secret in our
 * memory), and then checks the effects, never a log line:
 *
 *   - no file created where the bot tried to write;
 *   - no connection reached a listener this test holds on 127.0.0.1;
 *   - the host is alive, still ticking, and its limits are unchanged;
 *   - the honest bot still trades after the attack;
 *   - the state database passes integrity_check and still holds its journal;
 *   - no process the bot tried to start is left;
 *   - file modes are unchanged;
 *   - the secret is in no log and no database, in plain, hex or reversed.
 *
 * scripts/test.sh runs this program as root and as an unprivileged user.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enginetest.h"
#include "error.h"
#include "state.h"
#include "testutil.h"

/* What the bot is after: a stand-in for an API secret, in this process's memory. */
static char g_secret[] = "hydra-test-secret-7f3a91c2e5";

#define CTOR_FLAG "/tmp/hydra-hostile-ctor-flag"
#define CTOR_PORT 47613

typedef struct fixture {
    char dir[256];
    char plugins[512];
    char log[512];
    char db[512];
    char flag[512];
    char env[512];
    int listener;
    int port;
    struct rlimit fsize, nofile;
    hydra_engine e;
    int open;
    et_broker *w;
} fixture;

static void copy_plugin(const fixture *f, const char *from, const char *name)
{
    char to[768];
    snprintf(to, sizeof to, "%s/%s.so", f->plugins, name);
    assert_int_equal(tu_copy_file(from, to), 0);
}

/* A listener on 127.0.0.1 that nothing in a jail should ever reach. */
static int listen_on(int port, int *bound)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(s >= 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) {
        close(s);
        return -1;
    }
    getsockname(s, (struct sockaddr *)&a, &len);
    *bound = ntohs(a.sin_port);
    return s;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char text[256];
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    /* A host directory as an operator keeps it: readable by its owner only. */
    chmod(f->dir, 0700);
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    snprintf(f->db, sizeof f->db, "%s/trading_state.db", f->dir);
    snprintf(f->flag, sizeof f->flag, "%s/escaped", f->dir);
    snprintf(f->env, sizeof f->env, "%s/.env", f->dir);
    snprintf(f->plugins, sizeof f->plugins, "%s/plugins", f->dir);
    assert_int_equal(mkdir(f->plugins, 0755), 0);
    copy_plugin(f, HYDRA_MOMENTUM_SO, "momentum");
    copy_plugin(f, HYDRA_OPTIONS_SO, "options");
    copy_plugin(f, HYDRA_CRYPTO_SO, "crypto");
    copy_plugin(f, HYDRA_TEST_BROKEN_DIR "/misbehave.so", "misbehave");
    copy_plugin(f, HYDRA_TEST_BROKEN_DIR "/hostile.so", "hostile");
    copy_plugin(f, HYDRA_TEST_BROKEN_DIR "/hostile_ctor.so", "hostile_ctor");
    snprintf(text, sizeof text, "ALPACA_KEY=hydra-test-key\nALPACA_SECRET=%s\n", g_secret);
    assert_int_equal(tu_write_file(f->env, text), 0);
    assert_int_equal(chmod(f->env, 0600), 0);
    f->listener = listen_on(0, &f->port);
    assert_true(f->listener >= 0);
    getrlimit(RLIMIT_FSIZE, &f->fsize);
    getrlimit(RLIMIT_NOFILE, &f->nofile);
    unlink(CTOR_FLAG);
    f->w = calloc(1, sizeof *f->w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->open)
        hydra_engine_close(&f->e);
    close(f->listener);
    tu_rmtree(f->dir);
    unlink(CTOR_FLAG);
    free(f->w);
    free(f);
    return 0;
}

/* The hostile bot `evil` with one attack, and `honest`, which buys a share whenever it is flat. */
static void make_config(fixture *f, const char *plugin, const char *attack, const char *when)
{
    char edit[4096];
    snprintf(edit, sizeof edit,
             "bots: []=>bots: ["
             "{bot_id: evil, plugin: %s, bucket: momentum, asset_class: equity, symbols: [FESX], "
             "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
             "risk: {max_trades_per_day: 10, max_concurrent_positions: 1}, "
             "signal: {mode: hostile_v1, params: {attack: %s, when: %s, host_pid: %d, "
             "flag_path: \"%s\", env_path: \"%s\", state_dir: \"%s\", port: %d, "
             "secret_at: %lld, secret_len: %d}}}, "
             "{bot_id: honest, plugin: misbehave, bucket: momentum, asset_class: equity, "
             "symbols: [FESX], "
             "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
             "risk: {max_trades_per_day: 50, max_concurrent_positions: 1}, "
             "exits: {time_stop_minutes: 5}, "
             "signal: {mode: misbehave_v1, params: {mode: none}}}]",
             plugin, attack, when, (int)getpid(), f->flag, f->env, f->dir, f->port,
             (long long)(uintptr_t)g_secret, (int)strlen(g_secret));
    assert_int_equal(et_make_config(f->dir,
                                    "call_deadline_ms: 0 =>call_deadline_ms: 1000 \n"
                                    "restart_backoff_ms: 1000=>restart_backoff_ms: 0",
                                    edit),
                     0);
}

static int open_engine(fixture *f, char *err, size_t errsz)
{
    hydra_engine_options opt;
    int code = -1;
    et_options(&opt, f->dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", f->plugins);
    if (hydra_engine_open(&f->e, &opt, err, errsz, &code) != 0)
        return code;
    f->open = 1;
    et_wrap(f->w, &f->e);
    return 0;
}

static size_t honest_orders(const fixture *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->w->n_submits; i++)
        n += strstr(f->w->submits[i].cid, "honest") != NULL;
    return n;
}

/* The secret in any of the forms the bot leaks it in, anywhere in a file. */
static int file_holds_secret(const char *path)
{
    size_t len = 0, n = strlen(g_secret);
    char *text = tu_read_file(path, &len);
    char hex[128], rev[64];
    int found = 0;
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)g_secret[i]);
    for (size_t i = 0; i < n; i++)
        rev[i] = g_secret[n - 1 - i];
    rev[n] = '\0';
    found = memmem(text, len, g_secret, n) != NULL || memmem(text, len, hex, 2 * n) != NULL ||
            memmem(text, len, rev, n) != NULL;
    free(text);
    return found;
}

static int processes_named(const char *comm)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[300], *text;
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/comm", de->d_name);
        text = tu_read_file(path, NULL);
        if (text != NULL && strncmp(text, comm, strlen(comm)) == 0)
            n++;
        free(text);
    }
    closedir(d);
    return n;
}

static void assert_db_intact(const fixture *f)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM orders", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int(st, 0) > 0); /* the journal is still there */
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Runs one attack and checks every effect the file comment lists. */
static void run_attack(fixture *f, const char *attack, const char *when)
{
    char err[4096] = "";
    struct stat env_before, dir_before, st;
    struct rlimit fsize, nofile;
    size_t before;

    make_config(f, "hostile", attack, when);
    assert_int_equal(stat(f->env, &env_before), 0);
    assert_int_equal(stat(f->dir, &dir_before), 0);
    if (open_engine(f, err, sizeof err) != 0) {
        /*
         * An attack in create can only kill the worker it runs in: the host
         * refuses to start with a bot that cannot load, and says which.
         */
        print_message("%s/%s: start refused: %s\n", attack, when, err);
        assert_string_equal(when, "create");
        assert_non_null(strstr(err, "evil"));
    } else {
        for (int i = 0; i < 5; i++)
            assert_int_equal(hydra_engine_tick(&f->e), 0);
        before = honest_orders(f);
        for (int i = 0; i < 60; i++)
            assert_int_equal(hydra_engine_tick(&f->e), 0); /* alive, not frozen, still ticking */
        print_message("%s/%s: honest orders %zu before, %zu after the attack\n", attack, when,
                      before, honest_orders(f));
        assert_true(honest_orders(f) > before);
        hydra_engine_close(&f->e);
        f->open = 0;
        assert_db_intact(f);
    }

    assert_int_not_equal(access(f->flag, F_OK), 0);
    assert_int_equal(accept(f->listener, NULL, NULL), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    getrlimit(RLIMIT_FSIZE, &fsize);
    getrlimit(RLIMIT_NOFILE, &nofile);
    assert_true(fsize.rlim_cur == f->fsize.rlim_cur && fsize.rlim_max == f->fsize.rlim_max);
    assert_true(nofile.rlim_cur == f->nofile.rlim_cur && nofile.rlim_max == f->nofile.rlim_max);
    assert_int_equal(processes_named("hydra-hostile-c"), 0);
    assert_int_equal(stat(f->env, &st), 0);
    assert_int_equal(st.st_mode, env_before.st_mode);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode, dir_before.st_mode);
    assert_false(file_holds_secret(f->log));
    assert_false(file_holds_secret(f->db));
}

#define ATTACK(name, attack, when)                                                               \
    static void name(void **state)                                                               \
    {                                                                                            \
        run_attack(*state, attack, when);                                                        \
    }

ATTACK(test_io_uring_write_and_connect, "io_uring", "tick")
ATTACK(test_kill_host, "kill_host", "tick")
ATTACK(test_stop_host, "stop_host", "tick")
ATTACK(test_kill_own_process_group, "kill_group", "tick")
ATTACK(test_prlimit_host, "prlimit_host", "tick")
ATTACK(test_pidfd_getfd_truncates_database, "pidfd_getfd", "tick")
ATTACK(test_read_secrets, "read_secrets", "tick")
ATTACK(test_read_secrets_in_create, "read_secrets", "create")
ATTACK(test_fork_children, "fork", "tick")
ATTACK(test_chmod_host_files, "chmod", "tick")
ATTACK(test_thread_started_in_create, "thread", "create")
ATTACK(test_write_file_in_create, "write_file", "create")
ATTACK(test_connect_in_create, "connect", "create")
ATTACK(test_connect_on_tick, "connect", "tick")
ATTACK(test_kill_host_in_create, "kill_host", "create")

/*
 * An ELF constructor runs inside dlopen, before the host calls the plugin:
 * the worker must be confined before it loads the file. The bot cannot
 * start, the host says why, and nothing escaped.
 */
static void test_elf_constructor(void **state)
{
    fixture *f = *state;
    char err[4096] = "";
    int port = 0, code;
    int s = listen_on(CTOR_PORT, &port);
    if (s < 0)
        fail_msg("port %d on 127.0.0.1 is taken; the constructor bot connects to it", CTOR_PORT);
    make_config(f, "hostile_ctor", "none", "tick");
    code = open_engine(f, err, sizeof err);
    print_message("start refused (exit %d): %s\n", code, err);
    assert_int_not_equal(code, 0);
    assert_non_null(strstr(err, "evil"));
    assert_int_not_equal(access(CTOR_FLAG, F_OK), 0);
    assert_int_equal(accept(s, NULL, NULL), -1);
    close(s);
}

int main(void)
{
    /* As hydra-host does at start (host/main.c). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_io_uring_write_and_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_own_process_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prlimit_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pidfd_getfd_truncates_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_secrets_in_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chmod_host_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_started_in_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file_in_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_in_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_on_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_host_in_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_constructor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
