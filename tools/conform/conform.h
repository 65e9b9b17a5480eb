/*
 * hydra-conform: the plugin conformance harness.
 *
 * A plugin is judged by a named table of checks. Each check runs in a fresh
 * child process (the child loads the plugin itself) under a deadline, so a
 * plugin that crashes or hangs costs one check a CRASH or TIMEOUT and the
 * harness goes on. Checks that need market data drive the bot with a
 * seeded synthetic tape, so a failure replays with the same --seed.
 */
#ifndef HYDRA_CONFORM_H
#define HYDRA_CONFORM_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/plugin.h>

#include "config.h"
#include "loader.h"

/* Outcomes, in order of severity for the summary. */
typedef enum conform_outcome {
    CONFORM_PASS = 0,
    CONFORM_WARN = 1,
    CONFORM_SKIP = 2,
    CONFORM_FAIL = 3,
    CONFORM_CRASH = 4,
    CONFORM_TIMEOUT = 5
} conform_outcome;

/* What one check reports. Fixed size: a child sends it whole through a pipe. */
typedef struct conform_result {
    int outcome;          /* conform_outcome */
    char message[1024];   /* one line: what was seen, and for a failure, why it fails */
    /*
     * For a FAIL, CRASH or TIMEOUT in a bot callback: the fault itself,
     * the same text wherever it shows (so one bug seen by several checks
     * is reported once), and the case it showed in (callback, tick,
     * snapshot shape). Empty otherwise.
     */
    char cause[256];
    char where[320];
} conform_result;

/* Everything a check needs to know about the run. */
typedef struct conform_opts {
    const char *path;          /* the plugin file */
    hydra_bot_cfg cfg;         /* the configuration every instance is created with */
    uint64_t seed;             /* seeds every synthetic tape */
    double timeout_s;          /* per check */
    double budget_median_ms;   /* call-deadline: WARN above these */
    double budget_p99_ms;
    int repeat;                /* create-destroy-repeat cycles */
    double call_deadline_ms;   /* one manage or on_tick call longer than this: TIMEOUT at once */
    int max_timeouts;          /* checks that may TIME OUT before the remaining ones are skipped */
} conform_opts;

/*
 * What a check's child is doing, in memory shared with the parent, so the
 * parent can say where a child that crashed or hung was and how long its
 * calls took, even though the child never reported. probe.c.
 */
#define CONFORM_PROBE_TIMES 8192
typedef struct conform_probe {
    volatile int in_call;          /* 1 while manage or on_tick runs */
    volatile double call_start_ns; /* CLOCK_MONOTONIC, when it started */
    char callback[16];             /* create, manage, on_tick, destroy */
    char where[320];               /* the case: what is being run, tick, snapshot shape */
    volatile uint32_t n_times;     /* manage/on_tick calls finished */
    double times_ns[CONFORM_PROBE_TIMES]; /* their durations, the first CONFORM_PROBE_TIMES */
    volatile int fault_sig;        /* the fatal signal, 0 if none */
    uint64_t fault_offset;         /* the faulting code's offset in its object */
    char fault_object[256];        /* the object (plugin or library) holding it */
    char fault_symbol[128];        /* its function, when the object exports the name */
} conform_probe;

/* The shared probe: mapped once by main; NULL when there is none (calls then do nothing). */
extern conform_probe *hydra_conform_probe_area;
int hydra_conform_probe_map(void);
/* Before and after one bot callback. `where` is copied. */
void hydra_conform_probe_enter(const char *callback, const char *where, int timed);
void hydra_conform_probe_leave(int timed);
/* In the child, once the plugin is open: fatal signals record where they hit, then kill as usual. */
void hydra_conform_probe_catch_faults(const void *plugin_address);
/* "median 0.01 ms, p99 0.02 ms, max 0.05 ms over N calls", or "no call finished". */
void hydra_conform_probe_times(const conform_probe *p, char *out, size_t outsz);
/* "cb_on_tick+0x1c in crash_on_empty.so", or the object and offset when no symbol is known. */
void hydra_conform_probe_fault(const conform_probe *p, char *out, size_t outsz);

/*
 * The function holding `offset` in the ELF file at path, from .symtab (or
 * .dynsym): 0 with "name+0xN" in out, or -1 (stripped, or not found). elf.c.
 */
int hydra_conform_symbolize(const char *path, uint64_t offset, char *out, size_t outsz);

/*
 * The per-process environment of a check that loads the plugin: the open
 * plugin, the host side the plugin sees, an in-memory key-value store that
 * outlives bot instances (so state can be checked across destroy and
 * create) and the last log line.
 */
typedef struct conform_env conform_env;

/* /proc/self/statm of a check's child, opened before it confines itself (checks.c reads it). */
extern int hydra_conform_statm_fd;

typedef void (*conform_check_fn)(const conform_opts *o, conform_env *env, conform_result *r);

typedef struct conform_check {
    const char *name;
    const char *description;
    int loads_plugin;     /* 1: the child opens the plugin with the host's loader first */
    int randomised;       /* 1: uses the seeded tape */
    conform_check_fn run;
} conform_check;

/* 1 when check c asks LeakSanitizer for leaks: only in a sanitizer build (the test suite's). */
int hydra_conform_asks_lsan(const conform_check *c);

/* The check table, in run order. */
extern const conform_check hydra_conform_checks[];
extern const size_t hydra_conform_n_checks;

/*
 * Runs one check in the calling process: opens the plugin when the check
 * needs it, runs it and releases everything. Used by the child of each
 * check and by --in-process.
 */
void hydra_conform_run_check(const conform_check *c, const conform_opts *o, conform_result *r);

/* The exports-only-entry check (elf.c): reads .dynsym from the file. */
void hydra_conform_check_exports(const conform_opts *o, conform_env *env, conform_result *r);

/* The check that picks a signal mode (see hydra_conform_probe_mode), run like any other. */
extern const conform_check hydra_conform_probe;

/*
 * The probe's answer on PASS is "<asset classes> <mode>": the plugin's
 * declared asset classes and the first mode create accepted (--mode, or the
 * known modes in turn). Symbols come from hydra_conform_default_symbols.
 */
void hydra_conform_default_symbols(hydra_bot_cfg *cfg, uint32_t asset_classes);

/* Sets r's outcome and message (printf-style). */
void hydra_conform_set(conform_result *r, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
