/*
 * synthetic.c — synthetic fleet footage into a table (fl_ingest_synthetic) or into a BDD100K-style folder
 * (fl_synthetic_export). The frames themselves are drawn by synth.c; this file only drives the renderer on
 * the pipeline's workers and hands the results to the sink or to files.
 *
 * The frames of a seed form one stream indexed from 0; frame i is a pure function of (options, i), and its
 * image_id ("synth-<seed>-<i>", fl_synth_image_id) carries the index, so a run continues the stream after
 * the highest index of that seed the table holds.
 */
#include "bdd.h"
#include "sink.h"
#include "synth.h"

#include "../common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct synth_run {
    fl_synth_options so;
    int threads;
    fl_sink *sink;
    fl_error *err;
    uint64_t next, end;         /* frame indexes still to submit: [next, end) */
    char source[64];
} synth_run;

static int check_options(const fl_synthetic_options *syn, fl_synth_options *so, fl_error *err) {
    if (!syn) return fl_error_set(err, FL_EINVAL, "ingest synthetic: options are required");
    if (syn->n < 0) return fl_error_set(err, FL_EINVAL, "ingest synthetic: the frame count must not be negative (got %lld)", (long long)syn->n);
    if (syn->split < FL_SYNTHETIC_TRAIN || syn->split > FL_SYNTHETIC_MIXED)
        return fl_error_set(err, FL_EINVAL, "ingest synthetic: unknown split mode %d", syn->split);
    *so = (fl_synth_options){.seed = syn->seed, .width = syn->width, .height = syn->height, .quality = syn->quality,
                             .split_mode = syn->split == FL_SYNTHETIC_TRAIN ? FL_SYNTH_TRAIN
                                           : syn->split == FL_SYNTHETIC_VAL ? FL_SYNTH_VAL
                                                                            : FL_SYNTH_MIXED};
    /* a renderer is made once here so bad sizes or qualities fail before anything is opened */
    fl_synth *probe;
    FL_RETURN_NOT_OK(fl_synth_new(so, &probe, err));
    fl_synth_free(probe);
    return FL_OK;
}

static int worker_init(void *ctx, void **state, fl_error *err) {
    const fl_synth_options *so = ctx;
    return fl_synth_new(so, (fl_synth **)state, err);
}

static void worker_fini(void *state) { fl_synth_free(state); }

/* Worker: renders frame item->index; test-split frames keep no annotations (as in BDD100K). */
static int produce(void *ctx, void *state, fl_ingest_item *item, fl_error *err) {
    (void)ctx;
    const char *split;
    const uint8_t *jpeg;
    size_t size;
    FL_RETURN_NOT_OK(fl_synth_render(state, item->index, &item->frame, &split, &jpeg, &size, err));
    if (!fl_item_reserve(item, size)) return fl_error_set(err, FL_ENOMEM, "ingest synthetic: out of memory");
    memcpy(item->bytes, jpeg, size);
    item->size = size;
    item->split = split;
    item->labeled = strcmp(split, "test") != 0;
    return fl_item_check_jpeg(item);
}

static bool next_task(void *ctx, fl_ingest_item *slot, int *rc) {
    synth_run *g = ctx;
    if (g->next == g->end) return false;
    char id[64];
    fl_synth_image_id(g->so.seed, g->next, id, sizeof id);
    slot->index = g->next++;
    slot->image_id = fl_strdup(id);
    slot->source = fl_strdup(g->source);
    if (!slot->image_id || !slot->source) {
        *rc = fl_error_set(g->err, FL_ENOMEM, "ingest synthetic: out of memory");
        return false;
    }
    return true;
}

static int run_pass(void *ctx) {
    synth_run *g = ctx;
    fl_pipeline_def def = {.produce = produce, .ctx = &g->so, .init = worker_init, .fini = worker_fini, .threads = g->threads};
    return fl_ingest_run(&def, g->sink, next_task, g, g->err);
}

/* "synth-<seed>-": the image_id prefix of a seed's frames. */
static void id_prefix(uint64_t seed, char *buf, size_t size) {
    char id[64];
    fl_synth_image_id(seed, 0, id, sizeof id);
    char *last = strrchr(id, '-');
    size_t n = last ? (size_t)(last - id) + 1 : strlen(id);
    snprintf(buf, size, "%.*s", (int)n, id);
}

int fl_ingest_synthetic(fl_db *db, const char *table, const fl_synthetic_options *syn, const fl_ingest_options *opts,
                        fl_ingest_report *report, fl_error *err) {
    fl_ingest_report local_report;
    if (!report) report = &local_report;
    memset(report, 0, sizeof *report);
    if (!db || !table) return fl_error_set(err, FL_EINVAL, "ingest synthetic: db and table are required");
    fl_ingest_options o = opts ? *opts : (fl_ingest_options){0};
    o.strict = false; /* rendered frames have no input problems to be strict about */
    synth_run g = {.err = err, .threads = o.threads};
    int rc = check_options(syn, &g.so, err);
    if (rc == FL_OK) rc = fl_sink_open(db, table, "ingest synthetic", FL_FOOTAGE_SCHEMA, true, true, &o, report, err, &g.sink);
    if (rc == FL_OK) {
        char prefix[64];
        id_prefix(g.so.seed, prefix, sizeof prefix);
        g.next = (uint64_t)(fl_sink_max_numbered(g.sink, prefix) + 1);
        g.end = g.next + (uint64_t)syn->n;
        snprintf(g.source, sizeof g.source, "synthetic seed %llu", (unsigned long long)g.so.seed);
        rc = fl_sink_run(g.sink, syn->n, 0, run_pass, &g);
    }
    fl_sink_free(g.sink);
    if (rc != FL_OK && err && (err->code != rc || !err->message[0]))
        fl_error_set(err, rc, "ingest synthetic: into table '%s': %s", table, fl_strerror(rc));
    return rc;
}

/* ---- export as a BDD100K folder ---- */

typedef struct export_run {
    const char *dir;
    fl_error *err;
    int label_fd[2];            /* det_train.json, det_val.json */
    bool first_frame[2];
} export_run;

static int write_all(int fd, const void *data, size_t size, const char *path, fl_error *err) {
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fl_error_set(err, FL_EIO, "synthetic export: %s: %s", path, strerror(errno));
        p += w;
        size -= (size_t)w;
    }
    return FL_OK;
}

static int make_dir(const char *path, fl_error *err) {
    if (mkdir(path, 0777) != 0) return fl_error_set(err, errno == EEXIST ? FL_EEXIST : FL_EIO, "synthetic export: %s: %s", path, strerror(errno));
    return FL_OK;
}

static int export_frame(export_run *x, const fl_ingest_item *item, fl_buf *json) {
    char *path = fl_sprintf("%s/images/100k/%s/%s.jpg", x->dir, item->split, item->image_id);
    if (!path) return fl_error_set(x->err, FL_ENOMEM, "synthetic export: out of memory");
    int rc = FL_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) rc = fl_error_set(x->err, FL_EIO, "synthetic export: %s: %s", path, strerror(errno));
    else {
        rc = write_all(fd, item->bytes, item->size, path, x->err);
        close(fd);
    }
    fl_free(path);
    int k = !strcmp(item->split, "train") ? 0 : !strcmp(item->split, "val") ? 1 : -1;
    if (rc != FL_OK || k < 0) return rc;
    json->size = 0;
    if (!x->first_frame[k]) fl_buf_append(json, ",\n", 2);
    x->first_frame[k] = false;
    FL_RETURN_NOT_OK(fl_bdd_write_frame(json, &item->frame));
    if (json->failed) return fl_error_set(x->err, FL_ENOMEM, "synthetic export: out of memory");
    return write_all(x->label_fd[k], json->data, json->size, "labels", x->err);
}

int fl_synthetic_export(const char *dir, const fl_synthetic_options *syn, uint64_t first, int threads, fl_error *err) {
    if (!dir) return fl_error_set(err, FL_EINVAL, "synthetic export: a directory is required");
    fl_synth_options so;
    FL_RETURN_NOT_OK(check_options(syn, &so, err));
    export_run x = {.dir = dir, .err = err, .label_fd = {-1, -1}, .first_frame = {true, true}};
    static const char *const subdirs[] = {"", "/images", "/images/100k", "/images/100k/train", "/images/100k/val",
                                          "/images/100k/test", "/labels", "/labels/det_20"};
    int rc = FL_OK;
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs && rc == FL_OK; i++) {
        char *path = fl_sprintf("%s%s", dir, subdirs[i]);
        rc = path ? make_dir(path, err) : fl_error_set(err, FL_ENOMEM, "synthetic export: out of memory");
        fl_free(path);
    }
    for (int k = 0; k < 2 && rc == FL_OK; k++) {
        char *path = fl_sprintf("%s/labels/det_20/det_%s.json", dir, k == 0 ? "train" : "val");
        if (!path) rc = fl_error_set(err, FL_ENOMEM, "synthetic export: out of memory");
        else if ((x.label_fd[k] = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
            rc = fl_error_set(err, FL_EIO, "synthetic export: %s: %s", path, strerror(errno));
        else rc = write_all(x.label_fd[k], "[\n", 2, path, err);
        fl_free(path);
    }
    fl_pipeline *p = NULL;
    fl_pipeline_def def = {.produce = produce, .ctx = &so, .init = worker_init, .fini = worker_fini, .threads = threads};
    if (rc == FL_OK) rc = fl_pipeline_start(&def, &p, err);
    fl_buf json;
    fl_buf_init(&json);
    uint64_t next = first, end = first + (uint64_t)syn->n;
    while (rc == FL_OK) {
        fl_ingest_item *slot;
        while (rc == FL_OK && next < end && (slot = fl_pipeline_slot(p)) != NULL) {
            char id[64];
            fl_synth_image_id(so.seed, next, id, sizeof id);
            slot->index = next++;
            if (!(slot->image_id = fl_strdup(id))) rc = fl_error_set(err, FL_ENOMEM, "synthetic export: out of memory");
            else rc = fl_pipeline_submit(p, err);
        }
        fl_ingest_item *item = NULL;
        if (rc == FL_OK) rc = fl_pipeline_next(p, &item, err);
        if (rc != FL_OK || !item) break;
        if (item->outcome) rc = fl_error_set(err, item->code, "synthetic export: %s", item->message);
        else rc = export_frame(&x, item, &json);
    }
    fl_pipeline_free(p);
    fl_buf_free(&json);
    for (int k = 0; k < 2; k++) {
        if (x.label_fd[k] < 0) continue;
        if (rc == FL_OK) rc = write_all(x.label_fd[k], "\n]\n", 3, "labels", err);
        close(x.label_fd[k]);
    }
    return rc;
}
