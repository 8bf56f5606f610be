// Turns one capture (the raw per-thread stacks) into the report model: threads
// named, frames put outermost first with their source lines, the loop's thread
// marked and listed first, and the loop's current task read off its frames.
// Runs on the watchdog thread; pure apart from the source-line reads.
#ifndef AIOWATCHDOG_SAMPLE_BUILDER_H_
#define AIOWATCHDOG_SAMPLE_BUILDER_H_

#include <sys/types.h>

#include <optional>
#include <vector>

#include "capture.h"
#include "report_model.h"
#include "source_lines.h"

namespace aiowatchdog {

// Threads in `captures` become report threads unless they answered without
// Python frames, which are only counted (other_threads). Header fields of
// `header` are kept; threads, task and other_threads are filled in.
SampleReport BuildSample(SampleReport header, const std::vector<RawThreadCapture>& captures,
                         pid_t loop_tid, SourceLines& sources);

// The task running on the loop: the outermost coroutine frame of its thread
// (frames innermost first), which is the coroutine the task is driving.
std::optional<TaskInfo> CurrentTaskFromFrames(const std::vector<RawPyFrame>& innermost_first);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_SAMPLE_BUILDER_H_
