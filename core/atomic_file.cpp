// SPDX-License-Identifier: LGPL-2.1-or-later
#include "atomic_file.h"

#include <cerrno>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

namespace siamese {
namespace {

[[noreturn]] void fail(const std::string &what, const std::string &path, int error) {
  throw std::runtime_error("cannot " + what + " " + path + ": " + std::strerror(error));
}

}  // namespace

void write_file_atomically(const std::string &path, std::string_view bytes) {
  // The temporary lives in the target's directory so that rename() stays on
  // one file system and is atomic.
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) fail("create a temporary file for", path, errno);
  const std::string temporary(name.data());

  const char *data = bytes.data();
  std::size_t left = bytes.size();
  int error = 0;
  while (left > 0 && !error) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      error = errno;
      break;
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (!error && fsync(fd) != 0) error = errno;
  // mkstemp creates 0600; models and checkpoints are meant to be shared.
  // (Reading the umask would mean changing it, which is not thread-safe.)
  if (!error && fchmod(fd, 0644) != 0) error = errno;
  if (close(fd) != 0 && !error) error = errno;
  if (!error && std::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error) {
    std::remove(temporary.c_str());
    fail("write", path, error);
  }
}

void check_writable(const std::string &path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw Error(ErrorKind::kWrite, "Cannot write " + path + ": it is a folder.");
  if (std::filesystem::exists(path, error) && access(path.c_str(), W_OK) != 0)
    throw Error(ErrorKind::kWrite, "Cannot write " + path + ": " + std::strerror(errno) + ".");
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0)
    throw Error(ErrorKind::kWrite, "Cannot write " + path + ": " + std::strerror(errno) + ".");
  close(fd);
  std::remove(name.data());
}

}  // namespace siamese
