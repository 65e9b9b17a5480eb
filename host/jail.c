/*
 * The worker's jail (see jail.h for what it contains and why).
 *
 * The host prepares everything that can fail or allocate (paths, descriptors
 * of the files to show, id maps) before it clones, because the child of a
 * clone in a process with threads may only make system calls. The child
 * then builds its view of the file system from those descriptors
 * (/proc/self/fd/N as bind sources, so the staging tmpfs over /tmp can
 * never hide a source that lives under /tmp), pivots into it, drops its
 * identity and execs the worker. A failing step writes its number and errno
 * to a close-on-exec pipe and exits; the host turns that into a sentence.
 * A successful exec closes the pipe with nothing written.
 */
#define _GNU_SOURCE
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan reserves terabytes of shadow address space: an address-space limit breaks it. */
#define JAIL_SANITIZED 1
#else
#define JAIL_SANITIZED 0
#endif

/* The worker's socket: wire.h's peer, the only descriptor it keeps. */
#define WORKER_FD 3
/* The host's own descriptors for the child are moved at or above this, clear of 0..3. */
#define HIGH_FD 10
/* Where the child stages its new root (inside its own mount namespace only). */
#define STAGE "/tmp"

#define NS_FLAGS                                                                              \
    (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
     CLONE_NEWCGROUP)

/* Steps of the child, named for the host's message. */
enum step {
    S_CLONE,
    S_DUMPABLE,
    S_SETGROUPS_DENY,
    S_UID_MAP,
    S_GID_MAP,
    S_SYNC,
    S_SETSID,
    S_PDEATHSIG,
    S_PRIVATE,
    S_TMPFS,
    S_MKDIR,
    S_BIND,
    S_REMOUNT,
    S_SYMLINK,
    S_PROC,
    S_ROOT_RO,
    S_PIVOT,
    S_SETGROUPS,
    S_SETGID,
    S_SETUID,
    S_FDS,
    S_RLIMIT,
    S_NO_NEW_PRIVS,
    S_EXEC,
};

static const char *const step_text[] = {
    [S_CLONE] = "cannot create its namespaces (user, pid, mount, network, ipc, uts, cgroup)",
    [S_DUMPABLE] = "cannot set itself dumpable to write its id maps",
    [S_SETGROUPS_DENY] = "cannot deny setgroups in its user namespace",
    [S_UID_MAP] = "cannot map its user id into its user namespace",
    [S_GID_MAP] = "cannot map its group id into its user namespace",
    [S_SYNC] = "lost the host during set-up",
    [S_SETSID] = "cannot start a session of its own",
    [S_PDEATHSIG] = "cannot ask to die with the host",
    [S_PRIVATE] = "cannot make its mounts private",
    [S_TMPFS] = "cannot mount its root tmpfs",
    [S_MKDIR] = "cannot create a mount point in its root",
    [S_BIND] = "cannot bind a file into its root",
    [S_REMOUNT] = "cannot make a bound file read-only",
    [S_SYMLINK] = "cannot create a library link in its root",
    [S_PROC] = "cannot mount /proc for its PID namespace",
    [S_ROOT_RO] = "cannot make its root read-only",
    [S_PIVOT] = "cannot pivot into its root",
    [S_SETGROUPS] = "cannot drop supplementary groups",
    [S_SETGID] = "cannot switch to the worker group",
    [S_SETUID] = "cannot switch to the worker user",
    [S_FDS] = "cannot arrange its descriptors",
    [S_RLIMIT] = "cannot set its resource limits",
    [S_NO_NEW_PRIVS] = "cannot set no_new_privs",
    [S_EXEC] = "cannot execute the worker binary",
};

/* One thing to show inside the jail: a bind mount of fd at dst, or a symlink dst -> link. */
typedef struct jail_entry {
    int fd;              /* the child's O_PATH descriptor of path; -1 for a symlink */
    int is_dir;
    int dev;             /* a device node: keep it usable (no nodev) */
    char path[HYDRA_PATH_LEN]; /* the source on the host */
    char src[64];        /* /proc/self/fd/N, written by the child */
    char dst[96];        /* under STAGE */
    char link[128];      /* symlink target */
} jail_entry;

#define MAX_ENTRIES 16

typedef struct jail_plan {
    jail_entry e[MAX_ENTRIES];
    int n;
    char dirs[8][96];    /* directories to create under STAGE, in order */
    int ndirs;
    char proc_dir[96];
    char uid_map[48], gid_map[48];
    int map_by_parent;   /* the host (root) writes the maps; the child cannot */
    int devnull;
    int sock;
    int errw;            /* the child's end of the error pipe */
    int syncr;           /* the child's end of the go-ahead pipe */
} jail_plan;

static void set_why(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || whysz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* Moves fd to HIGH_FD or above, close-on-exec. Returns the new fd or -1. */
static int lift(int fd)
{
    int high;
    if (fd < 0 || fd >= HIGH_FD)
        return fd;
    high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    close(fd);
    return high;
}

static int add_bind(jail_plan *p, const char *src, const char *dst, int required, int dev)
{
    struct stat st;
    jail_entry *e;
    if (p->n >= MAX_ENTRIES)
        return HYDRA_EINVAL;
    if (stat(src, &st) != 0)
        return required ? HYDRA_ENOTFOUND : 0;
    e = &p->e[p->n++];
    e->fd = -1;
    e->is_dir = S_ISDIR(st.st_mode);
    e->dev = dev;
    snprintf(e->path, sizeof e->path, "%s", src);
    snprintf(e->dst, sizeof e->dst, "%s%s", STAGE, dst);
    e->link[0] = '\0';
    return 0;
}

/* A top-level system directory: a symlink (merged /usr) is recreated, a directory bound. */
static int add_system_dir(jail_plan *p, const char *name)
{
    char path[64], target[128];
    struct stat st;
    ssize_t n;
    snprintf(path, sizeof path, "/%s", name);
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        jail_entry *e;
        n = readlink(path, target, sizeof target - 1);
        if (n <= 0 || p->n >= MAX_ENTRIES)
            return HYDRA_EIO;
        target[n] = '\0';
        e = &p->e[p->n++];
        e->fd = -1;
        e->is_dir = 0;
        e->dev = 0;
        e->path[0] = '\0';
        snprintf(e->dst, sizeof e->dst, "%s%s", STAGE, path);
        snprintf(e->link, sizeof e->link, "%s", target);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    return add_bind(p, path, path, 1, 0);
}

static int plan_build(jail_plan *p, const hydra_jail_spec *spec, char *why, size_t whysz)
{
    static const char *const sysdirs[] = {"usr", "lib", "lib64", "lib32", "libx32", "bin", "sbin"};
    static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/urandom"};
    const char *base;
    char dst[96];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof sysdirs / sizeof sysdirs[0]; i++)
        rc = add_system_dir(p, sysdirs[i]);
    if (rc != 0) {
        set_why(why, whysz, "worker sandbox: cannot prepare the system directories");
        return rc;
    }
    if ((rc = add_bind(p, "/etc/ld.so.cache", "/etc/ld.so.cache", 0, 0)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < sizeof devs / sizeof devs[0]; i++)
        rc = add_bind(p, devs[i], devs[i], 0, 1);
    if (rc == 0 && (rc = add_bind(p, spec->worker_path, HYDRA_JAIL_WORKER, 1, 0)) != 0) {
        set_why(why, whysz, "worker sandbox: cannot open the worker binary %s", spec->worker_path);
        return rc;
    }
    base = strrchr(spec->plugin_path, '/');
    base = base != NULL ? base + 1 : spec->plugin_path;
    snprintf(dst, sizeof dst, "%s/%s", HYDRA_JAIL_PLUGINS, base);
    if (rc == 0 && (rc = add_bind(p, spec->plugin_path, dst, 1, 0)) != 0) {
        set_why(why, whysz, "worker sandbox: cannot open the plugin %s", spec->plugin_path);
        return rc;
    }
    if (rc != 0) {
        set_why(why, whysz, "worker sandbox: cannot prepare its files");
        return rc;
    }
    static const char *const mkdirs[] = {"/etc", "/dev", "/proc", "/hydra", HYDRA_JAIL_PLUGINS};
    for (size_t i = 0; i < sizeof mkdirs / sizeof mkdirs[0]; i++)
        snprintf(p->dirs[p->ndirs++], sizeof p->dirs[0], "%s%s", STAGE, mkdirs[i]);
    snprintf(p->proc_dir, sizeof p->proc_dir, "%s/proc", STAGE);
    return 0;
}

/* ---- the child (system calls only from here to execve) ---------------------------- */

static __attribute__((noreturn)) void child_fail(const jail_plan *p, int step)
{
    int m[2] = {step, errno};
    ssize_t unused = write(p->errw, m, sizeof m);
    (void)unused;
    _exit(126);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t len = (ssize_t)strlen(text);
    if (fd < 0)
        return -1;
    if (write(fd, text, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    return close(fd);
}

/*
 * Remounts a bind read-only. A user namespace may not clear the flags the
 * original mount was locked with, so those are kept (statvfs reports them).
 */
static int remount_ro(const char *dst, int dev)
{
    struct statvfs sv;
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID;
    if (statvfs(dst, &sv) != 0)
        return -1;
    if (!dev || (sv.f_flag & ST_NODEV))
        flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    return mount(NULL, dst, NULL, flags, NULL);
}

/* Writes "/proc/self/fd/<fd>" into out without libc's formatting (not safe after clone). */
static void fd_path(char *out, int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    memcpy(out, prefix, sizeof prefix - 1);
    out += sizeof prefix - 1;
    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0 && n < (int)sizeof digits);
    while (n > 0)
        *out++ = digits[--n];
    *out = '\0';
}

/*
 * Opens every source in this (the child's) mount namespace, before the
 * staging tmpfs can hide any of them and while the child still has the
 * host's identity to reach them: a bind mount must come from a mount of
 * the namespace that makes it.
 */
static void child_open_sources(jail_plan *p)
{
    for (int i = 0; i < p->n; i++) {
        jail_entry *e = &p->e[i];
        if (e->path[0] == '\0')
            continue;
        e->fd = open(e->path, O_PATH | O_CLOEXEC);
        if (e->fd < 0)
            child_fail(p, S_BIND);
        fd_path(e->src, e->fd);
    }
}

static void child_build_root(const jail_plan *p)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        child_fail(p, S_PRIVATE);
    if (mount("hydra-worker", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k,nr_inodes=64") != 0)
        child_fail(p, S_TMPFS);
    for (int i = 0; i < p->ndirs; i++) {
        if (mkdir(p->dirs[i], 0755) != 0)
            child_fail(p, S_MKDIR);
    }
    for (int i = 0; i < p->n; i++) {
        const jail_entry *e = &p->e[i];
        if (e->path[0] == '\0') {
            if (symlink(e->link, e->dst) != 0)
                child_fail(p, S_SYMLINK);
            continue;
        }
        if (e->is_dir) {
            if (mkdir(e->dst, 0755) != 0)
                child_fail(p, S_MKDIR);
        } else {
            int fd = open(e->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0)
                child_fail(p, S_MKDIR);
            close(fd);
        }
        if (mount(e->src, e->dst, NULL, MS_BIND | MS_REC, NULL) != 0)
            child_fail(p, S_BIND);
        if (remount_ro(e->dst, e->dev) != 0)
            child_fail(p, S_REMOUNT);
    }
    /* Only this PID namespace's processes, and none of the kernel's tunables (subset=pid). */
    if (mount("proc", p->proc_dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") != 0 &&
        mount("proc", p->proc_dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(p, S_PROC);
    if (mount(NULL, STAGE, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        child_fail(p, S_ROOT_RO);
    /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only ours. */
    if (chdir(STAGE) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        child_fail(p, S_PIVOT);
}

static void child_limit(const jail_plan *p, int resource, rlim_t value)
{
    struct rlimit rl = {value, value};
    if (setrlimit(resource, &rl) != 0)
        child_fail(p, S_RLIMIT);
}

static __attribute__((noreturn)) void child_main(jail_plan *p, const hydra_jail_spec *spec)
{
    char go;

    if (spec->namespaces && !p->map_by_parent) {
        /* An unprivileged host maps its own ids; the kernel wants setgroups denied first. */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
            child_fail(p, S_DUMPABLE);
        if (write_file("/proc/self/setgroups", "deny") != 0)
            child_fail(p, S_SETGROUPS_DENY);
        if (write_file("/proc/self/uid_map", p->uid_map) != 0)
            child_fail(p, S_UID_MAP);
        if (write_file("/proc/self/gid_map", p->gid_map) != 0)
            child_fail(p, S_GID_MAP);
    }
    /* Die with the host; then wait for its go-ahead (a root host writes our maps first). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        child_fail(p, S_PDEATHSIG);
    if (read(p->syncr, &go, 1) != 1)
        child_fail(p, S_SYNC);
    if (setsid() < 0)
        child_fail(p, S_SETSID);
    if (spec->namespaces)
        child_open_sources(p);
    /*
     * Raw system calls: libc's wrappers would try to change the identity of
     * every thread the host has, and this copy has only the one. The identity
     * changes before the root is built: the files the jail creates must be
     * owned by an id its namespace maps, and the capabilities the namespace
     * gave survive a change between ids it maps (they end at exec).
     */
    if (spec->drop_to_uid) {
        if (syscall(SYS_setgroups, 0, NULL) != 0)
            child_fail(p, S_SETGROUPS);
        if (syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid) != 0)
            child_fail(p, S_SETGID);
        if (syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid) != 0)
            child_fail(p, S_SETUID);
    }

    if (spec->namespaces)
        child_build_root(p);

    /* Descriptors: the socket as 3, /dev/null as 0-2, everything else closed at exec. */
    if (dup2(p->sock, WORKER_FD) < 0 || fcntl(WORKER_FD, F_SETFD, 0) != 0 ||
        dup2(p->devnull, 0) < 0 || dup2(p->devnull, 1) < 0 || dup2(p->devnull, 2) < 0)
        child_fail(p, S_FDS);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)WORKER_FD + 1, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
    {
        for (int fd = WORKER_FD + 1; fd < 65536; fd++)
            if (fd != p->errw)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
    }

    child_limit(p, RLIMIT_CORE, 0);
    /* Nothing in the jail is writable; a file size limit of 0 says so once more. */
    child_limit(p, RLIMIT_FSIZE, 0);
    if (spec->cpu_seconds > 0)
        child_limit(p, RLIMIT_CPU, (rlim_t)spec->cpu_seconds);
    if (spec->max_open_files > 0)
        child_limit(p, RLIMIT_NOFILE, (rlim_t)spec->max_open_files);
    if (!JAIL_SANITIZED && spec->address_space_mb > 0)
        child_limit(p, RLIMIT_AS, (rlim_t)spec->address_space_mb * 1024 * 1024);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_fail(p, S_NO_NEW_PRIVS);
    execve(spec->namespaces ? HYDRA_JAIL_WORKER : spec->worker_path, spec->argv, spec->envp);
    child_fail(p, S_EXEC);
}

/* ---- the host side ------------------------------------------------------------------- */

static pid_t raw_clone(unsigned long flags)
{
    /* fork semantics (no new stack): the child continues here with a copy of this one. */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0UL);
}

static int write_map(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    return write_file(path, text);
}

int hydra_jail_spawn(const hydra_jail_spec *spec, int sock, pid_t *pid, char *why, size_t whysz)
{
    jail_plan plan;
    int errp[2] = {-1, -1}, syncp[2] = {-1, -1};
    int msg[2];
    ssize_t got;
    pid_t child = -1;
    int rc = HYDRA_EWORKER;

    memset(&plan, 0, sizeof plan);
    plan.devnull = plan.sock = -1;
    *pid = 0;
    if (spec->namespaces && plan_build(&plan, spec, why, whysz) != 0)
        return HYDRA_EWORKER;
    plan.map_by_parent = spec->namespaces && geteuid() == 0;
    {
        uid_t u = spec->drop_to_uid ? spec->uid : geteuid();
        gid_t g = spec->drop_to_uid ? spec->gid : getegid();
        snprintf(plan.uid_map, sizeof plan.uid_map, "%u %u 1\n", (unsigned)u, (unsigned)u);
        snprintf(plan.gid_map, sizeof plan.gid_map, "%u %u 1\n", (unsigned)g, (unsigned)g);
    }
    plan.devnull = lift(open("/dev/null", O_RDWR | O_CLOEXEC));
    plan.sock = fcntl(sock, F_DUPFD_CLOEXEC, HIGH_FD);
    if (pipe2(errp, O_CLOEXEC) != 0 || pipe2(syncp, O_CLOEXEC) != 0 || plan.devnull < 0 ||
        plan.sock < 0) {
        set_why(why, whysz, "worker sandbox: cannot prepare descriptors: %s", strerror(errno));
        goto out;
    }
    plan.errw = errp[1] = lift(errp[1]);
    plan.syncr = syncp[0] = lift(syncp[0]);

    child = raw_clone(spec->namespaces ? NS_FLAGS : 0);
    if (child < 0) {
        set_why(why, whysz, "worker sandbox: %s (clone: %s)", step_text[S_CLONE], strerror(errno));
        goto out;
    }
    if (child == 0)
        child_main(&plan, spec);

    close(errp[1]);
    errp[1] = -1;
    close(syncp[0]);
    syncp[0] = -1;
    if (plan.map_by_parent &&
        (write_map(child, "uid_map", plan.uid_map) != 0 ||
         write_map(child, "gid_map", plan.gid_map) != 0)) {
        set_why(why, whysz, "worker sandbox: %s (%s)", step_text[S_UID_MAP], strerror(errno));
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
        goto out;
    }
    if (write(syncp[1], "g", 1) != 1) {
        set_why(why, whysz, "worker sandbox: %s", step_text[S_SYNC]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
        goto out;
    }
    /* Blocks until exec (the pipe closes, nothing read) or a failed step (its message). */
    do
        got = read(errp[0], msg, sizeof msg);
    while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof msg) {
        int step = msg[0] >= 0 && msg[0] <= S_EXEC ? msg[0] : S_EXEC;
        set_why(why, whysz, "worker sandbox: %s (%s)", step_text[step], strerror(msg[1]));
        waitpid(child, NULL, 0);
        child = -1;
        goto out;
    }
    *pid = child;
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (errp[i] >= 0)
            close(errp[i]);
        if (syncp[i] >= 0)
            close(syncp[i]);
    }
    if (plan.devnull >= 0)
        close(plan.devnull);
    if (plan.sock >= 0)
        close(plan.sock);
    return rc;
}

int hydra_jail_user(const char *name, uid_t *uid, gid_t *gid, char *why, size_t whysz)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (name == NULL || name[0] == '\0' || getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 ||
        res == NULL) {
        set_why(why, whysz, "workers.user: no user \"%s\" on this machine", name != NULL ? name : "");
        return HYDRA_ENOTFOUND;
    }
    if (pw.pw_uid == 0) {
        set_why(why, whysz, "workers.user: \"%s\" is root; workers must not run as root", name);
        return HYDRA_EINVAL;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

int hydra_jail_probe(int *landlock_abi, char *why, size_t whysz)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    pid_t child;
    int status = 0;

    *landlock_abi = abi > 0 ? (int)abi : 0;
    child = raw_clone(NS_FLAGS);
    if (child < 0) {
        set_why(why, whysz, "user, pid, mount, network, ipc, uts and cgroup namespaces: %s",
                strerror(errno));
        return HYDRA_EWORKER;
    }
    if (child == 0)
        _exit(0);
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}
