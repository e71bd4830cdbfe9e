// lancedb_vector.mjs — the LanceDB side of the vector-index benchmark (bench/vector.sh, bench/README.md
// "Vector search"), @lancedb/lancedb 0.37.1 with apache-arrow 18.1.0.
//
//   node lancedb_vector.mjs build DIR BASE.f32 N DIM BATCH PARTITIONS SUB_VECTORS
//       Creates table `vec` in DIR (overwritten): id Int64, v FixedSizeList<Float32, DIM>, from the raw
//       float32 rows of BASE (id = row number), createTable with the first BATCH rows and one table.add()
//       per further BATCH rows (as vector_bench appends); then
//       createIndex("v", {config: Index.ivfPq({numPartitions, numSubVectors, distanceType: "l2"})}), timed,
//       and checks that no row is left unindexed. stdout: "load<TAB>s<TAB>0", "build<TAB>wall s<TAB>cpu s".
//   node lancedb_vector.mjs query DIR QUERIES.f32 DIM NQ "NPROBES..." "REFINES..." REPS WARMUP
//       Opens the table and, per (nprobes, refine), runs WARMUP untimed queries then REPS timed passes over
//       the NQ queries, one at a time (each awaited):
//       table.vectorSearch(q).nprobes(n)[.refineFactor(r) when r > 0].limit(10).select(["id", "_distance"])
//       .toArray() (naming _distance, which comes back anyway, keeps lance from logging a deprecation warning
//       on every query).
//       stdout: "q<TAB>nprobes<TAB>refine<TAB>query<TAB>ms,...<TAB>id,..." and per pair
//       "cpu<TAB>nprobes<TAB>refine<TAB>process cpu s<TAB>wall s" of the timed passes.
// Threads are LanceDB's own (LANCE_CPU_THREADS and the runtime); vector.sh runs the query process with
// LANCE_CPU_THREADS=1.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [mode, dir, ...args] = process.argv.slice(2);

function readF32(path, count) {
  const buf = readFileSync(path);
  if (buf.length !== count * 4) throw new Error(`${path}: ${buf.length} bytes, expected ${count * 4}`);
  return new Float32Array(buf.buffer, buf.byteOffset, count);
}

function schemaFor(dim) {
  return new arrow.Schema([
    new arrow.Field("id", new arrow.Int64(), true),
    new arrow.Field("v", new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32(), true)), true),
  ]);
}

function batchTable(schema, base, dim, start, rows) {
  const ids = new BigInt64Array(rows);
  for (let i = 0; i < rows; i++) ids[i] = BigInt(start + i);
  const idData = arrow.makeData({ type: new arrow.Int64(), length: rows, nullCount: 0, data: ids });
  const child = arrow.makeData({ type: new arrow.Float32(), length: rows * dim, nullCount: 0, data: base.subarray(start * dim, (start + rows) * dim) });
  const vData = arrow.makeData({ type: schema.fields[1].type, length: rows, nullCount: 0, child });
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows, nullCount: 0, children: [idData, vData] });
  return new arrow.Table([new arrow.RecordBatch(schema, struct)]);
}

const list = (s) => s.split(/[ ,]+/).filter(Boolean).map(Number);

async function build() {
  const [basePath, nS, dimS, batchS, partS, subS] = args;
  const n = Number(nS), dim = Number(dimS), batch = Number(batchS);
  const base = readF32(basePath, n * dim);
  const schema = schemaFor(dim);
  const db = await lancedb.connect(dir);
  let t0 = performance.now();
  let table = null;
  for (let start = 0; start < n; start += batch) {
    const rows = Math.min(batch, n - start);
    const t = batchTable(schema, base, dim, start, rows);
    if (!table) table = await db.createTable("vec", t, { mode: "overwrite" });
    else await table.add(t);
  }
  const loadS = (performance.now() - t0) / 1e3;
  console.log(`load\t${loadS.toFixed(4)}\t0`);
  console.error(`lancedb_vector: loaded ${await table.countRows()} rows in ${loadS.toFixed(1)} s`);
  const c0 = process.cpuUsage();
  t0 = performance.now();
  await table.createIndex("v", {
    config: lancedb.Index.ivfPq({ numPartitions: Number(partS), numSubVectors: Number(subS), distanceType: "l2" }),
  });
  const buildS = (performance.now() - t0) / 1e3;
  const cu = process.cpuUsage(c0);
  const cpuS = (cu.user + cu.system) / 1e6;
  const indices = await table.listIndices();
  const name = indices.find((i) => i.columns.includes("v"))?.name;
  const stats = name ? await table.indexStats(name) : undefined;
  if (!stats || stats.numUnindexedRows !== 0 || stats.numIndexedRows !== n)
    throw new Error(`index not complete after createIndex: ${JSON.stringify(stats)}`);
  console.log(`build\t${buildS.toFixed(4)}\t${cpuS.toFixed(4)}`);
  console.error(`lancedb_vector: ${stats.indexType} index '${name}' built in ${buildS.toFixed(1)} s (process cpu ${cpuS.toFixed(1)} s), ${stats.numIndexedRows} rows`);
}

async function query() {
  const [queryPath, dimS, nqS, npS, rfS, repsS, warmS] = args;
  const dim = Number(dimS), nq = Number(nqS), reps = Number(repsS), warmup = Number(warmS);
  const qs = readF32(queryPath, nq * dim);
  const queries = Array.from({ length: nq }, (_, q) => qs.slice(q * dim, (q + 1) * dim));
  const db = await lancedb.connect(dir);
  const table = await db.openTable("vec");
  const run = async (q, np, rf) => {
    let s = table.vectorSearch(q).nprobes(np);
    if (rf > 0) s = s.refineFactor(rf);
    return s.limit(10).select(["id", "_distance"]).toArray();
  };
  for (const np of list(npS))
    for (const rf of list(rfS)) {
      for (let w = 0; w < warmup; w++) await run(queries[w % nq], np, rf);
      const lat = Array.from({ length: nq }, () => []);
      const ids = new Array(nq);
      const c0 = process.cpuUsage(), w0 = performance.now();
      for (let rep = 0; rep < reps; rep++)
        for (let q = 0; q < nq; q++) {
          const t0 = performance.now();
          const rows = await run(queries[q], np, rf);
          lat[q].push(performance.now() - t0);
          if (rep === 0) ids[q] = rows.map((r) => Number(r.id));
        }
      const wall = (performance.now() - w0) / 1e3, cu = process.cpuUsage(c0);
      const out = [];
      for (let q = 0; q < nq; q++) out.push(`q\t${np}\t${rf}\t${q}\t${lat[q].map((x) => x.toFixed(4)).join(",")}\t${ids[q].join(",")}`);
      out.push(`cpu\t${np}\t${rf}\t${((cu.user + cu.system) / 1e6).toFixed(4)}\t${wall.toFixed(4)}`);
      process.stdout.write(out.join("\n") + "\n");
      console.error(`lancedb_vector: nprobes ${np} refine ${rf}: ${wall.toFixed(1)} s`);
    }
}

if (mode === "build") await build();
else if (mode === "query") await query();
else {
  console.error("usage: node lancedb_vector.mjs build|query DIR ...");
  process.exit(2);
}
