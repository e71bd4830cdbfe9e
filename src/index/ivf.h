/*
 * ivf.h — an in-memory IVF (inverted file) vector index, with optional product quantization, and the
 * k-means it is trained with. The table layer wires it to vector columns; this module knows nothing of
 * tables: it maps float vectors to caller-chosen uint64 row ids.
 *
 * Training clusters a sample into `partitions` centroids (k-means++ then Lloyd, distances by sgemm). Each
 * added vector goes to the list of its nearest centroid, stored either as its raw floats (IVF_FLAT) or as
 * m one-byte codes of its residual (vector − centroid), one code per sub-vector of dim / m floats, each
 * naming one of 256 codewords of that sub-space (IVF_PQ). A search ranks the centroids, scans the lists
 * of the nprobes nearest, and keeps the k best.
 *
 * Metrics and distances are vector.c's (fl_vector_search), the distances LanceDB reports: l2 = squared
 * Euclidean, cosine = 1 − cos (1 when either vector is zero), dot = 1 − x·y.
 *  - IVF_FLAT distances are computed exactly as vector.c computes them (double accumulation, in order),
 *    so a search with nprobes = partitions returns what an exact search returns, bit for bit.
 *  - IVF_PQ distances are estimates (asymmetric distance computation, ADC): the query is kept in floats,
 *    the stored vector is its centroid plus its codewords. l2: a per-partition table of m × 256 squared
 *    distances between the query's residual sub-vectors and the codewords, summed over a code's bytes.
 *    cosine: vectors and query are normalised to unit length and ranked by l2 (on unit vectors
 *    ‖a − b‖² = 2 − 2 cos, the same order); the estimate reported is ‖a − b‖² / 2. dot: one table of
 *    query·codeword products per query; the estimate is 1 − (query·centroid + Σ query_j·codeword_j).
 *    With refine_factor > 0 the k × refine_factor best estimates are re-scored by exact distance — from
 *    the vectors the index keeps (store_vectors), or else by the caller's refine callback (e.g. reading
 *    the table) — and the k best of those are returned.
 *  - Partitions: centroids are trained by l2 k-means (cosine: on unit vectors) and vectors are stored in
 *    the list of their l2-nearest centroid. Probing ranks centroids by l2 (cosine: of the unit query) and,
 *    for dot, by 1 − query·centroid, the inner product a partition's vectors are expected to have.
 *
 * Invariants:
 *  1. Each list is sorted by row id, strictly; a row id appears at most once in the whole index.
 *  2. Centroids, codebooks and stored vectors are finite (inputs are checked; the reader rejects others).
 *  3. Results come ascending by distance, ties by the smaller row id, like fl_vector_search.
 *  4. The index file (fl_ivf_write) is canonical: reading accepted bytes and writing them back gives the
 *     same bytes. The reader validates every field and never trusts a count before checking it against
 *     the bytes that remain.
 *  5. Training is deterministic given the seed, on a given machine (OpenBLAS may split a product across
 *     a different number of threads elsewhere, which can change the last bits of a float).
 *
 * Threads: a trained index may be searched by any number of threads at once; fl_ivf_add needs exclusive
 * access. The k-means and PQ functions are reentrant.
 */
#ifndef FL_INDEX_IVF_H
#define FL_INDEX_IVF_H

#include "../common/common.h"

enum { FL_IVF_FLAT = 1, FL_IVF_PQ = 2 };

#define FL_IVF_MAX_DIM 1048576          /* as fixed_size_list (docs/FORMAT.md §14) */
#define FL_IVF_MAX_PARTITIONS 65536
#define FL_IVF_MAX_K 100000             /* as fl_vector_search */
#define FL_IVF_MAX_REFINE 1000
#define FL_IVF_DEFAULT_ITERS 25
#define FL_PQ_CODEWORDS 256             /* 8-bit codes */

/* ---- k-means ---- */

/* Clusters n points of dim floats (row-major) into k centroids (k × dim floats, caller-allocated),
 * minimising squared l2. At most 256 × k points are used: a larger input is sampled (without
 * replacement, deterministically from seed). Initialisation is k-means++; then up to `iters` Lloyd
 * iterations (0: initialisation only), stopping early when no assignment changes. A cluster left empty by
 * an iteration takes the point of the largest cluster that lies farthest from its centroid (the largest
 * cluster is split), so every centroid is the mean of at least one point. Needs 1 ≤ k ≤ n.
 * Returns FL_OK, FL_EINVAL (bad arguments, non-finite input) or FL_ENOMEM. */
int fl_kmeans_train(const float *x, size_t n, int dim, int k, int iters, uint64_t seed, float *centroids, fl_error *err);

/* Writes the nearest of k centroids of each of n points (ties: the lower centroid) to assign[n], and when
 * dist is not NULL the squared l2 distance to it to dist[n] (computed as ‖x‖² − 2x·c + ‖c‖², so to
 * float rounding; never negative). Returns FL_OK, FL_EINVAL or FL_ENOMEM. */
int fl_kmeans_assign(const float *x, size_t n, int dim, const float *centroids, int k, int32_t *assign, float *dist,
                     fl_error *err);

/* ---- product quantizer ---- */

typedef struct fl_pq {
    int dim;                    /* vector dimensions */
    int m;                      /* sub-vectors per vector; dim % m == 0 */
    int dsub;                   /* dim / m */
    float *codebooks;           /* m × 256 × dsub: codeword c of sub-space j at (j × 256 + c) × dsub; owned */
} fl_pq;

/* Trains m codebooks of 256 codewords on n vectors (k-means per sub-space on at most 65 536 of them,
 * sampled from seed). With fewer than 256 vectors a sub-space gets n codewords and the rest repeat
 * codeword 0 (never chosen by encoding). On success *pq owns its codebooks (fl_pq_free).
 * Returns FL_OK, FL_EINVAL or FL_ENOMEM. */
int fl_pq_train(const float *x, size_t n, int dim, int m, int iters, uint64_t seed, fl_pq *pq, fl_error *err);
/* Encodes n vectors into n × m codes (the nearest codeword per sub-vector). FL_OK, FL_EINVAL, FL_ENOMEM. */
int fl_pq_encode(const fl_pq *pq, const float *x, size_t n, uint8_t *codes, fl_error *err);
/* The vectors n codes stand for (n × dim floats). */
void fl_pq_decode(const fl_pq *pq, const uint8_t *codes, size_t n, float *x);
/* Per-query tables of m × 256 floats (entry j × 256 + c): the squared l2 distance between the query's
 * sub-vector j and codeword c, or their inner product. */
void fl_pq_l2_table(const fl_pq *pq, const float *query, float *table);
void fl_pq_ip_table(const fl_pq *pq, const float *query, float *table);
/* Σ_j table[j × 256 + code[j]] for n codes of m bytes each, into out[n]. */
void fl_pq_adc(const float *table, int m, const uint8_t *codes, size_t n, float *out);
/* Frees the codebooks and zeroes *pq. NULL or a zeroed pq is a no-op. */
void fl_pq_free(fl_pq *pq);

/* ---- the index ---- */

typedef struct fl_ivf fl_ivf;

typedef struct fl_ivf_params {
    int type;                   /* FL_IVF_FLAT or FL_IVF_PQ */
    int metric;                 /* FL_METRIC_L2, FL_METRIC_COSINE or FL_METRIC_DOT */
    int dim;                    /* 1 .. FL_IVF_MAX_DIM */
    int partitions;             /* 1 .. FL_IVF_MAX_PARTITIONS, at most the training vectors */
    int sub_vectors;            /* IVF_PQ: m, dividing dim (codes are m bytes); IVF_FLAT: ignored */
    int iters;                  /* k-means iterations (IVF and each PQ sub-space); 0: FL_IVF_DEFAULT_ITERS */
    uint64_t seed;              /* sampling and k-means++ */
    size_t sample;              /* at most this many training vectors are used (sampled); 0: as many as
                                   training uses, 256 per centroid (IVF_PQ: at least 65 536) */
    bool store_vectors;         /* IVF_PQ: keep each entry's raw vector as well (section 6), so refine_factor
                                   re-ranks in memory without a callback (costs dim × 4 bytes per entry) */
} fl_ivf_params;

typedef struct fl_ivf_hit {
    uint64_t row_id;
    double distance;            /* in the metric's units (see the file header); PQ without refine: estimate */
} fl_ivf_hit;

/* A prefilter: only rows for which keep returns true can be results, so k hits come back whenever the
 * probed partitions hold k kept rows. keep is called only for rows that would enter the current best k
 * (or k × refine_factor), so it must be a pure function of the row id. */
typedef struct fl_ivf_filter {
    bool (*keep)(void *ctx, uint64_t row_id);
    void *ctx;
} fl_ivf_filter;

/* Exact distances of n rows (row_ids strictly ascending, so a table reads them in one pass) to the query
 * (the caller's original query vector), into distances[n]. A NaN distance drops the row (e.g. it was
 * deleted since the index was built). Returns FL_OK or an error code with err filled, which the search
 * returns. */
typedef int (*fl_ivf_refine_fn)(void *ctx, const float *query, const uint64_t *row_ids, size_t n, double *distances,
                                fl_error *err);

/* Trains the centroids (and for IVF_PQ the codebooks, on residuals) from n_train vectors; the index is
 * empty (fl_ivf_add fills it). On success *out is owned by the caller (fl_ivf_free). Errors: FL_EINVAL
 * with a message naming the parameter (dim % sub_vectors != 0, partitions > n_train, a non-finite training
 * value, ...), FL_ENOMEM. */
int fl_ivf_train(const fl_ivf_params *params, const float *train, size_t n_train, fl_ivf **out, fl_error *err);
/* An empty index with the same type, metric, centroids and codebooks as `trained` (its vectors are not
 * copied): incremental updates add new rows to it with the trained model, and results from both indexes
 * are comparable. *out is owned by the caller. FL_OK, FL_EINVAL (trained is NULL) or FL_ENOMEM. */
int fl_ivf_new_like(const fl_ivf *trained, fl_ivf **out, fl_error *err);
/* Adds n vectors (n × dim floats) with their row ids; may be called any number of times, in any row id
 * order. Row ids must be new to the index (invariant 1): a repeated id, within the call or with an earlier
 * one, is FL_EINVAL, as is a non-finite value. All or nothing: on error the index is unchanged. The
 * vectors are copied (IVF_FLAT) or encoded (IVF_PQ); the caller's arrays may go away. FL_OK, FL_EINVAL,
 * FL_ENOMEM. */
int fl_ivf_add(fl_ivf *ivf, const float *x, const uint64_t *row_ids, size_t n, fl_error *err);

/* The k nearest indexed rows to `query` (dim floats), best first (invariant 3), into out[k] (caller-owned,
 * room for k hits); *n_out = how many (fewer than k only when the probed lists hold fewer kept rows).
 * nprobes ≥ 1 lists are scanned (clamped to the partitions). refine_factor (0 .. FL_IVF_MAX_REFINE) matters
 * for IVF_PQ only: when > 0 the k × refine_factor best estimates go to `refine` (required then) with ctx,
 * and the k best exact distances are returned. filter may be NULL. IVF_FLAT distances are always exact.
 * Returns FL_OK, FL_EINVAL (k outside 1 .. FL_IVF_MAX_K, nprobes < 1, a non-finite query, refine_factor
 * without refine), FL_ENOMEM, or the refine callback's error. */
int fl_ivf_search(const fl_ivf *ivf, const float *query, int k, int nprobes, int refine_factor,
                  const fl_ivf_filter *filter, fl_ivf_refine_fn refine, void *ctx, fl_ivf_hit *out, int *n_out,
                  fl_error *err);

/* Appends the index file bytes to *out (layout below). FL_OK or FL_ENOMEM. */
int fl_ivf_write(const fl_ivf *ivf, fl_buf *out, fl_error *err);
/* Reads an index file of n bytes. Any damage is FL_ECORRUPT "<what>: byte <offset>: <problem>" (what: the
 * file name, or NULL for "ivf index"); a format version newer than this build's is FL_EUNSUPPORTED. Never
 * reads outside bytes[0, n). On success *out is owned by the caller and does not point into bytes. */
int fl_ivf_read(const uint8_t *bytes, size_t n, const char *what, fl_ivf **out, fl_error *err);
/* Frees the index. NULL is a no-op. */
void fl_ivf_free(fl_ivf *ivf);

/* Accessors (ivf not NULL). */
int fl_ivf_type(const fl_ivf *ivf);
int fl_ivf_metric(const fl_ivf *ivf);
int fl_ivf_dim(const fl_ivf *ivf);
int fl_ivf_partitions(const fl_ivf *ivf);
int fl_ivf_sub_vectors(const fl_ivf *ivf);              /* IVF_FLAT: 0 */
uint64_t fl_ivf_count(const fl_ivf *ivf);               /* vectors added */
size_t fl_ivf_partition_count(const fl_ivf *ivf, int partition);
/* partitions × dim floats, owned by the index (cosine: trained on unit vectors). */
const float *fl_ivf_centroids(const fl_ivf *ivf);
/* The product quantizer of an IVF_PQ index, NULL for IVF_FLAT; owned by the index. */
const fl_pq *fl_ivf_pq(const fl_ivf *ivf);

/*
 * Index file layout (format 1), little-endian, no padding:
 *
 *   0   "FLV1"  u32 format = 1
 *   8   u8 type (1 flat, 2 pq)  u8 metric (0 l2, 1 cosine, 2 dot)  u8 flags (bit 0: pq keeps vectors)  u8 reserved = 0
 *   12  u32 dim (1 .. 1048576)  u32 partitions (1 .. 65536)  u32 sub_vectors (pq: m | dim; flat: 0)
 *   24  u64 vectors
 *   32  u64 xxh3(bytes 0 .. 31)
 *   40  sections, each: u32 id, u64 length, bytes[length], u64 xxh3(bytes), in this order:
 *         1 centroids   partitions × dim f32 (finite)
 *         2 codebooks   (pq only) m × 256 × dim/m f32 (finite)
 *         3 counts      partitions × u64: entries per list, summing to vectors
 *         4 row ids     vectors × u64, list by list, strictly ascending within a list, unique overall
 *         5 payload     vectors × (flat: dim f32, finite; pq: m u8), in the same order
 *         6 vectors     (pq with flag 1 at byte 10 only) vectors × dim f32, finite, in the same order
 *   tail (16 bytes): u64 offset of the tail (= bytes before it), u32 sections (4 flat, 5 pq, 6 pq with vectors), "FLVT"
 *
 * Every length is determined by the header and must match exactly; no byte may lie between the last
 * section and the tail. Format other than 1: FL_EUNSUPPORTED (0: FL_ECORRUPT).
 */
#define FL_IVF_MAGIC "FLV1"
#define FL_IVF_TAIL_MAGIC "FLVT"
#define FL_IVF_FORMAT 1
#define FL_IVF_HEADER_SIZE 40
#define FL_IVF_TAIL_SIZE 16

#endif /* FL_INDEX_IVF_H */
