// Source lines for report frames, read on the watchdog thread (never in signal
// context) without Python's linecache, which needs the GIL. Files are cached
// by path and re-read when their size or mtime changes; a bounded cache so a
// long-running process with many modules does not grow without end.
#ifndef AIOWATCHDOG_SOURCE_LINES_H_
#define AIOWATCHDOG_SOURCE_LINES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <unordered_map>

namespace aiowatchdog {

class SourceLines {
 public:
  explicit SourceLines(size_t max_files = 256) : max_files_(max_files) {}

  // The line (1-based) with surrounding white space stripped, or "" when the
  // file or line cannot be read ("<frozen ...>", "<string>", deleted files).
  // Always valid UTF-8: a file declaring Latin-1 (PEP 263) is decoded, other
  // bytes that are not UTF-8 come back as "\xNN" (utf8_text.h).
  std::string Get(const std::string& path, int32_t line);

 private:
  struct File {
    int64_t size = -1;
    int64_t mtime_ns = -1;
    std::vector<std::string> lines;
  };
  size_t max_files_;
  // std::unordered_map: left as it was when an insert runs out of memory
  // (absl's flat maps are left corrupt, and assert on the next insert).
  std::unordered_map<std::string, File> files_;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_SOURCE_LINES_H_
