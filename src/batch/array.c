/*
 * array.c — building and reading fl_array / fl_batch.
 *
 * Buffers grow geometrically. The validity bitmap is created lazily at the first NULL (all earlier bits set),
 * so columns without nulls never carry one.
 */
#include "batch.h"

#include <stdlib.h>

static int grow_bytes(void **buf, int64_t *cap, int64_t need, bool zero) {
    if (need <= *cap && *buf) return FL_OK;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    uint8_t *p = fl_realloc(*buf, (size_t)c);
    if (!p) return FL_ENOMEM;
    if (zero) memset(p + *cap, 0, (size_t)(c - *cap));
    *buf = p;
    *cap = c;
    return FL_OK;
}

static int reserve_offsets(fl_array *a, int64_t entries) {
    if (entries <= a->cap_offsets) return FL_OK;
    int64_t c = a->cap_offsets ? a->cap_offsets : 16;
    while (c < entries) c *= 2;
    int64_t *p = fl_realloc(a->offsets, (size_t)c * sizeof *p);
    if (!p) return FL_ENOMEM;
    a->offsets = p;
    a->cap_offsets = c;
    return FL_OK;
}

static bool has_offsets(fl_type_id t) { return t == FL_TYPE_STRING || t == FL_TYPE_BINARY || t == FL_TYPE_LIST; }

int fl_array_init(fl_array *a, const fl_field *f) {
    memset(a, 0, sizeof *a);
    a->type = f->type;
    a->fixed_size = f->fixed_size;
    /* Value buffers are never NULL, so pointer arithmetic on them is defined even for empty arrays. */
    if (f->type != FL_TYPE_LIST && f->type != FL_TYPE_FIXED_SIZE_LIST && f->type != FL_TYPE_STRUCT &&
        grow_bytes(&a->values, &a->cap_values, 8, true) != FL_OK)
        return FL_ENOMEM;
    if (has_offsets(f->type)) {
        if (reserve_offsets(a, 16) != FL_OK) return FL_ENOMEM;
        a->offsets[0] = 0;
    }
    if (f->n_children) {
        a->children = fl_calloc((size_t)f->n_children, sizeof *a->children);
        if (!a->children) {
            fl_array_clear(a);
            return FL_ENOMEM;
        }
        for (int32_t i = 0; i < f->n_children; i++) {
            a->n_children = i + 1;
            if (fl_array_init(&a->children[i], &f->children[i]) != FL_OK) {
                fl_array_clear(a);
                return FL_ENOMEM;
            }
        }
    }
    return FL_OK;
}

void fl_array_clear(fl_array *a) {
    if (!a) return;
    fl_free(a->validity);
    fl_free(a->values);
    fl_free(a->offsets);
    for (int32_t i = 0; i < a->n_children; i++) fl_array_clear(&a->children[i]);
    fl_free(a->children);
    memset(a, 0, sizeof *a);
}

void fl_array_reset(fl_array *a) {
    a->length = 0;
    a->null_count = 0;
    fl_free(a->validity);
    a->validity = NULL;
    a->cap_validity = 0;
    if (a->offsets) a->offsets[0] = 0;
    for (int32_t i = 0; i < a->n_children; i++) fl_array_reset(&a->children[i]);
}

/* Makes room for validity bits up to new_length; creates the bitmap (earlier bits valid) when needed. */
static int reserve_validity(fl_array *a, int64_t new_length, bool need_bitmap) {
    if (!a->validity && !need_bitmap) return FL_OK;
    int64_t need = (new_length + 7) / 8;
    if (!a->validity) {
        int64_t cap = need < 8 ? 8 : need;
        uint8_t *p = fl_calloc(1, (size_t)cap * 2);
        if (!p) return FL_ENOMEM;
        memset(p, 0xFF, (size_t)(a->length / 8));
        for (int64_t i = a->length / 8 * 8; i < a->length; i++) fl_bit_set(p, i, true);
        a->validity = p;
        a->cap_validity = cap * 2;
        return FL_OK;
    }
    return grow_bytes((void **)&a->validity, &a->cap_validity, need, true);
}

/* Records validity of the value at index a->length and advances the length. */
static void push_validity(fl_array *a, bool valid) {
    if (a->validity) fl_bit_set(a->validity, a->length, valid);
    if (!valid) a->null_count++;
    a->length++;
}

static int reserve_fixed(fl_array *a, int64_t count) {
    int w = fl_type_width(a->type);
    if (a->type == FL_TYPE_BOOL) return grow_bytes(&a->values, &a->cap_values, (a->length + count + 7) / 8, true);
    return grow_bytes(&a->values, &a->cap_values, (a->length + count) * w, false);
}

int fl_array_append_null(fl_array *a) {
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, true));
    switch (a->type) {
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
    case FL_TYPE_LIST:
        FL_RETURN_NOT_OK(reserve_offsets(a, a->length + 2));
        a->offsets[a->length + 1] = a->offsets[a->length];
        break;
    case FL_TYPE_FIXED_SIZE_LIST:
        for (int32_t k = 0; k < a->fixed_size; k++) FL_RETURN_NOT_OK(fl_array_append_null(&a->children[0]));
        break;
    case FL_TYPE_STRUCT:
        for (int32_t i = 0; i < a->n_children; i++) {
            /* A child may already hold the value if the caller appended before deciding on NULL. */
            if (a->children[i].length == a->length) FL_RETURN_NOT_OK(fl_array_append_null(&a->children[i]));
        }
        break;
    case FL_TYPE_BOOL:
        FL_RETURN_NOT_OK(reserve_fixed(a, 1));
        fl_bit_set(a->values, a->length, false);
        break;
    default: {
        int w = fl_type_width(a->type);
        FL_RETURN_NOT_OK(reserve_fixed(a, 1));
        memset((uint8_t *)a->values + a->length * w, 0, (size_t)w);
    }
    }
    push_validity(a, false);
    return FL_OK;
}

int fl_array_append_bool(fl_array *a, bool v) {
    if (a->type != FL_TYPE_BOOL) return FL_ETYPE;
    FL_RETURN_NOT_OK(reserve_fixed(a, 1));
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    fl_bit_set(a->values, a->length, v);
    push_validity(a, true);
    return FL_OK;
}

static int store_int(fl_array *a, int64_t sv, uint64_t uv, bool is_signed) {
    int64_t lo = 0;
    uint64_t hi = 0;
    switch (a->type) {
    case FL_TYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case FL_TYPE_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
    case FL_TYPE_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case FL_TYPE_INT64:
    case FL_TYPE_TIMESTAMP_MS: lo = INT64_MIN, hi = INT64_MAX; break;
    case FL_TYPE_UINT8: hi = UINT8_MAX; break;
    case FL_TYPE_UINT16: hi = UINT16_MAX; break;
    case FL_TYPE_UINT32: hi = UINT32_MAX; break;
    case FL_TYPE_UINT64: hi = UINT64_MAX; break;
    default: return FL_ETYPE;
    }
    if (is_signed ? (sv < lo || (sv > 0 && (uint64_t)sv > hi)) : uv > hi) return FL_ETYPE;
    uint64_t bits = is_signed ? (uint64_t)sv : uv;
    FL_RETURN_NOT_OK(reserve_fixed(a, 1));
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    int w = fl_type_width(a->type);
    uint8_t *dst = (uint8_t *)a->values + a->length * w;
    switch (w) {
    case 1: *dst = (uint8_t)bits; break;
    case 2: { uint16_t v = (uint16_t)bits; memcpy(dst, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)bits; memcpy(dst, &v, 4); break; }
    default: memcpy(dst, &bits, 8);
    }
    push_validity(a, true);
    return FL_OK;
}

int fl_array_append_int(fl_array *a, int64_t v) { return store_int(a, v, 0, true); }
int fl_array_append_uint(fl_array *a, uint64_t v) { return store_int(a, 0, v, false); }

int fl_array_append_float(fl_array *a, double v) {
    if (!fl_type_is_float(a->type)) return FL_ETYPE;
    FL_RETURN_NOT_OK(reserve_fixed(a, 1));
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    if (a->type == FL_TYPE_FLOAT32) ((float *)a->values)[a->length] = (float)v;
    else ((double *)a->values)[a->length] = v;
    push_validity(a, true);
    return FL_OK;
}

int fl_array_append_bytes(fl_array *a, const void *data, size_t size) {
    if (a->type != FL_TYPE_STRING && a->type != FL_TYPE_BINARY) return FL_ETYPE;
    int64_t end = a->offsets[a->length];
    if (size > (uint64_t)INT64_MAX - (uint64_t)end) return FL_ETYPE;
    FL_RETURN_NOT_OK(grow_bytes(&a->values, &a->cap_values, end + (int64_t)size, false));
    FL_RETURN_NOT_OK(reserve_offsets(a, a->length + 2));
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    if (size) memcpy((uint8_t *)a->values + end, data, size);
    a->offsets[a->length + 1] = end + (int64_t)size;
    push_validity(a, true);
    return FL_OK;
}

int fl_array_reserve_values(fl_array *a, int64_t bytes) {
    if (a->type != FL_TYPE_STRING && a->type != FL_TYPE_BINARY) return FL_ETYPE;
    return grow_bytes(&a->values, &a->cap_values, a->offsets[a->length] + bytes, false);
}

int fl_array_append_uninit(fl_array *a, size_t size, uint8_t **dst) {
    if (a->type != FL_TYPE_STRING && a->type != FL_TYPE_BINARY) return FL_ETYPE;
    int64_t end = a->offsets[a->length];
    FL_RETURN_NOT_OK(grow_bytes(&a->values, &a->cap_values, end + (int64_t)size, false));
    FL_RETURN_NOT_OK(reserve_offsets(a, a->length + 2));
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    a->offsets[a->length + 1] = end + (int64_t)size;
    *dst = (uint8_t *)a->values + end;
    push_validity(a, true);
    return FL_OK;
}

int fl_array_append_string(fl_array *a, const char *text) { return fl_array_append_bytes(a, text, strlen(text)); }

int fl_array_end_list(fl_array *a) {
    if (a->type == FL_TYPE_LIST) {
        FL_RETURN_NOT_OK(reserve_offsets(a, a->length + 2));
        FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
        a->offsets[a->length + 1] = a->children[0].length;
    } else if (a->type == FL_TYPE_FIXED_SIZE_LIST) {
        if (a->children[0].length != (a->length + 1) * a->fixed_size) return FL_ETYPE;
        FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    } else {
        return FL_ETYPE;
    }
    push_validity(a, true);
    return FL_OK;
}

int fl_array_end_struct(fl_array *a) {
    if (a->type != FL_TYPE_STRUCT) return FL_ETYPE;
    for (int32_t i = 0; i < a->n_children; i++)
        if (a->children[i].length != a->length + 1) return FL_ETYPE;
    FL_RETURN_NOT_OK(reserve_validity(a, a->length + 1, false));
    push_validity(a, true);
    return FL_OK;
}

/* Appends `count` values of src starting at `start`. Fast paths copy whole buffers. */
int fl_array_append_range(fl_array *dst, const fl_array *src, int64_t start, int64_t count) {
    if (dst->type != src->type || dst->fixed_size != src->fixed_size || dst->n_children != src->n_children) return FL_ETYPE;
    if (count == 0) return FL_OK;
    int64_t src_nulls = 0;
    if (src->validity && src->null_count)
        for (int64_t k = 0; k < count; k++) src_nulls += !fl_bit_get(src->validity, start + k);
    FL_RETURN_NOT_OK(reserve_validity(dst, dst->length + count, src_nulls > 0));
    int64_t n0 = dst->length;
    switch (dst->type) {
    case FL_TYPE_BOOL:
        FL_RETURN_NOT_OK(reserve_fixed(dst, count));
        for (int64_t k = 0; k < count; k++) fl_bit_set(dst->values, n0 + k, fl_bit_get(src->values, start + k));
        break;
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        int64_t b0 = src->offsets[start], b1 = src->offsets[start + count], end = dst->offsets[n0];
        FL_RETURN_NOT_OK(grow_bytes(&dst->values, &dst->cap_values, end + (b1 - b0), false));
        FL_RETURN_NOT_OK(reserve_offsets(dst, n0 + count + 1));
        if (b1 > b0) memcpy((uint8_t *)dst->values + end, (const uint8_t *)src->values + b0, (size_t)(b1 - b0));
        for (int64_t k = 1; k <= count; k++) dst->offsets[n0 + k] = end + src->offsets[start + k] - b0;
        break;
    }
    case FL_TYPE_LIST: {
        int64_t c0 = src->offsets[start], c1 = src->offsets[start + count], end = dst->children[0].length;
        FL_RETURN_NOT_OK(reserve_offsets(dst, n0 + count + 1));
        FL_RETURN_NOT_OK(fl_array_append_range(&dst->children[0], &src->children[0], c0, c1 - c0));
        for (int64_t k = 1; k <= count; k++) dst->offsets[n0 + k] = end + src->offsets[start + k] - c0;
        break;
    }
    case FL_TYPE_FIXED_SIZE_LIST:
        FL_RETURN_NOT_OK(fl_array_append_range(&dst->children[0], &src->children[0], start * src->fixed_size, count * src->fixed_size));
        break;
    case FL_TYPE_STRUCT:
        for (int32_t i = 0; i < dst->n_children; i++) FL_RETURN_NOT_OK(fl_array_append_range(&dst->children[i], &src->children[i], start, count));
        break;
    default: {
        int w = fl_type_width(dst->type);
        FL_RETURN_NOT_OK(reserve_fixed(dst, count));
        memcpy((uint8_t *)dst->values + n0 * w, (const uint8_t *)src->values + start * w, (size_t)(count * w));
    }
    }
    if (dst->validity)
        for (int64_t k = 0; k < count; k++) fl_bit_set(dst->validity, n0 + k, src->validity ? fl_bit_get(src->validity, start + k) : true);
    dst->length += count;
    dst->null_count += src_nulls;
    return FL_OK;
}

int fl_array_append_from(fl_array *dst, const fl_array *src, int64_t index) { return fl_array_append_range(dst, src, index, 1); }
int fl_array_append_array(fl_array *dst, const fl_array *src) { return fl_array_append_range(dst, src, 0, src->length); }

/* ---- reading ---- */

bool fl_array_is_null(const fl_array *a, int64_t i) { return a->validity && !fl_bit_get(a->validity, i); }
bool fl_array_get_bool(const fl_array *a, int64_t i) { return fl_bit_get(a->values, i); }

int64_t fl_array_get_int(const fl_array *a, int64_t i) {
    switch (a->type) {
    case FL_TYPE_INT8: return ((const int8_t *)a->values)[i];
    case FL_TYPE_INT16: return ((const int16_t *)a->values)[i];
    case FL_TYPE_INT32: return ((const int32_t *)a->values)[i];
    case FL_TYPE_UINT8: return ((const uint8_t *)a->values)[i];
    case FL_TYPE_UINT16: return ((const uint16_t *)a->values)[i];
    case FL_TYPE_UINT32: return ((const uint32_t *)a->values)[i];
    case FL_TYPE_BOOL: return fl_bit_get(a->values, i);
    default: return ((const int64_t *)a->values)[i];
    }
}

uint64_t fl_array_get_uint(const fl_array *a, int64_t i) {
    if (a->type == FL_TYPE_UINT64) return ((const uint64_t *)a->values)[i];
    return (uint64_t)fl_array_get_int(a, i);
}

double fl_array_get_float(const fl_array *a, int64_t i) {
    switch (a->type) {
    case FL_TYPE_FLOAT32: return ((const float *)a->values)[i];
    case FL_TYPE_FLOAT64: return ((const double *)a->values)[i];
    case FL_TYPE_UINT64: return (double)((const uint64_t *)a->values)[i];
    default: return (double)fl_array_get_int(a, i);
    }
}

const uint8_t *fl_array_get_bytes(const fl_array *a, int64_t i, size_t *size) {
    *size = (size_t)(a->offsets[i + 1] - a->offsets[i]);
    return (const uint8_t *)a->values + a->offsets[i];
}

void fl_array_get_list(const fl_array *a, int64_t i, int64_t *start, int64_t *end) {
    if (a->type == FL_TYPE_FIXED_SIZE_LIST) {
        *start = i * a->fixed_size;
        *end = *start + a->fixed_size;
    } else {
        *start = a->offsets[i];
        *end = a->offsets[i + 1];
    }
}

uint64_t fl_array_range_bytes(const fl_array *a, int64_t start, int64_t count) {
    if (count <= 0) return 0;
    switch (a->type) {
    case FL_TYPE_BOOL: return (uint64_t)(count + 7) / 8;
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: return (uint64_t)(a->offsets[start + count] - a->offsets[start]) + 4 * (uint64_t)count;
    case FL_TYPE_LIST:
        return 4 * (uint64_t)count + fl_array_range_bytes(&a->children[0], a->offsets[start], a->offsets[start + count] - a->offsets[start]);
    case FL_TYPE_FIXED_SIZE_LIST: return fl_array_range_bytes(&a->children[0], start * a->fixed_size, count * a->fixed_size);
    case FL_TYPE_STRUCT: {
        uint64_t n = 0;
        for (int32_t i = 0; i < a->n_children; i++) n += fl_array_range_bytes(&a->children[i], start, count);
        return n;
    }
    default: return (uint64_t)fl_type_width(a->type) * (uint64_t)count;
    }
}

uint64_t fl_array_byte_size(const fl_array *a) {
    uint64_t n = (uint64_t)(a->length + 7) / 8;
    if (a->type == FL_TYPE_STRING || a->type == FL_TYPE_BINARY) n += (uint64_t)a->offsets[a->length] + 8 * (uint64_t)a->length;
    else if (a->type == FL_TYPE_LIST) n += 8 * (uint64_t)a->length;
    else n += (uint64_t)fl_type_width(a->type) * (uint64_t)a->length;
    for (int32_t i = 0; i < a->n_children; i++) n += fl_array_byte_size(&a->children[i]);
    return n;
}

int fl_array_validate(const fl_array *a, const fl_field *f, fl_error *err) {
    if (a->type != f->type || a->fixed_size != f->fixed_size || a->n_children != f->n_children)
        return fl_error_set(err, FL_ECORRUPT, "column '%s': array type does not match the schema", f->name);
    if (a->length < 0 || a->null_count < 0 || a->null_count > a->length)
        return fl_error_set(err, FL_ECORRUPT, "column '%s': invalid length or null count", f->name);
    if (a->validity) {
        int64_t nulls = 0;
        for (int64_t i = 0; i < a->length; i++) nulls += !fl_bit_get(a->validity, i);
        if (nulls != a->null_count) return fl_error_set(err, FL_ECORRUPT, "column '%s': null count mismatch", f->name);
    } else if (a->null_count) {
        return fl_error_set(err, FL_ECORRUPT, "column '%s': nulls without a validity bitmap", f->name);
    }
    if (has_offsets(a->type)) {
        if (a->offsets[0] != 0) return fl_error_set(err, FL_ECORRUPT, "column '%s': offsets do not start at 0", f->name);
        for (int64_t i = 0; i < a->length; i++)
            if (a->offsets[i + 1] < a->offsets[i]) return fl_error_set(err, FL_ECORRUPT, "column '%s': offsets decrease at %lld", f->name, (long long)i);
    }
    if (a->type == FL_TYPE_LIST && a->offsets[a->length] != a->children[0].length)
        return fl_error_set(err, FL_ECORRUPT, "column '%s': list offsets do not match the child length", f->name);
    if (a->type == FL_TYPE_FIXED_SIZE_LIST && a->children[0].length != a->length * a->fixed_size)
        return fl_error_set(err, FL_ECORRUPT, "column '%s': fixed-size list child length mismatch", f->name);
    if (a->type == FL_TYPE_STRUCT)
        for (int32_t i = 0; i < a->n_children; i++)
            if (a->children[i].length != a->length) return fl_error_set(err, FL_ECORRUPT, "column '%s': struct child length mismatch", f->name);
    for (int32_t i = 0; i < a->n_children; i++) FL_RETURN_NOT_OK(fl_array_validate(&a->children[i], &f->children[i], err));
    return FL_OK;
}

/* ---- batches ---- */

fl_batch *fl_batch_new_empty(const fl_schema *schema) {
    fl_batch *b = fl_calloc(1, sizeof *b);
    if (!b) return NULL;
    if (!(b->schema = fl_schema_copy(schema))) goto oom;
    if (schema->n_fields && !(b->columns = fl_calloc((size_t)schema->n_fields, sizeof *b->columns))) goto oom;
    for (int32_t i = 0; i < schema->n_fields; i++) {
        b->n_columns = i + 1;
        if (fl_array_init(&b->columns[i], &schema->fields[i]) != FL_OK) goto oom;
    }
    return b;
oom:
    fl_batch_free(b);
    return NULL;
}

fl_batch *fl_batch_new(const fl_schema *schema) { return fl_batch_new_empty(schema); }

void fl_batch_free(fl_batch *b) {
    if (!b) return;
    for (int32_t i = 0; i < b->n_columns; i++) fl_array_clear(&b->columns[i]);
    fl_free(b->columns);
    fl_free(b->row_ids);
    fl_schema_free(b->schema);
    fl_free(b);
}

int fl_batch_finish(fl_batch *b, fl_error *err) {
    int64_t n = b->n_columns ? b->columns[0].length : 0;
    for (int32_t i = 0; i < b->n_columns; i++) {
        const fl_field *f = &b->schema->fields[i];
        if (b->columns[i].length != n)
            return fl_error_set(err, FL_EINVAL, "batch: column '%s' has %lld values, column '%s' has %lld", f->name,
                                (long long)b->columns[i].length, b->schema->fields[0].name, (long long)n);
        FL_RETURN_NOT_OK(fl_array_validate(&b->columns[i], f, err) == FL_OK ? FL_OK
                         : fl_error_prefix(err, FL_EINVAL, "batch"));
    }
    b->num_rows = n;
    return FL_OK;
}

fl_array *fl_batch_column(const fl_batch *b, const char *name) {
    int i = fl_schema_find(b->schema, name);
    return i < 0 ? NULL : &b->columns[i];
}

int fl_batch_set_row_ids(fl_batch *b, const uint64_t *ids, size_t n) {
    uint64_t *p = fl_malloc(n * sizeof *p);
    if (!p) return FL_ENOMEM;
    if (n) memcpy(p, ids, n * sizeof *p);
    fl_free(b->row_ids);
    b->row_ids = p;
    return FL_OK;
}
