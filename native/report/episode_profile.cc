// See episode_profile.h.
#include "report/episode_profile.h"

#include <fmt/format.h>

#include <iterator>

#include "report/json_report.h"
#include "report/report_writer.h"

namespace aiowatchdog {

void EpisodeProfile::Reset() {
  stacks_.clear();
  index_.clear();
  samples_ = discarded_ = dropped_ = 0;
}

std::string EpisodeProfile::Key(const std::vector<Frame>& frames) {
  // Unambiguous: every field is length-prefixed.
  std::string key;
  for (const Frame& f : frames) {
    for (const std::string* part : {&f.kind, &f.file, &f.function}) {
      key += std::to_string(part->size());
      key += ':';
      key += *part;
    }
    key += std::to_string(f.line);
    key += ';';
  }
  return key;
}

void EpisodeProfile::Add(const std::vector<Frame>& frames) {
  std::string key = Key(frames);
  auto found = index_.find(key);
  if (found == index_.end()) {
    if (stacks_.size() >= kMaxStacks) {
      ++dropped_;
      return;
    }
    found = index_.emplace(std::move(key), stacks_.size()).first;
    stacks_.push_back(Stack{frames, 0});
  }
  ++stacks_[found->second].count;
  ++samples_;
}

std::string EpisodeProfile::RenderJson(const ProfileHeader& h) const {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "{{\n  \"schema\": \"aiowatchdog.profile\",\n  \"schema_version\": 1,\n"
                 "  \"episode\": {},\n  \"pid\": {},\n  \"python\": {},\n"
                 "  \"profile_hz\": {},\n  \"interval_s\": {},\n  \"started_unix_ns\": {},\n"
                 "  \"blocked_s\": {:.6f},\n  \"recovered\": {},\n  \"samples\": {},\n"
                 "  \"discarded_samples\": {},\n  \"dropped_samples\": {},\n"
                 "  \"loop_thread\": {{\"native_id\": {}, \"name\": {}}},\n  \"stacks\": [",
                 JsonQuote(h.episode_id), h.pid, JsonQuote(h.python_version), h.profile_hz,
                 h.interval_s, h.started_unix_ns, h.blocked_s, h.recovered ? "true" : "false",
                 samples_, discarded_, dropped_, h.loop_native_id, JsonQuote(h.loop_thread_name));
  for (size_t i = 0; i < stacks_.size(); ++i) {
    fmt::format_to(it, "{}\n    {{\"count\": {}, \"frames\": [", i ? "," : "", stacks_[i].count);
    const std::vector<Frame>& frames = stacks_[i].frames;
    for (size_t k = 0; k < frames.size(); ++k) {
      fmt::format_to(it, "{}\n      {}", k ? "," : "", JsonFrame(frames[k]));
    }
    out += frames.empty() ? "]}" : "\n    ]}";
  }
  out += stacks_.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

std::string ProfileFileName(int64_t sample0_unix_ns) {
  // "stacktrace-<stamp>-0" -> "profile-<stamp>.json"
  const std::string stem = ReportStem(sample0_unix_ns, 0);
  constexpr size_t kPrefix = sizeof("stacktrace-") - 1;
  return "profile-" + stem.substr(kPrefix, stem.size() - kPrefix - 2) + ".json";
}

}  // namespace aiowatchdog
