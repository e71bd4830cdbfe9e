/*
 * hamming.h — radius search over 64-bit binary hashes (dhash) by multi-index hashing.
 *
 * A hash is cut into 4 chunks of 16 bits. If two hashes differ in at most r bits, at least one chunk pair
 * differs in at most floor(r / 4) bits (pigeonhole), so a query probes, in each chunk's table, every chunk
 * value within that radius of its own, and checks each candidate's full distance with popcount. Each
 * table lists the entries by chunk value (counting sort: offsets[65537] into an array of entry indexes), so
 * a probe is one slice.
 *
 * Invariants:
 *  1. fl_hamming_search reports every entry within the radius exactly once, in no particular order
 *     (a candidate found in table t is skipped when an earlier table's probe already covers it).
 *  2. The index holds copies of the hashes and ids; the caller's arrays may go away after build.
 */
#ifndef FL_SEARCH_HAMMING_H
#define FL_SEARCH_HAMMING_H

#include "../common/common.h"

typedef struct fl_hamming_index fl_hamming_index;

/* Builds an index over n (id, hash) entries. Returns FL_OK or FL_ENOMEM. */
int fl_hamming_build(const uint64_t *hashes, const uint64_t *ids, size_t n, fl_hamming_index **out);
void fl_hamming_free(fl_hamming_index *index);
size_t fl_hamming_size(const fl_hamming_index *index);

/* Calls found(ctx, id, hash, distance) for every entry within `radius` (0..64) bits of `hash`; stops early
 * when found returns false. */
void fl_hamming_search(const fl_hamming_index *index, uint64_t hash, int radius,
                       bool (*found)(void *ctx, uint64_t id, uint64_t hash, int distance), void *ctx);

/* The 8 hash bytes (row-major, most significant bit first, as the dhash UDF stores them) as one uint64
 * whose most significant byte is byte 0. */
static inline uint64_t fl_hash_from_bytes(const uint8_t b[8]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

#endif /* FL_SEARCH_HAMMING_H */
