/*
 * Enters at most three times in its life and stores the count of
 * positions it has seen open with state_set, but reads it back under
 * another key: after a restart it forgets and enters again.
 */
#include <stdio.h>
#define CB_NAME "forgets_state"
#include <hydra/plugin.h>
#define CB_CREATE_EXTRA(bot, api, host) fs_load(bot, api, host)
#define CB_MAY_ENTER(bot) ((bot)->entries < 3)
#define CB_SEEN(bot, held) fs_seen(bot, held)
static int fs_load(struct hydra_bot *bot, const struct hydra_host_api *api, struct hydra_host *host);
static void fs_seen(struct hydra_bot *bot, double held);
#include "conform_base.h"

static int fs_load(hydra_bot *bot, const hydra_host_api *api, hydra_host *host)
{
    char buf[32];
    if (api->state_get(host, "entry_count", buf, sizeof buf) == 0)
        bot->entries = atoi(buf);
    return 0;
}

/* Counts an entry when a new position shows up in the snapshot (manage runs every tick). */
static void fs_seen(hydra_bot *bot, double held)
{
    char buf[32];
    if (held > 0.0 && !bot->holding) {
        bot->entries++;
        snprintf(buf, sizeof buf, "%d", bot->entries);
        bot->api->state_set(bot->host, "entries", buf);
    }
    bot->holding = held > 0.0;
}
