/*
 * import.c — `framelake import DB TABLE FILE.jsonl|-`: JSON Lines rows into a table (fl_import_jsonl),
 * with the schema inferred, taken from the existing table, or given with --schema (text syntax or JSON).
 * --dry-run prints the schema the rows would be loaded with, checks every line and commits nothing.
 */
#include "commands.h"

#include "framelake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const option_spec import_opts[] = {{"schema", true}, {"ignore-unknown", false}, {"commit-every", true}, {"dry-run", false}, {NULL, false}};

static int error_exit(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return 1;
}

/* Reads a whole file ("-": standard input) into a NUL-terminated malloc'd buffer. */
static char *read_text(const char *path, size_t *size, fl_error *err) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(err->message, sizeof err->message, "cannot open %s: %s", path, strerror(errno));
        err->code = FL_EIO;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || failed) {
        snprintf(err->message, sizeof err->message, "%s %s", buf ? "cannot read" : "out of memory reading", path);
        err->code = buf ? FL_EIO : FL_ENOMEM;
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *size = n;
    return buf;
}

/* --dry-run: the schema the rows would be loaded with, then a check of every line. */
static int dry_run(const args *a, const fl_import_options *o) {
    const char *db_path = a->positional[0], *table = a->positional[1], *path = a->positional[2];
    fl_error err = {0};
    size_t size;
    char *text = read_text(path, &size, &err);
    if (!text) return error_exit(&err);
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_error ignored = {0};
    if (fl_db_open(db_path, 0, &db, &ignored) == FL_OK && fl_table_open(db, table, NULL, &t, &ignored) != FL_OK) t = NULL;
    fl_schema *inferred = NULL;
    const fl_schema *shown = o->schema;
    if (!shown && t) shown = fl_table_schema(t);
    int rc = 0;
    if (!shown && fl_jsonl_infer_schema(text, size, path, &inferred, &err) != FL_OK) rc = error_exit(&err);
    if (!rc) {
        char *line = fl_schema_format(shown ? shown : inferred);
        puts(line ? line : "");
        free(line);
        fl_import_options dry = *o;
        dry.dry_run = true;
        /* relative $file paths: against the file's directory, as the real run would */
        char *dir = NULL;
        const char *slash = strcmp(path, "-") ? strrchr(path, '/') : NULL;
        if (slash) {
            dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
            dry.base_dir = dir;
        }
        fl_ingest_report r;
        if (fl_import_jsonl_text(db, table, text, size, path, &dry, &r, &err) != FL_OK) rc = error_exit(&err);
        else printf("dry run: %lld rows checked, nothing imported\n", (long long)r.added);
        free(dir);
    }
    fl_schema_free(inferred);
    fl_table_close(t);
    fl_db_close(db);
    free(text);
    return rc;
}

int cmd_import(const args *a) {
    fl_import_options o = {.ignore_unknown = args_flag(a, "ignore-unknown")};
    uint64_t every = 0;
    if (!args_u64(a, "commit-every", &every, NULL)) return 2;
    o.commit_every = every > INT64_MAX ? INT64_MAX : (int64_t)every;
    fl_error err = {0};
    fl_schema *given = NULL;
    const char *schema_path = args_get(a, "schema");
    if (schema_path) {
        size_t size;
        char *text = read_text(schema_path, &size, &err);
        if (!text) return error_exit(&err);
        int got = fl_schema_parse_any(text, schema_path, &given, &err);
        free(text);
        if (got != FL_OK) return error_exit(&err);
        o.schema = given;
    }
    int rc = 0;
    if (args_flag(a, "dry-run")) {
        rc = dry_run(a, &o);
        fl_schema_free(given);
        return rc;
    }
    fl_db *db;
    if (fl_db_open(a->positional[0], FL_OPEN_CREATE, &db, &err) != FL_OK) {
        fl_schema_free(given);
        return error_exit(&err);
    }
    fl_ingest_report r;
    if (fl_import_jsonl(db, a->positional[1], a->positional[2], &o, &r, &err) != FL_OK) {
        rc = error_exit(&err);
        if (r.added > 0)
            fprintf(stderr, "framelake: %lld rows were committed before the error (version %llu)\n", (long long)r.added,
                    (unsigned long long)r.version);
    } else {
        printf("imported %lld rows into '%s': version %llu\n", (long long)r.added, a->positional[1], (unsigned long long)r.version);
    }
    fl_db_close(db);
    fl_schema_free(given);
    return rc;
}
