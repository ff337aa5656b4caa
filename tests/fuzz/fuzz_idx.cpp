// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the trainer's IDX reader (load_idx).  Input: a big-endian
// 16-bit length L, an IDX label file of L bytes, then an IDX image file
// (plain or gzip).  Both go to load_idx as in-memory files.  Every input
// must give an ImageSet or a siamese::Error.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dataset.h"
#include "errors.h"

namespace {

// An anonymous in-memory file holding `bytes`, named by /proc/self/fd/N.
class MemoryFile {
 public:
  explicit MemoryFile(const uint8_t *bytes, std::size_t size)
      : fd_(memfd_create("fuzz-idx", MFD_CLOEXEC)) {
    if (fd_ < 0 || write(fd_, bytes, size) != static_cast<ssize_t>(size)) std::abort();
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile &) = delete;
  MemoryFile &operator=(const MemoryFile &) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t label_bytes = std::min<std::size_t>((data[0] << 8) | data[1], size - 2);
  const MemoryFile labels(data + 2, label_bytes);
  const MemoryFile images(data + 2 + label_bytes, size - 2 - label_bytes);
  try {
    const auto set = siamese::trainer::load_idx(images.path(), labels.path());
    if (set.pixels.size() != set.size() * set.image_bytes()) std::abort();
  } catch (const siamese::Error &) {
  }
  return 0;
}
