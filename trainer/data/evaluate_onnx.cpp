// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Evaluation of an exported model through siamese::Embedder (OpenCV DNN with
// the preprocessing the model's contract describes) and, for a model with a
// pair head, siamese::Matcher: the element's own code, so the figures are the
// ones users get.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "decision_settings.h"
#include "embedder.h"
#include "errors.h"
#include "evaluate_onnx.h"
#include "matcher.h"
#include "model_contract.h"
#include "onnx_model.h"

namespace siamese::trainer {
namespace {

// The head's match probability of each pair, from a Matcher with
// metric=learned whose reference set is the pair's second image.
std::vector<float> head_probabilities(const PairHead &head, const cv::Mat &embeddings,
                                      const std::vector<Pair> &pairs) {
  const MatcherSettings settings{Metric::kLearned, 0.5, 1};
  std::vector<float> scores;
  scores.reserve(pairs.size());
  for (const Pair &pair : pairs) {
    ReferenceSet reference;
    reference.add("second", embeddings.row(static_cast<int>(pair.second)));
    const Matcher matcher(reference, settings, head);
    scores.push_back(static_cast<float>(
        matcher.match(embeddings.row(static_cast<int>(pair.first))).front().score));
  }
  return scores;
}

void check_batch_size(int batch_size) {
  if (batch_size < 1) {
    throw Error(ErrorKind::kSettings,
                "Evaluation batch size must be positive, not " + std::to_string(batch_size) + ".");
  }
}

}  // namespace

cv::Mat embed_set(Embedder &embedder, const ImageSet &set, int batch_size, int frame_size) {
  check_batch_size(batch_size);
  if (frame_size < 0)
    throw Error(ErrorKind::kSettings,
                "The frame size must be positive (or 0: none), not " + std::to_string(frame_size) +
                    ".");
  std::vector<cv::Mat> batches;
  for (std::size_t begin = 0; begin < set.size(); begin += batch_size) {
    std::vector<cv::Mat> images;
    for (std::size_t i = begin; i < std::min(set.size(), begin + batch_size); ++i)
      images.push_back(frame_size > 0 ? set.to_frame(i, frame_size) : set.to_mat(i));
    batches.push_back(embedder.embed(images));
  }
  cv::Mat embeddings;
  if (!batches.empty()) cv::vconcat(batches, embeddings);
  return embeddings;
}

OpenSetData embed_open_set(Embedder &embedder, const OpenSetImages &images, int batch_size) {
  OpenSetData data;
  data.enrolled = embed_set(embedder, images.enrolled, batch_size, images.frame_size);
  data.enrolled_labels = images.enrolled.labels;
  data.class_names = images.enrolled.class_names;
  for (const auto &[name, set] : images.non_mated)
    data.non_mated.push_back({name, embed_set(embedder, set, batch_size, images.frame_size)});
  return data;
}

Decision element_default_decision(const ModelContract &contract) {
  return {"element default", resolve_decision(DecisionRequest{}, contract)};
}

std::vector<Decision> open_set_decisions(const ModelContract &contract) {
  std::vector<Decision> decisions{element_default_decision(contract)};
  if (!contract.cohort.empty()) {
    DecisionRequest raw;
    raw.normalisation = Normalisation::kOff;
    decisions.push_back({"raw (normalise=off)", resolve_decision(raw, contract)});
  }
  if (!contract.background.empty()) {
    MatcherSettings without = resolve_decision(DecisionRequest{}, contract);
    without.background_margin = std::nullopt;
    decisions.push_back({"element default without the background rule", without});
  }
  return decisions;
}

OpenSetReport evaluate_open_set_onnx(const std::string &onnx_path, const OpenSetImages &images,
                                     const OpenSetOptions &options, const DecisionsFor &decisions,
                                     int batch_size) {
  check_batch_size(batch_size);
  Embedder embedder = Embedder::load(onnx_path);
  const OpenSetData data = embed_open_set(embedder, images, batch_size);
  const ModelContract &contract = embedder.contract();
  const std::vector<Decision> chosen =
      decisions ? decisions(contract) : open_set_decisions(contract);
  return evaluate_open_set(data, chosen, contract, options);
}

EvaluationReport evaluate_onnx(const std::string &onnx_path, const ImageSet &train,
                               const ImageSet &test, const EvaluationOptions &options,
                               int batch_size) {
  check_batch_size(batch_size);
  Embedder embedder = Embedder::load(onnx_path);
  const EmbedFunction embed = [&embedder, batch_size](const ImageSet &set) {
    return embed_set(embedder, set, batch_size);
  };
  PairScoreFunction head_scores;
  const PairHead &head = embedder.contract().head;
  if (!head.empty()) {
    head_scores = [&head](const cv::Mat &embeddings, const std::vector<Pair> &pairs) {
      return head_probabilities(head, embeddings, pairs);
    };
  }
  return evaluate(embed, onnx_path + " (OpenCV DNN)", train, test, options, head_scores);
}

std::optional<uint64_t> training_seed(const std::string &onnx_path) {
  const std::string summary =
      ModelContract::from_metadata(read_onnx_metadata(onnx_path)).training_summary;
  const nlohmann::json trained = nlohmann::json::parse(summary, nullptr, false);
  if (!trained.is_object() || !trained.contains("seed") || !trained["seed"].is_number_unsigned())
    return std::nullopt;
  return trained["seed"].get<uint64_t>();
}

}  // namespace siamese::trainer
