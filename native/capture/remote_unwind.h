// Native frames of another thread of this process, unwound from outside it
// (from the watchdog thread) given only its stack and instruction pointers, as
// /proc/self/task/<tid>/syscall reports them for a thread blocked in the
// kernel (thread_syscall.h). No signal reaches the thread, so a system call it
// is blocked in is never cut short (EINTR).
//
// Why elfutils' libdwfl (Debian's libdw), not libunwind. Measured on this
// machine (CPython 3.11.7, each thread blocked in time.sleep / lock.acquire /
// epoll.poll / sock.recv / ctypes usleep, 200 unwinds each): both reached the
// same frames (13-16, through _PyEval_EvalFrameDefault to clone3).
// libunwind with the local address space's find_proc_info and our memory
// accessors took 32-74 us per unwind (12-15 reads of the unwind tables
// through the accessor); libdwfl took 104-180 us with one read per word, and
// 11-26 us once the stack is copied in one process_vm_readv (its unwind
// tables come from the ELF files, not from our memory). And libunwind.so
// exports _Unwind_Backtrace & co., which would compete with libgcc's in the
// process (our signal handler and every C++ exception use libgcc's); libdw
// exports no such names. The symbolizer may share the library.
// As built here (stack copy, scanning), on CPython 3.9.18-3.13.0: every
// thread in time.sleep, lock.acquire, epoll.poll, sock.recv and ctypes
// usleep/nanosleep reached _PyEval_EvalFrameDefault and the thread's
// outermost frame (__clone3); 18-78 us per unwind on this shared 2-core VM.
//
// What only SP and PC allow: each frame's CFA must follow from registers the
// unwinder knows. Callee-saved registers (rbp, rbx, ...) become known when a
// frame below saved them; a frame whose CFA needs one that nobody saved (e.g.
// libffi's ffi_call_unix64, CFA = rbp + 32, reached from a ctypes call to
// usleep) ends the CFI walk. The walk then scans the stack above the last
// frame for a return address (a word pointing just after a call instruction
// in a module) and goes on from there, as Breakpad's stack scanning does,
// taking the saved frame pointer next to it; frames found so are marked.
//
// Memory: the stack is copied once (up to kStackCopyBytes above SP, or to the
// end of its mapping) and every other read goes through ReadOwnMemory, so an
// unmapped address is an error, never a fault. A stack that changes while it
// is copied (the thread woke up) yields wrong frames, not a crash: the caller
// re-reads the syscall file afterwards to tell (thread_syscall.h SameAs).
//
// Not thread-safe per object; RemoteUnwinder serializes its own calls. Never
// in signal context (it opens files, allocates).
#ifndef AIOWATCHDOG_REMOTE_UNWIND_H_
#define AIOWATCHDOG_REMOTE_UNWIND_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "capture/native_stack.h"

namespace aiowatchdog {

struct RemoteUnwindResult {
  enum class End {
    kOutermost,    // the unwind tables say the outermost frame was reached
    kLost,         // no frame could be found further up (CFI and scanning failed)
    kTruncated,    // kMaxNativeFrames reached
    kFailed,       // no frame at all (the unwinder could not start)
  };
  End end = End::kFailed;
  int scanned_from = -1;  // frames [scanned_from, depth) were found by stack scanning; -1 none
  int scans = 0;          // times scanning was needed
  std::string error;      // the unwinder's message when end is kLost or kFailed
};

class RemoteUnwinder {
 public:
  RemoteUnwinder();
  ~RemoteUnwinder();
  RemoteUnwinder(const RemoteUnwinder&) = delete;
  RemoteUnwinder& operator=(const RemoteUnwinder&) = delete;

  // Unwinds thread `tid` (a thread of this process, blocked in the kernel)
  // from `sp` and `pc` into `out` (innermost first; the first PC exact, the
  // others return addresses minus 1, as CaptureNativeStack records them).
  // Modules loaded since the last call are found (the module list is read
  // again when a PC lies outside every known module).
  RemoteUnwindResult Unwind(pid_t tid, uint64_t sp, uint64_t pc, NativeStack* out);

  // Bytes of stack copied per unwind.
  static constexpr size_t kStackCopyBytes = 64 * 1024;

  struct State;  // libdwfl handles; in the .cc

 private:
  std::mutex mu_;
  std::unique_ptr<State> state_;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REMOTE_UNWIND_H_
