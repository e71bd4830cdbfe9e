#!/usr/bin/python3
"""fts_report.py CORPUS.jsonl QUERIES.tsv OUTDIR — checks and reports the full-text search benchmark
(bench/fts.sh; bench/README.md, "Full-text search").

Reads OUTDIR/framelake.tsv, fts5.tsv and lancedb.tsv (lines class<TAB>name<TAB>median_ms<TAB>first_ms<TAB>ids,
the peers' also a "build" line; fts.sh adds framelake's build and load lines) and OUTDIR/meta.tsv, and:

1. ranks every query over the corpus with a reference BM25 written here from the definition framelake
   documents (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5)), document length = words, a phrase's
   tf = its occurrences and df = the captions holding it, scores summed over the query's items in order,
   ties by id). framelake's top 10 must be the reference's (ids in order; a different id at a rank is
   accepted only when its reference score equals the reference's score at that rank): otherwise the run
   fails. The peers are only compared, not judged:
2. overlap per query = |A ∩ B| / max(|A|, |B|) of the top-10 id sets of a peer (A) and framelake (B), and a
   tie-aware overlap that also counts a peer's id when its reference score ties framelake's 10th (short
   captions make many exact BM25 ties, which each engine breaks its own way); means per class;
3. latency per class: p50 and p95 (linear interpolation) over the class's per-query medians, per engine,
   and ratios peer / framelake (> 1: framelake is faster); index build seconds and their ratios;
4. prints the report and writes OUTDIR/results.tsv (long format: section, engine, class, query, metric, value).
"""
import json
import math
import os
import re
import sys

corpus, queries_path, out = sys.argv[1:4]
ENGINES = [("framelake", "framelake"), ("fts5", "SQLite FTS5"), ("lancedb", "LanceDB")]
CLASSES = ["term", "or", "phrase"]
K1, B = 1.2, 0.75

# ---- reference BM25 ----
docs = []
post = {}
with open(corpus) as f:
    for line in f:
        r = json.loads(line)
        toks = re.findall(r"[a-z0-9]+", r["caption"].lower())
        assert r["id"] == len(docs), "ids must be 0..N-1 in order"
        docs.append(toks)
        for w in toks:
            post.setdefault(w, []).append(r["id"])  # once per occurrence: tf by counting
N = len(docs)
avg = sum(map(len, docs)) / N


def matches(item):
    """{doc: tf} of an item (a list of consecutive words)."""
    if len(item) == 1:
        tf = {}
        for d in post.get(item[0], []):
            tf[d] = tf.get(d, 0) + 1
        return tf
    cand = set(post.get(item[0], []))
    for w in item[1:]:
        cand &= set(post.get(w, []))
    tf = {}
    for d in cand:
        t = docs[d]
        c = sum(1 for i in range(len(t) - len(item) + 1) if t[i:i + len(item)] == item)
        if c:
            tf[d] = c
    return tf


queries = []  # (class, name, words, df)
with open(queries_path) as f:
    for line in f:
        c, name, words, df = line.rstrip("\n").split("\t")
        queries.append((c, name, words, int(df)))

ref = {}  # name -> (ranked [(score, id)], score of id)
for c, name, words, counted in queries:
    items = [words.split()] if c == "phrase" else [[w] for w in words.split()]
    scores = {}
    for item in items:  # framelake sums per row over the items in query order
        tf = matches(item)
        n = len(tf)
        idf = math.log(1.0 + (N - n + 0.5) / (n + 0.5))
        for d, t in tf.items():
            scores[d] = scores.get(d, 0.0) + idf * t * (K1 + 1.0) / (t + K1 * (1.0 - B + B * len(docs[d]) / avg))
    ranked = sorted(((s, d) for d, s in scores.items()), key=lambda x: (-x[0], x[1]))
    ref[name] = (ranked, scores)
    if len(ranked) != counted:  # fts_corpus.py counted the same matches its own way
        sys.exit(f"fts_report: {name}: {len(ranked)} captions match, fts_corpus.py counted {counted}")

# ---- engine results ----
res = {e: {} for e, _ in ENGINES}
build = {}
meta = {}
with open(os.path.join(out, "meta.tsv")) as f:
    for line in f:
        k, v = line.rstrip("\n").split("\t", 1)
        meta[k] = v
for e, _ in ENGINES:
    with open(os.path.join(out, e + ".tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "build":
                build[e] = (float(p[2]), float(p[3]), float(p[5]))
            elif p[0] in CLASSES:
                ids = [int(x) for x in p[4].split(",") if x]
                res[e][p[1]] = (float(p[2]), float(p[3]), ids, float(p[5]) if len(p) > 5 else None)
    missing = [q[1] for q in queries if q[1] not in res[e]]
    if missing:
        sys.exit(f"fts_report: {e} has no result for {', '.join(missing)}")

# ---- 1. framelake against the reference ----
bad = []
for c, name, words, df in queries:
    ranked, scores = ref[name]
    want = ranked[:10]
    got = res["framelake"][name][2]
    ok = len(got) == len(want)
    for i in range(min(len(got), len(want))):
        if got[i] != want[i][1]:
            s = scores.get(got[i])
            ok = ok and s is not None and abs(s - want[i][0]) <= 1e-9 * abs(want[i][0])
    if not ok:
        bad.append(f"{name} ({words!r}): framelake {got}, reference {[d for _, d in want]}")
if bad:
    sys.exit("fts_report: framelake's results differ from the reference BM25:\n  " + "\n  ".join(bad))


# ---- 2. overlaps ----
def overlap(name, peer):
    ranked, scores = ref[name]
    a, b = res[peer][name][2], res["framelake"][name][2]
    n = max(len(a), len(b))
    if n == 0:
        return 1.0, 1.0
    inter = len(set(a) & set(b))
    tenth = ranked[len(b) - 1][0] if b else math.inf
    tie = sum(1 for d in a if d in b or scores.get(d, -1.0) >= tenth * (1 - 1e-12))
    return inter / n, min(tie, n) / n


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def pct(v, p):
    v = sorted(v)
    at = p * (len(v) - 1)
    lo = int(at)
    return v[lo] + (at - lo) * (v[lo + 1] - v[lo]) if lo + 1 < len(v) else v[lo]


rows = [("section", "engine", "class", "query", "metric", "value")]
lat = {}
for e, _ in ENGINES:
    rows.append(("build", e, "-", "-", "seconds", f"{build[e][0]:.4f}"))
    rows.append(("build", e, "-", "-", "cpu_seconds", f"{build[e][2]:.4f}"))
    rows.append(("load", e, "-", "-", "seconds", f"{build[e][1]:.4f}"))
    for c in CLASSES:
        med = [res[e][q[1]][0] for q in queries if q[0] == c]
        lat[e, c] = (pct(med, 0.5), pct(med, 0.95), mean(med))
        for m, v in zip(("p50_ms", "p95_ms", "mean_ms"), lat[e, c]):
            rows.append(("latency", e, c, "-", m, f"{v:.4f}"))
for c in CLASSES:
    med = [res["framelake"][q[1]][3] for q in queries if q[0] == c]
    lat["rowid", c] = (pct(med, 0.5), pct(med, 0.95), mean(med))
    for m, v in zip(("p50_ms", "p95_ms", "mean_ms"), lat["rowid", c]):
        rows.append(("latency", "framelake_rowid_only", c, "-", m, f"{v:.4f}"))
ov = {}
for e, _ in ENGINES[1:]:
    for c in CLASSES:
        pairs = [overlap(q[1], e) for q in queries if q[0] == c]
        ov[e, c] = (mean([p[0] for p in pairs]), mean([p[1] for p in pairs]))
        rows.append(("overlap", e, c, "-", "mean_overlap", f"{ov[e, c][0]:.3f}"))
        rows.append(("overlap", e, c, "-", "tie_aware_overlap", f"{ov[e, c][1]:.3f}"))
        rows.append(("ratio", e, c, "-", "p50", f"{lat[e, c][0] / lat['framelake', c][0]:.3f}"))
        rows.append(("ratio", e, c, "-", "p95", f"{lat[e, c][1] / lat['framelake', c][1]:.3f}"))
    rows.append(("ratio", e, "-", "-", "build", f"{build[e][0] / build['framelake'][0]:.3f}"))
for c, name, words, df in queries:
    rows.append(("query", "reference", c, name, "matches", str(len(ref[name][0]))))
    for e, _ in ENGINES:
        rows.append(("query", e, c, name, "median_ms", f"{res[e][name][0]:.4f}"))
        if e == "framelake":
            rows.append(("query", "framelake_rowid_only", c, name, "median_ms", f"{res[e][name][3]:.4f}"))
        rows.append(("query", e, c, name, "first_ms", f"{res[e][name][1]:.4f}"))
        if e != "framelake":
            o = overlap(name, e)
            rows.append(("query", e, c, name, "overlap", f"{o[0]:.2f}"))
            rows.append(("query", e, c, name, "tie_aware_overlap", f"{o[1]:.2f}"))
with open(os.path.join(out, "results.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")

# ---- 4. report ----
words_total = sum(map(len, docs))
print(f"full-text search benchmark: framelake vs SQLite FTS5 {meta['sqlite']} (Python sqlite3) vs LanceDB {meta['lancedb']}, {meta['date']}")
print(f"machine: {meta['cores']} cores, load average {meta['load']} at the end; node {meta['node']}, Python {meta['python']}")
print(f"corpus: {N} captions (SEED {meta['seed']}), {words_total} words ({min(map(len, docs))}-{max(map(len, docs))} per caption, "
      f"mean {words_total / N:.1f}), {len(post)} distinct; {len(queries)} queries, {len(queries) // len(CLASSES)} per class; "
      f"REPS {meta['reps']} (medians)")
print(f"framelake's top 10 equal a reference BM25 on all {len(queries)} queries (checked); k = 10, projection id on every engine")
print()
print("INDEX BUILD over stored rows (medians of REPS builds)    seconds  CPU s   peer/framelake")
for e, what in (("framelake", "framelake  index create --type fts --positions (CLI)"),
                ("fts5", "SQLite FTS5  external content: rebuild + optimize"),
                ("lancedb", "LanceDB  createIndex(Index.fts({withPosition: true}))")):
    ratio = "" if e == "framelake" else f"{build[e][0] / build['framelake'][0]:8.2f}x"
    print(f"  {what:54s} {build[e][0]:7.3f} {build[e][2]:6.3f} {ratio}")
print(f"  (loading the rows, not in the ratios: framelake append {build['framelake'][1]:.2f} s, FTS5 insert into a plain table "
      f"{build['fts5'][1]:.2f} s, LanceDB createTable + add {build['lancedb'][1]:.2f} s)")
print()
print("QUERIES  latency in ms: per query the median of REPS runs; per class p50 and p95 over its queries")
print(f"  {'class':8s} {'framelake':>17s} {'SQLite FTS5':>17s} {'LanceDB':>17s}   {'FTS5/framelake':>15s} {'LanceDB/framelake':>17s}")
print(f"  {'':8s} " + " ".join(f"{'p50':>8s} {'p95':>8s}" for _ in range(3)) + f"   {'p50':>7s} {'p95':>7s} {'p50':>8s} {'p95':>8s}")
for c in CLASSES:
    f_, s_, l_ = lat["framelake", c], lat["fts5", c], lat["lancedb", c]
    print(f"  {c:8s} {f_[0]:8.3f} {f_[1]:8.3f} {s_[0]:8.3f} {s_[1]:8.3f} {l_[0]:8.3f} {l_[1]:8.3f}   "
          f"{s_[0] / f_[0]:6.2f}x {s_[1] / f_[1]:6.2f}x {l_[0] / f_[0]:7.2f}x {l_[1] / f_[1]:7.2f}x")
print("  (ratio > 1: framelake is faster)")
print("  framelake with an empty projection (row ids only, no data page read), p50 / p95: " +
      ", ".join(f"{c} {lat['rowid', c][0]:.3f} / {lat['rowid', c][1]:.3f}" for c in CLASSES))
print()
print("TOP-10 AGREEMENT with framelake, mean per class of |A ∩ B| / max(|A|, |B|); tie-aware: a peer's id also counts")
print("when framelake's BM25 scores it equal to framelake's 10th (ties are broken differently by each engine)")
print(f"  {'class':8s} {'FTS5':>8s} {'tie-aware':>10s} {'LanceDB':>8s} {'tie-aware':>10s}")
for c in CLASSES:
    print(f"  {c:8s} {ov['fts5', c][0]:8.2f} {ov['fts5', c][1]:10.2f} {ov['lancedb', c][0]:8.2f} {ov['lancedb', c][1]:10.2f}")
print()
print("PER QUERY  matches = captions holding the word, any of the words, the phrase; ms = median of REPS; (row ids):")
print("  framelake with an empty projection; first = the untimed first run; overlap = with framelake, FTS5 then LanceDB")
print(f"  {'query':9s} {'matches':>7s} {'framelake':>9s} {'(row ids)':>9s} {'FTS5':>8s} {'LanceDB':>8s}  {'first: fl':>9s} {'FTS5':>7s} "
      f"{'Lance':>7s}  {'overlap':>7s} {'':>4s}  text")
for c, name, words, df in queries:
    r = [res[e][name] for e, _ in ENGINES]
    text = f'"{words}"' if c == "phrase" else words
    print(f"  {name:9s} {len(ref[name][0]):7d} {r[0][0]:9.3f} {r[0][3]:9.3f} {r[1][0]:8.3f} {r[2][0]:8.3f}  {r[0][1]:9.3f} {r[1][1]:7.3f} {r[2][1]:7.3f}  "
          f"{overlap(name, 'fts5')[0]:7.1f} {overlap(name, 'lancedb')[0]:4.1f}  {text}")
