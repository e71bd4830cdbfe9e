// lancedb_rows.mjs — loading the JSON Lines rows of query_rows.mjs into a LanceDB table, shared by the
// query and backfill benchmarks (lancedb_query.mjs, lancedb_backfill.mjs): the bdd100k scalar and list
// columns with the Arrow types of bench/query_schema.txt, streamed in batches of 100000 rows.
import * as arrow from "apache-arrow";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const f = (name, type) => new arrow.Field(name, type, true);
export const schema = new arrow.Schema([
  f("image_id", new arrow.Utf8()), f("split", new arrow.Utf8()), f("weather", new arrow.Utf8()),
  f("scene", new arrow.Utf8()), f("timeofday", new arrow.Utf8()),
  f("timestamp", new arrow.TimestampMillisecond()), f("width", new arrow.Int32()), f("height", new arrow.Int32()),
  f("brightness", new arrow.Float32()), f("person_bbox_area_pct", new arrow.Float32()),
  f("has_person", new arrow.Bool()), f("has_rider", new arrow.Bool()), f("is_duplicate", new arrow.Bool()),
  f("ann_categories", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true))),
]);

async function* batches(rowsPath) {
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

/* Creates (overwrites) table `name` of connection db from the rows file; returns the table. */
export async function loadRows(db, name, rowsPath) {
  let table = null;
  for await (const t of batches(rowsPath)) {
    if (!table) table = await db.createTable(name, t, { mode: "overwrite" });
    else await table.add(t);
  }
  return table;
}
