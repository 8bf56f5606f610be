// Merging a thread's native and Python stacks into one call order, as
// `py-spy dump --native` does: each native frame of the interpreter's eval
// loop (_PyEval_EvalFrameDefault) is replaced by the Python frames it was
// running, and the interpreter's own call machinery between them is dropped.
//
// Which Python frames belong to one eval-loop frame: from the next unclaimed
// Python frame outwards up to and including the next "entry" frame (3.9 and
// 3.10: every frame is one; 3.11: frame->is_entry; 3.12+: the frame just
// inside a C-stack shim frame). The walker marks them (awd_py_frame.is_entry).
//
// Tolerated mismatches, written down: Python frames left over once the native
// frames are used up (an unwinder that stopped early, `-X perf` trampolines)
// are appended at the outer end; with no eval frame at all in the native
// stack (a stripped interpreter whose entry frames were not found either),
// the Python frames go just inside the innermost frame of the interpreter,
// or outside all native frames when there is none.
#ifndef AIOWATCHDOG_STACK_MERGE_H_
#define AIOWATCHDOG_STACK_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "capture/capture.h"
#include "model/report_model.h"

namespace aiowatchdog {

struct ClassifiedNativeFrame {
  std::string name;      // NativeSymbol::Describe
  std::string library;   // object file, "" when unknown
  bool is_eval = false;  // the interpreter's eval loop
  bool is_interpreter = false;  // anywhere in libpython / the python executable
};

// Both inputs innermost first; the result outermost first, as reports list
// frames. Python frames keep kind "python"; native frames get kind "native",
// the symbol as function, the library as file and line -1.
// `python_outer_edge`, when given, gets the index in the result of the
// outermost Python frame placed (where frames dropped from a truncated Python
// stack belong, just outside it); 0 when there is none.
std::vector<Frame> MergeStacks(const std::vector<ClassifiedNativeFrame>& native,
                               const std::vector<RawPyFrame>& python,
                               size_t* python_outer_edge = nullptr);

// True for the object files that are the interpreter itself.
bool IsInterpreterObject(const std::string& library);

// True for the eval loop's function name (any version 3.9 to 3.13).
bool IsEvalFunction(const std::string& function);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_STACK_MERGE_H_
