// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Turns a mapped video frame into an image the core's Embedder accepts
// (8-bit grey, BGR or BGRA, any size), doing as little work as possible:
// formats the Embedder takes as they are are only wrapped (no copy, the
// stride kept); every other format is first shrunk plane by plane to the
// model's input size and only then converted, so the colour conversion runs
// on a few thousand pixels instead of the whole frame.
#pragma once

#include <gst/video/video.h>

#include <opencv2/core.hpp>

#include "model_contract.h"

namespace siamese {

// The raw video formats frame_to_embedder_input() handles, for pad templates.
#define SIAMESE_VIDEO_FORMATS                                                                   \
  "{ BGR, RGB, BGRx, BGRA, RGBx, RGBA, xRGB, ARGB, xBGR, ABGR, GRAY8, I420, YV12, Y42B, Y444, " \
  "NV12, NV21 }"

// Converts `region` (pixels, inside the frame, not empty) of `frame`, which
// must be mapped and in one of SIAMESE_VIDEO_FORMATS; `model_size` is the
// network's input size.  The result may alias the frame's memory, so use it
// before unmapping.  YUV is converted with the frame's colorimetry (matrix
// and range), chroma planes being ceil(width / 2) x ceil(height / 2) for odd
// sizes.  For a grey model (`model_color` kGray) a YUV frame with the BT.601
// matrix (or none) gives its shrunk luma plane, range-expanded: that is the
// grey OpenCV computes from the frame's colours (0.299 R + 0.587 G + 0.114 B
// is Y' for that matrix) to within one level, and the chroma planes are never
// read.  Throws std::invalid_argument for another format or a bad region.
cv::Mat frame_to_embedder_input(const GstVideoFrame &frame, const cv::Rect &region,
                                cv::Size model_size, ColorOrder model_color = ColorOrder::kRgb);

}  // namespace siamese
