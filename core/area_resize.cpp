// SPDX-License-Identifier: LGPL-2.1-or-later
#include "area_resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <opencv2/core/hal/intrin.hpp>

namespace siamese {
namespace {

// One source index's share of one output index.
struct Tap {
  int output;
  int source;
  float weight;
};

// The weights OpenCV's computeResizeAreaTab() gives: output index d covers
// source [d * scale, (d + 1) * scale); partly covered pixels count with the
// covered fraction (slivers under 1e-3 are dropped), and each output is
// divided by the width it covers.
std::vector<Tap> area_taps(int source_size, int output_size) {
  const double scale = static_cast<double>(source_size) / output_size;
  std::vector<Tap> taps;
  taps.reserve(static_cast<std::size_t>(source_size + 2 * output_size));
  for (int d = 0; d < output_size; ++d) {
    const double begin = d * scale;
    const double end = begin + scale;
    const double cell = std::min(scale, source_size - begin);
    int first = static_cast<int>(std::ceil(begin));
    int last = static_cast<int>(std::floor(end));
    last = std::min(last, source_size - 1);
    first = std::min(first, last);
    if (first - begin > 1e-3)
      taps.push_back({d, first - 1, static_cast<float>((first - begin) / cell)});
    for (int s = first; s < last; ++s) taps.push_back({d, s, static_cast<float>(1.0 / cell)});
    if (end - last > 1e-3)
      taps.push_back({d, last, static_cast<float>(std::min(std::min(end - last, 1.0), cell) / cell)});
  }
  return taps;
}

// sum[i] += weight * row[i], sixteen bytes at a time where the CPU allows.
void add_weighted_row(const uint8_t *row, float weight, float *sum, int count) {
  int i = 0;
#if CV_SIMD128
  const cv::v_float32x4 w = cv::v_setall_f32(weight);
  for (; i + 16 <= count; i += 16) {
    cv::v_uint16x8 low, high;
    cv::v_expand(cv::v_load(row + i), low, high);
    cv::v_uint32x4 quarter[4];
    cv::v_expand(low, quarter[0], quarter[1]);
    cv::v_expand(high, quarter[2], quarter[3]);
    for (int q = 0; q < 4; ++q) {
      float *out = sum + i + 4 * q;
      const cv::v_float32x4 value = cv::v_cvt_f32(cv::v_reinterpret_as_s32(quarter[q]));
      cv::v_store(out, cv::v_muladd(value, w, cv::v_load(out)));
    }
  }
#endif
  for (; i < count; ++i) sum[i] += weight * static_cast<float>(row[i]);
}

}  // namespace

void area_shrink(const cv::Mat &image, cv::Mat &resized, cv::Size size) {
  if (image.depth() != CV_8U || image.channels() > 4 || image.empty() || size.empty() ||
      size.width > image.cols || size.height > image.rows)
    throw std::invalid_argument("area_shrink() takes a non-empty 8-bit image of 1 to 4 channels "
                                "and a smaller, non-empty size");
  const int channels = image.channels();
  const int row_values = image.cols * channels;
  const std::vector<Tap> rows = area_taps(image.rows, size.height);
  const std::vector<Tap> columns = area_taps(image.cols, size.width);

  const cv::Mat source = image;  // keeps the pixels alive if `resized` is `image`
  resized.create(size, image.type());
  std::vector<float> sum(static_cast<std::size_t>(row_values));
  std::vector<float> out(static_cast<std::size_t>(size.width) * channels);
  std::size_t tap = 0;
  for (int y = 0; y < size.height; ++y) {
    std::fill(sum.begin(), sum.end(), 0.f);
    for (; tap < rows.size() && rows[tap].output == y; ++tap)
      add_weighted_row(source.ptr<uint8_t>(rows[tap].source), rows[tap].weight, sum.data(),
                       row_values);
    std::fill(out.begin(), out.end(), 0.f);
    for (const Tap &column : columns) {
      const float *in = sum.data() + column.source * channels;
      float *o = out.data() + column.output * channels;
      for (int c = 0; c < channels; ++c) o[c] += column.weight * in[c];
    }
    uint8_t *target = resized.ptr<uint8_t>(y);
    for (std::size_t i = 0; i < out.size(); ++i) target[i] = cv::saturate_cast<uint8_t>(out[i]);
  }
}

}  // namespace siamese
