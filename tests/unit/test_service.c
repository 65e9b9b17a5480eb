/*
 * The systemd notify protocol, spoken by the real hydra-host binary to a
 * real AF_UNIX datagram socket this test binds (a path, then an abstract
 * name): READY=1 once, then exactly one WATCHDOG=1 per completed tick, then
 * STOPPING=1, every datagram sent by the host process itself (checked with
 * SO_PASSCRED), never by a bot worker.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enginetest.h"
#include "testutil.h"

#define MAX_MSGS 256

typedef struct heard {
    char msg[MAX_MSGS][512];
    pid_t from[MAX_MSGS];
    int n;
    int exit_status;
} heard;

static int setup(void **state)
{
    char *dir = calloc(1, 256);
    assert_non_null(tu_mkdtemp(dir, 256));
    assert_int_equal(et_make_config(dir, NULL, NULL), 0);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    tu_rmtree(*state);
    free(*state);
    return 0;
}

static int bind_socket(const char *name, int abstract)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(name);
    assert_true(n < sizeof a.sun_path);
    memcpy(a.sun_path, name, n);
    if (abstract)
        a.sun_path[0] = '\0';
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 0 : 1));
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    return fd;
}

static int receive(int fd, heard *h)
{
    char buf[512];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = &ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t got = recvmsg(fd, &m, MSG_DONTWAIT);
    if (got < 0)
        return 0;
    buf[got] = '\0';
    assert_true(h->n < MAX_MSGS);
    snprintf(h->msg[h->n], sizeof h->msg[h->n], "%s", buf);
    h->from[h->n] = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(c), sizeof u);
            h->from[h->n] = u.pid;
        }
    h->n++;
    return 1;
}

/*
 * Runs hydra-host with NOTIFY_SOCKET=notify_socket and reads every datagram
 * while it runs (the host blocks when the queue is full, so nothing is
 * lost). The time limit only guards against a hung host.
 */
static pid_t run_host(const char *dir, const char *notify_socket, int fd, int ticks, heard *h)
{
    char cfg[512], nticks[16];
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    snprintf(nticks, sizeof nticks, "%d", ticks);
    const char *argv[] = {HYDRA_HOST_BIN, "run", "--config", cfg, "--plugins",
                          HYDRA_TEST_PLUGIN_DIR, "--ticks", nticks, "--interval-ms", "0",
                          "--quiet", NULL};
    char out[600];
    snprintf(out, sizeof out, "%s/host.out", dir);
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
    setenv("NOTIFY_SOCKET", notify_socket, 1);
    pid_t pid = tu_spawn(argv, dir, out);
    unsetenv("NOTIFY_SOCKET");
    assert_true(pid > 0);
    time_t deadline = time(NULL) + 240;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (fd >= 0 && poll(&p, 1, 100) > 0) {
            receive(fd, h);
            continue;
        }
        if (fd < 0)
            poll(NULL, 0, 50);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            while (fd >= 0 && receive(fd, h))
                ;
            h->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (time(NULL) > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("hydra-host did not finish %d ticks", ticks);
        }
    }
    if (h->exit_status != 0) {
        char *text = tu_read_file(out, NULL);
        print_message("hydra-host output:\n%s\n", text != NULL ? text : "");
        free(text);
    }
    return pid;
}

static int count(const heard *h, const char *line)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        for (const char *p = h->msg[i]; (p = strstr(p, line)) != NULL; p += strlen(line))
            if ((p == h->msg[i] || p[-1] == '\n') && (p[strlen(line)] == '\0' || p[strlen(line)] == '\n'))
                n++;
    return n;
}

static void check_protocol(const heard *h, pid_t pid, int ticks)
{
    for (int i = 0; i < h->n; i++)
        print_message("  [%d] %s\n", i, h->msg[i]);
    assert_int_equal(h->exit_status, 0);
    assert_true(h->n >= ticks + 2);
    assert_int_equal(count(h, "READY=1"), 1);
    assert_int_equal(count(h, "STOPPING=1"), 1);
    assert_int_equal(count(h, "WATCHDOG=1"), ticks);
    /* In order: READY first, STOPPING last, the watchdog in between. */
    assert_non_null(strstr(h->msg[0], "READY=1"));
    assert_non_null(strstr(h->msg[h->n - 1], "STOPPING=1"));
    for (int i = 1; i < h->n - 1; i++)
        assert_non_null(strstr(h->msg[i], "WATCHDOG=1"));
    char last_tick[64];
    snprintf(last_tick, sizeof last_tick, "STATUS=tick %d, equity ", ticks);
    assert_non_null(strstr(h->msg[h->n - 2], last_tick));
    /* Only the host speaks: NotifyAccess=main would drop anything else. */
    for (int i = 0; i < h->n; i++)
        assert_int_equal(h->from[i], pid);
}

static void test_notify_path_socket(void **state)
{
    const char *dir = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/notify.sock", dir);
    int fd = bind_socket(path, 0);
    heard *h = calloc(1, sizeof *h);
    pid_t pid = run_host(dir, path, fd, 12, h);
    check_protocol(h, pid, 12);
    close(fd);
    free(h);
}

static void test_notify_abstract_socket(void **state)
{
    const char *dir = *state;
    char name[108];
    snprintf(name, sizeof name, "@hydra-test-notify-%ld", (long)getpid());
    int fd = bind_socket(name, 1);
    heard *h = calloc(1, sizeof *h);
    pid_t pid = run_host(dir, name, fd, 3, h);
    check_protocol(h, pid, 3);
    close(fd);
    free(h);
}

/* An unusable NOTIFY_SOCKET is reported and ignored: the host still runs. */
static void test_notify_bad_value_still_runs(void **state)
{
    const char *dir = *state;
    heard *h = calloc(1, sizeof *h);
    run_host(dir, "relative/notify.sock", -1, 2, h);
    assert_int_equal(h->exit_status, 0);
    char out[600];
    snprintf(out, sizeof out, "%s/host.out", dir);
    char *text = tu_read_file(out, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "NOTIFY_SOCKET"));
    free(text);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify_path_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_abstract_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_bad_value_still_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
