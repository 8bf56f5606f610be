// See source_lines.h.
#include "source_lines.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/ascii.h"

namespace aiowatchdog {

std::string SourceLines::Get(const std::string& path, int32_t line) {
  if (line < 1 || path.empty() || path.front() == '<') return "";
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  const int64_t mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  auto it = files_.find(path);
  if (it == files_.end() || it->second.size != st.st_size || it->second.mtime_ns != mtime_ns) {
    if (it == files_.end() && files_.size() >= max_files_) files_.clear();
    File file;
    file.size = st.st_size;
    file.mtime_ns = mtime_ns;
    std::ifstream in(path, std::ios::binary);
    for (std::string text; std::getline(in, text);) file.lines.push_back(std::move(text));
    it = files_.insert_or_assign(path, std::move(file)).first;
  }
  const auto& lines = it->second.lines;
  if (static_cast<size_t>(line) > lines.size()) return "";
  return std::string(absl::StripAsciiWhitespace(lines[line - 1]));
}

}  // namespace aiowatchdog
