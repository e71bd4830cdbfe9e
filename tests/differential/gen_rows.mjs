// gen_rows.mjs N SEED — prints N deterministic JSON rows with the differential test's columns: NULLs in
// every nullable column, empty and NULL lists, repeated labels, negative and large integers.
const [n, seed] = process.argv.slice(2).map(Number);
let s = BigInt(seed) || 1n;
const rand = (k) => {
  s ^= (s << 13n) & 0xffffffffffffffffn;
  s ^= s >> 7n;
  s ^= (s << 17n) & 0xffffffffffffffffn;
  return Number(s % BigInt(k));
};
const pick = (xs) => xs[rand(xs.length)];
const maybe = (v, oneIn) => (rand(oneIn) === 0 ? null : v);
const weathers = ["clear", "rainy", "snowy", "overcast", "partly cloudy", "foggy", "undefined"];
const times = ["daytime", "night", "dawn/dusk", "undefined"];
const scenes = ["city street", "highway", "residential", "parking lot", "tunnel", "gas stations"];
const cats = ["car", "pedestrian", "rider", "bicycle", "motorcycle", "traffic light", "traffic sign", "truck", "bus", "other person"];
const out = [];
for (let i = 0; i < n; i++) {
  const big = rand(3) === 0;
  const labels = rand(8) === 0 ? null : Array.from({ length: rand(6) }, () => pick(cats));
  out.push(JSON.stringify({
    image_id: `f${String(i).padStart(6, "0")}-${pick(["a", "b", "c"])}`,
    split: pick(["train", "train", "train", "val", "test"]),
    weather: maybe(pick(weathers), 10),
    timeofday: maybe(pick(times), 15),
    scene: pick(scenes),
    width: big ? 1280 : pick([640, 1280, 1920]),
    height: big ? 720 : pick([480, 720, 1080]),
    frame: maybe((rand(2) ? -1 : 1) * (rand(1000000) * 1000003 + rand(1000)), 12),
    brightness: maybe(rand(25600) / 100, 9),
    area_pct: maybe(rand(400) / 4, 7),
    ts: maybe(1483228800000 + rand(365 * 86400) * 1000 + rand(1000), 13),
    has_person: maybe(rand(3) === 0, 11),
    has_rider: rand(6) === 0,
    ann_categories: labels,
  }));
}
console.log(out.join("\n"));
