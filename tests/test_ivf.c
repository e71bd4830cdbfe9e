/*
 * test_ivf.c — the IVF vector index core (src/index/ivf.c): k-means recovers the centres of well-separated
 * clusters and assigns exactly; the product quantizer's encode and ADC tables agree with brute force;
 * IVF_FLAT probing every partition equals a brute force (same row ids, same double distances) for l2, cosine
 * and dot, and equals fl_vector_search on a table; IVF_PQ with refinement reaches recall@10 ≥ 0.9 on
 * clustered data; the prefilter; incremental adds (any order, new_like) give the same index as one add;
 * adds are all or nothing (duplicate ids, NaN, allocation failures); write → read round trips byte for
 * byte and search for search; the reader rejects every truncation, every flipped byte and a bad magic; and
 * bad parameters fail with clear messages.
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "index/ivf.h"

#include <math.h>
#include <stdlib.h>

/* ---- data ---- */

static double unit(uint64_t *st) { return (double)(tl_rand(st) >> 11) * 0x1.0p-53; }

static double gauss(uint64_t *st) {
    double u = unit(st), v = unit(st);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n points of dim floats around `clusters` centres drawn in [-spread, spread]^dim, gaussian noise sigma;
 * label[i] (optional) is the centre of point i; centres (optional) receive the centres. */
static float *clustered(size_t n, int dim, int clusters, double spread, double sigma, uint64_t seed, int *label, float *centres) {
    uint64_t st = seed;
    float *c = malloc((size_t)clusters * dim * sizeof *c);
    for (size_t i = 0; i < (size_t)clusters * dim; i++) c[i] = (float)((unit(&st) * 2 - 1) * spread);
    float *x = malloc(n * dim * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(tl_rand(&st) % (uint64_t)clusters);
        if (label) label[i] = k;
        for (int t = 0; t < dim; t++) x[i * dim + t] = c[(size_t)k * dim + t] + (float)(gauss(&st) * sigma);
    }
    if (centres) memcpy(centres, c, (size_t)clusters * dim * sizeof *c);
    free(c);
    return x;
}

/* vector.c's distances, computed the same way (double, in order). */
static double exact_distance(int metric, const float *v, const float *q, int dim) {
    double s = 0, vv = 0, qq = 0;
    switch (metric) {
    case FL_METRIC_L2:
        for (int t = 0; t < dim; t++) {
            double d = (double)v[t] - q[t];
            s += d * d;
        }
        return s;
    case FL_METRIC_DOT:
        for (int t = 0; t < dim; t++) s += (double)v[t] * q[t];
        return 1.0 - s;
    default:
        for (int t = 0; t < dim; t++) qq += (double)q[t] * q[t];
        for (int t = 0; t < dim; t++) s += (double)v[t] * q[t], vv += (double)v[t] * v[t];
        return vv == 0 || qq == 0 ? 1.0 : 1.0 - s / (sqrt(vv) * sqrt(qq));
    }
}

typedef struct ref {
    double d;
    uint64_t id;
} ref;

static int cmp_ref(const void *a, const void *b) {
    const ref *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Row ids of the test vectors: not 0..n-1, to catch index/id mix-ups. */
static uint64_t row_id_of(size_t i) { return (uint64_t)i * 3 + 7; }

/* The k best of the n vectors (optionally only even row ids) by brute force, into out[k] in order;
 * returns how many. */
static int brute_force(int metric, const float *x, size_t n, int dim, const float *q, int k, bool even_only, ref *out) {
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        if (even_only && row_id_of(i) % 2) continue;
        ref r = {exact_distance(metric, x + i * dim, q, dim), row_id_of(i)};
        if (got == k && cmp_ref(&r, &out[k - 1]) >= 0) continue;
        int at = got < k ? got++ : k - 1;
        for (; at > 0 && cmp_ref(&r, &out[at - 1]) < 0; at--) out[at] = out[at - 1];
        out[at] = r;
    }
    return got;
}

typedef struct data_ctx {
    const float *x;
    int metric, dim;
    size_t calls, rows;
} data_ctx;

static int refine_exact(void *ctx, const float *query, const uint64_t *ids, size_t n, double *d, fl_error *err) {
    (void)err;
    data_ctx *c = ctx;
    c->calls++;
    c->rows += n;
    for (size_t i = 0; i < n; i++) d[i] = exact_distance(c->metric, c->x + (ids[i] - 7) / 3 * (size_t)c->dim, query, c->dim);
    return FL_OK;
}

static bool keep_even(void *ctx, uint64_t id) {
    (*(size_t *)ctx)++;
    return id % 2 == 0;
}

static fl_ivf *build(int type, int metric, const float *x, size_t n, int dim, int partitions, int m) {
    fl_ivf_params p = {.type = type, .metric = metric, .dim = dim, .partitions = partitions, .sub_vectors = m, .iters = 6, .seed = 42};
    fl_ivf *ivf = NULL;
    CHECK_OK(fl_ivf_train(&p, x, n, &ivf, &tl_err));
    if (!ivf) return NULL;
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = row_id_of(i);
    CHECK_OK(fl_ivf_add(ivf, x, ids, n, &tl_err));
    free(ids);
    return ivf;
}

static fl_buf serialize(const fl_ivf *ivf) {
    fl_buf b;
    fl_buf_init(&b);
    CHECK_OK(fl_ivf_write(ivf, &b, &tl_err));
    return b;
}

static bool same_bytes(const fl_ivf *a, const fl_ivf *b) {
    fl_buf x = serialize(a), y = serialize(b);
    bool same = x.size == y.size && !memcmp(x.data, y.data, x.size);
    fl_buf_free(&x);
    fl_buf_free(&y);
    return same;
}

/* ---- k-means ---- */

static void test_kmeans_recovers_centres(void) {
    enum { N = 4000, D = 16, K = 8 };
    int label[N];
    float truth[K * D], c[K * D];
    float *x = clustered(N, D, K, 100, 0.5, 7, label, truth);
    CHECK_OK(fl_kmeans_train(x, N, D, K, 20, 1, c, &tl_err));
    /* one centroid within 0.1 of every centre (the mean of ~500 points with noise 0.5 per axis) */
    int match[K];
    for (int t = 0; t < K; t++) {
        match[t] = -1;
        for (int j = 0; j < K; j++) {
            double e = 0;
            for (int d = 0; d < D; d++) e = fmax(e, fabs((double)c[j * D + d] - truth[t * D + d]));
            if (e < 0.1) {
                CHECK(match[t] == -1);
                match[t] = j;
            }
        }
        CHECK(match[t] >= 0);
    }
    /* assignment puts every point with its centre's centroid, with its squared distance */
    int32_t assign[N];
    float dist[N];
    CHECK_OK(fl_kmeans_assign(x, N, D, c, K, assign, dist, &tl_err));
    int wrong = 0, far = 0;
    for (int i = 0; i < N; i++) {
        wrong += match[label[i]] < 0 || assign[i] != match[label[i]];
        double e = 0;
        for (int d = 0; d < D; d++) e += ((double)x[i * D + d] - c[assign[i] * D + d]) * ((double)x[i * D + d] - c[assign[i] * D + d]);
        far += fabs(e - dist[i]) > 1e-3 * (e + 1) + 0.05; /* ‖x‖² ≈ 5e4: float cancellation */
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(far, 0);
    /* deterministic for a seed; above 256 points per cluster the input is sampled */
    float again[K * D], two[2 * D];
    CHECK_OK(fl_kmeans_train(x, N, D, K, 20, 1, again, &tl_err));
    CHECK(!memcmp(c, again, sizeof c));
    CHECK_OK(fl_kmeans_train(x, N, D, 2, 5, 3, two, &tl_err)); /* 512 of 4000 points */
    free(x);
}

static void test_kmeans_exact_and_assign(void) {
    /* 4 distinct points, each 50 times: the centroids are exactly the points */
    enum { D = 3 };
    static const float pts[4][D] = {{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}};
    float x[200 * D], c[4 * D];
    for (int i = 0; i < 200; i++) memcpy(x + i * D, pts[(i * 7) % 4], sizeof pts[0]);
    CHECK_OK(fl_kmeans_train(x, 200, D, 4, 10, 5, c, &tl_err));
    int found = 0;
    for (int p = 0; p < 4; p++)
        for (int j = 0; j < 4; j++) found += !memcmp(c + j * D, pts[p], sizeof pts[0]);
    CHECK_EQ_INT(found, 4);
    /* more clusters than distinct points: every centroid is still one of the points (never NaN) */
    float c6[6 * D];
    CHECK_OK(fl_kmeans_train(x, 200, D, 6, 10, 5, c6, &tl_err));
    for (int j = 0; j < 6; j++) {
        int is_point = 0;
        for (int p = 0; p < 4; p++) is_point += !memcmp(c6 + j * D, pts[p], sizeof pts[0]);
        CHECK_EQ_INT(is_point, 1);
    }
    /* n == k: each point its own cluster */
    CHECK_OK(fl_kmeans_train(&pts[0][0], 4, D, 4, 10, 9, c, &tl_err));
    found = 0;
    for (int p = 0; p < 4; p++)
        for (int j = 0; j < 4; j++) found += !memcmp(c + j * D, pts[p], sizeof pts[0]);
    CHECK_EQ_INT(found, 4);
    /* assign on random points equals the brute-force argmin (ties to the lower centroid) */
    enum { N = 3000, K = 37, DD = 10 };
    uint64_t st = 11;
    float *rx = malloc(N * DD * sizeof *rx), rc[K * DD];
    for (int i = 0; i < N * DD; i++) rx[i] = (float)(unit(&st) * 2 - 1);
    for (int i = 0; i < K * DD; i++) rc[i] = (float)(unit(&st) * 2 - 1);
    int32_t *assign = malloc(N * sizeof *assign);
    CHECK_OK(fl_kmeans_assign(rx, N, DD, rc, K, assign, NULL, &tl_err));
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        double best = INFINITY, second = INFINITY;
        int arg = -1;
        for (int j = 0; j < K; j++) {
            double e = 0;
            for (int d = 0; d < DD; d++) e += ((double)rx[i * DD + d] - rc[j * DD + d]) * ((double)rx[i * DD + d] - rc[j * DD + d]);
            if (e < best) second = best, best = e, arg = j;
            else if (e < second) second = e;
        }
        if (second - best > 1e-5) wrong += assign[i] != arg; /* closer calls are within float rounding */
    }
    CHECK_EQ_INT(wrong, 0);
    free(rx);
    free(assign);
    /* errors */
    fl_error err = {0};
    CHECK_EQ_INT(fl_kmeans_train(x, 3, D, 4, 10, 1, c, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "k-means: 4 clusters need at least 4 points (got 3)");
    CHECK_EQ_INT(fl_kmeans_train(x, 3, D, 0, 10, 1, c, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "k-means: k must be at least 1 (got 0)");
    x[5] = NAN;
    CHECK_EQ_INT(fl_kmeans_train(x, 200, D, 4, 10, 1, c, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "k-means: point 1 has a non-finite value at dimension 2");
}

/* ---- product quantizer ---- */

static void test_pq(void) {
    enum { N = 3000, D = 12, M = 4, DS = D / M };
    float *x = clustered(N, D, 20, 5, 1, 3, NULL, NULL);
    fl_pq pq;
    CHECK_OK(fl_pq_train(x, N, D, M, 10, 1, &pq, &tl_err));
    CHECK_EQ_INT(pq.m, M);
    CHECK_EQ_INT(pq.dsub, DS);
    uint8_t *codes = malloc(N * M);
    CHECK_OK(fl_pq_encode(&pq, x, N, codes, &tl_err));
    /* each code byte names the nearest codeword of its sub-space (ties within float rounding aside) */
    int wrong = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double best = INFINITY, second = INFINITY;
            int arg = -1;
            for (int c = 0; c < 256; c++) {
                double e = 0;
                for (int t = 0; t < DS; t++) {
                    double v = (double)x[i * D + j * DS + t] - pq.codebooks[(j * 256 + c) * DS + t];
                    e += v * v;
                }
                if (e < best) second = best, best = e, arg = c;
                else if (e < second) second = e;
            }
            if (second - best > 1e-4) wrong += codes[i * M + j] != arg;
        }
    CHECK_EQ_INT(wrong, 0);
    /* the l2 table summed over a code is the squared distance to the decoded vector; ip likewise */
    float q[D], table[M * 256], ip[M * 256], dec[D], adc[5], adc_ip[5];
    for (int t = 0; t < D; t++) q[t] = (float)t - 5.5f;
    fl_pq_l2_table(&pq, q, table);
    fl_pq_ip_table(&pq, q, ip);
    fl_pq_adc(table, M, codes, 5, adc);
    fl_pq_adc(ip, M, codes, 5, adc_ip);
    for (int i = 0; i < 5; i++) {
        fl_pq_decode(&pq, codes + i * M, 1, dec);
        double e = 0, dot = 0;
        for (int t = 0; t < D; t++) e += ((double)q[t] - dec[t]) * ((double)q[t] - dec[t]), dot += (double)q[t] * dec[t];
        CHECK(fabs(e - adc[i]) <= 1e-4 * e);
        CHECK(fabs(dot - adc_ip[i]) <= 1e-4 * (fabs(dot) + 1));
    }
    /* fewer vectors than codewords: the codebook holds them and encodes them exactly */
    fl_pq small;
    CHECK_OK(fl_pq_train(x, 10, D, M, 5, 1, &small, &tl_err));
    uint8_t sc[10 * M];
    float back[10 * D];
    CHECK_OK(fl_pq_encode(&small, x, 10, sc, &tl_err));
    fl_pq_decode(&small, sc, 10, back);
    CHECK(!memcmp(back, x, sizeof back));
    fl_pq_free(&small);
    fl_error err = {0};
    CHECK_EQ_INT(fl_pq_train(x, N, D, 5, 10, 1, &small, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "pq: dim 12 is not divisible by sub_vectors 5 (sub_vectors must divide dim)");
    fl_pq_free(&pq);
    fl_pq_free(&pq); /* a zeroed quantizer frees as a no-op */
    free(codes);
    free(x);
}

/* ---- IVF_FLAT: exact ---- */

static void check_exhaustive(const fl_ivf *ivf, int metric, const float *x, size_t n, int dim, const float *q, int k, bool even) {
    fl_ivf_hit *hits = malloc((size_t)k * sizeof *hits);
    ref *want = malloc((size_t)k * sizeof *want);
    int got = -1;
    size_t asked = 0;
    fl_ivf_filter f = {keep_even, &asked};
    CHECK_OK(fl_ivf_search(ivf, q, k, fl_ivf_partitions(ivf), 0, even ? &f : NULL, NULL, NULL, hits, &got, &tl_err));
    int w = brute_force(metric, x, n, dim, q, k, even, want);
    CHECK_EQ_INT(got, w);
    int mismatches = 0;
    for (int i = 0; i < got && i < w; i++) mismatches += hits[i].row_id != want[i].id || hits[i].distance != want[i].d;
    CHECK_EQ_INT(mismatches, 0);
    if (even) CHECK(asked < n); /* the filter is asked only about rows that could enter the results */
    free(hits);
    free(want);
}

static void test_flat_exhaustive_equals_brute_force(void) {
    enum { N = 3000, D = 24, P = 16 };
    float *x = clustered(N, D, 12, 4, 1.5, 21, NULL, NULL);
    x[5 * D + 0] = x[5 * D + 1] = 0; /* a few exact duplicates and a zero vector: ties and cosine's 1 */
    memcpy(x + 9 * D, x + 10 * D, D * sizeof *x);
    memcpy(x + 11 * D, x + 10 * D, D * sizeof *x);
    memset(x + 12 * D, 0, D * sizeof *x);
    for (int metric = FL_METRIC_L2; metric <= FL_METRIC_DOT; metric++) {
        fl_ivf *ivf = build(FL_IVF_FLAT, metric, x, N, D, P, 0);
        if (!ivf) continue;
        CHECK_EQ_INT((int64_t)fl_ivf_count(ivf), N);
        size_t total = 0;
        int empty = 0;
        for (int p = 0; p < P; p++) total += fl_ivf_partition_count(ivf, p), empty += !fl_ivf_partition_count(ivf, p);
        CHECK_EQ_INT(total, N);
        CHECK_EQ_INT(empty, 0);
        uint64_t st = 5 + (uint64_t)metric;
        for (int t = 0; t < 12; t++) {
            float q[D];
            const float *base = x + (tl_rand(&st) % N) * D;
            for (int d = 0; d < D; d++) q[d] = base[d] + (float)gauss(&st);
            check_exhaustive(ivf, metric, x, N, D, q, 10, false);
            check_exhaustive(ivf, metric, x, N, D, q, 25, true);
        }
        check_exhaustive(ivf, metric, x, N, D, x + 10 * D, 5, false); /* three equal vectors: ties by row id */
        check_exhaustive(ivf, metric, x, N, D, x + 12 * D, 7, false); /* zero query */
        /* k above the vectors: all of them */
        fl_ivf_hit *hits = malloc((N + 10) * sizeof *hits);
        int got = 0;
        CHECK_OK(fl_ivf_search(ivf, x, N + 10, 1000, 0, NULL, NULL, NULL, hits, &got, &tl_err)); /* nprobes clamps */
        CHECK_EQ_INT(got, N);
        free(hits);
        fl_ivf_free(ivf);
    }
    free(x);
}

/* IVF_FLAT probing everything returns what fl_vector_search returns on a table holding the same rows. */
static void test_flat_equals_vector_search(void) {
    enum { N = 600, D = 8 };
    float *x = clustered(N, D, 6, 3, 1, 77, NULL, NULL);
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("ivf"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s;
    CHECK_OK(fl_schema_parse("v fixed_size_list<float32, 8>", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "vt", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < N; i++) {
        for (int d = 0; d < D; d++) CHECK_OK(fl_array_append_float(&b->columns[0].children[0], x[i * D + d]));
        CHECK_OK(fl_array_end_list(&b->columns[0]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    uint64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (uint64_t)i; /* the table's row ids */
    float q[D] = {1, -2, 0.5f, 3, 0, -1, 2, 0.25f};
    for (int metric = FL_METRIC_L2; metric <= FL_METRIC_DOT; metric++) {
        fl_ivf_params p = {.type = FL_IVF_FLAT, .metric = metric, .dim = D, .partitions = 8, .seed = 3};
        fl_ivf *ivf = NULL;
        CHECK_OK(fl_ivf_train(&p, x, N, &ivf, &tl_err));
        CHECK_OK(fl_ivf_add(ivf, x, ids, N, &tl_err));
        fl_ivf_hit hits[20];
        int got = 0;
        CHECK_OK(fl_ivf_search(ivf, q, 20, 8, 0, NULL, NULL, NULL, hits, &got, &tl_err));
        fl_vector_query vq = {.column = "v", .vector = q, .dim = D, .metric = metric, .k = 20};
        fl_batch *r = NULL;
        CHECK_OK(fl_vector_search(t, &vq, &r, &tl_err));
        CHECK(r && r->num_rows == got);
        for (int i = 0; r && i < got && i < r->num_rows; i++) {
            CHECK_EQ_INT((int64_t)r->row_ids[i], (int64_t)hits[i].row_id);
            CHECK(fl_array_get_float(&r->columns[r->n_columns - 2], i) == (float)hits[i].distance);
        }
        fl_batch_free(r);
        fl_ivf_free(ivf);
    }
    fl_schema_free(s);
    fl_table_close(t);
    fl_db_close(db);
    free(x);
}

/* ---- IVF_PQ: recall ---- */

/* recall@10 of IVF_PQ (nprobes 8, refine 4) against brute force over `queries` queries near data points. */
static double pq_recall(int metric, const float *x, size_t n, int dim, const fl_ivf *ivf, int queries, int refine_factor, size_t *refined) {
    uint64_t st = 99;
    data_ctx ctx = {x, metric, dim, 0, 0};
    int found = 0, total = 0;
    for (int t = 0; t < queries; t++) {
        float q[64];
        const float *base = x + (tl_rand(&st) % n) * dim;
        for (int d = 0; d < dim; d++) q[d] = base[d] + (float)(gauss(&st) * 0.5);
        fl_ivf_hit hits[10];
        ref want[10];
        int got = 0;
        CHECK_OK(fl_ivf_search(ivf, q, 10, 8, refine_factor, NULL, refine_factor ? refine_exact : NULL, &ctx, hits, &got, &tl_err));
        int w = brute_force(metric, x, n, dim, q, 10, false, want);
        CHECK_EQ_INT(got, 10);
        for (int i = 0; i < w; i++)
            for (int j = 0; j < got; j++) found += want[i].id == hits[j].row_id;
        total += w;
        /* refined distances are exact and ascending */
        for (int j = 0; refine_factor && j < got; j++) {
            CHECK(hits[j].distance == exact_distance(metric, x + (hits[j].row_id - 7) / 3 * dim, q, dim));
            if (j) CHECK(hits[j - 1].distance <= hits[j].distance);
        }
    }
    if (refined) *refined = ctx.rows;
    return (double)found / total;
}

/* IVF_PQ recall@10 with refine_factor 4 (exact distances from the callback) at nprobes 8. l2 at the size
 * of a real embedding test (20k × 64-d, 64 clusters, 64 partitions, m = 16); cosine and dot smaller. */
static void pq_recall_case(int metric, size_t n, int dim, int partitions, int m) {
    float *x = clustered(n, dim, partitions, 10, 1, 2024, NULL, NULL);
    fl_ivf_params p = {.type = FL_IVF_PQ, .metric = metric, .dim = dim, .partitions = partitions, .sub_vectors = m, .iters = 4, .seed = 1,
                       .sample = 4096};
    fl_ivf *ivf = NULL;
    CHECK_OK(fl_ivf_train(&p, x, n, &ivf, &tl_err));
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = row_id_of(i);
    if (ivf) CHECK_OK(fl_ivf_add(ivf, x, ids, n, &tl_err));
    size_t refined = 0;
    double with = ivf ? pq_recall(metric, x, n, dim, ivf, 30, 4, &refined) : 0;
    double without = ivf ? pq_recall(metric, x, n, dim, ivf, 30, 0, NULL) : 0;
    fprintf(stderr, "  IVF_PQ %s %zu x %d: recall@10 %.3f with refine 4, %.3f without\n", fl_metric_name(metric), n, dim, with, without);
    CHECK(with >= 0.9);
    CHECK_EQ_INT(refined, 30 * 40); /* k × refine_factor rows per query */
    fl_ivf_free(ivf);
    free(ids);
    free(x);
}

static void test_pq_recall(void) {
    pq_recall_case(FL_METRIC_L2, 20000, 64, 64, 16);
    pq_recall_case(FL_METRIC_COSINE, 5000, 32, 32, 8);
    pq_recall_case(FL_METRIC_DOT, 5000, 32, 32, 8);
}

/* IVF_PQ probing every partition with refine_factor × k ≥ the rows refines every row: the exact answer,
 * with and without the prefilter. */
static void test_pq_full_refine_is_exact(void) {
    enum { N = 1000, D = 16, K = 10 };
    float *x = clustered(N, D, 5, 4, 1, 313, NULL, NULL);
    for (int metric = FL_METRIC_L2; metric <= FL_METRIC_DOT; metric++) {
        fl_ivf *ivf = build(FL_IVF_PQ, metric, x, N, D, 4, 4);
        if (!ivf) continue;
        data_ctx ctx = {x, metric, D, 0, 0};
        for (int t = 0; t < 4; t++) {
            const float *q = x + (size_t)t * 101 * D;
            for (int even = 0; even <= 1; even++) {
                size_t asked = 0;
                fl_ivf_filter f = {keep_even, &asked};
                fl_ivf_hit hits[K];
                ref want[K];
                int got = 0;
                CHECK_OK(fl_ivf_search(ivf, q, K, 4, N / K, even ? &f : NULL, refine_exact, &ctx, hits, &got, &tl_err));
                int w = brute_force(metric, x, N, D, q, K, even, want);
                CHECK_EQ_INT(got, w);
                int mismatches = 0;
                for (int i = 0; i < got && i < w; i++) mismatches += hits[i].row_id != want[i].id || hits[i].distance != want[i].d;
                CHECK_EQ_INT(mismatches, 0);
            }
        }
        fl_ivf_free(ivf);
    }
    free(x);
}


/* IVF_PQ keeping its vectors: re-ranking from them gives what the callback gives (ids and distances, for
 * every metric); adds in pieces and out of order give the same file; the file round-trips; a flat index
 * cannot carry the flag. */
static void test_pq_stored_vectors(void) {
    enum { N = 1200, D = 16, K = 10 };
    float *x = clustered(N, D, 6, 4, 1, 717, NULL, NULL);
    uint64_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = row_id_of(i);
    for (int metric = FL_METRIC_L2; metric <= FL_METRIC_DOT; metric++) {
        fl_ivf_params p = {.type = FL_IVF_PQ, .metric = metric, .dim = D, .partitions = 6, .sub_vectors = 4, .iters = 6, .seed = 42,
                           .store_vectors = true};
        fl_ivf *with = NULL, *plain = build(FL_IVF_PQ, metric, x, N, D, 6, 4), *parts = NULL;
        CHECK_OK(fl_ivf_train(&p, x, N, &with, &tl_err));
        if (!with || !plain) continue;
        CHECK_OK(fl_ivf_add(with, x, ids, N, &tl_err));
        CHECK_OK(fl_ivf_new_like(with, &parts, &tl_err));
        CHECK_OK(fl_ivf_add(parts, x + 700 * D, ids + 700, 500, &tl_err));
        CHECK_OK(fl_ivf_add(parts, x, ids, 300, &tl_err));
        CHECK_OK(fl_ivf_add(parts, x + 300 * D, ids + 300, 400, &tl_err)); /* merged between stored entries */
        CHECK(same_bytes(with, parts));
        fl_buf b = serialize(with);
        fl_ivf *back = NULL;
        CHECK_OK(fl_ivf_read(b.data, b.size, NULL, &back, &tl_err));
        CHECK(back && b.size > 0 && b.data[10] == 1);
        data_ctx ctx = {x, metric, D, 0, 0};
        for (int t = 0; t < 5; t++) {
            const float *q = x + (size_t)t * 97 * D;
            fl_ivf_hit a[K], c[K], r[K];
            int na = 0, nc = 0, nr = 0;
            CHECK_OK(fl_ivf_search(with, q, K, 3, 4, NULL, NULL, NULL, a, &na, &tl_err));      /* from stored vectors */
            CHECK_OK(fl_ivf_search(plain, q, K, 3, 4, NULL, refine_exact, &ctx, c, &nc, &tl_err)); /* through the callback */
            if (back) CHECK_OK(fl_ivf_search(back, q, K, 3, 4, NULL, NULL, NULL, r, &nr, &tl_err));
            CHECK_EQ_INT(na, K);
            CHECK_EQ_INT(nc, na);
            CHECK_EQ_INT(nr, na);
            int mismatches = 0;
            for (int i = 0; i < na && i < nc && i < nr; i++)
                mismatches += a[i].row_id != c[i].row_id || a[i].distance != c[i].distance || r[i].row_id != a[i].row_id || r[i].distance != a[i].distance;
            CHECK_EQ_INT(mismatches, 0);
        }
        /* the flag on a flat index is corruption */
        fl_ivf *flat = build(FL_IVF_FLAT, metric, x, 200, D, 2, 0);
        fl_buf fb = serialize(flat);
        fb.data[10] = 1;
        fl_store_u64(fb.data + 32, fl_hash64(fb.data, 32));
        fl_ivf *bad = NULL;
        CHECK_EQ_INT(fl_ivf_read(fb.data, fb.size, "flat.idx", &bad, &tl_err), FL_ECORRUPT);
        CHECK(strstr(tl_err.message, "only a pq index may keep vectors") != NULL);
        fl_buf_free(&fb);
        fl_ivf_free(flat);
        fl_buf_free(&b);
        fl_ivf_free(back);
        fl_ivf_free(parts);
        fl_ivf_free(with);
        fl_ivf_free(plain);
    }
    free(ids);
    free(x);
}

/* ---- building incrementally, errors, round trips ---- */

static void test_incremental_and_errors(void) {
    enum { N = 2000, D = 16 };
    float *x = clustered(N, D, 10, 5, 1, 31, NULL, NULL);
    uint64_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = row_id_of(i);
    for (int type = FL_IVF_FLAT; type <= FL_IVF_PQ; type++) {
        fl_ivf *whole = build(type, FL_METRIC_L2, x, N, D, 10, 4);
        if (!whole) continue;
        /* the same rows added by a model copy in three calls, out of order, give the same index */
        fl_ivf *parts = NULL;
        CHECK_OK(fl_ivf_new_like(whole, &parts, &tl_err));
        CHECK_EQ_INT((int64_t)fl_ivf_count(parts), 0);
        CHECK_OK(fl_ivf_add(parts, x + 1200 * D, ids + 1200, 800, &tl_err)); /* the highest ids first */
        CHECK_OK(fl_ivf_add(parts, x, ids, 500, &tl_err));
        CHECK_OK(fl_ivf_add(parts, x + 500 * D, ids + 500, 700, &tl_err)); /* between: merged into the lists */
        CHECK(same_bytes(whole, parts));
        /* errors leave the index unchanged */
        fl_buf before = serialize(parts);
        fl_error err = {0};
        uint64_t two[2] = {5000, 5000};
        CHECK_EQ_INT(fl_ivf_add(parts, x, two, 2, &err), FL_EINVAL);
        CHECK_EQ_STR(err.message, "ivf add: row id 5000 appears twice (vectors 0 and 1)");
        uint64_t again[2] = {6000, row_id_of(1500)};
        CHECK_EQ_INT(fl_ivf_add(parts, x, again, 2, &err), FL_EINVAL);
        CHECK_EQ_STR(err.message, "ivf add: row id 4507 (vector 1) is already in the index");
        float nan_vec[2 * D] = {0};
        nan_vec[D + 3] = INFINITY;
        CHECK_EQ_INT(fl_ivf_add(parts, nan_vec, two, 2, &err), FL_EINVAL);
        CHECK_EQ_STR(err.message, "ivf add: vector 1 has a non-finite value at dimension 3");
        /* allocation failures at every step of an add that merges: the index stays as it was */
        uint64_t mid[3] = {8, 11, 100000};
        int failures = 0;
        for (long fail = 1; fail < 200; fail++) {
            fl_alloc_fail_after(fail);
            int rc = fl_ivf_add(parts, x, mid, 3, &err);
            fl_alloc_fail_after(0);
            if (rc == FL_OK) break;
            CHECK_EQ_INT(rc, FL_ENOMEM);
            fl_buf now = serialize(parts);
            failures += now.size != before.size || memcmp(now.data, before.data, now.size) != 0;
            fl_buf_free(&now);
        }
        CHECK_EQ_INT(failures, 0);
        CHECK_EQ_INT((int64_t)fl_ivf_count(parts), N + 3);
        fl_buf_free(&before);
        fl_ivf_free(parts);
        fl_ivf_free(whole);
    }
    free(ids);
    free(x);
}

static void test_bad_params(void) {
    enum { N = 100, D = 12 };
    float *x = clustered(N, D, 4, 5, 1, 1, NULL, NULL);
    fl_error err = {0};
    fl_ivf *ivf = NULL;
    fl_ivf_params p = {.type = FL_IVF_PQ, .metric = FL_METRIC_L2, .dim = D, .partitions = 4, .sub_vectors = 5};
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: dim 12 is not divisible by sub_vectors 5 (IVF_PQ needs sub_vectors that divide dim)");
    CHECK(ivf == NULL);
    p.sub_vectors = 4;
    p.partitions = 101;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: 101 partitions need at least 101 training vectors (got 100)");
    p.partitions = 20;
    p.sample = 10;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: 20 partitions need at least 20 training vectors (got 10 after sampling)");
    p.sample = 0;
    p.metric = FL_METRIC_HAMMING;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: metric must be l2, cosine or dot (got hamming: binary vectors use the Hamming index)");
    p.metric = FL_METRIC_L2;
    p.type = 7;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: type must be IVF_FLAT (1) or IVF_PQ (2) (got 7)");
    p.type = FL_IVF_PQ;
    p.dim = 0;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: dim must be 1..1048576 (got 0)");
    p.dim = D;
    x[3 * D + 2] = NAN;
    CHECK_EQ_INT(fl_ivf_train(&p, x, N, &ivf, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf: training vector 3 has a non-finite value at dimension 2");
    x[3 * D + 2] = 0;
    CHECK_OK(fl_ivf_train(&p, x, N, &ivf, &tl_err)); /* fewer training vectors than codewords is fine */
    uint64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (uint64_t)i;
    CHECK_OK(fl_ivf_add(ivf, x, ids, N, &tl_err));
    fl_ivf_hit hits[4];
    int got = 7;
    CHECK_EQ_INT(fl_ivf_search(ivf, x, 0, 1, 0, NULL, NULL, NULL, hits, &got, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf search: k must be 1..100000 (got 0)");
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(fl_ivf_search(ivf, x, -3, 1, 0, NULL, NULL, NULL, hits, &got, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf search: k must be 1..100000 (got -3)");
    CHECK_EQ_INT(fl_ivf_search(ivf, x, 4, 0, 0, NULL, NULL, NULL, hits, &got, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf search: nprobes must be at least 1 (got 0)");
    CHECK_EQ_INT(fl_ivf_search(ivf, x, 4, 2, 3, NULL, NULL, NULL, hits, &got, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf search: refine_factor 3 needs a refine callback (the index keeps no vectors)");
    float bad_q[D] = {0};
    bad_q[7] = NAN;
    CHECK_EQ_INT(fl_ivf_search(ivf, bad_q, 4, 2, 0, NULL, NULL, NULL, hits, &got, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ivf search: the query has a non-finite value at dimension 7");
    CHECK_OK(fl_ivf_search(ivf, x, 4, 2, 0, NULL, NULL, NULL, hits, &got, &tl_err));
    CHECK_EQ_INT(got, 4);
    fl_ivf_free(ivf);
    fl_ivf_free(NULL);
    free(x);
}

static void same_results(const fl_ivf *a, const fl_ivf *b, const float *x, int dim, int metric) {
    data_ctx ca = {x, metric, dim, 0, 0}, cb = ca;
    for (int t = 0; t < 10; t++) {
        fl_ivf_hit ha[8], hb[8];
        int na = 0, nb = 0;
        const float *q = x + (size_t)t * 37 * dim;
        for (int rf = 0; rf <= 2; rf += 2) {
            CHECK_OK(fl_ivf_search(a, q, 8, 3, rf, NULL, refine_exact, &ca, ha, &na, &tl_err));
            CHECK_OK(fl_ivf_search(b, q, 8, 3, rf, NULL, refine_exact, &cb, hb, &nb, &tl_err));
            CHECK_EQ_INT(na, nb);
            CHECK(na == 8 && !memcmp(ha, hb, sizeof ha));
        }
    }
}

static void test_round_trip(void) {
    enum { N = 1500, D = 16 };
    float *x = clustered(N, D, 8, 5, 1, 57, NULL, NULL);
    for (int type = FL_IVF_FLAT; type <= FL_IVF_PQ; type++)
        for (int metric = FL_METRIC_L2; metric <= FL_METRIC_DOT; metric++) {
            fl_ivf *ivf = build(type, metric, x, N, D, 6, 8);
            if (!ivf) continue;
            fl_buf b = serialize(ivf);
            fl_ivf *back = NULL;
            CHECK_OK(fl_ivf_read(b.data, b.size, "emb.ivf", &back, &tl_err));
            if (!back) continue;
            CHECK_EQ_INT(fl_ivf_type(back), type);
            CHECK_EQ_INT(fl_ivf_metric(back), metric);
            CHECK_EQ_INT(fl_ivf_dim(back), D);
            CHECK_EQ_INT(fl_ivf_partitions(back), 6);
            CHECK_EQ_INT(fl_ivf_sub_vectors(back), type == FL_IVF_PQ ? 8 : 0);
            CHECK_EQ_INT((int64_t)fl_ivf_count(back), N);
            CHECK(same_bytes(ivf, back)); /* canonical: read → write gives the bytes back */
            same_results(ivf, back, x, D, metric);
            /* a read index takes more rows like the original */
            float extra[D] = {1, 2, 3};
            uint64_t id = 1u << 30;
            CHECK_OK(fl_ivf_add(ivf, extra, &id, 1, &tl_err));
            CHECK_OK(fl_ivf_add(back, extra, &id, 1, &tl_err));
            CHECK(same_bytes(ivf, back));
            fl_buf_free(&b);
            fl_ivf_free(back);
            fl_ivf_free(ivf);
        }
    /* an empty index round-trips too */
    fl_ivf_params p = {.type = FL_IVF_PQ, .metric = FL_METRIC_L2, .dim = D, .partitions = 2, .sub_vectors = 2, .iters = 2};
    fl_ivf *empty = NULL, *back = NULL;
    CHECK_OK(fl_ivf_train(&p, x, 300, &empty, &tl_err));
    fl_buf b = serialize(empty);
    CHECK_OK(fl_ivf_read(b.data, b.size, "empty.ivf", &back, &tl_err));
    fl_ivf_hit h[3];
    int got = 9;
    CHECK_OK(fl_ivf_search(back, x, 3, 2, 0, NULL, NULL, NULL, h, &got, &tl_err));
    CHECK_EQ_INT(got, 0);
    fl_buf_free(&b);
    fl_ivf_free(back);
    fl_ivf_free(empty);
    free(x);
}

static void test_reader_rejects_damage(void) {
    enum { N = 40, D = 4 };
    float *x = clustered(N, D, 3, 5, 1, 8, NULL, NULL);
    for (int type = FL_IVF_FLAT; type <= FL_IVF_PQ; type++) {
        fl_ivf *ivf = build(type, FL_METRIC_COSINE, x, N, D, 3, 2);
        if (!ivf) continue;
        fl_buf b = serialize(ivf);
        uint8_t *copy = malloc(b.size);
        fl_error err = {0};
        fl_ivf *out = NULL;
        int wrong = 0;
        /* every truncation */
        for (size_t len = 0; len < b.size; len++) {
            memcpy(copy, b.data, len);
            int rc = fl_ivf_read(len ? copy : NULL, len, "cut.ivf", &out, &err);
            wrong += rc != FL_ECORRUPT || out != NULL || strncmp(err.message, "cut.ivf: byte ", 14) != 0;
        }
        CHECK_EQ_INT(wrong, 0);
        /* every byte flipped (the format version: a newer version is "unsupported") */
        for (size_t at = 0; at < b.size; at++) {
            memcpy(copy, b.data, b.size);
            copy[at] ^= 0x5A;
            int rc = fl_ivf_read(copy, b.size, "flip.ivf", &out, &err);
            int want = at >= 4 && at < 8 ? FL_EUNSUPPORTED : FL_ECORRUPT;
            wrong += rc != want || out != NULL || strncmp(err.message, "flip.ivf: byte ", 15) != 0;
        }
        CHECK_EQ_INT(wrong, 0);
        memcpy(copy, b.data, b.size);
        copy[0] = 'X';
        CHECK_EQ_INT(fl_ivf_read(copy, b.size, "magic.ivf", &out, &err), FL_ECORRUPT);
        CHECK_EQ_STR(err.message, "magic.ivf: byte 0: bad magic: not an IVF index (expected \"FLV1\")");
        copy[0] = 'F';
        copy[4] = 2;
        CHECK_EQ_INT(fl_ivf_read(copy, b.size, "new.ivf", &out, &err), FL_EUNSUPPORTED);
        CHECK_EQ_STR(err.message, "new.ivf: byte 4: IVF index format 2 is newer than this build reads (1)");
        CHECK_EQ_INT(fl_ivf_read(b.data, b.size - 1, NULL, &out, &err), FL_ECORRUPT);
        CHECK(!strncmp(err.message, "ivf index: byte ", 16) && strstr(err.message, "tail magic") != NULL);
        /* a flipped byte in the middle of the row ids names the section */
        memcpy(copy, b.data, b.size);
        size_t ids_end = b.size - FL_IVF_TAIL_SIZE - (12 + N * (type == FL_IVF_FLAT ? D * 4 : 2) + 8) - 8;
        copy[ids_end - 20] ^= 1;
        CHECK_EQ_INT(fl_ivf_read(copy, b.size, "ids.ivf", &out, &err), FL_ECORRUPT);
        CHECK(strstr(err.message, "row ids section checksum mismatch") != NULL);
        free(copy);
        fl_buf_free(&b);
        fl_ivf_free(ivf);
    }
    free(x);
}

/* Structural checks behind the checksums: an index whose checksums are recomputed after a change. */
static void rehash(uint8_t *d, size_t size) {
    fl_store_u64(d + 32, fl_hash64(d, 32));
    size_t p = FL_IVF_HEADER_SIZE, end = size - FL_IVF_TAIL_SIZE;
    while (end - p >= 20) {
        uint64_t len = fl_load_u64(d + p + 4);
        if (len > end - p - 20) return;
        fl_store_u64(d + p + 12 + len, fl_hash64(d + p + 12, (size_t)len));
        p += 20 + (size_t)len;
    }
}

static void test_reader_structure(void) {
    enum { N = 30, D = 4 };
    float *x = clustered(N, D, 3, 5, 1, 8, NULL, NULL);
    fl_ivf *ivf = build(FL_IVF_FLAT, FL_METRIC_L2, x, N, D, 2, 0);
    fl_buf b = serialize(ivf);
    uint8_t *c = malloc(b.size);
    fl_error err = {0};
    fl_ivf *out = NULL;
    size_t cent = FL_IVF_HEADER_SIZE + 12, counts = cent + 2 * D * 4 + 8 + 12, ids = counts + 16 + 8 + 12;
    /* metric 3 (hamming) */
    memcpy(c, b.data, b.size);
    c[9] = 3;
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "m.ivf", &out, &err), FL_ECORRUPT);
    CHECK_EQ_STR(err.message, "m.ivf: byte 9: metric must be 0 (l2), 1 (cosine) or 2 (dot)");
    /* a NaN centroid */
    memcpy(c, b.data, b.size);
    float nan = NAN;
    memcpy(c + cent + 4, &nan, 4);
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "n.ivf", &out, &err), FL_ECORRUPT);
    CHECK_EQ_STR(err.message, "n.ivf: byte 56: centroid value 1 is not finite");
    /* counts that do not add up */
    memcpy(c, b.data, b.size);
    fl_store_u64(c + counts, fl_load_u64(c + counts) + 1);
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "c.ivf", &out, &err), FL_ECORRUPT);
    CHECK(strstr(err.message, "c.ivf: byte ") && strstr(err.message, "entries"));
    /* row ids out of order inside a list, and one id in both lists */
    size_t first = (size_t)fl_load_u64(b.data + counts);
    CHECK(first >= 2 && first < N);
    memcpy(c, b.data, b.size);
    memcpy(c + ids, b.data + ids + 8, 8);
    memcpy(c + ids + 8, b.data + ids, 8);
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "o.ivf", &out, &err), FL_ECORRUPT);
    char want[128];
    snprintf(want, sizeof want, "o.ivf: byte %zu: row ids of list 0 are not strictly ascending", ids + 8);
    CHECK_EQ_STR(err.message, want);
    memcpy(c, b.data, b.size);
    memcpy(c + ids + 8 * first, b.data + ids, 8); /* list 1's first id := list 0's first id (list 1 ascending still) */
    CHECK(fl_load_u64(c + ids) < fl_load_u64(c + ids + 8 * first + 8));
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "u.ivf", &out, &err), FL_ECORRUPT);
    CHECK(strstr(err.message, "appears in two lists") != NULL);
    /* vectors count overflowing the size arithmetic */
    memcpy(c, b.data, b.size);
    fl_store_u64(c + 24, UINT64_MAX / 4);
    rehash(c, b.size);
    CHECK_EQ_INT(fl_ivf_read(c, b.size, "v.ivf", &out, &err), FL_ECORRUPT);
    CHECK(strstr(err.message, "v.ivf: byte 24: ") != NULL);
    CHECK(out == NULL);
    memcpy(c, b.data, b.size);
    rehash(c, b.size);
    CHECK(!memcmp(c, b.data, b.size)); /* rehash of intact bytes changes nothing */
    free(c);
    fl_buf_free(&b);
    fl_ivf_free(ivf);
    free(x);
}

int main(void) {
    RUN(test_kmeans_recovers_centres);
    RUN(test_kmeans_exact_and_assign);
    RUN(test_pq);
    RUN(test_flat_exhaustive_equals_brute_force);
    RUN(test_flat_equals_vector_search);
    RUN(test_pq_recall);
    RUN(test_pq_full_refine_is_exact);
    RUN(test_pq_stored_vectors);
    RUN(test_incremental_and_errors);
    RUN(test_bad_params);
    RUN(test_round_trip);
    RUN(test_reader_rejects_damage);
    RUN(test_reader_structure);
    return tl_finish("test_ivf");
}
