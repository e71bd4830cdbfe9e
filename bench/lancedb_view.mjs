// lancedb_view.mjs SOURCE.jsonl OPS.jsonl DIR LOAD_ROWS — the LanceDB side of the materialized-view benchmark
// (view.sh, bench/README.md "Materialized views"). LanceDB has no materialized views, so this does what a
// LanceDB user does to keep a training split current: re-run the split's query on the source table and write
// the result as the split table,
//   source.query().where(WHERE).select(COLUMNS).toArrow() → db.createTable("rider_train", data, {mode: "overwrite"})
// Loads SOURCE.jsonl (the rows view_bench.c generated) into table `frames` in add() calls of LOAD_ROWS rows
// (framelake's commits), builds the split once, then replays OPS.jsonl (view_bench.c's changes, in order):
// each change is applied to the source — add() of the appended rows, one update() of has_rider on the
// backfilled image_ids, one delete() of the deleted ones; untimed, printed — and the split is rebuilt (timed:
// the query and the write). After every rebuild the split must hold exactly what framelake's view holds: the
// same row count and the same checksum over the rows' values (the one view_bench.c computes: a sum of per-row
// FNV-1a 64 hashes); a difference fails the run.
// Prints "setup<TAB>key<TAB>value" lines, then per change:
//   rep scenario r ms query_ms write_ms apply_ms rows checksum   (tab-separated)
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const [sourcePath, opsPath, dir, loadRowsText] = process.argv.slice(2);
const loadRows = Math.max(1, Number(loadRowsText));
const WHERE = "has_rider = true AND split = 'train' AND is_duplicate = false";
const COLUMNS = ["image_id", "timeofday", "weather", "num_annotations", "ann_categories", "person_bbox_area_pct"];
const SPLIT = "rider_train";

const f = (name, type, nullable = true) => new arrow.Field(name, type, nullable);
const schema = new arrow.Schema([
  f("image_id", new arrow.Utf8(), false), f("split", new arrow.Utf8()), f("timeofday", new arrow.Utf8()), f("weather", new arrow.Utf8()),
  f("num_annotations", new arrow.Int32()), f("has_rider", new arrow.Bool()), f("is_duplicate", new arrow.Bool()),
  f("person_bbox_area_pct", new arrow.Float32()),
  f("ann_categories", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true))), f("timestamp", new arrow.Int64()),
]);

function toTable(rows) {
  const vectors = {};
  for (const field of schema.fields) {
    const values = rows.map((r) => (field.name === "timestamp" ? BigInt(r.timestamp) : r[field.name] ?? null));
    vectors[field.name] = arrow.vectorFromArray(values, field.type);
  }
  return new arrow.Table(schema, vectors);
}

async function* lines(path) {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) if (line) yield line;
}

// ---- the checksum of view_bench.c: per row FNV-1a 64 over
// image_id US timeofday US weather US num_annotations US label RS label ... US float32 bits (hex), summed mod 2^64
const MASK = (1n << 64n) - 1n;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function fnv1a(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, "utf8")) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & MASK;
  }
  return h;
}

const cell = (v) => (v === null || v === undefined ? "\\N" : String(v));

function checksum(data) {
  const cols = COLUMNS.map((c) => data.getChild(c));
  let sum = 0n;
  for (let i = 0; i < data.numRows; i++) {
    const [id, tod, weather, n, cats, area] = cols.map((c) => c.get(i));
    let labels = "\\N";
    if (cats !== null && cats !== undefined) labels = Array.from(cats.toArray(), cell).join("\x1e");
    let bits = "\\N";
    if (area !== null && area !== undefined) {
      f32[0] = area;
      bits = u32[0].toString(16).padStart(8, "0");
    }
    sum = (sum + fnv1a([cell(id), cell(tod), cell(weather), cell(n), labels, bits].join("\x1f"))) & MASK;
  }
  return sum;
}

// ---- run
const db = await lancedb.connect(dir);
let t0 = performance.now();
let source = null;
let pending = [];
const flush = async () => {
  const t = toTable(pending);
  pending = [];
  if (!source) source = await db.createTable("frames", t, { mode: "overwrite" });
  else await source.add(t);
};
for await (const line of lines(sourcePath)) {
  pending.push(JSON.parse(line));
  if (pending.length === loadRows) await flush();
}
if (pending.length) await flush();
console.log(`setup\tsource_rows\t${await source.countRows()}`);
console.log(`setup\tload_ms\t${(performance.now() - t0).toFixed(1)}`);

async function refresh() {
  const a = performance.now();
  const data = await source.query().where(WHERE).select(COLUMNS).toArrow();
  const b = performance.now();
  const split = await db.createTable(SPLIT, data, { mode: "overwrite" });
  const c = performance.now();
  return { split, ms: c - a, queryMs: b - a, writeMs: c - b };
}

const list = (ids) => ids.map((id) => `'${id}'`).join(", ");

for await (const line of lines(opsPath)) {
  const op = JSON.parse(line);
  t0 = performance.now();
  if (op.op === "append") {
    await source.add(toTable(op.rows));
  } else if (op.op === "update") {
    // the new has_rider of every backfilled row in one update: true for the ids in op.true, false for the others
    const value = op.true.length ? `image_id IN (${list(op.true)})` : "false";
    await source.update({ where: `image_id IN (${list(op.ids)})`, valuesSql: { has_rider: value } });
  } else if (op.op === "delete") {
    await source.delete(`image_id IN (${list(op.ids)})`);
  }
  const applyMs = performance.now() - t0;
  const r = await refresh();
  // checked outside the timed part: the split as stored, read back
  const rows = await r.split.countRows();
  const sum = checksum(await r.split.query().select(COLUMNS).toArrow());
  if (op.scenario === "create") {
    console.log(`setup\tsplit_create_ms\t${r.ms.toFixed(2)}`);
    console.log(`setup\tsplit_rows\t${rows}`);
  } else {
    console.log(["rep", op.scenario, op.rep, r.ms.toFixed(3), r.queryMs.toFixed(3), r.writeMs.toFixed(3), applyMs.toFixed(2), rows, sum].join("\t"));
  }
  if (rows !== op.expect_rows || sum !== BigInt(op.expect_sum)) {
    console.error(`lancedb_view: ${op.scenario} rep ${op.rep}: the LanceDB split holds ${rows} rows (checksum ${sum}), ` +
      `framelake's view ${op.expect_rows} rows (checksum ${op.expect_sum})`);
    process.exit(1);
  }
}
