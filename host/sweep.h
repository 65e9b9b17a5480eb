/*
 * hydra-host sweep: a grid (or random samples) over one bot's signal.params
 * and risk settings, each point an independent backtest (backtest.h) in its
 * own child process, results in one SQLite file. Walk-forward splits the
 * span into rolling in-sample / out-of-sample windows. A sweep shards
 * deterministically (--shard K/N) for Slurm array jobs or Kubernetes Indexed
 * Jobs, and `sweep collect` merges the shards' files.
 *
 * The unit of work is a task: one point over one span (the whole span, or
 * one window's in-sample or out-of-sample part). Task ids follow from the
 * spec alone, so every shard and every resume agrees on them.
 */
#ifndef HYDRA_SWEEP_H
#define HYDRA_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define HYDRA_SWEEP_MAX_AXES 16
#define HYDRA_SWEEP_MAX_VALUES 256
#define HYDRA_SWEEP_MAX_POINTS 1000000

/* One swept setting: a signal param (kind 'p') or a risk key (kind 'r'). */
typedef struct hydra_sweep_axis {
    char kind;                       /* 'p' or 'r' */
    char key[HYDRA_ID_LEN];
    /* grid values (and random choices), as YAML scalar text */
    char (*values)[64];
    int n_values;
    /* random range (random search only): uniform in [lo, hi]; integers when both are */
    int is_range, range_int;
    double lo, hi;
} hydra_sweep_axis;

typedef struct hydra_sweep_spec {
    char path[HYDRA_PATH_LEN];       /* the spec file */
    char config_dir[HYDRA_PATH_LEN]; /* default "config" */
    char plugins_dir[HYDRA_PATH_LEN];/* default "plugins" */
    char bot[HYDRA_ID_LEN];
    char from[11], to[11];
    int random;                      /* 0 grid, 1 random */
    long samples;
    unsigned long long seed;
    char rank_by[32];                /* sharpe (default), sortino, total_return, cagr, ... */
    hydra_sweep_axis axes[HYDRA_SWEEP_MAX_AXES];
    int n_axes;
    /* walk-forward (in_sample_days 0 = off) */
    int is_days, oos_days, step_days;
    /* derived */
    long n_points;
    int n_windows;                   /* 0 without walk-forward */
    int win_from[512], win_is_to[512], win_oos_from[512], win_to[512]; /* yyyymmdd */
    unsigned long long hash;         /* of every task's definition */
} hydra_sweep_spec;

/* Loads and checks a spec; errors name the file, line and key. */
int hydra_sweep_spec_load(const char *path, hydra_sweep_spec *spec, char *err, size_t errsz);
void hydra_sweep_spec_free(hydra_sweep_spec *spec);

/* Tasks in the sweep; task t belongs to shard t % n. */
long hydra_sweep_n_tasks(const hydra_sweep_spec *spec);

/* The command: argv[0] is "sweep". Returns the exit status. */
int hydra_sweep_main(int argc, char **argv);
void hydra_sweep_usage(FILE *out);

#endif
