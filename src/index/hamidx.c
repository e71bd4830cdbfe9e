/*
 * hamidx.c — `hamming` index files: multi-index hashing over 64-bit hashes (hamidx.h; layout in
 * docs/FORMAT.md §21).
 */
#include "hamidx.h"

#include <pthread.h>
#include <stdlib.h>

#define BANDS 4
#define KEYS 65536
#define TAIL_SIZE 16

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

struct ham_index {
    uint64_t n;
    uint64_t *hash;             /* sorted by row */
    uint64_t *row;              /* strictly ascending */
    uint32_t *dir[BANDS];       /* KEYS + 1 offsets into perm */
    uint32_t *perm[BANDS];      /* entry indexes grouped by band key */
};

static unsigned band_key(uint64_t h, int b) { return (unsigned)(h >> (48 - 16 * b)) & 0xFFFF; }

void ham_free(ham_index *h) {
    if (!h) return;
    fl_free(h->hash);
    fl_free(h->row);
    for (int b = 0; b < BANDS; b++) {
        fl_free(h->dir[b]);
        fl_free(h->perm[b]);
    }
    fl_free(h);
}

uint64_t ham_count(const ham_index *h) { return h->n; }

/* ---- the 16-bit masks by popcount (for enumerating the keys near a band) ---- */

static uint16_t masks[KEYS];
static uint32_t masks_upto[18]; /* masks[0 .. masks_upto[s]) have popcount <= s */
static pthread_once_t masks_once = PTHREAD_ONCE_INIT;

static void init_masks(void) {
    uint32_t at = 0;
    for (int s = 0; s <= 16; s++) {
        for (uint32_t m = 0; m < KEYS; m++)
            if (__builtin_popcount(m) == s) masks[at++] = (uint16_t)m;
        masks_upto[s] = at;
    }
    masks_upto[17] = at;
}

/* ---- building ---- */

/* Bands of the entries: counting sort by band key. */
static int index_bands(ham_index *h, fl_error *err) {
    for (int b = 0; b < BANDS; b++) {
        h->dir[b] = fl_calloc(KEYS + 1, sizeof *h->dir[b]);
        h->perm[b] = fl_malloc((h->n ? h->n : 1) * sizeof *h->perm[b]);
        if (!h->dir[b] || !h->perm[b]) return oom(err);
        for (uint64_t i = 0; i < h->n; i++) h->dir[b][band_key(h->hash[i], b) + 1]++;
        for (uint32_t k = 0; k < KEYS; k++) h->dir[b][k + 1] += h->dir[b][k];
        uint32_t *fill = fl_malloc(KEYS * sizeof *fill);
        if (!fill) return oom(err);
        memcpy(fill, h->dir[b], KEYS * sizeof *fill);
        for (uint64_t i = 0; i < h->n; i++) h->perm[b][fill[band_key(h->hash[i], b)]++] = (uint32_t)i;
        fl_free(fill);
    }
    return FL_OK;
}

typedef struct pair {
    uint64_t row, hash;
} pair;

static int cmp_pair(const void *a, const void *b) {
    uint64_t x = ((const pair *)a)->row, y = ((const pair *)b)->row;
    return x < y ? -1 : x > y;
}

static void put_section(fl_buf *out, const void *data, size_t n) {
    size_t start = out->size;
    fl_buf_append(out, data, n);
    if (!out->failed) fl_buf_put_u64(out, fl_hash64(out->data + start, n));
}

int ham_build(fl_table *t, const fl_field *field, const uint32_t *frags, uint32_t n_frags, const char *path, fl_error *err) {
    uint64_t rows = 0;
    for (uint32_t k = 0; k < n_frags; k++) rows += t->m->fragments[frags[k]].physical_rows;
    if (rows >= UINT32_MAX) return fl_error_set(err, FL_EINVAL, "hamming index: %llu rows are more than one file holds", (unsigned long long)rows);
    pair *p = fl_malloc((rows ? rows : 1) * sizeof *p);
    fl_array a;
    if (!p || fl_array_init(&a, field) != FL_OK) {
        fl_free(p);
        return oom(err);
    }
    size_t n = 0;
    int rc = FL_OK;
    for (uint32_t k = 0; rc == FL_OK && k < n_frags; k++) {
        const fl_fragment *f = &t->m->fragments[frags[k]];
        fl_rid_cursor cur = {f, 0, 0};
        /* Deleted rows are left out (a view's row id may have a dead copy here and a live one elsewhere). */
        const deletion_set *d = NULL;
        rc = fl_table_deletions(t, frags[k], &d, err);
        for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += 65536) {
            uint64_t count = f->physical_rows - start < 65536 ? f->physical_rows - start : 65536;
            fl_array_reset(&a);
            rc = fl_table_read_column(t, frags[k], field, (int64_t)start, (int64_t)count, &a, err);
            const uint8_t *v = a.children[0].values;
            for (int64_t i = 0; rc == FL_OK && i < (int64_t)count; i++) {
                uint64_t row = fl_rid_next(&cur);
                if (!(d->n && fl_deletion_contains(d, start + (uint64_t)i)) && !fl_array_is_null(&a, i)) p[n++] = (pair){row, ham_value(v + 8 * i)};
            }
        }
    }
    fl_array_clear(&a);
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++) sorted = p[i].row > p[i - 1].row;
    if (!sorted) qsort(p, n, sizeof *p, cmp_pair);
    ham_index h = {.n = n};
    h.hash = fl_malloc((n ? n : 1) * sizeof *h.hash);
    h.row = fl_malloc((n ? n : 1) * sizeof *h.row);
    if (rc == FL_OK && (!h.hash || !h.row)) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        h.hash[i] = p[i].hash;
        h.row[i] = p[i].row;
    }
    fl_free(p);
    if (rc == FL_OK) rc = index_bands(&h, err);
    fl_buf out;
    fl_buf_init(&out);
    if (rc == FL_OK) {
        fl_buf_append(&out, HAM_MAGIC, 4);
        fl_buf_put_u32(&out, HAM_FORMAT);
        fl_buf_put_u64(&out, n);
        fl_buf_put_u64(&out, fl_hash64(out.data, 16));
        fl_buf entries;
        fl_buf_init(&entries);
        for (size_t i = 0; i < n; i++) {
            fl_buf_put_u64(&entries, h.hash[i]);
            fl_buf_put_u64(&entries, h.row[i]);
        }
        put_section(&out, entries.data, entries.size);
        fl_buf_free(&entries);
        for (int b = 0; b < BANDS; b++) {
            /* the non-empty buckets: u32 m, m u16 keys, m u32 starts; then the n entry indexes */
            fl_buf sec;
            fl_buf_init(&sec);
            uint32_t m = 0;
            for (uint32_t k = 0; k < KEYS; k++) m += h.dir[b][k + 1] > h.dir[b][k];
            fl_buf_put_u32(&sec, m);
            for (uint32_t k = 0; k < KEYS; k++)
                if (h.dir[b][k + 1] > h.dir[b][k]) fl_buf_put_u16(&sec, (uint16_t)k);
            for (uint32_t k = 0; k < KEYS; k++)
                if (h.dir[b][k + 1] > h.dir[b][k]) fl_buf_put_u32(&sec, h.dir[b][k]);
            for (size_t i = 0; i < n; i++) fl_buf_put_u32(&sec, h.perm[b][i]);
            if (sec.failed) out.failed = true;
            put_section(&out, sec.data, sec.size);
            fl_buf_free(&sec);
        }
        uint64_t body = out.size;
        fl_buf_put_u64(&out, body);
        fl_buf_put_u32(&out, HAM_FORMAT);
        fl_buf_append(&out, HAM_TAIL_MAGIC, 4);
        if (out.failed) rc = oom(err);
    }
    for (int b = 0; b < BANDS; b++) {
        fl_free(h.dir[b]);
        fl_free(h.perm[b]);
    }
    fl_free(h.hash);
    fl_free(h.row);
    fl_wfile *w = NULL;
    if (rc == FL_OK) rc = fl_io_writer_open(path, &w, err);
    if (rc == FL_OK) {
        rc = fl_io_writer_write(w, out.data, out.size, err);
        if (rc == FL_OK) rc = fl_io_writer_finish(w, err);
        else fl_io_writer_abort(w);
    }
    fl_buf_free(&out);
    return rc;
}

/* ---- reading ---- */

static int bad(fl_error *err, const char *what, uint64_t at, const char *msg) {
    return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: %s", what, (unsigned long long)at, msg);
}

int ham_read(const uint8_t *d, size_t size, const char *what, ham_index **out, fl_error *err) {
    *out = NULL;
    if (!what) what = "hamming index";
    if (size < 24 + TAIL_SIZE) return bad(err, what, size, "file too short for a hamming index");
    if (memcmp(d, HAM_MAGIC, 4)) return bad(err, what, 0, "bad magic (not a hamming index file)");
    if (fl_load_u32(d + 4) != HAM_FORMAT) return fl_error_set(err, fl_load_u32(d + 4) ? FL_EUNSUPPORTED : FL_ECORRUPT, "%s: byte 4: format %u is not supported", what, fl_load_u32(d + 4));
    if (fl_hash64(d, 16) != fl_load_u64(d + 16)) return bad(err, what, 16, "header checksum mismatch");
    const uint8_t *tail = d + size - TAIL_SIZE;
    if (memcmp(tail + 12, HAM_TAIL_MAGIC, 4) || fl_load_u32(tail + 8) != HAM_FORMAT) return bad(err, what, size - TAIL_SIZE, "bad tail");
    if (fl_load_u64(tail) != size - TAIL_SIZE) return bad(err, what, size - TAIL_SIZE, "tail offset disagrees with the file size");
    uint64_t n = fl_load_u64(d + 8);
    uint64_t body = size - TAIL_SIZE - 24;
    if (n >= UINT32_MAX || n > body / 32) return bad(err, what, 8, "entry count disagrees with the file size");
    ham_index *h = fl_calloc(1, sizeof *h);
    if (!h) return oom(err);
    h->n = n;
    h->hash = fl_malloc((n ? n : 1) * sizeof *h->hash);
    h->row = fl_malloc((n ? n : 1) * sizeof *h->row);
    int rc = h->hash && h->row ? FL_OK : oom(err);
    size_t at = 24, end = size - TAIL_SIZE;
    if (rc == FL_OK && fl_hash64(d + at, 16 * n) != fl_load_u64(d + at + 16 * n)) rc = bad(err, what, at, "entries checksum mismatch");
    for (uint64_t i = 0; rc == FL_OK && i < n; i++) {
        h->hash[i] = fl_load_u64(d + at + 16 * i);
        h->row[i] = fl_load_u64(d + at + 16 * i + 8);
        if (i && h->row[i] <= h->row[i - 1]) rc = bad(err, what, at + 16 * i + 8, "row ids out of order");
    }
    at += 16 * n + 8;
    for (int b = 0; rc == FL_OK && b < BANDS; b++) {
        /* u32 m, m u16 keys (ascending), m u32 starts (0, then ascending, < n), n u32 entry indexes, u64 xxh3 */
        if (end - at < 4) {
            rc = bad(err, what, at, "band truncated");
            break;
        }
        uint64_t m = fl_load_u32(d + at);
        if (m > KEYS || m > n || (n && m == 0) || end - at - 4 < 6 * m + 4 * n + 8) {
            rc = bad(err, what, at, "bucket count disagrees with the file size");
            break;
        }
        size_t len = 4 + 6 * (size_t)m + 4 * (size_t)n;
        if (fl_hash64(d + at, len) != fl_load_u64(d + at + len)) {
            rc = bad(err, what, at, "band checksum mismatch");
            break;
        }
        h->dir[b] = fl_malloc((KEYS + 1) * sizeof *h->dir[b]);
        h->perm[b] = fl_malloc((n ? n : 1) * sizeof *h->perm[b]);
        if (!h->dir[b] || !h->perm[b]) {
            rc = oom(err);
            break;
        }
        const uint8_t *keys = d + at + 4, *starts = keys + 2 * m, *perm = starts + 4 * m;
        /* expand to a full directory: bucket k spans [dir[k], dir[k + 1]) */
        uint32_t next = 0;
        for (uint64_t j = 0; rc == FL_OK && j < m; j++) {
            uint32_t key = (uint32_t)keys[2 * j] | (uint32_t)keys[2 * j + 1] << 8, st = fl_load_u32(starts + 4 * j);
            if ((j && key <= (uint32_t)(keys[2 * j - 2] | keys[2 * j - 1] << 8)) || (j == 0 && st != 0) || (j && st <= fl_load_u32(starts + 4 * j - 4)) ||
                st >= n) {
                rc = bad(err, what, (uint64_t)(keys - d) + 2 * j, "bucket keys or starts out of order");
                break;
            }
            while (next <= key) h->dir[b][next++] = st;
        }
        while (rc == FL_OK && next <= KEYS) h->dir[b][next++] = (uint32_t)n;
        uint64_t *seen = rc == FL_OK ? fl_calloc((size_t)(n + 63) / 64 + 1, sizeof *seen) : NULL;
        if (rc == FL_OK && !seen) rc = oom(err);
        for (uint32_t k = 0; rc == FL_OK && k < KEYS; k++)
            for (uint32_t i = h->dir[b][k]; rc == FL_OK && i < h->dir[b][k + 1]; i++) {
                uint32_t e = fl_load_u32(perm + 4 * (size_t)i);
                if (e >= n || band_key(h->hash[e], b) != k || (seen[e >> 6] >> (e & 63) & 1))
                    rc = bad(err, what, (uint64_t)(perm - d) + 4 * (uint64_t)i, "entry missing, repeated or filed under the wrong bucket");
                else {
                    seen[e >> 6] |= UINT64_C(1) << (e & 63);
                    h->perm[b][i] = e;
                }
            }
        fl_free(seen);
        at += len + 8;
    }
    if (rc == FL_OK && at != end) rc = bad(err, what, at, "bytes after the last band");
    if (rc != FL_OK) {
        ham_free(h);
        return rc;
    }
    *out = h;
    return FL_OK;
}

static void free_ham(void *p) { ham_free(p); }

static int load_ham(void *ctx, const char *path, void **obj, size_t *bytes, void (**free_fn)(void *), fl_error *err) {
    (void)ctx;
    uint8_t *data;
    size_t size;
    FL_RETURN_NOT_OK(fl_io_read_file(path, &data, &size, err));
    ham_index *h = NULL;
    int rc = ham_read(data, size, path, &h, err);
    fl_free(data);
    if (rc != FL_OK) return rc;
    *obj = h;
    *bytes = size;
    *free_fn = free_ham;
    return FL_OK;
}

int ham_load(fl_table *t, const char *rel, fl_ixcache_ref *out, fl_error *err) {
    char *path = fl_table_path(t, rel);
    if (!path) return oom(err);
    int rc = fl_ixcache_get(path, load_ham, NULL, out, err);
    fl_free(path);
    return rc;
}

/* ---- searching ---- */

static bool push_hit(ham_hit **hits, size_t *n, size_t *cap, uint64_t row, int d) {
    if (!fl_reserve((void **)hits, cap, *n + 1, sizeof **hits, 64)) return false;
    (*hits)[(*n)++] = (ham_hit){row, d};
    return true;
}

int ham_radius(const ham_index *h, uint64_t q, int radius, ham_keep_fn keep, void *ctx, ham_hit **hits, size_t *n, size_t *cap, fl_error *err) {
    if (radius < 0) return FL_OK;
    if (radius > 64) radius = 64;
    pthread_once(&masks_once, init_masks);
    int s = radius / BANDS;
    uint64_t probes = (uint64_t)masks_upto[s] * BANDS;
    if (probes >= h->n) { /* as cheap to look at every entry */
        for (uint64_t i = 0; i < h->n; i++) {
            int d = __builtin_popcountll(h->hash[i] ^ q);
            if (d <= radius && (!keep || keep(ctx, h->row[i])) && !push_hit(hits, n, cap, h->row[i], d)) return oom(err);
        }
        return FL_OK;
    }
    for (int b = 0; b < BANDS; b++) {
        unsigned qk = band_key(q, b);
        for (uint32_t m = 0; m < masks_upto[s]; m++) {
            unsigned key = qk ^ masks[m];
            for (uint32_t i = h->dir[b][key]; i < h->dir[b][key + 1]; i++) {
                uint32_t e = h->perm[b][i];
                uint64_t x = h->hash[e];
                int d = __builtin_popcountll(x ^ q);
                if (d > radius) continue;
                /* reported by the first band within s bits only */
                bool earlier = false;
                for (int c = 0; c < b && !earlier; c++) earlier = __builtin_popcount(band_key(x, c) ^ band_key(q, c)) <= s;
                if (earlier || (keep && !keep(ctx, h->row[e]))) continue;
                if (!push_hit(hits, n, cap, h->row[e], d)) return oom(err);
            }
        }
    }
    return FL_OK;
}

static int cmp_ham_hit(const void *a, const void *b) {
    const ham_hit *x = a, *y = b;
    if (x->distance != y->distance) return x->distance < y->distance ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

int ham_nearest(const ham_index *h, uint64_t q, int k, int max_distance, ham_keep_fn keep, void *ctx, ham_hit *out, int *n_out, fl_error *err) {
    *n_out = 0;
    if (k <= 0 || max_distance < 0) return FL_OK;
    if (max_distance > 64) max_distance = 64;
    ham_hit *hits = NULL;
    size_t n = 0, cap = 0;
    int rc = FL_OK;
    /* Radius 3, 7, 11, ...: every row within r is found, so once k are, they are the k nearest. */
    for (int s = 0;; s++) {
        int r = 4 * s + 3 < max_distance ? 4 * s + 3 : max_distance;
        n = 0;
        if ((rc = ham_radius(h, q, r, keep, ctx, &hits, &n, &cap, err)) != FL_OK) break;
        if (n >= (size_t)k || r >= max_distance) break;
    }
    if (rc == FL_OK) {
        if (n > 1) qsort(hits, n, sizeof *hits, cmp_ham_hit);
        *n_out = n < (size_t)k ? (int)n : k;
        if (*n_out) memcpy(out, hits, (size_t)*n_out * sizeof *out);
    }
    fl_free(hits);
    return rc;
}
