// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Shrinking an 8-bit image by area averaging, the same weights as OpenCV's
// INTER_AREA, several times faster for the large factors of a video frame
// going into a small network (640x480 -> 28x28: OpenCV 4.6 takes about
// 0.6-0.9 ms of one core for a BGR frame, most of a small model's preprocessing).
//
// OpenCV's general INTER_AREA walks every source pixel with a table of
// weights, one scalar multiply-add at a time, horizontal pass first.  Here
// the vertical pass comes first: each output row is a weighted sum of whole
// source rows (a multiply-add over contiguous bytes, which the compiler
// vectorises), so that the scalar horizontal pass runs on output rows only.
// Results agree with cv::resize(INTER_AREA) to within one grey level (the
// sums are rounded in another order).
#pragma once

#include <opencv2/core.hpp>

namespace siamese {

// `image`: CV_8UC1..CV_8UC4, any stride; `size` no larger than the image in
// either direction and not empty.  `resized` is (re)allocated as needed.
// Throws std::invalid_argument otherwise.
void area_shrink(const cv::Mat &image, cv::Mat &resized, cv::Size size);

}  // namespace siamese
