"""Write a framelake UDF as a worker process in Python (numpy only).

A worker is a program that framelake starts with `--udf "exec:COMMAND"` and talks to over stdin/stdout
with the binary protocol of docs/UDF_PROTOCOL.md. With this module a worker is a few lines::

    import numpy as np
    from framelake import udf

    class Brightness(udf.UDF):
        name = "py_brightness"
        version = 1
        inputs = "image_bytes binary"
        output_type = "float32"

        def setup(self, params):          # once per worker process: load a model here
            self.scale = float(params.get("scale", "1"))

        def __call__(self, batch):        # one batch in, one value per row out (None = NULL)
            return [None if b is None else self.scale * len(b) for b in batch["image_bytes"]]

    if __name__ == "__main__":
        udf.run(Brightness())

Columns arrive as Python lists (bytes for binary, str for string, nested lists for list types, None for
NULL); `batch.numpy(name)` gives a fixed-width column as a numpy array with a validity mask, and
`batch.row_ids` the rows' stable ids. The result may be a list or a numpy array of the declared output
type. An exception fails the batch (framelake then retries row by row to find the failing rows); raising
`udf.RowError(index, message)`, or any exception with an integer `row` attribute (an index into the
batch), names the row directly.

The module is also the protocol's reference implementation in Python: `encode_column`, `decode_column`,
`read_frame`, `write_frame` and `Host` (the framelake side, for tests) are public.
"""

import operator
import os
import struct
import sys

import numpy as np

PROTOCOL_VERSION = 1
MAX_FRAME = 1 << 30
HELLO, HELLO_REPLY, BATCH, RESULT, ERROR, BYE = 1, 2, 3, 4, 5, 6
HELLO_DECLARE_ONLY = 1  # HELLO flag: reply with the declaration, do not set up (framelake only resolves)

# framelake's type ids (include/framelake.h, fl_type_id)
BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FLOAT32, FLOAT64 = range(1, 12)
STRING, BINARY, TIMESTAMP, LIST, FIXED_SIZE_LIST, STRUCT = range(12, 18)

_DTYPES = {INT8: "<i1", INT16: "<i2", INT32: "<i4", INT64: "<i8", UINT8: "<u1", UINT16: "<u2", UINT32: "<u4",
           UINT64: "<u8", FLOAT32: "<f4", FLOAT64: "<f8", TIMESTAMP: "<i8"}
_NAMES = {"bool": BOOL, "int8": INT8, "int16": INT16, "int32": INT32, "int64": INT64, "uint8": UINT8,
          "uint16": UINT16, "uint32": UINT32, "uint64": UINT64, "float32": FLOAT32, "float": FLOAT32,
          "float64": FLOAT64, "double": FLOAT64, "string": STRING, "utf8": STRING, "binary": BINARY,
          "blob": BINARY, "timestamp": TIMESTAMP, "timestamp_ms": TIMESTAMP}


class ProtocolError(Exception):
    """Bytes that do not follow docs/UDF_PROTOCOL.md."""


class RowError(Exception):
    """Raise from __call__ to fail the batch naming the row (an index into the batch)."""

    def __init__(self, row, message):
        super().__init__(message)
        self.row = row


# ---- types ----

class Type:
    """A parsed type: id, fixed size (fixed_size_list) and children (list, fixed_size_list, struct)."""

    def __init__(self, tid, fixed=0, children=(), names=()):
        self.id, self.fixed, self.children, self.names = tid, fixed, list(children), list(names)


def _split_top(text, sep=","):
    depth, start, out = 0, 0, []
    for i, c in enumerate(text):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def parse_type(text):
    """'list<list<float32>>' -> Type. Understands framelake's type syntax."""
    t = text.strip()
    low = t.lower()
    if low in _NAMES:
        return Type(_NAMES[low])
    if low.startswith("list<") and low.endswith(">"):
        return Type(LIST, children=[parse_type(t[5:-1])])
    if low.startswith("fixed_size_list<") and low.endswith(">"):
        inner, size = _split_top(t[16:-1])
        return Type(FIXED_SIZE_LIST, int(size), [parse_type(inner)])
    if low.startswith("struct<") and low.endswith(">"):
        names, kids = [], []
        for member in _split_top(t[7:-1]):
            name, _, typ = member.partition(":")
            names.append(name.strip().strip('"'))
            kids.append(parse_type(typ))
        return Type(STRUCT, children=kids, names=names)
    raise ValueError("unknown type %r" % text)


def parse_fields(text):
    """'a binary, b list<string>' -> [(name, Type)]."""
    out = []
    for entry in _split_top(text):
        name, _, typ = entry.strip().partition(" ")
        out.append((name.strip('"'), parse_type(typ)))
    return out


# ---- columns ----

def _bitmap(bits):
    return np.packbits(np.asarray(bits, dtype=bool), bitorder="little").tobytes()


def _unbitmap(data, n):
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n, bitorder="little").astype(bool)


def encode_column(values, typ):
    """A list (None = NULL) or numpy array of `typ` -> protocol bytes."""
    if isinstance(values, np.ndarray) and typ.id in _DTYPES and (values.dtype.kind in "iub" or np.dtype(_DTYPES[typ.id]).kind == "f"):
        dt = np.dtype(_DTYPES[typ.id])
        if dt.kind != "f" and len(values) and values.dtype != dt:
            info = np.iinfo(dt)  # no silent wrap-around: 300 is not a uint8
            lo, hi = int(values.min()), int(values.max())
            if lo < info.min or hi > info.max:
                raise ValueError("%d does not fit %s" % (lo if lo < info.min else hi, dt))
        return struct.pack("<BIQB", typ.id, typ.fixed, len(values), 0) + values.astype(dt, copy=False).tobytes()
    values = list(values)
    n = len(values)
    valid = [v is not None for v in values]
    has_nulls = not all(valid)
    out = [struct.pack("<BIQB", typ.id, typ.fixed, n, 1 if has_nulls else 0)]
    if has_nulls:
        out.append(_bitmap(valid))
    if typ.id == BOOL:
        out.append(_bitmap([bool(v) if v is not None else False for v in values]))
    elif typ.id in _DTYPES:
        dt = np.dtype(_DTYPES[typ.id])
        filled = [v if v is not None else 0 for v in values]
        arr = np.array(filled, dtype=np.float64 if dt.kind == "f" else object)
        if dt.kind != "f":
            info = np.iinfo(dt)
            for v in filled:
                if not info.min <= int(v) <= info.max:
                    raise ValueError("%r does not fit %s" % (v, dt))
            arr = np.array([int(v) for v in filled], dtype=dt)
        out.append(arr.astype(dt).tobytes())
    elif typ.id in (STRING, BINARY):
        blobs = [(v.encode() if isinstance(v, str) else bytes(v)) if v is not None else b"" for v in values]
        offsets = np.zeros(n + 1, dtype="<i8")
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        out.append(offsets.tobytes())
        out.append(b"".join(blobs))
    elif typ.id == LIST:
        items = [list(v) if v is not None else [] for v in values]
        offsets = np.zeros(n + 1, dtype="<i8")
        np.cumsum([len(i) for i in items], out=offsets[1:])
        out.append(offsets.tobytes())
        out.append(encode_column([x for i in items for x in i], typ.children[0]))
    elif typ.id == FIXED_SIZE_LIST:
        flat = []
        for v in values:
            v = [None] * typ.fixed if v is None else list(v)
            if len(v) != typ.fixed:
                raise ValueError("a fixed_size_list<_, %d> value of %d items" % (typ.fixed, len(v)))
            flat.extend(v)
        child = typ.children[0]
        if child.id in _DTYPES and all(x is not None for x in flat):
            out.append(encode_column(np.array(flat, dtype=_DTYPES[child.id]), child))
        else:
            out.append(encode_column(flat, child))
    elif typ.id == STRUCT:
        out.append(struct.pack("<I", len(typ.children)))
        for k, (name, child) in enumerate(zip(typ.names, typ.children)):
            out.append(encode_column([None if v is None else (v[name] if isinstance(v, dict) else v[k]) for v in values], child))
    else:
        raise ValueError("cannot encode type id %d" % typ.id)
    return b"".join(out)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = memoryview(data), 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError("truncated frame")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def string(self):
        (n,) = self.unpack("<I")
        return bytes(self.take(n)).decode()


def _decode(r, typ):
    tid, fixed, n, has_nulls = r.unpack("<BIQB")
    if tid != typ.id or (tid == FIXED_SIZE_LIST and fixed != typ.fixed):
        raise ProtocolError("column of type id %d where %d was declared" % (tid, typ.id))
    valid = _unbitmap(r.take((n + 7) // 8), n) if has_nulls else None
    if tid == BOOL:
        vals = [bool(b) for b in _unbitmap(r.take((n + 7) // 8), n)]
        data = None
    elif tid in _DTYPES:
        data = np.frombuffer(r.take(n * np.dtype(_DTYPES[tid]).itemsize), dtype=_DTYPES[tid])
        vals = None
    elif tid in (STRING, BINARY):
        offsets = np.frombuffer(r.take((n + 1) * 8), dtype="<i8")
        blob = bytes(r.take(int(offsets[-1])))
        vals = [blob[offsets[i]:offsets[i + 1]] for i in range(n)]
        if tid == STRING:
            vals = [v.decode() for v in vals]
        data = None
    elif tid == LIST:
        offsets = np.frombuffer(r.take((n + 1) * 8), dtype="<i8")
        child = _decode(r, typ.children[0])
        items = child.to_list()
        vals = [items[offsets[i]:offsets[i + 1]] for i in range(n)]
        data = None
    elif tid == FIXED_SIZE_LIST:
        child = _decode(r, typ.children[0])
        items = child.to_list()
        vals = [items[i * fixed:(i + 1) * fixed] for i in range(n)]
        data = None
    elif tid == STRUCT:
        (k,) = r.unpack("<I")
        kids = [_decode(r, c).to_list() for c in typ.children[:k]]
        vals = [dict(zip(typ.names, row)) for row in zip(*kids)] if k else [{}] * n
        data = None
    else:
        raise ProtocolError("unknown type id %d" % tid)
    return Column(typ, n, valid, data, vals)


def decode_column(data, typ):
    """Protocol bytes -> Column (the whole payload must be one column)."""
    r = _Reader(data)
    col = _decode(r, typ)
    if r.pos != len(r.data):
        raise ProtocolError("bytes after the column")
    return col


class Column:
    """A decoded column: `to_list()` (None = NULL) or, for fixed-width types, `numpy()` -> (values, valid)."""

    def __init__(self, typ, n, valid, data, values):
        self.type, self.n, self.valid, self._data, self._values = typ, n, valid, data, values

    def __len__(self):
        return self.n

    def numpy(self):
        if self._data is None:
            raise TypeError("numpy() is for fixed-width columns")
        return self._data, (self.valid if self.valid is not None else np.ones(self.n, dtype=bool))

    def to_list(self):
        vals = self._values if self._values is not None else self._data.tolist()
        if self.valid is None:
            return list(vals)
        return [v if ok else None for v, ok in zip(vals, self.valid)]


class Batch:
    """The rows of one BATCH frame: `batch[name]` is a list, `batch.numpy(name)` (values, valid)."""

    def __init__(self, names, columns, row_ids):
        self._cols = dict(zip(names, columns))
        self.names = list(names)
        self.row_ids = row_ids

    def __len__(self):
        return len(self.row_ids)

    def __getitem__(self, name):
        return self._cols[name].to_list()

    def numpy(self, name):
        return self._cols[name].numpy()


# ---- frames ----

def write_frame(out, kind, payload=b""):
    if len(payload) + 1 > MAX_FRAME:
        raise ProtocolError("frame too large")
    out.write(struct.pack("<IB", len(payload) + 1, kind))
    out.write(payload)
    out.flush()


def _read_exact(inp, n):
    chunks, left = [], n
    while left:
        b = inp.read(left)
        if not b:
            return None
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def read_frame(inp):
    """-> (kind, payload), or None at end of input."""
    head = _read_exact(inp, 5)
    if head is None:
        return None
    n, kind = struct.unpack("<IB", head)
    if n < 1 or n > MAX_FRAME:
        raise ProtocolError("frame length %d out of range" % n)
    payload = _read_exact(inp, n - 1)
    if payload is None:
        raise ProtocolError("truncated frame")
    return kind, payload


def _s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b


def encode_batch(seq, row_ids, columns, types):
    parts = [struct.pack("<QQ", seq, len(row_ids)), np.asarray(row_ids, dtype="<u8").tobytes(), struct.pack("<I", len(columns))]
    parts += [encode_column(c, t) for c, t in zip(columns, types)]
    return b"".join(parts)


def decode_batch(payload, fields):
    r = _Reader(payload)
    seq, n = r.unpack("<QQ")
    row_ids = np.frombuffer(r.take(8 * n), dtype="<u8")
    (k,) = r.unpack("<I")
    if k != len(fields):
        raise ProtocolError("batch of %d columns for %d declared inputs" % (k, len(fields)))
    cols = [_decode(r, t) for _, t in fields]
    if r.pos != len(r.data):
        raise ProtocolError("bytes after the batch")
    return seq, Batch([name for name, _ in fields], cols, row_ids)


# ---- the worker ----

class UDF:
    """Base class of a Python UDF: set name, version, inputs, output_type; override setup and __call__."""
    name = None
    version = 1
    inputs = None
    output_type = None
    description = ""

    def setup(self, params):
        """Called once per worker process with the column's --param values (a dict of strings)."""

    def __call__(self, batch):
        raise NotImplementedError


def run(udf, stdin=None, stdout=None):
    """The worker's main loop: handshake, then one RESULT or ERROR per BATCH until BYE or end of input."""
    if stdout is None:
        # The protocol owns file descriptor 1; anything else printing (print(), C libraries) goes to stderr.
        stdout = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    if stdin is None:
        stdin = os.fdopen(os.dup(0), "rb")
    frame = read_frame(stdin)
    if frame is None or frame[0] != HELLO:
        raise ProtocolError("expected HELLO")
    r = _Reader(frame[1])
    (version, flags, n) = r.unpack("<III")
    params = {}
    for _ in range(n):
        k = r.string()
        params[k] = r.string()
    if version != PROTOCOL_VERSION:
        write_frame(stdout, ERROR, struct.pack("<q", -1) + _s("worker speaks protocol %d, host %d" % (PROTOCOL_VERSION, version)))
        return 1
    try:
        fields = parse_fields(udf.inputs)
        out_type = parse_type(udf.output_type)
        if not flags & HELLO_DECLARE_ONLY:
            udf.setup(params)
    except Exception as e:  # refuse to start, with the reason
        write_frame(stdout, ERROR, struct.pack("<q", -1) + _s("%s: %s" % (type(e).__name__, e)))
        return 1
    write_frame(stdout, HELLO_REPLY, struct.pack("<I", PROTOCOL_VERSION) + _s(udf.name) + struct.pack("<I", udf.version)
                + _s(udf.inputs) + _s(udf.output_type) + _s(udf.description or ""))
    while True:
        frame = read_frame(stdin)
        if frame is None or frame[0] == BYE:
            return 0
        if frame[0] != BATCH:
            raise ProtocolError("unexpected frame kind %d" % frame[0])
        seq, batch = decode_batch(frame[1], fields)
        try:
            values = udf(batch)
            if len(values) != len(batch):
                raise ValueError("returned %d values for %d rows" % (len(values), len(batch)))
            payload = struct.pack("<Q", seq) + encode_column(values, out_type)
        except Exception as e:
            message = str(e) if isinstance(e, RowError) else "%s: %s" % (type(e).__name__, e)
            write_frame(stdout, ERROR, struct.pack("<q", _error_row(e, len(batch))) + _s(message))
            continue
        write_frame(stdout, RESULT, payload)


def _error_row(exc, n_rows):
    """The batch index an exception names through its `row` attribute, or -1."""
    row = getattr(exc, "row", None)
    if row is None or isinstance(row, bool):
        return -1
    try:
        row = operator.index(row)
    except TypeError:
        return -1
    return row if 0 <= row < n_rows else -1


class Host:
    """The framelake side of the protocol, for tests and tools: starts a worker command and sends batches."""

    def __init__(self, argv, params=None, env=None):
        import subprocess
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        payload = struct.pack("<III", PROTOCOL_VERSION, 0, len(params or {}))
        for k, v in (params or {}).items():
            payload += _s(k) + _s(v)
        write_frame(self.proc.stdin, HELLO, payload)
        kind, reply = read_frame(self.proc.stdout)
        if kind == ERROR:
            r = _Reader(reply)
            r.unpack("<q")
            raise RuntimeError(r.string())
        r = _Reader(reply)
        (self.protocol,) = r.unpack("<I")
        self.name = r.string()
        (self.version,) = r.unpack("<I")
        self.inputs = r.string()
        self.output_type = r.string()
        self.fields = parse_fields(self.inputs)
        self.out_type = parse_type(self.output_type)
        self.seq = 0

    def call(self, columns, row_ids=None):
        """columns: one list/array per declared input -> list of values (None = NULL)."""
        n = len(columns[0]) if columns else 0
        self.seq += 1
        write_frame(self.proc.stdin, BATCH, encode_batch(self.seq, row_ids if row_ids is not None else range(n), columns,
                                                         [t for _, t in self.fields]))
        kind, payload = read_frame(self.proc.stdout)
        r = _Reader(payload)
        if kind == ERROR:
            (row,) = r.unpack("<q")
            raise RowError(row, r.string())
        (seq,) = r.unpack("<Q")
        if kind != RESULT or seq != self.seq:
            raise ProtocolError("unexpected answer")
        return decode_column(bytes(r.take(len(r.data) - r.pos)), self.out_type).to_list()

    def close(self):
        try:
            write_frame(self.proc.stdin, BYE)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        return self.proc.wait(timeout=10)
