/*
 * synth.c — the synthetic fleet-footage renderer (see synth.h for the invariants, docs/SYNTHETIC.md for
 * what the pictures hold).
 *
 * How a frame is made:
 *  1. The clip of the index is found (fl_synth_clip_of) and its world generated from a generator keyed by
 *     (seed, clip): attributes, camera, road layout, buildings and a list of world objects with motion.
 *     The last clip is cached on the fl_synth; regenerating it gives the same world, so the cache only
 *     saves time.
 *  2. The camera advances by the frame's position in the clip; the scene behind everything (sky, ground,
 *     road markings, buildings) is painted row by row or as polygons.
 *  3. The world objects are sorted far to near and painted; each paints into its own slot of an object-id
 *     plane, so a nearer object that overwrites a farther one's pixel marks it occluded, and the visible
 *     box is read back from the plane at the end.
 *  4. Weather overlays and the ego car's hood go on top, then the pixels are JPEG-encoded.
 *
 * Colours: every surface colour passes through shade(): ambient light of the time of day and weather, the
 * ego headlights at night, then a blend toward the fog colour by distance (1 - exp(-z / fog_dist)).
 * Emissive things (lamps, lit windows, tail lights at night) skip the ambient term but still fade in fog.
 * Geometry uses floats per primitive or per row; the per-pixel loops are integer stores.
 */
#include "synth.h"

#include "../common/common.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <turbojpeg.h>

/* ---------------------------------------------------------------------------------------------------------
 * Randomness: splitmix64, keyed by (seed, purpose, number)
 * ------------------------------------------------------------------------------------------------------- */

enum { TAG_BLOCK = 1, TAG_ATTR, TAG_SPLIT, TAG_WORLD, TAG_FRAME, TAG_LOOK };

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t state;
} rng;

static rng rng_at(uint64_t seed, uint64_t tag, uint64_t n) { return (rng){mix64(mix64(mix64(seed) ^ tag) ^ n)}; }

static uint64_t rng_next(rng *r) {
    r->state += 0x9e3779b97f4a7c15ull;
    uint64_t z = r->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static float rng_f(rng *r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }
static float rng_range(rng *r, float lo, float hi) { return lo + (hi - lo) * rng_f(r); }
/* Uniform in [0, n). */
static int rng_int(rng *r, int n) { return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }
static bool rng_chance(rng *r, float p) { return rng_f(r) < p; }

static int pick_weighted(rng *r, const int *weights, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    int x = rng_int(r, total);
    for (int i = 0; i < n; i++) {
        if (x < weights[i]) return i;
        x -= weights[i];
    }
    return n - 1;
}

/* ---------------------------------------------------------------------------------------------------------
 * Attributes (BDD100K's value sets, weighted as its published label statistics)
 * ------------------------------------------------------------------------------------------------------- */

enum { W_CLEAR, W_PARTLY, W_OVERCAST, W_RAINY, W_SNOWY, W_FOGGY, W_UNDEF, W_COUNT };
enum { S_CITY, S_HIGHWAY, S_RESIDENTIAL, S_PARKING, S_TUNNEL, S_GAS, S_UNDEF, S_COUNT };
enum { T_DAY, T_NIGHT, T_DUSK, T_UNDEF, T_COUNT };

static const char *const WEATHER_NAME[W_COUNT] = {"clear", "partly cloudy", "overcast", "rainy",
                                                  "snowy", "foggy",         "undefined"};
static const int WEATHER_WEIGHT[W_COUNT] = {5300, 700, 1250, 730, 790, 20, 1160};   /* per 10000 */
static const char *const SCENE_NAME[S_COUNT] = {"city street", "highway", "residential", "parking lot",
                                                "tunnel",      "gas stations", "undefined"};
static const int SCENE_WEIGHT[S_COUNT] = {61000, 25000, 12000, 500, 200, 40, 600}; /* per 100000 */
static const char *const TOD_NAME[T_COUNT] = {"daytime", "night", "dawn/dusk", "undefined"};
static const int TOD_WEIGHT[T_COUNT] = {5300, 4000, 700, 30};                       /* per 10000 */
static const char *const SPLIT_NAME[3] = {"train", "val", "test"};

/* ---------------------------------------------------------------------------------------------------------
 * Clips
 * ------------------------------------------------------------------------------------------------------- */

#define CLIP_MIN 3
#define CLIP_MAX 8
#define CLIPS_PER_BLOCK 8                       /* clip ids: block * 8 + k; a block holds at most 5 clips */
#define FRAME_MS 50                             /* 20 frames per second */
#define EPOCH_MS 1483228800000ll                /* 2017-01-01T00:00:00Z */
#define EPOCH_SPAN_MS (2ll * 365 * 86400 * 1000)

void fl_synth_clip_of(uint64_t seed, uint64_t index, uint64_t *clip, int *position, int *length) {
    uint64_t block = index / FL_SYNTH_BLOCK;
    int pos = (int)(index % FL_SYNTH_BLOCK);
    rng r = rng_at(seed, TAG_BLOCK, block);
    int start = 0, remaining = FL_SYNTH_BLOCK;
    for (int k = 0;; k++) {
        int len = remaining;
        if (remaining > CLIP_MAX) {
            /* leave at least CLIP_MIN for the rest, so every clip is CLIP_MIN..CLIP_MAX long */
            int hi = remaining - CLIP_MIN < CLIP_MAX ? remaining - CLIP_MIN : CLIP_MAX;
            len = CLIP_MIN + rng_int(&r, hi - CLIP_MIN + 1);
        }
        if (pos < start + len || len == remaining) {
            if (clip) *clip = block * CLIPS_PER_BLOCK + (uint64_t)k;
            if (position) *position = pos - start;
            if (length) *length = len;
            return;
        }
        start += len;
        remaining -= len;
    }
}

void fl_synth_image_id(uint64_t seed, uint64_t index, char *buf, size_t size) {
    if (!buf || size == 0) return;
    snprintf(buf, size, "synth-%08x-%07llu", (unsigned)(seed & 0xffffffffu), (unsigned long long)index);
}

/* ---------------------------------------------------------------------------------------------------------
 * Colours
 * ------------------------------------------------------------------------------------------------------- */

#define RGB(r, g, b) ((((uint32_t)(r)) << 16) | (((uint32_t)(g)) << 8) | ((uint32_t)(b)))
#define CR(c) ((int)(((c) >> 16) & 255))
#define CG(c) ((int)(((c) >> 8) & 255))
#define CB(c) ((int)((c) & 255))

static int clamp255(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
/* a toward b by t/256 */
static uint32_t mix_rgb(uint32_t a, uint32_t b, int t) {
    return RGB((CR(a) * (256 - t) + CR(b) * t) >> 8, (CG(a) * (256 - t) + CG(b) * t) >> 8,
               (CB(a) * (256 - t) + CB(b) * t) >> 8);
}
static uint32_t scale_rgb(uint32_t c, int m) {
    return RGB(clamp255((CR(c) * m) >> 8), clamp255((CG(c) * m) >> 8), clamp255((CB(c) * m) >> 8));
}

static const uint32_t CAR_COLORS[] = {RGB(232, 232, 230), RGB(24, 24, 27),   RGB(168, 170, 175), RGB(105, 108, 112),
                                      RGB(160, 22, 24),   RGB(28, 58, 138),  RGB(24, 34, 66),    RGB(38, 84, 58),
                                      RGB(186, 172, 138), RGB(214, 176, 32), RGB(120, 20, 40),   RGB(70, 110, 150)};
static const int CAR_COLOR_WEIGHT[] = {24, 20, 17, 14, 8, 6, 4, 2, 2, 1, 1, 1};
static const uint32_t SKIN[] = {RGB(238, 200, 172), RGB(220, 172, 138), RGB(188, 138, 100), RGB(140, 96, 66),
                                RGB(96, 64, 44)};
static const uint32_t PANTS[] = {RGB(40, 56, 96), RGB(28, 28, 30), RGB(170, 150, 110), RGB(100, 100, 104),
                                 RGB(60, 44, 34), RGB(210, 210, 205)};
static const uint32_t HAIR[] = {RGB(20, 16, 14), RGB(70, 46, 28), RGB(150, 110, 60), RGB(190, 190, 185)};
static const uint32_t WALLS[] = {RGB(150, 74, 56),  RGB(176, 170, 158), RGB(120, 124, 130), RGB(200, 186, 160),
                                 RGB(92, 100, 118), RGB(160, 140, 120), RGB(210, 205, 196), RGB(110, 80, 70)};
static const uint32_t HOUSES[] = {RGB(222, 214, 196), RGB(186, 200, 214), RGB(214, 196, 160), RGB(170, 186, 160),
                                  RGB(236, 236, 232), RGB(190, 120, 96)};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Any colour: a random hue, saturation and value (clothing). */
static uint32_t random_color(rng *r) {
    if (rng_chance(r, 0.3f)) {
        int v = 20 + rng_int(r, 220);
        return RGB(v, v, v);
    }
    float h = rng_f(r) * 6.0f, sat = rng_range(r, 0.35f, 0.95f), val = rng_range(r, 0.3f, 0.95f);
    int i = (int)h;
    float f = h - (float)i, p = val * (1 - sat), q = val * (1 - sat * f), t = val * (1 - sat * (1 - f));
    float rr, gg, bb;
    switch (i) {
    case 0: rr = val, gg = t, bb = p; break;
    case 1: rr = q, gg = val, bb = p; break;
    case 2: rr = p, gg = val, bb = t; break;
    case 3: rr = p, gg = q, bb = val; break;
    case 4: rr = t, gg = p, bb = val; break;
    default: rr = val, gg = p, bb = q; break;
    }
    return RGB((int)(rr * 255), (int)(gg * 255), (int)(bb * 255));
}

/* ---------------------------------------------------------------------------------------------------------
 * The world of a clip
 * ------------------------------------------------------------------------------------------------------- */

enum {
    K_CAR, K_TRUCK, K_BUS, K_PED, K_BICYCLE, K_MOTORCYCLE, K_RIDER, K_LIGHT, K_SIGN, /* annotated */
    K_POLE, K_STREETLIGHT, K_TREE, K_PUMP, K_GANTRY, K_KINDS
};
static const char *const CATEGORY[K_KINDS] = {"car",   "truck",        "bus",          "pedestrian", "bicycle",
                                              "motorcycle", "rider", "traffic light", "traffic sign"};
static const char *const LIGHT_COLOR[3] = {"green", "yellow", "red"};

enum { SIGN_RECT, SIGN_STOP, SIGN_DIAMOND, SIGN_ROUND, SIGN_GUIDE, SIGN_SHAPES };

typedef struct wobj {
    uint8_t kind;
    uint8_t view;               /* vehicles: 0 rear, 1 front; people and bikes: 0 along the road, 1 side on;
                                   signs: SIGN_* */
    uint8_t layer;              /* drawing order inside its group */
    uint8_t state;              /* traffic lights: 0 green, 1 yellow, 2 red */
    bool annotated;             /* its group holds a labelled object (left out by FL_SYNTH_NO_OBJECTS) */
    uint16_t group;             /* objects of a group never occlude each other (rider and bike, pole and sign) */
    float x, z, y;              /* centre across the road, nearest depth, bottom above the ground (metres) */
    float w, h, len;            /* size (metres) */
    float arm;                  /* poles: horizontal arm toward +x (negative: toward -x) at the top; 0: none */
    float vx, vz;               /* motion over the ground, metres per frame */
    float phase;                /* walking or pedalling phase (radians) */
    uint32_t c0, c1, c2, c3;    /* colours, by kind */
} wobj;

typedef struct building {
    float xf;                   /* the facade facing the road is the plane x = xf */
    float depth;                /* extent away from the road */
    float z0, z1;               /* along the road */
    float h;                    /* wall height */
    uint32_t wall, glass, roof;
    bool house;                 /* gable roof, few windows, a door */
    uint8_t lit;                /* share of windows lit at night, of 256 */
    uint32_t key;               /* window lighting pattern */
} building;

typedef struct zone {
    float x;                    /* from this x (metres) to the next zone's */
    uint32_t color;
    bool road;                  /* asphalt (lit by the ego headlights) */
} zone;

typedef struct marking {
    float x, w;                 /* centre and width (metres) */
    uint32_t color;
    float period, dash, offset; /* dashed when period > 0: painted where (z + offset) mod period < dash */
} marking;

#define MAX_OBJ 420
#define MAX_BUILDINGS 80
#define MAX_ZONES 10
#define MAX_MARKINGS 14
#define MAX_CLOUDS 10
#define MAX_SKYLINE 24

typedef struct clip {
    uint64_t id;
    uint64_t key;               /* seeds per-clip hashes (windows, overlays) */
    int weather, scene, tod;    /* the labelled attributes */
    int look_weather, look_scene, look_tod; /* what is drawn (an undefined attribute still needs a look) */
    int split;
    int64_t t0;                 /* timestamp of the first frame (ms) */
    /* camera */
    float focal, hc, horizon, yaw, yaw_v, pitch_amp, pitch_phase, cam_v, cam_z0;
    bool hood;
    float hood_h;
    uint32_t hood_color;
    /* light */
    int amb[3];                 /* ambient, 256 = daylight */
    uint32_t fog;               /* what distance fades to */
    float fog_dist;
    int head;                   /* ego headlights (night): extra light near the car, of 256 */
    uint32_t sky_top, sky_horizon;
    int sky_fog;                /* sky blend toward the fog colour, of 256 */
    /* layout */
    float road_l, road_r;       /* road edges */
    int n_zones;
    zone zones[MAX_ZONES];
    int n_markings;
    marking markings[MAX_MARKINGS];
    bool cross;                 /* an intersection: a cross street from cross_z to cross_z + cross_w */
    float cross_z, cross_w;
    bool crosswalk;
    float tunnel_w, tunnel_h;   /* tunnel: walls at road_l / road_r, ceiling height */
    bool stalls;                /* parking lot: stall lines */
    float stall_z0;
    bool canopy;                /* gas station canopy */
    float canopy_x0, canopy_x1, canopy_z0, canopy_z1;
    int n_buildings;
    building b[MAX_BUILDINGS];
    int n_clouds;
    float clouds[MAX_CLOUDS][4];/* x (fraction of width), y (fraction of sky), rx, ry (fraction of width) */
    int n_skyline;
    float skyline[MAX_SKYLINE][3]; /* x0, x1 (metres at 400 m), height */
    bool hills;
    float hill[6];
    bool sun;
    float sun_x;
    /* objects */
    int n_obj;
    uint16_t groups;
    wobj obj[MAX_OBJ];
} clip;

typedef struct slot {
    int obj;                    /* world object, or -1 for the hood */
    uint16_t group;
    bool occluded;              /* a nearer object of another group overwrote one of its pixels */
    float gx0, gy0, gx1, gy1;   /* geometric extent of what was drawn, frame not applied (for truncation) */
    int x0, y0, x1, y1;         /* pixel extent drawn inside the frame (inclusive); x0 > x1 when none */
} slot;

typedef struct view {
    float f, cx, yh, hc;        /* focal length (px), principal column, horizon row, camera height (m) */
    float shift;                /* metres the camera moved since the clip's first frame (moves the world) */
    float dash;                 /* distance travelled (m), the phase of dashed markings */
    int t;                      /* position in the clip */
} view;

typedef struct draw_item {
    float z;
    uint16_t group;
    uint8_t layer;
    int obj;
    float x;                    /* position this frame */
} draw_item;

struct fl_synth {
    fl_synth_options o;         /* resolved: sizes and quality filled in */
    int W, H;
    uint8_t *rgb;               /* W * H * 3 */
    uint16_t *ids;              /* W * H: slot of the object each pixel shows, 0 = the scene */
    tjhandle tj;
    uint8_t *jpeg;              /* worst-case size, TJFLAG_NOREALLOC */
    unsigned long jpeg_cap;
    size_t jpeg_size;
    clip *c;                    /* the cached world */
    bool clip_valid;
    view v;
    uint16_t cur;               /* slot being painted, 0 = the scene */
    int n_slots;
    slot *slots;                /* MAX_OBJ + 2 */
    int *obj_slot;              /* world object -> its slot this frame (0: not drawn) */
    draw_item *items;           /* MAX_OBJ */
};

/* ---------------------------------------------------------------------------------------------------------
 * Shading
 * ------------------------------------------------------------------------------------------------------- */

static int fog_alpha(const clip *c, float z) {
    if (z <= 0) return 0;
    float a = 1.0f - expf(-z / c->fog_dist);
    return (int)(a * 256.0f);
}

/* The ego headlights: bright near and ahead, weaker to the sides. */
static int headlight(const clip *c, float x, float z) {
    if (!c->head || z > 45.0f || fabsf(x) > 8.0f) return 0;
    float side = fabsf(x) < 3.5f ? 1.0f : 0.35f, near = 1.0f - z / 45.0f;
    return (int)((float)c->head * near * near * side);
}

static uint32_t fogged(const clip *c, uint32_t col, float z) { return mix_rgb(col, c->fog, fog_alpha(c, z)); }

/* A lit surface at (x, z). */
static uint32_t shade(const clip *c, uint32_t col, float x, float z) {
    int hl = headlight(c, x, z);
    uint32_t lit = RGB(clamp255((CR(col) * (c->amb[0] + hl)) >> 8), clamp255((CG(col) * (c->amb[1] + hl)) >> 8),
                       clamp255((CB(col) * (c->amb[2] + hl)) >> 8));
    return fogged(c, lit, z);
}

/* A light source at depth z. */
static uint32_t emit(const clip *c, uint32_t col, float z) { return fogged(c, col, z); }

/* Retroreflective (signs): at night at least this bright. */
static uint32_t shade_reflective(const clip *c, uint32_t col, float x, float z) {
    if (c->look_tod != T_NIGHT) return shade(c, col, x, z);
    int hl = headlight(c, x, z) + 110;
    uint32_t lit = RGB(clamp255((CR(col) * hl) >> 8), clamp255((CG(col) * hl) >> 8), clamp255((CB(col) * hl) >> 8));
    return fogged(c, lit, z);
}

/* ---------------------------------------------------------------------------------------------------------
 * Primitives. Pixel (i, j) covers [i, i+1) x [j, j+1); a shape paints the pixels whose centre it covers.
 * ------------------------------------------------------------------------------------------------------- */

static int pxi(float v) {
    if (!(v > -1e6f)) v = -1e6f; /* also NaN */
    if (v > 1e6f) v = 1e6f;
    return (int)ceilf(v - 0.5f);
}

static void note_geom(fl_synth *s, float x0, float y0, float x1, float y1) {
    if (!s->cur) return;
    slot *sl = &s->slots[s->cur];
    if (x0 < sl->gx0) sl->gx0 = x0;
    if (y0 < sl->gy0) sl->gy0 = y0;
    if (x1 > sl->gx1) sl->gx1 = x1;
    if (y1 > sl->gy1) sl->gy1 = y1;
}

/* Paints [xa, xb) of row y (both already inside the frame, xa < xb). */
static void span(fl_synth *s, int y, int xa, int xb, uint32_t col) {
    uint8_t r = (uint8_t)CR(col), g = (uint8_t)CG(col), b = (uint8_t)CB(col);
    uint8_t *p = s->rgb + ((size_t)y * (size_t)s->W + (size_t)xa) * 3;
    if (!s->cur) {
        for (int x = xa; x < xb; x++, p += 3) p[0] = r, p[1] = g, p[2] = b;
        return;
    }
    uint16_t cur = s->cur;
    slot *sl = &s->slots[cur];
    if (xa < sl->x0) sl->x0 = xa;
    if (xb - 1 > sl->x1) sl->x1 = xb - 1;
    if (y < sl->y0) sl->y0 = y;
    if (y > sl->y1) sl->y1 = y;
    uint16_t *id = s->ids + (size_t)y * (size_t)s->W + (size_t)xa;
    for (int x = xa; x < xb; x++, p += 3, id++) {
        uint16_t o = *id;
        if (o != cur) {
            if (o && s->slots[o].group != sl->group) s->slots[o].occluded = true;
            *id = cur;
        }
        p[0] = r, p[1] = g, p[2] = b;
    }
}

/* Clips and paints [xa, xb) of row y. */
static void span_clip(fl_synth *s, int y, int xa, int xb, uint32_t col) {
    if (y < 0 || y >= s->H) return;
    if (xa < 0) xa = 0;
    if (xb > s->W) xb = s->W;
    if (xa < xb) span(s, y, xa, xb, col);
}

/* Blends col over [xa, xb) of row y by alpha/256 (overlays: never part of an object). */
static void blend_span(fl_synth *s, int y, int xa, int xb, uint32_t col, int alpha) {
    if (y < 0 || y >= s->H) return;
    if (xa < 0) xa = 0;
    if (xb > s->W) xb = s->W;
    if (xa >= xb) return;
    int r = CR(col) * alpha, g = CG(col) * alpha, b = CB(col) * alpha, inv = 256 - alpha;
    uint8_t *p = s->rgb + ((size_t)y * (size_t)s->W + (size_t)xa) * 3;
    for (int x = xa; x < xb; x++, p += 3) {
        p[0] = (uint8_t)((p[0] * inv + r) >> 8);
        p[1] = (uint8_t)((p[1] * inv + g) >> 8);
        p[2] = (uint8_t)((p[2] * inv + b) >> 8);
    }
}

static void fill_rect(fl_synth *s, float x0, float y0, float x1, float y1, uint32_t col) {
    if (x1 < x0) { float t = x0; x0 = x1; x1 = t; }
    if (y1 < y0) { float t = y0; y0 = y1; y1 = t; }
    int ia = pxi(x0), ib = pxi(x1), ja = pxi(y0), jb = pxi(y1);
    if (ia >= ib || ja >= jb) return;
    note_geom(s, x0, y0, x1, y1);
    if (ia < 0) ia = 0;
    if (ib > s->W) ib = s->W;
    if (ja < 0) ja = 0;
    if (jb > s->H) jb = s->H;
    if (ia >= ib) return;
    for (int y = ja; y < jb; y++) span(s, y, ia, ib, col);
}

/* A convex polygon of n (<= 8) vertices xy[2n], either winding. */
static void fill_poly(fl_synth *s, const float *xy, int n, uint32_t col) {
    float minx = xy[0], maxx = xy[0], miny = xy[1], maxy = xy[1];
    for (int i = 1; i < n; i++) {
        if (xy[2 * i] < minx) minx = xy[2 * i];
        if (xy[2 * i] > maxx) maxx = xy[2 * i];
        if (xy[2 * i + 1] < miny) miny = xy[2 * i + 1];
        if (xy[2 * i + 1] > maxy) maxy = xy[2 * i + 1];
    }
    if (!(maxx > -1e6f && minx < 1e6f && maxy > -1e6f && miny < 1e6f)) return;
    int ja = pxi(miny), jb = pxi(maxy);
    if (ja >= jb || pxi(minx) >= pxi(maxx)) return;
    note_geom(s, minx, miny, maxx, maxy);
    if (ja < 0) ja = 0;
    if (jb > s->H) jb = s->H;
    for (int y = ja; y < jb; y++) {
        float yc = (float)y + 0.5f, xl = 1e30f, xr = -1e30f;
        for (int i = 0; i < n; i++) {
            int j = i + 1 == n ? 0 : i + 1;
            float yi = xy[2 * i + 1], yj = xy[2 * j + 1];
            if ((yi <= yc && yj > yc) || (yj <= yc && yi > yc)) {
                float x = xy[2 * i] + (yc - yi) * (xy[2 * j] - xy[2 * i]) / (yj - yi);
                if (x < xl) xl = x;
                if (x > xr) xr = x;
            }
        }
        if (xl < xr) span_clip(s, y, pxi(xl), pxi(xr), col);
    }
}

static void fill_quad(fl_synth *s, float x0, float y0, float x1, float y1, float x2, float y2, float x3, float y3,
                      uint32_t col) {
    float xy[8] = {x0, y0, x1, y1, x2, y2, x3, y3};
    fill_poly(s, xy, 4, col);
}

/* A segment of width w (px). */
static void fill_line(fl_synth *s, float x0, float y0, float x1, float y1, float w, uint32_t col) {
    float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
    if (len < 1e-3f) {
        fill_rect(s, x0 - w / 2, y0 - w / 2, x0 + w / 2, y0 + w / 2, col);
        return;
    }
    float nx = -dy / len * w / 2, ny = dx / len * w / 2;
    fill_quad(s, x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny, col);
}

static void fill_ellipse(fl_synth *s, float cx, float cy, float rx, float ry, uint32_t col) {
    if (!(rx > 0.3f && ry > 0.3f)) return;
    int ja = pxi(cy - ry), jb = pxi(cy + ry);
    if (ja >= jb) return;
    note_geom(s, cx - rx, cy - ry, cx + rx, cy + ry);
    if (ja < 0) ja = 0;
    if (jb > s->H) jb = s->H;
    for (int y = ja; y < jb; y++) {
        float d = ((float)y + 0.5f - cy) / ry;
        if (d <= -1.0f || d >= 1.0f) continue;
        float hw = rx * sqrtf(1.0f - d * d);
        span_clip(s, y, pxi(cx - hw), pxi(cx + hw), col);
    }
}

/* An elliptical ring: outer radii rx, ry; thickness t (px). */
static void fill_ring(fl_synth *s, float cx, float cy, float rx, float ry, float t, uint32_t col) {
    if (!(rx > 0.3f && ry > 0.3f)) return;
    float irx = rx - t, iry = ry - t;
    if (irx < 0.5f || iry < 0.5f) {
        fill_ellipse(s, cx, cy, rx, ry, col);
        return;
    }
    int ja = pxi(cy - ry), jb = pxi(cy + ry);
    if (ja >= jb) return;
    note_geom(s, cx - rx, cy - ry, cx + rx, cy + ry);
    if (ja < 0) ja = 0;
    if (jb > s->H) jb = s->H;
    for (int y = ja; y < jb; y++) {
        float yc = (float)y + 0.5f - cy, d = yc / ry;
        if (d <= -1.0f || d >= 1.0f) continue;
        float ho = rx * sqrtf(1.0f - d * d), di = yc / iry;
        if (di <= -1.0f || di >= 1.0f) {
            span_clip(s, y, pxi(cx - ho), pxi(cx + ho), col);
        } else {
            float hi = irx * sqrtf(1.0f - di * di);
            span_clip(s, y, pxi(cx - ho), pxi(cx - hi), col);
            span_clip(s, y, pxi(cx + hi), pxi(cx + ho), col);
        }
    }
}

static void blend_ellipse(fl_synth *s, float cx, float cy, float rx, float ry, uint32_t col, int alpha) {
    if (!(rx > 0.3f && ry > 0.3f)) return;
    int ja = pxi(cy - ry), jb = pxi(cy + ry);
    if (ja < 0) ja = 0;
    if (jb > s->H) jb = s->H;
    for (int y = ja; y < jb; y++) {
        float d = ((float)y + 0.5f - cy) / ry;
        if (d <= -1.0f || d >= 1.0f) continue;
        float hw = rx * sqrtf(1.0f - d * d);
        blend_span(s, y, pxi(cx - hw), pxi(cx + hw), col, alpha);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Projection: camera at x = 0, height hc, looking down +z; the ground is y = 0.
 * ------------------------------------------------------------------------------------------------------- */

static float PX(const view *v, float x, float z) { return v->cx + v->f * x / z; }
static float PY(const view *v, float y, float z) { return v->yh + v->f * (v->hc - y) / z; }

/* A vertical wall piece in the plane x = x, from depth za (heights ya0..ya1) to zb (heights yb0..yb1). */
static void wall_quad(fl_synth *s, float x, float za, float ya0, float ya1, float zb, float yb0, float yb1,
                      uint32_t col) {
    const view *v = &s->v;
    if (za < 0.3f) za = 0.3f;
    if (zb < 0.3f) return;
    fill_quad(s, PX(v, x, za), PY(v, ya0, za), PX(v, x, za), PY(v, ya1, za), PX(v, x, zb), PY(v, yb1, zb),
              PX(v, x, zb), PY(v, yb0, zb), col);
}

/* A vertical rectangle facing the camera at depth z. */
static void face_rect(fl_synth *s, float x0, float x1, float y0, float y1, float z, uint32_t col) {
    const view *v = &s->v;
    fill_rect(s, PX(v, x0, z), PY(v, y1, z), PX(v, x1, z), PY(v, y0, z), col);
}

/* ---------------------------------------------------------------------------------------------------------
 * The scene behind the objects
 * ------------------------------------------------------------------------------------------------------- */

static void draw_sky(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    int rows = pxi(v->yh);
    if (rows > s->H) rows = s->H;
    for (int y = 0; y < rows; y++) {
        float t = v->yh > 1 ? ((float)y + 0.5f) / v->yh : 1;
        int ti = (int)(t * t * 256.0f);
        uint32_t col = mix_rgb(c->sky_top, c->sky_horizon, ti > 256 ? 256 : ti);
        if (c->sky_fog) col = mix_rgb(col, c->fog, c->sky_fog);
        span(s, y, 0, s->W, col);
    }
    if (c->sun) {
        float r = (float)s->H * 0.035f;
        fill_ellipse(s, c->sun_x * (float)s->W + (v->cx - (float)s->W / 2), v->yh - r * 1.6f, r, r,
                     mix_rgb(RGB(255, 214, 150), c->fog, c->sky_fog));
    }
    for (int i = 0; i < c->n_clouds; i++) {
        const float *k = c->clouds[i];
        float cx = k[0] * (float)s->W + (v->cx - (float)s->W / 2), cy = k[1] * v->yh, rx = k[2] * (float)s->W,
              ry = k[3] * (float)s->W;
        uint32_t white = scale_rgb(RGB(244, 244, 246), (c->amb[0] + c->amb[1] + c->amb[2]) / 3);
        if (c->look_tod == T_DUSK) white = mix_rgb(white, RGB(240, 160, 130), 90);
        uint32_t shadow = mix_rgb(white, c->sky_horizon, 110);
        fill_ellipse(s, cx, cy + ry * 0.25f, rx, ry * 0.75f, shadow);
        fill_ellipse(s, cx - rx * 0.35f, cy, rx * 0.55f, ry * 0.8f, white);
        fill_ellipse(s, cx + rx * 0.25f, cy - ry * 0.2f, rx * 0.5f, ry, white);
    }
}

static void draw_hills(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    uint32_t col = fogged(c, scale_rgb(RGB(70, 96, 64), c->amb[1]), 1200.0f);
    if (c->look_weather == W_SNOWY) col = fogged(c, scale_rgb(RGB(210, 214, 222), c->amb[1]), 1200.0f);
    float unit = (float)s->H * 0.01f;
    for (int x = 0; x < s->W; x++) {
        float u = ((float)x - v->cx) / (float)s->W;
        float hgt = c->hill[0] + c->hill[1] * sinf(u * c->hill[2] + c->hill[3]) + c->hill[4] * sinf(u * 13.0f + c->hill[5]);
        int top = pxi(v->yh - hgt * unit), bot = pxi(v->yh) + 1;
        if (top < 0) top = 0;
        if (bot > s->H) bot = s->H;
        if (top >= bot) continue;
        uint8_t *p = s->rgb + ((size_t)top * (size_t)s->W + (size_t)x) * 3;
        for (int y = top; y < bot; y++, p += (size_t)s->W * 3) p[0] = (uint8_t)CR(col), p[1] = (uint8_t)CG(col), p[2] = (uint8_t)CB(col);
    }
}

static void draw_skyline(fl_synth *s, const clip *c) {
    for (int i = 0; i < c->n_skyline; i++) {
        const float *b = c->skyline[i];
        uint32_t col = fogged(c, scale_rgb(RGB(100, 106, 120), (c->amb[0] + c->amb[2]) / 2), 700.0f);
        face_rect(s, b[0], b[1], 0, b[2], 600.0f, col);
    }
}

static void draw_ground(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    int y0 = pxi(v->yh);
    if (y0 < 0) y0 = 0;
    bool night = c->look_tod == T_NIGHT;
    float cross_z = c->cross_z - v->shift; /* the cross street is fixed in the world */
    uint32_t road = c->zones[0].color;
    for (int i = 0; i < c->n_zones; i++)
        if (c->zones[i].road) road = c->zones[i].color;
    for (int y = y0; y < s->H; y++) {
        float dy = (float)y + 0.5f - v->yh;
        if (dy < 0.05f) dy = 0.05f;
        float z = v->f * v->hc / dy, per_m = dy / v->hc; /* px per metre across the road on this row */
        int a = fog_alpha(c, z);
        bool crossing = c->cross && z >= cross_z && z <= cross_z + c->cross_w;
        if (crossing) {
            span(s, y, 0, s->W, shade(c, road, 20.0f, z));
        } else {
            int xa = 0;
            for (int i = 0; i < c->n_zones; i++) {
                int xb = i + 1 < c->n_zones ? pxi(v->cx + c->zones[i + 1].x * per_m) : s->W;
                if (xb > s->W) xb = s->W;
                if (xb > xa) {
                    uint32_t col = RGB(clamp255((CR(c->zones[i].color) * c->amb[0]) >> 8),
                                       clamp255((CG(c->zones[i].color) * c->amb[1]) >> 8),
                                       clamp255((CB(c->zones[i].color) * c->amb[2]) >> 8));
                    span(s, y, xa, xb, mix_rgb(col, c->fog, a));
                    xa = xb;
                }
            }
        }
        if (night && z < 45.0f) { /* the pool of the ego headlights */
            float half = 2.4f + z * 0.05f;
            span_clip(s, y, pxi(v->cx - half * per_m), pxi(v->cx + half * per_m), shade(c, road, 0, z));
        }
        if (crossing) continue;
        for (int i = 0; i < c->n_markings; i++) {
            const marking *m = &c->markings[i];
            if (m->period > 0 && fmodf(z + v->dash + m->offset, m->period) >= m->dash) continue;
            float half = m->w * per_m * 0.5f;
            if (half < 0.3f) continue;
            span_clip(s, y, pxi(v->cx + m->x * per_m - half), pxi(v->cx + m->x * per_m + half), shade(c, m->color, m->x, z));
        }
        if (c->crosswalk && z >= cross_z - 4.5f && z < cross_z - 0.8f) {
            uint32_t col = shade(c, RGB(215, 215, 210), 0, z);
            for (float x = c->road_l + 0.4f; x + 0.55f < c->road_r; x += 1.2f)
                span_clip(s, y, pxi(v->cx + x * per_m), pxi(v->cx + (x + 0.6f) * per_m), col);
        }
    }
}

static void draw_tunnel(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    uint32_t ceiling = RGB(70, 66, 58), wall = RGB(150, 140, 112), road = RGB(80, 78, 74), stripe = RGB(60, 58, 52);
    int rows = pxi(v->yh);
    if (rows > s->H) rows = s->H;
    for (int y = 0; y < rows; y++) {
        float dy = v->yh - ((float)y + 0.5f);
        float z = v->f * (c->tunnel_h - v->hc) / (dy > 0.05f ? dy : 0.05f);
        span(s, y, 0, s->W, shade(c, ceiling, 0, z));
    }
    for (int y = rows < 0 ? 0 : rows; y < s->H; y++) {
        float dy = (float)y + 0.5f - v->yh;
        float z = v->f * v->hc / (dy > 0.05f ? dy : 0.05f), per_m = dy / v->hc;
        span(s, y, 0, s->W, shade(c, road, 0, z));
        for (int i = 0; i < c->n_markings; i++) {
            const marking *m = &c->markings[i];
            if (m->period > 0 && fmodf(z + v->dash + m->offset, m->period) >= m->dash) continue;
            float half = m->w * per_m * 0.5f;
            if (half < 0.3f) continue;
            span_clip(s, y, pxi(v->cx + m->x * per_m - half), pxi(v->cx + m->x * per_m + half), shade(c, m->color, m->x, z));
        }
    }
    /* walls, column by column: depth from the column */
    for (int x = 0; x < s->W; x++) {
        float u = (float)x + 0.5f - v->cx;
        float wx = u < 0 ? c->road_l : c->road_r;
        if (fabsf(u) < 0.5f || (u < 0) != (wx < 0)) continue;
        float z = v->f * wx / u;
        if (z < 0.3f) z = 0.3f;
        int top = pxi(PY(v, c->tunnel_h, z)), bot = pxi(PY(v, 0, z));
        if (top < 0) top = 0;
        if (bot > s->H) bot = s->H;
        uint32_t col = shade(c, fmodf(z + v->dash, 8.0f) < 0.6f ? stripe : wall, wx, z);
        uint32_t low = shade(c, RGB(60, 60, 60), wx, z);
        int mid = pxi(PY(v, 1.0f, z));
        if (top >= bot) continue;
        uint8_t *p = s->rgb + ((size_t)top * (size_t)s->W + (size_t)x) * 3;
        for (int y = top; y < bot; y++, p += (size_t)s->W * 3) {
            uint32_t k = y >= mid ? low : col;
            p[0] = (uint8_t)CR(k), p[1] = (uint8_t)CG(k), p[2] = (uint8_t)CB(k);
        }
    }
    /* the exit, and lamps along the ceiling */
    float ze = 420.0f;
    uint32_t exit_col = c->look_tod == T_NIGHT ? RGB(10, 12, 20) : c->look_tod == T_DUSK ? RGB(240, 170, 120) : RGB(235, 240, 245);
    face_rect(s, c->road_l, c->road_r, 0, c->tunnel_h, ze, exit_col);
    uint32_t lamp = RGB(255, 200, 120);
    for (float z = 8.0f - fmodf(v->dash, 8.0f); z < 300.0f; z += 8.0f) {
        if (z < 1.0f) continue;
        for (int side = -1; side <= 1; side += 2) {
            float x = side * 1.2f;
            fill_quad(s, PX(v, x - 0.15f, z), PY(v, c->tunnel_h, z), PX(v, x + 0.15f, z), PY(v, c->tunnel_h, z),
                      PX(v, x + 0.15f, z + 2.5f), PY(v, c->tunnel_h, z + 2.5f), PX(v, x - 0.15f, z + 2.5f),
                      PY(v, c->tunnel_h, z + 2.5f), emit(c, lamp, z));
        }
    }
}

static bool window_lit(uint32_t key, int i, int j, int share) {
    return (int)(mix64(((uint64_t)key << 20) ^ ((uint64_t)i << 10) ^ (uint64_t)j) & 255) < share;
}

static void draw_building(fl_synth *s, const clip *c, const building *b) {
    const view *v = &s->v;
    float z0 = b->z0 - v->shift, z1 = b->z1 - v->shift, side = b->xf < 0 ? -1.0f : 1.0f;
    if (z1 < 0.5f) return;
    float zn = z0 < 0.5f ? 0.5f : z0;
    float xa = PX(v, b->xf, zn), xb = PX(v, b->xf, z1);
    if ((xa < 0 && xb < 0 && side < 0) || (xa > (float)s->W && xb > (float)s->W && side > 0)) return;
    bool night = c->look_tod == T_NIGHT;
    float zm = (zn + z1) / 2;
    uint32_t wall = shade(c, b->wall, b->xf, zm), front = shade(c, scale_rgb(b->wall, 215), b->xf, zn);
    float hr = b->h + 2.6f, xr = b->xf + side * b->depth / 2, xo = b->xf + side * b->depth;
    wall_quad(s, b->xf, zn, 0, b->h, z1, 0, b->h, wall);
    if (z0 >= 0.5f) {
        face_rect(s, side < 0 ? xo : b->xf, side < 0 ? b->xf : xo, 0, b->h, z0, front);
        if (b->house) {
            float gable[10] = {PX(v, b->xf, z0), PY(v, b->h, z0), PX(v, xr, z0), PY(v, hr, z0), PX(v, xo, z0), PY(v, b->h, z0)};
            fill_poly(s, gable, 3, front);
        }
    }
    if (b->house) {
        wall_quad(s, b->xf, zn, b->h, b->h, z1, b->h, b->h, wall); /* eave line */
        float xy[8] = {PX(v, b->xf, zn), PY(v, b->h, zn), PX(v, xr, zn), PY(v, hr, zn), PX(v, xr, z1), PY(v, hr, z1),
                       PX(v, b->xf, z1), PY(v, b->h, z1)};
        fill_poly(s, xy, 4, shade(c, b->roof, b->xf, zm));
    }
    /* windows on the facade: floors of 3.2 m, bays of 3 m (houses: 2 wide windows per floor and a door) */
    int floors = b->house ? (b->h > 5.5f ? 2 : 1) : (int)(b->h / 3.2f);
    float bay = b->house ? 4.5f : 3.0f;
    uint32_t dark = shade(c, RGB(24, 26, 30), b->xf, zm);
    for (int j = 0;; j++) {
        float za = z0 + 1.0f + (float)j * bay, zb = za + (b->house ? 2.0f : 1.7f);
        if (zb > z1 - 0.6f) break;
        if (za < 0.6f) continue;
        if (1.6f * v->f / za < 1.3f) break;           /* too small to see; farther ones too */
        float pa = PX(v, b->xf, za), pb = PX(v, b->xf, zb);
        if ((pa < 0 && pb < 0) || (pa > (float)s->W && pb > (float)s->W)) continue;
        for (int i = 0; i < floors; i++) {
            float ya = b->house ? 0.9f + (float)i * 2.8f : (i == 0 ? 0.4f : (float)i * 3.2f + 1.0f);
            float yb = ya + (b->house ? 1.3f : i == 0 ? 2.3f : 1.6f);
            uint32_t col;
            if (night) col = window_lit(b->key, i, j, b->lit) ? emit(c, RGB(255, 206, 128), za) : dark;
            else col = shade(c, b->glass, b->xf, za);
            wall_quad(s, b->xf, za, ya, yb, zb, ya, yb, col);
        }
        if (b->house && j == 1) wall_quad(s, b->xf, za + 2.6f, 0, 2.1f, za + 3.6f, 0, 2.1f, shade(c, RGB(90, 60, 40), b->xf, za));
    }
    /* windows on the front face */
    if (z0 >= 0.5f && !b->house && 1.6f * v->f / z0 >= 1.3f) {
        for (int j = 0; 1.0f + (float)j * 3.0f + 1.7f < b->depth; j++) {
            float xa0 = b->xf + side * (1.0f + (float)j * 3.0f), xa1 = xa0 + side * 1.7f;
            for (int i = 1; i < floors; i++) {
                float ya = (float)i * 3.2f + 1.0f;
                uint32_t col = night ? (window_lit(b->key + 7, i, j, b->lit) ? emit(c, RGB(255, 214, 140), z0) : dark)
                                     : shade(c, scale_rgb(b->glass, 220), b->xf, z0);
                face_rect(s, side < 0 ? xa1 : xa0, side < 0 ? xa0 : xa1, ya, ya + 1.6f, z0, col);
            }
        }
    }
}

static void draw_canopy(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    float z0 = c->canopy_z0 - v->shift, z1 = c->canopy_z1 - v->shift;
    if (z1 < 1.0f) return;
    if (z0 < 0.5f) z0 = 0.5f;
    float x0 = c->canopy_x0, x1 = c->canopy_x1;
    uint32_t under = c->look_tod == T_NIGHT ? emit(c, RGB(230, 232, 236), z0) : shade(c, RGB(200, 200, 204), x0, z0);
    fill_quad(s, PX(v, x0, z0), PY(v, 4.4f, z0), PX(v, x1, z0), PY(v, 4.4f, z0), PX(v, x1, z1), PY(v, 4.4f, z1),
              PX(v, x0, z1), PY(v, 4.4f, z1), under);
    wall_quad(s, x0, z0, 4.4f, 5.3f, z1, 4.4f, 5.3f, shade(c, RGB(230, 230, 230), x0, z0));
    face_rect(s, x0, x1, 4.4f, 5.3f, z0, shade(c, RGB(236, 236, 236), x0, z0));
    face_rect(s, x0, x1, 4.6f, 4.9f, z0, shade(c, RGB(200, 30, 30), x0, z0));
}

static void draw_stalls(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    uint32_t paint = RGB(220, 220, 210);
    for (int row = 0; row < 14; row++) {
        float za = c->stall_z0 + (float)row * 12.0f - v->shift, zb = za + 5.2f;
        if (zb < 1.0f) continue;
        if (za < 1.0f) za = 1.0f;
        uint32_t col = shade(c, paint, 0, za);
        if (za > 150.0f) break;
        for (int i = -12; i <= 12; i++) {
            float x = (float)i * 2.7f + 1.35f;
            if (fabsf(x) < 4.0f) continue;          /* the aisle */
            fill_quad(s, PX(v, x - 0.06f, za), PY(v, 0, za), PX(v, x + 0.06f, za), PY(v, 0, za), PX(v, x + 0.06f, zb),
                      PY(v, 0, zb), PX(v, x - 0.06f, zb), PY(v, 0, zb), col);
        }
    }
}

static void draw_glows(fl_synth *s, const clip *c) {
    const view *v = &s->v;
    for (int i = 0; i < c->n_obj; i++) {
        const wobj *o = &c->obj[i];
        if (o->kind != K_STREETLIGHT) continue;
        float z = o->z - v->shift;
        if (z < 2.0f) continue;
        float x = o->x + o->arm, k = v->f / z, r = 4.5f;
        blend_ellipse(s, PX(v, x, z), PY(v, 0, z), r * k, r * k * v->hc / z, emit(c, RGB(255, 190, 110), z), 48);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------------------- */

static void draw_vehicle(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float w = o->w, h = o->h, L = o->len;
    bool night = c->look_tod == T_NIGHT, front = o->view == 1;
    uint32_t body = shade(c, o->c0, X, Z), side_col = shade(c, scale_rgb(o->c0, 175), X, Z + L / 2);
    uint32_t glass = shade(c, RGB(34, 40, 50), X, Z), black = shade(c, RGB(16, 16, 18), X, Z);
    uint32_t trim = shade(c, RGB(60, 62, 66), X, Z);
    /* the side facing the middle of the road */
    if (fabsf(X) > w / 2 + 0.25f) {
        float xs = X > 0 ? X - w / 2 : X + w / 2, zr = Z + L;
        if (o->kind == K_CAR) {
            wall_quad(s, xs, Z, 0.18f * h, 0.6f * h, zr, 0.18f * h, 0.6f * h, side_col);
            wall_quad(s, xs, Z + 0.22f * L, 0.6f * h, 0.6f * h, Z + 0.82f * L, 0.6f * h, 0.6f * h, side_col);
            float xy[8] = {PX(v, xs, Z + 0.2f * L), PY(v, 0.6f * h, Z + 0.2f * L), PX(v, xs, Z + 0.36f * L),
                           PY(v, 0.97f * h, Z + 0.36f * L), PX(v, xs, Z + 0.74f * L), PY(v, 0.97f * h, Z + 0.74f * L),
                           PX(v, xs, Z + 0.84f * L), PY(v, 0.6f * h, Z + 0.84f * L)};
            fill_poly(s, xy, 4, glass);
        } else {
            float low = o->kind == K_TRUCK ? 0.3f : 0.1f;
            wall_quad(s, xs, Z, low * h, h, zr, low * h, h, side_col);
            if (o->kind == K_BUS) {
                for (float zw = Z + 1.0f; zw + 1.2f < zr - 0.5f; zw += 1.6f)
                    wall_quad(s, xs, zw, 0.55f * h, 0.86f * h, zw + 1.3f, 0.55f * h, 0.86f * h, glass);
            } else {
                wall_quad(s, xs, Z, 0.3f * h, 0.36f * h, zr, 0.3f * h, 0.36f * h, trim);
            }
        }
        for (int k = 0; k < (o->kind == K_CAR ? 2 : 3); k++) {
            float zw = Z + L * (o->kind == K_CAR ? (k == 0 ? 0.17f : 0.8f) : (k == 0 ? 0.15f : k == 1 ? 0.7f : 0.82f));
            float r = o->kind == K_CAR ? 0.33f : 0.5f, ry = r * v->f / zw;
            fill_ellipse(s, PX(v, xs, zw), PY(v, r, zw), ry * fabsf(xs) / sqrtf(xs * xs + zw * zw), ry, black); /* foreshortened */
        }
    }
    /* the face toward the camera */
    float xl = PX(v, X - w / 2, Z), xr = PX(v, X + w / 2, Z), ww = xr - xl;
#define FX(fr) (xl + ww * (fr))
#define FY(fr) PY(v, (fr) * h, Z)
    uint32_t lamp = front ? (night ? emit(c, RGB(255, 252, 230), Z) : shade(c, RGB(225, 225, 215), X, Z))
                          : (night ? emit(c, RGB(255, 40, 30), Z) : shade(c, RGB(175, 22, 20), X, Z));
    if (o->kind == K_CAR) {
        fill_rect(s, FX(0.05f), FY(0.2f), FX(0.2f), FY(0.0f), black);
        fill_rect(s, FX(0.8f), FY(0.2f), FX(0.95f), FY(0.0f), black);
        float cab[8] = {FX(0.16f), FY(1.0f), FX(0.84f), FY(1.0f), FX(0.95f), FY(0.58f), FX(0.05f), FY(0.58f)};
        fill_poly(s, cab, 4, body);
        float win[8] = {FX(0.2f), FY(0.93f), FX(0.8f), FY(0.93f), FX(0.88f), FY(0.63f), FX(0.12f), FY(0.63f)};
        fill_poly(s, win, 4, glass);
        fill_rect(s, FX(0.0f), FY(0.6f), FX(1.0f), FY(0.2f), body);
        fill_rect(s, FX(0.02f), FY(0.3f), FX(0.98f), FY(0.17f), trim);
        fill_rect(s, FX(0.03f), FY(0.52f), FX(0.2f), FY(0.41f), lamp);
        fill_rect(s, FX(0.8f), FY(0.52f), FX(0.97f), FY(0.41f), lamp);
        if (front) fill_rect(s, FX(0.3f), FY(0.5f), FX(0.7f), FY(0.36f), trim);
        fill_rect(s, FX(0.4f), FY(0.36f), FX(0.6f), FY(0.26f), shade(c, RGB(230, 230, 225), X, Z));
    } else if (o->kind == K_TRUCK) {
        fill_rect(s, FX(0.04f), FY(0.22f), FX(0.26f), FY(0.0f), black);
        fill_rect(s, FX(0.74f), FY(0.22f), FX(0.96f), FY(0.0f), black);
        fill_rect(s, FX(0.0f), FY(1.0f), FX(1.0f), FY(0.26f), body);
        if (front) {
            fill_rect(s, FX(0.06f), FY(0.9f), FX(0.94f), FY(0.62f), glass);
            fill_rect(s, FX(0.25f), FY(0.5f), FX(0.75f), FY(0.3f), trim);
        } else {
            fill_rect(s, FX(0.495f), FY(0.97f), FX(0.505f), FY(0.28f), trim);
            fill_rect(s, FX(0.03f), FY(0.97f), FX(0.97f), FY(0.95f), trim);
        }
        fill_rect(s, FX(0.0f), FY(0.26f), FX(1.0f), FY(0.2f), trim);
        fill_rect(s, FX(0.04f), FY(0.34f), FX(0.14f), FY(0.28f), lamp);
        fill_rect(s, FX(0.86f), FY(0.34f), FX(0.96f), FY(0.28f), lamp);
    } else { /* bus */
        fill_rect(s, FX(0.05f), FY(0.12f), FX(0.22f), FY(0.0f), black);
        fill_rect(s, FX(0.78f), FY(0.12f), FX(0.95f), FY(0.0f), black);
        fill_rect(s, FX(0.0f), FY(1.0f), FX(1.0f), FY(0.1f), body);
        if (front) fill_rect(s, FX(0.04f), FY(0.92f), FX(0.96f), FY(0.45f), glass);
        else fill_rect(s, FX(0.08f), FY(0.9f), FX(0.92f), FY(0.65f), glass);
        fill_rect(s, FX(0.1f), FY(0.96f), FX(0.9f), FY(0.92f), shade(c, night ? RGB(255, 160, 40) : RGB(40, 40, 40), X, Z));
        fill_rect(s, FX(0.04f), FY(0.3f), FX(0.16f), FY(0.2f), lamp);
        fill_rect(s, FX(0.84f), FY(0.3f), FX(0.96f), FY(0.2f), lamp);
        fill_rect(s, FX(0.0f), FY(0.14f), FX(1.0f), FY(0.1f), trim);
    }
#undef FX
#undef FY
}

/* A person standing on the ground at (X, Z) or seated with the hips at hip_y (metres; 0: standing). The
 * figure is h metres tall when standing. */
static void draw_person(fl_synth *s, const clip *c, const wobj *o, float X, float Z, float hip_y, float reach_x,
                        float reach_y, bool riding) {
    const view *v = &s->v;
    float h = o->h, k = v->f / Z, ph = o->phase + 0.3f * (float)v->t;
    bool side = o->view == 1;
    float dir = o->vx < 0 ? -1.0f : 1.0f;
    uint32_t skin = shade(c, o->c0, X, Z), shirt = shade(c, o->c1, X, Z), pants = shade(c, o->c2, X, Z),
             hair = shade(c, o->c3, X, Z), shoe = shade(c, RGB(30, 28, 26), X, Z);
    float base = riding ? hip_y - 0.5f * h : 0.0f; /* where the feet would be standing */
    float cx = PX(v, X, Z);
#define SY(m) PY(v, base + (m), Z)
    float hip = 0.5f * h, shoulder = 0.81f * h, lean = riding ? 0.1f * h * (side ? dir : 0) : 0;
    float torso_w = side ? 0.075f * h : 0.12f * h;
    float limb = 0.075f * h * k, arm = 0.055f * h * k;
    /* legs */
    float stride = riding ? 0 : side ? 0.16f * h * sinf(ph) : 0.03f * h * sinf(ph);
    for (int i = -1; i <= 1; i += 2) {
        float hx = side ? 0 : (float)i * 0.055f * h, fx, fy;
        if (riding) { /* feet on the pedals */
            float a = ph + (float)(i + 1) * 1.5708f;
            fx = (side ? dir * 0.05f * h + 0.1f * h * cosf(a) : (float)i * 0.09f * h);
            fy = hip_y - base - 0.38f * h + 0.1f * h * sinf(a);
            if (!side) fy = hip_y - base - 0.42f * h + 0.08f * h * sinf(a);
        } else {
            fx = side ? (float)i * stride : hx + (float)i * 0.01f * h;
            fy = side ? 0.03f * h : 0.03f * h + (i > 0 ? 1.0f : -1.0f) * (stride > 0 ? stride : -stride) * 0.3f;
        }
        float hy = riding ? hip_y - base : hip;
        fill_line(s, cx + hx * k, SY(hy), cx + fx * k, SY(fy), limb, pants);
        fill_rect(s, cx + (fx - 0.045f * h) * k + (side ? dir * 0.03f * h * k : 0), SY(fy + 0.02f * h),
                  cx + (fx + 0.045f * h) * k + (side ? dir * 0.03f * h * k : 0), SY(fy - 0.03f * h), shoe);
    }
    /* torso */
    float hy = riding ? hip_y - base : hip;
    fill_quad(s, cx + (lean - torso_w) * k, SY(shoulder), cx + (lean + torso_w) * k, SY(shoulder),
              cx + torso_w * 0.9f * k, SY(hy), cx - torso_w * 0.9f * k, SY(hy), shirt);
    /* arms */
    for (int i = -1; i <= 1; i += 2) {
        float sx = side ? lean : lean + (float)i * 0.11f * h, hx, hyy;
        if (riding) {
            hx = side ? reach_x : (float)i * reach_x;
            hyy = reach_y - base;
        } else if (side) {
            hx = -(float)i * stride * 0.6f;
            hyy = 0.48f * h;
        } else {
            hx = (float)i * 0.15f * h;
            hyy = 0.47f * h;
        }
        fill_line(s, cx + sx * k, SY(shoulder - 0.03f * h), cx + hx * k, SY(hyy), arm, shirt);
        fill_ellipse(s, cx + hx * k, SY(hyy), arm * 0.6f, arm * 0.6f, skin);
    }
    /* head */
    float hcx = cx + (lean + (side ? dir * 0.02f * h : 0)) * k, hcy = SY(0.925f * h);
    fill_ellipse(s, hcx, hcy, 0.056f * h * k, 0.068f * h * k, skin);
    if (o->kind == K_RIDER && o->state == 1) /* helmet */
        fill_ellipse(s, hcx, hcy - 0.015f * h * k, 0.066f * h * k, 0.066f * h * k, shade(c, o->c3, X, Z));
    else
        fill_ellipse(s, hcx - (side ? dir * 0.012f * h * k : 0), SY(0.955f * h), 0.058f * h * k, 0.04f * h * k, hair);
#undef SY
}

static void draw_bike(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z, cx = PX(v, X, Z);
    bool motor = o->kind == K_MOTORCYCLE, night = c->look_tod == T_NIGHT;
    uint32_t tyre = shade(c, RGB(20, 20, 22), X, Z), frame = shade(c, o->c0, X, Z), metal = shade(c, RGB(140, 140, 145), X, Z);
    float r = motor ? 0.32f : 0.34f;
    if (o->view == 1) { /* side on */
        float dir = o->vx < 0 ? -1.0f : 1.0f, wb = motor ? 0.72f : 0.55f;
        float rx = cx - dir * wb * k, fx = cx + dir * wb * k, wy = PY(v, r, Z), rr = r * k;
        if (motor) {
            fill_ellipse(s, rx, wy, rr, rr, tyre);
            fill_ellipse(s, fx, wy, rr, rr, tyre);
            fill_ellipse(s, rx, wy, rr * 0.45f, rr * 0.45f, metal);
            fill_ellipse(s, fx, wy, rr * 0.45f, rr * 0.45f, metal);
            fill_quad(s, rx, PY(v, 0.55f, Z), fx, PY(v, 0.6f, Z), cx + dir * 0.35f * k, PY(v, 0.95f, Z),
                      cx - dir * 0.45f * k, PY(v, 0.85f, Z), frame);
            fill_line(s, fx, wy, cx + dir * 0.55f * k, PY(v, 1.05f, Z), 0.06f * k, metal);
        } else {
            fill_ring(s, rx, wy, rr, rr, 0.05f * k, tyre);
            fill_ring(s, fx, wy, rr, rr, 0.05f * k, tyre);
            float bbx = cx, bby = PY(v, 0.3f, Z), sx = cx - dir * 0.12f * k, sy = PY(v, 0.85f, Z),
                  hx = cx + dir * 0.42f * k, hy = PY(v, 0.95f, Z), lw = 0.045f * k;
            fill_line(s, rx, wy, bbx, bby, lw, frame);
            fill_line(s, rx, wy, sx, sy, lw, frame);
            fill_line(s, bbx, bby, sx, sy, lw, frame);
            fill_line(s, sx, sy - lw, hx, hy, lw, frame);
            fill_line(s, bbx, bby, hx, hy, lw, frame);
            fill_line(s, hx, hy, fx, wy, lw, frame);
            fill_line(s, hx, hy, hx + dir * 0.05f * k, PY(v, 1.05f, Z), lw, metal);
        }
        return;
    }
    /* from behind (or the front): a thin wheel, mudguard or seat, handlebar */
    float tw = motor ? 0.16f : 0.05f;
    fill_rect(s, cx - tw / 2 * k, PY(v, 2 * r, Z), cx + tw / 2 * k, PY(v, 0, Z), tyre);
    if (motor) {
        fill_rect(s, cx - 0.24f * k, PY(v, 0.95f, Z), cx + 0.24f * k, PY(v, 0.5f, Z), frame);
        fill_rect(s, cx - 0.1f * k, PY(v, 0.82f, Z), cx + 0.1f * k, PY(v, 0.74f, Z),
                  night ? emit(c, RGB(255, 40, 30), Z) : shade(c, RGB(180, 20, 20), X, Z));
        fill_rect(s, cx + 0.2f * k, PY(v, 0.5f, Z), cx + 0.3f * k, PY(v, 0.4f, Z), metal);
    } else {
        fill_rect(s, cx - 0.05f * k, PY(v, 0.75f, Z), cx + 0.05f * k, PY(v, 0.65f, Z), frame);
        fill_rect(s, cx - 0.02f * k, PY(v, 0.45f, Z), cx + 0.02f * k, PY(v, 0.38f, Z),
                  night ? emit(c, RGB(255, 40, 30), Z) : shade(c, RGB(190, 30, 30), X, Z));
    }
    float hw = motor ? 0.4f : 0.3f;
    fill_line(s, cx - hw * k, PY(v, 1.05f, Z), cx + hw * k, PY(v, 1.05f, Z), 0.035f * k, metal);
}

static void draw_rider(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    bool motor = o->state == 1;
    float dir = o->vx < 0 ? -1.0f : 1.0f;
    float hip_y = motor ? 0.85f : 0.88f;
    if (o->view == 1) draw_person(s, c, o, X, Z, hip_y, dir * (motor ? 0.5f : 0.4f), 1.05f, true);
    else draw_person(s, c, o, X, Z, hip_y, motor ? 0.38f : 0.28f, 1.05f, true);
}

static void draw_light(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z, cx = PX(v, X, Z), w = o->w, h = o->h;
    fill_rect(s, cx - w / 2 * k, PY(v, o->y + h, Z), cx + w / 2 * k, PY(v, o->y, Z), shade(c, o->c0, X, Z));
    static const uint32_t on[3] = {RGB(60, 255, 140), RGB(255, 196, 30), RGB(255, 40, 30)};
    static const uint32_t off[3] = {RGB(30, 52, 40), RGB(60, 52, 24), RGB(62, 24, 22)};
    for (int i = 0; i < 3; i++) { /* red on top, green at the bottom */
        int lamp = 2 - i;
        float ly = o->y + h * (0.83f - 0.33f * (float)i);
        uint32_t col = lamp == o->state ? emit(c, on[lamp], Z) : shade(c, off[lamp], X, Z);
        fill_ellipse(s, cx, PY(v, ly, Z), 0.12f * k, 0.12f * k, col);
    }
}

static void draw_sign(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z, cx = PX(v, X, Z), cy = PY(v, o->y + o->h / 2, Z), hw = o->w / 2 * k, hh = o->h / 2 * k;
    uint32_t face = shade_reflective(c, o->c0, X, Z), mark = shade_reflective(c, o->c1, X, Z);
    switch (o->view) {
    case SIGN_STOP: {
        float xy[16];
        for (int i = 0; i < 8; i++) {
            float a = 0.3927f + 0.7854f * (float)i;
            xy[2 * i] = cx + hw * cosf(a);
            xy[2 * i + 1] = cy + hh * sinf(a);
        }
        fill_poly(s, xy, 8, face);
        fill_rect(s, cx - hw * 0.6f, cy - hh * 0.15f, cx + hw * 0.6f, cy + hh * 0.15f, mark);
        break;
    }
    case SIGN_DIAMOND:
        fill_quad(s, cx, cy - hh, cx + hw, cy, cx, cy + hh, cx - hw, cy, face);
        fill_quad(s, cx, cy - hh * 0.45f, cx + hw * 0.2f, cy, cx, cy + hh * 0.45f, cx - hw * 0.2f, cy, mark);
        break;
    case SIGN_ROUND:
        fill_ellipse(s, cx, cy, hw, hh, face);
        fill_ellipse(s, cx, cy, hw * 0.72f, hh * 0.72f, mark);
        fill_rect(s, cx - hw * 0.45f, cy - hh * 0.12f, cx + hw * 0.45f, cy + hh * 0.12f, face);
        break;
    default: /* rectangles with lines of "text" */
        fill_rect(s, cx - hw, cy - hh, cx + hw, cy + hh, face);
        for (int i = 0; i < 3; i++) {
            float ly = cy - hh * 0.55f + hh * 0.5f * (float)i;
            fill_rect(s, cx - hw * (0.7f - 0.15f * (float)(i & 1)), ly - hh * 0.1f, cx + hw * 0.6f, ly + hh * 0.1f, mark);
        }
        break;
    }
}

static void draw_pole(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z, cx = PX(v, X, Z);
    uint32_t col = shade(c, o->c0, X, Z);
    fill_rect(s, cx - o->w / 2 * k, PY(v, o->h, Z), cx + o->w / 2 * k, PY(v, 0, Z), col);
    if (o->arm != 0) fill_line(s, cx, PY(v, o->h - 0.2f, Z), PX(v, X + o->arm, Z), PY(v, o->h - 0.2f, Z), o->w * 0.7f * k, col);
    if (o->kind == K_STREETLIGHT) {
        float lx = PX(v, X + o->arm, Z);
        uint32_t lamp = c->look_tod == T_NIGHT ? emit(c, RGB(255, 226, 170), Z) : shade(c, RGB(150, 150, 150), X, Z);
        fill_rect(s, lx - 0.35f * k, PY(v, o->h, Z), lx + 0.35f * k, PY(v, o->h - 0.3f, Z), lamp);
    }
}

static void draw_gantry(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z;
    uint32_t col = shade(c, o->c0, X, Z);
    for (int i = -1; i <= 1; i += 2) {
        float px = PX(v, X + (float)i * o->w / 2, Z);
        fill_rect(s, px - 0.2f * k, PY(v, o->h, Z), px + 0.2f * k, PY(v, 0, Z), col);
    }
    fill_rect(s, PX(v, X - o->w / 2, Z), PY(v, o->h, Z), PX(v, X + o->w / 2, Z), PY(v, o->h - 0.5f, Z), col);
}

static void draw_tree(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    const view *v = &s->v;
    float k = v->f / Z, cx = PX(v, X, Z);
    fill_rect(s, cx - 0.15f * k, PY(v, o->h * 0.55f, Z), cx + 0.15f * k, PY(v, 0, Z), shade(c, RGB(84, 62, 44), X, Z));
    uint32_t leaf = shade(c, o->c0, X, Z), light = shade(c, scale_rgb(o->c0, 300), X, Z);
    float r = o->w / 2;
    fill_ellipse(s, cx, PY(v, o->h - r, Z), r * k, r * 1.05f * k, leaf);
    fill_ellipse(s, cx - r * 0.25f * k, PY(v, o->h - r * 0.8f, Z), r * 0.55f * k, r * 0.5f * k, light);
}

static void draw_pump(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    face_rect(s, X - o->w / 2, X + o->w / 2, 0, o->h, Z, shade(c, o->c0, X, Z));
    face_rect(s, X - o->w / 3, X + o->w / 3, o->h * 0.6f, o->h * 0.85f, Z, shade(c, RGB(30, 34, 40), X, Z));
    face_rect(s, X - o->w / 2, X + o->w / 2, o->h * 0.9f, o->h, Z, shade(c, RGB(200, 30, 30), X, Z));
}

static void draw_object(fl_synth *s, const clip *c, const wobj *o, float X, float Z) {
    switch (o->kind) {
    case K_CAR:
    case K_TRUCK:
    case K_BUS: draw_vehicle(s, c, o, X, Z); break;
    case K_PED: draw_person(s, c, o, X, Z, 0, 0, 0, false); break;
    case K_BICYCLE:
    case K_MOTORCYCLE: draw_bike(s, c, o, X, Z); break;
    case K_RIDER: draw_rider(s, c, o, X, Z); break;
    case K_LIGHT: draw_light(s, c, o, X, Z); break;
    case K_SIGN: draw_sign(s, c, o, X, Z); break;
    case K_POLE:
    case K_STREETLIGHT: draw_pole(s, c, o, X, Z); break;
    case K_GANTRY: draw_gantry(s, c, o, X, Z); break;
    case K_TREE: draw_tree(s, c, o, X, Z); break;
    case K_PUMP: draw_pump(s, c, o, X, Z); break;
    default: break;
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * World generation
 * ------------------------------------------------------------------------------------------------------- */

static wobj *add_obj(clip *c, int kind, uint16_t group) {
    if (c->n_obj >= MAX_OBJ) return NULL;
    wobj *o = &c->obj[c->n_obj++];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    o->group = group;
    o->annotated = kind <= K_SIGN;
    return o;
}

static uint16_t new_group(clip *c) { return ++c->groups; }

static uint32_t car_color(rng *r) { return CAR_COLORS[pick_weighted(r, CAR_COLOR_WEIGHT, N_OF(CAR_COLORS))]; }

static void dress_person(rng *r, wobj *o) {
    o->c0 = SKIN[rng_int(r, N_OF(SKIN))];
    o->c1 = random_color(r);
    o->c2 = rng_chance(r, 0.6f) ? PANTS[rng_int(r, N_OF(PANTS))] : random_color(r);
    o->c3 = HAIR[rng_int(r, N_OF(HAIR))];
    o->phase = rng_range(r, 0, 6.283f);
}

static void add_vehicle(clip *c, rng *r, int kind, float x, float z, float vz, bool front) {
    wobj *o = add_obj(c, kind, new_group(c));
    if (!o) return;
    o->x = x, o->z = z, o->vz = vz, o->view = front ? 1 : 0;
    if (kind == K_CAR) {
        int body = rng_int(r, 10); /* sedans, SUVs, vans */
        o->w = rng_range(r, 1.75f, 1.95f);
        o->h = body < 6 ? rng_range(r, 1.4f, 1.5f) : body < 9 ? rng_range(r, 1.65f, 1.8f) : rng_range(r, 1.9f, 2.1f);
        o->len = rng_range(r, 4.3f, 5.0f);
        o->c0 = car_color(r);
    } else if (kind == K_TRUCK) {
        o->w = rng_range(r, 2.3f, 2.55f);
        o->h = rng_range(r, 2.8f, 4.0f);
        o->len = rng_range(r, 6.0f, 14.0f);
        static const uint32_t cargo[] = {RGB(236, 236, 234), RGB(200, 200, 196), RGB(180, 40, 30), RGB(40, 70, 140), RGB(230, 200, 60)};
        o->c0 = cargo[rng_int(r, N_OF(cargo))];
    } else {
        o->w = 2.55f;
        o->h = rng_range(r, 3.0f, 3.3f);
        o->len = 12.0f;
        static const uint32_t paint[] = {RGB(230, 230, 226), RGB(30, 90, 170), RGB(210, 60, 40), RGB(240, 190, 40), RGB(60, 140, 80)};
        o->c0 = paint[rng_int(r, N_OF(paint))];
    }
}

static void add_pedestrian(clip *c, rng *r, float x, float z, float vx, float vz) {
    wobj *o = add_obj(c, K_PED, new_group(c));
    if (!o) return;
    o->x = x, o->z = z, o->vx = vx, o->vz = vz;
    o->h = rng_chance(r, 0.1f) ? rng_range(r, 1.05f, 1.4f) : rng_range(r, 1.55f, 1.92f);
    o->w = 0.5f;
    o->view = vx != 0 ? 1 : 0;
    dress_person(r, o);
}

/* A rider on a bicycle or motorcycle: two annotated objects in one group. */
static void add_rider(clip *c, rng *r, float x, float z, float vx, float vz, bool motor) {
    uint16_t g = new_group(c);
    wobj *bike = add_obj(c, motor ? K_MOTORCYCLE : K_BICYCLE, g);
    wobj *rider = add_obj(c, K_RIDER, g);
    if (!bike || !rider) {
        c->n_obj -= (bike != NULL) + (rider != NULL);
        return;
    }
    bike->x = rider->x = x, bike->z = rider->z = z, bike->vx = rider->vx = vx, bike->vz = rider->vz = vz;
    bike->view = rider->view = vx != 0 ? 1 : 0;
    bike->layer = 0, rider->layer = 1;
    bike->c0 = motor ? car_color(r) : random_color(r);
    rider->h = rng_range(r, 1.6f, 1.9f);
    rider->state = motor ? 1 : 0;
    dress_person(r, rider);
    if (motor) rider->c3 = rng_chance(r, 0.5f) ? RGB(20, 20, 22) : random_color(r);
    rider->phase = rng_range(r, 0, 6.283f);
}

static void add_sign(clip *c, rng *r, float x, float z, bool overhead) {
    uint16_t g = new_group(c);
    wobj *pole = add_obj(c, K_POLE, g), *sign = add_obj(c, K_SIGN, g);
    if (!pole || !sign) {
        c->n_obj -= (pole != NULL) + (sign != NULL);
        return;
    }
    pole->annotated = true;
    sign->layer = 1;
    pole->x = sign->x = x, pole->z = sign->z = z;
    pole->w = 0.08f;
    pole->c0 = RGB(120, 122, 126);
    if (overhead) {
        sign->view = SIGN_GUIDE;
        sign->w = rng_range(r, 2.5f, 4.5f), sign->h = rng_range(r, 1.3f, 2.2f), sign->y = 5.6f;
        sign->c0 = RGB(20, 110, 60), sign->c1 = RGB(235, 235, 235);
        pole->kind = K_GANTRY; /* the caller places the posts: x and w */
        pole->w = 12.0f;
        pole->h = 5.6f + sign->h + 0.3f;
        return;
    }
    sign->view = (uint8_t)rng_int(r, SIGN_SHAPES);
    float size = rng_range(r, 0.6f, 0.9f);
    sign->w = size, sign->h = size, sign->y = rng_range(r, 1.9f, 2.6f);
    switch (sign->view) {
    case SIGN_STOP: sign->c0 = RGB(200, 20, 24), sign->c1 = RGB(245, 245, 245); break;
    case SIGN_DIAMOND: sign->c0 = RGB(240, 200, 20), sign->c1 = RGB(20, 20, 20); break;
    case SIGN_ROUND: sign->c0 = RGB(210, 24, 24), sign->c1 = RGB(245, 245, 245); break;
    case SIGN_GUIDE: sign->c0 = RGB(24, 80, 170), sign->c1 = RGB(240, 240, 240), sign->w = size * 1.4f; break;
    default: sign->c0 = RGB(240, 240, 238), sign->c1 = RGB(20, 20, 20), sign->h = size * 1.25f; break;
    }
    pole->h = sign->y + sign->h * 0.9f;
}

/* Traffic lights at the far side of the intersection: on a mast arm over the lanes and on a corner pole. */
static void add_lights(clip *c, rng *r, float lanes_x0, float lanes_x1, float z) {
    int state = pick_weighted(r, (const int[]){45, 12, 43}, 3);
    uint16_t g = new_group(c);
    wobj *pole = add_obj(c, K_POLE, g);
    if (!pole) return;
    pole->annotated = true;
    pole->x = c->road_r + 0.8f, pole->z = z, pole->w = 0.25f, pole->h = 6.8f;
    pole->arm = -(pole->x - lanes_x0 + 0.5f);
    pole->c0 = rng_chance(r, 0.5f) ? RGB(90, 92, 96) : RGB(150, 130, 40);
    uint32_t housing = rng_chance(r, 0.7f) ? RGB(26, 26, 28) : RGB(180, 150, 30);
    for (float x = lanes_x0 + 1.7f; x < lanes_x1; x += 3.5f) {
        wobj *l = add_obj(c, K_LIGHT, g);
        if (!l) return;
        l->layer = 1, l->x = x, l->z = z, l->w = 0.36f, l->h = 1.05f, l->y = 5.3f, l->state = (uint8_t)state, l->c0 = housing;
    }
    wobj *l = add_obj(c, K_LIGHT, g);
    if (!l) return;
    l->layer = 1, l->x = c->road_r + 0.8f, l->z = z - 0.3f, l->w = 0.36f, l->h = 1.05f, l->y = 2.6f;
    l->state = (uint8_t)state, l->c0 = housing;
    if (rng_chance(r, 0.5f)) { /* and the one on the far left corner */
        uint16_t g2 = new_group(c);
        wobj *p2 = add_obj(c, K_POLE, g2), *l2 = add_obj(c, K_LIGHT, g2);
        if (!p2 || !l2) return;
        p2->annotated = true;
        p2->x = c->road_l - 0.8f, p2->z = z, p2->w = 0.2f, p2->h = 3.7f, p2->c0 = pole->c0;
        *l2 = *l;
        l2->group = g2, l2->x = p2->x, l2->z = z;
    }
}

static void add_tree(clip *c, rng *r, float x, float z) {
    wobj *o = add_obj(c, K_TREE, new_group(c));
    if (!o) return;
    o->x = x, o->z = z;
    o->h = rng_range(r, 4.5f, 9.0f);
    o->w = o->h * rng_range(r, 0.45f, 0.65f);
    o->c0 = c->look_weather == W_SNOWY ? RGB(200, 205, 210) : rng_chance(r, 0.8f) ? RGB(52, 96, 40) : RGB(120, 110, 40);
}

static void add_streetlight(clip *c, float x, float z, float arm) {
    wobj *o = add_obj(c, K_STREETLIGHT, new_group(c));
    if (!o) return;
    o->x = x, o->z = z, o->w = 0.2f, o->h = 8.0f, o->arm = arm, o->c0 = RGB(110, 112, 116);
}

static void add_buildings(clip *c, rng *r, float xf, float z_start, float z_end, bool houses) {
    float side = xf < 0 ? -1.0f : 1.0f, z = z_start + rng_range(r, -5.0f, 8.0f);
    while (z < z_end && c->n_buildings < MAX_BUILDINGS) {
        float len = houses ? rng_range(r, 9.0f, 15.0f) : rng_range(r, 8.0f, 32.0f);
        if (c->cross && z + len > c->cross_z - 5.0f && z < c->cross_z + c->cross_w + 3.0f) {
            z = c->cross_z + c->cross_w + 3.0f;
            continue;
        }
        building *b = &c->b[c->n_buildings++];
        b->house = houses;
        b->xf = xf + side * (houses ? rng_range(r, 0.0f, 5.0f) : rng_range(r, 0.0f, 0.6f));
        b->depth = houses ? rng_range(r, 8.0f, 12.0f) : rng_range(r, 10.0f, 25.0f);
        b->z0 = z, b->z1 = z + len;
        b->h = houses ? rng_range(r, 3.2f, 6.4f) : rng_range(r, 7.0f, rng_chance(r, 0.3f) ? 60.0f : 25.0f);
        b->wall = houses ? HOUSES[rng_int(r, N_OF(HOUSES))] : WALLS[rng_int(r, N_OF(WALLS))];
        b->glass = rng_chance(r, 0.5f) ? RGB(60, 74, 96) : RGB(90, 110, 130);
        b->roof = rng_chance(r, 0.5f) ? RGB(70, 60, 56) : RGB(110, 60, 46);
        b->lit = (uint8_t)(40 + rng_int(r, 120));
        b->key = (uint32_t)rng_next(r);
        z += len + (houses ? rng_range(r, 4.0f, 12.0f) : rng_chance(r, 0.7f) ? 0.0f : rng_range(r, 2.0f, 8.0f));
    }
}

static int cmp_building(const void *a, const void *b) {
    const building *x = a, *y = b;
    if (x->z0 != y->z0) return x->z0 < y->z0 ? 1 : -1; /* far first */
    return x->xf < y->xf ? -1 : x->xf > y->xf ? 1 : 0;
}

static void set_zone(clip *c, float x, uint32_t col, bool road) {
    if (c->n_zones < MAX_ZONES) c->zones[c->n_zones++] = (zone){x, col, road};
}
static void set_marking(clip *c, float x, float w, uint32_t col, float period, float dash, float offset) {
    if (c->n_markings < MAX_MARKINGS) c->markings[c->n_markings++] = (marking){x, w, col, period, dash, offset};
}

/* The light, fog and sky of the clip's weather and time of day. */
static void set_light(clip *c) {
    static const int amb[W_COUNT][3] = {{256, 256, 256}, {246, 246, 248}, {200, 204, 212}, {160, 164, 176},
                                        {222, 226, 236}, {205, 205, 210}, {256, 256, 256}};
    static const uint32_t fog[W_COUNT] = {RGB(176, 200, 228), RGB(180, 200, 222), RGB(182, 186, 194), RGB(134, 138, 146),
                                          RGB(204, 208, 216), RGB(186, 186, 190), RGB(176, 200, 228)};
    static const float fog_dist[W_COUNT] = {1800, 1400, 800, 220, 260, 42, 1800};
    static const uint32_t top[W_COUNT] = {RGB(58, 118, 204), RGB(72, 128, 206), RGB(146, 150, 158), RGB(100, 104, 114),
                                          RGB(168, 174, 184), RGB(186, 186, 190), RGB(58, 118, 204)};
    int w = c->look_weather;
    for (int i = 0; i < 3; i++) c->amb[i] = amb[w][i];
    c->fog = fog[w];
    c->fog_dist = fog_dist[w];
    c->sky_top = top[w];
    c->sky_horizon = fog[w];
    c->sky_fog = w == W_FOGGY ? 240 : 0;
    c->head = 0;
    if (c->look_tod == T_DUSK) {
        static const int tint[3] = {236, 178, 140};
        for (int i = 0; i < 3; i++) c->amb[i] = c->amb[i] * tint[i] >> 8;
        bool clear = w == W_CLEAR || w == W_PARTLY;
        c->sky_top = mix_rgb(c->sky_top, RGB(64, 70, 134), clear ? 220 : 120);
        c->sky_horizon = mix_rgb(c->sky_horizon, RGB(250, 148, 84), clear ? 230 : 110);
        c->fog = mix_rgb(c->fog, RGB(206, 142, 108), 150);
    } else if (c->look_tod == T_NIGHT) {
        c->amb[0] = 52, c->amb[1] = 54, c->amb[2] = 68;
        if (w == W_SNOWY) c->amb[0] = 70, c->amb[1] = 72, c->amb[2] = 86;
        c->head = 190;
        bool glow = c->look_scene == S_CITY || c->look_scene == S_GAS;
        c->sky_top = RGB(4, 6, 14);
        c->sky_horizon = glow ? RGB(44, 34, 36) : RGB(18, 20, 32);
        if (w == W_OVERCAST || w == W_RAINY || w == W_SNOWY) c->sky_top = RGB(20, 18, 22), c->sky_horizon = RGB(52, 42, 40);
        c->fog = w == W_FOGGY ? RGB(58, 58, 62) : RGB(20, 20, 28);
    }
    if (c->look_scene == S_TUNNEL) { /* sodium lamps inside */
        c->amb[0] = 220, c->amb[1] = 190, c->amb[2] = 140;
        c->fog = RGB(40, 36, 30);
        c->fog_dist = 260;
        c->head = c->look_tod == T_NIGHT ? 120 : 0;
    }
}

static void gen_camera(clip *c, rng *r) {
    c->focal = 0.62f;
    c->hc = rng_range(r, 1.25f, 1.45f);
    c->horizon = rng_range(r, 0.43f, 0.5f);
    c->yaw = rng_range(r, -0.03f, 0.03f);
    c->yaw_v = rng_range(r, -0.0008f, 0.0008f);
    c->pitch_amp = rng_range(r, 0.0f, 0.0015f);
    c->pitch_phase = rng_range(r, 0, 6.283f);
    c->cam_z0 = rng_range(r, 0, 100.0f);
    c->hood = rng_chance(r, 0.75f);
    c->hood_h = rng_range(r, 0.05f, 0.1f);
    c->hood_color = rng_chance(r, 0.6f) ? RGB(22, 22, 24) : car_color(r);
}

/* Lanes: n_opp oncoming lanes left of the centre line, n_same lanes in our direction, the camera in lane ego. */
typedef struct lanes {
    float lw, center, first_same, last_same;
    int n_same, n_opp, ego;
} lanes;

static lanes gen_lanes(clip *c, rng *r, int n_same, int n_opp, float parking) {
    lanes L = {.lw = rng_range(r, 3.3f, 3.7f), .n_same = n_same, .n_opp = n_opp, .ego = rng_int(r, n_same)};
    L.center = -((float)L.ego + 0.5f) * L.lw;
    L.first_same = L.center + L.lw / 2;
    L.last_same = L.center + ((float)n_same - 0.5f) * L.lw;
    c->road_l = L.center - (float)n_opp * L.lw - parking;
    c->road_r = L.center + (float)n_same * L.lw + parking;
    return L;
}

static void gen_markings(clip *c, const lanes *L, bool center_line, bool edges) {
    uint32_t white = RGB(222, 222, 216), yellow = RGB(224, 180, 40);
    if (center_line && L->n_opp > 0) {
        set_marking(c, L->center - 0.12f, 0.12f, yellow, 0, 0, 0);
        set_marking(c, L->center + 0.12f, 0.12f, yellow, 0, 0, 0);
    }
    for (int i = 1; i < L->n_same; i++) set_marking(c, L->center + (float)i * L->lw, 0.13f, white, 12.0f, 3.0f, 0);
    for (int i = 1; i < L->n_opp; i++) set_marking(c, L->center - (float)i * L->lw, 0.13f, white, 12.0f, 3.0f, 5.0f);
    if (edges) {
        set_marking(c, L->center + (float)L->n_same * L->lw - 0.1f, 0.15f, white, 0, 0, 0);
        if (L->n_opp > 0) set_marking(c, L->center - (float)L->n_opp * L->lw + 0.1f, 0.15f, white, 0, 0, 0);
    }
}

/* Vehicles in the lanes: ours going our way at about our speed, oncoming ones fast toward us. */
static void gen_traffic(clip *c, rng *r, const lanes *L, float density, float truck_p, float bus_p, float speed) {
    for (int i = 0; i < L->n_same; i++) {
        float x = L->center + ((float)i + 0.5f) * L->lw;
        float z = i == L->ego ? rng_range(r, 7.0f, 20.0f) : rng_range(r, 3.0f, 14.0f);
        while (z < 220.0f) {
            if (rng_chance(r, density)) {
                float u = rng_f(r);
                int kind = u < truck_p ? K_TRUCK : u < truck_p + bus_p ? K_BUS : K_CAR;
                add_vehicle(c, r, kind, x + rng_range(r, -0.3f, 0.3f), z, c->cam_v + rng_range(r, -0.06f, 0.06f), false);
                z += kind == K_CAR ? 5.0f : 13.0f;
            }
            z += rng_range(r, 3.0f, 22.0f) * (1.0f + z / 80.0f);
        }
    }
    for (int i = 0; i < L->n_opp; i++) {
        float x = L->center - ((float)i + 0.5f) * L->lw;
        for (float z = rng_range(r, 25.0f, 60.0f); z < 260.0f; z += rng_range(r, 25.0f, 70.0f)) {
            if (!rng_chance(r, density)) continue;
            float u = rng_f(r);
            int kind = u < truck_p ? K_TRUCK : u < truck_p + bus_p ? K_BUS : K_CAR;
            add_vehicle(c, r, kind, x + rng_range(r, -0.3f, 0.3f), z, -speed * rng_range(r, 0.6f, 1.0f), true);
        }
    }
}

static void gen_parked(clip *c, rng *r, float x, float z_end, float p) {
    for (float z = rng_range(r, 2.0f, 10.0f); z < z_end; z += rng_range(r, 5.5f, 9.0f)) {
        if (c->cross && z > c->cross_z - 8.0f && z < c->cross_z + c->cross_w + 2.0f) continue;
        if (rng_chance(r, p)) add_vehicle(c, r, rng_chance(r, 0.06f) ? K_TRUCK : K_CAR, x, z, 0, rng_chance(r, 0.3f));
    }
}

/* Pedestrians on the sidewalks [x0, x1] of each side, mostly far away; some cross at the crosswalk. */
static void gen_pedestrians(clip *c, rng *r, float wl0, float wl1, float wr0, float wr1, int n) {
    for (int i = 0; i < n; i++) {
        bool left = rng_chance(r, 0.5f);
        float x = left ? rng_range(r, wl0, wl1) : rng_range(r, wr0, wr1);
        float z = rng_range(r, 5.0f, 110.0f);
        float vz = rng_chance(r, 0.3f) ? 0 : (rng_chance(r, 0.5f) ? 0.07f : -0.07f);
        add_pedestrian(c, r, x, z, 0, vz);
    }
    if (c->crosswalk && rng_chance(r, 0.6f)) {
        int k = 1 + rng_int(r, 4);
        for (int i = 0; i < k; i++) {
            float x = rng_range(r, c->road_l + 1.0f, c->road_r - 1.0f);
            add_pedestrian(c, r, x, c->cross_z - rng_range(r, 1.2f, 4.0f), rng_chance(r, 0.5f) ? 0.065f : -0.065f, 0);
        }
    }
}

static void gen_riders(clip *c, rng *r, const lanes *L, int n, float motor_p) {
    for (int i = 0; i < n; i++) {
        bool motor = rng_chance(r, motor_p);
        if (c->cross && !motor && rng_chance(r, 0.25f)) { /* crossing the intersection ahead, side on */
            float x = rng_range(r, c->road_l + 1.0f, c->road_r - 1.0f);
            add_rider(c, r, x, c->cross_z + rng_range(r, 1.5f, c->cross_w - 1.5f), rng_chance(r, 0.5f) ? 0.2f : -0.2f, 0, false);
            continue;
        }
        float x = motor ? L->center + (rng_f(r) * (float)L->n_same) * L->lw : L->last_same + rng_range(r, 0.4f, 1.1f); /* bikes keep right */
        float z = rng_range(r, 6.0f, 70.0f);
        add_rider(c, r, x, z, 0, c->cam_v + rng_range(r, -0.1f, 0.1f), motor);
    }
}

static void gen_signs(clip *c, rng *r, int n, float xl, float xr) {
    for (int i = 0; i < n; i++) {
        bool left = rng_chance(r, 0.35f);
        add_sign(c, r, left ? xl : xr, rng_range(r, 6.0f, 120.0f), false);
    }
}

static void gen_streetlights(clip *c, rng *r, float xl, float xr, bool both) {
    float step = rng_range(r, 25.0f, 40.0f);
    for (float z = rng_range(r, 3.0f, step); z < 300.0f; z += step) {
        add_streetlight(c, xr, z, -1.8f);
        if (both) add_streetlight(c, xl, z + step / 2, 1.8f);
    }
}

static void gen_city(clip *c, rng *r, bool gas) {
    int n_same = 1 + rng_int(r, 2), n_opp = 1 + rng_int(r, 2);
    float parking = rng_chance(r, 0.6f) ? 2.4f : 0.0f;
    lanes L = gen_lanes(c, r, n_same, n_opp, parking);
    float walk = rng_range(r, 2.5f, 4.5f);
    bool snow = c->look_weather == W_SNOWY;
    uint32_t asphalt = c->look_weather == W_RAINY ? RGB(58, 58, 62) : snow ? RGB(112, 112, 116) : RGB(86, 86, 90);
    uint32_t walkway = snow ? RGB(222, 226, 232) : RGB(150, 148, 142), lot = snow ? RGB(210, 214, 222) : RGB(120, 118, 112);
    set_zone(c, -1e6f, lot, false);
    set_zone(c, c->road_l - walk, walkway, false);
    set_zone(c, c->road_l, asphalt, true);
    set_zone(c, c->road_r, walkway, false);
    set_zone(c, c->road_r + walk, lot, false);
    gen_markings(c, &L, true, parking > 0);
    c->cross = rng_chance(r, 0.6f);
    c->cross_z = rng_range(r, 18.0f, 80.0f);
    c->cross_w = rng_range(r, 10.0f, 16.0f);
    c->crosswalk = c->cross && rng_chance(r, 0.7f);
    if (gas) {
        c->canopy = true;
        c->canopy_x0 = c->road_r + walk + 3.0f, c->canopy_x1 = c->canopy_x0 + rng_range(r, 10.0f, 16.0f);
        c->canopy_z0 = rng_range(r, 8.0f, 18.0f), c->canopy_z1 = c->canopy_z0 + rng_range(r, 10.0f, 16.0f);
        c->cross = false, c->crosswalk = false;
        add_buildings(c, r, c->road_l - walk, 0, 240.0f, false);
        building *b = c->n_buildings < MAX_BUILDINGS ? &c->b[c->n_buildings++] : NULL;
        if (b) *b = (building){c->canopy_x1 + 4.0f, 15.0f, c->canopy_z0 - 2.0f, c->canopy_z1 + 12.0f, 4.5f, RGB(210, 200, 180),
                               RGB(60, 74, 96), RGB(70, 60, 56), false, 200, (uint32_t)rng_next(r)};
        add_buildings(c, r, c->road_r + walk, c->canopy_z1 + 20.0f, 240.0f, false);
        for (float z = c->canopy_z0 + 1.0f; z < c->canopy_z1 - 1.0f; z += 5.0f) {
            for (float x = c->canopy_x0 + 2.5f; x < c->canopy_x1 - 1.0f; x += 5.0f) {
                wobj *p = add_obj(c, K_PUMP, new_group(c));
                if (p) p->x = x, p->z = z, p->w = 0.8f, p->h = 1.8f, p->c0 = RGB(230, 230, 228);
                wobj *pillar = add_obj(c, K_POLE, new_group(c));
                if (pillar) pillar->x = x + 1.2f, pillar->z = z, pillar->w = 0.4f, pillar->h = 4.4f, pillar->c0 = RGB(220, 220, 220);
            }
            if (rng_chance(r, 0.6f)) add_vehicle(c, r, K_CAR, c->canopy_x0 + 1.0f, z, 0, rng_chance(r, 0.5f));
        }
    } else {
        add_buildings(c, r, c->road_l - walk, 0, 240.0f, false);
        add_buildings(c, r, c->road_r + walk, 0, 240.0f, false);
    }
    /* a distant skyline above the street canyon */
    c->n_skyline = 6 + rng_int(r, MAX_SKYLINE - 6);
    for (int i = 0; i < c->n_skyline; i++) {
        float x = rng_range(r, -500.0f, 500.0f);
        c->skyline[i][0] = x, c->skyline[i][1] = x + rng_range(r, 15.0f, 60.0f), c->skyline[i][2] = rng_range(r, 30.0f, 160.0f);
    }
    gen_traffic(c, r, &L, 0.55f, 0.07f, 0.04f, 0.5f);
    if (parking > 0) {
        gen_parked(c, r, c->road_r - 1.1f, 140.0f, 0.7f);
        gen_parked(c, r, c->road_l + 1.1f, 140.0f, 0.6f);
    }
    if (rng_chance(r, 0.93f)) {
        int n = 2 + rng_int(r, 4) + (rng_chance(r, 0.5f) ? rng_int(r, 16) : 0);
        gen_pedestrians(c, r, c->road_l - walk + 0.4f, c->road_l - 0.4f, c->road_r + 0.4f, c->road_r + walk - 0.4f, n);
    }
    if (rng_chance(r, 0.45f)) gen_riders(c, r, &L, 1 + (rng_chance(r, 0.3f) ? 1 : 0), 0.3f);
    if (c->cross) add_lights(c, r, L.first_same - L.lw / 2, L.last_same + L.lw / 2, c->cross_z + c->cross_w + 1.0f);
    gen_signs(c, r, rng_int(r, 7), c->road_l - 0.6f, c->road_r + 0.6f);
    if (rng_chance(r, 0.7f)) gen_streetlights(c, r, c->road_l - 0.5f, c->road_r + 0.5f, rng_chance(r, 0.5f));
    if (rng_chance(r, 0.3f))
        for (float z = rng_range(r, 4.0f, 12.0f); z < 150.0f; z += rng_range(r, 9.0f, 16.0f))
            add_tree(c, r, rng_chance(r, 0.5f) ? c->road_l - walk + 0.8f : c->road_r + walk - 0.8f, z);
}

static void gen_residential(clip *c, rng *r) {
    lanes L = gen_lanes(c, r, 1, 1, rng_chance(r, 0.6f) ? 2.2f : 0.5f);
    bool snow = c->look_weather == W_SNOWY;
    uint32_t asphalt = c->look_weather == W_RAINY ? RGB(60, 60, 64) : snow ? RGB(120, 120, 124) : RGB(92, 92, 94);
    uint32_t grass = snow ? RGB(226, 230, 236) : RGB(74, 118, 54), walkway = snow ? RGB(214, 218, 226) : RGB(160, 158, 150);
    float strip = rng_range(r, 1.0f, 2.5f), walk = 1.6f;
    set_zone(c, -1e6f, grass, false);
    set_zone(c, c->road_l - strip - walk, walkway, false);
    set_zone(c, c->road_l - strip, grass, false);
    set_zone(c, c->road_l, asphalt, true);
    set_zone(c, c->road_r, grass, false);
    set_zone(c, c->road_r + strip, walkway, false);
    set_zone(c, c->road_r + strip + walk, grass, false);
    gen_markings(c, &L, rng_chance(r, 0.5f), false);
    c->cross = rng_chance(r, 0.3f);
    c->cross_z = rng_range(r, 25.0f, 90.0f), c->cross_w = 9.0f;
    c->crosswalk = c->cross && rng_chance(r, 0.3f);
    float setback = strip + walk + rng_range(r, 5.0f, 10.0f);
    add_buildings(c, r, c->road_l - setback, 0, 200.0f, true);
    add_buildings(c, r, c->road_r + setback, 0, 200.0f, true);
    for (float z = rng_range(r, 3.0f, 10.0f); z < 160.0f; z += rng_range(r, 7.0f, 18.0f))
        add_tree(c, r, rng_chance(r, 0.5f) ? c->road_l - strip / 2 : c->road_r + strip / 2, z);
    gen_traffic(c, r, &L, 0.25f, 0.04f, 0.005f, 0.4f);
    gen_parked(c, r, c->road_r - 1.0f, 120.0f, 0.35f);
    gen_parked(c, r, c->road_l + 1.0f, 120.0f, 0.25f);
    if (rng_chance(r, 0.75f)) {
        int n = 1 + rng_int(r, 6);
        gen_pedestrians(c, r, c->road_l - strip - walk + 0.3f, c->road_l - strip - 0.3f, c->road_r + strip + 0.3f,
                        c->road_r + strip + walk - 0.3f, n);
    }
    if (rng_chance(r, 0.4f)) gen_riders(c, r, &L, 1, 0.15f);
    gen_signs(c, r, rng_int(r, 4), c->road_l - strip / 2, c->road_r + strip / 2);
    if (rng_chance(r, 0.5f)) gen_streetlights(c, r, c->road_l - strip / 2, c->road_r + strip / 2, false);
}

static void gen_highway(clip *c, rng *r) {
    int n_same = 2 + rng_int(r, 3), n_opp = 2 + rng_int(r, 3);
    lanes L = gen_lanes(c, r, n_same, 0, 0);
    float median = rng_range(r, 6.0f, 14.0f), shoulder = rng_range(r, 2.0f, 3.5f);
    bool snow = c->look_weather == W_SNOWY;
    uint32_t asphalt = c->look_weather == W_RAINY ? RGB(64, 64, 68) : snow ? RGB(118, 118, 122) : RGB(104, 104, 106);
    uint32_t grass = snow ? RGB(224, 228, 234) : rng_chance(r, 0.5f) ? RGB(96, 120, 62) : RGB(140, 130, 96);
    float opp_r = L.center - shoulder - median, opp_l = opp_r - (float)n_opp * L.lw;
    set_zone(c, -1e6f, grass, false);
    set_zone(c, opp_l - 1.0f, asphalt, true);
    set_zone(c, opp_r + 1.0f, grass, false);
    set_zone(c, L.center - shoulder, asphalt, true);
    set_zone(c, c->road_r + shoulder, grass, false);
    uint32_t white = RGB(226, 226, 220), yellow = RGB(226, 182, 40);
    set_marking(c, L.center - 0.1f, 0.15f, yellow, 0, 0, 0);
    set_marking(c, c->road_r + 0.1f, 0.15f, white, 0, 0, 0);
    for (int i = 1; i < n_same; i++) set_marking(c, L.center + (float)i * L.lw, 0.15f, white, 12.0f, 3.0f, 0);
    for (int i = 1; i < n_opp; i++) set_marking(c, opp_l + (float)i * L.lw, 0.15f, white, 12.0f, 3.0f, 4.0f);
    c->hills = true;
    c->hill[0] = rng_range(r, 1.0f, 4.0f), c->hill[1] = rng_range(r, 0.5f, 3.0f), c->hill[2] = rng_range(r, 3.0f, 8.0f);
    c->hill[3] = rng_range(r, 0, 6.28f), c->hill[4] = rng_range(r, 0.2f, 1.0f), c->hill[5] = rng_range(r, 0, 6.28f);
    gen_traffic(c, r, &L, 0.5f, 0.22f, 0.03f, 1.3f);
    lanes opp = L;
    opp.center = opp_r, opp.n_same = 0, opp.n_opp = n_opp;
    gen_traffic(c, r, &opp, 0.35f, 0.22f, 0.02f, 1.3f);
    c->road_l = opp_l;
    if (rng_chance(r, 0.03f)) add_pedestrian(c, r, c->road_r + shoulder - 0.8f, rng_range(r, 20.0f, 80.0f), 0, 0);
    if (rng_chance(r, 0.12f)) gen_riders(c, r, &L, 1, 1.0f);
    if (rng_chance(r, 0.35f)) {
        float z = rng_range(r, 40.0f, 160.0f);
        add_sign(c, r, L.center + (float)n_same * L.lw / 2 - 2.0f, z, true);
        if (c->n_obj > 1) c->obj[c->n_obj - 2].w = (float)n_same * L.lw + 6.0f, c->obj[c->n_obj - 2].x = L.center + (float)n_same * L.lw / 2;
    }
    gen_signs(c, r, rng_int(r, 3), opp_r + 2.0f, c->road_r + shoulder + 1.0f);
    if (rng_chance(r, 0.4f)) gen_streetlights(c, r, 0, c->road_r + shoulder + 1.5f, false);
    for (float z = rng_range(r, 10.0f, 40.0f); z < 250.0f; z += rng_range(r, 15.0f, 50.0f))
        add_tree(c, r, c->road_r + shoulder + rng_range(r, 5.0f, 25.0f), z);
}

static void gen_parking(clip *c, rng *r) {
    lanes L = gen_lanes(c, r, 1, 1, 0);
    uint32_t asphalt = c->look_weather == W_SNOWY ? RGB(150, 150, 156) : RGB(96, 96, 98);
    set_zone(c, -1e6f, asphalt, true);
    c->road_l = -30.0f, c->road_r = 30.0f;
    (void)L;
    c->stalls = true;
    c->stall_z0 = rng_range(r, 4.0f, 10.0f);
    /* the store across the far end of the lot: two front faces meeting in the middle */
    float zf = rng_range(r, 75.0f, 110.0f);
    uint32_t wall = WALLS[rng_int(r, N_OF(WALLS))];
    for (int i = 0; i < 2; i++)
        c->b[c->n_buildings++] = (building){i ? 0.05f : -0.05f, 70.0f, zf, zf + 30.0f, rng_range(r, 6.0f, 9.0f), wall,
                                            RGB(60, 74, 96), RGB(70, 60, 56), false, 220, (uint32_t)rng_next(r)};
    for (int row = 0; row < 8; row++) {
        float z = c->stall_z0 + (float)row * 12.0f + 1.0f;
        for (int i = -10; i <= 10; i++) {
            float x = (float)i * 2.7f;
            if (fabsf(x) < 4.0f || !rng_chance(r, 0.55f)) continue;
            add_vehicle(c, r, rng_chance(r, 0.08f) ? K_TRUCK : K_CAR, x, z, 0, rng_chance(r, 0.5f));
        }
    }
    if (rng_chance(r, 0.9f)) {
        int n = 1 + rng_int(r, 8);
        for (int i = 0; i < n; i++) add_pedestrian(c, r, rng_range(r, -3.5f, 3.5f) + (rng_chance(r, 0.5f) ? 0 : rng_range(r, -20, 20)),
                                                   rng_range(r, 6.0f, 70.0f), rng_chance(r, 0.4f) ? 0.06f : 0, rng_chance(r, 0.5f) ? 0.05f : 0);
    }
    if (rng_chance(r, 0.15f)) add_rider(c, r, rng_range(r, -3.0f, 3.0f), rng_range(r, 10.0f, 40.0f), 0, c->cam_v + 0.2f, false);
    for (float z = 15.0f; z < 120.0f; z += 24.0f) add_streetlight(c, -4.0f, z, 1.0f);
    gen_signs(c, r, rng_int(r, 2), -4.5f, 4.5f);
}

static void gen_tunnel(clip *c, rng *r) {
    lanes L = gen_lanes(c, r, 2, 0, 0);
    c->road_l -= 1.2f, c->road_r += 1.2f;
    c->tunnel_h = rng_range(r, 5.0f, 6.5f);
    gen_markings(c, &L, false, true);
    set_zone(c, -1e6f, RGB(80, 78, 74), true);
    gen_traffic(c, r, &L, 0.45f, 0.2f, 0.02f, 1.0f);
    if (rng_chance(r, 0.1f)) gen_riders(c, r, &L, 1, 1.0f);
    for (int i = 0; i < 2; i++) {
        if (!rng_chance(r, 0.5f)) continue;
        float z = rng_range(r, 20.0f, 120.0f);
        add_sign(c, r, L.center + L.lw * (0.5f + (float)i), z, false);
        if (c->n_obj >= 2) { /* hung from the ceiling: no pole */
            wobj *pole = &c->obj[c->n_obj - 2], *sign = &c->obj[c->n_obj - 1];
            pole->h = 0, pole->w = 0;
            sign->y = c->tunnel_h - 1.2f, sign->view = SIGN_GUIDE, sign->c0 = RGB(24, 80, 170), sign->c1 = RGB(240, 240, 240);
            sign->h = 0.8f, sign->w = 1.6f;
        }
    }
}

static void gen_clip(const fl_synth *s, uint64_t clip_id, clip *c) {
    uint64_t seed = s->o.seed;
    memset(c, 0, offsetof(clip, obj));
    c->n_obj = 0;
    c->id = clip_id;
    c->key = mix64(seed ^ mix64(clip_id));
    rng a = rng_at(seed, TAG_ATTR, clip_id);
    c->weather = pick_weighted(&a, WEATHER_WEIGHT, W_COUNT);
    c->scene = pick_weighted(&a, SCENE_WEIGHT, S_COUNT);
    c->tod = pick_weighted(&a, TOD_WEIGHT, T_COUNT);
    c->t0 = EPOCH_MS + (int64_t)(rng_next(&a) % (uint64_t)EPOCH_SPAN_MS);
    /* an undefined attribute still needs a look */
    rng look = rng_at(seed, TAG_LOOK, clip_id);
    c->look_weather = c->weather == W_UNDEF ? (rng_chance(&look, 0.5f) ? W_CLEAR : W_OVERCAST) : c->weather;
    c->look_scene = c->scene == S_UNDEF ? (rng_chance(&look, 0.6f) ? S_CITY : S_RESIDENTIAL) : c->scene;
    c->look_tod = c->tod == T_UNDEF ? (rng_chance(&look, 0.5f) ? T_DAY : T_DUSK) : c->tod;
    if (s->o.split_mode == FL_SYNTH_MIXED) {
        rng sp = rng_at(seed, TAG_SPLIT, clip_id);
        int u = rng_int(&sp, 100);
        c->split = u < 70 ? 0 : u < 90 ? 1 : 2;
    } else {
        c->split = s->o.split_mode == FL_SYNTH_VAL ? 1 : 0;
    }
    rng r = rng_at(seed, TAG_WORLD, clip_id);
    gen_camera(c, &r);
    switch (c->look_scene) {
    case S_HIGHWAY: c->cam_v = rng_range(&r, 1.1f, 1.6f); break;
    case S_RESIDENTIAL: c->cam_v = rng_range(&r, 0.05f, 0.45f); break;
    case S_PARKING: c->cam_v = rng_range(&r, 0.0f, 0.15f); break;
    case S_TUNNEL: c->cam_v = rng_range(&r, 0.6f, 1.1f); break;
    case S_GAS: c->cam_v = rng_range(&r, 0.0f, 0.2f); break;
    default: c->cam_v = rng_chance(&r, 0.35f) ? rng_range(&r, 0.0f, 0.08f) : rng_range(&r, 0.15f, 0.45f); break;
    }
    set_light(c);
    c->sun = c->look_tod == T_DUSK && (c->look_weather == W_CLEAR || c->look_weather == W_PARTLY) && rng_chance(&r, 0.6f);
    c->sun_x = rng_range(&r, 0.1f, 0.9f);
    if (c->look_weather == W_PARTLY || (c->look_weather == W_CLEAR && rng_chance(&r, 0.3f))) {
        c->n_clouds = (c->look_weather == W_PARTLY ? 4 : 1) + rng_int(&r, 5);
        for (int i = 0; i < c->n_clouds; i++) {
            c->clouds[i][0] = rng_range(&r, -0.1f, 1.1f), c->clouds[i][1] = rng_range(&r, 0.05f, 0.7f);
            c->clouds[i][2] = rng_range(&r, 0.04f, 0.14f), c->clouds[i][3] = c->clouds[i][2] * rng_range(&r, 0.25f, 0.45f);
        }
    }
    if (c->look_tod == T_NIGHT) c->n_clouds = 0;
    switch (c->look_scene) {
    case S_HIGHWAY: gen_highway(c, &r); break;
    case S_RESIDENTIAL: gen_residential(c, &r); break;
    case S_PARKING: gen_parking(c, &r); break;
    case S_TUNNEL: gen_tunnel(c, &r); break;
    case S_GAS: gen_city(c, &r, true); break;
    default: gen_city(c, &r, false); break;
    }
    qsort(c->b, (size_t)c->n_buildings, sizeof c->b[0], cmp_building);
}

/* ---------------------------------------------------------------------------------------------------------
 * Overlays
 * ------------------------------------------------------------------------------------------------------- */

static void draw_rain(fl_synth *s, const clip *c, uint64_t index) {
    rng r = rng_at(s->o.seed, TAG_FRAME, index);
    int n = (int)((int64_t)s->W * s->H / 2400);
    float scale = (float)s->H / 720.0f;
    uint32_t col = c->look_tod == T_NIGHT ? RGB(110, 110, 120) : RGB(210, 212, 220);
    for (int i = 0; i < n; i++) {
        float x = rng_f(&r) * (float)s->W, y = rng_f(&r) * (float)s->H, len = rng_range(&r, 8.0f, 30.0f) * scale;
        int steps = (int)len;
        for (int k = 0; k < steps; k++) {
            int px = (int)(x + (float)k * 0.18f), py = (int)(y + (float)k);
            if (px < s->W && py < s->H) blend_span(s, py, px, px + 1, col, 80);
        }
    }
}

static void draw_snow(fl_synth *s, const clip *c, int t) {
    rng r = rng_at(s->o.seed, TAG_FRAME, c->id ^ 0x5a5a5a5aull); /* flakes of the clip, falling a little each frame */
    int n = (int)((int64_t)s->W * s->H / 1500);
    float scale = (float)s->H / 720.0f;
    uint32_t col = c->look_tod == T_NIGHT ? RGB(170, 170, 180) : RGB(250, 250, 252);
    for (int i = 0; i < n; i++) {
        float x = rng_f(&r) * (float)s->W, y = rng_f(&r) * (float)s->H, rad = rng_range(&r, 0.8f, 3.0f) * scale;
        float fall = rad * 1.2f * (float)t, drift = rng_range(&r, -0.6f, 0.6f) * (float)t * scale;
        y = fmodf(y + fall, (float)s->H);
        blend_ellipse(s, x + drift, y, rad, rad, col, 200);
    }
}

static void draw_hood(fl_synth *s, const clip *c) {
    float W = (float)s->W, H = (float)s->H, hh = c->hood_h * H;
    float xy[14] = {0, H + 1, 0, H - 0.55f * hh, W * 0.22f, H - 0.92f * hh, W * 0.5f, H - hh, W * 0.78f, H - 0.92f * hh,
                    W, H - 0.55f * hh, W, H + 1};
    uint32_t col = scale_rgb(c->hood_color, (c->amb[1] * 200) >> 8);
    fill_poly(s, xy, 7, col);
    float hl[8] = {W * 0.3f, H - 0.8f * hh, W * 0.7f, H - 0.8f * hh, W * 0.66f, H - 0.62f * hh, W * 0.34f, H - 0.62f * hh};
    fill_poly(s, hl, 4, mix_rgb(col, c->sky_horizon, 60));
}

/* ---------------------------------------------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------------------------------------------- */

static int cmp_obj_z(const void *a, const void *b) {
    const draw_item *x = a, *y = b;
    if (x->z != y->z) return x->z < y->z ? 1 : -1; /* far first */
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return x->obj < y->obj ? -1 : x->obj > y->obj ? 1 : 0;
}

static uint16_t open_slot(fl_synth *s, int obj, uint16_t group) {
    uint16_t id = (uint16_t)s->n_slots++;
    s->slots[id] = (slot){.obj = obj, .group = group, .gx0 = 1e30f, .gy0 = 1e30f, .gx1 = -1e30f, .gy1 = -1e30f,
                          .x0 = INT32_MAX, .y0 = INT32_MAX, .x1 = -1, .y1 = -1};
    return id;
}

static void paint(fl_synth *s, uint64_t index, int flags) {
    uint64_t clip_id;
    int pos;
    fl_synth_clip_of(s->o.seed, index, &clip_id, &pos, NULL);
    if (!s->clip_valid || s->c->id != clip_id) {
        gen_clip(s, clip_id, s->c);
        s->clip_valid = true;
    }
    const clip *c = s->c;
    float W = (float)s->W, H = (float)s->H, t = (float)pos;
    float fw = W < H * 16.0f / 9.0f ? W : H * 16.0f / 9.0f;
    s->v = (view){.f = c->focal * fw,
                  .cx = W / 2 + (c->yaw + c->yaw_v * t) * W,
                  .yh = H * (c->horizon + c->pitch_amp * sinf(c->pitch_phase + 1.7f * t)),
                  .hc = c->hc,
                  .shift = c->cam_v * t,
                  .dash = c->cam_z0 + c->cam_v * t,
                  .t = pos};
    memset(s->ids, 0, (size_t)s->W * (size_t)s->H * sizeof *s->ids);
    s->n_slots = 1;
    s->cur = 0;
    draw_sky(s, c);
    if (c->look_scene == S_TUNNEL) {
        draw_tunnel(s, c);
    } else {
        if (c->hills) draw_hills(s, c);
        if (c->n_skyline) draw_skyline(s, c);
        draw_ground(s, c);
        if (c->look_tod == T_NIGHT) draw_glows(s, c); /* pools of light on the ground, under everything standing */
        if (c->stalls) draw_stalls(s, c);
        for (int i = 0; i < c->n_buildings; i++) draw_building(s, c, &c->b[i]);
        if (c->canopy) draw_canopy(s, c);
    }
    /* the objects, far to near */
    int n = 0;
    for (int i = 0; i < c->n_obj; i++) {
        const wobj *o = &c->obj[i];
        s->obj_slot[i] = 0;
        if ((flags & FL_SYNTH_NO_OBJECTS) && o->annotated) continue;
        float z = o->z + (o->vz - c->cam_v) * t;
        if (z < 1.0f || z > 600.0f) continue;
        s->items[n++] = (draw_item){.z = z, .group = o->group, .layer = o->layer, .obj = i, .x = o->x + o->vx * t};
    }
    qsort(s->items, (size_t)n, sizeof *s->items, cmp_obj_z);
    for (int i = 0; i < n; i++) {
        const draw_item *it = &s->items[i];
        const wobj *o = &c->obj[it->obj];
        s->cur = open_slot(s, it->obj, o->group);
        s->obj_slot[it->obj] = s->cur;
        draw_object(s, c, o, it->x, it->z);
        s->cur = 0;
    }
    if (c->look_weather == W_RAINY) draw_rain(s, c, index);
    if (c->look_weather == W_SNOWY) draw_snow(s, c, pos);
    if (c->hood) {
        s->cur = open_slot(s, -1, UINT16_MAX);
        draw_hood(s, c);
        s->cur = 0;
    }
}

/* The visible box of a slot: the extent of its pixels still showing. False when none show. */
static bool visible_box(const fl_synth *s, uint16_t id, int box[4]) {
    const slot *sl = &s->slots[id];
    if (sl->x0 > sl->x1) return false;
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = -1, y1 = -1;
    for (int y = sl->y0; y <= sl->y1; y++) {
        const uint16_t *row = s->ids + (size_t)y * (size_t)s->W;
        for (int x = sl->x0; x <= sl->x1; x++) {
            if (row[x] != id) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            y1 = y;
        }
    }
    if (x1 < 0) return false;
    box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
    return true;
}

static int fill_frame(fl_synth *s, uint64_t index, int flags, fl_frame *frame, fl_error *err) {
    const clip *c = s->c;
    char id[64];
    fl_synth_image_id(s->o.seed, index, id, sizeof id);
    int pos;
    fl_synth_clip_of(s->o.seed, index, NULL, &pos, NULL);
    frame->name = fl_sprintf("%s.jpg", id);
    frame->weather = fl_strdup(WEATHER_NAME[c->weather]);
    frame->scene = fl_strdup(SCENE_NAME[c->scene]);
    frame->timeofday = fl_strdup(TOD_NAME[c->tod]);
    frame->has_timestamp = true;
    frame->timestamp = c->t0 + (int64_t)pos * FRAME_MS;
    if (!frame->name || !frame->weather || !frame->scene || !frame->timeofday) goto oom;
    if (flags & FL_SYNTH_NO_OBJECTS) return FL_OK;
    for (int i = 0; i < c->n_obj; i++) {
        const wobj *o = &c->obj[i];
        int sid = s->obj_slot[i], box[4];
        if (!sid || !CATEGORY[o->kind] || o->kind >= K_POLE || !visible_box(s, (uint16_t)sid, box)) continue;
        if (box[2] - box[0] + 1 < 2 || box[3] - box[1] + 1 < 2) continue;
        const slot *sl = &s->slots[sid];
        bool truncated = sl->gx0 < -0.5f || sl->gy0 < -0.5f || sl->gx1 > (float)s->W + 0.5f || sl->gy1 > (float)s->H + 0.5f;
        float fb[4] = {(float)box[0], (float)box[1], (float)box[2], (float)box[3]};
        if (!fl_frame_add_label(frame, CATEGORY[o->kind], fb, sl->occluded, truncated,
                                o->kind == K_LIGHT ? LIGHT_COLOR[o->state] : NULL))
            goto oom;
    }
    return FL_OK;
oom:
    fl_frame_clear(frame);
    return fl_error_set(err, FL_ENOMEM, "synthetic frame %llu: out of memory", (unsigned long long)index);
}

/* ---------------------------------------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------------------------------------- */

int fl_synth_new(const fl_synth_options *o, fl_synth **out, fl_error *err) {
    if (!o || !out) return fl_error_set(err, FL_EINVAL, "fl_synth_new: NULL %s", o ? "output" : "options");
    *out = NULL;
    fl_synth_options r = *o;
    if (r.width == 0) r.width = 1280;
    if (r.height == 0) r.height = 720;
    if (r.width < FL_SYNTH_MIN_SIZE || r.width > FL_SYNTH_MAX_SIZE)
        return fl_error_set(err, FL_EINVAL, "synthetic footage: width %d is outside %d..%d", (int)r.width, FL_SYNTH_MIN_SIZE,
                            FL_SYNTH_MAX_SIZE);
    if (r.height < FL_SYNTH_MIN_SIZE || r.height > FL_SYNTH_MAX_SIZE)
        return fl_error_set(err, FL_EINVAL, "synthetic footage: height %d is outside %d..%d", (int)r.height, FL_SYNTH_MIN_SIZE,
                            FL_SYNTH_MAX_SIZE);
    if (r.split_mode != FL_SYNTH_TRAIN && r.split_mode != FL_SYNTH_VAL && r.split_mode != FL_SYNTH_MIXED)
        return fl_error_set(err, FL_EINVAL, "synthetic footage: split mode %d is not train (0), val (1) or mixed (2)", r.split_mode);
    if (r.quality == 0) r.quality = 85;
    if (r.quality < 1 || r.quality > 100)
        return fl_error_set(err, FL_EINVAL, "synthetic footage: JPEG quality %d is outside 1..100", r.quality);
    fl_synth *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_error_set(err, FL_ENOMEM, "synthetic footage: out of memory");
    s->o = r;
    s->W = r.width, s->H = r.height;
    size_t px = (size_t)s->W * (size_t)s->H;
    unsigned long cap = tjBufSize(s->W, s->H, TJSAMP_420);
    s->rgb = fl_malloc(px * 3);
    s->ids = fl_malloc(px * sizeof *s->ids);
    s->c = fl_malloc(sizeof *s->c);
    s->slots = fl_malloc((MAX_OBJ + 2) * sizeof *s->slots);
    s->obj_slot = fl_malloc(MAX_OBJ * sizeof *s->obj_slot);
    s->items = fl_malloc(MAX_OBJ * sizeof *s->items);
    s->jpeg = cap != (unsigned long)-1 ? fl_malloc(cap) : NULL;
    s->jpeg_cap = cap;
    if (!s->rgb || !s->ids || !s->c || !s->slots || !s->obj_slot || !s->items || !s->jpeg) {
        fl_synth_free(s);
        return fl_error_set(err, FL_ENOMEM, "synthetic footage: out of memory for %dx%d frames", (int)r.width, (int)r.height);
    }
    s->tj = tjInitCompress();
    if (!s->tj) {
        fl_synth_free(s);
        return fl_error_set(err, FL_ENOMEM, "synthetic footage: libturbojpeg: %s", tjGetErrorStr2(NULL));
    }
    *out = s;
    return FL_OK;
}

void fl_synth_free(fl_synth *s) {
    if (!s) return;
    if (s->tj) tjDestroy(s->tj);
    fl_free(s->rgb);
    fl_free(s->ids);
    fl_free(s->c);
    fl_free(s->slots);
    fl_free(s->obj_slot);
    fl_free(s->items);
    fl_free(s->jpeg);
    fl_free(s);
}

void fl_synth_size(const fl_synth *s, int32_t *width, int32_t *height) {
    if (width) *width = s ? s->W : 0;
    if (height) *height = s ? s->H : 0;
}

int fl_synth_render_rgb(fl_synth *s, uint64_t index, int flags, fl_frame *frame, const uint8_t **rgb, fl_error *err) {
    if (!s || !rgb) return fl_error_set(err, FL_EINVAL, "fl_synth_render_rgb: NULL argument");
    if (frame) fl_frame_clear(frame);
    paint(s, index, flags);
    if (frame) FL_RETURN_NOT_OK(fill_frame(s, index, flags, frame, err));
    *rgb = s->rgb;
    return FL_OK;
}

int fl_synth_render(fl_synth *s, uint64_t index, fl_frame *frame, const char **split, const uint8_t **jpeg,
                    size_t *jpeg_size, fl_error *err) {
    if (!s || !frame || !split || !jpeg || !jpeg_size) return fl_error_set(err, FL_EINVAL, "fl_synth_render: NULL argument");
    fl_frame_clear(frame);
    paint(s, index, 0);
    unsigned char *buf = s->jpeg;
    unsigned long size = s->jpeg_cap;
    if (tjCompress2(s->tj, s->rgb, s->W, 0, s->H, TJPF_RGB, &buf, &size, TJSAMP_420, s->o.quality,
                    TJFLAG_FASTDCT | TJFLAG_NOREALLOC) != 0)
        return fl_error_set(err, FL_EIO, "synthetic frame %llu: libturbojpeg: %s", (unsigned long long)index,
                            tjGetErrorStr2(s->tj));
    s->jpeg_size = size;
    FL_RETURN_NOT_OK(fill_frame(s, index, 0, frame, err));
    *split = SPLIT_NAME[s->c->split];
    *jpeg = s->jpeg;
    *jpeg_size = s->jpeg_size;
    return FL_OK;
}
