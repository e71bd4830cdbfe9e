/*
 * fuzz_loader.c — libFuzzer target for the loader's image path (src/loader/loader.c): the JPEG bytes a table
 * holds are untrusted when the loader decodes them for training. The input is one options byte followed by
 * the JPEG; fl_loader_decode runs the same header check, DCT scale choice, decode, resize and store as a
 * loader batch. The options byte picks: bits 0-1 the size (decoded size, 24x16, 33x7 or 1x1), bit 2 the
 * layout (HWC/CHW), bit 3 normalize, bits 4-5 the DCT scale (automatic, 1/1, 1/2, 1/8), bit 6 skip_corrupt.
 *
 * It must never read or write out of bounds or allocate without limit (a header can claim 65535 x 65535);
 * on success the batch holds one image of the asked size (or a skipped one with skip_corrupt), every value
 * written (normalized into a caller's buffer of NaNs), on failure the error is FL_ECORRUPT and names the
 * image. A good JPEG decoded after the input in the same call always comes out as it does alone.
 *
 * Seeds (tests/fuzz/corpus/fuzz_loader): the fuzz_jpeg seeds, each behind the options bytes 0, 1, 22, 45 and 98.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_loader 600
 */
#include "framelake.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* A small good JPEG (a gradient), made once: decoded after the input in the same call, it must come out the
 * same as when decoded alone (a failed input must not leave the decoder broken or holding its tables). */
static unsigned char *good;
static unsigned long good_size;
static fl_loader_batch *good_alone[2]; /* the good image decoded alone: HWC uint8 and CHW normalized at 24x16 */

static void make_good(void) {
    unsigned char px[32 * 24 * 3];
    for (int i = 0; i < 32 * 24 * 3; i++) px[i] = (unsigned char)(i * 7 + i / 96 * 13);
    tjhandle tj = tjInitCompress();
    if (!tj || tjCompress2(tj, px, 32, 0, 24, TJPF_RGB, &good, &good_size, TJSAMP_420, 85, 0) != 0) abort();
    tjDestroy(tj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!good) make_good();
    static const int sizes[4][2] = {{0, 0}, {24, 16}, {33, 7}, {1, 1}};
    static const int scales[4][2] = {{0, 0}, {1, 1}, {1, 2}, {1, 8}};
    uint8_t bits = data[0];
    fl_loader_options o = {.width = sizes[bits & 3][0], .height = sizes[bits & 3][1], .layout = bits & 4 ? FL_LAYOUT_CHW : FL_LAYOUT_HWC,
                           .normalize = (bits & 8) != 0, .scale_num = scales[(bits >> 4) & 3][0], .scale_denom = scales[(bits >> 4) & 3][1],
                           .skip_corrupt = (bits & 64) != 0, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f}};
    /* A heap copy of exactly the JPEG, so ASan catches a read one past its end. */
    size_t n = size - 1;
    uint8_t *jpeg = malloc(n ? n : 1);
    if (!jpeg) return 0;
    memcpy(jpeg, data + 1, n);
    const uint8_t *jpegs[2] = {jpeg, good};
    size_t lens[2] = {n, good_size};
    /* With a size and normalize, into a buffer of NaNs: every value of a delivered image must be written. */
    float *nans = NULL;
    size_t values = (size_t)o.width * (size_t)o.height * 3;
    if (o.width && o.normalize) {
        nans = malloc(2 * values * sizeof *nans);
        if (!nans) abort();
        for (size_t i = 0; i < 2 * values; i++) nans[i] = NAN;
        o.images_out = nans;
        o.images_out_bytes = 2 * values * sizeof *nans;
    }
    fl_loader_batch *b = NULL;
    fl_error err = {0};
    int rc = fl_loader_decode(jpegs, lens, 1, &o, &b, &err);
    if (rc == FL_OK) {
        if (!b || b->n + b->skipped != 1) abort();
        if (b->n == 1) {
            if (o.width && (b->width != o.width || b->height != o.height)) abort();
            if (b->width < 1 || b->height < 1 || !(o.normalize ? (void *)b->tensor : (void *)b->pixels)) abort();
            for (size_t i = 0; nans && i < values; i++)
                if (isnan(nans[i])) abort();
        } else if (!o.skip_corrupt) {
            abort();
        }
        fl_loader_batch_free(b);
    } else {
        if (b || rc != FL_ECORRUPT || err.code != rc || !strstr(err.message, "row id 0 of 'the given bytes'")) abort();
    }
    /* The input then the good image, skipping what does not decode, at 24x16: the good one comes out exactly as
     * alone (the first of each layout computed once). */
    fl_loader_options pair = {.width = 24, .height = 16, .skip_corrupt = true, .layout = bits & 4 ? FL_LAYOUT_CHW : FL_LAYOUT_HWC,
                              .normalize = (bits & 4) != 0, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f}};
    fl_loader_batch **alone = &good_alone[(bits & 4) != 0];
    if (!*alone && fl_loader_decode(jpegs + 1, lens + 1, 1, &pair, alone, &err) != FL_OK) abort();
    if (fl_loader_decode(jpegs, lens, 2, &pair, &b, &err) != FL_OK || b->n < 1 || b->row_ids[b->n - 1] != 1) abort();
    size_t bytes = (size_t)24 * 16 * 3 * (pair.normalize ? sizeof(float) : 1);
    const uint8_t *last = pair.normalize ? (const uint8_t *)(b->tensor + (size_t)(b->n - 1) * 24 * 16 * 3) : b->pixels + (size_t)(b->n - 1) * 24 * 16 * 3;
    const uint8_t *want = pair.normalize ? (const uint8_t *)(*alone)->tensor : (*alone)->pixels;
    if (memcmp(last, want, bytes)) abort();
    fl_loader_batch_free(b);
    free(nans);
    free(jpeg);
    return 0;
}
