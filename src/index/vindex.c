/*
 * vindex.c — vector index files (ivf_pq, ivf_flat) of the index layer: building one from fragments of a
 * fixed_size_list<float32, N> column, and loading one through the decoded-file cache (vindex.h).
 *
 * A build trains the model (IVF centroids, and PQ codebooks) on a reservoir sample of the column, or
 * takes it from an existing file of the index (updates: new rows are encoded with the model the other
 * files use, so their distances compare), then adds every vector in chunks. NULL vectors and vectors with
 * a non-finite value are not indexed; exact search never returns them either.
 */
#include "vindex.h"

#include "cache.h"

#include <math.h>
#include <stdlib.h>

#define CHUNK_ROWS 16384

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static const char *param(const fl_kv *params, int32_t n, const char *key) {
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(params[i].key, key)) return params[i].value;
    return NULL;
}

int fl_vindex_metric(const fl_kv *params, int32_t n) {
    const char *m = param(params, n, "metric");
    int metric = FL_METRIC_L2;
    if (m) fl_metric_parse(m, &metric);
    return metric;
}

/* ---- loading ---- */

static void free_ivf(void *p) { fl_ivf_free(p); }

static int load_ivf(void *ctx, const char *path, void **obj, size_t *bytes, void (**free_fn)(void *), fl_error *err) {
    (void)ctx;
    uint8_t *data;
    size_t size;
    FL_RETURN_NOT_OK(fl_io_read_file(path, &data, &size, err));
    fl_ivf *ivf = NULL;
    int rc = fl_ivf_read(data, size, path, &ivf, err);
    fl_free(data);
    if (rc != FL_OK) return rc;
    *obj = ivf;
    *bytes = size;
    *free_fn = free_ivf;
    return FL_OK;
}

int fl_vindex_load(fl_table *t, const char *rel, fl_ixcache_ref *out, fl_error *err) {
    char *path = fl_table_path(t, rel);
    if (!path) return oom(err);
    int rc = fl_ixcache_get(path, load_ivf, NULL, out, err);
    fl_free(path);
    return rc;
}

/* ---- building ---- */

static bool finite_vector(const float *v, int dim) {
    for (int i = 0; i < dim; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

/* Calls fn on every indexable vector of the fragments, in chunks: (row ids, vectors, n). */
typedef int (*chunk_fn)(void *ctx, const uint64_t *rows, const float *x, size_t n, fl_error *err);

static int each_chunk(fl_table *t, const fl_field *field, const uint32_t *frags, uint32_t n_frags, chunk_fn fn, void *ctx, fl_error *err) {
    int dim = field->fixed_size;
    fl_array a;
    if (fl_array_init(&a, field) != FL_OK) {
        fl_array_clear(&a);
        return oom(err);
    }
    uint64_t *rows = fl_malloc(CHUNK_ROWS * sizeof *rows);
    float *x = fl_malloc((size_t)CHUNK_ROWS * (size_t)dim * sizeof *x);
    int rc = rows && x ? FL_OK : oom(err);
    for (uint32_t k = 0; rc == FL_OK && k < n_frags; k++) {
        const fl_fragment *f = &t->m->fragments[frags[k]];
        fl_rid_cursor cur = {f, 0, 0};
        /* Deleted rows are left out (a view's row id may have a dead copy here and a live one elsewhere). */
        const deletion_set *d = NULL;
        rc = fl_table_deletions(t, frags[k], &d, err);
        for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += CHUNK_ROWS) {
            uint64_t count = f->physical_rows - start < CHUNK_ROWS ? f->physical_rows - start : CHUNK_ROWS;
            fl_array_reset(&a);
            rc = fl_table_read_column(t, frags[k], field, (int64_t)start, (int64_t)count, &a, err);
            size_t n = 0;
            const float *vals = (const float *)a.children[0].values;
            for (int64_t i = 0; rc == FL_OK && i < (int64_t)count; i++) {
                uint64_t row = fl_rid_next(&cur);
                if ((d->n && fl_deletion_contains(d, start + (uint64_t)i)) || fl_array_is_null(&a, i) ||
                    !finite_vector(vals + (size_t)i * (size_t)dim, dim))
                    continue;
                rows[n] = row;
                memcpy(x + n * (size_t)dim, vals + (size_t)i * (size_t)dim, (size_t)dim * sizeof *x);
                n++;
            }
            if (rc == FL_OK && n) rc = fn(ctx, rows, x, n, err);
        }
    }
    fl_array_clear(&a);
    fl_free(rows);
    fl_free(x);
    return rc;
}

/* Reservoir sample of at most cap vectors (deterministic). */
typedef struct sampler {
    int dim;
    size_t cap, n;
    uint64_t seen, state;
    float *x;
} sampler;

static int sample_chunk(void *ctx, const uint64_t *rows, const float *x, size_t n, fl_error *err) {
    (void)rows, (void)err;
    sampler *s = ctx;
    for (size_t i = 0; i < n; i++, s->seen++) {
        size_t slot;
        if (s->n < s->cap) slot = s->n++;
        else {
            s->state ^= s->state << 13, s->state ^= s->state >> 7, s->state ^= s->state << 17;
            uint64_t r = s->state % (s->seen + 1);
            if (r >= s->cap) continue;
            slot = (size_t)r;
        }
        memcpy(s->x + slot * (size_t)s->dim, x + i * (size_t)s->dim, (size_t)s->dim * sizeof *s->x);
    }
    return FL_OK;
}

static int add_chunk(void *ctx, const uint64_t *rows, const float *x, size_t n, fl_error *err) { return fl_ivf_add(ctx, x, rows, n, err); }

/* The default number of sub-vectors: dim / 16 when that divides (LanceDB's default), else the largest
 * divisor of dim giving sub-vectors of at least 4 floats, else dim. */
static int default_sub_vectors(int dim) {
    if (dim % 16 == 0) return dim / 16;
    for (int d = 4; d <= dim; d++)
        if (dim % d == 0) return dim / d;
    return dim;
}

static int parse_int_param(const fl_kv *params, int32_t n, const char *key, int *out, fl_error *err) {
    const char *v = param(params, n, key);
    *out = 0;
    if (!v || !strcmp(v, "auto")) return FL_OK;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 1 || x > 1048576) return fl_error_set(err, FL_EINVAL, "vector index: %s must be a positive integer or auto, not '%s'", key, v);
    *out = (int)x;
    return FL_OK;
}

int fl_vindex_check_params(bool pq, const fl_kv *params, int32_t n, fl_error *err) {
    int x;
    FL_RETURN_NOT_OK(parse_int_param(params, n, "partitions", &x, err));
    FL_RETURN_NOT_OK(parse_int_param(params, n, "sub_vectors", &x, err));
    if (!pq && param(params, n, "sub_vectors")) return fl_error_set(err, FL_EINVAL, "ivf_flat index: sub_vectors goes with ivf_pq");
    const char *sv = param(params, n, "store_vectors");
    if (sv && (!pq || (strcmp(sv, "true") && strcmp(sv, "false"))))
        return fl_error_set(err, FL_EINVAL, "vector index: store_vectors (true or false) goes with ivf_pq");
    const char *m = param(params, n, "metric");
    int metric;
    if (m && (fl_metric_parse(m, &metric) != FL_OK || metric == FL_METRIC_HAMMING))
        return fl_error_set(err, FL_EINVAL, "vector index: metric must be l2, cosine or dot, not '%s'", m);
    return FL_OK;
}

int fl_vindex_build(fl_table *t, const fl_field *field, bool pq, const fl_kv *params, int32_t n_params, const uint32_t *frags, uint32_t n_frags,
                    const char *model_rel, const char *path, fl_error *err) {
    int dim = field->fixed_size;
    fl_ivf *ivf = NULL;
    int rc = FL_OK;
    if (model_rel) {
        fl_ixcache_ref ref;
        rc = fl_vindex_load(t, model_rel, &ref, err);
        if (rc == FL_OK) {
            rc = fl_ivf_new_like(ref.obj, &ivf, err);
            fl_ixcache_release(&ref);
        }
    } else {
        int partitions, sub_vectors;
        FL_RETURN_NOT_OK(parse_int_param(params, n_params, "partitions", &partitions, err));
        FL_RETURN_NOT_OK(parse_int_param(params, n_params, "sub_vectors", &sub_vectors, err));
        uint64_t rows = 0;
        for (uint32_t k = 0; k < n_frags; k++) rows += t->m->fragments[frags[k]].physical_rows;
        size_t want = partitions ? (size_t)partitions : (size_t)fmax(1, fmin(4096, floor(sqrt((double)rows))));
        sampler s = {.dim = dim, .cap = want * 256 > 65536 ? want * 256 : 65536, .state = 0x9E3779B97F4A7C15u};
        if (s.cap > rows) s.cap = (size_t)rows;
        if (s.cap == 0) return fl_error_set(err, FL_EINVAL, "vector index on '%s': the column has no vectors to train on", field->name);
        if (!(s.x = fl_malloc(s.cap * (size_t)dim * sizeof *s.x))) return oom(err);
        rc = each_chunk(t, field, frags, n_frags, sample_chunk, &s, err);
        if (rc == FL_OK && s.n == 0) rc = fl_error_set(err, FL_EINVAL, "vector index on '%s': the column has no vectors to train on", field->name);
        if (rc == FL_OK && !partitions && want > s.n) want = s.n;
        fl_ivf_params p = {.type = pq ? FL_IVF_PQ : FL_IVF_FLAT, .metric = fl_vindex_metric(params, n_params), .dim = dim,
                           .partitions = (int)want, .sub_vectors = sub_vectors ? sub_vectors : default_sub_vectors(dim), .seed = 42,
                           /* raw vectors kept by default: re-ranking then needs no table reads */
                           .store_vectors = pq && !(param(params, n_params, "store_vectors") && !strcmp(param(params, n_params, "store_vectors"), "false"))};
        if (rc == FL_OK) rc = fl_ivf_train(&p, s.x, s.n, &ivf, err);
        if (rc != FL_OK) fl_error_prefix(err, rc, "vector index on '%s'", field->name);
        fl_free(s.x);
    }
    if (rc == FL_OK) rc = each_chunk(t, field, frags, n_frags, add_chunk, ivf, err);
    fl_buf b;
    fl_buf_init(&b);
    if (rc == FL_OK) rc = fl_ivf_write(ivf, &b, err);
    fl_wfile *w = NULL;
    if (rc == FL_OK) rc = fl_io_writer_open(path, &w, err);
    if (rc == FL_OK) {
        rc = fl_io_writer_write(w, b.data, b.size, err);
        if (rc == FL_OK) rc = fl_io_writer_finish(w, err);
        else fl_io_writer_abort(w);
    }
    fl_buf_free(&b);
    fl_ivf_free(ivf);
    return rc;
}
