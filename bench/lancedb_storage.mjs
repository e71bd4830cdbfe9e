// lancedb_storage.mjs — the LanceDB side of the storage benchmark (bench/run.sh drives it; see README.md).
//
//   node lancedb_storage.mjs append --round R ...  one round of the append measurement: builds Arrow
//       batches from DIR/input (written by `storage_bench gen`, the same bytes framelake stores), then
//       times table.add() of each batch (one add = one commit, like one fl_table_append), and separately
//       the fsync of every file the table holds afterwards (LanceDB itself issues no fsync on a local
//       directory, so its add() alone is not durable).
//   node lancedb_storage.mjs read ...  random take (takeOffsets and takeRowIds) and a full scan of the
//       int64 column, on a freshly opened connection.
//
// Results go to stdout as `key value` lines; progress to stderr. Node 20, @lancedb/lancedb 0.37.1,
// apache-arrow 18.1.0 (bench/package.json). The blob column is Arrow Binary: LanceDB's JS layer rejects
// LargeBinary.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

// require() (not import) so that lancedb and this script share one CommonJS apache-arrow instance, and so
// that NODE_PATH works as a fallback to bench/node_modules.
const require = createRequire(import.meta.url);
const lancedb = require("@lancedb/lancedb");
const arrow = require("apache-arrow");

const TABLE_NAME = "bench";
const ROW_RECORD_SIZE = 40; // rows.bin: i64 id | f64 x | u64 blob offset | u32 blob size | u32 label size | u64 label offset
const TAKE_SETS = 1024;

function die(msg) {
  process.stderr.write(`lancedb_storage: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = {
    mode: argv[0], dir: "bench/out", rows: 20000, batchRows: 1000, takeRows: 64, takeWarmup: 20, takeReps: 300,
    scanWarmup: 3, scanReps: 30, round: 1,
  };
  const names = {
    "--dir": "dir", "--rows": "rows", "--batch-rows": "batchRows", "--take-rows": "takeRows", "--take-warmup": "takeWarmup",
    "--take-reps": "takeReps", "--scan-warmup": "scanWarmup", "--scan-reps": "scanReps", "--round": "round",
  };
  for (let i = 1; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) die(`usage: lancedb_storage.mjs append|read [--dir D] [--rows N] [--batch-rows R] ...`);
    o[key] = key === "dir" ? argv[i + 1] : Number.parseInt(argv[i + 1], 10);
    if (key !== "dir" && !(o[key] >= 0)) die(`${argv[i]}: not a non-negative integer`);
  }
  if (o.mode !== "append" && o.mode !== "read") die("mode must be append or read");
  return o;
}

const nowS = () => Number(process.hrtime.bigint()) / 1e9;

function quantile(values, q) {
  const v = Float64Array.from(values).sort();
  return v[Math.min(v.length - 1, Math.round(q * (v.length - 1)))];
}

// ---- input (the files storage_bench gen wrote) ----

function loadInput(o) {
  const inDir = path.join(o.dir, "input");
  let rowsBuf;
  try {
    rowsBuf = fs.readFileSync(path.join(inDir, "rows.bin"));
  } catch (e) {
    die(`${e.message} (run storage_bench gen first)`);
  }
  const rows = rowsBuf.length / ROW_RECORD_SIZE;
  if (rows !== o.rows) die(`input has ${rows} rows, --rows says ${o.rows}`);
  const info = {
    id: new BigInt64Array(rows), x: new Float64Array(rows), blobOffset: new Float64Array(rows), blobSize: new Uint32Array(rows),
    labelSize: new Uint32Array(rows), labelOffset: new Float64Array(rows),
  };
  for (let i = 0; i < rows; i++) {
    const at = i * ROW_RECORD_SIZE;
    info.id[i] = rowsBuf.readBigInt64LE(at);
    info.x[i] = rowsBuf.readDoubleLE(at + 8);
    info.blobOffset[i] = Number(rowsBuf.readBigUInt64LE(at + 16));
    info.blobSize[i] = rowsBuf.readUInt32LE(at + 24);
    info.labelSize[i] = rowsBuf.readUInt32LE(at + 28);
    info.labelOffset[i] = Number(rowsBuf.readBigUInt64LE(at + 32));
  }
  const labels = fs.readFileSync(path.join(inDir, "labels.bin"));
  const take = fs.readFileSync(path.join(inDir, "take_ids.bin"));
  if (take.length !== TAKE_SETS * o.takeRows * 8) die(`take_ids.bin does not match --take-rows ${o.takeRows}`);
  const takeIds = new BigUint64Array(take.buffer, take.byteOffset, take.length / 8);
  const blobFd = fs.openSync(path.join(inDir, "blobs.bin"), "r");
  return { rows, info, labels, takeIds, blobFd };
}

// Bytes [offset, offset+size) of blobs.bin (read, not mapped: Node has no mmap).
function readBlobs(input, offset, size) {
  const buf = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    const n = fs.readSync(input.blobFd, buf, done, size - done, offset + done);
    if (n <= 0) die("blobs.bin is shorter than rows.bin says");
    done += n;
  }
  return buf;
}

function arrowSchema() {
  return new arrow.Schema([
    new arrow.Field("id", new arrow.Int64(), false),
    new arrow.Field("x", new arrow.Float64(), true),
    new arrow.Field("label", new arrow.Utf8(), true),
    new arrow.Field("blob", new arrow.Binary(), true),
  ]);
}

// An Arrow table of rows [start, start+count): the blob bytes are one read of blobs.bin, used in place.
function buildBatch(schema, input, start, count) {
  const { info } = input;
  const blobStart = info.blobOffset[start];
  const blobEnd = info.blobOffset[start + count - 1] + info.blobSize[start + count - 1];
  if (blobEnd - blobStart > 0x7fffffff) die("a batch holds more than 2 GiB of blobs (Arrow Binary offsets are int32): lower --batch-rows");
  const blobOffsets = new Int32Array(count + 1);
  const labelOffsets = new Int32Array(count + 1);
  let labelBytes = 0;
  for (let k = 0; k < count; k++) labelBytes += info.labelSize[start + k];
  const labelData = new Uint8Array(labelBytes);
  for (let k = 0; k < count; k++) {
    const i = start + k;
    if (info.blobOffset[i] !== blobStart + blobOffsets[k]) die(`rows.bin: blobs of row ${i} are not contiguous`);
    blobOffsets[k + 1] = blobOffsets[k] + info.blobSize[i];
    labelData.set(input.labels.subarray(info.labelOffset[i], info.labelOffset[i] + info.labelSize[i]), labelOffsets[k]);
    labelOffsets[k + 1] = labelOffsets[k] + info.labelSize[i];
  }
  const blobs = readBlobs(input, blobStart, blobEnd - blobStart);
  const children = [
    arrow.makeData({ type: new arrow.Int64(), length: count, nullCount: 0, data: info.id.slice(start, start + count) }),
    arrow.makeData({ type: new arrow.Float64(), length: count, nullCount: 0, data: info.x.slice(start, start + count) }),
    arrow.makeData({ type: new arrow.Utf8(), length: count, nullCount: 0, valueOffsets: labelOffsets, data: labelData }),
    arrow.makeData({
      type: new arrow.Binary(), length: count, nullCount: 0, valueOffsets: blobOffsets,
      data: new Uint8Array(blobs.buffer, blobs.byteOffset, blobs.length),
    }),
  ];
  const batch = new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: count, nullCount: 0, children }));
  return { table: new arrow.Table([batch]), blobBytes: blobs.length };
}

// fsyncs every file under dir, then the directories (what it takes to make the table durable).
function fsyncTree(dir) {
  let files = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      files += fsyncTree(p);
    } else if (entry.isFile()) {
      const fd = fs.openSync(p, "r");
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      files++;
    }
  }
  const fd = fs.openSync(dir, "r");
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return files;
}

// ---- append ----

async function cmdAppend(o) {
  const input = loadInput(o);
  const schema = arrowSchema();
  const batches = [];
  let blobBytes = 0;
  const t0 = nowS();
  for (let start = 0; start < input.rows; start += o.batchRows) {
    const b = buildBatch(schema, input, start, Math.min(o.batchRows, input.rows - start));
    batches.push(b.table);
    blobBytes += b.blobBytes;
  }
  const buildS = nowS() - t0;

  // Remove the previous round's table outside the timed part and let the file system settle.
  const dbDir = path.join(o.dir, "lancedb");
  fs.rmSync(dbDir, { recursive: true, force: true });
  execFileSync("sync");
  const db = await lancedb.connect(dbDir);
  const table = await db.createEmptyTable(TABLE_NAME, schema, { mode: "overwrite" });

  process.stderr.write(`round ${o.round}: lancedb add of ${input.rows} rows in ${batches.length} batches ...\n`);
  const t1 = nowS();
  for (const b of batches) await table.add(b);
  const addS = nowS() - t1;
  const t2 = nowS();
  const files = fsyncTree(path.join(dbDir, `${TABLE_NAME}.lance`));
  const fsyncS = nowS() - t2;
  const version = await table.version();
  if ((await table.countRows()) !== input.rows) die("row count after append differs from the input");
  table.close();
  execFileSync("sync");
  // For the record, not part of lance_add_s: the JS binding hands each table to Rust as an Arrow IPC file
  // it serialises in JS first; this is what that serialisation alone costs for the same batches.
  const t3 = nowS();
  for (const b of batches) arrow.tableToIPC(b, "file");
  const ipcS = nowS() - t3;

  const out = [
    ["round", o.round], ["rows", input.rows], ["batches", batches.length], ["blob_bytes", blobBytes],
    ["lance_batch_build_s", buildS.toFixed(6)], ["lance_add_s", addS.toFixed(6)], ["lance_fsync_after_s", fsyncS.toFixed(6)],
    ["lance_files_fsynced", files], ["lance_version", version], ["lance_js_ipc_encode_s", ipcS.toFixed(6)],
  ];
  for (const [k, v] of out) process.stdout.write(`${k} ${v}\n`);
}

// ---- read ----

// Checks a take result (LanceDB returns rows in storage order, not request order) against the input.
function verifyTake(input, result, ids, withBlob) {
  if (result.numRows !== ids.length) die(`take returned ${result.numRows} rows, asked ${ids.length}`);
  const wanted = new Set(Array.from(ids, Number));
  const idCol = result.getChild("id"), xCol = result.getChild("x"), labelCol = result.getChild("label");
  const blobCol = result.getChild("blob");
  if (!idCol || !xCol || !labelCol || (withBlob && !blobCol)) die("take result lacks a column");
  const { info } = input;
  for (let k = 0; k < result.numRows; k++) {
    const row = Number(idCol.get(k) - info.id[0]);
    if (!wanted.delete(row)) die(`take returned row ${row}, not asked or twice`);
    if (xCol.get(k) !== info.x[row]) die(`take row ${row}: wrong x`);
    const label = input.labels.subarray(info.labelOffset[row], info.labelOffset[row] + info.labelSize[row]).toString("utf8");
    if (labelCol.get(k) !== label) die(`take row ${row}: wrong label`);
    if (!withBlob) continue;
    const got = blobCol.get(k);
    const want = readBlobs(input, info.blobOffset[row], info.blobSize[row]);
    if (!got || Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), want) !== 0) die(`take row ${row}: wrong blob bytes`);
  }
}

// Times warm-up + reps takes; makeQuery(ids) returns the LanceDB query for one id set.
async function benchTake(o, input, prefix, makeQuery, withBlob) {
  const lat = [];
  let bytes = 0;
  let total = 0;
  for (let rep = 0; rep < o.takeWarmup + o.takeReps; rep++) {
    const set = rep % TAKE_SETS;
    const ids = input.takeIds.subarray(set * o.takeRows, (set + 1) * o.takeRows);
    const t0 = nowS();
    const result = await makeQuery(ids).toArrow();
    const dt = nowS() - t0;
    if (rep < o.takeWarmup) {
      verifyTake(input, result, ids, withBlob);
    } else {
      lat.push(dt);
      total += dt;
      if (withBlob) for (const d of result.getChild("blob").data) bytes += d.valueOffsets[d.length] - d.valueOffsets[0];
    }
  }
  const p50 = quantile(lat, 0.5);
  process.stdout.write(`${prefix}_p50_us ${(p50 * 1e6).toFixed(1)}\n`);
  process.stdout.write(`${prefix}_p90_us ${(quantile(lat, 0.9) * 1e6).toFixed(1)}\n`);
  process.stdout.write(`${prefix}_mean_us ${((total / lat.length) * 1e6).toFixed(1)}\n`);
  process.stdout.write(`${prefix}_rows_per_s ${(o.takeRows / p50).toFixed(0)}\n`);
  if (withBlob) process.stdout.write(`${prefix}_mb_per_s ${(bytes / total / 1e6).toFixed(1)}\n`);
}

async function cmdRead(o) {
  const input = loadInput(o);
  const db = await lancedb.connect(path.join(o.dir, "lancedb"));
  const table = await db.openTable(TABLE_NAME);
  if ((await table.countRows()) !== input.rows) die("table row count differs from the input");
  let expectSum = 0n;
  for (let i = 0; i < input.rows; i++) expectSum += input.info.id[i];
  // One full scan of column id; verify: also sum the values (BigInt sums in JS cost more than the scan).
  const scanId = async (verify) => {
    const t0 = nowS();
    let rows = 0;
    let sum = 0n;
    for await (const batch of table.query().select(["id"])) {
      rows += batch.numRows;
      if (verify) for (const v of batch.getChild("id")) sum += v;
    }
    const dt = nowS() - t0;
    if (rows !== input.rows || (verify && sum !== expectSum)) die(`scan read ${rows} rows summing to ${sum}, expected ${input.rows} / ${expectSum}`);
    return dt;
  };
  // The very first scan on the fresh connection (the OS cache is warm, LanceDB's caches are not).
  const firstScan = await scanId(false);

  // Row i (append order, = framelake row id i) as a LanceDB _rowid, for takeRowIds.
  const rowIdOf = new BigUint64Array(input.rows);
  for await (const batch of table.query().select(["id"]).withRowId()) {
    const ids = batch.getChild("id"), rids = batch.getChild("_rowid");
    for (let k = 0; k < batch.numRows; k++) rowIdOf[Number(ids.get(k) - input.info.id[0])] = rids.get(k);
  }
  const scalars = ["id", "x", "label"];
  const offsetsOf = (ids) => Array.from(ids, Number);
  const rowIdsOf = (ids) => Array.from(ids, (i) => rowIdOf[Number(i)]);

  process.stderr.write(`lancedb take: ${o.takeReps} x ${o.takeRows} rows (+${o.takeWarmup} warm-up), 4 variants ...\n`);
  await benchTake(o, input, "lance_take_offsets", (ids) => table.takeOffsets(offsetsOf(ids)), true);
  await benchTake(o, input, "lance_take_rowids", (ids) => table.takeRowIds(rowIdsOf(ids)), true);
  await benchTake(o, input, "lance_take_offsets_scalars", (ids) => table.takeOffsets(offsetsOf(ids)).select(scalars), false);
  await benchTake(o, input, "lance_take_rowids_scalars", (ids) => table.takeRowIds(rowIdsOf(ids)).select(scalars), false);

  process.stderr.write(`lancedb scan of column id: ${o.scanReps} reps (+${o.scanWarmup} warm-up) ...\n`);
  const lat = [];
  for (let rep = 0; rep < o.scanWarmup + o.scanReps; rep++) {
    const dt = await scanId(rep < o.scanWarmup); // the warm-up scans check the values
    if (rep >= o.scanWarmup) lat.push(dt);
  }
  const med = quantile(lat, 0.5);
  process.stdout.write(`lance_scan_first_us ${(firstScan * 1e6).toFixed(1)}\n`);
  process.stdout.write(`lance_scan_median_us ${(med * 1e6).toFixed(1)}\n`);
  process.stdout.write(`lance_scan_rows_per_s ${(input.rows / med).toFixed(0)}\n`);
  table.close();
}

const opts = parseArgs(process.argv.slice(2));
await (opts.mode === "append" ? cmdAppend(opts) : cmdRead(opts));
