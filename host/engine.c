/*
 * The engine's lifecycle: open (lock, state, log, broker, bots, reconcile),
 * reload on SIGHUP, close. The tick itself is in loop.c.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alpaca.h"
#include "error.h"
#include "http.h"
#include "metrics.h"
#include "notify.h"
#include "orders.h"
#include "series.h"

/*
 * The slot whose quotas a bot service call counts against: the bot whose
 * code the engine is running (e->svc_slot, set around every call into a
 * bot, so the lookup is O(1)), else the slot with that id. The id is the
 * host's own (the loader's or the worker peer's), never the bot's claim.
 */
static hydra_bot_slot *service_slot(hydra_engine *e, const char *bot_id)
{
    hydra_bot_slot *s = e->svc_slot;
    if (bot_id == NULL)
        return NULL;
    if (s != NULL && s->cfg != NULL &&
        (s->cfg->bot_id == bot_id || strcmp(s->cfg->bot_id, bot_id) == 0))
        return s;
    for (int i = 0; i < e->n_slots; i++)
        if (strcmp(e->slots[i].cfg->bot_id, bot_id) == 0)
            return &e->slots[i];
    return NULL;
}

/* Longest bot event name kept; the name is the bot's, so it is only ever a field's value. */
#define BOT_EVENT_MAX 64

/* Length of the valid UTF-8 sequence at p (at most `left` bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    unsigned c = p[0], min;
    size_t n;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return n;
}

/*
 * The first len bytes of s as valid UTF-8 in out (len + 1 bytes), every
 * byte that is not part of a valid sequence replaced by '?': a JSON string
 * must be valid UTF-8, and a bot's bytes are not trusted to be.
 */
static void utf8_clean(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
}

/*
 * A bot's log line. It is always event "bot_log" with the bot's own event
 * name in "bot_event", so no bot line can pass for one of the host's
 * (system_halt, halt_cleared, ...); the log escapes every string, so a
 * message cannot add fields or lines. Lines past the bot's quota for this
 * tick are dropped and counted (hydra_loop_quota_tick reports them).
 */
static void svc_log(void *ctx, const char *bot_id, int level, const char *event, const char *message)
{
    hydra_engine *e = ctx;
    const hydra_quotas_cfg *q = &e->cfg->settings.quotas;
    hydra_bot_slot *slot = service_slot(e, bot_id);
    if (slot == NULL)
        return; /* no bot of ours: nothing to charge, so nothing is written */
    event = event != NULL ? event : "";
    message = message != NULL ? message : "";
    /* A bot refusing its configuration says why here; start-up shows it in its own words. */
    if (slot == e->creating && level >= HYDRA_LOG_WARN && message[0] != '\0')
        utf8_clean(message, strnlen(message, sizeof e->create_said - 1), e->create_said);
    size_t elen = strnlen(event, BOT_EVENT_MAX), mlen = strlen(message);
    if (!hydra_log_quota_admit(&slot->logq, elen + mlen, q->log_lines_per_tick,
                               q->log_bytes_per_tick))
        return;
    char ev[BOT_EVENT_MAX + 1];
    char *msg = malloc(mlen + 1);
    if (msg == NULL)
        return;
    utf8_clean(event, elen, ev);
    utf8_clean(message, mlen, msg);
    hydra_log_pack(e->log, level, "bot_log", slot->cfg->bot_id, "{s:s,s:s}", "bot_event", ev,
                   "message", msg);
    free(msg);
}

static int svc_kv_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    hydra_engine *e = ctx;
    return hydra_bot_kv_get(e->state, bot_id, key, buf, bufsz);
}

/*
 * A bot's state write, within its quota of keys and bytes. The usage is
 * read from the database once and then kept in the slot, so a write costs
 * one indexed lookup (the entry it replaces) besides the write itself.
 */
static int svc_kv_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    hydra_engine *e = ctx;
    const hydra_quotas_cfg *q = &e->cfg->settings.quotas;
    if (key == NULL || value == NULL || key[0] == '\0')
        return HYDRA_BOT_ERROR;
    size_t klen = strlen(key), vlen = strlen(value);
    /* The loader checks these in-process; a worker's request is checked again here. */
    if (klen > HYDRA_BOT_STATE_KEY_MAX || vlen > HYDRA_BOT_STATE_VALUE_MAX)
        return HYDRA_PARAM_SPACE;
    hydra_bot_slot *slot = service_slot(e, bot_id);
    if (slot == NULL)
        return HYDRA_BOT_ERROR;
    if (!slot->kv.known) {
        if (hydra_bot_kv_usage(e->state, slot->cfg->bot_id, &slot->kv.keys, &slot->kv.bytes) != 0)
            return HYDRA_BOT_ERROR;
        slot->kv.known = 1;
    }
    long old = -1;
    int rc = hydra_bot_kv_size(e->state, slot->cfg->bot_id, key, &old);
    if (rc == HYDRA_ENOTFOUND)
        old = -1;
    else if (rc != 0)
        return HYDRA_BOT_ERROR;
    if (!hydra_kv_quota_fits(&slot->kv, klen, vlen, old, q->state_max_keys, q->state_max_bytes)) {
        /* One line per bot and tick says so; every refusal is counted. */
        if (slot->kv.refused_tick != e->tick || slot->kv.refused == 0)
            hydra_log_pack(e->log, HYDRA_LOG_WARN, "bot_state_refused", slot->cfg->bot_id,
                           "{s:I,s:I,s:i,s:i,s:I,s:s}", "keys", (json_int_t)slot->kv.keys,
                           "bytes", (json_int_t)slot->kv.bytes, "max_keys", q->state_max_keys,
                           "max_bytes", q->state_max_bytes, "refused_total",
                           (json_int_t)(slot->kv.refused + 1), "effect",
                           "state_set returned HYDRA_STATE_QUOTA; nothing stored");
        slot->kv.refused++;
        slot->kv.refused_tick = e->tick;
        return HYDRA_STATE_QUOTA;
    }
    rc = hydra_bot_kv_set(e->state, slot->cfg->bot_id, key, value);
    if (rc == 0)
        hydra_kv_quota_commit(&slot->kv, klen, vlen, old);
    return rc;
}

/* One hydra-host per state database: an exclusive lock on "<db>.lock", holding our PID. */
static int take_lock(hydra_engine *e, char *err, size_t errsz)
{
    char path[HYDRA_PATH_LEN + 8];
    snprintf(path, sizeof path, "%s.lock", e->cfg->settings.state_db_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "%s: cannot open lock file: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errsz, "%s: another hydra-host (pid %s) is running with this state", path,
                 pid[0] ? pid : "unknown");
        close(fd);
        return HYDRA_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(err, errsz, "%s: cannot write lock file: %s", path, strerror(errno));
        close(fd);
        return HYDRA_EIO;
    }
    e->lock_fd = fd;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    e->started_wall_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    return 0;
}

int hydra_engine_open_sim(const hydra_sim_cfg *sc, hydra_clock *clock, hydra_sim **out, char *err,
                          size_t errsz)
{
    hydra_series *series = calloc((size_t)(sc->n_series > 0 ? sc->n_series : 1), sizeof *series);
    if (series == NULL)
        return HYDRA_ENOMEM;
    int rc = 0, n = 0;
    /* Daily bars are stamped at the session close: a day's close is not known before. */
    int close_min = 0;
    hydra_parse_hhmm(sc->session_close, &close_min);
    for (; n < sc->n_series; n++) {
        const hydra_sim_series_cfg *s = &sc->series[n];
        if (s->generated) {
            /* Generated bars span the replay's first 60 days, one bar per bar_seconds. */
            int64_t t0 = 0;
            int y, mo, d, h, mi;
            if (sscanf(sc->start, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5)
                t0 = hydra_utc_from_local(y, mo, d, 0, 0, 0);
            size_t bars = (size_t)(60LL * 86400 / sc->bar_seconds);
            rc = hydra_series_generate(s->symbol, s->seed, s->start_price, s->drift_pct_per_day,
                                       s->vol_pct_per_day, t0, (int64_t)sc->bar_seconds * 1000,
                                       bars, &series[n]);
            if (rc != 0)
                snprintf(err, errsz, "sim.series[%d] %s: cannot generate: %s", n, s->symbol,
                         hydra_strerror(rc));
        } else {
            rc = hydra_series_load_csv(s->file, s->symbol, s->timezone, close_min, &series[n], err,
                                       errsz);
        }
        if (rc != 0)
            goto fail;
    }
    rc = hydra_sim_open(sc, series, (size_t)n, clock, out, err, errsz);
    if (rc != 0)
        goto fail_owned; /* hydra_sim_open takes ownership of the series even when it fails */
    free(series);
    return 0;
fail:
    for (int i = 0; i < n; i++)
        hydra_series_free(&series[i]);
fail_owned:
    free(series);
    return rc;
}

int hydra_engine_adopt_broker_clock(hydra_engine *e)
{
    hydra_market_clock mc;
    hydra_broker_err err = {0};
    int rc = e->broker.ops->clock(e->broker.ctx, &mc, &err);
    if (rc != 0) {
        if (e->log != NULL)
            hydra_engine_broker_failure(e, "clock", &err);
        return rc;
    }
    /* Time never runs backwards inside the engine, whatever the broker says. */
    if (mc.now_ms < hydra_clock_now_ms(&e->clock))
        return 0;
    hydra_clock_set(&e->clock, mc.now_ms);
    return 0;
}

static int cmp_rank(const void *a, const void *b)
{
    const hydra_bot_slot *x = a, *y = b;
    if (x->cfg->rank != y->cfg->rank)
        return y->cfg->rank - x->cfg->rank;
    return strcmp(x->cfg->bot_id, y->cfg->bot_id);
}

static void unload_bots(hydra_engine *e)
{
    for (int i = 0; i < e->n_slots; i++) {
        if (e->slots[i].run != NULL)
            hydra_runner_unload(e->slots[i].run);
        free(e->slots[i].run);
    }
    free(e->slots);
    e->slots = NULL;
    e->n_slots = 0;
}

/* Where a bot runs: its own setting, unless the engine runs everything in-process. */
static int runs_in_process(const hydra_engine *e, const hydra_bot_cfg *b)
{
    return e->opt.force_inprocess || !b->isolation_process;
}

/* The plugin file's identity, to tell on reload whether it was replaced. */
static void stat_plugin(hydra_engine *e, hydra_bot_slot *slot)
{
    char path[HYDRA_PATH_LEN];
    struct stat st;
    slot->so_dev = slot->so_ino = slot->so_size = 0;
    slot->so_mtime_ns = 0;
    if (hydra_plugin_path(e->opt.plugins_dir, slot->cfg->plugin, path, sizeof path) != 0 ||
        stat(path, &st) != 0)
        return;
    slot->so_dev = (unsigned long long)st.st_dev;
    slot->so_ino = (unsigned long long)st.st_ino;
    slot->so_size = (unsigned long long)st.st_size;
    slot->so_mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static void log_loaded(hydra_engine *e, hydra_bot_slot *slot, const char *event)
{
    const hydra_bot_runner *r = slot->run;
    /* A worker that is running passed every layer it was asked for; say which. */
    json_t *sandbox = r->process ? json_pack("{s:b,s:s,s:s}", "namespaces", e->limits.namespaces,
                                             "landlock", r->worker.seccomp_note, "seccomp",
                                             "allow-list")
                                 : json_pack("{s:s}", "trust", "as much as hydra-host itself");
    hydra_log_pack(e->log, HYDRA_LOG_INFO, event, slot->cfg->bot_id,
                   "{s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:o}", "plugin", r->path, "name",
                   hydra_runner_name(r), "version", hydra_runner_version(r), "mode",
                   slot->cfg->signal_mode, "rank", slot->cfg->rank, "isolation",
                   r->process ? "process" : "inprocess", "pid",
                   r->process ? (int)r->worker.pid : (int)getpid(), "sandbox", sandbox);
}

/* Loads one bot where its configuration says, remembering which plugin file it came from. */
static int load_slot(hydra_engine *e, hydra_bot_slot *slot, char *err, size_t errsz)
{
    hydra_worker_peer peer = {&e->svc, slot->cfg->bot_id};
    stat_plugin(e, slot);
    e->svc_slot = slot; /* create() may log and write state */
    e->creating = slot;
    e->create_said[0] = '\0';
    int rc = hydra_runner_load(slot->run, !runs_in_process(e, slot->cfg), &e->limits,
                               e->opt.plugins_dir, slot->cfg, &peer, err, errsz);
    e->svc_slot = NULL;
    e->creating = NULL;
    /*
     * The loader only knows create returned an error status; a bot that said
     * why (bot_config_error) is reported in its own words, with the plugin.
     */
    if (rc != 0 && e->create_said[0] != '\0')
        snprintf(err, errsz, "bot %s (%s) refused its configuration: %s", slot->cfg->bot_id,
                 slot->run->path[0] ? slot->run->path : slot->cfg->plugin, e->create_said);
    return rc;
}

/*
 * The snapshot holds HYDRA_MARKET_MAX_SYMBOLS symbols: the enabled bots'
 * symbols plus every option contract an options bot may hold. A set of bots
 * that could outgrow it is refused at start, not discovered mid-session.
 */
static int check_snapshot_room(const hydra_config *cfg, char *err, size_t errsz)
{
    const char *seen[HYDRA_MAX_BOTS * HYDRA_MAX_BOT_SYMBOLS];
    size_t n = 0, contracts = 0;
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (!b->enabled)
            continue;
        if (b->asset_class == HYDRA_ASSET_OPTION)
            contracts += (size_t)b->max_concurrent_positions;
        for (int k = 0; k < b->n_symbols; k++) {
            size_t j = 0;
            while (j < n && strcmp(seen[j], b->symbols[k]) != 0)
                j++;
            if (j == n)
                seen[n++] = b->symbols[k];
        }
    }
    if (n + contracts > HYDRA_MARKET_MAX_SYMBOLS) {
        snprintf(err, errsz,
                 "bots.yaml: the enabled bots need %zu symbols (%zu declared, %zu option "
                 "contracts they may hold); a snapshot holds at most %d",
                 n + contracts, n, contracts, HYDRA_MARKET_MAX_SYMBOLS);
        return HYDRA_ECONFIG;
    }
    return 0;
}

/* Every configured bot gets a slot (its positions stay under host exits); enabled ones load. */
static int load_bots(hydra_engine *e, char *err, size_t errsz, json_t *failures)
{
    e->slots = calloc((size_t)(e->cfg->n_bots > 0 ? e->cfg->n_bots : 1), sizeof *e->slots);
    if (e->slots == NULL)
        return HYDRA_ENOMEM;
    e->n_slots = e->cfg->n_bots;
    for (int i = 0; i < e->n_slots; i++) {
        e->slots[i].cfg = &e->cfg->bots[i];
        e->slots[i].backoff_ms = e->cfg->settings.workers.restart_backoff_ms;
    }
    /* Runners live apart from the slots so a hot swap can move them between slot arrays. */
    for (int i = 0; i < e->n_slots; i++) {
        e->slots[i].run = calloc(1, sizeof *e->slots[i].run);
        if (e->slots[i].run == NULL) {
            unload_bots(e);
            return HYDRA_ENOMEM;
        }
        e->slots[i].run->worker.fd = -1;
    }
    qsort(e->slots, (size_t)e->n_slots, sizeof *e->slots, cmp_rank);
    /* Every bot is tried, so one start names every bot that cannot load, each with its reason. */
    int failed = 0;
    size_t used = 0;
    err[0] = '\0';
    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *slot = &e->slots[i];
        char why[1024] = "";
        if (!slot->cfg->enabled)
            continue;
        int rc = load_slot(e, slot, why, sizeof why);
        if (rc != 0) {
            const char *id = slot->cfg->bot_id;
            size_t idlen = strlen(id);
            /* Messages that already name the bot ("bot X: ...") are kept as they are. */
            int named = strncmp(why, "bot ", 4) == 0 && strncmp(why + 4, id, idlen) == 0;
            int n = snprintf(err + used, used < errsz ? errsz - used : 0, "%s%s%s%s%s",
                             failed ? "; " : "", named ? "" : "bot ", named ? "" : id,
                             named ? "" : ": ", why);
            if (n > 0)
                used = used + (size_t)n < errsz ? used + (size_t)n : errsz - 1;
            json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "bot_id", id, "plugin",
                                                      slot->cfg->plugin, "reason", why));
            failed = failed ? failed : rc;
            continue;
        }
        slot->loaded = 1;
        hydra_bot_day day;
        if (e->day[0] && hydra_bot_day_get(e->state, slot->cfg->bot_id, e->day, &day) == 0 &&
            day.quarantined) {
            slot->quarantined = 1;
            snprintf(slot->quarantine_reason, sizeof slot->quarantine_reason, "%s",
                     day.quarantine_reason);
        }
        log_loaded(e, slot, "bot_loaded");
    }
    if (failed != 0) {
        unload_bots(e);
        return failed;
    }
    return 0;
}

/*
 * Worker limits from settings. The call deadline defaults to a quarter of
 * the tick interval so a hung bot cannot make the host miss its cadence, but
 * never below 100 ms, which an honest bot does not come near.
 */
static void set_limits(hydra_engine *e)
{
    const hydra_workers_cfg *w = &e->cfg->settings.workers;
    hydra_sandbox_limits *l = &e->limits;
    memset(l, 0, sizeof *l);
    hydra_worker_locate(w->worker_path, l->worker_path, sizeof l->worker_path);
    l->start_deadline_ms = w->start_deadline_ms;
    l->address_space_mb = w->address_space_mb;
    l->cpu_seconds = w->cpu_seconds;
    l->max_open_files = w->max_open_files;
    /* Checked once: the machine does not change its kernel while the host runs. */
    if (!e->sandbox_checked) {
        e->sandbox_checked = 1;
        e->sandbox_rc = hydra_sandbox_configure(l, w, &l->landlock_abi, e->sandbox_why,
                                                sizeof e->sandbox_why);
        e->sandbox = *l;
    } else {
        l->namespaces = e->sandbox.namespaces;
        l->landlock_optional = w->unsafe_allow_missing_landlock;
        l->landlock_abi = e->sandbox.landlock_abi;
        l->drop_to_uid = e->sandbox.drop_to_uid;
        l->uid = e->sandbox.uid;
        l->gid = e->sandbox.gid;
    }
    if (e->sandbox_rc != 0)
        snprintf(l->refused, sizeof l->refused, "%s", e->sandbox_why);
    int interval_ms = e->opt.interval_ms >= 0 ? e->opt.interval_ms
                      : e->cfg->settings.broker[0] == 's'
                          ? e->cfg->settings.sim.tick_interval_ms
                          : e->cfg->settings.loop_interval_seconds * 1000;
    e->call_deadline_ms = w->call_deadline_ms > 0 ? w->call_deadline_ms
                          : interval_ms / 4 > 100 ? interval_ms / 4
                                                  : 100;
}

static void log_start(hydra_engine *e)
{
    json_t *series = json_array();
    if (e->sim != NULL) {
        size_t n = 0;
        const hydra_series *s = hydra_sim_series(e->sim, &n);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(series, json_pack("{s:s,s:s,s:b,s:I}", "symbol", s[i].symbol,
                                                    "source", s[i].source, "generated",
                                                    s[i].generated, "bars", (json_int_t)s[i].n));
    }
    /* Kept in state too, so `hydra-host status` says where every price comes from. */
    char *series_s = json_dumps(series, JSON_COMPACT);
    if (series_s != NULL)
        hydra_kv_set(e->state, "series", series_s);
    free(series_s);
    char now_s[32];
    hydra_format_utc(hydra_clock_now_ms(&e->clock), now_s, sizeof now_s);
    /* What a worker is confined by on this machine, and which bots run without it. */
    const hydra_sandbox_limits *l = &e->limits;
    json_t *trusted = json_array();
    for (int i = 0; i < e->n_slots; i++) {
        if (e->slots[i].cfg->enabled && runs_in_process(e, e->slots[i].cfg))
            json_array_append_new(trusted, json_string(e->slots[i].cfg->bot_id));
    }
    json_t *sandbox = json_pack(
        "{s:b,s:i,s:s,s:s,s:o,s:s}", "namespaces", l->namespaces, "landlock_abi",
        l->landlock_abi, "seccomp", "allow-list", "worker_user",
        l->drop_to_uid ? e->cfg->settings.workers.user : "the host's own user", "inprocess_bots",
        trusted, "inprocess_means",
        "trusted as much as the host: no sandbox, its code runs inside hydra-host");
    hydra_log_pack(e->log, HYDRA_LOG_INFO, "host_start", NULL,
                   "{s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:o}", "version", HYDRA_VERSION, "config",
                   e->opt.config_dir, "plugins", e->opt.plugins_dir, "broker",
                   e->cfg->settings.broker, "timezone", e->cfg->settings.timezone, "bots",
                   e->n_slots, "series", series, "clock", now_s, "sandbox", sandbox);
}

/*
 * A start that fails says why in the log as well as on stderr: the whole
 * message and each bot that could not load with its own reason. The log
 * is opened for the purpose when the failure came before it was; with a
 * configuration that does not load there is no log path to trust, and
 * stderr alone carries it.
 */
static void log_start_failed(hydra_engine *e, int config_loaded, const char *err, int exit_code,
                             json_t *failed_bots)
{
    hydra_log *lg = e->log;
    char why[HYDRA_PATH_LEN + 128] = "";
    if (lg == NULL && config_loaded &&
        hydra_log_open(e->cfg->settings.log_path, e->cfg->settings.log_keep_files, &lg, why,
                       sizeof why) != 0)
        return;
    if (lg == NULL)
        return;
    hydra_log_pack(lg, HYDRA_LOG_ERROR, "host_start_failed", NULL, "{s:s,s:i,s:O,s:s,s:i}",
                   "reason", err, "exit_code", exit_code, "bots", failed_bots, "config",
                   e->opt.config_dir, "pid", (int)getpid());
    if (lg != e->log)
        hydra_log_close(lg);
}

int hydra_engine_open(hydra_engine *e, const hydra_engine_options *opt, char *err, size_t errsz,
                      int *exit_code)
{
    memset(e, 0, sizeof *e);
    e->opt = *opt;
    e->lock_fd = -1;
    *exit_code = 2;
    int rc, config_loaded = 0;
    json_t *failed_bots = json_array(); /* every bot that could not load, with its reason */

    e->cfg = calloc(1, sizeof *e->cfg);
    if (e->cfg == NULL) {
        json_decref(failed_bots);
        return HYDRA_ENOMEM;
    }
    rc = hydra_config_load_msg(opt->config_dir, e->cfg, err, errsz);
    if (rc != 0)
        goto fail;
    config_loaded = 1;
    hydra_tz_set(e->cfg->settings.timezone);
    hydra_credentials_load(".env", &e->creds, stderr);

    const hydra_settings *st = &e->cfg->settings;
    int use_alpaca = strcmp(st->broker, "alpaca") == 0;
    hydra_alpaca_cfg alpaca_cfg;
    if (use_alpaca) {
        /* Paper or live is decided before anything connects; a refusal names what is missing. */
        int live = 0;
        rc = hydra_alpaca_resolve_mode(&st->alpaca, &e->creds, opt->live, st->allow_live,
                                       &alpaca_cfg, &live, err, errsz);
        if (rc != 0)
            goto fail;
    } else if (strcmp(st->broker, "sim") != 0) {
        snprintf(err, errsz, "settings.yaml: broker: \"%s\" is not a broker; use sim or alpaca",
                 st->broker);
        rc = HYDRA_ECONFIG;
        goto fail;
    } else if (opt->live) {
        snprintf(err, errsz, "--live needs broker: alpaca (settings.yaml has broker: sim)");
        rc = HYDRA_ECONFIG;
        goto fail;
    }

    *exit_code = 1;
    if (!opt->tools_only && (rc = take_lock(e, err, errsz)) != 0)
        goto fail;
    rc = hydra_state_open(st->state_db_path, &e->state, err, errsz);
    if (rc != 0)
        goto fail;
    rc = hydra_log_open(st->log_path, hydra_settings_log_keep(st), &e->log, err, errsz);
    if (rc != 0)
        goto fail;
    /* The commands write a line or two: only the running host rotates by size. */
    hydra_log_set_rotation(e->log, opt->tools_only ? 0 : st->logging.max_bytes, 1);
    hydra_log_set_min_level(e->log, st->logging.level);
    if (!opt->tools_only)
        hydra_log_compress_leftovers(e->log);
    hydra_log_add_secret(e->log, e->creds.key);
    hydra_log_add_secret(e->log, e->creds.secret);
    hydra_log_add_secret(e->log, e->creds.http_token);
    hydra_log_add_secret(e->log, e->creds.slack_webhook_url);
    hydra_log_add_secret(e->log, e->creds.telegram_bot_token);
    hydra_log_add_secret(e->log, e->creds.webhook_token);
    hydra_log_set_clock(e->log, &e->clock);
    hydra_health_init(&e->health, st->max_api_failures_in_window, st->api_failure_window_seconds,
                      st->max_price_staleness_seconds);
    hydra_market_init(&e->market);
    if ((rc = hydra_loop_init(e)) != 0)
        goto fail;

    if (use_alpaca) {
        /*
         * Engine time is the wall clock, or, against the local exchange, the
         * broker's own clock, adopted at the start of every tick.
         */
        if (st->alpaca.use_broker_clock)
            hydra_clock_init_sim(&e->clock, 0);
        else
            hydra_clock_init_wall(&e->clock);
        *exit_code = 2;
        if ((rc = hydra_alpaca_open(&alpaca_cfg, &e->creds, &e->broker, err, errsz)) != 0)
            goto fail;
        *exit_code = 1;
        if (st->alpaca.use_broker_clock && (rc = hydra_engine_adopt_broker_clock(e)) != 0) {
            snprintf(err, errsz, "broker alpaca: cannot read the broker clock at %s: %s",
                     alpaca_cfg.trading_url, hydra_strerror(rc));
            goto fail;
        }
    } else {
        hydra_clock_init_sim(&e->clock, 0);
        *exit_code = 2; /* a data file that does not load is a configuration problem */
        if ((rc = hydra_engine_open_sim(&st->sim, &e->clock, &e->sim, err, errsz)) != 0)
            goto fail;
        e->broker = hydra_sim_broker(e->sim);
        *exit_code = 1;
    }

    hydra_kv_get_str(e->state, "day_key", e->day, sizeof e->day);
    if ((rc = hydra_orders_load_foreign(e)) != 0) {
        snprintf(err, errsz, "%s: kv foreign_baseline is unreadable", st->state_db_path);
        goto fail;
    }
    hydra_kv_get_double(e->state, "day_start_equity", &e->day_start_equity);
    if (opt->tools_only) {
        *exit_code = 0;
        json_decref(failed_bots);
        return 0;
    }

    /*
     * Order ids carry this installation's id and the account's key. A state
     * database that already knows its account is checked against the broker
     * before anything is reconciled: another account's journal would
     * describe positions this account does not hold.
     */
    if ((rc = hydra_orders_identity_init(e)) != 0) {
        snprintf(err, errsz, "%s: install_id or account_key in kv is unreadable or invalid",
                 st->state_db_path);
        goto fail;
    }
    if (e->account_key[0] != '\0') {
        hydra_account acc;
        hydra_broker_err berr = {0};
        char why[400] = "";
        if (e->broker.ops->account(e->broker.ctx, &acc, &berr) == 0 &&
            hydra_orders_learn_account(e, &acc, why, sizeof why) == 1) {
            snprintf(err, errsz, "%s: %s", st->state_db_path, why);
            rc = HYDRA_ECONFIG;
            goto fail;
        }
    }

    if ((e->metrics = hydra_metrics_new()) == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    if (st->notify.enabled &&
        (rc = hydra_notify_start(&st->notify, &e->creds, &e->notify, err, errsz)) != 0) {
        *exit_code = 2;
        goto fail;
    }
    e->svc.log = svc_log;
    e->svc.kv_get = svc_kv_get;
    e->svc.kv_set = svc_kv_set;
    e->svc.option_chain = hydra_loop_option_chain;
    e->svc.ctx = e;
    set_limits(e);
    *exit_code = 2; /* a declared, enabled bot that cannot load stops start-up */
    if ((rc = check_snapshot_room(e->cfg, err, errsz)) != 0 ||
        (rc = load_bots(e, err, errsz, failed_bots)) != 0)
        goto fail;
    *exit_code = 1;
    log_start(e);

    /* Reconcile before anything else: every non-final journal row, then positions. */
    hydra_state_begin(e->state);
    rc = hydra_orders_sync(e);
    char why[1536] = "";
    /* What Hydra did not create: refuse to start, or record it and leave it alone. */
    int strangers = rc == 0 ? hydra_orders_strangers(e, why, sizeof why) : 0;
    if (strangers == 1) {
        hydra_state_rollback(e->state);
        snprintf(err, errsz, "refusing to start: %s", why);
        rc = HYDRA_ECONFIG;
        goto fail;
    }
    if (strangers < 0)
        rc = strangers;
    int unexplained = rc == 0 ? hydra_orders_check_positions(e, why, sizeof why) : rc;
    if (rc != 0 || unexplained != 0) {
        char reason[600];
        if (unexplained == 1)
            snprintf(reason, sizeof reason, "reconcile: %.580s", why);
        else
            snprintf(reason, sizeof reason, "reconcile failed: %s", hydra_strerror(rc ? rc : unexplained));
        hydra_engine_halt(e, "reconcile", reason, st->global_cooldown_minutes);
    } else {
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "reconciled", NULL, "{s:i}", "open_orders",
                       (int)e->n_open_orders);
    }
    if (e->day[0] != '\0' && e->day_start_equity > 0)
        hydra_loop_portfolio(e);
    hydra_state_commit(e->state);
    hydra_metrics_collect(e->metrics, e);
    hydra_metrics_publish(e->metrics);

    if (st->http.enabled) {
        if ((e->dashboard = hydra_dashboard_new(st->log_path)) == NULL) {
            rc = HYDRA_ENOMEM;
            goto fail;
        }
        hydra_dashboard_collect(e->dashboard, e);
        if ((rc = hydra_http_start(&st->http, e->creds.http_token, e->metrics, e->dashboard,
                                   &e->http, err, errsz)) != 0)
            goto fail;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "http_listening", NULL, "{s:s,s:i,s:b,s:s}", "bind",
                       st->http.bind, "port", hydra_http_port(e->http), "token_required",
                       strcmp(st->http.bind, "127.0.0.1") != 0, "serves",
                       "/metrics, the dashboard at /");
    }
    *exit_code = 0;
    json_decref(failed_bots);
    return 0;

fail:
    if (!opt->tools_only)
        log_start_failed(e, config_loaded, err, *exit_code, failed_bots);
    json_decref(failed_bots);
    hydra_engine_close(e);
    return rc != 0 ? rc : HYDRA_EINVAL;
}

void hydra_engine_close(hydra_engine *e)
{
    /* The server reads the metrics block: it stops before anything it could read goes away. */
    hydra_http_stop(e->http);
    e->http = NULL;
    hydra_dashboard_free(e->dashboard);
    e->dashboard = NULL;
    unload_bots(e);
    hydra_notify_stop(e->notify); /* after the bots: a last fill or halt is still queued */
    e->notify = NULL;
    if (e->sim != NULL)
        hydra_sim_close(e->sim);
    else if (e->broker.ops != NULL && e->broker.ops->destroy != NULL)
        e->broker.ops->destroy(e->broker.ctx);
    e->sim = NULL;
    e->broker.ops = NULL;
    e->broker.ctx = NULL;
    hydra_market_free(&e->market);
    hydra_loop_free(e);
    hydra_metrics_free(e->metrics);
    e->metrics = NULL;
    if (e->log != NULL)
        hydra_log_close(e->log);
    e->log = NULL;
    if (e->state != NULL)
        hydra_state_close(e->state);
    e->state = NULL;
    if (e->lock_fd >= 0)
        close(e->lock_fd);
    e->lock_fd = -1;
    free(e->cfg);
    e->cfg = NULL;
    memset(&e->creds, 0, sizeof e->creds);
}

/* Settings that only a restart may change (they name files, the broker or the time). */
static const char *restart_only_change(const hydra_settings *a, const hydra_settings *b)
{
    if (strcmp(a->broker, b->broker) != 0)
        return "broker";
    if (strcmp(a->timezone, b->timezone) != 0)
        return "system.timezone";
    if (strcmp(a->state_db_path, b->state_db_path) != 0)
        return "system.state_db_path";
    if (strcmp(a->log_path, b->log_path) != 0)
        return "system.log_path";
    if (memcmp(&a->sim, &b->sim, sizeof a->sim) != 0)
        return "sim";
    if (memcmp(&a->alpaca, &b->alpaca, sizeof a->alpaca) != 0)
        return "alpaca";
    if (memcmp(&a->http, &b->http, sizeof a->http) != 0)
        return "http";
    if (memcmp(&a->notify, &b->notify, sizeof a->notify) != 0)
        return "notify";
    if (a->allow_live != b->allow_live)
        return "safety.allow_live";
    return NULL;
}

/* ---- hot swap ---------------------------------------------------------------- */

/* Two bot entries are the same when every configured field is; where they sit in the file is not. */
static int same_bot(const hydra_bot_cfg *a, const hydra_bot_cfg *b)
{
    static hydra_bot_cfg x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    x.line = y.line = 0;
    return memcmp(&x, &y, sizeof x) == 0;
}

static int same_plugin_file(const hydra_bot_slot *a, const hydra_bot_slot *b)
{
    return a->so_dev == b->so_dev && a->so_ino == b->so_ino && a->so_size == b->so_size &&
           a->so_mtime_ns == b->so_mtime_ns;
}

static int find_old(const hydra_engine *e, const char *bot_id)
{
    for (int i = 0; i < e->n_slots; i++)
        if (strcmp(e->slots[i].cfg->bot_id, bot_id) == 0)
            return i;
    return -1;
}

/*
 * Checks new bot code before it may replace anything: it is loaded in a
 * fresh worker (whatever the bot's isolation, so untested code never runs
 * inside the host), which checks the ABI version and runs create, and then
 * gets one dry call, manage() on an empty snapshot.
 */
static int check_candidate(hydra_engine *e, hydra_bot_slot *slot, char *why, size_t whysz)
{
    hydra_worker_peer peer = {&e->svc, slot->cfg->bot_id};
    hydra_budget_view budget = {.struct_size = sizeof budget};
    hydra_snapshot snap = {.struct_size = sizeof snap, .budget = &budget};
    hydra_intent items[4];
    hydra_intent_buf buf = {sizeof buf, sizeof(hydra_intent), 4, 0, items};
    int32_t status = 0;
    char err[512] = "";
    int rc;

    snap.tick = e->tick;
    snap.now_ms = hydra_clock_now_ms(&e->clock);
    /* The candidate's log lines and state writes count against its own (new) slot. */
    e->svc_slot = slot;
    rc = hydra_runner_load(slot->run, 1, &e->limits, e->opt.plugins_dir, slot->cfg, &peer, err,
                           sizeof err);
    if (rc != 0) {
        e->svc_slot = NULL;
        snprintf(why, whysz, "%s: load: %s", slot->cfg->bot_id, err);
        return rc;
    }
    rc = hydra_runner_call(slot->run, HYDRA_WIRE_CALL_MANAGE, &snap, &buf, &peer,
                           e->call_deadline_ms, &status, err, sizeof err);
    e->svc_slot = NULL;
    if (rc != 0) {
        snprintf(why, whysz, "%s: dry call: %s", slot->cfg->bot_id, err);
        return rc;
    }
    if (status < 0) {
        snprintf(why, whysz, "%s: dry call: manage returned %d on an empty snapshot",
                 slot->cfg->bot_id, (int)status);
        return HYDRA_EPLUGIN;
    }
    return 0;
}

/* Gives a runner and its runtime state from the old slot to the new one. */
static void keep_slot(hydra_bot_slot *to, hydra_bot_slot *from)
{
    const hydra_bot_cfg *cfg = to->cfg;
    hydra_bot_runner *unused = to->run;
    *to = *from;
    to->cfg = cfg;
    /* An in-process plugin reads its configuration through the host handle it was given. */
    to->run->inst.host.cfg = cfg;
    from->run = NULL;
    free(unused);
}

/*
 * Switches from the running bots to those of `next` (between ticks). Bots
 * whose entry and plugin file are unchanged keep running untouched; changed
 * and new ones are checked first (check_candidate). If any check fails,
 * nothing changes: the old configuration and every old bot keep running and
 * the log names each failure. Positions and bot state live in SQLite under
 * the bot's id, so a swapped bot finds both where it left them.
 */
static int swap_bots(hydra_engine *e, hydra_config *next)
{
    int n = next->n_bots, failed = 0, swapped = 0, kept = 0;
    hydra_bot_slot *slots = calloc((size_t)(n > 0 ? n : 1), sizeof *slots);
    int *from = calloc((size_t)(n > 0 ? n : 1), sizeof *from);
    char (*old_version)[32] = calloc((size_t)(n > 0 ? n : 1), sizeof *old_version);
    json_t *errors = json_array();
    hydra_config *old_cfg = e->cfg;
    int rc = 0;

    if (slots == NULL || from == NULL || old_version == NULL || errors == NULL) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        slots[i].cfg = &next->bots[i];
        slots[i].backoff_ms = next->settings.workers.restart_backoff_ms;
    }
    qsort(slots, (size_t)n, sizeof *slots, cmp_rank);

    /* 1. Decide, and check every changed bot while the old ones still run. */
    for (int i = 0; i < n; i++) {
        hydra_bot_slot *slot = &slots[i];
        int old = find_old(e, slot->cfg->bot_id);
        slot->run = calloc(1, sizeof *slot->run);
        if (slot->run == NULL) {
            rc = HYDRA_ENOMEM;
            goto fail;
        }
        slot->run->worker.fd = -1;
        stat_plugin(e, slot);
        from[i] = -1;
        if (old >= 0 && same_bot(e->slots[old].cfg, slot->cfg) &&
            same_plugin_file(&e->slots[old], slot)) {
            from[i] = old;
            continue;
        }
        if (old >= 0 && e->slots[old].loaded)
            snprintf(old_version[i], sizeof old_version[i], "%s",
                     hydra_runner_version(e->slots[old].run));
        else if (old >= 0) /* its worker died: still a swap, which ends the quarantine */
            snprintf(old_version[i], sizeof old_version[i], "not loaded");
        if (!slot->cfg->enabled)
            continue;
        char why[768];
        if (check_candidate(e, slot, why, sizeof why) != 0) {
            json_array_append_new(errors, json_string(why));
            failed = 1;
        }
    }
    if (failed) {
        rc = HYDRA_EPLUGIN;
        goto fail;
    }

    /* 2. Switch over. Unchanged bots move as they are. */
    for (int i = 0; i < n; i++) {
        if (from[i] >= 0) {
            keep_slot(&slots[i], &e->slots[from[i]]);
            kept++;
        }
    }
    /* Old code that is replaced or removed stops before its successor may share its path. */
    for (int i = 0; i < e->n_slots; i++) {
        hydra_bot_slot *old = &e->slots[i];
        if (old->run == NULL)
            continue;
        hydra_runner_unload(old->run);
        free(old->run);
        old->run = NULL;
        if (hydra_config_find_bot(next, old->cfg->bot_id) == NULL)
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "bot_unloaded", old->cfg->bot_id, "{s:s}",
                           "reason", "removed from bots.yaml");
    }
    e->cfg = next;
    set_limits(e);
    for (int i = 0; i < n; i++) {
        hydra_bot_slot *slot = &slots[i];
        if (from[i] >= 0 || !slot->cfg->enabled)
            continue;
        if (runs_in_process(e, slot->cfg)) {
            /* Checked in a worker; an in-process bot now loads into the host itself. */
            char err[512] = "";
            hydra_runner_unload(slot->run);
            if (load_slot(e, slot, err, sizeof err) != 0) {
                hydra_log_pack(e->log, HYDRA_LOG_ERROR, "bot_swap_failed", slot->cfg->bot_id,
                               "{s:s,s:s}", "error", err, "effect",
                               "bot not loaded; its positions stay under host exits");
                continue;
            }
        }
        slot->loaded = 1;
        hydra_bot_day day;
        if (old_version[i][0] != '\0') {
            /* New code that passed its checks replaces what was quarantined: the quarantine ends. */
            int cleared = 0;
            if (e->day[0] && hydra_bot_day_get(e->state, slot->cfg->bot_id, e->day, &day) == 0 &&
                day.quarantined &&
                hydra_bot_day_unquarantine(e->state, slot->cfg->bot_id, e->day, &cleared) == 0 &&
                cleared)
                hydra_log_pack(e->log, HYDRA_LOG_WARN, "bot_unquarantined", slot->cfg->bot_id,
                               "{s:s,s:s}", "by", "swap", "was", day.quarantine_reason);
        } else if (e->day[0] && hydra_bot_day_get(e->state, slot->cfg->bot_id, e->day, &day) == 0 &&
                   day.quarantined) {
            slot->quarantined = 1;
            snprintf(slot->quarantine_reason, sizeof slot->quarantine_reason, "%s",
                     day.quarantine_reason);
        }
        if (old_version[i][0] != '\0') {
            swapped++;
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "bot_swapped", slot->cfg->bot_id,
                           "{s:s,s:s,s:s,s:s,s:i}", "plugin", slot->run->path, "from_version",
                           old_version[i], "to_version", hydra_runner_version(slot->run),
                           "isolation", slot->run->process ? "process" : "inprocess", "pid",
                           slot->run->process ? (int)slot->run->worker.pid : (int)getpid());
        } else {
            log_loaded(e, slot, "bot_loaded");
        }
    }
    free(e->slots);
    e->slots = slots;
    e->n_slots = n;
    free(old_cfg);
    free(from);
    free(old_version);
    json_decref(errors);
    hydra_loop_portfolio(e);
    /* The log's settings take effect with the reload (its file is restart-only). */
    hydra_log_set_min_level(e->log, e->cfg->settings.logging.level);
    hydra_log_set_rotation(e->log, e->opt.tools_only ? 0 : e->cfg->settings.logging.max_bytes, 1);
    hydra_log_set_keep(e->log, hydra_settings_log_keep(&e->cfg->settings));
    hydra_log_pack(e->log, HYDRA_LOG_INFO, "config_reloaded", NULL, "{s:i,s:i,s:i}", "bots",
                   e->n_slots, "swapped", swapped, "kept", kept);
    return 0;

fail:
    for (int i = 0; slots != NULL && i < n; i++) {
        if (slots[i].run == NULL)
            continue;
        hydra_runner_unload(slots[i].run);
        free(slots[i].run);
    }
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "config_reload_rejected", NULL, "{s:o,s:s}", "errors",
                   errors != NULL ? errors : json_array(), "kept",
                   "the running configuration and every running bot");
    free(slots);
    free(from);
    free(old_version);
    free(next);
    return rc;
}

int hydra_engine_reload(hydra_engine *e)
{
    hydra_config *next = calloc(1, sizeof *next);
    if (next == NULL)
        return HYDRA_ENOMEM;
    hydra_diag diag;
    hydra_diag_init(&diag);
    int rc = hydra_config_load(e->opt.config_dir, next, &diag);
    const char *fixed = rc == 0 ? restart_only_change(&e->cfg->settings, &next->settings) : NULL;
    char room[300] = "";
    if (rc == 0 && fixed == NULL)
        rc = check_snapshot_room(next, room, sizeof room);
    if (rc != 0 || fixed != NULL) {
        json_t *errors = json_array();
        for (size_t i = 0; i < diag.n; i++)
            json_array_append_new(errors, json_string(diag.lines[i]));
        if (room[0] != '\0')
            json_array_append_new(errors, json_string(room));
        if (fixed != NULL)
            json_array_append_new(errors, json_pack("s+", fixed, " changed: restart to apply"));
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "config_reload_rejected", NULL, "{s:o,s:s}",
                       "errors", errors, "kept", "the running configuration");
        hydra_diag_free(&diag);
        free(next);
        return HYDRA_ECONFIG;
    }
    hydra_diag_free(&diag);

    return swap_bots(e, next);
}
