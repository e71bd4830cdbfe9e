"""loader_torch.py — the PyTorch side of the data-loader benchmark (bench/loader.sh, bench/README.md "Data loader").

    loader_torch.py DB FOLDER BATCH WORKERS

DB holds table bdd100k (synthetic frames); FOLDER is the same frames as JPEG files in BDD100K's layout
(FOLDER/images/100k/<split>/<image_id>.jpg). Every path below produces float32 C x H x W tensors in [0, 1],
stacked into [BATCH, 3, H, W] per batch, one epoch over every frame in a shuffled order:

  fast_*   framelake.torch.FastLoader(threads=WORKERS, batch_size=BATCH, shuffle=True): the C loader's threads
           decode, resize and convert to float in C; the batch arrives as one tensor over the C buffer (no copy)
           with its targets (boxes, labels, image_id); no Python worker processes
  ds_*     framelake.torch.DetectionDataset in torch.utils.data.DataLoader(num_workers=WORKERS,
           batch_size=BATCH, shuffle=True, collate_fn=framelake.torch.collate): each worker process gets a batch
           of indices, __getitems__ builds the batch with fl_loader_read in C (one thread) decoding straight
           into a shared-memory tensor (with a size; the full-size path stacks its images into one), which
           goes to the main process as it is
  pil_*    torchvision.datasets.ImageFolder(FOLDER/images/100k, transform, loader) (the usual alternative; its
           target replaced by the sample's index) in the same DataLoader settings: PIL opens each JPEG file,
           decodes it and converts to RGB (torchvision's default loader), transforms.Resize((360, 640), BILINEAR)
           (Pillow's BILINEAR, antialiased) for 640 x 360, transforms.ToTensor() (float in [0, 1]);
           default_collate stacks the batch in shared memory
  variants: *_small size=(640, 360) (the loader picks libjpeg-turbo DCT scaling 1/2, the smallest scale that
           covers it: no resize pass); *_full 1280 x 720 (the decoded size); pil_small 640 x 360
           from the full decode; pil_draft 640 x 360 with Image.draft("RGB", (640, 360)) before converting
           (libjpeg's DCT scaling 1/2, the PIL counterpart of *_small; Resize is then a no-op)

Each path runs a warm-up first (a few batches), then one timed epoch: from making the loader (FastLoader) or
the DataLoader iterator (which forks the workers) to its last batch.

Wrong data fails the run (exit 1): the table's JPEG bytes must equal the files'; each framelake epoch delivers
every row exactly once (by image_id), each pil epoch every file exactly once (by index); every batch has the
expected shape, dtype float32 and values in [0, 1]; the first batch of each framelake path equals the uint8
pixels of a direct fl_loader_read of the same rows / 255. For a few frames, PIL's full-size decode is compared
with the loader's, and PIL's draft decode with the loader's DCT 1/2 (both are libjpeg-turbo; a difference is
reported, not failed), and PIL's 640 x 360 BILINEAR with the loader's 640 x 360 images (mean difference).

stdout, tab-separated:
  setup  key value
  py     name images seconds images_per_s first_batch_s
  check  name value
"""

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Subset
from torch.utils.data._utils.collate import default_collate
from torchvision import transforms

import framelake
from framelake import torch as fltorch

TABLE = "bdd100k"
SMALL = (640, 360)  # width, height
VARIANTS = {"small": dict(size=SMALL), "full": dict()}


def fail(message):
    print(f"loader_torch: WRONG DATA: {message}", file=sys.stderr)
    sys.exit(1)


def emit(*fields):
    print("\t".join(str(f) for f in fields), flush=True)


class IndexedImageFolder(torchvision.datasets.ImageFolder):
    """ImageFolder whose target is the sample's index (to check every frame comes exactly once)."""

    def __getitem__(self, index):
        image, _ = super().__getitem__(index)
        return image, index


def pil_loader(path):
    """torchvision's default_loader with PIL: open the file, decode, convert to RGB."""
    with open(path, "rb") as fh:
        return Image.open(fh).convert("RGB")


def pil_draft_loader(path):
    """The same with Image.draft: libjpeg's DCT scaling to the smallest scale >= 640 x 360 (1/2 here)."""
    with open(path, "rb") as fh:
        image = Image.open(fh)
        image.draft("RGB", SMALL)
        return image.convert("RGB")


def check_batch(name, images, batch, expect_hw, last):
    if images.dtype != torch.float32 or images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != expect_hw:
        fail(f"{name}: batch of {tuple(images.shape)} {images.dtype}, expected [*, 3, {expect_hw[0]}, {expect_hw[1]}] float32")
    if images.shape[0] != batch and not last:
        fail(f"{name}: a batch of {images.shape[0]} rows, not the last")


def check_range(name, images):
    lo, hi = float(images.min()), float(images.max())
    if lo < 0 or hi > 1:
        fail(f"{name}: values in [{lo}, {hi}], expected [0, 1]")


def reference_first_batch(name, table, images, ids, options):
    """The first batch equals fl_loader_read of its rows as uint8 / 255."""
    ref = framelake.read_rows(table, np.asarray(ids, dtype=np.uint64), layout="chw", normalize=False, **options)["images"]
    diff = float((images - torch.from_numpy(ref.astype(np.float32)) / 255).abs().max())
    if diff > 1e-6:
        fail(f"{name}: first batch differs from fl_loader_read / 255 by up to {diff}")


def seen_once(name, seen, ids, n_rows):
    if len(ids) != n_rows or len(set(ids)) != n_rows or set(ids) != seen:
        fail(f"{name}: {len(ids)} rows delivered ({len(set(ids))} distinct) of {n_rows}")


def run_fast(name, db_path, table, row_ids, batch, threads, options):
    expect_hw = (options["size"][1], options["size"][0]) if "size" in options else None
    warm = fltorch.FastLoader(db_path, TABLE, batch_size=batch, threads=threads, shuffle=True, seed=1, **options)
    for k, (images, _) in enumerate(warm):
        if k == 4:
            break
    warm.close()
    del warm
    t0 = time.perf_counter()
    loader = fltorch.FastLoader(db_path, TABLE, batch_size=batch, threads=threads, shuffle=True, seed=0, **options)
    ids, first, first_s = [], None, None
    n_batches = len(loader)
    for k, (images, targets) in enumerate(loader):
        if first_s is None:
            first_s = time.perf_counter() - t0
            first = (images.clone(), [int(t["image_id"]) for t in targets])
        if expect_hw is None:
            expect_hw = tuple(images.shape[2:])
        check_batch(name, images, batch, expect_hw, k == n_batches - 1)
        ids.extend(int(t["image_id"]) for t in targets)
    seconds = time.perf_counter() - t0
    loader.close()
    seen_once(name, set(int(r) for r in row_ids), ids, len(row_ids))
    check_range(name, first[0])
    reference_first_batch(name, table, first[0], first[1], options)
    return len(ids), seconds, first_s


def run_dataloader(name, dataset, batch, workers, collate, ids_of, expect_hw, check_first=None):
    n_rows = len(dataset)
    warm = DataLoader(Subset(dataset, range(min(n_rows, 4 * workers * batch))), batch_size=batch, num_workers=workers, collate_fn=collate)
    for _ in warm:
        pass
    del warm
    generator = torch.Generator()
    generator.manual_seed(0)
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, shuffle=True, generator=generator, collate_fn=collate)
    n_batches = len(loader)
    t0 = time.perf_counter()
    ids, first, first_s = [], None, None
    for k, (images, targets) in enumerate(loader):
        if first_s is None:
            first_s = time.perf_counter() - t0
            first = (images.clone(), targets)
        check_batch(name, images, batch, expect_hw, k == n_batches - 1)
        ids.extend(ids_of(targets))
    seconds = time.perf_counter() - t0
    check_range(name, first[0])
    if check_first:
        check_first(first)
    return ids, seconds, first_s


def main():
    if len(sys.argv) != 5:
        print("usage: loader_torch.py DB FOLDER BATCH WORKERS", file=sys.stderr)
        sys.exit(2)
    db_path, folder, batch, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    table = framelake.connect(db_path).open_table(TABLE)
    meta = table.query(columns=["image_id", "split"], with_row_ids=True)
    row_ids = np.asarray(meta["_rowid"], dtype=np.uint64)
    n_rows = len(row_ids)
    image_root = os.path.join(folder, "images", "100k")
    files = [os.path.join(image_root, split, f"{image_id}.jpg") for image_id, split in zip(meta["image_id"], meta["split"])]
    emit("setup", "frames", n_rows)
    emit("setup", "versions", f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {Image.__version__}, numpy {np.__version__}")

    # The same JPEG bytes on both sides.
    for at in range(0, n_rows, 256):
        chunk = table.take(row_ids[at:at + 256], columns=["image_bytes"])["image_bytes"]
        for k, jpeg in enumerate(chunk):
            with open(files[at + k], "rb") as fh:
                if fh.read() != bytes(jpeg):
                    fail(f"{files[at + k]} differs from row id {row_ids[at + k]}'s image_bytes")
    emit("check", "jpeg_bytes", f"{n_rows} files == the table's image_bytes")

    # PIL's full-size decode against the loader's (both libjpeg-turbo).
    sample = [row_ids[i * n_rows // 8] for i in range(min(8, n_rows))]
    index = {int(r): i for i, r in enumerate(row_ids)}
    mine = framelake.read_rows(table, np.asarray(sample, dtype=np.uint64), layout="hwc", normalize=False)["images"]
    dct = framelake.read_rows(table, np.asarray(sample, dtype=np.uint64), layout="hwc", normalize=False, size=SMALL)["images"]
    bil = framelake.read_rows(table, np.asarray(sample, dtype=np.uint64), layout="hwc", normalize=False, size=SMALL, scale=(1, 1))["images"]
    differ, max_diff, draft_differ, draft_max, mad_dct, mad_bil = 0, 0, 0, 0, 0.0, 0.0
    for k, r in enumerate(sample):
        img = pil_loader(files[index[int(r)]])
        pil = np.asarray(img)
        small = np.asarray(img.resize(SMALL, Image.BILINEAR)).astype(np.int16)
        d = np.abs(pil.astype(np.int16) - mine[k].astype(np.int16))
        differ += int(np.count_nonzero(d))
        max_diff = max(max_diff, int(d.max()))
        d = np.abs(np.asarray(pil_draft_loader(files[index[int(r)]])).astype(np.int16) - dct[k].astype(np.int16))
        draft_differ += int(np.count_nonzero(d))
        draft_max = max(draft_max, int(d.max()))
        mad_dct += float(np.abs(small - dct[k].astype(np.int16)).mean()) / len(sample)
        mad_bil += float(np.abs(small - bil[k].astype(np.int16)).mean()) / len(sample)
    emit("check", "pil_full_pixels", f"{len(sample)} frames: {differ} of {mine.size} values differ, max |diff| {max_diff}")
    emit("check", "pil_draft_pixels", f"{len(sample)} frames: {draft_differ} of {dct.size} values differ from the loader's DCT 1/2, max |diff| {draft_max}")
    emit("check", "pil_small_vs_loader", f"PIL BILINEAR 640x360 vs loader, mean |diff| per value: size=(640, 360) (DCT 1/2) {mad_dct:.2f}, "
         f"bilinear from the full decode (scale=(1, 1)) {mad_bil:.2f} (of 255)")

    # FastLoader.
    for v, options in VARIANTS.items():
        n, seconds, first_s = run_fast(f"fast_{v}", db_path, table, row_ids, batch, workers, options)
        emit("py", f"fast_{v}", n, f"{seconds:.3f}", f"{n / seconds:.1f}", f"{first_s:.3f}")

    # DetectionDataset in a DataLoader.
    all_ids = set(int(r) for r in row_ids)
    for v, options in VARIANTS.items():
        name = f"ds_{v}"
        ds = fltorch.DetectionDataset(db_path, TABLE, **options)
        expect_hw = (SMALL[1], SMALL[0]) if "size" in options else (720, 1280)

        def first_check(first, name=name, options=options):
            reference_first_batch(name, table, first[0], [int(t["image_id"]) for t in first[1]], options)

        ids, seconds, first_s = run_dataloader(name, ds, batch, workers, fltorch.collate, lambda tg: [int(t["image_id"]) for t in tg], expect_hw,
                                               first_check)
        seen_once(name, all_ids, ids, n_rows)
        emit("py", name, len(ids), f"{seconds:.3f}", f"{n_rows / seconds:.1f}", f"{first_s:.3f}")

    # torchvision ImageFolder with PIL.
    resize = transforms.Resize((SMALL[1], SMALL[0]), transforms.InterpolationMode.BILINEAR)
    for name, loader, tf, expect_hw in (("pil_small", pil_loader, transforms.Compose([resize, transforms.ToTensor()]), (SMALL[1], SMALL[0])),
                                        ("pil_full", pil_loader, transforms.ToTensor(), (720, 1280)),
                                        ("pil_draft", pil_draft_loader, transforms.Compose([resize, transforms.ToTensor()]), (SMALL[1], SMALL[0]))):
        ds = IndexedImageFolder(image_root, transform=tf, loader=loader)
        if len(ds) != n_rows:
            fail(f"{name}: ImageFolder found {len(ds)} images, the table has {n_rows}")
        ids, seconds, first_s = run_dataloader(name, ds, batch, workers, default_collate, lambda tg: tg.tolist(), expect_hw)
        seen_once(name, set(range(n_rows)), ids, n_rows)
        emit("py", name, len(ids), f"{seconds:.3f}", f"{n_rows / seconds:.1f}", f"{first_s:.3f}")
    table.close()


if __name__ == "__main__":
    main()
