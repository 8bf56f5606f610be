/* The fixed-size record a thread fills with its own Python frames from inside
 * our signal handler, and the signature of the per-version walker that fills it.
 *
 * Plain C so that the walker (compiled as C against CPython's internal headers,
 * which do not compile as C++ before 3.13) and the C++ core share one layout.
 * Everything here is preallocated: the handler writes into it and never
 * allocates. Strings are copied, NUL-terminated UTF-8, truncated to fit, because
 * the code objects they come from may be freed once the thread runs on. */
#ifndef AIOWATCHDOG_PY_STACK_H_
#define AIOWATCHDOG_PY_STACK_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  AWD_MAX_PY_FRAMES = 256, /* deeper stacks keep their innermost frames */
  AWD_FILE_MAX = 256,      /* bytes, NUL included */
  AWD_FUNC_MAX = 128,      /* bytes, NUL included */
};

typedef struct {
  char file[AWD_FILE_MAX]; /* co_filename */
  char func[AWD_FUNC_MAX]; /* co_qualname on 3.11+, co_name before */
  uint64_t coroutine;      /* address (id()) of the coroutine object the frame
                              belongs to; 0 for other frames or when unknown.
                              Only an address: never dereferenced later */
  uint64_t entry_frame;    /* on an is_entry frame of 3.11+: the address of
                              the object its eval-loop invocation keeps on
                              the C stack (3.12+: the entry frame linked
                              just outside it; 3.11: its _PyCFrame). It lies
                              inside that invocation's native stack frame,
                              which the merge then finds by stack address
                              where the interpreter has no symbols (Debian's
                              stripped builds). 0 otherwise. Never
                              dereferenced later */
  int32_t line;            /* current line, -1 when unknown */
  uint8_t is_coroutine;    /* the frame runs a coroutine (CO_COROUTINE) */
  uint8_t is_entry;        /* outermost frame of one eval-loop invocation (C
                              frame): every frame on 3.9/3.10; is_entry on
                              3.11; the frame inside a C-stack shim on 3.12+ */
} awd_py_frame;

typedef struct {
  uint64_t thread_ident; /* tstate->thread_id: threading.get_ident() */
  int32_t has_python;    /* 0: no Python thread state on this thread */
  int32_t depth;         /* frames[0 .. depth) are valid, innermost first */
  int32_t truncated;     /* 1: more than AWD_MAX_PY_FRAMES frames existed */
  awd_py_frame frames[AWD_MAX_PY_FRAMES];
} awd_py_stack;

/* Fills *out with the calling thread's Python frames, innermost first.
 * Runs inside a signal handler on the thread being sampled: async-signal-safe,
 * no malloc, no locks, no GIL, no Python API that needs it. */
typedef void (*awd_py_walker)(awd_py_stack *out);

#ifdef __cplusplus
}
#endif

#endif /* AIOWATCHDOG_PY_STACK_H_ */
