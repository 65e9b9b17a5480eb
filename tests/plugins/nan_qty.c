/* Sizes by risk room over the last price without checking the price: NaN or infinite quantities on bad prices. */
#define CB_NAME "nan_qty"
#include <hydra/plugin.h>
#define CB_ENTRY_QTY(bot, snap, v) nq_qty(snap, v)
static double nq_qty(const struct hydra_snapshot *snap, const struct hydra_symbol_view *v);
#include "conform_base.h"

static double nq_qty(const hydra_snapshot *snap, const hydra_symbol_view *v)
{
    double q = floor((snap->budget->max_open_risk - snap->budget->open_risk_used) / v->last_price / 100.0);
    return q < 1.0 ? 1.0 : q > 5.0 ? 5.0 : q; /* NaN passes both comparisons */
}
