"""framelake: an embedded multimodal lakehouse for ML data curation.

This package holds the Python side of framelake (docs/PYTHON.md):

- `framelake.connect(path)` and the ctypes binding over libframelake.so (`framelake.db`: tables at a
  version, counts, queries, takes, search, permutations, the C data loader);
- `framelake.torch`: a map-style DetectionDataset and the FastLoader that drives the C loader's threads;
- `framelake.udf`, the helper for writing UDF worker processes (docs/UDF_PROTOCOL.md), and
  `framelake.workers`, two real workers (OpenCV HOG and torchvision Faster R-CNN person detectors).

The binding loads the shared library only when first used, so UDF workers need nothing but numpy.
"""

_BINDING = ("connect", "Database", "Table", "Permutation", "Loader", "Error", "read_rows", "decode_images")


def __getattr__(name):
    if name in _BINDING:
        from . import db
        return getattr(db, name)
    raise AttributeError(f"module 'framelake' has no attribute '{name}'")
