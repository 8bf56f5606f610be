// Names (and file:line where debug info has them) for native program
// counters, resolved on the watchdog thread after a capture: never in signal
// context (it reads ELF files and allocates), never from two threads at once.
//
// The library is elfutils' libdwfl, chosen for what a process we watch does
// to us (measured on Debian 12, elfutils 0.188):
//   - Separate debug files: the /usr/lib/debug/.build-id tree, .gnu_debuglink
//     and MiniDebugInfo (.gnu_debugdata, read by libdwfl itself). Debian's
//     stripped /usr/bin/python3.11 has only .dynsym: 16% of its code named
//     without python3.11-dbg, 98% with it (file:line for 99.7%).
//   - Libraries dlopen'ed after the first capture (Python imports extension
//     modules all the time): an address outside every known module makes us
//     read /proc/self/maps again (at most once per Resolve).
//   - Fork: libelf reads with mmap/pread, never lseek+read on a shared file
//     offset, and every descriptor we are handed is made close-on-exec. libdw
//     has no global lock; its per-handle locks are only ever taken on the
//     watchdog thread, and a forked child never touches its parent's handle
//     (a Symbolizer used in another process than the one that made it starts
//     afresh and leaves the parent's handle alone, leaked, never freed).
//   - Memory: libdwfl and libelf return errors on allocation failure, but
//     libdw's default out-of-memory handler exits the process (error(3),
//     "libdw: Cannot allocate memory", seen under RLIMIT_AS): every DWARF
//     handle gets our handler, which jumps back to Resolve; that handle is
//     then abandoned (its state may be half-built) and file:line lookups stop
//     for the life of the Symbolizer. std::bad_alloc in our own code loses
//     the one name, never the process.
//   - No network: dwfl_standard_find_debuginfo asks debuginfod servers when
//     DEBUGINFOD_URLS is set (Debian's shell profile sets it); our lookup
//     does the build-id tree and debuglink search without it.
//   - libdwfl can also unwind another thread from a register set with a
//     memory-read callback (dwfl_attach_state), which a later capture mode
//     needs: one dependency for both jobs.
// Memory is bounded by the cache: when it reaches max_entries the cache and
// the libdwfl handle (its symbol and line tables) are dropped and rebuilt.
#ifndef AIOWATCHDOG_SYMBOLIZER_H_
#define AIOWATCHDOG_SYMBOLIZER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <unordered_map>

struct Dwfl;

namespace aiowatchdog {

struct NativeSymbol {
  std::string function;          // demangled; "" when unknown
  bool has_offset = false;       // offset from the function's start is known
  uintptr_t offset = 0;
  std::string library;           // object file path; "" when unknown
  uintptr_t library_offset = 0;  // pc - the object's load base
  std::string source_file;       // from DWARF line tables; "" when unknown
  int32_t source_line = -1;      // -1 when unknown

  // "<function> + 0x<offset>", "<function>" or "0x<pc>": the report's name.
  std::string Describe(uintptr_t pc) const;
};

class Symbolizer {
 public:
  // `debug_dirs`: where separate debug files are looked for, ':'-separated
  // ("" means $AIOWATCHDOG_DEBUG_DIRS, else /usr/lib/debug); tests point it
  // at an empty directory to see
  // what a machine without debug packages sees. `lines`: also look up
  // file:line. Off by default: decoding line tables is the costly part (the
  // first lookup in Debian's python3.11 with its debug file reads tables
  // worth 58 MB of heap for 1,000 PCs spread over the binary, and a first
  // capture's stack takes hundreds of milliseconds instead of tens).
  explicit Symbolizer(size_t max_entries = 65536, std::string debug_dirs = "",
                      bool lines = false);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Never throws; an address it cannot name (or memory it cannot get) gives
  // an entry with what is known, at worst only the address.
  const NativeSymbol& Resolve(uintptr_t pc);

  // Frees the libdwfl handle and the cache now (a later Resolve makes them
  // again): the watchdog thread does so as it ends, so that a stopped dumper
  // that Python has not collected yet (they sit in reference cycles) does not
  // hold its symbol tables (seen: 6.8 MB over 300 start/stops on 3.13).
  void Release();
  size_t cached() const { return cache_.size(); }
  // False once libdw ran out of memory: names still come, file:line no more.
  bool lines_enabled() const { return lines_enabled_; }
  // For tests: simulate libdw running out of memory at the next line lookup.
  void FailNextLineLookupForTesting() { fail_next_line_lookup_ = true; }

 private:
  void Begin();                 // a fresh libdwfl handle, modules reported
  void DropHandle(bool leak);   // leak: its state cannot be trusted
  void Report();                // (re-)reads /proc/self/maps
  NativeSymbol Lookup(uintptr_t pc);

  size_t max_entries_;
  std::string debug_dirs_;
  char* debuginfo_path_ = nullptr;  // libdwfl's callbacks point here
  void* callbacks_ = nullptr;       // Dwfl_Callbacks, owned
  Dwfl* dwfl_ = nullptr;
  pid_t owner_pid_ = 0;             // the process dwfl_ describes
  uint64_t loaded_objects_ = 0;     // LoadedObjects() at the last Report
  static constexpr int kMaxLeakedHandles = 8;
  int leaked_handles_ = 0;          // abandoned in a state not safe to free
  bool lines_enabled_;
  bool fail_next_line_lookup_ = false;
  // std::unordered_map, not absl's: an insert that runs out of memory leaves
  // it as it was (absl's raw_hash_set is left corrupt by a failed rehash, and
  // asserts on the next insert: seen under RLIMIT_AS).
  std::unordered_map<uintptr_t, NativeSymbol> cache_;
  NativeSymbol unknown_;            // what Resolve returns when all else fails
};

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_SYMBOLIZER_H_
