/*
 * io.h — storage primitives. Everything above this layer reaches files only through these calls, so an
 * object-store backend (S3 with conditional PUT) can later implement the same contract.
 *
 * Contract:
 *  1. fl_io_put_if_absent is the commit point: it publishes a complete, durable object under `path` or
 *     fails with FL_EEXIST, atomically. Readers never see a partial object.
 *  2. fl_io_writer_* create a new object under a name nobody else uses; the object is durable after
 *     fl_io_writer_finish and never referenced before.
 *  3. Listings (fl_io_list) are used only for garbage collection and recovery hints, never for deciding
 *     what a version contains.
 */
#ifndef FL_IO_H
#define FL_IO_H

#include "../common/common.h"

typedef struct fl_rfile fl_rfile;
typedef struct fl_wfile fl_wfile;

/* Reads a whole file into a new fl_malloc'd buffer. FL_ENOTFOUND if absent. */
int fl_io_read_file(const char *path, uint8_t **data, size_t *size, fl_error *err);

/* Random-access reads. */
int fl_io_open(const char *path, fl_rfile **out, fl_error *err);
uint64_t fl_io_size(const fl_rfile *f);
const char *fl_io_path(const fl_rfile *f);
/* Reads exactly n bytes at offset; a short file is FL_ECORRUPT naming the path and offset. */
int fl_io_pread(fl_rfile *f, uint64_t offset, size_t n, void *buf, fl_error *err);
void fl_io_close(fl_rfile *f);

/* Sequential writer of a new file (fails with FL_EEXIST if the name is taken). */
int fl_io_writer_open(const char *path, fl_wfile **out, fl_error *err);
int fl_io_writer_write(fl_wfile *w, const void *data, size_t n, fl_error *err);
uint64_t fl_io_writer_offset(const fl_wfile *w);
/* Flushes, fsyncs and closes; the writer is freed whatever the result. */
int fl_io_writer_finish(fl_wfile *w, fl_error *err);
/* Closes and removes the partial file. */
void fl_io_writer_abort(fl_wfile *w);

/* Atomically creates `path` with the given bytes, or FL_EEXIST if it already exists. Durable on return. */
int fl_io_put_if_absent(const char *path, const void *data, size_t n, fl_error *err);
/* Atomically replaces (or creates) `path`. Durable on return unless `durable` is false (hints, caches:
 * readers see either the old or the new bytes, and after a crash possibly the old ones). */
int fl_io_put_replace(const char *path, const void *data, size_t n, bool durable, fl_error *err);

bool fl_io_exists(const char *path);
/* Removes a file; absent is not an error. */
int fl_io_delete(const char *path, fl_error *err);
/* Creates a directory and its parents. */
int fl_io_mkdirs(const char *path, fl_error *err);
/* Makes a directory's entries durable. */
int fl_io_sync_dir(const char *path, fl_error *err);
/* Entry names of a directory (no "." or ".."), unsorted. Caller frees with fl_strings_free. */
int fl_io_list(const char *dir, char ***names, size_t *n, fl_error *err);
/* Modification time (ms since epoch) and size of a file; FL_ENOTFOUND if absent. */
int fl_io_stat(const char *path, int64_t *mtime_ms, uint64_t *size, fl_error *err);
/* Counters of read calls and bytes since the process started (tests check access costs with them). */
typedef struct fl_io_counters {
    uint64_t reads;             /* fl_io_pread calls */
    uint64_t bytes_read;
    uint64_t opens;             /* fl_io_open calls */
} fl_io_counters;
void fl_io_get_counters(fl_io_counters *out);

/* Removes a directory tree. */
int fl_io_remove_tree(const char *path, fl_error *err);

#endif /* FL_IO_H */
