/*
 * fuzz_loader.c — libFuzzer target for the loader's image path (src/loader/loader.c): the JPEG bytes a table
 * holds are untrusted when the loader decodes them for training. The input is one options byte followed by
 * the JPEG; fl_loader_decode runs the same header check, DCT scale choice, decode, resize and store as a
 * loader batch. The options byte picks: bits 0-1 the size (decoded size, 24x16, 33x7 or 1x1), bit 2 the
 * layout (HWC/CHW), bit 3 normalize, bits 4-5 the DCT scale (automatic, 1/1, 1/2, 1/8), bit 6 skip_corrupt.
 *
 * It must never read or write out of bounds or allocate without limit (a header can claim 65535 x 65535);
 * on success the batch holds one image of the asked size (or a skipped one with skip_corrupt), on failure
 * the error is FL_ECORRUPT and names the image.
 *
 * Seeds (tests/fuzz/corpus/fuzz_loader): the fuzz_jpeg seeds, each behind the options bytes 0, 1, 22, 45 and 98.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_loader 600
 */
#include "framelake.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
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
    const uint8_t *jpegs[1] = {jpeg};
    fl_loader_batch *b = NULL;
    fl_error err = {0};
    int rc = fl_loader_decode(jpegs, &n, 1, &o, &b, &err);
    if (rc == FL_OK) {
        if (!b || b->n + b->skipped != 1) abort();
        if (b->n == 1) {
            if (o.width && (b->width != o.width || b->height != o.height)) abort();
            if (b->width < 1 || b->height < 1 || !(o.normalize ? (void *)b->tensor : (void *)b->pixels)) abort();
            /* Touch every value: each must have been written (MSan-style check by summing under ASan). */
            size_t values = (size_t)b->width * (size_t)b->height * 3;
            double sum = 0;
            for (size_t i = 0; i < values; i++) sum += o.normalize ? b->tensor[i] : b->pixels[i];
            if (sum != sum) abort(); /* NaN: a normalized value from nowhere */
        } else if (!o.skip_corrupt) {
            abort();
        }
        fl_loader_batch_free(b);
    } else {
        if (b || rc != FL_ECORRUPT || err.code != rc || !strstr(err.message, "row id 0 of 'the given bytes'")) abort();
    }
    free(jpeg);
    return 0;
}
