// SPDX-License-Identifier: LGPL-2.1-or-later
//
// FAISS answers "the k nearest templates"; a label's score is its best
// template's, so the first k hits are read in order and each label counts
// at its first hit.  When they hold fewer distinct labels than asked for
// (labels with many templates), the query is repeated with four times more
// hits.  For the flat index the labels found are then exactly the best ones;
// HNSW may miss some (it is approximate).
#include "faiss_search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace siamese {
namespace {

using faiss_id = faiss::Index::idx_t;

// Hits asked for per wanted label on the first try.
constexpr int kHitsPerLabel = 4;

class FaissSearch : public TemplateSearch {
 public:
  FaissSearch(std::shared_ptr<const ReferenceSet> set, Metric metric, bool approximate)
      : TemplateSearch(std::move(set)), metric_(metric), search_candidates_(kHnsw.search_candidates) {
    const ReferenceSet &references = *references_;
    const int dim = references.dimension();
    const faiss::MetricType faiss_metric =
        metric == Metric::kCosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    if (approximate) {
      auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(dim, kHnsw.links, faiss_metric);
      hnsw->hnsw.efConstruction = kHnsw.build_candidates;
      hnsw->hnsw.efSearch = kHnsw.search_candidates;
      index_ = std::move(hnsw);
    } else if (metric == Metric::kCosine) {
      index_ = std::make_unique<faiss::IndexFlatIP>(dim);
    } else {
      index_ = std::make_unique<faiss::IndexFlatL2>(dim);
    }
    const cv::Mat embeddings = references.embeddings().isContinuous()
                                   ? references.embeddings()
                                   : references.embeddings().clone();
    index_->add(embeddings.rows, embeddings.ptr<float>());
    norms_.resize(embeddings.rows);
    for (int t = 0; t < embeddings.rows; ++t) norms_[t] = static_cast<float>(cv::norm(embeddings.row(t), cv::NORM_L2SQR));
  }

  std::vector<RankedLabels> best_labels(const cv::Mat &embeddings, int labels) const override {
    const cv::Mat queries = embeddings.isContinuous() ? embeddings : embeddings.clone();
    const faiss_id templates = index_->ntotal;
    const int wanted =
        std::min(std::max(labels, 0), static_cast<int>(references_->labels().size()));
    std::vector<RankedLabels> results(queries.rows);
    for (int q = 0; q < queries.rows; ++q) {
      const float query_norm = static_cast<float>(cv::norm(queries.row(q), cv::NORM_L2SQR));
      faiss_id hits = std::min<faiss_id>(templates, std::max(1, wanted * kHitsPerLabel));
      while (wanted > 0) {
        results[q] = search_one(queries.ptr<float>(q), query_norm, hits, wanted);
        if (static_cast<int>(results[q].size()) == wanted || hits == templates) break;
        hits = std::min<faiss_id>(templates, hits * 4);
      }
    }
    return results;
  }

  void set_search_candidates(int candidates) {
    auto *hnsw = dynamic_cast<faiss::IndexHNSW *>(index_.get());
    if (!hnsw) throw std::invalid_argument("not an HNSW search: no search candidates to set");
    if (candidates < 1)
      throw std::invalid_argument("search candidates must be 1 or more, not " +
                                  std::to_string(candidates));
    hnsw->hnsw.efSearch = candidates;
    search_candidates_ = candidates;
  }

 private:
  RankedLabels search_one(const float *query, float query_norm, faiss_id hits, int wanted) const {
    std::vector<float> values(hits);
    std::vector<faiss_id> ids(hits);
    // Debian's FAISS 1.7.3 searches with the index's own efSearch (set in
    // the constructor; measured: these parameters change neither its time
    // nor its recall); later versions take these.
    faiss::SearchParametersHNSW parameters;
    parameters.efSearch = std::max<int>(search_candidates_, static_cast<int>(hits));
    const bool hnsw = dynamic_cast<const faiss::IndexHNSW *>(index_.get()) != nullptr;
    index_->search(1, query, hits, values.data(), ids.data(), hnsw ? &parameters : nullptr);
    RankedLabels ranked;
    std::unordered_set<int> seen;
    for (faiss_id i = 0; i < hits && static_cast<int>(ranked.size()) < wanted; ++i) {
      if (ids[i] < 0) break;  // fewer hits than asked for
      const int label = references_->template_labels()[ids[i]];
      if (!seen.insert(label).second) continue;
      const double squared = metric_ == Metric::kCosine
                                 ? double(query_norm) + norms_[ids[i]] - 2.0 * values[i]
                                 : values[i];
      const double distance = std::sqrt(std::max(0.0, squared));
      const double score = metric_ == Metric::kCosine ? values[i] : -distance;
      ranked.push_back({references_->labels()[label], score, distance, std::nullopt,
                        static_cast<int>(ids[i])});
    }
    return ranked;
  }

  Metric metric_;
  int search_candidates_;  // HNSW only
  std::unique_ptr<faiss::Index> index_;
  std::vector<float> norms_;  // squared L2 norm per template
};

}  // namespace

std::unique_ptr<TemplateSearch> make_faiss_search(std::shared_ptr<const ReferenceSet> references,
                                                  Metric metric, bool approximate) {
  return std::make_unique<FaissSearch>(std::move(references), metric, approximate);
}

void set_hnsw_search_candidates(TemplateSearch &search, int candidates) {
  auto *faiss_search = dynamic_cast<FaissSearch *>(&search);
  if (!faiss_search) throw std::invalid_argument("not an HNSW search: no search candidates to set");
  faiss_search->set_search_candidates(candidates);
}

}  // namespace siamese
