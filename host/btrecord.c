/*
 * The equity record of a backtest: a point a trading day, every array
 * (dates, times, one per equity column) in its own anonymous mapping.
 *
 * A day costs 8 bytes of date and time (the time as an offset from the
 * date's midnight, 4 bytes where a padded 64-bit stamp took 12) and 8 a
 * column: 24 MB for a million days of one bot and the account. The arrays
 * grow by doubling with mremap, which moves the pages instead of copying
 * them: a realloc could hold the old and the new array at once, or leave
 * the old one's pages behind in the heap. Room reserved and not yet
 * written costs no memory.
 */
#define _GNU_SOURCE
#include "btrecord.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "clock.h"
#include "error.h"

#define DAY_MS 86400000LL
#define FIRST_POINTS 1024 /* a page of int, two of double */

static size_t cols_of(const hydra_bt_result *r)
{
    return 1 + (size_t)r->n_bots;
}

/* Array k of the record: the dates, the times, then each equity column. */
static void *array_of(const hydra_bt_result *r, size_t k, size_t *elem)
{
    if (k == 0) {
        *elem = sizeof *r->dates;
        return r->dates;
    }
    if (k == 1) {
        *elem = sizeof *r->day_ms;
        return r->day_ms;
    }
    *elem = sizeof **r->equity;
    return r->equity[k - 2];
}

static void set_array(hydra_bt_result *r, size_t k, void *p)
{
    if (k == 0)
        r->dates = p;
    else if (k == 1)
        r->day_ms = p;
    else
        r->equity[k - 2] = p;
}

/* A mapping of `bytes` for an array of `old` bytes at p (a new one when old is 0); NULL on failure.
 */
static void *remap(void *p, size_t old, size_t bytes)
{
    void *q = old == 0
                  ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : mremap(p, old, bytes, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
}

/* Gives every array room for cap points; on failure every array keeps its size. */
static int grow(hydra_bt_result *r, size_t cap)
{
    size_t n = 2 + cols_of(r), old = r->cap_points, k, elem;
    if (r->equity == NULL && (r->equity = calloc(cols_of(r), sizeof *r->equity)) == NULL)
        return HYDRA_ENOMEM;
    for (k = 0; k < n; k++) {
        void *p = array_of(r, k, &elem), *q = remap(p, old * elem, cap * elem);
        if (q == NULL)
            break;
        set_array(r, k, q);
    }
    if (k == n) {
        r->cap_points = cap;
        return 0;
    }
    while (k-- > 0) {
        void *p = array_of(r, k, &elem);
        if (old == 0) {
            munmap(p, cap * elem);
            set_array(r, k, NULL);
        } else {
            void *q = mremap(p, cap * elem, old * elem, 0); /* shrinks in place */
            if (q != MAP_FAILED)
                set_array(r, k, q);
        }
    }
    return HYDRA_ENOMEM;
}

int hydra_bt_record_day(hydra_bt_result *r, int date, int64_t t_ms)
{
    size_t i = r->n_days + 1; /* the new day's point: point 0 is the start */
    if (i >= r->cap_points) {
        int rc = grow(r, r->cap_points ? 2 * r->cap_points : FIRST_POINTS);
        if (rc != 0)
            return rc;
    }
    if (i == 1) {
        r->dates[0] = date;
        r->day_ms[0] = 0; /* hydra_bt_point_ms: a day before point 1 */
        for (size_t c = 0; c < cols_of(r); c++)
            r->equity[c][0] = r->initial_cash;
    }
    /* The next calendar day is a day on (a rollover a bar on daily bars): no calendar arithmetic. */
    if (i > 1 && date == r->dates[i - 1] + 1)
        r->midnight_ms += DAY_MS;
    else
        r->midnight_ms = hydra_days_from_date(date) * DAY_MS;
    r->dates[i] = date;
    r->n_days = i;
    hydra_bt_record_time(r, t_ms);
    return 0;
}

int64_t hydra_bt_point_ms(const hydra_bt_result *r, size_t i)
{
    if (i == 0)
        return hydra_bt_point_ms(r, 1) - DAY_MS;
    return hydra_days_from_date(r->dates[i]) * DAY_MS + r->day_ms[i];
}

int64_t hydra_bt_next_point_ms(const hydra_bt_result *r, size_t i, int64_t prev_ms)
{
    if (i >= 2 && r->dates[i] == r->dates[i - 1] + 1) /* yyyymmdd + 1: the next day */
        return prev_ms - r->day_ms[i - 1] + DAY_MS + r->day_ms[i];
    return hydra_bt_point_ms(r, i);
}

void hydra_bt_record_free(hydra_bt_result *r)
{
    for (size_t k = 0; r->cap_points > 0 && k < 2 + cols_of(r); k++) {
        size_t elem;
        void *p = array_of(r, k, &elem);
        munmap(p, r->cap_points * elem);
    }
    free(r->equity);
    r->equity = NULL;
    r->dates = NULL;
    r->day_ms = NULL;
    r->cap_points = 0;
    r->n_days = 0;
}
