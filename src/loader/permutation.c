/*
 * permutation.c — permutations (framelake.h, docs/PYTHON.md): an ordered list of row ids of one version of
 * a table or view, each in a named split, built from a filter, a split rule and a seeded shuffle, and kept
 * as a table of its own (row_id, split_id) so that a split is versioned and reproducible.
 *
 * Invariants:
 *  1. Built from the same version, spec and seed, a permutation is the same list, bit for bit: the only
 *     randomness is splitmix64 seeded from the spec.
 *  2. A hash split depends only on the hashed value (XXH3 of its bytes): a row keeps its split however the
 *     table grows.
 *  3. Every row id appears at most once; row ids are live rows of the version the permutation names.
 */
#include "../query/qscan.h"
#include "../query/json.h"
#include "../table/table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SOURCE "permutation.source"
#define KEY_SOURCE_VERSION "permutation.source_version"
#define KEY_SPLITS "permutation.splits"
#define KEY_SPEC "permutation.spec"
#define KEY_COLUMNS "permutation.columns"
#define PERM_SCHEMA "row_id uint64 not null, split_id int32 not null"


void fl_permutation_free(fl_permutation *p) {
    if (!p) return;
    fl_free(p->row_ids);
    fl_free(p->split_ids);
    fl_strings_free(p->split_names, p->n_splits);
    fl_strings_free(p->columns, p->n_columns);
    fl_free(p->source);
    fl_free(p->spec);
    fl_free(p);
}

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/* The split names: given, or split0, split1, ... (one "all" without a split rule). */
static int name_splits(fl_permutation *p, const fl_permutation_spec *s, size_t n, fl_error *err) {
    if (!(p->split_names = fl_calloc(n ? n : 1, sizeof *p->split_names))) return oom(err);
    p->n_splits = n;
    for (size_t i = 0; i < n; i++) {
        const char *given = s->split_names && i < s->n_split_names ? s->split_names[i] : NULL;
        if (given && (!*given || strchr(given, ',')))
            return fl_error_set(err, FL_EINVAL, "permutation: split name '%s' must be non-empty and without ','", given);
        for (size_t k = 0; given && k < i; k++)
            if (!strcmp(p->split_names[k], given)) return fl_error_set(err, FL_EINVAL, "permutation: split name '%s' is used twice", given);
        p->split_names[i] = given ? fl_strdup(given) : s->split == FL_SPLIT_NONE ? fl_strdup("all") : fl_sprintf("split%zu", i);
        if (!p->split_names[i]) return oom(err);
    }
    return FL_OK;
}

/* Cut points of n rows into the spec's splits: split i holds positions [cut[i], cut[i + 1]). Rows past the
 * last cut belong to no split. */
static int cut_points(const fl_permutation_spec *s, size_t n, size_t *cut, fl_error *err) {
    cut[0] = 0;
    if (s->counts) {
        uint64_t total = 0;
        for (size_t i = 0; i < s->n_parts; i++) {
            if (s->counts[i] < 0) return fl_error_set(err, FL_EINVAL, "permutation: split count %lld is negative", (long long)s->counts[i]);
            total += (uint64_t)s->counts[i];
            if (total > n)
                return fl_error_set(err, FL_EINVAL, "permutation: the split counts add up to more than the %zu rows selected", n);
            cut[i + 1] = (size_t)total;
        }
        return FL_OK;
    }
    double sum = 0;
    for (size_t i = 0; i < s->n_parts; i++) {
        if (!(s->ratios[i] >= 0) || s->ratios[i] > 1) return fl_error_set(err, FL_EINVAL, "permutation: split ratio %g is not in [0, 1]", s->ratios[i]);
        sum += s->ratios[i];
        if (sum > 1 + 1e-9) return fl_error_set(err, FL_EINVAL, "permutation: the split ratios add up to %g, more than 1", sum);
        size_t c = (size_t)llround((sum > 1 ? 1 : sum) * (double)n);
        cut[i + 1] = c > n ? n : c;
    }
    return FL_OK;
}

/* Which split a value's hash falls in, or -1: its 64 bits read as a fraction of 2^64 against the ratios'
 * cumulative sums (invariant 2). */
static int32_t hash_split(uint64_t h, const fl_permutation_spec *s) {
    double x = (double)(h >> 11) * 0x1.0p-53, sum = 0;
    for (size_t i = 0; i < s->n_parts; i++) {
        sum += s->ratios[i];
        if (x < sum) return (int32_t)i;
    }
    return -1;
}

/* The hash of value i of a column: XXH3 of its bytes (integers as 8 little-endian bytes, so int32 and int64
 * columns agree); NULL hashes like the empty string. */
static uint64_t value_hash(const fl_array *a, int64_t i) {
    if (fl_array_is_null(a, i)) return fl_hash64("", 0);
    if (a->type == FL_TYPE_STRING || a->type == FL_TYPE_BINARY) {
        size_t len;
        const uint8_t *b = fl_array_get_bytes(a, i, &len);
        return fl_hash64(b, len);
    }
    uint8_t v[8];
    if (fl_type_is_integer(a->type) || a->type == FL_TYPE_TIMESTAMP_MS) {
        uint64_t x = fl_type_is_signed(a->type) || a->type == FL_TYPE_TIMESTAMP_MS ? (uint64_t)fl_array_get_int(a, i) : fl_array_get_uint(a, i);
        fl_store_u64(v, x);
        return fl_hash64(v, 8);
    }
    if (a->type == FL_TYPE_BOOL) return fl_hash64(fl_array_get_bool(a, i) ? "1" : "0", 1);
    double d = fl_array_get_float(a, i);
    memcpy(v, &d, 8);
    return fl_hash64(v, 8);
}

/* Per-row split ids from a column (hash) or an expression (calculated), for the rows `ids` (ascending).
 * Reads the rows with a filtered scan: the same rows, in the same order. */
static int splits_from_rows(fl_table *t, const fl_expr *filter, const fl_permutation_spec *s, const fl_permutation *p, const uint64_t *ids, size_t n,
                            int32_t *split, fl_error *err) {
    fl_expr *value = NULL;
    int rc = FL_OK;
    const char *column = s->hash_column;
    if (s->split == FL_SPLIT_CALCULATED) {
        rc = fl_expr_compile_value(s->split_expr ? s->split_expr : "", t->m->schema, &value, err);
        if (rc != FL_OK) return fl_error_prefix(err, rc, "permutation: split expression");
        if (value->root->type != FL_EXPR_T_INT && value->root->type != FL_EXPR_T_STRING && value->root->type != FL_EXPR_T_NULL) {
            rc = fl_error_set(err, FL_EINVAL, "permutation: the split expression must give a split number or name, not %s",
                              fl_expr_type_name(value->root->type));
            fl_expr_free(value);
            return rc;
        }
    } else if (!column || fl_schema_find(t->m->schema, column) < 0) {
        return fl_error_set(err, FL_EINVAL, "permutation: hash split column '%s' not found", column ? column : "");
    }
    const char *const *cols = value ? value->columns : &column;
    size_t n_cols = value ? (size_t)value->n_columns : 1;
    static const char *const none[1] = {NULL};
    fl_qscan *q = NULL;
    rc = fl_qscan_open(t, filter, n_cols ? cols : none, n_cols, true, 0, &q, err);
    size_t at = 0;
    while (rc == FL_OK) {
        fl_batch *b;
        if ((rc = fl_qscan_next(q, &b, err)) != FL_OK || !b) break;
        fl_array v = {0};
        if (value) rc = fl_expr_eval(value->root, b, &v, err);
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++, at++) {
            if (at >= n || b->row_ids[i] != ids[at]) {
                rc = fl_error_set(err, FL_ECONFLICT, "permutation: the rows changed while they were read");
                break;
            }
            if (!value) {
                split[at] = hash_split(value_hash(&b->columns[0], i), s);
                continue;
            }
            int64_t k = v.length == 1 ? 0 : i;
            split[at] = -1;
            if (fl_array_is_null(&v, k)) continue;
            if (v.type == FL_TYPE_STRING) {
                size_t len;
                const uint8_t *name = fl_array_get_bytes(&v, k, &len);
                for (size_t j = 0; j < p->n_splits; j++)
                    if (strlen(p->split_names[j]) == len && !memcmp(p->split_names[j], name, len)) split[at] = (int32_t)j;
            } else {
                int64_t x = ((const int64_t *)v.values)[k];
                if (x >= 0 && (uint64_t)x < p->n_splits) split[at] = (int32_t)x;
            }
        }
        fl_array_clear(&v);
        fl_batch_free(b);
    }
    fl_qscan_close(q);
    fl_expr_free(value);
    if (rc == FL_OK && at != n) rc = fl_error_set(err, FL_ECONFLICT, "permutation: the rows changed while they were read");
    return rc;
}

int fl_permutation_build(fl_table *t, const fl_permutation_spec *spec, fl_permutation **out, fl_error *err) {
    *out = NULL;
    fl_permutation_spec none = {0};
    const fl_permutation_spec *s = spec ? spec : &none;
    if (s->split != FL_SPLIT_NONE && s->split != FL_SPLIT_CALCULATED && !s->n_parts)
        return fl_error_set(err, FL_EINVAL, "permutation: a split needs ratios or counts");
    if ((s->split == FL_SPLIT_HASH || s->split == FL_SPLIT_CALCULATED) && s->counts)
        return fl_error_set(err, FL_EINVAL, "permutation: %s splits take ratios, not counts", s->split == FL_SPLIT_HASH ? "hash" : "calculated");
    if (s->split != FL_SPLIT_NONE && s->split != FL_SPLIT_CALCULATED && !s->counts && !s->ratios)
        return fl_error_set(err, FL_EINVAL, "permutation: a split needs ratios or counts");
    for (size_t i = 0; i < s->n_columns; i++)
        if (fl_schema_find(t->m->schema, s->columns[i]) < 0)
            return fl_error_set(err, FL_ENOTFOUND, "permutation: column '%s' not found in '%s'", s->columns[i], t->name);
    fl_permutation *p = fl_calloc(1, sizeof *p);
    if (!p) return oom(err);
    p->source = fl_strdup(t->name);
    p->source_version = t->m->version;
    int rc = p->source ? FL_OK : oom(err);
    size_t n_splits = s->split == FL_SPLIT_NONE ? 1 : s->split == FL_SPLIT_CALCULATED ? s->n_split_names : s->n_parts;
    if (rc == FL_OK && s->split == FL_SPLIT_CALCULATED && !n_splits)
        rc = fl_error_set(err, FL_EINVAL, "permutation: a calculated split needs its split names");
    if (rc == FL_OK && n_splits > 1024) rc = fl_error_set(err, FL_EINVAL, "permutation: at most 1024 splits");
    if (rc == FL_OK) rc = name_splits(p, s, n_splits, err);
    if (rc == FL_OK && s->n_columns) {
        if (!(p->columns = fl_calloc(s->n_columns, sizeof *p->columns))) rc = oom(err);
        for (size_t i = 0; rc == FL_OK && i < s->n_columns; i++, p->n_columns++)
            if (!(p->columns[i] = fl_strdup(s->columns[i]))) rc = oom(err);
    }
    /* 1. The rows: every live row the filter keeps, ascending by id. */
    fl_expr *filter = NULL;
    if (rc == FL_OK && !fl_blank(s->filter)) {
        rc = fl_expr_compile_filter(s->filter, t->m->schema, &filter, err);
        if (rc != FL_OK) fl_error_prefix(err, rc, "permutation: filter");
    }
    uint64_t *ids = NULL;
    size_t n = 0;
    if (rc == FL_OK) rc = fl_qscan_row_ids(t, filter, &ids, &n, err);
    int32_t *split = rc == FL_OK ? fl_malloc((n ? n : 1) * sizeof *split) : NULL;
    size_t *order = rc == FL_OK ? fl_malloc((n ? n : 1) * sizeof *order) : NULL;
    if (rc == FL_OK && (!split || !order)) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        split[i] = 0;
        order[i] = i;
    }
    /* 2. The split of every row. */
    uint64_t rng = s->seed ^ 0x6A09E667F3BCC909ull;
    if (rc == FL_OK && (s->split == FL_SPLIT_RANDOM || s->split == FL_SPLIT_SEQUENTIAL)) {
        size_t *cut = fl_malloc((s->n_parts + 1) * sizeof *cut);
        size_t *pick = fl_malloc((n ? n : 1) * sizeof *pick);
        if (!cut || !pick) rc = oom(err);
        if (rc == FL_OK) rc = cut_points(s, n, cut, err);
        for (size_t i = 0; rc == FL_OK && i < n; i++) pick[i] = i;
        if (rc == FL_OK && s->split == FL_SPLIT_RANDOM)
            for (size_t i = n; i > 1; i--) {
                size_t j = (size_t)fl_random_below(&rng, i);
                size_t tmp = pick[i - 1];
                pick[i - 1] = pick[j];
                pick[j] = tmp;
            }
        for (size_t k = 0; rc == FL_OK && k < s->n_parts; k++)
            for (size_t i = cut[k]; i < cut[k + 1]; i++) split[pick[i]] = (int32_t)k;
        for (size_t i = rc == FL_OK ? cut[s->n_parts] : n; i < n; i++) split[pick[i]] = -1;
        fl_free(cut);
        fl_free(pick);
    } else if (rc == FL_OK && (s->split == FL_SPLIT_HASH || s->split == FL_SPLIT_CALCULATED)) {
        if (s->split == FL_SPLIT_HASH) {
            double sum = 0;
            for (size_t i = 0; rc == FL_OK && i < s->n_parts; i++) {
                if (!(s->ratios[i] >= 0) || s->ratios[i] > 1) rc = fl_error_set(err, FL_EINVAL, "permutation: split ratio %g is not in [0, 1]", s->ratios[i]);
                sum += s->ratios[i];
            }
            if (rc == FL_OK && sum > 1 + 1e-9) rc = fl_error_set(err, FL_EINVAL, "permutation: the split ratios add up to %g, more than 1", sum);
        }
        if (rc == FL_OK) rc = splits_from_rows(t, filter, s, p, ids, n, split, err);
    }
    /* 3. The order: the rows in clumps of clump_size, the clumps shuffled (or kept in id order). */
    if (rc == FL_OK && s->shuffle && n > 1) {
        size_t clump = s->clump_size > 1 ? (size_t)s->clump_size : 1, n_clumps = (n + clump - 1) / clump;
        size_t *clumps = fl_malloc(n_clumps * sizeof *clumps);
        if (!clumps) rc = oom(err);
        uint64_t srng = s->shuffle_seed ^ 0xBB67AE8584CAA73Bull;
        for (size_t i = 0; rc == FL_OK && i < n_clumps; i++) clumps[i] = i;
        for (size_t i = n_clumps; rc == FL_OK && i > 1; i--) {
            size_t j = (size_t)fl_random_below(&srng, i);
            size_t tmp = clumps[i - 1];
            clumps[i - 1] = clumps[j];
            clumps[j] = tmp;
        }
        size_t k = 0;
        for (size_t c = 0; rc == FL_OK && c < n_clumps; c++)
            for (size_t i = clumps[c] * clump; i < n && i < (clumps[c] + 1) * clump; i++) order[k++] = i;
        fl_free(clumps);
    }
    /* 4. The list, rows of no split left out. */
    if (rc == FL_OK) {
        p->row_ids = fl_malloc((n ? n : 1) * sizeof *p->row_ids);
        p->split_ids = fl_malloc((n ? n : 1) * sizeof *p->split_ids);
        if (!p->row_ids || !p->split_ids) rc = oom(err);
        for (size_t i = 0; rc == FL_OK && i < n; i++) {
            size_t r = order[i];
            if (split[r] < 0) continue;
            p->row_ids[p->n] = ids[r];
            p->split_ids[p->n++] = split[r];
        }
    }
    fl_free(ids);
    fl_free(split);
    fl_free(order);
    fl_expr_free(filter);
    if (rc != FL_OK) {
        fl_permutation_free(p);
        return rc;
    }
    *out = p;
    return FL_OK;
}

int fl_permutation_split_rows(const fl_permutation *p, const char *split, uint64_t **ids, size_t *n, fl_error *err) {
    *ids = NULL;
    *n = 0;
    int32_t want = -1;
    for (size_t i = 0; i < p->n_splits; i++)
        if (!split || !strcmp(p->split_names[i], split)) want = split ? (int32_t)i : -2;
    if (want == -1) {
        fl_buf names;
        fl_buf_init(&names);
        for (size_t i = 0; i < p->n_splits; i++) {
            if (i) fl_buf_append(&names, ", ", 2);
            fl_buf_append(&names, p->split_names[i], strlen(p->split_names[i]));
        }
        fl_buf_append(&names, "", 1);
        int rc = fl_error_set(err, FL_ENOTFOUND, "permutation: no split '%s' (splits: %s)", split, names.failed ? "?" : (const char *)names.data);
        fl_buf_free(&names);
        return rc;
    }
    uint64_t *out = fl_malloc((p->n ? p->n : 1) * sizeof *out);
    if (!out) return oom(err);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (want == -2 || p->split_ids[i] == want) out[k++] = p->row_ids[i];
    *ids = out;
    *n = k;
    return FL_OK;
}

/* ---- persistence: a table of (row_id, split_id) in permutation order ---- */

/* "a,b" of the split names; the column list as a JSON array. */
static char *join_names(char *const *names, size_t n) {
    fl_buf b;
    fl_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i) fl_buf_append(&b, ",", 1);
        fl_buf_append(&b, names[i], strlen(names[i]));
    }
    fl_buf_append(&b, "", 1);
    if (b.failed) {
        fl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static char *json_names(char *const *names, size_t n) {
    fl_buf b;
    fl_buf_init(&b);
    fl_buf_append(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) fl_buf_append(&b, ",", 1);
        fl_json_string(&b, names[i]);
    }
    fl_buf_append(&b, "]", 2);
    if (b.failed) {
        fl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

int fl_permutation_save(fl_db *db, const char *name, const fl_permutation *p, fl_error *err) {
    fl_schema *s;
    FL_RETURN_NOT_OK(fl_schema_parse(PERM_SCHEMA, &s, err));
    char version[24];
    snprintf(version, sizeof version, "%llu", (unsigned long long)p->source_version);
    char *splits = join_names(p->split_names, p->n_splits), *columns = json_names(p->columns, p->n_columns);
    int rc = splits && columns ? FL_OK : oom(err);
    if (rc == FL_OK && (fl_schema_set_metadata(s, KEY_SOURCE, p->source) != FL_OK || fl_schema_set_metadata(s, KEY_SOURCE_VERSION, version) != FL_OK ||
                        fl_schema_set_metadata(s, KEY_SPLITS, splits) != FL_OK || fl_schema_set_metadata(s, KEY_COLUMNS, columns) != FL_OK ||
                        (p->spec && fl_schema_set_metadata(s, KEY_SPEC, p->spec) != FL_OK)))
        rc = oom(err);
    fl_free(splits);
    fl_free(columns);
    fl_batch *b = rc == FL_OK ? fl_batch_new(s) : NULL;
    if (rc == FL_OK && !b) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < p->n; i++)
        if (fl_array_append_uint(&b->columns[0], p->row_ids[i]) != FL_OK || fl_array_append_int(&b->columns[1], p->split_ids[i]) != FL_OK) rc = oom(err);
    if (rc == FL_OK) rc = fl_batch_finish(b, err);
    /* The table is created, then filled: a crash in between leaves an empty permutation that names its
     * source, which `load` reports as incomplete. */
    fl_table *t = NULL;
    if (rc == FL_OK) rc = fl_table_create(db, name, s, &t, err);
    if (rc == FL_OK && p->n) rc = fl_table_append(t, b, NULL, err);
    const char *done_key = "permutation.complete", *done_value = "true";
    if (rc == FL_OK) rc = fl_table_set_metadata(t, &done_key, &done_value, 1, err);
    fl_table_close(t);
    fl_batch_free(b);
    fl_schema_free(s);
    return rc;
}

int fl_permutation_load(fl_db *db, const char *name, const fl_open_options *opts, fl_permutation **out, fl_error *err) {
    *out = NULL;
    fl_table *t;
    FL_RETURN_NOT_OK(fl_table_open(db, name, opts, &t, err));
    const fl_schema *s = t->m->schema;
    const char *source = fl_schema_get_metadata(s, KEY_SOURCE), *version = fl_schema_get_metadata(s, KEY_SOURCE_VERSION),
               *splits = fl_schema_get_metadata(s, KEY_SPLITS), *columns = fl_schema_get_metadata(s, KEY_COLUMNS),
               *spec = fl_schema_get_metadata(s, KEY_SPEC), *complete = fl_schema_get_metadata(s, "permutation.complete");
    int rc = FL_OK;
    if (!source || !version || !splits || !columns || fl_schema_find(s, "row_id") != 0 || fl_schema_find(s, "split_id") != 1)
        rc = fl_error_set(err, FL_EINVAL, "table '%s' is not a permutation", name);
    else if (!complete)
        rc = fl_error_set(err, FL_EINVAL, "permutation '%s' was not completely written (its creation was interrupted); drop it and create it again",
                          name);
    fl_permutation *p = rc == FL_OK ? fl_calloc(1, sizeof *p) : NULL;
    if (rc == FL_OK && !p) rc = oom(err);
    if (rc == FL_OK) {
        char *end;
        p->source_version = strtoull(version, &end, 10);
        if (*end || !p->source_version) rc = fl_error_set(err, FL_ECORRUPT, "permutation '%s': bad %s '%s'", name, KEY_SOURCE_VERSION, version);
        if (rc == FL_OK && (!(p->source = fl_strdup(source)) || (spec && !(p->spec = fl_strdup(spec))))) rc = oom(err);
    }
    /* Split names: comma-separated, none empty. */
    for (const char *c = splits; rc == FL_OK && c;) {
        const char *comma = strchr(c, ',');
        size_t len = comma ? (size_t)(comma - c) : strlen(c);
        char **grown = fl_realloc(p->split_names, (p->n_splits + 1) * sizeof *grown);
        if (!grown) {
            rc = oom(err);
            break;
        }
        p->split_names = grown;
        if (!len || !(p->split_names[p->n_splits] = fl_sprintf("%.*s", (int)len, c))) {
            rc = len ? oom(err) : fl_error_set(err, FL_ECORRUPT, "permutation '%s': bad %s", name, KEY_SPLITS);
            break;
        }
        p->n_splits++;
        c = comma ? comma + 1 : NULL;
    }
    /* Columns: a JSON array of strings. */
    if (rc == FL_OK) {
        fl_arena arena;
        fl_arena_init(&arena);
        fl_json *j = NULL;
        rc = fl_json_parse(columns, strlen(columns), &arena, &j, err);
        if (rc == FL_OK && j->kind != FL_JSON_ARRAY) rc = fl_error_set(err, FL_ECORRUPT, "permutation '%s': bad %s", name, KEY_COLUMNS);
        if (rc == FL_OK && j->n && !(p->columns = fl_calloc(j->n, sizeof *p->columns))) rc = oom(err);
        for (size_t i = 0; rc == FL_OK && i < j->n; i++) {
            if (j->items[i]->kind != FL_JSON_STRING) rc = fl_error_set(err, FL_ECORRUPT, "permutation '%s': bad %s", name, KEY_COLUMNS);
            else if (!(p->columns[i] = fl_strdup(j->items[i]->string))) rc = oom(err);
            else p->n_columns++;
        }
        if (rc != FL_OK && rc != FL_ENOMEM && rc != FL_ECORRUPT) rc = fl_error_set(err, FL_ECORRUPT, "permutation '%s': bad %s", name, KEY_COLUMNS);
        fl_arena_free(&arena);
    }
    /* The rows, in storage order (the order they were appended in). */
    uint64_t n = (uint64_t)t->m->num_rows;
    if (rc == FL_OK) {
        p->row_ids = fl_malloc((n ? n : 1) * sizeof *p->row_ids);
        p->split_ids = fl_malloc((n ? n : 1) * sizeof *p->split_ids);
        if (!p->row_ids || !p->split_ids) rc = oom(err);
    }
    fl_scan *sc = NULL;
    if (rc == FL_OK) rc = fl_scan_open(t, NULL, &sc, err);
    while (rc == FL_OK) {
        fl_batch *b;
        if ((rc = fl_scan_next(sc, &b, err)) != FL_OK || !b) break;
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) {
            uint64_t id = fl_array_get_uint(&b->columns[0], i);
            int64_t split = fl_array_get_int(&b->columns[1], i);
            if (p->n >= n || split < 0 || (uint64_t)split >= p->n_splits)
                rc = fl_error_set(err, FL_ECORRUPT, "permutation '%s': row %zu names split %lld of %zu", name, p->n, (long long)split, p->n_splits);
            else {
                p->row_ids[p->n] = id;
                p->split_ids[p->n++] = (int32_t)split;
            }
        }
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    fl_table_close(t);
    if (rc != FL_OK) {
        fl_permutation_free(p);
        return rc;
    }
    *out = p;
    return FL_OK;
}
