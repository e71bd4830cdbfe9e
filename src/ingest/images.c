/*
 * images.c — fl_ingest_images: a folder of JPEG files into table rows (the contract is in framelake.h).
 *
 * A run goes: walk the folder into a sorted list of candidate files (paths only, no bytes) → open the
 * table, check its schema and scan its image_id column once into a map → take the files in order, each
 * read into one scratch buffer, checked by fl_jpeg_info and copied into the pending batch → commit the
 * batch when it reaches commit_every rows or max_batch_bytes, and at the end.
 *
 * Invariants:
 *  1. At most one batch of image bytes (plus one file in the scratch buffer) is in memory at a time.
 *  2. Nothing is committed, and a missing table is not created, before the first batch is complete; so in
 *     strict mode a problem found during the walk or in the first batch leaves the database untouched, and
 *     a strict run that will commit more than once checks every file before its first commit.
 *  3. An image_id is added at most once per run: `seen` maps it to the file that took it.
 *  4. In overwrite mode the replaced rows are deleted only after the batch that replaces them is committed.
 */
#include "ingest.h"

#include "../batch/batch.h"
#include "../common/common.h"
#include "../io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_BATCH_BYTES ((int64_t)256 << 20)
#define MAX_IMAGE_BYTES ((int64_t)1 << 30) /* a larger .jpg is refused rather than read into memory */

/* The columns an ingested image fills, in the order of the batch's columns. */
#define INGEST_SCHEMA "image_id string not null, split string, image_bytes binary, width int32, height int32, source string"
enum { COL_IMAGE_ID, COL_SPLIT, COL_IMAGE_BYTES, COL_WIDTH, COL_HEIGHT, COL_SOURCE };

/* ---- a string multimap: image_id -> int64 (a row id, or the index of a file) ---- */

typedef struct id_entry {
    char *key;                  /* owned */
    int64_t value;
    int64_t next;               /* next entry in the same bucket, or -1 */
} id_entry;

typedef struct id_map {
    id_entry *entries;
    int64_t n, cap;
    int64_t *heads;             /* bucket -> first entry, or -1; n_heads is a power of two */
    size_t n_heads;
} id_map;

static void map_free(id_map *m) {
    for (int64_t i = 0; i < m->n; i++) fl_free(m->entries[i].key);
    fl_free(m->entries);
    fl_free(m->heads);
    memset(m, 0, sizeof *m);
}

static size_t map_bucket(const id_map *m, const char *key, size_t len) { return (size_t)fl_hash64(key, len) & (m->n_heads - 1); }

static bool map_rehash(id_map *m, size_t n_heads) {
    int64_t *heads = fl_malloc(n_heads * sizeof *heads);
    if (!heads) return false;
    for (size_t i = 0; i < n_heads; i++) heads[i] = -1;
    fl_free(m->heads);
    m->heads = heads;
    m->n_heads = n_heads;
    for (int64_t i = 0; i < m->n; i++) {
        size_t b = map_bucket(m, m->entries[i].key, strlen(m->entries[i].key));
        m->entries[i].next = heads[b];
        heads[b] = i;
    }
    return true;
}

/* Adds key (the first len bytes) -> value; duplicates are kept. False on OOM. */
static bool map_add(id_map *m, const char *key, size_t len, int64_t value) {
    if (m->n == m->cap) {
        int64_t cap = m->cap ? m->cap * 2 : 1024;
        id_entry *grown = fl_realloc(m->entries, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        m->entries = grown;
        m->cap = cap;
    }
    if ((size_t)m->n + 1 > m->n_heads / 4 * 3 && !map_rehash(m, m->n_heads ? m->n_heads * 2 : 2048)) return false;
    char *copy = fl_strndup(key, len);
    if (!copy) return false;
    size_t b = map_bucket(m, copy, len);
    m->entries[m->n] = (id_entry){.key = copy, .value = value, .next = m->heads[b]};
    m->heads[b] = m->n++;
    return true;
}

/* The next entry for key after entry `after` (-1: the first), or -1. */
static int64_t map_find(const id_map *m, const char *key, int64_t after) {
    if (m->n == 0) return -1;
    int64_t i = after < 0 ? m->heads[map_bucket(m, key, strlen(key))] : m->entries[after].next;
    for (; i >= 0; i = m->entries[i].next)
        if (!strcmp(m->entries[i].key, key)) return i;
    return -1;
}

/* ---- the folder walk ---- */

typedef struct file_entry {
    char *path;                 /* dir + "/" + relative path; owned */
    char *image_id;             /* file name without .jpg/.jpeg; owned */
    int64_t size;               /* from stat at walk time (-1 if stat failed); used only to plan commits */
} file_entry;

typedef struct ingest {
    fl_db *db;
    const char *table_name;
    fl_table *table;            /* NULL until it exists (created at the first commit) */
    fl_ingest_images_options o;
    fl_ingest_report *rep;
    fl_error *err;
    fl_schema *schema;          /* INGEST_SCHEMA */
    file_entry *files;
    size_t n_files, cap_files;
    id_map existing;            /* image_ids in the table -> row id (row ids only in overwrite mode) */
    id_map seen;                /* image_ids taken by this run -> index of the file */
    bool checking;              /* the strict pre-check pass: nothing is appended or counted */
    fl_batch *batch;            /* the pending rows */
    int64_t batch_rows, batch_bytes;
    uint64_t *replaced;         /* overwrite mode: row ids the pending batch replaces */
    size_t n_replaced, cap_replaced;
    uint8_t *buf;               /* scratch: the file being read */
    size_t cap_buf;
} ingest;

static int oom(ingest *g) { return fl_error_set(g->err, FL_ENOMEM, "ingest images: out of memory"); }

/*
 * Reports a file that is not added. Skips are only reported; failures and duplicates are counted too, and in
 * strict mode they end the run with `code` and the message.
 */
static int notice(ingest *g, fl_ingest_outcome outcome, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int notice(ingest *g, fl_ingest_outcome outcome, int code, const char *path, const char *fmt, ...) {
    char message[FL_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    bool problem = outcome != FL_INGEST_SKIPPED_EXISTING;
    if (problem && g->o.strict) return fl_error_set(g->err, code, "strict: %s", message);
    if (g->checking) return FL_OK;
    if (outcome == FL_INGEST_SKIPPED_EXISTING) g->rep->skipped++;
    else if (outcome == FL_INGEST_DUPLICATE) g->rep->duplicates++;
    else g->rep->failed++;
    if (g->o.on_file) g->o.on_file(g->o.on_file_ctx, outcome, path, message);
    return FL_OK;
}

/* Length of the name without a .jpg/.jpeg extension (any case), or 0 if it has neither. */
static size_t jpeg_stem_length(const char *name) {
    size_t n = strlen(name);
    if (n > 4 && !strcasecmp(name + n - 4, ".jpg")) return n - 4;
    if (n > 5 && !strcasecmp(name + n - 5, ".jpeg")) return n - 5;
    return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted entry names of a directory, without hidden names ("._x.jpg" from macOS and the like). On an
 * error other than memory, `why` says what went wrong and the code is returned. */
static int list_dir(ingest *g, const char *dir, char ***out, size_t *n_out, fl_error *why) {
    char **names;
    size_t n;
    int rc = fl_io_list(dir, &names, &n, why);
    if (rc == FL_ENOMEM) return oom(g);
    if (rc != FL_OK) return rc;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (names[i][0] == '.') fl_free(names[i]);
        else names[kept++] = names[i];
    }
    if (kept > 1) qsort(names, kept, sizeof *names, compare_names);
    *out = names;
    *n_out = kept;
    return FL_OK;
}

static int add_file(ingest *g, char *path, const char *name, size_t stem, int64_t size) {
    if (!fl_reserve((void **)&g->files, &g->cap_files, g->n_files + 1, sizeof *g->files, 256)) return oom(g);
    char *id = fl_strndup(name, stem);
    if (!id) return oom(g);
    g->files[g->n_files++] = (file_entry){.path = path, .image_id = id, .size = size};
    return FL_OK;
}

/* Appends the .jpg/.jpeg files under dir to g->files in walk order. A subdirectory that cannot be listed
 * is a failed entry; the top directory is an error. */
static int walk(ingest *g, const char *dir, bool top) {
    char **names = NULL;
    size_t n = 0;
    fl_error why = {0};
    int rc = list_dir(g, dir, &names, &n, &why);
    if (rc != FL_OK && rc != FL_ENOMEM) {
        if (top) return fl_error_set(g->err, rc, "ingest images: %s", why.message);
        return notice(g, FL_INGEST_FAILED, FL_EIO, dir, "%s", why.message);
    }
    if (rc != FL_OK) return rc;
    size_t dir_len = strlen(dir);
    bool slash = dir_len > 0 && dir[dir_len - 1] == '/';
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        char *path = fl_sprintf("%s%s%s", dir, slash ? "" : "/", names[i]);
        if (!path) {
            rc = oom(g);
            break;
        }
        struct stat st;
        bool is_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode); /* symlinked directories are not followed */
        size_t stem = jpeg_stem_length(names[i]);
        if (is_dir) {
            if (g->o.recursive) rc = walk(g, path, false);
            fl_free(path);
        } else if (stem > 0) {
            int64_t size = stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
            rc = add_file(g, path, names[i], stem, size);
            if (rc != FL_OK) fl_free(path);
        } else {
            fl_free(path);
        }
    }
    fl_strings_free(names, n);
    return rc;
}

/* ---- the table ---- */

/* An existing table must have the ingest columns with the ingest types, and nothing else that is not null. */
static int check_table_schema(ingest *g, const fl_schema *have) {
    for (int32_t i = 0; i < g->schema->n_fields; i++) {
        const fl_field *want = &g->schema->fields[i];
        int k = fl_schema_find(have, want->name);
        if (k < 0)
            return fl_error_set(g->err, FL_EINVAL, "table '%s' has no column '%s' (ingest images needs %s)", g->table_name, want->name,
                                INGEST_SCHEMA);
        if (!fl_field_same_type(&have->fields[k], want)) {
            char *type = fl_field_type_format(&have->fields[k]);
            int rc = fl_error_set(g->err, FL_ETYPE, "table '%s': column '%s' is %s, ingest images needs %s", g->table_name, want->name,
                                  type ? type : "?", fl_type_name(want->type));
            free(type);
            return rc;
        }
    }
    for (int32_t i = 0; i < have->n_fields; i++)
        if (!have->fields[i].nullable && fl_schema_find(g->schema, have->fields[i].name) < 0)
            return fl_error_set(g->err, FL_EINVAL, "table '%s': column '%s' is not null, and ingest images cannot fill it", g->table_name,
                                have->fields[i].name);
    return FL_OK;
}

/* Scans the image_id column once into g->existing. */
static int load_existing_ids(ingest *g) {
    const char *columns[] = {"image_id"};
    fl_scan_options so = {.columns = columns, .n_columns = 1, .with_row_ids = g->o.mode == FL_INGEST_OVERWRITE};
    fl_scan *scan;
    FL_RETURN_NOT_OK(fl_scan_open(g->table, &so, &scan, g->err));
    fl_batch *b = NULL;
    int rc;
    while ((rc = fl_scan_next(scan, &b, g->err)) == FL_OK && b) {
        const fl_array *ids = &b->columns[0];
        for (int64_t i = 0; i < b->num_rows && rc == FL_OK; i++) {
            if (fl_array_is_null(ids, i)) continue;
            size_t len;
            const uint8_t *id = fl_array_get_bytes(ids, i, &len);
            if (!map_add(&g->existing, (const char *)id, len, b->row_ids ? (int64_t)b->row_ids[i] : 0)) rc = oom(g);
        }
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_scan_close(scan);
    return rc;
}

static int open_table(ingest *g) {
    fl_error open_err = {0};
    int rc = fl_table_open(g->db, g->table_name, NULL, &g->table, &open_err);
    if (rc == FL_ENOTFOUND) return FL_OK; /* created by the first commit */
    if (rc != FL_OK) {
        if (g->err) *g->err = open_err;
        return rc;
    }
    FL_RETURN_NOT_OK(check_table_schema(g, fl_table_schema(g->table)));
    return g->o.mode == FL_INGEST_APPEND ? FL_OK : load_existing_ids(g);
}

static int create_table(ingest *g) {
    int rc = fl_table_create(g->db, g->table_name, g->schema, &g->table, g->err);
    if (rc == FL_OK) {
        g->rep->commits++;
        return FL_OK;
    }
    if (rc != FL_EEXIST) return rc;
    /* Another writer created it since we looked: use theirs if it fits (its rows were not checked for
     * existing ids, which only matters if that writer also ingests the same images). */
    FL_RETURN_NOT_OK(fl_table_open(g->db, g->table_name, NULL, &g->table, g->err));
    return check_table_schema(g, fl_table_schema(g->table));
}

/* Commits the pending batch (and in overwrite mode deletes the rows it replaces). */
static int flush(ingest *g) {
    if (g->batch_rows == 0) return FL_OK;
    FL_RETURN_NOT_OK(fl_batch_finish(g->batch, g->err));
    if (!g->table) FL_RETURN_NOT_OK(create_table(g));
    FL_RETURN_NOT_OK(fl_table_append(g->table, g->batch, NULL, g->err));
    g->rep->commits++;
    g->rep->added += g->batch_rows;
    g->rep->bytes_added += g->batch_bytes;
    if (g->n_replaced > 0) {
        FL_RETURN_NOT_OK(fl_table_delete_rows(g->table, g->replaced, g->n_replaced, g->err));
        g->rep->commits++;
        g->n_replaced = 0;
    }
    fl_batch_free(g->batch);
    g->batch = fl_batch_new(g->schema);
    g->batch_rows = g->batch_bytes = 0;
    return g->batch ? FL_OK : oom(g);
}

/* ---- one file ---- */

/* Reads a whole file into g->buf. On failure returns false with the reason in why. */
static bool read_file(ingest *g, const char *path, size_t *size, char *why, size_t why_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, why_size, "cannot read: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return false;
    }
    bool ok = false;
    if (!S_ISREG(st.st_mode)) snprintf(why, why_size, "not a regular file");
    else if (st.st_size > MAX_IMAGE_BYTES)
        snprintf(why, why_size, "file too large (%lld bytes; the limit is %lld)", (long long)st.st_size, (long long)MAX_IMAGE_BYTES);
    else {
        size_t want = (size_t)st.st_size + 1; /* one more byte, to notice a file that grew */
        uint8_t *grown = want > g->cap_buf ? fl_realloc(g->buf, want) : g->buf;
        if (!grown) snprintf(why, why_size, "out of memory reading %lld bytes", (long long)st.st_size);
        else {
            if (want > g->cap_buf) g->buf = grown, g->cap_buf = want;
            size_t got = 0;
            ssize_t r = 0;
            while (got < (size_t)st.st_size && (r = read(fd, g->buf + got, (size_t)st.st_size - got)) != 0) {
                if (r < 0 && errno == EINTR) continue;
                if (r < 0) break;
                got += (size_t)r;
            }
            if (r < 0) snprintf(why, why_size, "cannot read: %s", strerror(errno));
            else {
                *size = got;
                ok = true;
            }
        }
    }
    close(fd);
    return ok;
}

static int append_row(ingest *g, const file_entry *f, size_t size, int32_t width, int32_t height) {
    fl_array *c = g->batch->columns;
    int rc = fl_array_append_string(&c[COL_IMAGE_ID], f->image_id);
    if (rc == FL_OK) rc = g->o.split ? fl_array_append_string(&c[COL_SPLIT], g->o.split) : fl_array_append_null(&c[COL_SPLIT]);
    if (rc == FL_OK) rc = fl_array_append_bytes(&c[COL_IMAGE_BYTES], g->buf, size);
    if (rc == FL_OK) rc = fl_array_append_int(&c[COL_WIDTH], width);
    if (rc == FL_OK) rc = fl_array_append_int(&c[COL_HEIGHT], height);
    if (rc == FL_OK) rc = fl_array_append_string(&c[COL_SOURCE], f->path);
    return rc == FL_OK ? FL_OK : oom(g);
}

/* Overwrite mode: remembers the table's rows with this image_id for deletion after the batch commits. */
static int collect_replaced(ingest *g, const char *image_id) {
    for (int64_t e = map_find(&g->existing, image_id, -1); e >= 0; e = map_find(&g->existing, image_id, e)) {
        if (!fl_reserve((void **)&g->replaced, &g->cap_replaced, g->n_replaced + 1, sizeof *g->replaced, 256)) return oom(g);
        g->replaced[g->n_replaced++] = (uint64_t)g->existing.entries[e].value;
    }
    return FL_OK;
}

static bool batch_full(const ingest *g) {
    int64_t max_bytes = g->o.max_batch_bytes > 0 ? g->o.max_batch_bytes : DEFAULT_MAX_BATCH_BYTES;
    return (g->o.commit_every > 0 && g->batch_rows >= g->o.commit_every) || g->batch_bytes >= max_bytes;
}

/* Takes file i: skipped, reported, or appended to the batch (in the strict pre-check: only checked). */
static int take_file(ingest *g, size_t i) {
    const file_entry *f = &g->files[i];
    if (g->o.mode == FL_INGEST_SKIP_EXISTING && map_find(&g->existing, f->image_id, -1) >= 0)
        return notice(g, FL_INGEST_SKIPPED_EXISTING, FL_OK, f->path, "%s: image_id '%s' is already in table '%s'", f->path, f->image_id,
                      g->table_name);
    int64_t first = map_find(&g->seen, f->image_id, -1);
    if (first >= 0)
        return notice(g, FL_INGEST_DUPLICATE, FL_EINVAL, f->path, "%s: duplicate image_id '%s' (already taken from %s)", f->path, f->image_id,
                      g->files[g->seen.entries[first].value].path);
    size_t size = 0;
    char why[256];
    if (!read_file(g, f->path, &size, why, sizeof why)) return notice(g, FL_INGEST_FAILED, FL_EIO, f->path, "%s: %s", f->path, why);
    fl_error jpeg_err = {0};
    int32_t width, height;
    if (fl_jpeg_info(g->buf, size, f->path, &width, &height, NULL, &jpeg_err) != FL_OK)
        return notice(g, FL_INGEST_FAILED, jpeg_err.code, f->path, "%s", jpeg_err.message);
    if (!map_add(&g->seen, f->image_id, strlen(f->image_id), (int64_t)i)) return oom(g);
    if (g->checking) return FL_OK;
    FL_RETURN_NOT_OK(append_row(g, f, size, width, height));
    if (g->o.mode == FL_INGEST_OVERWRITE) FL_RETURN_NOT_OK(collect_replaced(g, f->image_id));
    g->batch_rows++;
    g->batch_bytes += (int64_t)size;
    return batch_full(g) ? flush(g) : FL_OK;
}

/* Strict mode, for a run that would commit before it has seen every file: checks every file first. */
static int check_all_files(ingest *g) {
    int64_t max_bytes = g->o.max_batch_bytes > 0 ? g->o.max_batch_bytes : DEFAULT_MAX_BATCH_BYTES, total = 0;
    for (size_t i = 0; i < g->n_files; i++) total += g->files[i].size > 0 ? g->files[i].size : 0;
    bool several_commits = total >= max_bytes || (g->o.commit_every > 0 && (int64_t)g->n_files > g->o.commit_every);
    if (!several_commits) return FL_OK;
    g->checking = true;
    int rc = FL_OK;
    for (size_t i = 0; i < g->n_files && rc == FL_OK; i++) rc = take_file(g, i);
    g->checking = false;
    map_free(&g->seen);
    return rc;
}

int fl_ingest_images(fl_db *db, const char *table, const char *dir, const fl_ingest_images_options *opts, fl_ingest_report *report,
                     fl_error *err) {
    fl_ingest_report local_report;
    if (!report) report = &local_report;
    memset(report, 0, sizeof *report);
    if (!db || !table || !dir) return fl_error_set(err, FL_EINVAL, "ingest images: db, table and dir are required");
    ingest g = {.db = db, .table_name = table, .rep = report, .err = err};
    if (opts) g.o = *opts;
    if (g.o.mode < FL_INGEST_SKIP_EXISTING || g.o.mode > FL_INGEST_OVERWRITE)
        return fl_error_set(err, FL_EINVAL, "ingest images: unknown mode %d", g.o.mode);
    if (g.o.commit_every < 0 || g.o.max_batch_bytes < 0)
        return fl_error_set(err, FL_EINVAL, "ingest images: commit_every and max_batch_bytes must not be negative");
    if (!fl_valid_name(table)) return fl_error_set(err, FL_EINVAL, "ingest images: invalid table name '%s'", table);
    int rc = fl_schema_parse(INGEST_SCHEMA, &g.schema, err);
    if (rc == FL_OK && !(g.batch = fl_batch_new(g.schema))) rc = oom(&g);
    if (rc == FL_OK) rc = walk(&g, dir, true);
    if (rc == FL_OK) rc = open_table(&g);
    if (rc == FL_OK && g.o.strict) rc = check_all_files(&g);
    for (size_t i = 0; i < g.n_files && rc == FL_OK; i++) rc = take_file(&g, i);
    if (rc == FL_OK) rc = flush(&g);
    if (rc == FL_OK && !g.table) rc = create_table(&g); /* an empty folder still leaves the table behind */
    if (g.table) report->version = fl_table_version(g.table);
    fl_table_close(g.table);
    fl_batch_free(g.batch);
    fl_schema_free(g.schema);
    for (size_t i = 0; i < g.n_files; i++) {
        fl_free(g.files[i].path);
        fl_free(g.files[i].image_id);
    }
    fl_free(g.files);
    map_free(&g.existing);
    map_free(&g.seen);
    fl_free(g.replaced);
    fl_free(g.buf);
    /* Some lower-layer paths return FL_ENOMEM without a message (fl_schema_parse); always leave one. */
    if (rc != FL_OK && err && (err->code != rc || !err->message[0]))
        fl_error_set(err, rc, "ingest images: %s into table '%s': %s", dir, table, fl_strerror(rc));
    return rc;
}
