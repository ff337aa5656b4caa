// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The model fingerprint: one string that identifies what turns an image into
// an embedding, so embeddings of two different models are never mixed (a
// gallery file stores the fingerprint of the model that made it) and users
// of the same model can recognise each other (e.g. to share one loaded
// network).  Two embedders with the same fingerprint give the same embedding
// for the same image.
//
// It covers the network's graph and weights (the ONNX model without its
// metadata_props) and the preprocessing in force after property overrides
// (input size, colour order, mean, scale): all that changes an embedding.
// The rest of the contract (metric, thresholds, pair head, training summary,
// cohort, calibrated points, recommended decision settings)
// changes decisions, not embeddings, and is left out, so recalibrating a
// threshold does not orphan a gallery.
#pragma once

#include <string>

#include "model_contract.h"

namespace siamese {

// 64 lower-case hex digits (SHA-256).  `network_digest` is
// OnnxModelInfo::network_digest of the model.
std::string model_fingerprint(const std::string &network_digest, const Preprocessing &input);

// The first 12 hex digits, for log lines and short displays; messages about a
// mismatch show the whole fingerprint.
std::string short_fingerprint(const std::string &fingerprint);

}  // namespace siamese
