/* What both frame walkers (py_frames.c in a signal handler, py_frames_remote.c
 * on copies) decode from a code object's bytes: a str's code points as UTF-8,
 * and the line of an instruction from the code's line table, per CPython
 * version. Every function here is pure: async-signal-safe, no allocation, no
 * Python API; each reads only the buffer it is given, never past its end.
 * Included after Python.h (PY_VERSION_HEX, Py_ssize_t). */
#ifndef AIOWATCHDOG_PYTHON_LINE_TABLES_H_
#define AIOWATCHDOG_PYTHON_LINE_TABLES_H_

#include <stddef.h>
#include <stdint.h>

/* Signal handler context. Writes code point cp as UTF-8 into dst if the whole
 * sequence fits in room bytes; returns the bytes written, 0 if it does not fit
 * (so a sequence is never cut in half). Surrogates (which a str may hold, e.g.
 * from surrogateescape file names) and NUL become U+FFFD. */
static inline size_t awd_put_utf8(char *dst, size_t room, uint32_t cp) {
  if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    cp = 0xFFFD;
  }
  if (cp < 0x80) {
    if (room < 1) return 0;
    dst[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    if (room < 2) return 0;
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    if (room < 3) return 0;
    dst[0] = (char)(0xE0 | (cp >> 12));
    dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (room < 4) return 0;
  dst[0] = (char)(0xF0 | (cp >> 18));
  dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  dst[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

#if PY_VERSION_HEX < 0x030A0000
/* Signal handler context (pure). 3.9: the line of byte offset addr from
 * co_lnotab, pairs of (unsigned byte-offset increment, signed line increment)
 * from the first line; an offset belongs to the last pair whose offset it
 * reached, as in 3.9's PyCode_Addr2Line. */
static inline int awd_table_line(const unsigned char *p, Py_ssize_t n, int firstlineno,
                          int addr) {
  int line = firstlineno;
  long at = 0;
  for (Py_ssize_t i = 0; i + 1 < n; i += 2) {
    at += p[i];
    if (at > addr) {
      break;
    }
    line += (signed char)p[i + 1];
  }
  return line;
}

#elif PY_VERSION_HEX < 0x030B0000
/* Signal handler context (pure). 3.10: the line of byte offset addr from
 * co_linetable, pairs of (unsigned range length, signed line delta) from the
 * first line, where a delta of -128 marks a range with no line. A negative
 * offset (frame not started) is the first line, as in PyCode_Addr2Line. */
static inline int awd_table_line(const unsigned char *p, Py_ssize_t n, int firstlineno,
                          int addr) {
  if (addr < 0) {
    return firstlineno;
  }
  int line = firstlineno;
  long end = 0;
  for (Py_ssize_t i = 0; i + 1 < n; i += 2) {
    long start = end;
    end += p[i];
    signed char delta = (signed char)p[i + 1];
    if (delta != -128) {
      line += delta;
    }
    if (start <= addr && addr < end) {
      return delta == -128 ? -1 : line;
    }
  }
  return -1;
}

#else
/* Signal handler context (pure). Reads a location-table varint (6 bits a byte,
 * bit 6 says more follow) at *pp, not past lim; 0 if it runs out. */
static inline int awd_read_varint(const unsigned char **pp, const unsigned char *lim,
                           unsigned int *out) {
  const unsigned char *p = *pp;
  unsigned int value = 0;
  for (unsigned int shift = 0; shift < 32; shift += 6) {
    if (p >= lim) {
      return 0;
    }
    unsigned char b = *p++;
    value |= (unsigned int)(b & 63) << shift;
    if (!(b & 64)) {
      *pp = p;
      *out = value;
      return 1;
    }
  }
  return 0;
}

/* Signal handler context (pure). 3.11+: the line of instruction index idx from
 * the location table (Objects/locations.md). Each entry starts with a byte with
 * bit 7 set: bits 3-6 its form, bits 0-2 its length in code units minus one.
 * Forms 13 and 14 start with a signed-varint line delta, 10-12 have a delta of
 * form - 10, 0-9 a delta of 0, and 15 means no line for the range. idx -1
 * (frame not started) is the first line, as in PyCode_Addr2Line. */
static inline int awd_table_line(const unsigned char *p, Py_ssize_t n, int firstlineno,
                          int idx) {
  if (idx < 0) {
    return firstlineno;
  }
  const unsigned char *lim = p + n;
  int line = firstlineno;
  long end = 0;
  while (p < lim) {
    unsigned char head = *p++;
    if (!(head & 0x80)) {
      return -1; /* not at an entry start: corrupt */
    }
    int form = (head >> 3) & 15;
    end += (head & 7) + 1;
    if (form == 13 || form == 14) {
      unsigned int v;
      if (!awd_read_varint(&p, lim, &v)) {
        return -1;
      }
      line += (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
    } else if (form >= 10 && form <= 12) {
      line += form - 10;
    }
    if (idx < end) {
      return form == 15 ? -1 : line;
    }
    while (p < lim && !(*p & 0x80)) {
      p++; /* the rest of the entry: columns */
    }
  }
  return -1;
}
#endif

#endif  /* AIOWATCHDOG_PYTHON_LINE_TABLES_H_ */
