/*
 * storage_bench.c — the framelake side of the storage benchmark (bench/run.sh drives it; see README.md).
 *
 *   storage_bench gen    writes the shared input once: DIR/input/{blobs.bin, rows.bin, labels.bin,
 *                        take_ids.bin, params.txt}, deterministic from --seed. bench/lancedb_storage.mjs
 *                        reads the very same files, so both engines store identical bytes.
 *   storage_bench append one round of the write measurements: builds the batches in memory (timed apart),
 *                        then, after one untimed warm-up copy, times twice each: the raw copy of the blob
 *                        bytes (write + one fsync), the raw copy as one fsynced file per batch, the
 *                        framelake append with one fl_table_append (= one commit) per batch, and one
 *                        fl_table_append of all rows; the order is balanced within and across rounds.
 *   storage_bench read   random take by row id and a full scan of the int64 column, on a fresh handle.
 *
 * Results go to stdout as `key value` lines that run.sh collects; progress goes to stderr. Nothing here
 * asserts a time: the only failures are API errors and wrong data read back.
 */
#include "framelake.h"

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
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

/* The reference: the same blob bytes, from the same memory, written to one file and fsynced once. */
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

/* A second reference with the shape of one durable commit per batch: one file per batch, each fsynced
 * before the next is written, then the directory. It shows what that shape costs without any format. */
static double raw_copy_per_batch(const char *dir, fl_batch *const *batches, int64_t n_batches) {
    double t0 = now_s();
    for (int64_t k = 0; k < n_batches; k++) {
        char name[32];
        snprintf(name, sizeof name, "part-%06lld.bin", (long long)k);
        char *path = path_join(dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) die("create %s: %s", path, strerror(errno));
        const fl_array *blob = &batches[k]->columns[3];
        write_all(fd, blob->values, (size_t)blob->offsets[blob->length], path);
        if (fsync(fd) != 0) die("fsync %s: %s", path, strerror(errno));
        if (close(fd) != 0) die("close %s: %s", path, strerror(errno));
        free(path);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0) die("fsync %s: %s", dir, strerror(errno));
    close(dfd);
    return now_s() - t0;
}

static void remove_parts(const char *dir, int64_t n_batches) {
    for (int64_t k = 0; k < n_batches; k++) {
        char name[32];
        snprintf(name, sizeof name, "part-%06lld.bin", (long long)k);
        char *path = path_join(dir, name);
        unlink(path);
        free(path);
    }
}

/* Creates table `name` and appends the batches, one fl_table_append (one commit) each; times the appends. */
static double framelake_append(fl_db *db, const char *name, fl_batch *const *batches, int64_t n_batches) {
    fl_error err;
    fl_schema *schema;
    fl_table *t;
    check(fl_schema_parse(SCHEMA_TEXT, &schema, &err), &err, "fl_schema_parse");
    check(fl_table_create(db, name, schema, &t, &err), &err, "fl_table_create");
    fl_schema_free(schema);
    double t0 = now_s();
    for (int64_t k = 0; k < n_batches; k++) check(fl_table_append(t, batches[k], NULL, &err), &err, "fl_table_append");
    double secs = now_s() - t0;
    fl_table_close(t);
    return secs;
}

static void drop_table(fl_db *db, const char *name) {
    fl_error err;
    int rc = fl_table_drop(db, name, &err);
    if (rc != FL_OK && rc != FL_ENOTFOUND) check(rc, &err, "fl_table_drop");
}

/* The four ways of writing the same bytes that one round times, twice each. */
enum { M_RAW, M_RAW_FILES, M_FL, M_FL_ONE, N_METHODS };
static const char *const method_key[N_METHODS] = {"raw_copy", "raw_files", "fl_append", "fl_one_append"};

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
    fl_batch *all = build_batch(schema, &in, 0, in.rows); /* for the one-commit variant */
    fl_schema_free(schema);

    char *fl_dir = path_join(o->dir, "framelake");
    char *raw_dir = path_join(o->dir, "raw");
    char *raw_path = path_join(raw_dir, "copy.bin");
    char *parts_dir = path_join(raw_dir, "parts");
    make_dir(raw_dir);
    make_dir(parts_dir);
    fl_db *db;
    check(fl_db_open(fl_dir, FL_OPEN_CREATE, &db, &err), &err, "fl_db_open");

    /* A palindromic order (reversed halves), rotated between odd and even rounds, so that drift within
     * a round weighs on every method alike. Before each step, everything a previous step wrote is removed
     * and synced, outside the timed part. Step -1 is an untimed warm-up that writes the bytes of both sets
     * of batches once: on the VM this was developed on, the first write() from freshly built memory was
     * two to three times slower than later ones, whoever made it. */
    static const int odd_plan[8] = {M_RAW, M_RAW_FILES, M_FL, M_FL_ONE, M_FL_ONE, M_FL, M_RAW_FILES, M_RAW};
    static const int even_plan[8] = {M_FL, M_FL_ONE, M_RAW, M_RAW_FILES, M_RAW_FILES, M_RAW, M_FL_ONE, M_FL};
    const int *plan = o->round % 2 ? odd_plan : even_plan;
    double secs[N_METHODS][2] = {{0}};
    int done[N_METHODS] = {0};
    double warmup_s = 0;
    for (int step = -1; step < 8; step++) {
        unlink(raw_path);
        remove_parts(parts_dir, n_batches);
        drop_table(db, TABLE_NAME);
        drop_table(db, TABLE_NAME "_one");
        sync();
        int m = step < 0 ? -1 : plan[step];
        double s;
        switch (m) {
        case -1:
            fprintf(stderr, "round %d: warm-up raw copies from both sets of batches (untimed) ...\n", o->round);
            warmup_s = raw_copy(raw_path, batches, n_batches);
            unlink(raw_path);
            warmup_s += raw_copy(raw_path, &all, 1);
            continue;
        case M_RAW:
            fprintf(stderr, "round %d: raw copy, one file, one fsync ...\n", o->round);
            s = raw_copy(raw_path, batches, n_batches);
            break;
        case M_RAW_FILES:
            fprintf(stderr, "round %d: raw copy, one file + fsync per batch ...\n", o->round);
            s = raw_copy_per_batch(parts_dir, batches, n_batches);
            break;
        case M_FL:
            fprintf(stderr, "round %d: framelake, %lld appends of %lld rows ...\n", o->round, (long long)n_batches, (long long)o->batch_rows);
            s = framelake_append(db, TABLE_NAME, batches, n_batches);
            break;
        default:
            fprintf(stderr, "round %d: framelake, one append of %lld rows ...\n", o->round, (long long)in.rows);
            s = framelake_append(db, TABLE_NAME "_one", &all, 1);
            break;
        }
        secs[m][done[m]++] = s;
    }
    /* For the record: what checksumming every blob once costs (framelake stores an XXH3 per blob and
     * verifies it on read), hashed here the way its writer does, blob by blob from the batches. */
    uint64_t h = 0;
    double hash_s = now_s();
    for (int64_t k = 0; k < n_batches; k++) {
        const fl_array *blob = &batches[k]->columns[3];
        for (int64_t i = 0; i < blob->length; i++)
            h ^= XXH3_64bits((const uint8_t *)blob->values + blob->offsets[i], (size_t)(blob->offsets[i + 1] - blob->offsets[i]));
    }
    hash_s = now_s() - hash_s;
    if (h == 42) fprintf(stderr, "(unlikely hash)\n"); /* keeps the loop from being optimised away */

    /* Leave a table of per-batch appends (the shape LanceDB's table has) for `read`, written untimed. */
    unlink(raw_path);
    remove_parts(parts_dir, n_batches);
    drop_table(db, TABLE_NAME "_one");
    drop_table(db, TABLE_NAME);
    fl_batch_free(all);
    fprintf(stderr, "round %d: framelake table for the read phase (untimed) ...\n", o->round);
    framelake_append(db, TABLE_NAME, batches, n_batches);
    sync();
    fl_db_close(db);

    printf("round %d\n", o->round);
    printf("rows %lld\n", (long long)in.rows);
    printf("batches %lld\n", (long long)n_batches);
    printf("blob_bytes %llu\n", (unsigned long long)blob_bytes);
    printf("batch_build_s %.6f\n", build_s);
    printf("raw_warmup_s %.3f\n", warmup_s);
    printf("blob_hash_s %.6f\n", hash_s);
    for (int m = 0; m < N_METHODS; m++)
        for (int k = 0; k < done[m]; k++) printf("sample_%s %.6f\n", method_key[m], secs[m][k]);
    for (int64_t k = 0; k < n_batches; k++) fl_batch_free(batches[k]);
    free(batches);
    free(fl_dir);
    free(raw_dir);
    free(raw_path);
    free(parts_dir);
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

/* One full scan of column id; checks the row count and the sum; returns the seconds it took. */
static double scan_id_column(fl_table *t, const input *in) {
    static const char *const id_col[] = {"id"};
    fl_scan_options so = {.columns = id_col, .n_columns = 1};
    int64_t expect_sum = 0;
    for (int64_t i = 0; i < in->rows; i++) expect_sum += in->info[i].id;
    fl_error err;
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
    if (rows != in->rows || sum != expect_sum)
        die("scan read %lld rows summing to %lld, expected %lld rows summing to %lld", (long long)rows, (long long)sum, (long long)in->rows,
            (long long)expect_sum);
    return dt;
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
    /* The very first scan on the fresh handle: no data file open yet (the OS cache is warm, though). */
    double first_scan = scan_id_column(t, &in);

    fprintf(stderr, "framelake take: %lld x %lld rows (+%lld warm-up) ...\n", (long long)o->take_reps, (long long)o->take_rows, (long long)o->take_warmup);
    bench_take(o, &in, t, NULL, 0, "fl_take");
    static const char *const scalars[] = {"id", "x", "label"};
    bench_take(o, &in, t, scalars, 3, "fl_take_scalars");

    fprintf(stderr, "framelake scan of column id: %lld reps (+%lld warm-up) ...\n", (long long)o->scan_reps, (long long)o->scan_warmup);
    double *lat = malloc((size_t)o->scan_reps * sizeof *lat);
    if (!lat) die("out of memory");
    for (int64_t rep = 0; rep < o->scan_warmup + o->scan_reps; rep++) {
        double dt = scan_id_column(t, &in);
        if (rep >= o->scan_warmup) lat[rep - o->scan_warmup] = dt;
    }
    double med = quantile(lat, (size_t)o->scan_reps, 0.5);
    printf("fl_scan_first_us %.1f\n", first_scan * 1e6);
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
