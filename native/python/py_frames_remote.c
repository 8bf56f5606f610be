/* See py_frames_remote.h. Mirrors py_frames.c's per-version reading of the
 * frame chain (the same fields, the same skips), but from another thread and
 * through copies: each object is copied with process_vm_readv on our own pid
 * and checked before a field of it is used; addresses are only compared and
 * offset, never dereferenced. */

#define _GNU_SOURCE 1
#define Py_BUILD_CORE 1 /* the frame and interpreter structs are internal */
#include <Python.h>

#if PY_VERSION_HEX < 0x03090000
#error "py_frames_remote.c knows the layouts of CPython 3.9 to 3.15 only"
#endif

#if defined(Py_GIL_DISABLED)
/* Free-threaded builds: no remote walker (nor a signal-handler one,
 * py_frames.c). awd_remote_frames_init fails, so every thread is captured by
 * the signal path (remote_capture.h). */
#include "model/py_frames_remote.h"
int awd_remote_frames_init(void) { return -1; }
int awd_remote_note_threads(void) { return AWD_REMOTE_UNREADABLE; }
int awd_remote_walk_thread(pid_t tid, awd_py_stack *out) {
  (void)tid;
  (void)out;
  return AWD_REMOTE_UNREADABLE;
}
pid_t awd_remote_tstate_tid(const void *tstate) {
  (void)tstate;
  return 0;
}
#else

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#else
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x030E0000
/* 3.14+: _PyInterpreterFrame and the generator structs moved here. */
#include <internal/pycore_interpframe_structs.h>
#endif
#include <internal/pycore_interp.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame_layout.h"
#include "line_tables.h"
#include "model/py_frames_remote.h"

/* Thread states followed in the interpreter's list, frames per walk. */
#define AWD_R_MAX_THREADS 65536
#define AWD_R_MAX_HOPS (4 * AWD_MAX_PY_FRAMES + 64)
#define AWD_R_MAX_SKIPS 16
/* Line tables longer than this give line -1 (real ones are a few KiB). */
#define AWD_R_TABLE_MAX (256 * 1024)

static unsigned char *awd_r_table;      /* AWD_R_TABLE_MAX bytes, from init */
/* awd_remote_note_threads' table, sorted by tid. */
typedef struct {
  pid_t tid;
  const PyThreadState *ts;
} awd_r_thread;
static awd_r_thread *awd_r_threads;     /* AWD_R_MAX_THREADS entries, from init */
static int awd_r_nthreads;

/* What one frame's record took to read (names, line), kept for the rest of
 * the capture: the threads of a process mostly sit in the same few functions
 * (2,000 threads in threading.py's wait). A hit must be the same code object
 * with the same name, file and table objects, and the same position: a live
 * frame holds its code object, which holds those, so they cannot have been
 * freed and replaced meanwhile. Direct-mapped; emptied by
 * awd_remote_note_threads. */
typedef struct {
  const void *code;
  PyObject *filename, *name, *table;
  int where, lineno, line;
  char file[AWD_FILE_MAX];
  char func[AWD_FUNC_MAX];
} awd_r_memo;
#define AWD_R_MEMO_SIZE 1024
static awd_r_memo *awd_r_memos; /* AWD_R_MEMO_SIZE entries, from init */
static ptrdiff_t awd_r_pthread_tid_off = -1; /* 3.9/3.10: tid inside a pthread_t */
static int awd_r_ready;

/* Copies len bytes at addr of this process into dst; 1 on success. */
static int awd_r_read(const void *addr, void *dst, size_t len) {
  if (addr == NULL || len == 0) {
    return 0;
  }
  struct iovec local = {dst, len};
  struct iovec remote = {(void *)addr, len};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* ---- 3.9/3.10: a thread's tid from its pthread_t (thread_id) ------------ */

static void *awd_r_probe_thread(void *arg) {
  *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
  return (void *)pthread_self();
}

/* The offset in glibc's struct pthread holding the thread's tid: the one
 * where this thread's pthread_t holds its tid and a second thread's holds
 * that thread's (checked, not assumed: glibc's layout is private). */
static ptrdiff_t awd_r_find_tid_offset(void) {
  pid_t other_tid = 0;
  pthread_t other;
  if (pthread_create(&other, NULL, awd_r_probe_thread, &other_tid) != 0) {
    return -1;
  }
  /* Read the other thread's struct before it is joined: glibc keeps it
   * (cached stack) until then, and tid is reset only at exit. Wait for it to
   * have run instead. */
  while (__atomic_load_n(&other_tid, __ATOMIC_ACQUIRE) == 0) {
    sched_yield();
  }
  const pid_t self_tid = (pid_t)syscall(SYS_gettid);
  const char *self = (const char *)pthread_self();
  const char *peer = (const char *)other;
  ptrdiff_t found = -1;
  for (ptrdiff_t off = 0; off < 2048 && found < 0; off += sizeof(pid_t)) {
    pid_t a = 0, b = 0;
    if (awd_r_read(self + off, &a, sizeof a) && a == self_tid &&
        awd_r_read(peer + off, &b, sizeof b) && (b == other_tid || b == 0)) {
      found = off;
    }
  }
  pthread_join(other, NULL);
  return found;
}

int awd_remote_frames_init(void) {
  uint64_t probe = 0x61776472656d6f74ULL, copy = 0;
  if (!awd_r_read(&probe, &copy, sizeof copy) || copy != probe) {
    return -1;
  }
  if (awd_r_table == NULL) {
    awd_r_table = malloc(AWD_R_TABLE_MAX);
    awd_r_threads = malloc(sizeof(awd_r_thread) * AWD_R_MAX_THREADS);
    awd_r_memos = calloc(AWD_R_MEMO_SIZE, sizeof(awd_r_memo));
    if (awd_r_table == NULL || awd_r_threads == NULL || awd_r_memos == NULL) {
      return -1;
    }
  }
#if PY_VERSION_HEX < 0x030B0000
  awd_r_pthread_tid_off = awd_r_find_tid_offset();
  if (awd_r_pthread_tid_off < 0) {
    return -1;
  }
#else
  (void)awd_r_find_tid_offset;
  (void)awd_r_pthread_tid_off;
#endif
  awd_r_ready = 1;
  return 0;
}

/* ---- strings and line tables ------------------------------------------- */

/* Copies str object s (compact only, as the compiler makes them) as UTF-8;
 * "?" when it is not one or cannot be read. */
static void awd_r_copy_str(char *dst, size_t cap, PyObject *s) {
  PyCompactUnicodeObject u;
  unsigned char data[4 * AWD_FILE_MAX];
  size_t used = 0;
  if (!awd_r_read(s, &u, sizeof u) || u._base.ob_base.ob_type != &PyUnicode_Type) {
    goto unknown;
  }
  const PyASCIIObject *a = &u._base;
#if PY_VERSION_HEX < 0x030C0000
  if (!a->state.ready) goto unknown;
#endif
  unsigned int kind = a->state.kind;
  if (!a->state.compact || (kind != 1 && kind != 2 && kind != 4) ||
      (a->state.ascii && kind != 1) || a->length < 0) {
    goto unknown;
  }
  const char *at = a->state.ascii ? (const char *)s + sizeof(PyASCIIObject)
                                  : (const char *)s + sizeof(PyCompactUnicodeObject);
  size_t n = (size_t)a->length < cap - 1 ? (size_t)a->length : cap - 1;
  if (n * kind > sizeof data) n = sizeof data / kind;
  if (n > 0 && !awd_r_read(at, data, n * kind)) goto unknown;
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = kind == 1 ? data[i]
                  : kind == 2 ? ((const uint16_t *)data)[i]
                              : ((const uint32_t *)data)[i];
    size_t wrote = awd_put_utf8(dst + used, cap - 1 - used, cp);
    if (wrote == 0) break;
    used += wrote;
  }
  dst[used] = '\0';
  return;
unknown:
  dst[0] = '?';
  dst[1] = '\0';
}


/* The line of `where` in code object co (copied in *code). */
static int awd_r_line(const PyCodeObject *code, int where) {
#if PY_VERSION_HEX < 0x030A0000
  PyObject *t = code->co_lnotab;
#else
  PyObject *t = code->co_linetable;
#endif
  PyBytesObject head;
  if (!awd_r_read(t, &head, offsetof(PyBytesObject, ob_sval)) ||
      head.ob_base.ob_base.ob_type != &PyBytes_Type) {
    return -1;
  }
  Py_ssize_t n = head.ob_base.ob_size;
  if (n < 0 || n > AWD_R_TABLE_MAX) return -1;
  if (n > 0 && !awd_r_read((const char *)t + offsetof(PyBytesObject, ob_sval), awd_r_table,
                           (size_t)n)) {
    return -1;
  }
  return awd_table_line(awd_r_table, n, code->co_firstlineno, where);
}

/* ---- frames ------------------------------------------------------------- */

typedef struct {
  const void *next;
  const void *code_addr;
  PyCodeObject code; /* the copy */
  int where;
  int lineno;
  int is_entry;
  const void *gen;
} awd_r_view;

enum { AWD_R_RECORD, AWD_R_SKIP, AWD_R_STOP };

static int awd_r_code(const void *addr, PyCodeObject *code) {
  return awd_r_read(addr, code, sizeof *code) && ((const PyObject *)code)->ob_type == &PyCode_Type;
}

#if PY_VERSION_HEX >= 0x030B0000
/* Whether the object at addr has type t1, t2 or t3. */
static int awd_r_type_is(const void *addr, PyTypeObject *t1, PyTypeObject *t2, PyTypeObject *t3) {
  PyObject head;
  if (!awd_r_read(addr, &head, sizeof head)) return 0;
  return head.ob_type == t1 || head.ob_type == t2 || head.ob_type == t3;
}
#endif

#if PY_VERSION_HEX < 0x030B0000
static int awd_r_step(const void *fp, awd_r_view *v) {
  PyFrameObject f;
  if (!awd_r_read(fp, &f, sizeof f) || ((const PyObject *)&f)->ob_type != &PyFrame_Type) {
    return AWD_R_STOP;
  }
  v->next = f.f_back;
  v->code_addr = f.f_code;
  v->is_entry = 1;
  v->gen = f.f_gen;
  if (!awd_r_code(v->code_addr, &v->code)) return AWD_R_STOP;
#if PY_VERSION_HEX < 0x030A0000
  v->lineno = f.f_trace != NULL ? f.f_lineno : 0;
  v->where = f.f_lasti;
#else
  v->lineno = f.f_lineno;
  v->where = f.f_lasti < 0 ? -1 : f.f_lasti * (int)sizeof(_Py_CODEUNIT);
#endif
  return AWD_R_RECORD;
}
#else
static int awd_r_step(const void *fp, awd_r_view *v) {
  _PyInterpreterFrame f;
  if (((uintptr_t)fp & (sizeof(void *) - 1)) != 0 || !awd_r_read(fp, &f, sizeof f)) {
    return AWD_R_STOP;
  }
  v->next = f.previous;
  v->lineno = 0;
  v->gen = NULL;
#if PY_VERSION_HEX < 0x030C0000
  v->is_entry = f.is_entry;
#else
  v->is_entry = 0;
#endif
  int owner = f.owner;
  switch (owner) {
    case FRAME_OWNED_BY_THREAD:
      break;
    case FRAME_OWNED_BY_GENERATOR:
      v->gen = (const char *)fp - offsetof(PyGenObject, gi_iframe);
      if (!awd_r_type_is(v->gen, &PyGen_Type, &PyCoro_Type, &PyAsyncGen_Type)) return AWD_R_STOP;
      break;
    case FRAME_OWNED_BY_FRAME_OBJECT:
      if (!awd_r_type_is((const char *)fp - offsetof(PyFrameObject, _f_frame_data),
                         &PyFrame_Type, &PyFrame_Type, &PyFrame_Type)) {
        return AWD_R_STOP;
      }
      break;
#if PY_VERSION_HEX >= 0x030C0000
    AWD_CASE_ENTRY_FRAME
      v->is_entry = 1;
      return AWD_R_SKIP;
#endif
    default:
      return AWD_R_STOP;
  }
  v->code_addr = AWD_FRAME_EXECUTABLE(f);
#if PY_VERSION_HEX >= 0x030D0000
  PyObject exe;
  if (!awd_r_read(v->code_addr, &exe, sizeof exe)) return AWD_R_STOP;
  if (exe.ob_type != &PyCode_Type) return AWD_R_SKIP; /* a shim frame */
  const _Py_CODEUNIT *ip = f.instr_ptr;
#else
  const _Py_CODEUNIT *ip = f.prev_instr;
#endif
  if (!awd_r_code(v->code_addr, &v->code)) return AWD_R_STOP;
  const uintptr_t code_start =
      (uintptr_t)v->code_addr + offsetof(PyCodeObject, co_code_adaptive);
  intptr_t bytes = (intptr_t)((uintptr_t)ip - code_start);
  if (bytes % (intptr_t)sizeof(_Py_CODEUNIT) != 0) return AWD_R_STOP;
  intptr_t idx = bytes / (intptr_t)sizeof(_Py_CODEUNIT);
  if (idx < -1 || idx >= v->code.ob_base.ob_size) return AWD_R_STOP;
  v->where = (int)idx;
  if (owner != FRAME_OWNED_BY_GENERATOR && idx < v->code._co_firsttraceable) return AWD_R_SKIP;
  return AWD_R_RECORD;
}
#endif

static void awd_r_record(awd_py_stack *out, int index, const awd_r_view *v,
                         const void **last_code) {
  awd_py_frame *r = &out->frames[index];
  const PyCodeObject *co = &v->code;
#if PY_VERSION_HEX >= 0x030B0000
  PyObject *name = co->co_qualname;
#else
  PyObject *name = co->co_name;
#endif
#if PY_VERSION_HEX < 0x030A0000
  PyObject *table = co->co_lnotab;
#else
  PyObject *table = co->co_linetable;
#endif
  awd_r_memo *memo =
      &awd_r_memos[(((uintptr_t)v->code_addr >> 4) ^ (uintptr_t)v->where) % AWD_R_MEMO_SIZE];
  const int hit = memo->code == v->code_addr && memo->filename == co->co_filename &&
                  memo->name == name && memo->table == table && memo->where == v->where &&
                  memo->lineno == v->lineno;
  if (hit) {
    memcpy(r->file, memo->file, sizeof r->file);
    memcpy(r->func, memo->func, sizeof r->func);
    r->line = memo->line;
  } else if (index > 0 && v->code_addr == *last_code) {
    memcpy(r->file, out->frames[index - 1].file, sizeof r->file);
    memcpy(r->func, out->frames[index - 1].func, sizeof r->func);
  } else {
    awd_r_copy_str(r->file, sizeof r->file, co->co_filename);
#if PY_VERSION_HEX >= 0x030B0000
    awd_r_copy_str(r->func, sizeof r->func, co->co_qualname);
#else
    awd_r_copy_str(r->func, sizeof r->func, co->co_name);
#endif
  }
  if (!hit) {
    r->line = v->lineno != 0 ? v->lineno : awd_r_line(co, v->where);
    memo->code = v->code_addr;
    memo->filename = co->co_filename;
    memo->name = name;
    memo->table = table;
    memo->where = v->where;
    memo->lineno = v->lineno;
    memo->line = r->line;
    memcpy(memo->file, r->file, sizeof memo->file);
    memcpy(memo->func, r->func, sizeof memo->func);
  }
  r->is_coroutine = (co->co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE)) != 0;
  r->coroutine = r->is_coroutine ? (uint64_t)(uintptr_t)v->gen : 0;
  r->entry_frame = 0; /* set by awd_r_walk_chain for entry frames */
#if PY_VERSION_HEX < 0x030B0000
  r->is_entry = 1;
#elif PY_VERSION_HEX < 0x030C0000
  r->is_entry = v->is_entry != 0;
#else
  r->is_entry = 0;
#endif
  *last_code = v->code_addr;
}

/* Walks the chain from f, innermost first, into out. */
static void awd_r_walk_chain(const void *f, awd_py_stack *out) {
  int depth = 0, hops = 0, skips = 0, recorded = -1;
  const void *last_code = NULL;
  out->truncated = 0;
  while (f != NULL && hops < AWD_R_MAX_HOPS) {
    ++hops;
    awd_r_view v;
    int step = awd_r_step(f, &v);
    if (step == AWD_R_STOP) break;
    if (step == AWD_R_SKIP && ++skips > AWD_R_MAX_SKIPS) break;
    if (step == AWD_R_RECORD) {
      skips = 0;
      if (depth == AWD_MAX_PY_FRAMES) {
        out->truncated = 1;
        break;
      }
      awd_r_record(out, depth, &v, &last_code);
      recorded = depth++;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (step == AWD_R_SKIP && v.is_entry && recorded >= 0) {
      out->frames[recorded].is_entry = 1;
      /* On the C stack, inside its eval loop's native frame: that frame is
       * found by address where the eval loop has no name (sample_builder.cc). */
      out->frames[recorded].entry_frame = (uint64_t)(uintptr_t)f;
      recorded = -1;
    }
#else
    (void)recorded;
#endif
    f = v.next;
  }
  if (hops == AWD_R_MAX_HOPS && f != NULL) out->truncated = 1;
  out->depth = depth;
}

/* The innermost frame of the thread state copied in *ts. */
static const void *awd_r_innermost(const PyThreadState *ts) {
#if PY_VERSION_HEX < 0x030B0000
  return ts->frame;
#elif PY_VERSION_HEX < 0x030D0000
  _PyCFrame cf;
  if (!awd_r_read(ts->cframe, &cf, sizeof cf)) return NULL;
  return cf.current_frame;
#else
  return ts->current_frame;
#endif
}

/* The tid of the thread state copied in *ts. */
static pid_t awd_r_tid(const PyThreadState *ts) {
#if PY_VERSION_HEX >= 0x030B0000
  return (pid_t)ts->native_thread_id;
#else
  pid_t tid = 0;
  if (ts->thread_id == 0 ||
      !awd_r_read((const char *)(uintptr_t)ts->thread_id + awd_r_pthread_tid_off, &tid, sizeof tid)) {
    return 0;
  }
  return tid;
#endif
}

static int awd_r_by_tid(const void *a, const void *b) {
  pid_t x = ((const awd_r_thread *)a)->tid, y = ((const awd_r_thread *)b)->tid;
  return (x > y) - (x < y);
}

int awd_remote_note_threads(void) {
  awd_r_nthreads = 0;
  if (!awd_r_ready) return AWD_REMOTE_UNREADABLE;
  memset(awd_r_memos, 0, sizeof(awd_r_memo) * AWD_R_MEMO_SIZE); /* a new capture */
  PyInterpreterState *interp_addr = PyInterpreterState_Main();
  const PyThreadState *at = NULL;
#if PY_VERSION_HEX < 0x030B0000
  const size_t head_offset = offsetof(PyInterpreterState, tstate_head);
#else
  const size_t head_offset = offsetof(PyInterpreterState, threads.head);
#endif
  if (!awd_r_read((const char *)interp_addr + head_offset, &at, sizeof at)) {
    return AWD_REMOTE_UNREADABLE;
  }
  int n = 0;
  while (at != NULL) {
    PyThreadState ts;
    /* A thread state freed under us (the list changes while we read it) no
     * longer points at this interpreter, or is unreadable: start over would
     * be unbounded, so the walk gives up and the capture signals instead. */
    if (n == AWD_R_MAX_THREADS || !awd_r_read(at, &ts, sizeof ts) || ts.interp != interp_addr) {
      return AWD_REMOTE_UNREADABLE;
    }
    pid_t tid = awd_r_tid(&ts);
    if (tid > 0) {
      awd_r_threads[n].tid = tid;
      awd_r_threads[n].ts = at;
      n++;
    }
    at = ts.next;
  }
  qsort(awd_r_threads, (size_t)n, sizeof *awd_r_threads, awd_r_by_tid);
  awd_r_nthreads = n;
  return n;
}

int awd_remote_walk_thread(pid_t tid, awd_py_stack *out) {
  out->thread_ident = 0;
  out->has_python = 0;
  out->depth = 0;
  out->truncated = 0;
  if (!awd_r_ready) return AWD_REMOTE_UNREADABLE;
  awd_r_thread key = {tid, NULL};
  const awd_r_thread *found =
      bsearch(&key, awd_r_threads, (size_t)awd_r_nthreads, sizeof key, awd_r_by_tid);
  if (found == NULL) return AWD_REMOTE_NO_PYTHON;
  PyThreadState ts;
  if (!awd_r_read(found->ts, &ts, sizeof ts) || ts.interp != PyInterpreterState_Main() ||
      awd_r_tid(&ts) != tid) {
    return AWD_REMOTE_UNREADABLE; /* gone or reused since it was noted */
  }
  out->has_python = 1;
  out->thread_ident = (uint64_t)ts.thread_id;
  awd_r_walk_chain(awd_r_innermost(&ts), out);
  return AWD_REMOTE_FOUND;
}

pid_t awd_remote_tstate_tid(const void *tstate) {
  PyThreadState ts;
  if (!awd_r_ready || !awd_r_read(tstate, &ts, sizeof ts) ||
      ts.interp != PyInterpreterState_Main()) {
    return 0;
  }
  return awd_r_tid(&ts);
}

#endif /* GIL builds */
