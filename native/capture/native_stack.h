// The native half of a capture: the calling thread's program counters,
// recorded from inside our signal handler with the unwinder in libgcc
// (_Unwind_Backtrace, what Boost.Stacktrace's safe_dump_to uses).
//
// Signal-context assumptions: the FDE lookup behind _Unwind_Backtrace is
// lock-free on glibc 2.35+ with libgcc 12 (_dl_find_object), unless a JIT
// registered frames with __register_frame*, when it takes a mutex (checked on
// glibc 2.36 and libgcc 12 of Debian 12). WarmUpNativeUnwinder() runs it once
// outside signal context so that nothing is loaded lazily in the handler.
#ifndef AIOWATCHDOG_NATIVE_STACK_H_
#define AIOWATCHDOG_NATIVE_STACK_H_

#include <cstdint>

namespace aiowatchdog {

inline constexpr int kMaxNativeFrames = 256;

struct NativeStack {
  uintptr_t pcs[kMaxNativeFrames];  // innermost first, the handler's own frames skipped
  // Each frame's canonical frame address (its caller's stack pointer before
  // the call): frame i's locals lie in [cfas[i - 1], cfas[i]).
  uintptr_t cfas[kMaxNativeFrames];
  int32_t depth = 0;
  int32_t truncated = 0;  // more frames existed than kMaxNativeFrames
};

// Runs in a signal handler: records the interrupted code's program counters,
// starting at the frame the signal interrupted (everything up to and including
// the kernel's signal trampoline is skipped). Async-signal-safe as above.
void CaptureNativeStack(NativeStack* out);

// Outside signal context, once: makes the first real unwind allocation-free.
void WarmUpNativeUnwinder();

// At the start of a thread of ours (the watchdog's), before it does anything
// else: allocates the calling thread's block of every loaded module's
// thread-local storage. glibc allocates a dlopen'ed module's block
// (libstdc++'s exception globals, libdw's and libelf's error codes) at the
// thread's first touch, and aborts the whole process when that allocation
// fails ("cannot allocate memory for thread-local data: ABORT"): seen under
// RLIMIT_AS when the first std::bad_alloc on the watchdog thread was thrown.
// Each block is touched only after memory for it was found there; false when
// it was not (the thread must then end without calling into those modules
// or throwing). Modules loaded later are not covered; the watchdog thread
// calls into none of them. Takes the loader's locks one at a time, never one
// inside another (see the .cc).
bool WarmUpThreadLocalStorage();

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_NATIVE_STACK_H_
