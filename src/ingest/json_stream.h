/*
 * json_stream.h — a pull tokenizer for JSON read through a fixed-size buffer from a byte source, for
 * inputs too large to hold in memory (a BDD100K label file is 100+ MB). The caller drives it by recursive
 * descent: peek at the next byte, then read the value it expects (string, number, literal) or skip one.
 *
 * Invariants:
 *  1. Memory is the read buffer plus one decoded string (at most FL_JSON_MAX_STRING bytes) plus one number
 *     text (at most FL_JSON_MAX_NUMBER bytes), whatever the size of the input.
 *  2. Everything consumed is valid JSON (RFC 8259): strings are valid UTF-8 with valid escapes (surrogates
 *     paired), numbers follow the grammar, literals are spelled out, containers are balanced and no deeper
 *     than FL_JSON_MAX_DEPTH.
 *  3. Every error message is "<what>: byte <offset>: <what was expected>", offset counted from the first
 *     byte the source returned. Malformed JSON is FL_ECORRUPT, a limit exceeded FL_EUNSUPPORTED, the byte
 *     source failing FL_EIO, allocation failing FL_ENOMEM.
 */
#ifndef FL_INGEST_JSON_STREAM_H
#define FL_INGEST_JSON_STREAM_H

#include "framelake.h"

#include <stdarg.h>

/* A byte source: returns the number of bytes read (> 0, at most `size`), 0 at the end, or -1 on error (then
 * *why is set to a static or ctx-owned message that lives at least until the next call). */
typedef int64_t (*fl_read_fn)(void *ctx, void *buf, size_t size, const char **why);

#define FL_JSON_MAX_STRING (1u << 20)   /* decoded bytes in one string */
#define FL_JSON_MAX_NUMBER 256          /* characters in one number */
#define FL_JSON_MAX_DEPTH 64            /* nesting of arrays and objects */
#define FL_JSON_EOF (-1)                /* what fl_js_peek reports at the end of the input */

typedef struct fl_jstream {
    const char *what;           /* input name for messages; borrowed, must outlive the stream */
    fl_read_fn read;
    void *read_ctx;
    uint8_t *buf;               /* owned; cap bytes */
    size_t cap, len, pos;       /* buf[pos..len) not yet consumed */
    uint64_t buf_offset;        /* input offset of buf[0] */
    bool eof;                   /* the source returned 0; it is not called again */
    uint8_t *str;               /* owned: the last stored string, NUL-terminated (may contain NULs) */
    size_t str_len, str_cap;
    char num[FL_JSON_MAX_NUMBER + 1]; /* the last number's text, NUL-terminated */
    size_t num_len;
    uint64_t key_offset;        /* input offset of the '"' of the key fl_js_object_next read last */
} fl_jstream;

/* Sets up a stream with a read buffer of buf_size bytes. FL_OK or FL_ENOMEM; free with fl_js_free
 * either way. */
int fl_js_init(fl_jstream *js, const char *what, fl_read_fn read, void *read_ctx, size_t buf_size,
                        fl_error *err);
void fl_js_free(fl_jstream *js);

/* Input offset of the next unconsumed byte. */
static inline uint64_t fl_js_offset(const fl_jstream *js) { return js->buf_offset + js->pos; }

/* Skips whitespace and sets *c to the next byte (not consumed) or FL_JSON_EOF. Fails only with FL_EIO. */
int fl_js_peek(fl_jstream *js, int *c, fl_error *err);
/* Consumes the byte the last fl_js_peek returned (which must not have been FL_JSON_EOF). */
static inline void fl_js_advance(fl_jstream *js) { js->pos++; }

/* Fills err with "<what>: byte <offset>: <message>"; returns code. */
int fl_js_fail(fl_jstream *js, fl_error *err, int code, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Describes a peeked byte for "found ..." in messages: "'x'", "end of input" or "byte 0x07". */
const char *fl_js_describe(int c, char out[16]);
/* The kind of value a byte starts, for "found ..." in messages ("an object", "a string", ...), or NULL when
 * no JSON value starts with it. */
const char *fl_js_kind(int c);

/* Reads the string that starts at the next byte (a peeked '"'). With store, its decoded bytes are left in
 * js->str / js->str_len (NUL-terminated); otherwise it is only validated. */
int fl_js_string(fl_jstream *js, bool store, fl_error *err);
/* Reads the number that starts at the next byte (a peeked '-' or digit) into js->num. */
int fl_js_number(fl_jstream *js, fl_error *err);
/* Reads true, false or null (next byte peeked 't', 'f' or 'n'); *value is 1, 0 or -1 (null). */
int fl_js_literal(fl_jstream *js, int *value, fl_error *err);
/* Validates and discards the value that starts at the next byte. `depth` is the nesting depth of the
 * container holding it: a container inside it may go to FL_JSON_MAX_DEPTH. */
int fl_js_skip(fl_jstream *js, int depth, fl_error *err);

/* Converts js->num to the nearest float (may be infinite when out of range). */
float fl_js_number_float(const fl_jstream *js);
/* Converts js->num exactly to an int64: false when it is not an integer (1.5, 1e-3) or out of range.
 * Exactly integral forms such as 1.0, 10e2 and -0 are integers. */
bool fl_js_number_int64(const fl_jstream *js, int64_t *out);

/*
 * Container walking. Call with *first = true right after consuming the '{' or '['; each call consumes the
 * separator and sets *more. For an object, *more = true means a key was read (into js->str, its offset in
 * js->key_offset) together with its ':', and the value comes next; for an array, that an element comes
 * next. `ctx` names the container in messages ("a frame"), `item` the element ("a label").
 */
int fl_js_object_next(fl_jstream *js, bool *first, bool *more, const char *ctx, fl_error *err);
int fl_js_array_next(fl_jstream *js, bool *first, bool *more, const char *item, fl_error *err);

#endif /* FL_INGEST_JSON_STREAM_H */
