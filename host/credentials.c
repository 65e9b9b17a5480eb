/*
 * Broker credentials from the environment and an optional .env file.
 *
 * The values are secrets. Nothing here prints one: warnings name the file,
 * the line number and the variable, never the text of a line. Buffers that
 * held a line of the file are wiped before they go out of scope.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

/* Longest .env line accepted; a longer one is reported and skipped. */
#define ENV_LINE_MAX 1024

typedef struct cred_slot {
    const char *name;
    char *dst;
    size_t size;
    int from_env; /* the environment set it, so the file may not */
} cred_slot;

static void warnf(FILE *warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(FILE *warn, const char *fmt, ...)
{
    if (warn == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(warn, fmt, ap);
    va_end(ap);
}

static int copy_value(cred_slot *slot, const char *value)
{
    size_t n = strlen(value);
    if (n >= slot->size)
        return -1;
    memcpy(slot->dst, value, n + 1);
    return 0;
}

/*
 * Decodes the value part of a line (after '=') into out. Double quotes
 * allow \" \\ \n escapes; single quotes are literal; an unquoted value ends
 * at a '#' that follows whitespace and is trimmed. After a closing quote
 * only whitespace and a comment may follow. Returns 0 or -1 if malformed.
 */
static int decode_value(const char *p, char *out, size_t size)
{
    size_t o = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '"' || *p == '\'') {
        char quote = *p++;
        for (; *p != '\0' && *p != quote; p++) {
            char ch = *p;
            if (quote == '"' && ch == '\\' && p[1] != '\0') {
                p++;
                ch = *p == 'n' ? '\n' : *p;
            }
            if (o + 1 >= size)
                return -1;
            out[o++] = ch;
        }
        if (*p != quote)
            return -1;
        for (p++; *p == ' ' || *p == '\t'; p++)
            ;
        if (*p != '\0' && *p != '#')
            return -1;
        out[o] = '\0';
        return 0;
    }
    const char *start = p;
    for (; *p != '\0'; p++) {
        if (*p == '#' && p > start && (p[-1] == ' ' || p[-1] == '\t'))
            break;
        if (o + 1 >= size)
            return -1;
        out[o++] = *p;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    return 0;
}

/*
 * One line: blank, a comment, or [export ]KEY=value. Sets the slot named
 * KEY unless the environment already did. Returns 0, or -1 if malformed.
 */
static int parse_line(char *line, cred_slot *slots, size_t n_slots)
{
    char value[ENV_LINE_MAX];
    int rc = 0;
    char *p = line;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        p[--len] = '\0';
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
        for (p += 6; *p == ' ' || *p == '\t'; p++)
            ;
    const char *key = p;
    if (!isalpha((unsigned char)*p) && *p != '_')
        return -1;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t key_len = (size_t)(p - key);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '=')
        return -1;
    if (decode_value(p + 1, value, sizeof value) != 0) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n_slots; i++) {
        cred_slot *s = &slots[i];
        if (strlen(s->name) != key_len || strncmp(s->name, key, key_len) != 0 || s->from_env)
            continue;
        if (copy_value(s, value) != 0)
            rc = -1;
    }

done:
    explicit_bzero(value, sizeof value);
    return rc;
}

static int read_env_file(const char *path, cred_slot *slots, size_t n_slots, FILE *warn)
{
    char line[ENV_LINE_MAX];
    int rc = 0, lineno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        warnf(warn, "hydra: cannot read %s: %s\n", path, strerror(errno));
        return HYDRA_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        warnf(warn, "hydra: cannot read %s: not a regular file\n", path);
        rc = HYDRA_EIO;
        goto fail;
    }
    if ((st.st_mode & 077) != 0)
        warnf(warn,
              "hydra: warning: %s holds secrets but is accessible by group or others (mode %04o);"
              " run: chmod 600 %s\n",
              path, (unsigned)(st.st_mode & 07777), path);

    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            /* Skip the rest of an overlong line so it is not read as more lines. */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            warnf(warn, "hydra: warning: %s:%d: line longer than %d bytes; ignored\n", path, lineno,
                  ENV_LINE_MAX - 1);
            continue;
        }
        if (parse_line(line, slots, n_slots) != 0)
            warnf(warn,
                  "hydra: warning: %s:%d: not a KEY=value line, or the value is too long; "
                  "ignored\n",
                  path, lineno);
    }
    if (ferror(f)) {
        warnf(warn, "hydra: cannot read %s: %s\n", path, strerror(errno));
        rc = HYDRA_EIO;
    }

fail:
    explicit_bzero(line, sizeof line);
    fclose(f);
    return rc;
}

int hydra_credentials_load(const char *env_file, hydra_credentials *out, FILE *warn)
{
    char paper[16] = "";
    cred_slot slots[] = {
        {"ALPACA_KEY", out->key, sizeof out->key, 0},
        {"ALPACA_SECRET", out->secret, sizeof out->secret, 0},
        {"ALPACA_PAPER", paper, sizeof paper, 0},
        {"HYDRA_HTTP_TOKEN", out->http_token, sizeof out->http_token, 0},
        {"HYDRA_SLACK_WEBHOOK_URL", out->slack_webhook_url, sizeof out->slack_webhook_url, 0},
        {"HYDRA_TELEGRAM_BOT_TOKEN", out->telegram_bot_token, sizeof out->telegram_bot_token, 0},
        {"HYDRA_TELEGRAM_CHAT_ID", out->telegram_chat_id, sizeof out->telegram_chat_id, 0},
        {"HYDRA_WEBHOOK_TOKEN", out->webhook_token, sizeof out->webhook_token, 0},
    };
    size_t n_slots = sizeof slots / sizeof slots[0];
    int rc = 0;

    memset(out, 0, sizeof *out);
    /* An empty variable counts as unset, so `ALPACA_KEY= hydra-host` falls back to the file. */
    for (size_t i = 0; i < n_slots; i++) {
        const char *v = getenv(slots[i].name);
        if (v == NULL || v[0] == '\0')
            continue;
        if (copy_value(&slots[i], v) != 0) {
            warnf(warn, "hydra: warning: %s in the environment is too long; ignored\n",
                  slots[i].name);
            continue;
        }
        slots[i].from_env = 1;
    }
    if (env_file != NULL && env_file[0] != '\0')
        rc = read_env_file(env_file, slots, n_slots, warn);

    /* Paper unless explicitly "false": a typo can only keep trading on paper. */
    out->paper = strcmp(paper, "false") != 0;
    out->have_keys = out->key[0] != '\0' && out->secret[0] != '\0';
    return rc;
}
