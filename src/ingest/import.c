/*
 * import.c — fl_import_jsonl: JSON Lines rows into a table, with schema inference and {"$file": path}
 * values loaded from disk into binary columns (the contract is in framelake.h).
 *
 * A run goes: hold the whole text in memory → decide the schema (the existing table's, the given one, or
 * inferred from every line) → check pass: parse every line against it into a batch, $file references only
 * opened and measured → commit: if the input has no $file references and fits one commit, the check
 * batch is the one committed; otherwise a load pass parses again, reading $file bytes straight into the
 * batch and committing whenever it reaches commit_every rows or max_batch_bytes of file bytes.
 *
 * Invariants:
 *  1. Nothing is written (and a missing table is not created) before the check pass has accepted every
 *     line and every $file: a bad line anywhere leaves the database as it was.
 *  2. At most one batch of $file bytes is in memory: a file is read directly into the batch's buffer.
 *  3. The load pass reads the same text with the same schema as the check pass, so it can only fail on
 *     the file system (a $file that changed in between) or on memory.
 */
#include "ingest.h"

#include "../batch/jsonl.h"
#include "../common/common.h"
#include "../io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_BATCH_BYTES ((int64_t)256 << 20)
#define MAX_FILE_BYTES ((int64_t)1 << 30) /* a larger $file is refused rather than read into memory */

typedef struct importer {
    fl_db *db;
    const char *table_name;
    fl_import_options o;
    fl_ingest_report *rep;
    fl_error *err;
    const char *source;
    const char *base_dir;       /* NULL: the current directory */
    fl_table *table;            /* NULL while the table does not exist */
    fl_schema *schema;          /* rows are parsed with it (the table's columns when the table exists) */
    char *unknown_what;         /* "table 'x'" or "the schema", for unknown-key errors */
    bool checking;              /* check pass: $file is opened and measured, not read */
    int64_t file_refs;          /* check pass: $file values seen */
    int64_t file_bytes;         /* check pass: their total size */
    int64_t batch_bytes;        /* load pass: $file bytes in the pending batch */
} importer;

static int oom(importer *g) { return fl_error_set(g->err, FL_ENOMEM, "import: out of memory"); }

/* ---- $file ---- */

/* The file system error as the code the import reports. */
static int errno_code(int e) { return e == ENOENT || e == ENOTDIR ? FL_ENOTFOUND : e == ENOMEM ? FL_ENOMEM : FL_EIO; }

/* Appends the bytes of the file a {"$file": path} names (check pass: an empty value, after opening it). */
static int file_ref(void *ctx, const char *path, fl_array *array, char *why, size_t why_size) {
    importer *g = ctx;
    if (!path[0]) {
        snprintf(why, why_size, "empty \"$file\" path");
        return FL_EINVAL;
    }
    bool relative = path[0] != '/' && g->base_dir;
    char *full = relative ? fl_sprintf("%s/%s", g->base_dir, path) : fl_strdup(path);
    if (!full) return FL_ENOMEM;
    /* "$file 'a.jpg' (dir/a.jpg)": the path as written, and where it led when that differs */
    char shown[FL_ERROR_MESSAGE_SIZE / 2];
    if (relative) snprintf(shown, sizeof shown, "$file '%.100s' (%.120s)", path, full);
    else snprintf(shown, sizeof shown, "$file '%.200s'", path);
    int rc = FL_OK;
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(why, why_size, "cannot read %s: %s", shown, strerror(e));
        rc = errno_code(e);
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "%s is not a regular file", shown);
        rc = FL_EINVAL;
    } else if (st.st_size > MAX_FILE_BYTES) {
        snprintf(why, why_size, "%s is too large (%lld bytes; the limit is %lld)", shown, (long long)st.st_size, (long long)MAX_FILE_BYTES);
        rc = FL_EUNSUPPORTED;
    } else if (g->checking) {
        g->file_refs++;
        g->file_bytes += (int64_t)st.st_size;
        rc = fl_array_append_bytes(array, "", 0);
    } else {
        size_t size = (size_t)st.st_size, got = 0;
        uint8_t *dst;
        rc = fl_array_append_uninit(array, size, &dst);
        while (rc == FL_OK && got < size) {
            ssize_t r = read(fd, dst + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                int e = errno;
                snprintf(why, why_size, "cannot read %s: %s", shown, strerror(e));
                rc = errno_code(e);
            } else if (r == 0) {
                snprintf(why, why_size, "%s shrank while it was read (%zu of %zu bytes)", shown, got, size);
                rc = FL_EIO;
            }
            if (r > 0) got += (size_t)r;
        }
        if (rc == FL_OK) g->batch_bytes += (int64_t)size;
    }
    if (fd >= 0) close(fd);
    fl_free(full);
    return rc;
}

/* ---- the schema and the table ---- */

static int describe_type_mismatch(importer *g, const fl_field *have, const fl_field *want) {
    char *a = fl_field_type_format(have), *b = fl_field_type_format(want);
    int rc = fl_error_set(g->err, FL_ETYPE, "table '%s': column '%s' is %s, but the given schema says %s", g->table_name, have->name,
                          a ? a : "?", b ? b : "?");
    fl_free(a);
    fl_free(b);
    return rc;
}

/* An existing table with a given schema: every given column must be the table's, with its type; the
 * table's not-null columns must be given. The rows are parsed with the table's fields. */
static int schema_from_table_and_given(importer *g, const fl_schema *have) {
    const fl_schema *want = g->o.schema;
    if (!(g->schema = fl_schema_new())) return oom(g);
    for (int32_t i = 0; i < want->n_fields; i++) {
        int k = fl_schema_find(have, want->fields[i].name);
        if (k < 0)
            return fl_error_set(g->err, FL_EINVAL, "table '%s' has no column '%s' (the given schema has it)", g->table_name,
                                want->fields[i].name);
        if (!fl_field_same_type(&have->fields[k], &want->fields[i])) return describe_type_mismatch(g, &have->fields[k], &want->fields[i]);
        if (fl_schema_append_field(g->schema, &have->fields[k]) != FL_OK) return oom(g);
    }
    for (int32_t k = 0; k < have->n_fields; k++)
        if (!have->fields[k].nullable && fl_schema_find(want, have->fields[k].name) < 0)
            return fl_error_set(g->err, FL_EINVAL, "table '%s': column '%s' is not null, but the given schema does not list it", g->table_name,
                                have->fields[k].name);
    return FL_OK;
}

static int decide_schema(importer *g, const char *text, size_t size) {
    if (g->db) {
        fl_error open_err = {0};
        int rc = fl_table_open(g->db, g->table_name, NULL, &g->table, &open_err);
        if (rc != FL_OK && rc != FL_ENOTFOUND) {
            if (g->err) *g->err = open_err;
            return rc;
        }
    }
    if (g->table) {
        const fl_schema *have = fl_table_schema(g->table);
        if (g->o.schema) FL_RETURN_NOT_OK(schema_from_table_and_given(g, have));
        else if (!(g->schema = fl_schema_copy(have))) return oom(g);
        g->unknown_what = fl_sprintf("table '%s'", g->table_name);
    } else if (g->o.schema) {
        if (!(g->schema = fl_schema_copy(g->o.schema))) return oom(g);
        g->unknown_what = fl_strdup("the given schema");
    } else {
        FL_RETURN_NOT_OK(fl_jsonl_infer_schema(text, size, g->source, &g->schema, g->err));
        g->unknown_what = fl_strdup("the inferred schema"); /* cannot happen: every key is a column */
    }
    return g->unknown_what ? FL_OK : oom(g);
}

static int create_table(importer *g) {
    int rc = fl_table_create(g->db, g->table_name, g->schema, &g->table, g->err);
    if (rc == FL_OK) g->rep->commits++;
    else if (rc == FL_EEXIST) /* created by someone else since we looked: the rows were checked against another schema */
        rc = fl_error_set(g->err, FL_ECONFLICT, "table '%s' was created by another writer during the import; nothing was imported (run it again)",
                          g->table_name);
    return rc;
}

/* Commits a finished batch of `rows` rows holding `file_bytes` $file bytes. */
static int commit(importer *g, fl_batch *b, int64_t rows, int64_t file_bytes) {
    FL_RETURN_NOT_OK(fl_batch_finish(b, g->err));
    if (!g->table) FL_RETURN_NOT_OK(create_table(g));
    if (rows == 0) return FL_OK;
    FL_RETURN_NOT_OK(fl_table_append(g->table, b, NULL, g->err));
    g->rep->commits++;
    g->rep->added += rows;
    g->rep->bytes_added += file_bytes;
    return FL_OK;
}

/* ---- the passes ---- */

/* Parses every line into *out (checking mode: $file values are empty). */
static int check_pass(importer *g, const char *text, size_t size, const fl_jsonl_options *jo, fl_batch **out, int64_t *rows) {
    fl_batch *b = fl_batch_new(g->schema);
    if (!b) return oom(g);
    fl_jsonl_cursor c;
    fl_jsonl_cursor_init(&c, text, size, g->source, jo);
    g->checking = true;
    int rc = FL_OK;
    bool got = true;
    *rows = 0;
    while (rc == FL_OK && got) {
        rc = fl_jsonl_next_row(&c, b, &got, g->err);
        if (rc == FL_OK && got) ++*rows;
    }
    g->checking = false;
    fl_jsonl_cursor_free(&c);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    *out = b;
    return FL_OK;
}

/* Parses again with $file bytes read, committing bounded batches. */
static int load_pass(importer *g, const char *text, size_t size, const fl_jsonl_options *jo) {
    int64_t max_bytes = g->o.max_batch_bytes > 0 ? g->o.max_batch_bytes : DEFAULT_MAX_BATCH_BYTES;
    fl_jsonl_cursor c;
    fl_jsonl_cursor_init(&c, text, size, g->source, jo);
    fl_batch *b = fl_batch_new(g->schema);
    int rc = b ? FL_OK : oom(g);
    int64_t rows = 0;
    bool got = true;
    while (rc == FL_OK && got) {
        rc = fl_jsonl_next_row(&c, b, &got, g->err);
        if (rc != FL_OK || !got) break;
        rows++;
        if ((g->o.commit_every > 0 && rows >= g->o.commit_every) || g->batch_bytes >= max_bytes) {
            rc = commit(g, b, rows, g->batch_bytes);
            fl_batch_free(b);
            b = NULL;
            rows = g->batch_bytes = 0;
            if (rc == FL_OK && !(b = fl_batch_new(g->schema))) rc = oom(g);
        }
    }
    if (rc == FL_OK && rows > 0) rc = commit(g, b, rows, g->batch_bytes);
    fl_batch_free(b);
    fl_jsonl_cursor_free(&c);
    return rc;
}

int fl_import_jsonl_text(fl_db *db, const char *table, const char *text, size_t size, const char *source, const fl_import_options *opts,
                         fl_ingest_report *report, fl_error *err) {
    fl_ingest_report local_report;
    if (!report) report = &local_report;
    memset(report, 0, sizeof *report);
    importer g = {.db = db, .table_name = table, .rep = report, .err = err, .source = source ? source : "input"};
    if (opts) g.o = *opts;
    if (!table || (!text && size)) return fl_error_set(err, FL_EINVAL, "import: table and text are required");
    if (!db && !g.o.dry_run) return fl_error_set(err, FL_EINVAL, "import: a database is required (unless dry_run)");
    if (!fl_valid_name(table))
        return fl_error_set(err, FL_EINVAL, "import: invalid table name '%s' (use letters, digits, '_', '-', '.')", table);
    if (g.o.commit_every < 0 || g.o.max_batch_bytes < 0)
        return fl_error_set(err, FL_EINVAL, "import: commit_every and max_batch_bytes must not be negative");
    if (!text) text = "";
    g.base_dir = g.o.base_dir;

    fl_jsonl_options jo = {.ignore_unknown = g.o.ignore_unknown, .check_nullable = true, .text_timestamps = true, .file_ref = file_ref,
                           .file_ref_ctx = &g};
    fl_batch *checked = NULL;
    int64_t rows = 0;
    int rc = decide_schema(&g, text, size);
    jo.unknown_what = g.unknown_what;
    if (rc == FL_OK) rc = check_pass(&g, text, size, &jo, &checked, &rows);
    if (rc == FL_OK && g.o.dry_run) {
        report->added = rows;
        report->bytes_added = g.file_bytes;
    } else if (rc == FL_OK) {
        bool one_commit = g.o.commit_every == 0 || rows <= g.o.commit_every;
        if (g.file_refs == 0 && one_commit) {
            rc = commit(&g, checked, rows, 0);
        } else {
            fl_batch_free(checked); /* only the metadata: freed before the file bytes come in */
            checked = NULL;
            rc = load_pass(&g, text, size, &jo);
        }
    }
    if (g.table) report->version = fl_table_version(g.table);
    fl_batch_free(checked);
    fl_table_close(g.table);
    fl_schema_free(g.schema);
    fl_free(g.unknown_what);
    if (rc != FL_OK && err && (err->code != rc || !err->message[0]))
        fl_error_set(err, rc, "import: %s into table '%s': %s", g.source, table, fl_strerror(rc));
    return rc;
}

int fl_import_jsonl(fl_db *db, const char *table, const char *path, const fl_import_options *opts, fl_ingest_report *report,
                    fl_error *err) {
    if (report) memset(report, 0, sizeof *report);
    if (!path) return fl_error_set(err, FL_EINVAL, "import: a path is required");
    fl_import_options o = {0};
    if (opts) o = *opts;
    char *text = NULL, *dir = NULL;
    size_t size = 0;
    int rc = FL_OK;
    if (!strcmp(path, "-")) {
        fl_buf in;
        fl_buf_init(&in);
        char chunk[1 << 16];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0) fl_buf_append(&in, chunk, got);
        if (ferror(stdin)) rc = fl_error_set(err, FL_EIO, "import: cannot read standard input: %s", strerror(errno));
        else if (in.failed) rc = fl_error_set(err, FL_ENOMEM, "import: out of memory reading standard input");
        size = in.size;
        text = (char *)in.data;
        if (rc != FL_OK) fl_buf_free(&in);
    } else {
        uint8_t *data;
        rc = fl_io_read_file(path, &data, &size, err);
        if (rc == FL_ENOTFOUND) rc = fl_error_set(err, FL_ENOTFOUND, "import: %s does not exist", path);
        text = (char *)data;
        const char *slash = strrchr(path, '/');
        if (rc == FL_OK && !o.base_dir && slash) {
            dir = slash == path ? fl_strdup("/") : fl_strndup(path, (size_t)(slash - path));
            if (!dir) rc = fl_error_set(err, FL_ENOMEM, "import: out of memory");
            o.base_dir = dir;
        }
    }
    if (rc == FL_OK) rc = fl_import_jsonl_text(db, table, text, size, path, &o, report, err);
    fl_free(text);
    fl_free(dir);
    return rc;
}

int fl_schema_parse_any(const char *text, const char *source, fl_schema **out, fl_error *err) {
    *out = NULL;
    if (!text) return fl_error_set(err, FL_EINVAL, "schema: no text");
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p == '{') return fl_schema_from_json(text, strlen(text), source ? source : "schema", out, err);
    int rc = fl_schema_parse(text, out, err);
    if (rc != FL_OK && source) fl_error_prefix(err, rc, "%s", source);
    return rc;
}
