// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamesematch in real pipelines built by gst_parse_launch: messages read
// from the pipeline's bus, and many NULL <-> PLAYING cycles in a row.
#include <map>

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

// Many cameras, one network: in one pipeline, instances on the same model
// file share one network, and with the same references one set; another
// model, another metric, or share=false each load their own.
TEST_F(PipelineTest, InstancesOnTheSameModelShare) {
  const std::string branch =
      "videotestsrc pattern=red num-buffers=" + std::to_string(kFrames) + " ! ";
  GstElement *pipeline = parse(
      branch + element_description("name=a") + " ! fakesink  " +
      branch + element_description("name=b") + " ! fakesink  " +
      branch + element_description("name=euclidean metric=euclidean") + " ! fakesink  " +
      branch + element_description("name=own share=false") + " ! fakesink  " +
      branch + element_description("name=grey", SIAMESE_FIXTURE_GREY_ONNX) + " ! fakesink");
  ASSERT_NE(pipeline, nullptr);
  ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_ASYNC);
  ASSERT_EQ(gst_element_get_state(pipeline, nullptr, nullptr, 30 * GST_SECOND),
            GST_STATE_CHANGE_SUCCESS);
  const auto ids = [pipeline](const char *name) {
    GstElement *element = gst_bin_get_by_name(GST_BIN(pipeline), name);
    guint64 network = 0, references = 0;
    g_object_get(element, "network-id", &network, "reference-set-id", &references, nullptr);
    gst_object_unref(element);
    return std::make_pair(network, references);
  };
  const auto a = ids("a");
  EXPECT_NE(a.first, 0u);
  EXPECT_NE(a.second, 0u);
  EXPECT_EQ(ids("b"), a);
  EXPECT_EQ(ids("euclidean").first, a.first);
  EXPECT_NE(ids("euclidean").second, a.second);
  EXPECT_NE(ids("own").first, a.first);
  EXPECT_NE(ids("own").second, a.second);
  EXPECT_NE(ids("grey").first, a.first);
  EXPECT_NE(ids("grey").second, a.second);
  // Every branch posts each frame's result; the four on the colour model see red.
  std::map<std::string, int> labels;
  const std::vector<std::string> posted = run_to_eos(pipeline);
  for (const std::string &label : posted) ++labels[label];
  EXPECT_EQ(posted.size(), 5u * kFrames);
  EXPECT_GE(labels["red"], 4 * kFrames);
  EXPECT_EQ(ids("a"), std::make_pair(guint64{0}, guint64{0}));  // stopped
  gst_object_unref(pipeline);
}

}  // namespace
}  // namespace siamese::test
