// See dwfl_guard.h.
#include "capture/dwfl_guard.h"

#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include "proc/loader_walk.h"

namespace aiowatchdog {

int CloseOnExec(int fd) {
  if (fd >= 0) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  return fd;
}

int FindElfCloseOnExec(Dwfl_Module* mod, void** userdata, const char* module_name,
                       Dwarf_Addr base, char** file_name, Elf** elf) {
  return CloseOnExec(dwfl_linux_proc_find_elf(mod, userdata, module_name, base, file_name, elf));
}

uint64_t LoadedObjects() {
  uint64_t count = 0;
  WalkLoadedObjects(
      [](dl_phdr_info* info, size_t size, void* data) noexcept {
        if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
          *static_cast<uint64_t*>(data) = info->dlpi_adds << 32 ^ info->dlpi_subs;
        }
        return 1;  // the counters are the same in every entry: one is enough
      },
      &count);
  return count;
}

namespace {

struct LoadedObject {
  std::string name;  // the loader's: a path, "" for the program, or the vDSO's soname
  uintptr_t start = 0;
  uintptr_t end = 0;
};

struct ObjectList {
  std::vector<LoadedObject> objects;
  bool out_of_memory = false;
};

// dl_iterate_phdr's callback: copies one object out. No exception may leave
// it: dl_iterate_phdr would not release the loader's lock, and every later
// dlopen of the process would hang.
int CopyObject(dl_phdr_info* info, size_t, void* data) noexcept {
  auto* list = static_cast<ObjectList*>(data);
  try {
    LoadedObject object{info->dlpi_name != nullptr ? info->dlpi_name : ""};
    bool any = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      if (ph.p_type != PT_LOAD) continue;
      // libdwfl takes the first segment's start, aligned down to its
      // p_align, for the module's bias: the same here.
      const uintptr_t align = ph.p_align > 1 ? ph.p_align : 1;
      const uintptr_t start = info->dlpi_addr + (ph.p_vaddr & ~(align - 1));
      const uintptr_t end = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
      object.start = any ? std::min(object.start, start) : start;
      object.end = std::max(object.end, end);
      any = true;
    }
    if (any) list->objects.push_back(std::move(object));
    return 0;
  } catch (const std::bad_alloc&) {
    list->out_of_memory = true;
    return 1;
  }
}

}  // namespace

int ReportLoadedObjects(Dwfl* dwfl) {
  // Copied out first: nothing of libdwfl's runs under the loader's lock.
  ObjectList list;
  WalkLoadedObjects(CopyObject, &list);
  if (list.out_of_memory) return -1;
  const uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  try {
    for (const LoadedObject& object : list.objects) {
      std::string name = object.name;
      if (name.empty()) {  // the program itself
        char path[4096];
        const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        name = n > 0 ? std::string(path, static_cast<size_t>(n)) : "/proc/self/exe";
      } else if (name[0] != '/') {
        if (vdso == 0 || vdso < object.start || vdso >= object.end) continue;
        name = "[vdso: " + std::to_string(getpid()) + "]";
      }
      if (dwfl_report_module(dwfl, name.c_str(), object.start, object.end) == nullptr) return -1;
    }
  } catch (const std::bad_alloc&) {
    return -1;
  }
  return 0;
}

bool HasAddressSpaceHeadroom() {
  constexpr size_t kHeadroomBytes = size_t{96} << 20;
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return true;
  void* probe = mmap(nullptr, kHeadroomBytes, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (probe == MAP_FAILED) return false;
  munmap(probe, kHeadroomBytes);
  return true;
}

}  // namespace aiowatchdog
