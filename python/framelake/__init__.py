"""framelake: an embedded multimodal lakehouse for ML data curation.

This package holds the Python side of framelake. Today it provides `framelake.udf`, the helper for
writing UDF worker processes in Python (docs/UDF_PROTOCOL.md), and `framelake.workers`, two real workers
(OpenCV HOG and torchvision Faster R-CNN person detectors). The ctypes binding over libframelake.so
comes with the training issue (docs/PYTHON.md).
"""
