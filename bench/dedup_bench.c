/*
 * dedup_bench.c — all pairs within a Hamming radius over 64-bit hashes (bench/dedup.sh): framelake's
 * multi-index Hamming search (src/search/hamming.c) against brute-force popcount over every pair, on the
 * same hashes: half uniformly random, half in clusters (a random centre with up to 13 flipped bits, like
 * near-identical frames). Counts, for every hash, the hashes with a smaller id within the radius (the
 * is_duplicate rule), so both sides must report the same number of pairs; brute force runs on the first
 * BRUTE hashes only (it is quadratic) and the index runs on those too, for the ratio.
 *
 *   dedup_bench N BRUTE RADIUS SEED
 */
#include "search/hamming.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xs(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct counter {
    uint64_t id;
    uint64_t pairs;
} counter;

static bool count_smaller(void *ctx, uint64_t id, uint64_t hash, int d) {
    (void)hash, (void)d;
    counter *c = ctx;
    c->pairs += id < c->id;
    return true;
}

/* Pairs (i, j), j < i, within radius among the first n hashes, through the index; *seconds includes the build. */
static uint64_t index_pairs(const uint64_t *h, const uint64_t *ids, size_t n, int radius, double *build, double *search) {
    double t0 = now();
    fl_hamming_index *ix;
    if (fl_hamming_build(h, ids, n, &ix) != FL_OK) exit(1);
    double t1 = now();
    counter c = {0, 0};
    for (size_t i = 0; i < n; i++) {
        c.id = ids[i];
        fl_hamming_search(ix, h[i], radius, count_smaller, &c);
    }
    *build = t1 - t0;
    *search = now() - t1;
    fl_hamming_free(ix);
    return c.pairs;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: dedup_bench N BRUTE RADIUS SEED\n");
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10), brute = strtoull(argv[2], NULL, 10);
    int radius = atoi(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
    if (brute > n) brute = n;
    uint64_t *h = malloc(n * sizeof *h), *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = i;
        if (i % 2 == 0 || i < 64) h[i] = xs(&seed);
        else {
            uint64_t v = h[(xs(&seed) % (i / 2 + 1)) * 2];
            int flips = (int)(xs(&seed) % 14);
            for (int k = 0; k < flips; k++) v ^= 1ULL << (xs(&seed) % 64);
            h[i] = v;
        }
    }
    double t0 = now();
    uint64_t brute_pairs = 0;
    for (size_t i = 0; i < brute; i++)
        for (size_t j = 0; j < i; j++) brute_pairs += __builtin_popcountll(h[i] ^ h[j]) <= radius;
    double brute_s = now() - t0;
    double b1, s1, bn, sn;
    uint64_t small_pairs = index_pairs(h, ids, brute, radius, &b1, &s1);
    uint64_t all_pairs = index_pairs(h, ids, n, radius, &bn, &sn);
    printf("hashes\t%zu\nradius\t%d\n", n, radius);
    printf("brute_n\t%zu\nbrute_pairs\t%llu\nbrute_s\t%.3f\n", brute, (unsigned long long)brute_pairs, brute_s);
    printf("index_small_pairs\t%llu\nindex_small_s\t%.3f\n", (unsigned long long)small_pairs, b1 + s1);
    printf("index_pairs\t%llu\nindex_build_s\t%.3f\nindex_search_s\t%.3f\n", (unsigned long long)all_pairs, bn, sn);
    printf("brute_extrapolated_s\t%.1f\n", brute_s * ((double)n * n) / ((double)brute * brute));
    if (small_pairs != brute_pairs) {
        fprintf(stderr, "dedup_bench: the index found %llu pairs, brute force %llu\n", (unsigned long long)small_pairs, (unsigned long long)brute_pairs);
        return 1;
    }
    return 0;
}
