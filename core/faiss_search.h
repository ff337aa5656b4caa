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
// slower).  bench-gallery prints them beside its figures (bench/README.md).
// Chosen on its clustered gallery of 10^6 templates, one graph of 16 links
// built with lists of 40 (605 s of CPU, 658 bytes per template) searched
// with lists of 128 / 256 / 384 / 512: recall@1 0.867 / 0.977 / 0.994 /
// 0.999 at 70 / 40 / 22.5 / 17 times FAISS flat's speed.  The search list,
// not the graph, was what fell short: at 128 recall falls from 0.99 at 10^5
// to 0.87 at 10^6, at 384 it stays above 0.99.  384 keeps recall@1 above
// 0.99 (target 0.95) at over twice the speed asked for (10x); a larger graph
// would add to the build time every start and reload of the gallery pays.
struct HnswSettings {
  int links;
  int build_candidates;
  int search_candidates;
};
inline constexpr HnswSettings kHnsw{16, 40, 384};

// An exact flat index, or an HNSW graph when `approximate`; inner product
// for the cosine metric, L2 for the euclidean one.
std::unique_ptr<TemplateSearch> make_faiss_search(std::shared_ptr<const ReferenceSet> references,
                                                  Metric metric, bool approximate);

// Tuning only (bench-gallery's search list sweep over one graph, which takes
// long to build at 10^6): `search`, an HNSW search made by make_faiss_search,
// searches with `candidates` from now on.  Not while another thread searches
// it.  Throws std::invalid_argument for another search or candidates < 1.
void set_hnsw_search_candidates(TemplateSearch &search, int candidates);

}  // namespace siamese
