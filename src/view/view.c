/*
 * view.c — materialized views (framelake.h, docs/VIEWS.md): a table holding, under the source rows' own
 * row ids, the projection of the source rows where a filter holds, and the source version it reflects.
 *
 * Refresh from source version s0 (what the view reflects) to s1 reads only what changed in between, found in
 * the source's manifest at s1:
 *   - rows whose row version (table.h) is newer than s0, in fragments where a column the view reads has a
 *     data file newer than s0 (appends, updates and backfills of those columns; compaction carries row
 *     versions, so moved rows are not candidates): re-evaluated, then added, removed, rewritten, or left;
 *   - deletions: fragments whose deletion file is newer than s0 name rows that may have left;
 *   - rows gone from the source entirely (dropped fragments, deleted rows that compaction removed): the
 *     view's row id runs minus the source's, computed on the two run lists without reading data.
 * A rewritten row is removed and added again with the same id (the table layer keeps the live copy
 * findable). A rebuild (`full`) evaluates every live source row. Both end in one refresh commit, which
 * fails on any concurrent refresh, so the loser starts over from the winner's state.
 *
 * Invariants:
 *  1. After a refresh to s1, the view's rows equal a rebuild at s1 (tested property-style).
 *  2. The view's metadata (keys below) names the source version its rows reflect; it changes only in the
 *     commit that changes the rows.
 *  3. An incremental refresh is refused when the source's history cannot support it: the source went back
 *     (restore after s0), was recreated (other table id), or a column the view reads was replaced (other
 *     field id).
 */
#include "../query/project.h"
#include "../query/select.h"
#include "../table/table.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_WHERE "view.where"
#define KEY_SELECT "view.select"
#define KEY_SOURCE_VERSION "view.source_version"
#define KEY_SOURCE_ID "view.source_table_id"
#define KEY_SOURCE_FIELDS "view.source_fields"
#define CHUNK_ROWS 8192
#define MAX_ATTEMPTS 16

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool fl_table_is_view(const fl_table *t) { return fl_schema_get_metadata(t->m->schema, FL_VIEW_SOURCE_KEY) != NULL; }

/* ---- definition ---- */

typedef struct view_def {
    const char *source, *where, *select, *source_fields; /* into the view's schema metadata */
    uint64_t source_version, source_table_id;
} view_def;

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

static int read_def(const fl_table *v, view_def *d, fl_error *err) {
    const fl_schema *s = v->m->schema;
    memset(d, 0, sizeof *d);
    d->source = fl_schema_get_metadata(s, FL_VIEW_SOURCE_KEY);
    if (!d->source) return fl_error_set(err, FL_EINVAL, "table '%s' is not a materialized view", v->name);
    d->where = fl_schema_get_metadata(s, KEY_WHERE);
    d->select = fl_schema_get_metadata(s, KEY_SELECT);
    d->source_fields = fl_schema_get_metadata(s, KEY_SOURCE_FIELDS);
    if (!d->where) d->where = "";
    if (!d->select) d->select = "*";
    if (!d->source_fields) d->source_fields = "";
    if (!parse_u64(fl_schema_get_metadata(s, KEY_SOURCE_VERSION), &d->source_version) ||
        !parse_u64(fl_schema_get_metadata(s, KEY_SOURCE_ID), &d->source_table_id))
        return fl_error_set(err, FL_ECORRUPT, "view '%s' version %llu: damaged definition (%s or %s)", v->name, (unsigned long long)v->m->version,
                            KEY_SOURCE_VERSION, KEY_SOURCE_ID);
    return FL_OK;
}

/* The compiled definition against one source version. */
typedef struct plan {
    fl_expr *where;             /* NULL: every row */
    fl_projection *proj;
    int32_t n_read;             /* source columns read: the filter's first, then the projection's */
    const fl_field **read;      /* into the source schema */
    int32_t n_filter;           /* read[0 .. n_filter) are the filter's columns */
    char *fields_text;          /* "id,...": field ids of read[] (KEY_SOURCE_FIELDS) */
} plan;

static void plan_clear(plan *p) {
    fl_expr_free(p->where);
    fl_projection_free(p->proj);
    fl_free(p->read);
    fl_free(p->fields_text);
    memset(p, 0, sizeof *p);
}

static int add_read(plan *p, const fl_schema *s, const char *name) {
    for (int32_t i = 0; i < p->n_read; i++)
        if (!strcmp(p->read[i]->name, name)) return FL_OK;
    int k = fl_schema_find(s, name);
    if (k < 0) return FL_OK; /* an internal column: not stored */
    p->read[p->n_read++] = &s->fields[k];
    return FL_OK;
}

/* Compiles the definition against `src`'s schema; messages name the view and the clause. */
static int compile_plan(const char *view, const fl_table *src, const char *where, const char *select, plan *p, fl_error *err) {
    memset(p, 0, sizeof *p);
    const fl_schema *s = src->m->schema;
    int rc = FL_OK;
    if (!fl_blank(where)) rc = fl_expr_compile_filter(where, s, &p->where, err);
    if (rc == FL_OK) rc = fl_projection_compile(select, s, &p->proj, err);
    if (rc != FL_OK) {
        fl_error_prefix(err, rc, "view '%s': %s (on '%s' version %llu)", view, p->where || fl_blank(where) ? "select" : "where", src->name,
                        (unsigned long long)src->m->version);
        plan_clear(p);
        return rc;
    }
    if (!(p->read = fl_calloc((size_t)s->n_fields + 1, sizeof *p->read))) rc = FL_ENOMEM;
    for (int32_t i = 0; rc == FL_OK && p->where && i < p->where->n_columns; i++) rc = add_read(p, s, p->where->columns[i]);
    p->n_filter = p->n_read;
    for (int32_t i = 0; rc == FL_OK && i < p->proj->exprs.n_columns; i++) rc = add_read(p, s, p->proj->exprs.columns[i]);
    fl_buf b;
    fl_buf_init(&b);
    for (int32_t i = 0; rc == FL_OK && i < p->n_read; i++) {
        char *item = fl_sprintf("%s%d", i ? "," : "", p->read[i]->id);
        if (!item) rc = FL_ENOMEM;
        else fl_buf_append(&b, item, strlen(item));
        fl_free(item);
    }
    fl_buf_append(&b, "", 1);
    if (rc == FL_OK && !b.failed) {
        p->fields_text = (char *)b.data;
    } else {
        fl_buf_free(&b);
        rc = FL_ENOMEM;
    }
    if (rc != FL_OK) {
        plan_clear(p);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    return FL_OK;
}

/* The view's columns must still be what the definition produces. */
static int check_schema(const fl_table *v, const plan *p, fl_error *err) {
    const fl_schema *vs = v->m->schema, *ps = p->proj->schema;
    bool same = vs->n_fields == ps->n_fields;
    for (int32_t i = 0; same && i < vs->n_fields; i++)
        same = !strcmp(vs->fields[i].name, ps->fields[i].name) && fl_field_same_type(&vs->fields[i], &ps->fields[i]) &&
               (vs->fields[i].nullable || !ps->fields[i].nullable);
    if (same) return FL_OK;
    return fl_error_set(err, FL_EINVAL, "view '%s': its select list now gives other columns or types on the source; drop the view and create it again",
                        v->name);
}

/* Invariant 3: the columns the view reads must have the field ids they had at s0 (a column dropped and
 * added again under its name has a new id, and its values changed without row versions saying so). */
static int check_fields(const fl_table *v, const view_def *d, const plan *p, const fl_table *src, fl_error *err) {
    const char *at = d->source_fields;
    for (int32_t i = 0; i < p->n_read; i++) {
        char *end;
        long id = strtol(at, &end, 10);
        if (end == at || (*end != ',' && *end != '\0'))
            return fl_error_set(err, FL_ECORRUPT, "view '%s': damaged %s '%s'", v->name, KEY_SOURCE_FIELDS, d->source_fields);
        if (id != p->read[i]->id)
            return fl_error_set(err, FL_EINVAL, "view '%s': column '%s' of '%s' was dropped and added again (or replaced) after version %llu, "
                                "so its changes cannot be followed; rebuild with `framelake view refresh --full`",
                                v->name, p->read[i]->name, src->name, (unsigned long long)d->source_version);
        at = *end ? end + 1 : end;
    }
    if (*at) return fl_error_set(err, FL_ECORRUPT, "view '%s': damaged %s '%s'", v->name, KEY_SOURCE_FIELDS, d->source_fields);
    return FL_OK;
}

/* Invariant 3 for a source that predates restore marks (table id 0: only format-1 writers committed it, so
 * restored_at says nothing): look for a restore in the versions after s0, which must all still exist. */
static int check_history(const fl_table *v, fl_table *src, uint64_t s0, fl_error *err) {
    for (uint64_t ver = s0 + 1; ver <= src->m->version; ver++) {
        fl_manifest *m;
        fl_error inner = {0};
        int rc = fl_table_load_manifest(src, ver, &m, &inner);
        if (rc == FL_ENOTFOUND)
            return fl_error_set(err, FL_EINVAL, "view '%s': version %llu of '%s' was cleaned up and the table predates restore tracking, so its "
                                "changes since version %llu cannot be checked; rebuild with `framelake view refresh --full`",
                                v->name, (unsigned long long)ver, src->name, (unsigned long long)s0);
        if (rc != FL_OK) {
            if (err) *err = inner;
            return rc;
        }
        bool restored = m->restore;
        fl_manifest_free(m);
        if (restored)
            return fl_error_set(err, FL_EINVAL, "view '%s': '%s' was restored at version %llu, after the version %llu the view reflects, so its "
                                "changes cannot be followed; rebuild with `framelake view refresh --full`",
                                v->name, src->name, (unsigned long long)ver, (unsigned long long)s0);
    }
    return FL_OK;
}

/* ---- refresh ---- */

typedef struct id_list {
    uint64_t *ids;
    size_t n, cap;
} id_list;

static int id_push(id_list *l, uint64_t id) {
    if (!fl_reserve((void **)&l->ids, &l->cap, l->n + 1, sizeof *l->ids, 256)) return FL_ENOMEM;
    l->ids[l->n++] = id;
    return FL_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void id_sort_unique(id_list *l) {
    if (l->n > 1) qsort(l->ids, l->n, sizeof *l->ids, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!k || l->ids[i] != l->ids[k - 1]) l->ids[k++] = l->ids[i];
    l->n = k;
}

/* Candidate offsets of one fragment, gathered so that scattered rows are evaluated together. */
typedef struct chunk {
    uint64_t *offs;
    int64_t n;
} chunk;

typedef struct refresh_ctx {
    fl_table *view, *src;
    const plan *p;
    uint64_t s0;
    bool full;
    fl_refresh *r;
    id_list remove;             /* view rows to delete (sorted and deduplicated at the end) */
    id_list added_ids;          /* full: every id written, to count the difference with the old rows */
    fl_batch *out;              /* projected rows waiting to be written (view schema, row ids alongside) */
    id_list out_ids;
    fl_batch *in;               /* the rows being evaluated: the columns read, for one range */
    fl_batch *filter_in;        /* the same, filter columns only */
    chunk chunk;                /* candidate offsets waiting for evaluation (CHUNK_ROWS of room) */
    int64_t added, removed, updated, rows_read;
    fl_error *err;
} refresh_ctx;

/* Whether `id` is a live row of t. */
static int is_live(fl_table *t, uint64_t id, bool *live, fl_error *err) {
    uint32_t fi;
    uint64_t off;
    *live = false;
    if (!fl_table_locate(t, id, &fi, &off)) return FL_OK;
    const deletion_set *d;
    FL_RETURN_NOT_OK(fl_table_deletions(t, fi, &d, err));
    *live = !fl_deletion_contains(d, off);
    return FL_OK;
}

static int flush_out(refresh_ctx *c) {
    if (!c->out->columns[0].length) return FL_OK;
    FL_RETURN_NOT_OK(fl_batch_finish(c->out, c->err));
    FL_RETURN_NOT_OK(fl_batch_set_row_ids(c->out, c->out_ids.ids, c->out_ids.n) == FL_OK ? FL_OK : fl_error_set(c->err, FL_ENOMEM, "out of memory"));
    int rc = fl_refresh_add(c->r, c->out, c->err);
    for (int32_t i = 0; i < c->out->n_columns; i++) fl_array_reset(&c->out->columns[i]);
    fl_free(c->out->row_ids);
    c->out->row_ids = NULL;
    c->out->num_rows = 0;
    c->out_ids.n = 0;
    return rc;
}

static void batch_reset(fl_batch *b) {
    for (int32_t i = 0; i < b->n_columns; i++) fl_array_reset(&b->columns[i]);
    fl_free(b->row_ids);
    b->row_ids = NULL;
    b->num_rows = 0;
}

/* Copies rows sel[0..n) of `from` column into `to` (runs of consecutive rows in one call). */
static int gather(fl_array *to, const fl_array *from, const int64_t *sel, int64_t n) {
    int64_t i = 0;
    while (i < n) {
        int64_t j = i + 1;
        while (j < n && sel[j] == sel[j - 1] + 1) j++;
        FL_RETURN_NOT_OK(fl_array_append_range(to, from, sel[i], j - i));
        i = j;
    }
    return FL_OK;
}

/* Whether value i of x and value j of y (same type) are the same value: floats bit for bit (-0.0 is not
 * 0.0, NaN is itself), nested values element by element. */
static bool same_value(const fl_array *x, int64_t i, const fl_array *y, int64_t j) {
    bool nx = fl_array_is_null(x, i), ny = fl_array_is_null(y, j);
    if (nx || ny) return nx == ny;
    switch (x->type) {
    case FL_TYPE_FLOAT32: return !memcmp((const float *)x->values + i, (const float *)y->values + j, sizeof(float));
    case FL_TYPE_FLOAT64: return !memcmp((const double *)x->values + i, (const double *)y->values + j, sizeof(double));
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        int64_t sx, ex, sy, ey;
        fl_array_get_list(x, i, &sx, &ex);
        fl_array_get_list(y, j, &sy, &ey);
        if (ex - sx != ey - sy) return false;
        for (int64_t k = 0; k < ex - sx; k++)
            if (!same_value(&x->children[0], sx + k, &y->children[0], sy + k)) return false;
        return true;
    }
    case FL_TYPE_STRUCT:
        for (int32_t k = 0; k < x->n_children; k++)
            if (!same_value(&x->children[k], i, &y->children[k], j)) return false;
        return true;
    default: return fl_value_compare(x, i, y, j) == 0;
    }
}

/* Whether projected row i of `a` equals row j of the view batch `b` in every column. */
static bool same_row(const fl_batch *a, int64_t i, const fl_batch *b, int64_t j) {
    for (int32_t c = 0; c < a->n_columns; c++)
        if (!same_value(&a->columns[c], i, &b->columns[c], j)) return false;
    return true;
}

/* Appends the values of `field` at physical offsets offs[pick[j]] (j < m; ascending) of fragment fi to dst,
 * one read per stretch of consecutive offsets. pick NULL: every offset, m of them. */
static int read_rows(refresh_ctx *c, uint32_t fi, const fl_field *field, const uint64_t *offs, const int64_t *pick, int64_t m, fl_array *dst) {
    int64_t j = 0;
    while (j < m) {
        uint64_t lo = offs[pick ? pick[j] : j];
        int64_t e = j + 1;
        while (e < m && offs[pick ? pick[e] : e] == lo + (uint64_t)(e - j)) e++;
        FL_RETURN_NOT_OK(fl_table_read_column(c->src, fi, field, (int64_t)lo, e - j, dst, c->err));
        j = e;
    }
    return FL_OK;
}

/*
 * Evaluates the live source rows at physical offsets offs[0..n) (ascending) of fragment fi (ids from the
 * walker) and applies them to the view. `compare`: rows already in the view may have new projected
 * values, so compare before rewriting.
 */
static int process_rows(refresh_ctx *c, uint32_t fi, const uint64_t *offs, int64_t n, fl_id_walker *w, bool compare) {
    const plan *p = c->p;
    fl_error *err = c->err;
    int rc = FL_OK;
    int64_t *sel = fl_malloc((size_t)n * sizeof *sel), *keep = fl_malloc((size_t)n * sizeof *keep);
    bool *in_view = fl_calloc((size_t)n, sizeof *in_view);
    uint64_t *ids = fl_malloc((size_t)n * sizeof *ids);
    if (!sel || !keep || !in_view || !ids) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int64_t i = 0; rc == FL_OK && i < n; i++) ids[i] = fl_id_at(w, offs[i]);
    c->rows_read += n;
    /* 1. The filter over its columns. */
    int64_t n_sel = n;
    if (rc == FL_OK && p->where) {
        batch_reset(c->filter_in);
        for (int32_t k = 0; rc == FL_OK && k < p->n_filter; k++) rc = read_rows(c, fi, p->read[k], offs, NULL, n, &c->filter_in->columns[k]);
        c->filter_in->num_rows = n;
        if (rc == FL_OK) rc = fl_expr_filter_rows(p->where, c->filter_in, sel, &n_sel, err);
    } else if (rc == FL_OK) {
        for (int64_t i = 0; i < n; i++) sel[i] = i;
    }
    /* 2. Against the view: rows that left, rows that entered, rows that may have changed. */
    int64_t n_keep = 0, n_check = 0, s = 0;
    for (int64_t i = 0; rc == FL_OK && i < n; i++) {
        bool matches = s < n_sel && sel[s] == i;
        if (matches) s++;
        if (!c->full) rc = is_live(c->view, ids[i], &in_view[i], err);
        if (rc != FL_OK) break;
        if (!matches) {
            if (in_view[i]) rc = id_push(&c->remove, ids[i]) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
            continue;
        }
        if (in_view[i] && !compare) continue;
        n_check += in_view[i];
        keep[n_keep++] = i;
    }
    /* 3. The kept rows' columns, projected. Blobs are read row by row, only for kept rows. */
    if (rc == FL_OK && n_keep) {
        batch_reset(c->in);
        for (int32_t k = 0; rc == FL_OK && k < p->n_read; k++) {
            fl_array *dst = &c->in->columns[k];
            if (k < p->n_filter)
                rc = gather(dst, &c->filter_in->columns[k], keep, n_keep) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
            else
                rc = read_rows(c, fi, p->read[k], offs, keep, n_keep, dst);
        }
        uint64_t *kept_ids = rc == FL_OK ? fl_malloc((size_t)n_keep * sizeof *kept_ids) : NULL;
        if (rc == FL_OK && !kept_ids) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int64_t i = 0; rc == FL_OK && i < n_keep; i++) kept_ids[i] = ids[keep[i]];
        if (rc == FL_OK) {
            c->in->num_rows = n_keep;
            c->in->row_ids = kept_ids;
            kept_ids = NULL;
        }
        fl_free(kept_ids);
        fl_batch *proj = rc == FL_OK ? fl_batch_new_empty(p->proj->schema) : NULL;
        if (rc == FL_OK && !proj) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) rc = fl_projection_eval(p->proj, c->in, proj, err);
        if (rc == FL_OK) proj->num_rows = n_keep;
        /* Rows already in the view: rewritten only when a value differs. */
        fl_batch *old = NULL;
        if (rc == FL_OK && n_check) {
            uint64_t *check = fl_malloc((size_t)n_check * sizeof *check);
            int64_t q = 0;
            if (!check) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            for (int64_t i = 0; rc == FL_OK && i < n_keep; i++)
                if (in_view[keep[i]]) check[q++] = ids[keep[i]];
            if (rc == FL_OK) rc = fl_table_take(c->view, check, (size_t)n_check, NULL, 0, &old, err);
            fl_free(check);
        }
        int64_t q = 0;
        for (int64_t i = 0; rc == FL_OK && i < n_keep; i++) {
            uint64_t id = ids[keep[i]];
            if (in_view[keep[i]]) {
                if (same_row(proj, i, old, q++)) continue;
                if (id_push(&c->remove, id) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                c->updated++;
            } else {
                c->added++;
            }
            for (int32_t k = 0; rc == FL_OK && k < proj->n_columns; k++)
                if (fl_array_append_from(&c->out->columns[k], &proj->columns[k], i) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            if (rc == FL_OK && id_push(&c->out_ids, id) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            if (rc == FL_OK && c->full && id_push(&c->added_ids, id) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        }
        fl_batch_free(old);
        fl_batch_free(proj);
        if (rc == FL_OK && (int64_t)c->out_ids.n >= CHUNK_ROWS) rc = flush_out(c);
    }
    fl_free(sel);
    fl_free(keep);
    fl_free(in_view);
    fl_free(ids);
    return rc;
}

/* Adds the live offsets of [lo, hi) of fragment fi to the chunk, evaluating it whenever it fills. */
static int add_offsets(refresh_ctx *c, chunk *ch, uint32_t fi, const deletion_set *d, uint64_t lo, uint64_t hi, fl_id_walker *w, bool compare) {
    /* First deleted offset at or after lo. */
    size_t k = 0, b = (size_t)d->n;
    while (k < b) {
        size_t mid = (k + b) / 2;
        if (d->offsets[mid] < lo) k = mid + 1;
        else b = mid;
    }
    for (uint64_t pos = lo; pos < hi; pos++) {
        if (k < d->n && d->offsets[k] == pos) {
            k++;
            continue;
        }
        ch->offs[ch->n++] = pos;
        if (ch->n == CHUNK_ROWS) {
            FL_RETURN_NOT_OK(process_rows(c, fi, ch->offs, ch->n, w, compare));
            ch->n = 0;
        }
    }
    return FL_OK;
}

static int flush_chunk(refresh_ctx *c, chunk *ch, uint32_t fi, fl_id_walker *w, bool compare) {
    int rc = ch->n ? process_rows(c, fi, ch->offs, ch->n, w, compare) : FL_OK;
    ch->n = 0;
    return rc;
}

/* Whether fragment f has a data file newer than s0 holding one of the columns the view reads. */
static bool columns_changed(const fl_fragment *f, const plan *p, uint64_t s0) {
    for (int32_t k = 0; k < p->n_read; k++)
        if (fl_fragment_column_version(f, p->read[k]->id) > s0) return true;
    return false;
}

/* Incremental: the source rows changed after s0. */
static int apply_source_changes(refresh_ctx *c) {
    fl_table *src = c->src;
    const fl_manifest *m = src->m;
    fl_error *err = c->err;
    for (uint32_t fi = 0; fi < m->n_fragments; fi++) {
        const fl_fragment *f = &m->fragments[fi];
        const deletion_set *d = NULL;
        /* Rows deleted since s0 that the view may hold (a re-added live copy elsewhere is a candidate there). */
        if (f->deletion_version > c->s0) {
            FL_RETURN_NOT_OK(fl_table_deletions(src, fi, &d, err));
            fl_id_walker w = {f, 0, 0};
            for (uint64_t i = 0; i < d->n; i++) {
                uint64_t id = fl_id_at(&w, d->offsets[i]);
                bool in_view, in_src;
                FL_RETURN_NOT_OK(is_live(c->view, id, &in_view, err));
                if (!in_view) continue;
                FL_RETURN_NOT_OK(is_live(src, id, &in_src, err));
                if (in_src) continue;
                if (id_push(&c->remove, id) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            }
        }
        if (!columns_changed(f, c->p, c->s0)) continue;
        /* Values of rows already in the view can differ only where a column the projection reads was
         * rewritten; otherwise those rows stay as they are. */
        bool compare = false;
        for (int32_t q = 0; q < c->p->proj->exprs.n_columns && !compare; q++) {
            int k = fl_schema_find(m->schema, c->p->proj->exprs.columns[q]);
            compare = k >= 0 && fl_fragment_column_version(f, m->schema->fields[k].id) > c->s0;
        }
        fl_vrun_cursor vc = {f, 0, 0};
        fl_id_walker w = {f, 0, 0};
        uint64_t off, count, version;
        while (fl_vrun_next(&vc, &off, &count, &version)) {
            if (version <= c->s0) continue;
            if (!d) FL_RETURN_NOT_OK(fl_table_deletions(src, fi, &d, err));
            FL_RETURN_NOT_OK(add_offsets(c, &c->chunk, fi, d, off, off + count, &w, compare));
        }
        FL_RETURN_NOT_OK(flush_chunk(c, &c->chunk, fi, &w, compare));
    }
    /* Rows gone from the source altogether: the view's row id runs minus the source's. */
    const fl_table *v = c->view;
    size_t j = 0;
    for (size_t i = 0; i < v->n_rids; i++) {
        uint64_t pos = v->rids[i].start, end = pos + v->rids[i].count;
        while (pos < end) {
            while (j < src->n_rids && src->rids[j].start + src->rids[j].count <= pos) j++;
            if (j < src->n_rids && src->rids[j].start <= pos) {
                uint64_t covered = src->rids[j].start + src->rids[j].count;
                pos = covered < end ? covered : end;
                continue;
            }
            uint64_t gap = j < src->n_rids && src->rids[j].start < end ? src->rids[j].start : end;
            for (uint64_t id = pos; id < gap; id++) {
                bool in_view;
                FL_RETURN_NOT_OK(is_live(c->view, id, &in_view, err));
                if (!in_view) continue;
                if (id_push(&c->remove, id) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            }
            pos = gap;
        }
    }
    return FL_OK;
}

/* Full: every live source row. */
static int rebuild(refresh_ctx *c) {
    const fl_manifest *m = c->src->m;
    for (uint32_t fi = 0; fi < m->n_fragments; fi++) {
        const deletion_set *d;
        FL_RETURN_NOT_OK(fl_table_deletions(c->src, fi, &d, c->err));
        fl_id_walker w = {&m->fragments[fi], 0, 0};
        FL_RETURN_NOT_OK(add_offsets(c, &c->chunk, fi, d, 0, m->fragments[fi].physical_rows, &w, false));
        FL_RETURN_NOT_OK(flush_chunk(c, &c->chunk, fi, &w, false));
    }
    return FL_OK;
}

/* The view's live row ids, ascending. */
static int live_ids(fl_table *t, id_list *out, fl_error *err) {
    for (uint32_t fi = 0; fi < t->m->n_fragments; fi++) {
        const fl_fragment *f = &t->m->fragments[fi];
        const deletion_set *d;
        FL_RETURN_NOT_OK(fl_table_deletions(t, fi, &d, err));
        fl_rid_cursor cur = {f, 0, 0};
        for (uint64_t off = 0; off < f->physical_rows; off++) {
            uint64_t id = fl_rid_next(&cur);
            if (!fl_deletion_contains(d, off) && id_push(out, id) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        }
    }
    id_sort_unique(out);
    return FL_OK;
}

/* |a \ b| for sorted unique lists. */
static int64_t count_minus(const id_list *a, const id_list *b) {
    int64_t n = 0;
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->ids[j] < a->ids[i]) j++;
        if (j == b->n || b->ids[j] != a->ids[i]) n++;
    }
    return n;
}

static void ctx_clear(refresh_ctx *c) {
    fl_refresh_abort(c->r);
    fl_free(c->remove.ids);
    fl_free(c->added_ids.ids);
    fl_free(c->out_ids.ids);
    fl_batch_free(c->out);
    fl_batch_free(c->in);
    fl_batch_free(c->filter_in);
    fl_free(c->chunk.offs);
}

/* A batch schema of fields read[from .. to). */
static fl_batch *read_batch(const plan *p, int32_t from, int32_t to) {
    fl_schema *s = fl_schema_new();
    fl_batch *b = NULL;
    bool ok = s != NULL;
    for (int32_t k = from; ok && k < to; k++) ok = fl_schema_append_field(s, p->read[k]) == FL_OK;
    if (ok) b = fl_batch_new_empty(s);
    fl_schema_free(s);
    return b;
}

/* One refresh attempt of the view handle `v` (at its latest version) to source handle `src`. */
static int refresh_once(fl_table *v, fl_table *src, const view_def *d, const fl_view_refresh_options *o, fl_view_report *rep, fl_error *err) {
    uint64_t s1 = src->m->version, s0 = d->source_version;
    bool full = o->full || s0 == 0;
    rep->source_version_before = s0;
    rep->rows_before = v->m->num_rows;
    rep->full = full;
    if (!full) {
        if (d->source_table_id && src->m->table_id && d->source_table_id != src->m->table_id)
            return fl_error_set(err, FL_EINVAL, "view '%s': table '%s' was dropped and created again since the view was refreshed; rebuild with "
                                "`framelake view refresh --full`", v->name, src->name);
        if (s1 < s0)
            return fl_error_set(err, FL_EINVAL, "view '%s' reflects version %llu of '%s', newer than version %llu; rebuild with "
                                "`framelake view refresh --full` to go back", v->name, (unsigned long long)s0, src->name, (unsigned long long)s1);
        if (s1 == s0) {
            rep->rows_after = v->m->num_rows;
            rep->version = v->m->version;
            rep->source_version = s1;
            return FL_OK;
        }
        if (src->m->restored_at > s0)
            return fl_error_set(err, FL_EINVAL, "view '%s': '%s' was restored at version %llu, after the version %llu the view reflects, so its "
                                "changes cannot be followed; rebuild with `framelake view refresh --full`",
                                v->name, src->name, (unsigned long long)src->m->restored_at, (unsigned long long)s0);
        if (!src->m->table_id) FL_RETURN_NOT_OK(check_history(v, src, s0, err));
    }
    plan p;
    FL_RETURN_NOT_OK(compile_plan(v->name, src, d->where, d->select, &p, err));
    refresh_ctx c = {.view = v, .src = src, .p = &p, .s0 = s0, .full = full, .err = err};
    int rc = full ? FL_OK : check_fields(v, d, &p, src, err);
    if (rc == FL_OK) rc = check_schema(v, &p, err);
    if (rc == FL_OK) rc = fl_refresh_begin(v, o->max_rows_per_fragment, &c.r, err);
    if (rc == FL_OK) {
        c.out = fl_batch_new_empty(p.proj->schema);
        c.in = read_batch(&p, 0, p.n_read);
        c.filter_in = read_batch(&p, 0, p.n_filter);
        c.chunk.offs = fl_malloc(CHUNK_ROWS * sizeof *c.chunk.offs);
        if (!c.out || !c.in || !c.filter_in || !c.chunk.offs) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    if (rc == FL_OK) {
        if (full) {
            rc = fl_refresh_remove_all(c.r, err);
            if (rc == FL_OK) rc = rebuild(&c);
        } else {
            rc = apply_source_changes(&c);
        }
    }
    if (rc == FL_OK) rc = flush_out(&c);
    if (rc == FL_OK && !full) {
        /* A row that left may be found twice (its deletion and its absence from the source's runs); the
         * rewritten rows are on the list too. */
        id_sort_unique(&c.remove);
        c.removed = (int64_t)c.remove.n - c.updated;
        rc = fl_refresh_remove(c.r, c.remove.ids, c.remove.n, err);
    }
    if (rc == FL_OK && full) {
        /* What entered and left, against the rows the view had. */
        id_list old = {0};
        rc = live_ids(v, &old, err);
        id_sort_unique(&c.added_ids);
        c.added = count_minus(&c.added_ids, &old);
        c.removed = count_minus(&old, &c.added_ids);
        fl_free(old.ids);
    }
    rep->rows_read = c.rows_read;
    if (rc == FL_OK) {
        char s1_text[24], id_text[24], detail[128];
        snprintf(s1_text, sizeof s1_text, "%llu", (unsigned long long)s1);
        snprintf(id_text, sizeof id_text, "%llu", (unsigned long long)src->m->table_id);
        snprintf(detail, sizeof detail, "%s+%lld -%lld rows, %lld updated (source v%llu)", full ? "rebuild " : "", (long long)c.added,
                 (long long)c.removed, (long long)c.updated, (unsigned long long)s1);
        const char *keys[3] = {KEY_SOURCE_VERSION, KEY_SOURCE_ID, KEY_SOURCE_FIELDS};
        const char *values[3] = {s1_text, id_text, p.fields_text};
        fl_refresh *r = c.r;
        c.r = NULL;
        rc = fl_refresh_commit(r, keys, values, 3, detail, err);
    }
    if (rc == FL_OK) {
        rep->changed = true;
        rep->added = c.added;
        rep->removed = c.removed;
        rep->updated = c.updated;
        rep->rows_after = v->m->num_rows;
        rep->version = v->m->version;
        rep->source_version = s1;
    }
    ctx_clear(&c);
    plan_clear(&p);
    return rc;
}

int fl_view_refresh(fl_db *db, const char *name, const fl_view_refresh_options *opts, fl_view_report *report, fl_error *err) {
    fl_view_refresh_options o = opts ? *opts : (fl_view_refresh_options){0};
    fl_view_report rep;
    double t0 = now_seconds();
    int rc = FL_OK;
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        memset(&rep, 0, sizeof rep);
        rep.attempts = attempt;
        fl_table *v = NULL, *src = NULL;
        view_def d;
        rc = fl_table_open(db, name, NULL, &v, err);
        if (rc == FL_OK) rc = read_def(v, &d, err);
        if (rc == FL_OK && !strcmp(d.source, name)) rc = fl_error_set(err, FL_ECORRUPT, "view '%s' names itself as its source", name);
        if (rc == FL_OK) {
            fl_open_options so = {.version = o.source_version};
            fl_error inner = {0};
            rc = fl_table_open(db, d.source, &so, &src, &inner);
            if (rc == FL_ENOTFOUND && o.source_version)
                rc = fl_error_set(err, FL_ENOTFOUND, "view '%s': version %llu of source '%s' does not exist (or was cleaned up): %s", name,
                                  (unsigned long long)o.source_version, d.source, inner.message);
            else if (rc == FL_ENOTFOUND)
                rc = fl_error_set(err, FL_ENOTFOUND, "view '%s': source '%s' not found (dropped?)", name, d.source);
            else if (rc != FL_OK && err)
                *err = inner;
        }
        if (rc == FL_OK) rc = refresh_once(v, src, &d, &o, &rep, err);
        fl_table_close(src);
        fl_table_close(v);
        if (rc != FL_ECONFLICT) break;
        fl_error_clear(err);
    }
    rep.seconds = now_seconds() - t0;
    if (report) *report = rep;
    return rc;
}

/* Appends a column name of schema s to b: bare when it reads back as that column (a plain lowercase name
 * that is not a keyword), double-quoted otherwise (`order`, `Mixed Case`, `a:b`). */
static void put_name(fl_buf *b, const char *name, const fl_schema *s) {
    bool bare = (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_';
    for (const char *c = name; bare && *c; c++) bare = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
    if (bare) {
        fl_projection *p = NULL;
        bare = fl_projection_compile(name, s, &p, NULL) == FL_OK && p->n_items == 1 && p->items[0].column && !strcmp(p->items[0].name, name);
        fl_projection_free(p);
    }
    if (bare) {
        fl_buf_append(b, name, strlen(name));
        return;
    }
    fl_buf_append(b, "\"", 1);
    for (const char *c = name; *c; c++) {
        if (*c == '"') fl_buf_append(b, "\"\"", 2); /* an embedded quote is doubled */
        else fl_buf_append(b, c, 1);
    }
    fl_buf_append(b, "\"", 1);
}

/* The select list with every top-level `*` item replaced by the schema's column names (a new string). */
static char *expand_star(const char *text, const fl_schema *s) {
    fl_buf b;
    fl_buf_init(&b);
    const char *item = text, *p = text;
    int depth = 0;
    char quote = 0;
    for (;; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
            else if (!*p) break;
            continue;
        }
        if (*p == '\'' || *p == '"') quote = *p;
        else if (*p == '(' || *p == '[') depth++;
        else if ((*p == ')' || *p == ']') && depth > 0) depth--;
        if ((*p == ',' && depth == 0) || !*p) {
            const char *a = item, *e = p;
            while (a < e && (*a == ' ' || *a == '\t' || *a == '\n')) a++;
            while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
            if (item != text) fl_buf_append(&b, ", ", 2);
            if (e - a == 1 && *a == '*') {
                for (int32_t i = 0; i < s->n_fields; i++) {
                    if (i) fl_buf_append(&b, ", ", 2);
                    put_name(&b, s->fields[i].name, s);
                }
            } else {
                fl_buf_append(&b, a, (size_t)(e - a));
            }
            if (!*p) break;
            item = p + 1;
        }
    }
    if (quote) { /* unbalanced: leave the text to the parser, which reports where */
        fl_buf_free(&b);
        return fl_strdup(text);
    }
    fl_buf_append(&b, "", 1);
    if (b.failed) {
        fl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

int fl_view_create(fl_db *db, const char *name, const char *source, const char *where, const char *select, fl_view_report *report,
                   fl_error *err) {
    if (report) memset(report, 0, sizeof *report);
    if (!source || !name) return fl_error_set(err, FL_EINVAL, "a view needs a name and a source");
    if (!strcmp(source, name)) return fl_error_set(err, FL_EINVAL, "view '%s' cannot be its own source", name);
    fl_table *src;
    FL_RETURN_NOT_OK(fl_table_open(db, source, NULL, &src, err));
    /* `*` means the source's columns now: the definition names them, so later columns do not change it. */
    char *fixed = expand_star(fl_blank(select) ? "*" : select, src->m->schema);
    if (!fixed) {
        fl_table_close(src);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    plan p;
    int rc = compile_plan(name, src, where ? where : "", fixed, &p, err);
    fl_schema *s = NULL;
    if (rc == FL_OK && !(s = fl_schema_copy(p.proj->schema))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%llu", (unsigned long long)src->m->table_id);
    if (rc == FL_OK &&
        (fl_schema_set_metadata(s, FL_VIEW_SOURCE_KEY, source) != FL_OK || fl_schema_set_metadata(s, KEY_WHERE, fl_blank(where) ? "" : where) != FL_OK ||
         fl_schema_set_metadata(s, KEY_SELECT, fixed) != FL_OK || fl_schema_set_metadata(s, KEY_SOURCE_VERSION, "0") != FL_OK ||
         fl_schema_set_metadata(s, KEY_SOURCE_ID, id_text) != FL_OK || fl_schema_set_metadata(s, KEY_SOURCE_FIELDS, p.fields_text) != FL_OK))
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    plan_clear(&p);
    fl_free(fixed);
    fl_table_close(src);
    /* Version 1 holds the definition (source version 0: never built); the build is version 2. A build that
     * dies leaves version 1, and any refresh then rebuilds. */
    if (rc == FL_OK) rc = fl_table_create(db, name, s, NULL, err);
    fl_schema_free(s);
    if (rc == FL_OK && (rc = fl_view_refresh(db, name, NULL, report, err)) != FL_OK)
        fl_error_prefix(err, rc, "view '%s' was created but not built (run `framelake view refresh` to build it)", name);
    return rc;
}

/* ---- listing ---- */

void fl_view_info_free(fl_view_info *views, size_t n) {
    for (size_t i = 0; views && i < n; i++) {
        fl_free(views[i].name);
        fl_free(views[i].source);
        fl_free(views[i].where);
        fl_free(views[i].select);
    }
    fl_free(views);
}

/* Fills info from an open table; *is_view false (and nothing filled) for a plain table. */
static int describe(fl_db *db, fl_table *t, fl_view_info *info, bool *is_view, fl_error *err) {
    view_def d;
    *is_view = fl_table_is_view(t);
    if (!*is_view) return FL_OK;
    FL_RETURN_NOT_OK(read_def(t, &d, err));
    memset(info, 0, sizeof *info);
    info->name = fl_strdup(t->name);
    info->source = fl_strdup(d.source);
    info->where = fl_strdup(d.where);
    info->select = fl_strdup(d.select);
    if (!info->name || !info->source || !info->where || !info->select) return fl_error_set(err, FL_ENOMEM, "out of memory");
    info->version = t->m->version;
    info->rows = t->m->num_rows;
    info->source_version = d.source_version;
    fl_table *src;
    fl_error ignored = {0};
    if (fl_table_open(db, d.source, NULL, &src, &ignored) == FL_OK) {
        info->source_latest = src->m->version;
        fl_table_close(src);
    }
    info->stale = info->source_latest != info->source_version;
    return FL_OK;
}

int fl_view_get(fl_db *db, const char *name, fl_view_info **out, fl_error *err) {
    *out = NULL;
    fl_table *t;
    FL_RETURN_NOT_OK(fl_table_open(db, name, NULL, &t, err));
    fl_view_info *info = fl_calloc(1, sizeof *info);
    bool is_view = false;
    int rc = info ? describe(db, t, info, &is_view, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK && !is_view) rc = fl_error_set(err, FL_EINVAL, "table '%s' is not a materialized view", name);
    fl_table_close(t);
    if (rc != FL_OK) {
        fl_view_info_free(info, 1);
        return rc;
    }
    *out = info;
    return FL_OK;
}

int fl_view_list(fl_db *db, fl_view_info **out, size_t *n_out, fl_error *err) {
    *out = NULL;
    *n_out = 0;
    char **names;
    size_t n;
    FL_RETURN_NOT_OK(fl_db_list_tables(db, &names, &n, err));
    fl_view_info *list = fl_calloc(n ? n : 1, sizeof *list);
    size_t k = 0;
    int rc = list ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        fl_table *t;
        rc = fl_table_open(db, names[i], NULL, &t, err);
        if (rc == FL_ENOTFOUND) { /* dropped meanwhile */
            fl_error_clear(err);
            rc = FL_OK;
            continue;
        }
        bool is_view = false;
        if (rc == FL_OK) rc = describe(db, t, &list[k], &is_view, err);
        if (is_view) k++;
        fl_table_close(t);
    }
    fl_strings_free(names, n);
    if (rc != FL_OK) {
        fl_view_info_free(list, k); /* a view whose description failed midway is counted in k */
        return rc;
    }
    *out = list;
    *n_out = k;
    return FL_OK;
}

int fl_view_refresh_all(fl_db *db, const fl_view_refresh_options *opts,
                        void (*on_view)(void *ctx, const char *name, const fl_view_report *report, const fl_error *err), void *ctx,
                        fl_error *err) {
    fl_view_info *views;
    size_t n;
    FL_RETURN_NOT_OK(fl_view_list(db, &views, &n, err));
    /* Sources first: repeatedly take the views whose source is not a view still waiting. */
    bool *done = fl_calloc(n ? n : 1, sizeof *done);
    int first = FL_OK;
    fl_error first_err = {0};
    if (!done) first = fl_error_set(&first_err, FL_ENOMEM, "out of memory");
    for (size_t round = 0; first != FL_ENOMEM && round < n; round++) {
        bool progress = false;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            bool waits = false;
            for (size_t k = 0; k < n && !waits; k++) waits = !done[k] && k != i && !strcmp(views[k].name, views[i].source);
            if (waits) continue;
            fl_view_report rep;
            fl_error e = {0};
            int rc = fl_view_refresh(db, views[i].name, opts, &rep, &e);
            if (on_view) on_view(ctx, views[i].name, rc == FL_OK ? &rep : NULL, rc == FL_OK ? NULL : &e);
            if (rc != FL_OK && first == FL_OK) {
                first = rc;
                first_err = e;
            }
            done[i] = progress = true;
        }
        if (!progress) {
            for (size_t i = 0; i < n; i++)
                if (!done[i] && first == FL_OK) first = fl_error_set(&first_err, FL_EINVAL, "view '%s' is part of a cycle of views", views[i].name);
            break;
        }
    }
    fl_free(done);
    fl_view_info_free(views, n);
    if (first != FL_OK && err) *err = first_err;
    return first;
}
