// See thread_syscall.h.
#include "proc/thread_syscall.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>


namespace aiowatchdog {
namespace {

// A number at the start of `text` after spaces, decimal or 0x-hex, advancing
// past it; nothing when there is none or it overflows 64 bits.
std::optional<uint64_t> TakeField(std::string_view& text, bool* negative_one) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (negative_one != nullptr) {
    *negative_one = false;
    if (text.size() >= 2 && text[0] == '-' && text[1] == '1' &&
        (text.size() == 2 || text[2] == ' ' || text[2] == '\n')) {
      text.remove_prefix(2);
      *negative_one = true;
      return 0;
    }
  }
  int base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  uint64_t value = 0;
  size_t digits = 0;
  while (!text.empty()) {
    const char c = text.front();
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      break;
    }
    if (value > (UINT64_MAX - d) / base) return std::nullopt;
    value = value * base + d;
    ++digits;
    text.remove_prefix(1);
  }
  if (digits == 0) return std::nullopt;
  if (!text.empty() && text.front() != ' ' && text.front() != '\n') return std::nullopt;
  return value;
}

bool OnlySpaceLeft(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\n') return false;
  }
  return true;
}

}  // namespace

bool ThreadSyscall::SameAs(const ThreadSyscall& other) const {
  return state == other.state && nr == other.nr && args == other.args && sp == other.sp &&
         pc == other.pc;
}

std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text) {
  ThreadSyscall out;
  {
    std::string_view t = text;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    if (t.substr(0, 7) == "running" && OnlySpaceLeft(t.substr(7))) return out;
  }
  bool minus_one = false;
  const std::optional<uint64_t> nr = TakeField(text, &minus_one);
  if (!nr) return std::nullopt;
  if (minus_one) {
    out.state = ThreadSyscall::State::kNoSyscall;
  } else {
    if (*nr > INT32_MAX) return std::nullopt;
    out.state = ThreadSyscall::State::kBlocked;
    out.nr = static_cast<int64_t>(*nr);
    for (uint64_t& arg : out.args) {
      const std::optional<uint64_t> value = TakeField(text, nullptr);
      if (!value) return std::nullopt;
      arg = *value;
    }
  }
  const std::optional<uint64_t> sp = TakeField(text, nullptr);
  const std::optional<uint64_t> pc = TakeField(text, nullptr);
  if (!sp || !pc || !OnlySpaceLeft(text)) return std::nullopt;
  out.sp = *sp;
  out.pc = *pc;
  return out;
}

std::optional<ThreadSyscall> ReadThreadSyscall(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", static_cast<int>(tid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  return ParseThreadSyscall(std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace aiowatchdog
