/*
 * qscan.c — the filtered scan (see qscan.h).
 *
 * First the table's scalar indexes are asked for candidates (index.h). In a fragment they cover, windows
 * start at candidate rows: an exact selection needs no evaluation at all, an inexact one is evaluated on
 * the window and intersected with the candidates. In other fragments the page statistics of the filter's
 * columns cut the fragment into spans of rows that may match (prune.h); each span is read in windows of at
 * most batch_size rows. A window reads the
 * filter's columns, evaluates the filter vectorized, drops deleted rows, and only then reads the other
 * output columns — and of those only the rows that matched (blobs row by row, paged columns over the
 * matched extent), so a selective filter never pulls image bytes it does not return.
 */
#include "qscan.h"
#include "../index/index.h"
#include "prune.h"

#include <stdlib.h>
#include <string.h>

typedef struct span {
    int64_t lo, hi;
} span;

/* One column's pages within the current fragment, for pruning. */
typedef struct col_pages {
    int n;
    int64_t *first, *count;
    fl_page_stats *stats;
} col_pages;

struct fl_qscan {
    fl_table *table;
    const fl_expr *filter;
    int64_t batch_size;
    bool with_row_ids;
    bool prune;                 /* the filter has nodes statistics can decide */
    fl_schema *out_schema;      /* the output projection */
    fl_schema *filter_schema;   /* the filter's columns, in filter->columns order */
    int32_t *out_from_filter;   /* output column i is filter column out_from_filter[i], or -1 */
    /* index candidates: the selection, grouped by fragment on first use (fl_index_selection_group) */
    fl_index_selection sel;
    int32_t *slot;              /* per fragment: its index in sel.fragments, or -1 */
    const uint64_t *cand_off;   /* sel.offsets */
    uint64_t cand_i, cand_end;  /* the current fragment's candidates: cand_off[cand_i .. cand_end) */
    bool covered_counted;       /* an exact count took the covered fragments' candidates whole */
    bool selected, have_ids;    /* the indexes were asked (ensure_selected), with the candidate list */
    uint32_t part, parts;       /* fl_qscan_set_partition: read windows part, part + parts, … (parts 0: all) */
    uint64_t window_seq;        /* windows of scanned fragments seen so far */
    bool ranged;                /* fl_qscan_set_range: only physical rows [range_lo, range_hi) of range_frag */
    uint32_t range_frag;
    int64_t range_lo, range_hi;
    char *index_names;          /* stats.index_used */
    /* position */
    uint32_t fragment;
    bool fragment_ready;
    span *spans;
    size_t n_spans, cap_spans, span_i;
    int64_t pos;                /* next physical row in spans[span_i] */
    /* scratch, kept across windows so that their buffers are allocated once */
    fl_batch *fb;               /* the filter's columns over the current window */
    int64_t *rows;              /* matching rows of the window (indexes into it) */
    int64_t cap_rows;
    fl_array tmp;
    fl_qscan_stats stats;
};

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static int append_field_by_name(fl_schema *dst, const fl_schema *src, const char *name, fl_error *err) {
    int k = fl_schema_find(src, name);
    if (k < 0) return fl_error_set(err, FL_ENOTFOUND, "column '%s' not found", name);
    return fl_schema_append_field(dst, &src->fields[k]) == FL_OK ? FL_OK : oom(err);
}

/* Checks the output names against the schema, suggesting the closest name for a typo. */
static int check_columns(const fl_table *t, const char *const *columns, size_t n, fl_error *err) {
    const fl_schema *s = t->m->schema;
    for (size_t i = 0; i < n; i++) {
        if (fl_schema_find(s, columns[i]) >= 0) continue;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        for (int32_t j = 0; j < s->n_fields; j++) {
            size_t d = fl_edit_distance(columns[i], s->fields[j].name);
            if (d < best_d) best_d = d, best = s->fields[j].name;
        }
        if (best && best_d <= 2 + strlen(columns[i]) / 4)
            return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found (did you mean '%s'?)", t->name, columns[i], best);
        return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, columns[i]);
    }
    return FL_OK;
}

/* Asks the indexes, once, when the scan first needs them: with the candidate list (want_ids) or, for a
 * count, only its size; a count whose selection turns out inexact asks again for the list. Grouping the
 * candidates by fragment waits until a covered fragment is read. */
static int ensure_selected(fl_qscan *q, bool want_ids, fl_error *err) {
    if (!q->filter || (q->selected && (q->have_ids || !want_ids))) return FL_OK;
    if (q->selected) {
        fl_index_selection_clear(&q->sel);
        fl_free(q->index_names);
        q->index_names = NULL;
    }
    q->selected = true;
    q->have_ids = want_ids;
    int rc = want_ids ? fl_index_select(q->table, q->filter->root, &q->sel, err) : fl_index_select_count(q->table, q->filter->root, &q->sel, err);
    FL_RETURN_NOT_OK(rc);
    if (!q->sel.applies || !q->sel.n_used) return FL_OK;
    /* Every index the selection used, for EXPLAIN: "a_idx, b_idx". */
    size_t len = 1;
    for (uint32_t i = 0; i < q->sel.n_used; i++) len += strlen(q->sel.used[i]) + 2;
    if (!(q->index_names = fl_malloc(len))) return oom(err);
    q->index_names[0] = '\0';
    for (uint32_t i = 0; i < q->sel.n_used; i++) {
        if (i) strcat(q->index_names, ", ");
        strcat(q->index_names, q->sel.used[i]);
    }
    q->stats.index_used = q->index_names;
    return FL_OK;
}

/* Groups the candidates by fragment (physical offsets) and maps fragments to their group. */
static int group_candidates(fl_qscan *q, fl_error *err) {
    FL_RETURN_NOT_OK(fl_index_selection_group(q->table, &q->sel, err));
    uint32_t nf = q->table->m->n_fragments;
    if (!(q->slot = fl_malloc(((size_t)nf + 1) * sizeof *q->slot))) return oom(err);
    for (uint32_t f = 0; f < nf; f++) q->slot[f] = -1;
    for (uint32_t i = 0; i < q->sel.n_fragments; i++) q->slot[q->sel.fragments[i]] = (int32_t)i;
    q->cand_off = q->sel.offsets;
    return FL_OK;
}

int fl_qscan_open(fl_table *t, const fl_expr *filter, const char *const *columns, size_t n_columns, bool with_row_ids, int64_t batch_size,
                  fl_qscan **out, fl_error *err) {
    *out = NULL;
    const fl_schema *s = t->m->schema;
    if (columns) FL_RETURN_NOT_OK(check_columns(t, columns, n_columns, err));
    fl_qscan *q = fl_calloc(1, sizeof *q);
    if (!q) return oom(err);
    q->table = t;
    q->filter = filter && filter->root ? filter : NULL;
    q->batch_size = batch_size > 0 ? batch_size : 8192;
    q->with_row_ids = with_row_ids;
    q->prune = fl_prune_useful(q->filter);
    q->stats.fragments = t->m->n_fragments;
    size_t n_out = columns ? n_columns : (size_t)s->n_fields;
    int rc = FL_OK;
    if (!(q->out_schema = fl_calloc(1, sizeof *q->out_schema)) || !(q->filter_schema = fl_calloc(1, sizeof *q->filter_schema)) ||
        !(q->out_from_filter = fl_calloc(n_out + 1, sizeof *q->out_from_filter)))
        rc = oom(err);
    for (int32_t i = 0; rc == FL_OK && q->filter && i < q->filter->n_columns; i++)
        rc = append_field_by_name(q->filter_schema, s, q->filter->columns[i], err);
    for (size_t i = 0; rc == FL_OK && i < n_out; i++) {
        const char *name = columns ? columns[i] : s->fields[i].name;
        rc = append_field_by_name(q->out_schema, s, name, err);
        q->out_from_filter[i] = rc == FL_OK ? fl_schema_find(q->filter_schema, name) : -1;
    }
    if (rc != FL_OK) {
        fl_qscan_close(q);
        return rc;
    }
    *out = q;
    return FL_OK;
}

void fl_qscan_close(fl_qscan *q) {
    if (!q) return;
    fl_schema_free(q->out_schema);
    fl_schema_free(q->filter_schema);
    fl_free(q->out_from_filter);
    fl_free(q->spans);
    fl_index_selection_clear(&q->sel);
    fl_free(q->index_names);
    fl_free(q->slot);
    fl_batch_free(q->fb);
    fl_free(q->rows);
    fl_array_clear(&q->tmp);
    fl_free(q);
}

const fl_qscan_stats *fl_qscan_get_stats(const fl_qscan *q) { return &q->stats; }

void fl_qscan_set_partition(fl_qscan *q, uint32_t part, uint32_t parts) {
    q->part = part;
    q->parts = parts;
}

void fl_qscan_set_range(fl_qscan *q, uint32_t fragment, int64_t lo, int64_t hi) {
    q->ranged = true;
    q->range_frag = fragment;
    q->range_lo = lo;
    q->range_hi = hi;
    q->fragment = fragment;
}

int fl_qscan_uses_index(fl_qscan *q, bool *uses, fl_error *err) {
    *uses = false;
    FL_RETURN_NOT_OK(ensure_selected(q, false, err));
    *uses = q->sel.applies;
    return FL_OK;
}

/* ---- pruning: spans of the current fragment that may hold matches ---- */

static int add_span(fl_qscan *q, int64_t lo, int64_t hi, fl_error *err) {
    if (q->n_spans && q->spans[q->n_spans - 1].hi == lo) {
        q->spans[q->n_spans - 1].hi = hi;
        return FL_OK;
    }
    if (q->n_spans == q->cap_spans) {
        size_t cap = q->cap_spans ? q->cap_spans * 2 : 8;
        span *s = fl_realloc(q->spans, cap * sizeof *s);
        if (!s) return oom(err);
        q->spans = s;
        q->cap_spans = cap;
    }
    q->spans[q->n_spans++] = (span){lo, hi};
    return FL_OK;
}

static void col_pages_clear(col_pages *p) {
    fl_free(p->first);
    fl_free(p->count);
    fl_free(p->stats);
    memset(p, 0, sizeof *p);
}

/* Loads the page layout of filter column c in fragment `fi`; leaves n = 0 when the column has no statistics
 * there (or no file: *all_null). Page runs that do not tile [0, rows) are ignored (no pruning). */
static int load_pages(fl_qscan *q, uint32_t fi, const fl_field *field, col_pages *p, bool *all_null, fl_error *err) {
    *all_null = false;
    const fl_fragment *f = &q->table->m->fragments[fi];
    const fl_file_ref *ref = fl_fragment_file_for(f, field->id);
    if (!ref) {
        *all_null = true;
        return FL_OK;
    }
    fl_datafile *df;
    FL_RETURN_NOT_OK(fl_table_datafile(q->table, ref, &df, err));
    int col = fl_datafile_find(df, field->id);
    if (col < 0) {
        *all_null = true;
        return FL_OK;
    }
    int n = fl_datafile_page_count(df, col);
    if (n <= 0) return FL_OK;
    p->first = fl_malloc((size_t)n * sizeof *p->first);
    p->count = fl_malloc((size_t)n * sizeof *p->count);
    p->stats = fl_malloc((size_t)n * sizeof *p->stats);
    if (!p->first || !p->count || !p->stats) {
        col_pages_clear(p);
        return oom(err);
    }
    int64_t expect = 0;
    for (int i = 0; i < n; i++) {
        fl_datafile_page_info(df, col, i, &p->first[i], &p->count[i], &p->stats[i]);
        if (p->first[i] != expect || p->count[i] <= 0) {
            col_pages_clear(p);
            return FL_OK;
        }
        expect += p->count[i];
    }
    if (expect != (int64_t)f->physical_rows) {
        col_pages_clear(p);
        return FL_OK;
    }
    p->n = n;
    return FL_OK;
}

/* Cuts the fragment at every page boundary of the filter's columns and keeps the segments where the
 * filter may be true. */
static int prune_fragment(fl_qscan *q, uint32_t fi, fl_error *err) {
    const fl_fragment *f = &q->table->m->fragments[fi];
    int32_t nc = q->filter_schema->n_fields;
    col_pages *pages = fl_calloc((size_t)nc, sizeof *pages);
    fl_col_range *ranges = fl_calloc((size_t)nc, sizeof *ranges);
    int *at = fl_calloc((size_t)nc, sizeof *at);
    int rc = pages && ranges && at ? FL_OK : oom(err);
    bool *all_null = fl_calloc((size_t)nc + 1, sizeof *all_null);
    if (!all_null) rc = oom(err);
    for (int32_t c = 0; rc == FL_OK && c < nc; c++) {
        const fl_field *field = &q->filter_schema->fields[c];
        if (fl_type_is_scalar(field->type)) rc = load_pages(q, fi, field, &pages[c], &all_null[c], err);
    }
    int64_t lo = 0, rows = (int64_t)f->physical_rows;
    while (rc == FL_OK && lo < rows) {
        int64_t hi = rows;
        for (int32_t c = 0; c < nc; c++) {
            const fl_field *field = &q->filter_schema->fields[c];
            memset(&ranges[c], 0, sizeof ranges[c]);
            if (all_null[c] && fl_type_is_scalar(field->type)) {
                ranges[c] = (fl_col_range){.known = true, .all_null = true, .has_nulls = true, .type = field->type};
                continue;
            }
            if (!pages[c].n) continue;
            while (at[c] < pages[c].n && pages[c].first[at[c]] + pages[c].count[at[c]] <= lo) at[c]++;
            if (at[c] >= pages[c].n) continue;
            int64_t end = pages[c].first[at[c]] + pages[c].count[at[c]];
            if (end < hi) hi = end;
            fl_col_range_from_page(&ranges[c], field->type, &pages[c].stats[at[c]], pages[c].count[at[c]]);
        }
        q->stats.pages++;
        if (fl_prune_outcomes(q->filter, q->filter->root, ranges) & FL_PV_TRUE) rc = add_span(q, lo, hi, err);
        else q->stats.pages_pruned++;
        lo = hi;
    }
    for (int32_t c = 0; pages && c < nc; c++) col_pages_clear(&pages[c]);
    fl_free(pages);
    fl_free(ranges);
    fl_free(at);
    fl_free(all_null);
    return rc;
}

int fl_qscan_estimate(fl_qscan *q, uint64_t *rows, fl_error *err) {
    *rows = 0;
    FL_RETURN_NOT_OK(ensure_selected(q, false, err));
    const fl_manifest *m = q->table->m;
    for (uint32_t fi = 0; fi < m->n_fragments; fi++) {
        const fl_fragment *f = &m->fragments[fi];
        if (q->sel.applies && q->sel.covered[fi]) continue;
        if (!q->prune) {
            *rows += f->physical_rows;
            continue;
        }
        q->n_spans = q->span_i = 0;
        FL_RETURN_NOT_OK(prune_fragment(q, fi, err));
        for (size_t i = 0; i < q->n_spans; i++) *rows += (uint64_t)(q->spans[i].hi - q->spans[i].lo);
    }
    /* Leave the scan as opened: statistics counted here are counted again when it runs. */
    q->n_spans = q->span_i = 0;
    memset(&q->stats, 0, sizeof q->stats);
    q->stats.fragments = m->n_fragments;
    q->stats.index_used = q->index_names;
    return FL_OK;
}

/* fl_qscan_set_range: keeps the parts of the spans inside [range_lo, range_hi). */
static void clip_spans(fl_qscan *q) {
    size_t w = 0;
    for (size_t i = 0; i < q->n_spans; i++) {
        int64_t lo = q->spans[i].lo > q->range_lo ? q->spans[i].lo : q->range_lo;
        int64_t hi = q->spans[i].hi < q->range_hi ? q->spans[i].hi : q->range_hi;
        if (lo < hi) q->spans[w++] = (span){lo, hi};
    }
    q->n_spans = w;
}

/* fl_qscan_set_range: narrows the fragment's candidates (ascending offsets) to [range_lo, range_hi). */
static void clip_candidates(fl_qscan *q) {
    while (q->cand_i < q->cand_end && q->cand_off[q->cand_i] < (uint64_t)q->range_lo) q->cand_i++;
    uint64_t e = q->cand_i;
    while (e < q->cand_end && q->cand_off[e] < (uint64_t)q->range_hi) e++;
    q->cand_end = e;
}

/* Positions the scan on the next fragment with something to read; false at the end. */
static int next_fragment(fl_qscan *q, bool *more, fl_error *err) {
    *more = false;
    const fl_manifest *m = q->table->m;
    while (q->fragment < m->n_fragments) {
        if (q->ranged && q->fragment != q->range_frag) {
            q->fragment = m->n_fragments;
            break;
        }
        const fl_fragment *f = &m->fragments[q->fragment];
        q->n_spans = q->span_i = 0;
        if (q->sel.applies && q->sel.covered[q->fragment]) {
            /* The indexes cover this fragment: its candidates are the windows' starting points (none left
             * to read when an exact count already took them). */
            if (q->covered_counted) {
                q->fragment++;
                continue;
            }
            if (!q->slot) FL_RETURN_NOT_OK(group_candidates(q, err));
            int32_t g = q->slot[q->fragment];
            q->cand_i = q->sel.offset_start[g];
            q->cand_end = q->sel.offset_start[g + 1];
            if (q->ranged) clip_candidates(q);
            if (q->cand_i < q->cand_end) {
                q->fragment_ready = true;
                *more = true;
                return FL_OK;
            }
            q->stats.fragments_pruned++;
            q->fragment++;
            continue;
        }
        int rc = FL_OK;
        if (f->deleted_rows < f->physical_rows) {
            if (q->prune) rc = prune_fragment(q, q->fragment, err);
            else rc = add_span(q, 0, (int64_t)f->physical_rows, err);
        }
        if (rc != FL_OK) return rc;
        if (q->ranged) clip_spans(q);
        if (q->n_spans) {
            q->pos = q->spans[0].lo;
            q->fragment_ready = true;
            *more = true;
            return FL_OK;
        }
        q->stats.fragments_pruned++;
        q->fragment++;
    }
    return FL_OK;
}

/* ---- windows ---- */

static int ensure_rows(fl_qscan *q, int64_t n, fl_error *err) {
    if (n <= q->cap_rows) return FL_OK;
    int64_t *r = fl_realloc(q->rows, (size_t)n * sizeof *r);
    if (!r) return oom(err);
    q->rows = r;
    q->cap_rows = n;
    return FL_OK;
}

/* Reads the filter's columns over [start, start + count) of the current fragment into q->fb and evaluates
 * the filter: matching window indexes in q->rows[0..*m). */
static int eval_window(fl_qscan *q, int64_t start, int64_t count, int64_t *m, fl_error *err) {
    if (!q->fb && !(q->fb = fl_batch_new_empty(q->filter_schema))) return oom(err);
    fl_batch *fb = q->fb;
    for (int32_t c = 0; c < fb->n_columns; c++) fl_array_reset(&fb->columns[c]);
    for (int32_t c = 0; c < fb->n_columns; c++)
        FL_RETURN_NOT_OK(fl_table_read_column(q->table, q->fragment, &q->filter_schema->fields[c], start, count, &fb->columns[c], err));
    fb->num_rows = count;
    q->stats.rows_read += (uint64_t)count;
    return fl_expr_filter_rows(q->filter, fb, q->rows, m, err);
}

/*
 * The next window of a fragment the indexes cover: it starts at the next candidate and spans at most
 * batch_size rows. Exact candidates are the matches (no column is read); otherwise the window is evaluated
 * and only rows that are also candidates match. count = 0 when the fragment's candidates are exhausted.
 */
static int candidate_window(fl_qscan *q, int64_t *start, int64_t *count, fl_batch **filtered, int64_t *m, fl_error *err) {
    uint64_t end = q->cand_end;
    *count = 0;
    *m = 0;
    *filtered = NULL;
    if (q->cand_i >= end) return FL_OK;
    const fl_fragment *f = &q->table->m->fragments[q->fragment];
    uint64_t lo = q->cand_off[q->cand_i], hi = lo + (uint64_t)q->batch_size;
    if (hi > f->physical_rows) hi = f->physical_rows;
    uint64_t first = q->cand_i;
    while (q->cand_i < end && q->cand_off[q->cand_i] < hi) q->cand_i++;
    uint64_t n_cand = q->cand_i - first;
    /* Trim the window to the last candidate: nothing after it can match. */
    hi = q->cand_off[q->cand_i - 1] + 1;
    *start = (int64_t)lo;
    *count = (int64_t)(hi - lo);
    FL_RETURN_NOT_OK(ensure_rows(q, *count, err));
    if (q->sel.exact) {
        for (uint64_t k = 0; k < n_cand; k++) q->rows[k] = (int64_t)(q->cand_off[first + k] - lo);
        *m = (int64_t)n_cand;
        return FL_OK;
    }
    int64_t hits;
    FL_RETURN_NOT_OK(eval_window(q, *start, *count, &hits, err));
    /* Intersect the window's matches with its candidates (both ascending). */
    int64_t w = 0;
    uint64_t k = first;
    for (int64_t r = 0; r < hits; r++) {
        uint64_t off = lo + (uint64_t)q->rows[r];
        while (k < q->cand_i && q->cand_off[k] < off) k++;
        if (k < q->cand_i && q->cand_off[k] == off) q->rows[w++] = q->rows[r];
    }
    *m = w;
    *filtered = q->fb;
    return FL_OK;
}

/*
 * Reads the next window [*lo, *lo + *len) of the current fragment and finds its matching live rows
 * (q->rows[0..*n), indexes into the window); *filtered holds the filter's columns over the window (NULL
 * without a filter; owned by the scan, valid until the next window). *len = 0 at the end of the scan.
 */
static int next_window(fl_qscan *q, int64_t *lo, int64_t *len, fl_batch **filtered, int64_t *n, fl_error *err) {
    *len = 0;
    *n = 0;
    *filtered = NULL;
    /* Candidates are needed unless an exact count already took the covered fragments. */
    FL_RETURN_NOT_OK(ensure_selected(q, !q->covered_counted, err));
    for (;;) {
        if (!q->fragment_ready) {
            bool more;
            FL_RETURN_NOT_OK(next_fragment(q, &more, err));
            if (!more) return FL_OK;
        }
        if (q->sel.applies && q->sel.covered[q->fragment]) {
            int64_t m;
            int64_t start, count;
            int rc = candidate_window(q, &start, &count, filtered, &m, err);
            if (rc != FL_OK) return rc;
            if (count == 0) {
                q->fragment_ready = false;
                q->fragment++;
                continue;
            }
            q->stats.rows_matched += (uint64_t)m;
            if (m == 0) continue;
            *lo = start;
            *len = count;
            *n = m;
            return FL_OK;
        }
        if (q->span_i >= q->n_spans) {
            q->fragment_ready = false;
            q->fragment++;
            continue;
        }
        span *sp = &q->spans[q->span_i];
        int64_t start = q->pos, count = sp->hi - start < q->batch_size ? sp->hi - start : q->batch_size;
        q->pos += count;
        if (q->pos >= sp->hi && ++q->span_i < q->n_spans) q->pos = q->spans[q->span_i].lo;
        if (q->parts > 1 && q->window_seq++ % q->parts != q->part) continue; /* another scan's window */
        FL_RETURN_NOT_OK(ensure_rows(q, count, err));
        int64_t m = 0;
        if (q->filter) {
            FL_RETURN_NOT_OK(eval_window(q, start, count, &m, err));
        } else {
            for (int64_t k = 0; k < count; k++) q->rows[k] = k;
            m = count;
            q->stats.rows_read += (uint64_t)count;
        }
        const deletion_set *d;
        FL_RETURN_NOT_OK(fl_table_deletions(q->table, q->fragment, &d, err));
        if (d->n) {
            int64_t w = 0;
            for (int64_t k = 0; k < m; k++)
                if (!fl_deletion_contains(d, (uint64_t)(start + q->rows[k]))) q->rows[w++] = q->rows[k];
            m = w;
        }
        q->stats.rows_matched += (uint64_t)m;
        if (m == 0) continue;
        *lo = start;
        *len = count;
        *filtered = q->filter ? q->fb : NULL;
        *n = m;
        return FL_OK;
    }
}

/* Number of runs of consecutive indexes in rows[0..n). */
static int64_t count_runs(const int64_t *rows, int64_t n) {
    int64_t runs = 0;
    for (int64_t k = 0; k < n; k++) runs += k == 0 || rows[k] != rows[k - 1] + 1;
    return runs;
}

/* Appends src's values at rows[0..n) (indexes into src) to dst, run by run. */
static int append_rows(fl_array *dst, const fl_array *src, int64_t base, const int64_t *rows, int64_t n) {
    for (int64_t k = 0; k < n;) {
        int64_t e = k + 1;
        while (e < n && rows[e] == rows[e - 1] + 1) e++;
        if (fl_array_append_range(dst, src, rows[k] - base, e - k) != FL_OK) return FL_ENOMEM;
        k = e;
    }
    return FL_OK;
}

/* Output column `field` for the matched rows of the window starting at `lo`, read from storage. */
static int read_matched(fl_qscan *q, const fl_field *field, int64_t lo, int64_t len, int64_t n, fl_array *dst, fl_error *err) {
    uint32_t fi = q->fragment;
    const int64_t *rows = q->rows;
    if (n == len) return fl_table_read_column(q->table, fi, field, lo, len, dst, err);
    if (field->type == FL_TYPE_BINARY || count_runs(rows, n) <= 4) {
        for (int64_t k = 0; k < n;) {
            int64_t e = k + 1;
            while (e < n && rows[e] == rows[e - 1] + 1) e++;
            FL_RETURN_NOT_OK(fl_table_read_column(q->table, fi, field, lo + rows[k], e - k, dst, err));
            k = e;
        }
        return FL_OK;
    }
    /* Many runs of a paged column: decode the matched extent once, then copy the runs. */
    fl_array_clear(&q->tmp);
    if (fl_array_init(&q->tmp, field) != FL_OK) return oom(err);
    FL_RETURN_NOT_OK(fl_table_read_column(q->table, fi, field, lo + rows[0], rows[n - 1] - rows[0] + 1, &q->tmp, err));
    return append_rows(dst, &q->tmp, rows[0], rows, n) == FL_OK ? FL_OK : oom(err);
}

int fl_qscan_next(fl_qscan *q, fl_batch **out, fl_error *err) {
    *out = NULL;
    int64_t lo, len, n;
    fl_batch *fb;
    FL_RETURN_NOT_OK(next_window(q, &lo, &len, &fb, &n, err));
    if (len == 0) return FL_OK;
    uint32_t fi = q->fragment; /* next_window leaves the scan on the window's fragment */
    fl_batch *b = fl_batch_new_empty(q->out_schema);
    int rc = b ? FL_OK : oom(err);
    for (int32_t c = 0; rc == FL_OK && c < q->out_schema->n_fields; c++) {
        int32_t from = q->out_from_filter[c];
        if (from >= 0 && fb) rc = append_rows(&b->columns[c], &fb->columns[from], 0, q->rows, n) == FL_OK ? FL_OK : oom(err);
        else rc = read_matched(q, &q->out_schema->fields[c], lo, len, n, &b->columns[c], err);
    }
    if (rc == FL_OK && q->with_row_ids) {
        const fl_fragment *f = &q->table->m->fragments[fi];
        if (!(b->row_ids = fl_malloc((size_t)n * sizeof *b->row_ids))) rc = oom(err);
        fl_id_walker w = {f, 0, 0};
        for (int64_t k = 0; rc == FL_OK && k < n; k++) b->row_ids[k] = fl_id_at(&w, (uint64_t)(lo + q->rows[k]));
    }
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = n;
    *out = b;
    return FL_OK;
}

int fl_qscan_count(fl_qscan *q, int64_t *count, fl_error *err) {
    *count = 0;
    FL_RETURN_NOT_OK(ensure_selected(q, false, err));
    if (q->sel.applies && q->sel.exact && q->fragment == 0 && !q->fragment_ready) {
        /* Exact candidates are the live matches of the covered fragments: count them without reading. */
        *count = (int64_t)q->sel.n_rows;
        q->stats.rows_matched += q->sel.n_rows;
        q->covered_counted = true;
    }
    for (;;) {
        int64_t lo, len, n;
        fl_batch *fb;
        FL_RETURN_NOT_OK(next_window(q, &lo, &len, &fb, &n, err));
        if (len == 0) return FL_OK;
        *count += n;
    }
}

static int cmp_row_id(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int fl_qscan_row_ids(fl_table *t, const fl_expr *filter, uint64_t **ids, size_t *n, fl_error *err) {
    *ids = NULL;
    *n = 0;
    fl_qscan *scan;
    const char *none[1] = {NULL};
    FL_RETURN_NOT_OK(fl_qscan_open(t, filter, none, 0, true, 0, &scan, err));
    size_t cap = 0;
    fl_batch *b = NULL;
    int rc;
    bool sorted = true;
    while ((rc = fl_qscan_next(scan, &b, err)) == FL_OK && b) {
        if (!fl_reserve((void **)ids, &cap, *n + (size_t)b->num_rows, sizeof **ids, 1024)) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) {
            sorted = sorted && (*n == 0 || b->row_ids[i] > (*ids)[*n - 1]);
            (*ids)[(*n)++] = b->row_ids[i];
        }
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_qscan_close(scan);
    if (rc == FL_OK && !sorted) qsort(*ids, *n, sizeof **ids, cmp_row_id);
    if (rc != FL_OK) {
        fl_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}
