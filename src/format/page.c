/*
 * page.c — the raw (uncompressed) encoding of a run of values, recursively for nested types.
 *
 *   node := u8 flags (bit 0: validity bitmap follows)
 *           [validity: ceil(n/8) bytes, bit i = value i present]
 *           body by type:
 *             bool            ceil(n/8) bytes of bits
 *             fixed width     n * width bytes, little-endian
 *             string, binary  n u32 lengths, then the bytes
 *             list            n u32 lengths, then node of sum(lengths) child values
 *             fixed_size_list node of n * size child values
 *             struct          one node of n values per child, in field order
 *
 * The decoder trusts nothing: every length is checked against the bytes left, and the result is
 * validated (fl_array_validate) before it is returned.
 */
#include "format.h"

#include <math.h>

/* Fixed-width values are copied between memory and pages as they are, which makes them little-endian on
 * the machines we build for. A big-endian port must byte-swap here. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "framelake's page encoding assumes a little-endian host"
#endif

static void put_bits(fl_buf *out, const uint8_t *bits, int64_t start, int64_t count) {
    size_t n = (size_t)(count + 7) / 8;
    if (!fl_buf_reserve(out, n)) return;
    uint8_t *dst = out->data + out->size;
    memset(dst, 0, n);
    if (start % 8 == 0) {
        memcpy(dst, bits + start / 8, n);
        if (count % 8) dst[n - 1] &= (uint8_t)((1u << (count % 8)) - 1);
    } else {
        for (int64_t i = 0; i < count; i++)
            if (fl_bit_get(bits, start + i)) dst[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    out->size += n;
}

static void encode_node(fl_buf *out, const fl_array *a, int64_t start, int64_t count) {
    bool any_null = false;
    if (a->validity && a->null_count)
        for (int64_t i = 0; i < count && !any_null; i++) any_null = !fl_bit_get(a->validity, start + i);
    fl_buf_put_u8(out, any_null ? 1 : 0);
    if (any_null) put_bits(out, a->validity, start, count);
    switch (a->type) {
    case FL_TYPE_BOOL: put_bits(out, a->values, start, count); break;
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
    case FL_TYPE_LIST:
        if (!fl_buf_reserve(out, (size_t)count * 4)) return;
        for (int64_t i = 0; i < count; i++) fl_buf_put_u32(out, (uint32_t)(a->offsets[start + i + 1] - a->offsets[start + i]));
        if (a->type == FL_TYPE_LIST)
            encode_node(out, &a->children[0], a->offsets[start], a->offsets[start + count] - a->offsets[start]);
        else
            fl_buf_append(out, (const uint8_t *)a->values + a->offsets[start], (size_t)(a->offsets[start + count] - a->offsets[start]));
        break;
    case FL_TYPE_FIXED_SIZE_LIST: encode_node(out, &a->children[0], start * a->fixed_size, count * a->fixed_size); break;
    case FL_TYPE_STRUCT:
        for (int32_t i = 0; i < a->n_children; i++) encode_node(out, &a->children[i], start, count);
        break;
    default: {
        int w = fl_type_width(a->type);
        fl_buf_append(out, (const uint8_t *)a->values + start * w, (size_t)(count * w));
    }
    }
}

void fl_page_encode(fl_buf *out, const fl_array *a, int64_t start, int64_t count) { encode_node(out, a, start, count); }

/* Copies a bitmap of n bits out of the page into a new buffer with room to grow. */
static bool take_bits(fl_reader *r, int64_t n, uint8_t **out, int64_t *cap, const char *field) {
    const uint8_t *p;
    size_t bytes = (size_t)(n + 7) / 8;
    if (!fl_get_bytes(r, &p, bytes, field)) return false;
    uint8_t *buf = fl_calloc(1, bytes ? bytes : 1);
    if (!buf) return fl_reader_fail(r, "out of memory");
    if (bytes) memcpy(buf, p, bytes);
    if (n % 8) buf[bytes - 1] &= (uint8_t)((1u << (n % 8)) - 1);
    *out = buf;
    *cap = (int64_t)(bytes ? bytes : 1);
    return true;
}

static bool decode_node(fl_reader *r, const fl_field *f, int64_t n, fl_array *a, int depth) {
    if (depth > FL_MAX_DEPTH) return fl_reader_fail(r, "nesting too deep");
    if (fl_array_init(a, f) != FL_OK) return fl_reader_fail(r, "out of memory");
    uint8_t flags;
    if (!fl_get_u8(r, &flags, "page node flags")) return false;
    if (flags > 1) {
        r->pos--;
        return fl_reader_fail(r, "invalid page node flags %u", flags);
    }
    /* Counts come from the input; bounding them keeps products like n * fixed_size far from overflow.
     * Each type's body then checks its bytes against what is left. */
    if (n < 0 || (uint64_t)n > ((uint64_t)1 << 40)) return fl_reader_fail(r, "value count %lld out of range", (long long)n);
    a->length = n;
    if (flags & 1) {
        if (!take_bits(r, n, &a->validity, &a->cap_validity, "validity bitmap")) return false;
        int64_t valid = 0;
        for (int64_t i = 0; i < n; i++) valid += fl_bit_get(a->validity, i);
        a->null_count = n - valid;
    }
    switch (f->type) {
    case FL_TYPE_BOOL:
        fl_free(a->values);
        a->values = NULL;
        return take_bits(r, n, (uint8_t **)&a->values, &a->cap_values, "bool values");
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
    case FL_TYPE_LIST: {
        const uint8_t *lens;
        if ((uint64_t)n > (r->size - r->pos) / 4) return fl_reader_fail(r, "%lld lengths cannot fit in the page", (long long)n);
        if (!fl_get_bytes(r, &lens, (size_t)n * 4, "lengths")) return false;
        fl_free(a->offsets);
        a->offsets = fl_malloc(((size_t)n + 1) * sizeof *a->offsets);
        if (!a->offsets) return fl_reader_fail(r, "out of memory");
        a->cap_offsets = n + 1;
        a->offsets[0] = 0;
        for (int64_t i = 0; i < n; i++) a->offsets[i + 1] = a->offsets[i] + fl_load_u32(lens + 4 * i);
        int64_t total = a->offsets[n];
        if (f->type == FL_TYPE_LIST) {
            fl_array_clear(&a->children[0]);
            return decode_node(r, &f->children[0], total, &a->children[0], depth + 1);
        }
        const uint8_t *bytes;
        if (!fl_get_bytes(r, &bytes, (size_t)total, "string bytes")) return false;
        fl_free(a->values);
        a->values = fl_malloc((size_t)total ? (size_t)total : 1);
        if (!a->values) return fl_reader_fail(r, "out of memory");
        if (total) memcpy(a->values, bytes, (size_t)total);
        a->cap_values = total ? total : 1;
        return true;
    }
    case FL_TYPE_FIXED_SIZE_LIST:
        fl_array_clear(&a->children[0]);
        return decode_node(r, &f->children[0], n * f->fixed_size, &a->children[0], depth + 1);
    case FL_TYPE_STRUCT:
        for (int32_t i = 0; i < f->n_children; i++) {
            fl_array_clear(&a->children[i]);
            if (!decode_node(r, &f->children[i], n, &a->children[i], depth + 1)) return false;
        }
        return true;
    default: {
        int w = fl_type_width(f->type);
        const uint8_t *bytes;
        if ((uint64_t)n > (r->size - r->pos) / (uint64_t)w) return fl_reader_fail(r, "%lld values cannot fit in the page", (long long)n);
        if (!fl_get_bytes(r, &bytes, (size_t)(n * w), "values")) return false;
        int64_t nbytes = n * w;
        fl_free(a->values);
        a->values = fl_malloc(nbytes > 0 ? (size_t)nbytes : 1);
        if (!a->values) return fl_reader_fail(r, "out of memory");
        if (nbytes > 0) memcpy(a->values, bytes, (size_t)nbytes);
        a->cap_values = nbytes > 0 ? nbytes : 1;
        return true;
    }
    }
}

int fl_page_decode(const uint8_t *data, size_t size, const fl_field *field, int64_t count, fl_array *out,
                   const char *what, uint64_t base, fl_error *err) {
    memset(out, 0, sizeof *out);
    fl_error local;
    fl_error *e = err ? err : &local;
    fl_error_clear(e);
    fl_reader r;
    fl_reader_init(&r, data, size, base, what, e);
    bool ok = decode_node(&r, field, count, out, 0);
    if (ok && r.pos != r.size) ok = fl_reader_fail(&r, "%zu unexpected bytes after the page's values", r.size - r.pos);
    if (!ok) {
        fl_array_clear(out);
        return e->code ? e->code : FL_ECORRUPT;
    }
    int rc = fl_array_validate(out, field, e);
    if (rc != FL_OK) {
        fl_error_prefix(e, FL_ECORRUPT, "%s: page at byte %llu", what, (unsigned long long)base);
        fl_array_clear(out);
    }
    return rc;
}

void fl_page_compute_stats(const fl_array *a, int64_t start, int64_t count, fl_page_stats *s) {
    memset(s, 0, sizeof *s);
    if (a->validity && a->null_count)
        for (int64_t i = 0; i < count; i++) s->null_count += !fl_bit_get(a->validity, start + i);
    if (!fl_type_is_scalar(a->type)) return;
    bool is_float = fl_type_is_float(a->type), is_unsigned = a->type >= FL_TYPE_UINT8 && a->type <= FL_TYPE_UINT64;
    double fmin = 0, fmax = 0;
    int64_t imin = 0, imax = 0;
    uint64_t umin = 0, umax = 0;
    for (int64_t i = start; i < start + count; i++) {
        if (fl_array_is_null(a, i)) continue;
        if (is_float) {
            double v = fl_array_get_float(a, i);
            if (isnan(v)) continue;
            if (!s->has_minmax || v < fmin) fmin = v;
            if (!s->has_minmax || v > fmax) fmax = v;
        } else if (is_unsigned) {
            uint64_t v = fl_array_get_uint(a, i);
            if (!s->has_minmax || v < umin) umin = v;
            if (!s->has_minmax || v > umax) umax = v;
        } else {
            int64_t v = fl_array_get_int(a, i);
            if (!s->has_minmax || v < imin) imin = v;
            if (!s->has_minmax || v > imax) imax = v;
        }
        s->has_minmax = true;
    }
    if (!s->has_minmax) return;
    if (is_float) {
        memcpy(&s->min, &fmin, 8);
        memcpy(&s->max, &fmax, 8);
    } else if (is_unsigned) {
        s->min = umin;
        s->max = umax;
    } else {
        s->min = (uint64_t)imin;
        s->max = (uint64_t)imax;
    }
}
