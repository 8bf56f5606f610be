// See thread_names.h.
#include "thread_names.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "utf8_text.h"

namespace aiowatchdog {
namespace {

absl::Mutex g_mu;
absl::flat_hash_map<int64_t, std::string>& Names() {
  static auto* names = new absl::flat_hash_map<int64_t, std::string>();
  return *names;
}

}  // namespace

void PublishThreadNames(std::vector<NamedThread> threads) {
  absl::flat_hash_map<int64_t, std::string> fresh;
  for (NamedThread& t : threads) fresh[t.native_id] = EscapeInvalidUtf8(t.name);
  absl::MutexLock lock(&g_mu);
  Names().swap(fresh);
}

void ResetThreadNamesAfterFork() {
  new (&g_mu) absl::Mutex();
  Names().clear();
}

std::optional<std::string> LookUpThreadName(int64_t native_id) {
  absl::MutexLock lock(&g_mu);
  auto it = Names().find(native_id);
  if (it == Names().end()) return std::nullopt;
  return it->second;
}

}  // namespace aiowatchdog
