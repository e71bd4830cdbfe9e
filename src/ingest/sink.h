/*
 * sink.h — the machinery every footage source shares: items (candidate rows), the ordered worker pipeline
 * that produces them, and the sink that turns them into committed rows.
 *
 * A source (images.c, bdd100k.c, synthetic.c) runs this loop on the calling thread:
 *
 *     source task ──submit──▶ [pipeline: N workers read / check / render] ──next, in submit order──▶ sink
 *
 * The sink owns everything about the table: it opens or creates it, checks its schema, scans the existing
 * image_ids once, skips or counts existing and duplicate ids, reports problems, batches rows and commits
 * them (one commit per run, or every commit_every rows / max_batch_bytes), and keeps the report.
 *
 * Invariants:
 *  1. Items reach the sink in submission order, whatever the number of workers, so a run's rows (and so
 *     its table content) do not depend on thread timing.
 *  2. Workers only read shared state that does not change during the run (the existing-id set, options);
 *     everything that changes (the seen set, the batch, the report) belongs to the calling thread.
 *  3. At most one batch of image bytes plus the pipeline's slots are in memory.
 */
#ifndef FL_INGEST_SINK_H
#define FL_INGEST_SINK_H

#include "ingest.h"

/* One candidate row. The source fills the task part before submitting; a worker fills the rest. */
typedef struct fl_ingest_item {
    /* task: set by the source before fl_pipeline_submit */
    uint64_t index;             /* source-specific (file index, synthetic frame index) */
    char *image_id;             /* owned */
    char *source;               /* owned: where the row came from (path, zip member); NULL: none */
    const char *split;          /* static, or owned by the source for the whole run */
    fl_frame frame;             /* annotations (BDD100K labels); owned */
    bool labeled;               /* false: attributes NULL and empty annotation lists */
    bool no_label_entry;        /* an image of a labelled split that no label entry named (counted) */
    int archive;                /* source-specific: the archive holding the input, -1: none */
    uint64_t member;            /* source-specific: its entry in that archive */
    int64_t expected_size;      /* source-specific: its size as listed */
    int outcome;                /* 0: produce and add; or an fl_ingest_outcome decided before producing
                                   (FL_INGEST_SKIPPED_EXISTING, FL_INGEST_MISSING) */
    /* result: set by the worker */
    uint8_t *bytes;             /* owned, reused between uses of the slot */
    size_t size, cap;
    int32_t width, height;
    int code;                   /* FL_OK, or why the item failed (outcome then FL_INGEST_FAILED) */
    char message[FL_ERROR_MESSAGE_SIZE];
} fl_ingest_item;

/* Sets an item's failure: outcome FL_INGEST_FAILED, code, and the message. Returns FL_OK: a failed item
 * is not an error of the run (the sink decides, e.g. in strict mode). */
int fl_item_fail(fl_ingest_item *item, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a JPEG's size into the item, or fails the item with the header's problem. */
int fl_item_check_jpeg(fl_ingest_item *item);

/* Images larger than this are refused rather than read into memory. */
#define FL_MAX_IMAGE_BYTES ((int64_t)1 << 30)

/* Reads a whole file into the item. On a problem the item fails (message "<path>: <reason>") and the
 * return is that failure's code; FL_OK means the bytes are in item->bytes/size. */
int fl_item_read_file(fl_ingest_item *item, const char *path);

/* Makes room for `size` bytes in item->bytes. False on OOM. */
bool fl_item_reserve(fl_ingest_item *item, size_t size);

/* Length of a file name without its .jpg/.jpeg extension (any case), or 0 if it has neither. */
size_t fl_jpeg_stem_length(const char *name);
/* The entries of a directory in byte order, without names starting with '.'. Free with fl_strings_free. */
int fl_list_dir_sorted(const char *dir, char ***out, size_t *n_out, fl_error *why);

/* ---- the pipeline ---- */

/* Produces one item (reads, checks or renders it) on a worker; `state` is that worker's from init. A
 * non-OK return is an error of the whole run (out of memory); a bad input is an item failure instead. */
typedef int (*fl_produce_fn)(void *ctx, void *state, fl_ingest_item *item, fl_error *err);

typedef struct fl_pipeline_def {
    fl_produce_fn produce;
    void *ctx;
    int (*init)(void *ctx, void **state, fl_error *err); /* optional: per-worker state */
    void (*fini)(void *state);
    int threads;                /* 0: one per core; 1: produce on the calling thread */
} fl_pipeline_def;

typedef struct fl_pipeline fl_pipeline;
int fl_pipeline_start(const fl_pipeline_def *def, fl_pipeline **out, fl_error *err);
/* The next free slot for a task, its previous contents cleared (bytes kept), or NULL when every slot is
 * submitted and not yet taken (then take one with fl_pipeline_next first). */
fl_ingest_item *fl_pipeline_slot(fl_pipeline *p);
/* Hands the slot returned by fl_pipeline_slot to the workers. */
int fl_pipeline_submit(fl_pipeline *p, fl_error *err);
/* The oldest submitted item once produced (waits for it), or NULL when nothing is outstanding. It stays
 * valid until the next call of fl_pipeline_next or fl_pipeline_slot. A worker's error ends the run: it is
 * returned here. */
int fl_pipeline_next(fl_pipeline *p, fl_ingest_item **item, fl_error *err);
/* Stops the workers (outstanding items are dropped) and frees everything; NULL is fine. */
void fl_pipeline_free(fl_pipeline *p);
/* The number of worker threads a `threads` option means on this machine. */
int fl_pipeline_threads(int threads);

/* ---- the sink ---- */

typedef struct fl_sink fl_sink;

/* Opens the sink for `table`: `schema_text` lists the columns the source fills (the images schema or
 * FL_FOOTAGE_SCHEMA; `annotated` says which). Existing image_ids are loaded unless the mode is append and
 * `need_ids` is false. `what` names the source in messages ("ingest bdd100k"). */
int fl_sink_open(fl_db *db, const char *table, const char *what, const char *schema_text, bool annotated, bool need_ids,
                 const fl_ingest_options *opts, fl_ingest_report *report, fl_error *err, fl_sink **out);
/* True if the table held this image_id when the run started. Safe from workers. */
bool fl_sink_exists(const fl_sink *s, const char *image_id);
/* The largest N among existing ids "<prefix>N" (N decimal), or -1 if none. */
int64_t fl_sink_max_numbered(const fl_sink *s, const char *prefix);
/* True once opts->limit rows were added: the source should stop submitting. */
bool fl_sink_full(const fl_sink *s);
/* Takes an item in order: counts and reports a skip or failure, or adds the row to the batch (committing a
 * full batch). In checking mode (the strict pre-pass) only checks. */
int fl_sink_take(fl_sink *s, fl_ingest_item *item);
/* Reports a problem that is not an item (a label dropped, a walk error); counted by outcome. */
int fl_sink_notice(fl_sink *s, fl_ingest_outcome outcome, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * Runs a source's pass (`pass(ctx)`: every input through fl_ingest_run) and commits what is pending. In
 * strict mode, for a run of `inputs` inputs and `total_bytes` image bytes that may commit more than once,
 * a checking pass over every input comes first, so a problem anywhere stops the run before any commit.
 * Also sets the progress total to `inputs`.
 */
int fl_sink_run(fl_sink *s, int64_t inputs, int64_t total_bytes, int (*pass)(void *ctx), void *ctx);
void fl_sink_free(fl_sink *s);

/*
 * The loop every source runs, on a pipeline started from `def` for the run: `next_task` fills the free slot with the next task and returns true, or
 * returns false when there is none (or on error, with *rc set). Items flow through the pipeline into the
 * sink in order until the tasks end, the sink is full (limit), or an error.
 */
typedef bool (*fl_next_task_fn)(void *ctx, fl_ingest_item *slot, int *rc);
int fl_ingest_run(const fl_pipeline_def *def, fl_sink *s, fl_next_task_fn next_task, void *ctx, fl_error *err);

#endif /* FL_INGEST_SINK_H */
