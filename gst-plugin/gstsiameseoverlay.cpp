// SPDX-License-Identifier: LGPL-2.1-or-later

/**
 * SECTION:element-siameseoverlay
 * @title: siameseoverlay
 *
 * Draws the results siamesematch attached to each frame onto the picture:
 * a box around each matched region (the whole frame when siamesematch
 * matched whole frames), and above it the label and the score — green when
 * a label matched, red with the best label in brackets when the result is
 * unknown.  It reads the #GstVideoRegionOfInterestMeta parameter structures
 * named `siamesematch` (gst-plugin/match_structure.h); regions without one
 * (a detector's regions siamesematch did not embed) and frames without any
 * pass unchanged.  Results carried over from an earlier frame (`fresh` =
 * FALSE, frames skipped by siamesematch's `interval`) are drawn too.
 *
 * It draws on packed RGB formats; put a videoconvert in front for others.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! facedetect display=false ! \
 *     siamesematch model=faces.onnx reference=people/ regions=regions roi-types=face ! \
 *     siameseoverlay ! videoconvert ! autovideosink
 * ]| Shows each face with its name, or "unknown".
 * |[
 * gst-launch-1.0 filesrc location=clip.avi ! decodebin ! videoconvert ! \
 *     siamesematch model=model.onnx reference=refs/ ! siameseoverlay line-width=4 ! \
 *     videoconvert ! jpegenc ! avimux ! filesink location=annotated.avi
 * ]| Writes an annotated copy of a video.
 */

// How it works, for maintainers.  An in-place GstVideoFilter: each frame is
// mapped writable, wrapped as a cv::Mat with its stride, and drawn on with
// OpenCV's rectangle and putText, the colours swapped to the format's channel
// order.  Settings (line width, text scale) are copied under the object lock
// at the start of each frame; there is no other state.

#include "gstsiameseoverlay.h"

#include <gst/video/gstvideometa.h>

#include <algorithm>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <string>

#include "element_glue.h"
#include "match_structure.h"

GST_DEBUG_CATEGORY_STATIC(gst_siamese_overlay_debug);
#define GST_CAT_DEFAULT gst_siamese_overlay_debug

// Packed 8-bit formats OpenCV draws on directly.
#define OVERLAY_FORMATS "{ BGR, RGB, BGRx, RGBx, BGRA, RGBA, xBGR, xRGB, ABGR, ARGB }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(OVERLAY_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(OVERLAY_FORMATS)));

enum {
  PROP_0,
  PROP_LINE_WIDTH,
  PROP_TEXT_SCALE,
};

#define DEFAULT_LINE_WIDTH 2
#define DEFAULT_TEXT_SCALE 0.6

namespace {

struct Settings {
  guint line_width = DEFAULT_LINE_WIDTH;
  gdouble text_scale = DEFAULT_TEXT_SCALE;
};

// Red, green, blue of what a result is drawn in.
struct Colour {
  double red, green, blue;
};
constexpr Colour kMatched{40, 200, 60};
constexpr Colour kUnknown{230, 40, 40};
constexpr Colour kText{255, 255, 255};

}  // namespace

struct _GstSiameseOverlay {
  GstVideoFilter parent;
  Settings settings;  // under the object lock
};

G_DEFINE_TYPE(GstSiameseOverlay, gst_siamese_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(siameseoverlay, "siameseoverlay", GST_RANK_NONE,
                            GST_TYPE_SIAMESE_OVERLAY)

namespace {

// The caption drawn above a result's box.
std::string caption(const siamese::MatchResult &result) {
  char score[32];
  std::snprintf(score, sizeof score, " %.2f", result.score);
  if (result.matched) return result.label + score;
  return "unknown" + (result.best_label.empty() ? "" : " (" + result.best_label + ")") + score;
}

// The pixel value of `colour` in the frame's format (channel order, alpha).
cv::Scalar pixel(const GstVideoFormatInfo *format, const Colour &colour) {
  cv::Scalar value = cv::Scalar::all(255);  // alpha, where there is one: opaque
  const double components[3] = {colour.red, colour.green, colour.blue};
  for (int c = 0; c < 3; ++c) value[GST_VIDEO_FORMAT_INFO_POFFSET(format, c)] = components[c];
  return value;
}

// Draws one result: its box, and its caption on a filled strip above the box
// (inside it when the box touches the top of the frame).
void draw_result(cv::Mat &image, const GstVideoFormatInfo *format, const cv::Rect &box,
                 const siamese::MatchResult &result, const Settings &settings) {
  const cv::Scalar colour = pixel(format, result.matched ? kMatched : kUnknown);
  const int thickness = static_cast<int>(std::max<guint>(settings.line_width, 1));
  cv::rectangle(image, box, colour, thickness);
  const std::string text = caption(result);
  int baseline = 0;
  const cv::Size size =
      cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, settings.text_scale, 1, &baseline);
  const int strip = size.height + baseline + 4;
  const int top = box.y >= strip ? box.y - strip : box.y;
  cv::rectangle(image, cv::Rect(box.x, top, size.width + 6, strip), colour, cv::FILLED);
  cv::putText(image, text, cv::Point(box.x + 3, top + size.height + 2), cv::FONT_HERSHEY_SIMPLEX,
              settings.text_scale, pixel(format, kText), 1, cv::LINE_AA);
}

Settings copy_settings(GstSiameseOverlay *self) {
  const siamese::ObjectLock lock(self);
  return self->settings;
}

}  // namespace

static GstFlowReturn gst_siamese_overlay_transform_frame_ip(GstVideoFilter *filter,
                                                            GstVideoFrame *frame) {
  auto *self = GST_SIAMESE_OVERLAY(filter);
  const Settings settings = copy_settings(self);
  const GstVideoFormatInfo *format = frame->info.finfo;
  cv::Mat image(GST_VIDEO_FRAME_HEIGHT(frame), GST_VIDEO_FRAME_WIDTH(frame),
                CV_8UC(GST_VIDEO_FRAME_COMP_PSTRIDE(frame, 0)), GST_VIDEO_FRAME_PLANE_DATA(frame, 0),
                GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0));
  gpointer iterator = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             frame->buffer, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    const auto *region = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    const auto tagged = siamese::region_result(region);
    if (!tagged) continue;
    const cv::Rect box = cv::Rect(static_cast<int>(std::min<guint>(region->x, G_MAXINT)),
                                  static_cast<int>(std::min<guint>(region->y, G_MAXINT)),
                                  static_cast<int>(std::min<guint>(region->w, G_MAXINT)),
                                  static_cast<int>(std::min<guint>(region->h, G_MAXINT))) &
                         cv::Rect(0, 0, image.cols, image.rows);
    if (box.empty()) continue;
    draw_result(image, format, box, tagged->result, settings);
  }
  return GST_FLOW_OK;
}

static void gst_siamese_overlay_set_property(GObject *object, guint property_id,
                                             const GValue *value, GParamSpec *pspec) {
  auto *self = GST_SIAMESE_OVERLAY(object);
  const siamese::ObjectLock lock(self);
  switch (property_id) {
    case PROP_LINE_WIDTH: self->settings.line_width = g_value_get_uint(value); break;
    case PROP_TEXT_SCALE: self->settings.text_scale = g_value_get_double(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, property_id, pspec); break;
  }
}

static void gst_siamese_overlay_get_property(GObject *object, guint property_id, GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_SIAMESE_OVERLAY(object);
  const siamese::ObjectLock lock(self);
  switch (property_id) {
    case PROP_LINE_WIDTH: g_value_set_uint(value, self->settings.line_width); break;
    case PROP_TEXT_SCALE: g_value_set_double(value, self->settings.text_scale); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, property_id, pspec); break;
  }
}

static void gst_siamese_overlay_class_init(GstSiameseOverlayClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->set_property = gst_siamese_overlay_set_property;
  gobject_class->get_property = gst_siamese_overlay_get_property;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_LINE_WIDTH,
      g_param_spec_uint("line-width", "Line width", "Width of the boxes, in pixels", 1, 64,
                        DEFAULT_LINE_WIDTH, flags));
  g_object_class_install_property(
      gobject_class, PROP_TEXT_SCALE,
      g_param_spec_double("text-scale", "Text scale",
                          "Size of the captions (OpenCV font scale; 1.0 is about 22 pixels high)",
                          0.1, 10.0, DEFAULT_TEXT_SCALE, flags));

  gst_element_class_set_static_metadata(
      element_class, "Siamese match overlay", "Filter/Effect/Video",
      "Draws siamesematch's results (box, label, score) onto the video",
      "The siamesematch maintainers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  GST_VIDEO_FILTER_CLASS(klass)->transform_frame_ip = gst_siamese_overlay_transform_frame_ip;
  GST_DEBUG_CATEGORY_INIT(gst_siamese_overlay_debug, "siameseoverlay", 0,
                          "Draws siamesematch results");
}

static void gst_siamese_overlay_init(GstSiameseOverlay *self) { self->settings = Settings(); }
