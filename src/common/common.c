/*
 * common.c — errors, the allocator, byte buffers, bounds-checked decoding, hashing, base64, JSON strings.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- version ---- */

const char *fl_version(void) { return FL_VERSION_STRING; }
int fl_version_number(void) { return FL_VERSION_NUMBER; }

/* ---- errors ---- */

const char *fl_strerror(int code) {
    switch (code) {
    case FL_OK: return "ok";
    case FL_EINVAL: return "invalid argument";
    case FL_EIO: return "i/o error";
    case FL_ECORRUPT: return "corrupt data";
    case FL_ENOTFOUND: return "not found";
    case FL_EEXIST: return "already exists";
    case FL_ECONFLICT: return "commit conflict";
    case FL_ENOMEM: return "out of memory";
    case FL_ETYPE: return "type error";
    case FL_EUNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

int fl_error_set(fl_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int fl_error_prefix(fl_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    if (err->code != FL_OK) code = err->code;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[FL_ERROR_MESSAGE_SIZE];
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = 0;
    size_t p = strlen(prefix), o = strlen(old);
    if (p > sizeof err->message - 3) p = sizeof err->message - 3;
    if (o > sizeof err->message - 3 - p) o = sizeof err->message - 3 - p;
    memcpy(err->message, prefix, p);
    memcpy(err->message + p, ": ", 2);
    memcpy(err->message + p + 2, old, o);
    err->message[p + 2 + o] = 0;
    err->code = code;
    return code;
}

void fl_error_clear(fl_error *err) {
    if (err) {
        err->code = FL_OK;
        err->message[0] = 0;
    }
}

/* ---- allocation ---- */

/* 0: disabled; otherwise allocations left before failures start, plus one. Atomic: ingest workers
 * allocate on their own threads. */
static long alloc_countdown;

void fl_alloc_fail_after(long n) { __atomic_store_n(&alloc_countdown, n, __ATOMIC_RELAXED); }

static bool alloc_should_fail(void) {
    long left = __atomic_load_n(&alloc_countdown, __ATOMIC_RELAXED);
    while (left > 1)
        if (__atomic_compare_exchange_n(&alloc_countdown, &left, left - 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return false;
    return left == 1;
}

void *fl_malloc(size_t size) { return alloc_should_fail() ? NULL : malloc(size ? size : 1); }
void *fl_calloc(size_t count, size_t size) { return alloc_should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1); }
void *fl_realloc(void *ptr, size_t size) { return alloc_should_fail() ? NULL : realloc(ptr, size ? size : 1); }
void fl_free(void *ptr) { free(ptr); }

bool fl_reserve(void **items, size_t *cap, size_t need, size_t size, size_t first) {
    if (need <= *cap && *items) return true;
    size_t c = *cap ? *cap : first;
    while (c < need) c *= 2;
    void *p = fl_realloc(*items, c * size);
    if (!p) return false;
    *items = p;
    *cap = c;
    return true;
}

char *fl_strndup(const char *s, size_t n) {
    char *p = fl_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *fl_strdup(const char *s) { return s ? fl_strndup(s, strlen(s)) : NULL; }

char *fl_sprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = fl_malloc((size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- buffers ---- */

void fl_buf_init(fl_buf *b) { memset(b, 0, sizeof *b); }

void fl_buf_free(fl_buf *b) {
    fl_free(b->data);
    fl_buf_init(b);
}

bool fl_buf_reserve(fl_buf *b, size_t extra) {
    if (b->failed) return false;
    if (b->size + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->size + extra) cap *= 2;
    uint8_t *p = fl_realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void fl_buf_append(fl_buf *b, const void *data, size_t size) {
    if (size == 0 || !fl_buf_reserve(b, size)) return;
    memcpy(b->data + b->size, data, size);
    b->size += size;
}

void fl_buf_put_u8(fl_buf *b, uint8_t v) { fl_buf_append(b, &v, 1); }
void fl_buf_put_u16(fl_buf *b, uint16_t v) {
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    fl_buf_append(b, p, 2);
}
void fl_buf_put_u32(fl_buf *b, uint32_t v) {
    uint8_t p[4];
    fl_store_u32(p, v);
    fl_buf_append(b, p, 4);
}
void fl_buf_put_u64(fl_buf *b, uint64_t v) {
    uint8_t p[8];
    fl_store_u64(p, v);
    fl_buf_append(b, p, 8);
}
void fl_buf_put_i32(fl_buf *b, int32_t v) { fl_buf_put_u32(b, (uint32_t)v); }
void fl_buf_put_i64(fl_buf *b, int64_t v) { fl_buf_put_u64(b, (uint64_t)v); }
void fl_buf_put_varint(fl_buf *b, uint64_t v) {
    uint8_t out[10];
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    fl_buf_append(b, out, n);
}
void fl_buf_put_f64(fl_buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    fl_buf_put_u64(b, u);
}
void fl_buf_put_str(fl_buf *b, const char *s) {
    if (!s) {
        fl_buf_put_u32(b, 0xFFFFFFFFu);
        return;
    }
    size_t n = strlen(s);
    fl_buf_put_u32(b, (uint32_t)n);
    fl_buf_append(b, s, n);
}

void fl_buf_printf(fl_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !fl_buf_reserve(b, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->size, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->size += (size_t)n;
}

char *fl_buf_take_string(fl_buf *b) {
    fl_buf_put_u8(b, 0);
    if (b->failed) {
        fl_buf_free(b);
        return NULL;
    }
    char *s = (char *)b->data;
    fl_buf_init(b);
    return s;
}

/* ---- decoding ---- */

void fl_reader_init(fl_reader *r, const void *data, size_t size, uint64_t base, const char *what, fl_error *err) {
    r->data = data;
    r->size = size;
    r->pos = 0;
    r->base = base;
    r->what = what;
    r->err = err;
    r->failed = false;
}

bool fl_reader_fail(fl_reader *r, const char *fmt, ...) {
    if (r->failed) return false;
    r->failed = true;
    if (r->err) {
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fl_error_set(r->err, FL_ECORRUPT, "%s: byte %llu: %s", r->what, (unsigned long long)(r->base + r->pos), msg);
    }
    return false;
}

static bool need(fl_reader *r, size_t n, const char *field) {
    if (r->failed) return false;
    if (r->size - r->pos < n) return fl_reader_fail(r, "%s truncated (need %zu bytes, %zu left)", field, n, r->size - r->pos);
    return true;
}

bool fl_get_u8(fl_reader *r, uint8_t *v, const char *field) {
    if (!need(r, 1, field)) return false;
    *v = r->data[r->pos++];
    return true;
}
bool fl_get_u16(fl_reader *r, uint16_t *v, const char *field) {
    if (!need(r, 2, field)) return false;
    *v = (uint16_t)(r->data[r->pos] | (r->data[r->pos + 1] << 8));
    r->pos += 2;
    return true;
}
bool fl_get_u32(fl_reader *r, uint32_t *v, const char *field) {
    if (!need(r, 4, field)) return false;
    *v = fl_load_u32(r->data + r->pos);
    r->pos += 4;
    return true;
}
bool fl_get_u64(fl_reader *r, uint64_t *v, const char *field) {
    if (!need(r, 8, field)) return false;
    *v = fl_load_u64(r->data + r->pos);
    r->pos += 8;
    return true;
}
bool fl_get_varint(fl_reader *r, uint64_t *v, const char *field) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!need(r, 1, field)) return false;
        uint8_t byte = r->data[r->pos++];
        /* The tenth byte may carry only the top bit; longer or overlong encodings are corrupt. */
        if (shift == 63 && byte > 1) return fl_reader_fail(r, "%s: varint out of range", field);
        x |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            if (byte == 0 && shift > 0) return fl_reader_fail(r, "%s: overlong varint", field);
            *v = x;
            return true;
        }
    }
    return fl_reader_fail(r, "%s: varint out of range", field);
}
bool fl_get_i32(fl_reader *r, int32_t *v, const char *field) {
    uint32_t u;
    if (!fl_get_u32(r, &u, field)) return false;
    *v = (int32_t)u;
    return true;
}
bool fl_get_i64(fl_reader *r, int64_t *v, const char *field) {
    uint64_t u;
    if (!fl_get_u64(r, &u, field)) return false;
    *v = (int64_t)u;
    return true;
}
bool fl_get_f64(fl_reader *r, double *v, const char *field) {
    uint64_t u;
    if (!fl_get_u64(r, &u, field)) return false;
    memcpy(v, &u, 8);
    return true;
}
bool fl_get_bytes(fl_reader *r, const uint8_t **p, size_t n, const char *field) {
    if (!need(r, n, field)) return false;
    *p = r->data + r->pos;
    r->pos += n;
    return true;
}
bool fl_get_str(fl_reader *r, char **out, size_t max_len, bool allow_null, const char *field) {
    uint32_t n;
    *out = NULL;
    if (!fl_get_u32(r, &n, field)) return false;
    if (n == 0xFFFFFFFFu) {
        if (allow_null) return true;
        r->pos -= 4;
        return fl_reader_fail(r, "%s must not be null", field);
    }
    if (n > max_len) {
        r->pos -= 4;
        return fl_reader_fail(r, "%s length %u exceeds limit %zu", field, n, max_len);
    }
    const uint8_t *p;
    if (!fl_get_bytes(r, &p, n, field)) return false;
    if (memchr(p, 0, n)) {
        r->pos -= n;
        return fl_reader_fail(r, "%s contains a NUL byte", field);
    }
    *out = fl_strndup((const char *)p, n);
    if (!*out) {
        r->failed = true;
        fl_error_set(r->err, FL_ENOMEM, "%s: out of memory", r->what);
        return false;
    }
    return true;
}
bool fl_get_count(fl_reader *r, uint32_t *v, size_t min_bytes_each, const char *field) {
    if (!fl_get_u32(r, v, field)) return false;
    if (min_bytes_each && (uint64_t)*v * min_bytes_each > r->size - r->pos) {
        r->pos -= 4;
        return fl_reader_fail(r, "%s count %u cannot fit in the %zu bytes left", field, *v, r->size - r->pos - 4);
    }
    return true;
}

/* ---- hashing ---- */

uint64_t fl_hash64(const void *data, size_t size) { return XXH3_64bits(data, size); }

/* ---- JSON strings ---- */

void fl_json_bytes_string(fl_buf *b, const uint8_t *s, size_t n) {
    fl_buf_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"': fl_buf_append(b, "\\\"", 2); break;
        case '\\': fl_buf_append(b, "\\\\", 2); break;
        case '\n': fl_buf_append(b, "\\n", 2); break;
        case '\r': fl_buf_append(b, "\\r", 2); break;
        case '\t': fl_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) fl_buf_printf(b, "\\u%04x", c);
            else fl_buf_put_u8(b, c);
        }
    }
    fl_buf_put_u8(b, '"');
}

void fl_json_string(fl_buf *b, const char *s) {
    if (!s) {
        fl_buf_append(b, "null", 4);
        return;
    }
    fl_json_bytes_string(b, (const uint8_t *)s, strlen(s));
}

/* ---- misc ---- */

int64_t fl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool fl_blank(const char *s) {
    if (!s) return true;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return *s == '\0';
}

uint64_t fl_random_u64(void) {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        /* getrandom cannot fail for 8 bytes after boot; fall back to time and pid mixing anyway. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t seed[3] = {(uint64_t)ts.tv_nsec, (uint64_t)ts.tv_sec, (uint64_t)getpid()};
        v = fl_hash64(seed, sizeof seed);
    }
    return v ? v : 1;
}

void fl_random_hex(char *buf) {
    uint64_t v = fl_random_u64();
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) buf[i] = hex[(v >> (60 - 4 * i)) & 15];
    buf[16] = 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void fl_base64_encode(fl_buf *b, const uint8_t *data, size_t n) {
    if (!fl_buf_reserve(b, (n + 2) / 3 * 4)) return;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
        fl_buf_append(b, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0);
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=', '='};
        fl_buf_append(b, q, 4);
    }
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool fl_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    if (n % 4 != 0) return false;
    size_t pad = 0;
    if (n && s[n - 1] == '=') pad++;
    if (n > 1 && s[n - 2] == '=') pad++;
    size_t len = n / 4 * 3 - pad;
    uint8_t *p = fl_malloc(len ? len : 1);
    if (!p) return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            int d;
            if (c == '=' && i + 4 == n && k >= 4 - (int)pad) d = 0;
            else if ((d = b64_value(c)) < 0) {
                fl_free(p);
                return false;
            }
            v = v << 6 | (uint32_t)d;
        }
        uint8_t t[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        for (int k = 0; k < 3 && o < len; k++) p[o++] = t[k];
    }
    *out = p;
    *out_n = len;
    return true;
}

bool fl_has_control_char(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20) return true;
    return false;
}

bool fl_valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}
