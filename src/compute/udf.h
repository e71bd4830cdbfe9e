/*
 * udf.h — the compute layer's UDF contract, the registry of UDF kinds and the built-in C UDFs.
 *
 * A UDF turns a batch of input columns into one output column of the same length. Every kind of UDF —
 * built-in C functions (builtins.c), C plugins (plugin.c, ABI in include/framelake_udf.h) and external
 * worker processes (external.c, protocol in docs/UDF_PROTOCOL.md) — is resolved into this one descriptor,
 * so the backfill executor never needs to know which kind it runs:
 *
 *     init(def, ctx) → state         once per worker (load a model once, start a process)
 *     call(state, inputs) → column   per batch; inputs are the UDF's declared inputs, in order, with
 *                                    batch->row_ids set (a UDF may read other rows through ctx's table)
 *     fini(state)
 *
 * Invariants:
 *  1. call appends exactly inputs->num_rows values to `out`, an empty array of the output type;
 *     fl_udf_apply checks length and structure, so a wrong UDF is an error, never memory corruption.
 *  2. call gives a row the same value whatever the batch around it, so a backfill may cut the table into
 *     any units of work.
 *  3. State is per worker; nothing is shared between threads. init/call/fini of one state run on one thread
 *     at a time (not necessarily the same thread).
 */
#ifndef FL_COMPUTE_UDF_H
#define FL_COMPUTE_UDF_H

#include "framelake.h"

typedef struct fl_udf_def fl_udf_def;

/* What a UDF is told when it starts: its parameters, and the table version the backfill reads (db and
 * table may be NULL when a UDF is only resolved, not run). */
typedef struct fl_udf_context {
    fl_db *db;
    const char *table;
    uint64_t version;
    const char *const *param_keys;  /* --param k=v, in the order given */
    const char *const *param_values;
    size_t n_params;
    int timeout_ms;                 /* external workers: a batch taking longer is a hang; 0: 60000 */
    int worker;                     /* 0 .. concurrency-1 */
    const char *const *input_columns; /* the table columns feeding the declared inputs, in order (a UDF
                                         reading other rows reads these); NULL when only resolving */
    size_t n_input_columns;
    bool declare_only;              /* fl_udf_resolve only needs the declaration: an external worker is
                                       asked for it without setting up (loading its model) */
} fl_udf_context;

struct fl_udf_def {
    const char *name;
    int version;                /* bumped when the values change; a column computed by another version is stale */
    const char *inputs;         /* declared input columns with their types: "ann_categories list<string>" */
    const char *output_type;    /* in the schema text syntax: "bool", "fixed_size_list<uint8, 8>" */
    const char *description;
    int (*init)(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err); /* optional */
    int (*call)(void *state, const fl_batch *inputs, fl_array *out, fl_error *err);
    void (*fini)(void *state);  /* optional */
    /* Resolved kinds (plugins, workers) own their descriptor: release frees it and what `impl` holds.
     * NULL for built-ins and registered UDFs, whose descriptors are static. */
    void (*release)(fl_udf_def *def);
    void *impl;
};

/* The built-in UDFs, in the order `framelake udf list` shows them. */
const fl_udf_def *const *fl_udf_builtins(size_t *n);
/* A built-in or registered UDF by name, or NULL. */
const fl_udf_def *fl_udf_find(const char *name);
/* Adds an in-process C UDF to the registry under def->name (the descriptor must outlive its use; not
 * thread-safe: register before running backfills). FL_EEXIST when the name is taken. Tests and programs
 * embedding framelake use it. */
int fl_udf_register(const fl_udf_def *def);

/*
 * Resolves a UDF spec into a descriptor (*out; give it back with fl_udf_release):
 *   "dhash"                   a built-in or registered UDF
 *   "path/to/lib.so:symbol"   a C plugin: dlopen(path), symbol is its fl_udf_plugin descriptor
 *   "exec:command line"       an external worker process (the command runs through /bin/sh -c); resolving
 *                             starts one worker for the handshake that declares name, version, types
 *                             (with ctx->declare_only, without letting it set up)
 * ctx supplies parameters (and, for workers, the timeout).
 */
int fl_udf_resolve(const char *spec, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err);
void fl_udf_release(fl_udf_def *def);
/* The spec as a column definition stores it (fl_free): a plugin's path made absolute, so that a backfill
 * run from another directory loads the same object; other specs unchanged. NULL on allocation failure. */
char *fl_udf_canonical_spec(const char *spec);
/* The kinds behind fl_udf_resolve (plugin.c, external.c). */
int fl_udf_plugin_resolve(const char *path, const char *symbol, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err);
int fl_udf_exec_resolve(const char *command, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err);

/* Decodes one protocol column (docs/UDF_PROTOCOL.md) of type `field` filling all of data into dst (an empty
 * array of that type); everything is validated (FL_ECORRUPT with what was wrong). For the fuzz target. */
int fl_udf_protocol_read_column(const uint8_t *data, size_t size, const fl_field *field, fl_array *dst, fl_error *err);

/* Runs def->call on `inputs` into a new array of the output type (*out, free with fl_udf_result_free), and
 * checks the result's length and structure. Errors name the UDF and, for a bad row, its index in the batch. */
int fl_udf_apply(const fl_udf_def *def, void *state, const fl_batch *inputs, fl_array **out, fl_error *err);
void fl_udf_result_free(fl_array *result);

/* ---- near duplicates (dedup.c) ---- */

/* The UDFs is_duplicate and duplicate_of (in the built-in registry). */
extern const fl_udf_def fl_udf_is_duplicate, fl_udf_duplicate_of;
/* --param threshold (0..64 bits, default 10). */
int fl_dedup_threshold(const char *const *keys, const char *const *values, size_t n, int *threshold, fl_error *err);
/* The non-NULL 64-bit hashes of `column` (fixed_size_list<uint8, 8>) at `version` (0: latest) with their
 * row ids, in scan order (fl_free both). */
int fl_dedup_load_hashes(fl_db *db, const char *table, uint64_t version, const char *column, uint64_t **hashes, uint64_t **ids, size_t *n,
                         fl_error *err);

/* ---- the image kernels, exposed for tests and benchmarks ---- */

/* Decodes a JPEG to RGB at the smallest libturbojpeg DCT scale whose size is still at least min_w x min_h
 * (1/8 for a 1280x720 frame and a 9x8 target). Fills *rgb (fl_malloc'd, caller frees), *w, *h. */
int fl_decode_rgb_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, uint8_t **rgb, int *w, int *h,
                         fl_error *err);
/* The same decode to 8-bit gray: the JPEG's luma channel (Y = 0.299R + 0.587G + 0.114B, JFIF), without
 * chroma upsampling or colour conversion. */
int fl_decode_gray_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, uint8_t **gray, int *w, int *h,
                          fl_error *err);
/* The difference hash of a gray image (what the dhash UDF computes on fl_decode_gray_scaled's output). */
void fl_dhash_gray(const uint8_t *gray, int w, int h, uint8_t hash[8]);
/* The difference hash of an RGB image: gray = 0.299R + 0.587G + 0.114B, area-averaged to 9 x 8, bit (r, c)
 * = gray[r][c] > gray[r][c+1], packed row-major, most significant bit first, into 8 bytes. */
void fl_dhash_rgb(const uint8_t *rgb, int w, int h, uint8_t hash[8]);
/* Gray-world colour temperature (kelvin) of an RGB image: mean R, G, B → linear sRGB → CIE XYZ → (x, y)
 * → McCamy's CCT approximation, clamped to 1000..25000 K; NaN for a black image. */
double fl_white_balance_rgb(const uint8_t *rgb, int w, int h);

#endif /* FL_COMPUTE_UDF_H */
