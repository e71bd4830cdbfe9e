/*
 * builtins.c — the built-in C UDFs (the contract is in udf.h) and fl_udf_apply.
 *
 * Annotation UDFs read the footage table's list columns (docs/INGEST.md); image UDFs decode image_bytes
 * with libturbojpeg at a DCT scale (1/8 for a 1280x720 frame), which does most of the work of the area
 * resize inside the decoder: a scaled IDCT of an 8x8 block is (close to) that block's mean.
 */
#include "udf.h"

#include "../batch/batch.h"
#include "../common/common.h"

#include <math.h>
#include <turbojpeg.h>

/* ---- helpers ---- */

static bool is_person(const uint8_t *s, size_t n) {
    return (n == 10 && !memcmp(s, "pedestrian", 10)) || (n == 12 && !memcmp(s, "other person", 12));
}

static bool is_rider(const uint8_t *s, size_t n) { return n == 5 && !memcmp(s, "rider", 5); }

/* bool column: does the list of row i hold a category `match` accepts? NULL list → NULL. */
static int any_category(const fl_batch *in, fl_array *out, bool (*match)(const uint8_t *, size_t)) {
    const fl_array *cats = &in->columns[0];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (fl_array_is_null(cats, i)) {
            FL_RETURN_NOT_OK(fl_array_append_null(out));
            continue;
        }
        int64_t s, e;
        fl_array_get_list(cats, i, &s, &e);
        bool found = false;
        for (int64_t k = s; k < e && !found; k++) {
            if (fl_array_is_null(&cats->children[0], k)) continue;
            size_t n;
            const uint8_t *v = fl_array_get_bytes(&cats->children[0], k, &n);
            found = match(v, n);
        }
        FL_RETURN_NOT_OK(fl_array_append_bool(out, found));
    }
    return FL_OK;
}

static int call_has_person(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    return any_category(in, out, is_person);
}

static int call_has_rider(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    return any_category(in, out, is_rider);
}

/* "{timeofday} {weather} scene on a {scene}"; NULL when any attribute is NULL (a frame without labels). */
static int call_scene_description(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    fl_buf text;
    fl_buf_init(&text);
    int rc = FL_OK;
    for (int64_t i = 0; i < in->num_rows && rc == FL_OK; i++) {
        const fl_array *tod = &in->columns[0], *weather = &in->columns[1], *scene = &in->columns[2];
        if (fl_array_is_null(tod, i) || fl_array_is_null(weather, i) || fl_array_is_null(scene, i)) {
            rc = fl_array_append_null(out);
            continue;
        }
        size_t a, b, c;
        const uint8_t *t = fl_array_get_bytes(tod, i, &a), *w = fl_array_get_bytes(weather, i, &b), *s = fl_array_get_bytes(scene, i, &c);
        text.size = 0;
        fl_buf_printf(&text, "%.*s %.*s scene on a %.*s", (int)a, (const char *)t, (int)b, (const char *)w, (int)c, (const char *)s);
        rc = text.failed ? FL_ENOMEM : fl_array_append_bytes(out, text.data, text.size);
    }
    fl_buf_free(&text);
    return rc;
}

/* Largest person box area / (width x height) x 100; 0 without a person; NULL without a size. */
static int call_person_bbox_area_pct(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    const fl_array *cats = &in->columns[0], *boxes = &in->columns[1], *width = &in->columns[2], *height = &in->columns[3];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (fl_array_is_null(width, i) || fl_array_is_null(height, i) || fl_array_get_int(width, i) <= 0 || fl_array_get_int(height, i) <= 0) {
            FL_RETURN_NOT_OK(fl_array_append_null(out));
            continue;
        }
        double best = 0;
        if (!fl_array_is_null(cats, i) && !fl_array_is_null(boxes, i)) {
            int64_t cs, ce, bs, be;
            fl_array_get_list(cats, i, &cs, &ce);
            fl_array_get_list(boxes, i, &bs, &be);
            for (int64_t k = 0; k < ce - cs && k < be - bs; k++) {
                const fl_array *names = &cats->children[0], *box = &boxes->children[0];
                if (fl_array_is_null(names, cs + k) || fl_array_is_null(box, bs + k)) continue;
                size_t n;
                const uint8_t *v = fl_array_get_bytes(names, cs + k, &n);
                int64_t s, e;
                fl_array_get_list(box, bs + k, &s, &e);
                if (!is_person(v, n) || e - s != 4) continue;
                double x1 = fl_array_get_float(&box->children[0], s), y1 = fl_array_get_float(&box->children[0], s + 1);
                double x2 = fl_array_get_float(&box->children[0], s + 2), y2 = fl_array_get_float(&box->children[0], s + 3);
                double area = (x2 - x1) * (y2 - y1);
                if (area > best) best = area;
            }
        }
        double pct = best / ((double)fl_array_get_int(width, i) * (double)fl_array_get_int(height, i)) * 100.0;
        FL_RETURN_NOT_OK(fl_array_append_float(out, pct));
    }
    return FL_OK;
}

/* ---- image kernels ---- */

/* Decodes at the smallest DCT scale leaving at least min_w x min_h, in `format` (TJPF_RGB or TJPF_GRAY). */
static int decode_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, int format, uint8_t **px, int *w, int *h,
                         fl_error *err) {
    int width, height, subsamp, colorspace;
    if (tjDecompressHeader3(tj, jpeg, (unsigned long)size, &width, &height, &subsamp, &colorspace) != 0)
        return fl_error_set(err, FL_ECORRUPT, "cannot read the JPEG header: %s", tjGetErrorStr2(tj));
    int n_factors;
    tjscalingfactor *factors = tjGetScalingFactors(&n_factors);
    tjscalingfactor best = {1, 1};
    for (int i = 0; factors && i < n_factors; i++) {
        int sw = TJSCALED(width, factors[i]), sh = TJSCALED(height, factors[i]);
        bool smaller = (double)factors[i].num / factors[i].denom < (double)best.num / best.denom;
        if (sw >= min_w && sh >= min_h && smaller) best = factors[i];
    }
    int sw = TJSCALED(width, best), sh = TJSCALED(height, best);
    uint8_t *pixels = fl_malloc((size_t)sw * (size_t)sh * (size_t)tjPixelSize[format]);
    if (!pixels) return fl_error_set(err, FL_ENOMEM, "out of memory decoding a %dx%d image", sw, sh);
    if (tjDecompress2(tj, jpeg, (unsigned long)size, pixels, sw, 0, sh, format, TJFLAG_FASTDCT) != 0 && tjGetErrorCode(tj) == TJERR_FATAL) {
        fl_free(pixels);
        return fl_error_set(err, FL_ECORRUPT, "cannot decode the JPEG: %s", tjGetErrorStr2(tj));
    }
    *px = pixels;
    *w = sw;
    *h = sh;
    return FL_OK;
}

int fl_decode_rgb_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, uint8_t **rgb, int *w, int *h,
                         fl_error *err) {
    return decode_scaled(tj, jpeg, size, min_w, min_h, TJPF_RGB, rgb, w, h, err);
}

int fl_decode_gray_scaled(void *tj, const uint8_t *jpeg, size_t size, int min_w, int min_h, uint8_t **gray, int *w, int *h,
                          fl_error *err) {
    return decode_scaled(tj, jpeg, size, min_w, min_h, TJPF_GRAY, gray, w, h, err);
}

/* The cells of the 9 x 8 area average, as weighted sums (every cell has the same area), of an image whose
 * pixel (x, y) has value value(px, x, y). */
#define DHASH_CELLS(cells, w, h, VALUE)                                                                                                   \
    do {                                                                                                                                  \
        memset(cells, 0, sizeof cells);                                                                                                   \
        for (int y = 0; y < h; y++) {                                                                                                     \
            int64_t py0 = (int64_t)y * 8, py1 = py0 + 8;                                                                                  \
            for (int r = (int)(py0 / h); r < 8 && (int64_t)r * h < py1; r++) {                                                            \
                int64_t oy = (py1 < (int64_t)(r + 1) * h ? py1 : (int64_t)(r + 1) * h) - (py0 > (int64_t)r * h ? py0 : (int64_t)r * h);   \
                if (oy <= 0) continue;                                                                                                    \
                for (int x = 0; x < w; x++) {                                                                                             \
                    int64_t v = (VALUE);                                                                                                  \
                    int64_t px0 = (int64_t)x * 9, px1 = px0 + 9;                                                                          \
                    for (int c = (int)(px0 / w); c < 9 && (int64_t)c * w < px1; c++) {                                                    \
                        int64_t ox = (px1 < (int64_t)(c + 1) * w ? px1 : (int64_t)(c + 1) * w) - (px0 > (int64_t)c * w ? px0 : (int64_t)c * w); \
                        if (ox > 0) cells[r][c] += ox * oy * v;                                                                           \
                    }                                                                                                                     \
                }                                                                                                                         \
            }                                                                                                                             \
        }                                                                                                                                 \
    } while (0)

static void dhash_bits(int64_t cells[8][9], uint8_t hash[8]) {
    for (int r = 0; r < 8; r++) {
        hash[r] = 0;
        for (int c = 0; c < 8; c++)
            if (cells[r][c] > cells[r][c + 1]) hash[r] |= (uint8_t)(0x80u >> c);
    }
}

/*
 * The difference hash, in exact integer arithmetic, so that equal areas (flat sky, flat road) compare equal
 * instead of by rounding noise. In coordinates scaled by the output size (x by 9, y by 8), pixel x spans
 * [9x, 9x + 9) and cell c spans [wc, wc + w), so every overlap is an integer and every cell has the same
 * area (w x h): comparing the cells' weighted sums is comparing their area averages exactly. The RGB form
 * keeps gray as 1000 x luma (299R + 587G + 114B); the gray form takes the JPEG's luma channel as decoded.
 */
void fl_dhash_rgb(const uint8_t *rgb, int w, int h, uint8_t hash[8]) {
    int64_t cells[8][9];
    DHASH_CELLS(cells, w, h, 299 * rgb[3 * ((size_t)y * w + x)] + 587 * rgb[3 * ((size_t)y * w + x) + 1] + 114 * rgb[3 * ((size_t)y * w + x) + 2]);
    dhash_bits(cells, hash);
}

void fl_dhash_gray(const uint8_t *gray, int w, int h, uint8_t hash[8]) {
    int64_t cells[8][9];
    DHASH_CELLS(cells, w, h, gray[(size_t)y * w + x]);
    dhash_bits(cells, hash);
}

static double srgb_to_linear(double v) { return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4); }

double fl_white_balance_rgb(const uint8_t *rgb, int w, int h) {
    double sum[3] = {0, 0, 0};
    size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) sum[k] += rgb[3 * i + k];
    double r = srgb_to_linear(sum[0] / n / 255.0), g = srgb_to_linear(sum[1] / n / 255.0), b = srgb_to_linear(sum[2] / n / 255.0);
    double X = 0.4124 * r + 0.3576 * g + 0.1805 * b, Y = 0.2126 * r + 0.7152 * g + 0.0722 * b, Z = 0.0193 * r + 0.1192 * g + 0.9505 * b;
    double s = X + Y + Z;
    if (s <= 0) return NAN; /* black: no colour to balance */
    double x = X / s, y = Y / s;
    double m = (x - 0.3320) / (0.1858 - y);
    double cct = 449.0 * m * m * m + 3525.0 * m * m + 6823.3 * m + 5520.33;
    /* McCamy's cubic is fitted for roughly 2000..12500 K and runs away outside it (strongly blue or magenta
     * casts): clamp to a range that still orders images sensibly. */
    return cct < 1000.0 ? 1000.0 : cct > 25000.0 ? 25000.0 : cct;
}

typedef enum { IMAGE_DHASH, IMAGE_BRIGHTNESS, IMAGE_WHITE_BALANCE } image_kind;

static int image_init(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err) {
    (void)def, (void)ctx;
    if (!(*state = tjInitDecompress())) return fl_error_set(err, FL_ENOMEM, "cannot start a JPEG decoder: %s", tjGetErrorStr2(NULL));
    return FL_OK;
}

static void image_fini(void *state) { tjDestroy(state); }

static int image_call(void *state, const fl_batch *in, fl_array *out, image_kind kind, fl_error *err) {
    const fl_array *images = &in->columns[0];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (fl_array_is_null(images, i)) {
            FL_RETURN_NOT_OK(fl_array_append_null(out));
            continue;
        }
        size_t size;
        const uint8_t *jpeg = fl_array_get_bytes(images, i, &size);
        uint8_t *rgb;
        int w, h;
        fl_error why = {0};
        /* dhash and brightness need only luma: the JPEG's Y channel, decoded without chroma upsampling or
         * colour conversion */
        int rc = kind == IMAGE_WHITE_BALANCE ? fl_decode_rgb_scaled(state, jpeg, size, 1, 1, &rgb, &w, &h, &why)
                                             : fl_decode_gray_scaled(state, jpeg, size, kind == IMAGE_DHASH ? 9 : 1, kind == IMAGE_DHASH ? 8 : 1, &rgb,
                                                                     &w, &h, &why);
        if (rc != FL_OK) return fl_error_set(err, rc, "row %lld: %s", (long long)i, why.message);
        if (kind == IMAGE_DHASH) {
            uint8_t hash[8];
            fl_dhash_gray(rgb, w, h, hash);
            for (int k = 0; k < 8 && rc == FL_OK; k++) rc = fl_array_append_uint(&out->children[0], hash[k]);
            if (rc == FL_OK) rc = fl_array_end_list(out);
        } else if (kind == IMAGE_BRIGHTNESS) {
            uint64_t sum = 0;
            for (size_t p = 0; p < (size_t)w * (size_t)h; p++) sum += rgb[p];
            rc = fl_array_append_float(out, (double)sum / ((double)w * h));
        } else {
            double cct = fl_white_balance_rgb(rgb, w, h);
            rc = isnan(cct) ? fl_array_append_null(out) : fl_array_append_float(out, cct);
        }
        fl_free(rgb);
        FL_RETURN_NOT_OK(rc);
    }
    return FL_OK;
}

static int call_dhash(void *state, const fl_batch *in, fl_array *out, fl_error *err) { return image_call(state, in, out, IMAGE_DHASH, err); }
static int call_brightness(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    return image_call(state, in, out, IMAGE_BRIGHTNESS, err);
}
static int call_white_balance(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    return image_call(state, in, out, IMAGE_WHITE_BALANCE, err);
}

/* ---- the registry ---- */

#define IMAGE_UDF .init = image_init, .fini = image_fini
static const fl_udf_def BUILTINS[] = {
    {.name = "has_person", .version = 1, .inputs = "ann_categories list<string>", .output_type = "bool",
     .description = "ann_categories holds 'pedestrian' or 'other person'", .call = call_has_person},
    {.name = "has_rider", .version = 1, .inputs = "ann_categories list<string>", .output_type = "bool",
     .description = "ann_categories holds 'rider'", .call = call_has_rider},
    {.name = "scene_description", .version = 1, .inputs = "timeofday string, weather string, scene string", .output_type = "string",
     .description = "\"{timeofday} {weather} scene on a {scene}\"; NULL when an attribute is NULL", .call = call_scene_description},
    {.name = "person_bbox_area_pct", .version = 1,
     .inputs = "ann_categories list<string>, ann_bboxes list<list<float32>>, width int32, height int32", .output_type = "float32",
     .description = "largest pedestrian/other person box area as % of the frame; 0 without a person", .call = call_person_bbox_area_pct},
    {.name = "white_balance", .version = 1, .inputs = "image_bytes binary", .output_type = "float32",
     .description = "gray-world colour temperature (K): mean RGB of the 1/8-scale decode -> linear sRGB -> XYZ -> McCamy CCT",
     .call = call_white_balance, IMAGE_UDF},
    {.name = "brightness", .version = 2, .inputs = "image_bytes binary", .output_type = "float32",
     .description = "mean luma (Y = 0.299R + 0.587G + 0.114B, the JPEG's own) of the 1/8-scale decode", .call = call_brightness, IMAGE_UDF},
    {.name = "dhash", .version = 2, .inputs = "image_bytes binary", .output_type = "fixed_size_list<uint8, 8>",
     .description = "64-bit difference hash: DCT-scaled luma decode, area resize to 9x8, bit = left > right, MSB first",
     .call = call_dhash, IMAGE_UDF},
};

#define N_BUILTINS (sizeof BUILTINS / sizeof *BUILTINS)

const fl_udf_def *const *fl_udf_builtins(size_t *n) {
    /* the table above, then the UDFs that read other rows (dedup.c) */
    static const fl_udf_def *list[N_BUILTINS + 2];
    for (size_t i = 0; i < N_BUILTINS; i++) list[i] = &BUILTINS[i];
    list[N_BUILTINS] = &fl_udf_is_duplicate;
    list[N_BUILTINS + 1] = &fl_udf_duplicate_of;
    *n = N_BUILTINS + 2;
    return list;
}

/* UDFs registered in-process (fl_udf_register). */
#define MAX_REGISTERED 64
static const fl_udf_def *registered[MAX_REGISTERED];
static size_t n_registered;

const fl_udf_def *fl_udf_find(const char *name) {
    size_t n;
    const fl_udf_def *const *all = fl_udf_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    for (size_t i = 0; i < n_registered; i++)
        if (!strcmp(registered[i]->name, name)) return registered[i];
    return NULL;
}

int fl_udf_register(const fl_udf_def *def) {
    if (!def || !def->name || !def->call || !def->inputs || !def->output_type) return FL_EINVAL;
    if (fl_udf_find(def->name)) return FL_EEXIST;
    if (n_registered == MAX_REGISTERED) return FL_ENOMEM;
    registered[n_registered++] = def;
    return FL_OK;
}

int fl_udf_apply(const fl_udf_def *def, void *state, const fl_batch *inputs, fl_array **out, fl_error *err) {
    *out = NULL;
    char *text = fl_sprintf("out %s", def->output_type);
    fl_schema *schema = NULL;
    int rc = text ? fl_schema_parse(text, &schema, err) : FL_ENOMEM;
    fl_free(text);
    if (rc != FL_OK) return rc == FL_ENOMEM ? fl_error_set(err, rc, "udf %s: out of memory", def->name) : rc;
    fl_array *a = fl_calloc(1, sizeof *a);
    if (!a || fl_array_init(a, &schema->fields[0]) != FL_OK) {
        fl_free(a);
        fl_schema_free(schema);
        return fl_error_set(err, FL_ENOMEM, "udf %s: out of memory", def->name);
    }
    fl_error why = {0};
    rc = def->call(state, inputs, a, &why);
    if (rc == FL_OK && a->length != inputs->num_rows)
        rc = fl_error_set(&why, FL_ETYPE, "returned %lld values for %lld rows", (long long)a->length, (long long)inputs->num_rows);
    if (rc == FL_OK) rc = fl_array_validate(a, &schema->fields[0], &why);
    fl_schema_free(schema);
    if (rc != FL_OK) {
        fl_array_clear(a);
        fl_free(a);
        return fl_error_set(err, rc, "udf %s: %s", def->name, why.message[0] ? why.message : fl_strerror(rc));
    }
    *out = a;
    return FL_OK;
}

void fl_udf_result_free(fl_array *result) {
    if (!result) return;
    fl_array_clear(result);
    fl_free(result);
}
