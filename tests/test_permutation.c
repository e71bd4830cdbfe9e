/*
 * test_permutation.c — permutations: determinism for a seed, exact split sizes, disjoint and covering
 * splits, hash splits that keep every row's split as the table grows, sequential and calculated splits,
 * clumped shuffles, save/load round trips, and errors.
 */
#include "testlib.h"

#include <stdint.h>

static fl_db *db;
static fl_table *t;

/* Rows id 0..n-1 (row id = id), name "img-<id>", flag id % 5 == 0, part "train"/"val"/"test" by id % 10. */
static void append(int64_t from, int64_t n) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64 not null, name string, flag bool, part string", &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    char name[32];
    for (int64_t i = from; i < from + n; i++) {
        fl_array_append_int(&b->columns[0], i);
        snprintf(name, sizeof name, "img-%lld", (long long)i);
        fl_array_append_string(&b->columns[1], name);
        fl_array_append_bool(&b->columns[2], i % 5 == 0);
        fl_array_append_string(&b->columns[3], i % 10 < 7 ? "train" : i % 10 < 9 ? "val" : "test");
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
}

static void setup(const char *tag, int64_t n) {
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir(tag), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("id int64 not null, name string, flag bool, part string", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "frames", s, &t, &tl_err));
    fl_schema_free(s);
    append(0, n);
}

static void teardown(void) {
    fl_table_close(t);
    fl_db_close(db);
}

static size_t count_split(const fl_permutation *p, int32_t split) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) n += p->split_ids[i] == split;
    return n;
}

static void test_plain_and_filter(void) {
    setup("perm-plain", 100);
    fl_permutation *p = NULL;
    CHECK_OK(fl_permutation_build(t, NULL, &p, &tl_err));
    if (p) {
        CHECK_EQ_INT(p->n, 100);
        CHECK_EQ_INT(p->n_splits, 1);
        CHECK_EQ_STR(p->split_names[0], "all");
        for (size_t i = 0; i < p->n; i++) CHECK_EQ_INT(p->row_ids[i], i);
        CHECK_EQ_STR(p->source, "frames");
        CHECK_EQ_INT(p->source_version, 2);
    }
    fl_permutation_free(p);
    fl_permutation_spec s = {.filter = "flag AND id < 50"};
    CHECK_OK(fl_permutation_build(t, &s, &p, &tl_err));
    if (p) {
        CHECK_EQ_INT(p->n, 10);
        for (size_t i = 0; i < p->n; i++) CHECK_EQ_INT(p->row_ids[i], i * 5);
    }
    fl_permutation_free(p);
    teardown();
}

static void test_random_split(void) {
    setup("perm-random", 1000);
    double ratios[2] = {0.8, 0.2};
    const char *names[2] = {"train", "val"};
    fl_permutation_spec s = {.split = FL_SPLIT_RANDOM, .ratios = ratios, .n_parts = 2, .split_names = names, .n_split_names = 2, .seed = 7};
    fl_permutation *a = NULL, *b = NULL;
    CHECK_OK(fl_permutation_build(t, &s, &a, &tl_err));
    CHECK_OK(fl_permutation_build(t, &s, &b, &tl_err));
    if (a && b) {
        CHECK_EQ_INT(a->n, 1000);
        CHECK_EQ_INT(count_split(a, 0), 800);
        CHECK_EQ_INT(count_split(a, 1), 200);
        CHECK(!memcmp(a->row_ids, b->row_ids, a->n * sizeof *a->row_ids) && !memcmp(a->split_ids, b->split_ids, a->n * sizeof *a->split_ids));
        /* Disjoint and covering: every row once. */
        uint8_t seen[1000] = {0};
        for (size_t i = 0; i < a->n; i++) seen[a->row_ids[i]]++;
        int once = 0;
        for (int i = 0; i < 1000; i++) once += seen[i] == 1;
        CHECK_EQ_INT(once, 1000);
        /* A split's rows, in order. */
        uint64_t *val;
        size_t n;
        CHECK_OK(fl_permutation_split_rows(a, "val", &val, &n, &tl_err));
        CHECK_EQ_INT(n, 200);
        free(val);
        fl_error e = {0};
        CHECK_EQ_INT(fl_permutation_split_rows(a, "test", &val, &n, &e), FL_ENOTFOUND);
        CHECK_EQ_STR(e.message, "permutation: no split 'test' (splits: train, val)");
    }
    fl_permutation_free(b);
    /* Another seed: another assignment of the same sizes. */
    s.seed = 8;
    CHECK_OK(fl_permutation_build(t, &s, &b, &tl_err));
    if (a && b) {
        CHECK_EQ_INT(count_split(b, 1), 200);
        CHECK(memcmp(a->split_ids, b->split_ids, a->n * sizeof *a->split_ids) != 0);
    }
    fl_permutation_free(a);
    fl_permutation_free(b);
    /* Counts: exact sizes, the rest left out. */
    int64_t counts[2] = {300, 50};
    fl_permutation_spec c = {.split = FL_SPLIT_RANDOM, .counts = counts, .n_parts = 2, .seed = 1};
    CHECK_OK(fl_permutation_build(t, &c, &a, &tl_err));
    if (a) {
        CHECK_EQ_INT(a->n, 350);
        CHECK_EQ_INT(count_split(a, 0), 300);
        CHECK_EQ_STR(a->split_names[1], "split1");
    }
    fl_permutation_free(a);
    teardown();
}

static void test_hash_split_is_stable(void) {
    setup("perm-hash", 2000);
    double ratios[2] = {0.9, 0.1};
    fl_permutation_spec s = {.split = FL_SPLIT_HASH, .ratios = ratios, .n_parts = 2, .hash_column = "name"};
    fl_permutation *a = NULL, *b = NULL;
    CHECK_OK(fl_permutation_build(t, &s, &a, &tl_err));
    append(2000, 3000);
    CHECK_OK(fl_permutation_build(t, &s, &b, &tl_err));
    if (a && b) {
        CHECK_EQ_INT(a->n, 2000);
        CHECK_EQ_INT(b->n, 5000);
        /* Around 10% in val (binomial: 200 +- 40 at 3 sigma). */
        size_t val = count_split(a, 1);
        CHECK(val > 150 && val < 250);
        /* Every old row kept its split. */
        int32_t *split_of = calloc(5000, sizeof *split_of);
        for (size_t i = 0; i < b->n; i++) split_of[b->row_ids[i]] = b->split_ids[i];
        size_t same = 0;
        for (size_t i = 0; i < a->n; i++) same += split_of[a->row_ids[i]] == a->split_ids[i];
        CHECK_EQ_INT(same, 2000);
        free(split_of);
    }
    fl_permutation_free(a);
    fl_permutation_free(b);
    fl_error e = {0};
    s.hash_column = "nope";
    CHECK_EQ_INT(fl_permutation_build(t, &s, &a, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "permutation: hash split column 'nope' not found");
    teardown();
}

static void test_sequential_and_calculated(void) {
    setup("perm-seq", 100);
    double ratios[2] = {0.7, 0.3};
    fl_permutation_spec s = {.split = FL_SPLIT_SEQUENTIAL, .ratios = ratios, .n_parts = 2};
    fl_permutation *p = NULL;
    CHECK_OK(fl_permutation_build(t, &s, &p, &tl_err));
    if (p)
        for (size_t i = 0; i < p->n; i++) CHECK_EQ_INT(p->split_ids[i], p->row_ids[i] < 70 ? 0 : 1);
    fl_permutation_free(p);
    /* A number. */
    const char *three[3] = {"a", "b", "c"};
    fl_permutation_spec c = {.split = FL_SPLIT_CALCULATED, .split_expr = "id % 3", .split_names = three, .n_split_names = 3};
    CHECK_OK(fl_permutation_build(t, &c, &p, &tl_err));
    if (p) {
        CHECK_EQ_INT(p->n, 100);
        for (size_t i = 0; i < p->n; i++) CHECK_EQ_INT(p->split_ids[i], (int32_t)(p->row_ids[i] % 3));
    }
    fl_permutation_free(p);
    /* A name; rows whose name is no split are left out. */
    const char *two[2] = {"train", "val"};
    fl_permutation_spec n = {.split = FL_SPLIT_CALCULATED, .split_expr = "part", .split_names = two, .n_split_names = 2};
    CHECK_OK(fl_permutation_build(t, &n, &p, &tl_err));
    if (p) {
        CHECK_EQ_INT(p->n, 90);
        CHECK_EQ_INT(count_split(p, 0), 70);
        CHECK_EQ_INT(count_split(p, 1), 20);
    }
    fl_permutation_free(p);
    fl_error e = {0};
    n.split_expr = "flag";
    CHECK_EQ_INT(fl_permutation_build(t, &n, &p, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "permutation: the split expression must give a split number or name, not boolean");
    teardown();
}

static void test_shuffle(void) {
    setup("perm-shuffle", 1000);
    fl_permutation_spec s = {.shuffle = true, .shuffle_seed = 3, .clump_size = 10};
    fl_permutation *a = NULL, *b = NULL;
    CHECK_OK(fl_permutation_build(t, &s, &a, &tl_err));
    CHECK_OK(fl_permutation_build(t, &s, &b, &tl_err));
    if (a && b) {
        CHECK(!memcmp(a->row_ids, b->row_ids, a->n * sizeof *a->row_ids));
        /* Clumps of 10 consecutive ids stay together and in order; their order is shuffled. */
        bool clumped = true, moved = false;
        uint64_t sum = 0;
        for (size_t i = 0; i < a->n; i++) {
            if (i % 10) clumped &= a->row_ids[i] == a->row_ids[i - 1] + 1;
            else clumped &= a->row_ids[i] % 10 == 0;
            moved |= a->row_ids[i] != i;
            sum += a->row_ids[i];
        }
        CHECK(clumped && moved);
        CHECK_EQ_INT(sum, 999 * 1000 / 2);
    }
    fl_permutation_free(b);
    s.shuffle_seed = 4;
    s.clump_size = 0;
    CHECK_OK(fl_permutation_build(t, &s, &b, &tl_err));
    if (a && b) CHECK(memcmp(a->row_ids, b->row_ids, a->n * sizeof *a->row_ids) != 0);
    fl_permutation_free(a);
    fl_permutation_free(b);
    teardown();
}

static void test_save_load(void) {
    setup("perm-save", 500);
    double ratios[2] = {0.5, 0.5};
    const char *names[2] = {"train", "val"}, *cols[2] = {"id", "name"};
    fl_permutation_spec s = {.split = FL_SPLIT_RANDOM, .ratios = ratios, .n_parts = 2, .split_names = names, .n_split_names = 2,
                             .seed = 11, .shuffle = true, .shuffle_seed = 12, .columns = cols, .n_columns = 2};
    fl_permutation *p = NULL, *q = NULL;
    CHECK_OK(fl_permutation_build(t, &s, &p, &tl_err));
    CHECK_OK(fl_permutation_save(db, "frames_perm", p, &tl_err));
    fl_error e = {0};
    CHECK_EQ_INT(fl_permutation_save(db, "frames_perm", p, &e), FL_EEXIST);
    CHECK_OK(fl_permutation_load(db, "frames_perm", NULL, &q, &tl_err));
    if (p && q) {
        CHECK_EQ_INT(q->n, p->n);
        CHECK(!memcmp(q->row_ids, p->row_ids, p->n * sizeof *p->row_ids) && !memcmp(q->split_ids, p->split_ids, p->n * sizeof *p->split_ids));
        CHECK_EQ_STR(q->source, "frames");
        CHECK_EQ_INT(q->source_version, 2);
        CHECK_EQ_INT(q->n_splits, 2);
        CHECK_EQ_STR(q->split_names[1], "val");
        CHECK_EQ_INT(q->n_columns, 2);
        CHECK_EQ_STR(q->columns[1], "name");
    }
    fl_permutation_free(q);
    CHECK_EQ_INT(fl_permutation_load(db, "frames", NULL, &q, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "table 'frames' is not a permutation");
    fl_permutation_free(p);
    /* A save interrupted before its last commit (the rows are in, the completion mark is not) is refused. */
    fl_schema *ps;
    CHECK_OK(fl_schema_parse("row_id uint64 not null, split_id int32 not null", &ps, &tl_err));
    fl_schema_set_metadata(ps, "permutation.source", "frames");
    fl_schema_set_metadata(ps, "permutation.source_version", "2");
    fl_schema_set_metadata(ps, "permutation.splits", "all");
    fl_schema_set_metadata(ps, "permutation.columns", "[]");
    CHECK_OK(fl_table_create(db, "half", ps, NULL, &tl_err));
    fl_schema_free(ps);
    CHECK_EQ_INT(fl_permutation_load(db, "half", NULL, &q, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "permutation 'half' was not completely written (its creation was interrupted); drop it and create it again");
    /* Errors name the problem. */
    double over[2] = {0.8, 0.3};
    fl_permutation_spec bad = {.split = FL_SPLIT_RANDOM, .ratios = over, .n_parts = 2};
    CHECK_EQ_INT(fl_permutation_build(t, &bad, &p, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "permutation: the split ratios add up to 1.1, more than 1");
    fl_permutation_spec badf = {.filter = "idd > 3"};
    CHECK_EQ_INT(fl_permutation_build(t, &badf, &p, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "permutation: filter: column \"idd\" not found; did you mean \"id\"? (position 1)");
    const char *nocol[1] = {"nope"};
    fl_permutation_spec badc = {.columns = nocol, .n_columns = 1};
    CHECK_EQ_INT(fl_permutation_build(t, &badc, &p, &e), FL_ENOTFOUND);
    teardown();
}

int main(void) {
    RUN(test_plain_and_filter);
    RUN(test_random_split);
    RUN(test_hash_split_is_stable);
    RUN(test_sequential_and_calculated);
    RUN(test_shuffle);
    RUN(test_save_load);
    return tl_finish("test_permutation");
}
