"""dhash_pil.py FRAMES.bin REPS [HASHDIR] — the PIL peer of the backfill benchmark's dhash kernels
(bench/backfill.sh, bench/README.md "Backfill").

Reads the frames backfill_bench exported (a sequence of [uint32 little-endian size][JPEG bytes]) into
memory (untimed), then computes the same 64-bit difference hash with Pillow on one thread, REPS times:

  pil        Image.open(BytesIO(jpeg)).convert('L').resize((9, 8), Image.BOX): full-resolution decode
  pil_draft  the same after img.draft('L', (w // 8, h // 8)): Pillow's own DCT scaling (and a gray decode)

bit (r, c) = gray[r][c] > gray[r][c + 1], packed row-major, most significant bit first, as framelake's
dhash. Prints "key<TAB>value" lines: frames/s (median and best) per variant and, when HASHDIR holds
backfill_bench's hash_a.bin (framelake) and hash_b.bin (full-resolution area average), how many bits
each variant's hashes differ from those. Use /usr/bin/python3 (python3-pil, numpy).
"""
import io
import os
import struct
import sys
import time

import numpy as np
from PIL import Image


def read_frames(path):
    frames = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        frames.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return frames


def hash_of(gray9x8):
    a = np.asarray(gray9x8, dtype=np.int16)
    return np.packbits(a[:, :8] > a[:, 1:], axis=1).reshape(8).tobytes()


def dhash_pil(jpeg):
    return hash_of(Image.open(io.BytesIO(jpeg)).convert("L").resize((9, 8), Image.BOX))


def dhash_pil_draft(jpeg):
    img = Image.open(io.BytesIO(jpeg))
    img.draft("L", (img.width // 8, img.height // 8))
    return hash_of(img.convert("L").resize((9, 8), Image.BOX))


def bits_differ(ours, theirs):
    x = np.frombuffer(ours, dtype=np.uint8) ^ np.frombuffer(theirs, dtype=np.uint8)
    per_frame = np.unpackbits(x).reshape(-1, 64).sum(axis=1)
    return per_frame.mean(), int(per_frame.max()), int((per_frame == 0).sum())


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: dhash_pil.py FRAMES.bin REPS [HASHDIR]")
    frames = read_frames(sys.argv[1])
    reps = max(1, int(sys.argv[2]))
    hashdir = sys.argv[3] if len(sys.argv) == 4 else None
    print("frames\t%d" % len(frames))
    print("pil_version\t%s" % Image.__version__)
    variants = [("pil", dhash_pil), ("pil_draft", dhash_pil_draft)]
    hashes = {}
    for name, fn in variants:  # warm-up: a few frames, untimed
        for jpeg in frames[:8]:
            fn(jpeg)
    times = {name: [] for name, _ in variants}
    for rep in range(reps):
        order = variants if rep % 2 == 0 else variants[::-1]
        for name, fn in order:
            t0 = time.perf_counter()
            out = b"".join(fn(jpeg) for jpeg in frames)
            times[name].append(time.perf_counter() - t0)
            hashes[name] = out
        print("== pil: round %d/%d done" % (rep + 1, reps), file=sys.stderr)
    for name, _ in variants:
        t = sorted(times[name])
        median = t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2
        print("fps_%s\t%.1f" % (name, len(frames) / median))
        print("fps_%s_best\t%.1f" % (name, len(frames) / t[0]))
    if hashdir:
        for ref in ("a", "b"):
            path = os.path.join(hashdir, "hash_%s.bin" % ref)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                theirs = f.read()
            for name, _ in variants:
                mean, mx, equal = bits_differ(hashes[name], theirs)
                print("bits_%s_%s_mean\t%.3f\nbits_%s_%s_max\t%d\nbits_%s_%s_equal\t%d" % (name, ref, mean, name, ref, mx, name, ref, equal))


if __name__ == "__main__":
    main()
