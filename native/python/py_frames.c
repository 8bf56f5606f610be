/* Copies the calling thread's own Python frames from inside a signal handler.
 *
 * The capture code signals a thread it wants to inspect; the handler, running on
 * that thread, calls awd_walk_current_thread() to copy the thread's Python frame
 * chain into a preallocated awd_py_stack. Walking one's *own* frames is what
 * makes this safe where faulthandler's walk of other threads is not: while the
 * thread sits in our handler it cannot pop, free or unmap its own frames, so the
 * chain holds still except for the few instructions of a push or pop that the
 * signal may have interrupted. The frame layout is private to each CPython minor
 * version, so this file is compiled against the internal headers of the one
 * version it runs on, with a #if block per version (3.9 to 3.15).
 *
 * What everything below assumes (it all runs inside the signal handler):
 *  - It runs on the thread being sampled. It takes no lock and allocates
 *    nothing. Besides memcpy/memset, the only functions it calls are
 *    PyGILState_GetThisThreadState(), whose whole body on 3.9-3.14 is a flag
 *    check and pthread_getspecific() (checked in each version's libpython
 *    disassembly; glibc's pthread_getspecific is lock-free plain reads) and on
 *    3.15 one read of a thread-local variable (`mov %fs:-0x28, %rax` in
 *    Debian's 3.15.2), and mincore(2).
 *  - The thread state, and what only its own thread changes (the _PyCFrame chain
 *    on its C stack, the list of frame data-stack chunks), is read as it is:
 *    CPython clears the TSS slot before freeing a thread state, and unlinks a
 *    data-stack chunk before unmapping it (_PyThreadState_PopFrame, checked in
 *    the 3.11-3.13 disassembly; the same code in the 3.14/3.15 source).
 *  - Anything else -- a frame outside a chunk, a code object, a string, a line
 *    table -- may be stale or half-written if the signal landed inside a push
 *    or pop (or a greenlet switch), so each object's memory is checked to be
 *    mapped (mincore) and its type to be exactly the expected one before a
 *    field is read; a frame must also lie where its owner keeps such frames.
 *    The eval loop does leave stale pointers in the chain for a few
 *    instructions at a time (see awd_step and, for 3.11/3.12, awd_walk_frames);
 *    a chain that does not check out is cut or taken back, so a sample taken in
 *    such a window comes out short or empty (up to 3 in 1,000 samples of a
 *    thread doing nothing but calls, on 3.12; none on 3.9, 3.10, 3.13) rather
 *    than with frames that are not on the stack.
 *    Reads are bounded by the objects' own lengths and by fixed caps. mincore
 *    proves a page is mapped, not that it is readable: a stale pointer into a
 *    PROT_NONE guard page would still fault; CPython's allocators make none.
 *  - It uses about 1.5 KiB of the handler's stack.
 *  - Sampling must stop before finalization frees thread states (atexit): a
 *    daemon thread's TSS slot then still points at its freed thread state.
 *
 * Line numbers and names come from the same fields CPython's own
 * PyFrame_GetLineNumber / traceback code reads; the line tables are parsed here
 * rather than with PyCode_Addr2Line because 3.9's version calls PyBytes_Size
 * (which raises on a bad object) and 3.11's indexes an optional side array
 * without a bound; here every read is bounded by the table's length. */

/* Which build this is comes first: pyconfig.h says whether it is free-threaded
 * (Py_GIL_DISABLED), and such a build gets a walker that refuses (below)
 * without the internal headers, whose free-threaded layouts are not read. */
#include <patchlevel.h>
#include <pyconfig.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x03100000
#error "py_frames.c knows the frame layouts of CPython 3.9 to 3.15 only"
#endif

#ifdef Py_GIL_DISABLED
/* Free-threaded CPython (3.13t+): other threads run truly concurrently, object
 * headers and frames differ (ob_tid, thread-local bytecode) and code objects
 * are freed without a GIL: the walker here was never checked against that.
 * The module still builds, so that importing it works, but it has no walker:
 * awd_py_frames_unsupported() says why, the module refuses to install the
 * capture handler, and the Python side refuses to start a watchdog before
 * that. Nothing here reads CPython's structures. */
#include <errno.h>
#include <string.h>

#include "py_frames.h"

const char *awd_py_frames_unsupported(void) {
  return "aiowatchdog does not support free-threaded CPython builds "
         "(Py_GIL_DISABLED): its Python frame walker reads the GIL build's "
         "frame layout";
}

/* Called once at import with the GIL held. Nothing to cache. */
void awd_py_frames_init(void) {}

/* Async-signal-safe (writes *out only). Never installed as a walker on this
 * build; if it were called, it reports the thread as having no Python. */
void awd_walk_current_thread(awd_py_stack *out) {
  int saved_errno = errno;
  out->thread_ident = 0;
  out->has_python = 0;
  out->depth = 0;
  out->truncated = 0;
  errno = saved_errno;
}

#else /* GIL builds: the rest of the file */

#define Py_BUILD_CORE 1 /* the frame structs are in the internal headers */
#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h> /* 3.9/3.10: PyFrameObject is public */
#else
#include <internal/pycore_frame.h> /* 3.11+: _PyInterpreterFrame */
#endif
#if PY_VERSION_HEX >= 0x030E0000
/* 3.14+: _PyInterpreterFrame and the generator structs moved here. */
#include <internal/pycore_interpframe_structs.h>
#endif

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame_layout.h"
#include "line_tables.h"
#include "py_frames.h"

/* Frames followed per walk, recorded or skipped (3.12+ adds a C-stack shim
 * frame per Python-to-C-to-Python transition); a cycle in a corrupt chain ends
 * here too. */
#define AWD_MAX_HOPS (4 * AWD_MAX_PY_FRAMES + 64)
/* Data-stack chunks remembered per walk. A chunk (16 KiB or more) holds about
 * a hundred frames, so this covers far more than AWD_MAX_HOPS frames; if a
 * thread has more, frames in the chunks left out are taken as in use. */
#define AWD_MAX_CHUNKS 32
/* Pages remembered as mapped per walk: the code objects, names and line tables
 * of one module tend to share pages, and mincore is a system call (about 1 us
 * in a VM). */
#define AWD_PAGE_CACHE 16
/* Line tables longer than this are treated as corrupt (real ones are a few KiB). */
#define AWD_MAX_LINETABLE (1 << 24)

/* Page size for mincore; 0 until awd_py_frames_init() (then nothing is
 * checked with mincore and objects are trusted). */
static size_t awd_page_size;
/* Set once mincore has failed with something other than ENOMEM or EAGAIN (a
 * seccomp filter, say); from then on objects are trusted as when it is missing. */
static volatile sig_atomic_t awd_mincore_unusable;

/* The walker works on every GIL build this file compiles for. */
const char *awd_py_frames_unsupported(void) { return NULL; }

/* Called once at import with the GIL held (not in a signal handler). */
void awd_py_frames_init(void) {
  /* Binds what the handler's PyGILState_GetThisThreadState calls now: on
   * 3.14 that is pthread_getspecific through the interpreter's PLT, and
   * Debian's python3.14 is linked without BIND_NOW, so the first call would
   * run the dynamic linker's lazy resolver (locks) -- not in a handler. */
  (void)PyGILState_GetThisThreadState();
  long page = sysconf(_SC_PAGESIZE);
  awd_page_size = page > 0 && (page & (page - 1)) == 0 ? (size_t)page : 0;
}

/* One frame data-stack chunk: frames in [lo, live) are in use, frames in
 * [live, hi) have been popped (their memory is intact until reused). */
typedef struct {
  uintptr_t lo, live, hi;
} awd_range;

/* What one walk has learned; lives on the handler's stack (under 1 KiB). */
typedef struct {
#if PY_VERSION_HEX >= 0x030B0000
  awd_range chunks[AWD_MAX_CHUNKS]; /* the thread's data-stack chunks */
  int nchunks;
  int more_chunks; /* the thread has more chunks than were noted */
#endif
  uintptr_t pages[AWD_PAGE_CACHE]; /* page numbers found mapped, a ring */
  int next_page;
  PyCodeObject *last_code; /* code object of the last recorded frame ... */
  int last_index;          /* ... its record, to reuse its names ... */
  const unsigned char *table; /* ... and its checked line table */
  Py_ssize_t table_len;
} awd_walk;

/* Runs in a signal handler (or with the GIL, in tests). Starts a walk. */
static void awd_walk_init(awd_walk *w) {
  memset(w, 0, sizeof *w);
  w->last_index = -1;
}

/* ---- memory checks ------------------------------------------------------ */

/* Signal handler context. Whether page number pn is in the walk's cache. */
static int awd_page_known(const awd_walk *w, uintptr_t pn) {
  for (int i = 0; i < AWD_PAGE_CACHE; i++) {
    if (w->pages[i] == pn) {
      return 1;
    }
  }
  return 0;
}

/* Signal handler context. Whether [p, p + len) lies in mapped pages. Returns 1
 * when it cannot tell (not initialised, or mincore refused), leaving the type
 * checks as the only guard. Clobbers errno (the walker restores it). */
static int awd_mapped(awd_walk *w, const void *p, size_t len) {
  uintptr_t addr = (uintptr_t)p;
  if (addr < 4096 || len > AWD_MAX_LINETABLE + 4096 || addr + len < addr) {
    return 0;
  }
  size_t page = awd_page_size;
  if (page == 0 || awd_mincore_unusable) {
    return 1;
  }
  uintptr_t first = addr / page, last = (addr + (len ? len : 1) - 1) / page;
  uintptr_t pn = first;
  while (pn <= last && awd_page_known(w, pn)) {
    pn++;
  }
  if (pn > last) {
    return 1;
  }
  unsigned char vec[16];
  for (uintptr_t at = pn; at <= last;) {
    size_t pages = (size_t)(last - at + 1);
    if (pages > sizeof vec) {
      pages = sizeof vec;
    }
    if (mincore((void *)(at * page), pages * page, vec) != 0) {
      if (errno == ENOMEM || errno == EAGAIN) {
        return 0; /* unmapped, or the kernel could not look: do not read */
      }
      awd_mincore_unusable = 1;
      return 1;
    }
    at += pages;
  }
  for (; pn <= last && pn < first + AWD_PAGE_CACHE; pn++) {
    w->pages[w->next_page] = pn;
    w->next_page = (w->next_page + 1) % AWD_PAGE_CACHE;
  }
  return 1;
}

/* Signal handler context. Whether p can be a PyObject (aligned) whose first
 * len bytes are mapped. */
static int awd_object_mapped(awd_walk *w, const void *p, size_t len) {
  return p != NULL && ((uintptr_t)p & (sizeof(void *) - 1)) == 0 &&
         awd_mapped(w, p, len);
}

/* ---- strings ------------------------------------------------------------ */

/* Signal handler context. Copies str object s into dst (cap >= 2 bytes) as
 * NUL-terminated UTF-8, truncated to fit, by reading the object's kind and
 * data directly: PyUnicode_AsUTF8 would allocate and cache. Only compact
 * strings (everything the compiler makes) are read; a legacy or not-ready
 * string, a non-str or an unmapped object gives "?". */
static void awd_copy_str(awd_walk *w, char *dst, size_t cap, PyObject *s) {
  size_t used = 0;
  if (!awd_object_mapped(w, s, sizeof(PyASCIIObject)) ||
      Py_TYPE(s) != &PyUnicode_Type) {
    goto unknown;
  }
  const PyASCIIObject *a = (const PyASCIIObject *)s;
#if PY_VERSION_HEX < 0x030C0000
  if (!a->state.ready) {
    goto unknown;
  }
#endif
  unsigned int kind = a->state.kind;
  if (!a->state.compact || (kind != 1 && kind != 2 && kind != 4) ||
      (a->state.ascii && kind != 1) || a->length < 0) {
    goto unknown;
  }
  const char *data = a->state.ascii
                         ? (const char *)(a + 1)
                         : (const char *)((const PyCompactUnicodeObject *)s + 1);
  /* Every code point takes at least one byte, so at most cap - 1 are needed. */
  size_t n = (size_t)a->length < cap - 1 ? (size_t)a->length : cap - 1;
  if (n > 0 && !awd_mapped(w, data, n * kind)) {
    goto unknown;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = kind == 1   ? ((const uint8_t *)data)[i]
                  : kind == 2 ? ((const uint16_t *)data)[i]
                              : ((const uint32_t *)data)[i];
    size_t wrote = awd_put_utf8(dst + used, cap - 1 - used, cp);
    if (wrote == 0) {
      break;
    }
    used += wrote;
  }
  dst[used] = '\0';
  return;
unknown:
  dst[0] = '?';
  dst[1] = '\0';
}

/* ---- line tables -------------------------------------------------------- */

/* Signal handler context. Points *data and *len at the bytes of co's line
 * table; 0 if it is not a mapped bytes object of sane length. When co is the
 * code of the previous record, the table awd_record kept from it is reused. */
static int awd_code_table(awd_walk *w, PyCodeObject *co,
                          const unsigned char **data, Py_ssize_t *len) {
  if (co == w->last_code && w->table != NULL) {
    *data = w->table;
    *len = w->table_len;
    return 1;
  }
#if PY_VERSION_HEX < 0x030A0000
  PyObject *t = co->co_lnotab;
#else
  PyObject *t = co->co_linetable;
#endif
  if (!awd_object_mapped(w, t, sizeof(PyBytesObject)) ||
      Py_TYPE(t) != &PyBytes_Type) {
    return 0;
  }
  Py_ssize_t n = Py_SIZE(t);
  const unsigned char *p =
      (const unsigned char *)((const PyBytesObject *)t)->ob_sval;
  if (n < 0 || n > AWD_MAX_LINETABLE ||
      (n > 0 && !awd_mapped(w, p, (size_t)n))) {
    return 0;
  }
  *data = p;
  *len = n;
  return 1;
}

/* ---- frames ------------------------------------------------------------- */

/* A frame as awd_step() reads it. */
typedef struct {
  const void *next;  /* the caller's frame */
  PyCodeObject *code;
  int where;    /* 3.9/3.10: byte offset; 3.11+: instruction index */
  int lineno;   /* 3.9/3.10: the frame's own line when it is kept, else 0 */
  int is_entry; /* 3.11/3.12: the first frame of an eval-loop invocation */
  const void *gen; /* the generator/coroutine owning the frame, or NULL */
} awd_frame_view;

enum { AWD_STEP_RECORD, AWD_STEP_SKIP, AWD_STEP_STOP };

/* Consecutive frames skipped before the chain is taken for garbage: real
 * chains skip one incomplete frame, one C-stack entry frame or one frame being
 * popped at a time. */
#define AWD_MAX_SKIPS 16

/* Signal handler context. Whether co is a mapped code object. The code object
 * of the last recorded frame has been checked already. */
static int awd_code_ok(awd_walk *w, PyCodeObject *co) {
  if (co != NULL && co == w->last_code) {
    return 1;
  }
  return awd_object_mapped(w, co, sizeof(PyCodeObject)) &&
         Py_TYPE((PyObject *)co) == &PyCode_Type;
}

/* Signal handler context. Forgets the names and line table remembered from
 * the last record, when records are taken back. */
static void awd_forget_code(awd_walk *w) {
  w->last_code = NULL;
  w->last_index = -1;
  w->table = NULL;
}

#if PY_VERSION_HEX < 0x030B0000
/* Signal handler context. 3.9/3.10: reads frame object fp. A frame object is
 * linked into tstate->frame only once built (in another function, across a
 * call), and unlinked before it is freed, so none is skipped. */
static int awd_step(awd_walk *w, const void *fp, awd_frame_view *v) {
  PyFrameObject *f = (PyFrameObject *)fp;
  if (!awd_object_mapped(w, f, sizeof(PyFrameObject)) ||
      Py_TYPE((PyObject *)f) != &PyFrame_Type) {
    return AWD_STEP_STOP;
  }
  v->next = f->f_back;
  v->code = f->f_code;
  v->is_entry = 0;
  v->gen = f->f_gen; /* only the address is kept */
  if (!awd_code_ok(w, v->code)) {
    return AWD_STEP_STOP;
  }
#if PY_VERSION_HEX < 0x030A0000
  /* As PyFrame_GetLineNumber: f_lineno is kept only while tracing, else the
   * table at f_lasti, which counts bytes on 3.9. */
  v->lineno = f->f_trace != NULL ? f->f_lineno : 0;
  v->where = f->f_lasti;
#else
  /* As PyFrame_GetLineNumber: f_lineno when non-zero, else the table at
   * f_lasti * sizeof(_Py_CODEUNIT) (f_lasti counts code units on 3.10). */
  v->lineno = f->f_lineno;
  v->where = f->f_lasti < 0 ? -1 : f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#endif
  return AWD_STEP_RECORD;
}

#else /* 3.11+ */
/* Where a frame header lies, as far as the walk can tell. */
enum {
  AWD_AT_LIVE_STACK, /* in the used part of a data-stack chunk */
  AWD_AT_DEAD_STACK, /* in a chunk, above the used part: popped */
  AWD_AT_ELSEWHERE,  /* mapped, outside the chunks (generator, C stack) */
  AWD_AT_UNREADABLE,
};

/* Signal handler context. 3.11+: notes the thread's data-stack chunks and how
 * much of each is in use. Only this thread pushes and pops them, and a chunk
 * is unlinked before it is unmapped (_PyThreadState_PopFrame), so the list is
 * read as it is; a chunk whose header is not written yet is left out, and
 * frames in it then count as unreadable. */
static void awd_note_chunks(PyThreadState *ts, awd_walk *w) {
  const _PyStackChunk *c = ts->datastack_chunk;
  uintptr_t top = (uintptr_t)ts->datastack_top;
  for (int first = 1; c != NULL; c = c->previous, first = 0) {
    if (w->nchunks == AWD_MAX_CHUNKS) {
      w->more_chunks = 1;
      break;
    }
    if (((uintptr_t)c & (sizeof(void *) - 1)) != 0) {
      break;
    }
    if (c->size <= offsetof(_PyStackChunk, data) || c->size >= ((size_t)1 << 32)) {
      continue;
    }
    awd_range *r = &w->chunks[w->nchunks++];
    r->lo = (uintptr_t)c->data;
    r->hi = (uintptr_t)c + c->size;
    /* The chunk on top is used up to datastack_top; the others up to the top
     * they had when the next chunk was pushed. */
    uintptr_t live = first ? top : r->lo + c->top * sizeof(PyObject *);
    r->live = live >= r->lo && live <= r->hi ? live : r->lo;
  }
}

/* Signal handler context. Where the frame header at f lies. */
static int awd_frame_at(awd_walk *w, const void *f) {
  uintptr_t lo = (uintptr_t)f, hi = lo + sizeof(_PyInterpreterFrame);
  if (f == NULL || (lo & (sizeof(void *) - 1)) != 0) {
    return AWD_AT_UNREADABLE;
  }
  for (int i = 0; i < w->nchunks; i++) {
    if (lo >= w->chunks[i].lo && hi <= w->chunks[i].hi) {
      return lo < w->chunks[i].live ? AWD_AT_LIVE_STACK : AWD_AT_DEAD_STACK;
    }
  }
  return awd_mapped(w, f, sizeof(_PyInterpreterFrame)) ? AWD_AT_ELSEWHERE
                                                       : AWD_AT_UNREADABLE;
}

/* Signal handler context. Whether frame f is embedded at offset in a mapped
 * object of type t1 (or t2, t3): how generator frames and frames owned by a
 * frame object are recognised. */
static int awd_frame_in(awd_walk *w, const void *f, size_t offset,
                        PyTypeObject *t1, PyTypeObject *t2, PyTypeObject *t3) {
  const void *obj = (const char *)f - offset;
  if (!awd_object_mapped(w, obj, offset)) {
    return 0;
  }
  PyTypeObject *t = Py_TYPE((PyObject *)obj);
  return t == t1 || t == t2 || t == t3;
}

/* Signal handler context. 3.11+: reads _PyInterpreterFrame fp, checking it
 * against where its owner keeps such frames: a thread's in the used part of
 * its data stack, a generator's inside the generator, an entry frame (3.12+)
 * on the C stack. A frame above the used part is being popped -- CPython pops
 * some frames (RETURN_GENERATOR) before it unlinks them -- and is skipped, its
 * `previous` still being its caller. Also skips what CPython's traceback code
 * skips: entry frames, frames whose executable is not code (3.13+ shims), and
 * incomplete frames (_PyFrame_IsIncomplete: pushed, not yet at their first
 * traceable instruction; generator frames are always complete).
 *
 * The entry frame each eval-loop invocation links in on the C stack (owner
 * FRAME_OWNED_BY_CSTACK on 3.12/3.13, FRAME_OWNED_BY_INTERPRETER on 3.14+,
 * where CSTACK is still defined on 3.14 but set nowhere and is gone on 3.15)
 * closes that invocation's run of frames. 3.15 also ends every chain with a
 * sentinel frame owned by the interpreter embedded in the thread state
 * (_PyThreadStateImpl.base_frame, previous NULL): it is skipped the same way,
 * and since no frame was recorded after the last entry frame it marks nothing. */
static int awd_step(awd_walk *w, const void *fp, awd_frame_view *v) {
  const _PyInterpreterFrame *f = (const _PyInterpreterFrame *)fp;
  int at = awd_frame_at(w, f);
  if (at == AWD_AT_UNREADABLE) {
    return AWD_STEP_STOP;
  }
  v->next = f->previous;
  v->lineno = 0;
  v->gen = NULL;
#if PY_VERSION_HEX < 0x030C0000
  v->is_entry = f->is_entry;
#else
  v->is_entry = 0;
#endif
  int owner = f->owner;
  switch (owner) {
    case FRAME_OWNED_BY_THREAD:
      if (at == AWD_AT_DEAD_STACK) {
        return AWD_STEP_SKIP;
      }
      if (at != AWD_AT_LIVE_STACK &&
          !(at == AWD_AT_ELSEWHERE && w->more_chunks)) {
        return AWD_STEP_STOP;
      }
      break;
    case FRAME_OWNED_BY_GENERATOR:
      if (!awd_frame_in(w, f, offsetof(PyGenObject, gi_iframe), &PyGen_Type,
                        &PyCoro_Type, &PyAsyncGen_Type)) {
        return AWD_STEP_STOP;
      }
      v->gen = (const char *)f - offsetof(PyGenObject, gi_iframe);
      break;
    case FRAME_OWNED_BY_FRAME_OBJECT:
      if (!awd_frame_in(w, f, offsetof(PyFrameObject, _f_frame_data),
                        &PyFrame_Type, &PyFrame_Type, &PyFrame_Type)) {
        return AWD_STEP_STOP;
      }
      break;
#if PY_VERSION_HEX >= 0x030C0000
    AWD_CASE_ENTRY_FRAME
      /* On the C stack (or, for 3.15's base frame, in the thread state):
       * never in a data-stack chunk. */
      if (at != AWD_AT_ELSEWHERE) {
        return AWD_STEP_STOP;
      }
      v->is_entry = 1;
      return AWD_STEP_SKIP;
#endif
    default:
      return AWD_STEP_STOP;
  }
#if PY_VERSION_HEX >= 0x030D0000
  PyObject *exe = AWD_FRAME_EXECUTABLE(*f);
  if (!awd_object_mapped(w, exe, sizeof(PyObject))) {
    return AWD_STEP_STOP;
  }
  if (Py_TYPE(exe) != &PyCode_Type) {
    return AWD_STEP_SKIP; /* a shim frame (None) */
  }
  v->code = (PyCodeObject *)exe;
  const _Py_CODEUNIT *ip = f->instr_ptr; /* the current instruction */
#else
  v->code = f->f_code;
  const _Py_CODEUNIT *ip = f->prev_instr; /* the last one started */
#endif
  if (!awd_code_ok(w, v->code)) {
    return AWD_STEP_STOP;
  }
  /* _PyInterpreterFrame_LASTI, without trusting ip: it must fall inside the
   * code (or one unit before it, for a frame not started yet). */
  /* (_PyCode_CODE, which 3.14 moved to pycore_code.h: the code units start
   * at co_code_adaptive on 3.11-3.15 GIL builds.) */
  intptr_t bytes =
      (intptr_t)((uintptr_t)ip - (uintptr_t)v->code->co_code_adaptive);
  if (bytes % (intptr_t)sizeof(_Py_CODEUNIT) != 0) {
    return AWD_STEP_STOP;
  }
  intptr_t idx = bytes / (intptr_t)sizeof(_Py_CODEUNIT);
  if (idx < -1 || idx >= Py_SIZE(v->code)) {
    return AWD_STEP_STOP;
  }
  v->where = (int)idx;
  if (owner != FRAME_OWNED_BY_GENERATOR && idx < v->code->_co_firsttraceable) {
    return AWD_STEP_SKIP;
  }
  return AWD_STEP_RECORD;
}
#endif

/* Signal handler context. Fills record index of out for the frame in v. Names
 * and line table are reused from the previous record when it ran the same code
 * (deep recursion). */
static void awd_record(awd_walk *w, awd_py_stack *out, int index,
                       const awd_frame_view *v) {
  awd_py_frame *r = &out->frames[index];
  PyCodeObject *co = v->code;
  if (co == w->last_code && w->last_index >= 0) {
    memcpy(r->file, out->frames[w->last_index].file, sizeof r->file);
    memcpy(r->func, out->frames[w->last_index].func, sizeof r->func);
  } else {
    awd_copy_str(w, r->file, sizeof r->file, co->co_filename);
#if PY_VERSION_HEX >= 0x030B0000
    awd_copy_str(w, r->func, sizeof r->func, co->co_qualname);
#else
    awd_copy_str(w, r->func, sizeof r->func, co->co_name);
#endif
    awd_forget_code(w); /* the line table below belongs to co */
  }
  const unsigned char *table;
  Py_ssize_t table_len;
  if (v->lineno != 0) {
    r->line = v->lineno;
  } else if (awd_code_table(w, co, &table, &table_len)) {
    r->line = awd_table_line(table, table_len, co->co_firstlineno, v->where);
    w->table = table;
    w->table_len = table_len;
  } else {
    r->line = -1;
    w->table = NULL;
  }
  r->is_coroutine =
      (co->co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE)) != 0;
  r->coroutine = r->is_coroutine ? (uint64_t)(uintptr_t)v->gen : 0;
  r->entry_frame = 0; /* set by awd_run / awd_walk_frames for entry frames */
  /* Which eval-loop invocation (native frame) ran this frame, for merging
   * with the native stack: 3.9/3.10 run each frame in one of its own; 3.11
   * marks the frame that entered it; 3.12+ mark it with a C-stack entry frame
   * just outside it, which awd_run() turns into this flag. */
#if PY_VERSION_HEX < 0x030B0000
  r->is_entry = 1;
#elif PY_VERSION_HEX < 0x030C0000
  r->is_entry = v->is_entry != 0;
#else
  r->is_entry = 0;
#endif
  w->last_code = co;
  w->last_index = index;
}

/* How a run of frames ended. */
enum { AWD_RUN_END, AWD_RUN_ENTRY, AWD_RUN_BROKEN, AWD_RUN_OUT_OF_HOPS };

/* Signal handler context. Follows the chain from f, recording frames into
 * out from *depth on, until the chain ends, or (when stop_at_entry) an entry
 * frame has been read -- its `previous` then goes to *entry_next -- or
 * something does not check out. A frame past AWD_MAX_PY_FRAMES sets *more;
 * with stop_at_entry the run still goes on to its entry frame, so that the
 * caller can check it. */
static int awd_run(awd_walk *w, awd_py_stack *out, const void *f,
                   int stop_at_entry, int *depth, int *hops, int *more,
                   const void **entry_next) {
  int skips = 0;
  int recorded = -1; /* index of the last frame this run recorded */
  (void)recorded;    /* read on 3.12+ only */
  while (f != NULL) {
    if (*hops >= AWD_MAX_HOPS) {
      return AWD_RUN_OUT_OF_HOPS;
    }
    ++*hops;
    awd_frame_view v;
    int step = awd_step(w, f, &v);
    if (step == AWD_STEP_STOP) {
      return AWD_RUN_BROKEN;
    }
    if (step == AWD_STEP_SKIP && ++skips > AWD_MAX_SKIPS) {
      return AWD_RUN_BROKEN;
    }
    if (step == AWD_STEP_RECORD) {
      skips = 0;
      if (*depth < AWD_MAX_PY_FRAMES) {
        awd_record(w, out, *depth, &v);
        recorded = *depth;
        ++*depth;
      } else {
        *more = 1; /* keep the innermost frames */
        if (!stop_at_entry) {
          return AWD_RUN_END; /* nothing further to check */
        }
      }
    }
#if PY_VERSION_HEX >= 0x030C0000
    /* 3.12+: a skipped C-stack shim closes the invocation whose outermost
     * frame was just recorded. */
    if (step == AWD_STEP_SKIP && v.is_entry && recorded >= 0) {
      out->frames[recorded].is_entry = 1;
      out->frames[recorded].entry_frame = (uint64_t)(uintptr_t)f;
      recorded = -1;
    }
#endif
    if (stop_at_entry && v.is_entry) {
      *entry_next = v.next;
      return AWD_RUN_ENTRY;
    }
    f = v.next;
  }
  return AWD_RUN_END;
}

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
/* Signal handler context. 3.11/3.12: walks the chain one eval-loop invocation
 * at a time, along the _PyCFrame chain (on this thread's C stack): each
 * _PyCFrame's current_frame starts a run that must end at that invocation's
 * entry frame, whose `previous` must be the next _PyCFrame's current_frame. A
 * run that does not check out is taken back, so what is reported is a chain
 * CPython itself would walk. This matters: the eval loop links its new
 * _PyCFrame into the thread state a few instructions before it fills in the
 * _PyCFrame's current_frame and previous (3.11.7 stores both at once, after),
 * and a signal in that window finds stale pointers there, often to frames that
 * were real a moment ago. Such a sample comes out empty or short. */
static void awd_walk_frames(PyThreadState *ts, awd_walk *w, awd_py_stack *out) {
  awd_note_chunks(ts, w);
  int depth = 0, hops = 0, more = 0;
  const _PyCFrame *cf = ts->cframe;
  while (cf != NULL && hops < AWD_MAX_HOPS) {
    hops++;
    if (!awd_object_mapped(w, cf, sizeof *cf)) {
      break;
    }
    /* The next _PyCFrame is in the thread state or further up the C stack;
     * anything else is a stale pointer (see above): the walk ends there. */
    const _PyCFrame *outer = cf->previous;
    if (outer != NULL && outer != &ts->root_cframe &&
        ((uintptr_t)outer <= (uintptr_t)cf ||
         !awd_object_mapped(w, outer, sizeof *outer))) {
      outer = NULL;
    }
    const void *expect = outer != NULL ? outer->current_frame : NULL;
    int run_depth = depth, run_more = 0;
    const void *next = NULL;
    int how = awd_run(w, out, cf->current_frame, 1, &depth, &hops, &run_more,
                      &next);
    if (how == AWD_RUN_OUT_OF_HOPS) {
      more = 1; /* what was found stays: a long chain, not a broken one */
      break;
    }
    if (how == AWD_RUN_ENTRY && next == expect) {
      more |= run_more;
#if PY_VERSION_HEX < 0x030C0000
      /* 3.11: the invocation's _PyCFrame is a local of its eval loop. */
      if (depth > run_depth && out->frames[depth - 1].is_entry) {
        out->frames[depth - 1].entry_frame = (uint64_t)(uintptr_t)cf;
      }
#endif
    } else {
      depth = run_depth; /* take the run back */
      awd_forget_code(w);
    }
    if (more && depth == AWD_MAX_PY_FRAMES) {
      break;
    }
    cf = outer;
  }
  out->depth = depth;
  out->truncated = more;
}

#else
/* Signal handler context. 3.9/3.10 and 3.13+: one chain from the innermost
 * frame (3.13+ link a new invocation's entry frame before the frame itself,
 * so there is no window with a stale innermost pointer). */
static void awd_walk_frames(PyThreadState *ts, awd_walk *w, awd_py_stack *out) {
#if PY_VERSION_HEX < 0x030B0000
  const void *f = ts->frame;
#else
  awd_note_chunks(ts, w);
  const void *f = ts->current_frame;
#endif
  int depth = 0, hops = 0, more = 0;
  const void *next = NULL;
  if (awd_run(w, out, f, 0, &depth, &hops, &more, &next) ==
      AWD_RUN_OUT_OF_HOPS) {
    more = 1;
  }
  out->depth = depth;
  out->truncated = more;
}
#endif

/* Runs in a signal handler on the thread being sampled (see the top of the
 * file for what it assumes). Finds this thread's own thread state through the
 * GIL-state TSS slot, which stays set while the thread has released the GIL
 * (time.sleep, lock.acquire), unlike the "current" thread state. */
void awd_walk_current_thread(awd_py_stack *out) {
  int saved_errno = errno;
  out->thread_ident = 0;
  out->has_python = 0;
  out->depth = 0;
  out->truncated = 0;

  PyThreadState *ts = PyGILState_GetThisThreadState();
  if (ts != NULL) {
    out->has_python = 1;
    out->thread_ident = (uint64_t)ts->thread_id;
    awd_walk w;
    awd_walk_init(&w);
    awd_walk_frames(ts, &w, out);
  }
  errno = saved_errno;
}

#endif /* !Py_GIL_DISABLED */
