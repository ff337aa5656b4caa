// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Events as JSON lines appended to a file ("-": standard output), with
// rotation by size: when the next line would make the file larger than
// max_size, it is renamed to <location>.1 (older ones to .2, .3, ... up to
// max_files) and a new file begins.  A line is written whole or not at all.
#pragma once

#include <cstdint>
#include <string>

#include "event_transport.h"

namespace siamese {

struct FileSettings {
  std::string location;       // a path, or "-" for standard output
  std::uint64_t max_size = 0; // bytes; 0: never rotate
  unsigned max_files = 5;     // rotated files kept beside the current one
};

class FileTransport : public EventTransport {
 public:
  // Throws TransportSettingsError for an empty location, or rotation asked
  // of standard output.
  explicit FileTransport(FileSettings settings);
  ~FileTransport() override;

  void connect() override;
  bool connecting() const override { return fd_ >= 0; }
  bool ready() const override { return fd_ >= 0; }
  std::size_t room() const override;
  std::size_t in_flight() const override { return 0; }
  bool send(const std::string &event) override;
  void wait(std::chrono::milliseconds timeout, int wake_fd) override;
  void close() override;
  std::string describe() const override;

 private:
  bool standard_output() const { return settings_.location == "-"; }
  // Closes the file after a failure and tells the listener.
  void fail(const std::string &what, int error);
  bool rotate();

  FileSettings settings_;
  int fd_ = -1;
  std::uint64_t size_ = 0;  // bytes in the current file
};

}  // namespace siamese
