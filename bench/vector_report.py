#!/usr/bin/env python3
"""vector_report.py OUT GT.i64 NQ RECALLS HEADER — the report of the vector-index benchmark (bench/vector.sh).

Reads OUT/<engine>.tsv for engine in framelake, faiss, lancedb (the lines vector_bench, faiss_bench and
lancedb_vector.mjs print: "load", "build", "q", "cpu") and the ground truth (NQ x 10 int64, best first).
Per engine and (nprobes, refine): recall@10 = mean over queries of |returned ids & true top 10| / 10 (the
ids of the first timed pass); latency = per query the median of its REPS timed runs, then p50 / p95 / mean
over the queries. Prints the table, the equal-recall summary (per engine the lowest-p50 setting reaching
each recall in RECALLS, and peer / framelake ratios: > 1 means framelake is faster), and writes
OUT/results.txt and OUT/results.tsv. HEADER is printed first (the run's settings).
"""
import statistics
import sys

import numpy as np

ENGINES = ["framelake", "faiss", "lancedb"]
LABEL = {"framelake": "framelake", "faiss": "FAISS", "lancedb": "LanceDB"}


def percentile(v, p):
    return float(np.percentile(np.asarray(v), p))  # numpy's default: linear between closest ranks


def load(path):
    res = {"q": {}, "cpu": {}, "scan": {}, "build": None, "load": None}
    try:
        f = open(path)
    except FileNotFoundError:
        return None
    for line in f:
        p = line.rstrip("\n").split("\t")
        if p[0] == "q":
            key = (int(p[1]), int(p[2]))
            lat = [float(x) for x in p[4].split(",")]
            ids = [int(x) for x in p[5].split(",")] if len(p) > 5 and p[5] else []
            res["q"].setdefault(key, {})[int(p[3])] = (lat, ids)
        elif p[0] == "cpu":
            res["cpu"][(int(p[1]), int(p[2]))] = (float(p[3]), float(p[4]))
        elif p[0] == "scan":
            res["scan"][(int(p[1]), int(p[2]))] = float(p[3])
        elif p[0] == "build":
            res["build"] = [float(x) for x in p[1:]]
        elif p[0] == "load":
            res["load"] = float(p[1])
    return res


def main():
    out, gt_path, nq = sys.argv[1], sys.argv[2], int(sys.argv[3])
    recalls = [float(x) for x in sys.argv[4].split()]
    header = sys.argv[5] if len(sys.argv) > 5 else ""
    gt = np.fromfile(gt_path, dtype=np.int64).reshape(nq, 10)
    truth = [set(row.tolist()) for row in gt]
    data = {e: load(f"{out}/{e}.tsv") for e in ENGINES}
    engines = [e for e in ENGINES if data[e] and data[e]["q"]]
    stats = {}  # (engine, nprobes, refine) -> dict
    for e in engines:
        for key, per_q in data[e]["q"].items():
            if len(per_q) != nq:
                sys.exit(f"vector_report: {e} {key}: {len(per_q)} queries, expected {nq}")
            rec = [len(set(per_q[q][1][:10]) & truth[q]) / 10 for q in range(nq)]
            med = [statistics.median(per_q[q][0]) for q in range(nq)]
            cpu = data[e]["cpu"].get(key)
            stats[(e,) + key] = {
                "recall": float(np.mean(rec)), "p50": percentile(med, 50), "p95": percentile(med, 95),
                "mean": float(np.mean(med)), "cpu": cpu[0] / cpu[1] if cpu and cpu[1] > 0 else float("nan"),
                "short": sum(1 for q in range(nq) if len(per_q[q][1]) < 10),
            }
    keys = sorted({k[1:] for k in stats})
    lines = []
    w = lines.append
    if header:
        w(header)
    w("")
    w("BUILD  (ivf_pq / IVF-PQ index: train + encode + write; framelake and LanceDB time one API call)")
    w(f"  {'engine':<10} {'build s':>9} {'cpu s':>9}   load s   notes")
    for e in engines:
        b = data[e]["build"] or [float("nan")] * 2
        note = ""
        if e == "faiss" and len(b) >= 4:
            note = f"train {b[2]:.1f} s + add {b[3]:.1f} s (in memory, nothing written)"
        if e == "framelake":
            note = "fl_index_create_with, index file written + committed"
        if e == "lancedb":
            note = "createIndex, index files written + committed"
        w(f"  {LABEL[e]:<10} {b[0]:>9.1f} {b[1]:>9.1f} {data[e]['load'] or 0:>8.1f}   {note}")
    if "framelake" in engines and len(engines) > 1:
        fb = data["framelake"]["build"][0]
        w("  build time ratio peer / framelake: " + ", ".join(
            f"{LABEL[e]} {data[e]['build'][0] / fb:.2f}x" for e in engines if e != "framelake"))
    w("")
    w("QUERIES  k = 10, one query at a time, recall@10 vs exact L2; latency = p50 (p95) over the queries of each")
    w("         query's median timed run, ms. ratio = peer p50 / framelake p50 (> 1: framelake faster).")
    head = f"  {'nprobes':>7} {'refine':>6}"
    for e in engines:
        head += f" | {LABEL[e] + ' recall':>16} {'p50 (p95) ms':>16}"
    for e in engines:
        if e != "framelake":
            head += f" | {LABEL[e] + '/fl':>10}"
    w(head)
    for np_, rf in keys:
        row = f"  {np_:>7} {rf if rf else '-':>6}"
        for e in engines:
            s = stats.get((e, np_, rf))
            if s:
                lat = f"{s['p50']:.3f} ({s['p95']:.3f})"
                row += f" | {s['recall']:>16.3f} {lat:>16}"
            else:
                row += f" | {'-':>16} {'-':>16}"
        for e in engines:
            if e == "framelake":
                continue
            a, b = stats.get(("framelake", np_, rf)), stats.get((e, np_, rf))
            row += f" | {b['p50'] / a['p50']:>9.2f}x" if a and b else f" | {'-':>10}"
        w(row)
    scanners = [e for e in engines if data[e]["scan"]]
    if scanners:
        w("")
        w("CODES SCANNED  mean per query in the probed lists (no refine), and mean latency per 1000 codes (us):")
        w(f"  {'nprobes':>7}" + "".join(f" | {LABEL[e] + ' codes':>16} {'us/1000':>8}" for e in scanners))
        for np_ in sorted({k[0] for k in keys}):
            row = f"  {np_:>7}"
            for e in scanners:
                c, st = data[e]["scan"].get((np_, 0)), stats.get((e, np_, 0))
                row += f" | {c:>16.0f} {st['mean'] * 1e6 / c:>8.1f}" if c and st else f" | {'-':>16} {'-':>8}"
            w(row)
    w("")
    w("AT EQUAL RECALL  per engine the lowest-p50 setting (nprobes/refine) reaching the recall; ratio = peer / framelake")
    for target in recalls:
        best = {}
        for e in engines:
            cands = [(s["p50"], k[1], k[2], s["recall"]) for k, s in stats.items() if k[0] == e and s["recall"] >= target]
            best[e] = min(cands) if cands else None
        parts = []
        for e in engines:
            b = best[e]
            parts.append(f"{LABEL[e]} {b[0]:.3f} ms ({b[1]}/{b[2] or '-'}, {b[3]:.3f})" if b else f"{LABEL[e]} not reached")
        ratios = []
        for e in engines:
            if e != "framelake" and best.get("framelake") and best[e]:
                ratios.append(f"{LABEL[e]}/framelake {best[e][0] / best['framelake'][0]:.2f}x")
        w(f"  recall >= {target:.2f}: " + "; ".join(parts) + ("   => " + ", ".join(ratios) if ratios else ""))
    w("")
    w("CPU / wall during the timed passes (1.0 = one busy thread): " + "; ".join(
        f"{LABEL[e]} {min(s['cpu'] for k, s in stats.items() if k[0] == e):.2f}-{max(s['cpu'] for k, s in stats.items() if k[0] == e):.2f}"
        for e in engines))
    short = {e: sum(s["short"] for k, s in stats.items() if k[0] == e) for e in engines}
    if any(short.values()):
        w("queries answered with fewer than 10 rows: " + ", ".join(f"{LABEL[e]} {n}" for e, n in short.items()))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(f"{out}/results.txt", "w") as f:
        f.write(text)
    with open(f"{out}/results.tsv", "w") as f:
        f.write("engine\tnprobes\trefine\trecall_at_10\tp50_ms\tp95_ms\tmean_ms\tcpu_per_wall\n")
        for e in engines:
            b = data[e]["build"]
            f.write(f"{e}\tbuild\t-\t-\t{b[0] * 1e3:.1f}\t-\t-\t{b[1] / b[0]:.3f}\n")
            for np_, rf in keys:
                s = stats.get((e, np_, rf))
                if s:
                    f.write(f"{e}\t{np_}\t{rf}\t{s['recall']:.4f}\t{s['p50']:.4f}\t{s['p95']:.4f}\t{s['mean']:.4f}\t{s['cpu']:.3f}\n")


if __name__ == "__main__":
    main()
