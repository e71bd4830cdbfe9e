#!/usr/bin/python3
"""fts_sqlite.py CORPUS.jsonl QUERIES.tsv DIR REPS — the SQLite FTS5 side of the full-text search benchmark
(bench/fts.sh; bench/README.md, "Full-text search"), through Python's sqlite3 module in one process.

Loads the captions into a plain table docs(id INTEGER PRIMARY KEY, caption TEXT) in DIR/fts5.db (untimed for
the ratios; its time is printed), then builds the FTS5 index REPS times over it: an external-content table
`CREATE VIRTUAL TABLE t USING fts5(caption, content='docs', content_rowid='id')` (default unicode61
tokenizer, detail=full: positions, so phrases work), `INSERT INTO t(t) VALUES('rebuild')` and
`INSERT INTO t(t) VALUES('optimize')`, committed; dropped before the next build. Like framelake's and
LanceDB's builds this indexes rows that are already stored.

Queries: `SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10` (bm25() is negative, lower is better;
rowid = id), with `"a" OR "b"` for terms and `"a b"` for phrases; one untimed pass over all queries, then
REPS timed passes, each query timed alone (execute + fetchall).

stdout: "build<TAB>-<TAB>median_s<TAB>load_s<TAB>per-build seconds<TAB>median CPU s", then per query
class<TAB>name<TAB>median_ms<TAB>first_ms<TAB>ids, like fts_bench.c.
"""
import json
import os
import sqlite3
import statistics
import sys
import time

corpus, queries_path, out_dir, reps = sys.argv[1], sys.argv[2], sys.argv[3], max(1, int(sys.argv[4]))
path = os.path.join(out_dir, "fts5.db")
for suffix in ("", "-journal", "-wal"):
    if os.path.exists(path + suffix):
        os.remove(path + suffix)
db = sqlite3.connect(path, isolation_level=None)
db.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")  # fails here when this SQLite lacks FTS5
db.execute("DROP TABLE probe")

t0 = time.perf_counter()
db.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, caption TEXT)")
db.execute("BEGIN")
with open(corpus) as f:
    db.executemany("INSERT INTO docs(id, caption) VALUES (?, ?)", ((r["id"], r["caption"]) for r in map(json.loads, f)))
db.execute("COMMIT")
load_s = time.perf_counter() - t0

builds, cpu = [], []
for r in range(reps):
    db.execute("DROP TABLE IF EXISTS t")
    t0, c0 = time.perf_counter(), time.process_time()
    db.execute("BEGIN")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(caption, content='docs', content_rowid='id')")
    db.execute("INSERT INTO t(t) VALUES('rebuild')")
    db.execute("INSERT INTO t(t) VALUES('optimize')")
    db.execute("COMMIT")
    builds.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(f"build\t-\t{statistics.median(builds):.4f}\t{load_s:.4f}\t{','.join(f'{b:.4f}' for b in builds)}\t{statistics.median(cpu):.4f}")

queries = []
with open(queries_path) as f:
    for line in f:
        cls, name, words = line.rstrip("\n").split("\t")[:3]
        if cls == "phrase":
            match = '"' + words + '"'
        else:
            match = " OR ".join('"' + w + '"' for w in words.split())
        queries.append((cls, name, match))

SQL = "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10"


def run(match):
    t0 = time.perf_counter()
    rows = db.execute(SQL, (match,)).fetchall()
    return (time.perf_counter() - t0) * 1e3, [r[0] for r in rows]


first, ids = [], []
for cls, name, match in queries:
    ms, got = run(match)
    first.append(ms)
    ids.append(got)
times = [[] for _ in queries]
for r in range(reps):
    for i, (cls, name, match) in enumerate(queries):
        ms, got = run(match)
        times[i].append(ms)
for i, (cls, name, match) in enumerate(queries):
    print(f"{cls}\t{name}\t{statistics.median(times[i]):.4f}\t{first[i]:.4f}\t{','.join(map(str, ids[i]))}")
db.close()
