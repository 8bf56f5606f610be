// Capturing a thread that is blocked in the kernel from outside it, without a
// signal, so that no system call of the host is cut short (issue #16: a
// signal landing in nanosleep, poll, select, epoll_wait, a socket call with a
// timeout, ... makes it return EINTR whatever SA_RESTART says, and C code
// often does not retry).
//
// Per thread: /proc/self/task/<tid>/syscall says "running" (the capture
// signals it, as before: it is in user space, no call to cut short) or gives
// the call it is blocked in with its stack and instruction pointers. Then,
// from the watchdog thread: its Python frames through its thread state
// (py_frames_remote.h), its native frames unwound from those two registers
// (remote_unwind.h), all through process_vm_readv copies (a bad pointer is an
// error, never a fault). Finally the thread's time-slice count is read again
// (schedstat; the syscall file instead where the kernel keeps none): a
// thread that was given a CPU meanwhile may have changed its frames while
// they were read, and the sample is thrown away (torn) for the signal path;
// one that was not executed no instruction, so what was read is consistent.
//
// A thread reading "running" that was seen blocked and has had no time
// slice since was woken in the kernel and waits for a CPU: it has not run an
// instruction since, so it is read from outside with the registers seen then
// ("outside: <syscall> (woken, not yet run)"). Signalling it would still cut
// its call short: the kernel checks for pending signals on the way out, and
// select, poll, nanosleep then return EINTR although their time is up
// (measured: 3 of 6 such calls on the loop's thread under profile_hz=1000).
//
// A thread read from outside that has had neither a time slice nor CPU time
// since (and is the same thread: its start time) has not run an instruction
// since: it is shown as that read found it, without reading it again
// ("outside: <syscall> (not run since the last sample)"). In a process whose
// threads mostly wait, a sample then costs the /proc reads that show each
// thread has not moved, not a walk and an unwind per thread. What is kept is
// one read per thread seen by the last capture.
//
// What takes the signal path instead, with the reason in the report
// (RawThreadCapture::captured_by): a thread in D state, one blocked outside a
// system call, an unreadable syscall file, process_vm_readv forbidden, a
// thread list that could not be read, a torn read.
//
// Not for signal context. Calls are serialized by the capture's lock.
#ifndef AIOWATCHDOG_REMOTE_CAPTURE_H_
#define AIOWATCHDOG_REMOTE_CAPTURE_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "capture/capture.h"
#include "proc/proc_task.h"
#include "model/py_frames_remote.h"

namespace aiowatchdog {

// The Python side of remote reads (the module registers py_frames_remote.c's
// functions); without one, nothing is read from outside. Thread-safe.
void SetRemotePythonWalker(awd_py_remote_walker walker);

// Turns remote reads on or off for the whole process (on by default once a
// walker is set); for benchmarks comparing both ways in one run.
void SetRemoteCaptureEnabled(bool enabled);
bool RemoteCaptureEnabled();

// Once per capture, before CaptureFromOutside: notes the interpreter's thread
// states. False when remote reads cannot be used for this capture.
bool BeginRemoteCapture();

// The thread captured from outside, or nothing, with `*why_not` saying why
// when there is something to say (empty for a thread running in user space,
// the ordinary case). `native`: unwind its native frames too. `info`: what
// /proc/<tid>/stat said just before (the caller reads it for the report;
// nothing when it could not), so that it is not read twice.
std::optional<RawThreadCapture> CaptureFromOutside(pid_t tid, bool native,
                                                   const std::optional<KernelTaskInfo>& info,
                                                   std::string* why_not);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_REMOTE_CAPTURE_H_
