// The watchdog's settings, one struct mirrored by aiowatchdog._options.Options
// in Python. Values are validated once, by aiowatchdog._options, which the
// binding (module.cc) calls with the values it got; the core trusts them.
#ifndef AIOWATCHDOG_OPTIONS_H_
#define AIOWATCHDOG_OPTIONS_H_

#include <cstdint>
#include <string>

namespace aiowatchdog {

struct WatchdogOptions {
  // Directory the report files go to; created and checked by the caller.
  std::string output_dir;
  // A hang is declared when no heartbeat arrived for longer than this. The
  // heartbeat runs every interval/2, so detection comes at most `interval`
  // after the loop stopped. Default 0.25 s, aiodebug's.
  int64_t interval_ns = 250'000'000;
  // Samples per episode: sample 0 at detection, then one every
  // sample_interval_ns while the hang lasts. Default 3 one second apart.
  int32_t samples = 3;
  int64_t sample_interval_ns = 1'000'000'000;
  // How long one thread may take to answer the capture signal before it is
  // reported as not answering. Bounds the cost of a blocked or gone thread.
  int64_t answer_timeout_ns = 50'000'000;
  // Native frames merged into every thread's stack; false: Python-only reports.
  bool native_stacks = true;
  // Threads sampled per capture; past it they are counted, not sampled.
  int32_t max_threads = 1024;
  // The report directory's bound (report_retention.h): the newest
  // `max_reports` reports (a report is one sample's .txt and .json twin), at
  // most `max_bytes` bytes; the oldest go first, after each report written.
  int32_t max_reports = 100;
  int64_t max_bytes = 64LL << 20;
  // Episodes reported per sliding minute; the ones over it are not captured,
  // only counted, and the count goes into the next report written.
  int32_t max_episodes_per_minute = 10;
  // The rate limit's window: a minute; shorter only in tests.
  int64_t rate_window_ns = 60'000'000'000;
  // False: an in-memory watchdog (aiowatchdog.watch, log_slow_callbacks, the
  // pytest plugin): episodes and their samples go to Python only, no file is
  // written, pruned or cleaned up, output_dir is unused, and every episode is
  // captured (no rate limit: the caller asked for every block).
  bool write_reports = true;
  // Blocked-time profiling (episode_profile.h): while a hang lasts, and only
  // then, the loop's thread alone is sampled this many times a second, and
  // the episode gets one profile file when it ends. 0 (default): off; the
  // cost is one signal and one stack walk of the loop's thread per sample,
  // none while the loop is healthy. Ignored when write_reports is false.
  double profile_hz = 0;
  // Permissions of the report files written and of directories made
  // (report_writer.h); the binding checks them (never writable by others).
  int file_mode = 0600;
  int dir_mode = 0700;
  // Interpreter version line for the report header.
  std::string python_version;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_OPTIONS_H_
