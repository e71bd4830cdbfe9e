/*
 * vector_bench.c — the framelake side of the vector-index benchmark (bench/vector.sh, bench/README.md
 * "Vector search").
 *
 *   vector_bench run DB BASE.f32 QUERIES.f32 N DIM NQ "NPROBES..." "REFINES..." REPS WARMUP BATCH PARTITIONS SUB_VECTORS STORE_VECTORS
 *       Creates DB (must not exist) with table `vec` ("id int64, v fixed_size_list<float32, DIM>"), appends
 *       the N base vectors (id = row number) with one fl_table_append per BATCH rows, builds an ivf_pq
 *       index on v (partitions, sub_vectors, metric l2, and store_vectors unless STORE_VECTORS is "auto")
 *       with fl_index_create_with, reopens the table, waits
 *       2 s (OpenBLAS threads of the build stop spinning), and for every (nprobes, refine) pair runs WARMUP untimed queries, then REPS timed passes over the NQ
 *       queries through fl_vector_search (k = 10, projection {"id"}), one query at a time.
 *       stdout (TSV): "load<TAB>seconds", "build<TAB>wall s<TAB>cpu s", then per pair and query
 *       "q<TAB>nprobes<TAB>refine<TAB>query<TAB>ms,ms,...<TAB>id,id,..." (ids of the first timed pass), and per
 *       pair "cpu<TAB>nprobes<TAB>refine<TAB>process cpu s<TAB>wall s" of its timed passes and
 *       "scan<TAB>nprobes<TAB>refine<TAB>codes in the probed lists per query" (computed apart, untimed).
 *
 *   vector_bench profile DB QUERIES.f32 DIM NQ NPROBES REFINE REPS
 *       On the table `run` built: where one query's time goes. Times fl_vector_search, then an instrumented
 *       copy of its indexed path built from the same internal functions (src/index, src/table): the index
 *       coverage and the cache lookup, fl_ivf_search with a keep_row-like filter and refine callback (the
 *       refine read is fl_table_take of the vector column), and the projection read (fl_table_take of id);
 *       the API call and the copy run different queries, so neither warms the other's data pages. Then
 *       fl_ivf_search alone and its parts rebuilt from public pieces (marked ~): ranking the centroids, the
 *       per-query table, one table add per probe, the ADC scan (fl_pq_adc over synthetic codes of the
 *       probed lists' lengths), and for reference the per-probe residual table of the code before
 *       precomputed tables. Prints medians and means per phase (ms), codes scanned, list balance and the
 *       refine cost per row to stdout.
 */
#include "framelake.h"
#include "common/common.h"
#include "index/index.h"
#include "index/ivf.h"
#include "index/vindex.h"
#include "table/table.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K 10

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "vector_bench: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path, NULL);
    float *x = malloc(n * sizeof *x);
    if (!x || fread(x, sizeof *x, n, f) != n) die(path, NULL);
    fclose(f);
    return x;
}

static int parse_list(const char *s, int *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        out[n++] = (int)v;
        s = end;
        while (*s == ' ' || *s == ',') s++;
    }
    return n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One search; ids (up to K) into ids, returns the count. */
static int search(fl_table *t, const float *q, int dim, int nprobes, int refine, int64_t *ids) {
    static const char *const cols[] = {"id"};
    fl_vector_query vq = {.column = "v", .vector = q, .dim = (size_t)dim, .metric = -1, .k = K,
                          .columns = cols, .n_columns = 1, .nprobes = nprobes, .refine_factor = refine};
    fl_error err = {0};
    fl_batch *b;
    if (fl_vector_search(t, &vq, &b, &err)) die("fl_vector_search", &err);
    const fl_array *id = fl_batch_column(b, "id");
    if (!id || b->num_rows > K) die("unexpected result shape", NULL);
    int n = (int)b->num_rows;
    for (int i = 0; i < n; i++) ids[i] = fl_array_get_int(id, i);
    fl_batch_free(b);
    return n;
}

/* Mean number of codes in the nprobes lists nearest to each query (what an IVF search scans), from the
 * table's ivf_pq index: the "scan" line, comparable with faiss_bench's. */
static float l2sq8(const float *a, const float *b, int dim);

static double codes_scanned(fl_table *t, const float *queries, int nq, int dim, int nprobes) {
    const fl_manifest *m = t->m;
    const fl_index_ref *x = NULL;
    for (uint32_t i = 0; i < m->n_indexes; i++)
        if (!strcmp(m->indexes[i].type, "ivf_pq")) x = &m->indexes[i];
    fl_error err = {0};
    fl_ixcache_ref ref;
    if (!x || x->n_files != 1 || fl_vindex_load(t, x->files[0], &ref, &err)) return NAN;
    const fl_ivf *ivf = ref.obj;
    int P = fl_ivf_partitions(ivf);
    const float *cent = fl_ivf_centroids(ivf);
    float *d = malloc((size_t)P * sizeof *d);
    char *used = malloc((size_t)P);
    double total = 0;
    for (int q = 0; q < nq; q++) {
        for (int c = 0; c < P; c++) d[c] = l2sq8(queries + (size_t)q * dim, cent + (size_t)c * dim, dim), used[c] = 0;
        for (int i = 0; i < nprobes && i < P; i++) {
            int b = -1;
            for (int c = 0; c < P; c++)
                if (!used[c] && (b < 0 || d[c] < d[b])) b = c;
            used[b] = 1;
            total += (double)fl_ivf_partition_count(ivf, b);
        }
    }
    free(d);
    free(used);
    fl_ixcache_release(&ref);
    return total / nq;
}

static int run(int argc, char **argv) {
    if (argc != 16) {
        fprintf(stderr, "usage: vector_bench run DB BASE QUERIES N DIM NQ NPROBES REFINES REPS WARMUP BATCH PARTITIONS SUB_VECTORS STORE_VECTORS\n");
        return 2;
    }
    const char *dbpath = argv[2], *base_path = argv[3], *query_path = argv[4];
    size_t n = strtoull(argv[5], NULL, 10);
    int dim = atoi(argv[6]), nq = atoi(argv[7]);
    int nprobes[64], refines[16];
    int n_np = parse_list(argv[8], nprobes, 64), n_rf = parse_list(argv[9], refines, 16);
    int reps = atoi(argv[10]), warmup = atoi(argv[11]);
    size_t batch_rows = strtoull(argv[12], NULL, 10);
    const char *partitions = argv[13], *sub_vectors = argv[14], *store_vectors = argv[15];

    float *base = read_f32(base_path, n * (size_t)dim);
    float *queries = read_f32(query_path, (size_t)nq * (size_t)dim);
    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(dbpath, FL_OPEN_CREATE, &db, &err)) die("open db", &err);
    char schema_text[128];
    snprintf(schema_text, sizeof schema_text, "id int64, v fixed_size_list<float32, %d>", dim);
    fl_schema *schema;
    if (fl_schema_parse(schema_text, &schema, &err)) die("schema", &err);
    fl_table *t;
    if (fl_table_create(db, "vec", schema, &t, &err)) die("create table", &err);

    /* load: batches are built and appended; the whole is timed (building the batch is cheap next to the
     * write, and is reported together) */
    double t0 = now(), build_batches = 0;
    for (size_t start = 0; start < n; start += batch_rows) {
        size_t rows = n - start < batch_rows ? n - start : batch_rows;
        double b0 = now();
        fl_batch *b = fl_batch_new(schema);
        if (!b) die("batch", NULL);
        fl_array *ids = &b->columns[0], *vec = &b->columns[1], *vals = &vec->children[0];
        for (size_t i = 0; i < rows; i++) {
            const float *x = base + (start + i) * (size_t)dim;
            if (fl_array_append_int(ids, (int64_t)(start + i))) die("append id", NULL);
            for (int j = 0; j < dim; j++)
                if (fl_array_append_float(vals, x[j])) die("append float", NULL);
            if (fl_array_end_list(vec)) die("end list", NULL);
        }
        if (fl_batch_finish(b, &err)) die("batch finish", &err);
        build_batches += now() - b0;
        if (fl_table_append(t, b, NULL, &err)) die("append", &err);
        fl_batch_free(b);
    }
    double load_s = now() - t0;
    printf("load\t%.4f\t%.4f\n", load_s, build_batches);
    fflush(stdout);
    fprintf(stderr, "vector_bench: loaded %zu rows in %.1f s (%.1f s building batches)\n", n, load_s, build_batches);

    fl_kv params[] = {{"partitions", (char *)partitions}, {"sub_vectors", (char *)sub_vectors}, {"metric", "l2"}, {"store_vectors", (char *)store_vectors}};
    size_t n_params = strcmp(store_vectors, "auto") ? 4 : 3; /* auto: the library's default */
    double c0 = cpu_now();
    t0 = now();
    if (fl_index_create_with(t, "v", "ivf_pq", NULL, params, n_params, &err)) die("index create", &err);
    double build_s = now() - t0, build_cpu = cpu_now() - c0;
    printf("build\t%.4f\t%.4f\n", build_s, build_cpu);
    fflush(stdout);
    fprintf(stderr, "vector_bench: ivf_pq index (partitions %s, sub_vectors %s, store_vectors %s) built in %.1f s (cpu %.1f s)\n", partitions,
            sub_vectors, store_vectors, build_s, build_cpu);
    fl_table_close(t);
    if (fl_table_open(db, "vec", NULL, &t, &err)) die("reopen", &err);
    /* OpenBLAS's worker threads spin for a while after the build's last product: let them go to sleep
     * before anything is timed (the queries themselves use no BLAS) */
    nanosleep(&(struct timespec){2, 0}, NULL);

    int64_t(*ids)[K] = malloc((size_t)nq * sizeof *ids);
    int *nids = malloc((size_t)nq * sizeof *nids);
    double **lat = malloc((size_t)nq * sizeof *lat);
    for (int q = 0; q < nq; q++) lat[q] = malloc((size_t)reps * sizeof **lat);
    for (int a = 0; a < n_np; a++)
        for (int r = 0; r < n_rf; r++) {
            int64_t scratch[K];
            for (int w = 0; w < warmup; w++) search(t, queries + (size_t)(w % nq) * dim, dim, nprobes[a], refines[r], scratch);
            double c1 = now(), cpu1 = cpu_now();
            for (int rep = 0; rep < reps; rep++)
                for (int q = 0; q < nq; q++) {
                    double s0 = now();
                    int got = search(t, queries + (size_t)q * dim, dim, nprobes[a], refines[r], rep ? scratch : ids[q]);
                    lat[q][rep] = (now() - s0) * 1e3;
                    if (!rep) nids[q] = got;
                }
            for (int q = 0; q < nq; q++) {
                printf("q\t%d\t%d\t%d\t", nprobes[a], refines[r], q);
                for (int rep = 0; rep < reps; rep++) printf("%s%.4f", rep ? "," : "", lat[q][rep]);
                printf("\t");
                for (int i = 0; i < nids[q]; i++) printf("%s%lld", i ? "," : "", (long long)ids[q][i]);
                printf("\n");
            }
            printf("cpu\t%d\t%d\t%.4f\t%.4f\n", nprobes[a], refines[r], cpu_now() - cpu1, now() - c1);
            printf("scan\t%d\t%d\t%.1f\n", nprobes[a], refines[r], codes_scanned(t, queries, nq, dim, nprobes[a]));
            fflush(stdout);
            fprintf(stderr, "vector_bench: nprobes %d refine %d: %.1f s\n", nprobes[a], refines[r], now() - c1);
        }
    fl_table_close(t);
    fl_db_close(db);
    fl_schema_free(schema);
    free(base);
    free(queries);
    return 0;
}

/* ---- profile: an instrumented copy of fl_vector_search's indexed path ---- */

typedef struct pctx {
    fl_table *t;
    int32_t *file_of;
    int32_t file;
    long keep_calls;
    double keep_s;
} pctx;

/* What vector.c's keep_row does without a WHERE: live row of a fragment the file serves. */
static bool keep_row(void *ctx, uint64_t row) {
    pctx *p = ctx;
    double s = now();
    uint32_t fi;
    uint64_t off;
    bool ok = fl_table_locate(p->t, row, &fi, &off) && p->file_of[fi] == p->file;
    const deletion_set *d;
    if (ok && (fl_table_deletions(p->t, fi, &d, NULL) != FL_OK || fl_deletion_contains(d, off))) ok = false;
    p->keep_calls++;
    p->keep_s += now() - s;
    return ok;
}

static double refine_s;
static const float *refine_q;
static int refine_dim;

/* What vector.c's refine_rows does: fl_table_take of the vector column, exact distances. */
static int refine_rows(void *ctx, const float *query, const uint64_t *rows, size_t n, double *dist, fl_error *err) {
    pctx *p = ctx;
    (void)query;
    double s = now();
    const char *cols[] = {"v"};
    fl_batch *b = NULL;
    FL_RETURN_NOT_OK(fl_table_take(p->t, rows, n, cols, 1, &b, err));
    for (size_t i = 0; i < n; i++) {
        const float *v = (const float *)b->columns[0].children[0].values + i * (size_t)refine_dim;
        double acc = 0;
        for (int j = 0; j < refine_dim; j++) {
            double e = (double)v[j] - refine_q[j];
            acc += e * e;
        }
        dist[i] = acc;
    }
    fl_batch_free(b);
    refine_s += now() - s;
    return FL_OK;
}

/* A filter that keeps everything (to time the search without keep_row). */
static bool keep_all(void *ctx, uint64_t row) {
    (void)ctx, (void)row;
    return true;
}

static float l2sq8(const float *a, const float *b, int dim) {
    float s = 0;
    for (int i = 0; i < dim; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

enum { PH_TOTAL, PH_COPY, PH_SETUP, PH_IVF_FILTER, PH_KEEP, PH_REFINE, PH_PROJECT, PH_IVF_NOFILTER, PH_RANK, PH_QTABLE, PH_TABLES, PH_SCAN,
       PH_OLDTABLES, PH_TAKE_REF, PH_N };
static const char *ph_name[PH_N] = {
    "fl_vector_search, whole call",
    "instrumented copy, sum of the 3 phases below",
    "  1 coverage + index cache lookup (fl_index_coverage, fl_vindex_load)",
    "  2 fl_ivf_search with keep_row filter (+ refine callback if asked)",
    "      of which keep_row calls",
    "      of which the refine callback: fl_table_take of v + exact distances",
    "  3 projection: fl_table_take of id for the k results",
    "fl_ivf_search alone, filter keeps all, no refine",
    "  ~ rank all centroids (l2 to each, select nprobes)",
    "  ~ query table: fl_pq_ip_table x -2, once per query",
    "  ~ per probe: partition terms + query table (m x 256 adds)",
    "  ~ ADC scan: fl_pq_adc over the probed lists' lengths (no heap)",
    "reference: fl_pq_l2_table once per probe (ivf.c before 50c37cc)",
    "reference: fl_table_take of v for the k x refine best estimates (refine read from the table)",
};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int profile(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: vector_bench profile DB QUERIES DIM NQ NPROBES REFINE REPS\n");
        return 2;
    }
    const char *dbpath = argv[2];
    int dim = atoi(argv[4]), nq = atoi(argv[5]), nprobes = atoi(argv[6]), refine = atoi(argv[7]), reps = atoi(argv[8]);
    float *queries = read_f32(argv[3], (size_t)nq * (size_t)dim);
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(dbpath, 0, &db, &err) || fl_table_open(db, "vec", NULL, &t, &err)) die("open", &err);
    const fl_manifest *m = t->m;
    const fl_index_ref *x = NULL;
    for (uint32_t i = 0; i < m->n_indexes; i++)
        if (!strcmp(m->indexes[i].type, "ivf_pq")) x = &m->indexes[i];
    if (!x) die("no ivf_pq index", NULL);
    pctx p = {.t = t, .file_of = calloc(m->n_fragments + 1, sizeof(int32_t))};
    int nsamp = nq * reps;
    double *ph[PH_N];
    for (int i = 0; i < PH_N; i++) ph[i] = calloc((size_t)nsamp, sizeof(double));
    long keep_calls = 0;
    double scanned = 0;
    refine_dim = dim;
    int64_t ids[K];
    for (int w = 0; w < 10; w++) search(t, queries + (size_t)(w % nq) * dim, dim, nprobes, refine, ids);
    fl_ixcache_ref ref;
    if (fl_index_coverage(t, x, p.file_of, &err) || fl_vindex_load(t, x->files[0], &ref, &err)) die("load", &err);
    const fl_ivf *ivf = ref.obj;
    const fl_pq *pq = fl_ivf_pq(ivf);
    int P = fl_ivf_partitions(ivf), M = pq->m, dsub = pq->dsub;
    const float *cent = fl_ivf_centroids(ivf);
    fprintf(stderr, "profile: %u index file(s), %u fragments, %d partitions, m %d, dsub %d; nprobes %d refine %d, %d samples\n", x->n_files,
            m->n_fragments, P, M, dsub, nprobes, refine, nsamp);
    float *table = malloc((size_t)M * 256 * sizeof *table), *res = malloc((size_t)dim * sizeof *res), *est = malloc(256 * sizeof *est);
    struct { float d; int p; } *pr = malloc((size_t)P * sizeof *pr);
    /* the lists' codes are private to ivf.c: the scans run over synthetic codes of the same list lengths */
    size_t max_len = 0;
    for (int c = 0; c < P; c++)
        if (fl_ivf_partition_count(ivf, c) > max_len) max_len = fl_ivf_partition_count(ivf, c);
    uint8_t *codes = malloc(max_len * (size_t)M + 1);
    for (size_t z = 0; z < max_len * (size_t)M; z++) codes[z] = (uint8_t)((z * 2654435761u) >> 13);
    /* stand-ins for the per-partition term tables a precomputed-table IVF-PQ stores (P x m x 256 floats) */
    float *terms = malloc((size_t)P * M * 256 * sizeof *terms), *qtab = malloc((size_t)M * 256 * sizeof *qtab);
    for (size_t z = 0; z < (size_t)P * M * 256; z++) terms[z] = (float)(z % 97);
    fl_ivf_hit hits[K];
    int s = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < reps; rep++)
        for (int q = 0; q < nq; q++, s++) {
            const float *qv = queries + (size_t)q * dim;
            /* the API call runs another query than the copy, so neither finds the other's pages in the data
             * files' page caches (a refine reads k x refine random rows of the vector column) */
            double a = now();
            search(t, queries + (size_t)((q + nq / 2) % nq) * dim, dim, nprobes, refine, ids);
            ph[PH_TOTAL][s] = now() - a;

            /* the instrumented copy of the indexed path */
            a = now();
            fl_index_coverage(t, x, p.file_of, &err);
            fl_ixcache_ref r2;
            if (fl_vindex_load(t, x->files[0], &r2, &err)) die("load", &err);
            ph[PH_SETUP][s] = now() - a;
            p.file = 0, p.keep_calls = 0, p.keep_s = 0, refine_s = 0, refine_q = qv;
            fl_ivf_filter keep = {keep_row, &p};
            int nh = 0;
            a = now();
            if (fl_ivf_search(ivf, qv, K, nprobes, refine, &keep, refine ? refine_rows : NULL, &p, hits, &nh, &err)) die("ivf search", &err);
            ph[PH_IVF_FILTER][s] = now() - a;
            ph[PH_KEEP][s] = p.keep_s;
            ph[PH_REFINE][s] = refine_s;
            keep_calls += p.keep_calls;
            a = now();
            uint64_t rid[K];
            for (int i = 0; i < nh; i++) rid[i] = hits[i].row_id;
            const char *cols[] = {"id"};
            fl_batch *b;
            if (fl_table_take(t, rid, (size_t)nh, cols, 1, &b, &err)) die("take", &err);
            fl_batch_free(b);
            ph[PH_PROJECT][s] = now() - a;
            fl_ixcache_release(&r2);
            ph[PH_COPY][s] = ph[PH_SETUP][s] + ph[PH_IVF_FILTER][s] + ph[PH_PROJECT][s];

            /* fl_ivf_search alone, and its parts rebuilt from the public pieces */
            fl_ivf_filter all = {keep_all, NULL};
            a = now();
            if (fl_ivf_search(ivf, qv, K, nprobes, 0, &all, NULL, NULL, hits, &nh, &err)) die("ivf search", &err);
            ph[PH_IVF_NOFILTER][s] = now() - a;
            if (refine) {
                /* what re-ranking costs when it reads the table: the k x refine best estimates' vectors */
                static fl_ivf_hit many[K * 1000];
                int nm = 0;
                if (fl_ivf_search(ivf, qv, K * refine, nprobes, 0, &all, NULL, NULL, many, &nm, &err)) die("ivf search", &err);
                uint64_t rows[K * 1000];
                for (int i = 0; i < nm; i++) rows[i] = many[i].row_id;
                qsort(rows, (size_t)nm, sizeof *rows, cmp_u64);
                const char *vcol[] = {"v"};
                fl_batch *vb;
                a = now();
                if (fl_table_take(t, rows, (size_t)nm, vcol, 1, &vb, &err)) die("take", &err);
                ph[PH_TAKE_REF][s] = now() - a;
                fl_batch_free(vb);
            }
            a = now();
            for (int c = 0; c < P; c++) pr[c].d = l2sq8(qv, cent + (size_t)c * dim, dim), pr[c].p = c;
            for (int i = 0; i < nprobes && i < P; i++) {
                int bi = i;
                for (int j = i + 1; j < P; j++)
                    if (pr[j].d < pr[bi].d) bi = j;
                float td = pr[i].d;
                int tp = pr[i].p;
                pr[i] = pr[bi];
                pr[bi].d = td, pr[bi].p = tp;
            }
            ph[PH_RANK][s] = now() - a;
            for (int i = 0; i < nprobes && i < P; i++) scanned += (double)fl_ivf_partition_count(ivf, pr[i].p);
            /* the precomputed-table path of ivf.c (50c37cc): one -2 q.cw table per query, per probe one add
             * of the partition's stored m x 256 terms (private to ivf.c: a stand-in array of the same size) */
            a = now();
            fl_pq_ip_table(pq, qv, qtab);
            for (int j = 0; j < M * 256; j++) qtab[j] *= -2.0f;
            ph[PH_QTABLE][s] = now() - a;
            for (int i = 0; i < nprobes && i < P; i++) {
                a = now();
                const float *term = terms + (size_t)pr[i].p * M * 256;
                for (int j = 0; j < M * 256; j++) table[j] = term[j] + qtab[j];
                ph[PH_TABLES][s] += now() - a;
                size_t len = fl_ivf_partition_count(ivf, pr[i].p);
                a = now();
                for (size_t b0 = 0; b0 < len; b0 += 256) {
                    size_t nb = len - b0 < 256 ? len - b0 : 256;
                    fl_pq_adc(table, M, codes + b0 * (size_t)M, nb, est);
                    sink += est[nb - 1];
                }
                ph[PH_SCAN][s] += now() - a;
                /* what each probe cost before: the residual's l2 table */
                const float *c = cent + (size_t)pr[i].p * dim;
                a = now();
                for (int j = 0; j < dim; j++) res[j] = qv[j] - c[j];
                fl_pq_l2_table(pq, res, table);
                ph[PH_OLDTABLES][s] += now() - a;
                sink += table[i];
            }
        }
    printf("phase\tmedian_ms\tmean_ms\n");
    for (int i = 0; i < PH_N; i++) {
        if (i == PH_TAKE_REF && !refine) continue;
        double mean = 0;
        for (int j = 0; j < nsamp; j++) mean += ph[i][j];
        mean /= nsamp;
        printf("%s\t%.4f\t%.4f\n", ph_name[i], median(ph[i], nsamp) * 1e3, mean * 1e3);
    }
    printf("keep_row calls per query\t%.1f\n", (double)keep_calls / nsamp);
    printf("codes scanned per query (sum of the probed lists)\t%.0f\n", scanned / nsamp);
    size_t *sizes = malloc((size_t)P * sizeof *sizes), total = 0;
    for (int c = 0; c < P; c++) total += sizes[c] = fl_ivf_partition_count(ivf, c);
    double imb = 0;
    for (int c = 0; c < P; c++) imb += (double)sizes[c] * sizes[c];
    imb = imb * P / ((double)total * total);
    size_t mn = SIZE_MAX, mx = 0;
    for (int c = 0; c < P; c++) mn = sizes[c] < mn ? sizes[c] : mn, mx = sizes[c] > mx ? sizes[c] : mx;
    printf("list sizes: min / mean / max, imbalance (FAISS's: P x sum n^2 / N^2)\t%zu / %.0f / %zu, %.2f\n", mn, (double)total / P, mx, imb);
    if (refine) {
        double r = 0, tr = 0;
        for (int j = 0; j < nsamp; j++) r += ph[PH_REFINE][j], tr += ph[PH_TAKE_REF][j];
        printf("refine from\t%s\n", r > 0 ? "the table (refine callback)" : "the index's stored vectors (in memory)");
        printf("table read per refined row (mean, us)\t%.1f\n", tr / nsamp * 1e6 / ((double)K * refine));
    }
    fl_ixcache_release(&ref);
    fl_table_close(t);
    fl_db_close(db);
    (void)sink;
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "run")) return run(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "profile")) return profile(argc, argv);
    fprintf(stderr, "usage: vector_bench run|profile ...\n");
    return 2;
}
