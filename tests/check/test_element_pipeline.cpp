// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamesematch in real pipelines built by gst_parse_launch: messages read
// from the pipeline's bus, and many NULL <-> PLAYING cycles in a row.
#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

constexpr int kFrames = 10;

class PipelineTest : public ElementTest {
 protected:
  // Runs `pipeline` to EOS (or error) and returns the labels of its siamesematch messages.
  static std::vector<std::string> run_to_eos(GstElement *pipeline) {
    EXPECT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    GstBus *bus = gst_element_get_bus(pipeline);
    std::vector<std::string> labels;
    while (GstMessage *message = gst_bus_timed_pop_filtered(
               bus, 30 * GST_SECOND,
               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
                                           GST_MESSAGE_ELEMENT))) {
      const GstMessageType type = GST_MESSAGE_TYPE(message);
      if (type == GST_MESSAGE_ELEMENT) {
        if (const auto result = match_from_structure(gst_message_get_structure(message)))
          labels.push_back(result->label);
      } else if (type == GST_MESSAGE_ERROR) {
        GError *error = nullptr;
        gst_message_parse_error(message, &error, nullptr);
        ADD_FAILURE() << error->message;
        g_error_free(error);
      }
      gst_message_unref(message);
      if (type != GST_MESSAGE_ELEMENT) break;
    }
    gst_object_unref(bus);
    EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    return labels;
  }

  static GstElement *parse(const std::string &description) {
    GError *error = nullptr;
    GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
    EXPECT_EQ(error, nullptr) << (error ? error->message : "");
    if (error) g_error_free(error);
    return pipeline;
  }

  const std::string red_pipeline_ =
      "videotestsrc pattern=red num-buffers=" + std::to_string(kFrames) + " ! " +
      element_description() + " ! fakesink";
};

// videotestsrc ! siamesematch ! fakesink posts one message per frame, labelled red.
TEST_F(PipelineTest, VideotestsrcFramesAreTagged) {
  GstElement *pipeline = parse(red_pipeline_);
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(run_to_eos(pipeline), std::vector<std::string>(kFrames, "red"));
  gst_object_unref(pipeline);
}

// The same pipeline object goes NULL -> PLAYING -> NULL many times and works each time.
TEST_F(PipelineTest, ManyStateCycles) {
  GstElement *pipeline = parse(red_pipeline_);
  ASSERT_NE(pipeline, nullptr);
  for (int cycle = 0; cycle < 15; ++cycle)
    ASSERT_EQ(run_to_eos(pipeline).size(), static_cast<std::size_t>(kFrames)) << "cycle " << cycle;
  gst_object_unref(pipeline);
}

// A converting pipeline in front (I420 at an odd size) still matches.
TEST_F(PipelineTest, OddSizedYuvFromVideotestsrc) {
  GstElement *pipeline = parse(
      "videotestsrc pattern=blue num-buffers=3 ! "
      "video/x-raw,format=I420,width=321,height=241 ! " +
      element_description() + " ! fakesink");
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(run_to_eos(pipeline), std::vector<std::string>(3, "blue"));
  gst_object_unref(pipeline);
}

}  // namespace
}  // namespace siamese::test
