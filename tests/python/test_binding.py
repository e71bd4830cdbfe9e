"""The ctypes binding and the PyTorch layer: tables at a version, counts and queries equal to the CLI's,
takes, permutations, the C loader's pixels equal to PIL's decode of the same JPEG bytes, boxes and labels
aligned with their images, DetectionDataset through a DataLoader with two worker processes, FastLoader
determinism, and reopening a dataset at its version after the table grew.

Run: PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python
"""
import io
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
FRAMELAKE = os.environ.get("FRAMELAKE", os.path.join(ROOT, "build", "framelake"))

import framelake  # noqa: E402
from PIL import Image  # noqa: E402


def cli(*args):
    return subprocess.run([FRAMELAKE, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def dbpath(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("binding") / "db")
    cli("ingest", "synthetic", path, "--n", "40", "--seed", "4", "--size", "160x96", "--quiet")
    cli("permutation", "create", path, "perm", "--from", "bdd100k", "--split", "random:0.75,0.25:train,val", "--shuffle-seed", "3")
    return path


def test_tables_counts_queries(dbpath):
    db = framelake.connect(dbpath)
    assert db.table_names() == ["bdd100k", "perm"]
    t = db.open_table("bdd100k")
    assert t.version == 2 and len(t) == 40
    assert t.count("split = 'train'") == int(cli("count", dbpath, "bdd100k", "--where", "split = 'train'"))
    q = t.query(where="split = 'val'", columns=["image_id", "width", "ann_categories", "timestamp"], with_row_ids=True)
    lines = [json.loads(x) for x in cli("query", dbpath, "bdd100k", "--where", "split = 'val'", "--select",
                                        "image_id,width,ann_categories,timestamp", "--format", "jsonl").splitlines()]
    assert q["image_id"] == [r["image_id"] for r in lines]
    assert q["width"].tolist() == [r["width"] for r in lines]
    assert q["timestamp"].tolist() == [r["timestamp"] for r in lines]
    assert q["ann_categories"] == [r["ann_categories"] for r in lines]
    rows = t.query(columns=["image_id", "weather"], limit=2, as_rows=True)
    first = [json.loads(x) for x in cli("query", dbpath, "bdd100k", "--select", "image_id,weather", "--limit", "2", "--format", "jsonl").splitlines()]
    assert rows == first
    took = t.take([5, 0], columns=["image_id"])
    assert took["image_id"] == ["synth-00000004-0000005", "synth-00000004-0000000"]
    with pytest.raises(framelake.Error) as e:
        t.count("splt = 'x'")
    assert 'column "splt" not found; did you mean "split"?' in str(e.value)
    assert db.sql("SELECT count(*) AS n FROM bdd100k")["n"].tolist() == [40]


def test_empty_results_keep_their_columns(dbpath):
    t = framelake.connect(dbpath).open_table("bdd100k")
    got = t.query(where="split = 'nowhere'", columns=["image_id", "width", "ann_categories"], with_row_ids=True)
    assert sorted(got) == ["_rowid", "ann_categories", "image_id", "width"]
    assert got["width"].dtype == np.int32 and len(got["width"]) == 0 and got["_rowid"].dtype == np.uint64 and len(got["_rowid"]) == 0
    assert list(got["image_id"]) == [] and list(got["ann_categories"]) == []
    assert t.query(where="split = 'nowhere'", as_rows=True) == []


def test_arrow_export(dbpath):
    """The C Data Interface export, checked field by field (pyarrow is not in Debian, so its import is not run)."""
    import ctypes
    t = framelake.connect(dbpath).open_table("bdd100k")
    exports = t.export_arrow(where="split = 'val'", columns=["image_id", "width", "ann_categories"])
    assert len(exports) == 1
    x = exports[0]
    assert x.schema.format == b"+s" and x.schema.n_children == 3
    kids = [x.schema.children[i].contents for i in range(3)]
    assert [k.name for k in kids] == [b"image_id", b"width", b"ann_categories"]
    assert [k.format for k in kids] == [b"U", b"i", b"+L"]
    n = t.count("split = 'val'")
    assert x.array.length == n and x.array.n_children == 3
    widths = x.array.children[1].contents
    values = np.ctypeslib.as_array(ctypes.cast(widths.buffers[1], ctypes.POINTER(ctypes.c_int32)), (n,))
    assert values.tolist() == t.query(where="split = 'val'", columns=["width"])["width"].tolist()
    del exports, x  # released through the callbacks


def test_permutation(dbpath):
    db = framelake.connect(dbpath)
    p = db.permutation("perm")
    assert (p.source, p.source_version, p.split_names) == ("bdd100k", 2, ["train", "val"])
    train, val = p.split("train"), p.split("val")
    assert len(train) == 30 and len(val) == 10
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(40))
    with pytest.raises(framelake.Error):
        p.split("test")


def test_loader_pixels_and_boxes(dbpath):
    db = framelake.connect(dbpath)
    t = db.open_table("bdd100k")
    ids = np.arange(40, dtype=np.uint64)
    loader = framelake.Loader(t, ids, batch_size=16, threads=2, layout="hwc", boxes_column="ann_bboxes", labels_column="ann_categories",
                              categories=["car", "pedestrian"])
    assert len(loader) == 3
    seen = 0
    for batch in loader:
        raw = t.take(batch["row_ids"], columns=["image_bytes", "ann_bboxes", "ann_categories"])
        for i in range(len(batch["row_ids"])):
            ref = np.asarray(Image.open(io.BytesIO(raw["image_bytes"][i])).convert("RGB"))
            assert np.array_equal(batch["images"][i], ref)
            want = [(b, {"car": 1, "pedestrian": 2}[c]) for b, c in zip(raw["ann_bboxes"][i], raw["ann_categories"][i])
                    if c in ("car", "pedestrian")]
            assert batch["labels"][i].tolist() == [w[1] for w in want]
            assert np.allclose(batch["boxes"][i], np.array([w[0] for w in want], dtype=np.float32).reshape(-1, 4))
            seen += 1
    assert seen == 40
    one = framelake.read_rows(t, [7, 3], size=(80, 48))
    assert one["images"].shape == (2, 3, 48, 80) and one["row_ids"].tolist() == [7, 3]
    # The same bytes given in memory decode to the same tensor; a bad one is skipped and counted.
    jpegs = [bytes(j) for j in t.take([7, 3], columns=["image_bytes"])["image_bytes"]]
    mem = framelake.decode_images(jpegs[:1] + [b"not a jpeg", None] + jpegs[1:], size=(80, 48), skip_corrupt=True)
    assert mem["row_ids"].tolist() == [0, 3] and mem["skipped"] == 2
    assert np.array_equal(mem["images"], one["images"])
    with pytest.raises(framelake.Error, match="row id 1 of 'the given bytes': cannot read the JPEG header"):
        framelake.decode_images([jpegs[0], b"not a jpeg"])


def test_detection_dataset_workers_and_version(dbpath):
    import torch
    from framelake.torch import DetectionDataset, FastLoader, collate

    ds = DetectionDataset(dbpath, "bdd100k", permutation="perm", split="train", size=(80, 48))
    assert len(ds) == 30 and ds.version == 2
    img, target = ds[0]
    assert img.shape == (3, 48, 80) and img.dtype == torch.float32 and float(img.max()) <= 1.0
    assert target["boxes"].dtype == torch.float32 and target["labels"].dtype == torch.int64
    assert int(target["image_id"]) == int(ds.row_ids[0])
    direct = {int(t["image_id"]): (i, t) for i, t in (ds[k] for k in range(len(ds)))}
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=lambda items: items)
    got = 0
    for items in loader:
        for img, t in items:
            ref_img, ref_t = direct[int(t["image_id"])]
            assert torch.equal(img, ref_img) and torch.equal(t["boxes"], ref_t["boxes"]) and torch.equal(t["labels"], ref_t["labels"])
            got += 1
    assert got == 30
    # With framelake's collate a worker's batch arrives as the one shared-memory tensor it was decoded into
    # (no stacking copy), equal to the items read directly.
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate)
    got = 0
    for images, targets in loader:
        assert images.shape == (len(targets), 3, 48, 80) and images.is_shared()
        for img, t in zip(images, targets):
            assert torch.equal(img, direct[int(t["image_id"])][0])
            got += 1
    assert got == 30
    # In a worker (get_worker_info set) __getitems__ decodes into one shared tensor, and collate passes that
    # very tensor on.
    from unittest import mock
    with mock.patch("torch.utils.data.get_worker_info", return_value=object()):
        items = ds.__getitems__([0, 1, 2])
    whole, _ = collate(items)
    assert whole.shape == (3, 3, 48, 80) and whole.is_shared() and whole.data_ptr() == items[0][0].data_ptr()
    assert all(torch.equal(whole[i], ds[i][0]) for i in range(3))
    # Without a size: the first batch in a worker decodes into its own buffer, the next ones into shared
    # memory of the shape that batch had; a batch of larger images than the last falls back.
    full = DetectionDataset(dbpath, "bdd100k", permutation="perm", split="train")
    with mock.patch("torch.utils.data.get_worker_info", return_value=object()):
        first = full.__getitems__([0, 1])
        second = full.__getitems__([2, 3])
        full._shape_hint = (48, 80)  # smaller than the images: the buffer is too small, so no shared memory
        third = full.__getitems__([4])
        full._shape_hint = (200, 300)  # larger: the images are packed at the start of the shared buffer
        fourth = full.__getitems__([5, 6])
    assert not first[0][0].is_shared() and second[0][0].is_shared() and not third[0][0].is_shared() and fourth[1][0].is_shared()
    assert fourth[1][0].shape == (3, 96, 160) and full._shape_hint == (96, 160)
    whole, _ = collate(second)
    assert whole.shape == (2, 3, 96, 160) and whole.data_ptr() == second[0][0].data_ptr()
    plain = DetectionDataset(dbpath, "bdd100k", permutation="perm", split="train")
    for got, k in ((first, 0), (second, 2), (third, 4), (fourth, 5)):
        for j in range(len(got)):
            assert torch.equal(got[j][0], plain[k + j][0]) and int(got[j][1]["image_id"]) == int(plain[k + j][1]["image_id"])
    pair = [ds[0], ds[1]]  # separate tensors: stacked
    stacked, tg = collate(pair)
    assert torch.equal(stacked, torch.stack([pair[0][0], pair[1][0]])) and len(tg) == 2
    # Into a caller's array: the images are that array's memory and keep it alive.
    mine = np.zeros((2, 3, 48, 80), dtype=np.float32)
    got = framelake.read_rows(ds.table(), ds.row_ids[:2], out=mine, **ds.options)
    assert got["images"].ctypes.data == mine.ctypes.data and np.array_equal(got["images"], mine) and float(mine.max()) > 0
    del mine
    assert np.array_equal(got["images"][0], ds[0][0].numpy())
    with pytest.raises(ValueError, match="out must be a writeable C-contiguous array of float32"):
        framelake.read_rows(ds.table(), ds.row_ids[:2], out=np.zeros((2, 3, 48, 80), dtype=np.uint8), **ds.options)
    # Nothing delivered (every image skipped): an empty array of the right type, no NULL access.
    none = framelake.decode_images([b"bad"], size=(80, 48), skip_corrupt=True, normalize=True)
    assert none["images"].shape == (0, 3, 48, 80) and none["images"].dtype == np.float32 and none["skipped"] == 1
    assert framelake.decode_images([], size=(80, 48))["images"].shape == (0, 3, 48, 80)
    # The output buffer must hold the batch.
    small = np.zeros((1, 3, 48, 80), dtype=np.float32)
    with pytest.raises(framelake.Error, match="the output buffer holds 46080 bytes, 2 images of 80x48 need 92160"):
        framelake.read_rows(ds.table(), ds.row_ids[:2], out=small, **ds.options)
    # The table grows; a pickled dataset (as a worker gets it) still reads version 2's rows.
    cli("ingest", "synthetic", dbpath, "--n", "5", "--seed", "4", "--size", "160x96", "--quiet")
    again = pickle.loads(pickle.dumps(ds))
    assert again.table().version == 2 and len(framelake.connect(dbpath).open_table("bdd100k")) == 45
    assert torch.equal(again[3][0], ds[3][0])
    # FastLoader: the same seed gives the same batches; each epoch covers the split once.
    a = FastLoader(dbpath, "bdd100k", permutation="perm", split="train", batch_size=8, threads=2, size=(80, 48), seed=9)
    b = FastLoader(dbpath, "bdd100k", permutation="perm", split="train", batch_size=8, threads=2, size=(80, 48), seed=9)
    ids_a = [int(t["image_id"]) for images, targets in a for t in targets]
    ids_b = [int(t["image_id"]) for images, targets in b for t in targets]
    assert ids_a == ids_b and sorted(ids_a) == sorted(int(x) for x in ds.row_ids)
    images, targets = next(iter(a))
    assert images.shape == (8, 3, 48, 80) and images.dtype == torch.float32
    a.close()
    b.close()
