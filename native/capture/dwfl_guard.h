// What every user of elfutils' libdwfl in the watchdog (the symbolizer, the
// unwinder of threads read from outside) must do, in one place: descriptors
// close-on-exec, and libdwfl never entered when memory is short.
#ifndef AIOWATCHDOG_DWFL_GUARD_H_
#define AIOWATCHDOG_DWFL_GUARD_H_

#include <elfutils/libdwfl.h>

#include <cstdint>

namespace aiowatchdog {

// `fd` made close-on-exec (when >= 0), and returned: libdwfl keeps the
// descriptors of the files it opens for the life of a handle, and an exec'd
// program must never inherit them. Sharing them with a forked child is
// harmless: libelf maps files or reads them with pread, never through the
// shared file offset (absl's symbolizer read with lseek+read, and a child
// moving the parent's offset made both abort).
int CloseOnExec(int fd);

// dwfl_linux_proc_find_elf, its descriptor made close-on-exec: the find_elf
// callback of every Dwfl of ours.
int FindElfCloseOnExec(Dwfl_Module* mod, void** userdata, const char* module_name,
                       Dwarf_Addr base, char** file_name, Elf** elf);

// Whether libdwfl may be entered: true without an address-space limit (one
// getrlimit call); under one, whether 96 MiB are still to be had. libdwfl
// 0.188 is not dependable when an allocation fails deep inside it: besides
// libdw's handler that exits the process (the symbolizer replaces it), we saw
// under RLIMIT_AS a dangling module pointer (SIGSEGV) and an assert() in its
// error code (dwfl_error.c, SIGABRT). Below the headroom, names are lost and
// blocked threads are signalled instead of read from outside.
bool HasAddressSpaceHeadroom();

// glibc's count of objects loaded and unloaded so far (dl_iterate_phdr's
// dlpi_adds and dlpi_subs): when it moves, a library came or went since a
// Dwfl's modules were reported, and they are reported again (a library
// dlopen'ed since, ctypes' for one, would be unknown, or an unloaded one's
// addresses taken for another's).
uint64_t LoadedObjects();

// Reports this process's loaded objects to `dwfl` (between dwfl_report_begin
// and dwfl_report_end), as the loader lists them (dl_iterate_phdr): each one
// named by its path, spanning its PT_LOAD segments; the vDSO as libdwfl names
// it ("[vdso: PID]", read from memory). Not dwfl_linux_proc_report: reading
// /proc/self/maps while another thread's dlopen maps a library can see it half
// mapped, and its module then stayed wrong (a ctypes library's static
// functions unnamed), while the loader lists an object only once it is mapped.
// 0, or -1 when memory ran out (what was reported stays).
int ReportLoadedObjects(Dwfl* dwfl);

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_DWFL_GUARD_H_
