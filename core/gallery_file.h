// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The gallery file: a reference set saved with the fingerprint of the model
// that made its embeddings, so a restart needs no re-embedding and
// embeddings of two models are never mixed.  The format (an SQLite database
// with a fixed, versioned schema) is described in docs/gallery-format.md.
#pragma once

#include <string>

#include "reference_set.h"

namespace siamese {

struct Gallery {
  std::string fingerprint;  // model_fingerprint.h of the model that made the embeddings
  std::string model;        // path of that model when the gallery was written (informative)
  ReferenceSet references;
};

// The file's bytes; throws siamese::Error kSettings for an empty set or a
// fingerprint that is not 64 hex digits.
std::string gallery_to_bytes(const Gallery &gallery);

// Writes the gallery atomically (a crash leaves the old file or the new
// one).  Throws siamese::Error kWrite naming the path.
void save_gallery(const std::string &path, const Gallery &gallery);

// Reads and validates a gallery.  Throws siamese::Error naming the file:
//   kNotFound  no such file;
//   kOpenRead  unreadable, not a gallery (foreign file or database), from a
//              newer format version, truncated or corrupted.
Gallery load_gallery(const std::string &path);

// The same from bytes already read; `source` names them in messages.  This
// is the function the loader's fuzz target drives: it must answer every
// input with a Gallery or a siamese::Error.
Gallery gallery_from_bytes(const std::string &bytes, const std::string &source);

// Throws siamese::Error kFormat, naming both fingerprints and files, when the
// gallery was not made by the model with `model_fingerprint`.
void require_same_model(const Gallery &gallery, const std::string &gallery_path,
                        const std::string &model_fingerprint, const std::string &model_path);

}  // namespace siamese
