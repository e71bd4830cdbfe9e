// lancedb_backfill.mjs ROWS.jsonl DIR REPS SQL — the LanceDB side of the backfill benchmark (backfill.sh,
// bench/README.md "Backfill"): loads the JSON Lines rows of query_rows.mjs into a LanceDB table (the same
// columns and Arrow types as lancedb_query.mjs; untimed, printed), then REPS times adds a computed column
// with table.addColumns([{name, valueSql: SQL}]) under a fresh name (hp_expr_1, hp_expr_2, …) and times
// that call. Checks that every run counts as many true values as the input's has_person column. Prints
// "key<TAB>value" lines: load seconds, each run's milliseconds, the median, and the true counts.
import * as lancedb from "@lancedb/lancedb";
import { loadRows } from "./lancedb_rows.mjs";

const [rowsPath, dir, repsText, sql] = process.argv.slice(2);
const reps = Math.max(1, Number(repsText));

const db = await lancedb.connect(dir);
let t0 = performance.now();
const table = await loadRows(db, "q", rowsPath);
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
