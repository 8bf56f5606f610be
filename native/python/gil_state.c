/* See gil_state.h. */

#define _GNU_SOURCE 1
#define Py_BUILD_CORE 1 /* struct _gil_runtime_state is internal */
#include <Python.h>

#include "model/gil_state.h"

#if defined(Py_GIL_DISABLED)
/* Free-threaded builds have no GIL. */
int awd_gil_init(void) { return -1; }
int awd_gil_read(awd_gil_state *out) {
  (void)out;
  return 0;
}
#else

#include <internal/pycore_gil.h>
#if PY_VERSION_HEX < 0x030C0000
#include <internal/pycore_runtime.h> /* _PyRuntime.ceval.gil */
#else
#include <internal/pycore_interp.h> /* interp->ceval.gil */
#endif

#include <string.h>

#include "model/py_frames_remote.h"

static const struct _gil_runtime_state *awd_gil; /* from awd_gil_init */

int awd_gil_init(void) {
#if PY_VERSION_HEX < 0x030C0000
  awd_gil = &_PyRuntime.ceval.gil;
#else
  awd_gil = PyInterpreterState_Main()->ceval.gil;
#endif
  awd_gil_state probe;
  return awd_gil != NULL && awd_gil_read(&probe) ? 0 : -1;
}

/* The fields read, as loads from the struct itself: it lives as long as the
 * process (in _PyRuntime, or in the main interpreter, which is a member of
 * _PyRuntime from 3.12), so no load can fault. 3.9-3.12 wrap two of them in
 * _Py_atomic_* structs; 3.13+ have plain fields. `locked` is -1 before the
 * GIL is made and after it is destroyed: not held. */
#if PY_VERSION_HEX < 0x030D0000
#define AWD_GIL_HOLDER() ((const void *)__atomic_load_n(&awd_gil->last_holder._value, __ATOMIC_ACQUIRE))
#define AWD_GIL_LOCKED() (__atomic_load_n(&awd_gil->locked._value, __ATOMIC_ACQUIRE) > 0)
#else
#define AWD_GIL_HOLDER() ((const void *)__atomic_load_n(&awd_gil->last_holder, __ATOMIC_ACQUIRE))
#define AWD_GIL_LOCKED() (__atomic_load_n(&awd_gil->locked, __ATOMIC_ACQUIRE) > 0)
#endif
#define AWD_GIL_SWITCHES() __atomic_load_n(&awd_gil->switch_number, __ATOMIC_ACQUIRE)

int awd_gil_read(awd_gil_state *out) {
  memset(out, 0, sizeof *out);
  if (awd_gil == NULL) return 0;
  out->lo = (uintptr_t)awd_gil;
  out->hi = (uintptr_t)awd_gil + sizeof *awd_gil;
  /* A thread taking the GIL sets `locked`, then `last_holder`, then counts
   * the switch: two readings that agree on all three were not torn by one. */
  const unsigned long switches = AWD_GIL_SWITCHES();
  const void *holder = AWD_GIL_HOLDER();
  out->locked = AWD_GIL_LOCKED();
  out->switches = switches;
  if (!out->locked || holder == NULL) return 1;
  if (AWD_GIL_HOLDER() == holder && AWD_GIL_SWITCHES() == switches && AWD_GIL_LOCKED()) {
    /* The holder's thread state may be freed under us: read through a copy. */
    out->holder_tid = awd_remote_tstate_tid(holder);
  }
  return 1;
}

#endif /* GIL builds */
