// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Writing files so that a crash or a full disk never leaves a half-written
// file where a good one was: write a temporary file beside the target, flush
// it to disk, then rename it over the target.
#pragma once

#include <string>
#include <string_view>

namespace siamese {

// Throws std::runtime_error naming `path` and the system error on failure;
// the target is then left as it was and no temporary file remains.
void write_file_atomically(const std::string &path, std::string_view bytes);

// Checks now that `path` can be written later, as write_file_atomically()
// writes it: `path` is not a folder, is writable when it exists, and a file
// can be created (and is removed again) in its folder.  For programs that work long before they
// write.  Throws siamese::Error (kWrite) naming `path` and the system error.
void check_writable(const std::string &path);

}  // namespace siamese
