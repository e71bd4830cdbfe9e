/*
 * ixfile.c — writing and reading index files (ixfile.h; layout in docs/FORMAT.md §18).
 *
 * The writer streams blocks through one fl_io writer and keeps the footer in memory; the reader keeps the
 * decoded footer (block references and boundary keys) and reads blocks on demand with one pread each.
 */
#include "ixfile.h"

#include <math.h>

/* ---- keys ---- */

int ix_key_cmp(const ix_key *a, const ix_key *b) {
    if (a->type == IX_KEY_STRING || b->type == IX_KEY_STRING) {
        size_t m = a->len < b->len ? a->len : b->len;
        int c = m ? memcmp(a->s, b->s, m) : 0;
        if (c) return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    if (a->type == IX_KEY_INT && b->type == IX_KEY_INT) return (a->i > b->i) - (a->i < b->i);
    double x = a->type == IX_KEY_INT ? (double)a->i : a->f, y = b->type == IX_KEY_INT ? (double)b->i : b->f;
    return (x > y) - (x < y);
}

uint64_t ix_sortable(const ix_key *k) {
    if (k->type == IX_KEY_INT) return (uint64_t)k->i ^ (1ULL << 63);
    double f = k->f == 0 ? 0.0 : k->f; /* -0.0 sorts with 0.0 */
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits >> 63 ? ~bits : bits | (1ULL << 63);
}

void ix_unsortable(uint64_t v, ix_key_type type, ix_key *out) {
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type == IX_KEY_INT) {
        out->i = (int64_t)(v ^ (1ULL << 63));
        return;
    }
    uint64_t bits = v >> 63 ? v & ~(1ULL << 63) : ~v;
    memcpy(&out->f, &bits, sizeof bits);
}

/* The key of btree entry i. */
static void btree_key(const ix_build *b, size_t i, ix_key *k) {
    if (b->key_type == IX_KEY_STRING) *k = b->dict[b->sort_keys[i]];
    else ix_unsortable(b->sort_keys[i], b->key_type, k);
}

static void put_key(fl_buf *b, const ix_key *k) {
    if (k->type == IX_KEY_INT) fl_buf_put_i64(b, k->i);
    else if (k->type == IX_KEY_FLOAT) fl_buf_put_f64(b, k->f);
    else {
        fl_buf_put_u32(b, (uint32_t)k->len);
        fl_buf_append(b, k->s, k->len);
    }
}

/* Reads a key of type t; string keys point into the reader's buffer. */
static bool get_key(fl_reader *r, ix_key_type t, ix_key *k, const char *field) {
    memset(k, 0, sizeof *k);
    k->type = t;
    if (t == IX_KEY_INT) return fl_get_i64(r, &k->i, field);
    if (t == IX_KEY_FLOAT) {
        if (!fl_get_f64(r, &k->f, field)) return false;
        if (isnan(k->f)) return fl_reader_fail(r, "%s is NaN", field);
        return true;
    }
    uint32_t len;
    if (!fl_get_u32(r, &len, field)) return false;
    if (len > FL_IX_MAX_KEY) return fl_reader_fail(r, "%s is %u bytes long", field, len);
    k->len = len;
    return fl_get_bytes(r, &k->s, len, field);
}

static void put_varint(fl_buf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    fl_buf_append(b, tmp, (size_t)n);
}

/* ---- writing ---- */

typedef struct block_ref {
    uint64_t offset;
    uint32_t size;
    uint32_t count;
    uint64_t hash;
} block_ref;

typedef struct writer {
    fl_wfile *w;
    fl_buf block;
    fl_error *err;
} writer;

/* Writes the pending block and describes it in *ref. */
static int flush_block(writer *wr, uint32_t count, block_ref *ref) {
    if (wr->block.failed) return fl_error_set(wr->err, FL_ENOMEM, "out of memory");
    if (wr->block.size > UINT32_MAX) return fl_error_set(wr->err, FL_EINVAL, "index block of %zu bytes is too large", wr->block.size);
    ref->offset = fl_io_writer_offset(wr->w);
    ref->size = (uint32_t)wr->block.size;
    ref->count = count;
    ref->hash = fl_hash64(wr->block.data, wr->block.size);
    int rc = wr->block.size ? fl_io_writer_write(wr->w, wr->block.data, wr->block.size, wr->err) : FL_OK;
    wr->block.size = 0;
    return rc;
}

static int write_postings(writer *wr, const ix_rows *rows, block_ref *ref) {
    if (rows->n > UINT32_MAX) return fl_error_set(wr->err, FL_EINVAL, "a row set of %zu rows is too large for one index block", rows->n);
    for (size_t i = 0; i < rows->n; i++) put_varint(&wr->block, i ? rows->ids[i] - rows->ids[i - 1] : rows->ids[0]);
    return flush_block(wr, (uint32_t)rows->n, ref);
}

static void put_ref(fl_buf *b, const block_ref *r) {
    fl_buf_put_u64(b, r->offset);
    fl_buf_put_u32(b, r->size);
    fl_buf_put_u32(b, r->count);
    fl_buf_put_u64(b, r->hash);
}

int ix_file_write(const char *path, const ix_build *b, uint64_t *size, fl_error *err) {
    writer wr = {.err = err};
    fl_buf footer;
    fl_buf_init(&wr.block);
    fl_buf_init(&footer);
    int rc = fl_io_writer_open(path, &wr.w, err);
    if (rc != FL_OK) return rc;
    uint8_t head[8];
    memcpy(head, FL_IX_MAGIC, 4);
    fl_store_u32(head + 4, FL_IX_FORMAT);
    rc = fl_io_writer_write(wr.w, head, sizeof head, err);
    fl_buf_put_u8(&footer, (uint8_t)b->kind);
    fl_buf_put_u8(&footer, (uint8_t)b->key_type);
    fl_buf_put_u64(&footer, b->rows_indexed);
    for (int s = 0; rc == FL_OK && s < IX_N_SETS; s++) {
        block_ref ref;
        rc = write_postings(&wr, &b->sets[s], &ref);
        put_ref(&footer, &ref);
    }
    if (b->kind == IX_BTREE) {
        /* Pages of consecutive entries; the footer keeps each page's first and last key. */
        fl_buf pages;
        fl_buf_init(&pages);
        uint32_t n_pages = 0;
        for (size_t i = 0; rc == FL_OK && i < b->n_entries;) {
            size_t j = i;
            ix_key k, first;
            btree_key(b, i, &first);
            while (j < b->n_entries && j - i < FL_IX_PAGE_ENTRIES && wr.block.size < FL_IX_PAGE_BYTES) {
                btree_key(b, j, &k);
                put_key(&wr.block, &k);
                fl_buf_put_u64(&wr.block, b->row_ids[j]);
                j++;
            }
            block_ref ref;
            rc = flush_block(&wr, (uint32_t)(j - i), &ref);
            put_ref(&pages, &ref);
            put_key(&pages, &first);
            put_key(&pages, &k);
            n_pages++;
            i = j;
        }
        fl_buf_put_u32(&footer, n_pages);
        fl_buf_append(&footer, pages.data, pages.size);
        if (pages.failed) footer.failed = true;
        fl_buf_free(&pages);
    } else {
        if (b->n_entries > UINT32_MAX) rc = fl_error_set(err, FL_EINVAL, "too many distinct keys");
        fl_buf_put_u32(&footer, (uint32_t)b->n_entries);
        for (size_t i = 0; rc == FL_OK && i < b->n_entries; i++) {
            block_ref ref;
            rc = write_postings(&wr, &b->postings[i], &ref);
            put_ref(&footer, &ref);
            put_key(&footer, &b->keys[i]);
        }
    }
    if (rc == FL_OK && footer.failed) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) {
        uint8_t tail[FL_IX_TAIL_SIZE];
        fl_store_u64(tail, fl_io_writer_offset(wr.w));
        fl_store_u64(tail + 8, footer.size);
        fl_store_u64(tail + 16, fl_hash64(footer.data, footer.size));
        fl_store_u32(tail + 24, FL_IX_FORMAT);
        memcpy(tail + 28, FL_IX_TAIL_MAGIC, 4);
        rc = fl_io_writer_write(wr.w, footer.data, footer.size, err);
        if (rc == FL_OK) rc = fl_io_writer_write(wr.w, tail, sizeof tail, err);
        if (rc == FL_OK) *size = fl_io_writer_offset(wr.w);
    }
    fl_buf_free(&wr.block);
    fl_buf_free(&footer);
    if (rc != FL_OK) {
        fl_io_writer_abort(wr.w);
        return rc;
    }
    return fl_io_writer_finish(wr.w, err);
}

/* ---- reading ---- */

typedef struct entry {
    block_ref ref;
    ix_key first, last;         /* btree: the page's bounds; postings: both are the key */
} entry;

struct ix_file {
    fl_rfile *rf;
    char *path;
    uint64_t size;
    ix_kind kind;
    ix_key_type key_type;
    uint8_t *footer;            /* decoded keys point into it */
    uint64_t footer_offset;
    block_ref sets[IX_N_SETS];
    uint32_t n_entries;
    entry *entries;
};

ix_kind ix_file_kind(const ix_file *f) { return f->kind; }
ix_key_type ix_file_key_type(const ix_file *f) { return f->key_type; }

void ix_file_close(ix_file *f) {
    if (!f) return;
    fl_io_close(f->rf);
    fl_free(f->path);
    fl_free(f->footer);
    fl_free(f->entries);
    fl_free(f);
}

static bool get_ref(fl_reader *r, const ix_file *f, block_ref *ref, const char *field) {
    uint64_t start = r->base + r->pos;
    if (!fl_get_u64(r, &ref->offset, field) || !fl_get_u32(r, &ref->size, field) || !fl_get_u32(r, &ref->count, field) ||
        !fl_get_u64(r, &ref->hash, field))
        return false;
    if (ref->offset < 8 || ref->offset > f->footer_offset || ref->size > f->footer_offset - ref->offset) {
        r->pos = (size_t)(start - r->base);
        return fl_reader_fail(r, "%s: block [%llu, +%u) lies outside the body", field, (unsigned long long)ref->offset, ref->size);
    }
    /* Every postings entry takes at least one byte, every btree entry at least 16. */
    if (ref->count > ref->size) {
        r->pos = (size_t)(start - r->base);
        return fl_reader_fail(r, "%s: %u entries cannot fit in %u bytes", field, ref->count, ref->size);
    }
    return true;
}

int ix_file_open(const char *path, ix_file **out, fl_error *err) {
    *out = NULL;
    ix_file *f = fl_calloc(1, sizeof *f);
    if (!f || !(f->path = fl_strdup(path))) {
        fl_free(f);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    int rc = fl_io_open(path, &f->rf, err);
    if (rc == FL_ENOTFOUND) rc = fl_error_set(err, FL_ECORRUPT, "%s: index file is missing", path);
    if (rc != FL_OK) {
        ix_file_close(f);
        return rc;
    }
    f->size = fl_io_size(f->rf);
    uint8_t tail[FL_IX_TAIL_SIZE];
    if (f->size < 8 + FL_IX_TAIL_SIZE) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte 0: %llu bytes is too short for an index file", path, (unsigned long long)f->size);
        goto fail;
    }
    uint64_t tail_at = f->size - FL_IX_TAIL_SIZE;
    FL_GOTO_NOT_OK(rc, fl_io_pread(f->rf, tail_at, sizeof tail, tail, err), fail);
    if (memcmp(tail + 28, FL_IX_TAIL_MAGIC, 4)) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: not an index file (bad tail magic)", path, (unsigned long long)(tail_at + 28));
        goto fail;
    }
    if (fl_load_u32(tail + 24) != FL_IX_FORMAT) {
        rc = fl_error_set(err, FL_EUNSUPPORTED, "%s: byte %llu: index file format %u is not supported", path, (unsigned long long)(tail_at + 24),
                          fl_load_u32(tail + 24));
        goto fail;
    }
    f->footer_offset = fl_load_u64(tail);
    uint64_t footer_size = fl_load_u64(tail + 8);
    if (f->footer_offset < 8 || f->footer_offset > tail_at || footer_size != tail_at - f->footer_offset) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: footer range [%llu, +%llu) does not end at the tail", path,
                          (unsigned long long)tail_at, (unsigned long long)f->footer_offset, (unsigned long long)footer_size);
        goto fail;
    }
    uint8_t head[8];
    FL_GOTO_NOT_OK(rc, fl_io_pread(f->rf, 0, sizeof head, head, err), fail);
    if (memcmp(head, FL_IX_MAGIC, 4) || fl_load_u32(head + 4) != FL_IX_FORMAT) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte 0: bad index file header", path);
        goto fail;
    }
    if (!(f->footer = fl_malloc(footer_size ? footer_size : 1))) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto fail;
    }
    FL_GOTO_NOT_OK(rc, fl_io_pread(f->rf, f->footer_offset, footer_size, f->footer, err), fail);
    if (fl_hash64(f->footer, footer_size) != fl_load_u64(tail + 16)) {
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: footer checksum mismatch", path, (unsigned long long)f->footer_offset);
        goto fail;
    }
    fl_reader r;
    fl_reader_init(&r, f->footer, footer_size, f->footer_offset, path, err);
    uint8_t kind, key_type;
    uint64_t rows;
    if (!fl_get_u8(&r, &kind, "index kind") || !fl_get_u8(&r, &key_type, "key type") || !fl_get_u64(&r, &rows, "rows")) goto bad;
    if (kind < IX_BTREE || kind > IX_LABEL_LIST) {
        fl_reader_fail(&r, "unknown index kind %u", kind);
        goto bad;
    }
    if (key_type < IX_KEY_INT || key_type > IX_KEY_STRING || (kind == IX_LABEL_LIST && key_type != IX_KEY_STRING)) {
        fl_reader_fail(&r, "key type %u does not fit index kind %u", key_type, kind);
        goto bad;
    }
    f->kind = kind;
    f->key_type = key_type;
    for (int s = 0; s < IX_N_SETS; s++)
        if (!get_ref(&r, f, &f->sets[s], "row set")) goto bad;
    uint32_t n;
    if (!fl_get_count(&r, &n, 24 + (key_type == IX_KEY_STRING ? 4 : 8), "entry count")) goto bad;
    if (n && !(f->entries = fl_calloc(n, sizeof *f->entries))) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto fail;
    }
    f->n_entries = n;
    for (uint32_t i = 0; i < n; i++) {
        entry *e = &f->entries[i];
        if (!get_ref(&r, f, &e->ref, kind == IX_BTREE ? "page" : "postings")) goto bad;
        if (kind == IX_BTREE) {
            if (!get_key(&r, key_type, &e->first, "page first key") || !get_key(&r, key_type, &e->last, "page last key")) goto bad;
            if (e->ref.count == 0) {
                fl_reader_fail(&r, "page %u is empty", i);
                goto bad;
            }
            if (ix_key_cmp(&e->first, &e->last) > 0 || (i && ix_key_cmp(&f->entries[i - 1].last, &e->first) > 0)) {
                fl_reader_fail(&r, "page %u keys are out of order", i);
                goto bad;
            }
        } else {
            if (!get_key(&r, key_type, &e->first, "key")) goto bad;
            e->last = e->first;
            if (e->ref.count == 0 || (i && ix_key_cmp(&f->entries[i - 1].first, &e->first) >= 0)) {
                fl_reader_fail(&r, "key %u is empty or out of order", i);
                goto bad;
            }
        }
    }
    if (r.pos != r.size) {
        fl_reader_fail(&r, "%zu unexpected bytes after the footer", r.size - r.pos);
        goto bad;
    }
    *out = f;
    return FL_OK;
bad:
    rc = err ? err->code : FL_ECORRUPT;
    if (rc == FL_OK) rc = FL_ECORRUPT;
fail:
    ix_file_close(f);
    return rc;
}

/* Reads and checks one block into a new buffer. */
static int read_block(ix_file *f, const block_ref *ref, uint8_t **out, fl_error *err) {
    *out = fl_malloc(ref->size ? ref->size : 1);
    if (!*out) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = ref->size ? fl_io_pread(f->rf, ref->offset, ref->size, *out, err) : FL_OK;
    if (rc == FL_OK && fl_hash64(*out, ref->size) != ref->hash)
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: block checksum mismatch", f->path, (unsigned long long)ref->offset);
    if (rc != FL_OK) {
        fl_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Decodes a postings block (strictly increasing delta-varint row ids) and appends them. */
static int read_postings(ix_file *f, const block_ref *ref, ix_rows *out, fl_error *err) {
    if (ref->count == 0 && ref->size == 0) return FL_OK;
    uint8_t *data;
    FL_RETURN_NOT_OK(read_block(f, ref, &data, err));
    if (!fl_reserve((void **)&out->ids, &out->cap, out->n + ref->count, sizeof *out->ids, 16)) {
        fl_free(data);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    size_t pos = 0;
    uint64_t prev = 0;
    int rc = FL_OK;
    for (uint32_t i = 0; i < ref->count && rc == FL_OK; i++) {
        uint64_t v = 0;
        int shift = 0;
        size_t start = pos;
        for (;;) {
            if (pos >= ref->size || shift > 63 || (shift == 63 && data[pos] > 1)) {
                rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: bad row id varint", f->path, (unsigned long long)(ref->offset + start));
                break;
            }
            uint8_t byte = data[pos++];
            v |= (uint64_t)(byte & 0x7F) << shift;
            shift += 7;
            if (!(byte & 0x80)) break;
        }
        if (rc != FL_OK) break;
        if (i && (v == 0 || prev + v < prev)) {
            rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: row ids are not increasing", f->path, (unsigned long long)(ref->offset + start));
            break;
        }
        prev = i ? prev + v : v;
        out->ids[out->n++] = prev;
    }
    if (rc == FL_OK && pos != ref->size)
        rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: %u row ids leave %zu bytes over", f->path, (unsigned long long)(ref->offset + pos),
                          ref->count, (size_t)ref->size - pos);
    fl_free(data);
    return rc;
}

int ix_file_read_set(ix_file *f, int which, ix_rows *out, fl_error *err) {
    if (which < 0 || which >= IX_N_SETS) return fl_error_set(err, FL_EINVAL, "no such row set");
    return read_postings(f, &f->sets[which], out, err);
}

/* Whether key k lies within the bounds. */
static bool above_lo(const ix_key *k, const ix_key *lo, bool incl) {
    if (!lo) return true;
    int c = ix_key_cmp(k, lo);
    return incl ? c >= 0 : c > 0;
}
static bool below_hi(const ix_key *k, const ix_key *hi, bool incl) {
    if (!hi) return true;
    int c = ix_key_cmp(k, hi);
    return incl ? c <= 0 : c < 0;
}

/* Decodes a btree page, checking order and bounds, and appends the row ids of entries within the range
 * (every entry when lo and hi are NULL). */
/*
 * The fixed-width page layout (int or float keys: 8-byte key, 8-byte row id per entry) decoded with plain
 * loads, all checks of the general loop included. Returns false, having appended nothing, when the page
 * breaks a rule; the general loop then finds the rule and reports it.
 */
static bool read_fixed_page(const ix_file *f, const entry *e, const uint8_t *data, const ix_key *lo, bool lo_incl, const ix_key *hi,
                            bool hi_incl, ix_rows *out, bool *oom) {
    uint32_t n = e->ref.count;
    bool is_float = f->key_type == IX_KEY_FLOAT;
    if (f->key_type == IX_KEY_STRING || e->ref.size != (uint64_t)n * 16 || n == 0) return false;
    ix_key k = {.type = f->key_type}, prev = k;
    uint64_t prev_row = 0;
    int64_t pi = 0;
    double pf = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t bits = fl_load_u64(data + (size_t)i * 16), row = fl_load_u64(data + (size_t)i * 16 + 8);
        int c;
        if (is_float) {
            double x;
            memcpy(&x, &bits, 8);
            if (isnan(x)) return false;
            c = i ? (pf > x) - (pf < x) : 0;
            pf = x;
        } else {
            int64_t x = (int64_t)bits;
            c = i ? (pi > x) - (pi < x) : 0;
            pi = x;
        }
        if (c > 0 || (i && c == 0 && prev_row >= row)) return false;
        prev_row = row;
    }
    k.i = (int64_t)fl_load_u64(data);
    memcpy(&k.f, data, 8);
    prev.i = pi;
    prev.f = pf;
    if (ix_key_cmp(&k, &e->first) != 0 || ix_key_cmp(&prev, &e->last) != 0) return false;
    /* Valid: append the rows in range (all of them for a page inside the range). */
    size_t need = out->n + n;
    if (need > out->cap && !fl_reserve((void **)&out->ids, &out->cap, need, sizeof *out->ids, 16)) {
        *oom = true;
        return true;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t row = fl_load_u64(data + (size_t)i * 16 + 8);
        if (lo || hi) {
            uint64_t bits = fl_load_u64(data + (size_t)i * 16);
            k.i = (int64_t)bits;
            memcpy(&k.f, &bits, 8);
            if (!above_lo(&k, lo, lo_incl) || !below_hi(&k, hi, hi_incl)) continue;
        }
        out->ids[out->n++] = row;
    }
    return true;
}

static int read_page(ix_file *f, const entry *e, const ix_key *lo, bool lo_incl, const ix_key *hi, bool hi_incl, ix_rows *out,
                     fl_error *err) {
    uint8_t *data;
    FL_RETURN_NOT_OK(read_block(f, &e->ref, &data, err));
    bool oom = false;
    if (read_fixed_page(f, e, data, lo, lo_incl, hi, hi_incl, out, &oom)) {
        fl_free(data);
        return oom ? fl_error_set(err, FL_ENOMEM, "out of memory") : FL_OK;
    }
    fl_reader r;
    fl_reader_init(&r, data, e->ref.size, e->ref.offset, f->path, err);
    ix_key prev = {0};
    uint64_t prev_row = 0;
    int rc = FL_OK;
    for (uint32_t i = 0; i < e->ref.count; i++) {
        ix_key k;
        uint64_t row;
        if (!get_key(&r, f->key_type, &k, "page key") || !fl_get_u64(&r, &row, "row id")) break;
        int c = i ? ix_key_cmp(&prev, &k) : 0;
        if (c > 0 || (i && c == 0 && prev_row >= row) || (i == 0 && ix_key_cmp(&k, &e->first) != 0) ||
            (i + 1 == e->ref.count && ix_key_cmp(&k, &e->last) != 0)) {
            fl_reader_fail(&r, "page entry %u is out of order or outside the page's bounds", i);
            break;
        }
        prev = k;
        prev_row = row;
        if (above_lo(&k, lo, lo_incl) && below_hi(&k, hi, hi_incl) && !ix_rows_push(out, row)) {
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == FL_OK && r.failed) rc = err && err->code ? err->code : FL_ECORRUPT;
    if (rc == FL_OK && r.pos != r.size) rc = fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: bytes left over in a page", f->path,
                                                          (unsigned long long)(e->ref.offset + r.pos));
    fl_free(data);
    return rc;
}

int ix_file_range(ix_file *f, const ix_key *lo, bool lo_incl, const ix_key *hi, bool hi_incl, ix_rows *out, fl_error *err) {
    if (lo && hi) {
        int c = ix_key_cmp(lo, hi);
        if (c > 0 || (c == 0 && !(lo_incl && hi_incl))) return FL_OK;
    }
    /* First entry whose last key is not below lo. */
    uint32_t a = 0, b = f->n_entries;
    while (lo && a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (above_lo(&f->entries[mid].last, lo, lo_incl)) b = mid;
        else a = mid + 1;
    }
    for (uint32_t i = a; i < f->n_entries; i++) {
        const entry *e = &f->entries[i];
        if (!below_hi(&e->first, hi, hi_incl)) break;
        if (f->kind == IX_BTREE) {
            bool whole = above_lo(&e->first, lo, lo_incl) && below_hi(&e->last, hi, hi_incl);
            FL_RETURN_NOT_OK(read_page(f, e, whole ? NULL : lo, lo_incl, whole ? NULL : hi, hi_incl, out, err));
        } else {
            FL_RETURN_NOT_OK(read_postings(f, &e->ref, out, err));
        }
    }
    return FL_OK;
}

int ix_file_check(ix_file *f, uint64_t *entries, fl_error *err) {
    ix_rows rows = {0};
    int rc = FL_OK;
    for (int s = 0; s < IX_N_SETS && rc == FL_OK; s++) rc = read_postings(f, &f->sets[s], &rows, err);
    uint64_t special = rows.n;
    for (uint32_t i = 0; i < f->n_entries && rc == FL_OK; i++)
        rc = f->kind == IX_BTREE ? read_page(f, &f->entries[i], NULL, false, NULL, false, &rows, err) : read_postings(f, &f->entries[i].ref, &rows, err);
    if (entries) *entries = rows.n - special;
    ix_rows_free(&rows);
    return rc;
}
