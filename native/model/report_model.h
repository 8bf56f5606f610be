// The report model: one Sample of one hang Episode, each thread's stack as
// Frames, outermost first. Renderers (text_report, json_report) turn it into
// files; nothing here knows a file format. Python mirrors it in
// aiowatchdog/_report_files.py (the parser of both formats).
#ifndef AIOWATCHDOG_REPORT_MODEL_H_
#define AIOWATCHDOG_REPORT_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aiowatchdog {

// Bumped whenever a field changes meaning or goes away; docs/reports.md documents it.
inline constexpr int kReportSchemaVersion = 1;

struct Frame {
  std::string kind = "python";  // "python" or "native"
  std::string file;             // native: the library ("<library> + 0x<offset>"
                                // when the function is unknown)
  int32_t line = -1;            // -1: unknown; always for native frames
  std::string function;         // native: "<symbol> + 0x<offset>", or an address
  std::string source;           // the stripped source line, or empty
};

struct ThreadReport {
  uint64_t ident = 0;          // threading.get_ident(); 0 when unknown
  int64_t native_id = 0;       // kernel thread id
  std::string name;            // threading name, else the kernel's
  bool is_loop = false;        // the watched event loop runs on this thread
  // "answered", or why not: "signals blocked", "no answer", "gone".
  std::string status = "answered";
  std::string kernel_state;    // "R", "S", "D", ... from /proc
  bool truncated = false;      // outermost frames were dropped
  // Where they would be: frames[gap_at] is the frame just inside them (the
  // outermost Python frame kept); frames before it are outer native frames
  // that were kept (main, the task step). -1: no gap, or not said (older
  // models). Written only when >= 0.
  int32_t gap_at = -1;
  // "outside: <syscall>" (read without a signal, blocked in that call),
  // "signal", "signal: <why not from outside>"; "" not said (older reports,
  // reads from outside off). Written only when not "".
  std::string captured_by;
  // It held the GIL the loop's thread was waiting for (LoopActivity::gil_holder).
  // Written only when true.
  bool holds_gil = false;
  std::vector<Frame> frames;   // outermost first
};

struct TaskInfo {
  std::string coroutine;  // the task's coroutine: its qualified name
  std::string file;
  int32_t line = -1;
  // id() of the coroutine object, for the Python side to find the Task by
  // (after the hang, on the loop's thread); not written to reports. 0: unknown.
  uint64_t coroutine_address = 0;
};

// What the loop's thread was doing during the hang; loop_activity.h decides.
struct LoopActivity {
  std::string state;           // "on-cpu" | "syscall" | "gil" | "starved" | "unknown"
  std::string syscall;         // state "syscall": "futex", "clock_nanosleep", ...,
                               // or "#<n>"; "" when not known or another state
  double cpu_share = -1;       // on-CPU ns / wall ns over the window; -1 unknown
  double runqueue_share = -1;  // run-queue wait ns / wall ns over the window; -1 unknown
  bool gc_running = false;     // the collector was running on the loop's thread at capture
  // state "gil": the native id of the thread holding the GIL then, 0 unknown
  // (model/gil_state.h). That thread's section says holds_gil.
  int64_t gil_holder = 0;
};

struct SampleReport {
  std::string episode_id;
  int32_t sample_index = 0;
  int32_t samples = 0;            // samples planned per episode
  double blocked_s = 0;           // no heartbeat for this long at capture
  // Its lower bound when the probe sees the loop only now and then (uvloop's
  // heartbeat: the block began up to a period after the last beat); -1: exact.
  double blocked_min_s = -1;
  double interval_s = 0;
  double sample_interval_s = 0;
  int64_t pid = 0;
  std::string python_version;
  int64_t captured_unix_ns = 0;   // wall clock at capture
  std::string captured_local;     // ISO 8601 local time with UTC offset
  std::optional<TaskInfo> task;   // the loop's current task, when known
  int32_t other_threads = 0;      // Python-only reports: threads with no Python frames
  int32_t threads_not_sampled = 0;  // past the thread limit
  int64_t suppressed_episodes = 0;  // episodes not reported (rate limit) since
                                    // the previous report of this watchdog
  double capture_ms = 0;          // the whole capture, all threads
  double loop_pause_ms = 0;       // time the loop's thread spent in our handler
  // Nothing when the watchdog did not tell (reports of older versions).
  std::optional<LoopActivity> loop_activity;
  std::vector<ThreadReport> threads;  // the loop's thread first
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REPORT_MODEL_H_
