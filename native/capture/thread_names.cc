// See thread_names.h.
#include "capture/thread_names.h"

#include <unistd.h>

#include <new>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/utf8_text.h"

namespace aiowatchdog {
namespace {

using NameTable = absl::flat_hash_map<int64_t, std::string>;

absl::Mutex g_mu;
// Created on first use and replaced, never freed, in a forked child: the fork
// handler may not allocate or free (ResetThreadNamesAfterFork). A plain
// pointer, not a function-local static, whose initialisation guard another
// thread may hold at a fork.
NameTable* g_names = nullptr;  // guarded by g_mu
pid_t g_names_pid = 0;         // the process g_names belongs to; guarded by g_mu

NameTable& Names() {
  if (g_names == nullptr || g_names_pid != getpid()) {
    g_names = new NameTable();  // the parent's table (copied at fork) is forgotten
    g_names_pid = getpid();
  }
  return *g_names;
}

}  // namespace

void PublishThreadNames(std::vector<NamedThread> threads) {
  NameTable fresh;
  for (NamedThread& t : threads) fresh[t.native_id] = EscapeInvalidUtf8(t.name);
  absl::MutexLock lock(&g_mu);
  Names().swap(fresh);
}

void NoteThreadName(const NamedThread& thread) {
  std::string name = EscapeInvalidUtf8(thread.name);
  absl::MutexLock lock(&g_mu);
  Names()[thread.native_id] = std::move(name);
}

// Runs in a forked child's pthread_atfork handler: async-signal-safe only.
// Re-initialising the mutex is a constant initialisation (stores); the table
// is replaced on first use (Names sees another pid).
void ResetThreadNamesAfterFork() { new (&g_mu) absl::Mutex(); }

std::optional<std::string> LookUpThreadName(int64_t native_id) {
  absl::MutexLock lock(&g_mu);
  auto it = Names().find(native_id);
  if (it == Names().end()) return std::nullopt;
  return it->second;
}

}  // namespace aiowatchdog
