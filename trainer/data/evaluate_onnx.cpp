// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Evaluation of an exported model through siamese::Embedder: OpenCV DNN with
// the preprocessing the model's contract describes, as in the element.
#include <algorithm>

#include "embedder.h"
#include "evaluate_onnx.h"
#include "errors.h"

namespace siamese::trainer {

EvaluationReport evaluate_onnx(const std::string &onnx_path, const ImageSet &train,
                               const ImageSet &test, const EvaluationOptions &options,
                               int batch_size) {
  if (batch_size < 1) {
    throw Error(ErrorKind::kSettings,
                "Evaluation batch size must be positive, not " + std::to_string(batch_size) + ".");
  }
  Embedder embedder = Embedder::load(onnx_path);
  const EmbedFunction embed = [&embedder, batch_size](const ImageSet &set) {
    std::vector<cv::Mat> batches;
    for (std::size_t begin = 0; begin < set.size(); begin += batch_size) {
      std::vector<cv::Mat> images;
      for (std::size_t i = begin; i < std::min(set.size(), begin + batch_size); ++i)
        images.push_back(set.to_mat(i));
      batches.push_back(embedder.embed(images));
    }
    cv::Mat embeddings;
    if (!batches.empty()) cv::vconcat(batches, embeddings);
    return embeddings;
  };
  return evaluate(embed, onnx_path + " (OpenCV DNN)", train, test, options);
}

}  // namespace siamese::trainer
