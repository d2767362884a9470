# cython: language_level=3
"""What the compiled Avro parts share (docs/architecture.md, "The compiled parts"): a growing
output buffer, Avro varints read and written, and days since 1970-01-01 to and from a civil
date. Inline functions only, cimported by `databus/_avro_read.pyx`, `schemas/_avro_write.pyx`
and `consumers/sink/_avro_json.pyx`."""

from libc.stdlib cimport realloc
from libc.string cimport memcpy


cdef enum:
    MIN_DAYS = -719162  # 0001-01-01, the first day `date.fromordinal` takes
    MAX_DAYS = 2932896  # 9999-12-31, its last


cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef inline int reserve(Buf* out, Py_ssize_t more) except -1:
    """Room for `more` bytes after `out.size`."""
    cdef Py_ssize_t cap
    cdef char* data
    if out.size + more <= out.cap:
        return 0
    cap = out.cap * 2 if out.cap else 512
    while cap < out.size + more:
        cap *= 2
    data = <char*>realloc(out.data, cap)
    if data == NULL:
        raise MemoryError()
    out.data = data
    out.cap = cap
    return 0


cdef inline int put(Buf* out, const char* text, Py_ssize_t size) except -1:
    reserve(out, size)
    memcpy(out.data + out.size, text, size)
    out.size += size
    return 0


cdef inline int put_byte(Buf* out, char byte) except -1:
    reserve(out, 1)
    out.data[out.size] = byte
    out.size += 1
    return 0


cdef inline int put_varlong(Buf* out, long long n) except -1:
    """Avro `long`: zig-zag, then base-128 varint."""
    cdef unsigned long long z = ((<unsigned long long>n) << 1) ^ (<unsigned long long>(n >> 63))
    reserve(out, 10)
    while z > 0x7F:
        out.data[out.size] = <char>((z & 0x7F) | 0x80)
        out.size += 1
        z >>= 7
    out.data[out.size] = <char>z
    out.size += 1
    return 0


cdef inline int take_byte(const unsigned char* b, Py_ssize_t n, Py_ssize_t* p) except -1:
    """The byte at b[p], advancing p; EOFError past the end."""
    if p[0] >= n:
        raise EOFError("the Avro body is truncated")
    p[0] += 1
    return b[p[0] - 1]


cdef inline long long read_long(const unsigned char* b, Py_ssize_t n, Py_ssize_t* p) except? -1:
    """The zig-zag varint at b[p] (at most 64 bits), advancing p."""
    cdef unsigned long long acc = 0
    cdef unsigned long long c
    cdef int shift = 0
    while True:
        if p[0] >= n:
            raise EOFError("the Avro body is truncated")
        c = b[p[0]]
        p[0] += 1
        if shift == 63 and c > 1:
            raise ValueError("a varint longer than 64 bits")
        acc |= (c & 0x7F) << shift
        if not c & 0x80:
            return <long long>((acc >> 1) ^ (-(acc & 1)))
        shift += 7


cdef inline void civil_from_days(long long days, int* year, int* month, int* day) noexcept:
    """The proleptic Gregorian date `days` after 1970-01-01, for years 0 to 9999 (Howard
    Hinnant's algorithm, whose divisions here are of non-negative numbers)."""
    cdef long long z = days + 719468
    cdef long long era = z // 146097
    cdef long long doe = z - era * 146097
    cdef long long yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef long long y = yoe + era * 400
    cdef long long doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef long long mp = (5 * doy + 2) // 153
    day[0] = <int>(doy - (153 * mp + 2) // 5 + 1)
    month[0] = <int>(mp + 3 if mp < 10 else mp - 9)
    year[0] = <int>(y + 1 if month[0] <= 2 else y)


cdef inline long long days_from_civil(long long y, long long m, long long d) noexcept:
    """Days since 1970-01-01 of a proleptic Gregorian date of years 1 to 9999."""
    cdef long long era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
