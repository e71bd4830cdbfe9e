/*
 * ivf.c — IVF vector index (contract and file layout in ivf.h): k-means with sgemm distances, the product
 * quantizer, adding, searching, and the index file.
 *
 * Invariants (beyond ivf.h's):
 *  1. Every squared distance between a block of points and a set of centroids comes from one sgemm per
 *     block of at most ASSIGN_BLOCK_ROWS rows (‖x‖² − 2x·c + ‖c‖²), so the work matrix stays bounded
 *     (rows × k ≤ ASSIGN_BLOCK_FLOATS); only argmins leave the block.
 *  2. fl_ivf_add prepares every allocation before it changes a list, so a failure leaves the index as it
 *     was.
 *  3. The reader checks a section's length against the header and the bytes left before it reads the
 *     section, its checksum before it decodes it, and every value before it builds anything from it.
 */
#include "ivf.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

/* Floats and row ids are copied between memory and the file as they are. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the IVF index file layout assumes a little-endian host"
#endif

#define KMEANS_POINTS_PER_CLUSTER 256  /* training sample cap per centroid */
#define ASSIGN_BLOCK_ROWS 4096
#define ASSIGN_BLOCK_FLOATS ((size_t)1 << 18) /* 1 MiB of x·c products at most: stays in cache */
#define ADD_CHUNK 4096                         /* vectors normalised / encoded at a time by fl_ivf_add */
#define ADC_BLOCK 256                          /* codes estimated at a time before they meet the heap */

enum { SEC_CENTROIDS = 1, SEC_CODEBOOKS = 2, SEC_COUNTS = 3, SEC_ROW_IDS = 4, SEC_PAYLOAD = 5, SEC_VECTORS = 6 };
#define FLAG_VECTORS 1 /* header byte 10: an IVF_PQ index also keeps each entry's raw vector (section 6) */

typedef struct ivf_list {
    uint64_t *row_ids;          /* n, strictly ascending */
    void *payload;              /* n entries: IVF_FLAT dim floats (raw), IVF_PQ m code bytes */
    float *raw;                 /* IVF_PQ with stored vectors: n × dim floats, else NULL */
    size_t n, cap;              /* cap: capacity of the arrays */
} ivf_list;

struct fl_ivf {
    int type;                   /* FL_IVF_FLAT or FL_IVF_PQ */
    int metric;                 /* FL_METRIC_L2, _COSINE or _DOT */
    int dim;
    int partitions;
    bool vectors;               /* IVF_PQ: raw vectors kept too, so re-ranking needs no callback */
    float *centroids;           /* partitions × dim */
    fl_pq pq;                   /* IVF_PQ: residual codebooks; zeroed for IVF_FLAT */
    ivf_list *lists;            /* partitions */
    uint64_t n_vectors;         /* Σ lists[p].n */
    float *pre;                 /* IVF_PQ l2/cosine: per partition p, m × 256 terms ‖cw‖² + 2 c_p·cw of the
                                   estimate (precomputed tables; NULL above PRE_MAX_BYTES) */
};

#define PRE_MAX_BYTES ((size_t)64 << 20)

/* ---- small helpers ---- */

static uint64_t rng_next(uint64_t *s) { return fl_splitmix64(s); }
static size_t rng_below(uint64_t *s, size_t n) { return (size_t)(rng_next(s) % n); }
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* Squared l2 and inner product in floats with eight independent partial sums, a shape the compiler
 * vectorises without reassociating anything. */
static float l2sq(const float *a, const float *b, int dim) {
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= dim; i += 8)
        for (int l = 0; l < 8; l++) {
            float d = a[i + l] - b[i + l];
            acc[l] += d * d;
        }
    float s = 0;
    for (; i < dim; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    for (int l = 0; l < 8; l++) s += acc[l];
    return s;
}

static float dotf(const float *a, const float *b, int dim) {
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= dim; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    float s = 0;
    for (; i < dim; i++) s += a[i] * b[i];
    for (int l = 0; l < 8; l++) s += acc[l];
    return s;
}

/* Writes x / ‖x‖ (zero stays zero). */
static void normalize(const float *x, int dim, float *out) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)x[i] * x[i];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int i = 0; i < dim; i++) out[i] = x[i] * inv;
}

/* Index of the first non-finite value of n floats, or n. */
static size_t first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/* Copies `want` of the n rows of x (dim floats each), chosen uniformly without replacement and kept in
 * input order (selection sampling, Knuth's algorithm S), into out. */
static void sample_rows(const float *x, size_t n, int dim, size_t want, uint64_t *rng, float *out) {
    size_t taken = 0;
    for (size_t i = 0; i < n && taken < want; i++)
        if (rng_below(rng, n - i) < want - taken) memcpy(out + taken++ * (size_t)dim, x + i * (size_t)dim, (size_t)dim * sizeof *out);
}

/* ---- assignment (invariant 1) ---- */

/* Scratch of assign_rows, allocated once per caller and reused across calls (Lloyd iterations,
 * sub-spaces, chunks): the centroid norms and one block of x·c products. */
typedef struct assign_work {
    float *cnorm;               /* k */
    float *g;                   /* rows × k */
    size_t rows;                /* rows per sgemm block */
} assign_work;

static void work_free(assign_work *w) {
    fl_free(w->cnorm);
    fl_free(w->g);
    memset(w, 0, sizeof *w);
}

/* Scratch for assigning up to n rows at a time to k centroids. FL_OK or FL_ENOMEM. */
static int work_init(assign_work *w, size_t n, int k, fl_error *err) {
    size_t rows = ASSIGN_BLOCK_FLOATS / (size_t)k;
    if (rows > ASSIGN_BLOCK_ROWS) rows = ASSIGN_BLOCK_ROWS;
    if (rows > n) rows = n;
    if (rows == 0) rows = 1;
    w->rows = rows;
    w->cnorm = fl_malloc((size_t)k * sizeof *w->cnorm);
    w->g = fl_malloc(rows * (size_t)k * sizeof *w->g);
    if (!w->cnorm || !w->g) {
        work_free(w);
        return oom(err);
    }
    return FL_OK;
}

/* Nearest of k centroids (k × dim) for n rows of dim floats, row i at x + i × ldx; w from work_init with
 * the same k. */
static void assign_rows(assign_work *w, const float *x, size_t n, int dim, size_t ldx, const float *c, int k, int32_t *assign,
                        float *dist) {
    for (int j = 0; j < k; j++) w->cnorm[j] = dotf(c + (size_t)j * dim, c + (size_t)j * dim, dim);
    for (size_t b = 0; b < n; b += w->rows) {
        size_t nb = n - b < w->rows ? n - b : w->rows;
        /* g = −2 X_b Cᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nb, (blasint)k, (blasint)dim, -2.0f, x + b * ldx,
                    (blasint)ldx, c, (blasint)dim, 0.0f, w->g, (blasint)k);
        for (size_t r = 0; r < nb; r++) {
            const float *gr = w->g + r * (size_t)k;
            int best = 0;
            float best_v = gr[0] + w->cnorm[0];
            for (int j = 1; j < k; j++) {
                float v = gr[j] + w->cnorm[j];
                if (v < best_v) best_v = v, best = j; /* ties: the lower centroid; a NaN never wins */
            }
            assign[b + r] = best;
            if (dist) {
                const float *xr = x + (b + r) * ldx;
                float d = dotf(xr, xr, dim) + best_v;
                dist[b + r] = d > 0 ? d : 0;
            }
        }
    }
}

/* assign_rows with its own scratch. */
static int assign_once(const float *x, size_t n, int dim, size_t ldx, const float *c, int k, int32_t *assign, float *dist,
                       fl_error *err) {
    assign_work w;
    FL_RETURN_NOT_OK(work_init(&w, n, k, err));
    assign_rows(&w, x, n, dim, ldx, c, k, assign, dist);
    work_free(&w);
    return FL_OK;
}

int fl_kmeans_assign(const float *x, size_t n, int dim, const float *centroids, int k, int32_t *assign, float *dist,
                     fl_error *err) {
    if (!x || !centroids || !assign) return fl_error_set(err, FL_EINVAL, "k-means assign: points, centroids and assign are required");
    if (dim < 1 || k < 1) return fl_error_set(err, FL_EINVAL, "k-means assign: dim (%d) and k (%d) must be at least 1", dim, k);
    if (n == 0) return FL_OK;
    return assign_once(x, n, dim, (size_t)dim, centroids, k, assign, dist, err);
}

/* ---- k-means ---- */

/* k-means++: the first centroid uniformly, each next one with probability proportional to the squared
 * distance to the nearest centroid so far. mind[i] is refreshed only where the new centroid can be closer:
 * by the triangle inequality it cannot when ‖c_new − c_near(i)‖ ≥ 2 √mind[i]. */
static int kmeans_init(const float *x, size_t n, int dim, int k, uint64_t *rng, float *c, fl_error *err) {
    float *mind = fl_malloc(n * sizeof *mind);
    int32_t *near = fl_malloc(n * sizeof *near);
    float *cc = fl_malloc((size_t)k * sizeof *cc);
    if (!mind || !near || !cc) {
        fl_free(mind);
        fl_free(near);
        fl_free(cc);
        return oom(err);
    }
    size_t d = (size_t)dim;
    memcpy(c, x + rng_below(rng, n) * d, d * sizeof *c);
    for (size_t i = 0; i < n; i++) mind[i] = l2sq(x + i * d, c, dim), near[i] = 0;
    for (int t = 1; t < k; t++) {
        double total = 0;
        size_t last_positive = n;
        for (size_t i = 0; i < n; i++)
            if (mind[i] > 0) total += mind[i], last_positive = i;
        size_t pick = last_positive;
        if (last_positive == n) {
            pick = rng_below(rng, n); /* every point sits on a centroid: any one will do */
        } else {
            double target = rng_unit(rng) * total, acc = 0;
            for (size_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc > target && mind[i] > 0) {
                    pick = i;
                    break;
                }
            }
        }
        float *ct = c + (size_t)t * d;
        memcpy(ct, x + pick * d, d * sizeof *c);
        for (int j = 0; j < t; j++) cc[j] = l2sq(ct, c + (size_t)j * d, dim);
        for (size_t i = 0; i < n; i++) {
            if (cc[near[i]] >= 4 * mind[i]) continue;
            float v = l2sq(x + i * d, ct, dim);
            if (v < mind[i]) mind[i] = v, near[i] = t;
        }
    }
    fl_free(mind);
    fl_free(near);
    fl_free(cc);
    return FL_OK;
}

/* Lloyd iterations on n ≥ k points. */
static int kmeans_lloyd(const float *x, size_t n, int dim, int k, int iters, float *c, fl_error *err) {
    size_t d = (size_t)dim;
    int32_t *assign = fl_malloc(n * sizeof *assign), *prev = fl_malloc(n * sizeof *prev);
    float *dist = fl_malloc(n * sizeof *dist);
    double *sum = fl_malloc((size_t)k * d * sizeof *sum);
    size_t *count = fl_malloc((size_t)k * sizeof *count);
    assign_work w = {0};
    int rc = FL_OK;
    if (!assign || !prev || !dist || !sum || !count) rc = oom(err);
    if (rc == FL_OK && iters > 0) rc = work_init(&w, n, k, err);
    for (int it = 0; rc == FL_OK && it < iters; it++) {
        assign_rows(&w, x, n, dim, d, c, k, assign, dist);
        if (it > 0 && !memcmp(assign, prev, n * sizeof *assign)) break; /* converged: c are these means */
        memset(sum, 0, (size_t)k * d * sizeof *sum);
        memset(count, 0, (size_t)k * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            double *s = sum + (size_t)assign[i] * d;
            const float *xi = x + i * d;
            for (size_t j = 0; j < d; j++) s[j] += xi[j];
            count[assign[i]]++;
        }
        /* Empty clusters: split the largest one by moving its farthest point over. Since n ≥ k, the largest
         * cluster has at least two points whenever one is empty. */
        for (int e = 0; e < k; e++) {
            if (count[e]) continue;
            int big = 0;
            for (int j = 1; j < k; j++)
                if (count[j] > count[big]) big = j;
            size_t far = n;
            for (size_t i = 0; i < n; i++)
                if (assign[i] == big && (far == n || dist[i] > dist[far])) far = i;
            if (far == n || count[big] < 2) break; /* unreachable when n ≥ k */
            const float *xf = x + far * d;
            for (size_t j = 0; j < d; j++) sum[(size_t)big * d + j] -= xf[j], sum[(size_t)e * d + j] = xf[j];
            count[big]--;
            count[e] = 1;
            assign[far] = e;
            dist[far] = 0;
        }
        for (int j = 0; j < k; j++) {
            if (!count[j]) continue;
            for (size_t t = 0; t < d; t++) c[(size_t)j * d + t] = (float)(sum[(size_t)j * d + t] / (double)count[j]);
        }
        int32_t *swap = prev;
        prev = assign;
        assign = swap;
    }
    fl_free(assign);
    fl_free(prev);
    fl_free(dist);
    fl_free(sum);
    fl_free(count);
    work_free(&w);
    return rc;
}

int fl_kmeans_train(const float *x, size_t n, int dim, int k, int iters, uint64_t seed, float *centroids, fl_error *err) {
    if (!x || !centroids) return fl_error_set(err, FL_EINVAL, "k-means: points and centroids are required");
    if (dim < 1 || dim > FL_IVF_MAX_DIM) return fl_error_set(err, FL_EINVAL, "k-means: dim must be 1..%d (got %d)", FL_IVF_MAX_DIM, dim);
    if (k < 1) return fl_error_set(err, FL_EINVAL, "k-means: k must be at least 1 (got %d)", k);
    if (n < (size_t)k) return fl_error_set(err, FL_EINVAL, "k-means: %d clusters need at least %d points (got %zu)", k, k, n);
    if (iters < 0) return fl_error_set(err, FL_EINVAL, "k-means: iterations must not be negative (got %d)", iters);
    size_t bad = first_nonfinite(x, n * (size_t)dim);
    if (bad < n * (size_t)dim)
        return fl_error_set(err, FL_EINVAL, "k-means: point %zu has a non-finite value at dimension %zu", bad / (size_t)dim,
                            bad % (size_t)dim);
    uint64_t rng = seed ^ 0x6b6d65616e73ULL; /* "kmeans" */
    size_t cap = (size_t)KMEANS_POINTS_PER_CLUSTER * (size_t)k;
    const float *pts = x;
    float *sample = NULL;
    if (n > cap) {
        if (!(sample = fl_malloc(cap * (size_t)dim * sizeof *sample))) return oom(err);
        sample_rows(x, n, dim, cap, &rng, sample);
        pts = sample;
        n = cap;
    }
    int rc = kmeans_init(pts, n, dim, k, &rng, centroids, err);
    if (rc == FL_OK) rc = kmeans_lloyd(pts, n, dim, k, iters, centroids, err);
    fl_free(sample);
    return rc;
}

/*
 * Balancing for IVF partitions: a probe pays for the length of its list, and k-means++ on clustered data
 * can leave a few lists holding a large share of the rows. While some cluster of the training points holds
 * more than BALANCE_FACTOR times the mean, the centroid of the smallest cluster is moved onto it and the
 * two are pushed apart by a relative 1/1024 in alternate directions per dimension (how FAISS splits a
 * cluster to fill an empty one); then a few Lloyd iterations settle the result. Well-separated, evenly
 * sized clusters never trigger it.
 */
#define BALANCE_FACTOR 3
#define BALANCE_ROUNDS 4

static int kmeans_balance(const float *x, size_t n, int dim, int k, float *c, fl_error *err) {
    int32_t *assign = fl_malloc(n * sizeof *assign);
    size_t *count = fl_malloc((size_t)k * sizeof *count);
    int rc = assign && count ? FL_OK : oom(err);
    size_t d = (size_t)dim;
    for (int round = 0; rc == FL_OK && round < BALANCE_ROUNDS; round++) {
        if ((rc = fl_kmeans_assign(x, n, dim, c, k, assign, NULL, err)) != FL_OK) break;
        memset(count, 0, (size_t)k * sizeof *count);
        for (size_t i = 0; i < n; i++) count[assign[i]]++;
        double limit = BALANCE_FACTOR * (double)n / k;
        int moved = 0;
        for (int t = 0; t < k / 4 + 1; t++) {
            int big = 0, small = 0;
            for (int j = 1; j < k; j++) {
                if (count[j] > count[big]) big = j;
                if (count[j] < count[small]) small = j;
            }
            if ((double)count[big] <= limit || big == small || count[small] * 2 >= count[big]) break;
            float *cb = c + (size_t)big * d, *cs = c + (size_t)small * d;
            for (size_t t2 = 0; t2 < d; t2++) {
                float v = cb[t2], e = (t2 % 2 ? 1.0f : -1.0f) / 1024.0f;
                cs[t2] = v * (1.0f + e) + e * 1e-3f; /* the additive part separates a zero coordinate too */
                cb[t2] = v * (1.0f - e) - e * 1e-3f;
            }
            count[small] = count[big] / 2;
            count[big] -= count[small];
            moved++;
        }
        if (!moved) break;
        rc = kmeans_lloyd(x, n, dim, k, 5, c, err);
    }
    fl_free(assign);
    fl_free(count);
    return rc;
}

/* ---- product quantizer ---- */

#define PQ_TRAIN_MAX ((size_t)KMEANS_POINTS_PER_CLUSTER * FL_PQ_CODEWORDS)

int fl_pq_train(const float *x, size_t n, int dim, int m, int iters, uint64_t seed, fl_pq *pq, fl_error *err) {
    if (!pq || !x) return fl_error_set(err, FL_EINVAL, "pq: vectors and a quantizer are required");
    memset(pq, 0, sizeof *pq);
    if (dim < 1 || dim > FL_IVF_MAX_DIM) return fl_error_set(err, FL_EINVAL, "pq: dim must be 1..%d (got %d)", FL_IVF_MAX_DIM, dim);
    if (m < 1 || m > dim || dim % m)
        return fl_error_set(err, FL_EINVAL, "pq: dim %d is not divisible by sub_vectors %d (sub_vectors must divide dim)", dim, m);
    if (n == 0) return fl_error_set(err, FL_EINVAL, "pq: no training vectors");
    int dsub = dim / m;
    size_t ns = n < PQ_TRAIN_MAX ? n : PQ_TRAIN_MAX;
    uint64_t rng = seed ^ 0x7071ULL; /* "pq" */
    float *rows = NULL;
    const float *src = x;
    if (ns < n) {
        if (!(rows = fl_malloc(ns * (size_t)dim * sizeof *rows))) return oom(err);
        sample_rows(x, n, dim, ns, &rng, rows);
        src = rows;
    }
    float *sub = fl_malloc(ns * (size_t)dsub * sizeof *sub);
    float *books = fl_calloc((size_t)m * FL_PQ_CODEWORDS * (size_t)dsub, sizeof *books);
    int rc = FL_OK;
    if (!sub || !books) rc = oom(err);
    int kk = ns < FL_PQ_CODEWORDS ? (int)ns : FL_PQ_CODEWORDS;
    for (int j = 0; rc == FL_OK && j < m; j++) {
        for (size_t i = 0; i < ns; i++) memcpy(sub + i * dsub, src + i * (size_t)dim + (size_t)j * dsub, (size_t)dsub * sizeof *sub);
        float *book = books + (size_t)j * FL_PQ_CODEWORDS * dsub;
        rc = fl_kmeans_train(sub, ns, dsub, kk, iters, seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(j + 1), book, err);
        for (int c = kk; rc == FL_OK && c < FL_PQ_CODEWORDS; c++) memcpy(book + (size_t)c * dsub, book, (size_t)dsub * sizeof *book);
    }
    fl_free(rows);
    fl_free(sub);
    if (rc != FL_OK) {
        fl_free(books);
        return rc;
    }
    pq->dim = dim;
    pq->m = m;
    pq->dsub = dsub;
    pq->codebooks = books;
    return FL_OK;
}

int fl_pq_encode(const fl_pq *pq, const float *x, size_t n, uint8_t *codes, fl_error *err) {
    if (!pq || !pq->codebooks || (!x && n) || (!codes && n))
        return fl_error_set(err, FL_EINVAL, "pq encode: a trained quantizer, vectors and codes are required");
    if (n == 0) return FL_OK;
    size_t chunk = n < ADD_CHUNK ? n : ADD_CHUNK;
    int32_t *near = fl_malloc(chunk * sizeof *near);
    assign_work w = {0};
    if (!near || work_init(&w, chunk, FL_PQ_CODEWORDS, err) != FL_OK) {
        fl_free(near);
        return oom(err);
    }
    size_t dim = (size_t)pq->dim;
    for (size_t b = 0; b < n; b += chunk) {
        size_t nb = n - b < chunk ? n - b : chunk;
        for (int j = 0; j < pq->m; j++) {
            assign_rows(&w, x + b * dim + (size_t)j * pq->dsub, nb, pq->dsub, dim, pq->codebooks + (size_t)j * FL_PQ_CODEWORDS * pq->dsub,
                        FL_PQ_CODEWORDS, near, NULL);
            for (size_t i = 0; i < nb; i++) codes[(b + i) * (size_t)pq->m + j] = (uint8_t)near[i];
        }
    }
    work_free(&w);
    fl_free(near);
    return FL_OK;
}

void fl_pq_decode(const fl_pq *pq, const uint8_t *codes, size_t n, float *x) {
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < pq->m; j++)
            memcpy(x + i * (size_t)pq->dim + (size_t)j * pq->dsub,
                   pq->codebooks + ((size_t)j * FL_PQ_CODEWORDS + codes[i * (size_t)pq->m + j]) * pq->dsub,
                   (size_t)pq->dsub * sizeof *x);
}

void fl_pq_l2_table(const fl_pq *pq, const float *query, float *table) {
    for (int j = 0; j < pq->m; j++) {
        const float *q = query + (size_t)j * pq->dsub;
        const float *book = pq->codebooks + (size_t)j * FL_PQ_CODEWORDS * pq->dsub;
        for (int c = 0; c < FL_PQ_CODEWORDS; c++) table[j * FL_PQ_CODEWORDS + c] = l2sq(q, book + (size_t)c * pq->dsub, pq->dsub);
    }
}

void fl_pq_ip_table(const fl_pq *pq, const float *query, float *table) {
    for (int j = 0; j < pq->m; j++) {
        const float *q = query + (size_t)j * pq->dsub;
        const float *book = pq->codebooks + (size_t)j * FL_PQ_CODEWORDS * pq->dsub;
        for (int c = 0; c < FL_PQ_CODEWORDS; c++) table[j * FL_PQ_CODEWORDS + c] = dotf(q, book + (size_t)c * pq->dsub, pq->dsub);
    }
}

void fl_pq_adc(const float *table, int m, const uint8_t *codes, size_t n, float *out) {
    /* Four codes at a time: four independent sums (each still in j order, so the result is the plain
     * loop's), whose table loads overlap instead of waiting on one chain of additions. The common code
     * sizes get a fixed trip count the compiler unrolls. */
#define ADC_LOOP(M)                                                                                            \
    for (; i + 4 <= n; i += 4) {                                                                               \
        const uint8_t *c0 = codes + i * (size_t)(M), *c1 = c0 + (M), *c2 = c1 + (M), *c3 = c2 + (M);          \
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                  \
        for (int j = 0; j < (M); j++) {                                                                        \
            const float *t = table + j * FL_PQ_CODEWORDS;                                                      \
            s0 += t[c0[j]];                                                                                    \
            s1 += t[c1[j]];                                                                                    \
            s2 += t[c2[j]];                                                                                    \
            s3 += t[c3[j]];                                                                                    \
        }                                                                                                      \
        out[i] = s0, out[i + 1] = s1, out[i + 2] = s2, out[i + 3] = s3;                                        \
    }                                                                                                          \
    for (; i < n; i++) {                                                                                       \
        const uint8_t *code = codes + i * (size_t)(M);                                                         \
        float s = 0;                                                                                           \
        for (int j = 0; j < (M); j++) s += table[j * FL_PQ_CODEWORDS + code[j]];                               \
        out[i] = s;                                                                                            \
    }
    size_t i = 0;
    switch (m) {
    case 8: ADC_LOOP(8) break;
    case 16: ADC_LOOP(16) break;
    case 32: ADC_LOOP(32) break;
    case 64: ADC_LOOP(64) break;
    default: ADC_LOOP(m) break;
    }
#undef ADC_LOOP
}

void fl_pq_free(fl_pq *pq) {
    if (!pq) return;
    fl_free(pq->codebooks);
    memset(pq, 0, sizeof *pq);
}

/* ---- the index object ---- */

static size_t entry_bytes(const fl_ivf *ivf) {
    return ivf->type == FL_IVF_FLAT ? (size_t)ivf->dim * sizeof(float) : (size_t)ivf->pq.m;
}

void fl_ivf_free(fl_ivf *ivf) {
    if (!ivf) return;
    for (int p = 0; ivf->lists && p < ivf->partitions; p++) {
        fl_free(ivf->lists[p].row_ids);
        fl_free(ivf->lists[p].payload);
        fl_free(ivf->lists[p].raw);
    }
    fl_free(ivf->lists);
    fl_free(ivf->centroids);
    fl_free(ivf->pre);
    fl_pq_free(&ivf->pq);
    fl_free(ivf);
}

/*
 * Precomputed tables for l2 (and cosine, l2 on unit vectors) IVF_PQ: with r the stored residual (Σ of its
 * codewords) and c the partition's centroid,
 *     ‖q − c − r‖² = ‖q − c‖² + Σ_j (‖cw_j‖² + 2 c_j·cw_j) − 2 Σ_j q_j·cw_j,
 * so a probe needs ‖q − c‖² (ranking the centroids computed it), this partition's m × 256 terms (kept
 * here) and one m × 256 table of −2 q_j·cw per query: one addition per entry instead of a distance. A
 * model whose tables would exceed PRE_MAX_BYTES keeps computing the residual table per probe.
 */
static void build_pre(fl_ivf *ivf) {
    if (ivf->type != FL_IVF_PQ || ivf->metric == FL_METRIC_DOT) return;
    size_t m = (size_t)ivf->pq.m, per = m * FL_PQ_CODEWORDS, dsub = (size_t)ivf->pq.dsub;
    if ((size_t)ivf->partitions * per > PRE_MAX_BYTES / sizeof(float)) return;
    if (!(ivf->pre = fl_malloc((size_t)ivf->partitions * per * sizeof(float)))) return; /* optional */
    float *norms = fl_malloc(per * sizeof *norms);
    if (!norms) {
        fl_free(ivf->pre);
        ivf->pre = NULL;
        return;
    }
    for (size_t j = 0; j < m; j++)
        for (size_t c = 0; c < FL_PQ_CODEWORDS; c++) {
            const float *cw = ivf->pq.codebooks + (j * FL_PQ_CODEWORDS + c) * dsub;
            norms[j * FL_PQ_CODEWORDS + c] = dotf(cw, cw, (int)dsub);
        }
    for (int p = 0; p < ivf->partitions; p++) {
        const float *cen = ivf->centroids + (size_t)p * (size_t)ivf->dim;
        float *t = ivf->pre + (size_t)p * per;
        for (size_t j = 0; j < m; j++)
            for (size_t c = 0; c < FL_PQ_CODEWORDS; c++) {
                const float *cw = ivf->pq.codebooks + (j * FL_PQ_CODEWORDS + c) * dsub;
                t[j * FL_PQ_CODEWORDS + c] = norms[j * FL_PQ_CODEWORDS + c] + 2.0f * dotf(cen + j * dsub, cw, (int)dsub);
            }
    }
    fl_free(norms);
}

/* An empty index with room for the centroids and lists (the codebooks are the caller's to fill). */
static fl_ivf *ivf_alloc(int type, int metric, int dim, int partitions) {
    fl_ivf *ivf = fl_calloc(1, sizeof *ivf);
    if (!ivf) return NULL;
    ivf->type = type;
    ivf->metric = metric;
    ivf->dim = dim;
    ivf->partitions = partitions;
    ivf->centroids = fl_malloc((size_t)partitions * (size_t)dim * sizeof *ivf->centroids);
    ivf->lists = fl_calloc((size_t)partitions, sizeof *ivf->lists);
    if (!ivf->centroids || !ivf->lists) {
        fl_ivf_free(ivf);
        return NULL;
    }
    return ivf;
}

int fl_ivf_type(const fl_ivf *ivf) { return ivf->type; }
int fl_ivf_metric(const fl_ivf *ivf) { return ivf->metric; }
int fl_ivf_dim(const fl_ivf *ivf) { return ivf->dim; }
int fl_ivf_partitions(const fl_ivf *ivf) { return ivf->partitions; }
int fl_ivf_sub_vectors(const fl_ivf *ivf) { return ivf->type == FL_IVF_PQ ? ivf->pq.m : 0; }
uint64_t fl_ivf_count(const fl_ivf *ivf) { return ivf->n_vectors; }
size_t fl_ivf_partition_count(const fl_ivf *ivf, int partition) {
    return partition >= 0 && partition < ivf->partitions ? ivf->lists[partition].n : 0;
}
const float *fl_ivf_centroids(const fl_ivf *ivf) { return ivf->centroids; }
const fl_pq *fl_ivf_pq(const fl_ivf *ivf) { return ivf->type == FL_IVF_PQ ? &ivf->pq : NULL; }

/* ---- training ---- */

static int check_params(const fl_ivf_params *p, size_t n_train, fl_error *err) {
    if (p->type != FL_IVF_FLAT && p->type != FL_IVF_PQ)
        return fl_error_set(err, FL_EINVAL, "ivf: type must be IVF_FLAT (%d) or IVF_PQ (%d) (got %d)", FL_IVF_FLAT, FL_IVF_PQ, p->type);
    if (p->metric != FL_METRIC_L2 && p->metric != FL_METRIC_COSINE && p->metric != FL_METRIC_DOT)
        return fl_error_set(err, FL_EINVAL, "ivf: metric must be l2, cosine or dot (got %s)",
                            p->metric == FL_METRIC_HAMMING ? "hamming: binary vectors use the Hamming index" : fl_metric_name(p->metric));
    if (p->dim < 1 || p->dim > FL_IVF_MAX_DIM) return fl_error_set(err, FL_EINVAL, "ivf: dim must be 1..%d (got %d)", FL_IVF_MAX_DIM, p->dim);
    if (p->partitions < 1 || p->partitions > FL_IVF_MAX_PARTITIONS)
        return fl_error_set(err, FL_EINVAL, "ivf: partitions must be 1..%d (got %d)", FL_IVF_MAX_PARTITIONS, p->partitions);
    if (p->type == FL_IVF_PQ && (p->sub_vectors < 1 || p->sub_vectors > p->dim || p->dim % p->sub_vectors))
        return fl_error_set(err, FL_EINVAL, "ivf: dim %d is not divisible by sub_vectors %d (IVF_PQ needs sub_vectors that divide dim)",
                            p->dim, p->sub_vectors);
    if (p->iters < 0 || p->iters > 1000) return fl_error_set(err, FL_EINVAL, "ivf: iters must be 0..1000 (got %d)", p->iters);
    size_t usable = p->sample && p->sample < n_train ? p->sample : n_train;
    if ((size_t)p->partitions > usable)
        return fl_error_set(err, FL_EINVAL, "ivf: %d partitions need at least %d training vectors (got %zu%s)", p->partitions, p->partitions,
                            usable, usable < n_train ? " after sampling" : "");
    return FL_OK;
}

int fl_ivf_train(const fl_ivf_params *params, const float *train, size_t n_train, fl_ivf **out, fl_error *err) {
    if (out) *out = NULL;
    if (!params || !out || (!train && n_train)) return fl_error_set(err, FL_EINVAL, "ivf: params, training vectors and out are required");
    FL_RETURN_NOT_OK(check_params(params, n_train, err));
    int dim = params->dim, iters = params->iters ? params->iters : FL_IVF_DEFAULT_ITERS;
    size_t d = (size_t)dim;
    size_t bad = first_nonfinite(train, n_train * d);
    if (bad < n_train * d)
        return fl_error_set(err, FL_EINVAL, "ivf: training vector %zu has a non-finite value at dimension %zu", bad / d, bad % d);
    uint64_t rng = params->seed ^ 0x697666ULL; /* "ivf" */
    /* k-means uses at most 256 points per centroid (and PQ 256 per codeword): sample once, up front, so a
     * large input is never copied whole */
    size_t useful = (size_t)KMEANS_POINTS_PER_CLUSTER * (size_t)params->partitions;
    if (params->type == FL_IVF_PQ && useful < PQ_TRAIN_MAX) useful = PQ_TRAIN_MAX;
    size_t ns = params->sample && params->sample < n_train ? params->sample : n_train;
    if (ns > useful) ns = useful;
    float *xs = NULL;
    const float *pts = train;
    int rc = FL_OK;
    /* A private copy when sampling or normalising (cosine trains on unit vectors). */
    if (ns < n_train || params->metric == FL_METRIC_COSINE) {
        if (!(xs = fl_malloc(ns * d * sizeof *xs))) return oom(err);
        if (ns < n_train) sample_rows(train, n_train, dim, ns, &rng, xs);
        else memcpy(xs, train, ns * d * sizeof *xs);
        if (params->metric == FL_METRIC_COSINE)
            for (size_t i = 0; i < ns; i++) normalize(xs + i * d, dim, xs + i * d);
        pts = xs;
    }
    fl_ivf *ivf = ivf_alloc(params->type, params->metric, dim, params->partitions);
    if (ivf) ivf->vectors = params->type == FL_IVF_PQ && params->store_vectors;
    if (!ivf) rc = oom(err);
    if (rc == FL_OK) rc = fl_kmeans_train(pts, ns, dim, params->partitions, iters, params->seed, ivf->centroids, err);
    if (rc == FL_OK) rc = kmeans_balance(pts, ns, dim, params->partitions, ivf->centroids, err);
    if (rc == FL_OK && params->type == FL_IVF_PQ) {
        /* residuals of (a sample of) the training vectors to their centroids */
        size_t nr = ns < PQ_TRAIN_MAX ? ns : PQ_TRAIN_MAX;
        float *res = fl_malloc(nr * d * sizeof *res);
        int32_t *near = fl_malloc(nr * sizeof *near);
        if (!res || !near) rc = oom(err);
        if (rc == FL_OK) {
            if (nr < ns) sample_rows(pts, ns, dim, nr, &rng, res);
            else memcpy(res, pts, nr * d * sizeof *res);
            rc = assign_once(res, nr, dim, d, ivf->centroids, ivf->partitions, near, NULL, err);
        }
        for (size_t i = 0; rc == FL_OK && i < nr; i++) {
            const float *c = ivf->centroids + (size_t)near[i] * d;
            for (size_t t = 0; t < d; t++) res[i * d + t] -= c[t];
        }
        if (rc == FL_OK) rc = fl_pq_train(res, nr, dim, params->sub_vectors, iters, params->seed ^ 0x5151ULL, &ivf->pq, err);
        fl_free(res);
        fl_free(near);
    }
    fl_free(xs);
    if (rc != FL_OK) {
        fl_ivf_free(ivf);
        return rc;
    }
    build_pre(ivf);
    *out = ivf;
    return FL_OK;
}

int fl_ivf_new_like(const fl_ivf *trained, fl_ivf **out, fl_error *err) {
    if (out) *out = NULL;
    if (!trained || !out) return fl_error_set(err, FL_EINVAL, "ivf: a trained index and out are required");
    fl_ivf *ivf = ivf_alloc(trained->type, trained->metric, trained->dim, trained->partitions);
    if (!ivf) return oom(err);
    ivf->vectors = trained->vectors;
    memcpy(ivf->centroids, trained->centroids, (size_t)trained->partitions * (size_t)trained->dim * sizeof *ivf->centroids);
    if (trained->type == FL_IVF_PQ) {
        size_t nb = (size_t)trained->pq.m * FL_PQ_CODEWORDS * (size_t)trained->pq.dsub;
        ivf->pq = trained->pq;
        if (!(ivf->pq.codebooks = fl_malloc(nb * sizeof(float)))) {
            fl_ivf_free(ivf);
            return oom(err);
        }
        memcpy(ivf->pq.codebooks, trained->pq.codebooks, nb * sizeof(float));
    }
    build_pre(ivf);
    *out = ivf;
    return FL_OK;
}

/* ---- adding ---- */

typedef struct id_pos {
    uint64_t id;
    size_t pos;                 /* index in the caller's arrays */
} id_pos;

static int cmp_id_pos(const void *a, const void *b) {
    const id_pos *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* FL_EINVAL when one of the n new ids (sorted, distinct) is already in the index. The usual incremental
 * case, ids above every stored one, costs one look at each list's last id. */
static int check_new_ids(const fl_ivf *ivf, const id_pos *ord, size_t n, fl_error *err) {
    if (!ivf->n_vectors) return FL_OK;
    uint64_t max_id = 0;
    for (int p = 0; p < ivf->partitions; p++)
        if (ivf->lists[p].n && ivf->lists[p].row_ids[ivf->lists[p].n - 1] > max_id) max_id = ivf->lists[p].row_ids[ivf->lists[p].n - 1];
    if (ord[0].id > max_id) return FL_OK;
    uint64_t *all = fl_malloc((size_t)ivf->n_vectors * sizeof *all);
    if (!all) return oom(err);
    size_t k = 0;
    for (int p = 0; p < ivf->partitions; p++) {
        memcpy(all + k, ivf->lists[p].row_ids, ivf->lists[p].n * sizeof *all);
        k += ivf->lists[p].n;
    }
    qsort(all, k, sizeof *all, cmp_u64);
    int rc = FL_OK;
    for (size_t i = 0, j = 0; i < n && j < k;) {
        if (ord[i].id == all[j]) {
            rc = fl_error_set(err, FL_EINVAL, "ivf add: row id %llu (vector %zu) is already in the index", (unsigned long long)ord[i].id, ord[i].pos);
            break;
        }
        if (ord[i].id < all[j]) i++;
        else j++;
    }
    fl_free(all);
    return rc;
}

/* Partition (and for IVF_PQ the codes) of each of n vectors, ADD_CHUNK at a time. */
static int place_vectors(const fl_ivf *ivf, const float *x, size_t n, int32_t *part, uint8_t *codes, fl_error *err) {
    size_t d = (size_t)ivf->dim;
    bool copy = ivf->metric == FL_METRIC_COSINE || ivf->type == FL_IVF_PQ;
    size_t chunk = n < ADD_CHUNK ? n : ADD_CHUNK;
    float *buf = copy ? fl_malloc(chunk * d * sizeof *buf) : NULL;
    if (copy && !buf) return oom(err);
    assign_work w;
    int rc = work_init(&w, chunk, ivf->partitions, err);
    for (size_t b = 0; rc == FL_OK && b < n; b += chunk) {
        size_t nb = n - b < chunk ? n - b : chunk;
        const float *xs = x + b * d;
        if (ivf->metric == FL_METRIC_COSINE) {
            for (size_t i = 0; i < nb; i++) normalize(xs + i * d, ivf->dim, buf + i * d);
            xs = buf;
        }
        assign_rows(&w, xs, nb, ivf->dim, d, ivf->centroids, ivf->partitions, part + b, NULL);
        if (ivf->type != FL_IVF_PQ) continue;
        for (size_t i = 0; i < nb; i++) {
            const float *c = ivf->centroids + (size_t)part[b + i] * d;
            for (size_t t = 0; t < d; t++) buf[i * d + t] = xs[i * d + t] - c[t]; /* in place when xs == buf */
        }
        rc = fl_pq_encode(&ivf->pq, buf, nb, codes + b * (size_t)ivf->pq.m, err);
    }
    work_free(&w);
    fl_free(buf);
    return rc;
}

/* Grows both arrays of a list to hold `need` entries. The contents never change, so a failure half way
 * leaves a valid list (with a larger allocation than cap says, which is harmless). */
static bool list_reserve(ivf_list *l, size_t need, size_t eb, size_t rb) {
    if (need <= l->cap) return true;
    size_t cap = l->cap ? l->cap : 16;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > SIZE_MAX / sizeof(uint64_t) || cap > SIZE_MAX / eb || (rb && cap > SIZE_MAX / rb)) return false;
    uint64_t *ids = fl_realloc(l->row_ids, cap * sizeof *ids);
    if (!ids) return false;
    l->row_ids = ids;
    void *pay = fl_realloc(l->payload, cap * eb);
    if (!pay) return false;
    l->payload = pay;
    if (rb) {
        float *raw = fl_realloc(l->raw, cap * rb);
        if (!raw) return false;
        l->raw = raw;
    }
    l->cap = cap;
    return true;
}

typedef struct merged {
    uint64_t *row_ids;
    uint8_t *payload;
    float *raw;
} merged;

int fl_ivf_add(fl_ivf *ivf, const float *x, const uint64_t *row_ids, size_t n, fl_error *err) {
    if (!ivf) return fl_error_set(err, FL_EINVAL, "ivf add: no index");
    if (n == 0) return FL_OK;
    if (!x || !row_ids) return fl_error_set(err, FL_EINVAL, "ivf add: vectors and row ids are required");
    size_t d = (size_t)ivf->dim, eb = entry_bytes(ivf), P = (size_t)ivf->partitions, rb = ivf->vectors ? d * sizeof(float) : 0;
    if (n > SIZE_MAX / (d * sizeof(float))) return fl_error_set(err, FL_EINVAL, "ivf add: %zu vectors are too many", n);
    size_t bad = first_nonfinite(x, n * d);
    if (bad < n * d) return fl_error_set(err, FL_EINVAL, "ivf add: vector %zu has a non-finite value at dimension %zu", bad / d, bad % d);
    id_pos *ord = fl_malloc(n * sizeof *ord);
    int32_t *part = fl_malloc(n * sizeof *part);
    uint8_t *codes = ivf->type == FL_IVF_PQ ? fl_malloc(n * eb) : NULL;
    size_t *start = fl_calloc(P + 1, sizeof *start);
    size_t *slot = fl_malloc(n * sizeof *slot);
    merged *pend = fl_calloc(P, sizeof *pend);
    int rc = FL_OK;
    if (!ord || !part || (ivf->type == FL_IVF_PQ && !codes) || !start || !slot || !pend) rc = oom(err);
    if (rc == FL_OK) {
        for (size_t i = 0; i < n; i++) ord[i] = (id_pos){row_ids[i], i};
        qsort(ord, n, sizeof *ord, cmp_id_pos);
        for (size_t i = 1; i < n; i++)
            if (ord[i].id == ord[i - 1].id) {
                size_t first = ord[i - 1].pos, second = ord[i].pos; /* qsort is not stable: either order */
                if (first > second) first = ord[i].pos, second = ord[i - 1].pos;
                rc = fl_error_set(err, FL_EINVAL, "ivf add: row id %llu appears twice (vectors %zu and %zu)", (unsigned long long)ord[i].id, first,
                                  second);
                break;
            }
    }
    if (rc == FL_OK) rc = check_new_ids(ivf, ord, n, err);
    if (rc == FL_OK) rc = place_vectors(ivf, x, n, part, codes, err);
    if (rc == FL_OK) {
        /* slot[start[p] ..] = the caller's positions of partition p's new vectors, in row id order */
        for (size_t i = 0; i < n; i++) start[part[i] + 1]++;
        for (size_t p = 0; p < P; p++) start[p + 1] += start[p];
        size_t *fill = fl_malloc(P * sizeof *fill);
        if (!fill) rc = oom(err);
        for (size_t p = 0; fill && p < P; p++) fill[p] = start[p];
        for (size_t i = 0; fill && i < n; i++) slot[fill[part[ord[i].pos]]++] = ord[i].pos;
        fl_free(fill);
    }
    /* Invariant 2: first every allocation (append in place, or a merged copy when new ids fall between
     * stored ones), then the changes, which cannot fail. */
    for (size_t p = 0; rc == FL_OK && p < P; p++) {
        size_t c = start[p + 1] - start[p];
        ivf_list *l = &ivf->lists[p];
        if (!c) continue;
        if (!l->n || row_ids[slot[start[p]]] > l->row_ids[l->n - 1]) {
            if (!list_reserve(l, l->n + c, eb, rb)) rc = oom(err);
        } else {
            pend[p].row_ids = fl_malloc((l->n + c) * sizeof *pend[p].row_ids);
            pend[p].payload = fl_malloc((l->n + c) * eb);
            if (rb) pend[p].raw = fl_malloc((l->n + c) * rb);
            if (!pend[p].row_ids || !pend[p].payload || (rb && !pend[p].raw)) rc = oom(err);
        }
    }
    for (size_t p = 0; rc == FL_OK && p < P; p++) {
        size_t c = start[p + 1] - start[p], old = 0, k = 0;
        ivf_list *l = &ivf->lists[p];
        if (!c) continue;
        uint64_t *ids = pend[p].row_ids ? pend[p].row_ids : l->row_ids;
        uint8_t *pay = pend[p].payload ? pend[p].payload : (uint8_t *)l->payload;
        float *raw = pend[p].raw ? pend[p].raw : l->raw;
        if (!pend[p].row_ids) old = k = l->n; /* appending: the stored entries stay where they are */
        for (size_t s = start[p]; s < start[p + 1]; s++) {
            size_t i = slot[s];
            for (; old < l->n && l->row_ids[old] < row_ids[i]; old++, k++) {
                ids[k] = l->row_ids[old];
                memcpy(pay + k * eb, (const uint8_t *)l->payload + old * eb, eb);
                if (rb) memcpy(raw + k * d, l->raw + old * d, rb);
            }
            ids[k] = row_ids[i];
            memcpy(pay + k * eb, ivf->type == FL_IVF_FLAT ? (const void *)(x + i * d) : (const void *)(codes + i * eb), eb);
            if (rb) memcpy(raw + k * d, x + i * d, rb);
            k++;
        }
        for (; old < l->n; old++, k++) {
            ids[k] = l->row_ids[old];
            memcpy(pay + k * eb, (const uint8_t *)l->payload + old * eb, eb);
            if (rb) memcpy(raw + k * d, l->raw + old * d, rb);
        }
        if (pend[p].row_ids) {
            fl_free(l->row_ids);
            fl_free(l->payload);
            fl_free(l->raw);
            l->row_ids = pend[p].row_ids;
            l->payload = pend[p].payload;
            l->raw = pend[p].raw;
            l->cap = k;
            pend[p].row_ids = NULL;
            pend[p].payload = NULL;
            pend[p].raw = NULL;
        }
        l->n = k;
    }
    if (rc == FL_OK) ivf->n_vectors += n;
    for (size_t p = 0; pend && p < P; p++) {
        fl_free(pend[p].row_ids);
        fl_free(pend[p].payload);
        fl_free(pend[p].raw);
    }
    fl_free(pend);
    fl_free(slot);
    fl_free(start);
    fl_free(codes);
    fl_free(part);
    fl_free(ord);
    return rc;
}

/* ---- searching ---- */

typedef struct hit {
    double d;
    uint64_t id;
    const float *raw;           /* the entry's stored vector (IVF_PQ with vectors), for re-ranking */
} hit;

static bool worse(const hit *a, const hit *b) { return a->d > b->d || (a->d == b->d && a->id > b->id); }

/* A max-heap of the best `cap` hits (the worst on top), as in vector.c. */
typedef struct heap {
    hit *h;
    size_t n, cap;
} heap;

static void sift_down(heap *p, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->n && worse(&p->h[l], &p->h[m])) m = l;
        if (r < p->n && worse(&p->h[r], &p->h[m])) m = r;
        if (m == i) return;
        hit t = p->h[i];
        p->h[i] = p->h[m];
        p->h[m] = t;
        i = m;
    }
}

/* Offers a hit; the filter is asked only when the hit would enter the heap. */
static void offer(heap *p, hit x, const fl_ivf_filter *filter) {
    if (x.d != x.d) x.d = INFINITY; /* a PQ estimate can overflow to inf − inf; rank it last */
    if (p->n == p->cap && !worse(&p->h[0], &x)) return;
    if (filter && filter->keep && !filter->keep(filter->ctx, x.id)) return;
    if (p->n < p->cap) {
        size_t i = p->n++;
        p->h[i] = x;
        while (i > 0 && worse(&p->h[i], &p->h[(i - 1) / 2])) {
            hit t = p->h[i];
            p->h[i] = p->h[(i - 1) / 2];
            p->h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else {
        p->h[0] = x;
        sift_down(p, 0);
    }
}

static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

typedef struct probe {
    float d;
    int p;
} probe;

static int cmp_probe(const void *a, const void *b) {
    const probe *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->p > y->p) - (x->p < y->p);
}

/* Exact distances of a list's raw vectors, computed exactly as vector.c's distance() does. */
/* The exact distance vector.c computes (double accumulation, in order). */
static double exact_distance(int metric, const float *v, const float *q, double qnorm, int dim) {
    double s = 0, vv = 0;
    switch (metric) {
    case FL_METRIC_L2:
        for (int t = 0; t < dim; t++) {
            double e = (double)v[t] - q[t];
            s += e * e;
        }
        return s;
    case FL_METRIC_DOT:
        for (int t = 0; t < dim; t++) s += (double)v[t] * q[t];
        return 1.0 - s;
    default: /* cosine */
        for (int t = 0; t < dim; t++) s += (double)v[t] * q[t], vv += (double)v[t] * v[t];
        return vv == 0 || qnorm == 0 ? 1.0 : 1.0 - s / (sqrt(vv) * qnorm);
    }
}

static void scan_flat(const fl_ivf *ivf, const ivf_list *l, const float *q, double qnorm, heap *hp, const fl_ivf_filter *filter) {
    int dim = ivf->dim;
    const float *base = l->payload;
    for (size_t i = 0; i < l->n; i++)
        offer(hp, (hit){exact_distance(ivf->metric, base + i * (size_t)dim, q, qnorm, dim), l->row_ids[i], NULL}, filter);
}

/* ADC estimates of a list's codes: bias + scale × Σ table. */
/* Estimates bias + scale × Σ table over the list's codes; `clamp` keeps them ≥ 0 (an l2 estimate from
 * precomputed terms may round below 0). */
static void scan_pq(const fl_ivf *ivf, const ivf_list *l, const float *table, double bias, double scale, bool clamp, float *est, heap *hp,
                    const fl_ivf_filter *filter) {
    int m = ivf->pq.m;
    const uint8_t *codes = l->payload;
    for (size_t b = 0; b < l->n; b += ADC_BLOCK) {
        size_t nb = l->n - b < ADC_BLOCK ? l->n - b : ADC_BLOCK;
        fl_pq_adc(table, m, codes + b * (size_t)m, nb, est);
        for (size_t i = 0; i < nb; i++) {
            double e = bias + scale * est[i];
            if (clamp && e < 0) e = 0;
            /* the common case, rejected before an entry is built: a full heap whose worst is better (offer
             * decides the rest, NaN and ties included) */
            if (hp->n == hp->cap && e > hp->h[0].d) continue;
            offer(hp, (hit){e, l->row_ids[b + i], l->raw ? l->raw + (b + i) * (size_t)ivf->dim : NULL}, filter);
        }
    }
}

int fl_ivf_search(const fl_ivf *ivf, const float *query, int k, int nprobes, int refine_factor,
                  const fl_ivf_filter *filter, fl_ivf_refine_fn refine, void *ctx, fl_ivf_hit *out, int *n_out,
                  fl_error *err) {
    if (n_out) *n_out = 0;
    if (!ivf || !query || !out || !n_out) return fl_error_set(err, FL_EINVAL, "ivf search: index, query, out and n_out are required");
    if (k < 1 || k > FL_IVF_MAX_K) return fl_error_set(err, FL_EINVAL, "ivf search: k must be 1..%d (got %d)", FL_IVF_MAX_K, k);
    if (nprobes < 1) return fl_error_set(err, FL_EINVAL, "ivf search: nprobes must be at least 1 (got %d)", nprobes);
    if (refine_factor < 0 || refine_factor > FL_IVF_MAX_REFINE)
        return fl_error_set(err, FL_EINVAL, "ivf search: refine_factor must be 0..%d (got %d)", FL_IVF_MAX_REFINE, refine_factor);
    size_t d = (size_t)ivf->dim, bad = first_nonfinite(query, d);
    if (bad < d) return fl_error_set(err, FL_EINVAL, "ivf search: the query has a non-finite value at dimension %zu", bad);
    bool refining = ivf->type == FL_IVF_PQ && refine_factor > 0;
    if (refining && !refine && !ivf->vectors)
        return fl_error_set(err, FL_EINVAL, "ivf search: refine_factor %d needs a refine callback (the index keeps no vectors)", refine_factor);
    if (nprobes > ivf->partitions) nprobes = ivf->partitions;
    size_t cap = (size_t)k * (refining ? (size_t)refine_factor : 1);
    if (cap > ivf->n_vectors) cap = ivf->n_vectors ? (size_t)ivf->n_vectors : 1;

    float *qv = fl_malloc(d * sizeof *qv);
    probe *pr = fl_malloc((size_t)ivf->partitions * sizeof *pr);
    heap hp = {.h = fl_malloc(cap * sizeof(hit)), .cap = cap};
    float *table = NULL, *est = NULL, *res = NULL;
    double *dists = NULL;
    uint64_t *ids = NULL;
    int rc = FL_OK;
    if (!qv || !pr || !hp.h) rc = oom(err);
    if (rc == FL_OK && ivf->type == FL_IVF_PQ) {
        table = fl_malloc((size_t)ivf->pq.m * FL_PQ_CODEWORDS * sizeof *table);
        est = fl_malloc(ADC_BLOCK * sizeof *est);
        res = fl_malloc(d * sizeof *res);
        if (!table || !est || !res) rc = oom(err);
    }
    if (rc == FL_OK) {
        /* the query as partitions see it, and the probe order */
        if (ivf->metric == FL_METRIC_COSINE) normalize(query, ivf->dim, qv);
        else memcpy(qv, query, d * sizeof *qv);
        for (int p = 0; p < ivf->partitions; p++) {
            const float *c = ivf->centroids + (size_t)p * d;
            float dp = ivf->metric == FL_METRIC_DOT ? -dotf(qv, c, ivf->dim) : l2sq(qv, c, ivf->dim);
            pr[p] = (probe){dp == dp ? dp : INFINITY, p}; /* a NaN (overflow) would break the sort's order */
        }
        if (nprobes < ivf->partitions) qsort(pr, (size_t)ivf->partitions, sizeof *pr, cmp_probe);
        size_t per = (size_t)ivf->pq.m * FL_PQ_CODEWORDS;
        float *qtab = NULL;
        if (ivf->type == FL_IVF_PQ && ivf->metric == FL_METRIC_DOT) {
            fl_pq_ip_table(&ivf->pq, qv, table);
            for (size_t j = 0; j < per; j++) table[j] = -table[j];
        } else if (ivf->pre && (qtab = fl_malloc(per * sizeof *qtab))) {
            fl_pq_ip_table(&ivf->pq, qv, qtab);
            for (size_t j = 0; j < per; j++) qtab[j] *= -2.0f;
        }
        double qnorm = 0;
        for (size_t t = 0; t < d; t++) qnorm += (double)query[t] * query[t];
        qnorm = sqrt(qnorm);
        for (int i = 0; i < nprobes; i++) {
            int p = pr[i].p;
            const ivf_list *l = &ivf->lists[p];
            if (!l->n) continue;
            if (ivf->type == FL_IVF_FLAT) {
                scan_flat(ivf, l, query, qnorm, &hp, filter);
            } else if (ivf->metric == FL_METRIC_DOT) {
                /* the table holds −query_j·codeword: estimate = 1 − query·centroid + Σ table */
                scan_pq(ivf, l, table, 1.0 - (double)dotf(qv, ivf->centroids + (size_t)p * d, ivf->dim), 1.0, false, est, &hp, filter);
            } else if (qtab) {
                /* precomputed: ‖q − c‖² + this partition's terms + the query's */
                const float *pre = ivf->pre + (size_t)p * per;
                for (size_t j = 0; j < per; j++) table[j] = pre[j] + qtab[j];
                double scale = ivf->metric == FL_METRIC_COSINE ? 0.5 : 1.0;
                scan_pq(ivf, l, table, scale * pr[i].d, scale, true, est, &hp, filter);
            } else {
                /* the query's residual to this centroid against the residual codebooks */
                const float *c = ivf->centroids + (size_t)p * d;
                for (size_t t = 0; t < d; t++) res[t] = qv[t] - c[t];
                fl_pq_l2_table(&ivf->pq, res, table);
                scan_pq(ivf, l, table, 0.0, ivf->metric == FL_METRIC_COSINE ? 0.5 : 1.0, false, est, &hp, filter);
            }
        }
        fl_free(qtab);
    }
    if (rc == FL_OK && refining && hp.n && ivf->vectors) {
        /* re-ranked from the stored vectors, exactly as the exact search computes distances */
        double qn = 0;
        for (size_t t = 0; t < d; t++) qn += (double)query[t] * query[t];
        qn = sqrt(qn);
        for (size_t i = 0; i < hp.n; i++) hp.h[i].d = exact_distance(ivf->metric, hp.h[i].raw, query, qn, ivf->dim);
    } else if (rc == FL_OK && refining && hp.n) {
        ids = fl_malloc(hp.n * sizeof *ids);
        dists = fl_malloc(hp.n * sizeof *dists);
        if (!ids || !dists) rc = oom(err);
        /* in row id order, which suits a caller that reads rows from a table */
        if (rc == FL_OK) {
            for (size_t i = 0; i < hp.n; i++) ids[i] = hp.h[i].id;
            qsort(ids, hp.n, sizeof *ids, cmp_u64);
            rc = refine(ctx, query, ids, hp.n, dists, err);
            if (rc != FL_OK && err && err->code == FL_OK) fl_error_set(err, rc, "ivf search: the refine callback failed");
        }
        if (rc == FL_OK) {
            size_t kept = 0;
            for (size_t i = 0; i < hp.n; i++)
                if (dists[i] == dists[i]) hp.h[kept++] = (hit){dists[i], ids[i], NULL};
            hp.n = kept;
        }
    }
    if (rc == FL_OK) {
        qsort(hp.h, hp.n, sizeof *hp.h, cmp_hit);
        size_t n = hp.n < (size_t)k ? hp.n : (size_t)k;
        for (size_t i = 0; i < n; i++) out[i] = (fl_ivf_hit){hp.h[i].id, hp.h[i].d};
        *n_out = (int)n;
    }
    fl_free(qv);
    fl_free(pr);
    fl_free(hp.h);
    fl_free(table);
    fl_free(est);
    fl_free(res);
    fl_free(ids);
    fl_free(dists);
    return rc;
}

/* ---- the index file ---- */

static int section_count(int type, bool vectors) { return type == FL_IVF_PQ ? 5 + vectors : 4; }

/* A section is put_section (id, length), the bytes, then end_section (their hash). */
static void put_section(fl_buf *b, uint32_t id, uint64_t len) {
    fl_buf_put_u32(b, id);
    fl_buf_put_u64(b, len);
}

static void end_section(fl_buf *b, size_t data_start) {
    if (b->failed) return;
    fl_buf_put_u64(b, fl_hash64(b->data + data_start, b->size - data_start));
}

int fl_ivf_write(const fl_ivf *ivf, fl_buf *out, fl_error *err) {
    if (!ivf || !out) return fl_error_set(err, FL_EINVAL, "ivf write: index and buffer are required");
    size_t d = (size_t)ivf->dim, P = (size_t)ivf->partitions, eb = entry_bytes(ivf), begin = out->size;
    uint64_t n = ivf->n_vectors;
    uint8_t head[FL_IVF_HEADER_SIZE] = {0};
    memcpy(head, FL_IVF_MAGIC, 4);
    fl_store_u32(head + 4, FL_IVF_FORMAT);
    head[8] = (uint8_t)ivf->type;
    head[9] = (uint8_t)ivf->metric;
    head[10] = ivf->vectors ? FLAG_VECTORS : 0;
    fl_store_u32(head + 12, (uint32_t)ivf->dim);
    fl_store_u32(head + 16, (uint32_t)ivf->partitions);
    fl_store_u32(head + 20, (uint32_t)fl_ivf_sub_vectors(ivf));
    fl_store_u64(head + 24, n);
    fl_store_u64(head + 32, fl_hash64(head, 32));
    if (!fl_buf_reserve(out, FL_IVF_HEADER_SIZE + P * d * 4 + n * (8 + eb) + P * 8 + 256)) return oom(err);
    fl_buf_append(out, head, sizeof head);

    put_section(out, SEC_CENTROIDS, P * d * sizeof(float));
    size_t at = out->size;
    fl_buf_append(out, ivf->centroids, P * d * sizeof(float));
    end_section(out, at);
    if (ivf->type == FL_IVF_PQ) {
        size_t nb = (size_t)ivf->pq.m * FL_PQ_CODEWORDS * (size_t)ivf->pq.dsub * sizeof(float);
        put_section(out, SEC_CODEBOOKS, nb);
        at = out->size;
        fl_buf_append(out, ivf->pq.codebooks, nb);
        end_section(out, at);
    }
    put_section(out, SEC_COUNTS, P * 8);
    at = out->size;
    for (size_t p = 0; p < P; p++) fl_buf_put_u64(out, ivf->lists[p].n);
    end_section(out, at);
    put_section(out, SEC_ROW_IDS, n * 8);
    at = out->size;
    for (size_t p = 0; p < P; p++) fl_buf_append(out, ivf->lists[p].row_ids, ivf->lists[p].n * sizeof(uint64_t));
    end_section(out, at);
    put_section(out, SEC_PAYLOAD, n * eb);
    at = out->size;
    for (size_t p = 0; p < P; p++) fl_buf_append(out, ivf->lists[p].payload, ivf->lists[p].n * eb);
    end_section(out, at);
    if (ivf->vectors) {
        put_section(out, SEC_VECTORS, n * d * sizeof(float));
        at = out->size;
        for (size_t p = 0; p < P; p++) fl_buf_append(out, ivf->lists[p].raw, ivf->lists[p].n * d * sizeof(float));
        end_section(out, at);
    }

    fl_buf_put_u64(out, out->size - begin);
    fl_buf_put_u32(out, (uint32_t)section_count(ivf->type, ivf->vectors));
    fl_buf_append(out, FL_IVF_TAIL_MAGIC, 4);
    if (out->failed) return oom(err);
    return FL_OK;
}

/* Reads one section header and its bytes, checking the id, that the length is `expect`, and the hash. */
static bool get_section(fl_reader *r, uint32_t id, uint64_t expect, const char *name, const uint8_t **data) {
    size_t at = r->pos;
    uint32_t got_id;
    uint64_t len, hash;
    if (!fl_get_u32(r, &got_id, name)) return false;
    if (got_id != id) {
        r->pos = at;
        return fl_reader_fail(r, "expected section %u (%s), found section id %u", id, name, got_id);
    }
    if (!fl_get_u64(r, &len, name)) return false;
    if (len != expect) {
        r->pos -= 8;
        return fl_reader_fail(r, "%s section is %llu bytes, the header implies %llu", name, (unsigned long long)len, (unsigned long long)expect);
    }
    if (len > r->size - r->pos) return fl_reader_fail(r, "%s section of %llu bytes runs past the tail (%zu bytes left)", name,
                                                      (unsigned long long)len, r->size - r->pos);
    if (!fl_get_bytes(r, data, (size_t)len, name) || !fl_get_u64(r, &hash, name)) return false;
    if (hash != fl_hash64(*data, (size_t)len)) {
        r->pos -= 8;
        return fl_reader_fail(r, "%s section checksum mismatch", name);
    }
    return true;
}

/* Fails at data_pos + 4 × (first non-finite float) if any of n floats at data is not finite. */
static bool check_finite(fl_reader *r, const uint8_t *data, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, data + 4 * i, 4);
        if (!isfinite(v)) {
            size_t save = r->pos;
            r->pos = (size_t)(data - r->data) + 4 * i;
            fl_reader_fail(r, "%s value %zu is not finite", name, i);
            r->pos = save;
            return false;
        }
    }
    return true;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out) && *out <= SIZE_MAX; }

int fl_ivf_read(const uint8_t *bytes, size_t n, const char *what, fl_ivf **out, fl_error *err) {
    if (out) *out = NULL;
    if (!out || (!bytes && n)) return fl_error_set(err, FL_EINVAL, "ivf read: bytes and out are required");
    if (!what) what = "ivf index";
    fl_reader r;
    fl_reader_init(&r, bytes, n, 0, what, err);
    if (n < 4) {
        fl_reader_fail(&r, "%zu bytes are too short for an IVF index", n);
        return FL_ECORRUPT;
    }
    if (memcmp(bytes, FL_IVF_MAGIC, 4) != 0) {
        fl_reader_fail(&r, "bad magic: not an IVF index (expected \"FLV1\")");
        return FL_ECORRUPT;
    }
    uint32_t format = n >= 8 ? fl_load_u32(bytes + 4) : 0;
    if (n >= 8 && format > FL_IVF_FORMAT)
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: byte 4: IVF index format %u is newer than this build reads (%d)", what, format, FL_IVF_FORMAT);
    if (n < FL_IVF_HEADER_SIZE + FL_IVF_TAIL_SIZE) {
        r.pos = n;
        fl_reader_fail(&r, "truncated: %zu bytes, an IVF index has at least %d", n, FL_IVF_HEADER_SIZE + FL_IVF_TAIL_SIZE);
        return FL_ECORRUPT;
    }
    if (format != FL_IVF_FORMAT) {
        r.pos = 4;
        fl_reader_fail(&r, "format %u is not a valid IVF index format", format);
        return FL_ECORRUPT;
    }
    /* the tail: a truncated or extended file fails here */
    size_t tail = n - FL_IVF_TAIL_SIZE;
    if (memcmp(bytes + n - 4, FL_IVF_TAIL_MAGIC, 4) != 0) {
        r.pos = n - 4;
        fl_reader_fail(&r, "tail magic \"FLVT\" missing (truncated or damaged file)");
        return FL_ECORRUPT;
    }
    if (fl_load_u64(bytes + tail) != tail) {
        r.pos = tail;
        fl_reader_fail(&r, "tail says the index is %llu bytes before the tail, the file has %zu", (unsigned long long)fl_load_u64(bytes + tail),
                       tail);
        return FL_ECORRUPT;
    }
    if (fl_load_u64(bytes + 32) != fl_hash64(bytes, 32)) {
        r.pos = 32;
        fl_reader_fail(&r, "header checksum mismatch");
        return FL_ECORRUPT;
    }
    int type = bytes[8], metric = bytes[9];
    uint32_t dim = fl_load_u32(bytes + 12), partitions = fl_load_u32(bytes + 16), m = fl_load_u32(bytes + 20);
    uint64_t vectors = fl_load_u64(bytes + 24);
    const char *problem = NULL;
    size_t at = 0;
    if (type != FL_IVF_FLAT && type != FL_IVF_PQ) problem = "type must be 1 (flat) or 2 (pq)", at = 8;
    else if (metric != FL_METRIC_L2 && metric != FL_METRIC_COSINE && metric != FL_METRIC_DOT)
        problem = "metric must be 0 (l2), 1 (cosine) or 2 (dot)", at = 9;
    else if (bytes[10] & ~FLAG_VECTORS || (bytes[10] && type != FL_IVF_PQ)) problem = "unknown flags (only a pq index may keep vectors)", at = 10;
    else if (bytes[11]) problem = "reserved byte is not zero", at = 11;
    else if (dim < 1 || dim > FL_IVF_MAX_DIM) problem = "dim must be 1..1048576", at = 12;
    else if (partitions < 1 || partitions > FL_IVF_MAX_PARTITIONS) problem = "partitions must be 1..65536", at = 16;
    else if (type == FL_IVF_PQ && (m < 1 || m > dim || dim % m)) problem = "sub_vectors must divide dim", at = 20;
    else if (type == FL_IVF_FLAT && m != 0) problem = "sub_vectors must be 0 for a flat index", at = 20;
    if (problem) {
        r.pos = at;
        fl_reader_fail(&r, "%s", problem);
        return FL_ECORRUPT;
    }
    bool has_vectors = type == FL_IVF_PQ && (bytes[10] & FLAG_VECTORS);
    if (fl_load_u32(bytes + tail + 8) != (uint32_t)section_count(type, has_vectors)) {
        r.pos = tail + 8;
        fl_reader_fail(&r, "tail says %u sections, a %s index has %d", fl_load_u32(bytes + tail + 8), type == FL_IVF_PQ ? "pq" : "flat",
                       section_count(type, has_vectors));
        return FL_ECORRUPT;
    }

    /* sections, whose lengths the header determines (overflow-checked) */
    r.size = tail;
    r.pos = FL_IVF_HEADER_SIZE;
    size_t eb = type == FL_IVF_FLAT ? (size_t)dim * 4 : m;
    uint64_t cent_len, ids_len, pay_len;
    mul_ok((uint64_t)partitions * dim, 4, &cent_len); /* ≤ 2^38: cannot overflow */
    if (!mul_ok(vectors, 8, &ids_len) || !mul_ok(vectors, eb, &pay_len) || ids_len > tail || pay_len > tail) {
        r.pos = 24;
        fl_reader_fail(&r, "%llu vectors cannot fit in %zu bytes", (unsigned long long)vectors, n);
        return FL_ECORRUPT;
    }
    const uint8_t *cent, *books = NULL, *counts, *idb, *pay;
    if (!get_section(&r, SEC_CENTROIDS, cent_len, "centroids", &cent) || !check_finite(&r, cent, cent_len / 4, "centroid")) return FL_ECORRUPT;
    if (type == FL_IVF_PQ) {
        uint64_t nb = (uint64_t)FL_PQ_CODEWORDS * dim * 4;
        if (!get_section(&r, SEC_CODEBOOKS, nb, "codebooks", &books) || !check_finite(&r, books, nb / 4, "codeword")) return FL_ECORRUPT;
    }
    if (!get_section(&r, SEC_COUNTS, (uint64_t)partitions * 8, "counts", &counts)) return FL_ECORRUPT;
    uint64_t sum = 0;
    for (uint32_t p = 0; p < partitions; p++) {
        uint64_t c = fl_load_u64(counts + 8 * (size_t)p);
        if (c > vectors - sum) {
            r.pos = (size_t)(counts - bytes) + 8 * (size_t)p;
            fl_reader_fail(&r, "list %u holds %llu entries, more than the %llu vectors left", p, (unsigned long long)c,
                           (unsigned long long)(vectors - sum));
            return FL_ECORRUPT;
        }
        sum += c;
    }
    if (sum != vectors) {
        r.pos = 24;
        fl_reader_fail(&r, "the lists hold %llu entries, the header says %llu vectors", (unsigned long long)sum, (unsigned long long)vectors);
        return FL_ECORRUPT;
    }
    if (!get_section(&r, SEC_ROW_IDS, ids_len, "row ids", &idb)) return FL_ECORRUPT;
    size_t off = 0;
    for (uint32_t p = 0; p < partitions; p++) {
        size_t c = (size_t)fl_load_u64(counts + 8 * (size_t)p);
        for (size_t i = 1; i < c; i++)
            if (fl_load_u64(idb + 8 * (off + i)) <= fl_load_u64(idb + 8 * (off + i - 1))) {
                r.pos = (size_t)(idb - bytes) + 8 * (off + i);
                fl_reader_fail(&r, "row ids of list %u are not strictly ascending", p);
                return FL_ECORRUPT;
            }
        off += c;
    }
    if (!get_section(&r, SEC_PAYLOAD, pay_len, type == FL_IVF_FLAT ? "vectors" : "codes", &pay)) return FL_ECORRUPT;
    if (type == FL_IVF_FLAT && !check_finite(&r, pay, (size_t)vectors * dim, "vector")) return FL_ECORRUPT;
    const uint8_t *rawb = NULL;
    uint64_t raw_len = 0;
    if (has_vectors) {
        if (!mul_ok(vectors, (uint64_t)dim * 4, &raw_len) || raw_len > tail) {
            r.pos = 24;
            fl_reader_fail(&r, "%llu vectors cannot fit in %zu bytes", (unsigned long long)vectors, n);
            return FL_ECORRUPT;
        }
        if (!get_section(&r, SEC_VECTORS, raw_len, "vectors", &rawb) || !check_finite(&r, rawb, (size_t)vectors * dim, "vector")) return FL_ECORRUPT;
    }
    if (r.pos != r.size) {
        fl_reader_fail(&r, "%zu unexpected bytes after the last section", r.size - r.pos);
        return FL_ECORRUPT;
    }

    /* row ids unique across lists */
    uint64_t *all = fl_malloc((size_t)(vectors ? vectors : 1) * sizeof *all);
    if (!all) return oom(err);
    memcpy(all, idb, (size_t)vectors * 8);
    qsort(all, (size_t)vectors, sizeof *all, cmp_u64);
    for (size_t i = 1; i < vectors; i++)
        if (all[i] == all[i - 1]) {
            uint64_t dup = all[i];
            fl_free(all);
            r.pos = (size_t)(idb - bytes);
            fl_reader_fail(&r, "row id %llu appears in two lists", (unsigned long long)dup);
            return FL_ECORRUPT;
        }
    fl_free(all);

    fl_ivf *ivf = ivf_alloc(type, metric, (int)dim, (int)partitions);
    if (!ivf) return oom(err);
    ivf->vectors = has_vectors;
    memcpy(ivf->centroids, cent, (size_t)cent_len);
    if (type == FL_IVF_PQ) {
        ivf->pq.dim = (int)dim;
        ivf->pq.m = (int)m;
        ivf->pq.dsub = (int)(dim / m);
        size_t nb = (size_t)FL_PQ_CODEWORDS * dim * 4;
        if (!(ivf->pq.codebooks = fl_malloc(nb))) {
            fl_ivf_free(ivf);
            return oom(err);
        }
        memcpy(ivf->pq.codebooks, books, nb);
    }
    off = 0;
    for (uint32_t p = 0; p < partitions; p++) {
        ivf_list *l = &ivf->lists[p];
        size_t c = (size_t)fl_load_u64(counts + 8 * (size_t)p);
        if (!c) continue;
        l->row_ids = fl_malloc(c * sizeof *l->row_ids);
        l->payload = fl_malloc(c * eb);
        if (has_vectors) l->raw = fl_malloc(c * dim * sizeof(float));
        if (!l->row_ids || !l->payload || (has_vectors && !l->raw)) {
            fl_ivf_free(ivf);
            return oom(err);
        }
        memcpy(l->row_ids, idb + 8 * off, c * 8);
        memcpy(l->payload, pay + eb * off, c * eb);
        if (has_vectors) memcpy(l->raw, rawb + (size_t)dim * 4 * off, c * dim * sizeof(float));
        l->n = l->cap = c;
        off += c;
    }
    ivf->n_vectors = vectors;
    build_pre(ivf);
    *out = ivf;
    return FL_OK;
}
