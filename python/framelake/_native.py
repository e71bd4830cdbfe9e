"""ctypes declarations of libframelake (include/framelake.h): the library, its structs and prototypes.

The structs mirror the header field for field; ctypes lays them out as the C compiler does. Only the calls
the Python package uses are declared. The library is found through $FRAMELAKE_LIB, then the build tree
next to this package (build/libframelake.so), then the path `make install` recorded, then the system's
loader path (libframelake.so.0).
"""

import ctypes
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint8, c_uint64, c_void_p)


def _find_library():
    explicit = os.environ.get("FRAMELAKE_LIB")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "..", "..", "build", "libframelake.so"), os.path.join(here, "libframelake.so")):
        if os.path.exists(candidate):
            return os.path.normpath(candidate)
    installed = os.path.join(here, "_libpath.txt")  # written by `make install`
    if os.path.exists(installed):
        with open(installed) as f:
            return f.read().strip()
    return "libframelake.so.0"


lib = ctypes.CDLL(_find_library())

# ---- types ----

TYPE_BOOL, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64 = 1, 2, 3, 4, 5
TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64 = 6, 7, 8, 9
TYPE_FLOAT32, TYPE_FLOAT64, TYPE_STRING, TYPE_BINARY, TYPE_TIMESTAMP_MS = 10, 11, 12, 13, 14
TYPE_LIST, TYPE_FIXED_SIZE_LIST, TYPE_STRUCT = 15, 16, 17

OK, EINVAL, ENOTFOUND = 0, 1, 4


class Error(Structure):
    _fields_ = [("code", c_int), ("message", c_char * 512)]


class KV(Structure):
    _fields_ = [("key", c_char_p), ("value", c_char_p)]


class Field(Structure):
    pass


Field._fields_ = [("name", c_char_p), ("type", c_int), ("nullable", c_bool), ("fixed_size", c_int32), ("id", c_int32),
                  ("n_children", c_int32), ("children", POINTER(Field)), ("n_metadata", c_int32), ("metadata", POINTER(KV))]


class Schema(Structure):
    _fields_ = [("n_fields", c_int32), ("fields", POINTER(Field)), ("n_metadata", c_int32), ("metadata", POINTER(KV))]


class Array(Structure):
    pass


Array._fields_ = [("type", c_int), ("fixed_size", c_int32), ("length", c_int64), ("null_count", c_int64), ("validity", POINTER(c_uint8)),
                  ("values", c_void_p), ("offsets", POINTER(c_int64)), ("n_children", c_int32), ("children", POINTER(Array)),
                  ("cap_values", c_int64), ("cap_offsets", c_int64), ("cap_validity", c_int64)]


class Batch(Structure):
    _fields_ = [("schema", POINTER(Schema)), ("num_rows", c_int64), ("n_columns", c_int32), ("columns", POINTER(Array)),
                ("row_ids", POINTER(c_uint64))]


class OpenOptions(Structure):
    _fields_ = [("version", c_uint64), ("tag", c_char_p)]


class QueryOptions(Structure):
    _fields_ = [("where", c_char_p), ("columns", POINTER(c_char_p)), ("n_columns", c_size_t), ("order_by", c_char_p), ("offset", c_int64),
                ("limit", c_int64), ("limit_set", c_bool), ("with_row_ids", c_bool), ("batch_size", c_int64)]


class LoaderOptions(Structure):
    _fields_ = [("image_column", c_char_p), ("columns", POINTER(c_char_p)), ("n_columns", c_size_t), ("boxes_column", c_char_p),
                ("labels_column", c_char_p), ("categories", POINTER(c_char_p)), ("n_categories", c_size_t), ("batch_size", c_int64),
                ("threads", c_int), ("prefetch", c_int), ("shuffle", c_bool), ("seed", c_uint64), ("rank", c_int), ("world_size", c_int),
                ("start_epoch", c_int64), ("start_batch", c_int64), ("scale_num", c_int), ("scale_denom", c_int), ("width", c_int),
                ("height", c_int), ("layout", c_int), ("normalize", c_bool), ("mean", c_float * 3), ("std", c_float * 3),
                ("skip_corrupt", c_bool), ("images_out", c_void_p), ("images_out_bytes", c_size_t)]


class LoaderBatch(Structure):
    _fields_ = [("epoch", c_int64), ("index", c_int64), ("n", c_int64), ("row_ids", POINTER(c_uint64)), ("height", c_int32),
                ("width", c_int32), ("pixels", POINTER(c_uint8)), ("tensor", POINTER(c_float)), ("box_offsets", POINTER(c_int64)),
                ("boxes", POINTER(c_float)), ("labels", POINTER(c_int64)), ("columns", POINTER(Batch)), ("skipped", c_int64),
                ("pool", c_void_p), ("buffer_bytes", c_size_t)]


class Permutation(Structure):
    _fields_ = [("source", c_char_p), ("source_version", c_uint64), ("n", c_size_t), ("row_ids", POINTER(c_uint64)),
                ("split_ids", POINTER(c_int32)), ("n_splits", c_size_t), ("split_names", POINTER(c_char_p)), ("n_columns", c_size_t),
                ("columns", POINTER(c_char_p)), ("spec", c_char_p)]


class PermutationSpec(Structure):
    _fields_ = [("filter", c_char_p), ("split", c_int), ("ratios", POINTER(c_double)), ("counts", POINTER(c_int64)), ("n_parts", c_size_t),
                ("split_names", POINTER(c_char_p)), ("n_split_names", c_size_t), ("seed", c_uint64), ("hash_column", c_char_p),
                ("split_expr", c_char_p), ("shuffle", c_bool), ("shuffle_seed", c_uint64), ("clump_size", c_int64),
                ("columns", POINTER(c_char_p)), ("n_columns", c_size_t)]


class FtsQuery(Structure):
    _fields_ = [("column", c_char_p), ("text", c_char_p), ("where", c_char_p), ("k", c_int64), ("k1", c_double), ("b", c_double),
                ("b_set", c_bool), ("columns", POINTER(c_char_p)), ("n_columns", c_size_t)]


class VectorQuery(Structure):
    _fields_ = [("column", c_char_p), ("vector", POINTER(c_float)), ("dim", c_size_t), ("bits", POINTER(c_uint8)), ("n_bytes", c_size_t),
                ("like_row", c_bool), ("row_id", c_uint64), ("metric", c_int), ("where", c_char_p), ("k", c_int64), ("has_range", c_bool),
                ("min_distance", c_double), ("max_distance", c_double), ("columns", POINTER(c_char_p)), ("n_columns", c_size_t),
                ("exact", c_bool), ("postfilter", c_bool), ("nprobes", c_int), ("refine_factor", c_int)]


class ArrowSchema(Structure):
    pass


class ArrowArray(Structure):
    pass


ArrowSchema._fields_ = [("format", c_char_p), ("name", c_char_p), ("metadata", c_char_p), ("flags", c_int64), ("n_children", c_int64),
                        ("children", POINTER(POINTER(ArrowSchema))), ("dictionary", POINTER(ArrowSchema)),
                        ("release", ctypes.CFUNCTYPE(None, POINTER(ArrowSchema))), ("private_data", c_void_p)]
ArrowArray._fields_ = [("length", c_int64), ("null_count", c_int64), ("offset", c_int64), ("n_buffers", c_int64), ("n_children", c_int64),
                       ("buffers", POINTER(c_void_p)), ("children", POINTER(POINTER(ArrowArray))), ("dictionary", POINTER(ArrowArray)),
                       ("release", ctypes.CFUNCTYPE(None, POINTER(ArrowArray))), ("private_data", c_void_p)]


# ---- prototypes ----

def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = POINTER
_proto("fl_version", c_char_p)
_proto("fl_db_open", c_int, c_char_p, c_int, P(c_void_p), P(Error))
_proto("fl_db_close", None, c_void_p)
_proto("fl_db_list_tables", c_int, c_void_p, P(P(c_char_p)), P(c_size_t), P(Error))
_proto("fl_strings_free", None, P(c_char_p), c_size_t)
_proto("fl_table_open", c_int, c_void_p, c_char_p, P(OpenOptions), P(c_void_p), P(Error))
_proto("fl_table_close", None, c_void_p)
_proto("fl_table_version", c_uint64, c_void_p)
_proto("fl_table_latest_version", c_int, c_void_p, P(c_uint64), P(Error))
_proto("fl_table_schema", P(Schema), c_void_p)
_proto("fl_table_name", c_char_p, c_void_p)
_proto("fl_table_count_rows", c_int64, c_void_p)
_proto("fl_table_count_where", c_int, c_void_p, c_char_p, P(c_int64), P(Error))
_proto("fl_schema_format", c_void_p, P(Schema))
_proto("fl_table_query", c_int, c_void_p, P(QueryOptions), P(c_void_p), P(Error))
_proto("fl_sql", c_int, c_void_p, c_char_p, c_void_p, P(c_void_p), P(Error))
_proto("fl_cursor_next", c_int, c_void_p, P(P(Batch)), P(Error))
_proto("fl_cursor_close", None, c_void_p)
_proto("fl_cursor_schema", P(Schema), c_void_p)
_proto("fl_batch_free", None, P(Batch))
_proto("fl_batch_export_arrow", c_int, P(Batch), P(ArrowSchema), P(ArrowArray), P(Error))
_proto("fl_table_take", c_int, c_void_p, P(c_uint64), c_size_t, P(c_char_p), c_size_t, P(P(Batch)), P(Error))
_proto("fl_fts_search", c_int, c_void_p, P(FtsQuery), P(P(Batch)), P(Error))
_proto("fl_vector_search", c_int, c_void_p, P(VectorQuery), P(P(Batch)), P(Error))
_proto("fl_permutation_build", c_int, c_void_p, P(PermutationSpec), P(P(Permutation)), P(Error))
_proto("fl_permutation_save", c_int, c_void_p, c_char_p, P(Permutation), P(Error))
_proto("fl_permutation_load", c_int, c_void_p, c_char_p, P(OpenOptions), P(P(Permutation)), P(Error))
_proto("fl_permutation_split_rows", c_int, P(Permutation), c_char_p, P(P(c_uint64)), P(c_size_t), P(Error))
_proto("fl_permutation_free", None, P(Permutation))
_proto("fl_loader_open", c_int, c_void_p, P(c_uint64), c_size_t, P(LoaderOptions), P(c_void_p), P(Error))
_proto("fl_loader_read", c_int, c_void_p, P(c_uint64), c_size_t, P(LoaderOptions), P(P(LoaderBatch)), P(Error))
_proto("fl_loader_decode", c_int, c_void_p, P(c_size_t), c_size_t, P(LoaderOptions), P(P(LoaderBatch)), P(Error))
_proto("fl_loader_batches_per_epoch", c_int64, c_void_p)
_proto("fl_loader_next", c_int, c_void_p, P(P(LoaderBatch)), P(Error))
_proto("fl_loader_batch_free", None, P(LoaderBatch))
_proto("fl_loader_close", None, c_void_p)

libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None
