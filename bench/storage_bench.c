/*
 * storage_bench.c — the framelake side of the storage benchmark (bench/run.sh drives it; see README.md).
 *
 *   storage_bench gen    writes the shared input once: DIR/input/{blobs.bin, rows.bin, labels.bin,
 *                        take_ids.bin, params.txt}, deterministic from --seed. bench/lancedb_storage.mjs
 *                        reads the very same files, so both engines store identical bytes.
 *   storage_bench append one round of the write measurements: builds the batches in memory (timed apart),
 *                        then the raw copy of the blob bytes (write + fsync) and the framelake append
 *                        (one fl_table_append, i.e. one commit, per batch), in an order that alternates
 *                        with --round.
 *   storage_bench read   random take by row id and a full scan of the int64 column, on a fresh handle.
 *
 * Results go to stdout as `key value` lines that run.sh collects; progress goes to stderr. Nothing here
 * asserts a time: the only failures are API errors and wrong data read back.
 */
#define _GNU_SOURCE
#include "framelake.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TABLE_NAME "bench"
#define SCHEMA_TEXT "id int64 not null, x float64, label string, blob binary"
#define ID_BASE 1000000000LL
#define ROW_RECORD_SIZE 40  /* rows.bin: i64 id | f64 x | u64 blob offset | u32 blob size | u32 label size | u64 label offset */
#define TAKE_SETS 1024      /* distinct id sets in take_ids.bin; repetitions cycle through them */

typedef struct options {
    const char *mode;
    const char *dir;
    int64_t rows;
    int64_t blob_bytes;     /* mean blob size; sizes are uniform in [3/4, 5/4] of it */
    int64_t batch_rows;     /* rows per fl_table_append (= per commit) */
    int64_t take_rows;
    int64_t take_warmup;
    int64_t take_reps;
    int64_t scan_warmup;
    int64_t scan_reps;
    uint64_t seed;
    int round;
} options;

/* Row metadata decoded from rows.bin. */
typedef struct row_info {
    int64_t id;
    double x;
    uint64_t blob_offset;
    uint32_t blob_size;
    uint32_t label_size;
    uint64_t label_offset;
} row_info;

/* The shared input, memory-mapped. */
typedef struct input {
    int64_t rows;
    const uint8_t *blobs;
    size_t blobs_size;
    const uint8_t *labels;
    size_t labels_size;
    row_info *info;
    uint64_t *take_ids;     /* TAKE_SETS * take_rows */
    int64_t take_rows;
} input;

/* ---- small helpers ---- */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "storage_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void check(int rc, const fl_error *err, const char *what) {
    if (rc != FL_OK) die("%s: %s (%s)", what, err->message, fl_strerror(rc));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p) die("out of memory");
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir %s: %s", path, strerror(errno));
}

static void write_all(int fd, const void *data, size_t n, const char *path) {
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write %s: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

static void store_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); } /* the bench files are host (little) endian */
static void store_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t load_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* xoshiro256** seeded through splitmix64: fast, and the sequence depends only on the seed. */
typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static uint64_t rng_below(rng *r, uint64_t n) { return rng_next(r) % n; }

static void fill_random(rng *r, uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) store_u64(p + i, rng_next(r));
    if (i < n) {
        uint64_t v = rng_next(r);
        memcpy(p + i, &v, n - i);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* q-quantile (0..1) of n samples, sorting them in place (nearest rank). */
static double quantile(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

/* ---- gen ---- */

static FILE *open_out(const char *dir, const char *name, char **path) {
    *path = path_join(dir, name);
    FILE *f = fopen(*path, "wb");
    if (!f) die("create %s: %s", *path, strerror(errno));
    return f;
}

static void close_out(FILE *f, char *path) {
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) die("write %s: %s", path, strerror(errno));
    free(path);
}

static void cmd_gen(const options *o) {
    char *in_dir = path_join(o->dir, "input");
    make_dir(o->dir);
    make_dir(in_dir);
    rng r;
    rng_seed(&r, o->seed);
    char *p_blobs, *p_rows, *p_labels, *p_take, *p_params;
    FILE *fb = open_out(in_dir, "blobs.bin", &p_blobs), *fr = open_out(in_dir, "rows.bin", &p_rows);
    FILE *fl = open_out(in_dir, "labels.bin", &p_labels);
    int64_t lo = o->blob_bytes - o->blob_bytes / 4, span = o->blob_bytes / 2 + 1;
    uint8_t *blob = malloc((size_t)(lo + span));
    if (!blob) die("out of memory");
    uint64_t blob_off = 0, label_off = 0;
    double t0 = now_s();
    for (int64_t i = 0; i < o->rows; i++) {
        uint32_t size = (uint32_t)(lo + (int64_t)rng_below(&r, (uint64_t)span));
        double x = (double)(rng_next(&r) >> 11) * 0x1.0p-53;
        char label[32];
        int label_size = snprintf(label, sizeof label, "label-%03u", (unsigned)rng_below(&r, 1000));
        fill_random(&r, blob, size);
        uint8_t rec[ROW_RECORD_SIZE];
        store_u64(rec, (uint64_t)(ID_BASE + i));
        memcpy(rec + 8, &x, 8);
        store_u64(rec + 16, blob_off);
        store_u32(rec + 24, size);
        store_u32(rec + 28, (uint32_t)label_size);
        store_u64(rec + 32, label_off);
        if (fwrite(blob, 1, size, fb) != size || fwrite(rec, 1, sizeof rec, fr) != sizeof rec ||
            fwrite(label, 1, (size_t)label_size, fl) != (size_t)label_size)
            die("write input: %s", strerror(errno));
        blob_off += size;
        label_off += (uint64_t)label_size;
    }
    close_out(fb, p_blobs);
    close_out(fr, p_rows);
    close_out(fl, p_labels);
    free(blob);
    /* Take sets: take_rows distinct row ids each, in random (unsorted) order. */
    FILE *ft = open_out(in_dir, "take_ids.bin", &p_take);
    uint8_t *seen = calloc((size_t)o->rows, 1);
    uint64_t *set = malloc((size_t)o->take_rows * sizeof *set);
    if (!seen || !set) die("out of memory");
    if (o->take_rows > o->rows) die("--take-rows %lld exceeds --rows %lld", (long long)o->take_rows, (long long)o->rows);
    for (int s = 0; s < TAKE_SETS; s++) {
        for (int64_t k = 0; k < o->take_rows; k++) {
            uint64_t id;
            do id = rng_below(&r, (uint64_t)o->rows);
            while (seen[id]);
            seen[id] = 1;
            set[k] = id;
        }
        for (int64_t k = 0; k < o->take_rows; k++) seen[set[k]] = 0;
        if (fwrite(set, sizeof *set, (size_t)o->take_rows, ft) != (size_t)o->take_rows) die("write take ids: %s", strerror(errno));
    }
    close_out(ft, p_take);
    free(seen);
    free(set);
    FILE *fp = open_out(in_dir, "params.txt", &p_params);
    fprintf(fp, "rows %lld\nblob_bytes %lld\nseed %llu\ntake_rows %lld\ntake_sets %d\nblob_total_bytes %llu\nid_base %lld\n",
            (long long)o->rows, (long long)o->blob_bytes, (unsigned long long)o->seed, (long long)o->take_rows, TAKE_SETS,
            (unsigned long long)blob_off, (long long)ID_BASE);
    close_out(fp, p_params);
    fprintf(stderr, "gen: %lld rows, %.1f MB of blobs in %.1f s\n", (long long)o->rows, (double)blob_off / 1e6, now_s() - t0);
    printf("gen_rows %lld\ngen_blob_total_bytes %llu\n", (long long)o->rows, (unsigned long long)blob_off);
    free(in_dir);
}

/* ---- input ---- */

static const uint8_t *map_file(const char *dir, const char *name, size_t *size) {
    char *path = path_join(dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open %s: %s (run `storage_bench gen` first)", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) die("stat %s: %s", path, strerror(errno));
    *size = (size_t)st.st_size;
    void *p = *size ? mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
    if (*size && p == MAP_FAILED) die("mmap %s: %s", path, strerror(errno));
    close(fd);
    free(path);
    return p;
}

static void load_input(const options *o, input *in) {
    char *in_dir = path_join(o->dir, "input");
    size_t rows_size, take_size;
    const uint8_t *rows = map_file(in_dir, "rows.bin", &rows_size);
    in->blobs = map_file(in_dir, "blobs.bin", &in->blobs_size);
    in->labels = map_file(in_dir, "labels.bin", &in->labels_size);
    const uint8_t *take = map_file(in_dir, "take_ids.bin", &take_size);
    in->rows = (int64_t)(rows_size / ROW_RECORD_SIZE);
    if (in->rows != o->rows) die("input has %lld rows, --rows says %lld (regenerate with gen)", (long long)in->rows, (long long)o->rows);
    in->take_rows = o->take_rows;
    if (take_size != (size_t)TAKE_SETS * (size_t)o->take_rows * 8) die("take_ids.bin does not match --take-rows %lld", (long long)o->take_rows);
    in->take_ids = (uint64_t *)(uintptr_t)take;
    in->info = malloc((size_t)in->rows * sizeof *in->info);
    if (!in->info) die("out of memory");
    for (int64_t i = 0; i < in->rows; i++) {
        const uint8_t *rec = rows + i * ROW_RECORD_SIZE;
        row_info *ri = &in->info[i];
        ri->id = (int64_t)load_u64(rec);
        memcpy(&ri->x, rec + 8, 8);
        ri->blob_offset = load_u64(rec + 16);
        ri->blob_size = load_u32(rec + 24);
        ri->label_size = load_u32(rec + 28);
        ri->label_offset = load_u64(rec + 32);
        if (ri->blob_offset + ri->blob_size > in->blobs_size || ri->label_offset + ri->label_size > in->labels_size)
            die("rows.bin row %lld points outside the input", (long long)i);
    }
    munmap((void *)(uintptr_t)rows, rows_size);
    free(in_dir);
}

/* ---- append ---- */

static fl_batch *build_batch(const fl_schema *schema, const input *in, int64_t start, int64_t count) {
    fl_batch *b = fl_batch_new(schema);
    if (!b) die("out of memory");
    fl_array *c = b->columns;
    for (int64_t i = start; i < start + count; i++) {
        const row_info *ri = &in->info[i];
        char label[64];
        if (ri->label_size >= sizeof label) die("label of row %lld too long", (long long)i);
        memcpy(label, in->labels + ri->label_offset, ri->label_size);
        label[ri->label_size] = 0;
        if (fl_array_append_int(&c[0], ri->id) || fl_array_append_float(&c[1], ri->x) || fl_array_append_string(&c[2], label) ||
            fl_array_append_bytes(&c[3], in->blobs + ri->blob_offset, ri->blob_size))
            die("building batch: append failed at row %lld", (long long)i);
    }
    fl_error err;
    check(fl_batch_finish(b, &err), &err, "fl_batch_finish");
    return b;
}

/* The reference: the same blob bytes, from the same memory, written to one file and fsynced. */
static double raw_copy(const char *path, fl_batch *const *batches, int64_t n_batches) {
    double t0 = now_s();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("create %s: %s", path, strerror(errno));
    for (int64_t k = 0; k < n_batches; k++) {
        const fl_array *blob = &batches[k]->columns[3];
        write_all(fd, blob->values, (size_t)blob->offsets[blob->length], path);
    }
    if (fsync(fd) != 0) die("fsync %s: %s", path, strerror(errno));
    if (close(fd) != 0) die("close %s: %s", path, strerror(errno));
    return now_s() - t0;
}

static double framelake_append(fl_db *db, fl_batch *const *batches, int64_t n_batches, uint64_t *version) {
    fl_error err;
    fl_schema *schema;
    fl_table *t;
    check(fl_schema_parse(SCHEMA_TEXT, &schema, &err), &err, "fl_schema_parse");
    check(fl_table_create(db, TABLE_NAME, schema, &t, &err), &err, "fl_table_create");
    fl_schema_free(schema);
    double t0 = now_s();
    for (int64_t k = 0; k < n_batches; k++) check(fl_table_append(t, batches[k], NULL, &err), &err, "fl_table_append");
    double secs = now_s() - t0;
    *version = fl_table_version(t);
    fl_table_close(t);
    return secs;
}

static void cmd_append(const options *o) {
    input in;
    load_input(o, &in);
    fl_error err;
    fl_schema *schema;
    check(fl_schema_parse(SCHEMA_TEXT, &schema, &err), &err, "fl_schema_parse");
    int64_t n_batches = (in.rows + o->batch_rows - 1) / o->batch_rows;
    fl_batch **batches = calloc((size_t)(n_batches ? n_batches : 1), sizeof *batches);
    if (!batches) die("out of memory");
    uint64_t blob_bytes = 0;
    double t0 = now_s();
    for (int64_t k = 0; k < n_batches; k++) {
        int64_t start = k * o->batch_rows, count = in.rows - start < o->batch_rows ? in.rows - start : o->batch_rows;
        batches[k] = build_batch(schema, &in, start, count);
        blob_bytes += (uint64_t)batches[k]->columns[3].offsets[count];
    }
    double build_s = now_s() - t0;
    fl_schema_free(schema);

    /* Remove what the previous round left, outside the timed part, and let the file system settle
     * (freed extents are discarded at the next journal commit). */
    char *fl_dir = path_join(o->dir, "framelake");
    char *raw_dir = path_join(o->dir, "raw");
    char *raw_path = path_join(raw_dir, "copy.bin");
    make_dir(raw_dir);
    unlink(raw_path);
    fl_db *db;
    check(fl_db_open(fl_dir, FL_OPEN_CREATE, &db, &err), &err, "fl_db_open");
    int rc = fl_table_drop(db, TABLE_NAME, &err);
    if (rc != FL_OK && rc != FL_ENOTFOUND) check(rc, &err, "fl_table_drop");
    sync();

    double raw_s = 0, fl_s = 0;
    uint64_t version = 0;
    bool raw_first = o->round % 2 == 1;
    for (int step = 0; step < 2; step++) {
        if ((step == 0) == raw_first) {
            fprintf(stderr, "round %d: raw copy of %.1f MB ...\n", o->round, (double)blob_bytes / 1e6);
            raw_s = raw_copy(raw_path, batches, n_batches);
        } else {
            fprintf(stderr, "round %d: framelake append of %lld rows in %lld batches ...\n", o->round, (long long)in.rows, (long long)n_batches);
            fl_s = framelake_append(db, batches, n_batches, &version);
        }
        sync(); /* nothing dirty carries over into the next measurement */
    }
    unlink(raw_path);
    fl_db_close(db);

    printf("round %d\n", o->round);
    printf("order %s\n", raw_first ? "raw,framelake" : "framelake,raw");
    printf("rows %lld\n", (long long)in.rows);
    printf("batches %lld\n", (long long)n_batches);
    printf("blob_bytes %llu\n", (unsigned long long)blob_bytes);
    printf("batch_build_s %.6f\n", build_s);
    printf("raw_copy_s %.6f\n", raw_s);
    printf("fl_append_s %.6f\n", fl_s);
    printf("fl_version %llu\n", (unsigned long long)version);
    for (int64_t k = 0; k < n_batches; k++) fl_batch_free(batches[k]);
    free(batches);
    free(fl_dir);
    free(raw_dir);
    free(raw_path);
}

/* ---- read ---- */

/* Checks a taken batch against the input: every column of every row, blobs byte for byte. */
static void verify_take(const input *in, const fl_batch *b, const uint64_t *ids, size_t n, bool with_blob) {
    if (b->num_rows != (int64_t)n) die("take returned %lld rows, asked %zu", (long long)b->num_rows, n);
    const fl_array *id = fl_batch_column(b, "id"), *x = fl_batch_column(b, "x"), *label = fl_batch_column(b, "label");
    const fl_array *blob = fl_batch_column(b, "blob");
    if (!id || !x || !label || (with_blob && !blob)) die("take result lacks a column");
    for (size_t k = 0; k < n; k++) {
        const row_info *ri = &in->info[ids[k]];
        size_t size;
        const uint8_t *p;
        if (b->row_ids && b->row_ids[k] != ids[k]) die("take row %zu: row id %llu, expected %llu", k, (unsigned long long)b->row_ids[k], (unsigned long long)ids[k]);
        if (fl_array_get_int(id, (int64_t)k) != ri->id) die("take row %zu: wrong id", k);
        if (fl_array_get_float(x, (int64_t)k) != ri->x) die("take row %zu: wrong x", k);
        p = fl_array_get_bytes(label, (int64_t)k, &size);
        if (size != ri->label_size || memcmp(p, in->labels + ri->label_offset, size)) die("take row %zu: wrong label", k);
        if (!with_blob) continue;
        p = fl_array_get_bytes(blob, (int64_t)k, &size);
        if (size != ri->blob_size || memcmp(p, in->blobs + ri->blob_offset, size)) die("take row %zu: wrong blob bytes", k);
    }
}

/* Times warm-up + reps takes of take_rows ids; prints p50/p90/mean and rows/s under `prefix`. */
static void bench_take(const options *o, const input *in, fl_table *t, const char *const *columns, size_t n_columns, const char *prefix) {
    bool with_blob = columns == NULL;
    double *lat = malloc((size_t)o->take_reps * sizeof *lat);
    if (!lat) die("out of memory");
    uint64_t bytes = 0;
    fl_error err;
    for (int64_t rep = 0; rep < o->take_warmup + o->take_reps; rep++) {
        const uint64_t *ids = in->take_ids + (size_t)(rep % TAKE_SETS) * (size_t)o->take_rows;
        fl_batch *b;
        double t0 = now_s();
        check(fl_table_take(t, ids, (size_t)o->take_rows, columns, n_columns, &b, &err), &err, "fl_table_take");
        double dt = now_s() - t0;
        if (rep < o->take_warmup) {
            verify_take(in, b, ids, (size_t)o->take_rows, with_blob); /* outside the timed repetitions */
        } else {
            lat[rep - o->take_warmup] = dt;
            if (with_blob) bytes += (uint64_t)b->columns[3].offsets[b->num_rows];
        }
        fl_batch_free(b);
    }
    double sum = 0;
    for (int64_t i = 0; i < o->take_reps; i++) sum += lat[i];
    double p90 = quantile(lat, (size_t)o->take_reps, 0.90), p50 = quantile(lat, (size_t)o->take_reps, 0.50);
    printf("%s_p50_us %.1f\n", prefix, p50 * 1e6);
    printf("%s_p90_us %.1f\n", prefix, p90 * 1e6);
    printf("%s_mean_us %.1f\n", prefix, sum / (double)o->take_reps * 1e6);
    printf("%s_rows_per_s %.0f\n", prefix, (double)o->take_rows / p50);
    if (with_blob) printf("%s_mb_per_s %.1f\n", prefix, (double)bytes / sum / 1e6);
    free(lat);
}

static void cmd_read(const options *o) {
    input in;
    load_input(o, &in);
    fl_error err;
    fl_db *db;
    fl_table *t;
    char *fl_dir = path_join(o->dir, "framelake");
    check(fl_db_open(fl_dir, 0, &db, &err), &err, "fl_db_open");
    check(fl_table_open(db, TABLE_NAME, NULL, &t, &err), &err, "fl_table_open");
    if (fl_table_count_rows(t) != in.rows) die("table has %lld rows, expected %lld", (long long)fl_table_count_rows(t), (long long)in.rows);
    printf("fl_lib_version %s\n", fl_version());
    printf("fl_table_version %llu\n", (unsigned long long)fl_table_version(t));

    fprintf(stderr, "framelake take: %lld x %lld rows (+%lld warm-up) ...\n", (long long)o->take_reps, (long long)o->take_rows, (long long)o->take_warmup);
    bench_take(o, &in, t, NULL, 0, "fl_take");
    static const char *const scalars[] = {"id", "x", "label"};
    bench_take(o, &in, t, scalars, 3, "fl_take_scalars");

    fprintf(stderr, "framelake scan of column id: %lld reps (+%lld warm-up) ...\n", (long long)o->scan_reps, (long long)o->scan_warmup);
    static const char *const id_col[] = {"id"};
    fl_scan_options so = {.columns = id_col, .n_columns = 1};
    double *lat = malloc((size_t)o->scan_reps * sizeof *lat);
    if (!lat) die("out of memory");
    int64_t expect_sum = 0;
    for (int64_t i = 0; i < in.rows; i++) expect_sum += in.info[i].id;
    for (int64_t rep = 0; rep < o->scan_warmup + o->scan_reps; rep++) {
        double t0 = now_s();
        fl_scan *sc;
        check(fl_scan_open(t, &so, &sc, &err), &err, "fl_scan_open");
        int64_t rows = 0, sum = 0;
        for (;;) {
            fl_batch *b;
            check(fl_scan_next(sc, &b, &err), &err, "fl_scan_next");
            if (!b) break;
            const int64_t *v = b->columns[0].values;
            for (int64_t i = 0; i < b->num_rows; i++) sum += v[i];
            rows += b->num_rows;
            fl_batch_free(b);
        }
        fl_scan_close(sc);
        double dt = now_s() - t0;
        if (rows != in.rows || sum != expect_sum) die("scan read %lld rows summing to %lld, expected %lld rows summing to %lld", (long long)rows,
                                                       (long long)sum, (long long)in.rows, (long long)expect_sum);
        if (rep >= o->scan_warmup) lat[rep - o->scan_warmup] = dt;
    }
    double med = quantile(lat, (size_t)o->scan_reps, 0.5);
    printf("fl_scan_median_us %.1f\n", med * 1e6);
    printf("fl_scan_rows_per_s %.0f\n", (double)in.rows / med);
    free(lat);
    fl_table_close(t);
    fl_db_close(db);
    free(fl_dir);
}

/* ---- main ---- */

static int64_t parse_int(const char *name, const char *v) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < 0) die("%s: not a non-negative integer: '%s'", name, v);
    return x;
}

static void usage(void) {
    fprintf(stderr,
            "usage: storage_bench gen|append|read [options]\n"
            "  --dir DIR          scratch directory (default bench/out)\n"
            "  --rows N           rows (default 20000)\n"
            "  --blob-bytes B     mean blob size in bytes (default 65536; sizes uniform in [3B/4, 5B/4])\n"
            "  --batch-rows R     rows per append call / commit (default 1000)\n"
            "  --take-rows K      rows per take (default 64)\n"
            "  --take-warmup W    untimed takes first, also used to verify the data (default 20)\n"
            "  --take-reps M      timed takes (default 300)\n"
            "  --scan-warmup W    untimed scans (default 3)\n"
            "  --scan-reps M      timed scans (default 30)\n"
            "  --seed S           PRNG seed for gen (default 42)\n"
            "  --round R          append round number (alternates the raw/framelake order)\n");
    exit(2);
}

int main(int argc, char **argv) {
    options o = {.dir = "bench/out", .rows = 20000, .blob_bytes = 65536, .batch_rows = 1000, .take_rows = 64, .take_warmup = 20,
                 .take_reps = 300, .scan_warmup = 3, .scan_reps = 30, .seed = 42, .round = 1};
    if (argc < 2) usage();
    o.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--dir")) o.dir = v;
        else if (!strcmp(a, "--rows")) o.rows = parse_int(a, v);
        else if (!strcmp(a, "--blob-bytes")) o.blob_bytes = parse_int(a, v);
        else if (!strcmp(a, "--batch-rows")) o.batch_rows = parse_int(a, v);
        else if (!strcmp(a, "--take-rows")) o.take_rows = parse_int(a, v);
        else if (!strcmp(a, "--take-warmup")) o.take_warmup = parse_int(a, v);
        else if (!strcmp(a, "--take-reps")) o.take_reps = parse_int(a, v);
        else if (!strcmp(a, "--scan-warmup")) o.scan_warmup = parse_int(a, v);
        else if (!strcmp(a, "--scan-reps")) o.scan_reps = parse_int(a, v);
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)parse_int(a, v);
        else if (!strcmp(a, "--round")) o.round = (int)parse_int(a, v);
        else usage();
    }
    if (o.rows < 1 || o.blob_bytes < 4 || o.batch_rows < 1 || o.take_rows < 1 || o.take_reps < 1 || o.scan_reps < 1) usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(o.mode, "gen")) cmd_gen(&o);
    else if (!strcmp(o.mode, "append")) cmd_append(&o);
    else if (!strcmp(o.mode, "read")) cmd_read(&o);
    else usage();
    return 0;
}
