// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SEARCH: how a query embedding is scored against every template of a
// reference set.  A label's score is the score of its best template, and its
// distance the L2 distance to that same template (LabelScore::template_row
// says which).  With Aggregate::kPrototype the templates searched are the
// labels' prototypes (ReferenceSet::prototypes()), one per label, instead of
// the enrolled ones.  What to make of the ranked labels (thresholds and
// other rules) is DECIDE's job (matcher.h).
//
// One interface, three implementations chosen by SearchIndex:
//   kExact       our brute force: every template scored by one matrix
//                product (BLAS), the best template per label without sorting
//                the templates.  Every metric.  The default.
//   kFaissFlat   FAISS's exact flat index (inner product, or L2 for the
//                euclidean metric).  Same results as kExact.
//   kFaissHnsw   FAISS's HNSW graph: approximate (may miss the true best
//                label), much faster on very large sets.
// The learned metric scores each template with the pair head, which only
// the exact brute force can do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "match_result.h"
#include "model_contract.h"
#include "reference_set.h"

namespace siamese {

enum class SearchIndex { kExact, kFaissFlat, kFaissHnsw };

const char *to_string(SearchIndex index);
// Throws std::invalid_argument naming the value and the accepted ones.
SearchIndex search_index_from_string(const std::string &text);

// How a label's templates make its score:
//   kBest       each template counts alone: the label scores as its best one
//               (one close enrolled image is enough);
//   kPrototype  the label scores as its prototype, the mean of its
//               L2-normalised templates normalised again (every enrolled
//               image has a say; one odd image weighs less).
enum class Aggregate { kBest, kPrototype };

const char *to_string(Aggregate aggregate);
// Throws std::invalid_argument naming the value and the accepted ones.
Aggregate aggregate_from_string(const std::string &text);

// Labels of one query, best first (ties broken by label name).
using RankedLabels = std::vector<LabelScore>;

class TemplateSearch {
 public:
  // Throws siamese::Error: kSettings for an empty set, the learned metric
  // without a head or with an approximate index; kFormat when the head does
  // not take the set's embeddings.
  static std::unique_ptr<TemplateSearch> create(std::shared_ptr<const ReferenceSet> references,
                                                Metric metric, SearchIndex index,
                                                const PairHead &head = {},
                                                Aggregate aggregate = Aggregate::kBest);
  // The same for a copy of `references`.
  static std::unique_ptr<TemplateSearch> create(const ReferenceSet &references, Metric metric,
                                                SearchIndex index, const PairHead &head = {},
                                                Aggregate aggregate = Aggregate::kBest);
  virtual ~TemplateSearch() = default;

  // For each row of `embeddings` (N x dimension, CV_32F, finite), its
  // `labels` best labels (fewer when the set has fewer).  Safe to call from
  // several threads at once.
  virtual std::vector<RankedLabels> best_labels(const cv::Mat &embeddings, int labels) const = 0;

  // The templates searched (the prototypes with Aggregate::kPrototype):
  // the rows LabelScore::template_row indexes.
  const ReferenceSet &references() const { return *references_; }

 protected:
  explicit TemplateSearch(std::shared_ptr<const ReferenceSet> references)
      : references_(std::move(references)) {}
  std::shared_ptr<const ReferenceSet> references_;
};

}  // namespace siamese
