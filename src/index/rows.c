/*
 * rows.c — sorted row id vectors: growth, radix sort with deduplication, and the merge-based set operations
 * the planner combines predicates with.
 */
#include "ixfile.h"

void ix_rows_free(ix_rows *r) {
    fl_free(r->ids);
    memset(r, 0, sizeof *r);
}

bool ix_rows_push(ix_rows *r, uint64_t id) {
    if (r->n == r->cap && !fl_reserve((void **)&r->ids, &r->cap, r->n + 1, sizeof *r->ids, 16)) return false;
    r->ids[r->n++] = id;
    return true;
}

bool ix_rows_append(ix_rows *r, const uint64_t *ids, size_t n) {
    if (!n) return true;
    if (!fl_reserve((void **)&r->ids, &r->cap, r->n + n, sizeof *r->ids, 16)) return false;
    memcpy(r->ids + r->n, ids, n * sizeof *ids);
    r->n += n;
    return true;
}

void ix_rows_move(ix_rows *dst, ix_rows *src) {
    ix_rows_free(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static void dedupe(ix_rows *r) {
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (k == 0 || r->ids[i] != r->ids[k - 1]) r->ids[k++] = r->ids[i];
    r->n = k;
}

bool ix_rows_sort_unique(ix_rows *r) {
    bool sorted = true;
    uint64_t max = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (i && r->ids[i] < r->ids[i - 1]) sorted = false;
        if (r->ids[i] > max) max = r->ids[i];
    }
    if (!sorted) {
        /* LSD radix sort, 11 bits a pass, only over the bits the largest id uses. */
        uint64_t *tmp = fl_malloc(r->n * sizeof *tmp);
        if (!tmp) return false;
        uint64_t *src = r->ids, *dst = tmp;
        for (int shift = 0; shift < 64 && (max >> shift); shift += 11) {
            size_t count[2048 + 1] = {0};
            for (size_t i = 0; i < r->n; i++) count[((src[i] >> shift) & 2047) + 1]++;
            for (int b = 0; b < 2048; b++) count[b + 1] += count[b];
            for (size_t i = 0; i < r->n; i++) dst[count[(src[i] >> shift) & 2047]++] = src[i];
            uint64_t *t = src;
            src = dst;
            dst = t;
        }
        if (src != r->ids) memcpy(r->ids, src, r->n * sizeof *src);
        fl_free(tmp);
    }
    dedupe(r);
    return true;
}

static bool reserve_exact(ix_rows *out, size_t n) {
    memset(out, 0, sizeof *out);
    if (!n) return true;
    if (!(out->ids = fl_malloc(n * sizeof *out->ids))) return false;
    out->cap = n;
    return true;
}

bool ix_rows_union(const ix_rows *a, const ix_rows *b, ix_rows *out) {
    if (!reserve_exact(out, a->n + b->n)) return false;
    size_t i = 0, j = 0, k = 0;
    while (i < a->n && j < b->n) {
        uint64_t x = a->ids[i], y = b->ids[j];
        out->ids[k++] = x < y ? x : y;
        i += x <= y;
        j += y <= x;
    }
    while (i < a->n) out->ids[k++] = a->ids[i++];
    while (j < b->n) out->ids[k++] = b->ids[j++];
    out->n = k;
    return true;
}

bool ix_rows_intersect(const ix_rows *a, const ix_rows *b, ix_rows *out) {
    if (!reserve_exact(out, a->n < b->n ? a->n : b->n)) return false;
    size_t i = 0, j = 0, k = 0;
    while (i < a->n && j < b->n) {
        uint64_t x = a->ids[i], y = b->ids[j];
        if (x == y) out->ids[k++] = x;
        i += x <= y;
        j += y <= x;
    }
    out->n = k;
    return true;
}

bool ix_rows_minus(const ix_rows *a, const ix_rows *b, ix_rows *out) {
    if (!reserve_exact(out, a->n)) return false;
    size_t i = 0, j = 0, k = 0;
    while (i < a->n) {
        while (j < b->n && b->ids[j] < a->ids[i]) j++;
        if (j == b->n || b->ids[j] != a->ids[i]) out->ids[k++] = a->ids[i];
        i++;
    }
    out->n = k;
    return true;
}
