// lancedb_count.mjs ROWS.jsonl FILTERS.txt DIR — loads the rows into a LanceDB table (Arrow schema below,
// the same columns framelake imports with tests/differential/schema.txt) and prints, for every filter line,
// "count<TAB>filter" or "error<TAB>filter<TAB>message". Used by tests/differential/run.sh.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { readFileSync } from "node:fs";

const [rowsPath, filtersPath, dir] = process.argv.slice(2);
const rows = readFileSync(rowsPath, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
const filters = readFileSync(filtersPath, "utf8").split("\n").filter((l) => l.length && !l.startsWith("#"));

const f = (name, type) => new arrow.Field(name, type, true);
const schema = new arrow.Schema([
  f("image_id", new arrow.Utf8()),
  f("split", new arrow.Utf8()),
  f("weather", new arrow.Utf8()),
  f("timeofday", new arrow.Utf8()),
  f("scene", new arrow.Utf8()),
  f("width", new arrow.Int32()),
  f("height", new arrow.Int32()),
  f("frame", new arrow.Int64()),
  f("brightness", new arrow.Float64()),
  f("area_pct", new arrow.Float32()),
  f("ts", new arrow.TimestampMillisecond()),
  f("has_person", new arrow.Bool()),
  f("has_rider", new arrow.Bool()),
  f("ann_categories", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true))),
]);

const columns = {};
for (const field of schema.fields) {
  columns[field.name] = rows.map((r) => {
    const v = r[field.name];
    if (v === undefined || v === null) return null;
    if (field.name === "frame") return BigInt(v);
    return v;
  });
}
const vectors = {};
for (const field of schema.fields) vectors[field.name] = arrow.vectorFromArray(columns[field.name], field.type);
const table = new arrow.Table(schema, vectors);

const db = await lancedb.connect(dir);
const t = await db.createTable("diff", table, { mode: "overwrite" });
for (const filter of filters) {
  try {
    const n = await t.countRows(filter);
    console.log(`${n}\t${filter}`);
  } catch (e) {
    console.log(`error\t${filter}\t${String(e.message).split("\n")[0]}`);
  }
}
