/*
 * Bots in worker processes, and the runner that hides where a bot runs.
 *
 * A worker is the small `hydra-worker` binary (exec'd, never a bare fork of
 * the host, so it holds none of the host's memory: no credentials, no
 * database handles). It is started in its jail (jail.h: its own user, PID,
 * mount, network and IPC namespaces, a read-only root holding only the
 * system libraries, the worker and its one plugin file, an unprivileged
 * identity, resource limits) with an empty environment and only its end of
 * a socket pair open (as fd 3). Before it loads the plugin it adds Landlock
 * and a seccomp allow-list of its own (worker/confine.h).
 *
 * Every call carries a deadline. A worker that dies, hangs past the
 * deadline or breaks the protocol is killed by its PID and reaped, and the
 * call fails with a message that names the cause:
 *
 *   worker killed by signal 11 (SIGSEGV) in on_tick
 *   on_tick exceeded its 250 ms deadline
 *   protocol violation in manage: RESULT carries 40 intents, the buffer holds 32
 *
 * The runner gives the engine one interface over an in-process instance and
 * a worker: the same calls, the intents in the same hydra_intent_buf.
 */
#ifndef HYDRA_SANDBOX_H
#define HYDRA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hydra/plugin.h>

#include "config.h"
#include "loader.h"
#include "wire.h"

/* Limits and paths for workers (settings.yaml `workers:`). */
typedef struct hydra_sandbox_limits {
    char worker_path[HYDRA_PATH_LEN]; /* the hydra-worker binary */
    int start_deadline_ms;            /* exec, dlopen and create */
    long address_space_mb;            /* RLIMIT_AS; 0 = none (always none under ASan) */
    long cpu_seconds;                 /* RLIMIT_CPU over the worker's life */
    int max_open_files;               /* RLIMIT_NOFILE */
    int namespaces;                   /* 1: the jail (default); 0: the operator gave it up */
    int landlock_optional;            /* 1: the operator gave Landlock up where it is missing */
    int drop_to_uid;                  /* 1: the host is root: workers run as uid/gid */
    uid_t uid;
    gid_t gid;
    int landlock_abi;                 /* what the kernel offers (0: none) */
    char refused[512];                /* non-empty: workers cannot start, and this says why */
} hydra_sandbox_limits;

/*
 * Fills the sandbox part of lim from settings: the worker identity when the
 * host runs as root, and which layers the operator gave up. Checks the
 * machine once (hydra_jail_probe) and refuses, with why naming the missing
 * layer and the setting that would accept its absence, when a required
 * layer is not there. *landlock_abi reports what the kernel offers.
 */
int hydra_sandbox_configure(hydra_sandbox_limits *lim, const hydra_workers_cfg *w,
                            int *landlock_abi, char *why, size_t whysz);

/*
 * Finds the worker binary: `configured` when non-empty, else $HYDRA_WORKER,
 * else "hydra-worker" beside this process's executable (/proc/self/exe).
 * Returns 0, or HYDRA_ENOTFOUND with out naming the path that was tried.
 */
int hydra_worker_locate(const char *configured, char *out, size_t outsz);

typedef struct hydra_worker {
    pid_t pid;                 /* 0 when no worker is running */
    int fd;                    /* the host's end of the socket pair, -1 when none */
    char name[64];             /* the plugin's name and version, as the worker reported them */
    char version[32];
    hydra_abi_version abi;
    int seccomp;               /* 1: the worker runs under its seccomp filter */
    char seccomp_note[160];    /* why not, when it does not */
    int call_pending;          /* a CALL was sent and its RESULT not yet read */
    int pending_call;          /* enum hydra_wire_call of that CALL */
    int deadline_ms;           /* the current exchange's deadline, as the caller set it, for messages */
    int gathered;              /* hydra_runners_gather has read this call's end: RESULT or failure */
    int gather_rc;             /* 0: the RESULT is in `in`; else the failure, with gather_detail */
    char gather_detail[256];
    int asks_chain;            /* the bot took hydra.options-chain/1 */
    hydra_wire_out out;        /* reused message buffers */
    hydra_wire_out in;
    hydra_option_view *chain;  /* CHAIN_GET answers, HYDRA_CHAIN_VIEW_MAX; allocated on first use */
} hydra_worker;

/* The services a worker's LOG, KV and CHAIN requests are answered from, for one bot. */
typedef struct hydra_worker_peer {
    const hydra_host_services *svc;
    const char *bot_id;        /* the host's id for the bot; the worker's claim is not used */
} hydra_worker_peer;

/*
 * Starts a worker for one bot and has it load and create the bot. On
 * failure nothing is left running and why says what failed (exec, the
 * loader's message, a crash during create, the start deadline).
 */
int hydra_worker_start(hydra_worker *w, const hydra_sandbox_limits *lim, const char *plugins_dir,
                       const hydra_bot_cfg *cfg, const hydra_worker_peer *peer, char *why,
                       size_t whysz);

/*
 * A call in two halves, so the engine may send many calls before it
 * collects the replies (bots are independent). send_call encodes the
 * snapshot and sends it; finish_call answers the worker's LOG and KV
 * requests until its RESULT, writes the intents into buf (the host's
 * buffer, whose item_size must be sizeof(hydra_intent)) and the plugin's
 * return value into *status. Both return 0, or negative with why after
 * killing and reaping the worker (see the file comment for the messages).
 * A RESULT that says the bot overwrote its intent buffer is HYDRA_EPLUGIN
 * with why "<call> corrupted the intent buffer"; the worker keeps running.
 */
int hydra_worker_send_call(hydra_worker *w, int call, const hydra_snapshot *snap,
                           int64_t deadline_us, char *why, size_t whysz);
int hydra_worker_finish_call(hydra_worker *w, const hydra_worker_peer *peer, int64_t deadline_us,
                             int32_t *status, hydra_intent_buf *buf, char *why, size_t whysz);

/* Tells the bot about a fill (on_fill) and waits for it to finish. 0 or negative with why. */
int hydra_worker_fill(hydra_worker *w, const hydra_fill *fill, const hydra_worker_peer *peer,
                      int64_t deadline_us, char *why, size_t whysz);

/* True while a worker process is running. */
int hydra_worker_alive(const hydra_worker *w);

/*
 * Stops a worker: closes its socket (the worker destroys the bot and
 * exits), waits up to grace_ms, then kills it by its PID and reaps it.
 * Safe on a stopped or zeroed worker.
 */
void hydra_worker_stop(hydra_worker *w, int grace_ms);

/* Releases the message buffers (after stop). */
void hydra_worker_free(hydra_worker *w);

/* ---- the runner ------------------------------------------------------------ */

typedef struct hydra_bot_runner {
    int process;               /* 1: the bot runs in `worker`; 0: in `inst` */
    hydra_bot_instance inst;
    hydra_worker worker;
    char path[HYDRA_PATH_LEN]; /* the plugin file */
    int64_t deadline_us;       /* the started call's deadline (monotonic microseconds) */
} hydra_bot_runner;

/*
 * Loads a bot in-process or in a fresh worker. The runner must not move
 * while loaded (an in-process plugin keeps a pointer into it). cfg and the
 * peer's services must outlive it.
 */
int hydra_runner_load(hydra_bot_runner *r, int process, const hydra_sandbox_limits *lim,
                      const char *plugins_dir, const hydra_bot_cfg *cfg,
                      const hydra_worker_peer *peer, char *err, size_t errsz);
void hydra_runner_unload(hydra_bot_runner *r);

/* The plugin's name and version, wherever it runs. */
const char *hydra_runner_name(const hydra_bot_runner *r);
const char *hydra_runner_version(const hydra_bot_runner *r);
/* 1 when the bot took hydra.options-chain/1: its snapshots carry no chain. */
int hydra_runner_asks_chain(const hydra_bot_runner *r);

/*
 * One manage or on_tick call with a deadline (ignored in-process, where the
 * host cannot stop a call). Returns 0 with the plugin's status, or negative
 * with why when the call itself failed (worker died, timed out, broke the
 * protocol, or overwrote its buffer).
 */
int hydra_runner_call(hydra_bot_runner *r, int call, const hydra_snapshot *snap,
                      hydra_intent_buf *buf, const hydra_worker_peer *peer, int deadline_ms,
                      int32_t *status, char *why, size_t whysz);

/*
 * The same call in two halves, so a tick can start every bot's call before
 * collecting any answer and workers compute side by side. start: an
 * in-process bot runs the call now (its answer is in buf and *status); a
 * worker is sent the request (the snapshot is encoded before start returns,
 * so the caller may reuse it). finish: collects a worker's answer into buf
 * and *status (nothing to do in-process). Between the two, the caller must
 * not touch buf. Either returns negative with why when the call failed.
 */
int hydra_runner_start(hydra_bot_runner *r, int call, const hydra_snapshot *snap,
                       hydra_intent_buf *buf, int deadline_ms, int32_t *status, char *why,
                       size_t whysz);
int hydra_runner_finish(hydra_bot_runner *r, const hydra_worker_peer *peer, hydra_intent_buf *buf,
                        int32_t *status, char *why, size_t whysz);

/*
 * Between start and finish of a pass's calls: serves every started
 * worker's log, state and chain requests in the order the workers send
 * them, until each has answered or passed its deadline. Without it a
 * worker waiting on a state read would wait for every bot ranked before
 * it to finish, and could miss its own deadline through no fault of its
 * own. finish then only reads what was gathered. peers[i] serves rs[i];
 * in-process runners and runners with no call started are skipped.
 */
void hydra_runners_gather(hydra_bot_runner *const *rs, const hydra_worker_peer *peers, size_t n);

/* on_fill, where the plugin has one. 0 or negative with why. */
int hydra_runner_fill(hydra_bot_runner *r, const hydra_fill *fill, const hydra_worker_peer *peer,
                      int deadline_ms, char *why, size_t whysz);

/* "manage" or "on_tick". */
const char *hydra_wire_call_name(int call);

#endif
