// Which thread the garbage collector is running on, if any: set from a
// gc.callbacks hook (native/python/gc_callback.cc, installed by
// aiowatchdog/_gc_phase.py while a watcher runs) when a collection starts,
// cleared when it stops; read by the watchdog when it samples the loop's
// thread (LoopActivity.gc_running). One collection runs at a time in an
// interpreter (it holds the GIL), so one atomic word is enough. Lock-free;
// nothing here allocates.
#ifndef AIOWATCHDOG_GC_PHASE_H_
#define AIOWATCHDOG_GC_PHASE_H_

#include <sys/types.h>

namespace aiowatchdog {

// The collecting thread's kernel id; 0 ends the collection.
void NoteCollectingThread(pid_t tid);

// The thread collecting now, or 0.
pid_t CollectingThread();

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_GC_PHASE_H_
