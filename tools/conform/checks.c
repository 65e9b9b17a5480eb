/*
 * The checks. Each one is a function of the options, the environment of
 * the process it runs in, and the result it fills. A check trusts nothing
 * the plugin returns: every intent is read through the host's
 * struct_size-aware reader and checked against the rules in tape.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"
#include "tape.h"

#if defined(__SANITIZE_ADDRESS__)
#define CONFORM_LSAN 1
int __lsan_do_recoverable_leak_check(void);
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONFORM_LSAN 1
int __lsan_do_recoverable_leak_check(void);
#endif
#endif

#define KV_MAX 256
#define KV_KEY 129
#define KV_VALUE 4097
#define TAPE_TICKS 300
#define BUF_CAPACITY 16
#define PLUGIN_MIN_SIZE (offsetof(hydra_plugin, on_tick) + sizeof(((hydra_plugin *)0)->on_tick))
#define PLUGIN_MAX_SIZE (64u * 1024u)

/* A non-NULL value create must overwrite: a failed create has to leave *out NULL. */
static char out_sentinel;
#define OUT_SENTINEL ((hydra_bot *)(void *)&out_sentinel)

typedef struct kv_entry {
    char key[KV_KEY];
    char value[KV_VALUE];
} kv_entry;

struct conform_env {
    hydra_plugin_handle plugin;
    struct hydra_host host;
    hydra_host_services svc;
    kv_entry *kv;
    int n_kv;
    int n_state_set;
    int n_log;
    char last_log[512];
    const hydra_snapshot *snap; /* the tape's snapshot during a callback, for chain requests */
};

void hydra_conform_set(conform_result *r, int outcome, const char *fmt, ...)
{
    va_list ap;
    r->outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* ---- host services: an in-memory store and a log that keeps the last line ---- */

static void svc_log(void *ctx, const char *bot_id, int level, const char *event, const char *message)
{
    conform_env *env = ctx;
    (void)bot_id;
    (void)level;
    env->n_log++;
    snprintf(env->last_log, sizeof env->last_log, "%s: %s", event, message);
}

static int svc_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    conform_env *env = ctx;
    int i;
    (void)bot_id;
    for (i = 0; i < env->n_kv; i++) {
        if (strcmp(env->kv[i].key, key) == 0) {
            if (strlen(env->kv[i].value) >= bufsz)
                return HYDRA_PARAM_SPACE;
            strcpy(buf, env->kv[i].value);
            return 0;
        }
    }
    return HYDRA_PARAM_MISSING;
}

static int svc_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    conform_env *env = ctx;
    int i;
    (void)bot_id;
    env->n_state_set++;
    for (i = 0; i < env->n_kv && strcmp(env->kv[i].key, key) != 0; i++)
        ;
    if (i == env->n_kv) {
        if (env->n_kv == KV_MAX)
            return -1;
        env->n_kv++;
    }
    snprintf(env->kv[i].key, sizeof env->kv[i].key, "%s", key);
    snprintf(env->kv[i].value, sizeof env->kv[i].value, "%s", value);
    return 0;
}

/*
 * hydra.options-chain/1 as the host serves it: the contracts of the tape's
 * snapshot for the call in progress (the tape draws them inside the bot's
 * chain_rules, dirty quotes included on a dirty tape).
 */
static int svc_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                     hydra_option_view *out, uint32_t cap)
{
    conform_env *env = ctx;
    uint32_t i, n = 0;
    (void)bot_id;
    if (env->snap == NULL)
        return HYDRA_BOT_ERROR; /* not inside manage or on_tick */
    for (i = 0; i < env->snap->n_options; i++) {
        const hydra_option_view *v = env->snap->options[i];
        if (strcmp(v->underlying, underlying) != 0 ||
            (rights & (v->is_call ? HYDRA_CHAIN_CALLS : HYDRA_CHAIN_PUTS)) == 0)
            continue;
        if (n < cap)
            out[n] = *v;
        n++;
    }
    return (int)n;
}

/* ---- bot instances --------------------------------------------------------- */

/* Creates an instance with cfg, which must outlive it. Returns create's status; *out as create left it. */
static int bot_create(conform_env *env, const hydra_bot_cfg *cfg, hydra_bot **out)
{
    const char *symbols[HYDRA_MAX_BOT_SYMBOLS];
    hydra_bot_config view;
    hydra_bot *bot = OUT_SENTINEL;
    int rc;

    env->host.cfg = cfg;
    env->host.svc = &env->svc;
    hydra_bot_config_view(cfg, symbols, &view);
    hydra_conform_probe_enter("create", "creating an instance", 0);
    rc = env->plugin.entry->create(hydra_host_api_v1(), &env->host, &view, &bot);
    *out = bot;
    return rc;
}

static void bot_destroy(conform_env *env, hydra_bot *bot)
{
    if (bot != NULL && bot != OUT_SENTINEL) {
        hydra_conform_probe_enter("destroy", "destroying an instance", 0);
        env->plugin.entry->destroy(bot);
    }
}

/* Creates an instance with the run's configuration; on failure the check is skipped. */
static hydra_bot *need_bot(const conform_opts *o, conform_env *env, conform_result *r)
{
    hydra_bot *bot;
    int rc = bot_create(env, &o->cfg, &bot);
    if (rc != 0 || bot == NULL || bot == OUT_SENTINEL) {
        if (rc == 0)
            bot_destroy(env, bot);
        hydra_conform_set(r, CONFORM_SKIP, "create fails with this configuration (see create-valid-config)");
        return NULL;
    }
    return bot;
}

/* Bytes of heap in use, where the allocator can say; -1 otherwise. */
static long long heap_in_use(void)
{
#if defined(CONFORM_LSAN)
    return -1;
#else
    struct mallinfo2 mi = mallinfo2();
    return (long long)(mi.uordblks + mi.hblkhd);
#endif
}

int hydra_conform_statm_fd = -1;


/* Resident kB, from /proc/self/statm opened before the child confined itself; -1 when unknown. */
static long rss_kb(void)
{
    char text[128];
    long pages = 0, rss = 0;
    if (hydra_conform_statm_fd < 0)
        return -1;
    ssize_t n = pread(hydra_conform_statm_fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    if (sscanf(text, "%ld %ld", &pages, &rss) != 2)
        return -1;
    return rss < 0 ? -1 : rss * 4;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- driving a bot with a tape --------------------------------------------- */

/*
 * DRIVE_SLACK: also check that no byte past the pushed items changed. The
 * guard page and the header and count checks apply to every call; the byte
 * check is intent-buffer-bounds' own, so that fault is reported there.
 */
enum { DRIVE_FILLS = 1, DRIVE_DUPLICATE = 2, DRIVE_ALLOW_NEGATIVE = 4, DRIVE_SLACK = 8 };

typedef struct intent_rec {
    int tick;
    int phase; /* 0 manage, 1 on_tick */
    hydra_intent in;
} intent_rec;

typedef struct run_log {
    intent_rec *v;
    size_t n, cap;
    double *ns;
    size_t n_ns, cap_ns;
    int n_negative;
    int n_entries, n_exits;
    char first_negative[96];
} run_log;

static void log_free(run_log *l)
{
    free(l->v);
    free(l->ns);
    memset(l, 0, sizeof *l);
}

static int log_add(run_log *l, int tick, int phase, const hydra_intent *in)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        intent_rec *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].tick = tick;
    l->v[l->n].phase = phase;
    l->v[l->n].in = *in;
    l->n++;
    if (in->kind == HYDRA_INTENT_ENTRY)
        l->n_entries++;
    else
        l->n_exits++;
    return 0;
}

static int log_time(run_log *l, double ns)
{
    if (l->n_ns == l->cap_ns) {
        size_t cap = l->cap_ns ? l->cap_ns * 2 : 1024;
        double *v = realloc(l->ns, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->ns = v;
        l->cap_ns = cap;
    }
    l->ns[l->n_ns++] = ns;
    return 0;
}

/* Field by field, with doubles compared bit for bit so a NaN equals itself. */
static int same_intent(const hydra_intent *a, const hydra_intent *b)
{
    return a->kind == b->kind && a->side == b->side && a->type == b->type && a->tif == b->tif &&
           a->asset_class == b->asset_class && strcmp(a->symbol, b->symbol) == 0 &&
           memcmp(&a->qty, &b->qty, sizeof a->qty) == 0 &&
           memcmp(&a->notional, &b->notional, sizeof a->notional) == 0 &&
           memcmp(&a->limit_price, &b->limit_price, sizeof a->limit_price) == 0 &&
           strcmp(a->reason, b->reason) == 0;
}

static const char *phase_name(int phase)
{
    return phase == 0 ? "manage" : "on_tick";
}

/* The case a call runs in, for reports: "seeded tape, tick 12 (2 symbols, 120 bars on the first, ...)". */
static void snapshot_case(const char *what, int tick, const hydra_snapshot *snap, char *out, size_t outsz)
{
    uint32_t bars = snap->n_symbols > 0 && snap->symbols[0] != NULL ? snap->symbols[0]->n_bars : 0;
    snprintf(out, outsz, "%s, tick %d (%u symbol%s, %u bar%s on the first, %u position%s, %u option%s, %u order%s)",
             what, tick, (unsigned)snap->n_symbols, snap->n_symbols == 1 ? "" : "s", (unsigned)bars,
             bars == 1 ? "" : "s", (unsigned)snap->n_positions, snap->n_positions == 1 ? "" : "s",
             (unsigned)snap->n_options, snap->n_options == 1 ? "" : "s", (unsigned)snap->n_orders,
             snap->n_orders == 1 ? "" : "s");
}

/*
 * One callback on one snapshot: calls it, times it, checks the buffer and
 * every intent, and appends the intents to *got (which the caller resets).
 * Returns 0, or -1 with r set to FAIL.
 */
static int call_once(const conform_opts *o, conform_env *env, hydra_bot *bot, const hydra_snapshot *snap,
                     int tick, int phase, unsigned flags, conform_buf *buf, run_log *log,
                     hydra_intent *got, uint32_t *n_got, const char *what, conform_result *r)
{
    char why[512], desc[256], where[320];
    double t0;
    uint32_t i;
    int rc;

    /* As in the host: a bot that asks for its chain finds none in the snapshot. */
    hydra_snapshot bare = *snap;
    if (env->host.asks_chain) {
        bare.options = NULL;
        bare.n_options = 0;
    }
    conform_buf_reset(buf);
    env->snap = snap;
    snapshot_case(what, tick, &bare, where, sizeof where);
    hydra_conform_probe_enter(phase_name(phase), where, 1);
    t0 = now_ns();
    rc = phase == 0 ? env->plugin.entry->manage(bot, &bare, &buf->buf)
                    : env->plugin.entry->on_tick(bot, &bare, &buf->buf);
    hydra_conform_probe_leave(1);
    env->snap = NULL;
    if (log != NULL)
        log_time(log, now_ns() - t0);
    if (conform_buf_verify(buf, (flags & DRIVE_SLACK) != 0, why, sizeof why) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "%s, tick %d, %s: %s", what, tick, phase_name(phase), why);
        snprintf(r->cause, sizeof r->cause, "%s: %.230s", phase_name(phase), why);
        snprintf(r->where, sizeof r->where, "%s, %.290s", phase_name(phase), where);
        return -1;
    }
    if (rc < 0) {
        if (!(flags & DRIVE_ALLOW_NEGATIVE)) {
            hydra_conform_set(r, CONFORM_FAIL, "%s, tick %d: %s returned %d (the host quarantines the bot)%s%s",
                              what, tick, phase_name(phase), rc, env->last_log[0] ? "; last log: " : "",
                              env->last_log);
            return -1;
        }
        if (log != NULL && log->n_negative++ == 0)
            snprintf(log->first_negative, sizeof log->first_negative, "tick %d %s returned %d", tick,
                     phase_name(phase), rc);
    } else if (rc > 0) {
        hydra_conform_set(r, CONFORM_FAIL, "%s, tick %d: %s returned %d (callbacks return 0 or negative)",
                          what, tick, phase_name(phase), rc);
        return -1;
    }
    *n_got = 0;
    for (i = 0; i < buf->buf.count; i++) {
        hydra_intent in;
        if (conform_intent_raw_check(&buf->buf, i, why, sizeof why) != 0 ||
            hydra_intent_read(&buf->buf, i, &in) != 0) {
            hydra_conform_set(r, CONFORM_FAIL, "%s, tick %d, %s: %s", what, tick, phase_name(phase), why);
            snprintf(r->cause, sizeof r->cause, "%s: %.230s", phase_name(phase), why);
            snprintf(r->where, sizeof r->where, "%s, %.290s", phase_name(phase), where);
            return -1;
        }
        if (conform_intent_check(&o->cfg, snap, phase == 0, &in, why, sizeof why) != 0) {
            conform_intent_describe(&in, desc, sizeof desc);
            hydra_conform_set(r, CONFORM_FAIL, "%s, tick %d, %s: invalid intent (%s): %s", what, tick,
                              phase_name(phase), desc, why);
            snprintf(r->cause, sizeof r->cause, "%s: invalid intent: %.220s", phase_name(phase), why);
            snprintf(r->where, sizeof r->where, "%s, %.290s", phase_name(phase), where);
            return -1;
        }
        got[(*n_got)++] = in;
    }
    return 0;
}

/*
 * Runs ticks [from, to] of tape t through bot: manage, then on_tick, on
 * every tick. With DRIVE_FILLS the intents are filled so positions and the
 * budget move as in the host; with DRIVE_DUPLICATE each snapshot is
 * delivered twice and the two answers must match. Returns 0, or -1 with r
 * set.
 */
static int drive(const conform_opts *o, conform_env *env, hydra_bot *bot, conform_tape *t, int from, int to,
                 unsigned flags, uint32_t capacity, uint32_t item_size, run_log *log, const char *what,
                 conform_result *r)
{
    hydra_intent got[2][BUF_CAPACITY * 4], again[BUF_CAPACITY * 4];
    uint32_t n_got[2], n_again, i;
    conform_buf buf;
    int tick, phase, rc = -1;

    if (capacity > BUF_CAPACITY * 4)
        capacity = BUF_CAPACITY * 4;
    if (conform_buf_open(&buf, capacity, item_size) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot map an intent buffer");
        return -1;
    }
    for (tick = from; tick <= to; tick++) {
        const hydra_snapshot *snap = conform_tape_snapshot(t, tick);
        for (phase = 0; phase < 2; phase++) {
            if (call_once(o, env, bot, snap, tick, phase, flags, &buf, log, got[phase], &n_got[phase], what,
                          r) != 0)
                goto fail;
            if (flags & DRIVE_DUPLICATE) {
                if (call_once(o, env, bot, snap, tick, phase, flags, &buf, log, again, &n_again, what, r) != 0)
                    goto fail;
                for (i = 0; i < n_got[phase] && i < n_again && same_intent(&got[phase][i], &again[i]); i++)
                    ;
                if (n_again != n_got[phase] || i < n_again) {
                    hydra_conform_set(r, CONFORM_FAIL,
                                      "%s, tick %d: %s answered the same snapshot delivered twice with %u then %u intents%s",
                                      what, tick, phase_name(phase), (unsigned)n_got[phase], (unsigned)n_again,
                                      i < n_again && i < n_got[phase] ? " that differ" : "");
                    goto fail;
                }
            }
            for (i = 0; i < n_got[phase]; i++)
                if (log != NULL && log_add(log, tick, phase, &got[phase][i]) != 0) {
                    hydra_conform_set(r, CONFORM_FAIL, "out of memory");
                    goto fail;
                }
        }
        if (flags & DRIVE_FILLS) {
            for (phase = 0; phase < 2; phase++)
                for (i = 0; i < n_got[phase]; i++)
                    conform_tape_fill(t, &got[phase][i]);
            conform_tape_end_tick(t, tick);
        }
    }
    rc = 0;

fail:
    conform_buf_close(&buf);
    return rc;
}

/* Runs a whole tape of the given fault through a fresh instance. Returns 0, or -1 with r set. */
static int run_tape(const conform_opts *o, conform_env *env, int fault, int ticks, unsigned flags,
                    run_log *log, const char *what, conform_result *r)
{
    conform_tape *t = conform_tape_new(&o->cfg, o->seed, ticks, fault);
    hydra_bot *bot = NULL;
    int rc = -1;

    if (t == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory building the tape");
        return -1;
    }
    env->n_kv = 0; /* a fresh instance on a fresh store, as on a new host */
    bot = need_bot(o, env, r);
    if (bot == NULL)
        goto fail;
    rc = drive(o, env, bot, t, 1, ticks, flags, BUF_CAPACITY, sizeof(hydra_intent), log, what, r);

fail:
    bot_destroy(env, bot);
    conform_tape_free(t);
    return rc;
}

/* The first place two runs differ, described in r. Returns 0 when they are the same. */
static int compare_logs(const run_log *a, const run_log *b, const char *what, conform_result *r)
{
    size_t i;
    char da[256], db[256];
    for (i = 0; i < a->n && i < b->n; i++) {
        const intent_rec *x = &a->v[i], *y = &b->v[i];
        if (x->tick != y->tick || x->phase != y->phase || !same_intent(&x->in, &y->in)) {
            conform_intent_describe(&x->in, da, sizeof da);
            conform_intent_describe(&y->in, db, sizeof db);
            hydra_conform_set(r, CONFORM_FAIL, "%s: intent %zu differs: tick %d %s %s vs tick %d %s %s", what, i + 1,
                              x->tick, phase_name(x->phase), da, y->tick, phase_name(y->phase), db);
            return -1;
        }
    }
    if (a->n != b->n) {
        const intent_rec *extra = a->n > b->n ? &a->v[i] : &b->v[i];
        conform_intent_describe(&extra->in, da, sizeof da);
        hydra_conform_set(r, CONFORM_FAIL, "%s: %zu intents vs %zu; the first extra one is at tick %d %s: %s", what,
                          a->n, b->n, extra->tick, phase_name(extra->phase), da);
        return -1;
    }
    return 0;
}

/* ---- the descriptor, read without the loader ------------------------------ */

/*
 * dlopens the plugin and copies its descriptor, zero-extended, the way the
 * loader does but without refusing anything, so each check can name the
 * one problem it is about. Returns 0, or -1 with r set to SKIP.
 */
static int raw_entry(const conform_opts *o, void **dl, const void **raw, hydra_plugin *copy, uint32_t *size,
                     conform_result *r)
{
    const hydra_abi_version host = HYDRA_ABI_VERSION_INIT;
    hydra_abi_version abi;

    *dl = dlopen(o->path, RTLD_NOW | RTLD_LOCAL);
    if (*dl == NULL) {
        hydra_conform_set(r, CONFORM_SKIP, "not loadable (see abi-version): %s", dlerror());
        return -1;
    }
    *raw = dlsym(*dl, HYDRA_PLUGIN_ENTRY_SYMBOL);
    if (*raw == NULL) {
        hydra_conform_set(r, CONFORM_SKIP, "no %s (see abi-version)", HYDRA_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    memcpy(&abi, *raw, sizeof abi);
    if (!hydra_version_is_compatible(host, abi)) {
        hydra_conform_set(r, CONFORM_SKIP, "ABI major %u is not this host's (see abi-version)", (unsigned)abi.major);
        return -1;
    }
    memcpy(size, (const unsigned char *)*raw + offsetof(hydra_plugin, struct_size), sizeof *size);
    memset(copy, 0, sizeof *copy);
    memcpy(copy, *raw, *size < sizeof *copy ? *size : sizeof *copy);
    return 0;
}

static void check_abi(const conform_opts *o, conform_env *env, conform_result *r)
{
    const hydra_abi_version host = HYDRA_ABI_VERSION_INIT;
    hydra_abi_version abi;
    const void *raw;
    void *dl = dlopen(o->path, RTLD_NOW | RTLD_LOCAL);

    (void)env;
    if (dl == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "not a loadable shared object: %s", dlerror());
        return;
    }
    raw = dlsym(dl, HYDRA_PLUGIN_ENTRY_SYMBOL);
    if (raw == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "no %s symbol (not a Hydra plugin)", HYDRA_PLUGIN_ENTRY_SYMBOL);
    } else {
        memcpy(&abi, raw, sizeof abi);
        if (!hydra_version_is_compatible(host, abi))
            hydra_conform_set(r, CONFORM_FAIL, "plugin ABI %u.%u.%u, host %u.%u.%u: major versions differ",
                              (unsigned)abi.major, (unsigned)abi.minor, (unsigned)abi.patch,
                              (unsigned)host.major, (unsigned)host.minor, (unsigned)host.patch);
        else if (abi.minor > host.minor)
            hydra_conform_set(r, CONFORM_WARN,
                              "plugin ABI %u.%u.%u is newer than host %u.%u.%u: it must check HYDRA_HAS before using 1.%u additions",
                              (unsigned)abi.major, (unsigned)abi.minor, (unsigned)abi.patch,
                              (unsigned)host.major, (unsigned)host.minor, (unsigned)host.patch,
                              (unsigned)abi.minor);
        else
            hydra_conform_set(r, CONFORM_PASS, "plugin ABI %u.%u.%u, host %u.%u.%u", (unsigned)abi.major,
                              (unsigned)abi.minor, (unsigned)abi.patch, (unsigned)host.major,
                              (unsigned)host.minor, (unsigned)host.patch);
    }
    dlclose(dl);
}

/* True when s is a non-empty string of printable ASCII shorter than max. */
static int printable(const char *s, size_t max)
{
    size_t i;
    if (s == NULL || s[0] == '\0')
        return 0;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= max || s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

static void check_descriptor(const conform_opts *o, conform_env *env, conform_result *r)
{
    hydra_plugin p;
    const void *raw;
    void *dl = NULL;
    uint32_t size;
    size_t i;

    (void)env;
    if (raw_entry(o, &dl, &raw, &p, &size, r) != 0)
        goto fail;
    if (size < PLUGIN_MIN_SIZE || size > PLUGIN_MAX_SIZE)
        hydra_conform_set(r, CONFORM_FAIL, "struct_size %u is outside %zu..%u", (unsigned)size,
                          (size_t)PLUGIN_MIN_SIZE, (unsigned)PLUGIN_MAX_SIZE);
    else if (!printable(p.name, 64))
        hydra_conform_set(r, CONFORM_FAIL, "name is missing, empty, longer than 63 or not printable ASCII");
    else if (!printable(p.version, 64))
        hydra_conform_set(r, CONFORM_FAIL, "version is missing, empty, longer than 63 or not printable ASCII");
    else if (p.asset_classes == 0 ||
             (p.asset_classes & ~(uint32_t)(HYDRA_ASSET_EQUITY | HYDRA_ASSET_CRYPTO | HYDRA_ASSET_OPTION)) != 0)
        hydra_conform_set(r, CONFORM_FAIL, "asset_classes 0x%x is empty or has unknown bits",
                          (unsigned)p.asset_classes);
    else if (!printable(p.description, 200))
        hydra_conform_set(r, CONFORM_WARN, "name %s, version %s: description is missing or not one printable line",
                          p.name, p.version);
    else {
        for (i = 0; p.name[i] != '\0'; i++)
            if (!((p.name[i] >= 'a' && p.name[i] <= 'z') || (p.name[i] >= '0' && p.name[i] <= '9') ||
                  p.name[i] == '_' || p.name[i] == '-'))
                break;
        if (p.name[i] != '\0')
            hydra_conform_set(r, CONFORM_WARN, "name \"%s\" is not a plain id (a-z, 0-9, _ and -)", p.name);
        else
            hydra_conform_set(r, CONFORM_PASS, "%s %s, struct_size %u, asset classes 0x%x: %s", p.name, p.version,
                              (unsigned)size, (unsigned)p.asset_classes, p.description);
    }

fail:
    if (dl != NULL)
        dlclose(dl);
}

static void check_callbacks(const conform_opts *o, conform_env *env, conform_result *r)
{
    static const char *const names[] = {"create", "destroy", "manage", "on_tick", "on_fill"};
    void *fns[5];
    hydra_plugin p;
    const void *raw;
    void *dl = NULL;
    uint32_t size;
    Dl_info self, info;
    size_t i;

    (void)env;
    if (raw_entry(o, &dl, &raw, &p, &size, r) != 0)
        goto fail;
    fns[0] = (void *)(uintptr_t)p.create;
    fns[1] = (void *)(uintptr_t)p.destroy;
    fns[2] = (void *)(uintptr_t)p.manage;
    fns[3] = (void *)(uintptr_t)p.on_tick;
    fns[4] = (void *)(uintptr_t)p.on_fill;
    for (i = 0; i < 4; i++)
        if (fns[i] == NULL) {
            hydra_conform_set(r, CONFORM_FAIL, "required callback %s is NULL", names[i]);
            goto fail;
        }
    if (dladdr(raw, &self) == 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot find the object that holds %s", HYDRA_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    /* A callback must be the plugin's own code, not a stray pointer into another object. */
    for (i = 0; i < 5; i++)
        if (fns[i] != NULL && (dladdr(fns[i], &info) == 0 || info.dli_fbase != self.dli_fbase)) {
            hydra_conform_set(r, CONFORM_FAIL, "callback %s (%p) points outside the plugin", names[i], fns[i]);
            goto fail;
        }
    hydra_conform_set(r, CONFORM_PASS, "create, destroy, manage and on_tick present; on_fill %s",
                      fns[4] != NULL ? "present" : "absent (optional)");

fail:
    if (dl != NULL)
        dlclose(dl);
}

/* ---- create and destroy ---------------------------------------------------- */

static void check_create(const conform_opts *o, conform_env *env, conform_result *r)
{
    hydra_bot *bot;
    int rc = bot_create(env, &o->cfg, &bot);
    if (rc != 0)
        hydra_conform_set(r, CONFORM_FAIL, "create returned %d for mode %s%s%s", rc, o->cfg.signal_mode,
                          env->last_log[0] ? "; log: " : "", env->last_log);
    else if (bot == NULL || bot == OUT_SENTINEL)
        hydra_conform_set(r, CONFORM_FAIL, "create returned 0 but no instance");
    else
        hydra_conform_set(r, CONFORM_PASS, "bot %s created with mode %s and %d param%s", o->cfg.bot_id,
                          o->cfg.signal_mode, o->cfg.n_params, o->cfg.n_params == 1 ? "" : "s");
    if (rc == 0)
        bot_destroy(env, bot);
}

/* Runs n create/destroy cycles with cfg. Returns 0, or the failing cycle (1-based). */
static int cycles(conform_env *env, const hydra_bot_cfg *cfg, int n)
{
    hydra_bot *bot;
    int i;
    for (i = 0; i < n; i++) {
        if (bot_create(env, cfg, &bot) != 0 || bot == NULL || bot == OUT_SENTINEL)
            return i + 1;
        bot_destroy(env, bot);
    }
    return 0;
}

/*
 * Heap growth that repeats: the smaller of the growths over two equal
 * batches. One-time allocations and chunks the allocator caches (glibc
 * counts its per-thread cache as in use) show up in one batch at most; a
 * leak shows up in both.
 */
static long long steady_growth(long long h0, long long h1, long long h2)
{
    long long a = h1 - h0, b = h2 - h1;
    return a < b ? a : b;
}

static void check_repeat(const conform_opts *o, conform_env *env, conform_result *r)
{
    long long h0, h1, h2, grew;
    long rss0, rss1;
    int half = o->repeat / 2 > 0 ? o->repeat / 2 : 1, bad;

    if (cycles(env, &o->cfg, 1) != 0) {
        hydra_conform_set(r, CONFORM_SKIP, "create fails with this configuration (see create-valid-config)");
        return;
    }
    rss0 = rss_kb();
    h0 = heap_in_use();
    bad = cycles(env, &o->cfg, half);
    h1 = heap_in_use();
    if (bad == 0)
        bad = cycles(env, &o->cfg, half);
    h2 = heap_in_use();
    rss1 = rss_kb();
    if (bad != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "create failed on a later cycle after succeeding before");
        return;
    }
#if defined(CONFORM_LSAN)
    (void)grew, (void)h0, (void)h1, (void)h2;
    if (__lsan_do_recoverable_leak_check() != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "LeakSanitizer found leaks after %d create/destroy cycles (RSS %ld -> %ld kB)",
                          2 * half, rss0, rss1);
        return;
    }
    hydra_conform_set(r, CONFORM_PASS, "%d cycles, LeakSanitizer found no leak, RSS %ld -> %ld kB", 2 * half, rss0,
                      rss1);
#else
    grew = steady_growth(h0, h1, h2);
    if (grew > 8LL * half) {
        hydra_conform_set(r, CONFORM_FAIL,
                          "heap in use grew by %lld then %lld bytes over two batches of %d create/destroy cycles (about %lld bytes leaked per cycle; RSS %ld -> %ld kB)",
                          h1 - h0, h2 - h1, half, grew / half, rss0, rss1);
        return;
    }
    hydra_conform_set(r, CONFORM_PASS, "%d cycles, heap in use %+lld then %+lld bytes, RSS %ld -> %ld kB", 2 * half,
                      h1 - h0, h2 - h1, rss0, rss1);
#endif
}

/*
 * One create with a damaged configuration. must_fail: accepting it is a
 * failure. Returns 0 when create behaved, -1 with r set otherwise.
 */
static int try_bad_create(conform_env *env, const hydra_bot_cfg *cfg, int must_fail, const char *what,
                          conform_result *r)
{
    hydra_bot *bot;
    int rc = bot_create(env, cfg, &bot);
    if (rc == 0 && bot != NULL && bot != OUT_SENTINEL) {
        bot_destroy(env, bot);
        if (must_fail) {
            hydra_conform_set(r, CONFORM_FAIL, "create accepted %s (it must refuse it with HYDRA_BOT_BAD_CONFIG)", what);
            return -1;
        }
        return 0;
    }
    if (rc == 0) {
        hydra_conform_set(r, CONFORM_FAIL, "create with %s returned 0 but no instance", what);
        return -1;
    }
    if (rc > 0) {
        hydra_conform_set(r, CONFORM_FAIL, "create with %s returned %d (failures are negative)", what, rc);
        return -1;
    }
    if (bot != NULL) {
        hydra_conform_set(r, CONFORM_FAIL,
                          "create with %s returned %d but left *out %s (a failed create must leave *out NULL)", what, rc,
                          bot == OUT_SENTINEL ? "untouched" : "pointing at an instance");
        return -1;
    }
    return 0;
}

static void check_bad_params(const conform_opts *o, conform_env *env, conform_result *r)
{
    hydra_bot_cfg *cfg = malloc(sizeof *cfg);
    char what[512];
    long long heaps[3] = {0, 0, 0};
    int i, n_typed = 0, n_missing_ok = 0;

    if (cfg == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory");
        return;
    }
    *cfg = o->cfg;
    snprintf(cfg->signal_mode, sizeof cfg->signal_mode, "conform_no_such_mode_v0");
    if (try_bad_create(env, cfg, 1, "an unknown signal.mode \"conform_no_such_mode_v0\"", r) != 0)
        goto fail;

    /* Each configured param that is not a string, replaced by text that is no number and no boolean. */
    for (i = 0; i < o->cfg.n_params; i++) {
        if (o->cfg.params[i].type == HYDRA_PARAM_STRING)
            continue;
        *cfg = o->cfg;
        cfg->params[i].type = HYDRA_PARAM_STRING;
        snprintf(cfg->params[i].s, sizeof cfg->params[i].s, "conform: not a number");
        snprintf(what, sizeof what, "signal.params.%s = \"conform: not a number\" (configured as %s)",
                 o->cfg.params[i].key, o->cfg.params[i].s);
        if (try_bad_create(env, cfg, 1, what, r) != 0)
            goto fail;
        n_typed++;
    }
    /* Each param missing: the bot may use its default or refuse, but cleanly. */
    for (i = 0; i < o->cfg.n_params; i++) {
        *cfg = o->cfg;
        cfg->params[i] = cfg->params[cfg->n_params - 1];
        cfg->n_params--;
        snprintf(what, sizeof what, "signal.params.%s missing", o->cfg.params[i].key);
        if (try_bad_create(env, cfg, 0, what, r) != 0)
            goto fail;
        n_missing_ok++;
    }
    *cfg = o->cfg;
    cfg->n_symbols = 0;
    if (try_bad_create(env, cfg, 0, "no symbols", r) != 0)
        goto fail;

    /* A refused create must not leak: repeat the refusal in two batches and watch the heap. */
    *cfg = o->cfg;
    snprintf(cfg->signal_mode, sizeof cfg->signal_mode, "conform_no_such_mode_v0");
    heaps[0] = heap_in_use();
    for (i = 0; i < 400; i++) {
        if (try_bad_create(env, cfg, 1, "an unknown signal.mode", r) != 0)
            goto fail;
        if (i == 199)
            heaps[1] = heap_in_use();
    }
    heaps[2] = heap_in_use();
    if (heaps[0] >= 0 && steady_growth(heaps[0], heaps[1], heaps[2]) > 8 * 200) {
        hydra_conform_set(r, CONFORM_FAIL,
                          "a refused create leaks: heap in use grew by %lld then %lld bytes over two batches of 200 refusals",
                          heaps[1] - heaps[0], heaps[2] - heaps[1]);
        goto fail;
    }
#if defined(CONFORM_LSAN)
    if (__lsan_do_recoverable_leak_check() != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "LeakSanitizer found leaks after refused creates");
        goto fail;
    }
#endif
    hydra_conform_set(r, CONFORM_PASS,
                      "unknown mode refused; %d wrongly typed param%s refused; %d missing param%s handled; no symbols handled",
                      n_typed, n_typed == 1 ? "" : "s", n_missing_ok, n_missing_ok == 1 ? "" : "s");

fail:
    free(cfg);
}

/* ---- snapshots out of the ordinary ----------------------------------------- */

static void check_empty(const conform_opts *o, conform_env *env, conform_result *r)
{
    hydra_symbol_view views[HYDRA_MAX_BOT_SYMBOLS];
    const hydra_symbol_view *ptrs[HYDRA_MAX_BOT_SYMBOLS];
    hydra_bar one_bar = {1709563200000LL, 100.0, 101.0, 99.0, 100.5, 1000.0};
    hydra_budget_view budget;
    hydra_snapshot snap;
    hydra_intent got[BUF_CAPACITY];
    uint32_t n_got;
    conform_buf buf;
    hydra_bot *bot = need_bot(o, env, r);
    int variant, phase, i, rep;
    static const char *const names[] = {"a snapshot with nothing in it", "symbols without prices or bars",
                                        "symbols with a price and one bar"};

    if (bot == NULL)
        return;
    if (conform_buf_open(&buf, BUF_CAPACITY, sizeof(hydra_intent)) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot map an intent buffer");
        goto fail;
    }
    memset(&budget, 0, sizeof budget);
    budget.struct_size = sizeof budget;
    budget.max_daily_loss = 1000.0;
    budget.max_open_risk = 5000.0;
    budget.trades_left_today = 3;
    budget.max_concurrent_positions = 1;
    for (variant = 0; variant < 3; variant++) {
        memset(&snap, 0, sizeof snap);
        snap.struct_size = sizeof snap;
        snap.tick = 1;
        snap.now_ms = 1709563260000LL;
        snap.local_date = 20240304;
        snap.local_minute = 6 * 60 + 41;
        snap.budget = &budget;
        if (variant > 0) {
            for (i = 0; i < o->cfg.n_symbols && i < HYDRA_MAX_BOT_SYMBOLS; i++) {
                memset(&views[i], 0, sizeof views[i]);
                views[i].struct_size = sizeof views[i];
                views[i].asset_class = strchr(o->cfg.symbols[i], '/') ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
                views[i].symbol = o->cfg.symbols[i];
                if (variant == 2) {
                    views[i].last_price = 100.5;
                    views[i].last_time_ms = snap.now_ms;
                    views[i].bars = &one_bar;
                    views[i].n_bars = 1;
                }
                ptrs[i] = &views[i];
            }
            snap.symbols = i > 0 ? ptrs : NULL;
            snap.n_symbols = (uint32_t)i;
        }
        for (rep = 0; rep < 3; rep++)
            for (phase = 0; phase < 2; phase++)
                if (call_once(o, env, bot, &snap, rep + 1, phase, 0, &buf, NULL, got, &n_got, names[variant], r) != 0)
                    goto fail;
    }
    hydra_conform_set(r, CONFORM_PASS, "manage and on_tick handled an empty snapshot, symbols without data and a single bar");

fail:
    conform_buf_close(&buf);
    bot_destroy(env, bot);
}

static void check_bad_prices(const conform_opts *o, conform_env *env, conform_result *r)
{
    static const struct {
        int fault;
        const char *name;
    } faults[] = {{TAPE_NAN, "NaN"}, {TAPE_INF, "+infinite"}, {TAPE_NEG_INF, "-infinite"},
                  {TAPE_ZERO, "zero"}, {TAPE_NEGATIVE, "negative"}};
    char what[64], negatives[256] = "";
    size_t k, used = 0;
    int n_intents = 0;

    for (k = 0; k < sizeof faults / sizeof faults[0]; k++) {
        run_log log;
        memset(&log, 0, sizeof log);
        snprintf(what, sizeof what, "%s prices", faults[k].name);
        if (run_tape(o, env, faults[k].fault, 200, DRIVE_ALLOW_NEGATIVE, &log, what, r) != 0) {
            log_free(&log);
            return;
        }
        n_intents += (int)log.n;
        if (log.n_negative > 0 && used < sizeof negatives)
            used += (size_t)snprintf(negatives + used, sizeof negatives - used, "%s%s: %d (first: %s)",
                                     used ? "; " : "", what, log.n_negative, log.first_negative);
        log_free(&log);
    }
    if (negatives[0] != '\0')
        hydra_conform_set(r, CONFORM_WARN, "no crash and no invalid intent, but negative returns quarantine the bot: %s",
                          negatives);
    else
        hydra_conform_set(r, CONFORM_PASS,
                          "NaN, +inf, -inf, zero and negative prices over 5 x 200 ticks: no invalid intent (%d valid)",
                          n_intents);
}

static void check_huge(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log log;
    memset(&log, 0, sizeof log);
    if (run_tape(o, env, TAPE_HUGE, 40, DRIVE_ALLOW_NEGATIVE, &log, "huge values", r) == 0)
        hydra_conform_set(r, log.n_negative ? CONFORM_WARN : CONFORM_PASS,
                          "prices near 1e300, volumes near DBL_MAX, 100000 bars, tick near 2^63, unlimited budget: %zu valid intents%s%s",
                          log.n, log.n_negative ? "; negative returns: " : "", log.first_negative);
    log_free(&log);
}

static void check_backwards(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log log;
    memset(&log, 0, sizeof log);
    if (run_tape(o, env, TAPE_BACKWARDS, 200, DRIVE_FILLS, &log, "time going backwards", r) == 0)
        hydra_conform_set(r, CONFORM_PASS, "the clock set back a day and bars stamped out of order: %zu valid intents",
                          log.n);
    log_free(&log);
}

static void check_duplicates(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log log;
    memset(&log, 0, sizeof log);
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS | DRIVE_DUPLICATE, &log, "duplicate ticks", r) == 0)
        hydra_conform_set(r, CONFORM_PASS, "every snapshot delivered twice got the same answer (%zu intents)", log.n);
    log_free(&log);
}

static void check_bounds(const conform_opts *o, conform_env *env, conform_result *r)
{
    static const struct {
        uint32_t capacity;
        uint32_t extra;
    } shapes[] = {{0, 0}, {1, 0}, {2, 64}, {1, 8}, {BUF_CAPACITY, 0}};
    conform_tape *t = conform_tape_new(&o->cfg, o->seed, 150, TAPE_NORMAL);
    char what[96];
    hydra_bot *bot = NULL;
    size_t k;
    int n_calls = 0;

    if (t == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory building the tape");
        return;
    }
    for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        bot = need_bot(o, env, r);
        if (bot == NULL)
            goto fail;
        conform_tape_rewind(t);
        snprintf(what, sizeof what, "capacity %u, item_size %zu", (unsigned)shapes[k].capacity,
                 sizeof(hydra_intent) + shapes[k].extra);
        if (drive(o, env, bot, t, 1, 150, DRIVE_FILLS | DRIVE_SLACK, shapes[k].capacity,
                  (uint32_t)(sizeof(hydra_intent) + shapes[k].extra), NULL, what, r) != 0)
            goto fail;
        n_calls += 300;
        bot_destroy(env, bot);
        bot = NULL;
    }
    hydra_conform_set(r, CONFORM_PASS,
                      "%d calls with capacities 0, 1, 2 and %d and item sizes %zu to %zu: nothing written past count",
                      n_calls, BUF_CAPACITY, sizeof(hydra_intent), sizeof(hydra_intent) + 64);

fail:
    bot_destroy(env, bot);
    conform_tape_free(t);
}

static void check_intents(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log log;
    memset(&log, 0, sizeof log);
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &log, "seeded tape", r) == 0) {
        if (log.n == 0)
            hydra_conform_set(r, CONFORM_WARN, "the %d-tick tape produced no intents, so none could be checked (mode %s)",
                              TAPE_TICKS, o->cfg.signal_mode);
        else
            hydra_conform_set(r, CONFORM_PASS, "%zu intents over %d ticks (%d entries, %d exits), all valid", log.n,
                              TAPE_TICKS, log.n_entries, log.n_exits);
    }
    log_free(&log);
}

static void check_deterministic(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &a, "first run", r) != 0 ||
        run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &b, "second run", r) != 0)
        goto fail;
    if (compare_logs(&a, &b, "two fresh instances on the same seeded tape", r) != 0)
        goto fail;
    hydra_conform_set(r, CONFORM_PASS, "two fresh instances gave the same %zu intents", a.n);

fail:
    log_free(&a);
    log_free(&b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void check_deadline(const conform_opts *o, conform_env *env, conform_result *r)
{
    run_log log;
    double median, p99;
    memset(&log, 0, sizeof log);
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &log, "timed run", r) != 0)
        goto fail;
    if (log.n_ns == 0) {
        hydra_conform_set(r, CONFORM_FAIL, "no call was timed");
        goto fail;
    }
    qsort(log.ns, log.n_ns, sizeof *log.ns, cmp_double);
    median = log.ns[log.n_ns / 2] / 1e6;
    p99 = log.ns[(size_t)((double)(log.n_ns - 1) * 0.99)] / 1e6;
    hydra_conform_set(r, median > o->budget_median_ms || p99 > o->budget_p99_ms ? CONFORM_WARN : CONFORM_PASS,
                      "%zu calls: median %.4f ms, p99 %.4f ms, max %.4f ms (budget %.3g ms median, %.3g ms p99)",
                      log.n_ns, median, p99, log.ns[log.n_ns - 1] / 1e6, o->budget_median_ms, o->budget_p99_ms);

fail:
    log_free(&log);
}

/*
 * ABI 1.1: the bot's working orders in its view. On every tick of the
 * seeded tape the view shows, besides the tape's own, a working limit
 * entry of the bot's on its first symbol (counted in positions_open, as
 * the host counts it, with one slot still free) and orders it did not
 * expect: a pending exit the host placed, an order on a symbol it never
 * declared, a client order id of 127 characters. The bot must tolerate
 * them, cancel only orders it can see (every intent is checked as
 * usual), and never add an entry on a symbol whose entry it sees working.
 */
#define ORDERS_EXTRA 3
#define ORDERS_MAX (ORDERS_EXTRA + 8)

static int entry_working(const hydra_snapshot *snap, const char *symbol, const char **cid)
{
    for (uint32_t k = 0; k < snap->n_orders; k++) {
        const hydra_order_view *v = snap->orders[k];
        if (v->kind == HYDRA_INTENT_ENTRY && v->side == HYDRA_SIDE_BUY && strcmp(v->symbol, symbol) == 0) {
            *cid = v->client_order_id;
            return 1;
        }
    }
    return 0;
}

static void check_orders(const conform_opts *o, conform_env *env, conform_result *r)
{
    conform_tape *t = conform_tape_new(&o->cfg, o->seed, TAPE_TICKS, TAPE_NORMAL);
    hydra_intent got[BUF_CAPACITY];
    hydra_order_view extra[ORDERS_EXTRA];
    const hydra_order_view *views[ORDERS_MAX];
    char own_cid[64], long_cid[128];
    hydra_budget_view budget;
    hydra_snapshot view;
    conform_buf buf;
    hydra_bot *bot = NULL;
    uint32_t n_got, i;
    int tick, phase, n_cancels = 0, n_entries = 0, have_buf = 0, sees_orders = 0;

    if (t == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory building the tape");
        return;
    }
    if (o->cfg.n_symbols < 1) {
        hydra_conform_set(r, CONFORM_SKIP, "the bot declares no symbol to hold an entry on");
        goto fail;
    }
    bot = need_bot(o, env, r);
    if (bot == NULL)
        goto fail;
    if (conform_buf_open(&buf, BUF_CAPACITY, sizeof(hydra_intent)) != 0) {
        hydra_conform_set(r, CONFORM_FAIL, "cannot map an intent buffer");
        goto fail;
    }
    have_buf = 1;
    /* A bot built against 1.0 cannot see orders: it is judged on tolerating them only. */
    sees_orders = env->plugin.entry->abi.minor >= 1;
    memset(long_cid, 'c', sizeof long_cid - 1);
    long_cid[sizeof long_cid - 1] = '\0';
    for (tick = 1; tick <= TAPE_TICKS; tick++) {
        const hydra_snapshot *snap = conform_tape_snapshot(t, tick);
        uint32_t n = 0;
        view = *snap;
        budget = *snap->budget;
        for (i = 0; i < snap->n_orders && n < ORDERS_MAX - ORDERS_EXTRA; i++)
            views[n++] = snap->orders[i];
        snprintf(own_cid, sizeof own_cid, "conform-working-entry-%d", tick);
        extra[0] = (hydra_order_view){sizeof(hydra_order_view), HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY,
                                      HYDRA_ORDER_LIMIT, strchr(o->cfg.symbols[0], '/') ? HYDRA_ASSET_CRYPTO
                                                                                         : HYDRA_ASSET_EQUITY,
                                      HYDRA_ORDER_VIEW_OPEN, own_cid, o->cfg.symbols[0], 1.0, 0.0, 1.0,
                                      view.now_ms - 60000};
        extra[1] = (hydra_order_view){sizeof(hydra_order_view), HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL,
                                      HYDRA_ORDER_MARKET, HYDRA_ASSET_EQUITY, HYDRA_ORDER_VIEW_PENDING,
                                      long_cid, "CONFORM.NEVER.DECLARED", 3.0, 1.0, 0.0, view.now_ms};
        extra[2] = (hydra_order_view){sizeof(hydra_order_view), HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY,
                                      HYDRA_ORDER_MARKET, HYDRA_ASSET_EQUITY, HYDRA_ORDER_VIEW_PENDING,
                                      "conform-notional-entry", "CONFORM.NEVER.DECLARED", 0.0, 0.0, 0.0,
                                      view.now_ms + 3600000};
        for (i = 0; i < ORDERS_EXTRA; i++)
            views[n++] = &extra[i];
        view.orders = views;
        view.n_orders = n;
        budget.positions_open += 1;
        if (budget.max_concurrent_positions <= budget.positions_open)
            budget.max_concurrent_positions = budget.positions_open + 1;
        if (budget.trades_left_today == 0)
            budget.trades_left_today = 1;
        view.budget = &budget;
        for (phase = 0; phase < 2; phase++) {
            if (call_once(o, env, bot, &view, tick, phase, 0, &buf, NULL, got, &n_got, "orders in view", r) != 0)
                goto fail;
            for (i = 0; i < n_got; i++) {
                const char *cid = NULL;
                if (got[i].kind == HYDRA_INTENT_CANCEL)
                    n_cancels++;
                if (got[i].kind != HYDRA_INTENT_ENTRY)
                    continue;
                n_entries++;
                if (sees_orders && entry_working(&view, got[i].symbol, &cid)) {
                    char where[320];
                    snapshot_case("orders in view", tick, &view, where, sizeof where);
                    hydra_conform_set(r, CONFORM_FAIL,
                                      "orders in view, tick %d, %s: an entry for %s while its entry %.60s is "
                                      "working in the snapshot (stacked entries)",
                                      tick, phase_name(phase), got[i].symbol, cid);
                    snprintf(r->cause, sizeof r->cause, "%s: stacks an entry on a working entry",
                             phase_name(phase));
                    snprintf(r->where, sizeof r->where, "%s, %.290s", phase_name(phase), where);
                    goto fail;
                }
            }
        }
    }
    hydra_conform_set(r, CONFORM_PASS,
                      "%d ticks with its working entry, a host exit, an order on an undeclared symbol and a "
                      "127-character id in view: %s (%d entries), %d cancels, all of orders it could see",
                      TAPE_TICKS,
                      sees_orders ? "no stacked entry" : "tolerated (an ABI 1.0 bot sees no orders, so stacking is not judged)",
                      n_entries, n_cancels);

fail:
    if (have_buf)
        conform_buf_close(&buf);
    bot_destroy(env, bot);
    conform_tape_free(t);
}

static void check_state(const conform_opts *o, conform_env *env, conform_result *r)
{
    conform_tape *t = conform_tape_new(&o->cfg, o->seed, TAPE_TICKS, TAPE_NORMAL);
    run_log whole, again, split;
    hydra_bot *bot = NULL;
    int half = TAPE_TICKS / 2, sets;

    memset(&whole, 0, sizeof whole);
    memset(&again, 0, sizeof again);
    memset(&split, 0, sizeof split);
    if (t == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory building the tape");
        return;
    }
    /* An uninterrupted run, twice, each with an empty store: the reference, if it is reproducible at all. */
    env->n_kv = 0;
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &whole, "uninterrupted run", r) != 0)
        goto fail;
    env->n_kv = 0;
    if (run_tape(o, env, TAPE_NORMAL, TAPE_TICKS, DRIVE_FILLS, &again, "uninterrupted run", r) != 0)
        goto fail;
    if (compare_logs(&whole, &again, "", r) != 0) {
        hydra_conform_set(r, CONFORM_SKIP, "two uninterrupted runs differ, so a restart cannot be judged (see deterministic-intents)");
        goto fail;
    }
    /* The same tape with the bot destroyed and created again half way, the store kept as the host keeps SQLite. */
    env->n_kv = 0;
    env->n_state_set = 0;
    bot = need_bot(o, env, r);
    if (bot == NULL || drive(o, env, bot, t, 1, half, DRIVE_FILLS, BUF_CAPACITY, sizeof(hydra_intent), &split,
                             "before the restart", r) != 0)
        goto fail;
    bot_destroy(env, bot);
    bot = need_bot(o, env, r);
    if (bot == NULL || drive(o, env, bot, t, half + 1, TAPE_TICKS, DRIVE_FILLS, BUF_CAPACITY,
                             sizeof(hydra_intent), &split, "after the restart", r) != 0)
        goto fail;
    sets = env->n_state_set;
    if (compare_logs(&whole, &split, "destroy and create at tick 150 (store kept) vs an uninterrupted run", r) != 0) {
        size_t len = strlen(r->message);
        snprintf(r->message + len, sizeof r->message - len,
                 "; %d state_set call%s: what the bot needs after a restart must go through state_set/state_get",
                 sets, sets == 1 ? "" : "s");
        goto fail;
    }
    hydra_conform_set(r, CONFORM_PASS, "a restart at tick %d (store kept, %d key%s, %d state_set call%s) changed none of %zu intents",
                      half, env->n_kv, env->n_kv == 1 ? "" : "s", sets, sets == 1 ? "" : "s", whole.n);

fail:
    bot_destroy(env, bot);
    conform_tape_free(t);
    log_free(&whole);
    log_free(&again);
    log_free(&split);
}

/* ---- picking a mode -------------------------------------------------------- */

void hydra_conform_default_symbols(hydra_bot_cfg *cfg, uint32_t asset_classes)
{
    cfg->n_symbols = 0;
    cfg->asset_class = 0;
    /* One symbol per asset class the plugin declares; an option bot gets an underlying. */
    if (asset_classes & HYDRA_ASSET_EQUITY) {
        snprintf(cfg->symbols[cfg->n_symbols++], HYDRA_SYMBOL_LEN, "AAPL");
        cfg->asset_class |= HYDRA_ASSET_EQUITY;
    }
    if (asset_classes & HYDRA_ASSET_CRYPTO) {
        snprintf(cfg->symbols[cfg->n_symbols++], HYDRA_SYMBOL_LEN, "BTC/USD");
        cfg->asset_class |= HYDRA_ASSET_CRYPTO;
    }
    if (asset_classes & HYDRA_ASSET_OPTION) {
        snprintf(cfg->symbols[cfg->n_symbols++], HYDRA_SYMBOL_LEN, "SPY");
        cfg->asset_class |= HYDRA_ASSET_OPTION;
    }
}

static void probe_mode(const conform_opts *o, conform_env *env, conform_result *r)
{
    /* The shipped bots' signals first, then their placeholders, then the name's own _v1. */
    static const char *const known[] = {"roc_trend_v1", "momentum_option_v1", "crypto_roc_v1", "template_v1",
                                        "placeholder_momentum_v1", "placeholder_crypto_momo_v1"};
    const size_t n_known = sizeof known / sizeof known[0];
    hydra_bot_cfg *cfg = malloc(sizeof *cfg);
    hydra_bot *bot;
    size_t i;

    if (cfg == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory");
        return;
    }
    *cfg = o->cfg;
    hydra_conform_default_symbols(cfg, env->plugin.entry->asset_classes);
    for (i = 0; i <= n_known; i++) {
        if (o->cfg.signal_mode[0] != '\0') {
            if (i > 0)
                break; /* the mode was named: try only that one */
        } else if (i < n_known) {
            snprintf(cfg->signal_mode, sizeof cfg->signal_mode, "%s", known[i]);
        } else {
            snprintf(cfg->signal_mode, sizeof cfg->signal_mode, "%.56s_v1", env->plugin.entry->name);
        }
        if (bot_create(env, cfg, &bot) == 0 && bot != NULL && bot != OUT_SENTINEL) {
            bot_destroy(env, bot);
            hydra_conform_set(r, CONFORM_PASS, "%u %s", (unsigned)env->plugin.entry->asset_classes,
                              cfg->signal_mode);
            free(cfg);
            return;
        }
    }
    hydra_conform_set(r, CONFORM_FAIL, "create refused %s; name a mode with --mode or give --params (last log: %s)",
                      o->cfg.signal_mode[0] ? o->cfg.signal_mode : "every known mode",
                      env->last_log[0] ? env->last_log : "none");
    free(cfg);
}

const conform_check hydra_conform_probe = {"probe-mode", "pick a signal mode the plugin accepts", 1, 0, probe_mode};

/* ---- the table ------------------------------------------------------------- */

const conform_check hydra_conform_checks[] = {
    {"abi-version", "the entry's ABI version is compatible with this host (same major)", 0, 0, check_abi},
    {"exports-only-entry", "the ELF .dynsym exports hydra_plugin_entry and nothing else", 0, 0,
     hydra_conform_check_exports},
    {"descriptor-sane", "struct_size, name, version, description and asset classes are present and sane", 0, 0,
     check_descriptor},
    {"required-callbacks", "create, destroy, manage and on_tick are set and point into the plugin", 0, 0,
     check_callbacks},
    {"create-valid-config", "create succeeds with the configuration and destroy releases it", 1, 0, check_create},
    {"create-destroy-repeat", "1,000 create/destroy cycles leak nothing (heap in use, or LeakSanitizer)", 1, 0,
     check_repeat},
    {"create-bad-params", "unknown mode and wrongly typed params are refused cleanly; missing ones handled", 1, 0,
     check_bad_params},
    {"empty-snapshot", "no symbols, symbols without data, a single bar: no crash, no invalid intent", 1, 0,
     check_empty},
    {"bad-prices", "NaN, infinite, zero and negative prices: no crash, no invalid intent", 1, 1, check_bad_prices},
    {"huge-values", "prices near 1e300, huge volumes, budget, tick and history: no invalid intent", 1, 1,
     check_huge},
    {"time-goes-backwards", "the clock set back a day and bars out of order: no crash, hang or invalid intent", 1,
     1, check_backwards},
    {"duplicate-ticks", "the same snapshot delivered twice gets the same answer", 1, 1, check_duplicates},
    {"intent-buffer-bounds", "nothing written past count or capacity (guard page after the buffer)", 1, 1,
     check_bounds},
    {"intents-valid", "every intent over the seeded tape is valid (symbol, side, type, finite positive size)", 1,
     1, check_intents},
    {"deterministic-intents", "two fresh instances on the same seeded tape give the same intents", 1, 1,
     check_deterministic},
    {"call-deadline", "manage and on_tick median and p99 call time within budget (WARN over)", 1, 1,
     check_deadline},
    {"orders-in-view", "ABI 1.1: working orders it did not expect are tolerated, only orders in view are cancelled, and no entry is stacked on a working one", 1, 1,
     check_orders},
    {"state-survives-restart", "destroy and create mid-tape with the state store kept changes no intent", 1, 1,
     check_state},
};

const size_t hydra_conform_n_checks = sizeof hydra_conform_checks / sizeof hydra_conform_checks[0];

int hydra_conform_asks_lsan(const conform_check *c)
{
#if defined(CONFORM_LSAN)
    return c->run == check_repeat || c->run == check_bad_params;
#else
    (void)c;
    return 0;
#endif
}

void hydra_conform_run_check(const conform_check *c, const conform_opts *o, conform_result *r)
{
    char err[1024];
    conform_env *env = calloc(1, sizeof *env);

    memset(r, 0, sizeof *r);
    if (env == NULL || (env->kv = calloc(KV_MAX, sizeof *env->kv)) == NULL) {
        hydra_conform_set(r, CONFORM_FAIL, "out of memory");
        goto fail;
    }
    env->svc.log = svc_log;
    env->svc.kv_get = svc_get;
    env->svc.kv_set = svc_set;
    env->svc.option_chain = svc_chain;
    env->svc.ctx = env;
    if (c->loads_plugin && hydra_plugin_open(o->path, &env->plugin, err, sizeof err) != 0) {
        hydra_conform_set(r, CONFORM_SKIP, "the host's loader refuses the plugin: %s", err);
        goto fail;
    }
    /* The descriptor the loader hands out is its own copy; create is code in the plugin. */
    if (c->loads_plugin)
        hydra_conform_probe_catch_faults((const void *)(uintptr_t)env->plugin.entry->create);
    c->run(o, env, r);

fail:
    if (env != NULL) {
        hydra_plugin_close(&env->plugin);
        free(env->host.chain);
        free(env->kv);
        free(env);
    }
}
