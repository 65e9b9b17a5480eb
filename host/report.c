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
#include "report.h"
#include "series.h"

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

/*
 * While hydra_bt_write_reports runs, every column's metrics are computed
 * once and read from here: summary.json, summary.txt and report.html each
 * ask for all of them, and a column of a million days costs two passes.
 */
static const hydra_bt_result *g_memo_r;
static hydra_bt_metrics *g_memo;

/* The metrics of equity column `col`, read where the record keeps it (point 0 is the start). */
static void metrics_of(const hydra_bt_result *r, int col, hydra_bt_metrics *m)
{
    if (r == g_memo_r && g_memo != NULL) {
        *m = g_memo[col];
        return;
    }
    int start_date = 0;
    double start = r->initial_cash;
    const int *dates = r->n_days > 0 ? r->dates : &start_date;
    const double *eq = r->n_days > 0 ? r->equity[col] : &start;
    hydra_bt_compute_metrics(dates, eq, r->n_days + 1, r->trades, r->n_trades,
                             col == 0 ? NULL : r->bot_ids[col - 1], r->exposed_bars[col], r->bars,
                             m);
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

static const char CONVENTIONS[] =
    "daily returns at each market-zone day's last bar; Sharpe = mean/sd(n-1)*sqrt(252), "
    "Sortino = mean/sqrt(mean(min(r,0)^2))*sqrt(252), risk-free 0; CAGR over calendar days "
    "(365.25/year); drawdown on daily equity; win rate and profit factor over trades after fees";

/*
 * The JSON text of one metric, by its summary.json key: summary.json and
 * the data-v attributes of report.html's summary table both come from here,
 * so the page cannot show a number the file does not hold. Strings (the
 * drawdown dates) come without quotes; *is_string says so.
 */
static const char *const METRIC_KEYS[] = {
    "start_equity", "end_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_peak", "max_drawdown_trough", "trades", "wins", "win_rate", "profit_factor",
    "profit_factor_infinite", "exposure"};
#define N_METRIC_KEYS (sizeof METRIC_KEYS / sizeof METRIC_KEYS[0])

static const char *metric_value(const hydra_bt_metrics *m, const char *key, char *buf, size_t sz,
                                int *is_string)
{
    *is_string = 0;
    if (strcmp(key, "start_equity") == 0)
        snprintf(buf, sz, "%.2f", m->start_equity);
    else if (strcmp(key, "end_equity") == 0)
        snprintf(buf, sz, "%.2f", m->end_equity);
    else if (strcmp(key, "total_return") == 0)
        fmt_num(buf, sz, m->total_return, "%.6f");
    else if (strcmp(key, "cagr") == 0)
        fmt_num(buf, sz, m->cagr, "%.6f");
    else if (strcmp(key, "sharpe") == 0)
        fmt_num(buf, sz, m->sharpe, "%.4f");
    else if (strcmp(key, "sortino") == 0)
        fmt_num(buf, sz, m->sortino, "%.4f");
    else if (strcmp(key, "max_drawdown") == 0)
        fmt_num(buf, sz, m->max_drawdown, "%.6f");
    else if (strcmp(key, "max_drawdown_peak") == 0 || strcmp(key, "max_drawdown_trough") == 0) {
        fmt_date(buf, sz, key[13] == 'p' ? m->dd_peak_date : m->dd_trough_date);
        *is_string = 1;
    } else if (strcmp(key, "trades") == 0)
        snprintf(buf, sz, "%d", m->trades);
    else if (strcmp(key, "wins") == 0)
        snprintf(buf, sz, "%d", m->wins);
    else if (strcmp(key, "win_rate") == 0)
        fmt_num(buf, sz, m->win_rate, "%.4f");
    else if (strcmp(key, "profit_factor") == 0)
        fmt_num(buf, sz, m->profit_factor, "%.4f");
    else if (strcmp(key, "profit_factor_infinite") == 0)
        snprintf(buf, sz, "%s", isinf(m->profit_factor) ? "true" : "false");
    else if (strcmp(key, "exposure") == 0)
        snprintf(buf, sz, "%.6f", m->exposure);
    else
        snprintf(buf, sz, "null");
    return buf;
}

/* The metrics as a JSON object left open, so the caller can add members and close it. */
static void metrics_json(FILE *f, const char *name, const hydra_bt_metrics *m)
{
    fprintf(f, "{\"name\":\"%s\"", name);
    for (size_t k = 0; k < N_METRIC_KEYS; k++) {
        char v[48];
        int str;
        metric_value(m, METRIC_KEYS[k], v, sizeof v, &str);
        fprintf(f, str ? ",\"%s\":\"%s\"" : ",\"%s\":%s", METRIC_KEYS[k], v);
    }
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
    metrics_of(r, 0, &m);
    metrics_text(out, "TOTAL", &m);
    for (int i = 0; i < r->n_bots; i++) {
        metrics_of(r, i + 1, &m);
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
        char a[32], b[32], ep[48], xp[48], q[48], pnl[48];
        hydra_format_local(t->entry_ms, a, sizeof a);
        hydra_format_local(t->exit_ms, b, sizeof b);
        fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", t->bot_id, t->symbol, a,
                hydra_report_exact(ep, sizeof ep, t->entry_price), b,
                hydra_report_exact(xp, sizeof xp, t->exit_price),
                hydra_report_exact(q, sizeof q, t->qty),
                hydra_report_exact(pnl, sizeof pnl, t->pnl),
                t->exit_reason);
    }
    return ferror(f) ? HYDRA_EIO : 0;
}

static int write_summary_json(const hydra_bt_result *r, FILE *f)
{
    hydra_bt_metrics m;
    metrics_of(r, 0, &m);
    char first[16] = "-", last[16] = "-";
    if (r->n_days > 0) {
        fmt_date(first, sizeof first, r->dates[1]);
        fmt_date(last, sizeof last, r->dates[r->n_days]);
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
        metrics_of(r, i + 1, &m);
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
 * Equity (top) and drawdown (bottom) of one column, as one chart `width`
 * units wide: the initial cash a day before the first day's last bar, then
 * each day's closing equity. Both curves are reduced while the column is
 * read once, so the drawdown is never stored.
 */
static int equity_chart(const hydra_bt_result *r, int col, FILE *f, const char *id, double width,
                        double h_equity, double h_dd, const char *eq_id, const char *dd_id)
{
    size_t n = r->n_days + 1;
    const double *eq = r->equity[col];
    hydra_report_reducer re, rd;
    if (hydra_report_reduce_begin(&re, n, width) != 0)
        return HYDRA_ENOMEM;
    if (hydra_report_reduce_begin(&rd, n, width) != 0) {
        hydra_report_reduce_free(&re);
        return HYDRA_ENOMEM;
    }
    double peak = r->initial_cash;
    int64_t t = hydra_bt_point_ms(r, 0);
    for (size_t i = 0; i < n; i++) {
        double dd = 0;
        if (i > 0) {
            t = hydra_bt_next_point_ms(r, i, t);
            if (eq[i] > peak) /* fmax without its call; a NaN never becomes the peak */
                peak = eq[i];
            dd = peak > 0 ? -(peak - eq[i]) / peak : 0;
        }
        hydra_report_reduce_add(&re, t, eq[i]);
        hydra_report_reduce_add(&rd, t, dd);
    }
    hydra_report_curve ce = {.id = eq_id, .color = "#1f5fbf"};
    hydra_report_curve cd = {.id = dd_id, .color = "#c9302c", .fill_down = 1};
    hydra_report_reduce_curve(&re, &ce);
    hydra_report_reduce_curve(&rd, &cd);
    hydra_report_panel p[2] = {
        {.title = "Equity", .height = h_equity, .curves = &ce, .n_curves = 1},
        {.title = "Drawdown", .height = h_dd, .percent = 1, .from_zero = 1, .curves = &cd,
         .n_curves = 1},
    };
    hydra_report_chart(f, id, width, hydra_bt_point_ms(r, 0), hydra_bt_point_ms(r, n - 1), p, 2);
    hydra_report_reduce_free(&re);
    hydra_report_reduce_free(&rd);
    return ferror(f) ? HYDRA_EIO : 0;
}

/* equity.svg: the whole account's equity and drawdown, on daily points. */
static int write_svg(const hydra_bt_result *r, FILE *f)
{
    if (r->n_days == 0) {
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"40\">"
                   "<text x=\"10\" y=\"24\">no trading day was replayed</text></svg>\n");
        return ferror(f) ? HYDRA_EIO : 0;
    }
    return equity_chart(r, 0, f, NULL, 900, 300, 140, "equity", "drawdown");
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
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* Trades shown in report.html from each end of a longer list. */
#define HTML_TRADES 250
/* Years of monthly returns shown from each end of a longer run. */
#define HTML_YEARS 30

/* summary.json's text, as written to the file. */
static int summary_json_text(const hydra_bt_result *r, char **text)
{
    size_t len = 0;
    FILE *m = open_memstream(text, &len);
    if (m == NULL)
        return HYDRA_ENOMEM;
    int rc = write_summary_json(r, m);
    if (fclose(m) != 0 && rc == 0)
        rc = HYDRA_ENOMEM;
    return rc;
}

static void html_meta(const hydra_bt_result *r, FILE *f)
{
    char first[16] = "-", last[16] = "-";
    if (r->n_days > 0) {
        fmt_date(first, sizeof first, r->dates[1]);
        fmt_date(last, sizeof last, r->dates[r->n_days]);
    }
    fprintf(f,
            "<p class=\"meta\">%s to %s: %llu bars, %zu trading days, %zu trades, initial cash "
            "%.2f</p>\n<p class=\"meta\">Data: ",
            first, last, (unsigned long long)r->bars, r->n_days, r->n_trades, r->initial_cash);
    html_escape(f, r->series_note);
    fprintf(f, "</p>\n");
}

static void html_warnings(const hydra_bt_result *r, FILE *f)
{
    char w[2][512];
    int warned = 0;
    for (int i = 0; r->bot_stats != NULL && i < r->n_bots; i++) {
        int n = bot_warnings(r, i, w, 2);
        for (int k = 0; k < n; k++) {
            if (warned++ == 0)
                fprintf(f, "<div class=\"warn\" id=\"warnings\"><b>Warnings</b><ul>\n");
            fprintf(f, "<li>");
            html_escape(f, w[k]);
            fprintf(f, "</li>\n");
        }
    }
    if (warned)
        fprintf(f, "</ul></div>\n");
}

/*
 * One summary cell: data-k names the summary.json member, data-v holds its
 * exact JSON text, and the cell shows it formatted (data-f says how: pN a
 * fraction as percent with N decimals, nN a number with N decimals).
 */
static void metric_cell(FILE *f, const hydra_bt_metrics *m, const char *key, const char *form,
                        int hide)
{
    char v[48];
    int str;
    metric_value(m, key, v, sizeof v, &str);
    fprintf(f, "<td data-k=\"%s\" data-v=\"%s\" data-f=\"%s\">", key, v, form);
    double x = strtod(v, NULL);
    if (hide || strcmp(v, "null") == 0) {
        if (strcmp(key, "profit_factor") == 0 && isinf(m->profit_factor))
            fputs("&infin;", f);
        else
            fputs("&ndash;", f);
    } else if (form[0] == 'p') {
        fprintf(f, "%.*f%%", form[1] - '0', x * 100);
    } else {
        fprintf(f, "%.*f", form[1] - '0', x);
    }
    fputs("</td>", f);
}

static void summary_row(FILE *f, const char *name, const hydra_bt_metrics *m, int short_span,
                        const hydra_bt_bot_stats *st)
{
    fprintf(f, "<tr data-name=\"");
    html_escape(f, name);
    fprintf(f, "\"><th class=\"l\" scope=\"row\">");
    html_escape(f, name);
    fputs("</th>", f);
    metric_cell(f, m, "total_return", "p2", 0);
    metric_cell(f, m, "cagr", "p2", short_span);
    metric_cell(f, m, "max_drawdown", "p2", 0);
    char pk[16], tr[16];
    fmt_date(pk, sizeof pk, m->dd_peak_date);
    fmt_date(tr, sizeof tr, m->dd_trough_date);
    fprintf(f, "<td class=\"l\">%s &rarr; %s</td>", pk, tr);
    metric_cell(f, m, "sharpe", "n2", 0);
    metric_cell(f, m, "sortino", "n2", 0);
    metric_cell(f, m, "trades", "n0", 0);
    metric_cell(f, m, "win_rate", "p1", 0);
    metric_cell(f, m, "profit_factor", "n2", 0);
    metric_cell(f, m, "exposure", "p1", 0);
    metric_cell(f, m, "end_equity", "n2", 0);
    if (st != NULL) {
        uint64_t rej = total_of(st->rejected, st->n_rejected);
        uint64_t res = total_of(st->resized, st->n_resized);
        fprintf(f,
                "<td data-k=\"entries\" data-v=\"%llu\" data-f=\"n0\">%llu</td>"
                "<td data-k=\"exits\" data-v=\"%llu\" data-f=\"n0\">%llu</td>"
                "<td>%llu</td><td>%llu</td>",
                (unsigned long long)st->entries, (unsigned long long)st->entries,
                (unsigned long long)st->exits, (unsigned long long)st->exits,
                (unsigned long long)rej, (unsigned long long)res);
    } else {
        fputs("<td></td><td></td><td></td><td></td>", f);
    }
    fputs("</tr>\n", f);
}

static int html_summary(const hydra_bt_result *r, FILE *f)
{
    /* CAGR says little about a run shorter than a year: shown from a year on. */
    int short_span = r->n_days == 0 ||
                     hydra_days_between(r->dates[1], r->dates[r->n_days]) < 365;
    fprintf(f, "<table id=\"summary\"><thead><tr><th class=\"l\">bot</th><th>return</th>"
               "<th>CAGR</th><th>max drawdown</th><th class=\"l\">peak &rarr; trough</th>"
               "<th>Sharpe</th><th>Sortino</th><th>trades</th><th>win rate</th>"
               "<th>profit factor</th><th>exposure</th><th>end equity</th>"
               "<th>entries</th><th>exits</th><th>rejected</th><th>resized</th></tr></thead>"
               "<tbody>\n");
    hydra_bt_metrics m;
    metrics_of(r, 0, &m);
    summary_row(f, "TOTAL", &m, short_span, NULL);
    for (int i = 0; i < r->n_bots; i++) {
        metrics_of(r, i + 1, &m);
        summary_row(f, r->bot_ids[i], &m, short_span,
                    r->bot_stats != NULL ? &r->bot_stats[i] : NULL);
    }
    fprintf(f, "</tbody></table>\n");
    return 0;
}

static int html_equity(const hydra_bt_result *r, FILE *f)
{
    if (r->n_days == 0) {
        fprintf(f, "<p>No trading day was replayed.</p>\n");
        return 0;
    }
    fprintf(f, "<div class=\"chart\" data-bot=\"TOTAL\"><h3>Whole account</h3>\n");
    int rc = equity_chart(r, 0, f, "equity-total", 1240, 260, 110, "equity", "drawdown");
    fprintf(f, "</div>\n<div class=\"grid\">\n");
    for (int i = 0; rc == 0 && i < r->n_bots; i++) {
        char id[32];
        snprintf(id, sizeof id, "equity-bot-%d", i);
        fprintf(f, "<div class=\"chart\" data-bot=\"");
        html_escape(f, r->bot_ids[i]);
        fprintf(f, "\"><h3>");
        html_escape(f, r->bot_ids[i]);
        fprintf(f, " <span class=\"note\">(initial cash plus this bot's own PnL)</span></h3>\n");
        rc = equity_chart(r, i + 1, f, id, 620, 200, 90, NULL, NULL);
        fprintf(f, "</div>\n");
    }
    fprintf(f, "</div>\n");
    return rc;
}

static const hydra_series *series_of(const hydra_bt_result *r, const char *symbol)
{
    for (size_t i = 0; r->series != NULL && i < r->n_series; i++)
        if (strcmp(r->series[i].symbol, symbol) == 0)
            return &r->series[i];
    return NULL;
}

/* A price chart's width in user units (the page scales it). */
#define PRICE_WIDTH 1240

/*
 * The closes of bars [a, b) of s for a price chart, reduced as they are
 * read a window at a time (a mapped series' pages are handed back behind
 * the reader, as the replay does).
 */
static int reduce_closes(const hydra_series *s, size_t a, size_t b, hydra_report_reducer *rd)
{
    if (hydra_report_reduce_begin(rd, b - a, PRICE_WIDTH) != 0)
        return HYDRA_ENOMEM;
    for (size_t i = a; i < b; i++) {
        hydra_series_passed(s, i);
        hydra_report_reduce_add(rd, s->bars[i].t_ms, s->bars[i].close);
    }
    hydra_series_passed(s, s->n);
    return 0;
}

/* One traded symbol: its closes over the replayed span with every entry and exit fill. */
static int price_chart(const hydra_bt_result *r, FILE *f, const char *symbol, int k)
{
    size_t nt = 0;
    for (size_t i = 0; i < r->n_trades; i++)
        nt += strcmp(r->trades[i].symbol, symbol) == 0;
    int64_t *t = malloc(2 * nt * sizeof *t);
    double *y = malloc(2 * nt * sizeof *y);
    if (t == NULL || y == NULL) {
        free(t);
        free(y);
        return HYDRA_ENOMEM;
    }
    int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    size_t j = 0;
    for (size_t i = 0; i < r->n_trades; i++) {
        const hydra_bt_trade *tr = &r->trades[i];
        if (strcmp(tr->symbol, symbol) != 0)
            continue;
        t[j] = tr->entry_ms;
        y[j] = tr->entry_price;
        t[nt + j] = tr->exit_ms;
        y[nt + j] = tr->exit_price;
        t0 = tr->entry_ms < t0 ? tr->entry_ms : t0;
        t1 = tr->exit_ms > t1 ? tr->exit_ms : t1;
        j++;
    }
    hydra_report_curve close = {.color = "#333333"};
    hydra_report_reducer rd = {0};
    const hydra_series *s = series_of(r, symbol);
    int rc = 0;
    if (s != NULL && r->n_days > 0) {
        /*
         * The bars replayed: from the first day's (a day before its last
         * bar) to the last bar, searched from the ends of the series.
         */
        long a = hydra_series_index_near(s, 0, hydra_bt_point_ms(r, 0)) + 1;
        long b = hydra_series_index_near(s, s->n, hydra_bt_point_ms(r, r->n_days));
        if (b >= a) {
            t0 = s->bars[a].t_ms < t0 ? s->bars[a].t_ms : t0;
            t1 = s->bars[b].t_ms > t1 ? s->bars[b].t_ms : t1;
            rc = reduce_closes(s, (size_t)a, (size_t)b + 1, &rd);
            if (rc == 0)
                hydra_report_reduce_curve(&rd, &close);
        }
    }
    if (rc != 0) {
        free(t);
        free(y);
        return rc;
    }
    hydra_report_marks marks[2] = {
        {.t = t, .y = y, .n = nt, .cls = "entries", .marker = "mk-entry"},
        {.t = t + nt, .y = y + nt, .n = nt, .cls = "exits", .marker = "mk-exit"},
    };
    char title[160];
    snprintf(title, sizeof title, "%zu trade%s%s", nt, nt == 1 ? "" : "s",
             close.n > 0 ? "" : " (no price series: fills only)");
    hydra_report_panel p = {.title = title, .height = 240, .curves = &close,
                            .n_curves = close.n > 0, .marks = marks, .n_marks = 2};
    char id[32];
    snprintf(id, sizeof id, "price-%d", k);
    fprintf(f, "<div class=\"price\" data-symbol=\"");
    html_escape(f, symbol);
    fprintf(f, "\" data-trades=\"%zu\"><h3>", nt);
    html_escape(f, symbol);
    if (s != NULL) {
        fprintf(f, " <span class=\"note\">");
        html_escape(f, s->source);
        fprintf(f, "</span>");
    }
    fprintf(f, "</h3>\n");
    hydra_report_chart(f, id, PRICE_WIDTH, t0, t1, &p, 1);
    fprintf(f, "</div>\n");
    hydra_report_reduce_free(&rd);
    free(t);
    free(y);
    return ferror(f) ? HYDRA_EIO : 0;
}

/*
 * A chart for each traded symbol with a price series, in the order of the
 * first trade. Symbols without one (option contracts, priced by the
 * exchange's model) are named in one line: their fills are in the trade list.
 */
static int html_prices(const hydra_bt_result *r, FILE *f)
{
    int k = 0, rc = 0;
    size_t unpriced = 0, unpriced_trades = 0;
    for (size_t i = 0; rc == 0 && i < r->n_trades; i++) {
        size_t seen = 0;
        while (seen < i && strcmp(r->trades[seen].symbol, r->trades[i].symbol) != 0)
            seen++;
        if (series_of(r, r->trades[i].symbol) == NULL) {
            unpriced_trades++;
            unpriced += seen == i;
        } else if (seen == i) {
            rc = price_chart(r, f, r->trades[i].symbol, k++);
        }
    }
    if (unpriced > 0) {
        fprintf(f, "<p class=\"note\" id=\"unpriced\" data-trades=\"%zu\">%zu trade%s in %zu "
                   "symbol%s without a price series of their own (option contracts), listed in "
                   "the trades below: <span class=\"symbols\">",
                unpriced_trades, unpriced_trades, unpriced_trades == 1 ? "" : "s", unpriced,
                unpriced == 1 ? "" : "s");
        size_t shown = 0;
        for (size_t i = 0; i < r->n_trades; i++) {
            size_t seen = 0;
            while (seen < i && strcmp(r->trades[seen].symbol, r->trades[i].symbol) != 0)
                seen++;
            if (seen != i || series_of(r, r->trades[i].symbol) != NULL)
                continue;
            fprintf(f, "%s<span class=\"sym\">", shown++ ? " " : "");
            html_escape(f, r->trades[i].symbol);
            fprintf(f, "</span>");
        }
        fprintf(f, "</span></p>\n");
    }
    if (k == 0 && unpriced == 0)
        fprintf(f, "<p>No trades.</p>\n");
    return rc;
}

/*
 * A monthly return cell: green for gains, red for losses, deeper with size
 * (full at `full`, the largest month), with `dec` decimals of percent.
 */
static void monthly_cell(FILE *f, double x, double full, int dec)
{
    if (isnan(x)) {
        fputs("<td></td>", f);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "%.*f", dec, x * 100);
    if (text[0] == '-' && strspn(text + 1, "0.") == strlen(text + 1))
        memmove(text, text + 1, strlen(text)); /* no "-0.0" */
    int alpha = full > 0 ? (int)lround(fmin(1, fabs(x) / full) * 153) : 0;
    fprintf(f, "<td style=\"background:#%s%02x\">%s%%</td>", x >= 0 ? "1a9641" : "d7191c", alpha,
            text);
}

static int html_monthly(const hydra_bt_result *r, FILE *f)
{
    /* The whole account's column where it lies; without a day there is no return. */
    const int *dates = r->dates;
    const double *eq = r->n_days > 0 ? r->equity[0] : NULL;
    size_t n = r->n_days > 0 ? r->n_days + 1 : 0;
    size_t rows = hydra_report_monthly_returns(dates, eq, n, NULL, 0);
    hydra_report_year *y = malloc((rows ? rows : 1) * sizeof *y);
    if (y == NULL)
        return HYDRA_ENOMEM;
    hydra_report_monthly_returns(dates, eq, n, y, rows);
    fprintf(f, "<div class=\"scroll\"><table class=\"monthly\" id=\"monthly\"><thead><tr>"
               "<th>year</th>");
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int m = 0; m < 12; m++)
        fprintf(f, "<th>%s</th>", mon[m]);
    fprintf(f, "<th>year</th></tr></thead><tbody>\n");
    /* Colours scale to the largest month; tenths of a percent unless every month is under 1%. */
    double full = 0;
    for (size_t i = 0; i < rows; i++)
        for (int m = 0; m < 12; m++)
            full = isnan(y[i].month[m]) ? full : fmax(full, fabs(y[i].month[m]));
    int dec = full < 0.01 ? 2 : 1;
    for (size_t i = 0; i < rows; i++) {
        if (rows > 2 * HTML_YEARS && i == HTML_YEARS) {
            fprintf(f, "<tr><td colspan=\"14\">%zu more years</td></tr>\n", rows - 2 * HTML_YEARS);
            i = rows - HTML_YEARS;
        }
        fprintf(f, "<tr><th>%d</th>", y[i].year);
        for (int m = 0; m < 12; m++)
            monthly_cell(f, y[i].month[m], full, dec);
        monthly_cell(f, y[i].total, full, dec);
        fputs("</tr>\n", f);
    }
    fprintf(f, "</tbody></table></div>\n");
    free(y);
    return ferror(f) ? HYDRA_EIO : 0;
}

static void html_trades(const hydra_bt_result *r, FILE *f)
{
    if (r->n_trades > 2 * HTML_TRADES)
        fprintf(f,
                "<p class=\"note\" id=\"trades-note\">%zu trades: the first %d and the last %d "
                "are listed (sorting orders those); every trade is in trades.csv.</p>\n",
                r->n_trades, HTML_TRADES, HTML_TRADES);
    fprintf(f, "<div class=\"trades\"><table class=\"sortable\" id=\"trades\"><thead><tr>"
               "<th class=\"l\">bot</th><th class=\"l\">symbol</th><th class=\"l\">entry</th>"
               "<th data-type=\"num\">entry price</th><th class=\"l\">exit</th>"
               "<th data-type=\"num\">exit price</th><th data-type=\"num\">qty</th>"
               "<th data-type=\"num\">PnL</th><th data-type=\"num\">return</th>"
               "<th class=\"l\">exit reason</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_trades; i++) {
        /* The first and the last HTML_TRADES; the whole list is in trades.csv. */
        if (r->n_trades > 2 * HTML_TRADES && i == HTML_TRADES)
            i = r->n_trades - HTML_TRADES;
        const hydra_bt_trade *t = &r->trades[i];
        char a[32], b[32], ep[48], xp[48], q[48], pnl[48];
        hydra_format_local(t->entry_ms, a, sizeof a);
        hydra_format_local(t->exit_ms, b, sizeof b);
        double cost = t->entry_price * t->qty;
        fprintf(f, "<tr><td>");
        html_escape(f, t->bot_id);
        fprintf(f, "</td><td>");
        html_escape(f, t->symbol);
        fprintf(f,
                "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td data-v=\"%s\" class=\"%s\">%.2f</td><td data-v=\"%.6f\">%.2f%%</td>"
                "<td>%s</td></tr>\n",
                a, hydra_report_exact(ep, sizeof ep, t->entry_price), b,
                hydra_report_exact(xp, sizeof xp, t->exit_price),
                hydra_report_exact(q, sizeof q, t->qty),
                hydra_report_exact(pnl, sizeof pnl, t->pnl),
                t->pnl >= 0 ? "pos" : "neg", t->pnl, cost != 0 ? t->pnl / fabs(cost) : 0,
                cost != 0 ? t->pnl / fabs(cost) * 100 : 0, t->exit_reason);
    }
    fprintf(f, "</tbody></table></div>\n");
}

/*
 * summary.json inside a <script> block. '<' can stand only inside a JSON
 * string (a bot id, a warning): written \u003c, which JSON reads as the
 * same, so no "</script>" or "<!--" in a name can end or bend the block.
 */
static void html_summary_json(FILE *f, const char *json)
{
    for (const char *p = json; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else
            fputc(*p, f);
    }
}

/*
 * report.html: the template (report.html in the source, built in) with
 * each <!--hydra:NAME--> slot filled in.
 */
static int write_html(const hydra_bt_result *r, FILE *f)
{
    char *json = NULL;
    int rc = summary_json_text(r, &json);
    const char *p = hydra_report_page, *end = hydra_report_page + hydra_report_page_len;
    static const char SLOT[] = "<!--hydra:";
    while (rc == 0 && p < end) {
        const char *s = strstr(p, SLOT);
        if (s == NULL) {
            fwrite(p, 1, (size_t)(end - p), f);
            break;
        }
        fwrite(p, 1, (size_t)(s - p), f);
        const char *name = s + sizeof SLOT - 1, *close = strstr(name, "-->");
        if (close == NULL)
            break;
        size_t len = (size_t)(close - name);
#define SLOT_IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
        if (SLOT_IS("meta"))
            html_meta(r, f);
        else if (SLOT_IS("warnings"))
            html_warnings(r, f);
        else if (SLOT_IS("summary"))
            rc = html_summary(r, f);
        else if (SLOT_IS("conventions"))
            fprintf(f, "Conventions: %s; a bot's equity is the initial cash plus its own PnL. "
                       "CAGR is shown for runs of a year or more.", CONVENTIONS);
        else if (SLOT_IS("equity"))
            rc = html_equity(r, f);
        else if (SLOT_IS("prices"))
            rc = html_prices(r, f);
        else if (SLOT_IS("monthly"))
            rc = html_monthly(r, f);
        else if (SLOT_IS("trades"))
            html_trades(r, f);
        else if (SLOT_IS("summary_json"))
            html_summary_json(f, json);
#undef SLOT_IS
        p = close + 3;
    }
    free(json);
    if (rc == 0 && ferror(f))
        rc = HYDRA_EIO;
    return rc;
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

int hydra_bt_write_reports(const hydra_bt_result *r, const char *dir, FILE *summary_out, char *err,
                           size_t errsz)
{
    hydra_bt_metrics *memo = calloc((size_t)r->n_bots + 1, sizeof *memo);
    for (int c = 0; memo != NULL && c <= r->n_bots; c++)
        metrics_of(r, c, &memo[c]); /* without the memo, each report computes its own */
    g_memo_r = r;
    g_memo = memo;
    if (summary_out != NULL)
        hydra_bt_print_summary(r, summary_out);
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
