/*
 * hydra-host sweep: parameter search over backtests (see sweep.h).
 *
 * The parent process never runs a backtest: it forks one child per task, at
 * most --jobs at a time, and the child writes its own row (ok, or failed
 * with the reason) into the results file. A child that dies without a row
 * (a bot that crashed, a signal) gets a failed row from the parent with the
 * cause. So one bad point costs one row, never the sweep, and a task without
 * a row is exactly a task still to run: that is what resume means.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#include "backtest.h"
#include "clock.h"
#include "error.h"
#include "sweep.h"

/* ---- small helpers ---------------------------------------------------------- */

static unsigned long long fnv(unsigned long long h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static unsigned long long splitmix(unsigned long long x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* yyyymmdd from days since 1970-01-01 (civil_from_days, proleptic Gregorian). */
static int date_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return (int)((y + (m <= 2)) * 10000 + m * 100 + d);
}

static int parse_date(const char *s, int *out)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return HYDRA_EINVAL;
    int v = y * 10000 + m * 100 + d;
    if (date_from_days(hydra_days_from_date(v)) != v)
        return HYDRA_EINVAL;
    *out = v;
    return 0;
}

static void fmt_date(int yyyymmdd, char out[11])
{
    unsigned y = (unsigned)(yyyymmdd / 10000) % 10000u, m = (unsigned)(yyyymmdd / 100) % 100u,
             d = (unsigned)yyyymmdd % 100u;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10 % 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10 % 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

static int parse_ll_text(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_double_text(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* ---- the spec ------------------------------------------------------------------ */

typedef struct spec_ctx {
    yaml_document_t *doc;
    const char *path;
    char *err;
    size_t errsz;
} spec_ctx;

static int spec_fail(spec_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_fail(spec_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n != NULL)
        snprintf(c->err, c->errsz, "%s:%zu:%zu: %s", c->path, n->start_mark.line + 1,
                 n->start_mark.column + 1, msg);
    else
        snprintf(c->err, c->errsz, "%s: %s", c->path, msg);
    return HYDRA_ECONFIG;
}

static const char *scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int copy_scalar(spec_ctx *c, const yaml_node_t *n, const char *key, char *out, size_t outsz)
{
    const char *s = scalar(n);
    if (s == NULL || strlen(s) >= outsz)
        return spec_fail(c, n, "%s: expected a text of at most %zu characters", key, outsz - 1);
    snprintf(out, outsz, "%s", s);
    return 0;
}

static int read_int(spec_ctx *c, const yaml_node_t *n, const char *key, long long lo, long long hi,
                    long long *out)
{
    const char *s = scalar(n);
    if (s == NULL || parse_ll_text(s, out) != 0 || *out < lo || *out > hi)
        return spec_fail(c, n, "%s: expected an integer from %lld to %lld, got \"%s\"", key, lo, hi,
                         s != NULL ? s : "(not a scalar)");
    return 0;
}

static const char *const RISK_KEYS[] = {
    "stop_loss_pct",        "take_profit_pct",        "time_stop_minutes",
    "flatten_before_close_minutes", "max_trades_per_day", "max_concurrent_positions",
    "default_notional_usd", "global_max_daily_loss_pct", "max_notional_per_order", NULL,
};

static const char *const RANK_KEYS[] = {"sharpe", "sortino", "total_return", "cagr",
                                        "profit_factor", "win_rate", "max_drawdown", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static int add_value(spec_ctx *c, hydra_sweep_axis *a, const yaml_node_t *n, const char *text)
{
    if (a->n_values >= HYDRA_SWEEP_MAX_VALUES)
        return spec_fail(c, n, "%s: more than %d values", a->key, HYDRA_SWEEP_MAX_VALUES);
    if (strlen(text) >= sizeof a->values[0])
        return spec_fail(c, n, "%s: value \"%s\" is too long", a->key, text);
    if (a->values == NULL) {
        a->values = calloc(HYDRA_SWEEP_MAX_VALUES, sizeof a->values[0]);
        if (a->values == NULL)
            return HYDRA_ENOMEM;
    }
    snprintf(a->values[a->n_values++], sizeof a->values[0], "%s", text);
    return 0;
}

/*
 * An axis is a list of values, a grid range {from, to, step}, or (random
 * search only) a range {min, max} sampled uniformly.
 */
static int read_axis(spec_ctx *c, hydra_sweep_spec *spec, char kind, const yaml_node_t *k,
                     const yaml_node_t *v)
{
    if (spec->n_axes >= HYDRA_SWEEP_MAX_AXES)
        return spec_fail(c, k, "more than %d swept settings", HYDRA_SWEEP_MAX_AXES);
    hydra_sweep_axis *a = &spec->axes[spec->n_axes++];
    a->kind = kind;
    int rc = copy_scalar(c, k, "a key", a->key, sizeof a->key);
    if (rc != 0)
        return rc;
    if (kind == 'r' && !in_list(RISK_KEYS, a->key))
        return spec_fail(c, k,
                         "risk.%s: not a setting a sweep can vary (stop_loss_pct, take_profit_pct, "
                         "time_stop_minutes, flatten_before_close_minutes, max_trades_per_day, "
                         "max_concurrent_positions, default_notional_usd, "
                         "global_max_daily_loss_pct, max_notional_per_order)",
                         a->key);
    if (v->type == YAML_SCALAR_NODE)
        return add_value(c, a, v, scalar(v));
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            const yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            if (scalar(e) == NULL)
                return spec_fail(c, e, "%s: expected a list of scalars", a->key);
            if ((rc = add_value(c, a, e, scalar(e))) != 0)
                return rc;
        }
        if (a->n_values == 0)
            return spec_fail(c, v, "%s: an empty list", a->key);
        return 0;
    }
    const char *from = NULL, *to = NULL, *step = NULL, *min = NULL, *max = NULL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *pk = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *pv = yaml_document_get_node(c->doc, p->value);
        const char *name = scalar(pk), *val = scalar(pv);
        if (name == NULL || val == NULL)
            return spec_fail(c, pk, "%s: expected {from, to, step} or {min, max}", a->key);
        if (strcmp(name, "from") == 0) from = val;
        else if (strcmp(name, "to") == 0) to = val;
        else if (strcmp(name, "step") == 0) step = val;
        else if (strcmp(name, "min") == 0) min = val;
        else if (strcmp(name, "max") == 0) max = val;
        else
            return spec_fail(c, pk, "%s.%s: unknown key (from, to, step, min, max)", a->key, name);
    }
    if (from != NULL && to != NULL && step != NULL) {
        double f, t, s;
        long long fi, ti, si;
        if (parse_double_text(from, &f) || parse_double_text(to, &t) || parse_double_text(step, &s) ||
            !(s > 0) || t < f)
            return spec_fail(c, v, "%s: expected numbers with step > 0 and to >= from", a->key);
        int ints = parse_ll_text(from, &fi) == 0 && parse_ll_text(to, &ti) == 0 &&
                   parse_ll_text(step, &si) == 0;
        for (long i = 0;; i++) {
            double x = f + (double)i * s;
            if (x > t + s * 1e-9)
                break;
            char text[64];
            if (ints)
                snprintf(text, sizeof text, "%lld", fi + (long long)i * si);
            else
                snprintf(text, sizeof text, "%.10g", x);
            if ((rc = add_value(c, a, v, text)) != 0)
                return rc;
        }
        return 0;
    }
    if (min != NULL && max != NULL && from == NULL && to == NULL && step == NULL) {
        long long li, hi;
        if (parse_double_text(min, &a->lo) || parse_double_text(max, &a->hi) || a->hi < a->lo)
            return spec_fail(c, v, "%s: expected numbers with max >= min", a->key);
        a->is_range = 1;
        a->range_int = parse_ll_text(min, &li) == 0 && parse_ll_text(max, &hi) == 0;
        return 0;
    }
    return spec_fail(c, v, "%s: expected a value, a list, {from, to, step} or {min, max}", a->key);
}

static int read_axes(spec_ctx *c, hydra_sweep_spec *spec, char kind, const yaml_node_t *v,
                     const char *what)
{
    if (v->type != YAML_MAPPING_NODE)
        return spec_fail(c, v, "%s: expected a mapping of setting to values", what);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        int rc = read_axis(c, spec, kind, yaml_document_get_node(c->doc, p->key),
                           yaml_document_get_node(c->doc, p->value));
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int read_walk_forward(spec_ctx *c, hydra_sweep_spec *spec, const yaml_node_t *v)
{
    if (v->type != YAML_MAPPING_NODE)
        return spec_fail(c, v, "walk_forward: expected in_sample_days, out_of_sample_days");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
        const char *name = scalar(k);
        long long x;
        int *dst = NULL;
        if (name != NULL && strcmp(name, "in_sample_days") == 0) dst = &spec->is_days;
        else if (name != NULL && strcmp(name, "out_of_sample_days") == 0) dst = &spec->oos_days;
        else if (name != NULL && strcmp(name, "step_days") == 0) dst = &spec->step_days;
        else
            return spec_fail(c, k, "walk_forward.%s: unknown key (in_sample_days, "
                                   "out_of_sample_days, step_days)", name ? name : "?");
        int rc = read_int(c, val, name, 1, 100000, &x);
        if (rc != 0)
            return rc;
        *dst = (int)x;
    }
    if (spec->is_days == 0 || spec->oos_days == 0)
        return spec_fail(c, v, "walk_forward: in_sample_days and out_of_sample_days are both needed");
    if (spec->step_days == 0)
        spec->step_days = spec->oos_days;
    if (spec->step_days < spec->oos_days)
        return spec_fail(c, v, "walk_forward.step_days %d is shorter than out_of_sample_days %d: "
                               "overlapping out-of-sample windows cannot be stitched",
                         spec->step_days, spec->oos_days);
    return 0;
}

static long n_grid_points(const hydra_sweep_spec *spec)
{
    long n = 1;
    for (int i = 0; i < spec->n_axes; i++) {
        n *= spec->axes[i].n_values;
        if (n > HYDRA_SWEEP_MAX_POINTS)
            return -1;
    }
    return n;
}

/* The value text of axis `a` at point p (buf >= 64 bytes). */
static void point_value(const hydra_sweep_spec *spec, long p, int a, char *buf, size_t bufsz)
{
    const hydra_sweep_axis *ax = &spec->axes[a];
    if (!spec->random) {
        long div = 1;
        for (int i = spec->n_axes - 1; i > a; i--)
            div *= spec->axes[i].n_values;
        snprintf(buf, bufsz, "%s", ax->values[(p / div) % ax->n_values]);
        return;
    }
    /* Random: a value from (seed, point, axis) alone, so shards and resumes agree. */
    unsigned long long r = splitmix(spec->seed ^ splitmix((unsigned long long)p * 64 + (unsigned)a));
    if (!ax->is_range) {
        snprintf(buf, bufsz, "%s", ax->values[r % (unsigned long long)ax->n_values]);
    } else if (ax->range_int) {
        long long lo = (long long)ax->lo, span = (long long)ax->hi - lo + 1;
        snprintf(buf, bufsz, "%lld", lo + (long long)(r % (unsigned long long)span));
    } else {
        double u = (double)(r >> 11) / 9007199254740992.0;
        snprintf(buf, bufsz, "%.6g", ax->lo + u * (ax->hi - ax->lo));
    }
}

/* "fast=2 slow=8 risk.stop_loss_pct=0.5" */
static void point_label(const hydra_sweep_spec *spec, long p, char *buf, size_t bufsz)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int a = 0; a < spec->n_axes && off < bufsz; a++) {
        char v[64];
        point_value(spec, p, a, v, sizeof v);
        int n = snprintf(buf + off, bufsz - off, "%s%s%s=%s", a ? " " : "",
                         spec->axes[a].kind == 'r' ? "risk." : "", spec->axes[a].key, v);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

long hydra_sweep_n_tasks(const hydra_sweep_spec *spec)
{
    return spec->n_windows > 0 ? spec->n_points * spec->n_windows * 2 : spec->n_points;
}

/* Task t: point, window (-1 = the whole span), segment "full", "is" or "oos", and its span. */
static void task_of(const hydra_sweep_spec *spec, long t, long *point, int *window,
                    const char **segment, int *from, int *to)
{
    if (spec->n_windows == 0) {
        *point = t;
        *window = -1;
        *segment = "full";
        *from = 0;
        *to = 0;
        if (spec->from[0])
            parse_date(spec->from, from);
        if (spec->to[0])
            parse_date(spec->to, to);
        return;
    }
    int seg = (int)(t % 2);
    long pw = t / 2;
    *window = (int)(pw % spec->n_windows);
    *point = pw / spec->n_windows;
    *segment = seg ? "oos" : "is";
    *from = seg ? spec->win_oos_from[*window] : spec->win_from[*window];
    *to = seg ? spec->win_to[*window] : spec->win_is_to[*window];
}

int hydra_sweep_spec_load(const char *path, hydra_sweep_spec *spec, char *err, size_t errsz)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->path, sizeof spec->path, "%s", path);
    snprintf(spec->config_dir, sizeof spec->config_dir, "config");
    snprintf(spec->plugins_dir, sizeof spec->plugins_dir, "plugins");
    snprintf(spec->rank_by, sizeof spec->rank_by, "sharpe");
    spec->samples = 0;
    spec->seed = 1;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errsz, "%s: cannot open the sweep spec: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int loaded = yaml_parser_load(&parser, &doc);
    spec_ctx c = {&doc, path, err, errsz};
    int rc = 0;
    if (!loaded) {
        snprintf(err, errsz, "%s:%zu:%zu: not valid YAML: %s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        fclose(f);
        return HYDRA_ECONFIG;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        rc = spec_fail(&c, root, "expected a mapping (bot, params, ...)");
        goto done;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top && rc == 0;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(k);
        long long x;
        if (key == NULL) rc = spec_fail(&c, k, "expected a key");
        else if (strcmp(key, "config") == 0) rc = copy_scalar(&c, v, key, spec->config_dir, sizeof spec->config_dir);
        else if (strcmp(key, "plugins") == 0) rc = copy_scalar(&c, v, key, spec->plugins_dir, sizeof spec->plugins_dir);
        else if (strcmp(key, "bot") == 0) rc = copy_scalar(&c, v, key, spec->bot, sizeof spec->bot);
        else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
            char *dst = key[0] == 'f' ? spec->from : spec->to;
            int d;
            if ((rc = copy_scalar(&c, v, key, dst, 11)) == 0 && parse_date(dst, &d) != 0)
                rc = spec_fail(&c, v, "%s: expected a date YYYY-MM-DD, got \"%s\"", key, scalar(v));
        } else if (strcmp(key, "search") == 0) {
            const char *s = scalar(v);
            if (s != NULL && strcmp(s, "grid") == 0) spec->random = 0;
            else if (s != NULL && strcmp(s, "random") == 0) spec->random = 1;
            else rc = spec_fail(&c, v, "search: expected grid or random");
        } else if (strcmp(key, "samples") == 0) {
            if ((rc = read_int(&c, v, key, 1, HYDRA_SWEEP_MAX_POINTS, &x)) == 0)
                spec->samples = (long)x;
        } else if (strcmp(key, "seed") == 0) {
            if ((rc = read_int(&c, v, key, 0, LLONG_MAX, &x)) == 0)
                spec->seed = (unsigned long long)x;
        } else if (strcmp(key, "rank_by") == 0) {
            if ((rc = copy_scalar(&c, v, key, spec->rank_by, sizeof spec->rank_by)) == 0 &&
                !in_list(RANK_KEYS, spec->rank_by))
                rc = spec_fail(&c, v, "rank_by: expected sharpe, sortino, total_return, cagr, "
                                      "profit_factor, win_rate or max_drawdown");
        } else if (strcmp(key, "params") == 0) rc = read_axes(&c, spec, 'p', v, "params");
        else if (strcmp(key, "risk") == 0) rc = read_axes(&c, spec, 'r', v, "risk");
        else if (strcmp(key, "walk_forward") == 0) rc = read_walk_forward(&c, spec, v);
        else
            rc = spec_fail(&c, k, "%s: unknown key (config, plugins, bot, from, to, search, samples, "
                                  "seed, rank_by, params, risk, walk_forward)", key);
    }
    if (rc != 0)
        goto done;
    if (!spec->bot[0]) {
        rc = spec_fail(&c, NULL, "bot: the bot whose settings are swept is missing");
        goto done;
    }
    if (spec->n_axes == 0) {
        rc = spec_fail(&c, NULL, "nothing to sweep: add params: or risk:");
        goto done;
    }
    for (int a = 0; a < spec->n_axes; a++)
        if (spec->axes[a].is_range && !spec->random) {
            rc = spec_fail(&c, NULL, "%s: {min, max} needs search: random (a grid takes "
                                     "{from, to, step} or a list)", spec->axes[a].key);
            goto done;
        }
    if (spec->random) {
        if (spec->samples <= 0) {
            rc = spec_fail(&c, NULL, "search: random needs samples: N");
            goto done;
        }
        spec->n_points = spec->samples;
    } else if ((spec->n_points = n_grid_points(spec)) < 0) {
        rc = spec_fail(&c, NULL, "the grid has more than %d points", HYDRA_SWEEP_MAX_POINTS);
        goto done;
    }
    if (spec->is_days > 0) {
        int from, to;
        if (!spec->from[0] || !spec->to[0]) {
            rc = spec_fail(&c, NULL, "walk_forward needs from: and to:");
            goto done;
        }
        parse_date(spec->from, &from);
        parse_date(spec->to, &to);
        int64_t d0 = hydra_days_from_date(from), dend = hydra_days_from_date(to);
        for (int w = 0;; w++) {
            int64_t s = d0 + (int64_t)w * spec->step_days;
            int64_t oos_end = s + spec->is_days + spec->oos_days - 1;
            if (oos_end > dend)
                break;
            if (w >= 512) {
                rc = spec_fail(&c, NULL, "walk_forward: more than 512 windows");
                goto done;
            }
            spec->win_from[w] = date_from_days(s);
            spec->win_is_to[w] = date_from_days(s + spec->is_days - 1);
            spec->win_oos_from[w] = date_from_days(s + spec->is_days);
            spec->win_to[w] = date_from_days(oos_end);
            spec->n_windows = w + 1;
        }
        if (spec->n_windows == 0) {
            rc = spec_fail(&c, NULL, "walk_forward: %s..%s is shorter than one window (%d + %d days)",
                           spec->from, spec->to, spec->is_days, spec->oos_days);
            goto done;
        }
    }
    if (hydra_sweep_n_tasks(spec) > 100L * HYDRA_SWEEP_MAX_POINTS) {
        rc = spec_fail(&c, NULL, "too many tasks (%ld)", hydra_sweep_n_tasks(spec));
        goto done;
    }
    /* The hash covers what every task means, not the file's text: a comment changes nothing. */
    unsigned long long h = 14695981039346656037ULL;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s|%s|%s|%s|%s|%s|%d|%ld|%d", spec->config_dir, spec->plugins_dir,
             spec->bot, spec->from, spec->to, spec->rank_by, spec->random, spec->n_points,
             spec->n_windows);
    h = fnv(h, buf);
    for (int w = 0; w < spec->n_windows; w++) {
        snprintf(buf, sizeof buf, "|w%d:%d", spec->win_from[w], spec->win_to[w]);
        h = fnv(h, buf);
    }
    for (long p = 0; p < spec->n_points; p++) {
        point_label(spec, p, buf, sizeof buf);
        h = fnv(fnv(h, "|"), buf);
    }
    spec->hash = h;
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

void hydra_sweep_spec_free(hydra_sweep_spec *spec)
{
    for (int a = 0; a < spec->n_axes; a++) {
        free(spec->axes[a].values);
        spec->axes[a].values = NULL;
    }
}

/* ---- applying a point to the loaded configuration ------------------------------ */

typedef struct point_ctx {
    const hydra_sweep_spec *spec;
    long point;
} point_ctx;

static int set_number(const char *key, const char *text, double lo, int integer, double *out,
                      char *err, size_t errsz)
{
    double v;
    long long iv;
    if (integer ? parse_ll_text(text, &iv) != 0 : parse_double_text(text, &v) != 0) {
        snprintf(err, errsz, "risk.%s: expected %s, got \"%s\"", key,
                 integer ? "an integer" : "a number", text);
        return HYDRA_EINVAL;
    }
    if (integer)
        v = (double)iv;
    if (v < lo) {
        snprintf(err, errsz, "risk.%s: expected at least %g, got %s", key, lo, text);
        return HYDRA_EINVAL;
    }
    *out = v;
    return 0;
}

static int apply_risk(hydra_config *cfg, hydra_bot_cfg *b, const char *key, const char *text,
                      char *err, size_t errsz)
{
    double v;
    int rc;
#define NUM(name, lo, integer, dst)                                                      \
    if (strcmp(key, name) == 0) {                                                        \
        if ((rc = set_number(key, text, lo, integer, &v, err, errsz)) != 0)              \
            return rc;                                                                   \
        dst;                                                                             \
        return 0;                                                                        \
    }
    NUM("stop_loss_pct", 0, 0, b->stop_loss_pct = v)
    NUM("take_profit_pct", 0, 0, b->take_profit_pct = v)
    NUM("time_stop_minutes", 0, 1, b->time_stop_minutes = (int)v)
    NUM("flatten_before_close_minutes", 0, 1, b->flatten_before_close_minutes = (int)v)
    NUM("max_trades_per_day", 1, 1, b->max_trades_per_day = (int)v)
    NUM("default_notional_usd", 0.01, 0, b->default_notional_usd = v)
    NUM("global_max_daily_loss_pct", 0.01, 0, cfg->settings.global_max_daily_loss_pct = v)
    NUM("max_notional_per_order", 0.01, 0, cfg->settings.max_notional_per_order = v)
    if (strcmp(key, "max_concurrent_positions") == 0) {
        if ((rc = set_number(key, text, 1, 1, &v, err, errsz)) != 0)
            return rc;
        if (v > HYDRA_MAX_BOT_POSITIONS) {
            snprintf(err, errsz, "risk.%s: at most %d, got %s", key, HYDRA_MAX_BOT_POSITIONS, text);
            return HYDRA_EINVAL;
        }
        b->max_concurrent_positions = (int)v;
        return 0;
    }
#undef NUM
    snprintf(err, errsz, "risk.%s: not a setting a sweep can vary", key);
    return HYDRA_EINVAL;
}

/* The configure hook of hydra_backtest_open: the point's values over the loaded config. */
static int apply_point(void *vctx, hydra_config *cfg, char *err, size_t errsz)
{
    const point_ctx *pc = vctx;
    const hydra_sweep_spec *spec = pc->spec;
    hydra_bot_cfg *b = (hydra_bot_cfg *)hydra_config_find_bot(cfg, spec->bot);
    if (b == NULL) {
        snprintf(err, errsz, "%s/bots.yaml: no bot \"%s\" (named by bot: in %s)", cfg->dir,
                 spec->bot, spec->path);
        return HYDRA_ECONFIG;
    }
    for (int a = 0; a < spec->n_axes; a++) {
        char text[64];
        point_value(spec, pc->point, a, text, sizeof text);
        if (spec->axes[a].kind == 'r') {
            int rc = apply_risk(cfg, b, spec->axes[a].key, text, err, errsz);
            if (rc != 0)
                return rc;
            continue;
        }
        hydra_param *p = NULL;
        for (int i = 0; i < b->n_params; i++)
            if (strcmp(b->params[i].key, spec->axes[a].key) == 0)
                p = &b->params[i];
        if (p == NULL) {
            /* A key the bot was never given is most likely a typo the bot would ignore. */
            snprintf(err, errsz, "signal.params.%s: bot %s has no such param in %s/bots.yaml",
                     spec->axes[a].key, spec->bot, cfg->dir);
            return HYDRA_ECONFIG;
        }
        long long iv;
        double dv;
        memset(p->s, 0, sizeof p->s);
        snprintf(p->s, sizeof p->s, "%s", text);
        p->type = HYDRA_PARAM_STRING;
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            p->type = HYDRA_PARAM_BOOL;
            p->b = text[0] == 't';
        } else if (parse_ll_text(text, &iv) == 0) {
            p->type = HYDRA_PARAM_INT;
            p->i = iv;
            p->d = (double)iv;
        } else if (parse_double_text(text, &dv) == 0) {
            p->type = HYDRA_PARAM_DOUBLE;
            p->d = dv;
        }
    }
    return 0;
}

/* ---- the results file ------------------------------------------------------------ */

static const char *SCHEMA =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS results ("
    " task INTEGER PRIMARY KEY, point INTEGER NOT NULL, window INTEGER NOT NULL,"
    " segment TEXT NOT NULL, from_date TEXT, to_date TEXT, params TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('ok','failed')), reason TEXT,"
    " initial_cash REAL, start_equity REAL, end_equity REAL, total_return REAL, cagr REAL,"
    " sharpe REAL, sortino REAL, max_drawdown REAL, win_rate REAL, profit_factor REAL,"
    " exposure REAL, trades INTEGER, wins INTEGER, bars INTEGER, elapsed_ms REAL,"
    " equity BLOB);"
    "CREATE INDEX IF NOT EXISTS results_point ON results(point);";

/* The columns compared between runs (everything but the wall time). */
#define RESULT_COLS                                                                             \
    "task, point, window, segment, from_date, to_date, params, status, reason, initial_cash, " \
    "start_equity, end_equity, total_return, cagr, sharpe, sortino, max_drawdown, win_rate, "   \
    "profit_factor, exposure, trades, wins, bars, elapsed_ms, equity"

static int db_open(const char *path, sqlite3 **db, char *err, size_t errsz)
{
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errsz, "%s: cannot open: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return HYDRA_EIO;
    }
    sqlite3_busy_timeout(*db, 60000);
    char *msg = NULL;
    if (sqlite3_exec(*db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errsz, "%s: %s", path, msg ? msg : "cannot create the tables");
        sqlite3_free(msg);
        sqlite3_close(*db);
        *db = NULL;
        return HYDRA_EIO;
    }
    return 0;
}

static int meta_get(sqlite3 *db, const char *key, char *out, size_t outsz)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return HYDRA_EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return found ? 0 : HYDRA_ENOTFOUND;
}

static int meta_set(sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return HYDRA_EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HYDRA_EIO;
    sqlite3_finalize(st);
    return rc;
}

typedef struct task_row {
    long task, point;
    int window;
    const char *segment;
    int from, to;
    char params[1024];
    int ok;
    char reason[1024];
    double initial_cash;
    hydra_bt_metrics m;
    uint64_t bars;
    double elapsed_ms;
    const void *equity;
    size_t equity_len;
} task_row;

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static int insert_row(sqlite3 *db, const task_row *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO results (" RESULT_COLS ") VALUES "
                               "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return HYDRA_EIO;
    char from[11] = "", to[11] = "";
    if (r->from)
        fmt_date(r->from, from);
    if (r->to)
        fmt_date(r->to, to);
    int i = 1;
    sqlite3_bind_int64(st, i++, r->task);
    sqlite3_bind_int64(st, i++, r->point);
    sqlite3_bind_int(st, i++, r->window);
    sqlite3_bind_text(st, i++, r->segment, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->params, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, r->ok ? "ok" : "failed", -1, SQLITE_STATIC);
    if (r->ok) {
        sqlite3_bind_null(st, i++);
        bind_real(st, i++, r->initial_cash);
        bind_real(st, i++, r->m.start_equity);
        bind_real(st, i++, r->m.end_equity);
        bind_real(st, i++, r->m.total_return);
        bind_real(st, i++, r->m.cagr);
        bind_real(st, i++, r->m.sharpe);
        bind_real(st, i++, r->m.sortino);
        bind_real(st, i++, r->m.max_drawdown);
        bind_real(st, i++, r->m.win_rate);
        bind_real(st, i++, r->m.profit_factor);
        bind_real(st, i++, r->m.exposure);
        sqlite3_bind_int(st, i++, r->m.trades);
        sqlite3_bind_int(st, i++, r->m.wins);
        sqlite3_bind_int64(st, i++, (sqlite3_int64)r->bars);
    } else {
        sqlite3_bind_text(st, i++, r->reason, -1, SQLITE_STATIC);
        i += 14; /* initial_cash .. bars stay NULL */
    }
    sqlite3_bind_double(st, i++, r->elapsed_ms);
    if (r->equity != NULL)
        sqlite3_bind_blob(st, i++, r->equity, (int)r->equity_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i++);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HYDRA_EIO;
    sqlite3_finalize(st);
    return rc;
}

/* One day of a stored equity curve: the blob is an array of these, little or not, this machine's. */
typedef struct eq_point {
    int32_t date;
    int32_t pad;
    double equity;
} eq_point;

/* ---- one task, in the child -------------------------------------------------------- */

typedef struct run_opts {
    const hydra_sweep_spec *spec;
    char db_path[HYDRA_PATH_LEN];
    char cache_dir[HYDRA_PATH_LEN];
} run_opts;

static void run_task(const run_opts *ro, long t, task_row *r)
{
    const hydra_sweep_spec *spec = ro->spec;
    memset(r, 0, sizeof *r);
    r->task = t;
    task_of(spec, t, &r->point, &r->window, &r->segment, &r->from, &r->to);
    point_label(spec, r->point, r->params, sizeof r->params);
    int64_t t0 = hydra_monotonic_us();
    point_ctx pc = {spec, r->point};
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s", spec->config_dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", spec->plugins_dir);
    snprintf(opt.cache_dir, sizeof opt.cache_dir, "%s", ro->cache_dir);
    if (r->from)
        fmt_date(r->from, opt.from);
    if (r->to)
        fmt_date(r->to, opt.to);
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    opt.configure = apply_point;
    opt.configure_ctx = &pc;
    hydra_backtest *bt = NULL;
    int code = 0;
    int rc = hydra_backtest_open(&opt, &bt, r->reason, sizeof r->reason, &code);
    if (rc == 0)
        rc = hydra_backtest_run(bt, r->reason, sizeof r->reason);
    const hydra_bt_result *res = rc == 0 ? hydra_backtest_result(bt) : NULL;
    size_t n_days = res != NULL ? res->n_days : 0;
    int *dates = calloc(n_days + 1, sizeof *dates);
    double *eq = calloc(n_days + 1, sizeof *eq);
    eq_point *curve = calloc(n_days + 1, sizeof *curve);
    if (rc != 0) {
        if (!r->reason[0])
            snprintf(r->reason, sizeof r->reason, "%s", hydra_strerror(rc));
    } else if (dates == NULL || eq == NULL || curve == NULL) {
        snprintf(r->reason, sizeof r->reason, "out of memory for %zu days", res->n_days);
    } else {
        for (size_t i = 0; i < res->n_days; i++) {
            dates[i] = res->dates[i + 1]; /* point 0 is the start */
            eq[i] = res->equity[0][i + 1];
            curve[i].date = dates[i];
            curve[i].equity = eq[i];
        }
        hydra_bt_compute_metrics(dates, eq, res->n_days, res->trades, res->n_trades, NULL,
                                 res->exposed_bars[0], res->bars, &r->m);
        r->ok = 1;
        r->initial_cash = res->initial_cash;
        r->bars = res->bars;
        /* Only out-of-sample curves are stitched; the others would only cost space. */
        if (strcmp(r->segment, "oos") == 0) {
            r->equity = curve;
            r->equity_len = res->n_days * sizeof *curve;
        }
    }
    r->elapsed_ms = (double)(hydra_monotonic_us() - t0) / 1000.0;
    sqlite3 *db = NULL;
    char err[512];
    if (db_open(ro->db_path, &db, err, sizeof err) == 0) {
        if (insert_row(db, r) != 0)
            fprintf(stderr, "hydra-host sweep: task %ld: %s: %s\n", t, ro->db_path, sqlite3_errmsg(db));
        sqlite3_close(db);
    } else {
        fprintf(stderr, "hydra-host sweep: task %ld: %s\n", t, err);
    }
    /* The row is written: tell the parent so it does not write a failure over it. */
    r->equity = NULL;
    free(curve);
    free(dates);
    free(eq);
    hydra_backtest_close(bt);
}

/* ---- the pool ---------------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct running {
    pid_t pid;
    long task;
} running;

static void show_progress(long done, long failed, long total, int64_t t0)
{
    double secs = (double)(hydra_monotonic_us() - t0) / 1e6;
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int filled = total > 0 ? (int)(30.0 * (double)done / (double)total) : 30;
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %ld/%ld done, %ld failed, %.1f/s, ETA %.0fs ", bar, done, total, failed,
            rate, eta);
    fflush(stderr);
}

static void describe_status(int status, char *buf, size_t bufsz)
{
    if (WIFSIGNALED(status))
        snprintf(buf, bufsz, "the backtest process (bot code included) was killed by signal %d (SIG%s)",
                 WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(buf, bufsz, "the backtest process exited with status %d without a result",
                 WEXITSTATUS(status));
}

/* 1 if the task has a row (a child wrote it before it died, or it ran before). */
static int has_row(sqlite3 *db, long t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM results WHERE task = ?", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, t);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int row_failed(sqlite3 *db, long t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT status = 'failed' FROM results WHERE task = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, t);
    int failed = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return failed;
}

/*
 * Runs every task of shard k/n without a row, `jobs` at a time. Returns 0
 * when every task has a row, 1 if interrupted; *n_failed counts failed rows
 * written in this run.
 */
static int run_pool(const run_opts *ro, sqlite3 *db, int k, int n, int jobs, int show,
                    long *n_run, long *n_failed)
{
    const hydra_sweep_spec *spec = ro->spec;
    long total = hydra_sweep_n_tasks(spec);
    long n_tasks = 0, done = 0, failed = 0;
    /* Tasks to run: those of this shard without a row. */
    long *queue = malloc(sizeof *queue * (size_t)(total / n + 2));
    running *run = calloc((size_t)jobs, sizeof *run);
    if (queue == NULL || run == NULL) {
        free(queue);
        free(run);
        return HYDRA_ENOMEM;
    }
    for (long t = k; t < total; t += n)
        if (!has_row(db, t))
            queue[n_tasks++] = t;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    g_stop = 0;
    int64_t t0 = hydra_monotonic_us();
    long next = 0;
    int active = 0;
    fflush(NULL);
    while ((next < n_tasks && !g_stop) || active > 0) {
        while (next < n_tasks && active < jobs && !g_stop) {
            long t = queue[next++];
            pid_t pid = fork();
            if (pid < 0) {
                next--;
                break;
            }
            if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                task_row r;
                run_task(ro, t, &r);
                fflush(NULL);
                _exit(0);
            }
            for (int i = 0; i < jobs; i++)
                if (run[i].pid == 0) {
                    run[i].pid = pid;
                    run[i].task = t;
                    break;
                }
            active++;
        }
        if (active == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (g_stop)
                    for (int i = 0; i < jobs; i++)
                        if (run[i].pid > 0)
                            kill(run[i].pid, SIGTERM);
                continue;
            }
            break;
        }
        for (int i = 0; i < jobs; i++) {
            if (run[i].pid != pid)
                continue;
            long t = run[i].task;
            run[i].pid = 0;
            active--;
            if (g_stop && !has_row(db, t))
                break; /* interrupted: no row, so a resume runs it again */
            if (!has_row(db, t)) {
                task_row r;
                memset(&r, 0, sizeof r);
                r.task = t;
                task_of(spec, t, &r.point, &r.window, &r.segment, &r.from, &r.to);
                point_label(spec, r.point, r.params, sizeof r.params);
                describe_status(status, r.reason, sizeof r.reason);
                insert_row(db, &r);
            }
            if (row_failed(db, t))
                failed++;
            done++;
            break;
        }
        if (show)
            show_progress(done, failed, n_tasks, t0);
    }
    if (show)
        fputc('\n', stderr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(queue);
    free(run);
    *n_run = done;
    *n_failed = failed;
    return g_stop ? 1 : 0;
}

/* ---- summaries ---------------------------------------------------------------------- */

static const char *order_of(const char *rank_by)
{
    return strcmp(rank_by, "max_drawdown") == 0 ? "ASC" : "DESC";
}

static void print_num(FILE *out, sqlite3_stmt *st, int col, const char *fmt, double scale)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        fprintf(out, fmt[1] == '9' ? "%9s" : "%8s", "-");
    else
        fprintf(out, fmt, sqlite3_column_double(st, col) * scale);
}

static void print_ranking(sqlite3 *db, const char *rank_by, int top, FILE *out)
{
    char sql[1024];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), SUM(status = 'ok'), SUM(status = 'failed') FROM results "
             "WHERE segment = 'full'");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        fprintf(out, "Points: %d (%d ok, %d failed). Ranked by %s:\n", sqlite3_column_int(st, 0),
                sqlite3_column_int(st, 1), sqlite3_column_int(st, 2), rank_by);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "SELECT point, sharpe, total_return, max_drawdown, trades, params FROM results "
             "WHERE segment = 'full' AND status = 'ok' ORDER BY %s %s NULLS LAST, point LIMIT %d",
             rank_by, order_of(rank_by), top);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    fprintf(out, "%4s %6s %8s %9s %8s %7s  %s\n", "rank", "point", "sharpe", "return%", "maxdd%",
            "trades", "params");
    for (int rank = 1; sqlite3_step(st) == SQLITE_ROW; rank++) {
        fprintf(out, "%4d %6d ", rank, sqlite3_column_int(st, 0));
        print_num(out, st, 1, "%8.3f", 1);
        fputc(' ', out);
        print_num(out, st, 2, "%9.2f", 100);
        fputc(' ', out);
        print_num(out, st, 3, "%8.2f", 100);
        fprintf(out, " %7d  %s\n", sqlite3_column_int(st, 4), sqlite3_column_text(st, 5));
    }
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "SELECT point, params, reason FROM results WHERE status = 'failed' ORDER BY task LIMIT 5");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW)
        fprintf(out, "failed: point %d (%s): %s\n", sqlite3_column_int(st, 0),
                sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
}

/*
 * Walk-forward: in each window the point ranked first in sample is scored
 * out of sample; its out-of-sample curves are chained (each window starts
 * from the last one's end equity) into one curve, stored in wf_equity and
 * summarised, beside the in-sample figure it was chosen on.
 */
static int walk_forward(sqlite3 *db, const char *rank_by, FILE *out)
{
    char sql[1024];
    sqlite3_stmt *st, *oos;
    sqlite3_exec(db,
                 "DROP TABLE IF EXISTS walk_forward; DROP TABLE IF EXISTS wf_equity;"
                 "CREATE TABLE walk_forward (window INTEGER PRIMARY KEY, is_from TEXT, is_to TEXT,"
                 " oos_from TEXT, oos_to TEXT, point INTEGER, params TEXT, is_score REAL,"
                 " oos_score REAL, oos_return REAL);"
                 "CREATE TABLE wf_equity (date INTEGER PRIMARY KEY, equity REAL NOT NULL);",
                 NULL, NULL, NULL);
    snprintf(sql, sizeof sql,
             "SELECT r.window, r.point, r.params, r.%s, r.from_date, r.to_date FROM results r "
             "WHERE r.segment = 'is' AND r.status = 'ok' AND r.task = (SELECT r2.task FROM results "
             "r2 WHERE r2.segment = 'is' AND r2.status = 'ok' AND r2.window = r.window ORDER BY "
             "r2.%s %s NULLS LAST, r2.point LIMIT 1) ORDER BY r.window",
             rank_by, rank_by, order_of(rank_by));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return HYDRA_EIO;
    snprintf(sql, sizeof sql,
             "SELECT %s, total_return, equity, initial_cash, from_date, to_date, status, reason "
             "FROM results WHERE segment = 'oos' AND window = ? AND point = ?",
             rank_by);
    if (sqlite3_prepare_v2(db, sql, -1, &oos, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return HYDRA_EIO;
    }
    size_t cap = 0, n = 0;
    int *dates = NULL;
    double *eq = NULL, level = 0, sum_is = 0, sum_oos = 0;
    int windows = 0;
    fprintf(out, "Walk-forward (chosen in sample by %s, scored out of sample):\n", rank_by);
    fprintf(out, "%3s %-23s %-23s %9s %9s %9s  %s\n", "win", "in sample", "out of sample", "IS",
            "OOS", "OOS ret%", "params");
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int w = sqlite3_column_int(st, 0);
        sqlite3_reset(oos);
        sqlite3_bind_int(oos, 1, w);
        sqlite3_bind_int(oos, 2, sqlite3_column_int(st, 1));
        if (sqlite3_step(oos) != SQLITE_ROW)
            continue;
        double is_score = sqlite3_column_double(st, 3);
        double oos_score = sqlite3_column_double(oos, 0), oos_ret = sqlite3_column_double(oos, 1);
        int oos_ok = strcmp((const char *)sqlite3_column_text(oos, 6), "ok") == 0;
        fprintf(out, "%3d %s..%s %s..%s %9.3f ", w, sqlite3_column_text(st, 4),
                sqlite3_column_text(st, 5), sqlite3_column_text(oos, 4), sqlite3_column_text(oos, 5),
                is_score);
        if (oos_ok)
            fprintf(out, "%9.3f %9.2f  %s\n", oos_score, oos_ret * 100, sqlite3_column_text(st, 2));
        else
            fprintf(out, "%9s %9s  %s (out of sample failed: %s)\n", "-", "-",
                    sqlite3_column_text(st, 2), sqlite3_column_text(oos, 7));
        sqlite3_stmt *ins;
        if (sqlite3_prepare_v2(db, "INSERT INTO walk_forward VALUES (?,?,?,?,?,?,?,?,?,?)", -1, &ins,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int(ins, 1, w);
            sqlite3_bind_value(ins, 2, sqlite3_column_value(st, 4));
            sqlite3_bind_value(ins, 3, sqlite3_column_value(st, 5));
            sqlite3_bind_value(ins, 4, sqlite3_column_value(oos, 4));
            sqlite3_bind_value(ins, 5, sqlite3_column_value(oos, 5));
            sqlite3_bind_value(ins, 6, sqlite3_column_value(st, 1));
            sqlite3_bind_value(ins, 7, sqlite3_column_value(st, 2));
            sqlite3_bind_value(ins, 8, sqlite3_column_value(st, 3));
            sqlite3_bind_value(ins, 9, sqlite3_column_value(oos, 0));
            sqlite3_bind_value(ins, 10, sqlite3_column_value(oos, 1));
            sqlite3_step(ins);
            sqlite3_finalize(ins);
        }
        if (!oos_ok)
            continue;
        windows++;
        sum_is += is_score;
        sum_oos += oos_score;
        const eq_point *c = sqlite3_column_blob(oos, 2);
        size_t m = (size_t)sqlite3_column_bytes(oos, 2) / sizeof *c;
        double cash = sqlite3_column_double(oos, 3);
        if (level == 0)
            level = cash;
        if (n + m + 1 > cap) {
            size_t nc = (n + m + 1) * 2;
            int *nd = realloc(dates, nc * sizeof *nd);
            if (nd != NULL)
                dates = nd;
            double *ne = realloc(eq, nc * sizeof *ne);
            if (ne != NULL)
                eq = ne;
            if (nd == NULL || ne == NULL)
                break;
            cap = nc;
        }
        /* The window's account starts at `cash`; the chain continues at `level`. */
        double scale = cash > 0 ? level / cash : 1, last = level;
        for (size_t i = 0; i < m; i++) {
            eq_point e;
            memcpy(&e, (const char *)c + i * sizeof e, sizeof e);
            dates[n] = e.date;
            eq[n] = e.equity * scale;
            last = eq[n++];
        }
        level = last;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(oos);
    if (n > 0) {
        sqlite3_stmt *ins;
        if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO wf_equity VALUES (?, ?)", -1, &ins,
                               NULL) == SQLITE_OK) {
            for (size_t i = 0; i < n; i++) {
                sqlite3_reset(ins);
                sqlite3_bind_int(ins, 1, dates[i]);
                sqlite3_bind_double(ins, 2, eq[i]);
                sqlite3_step(ins);
            }
            sqlite3_finalize(ins);
        }
        hydra_bt_metrics m;
        hydra_bt_compute_metrics(dates, eq, n, NULL, 0, NULL, 0, 0, &m);
        fprintf(out,
                "Stitched out of sample (%d windows, %zu days): return %.2f%%, CAGR %.2f%%, "
                "sharpe %.3f, max drawdown %.2f%%\n",
                windows, n, m.total_return * 100, m.cagr * 100, m.sharpe, m.max_drawdown * 100);
        fprintf(out, "Mean %s of the chosen points: in sample %.3f, out of sample %.3f%s\n", rank_by,
                sum_is / windows, sum_oos / windows,
                sum_oos / windows < sum_is / windows ? " (the gap is the overfit)" : "");
    } else {
        fprintf(out, "No window has an out-of-sample result.\n");
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    free(dates);
    free(eq);
    return 0;
}

static void summarize(sqlite3 *db, int top, FILE *out)
{
    char rank_by[32] = "sharpe", windows[16] = "0";
    meta_get(db, "rank_by", rank_by, sizeof rank_by);
    if (!in_list(RANK_KEYS, rank_by))
        snprintf(rank_by, sizeof rank_by, "sharpe");
    meta_get(db, "windows", windows, sizeof windows);
    if (atoi(windows) > 0)
        walk_forward(db, rank_by, out);
    else
        print_ranking(db, rank_by, top, out);
}

/* ---- emit --------------------------------------------------------------------------- */

static int emit(const char *what, const char *spec_path, int shards, const char *dir,
                const char *image, const char *claim, FILE *out, char *err, size_t errsz)
{
    char exe[PATH_MAX], spec_abs[PATH_MAX], cwd[PATH_MAX], dir_abs[PATH_MAX * 2];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || realpath(spec_path, spec_abs) == NULL || getcwd(cwd, sizeof cwd) == NULL) {
        snprintf(err, errsz, "%s: %s", spec_path, strerror(errno));
        return HYDRA_EIO;
    }
    exe[len] = '\0';
    if (dir[0] == '/')
        snprintf(dir_abs, sizeof dir_abs, "%s", dir);
    else
        snprintf(dir_abs, sizeof dir_abs, "%s/%s", cwd, dir);
    if (strcmp(what, "slurm") == 0) {
        fprintf(out,
                "#!/bin/sh\n"
                "# hydra-host sweep as a Slurm array: one shard a task, each writing its own\n"
                "# results file to the shared directory. Merge them with:\n"
                "#   %s sweep collect %s\n"
                "#SBATCH --job-name=hydra-sweep\n"
                "#SBATCH --array=0-%d\n"
                "#SBATCH --ntasks=1\n"
                "#SBATCH --chdir=%s\n"
                "#SBATCH --output=%s/shard-%%a.log\n"
                "set -eu\n"
                "exec %s sweep %s --shard \"$SLURM_ARRAY_TASK_ID/%d\" \\\n"
                "    --out \"%s/shard-$SLURM_ARRAY_TASK_ID.db\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\" --quiet\n",
                exe, dir_abs, shards - 1, cwd, dir_abs, exe, spec_abs, shards, dir_abs);
        return 0;
    }
    if (strcmp(what, "k8s") == 0) {
        fprintf(out,
                "# hydra-host sweep as a Kubernetes Indexed Job: one shard a pod, each writing\n"
                "# its own results file to the shared volume; merge with `hydra-host sweep collect %s`.\n"
                "apiVersion: batch/v1\n"
                "kind: Job\n"
                "metadata:\n"
                "  name: hydra-sweep\n"
                "spec:\n"
                "  completionMode: Indexed\n"
                "  completions: %d\n"
                "  parallelism: %d\n"
                "  backoffLimitPerIndex: 2\n"
                "  template:\n"
                "    spec:\n"
                "      restartPolicy: Never\n"
                "      containers:\n"
                "        - name: sweep\n"
                "          image: %s\n"
                "          workingDir: %s\n"
                "          command: [\"sh\", \"-c\"]\n"
                "          args:\n"
                "            - exec hydra-host sweep %s --shard \"$JOB_COMPLETION_INDEX/%d\" --out "
                "\"%s/shard-$JOB_COMPLETION_INDEX.db\" --jobs 1 --quiet\n"
                "          volumeMounts:\n"
                "            - name: results\n"
                "              mountPath: %s\n"
                "      volumes:\n"
                "        - name: results\n"
                "          persistentVolumeClaim:\n"
                "            claimName: %s\n",
                dir_abs, shards, shards, image, cwd, spec_abs, shards, dir_abs, dir_abs, claim);
        return 0;
    }
    snprintf(err, errsz, "--emit: expected slurm or k8s, got \"%s\"", what);
    return HYDRA_EINVAL;
}

/* ---- collect ------------------------------------------------------------------------ */

static int collect(const char *dir, const char *out_path, int top, FILE *out, char *err, size_t errsz)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errsz, "%s: %s", dir, strerror(errno));
        return HYDRA_EIO;
    }
    char hash[64] = "", rank_by[32] = "", windows[16] = "", ntasks[32] = "";
    int n = -1, rc = 0;
    char (*files)[HYDRA_PATH_LEN * 2] = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".db") != 0)
            continue;
        char path[HYDRA_PATH_LEN * 2];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            sqlite3_close(db);
            continue;
        }
        char h[64], k[16], nn[16], rb[32], w[16], nt[32];
        if (meta_get(db, "spec_hash", h, sizeof h) != 0 || meta_get(db, "shard_k", k, sizeof k) != 0 ||
            meta_get(db, "shard_n", nn, sizeof nn) != 0) {
            sqlite3_close(db);
            continue; /* not a shard's file (the merged output, say) */
        }
        meta_get(db, "rank_by", rb, sizeof rb);
        meta_get(db, "windows", w, sizeof w);
        meta_get(db, "tasks", nt, sizeof nt);
        sqlite3_close(db);
        int kk = atoi(k), ni = atoi(nn);
        if (n < 0) {
            n = ni;
            if (n < 1 || n > 100000) {
                snprintf(err, errsz, "%s: shard count %d out of range", path, n);
                rc = HYDRA_EINVAL;
                break;
            }
            files = calloc((size_t)n, sizeof *files);
            if (files == NULL) {
                rc = HYDRA_ENOMEM;
                break;
            }
            snprintf(hash, sizeof hash, "%s", h);
            snprintf(rank_by, sizeof rank_by, "%s", rb);
            snprintf(windows, sizeof windows, "%s", w);
            snprintf(ntasks, sizeof ntasks, "%s", nt);
        } else if (ni != n || strcmp(h, hash) != 0) {
            snprintf(err, errsz, "%s: shard of another sweep (%d shards, spec %s; expected %d, %s)",
                     path, ni, h, n, hash);
            rc = HYDRA_EINVAL;
            break;
        }
        if (kk < 0 || kk >= n) {
            snprintf(err, errsz, "%s: shard %d is not in 0..%d", path, kk, n - 1);
            rc = HYDRA_EINVAL;
            break;
        }
        if (files[kk][0]) {
            snprintf(err, errsz, "%s and %s both hold shard %d of %d", files[kk], path, kk, n);
            rc = HYDRA_EINVAL;
            break;
        }
        snprintf(files[kk], sizeof files[kk], "%s", path);
    }
    closedir(d);
    if (rc == 0 && n < 0) {
        snprintf(err, errsz, "%s: no shard results (*.db with sweep metadata)", dir);
        rc = HYDRA_ENOTFOUND;
    }
    if (rc != 0) {
        free(files);
        return rc;
    }
    /* Every shard must be there and complete, or the merge would rank a part as the whole. */
    size_t off = 0;
    long total = atol(ntasks);
    for (int k = 0; k < n && off < errsz; k++) {
        long expected = total > k ? (total - k + n - 1) / n : 0;
        if (!files[k][0]) {
            off += (size_t)snprintf(err + off, errsz - off, "%sshard %d of %d: missing (no results file in %s)",
                                    off ? "\n" : "", k, n, dir);
            continue;
        }
        sqlite3 *db = NULL;
        long have = -1;
        if (sqlite3_open_v2(files[k], &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM results", -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW)
                have = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
        if (have != expected)
            off += (size_t)snprintf(err + off, errsz - off,
                                    "%sshard %d of %d: incomplete, %ld of %ld tasks in %s (run it again: "
                                    "it resumes)", off ? "\n" : "", k, n, have, expected, files[k]);
    }
    if (off > 0) {
        free(files);
        return HYDRA_ENOTFOUND;
    }
    /* A fresh file, then rename: a reader never sees a half merge. */
    char tmp[HYDRA_PATH_LEN * 2 + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    unlink(tmp);
    sqlite3 *db = NULL;
    if ((rc = db_open(tmp, &db, err, errsz)) != 0) {
        free(files);
        return rc;
    }
    sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    char *msg = NULL;
    for (int k = 0; k < n && rc == 0; k++) {
        char *sql = sqlite3_mprintf("ATTACH %Q AS s; INSERT INTO results (" RESULT_COLS ") SELECT "
                                    RESULT_COLS " FROM s.results; DETACH s;", files[k]);
        if (sql == NULL || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errsz, "%s: %s", files[k], msg ? msg : "out of memory");
            rc = HYDRA_EIO;
        }
        sqlite3_free(msg);
        msg = NULL;
        sqlite3_free(sql);
    }
    char nstr[16];
    snprintf(nstr, sizeof nstr, "%d", n);
    if (rc == 0 && (meta_set(db, "spec_hash", hash) || meta_set(db, "rank_by", rank_by) ||
                    meta_set(db, "windows", windows) || meta_set(db, "tasks", ntasks) ||
                    meta_set(db, "merged_from_shards", nstr))) {
        snprintf(err, errsz, "%s: %s", tmp, sqlite3_errmsg(db));
        rc = HYDRA_EIO;
    }
    if (rc == 0)
        summarize(db, top, out);
    sqlite3_close(db);
    if (rc == 0 && rename(tmp, out_path) != 0) {
        snprintf(err, errsz, "%s: %s", out_path, strerror(errno));
        rc = HYDRA_EIO;
    }
    if (rc != 0)
        unlink(tmp);
    else
        fprintf(out, "Merged %d shards into %s\n", n, out_path);
    free(files);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

void hydra_sweep_usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-host sweep SPEC.yaml [--out FILE] [--jobs N] [--shard K/N] [--cache DIR]\n"
            "                        [--top N] [--quiet]\n"
            "       hydra-host sweep SPEC.yaml --emit slurm|k8s --shards N --dir SHARED_DIR\n"
            "                        [--image IMAGE] [--claim PVC]\n"
            "       hydra-host sweep collect DIR [--out FILE] [--top N]\n"
            "Backtests every point of the spec's grid (or random samples) over one bot's\n"
            "signal.params and risk settings, --jobs at a time (default: every core), into\n"
            "one SQLite file (default sweep.db). A second run resumes: tasks with a result\n"
            "are not run again. --shard K/N runs only tasks t with t %% N == K.\n");
}

static int parse_shard(const char *s, int *k, int *n)
{
    char tail;
    if (sscanf(s, "%d/%d%c", k, n, &tail) != 2 || *n < 1 || *n > 100000 || *k < 0 || *k >= *n)
        return -1;
    return 0;
}

int hydra_sweep_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},   {"jobs", required_argument, NULL, 'j'},
        {"shard", required_argument, NULL, 's'}, {"cache", required_argument, NULL, 'k'},
        {"top", required_argument, NULL, 't'},   {"quiet", no_argument, NULL, 'q'},
        {"emit", required_argument, NULL, 'e'},  {"shards", required_argument, NULL, 'N'},
        {"dir", required_argument, NULL, 'd'},   {"image", required_argument, NULL, 'i'},
        {"claim", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL, *emit_what = NULL, *dir = NULL, *image = "hydra:latest",
               *claim = "hydra-sweep-results";
    char cache[HYDRA_PATH_LEN] = "";
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int k = 0, n = 1, sharded = 0, quiet = 0, top = 10, shards = 0, ch;
    char *end;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out_path = optarg; break;
        case 'k': snprintf(cache, sizeof cache, "%s", optarg); break;
        case 'q': quiet = 1; break;
        case 'e': emit_what = optarg; break;
        case 'd': dir = optarg; break;
        case 'i': image = optarg; break;
        case 'c': claim = optarg; break;
        case 'j':
        case 't':
        case 'N': {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 100000) {
                fprintf(stderr, "hydra-host sweep: --%s: expected a positive integer, got \"%s\"\n",
                        ch == 'j' ? "jobs" : ch == 't' ? "top" : "shards", optarg);
                return 2;
            }
            if (ch == 'j') jobs = v;
            else if (ch == 't') top = (int)v;
            else shards = (int)v;
            break;
        }
        case 's':
            if (parse_shard(optarg, &k, &n) != 0) {
                fprintf(stderr, "hydra-host sweep: --shard: expected K/N with 0 <= K < N, got \"%s\"\n",
                        optarg);
                return 2;
            }
            sharded = 1;
            break;
        case 'h': hydra_sweep_usage(stdout); return 0;
        default: hydra_sweep_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        hydra_sweep_usage(stderr);
        return 2;
    }
    char err[8192] = "";
    if (strcmp(argv[optind], "collect") == 0) {
        if (optind + 1 >= argc) {
            fprintf(stderr, "hydra-host sweep collect: the shared directory is missing\n");
            return 2;
        }
        char merged[HYDRA_PATH_LEN * 2];
        snprintf(merged, sizeof merged, "%s", out_path ? out_path : "sweep.db");
        int rc = collect(argv[optind + 1], merged, top, stdout, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "hydra-host sweep collect: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "hydra-host sweep: unexpected argument \"%s\"\n", argv[optind + 1]);
        return 2;
    }
    hydra_sweep_spec *spec = calloc(1, sizeof *spec);
    if (spec == NULL)
        return 1;
    int rc = hydra_sweep_spec_load(argv[optind], spec, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "hydra-host sweep: %s\n", err);
        hydra_sweep_spec_free(spec);
        free(spec);
        return 2;
    }
    int status = 0;
    if (emit_what != NULL) {
        if (shards < 1 || dir == NULL) {
            fprintf(stderr, "hydra-host sweep --emit: --shards N and --dir SHARED_DIR are needed\n");
            status = 2;
        } else {
            FILE *f = out_path ? fopen(out_path, "w") : stdout;
            if (f == NULL) {
                fprintf(stderr, "hydra-host sweep: %s: %s\n", out_path, strerror(errno));
                status = 1;
            } else {
                rc = emit(emit_what, argv[optind], shards, dir, image, claim, f, err, sizeof err);
                if (f != stdout && fclose(f) != 0)
                    rc = HYDRA_EIO;
                if (rc != 0) {
                    fprintf(stderr, "hydra-host sweep --emit: %s\n", err);
                    status = rc == HYDRA_EINVAL ? 2 : 1;
                }
            }
        }
        hydra_sweep_spec_free(spec);
        free(spec);
        return status;
    }

    run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.spec = spec;
    snprintf(ro.cache_dir, sizeof ro.cache_dir, "%s", cache);
    snprintf(ro.db_path, sizeof ro.db_path, "%s", out_path ? out_path : "sweep.db");
    sqlite3 *db = NULL;
    char hash[32], have[64], kstr[16], nstr[16], tstr[32], wstr[16];
    snprintf(hash, sizeof hash, "%016llx", spec->hash);
    snprintf(kstr, sizeof kstr, "%d", k);
    snprintf(nstr, sizeof nstr, "%d", n);
    snprintf(tstr, sizeof tstr, "%ld", hydra_sweep_n_tasks(spec));
    snprintf(wstr, sizeof wstr, "%d", spec->n_windows);
    if ((rc = db_open(ro.db_path, &db, err, sizeof err)) != 0) {
        fprintf(stderr, "hydra-host sweep: %s\n", err);
        status = 1;
        goto out;
    }
    /* A results file belongs to one sweep and one shard: resuming another would mix them. */
    if (meta_get(db, "spec_hash", have, sizeof have) == 0) {
        char hk[16] = "", hn[16] = "";
        meta_get(db, "shard_k", hk, sizeof hk);
        meta_get(db, "shard_n", hn, sizeof hn);
        if (strcmp(have, hash) != 0 || strcmp(hk, kstr) != 0 || strcmp(hn, nstr) != 0) {
            fprintf(stderr,
                    "hydra-host sweep: %s holds the results of another sweep or shard (spec %s, "
                    "shard %s/%s; this is spec %s, shard %s/%s): give another --out or delete it\n",
                    ro.db_path, have, hk, hn, hash, kstr, nstr);
            status = 2;
            goto out;
        }
    } else if (meta_set(db, "spec_hash", hash) || meta_set(db, "shard_k", kstr) ||
               meta_set(db, "shard_n", nstr) || meta_set(db, "tasks", tstr) ||
               meta_set(db, "windows", wstr) || meta_set(db, "rank_by", spec->rank_by) ||
               meta_set(db, "bot", spec->bot) || meta_set(db, "spec", spec->path)) {
        fprintf(stderr, "hydra-host sweep: %s: %s\n", ro.db_path, sqlite3_errmsg(db));
        status = 1;
        goto out;
    }
    int show = !quiet && isatty(STDERR_FILENO);
    if (!quiet)
        fprintf(stderr, "sweep %s: %ld points, %ld tasks%s, shard %d/%d, %ld jobs, results in %s\n",
                spec->path, spec->n_points, hydra_sweep_n_tasks(spec),
                spec->n_windows ? " (walk-forward)" : "", k, n, jobs, ro.db_path);
    long n_run = 0, n_failed = 0;
    int64_t t0 = hydra_monotonic_us();
    rc = run_pool(&ro, db, k, n, (int)jobs, show, &n_run, &n_failed);
    double secs = (double)(hydra_monotonic_us() - t0) / 1e6;
    if (rc < 0) {
        fprintf(stderr, "hydra-host sweep: %s\n", hydra_strerror(rc));
        status = 1;
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "ran %ld tasks (%ld failed) in %.2f s: %.1f tasks/s\n", n_run, n_failed, secs,
                secs > 0 ? (double)n_run / secs : 0);
    if (rc == 1) {
        fprintf(stderr, "hydra-host sweep: interrupted; run the same command again to resume\n");
        status = 130;
        goto out;
    }
    if (sharded)
        printf("shard %d/%d complete in %s; merge with: hydra-host sweep collect DIR\n", k, n,
               ro.db_path);
    else
        summarize(db, top, stdout);
out:
    sqlite3_close(db);
    hydra_sweep_spec_free(spec);
    free(spec);
    return status;
}
