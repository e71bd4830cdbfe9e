#!/usr/bin/python3
"""fts_corpus.py DOCS SEED CORPUS.jsonl QUERIES.tsv — the corpus and the queries of the full-text search
benchmark (bench/fts.sh; bench/README.md, "Full-text search").

Writes DOCS short captions of dashcam scenes as JSON Lines {"id": i, "caption": "..."} (id = 0..DOCS-1, the
row id on every engine), generated deterministically from SEED: a dozen templates filled from vocabularies
of weather, time of day, road types, counts, colours, road users, actions and places, each drawn with
Zipf-like weights (the first words of a list are much more frequent than the last), plus made-up street
and landmark names from a long Zipf tail, so that single words range from most captions to a handful.
Captions are 5-20 lowercase ASCII words (letters and digits) with commas; every engine's tokenizer splits
them into the same words.

Then picks the queries from the corpus's own statistics, QUERIES.tsv: "class<TAB>name<TAB>words<TAB>df"
(words space-separated; df: the captions that match: holding the word, any of the words, the phrase) with three classes of
QUERIES_PER_CLASS (env, default 10) each:
  term    single words at document frequencies spread on a log scale from ~40% of the captions to 2-3;
  or      2-4 words OR'd, drawn from frequency bands (common, middling, rare);
  phrase  2-3 consecutive words copied from captions (half from random captions, half around a rare word).
Prints a one-line summary to stderr.
"""
import bisect
import json
import math
import os
import random
import sys

DOCS, SEED = int(sys.argv[1]), int(sys.argv[2])
CORPUS, QUERIES = sys.argv[3], sys.argv[4]
PER_CLASS = int(os.environ.get("QUERIES_PER_CLASS", "10"))
rng = random.Random(SEED)


class Zipf:
    """Draws items of a list with weight 1 / (rank + 1) ** s (rank = position in the list)."""

    def __init__(self, items, s=1.1):
        self.items = items
        acc, self.cum = 0.0, []
        for i in range(len(items)):
            acc += 1.0 / (i + 1) ** s
            self.cum.append(acc)

    def __call__(self):
        return self.items[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


def words(text):
    return text.split()


WEATHER = Zipf(words("clear overcast rainy cloudy foggy snowy sunny drizzly hazy stormy misty sleety blustery humid"))
TOD = Zipf(words("daytime night dusk dawn morning afternoon evening noon midnight twilight sunrise sunset"))
ROAD = Zipf(["highway", "city street", "intersection", "residential street", "parking lot", "freeway", "avenue", "boulevard",
             "roundabout", "bridge", "tunnel", "country road", "on ramp", "overpass", "gravel road", "alley", "toll plaza",
             "school zone", "construction zone", "mountain pass", "causeway", "cul de sac", "service road", "level crossing"])
# (singular, plural)
USERS = [("car", "cars"), ("truck", "trucks"), ("pedestrian", "pedestrians"), ("bus", "buses"), ("cyclist", "cyclists"),
         ("van", "vans"), ("motorcycle", "motorcycles"), ("taxi", "taxis"), ("suv", "suvs"), ("scooter", "scooters"),
         ("pickup", "pickups"), ("trailer", "trailers"), ("tram", "trams"), ("ambulance", "ambulances"),
         ("jogger", "joggers"), ("dog", "dogs"), ("skateboarder", "skateboarders"), ("tractor", "tractors"),
         ("police car", "police cars"), ("fire truck", "fire trucks"), ("garbage truck", "garbage trucks"),
         ("limousine", "limousines"), ("forklift", "forklifts"), ("deer", "deer"), ("horse", "horses"),
         ("stroller", "strollers"), ("wheelchair", "wheelchairs"), ("camper", "campers"), ("bulldozer", "bulldozers"),
         ("excavator", "excavators"), ("rickshaw", "rickshaws"), ("unicycle", "unicycles"), ("segway", "segways"),
         ("moose", "moose"), ("llama", "llamas"), ("hovercraft", "hovercraft"), ("zamboni", "zambonis"),
         ("peacock", "peacocks"), ("camel", "camels"), ("gondola", "gondolas")]
USER = Zipf(list(range(len(USERS))), 1.2)
COLOR = Zipf(words("white black silver gray red blue green yellow brown orange beige gold purple maroon teal "
                   "turquoise magenta lavender crimson"))
COUNT = Zipf(words("two three four several five six many seven eight nine ten twelve"))
ACTION = Zipf(["parked", "stopped", "turning left", "turning right", "merging", "crossing", "waiting", "overtaking",
               "braking hard", "reversing", "changing lanes", "idling", "double parked", "yielding", "speeding",
               "swerving", "tailgating", "running a red light", "making a u turn", "stalled"])
PLACE = Zipf(["at the traffic light", "near the crosswalk", "by the curb", "next to a gas station", "in the left lane",
              "in the right lane", "near a bus stop", "under the bridge", "beside a construction site",
              "in front of a school", "outside a hospital", "by a fire hydrant", "near a shopping mall",
              "next to a bike lane", "at the stop sign", "beside a parked truck", "near a railway crossing",
              "by the toll booth", "outside a stadium", "near a roadside memorial", "beside a lighthouse",
              "under a billboard", "near a windmill", "beside an aqueduct"])
EGO = Zipf(["cruising", "slowing down", "accelerating", "stopped", "turning left", "turning right", "changing lanes",
            "reversing", "merging", "parking"])
LIGHT = Zipf(["wet asphalt", "glare from headlights", "long shadows", "low sun", "street lamps", "puddles",
              "slush on the road", "fallen leaves", "reflections", "dust", "heavy spray"])

# Made-up street and landmark names: a long Zipf tail of rare words (deterministic from SEED).
SYL = words("ka lo mi ra ven dor sel tri bru an el is ko mar tal quin rho zu fen gal hart wick")


def made_up(n, r):
    seen, out = set(), []
    while len(out) < n:
        w = "".join(r.choice(SYL) for _ in range(r.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


names = made_up(3000, random.Random(SEED * 7919 + 1))
STREET = Zipf(names[:2000], 1.05)
LANDMARK = Zipf(names[2000:], 1.0)
STREET_KIND = Zipf(words("street avenue road lane drive boulevard way"))


def user(n=1):
    s, p = USERS[USER()]
    return s if n == 1 else p


def some():
    """A count and a plural road user, sometimes with a colour: 'three red cars'."""
    c = COUNT()
    if rng.random() < 0.5:
        return f"{c} {COLOR()} {user(2)}"
    return f"{c} {user(2)}"


def one():
    """'a blue truck' or 'a truck'."""
    u = user()
    if rng.random() < 0.6:
        u = f"{COLOR()} {u}"
    return a(u)


def a(phrase):
    """The phrase with its indefinite article."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def street():
    return f"{STREET()} {STREET_KIND()}"


TEMPLATES = [
    lambda: f"{WEATHER()} {TOD()} on {a(ROAD())}, {some()} {ACTION()}",
    lambda: f"{one()} {ACTION()} {PLACE()}",
    lambda: f"{some()} {ACTION()} {PLACE()} on {street()}",
    lambda: f"dashcam view of {a(ROAD())} at {TOD()}, {WEATHER()}, {one()} ahead",
    lambda: f"ego vehicle {EGO()} on {street()} while {one()} is {ACTION()} {PLACE()}",
    lambda: f"{TOD()} drive on {a(WEATHER() + ' ' + ROAD())}, {LIGHT()}, {some()} {PLACE()}",
    lambda: f"{one()} and {one()} {ACTION()} on the {ROAD()}",
    lambda: f"{WEATHER()} {TOD()}, {user()} {ACTION()} near the {LANDMARK()} {ROAD()}",
    lambda: f"{LIGHT()} on {street()}, {one()} {ACTION()}",
    lambda: f"{one()} {ACTION()} {PLACE()} at {TOD()}, {WEATHER()} weather, {LIGHT()}",
    lambda: f"{some()} and {one()} {PLACE()}",
    lambda: f"traffic jam on the {ROAD()} near {LANDMARK()}, {some()} {ACTION()} in {WEATHER()} {TOD()} conditions",
]
TEMPLATE = Zipf(list(range(len(TEMPLATES))), 0.6)


def caption():
    while True:
        text = TEMPLATES[TEMPLATE()]()
        n = len(text.replace(",", " ").split())
        if 5 <= n <= 20:
            return text


def tokens(text):
    return text.replace(",", " ").split()


docs = []
with open(CORPUS, "w") as out:
    for i in range(DOCS):
        c = caption()
        docs.append(tokens(c))
        out.write(json.dumps({"id": i, "caption": c}) + "\n")

df = {}
for toks in docs:
    for w in set(toks):
        df[w] = df.get(w, 0) + 1
FUNCTION = set(words("a an the of on at in by and is to near next under beside outside front while"))
content = sorted((w for w in df if w not in FUNCTION), key=lambda w: (-df[w], w))


def phrase_df(ws):
    n = 0
    for toks in docs:
        for j in range(len(toks) - len(ws) + 1):
            if toks[j:j + len(ws)] == ws:
                n += 1
                break
    return n


queries = []
used = set()

# term: the word whose df is nearest each target on a log scale from 40% of the captions to 2
top, low = 0.4 * DOCS, 2.0
for q in range(PER_CLASS):
    target = math.exp(math.log(top) + (math.log(low) - math.log(top)) * q / max(1, PER_CLASS - 1))
    w = min((w for w in content if w not in used), key=lambda w: (abs(math.log(df[w]) - math.log(target)), w))
    used.add(w)
    queries.append(("term", f"term{q:02d}", w, df[w]))

# or: 2-4 words, each from a band of the vocabulary by df rank (common: top 30, middling, rare: the tail)
bands = [content[:30], content[30:300], content[300:]]
for q in range(PER_CLASS):
    k = 2 + q % 3
    ws = []
    while len(ws) < k:
        w = rng.choice(bands[rng.randrange(3) if ws else q % 3])
        if w not in ws:
            ws.append(w)
    n = sum(1 for toks in docs if any(w in toks for w in ws))
    queries.append(("or", f"or{q:02d}", " ".join(ws), n))

# phrase: 2-3 consecutive words of a caption, not only function words; every other one around a rare word
rare = [w for w in content if df[w] <= max(5, DOCS // 2000)]
seen = set()
q = 0
while q < PER_CLASS:
    if q % 2 and rare:
        w = rng.choice(rare)
        toks = next(t for t in docs if w in t)
        at = toks.index(w)
    else:
        toks = rng.choice(docs)
        at = rng.randrange(len(toks))
    k = 2 + rng.randrange(2)
    s = max(0, min(at - rng.randrange(k), len(toks) - k))
    ws = toks[s:s + k]
    key = " ".join(ws)
    if len(ws) < 2 or all(w in FUNCTION for w in ws) or key in seen:
        continue
    seen.add(key)
    queries.append(("phrase", f"phrase{q:02d}", key, phrase_df(ws)))
    q += 1

with open(QUERIES, "w") as out:
    for c, name, text, n in queries:
        out.write(f"{c}\t{name}\t{text}\t{n}\n")
lens = [len(t) for t in docs]
print(f"fts_corpus: {DOCS} captions, {sum(lens)} words ({min(lens)}-{max(lens)} per caption, mean {sum(lens) / DOCS:.1f}), "
      f"{len(df)} distinct words, {len(queries)} queries", file=sys.stderr)
