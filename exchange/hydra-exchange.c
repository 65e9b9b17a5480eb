/*
 * hydra-exchange: the simulated exchange behind an Alpaca-compatible HTTP
 * API on 127.0.0.1, for tests and for rehearsing offline (README, "The
 * local exchange").
 *
 *   hydra-exchange [--config DIR] [--port N] [--port-file PATH]
 *                  [--rate-limit N] [--step-ms MS]
 *
 * The replayed series, the paper account file and the fill rules come from
 * the settings' `sim` section. Clients must send the key pair found in
 * ALPACA_KEY / ALPACA_SECRET (environment or .env). --step-ms advances the
 * simulated clock one tick every MS wall-clock milliseconds; without it the
 * clock moves only on POST /_hydra/step. SIGINT or SIGTERM stops it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "error.h"
#include "exchange_server.h"
#include "loop.h"
#include "sim.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: hydra-exchange [--config DIR] [--port N] [--port-file PATH] "
                    "[--rate-limit N] [--step-ms MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *config_dir = "config", *port_file = NULL;
    int port = 8787, rate_limit = 200, step_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--config") == 0 && v != NULL)
            config_dir = argv[++i];
        else if (strcmp(a, "--port") == 0 && v != NULL)
            port = atoi(argv[++i]);
        else if (strcmp(a, "--port-file") == 0 && v != NULL)
            port_file = argv[++i];
        else if (strcmp(a, "--rate-limit") == 0 && v != NULL)
            rate_limit = atoi(argv[++i]);
        else if (strcmp(a, "--step-ms") == 0 && v != NULL)
            step_ms = atoi(argv[++i]);
        else
            return usage();
    }
    if (port < 0 || port > 65535 || rate_limit <= 0 || step_ms < 0)
        return usage();

    int rc = 1;
    char err[1024] = "";
    hydra_sim *sim = NULL;
    hydra_exchange *ex = NULL;
    hydra_credentials creds;
    hydra_clock clock;
    hydra_config *cfg = calloc(1, sizeof *cfg);
    hydra_diag diag;
    hydra_diag_init(&diag);
    if (cfg == NULL)
        goto fail;
    if (hydra_config_load(config_dir, cfg, &diag) != 0) {
        hydra_diag_print(&diag, stderr);
        rc = 2;
        goto fail;
    }
    hydra_tz_set(cfg->settings.timezone);
    hydra_credentials_load(".env", &creds, stderr);
    if (!creds.have_keys) {
        fprintf(stderr, "hydra-exchange: set ALPACA_KEY and ALPACA_SECRET (environment or .env) "
                        "to the pair clients will send\n");
        rc = 2;
        goto fail;
    }
    hydra_clock_init_sim(&clock, 0);
    if (hydra_engine_open_sim(&cfg->settings.sim, &clock, &sim, err, sizeof err) != 0) {
        fprintf(stderr, "hydra-exchange: %s\n", err);
        rc = 2;
        goto fail;
    }
    hydra_exchange_opts opts = {creds.key, creds.secret, port, rate_limit};
    if (hydra_exchange_start(sim, &clock, &opts, &ex, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto fail;
    }
    memset(&creds, 0, sizeof creds);
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");
        if (f == NULL || fprintf(f, "%d\n", hydra_exchange_port(ex)) < 0 || fclose(f) != 0) {
            fprintf(stderr, "hydra-exchange: cannot write %s\n", port_file);
            goto fail;
        }
    }
    printf("hydra-exchange: listening on http://127.0.0.1:%d (pid %ld)\n", hydra_exchange_port(ex),
           (long)getpid());
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_requested) {
        struct timespec ts = {0, 50 * 1000000L};
        if (step_ms > 0) {
            ts.tv_sec = step_ms / 1000;
            ts.tv_nsec = (long)(step_ms % 1000) * 1000000L;
        }
        nanosleep(&ts, NULL);
        if (step_ms > 0 && !stop_requested && hydra_exchange_step(ex, 1) == HYDRA_EEOF) {
            printf("hydra-exchange: replay finished; serving the final state\n");
            fflush(stdout);
            step_ms = 0;
        }
    }
    rc = 0;
fail:
    hydra_exchange_stop(ex);
    if (sim != NULL)
        hydra_sim_close(sim);
    hydra_diag_free(&diag);
    free(cfg);
    memset(&creds, 0, sizeof creds);
    return rc;
}
