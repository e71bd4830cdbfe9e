/*
 * json.c — the arena and the strict JSON DOM reader (see json.h). Recursive descent; depth is bounded so a
 * hostile input cannot exhaust the stack.
 */
#include "json.h"

#include <errno.h>
#include <stdlib.h>

typedef struct fl_arena_block {
    struct fl_arena_block *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} fl_arena_block;

void fl_arena_init(fl_arena *a) { memset(a, 0, sizeof *a); }

void fl_arena_free(fl_arena *a) {
    fl_arena_block *b = a->blocks;
    while (b) {
        fl_arena_block *next = b->next;
        fl_free(b);
        b = next;
    }
    a->blocks = NULL;
}

void *fl_arena_alloc(fl_arena *a, size_t size) {
    size_t align = _Alignof(max_align_t);
    size = (size + align - 1) / align * align;
    fl_arena_block *b = a->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > 16384 ? size : 16384;
        b = fl_malloc(sizeof *b + cap);
        if (!b) {
            a->failed = true;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *fl_arena_strndup(fl_arena *a, const char *s, size_t n) {
    char *p = fl_arena_alloc(a, n + 1);
    if (p) memcpy(p, s, n), p[n] = 0;
    return p;
}

typedef struct jparser {
    const char *p, *end, *start;
    fl_arena *arena;
    fl_error *err;
} jparser;

static int jfail(jparser *j, const char *what) {
    return fl_error_set(j->err, FL_ECORRUPT, "JSON: byte %lld: %s", (long long)(j->p - j->start), what);
}

static void skip_ws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int hex4(jparser *j, unsigned *out) {
    if (j->end - j->p < 4) return jfail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return jfail(j, "bad \\u escape");
    }
    j->p += 4;
    *out = v;
    return FL_OK;
}

/* Parses a string starting at '"' into arena memory. */
static int parse_string(jparser *j, const char **out) {
    j->p++;
    fl_buf b;
    fl_buf_init(&b);
    int rc = FL_OK;
    for (;;) {
        if (j->p >= j->end) {
            rc = jfail(j, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) {
            rc = jfail(j, "control character in string");
            break;
        }
        if (c != '\\') {
            fl_buf_put_u8(&b, c);
            j->p++;
            continue;
        }
        if (++j->p >= j->end) {
            rc = jfail(j, "truncated escape");
            break;
        }
        char e = *j->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            fl_buf_put_u8(&b, (uint8_t)repl[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (e != 'u') {
            rc = jfail(j, "bad escape");
            break;
        }
        unsigned cp;
        if ((rc = hex4(j, &cp)) != FL_OK) break;
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                rc = jfail(j, "unpaired surrogate");
                break;
            }
            j->p += 2;
            if ((rc = hex4(j, &lo)) != FL_OK) break;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                rc = jfail(j, "unpaired surrogate");
                break;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            rc = jfail(j, "unpaired surrogate");
            break;
        }
        if (cp == 0) {
            rc = jfail(j, "\\u0000 in string");
            break;
        }
        if (cp < 0x80) fl_buf_put_u8(&b, (uint8_t)cp);
        else if (cp < 0x800) {
            fl_buf_put_u8(&b, (uint8_t)(0xC0 | (cp >> 6)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            fl_buf_put_u8(&b, (uint8_t)(0xE0 | (cp >> 12)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | (cp & 0x3F)));
        } else {
            fl_buf_put_u8(&b, (uint8_t)(0xF0 | (cp >> 18)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
            fl_buf_put_u8(&b, (uint8_t)(0x80 | (cp & 0x3F)));
        }
    }
    if (rc == FL_OK && b.failed) rc = fl_error_set(j->err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK && !(*out = fl_arena_strndup(j->arena, b.size ? (const char *)b.data : "", b.size)))
        rc = fl_error_set(j->err, FL_ENOMEM, "out of memory");
    fl_buf_free(&b);
    return rc;
}

static int parse_number(jparser *j, fl_json *v) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
    if (*j->p == '0') j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    v->kind = FL_JSON_NUMBER;
    if (!(v->string = fl_arena_strndup(j->arena, s, (size_t)(j->p - s)))) return fl_error_set(j->err, FL_ENOMEM, "out of memory");
    v->number = strtod(v->string, NULL);
    return FL_OK;
}

static int parse_value(jparser *j, fl_json **out, int depth);

/* Arrays and objects: items are collected in a growable fl_malloc'd list, then copied into the arena. */
static int parse_container(jparser *j, fl_json *v, int depth) {
    bool object = *j->p == '{';
    char close = object ? '}' : ']';
    j->p++;
    fl_json **items = NULL;
    const char **keys = NULL;
    size_t n = 0, cap = 0, kcap = 0;
    int rc = FL_OK;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) j->p++;
    else
        for (;;) {
            const char *key = NULL;
            skip_ws(j);
            if (object) {
                if (j->p >= j->end || *j->p != '"') {
                    rc = jfail(j, "expected a string key");
                    break;
                }
                if ((rc = parse_string(j, &key)) != FL_OK) break;
                skip_ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    rc = jfail(j, "expected ':'");
                    break;
                }
                j->p++;
            }
            fl_json *item;
            if ((rc = parse_value(j, &item, depth + 1)) != FL_OK) break;
            if (!fl_reserve((void **)&items, &cap, n + 1, sizeof *items, 8) ||
                (object && !fl_reserve((void **)&keys, &kcap, n + 1, sizeof *keys, 8))) {
                rc = fl_error_set(j->err, FL_ENOMEM, "out of memory");
                break;
            }
            items[n] = item;
            if (object) keys[n] = key;
            n++;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                break;
            }
            rc = jfail(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
            break;
        }
    if (rc == FL_OK) {
        v->kind = object ? FL_JSON_OBJECT : FL_JSON_ARRAY;
        v->n = n;
        if (n) {
            v->items = fl_arena_alloc(j->arena, n * sizeof *v->items);
            if (object) v->keys = fl_arena_alloc(j->arena, n * sizeof *v->keys);
            if (!v->items || (object && !v->keys)) rc = fl_error_set(j->err, FL_ENOMEM, "out of memory");
            else {
                memcpy(v->items, items, n * sizeof *items);
                if (object) memcpy(v->keys, keys, n * sizeof *keys);
            }
        }
    }
    fl_free(items);
    fl_free(keys);
    return rc;
}

static int parse_value(jparser *j, fl_json **out, int depth) {
    if (depth > FL_JSON_MAX_DEPTH) return jfail(j, "nesting too deep");
    skip_ws(j);
    if (j->p >= j->end) return jfail(j, "expected a value");
    fl_json *v = fl_arena_alloc(j->arena, sizeof *v);
    if (!v) return fl_error_set(j->err, FL_ENOMEM, "out of memory");
    *out = v;
    size_t left = (size_t)(j->end - j->p);
    switch (*j->p) {
    case '{':
    case '[': return parse_container(j, v, depth);
    case '"':
        v->kind = FL_JSON_STRING;
        return parse_string(j, &v->string);
    case 't':
        if (left >= 4 && !memcmp(j->p, "true", 4)) {
            j->p += 4;
            v->kind = FL_JSON_BOOL;
            v->boolean = true;
            return FL_OK;
        }
        break;
    case 'f':
        if (left >= 5 && !memcmp(j->p, "false", 5)) {
            j->p += 5;
            v->kind = FL_JSON_BOOL;
            return FL_OK;
        }
        break;
    case 'n':
        if (left >= 4 && !memcmp(j->p, "null", 4)) {
            j->p += 4;
            v->kind = FL_JSON_NULL;
            return FL_OK;
        }
        break;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return parse_number(j, v);
        break;
    }
    return jfail(j, "unexpected character");
}

int fl_json_parse(const char *text, size_t size, fl_arena *arena, fl_json **out, fl_error *err) {
    jparser j = {text, text + size, text, arena, err};
    FL_RETURN_NOT_OK(parse_value(&j, out, 0));
    skip_ws(&j);
    if (j.p != j.end) return jfail(&j, "trailing characters after the value");
    return FL_OK;
}

const fl_json *fl_json_get(const fl_json *obj, const char *key) {
    if (!obj || obj->kind != FL_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

const fl_json *fl_json_single(const fl_json *obj, const char **key) {
    if (!obj || obj->kind != FL_JSON_OBJECT || obj->n != 1) return NULL;
    *key = obj->keys[0];
    return obj->items[0];
}

int64_t fl_json_get_int(const fl_json *obj, const char *key, int64_t def) {
    const fl_json *v = fl_json_get(obj, key);
    if (!v || v->kind != FL_JSON_NUMBER) return def;
    errno = 0;
    char *end;
    long long x = strtoll(v->string, &end, 10);
    return errno || *end ? def : (int64_t)x;
}

const char *fl_json_get_string(const fl_json *obj, const char *key) {
    const fl_json *v = fl_json_get(obj, key);
    return v && v->kind == FL_JSON_STRING ? v->string : NULL;
}
