#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tu_mkdtemp(char *buf, size_t bufsz)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(buf, bufsz, "%s/hydra-test-XXXXXX", base);
    return mkdtemp(buf);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path)
{
    if (path != NULL && path[0] != '\0')
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL)
            *len = n;
    }
    return buf;
}

int tu_copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *data = tu_read_file(from, &n);
    if (data == NULL)
        return -1;
    FILE *f = fopen(to, "wb");
    int rc = -1;
    if (f != NULL) {
        rc = fwrite(data, 1, n, f) == n ? 0 : -1;
        if (fclose(f) != 0)
            rc = -1;
    }
    free(data);
    return rc;
}

static void child_exec(const char *const *argv, const char *cwd, int outfd)
{
    if (cwd != NULL && chdir(cwd) != 0)
        _exit(126);
    if (outfd >= 0) {
        dup2(outfd, STDOUT_FILENO);
        dup2(outfd, STDERR_FILENO);
        close(outfd);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

static int decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int tu_wait(pid_t pid, int timeout_s)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return decode_status(status);
        if (r < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return decode_status(status);
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

pid_t tu_spawn(const char *const *argv, const char *cwd, const char *log_path)
{
    int fd = -1;
    if (log_path != NULL) {
        fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (fd >= 0) {
            int keep = dup(fd); /* dup drops O_CLOEXEC */
            child_exec(argv, cwd, keep);
        }
        child_exec(argv, cwd, -1);
    }
    if (fd >= 0)
        close(fd);
    return pid;
}

int tu_run(const char *const *argv, const char *cwd, int timeout_s, char **out)
{
    char path[] = "/tmp/hydra-test-out-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    pid_t pid = tu_spawn(argv, cwd, path);
    int rc = pid > 0 ? tu_wait(pid, timeout_s) : -1;
    if (out != NULL)
        *out = tu_read_file(path, NULL);
    unlink(path);
    return rc;
}

int tu_file_setup(void **state, const char *name)
{
    tu_file_fixture *f = calloc(1, sizeof *f);
    if (f == NULL || tu_mkdtemp(f->dir, sizeof f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    *state = f;
    return 0;
}

int tu_file_teardown(void **state)
{
    tu_file_fixture *f = *state;
    tu_rmtree(f->dir);
    free(f);
    return 0;
}
