#!/usr/bin/env python3
"""vector_data.py N DIM CLUSTERS NQ SEED OUTPREFIX — the data of the vector-index benchmark (bench/vector.sh,
bench/README.md "Vector search").

Writes, from one numpy Generator seeded with SEED:
  OUTPREFIX.base.f32     N x DIM float32, row-major, no header (row i is the row with id i)
  OUTPREFIX.query.f32    NQ x DIM float32
  OUTPREFIX.gt.i64       NQ x 10 int64: the exact 10 nearest base rows of each query by squared L2, best first
  OUTPREFIX.gt.f64       NQ x 11 float64: their squared distances, plus the 11th (to see ties at the cut)

The base is CLUSTERS Gaussian clusters with varied spreads, sizes and shapes, closer to real embeddings
than isotropic blobs: cluster c has a centre drawn from N(0, I), a spread s_c log-uniform in [0.3, 1.2],
an intrinsic dimension r_c uniform in [8, 32] and a random basis B_c (r_c x DIM, N(0, 1 / r_c) entries); a
point is centre + s_c (z B_c + 0.2 e) with z ~ N(0, I_r) and e ~ N(0, I_DIM). Cluster sizes are a
multinomial draw over Dirichlet(2) weights. A query picks a cluster with probability proportional to its
size and draws a fresh point of it (it is not a base row).

Ground truth is computed in float64 (||x||^2 - 2 x.q + ||q||^2 over float64 copies of the float32 data),
then the 64 best candidates of each query are re-scored as sum((x - q)^2) in float64 and sorted by
(distance, id).
"""
import sys
import time

import numpy as np


def main():
    n, dim, clusters, nq, seed = (int(a) for a in sys.argv[1:6])
    prefix = sys.argv[6]
    t0 = time.time()
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    spread = np.exp(rng.uniform(np.log(0.3), np.log(1.2), clusters))
    rank = rng.integers(8, 33, clusters)
    weights = rng.dirichlet(np.full(clusters, 2.0))
    sizes = rng.multinomial(n, weights)
    bases = [rng.standard_normal((int(r), dim)) / np.sqrt(r) for r in rank]

    def draw(c, count):
        z = rng.standard_normal((count, int(rank[c])))
        e = rng.standard_normal((count, dim))
        return (centres[c] + spread[c] * (z @ bases[c] + 0.2 * e)).astype(np.float32)

    base = np.empty((n, dim), dtype=np.float32)
    at = 0
    for c in range(clusters):
        if sizes[c]:
            base[at:at + sizes[c]] = draw(c, int(sizes[c]))
            at += int(sizes[c])
    # rows in random order, so a cluster is not one contiguous run of ids (or of fragments)
    base = base[rng.permutation(n)]
    qc = rng.choice(clusters, size=nq, p=sizes / sizes.sum())
    queries = np.concatenate([draw(int(c), 1) for c in qc])

    base.tofile(prefix + ".base.f32.tmp")
    queries.tofile(prefix + ".query.f32.tmp")

    # ground truth
    kk = 64
    q64 = queries.astype(np.float64)
    qn = (q64 * q64).sum(1)
    best_d = np.full((nq, kk), np.inf)
    best_i = np.zeros((nq, kk), dtype=np.int64)
    step = 20000
    for s in range(0, n, step):
        x = base[s:s + step].astype(np.float64)
        d = (x * x).sum(1)[None, :] - 2.0 * (q64 @ x.T) + qn[:, None]
        d_all = np.concatenate([best_d, d], axis=1)
        i_all = np.concatenate([best_i, np.arange(s, s + x.shape[0], dtype=np.int64)[None, :].repeat(nq, 0)], axis=1)
        part = np.argpartition(d_all, kk - 1, axis=1)[:, :kk]
        best_d = np.take_along_axis(d_all, part, 1)
        best_i = np.take_along_axis(i_all, part, 1)
    gt = np.empty((nq, 10), dtype=np.int64)
    gtd = np.empty((nq, 11), dtype=np.float64)
    for q in range(nq):
        cand = best_i[q]
        exact = ((base[cand].astype(np.float64) - q64[q]) ** 2).sum(1)
        order = np.lexsort((cand, exact))
        gt[q] = cand[order[:10]]
        gtd[q] = exact[order[:11]]
    gt.tofile(prefix + ".gt.i64.tmp")
    gtd.tofile(prefix + ".gt.f64.tmp")
    import os
    for ext in ("base.f32", "query.f32", "gt.i64", "gt.f64"):
        os.replace(prefix + "." + ext + ".tmp", prefix + "." + ext)
    gap = (gtd[:, 10] - gtd[:, 9]) / gtd[:, 9]
    print(f"vector_data: {n} x {dim} in {clusters} clusters (sizes {sizes.min()}..{sizes.max()}), {nq} queries, "
          f"seed {seed}: {time.time() - t0:.1f} s; 10th/11th neighbour relative gap: min {gap.min():.2e}, "
          f"median {np.median(gap):.2e}; 1st-NN / 10th-NN distance median {np.median(gtd[:, 0] / gtd[:, 9]):.3f}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
