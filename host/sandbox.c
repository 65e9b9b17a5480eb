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
#include <poll.h>
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
#include "jail.h"

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

int hydra_sandbox_configure(hydra_sandbox_limits *lim, const hydra_workers_cfg *w,
                            int *landlock_abi, char *why, size_t whysz)
{
    char probe[256] = "";
    int ns = hydra_jail_probe(landlock_abi, probe, sizeof probe) == 0;

    lim->drop_to_uid = geteuid() == 0;
    if (lim->drop_to_uid && hydra_jail_user(w->user, &lim->uid, &lim->gid, why, whysz) != 0)
        return HYDRA_EINVAL;
    if (!ns && !w->unsafe_allow_missing_namespaces) {
        set_why(why, whysz,
                "worker sandbox: this kernel cannot give workers their own namespaces (%s); "
                "isolated bots cannot start. Enable unprivileged user namespaces, or set "
                "workers.unsafe_allow_missing_namespaces: true to run them without (a bot could "
                "then see the host's files and processes and reach the network, held back by "
                "Landlock and seccomp alone)",
                probe);
        return HYDRA_EWORKER;
    }
    if (*landlock_abi < 1 && !w->unsafe_allow_missing_landlock) {
        set_why(why, whysz,
                "worker sandbox: this kernel has no Landlock; isolated bots cannot start. Enable "
                "it (lsm=landlock), or set workers.unsafe_allow_missing_landlock: true to run them "
                "without that second file-system and network layer");
        return HYDRA_EWORKER;
    }
    lim->namespaces = ns;
    lim->landlock_optional = w->unsafe_allow_missing_landlock;
    return 0;
}

static int spawn(hydra_worker *w, const hydra_sandbox_limits *lim, const char *plugin_path,
                 char *why, size_t whysz)
{
    int sv[2];
    pid_t pid;
    char *argv[] = {HYDRA_JAIL_WORKER,
                    lim->landlock_optional ? "--landlock=optional" : "--landlock=required", NULL};
    /* A clean environment: no credentials, no LD_PRELOAD, nothing the host was given. */
    char *envp[] = {"PATH=/usr/bin:/bin",
#if HYDRA_SANITIZED
                    /* Let a crash end the worker with its signal, as it does in a normal build. */
                    "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:detect_leaks=0:"
                    "symbolize=0",
#endif
                    NULL};
    hydra_jail_spec spec = {
        .worker_path = lim->worker_path,
        .plugin_path = plugin_path,
        .namespaces = lim->namespaces,
        .drop_to_uid = lim->drop_to_uid,
        .uid = lim->uid,
        .gid = lim->gid,
        .address_space_mb = lim->address_space_mb,
        .cpu_seconds = lim->cpu_seconds,
        .max_open_files = lim->max_open_files,
        .argv = argv,
        .envp = envp,
    };

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        set_why(why, whysz, "socketpair: %s", strerror(errno));
        return HYDRA_EWORKER;
    }
    if (hydra_jail_spawn(&spec, sv[1], &pid, why, whysz) != 0) {
        close(sv[0]);
        close(sv[1]);
        return HYDRA_EWORKER;
    }
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
    /* The jail's init reports the worker's death by signal N as an exit status (wire.h). */
    int relayed = status >= 0 && WIFEXITED(status) &&
                  WEXITSTATUS(status) > HYDRA_WIRE_EXIT_SIGNALED &&
                  WEXITSTATUS(status) < HYDRA_WIRE_EXIT_SIGNALED + 65;
    if (status >= 0 && (WIFSIGNALED(status) || relayed)) {
        int sig = relayed ? WEXITSTATUS(status) - HYDRA_WIRE_EXIT_SIGNALED : WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        const char *what = sig == SIGSYS    ? ": a forbidden system call"
                           : sig == SIGXCPU ? ": CPU time limit"
                                            : "";
        set_why(why, whysz, "worker killed by signal %d (SIG%s%s) in %s", sig,
                abbrev != NULL ? abbrev : "?", what, call);
    } else if (status >= 0 && WIFEXITED(status) &&
               WEXITSTATUS(status) == HYDRA_WIRE_EXIT_PROTOCOL) {
        /* What a worker of another protocol version does at the host's first message. */
        set_why(why, whysz,
                "worker exited with status %d in %s: it could not read this host's messages "
                "(hydra-host speaks worker protocol %u; a hydra-worker from another build "
                "speaks another): install hydra-host and hydra-worker from the same build",
                WEXITSTATUS(status), call, (unsigned)HYDRA_WIRE_VERSION);
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

/*
 * The loader inside the jail names the plugin by its path there; the
 * operator knows it by its path on the host. Rewrites the one into the other.
 */
static void jail_to_host_path(const char *msg, int jailed, const char *host_path, char *out,
                              size_t outsz)
{
    const char *base = strrchr(host_path, '/');
    char inside[HYDRA_PATH_LEN + 32];
    const char *at;
    snprintf(inside, sizeof inside, "%s/%s", HYDRA_JAIL_PLUGINS, base != NULL ? base + 1 : host_path);
    at = jailed ? strstr(msg, inside) : NULL;
    if (at == NULL) {
        set_why(out, outsz, "%s", msg);
        return;
    }
    set_why(out, outsz, "%.*s%s%s", (int)(at - msg), msg, host_path, at + strlen(inside));
}

int hydra_worker_start(hydra_worker *w, const hydra_sandbox_limits *lim, const char *plugins_dir,
                       const hydra_bot_cfg *cfg, const hydra_worker_peer *peer, char *why,
                       size_t whysz)
{
    char detail[512] = "", plugin_path[HYDRA_PATH_LEN];
    int64_t deadline;
    hydra_wire_loaded loaded;
    hydra_wire_in in;
    int rc;

    w->pid = 0;
    w->fd = -1;
    w->call_pending = 0;
    if (hydra_plugin_path(plugins_dir, cfg->plugin, plugin_path, sizeof plugin_path) != 0) {
        set_why(why, whysz, "bot %s: not a valid plugin name \"%s\"", cfg->bot_id, cfg->plugin);
        return HYDRA_EINVAL;
    }
    if ((rc = spawn(w, lim, plugin_path, why, whysz)) != 0)
        return rc;
    deadline = hydra_wire_now_us() + (int64_t)lim->start_deadline_ms * 1000;

    /* Inside its jail the worker finds the plugin at the jail's path, not the host's. */
    hydra_wire_begin(&w->out, HYDRA_WIRE_LOAD);
    hydra_wire_put_load(&w->out, lim->namespaces ? HYDRA_JAIL_PLUGINS : plugins_dir, cfg);
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
        jail_to_host_path(loaded.error, lim->namespaces, plugin_path, why, whysz);
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
    w->gathered = 0;
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
    if (w->gathered) { /* hydra_runners_gather read the answer, or the failure */
        w->gathered = 0;
        rc = w->gather_rc;
        set_why(detail, sizeof detail, "%s", w->gather_detail);
    } else {
        rc = exchange(w, HYDRA_WIRE_RESULT, peer, deadline_us, detail, sizeof detail);
    }
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
    if (lim->refused[0] != '\0') {
        set_why(err, errsz, "bot %s: %s", cfg->bot_id, lim->refused);
        return HYDRA_EWORKER;
    }
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

/* One message from a worker whose call is pending: a request is served, a RESULT ends the call. */
static void gather_one(hydra_worker *w, const hydra_worker_peer *peer, int64_t deadline_us)
{
    hydra_wire_header h;
    char detail[256] = "";
    int rc = hydra_wire_recv(w->fd, &w->in, &h, deadline_us, detail, sizeof detail);
    if (rc == HYDRA_EEOF)
        rc = HYDRA_EWORKER;
    if (rc == 0 && h.type == HYDRA_WIRE_RESULT) {
        w->gathered = 1;
        w->gather_rc = 0;
        return;
    }
    if (rc == 0)
        rc = serve(w, &h, peer, deadline_us, detail, sizeof detail);
    if (rc != 0) {
        w->gathered = 1;
        w->gather_rc = rc;
        set_why(w->gather_detail, sizeof w->gather_detail, "%s", detail);
    }
}

enum { GATHER_MAX = 256 };

void hydra_runners_gather(hydra_bot_runner *const *rs, const hydra_worker_peer *peers, size_t n)
{
    struct pollfd pfd[GATHER_MAX];
    size_t idx[GATHER_MAX];
    if (n > GATHER_MAX)
        n = GATHER_MAX; /* the rest are served in rank order by finish, as before */
    for (;;) {
        int64_t now = hydra_wire_now_us(), first = INT64_MAX;
        nfds_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const hydra_bot_runner *r = rs[i];
            /* Past its deadline a worker is left to finish, which reports the timeout. */
            if (r == NULL || !r->process || !r->worker.call_pending || r->worker.gathered ||
                r->worker.fd < 0 || r->deadline_us <= now)
                continue;
            pfd[k].fd = r->worker.fd;
            pfd[k].events = POLLIN;
            pfd[k].revents = 0;
            idx[k++] = i;
            if (r->deadline_us < first)
                first = r->deadline_us;
        }
        if (k == 0)
            return;
        int64_t wait_ms = (first - now + 999) / 1000;
        int pr = poll(pfd, k, wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return; /* finish reads each worker itself */
        for (nfds_t j = 0; j < k; j++)
            if (pfd[j].revents != 0)
                gather_one(&rs[idx[j]]->worker, &peers[idx[j]], rs[idx[j]]->deadline_us);
    }
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
