/*
 * batch.h — schemas, arrays and batches (the public types of framelake.h) plus their binary encoding.
 *
 * Invariants:
 *  1. An fl_array built by the append functions always satisfies: offsets[0] == 0, offsets non-decreasing,
 *     offsets[length] == byte or child length; validity is either NULL (no nulls) or covers length bits.
 *  2. fl_field_decode accepts only trees it could have written: known type ids, child counts that match
 *     the type, nesting at most FL_MAX_DEPTH.
 */
#ifndef FL_BATCH_H
#define FL_BATCH_H

#include "../common/common.h"

#define FL_MAX_DEPTH 16

/* Byte width of a fixed-width type (bool: 0, variable/nested: 0). */
int fl_type_width(fl_type_id type);
bool fl_type_is_integer(fl_type_id type);
bool fl_type_is_signed(fl_type_id type);
bool fl_type_is_float(fl_type_id type);
/* true for every type whose values have min/max statistics (numbers, bool, timestamp). */
bool fl_type_is_scalar(fl_type_id type);
const char *fl_type_name(fl_type_id type);

/* Deep copies / frees of single fields (the field struct itself is not freed). */
int fl_field_copy_into(fl_field *dst, const fl_field *src);
void fl_field_clear(fl_field *field);
/* Same type tree (names of struct children included; ids, nullability and metadata ignored). */
bool fl_field_same_type(const fl_field *a, const fl_field *b);
/* Every name in the tree is non-empty, free of control characters, and struct members are unique. */
bool fl_field_names_valid(const fl_field *field);
/* New schema holding copies of the given fields. */
fl_schema *fl_schema_new(void);
int fl_schema_append_field(fl_schema *schema, const fl_field *field);

/* Binary encoding used by manifests and data files (see docs/FORMAT.md, "Field"). */
void fl_field_encode(fl_buf *b, const fl_field *field);
bool fl_field_decode(fl_reader *r, fl_field *out, int depth);
void fl_schema_encode(fl_buf *b, const fl_schema *schema);
bool fl_schema_decode(fl_reader *r, fl_schema **out);
void fl_kvs_encode(fl_buf *b, const fl_kv *kvs, int32_t n);
bool fl_kvs_decode(fl_reader *r, fl_kv **kvs, int32_t *n);
void fl_kvs_free(fl_kv *kvs, int32_t n);

/* Arrays. */
int fl_array_init(fl_array *array, const fl_field *field);
void fl_array_clear(fl_array *array);
/* Resets to length 0 keeping the buffers' memory. */
void fl_array_reset(fl_array *array);
/* Appends values [start, start+count) of src (same type) to dst. */
int fl_array_append_range(fl_array *dst, const fl_array *src, int64_t start, int64_t count);
/* Moves all values from src to the end of dst (same type). */
int fl_array_append_array(fl_array *dst, const fl_array *src);
/* STRING/BINARY: makes room for `bytes` more value bytes, so that the following appends do not move the
 * buffer. */
int fl_array_reserve_values(fl_array *array, int64_t bytes);
/* STRING/BINARY: appends a valid value of `size` bytes and returns where to write them in *dst. */
int fl_array_append_uninit(fl_array *array, size_t size, uint8_t **dst);
/* Bytes that values [start, start+count) occupy in memory (for page sizing). */
uint64_t fl_array_range_bytes(const fl_array *array, int64_t start, int64_t count);
/* Size in bytes of the values (for page sizing). */
uint64_t fl_array_byte_size(const fl_array *array);
/* Checks structural invariants of an array against a field (lengths, offsets); used on decoded pages. */
int fl_array_validate(const fl_array *array, const fl_field *field, fl_error *err);
/* Null bitmap helpers. */
static inline bool fl_bit_get(const uint8_t *bits, int64_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }
static inline void fl_bit_set(uint8_t *bits, int64_t i, bool v) {
    if (v) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else bits[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

/* New batch with an empty array per field of `schema` (copied). */
fl_batch *fl_batch_new_empty(const fl_schema *schema);

#endif /* FL_BATCH_H */
