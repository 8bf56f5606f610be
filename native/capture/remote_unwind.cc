// See remote_unwind.h. x86-64 and aarch64 register numbers are DWARF's.
#include "capture/remote_unwind.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "capture/dwfl_guard.h"
#include "proc/remote_memory.h"

namespace aiowatchdog {
namespace {

#if defined(__x86_64__)
constexpr unsigned kSpReg = 7;   // rsp
constexpr unsigned kFpReg = 6;   // rbp
#elif defined(__aarch64__)
constexpr unsigned kSpReg = 31;  // sp
constexpr unsigned kFpReg = 29;  // x29
#else
#error "remote_unwind.cc knows the DWARF register numbers of x86-64 and aarch64 only"
#endif

// How far above the last frame's SP stack scanning looks for a return
// address, and how many times per unwind it may be needed.
constexpr uint64_t kScanBytes = 2048;
constexpr int kMaxScans = 4;

// Never reads separate debug files (nor asks a debuginfod server, as
// dwfl_standard_find_debuginfo would when DEBUGINFOD_URLS is set): unwinding
// needs only .eh_frame, which is in the loaded file.
int NoDebuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                GElf_Word, char**) {
  return -1;
}

char* g_no_debuginfo_path = nullptr;
const Dwfl_Callbacks kProcCallbacks = {FindElfCloseOnExec, NoDebuginfo, nullptr,
                                       &g_no_debuginfo_path};

}  // namespace

struct RemoteUnwinder::State {
  Dwfl* dwfl = nullptr;
  pid_t pid = 0;
  uint64_t loaded_objects = 0;  // LoadedObjects() when dwfl's modules were reported
  // The stack copy of the unwind in progress.
  std::vector<unsigned char> stack = std::vector<unsigned char>(kStackCopyBytes);
  uint64_t stack_base = 0;
  size_t stack_len = 0;
  // Initial registers of the walk in progress.
  uint64_t start_pc = 0;
  uint64_t start_sp = 0;
  uint64_t start_fp = 0;
  bool have_fp = false;
  bool start_is_return_address = false;
  // Output of the walk in progress.
  NativeStack* out = nullptr;
  bool first_of_walk = true;
  uint64_t last_sp = 0;  // SP of the last frame recorded
  int walk_first = 0;    // index in out of the walk's first frame

  ~State() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }

  bool Read(uint64_t addr, uint64_t* value) const {
    if (addr >= stack_base && addr - stack_base + 8 <= stack_len) {
      std::memcpy(value, stack.data() + (addr - stack_base), 8);
      return true;
    }
    return ReadOwnValue(addr, value);
  }

  // Copies the stack from `sp` up: whole pages until the end of the mapping
  // or kStackCopyBytes (process_vm_readv stops at the first unmapped page).
  void CopyStack(uint64_t sp) {
    stack_base = sp & ~uint64_t{7};
    stack_len = 0;
    size_t want = kStackCopyBytes;
    // The first read may fail only because the copy runs past the stack's
    // end; shorten it to the end of sp's page and try again.
    for (int attempt = 0; attempt < 2 && stack_len == 0; ++attempt) {
      iovec local{stack.data(), want};
      iovec remote{reinterpret_cast<void*>(stack_base), want};
      const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
      if (n > 0) stack_len = static_cast<size_t>(n);
      want = 4096 - (stack_base & 4095);
    }
  }
};

namespace {

using State = RemoteUnwinder::State;

pid_t NoNextThread(Dwfl*, void*, void**) { return 0; }

bool GetThread(Dwfl*, pid_t, void* dwfl_arg, void** thread_arg) {
  *thread_arg = dwfl_arg;
  return true;
}

bool MemoryRead(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* dwfl_arg) {
  uint64_t value;
  if (!static_cast<State*>(dwfl_arg)->Read(addr, &value)) return false;
  *result = value;
  return true;
}

bool SetInitialRegisters(Dwfl_Thread* thread, void* thread_arg) {
  auto* state = static_cast<State*>(thread_arg);
  Dwarf_Word sp = state->start_sp;
  if (!dwfl_thread_state_registers(thread, kSpReg, 1, &sp)) return false;
  if (state->have_fp) {
    Dwarf_Word fp = state->start_fp;
    if (!dwfl_thread_state_registers(thread, kFpReg, 1, &fp)) return false;
  }
  dwfl_thread_state_register_pc(thread, state->start_pc);
  return true;
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {NoNextThread, GetThread, MemoryRead,
                                                SetInitialRegisters, nullptr, nullptr};

int OnFrame(Dwfl_Frame* frame, void* arg) {
  auto* state = static_cast<State*>(arg);
  Dwarf_Addr pc;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation)) return DWARF_CB_ABORT;
  NativeStack* out = state->out;
  if (out->depth == kMaxNativeFrames) {
    out->truncated = 1;
    return DWARF_CB_ABORT;
  }
  bool exact = activation;
  if (state->first_of_walk) {
    exact = !state->start_is_return_address;
    state->first_of_walk = false;
  }
  if (pc == 0) return DWARF_CB_ABORT;
  out->cfas[out->depth] = 0;  // known once its caller's frame is
  out->pcs[out->depth++] = exact ? pc : pc - 1;
  // The deepest SP known: each frame's, when the unwinder recovered it; the
  // walk's initial SP otherwise. Scanning starts there (skipping the return
  // addresses of the frames already recorded). A caller's SP is its callee's
  // canonical frame address: the top of the callee's locals (NativeStack).
  Dwarf_Word sp;
  if (dwfl_frame_reg(frame, kSpReg, &sp) == 0) {
    state->last_sp = sp;
    if (out->depth >= 2) out->cfas[out->depth - 2] = sp;
  }
  return DWARF_CB_OK;
}

// Where the PLT entry at `target` jumps (x86-64: jmp *rel(%rip), maybe
// after endbr64 and a bnd prefix): the GOT slot's value, resolved since a
// call went through it; 0 when `target` is no PLT entry or unreadable.
uint64_t PltDestination(uint64_t target) {
#if defined(__x86_64__)
  unsigned char code[11];
  if (!ReadOwnMemory(target, code, sizeof(code))) return 0;
  size_t at = 0;
  if (code[0] == 0xF3 && code[1] == 0x0F && code[2] == 0x1E && code[3] == 0xFA) at = 4;
  if (code[at] == 0xF2) ++at;  // bnd
  if (code[at] != 0xFF || code[at + 1] != 0x25) return 0;
  int32_t disp;
  std::memcpy(&disp, code + at + 2, 4);
  const uint64_t slot = target + at + 6 + static_cast<int64_t>(disp);
  uint64_t destination = 0;
  return ReadOwnValue(slot, &destination) ? destination : 0;
#else
  (void)target;
  return 0;
#endif
}

// The bytes before `ret`, as a call: kNone, a direct call (`*direct_target`
// set), or an indirect one. x86-64: call rel32, or through a register or
// memory; aarch64: bl / blr.
enum class CallKind { kNone, kDirect, kIndirect };
#if defined(__x86_64__)
bool FollowsIndirectCall(const unsigned char* end);
#endif

CallKind CallBefore(uint64_t ret, uint64_t* direct_target) {
#if defined(__x86_64__)
  unsigned char code[8];
  if (ret < sizeof(code) || !ReadOwnMemory(ret - sizeof(code), code, sizeof(code))) return CallKind::kNone;
  const unsigned char* end = code + sizeof(code);
  if (end[-5] == 0xE8) {                                                      // call rel32
    int32_t rel;
    std::memcpy(&rel, end - 4, 4);
    *direct_target = ret + static_cast<int64_t>(rel);
    return CallKind::kDirect;
  }
  return FollowsIndirectCall(end) ? CallKind::kIndirect : CallKind::kNone;
#else
  uint32_t insn;
  if (ret < 4 || !ReadOwnMemory(ret - 4, &insn, 4)) return CallKind::kNone;
  if ((insn & 0xFC000000u) == 0x94000000u) {
    const int64_t imm = static_cast<int64_t>(static_cast<int32_t>(insn << 6) >> 6) * 4;
    *direct_target = ret - 4 + imm;
    return CallKind::kDirect;
  }
  return (insn & 0xFFFFFC1Fu) == 0xD63F0000u ? CallKind::kIndirect : CallKind::kNone;
#endif
}

#if defined(__x86_64__)
// Whether the bytes ending at `end` end with an indirect call.
bool FollowsIndirectCall(const unsigned char* end) {
  if (end[-2] == 0xFF && (end[-1] & 0xF8) == 0xD0) return true;               // call *%reg
  if (end[-3] == 0xFF && (end[-2] & 0xF8) == 0x50 && (end[-2] & 7) != 4) return true;  // disp8
  if (end[-4] == 0xFF && end[-3] == 0x54) return true;                        // disp8, SIB
  if (end[-6] == 0xFF && (end[-5] == 0x15 || ((end[-5] & 0xF8) == 0x90 && (end[-5] & 7) != 4)))
    return true;                                                              // rip/disp32
  if (end[-7] == 0xFF && end[-6] == 0x94) return true;                        // disp32, SIB
  if (end[-3] == 0xFF && (end[-2] & 0xF8) == 0x10 && (end[-2] & 7) == 4) return true;  // (SIB)
  if (end[-2] == 0xFF && (end[-1] & 0xF8) == 0x10 && (end[-1] & 7) != 4 && (end[-1] & 7) != 5)
    return true;                                                              // call *(%reg)
  if (end[-3] == 0x41 && end[-2] == 0xFF && (end[-1] & 0xF8) == 0xD0) return true;  // r8-r15
  return false;
}
#endif

// Whether the unwind tables say `pc` (a frame's lookup PC) is in a thread's
// outermost frame (its return address column undefined: clone3, _start).
// libdwfl ends a walk the same way (no error) when a CFA cannot be computed
// for want of a register, which this tells apart.
bool IsOutermostFrame(Dwfl* dwfl, uint64_t pc) {
  Dwfl_Module* module = dwfl_addrmodule(dwfl, pc);
  if (module == nullptr) return false;
  Dwarf_Addr bias = 0;
  Dwarf_CFI* cfi = dwfl_module_eh_cfi(module, &bias);
  if (cfi == nullptr) cfi = dwfl_module_dwarf_cfi(module, &bias);
  if (cfi == nullptr) return false;
  Dwarf_Frame* frame = nullptr;
  if (dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0 || frame == nullptr) return false;
  bool signal_frame = false;
  const int ra_column = dwarf_frame_info(frame, nullptr, nullptr, &signal_frame);
  Dwarf_Op ops_mem[3];
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  const bool undefined = ra_column >= 0 &&
                         dwarf_frame_register(frame, ra_column, ops_mem, &ops, &nops) == 0 &&
                         nops == 0 && ops == ops_mem;
  std::free(frame);
  return undefined;
}

// Whether a direct call to `target` can have entered the function holding
// `pc`: `target` is that function's symbol, or, in a module without one for
// it (stripped of .symtab), an address shortly before `pc`.
bool MayEnter(Dwfl* dwfl, uint64_t target, uint64_t pc) {
  Dwfl_Module* module = dwfl_addrmodule(dwfl, pc);
  if (module == nullptr) return false;
  GElf_Off offset = 0;
  GElf_Sym sym;
  if (dwfl_module_addrinfo(module, pc, &offset, &sym, nullptr, nullptr, nullptr) != nullptr) {
    return target == pc - offset;
  }
  return target <= pc && pc - target < 16384;
}

// Whether `ret` is the return address of a frame this walk already recorded
// (found again when scanning starts below it).
bool IsRecordedReturn(const NativeStack& out, int walk_first, uint64_t ret) {
  for (int i = walk_first + 1; i < out.depth; ++i) {
    if (out.pcs[i] == ret - 1) return true;
  }
  return false;
}

}  // namespace

RemoteUnwinder::RemoteUnwinder() = default;
RemoteUnwinder::~RemoteUnwinder() = default;

namespace {

// A Dwfl over this process's modules, attached with our thread callbacks.
bool Attach(State* state, std::string* error) {
  if (state->dwfl != nullptr) dwfl_end(state->dwfl);
  state->dwfl = dwfl_begin(&kProcCallbacks);
  state->pid = getpid();
  if (state->dwfl == nullptr) {
    *error = dwfl_errmsg(-1);
    return false;
  }
  state->loaded_objects = LoadedObjects();
  dwfl_report_begin(state->dwfl);
  const int reported = ReportLoadedObjects(state->dwfl);
  dwfl_report_end(state->dwfl, nullptr, nullptr);
  if (reported != 0 ||
      !dwfl_attach_state(state->dwfl, nullptr, state->pid, &kThreadCallbacks, state)) {
    *error = reported != 0 ? "out of memory reporting the loaded objects" : dwfl_errmsg(-1);
    dwfl_end(state->dwfl);
    state->dwfl = nullptr;
    return false;
  }
  return true;
}

}  // namespace

namespace {

// One CFI walk from the state's start registers, appended to `out`; its
// dwfl_getthread_frames result.
int Walk(State* state, pid_t tid, NativeStack* out) {
  state->out = out;
  state->first_of_walk = true;
  state->last_sp = state->start_sp;
  state->walk_first = out->depth;
  const int rc = dwfl_getthread_frames(state->dwfl, tid, OnFrame, state);
  state->out = nullptr;
  return rc;
}

bool WalkReachedOutermost(State* state, int rc, const NativeStack& out, int depth_before) {
  return rc == 0 && out.depth > depth_before &&
         IsOutermostFrame(state->dwfl, out.pcs[out.depth - 1]);
}

}  // namespace

RemoteUnwindResult RemoteUnwinder::Unwind(pid_t tid, uint64_t sp, uint64_t pc, NativeStack* out) {
  std::lock_guard<std::mutex> lock(mu_);
  RemoteUnwindResult result;
  out->depth = 0;
  out->truncated = 0;
  if (!state_) state_ = std::make_unique<State>();
  State* state = state_.get();
  // A forked child is another process; a library loaded or unloaded since
  // (or a PC outside every module we know) means the modules changed.
  if (state->dwfl == nullptr || state->pid != getpid() ||
      state->loaded_objects != LoadedObjects() || dwfl_addrmodule(state->dwfl, pc) == nullptr) {
    if (!Attach(state, &result.error)) return result;
  }
  state->CopyStack(sp);
  state->start_pc = pc;
  state->start_sp = sp;
  state->have_fp = false;
  state->start_is_return_address = false;
  int rc = Walk(state, tid, out);
  auto* trial = new NativeStack;  // 2 KiB: not on the caller's stack
  for (;;) {
    if (out->truncated) {
      result.end = RemoteUnwindResult::End::kTruncated;
      break;
    }
    if (out->depth == 0) {
      result.end = RemoteUnwindResult::End::kFailed;
      result.error = rc == 0 ? "no frame" : dwfl_errmsg(-1);
      break;
    }
    if (rc == 0 && IsOutermostFrame(state->dwfl, out->pcs[out->depth - 1])) {
      result.end = RemoteUnwindResult::End::kOutermost;
      break;
    }
    result.end = RemoteUnwindResult::End::kLost;
    result.error = rc == 0 ? "a frame's CFA needs a register that is not known" : dwfl_errmsg(-1);
    if (result.scans == kMaxScans) break;
    // Scan up from the last frame's SP for a return address: a word pointing
    // just after a call instruction in a module, from which a walk goes on by
    // CFI (two frames, or the thread's outermost). Stale return addresses in
    // the frame's uninitialized locals (an earlier, deeper call; a thread
    // that had this stack before) pass that too, so the passes prefer what
    // can only be the caller: 0, a direct call to the stuck function (or to a
    // PLT entry whose GOT slot leads there); 1, an indirect call; 2,
    // any call (the stuck function was reached by a tail call).
    const uint64_t from = (state->last_sp + 7) & ~uint64_t{7};
    const int walk_first = state->walk_first;
    const uint64_t stuck_pc = out->pcs[out->depth - 1];
    bool found = false;
    for (int pass = 0; pass < 3 && !found; ++pass) {
      for (uint64_t slot = from; slot < from + kScanBytes && !found; slot += 8) {
        uint64_t candidate;
        if (slot < state->stack_base || slot - state->stack_base + 8 > state->stack_len) break;
        if (!state->Read(slot, &candidate) || candidate < 4096) continue;
        uint64_t target = 0;
        const CallKind call = CallBefore(candidate, &target);
        if (call == CallKind::kNone) continue;
        // A call through a PLT entry counts by where its GOT slot leads.
        if (call == CallKind::kDirect) {
          if (const uint64_t through = PltDestination(target)) target = through;
        }
        if (pass == 0 && !(call == CallKind::kDirect && MayEnter(state->dwfl, target, stuck_pc))) {
          continue;
        }
        if (pass == 1 && call != CallKind::kIndirect) continue;
        if (dwfl_addrmodule(state->dwfl, candidate) == nullptr) continue;
        if (IsRecordedReturn(*out, walk_first, candidate)) continue;
        uint64_t fp = 0;
        const bool fp_plausible =
            state->Read(slot - 8, &fp) && fp > slot && fp - slot < (8u << 20);
        state->start_pc = candidate;
        state->start_sp = slot + 8;
        state->start_is_return_address = true;
        state->have_fp = fp_plausible;
        state->start_fp = fp;
        trial->depth = 0;
        trial->truncated = 0;
        const int trial_rc = Walk(state, tid, trial);
        if (trial->depth < 2 && !WalkReachedOutermost(state, trial_rc, *trial, 0)) continue;
        found = true;
        const int room = kMaxNativeFrames - out->depth;
        const int take = std::min(room, static_cast<int>(trial->depth));
        std::copy(trial->pcs, trial->pcs + take, out->pcs + out->depth);
        if (result.scanned_from < 0) result.scanned_from = out->depth;
        out->depth += take;
        out->truncated = trial->truncated || take < trial->depth;
        state->walk_first = out->depth - take;
        rc = trial_rc;
      }
    }
    if (!found) break;
    ++result.scans;
  }
  delete trial;
  return result;
}

}  // namespace aiowatchdog
