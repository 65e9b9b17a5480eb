/*
 * Fuzz target: the configuration loader (host/config.c).
 *
 * An input is settings.yaml, a NUL byte, then bots.yaml (no NUL: all of it
 * is settings.yaml and bots.yaml is empty). YAML forbids NUL, so the split
 * costs the fuzzer nothing it could reach through the files. Both texts go
 * through hydra_config_load_text, the same parser and checks a load from
 * config/ runs; an accepted configuration is printed as check-config would
 * print it, and every error message is formatted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *g_null;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hydra_config *cfg;
    if (cfg == NULL && (cfg = malloc(sizeof *cfg)) == NULL)
        abort();
    if (g_null == NULL && (g_null = fopen("/dev/null", "w")) == NULL)
        abort();

    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t settings_len = nul != NULL ? (size_t)(nul - text) : size;
    const char *bots = nul != NULL ? nul + 1 : "";
    size_t bots_len = nul != NULL ? size - settings_len - 1 : 0;

    hydra_diag diag;
    hydra_diag_init(&diag);
    int rc = hydra_config_load_text("config", text, settings_len, bots, bots_len, cfg, &diag);
    if (rc == 0) {
        hydra_config_print(cfg, g_null);
        for (int i = 0; i < cfg->n_bots; i++)
            if (hydra_config_find_bot(cfg, cfg->bots[i].bot_id) == NULL)
                abort(); /* a loaded bot must be found by its own id */
    } else if (diag.n == 0) {
        abort(); /* a refused configuration always says why */
    }
    hydra_diag_print(&diag, g_null);
    hydra_diag_free(&diag);
    return 0;
}
