// dl_iterate_phdr for the watchdog thread, fenced from fork.
//
// glibc (2.36 checked) does not reset the loader's list lock
// (dl_load_write_lock) in a forked child. A fork while another thread is
// inside dl_iterate_phdr leaves the child with that lock held by a thread it
// does not have: its first dlopen of a new library (a Python child importing
// an extension module) or dl_iterate_phdr waits forever (measured: 50 children
// in 50 forked during a slow walk). So our walks hold a mutex that a
// pthread_atfork prepare handler takes too: a fork waits for a walk under way
// (microseconds: the callbacks only copy), and no child inherits the lock from
// us. Not for signal context.
#ifndef AIOWATCHDOG_LOADER_WALK_H_
#define AIOWATCHDOG_LOADER_WALK_H_

#include <link.h>

namespace aiowatchdog {

// dl_iterate_phdr(callback, data), never across a fork. The callback must
// not fork, and no exception may leave it (dl_iterate_phdr would keep the
// loader's lock).
int WalkLoadedObjects(int (*callback)(dl_phdr_info*, size_t, void*), void* data);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_LOADER_WALK_H_
