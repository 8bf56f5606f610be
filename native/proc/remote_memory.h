// Fault-tolerant reads of this process's own memory, for reading a thread
// that is not stopped (its Python frames, its native stack) from the watchdog
// thread: process_vm_readv(2) on our own pid copies the bytes, and an address
// that is not mapped (a freed frame chunk, a torn pointer) comes back as an
// error code (EFAULT), never as a SIGSEGV in the host process. The permission
// check (PTRACE_MODE_ATTACH_REALCREDS) passes trivially for one's own process,
// but a seccomp filter (containers) may forbid the call: RemoteReadAvailable()
// says so once, and callers then keep to the signal path.
//
// What it does not protect against: memory that changes while it is read. A
// read is a copy at one moment; the caller validates what it copied (types,
// bounds) and checks afterwards that the thread did not move meanwhile.
//
// Not for signal context (not needed there); thread-safe.
#ifndef AIOWATCHDOG_REMOTE_MEMORY_H_
#define AIOWATCHDOG_REMOTE_MEMORY_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace aiowatchdog {

// Copies `len` bytes at address `addr` of this process into `dst`. True only
// when every byte was copied; false (dst contents unspecified) when any byte
// is unmapped or unreadable, when len is 0 or the range wraps, or when the
// call is forbidden. Never faults on `addr`; `dst` must be valid.
bool ReadOwnMemory(uintptr_t addr, void* dst, size_t len);

// The errno of the last failed ReadOwnMemory on this thread (EFAULT for an
// unmapped address, EPERM/ENOSYS when the kernel forbids the call, EINVAL for
// a bad range), 0 when it succeeded.
int LastRemoteReadError();

// Whether process_vm_readv works in this process at all (probed once with a
// read of a local variable; the result is cached). False under a seccomp
// filter that forbids it, or on a kernel without it.
bool RemoteReadAvailable();

// Reads one value of type T; false when unreadable.
template <typename T>
bool ReadOwnValue(uintptr_t addr, T* out) {
  return ReadOwnMemory(addr, out, sizeof(T));
}

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REMOTE_MEMORY_H_
