"""The Python side of external UDFs: framelake.udf's protocol encoder/decoder round-trips every type, and
the two shipped workers (OpenCV HOG, torchvision Faster R-CNN) answer exactly what the same detector
computes when run directly here, driven through real pipes by framelake.udf.Host.

Run: PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python
"""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from framelake import udf  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), OMP_NUM_THREADS="1")
FRAMELAKE = os.environ.get("FRAMELAKE", os.path.join(ROOT, "build", "framelake"))


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Four synthetic 640x360 dashcam JPEGs drawn by `framelake synthesize` (pedestrians, riders, cars)."""
    out = tmp_path_factory.mktemp("frames") / "bdd"
    subprocess.run([FRAMELAKE, "synthesize", str(out), "--n", "4", "--size", "640x360", "--seed", "5"], check=True, capture_output=True)
    paths = sorted(glob.glob(str(out / "images" / "100k" / "*" / "*.jpg")))
    assert len(paths) == 4
    return [open(p, "rb").read() for p in paths]


@pytest.mark.parametrize("typ,values", [
    ("int64", [1, None, -(2 ** 62), 7]),
    ("uint8", [0, 255, None]),
    ("float32", [1.5, None, -0.25]),
    ("float64", [3.141592653589793, 2.0]),
    ("bool", [True, False, None, True, True, False, False, True, True]),
    ("string", ["night rainy scene", "", None, "caf\u00e9"]),
    ("binary", [b"\xff\xd8\x00", None, b""]),
    ("timestamp", [1700000000000, None]),
    ("list<string>", [["car", "rider"], [], None, ["a", None]]),
    ("list<list<float32>>", [[[1.0, 2.0], [5.5]], None, [[]]]),
    ("fixed_size_list<uint8, 8>", [[1, 2, 3, 4, 5, 6, 7, 255], None]),
    ("struct<a: int32, b: string>", [{"a": 1, "b": "z"}, None, {"a": None, "b": None}]),
])
def test_column_roundtrip(typ, values):
    t = udf.parse_type(typ)
    got = udf.decode_column(udf.encode_column(values, t), t).to_list()
    if typ == "struct<a: int32, b: string>":
        values = [v if v is None else v for v in values]
    assert got == values


def test_decoder_rejects_bad_bytes():
    t = udf.parse_type("int64")
    good = udf.encode_column([1, 2], t)
    with pytest.raises(udf.ProtocolError):
        udf.decode_column(good[:-1], t)
    with pytest.raises(udf.ProtocolError):
        udf.decode_column(good + b"\0", t)
    with pytest.raises(udf.ProtocolError):
        udf.decode_column(good, udf.parse_type("int32"))


def test_echo_worker_params():
    h = udf.Host([sys.executable, os.path.join(ROOT, "tests", "workers", "echo.py")], params={"scale": "3"}, env=ENV)
    assert (h.name, h.version, h.inputs, h.output_type) == ("echo", 2, "x int64", "int64")
    assert h.call([[1, None, 5]]) == [3, None, 15]
    assert h.close() == 0


def test_hog_worker_matches_opencv(frames):
    import cv2
    h = udf.Host([sys.executable, "-m", "framelake.workers.hog_person"], params={"max_side": "320"}, env=ENV)
    assert (h.name, h.output_type, h.inputs) == ("hog_person_area_pct", "float32", "image_bytes binary")
    got = h.call([frames + [None]])
    assert h.close() == 0
    # the same detector, run here
    cv2.setNumThreads(1)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    want = []
    for jpeg in frames:
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (320, 180), interpolation=cv2.INTER_AREA)
        rects, _ = hog.detectMultiScale(img, hitThreshold=0, winStride=(8, 8), padding=(8, 8), scale=1.05)
        best = max((int(w) * int(hh) for (_, _, w, hh) in rects), default=0)
        want.append(float(np.float32(100.0 * best / (320 * 180))))
    assert got == want + [None]
    assert all(0.0 <= v <= 100.0 for v in got[:-1])


def test_hog_worker_bad_image():
    h = udf.Host([sys.executable, "-m", "framelake.workers.hog_person"], env=ENV)
    with pytest.raises(udf.RowError) as e:
        h.call([[b"not a jpeg"]])
    assert "cannot decode the image (10 bytes)" in str(e.value)
    h.close()


def test_frcnn_worker_matches_model(frames, tmp_path):
    import torch
    from framelake.workers import frcnn_detector as fd
    torch.manual_seed(0)
    model = fd.build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 3)
    weights = tmp_path / "frcnn.pt"
    torch.save(model.state_dict(), weights)
    model.eval()
    torch.set_num_threads(1)
    want = [float(np.float32(v)) for v in fd.person_area_pcts(model, [fd.decode(f) for f in frames], 1, 0.0)]
    h = udf.Host([sys.executable, "-m", "framelake.workers.frcnn_detector"],
                 params={"weights": str(weights), "num_classes": "3", "score_threshold": "0"}, env=ENV)
    assert h.name == "frcnn_person_area_pct"
    got = h.call([frames[:2] + [None] + frames[2:]])
    assert h.close() == 0
    assert got == want[:2] + [None] + want[2:]


def test_frcnn_worker_needs_weights():
    with pytest.raises(RuntimeError) as e:
        udf.Host([sys.executable, "-m", "framelake.workers.frcnn_detector"], env=ENV)
    assert "--param weights=PATH is required" in str(e.value)
