/* What both frame walkers, py_frames.c (in the capture signal's handler) and
 * py_frames_remote.c (from the watchdog thread, through copies), take from
 * CPython's 3.11+ frame layout beyond plain field reads. Include after
 * <Python.h> and the internal frame headers; macros only, signal-safe.
 *
 * AWD_CASE_ENTRY_FRAME: the `case` labels of the owners of an eval-loop
 * invocation's entry frame, which lives on the C stack and closes that
 * invocation's run of frames (3.12+): FRAME_OWNED_BY_CSTACK on 3.12/3.13,
 * FRAME_OWNED_BY_INTERPRETER on 3.14+ (where CSTACK is still defined but set
 * nowhere; it is gone on 3.15). 3.15 also ends every chain with a sentinel
 * base frame owned by the interpreter, embedded in the thread state
 * (_PyThreadStateImpl.base_frame, previous NULL): the same label.
 *
 * AWD_FRAME_EXECUTABLE(f): the object a frame (a _PyInterpreterFrame value)
 * runs: its code object, or None for a shim frame (3.13+). On 3.14+ it is a
 * tagged _PyStackRef: on GIL builds its two low bits say what kind of
 * reference it is (Py_TAG_REFCNT for a deferred or immortal one, 3 for a
 * tagged int, which an executable never is) and the object is the rest, as
 * in PyStackRef_AsPyObjectBorrow (pycore_stackref.h), untagged here by hand
 * so that no debug-build assertion or helper runs in a signal handler. */
#ifndef AIOWATCHDOG_PYTHON_FRAME_LAYOUT_H_
#define AIOWATCHDOG_PYTHON_FRAME_LAYOUT_H_

#if PY_VERSION_HEX >= 0x030F0000
#define AWD_CASE_ENTRY_FRAME case FRAME_OWNED_BY_INTERPRETER:
#elif PY_VERSION_HEX >= 0x030E0000
#define AWD_CASE_ENTRY_FRAME \
  case FRAME_OWNED_BY_INTERPRETER: \
  case FRAME_OWNED_BY_CSTACK:
#elif PY_VERSION_HEX >= 0x030C0000
#define AWD_CASE_ENTRY_FRAME case FRAME_OWNED_BY_CSTACK:
#endif

#if PY_VERSION_HEX >= 0x030E0000
#define AWD_FRAME_EXECUTABLE(f) ((PyObject *)((f).f_executable.bits & ~(uintptr_t)3))
#elif PY_VERSION_HEX >= 0x030D0000
#define AWD_FRAME_EXECUTABLE(f) ((PyObject *)(f).f_executable)
#elif PY_VERSION_HEX >= 0x030B0000
#define AWD_FRAME_EXECUTABLE(f) ((PyObject *)(f).f_code)
#endif

#endif /* AIOWATCHDOG_PYTHON_FRAME_LAYOUT_H_ */
