// SPDX-License-Identifier: LGPL-2.1-or-later
#include "file_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace siamese {
namespace {

// Lines written between two looks at the wake-up descriptor: writing is
// quick, this only bounds how long close() may wait for the worker.
constexpr std::size_t kLinesPerRound = 256;

}  // namespace

FileTransport::FileTransport(FileSettings settings) : settings_(std::move(settings)) {
  if (settings_.location.empty())
    throw TransportSettingsError("No file to write events to: set the location property "
                                 "(a path, or - for standard output).");
  if (standard_output() && settings_.max_size > 0)
    throw TransportSettingsError(
        "Standard output cannot be rotated: set max-size to 0 or location to a file.");
}

FileTransport::~FileTransport() { close(); }

void FileTransport::connect() {
  if (standard_output()) {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(settings_.location.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return fail("opening it", errno);
    struct stat status {};
    if (fstat(fd_, &status) != 0) return fail("inspecting it", errno);
    size_ = static_cast<std::uint64_t>(status.st_size);
  }
  listener().on_ready();
}

std::size_t FileTransport::room() const { return ready() ? kLinesPerRound : 0; }

bool FileTransport::send(const std::string &event) {
  const std::string line = event + '\n';
  if (settings_.max_size > 0 && size_ > 0 && size_ + line.size() > settings_.max_size &&
      !rotate())
    return false;
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t count = ::write(fd_, line.data() + written, line.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      const int error = count < 0 ? errno : EIO;
      // Take back a partial line, so that the file holds whole lines only
      // (the line is written again after the retry).
      if (written > 0 && !standard_output())
        [[maybe_unused]] const int ignored = ftruncate(fd_, static_cast<off_t>(size_));
      fail("writing", error);
      return false;
    }
    written += static_cast<std::size_t>(count);
  }
  size_ += line.size();
  listener().on_delivered(1);
  return true;
}

bool FileTransport::rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string &base = settings_.location;
  const auto numbered = [&base](unsigned n) { return base + "." + std::to_string(n); };
  for (unsigned n = settings_.max_files; n > 1; --n)
    if (std::rename(numbered(n - 1).c_str(), numbered(n).c_str()) != 0 && errno != ENOENT) {
      fail("rotating it", errno);
      return false;
    }
  const int renamed =
      settings_.max_files > 0 ? std::rename(base.c_str(), numbered(1).c_str()) : ::unlink(base.c_str());
  if (renamed != 0 && errno != ENOENT) {
    fail("rotating it", errno);
    return false;
  }
  size_ = 0;
  connect();
  return ready();
}

void FileTransport::wait(std::chrono::milliseconds timeout, int wake_fd) {
  pollfd wake{wake_fd, POLLIN, 0};
  ::poll(&wake, 1, static_cast<int>(timeout.count()));
}

void FileTransport::close() {
  if (fd_ >= 0 && !standard_output()) ::close(fd_);
  fd_ = -1;
}

void FileTransport::fail(const std::string &what, int error) {
  close();
  listener().on_lost(what + " failed (" + std::strerror(error) + ").");
}

std::string FileTransport::describe() const {
  return standard_output() ? std::string("standard output") : "the file " + settings_.location;
}

}  // namespace siamese
