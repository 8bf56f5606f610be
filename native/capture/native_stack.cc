// See native_stack.h.
#include "capture/native_stack.h"

#include <dlfcn.h>
#include <link.h>
#include <unwind.h>

#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "proc/loader_walk.h"

// The x86-64/aarch64 ABI's entry point for dynamic TLS, exported by ld.so.
struct AwdTlsIndex {
  unsigned long module;
  unsigned long offset;
};
extern "C" void* __tls_get_addr(AwdTlsIndex*);

namespace aiowatchdog {
namespace {

struct UnwindState {
  NativeStack* out;
  bool past_signal_frame;
};

// Whether a module's block of thread-local storage can be allocated now:
// glibc takes it with malloc at the thread's first touch and aborts the
// process when that fails. 64 KiB taken from this thread's arena and given
// back (under the mmap threshold, so from where the block will come): with
// memory that short, nothing here touches a block. A tiny window remains
// (another thread taking that memory between the probe and the touch).
bool RoomForThreadLocalBlock() {
  void* volatile probe = std::malloc(64 << 10);  // volatile: not elided
  if (probe == nullptr) return false;
  static_cast<char*>(probe)[0] = 1;
  std::free(probe);
  return true;
}

// Runs in a signal handler (called by _Unwind_Backtrace): plain stores only.
// The frame the signal interrupted is the first whose PC is exact rather than
// a return address (ip_before_insn), as the unwinder marks frames below a
// signal trampoline; frames above it are our handler's and the trampoline's.
_Unwind_Reason_Code OnFrame(struct _Unwind_Context* context, void* arg) {
  auto* state = static_cast<UnwindState*>(arg);
  int ip_before_insn = 0;
  const uintptr_t pc = _Unwind_GetIPInfo(context, &ip_before_insn);
  if (!state->past_signal_frame) {
    if (!ip_before_insn) return _URC_NO_REASON;
    state->past_signal_frame = true;
  }
  if (pc == 0) return _URC_END_OF_STACK;
  NativeStack* out = state->out;
  if (out->depth == kMaxNativeFrames) {
    out->truncated = 1;
    return _URC_END_OF_STACK;
  }
  // A return address points after the call; report the call instruction.
  out->pcs[out->depth] = ip_before_insn ? pc : pc - 1;
  out->cfas[out->depth] = _Unwind_GetCFA(context);
  ++out->depth;
  return _URC_NO_REASON;
}

_Unwind_Reason_Code CountFrame(struct _Unwind_Context*, void* arg) {
  ++*static_cast<int*>(arg);
  return _URC_NO_REASON;
}

}  // namespace

void CaptureNativeStack(NativeStack* out) {
  out->depth = 0;
  out->truncated = 0;
  UnwindState state{out, false};
  _Unwind_Backtrace(OnFrame, &state);
}

bool WarmUpThreadLocalStorage() {
  // libstdc++'s block before anything else: any exception thrown on this
  // thread, std::bad_alloc included, touches it (__cxa_get_globals), and the
  // first one thrown under memory pressure aborted the process (RLIMIT_AS,
  // 1 MiB to spare, 3 runs in 3 on 3.10).
  if (!RoomForThreadLocalBlock()) return false;
  // (Not abi::__cxa_get_globals() itself: declared __const__, its call is
  // dropped when its result is not used. This one reads the globals.)
  volatile int uncaught = std::uncaught_exceptions();
  (void)uncaught;
  // Names first, touches after: dl_iterate_phdr holds the loader's list lock,
  // and a first touch of a dlopen'ed module's block takes its TLS lock, which
  // a dlopen in another thread holds while it waits for the list lock (the
  // host deadlocked: an import in the loop's thread against this warm-up).
  struct Names {
    std::vector<std::string> names;
    bool out_of_memory = false;
  } found;
  WalkLoadedObjects(
      // No exception may leave this: dl_iterate_phdr would keep its lock.
      [](dl_phdr_info* info, size_t, void* data) noexcept {
        auto* out = static_cast<Names*>(data);
        if (info->dlpi_tls_modid == 0) return 0;
        try {
          out->names.emplace_back(info->dlpi_name);
          return 0;
        } catch (const std::bad_alloc&) {
          out->out_of_memory = true;
          return 1;
        }
      },
      &found);
  if (found.out_of_memory) return false;
  for (const std::string& name : found.names) {
    // Held open while touched, so that it cannot be unloaded meanwhile; its
    // module id asked of the handle (an id is reused after a dlclose).
    void* handle = dlopen(name.empty() ? nullptr : name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) continue;  // unloaded since
    size_t module = 0;
    if (dlinfo(handle, RTLD_DI_TLS_MODID, &module) == 0 && module != 0) {
      if (!RoomForThreadLocalBlock()) {
        dlclose(handle);
        return false;
      }
      AwdTlsIndex index{module, 0};
      __tls_get_addr(&index);
    }
    dlclose(handle);
  }
  return true;
}

void WarmUpNativeUnwinder() {
  int frames = 0;
  _Unwind_Backtrace(CountFrame, &frames);
}

}  // namespace aiowatchdog
