/*
 * json.h — a small strict JSON DOM reader for the query front end (it reads libpg_query's parse trees).
 *
 * Invariants:
 *  1. Every node lives in the arena passed to fl_json_parse and dies with it; nothing is freed alone.
 *  2. The reader accepts exactly RFC 8259 JSON (one value, no trailing bytes, no comments, no trailing
 *     commas, valid escapes, nesting at most FL_JSON_MAX_DEPTH); anything else is an FL_ECORRUPT error
 *     naming the byte offset.
 *  3. Strings are decoded to NUL-terminated UTF-8 (a \u0000 escape is refused, so strlen is the length).
 */
#ifndef FL_QUERY_JSON_H
#define FL_QUERY_JSON_H

#include "../common/common.h"

#define FL_JSON_MAX_DEPTH 1000

/* A bump allocator: a query owns one for its short-lived objects and frees everything at once. */
typedef struct fl_arena {
    struct fl_arena_block *blocks; /* newest first */
    bool failed;                   /* an allocation ran out of memory */
} fl_arena;

void fl_arena_init(fl_arena *a);
void fl_arena_free(fl_arena *a);
/* Zeroed memory aligned for any type; NULL on OOM (and a->failed is set). */
void *fl_arena_alloc(fl_arena *a, size_t size);
char *fl_arena_strndup(fl_arena *a, const char *s, size_t n);

typedef enum fl_json_kind { FL_JSON_NULL, FL_JSON_BOOL, FL_JSON_NUMBER, FL_JSON_STRING, FL_JSON_ARRAY, FL_JSON_OBJECT } fl_json_kind;

typedef struct fl_json {
    fl_json_kind kind;
    bool boolean;               /* FL_JSON_BOOL */
    double number;              /* FL_JSON_NUMBER */
    const char *string;         /* FL_JSON_STRING: decoded text; FL_JSON_NUMBER: its source text */
    size_t n;                   /* ARRAY: items; OBJECT: members */
    struct fl_json **items;     /* ARRAY: n values; OBJECT: n values, keys[i] names items[i] */
    const char **keys;          /* OBJECT only */
} fl_json;

/* Parses `size` bytes of JSON into nodes allocated in `arena`. */
int fl_json_parse(const char *text, size_t size, fl_arena *arena, fl_json **out, fl_error *err);
/* Member `key` of an object, or NULL (also when `obj` is NULL or not an object). */
const fl_json *fl_json_get(const fl_json *obj, const char *key);
/* The only member of a one-member object (libpg_query wraps every node as {"Kind": {...}}), naming it in
 * *key; NULL when `obj` is not an object of exactly one member. */
const fl_json *fl_json_single(const fl_json *obj, const char **key);
/* Integer value of a number member (def when absent or not an integral number). */
int64_t fl_json_get_int(const fl_json *obj, const char *key, int64_t def);
/* String value of a string member, or NULL. */
const char *fl_json_get_string(const fl_json *obj, const char *key);

#endif /* FL_QUERY_JSON_H */
