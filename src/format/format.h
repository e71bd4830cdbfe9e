/*
 * format.h — data files: the bytes of one fragment's columns (docs/FORMAT.md, "Data files").
 *
 * A data file holds rows [0, num_rows) of some columns of one fragment. Non-blob columns are cut into
 * pages (checksummed, zstd-compressed when it pays, with min/max/null statistics); a top-level binary
 * column is stored as raw blob bytes plus checksummed index pages of (offset, size, hash) entries, so one
 * blob costs one small index read and one read of exactly its bytes.
 *
 * Invariants:
 *  1. Nothing read from a file is trusted: the footer, every page and every blob are checked (bounds,
 *     XXH3-64) before use, and failures are FL_ECORRUPT naming the file and byte offset.
 *  2. A reader never returns values for a column whose stored type differs from the schema's.
 */
#ifndef FL_FORMAT_H
#define FL_FORMAT_H

#include "../batch/batch.h"
#include "../io/io.h"

#define FL_DATAFILE_MAGIC "FLD1"
#define FL_DATAFILE_TAIL_MAGIC "FLDF"
#define FL_DATAFILE_FORMAT 1
#define FL_PAGE_TARGET_BYTES (64 * 1024)
#define FL_PAGE_MAX_ROWS 8192
#define FL_VECTOR_ROW_BYTES 1024        /* fixed_size_list rows at least this wide ... */
#define FL_VECTOR_PAGE_BYTES (16 * 1024) /* ... get pages of this target size */
#define FL_BLOB_INDEX_ROWS 256
#define FL_MAX_PAGE_BYTES (1u << 30)    /* readers refuse larger (uncompressed) pages; writers split first */

enum { FL_CODEC_NONE = 0, FL_CODEC_ZSTD = 1 };
enum { FL_LAYOUT_PAGED = 0, FL_LAYOUT_BLOB = 1 };

typedef struct fl_page_stats {
    uint64_t null_count;
    bool has_minmax;            /* false when every value is NULL/NaN or the type has no order kept */
    uint64_t min, max;          /* int64 for signed/timestamp/bool, uint64 for unsigned, double bits for floats */
} fl_page_stats;

/* ---- pages (page.c) ---- */

/* Appends the raw encoding of values [start, start+count) of `array` to `out`. */
void fl_page_encode(fl_buf *out, const fl_array *array, int64_t start, int64_t count);
/* Decodes `count` values of `field`'s type from raw page bytes into a fresh array (caller clears it).
 * Errors are FL_ECORRUPT located at `base` + position within the page, in file `what`. */
int fl_page_decode(const uint8_t *data, size_t size, const fl_field *field, int64_t count, fl_array *out,
                   const char *what, uint64_t base, fl_error *err);
/* Statistics of values [start, start+count). */
void fl_page_compute_stats(const fl_array *array, int64_t start, int64_t count, fl_page_stats *stats);

/* ---- writing (datafile.c) ---- */

typedef struct fl_datafile_writer fl_datafile_writer;

/* Starts a data file holding the given columns (their ids must be set). Caller finishes or aborts. */
int fl_datafile_writer_open(const char *path, const fl_field *fields, int n_fields, fl_datafile_writer **out,
                            fl_error *err);
/* Appends rows [start, start+count) of columns[i] (typed like fields[i]). */
int fl_datafile_writer_write(fl_datafile_writer *w, const fl_array *const *columns, int64_t start, int64_t count,
                             fl_error *err);
/* Writes the footer, syncs and closes. *size receives the file size. The writer is freed. */
int fl_datafile_writer_finish(fl_datafile_writer *w, uint64_t *size, fl_error *err);
void fl_datafile_writer_abort(fl_datafile_writer *w);

/* ---- reading (datafile.c) ---- */

typedef struct fl_datafile fl_datafile;

/* Opens and validates the footer. If expected_size is non-zero the file must have exactly that size. */
int fl_datafile_open(const char *path, uint64_t expected_size, fl_datafile **out, fl_error *err);
void fl_datafile_close(fl_datafile *df);
int64_t fl_datafile_num_rows(const fl_datafile *df);
/* Column index holding field `field_id`, or -1. */
int fl_datafile_find(const fl_datafile *df, int32_t field_id);
/* The stored field (type tree) of a column. */
const fl_field *fl_datafile_field(const fl_datafile *df, int column);
/* Appends rows [start, start+count) of column `column` to dst (typed like the column). */
int fl_datafile_read_range(fl_datafile *df, int column, int64_t start, int64_t count, fl_array *dst, fl_error *err);
/* Appends the value of row `row` of `column` to dst; keeps up to 32 decoded pages per column (8 MiB per file) for reuse. */
int fl_datafile_read_row(fl_datafile *df, int column, int64_t row, fl_array *dst, fl_error *err);
/* Page count and per-page row range/statistics, for pruning. */
int fl_datafile_page_count(const fl_datafile *df, int column);
void fl_datafile_page_info(const fl_datafile *df, int column, int page, int64_t *first_row, int64_t *num_rows,
                           fl_page_stats *stats);

/* Decodes a footer buffer (the bytes between the footer offset and the tail); used by the fuzzer. */
int fl_datafile_parse_footer(const uint8_t *data, size_t size, uint64_t file_size, const char *what, fl_datafile **out,
                             fl_error *err);

#endif /* FL_FORMAT_H */
