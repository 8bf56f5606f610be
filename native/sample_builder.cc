// See sample_builder.h.
#include "sample_builder.h"

#include <algorithm>

#include "thread_names.h"

namespace aiowatchdog {
namespace {

const char* StatusText(RawThreadCapture::Outcome outcome) {
  switch (outcome) {
    case RawThreadCapture::Outcome::kAnswered: return "answered";
    case RawThreadCapture::Outcome::kSignalsBlocked: return "signals blocked";
    case RawThreadCapture::Outcome::kNoAnswer: return "no answer";
    case RawThreadCapture::Outcome::kGone: return "gone";
  }
  return "unknown";
}

}  // namespace

std::optional<TaskInfo> CurrentTaskFromFrames(const std::vector<RawPyFrame>& innermost_first) {
  for (auto it = innermost_first.rbegin(); it != innermost_first.rend(); ++it) {
    if (it->is_coroutine) return TaskInfo{it->function, it->file, it->line};
  }
  return std::nullopt;
}

SampleReport BuildSample(SampleReport report, const std::vector<RawThreadCapture>& captures,
                         pid_t loop_tid, SourceLines& sources) {
  report.threads.clear();
  report.other_threads = 0;
  report.task.reset();
  for (const RawThreadCapture& capture : captures) {
    const bool answered = capture.outcome == RawThreadCapture::Outcome::kAnswered;
    if (capture.outcome == RawThreadCapture::Outcome::kGone) continue;
    if (answered && !capture.has_python) {
      ++report.other_threads;
      continue;
    }
    ThreadReport thread;
    thread.ident = capture.ident;
    thread.native_id = capture.tid;
    thread.name = LookUpThreadName(capture.tid).value_or(capture.comm);
    thread.is_loop = capture.tid == loop_tid;
    thread.status = StatusText(capture.outcome);
    thread.kernel_state = std::string(1, capture.kernel_state);
    thread.truncated = capture.truncated;
    thread.frames.reserve(capture.frames.size());
    for (auto it = capture.frames.rbegin(); it != capture.frames.rend(); ++it) {
      thread.frames.push_back(Frame{"python", it->file, it->line, it->function,
                                    sources.Get(it->file, it->line)});
    }
    if (thread.is_loop) report.task = CurrentTaskFromFrames(capture.frames);
    report.threads.push_back(std::move(thread));
  }
  std::stable_partition(report.threads.begin(), report.threads.end(),
                        [](const ThreadReport& t) { return t.is_loop; });
  return report;
}

}  // namespace aiowatchdog
