// Turns one capture (the raw per-thread stacks) into the report model: native
// program counters symbolized and merged with the Python frames (stack_merge),
// threads named, frames put outermost first with their source lines, the
// loop's thread marked and listed first, and the loop's current task read off
// its frames. Runs on the watchdog thread, outside signal context.
#ifndef AIOWATCHDOG_SAMPLE_BUILDER_H_
#define AIOWATCHDOG_SAMPLE_BUILDER_H_

#include <sys/types.h>

#include <optional>
#include <vector>

#include "capture/capture.h"
#include "model/report_model.h"
#include "sample/source_lines.h"
#include "sample/symbolizer.h"

namespace aiowatchdog {

// Header fields of `header` are kept; threads, task, other_threads and
// threads_not_sampled are filled in. With `native` false (Python-only
// reports) native frames are left out and threads without Python frames are
// only counted (other_threads); with it, they get sections of their own.
SampleReport BuildSample(SampleReport header, const CaptureResult& capture, pid_t loop_tid,
                         bool native, SourceLines& sources, Symbolizer& symbolizer);

// The task running on the loop: the outermost coroutine frame of its thread
// (frames innermost first), which is the coroutine the task is driving.
std::optional<TaskInfo> CurrentTaskFromFrames(const std::vector<RawPyFrame>& innermost_first);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_SAMPLE_BUILDER_H_
