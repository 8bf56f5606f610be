/* The per-CPython-version Python frame walker used by the capture signal handler.
 *
 * A thread that receives the capture signal calls awd_walk_current_thread() from
 * the handler to copy its *own* Python frames, innermost first, into a
 * preallocated awd_py_stack. py_frames.c is compiled as C11 against the internal
 * headers of the CPython it is built for (3.9 to 3.15, GIL builds); the C++ core
 * sees only this plain C interface. On a free-threaded build (Py_GIL_DISABLED)
 * it compiles to a walker that refuses: awd_py_frames_unsupported() says why.
 *
 * Usage:
 *   awd_py_frames_init();                      // once, at import, GIL held
 *   ...
 *   static awd_py_stack slot;                  // preallocated, one per sample
 *   awd_walk_current_thread(&slot);            // in the signal handler
 *
 * Caveats:
 *  - Only the calling thread's own frames can be walked safely; never call the
 *    walker for another thread.
 *  - Stop sampling before interpreter finalization frees thread states (an
 *    atexit callback is early enough): a daemon thread's slot then still points
 *    at its freed thread state, and the walker cannot tell.
 *  - Threads of sub-interpreters report the main interpreter's thread state of
 *    that OS thread, if any (what PyGILState_GetThisThreadState() knows). */
#ifndef AIOWATCHDOG_PYTHON_PY_FRAMES_H_
#define AIOWATCHDOG_PYTHON_PY_FRAMES_H_

#include "model/py_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NULL when the walker works on this build; else a sentence saying why it
 * does not (a free-threaded CPython), for the error that refuses to start. */
const char *awd_py_frames_unsupported(void);

/* Caches what the walker needs (the page size). Call once with the GIL held,
 * before the capture signal handler is installed. */
void awd_py_frames_init(void);

/* Fills *out with the calling thread's Python frames; an awd_py_walker.
 * Async-signal-safe: no malloc, no locks, no GIL; saves and restores errno.
 * has_python = 0 when this thread has no Python thread state. */
void awd_walk_current_thread(awd_py_stack *out);

#ifdef __cplusplus
}
#endif

#endif /* AIOWATCHDOG_PYTHON_PY_FRAMES_H_ */
