/*
 * test_loader.c — the data loader: decoded pixels equal a reference libjpeg-turbo decode of the same row
 * (HWC, CHW, DCT-scaled, normalized), boxes and labels aligned with their images and scaled with them,
 * deterministic shuffles per (seed, epoch), shards that cover every row exactly once, resuming, epoch
 * ends, corrupt images skipped or failing with the row id, and bad options.
 */
#include "testlib.h"

#include <math.h>
#include <stdint.h>
#include <turbojpeg.h>

#define N_FRAMES 23

static fl_db *db;
static fl_table *t;
static uint64_t ids[N_FRAMES];

static void setup(void) {
    CHECK_OK(fl_db_open(tl_tmpdir("loader"), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = N_FRAMES, .seed = 9, .width = 96, .height = 64, .split = FL_SYNTHETIC_MIXED};
    fl_ingest_options io = {.threads = 1};
    CHECK_OK(fl_ingest_synthetic(db, "frames", &syn, &io, NULL, &tl_err));
    CHECK_OK(fl_table_open(db, "frames", NULL, &t, &tl_err));
    for (int i = 0; i < N_FRAMES; i++) ids[i] = (uint64_t)i;
}

/* The reference: the row's JPEG decoded by libjpeg-turbo directly (RGB, scaled by num/denom). */
static uint8_t *reference(uint64_t row, int num, int denom, int *w, int *h) {
    fl_batch *b = NULL;
    const char *col = "image_bytes";
    CHECK_OK(fl_table_take(t, &row, 1, &col, 1, &b, &tl_err));
    if (!b) return NULL;
    size_t size;
    const uint8_t *jpeg = fl_array_get_bytes(&b->columns[0], 0, &size);
    tjhandle tj = tjInitDecompress();
    int ow, oh, ss, cs;
    tjDecompressHeader3(tj, jpeg, (unsigned long)size, &ow, &oh, &ss, &cs);
    tjscalingfactor sf = {num, denom};
    *w = TJSCALED(ow, sf);
    *h = TJSCALED(oh, sf);
    uint8_t *px = malloc((size_t)*w * (size_t)*h * 3);
    CHECK_EQ_INT(tjDecompress2(tj, jpeg, (unsigned long)size, px, *w, 0, *h, TJPF_RGB, 0), 0);
    tjDestroy(tj);
    fl_batch_free(b);
    return px;
}

/* Every batch of one epoch; returns how many rows came, writes their ids in order into seen. */
static size_t drain_epoch(fl_loader *l, uint64_t *seen, size_t cap) {
    size_t n = 0;
    for (;;) {
        fl_loader_batch *b = NULL;
        CHECK_OK(fl_loader_next(l, &b, &tl_err));
        if (!b) break;
        for (int64_t i = 0; i < b->n && n < cap; i++) seen[n++] = b->row_ids[i];
        fl_loader_batch_free(b);
    }
    return n;
}

static void test_pixels_match_reference(void) {
    fl_loader_options o = {.batch_size = 5, .threads = 2};
    fl_loader *l = NULL;
    CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &o, &l, &tl_err));
    if (!l) return;
    CHECK_EQ_INT(fl_loader_batches_per_epoch(l), 5);
    int64_t expect_index = 0, rows = 0;
    for (;;) {
        fl_loader_batch *b = NULL;
        CHECK_OK(fl_loader_next(l, &b, &tl_err));
        if (!b) break;
        CHECK_EQ_INT(b->epoch, 0);
        CHECK_EQ_INT(b->index, expect_index++);
        CHECK_EQ_INT(b->n, b->index < 4 ? 5 : 3);
        CHECK_EQ_INT(b->width, 96);
        CHECK_EQ_INT(b->height, 64);
        for (int64_t i = 0; i < b->n; i++) {
            CHECK_EQ_INT(b->row_ids[i], (uint64_t)rows++);
            int w, h;
            uint8_t *ref = reference(b->row_ids[i], 1, 1, &w, &h);
            CHECK(ref && !memcmp(ref, b->pixels + (size_t)i * 96 * 64 * 3, (size_t)w * (size_t)h * 3));
            free(ref);
        }
        fl_loader_batch_free(b);
    }
    CHECK_EQ_INT(rows, N_FRAMES);
    /* The call after an epoch's end starts the next epoch. */
    fl_loader_batch *b = NULL;
    CHECK_OK(fl_loader_next(l, &b, &tl_err));
    if (b) {
        CHECK_EQ_INT(b->epoch, 1);
        CHECK_EQ_INT(b->index, 0);
    }
    fl_loader_batch_free(b);
    fl_loader_close(l);

    /* CHW, DCT-scaled by 1/2, normalized to float32. */
    fl_loader_options c = {.batch_size = 4, .threads = 1, .scale_num = 1, .scale_denom = 2, .layout = FL_LAYOUT_CHW, .normalize = true,
                           .mean = {0.5f, 0.25f, 0}, .std = {0.5f, 2, 1}};
    CHECK_OK(fl_loader_open(t, ids + 3, 4, &c, &l, &tl_err));
    b = NULL;
    if (l) CHECK_OK(fl_loader_next(l, &b, &tl_err));
    if (b) {
        CHECK_EQ_INT(b->width, 48);
        CHECK_EQ_INT(b->height, 32);
        CHECK(b->tensor && !b->pixels);
        int w, h;
        uint8_t *ref = reference(b->row_ids[2], 1, 2, &w, &h);
        int bad = 0;
        for (int ch = 0; ch < 3 && ref; ch++)
            for (int p = 0; p < w * h; p++) {
                float want = ((float)ref[p * 3 + ch] / 255.0f - c.mean[ch]) / c.std[ch];
                float got = b->tensor[((size_t)2 * 3 + (size_t)ch) * (size_t)(w * h) + (size_t)p];
                bad += fabsf(got - want) > 1e-5f;
            }
        CHECK_EQ_INT(bad, 0);
        free(ref);
    }
    fl_loader_batch_free(b);
    fl_loader_close(l);
}

/* One batch of given rows, built in the calling thread (a map-style dataset's access). */
static void test_read_rows(void) {
    /* No rows at all, with other columns asked for: an empty batch. */
    const char *cols[1] = {"split"};
    fl_loader_options some = {.columns = cols, .n_columns = 1, .width = 8, .height = 8};
    fl_loader_batch *none = NULL;
    CHECK_OK(fl_loader_read(t, ids, 0, &some, &none, &tl_err));
    CHECK(none && none->n == 0 && none->columns == NULL && none->pixels == NULL);
    fl_loader_batch_free(none);
    uint64_t rows[3] = {17, 2, 9};
    fl_loader_options o = {.shuffle = true, .threads = 4}; /* ignored by fl_loader_read */
    fl_loader_batch *b = NULL;
    CHECK_OK(fl_loader_read(t, rows, 3, &o, &b, &tl_err));
    if (!b) return;
    CHECK_EQ_INT(b->n, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(b->row_ids[i], rows[i]);
        int w, h;
        uint8_t *ref = reference(rows[i], 1, 1, &w, &h);
        CHECK(ref && !memcmp(ref, b->pixels + (size_t)i * (size_t)w * (size_t)h * 3, (size_t)w * (size_t)h * 3));
        free(ref);
    }
    fl_loader_batch_free(b);
}

/* Reference bilinear resample (half-pixel centers, edges clamped), in doubles. */
static void reference_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * sh / dh - 0.5;
        if (sy < 0) sy = 0;
        int y0 = (int)sy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        double fy = sy - y0;
        for (int x = 0; x < dw; x++) {
            double sx = (x + 0.5) * sw / dw - 0.5;
            if (sx < 0) sx = 0;
            int x0 = (int)sx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            double fx = sx - x0;
            for (int c = 0; c < 3; c++) {
                double top = src[(y0 * sw + x0) * 3 + c] * (1 - fx) + src[(y0 * sw + x1) * 3 + c] * fx;
                double bottom = src[(y1 * sw + x0) * 3 + c] * (1 - fx) + src[(y1 * sw + x1) * 3 + c] * fx;
                dst[(y * dw + x) * 3 + c] = (uint8_t)(top * (1 - fy) + bottom * fy + 0.5);
            }
        }
    }
}

/* The largest difference between batch image i (w x h, HWC uint8) and the row's JPEG decoded at num/denom and
 * resampled to w x h by the reference (-1 when the sizes cannot match). */
static int max_diff_vs(const fl_loader_batch *b, int64_t i, int num, int denom) {
    int w, h, worst = 0;
    uint8_t *ref = reference(b->row_ids[i], num, denom, &w, &h), *want = ref;
    uint8_t *small = malloc((size_t)b->width * (size_t)b->height * 3);
    if (!ref || !small) worst = -1;
    else if (w != b->width || h != b->height) reference_resize(ref, w, h, want = small, b->width, b->height);
    size_t bytes = (size_t)b->width * (size_t)b->height * 3;
    for (size_t p = 0; worst >= 0 && p < bytes; p++) {
        int d = abs((int)b->pixels[(size_t)i * bytes + p] - (int)want[p]);
        if (d > worst) worst = d;
    }
    free(ref);
    free(small);
    return worst;
}

/* A resize without a scale decodes at the smallest DCT scale covering the target, then resamples; an explicit
 * 1/1 resamples the full decode. */
static void test_resize_prescale(void) {
    uint64_t rows[4] = {4, 11, 0, 17};
    struct {
        int width, height, scale_num, scale_denom; /* loader options */
        int ref_num, ref_denom, tolerance;         /* the decode it must match, resampled */
    } cases[] = {
        {48, 32, 0, 0, 1, 2, 0},  /* exactly DCT 1/2 of 96x64: no resampling at all */
        {40, 24, 0, 0, 1, 2, 1},  /* 1/2 (48x32) is the smallest covering 40x24 (3/8 gives 36x24) */
        {24, 16, 0, 0, 1, 4, 0},  /* exactly 1/4 */
        {20, 12, 0, 0, 1, 4, 1},  /* 1/4 then bilinear */
        {90, 60, 0, 0, 1, 1, 1},  /* nothing smaller covers it: the full decode */
        {40, 24, 1, 1, 1, 1, 1},  /* an explicit 1/1: bilinear from the full decode */
        {20, 12, 1, 2, 1, 2, 1},  /* an explicit 1/2, not the automatic 1/4 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fl_loader_options o = {.width = cases[c].width, .height = cases[c].height, .scale_num = cases[c].scale_num, .scale_denom = cases[c].scale_denom};
        fl_loader_batch *b = NULL;
        CHECK_OK(fl_loader_read(t, rows, 4, &o, &b, &tl_err));
        if (!b) continue;
        CHECK_EQ_INT(b->n, 4);
        CHECK_EQ_INT(b->width, cases[c].width);
        CHECK_EQ_INT(b->height, cases[c].height);
        for (int64_t i = 0; i < b->n; i++) {
            int d = max_diff_vs(b, i, cases[c].ref_num, cases[c].ref_denom);
            if (d < 0 || d > cases[c].tolerance) printf("  case %zu row %lld: max |diff| %d\n", c, (long long)b->row_ids[i], d);
            CHECK(d >= 0 && d <= cases[c].tolerance);
        }
        fl_loader_batch_free(b);
    }
    /* Boxes scale with the delivered size, whatever the decode went through: 96x64 -> 40x24. */
    const char *cats[1] = {"car"};
    fl_loader_options o = {.width = 40, .height = 24, .boxes_column = "ann_bboxes", .labels_column = "ann_categories", .categories = cats, .n_categories = 1};
    fl_loader_options full = o;
    full.width = full.height = 0;
    fl_loader_batch *b = NULL, *f = NULL;
    CHECK_OK(fl_loader_read(t, rows, 4, &o, &b, &tl_err));
    CHECK_OK(fl_loader_read(t, rows, 4, &full, &f, &tl_err));
    if (b && f) {
        CHECK_EQ_INT(b->box_offsets[4], f->box_offsets[4]);
        CHECK(f->box_offsets[4] > 0);
        for (int64_t k = 0; k < f->box_offsets[4] * 4; k++) CHECK(fabsf(b->boxes[k] - f->boxes[k] * (k % 2 ? 24.0f / 64 : 40.0f / 96)) < 1e-4f);
    }
    fl_loader_batch_free(b);
    fl_loader_batch_free(f);
}

/* JPEGs given in memory decode exactly as the same bytes read from the table. */
static void test_decode_bytes(void) {
    uint64_t rows[3] = {5, 1, 12};
    const char *col = "image_bytes";
    fl_batch *raw = NULL;
    CHECK_OK(fl_table_take(t, rows, 3, &col, 1, &raw, &tl_err));
    if (!raw) return;
    const uint8_t *jpegs[4];
    size_t sizes[4];
    for (int i = 0; i < 3; i++) jpegs[i] = fl_array_get_bytes(&raw->columns[0], i, &sizes[i]);
    fl_loader_options o = {.width = 40, .height = 24, .layout = FL_LAYOUT_CHW, .normalize = true, .mean = {0.1f, 0.2f, 0.3f}, .std = {0.5f, 0.5f, 2}};
    fl_loader_batch *a = NULL, *b = NULL;
    CHECK_OK(fl_loader_read(t, rows, 3, &o, &a, &tl_err));
    CHECK_OK(fl_loader_decode(jpegs, sizes, 3, &o, &b, &tl_err));
    if (a && b) {
        CHECK_EQ_INT(b->n, 3);
        CHECK_EQ_INT(b->width, 40);
        CHECK_EQ_INT(b->height, 24);
        for (int i = 0; i < 3; i++) CHECK_EQ_INT(b->row_ids[i], i);
        CHECK(!memcmp(a->tensor, b->tensor, (size_t)3 * 3 * 40 * 24 * sizeof(float)));
    }
    fl_loader_batch_free(b);
    /* Into the caller's buffer: the same values, the batch points into it and leaves it alone when freed. */
    size_t need = (size_t)3 * 3 * 40 * 24 * sizeof(float);
    float *mine = malloc(need);
    o.images_out = mine;
    o.images_out_bytes = need;
    CHECK_OK(fl_loader_decode(jpegs, sizes, 3, &o, &b, &tl_err));
    if (a && b) CHECK(b->tensor == mine && !memcmp(a->tensor, mine, need));
    fl_loader_batch_free(b);
    o.images_out_bytes = need - 1;
    fl_error e0 = {0};
    CHECK_EQ_INT(fl_loader_decode(jpegs, sizes, 3, &o, &b, &e0), FL_EINVAL);
    CHECK_EQ_STR(e0.message, "loader: the output buffer holds 34559 bytes, 3 images of 40x24 need 34560");
    fl_loader *never = NULL;
    CHECK_EQ_INT(fl_loader_open(t, rows, 3, &o, &never, &e0), FL_EINVAL);
    CHECK_EQ_STR(e0.message, "loader: an output buffer is for one batch (fl_loader_read, fl_loader_decode)");
    free(mine);
    fl_loader_batch_free(a);

    /* A header cut short (libjpeg-turbo reads 0 x 0 pixels from it), a missing image, and a frame of height 0
     * (a DNL marker, which libjpeg-turbo refuses): skipped and counted, or an error naming the image. The good
     * image after them still decodes (a TurboJPEG handle that failed can fail the next image too). */
    static const uint8_t dnl[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x00, 0x00, 0x10, 0x03, 0x01, 0x22, 0x00,
                                  0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
    jpegs[3] = jpegs[2];
    sizes[3] = sizes[2];
    jpegs[1] = NULL;
    sizes[0] = 20;
    jpegs[2] = dnl;
    sizes[2] = sizeof dnl;
    fl_loader_options skip = {.skip_corrupt = true};
    CHECK_OK(fl_loader_decode(jpegs, sizes, 4, &skip, &b, &tl_err));
    if (b) {
        CHECK_EQ_INT(b->n, 1);
        CHECK_EQ_INT(b->skipped, 3);
        if (b->n == 1) {
            CHECK_EQ_INT(b->row_ids[0], 3);
            /* The survivor (row 12's bytes) decodes exactly as read from the table. */
            int w, h;
            uint8_t *ref = reference(12, 1, 1, &w, &h);
            CHECK(ref && b->width == w && b->height == h && !memcmp(ref, b->pixels, (size_t)w * (size_t)h * 3));
            free(ref);
        }
    }
    fl_loader_batch_free(b);
    fl_error e = {0};
    fl_loader_options strict = {0};
    CHECK_EQ_INT(fl_loader_decode(jpegs, sizes, 1, &strict, &b, &e), FL_ECORRUPT);
    CHECK(b == NULL);
    CHECK_EQ_STR(e.message, "loader: row id 0 of 'the given bytes': the JPEG header gives a size of 0 x 0");
    CHECK_EQ_INT(fl_loader_decode(jpegs + 1, sizes + 1, 1, &strict, &b, &e), FL_ECORRUPT);
    CHECK_EQ_STR(e.message, "loader: row id 0 of 'the given bytes': no image (NULL)");
    CHECK_EQ_INT(fl_loader_decode(jpegs + 2, sizes + 2, 1, &strict, &b, &e), FL_ECORRUPT);
    CHECK(strstr(e.message, "loader: row id 0 of 'the given bytes': cannot read the JPEG header: ") == e.message);
    fl_loader_options boxes = {.boxes_column = "ann_bboxes"};
    CHECK_EQ_INT(fl_loader_decode(jpegs, sizes, 1, &boxes, &b, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "loader: decoding given bytes takes the image options only (no boxes, labels or columns)");
    fl_batch_free(raw);
}

static void test_boxes_and_labels(void) {
    const char *cats[2] = {"car", "pedestrian"}, *cols[2] = {"image_id", "split"};
    fl_loader_options o = {.batch_size = 8, .threads = 2, .width = 48, .height = 24, .boxes_column = "ann_bboxes", .labels_column = "ann_categories",
                           .categories = cats, .n_categories = 2, .columns = cols, .n_columns = 2};
    fl_loader *l = NULL;
    CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &o, &l, &tl_err));
    if (!l) return;
    int64_t boxes_seen = 0;
    for (;;) {
        fl_loader_batch *b = NULL;
        CHECK_OK(fl_loader_next(l, &b, &tl_err));
        if (!b) break;
        CHECK_EQ_INT(b->width, 48);
        CHECK_EQ_INT(b->height, 24);
        CHECK(b->columns && b->columns->num_rows == b->n && b->columns->n_columns == 2);
        /* Each row's boxes: the table's boxes of those categories, scaled 96x64 -> 48x24. */
        const char *want_cols[3] = {"ann_bboxes", "ann_categories", "image_id"};
        fl_batch *ref = NULL;
        CHECK_OK(fl_table_take(t, b->row_ids, (size_t)b->n, want_cols, 3, &ref, &tl_err));
        for (int64_t i = 0; ref && i < b->n; i++) {
            size_t a_len, b_len;
            const uint8_t *a_id = fl_array_get_bytes(&ref->columns[2], i, &a_len), *b_id = fl_array_get_bytes(&b->columns->columns[0], i, &b_len);
            CHECK(a_len == b_len && !memcmp(a_id, b_id, a_len));
            int64_t s, e, ls, le;
            fl_array_get_list(&ref->columns[0], i, &s, &e);
            fl_array_get_list(&ref->columns[1], i, &ls, &le);
            int64_t at = b->box_offsets[i];
            for (int64_t k = s; k < e; k++) {
                size_t len;
                const uint8_t *name = fl_array_get_bytes(&ref->columns[1].children[0], ls + (k - s), &len);
                int64_t label = len == 3 && !memcmp(name, "car", 3) ? 1 : len == 10 && !memcmp(name, "pedestrian", 10) ? 2 : 0;
                if (!label) continue;
                CHECK(at < b->box_offsets[i + 1]);
                if (at >= b->box_offsets[i + 1]) break;
                CHECK_EQ_INT(b->labels[at], label);
                int64_t cs, ce;
                fl_array_get_list(&ref->columns[0].children[0], k, &cs, &ce);
                for (int q = 0; q < 4; q++) {
                    double want = fl_array_get_float(&ref->columns[0].children[0].children[0], cs + q) * (q % 2 ? 24.0 / 64 : 48.0 / 96);
                    CHECK(fabs(b->boxes[at * 4 + q] - want) < 1e-4);
                }
                at++;
            }
            CHECK_EQ_INT(at, b->box_offsets[i + 1]);
            boxes_seen += b->box_offsets[i + 1] - b->box_offsets[i];
        }
        fl_batch_free(ref);
        fl_loader_batch_free(b);
    }
    CHECK(boxes_seen > 20);
    fl_loader_close(l);
}

static void test_shuffle_shard_resume(void) {
    /* Deterministic per (seed, epoch); every epoch a permutation; epochs differ. */
    fl_loader_options o = {.batch_size = 4, .threads = 2, .shuffle = true, .seed = 5, .image_column = ""};
    fl_loader *a = NULL, *b = NULL;
    CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &o, &a, &tl_err));
    CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &o, &b, &tl_err));
    uint64_t ea0[N_FRAMES], ea1[N_FRAMES], eb0[N_FRAMES];
    if (a && b) {
        CHECK_EQ_INT(drain_epoch(a, ea0, N_FRAMES), N_FRAMES);
        CHECK_EQ_INT(drain_epoch(a, ea1, N_FRAMES), N_FRAMES);
        CHECK_EQ_INT(drain_epoch(b, eb0, N_FRAMES), N_FRAMES);
        CHECK(!memcmp(ea0, eb0, sizeof ea0));
        CHECK(memcmp(ea0, ea1, sizeof ea0) != 0);
        uint64_t sum = 0;
        for (int i = 0; i < N_FRAMES; i++) sum += ea1[i];
        CHECK_EQ_INT(sum, N_FRAMES * (N_FRAMES - 1) / 2);
    }
    fl_loader_close(a);
    fl_loader_close(b);
    /* Three shards: disjoint, covering, the same number of batches. */
    int count[N_FRAMES] = {0};
    int64_t batches = -1;
    for (int r = 0; r < 3; r++) {
        fl_loader_options s = o;
        s.rank = r;
        s.world_size = 3;
        fl_loader *l = NULL;
        CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &s, &l, &tl_err));
        if (!l) continue;
        if (batches < 0) batches = fl_loader_batches_per_epoch(l);
        CHECK_EQ_INT(fl_loader_batches_per_epoch(l), batches);
        uint64_t seen[N_FRAMES];
        size_t n = drain_epoch(l, seen, N_FRAMES);
        for (size_t i = 0; i < n; i++) count[seen[i]]++;
        fl_loader_close(l);
    }
    CHECK_EQ_INT(batches, 2); /* 23 rows / 3 shards: at most 8 rows, batches of 4 */
    int once = 0;
    for (int i = 0; i < N_FRAMES; i++) once += count[i] == 1;
    CHECK_EQ_INT(once, N_FRAMES);
    /* Resuming at (epoch 1, batch 2) gives what an uninterrupted run gives there. */
    fl_loader_options r = o;
    r.start_epoch = 1;
    r.start_batch = 2;
    fl_loader *l = NULL;
    CHECK_OK(fl_loader_open(t, ids, N_FRAMES, &r, &l, &tl_err));
    fl_loader_batch *first = NULL;
    if (l) CHECK_OK(fl_loader_next(l, &first, &tl_err));
    if (first) {
        CHECK_EQ_INT(first->epoch, 1);
        CHECK_EQ_INT(first->index, 2);
        CHECK(!memcmp(first->row_ids, ea1 + 8, 4 * sizeof *ea1));
        CHECK_EQ_INT(first->width, 0);
    }
    fl_loader_batch_free(first);
    fl_loader_close(l);
}

static void test_corrupt_and_errors(void) {
    /* A table whose images are partly not JPEGs. */
    fl_schema *s;
    CHECK_OK(fl_schema_parse("image_bytes binary, n int32", &s, &tl_err));
    fl_table *bad;
    CHECK_OK(fl_table_create(db, "bad", s, &bad, &tl_err));
    fl_batch *src = NULL;
    const char *col = "image_bytes";
    uint64_t good_rows[3] = {0, 1, 2};
    CHECK_OK(fl_table_take(t, good_rows, 3, &col, 1, &src, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 6 && src; i++) {
        size_t len;
        const uint8_t *jpeg = fl_array_get_bytes(&src->columns[0], i % 3, &len);
        if (i == 2) fl_array_append_bytes(&b->columns[0], "not a jpeg", 10);
        else if (i == 4) fl_array_append_null(&b->columns[0]);
        else fl_array_append_bytes(&b->columns[0], jpeg, len);
        fl_array_append_int(&b->columns[1], i);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(bad, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_batch_free(src);
    uint64_t rows[6] = {0, 1, 2, 3, 4, 5};
    const char *cols[1] = {"n"};
    fl_loader_options o = {.batch_size = 6, .threads = 1, .skip_corrupt = true, .columns = cols, .n_columns = 1};
    fl_loader *l = NULL;
    CHECK_OK(fl_loader_open(bad, rows, 6, &o, &l, &tl_err));
    fl_loader_batch *out = NULL;
    if (l) CHECK_OK(fl_loader_next(l, &out, &tl_err));
    if (out) {
        CHECK_EQ_INT(out->n, 4);
        CHECK_EQ_INT(out->skipped, 2);
        CHECK_EQ_INT(out->row_ids[2], 3);
        CHECK_EQ_INT(fl_array_get_int(&out->columns->columns[0], 3), 5);
    }
    fl_loader_batch_free(out);
    fl_loader_close(l);
    /* Without skipping: the error names the row, and the loader stays failed. */
    o.skip_corrupt = false;
    fl_error e = {0};
    CHECK_OK(fl_loader_open(bad, rows, 6, &o, &l, &tl_err));
    if (l) {
        CHECK_EQ_INT(fl_loader_next(l, &out, &e), FL_ECORRUPT);
        CHECK(strstr(e.message, "row id 2 of 'bad'") != NULL);
        CHECK_EQ_INT(fl_loader_next(l, &out, &e), FL_ECORRUPT);
    }
    fl_loader_close(l);
    /* Bad options are refused before any work. */
    fl_loader_options x = {.scale_num = 1, .scale_denom = 3};
    CHECK_EQ_INT(fl_loader_open(t, ids, 3, &x, &l, &e), FL_EINVAL);
    CHECK_EQ_STR(e.message, "loader: libjpeg-turbo cannot scale by 1/3 (try 1/2, 1/4, 1/8)");
    fl_loader_options y = {.rank = 2, .world_size = 2};
    CHECK_EQ_INT(fl_loader_open(t, ids, 3, &y, &l, &e), FL_EINVAL);
    fl_loader_options z = {.boxes_column = "split"};
    CHECK_EQ_INT(fl_loader_open(t, ids, 3, &z, &l, &e), FL_ETYPE);
    CHECK_EQ_STR(e.message, "loader: boxes column 'split' is string");
    uint64_t gone = 999;
    CHECK_EQ_INT(fl_loader_open(t, &gone, 1, NULL, &l, &e), FL_ENOTFOUND);
    fl_table_close(bad);
    fl_schema_free(s);
}

int main(void) {
    setup();
    RUN(test_pixels_match_reference);
    RUN(test_read_rows);
    RUN(test_resize_prescale);
    RUN(test_decode_bytes);
    RUN(test_boxes_and_labels);
    RUN(test_shuffle_shard_resume);
    RUN(test_corrupt_and_errors);
    fl_table_close(t);
    fl_db_close(db);
    return tl_finish("test_loader");
}
