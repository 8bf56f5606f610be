// See source_lines.h.
#include "sample/source_lines.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "common/utf8_text.h"

namespace aiowatchdog {
namespace {

// Whether a PEP 263 coding declaration ("# -*- coding: latin-1 -*-", in the
// first two lines) names Latin-1, whose bytes we can turn into UTF-8 here.
// Any other encoding's bytes that are not UTF-8 are escaped ("\xNN").
bool DeclaresLatin1(const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size() && i < 2; ++i) {
    const std::string& line = lines[i];
    const size_t hash = line.find('#');
    if (hash == std::string::npos) continue;
    size_t at = line.find("coding", hash);
    if (at == std::string::npos) continue;
    at += 6;
    if (at >= line.size() || (line[at] != ':' && line[at] != '=')) continue;
    ++at;
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    std::string name;
    while (at < line.size() && (absl::ascii_isalnum(line[at]) || line[at] == '-' ||
                                line[at] == '_' || line[at] == '.')) {
      name += absl::ascii_tolower(line[at] == '_' ? '-' : line[at]);
      ++at;
    }
    return name == "latin-1" || name == "latin1" || name == "iso-8859-1" ||
           name == "iso8859-1" || name == "l1" || name == "cp819" || name == "iso-latin-1";
  }
  return false;
}

}  // namespace

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
    // Reports and Python want UTF-8: never pass on bytes that are not.
    const bool latin1 = DeclaresLatin1(file.lines);
    for (std::string& text : file.lines) {
      if (IsValidUtf8(text)) continue;
      text = latin1 ? Latin1ToUtf8(text) : EscapeInvalidUtf8(text);
    }
    it = files_.insert_or_assign(path, std::move(file)).first;
  }
  const auto& lines = it->second.lines;
  if (static_cast<size_t>(line) > lines.size()) return "";
  return std::string(absl::StripAsciiWhitespace(lines[line - 1]));
}

}  // namespace aiowatchdog
