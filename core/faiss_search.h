// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The FAISS implementations of TemplateSearch (template_search.h); only
// template_search.cpp creates them.
#pragma once

#include <memory>

#include "template_search.h"

namespace siamese {

// An exact flat index, or an HNSW graph when `approximate`; inner product
// for the cosine metric, L2 for the euclidean one.
std::unique_ptr<TemplateSearch> make_faiss_search(std::shared_ptr<const ReferenceSet> references,
                                                  Metric metric, bool approximate);

}  // namespace siamese
