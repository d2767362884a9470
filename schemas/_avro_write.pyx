# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Avro binary of a model, a datum or a JSON form, in C (see `schemas/avro_write_program.py`).

`AvroWriter(program, form)` runs a program built by `avro_write_program.write_program`;
calling it with `(value, out)` appends the Avro binary of `value` to the bytearray `out`:
exactly the bytes of the generated Python writer of `schemas/avro_writer.py` for the same
form (a property test holds the two together). Where a value is not what the fast path
expects (a long beyond 64 bits, a datetime not in UTC, a value of the wrong type), the same
Python helper the generated writer calls does the work, so the bytes or the error are the same.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport (
    PyDateTime_DATE_GET_HOUR,
    PyDateTime_DATE_GET_MICROSECOND,
    PyDateTime_DATE_GET_MINUTE,
    PyDateTime_DATE_GET_SECOND,
    PyDateTime_GET_DAY,
    PyDateTime_GET_MONTH,
    PyDateTime_GET_YEAR,
    datetime_tzinfo,
    import_datetime,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject_GetAttr, PyObject_IsTrue
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdlib cimport free
from libc.string cimport memcpy

from databus._avro_c cimport Buf, days_from_civil, put, put_byte, put_varlong, reserve

import struct
from datetime import date, datetime, timezone
from uuid import UUID

import_datetime()

cdef object _UTC = timezone.utc
cdef const char* HEX = b"0123456789abcdef"
cdef object _pack_double = struct.Struct("<d").pack

cdef enum Kind:
    K_NULL = 0
    K_BOOLEAN = 1
    K_LONG = 2
    K_DOUBLE = 3
    K_STRING = 4
    K_BYTES = 5
    K_DATE = 6
    K_TIMESTAMP = 7
    K_UUID = 8
    K_ENUM = 9
    K_ARRAY = 10
    K_MAP = 11
    K_OPTIONAL = 12
    K_RECORD = 13
    K_RECORDS = 14

cdef enum Form:
    F_MODEL = 0
    F_DATUM = 1
    F_JSON = 2

cdef enum Default:
    D_NONE = 0  # no default: the key must be there
    D_VALUE = 1  # o.get(name, default)
    D_EMPTY = 2  # o.get(name) or default (a list or dict default)

_KINDS = {
    "null": K_NULL,
    "boolean": K_BOOLEAN,
    "long": K_LONG,
    "double": K_DOUBLE,
    "string": K_STRING,
    "bytes": K_BYTES,
    "date": K_DATE,
    "timestamp": K_TIMESTAMP,
    "uuid": K_UUID,
    "enum": K_ENUM,
    "array": K_ARRAY,
    "map": K_MAP,
    "optional": K_OPTIONAL,
    "record": K_RECORD,
    "records": K_RECORDS,
}
_FORMS = {"model": F_MODEL, "datum": F_DATUM, "json": F_JSON}


cdef int put_bytes_object(Buf* out, bytes value) except -1:
    return put(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))


cdef object enum_key(object v):
    """The key the Python writer's `table[v]` finds: a StrEnum member hashes as its name (and
    then equals the symbol only if its value is its name), so look it up by its name then."""
    cdef object name
    if type(v) is str or not isinstance(v, str):
        return v
    name = getattr(v, "_name_", None)
    if type(name) is str and name == str.__str__(v):
        return name
    return v


cdef int put_uuid(Buf* out, bytes raw) except -1:
    """A UUID's 16 bytes as `str(UUID)` writes them: 8-4-4-4-12 lowercase hex digits."""
    cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(raw)
    cdef int i
    cdef char c
    reserve(out, 36)
    for i in range(16):
        if i == 4 or i == 6 or i == 8 or i == 10:
            out.data[out.size] = b"-"
            out.size += 1
        out.data[out.size] = HEX[b[i] >> 4]
        out.data[out.size + 1] = HEX[b[i] & 0xF]
        out.size += 2
    return 0


cdef class Node:
    """One type of the program (see `avro_write_program.py`)."""

    cdef int kind
    cdef Node child
    cdef dict symbols  # enum: symbol -> its index's varint
    cdef tuple names  # record: field names (interned str)
    cdef tuple defaults  # record: (Default, value) per field
    cdef tuple fields  # record: Node per field
    cdef dict branches  # records: type name -> (varint of the index, Node)

    def __init__(self, program):
        self.kind = _KINDS[program[0]]
        if self.kind == K_ENUM:
            self.symbols = dict(program[1])
        elif self.kind in (K_ARRAY, K_MAP, K_OPTIONAL):
            self.child = Node(program[1])
        elif self.kind == K_RECORD:
            self.names = tuple(str(name) for name, _, _ in program[1])
            self.defaults = tuple(
                ({"none": D_NONE, "value": D_VALUE, "empty": D_EMPTY}[default[0]], default[1])
                for _, default, _ in program[1]
            )
            self.fields = tuple(Node(sub) for _, _, sub in program[1])
        elif self.kind == K_RECORDS:
            self.branches = {name: (index, Node(sub)) for name, index, sub in program[1]}


cdef class AvroWriter:
    """Appends the Avro binary of a value to a bytearray (see the module's docstring)."""

    cdef Node root
    cdef int form
    cdef object zigzag
    cdef object micros
    cdef object json_micros
    cdef object json_days

    def __init__(self, program, form, helpers):
        """`helpers`: the Python writer's own functions (`zigzag`, `_micros`, `_json_micros`,
        `_json_days`) for the values the fast path leaves to them."""
        self.root = Node(program)
        self.form = _FORMS[form]
        self.zigzag = helpers["zigzag"]
        self.micros = helpers["_micros"]
        self.json_micros = helpers["_json_micros"]
        self.json_days = helpers["_json_days"]

    def __call__(self, value, bytearray out):
        cdef Buf buf
        cdef Py_ssize_t size
        buf.data = NULL
        buf.size = 0
        buf.cap = 0
        try:
            self.emit(&buf, self.root, value)
            size = PyByteArray_GET_SIZE(out)
            PyByteArray_Resize(out, size + buf.size)
            if buf.size:
                memcpy(PyByteArray_AS_STRING(out) + size, buf.data, buf.size)
        finally:
            free(buf.data)

    def field_parts(self, value):
        """The Avro binary of each field of record `value`, in schema order (their
        concatenation is what calling the writer appends)."""
        cdef Buf buf
        cdef Py_ssize_t i, start
        cdef Node node = self.root
        cdef list parts = []
        if node.kind != K_RECORD:
            raise TypeError("field_parts needs a record program")
        buf.data = NULL
        buf.size = 0
        buf.cap = 0
        try:
            for i in range(len(node.fields)):
                start = buf.size
                self.emit(&buf, <Node>node.fields[i], self.field(node, i, value))
                parts.append(PyBytes_FromStringAndSize(buf.data + start, buf.size - start))
        finally:
            free(buf.data)
        return parts

    cdef object field(self, Node node, Py_ssize_t i, object o):
        cdef object name = node.names[i]
        cdef tuple default
        if self.form == F_MODEL:
            return PyObject_GetAttr(o, name)
        default = <tuple>node.defaults[i]
        if <int>default[0] == D_NONE:
            return o[name]
        if <int>default[0] == D_VALUE:
            return o.get(name, default[1])
        return o.get(name) or default[1]

    cdef int emit(self, Buf* out, Node node, object v) except -1:
        cdef int kind = node.kind
        cdef Py_ssize_t i, size
        cdef const char* text
        cdef long long n
        cdef int overflow
        cdef object item, key, branch
        if kind == K_OPTIONAL:
            if v is None:
                put_byte(out, 0)
            else:
                put_byte(out, 2)
                self.emit(out, node.child, v)
        elif kind == K_STRING:
            if isinstance(v, str):
                text = PyUnicode_AsUTF8AndSize(v, &size)
                put_varlong(out, size)
                put(out, text, size)
            else:  # as the Python writer: `v.encode()` (an AttributeError for a non-string)
                item = v.encode()
                put_varlong(out, len(item))
                put_bytes_object(out, item)
        elif kind == K_RECORD:
            for i in range(len(node.fields)):
                self.emit(out, <Node>node.fields[i], self.field(node, i, v))
        elif kind == K_LONG:
            n = PyLong_AsLongLongAndOverflow(v, &overflow) if type(v) is int or type(v) is bool \
                else 0
            if (type(v) is int or type(v) is bool) and not overflow:
                put_varlong(out, n)
            else:
                put_bytes_object(out, self.zigzag(v))
        elif kind == K_ENUM:
            put_bytes_object(out, node.symbols[enum_key(v)])
        elif kind == K_BOOLEAN:
            put_byte(out, 1 if PyObject_IsTrue(v) else 0)
        elif kind == K_TIMESTAMP:
            self.timestamp(out, v)
        elif kind == K_DATE:
            if self.form == F_JSON:
                put_bytes_object(out, self.zigzag(self.json_days(v)))
            elif isinstance(v, date):
                put_varlong(out, days_from_civil(
                    PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v)))
            else:
                put_bytes_object(out, self.zigzag(v.toordinal() - 719163))
        elif kind == K_ARRAY:
            if v:
                put_varlong(out, len(v))
                for item in v:
                    self.emit(out, node.child, item)
            put_byte(out, 0)
        elif kind == K_UUID:
            put_byte(out, 0x48)
            if type(v) is UUID:
                put_uuid(out, v.int.to_bytes(16, "big"))
            else:
                put_bytes_object(out, str(v).encode())
        elif kind == K_RECORDS:
            name = type(v).__name__
            branch = node.branches.get(name)
            if branch is None:
                raise TypeError("no union branch for " + name)
            put_bytes_object(out, <bytes>branch[0])
            self.emit(out, <Node>branch[1], v)
        elif kind == K_MAP:
            if v:
                put_varlong(out, len(v))
                for key, item in v.items():
                    key = key.encode()
                    put_varlong(out, len(key))
                    put_bytes_object(out, key)
                    self.emit(out, node.child, item)
            put_byte(out, 0)
        elif kind == K_DOUBLE:
            put_bytes_object(out, _pack_double(v))
        elif kind == K_BYTES:
            put_varlong(out, len(v))
            put_bytes_object(out, v)
        # K_NULL writes nothing
        return 0

    cdef int timestamp(self, Buf* out, object v) except -1:
        """`(v - 1970-01-01T00:00Z) // 1 µs`: an aware datetime's fields less its UTC offset."""
        cdef long long days, micros
        cdef object tz, offset
        if self.form == F_JSON:
            put_bytes_object(out, self.zigzag(self.json_micros(v)))
            return 0
        tz = datetime_tzinfo(v) if type(v) is datetime else None
        offset = None
        if tz is not None and tz is not _UTC:
            offset = v.utcoffset()
        if tz is None or (tz is not _UTC and offset is None):
            put_bytes_object(out, self.zigzag(self.micros(v)))  # the Python writer's error
            return 0
        days = days_from_civil(
            PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v))
        micros = (
            ((days * 24 + PyDateTime_DATE_GET_HOUR(v)) * 60 + PyDateTime_DATE_GET_MINUTE(v))
            * 60 + PyDateTime_DATE_GET_SECOND(v)
        ) * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v)
        if offset is not None:
            micros -= (
                (<long long>timedelta_days(offset) * 86400 + timedelta_seconds(offset)) * 1000000
                + timedelta_microseconds(offset)
            )
        put_varlong(out, micros)
        return 0
