// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The trainer's evaluation protocol, shared by the LibTorch model during
// training (through an embedding callback) and by an exported ONNX model run
// through OpenCV DNN with siamese::Embedder, the element's own inference path.
// Every model figure is reported beside the raw-pixel baseline.
//
// Protocol (issue 4): Precision@1 of the test images of the seen classes
// against all training images of those classes; ROC AUC / EER on fixed-seed
// balanced pairs of seen-class test images (and of held-out test images);
// N-way K-shot episodes on the held-out classes' test images, each class
// scored by its support images as the element's `aggregate` rule does.
// Given validation images in place of the test images (data_source.h,
// closed_set_images()), the same protocol chooses settings without them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dataset.h"
#include "embedder.h"
#include "metrics.h"
#include "open_set.h"

namespace siamese::trainer {

// Images per forward pass unless a caller says otherwise.
inline constexpr int kEmbedBatch = 256;

struct EvaluationOptions {
  std::vector<int> holdout_classes;  // classes kept out of training (few-shot pool)
  std::size_t verification_pairs = 10000;
  int ways = 3;
  std::vector<int> shots{1, 5};
  int queries_per_class = 5;
  int episodes = 2000;
  uint64_t seed = 0;  // pairs and episodes
  // How the few-shot episodes score a class (metrics.h): the element's
  // default rule unless asked otherwise.
  Aggregate aggregate = decision_defaults::kAggregate;
  // Where the queries and held-out images come from, for the report: "test"
  // or "validation" (OpenSetSplit).
  std::string split = "test";
};

struct FewShotFigure {
  int ways = 0;
  int shots = 0;
  FewShotResult result;
};

// One embedding's figures.  Optional ones are absent when the data does not
// allow them (no held-out classes, fewer classes than ways).
struct EmbeddingMetrics {
  double precision_at_1 = 0.0;
  Verification seen_verification;
  std::optional<Verification> held_out_verification;
  std::vector<FewShotFigure> few_shot;
  // The same pairs scored by a learned pair head (the element's
  // metric=learned), for models that carry one; never for raw pixels.
  std::optional<Verification> seen_head_verification;
  std::optional<Verification> held_out_head_verification;
};

struct EvaluationReport {
  std::string model;  // what was evaluated (a path or a description)
  EvaluationOptions options;
  std::size_t references = 0;  // training images of the seen classes
  std::size_t queries = 0;     // test images of the seen classes
  std::size_t held_out = 0;    // test images of the held-out classes
  EmbeddingMetrics metrics;
  EmbeddingMetrics raw_pixels;
  double seconds = 0.0;  // wall time of the model's embedding and metrics
};

// Maps images to an N x D CV_32F matrix of L2-normalised rows (one per image).
using EmbedFunction = std::function<cv::Mat(const ImageSet &)>;

// Scores pairs of rows of an embedding matrix, higher = more alike (a pair
// head's match probability).
using PairScoreFunction =
    std::function<std::vector<float>(const cv::Mat &embeddings, const std::vector<Pair> &pairs)>;

// Runs the protocol on `train` / `test` (the full sets, held-out classes
// included) with `embed` and with raw pixels; with `head_scores`, the
// verification pairs are scored by the head as well.  Throws siamese::Error
// (kSettings) when a split is empty.
EvaluationReport evaluate(const EmbedFunction &embed, const std::string &model_name,
                          const ImageSet &train, const ImageSet &test,
                          const EvaluationOptions &options,
                          const PairScoreFunction &head_scores = {});

// The same protocol on an exported ONNX model through siamese::Embedder
// (throws what Embedder::load throws); a model with a pair head in its
// contract is scored through it too, by the element's siamese::Matcher.  `batch_size` images per
// forward pass.
EvaluationReport evaluate_onnx(const std::string &onnx_path, const ImageSet &train,
                               const ImageSet &test, const EvaluationOptions &options,
                               int batch_size = kEmbedBatch);

// The images of an open-set evaluation (open_set.h), before embedding.
struct OpenSetImages {
  ImageSet enrolled;  // the enrolled classes' images: galleries and mated probes
  std::vector<std::pair<std::string, ImageSet>> non_mated;  // named groups
  int frame_size = 0;  // how they reach the model (embed_set()); 0: as they are
};

// Which decisions evaluate_open_set_onnx() measures.  Empty: the element's
// default decision for the model and, for a model with a cohort, the same
// without normalisation (open_set_decisions()).
using DecisionsFor = std::function<std::vector<Decision>(const ModelContract &)>;

// The open-set protocol on an exported ONNX model: images embedded by
// siamese::Embedder, decided by siamese::Matcher, as the element does.
OpenSetReport evaluate_open_set_onnx(const std::string &onnx_path, const OpenSetImages &images,
                                     const OpenSetOptions &options,
                                     const DecisionsFor &decisions = {},
                                     int batch_size = kEmbedBatch);

// The element's decision when its decision properties are left alone, for a
// model with this contract (core's resolve_decision(), as the element does).
Decision element_default_decision(const ModelContract &contract);
std::vector<Decision> open_set_decisions(const ModelContract &contract);

// The --seed the model was trained with, from the training summary that
// siamese-train writes into it; none for a model without one (not made by
// siamese-train).  That seed split the data into the images the model
// trained on and its validation images, so only it gives a clean validation
// split.
std::optional<uint64_t> training_seed(const std::string &onnx_path);

// Embeds a set in batches through the element's Embedder.  `frame_size` N
// > 0 shows each image as an N x N frame first (enlarged with cubic
// interpolation, as the demo shows Fashion-MNIST items), which the embedder
// shrinks back as the element shrinks every frame: the softening that a frame
// path adds, which moves every similarity (models/README.md, "The frame path
// moves the operating point").  0: the images as they are.
cv::Mat embed_set(Embedder &embedder, const ImageSet &set, int batch_size = kEmbedBatch,
                  int frame_size = 0);

// The open-set images embedded (embed_set(), at their frame size), with the
// enrolled labels and class names.
OpenSetData embed_open_set(Embedder &embedder, const OpenSetImages &images,
                           int batch_size = kEmbedBatch);

// A human-readable table: each figure beside its raw-pixel baseline.
std::string format_table(const EvaluationReport &report);
// One JSON object with the same figures (for logs and model cards).
std::string to_json(const EvaluationReport &report);

}  // namespace siamese::trainer
