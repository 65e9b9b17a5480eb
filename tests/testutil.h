/*
 * Small helpers shared by the tests: temporary directories, files, and
 * child processes that are always stopped by their PID.
 */
#ifndef HYDRA_TESTUTIL_H
#define HYDRA_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path (static storage per call slot). */
const char *tu_mkdtemp(char *buf, size_t bufsz);
/* Removes a directory tree (rm -rf semantics, for test directories only). */
void tu_rmtree(const char *path);
/* Writes `text` to path (truncating). Returns 0 or -1. */
int tu_write_file(const char *path, const char *text);
/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees), or NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Copies a file. Returns 0 or -1. */
int tu_copy_file(const char *from, const char *to);

/*
 * Runs argv[0] with argv, in directory cwd (NULL = current), stdout and
 * stderr captured into *out (malloc'd, may be NULL), with a timeout in
 * seconds after which the child is killed by its PID. Returns the exit
 * status (0..255), 128+signal when killed by a signal, or -1 on error.
 */
int tu_run(const char *const *argv, const char *cwd, int timeout_s, char **out);

/* Starts a child in the background (stdout/stderr to log_path); returns its PID or -1. */
pid_t tu_spawn(const char *const *argv, const char *cwd, const char *log_path);
/* Waits up to timeout_s for pid; kills it (SIGKILL) by PID if still running. Returns status as tu_run. */
int tu_wait(pid_t pid, int timeout_s);

/* What a test of one file (a log, a database) holds: a temporary directory, the file's path. */
typedef struct tu_file_fixture {
    char dir[256];
    char path[512]; /* <dir>/<name> */
} tu_file_fixture;

/* A cmocka setup's body: *state = a new tu_file_fixture for <name>. 0, or -1 with nothing made. */
int tu_file_setup(void **state, const char *name);
/* A cmocka teardown for a tu_file_fixture: the directory removed, the fixture freed. */
int tu_file_teardown(void **state);

#endif
