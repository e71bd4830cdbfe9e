/*
 * test_vector.c — exact vector search (fl_vector_search): results equal a brute force computed here for
 * l2, cosine and dot on float vectors and hamming on bytes (same row ids in the same order, same
 * float32 distances), the prefilter returns exactly k rows whenever k match, --like-row leaves the row out,
 * distance ranges, projections, and clear errors for wrong dimensions, types, metrics and columns.
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"

#include <math.h>
#include <stdlib.h>

enum { ROWS = 500, DIM = 8 };
static float vecs[ROWS][DIM];
static uint8_t hashes[ROWS][8];

static fl_table *vector_table(fl_db *db) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, grp string, v fixed_size_list<float32, 8>, h fixed_size_list<uint8, 8>", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "vt", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    uint64_t st = 99;
    for (int i = 0; i < ROWS; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(fl_array_append_string(&b->columns[1], i % 3 == 0 ? "a" : "b"));
        int centre = (int)(tl_rand(&st) % 5);
        for (int k = 0; k < DIM; k++) {
            vecs[i][k] = (float)(centre * 3 + k % 2) + (float)((double)(tl_rand(&st) % 1000) / 1000.0 - 0.5);
            CHECK_OK(fl_array_append_float(&b->columns[2].children[0], vecs[i][k]));
        }
        CHECK_OK(fl_array_end_list(&b->columns[2]));
        for (int k = 0; k < 8; k++) {
            hashes[i][k] = (uint8_t)tl_rand(&st);
            CHECK_OK(fl_array_append_uint(&b->columns[3].children[0], hashes[i][k]));
        }
        CHECK_OK(fl_array_end_list(&b->columns[3]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
    return t;
}

static double ref_distance(int metric, int i, const float *q, const uint8_t *qb) {
    double s = 0, a = 0, b = 0;
    for (int k = 0; k < DIM; k++) {
        if (metric == FL_METRIC_HAMMING) {
            s += __builtin_popcount((unsigned)(hashes[i][k] ^ qb[k]));
            continue;
        }
        if (metric == FL_METRIC_L2) s += ((double)vecs[i][k] - q[k]) * ((double)vecs[i][k] - q[k]);
        else s += (double)vecs[i][k] * q[k];
        a += (double)vecs[i][k] * vecs[i][k];
        b += (double)q[k] * q[k];
    }
    if (metric == FL_METRIC_DOT) return 1.0 - s;
    if (metric == FL_METRIC_COSINE) return 1.0 - s / (sqrt(a) * sqrt(b));
    return s;
}

typedef struct ref {
    double d;
    int id;
} ref;

static int cmp_ref(const void *x, const void *y) {
    const ref *a = x, *b = y;
    return a->d < b->d ? -1 : a->d > b->d ? 1 : a->id - b->id;
}

/* The search's ids and distances equal the brute force's top k (rows where keep(i)). */
static void check_search(fl_table *t, int metric, const float *q, const uint8_t *qb, int64_t k, const char *where, bool (*keep)(int), int skip) {
    fl_vector_query vq = {.column = metric == FL_METRIC_HAMMING ? "h" : "v", .metric = metric, .k = k, .where = where};
    if (skip >= 0) {
        vq.like_row = true;
        vq.row_id = (uint64_t)skip;
    } else if (metric == FL_METRIC_HAMMING) {
        vq.bits = qb;
        vq.n_bytes = 8;
    } else {
        vq.vector = q;
        vq.dim = DIM;
    }
    const char *cols[] = {"id"};
    vq.columns = cols;
    vq.n_columns = 1;
    fl_batch *b = NULL;
    CHECK_OK(fl_vector_search(t, &vq, &b, &tl_err));
    ref all[ROWS];
    int n = 0;
    for (int i = 0; i < ROWS; i++)
        if ((!keep || keep(i)) && i != skip) all[n++] = (ref){(float)ref_distance(metric, i, q, qb), i};
    qsort(all, (size_t)n, sizeof *all, cmp_ref);
    int64_t want = k < n ? k : n;
    CHECK(b && b->num_rows == want);
    for (int64_t i = 0; b && i < b->num_rows && i < want; i++) {
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], i), all[i].id);
        CHECK_EQ_INT((int64_t)b->row_ids[i], all[i].id);
        CHECK(fl_array_get_float(&b->columns[1], i) == (float)all[i].d);
        CHECK_EQ_INT((int64_t)fl_array_get_uint(&b->columns[2], i), all[i].id);
    }
    fl_batch_free(b);
}

static bool group_a(int i) { return i % 3 == 0; }

static void test_exact_search(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("vector"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = vector_table(db);
    float q[DIM] = {3, 4, 3, 4, 3, 4, 3, 4};
    uint8_t qb[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int m = FL_METRIC_L2; m <= FL_METRIC_DOT; m++) {
        check_search(t, m, q, NULL, 10, NULL, NULL, -1);
        check_search(t, m, q, NULL, 7, "grp = 'a'", group_a, -1); /* prefilter: exactly k of the matching rows */
        check_search(t, m, vecs[17], NULL, 5, NULL, NULL, 17);      /* like-row: the row itself left out */
    }
    check_search(t, FL_METRIC_HAMMING, NULL, qb, 12, NULL, NULL, -1);
    check_search(t, FL_METRIC_HAMMING, NULL, hashes[3], 4, "grp = 'a'", group_a, 3);
    check_search(t, FL_METRIC_L2, q, NULL, 1000, NULL, NULL, -1); /* k above the rows: every row */
    /* a prefilter matching fewer than k rows gives those rows */
    fl_vector_query few = {.column = "v", .vector = q, .dim = DIM, .metric = -1, .k = 50, .where = "id < 5"};
    fl_batch *b = NULL;
    CHECK_OK(fl_vector_search(t, &few, &b, &tl_err));
    CHECK_EQ_INT(b->num_rows, 5);
    fl_batch_free(b);
    /* distance range */
    fl_vector_query rq = {.column = "h", .bits = qb, .n_bytes = 8, .metric = -1, .k = 1000, .has_range = true, .min_distance = 20, .max_distance = 30};
    CHECK_OK(fl_vector_search(t, &rq, &b, &tl_err));
    int inside = 0;
    for (int i = 0; i < ROWS; i++) {
        double d = ref_distance(FL_METRIC_HAMMING, i, NULL, qb);
        inside += d >= 20 && d < 30;
    }
    CHECK_EQ_INT(b->num_rows, inside);
    for (int64_t i = 0; i < b->num_rows; i++) CHECK(fl_array_get_float(&b->columns[b->n_columns - 2], i) >= 20);
    fl_batch_free(b);
    /* errors */
    fl_error err = {0};
    fl_vector_query bad = {.column = "v", .vector = q, .dim = 3, .metric = -1};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "vector search: the query has 3 dimensions, column 'v' has 8");
    bad = (fl_vector_query){.column = "grp", .vector = q, .dim = DIM, .metric = -1};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_ETYPE);
    bad = (fl_vector_query){.column = "nope", .vector = q, .dim = DIM, .metric = -1};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_ENOTFOUND);
    bad = (fl_vector_query){.column = "v", .vector = q, .dim = DIM, .metric = FL_METRIC_HAMMING};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "vector search: metric hamming does not apply to column 'v' (float vectors)");
    bad = (fl_vector_query){.column = "v", .like_row = true, .row_id = 99999, .metric = -1};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_ENOTFOUND);
    bad = (fl_vector_query){.column = "v", .vector = q, .dim = DIM, .metric = -1, .where = "idd = 1"};
    CHECK_EQ_INT(fl_vector_search(t, &bad, &b, &err), FL_EINVAL);
    fl_table_close(t);
    fl_db_close(db);
}

int main(void) {
    RUN(test_exact_search);
    return tl_finish("test_vector");
}
