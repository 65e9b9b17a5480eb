#define _GNU_SOURCE
#include "jsontext.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Deeper values are left to jansson (which also detects cycles). */
#define JTEXT_MAX_DEPTH 16

void hydra_jtext_init(hydra_jtext *t, char *buf, size_t size)
{
    t->p = buf;
    t->end = buf + size;
    t->ok = size > 0;
}

void hydra_jtext_raw(hydra_jtext *t, const char *s, size_t n)
{
    if (!t->ok || (size_t)(t->end - t->p) < n) {
        t->ok = 0;
        return;
    }
    memcpy(t->p, s, n);
    t->p += n;
}

/* jansson's dump_string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH. */
void hydra_jtext_string(hydra_jtext *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    hydra_jtext_raw(t, "\"", 1);
    for (size_t i = 0; i < n && t->ok; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            t->ok = 0; /* jansson would check it is UTF-8 */
            return;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (t->p == t->end) {
                t->ok = 0;
                return;
            }
            *t->p++ = (char)c;
            continue;
        }
        switch (c) {
        case '"':
            hydra_jtext_raw(t, "\\\"", 2);
            break;
        case '\\':
            hydra_jtext_raw(t, "\\\\", 2);
            break;
        case '\b':
            hydra_jtext_raw(t, "\\b", 2);
            break;
        case '\f':
            hydra_jtext_raw(t, "\\f", 2);
            break;
        case '\n':
            hydra_jtext_raw(t, "\\n", 2);
            break;
        case '\r':
            hydra_jtext_raw(t, "\\r", 2);
            break;
        case '\t':
            hydra_jtext_raw(t, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            hydra_jtext_raw(t, u, sizeof u);
        }
        }
    }
    hydra_jtext_raw(t, "\"", 1);
}

void hydra_jtext_key(hydra_jtext *t, void *iter)
{
    const char *key = json_object_iter_key(iter);
    size_t len = strlen(key);
#if JANSSON_VERSION_HEX >= 0x020e00
    if (json_object_iter_key_len(iter) != len) {
        t->ok = 0; /* a key with a NUL inside: jansson's own business */
        return;
    }
#endif
    hydra_jtext_string(t, key, len);
}

void hydra_jtext_integer(hydra_jtext *t, json_int_t v)
{
    char buf[24];
    int i = (int)sizeof buf;
    /* Digits from the unsigned magnitude, so the most negative value has no overflow. */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        buf[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (v < 0)
        buf[--i] = '-';
    hydra_jtext_raw(t, buf + i, sizeof buf - (size_t)i);
}

/* jansson's jsonp_dtostr with its default precision (17). */
static void put_real(hydra_jtext *t, double v)
{
    char buf[100];
    if (*localeconv()->decimal_point != '.') {
        t->ok = 0; /* jansson rewrites the locale's point; not worth copying */
        return;
    }
    int len = snprintf(buf, sizeof buf, "%.17g", v);
    if (len < 0 || (size_t)len >= sizeof buf) {
        t->ok = 0;
        return;
    }
    size_t length = (size_t)len;
    /* A dot or an exponent, so the value reads back as a real. */
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        if (length + 3 >= sizeof buf) {
            t->ok = 0;
            return;
        }
        buf[length++] = '.';
        buf[length++] = '0';
        buf[length] = '\0';
    }
    /* No '+' and no leading zeros in the exponent. */
    char *start = strchr(buf, 'e');
    if (start != NULL) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, length - (size_t)(end - buf));
            length -= (size_t)(end - start);
        }
    }
    hydra_jtext_raw(t, buf, length);
}

static void put_value(hydra_jtext *t, const json_t *v, int depth)
{
    if (!t->ok)
        return;
    if (depth > JTEXT_MAX_DEPTH) {
        t->ok = 0;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int first = 1;
        hydra_jtext_raw(t, "{", 1);
        for (void *it = json_object_iter((json_t *)v); it != NULL && t->ok;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                hydra_jtext_raw(t, ",", 1);
            first = 0;
            hydra_jtext_key(t, it);
            hydra_jtext_raw(t, ":", 1);
            put_value(t, json_object_iter_value(it), depth + 1);
        }
        hydra_jtext_raw(t, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        hydra_jtext_raw(t, "[", 1);
        json_array_foreach(v, i, item)
        {
            if (i > 0)
                hydra_jtext_raw(t, ",", 1);
            put_value(t, item, depth + 1);
        }
        hydra_jtext_raw(t, "]", 1);
        return;
    }
    case JSON_STRING:
        hydra_jtext_string(t, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        hydra_jtext_integer(t, json_integer_value(v));
        return;
    case JSON_REAL:
        put_real(t, json_real_value(v));
        return;
    case JSON_TRUE:
        hydra_jtext_raw(t, "true", 4);
        return;
    case JSON_FALSE:
        hydra_jtext_raw(t, "false", 5);
        return;
    case JSON_NULL:
        hydra_jtext_raw(t, "null", 4);
        return;
    }
    t->ok = 0;
}

void hydra_jtext_value(hydra_jtext *t, const json_t *v)
{
    if (v == NULL) {
        t->ok = 0;
        return;
    }
    put_value(t, v, 0);
}
