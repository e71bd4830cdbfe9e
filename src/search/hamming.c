/*
 * hamming.c — multi-index hashing over 64-bit hashes (the design is in hamming.h).
 */
#include "hamming.h"

#define CHUNKS 4
#define CHUNK_BITS 16
#define BUCKETS (1u << CHUNK_BITS)

/* A table entry carries its hash, so that scanning a bucket reads memory in order (no lookup per candidate). */
typedef struct entry {
    uint64_t hash;
    uint64_t id;
} entry;

struct fl_hamming_index {
    size_t n;
    uint32_t *offsets[CHUNKS];  /* BUCKETS + 1 each */
    entry *entries[CHUNKS];     /* n each, ordered by chunk value */
};

static inline uint32_t chunk(uint64_t h, int c) { return (uint32_t)(h >> (CHUNK_BITS * c)) & (BUCKETS - 1); }

void fl_hamming_free(fl_hamming_index *x) {
    if (!x) return;
    for (int c = 0; c < CHUNKS; c++) {
        fl_free(x->offsets[c]);
        fl_free(x->entries[c]);
    }
    fl_free(x);
}

size_t fl_hamming_size(const fl_hamming_index *x) { return x ? x->n : 0; }

int fl_hamming_build(const uint64_t *hashes, const uint64_t *ids, size_t n, fl_hamming_index **out) {
    *out = NULL;
    if (n > UINT32_MAX) return FL_ENOMEM;
    fl_hamming_index *x = fl_calloc(1, sizeof *x);
    if (!x) return FL_ENOMEM;
    x->n = n;
    bool ok = true;
    for (int c = 0; c < CHUNKS && ok; c++) {
        x->offsets[c] = fl_calloc(BUCKETS + 1, sizeof(uint32_t));
        x->entries[c] = fl_malloc((n ? n : 1) * sizeof(entry));
        ok = x->offsets[c] && x->entries[c];
    }
    if (!ok) {
        fl_hamming_free(x);
        return FL_ENOMEM;
    }
    for (int c = 0; c < CHUNKS; c++) {
        uint32_t *off = x->offsets[c];
        for (size_t i = 0; i < n; i++) off[chunk(hashes[i], c) + 1]++;
        for (uint32_t b = 0; b < BUCKETS; b++) off[b + 1] += off[b];
        uint32_t *fill = fl_malloc(BUCKETS * sizeof *fill);
        if (!fill) {
            fl_hamming_free(x);
            return FL_ENOMEM;
        }
        memcpy(fill, off, BUCKETS * sizeof *fill);
        for (size_t i = 0; i < n; i++) x->entries[c][fill[chunk(hashes[i], c)]++] = (entry){hashes[i], ids[i]};
        fl_free(fill);
    }
    *out = x;
    return FL_OK;
}

typedef struct probe {
    const fl_hamming_index *x;
    uint64_t hash;
    int radius, sub;            /* full radius; per-chunk probe radius */
    int table;
    bool (*found)(void *, uint64_t, uint64_t, int);
    void *ctx;
    bool stop;
} probe;

/* Checks the entries of bucket `value` in the current table. */
static void scan_bucket(probe *p, uint32_t value) {
    const fl_hamming_index *x = p->x;
    const entry *e = x->entries[p->table];
    for (uint32_t k = x->offsets[p->table][value], end = x->offsets[p->table][value + 1]; k < end && !p->stop; k++) {
        uint64_t h = e[k].hash;
        int d = __builtin_popcountll(h ^ p->hash);
        if (d > p->radius) continue;
        /* reported by an earlier table already? (its chunk there is within the probe radius) */
        bool seen = false;
        for (int t = 0; t < p->table && !seen; t++) seen = __builtin_popcount(chunk(h, t) ^ chunk(p->hash, t)) <= p->sub;
        if (!seen && !p->found(p->ctx, e[k].id, h, d)) p->stop = true;
    }
}

/* Every chunk value within `left` more flipped bits (at positions >= from) of v. */
static void enumerate(probe *p, uint32_t v, int from, int left) {
    scan_bucket(p, v);
    for (int b = from; b < CHUNK_BITS && left > 0 && !p->stop; b++) enumerate(p, v ^ (1u << b), b + 1, left - 1);
}

void fl_hamming_search(const fl_hamming_index *x, uint64_t hash, int radius, bool (*found)(void *, uint64_t, uint64_t, int), void *ctx) {
    if (!x || radius < 0) return;
    if (radius > 64) radius = 64;
    probe p = {.x = x, .hash = hash, .radius = radius, .sub = radius / CHUNKS, .found = found, .ctx = ctx};
    if (p.sub > CHUNK_BITS) p.sub = CHUNK_BITS;
    for (p.table = 0; p.table < CHUNKS && !p.stop; p.table++) enumerate(&p, chunk(hash, p.table), 0, p.sub);
}
