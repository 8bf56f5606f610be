/* Another thread's Python frames, read from the watchdog thread without a
 * signal, for a thread blocked in the kernel (issue #16: no EINTR).
 *
 * A contract between the core and the interpreter readers: the core uses its
 * records and constants; the functions are python/py_frames_remote.c's, built into the extension
 * module and handed to the core as pointers.
 *
 * Every read of the interpreter's memory goes through process_vm_readv on our
 * own pid: an address that is not mapped is an error, never a fault. Every
 * object is copied before use and its type checked (ob_type == &PyCode_Type,
 * &PyFrame_Type, &PyUnicode_Type, &PyBytes_Type), every chain is bounded, and
 * strings are copied by kind and length. A thread blocked in a system call
 * cannot change its own frame chain, so a walk is consistent if the thread
 * stayed in the kernel throughout; the caller checks that afterwards
 * (/proc/self/task/<tid>/syscall unchanged, no new time slice) and otherwise
 * treats the sample as torn.
 *
 * Usage:
 *   awd_remote_frames_init();                 // once, at import, GIL held
 *   awd_py_stack *out = ...;                  // on the watchdog thread
 *   int found = awd_remote_walk_thread(tid, out);
 *
 * Same output as py_frames.c's signal-handler walker (awd_py_stack), so the
 * merge with native frames and the reports are unchanged. CPython 3.9-3.15
 * GIL builds, main interpreter only. Not for signal context; calls are serialized by the
 * caller (one static line-table buffer). */
#ifndef AIOWATCHDOG_PYTHON_PY_FRAMES_REMOTE_H_
#define AIOWATCHDOG_PYTHON_PY_FRAMES_REMOTE_H_

#include <sys/types.h>

#include "model/py_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Finds what the walker needs (on 3.9/3.10: where glibc keeps a thread's tid
 * in its pthread_t, by looking at this thread's and a short-lived one's).
 * Call once with the GIL held. 0 on success; -1 when the remote walk cannot
 * be used in this process (process_vm_readv forbidden, tid not found). */
int awd_remote_frames_init(void);

/* The outcome of awd_remote_walk_thread. */
enum {
  AWD_REMOTE_FOUND = 1,      /* out holds the thread's frames (has_python 1) */
  AWD_REMOTE_NO_PYTHON = 0,  /* no thread state of the main interpreter has this tid */
  AWD_REMOTE_UNREADABLE = -1 /* the thread list could not be read: use the signal */
};

/* Notes which thread state belongs to which tid, walking the main
 * interpreter's thread list once (a capture calls this once, then
 * awd_remote_walk_thread per thread: a lookup, not a list walk, each). The
 * number of thread states noted, or AWD_REMOTE_UNREADABLE when the list could
 * not be read consistently. Never faults. */
int awd_remote_note_threads(void);

/* Walks the Python frames of thread `tid` (another thread of this process)
 * into *out, finding its thread state among those awd_remote_note_threads
 * noted (read again, and its tid checked). Never faults. */
int awd_remote_walk_thread(pid_t tid, awd_py_stack *out);

/* The tid of the thread whose PyThreadState is at `tstate` (of the main
 * interpreter), read through a copy; 0 when it is not one (freed, reused).
 * Never faults. */
pid_t awd_remote_tstate_tid(const void *tstate);

/* What the C++ capture is given (it does not link Python). */
typedef struct {
  int (*note_threads)(void);
  int (*walk_thread)(pid_t tid, awd_py_stack *out);
} awd_py_remote_walker;

#ifdef __cplusplus
}
#endif

#endif /* AIOWATCHDOG_PYTHON_PY_FRAMES_REMOTE_H_ */
