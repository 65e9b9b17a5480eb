#include "broker.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int hydra_broker_fail(hydra_broker_err *err, int code, int http_status, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->http_status = http_status;
    err->held = 0;
    err->retry_at_ms = 0;
    err->msg[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

hydra_failure_class hydra_broker_classify(int code)
{
    switch (code) {
    case 0:
        return HYDRA_FAILURE_NONE;
    case HYDRA_ETRANSIENT:
        return HYDRA_FAILURE_TRANSIENT;
    case HYDRA_EREJECTED:
    case HYDRA_ENOTFOUND:
        return HYDRA_FAILURE_REFUSED;
    default:
        /* Bad credentials, a malformed answer, an answer too big to hold: asking again won't help. */
        return HYDRA_FAILURE_PERMANENT;
    }
}

const char *hydra_failure_class_name(hydra_failure_class c)
{
    switch (c) {
    case HYDRA_FAILURE_TRANSIENT:
        return "transient";
    case HYDRA_FAILURE_REFUSED:
        return "refused";
    case HYDRA_FAILURE_PERMANENT:
        return "permanent";
    default:
        return "none";
    }
}

/* OCC roots are 1-6 upper-case letters or digits (adjusted contracts add a digit: "AAPL1"). */
static int occ_root_ok(const char *root, size_t len)
{
    if (len < 1 || len > 6)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isupper((unsigned char)root[i]) && !isdigit((unsigned char)root[i]))
            return 0;
    return 1;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int date_ok(int yyyymmdd)
{
    int y = yyyymmdd / 10000, m = yyyymmdd / 100 % 100, d = yyyymmdd % 100;
    return y >= 2000 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/*
 * Parsed from the right, as the OCC layout is fixed there: 8 strike digits
 * (thousandths of a dollar), C or P, 6 date digits (YYMMDD, years 2000-2099),
 * and whatever is left is the root.
 */
int hydra_occ_parse(const char *occ, char *root, size_t rootsz, int *expiry_yyyymmdd, int *is_call,
                    double *strike)
{
    if (occ == NULL)
        return HYDRA_EINVAL;
    size_t len = strlen(occ);
    if (len < 16 || len > 21)
        return HYDRA_EINVAL;
    size_t root_len = len - 15;
    const char *date = occ + root_len, *cp = date + 6, *digits = cp + 1;
    if (!occ_root_ok(occ, root_len) || !all_digits(date, 6) || (*cp != 'C' && *cp != 'P') ||
        !all_digits(digits, 8))
        return HYDRA_EINVAL;
    int yymmdd = 0;
    for (int i = 0; i < 6; i++)
        yymmdd = yymmdd * 10 + (date[i] - '0');
    long long k = 0;
    for (int i = 0; i < 8; i++)
        k = k * 10 + (digits[i] - '0');
    int expiry = 20000000 + yymmdd;
    if (!date_ok(expiry) || k == 0)
        return HYDRA_EINVAL;
    if (root != NULL) {
        if (rootsz <= root_len)
            return HYDRA_EINVAL;
        memcpy(root, occ, root_len);
        root[root_len] = '\0';
    }
    if (expiry_yyyymmdd != NULL)
        *expiry_yyyymmdd = expiry;
    if (is_call != NULL)
        *is_call = *cp == 'C';
    if (strike != NULL)
        *strike = (double)k / 1000.0;
    return 0;
}

int hydra_occ_format(const char *root, int expiry_yyyymmdd, int is_call, double strike, char *out,
                     size_t outsz)
{
    if (root == NULL || out == NULL || !occ_root_ok(root, strlen(root)) ||
        !date_ok(expiry_yyyymmdd) || !isfinite(strike) || strike <= 0)
        return HYDRA_EINVAL;
    /* Strikes are quoted in thousandths; anything finer is rounded to the nearest. */
    long long k = llround(strike * 1000.0);
    if (k <= 0 || k > 99999999LL)
        return HYDRA_EINVAL;
    /* Written by hand: chains format thousands of symbols a tick. */
    size_t rl = strlen(root);
    if (rl + 6 + 1 + 8 + 1 > outsz)
        return HYDRA_EFULL;
    memcpy(out, root, rl);
    char *p = out + rl;
    int yymmdd = expiry_yyyymmdd % 1000000;
    for (int i = 5; i >= 0; i--, yymmdd /= 10)
        p[i] = (char)('0' + yymmdd % 10);
    p[6] = is_call ? 'C' : 'P';
    for (int i = 14; i >= 7; i--, k /= 10)
        p[i] = (char)('0' + k % 10);
    p[15] = '\0';
    return 0;
}

unsigned hydra_symbol_asset_class(const char *symbol)
{
    if (symbol == NULL)
        return HYDRA_ASSET_EQUITY;
    if (strchr(symbol, '/') != NULL)
        return HYDRA_ASSET_CRYPTO;
    if (hydra_occ_parse(symbol, NULL, 0, NULL, NULL, NULL) == 0)
        return HYDRA_ASSET_OPTION;
    return HYDRA_ASSET_EQUITY;
}

double hydra_fee_qty_part(const hydra_order *o, double part_qty)
{
    if (!(isfinite(o->fee_qty) && o->fee_qty > 0 && o->filled_qty > 0 && o->side == HYDRA_SIDE_BUY))
        return 0;
    double f = o->fee_qty * (part_qty / o->filled_qty);
    return f < part_qty ? f : 0;
}
