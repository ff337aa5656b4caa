// SPDX-License-Identifier: LGPL-2.1-or-later
#include "frame_conversion.h"

#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>

#include "embedder.h"

namespace siamese {
namespace {

// Used when the caps carry no YUV matrix: BT.601, GStreamer's own default for SD.
constexpr double kDefaultKr = 0.299;
constexpr double kDefaultKb = 0.114;

// The plane holding `component`, cropped to `region` (frame pixels) scaled
// to the component's subsampling: a region's first chroma sample is
// floor(x / 2), its last ceil((x + width) / 2) - 1, as for the whole frame.
cv::Mat wrap_component(const GstVideoFrame &frame, const cv::Rect &region, int component,
                       int channels) {
  const GstVideoFormatInfo *format = frame.info.finfo;
  const int plane = GST_VIDEO_FORMAT_INFO_PLANE(format, component);
  const cv::Mat whole(GST_VIDEO_FRAME_COMP_HEIGHT(&frame, component),
                      GST_VIDEO_FRAME_COMP_WIDTH(&frame, component), CV_8UC(channels),
                      GST_VIDEO_FRAME_PLANE_DATA(&frame, plane),
                      GST_VIDEO_FRAME_PLANE_STRIDE(&frame, plane));
  const int w_sub = GST_VIDEO_FORMAT_INFO_W_SUB(format, component);
  const int h_sub = GST_VIDEO_FORMAT_INFO_H_SUB(format, component);
  const int left = region.x >> w_sub;
  const int top = region.y >> h_sub;
  const int right = GST_VIDEO_SUB_SCALE(w_sub, region.x + region.width);
  const int bottom = GST_VIDEO_SUB_SCALE(h_sub, region.y + region.height);
  return whole(cv::Rect(left, top, right - left, bottom - top));
}

// Resizes exactly as the Embedder would, so that shrinking here and reordering
// channels afterwards gives the same pixels as the Embedder gets from the same
// picture in BGR (resizing treats each channel on its own).
cv::Mat shrink(const cv::Mat &image, cv::Size size) {
  cv::Mat small;
  resize_to_input(image, small, size);
  return small;
}

// Packed RGB in any byte order: BGR, BGRx and BGRA are what the Embedder
// takes; the others are shrunk, then their channels put in BGR order.
cv::Mat packed_rgb_to_input(const GstVideoFrame &frame, const cv::Rect &region,
                            cv::Size model_size) {
  const GstVideoFormatInfo *format = frame.info.finfo;
  const int pixel_bytes = GST_VIDEO_FORMAT_INFO_PSTRIDE(format, 0);
  const int red = GST_VIDEO_FORMAT_INFO_POFFSET(format, GST_VIDEO_COMP_R);
  const int green = GST_VIDEO_FORMAT_INFO_POFFSET(format, GST_VIDEO_COMP_G);
  const int blue = GST_VIDEO_FORMAT_INFO_POFFSET(format, GST_VIDEO_COMP_B);
  const cv::Mat packed = wrap_component(frame, region, GST_VIDEO_COMP_R, pixel_bytes);
  if (blue == 0 && green == 1 && red == 2) return packed;

  const cv::Mat small = shrink(packed, model_size);
  cv::Mat bgr(small.size(), CV_8UC3);
  const int from_to[] = {blue, 0, green, 1, red, 2};
  cv::mixChannels(&small, 1, &bgr, 1, from_to, 3);
  return bgr;
}

// The chroma planes at `size`, U first: planar formats have one plane per
// component, semi-planar ones (NV12, NV21) interleave U and V in one plane.
std::pair<cv::Mat, cv::Mat> shrunk_chroma(const GstVideoFrame &frame, const cv::Rect &region,
                                          cv::Size size) {
  const GstVideoFormatInfo *format = frame.info.finfo;
  if (GST_VIDEO_FORMAT_INFO_PLANE(format, GST_VIDEO_COMP_U) !=
      GST_VIDEO_FORMAT_INFO_PLANE(format, GST_VIDEO_COMP_V))
    return {shrink(wrap_component(frame, region, GST_VIDEO_COMP_U, 1), size),
            shrink(wrap_component(frame, region, GST_VIDEO_COMP_V, 1), size)};
  cv::Mat channels[2];
  cv::split(shrink(wrap_component(frame, region, GST_VIDEO_COMP_U, 2), size), channels);
  const int u = GST_VIDEO_FORMAT_INFO_POFFSET(format, GST_VIDEO_COMP_U);
  return {channels[u], channels[1 - u]};
}

// Y'CbCr -> R'G'B' with the frame's matrix (Kr, Kb) and range:
//   R = Y + 2(1 - Kr) Cr,  B = Y + 2(1 - Kb) Cb,  G = (Y - Kr R - Kb B) / (1 - Kr - Kb)
// with Y in [0, 1] and Cb, Cr in [-0.5, 0.5] after removing the range's offsets.
cv::Mat yuv_to_input(const GstVideoFrame &frame, const cv::Rect &region, cv::Size model_size) {
  double kr = kDefaultKr, kb = kDefaultKb;
  if (!gst_video_color_matrix_get_Kr_Kb(frame.info.colorimetry.matrix, &kr, &kb)) {
    kr = kDefaultKr;
    kb = kDefaultKb;
  }
  gint offset[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gst_video_color_range_offsets(frame.info.colorimetry.range, frame.info.finfo, offset, scale);

  const auto normalised = [&](const cv::Mat &plane, int component) {
    cv::Mat value;
    plane.convertTo(value, CV_32F, 1.0 / scale[component],
                    -static_cast<double>(offset[component]) / scale[component]);
    return value;
  };
  const cv::Mat y = normalised(
      shrink(wrap_component(frame, region, GST_VIDEO_COMP_Y, 1), model_size), GST_VIDEO_COMP_Y);
  const auto [u_plane, v_plane] = shrunk_chroma(frame, region, model_size);
  const cv::Mat cb = normalised(u_plane, GST_VIDEO_COMP_U);
  const cv::Mat cr = normalised(v_plane, GST_VIDEO_COMP_V);

  const cv::Mat r = y + 2.0 * (1.0 - kr) * cr;
  const cv::Mat b = y + 2.0 * (1.0 - kb) * cb;
  const cv::Mat g = (y - kr * r - kb * b) / (1.0 - kr - kb);
  cv::Mat bgr_float, bgr;
  cv::merge(std::vector<cv::Mat>{b, g, r}, bgr_float);
  bgr_float.convertTo(bgr, CV_8UC3, 255.0);
  return bgr;
}

// Grey models: the luma plane alone, when it is the grey the full conversion
// would give (the BT.601 matrix); otherwise an empty Mat.
cv::Mat luma_to_grey_input(const GstVideoFrame &frame, const cv::Rect &region,
                           cv::Size model_size) {
  double kr = kDefaultKr, kb = kDefaultKb;
  if (gst_video_color_matrix_get_Kr_Kb(frame.info.colorimetry.matrix, &kr, &kb) &&
      (kr != kDefaultKr || kb != kDefaultKb))
    return {};
  gint offset[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gst_video_color_range_offsets(frame.info.colorimetry.range, frame.info.finfo, offset, scale);
  const cv::Mat luma = shrink(wrap_component(frame, region, GST_VIDEO_COMP_Y, 1), model_size);
  const int y = GST_VIDEO_COMP_Y;
  if (offset[y] == 0 && scale[y] == 255) return luma;
  cv::Mat grey;
  luma.convertTo(grey, CV_8U, 255.0 / scale[y], -255.0 * offset[y] / scale[y]);
  return grey;
}

cv::Rect whole_frame(const GstVideoFrame &frame) {
  return cv::Rect(0, 0, GST_VIDEO_FRAME_WIDTH(&frame), GST_VIDEO_FRAME_HEIGHT(&frame));
}

}  // namespace

cv::Mat frame_to_embedder_input(const GstVideoFrame &frame, const cv::Rect &region,
                                cv::Size model_size, ColorOrder model_color) {
  const cv::Rect frame_rect = whole_frame(frame);
  if ((region & frame_rect) != region || region.empty())
    throw std::invalid_argument(
        "The region " + std::to_string(region.width) + "x" + std::to_string(region.height) + "+" +
        std::to_string(region.x) + "+" + std::to_string(region.y) + " is empty or leaves the " +
        std::to_string(frame_rect.width) + "x" + std::to_string(frame_rect.height) + " frame.");
  const GstVideoFormatInfo *format = frame.info.finfo;
  if (GST_VIDEO_FORMAT_INFO_IS_GRAY(format) && GST_VIDEO_FORMAT_INFO_BITS(format) == 8)
    return wrap_component(frame, region, GST_VIDEO_COMP_Y, 1);
  const bool eight_bit =
      GST_VIDEO_FORMAT_INFO_BITS(format) == 8 && GST_VIDEO_FORMAT_INFO_DEPTH(format, 0) == 8;
  if (eight_bit && GST_VIDEO_FORMAT_INFO_IS_RGB(format) &&
      GST_VIDEO_FORMAT_INFO_N_PLANES(format) == 1)
    return packed_rgb_to_input(frame, region, model_size);
  if (eight_bit && GST_VIDEO_FORMAT_INFO_IS_YUV(format) &&
      GST_VIDEO_FORMAT_INFO_N_PLANES(format) > 1) {
    if (model_color == ColorOrder::kGray) {
      cv::Mat grey = luma_to_grey_input(frame, region, model_size);
      if (!grey.empty()) return grey;
    }
    return yuv_to_input(frame, region, model_size);
  }
  throw std::invalid_argument(std::string("The video format ") +
                              GST_VIDEO_FORMAT_INFO_NAME(format) + " is not supported.");
}

}  // namespace siamese
