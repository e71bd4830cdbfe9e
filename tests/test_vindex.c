/*
 * test_vindex.c — vector indexes on tables (ivf_flat, ivf_pq through fl_index_create_with and
 * fl_vector_search): ivf_flat probing every partition equals the exact search (ids and float32 distances)
 * for l2, cosine and dot, with and without a prefilter; ivf_pq recall@10 against the exact search on
 * clustered data; a prefilter returns exactly k rows whenever k match; rows appended after the build are
 * found (searched exactly, then through an update that reuses the model); deleted rows never come back;
 * postfilter semantics; a damaged index file is reported; bad parameters and columns are clear errors;
 * hamming indexes (nearest and radius queries equal the exact search, with prefilters, appends, deletions).
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "index/cache.h"
#include "table/table.h"

#include <math.h>
#include <stdlib.h>

enum { DIM = 16, CLUSTERS = 24 };

static float centres[CLUSTERS][DIM];

/* n rows (id = row id, grp = id % 5, v = a clustered vector), appended as one fragment. */
static void append_vectors(fl_table *t, int first, int n, uint64_t *st) {
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    for (int i = first; i < first + n; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(fl_array_append_int(&b->columns[1], i % 5));
        int c = (int)(tl_rand(st) % CLUSTERS);
        for (int k = 0; k < DIM; k++) {
            double noise = ((double)(tl_rand(st) % 2001) / 1000.0 - 1.0) * 1.5;
            CHECK_OK(fl_array_append_float(&b->columns[2].children[0], centres[c][k] + noise));
        }
        CHECK_OK(fl_array_end_list(&b->columns[2]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
}

static fl_table *vector_table(fl_db *db, const char *name, int rows, int fragments, uint64_t *st) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, grp int64, v fixed_size_list<float32, 16>", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, name, s, &t, &tl_err));
    fl_schema_free(s);
    for (int f = 0; f < fragments; f++) append_vectors(t, f * (rows / fragments), rows / fragments, st);
    return t;
}

static void query_vector(uint64_t *st, float *q) {
    int c = (int)(tl_rand(st) % CLUSTERS);
    for (int k = 0; k < DIM; k++) q[k] = centres[c][k] + (float)((double)(tl_rand(st) % 2001) / 1000.0 - 1.0);
}

typedef struct res {
    int n;
    uint64_t ids[100];
    float d[100];
} res;

static int search(fl_table *t, const fl_vector_query *base, const float *q, int k, res *r) {
    fl_vector_query vq = *base;
    const char *cols[] = {"id"};
    vq.column = "v";
    vq.vector = q;
    vq.dim = DIM;
    vq.k = k;
    vq.columns = cols;
    vq.n_columns = 1;
    fl_batch *b = NULL;
    memset(r, 0, sizeof *r);
    int rc = fl_vector_search(t, &vq, &b, &tl_err);
    if (rc != FL_OK) return rc;
    r->n = (int)b->num_rows;
    for (int i = 0; i < r->n && i < 100; i++) {
        r->ids[i] = fl_array_get_uint(&b->columns[2], i);
        r->d[i] = (float)fl_array_get_float(&b->columns[1], i);
    }
    fl_batch_free(b);
    return FL_OK;
}

static void check_equal(const res *a, const res *b) {
    CHECK_EQ_INT(a->n, b->n);
    for (int i = 0; i < a->n && i < b->n; i++) {
        CHECK_EQ_INT(a->ids[i], b->ids[i]);
        CHECK(a->d[i] == b->d[i]);
    }
}

static void init_centres(void) {
    uint64_t st = 7;
    for (int c = 0; c < CLUSTERS; c++)
        for (int k = 0; k < DIM; k++) centres[c][k] = (float)((double)(tl_rand(&st) % 20001) / 1000.0 - 10.0);
}

/* ivf_flat probing every partition is the exact search, bit for bit. */
static void test_flat_equals_exact(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vindex_flat"), FL_OPEN_CREATE, &db, &tl_err));
    uint64_t st = 11;
    fl_table *t = vector_table(db, "vt", 3000, 3, &st);
    static const char *const metrics[] = {"l2", "cosine", "dot"};
    for (int m = 0; m < 3; m++) {
        char name[32];
        snprintf(name, sizeof name, "flat_%s", metrics[m]);
        fl_kv params[] = {{"metric", (char *)metrics[m]}, {"partitions", "12"}};
        CHECK_OK(fl_index_create_with(t, "v", "ivf_flat", name, params, 2, &tl_err));
        for (int i = 0; i < 10; i++) {
            float q[DIM];
            query_vector(&st, q);
            fl_vector_query base = {.metric = m, .nprobes = 12};
            res viaindex, exact;
            base.where = i % 2 ? "grp = 3" : NULL;
            CHECK_OK(search(t, &base, q, 10, &viaindex));
            base.exact = true;
            CHECK_OK(search(t, &base, q, 10, &exact));
            CHECK_EQ_INT(exact.n, 10);
            check_equal(&viaindex, &exact);
        }
    }
    fl_table_close(t);
    fl_db_close(db);
}

static double recall(const res *got, const res *truth) {
    int hit = 0;
    for (int i = 0; i < got->n; i++)
        for (int j = 0; j < truth->n; j++) hit += got->ids[i] == truth->ids[j];
    return truth->n ? (double)hit / truth->n : 1.0;
}

static void test_pq_recall_and_freshness(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vindex_pq"), FL_OPEN_CREATE, &db, &tl_err));
    uint64_t st = 23;
    fl_table *t = vector_table(db, "vt", 8000, 2, &st);
    fl_kv params[] = {{"partitions", "32"}, {"sub_vectors", "8"}};
    CHECK_OK(fl_index_create_with(t, "v", "ivf_pq", NULL, params, 2, &tl_err));
    double sum = 0, sum_refined = 0;
    enum { Q = 20 };
    for (int i = 0; i < Q; i++) {
        float q[DIM];
        query_vector(&st, q);
        res approx, refined, exact;
        fl_vector_query base = {.metric = -1, .nprobes = 8};
        CHECK_OK(search(t, &base, q, 10, &approx));
        base.refine_factor = 5;
        CHECK_OK(search(t, &base, q, 10, &refined));
        base.exact = true;
        CHECK_OK(search(t, &base, q, 10, &exact));
        sum += recall(&approx, &exact);
        sum_refined += recall(&refined, &exact);
        /* refined distances are exact ones */
        for (int k = 0; k < refined.n; k++)
            for (int j = 0; j < exact.n; j++)
                if (refined.ids[k] == exact.ids[j]) CHECK(refined.d[k] == exact.d[j]);
    }
    fprintf(stderr, "  ivf_pq recall@10: %.3f, refined x5: %.3f\n", sum / Q, sum_refined / Q);
    CHECK(sum / Q >= 0.6);
    CHECK(sum_refined / Q >= 0.9);
    /* A row appended after the build is found by the exact search of its fragment. */
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    float probe[DIM];
    for (int k = 0; k < DIM; k++) probe[k] = 50.0f + (float)k; /* far from every cluster */
    CHECK_OK(fl_array_append_int(&b->columns[0], 8000));
    CHECK_OK(fl_array_append_int(&b->columns[1], 0));
    for (int k = 0; k < DIM; k++) CHECK_OK(fl_array_append_float(&b->columns[2].children[0], probe[k]));
    CHECK_OK(fl_array_end_list(&b->columns[2]));
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    res r;
    fl_vector_query base = {.metric = -1};
    CHECK_OK(search(t, &base, probe, 1, &r));
    CHECK(r.n == 1 && r.ids[0] == 8000 && r.d[0] == 0);
    /* After an update (a second file, encoded with the same model) it comes from the index. */
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    CHECK_EQ_INT(t->m->indexes[0].n_files, 2);
    base.refine_factor = 2;
    CHECK_OK(search(t, &base, probe, 1, &r));
    CHECK(r.n == 1 && r.ids[0] == 8000 && r.d[0] == 0);
    /* Deleted rows never come back. */
    uint64_t gone = 8000;
    CHECK_OK(fl_table_delete_rows(t, &gone, 1, &tl_err));
    CHECK_OK(search(t, &base, probe, 1, &r));
    CHECK(r.n == 1 && r.ids[0] != 8000);
    fl_table_close(t);
    fl_db_close(db);
}

/* A prefilter returns exactly k rows whenever k rows match, however few of them the probed partitions
 * hold; a postfilter filters the index's k results. */
static void test_prefilter_postfilter(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vindex_filter"), FL_OPEN_CREATE, &db, &tl_err));
    uint64_t st = 31;
    fl_table *t = vector_table(db, "vt", 4000, 1, &st);
    fl_kv params[] = {{"partitions", "40"}};
    CHECK_OK(fl_index_create_with(t, "v", "ivf_flat", NULL, params, 1, &tl_err));
    float q[DIM];
    query_vector(&st, q);
    res r, exact;
    fl_vector_query base = {.metric = -1, .nprobes = 1, .where = "id % 500 = 7"}; /* 8 rows, scattered */
    CHECK_OK(search(t, &base, q, 8, &r));
    CHECK_EQ_INT(r.n, 8);
    base.exact = true;
    CHECK_OK(search(t, &base, q, 8, &exact));
    check_equal(&r, &exact);
    base.exact = false;
    CHECK_OK(search(t, &base, q, 20, &r)); /* fewer match than asked: all of them */
    CHECK_EQ_INT(r.n, 8);
    base.where = "id < 0";
    CHECK_OK(search(t, &base, q, 5, &r));
    CHECK_EQ_INT(r.n, 0);
    /* Postfilter: the 10 nearest first, then the filter. */
    base.where = "grp = 1";
    base.postfilter = true;
    base.nprobes = 40;
    res post, nearest;
    CHECK_OK(search(t, &base, q, 10, &post));
    fl_vector_query plain = {.metric = -1, .nprobes = 40};
    CHECK_OK(search(t, &plain, q, 10, &nearest));
    int want = 0;
    for (int i = 0; i < nearest.n; i++) want += nearest.ids[i] % 5 == 1;
    CHECK_EQ_INT(post.n, want);
    CHECK(post.n < 10);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_errors(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vindex_err"), FL_OPEN_CREATE, &db, &tl_err));
    uint64_t st = 41;
    fl_table *t = vector_table(db, "vt", 600, 1, &st);
    uint64_t v0 = fl_table_version(t);
    CHECK(fl_index_create(t, "grp", "ivf_pq", NULL, &tl_err) == FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 'vt': a ivf_pq index needs a fixed_size_list<float32, N> column; column 'grp' is int64");
    fl_kv bad_m[] = {{"sub_vectors", "5"}};
    CHECK(fl_index_create_with(t, "v", "ivf_pq", NULL, bad_m, 1, &tl_err) == FL_EINVAL);
    CHECK(strstr(tl_err.message, "vector index on 'v'") != NULL);
    fl_kv bad_metric[] = {{"metric", "hamming"}};
    CHECK(fl_index_create_with(t, "v", "ivf_flat", NULL, bad_metric, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "vector index: metric must be l2, cosine or dot, not 'hamming'");
    fl_kv bad_key[] = {{"nlist", "4"}};
    CHECK(fl_index_create_with(t, "v", "ivf_flat", NULL, bad_key, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "vector index: unknown parameter 'nlist' (use metric, partitions, sub_vectors or store_vectors)");
    fl_kv bad_store[] = {{"store_vectors", "maybe"}};
    CHECK(fl_index_create_with(t, "v", "ivf_pq", NULL, bad_store, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "vector index: store_vectors (true or false) goes with ivf_pq");
    /* Without stored vectors, re-ranking reads the table: still exact distances. */
    fl_table *u = vector_table(db, "nostore", 2000, 2, &st);
    fl_kv nostore[] = {{"partitions", "8"}, {"sub_vectors", "4"}, {"store_vectors", "false"}};
    CHECK_OK(fl_index_create_with(u, "v", "ivf_pq", NULL, nostore, 3, &tl_err));
    for (int i = 0; i < 5; i++) {
        float qq[DIM];
        query_vector(&st, qq);
        res refined, exact;
        fl_vector_query base = {.metric = -1, .nprobes = 8, .refine_factor = 50};
        CHECK_OK(search(u, &base, qq, 5, &refined));
        base.exact = true;
        CHECK_OK(search(u, &base, qq, 5, &exact));
        check_equal(&refined, &exact); /* every row re-ranked: the exact answer */
    }
    fl_table_close(u);
    fl_kv too_many[] = {{"partitions", "601"}};
    CHECK(fl_index_create_with(t, "v", "ivf_flat", NULL, too_many, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_INT(fl_table_version(t), v0); /* nothing committed */
    /* A damaged file is reported with its name. */
    fl_kv p[] = {{"partitions", "4"}};
    CHECK_OK(fl_index_create_with(t, "v", "ivf_flat", NULL, p, 1, &tl_err));
    char *path = fl_table_path(t, t->m->indexes[0].files[0]);
    uint8_t *data;
    size_t size;
    CHECK_OK(fl_io_read_file(path, &data, &size, &tl_err));
    data[size / 2] ^= 0x10;
    CHECK_OK(fl_io_put_replace(path, data, size, false, &tl_err));
    fl_ixcache_clear();
    float q[DIM] = {0};
    res r;
    fl_vector_query base = {.metric = -1};
    CHECK(search(t, &base, q, 3, &r) == FL_ECORRUPT);
    CHECK(strstr(tl_err.message, path) != NULL);
    base.exact = true; /* the exact search does not read it */
    CHECK_OK(search(t, &base, q, 3, &r));
    CHECK_EQ_INT(r.n, 3);
    fl_free(data);
    fl_free(path);
    fl_table_close(t);
    fl_db_close(db);
}

/* hamming: nearest and radius queries through the index equal the exact search (ids, order, distances),
 * with a prefilter, across appends and deletions. */
static int hsearch(fl_table *t, const uint8_t *q, int k, bool exact, const char *where, double lo, double hi, res *r) {
    const char *cols[] = {"id"};
    fl_vector_query vq = {.column = "h", .bits = q, .n_bytes = 8, .metric = -1, .k = k, .exact = exact, .where = where,
                          .columns = cols, .n_columns = 1, .has_range = hi > 0, .min_distance = lo, .max_distance = hi};
    fl_batch *b = NULL;
    memset(r, 0, sizeof *r);
    int rc = fl_vector_search(t, &vq, &b, &tl_err);
    if (rc != FL_OK) return rc;
    r->n = (int)b->num_rows;
    for (int i = 0; i < r->n && i < 100; i++) {
        r->ids[i] = fl_array_get_uint(&b->columns[2], i);
        r->d[i] = (float)fl_array_get_float(&b->columns[1], i);
    }
    fl_batch_free(b);
    return FL_OK;
}

static void append_hashes(fl_table *t, int first, int n, uint64_t *st, uint8_t (*keep)[8]) {
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    uint8_t base[8] = {0};
    for (int i = first; i < first + n; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        /* runs of near-identical hashes: a fresh base every 10 rows, a few bits flipped otherwise */
        if (i % 10 == 0)
            for (int k = 0; k < 8; k++) base[k] = (uint8_t)tl_rand(st);
        uint8_t h[8];
        memcpy(h, base, 8);
        for (int f = (int)(tl_rand(st) % 6); f > 0; f--) h[tl_rand(st) % 8] ^= (uint8_t)(1u << (tl_rand(st) % 8));
        if (keep) memcpy(keep[i - first], h, 8);
        for (int k = 0; k < 8; k++) CHECK_OK(fl_array_append_uint(&b->columns[1].children[0], h[k]));
        CHECK_OK(fl_array_end_list(&b->columns[1]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
}

static void check_hamming_queries(fl_table *t, uint8_t (*queries)[8], int nq) {
    for (int i = 0; i < nq; i++) {
        res a, b;
        const char *where = i % 3 == 0 ? "id % 4 = 1" : NULL;
        CHECK_OK(hsearch(t, queries[i], 10, false, where, 0, 0, &a));
        CHECK_OK(hsearch(t, queries[i], 10, true, where, 0, 0, &b));
        CHECK_EQ_INT(a.n, 10);
        check_equal(&a, &b);
        CHECK_OK(hsearch(t, queries[i], 100, false, where, 0, 11, &a));
        CHECK_OK(hsearch(t, queries[i], 100, true, where, 0, 11, &b));
        CHECK(a.n >= 1 || where);
        check_equal(&a, &b);
        CHECK_OK(hsearch(t, queries[i], 100, false, NULL, 3, 20, &a));
        CHECK_OK(hsearch(t, queries[i], 100, true, NULL, 3, 20, &b));
        check_equal(&a, &b);
    }
}

static void test_hamming(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vindex_ham"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, h fixed_size_list<uint8, 8>", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "ht", s, &t, &tl_err));
    fl_schema_free(s);
    uint64_t st = 97;
    static uint8_t qs[30][8];
    append_hashes(t, 0, 3000, &st, NULL);
    append_hashes(t, 3000, 3000, &st, NULL);
    CHECK_OK(fl_index_create(t, "h", "hamming", NULL, &tl_err));
    /* queries: stored hashes of later rows (so near duplicates exist) */
    append_hashes(t, 6000, 30, &st, qs);
    check_hamming_queries(t, qs, 30); /* the last 30 rows are not covered: scanned */
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    check_hamming_queries(t, qs, 30);
    int64_t deleted;
    CHECK_OK(fl_table_delete_where(t, "id % 7 = 2", &deleted, &tl_err));
    check_hamming_queries(t, qs, 30);
    /* Only 8-byte hash columns. */
    fl_schema *s2;
    CHECK_OK(fl_schema_parse("id int64, h fixed_size_list<uint8, 4>", &s2, &tl_err));
    fl_table *u;
    CHECK_OK(fl_table_create(db, "short", s2, &u, &tl_err));
    fl_schema_free(s2);
    CHECK(fl_index_create(u, "h", "hamming", NULL, &tl_err) == FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 'short': a hamming index needs a fixed_size_list<uint8, 8> column (64-bit hashes); column 'h' is fixed_size_list<uint8, 4>");
    fl_kv p[] = {{"bands", "8"}};
    CHECK(fl_index_create_with(t, "h", "hamming", "x", p, 1, &tl_err) == FL_EINVAL);
    fl_table_close(u);
    fl_table_close(t);
    fl_db_close(db);
}

int main(void) {
    init_centres();
    RUN(test_flat_equals_exact);
    RUN(test_pq_recall_and_freshness);
    RUN(test_prefilter_postfilter);
    RUN(test_errors);
    RUN(test_hamming);
    return tl_finish("vindex");
}
