// The renderers and the atomic writer: what a report says and that nothing is
// ever left half-written under a report's name.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "report/json_report.h"
#include "report/report_writer.h"
#include "sample/source_lines.h"
#include "report/text_report.h"

namespace aiowatchdog {
namespace {

SampleReport MakeReport() {
  SampleReport r;
  r.episode_id = "42-1700000000000-1";
  r.sample_index = 1;
  r.samples = 3;
  r.blocked_s = 1.2626;
  r.interval_s = 0.25;
  r.sample_interval_s = 1.0;
  r.pid = 42;
  r.python_version = "CPython 3.11.7";
  r.captured_unix_ns = 1'700'000'000'123'456'000;
  r.captured_local = "2023-11-14T22:13:20.123456+0000";
  r.task = TaskInfo{"main", "/app/main.py", 12};
  ThreadReport loop;
  loop.ident = 140001;
  loop.native_id = 42;
  loop.name = "MainThread";
  loop.is_loop = true;
  loop.kernel_state = "S";
  loop.frames = {Frame{"python", "/app/main.py", 20, "<module>", "asyncio.run(main())"},
                 Frame{"python", "/app/main.py", 12, "main", "time.sleep(5)"}};
  ThreadReport silent;
  silent.ident = 0;
  silent.native_id = 43;
  silent.name = "worker \"1\"";
  silent.status = "no answer";
  silent.kernel_state = "D";
  r.threads = {loop, silent};
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

std::string MakeTempDir() {
  char templ[] = "/tmp/aiowatchdog-test-XXXXXX";
  return mkdtemp(templ);
}

TEST(TextReport, KeepsAiodebugsLayout) {
  const std::string text = RenderTextReport(MakeReport());
  EXPECT_NE(text.find("\n# ThreadID: 140001 name=\"MainThread\" native=42 state=S [event loop]\n"
                      "File: \"/app/main.py\", line 20, in <module>\n"
                      "  asyncio.run(main())\n"
                      "File: \"/app/main.py\", line 12, in main\n"
                      "  time.sleep(5)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# Episode: 42-1700000000000-1\n# Sample: 2 of 3\n# Blocked for: 1.263 s\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# Task: main in \"/app/main.py\", line 12\n"), std::string::npos);
  EXPECT_NE(text.find("name=\"worker \\\"1\\\"\" native=43 state=D [not answered: no answer]"),
            std::string::npos)
      << text;
}

TEST(TextReport, AControlCharacterCannotForgeALine) {
  SampleReport r = MakeReport();
  r.threads[0].frames[0].function = "evil\n# ThreadID: 1";
  const std::string text = RenderTextReport(r);
  EXPECT_EQ(text.find("\n# ThreadID: 1\n"), std::string::npos);
  EXPECT_NE(text.find("in evil?# ThreadID: 1\n"), std::string::npos);
}

TEST(TextReport, SaysWhatTheLoopThreadWasDoingInOneHeaderLine) {
  SampleReport r = MakeReport();
  EXPECT_EQ(RenderTextReport(r).find("# Loop thread:"), std::string::npos) << "not known: no line";
  const auto line = [&](LoopActivity a) {
    r.loop_activity = a;
    const std::string text = RenderTextReport(r);
    const size_t at = text.find("# Loop thread: ");
    return at == std::string::npos ? "" : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_EQ(line({"on-cpu", "", 0.98, 0.012, false}), "# Loop thread: on CPU (CPU 98%, run queue 1%)");
  EXPECT_EQ(line({"syscall", "clock_nanosleep", 0.001, 0, true}),
            "# Loop thread: waiting in a syscall (clock_nanosleep, CPU 0%, run queue 0%); "
            "garbage collector running");
  EXPECT_EQ(line({"syscall", "", -1, -1, false}), "# Loop thread: waiting in a syscall");
  EXPECT_EQ(line({"gil", "", 0.02, -1, false}), "# Loop thread: waiting for the GIL (CPU 2%)");
  EXPECT_EQ(line({"starved", "", 0.03, 0.95, false}),
            "# Loop thread: runnable but not scheduled (starved, CPU 3%, run queue 95%)");
  EXPECT_EQ(line({"unknown", "", -1, -1, false}), "# Loop thread: unknown");
  EXPECT_EQ(line({"syscall", "evil)\n# Episode: x", -1, -1, false}),
            "# Loop thread: waiting in a syscall (evil)?# Episode: x)");
}

// A truncated stack's gap is marked where the dropped frames were, between
// the outer native frames kept and the innermost Python frames.
TEST(TextReport, MarksTheGapWhereTheDroppedFramesWere) {
  SampleReport r = MakeReport();
  ThreadReport& loop = r.threads[0];
  loop.frames.insert(loop.frames.begin(), {Frame{"native", "/lib/libc.so.6", -1, "__libc_start_main", ""},
                                           Frame{"native", "/ext/_asyncio.so", -1, "task_step", ""}});
  loop.truncated = true;
  loop.gap_at = 2;
  const std::string text = RenderTextReport(r);
  EXPECT_NE(text.find("Native: task_step (/ext/_asyncio.so)\n# (truncated: frames not shown here)\n"
                      "File: \"/app/main.py\", line 20, in <module>\n"),
            std::string::npos)
      << text;
  EXPECT_NE(RenderJsonReport(r).find("\"truncated\": true, \"gap_at\": 2,"), std::string::npos);
  loop.gap_at = -1;  // a model that does not say where: at the top
  EXPECT_NE(RenderTextReport(r).find("[event loop]\n# (truncated: frames not shown here)\nNative: "
                                     "__libc_start_main"),
            std::string::npos);
  EXPECT_EQ(RenderJsonReport(r).find("gap_at"), std::string::npos);
}

TEST(JsonQuote, EscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonQuote("f\xc3\xbc"), "\"f\xc3\xbc\"");        // valid UTF-8 kept
  // Bytes that are not UTF-8 are escaped as text: "\xNN" (JSON "\\xNN").
  EXPECT_EQ(JsonQuote("x\xff" "y"), "\"x\\\\xffy\"");            // invalid byte
  EXPECT_EQ(JsonQuote("\xc3"), "\"\\\\xc3\"");                    // cut sequence
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\\\xed\\\\xa0\\\\x80\"");  // surrogate
}

TEST(JsonReport, CarriesTheModel) {
  const std::string json = RenderJsonReport(MakeReport());
  EXPECT_NE(json.find("\"schema\": \"aiowatchdog.report\""), std::string::npos);
  EXPECT_NE(json.find("\"schema_version\": 1"), std::string::npos);
  EXPECT_NE(json.find("\"task\": {\"coroutine\": \"main\", \"file\": \"/app/main.py\", \"line\": 12}"),
            std::string::npos);
  EXPECT_NE(json.find("{\"kind\": \"python\", \"file\": \"/app/main.py\", \"line\": 12, "
                      "\"function\": \"main\", \"source\": \"time.sleep(5)\"}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"loop_activity\": null,"), std::string::npos) << json;
  SampleReport r = MakeReport();
  r.loop_activity = LoopActivity{"syscall", "futex", 0.25, -1, true};
  EXPECT_NE(RenderJsonReport(r).find("\"loop_activity\": {\"state\": \"syscall\", \"syscall\": "
                                     "\"futex\", \"cpu_share\": 0.2500, \"runqueue_share\": null, "
                                     "\"gc_running\": true},"),
            std::string::npos)
      << RenderJsonReport(r);
}

TEST(ReportWriter, NamesFilesAsAiodebugDoes) {
  const std::string stem = ReportStem(1'700'000'000'123'456'000, 2);
  EXPECT_TRUE(std::regex_match(stem, std::regex(R"(stacktrace-\d{8}-\d{6}\.123456-2)"))) << stem;
}

TEST(ReportWriter, WritesBothFilesAndNoTemporaries) {
  const std::string dir = MakeTempDir();
  const SampleReport r = MakeReport();
  absl::StatusOr<WrittenReport> written = WriteReportFiles(dir, r);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(ReadFile(written->text_path), RenderTextReport(r));
  EXPECT_EQ(ReadFile(written->json_path), RenderJsonReport(r));
  EXPECT_EQ(ListDir(dir).size(), 2u);
}

TEST(ReportWriter, FailureIsAnErrorNamingThePath) {
  const std::string file = MakeTempDir() + "/file";
  std::ofstream(file) << "not a directory";
  absl::StatusOr<WrittenReport> written = WriteReportFiles(file + "/reports", MakeReport());
  EXPECT_FALSE(written.ok());
  EXPECT_NE(std::string(written.status().message()).find(file), std::string::npos);
}

// A directory another user may write to without the sticky bit, or owned by
// another user, is refused, as sshd and cron refuse them.
TEST(ReportWriter, RefusesDirectoriesOthersMayWriteOrOwn) {
  EXPECT_TRUE(CheckDirectoryOwnership("/d", geteuid(), S_IFDIR | 0700).ok());
  EXPECT_TRUE(CheckDirectoryOwnership("/d", 0, S_IFDIR | 01777).ok());
  const absl::Status group = CheckDirectoryOwnership("/d", geteuid(), S_IFDIR | 0770);
  EXPECT_TRUE(absl::IsPermissionDenied(group));
  EXPECT_NE(std::string(group.message()).find("/d is writable by its group"), std::string::npos)
      << group;
  EXPECT_TRUE(absl::IsPermissionDenied(CheckDirectoryOwnership("/d", geteuid(), S_IFDIR | 0757)));
  if (geteuid() != 12345) {
    const absl::Status other = CheckDirectoryOwnership("/d", 12345, S_IFDIR | 0700);
    EXPECT_NE(std::string(other.message()).find("owned by another user (uid 12345"),
              std::string::npos) << other;
  }
}

// A symlink planted at a final name is replaced by the report, never written
// through; files get exactly the mode asked, whatever the umask.
TEST(ReportWriter, NeverWritesThroughAPlantedLinkAndSetsTheMode) {
  const std::string dir = MakeTempDir();
  const std::string target = MakeTempDir() + "/victim";
  std::ofstream(target) << "secret";
  const SampleReport r = MakeReport();
  const std::string stem = ReportStem(r.captured_unix_ns, r.sample_index);
  ASSERT_EQ(symlink(target.c_str(), (dir + "/" + stem + ".txt").c_str()), 0);
  ASSERT_EQ(mkfifo((dir + "/" + stem + ".json").c_str(), 0600), 0);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  const mode_t old_umask = umask(0077);
  absl::StatusOr<WrittenReport> written = WriteReportFiles(fd, dir, r, 0640);
  umask(old_umask);
  close(fd);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(ReadFile(target), "secret");
  struct stat st;
  ASSERT_EQ(lstat(written->text_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(ReadFile(written->text_path), RenderTextReport(r));
}

TEST(ReportWriter, MakesARemovedDirectoryAgain) {
  const std::string dir = MakeTempDir() + "/gone/reports";
  absl::StatusOr<WrittenReport> written = WriteReportFiles(dir, MakeReport());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(ListDir(dir).size(), 2u);
}

// Source lines are always UTF-8: a Latin-1 file (PEP 263) decoded, other
// bytes that are not UTF-8 escaped.
TEST(SourceLines, NeverReturnsBytesThatAreNotUtf8) {
  const std::string latin1 = MakeTempDir() + "/latin.py";
  std::ofstream(latin1) << "# -*- coding: latin-1 -*-\nname = 'Jos\xe9'\n";
  const std::string broken = MakeTempDir() + "/broken.py";
  std::ofstream(broken) << "x = 1\ny = b'\xff\xfe'  # caf\xc3\xa9\n";
  SourceLines lines;
  EXPECT_EQ(lines.Get(latin1, 2), "name = 'Jos\xc3\xa9'");
  EXPECT_EQ(lines.Get(broken, 2), "y = b'\\xff\\xfe'  # caf\xc3\xa9");
}

TEST(SourceLines, ReadsStripsAndNoticesChanges) {
  const std::string path = MakeTempDir() + "/mod.py";
  std::ofstream(path) << "def f():\n    time.sleep(1)   \n";
  SourceLines lines;
  EXPECT_EQ(lines.Get(path, 2), "time.sleep(1)");
  EXPECT_EQ(lines.Get(path, 3), "");
  EXPECT_EQ(lines.Get(path, 0), "");
  EXPECT_EQ(lines.Get("<frozen importlib._bootstrap>", 1), "");
  std::ofstream(path) << "x = 1\ny = 22222\n";  // another size: re-read
  EXPECT_EQ(lines.Get(path, 2), "y = 22222");
}

}  // namespace
}  // namespace aiowatchdog
