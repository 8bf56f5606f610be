// Names for native program counters, resolved on the watchdog thread after a
// capture (never in signal context: it reads ELF files and allocates).
//
// absl::Symbolize gives demangled names, static functions included (it reads
// .symtab, where dladdr sees only exported symbols); dladdr gives the object
// file and its load base, and the symbol's start when the symbol is exported.
// Results are cached by address: a process's hot stacks repeat.
#ifndef AIOWATCHDOG_SYMBOLIZER_H_
#define AIOWATCHDOG_SYMBOLIZER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace aiowatchdog {

struct NativeSymbol {
  std::string function;          // demangled; "" when unknown
  bool has_offset = false;       // offset from the function's start is known
  uintptr_t offset = 0;
  std::string library;           // object file path; "" when unknown
  uintptr_t library_offset = 0;  // pc - the object's load base

  // "<function> + 0x<offset>", "<function>" or "0x<pc>": the report's name.
  std::string Describe(uintptr_t pc) const;
};

class Symbolizer {
 public:
  explicit Symbolizer(size_t max_entries = 65536) : max_entries_(max_entries) {}

  const NativeSymbol& Resolve(uintptr_t pc);
  size_t cached() const { return cache_.size(); }

 private:
  size_t max_entries_;
  absl::flat_hash_map<uintptr_t, NativeSymbol> cache_;
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_SYMBOLIZER_H_
