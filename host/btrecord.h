/*
 * The equity record of a backtest (btrecord.c): the daily curve of
 * hydra_bt_result, grown a trading day at a time while the replay runs.
 */
#ifndef HYDRA_BTRECORD_H
#define HYDRA_BTRECORD_H

#include <stdint.h>

#include "backtest.h"

/*
 * Opens trading day `date` (yyyymmdd, market zone) with its first bar at
 * t_ms: a new point whose equity columns the caller fills (mark). The
 * first day also writes point 0, the start. Returns 0 or HYDRA_ENOMEM.
 */
int hydra_bt_record_day(hydra_bt_result *r, int date, int64_t t_ms);

/*
 * The current day's last bar so far (every tick updates it). A day's bars
 * lie within about two days of its date's midnight UTC, whatever the zone,
 * so the offset fits 32 bits many times over.
 */
static inline void hydra_bt_record_time(hydra_bt_result *r, int64_t t_ms)
{
    r->day_ms[r->n_days] = (int32_t)(t_ms - r->midnight_ms);
}

/* Unmaps the record's arrays; the result keeps no days. */
void hydra_bt_record_free(hydra_bt_result *r);

#endif
