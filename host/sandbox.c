/*
 * Worker processes (the host side) and the bot runner.
 *
 * The host never trusts a worker: every read has a deadline, every message
 * is checked before it is used, and every failure ends with the worker
 * killed by its PID and reaped, so no zombie and no half-answered call can
 * outlive the tick that noticed it.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

/* The worker finds its socket here; wire.h's peer is the only descriptor it inherits. */
#define WORKER_FD 3

/* How long a dying worker may take to be reaped after its socket closed. */
#define REAP_GRACE_MS 1000

#if defined(__SANITIZE_ADDRESS__)
/* ASan reserves terabytes of shadow address space: an address-space limit breaks it. */
#define HYDRA_SANITIZED 1
#else
#define HYDRA_SANITIZED 0
#endif

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

const char *hydra_wire_call_name(int call)
{
    return call == HYDRA_WIRE_CALL_ON_TICK ? "on_tick" : call == HYDRA_WIRE_CALL_MANAGE ? "manage"
                                                                                        : "on_fill";
}

int hydra_worker_locate(const char *configured, char *out, size_t outsz)
{
    const char *env = getenv("HYDRA_WORKER");
    char self[PATH_MAX];
    ssize_t n;
    char *slash;

    if (configured != NULL && configured[0] != '\0')
        snprintf(out, outsz, "%s", configured);
    else if (env != NULL && env[0] != '\0')
        snprintf(out, outsz, "%s", env);
    else {
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            snprintf(out, outsz, "/proc/self/exe");
            return HYDRA_ENOTFOUND;
        }
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(out, outsz, "%s/hydra-worker", self);
    }
    return access(out, X_OK) == 0 ? 0 : HYDRA_ENOTFOUND;
}

/* ---- processes --------------------------------------------------------------- */

/* Closes every descriptor from `from` up; the fallback walks the limit when close_range is missing. */
static void close_from(int from)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0u, 0u) == 0)
        return;
#endif
    for (int fd = from; fd < 65536; fd++)
        close(fd);
}

static void limit(int resource, rlim_t value)
{
    struct rlimit rl = {value, value};
    setrlimit(resource, &rl);
}

/*
 * Runs in the forked child: only async-signal-safe calls until execve.
 * The socket becomes fd 3, 0-2 go to /dev/null, everything else is closed.
 */
static void child_exec(int sock, const hydra_sandbox_limits *lim, char *const argv[],
                       char *const envp[])
{
    int devnull;
    if (sock != WORKER_FD) {
        if (dup2(sock, WORKER_FD) < 0)
            _exit(126);
    }
    fcntl(WORKER_FD, F_SETFD, 0);
    devnull = open("/dev/null", O_RDWR);
    if (devnull < 0)
        _exit(126);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    close_from(WORKER_FD + 1);
    limit(RLIMIT_CORE, 0);
    if (lim->cpu_seconds > 0)
        limit(RLIMIT_CPU, (rlim_t)lim->cpu_seconds);
    if (lim->max_open_files > 0)
        limit(RLIMIT_NOFILE, (rlim_t)lim->max_open_files);
    if (!HYDRA_SANITIZED && lim->address_space_mb > 0)
        limit(RLIMIT_AS, (rlim_t)lim->address_space_mb * 1024 * 1024);
    execve(argv[0], argv, envp);
    _exit(127);
}

static int spawn(hydra_worker *w, const hydra_sandbox_limits *lim, char *why, size_t whysz)
{
    int sv[2];
    pid_t pid;
    char *argv[] = {(char *)lim->worker_path, NULL};
    /* A clean environment: no credentials, no LD_PRELOAD, nothing the host was given. */
    char *envp[] = {"PATH=/usr/bin:/bin",
#if HYDRA_SANITIZED
                    /* Let a crash end the worker with its signal, as it does in a normal build. */
                    "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:detect_leaks=0:"
                    "symbolize=0",
#endif
                    NULL};

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        set_why(why, whysz, "socketpair: %s", strerror(errno));
        return HYDRA_EWORKER;
    }
    pid = fork();
    if (pid < 0) {
        set_why(why, whysz, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return HYDRA_EWORKER;
    }
    if (pid == 0)
        child_exec(sv[1], lim, argv, envp);
    close(sv[1]);
    w->pid = pid;
    w->fd = sv[0];
    return 0;
}

/* Waits up to wait_ms for the worker to end, then kills it; returns the wait status. */
static int reap(pid_t pid, int wait_ms)
{
    int status = 0;
    int64_t until = hydra_wire_now_us() + (int64_t)wait_ms * 1000;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (hydra_wire_now_us() >= until)
            break;
        struct timespec ts = {0, 500 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return status;
}

static void describe_status(int status, const char *call, char *why, size_t whysz)
{
    if (status >= 0 && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        const char *what = sig == SIGSYS    ? ": a forbidden system call"
                           : sig == SIGXCPU ? ": CPU time limit"
                                            : "";
        set_why(why, whysz, "worker killed by signal %d (SIG%s%s) in %s", sig,
                abbrev != NULL ? abbrev : "?", what, call);
    } else if (status >= 0 && WIFEXITED(status)) {
        set_why(why, whysz, "worker exited with status %d in %s", WEXITSTATUS(status), call);
    } else {
        set_why(why, whysz, "worker vanished in %s", call);
    }
}

static void drop(hydra_worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->pid = 0;
    w->call_pending = 0;
}

/*
 * Ends a worker after a failed exchange and turns the failure into the
 * quarantine reason. `detail` is the protocol problem, if that was it.
 */
static int fail(hydra_worker *w, int rc, const char *call, int deadline_ms, const char *detail,
                char *why, size_t whysz)
{
    int status;
    if (w->pid <= 0) {
        set_why(why, whysz, "worker not running (%s)", call);
        drop(w);
        return HYDRA_EWORKER;
    }
    if (rc == HYDRA_ETIMEDOUT) {
        kill(w->pid, SIGKILL);
        reap(w->pid, 0);
        set_why(why, whysz, "%s exceeded its %d ms deadline", call, deadline_ms);
    } else if (rc == HYDRA_EPROTO) {
        kill(w->pid, SIGKILL);
        reap(w->pid, 0);
        set_why(why, whysz, "protocol violation in %s: %s", call, detail);
    } else {
        /* The socket closed: the worker is dying or dead; its wait status says how. */
        close(w->fd);
        w->fd = -1;
        status = reap(w->pid, REAP_GRACE_MS);
        describe_status(status, call, why, whysz);
        rc = HYDRA_EWORKER;
    }
    drop(w);
    return rc;
}

int hydra_worker_alive(const hydra_worker *w)
{
    return w != NULL && w->pid > 0 && w->fd >= 0;
}

void hydra_worker_stop(hydra_worker *w, int grace_ms)
{
    if (w == NULL || w->pid <= 0) {
        if (w != NULL && w->fd >= 0)
            close(w->fd);
        if (w != NULL)
            w->fd = -1;
        return;
    }
    close(w->fd);
    w->fd = -1;
    reap(w->pid, grace_ms);
    drop(w);
}

void hydra_worker_free(hydra_worker *w)
{
    hydra_wire_out_free(&w->out);
    hydra_wire_out_free(&w->in);
    free(w->chain);
    w->chain = NULL;
}

/* ---- exchanges --------------------------------------------------------------- */

/* Answers one LOG, KV_GET, KV_SET or CHAIN_GET request from the worker. */
static int serve(hydra_worker *w, const hydra_wire_header *h, const hydra_worker_peer *peer,
                 int64_t deadline_us, char *detail, size_t detailsz)
{
    hydra_wire_in in;
    const hydra_host_services *svc = peer != NULL ? peer->svc : NULL;
    const char *bot_id = peer != NULL && peer->bot_id != NULL ? peer->bot_id : "";
    hydra_wire_in_init(&in, w->in.p, w->in.len);

    if (h->type == HYDRA_WIRE_LOG) {
        int32_t level;
        const char *event, *message;
        if (hydra_wire_get_log(&in, &level, &event, &message, detail, detailsz) != 0)
            return HYDRA_EPROTO;
        if (level < HYDRA_LOG_DEBUG || level > HYDRA_LOG_ERROR)
            level = HYDRA_LOG_INFO;
        if (svc != NULL && svc->log != NULL)
            svc->log(svc->ctx, bot_id, level, event, message);
        return 0;
    }
    if (h->type == HYDRA_WIRE_KV_GET || h->type == HYDRA_WIRE_KV_SET) {
        char value[8192];
        int32_t rc = HYDRA_PARAM_MISSING;
        const char *key;
        value[0] = '\0';
        if (h->type == HYDRA_WIRE_KV_GET) {
            uint64_t bufsz;
            if (hydra_wire_get_kv_get(&in, &key, &bufsz, detail, detailsz) != 0)
                return HYDRA_EPROTO;
            size_t n = bufsz < sizeof value ? (size_t)bufsz : sizeof value;
            if (n > 0 && svc != NULL && svc->kv_get != NULL)
                rc = svc->kv_get(svc->ctx, bot_id, key, value, n);
            if (rc != 0)
                value[0] = '\0';
        } else {
            const char *v;
            if (hydra_wire_get_kv_set(&in, &key, &v, detail, detailsz) != 0)
                return HYDRA_EPROTO;
            rc = HYDRA_BOT_ERROR;
            if (svc != NULL && svc->kv_set != NULL)
                rc = svc->kv_set(svc->ctx, bot_id, key, v);
        }
        hydra_wire_begin(&w->out, HYDRA_WIRE_KV_REPLY);
        hydra_wire_put_i32(&w->out, rc);
        hydra_wire_put_str(&w->out, value);
        if (hydra_wire_finish(&w->out) != 0)
            return HYDRA_ENOMEM;
        return hydra_wire_send(w->fd, &w->out, deadline_us);
    }
    if (h->type == HYDRA_WIRE_CHAIN_GET) {
        const char *underlying;
        uint32_t rights, cap;
        if (hydra_wire_get_chain_get(&in, &underlying, &rights, &cap, detail, detailsz) != 0)
            return HYDRA_EPROTO;
        if (w->chain == NULL && (w->chain = malloc(HYDRA_CHAIN_VIEW_MAX * sizeof *w->chain)) == NULL)
            return HYDRA_ENOMEM;
        if (cap > HYDRA_CHAIN_VIEW_MAX)
            cap = HYDRA_CHAIN_VIEW_MAX;
        int32_t total = HYDRA_BOT_ERROR;
        if (svc != NULL && svc->option_chain != NULL)
            total = svc->option_chain(svc->ctx, bot_id, underlying, rights, w->chain, cap);
        uint32_t n = total <= 0 ? 0 : (uint32_t)total < cap ? (uint32_t)total : cap;
        hydra_wire_begin(&w->out, HYDRA_WIRE_CHAIN_REPLY);
        hydra_wire_put_chain_reply(&w->out, total, w->chain, n);
        if (hydra_wire_finish(&w->out) != 0)
            return HYDRA_ENOMEM;
        return hydra_wire_send(w->fd, &w->out, deadline_us);
    }
    set_why(detail, detailsz, "unexpected %s (type %u) message", hydra_wire_type_name(h->type),
            (unsigned)h->type);
    return HYDRA_EPROTO;
}

/* Reads messages, serving requests, until one of type `want` arrives (its body in w->in). */
static int exchange(hydra_worker *w, uint16_t want, const hydra_worker_peer *peer,
                    int64_t deadline_us, char *detail, size_t detailsz)
{
    for (;;) {
        hydra_wire_header h;
        int rc = hydra_wire_recv(w->fd, &w->in, &h, deadline_us, detail, detailsz);
        if (rc == HYDRA_EEOF)
            return HYDRA_EWORKER;
        if (rc != 0)
            return rc;
        if (h.type == want)
            return 0;
        rc = serve(w, &h, peer, deadline_us, detail, detailsz);
        if (rc != 0)
            return rc;
    }
}

int hydra_worker_start(hydra_worker *w, const hydra_sandbox_limits *lim, const char *plugins_dir,
                       const hydra_bot_cfg *cfg, const hydra_worker_peer *peer, char *why,
                       size_t whysz)
{
    char detail[512] = "";
    int64_t deadline;
    hydra_wire_loaded loaded;
    hydra_wire_in in;
    int rc;

    w->pid = 0;
    w->fd = -1;
    w->call_pending = 0;
    if ((rc = spawn(w, lim, why, whysz)) != 0)
        return rc;
    deadline = hydra_wire_now_us() + (int64_t)lim->start_deadline_ms * 1000;

    hydra_wire_begin(&w->out, HYDRA_WIRE_LOAD);
    hydra_wire_put_load(&w->out, plugins_dir, cfg);
    if ((rc = hydra_wire_finish(&w->out)) != 0) {
        set_why(detail, sizeof detail, "LOAD message: %s", hydra_strerror(rc));
        rc = HYDRA_EPROTO;
        goto fail;
    }
    rc = hydra_wire_send(w->fd, &w->out, deadline);
    if (rc == 0)
        rc = exchange(w, HYDRA_WIRE_LOADED, peer, deadline, detail, sizeof detail);
    if (rc != 0)
        goto fail;

    hydra_wire_in_init(&in, w->in.p, w->in.len);
    if ((rc = hydra_wire_get_loaded(&in, &loaded, detail, sizeof detail)) != 0)
        goto fail;
    if (loaded.status != 0) {
        /* The worker is alive and says why the loader refused; it exits after saying so. */
        set_why(why, whysz, "%s", loaded.error);
        hydra_worker_stop(w, REAP_GRACE_MS);
        return HYDRA_EPLUGIN;
    }
    memcpy(w->name, loaded.name, sizeof w->name);
    memcpy(w->version, loaded.version, sizeof w->version);
    w->abi = loaded.abi;
    w->seccomp = (int)loaded.seccomp;
    memcpy(w->seccomp_note, loaded.seccomp_note, sizeof w->seccomp_note);
    w->asks_chain = loaded.asks_chain != 0;
    return 0;

fail:
    if (rc == HYDRA_EWORKER && w->pid > 0) {
        /* Exec failed (status 127) or the bot crashed while it was created. */
        int st;
        close(w->fd);
        w->fd = -1;
        st = reap(w->pid, REAP_GRACE_MS);
        if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127)
            set_why(why, whysz, "%s: cannot execute the worker binary", lim->worker_path);
        else
            describe_status(st, "create", why, whysz);
        drop(w);
        return HYDRA_EWORKER;
    }
    return fail(w, rc, "create", lim->start_deadline_ms, detail, why, whysz);
}

int hydra_worker_send_call(hydra_worker *w, int call, const hydra_snapshot *snap,
                           int64_t deadline_us, char *why, size_t whysz)
{
    int rc;
    const char *name = hydra_wire_call_name(call);
    if (!hydra_worker_alive(w))
        return fail(w, HYDRA_EWORKER, name, 0, "", why, whysz);
    hydra_wire_begin(&w->out, HYDRA_WIRE_CALL);
    hydra_wire_put_u32(&w->out, (uint32_t)call);
    hydra_wire_put_snapshot(&w->out, snap);
    if ((rc = hydra_wire_finish(&w->out)) != 0) {
        /* The host could not encode its own snapshot: not the bot's fault, keep the worker. */
        set_why(why, whysz, "cannot encode the %s snapshot: %s", name, hydra_strerror(rc));
        return rc;
    }
    rc = hydra_wire_send(w->fd, &w->out, deadline_us);
    if (rc != 0)
        return fail(w, rc, name, w->deadline_ms, "", why, whysz);
    w->call_pending = 1;
    w->pending_call = call;
    return 0;
}

int hydra_worker_finish_call(hydra_worker *w, const hydra_worker_peer *peer, int64_t deadline_us,
                             int32_t *status, hydra_intent_buf *buf, char *why, size_t whysz)
{
    hydra_intent items[HYDRA_WIRE_MAX_INTENTS];
    char detail[256] = "";
    uint32_t state = 0, count = 0, cap;
    hydra_wire_in in;
    int call = w->pending_call;
    const char *name = hydra_wire_call_name(call);
    int rc;

    if (!w->call_pending || !hydra_worker_alive(w))
        return fail(w, HYDRA_EWORKER, name, 0, "", why, whysz);
    w->call_pending = 0;
    rc = exchange(w, HYDRA_WIRE_RESULT, peer, deadline_us, detail, sizeof detail);
    if (rc == 0) {
        cap = buf->capacity < HYDRA_WIRE_MAX_INTENTS ? buf->capacity : HYDRA_WIRE_MAX_INTENTS;
        hydra_wire_in_init(&in, w->in.p, w->in.len);
        rc = hydra_wire_get_result(&in, status, &state, items, cap, &count, detail, sizeof detail);
    }
    if (rc != 0)
        return fail(w, rc, name, w->deadline_ms, detail, why, whysz);
    if (state == HYDRA_WIRE_BUFFER_CORRUPTED) {
        set_why(why, whysz, "%s corrupted the intent buffer", name);
        return HYDRA_EPLUGIN;
    }
    for (uint32_t i = 0; i < count; i++)
        memcpy((unsigned char *)buf->items + (size_t)i * buf->item_size, &items[i],
               sizeof items[i] < buf->item_size ? sizeof items[i] : buf->item_size);
    buf->count = count;
    return 0;
}

int hydra_worker_fill(hydra_worker *w, const hydra_fill *fill, const hydra_worker_peer *peer,
                      int64_t deadline_us, char *why, size_t whysz)
{
    char detail[256] = "";
    hydra_intent none[1];
    uint32_t state = 0, count = 0;
    int32_t status = 0;
    hydra_wire_in in;
    int rc;

    if (!hydra_worker_alive(w))
        return fail(w, HYDRA_EWORKER, "on_fill", 0, "", why, whysz);
    hydra_wire_begin(&w->out, HYDRA_WIRE_FILL);
    hydra_wire_put_fill(&w->out, fill);
    if ((rc = hydra_wire_finish(&w->out)) != 0)
        return rc;
    rc = hydra_wire_send(w->fd, &w->out, deadline_us);
    if (rc == 0)
        rc = exchange(w, HYDRA_WIRE_RESULT, peer, deadline_us, detail, sizeof detail);
    if (rc == 0) {
        hydra_wire_in_init(&in, w->in.p, w->in.len);
        rc = hydra_wire_get_result(&in, &status, &state, none, 0, &count, detail, sizeof detail);
    }
    if (rc != 0)
        return fail(w, rc, "on_fill", w->deadline_ms, detail, why, whysz);
    return 0;
}

/* ---- the runner ---------------------------------------------------------------- */

int hydra_runner_load(hydra_bot_runner *r, int process, const hydra_sandbox_limits *lim,
                      const char *plugins_dir, const hydra_bot_cfg *cfg,
                      const hydra_worker_peer *peer, char *err, size_t errsz)
{
    int rc;
    memset(r, 0, sizeof *r);
    r->worker.fd = -1;
    r->process = process;
    if (hydra_plugin_path(plugins_dir, cfg->plugin, r->path, sizeof r->path) != 0) {
        set_why(err, errsz, "bot %s: plugin name \"%s\" in directory \"%s\" is not a valid plugin path",
                cfg->bot_id, cfg->plugin, plugins_dir != NULL ? plugins_dir : "");
        return HYDRA_EINVAL;
    }
    if (!process)
        return hydra_bot_load(&r->inst, plugins_dir, cfg, peer->svc, err, errsz);
    rc = hydra_worker_start(&r->worker, lim, plugins_dir, cfg, peer, err, errsz);
    if (rc != 0)
        hydra_worker_free(&r->worker);
    return rc;
}

void hydra_runner_unload(hydra_bot_runner *r)
{
    if (r->process) {
        hydra_worker_stop(&r->worker, REAP_GRACE_MS);
        hydra_worker_free(&r->worker);
    } else {
        hydra_bot_unload(&r->inst);
    }
    r->worker.fd = -1;
}

const char *hydra_runner_name(const hydra_bot_runner *r)
{
    if (r->process)
        return r->worker.name;
    return r->inst.plugin.entry != NULL ? r->inst.plugin.entry->name : "";
}

int hydra_runner_asks_chain(const hydra_bot_runner *r)
{
    return r->process ? r->worker.asks_chain : r->inst.host.asks_chain;
}

const char *hydra_runner_version(const hydra_bot_runner *r)
{
    if (r->process)
        return r->worker.version;
    return r->inst.plugin.entry != NULL && r->inst.plugin.entry->version != NULL
               ? r->inst.plugin.entry->version
               : "";
}

int hydra_runner_start(hydra_bot_runner *r, int call, const hydra_snapshot *snap,
                       hydra_intent_buf *buf, int deadline_ms, int32_t *status, char *why,
                       size_t whysz)
{
    if (!r->process) {
        const hydra_plugin *p = r->inst.plugin.entry;
        *status = call == HYDRA_WIRE_CALL_ON_TICK ? p->on_tick(r->inst.bot, snap, buf)
                                                  : p->manage(r->inst.bot, snap, buf);
        return 0;
    }
    r->deadline_us = hydra_wire_now_us() + (int64_t)deadline_ms * 1000;
    r->worker.deadline_ms = deadline_ms;
    return hydra_worker_send_call(&r->worker, call, snap, r->deadline_us, why, whysz);
}

int hydra_runner_finish(hydra_bot_runner *r, const hydra_worker_peer *peer, hydra_intent_buf *buf,
                        int32_t *status, char *why, size_t whysz)
{
    if (!r->process)
        return 0;
    return hydra_worker_finish_call(&r->worker, peer, r->deadline_us, status, buf, why, whysz);
}

int hydra_runner_call(hydra_bot_runner *r, int call, const hydra_snapshot *snap,
                      hydra_intent_buf *buf, const hydra_worker_peer *peer, int deadline_ms,
                      int32_t *status, char *why, size_t whysz)
{
    int rc = hydra_runner_start(r, call, snap, buf, deadline_ms, status, why, whysz);
    if (rc != 0)
        return rc;
    return hydra_runner_finish(r, peer, buf, status, why, whysz);
}

int hydra_runner_fill(hydra_bot_runner *r, const hydra_fill *fill, const hydra_worker_peer *peer,
                      int deadline_ms, char *why, size_t whysz)
{
    if (!r->process) {
        if (r->inst.plugin.entry != NULL && r->inst.plugin.entry->on_fill != NULL)
            r->inst.plugin.entry->on_fill(r->inst.bot, fill);
        return 0;
    }
    r->worker.deadline_ms = deadline_ms;
    return hydra_worker_fill(&r->worker, fill, peer,
                             hydra_wire_now_us() + (int64_t)deadline_ms * 1000, why, whysz);
}
