"""The Python side of external UDFs: framelake.udf's protocol encoder/decoder round-trips every type, and
the two shipped workers (OpenCV HOG, torchvision Faster R-CNN) answer exactly what the same detector
computes when run directly here, driven through real pipes by framelake.udf.Host.

Run: PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python
"""
import glob
import os
import struct
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
    ("int8", [-128, 127, None, 0]),
    ("int16", [-32768, 32767, None]),
    ("int32", [-2 ** 31, 2 ** 31 - 1, None]),
    ("int64", [1, None, -(2 ** 62), 7]),
    ("uint8", [0, 255, None]),
    ("uint16", [0, 65535]),
    ("uint32", [0, 2 ** 32 - 1, None]),
    ("uint64", [0, 2 ** 64 - 1, None]),
    ("float32", [1.5, None, -0.25]),
    ("float64", [3.141592653589793, 2.0]),
    ("bool", [True, False, None, True, True, False, False, True, True]),
    ("string", ["night rainy scene", "", None, "caf\u00e9"]),
    ("binary", [b"\xff\xd8\x00", None, b""]),
    ("timestamp", [1700000000000, None]),
    ("list<string>", [["car", "rider"], [], None, ["a", None]]),
    ("list<list<float32>>", [[[1.0, 2.0], [5.5]], None, [[]]]),
    ("fixed_size_list<uint8, 8>", [[1, 2, 3, 4, 5, 6, 7, 255], None]),
    ("fixed_size_list<float32, 3>", [[0.5, -1.0, 2.0], [None, 1.0, None]]),
    ("list<fixed_size_list<int16, 2>>", [[[1, 2], [3, -4]], [], None]),
    ("struct<a: int32, b: string>", [{"a": 1, "b": "z"}, None, {"a": None, "b": None}]),
])
def test_column_roundtrip(typ, values):
    t = udf.parse_type(typ)
    got = udf.decode_column(udf.encode_column(values, t), t).to_list()
    if typ == "struct<a: int32, b: string>":
        values = [v if v is None else v for v in values]
    assert got == values


def test_numpy_arrays_encode_like_lists():
    for typ, arr in [("float32", np.array([1.5, -2.0], np.float32)), ("int32", np.array([7, -7], np.int64)),
                     ("uint64", np.array([2 ** 64 - 1], np.uint64)), ("timestamp", np.array([1700000000000]))]:
        t = udf.parse_type(typ)
        assert udf.encode_column(arr, t) == udf.encode_column(arr.tolist(), t)
        assert udf.decode_column(udf.encode_column(arr, t), t).to_list() == arr.tolist()
    with pytest.raises(ValueError, match="300 does not fit uint8"):
        udf.encode_column(np.array([1, 300]), udf.parse_type("uint8"))
    with pytest.raises(ValueError, match="-1 does not fit uint64"):
        udf.encode_column(np.array([-1, 5]), udf.parse_type("uint64"))


def _serve(worker, batches, fields):
    """Runs worker's main loop in-process on HELLO + BATCH frames + BYE; -> the answers as (kind, payload)."""
    import io
    inp, out = io.BytesIO(), io.BytesIO()
    udf.write_frame(inp, udf.HELLO, struct.pack("<III", udf.PROTOCOL_VERSION, 0, 0))
    for seq, columns in enumerate(batches, 1):
        n = len(columns[0])
        udf.write_frame(inp, udf.BATCH, udf.encode_batch(seq, range(n), columns, [t for _, t in fields]))
    udf.write_frame(inp, udf.BYE)
    inp.seek(0)
    assert udf.run(worker, inp, out) == 0
    out.seek(0)
    answers = []
    while (frame := udf.read_frame(out)) is not None:
        answers.append(frame)
    return answers


class _BadPixel(Exception):
    def __init__(self, row):
        super().__init__("pixel out of range")
        self.row = np.int64(row)  # any integer type names the row


class _Picky(udf.UDF):
    name, version, inputs, output_type = "picky", 1, "x int64", "int64"

    def __call__(self, batch):
        xs = batch["x"]
        if -1 in xs:
            raise _BadPixel(xs.index(-1))
        if -2 in xs:
            raise udf.RowError(xs.index(-2), "minus two")
        if -3 in xs:
            raise KeyError("no row attribute")
        return [x * 2 for x in xs]


def test_errors_name_their_row():
    fields = udf.parse_fields(_Picky.inputs)
    answers = _serve(_Picky(), [[[1, 2]], [[5, -1, 6]], [[-2]], [[0, -3]]], fields)
    kinds = [k for k, _ in answers]
    assert kinds == [udf.HELLO_REPLY, udf.RESULT, udf.ERROR, udf.ERROR, udf.ERROR]
    seq, col = struct.unpack("<Q", answers[1][1][:8])[0], answers[1][1][8:]
    assert seq == 1 and udf.decode_column(col, udf.parse_type("int64")).to_list() == [2, 4]

    def error(payload):
        row = struct.unpack("<q", payload[:8])[0]
        n = struct.unpack("<I", payload[8:12])[0]
        return row, payload[12:12 + n].decode()
    assert error(answers[2][1]) == (1, "_BadPixel: pixel out of range")
    assert error(answers[3][1]) == (0, "minus two")
    assert error(answers[4][1]) == (-1, "KeyError: 'no row attribute'")


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
