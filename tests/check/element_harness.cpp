// SPDX-License-Identifier: LGPL-2.1-or-later
#include "element_harness.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "match_structure.h"

namespace siamese::test {

std::string element_description(const std::string &extra, const std::string &model,
                                const std::string &reference) {
  return "siamesematch model=\"" + model + "\" reference=\"" + reference + "\" " + extra;
}

MatchHarness::MatchHarness(const std::string &description, const std::string &caps)
    : MatchHarness(gst_harness_new_parse(description.c_str()), caps) {}

// `element` with its floating reference (as gst_parse_launch() returns it)
// turned into an ordinary one, so that it can be dropped after use.
static GstElement *sunk(GstElement *element) {
  if (g_object_is_floating(element)) gst_object_ref_sink(element);
  return element;
}

MatchHarness::MatchHarness(GstElement *element, const std::string &caps)
    : MatchHarness(gst_harness_new_with_element(sunk(element), "sink", "src"), caps) {
  gst_object_unref(element);  // the harness holds its own reference
}

MatchHarness::MatchHarness(GstHarness *made, const std::string &caps)
    : harness(made), bus(gst_bus_new()) {
  gst_element_set_bus(harness->element, bus);
  if (!caps.empty()) gst_harness_set_src_caps_str(harness, caps.c_str());
  gst_harness_play(harness);
}

MatchHarness::~MatchHarness() {
  // Queued messages hold references to the elements, which hold the bus:
  // drop them, or neither would ever be freed.
  gst_bus_set_flushing(bus, TRUE);
  gst_harness_teardown(harness);
  gst_object_unref(bus);
}

void MatchHarness::set_caps(const GstVideoInfo &info) {
  GstVideoInfo copy = info;
  gst_harness_set_src_caps(harness, gst_video_info_to_caps(&copy));
}

GstBuffer *MatchHarness::push_and_pull(GstBuffer *buffer) {
  return gst_harness_push_and_pull(harness, buffer);
}

std::vector<GstStructure *> MatchHarness::take_messages() {
  std::vector<GstStructure *> structures;
  while (GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure *structure = gst_message_get_structure(message);
    if (gst_structure_has_name(structure, kMatchStructureName))
      structures.push_back(gst_structure_copy(structure));
    gst_message_unref(message);
  }
  return structures;
}

int count_and_free(std::vector<GstStructure *> messages) {
  for (GstStructure *structure : messages) gst_structure_free(structure);
  return static_cast<int>(messages.size());
}

GstVideoInfo video_info(GstVideoFormat format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, width, height);
  return info;
}

GstVideoInfo video_info_with_strides(GstVideoFormat format, int width, int height, int extra) {
  GstVideoInfo info = video_info(format, width, height);
  gsize offset = 0;
  for (guint plane = 0; plane < GST_VIDEO_INFO_N_PLANES(&info); ++plane) {
    gint components[GST_VIDEO_MAX_COMPONENTS];
    gst_video_format_info_component(info.finfo, plane, components);
    const int first = components[0];
    const int row_bytes =
        GST_VIDEO_INFO_COMP_WIDTH(&info, first) * GST_VIDEO_INFO_COMP_PSTRIDE(&info, first);
    info.stride[plane] = row_bytes + extra;
    info.offset[plane] = offset;
    offset += static_cast<gsize>(info.stride[plane]) * GST_VIDEO_INFO_COMP_HEIGHT(&info, first);
  }
  info.size = offset;
  return info;
}

GstBuffer *make_frame(const cv::Mat &bgr, const GstVideoInfo &info_in) {
  GstVideoInfo info = info_in;
  GstVideoInfo source_info = video_info(GST_VIDEO_FORMAT_BGR, bgr.cols, bgr.rows);
  GstBuffer *source = gst_buffer_new_allocate(nullptr, source_info.size, nullptr);
  GstVideoFrame source_frame;
  gst_video_frame_map(&source_frame, &source_info, source, GST_MAP_WRITE);
  bgr.copyTo(cv::Mat(bgr.rows, bgr.cols, CV_8UC3, GST_VIDEO_FRAME_PLANE_DATA(&source_frame, 0),
                     GST_VIDEO_FRAME_PLANE_STRIDE(&source_frame, 0)));

  GstBuffer *frame = gst_buffer_new_allocate(nullptr, info.size, nullptr);
  gst_buffer_add_video_meta_full(frame, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&info),
                                 GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info),
                                 GST_VIDEO_INFO_N_PLANES(&info), info.offset, info.stride);
  GstVideoFrame target_frame;
  gst_video_frame_map(&target_frame, &info, frame, GST_MAP_WRITE);
  GstVideoConverter *converter = gst_video_converter_new(
      &source_info, &info,
      gst_structure_new("options", GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
                        GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE, nullptr));
  gst_video_converter_frame(converter, &source_frame, &target_frame);
  gst_video_converter_free(converter);
  gst_video_frame_unmap(&target_frame);
  gst_video_frame_unmap(&source_frame);
  gst_buffer_unref(source);
  return frame;
}

cv::Mat solid_bgr(int width, int height, int red, int green, int blue) {
  return cv::Mat(height, width, CV_8UC3, cv::Scalar(blue, green, red));
}

cv::Mat textured_bgr(int width, int height) {
  cv::Mat noise(height, width, CV_8UC3);
  cv::RNG rng(20261128);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 96);
  cv::Mat gradient(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      gradient.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(x * 150 / width), 60, static_cast<uchar>(y * 150 / height));
  return gradient + noise;
}

std::optional<TaggedResult> region_result(const GstVideoRegionOfInterestMeta *region) {
  const auto tagged = siamese::region_result(region);
  if (!tagged) return std::nullopt;
  return TaggedResult{tagged->result, tagged->fresh, region->x, region->y, region->w, region->h,
                      tagged->timestamp};
}

std::optional<TaggedResult> tagged_result(GstBuffer *buffer) {
  gpointer iterator = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    const auto *region = reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta);
    if (region->roi_type == g_quark_from_string(kMatchStructureName)) return region_result(region);
  }
  return std::nullopt;
}

GError *start_error(const std::string &description, std::vector<std::string> *warnings) {
  GError *parse_error = nullptr;
  GstElement *element = gst_parse_launch(description.c_str(), &parse_error);
  if (!element) return parse_error;
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(element, bus);
  gst_element_set_state(element, GST_STATE_PLAYING);
  gst_element_get_state(element, nullptr, nullptr, GST_CLOCK_TIME_NONE);
  GError *error = nullptr;
  while (GstMessage *message = gst_bus_pop(bus)) {
    GError *posted = nullptr;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR && !error) {
      gst_message_parse_error(message, &error, nullptr);
    } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING && warnings) {
      gst_message_parse_warning(message, &posted, nullptr);
      warnings->push_back(posted->message);
      g_error_free(posted);
    }
    gst_message_unref(message);
  }
  gst_element_set_state(element, GST_STATE_NULL);
  gst_element_set_bus(element, nullptr);
  gst_object_unref(bus);
  gst_object_unref(element);
  return error;
}

}  // namespace siamese::test
