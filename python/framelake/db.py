"""The ctypes binding over libframelake.so: databases, tables at a version, counts, queries, takes, search,
permutations, and the C data loader (docs/PYTHON.md).

Values come back as Python data: a query is a dict of column name -> numpy array (numbers, booleans,
timestamps; masked where NULL; fixed-size lists as 2-D arrays) or list (strings, bytes, lists, structs; None
where NULL), or a list of row dicts with as_rows=True.
"""

import ctypes

import numpy as np

from . import _native as N


class Error(Exception):
    """An error reported by libframelake: `code` is the FL_E* number, the message says what and where."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check(rc, err):
    if rc != N.OK:
        raise Error(rc, err.message.decode("utf-8", "replace"))


def _names(items):
    """A C array of char* for a list of str (kept alive by the caller holding the returned tuple)."""
    if not items:
        return None, 0, []
    enc = [s.encode() for s in items]
    arr = (ctypes.c_char_p * len(enc))(*enc)
    return arr, len(enc), enc


# ---- arrays and batches into Python values ----

_NUMPY = {N.TYPE_INT8: np.int8, N.TYPE_INT16: np.int16, N.TYPE_INT32: np.int32, N.TYPE_INT64: np.int64, N.TYPE_UINT8: np.uint8,
          N.TYPE_UINT16: np.uint16, N.TYPE_UINT32: np.uint32, N.TYPE_UINT64: np.uint64, N.TYPE_FLOAT32: np.float32,
          N.TYPE_FLOAT64: np.float64, N.TYPE_TIMESTAMP_MS: np.int64}


def _valid(arr, n):
    if not arr.null_count or not arr.validity:
        return None
    bits = np.ctypeslib.as_array(arr.validity, ((n + 7) // 8,))
    return np.unpackbits(bits, bitorder="little")[:n].astype(bool)


def _as_numpy(arr, start, count):
    if arr.type == N.TYPE_BOOL:
        nbytes = (start + count + 7) // 8
        bits = np.ctypeslib.as_array(ctypes.cast(arr.values, ctypes.POINTER(ctypes.c_uint8)), (max(nbytes, 1),))
        return np.unpackbits(bits, bitorder="little")[start:start + count].astype(bool)
    dtype = np.dtype(_NUMPY[arr.type])
    if count == 0:
        return np.zeros(0, dtype)
    buf = (ctypes.c_char * (count * dtype.itemsize)).from_address(arr.values + start * dtype.itemsize)
    return np.frombuffer(buf, dtype).copy()


def _convert(arr, field):
    """One fl_array as a numpy array (scalars, fixed-size lists of scalars) or a list."""
    n = arr.length
    valid = _valid(arr, n)
    t = arr.type
    if t in _NUMPY or t == N.TYPE_BOOL:
        values = _as_numpy(arr, 0, n)
        return np.ma.masked_array(values, mask=~valid) if valid is not None else values
    if t in (N.TYPE_STRING, N.TYPE_BINARY):
        offs = np.ctypeslib.as_array(arr.offsets, (n + 1,)) if n else np.zeros(1, np.int64)
        total = int(offs[-1])
        raw = ctypes.string_at(arr.values, total) if total else b""
        out = [raw[offs[i]:offs[i + 1]] for i in range(n)]
        if t == N.TYPE_STRING:
            out = [v.decode("utf-8", "replace") for v in out]
        return [None if valid is not None and not valid[i] else out[i] for i in range(n)]
    child = arr.children[0] if arr.n_children else None
    if t == N.TYPE_FIXED_SIZE_LIST:
        k = arr.fixed_size
        if child.type in _NUMPY or child.type == N.TYPE_BOOL:
            values = _as_numpy(child, 0, n * k).reshape(n, k)
            return np.ma.masked_array(values, mask=np.repeat(~valid, k).reshape(n, k)) if valid is not None else values
        items = _convert(child, field.children[0])
        return [None if valid is not None and not valid[i] else items[i * k:(i + 1) * k] for i in range(n)]
    if t == N.TYPE_LIST:
        offs = np.ctypeslib.as_array(arr.offsets, (n + 1,)) if n else np.zeros(1, np.int64)
        items = _convert(child, field.children[0])
        out = []
        for i in range(n):
            if valid is not None and not valid[i]:
                out.append(None)
                continue
            part = items[offs[i]:offs[i + 1]]
            out.append(part if isinstance(part, (np.ndarray, np.ma.MaskedArray)) else list(part))
        return out
    if t == N.TYPE_STRUCT:
        kids = [(field.children[c].name.decode(), _convert(arr.children[c], field.children[c])) for c in range(arr.n_children)]
        return [None if valid is not None and not valid[i] else {name: vals[i] for name, vals in kids} for i in range(n)]
    raise Error(1, f"unknown column type {t}")


def _batch_columns(batch):
    b = batch.contents
    schema = b.schema.contents
    cols = {}
    for c in range(b.n_columns):
        field = schema.fields[c]
        cols[field.name.decode()] = _convert(b.columns[c], field)
    row_ids = np.ctypeslib.as_array(b.row_ids, (b.num_rows,)).copy() if b.row_ids and b.num_rows else None
    return cols, row_ids, b.num_rows


def _concat(parts):
    if not parts:
        return []
    if all(isinstance(p, np.ma.MaskedArray) or isinstance(p, np.ndarray) for p in parts):
        if any(isinstance(p, np.ma.MaskedArray) for p in parts):
            return np.ma.concatenate(parts)
        return np.concatenate(parts)
    out = []
    for p in parts:
        out.extend(list(p))
    return out


def _drain(cursor):
    """Every batch of a cursor, merged column by column."""
    err = N.Error()
    chunks, ids, names, total = {}, [], None, 0
    # The result's columns, so that an empty result still has them (empty arrays, or empty lists).
    s = N.lib.fl_cursor_schema(cursor)
    empty = {}
    for i in range(s.contents.n_fields if s else 0):
        f = s.contents.fields[i]
        name = f.name.decode()
        empty[name] = np.zeros(0, _NUMPY.get(f.type, bool)) if f.type in _NUMPY or f.type == N.TYPE_BOOL else []
    try:
        while True:
            b = ctypes.POINTER(N.Batch)()
            _check(N.lib.fl_cursor_next(cursor, ctypes.byref(b), ctypes.byref(err)), err)
            if not b:
                break
            try:
                cols, row_ids, n = _batch_columns(b)
            finally:
                N.lib.fl_batch_free(b)
            names = names or list(cols)
            for k, v in cols.items():
                chunks.setdefault(k, []).append(v)
            if row_ids is not None:
                ids.append(row_ids)
            total += n
    finally:
        N.lib.fl_cursor_close(cursor)
    out = {k: _concat(v) for k, v in chunks.items()}
    if ids:
        out["_rowid"] = np.concatenate(ids)
    if not total:
        out = dict(empty, **out)
    return out, total


def _rows(columns, n):
    """Columns as a list of row dicts (NULL: None)."""
    lists = {k: (v.tolist() if isinstance(v, np.ndarray) else list(v)) for k, v in columns.items()}
    return [{k: lists[k][i] for k in lists} for i in range(n)]


# ---- databases and tables ----

class _Closing:
    """Closes the C object it holds when garbage-collected (close() is each class's own)."""

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Database(_Closing):
    """A database directory. `connect(path)` opens one."""

    def __init__(self, path, create=False):
        self.path = str(path)
        self._db = ctypes.c_void_p()
        err = N.Error()
        _check(N.lib.fl_db_open(self.path.encode(), 1 if create else 0, ctypes.byref(self._db), ctypes.byref(err)), err)

    def close(self):
        if self._db:
            N.lib.fl_db_close(self._db)
            self._db = ctypes.c_void_p()


    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        return (Database, (self.path,))

    def table_names(self):
        names = ctypes.POINTER(ctypes.c_char_p)()
        n = ctypes.c_size_t()
        err = N.Error()
        _check(N.lib.fl_db_list_tables(self._db, ctypes.byref(names), ctypes.byref(n), ctypes.byref(err)), err)
        try:
            return [names[i].decode() for i in range(n.value)]
        finally:
            N.lib.fl_strings_free(names, n)

    def open_table(self, name, version=None, tag=None):
        """The table (or view) `name` at its latest version, or at `version` / `tag`."""
        return Table(self, name, version, tag)

    def sql(self, statement, as_rows=False):
        """Runs one SELECT (docs/SQL.md); returns a dict of columns (or a list of row dicts)."""
        cur = ctypes.c_void_p()
        err = N.Error()
        _check(N.lib.fl_sql(self._db, statement.encode(), None, ctypes.byref(cur), ctypes.byref(err)), err)
        cols, n = _drain(cur)
        return _rows(cols, n) if as_rows else cols

    def permutation(self, name, version=None, tag=None):
        """A saved permutation (framelake permutation create)."""
        return Permutation.load(self, name, version, tag)


def connect(path, create=False):
    """Opens the database directory `path` (create=True makes it if absent)."""
    return Database(path, create)


class Table(_Closing):
    """One version of a table or view; reads never move it (open another Table for a newer version)."""

    def __init__(self, db, name, version=None, tag=None):
        self.db = db
        self.name = name
        self._t = ctypes.c_void_p()
        opts = N.OpenOptions(version or 0, tag.encode() if tag else None)
        err = N.Error()
        _check(N.lib.fl_table_open(db._db, name.encode(), ctypes.byref(opts), ctypes.byref(self._t), ctypes.byref(err)), err)
        self.version = int(N.lib.fl_table_version(self._t))

    def close(self):
        if self._t:
            N.lib.fl_table_close(self._t)
            self._t = ctypes.c_void_p()


    def __reduce__(self):
        return (_reopen_table, (self.db.path, self.name, self.version))

    def __len__(self):
        return int(N.lib.fl_table_count_rows(self._t))

    @property
    def schema(self):
        """The schema in the text syntax of framelake create --schema."""
        p = N.lib.fl_schema_format(N.lib.fl_table_schema(self._t))
        try:
            return ctypes.string_at(p).decode()
        finally:
            N.libc.free(p)

    @property
    def metadata(self):
        """Table-level metadata (a view's definition: view.source, view.source_version, ...)."""
        s = N.lib.fl_table_schema(self._t).contents
        return {s.metadata[i].key.decode(): s.metadata[i].value.decode() for i in range(s.n_metadata)}

    @property
    def columns(self):
        s = N.lib.fl_table_schema(self._t).contents
        return [s.fields[i].name.decode() for i in range(s.n_fields)]

    def latest_version(self):
        v = ctypes.c_uint64()
        err = N.Error()
        _check(N.lib.fl_table_latest_version(self._t, ctypes.byref(v), ctypes.byref(err)), err)
        return v.value

    def count(self, where=None):
        """Live rows (where the SQL filter holds)."""
        n = ctypes.c_int64()
        err = N.Error()
        _check(N.lib.fl_table_count_where(self._t, where.encode() if where else None, ctypes.byref(n), ctypes.byref(err)), err)
        return n.value

    def query(self, where=None, columns=None, limit=None, offset=0, order_by=None, with_row_ids=False, as_rows=False):
        """Rows where `where` holds, projected to `columns`: a dict of columns (plus "_rowid" with_row_ids), or
        a list of row dicts with as_rows=True."""
        arr, n, keep = _names(columns)
        opts = N.QueryOptions(where.encode() if where else None, arr, n, order_by.encode() if order_by else None, offset,
                              -1 if limit is None else limit, limit is not None, with_row_ids, 0)
        cur = ctypes.c_void_p()
        err = N.Error()
        _check(N.lib.fl_table_query(self._t, ctypes.byref(opts), ctypes.byref(cur), ctypes.byref(err)), err)
        del keep
        cols, count = _drain(cur)
        if with_row_ids and "_rowid" not in cols:
            cols["_rowid"] = np.zeros(0, np.uint64)
        return _rows(cols, count) if as_rows else cols

    def row_ids(self, where=None):
        """The stable ids of the live rows (where `where` holds), in storage order."""
        s = N.lib.fl_table_schema(self._t).contents
        cheap = next((s.fields[i].name.decode() for i in range(s.n_fields) if s.fields[i].type not in (N.TYPE_BINARY, N.TYPE_LIST,
                                                                                                       N.TYPE_FIXED_SIZE_LIST, N.TYPE_STRUCT)),
                     s.fields[0].name.decode())
        return self.query(where=where, columns=[cheap], with_row_ids=True).get("_rowid", np.zeros(0, np.uint64))

    def take(self, row_ids, columns=None):
        """Rows by stable id, in the order given: a dict of columns."""
        ids = np.ascontiguousarray(row_ids, dtype=np.uint64)
        arr, n, keep = _names(columns)
        b = ctypes.POINTER(N.Batch)()
        err = N.Error()
        _check(N.lib.fl_table_take(self._t, ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(ids), arr, n, ctypes.byref(b),
                                   ctypes.byref(err)), err)
        del keep
        try:
            cols, _, _ = _batch_columns(b)
        finally:
            N.lib.fl_batch_free(b)
        return cols

    def search_fts(self, text, column=None, where=None, k=10, columns=None):
        """BM25 full-text search: the k best rows with _score and _rowid."""
        arr, n, keep = _names(columns)
        q = N.FtsQuery(column.encode() if column else None, text.encode(), where.encode() if where else None, k, 0, 0, False, arr, n)
        b = ctypes.POINTER(N.Batch)()
        err = N.Error()
        _check(N.lib.fl_fts_search(self._t, ctypes.byref(q), ctypes.byref(b), ctypes.byref(err)), err)
        del keep
        try:
            return _batch_columns(b)[0]
        finally:
            N.lib.fl_batch_free(b)

    def search_vector(self, column, vector=None, like_row=None, where=None, k=10, metric=None, columns=None, nprobes=0, refine_factor=0,
                      exact=False):
        """k nearest rows by `vector` (floats, or bytes for hamming) or like row `like_row`, with _distance and _rowid."""
        arr, n, keep = _names(columns)
        q = N.VectorQuery()
        q.column = column.encode()
        vec = None
        if vector is not None:
            if isinstance(vector, (bytes, bytearray)) or (isinstance(vector, np.ndarray) and vector.dtype == np.uint8):
                vec = np.frombuffer(bytes(vector), np.uint8).copy()
                q.bits = vec.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
                q.n_bytes = len(vec)
            else:
                vec = np.ascontiguousarray(vector, dtype=np.float32)
                q.vector = vec.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                q.dim = len(vec)
        if like_row is not None:
            q.like_row = True
            q.row_id = int(like_row)
        q.metric = {None: -1, "l2": 0, "cosine": 1, "dot": 2, "hamming": 3}[metric]
        q.where = where.encode() if where else None
        q.k = k
        q.columns, q.n_columns = arr, n
        q.exact, q.nprobes, q.refine_factor = exact, nprobes, refine_factor
        b = ctypes.POINTER(N.Batch)()
        err = N.Error()
        _check(N.lib.fl_vector_search(self._t, ctypes.byref(q), ctypes.byref(b), ctypes.byref(err)), err)
        del keep, vec
        try:
            return _batch_columns(b)[0]
        finally:
            N.lib.fl_batch_free(b)

    def export_arrow(self, where=None, columns=None):
        """The rows as Arrow C Data Interface structs without copying: a list of ArrowExport (one per batch,
        each an ArrowSchema and a struct ArrowArray; released when the object goes away unless a consumer took
        them over)."""
        arr, n, keep = _names(columns)
        opts = N.QueryOptions(where.encode() if where else None, arr, n, None, 0, -1, False, False, 0)
        cur = ctypes.c_void_p()
        err = N.Error()
        _check(N.lib.fl_table_query(self._t, ctypes.byref(opts), ctypes.byref(cur), ctypes.byref(err)), err)
        del keep
        out = []
        try:
            while True:
                b = ctypes.POINTER(N.Batch)()
                _check(N.lib.fl_cursor_next(cur, ctypes.byref(b), ctypes.byref(err)), err)
                if not b:
                    break
                x = ArrowExport()
                _check(N.lib.fl_batch_export_arrow(b, ctypes.byref(x.schema), ctypes.byref(x.array), ctypes.byref(err)), err)
                out.append(x)
        finally:
            N.lib.fl_cursor_close(cur)
        return out

    def to_arrow(self, where=None, columns=None):
        """The rows as a pyarrow Table through the Arrow C Data Interface (requires pyarrow)."""
        import pyarrow as pa
        batches = []
        for x in self.export_arrow(where, columns):
            batches.append(pa.RecordBatch._import_from_c(ctypes.addressof(x.array), ctypes.addressof(x.schema)))
            x.taken()
        return pa.Table.from_batches(batches) if batches else pa.table({})


class ArrowExport:
    """One exported batch: `schema` (N.ArrowSchema) and `array` (N.ArrowArray), released on deletion unless
    taken() says a consumer now owns them."""

    def __init__(self):
        self.schema = N.ArrowSchema()
        self.array = N.ArrowArray()

    def taken(self):
        self.schema.release = type(self.schema.release)()
        self.array.release = type(self.array.release)()

    def __del__(self):
        if self.array.release:
            self.array.release(ctypes.byref(self.array))
        if self.schema.release:
            self.schema.release(ctypes.byref(self.schema))


def _reopen_table(path, name, version):
    return Database(path).open_table(name, version=version)


# ---- permutations ----

class Permutation:
    """An ordered, split list of row ids of one version of a table or view."""

    def __init__(self, ptr):
        self._p = ptr
        p = ptr.contents
        self.source = p.source.decode()
        self.source_version = int(p.source_version)
        self.split_names = [p.split_names[i].decode() for i in range(p.n_splits)]
        self.columns = [p.columns[i].decode() for i in range(p.n_columns)]
        self.row_ids = np.ctypeslib.as_array(p.row_ids, (p.n,)).copy() if p.n else np.zeros(0, np.uint64)
        self.split_ids = np.ctypeslib.as_array(p.split_ids, (p.n,)).copy() if p.n else np.zeros(0, np.int32)
        self.spec = p.spec.decode() if p.spec else None

    def __del__(self):
        if getattr(self, "_p", None):
            N.lib.fl_permutation_free(self._p)
            self._p = None

    def __len__(self):
        return len(self.row_ids)

    @classmethod
    def load(cls, db, name, version=None, tag=None):
        opts = N.OpenOptions(version or 0, tag.encode() if tag else None)
        ptr = ctypes.POINTER(N.Permutation)()
        err = N.Error()
        _check(N.lib.fl_permutation_load(db._db, name.encode(), ctypes.byref(opts), ctypes.byref(ptr), ctypes.byref(err)), err)
        return cls(ptr)

    def split(self, name=None):
        """Row ids of split `name` (None: every row), in permutation order."""
        if name is None:
            return self.row_ids.copy()
        if name not in self.split_names:
            raise Error(N.ENOTFOUND, f"permutation: no split '{name}' (splits: {', '.join(self.split_names)})")
        return self.row_ids[self.split_ids == self.split_names.index(name)]


# ---- the C loader ----

def _loader_options(image_column="image_bytes", columns=None, boxes_column=None, labels_column=None, categories=None, batch_size=8,
                    threads=0, prefetch=0, shuffle=False, seed=0, rank=0, world_size=1, start_epoch=0, start_batch=0, scale=None,
                    size=None, layout="chw", normalize=False, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), skip_corrupt=False, out=None):
    """LoaderOptions and the Python objects its pointers refer to (kept alive by the caller). `out`: where one
    batch's images go (read_rows, decode_images): a C-contiguous torch tensor or numpy array, e.g. in shared
    memory."""
    keep = []
    o = N.LoaderOptions()
    o.image_column = (image_column or "").encode()
    keep.append(o.image_column)
    o.columns, o.n_columns, k1 = _names(columns)
    o.categories, o.n_categories, k2 = _names(categories)
    keep += [o.columns, o.categories, k1, k2]
    o.boxes_column = boxes_column.encode() if boxes_column else None
    o.labels_column = labels_column.encode() if labels_column else None
    o.batch_size, o.threads, o.prefetch = batch_size, threads, prefetch
    o.shuffle, o.seed, o.rank, o.world_size = shuffle, seed, rank, world_size
    o.start_epoch, o.start_batch = start_epoch, start_batch
    if scale:
        o.scale_num, o.scale_denom = scale
    if size:
        o.width, o.height = size
    o.layout = 1 if layout == "chw" else 0
    o.normalize = normalize
    o.mean[:] = list(mean)
    o.std[:] = list(std)
    o.skip_corrupt = skip_corrupt
    if out is not None:
        want = "float32" if normalize else "uint8"
        if hasattr(out, "data_ptr"):  # a torch tensor
            if out.device.type != "cpu" or not out.is_contiguous() or str(out.dtype) != f"torch.{want}":
                raise ValueError(f"out must be a contiguous CPU tensor of {want}, not {out.dtype} on {out.device}")
            o.images_out, o.images_out_bytes = out.data_ptr(), out.numel() * out.element_size()
        else:
            if not out.flags["C_CONTIGUOUS"] or not out.flags["WRITEABLE"] or out.dtype != np.dtype(want):
                raise ValueError(f"out must be a writeable C-contiguous array of {want}")
            o.images_out, o.images_out_bytes = out.ctypes.data, out.nbytes
        keep.append(out)
    return o, keep


class _Owner:
    """Frees a loader batch once every array viewing it is gone; keeps `buffer` (the caller's `out`, which the
    images are in) alive as long."""

    def __init__(self, ptr, buffer=None):
        self.ptr = ptr
        self.buffer = buffer

    def __del__(self):
        if self.ptr:
            N.lib.fl_loader_batch_free(self.ptr)
            self.ptr = None


def _view(owner, address, ctype, count, shape):
    """A numpy array over C memory that keeps `owner` (the batch) alive."""
    if not address or not count:
        return np.zeros(shape, np.dtype(ctype))
    buf = (ctype * count).from_address(address)
    buf._owner = owner
    return np.frombuffer(buf, np.dtype(ctype)).reshape(shape)


def loader_batch(ptr, layout, normalize=None, buffer=None):
    """A LoaderBatch as a dict of numpy arrays over its memory (no copy): images, row_ids, boxes (a list of
    [k, 4] float32 arrays), labels (a list of int64 arrays), columns, epoch, index, skipped. `buffer`: the
    caller's output buffer the images are in, kept alive with them."""
    owner = _Owner(ptr, buffer)
    b = ptr.contents
    n = b.n
    out = {"epoch": b.epoch, "index": b.index, "skipped": b.skipped}
    out["row_ids"] = _view(owner, ctypes.addressof(b.row_ids.contents) if n else 0, ctypes.c_uint64, n, (n,))
    h, w = b.height, b.width
    shape = (n, 3, h, w) if layout == "chw" else (n, h, w, 3)
    if h and w:
        floats = bool(b.tensor) if normalize is None else normalize
        if floats:
            out["images"] = _view(owner, ctypes.addressof(b.tensor.contents) if b.tensor else 0, ctypes.c_float, n * 3 * h * w, shape)
        else:
            out["images"] = _view(owner, ctypes.addressof(b.pixels.contents) if b.pixels else 0, ctypes.c_uint8, n * 3 * h * w, shape)
    offs = np.ctypeslib.as_array(b.box_offsets, (n + 1,)).copy() if n else np.zeros(1, np.int64)
    total = int(offs[-1])
    boxes = _view(owner, ctypes.addressof(b.boxes.contents) if total else 0, ctypes.c_float, total * 4, (total, 4))
    labels = _view(owner, ctypes.addressof(b.labels.contents) if total else 0, ctypes.c_int64, total, (total,))
    out["box_offsets"], out["all_boxes"], out["all_labels"] = offs, boxes, labels
    out["boxes"] = [boxes[offs[i]:offs[i + 1]] for i in range(n)]
    out["labels"] = [labels[offs[i]:offs[i + 1]] for i in range(n)]
    out["columns"] = _batch_columns(b.columns)[0] if b.columns else {}
    return out


class Loader(_Closing):
    """The C loader over `row_ids` of a table: an iterable of batches (dicts from loader_batch), one epoch per
    iteration; options as fl_loader_options (docs/PYTHON.md)."""

    def __init__(self, table, row_ids, **options):
        self.table = table
        self.layout = options.get("layout", "chw")
        self.normalize = bool(options.get("normalize"))
        self._ids = np.ascontiguousarray(row_ids, dtype=np.uint64)
        o, keep = _loader_options(**options)
        self._l = ctypes.c_void_p()
        err = N.Error()
        _check(N.lib.fl_loader_open(table._t, self._ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(self._ids), ctypes.byref(o),
                                    ctypes.byref(self._l), ctypes.byref(err)), err)
        del keep

    def __len__(self):
        return int(N.lib.fl_loader_batches_per_epoch(self._l))

    def __iter__(self):
        err = N.Error()
        while True:
            ptr = ctypes.POINTER(N.LoaderBatch)()
            _check(N.lib.fl_loader_next(self._l, ctypes.byref(ptr), ctypes.byref(err)), err)
            if not ptr:
                return
            yield loader_batch(ptr, self.layout, self.normalize)

    def close(self):
        if self._l:
            N.lib.fl_loader_close(self._l)
            self._l = ctypes.c_void_p()



def read_rows(table, row_ids, **options):
    """One batch of exactly these rows (fl_loader_read), as loader_batch gives it."""
    ids = np.ascontiguousarray(row_ids, dtype=np.uint64)
    o, keep = _loader_options(**options)
    ptr = ctypes.POINTER(N.LoaderBatch)()
    err = N.Error()
    _check(N.lib.fl_loader_read(table._t, ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(ids), ctypes.byref(o), ctypes.byref(ptr),
                                ctypes.byref(err)), err)
    del keep
    return loader_batch(ptr, options.get("layout", "chw"), bool(options.get("normalize")), options.get("out"))


def decode_images(jpegs, **options):
    """JPEG bytes (a list of bytes; None for a missing image) decoded as the loader decodes a table's images
    (fl_loader_decode): the image options of Loader apply (size, scale, layout, normalize, mean, std,
    skip_corrupt). A dict as loader_batch gives it; row_ids are the positions in `jpegs`."""
    jpegs = [None if j is None else bytes(j) for j in jpegs]
    n = len(jpegs)
    ptrs = (ctypes.c_char_p * max(n, 1))(*jpegs)
    sizes = (ctypes.c_size_t * max(n, 1))(*[0 if j is None else len(j) for j in jpegs])
    o, keep = _loader_options(**options)
    ptr = ctypes.POINTER(N.LoaderBatch)()
    err = N.Error()
    _check(N.lib.fl_loader_decode(ctypes.cast(ptrs, ctypes.c_void_p), sizes, n, ctypes.byref(o), ctypes.byref(ptr), ctypes.byref(err)), err)
    del keep, ptrs
    return loader_batch(ptr, options.get("layout", "chw"), bool(options.get("normalize")), options.get("out"))
