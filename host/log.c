#define _GNU_SOURCE
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include <hydra/types.h>

#include "error.h"
#include "jsontext.h"
#include "log_internal.h"

#define LOG_PATH_MAX 4096
#define REDACTED "[REDACTED]"

/*
 * A decision that repeats tick after tick (a disabled bot's preflight skip, a
 * price that is missing every tick): its first line is written, the ticks
 * it held are counted, and one line says when it changed or ended.
 */
typedef struct log_repeat {
    char event[64];
    char bot_id[64];
    char topic[64];
    char what[320];  /* what must stay the same for a line to count as a repeat */
    json_t *fields;  /* the first line's fields, for the line that ends it */
    uint64_t count;  /* rounds it held, the first included */
    uint64_t since;  /* the tick of its first line */
    int seen;        /* noted in the current round */
} log_repeat;

#define LOG_REPEATS_MAX 256

struct hydra_log {
    int fd;
    int keep_files;
    int min_level;
    int echo;
    int healthy;
    uint64_t tick;
    uint64_t lines;
    const hydra_clock *clock; /* engine clock, for `t` */
    const hydra_clock *wall;  /* NULL: the real wall clock */
    char **secrets;           /* longest first, so no secret is cut by a shorter one */
    size_t nsecrets;
    char day[11]; /* UTC date of the lines going into the open file */
    char path[LOG_PATH_MAX];
    char dir[LOG_PATH_MAX];
    char stem[256]; /* "app" of "app.jsonl" */
    char ext[64];   /* ".jsonl" */
    log_repeat *repeats;
    size_t nrepeats;
    /* Size rotation and compression (hydra_log_set_rotation). */
    int64_t max_bytes;  /* 0: daily rotation only */
    int64_t size;       /* bytes in the open file, as this process last knew */
    int compress;
    pthread_mutex_t zmu;
    pthread_t zthread;
    int zstarted;       /* zthread was created and not joined yet */
    int zrunning;       /* it is still compressing (under zmu) */
    int zagain;         /* a rotation happened while it ran: look again (under zmu) */
    uint64_t zdone, zfailed; /* files compressed, failures (under zmu) */
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int64_t wall_now_ms(const hydra_log *lg)
{
    if (lg->wall != NULL)
        return hydra_clock_now_ms(lg->wall);
    hydra_clock real;
    hydra_clock_init_wall(&real);
    return hydra_clock_now_ms(&real);
}

/* The UTC date "YYYY-MM-DD" of a time in ms. */
static void utc_day(int64_t ms, char day[11])
{
    char ts[32];
    hydra_format_utc(ms, ts, sizeof ts);
    memcpy(day, ts, 10);
    day[10] = '\0';
}

/* Splits "dir/stem.ext" so rotated files can be named "dir/stem.YYYY-MM-DD.ext". */
static int split_path(hydra_log *lg, const char *path)
{
    if (snprintf(lg->path, sizeof lg->path, "%s", path) >= (int)sizeof lg->path)
        return -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    if (slash == NULL)
        snprintf(lg->dir, sizeof lg->dir, ".");
    else if (slash == path)
        snprintf(lg->dir, sizeof lg->dir, "/");
    else
        snprintf(lg->dir, sizeof lg->dir, "%.*s", (int)(slash - path), path);
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        dot = base + strlen(base);
    if (base[0] == '\0' || (size_t)(dot - base) >= sizeof lg->stem || strlen(dot) >= sizeof lg->ext)
        return -1;
    snprintf(lg->stem, sizeof lg->stem, "%.*s", (int)(dot - base), base);
    snprintf(lg->ext, sizeof lg->ext, "%s", dot);
    return 0;
}

static int open_file(const hydra_log *lg)
{
    return open(lg->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/*
 * True for "stem.YYYY-MM-DD[.N].ext[.gz]", the names rotation gives; *seq
 * gets N (0 without one) and *gz whether it is compressed.
 */
static int rotated_name_parts(const hydra_log *lg, const char *name, long *seq, int *gz)
{
    size_t sl = strlen(lg->stem), el = strlen(lg->ext), nl = strlen(name);
    int z = nl > 3 && strcmp(name + nl - 3, ".gz") == 0;
    if (z)
        nl -= 3;
    if (nl < sl + 11 + el || strncmp(name, lg->stem, sl) != 0 || name[sl] != '.' ||
        strncmp(name + nl - el, lg->ext, el) != 0)
        return 0;
    const char *d = name + sl + 1;
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return 0;
    }
    const char *rest = d + 10, *end = name + nl - el;
    long n = 0;
    if (rest != end) {
        /* ".N": a further file of the same day (size rotation). */
        if (*rest != '.' || rest + 1 >= end)
            return 0;
        for (const char *p = rest + 1; p < end; p++) {
            if (*p < '0' || *p > '9' || n > 100000000)
                return 0;
            n = n * 10 + (*p - '0');
        }
    }
    if (seq != NULL)
        *seq = n;
    if (gz != NULL)
        *gz = z;
    return 1;
}

static int is_rotated_name(const hydra_log *lg, const char *name)
{
    return rotated_name_parts(lg, name, NULL, NULL);
}

/* For sorting rotated names oldest first: by day, then by number within the day. */
static const hydra_log *sort_log;

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t at = strlen(sort_log->stem) + 1;
    int c = strncmp(x + at, y + at, 10);
    if (c != 0)
        return c;
    long nx = 0, ny = 0;
    rotated_name_parts(sort_log, x, &nx, NULL);
    rotated_name_parts(sort_log, y, &ny, NULL);
    return nx < ny ? -1 : nx > ny;
}

/*
 * Deletes the oldest rotated files beyond keep_files. Dated names sort by
 * date, so the first names are the oldest. A file another process already
 * deleted is not an error.
 */
static int prune(hydra_log *lg)
{
    int ret = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(lg->dir);
    if (d == NULL)
        return HYDRA_EIO;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_rotated_name(lg, e->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (nn == NULL) {
                ret = HYDRA_ENOMEM;
                goto fail;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            ret = HYDRA_ENOMEM;
            goto fail;
        }
        n++;
    }
    if (n > 1) {
        /* Only the thread that writes lines prunes: the static is not shared. */
        sort_log = lg;
        qsort(names, n, sizeof *names, cmp_names);
    }
    for (size_t i = 0; i + (size_t)lg->keep_files < n; i++) {
        char full[LOG_PATH_MAX + 256];
        snprintf(full, sizeof full, "%s/%s", lg->dir, names[i]);
        if (unlink(full) != 0 && errno != ENOENT)
            ret = HYDRA_EIO;
    }

fail:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

/* ---- compressing rotated files, off the writing thread ---- */

/*
 * Compresses dir/name to dir/name.gz: written to a hidden temporary file,
 * linked into place (never over an existing file), then the original is
 * removed. The original's last bytes are read under an exclusive flock and
 * it is removed under that lock: a writer in another process that still
 * holds the rotated file takes a shared lock to write and, finding the file
 * removed, writes to the current one instead (see emit), so no line is
 * written into a file after it was compressed. 0: compressed; 1: nothing
 * to do (the file went meanwhile); -1: failed, the file stays as it is.
 */
static int gzip_file(const hydra_log *lg, const char *name)
{
    char src[LOG_PATH_MAX + 300], tmp[LOG_PATH_MAX + 340], dst[LOG_PATH_MAX + 310];
    snprintf(src, sizeof src, "%s/%s", lg->dir, name);
    snprintf(dst, sizeof dst, "%s.gz", src);
    snprintf(tmp, sizeof tmp, "%s/.%s.gz.%ld.tmp", lg->dir, name, (long)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : -1; /* another process got there first */
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    gzFile gz = gzdopen(out, "wb6");
    if (gz == NULL) {
        close(out);
        goto fail;
    }
    char buf[65536];
    int locked = 0, ok = 1;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ok = 0;
            break;
        }
        if (r == 0) {
            if (locked)
                break;
            /* The tail: whatever a late writer appended is read under the lock. */
            if (flock(in, LOCK_EX) != 0) {
                ok = 0;
                break;
            }
            locked = 1;
            continue;
        }
        if (gzwrite(gz, buf, (unsigned)r) != (int)r) {
            ok = 0;
            break;
        }
    }
    if (gzclose(gz) != Z_OK)
        ok = 0;
    struct stat sb;
    int gone = 0;
    if (ok && fstat(in, &sb) == 0 && sb.st_nlink == 0)
        gone = 1; /* pruned, or compressed by another process, meanwhile: nothing to replace */
    if (ok && !gone && link(tmp, dst) != 0) {
        gone = errno == EEXIST; /* another process compressed it first */
        ok = gone;
    }
    if (ok && !gone && unlink(src) != 0)
        ok = 0;
    unlink(tmp);
    close(in); /* drops the lock */
    return !ok ? -1 : gone ? 1 : 0;

fail:
    close(in);
    unlink(tmp);
    return -1;
}

/* Compresses every rotated file not compressed yet. */
static void compress_pending(hydra_log *lg)
{
    DIR *d = opendir(lg->dir);
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int gz = 0;
        if (!rotated_name_parts(lg, e->d_name, NULL, &gz) || gz)
            continue;
        if (n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 8;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            break;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        int rc = gzip_file(lg, names[i]);
        pthread_mutex_lock((pthread_mutex_t *)&lg->zmu);
        if (rc == 0)
            lg->zdone++;
        else if (rc < 0)
            lg->zfailed++;
        pthread_mutex_unlock((pthread_mutex_t *)&lg->zmu);
        free(names[i]);
    }
    free(names);
}

static void *compressor_main(void *arg)
{
    hydra_log *lg = arg;
    /* Below the tick's priority: this thread only (Linux sets nice per thread). */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    for (;;) {
        compress_pending(lg);
        pthread_mutex_lock(&lg->zmu);
        if (!lg->zagain) {
            lg->zrunning = 0;
            pthread_mutex_unlock(&lg->zmu);
            return NULL;
        }
        lg->zagain = 0;
        pthread_mutex_unlock(&lg->zmu);
    }
}

/*
 * Starts the compressing thread, or asks the running one to look again. A
 * file left uncompressed (the thread failed, or the host stopped first) is
 * picked up by the next start.
 */
static void start_compressor(hydra_log *lg)
{
    pthread_mutex_lock(&lg->zmu);
    if (lg->zrunning) {
        lg->zagain = 1;
        pthread_mutex_unlock(&lg->zmu);
        return;
    }
    if (lg->zstarted) {
        pthread_join(lg->zthread, NULL); /* finished: it cleared zrunning on its way out */
        lg->zstarted = 0;
    }
    if (pthread_create(&lg->zthread, NULL, compressor_main, lg) == 0) {
        lg->zstarted = 1;
        lg->zrunning = 1;
    } else {
        lg->zfailed++;
    }
    pthread_mutex_unlock(&lg->zmu);
}

/* Waits for the compressing thread to finish its work. */
static void wait_compressor(hydra_log *lg)
{
    pthread_mutex_lock(&lg->zmu);
    int started = lg->zstarted;
    lg->zstarted = 0;
    pthread_mutex_unlock(&lg->zmu);
    if (started)
        pthread_join(lg->zthread, NULL);
}

/*
 * Moves the current file aside as stem.<file_day>.ext and starts a new one.
 *
 * Several processes may append to the same file, so the rename is done
 * under an exclusive flock on the file, and only by a process whose
 * descriptor still refers to the file at `path`: one that finds another
 * inode there (another process already rotated) just reopens the path.
 * link() refuses to replace an existing file, so a rotated day is never
 * overwritten; a second file for the same day gets a numeric suffix.
 */
static int rotate(hydra_log *lg, const char *file_day)
{
    int ret = 0;
    int locked = flock(lg->fd, LOCK_EX) == 0;
    if (!locked)
        ret = HYDRA_EIO;

    struct stat mine, current;
    if (locked && fstat(lg->fd, &mine) == 0 && stat(lg->path, &current) == 0 &&
        mine.st_dev == current.st_dev && mine.st_ino == current.st_ino && mine.st_size > 0) {
        char target[LOG_PATH_MAX + 512];
        int linked = -1;
        for (int n = 0; n < 100 && linked != 0; n++) {
            if (n == 0)
                snprintf(target, sizeof target, "%s/%s.%s%s", lg->dir, lg->stem, file_day, lg->ext);
            else
                snprintf(target, sizeof target, "%s/%s.%s.%d%s", lg->dir, lg->stem, file_day, n,
                         lg->ext);
            /* A compressed file of that name counts as taken too. */
            char gz[sizeof target + 3];
            snprintf(gz, sizeof gz, "%s.gz", target);
            if (access(gz, F_OK) == 0) {
                errno = EEXIST;
                continue;
            }
            linked = link(lg->path, target);
            if (linked != 0 && errno != EEXIST)
                break;
        }
        if (linked != 0 || unlink(lg->path) != 0)
            ret = HYDRA_EIO;
    }

    /* Even after a failed rename the path is reopened, so lines keep landing on disk. */
    int fd = open_file(lg);
    if (locked)
        flock(lg->fd, LOCK_UN);
    if (fd >= 0) {
        close(lg->fd);
        lg->fd = fd;
        struct stat sb;
        lg->size = fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : 0;
    } else {
        ret = HYDRA_EIO;
    }
    if (ret == 0)
        ret = prune(lg);
    if (lg->compress)
        start_compressor(lg);
    return ret;
}

int hydra_log_open(const char *path, int keep_files, hydra_log **out, char *err, size_t errsz)
{
    char dummy[1];
    if (err == NULL || errsz == 0) {
        err = dummy;
        errsz = sizeof dummy;
    }
    err[0] = '\0';
    if (out == NULL || path == NULL || path[0] == '\0' || keep_files < 0) {
        snprintf(err, errsz, "log: %s",
                 path == NULL || path[0] == '\0' ? "no path given"
                                                 : "keep_files must be 0 or more");
        return HYDRA_EINVAL;
    }
    *out = NULL;

    int ret = HYDRA_EIO;
    hydra_log *lg = calloc(1, sizeof *lg);
    if (lg == NULL) {
        snprintf(err, errsz, "%s: out of memory", path);
        return HYDRA_ENOMEM;
    }
    lg->fd = -1;
    lg->keep_files = keep_files;
    pthread_mutex_init(&lg->zmu, NULL);
    lg->min_level = HYDRA_LOG_DEBUG;
    lg->healthy = 1;
    if (split_path(lg, path) != 0) {
        snprintf(err, errsz, "%s: not a usable log file name", path);
        ret = HYDRA_EINVAL;
        goto fail;
    }

    lg->fd = open_file(lg);
    if (lg->fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }

    /*
     * A file left by an earlier day (its last write is older than today) is
     * rotated now, named after the day of that last write.
     */
    utc_day(wall_now_ms(lg), lg->day);
    struct stat sb;
    if (fstat(lg->fd, &sb) != 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }
    char file_day[11];
    utc_day((int64_t)sb.st_mtim.tv_sec * 1000, file_day);
    if (sb.st_size > 0 && strcmp(file_day, lg->day) < 0 && rotate(lg, file_day) != 0) {
        snprintf(err, errsz, "%s: rotating the previous day's file to %s.%s%s failed: %s", path,
                 lg->stem, file_day, lg->ext, strerror(errno));
        goto fail;
    }

    lg->size = (int64_t)sb.st_size;
    if (strcmp(file_day, lg->day) < 0 && sb.st_size > 0)
        lg->size = 0; /* rotated above */
    *out = lg;
    return 0;

fail:
    hydra_log_close(lg);
    return ret;
}

void hydra_log_close(hydra_log *lg)
{
    if (lg == NULL)
        return;
    hydra_log_repeats_finish(lg);
    wait_compressor(lg);
    pthread_mutex_destroy(&lg->zmu);
    free(lg->repeats);
    if (lg->fd >= 0)
        close(lg->fd);
    for (size_t i = 0; i < lg->nsecrets; i++)
        free(lg->secrets[i]);
    free(lg->secrets);
    free(lg);
}

void hydra_log_add_secret(hydra_log *lg, const char *secret)
{
    if (lg == NULL || secret == NULL || secret[0] == '\0')
        return;
    for (size_t i = 0; i < lg->nsecrets; i++)
        if (strcmp(lg->secrets[i], secret) == 0)
            return;
    char **ns = realloc(lg->secrets, (lg->nsecrets + 1) * sizeof *ns);
    char *copy = strdup(secret);
    if (ns != NULL)
        lg->secrets = ns;
    if (ns == NULL || copy == NULL) {
        /* A secret that cannot be remembered could leak: stop vouching for the log. */
        free(copy);
        lg->healthy = 0;
        return;
    }
    size_t len = strlen(copy), at = lg->nsecrets;
    while (at > 0 && strlen(lg->secrets[at - 1]) < len) {
        lg->secrets[at] = lg->secrets[at - 1];
        at--;
    }
    lg->secrets[at] = copy;
    lg->nsecrets++;
}

void hydra_log_set_tick(hydra_log *lg, uint64_t tick)
{
    if (lg != NULL)
        lg->tick = tick;
}

void hydra_log_set_clock(hydra_log *lg, const hydra_clock *clock)
{
    if (lg != NULL)
        lg->clock = clock;
}

void hydra_log_set_min_level(hydra_log *lg, int level)
{
    if (lg != NULL)
        lg->min_level = level;
}

void hydra_log_set_keep(hydra_log *lg, int keep_files)
{
    if (lg != NULL && keep_files >= 0)
        lg->keep_files = keep_files;
}

void hydra_log_set_echo(hydra_log *lg, int on)
{
    if (lg != NULL)
        lg->echo = on != 0;
}

void hydra_log_set_wall_clock(hydra_log *lg, const hydra_clock *wall)
{
    if (lg != NULL)
        lg->wall = wall;
}

int hydra_log_healthy(const hydra_log *lg)
{
    return lg != NULL && lg->healthy;
}

uint64_t hydra_log_lines(const hydra_log *lg)
{
    return lg != NULL ? lg->lines : 0;
}

static char *redact_text(const hydra_log *lg, const char *s, size_t len, size_t *outlen,
                         int *changed);

void hydra_log_redact(const hydra_log *lg, const char *in, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    if (lg == NULL || in == NULL) {
        snprintf(out, outsz, "%s", in != NULL && lg == NULL ? "(error text withheld)" : "");
        return;
    }
    size_t outlen = 0;
    int changed = 0;
    char *r = redact_text(lg, in, strlen(in), &outlen, &changed);
    if (changed < 0)
        snprintf(out, outsz, "(error text withheld: redaction failed)");
    else
        snprintf(out, outsz, "%s", changed ? r : in);
    free(r);
}

/*
 * Returns a malloc'd copy of s[0..len) with every secret replaced, setting
 * *changed, or NULL when no secret occurs (or memory ran out, *changed = -1).
 */
static char *redact_text(const hydra_log *lg, const char *s, size_t len, size_t *outlen,
                         int *changed)
{
    char *cur = NULL;
    *changed = 0;
    for (size_t i = 0; i < lg->nsecrets; i++) {
        const char *sec = lg->secrets[i];
        size_t sl = strlen(sec);
        const char *src = cur != NULL ? cur : s;
        size_t srclen = cur != NULL ? *outlen : len;
        if (memmem(src, srclen, sec, sl) == NULL)
            continue;
        /* Each occurrence shrinks or grows by the same amount; size for the worst case. */
        size_t cap = srclen + (srclen / sl + 1) * sizeof REDACTED + 1;
        char *dst = malloc(cap);
        if (dst == NULL) {
            free(cur);
            *changed = -1;
            return NULL;
        }
        size_t o = 0;
        const char *p = src, *end = src + srclen, *hit;
        while ((hit = memmem(p, (size_t)(end - p), sec, sl)) != NULL) {
            memcpy(dst + o, p, (size_t)(hit - p));
            o += (size_t)(hit - p);
            memcpy(dst + o, REDACTED, sizeof REDACTED - 1);
            o += sizeof REDACTED - 1;
            p = hit + sl;
        }
        memcpy(dst + o, p, (size_t)(end - p));
        o += (size_t)(end - p);
        dst[o] = '\0';
        free(cur);
        cur = dst;
        *outlen = o;
        *changed = 1;
    }
    return cur;
}

/*
 * Returns a new reference to v with every secret removed from strings and
 * object keys; a number whose text contains a secret becomes "[REDACTED]".
 * Redacting the values before serialising keeps the line valid JSON.
 * NULL when memory ran out.
 */
static json_t *redact_value(const hydra_log *lg, json_t *v)
{
    int changed = 0;
    size_t n = 0;
    if (json_is_string(v)) {
        char *r = redact_text(lg, json_string_value(v), json_string_length(v), &n, &changed);
        if (changed < 0)
            return NULL;
        if (!changed)
            return json_incref(v);
        json_t *s = json_stringn(r, n);
        free(r);
        return s;
    }
    if (json_is_number(v)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        if (text == NULL)
            return NULL;
        char *r = redact_text(lg, text, strlen(text), &n, &changed);
        free(text);
        free(r);
        if (changed < 0)
            return NULL;
        return changed ? json_string(REDACTED) : json_incref(v);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (a == NULL || json_array_append_new(a, redact_value(lg, item)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *key;
        json_t *item;
        json_object_foreach(v, key, item)
        {
            char *rk = redact_text(lg, key, strlen(key), &n, &changed);
            if (o == NULL || changed < 0 ||
                json_object_set_new(o, changed ? rk : key, redact_value(lg, item)) != 0) {
                free(rk);
                json_decref(o);
                return NULL;
            }
            free(rk);
        }
        return o;
    }
    return json_incref(v); /* true, false, null */
}

/* Writes all of buf with as few write(2) calls as the kernel allows (one, normally). */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Builds the line's object in the documented field order; ts is its wall time. Steals fields. */
static json_t *build_line(const hydra_log *lg, int level, const char *event, const char *bot_id,
                          json_t *fields, const char *ts)
{
    json_t *line = json_object();
    if (line == NULL)
        goto fail;
    int bad = json_object_set_new(line, "ts", json_string(ts));
    bad |= json_object_set_new(line, "level", json_string(level_names[level]));
    bad |= json_object_set_new(line, "event", json_string(event != NULL ? event : ""));
    if (lg->tick != 0)
        bad |= json_object_set_new(line, "tick", json_integer((json_int_t)lg->tick));
    if (bot_id != NULL)
        bad |= json_object_set_new(line, "bot_id", json_string(bot_id));
    if (lg->clock != NULL && lg->clock->simulated) {
        char t[32];
        hydra_format_utc(hydra_clock_now_ms(lg->clock), t, sizeof t);
        bad |= json_object_set_new(line, "t", json_string(t));
    }
    if (json_is_object(fields))
        /* A field named like a header member (ts, event, ...) never replaces it. */
        bad |= json_object_update_missing(line, fields);
    else if (fields != NULL)
        bad |= json_object_set(line, "fields", fields);
    if (bad)
        goto fail;
    json_decref(fields);
    return line;

fail:
    json_decref(fields);
    json_decref(line);
    return NULL;
}

/* The first line of a new UTC day moves yesterday's lines aside (ts starts with the day). */
static int rotate_if_new_day(hydra_log *lg, const char *ts)
{
    int rc = 0;
    char today[11];
    memcpy(today, ts, 10);
    today[10] = '\0';
    if (strcmp(today, lg->day) > 0) {
        rc = rotate(lg, lg->day);
        memcpy(lg->day, today, sizeof today);
    }
    return rc;
}

/* Whether a field is named like a header member the line has (build_line keeps the header's). */
static int header_member(const hydra_log *lg, const char *bot_id, const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "event") == 0 ||
           (lg->tick != 0 && strcmp(key, "tick") == 0) ||
           (bot_id != NULL && strcmp(key, "bot_id") == 0) ||
           (lg->clock != NULL && lg->clock->simulated && strcmp(key, "t") == 0);
}

/*
 * The text json_dumps(build_line(...), JSON_COMPACT) would give, written
 * without building the line as an object: the header members in their
 * order, then the fields in theirs, skipping those named like a header
 * member. Its length, or -1 when the line needs the general path (see
 * jsontext.h); buf gets room for the newline.
 */
static long quick_line(const hydra_log *lg, int level, const char *event, const char *bot_id,
                       const json_t *fields, const char *ts, char *buf, size_t size)
{
    hydra_jtext t;
    hydra_jtext_init(&t, buf, size - 1);
    hydra_jtext_raw(&t, "{\"ts\":", 6);
    hydra_jtext_string(&t, ts, strlen(ts));
    hydra_jtext_raw(&t, ",\"level\":", 9);
    hydra_jtext_string(&t, level_names[level], strlen(level_names[level]));
    hydra_jtext_raw(&t, ",\"event\":", 9);
    event = event != NULL ? event : "";
    hydra_jtext_string(&t, event, strlen(event));
    if (lg->tick != 0) {
        hydra_jtext_raw(&t, ",\"tick\":", 8);
        hydra_jtext_integer(&t, (json_int_t)lg->tick); /* the conversion build_line makes */
    }
    if (bot_id != NULL) {
        hydra_jtext_raw(&t, ",\"bot_id\":", 10);
        hydra_jtext_string(&t, bot_id, strlen(bot_id));
    }
    if (lg->clock != NULL && lg->clock->simulated) {
        char tt[32];
        hydra_format_utc(hydra_clock_now_ms(lg->clock), tt, sizeof tt);
        hydra_jtext_raw(&t, ",\"t\":", 5);
        hydra_jtext_string(&t, tt, strlen(tt));
    }
    if (json_is_object(fields)) {
        for (void *it = json_object_iter((json_t *)fields); it != NULL && t.ok;
             it = json_object_iter_next((json_t *)fields, it)) {
            if (header_member(lg, bot_id, json_object_iter_key(it)))
                continue;
            hydra_jtext_raw(&t, ",", 1);
            hydra_jtext_key(&t, it);
            hydra_jtext_raw(&t, ":", 1);
            hydra_jtext_value(&t, json_object_iter_value(it));
        }
    } else if (fields != NULL) {
        hydra_jtext_raw(&t, ",\"fields\":", 10);
        hydra_jtext_value(&t, fields);
    }
    hydra_jtext_raw(&t, "}", 1);
    return t.ok ? (long)(t.p - buf) : -1;
}

/*
 * Writes one finished line (newline included) in a single write and echoes
 * it when asked. Returns `ret` (an earlier failure, such as a rotation, that
 * did not stop the line) or HYDRA_EIO when the write failed; either failure
 * leaves the log unhealthy.
 */
static int emit(hydra_log *lg, const char *line, size_t len, int ret)
{
    if (lg->max_bytes > 0 && lg->size + (int64_t)len > lg->max_bytes) {
        /* Others may have appended too: the file's own size decides. */
        struct stat sb;
        if (fstat(lg->fd, &sb) == 0)
            lg->size = (int64_t)sb.st_size;
        if (lg->size > 0 && lg->size + (int64_t)len > lg->max_bytes && rotate(lg, lg->day) != 0)
            ret = HYDRA_EIO;
    }
    /*
     * With compression on, a rotated file is removed once compressed. The
     * write holds a shared lock (the compressor reads the tail and removes
     * the file under an exclusive one) and goes to the current file when
     * this descriptor's file was removed: a line never lands in a file
     * already compressed.
     */
    int shared = lg->compress && flock(lg->fd, LOCK_SH) == 0;
    struct stat sb;
    if (shared && fstat(lg->fd, &sb) == 0 && sb.st_nlink == 0) {
        int fd = open_file(lg);
        if (fd >= 0) {
            flock(lg->fd, LOCK_UN);
            close(lg->fd);
            lg->fd = fd;
            shared = flock(lg->fd, LOCK_SH) == 0;
        }
    }
    int wrc = write_all(lg->fd, line, len);
    if (shared)
        flock(lg->fd, LOCK_UN);
    if (wrc != 0) {
        lg->healthy = 0;
        return HYDRA_EIO;
    }
    lg->size += (int64_t)len;
    if (lg->echo)
        (void)write_all(STDERR_FILENO, line, len);
    lg->lines++;
    if (ret != 0)
        lg->healthy = 0;
    return ret;
}

int hydra_log_event(hydra_log *lg, int level, const char *event, const char *bot_id, json_t *fields)
{
    if (lg == NULL) {
        json_decref(fields);
        return HYDRA_EINVAL;
    }
    if (level < lg->min_level) {
        json_decref(fields);
        return 0;
    }
    if (level < HYDRA_LOG_DEBUG)
        level = HYDRA_LOG_DEBUG;
    if (level > HYDRA_LOG_ERROR)
        level = HYDRA_LOG_ERROR;

    int ret = 0;
    char *text = NULL, *redacted = NULL;
    json_t *clean = NULL;
    char ts[32];
    hydra_format_utc(wall_now_ms(lg), ts, sizeof ts);

    /* Without secrets to redact, most lines are written without a jansson object. */
    char quick[4096];
    long qlen = lg->nsecrets == 0 ? quick_line(lg, level, event, bot_id, fields, ts, quick,
                                               sizeof quick)
                                  : -1;
    if (qlen >= 0) {
        json_decref(fields);
        if (rotate_if_new_day(lg, ts) != 0)
            ret = HYDRA_EIO;
        quick[qlen] = '\n';
        return emit(lg, quick, (size_t)qlen + 1, ret);
    }

    json_t *line = build_line(lg, level, event, bot_id, fields, ts);
    if (line == NULL)
        goto fail;

    if (rotate_if_new_day(lg, ts) != 0)
        ret = HYDRA_EIO;

    clean = lg->nsecrets > 0 ? redact_value(lg, line) : json_incref(line);
    if (clean == NULL)
        goto fail;
    text = json_dumps(clean, JSON_COMPACT);
    if (text == NULL)
        goto fail;
    size_t len = strlen(text);
    /*
     * Last line of defence: a secret that spans JSON syntax (quotes, commas)
     * survives value redaction; it is removed from the text itself.
     */
    int changed = 0;
    size_t rlen = 0;
    redacted = redact_text(lg, text, len, &rlen, &changed);
    if (changed < 0)
        goto fail;
    char *out = text;
    if (changed) {
        out = redacted;
        len = rlen;
    }
    /* The newline goes in the same write so a line is never split between writers. */
    char *nl = realloc(out, len + 2);
    if (nl == NULL)
        goto fail;
    if (out == text)
        text = nl;
    else
        redacted = nl;
    nl[len] = '\n';
    nl[len + 1] = '\0';
    ret = emit(lg, nl, len + 1, ret);
    goto done;

fail:
    lg->healthy = 0;
    ret = HYDRA_EIO;
done:
    free(redacted);
    free(text);
    json_decref(clean);
    json_decref(line);
    return ret;
}

/*
 * Bad pack arguments are a bug in the caller; the event is replaced by a
 * "log_pack_error" line naming it, and HYDRA_EINVAL tells the caller.
 */
int hydra_log_pack(hydra_log *lg, int level, const char *event, const char *bot_id, const char *fmt,
                   ...)
{
    if (lg == NULL || fmt == NULL)
        return HYDRA_EINVAL;
    json_error_t jerr;
    va_list ap;
    va_start(ap, fmt);
    json_t *fields = json_vpack_ex(&jerr, 0, fmt, ap);
    va_end(ap);
    if (fields != NULL)
        return hydra_log_event(lg, level, event, bot_id, fields);
    int rc = hydra_log_event(lg, HYDRA_LOG_ERROR, "log_pack_error", bot_id,
                             json_pack("{s:s,s:s,s:s}", "for_event", event != NULL ? event : "",
                                       "format", fmt, "error", jerr.text));
    return rc != 0 ? rc : HYDRA_EINVAL;
}

/* ---- repeated decisions ---- */

static log_repeat *find_repeat(hydra_log *lg, const char *event, const char *bot_id,
                               const char *topic)
{
    for (size_t i = 0; i < lg->nrepeats; i++) {
        log_repeat *r = &lg->repeats[i];
        if (strcmp(r->event, event) == 0 && strcmp(r->bot_id, bot_id) == 0 &&
            strcmp(r->topic, topic) == 0)
            return r;
    }
    return NULL;
}

/* Writes "<event>_ended" for r: its first line's fields, how many rounds it held and since when. */
static int end_repeat(hydra_log *lg, const log_repeat *r, int at_close)
{
    char ended[96];
    snprintf(ended, sizeof ended, "%s_ended", r->event);
    json_t *f = r->fields != NULL ? json_deep_copy(r->fields) : json_object();
    if (f == NULL)
        f = json_object();
    json_object_set_new(f, "repeated", json_integer((json_int_t)r->count));
    json_object_set_new(f, "since_tick", json_integer((json_int_t)r->since));
    if (at_close)
        json_object_set_new(f, "still_active", json_true());
    return hydra_log_event(lg, HYDRA_LOG_INFO, ended, r->bot_id[0] != '\0' ? r->bot_id : NULL, f);
}

static void drop_repeat(hydra_log *lg, log_repeat *r)
{
    json_decref(r->fields);
    *r = lg->repeats[--lg->nrepeats];
}

int hydra_log_repeat(hydra_log *lg, int level, const char *event, const char *bot_id,
                     const char *topic, const char *what, json_t *fields)
{
    if (lg == NULL || event == NULL) {
        json_decref(fields);
        return HYDRA_EINVAL;
    }
    if (level < lg->min_level) {
        json_decref(fields);
        return 0;
    }
    const char *b = bot_id != NULL ? bot_id : "", *t = topic != NULL ? topic : "";
    const char *w = what != NULL ? what : "";
    log_repeat *r = find_repeat(lg, event, b, t);
    if (r != NULL && strncmp(r->what, w, sizeof r->what - 1) == 0) {
        /* The same decision again: counted once per round, not written. */
        if (!r->seen)
            r->count++;
        r->seen = 1;
        json_decref(fields);
        return 0;
    }
    if (r != NULL) {
        /* It changed: the new line says what it replaces and how long that held. */
        if (fields == NULL)
            fields = json_object();
        if (json_is_object(fields)) {
            json_object_set_new(fields, "previous", json_string(r->what));
            json_object_set_new(fields, "repeated", json_integer((json_int_t)r->count));
        }
        json_decref(r->fields);
        r->fields = NULL;
    } else if (lg->nrepeats < LOG_REPEATS_MAX) {
        if (lg->repeats == NULL) {
            lg->repeats = calloc(LOG_REPEATS_MAX, sizeof *lg->repeats);
            if (lg->repeats == NULL)
                return hydra_log_event(lg, level, event, bot_id, fields);
        }
        r = &lg->repeats[lg->nrepeats++];
        memset(r, 0, sizeof *r);
        snprintf(r->event, sizeof r->event, "%s", event);
        snprintf(r->bot_id, sizeof r->bot_id, "%s", b);
        snprintf(r->topic, sizeof r->topic, "%s", t);
    } else {
        /* More distinct repeats than the table holds: every line is written, none is lost. */
        return hydra_log_event(lg, level, event, bot_id, fields);
    }
    snprintf(r->what, sizeof r->what, "%s", w);
    r->count = 1;
    r->since = lg->tick;
    r->seen = 1;
    json_t *kept = json_is_object(fields) ? json_deep_copy(fields) : NULL;
    if (kept != NULL) {
        json_object_del(kept, "previous");
        json_object_del(kept, "repeated");
    }
    r->fields = kept;
    return hydra_log_event(lg, level, event, bot_id, fields);
}

int hydra_log_repeats_round(hydra_log *lg)
{
    if (lg == NULL)
        return HYDRA_EINVAL;
    int ret = 0;
    for (size_t i = 0; i < lg->nrepeats;) {
        log_repeat *r = &lg->repeats[i];
        if (r->seen) {
            r->seen = 0;
            i++;
            continue;
        }
        int rc = end_repeat(lg, r, 0);
        if (rc != 0)
            ret = rc;
        drop_repeat(lg, r); /* the last entry moves into i: looked at next */
    }
    return ret;
}

void hydra_log_repeats_finish(hydra_log *lg)
{
    if (lg == NULL)
        return;
    while (lg->nrepeats > 0) {
        log_repeat *r = &lg->repeats[lg->nrepeats - 1];
        end_repeat(lg, r, 1);
        drop_repeat(lg, r);
    }
}

size_t hydra_log_repeats_active(const hydra_log *lg)
{
    return lg != NULL ? lg->nrepeats : 0;
}

/* ---- size rotation and compression ---- */

void hydra_log_set_rotation(hydra_log *lg, int64_t max_bytes, int compress)
{
    if (lg == NULL)
        return;
    lg->max_bytes = max_bytes > 0 ? max_bytes : 0;
    lg->compress = compress != 0;
}

void hydra_log_compress_leftovers(hydra_log *lg)
{
    if (lg != NULL && lg->compress)
        start_compressor(lg);
}

void hydra_log_compress_wait(hydra_log *lg, uint64_t *done, uint64_t *failed)
{
    if (lg == NULL)
        return;
    wait_compressor(lg);
    pthread_mutex_lock(&lg->zmu);
    if (done != NULL)
        *done = lg->zdone;
    if (failed != NULL)
        *failed = lg->zfailed;
    pthread_mutex_unlock(&lg->zmu);
}
