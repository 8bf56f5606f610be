// Merging native and Python frames, on synthetic stacks shaped like each
// CPython version's: eval-loop frames replaced by the Python frames they ran,
// interpreter call machinery dropped, the innermost native frames kept.
#include "sample/stack_merge.h"

#include <gtest/gtest.h>

namespace aiowatchdog {
namespace {

constexpr char kLibpython[] = "/usr/lib/libpython3.11.so.1.0";

ClassifiedNativeFrame Eval() { return {"_PyEval_EvalFrameDefault + 0x1f4", kLibpython, true, true}; }
ClassifiedNativeFrame Interp(const char* name) { return {name, kLibpython, false, true}; }
ClassifiedNativeFrame Lib(const char* name, const char* lib) { return {name, lib, false, false}; }
RawPyFrame Py(const char* function, bool entry) { return {"/app.py", function, 1, false, entry}; }

std::vector<std::string> Names(const std::vector<Frame>& frames) {
  std::vector<std::string> names;
  for (const Frame& f : frames) names.push_back((f.kind == "native" ? "N:" : "P:") + f.function);
  return names;
}

TEST(StackMerge, OneEvalFramePerPythonFrame_3_9_And_3_10) {
  // sum() called from f() called from <module>; every Python frame an entry.
  const std::vector<ClassifiedNativeFrame> native = {
      Interp("builtin_sum"), Interp("cfunction_vectorcall_FASTCALL"), Eval(),
      Interp("_PyFunction_Vectorcall"), Eval(), Interp("PyEval_EvalCode"),
      Interp("Py_RunMain"), Lib("__libc_start_main", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> python = {Py("f", true), Py("<module>", true)};
  EXPECT_EQ(Names(MergeStacks(native, python)),
            (std::vector<std::string>{"N:__libc_start_main", "P:<module>", "P:f",
                                      "N:cfunction_vectorcall_FASTCALL", "N:builtin_sum"}));
}

TEST(StackMerge, OneEvalFramePerEntryRun_3_11_And_Later) {
  // g() -> f() -> h() inlined in one eval-loop call; a C extension calls
  // back into Python (k) from inside h.
  const std::vector<ClassifiedNativeFrame> native = {
      Lib("nanosleep", "/lib/libc.so.6"), Lib("native_wait", "/ext/_ext.so"), Eval(),
      Lib("call_back", "/ext/_ext.so"), Interp("PyObject_Call"), Eval(), Interp("Py_RunMain")};
  const std::vector<RawPyFrame> python = {Py("k", true), Py("h", false), Py("f", false),
                                          Py("g", true)};
  EXPECT_EQ(Names(MergeStacks(native, python)),
            (std::vector<std::string>{"P:g", "P:f", "P:h", "N:call_back", "P:k",
                                      "N:native_wait", "N:nanosleep"}));
}

TEST(StackMerge, LeftoverPythonFramesGoOutsideTheLastPlacedOne) {
  // The unwinder stopped early: two Python frames have no eval frame.
  const std::vector<ClassifiedNativeFrame> native = {Lib("poll", "/lib/libc.so.6"), Eval(),
                                                     Lib("start_thread", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> python = {Py("inner", true), Py("middle", true), Py("outer", true)};
  EXPECT_EQ(Names(MergeStacks(native, python)),
            (std::vector<std::string>{"N:start_thread", "P:outer", "P:middle", "P:inner", "N:poll"}));
}

TEST(StackMerge, NoEvalFramePutsPythonOutsideEverything) {
  const std::vector<ClassifiedNativeFrame> native = {Lib("read", "/lib/libc.so.6"),
                                                     Lib("clone3", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> python = {Py("reader", true)};
  EXPECT_EQ(Names(MergeStacks(native, python)),
            (std::vector<std::string>{"P:reader", "N:clone3", "N:read"}));
}

TEST(StackMerge, NoEvalFramePutsPythonJustInsideTheInnermostInterpreterFrame) {
  // A stripped interpreter whose eval loops were not found: the Python frames
  // are still followed by what the innermost one called.
  const std::vector<ClassifiedNativeFrame> native = {
      Lib("clock_nanosleep", "/lib/libc.so.6"), Lib("ffi_call", "/lib/libffi.so.8"),
      Interp("0x5ded5e"), Interp("0x44ac14"), Interp("Py_RunMain"),
      Lib("__libc_start_main", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> python = {Py("usleep", false), Py("<module>", true)};
  size_t edge = 99;
  EXPECT_EQ(Names(MergeStacks(native, python, &edge)),
            (std::vector<std::string>{"N:__libc_start_main", "N:Py_RunMain", "N:0x44ac14",
                                      "N:0x5ded5e", "P:<module>", "P:usleep", "N:ffi_call",
                                      "N:clock_nanosleep"}));
  EXPECT_EQ(edge, 4u);
}

TEST(StackMerge, ANonPythonThreadIsAllNative) {
  const std::vector<ClassifiedNativeFrame> native = {Lib("epoll_wait", "/lib/libc.so.6"),
                                                     Lib("worker", "/lib/libfoo.so")};
  const std::vector<Frame> merged = MergeStacks(native, {});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].kind, "native");
  EXPECT_EQ(merged[0].file, "/lib/libfoo.so");
  EXPECT_EQ(merged[0].line, -1);
}

TEST(StackMerge, KnowsTheInterpreter) {
  EXPECT_TRUE(IsInterpreterObject("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"));
  EXPECT_TRUE(IsInterpreterObject("/usr/bin/python3.11"));
  EXPECT_FALSE(IsInterpreterObject("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(IsEvalFunction("_PyEval_EvalFrameDefault + 0x2b1"));
  EXPECT_FALSE(IsEvalFunction("PyEval_EvalCode"));
}

// Where a truncated Python stack's dropped frames go: just outside the
// outermost Python frame kept, inside the outer native frames kept (a deep
// recursion under a task step must not read as called by the task step).
TEST(StackMerge, ThePythonOuterEdgeIsJustOutsideTheOutermostPythonFrame) {
  // 3.11+: one eval-loop call ran the kept frames (no entry frame among them:
  // the walker stopped first); the task step and main are outside.
  const std::vector<ClassifiedNativeFrame> native = {
      Lib("clock_nanosleep", "/lib/libc.so.6"), Eval(), Lib("task_step", "/ext/_asyncio.so"),
      Eval(), Interp("Py_RunMain"), Lib("__libc_start_main", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> python = {Py("recurse", false), Py("recurse", false)};
  size_t edge = 99;
  const std::vector<Frame> merged = MergeStacks(native, python, &edge);
  EXPECT_EQ(Names(merged), (std::vector<std::string>{"N:__libc_start_main", "N:task_step",
                                                     "P:recurse", "P:recurse", "N:clock_nanosleep"}));
  EXPECT_EQ(edge, 2u);
  // Leftovers (no eval frame for them) are the outermost Python frames.
  const std::vector<ClassifiedNativeFrame> short_native = {Lib("poll", "/lib/libc.so.6"), Eval(),
                                                           Lib("start_thread", "/lib/libc.so.6")};
  const std::vector<RawPyFrame> three = {Py("inner", true), Py("middle", true), Py("outer", true)};
  MergeStacks(short_native, three, &edge);
  EXPECT_EQ(edge, 1u);  // start_thread, then outer
  // No eval frame: the Python frames are outside everything.
  MergeStacks({Lib("read", "/lib/libc.so.6")}, three, &edge);
  EXPECT_EQ(edge, 0u);
  MergeStacks(native, {}, &edge);
  EXPECT_EQ(edge, 0u);
}

}  // namespace
}  // namespace aiowatchdog
