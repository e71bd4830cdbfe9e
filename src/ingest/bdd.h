/*
 * bdd.h — BDD100K detection labels: a streaming reader of the label JSON (det_20 `det_{train,val}.json` and
 * the older `bdd100k_labels_images_{train,val}.json`), one fl_frame at a time, and a writer of det_20-shaped
 * frames.
 *
 * Both files are one JSON array of frames:
 *
 *     [{"name": "b1c66a42-6f7d68ca.jpg",
 *       "attributes": {"weather": "overcast", "scene": "city street", "timeofday": "daytime"},
 *       "timestamp": 10000,
 *       "labels": [{"id": "0", "category": "traffic sign",
 *                   "attributes": {"occluded": false, "truncated": false, "trafficLightColor": "NA"},
 *                   "box2d": {"x1": 1000.7, "y1": 281.3, "x2": 1040.1, "y2": 326.7}}, ...]}, ...]
 *
 * Invariants:
 *  1. Memory does not grow with the file: a 64 KiB read buffer, one decoded string (at most 1 MiB) and the
 *     current frame (at most FL_BDD_MAX_LABELS labels). Keys the reader does not know are validated and
 *     skipped, never stored.
 *  2. The input is checked as JSON throughout (json_stream.h): a file is accepted only if the whole of it
 *     is one valid JSON array followed by nothing but whitespace.
 *  3. A frame is returned only when it has been read to its closing '}' and everything in it checked, so a
 *     caller that stops at an error has seen only complete frames.
 *  4. Every message is "<what>: byte <offset>: <reason>", the offset counted from the first byte read.
 *
 * Floats go through strtof/printf, so the C locale's decimal point is assumed (the library never calls
 * setlocale).
 */
#ifndef FL_INGEST_BDD_H
#define FL_INGEST_BDD_H

#include "ingest.h"
#include "json_stream.h"

#include "../common/common.h"

#define FL_BDD_MAX_LABELS 100000        /* entries in one frame's "labels" array */

/* Told about a label-level problem; `message` is "<what>: byte <offset>: frame '<name>' label <id or #index>:
 * <reason>" and lives only during the call. Return FL_OK to go on, or an error code to stop the parse with
 * that code and message (strict mode). Problems: the label is skipped for an unknown or missing category,
 * a box2d that is not an object or lacks a coordinate, a coordinate that is not a number or not finite as a
 * float, a degenerate box (x2 < x1 or y2 < y1), occluded/truncated not booleans, "attributes" not an
 * object; the label is kept without a color for a trafficLightColor other than G/green, Y/yellow, R/red,
 * NA/none or null. */
typedef int (*fl_bdd_warn_fn)(void *ctx, const char *message);

typedef struct fl_bdd_reader fl_bdd_reader;

/*
 * Starts reading a label file from `read` (see fl_read_fn in json_stream.h); nothing is read yet. `what`
 * (copied) names the input in messages. `warn` may be NULL (problems are then skipped silently). On
 * success *out is a reader the caller frees with fl_bdd_reader_free; it holds read_ctx and warn_ctx until
 * then. Returns FL_OK, FL_EINVAL (NULL argument) or FL_ENOMEM.
 */
int fl_bdd_reader_open(const char *what, fl_read_fn read, void *read_ctx, fl_bdd_warn_fn warn, void *warn_ctx,
                       fl_bdd_reader **out, fl_error *err);

/*
 * Parses the next frame into *frame, which is cleared first (fl_frame_clear) and then owned by the caller.
 * *got = false (and the frame left empty) at the end of the array, once only whitespace is found after it;
 * later calls keep returning *got = false.
 *
 * Labels without "box2d" (lanes, drivable areas: poly2d) are skipped silently; categories are mapped to
 * det_20 names (fl_bdd_category); occluded/truncated default to false; trafficLightColor is "green",
 * "yellow", "red" or NULL. Frame attributes weather/scene/timeofday are strings or NULL (absent or null);
 * a timestamp must be an integral JSON number within int64 (1e3 and 5.0 count; null is absent).
 *
 * Errors (the frame is left empty; later calls fail again with the same code):
 *  - FL_ECORRUPT: malformed JSON (truncated input, missing separator, bad escape or UTF-8, bad number or
 *    literal, data after the array);
 *  - FL_EINVAL: valid JSON of the wrong shape: the top level not an array, a frame not an object, no
 *    "name", a name not a string, empty, or containing '/' or control characters, "labels" not an array or
 *    null, "attributes" not an object or null, an attribute not a string or null, a bad timestamp, a label
 *    that is not an object, a key appearing twice in one object the reader interprets;
 *  - FL_EUNSUPPORTED: a limit: a string over 1 MiB, nesting deeper than 64, more than FL_BDD_MAX_LABELS
 *    labels in a frame, a number over 256 characters;
 *  - FL_EIO: the read function failed (its message is included); FL_ENOMEM;
 *  - whatever code the warn function returned to stop.
 */
int fl_bdd_reader_next(fl_bdd_reader *r, fl_frame *frame, bool *got, fl_error *err);

/* Input offset of the '{' of the frame last returned by fl_bdd_reader_next, or of the frame being parsed when
 * the last call failed inside one (0 before the first). */
uint64_t fl_bdd_reader_frame_offset(const fl_bdd_reader *r);

/* Frees the reader (not the frames it returned). NULL is a no-op. */
void fl_bdd_reader_free(fl_bdd_reader *r);

/* The det_20 name of a det_20 or older-release category (person → pedestrian, bike → bicycle, motor →
 * motorcycle; det_20 names map to themselves), or NULL if unknown. The result is a static string. */
const char *fl_bdd_category(const char *name);

/*
 * Appends one frame as det_20-shaped JSON (one object, no separator, no newline) to out, such that
 * fl_bdd_reader_next gives back an identical frame: strings are JSON-escaped, floats printed with the
 * fewest digits that read back as the same float32, absent attributes/timestamp omitted, labels numbered
 * "0", "1", ... and omitted when there are none, a NULL traffic light color written as "NA".
 * Returns FL_OK; FL_EINVAL (out left unchanged) when the frame could not be read back as written: a NULL
 * frame, a name the reader would refuse, a string that is not valid UTF-8 or longer than 1 MiB, more than
 * FL_BDD_MAX_LABELS labels, a category fl_bdd_category does not know (an older-release name is written as
 * its det_20 name), a color other than green/yellow/red, a non-finite or degenerate box; FL_ENOMEM when
 * out failed.
 */
int fl_bdd_write_frame(fl_buf *out, const fl_frame *f);

#endif /* FL_INGEST_BDD_H */
