/*
 * dml.c — the table-level query entry points: count, delete and update by SQL predicate. Each compiles
 * its text against the handle's schema and drives a filtered scan (qscan.h); writes are one commit each.
 */
#include "qscan.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>


/* Compiles `where` for the table, or leaves *out NULL when it is blank. */
static int compile_where(fl_table *t, const char *where, fl_expr **out, fl_error *err) {
    *out = NULL;
    if (fl_blank(where)) return FL_OK;
    return fl_expr_compile_filter(where, t->m->schema, out, err);
}

/* Counting splits a scan between threads from this many rows to read on (below, starting threads and
 * opening their handles costs more than it saves). */
int64_t fl_count_parallel_rows = 262144;
#define MAX_COUNT_THREADS 4

typedef struct count_part {
    const fl_table *t;          /* the caller's handle: only its db path, name and version are read */
    const fl_expr *e;
    uint32_t part, parts;
    int64_t count;
    int rc;
    fl_error err;
} count_part;

/* One share of a parallel count, on its own database and table handles at the caller's version. */
static void *count_worker(void *arg) {
    count_part *c = arg;
    static const char *const none[1] = {NULL};
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_qscan *q = NULL;
    fl_open_options o = {.version = c->t->m->version};
    c->rc = fl_db_open(c->t->db->path, 0, &db, &c->err);
    if (c->rc == FL_OK) c->rc = fl_table_open(db, c->t->name, &o, &t, &c->err);
    if (c->rc == FL_OK) c->rc = fl_qscan_open(t, c->e, none, 0, false, 0, &q, &c->err);
    if (c->rc == FL_OK) {
        fl_qscan_set_partition(q, c->part, c->parts);
        c->rc = fl_qscan_count(q, &c->count, &c->err);
    }
    fl_qscan_close(q);
    fl_table_close(t);
    fl_db_close(db);
    return NULL;
}

/* Threads for a count: one per core (at most MAX_COUNT_THREADS) when the scan reads many rows, else 1. */
static int count_threads(fl_table *t, fl_qscan *q, uint32_t *parts, fl_error *err) {
    *parts = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 2 || fl_table_count_rows(t) < fl_count_parallel_rows) return FL_OK;
    bool indexed;
    FL_RETURN_NOT_OK(fl_qscan_uses_index(q, &indexed, err));
    if (indexed) return FL_OK;
    uint64_t rows;
    FL_RETURN_NOT_OK(fl_qscan_estimate(q, &rows, err));
    if (rows >= (uint64_t)fl_count_parallel_rows) *parts = cores > MAX_COUNT_THREADS ? MAX_COUNT_THREADS : (uint32_t)cores;
    return FL_OK;
}

int fl_table_count_where(fl_table *t, const char *where, int64_t *count, fl_error *err) {
    *count = 0;
    fl_expr *e;
    FL_RETURN_NOT_OK(compile_where(t, where, &e, err));
    if (!e) {
        *count = fl_table_count_rows(t);
        return FL_OK;
    }
    static const char *const none[1] = {NULL};
    fl_qscan *q;
    int rc = fl_qscan_open(t, e, none, 0, false, 0, &q, err);
    uint32_t parts = 1;
    if (rc == FL_OK) rc = count_threads(t, q, &parts, err);
    /* A scan of a big table: the caller's thread takes share 0, workers on their own handles the rest. */
    count_part jobs[MAX_COUNT_THREADS];
    pthread_t threads[MAX_COUNT_THREADS];
    uint32_t started = 1;
    for (uint32_t i = 1; rc == FL_OK && i < parts; i++) {
        jobs[i] = (count_part){.t = t, .e = e, .part = i, .parts = parts};
        if (pthread_create(&threads[i], NULL, count_worker, &jobs[i]) != 0) break;
        started = i + 1;
    }
    /* Without every thread, this thread reads everything and the started ones' counts are dropped. */
    bool split = started == parts;
    if (rc == FL_OK) {
        fl_qscan_set_partition(q, 0, split ? parts : 1);
        rc = fl_qscan_count(q, count, err);
    }
    for (uint32_t i = 1; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (!split) continue;
        if (rc == FL_OK && jobs[i].rc != FL_OK) {
            rc = jobs[i].rc;
            if (err) *err = jobs[i].err;
        }
        if (rc == FL_OK) *count += jobs[i].count;
    }
    if (rc != FL_OK) *count = 0;
    fl_qscan_close(q);
    fl_expr_free(e);
    return rc;
}

/* Stable ids of the live rows where `e` is true, in storage order. */
static int matching_ids(fl_table *t, const fl_expr *e, uint64_t **ids, size_t *n, fl_error *err) {
    *ids = NULL;
    *n = 0;
    static const char *const none[1] = {NULL};
    fl_qscan *q;
    FL_RETURN_NOT_OK(fl_qscan_open(t, e, none, 0, true, 0, &q, err));
    size_t cap = 0;
    int rc = FL_OK;
    for (;;) {
        fl_batch *b;
        if ((rc = fl_qscan_next(q, &b, err)) != FL_OK || !b) break;
        if (!fl_reserve((void **)ids, &cap, *n + (size_t)b->num_rows, sizeof **ids, 1024)) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        else memcpy(*ids + *n, b->row_ids, (size_t)b->num_rows * sizeof **ids), *n += (size_t)b->num_rows;
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_qscan_close(q);
    if (rc != FL_OK) {
        fl_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int fl_table_delete_where(fl_table *t, const char *where, int64_t *deleted, fl_error *err) {
    if (deleted) *deleted = 0;
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "delete", err));
    if (fl_blank(where)) return fl_error_set(err, FL_EINVAL, "delete needs a WHERE condition (use \"true\" to delete every row)");
    fl_expr *e;
    FL_RETURN_NOT_OK(compile_where(t, where, &e, err));
    uint64_t *ids;
    size_t n;
    int rc = matching_ids(t, e, &ids, &n, err);
    fl_expr_free(e);
    if (rc == FL_OK && n) rc = fl_table_delete_rows(t, ids, n, err);
    fl_free(ids);
    if (rc == FL_OK && deleted) *deleted = (int64_t)n;
    return rc;
}
