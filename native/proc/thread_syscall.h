// What /proc/self/task/<tid>/syscall says about one thread of this process:
// "running" (in user space, or on its way there: the kernel does not say
// more), or, for a thread blocked in the kernel, the system call's number, its
// six arguments and the thread's user stack and instruction pointers at the
// call (a blocked thread outside any call, e.g. in a page fault, reads "-1
// <sp> <pc>"). A capture decides from this whether a thread can be read from
// outside without a signal (thread_syscall == blocked) and where its native
// stack starts; reading it again afterwards tells whether the thread moved
// while it was read (a torn sample).
//
// The file needs PTRACE_MODE_ATTACH_FSCREDS over the thread (always true for
// our own threads unless a security module says otherwise) and a kernel with
// CONFIG_HAVE_ARCH_TRACEHOOK (every mainstream one). The call's name:
// SyscallName in loop_activity.h. Not for signal context.
#ifndef AIOWATCHDOG_THREAD_SYSCALL_H_
#define AIOWATCHDOG_THREAD_SYSCALL_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace aiowatchdog {

struct ThreadSyscall {
  enum class State {
    kRunning,    // "running": in user space (or about to return there)
    kBlocked,    // in system call `nr`, with args, sp and pc
    kNoSyscall,  // blocked in the kernel outside a system call ("-1 sp pc")
  };
  State state = State::kRunning;
  int64_t nr = -1;                   // kBlocked only
  std::array<uint64_t, 6> args{};    // kBlocked only
  uint64_t sp = 0;                   // kBlocked, kNoSyscall
  uint64_t pc = 0;                   // kBlocked, kNoSyscall: after the syscall instruction

  // Whether two readings show the thread in the same call at the same place
  // (same state, number, arguments, sp and pc): the thread did not return to
  // user space between them, unless it made the very same call again from the
  // very same place with the very same arguments (a retry loop; then its stack
  // is the same too).
  bool SameAs(const ThreadSyscall& other) const;
};

// Parses the file's text; nothing when malformed.
std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text);

// Reads and parses /proc/self/task/<tid>/syscall; nothing when the thread is
// gone or the file cannot be read (EACCES under some security modules).
std::optional<ThreadSyscall> ReadThreadSyscall(pid_t tid);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_THREAD_SYSCALL_H_
