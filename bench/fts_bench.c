/*
 * fts_bench.c DB TABLE QUERIES.tsv REPS — the framelake side of the full-text search benchmark (bench/fts.sh,
 * bench/README.md "Full-text search"). Opens the table once, then runs every query of QUERIES.tsv
 * ("class<TAB>name<TAB>words<TAB>df", from fts_corpus.py) through fl_fts_search on column `caption` with
 * k = 10 and the projection {"id"}: one untimed pass over all queries, then REPS timed passes (each pass runs
 * every query once, so noise spreads over the queries). Terms are OR'd ("a b c"), a phrase class query is
 * one "quoted phrase".
 *
 * Each pass also runs every query with an empty projection (the result is then only _score and _rowid, so
 * no data page is read): the difference is what fetching the ten ids costs. Here _rowid equals id (the
 * rows were appended in id order), which is checked.
 *
 * stdout, one line per query: class<TAB>name<TAB>median_ms<TAB>first_ms<TAB>ids<TAB>rowid_only_median_ms
 * (ids: the top 10 in rank order, comma-separated; first_ms: the untimed first run). stderr: p50/p95 of the
 * per-query medians per class, the same figures fts.sh reports.
 */
#include "framelake.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_QUERIES 1000
#define K 10

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "fts_bench: %s: %s\n", what, err->message);
    exit(1);
}

typedef struct query {
    char cls[16], name[64], text[512];
    double *ms, *ms_rowid, first_ms;
    int64_t ids[K];
    int n_ids;
} query;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Linear interpolation between closest ranks (numpy's default), p in [0, 1]. */
static double percentile(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double at = p * (n - 1);
    int lo = (int)at;
    return lo + 1 < n ? v[lo] + (at - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

/* One search; the ids of the results into q (checked against the previous run's). With `project` false the
 * projection is empty and the ids are the row ids. */
static double run(fl_table *t, query *q, bool project) {
    static const char *const cols[] = {"id"};
    fl_fts_query fq = {.column = "caption", .text = q->text, .k = K, .columns = cols, .n_columns = project ? 1 : 0};
    fl_error err = {0};
    fl_batch *b;
    double t0 = now();
    if (fl_fts_search(t, &fq, &b, &err)) die(q->text, &err);
    double dt = now() - t0;
    const fl_array *id = fl_batch_column(b, project ? "id" : "_rowid");
    if (!id || b->num_rows > K) {
        fprintf(stderr, "fts_bench: %s: unexpected result shape\n", q->name);
        exit(1);
    }
    int64_t ids[K];
    for (int64_t i = 0; i < b->num_rows; i++) ids[i] = project ? fl_array_get_int(id, i) : (int64_t)fl_array_get_uint(id, i);
    if (q->n_ids >= 0 && (q->n_ids != b->num_rows || memcmp(q->ids, ids, (size_t)b->num_rows * sizeof *ids))) {
        fprintf(stderr, "fts_bench: %s: the results changed between runs (or _rowid differs from id)\n", q->name);
        exit(1);
    }
    q->n_ids = (int)b->num_rows;
    memcpy(q->ids, ids, sizeof ids);
    fl_batch_free(b);
    return dt * 1e3;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: fts_bench DB TABLE QUERIES.tsv REPS\n");
        return 2;
    }
    int reps = atoi(argv[4]);
    if (reps < 1) reps = 1;
    static query qs[MAX_QUERIES];
    int n = 0;
    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    char line[1024];
    while (fgets(line, sizeof line, f) && n < MAX_QUERIES) {
        char *cls = strtok(line, "\t\n"), *name = strtok(NULL, "\t\n"), *words = strtok(NULL, "\t\n");
        if (!cls || !name || !words) continue;
        query *q = &qs[n++];
        snprintf(q->cls, sizeof q->cls, "%s", cls);
        snprintf(q->name, sizeof q->name, "%s", name);
        if (!strcmp(cls, "phrase")) snprintf(q->text, sizeof q->text, "\"%s\"", words);
        else snprintf(q->text, sizeof q->text, "%s", words);
        q->n_ids = -1;
        if (!(q->ms = calloc((size_t)reps, sizeof *q->ms)) || !(q->ms_rowid = calloc((size_t)reps, sizeof *q->ms_rowid))) return 1;
    }
    fclose(f);

    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    double t0 = now();
    if (fl_db_open(argv[1], 0, &db, &err) || fl_table_open(db, argv[2], NULL, &t, &err)) die("open", &err);
    fprintf(stderr, "fts_bench: table opened in %.2f ms\n", (now() - t0) * 1e3);
    for (int i = 0; i < n; i++) {
        qs[i].first_ms = run(t, &qs[i], true);
        run(t, &qs[i], false);
    }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i++) {
            qs[i].ms[r] = run(t, &qs[i], true);
            qs[i].ms_rowid[r] = run(t, &qs[i], false);
        }

    double med[MAX_QUERIES];
    for (int i = 0; i < n; i++) {
        med[i] = median(qs[i].ms, reps);
        printf("%s\t%s\t%.4f\t%.4f\t", qs[i].cls, qs[i].name, med[i], qs[i].first_ms);
        for (int k = 0; k < qs[i].n_ids; k++) printf("%s%lld", k ? "," : "", (long long)qs[i].ids[k]);
        printf("\t%.4f\n", median(qs[i].ms_rowid, reps));
    }
    static const char *classes[] = {"term", "or", "phrase"};
    for (size_t c = 0; c < sizeof classes / sizeof *classes; c++) {
        double v[MAX_QUERIES];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(qs[i].cls, classes[c])) v[m++] = med[i];
        if (m)
            fprintf(stderr, "fts_bench: %-6s %2d queries  p50 %8.3f ms  p95 %8.3f ms\n", classes[c], m, percentile(v, m, 0.5),
                    percentile(v, m, 0.95));
    }
    fl_table_close(t);
    fl_db_close(db);
    for (int i = 0; i < n; i++) {
        free(qs[i].ms);
        free(qs[i].ms_rowid);
    }
    return 0;
}
