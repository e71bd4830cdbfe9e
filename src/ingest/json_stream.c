/*
 * json_stream.c — the streaming JSON tokenizer (see json_stream.h).
 *
 * Bytes are taken one at a time from the buffer (next_byte); the buffer is refilled from the source only
 * when empty, so a value may straddle any number of refills and a source returning one byte per call
 * gives the same results as one returning everything at once.
 */
#include "json_stream.h"

#include "../common/common.h"

#include <math.h>
#include <stdlib.h>

int fl_js_init(fl_jstream *js, const char *what, fl_read_fn read, void *read_ctx, size_t buf_size,
                        fl_error *err) {
    memset(js, 0, sizeof *js);
    js->what = what;
    js->read = read;
    js->read_ctx = read_ctx;
    js->cap = buf_size ? buf_size : 1;
    js->buf = fl_malloc(js->cap);
    if (!js->buf) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", what);
    return FL_OK;
}

void fl_js_free(fl_jstream *js) {
    if (!js) return;
    fl_free(js->buf);
    fl_free(js->str);
    memset(js, 0, sizeof *js);
}

int fl_js_fail(fl_jstream *js, fl_error *err, int code, uint64_t offset, const char *fmt, ...) {
    char msg[FL_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(err, code, "%s: byte %llu: %s", js->what, (unsigned long long)offset, msg);
}

const char *fl_js_describe(int c, char out[16]) {
    if (c == FL_JSON_EOF) snprintf(out, 16, "end of input");
    else if (c > 0x20 && c < 0x7F) snprintf(out, 16, "'%c'", c);
    else snprintf(out, 16, "byte 0x%02x", (unsigned)c);
    return out;
}

const char *fl_js_kind(int c) {
    switch (c) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return (c == '-' || (c >= '0' && c <= '9')) ? "a number" : NULL;
    }
}

/* Makes buf[pos] available. *c = the byte (not consumed) or FL_JSON_EOF. */
static int fill(fl_jstream *js, int *c, fl_error *err) {
    if (js->pos < js->len) {
        *c = js->buf[js->pos];
        return FL_OK;
    }
    if (js->eof) {
        *c = FL_JSON_EOF;
        return FL_OK;
    }
    const char *why = NULL;
    int64_t n = js->read(js->read_ctx, js->buf, js->cap, &why);
    if (n < 0 || (uint64_t)n > js->cap) {
        if (n >= 0) why = "the read function returned more bytes than asked for";
        return fl_error_set(err, FL_EIO, "%s: byte %llu: read failed: %s", js->what,
                            (unsigned long long)fl_js_offset(js), why ? why : "unknown error");
    }
    js->buf_offset += js->len;
    js->len = (size_t)n;
    js->pos = 0;
    if (n == 0) {
        js->eof = true;
        *c = FL_JSON_EOF;
    } else {
        *c = js->buf[0];
    }
    return FL_OK;
}

/* Consumes and returns the next byte (or FL_JSON_EOF, not consumed). */
static inline int next_byte(fl_jstream *js, int *c, fl_error *err) {
    if (js->pos < js->len) {
        *c = js->buf[js->pos++];
        return FL_OK;
    }
    FL_RETURN_NOT_OK(fill(js, c, err));
    if (*c != FL_JSON_EOF) js->pos++;
    return FL_OK;
}

int fl_js_peek(fl_jstream *js, int *c, fl_error *err) {
    for (;;) {
        while (js->pos < js->len) {
            uint8_t b = js->buf[js->pos];
            if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
                *c = b;
                return FL_OK;
            }
            js->pos++;
        }
        FL_RETURN_NOT_OK(fill(js, c, err));
        if (*c == FL_JSON_EOF) return FL_OK;
    }
}

/* ---- strings ---- */

static int put_byte(fl_jstream *js, uint8_t b, uint64_t start, fl_error *err) {
    if (js->str_len >= FL_JSON_MAX_STRING)
        return fl_js_fail(js, err, FL_EUNSUPPORTED, start, "string longer than %u bytes", FL_JSON_MAX_STRING);
    if (js->str_len + 2 > js->str_cap) {
        size_t cap = js->str_cap ? js->str_cap * 2 : 256;
        if (cap > FL_JSON_MAX_STRING + 1) cap = FL_JSON_MAX_STRING + 1;
        uint8_t *p = fl_realloc(js->str, cap);
        if (!p) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", js->what);
        js->str = p;
        js->str_cap = cap;
    }
    js->str[js->str_len++] = b;
    return FL_OK;
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" (escape = offset of the backslash). */
static int read_hex4(fl_jstream *js, uint64_t escape, uint32_t *v, fl_error *err) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c;
        FL_RETURN_NOT_OK(next_byte(js, &c, err));
        int d = hex_value(c);
        if (d < 0) {
            char found[16];
            return fl_js_fail(js, err, FL_ECORRUPT, escape, "invalid \\u escape: expected 4 hex digits, found %s",
                                fl_js_describe(c, found));
        }
        *v = *v << 4 | (uint32_t)d;
    }
    return FL_OK;
}

/* Appends code point cp as UTF-8 (counting toward the string limit even when not stored). */
static int put_code_point(fl_jstream *js, bool store, size_t *count, uint32_t cp, uint64_t start, fl_error *err) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 63));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        u[2] = (uint8_t)(0x80 | (cp & 63));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        u[3] = (uint8_t)(0x80 | (cp & 63));
        n = 4;
    }
    for (size_t i = 0; i < n; i++) {
        if (store) {
            FL_RETURN_NOT_OK(put_byte(js, u[i], start, err));
        } else if (++*count > FL_JSON_MAX_STRING) {
            return fl_js_fail(js, err, FL_EUNSUPPORTED, start, "string longer than %u bytes", FL_JSON_MAX_STRING);
        }
    }
    return FL_OK;
}

/* The escape after a backslash at offset `escape`, as a code point. */
static int read_escape(fl_jstream *js, uint64_t escape, uint32_t *cp, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(next_byte(js, &c, err));
    switch (c) {
    case '"': *cp = '"'; return FL_OK;
    case '\\': *cp = '\\'; return FL_OK;
    case '/': *cp = '/'; return FL_OK;
    case 'b': *cp = '\b'; return FL_OK;
    case 'f': *cp = '\f'; return FL_OK;
    case 'n': *cp = '\n'; return FL_OK;
    case 'r': *cp = '\r'; return FL_OK;
    case 't': *cp = '\t'; return FL_OK;
    case 'u': break;
    default: {
        char found[16];
        if (c == FL_JSON_EOF) return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "unterminated string");
        return fl_js_fail(js, err, FL_ECORRUPT, escape, "invalid escape: expected one of \"\\/bfnrtu after '\\', found %s",
                            fl_js_describe(c, found));
    }
    }
    FL_RETURN_NOT_OK(read_hex4(js, escape, cp, err));
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fl_js_fail(js, err, FL_ECORRUPT, escape, "invalid escape: \\u%04X is a low surrogate without a high one",
                            (unsigned)*cp);
    if (*cp < 0xD800 || *cp > 0xDBFF) return FL_OK;
    /* A high surrogate: the low half must follow as a second escape. */
    uint64_t second = fl_js_offset(js);
    int b, u = 0;
    uint32_t lo = 0;
    FL_RETURN_NOT_OK(next_byte(js, &b, err));
    if (b == '\\') FL_RETURN_NOT_OK(next_byte(js, &u, err));
    if (b == '\\' && u == 'u') FL_RETURN_NOT_OK(read_hex4(js, second, &lo, err));
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fl_js_fail(js, err, FL_ECORRUPT, escape, "invalid escape: \\u%04X is a high surrogate without a low one",
                            (unsigned)*cp);
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return FL_OK;
}

int fl_js_string(fl_jstream *js, bool store, fl_error *err) {
    uint64_t start = fl_js_offset(js);
    int c;
    FL_RETURN_NOT_OK(next_byte(js, &c, err));
    if (c != '"') {
        char found[16];
        return fl_js_fail(js, err, FL_ECORRUPT, start, "expected a string, found %s", fl_js_describe(c, found));
    }
    js->str_len = 0;
    size_t count = 0; /* bytes of a string not stored */
    for (;;) {
        /* Fast path: plain ASCII within the buffer. */
        while (js->pos < js->len) {
            uint8_t b = js->buf[js->pos];
            if (b == '"' || b == '\\' || b < 0x20 || b >= 0x80) break;
            js->pos++;
            if (store) {
                FL_RETURN_NOT_OK(put_byte(js, b, start, err));
            } else if (++count > FL_JSON_MAX_STRING) {
                return fl_js_fail(js, err, FL_EUNSUPPORTED, start, "string longer than %u bytes", FL_JSON_MAX_STRING);
            }
        }
        uint64_t at = fl_js_offset(js);
        FL_RETURN_NOT_OK(next_byte(js, &c, err));
        if (c == FL_JSON_EOF) return fl_js_fail(js, err, FL_ECORRUPT, at, "unterminated string");
        if (c == '"') break;
        if (c < 0x20)
            return fl_js_fail(js, err, FL_ECORRUPT, at, "control character 0x%02x in a string (must be escaped)", (unsigned)c);
        uint32_t cp;
        if (c == '\\') {
            FL_RETURN_NOT_OK(read_escape(js, at, &cp, err));
        } else if (c < 0x80) {
            cp = (uint32_t)c;
        } else {
            /* UTF-8: the lead byte fixes the length and the range of the first continuation byte, which
             * excludes overlong forms, surrogates and code points above U+10FFFF. */
            int n;
            uint8_t lo = 0x80, hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) n = 1, cp = (uint32_t)c & 0x1F;
            else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = (uint32_t)c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = (uint32_t)c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            else return fl_js_fail(js, err, FL_ECORRUPT, at, "invalid UTF-8 in a string (byte 0x%02x)", (unsigned)c);
            for (int i = 0; i < n; i++) {
                int d;
                FL_RETURN_NOT_OK(fill(js, &d, err));
                if (d == FL_JSON_EOF) return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "unterminated string");
                if (d < lo || d > hi)
                    return fl_js_fail(js, err, FL_ECORRUPT, at, "invalid UTF-8 in a string (byte 0x%02x)", (unsigned)c);
                js->pos++;
                cp = cp << 6 | ((uint32_t)d & 0x3F);
                lo = 0x80, hi = 0xBF;
            }
        }
        FL_RETURN_NOT_OK(put_code_point(js, store, &count, cp, start, err));
    }
    if (store) {
        /* The terminator: put_byte keeps room for it; an empty string may not have allocated yet. */
        if (!js->str) {
            js->str = fl_malloc(256);
            if (!js->str) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", js->what);
            js->str_cap = 256;
        }
        js->str[js->str_len] = 0;
    }
    return FL_OK;
}

/* ---- numbers and literals ---- */

/* RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool valid_number(const char *s) {
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == 0;
}

int fl_js_number(fl_jstream *js, fl_error *err) {
    uint64_t start = fl_js_offset(js);
    js->num_len = 0;
    for (;;) {
        int c;
        FL_RETURN_NOT_OK(fill(js, &c, err));
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) break;
        if (js->num_len == FL_JSON_MAX_NUMBER)
            return fl_js_fail(js, err, FL_EUNSUPPORTED, start, "number longer than %d characters", FL_JSON_MAX_NUMBER);
        js->num[js->num_len++] = (char)c;
        js->pos++;
    }
    js->num[js->num_len] = 0;
    if (!valid_number(js->num)) {
        if (js->num_len == 0) {
            int c;
            char found[16];
            FL_RETURN_NOT_OK(fill(js, &c, err));
            return fl_js_fail(js, err, FL_ECORRUPT, start, "expected a number, found %s", fl_js_describe(c, found));
        }
        return fl_js_fail(js, err, FL_ECORRUPT, start, "invalid number '%s'", js->num);
    }
    return FL_OK;
}

int fl_js_literal(fl_jstream *js, int *value, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(fill(js, &c, err));
    const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
    for (const char *w = word; *w; w++) {
        FL_RETURN_NOT_OK(fill(js, &c, err));
        if (c != *w) {
            char found[16];
            return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "invalid literal: expected '%c' of '%s', found %s", *w,
                                word, fl_js_describe(c, found));
        }
        js->pos++;
    }
    *value = word[0] == 't' ? 1 : word[0] == 'f' ? 0 : -1;
    return FL_OK;
}

float fl_js_number_float(const fl_jstream *js) { return strtof(js->num, NULL); }

bool fl_js_number_int64(const fl_jstream *js, int64_t *out) {
    /* Exact decimal arithmetic: digits d (integer and fraction parts, leading and trailing zeros dropped)
     * times 10^exp must be an integer within int64. */
    const char *s = js->num;
    bool negative = *s == '-';
    if (negative) s++;
    char digits[FL_JSON_MAX_NUMBER + 1];
    size_t n = 0;
    int64_t exp = 0;
    for (; *s >= '0' && *s <= '9'; s++) digits[n++] = *s;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++) digits[n++] = *s, exp--;
    if (*s == 'e' || *s == 'E') {
        s++;
        bool eneg = *s == '-';
        if (*s == '+' || *s == '-') s++;
        int64_t e = 0;
        for (; *s >= '0' && *s <= '9'; s++)
            if (e < 100000) e = e * 10 + (*s - '0'); /* beyond that only "0e99999" can be an integer */
        exp += eneg ? -e : e;
    }
    size_t first = 0;
    while (first < n && digits[first] == '0') first++;
    if (first == n) {
        *out = 0;
        return true;
    }
    while (digits[n - 1] == '0') n--, exp++;
    if (exp < 0) return false;
    if ((int64_t)(n - first) + exp > 19) return false;
    uint64_t v = 0;
    for (size_t i = first; i < n; i++) v = v * 10 + (uint64_t)(digits[i] - '0');
    for (int64_t i = 0; i < exp; i++) {
        if (v > UINT64_MAX / 10) return false;
        v *= 10;
    }
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

/* ---- containers ---- */

int fl_js_object_next(fl_jstream *js, bool *first, bool *more, const char *ctx, fl_error *err) {
    int c;
    char found[16];
    FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
    if (*first) {
        *first = false;
        if (c == '}') {
            fl_js_advance(js);
            *more = false;
            return FL_OK;
        }
        if (c != '"')
            return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected a key or '}' in %s, found %s", ctx,
                                fl_js_describe(c, found));
    } else {
        if (c == '}') {
            fl_js_advance(js);
            *more = false;
            return FL_OK;
        }
        if (c != ',')
            return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected ',' or '}' after a value in %s, found %s",
                                ctx, fl_js_describe(c, found));
        fl_js_advance(js);
        FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
        if (c != '"')
            return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected a key after ',' in %s, found %s", ctx,
                                fl_js_describe(c, found));
    }
    js->key_offset = fl_js_offset(js);
    FL_RETURN_NOT_OK(fl_js_string(js, true, err));
    FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
    if (c != ':')
        return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected ':' after a key in %s, found %s", ctx,
                            fl_js_describe(c, found));
    fl_js_advance(js);
    *more = true;
    return FL_OK;
}

int fl_js_array_next(fl_jstream *js, bool *first, bool *more, const char *item, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
    if (c == ']') {
        fl_js_advance(js);
        *first = *more = false;
        return FL_OK;
    }
    if (*first) {
        /* Anything else starts the first element; the caller's element parse reports a bad one. */
        *first = false;
        *more = true;
        return FL_OK;
    }
    if (c != ',') {
        char found[16];
        return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected ',' or ']' after %s, found %s", item,
                            fl_js_describe(c, found));
    }
    fl_js_advance(js);
    /* "[1,]": the ']' stands where an element should; the caller's element parse reports it. */
    *more = true;
    return FL_OK;
}

int fl_js_skip(fl_jstream *js, int depth, fl_error *err) {
    int c;
    char found[16];
    FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
    switch (c) {
    case '"': return fl_js_string(js, false, err);
    case 't': case 'f': case 'n': {
        int v;
        return fl_js_literal(js, &v, err);
    }
    case '{': case '[': {
        if (depth >= FL_JSON_MAX_DEPTH)
            return fl_js_fail(js, err, FL_EUNSUPPORTED, fl_js_offset(js), "nesting deeper than %d levels", FL_JSON_MAX_DEPTH);
        fl_js_advance(js);
        bool first = true, more;
        for (;;) {
            if (c == '{') FL_RETURN_NOT_OK(fl_js_object_next(js, &first, &more, "an object", err));
            else FL_RETURN_NOT_OK(fl_js_array_next(js, &first, &more, "a value in an array", err));
            if (!more) return FL_OK;
            FL_RETURN_NOT_OK(fl_js_skip(js, depth + 1, err));
        }
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return fl_js_number(js, err);
        return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected a value, found %s", fl_js_describe(c, found));
    }
}
