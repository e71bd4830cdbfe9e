"""PyTorch over framelake tables and views (docs/PYTHON.md).

- DetectionDataset: a map-style Dataset following torchvision's detection convention: an item is
  (image float32 C x H x W in [0, 1], {"boxes": float32 [n, 4] x1 y1 x2 y2, "labels": int64 [n], "image_id":
  int64 row id}). Batched access (__getitems__) decodes a whole batch in C. Picklable: each DataLoader worker
  reopens the table at the same version.
- FastLoader: drives the C loader's decoding threads directly and yields (images [B, 3, H, W] float32,
  targets) per batch, zero-copy over the C buffers; no Python worker processes.

Both read one version: a permutation's source version when a permutation is given, else the version of the
table when the object was made, so every item and every epoch sees exactly the same rows.
"""

import numpy as np
import torch

from . import db as fldb

# BDD100K's det_20 detection classes; label i + 1 is CATEGORIES[i] (0 is the background).
CATEGORIES = ("pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle", "traffic light", "traffic sign")


def _resolve(db, view, permutation, split, version):
    """(database path, view, version, row ids) for a dataset."""
    database = db if isinstance(db, fldb.Database) else fldb.connect(db)
    if permutation is not None:
        perm = permutation if isinstance(permutation, fldb.Permutation) else database.permutation(permutation)
        if perm.source != view:
            raise fldb.Error(1, f"permutation of '{perm.source}' used with '{view}'")
        version = version or perm.source_version
        rows = perm.split(split)
    else:
        table = database.open_table(view, version=version)
        version = table.version
        rows = table.row_ids()
        table.close()
    return database.path, version, np.asarray(rows, dtype=np.uint64)


def _targets(batch):
    """Per-row target dicts whose tensors are views of three batch-wide tensors (boxes, labels, ids): sent
    between processes, a batch's targets then move as three shared-memory segments, not three per row."""
    offs = batch["box_offsets"]
    boxes = torch.from_numpy(np.asarray(batch["all_boxes"], dtype=np.float32).reshape(-1, 4))
    labels = torch.from_numpy(np.asarray(batch["all_labels"], dtype=np.int64))
    ids = torch.from_numpy(np.asarray(batch["row_ids"]).astype(np.int64))
    return [{"boxes": boxes[offs[i]:offs[i + 1]], "labels": labels[offs[i]:offs[i + 1]], "image_id": ids[i]} for i in range(len(ids))]


class DetectionDataset(torch.utils.data.Dataset):
    """Rows of a table or view (all of them, or a permutation's split) as detection samples."""

    def __init__(self, db, view, permutation=None, split=None, version=None, categories=CATEGORIES, size=None, scale=None,
                 transforms=None, image_column="image_bytes", boxes_column="ann_bboxes", labels_column="ann_categories"):
        self.path, self.version, self.row_ids = _resolve(db, view, permutation, split, version)
        self.view = view
        self.transforms = transforms
        self.options = dict(image_column=image_column, boxes_column=boxes_column, labels_column=labels_column, categories=list(categories),
                            size=size, scale=scale, layout="chw", normalize=True, mean=(0, 0, 0), std=(1, 1, 1))
        self._table = None
        self._shape_hint = None  # (H, W) of the last batch, without a size

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_table"] = None  # reopened in each process, at self.version
        return state

    def table(self):
        if self._table is None:
            self._table = fldb.connect(self.path).open_table(self.view, version=self.version)
        return self._table

    def __len__(self):
        return len(self.row_ids)

    def __getitems__(self, indices):
        rows = self.row_ids[np.asarray(indices, dtype=np.int64)]
        size, out = self.options["size"], None
        # In a DataLoader worker the images are decoded straight into shared memory: the batch then goes to the
        # main process without a copy (collate() keeps it one tensor). Without a size, the shape is the one
        # the worker's previous batch had (images of one source usually share it); a larger one falls back.
        shape = (size[1], size[0]) if size else self._shape_hint
        if shape and torch.utils.data.get_worker_info() is not None:
            out = torch.empty((len(rows), 3, shape[0], shape[1]), dtype=torch.float32).share_memory_()
        try:
            batch = fldb.read_rows(self.table(), rows, out=out, **self.options)
        except fldb.Error as e:
            if out is None or size or e.code != fldb.N.EINVAL:  # only a buffer too small for larger images
                raise
            out = None
            batch = fldb.read_rows(self.table(), rows, **self.options)
        n, _, h, w = batch["images"].shape
        if not size:
            self._shape_hint = (h, w)
        # (smaller images than the buffer's are packed at its start)
        images = out.view(-1)[:n * 3 * h * w].view(n, 3, h, w) if out is not None else torch.from_numpy(batch["images"])
        items = list(zip(images.unbind(0), _targets(batch)))
        if self.transforms is not None:
            items = [self.transforms(img, tgt) for img, tgt in items]
        return items

    def __getitem__(self, index):
        return self.__getitems__([index])[0]


def collate(items):
    """A DataLoader collate_fn for DetectionDataset: (images [B, 3, H, W], list of target dicts). Images that
    are the rows of one batch tensor in order (what __getitems__ gives in a worker) are passed on as that
    tensor, without stacking them into a copy; others are stacked."""
    images = [img for img, _ in items]
    base = images[0]._base if images else None
    if (base is not None and base.dim() == 4 and base.shape[0] == len(images) and base.is_contiguous()
            and all(img._base is base and img.data_ptr() == base[i].data_ptr() for i, img in enumerate(images))):
        stacked = base
    else:
        stacked = torch.stack(images) if images else torch.empty(0)
    return stacked, [tgt for _, tgt in items]


class FastLoader:
    """Batches straight from the C loader: iterate once per epoch. Options as fl_loader_options: batch_size,
    threads, prefetch, shuffle, seed (epoch e uses seed + e), rank, world_size, size=(w, h), scale=(num,
    denom), start_epoch, start_batch, skip_corrupt."""

    def __init__(self, db, view, permutation=None, split=None, version=None, categories=CATEGORIES, batch_size=2, threads=0, prefetch=0,
                 shuffle=True, seed=0, rank=0, world_size=1, size=None, scale=None, start_epoch=0, start_batch=0, skip_corrupt=False,
                 image_column="image_bytes", boxes_column="ann_bboxes", labels_column="ann_categories"):
        self.path, self.version, self.row_ids = _resolve(db, view, permutation, split, version)
        self.view = view
        self._table = fldb.connect(self.path).open_table(view, version=self.version)
        self._loader = fldb.Loader(self._table, self.row_ids, image_column=image_column, boxes_column=boxes_column,
                                   labels_column=labels_column, categories=list(categories), batch_size=batch_size, threads=threads,
                                   prefetch=prefetch, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, size=size, scale=scale,
                                   start_epoch=start_epoch, start_batch=start_batch, layout="chw", normalize=True, mean=(0, 0, 0),
                                   std=(1, 1, 1), skip_corrupt=skip_corrupt)
        self.skipped = 0

    def __len__(self):
        return len(self._loader)

    def __iter__(self):
        for batch in self._loader:
            self.skipped += batch["skipped"]
            yield torch.from_numpy(batch["images"]), _targets(batch)

    def close(self):
        self._loader.close()
        self._table.close()
