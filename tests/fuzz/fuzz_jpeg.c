/*
 * fuzz_jpeg.c — libFuzzer target for the JPEG header reader (src/ingest/jpeg.c), which reads untrusted
 * image files during ingest. The input is the file. fl_jpeg_info must never read out of bounds; on success
 * the size must be plausible (1..65535, 1..255 components) and on failure the message must be set and
 * name a byte offset. It is also run on 17 prefixes of every accepted input: a prefix that lacks the EOI
 * must fail the same clean way.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_jpeg 600
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

static int check(const uint8_t *data, size_t size) {
    fl_error err = {0};
    int32_t width = -1, height = -1;
    int components = -1;
    /* A heap copy of exactly `size` bytes, so ASan catches a read one past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return FL_ENOMEM;
    if (size) memcpy(copy, data, size);
    int rc = fl_jpeg_info(size ? copy : NULL, size, "fuzz", &width, &height, &components, &err);
    free(copy);
    if (rc == FL_OK) {
        if (width < 1 || width > 65535 || height < 1 || height > 65535 || components < 1 || components > 255) abort();
    } else {
        if (err.code != rc || !strstr(err.message, "fuzz: ")) abort();
        if (width != -1 || height != -1 || components != -1) abort(); /* outputs are written only on success */
    }
    return rc;
}

/* A prefix passes only if it still holds an EOI (0xFF 0xD9) somewhere. */
static void check_prefix(const uint8_t *data, size_t n) {
    if (check(data, n) == FL_OK && !memmem(data, n, "\xFF\xD9", 2)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (check(data, size) != FL_OK) return 0;
    /* 16 evenly spread cuts and the cut of the last byte (libFuzzer's own mutations try the others). */
    for (size_t k = 0; k < 16; k++) check_prefix(data, size * k / 16);
    check_prefix(data, size - 1);
    return 0;
}
