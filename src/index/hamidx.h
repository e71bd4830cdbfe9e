/*
 * hamidx.h — `hamming` indexes: multi-index hashing over a fixed_size_list<uint8, 8> column of 64-bit
 * hashes (dhash), so radius and nearest-neighbour queries by Hamming distance read a few buckets instead
 * of every row. Files are FORMAT.md §21; the query side is src/search/vector.c.
 *
 * A hash is cut into four 16-bit bands (bytes 0–1, 2–3, 4–5, 6–7). If two hashes differ in at most r bits,
 * some band differs in at most ⌊r/4⌋ bits (pigeonhole), so a radius-r query visits, in each band, the
 * buckets of the keys within ⌊r/4⌋ bits of the query's band and checks the full distance of what they
 * hold. A row found through several bands is reported once: by the first band within ⌊r/4⌋.
 *
 * Invariants:
 *  1. The file holds every indexable row (non-NULL hash) of the fragments it was built from, deleted
 *     ones included; each band's bucket directory is a monotone offset table whose last entry is n.
 *  2. A reader validates the whole file on load (checksums, sizes, the directories, each band's
 *     permutation: every entry index < n and filed under its own band key), so a search never trusts
 *     unchecked bytes. Any failure is FL_ECORRUPT naming the file and byte.
 *  3. Radius queries return exactly the rows within r (the filter admitting); nearest queries return the
 *     k nearest, ties by row id, like the exact search.
 */
#ifndef FL_INDEX_HAMIDX_H
#define FL_INDEX_HAMIDX_H

#include "cache.h"
#include "index.h"

#define HAM_MAGIC "FLH1"
#define HAM_TAIL_MAGIC "FLHT"
#define HAM_FORMAT 1

typedef struct ham_index ham_index;

/* Builds the file at path over fragments frags (indexes into t->m->fragments). */
int ham_build(fl_table *t, const fl_field *field, const uint32_t *frags, uint32_t n_frags, const char *path, fl_error *err);
/* Decodes file bytes (tests and fuzzing; searches go through ham_load). */
int ham_read(const uint8_t *bytes, size_t n, const char *what, ham_index **out, fl_error *err);
void ham_free(ham_index *h);
/* The decoded file `rel` (table-relative) through the cache; release with fl_ixcache_release. */
int ham_load(fl_table *t, const char *rel, fl_ixcache_ref *out, fl_error *err);
uint64_t ham_count(const ham_index *h);

typedef struct ham_hit {
    uint64_t row;
    int distance;
} ham_hit;

/* Row filter: only rows it keeps are results. */
typedef bool (*ham_keep_fn)(void *ctx, uint64_t row);

/* Every kept row within `radius` bits of q (0..64), appended to *hits (grown with fl_realloc; *n, *cap),
 * in no particular order. */
int ham_radius(const ham_index *h, uint64_t q, int radius, ham_keep_fn keep, void *ctx, ham_hit **hits, size_t *n, size_t *cap, fl_error *err);
/* The k nearest kept rows within max_distance bits (inclusive), ascending by distance then row, into
 * out[k]; *n_out how many. */
int ham_nearest(const ham_index *h, uint64_t q, int k, int max_distance, ham_keep_fn keep, void *ctx, ham_hit *out, int *n_out, fl_error *err);

/* The 64-bit value of an 8-byte hash as stored in the column (byte 0 most significant, as dhash writes). */
static inline uint64_t ham_value(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

#endif /* FL_INDEX_HAMIDX_H */
