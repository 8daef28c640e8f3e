"""Plans and task messages as bytes for worker processes, with every Arrow object as Arrow IPC.

A physical plan is a tree of Python objects (operators, expressions, table
providers) that also holds Arrow objects: types in fields, scalars in literals,
whole tables in in-memory scans. The tree travels with :mod:`pickle`, but a
``reducer_override`` routes each Arrow object through Arrow IPC instead of
pyarrow's own pickling, which copies the whole parent buffer of a sliced array.
Tables of more than ``FILE_BYTES`` are written once per query to an IPC file in
the query's directory and travel as that path; workers memory-map the file, so
a large in-memory table is neither copied into every task message nor into
every worker's heap.

    >>> data = dumps({"t": pa.table({"x": [1, 2, 3]}).slice(1)})
    >>> loads(data)["t"].column("x").to_pylist()
    [2, 3]
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from collections import OrderedDict

import pyarrow as pa
import pyarrow.ipc as ipc

FILE_BYTES = 1 << 20      # tables above this travel as a memory-mapped file


def table_to_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """An Arrow IPC stream of ``table`` (only the rows of a slice, not its parent's buffers)."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        if isinstance(table, pa.Table):
            writer.write_table(table)
        else:
            writer.write_batch(table)
    return sink.getvalue().to_pybytes()


def _table_from_ipc(data: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(data)).read_all()


def _batch_from_ipc(data: bytes) -> pa.RecordBatch:
    table = _table_from_ipc(data)
    return table.combine_chunks().to_batches()[0] if table.num_rows else \
        pa.RecordBatch.from_pylist([], schema=table.schema)


def _array_from_ipc(data: bytes) -> pa.Array:
    return _table_from_ipc(data).column(0).combine_chunks()


def _chunked_from_ipc(data: bytes) -> pa.ChunkedArray:
    return _table_from_ipc(data).column(0)


def _scalar_from_ipc(data: bytes) -> pa.Scalar:
    return _table_from_ipc(data).column(0)[0]


def _schema_from_ipc(data: bytes) -> pa.Schema:
    return ipc.read_schema(pa.py_buffer(data))


def _type_from_ipc(data: bytes) -> pa.DataType:
    return ipc.read_schema(pa.py_buffer(data)).field(0).type


def _field_from_ipc(data: bytes) -> pa.Field:
    return ipc.read_schema(pa.py_buffer(data)).field(0)


_MAPPED: "OrderedDict[str, pa.Table]" = OrderedDict()
_MAPPED_LOCK = threading.Lock()


def map_table_file(path: str) -> pa.Table:
    """The table in an IPC file, memory-mapped (kept open for the few most recent files)."""
    with _MAPPED_LOCK:
        table = _MAPPED.get(path)
        if table is not None:
            _MAPPED.move_to_end(path)
            return table
    with pa.memory_map(path) as source:
        table = ipc.open_file(source).read_all()
    with _MAPPED_LOCK:
        _MAPPED[path] = table
        while len(_MAPPED) > 8:
            _MAPPED.popitem(last=False)
    return table


def _array_from_file(path: str) -> pa.Array:
    column = map_table_file(path).column(0)
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


class Encoded:
    """An object pickled once (by :func:`dumps`) that travels in many messages as its bytes: each
    message copies the bytes instead of pickling the object again, and unpickling gives the object.

        >>> loads(dumps({"f": Encoded([1, 2])}))["f"]
        [1, 2]
    """

    __slots__ = ("data",)

    def __init__(self, obj, table_dir: str | None = None, table_files: dict | None = None):
        self.data = dumps(obj, table_dir, table_files)

    def __reduce__(self):
        return loads, (self.data,)


def write_table_file(table: pa.Table, path: str) -> None:
    """Write ``table`` to an IPC file atomically (write, then rename)."""
    tmp = path + ".tmp"
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


_PROVIDERS: "OrderedDict[str, object]" = OrderedDict()


def _provider(token: str, data: bytes):
    """A Parquet table provider: the one this process decoded before, or decoded now.

    A provider carries every file's footer (150 KB and 4 ms to decode for SF 1
    lineitem); every task of every stage that scans the table would decode it
    again, so workers keep the few most recent ones by the token minted for the
    provider object in the caller.
    """
    with _MAPPED_LOCK:
        provider = _PROVIDERS.get(token)
        if provider is not None:
            _PROVIDERS.move_to_end(token)
            return provider
    cls, state = loads(data)
    provider = cls.__new__(cls)
    provider.__setstate__(state)
    with _MAPPED_LOCK:
        _PROVIDERS[token] = provider
        while len(_PROVIDERS) > 32:
            _PROVIDERS.popitem(last=False)
    return provider


def _provider_reduction(obj):
    """(token, encoded state) of a provider, computed once per provider object."""
    wire = obj.__dict__.get("_wire")
    if wire is None:
        import uuid
        wire = (uuid.uuid4().hex, dumps((type(obj), obj.__getstate__())))
        obj.__dict__["_wire"] = wire
    return wire


class _Pickler(pickle.Pickler):
    def __init__(self, file, table_dir: str | None, table_files: dict | None):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.table_dir = table_dir
        self.table_files = table_files if table_files is not None else {}

    def reducer_override(self, obj):
        # called for every plan node, expression and field of a stage's plan (about 140 per stage):
        # a type seen to need none of the reductions below returns at once
        if type(obj) in _PLAIN_TYPES:
            return NotImplemented
        if isinstance(obj, _cached_types()):
            return _provider, _provider_reduction(obj)
        if isinstance(obj, pa.Table):
            if self.table_dir is not None and obj.nbytes > FILE_BYTES:
                return map_table_file, (self._table_file(obj),)
            return _table_from_ipc, (table_to_ipc(obj),)
        if isinstance(obj, pa.RecordBatch):
            return _batch_from_ipc, (table_to_ipc(obj),)
        if isinstance(obj, pa.Array) and self.table_dir is not None and obj.nbytes > FILE_BYTES:
            return _array_from_file, (self._table_file(obj),)
        if isinstance(obj, pa.ChunkedArray):
            return _chunked_from_ipc, (table_to_ipc(pa.table({"v": obj})),)
        if isinstance(obj, pa.Array):
            return _array_from_ipc, (table_to_ipc(pa.table({"v": obj})),)
        if isinstance(obj, pa.Scalar):
            return _scalar_from_ipc, (table_to_ipc(pa.table({"v": pa.array([obj], obj.type)})),)
        if isinstance(obj, pa.Schema):
            return _schema_from_ipc, (obj.serialize().to_pybytes(),)
        if isinstance(obj, pa.Field):
            return _field_from_ipc, (pa.schema([obj]).serialize().to_pybytes(),)
        if isinstance(obj, pa.DataType):
            return _type_from_ipc, (pa.schema([pa.field("t", obj)]).serialize().to_pybytes(),)
        _PLAIN_TYPES.add(type(obj))
        return NotImplemented

    def _table_file(self, table: pa.Table | pa.Array) -> str:
        # one file per table (or array) object and query: every task of the query maps the same file
        entry = self.table_files.get(id(table))
        if entry is not None and entry[0] is table:
            return entry[1]
        path = os.path.join(self.table_dir, f"table-{len(self.table_files)}.arrow")
        write_table_file(table if isinstance(table, pa.Table) else pa.table({"v": table}), path)
        self.table_files[id(table)] = (table, path)
        return path


_PLAIN_TYPES: set[type] = set()    # types reducer_override leaves to pickle (none of its cases)
_CACHED_TYPES: tuple | None = None


def _cached_types() -> tuple:
    global _CACHED_TYPES
    if _CACHED_TYPES is None:
        from quarry.catalog.providers import ParquetTable
        _CACHED_TYPES = (ParquetTable,)
    return _CACHED_TYPES


def dumps(obj, table_dir: str | None = None, table_files: dict | None = None) -> bytes:
    """``obj`` as bytes, Arrow objects as IPC; large tables go to files in ``table_dir`` (if given),
    remembered in ``table_files`` so that the next message of the same query reuses them."""
    buf = io.BytesIO()
    _Pickler(buf, table_dir, table_files).dump(obj)
    return buf.getvalue()


def loads(data: bytes):
    """The object :func:`dumps` wrote."""
    return pickle.loads(data)
