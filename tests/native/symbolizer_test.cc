// The symbolizer: names, libraries and offsets for real addresses in this
// binary and in libc, a plain address for what no object file holds, and a
// cache that answers repeats without resolving again.
#include "symbolizer.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdio>

namespace aiowatchdog {
namespace {

__attribute__((noinline)) int StaticFunctionForTheSymbolizer(int x) { return x * 7 + 1; }

TEST(Symbolizer, NamesAStaticFunctionOfThisBinary) {
  Symbolizer symbolizer;
  const auto pc = reinterpret_cast<uintptr_t>(&StaticFunctionForTheSymbolizer) + 1;
  const NativeSymbol& s = symbolizer.Resolve(pc);
  EXPECT_NE(s.function.find("StaticFunctionForTheSymbolizer"), std::string::npos) << s.function;
  EXPECT_NE(s.library.find("aiowatchdog_native_tests"), std::string::npos) << s.library;
}

// libc's own fflush, not a sanitizer's interceptor of the same name.
uintptr_t LibcFflush() {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  return libc == nullptr ? 0 : reinterpret_cast<uintptr_t>(dlsym(libc, "fflush"));
}

TEST(Symbolizer, GivesLibraryAndOffsetForAnExportedFunction) {
  Symbolizer symbolizer;
  ASSERT_NE(LibcFflush(), 0u);
  const auto pc = LibcFflush() + 4;
  const NativeSymbol& s = symbolizer.Resolve(pc);
  EXPECT_NE(s.library.find("libc.so"), std::string::npos) << s.library;
  ASSERT_TRUE(s.has_offset) << s.function;
  EXPECT_EQ(s.offset, 4u);
  EXPECT_NE(s.Describe(pc).find(" + 0x4"), std::string::npos) << s.Describe(pc);
}

TEST(Symbolizer, AnUnknownAddressIsPrintedAsAnAddress) {
  Symbolizer symbolizer;
  const NativeSymbol& s = symbolizer.Resolve(0x10);
  EXPECT_TRUE(s.function.empty());
  EXPECT_EQ(s.Describe(0x10), "0x10");
}

TEST(Symbolizer, CachesByAddress) {
  Symbolizer symbolizer(/*max_entries=*/2);
  const auto pc = reinterpret_cast<uintptr_t>(&std::fflush);
  const NativeSymbol* first = &symbolizer.Resolve(pc);
  EXPECT_EQ(&symbolizer.Resolve(pc), first) << "a repeat is the cached entry itself";
  symbolizer.Resolve(pc + 1);
  EXPECT_EQ(symbolizer.cached(), 2u);
  symbolizer.Resolve(pc + 2);  // over the bound: the cache starts afresh
  EXPECT_EQ(symbolizer.cached(), 1u);
}

}  // namespace
}  // namespace aiowatchdog
