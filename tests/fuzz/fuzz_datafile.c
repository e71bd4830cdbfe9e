/*
 * fuzz_datafile.c — libFuzzer target for the data file reader (src/format/datafile.c): fl_datafile_open
 * and everything it serves (fl_datafile_read_range / read_row / page_info), plus fl_datafile_parse_footer
 * called directly on the input bytes.
 *
 * The input is a whole .fld file. Before opening it, the harness recomputes every checksum it can find
 * (blob hashes in blob index pages, page hashes, the footer hash in the tail) on a copy, so mutations of
 * the footer and the pages reach the decoders instead of failing the checksum checks; the input as given
 * is also opened, which covers those checks. Files go to /tmp/fl-fuzz-<pid>.fld, reused across runs.
 * A column read that succeeds must yield a valid array of exactly the requested rows.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_datafile 600
 */
#include "format/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TAIL_BYTES 24
#define BLOB_ENTRY_BYTES 24
#define MAX_READ_ROWS 100000 /* read every row of a column only when it has at most this many */

/* Exploration aid, off in the Makefile build: -DFL_FUZZ_MAX_RAW_PAGE=<bytes> skips opening files with a
 * compressed page that claims more raw bytes than that, so a long run is not stuck on the known
 * huge-allocation finding (tests/fuzz/crashes/fuzz_datafile-zstd-raw-size-4g) once it has been reported. */
#ifdef FL_FUZZ_MAX_RAW_PAGE
static bool huge_page;
#endif

static char path[64];

static void remove_temp_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/fl-fuzz-%ld.fld", (long)getpid());
    atexit(remove_temp_file);
    return 0;
}

/*
 * Walks the footer of file image `f` (n bytes) the way the reader lays it out and rewrites the checksums
 * in place. Stops quietly at the first thing that does not parse. Returns the number of columns the
 * footer declares (or -1 when the tail or footer is unusable), which the caller uses once the library has
 * accepted the footer.
 */
static int fix_checksums(uint8_t *f, size_t n) {
    if (n < 8 + TAIL_BYTES) return -1;
    uint8_t *tail = f + n - TAIL_BYTES;
    uint64_t footer_offset = fl_load_u64(tail);
    if (footer_offset < 8 || footer_offset > n - TAIL_BYTES) return -1;
    uint8_t *footer = f + footer_offset;
    size_t footer_size = (size_t)(n - TAIL_BYTES - footer_offset);
    fl_reader r;
    fl_reader_init(&r, footer, footer_size, footer_offset, "fixup", NULL);
    uint64_t num_rows;
    uint32_t n_cols;
    int declared = -1;
    if (fl_get_u64(&r, &num_rows, "rows") && fl_get_count(&r, &n_cols, 20, "columns")) {
        declared = (int)n_cols;
        for (uint32_t c = 0; c < n_cols; c++) {
            fl_field field;
            uint8_t layout;
            uint32_t n_pages;
            if (!fl_field_decode(&r, &field, 0)) break;
            fl_field_clear(&field);
            if (!fl_get_u8(&r, &layout, "layout") || !fl_get_count(&r, &n_pages, 54, "pages")) break;
            for (uint32_t p = 0; p < n_pages; p++) {
                uint64_t offset, hash, skip64;
                uint32_t stored, raw, rows;
                uint8_t codec, skip8;
                if (!fl_get_u64(&r, &offset, "offset") || !fl_get_u32(&r, &stored, "stored") ||
                    !fl_get_u32(&r, &raw, "raw") || !fl_get_u32(&r, &rows, "rows") || !fl_get_u8(&r, &codec, "codec"))
                    goto done;
                size_t hash_at = r.pos;
                if (!fl_get_u64(&r, &hash, "hash") || !fl_get_u64(&r, &skip64, "nulls") || !fl_get_u8(&r, &skip8, "flag") ||
                    !fl_get_u64(&r, &skip64, "min") || !fl_get_u64(&r, &skip64, "max"))
                    goto done;
#ifdef FL_FUZZ_MAX_RAW_PAGE
                if (codec != 0 && raw > (uint64_t)FL_FUZZ_MAX_RAW_PAGE) huge_page = true;
#endif
                if (offset > footer_offset || stored > footer_offset - offset) continue;
                uint8_t *page = f + offset;
                if (layout == 1 && (uint64_t)rows * BLOB_ENTRY_BYTES == stored) {
                    for (uint32_t i = 0; i < rows; i++) {
                        uint8_t *e = page + (size_t)i * BLOB_ENTRY_BYTES;
                        uint64_t off = fl_load_u64(e), sz = fl_load_u64(e + 8);
                        if (off <= footer_offset && sz <= footer_offset - off)
                            fl_store_u64(e + 16, fl_hash64(f + off, (size_t)sz));
                    }
                }
                /* The footer may overlap the page bytes in a mutated file; hash what is there now. */
                fl_store_u64(footer + hash_at, fl_hash64(page, stored));
            }
        }
    }
done:
    fl_store_u64(tail + 8, fl_hash64(footer, footer_size));
    return declared;
}

static bool write_file(const uint8_t *data, size_t size) {
    /* A new inode each time: truncating a file that holds data makes ext4 flush it on close
     * (auto_da_alloc), which costs more than the whole decode. */
    unlink(path);
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = fwrite(data, 1, size, fp) == size;
    return fclose(fp) == 0 && ok;
}

static void check_rows(fl_datafile *df, int column, const fl_array *a, int64_t want) {
    fl_error err = {0};
    if (a->length != want || fl_array_validate(a, fl_datafile_field(df, column), &err) != FL_OK) {
        fprintf(stderr, "fuzz_datafile: column %d: read returned %lld values (wanted %lld) or an invalid array: %s\n", column,
                (long long)a->length, (long long)want, err.message);
        abort();
    }
}

static void read_column(fl_datafile *df, int column) {
    const fl_field *field = fl_datafile_field(df, column);
    int64_t rows = fl_datafile_num_rows(df);
    fl_error err = {0};
    fl_array a;
    /* Page metadata. */
    int pages = fl_datafile_page_count(df, column);
    for (int p = 0; p < pages; p++) {
        int64_t first, n;
        fl_page_stats stats;
        fl_datafile_page_info(df, column, p, &first, &n, &stats);
        if (first < 0 || n <= 0 || first + n > rows || stats.null_count > (uint64_t)n) abort();
    }
    /* Every row at once (bounded), then single rows through the page cache. */
    int64_t want = rows <= MAX_READ_ROWS ? rows : MAX_READ_ROWS;
    if (fl_array_init(&a, field) != FL_OK) return;
    if (fl_datafile_read_range(df, column, rows - want, want, &a, &err) == FL_OK) check_rows(df, column, &a, want);
    fl_array_clear(&a);
    if (rows > 0) {
        int64_t picks[] = {0, rows / 2, rows - 1, rows / 3, 1 % rows};
        for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
            if (fl_array_init(&a, field) != FL_OK) return;
            if (fl_datafile_read_row(df, column, picks[i], &a, &err) == FL_OK) check_rows(df, column, &a, 1);
            fl_array_clear(&a);
        }
    }
    /* Requests outside the file are refused, not served. */
    if (fl_array_init(&a, field) != FL_OK) return;
    if (fl_datafile_read_range(df, column, rows, 1, &a, &err) == FL_OK ||
        fl_datafile_read_range(df, column, -1, 1, &a, &err) == FL_OK)
        abort();
    fl_array_clear(&a);
}

static void open_and_read(const uint8_t *data, size_t size, int n_cols) {
    if (!write_file(data, size)) return;
    fl_datafile *df = NULL;
    fl_error err = {0};
    int rc = fl_datafile_open(path, 0, &df, &err);
    if (rc != FL_OK) {
        if (df || err.code != rc || !err.message[0]) abort();
        return;
    }
    /* Also exercise the expected-size check against the real size. */
    fl_datafile *again = NULL;
    if (fl_datafile_open(path, (uint64_t)size + 1, &again, &err) == FL_OK) abort();
    if (n_cols < 0) abort(); /* the library accepted a footer the walker could not even start on */
    for (int c = 0; c < n_cols; c++) {
        if (fl_datafile_find(df, fl_datafile_field(df, c)->id) != c) abort();
        read_column(df, c);
    }
    fl_datafile_close(df);
}

/* fl_datafile_parse_footer straight on footer bytes: no checksum in the way, no file behind it. */
static void parse_footer_only(const uint8_t *footer, size_t size, uint64_t footer_offset) {
    fl_datafile *df = NULL;
    fl_error err = {0};
    int rc = fl_datafile_parse_footer(footer, size, footer_offset, "fuzz-footer", &df, &err);
    if (rc != FL_OK) {
        if (df || err.code != rc || !err.message[0]) abort();
        return;
    }
    /* Accepted: the column count is the u32 after the u64 row count. */
    int64_t rows = fl_datafile_num_rows(df);
    int n_cols = (int)fl_load_u32(footer + 8);
    for (int c = 0; c < n_cols; c++) {
        if (fl_datafile_find(df, fl_datafile_field(df, c)->id) != c) abort();
        int pages = fl_datafile_page_count(df, c);
        int64_t total = 0;
        for (int p = 0; p < pages; p++) {
            int64_t first, n;
            fl_datafile_page_info(df, c, p, &first, &n, NULL);
            if (first != total || n <= 0) abort();
            total += n;
        }
        if (total != rows) abort();
    }
    fl_datafile_close(df);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The whole input as a footer that begins right after `size` bytes of page data. */
    parse_footer_only(data, size, (uint64_t)size + 8);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
#ifdef FL_FUZZ_MAX_RAW_PAGE
    huge_page = false;
#endif
    int n_cols = fix_checksums(copy, size);
    if (n_cols >= 0) {
        uint64_t footer_offset = fl_load_u64(copy + size - TAIL_BYTES);
        parse_footer_only(copy + footer_offset, (size_t)(size - TAIL_BYTES - footer_offset), footer_offset);
    }
#ifdef FL_FUZZ_MAX_RAW_PAGE
    if (huge_page) {
        free(copy);
        return 0;
    }
#endif
    open_and_read(copy, size, n_cols);
    /* The checksum fixes never touch the column count, so n_cols holds for the original bytes too. */
    if (memcmp(copy, data, size) != 0) open_and_read(data, size, n_cols);
    free(copy);
    return 0;
}
