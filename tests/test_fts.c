/*
 * test_fts.c — full-text search (fl_fts_search) and fts indexes: BM25 scores on a hand-computed corpus,
 * phrases (with and without positions in the index), +required and -excluded items, stemming and stop
 * words, freshness (a query gives identical ids and scores whether the index covers every fragment, some
 * of them or none, across appends, deletions, updates and compaction), the WHERE prefilter keeping the
 * statistics, the index file reader rejecting damage, clear errors for bad input, and hybrid search
 * (fl_hybrid_search: RRF and linear fusion order and values, one WHERE for both halves).
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "index/cache.h"
#include "index/fts.h"
#include "table/table.h"

#include <math.h>
#include <stdlib.h>

static fl_table *text_table(fl_db *db, const char *name) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, txt string, n int64", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, name, s, &t, &tl_err));
    fl_schema_free(s);
    return t;
}

/* Appends one fragment of documents (NULL: a NULL value); ids continue from *next. */
static void append_docs(fl_table *t, const char *const *docs, int n, int *next) {
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    for (int i = 0; i < n; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], (*next)++));
        CHECK_OK(docs[i] ? fl_array_append_string(&b->columns[1], docs[i]) : fl_array_append_null(&b->columns[1]));
        CHECK_OK(fl_array_append_int(&b->columns[2], *next % 2));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
}

typedef struct result {
    int n;
    uint64_t ids[64];
    float scores[64];
} result;

static int search(fl_table *t, const char *text, const char *where, int k, result *r) {
    const char *cols[] = {"id"};
    fl_fts_query q = {.column = "txt", .text = text, .where = where, .k = k, .columns = cols, .n_columns = 1};
    fl_batch *b = NULL;
    memset(r, 0, sizeof *r);
    int rc = fl_fts_search(t, &q, &b, &tl_err);
    if (rc != FL_OK) return rc;
    CHECK_EQ_INT(b->n_columns, 3);
    r->n = (int)b->num_rows;
    for (int i = 0; i < r->n && i < 64; i++) {
        r->ids[i] = fl_array_get_uint(&b->columns[2], i);
        r->scores[i] = (float)fl_array_get_float(&b->columns[1], i);
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], i), (int64_t)r->ids[i]); /* ids equal row ids here */
    }
    fl_batch_free(b);
    return FL_OK;
}

static void check_same(const result *a, const result *b) {
    CHECK_EQ_INT(a->n, b->n);
    for (int i = 0; i < a->n && i < b->n; i++) {
        CHECK_EQ_INT(a->ids[i], b->ids[i]);
        CHECK(a->scores[i] == b->scores[i]); /* bit-identical: the same counts feed the same formula */
    }
}

static double bm25(double tf, double len, double df, double n, double avg) {
    double idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
    return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg));
}

static const char *const corpus[] = {
    "rainy night pedestrian",                   /* 0: 3 terms */
    "night",                                    /* 1: 1 */
    "pedestrian crossing at night rainy night", /* 2: 6 */
    "sunny day",                                /* 3: 2 */
    NULL,                                       /* 4: not a document */
    "Rainy, rainy DAY!",                        /* 5: 3 */
};

/* N = 5 documents, 15 terms, average length 3. */
static void check_hand_computed(fl_table *t) {
    result r;
    CHECK_OK(search(t, "night", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.ids[0], 1); /* tf 1, length 1 */
    CHECK_EQ_INT(r.ids[1], 2); /* tf 2, length 6 */
    CHECK_EQ_INT(r.ids[2], 0); /* tf 1, length 3 */
    CHECK(fabs(r.scores[0] - bm25(1, 1, 3, 5, 3)) < 1e-6);
    CHECK(fabs(r.scores[1] - bm25(2, 6, 3, 5, 3)) < 1e-6);
    CHECK(fabs(r.scores[2] - bm25(1, 3, 3, 5, 3)) < 1e-6);
    CHECK(fabs(r.scores[0] - 0.741120) < 1e-5); /* ln(1 + 2.5/3.5) * 2.2/1.6 */
    /* Two terms: the scores add up; "day" is in rows 3 and 5 (df 2), "rainy" in 0, 2, 5 (df 3). */
    CHECK_OK(search(t, "RAINY day", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 4);
    CHECK_EQ_INT(r.ids[0], 5);
    CHECK(fabs(r.scores[0] - (bm25(2, 3, 3, 5, 3) + bm25(1, 3, 2, 5, 3))) < 1e-6);
    CHECK_EQ_INT(r.ids[1], 3);
    CHECK(fabs(r.scores[1] - bm25(1, 2, 2, 5, 3)) < 1e-6);
    CHECK_EQ_INT(r.ids[2], 0);
    CHECK_EQ_INT(r.ids[3], 2);
    /* Required and excluded. */
    CHECK_OK(search(t, "+rainy night", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.ids[0], 0); /* both terms in 3 */
    CHECK_EQ_INT(r.ids[1], 2); /* both in 6 */
    CHECK_EQ_INT(r.ids[2], 5); /* rainy only */
    CHECK_OK(search(t, "night -pedestrian", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 1);
    /* Phrases: "rainy night" occurs in rows 0 and 2 (once each; df 2); "night rainy" only in row 2. */
    CHECK_OK(search(t, "\"rainy night\"", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.ids[0], 0);
    CHECK(fabs(r.scores[0] - bm25(1, 3, 2, 5, 3)) < 1e-6);
    CHECK_EQ_INT(r.ids[1], 2);
    CHECK(fabs(r.scores[1] - bm25(1, 6, 2, 5, 3)) < 1e-6);
    CHECK_OK(search(t, "\"night rainy\" -sunny", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 2);
    CHECK_OK(search(t, "+\"rainy day\"", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 5);
    /* The WHERE keeps rows but not the statistics: row 2 scores as without it. */
    result all;
    CHECK_OK(search(t, "night", NULL, 10, &all));
    CHECK_OK(search(t, "night", "id >= 2", 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 2);
    CHECK(r.scores[0] == all.scores[1]);
    /* Limit and ties: k = 1 keeps the best. */
    CHECK_OK(search(t, "night", NULL, 1, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 1);
    CHECK_OK(search(t, "zebra", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 0);
}

static void test_bm25_hand_computed(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_hand"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = text_table(db, "docs");
    int next = 0;
    append_docs(t, corpus, 6, &next);
    check_hand_computed(t); /* scanned */
    CHECK_OK(fl_index_create(t, "txt", "fts", NULL, &tl_err));
    check_hand_computed(t); /* from the index, positions absent: phrases scan */
    fl_kv pos[] = {{"positions", "true"}};
    CHECK_OK(fl_index_create_with(t, "txt", "fts", "txt_pos", pos, 1, &tl_err));
    CHECK_OK(fl_index_drop(t, "txt_idx", &tl_err));
    check_hand_computed(t); /* from the index with positions */
    /* Ties: equal scores order by row id. */
    fl_table *u = text_table(db, "ties");
    const char *same[] = {"red car", "red car", "red car"};
    next = 0;
    append_docs(u, same, 3, &next);
    result r;
    CHECK_OK(search(u, "car", NULL, 2, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.ids[0], 0);
    CHECK_EQ_INT(r.ids[1], 1);
    CHECK(r.scores[0] == r.scores[1]);
    fl_table_close(u);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_stemming_and_stop_words(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_stem"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = text_table(db, "docs");
    const char *docs[] = {"Pedestrians crossing the street", "a man on a bike", "man bike", "the cyclists crossed"};
    int next = 0;
    append_docs(t, docs, 4, &next);
    result r;
    /* Without stemming, plural and singular differ. */
    CHECK_OK(search(t, "pedestrian", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 0);
    fl_kv params[] = {{"stem", "english"}, {"stopwords", "english"}, {"positions", "true"}};
    CHECK_OK(fl_index_create_with(t, "txt", "fts", NULL, params, 3, &tl_err));
    CHECK_OK(search(t, "pedestrian", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 0);
    CHECK_OK(search(t, "crosses", NULL, 10, &r)); /* cross: crossing, crossed */
    CHECK_EQ_INT(r.n, 2);
    /* Stop words leave their places: "man on the bike" matches "a man on a bike", not "man bike". */
    CHECK_OK(search(t, "\"man on the bike\"", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 1);
    CHECK_OK(search(t, "\"man bike\"", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.ids[0], 2);
    /* Document lengths count terms after stop words: row 1 is "man bike" too, so it scores as row 2. */
    CHECK_OK(search(t, "bike", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK(r.scores[0] == r.scores[1]);
    /* A query of stop words only has nothing to search for. */
    CHECK(search(t, "the a of", NULL, 10, &r) == FL_EINVAL);
    CHECK(strstr(tl_err.message, "stop words") != NULL);
    /* Rows appended later are analyzed the index's way. */
    const char *more[] = {"pedestrians everywhere"};
    append_docs(t, more, 1, &next);
    CHECK_OK(search(t, "pedestrian", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 2);
    /* The analyzer itself. */
    fts_analyzer an;
    fts_tokens tok = {0};
    CHECK_OK(fts_analyzer_init(&an, "english", "english", &tl_err));
    CHECK(fts_analyze(&an, (const uint8_t *)"The running Dogs, ÉCOLE x2!", 27, &tok));
    CHECK_EQ_INT(tok.n, 4);
    if (tok.n == 4) {
        CHECK(tok.len[0] == 3 && !memcmp(tok.bytes.data + tok.off[0], "run", 3));
        CHECK_EQ_INT(tok.pos[0], 1);
        CHECK(tok.len[1] == 3 && !memcmp(tok.bytes.data + tok.off[1], "dog", 3));
        CHECK_EQ_INT(tok.pos[3], 4); /* "x2" */
    }
    fts_tokens_free(&tok);
    fts_analyzer_free(&an);
    CHECK(fts_analyzer_init(&an, "klingon", NULL, &tl_err) == FL_EINVAL);
    CHECK(strstr(tl_err.message, "klingon") != NULL);
    fl_table_close(t);
    fl_db_close(db);
}

/* A corpus of generated captions over several fragments. */
static const char *const words[] = {"car", "truck", "pedestrian", "rider", "bike", "night", "rainy", "sunny", "city", "highway",
                                    "intersection", "crossing", "traffic", "light", "red", "green", "snow", "fog", "bus", "lane"};

static void caption(uint64_t *st, char *buf, size_t cap) {
    int n = 2 + (int)(tl_rand(st) % 9);
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        /* skewed: low word indexes are common */
        int w = (int)((tl_rand(st) % 20) * (tl_rand(st) % 20) / 19);
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? " " : "", words[w]);
    }
}

static void append_captions(fl_table *t, uint64_t *st, int n, int *next) {
    char **docs = calloc((size_t)n, sizeof *docs);
    for (int i = 0; i < n; i++) {
        docs[i] = malloc(256);
        caption(st, docs[i], 256);
        if (tl_rand(st) % 17 == 0) {
            free(docs[i]);
            docs[i] = NULL;
        }
    }
    append_docs(t, (const char *const *)docs, n, next);
    for (int i = 0; i < n; i++) free(docs[i]);
    free(docs);
}

static const char *const queries[] = {"pedestrian", "night rainy", "+rider bike", "car -truck", "\"traffic light\"", "\"red light\" night",
                                      "fog snow lane bus", "+\"rainy night\" -car"};
enum { N_QUERIES = sizeof queries / sizeof *queries };

static void run_queries(fl_table *t, result *out) {
    for (int q = 0; q < N_QUERIES; q++) CHECK_OK(search(t, queries[q], q % 3 == 0 ? "n = 1" : NULL, 20, &out[q]));
}

static void check_queries(fl_table *t, const result *want) {
    result got[N_QUERIES];
    run_queries(t, got);
    for (int q = 0; q < N_QUERIES; q++) check_same(&want[q], &got[q]);
}

/* Every query gives the same ids and bit-identical scores from a table with an fts index (covering every
 * fragment, some of them, or just parts of the files it has) and from a twin table that never had one,
 * through appends, deletions, an update of the column, compaction and index updates. */
static void test_freshness(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_fresh"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = text_table(db, "indexed"), *twin = text_table(db, "twin");
    uint64_t st = 12345, st2 = 12345;
    int next = 0, next2 = 0;
    for (int f = 0; f < 3; f++) {
        append_captions(t, &st, 300, &next);
        append_captions(twin, &st2, 300, &next2);
    }
    result truth[N_QUERIES];
    run_queries(twin, truth);
    CHECK(truth[0].n == 20 && truth[4].n > 0 && truth[7].n > 0);
    fl_kv pos[] = {{"positions", "true"}};
    CHECK_OK(fl_index_create_with(t, "txt", "fts", NULL, pos, 1, &tl_err));
    check_queries(t, truth);
    /* Appended rows are not covered: scanned, with the same statistics. */
    append_captions(t, &st, 200, &next);
    append_captions(twin, &st2, 200, &next2);
    run_queries(twin, truth);
    check_queries(t, truth);
    CHECK_OK(fl_index_update(t, NULL, &tl_err)); /* a second file */
    check_queries(t, truth);
    /* Deletions in covered fragments: statistics and postings leave them out. */
    int64_t deleted, deleted2;
    CHECK_OK(fl_table_delete_where(t, "id % 7 = 3", &deleted, &tl_err));
    CHECK_OK(fl_table_delete_where(twin, "id % 7 = 3", &deleted2, &tl_err));
    CHECK(deleted > 100 && deleted == deleted2);
    run_queries(twin, truth);
    check_queries(t, truth);
    /* Rewriting the column uncovers its fragment; compaction replaces fragments (rows keep their ids). */
    int64_t updated;
    CHECK_OK(fl_table_update_where(t, "txt = 'car bus car'", "id < 50", &updated, &tl_err));
    CHECK_OK(fl_table_update_where(twin, "txt = 'car bus car'", "id < 50", &updated, &tl_err));
    CHECK(updated > 30);
    run_queries(twin, truth);
    check_queries(t, truth);
    fl_compact_options co = {.target_rows_per_fragment = 600, .max_deleted_fraction = 0.01};
    fl_compact_stats cs;
    CHECK_OK(fl_table_compact(t, &co, &cs, &tl_err));
    CHECK(cs.fragments_removed > 0);
    CHECK_OK(fl_table_compact(twin, &co, &cs, &tl_err));
    check_queries(t, truth);
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    check_queries(t, truth);
    fl_index_info *info;
    size_t n_info;
    CHECK_OK(fl_index_list(t, &info, &n_info, &tl_err));
    CHECK(n_info == 1 && info[0].fragments_covered == info[0].fragments_total);
    fl_index_info_free(info, n_info);
    fl_table_close(t);
    fl_table_close(twin);
    fl_db_close(db);
}

static void test_errors(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_err"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = text_table(db, "docs");
    int next = 0;
    append_docs(t, corpus, 6, &next);
    result r;
    CHECK(search(t, "", NULL, 10, &r) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "fts query is empty");
    CHECK(search(t, "  -night", NULL, 10, &r) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "fts query '  -night' has no term to search for (only excluded ones)");
    CHECK(search(t, "\"rainy night", NULL, 10, &r) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "fts query: unterminated phrase starting at position 1");
    CHECK(search(t, "night", "nope > 1", 10, &r) != FL_OK);
    fl_fts_query q = {.column = "nope", .text = "x"};
    fl_batch *b = NULL;
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "fts search: column 'nope' not found");
    q.column = "id";
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "fts search: column 'id' is int64, not a string column");
    q.column = NULL;
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "fts search: no column has an fts index; name the column to search (--column)");
    CHECK(fl_index_create(t, "id", "fts", NULL, &tl_err) == FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 'docs': a fts index needs a string column; column 'id' is int64");
    fl_kv bad[] = {{"stemmer", "english"}};
    CHECK(fl_index_create_with(t, "txt", "fts", NULL, bad, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "fts index: unknown parameter 'stemmer' (use stem, stopwords or positions)");
    fl_kv bad2[] = {{"positions", "yes"}};
    CHECK(fl_index_create_with(t, "txt", "fts", NULL, bad2, 1, &tl_err) == FL_EINVAL);
    fl_kv bad3[] = {{"stem", "english"}};
    CHECK(fl_index_create_with(t, "txt", "btree", NULL, bad3, 1, &tl_err) == FL_EINVAL);
    CHECK_EQ_INT(fl_table_version(t), 2); /* nothing committed */
    /* An index over no documents (an empty table, all NULL) is valid and finds nothing. */
    fl_table *empty = text_table(db, "empty");
    CHECK_OK(fl_index_create(empty, "txt", "fts", NULL, &tl_err));
    const char *nulls[] = {NULL, NULL};
    int nn = 0;
    append_docs(empty, nulls, 2, &nn);
    CHECK_OK(fl_index_update(empty, NULL, &tl_err));
    CHECK_OK(search(empty, "night", NULL, 10, &r));
    CHECK_EQ_INT(r.n, 0);
    fl_table_close(empty);
    /* With an index, the column may be left out. */
    CHECK_OK(fl_index_create(t, "txt", "fts", NULL, &tl_err));
    q.column = NULL;
    q.text = "night";
    CHECK_OK(fl_fts_search(t, &q, &b, &tl_err));
    CHECK(b && b->num_rows == 3);
    fl_batch_free(b);
    b = NULL;
    /* A damaged index file is reported with its name and byte, and nothing crashes. */
    const fl_index_ref *x = &t->m->indexes[0];
    char *path = fl_table_path(t, x->files[0]);
    uint8_t *data;
    size_t size;
    CHECK_OK(fl_io_read_file(path, &data, &size, &tl_err));
    data[12] ^= 0x40; /* inside the documents block */
    CHECK_OK(fl_io_put_replace(path, data, size, false, &tl_err));
    fl_ixcache_clear(); /* index files never change; this test rewrites one in place */
    q.text = "night";
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_ECORRUPT || b != NULL);
    fl_batch_free(b);
    b = NULL;
    fts_file *f = NULL;
    uint64_t terms;
    CHECK_OK(fts_file_open(path, &f, &tl_err));
    CHECK(f && fts_file_check(f, &terms, &tl_err) == FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "checksum") != NULL && strstr(tl_err.message, path) != NULL);
    fts_file_close(f);
    data[12] ^= 0x40;
    data[size - 3] ^= 1; /* tail magic */
    CHECK_OK(fl_io_put_replace(path, data, size, false, &tl_err));
    fl_ixcache_clear(); /* index files never change; this test rewrites one in place */
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "bad tail magic") != NULL);
    CHECK_OK(fl_io_put_replace(path, data, size / 2, false, &tl_err));
    fl_ixcache_clear();
    CHECK(fl_fts_search(t, &q, &b, &tl_err) == FL_ECORRUPT);
    fl_free(data);
    fl_free(path);
    fl_table_close(t);
    fl_db_close(db);
}

/* Hybrid: both halves under one WHERE, fused by RRF (k = 60) or linearly; relevance values computed here. */
static void test_hybrid(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_hybrid"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, txt string, v fixed_size_list<float32, 2>", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "hy", s, &t, &tl_err));
    static const char *const txt[] = {"red car", "red truck", "blue car", "green bus", "red red car"};
    static const float v[][2] = {{0, 0}, {1, 0}, {5, 5}, {0, 1}, {9, 9}};
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(fl_array_append_string(&b->columns[1], txt[i]));
        CHECK_OK(fl_array_append_float(&b->columns[2].children[0], v[i][0]));
        CHECK_OK(fl_array_append_float(&b->columns[2].children[0], v[i][1]));
        CHECK_OK(fl_array_end_list(&b->columns[2]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
    /* Text "red": rows 4, 0, 1 (row 4 has tf 2). Vector [0, 0] (l2): rows 0, 1, 3, 2, 4 (d 0, 1, 1, 50, 162). */
    const float q[] = {0, 0};
    const char *cols[] = {"id"};
    fl_hybrid_query h = {.text = {.column = "txt", .text = "red"}, .vector = {.column = "v", .vector = q, .dim = 2, .metric = -1},
                         .columns = cols, .n_columns = 1};
    b = NULL;
    CHECK_OK(fl_hybrid_search(t, &h, &b, &tl_err));
    static const int rrf_order[] = {0, 1, 4, 3, 2};
    const double rrf[] = {1.0 / 62 + 1.0 / 61, 1.0 / 63 + 1.0 / 62, 1.0 / 61 + 1.0 / 65, 1.0 / 63, 1.0 / 64};
    CHECK(b && b->num_rows == 5 && b->n_columns == 5);
    for (int i = 0; b && i < 5 && i < b->num_rows; i++) {
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], i), rrf_order[i]);
        CHECK(fabs(fl_array_get_float(&b->columns[3], i) - rrf[i]) < 1e-7);
        CHECK_EQ_INT(fl_array_get_uint(&b->columns[4], i), rrf_order[i]);
    }
    /* Rows 3 and 2 came only from the vector half: no BM25 score. */
    CHECK(b && fl_array_is_null(&b->columns[1], 3) && fl_array_is_null(&b->columns[1], 4) && !fl_array_is_null(&b->columns[2], 3));
    fl_batch_free(b);
    b = NULL;
    /* Linear, weight 0.7: 0.7 (1 - d / 162) + 0.3 s / s_best. */
    h.rerank = FL_RERANK_LINEAR;
    CHECK_OK(fl_hybrid_search(t, &h, &b, &tl_err));
    double s0 = bm25(1, 2, 3, 5, 2.2), s4 = bm25(2, 3, 3, 5, 2.2);
    static const int lin_order[] = {0, 1, 3, 2, 4};
    const double lin[] = {0.7 + 0.3 * s0 / s4, 0.7 * (1 - 1.0 / 162) + 0.3 * s0 / s4, 0.7 * (1 - 1.0 / 162), 0.7 * (1 - 50.0 / 162), 0.3};
    CHECK(b && b->num_rows == 5);
    for (int i = 0; b && i < 5 && i < b->num_rows; i++) {
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], i), lin_order[i]);
        CHECK(fabs(fl_array_get_float(&b->columns[3], i) - lin[i]) < 1e-6);
    }
    fl_batch_free(b);
    b = NULL;
    /* One WHERE for both halves; k. */
    h.rerank = FL_RERANK_RRF;
    h.where = "id != 0";
    h.k = 2;
    CHECK_OK(fl_hybrid_search(t, &h, &b, &tl_err));
    CHECK(b && b->num_rows == 2);
    if (b && b->num_rows == 2) {
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 0), 1);
        CHECK(fabs(fl_array_get_float(&b->columns[3], 0) - (1.0 / 62 + 1.0 / 61)) < 1e-7);
        CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 1), 4);
    }
    fl_batch_free(b);
    b = NULL;
    /* Errors name the half. */
    h.text.text = "";
    CHECK(fl_hybrid_search(t, &h, &b, &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "hybrid search, text half: fts query is empty");
    h.text.text = "red";
    h.vector.dim = 1;
    CHECK(fl_hybrid_search(t, &h, &b, &tl_err) == FL_EINVAL);
    CHECK(strstr(tl_err.message, "hybrid search, vector half: ") == tl_err.message);
    h.vector.dim = 2;
    h.rerank = 7;
    CHECK(fl_hybrid_search(t, &h, &b, &tl_err) == FL_EINVAL);
    fl_table_close(t);
    fl_db_close(db);
}

/* An index over several string columns: a row's document is its values in column order, phrases never
 * span two values, and the index answers as the scan does. */
static int search2(fl_table *t, const char *column, const char *text, result *r) {
    const char *cols[] = {"id"};
    fl_fts_query q = {.column = column, .text = text, .k = 10, .columns = cols, .n_columns = 1};
    fl_batch *b = NULL;
    memset(r, 0, sizeof *r);
    int rc = fl_fts_search(t, &q, &b, &tl_err);
    if (rc != FL_OK) return rc;
    r->n = (int)b->num_rows;
    for (int i = 0; i < r->n && i < 64; i++) {
        r->ids[i] = fl_array_get_uint(&b->columns[2], i);
        r->scores[i] = (float)fl_array_get_float(&b->columns[1], i);
    }
    fl_batch_free(b);
    return FL_OK;
}

static fl_table *two_column_table(fl_db *db, const char *name) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, title string, caption string", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, name, s, &t, &tl_err));
    fl_schema_free(s);
    static const char *const title[] = {"red car", NULL, "car", NULL}, *const caption[] = {"parked at night", "red light", NULL, NULL};
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    for (int i = 0; i < 4; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(title[i] ? fl_array_append_string(&b->columns[1], title[i]) : fl_array_append_null(&b->columns[1]));
        CHECK_OK(caption[i] ? fl_array_append_string(&b->columns[2], caption[i]) : fl_array_append_null(&b->columns[2]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    return t;
}

static void check_two_columns(fl_table *t, const char *column) {
    result r;
    /* documents: 0 "red car parked at night" (5), 1 "red light" (2), 2 "car" (1); N 3, average 8/3 */
    CHECK_OK(search2(t, column, "red", &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.ids[0], 1);
    CHECK(fabs(r.scores[0] - bm25(1, 2, 2, 3, 8.0 / 3)) < 1e-6);
    CHECK_EQ_INT(r.ids[1], 0);
    CHECK(fabs(r.scores[1] - bm25(1, 5, 2, 3, 8.0 / 3)) < 1e-6);
    CHECK_OK(search2(t, column, "\"car parked\"", &r)); /* across the two values: no */
    CHECK_EQ_INT(r.n, 0);
    CHECK_OK(search2(t, column, "\"parked at night\" +red", &r)); /* the phrase adds to row 0's score */
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.ids[0], 0);
    CHECK_EQ_INT(r.ids[1], 1);
}

static void test_multi_column(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("fts_multi"), FL_OPEN_CREATE, &db, &tl_err));
    fl_table *t = two_column_table(db, "docs");
    check_two_columns(t, "title,caption"); /* scanned */
    fl_kv pos[] = {{"positions", "true"}};
    CHECK_OK(fl_index_create_with(t, "title, caption", "fts", NULL, pos, 1, &tl_err));
    CHECK_EQ_STR(t->m->indexes[0].name, "title_caption_idx");
    CHECK_EQ_INT(t->m->indexes[0].n_field_ids, 2);
    check_two_columns(t, "title,caption");
    check_two_columns(t, NULL); /* the indexed columns */
    fl_index_info *info;
    size_t n;
    CHECK_OK(fl_index_list(t, &info, &n, &tl_err));
    CHECK(n == 1 && !strcmp(info[0].column, "title,caption") && info[0].fragments_covered == 1);
    fl_index_info_free(info, n);
    /* Rewriting either column uncovers the fragment; results stay those of the scan. */
    int64_t updated;
    CHECK_OK(fl_table_update_where(t, "caption = 'red light'", "id = 2", &updated, &tl_err));
    CHECK_OK(fl_index_list(t, &info, &n, &tl_err));
    CHECK(n == 1 && info[0].fragments_covered == 0);
    fl_index_info_free(info, n);
    result a, b;
    CHECK_OK(search2(t, NULL, "red light", &a));
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    CHECK_OK(search2(t, NULL, "red light", &b));
    check_same(&a, &b);
    CHECK_EQ_INT(a.n, 3);
    /* One column of the pair searched alone: no index applies, the scan answers. */
    CHECK_OK(search2(t, "caption", "red", &a));
    CHECK_EQ_INT(a.n, 2);
    CHECK(fl_index_create(t, "title,title", "fts", "x", &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "column 'title' is named twice");
    CHECK(fl_index_create(t, "title,id", "fts", "x", &tl_err) == FL_ETYPE);
    CHECK(fl_index_create(t, "title,caption", "btree", "x", &tl_err) == FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "a btree index covers one column ('title,caption' names several)");
    /* Dropping one of the columns drops the index. */
    const char *drop[] = {"caption"};
    CHECK_OK(fl_table_drop_columns(t, drop, 1, &tl_err));
    CHECK_EQ_INT(t->m->n_indexes, 0);
    fl_table_close(t);
    fl_db_close(db);
}

int main(void) {
    RUN(test_bm25_hand_computed);
    RUN(test_stemming_and_stop_words);
    RUN(test_freshness);
    RUN(test_errors);
    RUN(test_hybrid);
    RUN(test_multi_column);
    return tl_finish("fts");
}
