// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Outlier exposure for training: generated images of things that are no
// class at all, trained as one class of their own so that the metric learns
// to keep them away from every real class.  A watch-list camera sees mostly
// such things, and a metric trained only on real classes maps many of them
// close to some class (models/README.md, "Open set").
//
// The kinds are deliberately NOT those the open-set evaluation generates
// (impostors.h: Hershey-font digits, pixel noise and noise blobs, flat grey
// frames), so that the evaluation still measures impostors the training
// never saw: random filled and outlined shapes, pen-stroke polylines, arcs,
// stripes and checkerboards, linear grey ramps, and the training images
// themselves destroyed as objects (their 4 x 4 tiles shuffled, or their
// grey levels inverted).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataset.h"

namespace siamese::trainer {

// The class name of the outliers in a training set (with one class per
// kind, each kind's name follows it: "generated outliers: stripes").
inline constexpr const char *kOutlierClass = "generated outliers";

// How many classes the outliers make.  One keeps all of them together, away
// from every real class; one per kind (seven) also keeps the kinds apart, so
// that the metric learns more than one direction for what is no class (the
// triplet loss pulls a class together, which for outliers of every shape
// teaches little).
enum class OutlierClasses { kOne, kPerKind };

// The number of kinds (and of classes, per kind).
int outlier_kinds();

// `count` outlier images, the kinds in turn, of `source`'s size and channel
// count (the shuffled and inverted kinds take random images of `source`),
// labelled `label` (per kind: `label` plus the kind's index), drawn from
// `seed`: the same arguments give the same images.  Throws siamese::Error
// (kSettings) for an empty source or one smaller than 8 x 8 pixels.
ImageSet generate_outliers(const ImageSet &source, std::size_t count, int label, uint64_t seed,
                           OutlierClasses classes = OutlierClasses::kOne);

// The set followed by `count` outliers generated from it as new classes
// (labels from the set's class count; names from kOutlierClass).  `count` 0
// returns the set unchanged.
ImageSet with_outlier_class(const ImageSet &set, std::size_t count, uint64_t seed,
                            OutlierClasses classes = OutlierClasses::kOne);

}  // namespace siamese::trainer
