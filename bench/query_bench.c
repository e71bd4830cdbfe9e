/*
 * query_bench.c — the framelake side of the query benchmark (bench/query.sh drives it; see README.md).
 *
 *   query_bench DB TABLE QUERIES REPS
 *
 * QUERIES has one query per line, "name<TAB>kind<TAB>text[<TAB>peer spec]": kind `count` runs fl_table_count_where(text),
 * kind `sql` runs fl_sql(text) and drains the cursor. Each query runs once (timed apart: the first run),
 * then REPS times on the same open table handle; the line printed is
 * "name<TAB>median_ms<TAB>result<TAB>first_ms" where result is the count, or the number of rows for SQL. Nothing here
 * asserts a time: the only failures are API errors.
 */
#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "query_bench: %s: %s\n", what, err->message);
    exit(1);
}

/* Runs one query once; *result receives its printable result. */
static void run(fl_db *db, fl_table *t, const char *kind, const char *text, char *result, size_t size) {
    fl_error err = {0};
    if (!strcmp(kind, "count")) {
        int64_t n;
        if (fl_table_count_where(t, text, &n, &err) != FL_OK) die(text, &err);
        snprintf(result, size, "%lld", (long long)n);
        return;
    }
    if (!strcmp(kind, "sql")) {
        fl_cursor *c;
        if (fl_sql(db, text, NULL, &c, &err) != FL_OK) die(text, &err);
        int64_t rows = 0;
        fl_batch *b;
        while (fl_cursor_next(c, &b, &err) == FL_OK && b) {
            rows += b->num_rows;
            fl_batch_free(b);
        }
        if (err.code) die(text, &err);
        fl_cursor_close(c);
        snprintf(result, size, "%lld rows", (long long)rows);
        return;
    }
    fprintf(stderr, "query_bench: unknown kind '%s'\n", kind);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: query_bench DB TABLE QUERIES REPS\n");
        return 2;
    }
    int reps = atoi(argv[4]);
    if (reps < 1) reps = 1;
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(argv[1], 0, &db, &err) != FL_OK) die(argv[1], &err);
    if (fl_table_open(db, argv[2], NULL, &t, &err) != FL_OK) die(argv[2], &err);
    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    char line[4096];
    double *times = calloc((size_t)reps, sizeof *times);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        char *name = line, *kind = strchr(name, '\t'), *text;
        if (!kind || !(text = strchr(kind + 1, '\t'))) continue;
        *kind++ = '\0';
        *text++ = '\0';
        char *peer = strchr(text, '\t'); /* the LanceDB spec, not ours */
        if (peer) *peer = '\0';
        char result[256];
        /* The first run is reported apart: it decodes what the later runs find cached (index postings). */
        double t_first = now_ms();
        run(db, t, kind, text, result, sizeof result);
        t_first = now_ms() - t_first;
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            run(db, t, kind, text, result, sizeof result);
            times[r] = now_ms() - t0;
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        double median = reps % 2 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
        printf("%s\t%.3f\t%s\t%.3f\n", name, median, result, t_first);
        fflush(stdout);
    }
    free(times);
    fclose(f);
    fl_table_close(t);
    fl_db_close(db);
    return 0;
}
