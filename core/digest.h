// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SHA-256 digests as lower-case hex, the form `sha256sum` prints, so a user
// can check a digest the project stores (a reference image's content hash,
// a model fingerprint) with standard tools.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace siamese {

std::string sha256_hex(std::string_view bytes);

// The same over data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;
  void update(std::string_view bytes);
  // The digest of everything added; the object is then reset.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace siamese
