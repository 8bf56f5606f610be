// See stack_merge.h for the strategy.
#include "sample/stack_merge.h"

namespace aiowatchdog {
namespace {

Frame PythonFrame(const RawPyFrame& f) { return Frame{"python", f.file, f.line, f.function, ""}; }

Frame NativeFrame(const ClassifiedNativeFrame& f) {
  return Frame{"native", f.library, -1, f.name, ""};
}

}  // namespace

bool IsInterpreterObject(const std::string& library) {
  const std::string base = library.substr(library.rfind('/') + 1);
  return base.rfind("libpython", 0) == 0 || base.rfind("python", 0) == 0;
}

bool IsEvalFunction(const std::string& function) {
  return function.rfind("_PyEval_EvalFrameDefault", 0) == 0;
}

std::vector<Frame> MergeStacks(const std::vector<ClassifiedNativeFrame>& native,
                               const std::vector<RawPyFrame>& python,
                               size_t* python_outer_edge) {
  std::vector<Frame> inner_first;
  inner_first.reserve(native.size() + python.size());
  size_t next_py = 0;
  size_t after_last_python = 0;  // where leftover Python frames go
  bool seen_eval = false;
  for (const ClassifiedNativeFrame& frame : native) {
    if (frame.is_eval && next_py < python.size()) {
      seen_eval = true;
      // This eval-loop invocation ran Python frames up to its entry frame.
      do {
        inner_first.push_back(PythonFrame(python[next_py]));
      } while (!python[next_py++].is_entry && next_py < python.size());
      after_last_python = inner_first.size();
      continue;
    }
    // Innermost native frames (what the thread is stuck in) are kept even
    // inside the interpreter (builtin_sum, a lock wait); past the first eval
    // frame the interpreter's call machinery is noise.
    if (frame.is_eval || (seen_eval && frame.is_interpreter)) continue;
    inner_first.push_back(NativeFrame(frame));
  }
  // Frames no eval frame claimed: just outside the last placed Python frame.
  // With no eval frame found at all: just inside the innermost frame of the
  // interpreter (its call into what the thread is stuck in: ctypes, a C
  // extension, libc), so that the innermost Python frame is still followed by
  // what it called; outside all native frames when none is the interpreter's.
  if (!seen_eval) {
    after_last_python = inner_first.size();
    for (size_t i = 0; i < native.size(); ++i) {
      if (native[i].is_interpreter) {
        after_last_python = i;  // nothing was dropped: inner_first is `native`
        break;
      }
    }
  }
  std::vector<Frame> leftovers;
  for (; next_py < python.size(); ++next_py) leftovers.push_back(PythonFrame(python[next_py]));
  inner_first.insert(inner_first.begin() + after_last_python, leftovers.begin(), leftovers.end());
  if (python_outer_edge != nullptr) {
    // Just past the outermost Python frame, inner first; the same place
    // counted from the outer end is that frame's index in the result.
    const size_t past_outermost = after_last_python + leftovers.size();
    *python_outer_edge = python.empty() ? 0 : inner_first.size() - past_outermost;
  }
  return std::vector<Frame>(inner_first.rbegin(), inner_first.rend());
}

}  // namespace aiowatchdog
