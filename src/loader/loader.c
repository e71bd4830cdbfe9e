/*
 * loader.c — the training data loader (framelake.h, "The data loader"): batches of decoded images, boxes
 * and labels, prepared by worker threads ahead of the consumer.
 *
 * Batches are numbered in delivery order (the sequence: epoch by epoch from the resume point). Worker threads
 * claim sequence numbers in order, at most `prefetch` ahead of the consumer; each builds its batch alone
 * through its own table handle (reads in storage order by fl_table_take, libjpeg-turbo decode, resize,
 * layout) into the slot of that number, and the consumer takes slots strictly in order.
 *
 * Invariants:
 *  1. A batch depends only on the rows, the options and its (epoch, index): never on thread timing.
 *  2. An epoch's order is the rows as given, or shuffled by splitmix64 seeded with seed + epoch; shard r of w
 *     holds the positions p with p % w == r; every shard has batches_per_epoch batches.
 *  3. A slot is written only by the worker that claimed its sequence number and read only by the consumer
 *     once that worker marked it ready (under the mutex).
 */
#include "../table/table.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

typedef struct slot {
    int64_t seq;                /* the sequence number it holds; -1: free */
    bool ready;
    int rc;
    fl_error err;
    fl_loader_batch *batch;
} slot;

typedef struct worker worker;

/*
 * Image buffers of finished batches, kept for the next batches: a batch of full-size frames is tens of
 * megabytes, and fresh memory costs a page fault and zeroing per page. Shared by the loader and its batches
 * (which may outlive it): refcounted, the last reference frees it.
 */
typedef struct buffer_pool {
    pthread_mutex_t mu;
    int refs;
    size_t bytes;               /* size of every kept buffer */
    void *kept[8];
    int n_kept;
} buffer_pool;

static buffer_pool *pool_new(void) {
    buffer_pool *p = fl_calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->refs = 1;
    return p;
}

static buffer_pool *pool_ref(buffer_pool *p) {
    if (!p) return NULL;
    pthread_mutex_lock(&p->mu);
    p->refs++;
    pthread_mutex_unlock(&p->mu);
    return p;
}

static void pool_release(buffer_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    int left = --p->refs;
    pthread_mutex_unlock(&p->mu);
    if (left) return;
    for (int i = 0; i < p->n_kept; i++) fl_free(p->kept[i]);
    pthread_mutex_destroy(&p->mu);
    fl_free(p);
}

static void *pool_get(buffer_pool *p, size_t bytes) {
    void *buf = NULL;
    if (p) {
        pthread_mutex_lock(&p->mu);
        if (p->n_kept && p->bytes == bytes) buf = p->kept[--p->n_kept];
        pthread_mutex_unlock(&p->mu);
    }
    return buf ? buf : fl_malloc(bytes);
}

/* Keeps a buffer for reuse (the size of the batches being made), or frees it. */
static void pool_put(buffer_pool *p, void *buf, size_t bytes) {
    if (!buf) return;
    if (p) {
        pthread_mutex_lock(&p->mu);
        if (p->bytes != bytes && !p->n_kept) p->bytes = bytes;
        bool keep = p->bytes == bytes && p->n_kept < 8;
        if (keep) p->kept[p->n_kept++] = buf;
        pthread_mutex_unlock(&p->mu);
        if (keep) return;
    }
    fl_free(buf);
}

typedef struct epoch_order {
    int64_t epoch;              /* -1: none */
    uint64_t *rows;             /* this shard's rows of the epoch, in order */
} epoch_order;

struct fl_loader {
    fl_db *db;
    char *table;
    uint64_t version;
    fl_loader_options o;        /* strings below are owned copies */
    char **columns, **categories;
    char *image_column, *boxes_column, *labels_column;
    uint64_t *rows;
    size_t n_rows;
    int64_t shard_rows_max, batches;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    int64_t claimed, delivered; /* next sequence to claim / to deliver */
    bool stop, ended;           /* ended: the end of the delivered batch's epoch was reported */
    int failed;                 /* the error the loader ended with */
    fl_error failed_err;
    slot *slots;
    int n_slots;
    epoch_order orders[2];      /* the epochs in flight (orders are built once, under the mutex) */
    pthread_t *workers;
    worker *ws;                 /* n_workers: handle and decoder of each thread */
    buffer_pool *pool;          /* image buffers for reuse (NULL for fl_loader_read) */
    int n_workers, started;
    bool sync_ready;            /* mu and the conditions were initialized */
};

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/* (epoch, index) of sequence number s. */
static void position(const fl_loader *l, int64_t s, int64_t *epoch, int64_t *index) {
    int64_t k = l->o.start_batch + s;
    *epoch = l->o.start_epoch + k / l->batches;
    *index = k % l->batches;
}

/* This shard's rows of `epoch` (invariant 2); built once per epoch, under the mutex. */
static const uint64_t *shard_order(fl_loader *l, int64_t epoch, size_t *n) {
    int world = l->o.world_size > 0 ? l->o.world_size : 1, rank = l->o.rank;
    *n = l->n_rows > (size_t)rank ? (l->n_rows - (size_t)rank + (size_t)world - 1) / (size_t)world : 0;
    for (int i = 0; i < 2; i++)
        if (l->orders[i].epoch == epoch) return l->orders[i].rows;
    /* Replace the older epoch: at most two are in flight (prefetch never crosses more than one boundary
     * beyond the consumer's epoch while it still reads the earlier one). */
    epoch_order *o = l->orders[0].epoch <= l->orders[1].epoch ? &l->orders[0] : &l->orders[1];
    uint64_t *all = fl_malloc((l->n_rows ? l->n_rows : 1) * sizeof *all), *mine = fl_malloc((*n ? *n : 1) * sizeof *mine);
    if (!all || !mine) {
        fl_free(all);
        fl_free(mine);
        return NULL;
    }
    memcpy(all, l->rows, l->n_rows * sizeof *all);
    if (l->o.shuffle) {
        uint64_t state = l->o.seed + (uint64_t)epoch;
        for (size_t i = l->n_rows; i > 1; i--) {
            size_t j = (size_t)fl_random_below(&state, i);
            uint64_t tmp = all[i - 1];
            all[i - 1] = all[j];
            all[j] = tmp;
        }
    }
    for (size_t p = (size_t)rank, k = 0; p < l->n_rows; p += (size_t)world) mine[k++] = all[p];
    fl_free(all);
    fl_free(o->rows);
    o->rows = mine;
    o->epoch = epoch;
    return mine;
}

void fl_loader_batch_free(fl_loader_batch *b) {
    if (!b) return;
    fl_free(b->row_ids);
    if (b->buffer_bytes) pool_put(b->pool, b->pixels ? (void *)b->pixels : (void *)b->tensor, b->buffer_bytes); /* 0: the caller's */
    pool_release(b->pool);
    fl_free(b->box_offsets);
    fl_free(b->boxes);
    fl_free(b->labels);
    fl_batch_free(b->columns);
    fl_free(b);
}

/* ---- building one batch ---- */

#define MAX_PIXELS (1 << 26)    /* the largest image decoded (64 Mpixel, 8192 x 8192: 192 MiB of RGB) */

typedef struct resize_col {
    uint32_t x0, x1;            /* byte offsets of the two source pixels in a row */
    uint32_t wx;                /* weight of x1, 0..2048 */
} resize_col;

struct worker {
    fl_loader *l;
    fl_table *t;
    tjhandle tj;
    uint8_t *rgb;               /* decode buffer */
    size_t rgb_cap;
    uint8_t *resized;           /* resize buffer */
    size_t resized_cap;
    resize_col *cols;           /* resize column table */
    size_t cols_cap;
    uint32_t *rows;             /* resize row cache (two rows) */
    size_t rows_cap;
};

/* Bilinear resample of an RGB image (half-pixel centers, 11-bit fixed-point weights) into dst (dw x dh x 3),
 * in two passes: each source row an output row needs is resampled horizontally once (into one of two cached
 * rows of 2048-scaled values), then the output row is a blend of its two rows (a loop the compiler
 * vectorises). `cols` has room for dw entries, `rows` for 2 x dw x 3 values. */
static void resize_rgb(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, resize_col *cols, uint32_t *rows) {
    double fx = (double)sw / dw, fy = (double)sh / dh;
    for (int x = 0; x < dw; x++) {
        double sx = (x + 0.5) * fx - 0.5;
        if (sx < 0) sx = 0;
        int x0 = (int)sx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
        cols[x] = (resize_col){(uint32_t)x0 * 3, (uint32_t)x1 * 3, (uint32_t)((sx - x0) * 2048 + 0.5)};
    }
    size_t n = (size_t)dw * 3;
    uint32_t *slot[2] = {rows, rows + n};
    int held[2] = {-1, -1}; /* the source row in each slot */
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * fy - 0.5;
        if (sy < 0) sy = 0;
        int y0 = (int)sy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        uint32_t wy = (uint32_t)((sy - y0) * 2048 + 0.5);
        const uint32_t *h[2];
        for (int k = 0; k < 2; k++) {
            int want = k ? y1 : y0;
            int at = held[0] == want ? 0 : held[1] == want ? 1 : -1;
            if (at < 0) {
                at = held[0] == (k ? y0 : y1) ? 1 : 0; /* keep the slot the other row is in */
                const uint8_t *r = src + (size_t)want * (size_t)sw * 3;
                uint32_t *o = slot[at];
                for (int x = 0; x < dw; x++, o += 3) {
                    const resize_col *c = &cols[x];
                    o[0] = r[c->x0] * (2048 - c->wx) + r[c->x1] * c->wx;
                    o[1] = r[c->x0 + 1] * (2048 - c->wx) + r[c->x1 + 1] * c->wx;
                    o[2] = r[c->x0 + 2] * (2048 - c->wx) + r[c->x1 + 2] * c->wx;
                }
                held[at] = want;
            }
            h[k] = slot[at];
        }
        uint8_t *o = dst + (size_t)y * n;
        const uint32_t *top = h[0], *bottom = h[1];
        uint32_t wt = 2048 - wy;
        for (size_t i = 0; i < n; i++) o[i] = (uint8_t)((top[i] * wt + bottom[i] * wy + (1u << 21)) >> 22);
    }
}

/* After a failed header read or decode a TurboJPEG handle can fail the next, good image as well (seen with
 * libjpeg-turbo 2.1): the worker starts over with a fresh one. */
static int decoder_failed(worker *w, fl_error *err) {
    tjDestroy(w->tj);
    w->tj = tjInitDecompress();
    if (!w->tj) return fl_error_set(err, FL_ENOMEM, "loader: cannot start a JPEG decoder");
    return FL_ECORRUPT;
}

/* Reads a JPEG's size: *ow x *oh in full, *sw x *sh at the loader's DCT scale. */
static int jpeg_size(worker *w, const uint8_t *jpeg, size_t size, int *sw, int *sh, int *ow, int *oh, fl_error *err) {
    const fl_loader_options *o = &w->l->o;
    int subsamp, colorspace;
    if (tjDecompressHeader3(w->tj, jpeg, (unsigned long)size, ow, oh, &subsamp, &colorspace) != 0) {
        fl_error_set(err, FL_ECORRUPT, "cannot read the JPEG header: %s", tjGetErrorStr2(w->tj));
        return decoder_failed(w, err);
    }
    /* A header is only a claim: a few bytes can announce 65535 x 65535 (12 GiB of RGB). A stream of tables
     * only reads as 0 x 0 and leaves its tables in the handle, where they would serve the next image: the
     * handle is renewed for these too. */
    if (*ow < 1 || *oh < 1) {
        fl_error_set(err, FL_ECORRUPT, "the JPEG header gives a size of %d x %d", *ow, *oh);
        return decoder_failed(w, err);
    }
    if ((int64_t)*ow * *oh > MAX_PIXELS) {
        fl_error_set(err, FL_ECORRUPT, "the JPEG claims %d x %d pixels (more than %d)", *ow, *oh, MAX_PIXELS);
        return decoder_failed(w, err);
    }
    if (o->scale_num || o->scale_denom || !o->width) {
        tjscalingfactor sf = {o->scale_num > 0 ? o->scale_num : 1, o->scale_denom > 0 ? o->scale_denom : 1};
        *sw = TJSCALED(*ow, sf);
        *sh = TJSCALED(*oh, sf);
        return FL_OK;
    }
    /* Resizing without a given scale: the smallest DCT-scaled decode that still covers width x height, so the
     * IDCT does the bulk of a downscale (cheaper than a full decode, and it averages rather than skips pixels);
     * the bilinear pass then only bridges the rest. */
    *sw = *ow;
    *sh = *oh;
    int nf;
    const tjscalingfactor *f = tjGetScalingFactors(&nf);
    for (int i = 0; f && i < nf; i++) {
        int w = TJSCALED(*ow, f[i]), h = TJSCALED(*oh, f[i]);
        /* 1/2, 1/4, 1/8 only: libjpeg-turbo has SIMD IDCTs for those, the other eighths would be slower than a
         * full decode. */
        if (f[i].num == 1 && f[i].denom > 1 && w >= o->width && h >= o->height && (int64_t)w * h < (int64_t)*sw * *sh) {
            *sw = w;
            *sh = h;
        }
    }
    return FL_OK;
}

/* Decodes a JPEG at sw x sh into dst (RGB, tightly packed). */
static int jpeg_decode(worker *w, const uint8_t *jpeg, size_t size, uint8_t *dst, int sw, int sh, fl_error *err) {
    /* A warning (extraneous bytes, a premature end filled in) still gives an image; only fatal errors fail. */
    if (tjDecompress2(w->tj, jpeg, (unsigned long)size, dst, sw, 0, sh, TJPF_RGB, 0) != 0 && tjGetErrorCode(w->tj) == TJERR_FATAL) {
        fl_error_set(err, FL_ECORRUPT, "cannot decode the JPEG: %s", tjGetErrorStr2(w->tj));
        return decoder_failed(w, err);
    }
    return FL_OK;
}

/* Frees a worker's decoder and buffers (not its table handle). */
static void worker_release(worker *w) {
    if (w->tj) tjDestroy(w->tj);
    fl_free(w->rgb);
    fl_free(w->resized);
    fl_free(w->cols);
    fl_free(w->rows);
}

/* A worker buffer of at least `need` bytes (kept between images). */
static uint8_t *scratch(uint8_t **buf, size_t *cap, size_t need) {
    if (need > *cap) {
        uint8_t *grown = fl_realloc(*buf, need);
        if (!grown) return NULL;
        *buf = grown;
        *cap = need;
    }
    return *buf;
}

/* Stores image i (RGB in src, the batch's size) into the batch at its layout and type; lut: the normalized
 * value of each byte per channel. */
static void store_image(const fl_loader *l, fl_loader_batch *b, int64_t i, const uint8_t *src, const float lut[3][256]) {
    const fl_loader_options *o = &l->o;
    size_t hw = (size_t)b->height * (size_t)b->width, base = (size_t)i * hw * 3;
    if (!o->normalize) {
        if (o->layout != FL_LAYOUT_CHW) {
            if (b->pixels + base != src) memcpy(b->pixels + base, src, hw * 3);
            return;
        }
        uint8_t *d0 = b->pixels + base, *d1 = d0 + hw, *d2 = d1 + hw;
        for (size_t p = 0; p < hw; p++, src += 3) {
            d0[p] = src[0];
            d1[p] = src[1];
            d2[p] = src[2];
        }
        return;
    }
    if (o->layout == FL_LAYOUT_CHW) {
        /* One pass over the source, three planes out. */
        float *d0 = b->tensor + base, *d1 = d0 + hw, *d2 = d1 + hw;
        for (size_t p = 0; p < hw; p++, src += 3) {
            d0[p] = lut[0][src[0]];
            d1[p] = lut[1][src[1]];
            d2[p] = lut[2][src[2]];
        }
        return;
    }
    float *d = b->tensor + base;
    for (size_t p = 0; p < hw * 3; p += 3) {
        d[p] = lut[0][src[p]];
        d[p + 1] = lut[1][src[p + 1]];
        d[p + 2] = lut[2][src[p + 2]];
    }
}

/* Appends the boxes of row r whose label is a category, scaled by (sx, sy), as the boxes of the batch's
 * row b->n: they go at box_offsets[n + 1], which counts them. */
static int add_boxes(const fl_loader *l, const fl_array *boxes, const fl_array *labels, int64_t r, double sx, double sy, fl_loader_batch *b,
                     size_t *cap, fl_error *err) {
    int64_t *end_of_row = &b->box_offsets[b->n + 1];
    if (fl_array_is_null(boxes, r)) return FL_OK;
    int64_t start, end, ls = 0, le = 0;
    fl_array_get_list(boxes, r, &start, &end);
    if (labels && !fl_array_is_null(labels, r)) fl_array_get_list(labels, r, &ls, &le);
    const fl_array *coords = &boxes->children[0];
    for (int64_t k = start; k < end; k++) {
        int64_t label = 0;
        if (labels) {
            if (ls + (k - start) >= le) continue; /* a box without a label */
            size_t len;
            const uint8_t *name = fl_array_get_bytes(&labels->children[0], ls + (k - start), &len);
            for (size_t c = 0; c < l->o.n_categories && !label; c++)
                if (strlen(l->categories[c]) == len && !memcmp(l->categories[c], name, len)) label = (int64_t)c + 1;
            if (!label) continue;
        }
        if (fl_array_is_null(coords, k)) continue;
        int64_t cs, ce;
        fl_array_get_list(coords, k, &cs, &ce);
        if (ce - cs != 4) continue;
        size_t at = (size_t)*end_of_row;
        if (at + 1 > *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            float *nb = fl_realloc(b->boxes, c * 4 * sizeof *nb);
            if (nb) b->boxes = nb;
            int64_t *nl = fl_realloc(b->labels, c * sizeof *nl);
            if (nl) b->labels = nl;
            if (!nb || !nl) return oom(err);
            *cap = c;
        }
        for (int q = 0; q < 4; q++) b->boxes[at * 4 + (size_t)q] = (float)(fl_array_get_float(&coords->children[0], cs + q) * (q % 2 ? sy : sx));
        b->labels[at] = label;
        (*end_of_row)++;
    }
    return FL_OK;
}

/* Builds batch `index` of `epoch` from rows[0..k). */
/* Reads the columns a batch needs for rows[0..k), in their order (fl_table_take reads in storage order): the
 * image, boxes and labels columns (those the loader has, in that order), then the other columns. */
static int take_rows(worker *w, const uint64_t *rows, size_t k, fl_batch **raw, fl_error *err) {
    const fl_loader *l = w->l;
    const char *need[64];
    size_t n_need = 0;
    if (l->image_column) need[n_need++] = l->image_column;
    if (l->boxes_column) need[n_need++] = l->boxes_column;
    if (l->labels_column) need[n_need++] = l->labels_column;
    for (size_t c = 0; c < l->o.n_columns; c++) need[n_need++] = l->columns[c];
    *raw = NULL;
    return k ? fl_table_take(w->t, rows, k, need, n_need, raw, err) : FL_OK;
}

/* Builds the batch of rows[0..k) from their columns as take_rows gives them (raw; NULL when k is 0). */
static int build_batch(worker *w, const uint64_t *rows, size_t k, const fl_batch *raw, int64_t epoch, int64_t index, fl_loader_batch **out,
                       fl_error *err) {
    fl_loader *l = w->l;
    const fl_loader_options *o = &l->o;
    *out = NULL;
    fl_loader_batch *b = fl_calloc(1, sizeof *b);
    if (!b) return oom(err);
    b->pool = pool_ref(l->pool);
    b->epoch = epoch;
    float lut[3][256];
    for (int c = 0; c < 3 && o->normalize; c++) {
        float sd = o->std[c] != 0 ? o->std[c] : 1;
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - o->mean[c]) / sd;
    }
    b->index = index;
    int img = -1, bx = -1, lb = -1, first_col = 0;
    if (l->image_column) img = first_col++;
    if (l->boxes_column) bx = first_col++;
    if (l->labels_column) lb = first_col++;
    int rc = FL_OK;
    b->row_ids = fl_malloc((k ? k : 1) * sizeof *b->row_ids);
    b->box_offsets = fl_calloc(k + 1, sizeof *b->box_offsets);
    bool *keep = fl_malloc((k ? k : 1) * sizeof *keep);
    if (rc == FL_OK && (!b->row_ids || !b->box_offsets || !keep)) rc = oom(err);
    b->width = o->width;
    b->height = o->height;
    size_t box_cap = 0, n_pixels = 0;
    for (size_t i = 0; rc == FL_OK && i < k; i++) {
        keep[i] = true;
        int sw = 0, sh = 0, ow = 0, oh = 0;
        if (img >= 0) {
            size_t size = 0;
            const uint8_t *jpeg = fl_array_is_null(&raw->columns[img], (int64_t)i) ? NULL : fl_array_get_bytes(&raw->columns[img], (int64_t)i, &size);
            fl_error derr = {0};
            int drc = jpeg ? jpeg_size(w, jpeg, size, &sw, &sh, &ow, &oh, &derr) : fl_error_set(&derr, FL_ECORRUPT, "no image (NULL)");
            if (drc == FL_OK && !b->width) { /* the decoded size, the same for the whole batch */
                b->width = sw;
                b->height = sh;
            }
            if (drc == FL_OK && !o->width && (sw != b->width || sh != b->height)) {
                rc = fl_error_set(err, FL_EINVAL, "loader: row id %llu of '%s' decodes to %dx%d, others of its batch to %dx%d: give a width and height to "
                                  "resize to", (unsigned long long)rows[i], l->table, sw, sh, b->width, b->height);
                break;
            }
            /* Room for every image of the batch, taken with the first one (reused buffers when the loader has them). */
            if (drc == FL_OK && !n_pixels) {
                size_t bytes;
                if (__builtin_mul_overflow(k, (size_t)b->width * (size_t)b->height * 3, &n_pixels) ||
                    __builtin_mul_overflow(n_pixels, o->normalize ? sizeof(float) : 1, &bytes)) {
                    rc = oom(err);
                    break;
                }
                if (o->images_out && bytes > o->images_out_bytes) {
                    rc = fl_error_set(err, FL_EINVAL, "loader: the output buffer holds %zu bytes, %zu images of %dx%d need %zu", o->images_out_bytes, k,
                                      b->width, b->height, bytes);
                    break;
                }
                void *buf = o->images_out ? o->images_out : pool_get(l->pool, bytes);
                if (!buf) {
                    rc = oom(err);
                    break;
                }
                if (o->normalize) b->tensor = buf;
                else b->pixels = buf;
                b->buffer_bytes = o->images_out ? 0 : bytes;
            }
            /* Straight into the batch when nothing is left to do to the pixels. */
            size_t one = (size_t)b->width * (size_t)b->height * 3;
            bool direct = !o->normalize && o->layout != FL_LAYOUT_CHW && sw == b->width && sh == b->height;
            uint8_t *dst = NULL;
            if (drc == FL_OK) {
                dst = direct ? b->pixels + (size_t)b->n * one : scratch(&w->rgb, &w->rgb_cap, (size_t)sw * (size_t)sh * 3);
                if (!dst) {
                    rc = oom(err);
                    break;
                }
                drc = jpeg_decode(w, jpeg, size, dst, sw, sh, &derr);
            }
            if (drc == FL_ECORRUPT && o->skip_corrupt) {
                keep[i] = false;
                b->skipped++;
                continue;
            }
            if (drc != FL_OK) {
                rc = fl_error_set(err, drc, "loader: row id %llu of '%s': %s", (unsigned long long)rows[i], l->table, derr.message);
                break;
            }
            if (!direct) {
                const uint8_t *src = dst;
                if (sw != b->width || sh != b->height) {
                    uint8_t *r = scratch(&w->resized, &w->resized_cap, one);
                    resize_col *cols = (resize_col *)scratch((uint8_t **)&w->cols, &w->cols_cap, (size_t)b->width * sizeof *cols);
                    uint32_t *rows_buf = (uint32_t *)scratch((uint8_t **)&w->rows, &w->rows_cap, (size_t)b->width * 6 * sizeof *rows_buf);
                    if (!r || !cols || !rows_buf) {
                        rc = oom(err);
                        break;
                    }
                    resize_rgb(dst, sw, sh, r, b->width, b->height, cols, rows_buf);
                    src = r;
                }
                store_image(l, b, b->n, src, lut);
            }
        }
        b->row_ids[b->n] = rows[i];
        b->box_offsets[b->n + 1] = b->box_offsets[b->n];
        if (bx >= 0) {
            /* Boxes are in the stored image's pixels: they scale with the image. */
            double sx = img >= 0 && ow ? (double)b->width / ow : 1, sy = img >= 0 && oh ? (double)b->height / oh : 1;
            rc = add_boxes(l, &raw->columns[bx], lb >= 0 ? &raw->columns[lb] : NULL, (int64_t)i, sx, sy, b, &box_cap, err);
        }
        b->n++;
    }
    /* The other columns, of the delivered rows only. */
    if (rc == FL_OK && o->n_columns && raw) { /* (no rows, no columns) */
        fl_schema *s = fl_schema_new();
        for (size_t c = 0; s && c < o->n_columns; c++)
            if (fl_schema_append_field(s, &raw->schema->fields[first_col + c]) != FL_OK) {
                fl_schema_free(s);
                s = NULL;
            }
        if (s) b->columns = fl_batch_new_empty(s);
        fl_schema_free(s);
        if (!b->columns) rc = oom(err);
        for (size_t c = 0; rc == FL_OK && c < o->n_columns; c++)
            for (size_t i = 0; rc == FL_OK && i < k; i++)
                if (keep[i] && fl_array_append_from(&b->columns->columns[c], &raw->columns[first_col + c], (int64_t)i) != FL_OK) rc = oom(err);
        if (rc == FL_OK) rc = fl_batch_finish(b->columns, err);
        if (rc == FL_OK && fl_batch_set_row_ids(b->columns, b->row_ids, (size_t)b->n) != FL_OK) rc = oom(err);
    }
    if (rc == FL_OK && img < 0) b->width = b->height = 0;
    fl_free(keep);
    if (rc != FL_OK) {
        fl_loader_batch_free(b);
        return rc;
    }
    *out = b;
    return FL_OK;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    fl_loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->claimed >= l->delivered + l->n_slots) pthread_cond_wait(&l->work, &l->mu);
        if (l->stop) break;
        int64_t s = l->claimed++, epoch, index;
        slot *sl = &l->slots[s % l->n_slots];
        sl->seq = s;
        sl->ready = false;
        position(l, s, &epoch, &index);
        size_t n;
        const uint64_t *order = shard_order(l, epoch, &n);
        /* The batch's rows are copied out while the order is stable (under the mutex). */
        size_t from = (size_t)index * (size_t)l->o.batch_size, to = from + (size_t)l->o.batch_size;
        if (from > n) from = n;
        if (to > n) to = n;
        uint64_t *rows = order ? fl_malloc((to - from + 1) * sizeof *rows) : NULL;
        if (rows) memcpy(rows, order + from, (to - from) * sizeof *rows);
        pthread_mutex_unlock(&l->mu);
        fl_error err = {0};
        fl_loader_batch *b = NULL;
        fl_batch *raw = NULL;
        int rc = rows ? take_rows(w, rows, to - from, &raw, &err) : oom(&err);
        if (rc == FL_OK) rc = build_batch(w, rows, to - from, raw, epoch, index, &b, &err);
        fl_batch_free(raw);
        fl_free(rows);
        pthread_mutex_lock(&l->mu);
        sl->rc = rc;
        sl->err = err;
        sl->batch = b;
        sl->ready = true;
        pthread_cond_broadcast(&l->ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- the public calls ---- */

static char *dup_or_null(const char *s, bool *ok) {
    if (!s) return NULL;
    char *d = fl_strdup(s);
    if (!d) *ok = false;
    return d;
}

static char **dup_list(const char *const *items, size_t n, bool *ok) {
    if (!n) return NULL;
    char **d = fl_calloc(n, sizeof *d);
    if (!d) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = fl_strdup(items[i]))) *ok = false;
    return d;
}

/* Checks a column exists with the expected kind. */
static int check_column(const fl_table *t, const char *name, const char *role, fl_type_id type, fl_type_id child, fl_error *err) {
    int k = fl_schema_find(t->m->schema, name);
    if (k < 0) return fl_error_set(err, FL_ENOTFOUND, "loader: %s column '%s' not found in '%s'", role, name, t->name);
    const fl_field *f = &t->m->schema->fields[k];
    bool ok = f->type == type;
    if (ok && child) ok = f->children[0].type == child && (child != FL_TYPE_LIST || fl_type_is_float(f->children[0].children[0].type));
    if (!ok) {
        char *have = fl_field_type_format(f);
        int rc = fl_error_set(err, FL_ETYPE, "loader: %s column '%s' is %s", role, name, have ? have : "?");
        fl_free(have);
        return rc;
    }
    return FL_OK;
}

/* Checks the options and the rows, copies them; with `start`, opens the workers' handles and threads. */
/* The options of the images themselves: size, scale, layout. */
static int check_image_options(const fl_loader_options *o, fl_error *err) {
    if ((o->width > 0) != (o->height > 0) || o->width < 0 || o->height < 0 || o->width > 16384 || o->height > 16384)
        return fl_error_set(err, FL_EINVAL, "loader: width and height go together, each in [1, 16384]");
    if (o->scale_num < 0 || o->scale_denom < 0) return fl_error_set(err, FL_EINVAL, "loader: bad scaling factor");
    if (o->scale_num || o->scale_denom) {
        int nf;
        tjscalingfactor *f = tjGetScalingFactors(&nf);
        bool known = false;
        for (int i = 0; f && i < nf && !known; i++) known = f[i].num == (o->scale_num ? o->scale_num : 1) && f[i].denom == (o->scale_denom ? o->scale_denom : 1);
        if (!known) return fl_error_set(err, FL_EINVAL, "loader: libjpeg-turbo cannot scale by %d/%d (try 1/2, 1/4, 1/8)", o->scale_num, o->scale_denom);
    }
    if (o->layout != FL_LAYOUT_HWC && o->layout != FL_LAYOUT_CHW) return fl_error_set(err, FL_EINVAL, "loader: unknown layout %d", o->layout);
    return FL_OK;
}

static int open_loader(fl_table *t, const uint64_t *row_ids, size_t n, const fl_loader_options *opts, bool start, fl_loader **out, fl_error *err) {
    *out = NULL;
    fl_loader_options o = opts ? *opts : (fl_loader_options){0};
    if (o.batch_size <= 0) o.batch_size = 8;
    if (o.world_size <= 0) o.world_size = 1;
    if (o.rank < 0 || o.rank >= o.world_size) return fl_error_set(err, FL_EINVAL, "loader: rank %d is not in [0, %d)", o.rank, o.world_size);
    if (o.threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cores > 0 ? (int)cores : 1;
    }
    if (o.threads > 64) o.threads = 64;
    if (o.prefetch <= 0) o.prefetch = 2 * o.threads;
    if (o.prefetch < o.threads) o.prefetch = o.threads;
    FL_RETURN_NOT_OK(check_image_options(&o, err));
    if (start && o.images_out) return fl_error_set(err, FL_EINVAL, "loader: an output buffer is for one batch (fl_loader_read, fl_loader_decode)");
    if (o.labels_column && !o.boxes_column) return fl_error_set(err, FL_EINVAL, "loader: a labels column goes with a boxes column");
    if (o.labels_column && !o.n_categories) return fl_error_set(err, FL_EINVAL, "loader: labels need the list of categories");
    if (o.n_columns > 60) return fl_error_set(err, FL_EINVAL, "loader: at most 60 other columns");
    const char *image = o.image_column ? o.image_column : "image_bytes";
    if (*image) FL_RETURN_NOT_OK(check_column(t, image, "image", FL_TYPE_BINARY, 0, err));
    if (o.boxes_column) FL_RETURN_NOT_OK(check_column(t, o.boxes_column, "boxes", FL_TYPE_LIST, FL_TYPE_LIST, err));
    if (o.labels_column) FL_RETURN_NOT_OK(check_column(t, o.labels_column, "labels", FL_TYPE_LIST, FL_TYPE_STRING, err));
    for (size_t i = 0; i < o.n_columns; i++)
        if (fl_schema_find(t->m->schema, o.columns[i]) < 0)
            return fl_error_set(err, FL_ENOTFOUND, "loader: column '%s' not found in '%s'", o.columns[i], t->name);
    /* Every row must be live now: a bad id fails here, not in a worker. */
    for (size_t i = 0; i < n; i++) {
        uint32_t fi;
        uint64_t off;
        const deletion_set *d;
        if (!fl_table_locate(t, row_ids[i], &fi, &off))
            return fl_error_set(err, FL_ENOTFOUND, "loader: row id %llu not found in '%s' version %llu", (unsigned long long)row_ids[i], t->name,
                                (unsigned long long)t->m->version);
        FL_RETURN_NOT_OK(fl_table_deletions(t, fi, &d, err));
        if (fl_deletion_contains(d, off))
            return fl_error_set(err, FL_ENOTFOUND, "loader: row id %llu is deleted in '%s' version %llu", (unsigned long long)row_ids[i], t->name,
                                (unsigned long long)t->m->version);
    }
    fl_loader *l = fl_calloc(1, sizeof *l);
    if (!l) return oom(err);
    bool ok = true;
    l->o = o;
    l->db = t->db;
    l->version = t->m->version;
    l->table = dup_or_null(t->name, &ok);
    l->image_column = *image ? dup_or_null(image, &ok) : NULL;
    l->boxes_column = dup_or_null(o.boxes_column, &ok);
    l->labels_column = dup_or_null(o.labels_column, &ok);
    l->columns = dup_list(o.columns, o.n_columns, &ok);
    l->categories = dup_list(o.categories, o.n_categories, &ok);
    l->rows = fl_malloc((n ? n : 1) * sizeof *l->rows);
    l->slots = fl_calloc((size_t)o.prefetch, sizeof *l->slots);
    l->workers = fl_calloc((size_t)o.threads, sizeof *l->workers);
    if (!ok || !l->rows || !l->slots || !l->workers) {
        fl_loader_close(l);
        return oom(err);
    }
    if (n) memcpy(l->rows, row_ids, n * sizeof *l->rows);
    l->n_rows = n;
    l->n_slots = o.prefetch;
    for (int i = 0; i < l->n_slots; i++) l->slots[i].seq = -1;
    l->orders[0].epoch = l->orders[1].epoch = -1;
    size_t world = (size_t)o.world_size;
    l->shard_rows_max = (int64_t)((n + world - 1) / world);
    l->batches = (l->shard_rows_max + o.batch_size - 1) / o.batch_size;
    if (l->batches && (o.start_batch < 0 || o.start_batch >= l->batches || o.start_epoch < 0)) {
        fl_loader_close(l);
        return fl_error_set(err, FL_EINVAL, "loader: cannot resume at epoch %lld, batch %lld (an epoch has %lld batches)", (long long)o.start_epoch,
                            (long long)o.start_batch, (long long)l->batches);
    }
    if (!start) {
        *out = l;
        return FL_OK;
    }
    if (!(l->pool = pool_new())) {
        fl_loader_close(l);
        return oom(err);
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    l->sync_ready = true;
    /* The workers, each with its own handle of the same version and its own decoder. */
    int rc = FL_OK;
    worker *ws = l->ws = fl_calloc((size_t)o.threads, sizeof *ws);
    l->n_workers = o.threads;
    if (!ws) rc = oom(err);
    for (int i = 0; rc == FL_OK && i < o.threads && l->batches; i++) {
        fl_open_options at = {.version = l->version};
        ws[i].l = l;
        rc = fl_table_open(l->db, l->table, &at, &ws[i].t, err);
        if (rc == FL_OK && !(ws[i].tj = tjInitDecompress())) rc = fl_error_set(err, FL_ENOMEM, "loader: cannot start a JPEG decoder");
    }
    for (int i = 0; rc == FL_OK && i < o.threads && l->batches; i++) {
        if (pthread_create(&l->workers[i], NULL, worker_main, &ws[i]) != 0) {
            rc = fl_error_set(err, FL_ENOMEM, "loader: cannot start a worker thread");
            break;
        }
        l->started++;
    }
    if (rc != FL_OK) {
        fl_loader_close(l);
        return rc;
    }
    *out = l;
    return FL_OK;
}

int fl_loader_open(fl_table *t, const uint64_t *row_ids, size_t n, const fl_loader_options *opts, fl_loader **out, fl_error *err) {
    return open_loader(t, row_ids, n, opts, true, out, err);
}

int64_t fl_loader_batches_per_epoch(const fl_loader *l) { return l->batches; }

/* One batch of rows[0..n) built in the calling thread by a worker of its own: from `given` (the columns as
 * take_rows gives them), or read from table t. */
static int build_alone(fl_loader *l, fl_table *t, const uint64_t *rows, size_t n, const fl_batch *given, fl_loader_batch **out,
                       fl_error *err) {
    worker w = {.l = l, .t = t, .tj = tjInitDecompress()};
    fl_batch *taken = NULL;
    int rc = w.tj ? FL_OK : fl_error_set(err, FL_ENOMEM, "loader: cannot start a JPEG decoder");
    if (rc == FL_OK && !given) rc = take_rows(&w, rows, n, &taken, err);
    if (rc == FL_OK) rc = build_batch(&w, rows, n, given ? given : taken, 0, 0, out, err);
    fl_batch_free(taken);
    worker_release(&w);
    return rc;
}

int fl_loader_read(fl_table *t, const uint64_t *row_ids, size_t n, const fl_loader_options *opts, fl_loader_batch **out, fl_error *err) {
    *out = NULL;
    /* A loader without workers: its options checked and copied the same way, the batch built here. */
    fl_loader_options o = opts ? *opts : (fl_loader_options){0};
    o.threads = 1;
    o.prefetch = 1;
    o.shuffle = false;
    o.rank = 0;
    o.world_size = 1;
    o.start_epoch = o.start_batch = 0;
    fl_loader *l;
    FL_RETURN_NOT_OK(open_loader(t, row_ids, n, &o, false, &l, err));
    int rc = build_alone(l, t, row_ids, n, NULL, out, err);
    fl_loader_close(l);
    return rc;
}

int fl_loader_decode(const uint8_t *const *jpegs, const size_t *sizes, size_t n, const fl_loader_options *opts, fl_loader_batch **out, fl_error *err) {
    *out = NULL;
    fl_loader_options o = opts ? *opts : (fl_loader_options){0};
    FL_RETURN_NOT_OK(check_image_options(&o, err));
    if (o.boxes_column || o.labels_column || o.n_columns || (o.image_column && !*o.image_column))
        return fl_error_set(err, FL_EINVAL, "loader: decoding given bytes takes the image options only (no boxes, labels or columns)");
    o.image_column = "image";
    o.batch_size = (int64_t)(n ? n : 1);
    /* The bytes as the one column of a batch, and a loader without a table around them. */
    fl_schema *schema = NULL;
    FL_RETURN_NOT_OK(fl_schema_parse("image binary", &schema, err));
    fl_batch *raw = fl_batch_new_empty(schema);
    fl_schema_free(schema);
    fl_loader *l = fl_calloc(1, sizeof *l);
    uint64_t *rows = fl_malloc((n ? n : 1) * sizeof *rows);
    bool ok = raw && l && rows;
    if (l) {
        l->o = o;
        l->table = dup_or_null("the given bytes", &ok);
        l->image_column = dup_or_null(o.image_column, &ok);
    }
    for (size_t i = 0; ok && i < n; i++) {
        rows[i] = i;
        ok = (jpegs[i] ? fl_array_append_bytes(&raw->columns[0], jpegs[i], sizes[i]) : fl_array_append_null(&raw->columns[0])) == FL_OK;
    }
    int rc = ok ? fl_batch_finish(raw, err) : oom(err);
    if (rc == FL_OK) rc = build_alone(l, NULL, rows, n, raw, out, err);
    fl_batch_free(raw);
    fl_free(rows);
    if (l) fl_loader_close(l);
    return rc;
}

int fl_loader_next(fl_loader *l, fl_loader_batch **out, fl_error *err) {
    *out = NULL;
    if (l->failed) {
        if (err) *err = l->failed_err;
        return l->failed;
    }
    if (!l->batches) return FL_OK;
    pthread_mutex_lock(&l->mu);
    /* After the last batch of an epoch, one NULL marks its end. */
    if (l->delivered > 0 && !l->ended) {
        int64_t epoch, index;
        position(l, l->delivered - 1, &epoch, &index);
        if (index == l->batches - 1) {
            l->ended = true;
            pthread_mutex_unlock(&l->mu);
            return FL_OK;
        }
    }
    slot *sl = &l->slots[l->delivered % l->n_slots];
    while (!(sl->seq == l->delivered && sl->ready)) pthread_cond_wait(&l->ready, &l->mu);
    int rc = sl->rc;
    if (rc != FL_OK) {
        l->failed = rc;
        l->failed_err = sl->err;
        if (err) *err = sl->err;
    }
    *out = sl->batch;
    sl->batch = NULL;
    sl->seq = -1;
    sl->ready = false;
    l->delivered++;
    l->ended = false;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void fl_loader_close(fl_loader *l) {
    if (!l) return;
    if (l->sync_ready) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->mu);
    }
    for (int i = 0; i < l->started; i++) pthread_join(l->workers[i], NULL);
    for (int i = 0; l->ws && i < l->n_workers; i++) {
        fl_table_close(l->ws[i].t);
        worker_release(&l->ws[i]);
    }
    fl_free(l->ws);
    if (l->sync_ready) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->work);
        pthread_cond_destroy(&l->ready);
    }
    for (int i = 0; l->slots && i < l->n_slots; i++) fl_loader_batch_free(l->slots[i].batch);
    pool_release(l->pool);
    for (int i = 0; i < 2; i++) fl_free(l->orders[i].rows);
    fl_strings_free(l->columns, l->o.n_columns);
    fl_strings_free(l->categories, l->o.n_categories);
    fl_free(l->table);
    fl_free(l->image_column);
    fl_free(l->boxes_column);
    fl_free(l->labels_column);
    fl_free(l->rows);
    fl_free(l->slots);
    fl_free(l->workers);
    fl_free(l);
}
