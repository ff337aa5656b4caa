// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The gallery loader's fuzz entry: any bytes in, the gallery when they are a
// valid one, nothing when the loader refused them with a siamese::Error.
// Any other exception escapes (a fuzzer reports it as a finding), as do crashes.
#pragma once

#include <optional>
#include <string>

#include "errors.h"
#include "gallery_file.h"

namespace siamese {

inline std::optional<Gallery> load_gallery_from_fuzz_input(const std::string &bytes) {
  try {
    return gallery_from_bytes(bytes, "fuzz input");
  } catch (const Error &) {
    return std::nullopt;
  }
}

}  // namespace siamese
