/*
 * images.c — fl_ingest_images: a folder of JPEG files into table rows (the contract is in framelake.h).
 *
 * A run goes: walk the folder into a sorted list of candidate files (paths only, no bytes) → open the sink
 * (table, schema check, existing ids) → submit the files in order to the pipeline, whose workers read each
 * file and check its JPEG header → the sink takes them in order and commits.
 */
#include "sink.h"

#include "../common/common.h"
#include "../io/io.h"

#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#define IMAGES_SCHEMA "image_id string not null, split string, image_bytes binary, width int32, height int32, source string"

typedef struct file_entry {
    char *path;                 /* dir + "/" + relative path; owned */
    char *image_id;             /* file name without .jpg/.jpeg; owned */
    int64_t size;               /* from stat at walk time (-1 if stat failed); used only to plan commits */
} file_entry;

typedef struct images_run {
    const fl_ingest_options *o;
    fl_sink *sink;
    fl_error *err;
    file_entry *files;
    size_t n_files, cap_files;
    size_t next;                /* the next file to submit */
} images_run;

static int oom(images_run *g) { return fl_error_set(g->err, FL_ENOMEM, "ingest images: out of memory"); }

size_t fl_jpeg_stem_length(const char *name) {
    size_t n = strlen(name);
    if (n > 4 && !strcasecmp(name + n - 4, ".jpg")) return n - 4;
    if (n > 5 && !strcasecmp(name + n - 5, ".jpeg")) return n - 5;
    return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int fl_list_dir_sorted(const char *dir, char ***out, size_t *n_out, fl_error *why) {
    char **names;
    size_t n;
    FL_RETURN_NOT_OK(fl_io_list(dir, &names, &n, why));
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

static int add_file(images_run *g, char *path, const char *name, size_t stem, int64_t size) {
    if (!fl_reserve((void **)&g->files, &g->cap_files, g->n_files + 1, sizeof *g->files, 256)) return oom(g);
    char *id = fl_strndup(name, stem);
    if (!id) return oom(g);
    g->files[g->n_files++] = (file_entry){.path = path, .image_id = id, .size = size};
    return FL_OK;
}

/* Appends the .jpg/.jpeg files under dir to g->files in walk order. A subdirectory that cannot be listed
 * is a failed entry; the top directory is an error. */
static int walk(images_run *g, const char *dir, bool top) {
    char **names = NULL;
    size_t n = 0;
    fl_error why = {0};
    int rc = fl_list_dir_sorted(dir, &names, &n, &why);
    if (rc == FL_ENOMEM) return oom(g);
    if (rc != FL_OK) {
        if (top) return fl_error_set(g->err, rc, "ingest images: %s", why.message);
        return fl_sink_notice(g->sink, FL_INGEST_FAILED, FL_EIO, dir, "%s", why.message);
    }
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
        size_t stem = fl_jpeg_stem_length(names[i]);
        if (is_dir) {
            if (g->o->recursive) rc = walk(g, path, false);
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

/* Worker: read the file and check its JPEG header. */
static int produce(void *ctx, void *state, fl_ingest_item *item, fl_error *err) {
    (void)ctx, (void)state, (void)err;
    if (fl_item_read_file(item, item->source) != FL_OK) return FL_OK;
    return fl_item_check_jpeg(item);
}

static bool next_task(void *ctx, fl_ingest_item *slot, int *rc) {
    images_run *g = ctx;
    if (g->next == g->n_files) return false;
    const file_entry *f = &g->files[g->next++];
    slot->image_id = fl_strdup(f->image_id);
    slot->source = fl_strdup(f->path);
    slot->split = g->o->split;
    if (!slot->image_id || !slot->source) {
        *rc = oom(g);
        return false;
    }
    if (g->o->mode == FL_INGEST_SKIP_EXISTING && fl_sink_exists(g->sink, f->image_id)) slot->outcome = FL_INGEST_SKIPPED_EXISTING;
    return true;
}

/* One pass over every file: the strict pre-check, or the real run. */
static int run_pass(void *ctx) {
    images_run *g = ctx;
    fl_pipeline_def def = {.produce = produce, .ctx = g, .threads = g->o->threads};
    g->next = 0;
    return fl_ingest_run(&def, g->sink, next_task, g, g->err);
}

int fl_ingest_images(fl_db *db, const char *table, const char *dir, const fl_ingest_options *opts, fl_ingest_report *report,
                     fl_error *err) {
    fl_ingest_report local_report;
    if (!report) report = &local_report;
    memset(report, 0, sizeof *report);
    if (!db || !table || !dir) return fl_error_set(err, FL_EINVAL, "ingest images: db, table and dir are required");
    fl_ingest_options defaults = {0};
    images_run g = {.o = opts ? opts : &defaults, .err = err};
    int rc = fl_sink_open(db, table, "ingest images", IMAGES_SCHEMA, false, false, g.o, report, err, &g.sink);
    if (rc == FL_OK) rc = walk(&g, dir, true);
    if (rc == FL_OK) {
        int64_t total = 0;
        for (size_t i = 0; i < g.n_files; i++) total += g.files[i].size > 0 ? g.files[i].size : 0;
        rc = fl_sink_run(g.sink, (int64_t)g.n_files, total, run_pass, &g);
    }
    fl_sink_free(g.sink);
    for (size_t i = 0; i < g.n_files; i++) {
        fl_free(g.files[i].path);
        fl_free(g.files[i].image_id);
    }
    fl_free(g.files);
    /* Some lower-layer paths return FL_ENOMEM without a message (fl_schema_parse); always leave one. */
    if (rc != FL_OK && err && (err->code != rc || !err->message[0]))
        fl_error_set(err, rc, "ingest images: %s into table '%s': %s", dir, table, fl_strerror(rc));
    return rc;
}
