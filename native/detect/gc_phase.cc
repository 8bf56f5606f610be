// See gc_phase.h.
#include "detect/gc_phase.h"

#include <atomic>

namespace aiowatchdog {
namespace {

std::atomic<pid_t> g_collecting{0};

}  // namespace

void NoteCollectingThread(pid_t tid) { g_collecting.store(tid, std::memory_order_relaxed); }

pid_t CollectingThread() { return g_collecting.load(std::memory_order_relaxed); }

}  // namespace aiowatchdog
