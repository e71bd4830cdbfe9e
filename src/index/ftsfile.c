/*
 * ftsfile.c — inverted index files of `fts` indexes (fts.h; layout in docs/FORMAT.md §19).
 *
 * The writer keeps one growing posting list per distinct term, already varint-coded, and the documents'
 * (row, length) list; finishing sorts the dictionary and writes header, posting blocks, the documents
 * block, the footer and the tail. The reader loads tail and footer, finds a term by binary search and
 * reads and checks only that term's block.
 */
#include "fts.h"

#include "cache.h"

#include <stdlib.h>

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static void put_varint(fl_buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    fl_buf_append(b, tmp, n);
}

/* Decodes a varint at p[*at..n); false when truncated or longer than 10 bytes. */
static bool get_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70 && *at < n; shift += 7) {
        uint8_t c = p[(*at)++];
        if (shift == 63 && c > 1) return false;
        x |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

void fts_list_free(fts_list *l) {
    fl_free(l->p);
    fl_free(l->pos);
    memset(l, 0, sizeof *l);
}

bool fts_list_push(fts_list *l, uint64_t row, uint32_t tf, uint32_t len, const uint32_t *pos, bool with_pos) {
    if (!fl_reserve((void **)&l->p, &l->cap, l->n + 1, sizeof *l->p, 64)) return false;
    fts_posting *p = &l->p[l->n++];
    p->row = row;
    p->tf = tf;
    p->len = len;
    p->first_pos = (uint32_t)l->n_pos;
    if (with_pos) {
        if (l->n_pos + tf > UINT32_MAX || !fl_reserve((void **)&l->pos, &l->cap_pos, l->n_pos + tf, sizeof *l->pos, 256)) return false;
        memcpy(l->pos + l->n_pos, pos, tf * sizeof *pos);
        l->n_pos += tf;
    }
    return true;
}

/* ---- writing ---- */

/* While building, a term's postings are fixed-size records in arrival order (row u64, tf u32, len u32,
 * then tf positions u32 with positions); finishing sorts them by row (compacted fragments need not hold
 * their rows in row id order) and codes them. */
typedef struct wterm {
    uint32_t off, len;          /* term bytes in the writer's arena */
    uint32_t hash;
    uint32_t df;
    bool unsorted;
    uint64_t last_row;
    fl_buf list;
} wterm;

typedef struct wdoc {
    uint64_t row;
    uint32_t len;
} wdoc;

struct fts_writer {
    bool positions;
    fl_buf arena;
    wterm *terms;
    size_t n_terms, cap_terms;
    uint32_t *slots;            /* open addressing: term index + 1, 0 empty */
    size_t n_slots;
    wdoc *docs;
    size_t n_docs, cap_docs;
    fts_fragment_stats *frags;
    size_t n_frags, cap_frags;
    /* scratch of one document */
    uint32_t *tid, *order;
    size_t cap_doc;
};

int fts_writer_new(bool positions, fts_writer **out, fl_error *err) {
    fts_writer *w = fl_calloc(1, sizeof *w);
    if (!w || !(w->slots = fl_calloc(1024, sizeof *w->slots))) {
        fl_free(w);
        return oom(err);
    }
    w->n_slots = 1024;
    w->positions = positions;
    fl_buf_init(&w->arena);
    *out = w;
    return FL_OK;
}

void fts_writer_free(fts_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_terms; i++) fl_buf_free(&w->terms[i].list);
    fl_free(w->terms);
    fl_free(w->slots);
    fl_buf_free(&w->arena);
    fl_free(w->docs);
    fl_free(w->frags);
    fl_free(w->tid);
    fl_free(w->order);
    fl_free(w);
}

int fts_writer_fragment(fts_writer *w, uint64_t fragment_id, fl_error *err) {
    if (!fl_reserve((void **)&w->frags, &w->cap_frags, w->n_frags + 1, sizeof *w->frags, 8)) return oom(err);
    w->frags[w->n_frags++] = (fts_fragment_stats){fragment_id, 0, 0};
    return FL_OK;
}

static uint32_t term_hash(const uint8_t *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static bool grow_slots(fts_writer *w) {
    size_t n = w->n_slots * 2;
    uint32_t *s = fl_calloc(n, sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < w->n_terms; i++) {
        size_t at = w->terms[i].hash & (n - 1);
        while (s[at]) at = (at + 1) & (n - 1);
        s[at] = (uint32_t)i + 1;
    }
    fl_free(w->slots);
    w->slots = s;
    w->n_slots = n;
    return true;
}

/* The index of a term, added when new; UINT32_MAX when out of memory. */
static uint32_t intern(fts_writer *w, const uint8_t *s, uint32_t n) {
    uint32_t h = term_hash(s, n);
    size_t at = h & (w->n_slots - 1);
    for (; w->slots[at]; at = (at + 1) & (w->n_slots - 1)) {
        const wterm *t = &w->terms[w->slots[at] - 1];
        if (t->hash == h && t->len == n && !memcmp(w->arena.data + t->off, s, n)) return w->slots[at] - 1;
    }
    if (w->n_terms >= UINT32_MAX - 1 || w->arena.size > UINT32_MAX - n ||
        !fl_reserve((void **)&w->terms, &w->cap_terms, w->n_terms + 1, sizeof *w->terms, 256))
        return UINT32_MAX;
    wterm *t = &w->terms[w->n_terms];
    memset(t, 0, sizeof *t);
    t->off = (uint32_t)w->arena.size;
    t->len = n;
    t->hash = h;
    fl_buf_init(&t->list);
    fl_buf_append(&w->arena, s, n);
    if (w->arena.failed) return UINT32_MAX;
    w->slots[at] = (uint32_t)++w->n_terms;
    if (w->n_terms * 2 > w->n_slots && !grow_slots(w)) return UINT32_MAX;
    return (uint32_t)w->n_terms - 1;
}

static const void *sort_ctx; /* qsort has no context argument in C11 */

static int cmp_doc_token(const void *a, const void *b) {
    const fts_writer *w = sort_ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (w->tid[x] != w->tid[y]) return w->tid[x] < w->tid[y] ? -1 : 1;
    return x < y ? -1 : x > y; /* token order is position order */
}

int fts_writer_add(fts_writer *w, uint64_t row, const fts_tokens *doc, fl_error *err) {
    if (w->n_frags == 0) return fl_error_set(err, FL_EINVAL, "fts writer: a document before any fragment");
    if (doc->n > UINT32_MAX) return fl_error_set(err, FL_EINVAL, "fts writer: row %llu has too many terms", (unsigned long long)row);
    if (!fl_reserve((void **)&w->docs, &w->cap_docs, w->n_docs + 1, sizeof *w->docs, 1024)) return oom(err);
    w->docs[w->n_docs++] = (wdoc){row, (uint32_t)doc->n};
    fts_fragment_stats *fs = &w->frags[w->n_frags - 1];
    fs->docs++;
    fs->total_len += doc->n;
    if (doc->n > w->cap_doc) {
        size_t c = doc->n * 2;
        fl_free(w->tid);
        fl_free(w->order);
        w->tid = fl_malloc(c * sizeof *w->tid);
        w->order = fl_malloc(c * sizeof *w->order);
        w->cap_doc = w->tid && w->order ? c : 0;
        if (!w->cap_doc) return oom(err);
    }
    for (size_t i = 0; i < doc->n; i++) {
        w->tid[i] = intern(w, doc->bytes.data + doc->off[i], doc->len[i]);
        if (w->tid[i] == UINT32_MAX) return oom(err);
        w->order[i] = (uint32_t)i;
    }
    sort_ctx = w;
    if (doc->n > 1) qsort(w->order, doc->n, sizeof *w->order, cmp_doc_token);
    for (size_t i = 0; i < doc->n;) {
        size_t j = i;
        uint32_t term = w->tid[w->order[i]];
        while (j < doc->n && w->tid[w->order[j]] == term) j++;
        wterm *t = &w->terms[term];
        if (t->df && row <= t->last_row) t->unsorted = true;
        fl_buf_put_u64(&t->list, row);
        fl_buf_put_u32(&t->list, (uint32_t)(j - i));
        fl_buf_put_u32(&t->list, (uint32_t)doc->n);
        for (size_t k = i; w->positions && k < j; k++) fl_buf_put_u32(&t->list, doc->pos[w->order[k]]);
        if (t->df == UINT32_MAX) return fl_error_set(err, FL_EINVAL, "fts writer: a term in more than 2^32 documents");
        t->df++;
        t->last_row = row;
        if (t->list.failed) return oom(err);
        i = j;
    }
    return w->arena.failed ? oom(err) : FL_OK;
}

static int cmp_wterm(const void *a, const void *b) {
    const wterm *x = a, *y = b;
    const fl_buf *arena = sort_ctx;
    const uint8_t *ax = arena->data + x->off, *ay = arena->data + y->off;
    int c = memcmp(ax, ay, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_record(const void *a, const void *b) {
    uint64_t x = fl_load_u64(*(const uint8_t *const *)a), y = fl_load_u64(*(const uint8_t *const *)b);
    return x < y ? -1 : x > y;
}

static int cmp_wdoc(const void *a, const void *b) {
    uint64_t x = ((const wdoc *)a)->row, y = ((const wdoc *)b)->row;
    return x < y ? -1 : x > y;
}

/* Codes a term's records into `out`: delta row, tf, len, positions (delta), ascending by row. */
static int code_list(const fts_writer *w, const wterm *t, fl_buf *out, fl_error *err) {
    const uint8_t **rec = fl_malloc((t->df + 1) * sizeof *rec);
    if (!rec) return oom(err);
    size_t at = 0;
    for (uint32_t d = 0; d < t->df; d++) {
        rec[d] = t->list.data + at;
        at += 16 + (w->positions ? 4 * (size_t)fl_load_u32(rec[d] + 8) : 0);
    }
    if (t->unsorted) qsort(rec, t->df, sizeof *rec, cmp_record);
    int rc = FL_OK;
    uint64_t prev = 0;
    for (uint32_t d = 0; d < t->df && rc == FL_OK; d++) {
        uint64_t row = fl_load_u64(rec[d]);
        uint32_t tf = fl_load_u32(rec[d] + 8);
        if (d && row <= prev) rc = fl_error_set(err, FL_EINVAL, "fts writer: row %llu indexed twice", (unsigned long long)row);
        put_varint(out, d ? row - prev : row);
        put_varint(out, tf);
        put_varint(out, fl_load_u32(rec[d] + 12));
        for (uint32_t k = 0; w->positions && k < tf; k++) {
            uint32_t p = fl_load_u32(rec[d] + 16 + 4 * k);
            put_varint(out, k ? p - fl_load_u32(rec[d] + 16 + 4 * (k - 1)) : p);
        }
        prev = row;
    }
    fl_free(rec);
    if (rc == FL_OK && out->failed) rc = oom(err);
    return rc;
}

int fts_writer_finish(fts_writer *w, const char *path, uint64_t *size, fl_error *err) {
    sort_ctx = &w->arena;
    if (w->n_terms > 1) qsort(w->terms, w->n_terms, sizeof *w->terms, cmp_wterm);
    bool docs_sorted = true;
    for (size_t i = 1; i < w->n_docs && docs_sorted; i++) docs_sorted = w->docs[i].row > w->docs[i - 1].row;
    if (!docs_sorted) qsort(w->docs, w->n_docs, sizeof *w->docs, cmp_wdoc);
    fl_buf docs, footer, block;
    fl_buf_init(&docs);
    fl_buf_init(&footer);
    fl_buf_init(&block);
    for (size_t i = 0; i < w->n_docs; i++) {
        put_varint(&docs, i ? w->docs[i].row - w->docs[i - 1].row : w->docs[i].row);
        put_varint(&docs, w->docs[i].len);
    }
    fl_wfile *f;
    int rc = docs.failed ? oom(err) : fl_io_writer_open(path, &f, err);
    if (rc != FL_OK) {
        fl_buf_free(&docs);
        return rc;
    }
    uint8_t head[8];
    memcpy(head, FTS_MAGIC, 4);
    fl_store_u32(head + 4, FTS_FORMAT);
    rc = fl_io_writer_write(f, head, sizeof head, err);
    fl_buf_put_u32(&footer, w->positions ? 1 : 0);
    fl_buf_put_u32(&footer, (uint32_t)w->n_frags);
    for (size_t i = 0; i < w->n_frags; i++) {
        fl_buf_put_u64(&footer, w->frags[i].fragment_id);
        fl_buf_put_u64(&footer, w->frags[i].docs);
        fl_buf_put_u64(&footer, w->frags[i].total_len);
    }
    fl_buf_put_u64(&footer, fl_io_writer_offset(f));
    fl_buf_put_u64(&footer, docs.size);
    fl_buf_put_u64(&footer, w->n_docs);
    fl_buf_put_u64(&footer, fl_hash64(docs.data, docs.size));
    if (rc == FL_OK) rc = fl_io_writer_write(f, docs.data, docs.size, err);
    fl_buf_put_u32(&footer, (uint32_t)w->n_terms);
    for (size_t i = 0; rc == FL_OK && i < w->n_terms; i++) {
        const wterm *t = &w->terms[i];
        block.size = 0;
        if ((rc = code_list(w, t, &block, err)) != FL_OK) break;
        fl_buf_put_u8(&footer, (uint8_t)t->len);
        fl_buf_append(&footer, w->arena.data + t->off, t->len);
        fl_buf_put_u64(&footer, fl_io_writer_offset(f));
        fl_buf_put_u64(&footer, block.size);
        fl_buf_put_u32(&footer, t->df);
        fl_buf_put_u64(&footer, fl_hash64(block.data, block.size));
        rc = fl_io_writer_write(f, block.data, block.size, err);
    }
    if (rc == FL_OK && footer.failed) rc = oom(err);
    uint64_t footer_at = fl_io_writer_offset(f);
    if (rc == FL_OK) rc = fl_io_writer_write(f, footer.data, footer.size, err);
    uint8_t tail[FTS_TAIL_SIZE];
    fl_store_u64(tail, footer_at);
    fl_store_u64(tail + 8, footer.size);
    fl_store_u64(tail + 16, fl_hash64(footer.data, footer.size));
    fl_store_u32(tail + 24, FTS_FORMAT);
    memcpy(tail + 28, FTS_TAIL_MAGIC, 4);
    if (rc == FL_OK) rc = fl_io_writer_write(f, tail, sizeof tail, err);
    if (rc == FL_OK) *size = fl_io_writer_offset(f);
    if (rc == FL_OK) rc = fl_io_writer_finish(f, err);
    else fl_io_writer_abort(f);
    fl_buf_free(&docs);
    fl_buf_free(&footer);
    fl_buf_free(&block);
    return rc;
}

/* ---- reading ---- */

typedef struct rterm {
    const uint8_t *s;           /* into the footer */
    uint8_t len;
    uint64_t offset, size, hash;
    uint32_t df;
} rterm;

struct fts_file {
    fl_rfile *io;
    char *path;
    uint8_t *footer;
    bool positions;
    fts_fragment_stats *frags;
    uint32_t n_frags;
    uint64_t docs_offset, docs_size, docs_count, docs_hash;
    rterm *terms;
    uint32_t n_terms;
};

static int fail(fl_error *err, const fts_file *f, uint64_t at, const char *what) {
    return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: %s", f->path, (unsigned long long)at, what);
}

static int term_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

int fts_file_open(const char *path, fts_file **out, fl_error *err) {
    *out = NULL;
    fts_file *f = fl_calloc(1, sizeof *f);
    if (!f || !(f->path = fl_strdup(path))) {
        fl_free(f);
        return oom(err);
    }
    int rc = fl_io_open(path, &f->io, err);
    uint64_t size = rc == FL_OK ? fl_io_size(f->io) : 0;
    uint8_t head[8], tail[FTS_TAIL_SIZE];
    if (rc == FL_OK && size < sizeof head + FTS_TAIL_SIZE) rc = fail(err, f, size, "file too short for an fts index");
    if (rc == FL_OK) rc = fl_io_pread(f->io, 0, sizeof head, head, err);
    if (rc == FL_OK && memcmp(head, FTS_MAGIC, 4)) rc = fail(err, f, 0, "bad magic (not an fts index file)");
    if (rc == FL_OK && fl_load_u32(head + 4) != FTS_FORMAT) rc = fail(err, f, 4, "unsupported fts index format");
    if (rc == FL_OK) rc = fl_io_pread(f->io, size - FTS_TAIL_SIZE, FTS_TAIL_SIZE, tail, err);
    uint64_t tail_at = size - FTS_TAIL_SIZE;
    if (rc == FL_OK && memcmp(tail + 28, FTS_TAIL_MAGIC, 4)) rc = fail(err, f, tail_at + 28, "bad tail magic");
    if (rc == FL_OK && fl_load_u32(tail + 24) != FTS_FORMAT) rc = fail(err, f, tail_at + 24, "unsupported fts index format");
    uint64_t fat = fl_load_u64(tail), fsize = fl_load_u64(tail + 8);
    if (rc == FL_OK && (fat < sizeof head || fat > tail_at || fsize != tail_at - fat)) rc = fail(err, f, tail_at, "footer range outside the file");
    if (rc == FL_OK && !(f->footer = fl_malloc(fsize ? fsize : 1))) rc = oom(err);
    if (rc == FL_OK) rc = fl_io_pread(f->io, fat, fsize, f->footer, err);
    if (rc == FL_OK && fl_hash64(f->footer, fsize) != fl_load_u64(tail + 16)) rc = fail(err, f, fat, "footer checksum mismatch");
    if (rc != FL_OK) {
        fts_file_close(f);
        return rc;
    }
    fl_reader r;
    fl_reader_init(&r, f->footer, fsize, fat, f->path, err);
    uint32_t flags = 0;
    fl_get_u32(&r, &flags, "flags");
    if (!r.failed && flags > 1) fl_reader_fail(&r, "unknown flags %u", flags);
    f->positions = flags & 1;
    if (fl_get_count(&r, &f->n_frags, 24, "fragment count") && !(f->frags = fl_calloc(f->n_frags + 1, sizeof *f->frags))) rc = oom(err);
    for (uint32_t i = 0; rc == FL_OK && !r.failed && i < f->n_frags; i++) {
        fl_get_u64(&r, &f->frags[i].fragment_id, "fragment id");
        fl_get_u64(&r, &f->frags[i].docs, "fragment documents");
        fl_get_u64(&r, &f->frags[i].total_len, "fragment length");
    }
    fl_get_u64(&r, &f->docs_offset, "documents offset");
    fl_get_u64(&r, &f->docs_size, "documents size");
    fl_get_u64(&r, &f->docs_count, "documents count");
    fl_get_u64(&r, &f->docs_hash, "documents checksum");
    uint64_t sum = 0;
    for (uint32_t i = 0; i < f->n_frags; i++) sum += f->frags[i].docs;
    if (!r.failed && (f->docs_offset < sizeof head || f->docs_offset > fat || f->docs_size > fat - f->docs_offset))
        fl_reader_fail(&r, "documents block outside the body");
    if (!r.failed && (sum != f->docs_count || f->docs_count > f->docs_size)) fl_reader_fail(&r, "document counts disagree");
    if (rc == FL_OK && fl_get_count(&r, &f->n_terms, 29, "term count") && !(f->terms = fl_calloc(f->n_terms + 1, sizeof *f->terms))) rc = oom(err);
    for (uint32_t i = 0; rc == FL_OK && !r.failed && i < f->n_terms; i++) {
        rterm *t = &f->terms[i];
        const uint8_t *s;
        if (!fl_get_u8(&r, &t->len, "term length") || !fl_get_bytes(&r, &s, t->len, "term")) break;
        t->s = s;
        fl_get_u64(&r, &t->offset, "postings offset");
        fl_get_u64(&r, &t->size, "postings size");
        fl_get_u32(&r, &t->df, "document frequency");
        fl_get_u64(&r, &t->hash, "postings checksum");
        if (r.failed) break;
        if (t->len == 0 || t->len > FTS_MAX_TERM) fl_reader_fail(&r, "term length %u out of range", t->len);
        else if (i && term_cmp(f->terms[i - 1].s, f->terms[i - 1].len, t->s, t->len) >= 0) fl_reader_fail(&r, "terms out of order");
        else if (t->offset < sizeof head || t->offset > fat || t->size > fat - t->offset) fl_reader_fail(&r, "postings block outside the body");
        else if (t->df == 0 || t->df > f->docs_count || t->df > t->size / 3) fl_reader_fail(&r, "document frequency %u out of range", t->df);
    }
    if (!r.failed && r.pos != r.size) fl_reader_fail(&r, "%zu unexpected bytes after the dictionary", r.size - r.pos);
    if (rc == FL_OK && r.failed) rc = FL_ECORRUPT;
    if (rc != FL_OK) {
        fts_file_close(f);
        return rc;
    }
    *out = f;
    return FL_OK;
}

static void free_fts(void *p) { fts_file_close(p); }

static int load_fts(void *ctx, const char *path, void **obj, size_t *bytes, void (**free_fn)(void *), fl_error *err) {
    (void)ctx;
    fts_file *f;
    FL_RETURN_NOT_OK(fts_file_open(path, &f, err));
    *obj = f;
    *bytes = sizeof *f + (size_t)f->n_terms * sizeof *f->terms + (size_t)f->n_frags * sizeof *f->frags + 4096;
    *free_fn = free_fts;
    return FL_OK;
}

int fts_file_cached(const char *path, fl_ixcache_ref *ref, fl_error *err) { return fl_ixcache_get(path, load_fts, NULL, ref, err); }

void fts_file_close(fts_file *f) {
    if (!f) return;
    if (f->io) fl_io_close(f->io);
    fl_free(f->path);
    fl_free(f->footer);
    fl_free(f->frags);
    fl_free(f->terms);
    fl_free(f);
}

bool fts_file_positions(const fts_file *f) { return f->positions; }
size_t fts_file_n_fragments(const fts_file *f) { return f->n_frags; }
const fts_fragment_stats *fts_file_fragment(const fts_file *f, size_t i) { return &f->frags[i]; }

/* Reads a block and checks its checksum; *out is a new buffer. */
static int read_block(fts_file *f, uint64_t offset, uint64_t size, uint64_t hash, uint8_t **out, fl_error *err) {
    uint8_t *b = fl_malloc(size ? size : 1);
    if (!b) return oom(err);
    int rc = fl_io_pread(f->io, offset, size, b, err);
    if (rc == FL_OK && fl_hash64(b, size) != hash) rc = fail(err, f, offset, "block checksum mismatch");
    if (rc != FL_OK) {
        fl_free(b);
        return rc;
    }
    *out = b;
    return FL_OK;
}

static int decode_list(fts_file *f, const rterm *t, const uint8_t *b, fts_list *out, fl_error *err) {
    if (!fl_reserve((void **)&out->p, &out->cap, out->n + t->df, sizeof *out->p, 64)) return oom(err);
    size_t at = 0;
    uint64_t row = 0;
    uint32_t pos_tmp[256];
    uint32_t *pos = pos_tmp;
    size_t pos_cap = 256;
    int rc = FL_OK;
    for (uint32_t d = 0; rc == FL_OK && d < t->df; d++) {
        uint64_t delta, tf, len;
        size_t start = at;
        if (!get_varint(b, t->size, &at, &delta) || !get_varint(b, t->size, &at, &tf) || !get_varint(b, t->size, &at, &len)) {
            rc = fail(err, f, t->offset + start, "truncated posting");
            break;
        }
        if ((d && (delta == 0 || delta > UINT64_MAX - row)) || tf == 0 || tf > len || len > UINT32_MAX) {
            rc = fail(err, f, t->offset + start, "bad posting (row order, term frequency or length)");
            break;
        }
        row = d ? row + delta : delta;
        if (f->positions) {
            if (tf > pos_cap) {
                uint32_t *grown = fl_malloc(tf * sizeof *grown);
                if (!grown) {
                    rc = oom(err);
                    break;
                }
                if (pos != pos_tmp) fl_free(pos);
                pos = grown;
                pos_cap = tf;
            }
            uint64_t prev = 0;
            for (uint64_t k = 0; k < tf; k++) {
                uint64_t v;
                if (!get_varint(b, t->size, &at, &v) || (k && v == 0) || v > UINT32_MAX - prev) {
                    rc = fail(err, f, t->offset + at, "bad position");
                    break;
                }
                prev = k ? prev + v : v;
                pos[k] = (uint32_t)prev;
            }
            if (rc != FL_OK) break;
        }
        if (!fts_list_push(out, row, (uint32_t)tf, (uint32_t)len, pos, f->positions)) rc = oom(err);
    }
    if (rc == FL_OK && at != t->size) rc = fail(err, f, t->offset + at, "bytes after the last posting");
    if (pos != pos_tmp) fl_free(pos);
    return rc;
}

int fts_file_lookup(fts_file *f, const char *term, size_t len, fts_list *out, fl_error *err) {
    uint32_t lo = 0, hi = f->n_terms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = term_cmp(f->terms[mid].s, f->terms[mid].len, (const uint8_t *)term, len);
        if (c == 0) {
            uint8_t *b;
            FL_RETURN_NOT_OK(read_block(f, f->terms[mid].offset, f->terms[mid].size, f->terms[mid].hash, &b, err));
            int rc = decode_list(f, &f->terms[mid], b, out, err);
            fl_free(b);
            return rc;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return FL_OK;
}

int fts_file_docs(fts_file *f, uint64_t **rows, uint32_t **lens, size_t *n, fl_error *err) {
    *rows = NULL;
    *lens = NULL;
    *n = 0;
    uint8_t *b;
    FL_RETURN_NOT_OK(read_block(f, f->docs_offset, f->docs_size, f->docs_hash, &b, err));
    uint64_t *r = fl_malloc((f->docs_count + 1) * sizeof *r);
    uint32_t *l = fl_malloc((f->docs_count + 1) * sizeof *l);
    int rc = r && l ? FL_OK : oom(err);
    size_t at = 0;
    uint64_t row = 0;
    for (uint64_t d = 0; rc == FL_OK && d < f->docs_count; d++) {
        uint64_t delta = 0, len = 0;
        size_t start = at;
        if (!get_varint(b, f->docs_size, &at, &delta) || !get_varint(b, f->docs_size, &at, &len) || (d && (delta == 0 || delta > UINT64_MAX - row)) ||
            len > UINT32_MAX)
            rc = fail(err, f, f->docs_offset + start, "bad document entry");
        row = d ? row + delta : delta;
        if (rc == FL_OK) {
            r[d] = row;
            l[d] = (uint32_t)len;
        }
    }
    if (rc == FL_OK && at != f->docs_size) rc = fail(err, f, f->docs_offset + at, "bytes after the last document");
    fl_free(b);
    if (rc != FL_OK) {
        fl_free(r);
        fl_free(l);
        return rc;
    }
    *rows = r;
    *lens = l;
    *n = (size_t)f->docs_count;
    return FL_OK;
}

int fts_file_check(fts_file *f, uint64_t *terms, fl_error *err) {
    *terms = f->n_terms;
    uint64_t *rows;
    uint32_t *lens;
    size_t n;
    FL_RETURN_NOT_OK(fts_file_docs(f, &rows, &lens, &n, err));
    fl_free(rows);
    fl_free(lens);
    for (uint32_t i = 0; i < f->n_terms; i++) {
        fts_list l = {0};
        int rc = fts_file_lookup(f, (const char *)f->terms[i].s, f->terms[i].len, &l, err);
        fts_list_free(&l);
        FL_RETURN_NOT_OK(rc);
    }
    return FL_OK;
}
