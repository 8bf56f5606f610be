// See allowed_sections.h.
#include "detect/allowed_sections.h"

#include <atomic>

namespace aiowatchdog {
namespace {

struct Slot {
  std::atomic<pid_t> tid{0};          // owner, 0: free
  std::atomic<int32_t> depth{0};
  std::atomic<int64_t> entered_ns{0}; // outermost section's start
  std::atomic<int64_t> last_exit_ns{0};
  std::atomic<int64_t> total_ns{0};
};

Slot g_slots[kMaxAllowedThreads];

Slot* Find(pid_t tid) {
  for (Slot& s : g_slots) {
    if (s.tid.load(std::memory_order_acquire) == tid) return &s;
  }
  return nullptr;
}

Slot* FindOrClaim(pid_t tid) {
  if (Slot* s = Find(tid)) return s;
  for (Slot& s : g_slots) {
    pid_t expected = 0;
    if (s.tid.compare_exchange_strong(expected, tid, std::memory_order_acq_rel)) {
      // A reused thread id may find the slot of a thread that exited; a new
      // slot starts from zero.
      s.depth.store(0);
      s.last_exit_ns.store(0);
      s.total_ns.store(0);
      return &s;
    }
  }
  return nullptr;
}

}  // namespace

bool EnterAllowedSection(pid_t tid, int64_t now_ns) {
  Slot* s = FindOrClaim(tid);
  if (s == nullptr) return false;
  if (s->depth.load(std::memory_order_relaxed) == 0) s->entered_ns.store(now_ns);
  s->depth.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void ExitAllowedSection(pid_t tid, int64_t now_ns) {
  Slot* s = Find(tid);
  if (s == nullptr || s->depth.load(std::memory_order_relaxed) == 0) return;
  if (s->depth.load(std::memory_order_relaxed) == 1) {
    s->total_ns.fetch_add(now_ns - s->entered_ns.load());
    s->last_exit_ns.store(now_ns, std::memory_order_seq_cst);
  }
  s->depth.fetch_sub(1, std::memory_order_seq_cst);
}

AllowedState ReadAllowedSection(pid_t tid) {
  AllowedState state;
  if (tid == 0) return state;
  Slot* s = Find(tid);
  if (s == nullptr) return state;
  state.depth = s->depth.load(std::memory_order_seq_cst);
  state.last_exit_ns = s->last_exit_ns.load(std::memory_order_seq_cst);
  state.total_ns = s->total_ns.load();
  return state;
}

}  // namespace aiowatchdog
