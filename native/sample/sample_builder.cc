// See sample_builder.h.
#include "sample/sample_builder.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "sample/stack_merge.h"
#include "capture/thread_names.h"

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

// Whether native frame i (of stack addresses [cfas[i - 1], cfas[i])) holds
// the C-stack object of an eval-loop invocation that the walker saw
// (RawPyFrame::entry_frame): then it is that invocation's eval loop, whatever
// its symbol (stripped interpreters name none; Debian's split the eval loop
// into hot and cold parts without symbols).
bool HoldsEntryFrame(const std::vector<uintptr_t>& cfas, size_t i,
                     const std::vector<RawPyFrame>& python) {
  if (i >= cfas.size() || cfas[i] == 0) return false;
  const uintptr_t low = i == 0 ? 0 : cfas[i - 1], high = cfas[i];
  for (const RawPyFrame& f : python) {
    if (f.entry_frame != 0 && f.entry_frame >= low && f.entry_frame < high) return true;
  }
  return false;
}

std::vector<ClassifiedNativeFrame> Classify(const std::vector<uintptr_t>& pcs,
                                            const std::vector<uintptr_t>& cfas,
                                            const std::vector<RawPyFrame>& python,
                                            Symbolizer& symbolizer) {
  std::vector<ClassifiedNativeFrame> frames;
  frames.reserve(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) {
    const uintptr_t pc = pcs[i];
    const NativeSymbol& symbol = symbolizer.Resolve(pc);
    ClassifiedNativeFrame frame;
    frame.name = symbol.Describe(pc);
    // Unknown functions are printed as addresses with their library offset.
    frame.library = symbol.function.empty() && !symbol.library.empty()
                        ? absl::StrFormat("%s + 0x%x", symbol.library, symbol.library_offset)
                        : symbol.library;
    frame.is_interpreter = IsInterpreterObject(symbol.library);
    frame.is_eval = IsEvalFunction(symbol.function) ||
                    (frame.is_interpreter && HoldsEntryFrame(cfas, i, python));
    frames.push_back(std::move(frame));
  }
  return frames;
}

std::vector<Frame> PythonOnly(const std::vector<RawPyFrame>& innermost_first) {
  std::vector<Frame> frames;
  frames.reserve(innermost_first.size());
  for (auto it = innermost_first.rbegin(); it != innermost_first.rend(); ++it) {
    frames.push_back(Frame{"python", it->file, it->line, it->function, ""});
  }
  return frames;
}

}  // namespace

std::optional<TaskInfo> CurrentTaskFromFrames(const std::vector<RawPyFrame>& innermost_first) {
  for (auto it = innermost_first.rbegin(); it != innermost_first.rend(); ++it) {
    if (it->is_coroutine) return TaskInfo{it->function, it->file, it->line, it->coroutine};
  }
  return std::nullopt;
}

SampleReport BuildSample(SampleReport report, const CaptureResult& capture, pid_t loop_tid,
                         bool native, SourceLines& sources, Symbolizer& symbolizer) {
  report.threads.clear();
  report.other_threads = 0;
  report.threads_not_sampled = capture.threads_not_sampled;
  report.capture_ms = capture.duration_ns / 1e6;
  report.loop_pause_ms = 0;
  report.task.reset();
  for (const RawThreadCapture& raw : capture.threads) {
    const bool answered = raw.outcome == RawThreadCapture::Outcome::kAnswered;
    if (raw.outcome == RawThreadCapture::Outcome::kGone) continue;
    if (answered && !raw.has_python && !native) {
      ++report.other_threads;
      continue;
    }
    ThreadReport thread;
    thread.ident = raw.ident;
    thread.native_id = raw.tid;
    thread.name = LookUpThreadName(raw.tid).value_or(raw.comm);
    thread.is_loop = raw.tid == loop_tid;
    thread.status = StatusText(raw.outcome);
    thread.captured_by = raw.captured_by;
    // What can be read safely about a thread that could not answer: where
    // the kernel has it waiting (its stack is not read from outside).
    if (!answered && !raw.wchan.empty()) thread.status += ", waiting in " + raw.wchan;
    // '?': gone before its state could be read; "" in the model (unknown).
    if (raw.kernel_state != '?') thread.kernel_state = std::string(1, raw.kernel_state);
    const bool native_truncated = native && raw.native_truncated;
    thread.truncated = raw.truncated || native_truncated;
    size_t python_outer_edge = 0;
    thread.frames = native && !raw.native_pcs.empty()
                        ? MergeStacks(Classify(raw.native_pcs, raw.native_cfas, raw.frames, symbolizer),
                                      raw.frames, &python_outer_edge)
                        : PythonOnly(raw.frames);
    // The gap where the dropped frames were: outside everything when the
    // native stack lost its outer end (what is outside the kept frames is
    // unknown), else just outside the outermost Python frame kept, inside
    // the outer native frames kept (main, the task step).
    if (native_truncated) {
      thread.gap_at = 0;
    } else if (raw.truncated) {
      thread.gap_at = static_cast<int32_t>(python_outer_edge);
    }
    for (Frame& frame : thread.frames) {
      if (frame.kind == "python") frame.source = sources.Get(frame.file, frame.line);
    }
    if (thread.is_loop) {
      report.task = CurrentTaskFromFrames(raw.frames);
      report.loop_pause_ms = raw.pause_ns / 1e6;
    }
    report.threads.push_back(std::move(thread));
  }
  std::stable_partition(report.threads.begin(), report.threads.end(),
                        [](const ThreadReport& t) { return t.is_loop; });
  return report;
}

}  // namespace aiowatchdog
