// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The exact brute force.  At construction the templates are copied grouped
// by label (a stable sort, so within a label the enrolment order stays), so
// that a query is one BLAS product (sgemv for one query, sgemm for several)
// followed by one pass that takes the maximum over each label's contiguous
// rows, and a partial sort of the labels: no sort of the templates, and
// distances only for the labels returned.
//
// Every metric ranks by a key computed from the dot products: cosine ranks
// by e.t; euclidean by e.t - |t|^2 / 2 (|e - t|^2 = |e|^2 + |t|^2 - 2 e.t,
// and |e|^2 is the same for every template); learned by the head's
// probability.  Norms are kept exact, so an all-zero embedding (a black
// frame) is scored correctly.
#include "template_search.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "errors.h"
#include "faiss_search.h"

namespace siamese {
namespace {

std::vector<float> squared_norms(const cv::Mat &rows) {
  std::vector<float> norms(rows.rows);
  for (int r = 0; r < rows.rows; ++r) {
    const float *row = rows.ptr<float>(r);
    norms[r] = cblas_sdot(rows.cols, row, 1, row, 1);
  }
  return norms;
}

// The pair head with its weights transposed once to [in, out], so a layer
// is one product Z * W.
class HeadScorer {
 public:
  HeadScorer() = default;
  explicit HeadScorer(const PairHead &head) {
    for (const DenseLayer &layer : head.layers) {
      weights_.push_back(
          cv::Mat(layer.out, layer.in, CV_32F, const_cast<float *>(layer.weight.data())).t());
      biases_.push_back(
          cv::Mat(1, layer.out, CV_32F, const_cast<float *>(layer.bias.data())).clone());
    }
  }

  // The match probability of `embedding` (1 x dim) with each row of `templates`.
  std::vector<float> probabilities(const cv::Mat &templates, const cv::Mat &embedding) const {
    cv::Mat z = cv::abs(templates - cv::repeat(embedding, templates.rows, 1));
    for (std::size_t k = 0; k < weights_.size(); ++k) {
      cv::Mat next = z * weights_[k];
      for (int r = 0; r < next.rows; ++r) next.row(r) += biases_[k];
      if (k + 1 < weights_.size()) cv::max(next, 0.0, next);  // ReLU between layers
      z = next;
    }
    cv::Mat decay;
    cv::exp(-z, decay);
    const cv::Mat probabilities = 1.0 / (1.0 + decay);  // sigmoid, templates x 1
    return std::vector<float>(probabilities.begin<float>(), probabilities.end<float>());
  }

 private:
  std::vector<cv::Mat> weights_;  // per layer: [in, out]
  std::vector<cv::Mat> biases_;   // per layer: 1 x out
};

class ExactSearch : public TemplateSearch {
 public:
  ExactSearch(std::shared_ptr<const ReferenceSet> set, Metric metric, const PairHead &head)
      : TemplateSearch(std::move(set)), metric_(metric), head_(head) {
    const ReferenceSet &references = *references_;
    const auto &owners = references.template_labels();
    label_begin_.assign(references.labels().size() + 1, 0);
    for (const int owner : owners) ++label_begin_[owner + 1];
    std::partial_sum(label_begin_.begin(), label_begin_.end(), label_begin_.begin());
    set_row_.resize(owners.size());
    std::iota(set_row_.begin(), set_row_.end(), 0);
    if (std::is_sorted(owners.begin(), owners.end()) && references.embeddings().isContinuous()) {
      grouped_ = references.embeddings();  // already grouped (e.g. enrolled from a folder)
    } else {
      std::stable_sort(set_row_.begin(), set_row_.end(),
                       [&](int a, int b) { return owners[a] < owners[b]; });
      const cv::Mat &embeddings = references.embeddings();
      grouped_.create(embeddings.rows, embeddings.cols, CV_32F);
      for (std::size_t i = 0; i < set_row_.size(); ++i)
        embeddings.row(set_row_[i]).copyTo(grouped_.row(static_cast<int>(i)));
    }
    norms_ = squared_norms(grouped_);
  }

  std::vector<RankedLabels> best_labels(const cv::Mat &embeddings, int labels) const override {
    const int queries = embeddings.rows, templates = grouped_.rows, dim = grouped_.cols;
    const cv::Mat queries_mat = embeddings.isContinuous() ? embeddings : embeddings.clone();
    // Not value-initialised: BLAS overwrites every element (beta = 0).
    const std::unique_ptr<float[]> dots(new float[static_cast<std::size_t>(queries) * templates]);
    if (queries == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, templates, dim, 1.f, grouped_.ptr<float>(), dim,
                  queries_mat.ptr<float>(), 1, 0.f, dots.get(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, queries, templates, dim, 1.f,
                  queries_mat.ptr<float>(), dim, grouped_.ptr<float>(), dim, 0.f, dots.get(),
                  templates);
    const std::vector<float> query_norms = squared_norms(queries_mat);

    std::vector<RankedLabels> results(queries);
    std::vector<float> computed;  // keys other than the dot products themselves
    for (int q = 0; q < queries; ++q) {
      const float *row = dots.get() + static_cast<std::size_t>(q) * templates;
      const float *keys = row;
      if (metric_ == Metric::kEuclidean) {
        computed.resize(templates);
        for (int t = 0; t < templates; ++t) computed[t] = row[t] - 0.5f * norms_[t];
        keys = computed.data();
      } else if (metric_ == Metric::kLearned) {
        computed = head_.probabilities(grouped_, queries_mat.row(q));
        keys = computed.data();
      }
      results[q] = rank(keys, row, query_norms[q], labels);
    }
    return results;
  }

 private:
  // The `wanted` best labels by their best template's key, best first; the
  // lower label number (the name sorted first) wins a tie.  One pass over
  // the templates, keeping the running top list in order (wanted is small).
  RankedLabels rank(const float *keys, const float *dots, float query_norm, int wanted) const {
    const int label_count = static_cast<int>(label_begin_.size()) - 1;
    const std::size_t shown = std::min(std::max(wanted, 0), label_count);
    std::vector<std::pair<float, int>> top;  // (key, best template), best first
    std::vector<int> top_labels;
    top.reserve(shown + 1);
    top_labels.reserve(shown + 1);
    for (int label = 0; label < label_count && shown > 0; ++label) {
      int best = label_begin_[label];
      for (int t = best + 1; t < label_begin_[label + 1]; ++t)
        if (keys[t] > keys[best]) best = t;
      const float key = keys[best];
      if (top.size() == shown && !(key > top.back().first)) continue;
      // Later labels lose ties, so they go after equal keys.
      std::size_t at = top.size();
      while (at > 0 && key > top[at - 1].first) --at;
      top.insert(top.begin() + static_cast<std::ptrdiff_t>(at), {key, best});
      top_labels.insert(top_labels.begin() + static_cast<std::ptrdiff_t>(at), label);
      if (top.size() > shown) {
        top.pop_back();
        top_labels.pop_back();
      }
    }
    RankedLabels ranked;
    for (std::size_t i = 0; i < top.size(); ++i) {
      const int t = top[i].second;
      const double distance =
          std::sqrt(std::max(0.0, double(query_norm) + norms_[t] - 2.0 * dots[t]));
      const double score = metric_ == Metric::kCosine      ? dots[t]
                           : metric_ == Metric::kEuclidean ? -distance
                                                           : keys[t];
      ranked.push_back(
          {references_->labels()[top_labels[i]], score, distance, std::nullopt, set_row_[t]});
    }
    return ranked;
  }

  Metric metric_;
  HeadScorer head_;
  cv::Mat grouped_;               // templates grouped by label, in label order (continuous)
  std::vector<int> label_begin_;  // label l's rows: [label_begin_[l], label_begin_[l + 1])
  std::vector<float> norms_;      // squared L2 norms of grouped_'s rows
  std::vector<int> set_row_;      // per grouped_ row: its row in the reference set
};

void check_head(const PairHead &head, int dimension) {
  if (head.empty())
    throw Error(ErrorKind::kSettings,
                "The learned metric needs the pair head that siamese-train stores in a model "
                "trained in pair mode, and this model carries none: use the cosine or "
                "euclidean metric.");
  try {
    head.validate(dimension);
  } catch (const std::invalid_argument &error) {
    throw Error(ErrorKind::kFormat,
                std::string("The model's pair head does not fit its embeddings: ") + error.what() +
                    ".");
  }
}

}  // namespace

const char *to_string(SearchIndex index) {
  switch (index) {
    case SearchIndex::kExact: return "exact";
    case SearchIndex::kFaissFlat: return "faiss-flat";
    case SearchIndex::kFaissHnsw: return "faiss-hnsw";
  }
  return "exact";
}

SearchIndex search_index_from_string(const std::string &text) {
  for (const SearchIndex index :
       {SearchIndex::kExact, SearchIndex::kFaissFlat, SearchIndex::kFaissHnsw})
    if (text == to_string(index)) return index;
  throw std::invalid_argument("unknown index \"" + text +
                              "\" (expected exact, faiss-flat or faiss-hnsw)");
}

const char *to_string(Aggregate aggregate) {
  return aggregate == Aggregate::kPrototype ? "prototype" : "best";
}

Aggregate aggregate_from_string(const std::string &text) {
  for (const Aggregate aggregate : {Aggregate::kBest, Aggregate::kPrototype})
    if (text == to_string(aggregate)) return aggregate;
  throw std::invalid_argument("unknown aggregate \"" + text + "\" (expected best or prototype)");
}

std::unique_ptr<TemplateSearch> TemplateSearch::create(const ReferenceSet &references,
                                                       Metric metric, SearchIndex index,
                                                       const PairHead &head, Aggregate aggregate) {
  return create(std::make_shared<const ReferenceSet>(references), metric, index, head, aggregate);
}

std::unique_ptr<TemplateSearch> TemplateSearch::create(
    std::shared_ptr<const ReferenceSet> references, Metric metric, SearchIndex index,
    const PairHead &head, Aggregate aggregate) {
  if (references->empty())
    throw Error(ErrorKind::kSettings,
                "The reference set is empty: there is nothing to match against.");
  // Prototypes are searched like any templates, by every index and metric,
  // so the rule holds for a gallery file, runtime edits and FAISS alike.
  if (aggregate == Aggregate::kPrototype)
    references = std::make_shared<const ReferenceSet>(references->prototypes());
  if (metric == Metric::kLearned) {
    check_head(head, references->dimension());
    if (index != SearchIndex::kExact)
      throw Error(ErrorKind::kSettings,
                  std::string("The learned metric scores every template with the model's pair "
                              "head, which the ") +
                      to_string(index) + " index cannot do: use the exact index.");
  }
  if (index == SearchIndex::kExact)
    return std::make_unique<ExactSearch>(std::move(references), metric, head);
  return make_faiss_search(std::move(references), metric, index == SearchIndex::kFaissHnsw);
}

}  // namespace siamese
