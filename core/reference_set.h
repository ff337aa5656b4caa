// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A set of labelled reference embeddings ("templates"), enrolled from a
// folder <root>/<label>/*.{png,jpg,jpeg,bmp} through the same Embedder that
// embeds frames.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace siamese {

class Embedder;

class ReferenceSet {
 public:
  // What enrolment did, so the element can log or warn about it.
  struct Report {
    std::vector<std::string> skipped;  // "path: reason" for images that failed to decode
  };

  // Enrols every image in every label folder under `root`.  Images that fail
  // to decode are skipped and listed in the report; throws siamese::Error:
  //   kNotFound (root missing), kOpenRead (root not a readable folder),
  //   kSettings (no label folder holds a decodable image).
  static ReferenceSet enroll_folder(const std::string &root, Embedder &embedder,
                                    Report *report = nullptr);

  void add(const std::string &label, const cv::Mat &embedding_row);

  const std::vector<std::string> &labels() const;       // distinct labels, sorted
  const cv::Mat &embeddings() const;                    // templates x dim, CV_32F, rows normalised
  const std::vector<int> &template_labels() const;      // index into labels() per template row
  bool empty() const;
  int dimension() const;

 private:
  std::vector<std::string> labels_;
  std::vector<int> template_labels_;
  cv::Mat embeddings_;
};

}  // namespace siamese
