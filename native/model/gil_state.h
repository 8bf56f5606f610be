/* The main interpreter's GIL, read from the watchdog thread without taking
 * it (issue #18: a loop starved of the GIL, and the thread holding it).
 *
 * A contract between the core and the interpreter readers: the core uses its
 * records and constants; the functions are python/gil_state.c's, built into the extension
 * module and handed to the core as pointers.
 *
 * CPython keeps, per GIL, whether it is held (`locked`), the thread state of
 * its last holder (`last_holder`: the holder while locked) and a count of
 * hand-overs (`switch_number`), in struct _gil_runtime_state: in _PyRuntime on
 * 3.9 to 3.11, in the main interpreter from 3.12. A thread waiting for the GIL
 * sleeps on the condition variable or mutex inside that struct, so a futex
 * system call on an address in [lo, hi) is a wait for the GIL.
 *
 * The GIL's own fields are loaded from its struct (it lives as long as the
 * process); the holder's thread state, which may be freed under us, is read
 * through a copy (process_vm_readv on our own pid): never a fault. A read of
 * a free GIL is three loads and no system call. Not for signal context. GIL
 * builds of CPython 3.9 to 3.15. */
#ifndef AIOWATCHDOG_PYTHON_GIL_STATE_H_
#define AIOWATCHDOG_PYTHON_GIL_STATE_H_

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int locked;             /* 1: held by some thread */
  pid_t holder_tid;       /* the holder's tid when locked; 0 unknown */
  unsigned long switches; /* hand-overs so far (switch_number) */
  uintptr_t lo, hi;       /* where the GIL's struct lies */
} awd_gil_state;

/* Finds the main interpreter's GIL. Call once with the GIL held, after
 * awd_remote_frames_init (it maps a thread state to its tid). 0 on success,
 * -1 when it cannot be read here. */
int awd_gil_init(void);

/* Reads the GIL's state into *out: 1 on success, 0 when it cannot be read. */
int awd_gil_read(awd_gil_state *out);

#ifdef __cplusplus
}
#endif

#endif /* AIOWATCHDOG_PYTHON_GIL_STATE_H_ */
