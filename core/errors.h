// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The one exception type the core throws.  Its kind tells the element which
// GStreamer error domain and code to post (table in docs/errors.md); its
// message is a complete sentence naming the file or value at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace siamese {

enum class ErrorKind {
  kNotFound,  // a model or reference path does not exist
  kOpenRead,  // a file exists but cannot be read or decoded
  kModel,     // the model does not parse, cannot run, or gives no vector
  kSettings,  // inconsistent settings: empty reference set, bad property value
  kFormat,    // data that does not fit: embedding dimension or fingerprint mismatch
  kFrame,     // a failure while processing one frame
  kWrite,     // a file cannot be written (e.g. saving a gallery)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace siamese
