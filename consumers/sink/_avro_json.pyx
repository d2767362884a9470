# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Avro binary of one record straight to its stored JSON text, in C (see `json_program.py`).

`JsonReader(program)` runs a program built by `json_program.build_program` from an Avro record
schema; calling it with `(body, position)` reads one record at that position and returns its
JSON text (keys sorted; at the top, fields that are None or [] left out) and the position after
it: exactly what the generated Python reader of `transcode.py` returns (a property test holds
the two together). Truncated input raises EOFError; a bad union or enum index, a negative
length, a varint longer than 64 bits or a date out of Python's range raise ValueError; bad
UTF-8 raises UnicodeDecodeError.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from databus._avro_c cimport (
    MAX_DAYS,
    MIN_DAYS,
    Buf,
    civil_from_days,
    put,
    read_long,
    reserve,
    take_byte,
)

from json.encoder import encode_basestring

cdef enum:
    MAX_FIELDS = 256

cdef enum Kind:
    K_NULL = 0
    K_BOOLEAN = 1
    K_LONG = 2
    K_STRING = 3
    K_DATE = 4
    K_ENUM = 5
    K_ARRAY = 6
    K_RECORD = 7
    K_OPTIONAL = 8

_KINDS = {
    "null": K_NULL,
    "boolean": K_BOOLEAN,
    "long": K_LONG,
    "string": K_STRING,
    "date": K_DATE,
    "enum": K_ENUM,
    "array": K_ARRAY,
    "record": K_RECORD,
    "optional": K_OPTIONAL,
}

cdef const char* HEX = b"0123456789abcdef"


cdef class Node:
    """One type of the program: its kind, what it holds (a record's fields, an array's items,
    an enum's symbol texts) and, for a record, the output order of its fields."""

    cdef int kind
    cdef bint top
    cdef Node child
    cdef list fields
    cdef list keys
    cdef list symbols
    cdef Py_ssize_t count
    cdef Py_ssize_t order[MAX_FIELDS]

    def __init__(self, program):
        kind = program[0]
        self.kind = _KINDS[kind]
        self.top = False
        self.count = 0
        if self.kind == K_ENUM:
            self.symbols = [s.encode() for s in program[1]]
        elif self.kind == K_ARRAY or self.kind == K_OPTIONAL:
            self.child = Node(program[1])
        elif self.kind == K_RECORD:
            self.top = bool(program[1])
            names = [name for name, _ in program[2]]
            if len(names) > MAX_FIELDS:
                raise ValueError(f"a record of more than {MAX_FIELDS} fields")
            self.count = len(names)
            self.fields = [Node(sub) for _, sub in program[2]]
            for i, index in enumerate(sorted(range(len(names)), key=lambda k: names[k])):
                self.order[i] = index
            self.keys = [
                (encode_basestring(names[self.order[i]]) + ": ").encode()
                for i in range(self.count)
            ]


cdef class JsonReader:
    """Reads one Avro record into its stored JSON text (see the module's docstring)."""

    cdef Node root

    def __init__(self, program):
        self.root = Node(program)
        if self.root.kind != K_RECORD:
            raise ValueError("the program's root must be a record")

    def __call__(self, bytes body, Py_ssize_t position):
        cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(body)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
        cdef Py_ssize_t p = position
        cdef bint empty = False
        cdef Buf out
        out.data = NULL
        out.size = 0
        out.cap = 0
        if p < 0 or p > n:
            raise EOFError("the Avro body is truncated")
        try:
            reserve(&out, 2 * n + 64)
            emit(&out, self.root, b, n, &p, &empty)
            return PyUnicode_DecodeUTF8(out.data, out.size, "strict"), p
        finally:
            free(out.data)


cdef int emit(
    Buf* out, Node node, const unsigned char* b, Py_ssize_t n, Py_ssize_t* p, bint* empty
) except -1:
    """Appends the JSON of the value at b[p] to `out`; `empty` says whether it was null or an
    array without items (what the top record leaves out)."""
    cdef long long value
    cdef Py_ssize_t count
    cdef bint first, ignored
    cdef bytes symbol
    cdef int index
    empty[0] = False
    if node.kind == K_STRING:
        value = read_long(b, n, p)
        if value < 0:
            raise ValueError("negative length")
        if value > n - p[0]:
            raise EOFError("the Avro body is truncated")
        put_string(out, b + p[0], <Py_ssize_t>value)
        p[0] += value
    elif node.kind == K_OPTIONAL:
        index = take_byte(b, n, p)
        if index == 0:
            put(out, b"null", 4)
            empty[0] = True
        elif index == 2:
            emit(out, node.child, b, n, p, empty)
        else:
            raise ValueError("union index out of range")
    elif node.kind == K_LONG:
        put_long(out, read_long(b, n, p))
    elif node.kind == K_BOOLEAN:
        if take_byte(b, n, p) == 1:
            put(out, b"true", 4)
        else:
            put(out, b"false", 5)
    elif node.kind == K_DATE:
        put_date(out, read_long(b, n, p))
    elif node.kind == K_ENUM:
        value = read_long(b, n, p)
        if value < 0 or value >= len(node.symbols):
            raise ValueError("enum index out of range")
        symbol = node.symbols[value]
        put_string(out, <const unsigned char*>PyBytes_AS_STRING(symbol),
                   PyBytes_GET_SIZE(symbol))
    elif node.kind == K_ARRAY:
        put(out, b"[", 1)
        first = True
        count = read_long(b, n, p)
        while count:
            if count < 0:
                count = -count
                read_long(b, n, p)  # the block's size in bytes
            while count:
                if not first:
                    put(out, b", ", 2)
                first = False
                emit(out, node.child, b, n, p, &ignored)
                count -= 1
            count = read_long(b, n, p)
        put(out, b"]", 1)
        empty[0] = first
    elif node.kind == K_RECORD:
        record(out, node, b, n, p)
    else:  # K_NULL
        put(out, b"null", 4)
        empty[0] = True
    return 0


cdef int record(Buf* out, Node node, const unsigned char* b, Py_ssize_t n, Py_ssize_t* p) except -1:
    """Reads the fields in the schema's order, then rewrites them in sorted key order."""
    cdef Py_ssize_t starts[MAX_FIELDS]
    cdef Py_ssize_t ends[MAX_FIELDS]
    cdef bint empties[MAX_FIELDS]
    cdef Py_ssize_t base = out.size
    cdef Py_ssize_t i, index, size
    cdef bint first = True
    cdef bytes key
    cdef char* region
    for i in range(node.count):
        starts[i] = out.size - base
        emit(out, <Node>node.fields[i], b, n, p, &empties[i])
        ends[i] = out.size - base
    size = out.size - base
    region = <char*>malloc(size + 1)
    if region == NULL:
        raise MemoryError()
    try:
        memcpy(region, out.data + base, size)
        out.size = base
        put(out, b"{", 1)
        for i in range(node.count):
            index = node.order[i]
            if node.top and empties[index]:
                continue
            if not first:
                put(out, b", ", 2)
            first = False
            key = <bytes>node.keys[i]
            put(out, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
            put(out, region + starts[index], ends[index] - starts[index])
        put(out, b"}", 1)
    finally:
        free(region)
    return 0

cdef int put_string(Buf* out, const unsigned char* text, Py_ssize_t size) except -1:
    """A JSON string of UTF-8 `text`, escaped as `json.encoder.encode_basestring` escapes."""
    cdef Py_ssize_t i, run = 0
    cdef unsigned char c
    reserve(out, size + 2)
    out.data[out.size] = b'"'
    out.size += 1
    for i in range(size):
        c = text[i]
        if c >= 0x20 and c != 0x22 and c != 0x5C:
            continue
        put(out, <const char*>text + run, i - run)
        run = i + 1
        if c == 0x22:
            put(out, b'\\"', 2)
        elif c == 0x5C:
            put(out, b"\\\\", 2)
        elif c == 0x0A:
            put(out, b"\\n", 2)
        elif c == 0x0D:
            put(out, b"\\r", 2)
        elif c == 0x09:
            put(out, b"\\t", 2)
        elif c == 0x08:
            put(out, b"\\b", 2)
        elif c == 0x0C:
            put(out, b"\\f", 2)
        else:
            put(out, b"\\u00", 4)
            reserve(out, 2)
            out.data[out.size] = HEX[c >> 4]
            out.data[out.size + 1] = HEX[c & 0xF]
            out.size += 2
    put(out, <const char*>text + run, size - run)
    put(out, b'"', 1)
    return 0


cdef int put_long(Buf* out, long long value) except -1:
    cdef char digits[24]
    cdef int i = 24
    cdef unsigned long long magnitude = (<unsigned long long>(-(value + 1))) + 1 if value < 0 \
        else <unsigned long long>value
    while True:
        i -= 1
        digits[i] = <char>(48 + magnitude % 10)
        magnitude //= 10
        if magnitude == 0:
            break
    if value < 0:
        i -= 1
        digits[i] = b"-"
    return put(out, digits + i, 24 - i)


cdef int put_date(Buf* out, long long days) except -1:
    """A quoted ISO date of `days` since 1970-01-01, as `date.isoformat` writes it (years 1 to
    9999, as `date.fromordinal` allows)."""
    cdef int y, m, d
    cdef char text[12]
    if days < MIN_DAYS or days > MAX_DAYS:
        raise ValueError("a date out of range")
    civil_from_days(days, &y, &m, &d)
    text[0] = b'"'
    text[1] = <char>(48 + y // 1000)
    text[2] = <char>(48 + y // 100 % 10)
    text[3] = <char>(48 + y // 10 % 10)
    text[4] = <char>(48 + y % 10)
    text[5] = b"-"
    text[6] = <char>(48 + m // 10)
    text[7] = <char>(48 + m % 10)
    text[8] = b"-"
    text[9] = <char>(48 + d // 10)
    text[10] = <char>(48 + d % 10)
    text[11] = b'"'
    return put(out, text, 12)
