# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Avro binary of a record into the datum fastavro returns, in C (see `avro_read_program.py`).

`AvroReader(program)` runs a program built by `avro_read_program.read_program`; calling it
with an Avro body returns the datum: what the generated Python reader of `avro_reader.py`
returns (a property test holds the two together), `date` as `datetime.date`, timestamps as
UTC datetimes, `uuid` as `uuid.UUID`, enums as their symbol. Truncated input raises EOFError;
invalid union or enum indexes, negative lengths, bad UTF-8, a varint longer than 64 bits and
a date or time beyond Python's range raise ValueError. Trailing bytes are ignored.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport date_new, datetime_new, import_datetime
from cpython.dict cimport PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.unicode cimport PyUnicode_DecodeUTF8

from databus._avro_c cimport MAX_DAYS, MIN_DAYS, civil_from_days, read_long, take_byte

import struct
from datetime import timezone
from uuid import UUID

import_datetime()

cdef object _UTC = timezone.utc
cdef object _unpack_float = struct.Struct("<f").unpack_from
cdef object _unpack_double = struct.Struct("<d").unpack_from

cdef enum Kind:
    K_NULL = 0
    K_BOOLEAN = 1
    K_LONG = 2
    K_FLOAT = 3
    K_DOUBLE = 4
    K_BYTES = 5
    K_STRING = 6
    K_FIXED = 7
    K_DATE = 8
    K_TIMESTAMP_MICROS = 9
    K_TIMESTAMP_MILLIS = 10
    K_UUID = 11
    K_ENUM = 12
    K_ARRAY = 13
    K_MAP = 14
    K_UNION = 15
    K_RECORD = 16
    K_CALL = 17

_KINDS = {
    "null": K_NULL,
    "boolean": K_BOOLEAN,
    "long": K_LONG,
    "float": K_FLOAT,
    "double": K_DOUBLE,
    "bytes": K_BYTES,
    "string": K_STRING,
    "fixed": K_FIXED,
    "date": K_DATE,
    "timestamp-micros": K_TIMESTAMP_MICROS,
    "timestamp-millis": K_TIMESTAMP_MILLIS,
    "uuid": K_UUID,
    "enum": K_ENUM,
    "array": K_ARRAY,
    "map": K_MAP,
    "union": K_UNION,
    "record": K_RECORD,
    "call": K_CALL,
}

cdef long long DAY_MICROS = 86400 * 1000000
cdef long long HOUR_MICROS = 3600 * 1000000
cdef long long MAX_MILLIS = 9223372036854775  # beyond it, millis * 1000 leaves 64 bits


cdef class Node:
    """One type of the program (see `avro_read_program.py`)."""

    cdef int kind
    cdef Py_ssize_t size  # fixed
    cdef Node child
    cdef tuple symbols  # enum
    cdef tuple names  # record: interned field names
    cdef tuple fields  # record: Node per field; union: Node per branch
    cdef object call  # call: (body, position) -> (value, position after it)

    def __init__(self, program):
        self.kind = _KINDS[program[0]]
        if self.kind == K_FIXED:
            self.size = program[1]
        elif self.kind == K_ENUM:
            self.symbols = tuple(program[1])
        elif self.kind in (K_ARRAY, K_MAP):
            self.child = Node(program[1])
        elif self.kind == K_UNION:
            if len(program[1]) > 64:
                raise ValueError("a union of more than 64 branches")
            self.fields = tuple(Node(sub) for sub in program[1])
        elif self.kind == K_RECORD:
            self.names = tuple(str(name) for name, _ in program[1])
            self.fields = tuple(Node(sub) for _, sub in program[1])
        elif self.kind == K_CALL:
            self.call = program[1]


cdef class AvroReader:
    """Reads an Avro body into its datum (see the module's docstring)."""

    cdef Node root

    def __init__(self, program):
        self.root = Node(program)

    def __call__(self, bytes body):
        cdef Py_ssize_t p = 0
        return read(self.root, body, <const unsigned char*>PyBytes_AS_STRING(body),
                    PyBytes_GET_SIZE(body), &p)


cdef Py_ssize_t read_length(const unsigned char* b, Py_ssize_t n, Py_ssize_t* p) except -1:
    cdef long long length = read_long(b, n, p)
    if length < 0:
        raise ValueError("negative length")
    if length > n - p[0]:
        raise EOFError("the Avro body is truncated")
    return <Py_ssize_t>length


cdef object utc_datetime(long long micros):
    """1970-01-01T00:00Z plus `micros` µs, as `_EPOCH + timedelta(microseconds=micros)`."""
    cdef long long days = micros // DAY_MICROS
    cdef long long rest = micros - days * DAY_MICROS
    cdef int year, month, day
    if rest < 0:  # C division truncates: floor it
        rest += DAY_MICROS
        days -= 1
    if days < MIN_DAYS or days > MAX_DAYS:
        raise ValueError("a timestamp out of range")
    civil_from_days(days, &year, &month, &day)
    return datetime_new(
        year, month, day,
        <int>(rest // HOUR_MICROS), <int>(rest // 60000000 % 60), <int>(rest // 1000000 % 60),
        <int>(rest % 1000000), _UTC,
    )


cdef object read(Node node, bytes body, const unsigned char* b, Py_ssize_t n, Py_ssize_t* p):
    cdef int kind = node.kind
    cdef Py_ssize_t i, length
    cdef long long value, count
    cdef int index, year, month, day
    cdef object result, key
    cdef Py_ssize_t position
    if kind == K_STRING:
        length = read_length(b, n, p)
        result = PyUnicode_DecodeUTF8(<const char*>b + p[0], length, "strict")
        p[0] += length
        return result
    if kind == K_UNION:
        index = take_byte(b, n, p)
        if index & 1 or index >> 1 >= len(node.fields):
            raise ValueError("union index out of range")
        return read(<Node>node.fields[index >> 1], body, b, n, p)
    if kind == K_RECORD:
        result = {}
        for i in range(len(node.fields)):
            PyDict_SetItem(result, node.names[i], read(<Node>node.fields[i], body, b, n, p))
        return result
    if kind == K_LONG:
        return read_long(b, n, p)
    if kind == K_NULL:
        return None
    if kind == K_BOOLEAN:
        return take_byte(b, n, p) == 1
    if kind == K_ENUM:
        value = read_long(b, n, p)
        if value < 0 or value >= len(node.symbols):
            raise ValueError("enum index out of range")
        return node.symbols[value]
    if kind == K_DATE:
        value = read_long(b, n, p)
        if value < MIN_DAYS or value > MAX_DAYS:
            raise ValueError("a date out of range")
        civil_from_days(value, &year, &month, &day)
        return date_new(year, month, day)
    if kind == K_TIMESTAMP_MICROS:
        return utc_datetime(read_long(b, n, p))
    if kind == K_TIMESTAMP_MILLIS:
        value = read_long(b, n, p)
        if value > MAX_MILLIS or value < -MAX_MILLIS:
            raise ValueError("a timestamp out of range")
        return utc_datetime(value * 1000)
    if kind == K_ARRAY or kind == K_MAP:
        result = [] if kind == K_ARRAY else {}
        count = read_long(b, n, p)
        while count:
            if count < 0:
                count = -count
                read_long(b, n, p)  # the block's size in bytes
            while count:
                if kind == K_ARRAY:
                    PyList_Append(result, read(node.child, body, b, n, p))
                else:
                    length = read_length(b, n, p)
                    key = PyUnicode_DecodeUTF8(<const char*>b + p[0], length, "strict")
                    p[0] += length
                    PyDict_SetItem(result, key, read(node.child, body, b, n, p))
                count -= 1
            count = read_long(b, n, p)
        return result
    if kind == K_UUID:
        length = read_length(b, n, p)
        result = PyUnicode_DecodeUTF8(<const char*>b + p[0], length, "strict")
        p[0] += length
        return UUID(result)
    if kind == K_BYTES:
        length = read_length(b, n, p)
        result = PyBytes_FromStringAndSize(<const char*>b + p[0], length)
        p[0] += length
        return result
    if kind == K_FIXED:
        if node.size > n - p[0]:
            raise EOFError("the Avro body is truncated")
        result = PyBytes_FromStringAndSize(<const char*>b + p[0], node.size)
        p[0] += node.size
        return result
    if kind == K_DOUBLE or kind == K_FLOAT:
        length = 8 if kind == K_DOUBLE else 4
        if length > n - p[0]:
            raise EOFError("the Avro body is truncated")
        result = (_unpack_double if kind == K_DOUBLE else _unpack_float)(
            PyBytes_FromStringAndSize(<const char*>b + p[0], length))[0]
        p[0] += length
        return result
    if kind == K_CALL:
        result, position = node.call(body, p[0])
        if position < p[0] or position > n:
            raise EOFError("the Avro body is truncated")
        p[0] = position
        return result
    raise ValueError("unknown program node")
