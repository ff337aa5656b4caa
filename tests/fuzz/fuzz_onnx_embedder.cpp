// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the embedder's ONNX loader path (Embedder::from_bytes: the
// ONNX parser, the contract and its limits, OpenCV's importer and the probe
// forward pass), then one embedding.  Input: an ONNX file (seeds: the
// fixture models, good and bad).  Every input must give an Embedder or a
// siamese::Error; anything else escaping, or a crash, is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "embedder.h"
#include "errors.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  cv::setNumThreads(1);  // deterministic, and no worker threads per input
  // OpenCV logs every import it refuses; the findings are what matters.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
  try {
    siamese::Embedder embedder = siamese::Embedder::from_bytes(
        std::string(reinterpret_cast<const char *>(data), size), "fuzz input");
    embedder.embed(cv::Mat(9, 7, CV_8UC3, cv::Scalar(10, 200, 30)));
  } catch (const siamese::Error &) {
  }
  return 0;
}
