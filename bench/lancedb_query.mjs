// lancedb_query.mjs ROWS.jsonl QUERIES DIR REPS INDEXES — the LanceDB side of the query benchmark
// (query.sh). Loads the JSON Lines rows into a LanceDB table (same columns and types as
// bench/query_schema.txt), runs every query of QUERIES ("name<TAB>kind<TAB>framelake text<TAB>peer spec")
// once untimed and REPS times, creates the scalar indexes INDEXES ("col:type,…" or "none") and runs them
// again. Prints "phase<TAB>name<TAB>median_ms<TAB>result<TAB>first_ms" (first_ms: the first, untimed run),
// phase "scan" before the indexes exist and "indexed" after. Peer specs: a filter for countRows; "group:a,b" — a query of columns a, b grouped and
// counted in JavaScript (LanceDB has no GROUP BY); "topk:col:desc:k:other" — a query of the two columns
// and a JavaScript top-k (LanceDB has no ORDER BY).
import * as lancedb from "@lancedb/lancedb";
import { loadRows } from "./lancedb_rows.mjs";
import { readFileSync } from "node:fs";

const [rowsPath, queriesPath, dir, repsText, indexes] = process.argv.slice(2);
const reps = Math.max(1, Number(repsText));

const db = await lancedb.connect(dir);
const t0 = performance.now();
const table = await loadRows(db, "q", rowsPath);
console.error(`lancedb: loaded ${await table.countRows()} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
async function run(spec) {
  if (spec.startsWith("group:")) {
    const cols = spec.slice(6).split(",");
    const data = await table.query().select(cols).toArrow();
    const groups = new Map();
    const vs = cols.map((c) => data.getChild(c));
    for (let i = 0; i < data.numRows; i++) {
      const key = vs.map((v) => v.get(i)).join("\u0001");
      groups.set(key, (groups.get(key) || 0) + 1);
    }
    return `${groups.size} rows`;
  }
  if (spec.startsWith("topk:")) {
    const [, col, dirn, kText, other] = spec.split(":");
    const k = Number(kText);
    const data = await table.query().select([col, other]).toArrow();
    const v = data.getChild(col);
    const idx = [];
    for (let i = 0; i < data.numRows; i++) idx.push(i);
    const key = (i) => Number(v.get(i));
    idx.sort((a, b) => (dirn === "desc" ? key(b) - key(a) : key(a) - key(b)));
    return `${Math.min(k, idx.length)} rows`;
  }
  return String(await table.countRows(spec));
}

async function runAll(phase) {
  for (const line of readFileSync(queriesPath, "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [name, , , spec] = line.split("\t");
    const first = performance.now();
    let result = await run(spec);
    const firstMs = performance.now() - first;
    const times = [];
    for (let r = 0; r < reps; r++) {
      const s = performance.now();
      result = await run(spec);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const median = reps % 2 ? times[(reps - 1) / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
    console.log(`${phase}\t${name}\t${median.toFixed(3)}\t${result}\t${firstMs.toFixed(3)}`);
  }
}

await runAll("scan");
if (indexes && indexes !== "none") {
  const t1 = performance.now();
  for (const spec of indexes.split(",")) {
    const [col, type] = spec.split(":");
    const config = type === "bitmap" ? lancedb.Index.bitmap() : type === "label_list" ? lancedb.Index.labelList() : lancedb.Index.btree();
    await table.createIndex(col, { config });
  }
  console.log(`index\tbuild\t${(performance.now() - t1).toFixed(3)}\t${indexes.split(",").length} indexes`);
  await runAll("indexed");
}
