/*
 * hybrid.c — hybrid search (fl_hybrid_search; contract in framelake.h, guide in docs/SEARCH.md): one
 * full-text and one vector search under the same WHERE, each asked for `candidates` rows, fused into one
 * ranking:
 *   - rrf (default): a row's relevance is the sum over the halves that returned it of 1 / (rrf_k + rank),
 *     rank counted from 1, rrf_k = 60 (reciprocal rank fusion);
 *   - linear: weight · v + (1 − weight) · s, where s is the row's BM25 score divided by the best score of
 *     the text half and v = 1 − (d − dmin) / (dmax − dmin) over the vector half's distances (1 when they
 *     are all equal); a half that did not return the row contributes 0. weight = 0.7 by default.
 * Results: by relevance descending, ties by row id; the projection, then _score (NULL when the text half
 * did not return the row), _distance (NULL likewise), _relevance_score and _rowid.
 */
#include "../batch/batch.h"
#include "../common/common.h"

#include <math.h>
#include <stdlib.h>

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

typedef struct fused {
    uint64_t id;
    double relevance;
    bool has_score, has_distance;
    float score, distance;
} fused;

static int cmp_fused(const void *a, const void *b) {
    const fused *x = a, *y = b;
    if (x->relevance != y->relevance) return x->relevance > y->relevance ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_id(const void *a, const void *b) {
    const fused *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The entry of row id in the list (sorted by id over [0, n)), or NULL. */
static fused *find(fused *list, size_t n, uint64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list[mid].id == id) return &list[mid];
        if (list[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int fl_hybrid_search(fl_table *t, const fl_hybrid_query *hq, fl_batch **out, fl_error *err) {
    *out = NULL;
    if (!hq) return fl_error_set(err, FL_EINVAL, "hybrid search: no query");
    if (hq->rerank != FL_RERANK_RRF && hq->rerank != FL_RERANK_LINEAR)
        return fl_error_set(err, FL_EINVAL, "hybrid search: unknown rerank %d (use rrf or linear)", hq->rerank);
    if (hq->weight < 0 || hq->weight > 1) return fl_error_set(err, FL_EINVAL, "hybrid search: weight %g is outside 0..1", hq->weight);
    if (hq->rrf_k < 0) return fl_error_set(err, FL_EINVAL, "hybrid search: rrf k %g is negative", hq->rrf_k);
    int64_t k = hq->k > 0 ? hq->k : 10;
    if (k > 100000) return fl_error_set(err, FL_EINVAL, "hybrid search: limit %lld is above 100000", (long long)k);
    int64_t cand = hq->candidates > 0 ? hq->candidates : k > 50 ? k : 50;
    if (cand < k) cand = k;
    if (cand > 100000) return fl_error_set(err, FL_EINVAL, "hybrid search: %lld candidates is above 100000", (long long)cand);
    double rrf_k = hq->rrf_k > 0 ? hq->rrf_k : 60.0, weight = hq->weight_set ? hq->weight : 0.7;
    static const char *const no_columns[1] = {NULL};
    fl_fts_query tq = hq->text;
    tq.where = hq->where;
    tq.k = cand;
    tq.columns = no_columns;
    tq.n_columns = 0;
    fl_vector_query vq = hq->vector;
    vq.where = hq->where;
    vq.k = cand;
    vq.columns = no_columns;
    vq.n_columns = 0;
    fl_batch *tb = NULL, *vb = NULL;
    int rc = fl_fts_search(t, &tq, &tb, err);
    if (rc != FL_OK) fl_error_prefix(err, rc, "hybrid search, text half");
    if (rc == FL_OK && (rc = fl_vector_search(t, &vq, &vb, err)) != FL_OK) fl_error_prefix(err, rc, "hybrid search, vector half");
    if (rc != FL_OK) {
        fl_batch_free(tb);
        return rc;
    }
    /* Text half: _score, _rowid; vector half: _distance, _rowid (both best first). */
    size_t nt = (size_t)tb->num_rows, nv = (size_t)vb->num_rows, n = 0;
    fused *all = fl_calloc(nt + nv + 1, sizeof *all);
    if (!all) rc = oom(err);
    double best = 0, dmin = INFINITY, dmax = -INFINITY;
    for (size_t i = 0; rc == FL_OK && i < nt; i++) best = fmax(best, fl_array_get_float(&tb->columns[0], (int64_t)i));
    for (size_t i = 0; rc == FL_OK && i < nv; i++) {
        double d = fl_array_get_float(&vb->columns[0], (int64_t)i);
        dmin = fmin(dmin, d);
        dmax = fmax(dmax, d);
    }
    for (size_t i = 0; rc == FL_OK && i < nt; i++) {
        fused *f = &all[n++];
        f->id = fl_array_get_uint(&tb->columns[1], (int64_t)i);
        f->has_score = true;
        f->score = (float)fl_array_get_float(&tb->columns[0], (int64_t)i);
        f->relevance = hq->rerank == FL_RERANK_RRF ? 1.0 / (rrf_k + (double)(i + 1)) : (1 - weight) * (best > 0 ? f->score / best : 0);
    }
    if (rc == FL_OK) qsort(all, n, sizeof *all, cmp_id);
    size_t n_text = n;
    for (size_t i = 0; rc == FL_OK && i < nv; i++) {
        uint64_t id = fl_array_get_uint(&vb->columns[1], (int64_t)i);
        fused *f = find(all, n_text, id);
        if (!f) {
            f = &all[n++];
            f->id = id;
        }
        f->has_distance = true;
        f->distance = (float)fl_array_get_float(&vb->columns[0], (int64_t)i);
        double v = dmax > dmin ? 1.0 - (f->distance - dmin) / (dmax - dmin) : 1.0;
        f->relevance += hq->rerank == FL_RERANK_RRF ? 1.0 / (rrf_k + (double)(i + 1)) : weight * v;
    }
    fl_batch_free(tb);
    fl_batch_free(vb);
    if (rc == FL_OK) {
        qsort(all, n, sizeof *all, cmp_fused);
        if (n > (size_t)k) n = (size_t)k;
    }
    uint64_t *ids = rc == FL_OK ? fl_malloc((n ? n : 1) * sizeof *ids) : NULL;
    if (rc == FL_OK && !ids) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < n; i++) ids[i] = all[i].id;
    fl_batch *rows = NULL, *res = NULL;
    fl_schema *extra = NULL, *schema = NULL;
    if (rc == FL_OK) rc = fl_table_take(t, ids, n, hq->columns, hq->n_columns, &rows, err);
    if (rc == FL_OK) rc = fl_schema_parse("_score float32, _distance float32, _relevance_score float32, _rowid uint64", &extra, err);
    if (rc == FL_OK) {
        bool ok = (schema = fl_schema_copy(rows->schema)) != NULL;
        for (int32_t i = 0; ok && i < extra->n_fields; i++) ok = fl_schema_append_field(schema, &extra->fields[i]) == FL_OK;
        if (!ok || !(res = fl_batch_new(schema))) rc = oom(err);
    }
    int32_t base = rc == FL_OK ? rows->n_columns : 0;
    for (int32_t c = 0; rc == FL_OK && c < base; c++)
        if (fl_array_append_range(&res->columns[c], &rows->columns[c], 0, rows->num_rows) != FL_OK) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        const fused *f = &all[i];
        bool ok = (f->has_score ? fl_array_append_float(&res->columns[base], f->score) : fl_array_append_null(&res->columns[base])) == FL_OK &&
                  (f->has_distance ? fl_array_append_float(&res->columns[base + 1], f->distance)
                                   : fl_array_append_null(&res->columns[base + 1])) == FL_OK &&
                  fl_array_append_float(&res->columns[base + 2], f->relevance) == FL_OK &&
                  fl_array_append_uint(&res->columns[base + 3], f->id) == FL_OK;
        if (!ok) rc = oom(err);
    }
    if (rc == FL_OK) rc = fl_batch_finish(res, err);
    if (rc == FL_OK && fl_batch_set_row_ids(res, ids, n) != FL_OK) rc = oom(err);
    if (rc == FL_OK) *out = res;
    else fl_batch_free(res);
    fl_batch_free(rows);
    fl_schema_free(extra);
    fl_schema_free(schema);
    fl_free(ids);
    fl_free(all);
    return rc;
}
