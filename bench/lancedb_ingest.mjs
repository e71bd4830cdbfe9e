// lancedb_ingest.mjs — the LanceDB side of the ingest benchmark (bench/ingest.sh drives it; see README.md).
//
//   node lancedb_ingest.mjs ROOT DBDIR [BATCH_ROWS]
//
// Reads an extracted BDD100K-style folder (ROOT/images/100k/{train,val,test}/*.jpg and
// ROOT/labels/det_20/det_{train,val}.json) the way a LanceDB user would: JSON.parse each label file, read
// each labelled frame's image, then the test images; width and height come from the JPEG frame header (a
// marker walk, as framelake does); rows get the same columns and types as framelake's footage table and
// are added to a fresh table in batches of BATCH_ROWS (default 1000). Prints `key value` lines on stdout:
// rows, bytes, seconds. The image column is Arrow Binary (LanceDB's JS layer rejects LargeBinary).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
const lancedb = require("@lancedb/lancedb");
const arrow = require("apache-arrow");

function die(msg) {
  process.stderr.write(`lancedb_ingest: ${msg}\n`);
  process.exit(1);
}

// The frame size from a JPEG's SOF marker (the first SOF0..SOF15 other than DHT/JPG/DAC).
function jpegSize(buf) {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let pos = 2;
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) return null;
    while (pos < buf.length && buf[pos] === 0xff) pos++;
    const code = buf[pos++];
    if (code === 0x01 || (code >= 0xd0 && code <= 0xd7)) continue;
    const len = buf.readUInt16BE(pos);
    if (code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc)
      return { height: buf.readUInt16BE(pos + 3), width: buf.readUInt16BE(pos + 5) };
    pos += len;
  }
  return null;
}

const COLORS = { G: "green", green: "green", Y: "yellow", yellow: "yellow", R: "red", red: "red" };

const schema = new arrow.Schema([
  new arrow.Field("image_id", new arrow.Utf8(), false),
  new arrow.Field("split", new arrow.Utf8(), true),
  new arrow.Field("image_bytes", new arrow.Binary(), true),
  new arrow.Field("width", new arrow.Int32(), true),
  new arrow.Field("height", new arrow.Int32(), true),
  new arrow.Field("weather", new arrow.Utf8(), true),
  new arrow.Field("scene", new arrow.Utf8(), true),
  new arrow.Field("timeofday", new arrow.Utf8(), true),
  new arrow.Field("timestamp", new arrow.Int64(), true),
  new arrow.Field("ann_categories", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), true),
  new arrow.Field("ann_bboxes", new arrow.List(new arrow.Field("item", new arrow.List(new arrow.Field("item", new arrow.Float32(), true)), true)), true),
  new arrow.Field("ann_occluded", new arrow.List(new arrow.Field("item", new arrow.Bool(), true)), true),
  new arrow.Field("ann_truncated", new arrow.List(new arrow.Field("item", new arrow.Bool(), true)), true),
  new arrow.Field("ann_traffic_light_colors", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), true),
  new arrow.Field("num_annotations", new arrow.Int32(), true),
  new arrow.Field("source", new arrow.Utf8(), true),
]);

function toBatch(rows) {
  const cols = {};
  for (const f of schema.fields) cols[f.name] = arrow.vectorFromArray(rows.map((r) => r[f.name]), f.type);
  return new arrow.Table(cols);
}

function row(root, split, name, frame) {
  const file = path.join(root, "images/100k", split, name);
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return null; // a label without its image
  }
  const size = jpegSize(bytes);
  if (!size) return null;
  const labels = frame ? (frame.labels || []).filter((l) => l.box2d) : [];
  const a = frame && frame.attributes ? frame.attributes : {};
  return {
    image_id: name.replace(/\.jpe?g$/i, ""),
    split,
    image_bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    width: size.width,
    height: size.height,
    weather: frame ? a.weather ?? null : null,
    scene: frame ? a.scene ?? null : null,
    timeofday: frame ? a.timeofday ?? null : null,
    timestamp: frame && frame.timestamp != null ? BigInt(frame.timestamp) : null,
    ann_categories: labels.map((l) => l.category),
    ann_bboxes: labels.map((l) => [l.box2d.x1, l.box2d.y1, l.box2d.x2, l.box2d.y2]),
    ann_occluded: labels.map((l) => !!(l.attributes && l.attributes.occluded)),
    ann_truncated: labels.map((l) => !!(l.attributes && l.attributes.truncated)),
    ann_traffic_light_colors: labels.map((l) => (l.attributes && COLORS[l.attributes.trafficLightColor]) || null),
    num_annotations: labels.length,
    source: file,
  };
}

async function main() {
  const [root, dbDir, batchArg] = process.argv.slice(2);
  if (!root || !dbDir) die("usage: lancedb_ingest.mjs ROOT DBDIR [BATCH_ROWS]");
  const batchRows = batchArg ? Number.parseInt(batchArg, 10) : 1000;
  const t0 = process.hrtime.bigint();
  const db = await lancedb.connect(dbDir);
  let table = null, pending = [], rows = 0, bytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = toBatch(pending);
    if (!table) table = await db.createTable("bdd100k", batch);
    else await table.add(batch);
    pending = [];
  };
  const take = async (r) => {
    if (!r) return;
    pending.push(r);
    rows++;
    bytes += r.image_bytes.length;
    if (pending.length >= batchRows) await flush();
  };
  for (const split of ["train", "val", "test"]) {
    const labelFile = path.join(root, "labels/det_20", `det_${split}.json`);
    const named = new Set();
    if (fs.existsSync(labelFile)) {
      for (const frame of JSON.parse(fs.readFileSync(labelFile, "utf8"))) {
        named.add(frame.name);
        await take(row(root, split, frame.name, frame));
      }
    }
    const dir = path.join(root, "images/100k", split);
    const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /\.jpe?g$/i.test(n) && !named.has(n)).sort() : [];
    for (const name of names) await take(row(root, split, name, null));
  }
  await flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const counted = table ? await table.countRows() : 0;
  if (counted !== rows) die(`table holds ${counted} rows, ${rows} were added`);
  process.stdout.write(`rows ${rows}\nbytes ${bytes}\nseconds ${seconds.toFixed(3)}\n`);
}

main().catch((e) => die(e.stack || String(e)));
