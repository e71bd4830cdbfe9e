/*
 * datafile.c — writing and reading data files.
 *
 *   file   := "FLD1" u32 format | page and blob bytes, in write order | footer | tail
 *   tail   := u64 footer_offset | u64 xxh3(footer) | u32 format | "FLDF"            (24 bytes)
 *   footer := u64 num_rows | u32 n_columns | column*
 *   column := field | u8 layout | u32 n_pages | page*
 *   page   := u64 offset | u32 stored_size | u32 raw_size | u32 rows | u8 codec | u64 xxh3(stored bytes)
 *             | u64 null_count | u8 has_minmax | u64 min | u64 max
 *
 * Blob columns (layout 1) have index pages instead of value pages: `rows` entries of
 * u64 offset | u64 size | u64 xxh3(blob), size UINT64_MAX meaning NULL. Blob bytes are written as given.
 * Pages of different columns may interleave: the writer flushes each column's page when it fills, so a
 * fragment of any size streams through bounded memory.
 */
#include "format.h"

#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

#define TAIL_SIZE 24
#define HEADER_SIZE 8
#define BLOB_ENTRY_SIZE 24
#define BLOB_NULL UINT64_MAX
#define ZSTD_LEVEL 1

typedef struct page_meta {
    uint64_t offset;
    uint32_t stored_size;
    uint32_t raw_size;
    uint32_t rows;
    uint8_t codec;
    uint64_t hash;
    fl_page_stats stats;
} page_meta;

typedef struct col_writer {
    fl_field field;             /* copy of the column's field */
    int layout;
    fl_array pending;           /* paged: values not yet written */
    fl_buf blob_index;          /* blob: entries not yet written */
    uint32_t blob_pending;      /* blob: entries in blob_index */
    page_meta *pages;
    uint32_t n_pages;
    size_t cap_pages;
} col_writer;

struct fl_datafile_writer {
    fl_wfile *file;
    int n_cols;
    col_writer *cols;
    int64_t num_rows;
    fl_buf scratch;             /* raw page encoding */
    void *zbuf;                 /* compression output */
    size_t zcap;
    ZSTD_CCtx *zctx;            /* reused across pages: a fresh context per page costs an mmap */
};

static int add_page(col_writer *c, const page_meta *m) {
    if (!fl_reserve((void **)&c->pages, &c->cap_pages, (size_t)c->n_pages + 1, sizeof *c->pages, 8)) return FL_ENOMEM;
    c->pages[c->n_pages++] = *m;
    return FL_OK;
}

static void col_writer_clear(col_writer *c) {
    fl_field_clear(&c->field);
    fl_array_clear(&c->pending);
    fl_buf_free(&c->blob_index);
    fl_free(c->pages);
}

static void writer_free(fl_datafile_writer *w) {
    for (int i = 0; i < w->n_cols; i++) col_writer_clear(&w->cols[i]);
    fl_free(w->cols);
    fl_buf_free(&w->scratch);
    fl_free(w->zbuf);
    ZSTD_freeCCtx(w->zctx);
    fl_free(w);
}

int fl_datafile_writer_open(const char *path, const fl_field *fields, int n_fields, fl_datafile_writer **out,
                            fl_error *err) {
    *out = NULL;
    fl_datafile_writer *w = fl_calloc(1, sizeof *w);
    if (!w || !(w->cols = fl_calloc((size_t)(n_fields ? n_fields : 1), sizeof *w->cols))) {
        fl_free(w);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n_fields; i++) {
        col_writer *c = &w->cols[i];
        w->n_cols = i + 1;
        if (fl_field_copy_into(&c->field, &fields[i]) != FL_OK || fl_array_init(&c->pending, &fields[i]) != FL_OK) {
            writer_free(w);
            return fl_error_set(err, FL_ENOMEM, "out of memory");
        }
        c->layout = fields[i].type == FL_TYPE_BINARY ? FL_LAYOUT_BLOB : FL_LAYOUT_PAGED;
    }
    int rc = fl_io_writer_open(path, &w->file, err);
    if (rc == FL_OK) {
        uint8_t header[HEADER_SIZE];
        memcpy(header, FL_DATAFILE_MAGIC, 4);
        fl_store_u32(header + 4, FL_DATAFILE_FORMAT);
        rc = fl_io_writer_write(w->file, header, sizeof header, err);
        if (rc != FL_OK) fl_io_writer_abort(w->file);
    }
    if (rc != FL_OK) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return FL_OK;
}

/* Writes stored page bytes and records the page. */
static int emit_page(fl_datafile_writer *w, col_writer *c, const uint8_t *stored, size_t stored_size, size_t raw_size,
                     uint32_t rows, uint8_t codec, const fl_page_stats *stats, fl_error *err) {
    if (stored_size > FL_MAX_PAGE_BYTES || raw_size > FL_MAX_PAGE_BYTES)
        return fl_error_set(err, FL_EINVAL, "column '%s': a page of %zu bytes exceeds the 1 GiB page limit (one value is too large)",
                            c->field.name, raw_size);
    page_meta m = {fl_io_writer_offset(w->file), (uint32_t)stored_size, (uint32_t)raw_size, rows, codec,
                   fl_hash64(stored, stored_size), {0}};
    if (stats) m.stats = *stats;
    FL_RETURN_NOT_OK(fl_io_writer_write(w->file, stored, stored_size, err));
    return add_page(c, &m) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
}

static int flush_paged(fl_datafile_writer *w, col_writer *c, fl_error *err) {
    fl_array *a = &c->pending;
    if (a->length == 0) return FL_OK;
    fl_page_stats stats;
    fl_page_compute_stats(a, 0, a->length, &stats);
    w->scratch.size = 0;
    fl_page_encode(&w->scratch, a, 0, a->length);
    if (w->scratch.failed) return fl_error_set(err, FL_ENOMEM, "out of memory encoding a page");
    const uint8_t *stored = w->scratch.data;
    size_t stored_size = w->scratch.size;
    uint8_t codec = FL_CODEC_NONE;
    if (w->scratch.size >= 128) {
        size_t bound = ZSTD_compressBound(w->scratch.size);
        if (bound > w->zcap) {
            void *z = fl_realloc(w->zbuf, bound);
            if (!z) return fl_error_set(err, FL_ENOMEM, "out of memory");
            w->zbuf = z;
            w->zcap = bound;
        }
        if (!w->zctx && !(w->zctx = ZSTD_createCCtx())) return fl_error_set(err, FL_ENOMEM, "out of memory");
        size_t zn = ZSTD_compressCCtx(w->zctx, w->zbuf, w->zcap, w->scratch.data, w->scratch.size, ZSTD_LEVEL);
        /* Keep compression only when it saves at least an eighth: decompressing costs time on every read. */
        if (!ZSTD_isError(zn) && zn < w->scratch.size - w->scratch.size / 8) {
            stored = w->zbuf;
            stored_size = zn;
            codec = FL_CODEC_ZSTD;
        }
    }
    FL_RETURN_NOT_OK(emit_page(w, c, stored, stored_size, w->scratch.size, (uint32_t)a->length, codec, &stats, err));
    fl_array_reset(a);
    return FL_OK;
}

static int flush_blob_index(fl_datafile_writer *w, col_writer *c, fl_error *err) {
    if (c->blob_pending == 0) return FL_OK;
    if (c->blob_index.failed) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_page_stats stats = {0};
    for (uint32_t i = 0; i < c->blob_pending; i++) stats.null_count += fl_load_u64(c->blob_index.data + i * BLOB_ENTRY_SIZE + 8) == BLOB_NULL;
    FL_RETURN_NOT_OK(emit_page(w, c, c->blob_index.data, c->blob_index.size, c->blob_index.size, c->blob_pending,
                               FL_CODEC_NONE, &stats, err));
    c->blob_index.size = 0;
    c->blob_pending = 0;
    return FL_OK;
}

typedef struct hash_job {
    const fl_array *array;
    int64_t start, count;
    uint64_t *out;              /* count checksums */
} hash_job;

static void *hash_blobs(void *arg) {
    hash_job *j = arg;
    for (int64_t i = 0; i < j->count; i++) {
        size_t n;
        const uint8_t *p = fl_array_get_bytes(j->array, j->start + i, &n);
        j->out[i] = fl_array_is_null(j->array, j->start + i) ? 0 : fl_hash64(p, n);
    }
    return NULL;
}

/* Runs of blob bytes at least this large are checksummed on a second thread while the first one writes. */
#define PARALLEL_HASH_BYTES (4 << 20)

static int write_blobs(fl_datafile_writer *w, col_writer *c, const fl_array *a, int64_t start, int64_t count, fl_error *err) {
    int64_t b0 = a->offsets[start], b1 = a->offsets[start + count];
    uint64_t base = fl_io_writer_offset(w->file);
    hash_job job = {a, start, count, fl_malloc((size_t)(count ? count : 1) * sizeof(uint64_t))};
    if (!job.out) return fl_error_set(err, FL_ENOMEM, "out of memory");
    pthread_t thread;
    bool threaded = b1 - b0 >= PARALLEL_HASH_BYTES && pthread_create(&thread, NULL, hash_blobs, &job) == 0;
    /* One write for the whole run: blob bytes of consecutive rows are already contiguous in the array. */
    int rc = fl_io_writer_write(w->file, (const uint8_t *)a->values + b0, (size_t)(b1 - b0), err);
    if (threaded) pthread_join(thread, NULL);
    else if (rc == FL_OK) hash_blobs(&job);
    for (int64_t i = start; rc == FL_OK && i < start + count; i++) {
        uint8_t e[BLOB_ENTRY_SIZE];
        if (fl_array_is_null(a, i)) {
            fl_store_u64(e, 0);
            fl_store_u64(e + 8, BLOB_NULL);
            fl_store_u64(e + 16, 0);
        } else {
            fl_store_u64(e, base + (uint64_t)(a->offsets[i] - b0));
            fl_store_u64(e + 8, (uint64_t)(a->offsets[i + 1] - a->offsets[i]));
            fl_store_u64(e + 16, job.out[i - start]);
        }
        fl_buf_append(&c->blob_index, e, sizeof e);
        if (++c->blob_pending == FL_BLOB_INDEX_ROWS) rc = flush_blob_index(w, c, err);
    }
    fl_free(job.out);
    return rc;
}

int fl_datafile_writer_write(fl_datafile_writer *w, const fl_array *const *columns, int64_t start, int64_t count,
                             fl_error *err) {
    for (int i = 0; i < w->n_cols; i++) {
        col_writer *c = &w->cols[i];
        const fl_array *a = columns[i];
        if (a->type != c->field.type || a->length < start + count)
            return fl_error_set(err, FL_EINVAL, "column '%s': array does not match the file's column", c->field.name);
        if (c->layout == FL_LAYOUT_BLOB) {
            FL_RETURN_NOT_OK(write_blobs(w, c, a, start, count, err));
            continue;
        }
        int64_t done = 0;
        while (done < count) {
            /* Rows per page from the average encoded size of the input, so pages land near the target. */
            int64_t left = count - done;
            uint64_t bytes = fl_array_range_bytes(a, start + done, left);
            /* Wide vectors (embeddings) get smaller pages: they are read a row at a time (search results,
             * re-ranking), and a read decodes its whole page. */
            uint64_t target = a->type == FL_TYPE_FIXED_SIZE_LIST && bytes / (uint64_t)left >= FL_VECTOR_ROW_BYTES ? FL_VECTOR_PAGE_BYTES
                                                                                                            : FL_PAGE_TARGET_BYTES;
            int64_t per_page = bytes ? (int64_t)(target * (uint64_t)left / bytes) : FL_PAGE_MAX_ROWS;
            if (per_page < 1) per_page = 1;
            if (per_page > FL_PAGE_MAX_ROWS) per_page = FL_PAGE_MAX_ROWS;
            int64_t room = per_page - c->pending.length;
            if (room < 1) room = 1;
            int64_t take = left < room ? left : room;
            if (fl_array_append_range(&c->pending, a, start + done, take) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            done += take;
            if (c->pending.length >= per_page) FL_RETURN_NOT_OK(flush_paged(w, c, err));
        }
    }
    w->num_rows += count;
    return FL_OK;
}

int fl_datafile_writer_finish(fl_datafile_writer *w, uint64_t *size, fl_error *err) {
    int rc = FL_OK;
    for (int i = 0; i < w->n_cols && rc == FL_OK; i++)
        rc = w->cols[i].layout == FL_LAYOUT_BLOB ? flush_blob_index(w, &w->cols[i], err) : flush_paged(w, &w->cols[i], err);
    fl_buf footer;
    fl_buf_init(&footer);
    if (rc == FL_OK) {
        fl_buf_put_u64(&footer, (uint64_t)w->num_rows);
        fl_buf_put_u32(&footer, (uint32_t)w->n_cols);
        for (int i = 0; i < w->n_cols; i++) {
            col_writer *c = &w->cols[i];
            fl_field_encode(&footer, &c->field);
            fl_buf_put_u8(&footer, (uint8_t)c->layout);
            fl_buf_put_u32(&footer, c->n_pages);
            for (uint32_t p = 0; p < c->n_pages; p++) {
                page_meta *m = &c->pages[p];
                fl_buf_put_u64(&footer, m->offset);
                fl_buf_put_u32(&footer, m->stored_size);
                fl_buf_put_u32(&footer, m->raw_size);
                fl_buf_put_u32(&footer, m->rows);
                fl_buf_put_u8(&footer, m->codec);
                fl_buf_put_u64(&footer, m->hash);
                fl_buf_put_u64(&footer, m->stats.null_count);
                fl_buf_put_u8(&footer, m->stats.has_minmax);
                fl_buf_put_u64(&footer, m->stats.min);
                fl_buf_put_u64(&footer, m->stats.max);
            }
        }
        if (footer.failed) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    if (rc == FL_OK) {
        uint8_t tail[TAIL_SIZE];
        fl_store_u64(tail, fl_io_writer_offset(w->file));
        fl_store_u64(tail + 8, fl_hash64(footer.data, footer.size));
        fl_store_u32(tail + 16, FL_DATAFILE_FORMAT);
        memcpy(tail + 20, FL_DATAFILE_TAIL_MAGIC, 4);
        rc = fl_io_writer_write(w->file, footer.data, footer.size, err);
        if (rc == FL_OK) rc = fl_io_writer_write(w->file, tail, sizeof tail, err);
    }
    fl_buf_free(&footer);
    if (rc == FL_OK) {
        uint64_t n = fl_io_writer_offset(w->file);
        rc = fl_io_writer_finish(w->file, err);
        if (rc == FL_OK && size) *size = n;
    } else {
        fl_io_writer_abort(w->file);
    }
    writer_free(w);
    return rc;
}

void fl_datafile_writer_abort(fl_datafile_writer *w) {
    if (!w) return;
    fl_io_writer_abort(w->file);
    writer_free(w);
}

/* ---- reading ---- */

/* A decoded page kept for reuse: random reads (take, search results) often return to the same pages. */
typedef struct page_slot {
    int32_t page;               /* -1: empty */
    fl_array values;            /* paged: decoded values */
    uint8_t *index;             /* blob: verified index entries */
    size_t bytes;               /* raw size, for the budget */
    uint64_t used;              /* clock of the last use */
} page_slot;

#define PAGE_SLOTS 32                           /* decoded pages kept per column */
#define PAGE_CACHE_BYTES ((size_t)8 << 20)      /* and at most this much per data file */

typedef struct col_reader {
    fl_field field;
    int layout;
    uint32_t n_pages;
    page_meta *pages;
    int64_t *first_rows;        /* n_pages + 1 entries: first row of each page, then num_rows */
    page_slot *slots;           /* PAGE_SLOTS, allocated on first read */
    page_slot *cur;             /* the page load_page made current */
} col_reader;

struct fl_datafile {
    fl_rfile *file;
    char *path;
    uint64_t data_end;          /* footer offset: pages and blobs lie in [HEADER_SIZE, data_end) */
    int64_t num_rows;
    int n_cols;
    col_reader *cols;
    ZSTD_DCtx *zctx;            /* reused across pages */
    size_t cached_bytes;        /* raw bytes of every column's kept pages */
    uint64_t clock;
};

static void slot_clear(page_slot *sl) {
    fl_array_clear(&sl->values);
    fl_free(sl->index);
    memset(sl, 0, sizeof *sl);
    sl->page = -1;
}

void fl_datafile_close(fl_datafile *df) {
    if (!df) return;
    for (int i = 0; i < df->n_cols; i++) {
        col_reader *c = &df->cols[i];
        fl_field_clear(&c->field);
        fl_free(c->pages);
        fl_free(c->first_rows);
        for (int k = 0; c->slots && k < PAGE_SLOTS; k++) slot_clear(&c->slots[k]);
        fl_free(c->slots);
    }
    fl_free(df->cols);
    ZSTD_freeDCtx(df->zctx);
    fl_io_close(df->file);
    fl_free(df->path);
    fl_free(df);
}

int fl_datafile_parse_footer(const uint8_t *data, size_t size, uint64_t footer_offset, const char *what, fl_datafile **out,
                             fl_error *err) {
    *out = NULL;
    fl_datafile *df = fl_calloc(1, sizeof *df);
    if (!df || !(df->path = fl_strdup(what))) {
        fl_free(df);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    df->data_end = footer_offset;
    fl_error local;
    fl_error *e = err ? err : &local;
    fl_error_clear(e);
    fl_reader r;
    fl_reader_init(&r, data, size, footer_offset, what, e);
    uint64_t num_rows;
    uint32_t n_cols;
    if (!fl_get_u64(&r, &num_rows, "row count") || !fl_get_count(&r, &n_cols, 20, "column count")) goto fail;
    if (num_rows > ((uint64_t)1 << 40)) {
        fl_reader_fail(&r, "row count %llu out of range", (unsigned long long)num_rows);
        goto fail;
    }
    df->num_rows = (int64_t)num_rows;
    if (n_cols && !(df->cols = fl_calloc(n_cols, sizeof *df->cols))) goto oom;
    for (uint32_t i = 0; i < n_cols; i++) {
        col_reader *c = &df->cols[i];
        df->n_cols = (int)i + 1;
        uint8_t layout;
        uint32_t n_pages;
        if (!fl_field_decode(&r, &c->field, 0) || !fl_get_u8(&r, &layout, "column layout") ||
            !fl_get_count(&r, &n_pages, 54, "page count"))
            goto fail;
        if (layout > FL_LAYOUT_BLOB || (layout == FL_LAYOUT_BLOB) != (c->field.type == FL_TYPE_BINARY)) {
            fl_reader_fail(&r, "column '%s': layout %u does not fit type %s", c->field.name, layout, fl_type_name(c->field.type));
            goto fail;
        }
        for (uint32_t k = 0; k < i; k++)
            if (df->cols[k].field.id == c->field.id) {
                fl_reader_fail(&r, "field id %d stored twice", c->field.id);
                goto fail;
            }
        c->layout = layout;
        c->n_pages = n_pages;
        if (!(c->pages = fl_calloc(n_pages ? n_pages : 1, sizeof *c->pages)) ||
            !(c->first_rows = fl_calloc((size_t)n_pages + 1, sizeof *c->first_rows)))
            goto oom;
        int64_t rows = 0;
        for (uint32_t p = 0; p < n_pages; p++) {
            page_meta *m = &c->pages[p];
            size_t at = r.pos;
            uint8_t has_minmax = 0;
            if (!fl_get_u64(&r, &m->offset, "page offset") || !fl_get_u32(&r, &m->stored_size, "page size") ||
                !fl_get_u32(&r, &m->raw_size, "page raw size") || !fl_get_u32(&r, &m->rows, "page rows") ||
                !fl_get_u8(&r, &m->codec, "page codec") || !fl_get_u64(&r, &m->hash, "page checksum") ||
                !fl_get_u64(&r, &m->stats.null_count, "page null count") || !fl_get_u8(&r, &has_minmax, "page stats flag") ||
                !fl_get_u64(&r, &m->stats.min, "page min") || !fl_get_u64(&r, &m->stats.max, "page max"))
                goto fail;
            bool bad = m->offset < HEADER_SIZE || m->offset > footer_offset || m->stored_size > footer_offset - m->offset ||
                       m->codec > FL_CODEC_ZSTD || m->rows == 0 || m->stats.null_count > m->rows ||
                       has_minmax > 1;
            m->stats.has_minmax = has_minmax == 1;
            if (layout == FL_LAYOUT_BLOB)
                bad = bad || m->codec != FL_CODEC_NONE || m->stored_size != (uint64_t)m->rows * BLOB_ENTRY_SIZE || m->raw_size != m->stored_size;
            if (m->codec == FL_CODEC_NONE && m->raw_size != m->stored_size) bad = true;
            if (m->raw_size > FL_MAX_PAGE_BYTES) bad = true;
            if (bad) {
                r.pos = at;
                fl_reader_fail(&r, "column '%s' page %u: inconsistent page entry", c->field.name, p);
                goto fail;
            }
            c->first_rows[p] = rows;
            rows += m->rows;
        }
        c->first_rows[n_pages] = rows;
        if (rows != df->num_rows) {
            fl_reader_fail(&r, "column '%s' has %lld rows in its pages, file says %lld", c->field.name, (long long)rows, (long long)df->num_rows);
            goto fail;
        }
    }
    if (r.pos != r.size) {
        fl_reader_fail(&r, "%zu unexpected bytes after the footer", r.size - r.pos);
        goto fail;
    }
    *out = df;
    return FL_OK;
oom:
    fl_error_set(e, FL_ENOMEM, "%s: out of memory", what);
fail:
    fl_datafile_close(df);
    return e->code ? e->code : FL_ECORRUPT;
}

int fl_datafile_open(const char *path, uint64_t expected_size, fl_datafile **out, fl_error *err) {
    *out = NULL;
    fl_rfile *f;
    FL_RETURN_NOT_OK(fl_io_open(path, &f, err));
    uint64_t size = fl_io_size(f);
    int rc = FL_OK;
    uint8_t *buf = NULL;
    if (expected_size && size != expected_size) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: size is %llu bytes, the manifest says %llu (truncated or replaced)", path,
                          (unsigned long long)size, (unsigned long long)expected_size);
        goto done;
    }
    if (size < HEADER_SIZE + TAIL_SIZE) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte 0: file of %llu bytes is too short for a data file", path, (unsigned long long)size);
        goto done;
    }
    /* One read of the end of the file usually brings the tail and the whole footer. */
    size_t want = size < 65536 ? (size_t)size : 65536;
    if (!(buf = fl_malloc(want))) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto done;
    }
    FL_GOTO_NOT_OK(rc, fl_io_pread(f, size - want, want, buf, err), done);
    const uint8_t *tail = buf + want - TAIL_SIZE;
    /* The header is checked when the end read covered it; otherwise the tail magic and the footer
     * checksum vouch for the file and the extra read is saved (take latency is all about reads). */
    const uint8_t *header = want == size ? buf : NULL;
    if ((header && memcmp(header, FL_DATAFILE_MAGIC, 4)) || memcmp(tail + 20, FL_DATAFILE_TAIL_MAGIC, 4)) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: not a framelake data file (bad magic)", path,
                          header && memcmp(header, FL_DATAFILE_MAGIC, 4) ? 0ULL : (unsigned long long)(size - 4));
        goto done;
    }
    uint32_t format = fl_load_u32(tail + 16);
    if (format != FL_DATAFILE_FORMAT || (header && fl_load_u32(header + 4) != FL_DATAFILE_FORMAT)) {
        rc = fl_error_set(err, FL_EUNSUPPORTED, "%s: data file format %u is not supported (this build reads %d)", path, format, FL_DATAFILE_FORMAT);
        goto done;
    }
    uint64_t footer_offset = fl_load_u64(tail);
    if (footer_offset < HEADER_SIZE || footer_offset > size - TAIL_SIZE) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: footer offset %llu out of range", path, (unsigned long long)(size - TAIL_SIZE),
                          (unsigned long long)footer_offset);
        goto done;
    }
    size_t footer_size = (size_t)(size - TAIL_SIZE - footer_offset);
    uint64_t footer_hash = fl_load_u64(tail + 8);
    const uint8_t *footer;
    if (footer_size + TAIL_SIZE <= want) {
        footer = buf + want - TAIL_SIZE - footer_size;
    } else {
        uint8_t *big = fl_malloc(footer_size);
        if (!big) {
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            goto done;
        }
        fl_free(buf);
        buf = big;
        FL_GOTO_NOT_OK(rc, fl_io_pread(f, footer_offset, footer_size, buf, err), done);
        footer = buf;
    }
    if (fl_hash64(footer, footer_size) != footer_hash) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: footer checksum mismatch", path, (unsigned long long)footer_offset);
        goto done;
    }
    fl_datafile *df;
    FL_GOTO_NOT_OK(rc, fl_datafile_parse_footer(footer, footer_size, footer_offset, path, &df, err), done);
    df->file = f;
    f = NULL;
    *out = df;
done:
    fl_free(buf);
    fl_io_close(f);
    return rc;
}

int64_t fl_datafile_num_rows(const fl_datafile *df) { return df->num_rows; }

int fl_datafile_find(const fl_datafile *df, int32_t field_id) {
    for (int i = 0; i < df->n_cols; i++)
        if (df->cols[i].field.id == field_id) return i;
    return -1;
}

const fl_field *fl_datafile_field(const fl_datafile *df, int column) { return &df->cols[column].field; }

int fl_datafile_page_count(const fl_datafile *df, int column) { return (int)df->cols[column].n_pages; }

void fl_datafile_page_info(const fl_datafile *df, int column, int page, int64_t *first_row, int64_t *num_rows, fl_page_stats *stats) {
    const col_reader *c = &df->cols[column];
    if (first_row) *first_row = c->first_rows[page];
    if (num_rows) *num_rows = c->pages[page].rows;
    if (stats) *stats = c->pages[page].stats;
}

/* Page holding `row`: binary search over first_rows. */
static uint32_t page_of(const col_reader *c, int64_t row) {
    uint32_t lo = 0, hi = c->n_pages;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (c->first_rows[mid] <= row) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Reads and verifies the stored bytes of a page; returns the raw (decompressed) bytes in *raw. */
static int load_page_bytes(fl_datafile *df, col_reader *c, uint32_t p, uint8_t **raw, fl_error *err) {
    page_meta *m = &c->pages[p];
    *raw = NULL;
    uint8_t *stored = fl_malloc(m->stored_size ? m->stored_size : 1);
    if (!stored) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = fl_io_pread(df->file, m->offset, m->stored_size, stored, err);
    if (rc == FL_OK && fl_hash64(stored, m->stored_size) != m->hash)
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: checksum mismatch in page %u of column '%s'", df->path,
                          (unsigned long long)m->offset, p, c->field.name);
    if (rc != FL_OK || m->codec == FL_CODEC_NONE) {
        if (rc != FL_OK) fl_free(stored);
        else *raw = stored;
        return rc;
    }
    /* The frame header must agree with the footer before the footer's size is trusted for an allocation. */
    unsigned long long framed = ZSTD_getFrameContentSize(stored, m->stored_size);
    if (framed != m->raw_size) {
        fl_free(stored);
        return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: page %u of column '%s' is not a zstd frame of %u bytes", df->path,
                            (unsigned long long)m->offset, p, c->field.name, m->raw_size);
    }
    uint8_t *out = fl_malloc(m->raw_size ? m->raw_size : 1);
    if (!out) {
        fl_free(stored);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    if (!df->zctx && !(df->zctx = ZSTD_createDCtx())) {
        fl_free(out);
        fl_free(stored);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    size_t n = ZSTD_decompressDCtx(df->zctx, out, m->raw_size, stored, m->stored_size);
    fl_free(stored);
    if (ZSTD_isError(n) || n != m->raw_size) {
        fl_free(out);
        return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: page %u of column '%s' does not decompress to %u bytes", df->path,
                            (unsigned long long)m->offset, p, c->field.name, m->raw_size);
    }
    *raw = out;
    return FL_OK;
}

/* Makes page p of column c current (c->cur), decoding it unless a slot keeps it. A new page takes the
 * column's least recently used slot (the current one when p follows it); past the file's byte budget, other
 * columns' least recently used pages go too (never the current page of a column). */
static int load_page(fl_datafile *df, col_reader *c, uint32_t p, fl_error *err) {
    if (c->cur && c->cur->page == (int32_t)p) {
        c->cur->used = ++df->clock;
        return FL_OK;
    }
    if (!c->slots) {
        if (!(c->slots = fl_calloc(PAGE_SLOTS, sizeof *c->slots))) return fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int k = 0; k < PAGE_SLOTS; k++) c->slots[k].page = -1;
    }
    page_slot *victim = &c->slots[0];
    for (int k = 0; k < PAGE_SLOTS; k++) {
        page_slot *sl = &c->slots[k];
        if (sl->page == (int32_t)p) {
            sl->used = ++df->clock;
            c->cur = sl;
            return FL_OK;
        }
        if (sl->page < 0 ? victim->page >= 0 : victim->page >= 0 && sl->used < victim->used) victim = sl;
    }
    /* Reading on from the current page (a scan): that page takes the next one's place instead of another slot.
     * A scan then keeps one decoded page per column, and its buffers are freed and reallocated at the same
     * size rather than the heap growing by a cache's worth of pages it will not read again. */
    if (c->cur && c->cur->page >= 0 && (uint32_t)c->cur->page + 1 == p) victim = c->cur;
    df->cached_bytes -= victim->bytes;
    slot_clear(victim);
    if (c->cur == victim) c->cur = NULL;
    while (df->cached_bytes + c->pages[p].raw_size > PAGE_CACHE_BYTES) {
        page_slot *lru = NULL;
        for (int i = 0; i < df->n_cols; i++)
            for (int k = 0; df->cols[i].slots && k < PAGE_SLOTS; k++) {
                page_slot *sl = &df->cols[i].slots[k];
                if (sl->page >= 0 && sl != df->cols[i].cur && (!lru || sl->used < lru->used)) lru = sl;
            }
        if (!lru) break;
        df->cached_bytes -= lru->bytes;
        slot_clear(lru);
    }
    uint8_t *raw;
    FL_RETURN_NOT_OK(load_page_bytes(df, c, p, &raw, err));
    page_meta *m = &c->pages[p];
    if (c->layout == FL_LAYOUT_BLOB) {
        for (uint32_t i = 0; i < m->rows; i++) {
            uint64_t off = fl_load_u64(raw + i * BLOB_ENTRY_SIZE), size = fl_load_u64(raw + i * BLOB_ENTRY_SIZE + 8);
            if (size != BLOB_NULL && (off < HEADER_SIZE || off > df->data_end || size > df->data_end - off)) {
                fl_free(raw);
                return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: blob entry %u of column '%s' points outside the file", df->path,
                                    (unsigned long long)(m->offset + i * BLOB_ENTRY_SIZE), i, c->field.name);
            }
        }
        victim->index = raw;
    } else {
        int rc = fl_page_decode(raw, m->raw_size, &c->field, m->rows, &victim->values, df->path, m->offset, err);
        fl_free(raw);
        if (rc != FL_OK) {
            slot_clear(victim);
            return rc;
        }
    }
    victim->page = (int32_t)p;
    victim->bytes = m->raw_size;
    victim->used = ++df->clock;
    df->cached_bytes += victim->bytes;
    c->cur = victim;
    return FL_OK;
}

/* Appends blob rows [lo, hi) of the cached index page; reads each run of adjacent blobs with one pread. */
static int read_blobs(fl_datafile *df, col_reader *c, uint32_t p, int64_t lo, int64_t hi, fl_array *dst, fl_error *err) {
    const uint8_t *idx = c->cur->index;
    int64_t i = lo;
    while (i < hi) {
        uint64_t off = fl_load_u64(idx + i * BLOB_ENTRY_SIZE), size = fl_load_u64(idx + i * BLOB_ENTRY_SIZE + 8);
        if (size == BLOB_NULL) {
            if (fl_array_append_null(dst) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            i++;
            continue;
        }
        int64_t j = i + 1;
        uint64_t end = off + size;
        while (j < hi) {
            uint64_t o2 = fl_load_u64(idx + j * BLOB_ENTRY_SIZE), s2 = fl_load_u64(idx + j * BLOB_ENTRY_SIZE + 8);
            if (s2 == BLOB_NULL || o2 != end) break;
            end += s2;
            j++;
        }
        if (fl_array_reserve_values(dst, (int64_t)(end - off)) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        uint8_t *first = NULL;
        for (int64_t k = i; k < j; k++) {
            uint8_t *w;
            if (fl_array_append_uninit(dst, fl_load_u64(idx + k * BLOB_ENTRY_SIZE + 8), &w) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            if (k == i) first = w;
        }
        FL_RETURN_NOT_OK(fl_io_pread(df->file, off, (size_t)(end - off), first, err));
        const uint8_t *q = first;
        for (int64_t k = i; k < j; k++) {
            uint64_t n = fl_load_u64(idx + k * BLOB_ENTRY_SIZE + 8);
            if (fl_hash64(q, n) != fl_load_u64(idx + k * BLOB_ENTRY_SIZE + 16))
                return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: checksum mismatch in blob of row %lld, column '%s'", df->path,
                                    (unsigned long long)fl_load_u64(idx + k * BLOB_ENTRY_SIZE), (long long)(c->first_rows[p] + k), c->field.name);
            q += n;
        }
        i = j;
    }
    return FL_OK;
}

int fl_datafile_read_range(fl_datafile *df, int column, int64_t start, int64_t count, fl_array *dst, fl_error *err) {
    col_reader *c = &df->cols[column];
    if (start < 0 || count < 0 || start + count > df->num_rows)
        return fl_error_set(err, FL_EINVAL, "%s: rows [%lld, %lld) outside the file's %lld rows", df->path, (long long)start,
                            (long long)(start + count), (long long)df->num_rows);
    int64_t row = start, end = start + count;
    while (row < end) {
        uint32_t p = page_of(c, row);
        FL_RETURN_NOT_OK(load_page(df, c, p, err));
        int64_t lo = row - c->first_rows[p];
        int64_t hi = (end < c->first_rows[p + 1] ? end : c->first_rows[p + 1]) - c->first_rows[p];
        if (c->layout == FL_LAYOUT_BLOB) FL_RETURN_NOT_OK(read_blobs(df, c, p, lo, hi, dst, err));
        else if (fl_array_append_range(dst, &c->cur->values, lo, hi - lo) != FL_OK)
            return fl_error_set(err, FL_ETYPE, "%s: column '%s' cannot be appended to the requested array", df->path, c->field.name);
        row = c->first_rows[p] + hi;
    }
    return FL_OK;
}

int fl_datafile_read_row(fl_datafile *df, int column, int64_t row, fl_array *dst, fl_error *err) {
    return fl_datafile_read_range(df, column, row, 1, dst, err);
}
