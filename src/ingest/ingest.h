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

#endif /* FL_INGEST_H */
