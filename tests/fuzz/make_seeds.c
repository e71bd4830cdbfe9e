/*
 * make_seeds.c — writes the seed corpora of the fuzz targets: `make_seeds OUTDIR` fills
 * OUTDIR/fuzz_<target>/ with small valid inputs (each under 64 KiB).
 *
 * Manifests, data files and deletion files come from real tables built with the public API in a scratch
 * directory (create, appends with several fragments, deletes, update, add/drop/rename column, metadata,
 * restore, compact); pages and schemas are encoded directly with the internal encoders. scripts/run-fuzz.sh
 * builds and runs this when a corpus directory is missing (`scripts/run-fuzz.sh seeds` rewrites them all).
 * Table files carry random names and timestamps, so regenerated seeds differ byte-wise from committed ones.
 *
 *   scripts/run-fuzz.sh seeds        (compiles this file with the library sources into build-fuzz/make_seeds
 *                                    and regenerates tests/fuzz/corpus)
 */
#include "table/table.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEED_BYTES (64 * 1024)

#include "page_types.h"

static const char *out_root;
static int seeds_written;

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, err ? err->message : strerror(errno));
    exit(1);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, NULL);
}

static void write_seed(const char *target, const char *name, const void *prefix, size_t prefix_size, const void *data,
                       size_t size) {
    if (prefix_size + size > MAX_SEED_BYTES) return;
    char dir[4096], path[4096 + 256];
    snprintf(dir, sizeof dir, "%s/%s", out_root, target);
    make_dir(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, NULL);
    if ((prefix_size && fwrite(prefix, 1, prefix_size, f) != prefix_size) || (size && fwrite(data, 1, size, f) != size))
        die(path, NULL);
    if (fclose(f) != 0) die(path, NULL);
    seeds_written++;
}

/* ---- values: one generic filler for every type, driven by a counter ---- */

/* Appends one value derived from k; every seventh value of a nullable field is NULL. */
static void append_value(fl_array *a, const fl_field *f, uint64_t k) {
    if (f->nullable && k % 7 == 3) {
        fl_array_append_null(a);
        return;
    }
    char text[48];
    switch (f->type) {
    case FL_TYPE_BOOL: fl_array_append_bool(a, k % 3 == 0); break;
    case FL_TYPE_INT8: fl_array_append_int(a, (int64_t)(k % 200) - 100); break;
    case FL_TYPE_INT16: fl_array_append_int(a, (int64_t)(k * 37 % 60000) - 30000); break;
    case FL_TYPE_INT32: fl_array_append_int(a, (int64_t)(k * 7919) - 50000); break;
    case FL_TYPE_INT64:
    case FL_TYPE_TIMESTAMP_MS: fl_array_append_int(a, 1700000000000LL + (int64_t)k * 1000); break;
    case FL_TYPE_UINT8: fl_array_append_uint(a, k % 256); break;
    case FL_TYPE_UINT16: fl_array_append_uint(a, k * 31 % 65536); break;
    case FL_TYPE_UINT32: fl_array_append_uint(a, k * 100003); break;
    case FL_TYPE_UINT64: fl_array_append_uint(a, k * 0x9E3779B97F4A7C15ULL); break;
    case FL_TYPE_FLOAT32:
    case FL_TYPE_FLOAT64: fl_array_append_float(a, (double)k * 0.25 - 3.0); break;
    case FL_TYPE_STRING:
        snprintf(text, sizeof text, "%s-%llu", k % 2 ? "car" : "pedestrian", (unsigned long long)k);
        fl_array_append_string(a, text);
        break;
    case FL_TYPE_BINARY: {
        uint8_t bytes[24];
        size_t n = k % sizeof bytes;
        for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)(k * 13 + i);
        fl_array_append_bytes(a, bytes, n);
        break;
    }
    case FL_TYPE_LIST:
        for (uint64_t i = 0; i < k % 4; i++) append_value(&a->children[0], &f->children[0], k * 5 + i);
        fl_array_end_list(a);
        break;
    case FL_TYPE_FIXED_SIZE_LIST:
        for (int32_t i = 0; i < f->fixed_size; i++) append_value(&a->children[0], &f->children[0], k * 3 + (uint64_t)i);
        fl_array_end_list(a);
        break;
    case FL_TYPE_STRUCT:
        for (int32_t i = 0; i < f->n_children; i++) append_value(&a->children[i], &f->children[i], k + (uint64_t)i);
        fl_array_end_struct(a);
        break;
    }
}

static fl_schema *parse(const char *text) {
    fl_schema *s;
    fl_error err = {0};
    if (fl_schema_parse(text, &s, &err) != FL_OK) die(text, &err);
    return s;
}

static fl_batch *make_batch(const fl_schema *s, uint64_t first, int64_t rows) {
    fl_batch *b = fl_batch_new(s);
    if (!b) die("fl_batch_new", NULL);
    for (int64_t r = 0; r < rows; r++)
        for (int32_t c = 0; c < s->n_fields; c++) append_value(&b->columns[c], &s->fields[c], first + (uint64_t)r);
    fl_error err = {0};
    if (fl_batch_finish(b, &err) != FL_OK) die("fl_batch_finish", &err);
    return b;
}

static void append_rows(fl_table *t, uint64_t first, int64_t rows, int64_t per_fragment) {
    fl_batch *b = make_batch(fl_table_schema(t), first, rows);
    fl_write_options opts = {per_fragment};
    fl_error err = {0};
    if (fl_table_append(t, b, &opts, &err) != FL_OK) die("fl_table_append", &err);
    fl_batch_free(b);
}

static void check(int rc, const char *what, const fl_error *err) {
    if (rc != FL_OK) die(what, err);
}

/* ---- copying a table's files into the corpora ---- */

static uint8_t *read_all(const char *path, size_t *size) {
    uint8_t *data;
    fl_error err = {0};
    check(fl_io_read_file(path, &data, size, &err), path, &err);
    return data;
}

static void harvest_table(const char *db_dir, const char *table) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/_versions", db_dir, table);
    DIR *d = opendir(dir);
    if (!d) die(dir, NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long version;
        if (sscanf(e->d_name, "%llu.manifest", &version) != 1) continue;
        char path[8192], name[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        uint8_t *data = read_all(path, &size);
        snprintf(name, sizeof name, "%s-v%llu.manifest", table, version);
        write_seed("fuzz_manifest", name, NULL, 0, data, size);
        /* The manifest names the data and deletion files of this version. */
        fl_manifest *m;
        fl_error err = {0};
        check(fl_manifest_decode(data, size, path, &m, &err), "decode", &err);
        fl_free(data);
        for (uint32_t i = 0; i < m->n_fragments; i++) {
            const fl_fragment *f = &m->fragments[i];
            for (uint32_t k = 0; k < f->n_files; k++) {
                char fpath[8192];
                snprintf(fpath, sizeof fpath, "%s/%s/%s", db_dir, table, f->files[k].path);
                if (!fl_io_exists(fpath)) continue; /* compacted away files are kept, but be safe */
                uint8_t *fd = read_all(fpath, &size);
                snprintf(name, sizeof name, "%s-frag%llu-v%llu-file%u.fld", table, (unsigned long long)f->id,
                         (unsigned long long)f->files[k].created_version, k);
                write_seed("fuzz_datafile", name, NULL, 0, fd, size);
                fl_free(fd);
            }
            if (f->deletion_path) {
                char dpath[8192];
                snprintf(dpath, sizeof dpath, "%s/%s/%s", db_dir, table, f->deletion_path);
                uint8_t *dd = read_all(dpath, &size);
                uint8_t rows[4];
                fl_store_u32(rows, (uint32_t)f->physical_rows);
                snprintf(name, sizeof name, "%s-frag%llu-v%llu.del", table, (unsigned long long)f->id,
                         (unsigned long long)f->deletion_version);
                write_seed("fuzz_deletion", name, rows, sizeof rows, dd, size);
                fl_free(dd);
            }
        }
        fl_manifest_free(m);
    }
    closedir(d);
}

/* A manifest with an index entry and both flags set: nothing in the public API writes those yet. */
static void synthetic_manifest(const char *db_dir, const char *table, uint64_t version) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/_versions/%020llu.manifest", db_dir, table, (unsigned long long)version);
    size_t size;
    uint8_t *data = read_all(path, &size);
    fl_manifest *m;
    fl_error err = {0};
    check(fl_manifest_decode(data, size, path, &m, &err), "decode", &err);
    fl_free(data);
    static int32_t field_ids[] = {0, 1};
    static char *files[] = {"_indexes/emb-0001.idx", "_indexes/emb-0002.idx"};
    static fl_kv params[] = {{"metric", "cosine"}, {"partitions", "16"}};
    uint64_t *frag_ids = malloc((m->n_fragments ? m->n_fragments : 1) * sizeof *frag_ids);
    for (uint32_t i = 0; i < m->n_fragments; i++) frag_ids[i] = m->fragments[i].id;
    fl_index_ref idx = {"emb_idx", "hnsw", 2, field_ids, 2, files, m->n_fragments, frag_ids, m->version, 2, params};
    fl_manifest copy = *m;
    copy.indexes = &idx;
    copy.n_indexes = 1;
    copy.schema_changed = true;
    copy.restore = true;
    fl_buf b;
    check(fl_manifest_encode(&copy, &b, &err), "encode", &err);
    write_seed("fuzz_manifest", "synthetic-index.manifest", NULL, 0, b.data, b.size);
    fl_buf_free(&b);
    free(frag_ids);
    fl_manifest_free(m);
}

static void table_seeds(const char *db_dir) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    check(fl_db_open(db_dir, FL_OPEN_CREATE, &db, &err), "fl_db_open", &err);

    /* "frames": every type, several fragments, deletes, schema changes, update, restore, compact. */
    fl_schema *s = parse("id int64 not null, name string, score float32, tags list<string>, img binary, "
                         "emb fixed_size_list<float32, 4>, ts timestamp, pos struct<x: int16, ok: bool>, "
                         "flag bool, u uint8");
    check(fl_table_create(db, "frames", s, &t, &err), "create", &err);
    fl_schema_free(s);
    append_rows(t, 0, 40, 0);
    append_rows(t, 40, 300, 100); /* three full fragments and one short one */
    uint64_t dead[] = {2, 5, 41, 42, 43, 150};
    check(fl_table_delete_rows(t, dead, sizeof dead / sizeof dead[0], &err), "delete", &err);
    uint64_t dead2[] = {7, 200};
    check(fl_table_delete_rows(t, dead2, 2, &err), "delete", &err);
    fl_schema *add = parse("label string, depth list<float64>");
    fl_batch *vals = make_batch(add, 9, 3);
    uint64_t ids[] = {6, 60, 260};
    check(fl_batch_set_row_ids(vals, ids, 3), "row ids", NULL);
    check(fl_table_add_columns(t, add, vals, &err), "add columns", &err);
    fl_batch_free(vals);
    fl_schema_free(add);
    fl_schema *upd = parse("score float32, name string");
    fl_batch *ub = make_batch(upd, 1000, 2);
    uint64_t uids[] = {10, 300};
    check(fl_batch_set_row_ids(ub, uids, 2), "row ids", NULL);
    check(fl_table_update(t, ub, &err), "update", &err);
    fl_batch_free(ub);
    fl_schema_free(upd);
    check(fl_table_rename_column(t, "score", "quality", &err), "rename", &err);
    const char *keys[] = {"owner", "source"}, *values[] = {"fuzz", "make_seeds"};
    check(fl_table_set_metadata(t, keys, values, 2, &err), "metadata", &err);
    const char *drop[] = {"flag"};
    check(fl_table_drop_columns(t, drop, 1, &err), "drop", &err);
    check(fl_table_restore(t, 4, &err), "restore", &err);
    fl_compact_options copts = {1000, 0.01};
    check(fl_table_compact(t, &copts, NULL, &err), "compact", &err);
    uint64_t last = fl_table_version(t);
    fl_table_close(t);

    /* "nested": the deeper page types, and two pages per column (more than FL_PAGE_MAX_ROWS rows). */
    s = parse("m list<list<float32>>, s struct<a: int64, b: string>, f fixed_size_list<uint8, 8>, "
              "l list<struct<x: int16, y: binary>>");
    check(fl_table_create(db, "nested", s, &t, &err), "create", &err);
    fl_schema_free(s);
    append_rows(t, 0, 25, 0);
    fl_table_close(t);
    s = parse("b bool not null, i int8, blob binary");
    check(fl_table_create(db, "pages", s, &t, &err), "create", &err);
    fl_schema_free(s);
    append_rows(t, 0, 9000, 0);
    fl_table_close(t);
    s = parse("e float64");
    check(fl_table_create(db, "empty", s, &t, &err), "create", &err);
    fl_schema_free(s);
    fl_table_close(t);

    /* "frames_view": a materialized view whose refresh removed and re-added rows (ids in two fragments). */
    check(fl_view_create(db, "frames_view", "frames", "id % 2 = 0", "id, name, score * 2 AS q2, tags", NULL, &err), "view create", &err);
    check(fl_table_open(db, "frames", NULL, &t, &err), "open", &err);
    check(fl_table_update_where(t, "name = 'renamed'", "id % 3 = 0", NULL, &err), "update", &err);
    check(fl_table_delete_where(t, "id % 10 = 4", NULL, &err), "delete", &err);
    fl_table_close(t);
    check(fl_view_refresh(db, "frames_view", NULL, NULL, &err), "view refresh", &err);

    harvest_table(db_dir, "frames");
    harvest_table(db_dir, "frames_view");
    harvest_table(db_dir, "nested");
    harvest_table(db_dir, "pages");
    harvest_table(db_dir, "empty");
    synthetic_manifest(db_dir, "frames", last);
    fl_db_close(db);
}

/* ---- pages and schemas, straight from the encoders ---- */

static void page_seeds(void) {
    for (size_t t = 0; t < sizeof fuzz_page_types / sizeof fuzz_page_types[0]; t++) {
        fl_schema *s = parse(fuzz_page_types[t]);
        static const int64_t counts[] = {0, 1, 5, 40};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            int64_t n = counts[c];
            fl_array a;
            if (fl_array_init(&a, &s->fields[0]) != FL_OK) die("fl_array_init", NULL);
            for (int64_t i = 0; i < n; i++) append_value(&a, &s->fields[0], (uint64_t)(i + (int64_t)c));
            fl_buf b;
            fl_buf_init(&b);
            fl_page_encode(&b, &a, 0, n);
            uint8_t head[3] = {(uint8_t)t, (uint8_t)n, (uint8_t)(n >> 8)};
            char name[64];
            snprintf(name, sizeof name, "type%02zu-rows%lld", t, (long long)n);
            write_seed("fuzz_page", name, head, sizeof head, b.data, b.size);
            fl_buf_free(&b);
            fl_array_clear(&a);
        }
        fl_schema_free(s);
    }
}

static void assign_ids(fl_field *f, int32_t *next) {
    f->id = (*next)++;
    for (int32_t c = 0; c < f->n_children; c++) assign_ids(&f->children[c], next);
}

static void schema_seeds(void) {
    static const char *const texts[] = {
        "id int64 not null, name string, score float32",
        ("image_id string not null, image_bytes binary, width int32, ann_bboxes list<list<float32>>, "
         "emb fixed_size_list<float32, 512>, pos struct<x: float32, y: float32>, ts timestamp"),
        "\"odd name\" utf8 null, b boolean, d double, t timestamp_ms, x blob, n bigint, i int",
        "a int8, b int16, c uint8, d uint16, e uint32, f uint64, g float, h text, k bytes",
        "deep list<list<list<struct<k: string, v: fixed_size_list<int16, 3>>>>> not null",
        "s struct<\"a b\": int64, c: list<bool>, d: struct<e: binary>>",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "text%02zu", i);
        write_seed("fuzz_schema", name, NULL, 0, texts[i], strlen(texts[i]));
        /* The same schema in the binary encoding, with ids and metadata as a table stores it. */
        fl_schema *s = parse(texts[i]);
        int32_t next = 0;
        for (int32_t f = 0; f < s->n_fields; f++) assign_ids(&s->fields[f], &next);
        fl_field_set_metadata(&s->fields[0], "unit", "px");
        if (i % 2) fl_schema_set_metadata(s, "description", "seed schema");
        fl_buf b;
        fl_buf_init(&b);
        fl_schema_encode(&b, s);
        snprintf(name, sizeof name, "binary%02zu", i);
        write_seed("fuzz_schema", name, NULL, 0, b.data, b.size);
        fl_buf_free(&b);
        fl_schema_free(s);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    out_root = argv[1];
    make_dir(out_root);
    char tmpl[] = "/tmp/fl-seeds-XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp", NULL);
    char db_dir[64];
    snprintf(db_dir, sizeof db_dir, "%s/db", tmpl);
    table_seeds(db_dir);
    page_seeds();
    schema_seeds();
    fl_error err = {0};
    fl_io_remove_tree(tmpl, &err);
    printf("make_seeds: %d seed files written under %s (files shared by several versions count once each time)\n", seeds_written, out_root);
    return 0;
}
