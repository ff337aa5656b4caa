// SPDX-License-Identifier: LGPL-2.1-or-later
#include "augment.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace siamese::trainer {

void augment_image(const ImageSet &set, std::size_t index, const AugmentOptions &options,
                   std::mt19937_64 &rng, uint8_t *out) {
  const uint8_t *source = set.image(index);
  if (!options.enabled) {
    std::copy(source, source + set.image_bytes(), out);
    return;
  }
  if (options.max_shift < 0) {
    throw Error(ErrorKind::kSettings, "Augmentation shift must not be negative, not " +
                                          std::to_string(options.max_shift) + ".");
  }
  std::uniform_int_distribution<int> shift(-options.max_shift, options.max_shift);
  const int dx = shift(rng);
  const int dy = shift(rng);
  const bool flip = options.horizontal_flip && std::bernoulli_distribution(0.5)(rng);
  const int width = set.width;
  const int height = set.height;
  // out(x, y) = source(x - dx, y - dy), read mirrored when flipping; pixels
  // shifted in from outside the image are 0 (the zero padding of the crop).
  for (int c = 0; c < set.channels; ++c) {
    const uint8_t *plane = source + static_cast<std::size_t>(c) * height * width;
    for (int y = 0; y < height; ++y) {
      const int sy = y - dy;
      for (int x = 0; x < width; ++x) {
        const int sx = x - dx;
        const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        *out++ = inside ? plane[sy * width + (flip ? width - 1 - sx : sx)] : 0;
      }
    }
  }
}

}  // namespace siamese::trainer
