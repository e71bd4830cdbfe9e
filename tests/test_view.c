/*
 * test_view.c — materialized views: projection compilation, each kind of source change in isolation with
 * its exact delta and rows read, the property "incremental refresh == rebuild" over hundreds of random
 * operation sequences (views of views included), concurrent refreshes, kill -9 during a refresh, refused
 * refreshes (restore, dropped or replaced columns, recreated source), refused direct writes, and
 * reproducibility of a recorded (view, version) through later writes, compaction and cleanup.
 */
#include "testlib.h"
#include "query/project.h"
#include "query/select.h"
#include "table/table.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#define SRC_SCHEMA "id int64 not null, a int64, b string, c float64, flag bool, tags list<string>"

static uint64_t rng = 1;
static int64_t next_id = 0;

/* Appends n random rows (ids next_id...) in fragments of at most max_rows. */
static void append_rows(fl_table *t, int n, int64_t max_rows) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    static const char *words[] = {"kite", "car", "rider", "kart", "bus", "night"};
    for (int i = 0; i < n; i++) {
        fl_array *c = b->columns;
        fl_array_append_int(&c[0], next_id++);
        uint64_t r = tl_rand(&rng);
        r % 11 == 0 ? fl_array_append_null(&c[1]) : fl_array_append_int(&c[1], (int64_t)(r >> 8) % 40);
        r % 13 == 1 ? fl_array_append_null(&c[2]) : fl_array_append_string(&c[2], words[(r >> 16) % 6]);
        r % 7 == 2 ? fl_array_append_null(&c[3]) : fl_array_append_float(&c[3], (double)((int64_t)((r >> 24) % 200) - 100) / 10.0);
        r % 5 == 3 ? fl_array_append_null(&c[4]) : fl_array_append_bool(&c[4], (r >> 32) & 1);
        for (uint64_t k = 0; k < (r >> 40) % 3; k++) fl_array_append_string(&c[5].children[0], words[(r >> (44 + k)) % 6]);
        fl_array_end_list(&c[5]);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = max_rows};
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    fl_schema_free(s);
}

static fl_table *open_t(fl_db *db, const char *name) {
    fl_table *t = NULL;
    CHECK_OK(fl_table_open(db, name, NULL, &t, &tl_err));
    return t;
}

/* A table's rows as (row id, hash of the values) sorted by id. */
typedef struct row_sig {
    uint64_t id, hash;
} row_sig;

static int cmp_sig(const void *a, const void *b) {
    const row_sig *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static row_sig *signature(fl_table *t, size_t *n) {
    fl_scan *scan;
    fl_scan_options so = {.with_row_ids = true};
    size_t cap = 64, k = 0;
    row_sig *out = malloc(cap * sizeof *out);
    CHECK_OK(fl_scan_open(t, &so, &scan, &tl_err));
    for (;;) {
        fl_batch *b = NULL;
        CHECK_OK(fl_scan_next(scan, &b, &tl_err));
        if (!b) break;
        for (int64_t i = 0; i < b->num_rows; i++) {
            uint64_t h = 1469598103934665603ull;
            for (int32_t c = 0; c < b->n_columns; c++) {
                uint64_t v = fl_array_is_null(&b->columns[c], i) ? 0x9e3779b97f4a7c15ull : fl_value_hash(&b->columns[c], i);
                h = (h ^ v) * 1099511628211ull;
                h ^= (uint64_t)c << 56;
            }
            if (k == cap) out = realloc(out, (cap *= 2) * sizeof *out);
            out[k++] = (row_sig){b->row_ids[i], h};
        }
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    qsort(out, k, sizeof *out, cmp_sig);
    *n = k;
    return out;
}

/* Whether two tables hold the same rows (ids and values) with the same column names. */
static bool same_rows(fl_db *db, const char *x, const char *y) {
    fl_table *a = open_t(db, x), *b = open_t(db, y);
    if (!a || !b) return false;
    size_t na, nb;
    row_sig *sa = signature(a, &na), *sb = signature(b, &nb);
    bool same = na == nb && (na == 0 || !memcmp(sa, sb, na * sizeof *sa));
    const fl_schema *xa = fl_table_schema(a), *xb = fl_table_schema(b);
    same = same && xa->n_fields == xb->n_fields;
    for (int32_t i = 0; same && i < xa->n_fields; i++) same = !strcmp(xa->fields[i].name, xb->fields[i].name);
    for (size_t i = 1; same && i < na; i++) same = sa[i].id != sa[i - 1].id;
    if (!same) {
        fprintf(stderr, "  %s (%zu rows) differs from %s (%zu rows)\n", x, na, y, nb);
        for (size_t i = 0, j = 0; i < na || j < nb;) {
            if (j >= nb || (i < na && sa[i].id < sb[j].id)) fprintf(stderr, "    only in %s: %llu\n", x, (unsigned long long)sa[i++].id);
            else if (i >= na || sb[j].id < sa[i].id) fprintf(stderr, "    only in %s: %llu\n", y, (unsigned long long)sb[j++].id);
            else {
                if (sa[i].hash != sb[j].hash) fprintf(stderr, "    row %llu differs\n", (unsigned long long)sa[i].id);
                i++, j++;
            }
        }
    }
    free(sa);
    free(sb);
    fl_table_close(a);
    fl_table_close(b);
    return same;
}

static uint64_t view_source_version(fl_db *db, const char *view) {
    fl_view_info *info = NULL;
    CHECK_OK(fl_view_get(db, view, &info, &tl_err));
    uint64_t v = info ? info->source_version : 0;
    fl_view_info_free(info, 1);
    return v;
}

/* Rebuilds `oracle` (same definition as `view`) at the source version `view` reflects and compares. */
static bool matches_rebuild(fl_db *db, const char *view, const char *oracle) {
    fl_view_refresh_options o = {.full = true, .source_version = view_source_version(db, view)};
    fl_view_report r;
    CHECK_OK(fl_view_refresh(db, oracle, &o, &r, &tl_err));
    return same_rows(db, view, oracle);
}

static fl_view_report refresh(fl_db *db, const char *view) {
    fl_view_report r = {0};
    CHECK_OK(fl_view_refresh(db, view, NULL, &r, &tl_err));
    return r;
}

static int64_t count_where(fl_db *db, const char *table, const char *where) {
    fl_table *t = open_t(db, table);
    int64_t n = -1;
    CHECK_OK(fl_table_count_where(t, where, &n, &tl_err));
    fl_table_close(t);
    return n;
}

/* ---- projection ---- */

static void test_projection(void) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse(SRC_SCHEMA ", img binary, emb fixed_size_list<float32, 4>", &s, &tl_err));
    fl_projection *p = NULL;
    CHECK_OK(fl_projection_compile("id, a * 2 AS a2, b AS name, emb, c > 1 AS big", s, &p, &tl_err));
    if (p) {
        char *text = fl_schema_format(p->schema);
        CHECK_EQ_STR(text, "id int64 not null, a2 int64, name string, emb fixed_size_list<float32, 4>, big bool");
        free(text);
        CHECK_EQ_INT(p->n_items, 5);
        CHECK(p->items[0].column && !p->items[1].column && p->items[2].column && p->items[3].column && !p->items[4].column);
        CHECK_EQ_INT(p->exprs.n_columns, 5); /* id, a, b, emb, c */
    }
    fl_projection_free(p);
    CHECK_OK(fl_projection_compile(NULL, s, &p, &tl_err));
    if (p) {
        CHECK_EQ_INT(p->schema->n_fields, s->n_fields);
        CHECK_EQ_INT(p->exprs.n_columns, s->n_fields);
        CHECK(p->schema->fields[0].nullable == false);
    }
    fl_projection_free(p);
    /* Errors carry positions in the list. */
    fl_error e = {0};
    CHECK_EQ_INT(fl_projection_compile("id, a + 1", s, &p, &e), FL_EINVAL);
    CHECK(strstr(e.message, "needs a name") && strstr(e.message, "position 5"));
    CHECK_EQ_INT(fl_projection_compile("id, idd", s, &p, &e), FL_EINVAL);
    CHECK(strstr(e.message, "did you mean \"id\"") && strstr(e.message, "position 5"));
    CHECK_EQ_INT(fl_projection_compile("id, a AS id", s, &p, &e), FL_EINVAL);
    CHECK(strstr(e.message, "appears twice"));
    CHECK_EQ_INT(fl_projection_compile("id FROM t", s, &p, &e), FL_EINVAL);
    CHECK(strstr(e.message, "columns and expressions only"));
    CHECK_EQ_INT(fl_projection_compile("id,, a", s, &p, &e), FL_EINVAL);
    CHECK(strstr(e.message, "position"));
    /* Evaluation: bare columns copied, expressions computed and converted. */
    CHECK_OK(fl_projection_compile("b, a * 2 AS a2, tags", s, &p, &tl_err));
    fl_schema *in_s;
    CHECK_OK(fl_schema_parse("a int64, b string, tags list<string>", &in_s, &tl_err));
    fl_batch *in = fl_batch_new(in_s), *out = fl_batch_new(p->schema);
    fl_array_append_int(&in->columns[0], 21);
    fl_array_append_null(&in->columns[0]);
    fl_array_append_string(&in->columns[1], "x");
    fl_array_append_string(&in->columns[1], "y");
    fl_array_append_string(&in->columns[2].children[0], "t");
    fl_array_end_list(&in->columns[2]);
    fl_array_end_list(&in->columns[2]);
    CHECK_OK(fl_batch_finish(in, &tl_err));
    CHECK_OK(fl_projection_eval(p, in, out, &tl_err));
    CHECK_OK(fl_batch_finish(out, &tl_err));
    CHECK_EQ_INT(out->num_rows, 2);
    CHECK_EQ_INT(fl_array_get_int(&out->columns[1], 0), 42);
    CHECK(fl_array_is_null(&out->columns[1], 1));
    size_t len;
    CHECK(!memcmp(fl_array_get_bytes(&out->columns[0], 1, &len), "y", 1) && len == 1);
    int64_t ls, le;
    fl_array_get_list(&out->columns[2], 0, &ls, &le);
    CHECK_EQ_INT(le - ls, 1);
    fl_batch_free(in);
    fl_batch_free(out);
    fl_schema_free(in_s);
    fl_projection_free(p);
    fl_schema_free(s);
}

/* ---- row versions (table layer) ---- */

static void test_row_versions(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-rowversions"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    next_id = 0;
    append_rows(t, 100, 60); /* version 2: fragments of 60 and 40 rows */
    CHECK_EQ_INT(t->m->fragments[0].n_vruns, 0);
    CHECK_EQ_INT(fl_fragment_base_version(&t->m->fragments[0]), 2);
    CHECK_OK(fl_table_update_where(t, "b = 'q'", "id IN (3, 4, 10, 59, 61)", NULL, &tl_err)); /* version 3 */
    const fl_fragment *f = &t->m->fragments[0];
    /* rows 0-2 v2, 3-4 v3, 5-9 v2, 10 v3, 11-58 v2, 59 v3 */
    CHECK_EQ_INT(f->n_vruns, 6);
    uint64_t want[][2] = {{3, 2}, {2, 3}, {5, 2}, {1, 3}, {48, 2}, {1, 3}};
    for (uint32_t i = 0; i < 6 && i < f->n_vruns; i++) {
        CHECK_EQ_INT(f->vruns[i].count, want[i][0]);
        CHECK_EQ_INT(f->vruns[i].version, want[i][1]);
    }
    CHECK_EQ_INT(t->m->fragments[1].n_vruns, 3); /* 1 v2, 1 v3, 38 v2 */
    /* Deleting, then compacting: the survivors keep their versions. */
    CHECK_OK(fl_table_delete_where(t, "id IN (0, 1, 2, 10)", NULL, &tl_err)); /* version 4 */
    fl_compact_options co = {.target_rows_per_fragment = 1000};
    CHECK_OK(fl_table_compact(t, &co, NULL, &tl_err)); /* version 5 */
    CHECK_EQ_INT(t->m->n_fragments, 1);
    f = &t->m->fragments[0];
    /* live: 3-4 v3, 5-9 v2, 11-58 v2, 59 v3, 60 v2, 61 v3, 62-99 v2 */
    uint64_t want2[][2] = {{2, 3}, {53, 2}, {1, 3}, {1, 2}, {1, 3}, {38, 2}};
    CHECK_EQ_INT(f->n_vruns, 6);
    for (uint32_t i = 0; i < 6 && i < f->n_vruns; i++) {
        CHECK_EQ_INT(f->vruns[i].count, want2[i][0]);
        CHECK_EQ_INT(f->vruns[i].version, want2[i][1]);
    }
    /* They survive a reopen (encoded in the manifest) and restore marks the table. */
    fl_table_close(t);
    t = open_t(db, "src");
    CHECK_EQ_INT(t->m->fragments[0].n_vruns, 6);
    CHECK_EQ_INT(t->m->restored_at, 0);
    CHECK(t->m->table_id != 0);
    uint64_t id = t->m->table_id;
    CHECK_OK(fl_table_restore(t, 3, &tl_err)); /* version 6 */
    CHECK_EQ_INT(t->m->restored_at, 6);
    CHECK_EQ_INT(t->m->table_id, id);
    append_rows(t, 1, 0);
    CHECK_EQ_INT(t->m->restored_at, 6);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- each change kind ---- */

#define V_WHERE "a % 3 = 0 OR flag"
#define V_SELECT "id, a, b, c * 2 AS c2, tags"

static void create_pair(fl_db *db, const char *view, const char *oracle, const char *source, const char *where, const char *select) {
    fl_view_report r;
    CHECK_OK(fl_view_create(db, view, source, where, select, &r, &tl_err));
    CHECK(r.changed && r.full);
    CHECK_OK(fl_view_create(db, oracle, source, where, select, NULL, &tl_err));
}

static void test_each_change(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-changes"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 99;
    next_id = 0;
    append_rows(t, 1000, 300);
    create_pair(db, "v", "w", "src", V_WHERE, V_SELECT);
    int64_t in_view = count_where(db, "src", V_WHERE);
    CHECK_EQ_INT(count_where(db, "v", NULL), in_view);
    CHECK(matches_rebuild(db, "v", "w"));

    /* Nothing changed: nothing to do, no version. */
    fl_view_report r = refresh(db, "v");
    CHECK(!r.changed);
    CHECK_EQ_INT(r.version, 2);

    /* Appends: only the new rows are read. */
    append_rows(t, 100, 0);
    int64_t after = count_where(db, "src", V_WHERE);
    r = refresh(db, "v");
    CHECK(r.changed && !r.full);
    CHECK_EQ_INT(r.added, after - in_view);
    CHECK_EQ_INT(r.removed, 0);
    CHECK_EQ_INT(r.updated, 0);
    CHECK_EQ_INT(r.rows_read, 100);
    CHECK_EQ_INT(r.rows_after, after);
    CHECK(matches_rebuild(db, "v", "w"));

    /* A projected column changes on 10 rows in the view (and 10 outside it). */
    int64_t n_b = count_where(db, "src", "(" V_WHERE ") AND id < 200 AND id % 10 = 1");
    CHECK_OK(fl_table_update_where(t, "b = 'changed'", "id < 200 AND id % 10 = 1", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.updated, n_b);
    CHECK_EQ_INT(r.added + r.removed, 0);
    CHECK_EQ_INT(r.rows_read, 20);
    CHECK(matches_rebuild(db, "v", "w"));

    /* The filter's column changes: rows enter and leave. */
    int64_t leave = count_where(db, "src", "a % 3 = 0 AND NOT coalesce(flag, false) AND id >= 500 AND id < 530");
    int64_t enter = count_where(db, "src", "a % 3 = 2 AND NOT coalesce(flag, false) AND id >= 500 AND id < 530");
    CHECK_OK(fl_table_update_where(t, "a = a + 1", "id >= 500 AND id < 530", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.removed, leave);
    CHECK_EQ_INT(r.added, enter);
    CHECK_EQ_INT(r.rows_read, 30);
    CHECK(matches_rebuild(db, "v", "w"));

    /* A backfill: a column the filter reads goes from NULL to values on 40 rows. */
    CHECK_OK(fl_table_update_where(t, "flag = true", "flag IS NULL AND id < 400", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK(r.added > 0);
    CHECK_EQ_INT(r.removed, 0);
    CHECK(matches_rebuild(db, "v", "w"));

    /* -0.0 is not 0.0: a projected value that changes only its sign is rewritten. */
    int64_t zid = -1;
    fl_table *v0 = open_t(db, "v");
    {
        fl_scan *sc;
        fl_scan_options so = {.with_row_ids = true, .limit = 1, .limit_set = true};
        CHECK_OK(fl_scan_open(v0, &so, &sc, &tl_err));
        fl_batch *b = NULL;
        CHECK_OK(fl_scan_next(sc, &b, &tl_err));
        if (b) zid = (int64_t)b->row_ids[0];
        fl_batch_free(b);
        fl_scan_close(sc);
    }
    fl_table_close(v0);
    char zset[64];
    snprintf(zset, sizeof zset, "id = %lld", (long long)zid); /* ids were appended as 0.. so id = row id */
    CHECK_OK(fl_table_update_where(t, "c = 0.0", zset, NULL, &tl_err));
    refresh(db, "v");
    CHECK_OK(fl_table_update_where(t, "c = -0.0", zset, NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.updated, 1);
    v0 = open_t(db, "v");
    fl_batch *zb = NULL;
    uint64_t zrow = (uint64_t)zid;
    CHECK_OK(fl_table_take(v0, &zrow, 1, (const char *const[]){"c2"}, 1, &zb, &tl_err));
    if (zb) CHECK(signbit(fl_array_get_float(&zb->columns[0], 0)));
    fl_batch_free(zb);
    fl_table_close(v0);

    /* A column the view does not read: a new column with values on every row reads nothing. */
    CHECK_OK(fl_table_add_expr_column(t, "extra", "a + 1", &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.rows_read, 0);
    CHECK_EQ_INT(r.added + r.removed + r.updated, 0);
    CHECK_OK(fl_table_update_where(t, "extra = 0", "id < 50", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.rows_read, 0);

    /* Deletes: read nothing, remove exactly the view's rows among them. */
    int64_t gone = count_where(db, "src", "(" V_WHERE ") AND id % 50 = 7");
    CHECK_OK(fl_table_delete_where(t, "id % 50 = 7", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.removed, gone);
    CHECK_EQ_INT(r.added + r.updated + r.rows_read, 0);
    CHECK(matches_rebuild(db, "v", "w"));

    /* Compaction changes nothing. */
    fl_compact_options co = {.target_rows_per_fragment = 5000};
    fl_compact_stats st;
    CHECK_OK(fl_table_compact(t, &co, &st, &tl_err));
    CHECK(st.fragments_removed > 1);
    r = refresh(db, "v");
    CHECK(r.changed);
    CHECK_EQ_INT(r.added + r.removed + r.updated + r.rows_read, 0);
    CHECK(matches_rebuild(db, "v", "w"));

    /* Deleted, then compacted away before the refresh: the rows vanished from the source entirely. */
    gone = count_where(db, "src", "(" V_WHERE ") AND id % 50 = 9");
    CHECK_OK(fl_table_delete_where(t, "id % 50 = 9", NULL, &tl_err));
    co.max_deleted_fraction = 0.001;
    CHECK_OK(fl_table_compact(t, &co, &st, &tl_err));
    CHECK(st.deleted_rows_dropped > 0);
    r = refresh(db, "v");
    CHECK_EQ_INT(r.removed, gone);
    CHECK_EQ_INT(r.rows_read, 0);
    CHECK(matches_rebuild(db, "v", "w"));

    /* A whole fragment deleted (it leaves the manifest). */
    append_rows(t, 20, 0);
    r = refresh(db, "v");
    int64_t last = count_where(db, "src", "(" V_WHERE ") AND id >= 1100");
    CHECK_OK(fl_table_delete_where(t, "id >= 1100", NULL, &tl_err));
    r = refresh(db, "v");
    CHECK_EQ_INT(r.removed, last);
    CHECK(matches_rebuild(db, "v", "w"));

    /* The view is a table: compact it, query it, time-travel it. */
    fl_table *v = open_t(db, "v");
    CHECK_OK(fl_table_compact(v, &co, NULL, &tl_err));
    CHECK_EQ_INT(count_where(db, "v", "c2 > 0"), count_where(db, "src", "(" V_WHERE ") AND c * 2 > 0"));
    fl_open_options oo = {.version = 2};
    fl_table *old;
    CHECK_OK(fl_table_open(db, "v", &oo, &old, &tl_err));
    CHECK_EQ_INT(fl_table_count_rows(old), in_view);
    fl_table_close(old);
    fl_table_close(v);
    /* Every refresh named its delta in the version list. */
    v = open_t(db, "v");
    fl_version_info *vi;
    size_t nv;
    CHECK_OK(fl_table_list_versions(v, &vi, &nv, &tl_err));
    CHECK_EQ_STR(vi[1].operation, "refresh");
    CHECK(strstr(vi[1].detail, "rebuild +") != NULL);
    CHECK_EQ_STR(vi[2].operation, "refresh");
    CHECK(!strncmp(vi[2].detail, "+", 1) && strstr(vi[2].detail, "(source v"));
    CHECK_EQ_STR(vi[nv - 1].operation, "compact");
    free(vi);
    fl_table_close(v);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- the property: incremental == rebuild ---- */

typedef struct seq_state {
    fl_db *db;
    int extra_columns;
} seq_state;

static void random_op(seq_state *st, fl_table *src, int op) {
    char set[128], where[128];
    int m = 2 + (int)(tl_rand(&rng) % 15), r = (int)(tl_rand(&rng) % (uint64_t)m);
    snprintf(where, sizeof where, "id %% %d = %d", m, r);
    switch (op) {
    case 0: append_rows(src, 1 + (int)(tl_rand(&rng) % 40), 1 + (int64_t)(tl_rand(&rng) % 30)); break;
    case 1: {
        static const char *sets[] = {"a = a + 1", "b = 'kite'", "c = c * -1", "flag = NOT flag", "flag = true", "a = NULL", "tags = ['night']",
                                     "b = NULL"};
        snprintf(set, sizeof set, "%s", sets[tl_rand(&rng) % 8]);
        CHECK_OK(fl_table_update_where(src, set, where, NULL, &tl_err));
        break;
    }
    case 2: CHECK_OK(fl_table_delete_where(src, where, NULL, &tl_err)); break;
    case 3: {
        fl_compact_options co = {.target_rows_per_fragment = 10 + (int64_t)(tl_rand(&rng) % 100), .max_deleted_fraction = 0.01};
        CHECK_OK(fl_table_compact(src, &co, NULL, &tl_err));
        break;
    }
    case 4: {
        char name[16];
        snprintf(name, sizeof name, "x%d", st->extra_columns++);
        CHECK_OK(fl_table_add_expr_column(src, name, "a * 2", &tl_err));
        break;
    }
    }
}

static void test_property(void) {
    const int sequences = 220;
    int checks = 0;
    int64_t total_added = 0, total_removed = 0, total_updated = 0;
    const char *base = tl_tmpdir("view-prop");
    for (int seq = 0; seq < sequences; seq++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/seq-%d", base, seq);
        seq_state st = {0};
        CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &st.db, &tl_err));
        fl_schema *s;
        CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
        fl_table *src;
        CHECK_OK(fl_table_create(st.db, "src", s, &src, &tl_err));
        fl_schema_free(s);
        rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(seq + 1) * 0x100000001b3ull;
        next_id = 0;
        append_rows(src, 10 + (int)(tl_rand(&rng) % 120), 5 + (int64_t)(tl_rand(&rng) % 40));
        create_pair(st.db, "v1", "w1", "src", V_WHERE, V_SELECT);
        create_pair(st.db, "v2", "w2", "src", "b LIKE 'k%' AND c IS NOT NULL", NULL);
        create_pair(st.db, "v3", "w3", "v1", "c2 > 0", "id, b, c2 + 1 AS c3"); /* a view of a view */
        int ops = 6 + (int)(tl_rand(&rng) % 10);
        for (int i = 0; i < ops && !tl_failures; i++) {
            int op = (int)(tl_rand(&rng) % 9);
            if (op <= 4) {
                random_op(&st, src, op);
                continue;
            }
            if (op == 8) { /* compact a view: its removed rows' ids may live twice until then */
                fl_table *v = open_t(st.db, tl_rand(&rng) % 2 ? "v1" : "v3");
                fl_compact_options co = {.target_rows_per_fragment = 1000, .max_deleted_fraction = 0.01};
                CHECK_OK(fl_table_compact(v, &co, NULL, &tl_err));
                fl_table_close(v);
                continue;
            }
            const char *views[] = {"v1", "v2", "v3"}, *oracles[] = {"w1", "w2", "w3"};
            int k = op - 5;
            fl_view_report r = refresh(st.db, views[k]);
            total_added += r.added;
            total_removed += r.removed;
            total_updated += r.updated;
            if (!matches_rebuild(st.db, views[k], oracles[k])) fprintf(stderr, "  sequence %d, step %d: %s\n", seq, i, views[k]);
            checks++;
        }
        /* Finally everything, sources first. */
        CHECK_OK(fl_view_refresh_all(st.db, NULL, NULL, NULL, &tl_err));
        for (int k = 0; k < 3 && !tl_failures; k++) {
            const char *views[] = {"v1", "v2", "v3"}, *oracles[] = {"w1", "w2", "w3"};
            if (!matches_rebuild(st.db, views[k], oracles[k])) fprintf(stderr, "  sequence %d, final: %s\n", seq, views[k]);
            checks++;
        }
        CHECK_EQ_INT(count_where(st.db, "v1", NULL), count_where(st.db, "src", V_WHERE));
        fl_table_close(src);
        fl_db_close(st.db);
        if (!tl_failures) tl_sh("rm -rf '%s'", dir);
        if (tl_failures) {
            fprintf(stderr, "  sequence %d failed\n", seq);
            break;
        }
    }
    fprintf(stderr, "  %d sequences, %d comparisons with a rebuild; +%lld -%lld ~%lld rows applied incrementally\n", sequences, checks,
            (long long)total_added, (long long)total_removed, (long long)total_updated);
    CHECK(checks > sequences * 3);
    CHECK(total_added > 0 && total_removed > 0 && total_updated > 0);
}

/* ---- view of a view ---- */

static void test_view_of_view(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-of-view"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 5;
    next_id = 0;
    append_rows(t, 500, 100);
    CHECK_OK(fl_view_create(db, "a_view", "src", "a < 20", "id, a, b", NULL, &tl_err));
    CHECK_OK(fl_view_create(db, "b_view", "a_view", "b = 'kite'", "id, a", NULL, &tl_err));
    CHECK_EQ_INT(count_where(db, "b_view", NULL), count_where(db, "src", "a < 20 AND b = 'kite'"));
    /* Row ids are the source's: row 17 of b_view is row 17 of src. */
    fl_table *bv = open_t(db, "b_view");
    fl_batch *b = NULL;
    size_t n;
    row_sig *sig = signature(bv, &n);
    if (n) {
        CHECK_OK(fl_table_take(t, &sig[0].id, 1, (const char *const[]){"id"}, 1, &b, &tl_err));
        if (b) CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 0), (int64_t)sig[0].id); /* ids were appended as 0.. */
    }
    fl_batch_free(b);
    free(sig);
    fl_table_close(bv);
    /* A change flows through both with refresh --all, in order. */
    CHECK_OK(fl_table_update_where(t, "b = 'kite'", "id < 100", NULL, &tl_err));
    append_rows(t, 50, 0);
    CHECK_OK(fl_view_refresh_all(db, NULL, NULL, NULL, &tl_err));
    CHECK_EQ_INT(count_where(db, "b_view", NULL), count_where(db, "src", "a < 20 AND b = 'kite'"));
    /* Refreshing the outer view alone sees only what the inner one has committed. */
    CHECK_OK(fl_table_update_where(t, "a = 1", "id >= 100 AND id < 200", NULL, &tl_err));
    fl_view_report r = refresh(db, "b_view");
    CHECK(!r.changed);
    refresh(db, "a_view");
    r = refresh(db, "b_view");
    CHECK(r.changed);
    CHECK_EQ_INT(count_where(db, "b_view", NULL), count_where(db, "src", "a < 20 AND b = 'kite'"));
    /* A row deleted from the source leaves both, counted once each (the inner view holds re-added rows, so
     * the outer one finds the leaving row both in a deletion file and missing from the inner runs). */
    int64_t gone_a = count_where(db, "a_view", "id % 25 = 3"), gone_b = count_where(db, "b_view", "id % 25 = 3");
    CHECK_OK(fl_table_delete_where(t, "id % 25 = 3", NULL, &tl_err));
    r = refresh(db, "a_view");
    CHECK_EQ_INT(r.removed, gone_a);
    r = refresh(db, "b_view");
    CHECK_EQ_INT(r.removed, gone_b);
    CHECK_EQ_INT(count_where(db, "b_view", NULL), count_where(db, "src", "a < 20 AND b = 'kite'"));
    /* A cycle is impossible (a view's source exists before it), and a view of itself is refused. */
    fl_error e = {0};
    CHECK_EQ_INT(fl_view_create(db, "self", "self", NULL, NULL, NULL, &e), FL_EINVAL);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}


/* ---- indexes on views ---- */

/* Indexes built on a view must not answer for a row id with the value of its dead copy (a rewritten row
 * keeps a deleted copy in its old fragment). Every indexed query is checked against the source. */
static void test_indexes_on_views(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-indexes"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 12;
    next_id = 0;
    append_rows(t, 400, 0);
    CHECK_OK(fl_view_create(db, "v", "src", "a < 30", "id, a, b, tags", NULL, &tl_err));
    /* Rewrite rows of the view: their old copies stay, deleted, in the first fragment. */
    CHECK_OK(fl_table_update_where(t, "b = 'rewritten'", "id % 4 = 0", NULL, &tl_err));
    refresh(db, "v");
    fl_table *v = open_t(db, "v");
    CHECK_OK(fl_index_create(v, "b", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(v, "a", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(v, "tags", "label_list", NULL, &tl_err));
    CHECK_OK(fl_index_create(v, "b", "fts", "b_fts", &tl_err));
    fl_table_close(v);
    const char *filters[] = {"b = 'kite'", "b = 'rewritten'", "a = 7 AND b <> 'rewritten'", "array_has(tags, 'car')", "b IS NULL"};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            char both[160];
            snprintf(both, sizeof both, "a < 30 AND (%s)", filters[i]);
            CHECK_EQ_INT(count_where(db, "v", filters[i]), count_where(db, "src", both));
        }
        /* Full-text search through the index agrees with the source. */
        v = open_t(db, "v");
        fl_fts_query q = {.column = "b", .text = "kite", .k = 1000};
        fl_batch *hits = NULL;
        CHECK_OK(fl_fts_search(v, &q, &hits, &tl_err));
        if (hits) CHECK_EQ_INT(hits->num_rows, count_where(db, "src", "a < 30 AND b = 'kite'"));
        fl_batch_free(hits);
        fl_table_close(v);
        /* Rows move again: out of indexed fragments into new ones. */
        char set[64];
        snprintf(set, sizeof set, "b = '%s'", round % 2 ? "kite" : "bus");
        CHECK_OK(fl_table_update_where(t, set, "id % 3 = 0", NULL, &tl_err));
        refresh(db, "v");
        if (round == 1) {
            v = open_t(db, "v");
            CHECK_OK(fl_index_update(v, NULL, &tl_err));
            fl_table_close(v);
        }
    }
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- awkward column names ---- */

static void test_column_names(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-names"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("\"order\" int64, \"a:b\" string, \"x,y\" int64, \"Mixed Case\" bool, plain int32", &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 20; i++) {
        fl_array_append_int(&b->columns[0], i);
        fl_array_append_string(&b->columns[1], i % 2 ? "odd" : "even");
        fl_array_append_int(&b->columns[2], i * 10);
        fl_array_append_bool(&b->columns[3], i % 3 == 0);
        fl_array_append_int(&b->columns[4], i);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    /* `*` expands to quoted names, and the view follows changes to every one of them. */
    CHECK_OK(fl_view_create(db, "v", "src", "\"a:b\" = 'odd'", NULL, NULL, &tl_err));
    fl_view_info *info = NULL;
    CHECK_OK(fl_view_get(db, "v", &info, &tl_err));
    if (info) CHECK_EQ_STR(info->select, "\"order\", \"a:b\", \"x,y\", \"Mixed Case\", plain");
    fl_view_info_free(info, 1);
    CHECK_OK(fl_table_update_where(t, "\"x,y\" = \"order\" + 1, \"a:b\" = 'even'", "\"order\" < 6", NULL, &tl_err));
    fl_view_report r = refresh(db, "v");
    CHECK_EQ_INT(r.removed, 3);
    CHECK_EQ_INT(count_where(db, "v", NULL), 7);
    CHECK_EQ_INT(count_where(db, "v", "\"x,y\" = \"order\" * 10"), 7);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- a source written by the format-1 writer ---- */

/* The golden table predates table ids and restore marks: a refresh checks the versions since the one it
 * reflects for a restore, and refuses when they were cleaned up. */
static void test_format1_source(void) {
    const char *dir = tl_tmpdir("view-format1");
    const char *golden = getenv("FL_GOLDEN_DIR");
    CHECK_EQ_INT(tl_sh("cp -r '%s/frames' '%s/frames'", golden ? golden : "tests/golden/v1", dir), 0);
    fl_db *db;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_view_create(db, "v", "frames", "id > 101", "id, name", NULL, &tl_err));
    fl_table *t = open_t(db, "frames");
    CHECK_EQ_INT(t->m->table_id, 0);
    CHECK_OK(fl_table_update_where(t, "name = 'x'", "id = 105", NULL, &tl_err));
    fl_view_report r = refresh(db, "v");
    CHECK_EQ_INT(r.updated, 1);
    CHECK_OK(fl_table_restore(t, 3, &tl_err));
    fl_error e = {0};
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "restored"));
    fl_view_refresh_options full = {.full = true};
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));
    CHECK_EQ_INT(count_where(db, "v", NULL), count_where(db, "frames", "id > 101"));
    /* Versions after the view's were cleaned up: a table without restore marks cannot be checked. */
    CHECK_OK(fl_table_update_where(t, "name = 'y'", "id = 106", NULL, &tl_err));
    CHECK_OK(fl_table_update_where(t, "name = 'z'", "id = 104", NULL, &tl_err));
    fl_cleanup_options cl = {.older_than_ms = -1, .keep_versions = 0, .grace_ms = 0};
    CHECK_OK(fl_table_cleanup(t, &cl, NULL, &tl_err));
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "cleaned up") && strstr(e.message, "--full"));
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));
    CHECK_EQ_INT(count_where(db, "v", "name = 'y' OR name = 'z'"), 2);
    fl_table_close(t);
    fl_db_close(db);
}

/* ---- concurrency ---- */

typedef struct race {
    const char *dir;
    int rc;
    fl_view_report report;
    fl_error err;
} race;

static void *race_refresh(void *arg) {
    race *x = arg;
    fl_db *db;
    x->rc = fl_db_open(x->dir, 0, &db, &x->err);
    if (x->rc == FL_OK) x->rc = fl_view_refresh(db, "v", NULL, &x->report, &x->err);
    fl_db_close(db);
    return NULL;
}

static void test_concurrent_refresh(void) {
    const char *dir = tl_tmpdir("view-race");
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 77;
    next_id = 0;
    append_rows(t, 3000, 1000);
    create_pair(db, "v", "w", "src", V_WHERE, V_SELECT);
    int redone = 0;
    for (int round = 0; round < 12; round++) {
        append_rows(t, 2000, 0);
        CHECK_OK(fl_table_update_where(t, "a = a + 1", "id % 9 = 4", NULL, &tl_err));
        fl_table *v = open_t(db, "v");
        uint64_t before = fl_table_version(v);
        fl_table_close(v);
        race x[2] = {{.dir = dir}, {.dir = dir}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, race_refresh, &x[i]);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
            if (x[i].rc != FL_OK) fprintf(stderr, "  refresh: %s\n", x[i].err.message);
        CHECK(x[0].rc == FL_OK && x[1].rc == FL_OK);
        /* One applied the change; the other found it applied (or lost the commit and redid nothing). */
        CHECK_EQ_INT(x[0].report.changed + x[1].report.changed, 1);
        redone += x[0].report.attempts > 1 || x[1].report.attempts > 1;
        v = open_t(db, "v");
        CHECK_EQ_INT(fl_table_version(v), before + 1);
        fl_table_close(v);
        CHECK(matches_rebuild(db, "v", "w"));
    }
    fprintf(stderr, "  12 races, %d lost a commit and started over\n", redone);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- kill -9 during refresh ---- */

static const char *kill_dir;

static void kill_child(void *ctx) {
    (void)ctx;
    fl_db *db;
    fl_error err = {0};
    if (fl_db_open(kill_dir, 0, &db, &err) != FL_OK) _exit(3);
    fl_view_refresh_options o = {.max_rows_per_fragment = 2000};
    if (fl_view_refresh(db, "v", &o, NULL, &err) != FL_OK) _exit(4);
    fl_db_close(db);
    _exit(0);
}

static void kill_after(void *ctx) {
    (void)ctx;
    fl_db *db;
    CHECK_OK(fl_db_open(kill_dir, 0, &db, &tl_err));
    /* The view opens at its last committed version, which matches a rebuild at the source version it names. */
    CHECK(matches_rebuild(db, "v", "w"));
    fl_db_close(db);
}

static void test_kill_during_refresh(void) {
    kill_dir = tl_tmpdir("view-kill");
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(kill_dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 4242;
    next_id = 0;
    append_rows(t, 20000, 10000);
    create_pair(db, "v", "w", "src", V_WHERE, V_SELECT);
    uint64_t completed = 0;
    int killed = 0;
    for (int round = 0; round < 4; round++) {
        append_rows(t, 20000, 10000);
        CHECK_OK(fl_table_update_where(t, "flag = NOT flag", "id % 5 = 1", NULL, &tl_err));
        killed += tl_kill_rounds(4, 150000, 100 + (uint64_t)round, kill_child, kill_after, NULL);
        /* A re-run completes the job. */
        fl_view_report r = refresh(db, "v");
        completed += r.changed;
        CHECK_EQ_INT(r.source_version, fl_table_version(t));
        CHECK(matches_rebuild(db, "v", "w"));
        CHECK_EQ_INT(count_where(db, "v", NULL), count_where(db, "src", V_WHERE));
    }
    fprintf(stderr, "  %d of 16 refreshes killed mid-work, %llu completed by the re-run\n", killed, (unsigned long long)completed);
    CHECK(killed >= 4);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- refused refreshes and writes ---- */

static void test_errors(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-errors"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 8;
    next_id = 0;
    append_rows(t, 200, 0);
    fl_error e = {0};
    /* Definitions are checked with positions. */
    CHECK_EQ_INT(fl_view_create(db, "v", "src", "a > ", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "view 'v': where") && strstr(e.message, "position"));
    CHECK_EQ_INT(fl_view_create(db, "v", "src", "a > 1", "id, nope", NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "select") && strstr(e.message, "nope") && strstr(e.message, "position 5"));
    CHECK_EQ_INT(fl_view_create(db, "v", "missing", NULL, NULL, NULL, &e), FL_ENOTFOUND);
    fl_table *probe;
    CHECK_EQ_INT(fl_table_open(db, "v", NULL, &probe, &e), FL_ENOTFOUND); /* nothing was created */
    CHECK_OK(fl_view_create(db, "v", "src", "a > 10", "id, a, b", NULL, &tl_err));
    CHECK_EQ_INT(fl_view_create(db, "v", "src", "a > 10", NULL, NULL, &e), FL_EEXIST);
    /* Direct writes to a view are refused and leave it as it was. */
    fl_table *v = open_t(db, "v");
    uint64_t ver = fl_table_version(v);
    CHECK_EQ_INT(fl_table_delete_where(v, "a > 0", NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "materialized view of 'src'"));
    CHECK_EQ_INT(fl_table_update_where(v, "a = 1", NULL, NULL, &e), FL_EINVAL);
    CHECK_EQ_INT(fl_table_add_expr_column(v, "z", "a + 1", &e), FL_EINVAL);
    CHECK_EQ_INT(fl_table_rename_column(v, "a", "aa", &e), FL_EINVAL);
    const char *key = "view.where", *val = "true";
    CHECK_EQ_INT(fl_table_set_metadata(v, &key, &val, 1, &e), FL_EINVAL);
    CHECK_EQ_INT(fl_table_set_metadata(t, &key, &val, 1, &e), FL_EINVAL);
    CHECK_EQ_INT(fl_table_version(v), ver);
    fl_table_close(v);
    CHECK_EQ_INT(fl_view_refresh(db, "src", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "not a materialized view"));

    /* The source restored past the view's version: refused, then rebuilt. */
    uint64_t base = fl_table_version(t);
    CHECK_OK(fl_table_update_where(t, "a = 100", "id < 50", NULL, &tl_err));
    refresh(db, "v");
    CHECK_OK(fl_table_restore(t, base, &tl_err));
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "restored") && strstr(e.message, "--full"));
    fl_view_refresh_options full = {.full = true};
    fl_view_report r;
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));
    CHECK(r.full && r.removed > 0);
    CHECK_EQ_INT(count_where(db, "v", NULL), count_where(db, "src", "a > 10"));
    /* Going back to an older source version needs a rebuild too. */
    fl_view_refresh_options older = {.source_version = 2};
    CHECK_EQ_INT(fl_view_refresh(db, "v", &older, NULL, &e), FL_EINVAL);
    older.full = true;
    CHECK_OK(fl_view_refresh(db, "v", &older, &r, &tl_err));
    CHECK_EQ_INT(r.source_version, 2);
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL); /* 2 -> latest crosses the restore */
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));

    /* A column the view reads: dropped (and re-added), or dropped for good. */
    const char *b_col = "b";
    CHECK_OK(fl_table_drop_columns(t, &b_col, 1, &tl_err));
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "view 'v': select (on 'src'") && strstr(e.message, "\"b\" not found"));
    CHECK_EQ_INT(fl_view_refresh(db, "v", &full, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "\"b\" not found"));
    CHECK_OK(fl_table_add_expr_column(t, "b", "'again'", &tl_err));
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "column 'b' of 'src' was dropped and added again"));
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));
    CHECK(r.updated == 0 && r.added == 0 && r.removed == 0); /* a rebuild counts entries and exits only */
    r = refresh(db, "v");
    CHECK(!r.changed);
    /* A column the view does not read may come and go. */
    const char *c_col = "c";
    CHECK_OK(fl_table_drop_columns(t, &c_col, 1, &tl_err));
    r = refresh(db, "v");
    CHECK(r.changed);

    /* The source dropped and created again under the same name. */
    fl_table_close(t);
    CHECK_OK(fl_table_drop(db, "src", &tl_err));
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_ENOTFOUND);
    CHECK(strstr(e.message, "source 'src'"));
    fl_view_info *vl;
    size_t n;
    CHECK_OK(fl_view_list(db, &vl, &n, &tl_err));
    CHECK_EQ_INT(n, 1);
    if (n) CHECK(vl[0].source_latest == 0 && vl[0].stale);
    fl_view_info_free(vl, n);
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    next_id = 0;
    for (int i = 0; i < 12; i++) append_rows(t, 10, 0);
    CHECK_EQ_INT(fl_view_refresh(db, "v", NULL, NULL, &e), FL_EINVAL);
    CHECK(strstr(e.message, "dropped and created again"));
    CHECK_OK(fl_view_refresh(db, "v", &full, &r, &tl_err));
    CHECK_EQ_INT(count_where(db, "v", NULL), count_where(db, "src", "a > 10"));
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* ---- reproducibility ---- */

static uint64_t checksum(fl_table *t) {
    size_t n;
    row_sig *sig = signature(t, &n);
    uint64_t h = n;
    for (size_t i = 0; i < n; i++) h = (h ^ sig[i].id ^ (sig[i].hash * 31)) * 0x100000001b3ull;
    free(sig);
    return h;
}

static void test_reproducibility(void) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(tl_tmpdir("view-repro"), FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(SRC_SCHEMA, &s, &tl_err));
    fl_table *t;
    CHECK_OK(fl_table_create(db, "src", s, &t, &tl_err));
    rng = 31;
    next_id = 0;
    append_rows(t, 800, 200);
    CHECK_OK(fl_view_create(db, "train", "src", V_WHERE, V_SELECT, NULL, &tl_err));
    /* A training run records (view, version) and what it read. */
    fl_table *v = open_t(db, "train");
    uint64_t recorded = fl_table_version(v), sum = checksum(v);
    int64_t rows = fl_table_count_rows(v);
    CHECK_OK(fl_table_tag(v, "run-1", recorded, &tl_err));
    fl_table_close(v);
    /* Then the data moves on. */
    append_rows(t, 300, 0);
    CHECK_OK(fl_table_update_where(t, "flag = true", "id % 4 = 0", NULL, &tl_err));
    refresh(db, "train");
    CHECK_OK(fl_table_delete_where(t, "id % 6 = 0", NULL, &tl_err));
    refresh(db, "train");
    fl_compact_options co = {.target_rows_per_fragment = 100000, .max_deleted_fraction = 0.001};
    CHECK_OK(fl_table_compact(t, &co, NULL, &tl_err));
    refresh(db, "train");
    v = open_t(db, "train");
    CHECK_OK(fl_table_compact(v, &co, NULL, &tl_err));
    fl_cleanup_options cl = {.older_than_ms = -1, .keep_versions = 0, .grace_ms = 0};
    fl_cleanup_stats cs;
    CHECK_OK(fl_table_cleanup(v, &cl, &cs, &tl_err));
    CHECK(cs.versions_removed > 0);
    CHECK_OK(fl_table_cleanup(t, &cl, NULL, &tl_err));
    CHECK(checksum(v) != sum);
    fl_table_close(v);
    /* The recorded version reads back exactly, by tag and by number. */
    fl_open_options by_tag = {.tag = "run-1"}, by_version = {.version = recorded};
    CHECK_OK(fl_table_open(db, "train", &by_tag, &v, &tl_err));
    CHECK_EQ_INT(fl_table_version(v), recorded);
    CHECK_EQ_INT(fl_table_count_rows(v), rows);
    CHECK_EQ_INT(checksum(v), sum);
    fl_table_close(v);
    CHECK_OK(fl_table_open(db, "train", &by_version, &v, &tl_err));
    CHECK_EQ_INT(checksum(v), sum);
    fl_table_close(v);
    /* And the refreshed view still equals a rebuild after the source's cleanup. */
    CHECK_OK(fl_view_create(db, "oracle", "src", V_WHERE, V_SELECT, NULL, &tl_err));
    CHECK(matches_rebuild(db, "train", "oracle"));
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

int main(void) {
    RUN(test_projection);
    RUN(test_row_versions);
    RUN(test_each_change);
    RUN(test_view_of_view);
    RUN(test_indexes_on_views);
    RUN(test_column_names);
    RUN(test_format1_source);
    RUN(test_errors);
    RUN(test_reproducibility);
    RUN(test_concurrent_refresh);
    RUN(test_kill_during_refresh);
    RUN(test_property);
    return tl_finish("test_view");
}
