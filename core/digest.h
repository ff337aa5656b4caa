// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SHA-256 digests as lower-case hex, the form `sha256sum` prints, so a user
// can check a digest the project stores (a reference image's content hash,
// a model fingerprint) with standard tools.
#pragma once

#include <string>
#include <string_view>

namespace siamese {

std::string sha256_hex(std::string_view bytes);

}  // namespace siamese
