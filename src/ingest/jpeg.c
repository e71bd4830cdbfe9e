/*
 * jpeg.c — the JPEG header reader (see ingest.h for the contract).
 *
 * A JPEG file is a sequence of markers (0xFF followed by a code byte other than 0x00 and 0xFF). SOI, EOI,
 * TEM and RST0..7 stand alone; every other marker is followed by a big-endian 16-bit length that counts
 * itself and the segment body. Any number of 0xFF fill bytes may precede a marker code. After SOS comes
 * entropy-coded data, in which 0xFF is always escaped as 0xFF 0x00, so the next real marker there is either
 * RSTn, another table/scan header (progressive files) or EOI.
 *
 *   SOI  { APPn | COM | DQT | DHT | DRI | ... }  SOFn  { ... }  SOS  <scan data ...>  EOI  [trailing bytes]
 *
 * Invariants:
 *  1. No byte is read at or beyond `size`; each length from the file is checked against what remains.
 *  2. Every error names the byte offset of the marker or field at fault.
 */
#include "ingest.h"

#include "../common/common.h"

#include <stdarg.h>

#define MARKER_SOI 0xD8
#define MARKER_EOI 0xD9
#define MARKER_SOS 0xDA
#define MARKER_TEM 0x01

/* SOF0..SOF15 are 0xC0..0xCF, except three codes in that range that are not frame headers. */
static bool is_frame_header(uint8_t code) {
    return code >= 0xC0 && code <= 0xCF && code != 0xC4 /* DHT */ && code != 0xC8 /* JPG */ && code != 0xCC /* DAC */;
}

static bool is_standalone(uint8_t code) { return code == MARKER_TEM || (code >= 0xD0 && code <= 0xD7); }

static unsigned load_be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Reports "<what>: byte <offset>: <reason>" with `code`; returns `code`. */
static int fail(fl_error *err, int code, const char *what, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(fl_error *err, int code, const char *what, size_t offset, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return fl_error_set(err, code, "%s: byte %zu: %s", what, offset, reason);
}

/* Reads a frame header whose length field is at data[at] and holds `length` (already checked to fit):
 * precision (1 byte), height (2), width (2), component count (1), then 3 bytes per component. */
static int read_frame_header(const uint8_t *data, size_t at, unsigned length, const char *what, int32_t *width,
                             int32_t *height, int *components, fl_error *err) {
    if (length < 8) return fail(err, FL_ECORRUPT, what, at, "frame header too short (%u bytes)", length);
    const uint8_t *body = data + at + 2;
    unsigned h = load_be16(body + 1), w = load_be16(body + 3), n = body[5];
    if (n == 0) return fail(err, FL_ECORRUPT, what, at + 7, "frame header has no components");
    if (length != 8 + 3 * n)
        return fail(err, FL_ECORRUPT, what, at, "frame header length %u does not match its %u components", length, n);
    if (w == 0) return fail(err, FL_ECORRUPT, what, at + 5, "frame header has width 0");
    if (h == 0)
        return fail(err, FL_EUNSUPPORTED, what, at + 3, "frame header has height 0 (a height in a DNL marker is not supported)");
    *width = (int32_t)w;
    *height = (int32_t)h;
    *components = (int)n;
    return FL_OK;
}

int fl_jpeg_info(const uint8_t *data, size_t size, const char *what, int32_t *width, int32_t *height, int *components,
                 fl_error *err) {
    if (!what) what = "jpeg";
    if (!data && size > 0) return fl_error_set(err, FL_EINVAL, "%s: no data", what);
    if (size < 2 || data[0] != 0xFF || data[1] != MARKER_SOI) return fail(err, FL_EINVAL, what, 0, "not a JPEG (no SOI marker)");
    int32_t w = 0, h = 0;
    int n = 0;
    bool have_frame = false;
    size_t pos = 2;
    for (;;) {
        if (pos >= size)
            return fail(err, FL_ECORRUPT, what, pos, "truncated before %s", have_frame ? "the first scan (SOS)" : "the frame header");
        if (data[pos] != 0xFF) return fail(err, FL_ECORRUPT, what, pos, "expected a marker (0xFF), found 0x%02X", data[pos]);
        size_t marker_at = pos;
        while (pos < size && data[pos] == 0xFF) pos++; /* the marker's 0xFF and any fill bytes */
        if (pos >= size) return fail(err, FL_ECORRUPT, what, marker_at, "truncated: fill bytes without a marker code");
        uint8_t code = data[pos++];
        if (code == 0x00) return fail(err, FL_ECORRUPT, what, marker_at, "invalid marker 0xFF00 outside scan data");
        if (is_standalone(code)) continue;
        if (code == MARKER_SOI) return fail(err, FL_ECORRUPT, what, marker_at, "unexpected second SOI marker");
        if (code == MARKER_EOI)
            return fail(err, FL_ECORRUPT, what, marker_at, "end of image (EOI) before %s",
                        have_frame ? "the first scan (SOS)" : "the frame header");
        if (size - pos < 2) return fail(err, FL_ECORRUPT, what, pos, "truncated segment length of marker 0xFF%02X", code);
        unsigned length = load_be16(data + pos);
        if (length < 2) return fail(err, FL_ECORRUPT, what, pos, "segment length %u of marker 0xFF%02X is less than 2", length, code);
        if (length > size - pos)
            return fail(err, FL_ECORRUPT, what, marker_at, "truncated segment (marker 0xFF%02X declares %u bytes, %zu remain)", code,
                        length, size - pos);
        if (code == MARKER_SOS) {
            if (!have_frame) return fail(err, FL_ECORRUPT, what, marker_at, "no frame header before SOS");
            size_t scan = pos + length;
            /* In scan data 0xFF is escaped, so 0xFF 0xD9 there can only be the real EOI. */
            if (size - scan < 2 || !memmem(data + scan, size - scan, "\xFF\xD9", 2))
                return fail(err, FL_ECORRUPT, what, size, "truncated: no EOI marker after the scan data");
            break;
        }
        if (is_frame_header(code) && !have_frame) {
            FL_RETURN_NOT_OK(read_frame_header(data, pos, length, what, &w, &h, &n, err));
            have_frame = true;
        }
        pos += length;
    }
    if (width) *width = w;
    if (height) *height = h;
    if (components) *components = n;
    return FL_OK;
}
