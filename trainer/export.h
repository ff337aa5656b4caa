// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The ONNX export of the embedding network, written with the project's single
// ONNX writer (core/onnx_model.h) and checked by the element's own inference
// path, OpenCV DNN, before any file is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"
#include "model_contract.h"

namespace siamese::trainer {

// The largest difference between LibTorch's and OpenCV DNN's L2-normalised
// embeddings an export accepts.
constexpr double kParityTolerance = 1e-4;
// Batch sizes the parity check runs.
inline const std::vector<int> kParityBatches{1, 8};

// The pair head's weights in the contract's form.
siamese::PairHead head_weights(const PairHead &head);

// The embedding net as ONNX bytes (opset 11, dynamic batch, input "input"
// N x C x H x W normalised as the contract says, output "embedding" N x D,
// not normalised) with the contract in metadata_props; onnx::checker passed.
std::string to_onnx(EmbeddingNet net, const ModelContract &contract);

struct ParityResult {
  int batch = 0;
  double max_abs_difference = 0.0;
};

// Runs the same random inputs through LibTorch (eval mode) and through
// `onnx_bytes` loaded by OpenCV DNN; compares L2-normalised embeddings.
// Throws std::runtime_error when OpenCV cannot load or run the model.
std::vector<ParityResult> check_parity(EmbeddingNet net, const std::string &onnx_bytes,
                                       int channels, int height, int width);

// to_onnx(), check_parity() at every kParityBatches size, then an atomic
// write to `path`.  Throws std::runtime_error, naming the batch and the
// difference, and writes nothing when parity fails.  Returns the results.
std::vector<ParityResult> export_onnx(EmbeddingNet net, const ModelContract &contract,
                                      const std::string &path);

}  // namespace siamese::trainer
