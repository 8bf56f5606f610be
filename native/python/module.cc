// aiowatchdog._native: the pybind11 binding of the core. Thin on purpose: it
// converts between Python objects and the core's structs and checks what the
// core trusts. Called from the Python API modules, never by users directly;
// aiowatchdog/_native.pyi documents it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <memory>
#include <string>

#include "detect/allowed_sections.h"
#include "capture/capture.h"
#include "common/clock.h"
#include "report/json_report.h"
#include "capture/native_stack.h"
#include "common/options.h"
#include "report/report_writer.h"
#include "capture/remote_capture.h"
#include "model/report_model.h"
#include "report/text_report.h"
#include "capture/thread_names.h"
#include "../watchdog.h"
#include "gc_callback.h"
#include "model/gil_state.h"
#include "py_frames.h"
#include "model/py_frames_remote.h"

namespace py = pybind11;
using namespace aiowatchdog;

namespace {

// Every string the core hands to Python goes through one of these two, never
// through pybind11's strict UTF-8 conversion: the core's strings are bytes
// (source lines, names and paths on Linux), and a UnicodeDecodeError here
// would be raised inside the application's loop (take_finished runs in
// selector.select). Text: bytes that are not UTF-8 become "\xNN"
// ("backslashreplace"). Paths: decoded as os.fsdecode does
// ("surrogateescape"), so that they round-trip to the same file.
py::str Text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::str FsPath(const std::string& s) {
  PyObject* o = PyUnicode_DecodeFSDefaultAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

// A str from Python as the core's bytes: encoded as os.fsencode does, so a
// name or path holding surrogate escapes (os.fsdecode(b"worker-\xe9"))
// becomes its original bytes instead of a TypeError; bytes pass as they are.
std::string Bytes(const py::object& o, const char* what) {
  if (PyBytes_Check(o.ptr())) return std::string(PyBytes_AS_STRING(o.ptr()), PyBytes_GET_SIZE(o.ptr()));
  if (!PyUnicode_Check(o.ptr())) {
    throw py::type_error(std::string(what) + " must be str or bytes, got " +
                         std::string(py::str(py::repr(o)).cast<std::string>()));
  }
  PyObject* encoded = PyUnicode_AsEncodedString(o.ptr(), "utf-8", "surrogateescape");
  if (encoded == nullptr) {  // lone surrogates that are not escapes: keep going, escaped
    PyErr_Clear();
    encoded = PyUnicode_AsEncodedString(o.ptr(), "utf-8", "backslashreplace");
    if (encoded == nullptr) throw py::error_already_set();
  }
  std::string out(PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
  Py_DECREF(encoded);
  return out;
}

py::dict FrameToDict(const Frame& f) {
  py::dict d;
  d["kind"] = Text(f.kind);
  d["file"] = Text(f.file);
  d["line"] = f.line < 0 ? py::object(py::none()) : py::object(py::int_(f.line));
  d["function"] = Text(f.function);
  d["source"] = Text(f.source);
  return d;
}

py::object ShareOrNone(double share) {
  return share < 0 ? py::object(py::none()) : py::object(py::float_(share));
}

py::object ActivityToDict(const std::optional<LoopActivity>& a) {
  if (!a) return py::none();
  py::dict d;
  d["state"] = Text(a->state);
  d["syscall"] = Text(a->syscall);
  d["cpu_share"] = ShareOrNone(a->cpu_share);
  d["runqueue_share"] = ShareOrNone(a->runqueue_share);
  d["gc_running"] = a->gc_running;
  d["gil_holder_native_id"] = a->gil_holder > 0 ? py::object(py::int_(a->gil_holder)) : py::none();
  return std::move(d);
}

py::dict EpisodeToDict(const FinishedEpisode& e) {
  py::dict d;
  d["episode_id"] = Text(e.episode_id);
  d["blocked_s"] = e.blocked_s;
  d["blocked_min_s"] = e.blocked_min_s >= 0 ? py::object(py::float_(e.blocked_min_s)) : py::none();
  d["recovered"] = e.recovered;
  py::list paths;
  for (const std::string& path : e.report_paths) paths.append(FsPath(path));
  d["report_paths"] = paths;
  py::list frames;
  for (const Frame& f : e.loop_frames) frames.append(FrameToDict(f));
  d["loop_frames"] = frames;
  d["discarded_samples"] = e.discarded_samples;
  d["suppressed_before"] = e.suppressed_before;
  d["reports_not_written"] = e.reports_not_written;
  d["write_error"] = e.write_error.empty() ? py::object(py::none()) : py::object(Text(e.write_error));
  d["reports_lost_before"] = e.reports_lost_before;
  py::list stack;
  for (const Frame& f : e.loop_stack) stack.append(FrameToDict(f));
  d["loop_stack"] = stack;
  if (e.task) {
    py::dict t;
    t["coroutine"] = Text(e.task->coroutine);
    t["file"] = Text(e.task->file);
    t["line"] = e.task->line < 0 ? py::object(py::none()) : py::object(py::int_(e.task->line));
    t["coroutine_address"] = e.task->coroutine_address;
    d["task"] = t;
  } else {
    d["task"] = py::none();
  }
  d["activity"] = ActivityToDict(e.activity);
  if (!e.gil_holder_stack.empty() || !e.gil_holder_name.empty()) {
    py::dict holder;
    holder["name"] = Text(e.gil_holder_name);
    holder["native_id"] = e.activity ? e.activity->gil_holder : 0;
    py::list holder_frames, holder_stack;
    for (const Frame& f : e.gil_holder_frames) holder_frames.append(FrameToDict(f));
    for (const Frame& f : e.gil_holder_stack) holder_stack.append(FrameToDict(f));
    holder["frames"] = holder_frames;
    holder["stack"] = holder_stack;
    d["gil_holder"] = holder;
  } else {
    d["gil_holder"] = py::none();
  }
  d["started_ns"] = e.started_ns;
  d["sampled_ns"] = e.sampled_ns;
  return d;
}

// The report model from the dict the Python parser produces (tests use it to
// round-trip both renderers).
SampleReport ReportFromDict(const py::dict& d) {
  SampleReport r;
  r.episode_id = Bytes(d["episode"], "episode");
  r.sample_index = d["sample"].cast<int32_t>();
  r.samples = d["samples"].cast<int32_t>();
  r.blocked_s = d["blocked_s"].cast<double>();
  if (d.contains("blocked_min_s")) r.blocked_min_s = d["blocked_min_s"].cast<double>();
  r.interval_s = d["interval_s"].cast<double>();
  r.sample_interval_s = d["sample_interval_s"].cast<double>();
  r.pid = d["pid"].cast<int64_t>();
  r.python_version = Bytes(d["python"], "python");
  r.captured_local = Bytes(d["captured_at"], "captured_at");
  r.captured_unix_ns = d["captured_unix_ns"].cast<int64_t>();
  if (!d["task"].is_none()) {
    py::dict t = d["task"].cast<py::dict>();
    r.task = TaskInfo{Bytes(t["coroutine"], "coroutine"), Bytes(t["file"], "file"),
                      t["line"].is_none() ? -1 : t["line"].cast<int32_t>()};
  }
  if (d.contains("loop_activity") && !d["loop_activity"].is_none()) {
    py::dict a = d["loop_activity"].cast<py::dict>();
    const auto share = [](py::handle v) { return v.is_none() ? -1.0 : v.cast<double>(); };
    r.loop_activity = LoopActivity{Bytes(a["state"], "state"), Bytes(a["syscall"], "syscall"),
                                   share(a["cpu_share"]), share(a["runqueue_share"]),
                                   a["gc_running"].cast<bool>()};
    if (a.contains("gil_holder_native_id")) {
      r.loop_activity->gil_holder = a["gil_holder_native_id"].cast<int64_t>();
    }
  }
  r.other_threads = d["other_threads"].cast<int32_t>();
  r.threads_not_sampled = d["threads_not_sampled"].cast<int32_t>();
  r.suppressed_episodes = d["suppressed_episodes"].cast<int64_t>();
  r.capture_ms = d["capture_ms"].cast<double>();
  r.loop_pause_ms = d["loop_pause_ms"].cast<double>();
  for (py::handle th : d["threads"]) {
    py::dict td = th.cast<py::dict>();
    ThreadReport t;
    t.ident = td["ident"].cast<uint64_t>();
    t.native_id = td["native_id"].cast<int64_t>();
    t.name = Bytes(td["name"], "name");
    t.is_loop = td["is_loop"].cast<bool>();
    t.status = Bytes(td["status"], "status");
    t.kernel_state = Bytes(td["kernel_state"], "kernel_state");
    if (td.contains("captured_by")) t.captured_by = Bytes(td["captured_by"], "captured_by");
    if (td.contains("holds_gil")) t.holds_gil = td["holds_gil"].cast<bool>();
    t.truncated = td["truncated"].cast<bool>();
    if (td.contains("gap_at")) t.gap_at = td["gap_at"].cast<int32_t>();
    for (py::handle fh : td["frames"]) {
      py::dict fd = fh.cast<py::dict>();
      t.frames.push_back(Frame{Bytes(fd["kind"], "kind"), Bytes(fd["file"], "file"),
                               fd["line"].is_none() ? -1 : fd["line"].cast<int32_t>(),
                               Bytes(fd["function"], "function"), Bytes(fd["source"], "source")});
    }
    r.threads.push_back(std::move(t));
  }
  return r;
}

// Installed as `selector.select` on the watched loop's selector (see
// aiowatchdog/_loop_probe.py): reports idle before the real select and busy
// after it, in C++ so that every loop iteration pays two stamps and no Python
// frame. Python is called back only when a chore is due.
class SelectProbe {
 public:
  SelectProbe(py::object watchdog, py::object inner, py::object on_chores)
      : watchdog_obj_(std::move(watchdog)),
        watchdog_(watchdog_obj_.cast<Watchdog*>()),
        inner_(std::move(inner)),
        on_chores_(std::move(on_chores)) {}

  py::object Call(py::object timeout) {
    if (!active_) return inner_(timeout);
    Report(watchdog_->Touch(/*idle=*/true));
    py::object events;
    try {
      events = inner_(timeout);
    } catch (...) {
      watchdog_->Touch(/*idle=*/false);
      throw;
    }
    Report(watchdog_->Touch(/*idle=*/false));
    return events;
  }

  void Deactivate() { active_ = false; }
  bool active() const { return active_; }
  const py::object& inner() const { return inner_; }

 private:
  // The chores never raise into the loop (LoopChores.run catches what they
  // raise); a call that fails before it gets there (MemoryError) is dropped
  // here too. Not KeyboardInterrupt or SystemExit: those are the host's.
  void Report(int chores) {
    if (chores == 0) return;
    try {
      on_chores_(chores);
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_Exception)) throw;
    }
  }

  py::object watchdog_obj_;  // keeps watchdog_ alive
  Watchdog* watchdog_;
  py::object inner_;
  py::object on_chores_;
  bool active_ = true;
};

void ThrowIfError(const absl::Status& status) {
  if (status.ok()) return;
  const std::string message(status.message());
  if (absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status)) throw py::value_error(message);
  if (absl::IsPermissionDenied(status)) {
    PyErr_SetString(PyExc_PermissionError, message.c_str());
    throw py::error_already_set();
  }
  throw std::runtime_error(message);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "aiowatchdog native core (internal; see aiowatchdog.hang_inspection)";
  awd_py_frames_init();
  // Threads blocked in the kernel are read from outside, without a signal
  // (remote_capture.h), unless process_vm_readv is forbidden here.
  if (awd_remote_frames_init() == 0) {
    SetRemotePythonWalker({&awd_remote_note_threads, &awd_remote_walk_thread});
    // A loop starved of the GIL, and the thread holding it (gil_wait.h).
    if (awd_gil_init() == 0) SetGilReader(&awd_gil_read);
  }

  py::class_<Watchdog>(m, "Watchdog")
      // Checked once, by aiowatchdog._options.check_native_arguments (the
      // same checks and messages as hang_inspection's Options), then trusted.
      .def(py::init([](py::object output_dir, double interval, int samples,
                       double sample_interval, py::object python_version,
                       bool native_stacks, int max_threads, int max_reports, int64_t max_bytes,
                       int max_episodes_per_minute, bool write_reports, double profile_hz,
                       int file_mode, int dir_mode) {
             py::module_::import("aiowatchdog._options").attr("check_native_arguments")(
                 output_dir, interval, samples, sample_interval, max_threads, max_reports,
                 max_bytes, max_episodes_per_minute, write_reports, profile_hz, file_mode,
                 dir_mode);
             WatchdogOptions o;
             o.write_reports = write_reports;
             o.max_reports = max_reports;
             o.max_bytes = max_bytes;
             o.max_episodes_per_minute = max_episodes_per_minute;
             o.native_stacks = native_stacks;
             o.max_threads = max_threads;
             o.output_dir = Bytes(output_dir, "output_dir");
             o.interval_ns = static_cast<int64_t>(interval * 1e9);
             o.samples = samples;
             o.sample_interval_ns = static_cast<int64_t>(sample_interval * 1e9);
             o.python_version = Bytes(python_version, "python_version");
             o.profile_hz = profile_hz;
             o.file_mode = file_mode;
             o.dir_mode = dir_mode;
             return std::make_unique<Watchdog>(std::move(o));
           }),
           py::arg("output_dir"), py::arg("interval"), py::arg("samples"),
           py::arg("sample_interval"), py::arg("python_version"), py::arg("native_stacks") = true,
           py::arg("max_threads") = 1024, py::arg("max_reports") = 100,
           py::arg("max_bytes") = int64_t{64} << 20, py::arg("max_episodes_per_minute") = 10,
           py::arg("write_reports") = true, py::arg("profile_hz") = 0.0,
           py::arg("file_mode") = 0600, py::arg("dir_mode") = 0700)
      .def("start", [](Watchdog& w) { ThrowIfError(w.Start()); })
      .def("set_stamp_uncertainty", [](Watchdog& w, double seconds) {
             w.SetStampUncertainty(static_cast<int64_t>(seconds * 1e9));
           }, py::arg("seconds"))
      .def("touch", &Watchdog::Touch, py::arg("idle"),
           "The loop became busy (idle=False) or idle; returns the chores due (bit mask).")
      .def("take_finished", [](Watchdog& w) {
        py::list out;
        for (const FinishedEpisode& e : w.TakeFinished()) out.append(EpisodeToDict(e));
        return out;
      })
      .def("request_stop", &Watchdog::RequestStop)
      .def("stopped", &Watchdog::Stopped)
      .def_property_readonly("ended_early",
                             [](const Watchdog& w) -> std::optional<std::string> {
                               const char* why = w.EndedEarly();
                               if (why == nullptr) return std::nullopt;
                               return std::string(why);
                             })
      .def("join", &Watchdog::Join, py::call_guard<py::gil_scoped_release>())
      .def("forget_after_fork", &Watchdog::ForgetAfterFork)
      .def("sample_since", [](Watchdog& w, int64_t since_ns, double timeout) -> py::object {
             std::optional<FinishedEpisode> sample;
             {
               py::gil_scoped_release release;
               sample = w.SampleSince(since_ns, static_cast<int64_t>(timeout * 1e9));
             }
             if (!sample) return py::none();
             return EpisodeToDict(*sample);
           }, py::arg("since_ns"), py::arg("timeout"),
           "Sample 0 of the episode that began at or after since_ns (time.monotonic_ns()), "
           "waiting up to timeout seconds for one being taken; None if there is none.")
      .def_property_readonly("episodes_started", &Watchdog::episodes_started)
      .def_property_readonly("episodes_suppressed", &Watchdog::episodes_suppressed);

  py::class_<SelectProbe>(m, "SelectProbe")
      .def(py::init<py::object, py::object, py::object>(), py::arg("watchdog"), py::arg("inner"),
           py::arg("on_chores"))
      .def("__call__", &SelectProbe::Call, py::arg("timeout") = py::none())
      .def("deactivate", &SelectProbe::Deactivate)
      .def_property_readonly("active", &SelectProbe::active)
      .def_property_readonly("inner", &SelectProbe::inner);

  // The report directory's owner and mode, as Watchdog.start() checks them
  // (report_writer.h): PermissionError naming what is wrong.
  m.def("check_report_directory", [](py::object path) {
    absl::StatusOr<int> fd = OpenReportDirectory(Bytes(path, "path"));
    if (fd.ok()) close(*fd);
    else ThrowIfError(fd.status());
  }, py::arg("path"));

  m.def("install_capture_handler", [](int signo) {
    // A free-threaded build has no frame walker: refuse rather than sample.
    if (const char* why = awd_py_frames_unsupported()) throw std::runtime_error(why);
    ThrowIfError(InstallCaptureHandler(signo, &awd_walk_current_thread));
  }, py::arg("signo"));
  // aiowatchdog/_exec_fence.py: around os.execv/os.execve (capture.h says why).
  m.def("fence_thread_for_exec", [] {
    py::gil_scoped_release release;  // may wait for a capture in progress
    FenceThisThreadForExec();
  });
  m.def("unfence_thread", &UnfenceThisThread);
  m.def("installed_capture_signal", &InstalledCaptureSignal);
  m.def("set_remote_capture", &SetRemoteCaptureEnabled, py::arg("enabled"),
        "Reads threads blocked in the kernel from outside (True, the default) or signals "
        "every thread as before (False); for benchmarks.");
  m.def("remote_capture_enabled", &RemoteCaptureEnabled);
  m.def("set_idle_looks", &SetIdleLooks, py::arg("on"),
        "Looks at an idle loop once an interval for a starved GIL wait (True, the default), "
        "or never (False); for benchmarks measuring what the looks cost.");
  m.def("capture_handler_reinstalls", &CaptureHandlerReinstalls,
        "Times our handler was found replaced by another and put back on top.");

  // aiowatchdog.allow_blocking: on the calling thread.
  m.def("enter_allowed_section", [] {
    return EnterAllowedSection(static_cast<pid_t>(syscall(SYS_gettid)), MonotonicNowNs());
  });
  m.def("exit_allowed_section", [] {
    ExitAllowedSection(static_cast<pid_t>(syscall(SYS_gettid)), MonotonicNowNs());
  });

  // For gc.callbacks (aiowatchdog/_gc_phase.py): a plain C function.
  m.attr("gc_callback") = py::reinterpret_steal<py::object>(NewGcCallback(m.attr("__name__").ptr()));

  // Rows of (native_id, ident, name); a name may be any str (surrogate
  // escapes included) or bytes: see Bytes().
  m.def("publish_thread_names", [](const std::vector<std::tuple<int64_t, uint64_t, py::object>>& rows) {
    std::vector<NamedThread> threads;
    threads.reserve(rows.size());
    for (const auto& [native_id, ident, name] : rows) {
      threads.push_back({native_id, ident, Bytes(name, "thread name")});
    }
    PublishThreadNames(std::move(threads));
  }, py::arg("rows"));

  m.def("note_thread_name", [](int64_t native_id, uint64_t ident, const py::object& name) {
    NoteThreadName({native_id, ident, Bytes(name, "thread name")});
  }, py::arg("native_id"), py::arg("ident"), py::arg("name"));

  m.def("render_text_report", [](const py::dict& d) { return py::bytes(RenderTextReport(ReportFromDict(d))); });
  m.def("render_json_report", [](const py::dict& d) { return py::bytes(RenderJsonReport(ReportFromDict(d))); });
  m.attr("CHORE_FINISHED_EPISODES") = Watchdog::kFinishedEpisodes;
  m.attr("CHORE_HOUSEKEEPING") = Watchdog::kHousekeeping;
  m.attr("CHORE_BLOCK_ENDED") = Watchdog::kBlockEnded;
  m.attr("REPORT_SCHEMA_VERSION") = kReportSchemaVersion;
  m.attr("MAX_PY_FRAMES") = static_cast<int>(AWD_MAX_PY_FRAMES);
  m.attr("MAX_NATIVE_FRAMES") = kMaxNativeFrames;
}
