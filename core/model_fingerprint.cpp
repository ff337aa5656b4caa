// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The hashed text is versioned ("v1") so that a later change of what the
// fingerprint covers gives new fingerprints instead of silently equal ones.
#include "model_fingerprint.h"

#include "digest.h"

namespace siamese {

std::string model_fingerprint(const std::string &network_digest, const Preprocessing &input) {
  const std::string text = "siamesematch model fingerprint v1\nnetwork " + network_digest +
                           "\ninput " + std::to_string(input.width) + "x" +
                           std::to_string(input.height) + " " + to_string(input.color) +
                           "\nmean " + format_triple(input.mean) + "\nscale " +
                           format_triple(input.scale) + "\n";
  return sha256_hex(text);
}

std::string short_fingerprint(const std::string &fingerprint) { return fingerprint.substr(0, 12); }

}  // namespace siamese
