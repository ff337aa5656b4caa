// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Impostors for the open-set evaluation: images of things no reference set
// enrols, which the element must call unknown.  Debian ships no handwritten
// digit set (`apt-cache search mnist` finds only Fashion-MNIST), so digits are
// drawn with OpenCV's Hershey fonts in varied styles, strokes, sizes,
// slants and positions, white on black as MNIST shows them; beside them
// uniform noise, blurred noise blobs and flat grey frames, the frames a
// camera sees when nothing is in front of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dataset.h"

namespace siamese::trainer {

// The generated kinds, as class names of the generated set, in label order.
inline constexpr const char *kGeneratedDigits = "digits";
inline constexpr const char *kGeneratedNoise = "noise";
inline constexpr const char *kGeneratedFlat = "flat grey";

// `count` images (a third of each kind, digits taking the remainder) of
// width x height with `channels` (1 or 3) channels, drawn from `seed`: the
// same arguments give the same images.  Throws siamese::Error (kSettings)
// for a size below 8 pixels or a channel count other than 1 or 3.
ImageSet generate_impostors(std::size_t count, int width, int height, int channels, uint64_t seed);

}  // namespace siamese::trainer
