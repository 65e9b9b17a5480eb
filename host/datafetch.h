/*
 * hydra-host data fetch: historical bars from Alpaca's market-data API into
 * data/, as files the simulated exchange and the backtest read as they are.
 *
 *   hydra-host data fetch --symbols ORCL,NVDA --timeframe 1Day|1Hour|5Min|1Min
 *       --from YYYY-MM-DD --to YYYY-MM-DD [--feed iex|sip]
 *       [--adjustment raw|split|dividend|all] [--crypto] [--out DIR]
 *       [--config DIR] [--cache DIR] [--page-bars N]
 *
 * One file per symbol and timeframe, <out>/<symbol>-<timeframe>-<from>-<to>.csv
 * (lower case, "/" as "-"), behind one "#" provenance line. Requests go
 * through the Alpaca adapter (alpaca.c: its connection, timeouts, answer
 * limit and 429 rule) to alpaca.data_url with the credentials the live host
 * uses (ALPACA_KEY / ALPACA_SECRET, environment or .env).
 *
 * Every page is checked before a byte of it is kept, and appended to
 * <file>.partial with its progress in <file>.partial.json (written after
 * the rows are on disk), so a fetch stopped anywhere continues where it
 * stopped; the final file appears only by rename, complete. A bad page is
 * refused with the symbol and the bar's time and leaves nothing behind.
 *
 * Exit status: 0 every symbol fetched or already there, 1 a fetch failed or
 * was refused, 2 usage or configuration error.
 */
#ifndef HYDRA_DATAFETCH_H
#define HYDRA_DATAFETCH_H

#include <stdio.h>

/* `hydra-host data ...`: argv[0] is "data". */
int hydra_data_main(int argc, char **argv);

void hydra_data_usage(FILE *out);

#endif
