// lancedb_fts.mjs CORPUS.jsonl QUERIES.tsv DIR REPS — the LanceDB side of the full-text search benchmark
// (bench/fts.sh; bench/README.md, "Full-text search"). Loads the captions (Arrow Int64 id, Utf8 caption) into
// a table in DIR, in batches of 100000 rows (timed for the record only), builds the FTS index REPS times
// (createIndex("caption", {config: Index.fts({withPosition: true, stem: false, removeStopWords: false}),
// replace: true}): the "simple" tokenizer, lowercased, no stemming and no stop words, like framelake's and
// FTS5's analyzers), then runs every query of QUERIES.tsv: one untimed pass over all queries, then REPS timed
// passes, each query timed alone:
//   table.query().fullTextSearch(q).select(["id", "_score"]).limit(10).toArray()
// (_score named to silence LanceDB's deprecation warning: it is returned either way, as framelake's is)
// with q a MatchQuery(words, "caption") (operator OR) for the term and OR classes and a
// PhraseQuery(words, "caption") (slop 0) for phrases.
// stdout: "build<TAB>-<TAB>median_s<TAB>load_s<TAB>per-build seconds<TAB>median CPU s", then per query
// class<TAB>name<TAB>median_ms<TAB>first_ms<TAB>ids, like fts_bench.c.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [corpus, queriesPath, dir, repsText] = process.argv.slice(2);
const reps = Math.max(1, Number(repsText));
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const schema = new arrow.Schema([new arrow.Field("id", new arrow.Int64(), true), new arrow.Field("caption", new arrow.Utf8(), true)]);
async function* batches() {
  const lines = createInterface({ input: createReadStream(corpus), crlfDelay: Infinity });
  let ids = [], caps = [];
  const flush = () => {
    const t = new arrow.Table(schema, {
      id: arrow.vectorFromArray(ids.map(BigInt), schema.fields[0].type),
      caption: arrow.vectorFromArray(caps, schema.fields[1].type),
    });
    ids = [];
    caps = [];
    return t;
  };
  for await (const line of lines) {
    if (!line) continue;
    const r = JSON.parse(line);
    ids.push(r.id);
    caps.push(r.caption);
    if (ids.length === 100000) yield flush();
  }
  if (ids.length) yield flush();
}

const db = await lancedb.connect(dir);
let t0 = performance.now();
let table = null;
for await (const b of batches()) {
  if (!table) table = await db.createTable("caps", b, { mode: "overwrite" });
  else await table.add(b);
}
const loadS = (performance.now() - t0) / 1000;
console.error(`lancedb: loaded ${await table.countRows()} rows in ${loadS.toFixed(2)} s`);

const builds = [], cpu = [];
for (let r = 0; r < reps; r++) {
  t0 = performance.now();
  const c0 = process.cpuUsage(); // the whole process: every thread
  await table.createIndex("caption", {
    config: lancedb.Index.fts({
      withPosition: true, baseTokenizer: "simple", lowercase: true, stem: false, removeStopWords: false, asciiFolding: false,
    }),
    replace: true,
  });
  builds.push((performance.now() - t0) / 1000);
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1e6);
}
const perBuild = builds.map((b) => b.toFixed(4)).join(",");
console.log(`build\t-\t${median(builds).toFixed(4)}\t${loadS.toFixed(4)}\t${perBuild}\t${median(cpu).toFixed(4)}`);

const queries = [];
for (const line of readFileSync(queriesPath, "utf8").split("\n")) {
  if (!line) continue;
  const [cls, name, words] = line.split("\t");
  queries.push({ cls, name, words });
}
const makeQuery = (q) =>
  q.cls === "phrase"
    ? new lancedb.PhraseQuery(q.words, "caption", { slop: 0 })
    : new lancedb.MatchQuery(q.words, "caption", { operator: lancedb.Operator.Or });

async function run(q) {
  const s = performance.now();
  const rows = await table.query().fullTextSearch(makeQuery(q)).select(["id", "_score"]).limit(10).toArray();
  return [performance.now() - s, rows.map((r) => String(r.id))];
}

const first = [], ids = [], times = queries.map(() => []);
for (const q of queries) {
  const [ms, got] = await run(q);
  first.push(ms);
  ids.push(got);
}
for (let r = 0; r < reps; r++)
  for (let i = 0; i < queries.length; i++) {
    const [ms] = await run(queries[i]);
    times[i].push(ms);
  }
queries.forEach((q, i) => console.log(`${q.cls}\t${q.name}\t${median(times[i]).toFixed(4)}\t${first[i].toFixed(4)}\t${ids[i].join(",")}`));
