/*
 * test_crash.c — crash safety with real process kills.
 *
 * A child process appends, compacts, adds columns, deletes and cleans up in a loop, reporting over a pipe
 * which operation it starts and which it finished. The parent SIGKILLs it at a random instant, then
 * checks that the table opens at its latest committed version and holds exactly the rows of that
 * version: every acknowledged append, plus possibly the one in flight, whole or not at all; every row's
 * payload intact. Then a new child continues from there. FL_CRASH_KILLS sets the number of kills
 * (default 120).
 */
#include "testlib.h"

#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYS_PER_APPEND 1000

/* Rows of append number j: keys j*1000 .. j*1000+n-1 with n in 1..40. */
static int64_t rows_of_append(int64_t j) { return 1 + (j * 7919) % 40; }

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static size_t blob_size(int64_t key) { return 100 + mix((uint64_t)key) % 3000; }
static void fill_blob(int64_t key, uint8_t *p, size_t n) {
    uint64_t s = mix((uint64_t)key + 17);
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (uint8_t)(s >> 56);
    }
}

typedef struct report {
    int32_t kind;               /* 1 begin append, 2 done append, 3 begin other, 4 done other */
    int32_t pad;
    int64_t value;              /* append index, or the version reached */
} report;

static void send(int fd, int32_t kind, int64_t value) {
    report r = {kind, 0, value};
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
}

/* The child: runs operations forever, starting with append number `next`. */
static void child_loop(const char *dir, int64_t next, int fd, unsigned seed) {
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(dir, 0, &db, &err) || fl_table_open(db, "t", NULL, &t, &err)) {
        fprintf(stderr, "child: %s\n", err.message);
        _exit(4);
    }
    srand(seed);
    uint8_t *blob = malloc(4096);
    for (;;) {
        int op = rand() % 10;
        if (op < 6) {
            fl_batch *b = fl_batch_new(fl_table_schema(t));
            fl_array *k = fl_batch_column(b, "k"), *check = fl_batch_column(b, "check"), *bl = fl_batch_column(b, "blob");
            for (int64_t i = 0; i < rows_of_append(next); i++) {
                int64_t key = next * KEYS_PER_APPEND + i;
                fl_array_append_int(k, key);
                fl_array_append_int(check, (int64_t)mix((uint64_t)key));
                fill_blob(key, blob, blob_size(key));
                fl_array_append_bytes(bl, blob, blob_size(key));
            }
            /* Columns added earlier are left NULL by appends (they are nullable). */
            for (int32_t c = 0; c < b->n_columns; c++)
                while (b->columns[c].length < k->length) fl_array_append_null(&b->columns[c]);
            fl_batch_finish(b, &err);
            send(fd, 1, next);
            fl_write_options wo = {.max_rows_per_fragment = 16};
            if (fl_table_append(t, b, &wo, &err)) {
                fprintf(stderr, "child append: %s\n", err.message);
                _exit(5);
            }
            send(fd, 2, next);
            next++;
            fl_batch_free(b);
        } else if (op < 8) {
            fl_compact_options co = {.target_rows_per_fragment = 64 + rand() % 200};
            send(fd, 3, 0);
            if (fl_table_compact(t, &co, NULL, &err)) {
                fprintf(stderr, "child compact: %s\n", err.message);
                _exit(6);
            }
            send(fd, 4, (int64_t)fl_table_version(t));
        } else if (op == 8) {
            char text[64];
            snprintf(text, sizeof text, "extra%d int32", fl_table_schema(t)->n_fields);
            fl_schema *s;
            fl_schema_parse(text, &s, &err);
            send(fd, 3, 0);
            if (fl_table_add_columns(t, s, NULL, &err)) {
                fprintf(stderr, "child add column: %s\n", err.message);
                _exit(7);
            }
            send(fd, 4, (int64_t)fl_table_version(t));
            fl_schema_free(s);
        } else {
            fl_cleanup_options co = {.older_than_ms = -1, .keep_versions = 3, .grace_ms = 0}; /* the only writer */
            send(fd, 3, 0);
            if (fl_table_cleanup(t, &co, NULL, &err)) {
                fprintf(stderr, "child cleanup: %s\n", err.message);
                _exit(8);
            }
            send(fd, 4, (int64_t)fl_table_version(t));
        }
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Opens the table and checks its rows; returns the number of complete appends it holds, or -1. */
static int64_t verify(const char *dir, int64_t acked, bool in_flight, uint64_t min_version) {
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(dir, 0, &db, &err) || fl_table_open(db, "t", NULL, &t, &err)) {
        fprintf(stderr, "  table does not open after kill: %s\n", err.message);
        tl_failures++;
        return -1;
    }
    CHECK(fl_table_version(t) >= min_version);
    int64_t cap = 1 << 16, n = 0, bad = 0;
    int64_t *keys = malloc((size_t)cap * sizeof *keys);
    uint8_t *expect = malloc(4096);
    const char *cols[3] = {"k", "check", "blob"};
    fl_scan_options so = {.columns = cols, .n_columns = 3, .batch_size = 50};
    fl_scan *sc;
    if (fl_scan_open(t, &so, &sc, &err)) {
        fprintf(stderr, "  scan: %s\n", err.message);
        tl_failures++;
    } else {
        fl_batch *b;
        int rc;
        while ((rc = fl_scan_next(sc, &b, &err)) == FL_OK && b) {
            for (int64_t r = 0; r < b->num_rows; r++) {
                int64_t key = fl_array_get_int(&b->columns[0], r);
                if (fl_array_get_int(&b->columns[1], r) != (int64_t)mix((uint64_t)key)) bad++;
                size_t len;
                const uint8_t *p = fl_array_get_bytes(&b->columns[2], r, &len);
                fill_blob(key, expect, blob_size(key));
                if (len != blob_size(key) || memcmp(p, expect, len)) bad++;
                if (n == cap) keys = realloc(keys, (size_t)(cap *= 2) * sizeof *keys);
                keys[n++] = key;
            }
            fl_batch_free(b);
        }
        if (rc) {
            fprintf(stderr, "  scan after kill: %s\n", err.message);
            tl_failures++;
        }
        fl_scan_close(sc);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(fl_table_count_rows(t), n);
    /* The keys must be exactly appends 0..A-1 with A = acked or acked + 1 (the one in flight). */
    qsort(keys, (size_t)n, sizeof *keys, cmp_i64);
    int64_t appends = -1;
    for (int64_t candidate = acked; candidate <= acked + (in_flight ? 1 : 0) && appends < 0; candidate++) {
        int64_t i = 0;
        bool match = true;
        for (int64_t j = 0; j < candidate && match; j++)
            for (int64_t r = 0; r < rows_of_append(j) && match; r++) match = i < n && keys[i++] == j * KEYS_PER_APPEND + r;
        if (match && i == n) appends = candidate;
    }
    if (appends < 0) {
        fprintf(stderr, "  after kill: %lld rows do not form appends 0..%lld (%s)\n", (long long)n, (long long)acked,
                in_flight ? "one in flight" : "none in flight");
        tl_failures++;
    }
    free(keys);
    free(expect);
    fl_table_close(t);
    fl_db_close(db);
    return appends;
}

static void test_kill_at_random_moments(void) {
    const char *dir = tl_tmpdir("crash");
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("k int64 not null, check int64 not null, blob binary", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, NULL, &tl_err));
    fl_schema_free(s);
    fl_db_close(db);
    const char *env = getenv("FL_CRASH_KILLS");
    int kills = env ? atoi(env) : 120;
    srand((unsigned)time(NULL));
    int64_t appends = 0;
    uint64_t min_version = 1;
    int in_flight_commits = 0, killed = 0;
    for (int round = 0; round < kills && tl_failures == 0; round++) {
        int fds[2];
        if (pipe(fds)) abort();
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child_loop(dir, appends, fds[1], (unsigned)rand());
        }
        close(fds[1]);
        /* Let it run between 0.5 and 40 ms, so kills land in every phase of every operation. */
        struct timespec ts = {0, (500 + rand() % 40000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) {
            fprintf(stderr, "  child exited by itself with status %d\n", WEXITSTATUS(status));
            tl_failures++;
        }
        killed += WIFSIGNALED(status);
        /* Read what it reported. */
        report r;
        int64_t acked = appends;
        bool append_in_flight = false;
        while (read(fds[0], &r, sizeof r) == (ssize_t)sizeof r) {
            if (r.kind == 1) append_in_flight = true;
            else if (r.kind == 2) {
                append_in_flight = false;
                acked = r.value + 1;
            } else if (r.kind == 4 && (uint64_t)r.value > min_version) min_version = (uint64_t)r.value;
        }
        close(fds[0]);
        int64_t found = verify(dir, acked, append_in_flight, min_version);
        if (found > acked) in_flight_commits++;
        if (found >= 0) appends = found;
    }
    fprintf(stderr, "  %d kills, %lld appends committed, %d commits landed while their writer was being killed\n", killed,
            (long long)appends, in_flight_commits);
    CHECK(killed >= kills || tl_failures);
    CHECK(appends > 0);
}

int main(void) {
    RUN(test_kill_at_random_moments);
    return tl_finish("test_crash");
}
