/*
 * jsonl.c — JSON Lines into a batch, parsed straight into the typed arrays (no intermediate DOM).
 *
 * Each non-blank line is one JSON object whose keys name columns. Values are converted by the column's
 * type: integers are range-checked, binary values are base64 strings, timestamps are integer
 * milliseconds, lists are arrays, structs are objects. Keys missing from a line read as NULL. Errors
 * name the source, the line and the 1-based byte column.
 */
#include "batch.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

typedef struct jparser {
    const char *s;
    size_t n, pos;
    size_t line_start;
    int64_t line;
    const char *source;
    fl_error *err;
    fl_buf scratch;             /* decoded string bytes */
} jparser;

static int jfail(jparser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jparser *p, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(p->err, FL_EINVAL, "%s: line %lld, column %zu: %s", p->source, (long long)p->line, p->pos - p->line_start + 1, msg);
}

static void jspace(jparser *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\r')) p->pos++;
}

static int jexpect(jparser *p, char c) {
    jspace(p);
    if (p->pos >= p->n || p->s[p->pos] != c) return jfail(p, "expected '%c'", c);
    p->pos++;
    return FL_OK;
}

static bool jpeek(jparser *p, char c) {
    jspace(p);
    return p->pos < p->n && p->s[p->pos] == c;
}

static bool jliteral(jparser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->pos >= k && !memcmp(p->s + p->pos, word, k)) {
        p->pos += k;
        return true;
    }
    return false;
}

static void put_utf8(fl_buf *b, uint32_t cp) {
    if (cp < 0x80) fl_buf_put_u8(b, (uint8_t)cp);
    else if (cp < 0x800) {
        fl_buf_put_u8(b, (uint8_t)(0xC0 | cp >> 6));
        fl_buf_put_u8(b, (uint8_t)(0x80 | (cp & 63)));
    } else if (cp < 0x10000) {
        fl_buf_put_u8(b, (uint8_t)(0xE0 | cp >> 12));
        fl_buf_put_u8(b, (uint8_t)(0x80 | ((cp >> 6) & 63)));
        fl_buf_put_u8(b, (uint8_t)(0x80 | (cp & 63)));
    } else {
        fl_buf_put_u8(b, (uint8_t)(0xF0 | cp >> 18));
        fl_buf_put_u8(b, (uint8_t)(0x80 | ((cp >> 12) & 63)));
        fl_buf_put_u8(b, (uint8_t)(0x80 | ((cp >> 6) & 63)));
        fl_buf_put_u8(b, (uint8_t)(0x80 | (cp & 63)));
    }
}

static int hex4(jparser *p, uint32_t *v) {
    if (p->n - p->pos < 4) return jfail(p, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return jfail(p, "bad hex digit in \\u escape");
        *v = *v << 4 | (uint32_t)d;
    }
    return FL_OK;
}

/* Decodes a JSON string into p->scratch (not NUL-terminated). */
static int jstring(jparser *p) {
    FL_RETURN_NOT_OK(jexpect(p, '"'));
    p->scratch.size = 0;
    while (p->pos < p->n) {
        char c = p->s[p->pos++];
        if (c == '"') return p->scratch.failed ? fl_error_set(p->err, FL_ENOMEM, "out of memory") : FL_OK;
        if (c == '\n') break;
        if ((unsigned char)c < 0x20) return jfail(p, "control character in a string");
        if (c != '\\') {
            fl_buf_put_u8(&p->scratch, (uint8_t)c);
            continue;
        }
        if (p->pos >= p->n) break;
        c = p->s[p->pos++];
        switch (c) {
        case '"': fl_buf_put_u8(&p->scratch, '"'); break;
        case '\\': fl_buf_put_u8(&p->scratch, '\\'); break;
        case '/': fl_buf_put_u8(&p->scratch, '/'); break;
        case 'b': fl_buf_put_u8(&p->scratch, '\b'); break;
        case 'f': fl_buf_put_u8(&p->scratch, '\f'); break;
        case 'n': fl_buf_put_u8(&p->scratch, '\n'); break;
        case 'r': fl_buf_put_u8(&p->scratch, '\r'); break;
        case 't': fl_buf_put_u8(&p->scratch, '\t'); break;
        case 'u': {
            uint32_t cp;
            FL_RETURN_NOT_OK(hex4(p, &cp));
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t lo;
                if (!jliteral(p, "\\u")) return jfail(p, "unpaired surrogate in \\u escape");
                FL_RETURN_NOT_OK(hex4(p, &lo));
                if (lo < 0xDC00 || lo > 0xDFFF) return jfail(p, "unpaired surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return jfail(p, "unpaired surrogate in \\u escape");
            }
            put_utf8(&p->scratch, cp);
            break;
        }
        default: p->pos--; return jfail(p, "bad escape '\\%c'", c);
        }
    }
    return jfail(p, "unterminated string");
}

/* Parses a JSON number; integers (no fraction or exponent) also come back exactly in iv/uv. */
static int jnumber(jparser *p, bool *is_integer, bool *overflow, int64_t *iv, uint64_t *uv, bool *negative, double *dv) {
    jspace(p);
    size_t start = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '-') p->pos++;
    while (p->pos < p->n && ((p->s[p->pos] >= '0' && p->s[p->pos] <= '9') || strchr(".eE+-", p->s[p->pos]))) p->pos++;
    size_t len = p->pos - start;
    if (len == 0 || len > 64) {
        p->pos = start;
        return jfail(p, "expected a number");
    }
    char buf[72];
    memcpy(buf, p->s + start, len);
    buf[len] = 0;
    *negative = buf[0] == '-';
    *is_integer = strcspn(buf, ".eE") == len;
    *overflow = false;
    char *end;
    errno = 0;
    *dv = strtod(buf, &end);
    if (*end) {
        p->pos = start;
        return jfail(p, "invalid number '%s'", buf);
    }
    if (*is_integer) {
        errno = 0;
        if (*negative) {
            *iv = strtoll(buf, &end, 10);
            *overflow = errno != 0;
        } else {
            *uv = strtoull(buf, &end, 10);
            *overflow = errno != 0;
            *iv = (int64_t)*uv;
        }
    }
    return FL_OK;
}

static int parse_object_into(jparser *p, const fl_field *fields, int32_t n_fields, fl_array *arrays, int depth);

static int parse_value(jparser *p, const fl_field *f, fl_array *a, int depth) {
    if (depth > FL_MAX_DEPTH) return jfail(p, "nesting too deep");
    jspace(p);
    size_t at = p->pos;
    if (jliteral(p, "null")) {
        if (fl_array_append_null(a) != FL_OK) return fl_error_set(p->err, FL_ENOMEM, "out of memory");
        return FL_OK;
    }
    int rc = FL_OK;
    switch (f->type) {
    case FL_TYPE_BOOL:
        if (jliteral(p, "true")) rc = fl_array_append_bool(a, true);
        else if (jliteral(p, "false")) rc = fl_array_append_bool(a, false);
        else return jfail(p, "column '%s' expects true, false or null", f->name);
        break;
    case FL_TYPE_FLOAT32:
    case FL_TYPE_FLOAT64: {
        bool is_int, neg, overflow;
        int64_t iv;
        uint64_t uv;
        double dv;
        FL_RETURN_NOT_OK(jnumber(p, &is_int, &overflow, &iv, &uv, &neg, &dv));
        rc = fl_array_append_float(a, dv);
        break;
    }
    case FL_TYPE_STRING:
        FL_RETURN_NOT_OK(jstring(p));
        rc = fl_array_append_bytes(a, p->scratch.data, p->scratch.size);
        break;
    case FL_TYPE_BINARY: {
        FL_RETURN_NOT_OK(jstring(p));
        uint8_t *bytes;
        size_t n;
        if (!fl_base64_decode((const char *)p->scratch.data, p->scratch.size, &bytes, &n)) {
            p->pos = at;
            return jfail(p, "column '%s' expects base64 text", f->name);
        }
        rc = fl_array_append_bytes(a, bytes, n);
        fl_free(bytes);
        break;
    }
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        FL_RETURN_NOT_OK(jexpect(p, '['));
        int64_t before = a->children[0].length;
        if (!jpeek(p, ']')) {
            do FL_RETURN_NOT_OK(parse_value(p, &f->children[0], &a->children[0], depth + 1));
            while (jpeek(p, ',') && ++p->pos);
        }
        FL_RETURN_NOT_OK(jexpect(p, ']'));
        if (f->type == FL_TYPE_FIXED_SIZE_LIST && a->children[0].length - before != f->fixed_size) {
            p->pos = at;
            return jfail(p, "column '%s' expects exactly %d values, got %lld", f->name, f->fixed_size, (long long)(a->children[0].length - before));
        }
        rc = fl_array_end_list(a);
        break;
    }
    case FL_TYPE_STRUCT:
        FL_RETURN_NOT_OK(parse_object_into(p, f->children, f->n_children, a->children, depth + 1));
        rc = fl_array_end_struct(a);
        break;
    default: { /* integers and timestamps */
        bool is_int, neg, overflow;
        int64_t iv;
        uint64_t uv;
        double dv;
        FL_RETURN_NOT_OK(jnumber(p, &is_int, &overflow, &iv, &uv, &neg, &dv));
        if (is_int && overflow) {
            p->pos = at;
            return jfail(p, "value out of range for column '%s' (%s)", f->name, fl_type_name(f->type));
        }
        if (!is_int) {
            p->pos = at;
            return jfail(p, "column '%s' (%s) expects an integer", f->name, fl_type_name(f->type));
        }
        rc = neg ? fl_array_append_int(a, iv) : fl_array_append_uint(a, uv);
        if (rc == FL_ETYPE) {
            p->pos = at;
            return jfail(p, "value out of range for column '%s' (%s)", f->name, fl_type_name(f->type));
        }
    }
    }
    if (rc != FL_OK) return fl_error_set(p->err, rc, "%s: line %lld: cannot store value of column '%s'", p->source, (long long)p->line, f->name);
    return FL_OK;
}

static int parse_object_into(jparser *p, const fl_field *fields, int32_t n_fields, fl_array *arrays, int depth) {
    FL_RETURN_NOT_OK(jexpect(p, '{'));
    int64_t base = n_fields ? arrays[0].length : 0;
    if (!jpeek(p, '}')) {
        do {
            jspace(p);
            size_t at = p->pos;
            FL_RETURN_NOT_OK(jstring(p));
            int32_t k = -1;
            for (int32_t i = 0; i < n_fields; i++)
                if (strlen(fields[i].name) == p->scratch.size && !memcmp(fields[i].name, p->scratch.data, p->scratch.size)) k = i;
            if (k < 0) {
                p->pos = at;
                return jfail(p, "unknown column '%.*s'", (int)(p->scratch.size > 64 ? 64 : p->scratch.size), (const char *)p->scratch.data);
            }
            if (arrays[k].length != base) {
                p->pos = at;
                return jfail(p, "key '%s' appears twice", fields[k].name);
            }
            FL_RETURN_NOT_OK(jexpect(p, ':'));
            FL_RETURN_NOT_OK(parse_value(p, &fields[k], &arrays[k], depth));
        } while (jpeek(p, ',') && ++p->pos);
    }
    FL_RETURN_NOT_OK(jexpect(p, '}'));
    for (int32_t i = 0; i < n_fields; i++)
        if (arrays[i].length == base && fl_array_append_null(&arrays[i]) != FL_OK) return fl_error_set(p->err, FL_ENOMEM, "out of memory");
    return FL_OK;
}

int fl_batch_from_jsonl(const fl_schema *schema, const char *text, size_t size, const char *source, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_batch *b = fl_batch_new(schema);
    if (!b) return fl_error_set(err, FL_ENOMEM, "out of memory");
    jparser p = {.s = text, .n = size, .line = 1, .source = source ? source : "input", .err = err};
    int rc = FL_OK;
    while (rc == FL_OK && p.pos < p.n) {
        jspace(&p);
        if (p.pos < p.n && p.s[p.pos] == '\n') {
            p.pos++;
            p.line++;
            p.line_start = p.pos;
            continue;
        }
        if (p.pos >= p.n) break;
        rc = parse_object_into(&p, b->schema->fields, b->schema->n_fields, b->columns, 0);
        if (rc != FL_OK) break;
        jspace(&p);
        if (p.pos < p.n && p.s[p.pos] != '\n') rc = jfail(&p, "expected the end of the line after the object");
    }
    fl_buf_free(&p.scratch);
    if (rc == FL_OK) rc = fl_batch_finish(b, err);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    *out = b;
    return FL_OK;
}
