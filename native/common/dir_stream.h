// A directory stream closed however its reader leaves (std::bad_alloc from
// the vector it fills included). Not for signal context.
#ifndef AIOWATCHDOG_DIR_STREAM_H_
#define AIOWATCHDOG_DIR_STREAM_H_

#include <dirent.h>

#include <memory>

namespace aiowatchdog {

struct CloseDir {
  void operator()(DIR* d) const { closedir(d); }
};
using DirStream = std::unique_ptr<DIR, CloseDir>;

}  // namespace aiowatchdog

#endif  // AIOWATCHDOG_DIR_STREAM_H_
