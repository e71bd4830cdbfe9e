/*
 * test_index.c — scalar indexes (src/index): every index type on a multi-fragment table with NULLs, NaNs,
 * empty lists and NULL list elements; thousands of random predicates whose index candidates are checked
 * against the evaluator over a full scan (superset always, equality when exact); coverage across appends,
 * column rewrites, deletes, compaction, updates of the index and time travel; cleanup of index files;
 * corrupt index files; point lookups that read only a few pages; errors of the management calls.
 */
#include "testlib.h"
#include "index/index.h"
#include "index/fts.h"
#include "index/ixfile.h"
#include "table/txn.h"
#include "io/io.h"

#include <math.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA "id int64 not null, k int32, w string, f bool, x float64, ts timestamp, u uint8, tags list<string>, free int64"

static const char *WEATHER[] = {"clear", "rainy", "snowy", "foggy", "overcast", ""};
static const char *LABELS[] = {"car", "person", "bus", "rider", "truck", "bike"};

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

/* n rows with ids from `first`: about 1 in 8 values NULL, some NaNs, empty lists and NULL elements. */
static fl_batch *make_rows(const fl_schema *s, int64_t first, int n) {
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < n; i++) {
        fl_array *c = b->columns;
        fl_array_append_int(&c[0], first + i);
        if (rnd() % 8 == 0) fl_array_append_null(&c[1]);
        else fl_array_append_int(&c[1], rnd_in(-20, 20));
        if (rnd() % 8 == 0) fl_array_append_null(&c[2]);
        else fl_array_append_string(&c[2], WEATHER[rnd() % 6]);
        if (rnd() % 8 == 0) fl_array_append_null(&c[3]);
        else fl_array_append_bool(&c[3], rnd() % 2);
        int xr = (int)(rnd() % 16);
        if (xr == 0) fl_array_append_null(&c[4]);
        else if (xr == 1) fl_array_append_float(&c[4], NAN);
        else if (xr == 2) fl_array_append_float(&c[4], -0.0);
        else fl_array_append_float(&c[4], rnd_in(-40, 40) / 4.0);
        if (rnd() % 8 == 0) fl_array_append_null(&c[5]);
        else fl_array_append_int(&c[5], 1000 * rnd_in(0, 50));
        if (rnd() % 8 == 0) fl_array_append_null(&c[6]);
        else fl_array_append_uint(&c[6], (uint64_t)rnd_in(0, 9) * 25);
        int lr = (int)(rnd() % 10);
        if (lr == 0) fl_array_append_null(&c[7]);
        else {
            int len = lr == 1 ? 0 : rnd_in(1, 4);
            for (int e = 0; e < len; e++) {
                if (rnd() % 20 == 0) fl_array_append_null(&c[7].children[0]);
                else fl_array_append_string(&c[7].children[0], LABELS[rnd() % 6]);
            }
            fl_array_end_list(&c[7]);
        }
        if (rnd() % 8 == 0) fl_array_append_null(&c[8]);
        else fl_array_append_int(&c[8], rnd_in(0, 100));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    return b;
}

static int64_t next_id;

static void append_rows(fl_table *t, int n, int per_fragment) {
    fl_write_options wo = {.max_rows_per_fragment = per_fragment};
    fl_batch *b = make_rows(fl_table_schema(t), next_id, n);
    next_id += n;
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
}

typedef struct reference {
    uint64_t version;
    fl_batch *all;              /* every live row, with row ids */
} reference;
static reference ref;

static void ref_reset(void) {
    fl_batch_free(ref.all);
    memset(&ref, 0, sizeof ref);
}

static const char *db_dir; /* of the last open_table */

static fl_table *open_table(const char *tag, fl_db **db) {
    fl_schema *s;
    ref_reset();
    fl_table *t = NULL;
    db_dir = tl_tmpdir(tag);
    CHECK_OK(fl_db_open(db_dir, FL_OPEN_CREATE, db, &tl_err));
    CHECK_OK(fl_schema_parse(SCHEMA, &s, &tl_err));
    CHECK_OK(fl_table_create(*db, "t", s, &t, &tl_err));
    fl_schema_free(s);
    return t;
}

/* ---- the reference: the evaluator over a full scan ---- */


static void reference_load(fl_table *t) {
    if (ref.all && ref.version == fl_table_version(t)) return;
    ref_reset();
    fl_scan_options so = {.with_row_ids = true};
    fl_scan *sc;
    fl_batch *b = NULL;
    size_t n_ids = 0;
    uint64_t *ids = NULL;
    CHECK_OK(fl_scan_open(t, &so, &sc, &tl_err));
    for (;;) {
        CHECK_OK(fl_scan_next(sc, &b, &tl_err));
        if (!b) break;
        if (!ref.all) ref.all = fl_batch_new(b->schema);
        for (int32_t c = 0; c < b->n_columns; c++) CHECK_OK(fl_array_append_range(&ref.all->columns[c], &b->columns[c], 0, b->num_rows));
        ids = realloc(ids, (n_ids + (size_t)b->num_rows) * sizeof *ids);
        memcpy(ids + n_ids, b->row_ids, (size_t)b->num_rows * sizeof *b->row_ids);
        n_ids += (size_t)b->num_rows;
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    if (ref.all) CHECK_OK(fl_batch_finish(ref.all, &tl_err));
    if (ref.all) CHECK_OK(fl_batch_set_row_ids(ref.all, ids, n_ids));
    free(ids);
    if (ref.all) CHECK_EQ_INT(ref.all->num_rows, fl_table_count_rows(t));
    ref.version = fl_table_version(t);
}

/* Matching live row ids by the evaluator, sorted. */
static void reference_rows(fl_table *t, const fl_expr *e, ix_rows *out) {
    reference_load(t);
    memset(out, 0, sizeof *out);
    if (!ref.all) return;
    int64_t *rows = malloc((size_t)ref.all->num_rows * sizeof *rows + 8), n = 0;
    CHECK_OK(fl_expr_filter_rows(e, ref.all, rows, &n, &tl_err));
    for (int64_t i = 0; i < n; i++) ix_rows_push(out, ref.all->row_ids[rows[i]]);
    free(rows);
    ix_rows_sort_unique(out);
}

typedef struct tally {
    int checked, applied, exact;
} tally;

/* Checks the selection of `where` against the reference; returns whether an index applied (-1: error). */
static int check_where(fl_table *t, const char *where, tally *tl) {
    fl_expr *e;
    int rc = fl_expr_compile_filter(where, fl_table_schema(t), &e, &tl_err);
    if (rc != FL_OK) {
        fprintf(stderr, "  cannot compile %s: %s\n", where, tl_err.message);
        tl_failures++;
        return -1;
    }
    fl_index_selection sel;
    rc = fl_index_select(t, e->root, &sel, &tl_err);
    CHECK_OK(rc);
    ix_rows truth;
    reference_rows(t, e, &truth);
    int failures_before = tl_failures;
    if (rc == FL_OK && sel.applies) {
        /* Candidates: sorted, unique, live, inside the selection's fragments. */
        for (uint64_t i = 0; i < sel.n_rows; i++) {
            uint32_t fi;
            uint64_t off;
            const deletion_set *d;
            if (i) CHECK(sel.row_ids[i] > sel.row_ids[i - 1]);
            bool found = fl_table_locate(t, sel.row_ids[i], &fi, &off);
            CHECK(found);
            if (!found) continue;
            CHECK(sel.covered[fi]);
            CHECK_OK(fl_table_deletions(t, fi, &d, &tl_err));
            CHECK(!fl_deletion_contains(d, off));
        }
        /* The true rows inside those fragments, against the candidates. */
        ix_rows inside = {0};
        for (size_t i = 0; i < truth.n; i++) {
            uint32_t fi;
            uint64_t off;
            if (fl_table_locate(t, truth.ids[i], &fi, &off) && sel.covered[fi]) ix_rows_push(&inside, truth.ids[i]);
        }
        ix_rows cand = {sel.row_ids, sel.n_rows, sel.n_rows}, missing;
        ix_rows_minus(&inside, &cand, &missing);
        CHECK_EQ_INT(missing.n, 0);
        if (sel.exact) CHECK_EQ_INT(sel.n_rows, inside.n);
        ix_rows_free(&missing);
        ix_rows_free(&inside);
        CHECK(sel.n_used > 0);
        uint32_t n_frag = 0;
        for (uint32_t f = 0; f < t->m->n_fragments; f++) n_frag += sel.covered[f];
        CHECK_EQ_INT(n_frag, sel.n_fragments);
        /* The offsets name the same rows, grouped by fragment and ascending. */
        CHECK(sel.offsets == NULL);
        CHECK_OK(fl_index_selection_group(t, &sel, &tl_err));
        CHECK_EQ_INT(sel.offset_start[sel.n_fragments], sel.n_rows);
        ix_rows again = {0};
        for (uint32_t i = 0; i < sel.n_fragments; i++)
            for (uint64_t k = sel.offset_start[i]; k < sel.offset_start[i + 1]; k++) {
                if (k > sel.offset_start[i]) CHECK(sel.offsets[k] > sel.offsets[k - 1]);
                ix_rows_push(&again, fl_fragment_row_id(&t->m->fragments[sel.fragments[i]], sel.offsets[k]));
            }
        ix_rows_sort_unique(&again);
        CHECK(again.n == sel.n_rows && (!again.n || !memcmp(again.ids, sel.row_ids, again.n * sizeof *again.ids)));
        ix_rows_free(&again);
    }
    if (tl_failures != failures_before) fprintf(stderr, "  ... for WHERE %s (exact %d)\n", where, sel.exact);
    int applied = rc == FL_OK && sel.applies;
    if (tl) {
        tl->checked++;
        tl->applied += applied;
        tl->exact += applied && sel.exact;
    }
    ix_rows_free(&truth);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    return applied;
}

/* ---- random predicates ---- */

static void leaf(char *out, size_t size) {
    static const char *ops[] = {"=", "!=", "<", "<=", ">", ">="};
    const char *op = ops[rnd() % 6];
    int v = rnd_in(-22, 22);
    switch (rnd() % 26) {
    case 24: {
        static const char *pat[] = {"r%", "rain%", "c%%", "rainy", "rain_", "%y", "s_o%", "", "fog\\gy%", "o%t"};
        snprintf(out, size, "w %s '%s'", rnd() % 3 ? "LIKE" : "NOT LIKE", pat[rnd() % 10]);
        break;
    }
    case 25: snprintf(out, size, "w ILIKE 'R%%'"); break;
    case 0: snprintf(out, size, "k %s %d", op, v); break;
    case 1: snprintf(out, size, "%d %s k", v, op); break;
    case 2: snprintf(out, size, "k %s %d.5", op, v); break;
    case 3: snprintf(out, size, "k IN (%d, %d, %d)", v, v + 1, rnd_in(-5, 5)); break;
    case 4: snprintf(out, size, "k %sIN (%d, NULL)", rnd() % 2 ? "NOT " : "", v); break;
    case 5: snprintf(out, size, "k %sBETWEEN %d AND %d", rnd() % 2 ? "NOT " : "", v, rnd_in(-22, 22)); break;
    case 6: snprintf(out, size, "w %s '%s'", op, WEATHER[rnd() % 6]); break;
    case 7: snprintf(out, size, "w %sIN ('%s', '%s')", rnd() % 2 ? "NOT " : "", WEATHER[rnd() % 6], WEATHER[rnd() % 6]); break;
    case 8: snprintf(out, size, "w BETWEEN 'f' AND '%s'", WEATHER[rnd() % 6]); break;
    case 9: snprintf(out, size, "x %s %d.25", op, v / 4); break;
    case 10: snprintf(out, size, "x %s %d", op, v / 2); break;
    case 11: snprintf(out, size, "x %sBETWEEN %d AND %d", rnd() % 2 ? "NOT " : "", v / 4, rnd_in(-5, 5)); break;
    case 12: {
        static const char *b[] = {"f", "f = true", "f = false", "f IS TRUE", "f IS NOT FALSE", "f IS NULL", "f != true", "NOT f"};
        snprintf(out, size, "%s", b[rnd() % 8]);
        break;
    }
    case 13: {
        static const char *c[] = {"k", "w", "x", "ts", "u", "tags", "f"};
        snprintf(out, size, "%s IS %sNULL", c[rnd() % 7], rnd() % 2 ? "NOT " : "");
        break;
    }
    case 14: snprintf(out, size, "ts %s %d", op, 1000 * rnd_in(-1, 51)); break;
    case 15: snprintf(out, size, "u %s %d", op, rnd_in(0, 10) * 25); break;
    case 16: snprintf(out, size, "u IN (%d, %d)", rnd_in(0, 9) * 25, rnd_in(0, 9) * 25); break;
    case 17: snprintf(out, size, "array_has(tags, '%s')", LABELS[rnd() % 6]); break;
    case 18: snprintf(out, size, "array_contains(tags, '%s')", rnd() % 4 ? LABELS[rnd() % 6] : "none"); break;
    case 19: snprintf(out, size, "array_has_any(tags, ARRAY['%s', '%s'])", LABELS[rnd() % 6], LABELS[rnd() % 6]); break;
    case 20: snprintf(out, size, "array_has_all(tags, ARRAY['%s', '%s'])", LABELS[rnd() % 6], LABELS[rnd() % 6]); break;
    case 21: snprintf(out, size, "array_has_all(tags, ARRAY['%s', NULL])", LABELS[rnd() % 6]); break;
    case 22: snprintf(out, size, "free %s %d", op, rnd_in(0, 100)); break;
    default: snprintf(out, size, "free %% 3 = %d", rnd_in(0, 2)); break;
    }
}

static void predicate(char *out, size_t size, int depth) {
    int r = depth > 2 ? 0 : (int)(rnd() % 8);
    char a[512], b[512];
    switch (r) {
    case 0:
    case 1:
    case 2: leaf(out, size); return;
    case 3:
        predicate(a, sizeof a, depth + 1);
        predicate(b, sizeof b, depth + 1);
        snprintf(out, size, "(%s) AND (%s)", a, b);
        return;
    case 4:
        predicate(a, sizeof a, depth + 1);
        predicate(b, sizeof b, depth + 1);
        snprintf(out, size, "(%s) OR (%s)", a, b);
        return;
    case 5:
        predicate(a, sizeof a, depth + 1);
        snprintf(out, size, "NOT (%s)", a);
        return;
    case 6: {
        static const char *is[] = {"IS TRUE", "IS NOT TRUE", "IS FALSE", "IS NOT FALSE", "IS NULL", "IS NOT NULL"};
        predicate(a, sizeof a, depth + 1);
        snprintf(out, size, "(%s) %s", a, is[rnd() % 6]);
        return;
    }
    default:
        predicate(a, sizeof a, depth + 1);
        predicate(b, sizeof b, depth + 1);
        snprintf(out, size, "(%s) AND (%s) OR (%s)", a, b, a);
        return;
    }
}

static void random_predicates(fl_table *t, int n, tally *tl) {
    char text[4096];
    for (int i = 0; i < n; i++) {
        predicate(text, sizeof text, 0);
        check_where(t, text, tl);
    }
}

static void create_all(fl_table *t) {
    CHECK_OK(fl_index_create(t, "k", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "w", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "x", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "f", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "ts", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "u", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "tags", "label_list", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "w", "btree", "w_tree", &tl_err));
}

/* Covered / total fragments of index `name`. */
static void coverage_of(fl_table *t, const char *name, uint32_t *covered, uint32_t *total) {
    fl_index_info *list;
    size_t n;
    *covered = *total = 0xFFFFFFFF;
    CHECK_OK(fl_index_list(t, &list, &n, &tl_err));
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) {
            *covered = list[i].fragments_covered;
            *total = list[i].fragments_total;
        }
    fl_index_info_free(list, n);
}

static void test_random_predicates(void) {
    fl_db *db;
    rng_state = 0x9E3779B97F4A7C15ULL;
    next_id = 0;
    fl_table *t = open_table("index-random", &db);
    for (int i = 0; i < 3; i++) append_rows(t, 1000, 400); /* 9 fragments: 400, 400, 200 each */
    uint64_t v = fl_table_version(t);
    create_all(t);
    CHECK_EQ_INT(fl_table_version(t), v + 8);
    fl_version_info *vs;
    size_t nv;
    CHECK_OK(fl_table_list_versions(t, &vs, &nv, &tl_err));
    CHECK_EQ_STR(vs[nv - 1].operation, "index");
    CHECK_EQ_STR(vs[nv - 1].detail, "create w_tree (btree on w, 9 fragments)");
    free(vs);
    tally tl = {0};
    random_predicates(t, 2500, &tl);
    CHECK_EQ_INT(tl.checked, 2500);
    CHECK(tl.applied > 1000);
    CHECK(tl.exact > 600);
    fprintf(stderr, "  %d predicates, %d used an index, %d exactly\n", tl.checked, tl.applied, tl.exact);
    /* Which predicates an index answers, and how. */
    CHECK_EQ_INT(check_where(t, "free > 3", NULL), 0);
    CHECK_EQ_INT(check_where(t, "k = 3 OR free > 2", NULL), 0);
    CHECK_EQ_INT(check_where(t, "NOT (k = 3 AND free > 2)", NULL), 0);
    fl_expr *e;
    fl_index_selection sel;
    CHECK_OK(fl_expr_compile_filter("k = 3 AND free > 2", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && !sel.exact && sel.n_used == 1 && sel.n_fragments == 9);
    CHECK_EQ_STR(sel.used[0], "k_idx");
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    CHECK_OK(fl_expr_compile_filter("NOT (w = 'rainy') AND array_has(tags, 'car')", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && sel.exact && sel.n_used == 2);
    /* NOT (w = 'rainy') never returns rows whose w is NULL. */
    for (uint64_t i = 0; i < sel.n_rows; i++) {
        fl_batch *row;
        const char *cols[] = {"w"};
        CHECK_OK(fl_table_take(t, &sel.row_ids[i], 1, cols, 1, &row, &tl_err));
        CHECK(!fl_array_is_null(&row->columns[0], 0));
        fl_batch_free(row);
    }
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_coverage(void) {
    fl_db *db;
    rng_state = 0x1234567;
    next_id = 0;
    fl_table *t = open_table("index-coverage", &db);
    append_rows(t, 1200, 300); /* fragments 0-3 */
    uint64_t before_index = fl_table_version(t);
    create_all(t);
    uint32_t cov, total;
    tally tl = {0};

    /* Appended rows: a new fragment the indexes do not cover. */
    append_rows(t, 250, 300);
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 4);
    CHECK_EQ_INT(total, 5);
    random_predicates(t, 300, &tl);
    fl_index_selection sel;
    fl_expr *e;
    CHECK_OK(fl_expr_compile_filter("k = 1", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && sel.n_fragments == 4 && !sel.covered[4]);
    fl_index_selection_clear(&sel);

    /* Update extends every index in one commit; a second update commits nothing. */
    uint64_t v = fl_table_version(t);
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), v + 1);
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    CHECK_OK(fl_index_update(t, "k_idx", &tl_err));
    CHECK_EQ_INT(fl_table_version(t), v + 1);
    coverage_of(t, "tags_idx", &cov, &total);
    CHECK_EQ_INT(cov, 5);
    CHECK_EQ_INT(t->m->indexes[0].n_files, 2);
    random_predicates(t, 300, &tl);

    /* A rewrite of column k in fragment 1 uncovers it for k_idx only. */
    fl_schema *ks;
    CHECK_OK(fl_schema_parse("k int32", &ks, &tl_err));
    fl_batch *kb = fl_batch_new(ks);
    uint64_t ids[3] = {300, 301, 450};
    for (int i = 0; i < 3; i++) fl_array_append_int(&kb->columns[0], 7777 + i);
    CHECK_OK(fl_batch_finish(kb, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(kb, ids, 3));
    CHECK_OK(fl_table_update(t, kb, &tl_err));
    fl_batch_free(kb);
    fl_schema_free(ks);
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 4);
    coverage_of(t, "w_idx", &cov, &total);
    CHECK_EQ_INT(cov, 5);
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && sel.n_fragments == 4 && !sel.covered[1]);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    CHECK_EQ_INT(check_where(t, "k = 7777", NULL), 1);
    random_predicates(t, 300, &tl);
    CHECK_OK(fl_index_update(t, "k_idx", &tl_err));
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 5);
    CHECK_OK(fl_expr_compile_filter("k = 7778", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && sel.exact && sel.n_rows == 1 && sel.row_ids[0] == 301);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);

    /* Deleted rows are never candidates. */
    uint64_t del[4] = {0, 1, 2, 301};
    CHECK_OK(fl_table_delete_rows(t, del, 4, &tl_err));
    CHECK_OK(fl_expr_compile_filter("k = 7778 OR k IS NULL OR k >= -100", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && sel.exact);
    CHECK_EQ_INT(sel.n_rows, fl_table_count_rows(t));
    for (uint64_t i = 0; i < sel.n_rows; i++) CHECK(sel.row_ids[i] > 2 && sel.row_ids[i] != 301);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    random_predicates(t, 300, &tl);

    /* Compaction replaces fragments: their coverage goes, results stay right, update restores it. */
    fl_compact_options co = {.target_rows_per_fragment = 100000};
    fl_compact_stats cs;
    CHECK_OK(fl_table_compact(t, &co, &cs, &tl_err));
    CHECK_EQ_INT(cs.fragments_added, 1);
    coverage_of(t, "w_idx", &cov, &total);
    CHECK_EQ_INT(cov, 0);
    CHECK_EQ_INT(total, 1);
    CHECK_EQ_INT(t->m->indexes[1].n_files, 0);
    CHECK_EQ_INT(check_where(t, "w = 'rainy'", NULL), 0);
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    coverage_of(t, "w_idx", &cov, &total);
    CHECK_EQ_INT(cov, 1);
    random_predicates(t, 300, &tl);

    /* Many small updates: at most 8 files, then everything is rebuilt into one. */
    int rebuilt = 0;
    for (int i = 0; i < 10; i++) {
        append_rows(t, 40, 300);
        uint32_t before = t->m->indexes[0].n_files;
        CHECK_OK(fl_index_update(t, "k_idx", &tl_err));
        CHECK(t->m->indexes[0].n_files <= 8);
        rebuilt += t->m->indexes[0].n_files < before;
    }
    CHECK_EQ_STR(t->m->indexes[0].name, "k_idx");
    CHECK_EQ_INT(rebuilt, 1);
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, total);
    random_predicates(t, 200, &tl);

    /* Time travel: the version before the indexes has none. */
    CHECK_OK(fl_table_checkout(t, before_index, &tl_err));
    CHECK_EQ_INT(t->m->n_indexes, 0);
    CHECK_EQ_INT(check_where(t, "k = 1", NULL), 0);
    fl_index_info *list;
    size_t n;
    CHECK_OK(fl_index_list(t, &list, &n, &tl_err));
    CHECK_EQ_INT(n, 0);
    fl_index_info_free(list, n);
    /* A version between: the indexes of that version, with its coverage. */
    CHECK_OK(fl_table_checkout(t, before_index + 9, &tl_err));
    CHECK_EQ_INT(t->m->n_indexes, 8);
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 4);
    CHECK_EQ_INT(total, 5);
    random_predicates(t, 200, &tl);
    CHECK_OK(fl_table_checkout(t, 0, &tl_err));
    CHECK(tl.applied > 500);
    fl_table_close(t);
    fl_db_close(db);
}

static int count_files(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_drop_and_cleanup(void) {
    fl_db *db;
    rng_state = 77;
    next_id = 0;
    fl_table *t = open_table("index-cleanup", &db);
    append_rows(t, 500, 250);
    CHECK_OK(fl_index_create(t, "w", "bitmap", "weather", &tl_err));
    append_rows(t, 100, 250);
    CHECK_OK(fl_index_update(t, "weather", &tl_err));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/t/_indexes", db_dir);
    CHECK_EQ_INT(count_files(dir), 2);
    uint64_t with_index = fl_table_version(t);
    CHECK_OK(fl_index_drop(t, "weather", &tl_err));
    CHECK_EQ_INT(t->m->n_indexes, 0);
    CHECK_EQ_INT(fl_index_drop(t, "weather", &tl_err), FL_ENOTFOUND);
    fl_version_info *vs;
    size_t nv;
    CHECK_OK(fl_table_list_versions(t, &vs, &nv, &tl_err));
    CHECK_EQ_STR(vs[nv - 1].detail, "drop weather");
    free(vs);
    /* Files of a retained version stay. */
    fl_cleanup_options keep = {.older_than_ms = -1, .keep_versions = 100, .grace_ms = 0};
    CHECK_OK(fl_table_cleanup(t, &keep, NULL, &tl_err));
    CHECK_EQ_INT(count_files(dir), 2);
    CHECK_OK(fl_table_checkout(t, with_index, &tl_err));
    CHECK_EQ_INT(check_where(t, "w = 'rainy'", NULL), 1);
    CHECK_OK(fl_table_checkout(t, 0, &tl_err));
    /* Once no kept version references them, they go. */
    fl_cleanup_options all = {.older_than_ms = -1, .keep_versions = 0, .grace_ms = 0};
    fl_cleanup_stats st;
    CHECK_OK(fl_table_cleanup(t, &all, &st, &tl_err));
    CHECK_EQ_INT(count_files(dir), 0);
    fl_table_close(t);
    fl_db_close(db);
}

/* A small table written by hand: 5 rows in 3 fragments, with NULLs, an empty list and a NULL element. */
static fl_table *exact_table(const char *tag, fl_db **db) {
    fl_schema *s;
    fl_table *t = NULL;
    ref_reset();
    CHECK_OK(fl_db_open(tl_tmpdir(tag), FL_OPEN_CREATE, db, &tl_err));
    CHECK_OK(fl_schema_parse("id int64, weather string, n int64, cats list<string>, ok bool", &s, &tl_err));
    CHECK_OK(fl_table_create(*db, "t", s, &t, &tl_err));
    const char *rows = "{\"id\":0,\"weather\":\"rainy\",\"n\":5,\"cats\":[\"car\",\"person\"],\"ok\":true}\n"
                       "{\"id\":1,\"weather\":null,\"n\":null,\"cats\":null,\"ok\":null}\n"
                       "{\"id\":2,\"weather\":\"clear\",\"n\":-3,\"cats\":[],\"ok\":false}\n"
                       "{\"id\":3,\"weather\":\"rainy\",\"n\":9,\"cats\":[\"bus\",null],\"ok\":true}\n"
                       "{\"id\":4,\"weather\":\"foggy\",\"n\":5,\"cats\":[\"car\",\"car\"],\"ok\":false}\n";
    fl_batch *b;
    fl_write_options wo = {.max_rows_per_fragment = 2};
    CHECK_OK(fl_batch_from_jsonl(s, rows, strlen(rows), "rows", &b, &tl_err));
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
    CHECK_OK(fl_index_create(t, "weather", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "n", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "cats", "label_list", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "ok", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "weather", "btree", "weather_tree", &tl_err));
    return t;
}

/* Exact row sets on the hand-written table. */
static void test_exact_rows(void) {
    fl_db *db;
    fl_table *t = exact_table("index-exact", &db);
    struct {
        const char *where;
        const char *rows;
    } cases[] = {
        {"weather = 'rainy'", "0,3"},
        {"NOT (weather = 'rainy')", "2,4"},
        {"weather != 'rainy'", "2,4"},
        {"weather IS NULL", "1"},
        {"weather NOT IN ('clear', NULL)", ""},
        {"weather IN ('clear', NULL)", "2"},
        {"n > 0", "0,3,4"},
        {"n BETWEEN -3 AND 5", "0,2,4"},
        {"NOT (n <= 5)", "3"},
        {"n = 5.0", "0,4"},
        {"n < 5.5", "0,2,4"},
        {"array_has(cats, 'car')", "0,4"},
        {"NOT array_has(cats, 'car')", "2,3"},
        {"array_has_any(cats, ARRAY['bus', 'person'])", "0,3"},
        {"array_has_all(cats, ARRAY['car', 'person'])", "0"},
        {"array_has_all(cats, ARRAY['car', NULL])", ""},
        {"cats IS NULL", "1"},
        {"ok", "0,3"},
        {"ok IS NOT TRUE", "1,2,4"},
        {"NOT ok", "2,4"},
        {"(weather = 'rainy') IS NOT FALSE", "0,1,3"},
        {"weather = 'rainy' OR n = 5", "0,3,4"},
        {"weather = 'rainy' AND NOT (n > 6)", "0"},
        {"weather LIKE 'rai%'", "0,3"},
        {"weather NOT LIKE 'rai%'", "2,4"},
        {"weather LIKE 'foggy'", "4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_expr *e;
        fl_index_selection sel;
        char got[256] = "";
        CHECK_OK(fl_expr_compile_filter(cases[i].where, fl_table_schema(t), &e, &tl_err));
        CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
        CHECK(sel.applies && sel.exact && sel.n_fragments == 3);
        for (uint64_t k = 0; k < sel.n_rows; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? "," : "", (unsigned long long)sel.row_ids[k]);
        if (strcmp(got, cases[i].rows)) fprintf(stderr, "  WHERE %s\n", cases[i].where);
        CHECK_EQ_STR(got, cases[i].rows);
        check_where(t, cases[i].where, NULL);
        fl_index_selection_clear(&sel);
        fl_expr_free(e);
    }
    /* A pattern with a wildcard inside: the prefix range is a superset; ILIKE and a leading % use no index. */
    fl_expr *e;
    fl_index_selection sel;
    CHECK_OK(fl_expr_compile_filter("weather LIKE 'ra_ny'", fl_table_schema(t), &e, &tl_err));
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    CHECK(sel.applies && !sel.exact && sel.n_rows == 2);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    CHECK_EQ_INT(check_where(t, "weather ILIKE 'ra%'", NULL), 0);
    CHECK_EQ_INT(check_where(t, "weather LIKE '%y'", NULL), 0);
    CHECK_EQ_INT(check_where(t, "weather NOT LIKE 'r_iny'", NULL), 0);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_errors(void) {
    fl_db *db;
    rng_state = 5;
    next_id = 0;
    fl_table *t = open_table("index-errors", &db);
    append_rows(t, 50, 100);
    CHECK_EQ_INT(fl_index_create(t, "nope", "btree", NULL, &tl_err), FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "table 't': column 'nope' not found");
    CHECK_EQ_INT(fl_index_create(t, "w", "label_list", NULL, &tl_err), FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 't': a label_list index needs a list<string> column; column 'w' is string");
    CHECK_EQ_INT(fl_index_create(t, "x", "bitmap", NULL, &tl_err), FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 't': a bitmap index needs an integer, boolean, string or timestamp column; column 'x' is float64");
    CHECK_EQ_INT(fl_index_create(t, "tags", "btree", NULL, &tl_err), FL_ETYPE);
    CHECK_EQ_INT(fl_index_create(t, "k", "hash", NULL, &tl_err), FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "unknown index type 'hash' (use btree, bitmap, label_list, fts, ivf_pq, ivf_flat or hamming)");
    CHECK_EQ_INT(fl_index_create(t, "k", "btree", "bad/name", &tl_err), FL_EINVAL);
    CHECK_OK(fl_index_create(t, "k", "btree", NULL, &tl_err));
    CHECK_EQ_INT(fl_index_create(t, "w", "bitmap", "k_idx", &tl_err), FL_EEXIST);
    CHECK_EQ_STR(tl_err.message, "table 't': index 'k_idx' already exists");
    CHECK_EQ_INT(fl_index_update(t, "nope", &tl_err), FL_ENOTFOUND);
    CHECK_OK(fl_index_create(t, "id", "bitmap", NULL, &tl_err));
    /* A string longer than an index key may be is refused at build time, not found corrupt later. */
    fl_schema *ws;
    CHECK_OK(fl_schema_parse("w string", &ws, &tl_err));
    fl_batch *wb = fl_batch_new(ws);
    char *huge = malloc(FL_IX_MAX_KEY + 2);
    memset(huge, 'x', FL_IX_MAX_KEY + 1);
    huge[FL_IX_MAX_KEY + 1] = 0;
    fl_array_append_string(&wb->columns[0], huge);
    free(huge);
    uint64_t wid = 7;
    CHECK_OK(fl_batch_finish(wb, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(wb, &wid, 1));
    CHECK_OK(fl_table_update(t, wb, &tl_err));
    fl_batch_free(wb);
    fl_schema_free(ws);
    CHECK_EQ_INT(fl_index_create(t, "w", "btree", NULL, &tl_err), FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "column 'w': row id 7 holds a value of 1048577 bytes, longer than an index key may be (1048576)");
    /* Dropping the column drops its index; renaming keeps it. */
    CHECK_OK(fl_table_rename_column(t, "k", "k2", &tl_err));
    fl_index_info *list;
    size_t n;
    CHECK_OK(fl_index_list(t, &list, &n, &tl_err));
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].column, "k2");
    CHECK_EQ_INT(list[0].fragments_covered, 1);
    fl_index_info_free(list, n);
    CHECK_EQ_INT(check_where(t, "k2 > 3", NULL), 1);
    /* An index entry of another kind (no coverage parameter) passes through commits untouched and is
     * ignored by the planner. */
    txn x = {.kind = OP_INDEX};
    fl_index_ref *foreign = fl_calloc(1, sizeof *foreign);
    foreign->name = fl_strdup("emb_idx");
    foreign->type = fl_strdup("hnsw");
    foreign->field_ids = fl_malloc(sizeof(int32_t));
    foreign->field_ids[0] = t->m->schema->fields[fl_schema_find(t->m->schema, "x")].id;
    foreign->n_field_ids = 1;
    foreign->files = fl_calloc(1, sizeof(char *));
    foreign->files[0] = fl_strdup("_indexes/vectors.ivf");
    foreign->n_files = 1;
    foreign->fragment_ids = fl_malloc(sizeof(uint64_t));
    foreign->fragment_ids[0] = t->m->fragments[0].id;
    foreign->n_fragment_ids = 1;
    x.index_changes = fl_calloc(1, sizeof *x.index_changes);
    x.index_changes[0].name = fl_strdup("emb_idx");
    x.index_changes[0].after = foreign;
    x.n_index_changes = 1;
    CHECK_OK(txn_commit(t, &x, &tl_err));
    txn_clear(&x);
    append_rows(t, 10, 100);
    CHECK_EQ_INT(t->m->n_indexes, 3);
    CHECK_EQ_STR(t->m->indexes[2].type, "hnsw");
    CHECK_EQ_INT(t->m->indexes[2].n_fragment_ids, 1);
    CHECK_EQ_INT(t->m->indexes[2].n_files, 1);
    CHECK_EQ_INT(check_where(t, "x > 1", NULL), 0);
    CHECK_OK(fl_index_list(t, &list, &n, &tl_err));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(list[2].fragments_covered, 0);
    fl_index_info_free(list, n);
    CHECK_OK(fl_index_drop(t, "emb_idx", &tl_err));
    const char *drop[] = {"k2"};
    CHECK_OK(fl_table_drop_columns(t, drop, 1, &tl_err));
    CHECK_EQ_INT(t->m->n_indexes, 1);
    fl_table_close(t);
    fl_db_close(db);
}

/* The path of the first file of index `i`. */
static char *index_file(fl_table *t, uint32_t i) { return fl_table_path(t, t->m->indexes[i].files[0]); }

static void test_corrupt(void) {
    fl_db *db;
    rng_state = 99;
    next_id = 0;
    fl_table *t = open_table("index-corrupt", &db);
    append_rows(t, 3000, 3000);
    CHECK_OK(fl_index_create(t, "k", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "tags", "label_list", NULL, &tl_err));
    for (uint32_t i = 0; i < 2; i++) {
        char *path = index_file(t, i);
        ix_file *f;
        uint64_t entries;
        CHECK_OK(ix_file_open(path, &f, &tl_err));
        CHECK_OK(ix_file_check(f, &entries, &tl_err));
        ix_file_close(f);
        struct stat stt;
        CHECK(stat(path, &stt) == 0);
        uint8_t *orig = malloc((size_t)stt.st_size);
        FILE *fp = fopen(path, "rb");
        CHECK(fp && fread(orig, 1, (size_t)stt.st_size, fp) == (size_t)stt.st_size);
        fclose(fp);
        /* Filters that read every block (the NOT needs the NULL rows too): unread blocks are checked only
         * when some lookup reads them. */
        const char *where = i == 0 ? "NOT (k > -100)" : "NOT array_has_any(tags, ARRAY['car', 'bus', 'bike', 'person', 'rider', 'truck'])";
        /* Every byte position class: header, a block, the footer, the tail; each flip is caught. */
        size_t positions[] = {0, 9, 100, (size_t)stt.st_size / 2, (size_t)stt.st_size - 40, (size_t)stt.st_size - 20, (size_t)stt.st_size - 1};
        for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++) {
            uint8_t *bad = malloc((size_t)stt.st_size);
            memcpy(bad, orig, (size_t)stt.st_size);
            bad[positions[p]] ^= 0x5A;
            tl_write_file(path, bad, (size_t)stt.st_size);
            free(bad);
            fl_expr *e;
            fl_index_selection sel;
            CHECK_OK(fl_expr_compile_filter(where, fl_table_schema(t), &e, &tl_err));
            int rc = fl_index_select(t, e->root, &sel, &tl_err);
            if (rc != FL_ECORRUPT) fprintf(stderr, "  flip at %zu of %s: rc %d\n", positions[p], path, rc);
            CHECK_EQ_INT(rc, FL_ECORRUPT);
            CHECK(strstr(tl_err.message, path) != NULL && strstr(tl_err.message, "byte ") != NULL);
            fl_expr_free(e);
        }
        /* Truncated files. */
        for (size_t cut = 0; cut < (size_t)stt.st_size; cut += (size_t)stt.st_size / 7 + 1) {
            tl_write_file(path, orig, cut);
            fl_expr *e;
            fl_index_selection sel;
            CHECK_OK(fl_expr_compile_filter(where, fl_table_schema(t), &e, &tl_err));
            CHECK_EQ_INT(fl_index_select(t, e->root, &sel, &tl_err), FL_ECORRUPT);
            fl_expr_free(e);
        }
        /* Missing. */
        remove(path);
        fl_expr *e;
        fl_index_selection sel;
        CHECK_OK(fl_expr_compile_filter(where, fl_table_schema(t), &e, &tl_err));
        CHECK_EQ_INT(fl_index_select(t, e->root, &sel, &tl_err), FL_ECORRUPT);
        CHECK(strstr(tl_err.message, "missing") != NULL);
        fl_expr_free(e);
        tl_write_file(path, orig, (size_t)stt.st_size);
        CHECK_EQ_INT(check_where(t, where, NULL), 1);
        free(orig);
        fl_free(path);
    }
    fl_table_close(t);
    fl_db_close(db);
}

/* A point lookup on a 200k-row btree reads the tail, the footer and one page, not the index. */
static void test_point_lookup_cost(void) {
    fl_db *db;
    fl_schema *s;
    fl_table *t;
    ref_reset();
    CHECK_OK(fl_db_open(tl_tmpdir("index-cost"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("id int64, name string", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    char name[32];
    for (int64_t i = 0; i < 200000; i++) {
        fl_array_append_int(&b->columns[0], (i * 7919) % 200000);
        snprintf(name, sizeof name, "frame-%07lld", (long long)((i * 104729) % 200000));
        fl_array_append_string(&b->columns[1], name);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
    CHECK_OK(fl_index_create(t, "id", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "name", "btree", NULL, &tl_err));
    const char *wheres[] = {"id = 123456", "name = 'frame-0123456'"};
    for (int w = 0; w < 2; w++) {
        fl_expr *e;
        fl_index_selection sel;
        fl_io_counters c0, c1;
        CHECK_OK(fl_expr_compile_filter(wheres[w], fl_table_schema(t), &e, &tl_err));
        fl_io_get_counters(&c0);
        CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
        fl_io_get_counters(&c1);
        CHECK(sel.applies && sel.exact);
        CHECK_EQ_INT(sel.n_rows, 1);
        CHECK_EQ_INT(c1.reads - c0.reads, 4); /* tail, header, footer, one page */
        CHECK(c1.bytes_read - c0.bytes_read < 200000);
        check_where(t, wheres[w], NULL);
        fl_index_selection_clear(&sel);
        fl_expr_free(e);
    }
    char *path = index_file(t, 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 3000000);
    fl_free(path);
    /* A bitmap (1000 distinct values) reads the footer and one row set: a few KiB of a 600 KiB file. */
    fl_schema *bs;
    CHECK_OK(fl_schema_parse("bucket int32", &bs, &tl_err));
    fl_batch *vals = fl_batch_new(bs);
    for (int64_t i = 0; i < 200000; i++) fl_array_append_int(&vals->columns[0], (int32_t)((i * 7) % 1000));
    uint64_t *ids = malloc(200000 * sizeof *ids);
    for (uint64_t i = 0; i < 200000; i++) ids[i] = i;
    CHECK_OK(fl_batch_finish(vals, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(vals, ids, 200000));
    free(ids);
    CHECK_OK(fl_table_add_columns(t, bs, vals, &tl_err));
    fl_batch_free(vals);
    fl_schema_free(bs);
    CHECK_OK(fl_index_create(t, "bucket", "bitmap", NULL, &tl_err));
    path = index_file(t, 2);
    CHECK(stat(path, &st) == 0 && st.st_size > 200000);
    fl_free(path);
    fl_expr *e;
    fl_index_selection sel;
    fl_io_counters c0, c1;
    CHECK_OK(fl_expr_compile_filter("bucket = 777", fl_table_schema(t), &e, &tl_err));
    fl_io_get_counters(&c0);
    CHECK_OK(fl_index_select(t, e->root, &sel, &tl_err));
    fl_io_get_counters(&c1);
    CHECK(sel.applies && sel.exact);
    CHECK_EQ_INT(sel.n_rows, 200);
    CHECK_EQ_INT(c1.reads - c0.reads, 4); /* tail, header, footer, one row set */
    CHECK(c1.bytes_read - c0.bytes_read < 40000);
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    fl_table_close(t);
    fl_db_close(db);
}


/* ---- kill -9 in the middle of index builds ---- */

static const char *kill_dir;

static void kill_child(void *ctx) {
    (void)ctx;
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(kill_dir, 0, &db, &err) || fl_table_open(db, "t", NULL, &t, &err)) _exit(3);
    for (int round = 0; round < 6; round++) {
        static const char *cols[][2] = {{"k", "btree"}, {"w", "bitmap"}, {"tags", "label_list"}, {"x", "btree"}, {"w", "fts"}};
        for (int i = 0; i < 5; i++) {
            char name[32];
            snprintf(name, sizeof name, "ix%d", i);
            int rc = fl_index_drop(t, name, &err);
            if (rc != FL_OK && rc != FL_ENOTFOUND) _exit(4);
            if (fl_index_create(t, cols[i][0], cols[i][1], name, &err)) _exit(5);
        }
        if (fl_index_update(t, NULL, &err)) _exit(6);
    }
    fl_table_close(t);
    fl_db_close(db);
    _exit(0);
}

/* After each kill: the latest version opens, its indexes read back whole and answer correctly. */
static void kill_after(void *ctx) {
    (void)ctx;
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(kill_dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    ref_reset();
    for (uint32_t i = 0; i < t->m->n_indexes; i++)
        for (uint32_t f = 0; f < t->m->indexes[i].n_files; f++) {
            char *path = fl_table_path(t, t->m->indexes[i].files[f]);
            uint64_t entries;
            if (!strcmp(t->m->indexes[i].type, "fts")) {
                fts_file *ff = NULL;
                CHECK_OK(fts_file_open(path, &ff, &tl_err));
                if (ff) CHECK_OK(fts_file_check(ff, &entries, &tl_err));
                fts_file_close(ff);
            } else {
                ix_file *ix;
                CHECK_OK(ix_file_open(path, &ix, &tl_err));
                if (ix) CHECK_OK(ix_file_check(ix, &entries, &tl_err));
                ix_file_close(ix);
            }
            fl_free(path);
        }
    random_predicates(t, 25, NULL);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_kill_during_builds(void) {
    fl_db *db;
    rng_state = 4242;
    next_id = 0;
    fl_table *t = open_table("index-kill", &db);
    kill_dir = db_dir;
    append_rows(t, 40000, 8000);
    fl_table_close(t);
    fl_db_close(db);
    int killed = tl_kill_rounds(12, 400000, 17, kill_child, kill_after, NULL);
    fprintf(stderr, "  %d of 12 rounds killed mid-work\n", killed);
    CHECK(killed >= 6);
    /* Cleanup removes what killed builds left behind and keeps what the latest version references. */
    CHECK_OK(fl_db_open(kill_dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    fl_cleanup_options co = {.older_than_ms = -1, .keep_versions = 0, .grace_ms = 0};
    CHECK_OK(fl_table_cleanup(t, &co, NULL, &tl_err));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/t/_indexes", kill_dir);
    uint32_t referenced = 0;
    for (uint32_t i = 0; i < t->m->n_indexes; i++) referenced += t->m->indexes[i].n_files;
    CHECK_EQ_INT(count_files(dir), referenced);
    fl_table_close(t);
    fl_db_close(db);
    kill_after(NULL);
}

/* Allocation failures at every point of index builds, updates, drops and selections: a clean error or
 * success, never a crash or a leak (ASan), and afterwards the table and its indexes are consistent. */
static void test_allocation_failures(void) {
    fl_db *db;
    rng_state = 31337;
    next_id = 0;
    fl_table *t = open_table("index-oom", &db);
    append_rows(t, 300, 100);
    const char *kinds[][2] = {{"k", "btree"}, {"w", "bitmap"}, {"tags", "label_list"}};
    int failures_seen = 0;
    for (int kind = 0; kind < 3; kind++) {
        for (long n = 1;; n++) {
            fl_error err = {0};
            fl_alloc_fail_after(n);
            int rc = fl_index_create(t, kinds[kind][0], kinds[kind][1], "oom_idx", &err);
            fl_alloc_fail_after(0);
            if (rc == FL_OK) break;
            /* Reading data files may report a failed allocation as a damaged read; any clean error will do. */
            CHECK(t->m->n_indexes == 0);
            failures_seen++;
        }
        append_rows(t, 50, 100);
        for (long n = 1;; n++) {
            fl_error err = {0};
            uint64_t v = fl_table_version(t);
            fl_alloc_fail_after(n);
            int rc = fl_index_update(t, NULL, &err);
            fl_alloc_fail_after(0);
            if (rc == FL_OK) {
                CHECK_EQ_INT(fl_table_version(t), v + 1);
                break;
            }
            CHECK_EQ_INT(fl_table_version(t), v);
        }
        const char *where = kind == 0 ? "NOT (k > 3) OR k IS NULL" : kind == 1 ? "w IN ('rainy', NULL) AND NOT (w != 'clear')"
                                                                               : "array_has_all(tags, ARRAY['car', 'bus']) OR tags IS NULL";
        fl_expr *e;
        CHECK_OK(fl_expr_compile_filter(where, fl_table_schema(t), &e, &tl_err));
        for (long n = 1;; n++) {
            fl_error err = {0};
            fl_index_selection sel;
            fl_alloc_fail_after(n);
            int rc = fl_index_select(t, e->root, &sel, &err);
            fl_alloc_fail_after(0);
            if (rc == FL_OK) {
                CHECK(sel.applies && sel.exact);
                fl_index_selection_clear(&sel);
                break;
            }
            CHECK(rc == FL_ENOMEM);
            CHECK(sel.row_ids == NULL && !sel.applies);
        }
        fl_expr_free(e);
        check_where(t, where, NULL);
        for (long n = 1;; n++) {
            fl_error err = {0};
            fl_alloc_fail_after(n);
            int rc = fl_index_drop(t, "oom_idx", &err);
            fl_alloc_fail_after(0);
            if (rc == FL_OK) break;
            CHECK(rc == FL_ENOMEM);
        }
        CHECK_EQ_INT(t->m->n_indexes, 0);
    }
    CHECK(failures_seen > 30);
    fl_table_close(t);
    fl_db_close(db);
}

/* Golden index files (tests/golden/index, written by FL_GOLDEN_WRITE=1 build/tests/test_index with the
 * format-1 writer): this build must write the same bytes and read them back with exact answers. */
static void test_golden_files(void) {
    static const char *names[] = {"weather_idx", "n_idx", "cats_idx", "ok_idx", "weather_tree"};
    const char *dir = getenv("FL_GOLDEN_INDEX_DIR") ? getenv("FL_GOLDEN_INDEX_DIR") : "tests/golden/index";
    bool write = getenv("FL_GOLDEN_WRITE") != NULL;
    fl_db *db;
    fl_table *t = exact_table("index-golden", &db);
    for (uint32_t i = 0; i < 5; i++) {
        CHECK_EQ_STR(t->m->indexes[i].name, names[i]);
        char *path = index_file(t, i);
        char golden[4096];
        snprintf(golden, sizeof golden, "%s/%s.idx", dir, names[i]);
        uint8_t *mine, *theirs;
        size_t n_mine, n_theirs;
        CHECK_OK(fl_io_read_file(path, &mine, &n_mine, &tl_err));
        if (write) tl_write_file(golden, mine, n_mine);
        CHECK_OK(fl_io_read_file(golden, &theirs, &n_theirs, &tl_err));
        CHECK(n_mine == n_theirs && !memcmp(mine, theirs, n_mine));
        fl_free(mine);
        fl_free(theirs);
        fl_free(path);
    }
    fl_table_close(t);
    fl_db_close(db);
    /* Reading the committed bytes directly. */
    struct {
        const char *name;
        const char *lo, *hi;    /* inclusive bounds as text ("" unbounded) */
        int set;                /* or a special set */
        const char *rows;
    } cases[] = {
        {"weather_idx", "rainy", "rainy", -1, "0,3"},
        {"weather_idx", "", "foggy", -1, "2,4"},
        {"weather_idx", "", "", IX_SET_NULL, "1"},
        {"n_idx", "5", "5", -1, "0,4"},
        {"n_idx", "-10", "8", -1, "0,2,4"},
        {"n_idx", "", "", IX_SET_NULL, "1"},
        {"cats_idx", "car", "car", -1, "0,4"},
        {"cats_idx", "", "", -1, "0,0,3,4"},
        {"cats_idx", "", "", IX_SET_EMPTY, "2"},
        {"cats_idx", "", "", IX_SET_NULL, "1"},
        {"ok_idx", "1", "1", -1, "0,3"},
        {"weather_tree", "clear", "foggy", -1, "2,4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096], got[256] = "";
        snprintf(path, sizeof path, "%s/%s.idx", dir, cases[i].name);
        ix_file *f;
        CHECK_OK(ix_file_open(path, &f, &tl_err));
        if (!f) continue;
        ix_rows rows = {0};
        if (cases[i].set >= 0) CHECK_OK(ix_file_read_set(f, cases[i].set, &rows, &tl_err));
        else {
            ix_key lo = {.type = ix_file_key_type(f)}, hi = lo;
            if (lo.type == IX_KEY_STRING) {
                lo.s = (const uint8_t *)cases[i].lo;
                lo.len = strlen(cases[i].lo);
                hi.s = (const uint8_t *)cases[i].hi;
                hi.len = strlen(cases[i].hi);
            } else {
                lo.i = atoll(cases[i].lo);
                hi.i = atoll(cases[i].hi);
            }
            CHECK_OK(ix_file_range(f, cases[i].lo[0] ? &lo : NULL, true, cases[i].hi[0] ? &hi : NULL, true, &rows, &tl_err));
        }
        /* Sorted without removing duplicates: a row appears once per key it has. */
        for (size_t a = 1; a < rows.n; a++)
            for (size_t b = a; b > 0 && rows.ids[b] < rows.ids[b - 1]; b--) {
                uint64_t x = rows.ids[b];
                rows.ids[b] = rows.ids[b - 1];
                rows.ids[b - 1] = x;
            }
        for (size_t k = 0; k < rows.n; k++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? "," : "", (unsigned long long)rows.ids[k]);
        if (strcmp(got, cases[i].rows)) fprintf(stderr, "  golden %s [%s, %s]\n", cases[i].name, cases[i].lo, cases[i].hi);
        CHECK_EQ_STR(got, cases[i].rows);
        ix_rows_free(&rows);
        ix_file_close(f);
    }
}

/* Index commits racing other writers (two handles): a build rebases over an append (the new fragment is not
 * covered) and over an update of its column (the rewritten fragment is not covered); concurrent creates of
 * one name and updates of a changed index conflict cleanly. */
static void test_concurrent_writers(void) {
    fl_db *db;
    rng_state = 2024;
    next_id = 0;
    fl_table *a = open_table("index-concurrent", &db);
    append_rows(a, 600, 200); /* fragments 0-2 */
    fl_table *b;
    CHECK_OK(fl_table_open(db, "t", NULL, &b, &tl_err));
    /* b appends and rewrites k in fragment 1 while a (still at the old version) builds. */
    append_rows(b, 100, 200);
    fl_schema *ks;
    CHECK_OK(fl_schema_parse("k int32", &ks, &tl_err));
    fl_batch *kb = fl_batch_new(ks);
    uint64_t id = 250;
    fl_array_append_int(&kb->columns[0], 4242);
    CHECK_OK(fl_batch_finish(kb, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(kb, &id, 1));
    CHECK_OK(fl_table_update(b, kb, &tl_err));
    fl_batch_free(kb);
    fl_schema_free(ks);
    uint64_t v_before = fl_table_version(a);
    CHECK_OK(fl_index_create(a, "k", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(a, "w", "bitmap", NULL, &tl_err));
    CHECK_EQ_INT(fl_table_version(a), v_before + 4);
    uint32_t cov, total;
    coverage_of(a, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 2); /* fragments 0 and 2: 1 was rewritten, 3 is new */
    CHECK_EQ_INT(total, 4);
    coverage_of(a, "w_idx", &cov, &total); /* built after a's commit moved it to the latest version */
    CHECK_EQ_INT(cov, 4);
    CHECK_EQ_INT(check_where(a, "k = 4242", NULL), 1);
    random_predicates(a, 200, NULL);
    /* b (behind) creates the same name: the name is taken by the time it commits. */
    CHECK_EQ_INT(fl_index_create(b, "k", "bitmap", "k_idx", &tl_err), FL_EEXIST);
    /* b, at a version with k_idx, updates it after a dropped and recreated it: the entry changed. */
    CHECK_OK(fl_table_checkout(b, 0, &tl_err));
    CHECK_OK(fl_index_drop(a, "k_idx", &tl_err));
    CHECK_OK(fl_index_create(a, "k", "btree", NULL, &tl_err));
    append_rows(a, 10, 200);
    CHECK_EQ_INT(fl_index_update(b, "k_idx", &tl_err), FL_ECONFLICT);
    CHECK_OK(fl_table_checkout(b, 0, &tl_err));
    CHECK_OK(fl_index_update(b, "k_idx", &tl_err));
    coverage_of(b, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, total);
    fl_table_close(b);
    fl_table_close(a);
    fl_db_close(db);
}

/* Compaction keeps coverage when one index file served every fragment it merges (their rows keep ids
 * and values), and drops it otherwise. */
static void test_compaction_remap(void) {
    fl_db *db;
    rng_state = 777;
    next_id = 0;
    fl_table *t = open_table("index-remap", &db);
    append_rows(t, 2000, 2000);
    CHECK_OK(fl_index_create(t, "k", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "tags", "label_list", NULL, &tl_err));
    for (int i = 0; i < 3; i++) append_rows(t, 100, 1000);
    CHECK_OK(fl_index_update(t, NULL, &tl_err));
    uint64_t del[3] = {5, 2010, 2150};
    CHECK_OK(fl_table_delete_rows(t, del, 3, &tl_err));
    fl_compact_options co = {.target_rows_per_fragment = 1000};
    fl_compact_stats cs;
    CHECK_OK(fl_table_compact(t, &co, &cs, &tl_err));
    CHECK_EQ_INT(cs.fragments_removed, 3);
    CHECK_EQ_INT(cs.fragments_added, 1);
    uint32_t cov, total;
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 2);
    CHECK_EQ_INT(total, 2);
    coverage_of(t, "tags_idx", &cov, &total);
    CHECK_EQ_INT(cov, 2);
    CHECK_EQ_INT(t->m->indexes[0].n_files, 2);
    CHECK_EQ_INT(check_where(t, "k > -100 OR k IS NULL", NULL), 1);
    random_predicates(t, 300, NULL);
    /* Merging covered and uncovered fragments: the result is not covered. */
    append_rows(t, 50, 1000);
    CHECK_OK(fl_table_compact(t, &co, &cs, &tl_err));
    CHECK_EQ_INT(cs.fragments_added, 1);
    coverage_of(t, "k_idx", &cov, &total);
    CHECK_EQ_INT(cov, 1);
    CHECK_EQ_INT(total, 2);
    CHECK_EQ_INT(t->m->indexes[0].n_files, 1);
    random_predicates(t, 300, NULL);
    fl_table_close(t);
    fl_db_close(db);
}

int main(void) {
    RUN(test_exact_rows);
    RUN(test_golden_files);
    RUN(test_random_predicates);
    RUN(test_coverage);
    RUN(test_drop_and_cleanup);
    RUN(test_errors);
    RUN(test_corrupt);
    RUN(test_point_lookup_cost);
    RUN(test_compaction_remap);
    RUN(test_concurrent_writers);
    RUN(test_kill_during_builds);
    RUN(test_allocation_failures);
    ref_reset();
    return tl_finish("index");
}
