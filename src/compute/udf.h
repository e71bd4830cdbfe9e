/*
 * udf.h — the compute layer's UDF contract and the built-in C UDFs.
 *
 * A UDF turns a batch of input columns into one output column of the same length. Every kind of UDF —
 * built-in C functions (builtins.c), C plugins and external worker processes (to come) — implements this
 * one descriptor, so the backfill executor never needs to know which kind it runs:
 *
 *     init(def, params) → state      once per worker (load a model once)
 *     call(state, inputs) → column   per batch; inputs are the columns named by `inputs`, in that order
 *     fini(state)
 *
 * Invariants:
 *  1. call appends exactly inputs->num_rows values to `out`, an empty array of the output type;
 *     fl_udf_apply checks length and type, so a wrong UDF is an error, never memory corruption.
 *  2. call is pure per row: the same input row gives the same value whatever the batch around it, so a
 *     backfill may cut the table into any units of work.
 *  3. Built-in state is per worker; nothing is shared between threads.
 */
#ifndef FL_COMPUTE_UDF_H
#define FL_COMPUTE_UDF_H

#include "framelake.h"

typedef struct fl_udf_def fl_udf_def;

struct fl_udf_def {
    const char *name;
    int version;                /* bumped when the values change; a column computed by another version is stale */
    const char *inputs;         /* default input columns, comma-separated, with their types:
                                   "ann_categories list<string>" */
    const char *output_type;    /* in the schema text syntax: "bool", "fixed_size_list<uint8, 8>" */
    const char *description;
    int (*init)(const fl_udf_def *def, void **state, fl_error *err); /* optional */
    int (*call)(void *state, const fl_batch *inputs, fl_array *out, fl_error *err);
    void (*fini)(void *state);  /* optional */
};

/* The built-in UDFs, in the order `framelake udf list` shows them. */
const fl_udf_def *const *fl_udf_builtins(size_t *n);
/* A built-in by name, or NULL. */
const fl_udf_def *fl_udf_find(const char *name);

/* Runs def->call on `inputs` into a new array of the output type (*out, free with fl_udf_result_free), and
 * checks the result's length and structure. Errors name the UDF and, for a bad row, its index in the batch. */
int fl_udf_apply(const fl_udf_def *def, void *state, const fl_batch *inputs, fl_array **out, fl_error *err);
void fl_udf_result_free(fl_array *result);

/* ---- the image kernels, exposed for tests and benchmarks ---- */

/* Decodes a JPEG to RGB at the smallest libturbojpeg DCT scale whose size is still at least min_w x min_h
 * (1/8 for a 1280x720 frame and a 9x8 target). Fills *rgb (fl_malloc'd, caller frees), *w, *h. */
int fl_decode_rgb_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, uint8_t **rgb, int *w, int *h,
                         fl_error *err);
/* The difference hash of an RGB image: gray = 0.299R + 0.587G + 0.114B, area-averaged to 9 x 8, bit (r, c)
 * = gray[r][c] > gray[r][c+1], packed row-major, most significant bit first, into 8 bytes. */
void fl_dhash_rgb(const uint8_t *rgb, int w, int h, uint8_t hash[8]);
/* Gray-world colour temperature (kelvin) of an RGB image: mean R, G, B → linear sRGB → CIE XYZ → (x, y)
 * → McCamy's CCT approximation, clamped to 1000..25000 K; NaN for a black image. */
double fl_white_balance_rgb(const uint8_t *rgb, int w, int h);

#endif /* FL_COMPUTE_UDF_H */
