/*
 * saturation.c — an example framelake plugin UDF (docs/PLUGINS.md): the mean colour saturation of a
 * frame, a cue for washed-out night, fog and rain footage.
 *
 *     make                                   # builds build/plugins/saturation.so
 *     framelake add-column DB bdd100k saturation --udf build/plugins/saturation.so:fl_saturation [--param min_value=16]
 *     framelake backfill DB bdd100k saturation --concurrency 2
 *
 * Value: the JPEG is decoded with libturbojpeg at the smallest DCT scale that still leaves at least 64
 * pixels on the short side (1/8 for 720p); for every pixel with max(R, G, B) >= min_value (default 16:
 * near-black pixels have no meaningful hue) its HSV saturation (max - min) / max is averaged. A frame with
 * no such pixel gives 0; bytes that are not a JPEG are an error naming the decoder's message.
 *
 * Stateful: init creates one decoder per worker and reads the parameter; call reuses it for every frame.
 * It needs only framelake_udf.h and libturbojpeg — it does not link libframelake.
 */
#include "framelake_udf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

typedef struct saturation_state {
    tjhandle tj;
    int min_value;
    unsigned char *rgb;         /* decode buffer, grown as needed */
    size_t cap;
} saturation_state;

static int saturation_init(const fl_udf_host *host, const char *const *keys, const char *const *values, size_t n, void **state, char *error,
                           size_t error_size) {
    (void)host;
    saturation_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    s->min_value = 16;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], "min_value") != 0) continue;
        char *end;
        long v = strtol(values[i], &end, 10);
        if (*values[i] == '\0' || *end != '\0' || v < 0 || v > 255) {
            snprintf(error, error_size, "min_value must be an integer 0..255, not '%s'", values[i]);
            free(s);
            return 1;
        }
        s->min_value = (int)v;
    }
    if (!(s->tj = tjInitDecompress())) {
        snprintf(error, error_size, "cannot start a JPEG decoder: %s", tjGetErrorStr2(NULL));
        free(s);
        return 1;
    }
    *state = s;
    return 0;
}

/* The mean saturation of one JPEG into *value. */
static int frame_saturation(saturation_state *s, const unsigned char *jpeg, size_t size, double *value, char *error, size_t error_size) {
    int w, h, subsamp, colorspace;
    if (tjDecompressHeader3(s->tj, jpeg, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
        snprintf(error, error_size, "cannot read the JPEG header: %s", tjGetErrorStr2(s->tj));
        return 1;
    }
    /* the smallest scale that keeps at least 64 pixels on the short side */
    int n_factors;
    tjscalingfactor *f = tjGetScalingFactors(&n_factors);
    int sw = w, sh = h;
    for (int i = 0; i < n_factors; i++) {
        int cw = TJSCALED(w, f[i]), ch = TJSCALED(h, f[i]);
        if ((cw < ch ? cw : ch) >= 64 && (size_t)cw * (size_t)ch < (size_t)sw * (size_t)sh) sw = cw, sh = ch;
    }
    size_t need = (size_t)sw * (size_t)sh * 3;
    if (need > s->cap) {
        unsigned char *grown = realloc(s->rgb, need);
        if (!grown) {
            snprintf(error, error_size, "out of memory");
            return 1;
        }
        s->rgb = grown;
        s->cap = need;
    }
    if (tjDecompress2(s->tj, jpeg, (unsigned long)size, s->rgb, sw, 0, sh, TJPF_RGB, 0) != 0) {
        snprintf(error, error_size, "cannot decode the JPEG: %s", tjGetErrorStr2(s->tj));
        return 1;
    }
    double sum = 0;
    long counted = 0;
    for (size_t p = 0; p < (size_t)sw * (size_t)sh; p++) {
        const unsigned char *px = s->rgb + 3 * p;
        int mx = px[0], mn = px[0];
        for (int c = 1; c < 3; c++) {
            if (px[c] > mx) mx = px[c];
            if (px[c] < mn) mn = px[c];
        }
        if (mx < s->min_value || mx == 0) continue;
        sum += (double)(mx - mn) / mx;
        counted++;
    }
    *value = counted ? sum / (double)counted : 0.0;
    return 0;
}

static int saturation_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    saturation_state *s = state;
    const fl_array *images = &in->columns[0];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (host->is_null(images, i)) {
            if (host->append_null(out) != 0) goto oom;
            continue;
        }
        size_t size;
        const uint8_t *jpeg = host->get_bytes(images, i, &size);
        double value;
        if (frame_saturation(s, jpeg, size, &value, error, error_size) != 0) return 1;
        if (host->append_float(out, value) != 0) goto oom;
    }
    return 0;
oom:
    snprintf(error, error_size, "out of memory");
    return 1;
}

static void saturation_finalize(void *state) {
    saturation_state *s = state;
    tjDestroy(s->tj);
    free(s->rgb);
    free(s);
}

const fl_udf_plugin fl_saturation = {
    .abi_version = FL_UDF_PLUGIN_ABI,
    .struct_size = sizeof(fl_udf_plugin),
    .name = "saturation",
    .version = 1,
    .inputs = "image_bytes binary",
    .output_type = "float32",
    .description = "mean HSV saturation (max-min)/max of the DCT-scaled decode, over pixels with max >= min_value (default 16)",
    .init = saturation_init,
    .call = saturation_call,
    .finalize = saturation_finalize,
};
