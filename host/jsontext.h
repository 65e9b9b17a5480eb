/*
 * JSON text written straight into a caller's buffer, exactly as jansson's
 * json_dumps(v, JSON_COMPACT) writes it, for the values that are cheap to
 * get right: plain-ASCII strings and keys (escapes included), integers,
 * finite reals, true, false, null, arrays and objects in their order.
 *
 * The log writes several lines per tick; building each line as a jansson
 * object and dumping it through jansson's callbacks was most of its cost.
 * Anything outside that set (a byte >= 0x80, which jansson would validate
 * as UTF-8, deep nesting, a full buffer, a locale whose decimal point is
 * not '.') makes a call fail, and the caller falls back to jansson itself.
 */
#ifndef HYDRA_JSONTEXT_H
#define HYDRA_JSONTEXT_H

#include <stddef.h>

#include <jansson.h>

typedef struct hydra_jtext {
    char *p;   /* next byte to write */
    char *end; /* one past the last byte available */
    int ok;    /* cleared by the first call that cannot be done exactly */
} hydra_jtext;

void hydra_jtext_init(hydra_jtext *t, char *buf, size_t size);
/* Raw text, copied as is (punctuation, known-safe tokens). */
void hydra_jtext_raw(hydra_jtext *t, const char *s, size_t n);
/* A JSON string: quotes and jansson's escapes. */
void hydra_jtext_string(hydra_jtext *t, const char *s, size_t n);
/* An integer, as jansson's "%lld". */
void hydra_jtext_integer(hydra_jtext *t, json_int_t v);
/* The key of an object iterator (json_object_iter), as a JSON string. */
void hydra_jtext_key(hydra_jtext *t, void *iter);
/* Any value, recursively. */
void hydra_jtext_value(hydra_jtext *t, const json_t *v);

#endif
