/*
 * A market zone's UTC offsets from its TZif file (RFC 8536), read once.
 *
 * The engine asks for the local time of every bar; the C library answers
 * through localtime_r, which takes a lock and, for instants past the last
 * transition in the file (2037 in Debian's files), parses the zone's POSIX
 * rule string again on every call. Here the file's 64-bit transition table
 * and its footer rule are read once, and a question answers with the
 * offset in force and the span of UTC seconds over which it holds, so a
 * caller that remembers the span converts every later instant in it with
 * one comparison.
 */
#ifndef HYDRA_TZIF_H
#define HYDRA_TZIF_H

#include <stddef.h>
#include <stdint.h>

/* One rule of a POSIX TZ string ("M3.2.0/2", "J60", "59"). */
typedef struct hydra_tz_rule {
    int kind;       /* 0: Mm.w.d; 1: Jn (1..365, no leap day); 2: n (0..365, leap day counted) */
    int month, week, wday, day;
    int32_t time_s; /* seconds after local midnight, may be negative or past 24 h */
} hydra_tz_rule;

typedef struct hydra_tzif {
    int64_t *at;          /* transition instants, UTC seconds, ascending */
    int32_t *utoff_at;    /* offset (seconds east of UTC) in force from at[i] */
    size_t n;
    int32_t utoff_before; /* before the first transition */
    /* The footer rule, used after the last transition. */
    int has_rule;         /* 0: the last offset holds for ever */
    int has_dst;
    int32_t std_off, dst_off;
    hydra_tz_rule start, end;
    /* The last spans answered: a caller's instants cluster (a day's bars, its session). */
    struct {
        int64_t from, until;
        int32_t off;
    } recent[4];
    unsigned n_recent, next_recent;
} hydra_tzif;

/*
 * Reads the zone's TZif file ($TZDIR or /usr/share/zoneinfo, then the
 * name). Returns 0, or a negative code with what is wrong in err.
 */
int hydra_tzif_load(const char *iana, hydra_tzif *out, char *err, size_t errsz);
/* Parses bytes of a TZif file (version 2 or later, or version 1). */
int hydra_tzif_parse(const unsigned char *buf, size_t len, hydra_tzif *out, char *err,
                     size_t errsz);
void hydra_tzif_free(hydra_tzif *z);

/*
 * The offset in force at UTC second t (seconds east of UTC), and the span
 * [*from, *until) of UTC seconds over which it holds unchanged (INT64_MIN
 * / INT64_MAX at the ends). The last few spans are remembered in z, so
 * repeated questions about nearby instants cost a few comparisons.
 */
int32_t hydra_tzif_offset(hydra_tzif *z, int64_t t, int64_t *from, int64_t *until);

#endif
