// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the gallery loader (gallery_from_bytes, through
// load_gallery_from_fuzz_input).  Input: a gallery file (seed: a
// three-template gallery).  Every input must give a gallery or a
// siamese::Error; a loaded gallery must be consistent and save again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gallery_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
  const auto gallery = siamese::load_gallery_from_fuzz_input(
      std::string(reinterpret_cast<const char *>(data), size));
  if (!gallery) return 0;
  const siamese::ReferenceSet &set = gallery->references;
  if (set.sources().size() != set.template_labels().size() ||
      static_cast<std::size_t>(set.embeddings().rows) != set.template_labels().size())
    std::abort();
  // What loaded must save: the loader accepts nothing the writer refuses.
  try {
    siamese::gallery_to_bytes(*gallery);
  } catch (const siamese::Error &) {
    std::abort();
  }
  return 0;
}
