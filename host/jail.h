/*
 * The process a worker runs in: namespaces, a private read-only root, an
 * unprivileged identity and resource limits, all set up by the host between
 * clone and exec, before a single instruction of the worker or the plugin
 * runs. The worker adds its own layers (Landlock, seccomp: worker/confine.h)
 * before it loads the plugin.
 *
 * What a jailed worker sees:
 *
 *   /usr, /lib*, /bin, /sbin        read-only (the system libraries)
 *   /etc/ld.so.cache                read-only (so the loader finds them)
 *   /dev/null, /dev/zero, /dev/urandom
 *   /proc                           its own PID namespace only (subset=pid)
 *   /hydra/hydra-worker             the worker binary, read-only
 *   /hydra/plugins/<name>.so        the one plugin file, read-only
 *
 * and nothing else: no config/, state/, logs/, .env, home directory or /tmp.
 * The root itself is a read-only tmpfs. Its namespaces: user (it holds
 * capabilities only over itself, and drops them at exec), PID (it is PID 1
 * of an empty namespace: no other process to signal, trace or read, and
 * every process it could start dies with it), mount, network (no interface
 * but a loopback that is down), IPC, UTS and cgroup. It runs in a session of
 * its own, so a signal to its process group reaches nobody else.
 *
 * Its identity outside the namespace: the host's own user when the host is
 * not root; `workers.user` (default nobody) when it is, with no
 * supplementary groups.
 */
#ifndef HYDRA_JAIL_H
#define HYDRA_JAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* Where the worker finds its files inside the jail. */
#define HYDRA_JAIL_WORKER "/hydra/hydra-worker"
#define HYDRA_JAIL_PLUGINS "/hydra/plugins"

typedef struct hydra_jail_spec {
    const char *worker_path;     /* the hydra-worker binary on the host */
    const char *plugin_path;     /* the plugin file on the host */
    int namespaces;              /* 1: the jail above; 0: the operator gave it up (see config) */
    int drop_to_uid;             /* 1: the host is root: run as uid/gid below */
    uid_t uid;
    gid_t gid;
    /* Resource limits; 0 = none. */
    long address_space_mb;
    long cpu_seconds;
    int max_open_files;
    char *const *argv;           /* argv[0] is ignored: the worker's path inside the jail is used */
    char *const *envp;
} hydra_jail_spec;

/*
 * Starts the worker with `sock` as its fd 3 (stdin, stdout and stderr on
 * /dev/null, nothing else open). Returns 0 with *pid set, or a negative
 * code with why naming the layer that could not be set up, for example
 *
 *   worker sandbox: cannot create user namespace (clone: Operation not permitted)
 *   worker sandbox: cannot mount /proc (mount: Operation not permitted)
 *
 * in which case no process is left behind.
 */
int hydra_jail_spawn(const hydra_jail_spec *spec, int sock, pid_t *pid, char *why, size_t whysz);

/*
 * Resolves `workers.user` to the identity root-run workers take. Returns 0,
 * or HYDRA_ENOTFOUND with why when the user does not exist.
 */
int hydra_jail_user(const char *name, uid_t *uid, gid_t *gid, char *why, size_t whysz);

/*
 * What this machine offers, checked once at start by starting a process in
 * the namespaces above and exiting it: 0 when every namespace can be made,
 * else negative with why. *landlock_abi is the kernel's Landlock ABI
 * version (0 when it has none).
 */
int hydra_jail_probe(int *landlock_abi, char *why, size_t whysz);

#endif
