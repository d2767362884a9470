# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Check an event's plain data against its contract and write its Avro binary, in one walk, in C.

`FastChecker(program, ...)` runs a program of `schemas/fast_program.py`. Calling it with
`(data, out)` either appends to the bytearray `out` the Avro body the pydantic path would write
for `data` and returns True, or leaves `out` as it was and returns False: the data is not in a
form this checker takes (a value of another type than the canonical JSON one, a name part not
seen yet, a broken rule ...), and the caller validates it with pydantic instead, which gives
the same bytes or the error naming the field (`schemas.fast_events`). It never decides that
data is invalid. A property test (`tests/test_fast_events.py`) holds it to the pydantic path.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.datetime cimport date_new, datetime_new, import_datetime
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdlib cimport free
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from databus._avro_c cimport Buf, days_from_civil, put, put_byte, put_varlong, reserve

from datetime import timedelta, timezone

import_datetime()

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_IS_ASCII(object o)
    unsigned char* PyUnicode_1BYTE_DATA(object o)

cdef enum Kind:
    K_STR = 0
    K_LITERAL = 1
    K_ENUM = 2
    K_UUID = 3
    K_DATE = 4
    K_TIMESTAMP = 5
    K_OPTIONAL = 6
    K_LIST = 7
    K_RECORD = 8
    K_BRANCH = 9

cdef enum Rule:
    R_NONE = 0
    R_PIN = 1
    R_NAME = 2

_KINDS = {
    "str": K_STR,
    "literal": K_LITERAL,
    "enum": K_ENUM,
    "uuid": K_UUID,
    "date": K_DATE,
    "timestamp": K_TIMESTAMP,
    "optional": K_OPTIONAL,
    "list": K_LIST,
    "record": K_RECORD,
    "branch": K_BRANCH,
}
_RULES = {None: R_NONE, "pin": R_PIN, "name": R_NAME}

cdef long long MICROS_PER_DAY = 86400000000LL
cdef long long SKEW_MICROS = 300000000LL  # schemas.domain.dates.DEFAULT_SKEW
cdef long long LATEST_OFFSET_MICROS = 14 * 3600 * 1000000LL  # "today" is the date at UTC+14
cdef const char* HEX_LOWER = b"0123456789abcdef"
cdef int PATTERN_CACHE_MAX = 10000


cdef class Node:
    """One node of the program."""

    cdef int kind
    cdef Node child
    cdef Py_ssize_t min_length
    cdef Py_ssize_t max_length
    cdef object match  # a compiled pattern's `match`, or None
    cdef set matched  # values the pattern accepted
    cdef int rule
    cdef object literal
    cdef dict symbols
    cdef bint past
    cdef object path  # where `parsed` keeps the value, or None
    cdef tuple names
    cdef tuple required
    cdef tuple defaults
    cdef tuple fields
    cdef object hook
    cdef bytes branch

    def __init__(self, program):
        import re

        self.kind = _KINDS[program[0]]
        self.min_length = -1
        self.max_length = -1
        self.path = None
        if self.kind == K_STR:
            _, low, high, pattern, rule = program
            self.min_length = -1 if low is None else low
            self.max_length = -1 if high is None else high
            self.match = None if pattern is None else re.compile(pattern).match
            self.matched = set()
            self.rule = _RULES[rule]
        elif self.kind == K_LITERAL:
            self.literal = program[1]
        elif self.kind == K_ENUM:
            self.symbols = dict(program[1])
        elif self.kind == K_DATE:
            self.past = program[1]
            self.path = program[2]
        elif self.kind == K_TIMESTAMP:
            self.path = program[1]
        elif self.kind == K_OPTIONAL:
            self.child = Node(program[1])
        elif self.kind == K_LIST:
            self.child = Node(program[1])
            self.min_length = program[2]
        elif self.kind == K_RECORD:
            self.names = tuple(str(f[0]) for f in program[1])
            self.required = tuple(bool(f[1]) for f in program[1])
            self.defaults = tuple(f[2] for f in program[1])
            self.fields = tuple(Node(f[3]) for f in program[1])
            self.hook = program[2]
        elif self.kind == K_BRANCH:
            self.branch = program[1]
            self.child = Node(program[2])


cdef inline int digit(unsigned char c) noexcept:
    return c - 48 if 48 <= c <= 57 else -1


cdef inline int two(const unsigned char* s) noexcept:
    cdef int a = digit(s[0])
    cdef int b = digit(s[1])
    return -1 if a < 0 or b < 0 else a * 10 + b


cdef inline int hexval(unsigned char c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline int days_in_month(int y, int m) noexcept:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef int civil_date(const unsigned char* s, int* y, int* m, int* d) noexcept:
    """`YYYY-MM-DD` at s (10 bytes) into y, m, d; 0 when it is not a real date of years 1-9999."""
    cdef int hi = two(s)
    cdef int lo = two(s + 2)
    if hi < 0 or lo < 0 or s[4] != 45 or s[7] != 45:
        return 0
    y[0] = hi * 100 + lo
    m[0] = two(s + 5)
    d[0] = two(s + 8)
    if y[0] < 1 or m[0] < 1 or m[0] > 12 or d[0] < 1 or d[0] > days_in_month(y[0], m[0]):
        return 0
    return 1


cdef class FastChecker:
    """Checks and writes one event type (see the module's docstring)."""

    cdef Node root
    cdef char place_ok[1000]
    cdef dict names
    cdef dict zones
    cdef long long now_micros
    cdef long long today_days
    cdef long long earliest_date_days
    cdef long long earliest_instant_micros

    def __init__(self, program, place_codes, valid_names):
        """`place_codes`: the PIN place codes (3-digit strings); `valid_names`: the dict of
        name parts already checked, raw to normalised (`schemas.models.types._VALID_NAMES`)."""
        self.root = Node(program)
        memset(self.place_ok, 0, 1000)
        for text in place_codes:
            if len(text) == 3 and text.isascii() and text.isdigit():
                self.place_ok[int(text)] = 1
        self.names = valid_names
        self.zones = {0: timezone.utc}
        self.earliest_date_days = days_from_civil(1900, 1, 1)
        # 1900-01-01T00:00 at UTC+14 (schemas.domain.dates._EARLIEST_INSTANT)
        self.earliest_instant_micros = self.earliest_date_days * MICROS_PER_DAY - 14 * 3600000000LL

    def __call__(self, dict data, bytearray out):
        cdef Buf buf
        cdef Py_ssize_t size
        cdef timespec ts
        cdef dict parsed = {}
        cdef int ok
        clock_gettime(CLOCK_REALTIME, &ts)
        self.now_micros = <long long>ts.tv_sec * 1000000 + ts.tv_nsec // 1000
        self.today_days = (self.now_micros + LATEST_OFFSET_MICROS) // MICROS_PER_DAY
        buf.data = NULL
        buf.size = 0
        buf.cap = 0
        try:
            try:
                ok = self.walk(&buf, self.root, data, parsed)
            except Exception:  # a hook on data it did not expect: pydantic will say
                ok = 0
            if ok:
                size = PyByteArray_GET_SIZE(out)
                PyByteArray_Resize(out, size + buf.size)
                if buf.size:
                    memcpy(PyByteArray_AS_STRING(out) + size, buf.data, buf.size)
            return ok == 1
        finally:
            free(buf.data)

    cdef int walk(self, Buf* out, Node node, object v, dict parsed) except -1:
        cdef int kind = node.kind
        cdef Py_ssize_t i, count
        cdef PyObject* item
        cdef object value, known
        if kind == K_STR:
            return self.string(out, node, v)
        if kind == K_RECORD:
            if type(v) is not dict:
                return 0
            count = 0
            for i in range(len(node.fields)):
                item = PyDict_GetItem(v, node.names[i])
                if item == NULL:
                    if node.required[i]:
                        return 0
                    value = node.defaults[i]
                else:
                    count += 1
                    value = <object>item
                if not self.walk(out, <Node>node.fields[i], value, parsed):
                    return 0
            if count != len(<dict>v):  # a key that is no field (extra="forbid")
                return 0
            if node.hook is not None and not node.hook(v, parsed):
                return 0
            return 1
        if kind == K_OPTIONAL:
            if v is None:
                put_byte(out, 0)
                return 1
            put_byte(out, 2)
            return self.walk(out, node.child, v, parsed)
        if kind == K_ENUM:
            if type(v) is not str:
                return 0
            known = node.symbols.get(v)
            if known is None:
                return 0
            put(out, PyBytes_AS_STRING(known), PyBytes_GET_SIZE(known))
            return 1
        if kind == K_TIMESTAMP:
            return self.timestamp(out, node, v, parsed)
        if kind == K_DATE:
            return self.date(out, node, v, parsed)
        if kind == K_UUID:
            return self.uuid(out, v)
        if kind == K_LITERAL:
            if type(v) is not str or v != node.literal:
                return 0
            return self.put_str(out, v)
        if kind == K_LIST:
            if type(v) is not list:
                return 0
            count = len(<list>v)
            if count < node.min_length:
                return 0
            if count:
                put_varlong(out, count)
                for value in <list>v:
                    if not self.walk(out, node.child, value, parsed):
                        return 0
            put_byte(out, 0)
            return 1
        if kind == K_BRANCH:
            put(out, PyBytes_AS_STRING(node.branch), PyBytes_GET_SIZE(node.branch))
            return self.walk(out, node.child, v, parsed)
        return 0

    cdef int put_str(self, Buf* out, object v) except -1:
        cdef Py_ssize_t size
        cdef const char* text
        if PyUnicode_IS_ASCII(v):
            size = PyUnicode_GET_LENGTH(v)
            text = <const char*>PyUnicode_1BYTE_DATA(v)
        else:
            try:
                text = PyUnicode_AsUTF8AndSize(v, &size)
            except UnicodeError:  # a lone surrogate: no UTF-8 for it
                return 0
        put_varlong(out, size)
        put(out, text, size)
        return 1

    cdef int string(self, Buf* out, Node node, object v) except -1:
        cdef Py_ssize_t n
        cdef object known
        if type(v) is not str:
            return 0
        n = PyUnicode_GET_LENGTH(v)
        if (node.min_length >= 0 and n < node.min_length) or (
            node.max_length >= 0 and n > node.max_length
        ):
            return 0
        if node.rule == R_NAME:
            known = self.names.get(v)
            if known is None:  # not seen yet: pydantic checks and normalises it once
                return 0
            v = known
        elif node.rule == R_PIN and not self.pin(v):
            return 0
        if node.match is not None and v not in node.matched:
            if not PyUnicode_IS_ASCII(v) or "\n" in v or node.match(v) is None:
                return 0
            if len(node.matched) < PATTERN_CACHE_MAX:
                node.matched.add(v)
        return self.put_str(out, v)

    cdef int pin(self, object v) noexcept:
        """`schemas.domain.pin_issues(v)` is empty: 12 ASCII digits, a known place code."""
        cdef const unsigned char* s
        cdef int i
        if PyUnicode_GET_LENGTH(v) != 12 or not PyUnicode_IS_ASCII(v):
            return 0
        s = PyUnicode_1BYTE_DATA(v)
        for i in range(12):
            if digit(s[i]) < 0:
                return 0
        return self.place_ok[digit(s[0]) * 100 + digit(s[1]) * 10 + digit(s[2])]

    cdef int uuid(self, Buf* out, object v) except -1:
        """A UUID in its 8-4-4-4-12 hex form (either case), written as `str(UUID)` does."""
        cdef const unsigned char* s
        cdef int i, h
        if type(v) is not str or PyUnicode_GET_LENGTH(v) != 36 or not PyUnicode_IS_ASCII(v):
            return 0
        s = PyUnicode_1BYTE_DATA(v)
        for i in range(36):
            if i == 8 or i == 13 or i == 18 or i == 23:
                if s[i] != 45:
                    return 0
            elif hexval(s[i]) < 0:
                return 0
        put_byte(out, 0x48)
        reserve(out, 36)
        for i in range(36):
            h = hexval(s[i])
            out.data[out.size + i] = 45 if h < 0 else HEX_LOWER[h]
        out.size += 36
        return 1

    cdef int date(self, Buf* out, Node node, object v, dict parsed) except -1:
        cdef int y, m, d
        cdef long long days
        if type(v) is not str or PyUnicode_GET_LENGTH(v) != 10 or not PyUnicode_IS_ASCII(v):
            return 0
        if not civil_date(PyUnicode_1BYTE_DATA(v), &y, &m, &d):
            return 0
        days = days_from_civil(y, m, d)
        if node.past and (days > self.today_days or days < self.earliest_date_days):
            return 0
        put_varlong(out, days)
        if node.path is not None:
            parsed[node.path] = date_new(y, m, d)
        return 1

    cdef int timestamp(self, Buf* out, Node node, object v, dict parsed) except -1:
        """`YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)`, an instant neither in the future
        (beyond the skew) nor before 1900 anywhere (schemas.domain.timestamp_issues)."""
        cdef const unsigned char* s
        cdef Py_ssize_t n, p
        cdef int y, m, d, hh, mi, ss, frac, digits, sign, oh, om, offset_minutes
        cdef long long micros
        cdef object zone
        if type(v) is not str or not PyUnicode_IS_ASCII(v):
            return 0
        n = PyUnicode_GET_LENGTH(v)
        if n < 20:
            return 0
        s = PyUnicode_1BYTE_DATA(v)
        if not civil_date(s, &y, &m, &d) or s[10] != 84 or s[13] != 58 or s[16] != 58:
            return 0
        hh = two(s + 11)
        mi = two(s + 14)
        ss = two(s + 17)
        if hh < 0 or hh > 23 or mi < 0 or mi > 59 or ss < 0 or ss > 59:
            return 0
        p = 19
        frac = 0
        if s[p] == 46:  # '.'
            p += 1
            digits = 0
            while p < n and digit(s[p]) >= 0:
                if digits == 6:
                    return 0
                frac = frac * 10 + digit(s[p])
                digits += 1
                p += 1
            if digits == 0:
                return 0
            while digits < 6:
                frac *= 10
                digits += 1
        if p == n - 1 and s[p] == 90:  # 'Z'
            offset_minutes = 0
        elif p == n - 6 and (s[p] == 43 or s[p] == 45) and s[p + 3] == 58:
            sign = 1 if s[p] == 43 else -1
            oh = two(s + p + 1)
            om = two(s + p + 4)
            if oh < 0 or oh > 23 or om < 0 or om > 59:
                return 0
            offset_minutes = sign * (oh * 60 + om)
        else:
            return 0
        micros = (
            ((days_from_civil(y, m, d) * 24 + hh) * 60 + mi) * 60 + ss
        ) * 1000000LL + frac - offset_minutes * 60000000LL
        if micros > self.now_micros + SKEW_MICROS or micros < self.earliest_instant_micros:
            return 0
        put_varlong(out, micros)
        if node.path is not None:
            zone = self.zones.get(offset_minutes)
            if zone is None:
                zone = timezone(timedelta(minutes=offset_minutes))
                self.zones[offset_minutes] = zone
            parsed[node.path] = datetime_new(y, m, d, hh, mi, ss, frac, zone)
        return 1
