// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Augmentation of 8-bit channel-first images (the ImageSet layout): a random
// shift (a crop of the zero-padded image), an optional horizontal flip,
// optionally a random zoom and rotation about the centre, and optionally the
// softening of a frame path.  Deterministic for a given generator state.
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
  // Zoom by a factor drawn from [1 - max_scale, 1 + max_scale] and rotate by
  // up to max_rotation degrees either way (bilinear; 0 where nothing maps).
  // With both 0, pixels are moved whole, with no interpolation.
  double max_scale = 0.0;
  double max_rotation = 0.0;
  // With this probability, the image takes the path of an item shown in a
  // larger frame: enlarged by a factor drawn from [kMinSoftenFactor,
  // kMaxSoftenFactor] (bicubic), then shrunk back to its size by pixel-area
  // averaging, as the element shrinks a frame or region to the model's
  // input.  That path softens edges and raises every similarity; a model
  // that never saw it judges softened frames by the wrong yardstick.
  double soften = 0.0;
};

inline constexpr double kMinSoftenFactor = 1.5, kMaxSoftenFactor = 8.0;

// Writes an augmented copy of image `index` of `set` to `out`
// (set.image_bytes() values).  With options.enabled false it is a plain copy
// and the generator is not advanced.
void augment_image(const ImageSet &set, std::size_t index, const AugmentOptions &options,
                   std::mt19937_64 &rng, uint8_t *out);

}  // namespace siamese::trainer
