// See symbolizer.h.
#include "symbolizer.h"

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdlib>
#include <memory>

#include "absl/debugging/symbolize.h"
#include "absl/strings/str_format.h"

namespace aiowatchdog {
namespace {

std::string Demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

// "ns::f(int) const" -> "ns::f": absl and __cxa_demangle print parameter
// lists differently, so names are compared without them.
std::string WithoutParameters(const std::string& name) { return name.substr(0, name.find('(')); }

}  // namespace

std::string NativeSymbol::Describe(uintptr_t pc) const {
  if (function.empty()) return absl::StrFormat("0x%x", pc);
  if (has_offset) return absl::StrFormat("%s + 0x%x", function, offset);
  return function;
}

const NativeSymbol& Symbolizer::Resolve(uintptr_t pc) {
  if (auto it = cache_.find(pc); it != cache_.end()) return it->second;
  if (cache_.size() >= max_entries_) cache_.clear();

  NativeSymbol symbol;
  Dl_info info{};
  const bool located = dladdr(reinterpret_cast<void*>(pc), &info) != 0;
  if (located) {
    if (info.dli_fname != nullptr) symbol.library = info.dli_fname;
    symbol.library_offset = pc - reinterpret_cast<uintptr_t>(info.dli_fbase);
  }
  char name[1024];
  if (absl::Symbolize(reinterpret_cast<void*>(pc), name, sizeof(name))) symbol.function = name;
  if (located && info.dli_sname != nullptr && info.dli_saddr != nullptr) {
    const std::string exported = Demangle(info.dli_sname);
    // dladdr's nearest exported symbol is the function only when absl agrees,
    // by name or by address (glibc's aliases: _IO_fflush is fflush), or found
    // nothing; otherwise pc is in a static function after it.
    if (symbol.function.empty() ||
        WithoutParameters(symbol.function) == WithoutParameters(exported) ||
        dlsym(RTLD_DEFAULT, symbol.function.c_str()) == info.dli_saddr) {
      if (symbol.function.empty()) symbol.function = exported;
      symbol.has_offset = true;
      symbol.offset = pc - reinterpret_cast<uintptr_t>(info.dli_saddr);
    }
  }
  return cache_.emplace(pc, std::move(symbol)).first->second;
}

}  // namespace aiowatchdog
