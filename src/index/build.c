/*
 * build.c — creating, extending, dropping and listing scalar indexes (framelake.h, "Scalar indexes").
 *
 * A build reads the indexed column of the chosen fragments chunk by chunk, collects (key, row id) pairs
 * (btree), one row set per distinct key (bitmap, label_list) or one posting list per term (fts) in memory,
 * writes one new index file under a fresh name and commits an OP_INDEX transaction that references it. The file is complete and synced
 * before the commit, and nothing references it before, so a crash at any point leaves either the old
 * state or the new one (plus an unreferenced file cleanup removes).
 */
#include "index.h"
#include "fts.h"
#include "hamidx.h"
#include "ixfile.h"
#include "vindex.h"
#include "../table/txn.h"

#include <math.h>
#include <stdlib.h>

#define BUILD_CHUNK_ROWS 65536
#define BITMAP_MAX_KEYS 65536      /* distinct values a bitmap index accepts */
#define LABEL_MAX_KEYS 1048576     /* distinct labels a label_list index accepts */
#define MAX_INDEX_FILES 8          /* an update beyond this rebuilds the index into one file */

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

ix_kind ix_kind_of(const char *type) {
    if (!type) return 0;
    if (!strcmp(type, FL_INDEX_BTREE)) return IX_BTREE;
    if (!strcmp(type, FL_INDEX_BITMAP)) return IX_BITMAP;
    if (!strcmp(type, FL_INDEX_LABEL_LIST)) return IX_LABEL_LIST;
    if (!strcmp(type, FL_INDEX_FTS)) return IX_FTS;
    if (!strcmp(type, FL_INDEX_IVF_PQ)) return IX_IVF_PQ;
    if (!strcmp(type, FL_INDEX_IVF_FLAT)) return IX_IVF_FLAT;
    if (!strcmp(type, FL_INDEX_HAMMING)) return IX_HAMMING;
    return 0;
}

/* Key type of a column for an index kind, or 0 when the kind cannot index it. */
static ix_key_type key_type_for(const fl_field *f, ix_kind kind) {
    fl_type_id t = f->type;
    if (kind == IX_FTS) return t == FL_TYPE_STRING ? IX_KEY_STRING : 0;
    if (IX_VECTOR(kind)) return t == FL_TYPE_FIXED_SIZE_LIST && f->children[0].type == FL_TYPE_FLOAT32 ? IX_KEY_FLOAT : 0;
    if (kind == IX_HAMMING) return t == FL_TYPE_FIXED_SIZE_LIST && f->children[0].type == FL_TYPE_UINT8 && f->fixed_size == 8 ? IX_KEY_INT : 0;
    if (kind == IX_LABEL_LIST) return t == FL_TYPE_LIST && f->children[0].type == FL_TYPE_STRING ? IX_KEY_STRING : 0;
    if (fl_type_is_integer(t) || t == FL_TYPE_TIMESTAMP_MS) return IX_KEY_INT;
    if (t == FL_TYPE_STRING) return IX_KEY_STRING;
    if (kind == IX_BTREE && fl_type_is_float(t)) return IX_KEY_FLOAT;
    if (kind == IX_BITMAP && t == FL_TYPE_BOOL) return IX_KEY_INT;
    return 0;
}

static int schema_index(const fl_schema *s, int32_t id) {
    for (int32_t i = 0; i < s->n_fields; i++)
        if (s->fields[i].id == id) return i;
    return -1;
}

int fl_index_field(const fl_table *t, const fl_index_ref *x) {
    if (x->n_field_ids < 1 || x->n_field_ids > FL_INDEX_MAX_FIELDS) return -1;
    for (uint32_t i = 1; i < x->n_field_ids; i++)
        if (schema_index(t->m->schema, x->field_ids[i]) < 0) return -1;
    return schema_index(t->m->schema, x->field_ids[0]);
}

/* The indexed columns of an entry, or of a new one. */
typedef struct ix_fields {
    uint32_t n;
    int32_t ids[FL_INDEX_MAX_FIELDS];
    const fl_field *f[FL_INDEX_MAX_FIELDS];
    char label[512];            /* "a" or "a,b" */
} ix_fields;

static bool fields_of(const fl_table *t, const fl_index_ref *x, ix_fields *fs) {
    memset(fs, 0, sizeof *fs);
    if (fl_index_field(t, x) < 0) return false;
    for (uint32_t i = 0; i < x->n_field_ids; i++) {
        fs->ids[i] = x->field_ids[i];
        fs->f[i] = &t->m->schema->fields[schema_index(t->m->schema, x->field_ids[i])];
        size_t at = strlen(fs->label);
        snprintf(fs->label + at, sizeof fs->label - at, "%s%s", i ? "," : "", fs->f[i]->name);
    }
    fs->n = x->n_field_ids;
    return true;
}

static uint64_t fields_version(const fl_fragment *f, const ix_fields *fs) {
    fl_index_ref x = {.n_field_ids = fs->n, .field_ids = (int32_t *)fs->ids};
    return fl_index_fragment_version(f, &x);
}

int fl_index_coverage(const fl_table *t, const fl_index_ref *x, int32_t *file_of, fl_error *err) {
    const fl_manifest *m = t->m;
    for (uint32_t i = 0; i < m->n_fragments; i++) file_of[i] = -1;
    /* Other kinds of index (vector indexes) describe their coverage their own way: none here. */
    if (!ix_kind_of(x->type) || fl_index_field(t, x) < 0 || x->n_fragment_ids == 0) return FL_OK;
    uint32_t *file = fl_calloc(x->n_fragment_ids, sizeof *file);
    uint64_t *version = fl_calloc(x->n_fragment_ids, sizeof *version);
    fl_fragment_lookup frags = {0};
    int rc = file && version ? fl_index_coverage_get(x, file, version, err) : oom(err);
    if (rc == FL_OK && fl_fragment_lookup_init(m, &frags) != FL_OK) rc = oom(err);
    for (uint32_t k = 0; rc == FL_OK && k < x->n_fragment_ids; k++) {
        int i = fl_fragment_lookup_find(&frags, x->fragment_ids[k]);
        if (i >= 0 && fl_index_fragment_version(&m->fragments[i], x) == version[k]) file_of[i] = (int32_t)file[k];
    }
    fl_fragment_lookup_free(&frags);
    fl_free(file);
    fl_free(version);
    return rc;
}

/* ---- collecting keys ---- */

/* A hash table slot: distinct key index + 1 (0: empty) and 32 bits of the key's hash, so a probe rarely
 * has to look at the key itself. */
typedef struct hash_slot {
    uint32_t entry;
    uint32_t hash;
} hash_slot;

typedef struct builder {
    ix_build b;
    fl_buf strings;             /* string key bytes; distinct keys hold offsets (in .i) until resolved */
    ix_key *distinct;           /* distinct keys: postings keys, or the btree string dictionary */
    size_t n_distinct, cap_distinct;
    size_t cap_entries;         /* btree pairs */
    uint32_t *lens;             /* btree on strings: byte length of each entry's key (sort_keys hold arena
                                   offsets until the sort) */
    hash_slot *slots;           /* open-addressing table of the distinct keys */
    size_t n_slots;
    size_t max_keys;
    const char *column;
} builder;

static void builder_free(builder *bd) {
    for (int s = 0; s < IX_N_SETS; s++) ix_rows_free(&bd->b.sets[s]);
    if (bd->b.postings)
        for (size_t i = 0; i < bd->n_distinct; i++) ix_rows_free(&bd->b.postings[i]);
    fl_free(bd->b.postings);
    fl_free(bd->b.sort_keys);
    fl_free(bd->b.row_ids);
    fl_free(bd->lens);
    fl_free(bd->b.dict);
    fl_free(bd->distinct);
    fl_free(bd->slots);
    fl_buf_free(&bd->strings);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Hash of a key (strings: of bytes s, or of the arena copy when s is NULL). */
static uint64_t key_hash(const builder *bd, const ix_key *k, const uint8_t *s) {
    if (k->type == IX_KEY_STRING) return fl_hash64(s ? s : bd->strings.data + k->i, k->len);
    return mix64(ix_sortable(k));
}

static int rehash(builder *bd, fl_error *err) {
    size_t n = bd->n_slots ? bd->n_slots * 2 : 1024;
    hash_slot *slots = fl_calloc(n, sizeof *slots);
    if (!slots) return oom(err);
    for (size_t i = 0; i < bd->n_slots; i++) {
        if (!bd->slots[i].entry) continue;
        size_t h = bd->slots[i].hash & (n - 1);
        while (slots[h].entry) h = (h + 1) & (n - 1);
        slots[h] = bd->slots[i];
    }
    fl_free(bd->slots);
    bd->slots = slots;
    bd->n_slots = n;
    return FL_OK;
}

/* Finds or adds key k (string bytes s) among the distinct keys; *added says it is new. */
static int intern(builder *bd, const ix_key *k, const uint8_t *s, size_t *id, bool *added, fl_error *err) {
    *added = false;
    if (bd->n_distinct * 2 >= bd->n_slots) FL_RETURN_NOT_OK(rehash(bd, err));
    uint32_t hash = (uint32_t)key_hash(bd, k, s);
    size_t i = hash & (bd->n_slots - 1);
    while (bd->slots[i].entry) {
        if (bd->slots[i].hash == hash) {
            const ix_key *d = &bd->distinct[bd->slots[i].entry - 1];
            bool same = k->type == IX_KEY_STRING ? d->len == k->len && (k->len == 0 || !memcmp(bd->strings.data + d->i, s, k->len))
                                                 : ix_sortable(d) == ix_sortable(k);
            if (same) {
                *id = bd->slots[i].entry - 1;
                return FL_OK;
            }
        }
        i = (i + 1) & (bd->n_slots - 1);
    }
    if (bd->n_distinct >= bd->max_keys)
        return fl_error_set(err, FL_EINVAL, "column '%s' has more than %zu distinct values, too many for a %s index%s", bd->column, bd->max_keys,
                            bd->b.kind == IX_BITMAP ? "bitmap" : "label_list", bd->b.kind == IX_BITMAP ? " (use btree)" : "");
    if (bd->n_distinct == bd->cap_distinct) {
        size_t cap = bd->cap_distinct ? bd->cap_distinct * 2 : 64;
        ix_key *grown = fl_realloc(bd->distinct, cap * sizeof *grown);
        if (!grown) return oom(err);
        bd->distinct = grown;
        if (bd->b.kind != IX_BTREE) {
            ix_rows *p = fl_realloc(bd->b.postings, cap * sizeof *p);
            if (!p) return oom(err);
            bd->b.postings = p;
        }
        bd->cap_distinct = cap;
    }
    ix_key copy = *k;
    if (k->type == IX_KEY_STRING) {
        copy.i = (int64_t)bd->strings.size;
        copy.s = NULL;
        fl_buf_append(&bd->strings, s, k->len);
        if (bd->strings.failed) return oom(err);
    }
    *id = bd->n_distinct++;
    bd->distinct[*id] = copy;
    if (bd->b.kind != IX_BTREE) memset(&bd->b.postings[*id], 0, sizeof bd->b.postings[*id]);
    bd->slots[i] = (hash_slot){(uint32_t)(*id + 1), hash};
    *added = true;
    return FL_OK;
}

/* Adds (key, row): a btree pair, or the row to the key's postings (once per row). */
static int add_key(builder *bd, const ix_key *k, const uint8_t *s, uint64_t row, fl_error *err) {
    if (k->type == IX_KEY_STRING && k->len > FL_IX_MAX_KEY)
        return fl_error_set(err, FL_EINVAL, "column '%s': row id %llu holds a value of %zu bytes, longer than an index key may be (%d)", bd->column,
                            (unsigned long long)row, k->len, FL_IX_MAX_KEY);
    if (bd->b.kind == IX_BTREE) {
        if (bd->b.n_entries == bd->cap_entries) {
            size_t cap = bd->cap_entries ? bd->cap_entries * 2 : 4096;
            uint64_t *keys = fl_realloc(bd->b.sort_keys, cap * sizeof *keys);
            if (keys) bd->b.sort_keys = keys;
            uint64_t *rows = keys ? fl_realloc(bd->b.row_ids, cap * sizeof *rows) : NULL;
            if (rows) bd->b.row_ids = rows;
            uint32_t *lens = rows && k->type == IX_KEY_STRING ? fl_realloc(bd->lens, cap * sizeof *lens) : NULL;
            if (lens) bd->lens = lens;
            if (!rows || (k->type == IX_KEY_STRING && !lens)) return oom(err);
            bd->cap_entries = cap;
        }
        uint64_t sk;
        if (k->type == IX_KEY_STRING) {
            /* Strings are sorted directly (sort_strings), not interned: index columns are often unique. */
            sk = bd->strings.size;
            bd->lens[bd->b.n_entries] = (uint32_t)k->len;
            fl_buf_append(&bd->strings, s, k->len);
            if (bd->strings.failed) return oom(err);
        } else {
            sk = ix_sortable(k);
        }
        bd->b.sort_keys[bd->b.n_entries] = sk;
        bd->b.row_ids[bd->b.n_entries++] = row;
        return FL_OK;
    }
    size_t id = 0;
    bool added;
    FL_RETURN_NOT_OK(intern(bd, k, s, &id, &added, err));
    ix_rows *p = &bd->b.postings[id];
    if (p->n && p->ids[p->n - 1] == row) return FL_OK;
    return ix_rows_push(p, row) ? FL_OK : oom(err);
}

/* The canonical key of value i of a scalar column (expr.h invariant 3); false for NaN. */
static bool scalar_key(const fl_array *a, int64_t i, ix_key_type kt, ix_key *k, const uint8_t **s) {
    memset(k, 0, sizeof *k);
    k->type = kt;
    *s = NULL;
    fl_type_id t = a->type;
    if (kt == IX_KEY_STRING) *s = fl_array_get_bytes(a, i, &k->len);
    else if (kt == IX_KEY_FLOAT) {
        k->f = fl_array_get_float(a, i);
        if (isnan(k->f)) return false;
        if (k->f == 0) k->f = 0; /* -0.0 equals 0.0: one key */
    } else if (t == FL_TYPE_BOOL) k->i = fl_array_get_bool(a, i);
    else if (fl_type_is_integer(t) && !fl_type_is_signed(t)) k->i = (int64_t)fl_array_get_uint(a, i);
    else k->i = fl_array_get_int(a, i);
    return true;
}

static int collect_fragment(fl_table *t, uint32_t fi, const fl_field *field, builder *bd, fl_error *err) {
    const fl_fragment *f = &t->m->fragments[fi];
    fl_array a;
    if (fl_array_init(&a, field) != FL_OK) {
        fl_array_clear(&a);
        return oom(err);
    }
    fl_rid_cursor cur = {f, 0, 0};
    /* Deleted rows are left out: a materialized view may hold a deleted copy of a row id that is live
     * elsewhere, and one file must never answer for an id with a dead copy's value. */
    const deletion_set *d;
    int rc = fl_table_deletions(t, fi, &d, err);
    for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += BUILD_CHUNK_ROWS) {
        uint64_t count = f->physical_rows - start < BUILD_CHUNK_ROWS ? f->physical_rows - start : BUILD_CHUNK_ROWS;
        fl_array_reset(&a);
        rc = fl_table_read_column(t, fi, field, (int64_t)start, (int64_t)count, &a, err);
        for (int64_t i = 0; rc == FL_OK && i < (int64_t)count; i++) {
            uint64_t row = fl_rid_next(&cur);
            if (d->n && fl_deletion_contains(d, start + (uint64_t)i)) continue;
            if (fl_array_is_null(&a, i)) {
                if (!ix_rows_push(&bd->b.sets[IX_SET_NULL], row)) rc = oom(err);
                continue;
            }
            ix_key k;
            const uint8_t *s;
            if (bd->b.kind != IX_LABEL_LIST) {
                if (!scalar_key(&a, i, bd->b.key_type, &k, &s)) rc = ix_rows_push(&bd->b.sets[IX_SET_NAN], row) ? FL_OK : oom(err);
                else rc = add_key(bd, &k, s, row, err);
                continue;
            }
            int64_t ls, le;
            fl_array_get_list(&a, i, &ls, &le);
            if (ls == le && !ix_rows_push(&bd->b.sets[IX_SET_EMPTY], row)) rc = oom(err);
            const fl_array *items = &a.children[0];
            for (int64_t e = ls; rc == FL_OK && e < le; e++) {
                if (fl_array_is_null(items, e)) continue; /* a NULL element equals nothing */
                scalar_key(items, e, IX_KEY_STRING, &k, &s);
                rc = add_key(bd, &k, s, row, err);
            }
        }
    }
    fl_array_clear(&a);
    bd->b.rows_indexed += f->physical_rows;
    return rc;
}

/* Stable LSD radix sort of pairs by primary[] (11-bit digits, only over the bits that vary). */
static bool radix_pairs(uint64_t *primary, uint64_t *secondary, size_t n) {
    uint64_t varying = 0;
    for (size_t i = 1; i < n; i++) varying |= primary[i] ^ primary[0];
    if (!varying) return true;
    uint64_t *tp = fl_malloc(n * sizeof *tp), *ts = fl_malloc(n * sizeof *ts);
    size_t *count = fl_malloc((2048 + 1) * sizeof *count);
    if (!tp || !ts || !count) {
        fl_free(tp);
        fl_free(ts);
        fl_free(count);
        return false;
    }
    uint64_t *sp = primary, *ss = secondary, *dp = tp, *ds = ts;
    for (int shift = 0; shift < 64; shift += 11) {
        if (!((varying >> shift) & 2047)) continue;
        memset(count, 0, (2048 + 1) * sizeof *count);
        for (size_t i = 0; i < n; i++) count[((sp[i] >> shift) & 2047) + 1]++;
        for (int b = 0; b < 2048; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(sp[i] >> shift) & 2047]++;
            dp[at] = sp[i];
            ds[at] = ss[i];
        }
        uint64_t *x = sp, *y = ss;
        sp = dp;
        ss = ds;
        dp = x;
        ds = y;
    }
    if (sp != primary) {
        memcpy(primary, sp, n * sizeof *sp);
        memcpy(secondary, ss, n * sizeof *ss);
    }
    fl_free(tp);
    fl_free(ts);
    fl_free(count);
    return true;
}

typedef struct ranked {
    ix_key key;
    size_t id;
} ranked;

static int cmp_ranked(const void *pa, const void *pb) { return ix_key_cmp(&((const ranked *)pa)->key, &((const ranked *)pb)->key); }

/* Sorts the distinct keys; rank[id] receives each key's position. */
static int sort_distinct(builder *bd, size_t *rank, fl_error *err) {
    size_t n = bd->n_distinct;
    ranked *r = fl_malloc((n ? n : 1) * sizeof *r);
    if (!r) return oom(err);
    for (size_t i = 0; i < n; i++) {
        r[i].key = bd->distinct[i];
        if (r[i].key.type == IX_KEY_STRING) r[i].key.s = bd->strings.data + r[i].key.i;
        r[i].id = i;
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < n; i++) {
        bd->distinct[i] = r[i].key;
        rank[r[i].id] = i;
    }
    fl_free(r);
    return FL_OK;
}

/* Order of btree string entries, for qsort_r over entry numbers: bytes (after the common prefix), then
 * length, then row id. */
typedef struct string_order {
    const uint8_t *arena;
    const uint64_t *offset;
    const uint32_t *len;
    const uint64_t *row;
    size_t skip;                /* bytes every key shares */
} string_order;

static int cmp_entries(const void *pa, const void *pb, void *ctx) {
    const string_order *o = ctx;
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    size_t la = o->len[a] - o->skip, lb = o->len[b] - o->skip, m = la < lb ? la : lb;
    int c = m ? memcmp(o->arena + o->offset[a] + o->skip, o->arena + o->offset[b] + o->skip, m) : 0;
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return (o->row[a] > o->row[b]) - (o->row[a] < o->row[b]);
}

/* Sorts btree string entries by (key, row): a radix sort on the 8 bytes after the keys' common prefix
 * (most keys end up alone in their bucket, which is then done), the rest by comparison. Leaves the keys
 * in sorted order in b->dict, one per entry, and sort_keys[i] = i. */
static int sort_strings(builder *bd, fl_error *err) {
    ix_build *b = &bd->b;
    size_t n = b->n_entries;
    const uint8_t *arena = bd->strings.data;
    size_t skip = n ? bd->lens[0] : 0;
    for (size_t i = 1; i < n && skip; i++) {
        size_t m = bd->lens[i] < skip ? bd->lens[i] : skip, k = 0;
        const uint8_t *x = arena + b->sort_keys[0], *y = arena + b->sort_keys[i];
        while (k < m && x[k] == y[k]) k++;
        skip = k;
    }
    uint64_t *prefix = fl_malloc((n + 1) * sizeof *prefix), *order = fl_malloc((n + 1) * sizeof *order);
    uint64_t *rows = fl_malloc((n + 1) * sizeof *rows);
    ix_key *dict = fl_malloc((n + 1) * sizeof *dict);
    if (!prefix || !order || !rows || !dict) {
        fl_free(prefix);
        fl_free(order);
        fl_free(rows);
        fl_free(dict);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        const uint8_t *p = arena + b->sort_keys[i] + skip;
        size_t avail = bd->lens[i] - skip;
        for (size_t k = 0; k < 8; k++) v = (v << 8) | (k < avail ? p[k] : 0);
        prefix[i] = v;
        order[i] = i;
    }
    int rc = radix_pairs(prefix, order, n) ? FL_OK : oom(err);
    string_order o = {arena, b->sort_keys, bd->lens, b->row_ids, skip};
    for (size_t i = 0; rc == FL_OK && i < n;) {
        size_t j = i + 1;
        while (j < n && prefix[j] == prefix[i]) j++;
        if (j - i > 1) qsort_r(order + i, j - i, sizeof *order, cmp_entries, &o);
        i = j;
    }
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        uint64_t e = order[i];
        dict[i] = (ix_key){.type = IX_KEY_STRING, .s = arena + b->sort_keys[e], .len = bd->lens[e]};
        rows[i] = b->row_ids[e];
    }
    for (size_t i = 0; rc == FL_OK && i < n; i++) b->sort_keys[i] = i;
    fl_free(prefix);
    fl_free(order);
    if (rc != FL_OK) {
        fl_free(rows);
        fl_free(dict);
        return rc;
    }
    fl_free(b->row_ids);
    b->row_ids = rows;
    b->dict = dict;
    b->n_dict = n;
    return FL_OK;
}

/* Resolves and sorts: btree pairs by (key, row), postings keys ascending with sorted row sets. */
static int finish_build(builder *bd, fl_error *err) {
    ix_build *b = &bd->b;
    for (int s = 0; s < IX_N_SETS; s++)
        if (!ix_rows_sort_unique(&b->sets[s])) return oom(err);
    size_t *rank = fl_malloc((bd->n_distinct + 1) * sizeof *rank);
    if (!rank) return oom(err);
    int rc = sort_distinct(bd, rank, err);
    if (rc == FL_OK && b->kind == IX_BTREE && b->key_type == IX_KEY_STRING) {
        rc = sort_strings(bd, err);
    } else if (rc == FL_OK && b->kind == IX_BTREE) {
        bool rows_sorted = true;
        for (size_t i = 1; i < b->n_entries && rows_sorted; i++) rows_sorted = b->row_ids[i] >= b->row_ids[i - 1];
        /* Stable by key after (if needed) by row: (key, row) order. */
        if ((!rows_sorted && !radix_pairs(b->row_ids, b->sort_keys, b->n_entries)) || !radix_pairs(b->sort_keys, b->row_ids, b->n_entries))
            rc = oom(err);
    } else if (rc == FL_OK) {
        ix_rows *sorted = fl_malloc((bd->n_distinct + 1) * sizeof *sorted);
        if (!sorted) rc = oom(err);
        for (size_t i = 0; rc == FL_OK && i < bd->n_distinct; i++) sorted[rank[i]] = b->postings[i];
        if (rc == FL_OK) {
            fl_free(b->postings);
            b->postings = sorted;
        }
        for (size_t i = 0; rc == FL_OK && i < bd->n_distinct; i++)
            if (!ix_rows_sort_unique(&b->postings[i])) rc = oom(err);
        b->keys = bd->distinct;
        b->n_entries = bd->n_distinct;
    }
    fl_free(rank);
    return rc;
}

/* The value of parameter `key` of an index entry, or NULL. */
static const char *param(const fl_kv *params, int32_t n, const char *key) {
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(params[i].key, key)) return params[i].value;
    return NULL;
}

/* An fts index file over fragments `frags`: every row with a term in one of the columns, analyzed with
 * the entry's settings (fts.h, fts_analyze_row). */
static int build_fts(fl_table *t, const ix_fields *fs, const fl_kv *params, int32_t n_params, const uint32_t *frags, uint32_t n_frags,
                     const char *path, fl_error *err) {
    fts_analyzer an;
    FL_RETURN_NOT_OK(fts_analyzer_init(&an, param(params, n_params, "stem"), param(params, n_params, "stopwords"), err));
    const char *positions = param(params, n_params, "positions");
    fts_writer *w = NULL;
    int rc = fts_writer_new(positions && !strcmp(positions, "true"), &w, err);
    fts_tokens tok = {0};
    fl_array a[FL_INDEX_MAX_FIELDS];
    uint32_t n_arrays = 0;
    for (; rc == FL_OK && n_arrays < fs->n; n_arrays++)
        if (fl_array_init(&a[n_arrays], fs->f[n_arrays]) != FL_OK) rc = oom(err);
    for (uint32_t k = 0; rc == FL_OK && k < n_frags; k++) {
        const fl_fragment *f = &t->m->fragments[frags[k]];
        fl_rid_cursor cur = {f, 0, 0};
        const deletion_set *d = NULL;
        rc = fl_table_deletions(t, frags[k], &d, err); /* deleted rows are left out, as in collect_fragment */
        if (rc == FL_OK) rc = fts_writer_fragment(w, f->id, err);
        for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += BUILD_CHUNK_ROWS) {
            uint64_t count = f->physical_rows - start < BUILD_CHUNK_ROWS ? f->physical_rows - start : BUILD_CHUNK_ROWS;
            for (uint32_t c = 0; rc == FL_OK && c < fs->n; c++) {
                fl_array_reset(&a[c]);
                rc = fl_table_read_column(t, frags[k], fs->f[c], (int64_t)start, (int64_t)count, &a[c], err);
            }
            for (int64_t i = 0; rc == FL_OK && i < (int64_t)count; i++) {
                uint64_t row = fl_rid_next(&cur);
                if (d->n && fl_deletion_contains(d, start + (uint64_t)i)) continue;
                bool any;
                if (!fts_analyze_row(&an, a, (int)fs->n, i, &tok, &any)) rc = oom(err);
                else if (tok.n) rc = fts_writer_add(w, row, &tok, err); /* no terms: not a document */
            }
        }
    }
    uint64_t size;
    if (rc == FL_OK) rc = fts_writer_finish(w, path, &size, err);
    for (uint32_t c = 0; c < n_arrays; c++) fl_array_clear(&a[c]);
    fts_tokens_free(&tok);
    fts_writer_free(w);
    fts_analyzer_free(&an);
    return rc;
}

/* Writes one index file over fragments `frags` (indexes into t->m->fragments); *rel receives its
 * table-relative path. `params` are the entry's parameters (the fts analyzer settings). */
static int build_file(fl_table *t, const ix_fields *fs, ix_kind kind, const fl_kv *params, int32_t n_params, const uint32_t *frags,
                      uint32_t n_frags, const char *model_rel, char **rel, fl_error *err) {
    *rel = NULL;
    const fl_field *field = fs->f[0];
    builder bd;
    memset(&bd, 0, sizeof bd);
    fl_buf_init(&bd.strings);
    bd.b.kind = kind;
    bd.b.key_type = key_type_for(field, kind);
    bd.max_keys = kind == IX_BTREE ? SIZE_MAX : kind == IX_BITMAP ? BITMAP_MAX_KEYS : LABEL_MAX_KEYS;
    bd.column = field->name;
    int rc = FL_OK;
    for (uint32_t i = 0; IX_SCALAR(kind) && rc == FL_OK && i < n_frags; i++) rc = collect_fragment(t, frags[i], field, &bd, err);
    if (rc == FL_OK && IX_SCALAR(kind)) rc = finish_build(&bd, err);
    char rnd[17], rnd2[17];
    fl_random_hex(rnd);
    fl_random_hex(rnd2);
    char *name = rc == FL_OK ? fl_sprintf("_indexes/%s%s.idx", rnd, rnd2) : NULL;
    char *dir = rc == FL_OK ? fl_table_path(t, "_indexes") : NULL;
    char *path = name ? fl_table_path(t, name) : NULL;
    if (rc == FL_OK && (!name || !dir || !path)) rc = oom(err);
    if (rc == FL_OK) rc = fl_io_mkdirs(dir, err);
    uint64_t size;
    if (rc == FL_OK && kind == IX_FTS) rc = build_fts(t, fs, params, n_params, frags, n_frags, path, err);
    else if (rc == FL_OK && kind == IX_HAMMING) rc = ham_build(t, field, frags, n_frags, path, err);
    else if (rc == FL_OK && IX_VECTOR(kind)) rc = fl_vindex_build(t, field, kind == IX_IVF_PQ, params, n_params, frags, n_frags, model_rel, path, err);
    else if (rc == FL_OK) rc = ix_file_write(path, &bd.b, &size, err);
    if (rc == FL_OK) {
        rc = fl_io_sync_dir(dir, err);
        if (rc != FL_OK) fl_io_delete(path, NULL);
    }
    builder_free(&bd);
    fl_free(dir);
    fl_free(path);
    if (rc != FL_OK) {
        fl_free(name);
        return rc;
    }
    *rel = name;
    return FL_OK;
}

/* ---- commits ---- */

static void delete_files(fl_table *t, char **rel, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        char *p = fl_table_path(t, rel[i]);
        if (p) fl_io_delete(p, NULL);
        fl_free(p);
    }
}

/* Commits x; on failure removes the index files it wrote. Clears x. */
static int commit_index_txn(fl_table *t, txn *x, fl_error *err) {
    int rc = txn_commit(t, x, err);
    if (rc != FL_OK) delete_files(t, x->index_files, x->n_index_files);
    txn_clear(x);
    return rc;
}

static int find_index(const fl_manifest *m, const char *name) {
    for (uint32_t i = 0; i < m->n_indexes; i++)
        if (!strcmp(m->indexes[i].name, name)) return (int)i;
    return -1;
}

/* Adds a change to x (copying before and taking ownership of *after). */
static int add_change(txn *x, const char *name, const fl_index_ref *before, fl_index_ref *after, fl_error *err) {
    index_change *grown = fl_realloc(x->index_changes, ((size_t)x->n_index_changes + 1) * sizeof *grown);
    if (!grown) return oom(err);
    x->index_changes = grown;
    index_change *c = &x->index_changes[x->n_index_changes];
    memset(c, 0, sizeof *c);
    if (!(c->name = fl_strdup(name))) return oom(err);
    x->n_index_changes++;
    if (before) {
        if (!(c->before = fl_calloc(1, sizeof *c->before)) || fl_index_ref_copy_into(c->before, before) != FL_OK) {
            fl_free(c->before);
            c->before = NULL;
            return oom(err);
        }
    }
    c->after = after;
    return FL_OK;
}

/* Records a written file in x (which then owns the name); removes it when that fails. */
static int add_written_file(fl_table *t, txn *x, char *rel, fl_error *err) {
    char **grown = fl_realloc(x->index_files, ((size_t)x->n_index_files + 1) * sizeof *grown);
    if (!grown) {
        delete_files(t, &rel, 1);
        fl_free(rel);
        return oom(err);
    }
    x->index_files = grown;
    x->index_files[x->n_index_files++] = rel;
    return FL_OK;
}

/* Coverage being assembled for a new entry. */
typedef struct coverage {
    uint32_t n;
    uint64_t *fragment_ids;
    uint32_t *file;
    uint64_t *version;
} coverage;

static void coverage_free(coverage *c) {
    fl_free(c->fragment_ids);
    fl_free(c->file);
    fl_free(c->version);
    memset(c, 0, sizeof *c);
}

static bool coverage_add(coverage *c, uint64_t fragment_id, uint32_t file, uint64_t version) {
    uint64_t *ids = fl_realloc(c->fragment_ids, ((size_t)c->n + 1) * sizeof *ids);
    if (ids) c->fragment_ids = ids;
    uint32_t *files = fl_realloc(c->file, ((size_t)c->n + 1) * sizeof *files);
    if (files) c->file = files;
    uint64_t *versions = fl_realloc(c->version, ((size_t)c->n + 1) * sizeof *versions);
    if (versions) c->version = versions;
    if (!ids || !files || !versions) return false;
    c->fragment_ids[c->n] = fragment_id;
    c->file[c->n] = file;
    c->version[c->n++] = version;
    return true;
}

/* A new index entry: name, type, field, files, coverage (takes the files' names) and the kind's own
 * parameters (`extra`, copied; "column" and the coverage are set here). */
static int make_ref(const char *name, const char *type, const ix_fields *fs, char **files, uint32_t n_files, coverage *cov,
                    const fl_kv *extra, int32_t n_extra, fl_index_ref **out, fl_error *err) {
    fl_index_ref *x = fl_calloc(1, sizeof *x);
    if (!x) return oom(err);
    x->name = fl_strdup(name);
    x->type = fl_strdup(type);
    x->field_ids = fl_malloc(fs->n * sizeof *x->field_ids);
    x->files = fl_calloc(n_files ? n_files : 1, sizeof *x->files);
    x->params = fl_calloc((size_t)n_extra + 1, sizeof *x->params);
    bool ok = x->name && x->type && x->field_ids && x->files && x->params;
    if (ok) {
        memcpy(x->field_ids, fs->ids, fs->n * sizeof *x->field_ids);
        x->n_field_ids = fs->n;
        x->params[0].key = fl_strdup("column");
        x->params[0].value = fl_strdup(fs->label);
        x->n_params = 1;
        ok = x->params[0].key && x->params[0].value;
    }
    for (int32_t i = 0; ok && i < n_extra; i++) {
        if (!strcmp(extra[i].key, "column") || !strcmp(extra[i].key, FL_INDEX_COVERAGE_KEY)) continue;
        fl_kv *kv = &x->params[x->n_params++];
        kv->key = fl_strdup(extra[i].key);
        kv->value = fl_strdup(extra[i].value);
        ok = kv->key && kv->value;
    }
    for (uint32_t i = 0; ok && i < n_files; i++) {
        if (!(x->files[i] = fl_strdup(files[i]))) ok = false;
        else x->n_files = i + 1;
    }
    if (ok) {
        x->fragment_ids = cov->fragment_ids;
        x->n_fragment_ids = cov->n;
        cov->fragment_ids = NULL;
        ok = fl_index_coverage_set(x, cov->file, cov->version) == FL_OK;
    }
    if (!ok) {
        fl_index_ref_clear(x);
        fl_free(x);
        return oom(err);
    }
    *out = x;
    return FL_OK;
}

/* Checks the column against the kind (fts: one or more comma-separated string columns). */
static int resolve_one(fl_table *t, const char *column, ix_kind kind, const char *type, int *field, fl_error *err) {
    const fl_schema *s = t->m->schema;
    int k = column ? fl_schema_find(s, column) : -1;
    if (k < 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, column ? column : "");
    if (!key_type_for(&s->fields[k], kind)) {
        char *tn = fl_field_type_format(&s->fields[k]);
        static const char *wants[] = {"", "an integer, float, string or timestamp column", "an integer, boolean, string or timestamp column",
                                      "a list<string> column", "a string column", "a fixed_size_list<float32, N> column",
                                      "a fixed_size_list<float32, N> column", "a fixed_size_list<uint8, 8> column (64-bit hashes)"};
        int rc = fl_error_set(err, FL_ETYPE, "table '%s': a %s index needs %s; column '%s' is %s", t->name, type, wants[kind], column,
                              tn ? tn : "?");
        fl_free(tn);
        return rc;
    }
    *field = k;
    return FL_OK;
}

static int resolve_columns(fl_table *t, const char *columns, ix_kind kind, const char *type, ix_fields *fs, fl_error *err) {
    memset(fs, 0, sizeof *fs);
    if (!columns || strlen(columns) >= sizeof fs->label) return resolve_one(t, NULL, kind, type, NULL, err);
    char buf[sizeof fs->label];
    snprintf(buf, sizeof buf, "%s", columns);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ') name++;
        for (char *e = name + strlen(name); e > name && e[-1] == ' ';) *--e = 0;
        if (fs->n == FL_INDEX_MAX_FIELDS) return fl_error_set(err, FL_EINVAL, "an index covers at most %d columns", FL_INDEX_MAX_FIELDS);
        if (fs->n == 1 && kind != IX_FTS) return fl_error_set(err, FL_EINVAL, "a %s index covers one column ('%s' names several)", type, columns);
        int k = -1;
        FL_RETURN_NOT_OK(resolve_one(t, name, kind, type, &k, err));
        for (uint32_t i = 0; i < fs->n; i++)
            if (fs->ids[i] == t->m->schema->fields[k].id) return fl_error_set(err, FL_EINVAL, "column '%s' is named twice", name);
        fs->ids[fs->n] = t->m->schema->fields[k].id;
        fs->f[fs->n++] = &t->m->schema->fields[k];
        size_t at = strlen(fs->label);
        snprintf(fs->label + at, sizeof fs->label - at, "%s%s", fs->n > 1 ? "," : "", name);
    }
    if (fs->n == 0) return resolve_one(t, NULL, kind, type, NULL, err);
    return FL_OK;
}

/* Checks an index's parameters against its kind and gives them in canonical form (fts: stem, stopwords and
 * positions, each always present). */
static int check_params(ix_kind kind, const fl_kv *params, size_t n, fl_kv *out, int32_t *n_out, fl_error *err) {
    *n_out = 0;
    if (IX_VECTOR(kind)) {
        static const char *const keys[] = {"metric", "partitions", "sub_vectors", "store_vectors"};
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (int k = 0; k < 4; k++) known = known || !strcmp(params[i].key, keys[k]);
            if (!known)
                return fl_error_set(err, FL_EINVAL, "vector index: unknown parameter '%s' (use metric, partitions, sub_vectors or store_vectors)",
                                    params[i].key);
        }
        if (n > 4) return fl_error_set(err, FL_EINVAL, "vector index: a parameter is given twice");
        FL_RETURN_NOT_OK(fl_vindex_check_params(kind == IX_IVF_PQ, params, (int32_t)n, err));
        for (size_t i = 0; i < n; i++) out[(*n_out)++] = params[i];
        return FL_OK;
    }
    static const char *const fts_keys[] = {"stem", "stopwords", "positions"};
    static const char *const fts_defaults[] = {"none", "none", "false"};
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (int k = 0; kind == IX_FTS && k < 3; k++) known = known || !strcmp(params[i].key, fts_keys[k]);
        if (!known && kind == IX_FTS)
            return fl_error_set(err, FL_EINVAL, "fts index: unknown parameter '%s' (use stem, stopwords or positions)", params[i].key);
        if (!known) return fl_error_set(err, FL_EINVAL, "this kind of index takes no parameters ('%s' given)", params[i].key);
    }
    if (kind != IX_FTS) return FL_OK;
    for (int k = 0; k < 3; k++) {
        const char *v = param(params, (int32_t)n, fts_keys[k]);
        if (!v) v = fts_defaults[k];
        if (k == 2 && strcmp(v, "true") && strcmp(v, "false"))
            return fl_error_set(err, FL_EINVAL, "fts index: positions must be true or false, not '%s'", v);
        out[(*n_out)++] = (fl_kv){(char *)fts_keys[k], (char *)v};
    }
    fts_analyzer an;
    FL_RETURN_NOT_OK(fts_analyzer_init(&an, out[0].value, out[1].value, err));
    fts_analyzer_free(&an);
    return FL_OK;
}

int fl_index_create(fl_table *t, const char *column, const char *type, const char *name, fl_error *err) {
    return fl_index_create_with(t, column, type, name, NULL, 0, err);
}

int fl_index_create_with(fl_table *t, const char *column, const char *type, const char *name, const fl_kv *params, size_t n_params, fl_error *err) {
    ix_kind kind = ix_kind_of(type);
    if (!kind)
        return fl_error_set(err, FL_EINVAL, "unknown index type '%s' (use btree, bitmap, label_list, fts, ivf_pq, ivf_flat or hamming)",
                            type ? type : "");
    fl_kv canon[4];
    int32_t n_canon = 0;
    FL_RETURN_NOT_OK(check_params(kind, params, n_params, canon, &n_canon, err));
    ix_fields fs;
    FL_RETURN_NOT_OK(resolve_columns(t, column, kind, type, &fs, err));
    char *own_name = name ? fl_strdup(name) : fl_sprintf("%s_idx", fs.label);
    if (!own_name) return oom(err);
    for (char *c = own_name; *c; c++)
        if (*c == ',') *c = '_';
    int rc = FL_OK;
    if (!fl_valid_name(own_name)) rc = fl_error_set(err, FL_EINVAL, "invalid index name '%s' (use letters, digits, '_', '-', '.')", own_name);
    else if (find_index(t->m, own_name) >= 0) rc = fl_error_set(err, FL_EEXIST, "table '%s': index '%s' already exists", t->name, own_name);
    const fl_manifest *m = t->m;
    uint32_t *frags = fl_calloc((size_t)m->n_fragments + 1, sizeof *frags);
    coverage cov = {0};
    txn x = {.kind = OP_INDEX};
    char *rel = NULL;
    if (rc == FL_OK && !frags) rc = oom(err);
    for (uint32_t i = 0; rc == FL_OK && i < m->n_fragments; i++) {
        frags[i] = i;
        if (!coverage_add(&cov, m->fragments[i].id, 0, fields_version(&m->fragments[i], &fs))) rc = oom(err);
    }
    if (rc == FL_OK) rc = build_file(t, &fs, kind, canon, n_canon, frags, m->n_fragments, NULL, &rel, err);
    if (rc == FL_OK) rc = add_written_file(t, &x, rel, err);
    fl_index_ref *ref = NULL;
    if (rc == FL_OK) rc = make_ref(own_name, type, &fs, &rel, 1, &cov, canon, n_canon, &ref, err);
    if (rc == FL_OK && (rc = add_change(&x, own_name, NULL, ref, err)) != FL_OK) {
        fl_index_ref_clear(ref);
        fl_free(ref);
    }
    char *detail = fl_sprintf("create %s (%s on %s, %u fragments)", own_name, type, fs.label, m->n_fragments);
    snprintf(x.detail, sizeof x.detail, "%s", detail ? detail : "create");
    fl_free(detail);
    if (rc == FL_OK) rc = commit_index_txn(t, &x, err);
    else {
        delete_files(t, x.index_files, x.n_index_files);
        txn_clear(&x);
    }
    coverage_free(&cov);
    fl_free(frags);
    fl_free(own_name);
    return rc;
}

/* Adds to x the extension of index i to the fragments it does not cover; *changed false when current. */
static int plan_update(fl_table *t, uint32_t idx, txn *x, bool *changed, fl_error *err) {
    const fl_manifest *m = t->m;
    const fl_index_ref *old = &m->indexes[idx];
    *changed = false;
    ix_fields fs;
    bool have = fields_of(t, old, &fs);
    ix_kind kind = ix_kind_of(old->type);
    if (!have || !kind) return fl_error_set(err, FL_EINVAL, "table '%s': index '%s' cannot be updated (its column is gone or its type is unknown)",
                                            t->name, old->name);
    int32_t *file_of = fl_calloc((size_t)m->n_fragments + 1, sizeof *file_of);
    uint32_t *pending = fl_calloc((size_t)m->n_fragments + 1, sizeof *pending);
    uint32_t n_pending = 0;
    coverage cov = {0};
    int rc = file_of && pending ? fl_index_coverage(t, old, file_of, err) : oom(err);
    for (uint32_t i = 0; rc == FL_OK && i < m->n_fragments; i++)
        if (file_of[i] < 0) pending[n_pending++] = i;
    if (rc != FL_OK || n_pending == 0) goto done;
    /* Files still serving some fragment keep their numbers; past MAX_INDEX_FILES everything is rebuilt. */
    bool *used = fl_calloc((size_t)old->n_files + 1, sizeof *used);
    uint32_t n_used = 0;
    if (!used) {
        rc = oom(err);
        goto done;
    }
    for (uint32_t i = 0; i < m->n_fragments; i++)
        if (file_of[i] >= 0 && !used[file_of[i]]) {
            used[file_of[i]] = true;
            n_used++;
        }
    bool rebuild = n_used + 1 > MAX_INDEX_FILES;
    if (rebuild) {
        n_pending = 0;
        for (uint32_t i = 0; i < m->n_fragments; i++) pending[n_pending++] = i;
    }
    char **files = fl_calloc((size_t)old->n_files + 2, sizeof *files);
    uint32_t *renum = fl_calloc((size_t)old->n_files + 1, sizeof *renum);
    uint32_t n_files = 0;
    if (!files || !renum) rc = oom(err);
    for (uint32_t f = 0; rc == FL_OK && !rebuild && f < old->n_files; f++)
        if (used[f]) {
            renum[f] = n_files;
            files[n_files++] = old->files[f];
        }
    for (uint32_t i = 0; rc == FL_OK && !rebuild && i < m->n_fragments; i++)
        if (file_of[i] >= 0 && !coverage_add(&cov, m->fragments[i].id, renum[file_of[i]], fields_version(&m->fragments[i], &fs)))
            rc = oom(err);
    char *rel = NULL;
    /* Vector indexes encode new rows with the model of the files they already have. */
    const char *model = IX_VECTOR(kind) && old->n_files ? old->files[0] : NULL;
    if (rc == FL_OK) rc = build_file(t, &fs, kind, old->params, old->n_params, pending, n_pending, model, &rel, err);
    if (rc == FL_OK && (rc = add_written_file(t, x, rel, err)) == FL_OK) {
        files[n_files] = rel;
        for (uint32_t j = 0; rc == FL_OK && j < n_pending; j++)
            if (!coverage_add(&cov, m->fragments[pending[j]].id, n_files, fields_version(&m->fragments[pending[j]], &fs))) rc = oom(err);
        n_files++;
    }
    fl_index_ref *ref = NULL;
    if (rc == FL_OK) rc = make_ref(old->name, old->type, &fs, files, n_files, &cov, old->params, old->n_params, &ref, err);
    if (rc == FL_OK) {
        ref->created_version = old->created_version;
        if ((rc = add_change(x, old->name, old, ref, err)) != FL_OK) {
            fl_index_ref_clear(ref);
            fl_free(ref);
        }
    }
    if (rc == FL_OK) *changed = true;
    fl_free(used);
    fl_free(files);
    fl_free(renum);
done:
    coverage_free(&cov);
    fl_free(file_of);
    fl_free(pending);
    return rc;
}

int fl_index_update(fl_table *t, const char *name, fl_error *err) {
    txn x = {.kind = OP_INDEX};
    int rc = FL_OK;
    uint32_t n_changed = 0;
    if (name && find_index(t->m, name) < 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s': index '%s' not found", t->name, name);
    for (uint32_t i = 0; rc == FL_OK && i < t->m->n_indexes; i++) {
        if (name && strcmp(t->m->indexes[i].name, name)) continue;
        bool changed;
        rc = plan_update(t, i, &x, &changed, err);
        n_changed += changed;
    }
    if (rc == FL_OK && n_changed == 0) {
        txn_clear(&x);
        return FL_OK;
    }
    snprintf(x.detail, sizeof x.detail, "update %s", name ? name : "all");
    if (rc == FL_OK) return commit_index_txn(t, &x, err);
    delete_files(t, x.index_files, x.n_index_files);
    txn_clear(&x);
    return rc;
}

int fl_index_drop(fl_table *t, const char *name, fl_error *err) {
    int k = name ? find_index(t->m, name) : -1;
    if (k < 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s': index '%s' not found", t->name, name ? name : "");
    txn x = {.kind = OP_INDEX};
    snprintf(x.detail, sizeof x.detail, "drop %s", name);
    int rc = add_change(&x, name, &t->m->indexes[k], NULL, err);
    if (rc == FL_OK) return commit_index_txn(t, &x, err);
    txn_clear(&x);
    return rc;
}

int fl_index_list(fl_table *t, fl_index_info **out, size_t *n, fl_error *err) {
    *out = NULL;
    *n = 0;
    const fl_manifest *m = t->m;
    fl_index_info *list = fl_calloc((size_t)m->n_indexes + 1, sizeof *list);
    int32_t *file_of = fl_calloc((size_t)m->n_fragments + 1, sizeof *file_of);
    int rc = list && file_of ? FL_OK : oom(err);
    size_t k = 0;
    for (uint32_t i = 0; rc == FL_OK && i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        int f = fl_index_field(t, x);
        fl_index_info *info = &list[k];
        rc = fl_index_coverage(t, x, file_of, err);
        if (rc != FL_OK) break;
        info->name = fl_strdup(x->name);
        info->type = fl_strdup(x->type);
        ix_fields fs;
        info->column = fl_strdup(f >= 0 && fields_of(t, x, &fs) ? fs.label : "?");
        k++;
        if (!info->name || !info->type || !info->column) rc = oom(err);
        info->created_version = x->created_version;
        info->fragments_total = m->n_fragments;
        for (uint32_t j = 0; j < m->n_fragments; j++) info->fragments_covered += file_of[j] >= 0;
    }
    fl_free(file_of);
    if (rc != FL_OK) {
        fl_index_info_free(list, k);
        return rc;
    }
    *out = list;
    *n = k;
    return FL_OK;
}

void fl_index_info_free(fl_index_info *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        fl_free(list[i].name);
        fl_free(list[i].type);
        fl_free(list[i].column);
    }
    fl_free(list);
}
