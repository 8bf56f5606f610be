// Sections of a thread's run that the application declared allowed to block
// (aiowatchdog.allow_blocking): while a thread is inside one, a watchdog
// following a loop on that thread does not declare a hang, and the time up to
// the section's end does not count towards the next one.
//
// A fixed table of per-thread slots, claimed by compare-and-swap on first use
// and kept (a loop thread enters sections again and again): entering and
// leaving are a few atomic operations, no lock, no allocation; watchdog
// threads read a slot without stopping the thread it belongs to. A thread
// that finds the table full is not exempted (EnterAllowedSection says so).
#ifndef AIOWATCHDOG_ALLOWED_SECTIONS_H_
#define AIOWATCHDOG_ALLOWED_SECTIONS_H_

#include <sys/types.h>

#include <cstdint>

namespace aiowatchdog {

inline constexpr int kMaxAllowedThreads = 256;

struct AllowedState {
  int32_t depth = 0;         // sections the thread is inside now (nested)
  int64_t last_exit_ns = 0;  // CLOCK_MONOTONIC when it last left one, 0: never
  int64_t total_ns = 0;      // time spent inside (outermost sections), in all
};

// On the thread itself. False when no slot was free (then the section is not
// exempted, and ExitAllowedSection must still be called, harmlessly).
bool EnterAllowedSection(pid_t tid, int64_t now_ns);
void ExitAllowedSection(pid_t tid, int64_t now_ns);

// From any thread; a thread never seen has the zero state.
AllowedState ReadAllowedSection(pid_t tid);

// No fork handling is needed: a forked child's thread has a new id, so the
// slots it inherits never match a thread of its own.

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_ALLOWED_SECTIONS_H_
