// Thread names as `threading` knows them, for reports written without the
// GIL. The Python side publishes (native id, ident, name) triples now and then
// (at start and from the heartbeat, at most once a second), and notes each
// thread started by threading.Thread.start as it starts; the watchdog thread
// looks them up when it writes. A thread named after the last update
// shows its kernel name instead. Process-wide and thread-safe; not for signal
// context.
#ifndef AIOWATCHDOG_THREAD_NAMES_H_
#define AIOWATCHDOG_THREAD_NAMES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aiowatchdog {

struct NamedThread {
  int64_t native_id;
  uint64_t ident;
  std::string name;
};

// Replaces the whole table. Names are bytes (a Python name with surrogates
// arrives encoded with surrogateescape); ones that are not UTF-8 are kept
// escaped ("\xNN", utf8_text.h).
void PublishThreadNames(std::vector<NamedThread> threads);

// Adds or renames one thread, keeping the others: a thread just started,
// told by the thread that started it (aiowatchdog/_thread_starts.py).
void NoteThreadName(const NamedThread& thread);

std::optional<std::string> LookUpThreadName(int64_t native_id);

// In a forked child: the lock may have been held by a parent thread.
void ResetThreadNamesAfterFork();

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_THREAD_NAMES_H_
