/*
 * common.h — the bottom layer: error reporting, the one allocator, growable byte buffers, bounds-checked
 * little-endian decoding, hashing and a JSON writer. Every other module includes this; it includes only
 * the public header and libc.
 *
 * Invariants:
 *  1. Library code allocates only through fl_malloc/fl_calloc/fl_realloc/fl_free, so tests can inject
 *     allocation failures (fl_alloc_fail_after).
 *  2. A decoder (fl_reader) never reads outside its buffer: every get checks the remaining length first and
 *     reports the byte offset of the first byte it could not read.
 */
#ifndef FL_COMMON_H
#define FL_COMMON_H

#include "framelake.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

/* Fills `err` (if not NULL) with `code` and a printf-style message; returns `code`. */
int fl_error_set(fl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with "<prefix>: " (e.g. the file name); returns err->code or `code`. */
int fl_error_prefix(fl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fl_error_clear(fl_error *err);

/* Propagates a non-zero code from `expr`. */
#define FL_RETURN_NOT_OK(expr)                                                                                 \
    do {                                                                                                       \
        int fl_rc_ = (expr);                                                                                   \
        if (fl_rc_ != FL_OK) return fl_rc_;                                                                    \
    } while (0)
/* Stores the code of `expr` in rc and jumps to `label` when it is not FL_OK. */
#define FL_GOTO_NOT_OK(rc, expr, label)                                                                        \
    do {                                                                                                       \
        (rc) = (expr);                                                                                         \
        if ((rc) != FL_OK) goto label;                                                                         \
    } while (0)

/* ---- allocation ---- */

void *fl_malloc(size_t size);
void *fl_calloc(size_t count, size_t size);
void *fl_realloc(void *ptr, size_t size);
void fl_free(void *ptr);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);
/* Test hook: the n-th allocation from now on (1 = the next) and all later ones fail; 0 disables. */
void fl_alloc_fail_after(long n);
/* Makes room for `need` elements of `size` bytes in the growable array *items of capacity *cap, doubling
 * (from `first`) as needed. False on OOM, with *items and *cap unchanged. */
bool fl_reserve(void **items, size_t *cap, size_t need, size_t size, size_t first);
/* printf into a new fl_malloc'd string; NULL on OOM. */
char *fl_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer ---- */

typedef struct fl_buf {
    uint8_t *data;
    size_t size;
    size_t cap;
    bool failed;                /* an append ran out of memory; later appends are no-ops */
} fl_buf;

void fl_buf_init(fl_buf *b);
void fl_buf_free(fl_buf *b);
bool fl_buf_reserve(fl_buf *b, size_t extra);
void fl_buf_append(fl_buf *b, const void *data, size_t size);
void fl_buf_put_u8(fl_buf *b, uint8_t v);
void fl_buf_put_u16(fl_buf *b, uint16_t v);
void fl_buf_put_u32(fl_buf *b, uint32_t v);
void fl_buf_put_u64(fl_buf *b, uint64_t v);
/* LEB128: 7 bits per byte, low groups first, high bit set on every byte but the last (1 to 10 bytes). */
void fl_buf_put_varint(fl_buf *b, uint64_t v);
void fl_buf_put_i32(fl_buf *b, int32_t v);
void fl_buf_put_i64(fl_buf *b, int64_t v);
void fl_buf_put_f64(fl_buf *b, double v);
/* u32 length followed by the bytes (no terminator). NULL is written as length 0xFFFFFFFF. */
void fl_buf_put_str(fl_buf *b, const char *s);
void fl_buf_printf(fl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the bytes as a NUL-terminated string (the buffer is reset). NULL if an append failed. */
char *fl_buf_take_string(fl_buf *b);

/* Little-endian stores into raw memory. */
static inline void fl_store_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void fl_store_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint32_t fl_load_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint64_t fl_load_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- bounds-checked decoding ---- */

typedef struct fl_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    uint64_t base;              /* file offset of data[0], for messages */
    const char *what;           /* file name or structure name, for messages */
    fl_error *err;
    bool failed;
} fl_reader;

void fl_reader_init(fl_reader *r, const void *data, size_t size, uint64_t base, const char *what, fl_error *err);
/* Each get returns false (and records FL_ECORRUPT "<what>: byte <offset>: <field> truncated") when the
 * bytes are not there; once failed, every later get fails too. */
bool fl_get_u8(fl_reader *r, uint8_t *v, const char *field);
bool fl_get_u16(fl_reader *r, uint16_t *v, const char *field);
bool fl_get_u32(fl_reader *r, uint32_t *v, const char *field);
bool fl_get_u64(fl_reader *r, uint64_t *v, const char *field);
/* A minimal LEB128 varint (no redundant zero groups, at most 64 bits). */
bool fl_get_varint(fl_reader *r, uint64_t *v, const char *field);
bool fl_get_i32(fl_reader *r, int32_t *v, const char *field);
bool fl_get_i64(fl_reader *r, int64_t *v, const char *field);
bool fl_get_f64(fl_reader *r, double *v, const char *field);
bool fl_get_bytes(fl_reader *r, const uint8_t **p, size_t n, const char *field);
/* Reads a string written by fl_buf_put_str into a new fl_malloc'd NUL-terminated copy (NULL stays NULL
 * when allow_null). Strings longer than max_len or containing NUL are corrupt. */
bool fl_get_str(fl_reader *r, char **out, size_t max_len, bool allow_null, const char *field);
/* Reports a structural error at the current position. Always returns false. */
bool fl_reader_fail(fl_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A count read from the input, checked against what the remaining bytes could possibly hold. */
bool fl_get_count(fl_reader *r, uint32_t *v, size_t min_bytes_each, const char *field);

/* ---- hashing (XXH3 64-bit, seed 0) ---- */
uint64_t fl_hash64(const void *data, size_t size);

/* ---- JSON writer into an fl_buf ---- */
void fl_json_string(fl_buf *b, const char *s);
void fl_json_bytes_string(fl_buf *b, const uint8_t *s, size_t n);

/* ---- misc ---- */
int64_t fl_now_ms(void);
/* Fills buf with 16 random lowercase hex digits + NUL (needs 17 bytes). */
void fl_random_hex(char *buf);
/* Whether s is NULL or only spaces, tabs and line breaks (an omitted SQL text). */
bool fl_blank(const char *s);
/* splitmix64: a seeded, portable stream of 64-bit numbers (the same on every machine). */
static inline uint64_t fl_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* A uniform number in [0, n) (n > 0) from fl_splitmix64, without modulo bias. */
static inline uint64_t fl_random_below(uint64_t *state, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do x = fl_splitmix64(state);
    while (x >= limit);
    return x % n;
}
/* A random non-zero 64-bit number (getrandom). */
uint64_t fl_random_u64(void);
/* Base64 (RFC 4648, padded). Decode returns false on bad input; *out is fl_malloc'd. */
void fl_base64_encode(fl_buf *b, const uint8_t *data, size_t n);
bool fl_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_n);
/* true when s contains a byte below 0x20 (names never do). */
bool fl_has_control_char(const char *s);
/* true when name is 1..128 chars of [A-Za-z0-9_.-] and does not start with '.' */
bool fl_valid_name(const char *name);

#endif /* FL_COMMON_H */
