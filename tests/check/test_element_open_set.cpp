// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamesematch's open-set decisions, on solid-colour frames embedded by the
// mean-colour fixtures: the model's calibrated thresholds picked by
// false-accept-rate, normalisation against the model's cohort (and its
// absence for models without one), the margin, the reserved _background
// label (from a folder and from an enrolment), confirmation over frames for
// the whole frame and for regions, its reset on flush, and the properties.
#include "decision_defaults.h"
#include "element_harness.h"
#include "match_structure.h"

namespace siamese::test {
namespace {

constexpr int kWidth = 64;
constexpr int kHeight = 48;
const std::string kCaps = "video/x-raw,format=BGR,width=64,height=48,framerate=25/1";

class OpenSetTest : public ElementTest {
 protected:
  static std::string cohort_description(const std::string &extra = "",
                                        const std::string &reference =
                                            SIAMESE_FIXTURE_REFERENCES_DIR) {
    return element_description(extra, SIAMESE_FIXTURE_MEAN_COLOUR_COHORT_ONNX, reference);
  }

  // The whole-frame result of a solid frame of the colour.
  static MatchResult result_of(MatchHarness &matcher, int red, int green, int blue) {
    GstBuffer *out = matcher.push_and_pull(make_frame(
        solid_bgr(kWidth, kHeight, red, green, blue), video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight)));
    const auto tagged = tagged_result(out);
    gst_buffer_unref(out);
    EXPECT_TRUE(tagged.has_value());
    return tagged ? tagged->result : MatchResult{};
  }

  static GstElement *element_of(MatchHarness &matcher) {
    return gst_harness_find_element(matcher.harness, "siamesematch");
  }

  // Sets a double property of the running element (it applies on the next frame).
  static void set_double(MatchHarness &matcher, const char *name, double value) {
    GstElement *element = element_of(matcher);
    g_object_set(element, name, value, nullptr);
    gst_object_unref(element);
  }

  static std::string start_error_text(const std::string &description) {
    GError *error = start_error(description);
    if (!error) return "";
    std::string text = error->message;
    const bool settings = error->domain == GST_RESOURCE_ERROR &&
                          error->code == GST_RESOURCE_ERROR_SETTINGS;
    g_error_free(error);
    return settings ? text : "not a settings error: " + text;
  }
};

// With a cohort the model's normalised point at 1 % applies by default; the
// result carries the normalised score and threshold.
TEST_F(OpenSetTest, CohortModelNormalisesWithItsCalibratedThresholds) {
  MatchHarness matcher(cohort_description(), kCaps);
  const MatchResult red = result_of(matcher, 255, 0, 0);
  EXPECT_EQ(red.label, "red");
  EXPECT_EQ(red.reason, Reason::kMatched);
  EXPECT_NEAR(red.threshold, 0.9, 1e-6);
  ASSERT_TRUE(red.normalised_threshold.has_value());
  EXPECT_NEAR(*red.normalised_threshold, -50.0, 1e-6);
  ASSERT_TRUE(red.normalised_score.has_value());
  ASSERT_FALSE(red.top.empty());
  EXPECT_TRUE(red.top.front().normalised_score.has_value());
}

// false-accept-rate picks the point calibrated at the largest rate not above
// it; normalise=off the raw point; an explicit threshold overrides both.
TEST_F(OpenSetTest, FalseAcceptRatePicksTheCalibratedThreshold) {
  MatchHarness matcher(cohort_description("false-accept-rate=0.005"), kCaps);
  MatchResult red = result_of(matcher, 255, 0, 0);
  EXPECT_NEAR(red.threshold, 0.98, 1e-6);
  EXPECT_NEAR(red.normalised_threshold.value_or(0), -40.0, 1e-6);
  GstElement *element = element_of(matcher);
  g_object_set(element, "false-accept-rate", 0.01, nullptr);
  EXPECT_NEAR(result_of(matcher, 255, 0, 0).threshold, 0.9, 1e-6);
  g_object_set(element, "threshold", 0.5, "normalised-threshold", 1.5, nullptr);
  red = result_of(matcher, 255, 0, 0);
  EXPECT_NEAR(red.threshold, 0.5, 1e-6);
  EXPECT_NEAR(red.normalised_threshold.value_or(0), 1.5, 1e-6);
  gst_object_unref(element);

  MatchHarness raw(cohort_description("normalise=off"), kCaps);
  red = result_of(raw, 255, 0, 0);
  EXPECT_NEAR(red.threshold, 0.96, 1e-6);
  EXPECT_FALSE(red.normalised_score.has_value());
  EXPECT_FALSE(red.normalised_threshold.has_value());
}

// A normalised threshold no frame reaches makes even a perfect raw match
// unknown (below-threshold): both thresholds must pass.
TEST_F(OpenSetTest, NormalisedThresholdMustPassToo) {
  MatchHarness matcher(cohort_description("normalised-threshold=1000"), kCaps);
  const MatchResult red = result_of(matcher, 255, 0, 0);
  EXPECT_NEAR(red.score, 1.0, 1e-5);
  EXPECT_FALSE(red.matched);
  EXPECT_EQ(red.label, "");
  EXPECT_EQ(red.reason, Reason::kBelowThreshold);
  EXPECT_EQ(red.best_label, "red");
}

// A model without a cohort decides as before (no normalised fields, the
// equal-error threshold); normalise=on with it is a settings error naming the cohort.
TEST_F(OpenSetTest, ModelWithoutCohort) {
  MatchHarness matcher(element_description(), kCaps);
  const MatchResult red = result_of(matcher, 255, 0, 0);
  EXPECT_EQ(red.label, "red");
  EXPECT_NEAR(red.threshold, 0.95, 1e-6);
  EXPECT_FALSE(red.normalised_score.has_value());
  EXPECT_FALSE(red.normalised_threshold.has_value());
  EXPECT_NE(start_error_text(element_description("normalise=on")).find("cohort"),
            std::string::npos);
  EXPECT_EQ(start_error_text(cohort_description("normalise=on")), "");
}

// The cohort model's background is orange.  An orange frame's best label,
// yellow (0.954), falls 0.046 short of the background (1.0): background-margin
// 0 makes it unknown (background), -0.1 lets it through.  Red stands 0.106
// clear of orange and passes.  The rule is off by default (the model
// recommends no margin); every result carries the background's score.  A
// margin with a model that has no background is a settings error.
TEST_F(OpenSetTest, ModelBackgroundMarginMakesUnknown) {
  MatchHarness matcher(cohort_description("background-margin=0"), kCaps);
  MatchResult orange = result_of(matcher, 255, 128, 0);
  EXPECT_EQ(orange.best_label, "yellow");
  EXPECT_EQ(orange.reason, Reason::kBackground);
  EXPECT_EQ(orange.label, "");
  ASSERT_TRUE(orange.background_score.has_value());
  EXPECT_NEAR(*orange.background_score, 1.0, 1e-5);
  EXPECT_EQ(result_of(matcher, 255, 0, 0).label, "red");
  set_double(matcher, "background-margin", -0.1);
  EXPECT_EQ(result_of(matcher, 255, 128, 0).label, "yellow");

  MatchHarness by_default(cohort_description(), kCaps);
  orange = result_of(by_default, 255, 128, 0);
  EXPECT_EQ(orange.label, "yellow");
  EXPECT_TRUE(orange.background_score.has_value());

  EXPECT_NE(start_error_text(element_description("background-margin=0")).find("background"),
            std::string::npos);
}

// Orange (255, 128, 0): best yellow 0.954 (its shade 230, 220, 20), second
// red 0.926 (230, 20, 20).  A margin of 0.1 makes it ambiguous; 0.01 lets
// yellow through.
TEST_F(OpenSetTest, MarginMakesCloseCallsAmbiguous) {
  MatchHarness matcher(element_description("threshold=0.5 margin=0.1"), kCaps);
  MatchResult orange = result_of(matcher, 255, 128, 0);
  EXPECT_EQ(orange.best_label, "yellow");
  EXPECT_EQ(orange.reason, Reason::kAmbiguous);
  EXPECT_EQ(orange.label, "");
  set_double(matcher, "margin", 0.01);
  orange = result_of(matcher, 255, 128, 0);
  EXPECT_EQ(orange.reason, Reason::kMatched);
  EXPECT_EQ(orange.label, "yellow");
}

// Grey frames match the _background folder's greys: unknown, reason
// background, never the label "_background"; colours still get theirs.
TEST_F(OpenSetTest, BackgroundFolderMeansUnknown) {
  MatchHarness matcher(element_description("", SIAMESE_FIXTURE_MEAN_COLOUR_ONNX,
                                           SIAMESE_FIXTURE_REFERENCES_BACKGROUND_DIR),
                       kCaps);
  const MatchResult grey = result_of(matcher, 150, 150, 150);
  EXPECT_EQ(grey.best_label, "_background");
  EXPECT_FALSE(grey.matched);
  EXPECT_EQ(grey.label, "");
  EXPECT_EQ(grey.frame_label, "");
  EXPECT_EQ(grey.reason, Reason::kBackground);
  EXPECT_EQ(result_of(matcher, 0, 255, 0).label, "green");
  // Without the folder the same grey is merely below the threshold.
  MatchHarness plain(element_description(), kCaps);
  EXPECT_EQ(result_of(plain, 150, 150, 150).reason, Reason::kBelowThreshold);
}

// The enroll action takes the background label like any other: at
// threshold 0.5 grey is yellow (0.82) until a grey is enrolled as background.
TEST_F(OpenSetTest, BackgroundCanBeEnrolled) {
  MatchHarness matcher(element_description("threshold=0.5"), kCaps);
  EXPECT_EQ(result_of(matcher, 150, 150, 150).label, "yellow");
  GstElement *element = element_of(matcher);
  const std::string image =
      std::string(SIAMESE_FIXTURE_REFERENCES_BACKGROUND_DIR) + "/_background/grey_128.png";
  gboolean enrolled = FALSE;
  g_signal_emit_by_name(element, "enroll", "_background", image.c_str(), &enrolled);
  gst_object_unref(element);
  EXPECT_TRUE(enrolled);
  const MatchResult grey = result_of(matcher, 150, 150, 150);
  EXPECT_EQ(grey.best_label, "_background");
  EXPECT_EQ(grey.reason, Reason::kBackground);
  EXPECT_EQ(grey.label, "");
  EXPECT_EQ(result_of(matcher, 255, 0, 0).label, "red");
}

// confirm-frames=3 on the whole frame: two unconfirmed frames, then red;
// a single green frame leaves red declared; with messages=on-change only the
// declared changes post (unknown at first, then red).
TEST_F(OpenSetTest, ConfirmFramesOnTheWholeFrame) {
  MatchHarness matcher(element_description("confirm-frames=3 messages=on-change"), kCaps);
  std::vector<std::string> labels;
  std::vector<Reason> reasons;
  for (const auto &[r, g, b] : {std::tuple{255, 0, 0}, {255, 0, 0}, {255, 0, 0}, {0, 255, 0},
                                {255, 0, 0}, {255, 0, 0}}) {
    const MatchResult result = result_of(matcher, r, g, b);
    labels.push_back(result.label);
    reasons.push_back(result.reason);
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"", "", "red", "red", "red", "red"}));
  EXPECT_EQ(reasons, (std::vector<Reason>{Reason::kUnconfirmed, Reason::kUnconfirmed,
                                          Reason::kMatched, Reason::kUnconfirmed,
                                          Reason::kMatched, Reason::kMatched}));
  std::vector<std::string> posted;
  for (GstStructure *structure : matcher.take_messages()) {
    const auto result = match_from_structure(structure);
    posted.push_back(result ? result->label : "?");
    gst_structure_free(structure);
  }
  EXPECT_EQ(posted, (std::vector<std::string>{"", "red"}));
}

// A flush (a seek) restarts the confirmation: red needs three frames again.
TEST_F(OpenSetTest, FlushRestartsConfirmation) {
  MatchHarness matcher(element_description("confirm-frames=3"), kCaps);
  for (int i = 0; i < 3; ++i) result_of(matcher, 255, 0, 0);
  EXPECT_EQ(result_of(matcher, 255, 0, 0).label, "red");
  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(matcher.harness, gst_event_new_segment(&segment)));
  const MatchResult after = result_of(matcher, 255, 0, 0);
  EXPECT_EQ(after.label, "");
  EXPECT_EQ(after.reason, Reason::kUnconfirmed);
  EXPECT_EQ(after.frame_label, "red");
}

// Two detections swap places in the region list and move a little: each
// keeps its own track, so two frames confirm both.
TEST_F(OpenSetTest, ConfirmFramesFollowsRegions) {
  MatchHarness matcher(element_description("confirm-frames=2"), kCaps);
  cv::Mat picture(kHeight, kWidth, CV_8UC3);
  picture.colRange(0, 32).setTo(cv::Scalar(0, 0, 255));   // red left
  picture.colRange(32, 64).setTo(cv::Scalar(255, 0, 0));  // blue right
  const auto push = [&](const std::vector<cv::Rect> &boxes) {
    GstBuffer *frame = make_frame(picture, video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight));
    for (const cv::Rect &box : boxes)
      gst_buffer_add_video_region_of_interest_meta(frame, "detection", box.x, box.y, box.width,
                                                   box.height);
    GstBuffer *out = matcher.push_and_pull(frame);
    std::vector<std::pair<std::string, std::string>> labels;  // (label, frame label) per region
    gpointer iterator = nullptr;
    while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
               out, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
      const auto tagged = region_result(reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta));
      labels.emplace_back(tagged ? tagged->result.label : "-",
                          tagged ? tagged->result.frame_label : "-");
    }
    gst_buffer_unref(out);
    return labels;
  };
  using Labels = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(push({{2, 4, 24, 30}, {36, 4, 24, 30}}), (Labels{{"", "red"}, {"", "blue"}}));
  EXPECT_EQ(push({{38, 6, 24, 30}, {3, 6, 24, 30}}), (Labels{{"blue", "blue"}, {"red", "red"}}));
  // A third region, on the red half but away from the red track, starts its own.
  EXPECT_EQ(push({{4, 6, 24, 30}, {0, 38, 10, 10}}), (Labels{{"red", "red"}, {"", "red"}}));
}

// The properties' defaults, and what gst-inspect lists.
TEST_F(OpenSetTest, PropertyDefaults) {
  GstElement *element = gst_element_factory_make("siamesematch", nullptr);
  ASSERT_NE(element, nullptr);
  gdouble rate = 0, margin = 0, normalised = 0;
  guint confirm = 0;
  gint normalise = -1;
  g_object_get(element, "false-accept-rate", &rate, "margin", &margin, "normalised-threshold",
               &normalised, "confirm-frames", &confirm, "normalise", &normalise, nullptr);
  EXPECT_DOUBLE_EQ(rate, decision_defaults::kFalseAcceptRate);
  EXPECT_DOUBLE_EQ(margin, -1.0);         // the model's, else the default
  EXPECT_DOUBLE_EQ(normalised, -1000.0);  // the model's, else the default
  EXPECT_EQ(confirm, static_cast<guint>(decision_defaults::kConfirmFrames));
  EXPECT_EQ(normalise, 0);  // auto
  for (const char *name :
       {"false-accept-rate", "margin", "normalised-threshold", "confirm-frames", "normalise"}) {
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_NE(std::string(g_param_spec_get_blurb(spec)), "") << name;
  }
  gst_object_unref(element);
}

}  // namespace
}  // namespace siamese::test
