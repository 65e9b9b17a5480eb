/* Picks its share count from the wall clock at create: two instances on the same tape disagree. */
#define _GNU_SOURCE
#include <time.h>
#define CB_NAME "nondeterministic"
#include <hydra/plugin.h>
#define CB_CREATE_EXTRA(bot, api, host) nd_init(bot)
static int nd_init(struct hydra_bot *bot);
#include "conform_base.h"

static int nd_init(hydra_bot *bot)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bot->qty = 1.0 + (double)(ts.tv_nsec / 1000 % 1000);
    return 0;
}
