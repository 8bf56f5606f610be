// The text renderer: a SampleReport as aiodebug-compatible text. A header of
// "# Key: value" lines, then per thread a blank line, "# ThreadID: <ident>"
// (name, native id and markers follow on that line) and one
// `File: "<path>", line <n>, in <function>` line per Python frame, outermost
// first, with the stripped source line indented by two spaces below it, and a
// `Native: <symbol> + 0x<offset> (<library>)` line per native frame.
#ifndef AIOWATCHDOG_TEXT_REPORT_H_
#define AIOWATCHDOG_TEXT_REPORT_H_

#include <string>

#include "model/report_model.h"

namespace aiowatchdog {

std::string RenderTextReport(const SampleReport& report);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_TEXT_REPORT_H_
