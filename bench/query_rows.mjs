// query_rows.mjs N SEED — N rows with the bdd100k table's scalar and list columns (synthetic values in
// BDD100K's proportions, roughly), as JSON Lines on stdout: the data of the query benchmark (query.sh).
const [n, seed] = process.argv.slice(2).map(Number);
let s = BigInt(seed || 1);
const M = 0xffffffffffffffffn;
const rand = (k) => {
  s ^= (s << 13n) & M;
  s ^= s >> 7n;
  s ^= (s << 17n) & M;
  return Number(s % BigInt(k));
};
const weighted = (pairs) => {
  let r = rand(1000);
  for (const [v, w] of pairs) if ((r -= w) < 0) return v;
  return pairs[pairs.length - 1][0];
};
const weather = [["clear", 530], ["overcast", 125], ["undefined", 115], ["snowy", 80], ["rainy", 73], ["partly cloudy", 70], ["foggy", 7]];
const timeofday = [["daytime", 527], ["night", 399], ["dawn/dusk", 72], ["undefined", 2]];
const scene = [["city street", 620], ["highway", 249], ["residential", 116], ["parking lot", 5], ["tunnel", 3], ["gas stations", 1], ["undefined", 6]];
const split = [["train", 700], ["val", 100], ["test", 200]];
const cats = ["car", "traffic sign", "traffic light", "pedestrian", "truck", "bus", "bicycle", "rider", "motorcycle", "other person", "train"];
const catw = [400, 130, 100, 60, 30, 10, 5, 4, 2, 1, 1];
const t0 = 1500000000000;
const lines = [];
for (let i = 0; i < n; i++) {
  const k = 3 + rand(25);
  const labels = [];
  for (let j = 0; j < k; j++) {
    let r = rand(743);
    let c = 0;
    while ((r -= catw[c]) >= 0) c++;
    labels.push(cats[c]);
  }
  const person = labels.includes("pedestrian") || labels.includes("other person");
  lines.push(JSON.stringify({
    image_id: `${(i * 2654435761 % 4294967296).toString(16).padStart(8, "0")}-${i.toString(16).padStart(8, "0")}`,
    split: weighted(split),
    weather: weighted(weather),
    scene: weighted(scene),
    timeofday: weighted(timeofday),
    timestamp: t0 + i * 1000 + rand(1000),
    width: 1280,
    height: 720,
    brightness: rand(25500) / 100,
    person_bbox_area_pct: person ? rand(10000) / 100 : 0,
    has_person: person,
    has_rider: labels.includes("rider"),
    is_duplicate: rand(20) === 0,
    ann_categories: labels,
  }));
  if (lines.length === 10000) {
    process.stdout.write(lines.join("\n") + "\n");
    lines.length = 0;
  }
}
if (lines.length) process.stdout.write(lines.join("\n") + "\n");
