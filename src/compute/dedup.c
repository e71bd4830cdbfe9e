/*
 * dedup.c — near-duplicate UDFs over 64-bit difference hashes: is_duplicate and duplicate_of.
 *
 * A frame is a duplicate when another frame with a smaller row id lies within `threshold` bits (Hamming
 * distance, --param threshold=10) of its hash. Row ids only grow, so the rule keeps exactly the first frame
 * (smallest id) of a run of near-identical frames and flags the others, and it is stable under appends: a
 * new frame never changes an older frame's answer, so the column backfills incrementally.
 *
 * These UDFs read other rows of the table: init opens the table at the backfill's version, reads the hash
 * column (the one mapped to the UDF's input) with row ids and builds a multi-index Hamming index
 * (src/search/hamming.h) once per worker; call answers each row with one radius search.
 */
#include "udf.h"

#include "../batch/batch.h"
#include "../common/common.h"
#include "../search/hamming.h"

#include <stdlib.h>

#define DEFAULT_THRESHOLD 10

typedef struct dup_state {
    fl_hamming_index *ix;
    int threshold;
} dup_state;

static void dup_fini(void *state) {
    dup_state *s = state;
    if (!s) return;
    fl_hamming_free(s->ix);
    fl_free(s);
}

int fl_dedup_threshold(const char *const *keys, const char *const *values, size_t n, int *threshold, fl_error *err) {
    *threshold = DEFAULT_THRESHOLD;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], "threshold") != 0) continue;
        char *end;
        long v = strtol(values[i], &end, 10);
        if (!*values[i] || *end || v < 0 || v > 64)
            return fl_error_set(err, FL_EINVAL, "threshold must be an integer 0..64 (bits), not '%s'", values[i]);
        *threshold = (int)v;
    }
    return FL_OK;
}

int fl_dedup_load_hashes(fl_db *db, const char *table, uint64_t version, const char *column, uint64_t **hashes, uint64_t **ids, size_t *n,
                         fl_error *err) {
    *hashes = *ids = NULL;
    *n = 0;
    fl_table *t;
    fl_open_options at = {.version = version};
    FL_RETURN_NOT_OK(fl_table_open(db, table, &at, &t, err));
    const char *cols[] = {column};
    fl_scan_options so = {.columns = cols, .n_columns = 1, .with_row_ids = true, .batch_size = 65536};
    fl_scan *scan = NULL;
    int rc = fl_scan_open(t, &so, &scan, err);
    size_t cap = 0;
    fl_batch *b = NULL;
    while (rc == FL_OK && (rc = fl_scan_next(scan, &b, err)) == FL_OK && b) {
        const fl_array *a = &b->columns[0];
        if (a->type != FL_TYPE_FIXED_SIZE_LIST || a->fixed_size != 8 || a->children[0].type != FL_TYPE_UINT8)
            rc = fl_error_set(err, FL_ETYPE, "column '%s' is not a 64-bit hash (fixed_size_list<uint8, 8>)", column);
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) {
            if (fl_array_is_null(a, i)) continue;
            size_t had = cap;
            if (!fl_reserve((void **)hashes, &cap, *n + 1, sizeof **hashes, 4096)) {
                rc = fl_error_set(err, FL_ENOMEM, "out of memory reading hashes");
                break;
            }
            if (cap != had) {
                uint64_t *grown = fl_realloc(*ids, cap * sizeof **ids);
                if (!grown) {
                    rc = fl_error_set(err, FL_ENOMEM, "out of memory reading hashes");
                    break;
                }
                *ids = grown;
            }
            (*hashes)[*n] = fl_hash_from_bytes((const uint8_t *)a->children[0].values + 8 * i);
            (*ids)[(*n)++] = b->row_ids[i];
        }
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    fl_table_close(t);
    if (rc != FL_OK) {
        fl_free(*hashes);
        fl_free(*ids);
        *hashes = *ids = NULL;
        *n = 0;
    }
    return rc;
}

static int dup_init(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err) {
    if (!ctx || !ctx->db || !ctx->table || ctx->n_input_columns != 1)
        return fl_error_set(err, FL_EINVAL, "udf %s reads other rows of its table: run it through a backfill", def->name);
    dup_state *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = fl_dedup_threshold(ctx->param_keys, ctx->param_values, ctx->n_params, &s->threshold, err);
    uint64_t *hashes = NULL, *ids = NULL;
    size_t n = 0;
    if (rc == FL_OK) rc = fl_dedup_load_hashes(ctx->db, ctx->table, ctx->version, ctx->input_columns[0], &hashes, &ids, &n, err);
    if (rc == FL_OK && fl_hamming_build(hashes, ids, n, &s->ix) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory indexing hashes");
    fl_free(hashes);
    fl_free(ids);
    if (rc != FL_OK) {
        dup_fini(s);
        return rc;
    }
    *state = s;
    return FL_OK;
}

typedef struct earlier {
    uint64_t id;                /* the row asking */
    uint64_t best;              /* smallest smaller id found so far, or UINT64_MAX */
    bool first_only;            /* stop at the first one (is_duplicate) */
} earlier;

static bool found_earlier(void *ctx, uint64_t id, uint64_t hash, int distance) {
    (void)hash, (void)distance;
    earlier *e = ctx;
    if (id < e->id && id < e->best) e->best = id;
    return !(e->first_only && e->best != UINT64_MAX);
}

static int dup_call(void *state, const fl_batch *in, fl_array *out, bool want_of, fl_error *err) {
    dup_state *s = state;
    const fl_array *h = &in->columns[0];
    if (!in->row_ids) return fl_error_set(err, FL_EINVAL, "needs row ids");
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (fl_array_is_null(h, i)) {
            FL_RETURN_NOT_OK(fl_array_append_null(out));
            continue;
        }
        earlier e = {.id = in->row_ids[i], .best = UINT64_MAX, .first_only = !want_of};
        fl_hamming_search(s->ix, fl_hash_from_bytes((const uint8_t *)h->children[0].values + 8 * i), s->threshold, found_earlier, &e);
        if (want_of) FL_RETURN_NOT_OK(e.best == UINT64_MAX ? fl_array_append_null(out) : fl_array_append_int(out, (int64_t)e.best));
        else FL_RETURN_NOT_OK(fl_array_append_bool(out, e.best != UINT64_MAX));
    }
    return FL_OK;
}

static int call_is_duplicate(void *state, const fl_batch *in, fl_array *out, fl_error *err) { return dup_call(state, in, out, false, err); }
static int call_duplicate_of(void *state, const fl_batch *in, fl_array *out, fl_error *err) { return dup_call(state, in, out, true, err); }

const fl_udf_def fl_udf_is_duplicate = {
    .name = "is_duplicate",
    .version = 1,
    .inputs = "dhash fixed_size_list<uint8, 8>",
    .output_type = "bool",
    .description = "another frame with a smaller row id has a dhash within --param threshold (10) bits: keeps the first of near-identical frames",
    .init = dup_init,
    .call = call_is_duplicate,
    .fini = dup_fini,
};

const fl_udf_def fl_udf_duplicate_of = {
    .name = "duplicate_of",
    .version = 1,
    .inputs = "dhash fixed_size_list<uint8, 8>",
    .output_type = "int64",
    .description = "the smallest row id whose dhash is within --param threshold (10) bits, when smaller than the row's own; else NULL",
    .init = dup_init,
    .call = call_duplicate_of,
    .fini = dup_fini,
};

/* ---- whole-table grouping and injected copies (framelake dedup) ---- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_pair(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

typedef struct smallest {
    uint64_t id, best;
} smallest;

static bool found_smallest(void *ctx, uint64_t id, uint64_t hash, int distance) {
    (void)hash, (void)distance;
    smallest *s = ctx;
    if (id < s->id && id < s->best) s->best = id;
    return true;
}

int fl_dedup_find(fl_db *db, const char *table, const char *column, int threshold, fl_dedup_result *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (threshold < 0 || threshold > 64) return fl_error_set(err, FL_EINVAL, "dedup: threshold must be 0..64 bits, not %d", threshold);
    uint64_t *hashes, *ids;
    size_t n;
    FL_RETURN_NOT_OK(fl_dedup_load_hashes(db, table, 0, column ? column : "dhash", &hashes, &ids, &n, err));
    /* in id order, so that a frame's earlier neighbours already know their group */
    uint64_t *pairs = fl_malloc((n ? n : 1) * 2 * sizeof *pairs);
    uint64_t *root = fl_malloc((n ? n : 1) * sizeof *root);
    fl_hamming_index *ix = NULL;
    int rc = pairs && root ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) {
        for (size_t i = 0; i < n; i++) pairs[2 * i] = ids[i], pairs[2 * i + 1] = hashes[i];
        qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
        for (size_t i = 0; i < n; i++) ids[i] = pairs[2 * i], hashes[i] = pairs[2 * i + 1];
        if (fl_hamming_build(hashes, ids, n, &ix) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory indexing hashes");
    }
    out->hashed = (int64_t)n;
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        smallest s = {ids[i], UINT64_MAX};
        fl_hamming_search(ix, hashes[i], threshold, found_smallest, &s);
        root[i] = ids[i];
        if (s.best == UINT64_MAX) continue;
        /* the neighbour's group (ids are sorted: binary search its index) */
        size_t lo = 0, hi = i;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ids[mid] < s.best) lo = mid + 1;
            else hi = mid;
        }
        root[i] = root[lo];
        size_t had = out->cap;
        uint64_t *grown = NULL;
        if (!fl_reserve((void **)&out->duplicate_ids, &out->cap, (size_t)out->duplicates + 1, sizeof *out->duplicate_ids, 256) ||
            (out->cap != had && !(grown = fl_realloc(out->kept_ids, out->cap * sizeof *out->kept_ids)))) {
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            break;
        }
        if (grown) out->kept_ids = grown;
        out->duplicate_ids[out->duplicates] = ids[i];
        out->kept_ids[out->duplicates++] = root[i];
    }
    /* groups: distinct kept ids among the duplicates */
    if (rc == FL_OK && out->duplicates) {
        uint64_t *k = fl_malloc((size_t)out->duplicates * sizeof *k);
        if (!k) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int64_t i = 0; k && i < out->duplicates; i++) k[i] = out->kept_ids[i];
        if (k) {
            qsort(k, (size_t)out->duplicates, sizeof *k, cmp_u64);
            for (int64_t i = 0; i < out->duplicates; i++) out->groups += i == 0 || k[i] != k[i - 1];
        }
        fl_free(k);
    }
    fl_hamming_free(ix);
    fl_free(pairs);
    fl_free(root);
    fl_free(hashes);
    fl_free(ids);
    if (rc != FL_OK) fl_dedup_result_free(out);
    return rc;
}

void fl_dedup_result_free(fl_dedup_result *r) {
    fl_free(r->duplicate_ids);
    fl_free(r->kept_ids);
    memset(r, 0, sizeof *r);
}

int fl_dedup_inject(fl_db *db, const char *table, int64_t n, uint64_t seed, int64_t *added, fl_error *err) {
    if (added) *added = 0;
    if (n <= 0 || n > 10000000) return fl_error_set(err, FL_EINVAL, "dedup inject: --n must be 1..10000000");
    fl_table *t;
    FL_RETURN_NOT_OK(fl_table_open(db, table, NULL, &t, err));
    const fl_schema *s = fl_table_schema(t);
    int64_t live = fl_table_count_rows(t);
    int rc = live > 0 ? FL_OK : fl_error_set(err, FL_EINVAL, "dedup inject: table '%s' has no rows to copy", table);
    /* copy the stored columns; computed ones (UDF columns) start NULL so backfill computes the copies */
    const char **cols = fl_calloc((size_t)s->n_fields + 1, sizeof *cols);
    size_t n_cols = 0;
    for (int32_t i = 0; cols && i < s->n_fields; i++) {
        char *key = fl_sprintf("udf.%s.name", s->fields[i].name);
        bool computed = key && fl_schema_get_metadata(s, key);
        fl_free(key);
        if (!computed) cols[n_cols++] = s->fields[i].name;
    }
    uint64_t *pos = fl_malloc((size_t)n * sizeof *pos);
    if (rc == FL_OK && (!cols || !pos)) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    for (int64_t i = 0; rc == FL_OK && i < n; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        pos[i] = state % (uint64_t)live;
    }
    fl_batch *b = NULL;
    if (rc == FL_OK) rc = fl_table_take_positions(t, pos, (size_t)n, cols, n_cols, &b, err);
    /* a new image_id for each copy: "<original>-copy-<version>-<k>" */
    fl_array *id = rc == FL_OK ? fl_batch_column(b, "image_id") : NULL;
    if (id && id->type == FL_TYPE_STRING) {
        fl_array fresh;
        rc = fl_array_init(&fresh, &b->schema->fields[fl_schema_find(b->schema, "image_id")]);
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) {
            size_t len;
            const uint8_t *v = fl_array_get_bytes(id, i, &len);
            char *text = fl_sprintf("%.*s-copy-%llu-%lld", (int)len, (const char *)v, (unsigned long long)fl_table_version(t), (long long)i);
            rc = text ? fl_array_append_string(&fresh, text) : FL_ENOMEM;
            fl_free(text);
        }
        if (rc == FL_OK) {
            fl_array_clear(id);
            *id = fresh;
        } else {
            fl_array_clear(&fresh);
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        }
    }
    if (b) {
        fl_free(b->row_ids);
        b->row_ids = NULL;
    }
    if (rc == FL_OK) rc = fl_table_append(t, b, NULL, err);
    if (rc == FL_OK && added) *added = b->num_rows;
    fl_batch_free(b);
    fl_free(pos);
    fl_free(cols);
    fl_table_close(t);
    return rc;
}
