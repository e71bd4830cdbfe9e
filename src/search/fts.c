/*
 * fts.c — full-text search by BM25 over a string column (fl_fts_search; contract in framelake.h, user
 * guide in docs/SEARCH.md).
 *
 * A query is a list of items: terms, "quoted phrases" (consecutive terms), each optional, +required or
 * -excluded. Every item gets a match list over the whole version: the live rows holding it, each with its
 * frequency in the row and the row's length. The lists and the corpus statistics (N documents, their
 * total length) are gathered fragment by fragment from one of two sources:
 *   - a fragment the column's fts index covers (index.h invariant 1) is answered from the index file's
 *     posting lists and per-fragment statistics, corrected for deleted rows;
 *   - any other fragment (appended or rewritten since the index was built, or every fragment without an
 *     index) is read and analyzed on the spot with the same analyzer.
 * Both give the same numbers for the same rows, so a result never depends on whether `index update` ran.
 * Phrases need positions: without them in the index, a phrase query reads every fragment.
 *
 * A row matches when it holds every required item, no excluded one and at least one positive item, and
 * passes the WHERE prefilter (which never changes the statistics). Each positive item it holds adds
 *     idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen)),   idf = ln(1 + (N - df + 0.5) / (df + 0.5))
 * with k1 = 1.2 and b = 0.75 by default (the BM25 of Lucene and Tantivy); a phrase's tf is the number of
 * places it occurs. Results are the k best, by score descending then row id ascending.
 */
#include "../batch/batch.h"
#include "../common/common.h"
#include "../index/cache.h"
#include "../index/fts.h"
#include "../index/index.h"
#include "../query/expr.h"
#include "../query/qscan.h"

#include <math.h>
#include <stdlib.h>

#define SCAN_CHUNK_ROWS 8192

enum { ITEM_OPTIONAL, ITEM_REQUIRED, ITEM_EXCLUDED };

typedef struct item {
    int kind;
    fts_tokens terms;           /* the analyzed terms; pos relative to the first */
    fts_list hits;              /* rows holding it (tf, len), ascending by row after gathering */
} item;

typedef struct search {
    fl_table *t;
    fts_analyzer an;
    int n_cols;                 /* the searched columns: one, or those of a multi-column index */
    const fl_field *fields[FL_INDEX_MAX_FIELDS];
    item *items;
    int n_items;
    uint64_t docs, total_len;
    const fl_index_ref *index; /* the column's fts index, or NULL */
    int32_t *file_of;           /* per fragment: the index file serving it, or -1 */
    fl_error *err;
} search;

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static void items_free(search *s) {
    for (int i = 0; i < s->n_items; i++) {
        fts_tokens_free(&s->items[i].terms);
        fts_list_free(&s->items[i].hits);
    }
    fl_free(s->items);
    s->items = NULL;
    s->n_items = 0;
}

/* ---- the query ---- */

static int parse_query(search *s, const char *text, fl_error *err) {
    const char *p = text;
    bool any = false;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        any = true;
        int kind = ITEM_OPTIONAL;
        if (*p == '+' || *p == '-') kind = *p++ == '+' ? ITEM_REQUIRED : ITEM_EXCLUDED;
        const char *b = p, *e;
        if (*p == '"') {
            b = ++p;
            while (*p && *p != '"') p++;
            if (!*p) return fl_error_set(err, FL_EINVAL, "fts query: unterminated phrase starting at position %d", (int)(b - text));
            e = p++;
        } else {
            while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
            e = p;
        }
        item it = {.kind = kind};
        if (!fts_analyze(&s->an, (const uint8_t *)b, (size_t)(e - b), &it.terms)) {
            fts_tokens_free(&it.terms);
            return oom(err);
        }
        if (it.terms.n == 0) { /* punctuation or stop words only */
            fts_tokens_free(&it.terms);
            continue;
        }
        for (size_t k = it.terms.n; k-- > 0;) it.terms.pos[k] -= it.terms.pos[0];
        item *grown = fl_realloc(s->items, ((size_t)s->n_items + 1) * sizeof *grown);
        if (!grown) {
            fts_tokens_free(&it.terms);
            return oom(err);
        }
        s->items = grown;
        s->items[s->n_items++] = it;
    }
    if (!any) return fl_error_set(err, FL_EINVAL, "fts query is empty");
    bool positive = false;
    for (int i = 0; i < s->n_items; i++) positive = positive || s->items[i].kind != ITEM_EXCLUDED;
    if (!positive)
        return fl_error_set(err, FL_EINVAL, "fts query '%s' has no term to search for%s", text,
                            s->n_items ? " (only excluded ones)" : s->an.stopwords ? " (only punctuation or stop words)" : " (only punctuation)");
    return FL_OK;
}

static bool phrases(const search *s) {
    for (int i = 0; i < s->n_items; i++)
        if (s->items[i].terms.n > 1) return true;
    return false;
}

/* ---- scanning a fragment ---- */

static bool same_term(const fts_tokens *a, size_t i, const fts_tokens *b, size_t j) {
    return a->len[i] == b->len[j] && !memcmp(a->bytes.data + a->off[i], b->bytes.data + b->off[j], a->len[i]);
}

/* Index of the token at position p in doc (positions ascend), or -1. */
static long token_at(const fts_tokens *doc, uint32_t p) {
    size_t lo = 0, hi = doc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (doc->pos[mid] == p) return (long)mid;
        if (doc->pos[mid] < p) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Places where item `it` occurs in the document. */
static uint32_t occurrences(const item *it, const fts_tokens *doc) {
    uint32_t c = 0;
    for (size_t i = 0; i < doc->n; i++) {
        if (!same_term(doc, i, &it->terms, 0)) continue;
        size_t k = 1;
        for (; k < it->terms.n; k++) {
            long j = token_at(doc, doc->pos[i] + it->terms.pos[k]);
            if (j < 0 || !same_term(doc, (size_t)j, &it->terms, k)) break;
        }
        c += k == it->terms.n;
    }
    return c;
}

static bool is_deleted(const deletion_set *d, uint64_t off) {
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->offsets[mid] == off) return true;
        if (d->offsets[mid] < off) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

static int scan_fragment(search *s, uint32_t fi) {
    const fl_fragment *f = &s->t->m->fragments[fi];
    const deletion_set *d;
    FL_RETURN_NOT_OK(fl_table_deletions(s->t, fi, &d, s->err));
    fl_array a[FL_INDEX_MAX_FIELDS];
    int n_arrays = 0, rc = FL_OK;
    for (; rc == FL_OK && n_arrays < s->n_cols; n_arrays++)
        if (fl_array_init(&a[n_arrays], s->fields[n_arrays]) != FL_OK) rc = oom(s->err);
    fts_tokens doc = {0};
    fl_rid_cursor cur = {f, 0, 0};
    for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += SCAN_CHUNK_ROWS) {
        uint64_t count = f->physical_rows - start < SCAN_CHUNK_ROWS ? f->physical_rows - start : SCAN_CHUNK_ROWS;
        for (int c = 0; rc == FL_OK && c < s->n_cols; c++) {
            fl_array_reset(&a[c]);
            rc = fl_table_read_column(s->t, fi, s->fields[c], (int64_t)start, (int64_t)count, &a[c], s->err);
        }
        for (int64_t i = 0; rc == FL_OK && i < (int64_t)count; i++) {
            uint64_t row = fl_rid_next(&cur);
            if (d->n && is_deleted(d, start + (uint64_t)i)) continue;
            bool any;
            if (!fts_analyze_row(&s->an, a, s->n_cols, i, &doc, &any)) {
                rc = oom(s->err);
                break;
            }
            if (doc.n == 0) continue; /* no terms (or all NULL): not a document */
            s->docs++;
            s->total_len += doc.n;
            for (int k = 0; k < s->n_items; k++) {
                uint32_t tf = occurrences(&s->items[k], &doc);
                if (tf && !fts_list_push(&s->items[k].hits, row, tf, (uint32_t)doc.n, NULL, false)) rc = oom(s->err);
            }
        }
    }
    fts_tokens_free(&doc);
    for (int c = 0; c < n_arrays; c++) fl_array_clear(&a[c]);
    return rc;
}

/* ---- answering from an index file ---- */

/* Whether row is live and lies in a fragment file `file` serves. */
static int served(search *s, uint64_t row, int32_t file, bool *out) {
    uint32_t fi;
    uint64_t off;
    *out = false;
    if (!fl_table_locate(s->t, row, &fi, &off) || s->file_of[fi] != file) return FL_OK;
    const deletion_set *d;
    FL_RETURN_NOT_OK(fl_table_deletions(s->t, fi, &d, s->err));
    *out = !d->n || !is_deleted(d, off);
    return FL_OK;
}

/* Occurrences of a phrase in one row from its terms' postings (pos lists of the row). */
static uint32_t phrase_count(const item *it, fts_list *const *lists, const size_t *at) {
    const fts_posting *p0 = &lists[0]->p[at[0]];
    uint32_t c = 0;
    for (uint32_t i = 0; i < p0->tf; i++) {
        uint32_t start = lists[0]->pos[p0->first_pos + i];
        size_t k = 1;
        for (; k < it->terms.n; k++) {
            const fts_posting *pk = &lists[k]->p[at[k]];
            const uint32_t *pos = lists[k]->pos + pk->first_pos;
            uint32_t want = start + it->terms.pos[k];
            size_t lo = 0, hi = pk->tf;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pos[mid] < want) lo = mid + 1;
                else hi = mid;
            }
            if (lo == pk->tf || pos[lo] != want) break;
        }
        c += k == it->terms.n;
    }
    return c;
}

/* The postings of item `it` in file f, appended to its hits (only rows `keep` accepts when !clean). */
static int item_from_file(search *s, item *it, fts_file *f, int32_t file, bool clean) {
    size_t n = it->terms.n;
    fts_list *lists = fl_calloc(n, sizeof *lists);
    fts_list **lp = fl_calloc(n, sizeof *lp);
    size_t *at = fl_calloc(n, sizeof *at);
    int rc = lists && lp && at ? FL_OK : oom(s->err);
    for (size_t k = 0; rc == FL_OK && k < n; k++) {
        lp[k] = &lists[k];
        rc = fts_file_lookup(f, (const char *)it->terms.bytes.data + it->terms.off[k], it->terms.len[k], &lists[k], s->err);
    }
    /* Walk the first list; the others advance to the same row (all ascend). */
    for (size_t i = 0; rc == FL_OK && i < (n ? lists[0].n : 0); i++) {
        const fts_posting *p = &lists[0].p[i];
        at[0] = i;
        bool all = true;
        for (size_t k = 1; k < n && all; k++) {
            while (at[k] < lists[k].n && lists[k].p[at[k]].row < p->row) at[k]++;
            all = at[k] < lists[k].n && lists[k].p[at[k]].row == p->row;
        }
        if (!all) continue;
        uint32_t tf = n == 1 ? p->tf : phrase_count(it, lp, at);
        if (!tf) continue;
        bool keep = true;
        if (!clean) rc = served(s, p->row, file, &keep);
        if (rc == FL_OK && keep && !fts_list_push(&it->hits, p->row, tf, p->len, NULL, false)) rc = oom(s->err);
    }
    for (size_t k = 0; lists && k < n; k++) fts_list_free(&lists[k]);
    fl_free(lists);
    fl_free(lp);
    fl_free(at);
    return rc;
}

static int from_file(search *s, int32_t file) {
    char *path = fl_table_path(s->t, s->index->files[file]);
    if (!path) return oom(s->err);
    fl_ixcache_ref ref;
    int rc = fts_file_cached(path, &ref, s->err);
    fl_free(path);
    if (rc != FL_OK) return rc;
    fts_file *f = ref.obj;
    /* Clean: every fragment of the file is served by it and has no deleted rows, so the file's own
     * statistics and postings are exactly those of its live rows. */
    fl_fragment_lookup frags = {0};
    bool clean = true;
    if (fl_fragment_lookup_init(s->t->m, &frags) != FL_OK) rc = oom(s->err);
    for (size_t i = 0; rc == FL_OK && i < fts_file_n_fragments(f); i++) {
        const fts_fragment_stats *fs = fts_file_fragment(f, i);
        int fi = fl_fragment_lookup_find(&frags, fs->fragment_id);
        const deletion_set *d = NULL;
        if (fi >= 0 && s->file_of[fi] == file) rc = fl_table_deletions(s->t, (uint32_t)fi, &d, s->err);
        if (rc == FL_OK && (!d || d->n)) clean = false;
    }
    fl_fragment_lookup_free(&frags);
    if (rc == FL_OK && clean) {
        for (size_t i = 0; i < fts_file_n_fragments(f); i++) {
            s->docs += fts_file_fragment(f, i)->docs;
            s->total_len += fts_file_fragment(f, i)->total_len;
        }
    } else if (rc == FL_OK) {
        uint64_t *rows = NULL;
        uint32_t *lens = NULL;
        size_t n = 0;
        rc = fts_file_docs(f, &rows, &lens, &n, s->err);
        for (size_t i = 0; rc == FL_OK && i < n; i++) {
            bool keep;
            rc = served(s, rows[i], file, &keep);
            if (keep) {
                s->docs++;
                s->total_len += lens[i];
            }
        }
        fl_free(rows);
        fl_free(lens);
    }
    for (int i = 0; rc == FL_OK && i < s->n_items; i++) rc = item_from_file(s, &s->items[i], f, file, clean);
    fl_ixcache_release(&ref);
    return rc;
}

/* ---- gathering and ranking ---- */

static int cmp_posting(const void *a, const void *b) {
    uint64_t x = ((const fts_posting *)a)->row, y = ((const fts_posting *)b)->row;
    return x < y ? -1 : x > y;
}

/* The column's fts index: the one covering most fragments. */
static int pick_index(search *s) {
    const fl_manifest *m = s->t->m;
    int32_t *file_of = fl_calloc((size_t)m->n_fragments + 1, sizeof *file_of);
    if (!file_of) return oom(s->err);
    uint32_t best = 0;
    int rc = FL_OK;
    for (uint32_t i = 0; rc == FL_OK && i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        if (strcmp(x->type, FL_INDEX_FTS) || fl_index_field(s->t, x) < 0 || x->n_field_ids != (uint32_t)s->n_cols) continue;
        bool same = true;
        for (int c = 0; c < s->n_cols && same; c++) same = x->field_ids[c] == s->fields[c]->id;
        if (!same) continue;
        rc = fl_index_coverage(s->t, x, file_of, s->err);
        uint32_t covered = 0;
        for (uint32_t f = 0; rc == FL_OK && f < m->n_fragments; f++) covered += file_of[f] >= 0;
        if (rc == FL_OK && (!s->index || covered > best)) {
            s->index = x;
            best = covered;
            memcpy(s->file_of, file_of, m->n_fragments * sizeof *file_of);
        }
    }
    fl_free(file_of);
    return rc;
}

static const char *index_param(const fl_index_ref *x, const char *key) {
    for (int32_t i = 0; x && i < x->n_params; i++)
        if (!strcmp(x->params[i].key, key)) return x->params[i].value;
    return NULL;
}

/* Match lists and statistics over every live row of the version. */
static int gather(search *s) {
    const fl_manifest *m = s->t->m;
    bool use_index = s->index && !(phrases(s) && strcmp(index_param(s->index, "positions") ? index_param(s->index, "positions") : "", "true"));
    int rc = FL_OK;
    for (uint32_t f = 0; use_index && rc == FL_OK && f < s->index->n_files; f++) {
        bool used = false;
        for (uint32_t i = 0; i < m->n_fragments && !used; i++) used = s->file_of[i] == (int32_t)f;
        if (used) rc = from_file(s, (int32_t)f);
    }
    for (uint32_t i = 0; rc == FL_OK && i < m->n_fragments; i++)
        if (!use_index || s->file_of[i] < 0) rc = scan_fragment(s, i);
    for (int i = 0; rc == FL_OK && i < s->n_items; i++) {
        fts_list *h = &s->items[i].hits;
        bool sorted = true;
        for (size_t k = 1; k < h->n && sorted; k++) sorted = h->p[k].row > h->p[k - 1].row;
        if (!sorted) qsort(h->p, h->n, sizeof *h->p, cmp_posting);
    }
    return rc;
}

typedef struct hit {
    double score;
    uint64_t id;
} hit;

/* a ranks after b: lower score, or the same score and a larger row id. */
static bool after(const hit *a, const hit *b) { return a->score < b->score || (a->score == b->score && a->id > b->id); }

static int cmp_hit(const void *a, const void *b) { return after(a, b) ? 1 : after(b, a) ? -1 : 0; }

/* A bounded heap of the best k hits with the one ranking last on top. */
typedef struct topk {
    hit *h;
    size_t n, k;
} topk;

static void heap_down(topk *q, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && after(&q->h[l], &q->h[m])) m = l;
        if (r < q->n && after(&q->h[r], &q->h[m])) m = r;
        if (m == i) return;
        hit t = q->h[i];
        q->h[i] = q->h[m];
        q->h[m] = t;
        i = m;
    }
}

static void offer(topk *q, hit x) {
    if (q->n < q->k) {
        size_t i = q->n++;
        q->h[i] = x;
        while (i > 0 && after(&q->h[i], &q->h[(i - 1) / 2])) {
            hit t = q->h[i];
            q->h[i] = q->h[(i - 1) / 2];
            q->h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (q->k && after(&q->h[0], &x)) {
        q->h[0] = x;
        heap_down(q, 0);
    }
}

static bool contains(const uint64_t *ids, size_t n, uint64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id) return true;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* Merges the items' lists (all ascending by row) and scores every matching row. */
static int rank(search *s, const uint64_t *allowed, size_t n_allowed, bool filtered, double k1, double b, topk *q) {
    size_t *at = fl_calloc((size_t)s->n_items + 1, sizeof *at);
    double *idf = fl_calloc((size_t)s->n_items + 1, sizeof *idf);
    if (!at || !idf) {
        fl_free(at);
        fl_free(idf);
        return oom(s->err);
    }
    double avg = s->docs ? (double)s->total_len / (double)s->docs : 1.0;
    if (avg <= 0) avg = 1.0;
    for (int i = 0; i < s->n_items; i++) {
        double df = (double)s->items[i].hits.n;
        idf[i] = log(1.0 + ((double)s->docs - df + 0.5) / (df + 0.5));
    }
    /* len / avg enters as b / avg per unit of length */
    double norm0 = k1 * (1.0 - b), norm1 = k1 * b / avg;
    for (;;) {
        uint64_t row = UINT64_MAX;
        bool any = false;
        for (int i = 0; i < s->n_items; i++) {
            const fts_list *h = &s->items[i].hits;
            if (s->items[i].kind != ITEM_EXCLUDED && at[i] < h->n && (!any || h->p[at[i]].row < row)) {
                row = h->p[at[i]].row;
                any = true;
            }
        }
        if (!any) break;
        double score = 0;
        bool keep = !filtered || contains(allowed, n_allowed, row);
        for (int i = 0; i < s->n_items; i++) {
            const item *it = &s->items[i];
            const fts_list *h = &it->hits;
            while (at[i] < h->n && h->p[at[i]].row < row) at[i]++;
            bool has = at[i] < h->n && h->p[at[i]].row == row;
            if (it->kind == ITEM_EXCLUDED) keep = keep && !has;
            else if (!has) keep = keep && it->kind != ITEM_REQUIRED;
            else {
                const fts_posting *p = &h->p[at[i]++];
                double tf = p->tf;
                score += idf[i] * tf * (k1 + 1.0) / (tf + norm0 + norm1 * (double)p->len);
            }
        }
        if (keep) offer(q, (hit){score, row});
    }
    fl_free(at);
    fl_free(idf);
    return FL_OK;
}

/* The result batch: the projection of the hits' rows, then _score and _rowid. */
static int result_batch(fl_table *t, const fl_fts_query *fq, const topk *q, fl_batch **out, fl_error *err) {
    uint64_t *ids = fl_malloc((q->n ? q->n : 1) * sizeof *ids);
    fl_batch *rows = NULL, *res = NULL;
    fl_schema *extra = NULL, *all = NULL;
    int rc = ids ? FL_OK : oom(err);
    for (size_t i = 0; ids && i < q->n; i++) ids[i] = q->h[i].id;
    if (rc == FL_OK) rc = fl_table_take(t, ids, q->n, fq->columns, fq->n_columns, &rows, err);
    if (rc == FL_OK) rc = fl_schema_parse("_score float32, _rowid uint64", &extra, err);
    if (rc == FL_OK && (!(all = fl_schema_copy(rows->schema)) || fl_schema_append_field(all, &extra->fields[0]) != FL_OK ||
                        fl_schema_append_field(all, &extra->fields[1]) != FL_OK || !(res = fl_batch_new(all))))
        rc = oom(err);
    for (int32_t col = 0; rc == FL_OK && col < rows->n_columns; col++)
        if (fl_array_append_range(&res->columns[col], &rows->columns[col], 0, rows->num_rows) != FL_OK) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < q->n; i++)
        if (fl_array_append_float(&res->columns[rows->n_columns], q->h[i].score) != FL_OK ||
            fl_array_append_uint(&res->columns[rows->n_columns + 1], q->h[i].id) != FL_OK)
            rc = oom(err);
    if (rc == FL_OK) rc = fl_batch_finish(res, err);
    if (rc == FL_OK && fl_batch_set_row_ids(res, ids, q->n) != FL_OK) rc = oom(err);
    if (rc == FL_OK) *out = res;
    else fl_batch_free(res);
    fl_batch_free(rows);
    fl_schema_free(extra);
    fl_schema_free(all);
    fl_free(ids);
    return rc;
}

/* The columns searched: the query's (one, or a comma-separated list as a multi-column index names them),
 * else those of the table's one fts index. */
static int resolve_columns(search *s, const char *column, fl_error *err) {
    const fl_schema *schema = fl_table_schema(s->t);
    if (!column) {
        const fl_manifest *m = s->t->m;
        const fl_index_ref *found = NULL;
        for (uint32_t i = 0; i < m->n_indexes; i++) {
            const fl_index_ref *x = &m->indexes[i];
            if (strcmp(x->type, FL_INDEX_FTS) || fl_index_field(s->t, x) < 0) continue;
            bool same = found && found->n_field_ids == x->n_field_ids;
            for (uint32_t c = 0; same && c < x->n_field_ids; c++) same = found->field_ids[c] == x->field_ids[c];
            if (found && !same) return fl_error_set(err, FL_EINVAL, "fts search: several columns have fts indexes; name one (--column)");
            found = x;
        }
        if (!found) return fl_error_set(err, FL_EINVAL, "fts search: no column has an fts index; name the column to search (--column)");
        for (uint32_t c = 0; c < found->n_field_ids; c++)
            for (int32_t k = 0; k < schema->n_fields; k++)
                if (schema->fields[k].id == found->field_ids[c]) s->fields[s->n_cols++] = &schema->fields[k];
        return FL_OK;
    }
    char buf[512];
    if (strlen(column) >= sizeof buf) return fl_error_set(err, FL_EINVAL, "fts search: column list too long");
    snprintf(buf, sizeof buf, "%s", column);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ') name++;
        for (char *e = name + strlen(name); e > name && e[-1] == ' ';) *--e = 0;
        int k = fl_schema_find(schema, name);
        if (k < 0) return fl_error_set(err, FL_ENOTFOUND, "fts search: column '%s' not found", name);
        if (schema->fields[k].type != FL_TYPE_STRING) {
            char *tn = fl_field_type_format(&schema->fields[k]);
            int rc = fl_error_set(err, FL_ETYPE, "fts search: column '%s' is %s, not a string column", name, tn ? tn : "?");
            fl_free(tn);
            return rc;
        }
        if (s->n_cols == FL_INDEX_MAX_FIELDS) return fl_error_set(err, FL_EINVAL, "fts search: at most %d columns", FL_INDEX_MAX_FIELDS);
        for (int c = 0; c < s->n_cols; c++)
            if (s->fields[c] == &schema->fields[k]) return fl_error_set(err, FL_EINVAL, "fts search: column '%s' is named twice", name);
        s->fields[s->n_cols++] = &schema->fields[k];
    }
    if (s->n_cols == 0) return fl_error_set(err, FL_EINVAL, "fts search: no column named");
    return FL_OK;
}

int fl_fts_search(fl_table *t, const fl_fts_query *fq, fl_batch **out, fl_error *err) {
    *out = NULL;
    if (!fq || !fq->text) return fl_error_set(err, FL_EINVAL, "fts search: a query is required");
    search s = {.t = t, .err = err};
    FL_RETURN_NOT_OK(resolve_columns(&s, fq->column, err));
    int64_t k = fq->k > 0 ? fq->k : 10;
    if (k > 100000) return fl_error_set(err, FL_EINVAL, "fts search: limit %lld is above 100000", (long long)k);
    if (fq->k1 < 0 || (fq->b_set && (fq->b < 0 || fq->b > 1)))
        return fl_error_set(err, FL_EINVAL, "fts search: BM25 needs k1 >= 0 and 0 <= b <= 1");
    double k1 = fq->k1 > 0 ? fq->k1 : 1.2, b = fq->b_set ? fq->b : 0.75;
    if (!(s.file_of = fl_calloc((size_t)t->m->n_fragments + 1, sizeof *s.file_of))) return oom(err);
    for (uint32_t i = 0; i < t->m->n_fragments; i++) s.file_of[i] = -1;
    int rc = pick_index(&s);
    if (rc == FL_OK) rc = fts_analyzer_init(&s.an, index_param(s.index, "stem"), index_param(s.index, "stopwords"), err);
    if (rc == FL_OK) rc = parse_query(&s, fq->text, err);
    fl_expr *filter = NULL;
    if (rc == FL_OK && fq->where) rc = fl_expr_compile_filter(fq->where, fl_table_schema(t), &filter, err);
    topk q = {.k = (size_t)k};
    if (rc == FL_OK && !(q.h = fl_malloc(q.k * sizeof *q.h))) rc = oom(err);
    if (rc == FL_OK) rc = gather(&s);
    uint64_t *allowed = NULL;
    size_t n_allowed = 0;
    if (rc == FL_OK && filter) rc = fl_qscan_row_ids(t, filter, &allowed, &n_allowed, err);
    if (rc == FL_OK) rc = rank(&s, allowed, n_allowed, filter != NULL, k1, b, &q);
    if (rc == FL_OK) {
        qsort(q.h, q.n, sizeof *q.h, cmp_hit);
        rc = result_batch(t, fq, &q, out, err);
    }
    fl_free(allowed);
    fl_free(q.h);
    fl_expr_free(filter);
    items_free(&s);
    fts_analyzer_free(&s.an);
    fl_free(s.file_of);
    return rc;
}
