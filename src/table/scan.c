/*
 * scan.c — reading a version: sequential scans with projection, offset and limit, and random access by
 * stable row id or by position.
 *
 * A scan walks fragments in manifest order, reads up to batch_size physical rows of each projected column
 * (one read per page, NULLs for columns a fragment has no file for), and drops deleted rows. Offsets skip
 * whole fragments using the manifest's counts without reading them.
 */
#include "table.h"

#include <stdlib.h>

struct fl_scan {
    fl_table *table;
    fl_schema *schema;          /* projected schema (copies of the table's fields, ids included) */
    int64_t batch_size;
    int64_t skip;               /* live rows still to skip */
    int64_t remaining;          /* rows still to return; -1: unlimited */
    bool with_row_ids;
    uint32_t fragment;          /* current fragment index */
    uint64_t position;          /* next physical row in it */
    fl_array *raw;              /* per column: the physical rows just read */
};

/* Projected schema: the named columns in the given order, or every column. */
static int project(const fl_table *t, const char *const *columns, size_t n, fl_schema **out, fl_error *err) {
    const fl_schema *s = t->m->schema;
    if (!columns) {
        *out = fl_schema_copy(s);
        return *out ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    fl_schema *p = fl_calloc(1, sizeof *p);
    if (!p) return fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int k = fl_schema_find(s, columns[i]);
        if (k < 0) {
            fl_schema_free(p);
            /* Suggest the closest existing name: users mistype column names more than anything else. */
            const char *best = NULL;
            size_t best_score = 0;
            for (int32_t j = 0; j < s->n_fields; j++) {
                const char *a = columns[i], *b = s->fields[j].name;
                size_t score = 0;
                while (a[score] && a[score] == b[score]) score++;
                if (score > best_score) best_score = score, best = b;
            }
            if (best && best_score >= 2)
                return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found (did you mean '%s'?)", t->name, columns[i], best);
            return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, columns[i]);
        }
        if (fl_schema_append_field(p, &s->fields[k]) != FL_OK) {
            fl_schema_free(p);
            return fl_error_set(err, FL_ENOMEM, "out of memory");
        }
    }
    *out = p;
    return FL_OK;
}

int fl_scan_open(fl_table *t, const fl_scan_options *opts, fl_scan **out, fl_error *err) {
    *out = NULL;
    fl_scan *sc = fl_calloc(1, sizeof *sc);
    if (!sc) return fl_error_set(err, FL_ENOMEM, "out of memory");
    sc->table = t;
    sc->batch_size = opts && opts->batch_size > 0 ? opts->batch_size : 8192;
    sc->skip = opts && opts->offset > 0 ? opts->offset : 0;
    sc->remaining = opts && opts->limit_set ? (opts->limit < 0 ? -1 : opts->limit) : -1;
    sc->with_row_ids = opts && opts->with_row_ids;
    int rc = project(t, opts ? opts->columns : NULL, opts ? opts->n_columns : 0, &sc->schema, err);
    if (rc == FL_OK && !(sc->raw = fl_calloc((size_t)sc->schema->n_fields + 1, sizeof *sc->raw))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int32_t i = 0; rc == FL_OK && i < sc->schema->n_fields; i++)
        if (fl_array_init(&sc->raw[i], &sc->schema->fields[i]) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc != FL_OK) {
        fl_scan_close(sc);
        return rc;
    }
    *out = sc;
    return FL_OK;
}

void fl_scan_close(fl_scan *sc) {
    if (!sc) return;
    if (sc->raw)
        for (int32_t i = 0; i < sc->schema->n_fields; i++) fl_array_clear(&sc->raw[i]);
    fl_free(sc->raw);
    fl_schema_free(sc->schema);
    fl_free(sc);
}

int fl_scan_next(fl_scan *sc, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_table *t = sc->table;
    const fl_manifest *m = t->m;
    while (sc->remaining != 0 && sc->fragment < m->n_fragments) {
        const fl_fragment *f = &m->fragments[sc->fragment];
        if (sc->position == 0 && sc->skip >= (int64_t)(f->physical_rows - f->deleted_rows)) {
            sc->skip -= (int64_t)(f->physical_rows - f->deleted_rows);
            sc->fragment++;
            continue;
        }
        if (sc->position >= f->physical_rows) {
            sc->fragment++;
            sc->position = 0;
            continue;
        }
        const deletion_set *d;
        FL_RETURN_NOT_OK(fl_table_deletions(t, sc->fragment, &d, err));
        uint64_t start = sc->position;
        uint64_t count = f->physical_rows - start < (uint64_t)sc->batch_size ? f->physical_rows - start : (uint64_t)sc->batch_size;
        sc->position += count;
        /* Which physical rows of [start, start+count) survive deletions, the offset and the limit. */
        uint64_t *keep = fl_malloc(count * sizeof *keep);
        if (!keep) return fl_error_set(err, FL_ENOMEM, "out of memory");
        uint64_t n_keep = 0;
        for (uint64_t r = start; r < start + count && sc->remaining != 0; r++) {
            if (d->n && fl_deletion_contains(d, r)) continue;
            if (sc->skip > 0) {
                sc->skip--;
                continue;
            }
            keep[n_keep++] = r;
            if (sc->remaining > 0) sc->remaining--;
        }
        if (n_keep == 0) {
            fl_free(keep);
            continue;
        }
        /* Read only the physical span the kept rows cover. */
        uint64_t lo = keep[0], hi = keep[n_keep - 1] + 1;
        fl_batch *b = fl_batch_new_empty(sc->schema);
        int rc = b ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int32_t c = 0; rc == FL_OK && c < sc->schema->n_fields; c++) {
            fl_array *raw = &sc->raw[c];
            fl_array_reset(raw);
            rc = fl_table_read_column(t, sc->fragment, &sc->schema->fields[c], (int64_t)lo, (int64_t)(hi - lo), raw, err);
            if (rc != FL_OK) break;
            if (n_keep == hi - lo) {
                /* Every row kept: hand the buffers over instead of copying them. */
                fl_array tmp = b->columns[c];
                b->columns[c] = *raw;
                *raw = tmp;
                continue;
            }
            uint64_t k = 0;
            while (rc == FL_OK && k < n_keep) {
                uint64_t e = k + 1;
                while (e < n_keep && keep[e] == keep[e - 1] + 1) e++;
                if (fl_array_append_range(&b->columns[c], raw, (int64_t)(keep[k] - lo), (int64_t)(e - k)) != FL_OK)
                    rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                k = e;
            }
        }
        if (rc == FL_OK && sc->with_row_ids) {
            if (!(b->row_ids = fl_malloc(n_keep * sizeof *b->row_ids))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            fl_id_walker w = {f, 0, 0};
            for (uint64_t k = 0; rc == FL_OK && k < n_keep; k++) b->row_ids[k] = fl_id_at(&w, keep[k]);
        }
        fl_free(keep);
        if (rc == FL_OK) b->num_rows = (int64_t)n_keep;
        if (rc != FL_OK) {
            fl_batch_free(b);
            return rc;
        }
        *out = b;
        return FL_OK;
    }
    return FL_OK;
}

typedef struct take_order {
    uint32_t fragment;
    uint64_t offset;
    size_t index;               /* position in the caller's list */
} take_order;

static int cmp_take(const void *a, const void *b) {
    const take_order *x = a, *y = b;
    if (x->fragment != y->fragment) return x->fragment < y->fragment ? -1 : 1;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Reads rows at the given addresses (fragment, offset) into a new batch, in the caller's order. Paged
 * values are read in storage order (each data file keeps its last decoded page per column, so rows sharing
 * a page cost one page read) and then placed where the caller asked for them; blobs are read in place.
 */
static int take_addresses(fl_table *t, const uint32_t *frags, const uint64_t *offsets, size_t n, const char *const *columns,
                          size_t n_columns, fl_batch **out, fl_error *err) {
    fl_schema *s;
    FL_RETURN_NOT_OK(project(t, columns, n_columns, &s, err));
    fl_batch *b = fl_batch_new_empty(s);
    fl_schema_free(s);
    take_order *order = fl_malloc((n ? n : 1) * sizeof *order);
    size_t *rank = fl_malloc((n ? n : 1) * sizeof *rank);
    fl_array sorted;
    memset(&sorted, 0, sizeof sorted);
    int rc = b && order && rank ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK && !(b->row_ids = fl_malloc((n ? n : 1) * sizeof *b->row_ids))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < n; i++) order[i] = (take_order){frags[i], offsets[i], i};
    if (rc == FL_OK && n > 1) qsort(order, n, sizeof *order, cmp_take);
    fl_id_walker w = {NULL, 0, 0};
    for (size_t k = 0; rc == FL_OK && k < n; k++) {
        rank[order[k].index] = k;
        if (!k || order[k].fragment != order[k - 1].fragment) w = (fl_id_walker){&t->m->fragments[order[k].fragment], 0, 0};
        b->row_ids[order[k].index] = fl_id_at(&w, order[k].offset);
    }
    for (int32_t c = 0; rc == FL_OK && c < b->n_columns; c++) {
        if (b->schema->fields[c].type == FL_TYPE_BINARY) {
            /* Blobs: every value is its own read whatever the order, so read straight into place and
             * skip copying megabytes through a second array. */
            for (size_t i = 0; rc == FL_OK && i < n; i++)
                rc = fl_table_read_column(t, frags[i], &b->schema->fields[c], (int64_t)offsets[i], 1, &b->columns[c], err);
            continue;
        }
        if (fl_array_init(&sorted, &b->schema->fields[c]) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (size_t k = 0; rc == FL_OK && k < n; k++) {
            /* Duplicates read once: the previous value is copied again. */
            if (k && order[k].fragment == order[k - 1].fragment && order[k].offset == order[k - 1].offset)
                rc = fl_array_append_from(&sorted, &sorted, (int64_t)k - 1) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
            else
                rc = fl_table_read_column(t, order[k].fragment, &b->schema->fields[c], (int64_t)order[k].offset, 1, &sorted, err);
        }
        for (size_t i = 0; rc == FL_OK && i < n; i++)
            if (fl_array_append_from(&b->columns[c], &sorted, (int64_t)rank[i]) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        fl_array_clear(&sorted);
    }
    fl_free(order);
    fl_free(rank);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = (int64_t)n;
    *out = b;
    return FL_OK;
}

int fl_table_take(fl_table *t, const uint64_t *ids, size_t n, const char *const *columns, size_t n_columns, fl_batch **out, fl_error *err) {
    *out = NULL;
    uint32_t *frags = fl_malloc((n ? n : 1) * sizeof *frags);
    uint64_t *offsets = fl_malloc((n ? n : 1) * sizeof *offsets);
    int rc = frags && offsets ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        const deletion_set *d;
        if (!fl_table_locate(t, ids[i], &frags[i], &offsets[i])) {
            rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': row id %llu not found at version %llu", t->name, (unsigned long long)ids[i],
                              (unsigned long long)t->m->version);
            break;
        }
        rc = fl_table_deletions(t, frags[i], &d, err);
        if (rc == FL_OK && fl_deletion_contains(d, offsets[i]))
            rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': row id %llu is deleted at version %llu", t->name, (unsigned long long)ids[i],
                              (unsigned long long)t->m->version);
    }
    if (rc == FL_OK) rc = take_addresses(t, frags, offsets, n, columns, n_columns, out, err);
    fl_free(frags);
    fl_free(offsets);
    return rc;
}

int fl_table_take_positions(fl_table *t, const uint64_t *positions, size_t n, const char *const *columns, size_t n_columns, fl_batch **out,
                            fl_error *err) {
    *out = NULL;
    uint32_t *frags = fl_malloc((n ? n : 1) * sizeof *frags);
    uint64_t *offsets = fl_malloc((n ? n : 1) * sizeof *offsets);
    int rc = frags && offsets ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    const fl_manifest *m = t->m;
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        uint64_t pos = positions[i];
        if (pos >= (uint64_t)m->num_rows) {
            rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': position %llu is beyond the %lld rows of version %llu", t->name,
                              (unsigned long long)pos, (long long)m->num_rows, (unsigned long long)m->version);
            break;
        }
        /* Fragment by binary search over live-row prefix sums. */
        uint32_t lo = 0, hi = m->n_fragments;
        while (hi - lo > 1) {
            uint32_t mid = (lo + hi) / 2;
            if (t->live_prefix[mid] <= pos) lo = mid;
            else hi = mid;
        }
        while (lo + 1 < m->n_fragments && t->live_prefix[lo + 1] <= pos) lo++;
        uint64_t k = pos - t->live_prefix[lo];
        const deletion_set *d;
        rc = fl_table_deletions(t, lo, &d, err);
        if (rc != FL_OK) break;
        /* The k-th live row: every deleted offset at or before the candidate pushes it one further. */
        uint64_t off = k;
        for (uint64_t j = 0; j < d->n && d->offsets[j] <= off; j++) off++;
        frags[i] = lo;
        offsets[i] = off;
    }
    if (rc == FL_OK) rc = take_addresses(t, frags, offsets, n, columns, n_columns, out, err);
    fl_free(frags);
    fl_free(offsets);
    return rc;
}
