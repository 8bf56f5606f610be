// Fault-tolerant reads of our own memory: a bad address is an error code.
#include "proc/remote_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace aiowatchdog {
namespace {

TEST(RemoteMemory, ReadsOwnMemory) {
  ASSERT_TRUE(RemoteReadAvailable());
  const char text[] = "a thread state, say";
  char copy[sizeof(text)] = {};
  ASSERT_TRUE(ReadOwnMemory(reinterpret_cast<uintptr_t>(text), copy, sizeof(text)));
  EXPECT_STREQ(copy, text);
  EXPECT_EQ(LastRemoteReadError(), 0);
  uint64_t value = 0;
  const uint64_t source = 0x1122334455667788ULL;
  ASSERT_TRUE(ReadOwnValue(reinterpret_cast<uintptr_t>(&source), &value));
  EXPECT_EQ(value, source);
}

TEST(RemoteMemory, UnmappedMemoryIsAnErrorNotAFault) {
  const long page = sysconf(_SC_PAGESIZE);
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* bytes = static_cast<char*>(map);
  std::memset(bytes, 'x', 2 * page);
  ASSERT_EQ(munmap(bytes + page, page), 0);  // the second page is gone, as a freed chunk
  char buf[64];
  EXPECT_TRUE(ReadOwnMemory(reinterpret_cast<uintptr_t>(bytes + page - 64), buf, 64));
  // Straddling into the unmapped page: a partial copy is a failure.
  EXPECT_FALSE(ReadOwnMemory(reinterpret_cast<uintptr_t>(bytes + page - 32), buf, 64));
  EXPECT_EQ(LastRemoteReadError(), EFAULT);
  EXPECT_FALSE(ReadOwnMemory(reinterpret_cast<uintptr_t>(bytes + page), buf, 8));
  EXPECT_EQ(LastRemoteReadError(), EFAULT);
  ASSERT_EQ(munmap(bytes, page), 0);
  EXPECT_FALSE(ReadOwnMemory(reinterpret_cast<uintptr_t>(bytes), buf, 8));
}

TEST(RemoteMemory, NullEmptyAndWrappingRangesAreRefused) {
  char buf[8];
  EXPECT_FALSE(ReadOwnMemory(0, buf, 8));
  EXPECT_EQ(LastRemoteReadError(), EINVAL);
  EXPECT_FALSE(ReadOwnMemory(reinterpret_cast<uintptr_t>(buf), buf, 0));
  EXPECT_FALSE(ReadOwnMemory(UINTPTR_MAX - 3, buf, 8));
  EXPECT_EQ(LastRemoteReadError(), EINVAL);
  EXPECT_FALSE(ReadOwnMemory(0x10, buf, 8));  // the zero page: never mapped
}

}  // namespace
}  // namespace aiowatchdog
