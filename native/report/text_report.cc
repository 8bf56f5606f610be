// See text_report.h. Every value is put on one line: control characters in
// names or paths (which could forge a line of their own) become '?', and
// bytes that are not UTF-8 are written "\xNN" (utf8_text.h): a report is
// always valid UTF-8.
#include "report/text_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/str_join.h"
#include "report/json_report.h"
#include "common/utf8_text.h"

namespace aiowatchdog {
namespace {

std::string OneLine(std::string_view text) {
  std::string s = EscapeInvalidUtf8(text);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

std::string LineText(int32_t line) { return line < 0 ? "?" : std::to_string(line); }

// "on CPU (CPU 98%, run queue 1%)", "waiting in a syscall (futex, CPU 0%,
// run queue 0%); garbage collector running", ...: the state in words, then
// what is known of the syscall and shares.
std::string ActivityText(const LoopActivity& a) {
  std::string text;
  std::vector<std::string> details;
  if (a.state == "on-cpu") {
    text = "on CPU";
  } else if (a.state == "syscall") {
    text = "waiting in a syscall";
    if (!a.syscall.empty()) details.push_back(OneLine(a.syscall));
  } else if (a.state == "gil") {
    text = "waiting for the GIL";
    if (a.gil_holder > 0) details.push_back(fmt::format("held by thread {}", a.gil_holder));
  } else if (a.state == "starved") {
    text = "runnable but not scheduled";
    details.push_back("starved");
  } else {
    text = "unknown";
  }
  if (a.cpu_share >= 0) details.push_back(fmt::format("CPU {:.0f}%", a.cpu_share * 100));
  if (a.runqueue_share >= 0) {
    details.push_back(fmt::format("run queue {:.0f}%", a.runqueue_share * 100));
  }
  if (!details.empty()) text += " (" + absl::StrJoin(details, ", ") + ")";
  if (a.gc_running) text += "; garbage collector running";
  return text;
}

}  // namespace

std::string RenderTextReport(const SampleReport& r) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "# aiowatchdog hang report (schema {})\n", kReportSchemaVersion);
  fmt::format_to(it, "# Episode: {}\n", OneLine(r.episode_id));
  // Counted from 1, as `aiowatchdog show` says it (the JSON's "sample" is the index).
  fmt::format_to(it, "# Sample: {} of {}\n", int64_t{r.sample_index} + 1, r.samples);
  // A range when the probe's stamps are not exact (report_model.h).
  if (r.blocked_min_s >= 0) {
    fmt::format_to(it, "# Blocked for: {:.3f} to {:.3f} s\n", r.blocked_min_s, r.blocked_s);
  } else {
    fmt::format_to(it, "# Blocked for: {:.3f} s\n", r.blocked_s);
  }
  fmt::format_to(it, "# Interval: {:.3f} s\n", r.interval_s);
  fmt::format_to(it, "# Sample interval: {:.3f} s\n", r.sample_interval_s);
  fmt::format_to(it, "# PID: {}\n", r.pid);
  fmt::format_to(it, "# Python: {}\n", OneLine(r.python_version));
  fmt::format_to(it, "# Captured: {}\n", OneLine(r.captured_local));
  fmt::format_to(it, "# Capture took: {:.3f} ms (loop thread paused {:.3f} ms)\n", r.capture_ms,
                 r.loop_pause_ms);
  if (r.task) {
    fmt::format_to(it, "# Task: {} in \"{}\", line {}\n", OneLine(r.task->coroutine),
                   OneLine(r.task->file), LineText(r.task->line));
  }
  if (r.loop_activity) fmt::format_to(it, "# Loop thread: {}\n", ActivityText(*r.loop_activity));
  fmt::format_to(it, "# Threads without Python frames: {}\n", r.other_threads);
  if (r.threads_not_sampled > 0) {
    fmt::format_to(it, "# Threads not sampled (over the limit): {}\n", r.threads_not_sampled);
  }
  if (r.suppressed_episodes > 0) {
    fmt::format_to(it, "# Episodes suppressed before this one (rate limit): {}\n",
                   r.suppressed_episodes);
  }

  for (const ThreadReport& t : r.threads) {
    // The ident first, as aiodebug writes it; the rest is ours.
    fmt::format_to(it, "\n# ThreadID: {} name={} native={} state={}", t.ident,
                   JsonQuote(t.name), t.native_id,
                   t.kernel_state.empty() ? "?" : OneLine(t.kernel_state));
    // Before "[event loop]", which readers of aiodebug's layout find at the end.
    if (!t.captured_by.empty()) fmt::format_to(it, " [captured: {}]", OneLine(t.captured_by));
    if (t.holds_gil) out += " [holds the GIL]";
    if (t.is_loop) out += " [event loop]";
    if (t.status != "answered") fmt::format_to(it, " [not answered: {}]", OneLine(t.status));
    out += '\n';
    // The gap marker where the dropped frames were (at the top for a model
    // that does not say where).
    const size_t gap = std::min(t.gap_at >= 0 ? static_cast<size_t>(t.gap_at) : 0, t.frames.size());
    for (size_t k = 0; k <= t.frames.size(); ++k) {
      if (t.truncated && k == gap) out += "# (truncated: frames not shown here)\n";
      if (k == t.frames.size()) break;
      const Frame& f = t.frames[k];
      if (f.kind == "native") {
        fmt::format_to(it, "Native: {} ({})\n", OneLine(f.function),
                       f.file.empty() ? "?" : OneLine(f.file));
        continue;
      }
      fmt::format_to(it, "File: \"{}\", line {}, in {}\n", OneLine(f.file), LineText(f.line),
                     OneLine(f.function));
      if (!f.source.empty()) fmt::format_to(it, "  {}\n", OneLine(f.source));
    }
  }
  return out;
}

}  // namespace aiowatchdog
