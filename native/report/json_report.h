// The JSON renderer: the same SampleReport as the text file, for tools. The
// schema ("aiowatchdog.report", version kReportSchemaVersion) is documented in
// docs/reports.md; strings are valid UTF-8 (invalid bytes become U+FFFD).
#ifndef AIOWATCHDOG_JSON_REPORT_H_
#define AIOWATCHDOG_JSON_REPORT_H_

#include <string>
#include <string_view>

#include "model/report_model.h"

namespace aiowatchdog {

std::string RenderJsonReport(const SampleReport& report);

// A JSON string literal, quotes included, for any bytes.
std::string JsonQuote(std::string_view bytes);

// One frame as a JSON object with the report's frame keys (kind, file, line,
// function, source), on one line: the reports' and the profiles' frames.
std::string JsonFrame(const Frame& frame);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_JSON_REPORT_H_
