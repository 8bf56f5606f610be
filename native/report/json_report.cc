// See json_report.h. Hand-written rather than a JSON library: the model is
// small and fixed, and the output must be valid UTF-8 whatever bytes a source
// file or path held.
#include "report/json_report.h"

#include <fmt/format.h>

#include <iterator>

#include "common/utf8_text.h"

namespace aiowatchdog {

std::string JsonFrame(const Frame& f) {
  return fmt::format("{{\"kind\": {}, \"file\": {}, \"line\": {}, \"function\": {}, "
                     "\"source\": {}}}",
                     JsonQuote(f.kind), JsonQuote(f.file),
                     f.line < 0 ? "null" : std::to_string(f.line), JsonQuote(f.function),
                     JsonQuote(f.source));
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {  // a byte that is not UTF-8: "\\xNN", as utf8_text.h
      fmt::format_to(std::back_inserter(out), "\\\\x{:02x}", c);
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
          else out += static_cast<char>(c);
      }
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
  return out;
}

std::string RenderJsonReport(const SampleReport& r) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "{{\n  \"schema\": \"aiowatchdog.report\",\n  \"schema_version\": {},\n"
                 "  \"episode\": {},\n  \"sample\": {},\n  \"samples\": {},\n"
                 "  \"blocked_s\": {:.6f},\n  \"interval_s\": {:.6f},\n"
                 "  \"sample_interval_s\": {:.6f},\n  \"pid\": {},\n  \"python\": {},\n"
                 "  \"captured_at\": {},\n  \"captured_unix_ns\": {},\n"
                 "  \"capture_ms\": {:.3f},\n  \"loop_pause_ms\": {:.3f},\n",
                 kReportSchemaVersion, JsonQuote(r.episode_id), r.sample_index, r.samples,
                 r.blocked_s, r.interval_s, r.sample_interval_s, r.pid,
                 JsonQuote(r.python_version), JsonQuote(r.captured_local), r.captured_unix_ns,
                 r.capture_ms, r.loop_pause_ms);
  if (r.blocked_min_s >= 0) fmt::format_to(it, "  \"blocked_min_s\": {:.6f},\n", r.blocked_min_s);
  if (r.task) {
    fmt::format_to(it, "  \"task\": {{\"coroutine\": {}, \"file\": {}, \"line\": {}}},\n",
                   JsonQuote(r.task->coroutine), JsonQuote(r.task->file),
                   r.task->line < 0 ? "null" : std::to_string(r.task->line));
  } else {
    out += "  \"task\": null,\n";
  }
  if (r.loop_activity) {
    const LoopActivity& a = *r.loop_activity;
    const auto share = [](double v) { return v < 0 ? std::string("null") : fmt::format("{:.4f}", v); };
    fmt::format_to(it,
                   "  \"loop_activity\": {{\"state\": {}, \"syscall\": {}, \"cpu_share\": {}, "
                   "\"runqueue_share\": {}, \"gc_running\": {}{}}},\n",
                   JsonQuote(a.state), JsonQuote(a.syscall), share(a.cpu_share),
                   share(a.runqueue_share), a.gc_running ? "true" : "false",
                   a.gil_holder > 0 ? fmt::format(", \"gil_holder_native_id\": {}", a.gil_holder)
                                    : std::string());
  } else {
    out += "  \"loop_activity\": null,\n";
  }
  fmt::format_to(it,
                 "  \"other_threads\": {},\n  \"threads_not_sampled\": {},\n"
                 "  \"suppressed_episodes\": {},\n  \"threads\": [",
                 r.other_threads, r.threads_not_sampled, r.suppressed_episodes);
  for (size_t i = 0; i < r.threads.size(); ++i) {
    const ThreadReport& t = r.threads[i];
    fmt::format_to(it,
                   "{}\n    {{\"ident\": {}, \"native_id\": {}, \"name\": {}, \"is_loop\": {},"
                   " \"status\": {}, \"kernel_state\": {}, \"truncated\": {},{}{}{}\n     \"frames\": [",
                   i ? "," : "", t.ident, t.native_id, JsonQuote(t.name),
                   t.is_loop ? "true" : "false", JsonQuote(t.status), JsonQuote(t.kernel_state),
                   t.truncated ? "true" : "false",
                   t.gap_at < 0 ? "" : fmt::format(" \"gap_at\": {},", t.gap_at),
                   t.captured_by.empty() ? "" : " \"captured_by\": " + JsonQuote(t.captured_by) + ",",
                   t.holds_gil ? " \"holds_gil\": true," : "");
    for (size_t k = 0; k < t.frames.size(); ++k) {
      fmt::format_to(it, "{}\n       {}", k ? "," : "", JsonFrame(t.frames[k]));
    }
    out += t.frames.empty() ? "]}" : "\n     ]}";
  }
  out += r.threads.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace aiowatchdog
