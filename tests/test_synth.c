/*
 * test_synth.c — the synthetic fleet-footage renderer: image ids and the clip scheme, option checks,
 * determinism across renderer objects and orders, clip coherence (same attributes, nearly the same pixels)
 * against clip-to-clip change, annotation truth (every sizeable unoccluded box covers pixels that differ from
 * the same frame rendered without objects), box and category validity, attribute proportions, odd sizes and
 * allocation failures.
 */
#include "testlib.h"

#include "common/common.h"
#include "ingest/synth.h"

#include <stdint.h>
#include <stdlib.h>
#include <turbojpeg.h>

/* ---- helpers ---- */

static fl_synth *make(uint64_t seed, int w, int h, int split) {
    fl_synth_options o = {.seed = seed, .width = w, .height = h, .split_mode = split};
    fl_synth *s = NULL;
    CHECK_OK(fl_synth_new(&o, &s, &tl_err));
    return s;
}

typedef struct rendered {
    uint8_t *jpeg;
    size_t size;
    fl_frame frame;
    const char *split;
} rendered;

static rendered render(fl_synth *s, uint64_t index) {
    rendered r = {0};
    const uint8_t *jpeg = NULL;
    CHECK_OK(fl_synth_render(s, index, &r.frame, &r.split, &jpeg, &r.size, &tl_err));
    r.jpeg = malloc(r.size ? r.size : 1);
    if (jpeg) memcpy(r.jpeg, jpeg, r.size);
    return r;
}

static void rendered_free(rendered *r) {
    free(r->jpeg);
    fl_frame_clear(&r->frame);
}

static bool same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static bool same_frame(const fl_frame *a, const fl_frame *b) {
    if (!same_str(a->name, b->name) || !same_str(a->weather, b->weather) || !same_str(a->scene, b->scene) ||
        !same_str(a->timeofday, b->timeofday) || a->timestamp != b->timestamp || a->n_labels != b->n_labels)
        return false;
    for (size_t i = 0; i < a->n_labels; i++) {
        const fl_label *x = &a->labels[i], *y = &b->labels[i];
        if (!same_str(x->category, y->category) || memcmp(x->box, y->box, sizeof x->box) != 0 ||
            x->occluded != y->occluded || x->truncated != y->truncated ||
            !same_str(x->traffic_light_color, y->traffic_light_color))
            return false;
    }
    return true;
}

/* Decodes a JPEG to RGB (malloc'd), checking its size. */
static uint8_t *decode(const uint8_t *jpeg, size_t size, int width, int height) {
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, sub = 0, cs = 0;
    uint8_t *out = malloc((size_t)width * height * 3);
    CHECK(tj && tjDecompressHeader3(tj, jpeg, size, &w, &h, &sub, &cs) == 0);
    CHECK_EQ_INT(w, width);
    CHECK_EQ_INT(h, height);
    CHECK(tjDecompress2(tj, jpeg, size, out, width, 0, height, TJPF_RGB, 0) == 0);
    tjDestroy(tj);
    return out;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += (uint64_t)abs((int)a[i] - (int)b[i]);
    return (double)sum / (double)n;
}

static const char *const DET20[] = {"pedestrian", "rider",   "car",           "truck",        "bus",
                                    "train",      "motorcycle", "bicycle", "traffic light", "traffic sign"};

static bool is_det20(const char *c) {
    for (size_t i = 0; i < sizeof DET20 / sizeof DET20[0]; i++)
        if (strcmp(c, DET20[i]) == 0) return true;
    return false;
}

/* ---- tests ---- */

static void test_image_id(void) {
    char buf[64];
    fl_synth_image_id(0x123456789abcdefull, 42, buf, sizeof buf);
    CHECK_EQ_STR(buf, "synth-89abcdef-0000042");
    fl_synth_image_id(7, 12345678, buf, sizeof buf);
    CHECK_EQ_STR(buf, "synth-00000007-12345678");
    fl_synth_image_id(7, 1, buf, 8);
    CHECK_EQ_STR(buf, "synth-0");
}

static void test_clips(void) {
    /* positions count up inside a clip of 3..8 frames; clips tile the index line without gaps */
    uint64_t prev_clip = 0;
    int prev_pos = -1, prev_len = 0;
    int lengths[9] = {0};
    for (uint64_t i = 0; i < 4000; i++) {
        uint64_t clip;
        int pos, len;
        fl_synth_clip_of(99, i, &clip, &pos, &len);
        CHECK(len >= 3 && len <= 8);
        CHECK(pos >= 0 && pos < len);
        if (i > 0 && clip == prev_clip) {
            CHECK_EQ_INT(pos, prev_pos + 1);
            CHECK_EQ_INT(len, prev_len);
        } else {
            CHECK_EQ_INT(pos, 0);
            if (i > 0) {
                CHECK(clip > prev_clip);
                CHECK_EQ_INT(prev_pos, prev_len - 1);
            }
            if (len >= 3 && len <= 8) lengths[len]++;
        }
        prev_clip = clip, prev_pos = pos, prev_len = len;
    }
    for (int l = 3; l <= 8; l++) CHECK(lengths[l] > 20); /* every length occurs */
    /* O(1) at the far end of the index space too */
    uint64_t clip;
    int pos, len;
    fl_synth_clip_of(5, UINT64_MAX, &clip, &pos, &len);
    CHECK(pos >= 0 && pos < len && pos == len - 1);
}

static void test_bad_options(void) {
    struct {
        fl_synth_options o;
        const char *word;
    } cases[] = {
        {{.width = 63}, "width 63"},      {{.width = 8193}, "width 8193"}, {{.width = -5}, "width -5"},
        {{.height = 10}, "height 10"},    {{.height = 9000}, "height 9000"}, {{.split_mode = 3}, "split mode 3"},
        {{.split_mode = -1}, "split mode -1"}, {{.quality = 101}, "quality 101"}, {{.quality = -2}, "quality -2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_synth *s = (fl_synth *)1;
        fl_error err = {0};
        CHECK_EQ_INT(fl_synth_new(&cases[i].o, &s, &err), FL_EINVAL);
        CHECK(s == NULL);
        CHECK_EQ_INT(err.code, FL_EINVAL);
        if (!strstr(err.message, cases[i].word)) fprintf(stderr, "  message '%s' lacks '%s'\n", err.message, cases[i].word);
        CHECK(strstr(err.message, cases[i].word) != NULL);
    }
    fl_synth *s = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(fl_synth_new(NULL, &s, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_synth_new(&(fl_synth_options){0}, NULL, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_synth_new(&(fl_synth_options){.width = 64, .height = 64}, &s, NULL), FL_OK); /* err may be NULL */
    fl_frame f = {0};
    const char *split;
    const uint8_t *jpeg;
    size_t size;
    CHECK_EQ_INT(fl_synth_render(s, 0, NULL, &split, &jpeg, &size, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_synth_render(NULL, 0, &f, &split, &jpeg, &size, &err), FL_EINVAL);
    fl_synth_free(s);
    fl_synth_free(NULL);
}

static void test_determinism(void) {
    enum { N = 24 };
    const uint64_t idx[N] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 100, 101, 5000, 77777, 1u << 20, 99999999};
    fl_synth *a = make(2024, 640, 360, FL_SYNTH_MIXED), *b = make(2024, 640, 360, FL_SYNTH_MIXED);
    rendered first[N];
    for (int i = 0; i < N; i++) first[i] = render(a, idx[i]);
    for (int i = N - 1; i >= 0; i--) { /* another object, reverse order */
        rendered r = render(b, idx[i]);
        CHECK(r.size == first[i].size && memcmp(r.jpeg, first[i].jpeg, r.size) == 0);
        CHECK(same_frame(&r.frame, &first[i].frame));
        CHECK_EQ_STR(r.split, first[i].split);
        rendered_free(&r);
    }
    for (int i = 0; i < N; i += 5) { /* the first object again, out of order */
        rendered r = render(a, idx[(i * 7) % N]);
        CHECK(r.size == first[(i * 7) % N].size && memcmp(r.jpeg, first[(i * 7) % N].jpeg, r.size) == 0);
        rendered_free(&r);
    }
    /* another seed: other pictures, other ids */
    fl_synth *c = make(2025, 640, 360, FL_SYNTH_MIXED);
    for (int i = 0; i < 4; i++) {
        rendered r = render(c, idx[i]);
        CHECK(r.size != first[i].size || memcmp(r.jpeg, first[i].jpeg, r.size) != 0);
        CHECK(!same_str(r.frame.name, first[i].frame.name));
        rendered_free(&r);
    }
    char id[64];
    fl_synth_image_id(2024, 5000, id, sizeof id);
    CHECK(strncmp(first[20].frame.name, id, strlen(id)) == 0 && strcmp(first[20].frame.name + strlen(id), ".jpg") == 0);
    for (int i = 0; i < N; i++) rendered_free(&first[i]);
    fl_synth_free(a);
    fl_synth_free(b);
    fl_synth_free(c);
}

static void test_clip_coherence(void) {
    const int W = 640, H = 360;
    fl_synth *s = make(11, W, H, FL_SYNTH_MIXED);
    double within = 0, between = 0;
    int n_within = 0, n_between = 0;
    uint8_t *prev = NULL, *clip_first = NULL, *last_clip_first = NULL;
    rendered prev_r = {0};
    uint64_t prev_clip = UINT64_MAX;
    for (uint64_t i = 0; i < 120; i++) {
        uint64_t clip;
        int pos;
        fl_synth_clip_of(11, i, &clip, &pos, NULL);
        rendered r = render(s, i);
        uint8_t *px = decode(r.jpeg, r.size, W, H);
        if (clip == prev_clip) {
            CHECK_EQ_STR(r.frame.weather, prev_r.frame.weather);
            CHECK_EQ_STR(r.frame.scene, prev_r.frame.scene);
            CHECK_EQ_STR(r.frame.timeofday, prev_r.frame.timeofday);
            CHECK_EQ_STR(r.split, prev_r.split);
            CHECK_EQ_INT(r.frame.timestamp, prev_r.frame.timestamp + 50);
            double d = mean_abs_diff(px, prev, (size_t)W * H * 3);
            within += d, n_within++;
            if (d >= 15.0) fprintf(stderr, "  frame %llu (%s, %s, %s): %.2f from the previous frame\n", (unsigned long long)i, r.frame.weather, r.frame.scene, r.frame.timeofday, d);
            CHECK(d < 15.0);
            free(prev);
        } else {
            free(prev);
            if (last_clip_first) {
                between += mean_abs_diff(px, last_clip_first, (size_t)W * H * 3), n_between++;
                free(last_clip_first);
            }
            last_clip_first = clip_first = malloc((size_t)W * H * 3);
            memcpy(clip_first, px, (size_t)W * H * 3);
        }
        prev = px;
        rendered_free(&prev_r);
        prev_r = r;
        prev_clip = clip;
    }
    within /= n_within, between /= n_between;
    printf("  mean abs pixel difference: %.2f between frames of a clip, %.2f between clips\n", within, between);
    CHECK(within < 5.0);
    CHECK(between > 4 * within);
    free(prev);
    free(last_clip_first);
    rendered_free(&prev_r);
    fl_synth_free(s);
}

/* Every label: valid category, box inside the frame; sizeable unoccluded, untruncated pedestrians and cars
 * cover pixels that differ from the frame rendered without objects. */
static void check_truth(uint64_t seed, int W, int H, int frames, int *checked) {
    fl_synth *s = make(seed, W, H, FL_SYNTH_MIXED);
    uint8_t *bg = malloc((size_t)W * H * 3);
    for (int i = 0; i < frames; i++) {
        const uint8_t *rgb;
        CHECK_OK(fl_synth_render_rgb(s, (uint64_t)i * 3, FL_SYNTH_NO_OBJECTS, NULL, &rgb, &tl_err));
        memcpy(bg, rgb, (size_t)W * H * 3);
        rendered r = render(s, (uint64_t)i * 3);
        uint8_t *px = decode(r.jpeg, r.size, W, H);
        for (size_t k = 0; k < r.frame.n_labels; k++) {
            const fl_label *l = &r.frame.labels[k];
            CHECK(is_det20(l->category));
            CHECK(l->box[0] >= 0 && l->box[1] >= 0 && l->box[2] <= (float)(W - 1) && l->box[3] <= (float)(H - 1));
            CHECK(l->box[0] <= l->box[2] && l->box[1] <= l->box[3]);
            CHECK(l->box[2] - l->box[0] >= 1 && l->box[3] - l->box[1] >= 1);
            bool light = strcmp(l->category, "traffic light") == 0;
            CHECK(light ? l->traffic_light_color != NULL : l->traffic_light_color == NULL);
            if (light)
                CHECK(same_str(l->traffic_light_color, "green") || same_str(l->traffic_light_color, "yellow") ||
                      same_str(l->traffic_light_color, "red"));
            if (l->occluded || l->truncated) continue;
            if (strcmp(l->category, "pedestrian") != 0 && strcmp(l->category, "car") != 0) continue;
            int x0 = (int)l->box[0], y0 = (int)l->box[1], x1 = (int)l->box[2], y1 = (int)l->box[3];
            if (y1 - y0 < 12 || x1 - x0 < 5) continue;
            uint64_t sum = 0;
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                    for (int ch = 0; ch < 3; ch++) {
                        size_t o = ((size_t)y * W + x) * 3 + ch;
                        sum += (uint64_t)abs((int)px[o] - (int)bg[o]);
                    }
            double mean = (double)sum / ((double)(x1 - x0 + 1) * (y1 - y0 + 1) * 3);
            if (mean < 6.0)
                fprintf(stderr, "  frame %d %s [%d %d %d %d]: mean diff %.2f\n", i * 3, l->category, x0, y0, x1, y1, mean);
            CHECK(mean >= 6.0);
            (*checked)++;
        }
        free(px);
        rendered_free(&r);
    }
    free(bg);
    fl_synth_free(s);
}

static void test_annotation_truth(void) {
    int checked = 0;
    check_truth(3, 640, 360, 60, &checked);
    check_truth(4, 641, 359, 30, &checked); /* odd sizes */
    printf("  %d boxes checked against the scene behind them\n", checked);
    CHECK(checked > 100);
}

static void test_background_render(void) {
    /* without objects there are no labels, and the scene matches the full render outside every box */
    fl_synth *s = make(5, 320, 180, FL_SYNTH_MIXED);
    fl_frame f = {0};
    const uint8_t *rgb;
    CHECK_OK(fl_synth_render_rgb(s, 9, FL_SYNTH_NO_OBJECTS, &f, &rgb, &tl_err));
    CHECK_EQ_INT(f.n_labels, 0);
    CHECK(f.weather && f.scene && f.timeofday && f.has_timestamp);
    fl_frame_clear(&f);
    fl_synth_free(s);
}

static void test_proportions(void) {
    /* attributes are per clip and do not depend on the frame size: count them on tiny frames */
    fl_synth *s = make(77, 64, 64, FL_SYNTH_MIXED);
    enum { N = 3000 };
    int clear = 0, overcast = 0, undef_w = 0, city = 0, highway = 0, residential = 0, day = 0, night = 0, dusk = 0;
    int train = 0, val = 0, test = 0;
    for (int i = 0; i < N; i++) {
        rendered r = render(s, (uint64_t)i);
        clear += same_str(r.frame.weather, "clear");
        overcast += same_str(r.frame.weather, "overcast");
        undef_w += same_str(r.frame.weather, "undefined");
        city += same_str(r.frame.scene, "city street");
        highway += same_str(r.frame.scene, "highway");
        residential += same_str(r.frame.scene, "residential");
        day += same_str(r.frame.timeofday, "daytime");
        night += same_str(r.frame.timeofday, "night");
        dusk += same_str(r.frame.timeofday, "dawn/dusk");
        train += same_str(r.split, "train");
        val += same_str(r.split, "val");
        test += same_str(r.split, "test");
        rendered_free(&r);
    }
    printf("  of %d frames: clear %d overcast %d undefined %d | city %d highway %d residential %d | day %d night %d "
           "dusk %d | train %d val %d test %d\n",
           N, clear, overcast, undef_w, city, highway, residential, day, night, dusk, train, val, test);
#define NEAR(count, share, tol) CHECK((count) > (int)(N * ((share) - (tol))) && (count) < (int)(N * ((share) + (tol))))
    NEAR(clear, 0.53, 0.07);
    NEAR(overcast, 0.125, 0.05);
    NEAR(undef_w, 0.116, 0.05);
    NEAR(city, 0.61, 0.07);
    NEAR(highway, 0.25, 0.06);
    NEAR(residential, 0.12, 0.05);
    NEAR(day, 0.53, 0.07);
    NEAR(night, 0.40, 0.07);
    NEAR(dusk, 0.07, 0.04);
    NEAR(train, 0.70, 0.07);
    NEAR(val, 0.20, 0.06);
    NEAR(test, 0.10, 0.05);
#undef NEAR
    fl_synth_free(s);

    /* fixed splits */
    s = make(77, 64, 64, FL_SYNTH_VAL);
    for (int i = 0; i < 50; i++) {
        rendered r = render(s, (uint64_t)i);
        CHECK_EQ_STR(r.split, "val");
        rendered_free(&r);
    }
    fl_synth_free(s);
    s = make(77, 64, 64, FL_SYNTH_TRAIN);
    rendered r = render(s, 3);
    CHECK_EQ_STR(r.split, "train");
    rendered_free(&r);
    fl_synth_free(s);
}

static void test_demo_mix(void) {
    /* what a 500-frame demo holds: riders, pedestrians, night, lights with colours, all categories */
    fl_synth *s = make(0, 1280, 720, FL_SYNTH_MIXED); /* seed 0: the CLI's default */
    int with_rider = 0, with_ped = 0, night = 0, lights = 0, occluded = 0, truncated = 0;
    bool seen[10] = {0};
    for (int i = 0; i < 500; i++) {
        rendered r = render(s, (uint64_t)i);
        bool rider = false, ped = false;
        for (size_t k = 0; k < r.frame.n_labels; k++) {
            const fl_label *l = &r.frame.labels[k];
            rider |= strcmp(l->category, "rider") == 0;
            ped |= strcmp(l->category, "pedestrian") == 0;
            lights += l->traffic_light_color != NULL;
            occluded += l->occluded;
            truncated += l->truncated;
            for (int c = 0; c < 10; c++) seen[c] |= strcmp(l->category, DET20[c]) == 0;
        }
        with_rider += rider, with_ped += ped;
        night += same_str(r.frame.timeofday, "night");
        rendered_free(&r);
    }
    printf("  of 500 frames: %d with a rider, %d with pedestrians, %d at night; %d lit traffic lights, %d occluded, %d "
           "truncated boxes\n",
           with_rider, with_ped, night, lights, occluded, truncated);
    CHECK(with_rider >= 75 && with_rider <= 175);
    CHECK(with_ped >= 250 && with_ped <= 380);
    CHECK(night >= 150 && night <= 250);
    CHECK(lights > 100 && occluded > 500 && truncated > 100);
    for (int c = 0; c < 10; c++)
        if (c != 5) CHECK(seen[c]); /* every det_20 category but train */
    fl_synth_free(s);
}

static void test_odd_sizes(void) {
    const int sizes[][2] = {{641, 359}, {64, 64}, {64, 900}, {2000, 64}, {333, 777}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int W = sizes[i][0], H = sizes[i][1];
        fl_synth *s = make(8, W, H, FL_SYNTH_MIXED);
        for (uint64_t k = 0; k < 20; k++) {
            rendered r = render(s, k * 37);
            uint8_t *px = decode(r.jpeg, r.size, W, H);
            for (size_t j = 0; j < r.frame.n_labels; j++) {
                const float *b = r.frame.labels[j].box;
                CHECK(b[0] >= 0 && b[1] >= 0 && b[2] <= (float)(W - 1) && b[3] <= (float)(H - 1) && b[0] <= b[2] && b[1] <= b[3]);
            }
            free(px);
            rendered_free(&r);
        }
        int32_t w, h;
        fl_synth_size(s, &w, &h);
        CHECK_EQ_INT(w, W);
        CHECK_EQ_INT(h, H);
        fl_synth_free(s);
    }
    fl_synth *s = make(8, 0, 0, FL_SYNTH_MIXED);
    int32_t w, h;
    fl_synth_size(s, &w, &h);
    CHECK_EQ_INT(w, 1280);
    CHECK_EQ_INT(h, 720);
    fl_synth_free(s);
}

static void test_oom(void) {
    /* every allocation of new and render can fail: FL_ENOMEM, nothing leaked (ASan), the frame left cleared */
    fl_synth_options o = {.seed = 3, .width = 320, .height = 180, .split_mode = FL_SYNTH_MIXED};
    int failures = 0;
    for (long n = 1; n < 200; n++) {
        fl_synth *s = NULL;
        fl_error err = {0};
        fl_alloc_fail_after(n);
        int rc = fl_synth_new(&o, &s, &err);
        if (rc == FL_OK) {
            fl_frame f = {0};
            const char *split;
            const uint8_t *jpeg;
            size_t size;
            for (uint64_t i = 0; i < 12 && rc == FL_OK; i++) rc = fl_synth_render(s, i, &f, &split, &jpeg, &size, &err);
            if (rc != FL_OK) CHECK(f.name == NULL && f.n_labels == 0);
            fl_frame_clear(&f);
            fl_synth_free(s);
        }
        fl_alloc_fail_after(0);
        if (rc == FL_OK) break;
        CHECK_EQ_INT(rc, FL_ENOMEM);
        CHECK(strstr(err.message, "out of memory") != NULL);
        failures++;
    }
    CHECK(failures > 10);
}

int main(void) {
    RUN(test_image_id);
    RUN(test_clips);
    RUN(test_bad_options);
    RUN(test_determinism);
    RUN(test_clip_coherence);
    RUN(test_annotation_truth);
    RUN(test_background_render);
    RUN(test_proportions);
    RUN(test_demo_mix);
    RUN(test_odd_sizes);
    RUN(test_oom);
    return tl_finish("synth");
}
