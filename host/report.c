/*
 * Backtest reports: metrics, trades.csv, summary.json and summary.txt, an
 * SVG chart of equity and drawdown, and one self-contained HTML page.
 *
 * Conventions (stated in every summary):
 *   - Returns are daily: equity at the last bar of each market-zone trading
 *     day, r_d = E_d / E_(d-1) - 1, the first day against the initial cash.
 *   - Sharpe = mean(r) / sd(r) * sqrt(252), sd with n - 1, risk-free rate 0.
 *   - Sortino = mean(r) / DD * sqrt(252), DD = sqrt(sum(min(r, 0)^2) / n).
 *   - CAGR = (E_end / E_start)^(365.25 / calendar days) - 1.
 *   - Max drawdown: the largest fall from a running peak of daily equity,
 *     as a fraction of that peak, with the peak's and the trough's dates.
 *   - Win rate and profit factor over closed trades (after fees);
 *     positions open at the end count, valued at the last price.
 *   - Exposure: the share of bars with a position open.
 * Every number is printed with a fixed format, so equal inputs give
 * byte-identical files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "clock.h"
#include "error.h"

void hydra_bt_compute_metrics(const int *dates, const double *equity, size_t n,
                              const hydra_bt_trade *trades, size_t n_trades, const char *bot_id,
                              uint64_t exposed_bars, uint64_t bars, hydra_bt_metrics *out)
{
    memset(out, 0, sizeof *out);
    out->cagr = out->sharpe = out->sortino = out->win_rate = NAN;
    out->exposure = bars > 0 ? (double)exposed_bars / (double)bars : 0;
    double gross_win = 0, gross_loss = 0;
    for (size_t i = 0; i < n_trades; i++) {
        if (bot_id != NULL && strcmp(trades[i].bot_id, bot_id) != 0)
            continue;
        out->trades++;
        if (trades[i].pnl > 0) {
            out->wins++;
            gross_win += trades[i].pnl;
        } else {
            gross_loss -= trades[i].pnl;
        }
    }
    if (out->trades > 0)
        out->win_rate = (double)out->wins / out->trades;
    out->profit_factor = gross_loss > 0 ? gross_win / gross_loss : (gross_win > 0 ? INFINITY : NAN);
    if (n == 0)
        return;
    out->start_equity = equity[0];
    out->end_equity = equity[n - 1];
    out->total_return = equity[n - 1] / equity[0] - 1;
    int64_t span = hydra_days_from_date(dates[n - 1]) - hydra_days_from_date(dates[0]);
    if (span > 0 && equity[n - 1] > 0 && equity[0] > 0)
        out->cagr = pow(equity[n - 1] / equity[0], 365.25 / (double)span) - 1;
    /* Daily returns from the second point on: equity[0] is the start. */
    double sum = 0, sum_sq = 0, down_sq = 0;
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        double r = equity[i] / equity[i - 1] - 1;
        sum += r;
        down_sq += r < 0 ? r * r : 0;
        k++;
    }
    if (k >= 2) {
        double mean = sum / (double)k;
        for (size_t i = 1; i < n; i++) {
            double d = equity[i] / equity[i - 1] - 1 - mean;
            sum_sq += d * d;
        }
        double sd = sqrt(sum_sq / (double)(k - 1));
        double dd = sqrt(down_sq / (double)k);
        out->sharpe = sd > 0 ? mean / sd * sqrt(252.0) : NAN;
        out->sortino = dd > 0 ? mean / dd * sqrt(252.0) : NAN;
    }
    double peak = equity[0];
    int peak_date = dates[0];
    for (size_t i = 0; i < n; i++) {
        if (equity[i] > peak) {
            peak = equity[i];
            peak_date = dates[i];
        }
        double dd = peak > 0 ? (peak - equity[i]) / peak : 0;
        if (dd > out->max_drawdown) {
            out->max_drawdown = dd;
            out->dd_peak_date = peak_date;
            out->dd_trough_date = dates[i];
        }
    }
}

/* The daily column `col` with the start (initial cash, the day before the first) in front. */
static int column(const hydra_bt_result *r, int col, int **dates, double **eq, size_t *n)
{
    size_t cols = 1 + (size_t)r->n_bots;
    *n = r->n_days + 1;
    *dates = malloc(*n * sizeof **dates);
    *eq = malloc(*n * sizeof **eq);
    if (*dates == NULL || *eq == NULL) {
        free(*dates);
        free(*eq);
        return HYDRA_ENOMEM;
    }
    (*dates)[0] = r->n_days > 0 ? r->days[0].date : 0;
    (*eq)[0] = r->initial_cash;
    for (size_t i = 0; i < r->n_days; i++) {
        (*dates)[i + 1] = r->days[i].date;
        (*eq)[i + 1] = r->equity[i * cols + (size_t)col];
    }
    return 0;
}

/*
 * While hydra_bt_write_reports runs, every column's metrics are computed
 * once and read from here: summary.json, summary.txt and report.html each
 * ask for all of them, and a column of a million days costs a copy and two
 * passes.
 */
static const hydra_bt_result *g_memo_r;
static hydra_bt_metrics *g_memo;

static int metrics_of(const hydra_bt_result *r, int col, hydra_bt_metrics *m)
{
    if (r == g_memo_r && g_memo != NULL) {
        *m = g_memo[col];
        return 0;
    }
    int *dates;
    double *eq;
    size_t n;
    int rc = column(r, col, &dates, &eq, &n);
    if (rc != 0)
        return rc;
    hydra_bt_compute_metrics(dates, eq, n, r->trades, r->n_trades,
                             col == 0 ? NULL : r->bot_ids[col - 1], r->exposed_bars[col], r->bars,
                             m);
    free(dates);
    free(eq);
    return 0;
}

static void fmt_num(char *buf, size_t sz, double x, const char *fmt)
{
    if (isnan(x))
        snprintf(buf, sz, "null");
    else if (isinf(x))
        snprintf(buf, sz, "null");
    else
        snprintf(buf, sz, fmt, x);
}

/* A string as a JSON string body (quotes, backslashes and control bytes escaped). */
static const char *json_escape(const char *in, char *buf, size_t sz)
{
    size_t o = 0;
    for (; *in && o + 7 < sz; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, sz - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void fmt_date(char *buf, size_t sz, int d)
{
    if (d == 0)
        snprintf(buf, sz, "-");
    else
        snprintf(buf, sz, "%04d-%02d-%02d", d / 10000, d / 100 % 100, d % 100);
}

static void fmt_time(char *buf, size_t sz, int64_t t)
{
    hydra_local_time lt;
    hydra_local_from_utc(t, &lt);
    snprintf(buf, sz, "%04d-%02d-%02d %02d:%02d:%02d", lt.year, lt.month, lt.day, lt.hour,
             lt.minute, lt.second);
}

static const char CONVENTIONS[] =
    "daily returns at each market-zone day's last bar; Sharpe = mean/sd(n-1)*sqrt(252), "
    "Sortino = mean/sqrt(mean(min(r,0)^2))*sqrt(252), risk-free 0; CAGR over calendar days "
    "(365.25/year); drawdown on daily equity; win rate and profit factor over trades after fees";

/* The metrics as a JSON object left open, so the caller can add members and close it. */
static void metrics_json(FILE *f, const char *name, const hydra_bt_metrics *m)
{
    char a[9][48];
    fmt_num(a[0], 48, m->total_return, "%.6f");
    fmt_num(a[1], 48, m->cagr, "%.6f");
    fmt_num(a[2], 48, m->sharpe, "%.4f");
    fmt_num(a[3], 48, m->sortino, "%.4f");
    fmt_num(a[4], 48, m->max_drawdown, "%.6f");
    fmt_num(a[5], 48, m->win_rate, "%.4f");
    fmt_num(a[6], 48, m->profit_factor, "%.4f");
    fmt_date(a[7], 48, m->dd_peak_date);
    fmt_date(a[8], 48, m->dd_trough_date);
    fprintf(f,
            "{\"name\":\"%s\",\"start_equity\":%.2f,\"end_equity\":%.2f,\"total_return\":%s,"
            "\"cagr\":%s,\"sharpe\":%s,\"sortino\":%s,\"max_drawdown\":%s,"
            "\"max_drawdown_peak\":\"%s\",\"max_drawdown_trough\":\"%s\",\"trades\":%d,"
            "\"wins\":%d,\"win_rate\":%s,\"profit_factor\":%s,\"profit_factor_infinite\":%s,"
            "\"exposure\":%.6f",
            name, m->start_equity, m->end_equity, a[0], a[1], a[2], a[3], a[4], a[7], a[8],
            m->trades, m->wins, a[5], a[6], isinf(m->profit_factor) ? "true" : "false",
            m->exposure);
}

static void metrics_text(FILE *f, const char *name, const hydra_bt_metrics *m)
{
    char pf[32], wr[32], sh[32], so[32], cg[32], pk[16], tr[16];
    if (isinf(m->profit_factor))
        snprintf(pf, sizeof pf, "inf");
    else
        fmt_num(pf, sizeof pf, m->profit_factor, "%.2f");
    fmt_num(wr, sizeof wr, m->win_rate * 100, "%.1f%%");
    fmt_num(sh, sizeof sh, m->sharpe, "%.2f");
    fmt_num(so, sizeof so, m->sortino, "%.2f");
    fmt_num(cg, sizeof cg, m->cagr * 100, "%.2f%%");
    fmt_date(pk, sizeof pk, m->dd_peak_date);
    fmt_date(tr, sizeof tr, m->dd_trough_date);
    fprintf(f,
            "%-16s return %8.2f%%  CAGR %9s  Sharpe %6s  Sortino %6s  max DD %6.2f%% (%s -> %s)\n"
            "%-16s trades %6d  win rate %6s  profit factor %6s  exposure %5.1f%%  equity %.2f -> "
            "%.2f\n",
            name, m->total_return * 100, cg, sh, so, m->max_drawdown * 100, pk, tr, "", m->trades,
            wr, pf, m->exposure * 100, m->start_equity, m->end_equity);
}

/* The setting behind a skip reason or a gate, with its value, for a warning. */
static void setting_of(const hydra_bt_result *r, const hydra_bt_bot_stats *st, const char *what,
                       char *buf, size_t sz)
{
    if (strcmp(what, "outside trade window") == 0)
        snprintf(buf, sz,
                 "session.trade_start/trade_end (%02d:%02d-%02d:%02d) with bar_timeframe: %s%s",
                 st->trade_start_min / 60, st->trade_start_min % 60, st->trade_end_min / 60,
                 st->trade_end_min % 60, st->bar_timeframe == HYDRA_BARS_DAY ? "day" : "minute",
                 st->bar_timeframe == HYDRA_BARS_DAY
                     ? ""
                     : " (daily bars are stamped at the session close: declare bar_timeframe: day)");
    else if (strcmp(what, "open_risk") == 0 || strcmp(what, "daily_loss") == 0 ||
             strcmp(what, "global halt") == 0)
        snprintf(buf, sz,
                 "risk.global_max_daily_loss_pct (%g), which sets PortfolioBot's daily risk "
                 "budget and ExitBot's halt",
                 r->max_daily_loss_pct);
    else if (strcmp(what, "notional_cap") == 0)
        snprintf(buf, sz, "risk.max_notional_per_order (%g)", r->max_notional_per_order);
    else if (strcmp(what, "buying_power") == 0)
        snprintf(buf, sz, "portfoliobot.cash_reserve_pct (%g) and the initial cash",
                 r->cash_reserve_pct);
    else if (strcmp(what, "orders_per_minute") == 0)
        snprintf(buf, sz, "risk.max_orders_per_minute (%d)", r->max_orders_per_minute);
    else if (strcmp(what, "trades_per_day") == 0)
        snprintf(buf, sz, "the bot's risk.max_trades_per_day (%d)", st->max_trades_per_day);
    else if (strcmp(what, "concurrent_positions") == 0)
        snprintf(buf, sz, "the bot's risk.max_concurrent_positions (%d)", st->max_concurrent);
    else if (strcmp(what, "missing budgets") == 0 || strcmp(what, "invalid budgets") == 0 ||
             strcmp(what, "disallowed") == 0 || strcmp(what, "budget_missing") == 0)
        snprintf(buf, sz, "portfoliobot buckets and guardrails in bots.yaml");
    else
        snprintf(buf, sz, "%s", what);
}

static const hydra_bt_count *largest(const hydra_bt_count *c, int n)
{
    const hydra_bt_count *best = NULL;
    for (int i = 0; i < n; i++)
        if (best == NULL || c[i].n > best->n)
            best = &c[i];
    return best;
}

static uint64_t total_of(const hydra_bt_count *c, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += c[i].n;
    return t;
}

/*
 * Warnings for bot i: it never traded (and the reason that kept it out
 * most), or more than a tenth of its entries were resized by the gates.
 * Each is one line naming the setting responsible. Returns how many.
 */
static int bot_warnings(const hydra_bt_result *r, int i, char lines[][512], int cap)
{
    const hydra_bt_bot_stats *st = &r->bot_stats[i];
    const char *id = r->bot_ids[i];
    char set[256];
    int n = 0;
    if (st->entries == 0 && n < cap) {
        const hydra_bt_count *skip = largest(st->skipped, st->n_skipped);
        const hydra_bt_count *rej = largest(st->rejected, st->n_rejected);
        if (rej != NULL && (skip == NULL || skip->n < st->ticks)) {
            setting_of(r, st, rej->name, set, sizeof set);
            snprintf(lines[n++], 512,
                     "%s never traded: the %s gate rejected %llu of its entries; see %s", id,
                     rej->name, (unsigned long long)rej->n, set);
        } else if (skip != NULL) {
            setting_of(r, st, skip->name, set, sizeof set);
            snprintf(lines[n++], 512,
                     "%s never traded: on_tick was skipped on %llu of %llu ticks (%s); see %s", id,
                     (unsigned long long)skip->n, (unsigned long long)st->ticks, skip->name, set);
        } else {
            snprintf(lines[n++], 512, "%s never traded: on_tick asked for no entry", id);
        }
    }
    uint64_t resized = total_of(st->resized, st->n_resized);
    if (st->entries > 0 && resized * 10 > st->entries && n < cap) {
        const hydra_bt_count *g = largest(st->resized, st->n_resized);
        setting_of(r, st, g->name, set, sizeof set);
        snprintf(lines[n++], 512,
                 "%s: %llu of %llu entries were resized by the gates (%llu by %s); see %s", id,
                 (unsigned long long)resized, (unsigned long long)st->entries,
                 (unsigned long long)g->n, g->name, set);
    }
    return n;
}

static void counts_text(FILE *out, const char *label, const hydra_bt_count *c, int n)
{
    if (n == 0)
        return;
    fprintf(out, "%-16s %s:", "", label);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s %s %llu", i ? "," : "", c[i].name, (unsigned long long)c[i].n);
    fputc('\n', out);
}

static void counts_json(FILE *f, const char *key, const hydra_bt_count *c, int n)
{
    fprintf(f, ",\"%s\":{", key);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", c[i].name, (unsigned long long)c[i].n);
    fputc('}', f);
}

void hydra_bt_print_summary(const hydra_bt_result *r, FILE *out)
{
    hydra_bt_metrics m;
    char w[2][512];
    int warned = 0;
    for (int i = 0; r->bot_stats != NULL && i < r->n_bots; i++) {
        int n = bot_warnings(r, i, w, 2);
        for (int k = 0; k < n; k++)
            fprintf(out, "%s%s\n", warned++ ? "  " : "WARNINGS:\n  ", w[k]);
    }
    if (warned)
        fputc('\n', out);
    fprintf(out, "Backtest: %llu bars, %zu trading days, initial cash %.2f\n",
            (unsigned long long)r->bars, r->n_days, r->initial_cash);
    fprintf(out, "Data: %s\n", r->series_note);
    if (metrics_of(r, 0, &m) == 0)
        metrics_text(out, "TOTAL", &m);
    for (int i = 0; i < r->n_bots; i++) {
        if (metrics_of(r, i + 1, &m) == 0)
            metrics_text(out, r->bot_ids[i], &m);
        if (r->bot_stats == NULL)
            continue;
        const hydra_bt_bot_stats *st = &r->bot_stats[i];
        fprintf(out, "%-16s orders %llu entries, %llu exits; on_tick skipped on %llu of %llu ticks\n",
                "", (unsigned long long)st->entries, (unsigned long long)st->exits,
                (unsigned long long)total_of(st->skipped, st->n_skipped),
                (unsigned long long)st->ticks);
        counts_text(out, "skipped", st->skipped, st->n_skipped);
        counts_text(out, "rejected by gate", st->rejected, st->n_rejected);
        counts_text(out, "resized by gate", st->resized, st->n_resized);
    }
    fprintf(out, "Conventions: %s; a bot's equity is the initial cash plus its own PnL.\n",
            CONVENTIONS);
}

static int write_trades(const hydra_bt_result *r, FILE *f)
{
    fprintf(f, "bot,symbol,entry_time,entry_price,exit_time,exit_price,qty,pnl,exit_reason\n");
    for (size_t i = 0; i < r->n_trades; i++) {
        const hydra_bt_trade *t = &r->trades[i];
        char a[32], b[32];
        fmt_time(a, sizeof a, t->entry_ms);
        fmt_time(b, sizeof b, t->exit_ms);
        fprintf(f, "%s,%s,%s,%.6f,%s,%.6f,%.8g,%.6f,%s\n", t->bot_id, t->symbol, a, t->entry_price,
                b, t->exit_price, t->qty, t->pnl, t->exit_reason);
    }
    return ferror(f) ? HYDRA_EIO : 0;
}

static int write_summary_json(const hydra_bt_result *r, FILE *f)
{
    hydra_bt_metrics m;
    int rc = metrics_of(r, 0, &m);
    if (rc != 0)
        return rc;
    char first[16] = "-", last[16] = "-";
    if (r->n_days > 0) {
        fmt_date(first, sizeof first, r->days[0].date);
        fmt_date(last, sizeof last, r->days[r->n_days - 1].date);
    }
    fprintf(f, "{\"bars\":%llu,\"days\":%zu,\"from\":\"%s\",\"to\":\"%s\",\"initial_cash\":%.2f,",
            (unsigned long long)r->bars, r->n_days, first, last, r->initial_cash);
    fprintf(f, "\"warnings\":[");
    char w[2][512], esc[1100];
    int warned = 0;
    for (int i = 0; r->bot_stats != NULL && i < r->n_bots; i++) {
        int n = bot_warnings(r, i, w, 2);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s\"%s\"", warned++ ? "," : "", json_escape(w[k], esc, sizeof esc));
    }
    fprintf(f, "],");
    fprintf(f, "\"conventions\":\"%s\",\"total\":", CONVENTIONS);
    metrics_json(f, "TOTAL", &m);
    fprintf(f, "},\"bots\":[");
    for (int i = 0; i < r->n_bots; i++) {
        if ((rc = metrics_of(r, i + 1, &m)) != 0)
            return rc;
        if (i)
            fputc(',', f);
        metrics_json(f, r->bot_ids[i], &m);
        if (r->bot_stats != NULL) {
            const hydra_bt_bot_stats *st = &r->bot_stats[i];
            fprintf(f, ",\"ticks\":%llu,\"entries\":%llu,\"exits\":%llu",
                    (unsigned long long)st->ticks, (unsigned long long)st->entries,
                    (unsigned long long)st->exits);
            counts_json(f, "skipped", st->skipped, st->n_skipped);
            counts_json(f, "rejected", st->rejected, st->n_rejected);
            counts_json(f, "resized", st->resized, st->n_resized);
        }
        fputc('}', f);
    }
    fprintf(f, "]}\n");
    return ferror(f) ? HYDRA_EIO : 0;
}

/*
 * Long curves are drawn from at most two points per bucket: the lowest and
 * the highest of the bucket, in the order they occur, so every peak and
 * every trough of the daily series stays on the chart while a million-day
 * curve becomes a few thousand points. Writes the indices to plot into idx
 * (room for 2 * SVG_BUCKETS + 2) and returns how many; a curve of no more
 * than that many points is plotted whole.
 */
#define SVG_BUCKETS 1600

static size_t downsample(const double *y, size_t n, size_t *idx)
{
    size_t k = 0;
    if (n <= 2 * SVG_BUCKETS + 2) {
        for (size_t i = 0; i < n; i++)
            idx[k++] = i;
        return k;
    }
    idx[k++] = 0;
    for (size_t b = 0; b < SVG_BUCKETS; b++) {
        size_t a = 1 + (n - 2) * b / SVG_BUCKETS, e = 1 + (n - 2) * (b + 1) / SVG_BUCKETS;
        if (a >= e)
            continue;
        size_t lo = a, hi = a;
        for (size_t i = a + 1; i < e; i++) {
            if (y[i] < y[lo])
                lo = i;
            if (y[i] > y[hi])
                hi = i;
        }
        idx[k++] = lo < hi ? lo : hi;
        if (lo != hi)
            idx[k++] = lo < hi ? hi : lo;
    }
    idx[k++] = n - 1;
    return k;
}

/* The chart: equity (top) and drawdown (bottom) of the whole account, on daily points. */
static int write_svg(const hydra_bt_result *r, FILE *f)
{
    int *dates;
    double *eq;
    size_t n;
    int rc = column(r, 0, &dates, &eq, &n);
    if (rc != 0)
        return rc;
    const double W = 900, H1 = 300, H2 = 140, L = 80, R = 20, T = 30, GAP = 40;
    double lo = eq[0], hi = eq[0], worst = 0, peak = eq[0];
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, eq[i]);
        hi = fmax(hi, eq[i]);
        peak = fmax(peak, eq[i]);
        worst = fmax(worst, (peak - eq[i]) / peak);
    }
    if (hi - lo < 1e-9) {
        hi += 1;
        lo -= 1;
    }
    if (worst < 1e-9)
        worst = 0.01;
    double pw = W - L - R, H = T + H1 + GAP + H2 + 40;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Equity</text>\n", L);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" font-weight=\"bold\">Drawdown</text>\n",
            L, T + H1 + GAP - 8);
    /* Axes and gridlines with labels. */
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4, y = T + H1 - H1 * k / 4;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                L, y, W - R, y, L - 6, y + 4, v);
        double d = worst * k / 4, y2 = T + H1 + GAP + H2 * k / 4;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">-%.1f%%</text>\n",
                L, y2, W - R, y2, L - 6, y2 + 4, d * 100);
    }
    char d0[16], d1[16];
    fmt_date(d0, sizeof d0, dates[0]);
    fmt_date(d1, sizeof d1, dates[n - 1]);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\">%s</text><text x=\"%.0f\" y=\"%.0f\" "
            "text-anchor=\"end\">%s</text>\n",
            L, H - 12, d0, W - R, H - 12, d1);
    size_t *idx = malloc((2 * SVG_BUCKETS + 2) * sizeof *idx);
    double *dd = malloc(n * sizeof *dd);
    if (idx == NULL || dd == NULL) {
        free(idx);
        free(dd);
        free(dates);
        free(eq);
        return HYDRA_ENOMEM;
    }
    size_t m = downsample(eq, n, idx);
    fprintf(f, "<polyline id=\"equity\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" "
               "points=\"");
    for (size_t j = 0; j < m; j++) {
        size_t i = idx[j];
        double x = L + (n > 1 ? pw * (double)i / (double)(n - 1) : 0);
        double y = T + H1 - H1 * (eq[i] - lo) / (hi - lo);
        fprintf(f, "%s%.1f,%.1f", j ? " " : "", x, y);
    }
    fprintf(f, "\"/>\n<polygon id=\"drawdown\" fill=\"#d9534f\" fill-opacity=\"0.5\" "
               "stroke=\"#b52b27\" points=\"%.1f,%.1f",
            L, T + H1 + GAP);
    peak = eq[0];
    for (size_t i = 0; i < n; i++) {
        peak = fmax(peak, eq[i]);
        dd[i] = (peak - eq[i]) / peak;
    }
    m = downsample(dd, n, idx);
    for (size_t j = 0; j < m; j++) {
        size_t i = idx[j];
        double x = L + (n > 1 ? pw * (double)i / (double)(n - 1) : 0);
        double y = T + H1 + GAP + H2 * dd[i] / worst;
        fprintf(f, " %.1f,%.1f", x, y);
    }
    fprintf(f, " %.1f,%.1f\"/>\n</svg>\n", L + pw, T + H1 + GAP);
    free(idx);
    free(dd);
    free(dates);
    free(eq);
    return ferror(f) ? HYDRA_EIO : 0;
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

/* Trades shown in report.html from each end of a longer list. */
#define HTML_TRADES 500

static int write_html(const hydra_bt_result *r, FILE *f)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>Hydra backtest</title><style>body{font-family:sans-serif;margin:2em}"
               "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
               "text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:1em}"
               "</style></head><body>\n<h1>Hydra backtest</h1>\n<h2>Summary</h2>\n<pre>");
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        return HYDRA_ENOMEM;
    hydra_bt_print_summary(r, m);
    fclose(m);
    html_escape(f, text);
    free(text);
    fprintf(f, "</pre>\n<h2>Equity and drawdown</h2>\n");
    int rc = write_svg(r, f);
    if (rc != 0)
        return rc;
    fprintf(f, "<h2>Trades</h2>\n<table>\n<tr><th>bot</th><th>symbol</th><th>entry</th>"
               "<th>entry price</th><th>exit</th><th>exit price</th><th>qty</th><th>PnL</th>"
               "<th>exit reason</th></tr>\n");
    for (size_t i = 0; i < r->n_trades; i++) {
        /* The first and the last HTML_TRADES; the whole list is in trades.csv. */
        if (r->n_trades > 2 * HTML_TRADES && i == HTML_TRADES) {
            fprintf(f, "<tr><td colspan=\"9\">%zu more trades: every trade is in trades.csv</td></tr>\n",
                    r->n_trades - 2 * HTML_TRADES);
            i = r->n_trades - HTML_TRADES;
        }
        const hydra_bt_trade *t = &r->trades[i];
        char a[32], b[32];
        fmt_time(a, sizeof a, t->entry_ms);
        fmt_time(b, sizeof b, t->exit_ms);
        fprintf(f, "<tr><td>");
        html_escape(f, t->bot_id);
        fprintf(f, "</td><td>");
        html_escape(f, t->symbol);
        fprintf(f,
                "</td><td>%s</td><td>%.4f</td><td>%s</td><td>%.4f</td><td>%.8g</td>"
                "<td>%.2f</td><td>%s</td></tr>\n",
                a, t->entry_price, b, t->exit_price, t->qty, t->pnl, t->exit_reason);
    }
    fprintf(f, "</table>\n</body></html>\n");
    return ferror(f) ? HYDRA_EIO : 0;
}

typedef int (*writer_fn)(const hydra_bt_result *r, FILE *f);

static int write_one(const hydra_bt_result *r, const char *dir, const char *name, writer_fn fn,
                     char *err, size_t errsz)
{
    char path[HYDRA_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    int rc = fn(r, f);
    if (fclose(f) != 0 && rc == 0)
        rc = HYDRA_EIO;
    if (rc != 0)
        snprintf(err, errsz, "%s: writing failed: %s", path, hydra_strerror(rc));
    return rc;
}

static int write_summary_text(const hydra_bt_result *r, FILE *f)
{
    hydra_bt_print_summary(r, f);
    return ferror(f) ? HYDRA_EIO : 0;
}

int hydra_bt_write_reports(const hydra_bt_result *r, const char *dir, char *err, size_t errsz)
{
    hydra_bt_metrics *memo = calloc((size_t)r->n_bots + 1, sizeof *memo);
    for (int c = 0; memo != NULL && c <= r->n_bots; c++)
        if (metrics_of(r, c, &memo[c]) != 0) {
            free(memo);
            memo = NULL; /* each report computes its own */
        }
    g_memo_r = r;
    g_memo = memo;
    int rc = write_one(r, dir, "trades.csv", write_trades, err, errsz);
    if (rc == 0)
        rc = write_one(r, dir, "summary.json", write_summary_json, err, errsz);
    if (rc == 0)
        rc = write_one(r, dir, "summary.txt", write_summary_text, err, errsz);
    if (rc == 0)
        rc = write_one(r, dir, "equity.svg", write_svg, err, errsz);
    if (rc == 0)
        rc = write_one(r, dir, "report.html", write_html, err, errsz);
    g_memo_r = NULL;
    g_memo = NULL;
    free(memo);
    return rc;
}
