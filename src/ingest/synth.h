/*
 * synth.h — the synthetic fleet-footage renderer: plausible dashcam frames drawn in C (sky, road in
 * perspective, buildings, vehicles, pedestrians, riders, traffic lights and signs, weather and time of day),
 * JPEG-encoded with libturbojpeg, each with the exact boxes of what was drawn. docs/SYNTHETIC.md describes
 * the pictures, the clip structure and the attribute proportions.
 *
 * Invariants:
 *  1. A frame is a pure function of (options, index): the same JPEG bytes and the same labels on any
 *     fl_synth object, on any thread, in any order. There is no global state; randomness comes from a local
 *     splitmix64 generator keyed by (seed, clip, purpose).
 *  2. Frames come in clips of 3..8 consecutive indexes. Indexes are cut into blocks of FL_SYNTH_BLOCK
 *     frames; the clip lengths inside a block come from a hash of (seed, block), so the clip of an index
 *     and the position in it are found in O(1). A clip shares its attributes, split and world; only the
 *     camera and the moving objects advance between its frames.
 *  3. A label's box is the extent of the object's pixels that are visible in the final image: drawn,
 *     inside the frame and not overdrawn by a nearer object (weather overlays do not count as overdraw).
 *  4. Every allocation goes through fl_malloc (the JPEG output buffer is preallocated at its worst-case
 *     size, so libturbojpeg never reallocates it); rendering itself allocates only for the labels.
 */
#ifndef FL_INGEST_SYNTH_H
#define FL_INGEST_SYNTH_H

#include "ingest.h"

#define FL_SYNTH_BLOCK 16               /* frames per block of clips (invariant 2) */
#define FL_SYNTH_MIN_SIZE 64            /* smallest accepted width or height */
#define FL_SYNTH_MAX_SIZE 8192          /* largest accepted width or height */

/* fl_synth_options.split_mode */
enum { FL_SYNTH_TRAIN = 0, FL_SYNTH_VAL = 1, FL_SYNTH_MIXED = 2 };

typedef struct fl_synth_options {
    uint64_t seed;
    int32_t width, height;      /* 0: 1280x720; otherwise 64..8192 each */
    int split_mode;             /* FL_SYNTH_TRAIN, FL_SYNTH_VAL or FL_SYNTH_MIXED (whole clips: ~70% train,
                                   20% val, 10% test) */
    int quality;                /* JPEG quality 1..100; 0: 85 */
} fl_synth_options;

/* A renderer: scratch pixels, an object-id plane, a turbojpeg handle and the output buffer. Use one per
 * thread; distinct objects share nothing. */
typedef struct fl_synth fl_synth;

/*
 * Checks the options and makes a renderer; the caller frees it with fl_synth_free. Returns FL_OK,
 * FL_EINVAL (NULL option or output pointer, a size outside 64..8192, an unknown split mode, a quality
 * outside 0..100; the message names the field and value) or FL_ENOMEM (including libturbojpeg failing to
 * start).
 */
int fl_synth_new(const fl_synth_options *o, fl_synth **out, fl_error *err);
/* Frees a renderer; NULL is a no-op. */
void fl_synth_free(fl_synth *s);

/*
 * Renders frame `index` (any value). *frame is cleared first (fl_frame_clear) and then filled: name
 * ("<image_id>.jpg"), weather, scene, timeofday, timestamp (ms) and the labels, in a fixed per-clip object
 * order; the caller owns it. *split is "train", "val" or "test" (a static string). *jpeg / *jpeg_size are the
 * encoded image, owned by `s` and valid until its next render or free. Labels are filled for test-split
 * frames too (the caller decides whether to store them). Returns FL_OK, FL_EINVAL (NULL argument),
 * FL_ENOMEM (the frame is left cleared) or FL_EIO (libturbojpeg failed; the message is its own).
 */
int fl_synth_render(fl_synth *s, uint64_t index, fl_frame *frame, const char **split, const uint8_t **jpeg,
                    size_t *jpeg_size, fl_error *err);

/* fl_synth_render_rgb flags */
enum {
    FL_SYNTH_NO_OBJECTS = 1     /* leave out every annotated object (and its pole or vehicle): the scene behind */
};

/*
 * Renders frame `index` as raw pixels without encoding: *rgb is width*height*3 bytes, rows top to bottom,
 * owned by `s` and valid until its next render. `frame` (may be NULL) is filled as by fl_synth_render; with
 * FL_SYNTH_NO_OBJECTS it has no labels. Everything else, weather overlays included, is identical to the
 * pixels fl_synth_render encodes, so tests can check each box against the scene behind it.
 */
int fl_synth_render_rgb(fl_synth *s, uint64_t index, int flags, fl_frame *frame, const uint8_t **rgb, fl_error *err);

/* The frame size `s` renders. */
void fl_synth_size(const fl_synth *s, int32_t *width, int32_t *height);

/* The image_id of frame `index` for `seed` into buf (at most size bytes, always NUL-terminated when size > 0):
 * "synth-<low 32 bits of seed, 8 lowercase hex digits>-<index, at least 7 digits, zero padded>". */
void fl_synth_image_id(uint64_t seed, uint64_t index, char *buf, size_t size);

/* The clip of frame `index` and its position in it (0-based), in O(1); either output may be NULL. Clip ids
 * are increasing in index but not contiguous. */
void fl_synth_clip_of(uint64_t seed, uint64_t index, uint64_t *clip, int *position, int *length);

#endif /* FL_INGEST_SYNTH_H */
