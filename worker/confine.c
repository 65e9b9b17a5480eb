/*
 * Landlock and the two seccomp stages (see confine.h). Every allowed system
 * call is listed with the reason it is there; anything not listed kills the
 * worker, which the host reports as "a forbidden system call".
 */
#define _GNU_SOURCE
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

/*
 * Landlock's interface, written out here because the distribution's kernel
 * headers may predate the ABI the running kernel offers (net rules came in
 * ABI 4, scoping in ABI 6). The values are the kernel's and never change.
 */
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_ABI1 ((1ULL << 13) - 1) /* execute .. make_sym */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RULE_PATH_BENEATH 1

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

static void set_why(char *why, size_t whysz, const char *what, int err)
{
    snprintf(why, whysz, "%s: %s", what, strerror(err));
}

static int allow_read(int ruleset, const char *path, uint64_t rights)
{
    struct ll_path_beneath_attr pb;
    int fd = open(path, O_PATH | O_CLOEXEC);
    int rc;
    if (fd < 0)
        return errno == ENOENT ? 0 : -1; /* a directory this system lacks needs no rule */
    struct stat st;
    /* A rule on a file may grant only file rights. */
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        rights &= LL_FS_READ_FILE;
    pb.allowed_access = rights;
    pb.parent_fd = fd;
    rc = (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
    return rc;
}

int hydra_confine_landlock(const char *plugin_dir, char *why, size_t whysz)
{
    static const char *const system_dirs[] = {"/usr", "/lib", "/lib64", "/lib32", "/libx32",
                                              "/etc/ld.so.cache"};
    static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/urandom"};
    struct ll_ruleset_attr attr = {0};
    size_t attr_size;
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    int ruleset, err;
    const uint64_t read_dir = LL_FS_READ_FILE | LL_FS_READ_DIR;

    if (abi < 1) {
        set_why(why, whysz, "Landlock is not available", errno);
        return -1;
    }
    /* Handle every right this ABI knows, so each one is denied unless a rule grants it. */
    attr.handled_access_fs = LL_FS_ABI1;
    if (abi >= 2)
        attr.handled_access_fs |= LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    attr_size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) {
        set_why(why, whysz, "landlock_create_ruleset", errno);
        return -1;
    }
    for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++) {
        if (allow_read(ruleset, system_dirs[i], read_dir) != 0) {
            err = errno;
            close(ruleset);
            set_why(why, whysz, "landlock_add_rule (system libraries)", err);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        if (allow_read(ruleset, devices[i], LL_FS_READ_FILE) != 0) {
            err = errno;
            close(ruleset);
            set_why(why, whysz, "landlock_add_rule (devices)", err);
            return -1;
        }
    }
    if (allow_read(ruleset, plugin_dir, read_dir) != 0) {
        err = errno;
        close(ruleset);
        set_why(why, whysz, "landlock_add_rule (plugin directory)", err);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        err = errno;
        close(ruleset);
        set_why(why, whysz, "landlock_restrict_self", err);
        return -1;
    }
    close(ruleset);
    return (int)abi;
}

/* ---- seccomp ----------------------------------------------------------------- */

#define RULE(ctx, action, name, ...)                                                   \
    do {                                                                               \
        if (rc == 0)                                                                   \
            rc = seccomp_rule_add(ctx, action, SCMP_SYS(name), __VA_ARGS__);           \
    } while (0)

/* Flags that make an open anything but a read. */
#define OPEN_WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE)

int hydra_confine_seccomp_load(int sock_fd, char *why, size_t whysz)
{
    const uint32_t allow = SCMP_ACT_ALLOW;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int rc = 0;

    if (ctx == NULL) {
        snprintf(why, whysz, "seccomp_init failed");
        return -1;
    }
    /* Every thread, including any the plugin's constructors start later. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);

    /* The protocol with the host: only on the host's socket. */
    RULE(ctx, allow, sendto, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock_fd));
    RULE(ctx, allow, recvfrom, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock_fd));
    RULE(ctx, allow, poll, 0);
    RULE(ctx, allow, ppoll, 0);
    /* write: the socket, and libc's and the sanitizers' messages to stderr (/dev/null). */
    RULE(ctx, allow, write, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock_fd));
    RULE(ctx, allow, write, 1, SCMP_A0(SCMP_CMP_EQ, 2));
    RULE(ctx, allow, writev, 1, SCMP_A0(SCMP_CMP_EQ, 2));

    /* Loading a shared object: open read-only, read, map, protect, close. */
    RULE(ctx, allow, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, 0));
    RULE(ctx, allow, open, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, 0));
    /* openat2 keeps its flags behind a pointer a filter cannot read: libc falls back to openat. */
    RULE(ctx, SCMP_ACT_ERRNO(ENOSYS), openat2, 0);
    RULE(ctx, allow, read, 0);
    RULE(ctx, allow, pread64, 0);
    RULE(ctx, allow, readv, 0);
    RULE(ctx, allow, lseek, 0);
    RULE(ctx, allow, close, 0);
    RULE(ctx, allow, fstat, 0);
    RULE(ctx, allow, newfstatat, 0); /* fstat() is newfstatat(fd, "", AT_EMPTY_PATH) */
    RULE(ctx, allow, statx, 0);
    RULE(ctx, allow, access, 0);
    RULE(ctx, allow, faccessat, 0);
    RULE(ctx, allow, faccessat2, 0);
    RULE(ctx, allow, readlink, 0);   /* the loader resolves $ORIGIN */
    RULE(ctx, allow, getcwd, 0);
    /* fcntl only to read descriptor flags, never to duplicate a descriptor. */
    RULE(ctx, allow, fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_GETFD));
    RULE(ctx, allow, fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_SETFD));
    RULE(ctx, allow, fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_GETFL));
    /* isatty() and friends: no descriptor here is a terminal or a device worth asking. */
    RULE(ctx, SCMP_ACT_ERRNO(ENOTTY), ioctl, 0);

    /* Memory. */
    RULE(ctx, allow, mmap, 0);
    RULE(ctx, allow, mprotect, 0);
    RULE(ctx, allow, munmap, 0);
    RULE(ctx, allow, mremap, 0);
    RULE(ctx, allow, brk, 0);
    RULE(ctx, allow, madvise, 0);

    /* Threads: clone only with CLONE_THREAD (a thread, never a process). clone3 hides its
     * flags behind a pointer: ENOSYS makes libc fall back to clone, where they are checked. */
    RULE(ctx, allow, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    RULE(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    RULE(ctx, allow, futex, 0);
    RULE(ctx, allow, set_robust_list, 0);
    RULE(ctx, allow, get_robust_list, 0);
    RULE(ctx, allow, rseq, 0);
    RULE(ctx, allow, set_tid_address, 0);
    RULE(ctx, allow, sched_yield, 0);
    RULE(ctx, allow, sched_getaffinity, 0); /* sysconf(_SC_NPROCESSORS_ONLN) */
    RULE(ctx, allow, exit, 0);
    RULE(ctx, allow, exit_group, 0);

    /* Signals within the worker: handlers, masks, abort() and raise() on itself only. */
    RULE(ctx, allow, rt_sigaction, 0);
    RULE(ctx, allow, rt_sigprocmask, 0);
    RULE(ctx, allow, rt_sigreturn, 0);
    RULE(ctx, allow, sigaltstack, 0);
    RULE(ctx, allow, tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));

    /* Time and harmless facts about itself. */
    RULE(ctx, allow, clock_gettime, 0);
    RULE(ctx, allow, clock_getres, 0);
    RULE(ctx, allow, gettimeofday, 0);
    RULE(ctx, allow, time, 0);
    RULE(ctx, allow, nanosleep, 0);
    RULE(ctx, allow, clock_nanosleep, 0);
    RULE(ctx, allow, getrandom, 0);
    RULE(ctx, allow, getpid, 0);
    RULE(ctx, allow, gettid, 0);
    RULE(ctx, allow, getuid, 0);
    RULE(ctx, allow, geteuid, 0);
    RULE(ctx, allow, getgid, 0);
    RULE(ctx, allow, getegid, 0);
    RULE(ctx, allow, uname, 0);
    RULE(ctx, allow, sysinfo, 0);   /* qsort() asks for the memory size */
    RULE(ctx, allow, getrusage, 0);
    /* Reading its own limits (pthread_create reads RLIMIT_STACK); setting any is not allowed. */
    RULE(ctx, allow, getrlimit, 0);
    RULE(ctx, allow, prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));

    /* Installing stage two (and any filter a plugin adds: a filter can only narrow). */
    RULE(ctx, allow, seccomp, 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc != 0)
        snprintf(why, whysz, "seccomp allow-list not installed: %s", strerror(-rc));
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}

int hydra_confine_seccomp_run(char *why, size_t whysz)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = 0;
    if (ctx == NULL) {
        snprintf(why, whysz, "seccomp_init failed");
        return -1;
    }
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    /* no_new_privs is set already (Landlock and stage one); prctl is not on the allow-list. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    /* The plugin is loaded: nothing more to open (stage one still kills opens for writing). */
    RULE(ctx, SCMP_ACT_ERRNO(EACCES), openat, 0);
    RULE(ctx, SCMP_ACT_ERRNO(EACCES), open, 0);
    /* No new executable memory: no code that was not in the plugin when it was checked. */
    RULE(ctx, SCMP_ACT_KILL_PROCESS, mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    RULE(ctx, SCMP_ACT_KILL_PROCESS, mprotect, 1,
         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc != 0)
        snprintf(why, whysz, "seccomp run-time filter not installed: %s", strerror(-rc));
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}
