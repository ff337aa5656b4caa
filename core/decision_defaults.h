// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The element's decision defaults: what applies where neither a property
// nor the model (ModelContract::calibrated, ::recommended) says otherwise.
// They live here, and only here, so that a measurement can change them in
// one place (models/README.md holds the measurements behind them).
#pragma once

#include "template_search.h"

namespace siamese::decision_defaults {

// The false-accept rate whose calibrated threshold the element uses: a
// watch-list wants few strangers accepted (1 % of never-enrolled frames).
constexpr double kFalseAcceptRate = 0.01;
// How far the best label's score must beat the second's; 0 = no margin rule.
// Models that measured a better one recommend it (siamese.decision.margin).
constexpr double kMargin = 0.0;
// How many of an embedding's most similar cohort members give its mean and
// spread: the setting of the first measurement (20 nearest of 1,000).
constexpr int kCohortTop = 20;
// The normalised score's threshold, in spreads, for a model with a cohort
// but no calibrated threshold for it.
constexpr double kNormalisedThreshold = 2.0;
// How a label's enrolled images make its score (a search setting, chosen by
// measurement like the rest: models/README.md, "Best image or prototype").
constexpr Aggregate kAggregate = Aggregate::kBest;
// Frames a region (or the whole frame) must agree on before a label, or
// unknown, is declared; 1 = every frame decides alone.  Measured on mixed
// streams of validation items (docs/open-set.md): more frames cut no false
// accepts and cost right labels and delay, so every frame decides alone.
constexpr int kConfirmFrames = 1;
// Regions of consecutive frames with at least this overlap (intersection
// over union) are taken for the same object.
constexpr double kConfirmOverlap = 0.3;

}  // namespace siamese::decision_defaults
