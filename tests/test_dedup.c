/*
 * test_dedup.c — near duplicates: the multi-index Hamming search equals brute force on random and
 * clustered hashes at every radius; the is_duplicate and duplicate_of UDF columns and fl_dedup_find equal
 * the rule computed by brute force here (a frame is a duplicate when a smaller row id lies within the
 * threshold), on synthetic clips and on injected exact copies (every copy flagged), incrementally after
 * new footage; the threshold parameter; errors.
 */
#include "testlib.h"

#include "common/common.h"
#include "compute/udf.h"
#include "search/hamming.h"

#include <stdlib.h>

static bool collect(void *ctx, uint64_t id, uint64_t hash, int d) {
    fl_buf *b = ctx;
    (void)hash;
    uint64_t rec[2] = {id, (uint64_t)d};
    fl_buf_append(b, rec, sizeof rec);
    return true;
}

static bool stop_at_first(void *ctx, uint64_t id, uint64_t hash, int d) {
    (void)id, (void)hash, (void)d;
    ++*(int *)ctx;
    return false;
}

static int cmp_rec(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void test_hamming_vs_brute_force(void) {
    enum { N = 6000 };
    uint64_t *h = malloc(N * sizeof *h), *ids = malloc(N * sizeof *ids), st = 12345;
    for (int i = 0; i < N; i++) {
        ids[i] = 1000 + (uint64_t)i * 3;
        if (i < N / 2) h[i] = tl_rand(&st);
        else { /* clusters: a centre with a few flipped bits */
            uint64_t centre = h[tl_rand(&st) % 50];
            int flips = (int)(tl_rand(&st) % 14);
            for (int k = 0; k < flips; k++) centre ^= 1ULL << (tl_rand(&st) % 64);
            h[i] = centre;
        }
    }
    fl_hamming_index *ix;
    CHECK_OK(fl_hamming_build(h, ids, N, &ix));
    CHECK_EQ_INT(fl_hamming_size(ix), N);
    int checked = 0;
    for (int q = 0; q < 200; q++) {
        uint64_t query = q % 2 ? tl_rand(&st) : h[tl_rand(&st) % N] ^ (1ULL << (q % 64));
        int radius = q % 17;
        fl_buf got;
        fl_buf_init(&got);
        fl_hamming_search(ix, query, radius, collect, &got);
        size_t n_got = got.size / 16;
        if (n_got > 1) qsort(got.data, n_got, 16, cmp_rec);
        size_t k = 0;
        bool same = true;
        for (int i = 0; i < N; i++) {
            int d = __builtin_popcountll(h[i] ^ query);
            if (d > radius) continue;
            const uint64_t *rec = (const uint64_t *)got.data + 2 * k;
            same = same && k < n_got && rec[0] == ids[i] && rec[1] == (uint64_t)d;
            k++;
        }
        CHECK(same && k == n_got);
        checked += (int)k;
        fl_buf_free(&got);
    }
    CHECK(checked > 500); /* the clustered half gives real neighbours */
    /* early stop: a callback returning false ends the search after one hit */
    int hits = 0;
    fl_hamming_search(ix, h[N - 1], 64, stop_at_first, &hits);
    CHECK_EQ_INT(hits, 1);
    fl_hamming_free(ix);
    free(h);
    free(ids);
}

/* Row ids and hashes of the table's dhash column, sorted by id. */
static size_t table_hashes(fl_db *db, uint64_t **h, uint64_t **ids) {
    size_t n;
    CHECK_OK(fl_dedup_load_hashes(db, "bdd100k", 0, "dhash", h, ids, &n, &tl_err));
    for (size_t i = 1; i < n; i++) CHECK((*ids)[i] > (*ids)[i - 1]);
    return n;
}

/* The rule by brute force: the smallest smaller id within t bits, or UINT64_MAX. */
static uint64_t earlier_within(const uint64_t *h, const uint64_t *ids, size_t i, int t) {
    for (size_t j = 0; j < i; j++)
        if (__builtin_popcountll(h[i] ^ h[j]) <= t) return ids[j];
    return UINT64_MAX;
}

/* Checks is_duplicate and duplicate_of (columns `dup`, `of`) against brute force. */
static void check_columns(fl_db *db, const char *dup, const char *of, int t) {
    uint64_t *h, *ids;
    size_t n = table_hashes(db, &h, &ids);
    fl_table *tb;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &tb, &tl_err));
    const char *cols[] = {dup, of};
    fl_batch *b = NULL;
    CHECK_OK(fl_table_take(tb, ids, n, cols, 2, &b, &tl_err));
    int mismatches = 0;
    for (size_t i = 0; b && i < n; i++) {
        uint64_t e = earlier_within(h, ids, i, t);
        bool want = e != UINT64_MAX;
        if (fl_array_is_null(&b->columns[0], (int64_t)i) || fl_array_get_bool(&b->columns[0], (int64_t)i) != want) mismatches++;
        if (want ? fl_array_is_null(&b->columns[1], (int64_t)i) || (uint64_t)fl_array_get_int(&b->columns[1], (int64_t)i) != e
                 : !fl_array_is_null(&b->columns[1], (int64_t)i))
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    fl_batch_free(b);
    fl_table_close(tb);
    free(h);
    free(ids);
}

static void test_udf_columns(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("dedup"), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = 150, .width = 320, .height = 180, .split = FL_SYNTHETIC_MIXED};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "dhash", "dhash", NULL, &tl_err));
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "dup", "is_duplicate", &(fl_udf_column_options){.inputs = "dhash"}, &tl_err));
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "of", "duplicate_of", &(fl_udf_column_options){.inputs = "dhash"}, &tl_err));
    const char *k0[] = {"threshold"}, *v0[] = {"0"};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "exact", "is_duplicate",
                                     &(fl_udf_column_options){.inputs = "dhash", .param_keys = k0, .param_values = v0, .n_params = 1}, &tl_err));
    CHECK_OK(fl_backfill_all(db, "bdd100k", &(fl_backfill_options){.concurrency = 2, .checkpoint_rows = 40}, NULL, NULL, &tl_err));
    check_columns(db, "dup", "of", 10);
    /* injected exact copies: every one flagged, also at threshold 0 */
    int64_t added = 0;
    CHECK_OK(fl_dedup_inject(db, "bdd100k", 25, 7, &added, &tl_err));
    CHECK_EQ_INT(added, 25);
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "dhash", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 25);
    CHECK_OK(fl_backfill(db, "bdd100k", "dup", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 25); /* only the new rows: older answers cannot change */
    CHECK_OK(fl_backfill_all(db, "bdd100k", NULL, NULL, NULL, &tl_err));
    check_columns(db, "dup", "of", 10);
    fl_table *t;
    int64_t copies = -1, flagged = -1, exact = -1;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_count_where(t, "image_id LIKE '%-copy-%'", &copies, &tl_err));
    CHECK_OK(fl_table_count_where(t, "image_id LIKE '%-copy-%' AND dup AND exact", &flagged, &tl_err));
    CHECK_OK(fl_table_count_where(t, "exact", &exact, &tl_err));
    fl_table_close(t);
    CHECK_EQ_INT(copies, 25);
    CHECK_EQ_INT(flagged, 25);
    CHECK(exact >= 25); /* threshold 0: the copies at least */
    /* fl_dedup_find agrees with the column, and each duplicate's group is kept by a non-duplicate */
    fl_dedup_result d;
    CHECK_OK(fl_dedup_find(db, "bdd100k", NULL, 10, &d, &tl_err));
    CHECK_EQ_INT(d.hashed, 175);
    int64_t dups = -1;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_count_where(t, "dup", &dups, &tl_err));
    CHECK_EQ_INT(d.duplicates, dups);
    CHECK(d.groups > 0 && d.groups < d.duplicates);
    fl_batch *kept = NULL;
    const char *cols[] = {"dup"};
    CHECK_OK(fl_table_take(t, d.kept_ids, (size_t)d.duplicates, cols, 1, &kept, &tl_err));
    for (int64_t i = 0; kept && i < kept->num_rows; i++) CHECK(!fl_array_get_bool(&kept->columns[0], i));
    for (int64_t i = 0; i < d.duplicates; i++) CHECK(d.kept_ids[i] < d.duplicate_ids[i]);
    fl_batch_free(kept);
    fl_table_close(t);
    fl_dedup_result_free(&d);
    /* errors */
    fl_error err = {0};
    const char *kb[] = {"threshold"}, *vb[] = {"99"};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "bad", "is_duplicate",
                                     &(fl_udf_column_options){.inputs = "dhash", .param_keys = kb, .param_values = vb, .n_params = 1}, &tl_err));
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "bad", NULL, NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill bad: threshold must be an integer 0..64 (bits), not '99'");
    CHECK_EQ_INT(fl_dedup_find(db, "bdd100k", "split", 10, &d, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "column 'split' is not a 64-bit hash (fixed_size_list<uint8, 8>)");
    CHECK_EQ_INT(fl_dedup_find(db, "bdd100k", NULL, 65, &d, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_dedup_inject(db, "bdd100k", 0, 1, NULL, &err), FL_EINVAL);
    fl_db_close(db);
}

int main(void) {
    RUN(test_hamming_vs_brute_force);
    RUN(test_udf_columns);
    return tl_finish("test_dedup");
}
