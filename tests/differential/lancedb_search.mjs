// lancedb_search.mjs DATADIR LANCEDIR — the LanceDB side of the search differential test (search.sh). Loads
// DATADIR/docs.jsonl (Arrow Int64 id, Utf8 txt) and DATADIR/vecs.jsonl (Int64 id, FixedSizeList<Float32, 16>
// v) written by gen_search.mjs into tables in LANCEDIR, builds an FTS index on txt with framelake's default
// analyzer (the "simple" tokenizer: split on non-alphanumerics, lowercase, no stemming, no stop words, no
// ascii folding) and no vector index, then prints one line per query (results best first, space-separated):
//   fts<TAB>Q<TAB>id:score ...                    query().fullTextSearch(MatchQuery(q, "txt", OR)).limit(10)
//   vec<TAB>METRIC<TAB>all|where<TAB>Q<TAB>id:distance ...
//       query().nearestTo(v).distanceType(METRIC).bypassVectorIndex()[.where("id % 3 = 0")].limit(10)
// Q is the 0-based line number of the query in fts_queries.txt / vec_queries.txt. The prefilter is
// LanceDB's default (no .postfilter()). Numbers are printed as JS doubles of LanceDB's float32 values.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { readFileSync } from "node:fs";

const [dataDir, lanceDir] = process.argv.slice(2);
const lines = (path) => readFileSync(path, "utf8").split("\n").filter((l) => l.length);
const WHERE = "id % 3 = 0";
const DIM = 16;

const db = await lancedb.connect(lanceDir);

// full-text search
const docs = lines(`${dataDir}/docs.jsonl`).map((l) => JSON.parse(l));
const docSchema = new arrow.Schema([new arrow.Field("id", new arrow.Int64(), true), new arrow.Field("txt", new arrow.Utf8(), true)]);
const docTable = new arrow.Table(docSchema, {
  id: arrow.vectorFromArray(docs.map((d) => BigInt(d.id)), docSchema.fields[0].type),
  txt: arrow.vectorFromArray(docs.map((d) => d.txt), docSchema.fields[1].type),
});
const docsT = await db.createTable("docs", docTable, { mode: "overwrite" });
await docsT.createIndex("txt", {
  config: lancedb.Index.fts({
    withPosition: false,
    baseTokenizer: "simple",
    lowercase: true,
    stem: false,
    removeStopWords: false,
    asciiFolding: false,
  }),
});
const ftsQueries = lines(`${dataDir}/fts_queries.txt`);
for (let q = 0; q < ftsQueries.length; q++) {
  const query = new lancedb.MatchQuery(ftsQueries[q], "txt", { operator: lancedb.Operator.Or });
  const rows = await docsT.query().fullTextSearch(query).select(["id", "_score"]).limit(10).toArray();
  console.log(`fts\t${q}\t${rows.map((r) => `${r.id}:${r._score}`).join(" ")}`);
}

// exact vector search
const vecs = lines(`${dataDir}/vecs.jsonl`).map((l) => JSON.parse(l));
const vecType = new arrow.FixedSizeList(DIM, new arrow.Field("item", new arrow.Float32(), true));
const vecSchema = new arrow.Schema([new arrow.Field("id", new arrow.Int64(), true), new arrow.Field("v", vecType, true)]);
const vecTable = new arrow.Table(vecSchema, {
  id: arrow.vectorFromArray(vecs.map((r) => BigInt(r.id)), vecSchema.fields[0].type),
  v: arrow.vectorFromArray(vecs.map((r) => r.v), vecType),
});
const vecsT = await db.createTable("vecs", vecTable, { mode: "overwrite" });
const vecQueries = lines(`${dataDir}/vec_queries.txt`).map((l) => Float32Array.from(JSON.parse(l)));
for (const metric of ["l2", "cosine", "dot"]) {
  for (const filter of ["all", "where"]) {
    for (let q = 0; q < vecQueries.length; q++) {
      let query = vecsT.query().nearestTo(vecQueries[q]).column("v").distanceType(metric).bypassVectorIndex();
      if (filter === "where") query = query.where(WHERE);
      const rows = await query.select(["id", "_distance"]).limit(10).toArray();
      console.log(`vec\t${metric}\t${filter}\t${q}\t${rows.map((r) => `${r.id}:${r._distance}`).join(" ")}`);
    }
  }
}
