// See symbolizer.h for why libdwfl and what each piece below protects against.
#include "sample/symbolizer.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "absl/strings/str_format.h"
#include "capture/dwfl_guard.h"

namespace aiowatchdog {
namespace {

// The separate debug file: the build-id tree first (what Debian's -dbg and
// -dbgsym packages install), then .gnu_debuglink's name next to the file, in
// its .debug directory, and under each debug directory. Not
// dwfl_standard_find_debuginfo: it also asks debuginfod servers over the
// network when DEBUGINFOD_URLS is set, from the watchdog thread of a
// production process.
//
// The debug directories of the Symbolizer calling into libdwfl (its
// debuginfo_path), for FindDebuginfo; watchdog thread only.
// initial-exec: in the thread's static TLS block, allocated with the thread.
// A dlopen'ed module's ordinary thread_local is allocated by glibc at the
// thread's first touch, and glibc aborts the process when that allocation
// fails ("cannot allocate memory for thread-local data: ABORT", seen under
// RLIMIT_AS).
__attribute__((tls_model("initial-exec"))) thread_local const char* t_debug_dirs = nullptr;

int FindDebuginfoByLink(const char* file_name, const char* debuglink_file,
                        char** debuginfo_file_name);

int FindDebuginfo(Dwfl_Module* mod, void** userdata, const char* module_name, Dwarf_Addr base,
                  const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                  char** debuginfo_file_name) {
  const int by_build_id =
      dwfl_build_id_find_debuginfo(mod, userdata, module_name, base, file_name, debuglink_file,
                                   debuglink_crc, debuginfo_file_name);
  if (by_build_id >= 0) return CloseOnExec(by_build_id);
  try {
    return FindDebuginfoByLink(file_name, debuglink_file, debuginfo_file_name);
  } catch (const std::bad_alloc&) {
    return -1;  // never through libdwfl's C frames
  }
}

int FindDebuginfoByLink(const char* file_name, const char* debuglink_file,
                        char** debuginfo_file_name) {
  if (debuglink_file == nullptr || file_name == nullptr || std::strchr(debuglink_file, '/')) {
    return -1;
  }
  const char* slash = std::strrchr(file_name, '/');
  if (slash == nullptr) return -1;
  const std::string dir(file_name, slash - file_name);
  std::string debug_dirs = "/usr/lib/debug";
  if (t_debug_dirs != nullptr && *t_debug_dirs != '\0') debug_dirs = t_debug_dirs;
  std::string candidates[8];
  int count = 0;
  candidates[count++] = dir + "/" + debuglink_file;
  candidates[count++] = dir + "/.debug/" + debuglink_file;
  size_t start = 0;
  while (start <= debug_dirs.size() && count < 8) {
    size_t end = debug_dirs.find(':', start);
    if (end == std::string::npos) end = debug_dirs.size();
    if (end > start) candidates[count++] = debug_dirs.substr(start, end - start) + dir + "/" + debuglink_file;
    start = end + 1;
  }
  for (int i = 0; i < count; ++i) {
    if (candidates[i] == file_name) continue;  // the stripped file itself
    const int fd = open(candidates[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    *debuginfo_file_name = strdup(candidates[i].c_str());
    return fd;
  }
  return -1;
}

std::string Demangle(const char* name) {
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out != nullptr ? std::string(out) : std::string(name);
  std::free(out);
  return result;
}

// libdw calls the out-of-memory handler of a DWARF handle when it cannot
// allocate, and the handler must not return; libdw's own exits the process.
// Ours jumps back to the line lookup that was running on this (the watchdog)
// thread. Set only while such a lookup runs.
__attribute__((tls_model("initial-exec"))) thread_local sigjmp_buf* t_oom_jump = nullptr;

[[noreturn]] void OnLibdwOutOfMemory() {
  if (t_oom_jump != nullptr) siglongjmp(*t_oom_jump, 1);
  // Unreachable: the handler is installed only inside a lookup. Never exit
  // the host process; park this thread instead.
  for (;;) pause();
}

struct LineResult {
  const char* file = nullptr;  // owned by libdw's handle
  int line = -1;
  bool out_of_memory = false;
};

// The DWARF part, where libdw may run out of memory. No C++ object with a
// destructor lives in this frame: the jump skips destructors.
LineResult LookUpLine(Dwfl_Module* mod, Dwarf_Addr pc, bool simulate_oom) {
  LineResult result;
  sigjmp_buf jump;
  if (sigsetjmp(jump, 0) != 0) {
    t_oom_jump = nullptr;
    result.file = nullptr;
    result.out_of_memory = true;
    return result;
  }
  t_oom_jump = &jump;
  if (simulate_oom) OnLibdwOutOfMemory();
  Dwarf_Addr bias = 0;
  if (Dwarf* dwarf = dwfl_module_getdwarf(mod, &bias)) {
    dwarf_new_oom_handler(dwarf, OnLibdwOutOfMemory);
    if (Dwfl_Line* line = dwfl_module_getsrc(mod, pc)) {
      int lineno = 0;
      const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
      if (file != nullptr && lineno > 0) {
        result.file = file;
        result.line = lineno;
      }
    }
  }
  t_oom_jump = nullptr;
  return result;
}


}  // namespace

std::string NativeSymbol::Describe(uintptr_t pc) const {
  if (function.empty()) return absl::StrFormat("0x%x", pc);
  if (has_offset) return absl::StrFormat("%s + 0x%x", function, offset);
  return function;
}

Symbolizer::Symbolizer(size_t max_entries, std::string debug_dirs, bool lines)
    : max_entries_(max_entries), debug_dirs_(std::move(debug_dirs)), lines_enabled_(lines) {
  // AIOWATCHDOG_DEBUG_DIRS: debug files kept elsewhere (and, in tests, an
  // empty directory: what a machine without debug packages sees).
  if (debug_dirs_.empty()) {
    if (const char* env = std::getenv("AIOWATCHDOG_DEBUG_DIRS")) debug_dirs_ = env;
  }
  debuginfo_path_ = strdup(debug_dirs_.empty() ? "/usr/lib/debug" : debug_dirs_.c_str());
  auto* callbacks = new Dwfl_Callbacks{};
  callbacks->find_elf = FindElfCloseOnExec;
  callbacks->find_debuginfo = FindDebuginfo;
  callbacks->section_address = dwfl_offline_section_address;
  callbacks->debuginfo_path = &debuginfo_path_;
  callbacks_ = callbacks;
}

Symbolizer::~Symbolizer() {
  // A handle made in another process (we were forked) is left alone.
  Release();
  delete static_cast<Dwfl_Callbacks*>(callbacks_);
  std::free(debuginfo_path_);
}

void Symbolizer::Release() {
  const bool had_handle = dwfl_ != nullptr;
  cache_.clear();
  DropHandle(/*leak=*/owner_pid_ != getpid());
  // A handle's symbol tables are hundreds of KB to megabytes, just freed into
  // the malloc arena of a watchdog thread that is ending, which glibc keeps:
  // give them back once per symbolizer released (per dumper stopped).
  if (had_handle) malloc_trim(0);
}

void Symbolizer::Report() {
  if (dwfl_ == nullptr) return;
  loaded_objects_ = LoadedObjects();
  dwfl_report_begin(dwfl_);
  const int reported = ReportLoadedObjects(dwfl_);
  const int ended = dwfl_report_end(dwfl_, nullptr, nullptr);
  // A report that only missed modules (reported != 0: out of memory) leaves a
  // consistent handle. One whose end
  // failed (out of memory) can leave its address table pointing at modules
  // it freed (libdwfl 0.188; a dangling module name crashed us under
  // RLIMIT_AS): that handle is never touched again.
  (void)reported;
  if (ended != 0) DropHandle(/*leak=*/true);
}

void Symbolizer::Begin() {
  dwfl_ = dwfl_begin(static_cast<Dwfl_Callbacks*>(callbacks_));
  owner_pid_ = getpid();
  Report();
}

namespace {

// Handles abandoned in a state not safe to free (or made by the process we
// were forked from) stay reachable from here: bounded, and no leak checker
// takes the design for a leak. Past its size they are just dropped.
constexpr int kMaxAbandoned = 256;
std::atomic<Dwfl*> g_abandoned[kMaxAbandoned];
std::atomic<int> g_abandoned_count{0};

void Abandon(Dwfl* dwfl) {
  const int slot = g_abandoned_count.fetch_add(1);
  if (slot < kMaxAbandoned) g_abandoned[slot].store(dwfl);
}

}  // namespace

void Symbolizer::DropHandle(bool leak) {
  if (dwfl_ != nullptr && leak) {
    ++leaked_handles_;
    Abandon(dwfl_);
  }
  if (dwfl_ != nullptr && !leak) dwfl_end(dwfl_);
  dwfl_ = nullptr;
}

NativeSymbol Symbolizer::Lookup(uintptr_t pc) {
  NativeSymbol symbol;
  if (dwfl_ != nullptr && owner_pid_ != getpid()) DropHandle(/*leak=*/true);  // forked
  // Each handle abandoned (out of memory inside libdw) is leaked, so after a
  // few the symbolizer gives up: addresses only, memory bounded.
  if (dwfl_ == nullptr && leaked_handles_ < kMaxLeakedHandles) Begin();
  if (dwfl_ == nullptr) return symbol;
  if (loaded_objects_ != LoadedObjects()) Report();  // a library came or went
  if (dwfl_ == nullptr) return symbol;
  Dwfl_Module* mod = dwfl_addrmodule(dwfl_, pc);
  if (mod == nullptr) {
    // Loaded since the last look (dlopen), or not code at all.
    Report();
    if (dwfl_ == nullptr) return symbol;
    mod = dwfl_addrmodule(dwfl_, pc);
  }
  if (mod == nullptr) return symbol;
  Dwarf_Addr low = 0;
  // The module's name is its path in /proc/self/maps. Not dwfl_module_info's
  // main file name: after an allocation failure while opening the file,
  // libdwfl 0.188 can hand back a dangling pointer there (crashed under
  // RLIMIT_AS).
  const char* name = dwfl_module_info(mod, nullptr, &low, nullptr, nullptr, nullptr, nullptr,
                                      nullptr);
  if (name != nullptr) symbol.library = name;
  symbol.library_offset = pc - low;
  GElf_Off offset = 0;
  GElf_Sym sym;
  if (const char* function =
          dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
    symbol.function = Demangle(function);
    symbol.has_offset = true;
    symbol.offset = offset;
    // A debug file's .symtab often names the internal alias (_IO_fflush,
    // __GI___clock_nanosleep) of what the program called (fflush,
    // clock_nanosleep): the exported name at the same address wins.
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr &&
        reinterpret_cast<uintptr_t>(info.dli_saddr) == pc - offset) {
      symbol.function = Demangle(info.dli_sname);
    }
  }
  if (lines_enabled_) {
    t_debug_dirs = debuginfo_path_;
    const LineResult line = LookUpLine(mod, pc, fail_next_line_lookup_);
    fail_next_line_lookup_ = false;
    if (line.out_of_memory) {
      // The handle may be half-built (libdw ran out inside it): abandon it
      // without freeing, and look up names only from now on.
      lines_enabled_ = false;
      DropHandle(/*leak=*/true);
    } else if (line.file != nullptr) {
      symbol.source_file = line.file;
      symbol.source_line = line.line;
    }
  }
  return symbol;
}

const NativeSymbol& Symbolizer::Resolve(uintptr_t pc) {
  try {
    if (auto it = cache_.find(pc); it != cache_.end()) return it->second;
    if (cache_.size() >= max_entries_) {
      cache_.clear();
      DropHandle(/*leak=*/owner_pid_ != getpid());  // its tables grow too
    }
    if (!HasAddressSpaceHeadroom()) return unknown_;  // not cached: tried again later
    t_debug_dirs = debuginfo_path_;
    NativeSymbol symbol = Lookup(pc);
    // The loader's own view: the object's real load base, and the nearest
    // exported symbol where libdwfl found no name (a module whose mappings
    // it misread, seen with a ctypes library in CI).
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_fbase != nullptr) {
      if (symbol.library.empty() && info.dli_fname != nullptr) symbol.library = info.dli_fname;
      symbol.library_offset = pc - reinterpret_cast<uintptr_t>(info.dli_fbase);
      if (symbol.function.empty() && info.dli_sname != nullptr && info.dli_saddr != nullptr) {
        symbol.function = Demangle(info.dli_sname);
        symbol.has_offset = true;
        symbol.offset = pc - reinterpret_cast<uintptr_t>(info.dli_saddr);
      }
    }
    return cache_.emplace(pc, std::move(symbol)).first->second;
  } catch (const std::bad_alloc&) {
    // Out of memory in our own code: this name is lost, nothing else.
    return unknown_;
  }
}

}  // namespace aiowatchdog
