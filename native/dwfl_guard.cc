// See dwfl_guard.h.
#include "dwfl_guard.h"

#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstddef>

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
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t size, void* data) {
        if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
          *static_cast<uint64_t*>(data) = info->dlpi_adds << 32 ^ info->dlpi_subs;
        }
        return 1;  // the counters are the same in every entry: one is enough
      },
      &count);
  return count;
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
