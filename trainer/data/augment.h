// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Light augmentation of 8-bit channel-first images (the ImageSet layout):
// a random shift (a crop of the zero-padded image) and an optional horizontal
// flip.  Deterministic for a given generator state.
#pragma once

#include <cstdint>
#include <random>

#include "dataset.h"

namespace siamese::trainer {

struct AugmentOptions {
  bool enabled = true;
  // The image moves by up to this many pixels in x and y; uncovered pixels are 0.
  int max_shift = 2;
  // Mirror left-right with probability 1/2.  Right for clothes or objects,
  // wrong for digits or text.
  bool horizontal_flip = false;
};

// Writes an augmented copy of image `index` of `set` to `out`
// (set.image_bytes() values).  With options.enabled false it is a plain copy
// and the generator is not advanced.
void augment_image(const ImageSet &set, std::size_t index, const AugmentOptions &options,
                   std::mt19937_64 &rng, uint8_t *out);

}  // namespace siamese::trainer
