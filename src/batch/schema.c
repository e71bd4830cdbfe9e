/*
 * schema.c — field and schema construction, the text syntax (fl_schema_parse / fl_schema_format) and the
 * binary encoding stored in manifests and data file footers.
 */
#include "batch.h"

#include <ctype.h>
#include <stdlib.h>

static const struct {
    fl_type_id id;
    const char *name;
    int width;
} type_table[] = {
    {FL_TYPE_BOOL, "bool", 0},       {FL_TYPE_INT8, "int8", 1},        {FL_TYPE_INT16, "int16", 2},
    {FL_TYPE_INT32, "int32", 4},     {FL_TYPE_INT64, "int64", 8},      {FL_TYPE_UINT8, "uint8", 1},
    {FL_TYPE_UINT16, "uint16", 2},   {FL_TYPE_UINT32, "uint32", 4},    {FL_TYPE_UINT64, "uint64", 8},
    {FL_TYPE_FLOAT32, "float32", 4}, {FL_TYPE_FLOAT64, "float64", 8},  {FL_TYPE_STRING, "string", 0},
    {FL_TYPE_BINARY, "binary", 0},   {FL_TYPE_TIMESTAMP_MS, "timestamp", 8}, {FL_TYPE_LIST, "list", 0},
    {FL_TYPE_FIXED_SIZE_LIST, "fixed_size_list", 0}, {FL_TYPE_STRUCT, "struct", 0},
};

static const struct {
    const char *alias;
    fl_type_id id;
} type_aliases[] = {
    {"boolean", FL_TYPE_BOOL}, {"float", FL_TYPE_FLOAT32}, {"double", FL_TYPE_FLOAT64}, {"utf8", FL_TYPE_STRING},
    {"text", FL_TYPE_STRING},  {"blob", FL_TYPE_BINARY},   {"bytes", FL_TYPE_BINARY},   {"timestamp_ms", FL_TYPE_TIMESTAMP_MS},
    {"int", FL_TYPE_INT32},    {"bigint", FL_TYPE_INT64},
};

int fl_type_width(fl_type_id type) {
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].id == type) return type_table[i].width;
    return 0;
}

const char *fl_type_name(fl_type_id type) {
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].id == type) return type_table[i].name;
    return "?";
}

bool fl_type_is_integer(fl_type_id t) { return t >= FL_TYPE_INT8 && t <= FL_TYPE_UINT64; }
bool fl_type_is_signed(fl_type_id t) { return (t >= FL_TYPE_INT8 && t <= FL_TYPE_INT64) || t == FL_TYPE_TIMESTAMP_MS; }
bool fl_type_is_float(fl_type_id t) { return t == FL_TYPE_FLOAT32 || t == FL_TYPE_FLOAT64; }
bool fl_type_is_scalar(fl_type_id t) { return t == FL_TYPE_BOOL || fl_type_is_integer(t) || fl_type_is_float(t) || t == FL_TYPE_TIMESTAMP_MS; }

/* ---- construction, copy, free ---- */

void fl_kvs_free(fl_kv *kvs, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        fl_free(kvs[i].key);
        fl_free(kvs[i].value);
    }
    fl_free(kvs);
}

static int kvs_copy(fl_kv **dst, int32_t *dst_n, const fl_kv *src, int32_t n) {
    *dst = NULL;
    *dst_n = 0;
    if (n == 0) return FL_OK;
    fl_kv *kvs = fl_calloc((size_t)n, sizeof *kvs);
    if (!kvs) return FL_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        kvs[i].key = fl_strdup(src[i].key);
        kvs[i].value = fl_strdup(src[i].value);
        if (!kvs[i].key || !kvs[i].value) {
            fl_kvs_free(kvs, n);
            return FL_ENOMEM;
        }
    }
    *dst = kvs;
    *dst_n = n;
    return FL_OK;
}

void fl_field_clear(fl_field *f) {
    if (!f) return;
    fl_free(f->name);
    for (int32_t i = 0; i < f->n_children; i++) fl_field_clear(&f->children[i]);
    fl_free(f->children);
    fl_kvs_free(f->metadata, f->n_metadata);
    memset(f, 0, sizeof *f);
}

int fl_field_copy_into(fl_field *dst, const fl_field *src) {
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->nullable = src->nullable;
    dst->fixed_size = src->fixed_size;
    dst->id = src->id;
    if (!(dst->name = fl_strdup(src->name ? src->name : ""))) goto oom;
    if (kvs_copy(&dst->metadata, &dst->n_metadata, src->metadata, src->n_metadata) != FL_OK) goto oom;
    if (src->n_children) {
        if (!(dst->children = fl_calloc((size_t)src->n_children, sizeof *dst->children))) goto oom;
        for (int32_t i = 0; i < src->n_children; i++) {
            dst->n_children = i + 1;
            if (fl_field_copy_into(&dst->children[i], &src->children[i]) != FL_OK) goto oom;
        }
    }
    return FL_OK;
oom:
    fl_field_clear(dst);
    return FL_ENOMEM;
}

fl_schema *fl_schema_new(void) { return fl_calloc(1, sizeof(fl_schema)); }

void fl_schema_free(fl_schema *s) {
    if (!s) return;
    for (int32_t i = 0; i < s->n_fields; i++) fl_field_clear(&s->fields[i]);
    fl_free(s->fields);
    fl_kvs_free(s->metadata, s->n_metadata);
    fl_free(s);
}

int fl_schema_append_field(fl_schema *s, const fl_field *field) {
    fl_field *grown = fl_realloc(s->fields, ((size_t)s->n_fields + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    s->fields = grown;
    if (fl_field_copy_into(&s->fields[s->n_fields], field) != FL_OK) return FL_ENOMEM;
    s->n_fields++;
    return FL_OK;
}

fl_schema *fl_schema_copy(const fl_schema *src) {
    fl_schema *s = fl_schema_new();
    if (!s) return NULL;
    for (int32_t i = 0; i < src->n_fields; i++) {
        if (fl_schema_append_field(s, &src->fields[i]) != FL_OK) {
            fl_schema_free(s);
            return NULL;
        }
    }
    if (kvs_copy(&s->metadata, &s->n_metadata, src->metadata, src->n_metadata) != FL_OK) {
        fl_schema_free(s);
        return NULL;
    }
    return s;
}

int fl_schema_find(const fl_schema *s, const char *name) {
    for (int32_t i = 0; i < s->n_fields; i++)
        if (!strcmp(s->fields[i].name, name)) return i;
    return -1;
}

bool fl_field_names_valid(const fl_field *f) {
    if (!f->name || !f->name[0] || fl_has_control_char(f->name)) return false;
    for (int32_t i = 0; i < f->n_children; i++) {
        if (f->type == FL_TYPE_STRUCT)
            for (int32_t k = 0; k < i; k++)
                if (!strcmp(f->children[k].name, f->children[i].name)) return false;
        if (!fl_field_names_valid(&f->children[i])) return false;
    }
    return true;
}

bool fl_field_same_type(const fl_field *a, const fl_field *b) {
    if (a->type != b->type || a->fixed_size != b->fixed_size || a->n_children != b->n_children) return false;
    for (int32_t i = 0; i < a->n_children; i++) {
        if (a->type == FL_TYPE_STRUCT && strcmp(a->children[i].name, b->children[i].name)) return false;
        if (!fl_field_same_type(&a->children[i], &b->children[i])) return false;
    }
    return true;
}

static int kv_set(fl_kv **kvs, int32_t *n, const char *key, const char *value) {
    for (int32_t i = 0; i < *n; i++) {
        if (!strcmp((*kvs)[i].key, key)) {
            char *v = fl_strdup(value);
            if (!v) return FL_ENOMEM;
            fl_free((*kvs)[i].value);
            (*kvs)[i].value = v;
            return FL_OK;
        }
    }
    fl_kv *grown = fl_realloc(*kvs, ((size_t)*n + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    *kvs = grown;
    char *k = fl_strdup(key), *v = fl_strdup(value);
    if (!k || !v) {
        fl_free(k);
        fl_free(v);
        return FL_ENOMEM;
    }
    grown[*n].key = k;
    grown[*n].value = v;
    (*n)++;
    return FL_OK;
}

static const char *kv_get(const fl_kv *kvs, int32_t n, const char *key) {
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(kvs[i].key, key)) return kvs[i].value;
    return NULL;
}

int fl_field_set_metadata(fl_field *f, const char *key, const char *value) { return kv_set(&f->metadata, &f->n_metadata, key, value); }
int fl_schema_set_metadata(fl_schema *s, const char *key, const char *value) { return kv_set(&s->metadata, &s->n_metadata, key, value); }
const char *fl_field_get_metadata(const fl_field *f, const char *key) { return kv_get(f->metadata, f->n_metadata, key); }
const char *fl_schema_get_metadata(const fl_schema *s, const char *key) { return kv_get(s->metadata, s->n_metadata, key); }

/* ---- text syntax ---- */

typedef struct parser {
    const char *text;
    size_t pos;
    fl_error *err;
} parser;

static void skip_space(parser *p) {
    while (isspace((unsigned char)p->text[p->pos])) p->pos++;
}

static int parse_fail(parser *p, const char *what) {
    return fl_error_set(p->err, FL_EINVAL, "schema: %s at position %zu", what, p->pos + 1);
}

/* An identifier ([A-Za-z0-9_./-]+) or a "quoted name" into a new string. */
static int parse_name(parser *p, char **out) {
    skip_space(p);
    size_t start = p->pos;
    if (p->text[p->pos] == '"') {
        p->pos++;
        start = p->pos;
        while (p->text[p->pos] && p->text[p->pos] != '"') p->pos++;
        if (p->text[p->pos] != '"') return parse_fail(p, "unterminated quoted name");
        size_t n = p->pos - start;
        p->pos++;
        if (n == 0) return parse_fail(p, "empty name");
        *out = fl_strndup(p->text + start, n);
    } else {
        while (isalnum((unsigned char)p->text[p->pos]) || (p->text[p->pos] && strchr("_.-/", p->text[p->pos]))) p->pos++;
        if (p->pos == start) return parse_fail(p, "expected a name");
        *out = fl_strndup(p->text + start, p->pos - start);
    }
    return *out ? FL_OK : fl_error_set(p->err, FL_ENOMEM, "out of memory");
}

static bool accept(parser *p, char c) {
    skip_space(p);
    if (p->text[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static bool accept_word(parser *p, const char *word) {
    skip_space(p);
    size_t n = strlen(word);
    if (strncasecmp(p->text + p->pos, word, n) == 0 && !isalnum((unsigned char)p->text[p->pos + n]) && p->text[p->pos + n] != '_') {
        p->pos += n;
        return true;
    }
    return false;
}

static int parse_type(parser *p, fl_field *f, int depth);

static int add_child(fl_field *f, fl_field *child) {
    fl_field *grown = fl_realloc(f->children, ((size_t)f->n_children + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    f->children = grown;
    f->children[f->n_children++] = *child;
    memset(child, 0, sizeof *child);
    return FL_OK;
}

static int parse_type(parser *p, fl_field *f, int depth) {
    if (depth > FL_MAX_DEPTH) return parse_fail(p, "types nested too deeply");
    skip_space(p);
    size_t start = p->pos;
    while (isalnum((unsigned char)p->text[p->pos]) || p->text[p->pos] == '_') p->pos++;
    size_t n = p->pos - start;
    if (n == 0) {
        p->pos = start;
        return parse_fail(p, "expected a type");
    }
    char word[32];
    if (n >= sizeof word) n = sizeof word - 1;
    for (size_t i = 0; i < n; i++) word[i] = (char)tolower((unsigned char)p->text[start + i]);
    word[n] = 0;
    fl_type_id type = 0;
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (!strcmp(type_table[i].name, word)) type = type_table[i].id;
    for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++)
        if (!strcmp(type_aliases[i].alias, word)) type = type_aliases[i].id;
    if (!type) {
        p->pos = start;
        char msg[80];
        snprintf(msg, sizeof msg, "unknown type '%s'", word);
        return parse_fail(p, msg);
    }
    f->type = type;
    if (type == FL_TYPE_LIST || type == FL_TYPE_FIXED_SIZE_LIST) {
        if (!accept(p, '<')) return parse_fail(p, "expected '<'");
        fl_field child = {0};
        child.nullable = true;
        child.id = -1;
        int rc = parse_type(p, &child, depth + 1);
        if (rc == FL_OK && !(child.name = fl_strdup("item"))) rc = FL_ENOMEM;
        if (rc == FL_OK) rc = add_child(f, &child);
        fl_field_clear(&child);
        FL_RETURN_NOT_OK(rc);
        if (type == FL_TYPE_FIXED_SIZE_LIST) {
            if (!accept(p, ',')) return parse_fail(p, "expected ', N' (the list size)");
            skip_space(p);
            char *end;
            long v = strtol(p->text + p->pos, &end, 10);
            if (end == p->text + p->pos || v <= 0 || v > 1 << 20) return parse_fail(p, "list size must be 1..1048576");
            p->pos = (size_t)(end - p->text);
            f->fixed_size = (int32_t)v;
        }
        if (!accept(p, '>')) return parse_fail(p, "expected '>'");
    } else if (type == FL_TYPE_STRUCT) {
        if (!accept(p, '<')) return parse_fail(p, "expected '<'");
        do {
            fl_field child = {0};
            child.nullable = true;
            child.id = -1;
            int rc = parse_name(p, &child.name);
            if (rc == FL_OK && !accept(p, ':')) rc = parse_fail(p, "expected ':' after a struct field name");
            if (rc == FL_OK) rc = parse_type(p, &child, depth + 1);
            if (rc == FL_OK) {
                for (int32_t i = 0; i < f->n_children; i++)
                    if (!strcmp(f->children[i].name, child.name)) rc = parse_fail(p, "duplicate struct field name");
            }
            if (rc == FL_OK) rc = add_child(f, &child);
            fl_field_clear(&child);
            FL_RETURN_NOT_OK(rc);
        } while (accept(p, ','));
        if (!accept(p, '>')) return parse_fail(p, "expected '>'");
    }
    return FL_OK;
}

int fl_schema_parse(const char *text, fl_schema **out, fl_error *err) {
    *out = NULL;
    parser p = {text, 0, err};
    fl_schema *s = fl_schema_new();
    if (!s) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    skip_space(&p);
    if (!text[p.pos]) {
        fl_schema_free(s);
        return fl_error_set(err, FL_EINVAL, "schema: empty");
    }
    do {
        fl_field f = {0};
        f.nullable = true;
        f.id = -1;
        rc = parse_name(&p, &f.name);
        if (rc == FL_OK) rc = parse_type(&p, &f, 0);
        if (rc == FL_OK && accept_word(&p, "not")) {
            if (!accept_word(&p, "null")) rc = parse_fail(&p, "expected 'null' after 'not'");
            f.nullable = false;
        } else if (rc == FL_OK) {
            accept_word(&p, "null");
        }
        if (rc == FL_OK && fl_schema_find(s, f.name) >= 0) {
            rc = fl_error_set(err, FL_EINVAL, "schema: duplicate column name '%s'", f.name);
        }
        if (rc == FL_OK) rc = fl_schema_append_field(s, &f);
        fl_field_clear(&f);
    } while (rc == FL_OK && accept(&p, ','));
    if (rc == FL_OK) {
        skip_space(&p);
        if (text[p.pos]) rc = parse_fail(&p, "expected ',' or end of schema");
    }
    if (rc != FL_OK) {
        fl_schema_free(s);
        /* Some allocation paths return a bare code; every failure leaves a message. */
        if (rc == FL_ENOMEM) fl_error_set(err, FL_ENOMEM, "schema: out of memory");
        return rc;
    }
    *out = s;
    return FL_OK;
}

static bool plain_name(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_.-/", *s))) return false;
    return true;
}

static void format_name(fl_buf *b, const char *name) {
    if (plain_name(name)) fl_buf_printf(b, "%s", name);
    else fl_buf_printf(b, "\"%s\"", name);
}

static void format_type(fl_buf *b, const fl_field *f) {
    fl_buf_printf(b, "%s", fl_type_name(f->type));
    if (f->type == FL_TYPE_LIST && f->n_children == 1) {
        fl_buf_put_u8(b, '<');
        format_type(b, &f->children[0]);
        fl_buf_put_u8(b, '>');
    } else if (f->type == FL_TYPE_FIXED_SIZE_LIST && f->n_children == 1) {
        fl_buf_put_u8(b, '<');
        format_type(b, &f->children[0]);
        fl_buf_printf(b, ", %d>", f->fixed_size);
    } else if (f->type == FL_TYPE_STRUCT) {
        fl_buf_put_u8(b, '<');
        for (int32_t i = 0; i < f->n_children; i++) {
            if (i) fl_buf_append(b, ", ", 2);
            format_name(b, f->children[i].name);
            fl_buf_append(b, ": ", 2);
            format_type(b, &f->children[i]);
        }
        fl_buf_put_u8(b, '>');
    }
}

char *fl_field_type_format(const fl_field *f) {
    fl_buf b;
    fl_buf_init(&b);
    format_type(&b, f);
    return fl_buf_take_string(&b);
}

char *fl_schema_format(const fl_schema *s) {
    fl_buf b;
    fl_buf_init(&b);
    for (int32_t i = 0; i < s->n_fields; i++) {
        if (i) fl_buf_append(&b, ", ", 2);
        format_name(&b, s->fields[i].name);
        fl_buf_put_u8(&b, ' ');
        format_type(&b, &s->fields[i]);
        if (!s->fields[i].nullable) fl_buf_printf(&b, " not null");
    }
    return fl_buf_take_string(&b);
}

/* ---- binary encoding ---- */

void fl_kvs_encode(fl_buf *b, const fl_kv *kvs, int32_t n) {
    fl_buf_put_u32(b, (uint32_t)n);
    for (int32_t i = 0; i < n; i++) {
        fl_buf_put_str(b, kvs[i].key);
        fl_buf_put_str(b, kvs[i].value);
    }
}

bool fl_kvs_decode(fl_reader *r, fl_kv **kvs, int32_t *n) {
    uint32_t count;
    *kvs = NULL;
    *n = 0;
    if (!fl_get_count(r, &count, 8, "metadata count")) return false;
    if (count == 0) return true;
    fl_kv *list = fl_calloc(count, sizeof *list);
    if (!list) return fl_reader_fail(r, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        if (!fl_get_str(r, &list[i].key, 1 << 16, false, "metadata key") ||
            !fl_get_str(r, &list[i].value, 1 << 24, false, "metadata value")) {
            fl_kvs_free(list, (int32_t)count);
            return false;
        }
    }
    *kvs = list;
    *n = (int32_t)count;
    return true;
}

void fl_field_encode(fl_buf *b, const fl_field *f) {
    fl_buf_put_i32(b, f->id);
    fl_buf_put_str(b, f->name);
    fl_buf_put_u8(b, (uint8_t)f->type);
    fl_buf_put_u8(b, f->nullable ? 1 : 0);
    fl_buf_put_i32(b, f->fixed_size);
    fl_kvs_encode(b, f->metadata, f->n_metadata);
    fl_buf_put_u32(b, (uint32_t)f->n_children);
    for (int32_t i = 0; i < f->n_children; i++) fl_field_encode(b, &f->children[i]);
}

bool fl_field_decode(fl_reader *r, fl_field *f, int depth) {
    memset(f, 0, sizeof *f);
    if (depth > FL_MAX_DEPTH) return fl_reader_fail(r, "field types nested deeper than %d", FL_MAX_DEPTH);
    uint8_t type, nullable;
    uint32_t n_children;
    if (!fl_get_i32(r, &f->id, "field id") || !fl_get_str(r, &f->name, 1 << 12, false, "field name")) goto fail;
    size_t type_pos = r->pos;
    if (!fl_get_u8(r, &type, "field type") || !fl_get_u8(r, &nullable, "field nullable") ||
        !fl_get_i32(r, &f->fixed_size, "field fixed size"))
        goto fail;
    if (type < FL_TYPE_BOOL || type > FL_TYPE_STRUCT || nullable > 1) {
        r->pos = type_pos;
        fl_reader_fail(r, "invalid field type %u or nullable flag %u", type, nullable);
        goto fail;
    }
    f->type = (fl_type_id)type;
    f->nullable = nullable;
    if (!fl_kvs_decode(r, &f->metadata, &f->n_metadata)) goto fail;
    if (!fl_get_count(r, &n_children, 14, "child count")) goto fail;
    uint32_t want_min = 0, want_max = 0;
    if (f->type == FL_TYPE_LIST || f->type == FL_TYPE_FIXED_SIZE_LIST) want_min = want_max = 1;
    if (f->type == FL_TYPE_STRUCT) want_min = 1, want_max = 1u << 16;
    if (n_children < want_min || n_children > want_max) {
        fl_reader_fail(r, "field '%s' of type %s has %u children", f->name, fl_type_name(f->type), n_children);
        goto fail;
    }
    if ((f->type == FL_TYPE_FIXED_SIZE_LIST) != (f->fixed_size != 0) || f->fixed_size < 0 || f->fixed_size > (1 << 20)) {
        fl_reader_fail(r, "field '%s' has invalid fixed size %d", f->name, f->fixed_size);
        goto fail;
    }
    if (n_children) {
        if (!(f->children = fl_calloc(n_children, sizeof *f->children))) {
            fl_reader_fail(r, "out of memory");
            goto fail;
        }
        for (uint32_t i = 0; i < n_children; i++) {
            f->n_children = (int32_t)i + 1;
            if (!fl_field_decode(r, &f->children[i], depth + 1)) goto fail;
        }
    }
    return true;
fail:
    fl_field_clear(f);
    return false;
}

void fl_schema_encode(fl_buf *b, const fl_schema *s) {
    fl_buf_put_u32(b, (uint32_t)s->n_fields);
    for (int32_t i = 0; i < s->n_fields; i++) fl_field_encode(b, &s->fields[i]);
    fl_kvs_encode(b, s->metadata, s->n_metadata);
}

bool fl_schema_decode(fl_reader *r, fl_schema **out) {
    *out = NULL;
    uint32_t n;
    if (!fl_get_count(r, &n, 14, "field count")) return false;
    fl_schema *s = fl_schema_new();
    if (!s || (n && !(s->fields = fl_calloc(n, sizeof *s->fields)))) {
        fl_schema_free(s);
        return fl_reader_fail(r, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!fl_field_decode(r, &s->fields[i], 0)) {
            fl_schema_free(s);
            return false;
        }
        s->n_fields = (int32_t)i + 1;
    }
    if (!fl_kvs_decode(r, &s->metadata, &s->n_metadata)) {
        fl_schema_free(s);
        return false;
    }
    *out = s;
    return true;
}
