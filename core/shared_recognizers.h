// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Many cameras, one network.  An appliance runs one element per camera in
// one process, usually all on the same model and the same watch-list; each
// loading its own network and its own reference set would multiply the
// memory by the number of cameras.  This process-wide registry lets users
// find what another user has already loaded:
//
// * users asking for the same model share one loaded network (one
//   SharedEmbedder: its forward passes run one at a time, see recognizer.h);
// * users asking for the same model, the same reference sources and the
//   same search share one Recognizer (one reference set, one index).
//
// "The same" is decided from the files, not from their names: a model is
// the same when its canonical path, size, modification time and fingerprint
// (graph, weights and the preprocessing in force) are; a reference folder
// when every image in it has the same relative path, size and modification
// time; a gallery file as a model file.  A file changed since another user
// loaded it is therefore loaded again, never taken stale from the registry.
//
// The registry holds weak references only: what the last user releases is
// freed, as without sharing.  A user that changes its set (an enrolment, a
// removal) gets a Recognizer of its own (Recognizer::with_references), so
// the others never see the change.  Thread-safe; loading and building run
// without the registry's lock, so a slow build delays nobody else.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "recognizer.h"

namespace siamese {

// The network of the ONNX file `path` with `overrides`, loaded once for all
// its users.  Throws what Embedder::load throws.
std::shared_ptr<SharedEmbedder> shared_model(const std::string &path,
                                             const ContractOverrides &overrides);

// Recognizer::build(spec), or the Recognizer another user built from the same
// files and settings (with the report of that build).  Throws what
// Recognizer::build throws.
std::shared_ptr<const Recognizer> shared_recognizer(const RecognizerSpec &spec,
                                                    Recognizer::Report *report = nullptr);

// How many networks and recognizers the registry holds alive now: what the
// process has loaded for its users, each counted once however many share it.
struct SharedCounts {
  std::size_t models = 0;
  std::size_t recognizers = 0;
};
SharedCounts shared_counts();

}  // namespace siamese
