// lancedb_backfill.mjs ROWS.jsonl DIR REPS SQL — the LanceDB side of the backfill benchmark (backfill.sh,
// bench/README.md "Backfill"): loads the JSON Lines rows of query_rows.mjs into a LanceDB table (the same
// columns and Arrow types as lancedb_query.mjs; untimed, printed), then REPS times adds a computed column
// with table.addColumns([{name, valueSql: SQL}]) under a fresh name (hp_expr_1, hp_expr_2, …) and times
// that call. Checks that every run counts as many true values as the input's has_person column. Prints
// "key<TAB>value" lines: load seconds, each run's milliseconds, the median, and the true counts.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const [rowsPath, dir, repsText, sql] = process.argv.slice(2);
const reps = Math.max(1, Number(repsText));

const f = (name, type) => new arrow.Field(name, type, true);
const schema = new arrow.Schema([
  f("image_id", new arrow.Utf8()), f("split", new arrow.Utf8()), f("weather", new arrow.Utf8()),
  f("scene", new arrow.Utf8()), f("timeofday", new arrow.Utf8()),
  f("timestamp", new arrow.TimestampMillisecond()), f("width", new arrow.Int32()), f("height", new arrow.Int32()),
  f("brightness", new arrow.Float32()), f("person_bbox_area_pct", new arrow.Float32()),
  f("has_person", new arrow.Bool()), f("has_rider", new arrow.Bool()), f("is_duplicate", new arrow.Bool()),
  f("ann_categories", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true))),
]);

async function* batches() {
  const lines = createInterface({ input: createReadStream(rowsPath), crlfDelay: Infinity });
  let rows = [];
  const flush = () => {
    const vectors = {};
    for (const field of schema.fields) vectors[field.name] = arrow.vectorFromArray(rows.map((r) => r[field.name] ?? null), field.type);
    rows = [];
    return new arrow.Table(schema, vectors);
  };
  for await (const line of lines) {
    if (!line) continue;
    rows.push(JSON.parse(line));
    if (rows.length === 100000) yield flush();
  }
  if (rows.length) yield flush();
}

const db = await lancedb.connect(dir);
let table = null;
let t0 = performance.now();
for await (const t of batches()) {
  if (!table) table = await db.createTable("q", t, { mode: "overwrite" });
  else await table.add(t);
}
const rows = await table.countRows();
console.log(`rows\t${rows}`);
console.log(`load_seconds\t${((performance.now() - t0) / 1000).toFixed(2)}`);
const persons = await table.countRows("has_person");
console.log(`has_person_true\t${persons}`);

const times = [];
for (let r = 1; r <= reps; r++) {
  const name = `hp_expr_${r}`;
  t0 = performance.now();
  await table.addColumns([{ name, valueSql: sql }]);
  const ms = performance.now() - t0;
  times.push(ms);
  const trues = await table.countRows(name);
  console.log(`run_ms\t${ms.toFixed(1)}`);
  console.log(`run_true\t${trues}`);
  if (trues !== persons) {
    console.error(`lancedb_backfill: ${name} has ${trues} true values, has_person ${persons}`);
    process.exit(1);
  }
}
times.sort((a, b) => a - b);
const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
console.log(`median_ms\t${median.toFixed(1)}`);
console.log(`best_ms\t${times[0].toFixed(1)}`);
