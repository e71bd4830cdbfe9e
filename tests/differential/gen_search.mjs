// gen_search.mjs OUTDIR [SEED] — deterministic data of the search differential test (search.sh), written
// to OUTDIR:
//   docs.jsonl        3000 rows {"id", "txt"}: 3–30 words drawn from a 60-word lowercase ASCII vocabulary
//                     with an exponentially skewed frequency (the commonest word is in ~70% of the rows,
//                     the rarest in a handful), some words repeated in bursts, so term frequencies and
//                     lengths vary and BM25 scores are mostly distinct; one row in 40 is NULL (not a
//                     document in either engine). No value is empty or without a word: LanceDB leaves
//                     those out of N and the average length, framelake counts them as documents of length 0
//   fts_queries.txt   30 queries, one a line: 8 single common/middle words, 8 single rare ones, 7 of two
//                     words and 7 of three (OR semantics in both engines; no +, -, or phrases)
//   vecs.jsonl        2000 rows {"id", "v"}: 16 float32 values (uniform in [-1, 1) times a per-row scale in
//                     [0.25, 4), so l2, cosine and dot rank differently); every value is exactly a float32
//   vec_queries.txt   20 query vectors, one JSON array a line, drawn the same way
// Same PRNG (mulberry32) on every platform; no Math.random.
import { mkdirSync, writeFileSync } from "node:fs";

const [outDir, seedText] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: gen_search.mjs OUTDIR [SEED]");
  process.exit(2);
}
let state = (Number(seedText ?? 7) >>> 0) || 1;
const next = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (k) => Math.floor(next() * k);

const VOCAB = (
  "road car night rain street light truck person bus sign lane city bridge tunnel snow fog " +
  "bicycle rider crossing traffic highway parking dawn dusk wet glare shadow signal curb " +
  "van trailer scooter tram barrier cone median ramp toll exit merge detour puddle hail " +
  "sleet haze smog mirror wiper deer moose horse tractor ferry harbor pier quarry canyon glacier orchard vineyard"
).split(" ");
if (VOCAB.length !== 60 || new Set(VOCAB).size !== 60) throw new Error("vocabulary must be 60 distinct words");
// word r has weight exp(-r / 9): ~10% of all tokens for r = 0, ~0.015% for r = 59
const weights = VOCAB.map((_, r) => Math.exp(-r / 9));
const cumulative = [];
weights.reduce((acc, w, i) => (cumulative[i] = acc + w), 0);
const total = cumulative[cumulative.length - 1];
const drawWord = () => {
  const x = next() * total;
  let lo = 0, hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return VOCAB[lo];
};

mkdirSync(outDir, { recursive: true });

// documents
const N_DOCS = 3000;
const docs = [];
for (let i = 0; i < N_DOCS; i++) {
  const len = 3 + int(28); // 3..30 words
  const words = [];
  while (words.length < len) {
    const w = drawWord();
    // one word in six comes as a burst of 2–4 copies (higher term frequencies)
    const copies = int(6) === 0 ? 2 + int(3) : 1;
    for (let c = 0; c < copies && words.length < len; c++) words.push(w);
  }
  // separators vary (space, comma, punctuation) — both analyzers split on non-alphanumerics
  const seps = [" ", " ", " ", ", ", ". ", " - ", "; "];
  let txt = words[0];
  for (let k = 1; k < words.length; k++) txt += seps[int(seps.length)] + words[k];
  // a few capitalised words: both analyzers lowercase
  if (int(10) === 0) txt = txt[0].toUpperCase() + txt.slice(1);
  docs.push(JSON.stringify({ id: i + 1, txt: int(40) === 0 ? null : txt }));
}
writeFileSync(`${outDir}/docs.jsonl`, docs.join("\n") + "\n");

// full-text queries
const queries = [];
for (const r of [0, 1, 3, 6, 12, 18, 24, 30]) queries.push(VOCAB[r]); // common and middle
for (const r of [36, 40, 44, 48, 52, 55, 57, 59]) queries.push(VOCAB[r]); // rare (df from ~100 down to a few)
const distinct = (k, from, to) => {
  const s = new Set();
  while (s.size < k) s.add(VOCAB[from + int(to - from)]);
  return [...s].join(" ");
};
for (let k = 0; k < 7; k++) queries.push(distinct(2, 0, k < 3 ? 30 : 60));
for (let k = 0; k < 7; k++) queries.push(distinct(3, 0, k < 3 ? 30 : 60));
writeFileSync(`${outDir}/fts_queries.txt`, queries.join("\n") + "\n");

// vectors
const DIM = 16;
const vector = () => {
  const scale = 0.25 + next() * 3.75;
  return Array.from({ length: DIM }, () => Math.fround((next() * 2 - 1) * scale));
};
const vecs = [];
for (let i = 0; i < 2000; i++) vecs.push(JSON.stringify({ id: i + 1, v: vector() }));
writeFileSync(`${outDir}/vecs.jsonl`, vecs.join("\n") + "\n");
const vq = [];
for (let i = 0; i < 20; i++) vq.push(JSON.stringify(vector()));
writeFileSync(`${outDir}/vec_queries.txt`, vq.join("\n") + "\n");
