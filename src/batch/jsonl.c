/*
 * jsonl.c — JSON Lines into a batch, parsed straight into the typed arrays (no intermediate DOM); schema
 * inference over JSON Lines; schemas written as JSON.
 *
 * Each non-blank line is one JSON object whose keys name columns. Values are converted by the column's
 * type: integers are range-checked, binary values are base64 strings, timestamps are integer
 * milliseconds, lists are arrays, structs are objects. Keys missing from a line read as NULL. Errors
 * name the source, the line and the 1-based byte column. The importer's options (jsonl.h) add
 * {"$file": path} binary values, RFC 3339 timestamps, skipped unknown keys and per-line not-null checks.
 *
 * Inference (fl_jsonl_infer_schema) reads every line into a tree of `inode`s, one per field path, that
 * records which kind of JSON value the path holds; the first non-null value decides the kind and a later
 * different kind is an error naming both lines. Numbers are refined after the pass (int64, uint64 or
 * float64), strings become timestamps when every one is an RFC 3339 date-time.
 */
#include "jsonl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

typedef fl_jsonl_cursor jparser;

static const fl_jsonl_options no_options;

static int jfail_code(jparser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jfail_code(jparser *p, int code, const char *fmt, ...) {
    char msg[FL_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(p->err, code, "%s: line %lld, column %zu: %s", p->source, (long long)p->line, p->pos - p->line_start + 1, msg);
}
#define jfail(p, ...) jfail_code((p), FL_EINVAL, __VA_ARGS__)

static int joom(jparser *p) { return fl_error_set(p->err, FL_ENOMEM, "%s: line %lld: out of memory", p->source, (long long)p->line); }

static void jspace(jparser *p) {
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\r') p->pos++;
        else if (c == '\n' && p->multiline) {
            p->pos++;
            p->line++;
            p->line_start = p->pos;
        } else break;
    }
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
        size_t run = p->pos; /* plain bytes go in one piece */
        while (run < p->n && p->s[run] != '"' && p->s[run] != '\\' && (unsigned char)p->s[run] >= 0x20) run++;
        if (run > p->pos) fl_buf_append(&p->scratch, p->s + p->pos, run - p->pos);
        p->pos = run;
        if (p->pos >= p->n) break;
        char c = p->s[p->pos++];
        if (c == '"') return p->scratch.failed ? joom(p) : FL_OK;
        if (c == '\n') break;
        if ((unsigned char)c < 0x20) {
            p->pos--;
            return jfail(p, "control character in a string");
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

/* true when the scratch holds exactly `word`. */
static bool scratch_is(const jparser *p, const char *word) {
    return p->scratch.size == strlen(word) && !memcmp(p->scratch.data, word, p->scratch.size);
}

/* The scratch as a NUL-terminated string (valid until the next jstring); NULL on OOM. */
static const char *scratch_cstr(jparser *p) {
    fl_buf_put_u8(&p->scratch, 0);
    if (p->scratch.failed) return NULL;
    p->scratch.size--;
    return (const char *)p->scratch.data;
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
    if (*is_integer) { /* the common case: no strtod unless the integer overflows */
        errno = 0;
        if (*negative) *iv = strtoll(buf, &end, 10);
        else *iv = (int64_t)(*uv = strtoull(buf, &end, 10));
        if (end != buf && !*end) {
            *overflow = errno != 0;
            *dv = *overflow ? strtod(buf, NULL) : *negative ? (double)*iv : (double)*uv;
            return FL_OK;
        }
    }
    *dv = strtod(buf, &end);
    if (*end || *is_integer) {
        p->pos = start;
        return jfail(p, "invalid number '%s'", buf);
    }
    return FL_OK;
}

/* Skips one JSON value of any kind (unknown keys, ignored parts of a schema document). */
static int jskip(jparser *p, int depth) {
    if (depth > FL_MAX_DEPTH) return jfail(p, "nesting too deep");
    jspace(p);
    if (p->pos >= p->n) return jfail(p, "expected a value");
    char c = p->s[p->pos];
    if (c == '"') return jstring(p);
    if (c == '{' || c == '[') {
        p->pos++;
        char close = c == '{' ? '}' : ']';
        if (!jpeek(p, close)) {
            do {
                if (c == '{') {
                    FL_RETURN_NOT_OK(jstring(p));
                    FL_RETURN_NOT_OK(jexpect(p, ':'));
                }
                FL_RETURN_NOT_OK(jskip(p, depth + 1));
            } while (jpeek(p, ',') && ++p->pos);
        }
        return jexpect(p, close);
    }
    if (jliteral(p, "true") || jliteral(p, "false") || jliteral(p, "null")) return FL_OK;
    bool is_int, neg, overflow;
    int64_t iv;
    uint64_t uv;
    double dv;
    return jnumber(p, &is_int, &overflow, &iv, &uv, &neg, &dv);
}

/* ---- RFC 3339 ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly `width` digits at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, int width, int *out) {
    int v = 0;
    for (int k = 0; k < width; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return false;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return true;
}

bool fl_parse_rfc3339(const char *s, size_t n, int64_t *ms) {
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int year, month, day, hour, minute, second;
    if (!digits(s, n, &i, 4, &year) || i >= n || s[i++] != '-' || !digits(s, n, &i, 2, &month) || i >= n || s[i++] != '-' ||
        !digits(s, n, &i, 2, &day) || i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return false;
    i++;
    if (!digits(s, n, &i, 2, &hour) || i >= n || s[i++] != ':' || !digits(s, n, &i, 2, &minute) || i >= n || s[i++] != ':' ||
        !digits(s, n, &i, 2, &second))
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] || (month == 2 && day == 29 && !leap) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    int64_t millis = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t first = i;
        int scale = 100;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            if (scale > 0) millis += (s[i] - '0') * scale;
        if (i == first) return false;
    }
    int64_t offset_minutes = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) i++;
    else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om;
        if (!digits(s, n, &i, 2, &oh) || i >= n || s[i++] != ':' || !digits(s, n, &i, 2, &om) || oh > 23 || om > 59) return false;
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return false; /* a date-time without a zone is ambiguous */
    }
    if (i != n) return false;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    *ms = seconds * 1000 + millis;
    return true;
}

/* ---- parsing rows against a schema ---- */

static int parse_object_into(jparser *p, const fl_field *fields, int32_t n_fields, fl_array *arrays, int depth);

/* {"$file": "path"} for a binary field; p->pos is at the '{'. */
static int parse_file_ref(jparser *p, const fl_field *f, fl_array *a, size_t at) {
    p->pos++;
    jspace(p);
    if (p->pos >= p->n || p->s[p->pos] != '"') {
        p->pos = at;
        return jfail(p, "column '%s' (binary) expects base64 text or {\"$file\": \"path\"}", f->name);
    }
    FL_RETURN_NOT_OK(jstring(p));
    if (!scratch_is(p, "$file")) {
        p->pos = at;
        return jfail(p, "column '%s' (binary) expects base64 text or {\"$file\": \"path\"}", f->name);
    }
    FL_RETURN_NOT_OK(jexpect(p, ':'));
    if (!jpeek(p, '"')) return jfail(p, "\"$file\" expects a path string");
    size_t path_at = p->pos;
    FL_RETURN_NOT_OK(jstring(p));
    if (memchr(p->scratch.data, 0, p->scratch.size)) {
        p->pos = path_at;
        return jfail(p, "\"$file\" path contains a NUL byte");
    }
    if (jpeek(p, ',')) return jfail(p, "an object with \"$file\" must have no other keys");
    FL_RETURN_NOT_OK(jexpect(p, '}'));
    const char *path = scratch_cstr(p);
    if (!path) return joom(p);
    char why[FL_ERROR_MESSAGE_SIZE - 128];
    why[0] = 0;
    int rc = p->o->file_ref(p->o->file_ref_ctx, path, a, why, sizeof why);
    if (rc == FL_ENOMEM) return joom(p);
    if (rc != FL_OK) {
        p->pos = at;
        return jfail_code(p, rc, "column '%s': %s", f->name, why[0] ? why : fl_strerror(rc));
    }
    return FL_OK;
}

/* What a value of this type looks like, for "expects ..." messages. */
static const char *expected_value(const jparser *p, const fl_field *f) {
    switch (f->type) {
    case FL_TYPE_BOOL: return "true, false or null";
    case FL_TYPE_FLOAT32:
    case FL_TYPE_FLOAT64: return "a number";
    case FL_TYPE_STRING: return "a string";
    case FL_TYPE_BINARY: return p->o->file_ref ? "base64 text or {\"$file\": \"path\"}" : "base64 text";
    case FL_TYPE_TIMESTAMP_MS: return p->o->text_timestamps ? "integer milliseconds or an RFC 3339 time" : "integer milliseconds";
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: return "an array";
    case FL_TYPE_STRUCT: return "an object";
    default: return "an integer";
    }
}

static int parse_value(jparser *p, const fl_field *f, fl_array *a, int depth) {
    if (depth > FL_MAX_DEPTH) return jfail(p, "nesting too deep");
    jspace(p);
    size_t at = p->pos;
    if (jliteral(p, "null")) {
        if (p->o->check_nullable && !f->nullable) {
            p->pos = at;
            return jfail(p, "column '%s' is not null, but the value is null", f->name);
        }
        if (fl_array_append_null(a) != FL_OK) return joom(p);
        return FL_OK;
    }
    char c = p->pos < p->n ? p->s[p->pos] : 0;
    /* A value of the wrong JSON kind gets one clear message instead of a tokenizer complaint. */
    bool number_type = fl_type_is_integer(f->type) || fl_type_is_float(f->type) || f->type == FL_TYPE_TIMESTAMP_MS;
    bool wrong = (c == '"' && f->type != FL_TYPE_STRING && f->type != FL_TYPE_BINARY &&
                  !(f->type == FL_TYPE_TIMESTAMP_MS && p->o->text_timestamps)) ||
                 (c == '{' && f->type != FL_TYPE_STRUCT && !(f->type == FL_TYPE_BINARY && p->o->file_ref)) ||
                 (c == '[' && f->type != FL_TYPE_LIST && f->type != FL_TYPE_FIXED_SIZE_LIST) ||
                 ((c == 't' || c == 'f') && f->type != FL_TYPE_BOOL) ||
                 (((c >= '0' && c <= '9') || c == '-') && !number_type);
    if (wrong) return jfail(p, "column '%s' (%s) expects %s", f->name, fl_type_name(f->type), expected_value(p, f));
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
        if (c == '{') return parse_file_ref(p, f, a, at);
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
        if (c == '"') { /* an RFC 3339 timestamp (text_timestamps) */
            FL_RETURN_NOT_OK(jstring(p));
            int64_t ms;
            if (!fl_parse_rfc3339((const char *)p->scratch.data, p->scratch.size, &ms)) {
                p->pos = at;
                return jfail(p, "column '%s' (timestamp) expects integer milliseconds or an RFC 3339 time like "
                                "\"2024-05-01T12:00:00Z\", not \"%.*s\"",
                             f->name, (int)(p->scratch.size > 64 ? 64 : p->scratch.size), (const char *)p->scratch.data);
            }
            rc = fl_array_append_int(a, ms);
            break;
        }
        bool is_int, neg, overflow;
        int64_t iv;
        uint64_t uv;
        double dv;
        FL_RETURN_NOT_OK(jnumber(p, &is_int, &overflow, &iv, &uv, &neg, &dv));
        int len = (int)(p->pos - at);
        if (is_int && overflow) {
            p->pos = at;
            return jfail(p, "value %.*s out of range for column '%s' (%s)", len, p->s + at, f->name, fl_type_name(f->type));
        }
        if (!is_int) {
            p->pos = at;
            return jfail(p, "column '%s' (%s) expects an integer", f->name, fl_type_name(f->type));
        }
        rc = neg ? fl_array_append_int(a, iv) : fl_array_append_uint(a, uv);
        if (rc == FL_ETYPE) {
            p->pos = at;
            return jfail(p, "value %.*s out of range for column '%s' (%s)", len, p->s + at, f->name, fl_type_name(f->type));
        }
    }
    }
    if (rc == FL_ENOMEM) return joom(p);
    if (rc != FL_OK) return fl_error_set(p->err, rc, "%s: line %lld: cannot store value of column '%s'", p->source, (long long)p->line, f->name);
    return FL_OK;
}

static int parse_object_into(jparser *p, const fl_field *fields, int32_t n_fields, fl_array *arrays, int depth) {
    jspace(p);
    size_t object_at = p->pos;
    FL_RETURN_NOT_OK(jexpect(p, '{'));
    int64_t base = n_fields ? arrays[0].length : 0;
    int32_t hint = 0; /* keys usually come in schema order: look there first */
    if (!jpeek(p, '}')) {
        do {
            jspace(p);
            size_t at = p->pos;
            FL_RETURN_NOT_OK(jstring(p));
            int32_t k = -1;
            for (int32_t j = 0; j < n_fields && k < 0; j++) {
                int32_t i = (hint + j) % n_fields;
                if (strlen(fields[i].name) == p->scratch.size && !memcmp(fields[i].name, p->scratch.data, p->scratch.size)) k = i;
            }
            if (k < 0 && p->o->ignore_unknown) {
                FL_RETURN_NOT_OK(jexpect(p, ':'));
                FL_RETURN_NOT_OK(jskip(p, depth + 1));
                continue;
            }
            if (k < 0) {
                p->pos = at;
                int len = (int)(p->scratch.size > 64 ? 64 : p->scratch.size);
                if (p->o->unknown_what) return jfail(p, "key '%.*s' is not a column of %s", len, (const char *)p->scratch.data, p->o->unknown_what);
                return jfail(p, "unknown column '%.*s'", len, (const char *)p->scratch.data);
            }
            if (arrays[k].length != base) {
                p->pos = at;
                return jfail(p, "key '%s' appears twice", fields[k].name);
            }
            hint = k + 1;
            FL_RETURN_NOT_OK(jexpect(p, ':'));
            FL_RETURN_NOT_OK(parse_value(p, &fields[k], &arrays[k], depth));
        } while (jpeek(p, ',') && ++p->pos);
    }
    FL_RETURN_NOT_OK(jexpect(p, '}'));
    for (int32_t i = 0; i < n_fields; i++) {
        if (arrays[i].length != base) continue;
        if (p->o->check_nullable && !fields[i].nullable) {
            p->pos = object_at;
            return jfail(p, "column '%s' is not null, but this object has no value for it", fields[i].name);
        }
        if (fl_array_append_null(&arrays[i]) != FL_OK) return joom(p);
    }
    return FL_OK;
}

void fl_jsonl_cursor_init(fl_jsonl_cursor *c, const char *text, size_t size, const char *source, const fl_jsonl_options *opts) {
    memset(c, 0, sizeof *c);
    c->s = text;
    c->n = size;
    c->line = 1;
    c->source = source ? source : "input";
    c->o = opts ? opts : &no_options;
    if (size >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) c->pos = c->line_start = 3; /* a UTF-8 byte order mark */
}

void fl_jsonl_cursor_free(fl_jsonl_cursor *c) { fl_buf_free(&c->scratch); }

/* Moves past blank lines; false at the end of the text. */
static bool next_line(jparser *p) {
    for (;;) {
        jspace(p);
        if (p->pos >= p->n) return false;
        if (p->s[p->pos] != '\n') return true;
        p->pos++;
        p->line++;
        p->line_start = p->pos;
    }
}

/* After a line's object: only spaces up to the newline (which is consumed). */
static int end_of_line(jparser *p) {
    jspace(p);
    if (p->pos < p->n && p->s[p->pos] != '\n') return jfail(p, "expected the end of the line after the object");
    if (p->pos < p->n) {
        p->pos++;
        p->line++;
        p->line_start = p->pos;
    }
    return FL_OK;
}

int fl_jsonl_next_row(fl_jsonl_cursor *c, fl_batch *batch, bool *got, fl_error *err) {
    c->err = err;
    *got = false;
    if (!next_line(c)) return FL_OK;
    FL_RETURN_NOT_OK(parse_object_into(c, batch->schema->fields, batch->schema->n_fields, batch->columns, 0));
    *got = true;
    return end_of_line(c);
}

int fl_batch_from_jsonl(const fl_schema *schema, const char *text, size_t size, const char *source, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_batch *b = fl_batch_new(schema);
    if (!b) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_jsonl_cursor c;
    fl_jsonl_cursor_init(&c, text, size, source, NULL);
    int rc = FL_OK;
    bool got = true;
    while (rc == FL_OK && got) rc = fl_jsonl_next_row(&c, b, &got, err);
    fl_jsonl_cursor_free(&c);
    if (rc == FL_OK) rc = fl_batch_finish(b, err);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    *out = b;
    return FL_OK;
}

/* ---- schema inference ---- */

/* The kind of JSON value a field path holds; K_NULL until a non-null value decides. */
enum { K_NULL, K_BOOL, K_NUMBER, K_STRING, K_FILE, K_ARRAY, K_OBJECT };
static const char *const kind_names[] = {"null", "a boolean", "a number", "a string", "a $file reference", "an array", "an object"};

typedef struct where {
    int64_t line;               /* 0: never seen */
    size_t column;
} where;

typedef struct inode inode;
struct inode {
    int kind;
    int64_t line;               /* where the kind was decided */
    /* K_NUMBER: first occurrences of the values that decide between int64, uint64 and float64 */
    where fraction;             /* a fraction or an exponent */
    where negative;             /* a negative integer */
    where above_int64;          /* an integer above INT64_MAX that fits uint64 */
    where beyond;               /* an integer outside both int64 and uint64 */
    bool not_timestamp;         /* K_STRING: some value is not an RFC 3339 date-time */
    inode *element;             /* K_ARRAY: NULL while every array was empty */
    char **names;               /* K_OBJECT: members in order of first appearance (owned) */
    inode **members;
    size_t n_members, cap_members;
    size_t hint;                /* where to look first for the next key */
    uint64_t stamp;             /* serial of the last object that held this member (duplicate keys) */
};

typedef struct inferer {
    jparser *p;
    uint64_t serial;            /* one per object read */
    fl_buf path;                /* dotted path of the value being read ("pos.x", "cats[]"), for messages */
} inferer;

static void inode_free(inode *n) {
    if (!n) return;
    inode_free(n->element);
    for (size_t i = 0; i < n->n_members; i++) {
        fl_free(n->names[i]);
        inode_free(n->members[i]);
    }
    fl_free(n->names);
    fl_free(n->members);
    fl_free(n);
}

/* The path buffer as a string; the buffer always keeps a NUL after its bytes. */
static const char *path_str(const inferer *g) { return g->path.data && !g->path.failed ? (const char *)g->path.data : "?"; }

static void path_push(inferer *g, const char *segment, size_t n, size_t *saved) {
    *saved = g->path.size;
    fl_buf_append(&g->path, segment, n);
    fl_buf_put_u8(&g->path, 0);
    if (!g->path.failed) g->path.size--;
}

static void path_pop(inferer *g, size_t saved) {
    g->path.size = saved;
    if (g->path.data && !g->path.failed) g->path.data[saved] = 0;
}

static int infer_value(inferer *g, inode *node, int depth);

/* Records the kind of a value at `at`; a kind that differs from the decided one is an error. */
static int unify(inferer *g, inode *node, int kind, size_t at) {
    jparser *p = g->p;
    if (node->kind == K_NULL) {
        node->kind = kind;
        node->line = p->line;
        return FL_OK;
    }
    if (node->kind == kind) return FL_OK;
    p->pos = at;
    return jfail_code(p, FL_ETYPE, "field '%s' is %s here but %s on line %lld", path_str(g), kind_names[kind], kind_names[node->kind],
                      (long long)node->line);
}

static void note(where *w, const jparser *p, size_t at) {
    if (w->line == 0) *w = (where){p->line, at - p->line_start + 1};
}

/* Reads the members of an object whose '{' and first key (in the scratch, at `key_at`) are consumed. */
static int infer_members(inferer *g, inode *node, size_t key_at, int depth) {
    jparser *p = g->p;
    uint64_t serial = ++g->serial;
    bool root = depth == 0;
    for (;;) {
        if (scratch_is(p, "$file")) {
            p->pos = key_at;
            return jfail(p, root ? "a line must be an object of columns, not a $file reference"
                                 : "an object with \"$file\" must have no other keys");
        }
        size_t k = node->n_members;
        for (size_t j = 0; j < node->n_members && k == node->n_members; j++) {
            size_t i = (node->hint + j) % node->n_members;
            if (strlen(node->names[i]) == p->scratch.size && !memcmp(node->names[i], p->scratch.data, p->scratch.size)) k = i;
        }
        if (k == node->n_members) {
            const char *name = scratch_cstr(p);
            if (!name) return joom(p);
            if (!fl_valid_name(name) || strlen(name) != p->scratch.size) {
                p->pos = key_at;
                return jfail(p, "'%.*s' is not a valid column name (use 1 to 128 letters, digits, '_', '-', '.'; not starting with '.')",
                             (int)(p->scratch.size > 64 ? 64 : p->scratch.size), name);
            }
            if (!fl_reserve((void **)&node->names, &node->cap_members, node->n_members + 1, sizeof *node->names, 8)) return joom(p);
            size_t cap = node->cap_members;
            inode **grown = fl_realloc(node->members, cap * sizeof *grown);
            if (!grown) return joom(p);
            node->members = grown;
            char *copy = fl_strdup(name);
            inode *member = fl_calloc(1, sizeof *member);
            if (!copy || !member) {
                fl_free(copy);
                fl_free(member);
                return joom(p);
            }
            node->names[k] = copy;
            node->members[k] = member;
            node->n_members++;
        }
        inode *member = node->members[k];
        if (member->stamp == serial) {
            p->pos = key_at;
            return jfail(p, "key '%s' appears twice", node->names[k]);
        }
        member->stamp = serial;
        node->hint = k + 1;
        FL_RETURN_NOT_OK(jexpect(p, ':'));
        size_t saved;
        if (root) path_push(g, node->names[k], strlen(node->names[k]), &saved);
        else {
            path_push(g, ".", 1, &saved);
            size_t ignored;
            path_push(g, node->names[k], strlen(node->names[k]), &ignored);
        }
        int rc = infer_value(g, member, depth + 1);
        path_pop(g, saved);
        FL_RETURN_NOT_OK(rc);
        if (!jpeek(p, ',')) break;
        p->pos++;
        jspace(p);
        key_at = p->pos;
        FL_RETURN_NOT_OK(jstring(p));
    }
    return jexpect(p, '}');
}

static int infer_value(inferer *g, inode *node, int depth) {
    jparser *p = g->p;
    if (depth > FL_MAX_DEPTH) return jfail(p, "nesting too deep");
    jspace(p);
    size_t at = p->pos;
    if (jliteral(p, "null")) return FL_OK;
    char c = p->pos < p->n ? p->s[p->pos] : 0;
    if (c == '"') {
        FL_RETURN_NOT_OK(jstring(p));
        FL_RETURN_NOT_OK(unify(g, node, K_STRING, at));
        int64_t ms;
        if (!node->not_timestamp && !fl_parse_rfc3339((const char *)p->scratch.data, p->scratch.size, &ms)) node->not_timestamp = true;
        return FL_OK;
    }
    if (jliteral(p, "true") || jliteral(p, "false")) return unify(g, node, K_BOOL, at);
    if (c == '[') {
        FL_RETURN_NOT_OK(unify(g, node, K_ARRAY, at));
        p->pos++;
        if (!jpeek(p, ']')) {
            size_t saved;
            path_push(g, "[]", 2, &saved);
            int rc = FL_OK;
            do {
                if (!node->element && !(node->element = fl_calloc(1, sizeof *node->element))) rc = joom(p);
                if (rc == FL_OK) rc = infer_value(g, node->element, depth + 1);
            } while (rc == FL_OK && jpeek(p, ',') && ++p->pos);
            path_pop(g, saved);
            FL_RETURN_NOT_OK(rc);
        }
        return jexpect(p, ']');
    }
    if (c == '{') {
        p->pos++;
        if (jpeek(p, '}')) { /* {} decides nothing about the members */
            p->pos++;
            return unify(g, node, K_OBJECT, at);
        }
        jspace(p);
        size_t key_at = p->pos;
        FL_RETURN_NOT_OK(jstring(p));
        if (scratch_is(p, "$file")) {
            FL_RETURN_NOT_OK(jexpect(p, ':'));
            if (!jpeek(p, '"')) return jfail(p, "\"$file\" expects a path string");
            size_t path_at = p->pos;
            FL_RETURN_NOT_OK(jstring(p));
            if (memchr(p->scratch.data, 0, p->scratch.size)) {
                p->pos = path_at;
                return jfail(p, "\"$file\" path contains a NUL byte");
            }
            if (jpeek(p, ',')) return jfail(p, "an object with \"$file\" must have no other keys");
            FL_RETURN_NOT_OK(jexpect(p, '}'));
            return unify(g, node, K_FILE, at);
        }
        FL_RETURN_NOT_OK(unify(g, node, K_OBJECT, at));
        return infer_members(g, node, key_at, depth);
    }
    bool is_int, neg, overflow;
    int64_t iv;
    uint64_t uv;
    double dv;
    if (!((c >= '0' && c <= '9') || c == '-')) return jfail(p, "expected a value");
    FL_RETURN_NOT_OK(jnumber(p, &is_int, &overflow, &iv, &uv, &neg, &dv));
    FL_RETURN_NOT_OK(unify(g, node, K_NUMBER, at));
    if (!is_int) note(&node->fraction, p, at);
    else if (overflow) note(&node->beyond, p, at);
    else if (neg) note(&node->negative, p, at);
    else if (uv > (uint64_t)INT64_MAX) note(&node->above_int64, p, at);
    return FL_OK;
}

/* Error at a recorded place (the cursor has moved on). */
static int fail_at(inferer *g, where w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(inferer *g, where w, const char *fmt, ...) {
    char msg[FL_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_error_set(g->p->err, FL_ETYPE, "%s: line %lld, column %zu: %s", g->p->source, (long long)w.line, w.column, msg);
}

/* The field type a node stands for (name and nullability are the caller's). */
static int build_type(inferer *g, const inode *node, fl_field *f) {
    f->nullable = true;
    f->id = -1;
    switch (node->kind) {
    case K_NULL: f->type = FL_TYPE_STRING; return FL_OK; /* NULL on every line */
    case K_BOOL: f->type = FL_TYPE_BOOL; return FL_OK;
    case K_STRING: f->type = node->not_timestamp ? FL_TYPE_STRING : FL_TYPE_TIMESTAMP_MS; return FL_OK;
    case K_FILE: f->type = FL_TYPE_BINARY; return FL_OK;
    case K_NUMBER:
        if (node->fraction.line) f->type = FL_TYPE_FLOAT64;
        else if (node->beyond.line)
            return fail_at(g, node->beyond, "field '%s': integer outside the range of int64 and uint64 (give a schema with float64 to store it approximately)",
                           path_str(g));
        else if (node->above_int64.line && node->negative.line) {
            bool negative_later = node->negative.line > node->above_int64.line;
            return fail_at(g, negative_later ? node->negative : node->above_int64,
                           "field '%s': %s, but line %lld has %s; no integer type holds both (give a schema with float64 to store them approximately)",
                           path_str(g), negative_later ? "negative integer" : "integer above the int64 range",
                           (long long)(negative_later ? node->above_int64.line : node->negative.line),
                           negative_later ? "one above the int64 range" : "a negative one");
        } else f->type = node->above_int64.line ? FL_TYPE_UINT64 : FL_TYPE_INT64;
        return FL_OK;
    case K_ARRAY: {
        f->type = FL_TYPE_LIST;
        if (!(f->children = fl_calloc(1, sizeof *f->children)) || !(f->children[0].name = fl_strdup("item"))) return joom(g->p);
        f->n_children = 1;
        size_t saved;
        path_push(g, "[]", 2, &saved);
        int rc = FL_OK;
        if (node->element) rc = build_type(g, node->element, &f->children[0]);
        else f->children[0] = (fl_field){.name = f->children[0].name, .type = FL_TYPE_STRING, .nullable = true, .id = -1};
        path_pop(g, saved);
        return rc;
    }
    case K_OBJECT:
        f->type = FL_TYPE_STRUCT;
        if (node->n_members == 0)
            return fl_error_set(g->p->err, FL_ETYPE, "%s: line %lld: field '%s' is an empty object on every line; a struct needs at least one member",
                                g->p->source, (long long)node->line, path_str(g));
        if (!(f->children = fl_calloc(node->n_members, sizeof *f->children))) return joom(g->p);
        f->n_children = (int32_t)node->n_members;
        for (size_t i = 0; i < node->n_members; i++) {
            if (!(f->children[i].name = fl_strdup(node->names[i]))) return joom(g->p);
            size_t saved, ignored;
            path_push(g, ".", 1, &saved);
            path_push(g, node->names[i], strlen(node->names[i]), &ignored);
            int rc = build_type(g, node->members[i], &f->children[i]);
            path_pop(g, saved);
            FL_RETURN_NOT_OK(rc);
        }
        return FL_OK;
    }
    return FL_OK;
}

int fl_jsonl_infer_schema(const char *text, size_t size, const char *source, fl_schema **out, fl_error *err) {
    *out = NULL;
    if (!text && size) return fl_error_set(err, FL_EINVAL, "infer schema: no text");
    jparser p;
    fl_jsonl_cursor_init(&p, text ? text : "", size, source, NULL);
    p.err = err;
    inferer g = {.p = &p};
    inode root = {.kind = K_OBJECT};
    int64_t rows = 0;
    int rc = FL_OK;
    fl_buf_put_u8(&g.path, 0);
    g.path.size = 0;
    while (rc == FL_OK && next_line(&p)) {
        rc = jexpect(&p, '{');
        if (rc == FL_OK && jpeek(&p, '}')) {
            p.pos++;
        } else if (rc == FL_OK) {
            jspace(&p);
            size_t key_at = p.pos;
            rc = jstring(&p);
            if (rc == FL_OK) rc = infer_members(&g, &root, key_at, 0);
        }
        if (rc == FL_OK) rc = end_of_line(&p);
        rows++;
    }
    if (rc == FL_OK && rows == 0) rc = fl_error_set(err, FL_EINVAL, "%s: no rows to infer a schema from", p.source);
    if (rc == FL_OK && root.n_members == 0) rc = fl_error_set(err, FL_EINVAL, "%s: every line is an empty object; no columns to infer", p.source);
    fl_schema *s = rc == FL_OK ? fl_schema_new() : NULL;
    if (rc == FL_OK && !s) rc = joom(&p);
    for (size_t i = 0; rc == FL_OK && i < root.n_members; i++) {
        fl_field f = {0};
        size_t saved;
        path_push(&g, root.names[i], strlen(root.names[i]), &saved);
        if (!(f.name = fl_strdup(root.names[i]))) rc = joom(&p);
        if (rc == FL_OK) rc = build_type(&g, root.members[i], &f);
        path_pop(&g, saved);
        if (rc == FL_OK && fl_schema_append_field(s, &f) != FL_OK) rc = joom(&p);
        fl_field_clear(&f);
    }
    for (size_t i = 0; i < root.n_members; i++) {
        fl_free(root.names[i]);
        inode_free(root.members[i]);
    }
    fl_free(root.names);
    fl_free(root.members);
    fl_buf_free(&g.path);
    fl_jsonl_cursor_free(&p);
    if (rc != FL_OK) {
        fl_schema_free(s);
        return rc;
    }
    *out = s;
    return FL_OK;
}

/* ---- schemas written as JSON ---- */

/* One {"name": ..., "type": ..., "nullable": ...} entry; other keys (id, metadata) are skipped. */
static int schema_json_field(jparser *p, fl_schema *s) {
    jspace(p);
    size_t at = p->pos;
    char *name = NULL, *type = NULL;
    bool nullable = true;
    int rc = jexpect(p, '{');
    if (rc == FL_OK && !jpeek(p, '}')) {
        do {
            if ((rc = jstring(p)) != FL_OK || (rc = jexpect(p, ':')) != FL_OK) break;
            char **target = scratch_is(p, "name") ? &name : scratch_is(p, "type") ? &type : NULL;
            if (target) {
                if (!jpeek(p, '"')) {
                    rc = jfail(p, "expected a string");
                    break;
                }
                if ((rc = jstring(p)) != FL_OK) break;
                fl_free(*target);
                const char *value = scratch_cstr(p);
                if (!value || !(*target = fl_strdup(value))) {
                    rc = joom(p);
                    break;
                }
            } else if (scratch_is(p, "nullable")) {
                jspace(p);
                if (jliteral(p, "true")) nullable = true;
                else if (jliteral(p, "false")) nullable = false;
                else {
                    rc = jfail(p, "\"nullable\" expects true or false");
                    break;
                }
            } else if ((rc = jskip(p, 2)) != FL_OK) {
                break;
            }
        } while (jpeek(p, ',') && ++p->pos);
    }
    if (rc == FL_OK) rc = jexpect(p, '}');
    if (rc == FL_OK && (!name || !type || !name[0] || strchr(name, '"'))) {
        p->pos = at;
        if (!name || !type) rc = jfail(p, "a field needs \"name\" and \"type\"");
        else rc = jfail(p, "invalid field name '%s'", name);
    }
    if (rc == FL_OK) {
        char *text = fl_sprintf("\"%s\" %s", name, type);
        fl_schema *one = NULL;
        fl_error why = {0};
        if (!text) rc = joom(p);
        else if ((rc = fl_schema_parse(text, &one, &why)) != FL_OK) {
            p->pos = at;
            const char *reason = why.message;
            if (!strncmp(reason, "schema: ", 8)) reason += 8;
            const char *position = strstr(reason, " at position ");
            int len = position ? (int)(position - reason) : (int)strlen(reason);
            rc = rc == FL_ENOMEM ? joom(p) : jfail(p, "field '%s': invalid type '%s' (%.*s)", name, type, len, reason);
        } else if (fl_schema_find(s, name) >= 0) {
            p->pos = at;
            rc = jfail(p, "duplicate column name '%s'", name);
        } else {
            one->fields[0].nullable = nullable;
            if (fl_schema_append_field(s, &one->fields[0]) != FL_OK) rc = joom(p);
        }
        fl_schema_free(one);
        fl_free(text);
    }
    fl_free(name);
    fl_free(type);
    return rc;
}

int fl_schema_from_json(const char *text, size_t size, const char *source, fl_schema **out, fl_error *err) {
    *out = NULL;
    jparser p;
    fl_jsonl_cursor_init(&p, text, size, source, NULL);
    p.multiline = true;
    p.err = err;
    fl_schema *s = fl_schema_new();
    int rc = s ? jexpect(&p, '{') : fl_error_set(err, FL_ENOMEM, "out of memory");
    bool found = false;
    if (rc == FL_OK && !jpeek(&p, '}')) {
        do {
            if ((rc = jstring(&p)) != FL_OK || (rc = jexpect(&p, ':')) != FL_OK) break;
            if ((scratch_is(&p, "fields") || scratch_is(&p, "schema")) && !found) {
                found = true;
                if ((rc = jexpect(&p, '[')) != FL_OK) break;
                if (!jpeek(&p, ']')) {
                    do rc = schema_json_field(&p, s);
                    while (rc == FL_OK && jpeek(&p, ',') && ++p.pos);
                }
                if (rc == FL_OK) rc = jexpect(&p, ']');
            } else {
                rc = jskip(&p, 1);
            }
        } while (rc == FL_OK && jpeek(&p, ',') && ++p.pos);
    }
    if (rc == FL_OK) rc = jexpect(&p, '}');
    if (rc == FL_OK) {
        jspace(&p);
        if (p.pos < p.n) rc = jfail(&p, "expected the end of the schema document");
    }
    if (rc == FL_OK && !found) rc = fl_error_set(err, FL_EINVAL, "%s: a JSON schema needs a \"fields\" array", p.source);
    if (rc == FL_OK && s->n_fields == 0) rc = fl_error_set(err, FL_EINVAL, "%s: the schema has no fields", p.source);
    fl_jsonl_cursor_free(&p);
    if (rc != FL_OK) {
        fl_schema_free(s);
        return rc;
    }
    *out = s;
    return FL_OK;
}
