/*
 * ingest.h — the ingest layer: turning files from outside (JPEG folders, later BDD100K labels, JSONL,
 * synthetic footage) into table rows. It sits above table/ and uses the storage engine only through
 * include/framelake.h; it may use common/ and batch/ helpers.
 *
 * Invariants:
 *  1. Input files are untrusted: every parser here bounds-checks each read and reports
 *     "<what>: byte <offset>: <reason>" instead of crashing or asserting.
 *  2. Image bytes are stored exactly as read; nothing is decoded or re-encoded.
 */
#ifndef FL_INGEST_H
#define FL_INGEST_H

#include "framelake.h"

/*
 * Reads the frame size of a JPEG held in memory, without decoding it. Walks the marker stream from SOI:
 * segments are skipped by their declared lengths (each checked against the buffer), fill bytes (0xFF 0xFF)
 * are allowed, and the first frame header (SOF0..SOF15 except DHT 0xC4, JPG 0xC8, DAC 0xCC) gives the
 * height, width and component count (the stored size: EXIF orientation is not applied). The walk then
 * continues to the first SOS, so the headers must be complete, and an EOI marker (0xFF 0xD9) must follow
 * the SOS header somewhere, which catches files cut short; scan data itself is not decoded, so damage
 * inside it goes unnoticed. Bytes after the EOI (e.g. the video of a "motion photo") are allowed.
 *
 * `what` names the input in messages ("<what>: byte <offset>: <reason>"). Returns FL_OK, FL_EINVAL (not a
 * JPEG at all: no SOI marker; or a NULL argument), FL_ECORRUPT (a broken marker stream) or
 * FL_EUNSUPPORTED (a frame header with height 0, which defers the height to a DNL marker). Outputs are
 * written only on success; any of them may be NULL.
 */
int fl_jpeg_info(const uint8_t *data, size_t size, const char *what, int32_t *width, int32_t *height,
                 int *components, fl_error *err);

/* ---- frames: what every footage source produces (BDD100K labels, synthetic rendering) ---- */

/* One annotated object. Categories use BDD100K det_20 naming (see fl_bdd_category). */
typedef struct fl_label {
    char *category;             /* owned; never NULL */
    float box[4];               /* x1, y1, x2, y2 in pixels */
    bool occluded, truncated;
    char *traffic_light_color;  /* owned; "green", "yellow" or "red"; NULL when not a light or unknown */
} fl_label;

/* One frame's labels, as in one element of a BDD100K label file. Strings are owned; NULL = absent. */
typedef struct fl_frame {
    char *name;                 /* image file name ("b1c66a42-6f7d68ca.jpg"); never NULL once parsed */
    char *weather, *scene, *timeofday;
    bool has_timestamp;
    int64_t timestamp;          /* ms */
    fl_label *labels;
    size_t n_labels, cap_labels;
} fl_frame;

/* Frees what a frame owns and zeroes it (the struct itself is the caller's); safe on a zeroed frame. */
void fl_frame_clear(fl_frame *f);
/* Appends a label (strings copied); false on OOM. traffic_light_color may be NULL. */
bool fl_frame_add_label(fl_frame *f, const char *category, const float box[4], bool occluded, bool truncated,
                        const char *traffic_light_color);

#endif /* FL_INGEST_H */
