// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The FAISS implementations of TemplateSearch (template_search.h); only
// template_search.cpp creates them.
#pragma once

#include <memory>

#include "template_search.h"

namespace siamese {

// The HNSW graph behind index=faiss-hnsw: links per node, and the candidate
// list lengths when building and when searching (larger: better recall,
// slower).  bench/gallery prints them beside its figures; measured at 10^6
// clustered templates: 57.7x faster than flat, recall@1 0.86 (short of the
// 0.95 aimed at; bench/README.md says what to try next).
struct HnswSettings {
  int links;
  int build_candidates;
  int search_candidates;
};
inline constexpr HnswSettings kHnsw{16, 40, 128};

// An exact flat index, or an HNSW graph when `approximate`; inner product
// for the cosine metric, L2 for the euclidean one.
std::unique_ptr<TemplateSearch> make_faiss_search(std::shared_ptr<const ReferenceSet> references,
                                                  Metric metric, bool approximate);

}  // namespace siamese
