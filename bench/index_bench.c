/*
 * index_bench.c — scalar index figures for framelake alone: the time to build each index type over a
 * table of ROWS frame-metadata rows, and for a set of filters the time to answer them from the indexes
 * (fl_index_select, whose exact answers are counts without reading data) against a filtered scan count
 * (fl_table_count_where). Every indexed answer is checked against the scan: a mismatch fails the run.
 *
 *   bench/index.sh                     (builds build/libframelake.a, compiles this file, runs it)
 *   ROWS=200000 FRAGMENT_ROWS=10000 bench/index.sh
 */
#include "framelake.h"
#include "index/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t state = 0x2545F4914F6CDD1DULL;
static uint64_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "index_bench: %s: %s\n", what, err->message);
    exit(1);
}

#define REPS 5

/* Best of REPS runs of fn. */
typedef double (*timed_fn)(fl_table *t, const char *where, int64_t *count);

static double select_once(fl_table *t, const char *where, int64_t *count) {
    fl_error err = {0};
    fl_expr *e;
    fl_index_selection sel;
    if (fl_expr_compile_filter(where, fl_table_schema(t), &e, &err)) die(where, &err);
    double t0 = now();
    if (fl_index_select(t, e->root, &sel, &err)) die(where, &err);
    double dt = now() - t0;
    *count = sel.applies && sel.exact && sel.n_fragments == t->m->n_fragments ? (int64_t)sel.n_rows : -1;
    fl_index_selection_clear(&sel);
    fl_expr_free(e);
    return dt;
}

static double scan_once(fl_table *t, const char *where, int64_t *count) {
    fl_error err = {0};
    double t0 = now();
    if (fl_table_count_where(t, where, count, &err)) die(where, &err);
    return now() - t0;
}

static double best(timed_fn fn, fl_table *t, const char *where, int64_t *count) {
    double b = 1e30;
    for (int i = 0; i < REPS; i++) {
        double dt = fn(t, where, count);
        if (dt < b) b = dt;
    }
    return b;
}

int main(void) {
    int64_t rows = getenv("ROWS") ? atoll(getenv("ROWS")) : 1000000;
    int64_t per_fragment = getenv("FRAGMENT_ROWS") ? atoll(getenv("FRAGMENT_ROWS")) : 1048576;
    const char *dir = getenv("OUT") ? getenv("OUT") : "bench/out/index";
    static const char *weather[] = {"clear", "overcast", "partly cloudy", "rainy", "snowy", "foggy", "undefined"};
    static const char *tod[] = {"daytime", "night", "dawn/dusk"};
    static const char *cats[] = {"car", "person", "traffic sign", "traffic light", "truck", "bus", "bike", "rider", "motor", "train"};
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    fl_schema *s;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    if (fl_db_open(dir, FL_OPEN_CREATE, &db, &err) || fl_schema_parse("image_id string not null, weather string, timeofday string, "
                                                                       "ann_categories list<string>, brightness float64, ts timestamp",
                                                                       &s, &err) ||
        fl_table_create(db, "frames", s, &t, &err))
        die("create", &err);
    double t0 = now();
    fl_write_options wo = {.max_rows_per_fragment = per_fragment};
    for (int64_t done = 0; done < rows;) {
        int64_t n = rows - done < 100000 ? rows - done : 100000;
        fl_batch *b = fl_batch_new(s);
        char id[32];
        for (int64_t i = 0; i < n; i++) {
            uint64_t r = next_random();
            snprintf(id, sizeof id, "frame-%08lld", (long long)(done + i));
            fl_array_append_string(&b->columns[0], id);
            if (r % 50 == 0) fl_array_append_null(&b->columns[1]);
            else fl_array_append_string(&b->columns[1], weather[(r >> 8) % 7]);
            fl_array_append_string(&b->columns[2], tod[(r >> 12) % 3]);
            int k = (int)((r >> 16) % 5);
            for (int j = 0; j < k; j++) fl_array_append_string(&b->columns[3].children[0], cats[(r >> (20 + 4 * j)) % 10]);
            fl_array_end_list(&b->columns[3]);
            fl_array_append_float(&b->columns[4], (double)((r >> 40) % 100000) / 1000.0);
            fl_array_append_int(&b->columns[5], 1600000000000LL + (int64_t)((r >> 24) % 86400000));
        }
        if (fl_batch_finish(b, &err) || fl_table_append(t, b, &wo, &err)) die("append", &err);
        fl_batch_free(b);
        done += n;
    }
    printf("table: %lld rows in %u fragments, written in %.2f s\n\n", (long long)rows, t->m->n_fragments, now() - t0);
    static const char *indexes[][2] = {{"weather", "bitmap"}, {"timeofday", "bitmap"}, {"ann_categories", "label_list"},
                                       {"brightness", "btree"}, {"ts", "btree"},           {"image_id", "btree"}};
    printf("%-16s %-11s %9s\n", "index on", "type", "build s");
    for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
        t0 = now();
        if (fl_index_create(t, indexes[i][0], indexes[i][1], NULL, &err)) die("index", &err);
        printf("%-16s %-11s %9.3f\n", indexes[i][0], indexes[i][1], now() - t0);
    }
    static const char *filters[] = {
        "image_id = 'frame-00123456'",
        "weather = 'rainy'",
        "weather = 'rainy' AND timeofday = 'night'",
        "NOT (weather = 'clear')",
        "weather IN ('rainy', 'snowy', 'foggy')",
        "array_has(ann_categories, 'person')",
        "array_has_all(ann_categories, ARRAY['person', 'bike'])",
        "array_has(ann_categories, 'rider') AND weather = 'rainy' AND timeofday = 'night'",
        "brightness BETWEEN 10 AND 12",
        "brightness > 50",
        "ts >= 1600080000000",
    };
    printf("\n%-82s %10s %10s %10s %8s\n", "filter", "rows", "index ms", "scan ms", "speedup");
    int bad = 0;
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        int64_t by_index, by_scan;
        double ti = best(select_once, t, filters[i], &by_index);
        double ts = best(scan_once, t, filters[i], &by_scan);
        printf("%-82s %10lld %10.2f %10.2f %7.1fx\n", filters[i], (long long)by_scan, ti * 1e3, ts * 1e3, ts / ti);
        if (by_index != by_scan) {
            fprintf(stderr, "index_bench: %s: the indexes say %lld rows, the scan %lld\n", filters[i], (long long)by_index, (long long)by_scan);
            bad = 1;
        }
    }
    fl_table_close(t);
    fl_db_close(db);
    fl_schema_free(s);
    return bad;
}
