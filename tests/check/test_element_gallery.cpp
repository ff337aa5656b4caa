// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The reference set while the element runs: the gallery property, the
// enroll / enroll-frame / remove / save / reload actions, properties that
// reload in the background, the aggregate rule (best image or prototype)
// with enrolments, failures that keep the set in use, and edits
// racing frames pushed from another thread (no frame lost, no error).
#include <opencv2/imgcodecs.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include "decision_defaults.h"
#include "element_harness.h"
#include "gallery_file.h"

namespace siamese::test {
namespace {

namespace fs = std::filesystem;

constexpr int kWidth = 32;
constexpr int kHeight = 24;
const char *const kCaps = "video/x-raw,format=BGR,width=32,height=24,framerate=25/1";
const std::string kModel = SIAMESE_FIXTURE_MEAN_COLOUR_ONNX;
const std::string kReferences = SIAMESE_FIXTURE_REFERENCES_DIR;

class GalleryTest : public ElementTest {
 protected:
  void SetUp() override {
    folder_ = fs::path(::testing::TempDir()) /
              ("element-gallery-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  std::string path(const std::string &name) const { return (folder_ / name).string(); }

  // A PNG of one colour, for enrolment.
  std::string colour_image(const std::string &name, int red, int green, int blue) const {
    const std::string file = path(name);
    EXPECT_TRUE(cv::imwrite(file, solid_bgr(10, 10, red, green, blue)));
    return file;
  }

  static GstElement *element(MatchHarness &matcher) {
    GstElement *found = gst_harness_find_element(matcher.harness, "siamesematch");
    gst_object_unref(found);  // the harness keeps it alive
    return found;
  }

  static MatchResult match_colour(MatchHarness &matcher, int red, int green, int blue) {
    GstBuffer *out = matcher.push_and_pull(make_frame(solid_bgr(kWidth, kHeight, red, green, blue),
                                                      video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight)));
    const auto tagged = tagged_result(out);
    gst_buffer_unref(out);
    EXPECT_TRUE(tagged.has_value());
    return tagged ? tagged->result : MatchResult{};
  }

  // The next siamesematch-gallery message (waiting up to `seconds`), or nullptr.
  static GstStructure *gallery_message(MatchHarness &matcher, int seconds = 0) {
    const gint64 deadline = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
    do {
      while (GstMessage *message = gst_bus_pop_filtered(
                 matcher.bus, static_cast<GstMessageType>(GST_MESSAGE_ELEMENT))) {
        const GstStructure *structure = gst_message_get_structure(message);
        GstStructure *copy = gst_structure_has_name(structure, "siamesematch-gallery")
                                 ? gst_structure_copy(structure)
                                 : nullptr;
        gst_message_unref(message);
        if (copy) return copy;
      }
      if (seconds > 0) g_usleep(10000);
    } while (g_get_monotonic_time() < deadline);
    return nullptr;
  }

  // The texts of the warnings (or errors) posted so far.
  static std::vector<std::string> problems(MatchHarness &matcher, GstMessageType type) {
    std::vector<std::string> texts;
    while (GstMessage *message = gst_bus_pop_filtered(matcher.bus, type)) {
      GError *error = nullptr;
      if (type == GST_MESSAGE_WARNING)
        gst_message_parse_warning(message, &error, nullptr);
      else
        gst_message_parse_error(message, &error, nullptr);
      texts.push_back(error->message);
      g_error_free(error);
      gst_message_unref(message);
    }
    return texts;
  }

  static std::string action_of(GstStructure *structure) {
    const std::string action = structure ? gst_structure_get_string(structure, "action") : "";
    if (structure) gst_structure_free(structure);
    return action;
  }

  fs::path folder_;
};

gboolean enroll(GstElement *element, const std::string &label, const std::string &image) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "enroll", label.c_str(), image.c_str(), &ok);
  return ok;
}
gboolean enroll_frame(GstElement *element, const std::string &label, gint region) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "enroll-frame", label.c_str(), region, &ok);
  return ok;
}
gboolean remove_label(GstElement *element, const std::string &label) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "remove", label.c_str(), &ok);
  return ok;
}
gboolean save(GstElement *element, const char *file) {
  gboolean ok = FALSE;
  g_signal_emit_by_name(element, "save", file, &ok);
  return ok;
}

// The scenario: enrol, match, remove, save, restart from the file, match the same.
TEST_F(GalleryTest, EnrolMatchRemoveSaveRestartMatchesTheSame) {
  const std::string purple = colour_image("purple.png", 128, 0, 128);
  std::vector<MatchResult> before;
  {
    MatchHarness matcher(element_description(), kCaps);
    GstElement *siamese = element(matcher);
    EXPECT_FALSE(match_colour(matcher, 128, 0, 128).matched);
    ASSERT_TRUE(enroll(siamese, "purple", purple));
    GstStructure *message = gallery_message(matcher);
    ASSERT_NE(message, nullptr);
    EXPECT_STREQ(gst_structure_get_string(message, "label"), "purple");
    EXPECT_STREQ(gst_structure_get_string(message, "path"), purple.c_str());
    guint templates = 0, labels = 0;
    gst_structure_get_uint(message, "templates", &templates);
    gst_structure_get_uint(message, "labels", &labels);
    EXPECT_EQ(templates, 10u);
    EXPECT_EQ(labels, 5u);
    EXPECT_EQ(action_of(message), "enroll");

    const MatchResult enrolled = match_colour(matcher, 128, 0, 128);
    EXPECT_TRUE(enrolled.matched);
    EXPECT_EQ(enrolled.label, "purple");
    ASSERT_TRUE(remove_label(siamese, "red"));
    EXPECT_EQ(action_of(gallery_message(matcher)), "remove");
    EXPECT_NE(match_colour(matcher, 255, 0, 0).label, "red");

    const std::string file = path("saved.gallery");
    ASSERT_TRUE(save(siamese, file.c_str()));
    EXPECT_EQ(action_of(gallery_message(matcher)), "save");
    for (const auto &[r, g, b] : std::vector<std::array<int, 3>>{
             {128, 0, 128}, {255, 0, 0}, {0, 255, 0}, {250, 250, 10}, {90, 90, 90}})
      before.push_back(match_colour(matcher, r, g, b));
    EXPECT_TRUE(problems(matcher, GST_MESSAGE_WARNING).empty());
  }
  MatchHarness restarted("siamesematch model=\"" + kModel + "\" gallery=\"" + path("saved.gallery") + "\"",
                         kCaps);
  std::size_t i = 0;
  for (const auto &[r, g, b] : std::vector<std::array<int, 3>>{
           {128, 0, 128}, {255, 0, 0}, {0, 255, 0}, {250, 250, 10}, {90, 90, 90}})
    EXPECT_EQ(match_colour(restarted, r, g, b), before[i++]) << r << "," << g << "," << b;
}

// enroll-frame takes the latest embedded frame; a region that is not there is refused.
TEST_F(GalleryTest, EnrolTheCurrentFrame) {
  MatchHarness matcher(element_description(), kCaps);
  GstElement *siamese = element(matcher);
  EXPECT_FALSE(enroll_frame(siamese, "teal", -1));  // no frame yet
  EXPECT_FALSE(match_colour(matcher, 0, 128, 128).matched);
  EXPECT_FALSE(enroll_frame(siamese, "teal", 7));
  ASSERT_TRUE(enroll_frame(siamese, "teal", -1));
  const MatchResult result = match_colour(matcher, 0, 128, 128);
  EXPECT_EQ(result.label, "teal");
  EXPECT_NEAR(result.score, 1.0, 1e-5);
  const auto warnings = problems(matcher, GST_MESSAGE_WARNING);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("No frame has been embedded yet"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("no region with id 7"), std::string::npos) << warnings[1];
}

// Failed actions return FALSE, warn naming the cause, and leave the set as it was.
TEST_F(GalleryTest, FailedActionsWarnAndKeepTheSet) {
  MatchHarness matcher(element_description(), kCaps);
  GstElement *siamese = element(matcher);
  EXPECT_FALSE(enroll(siamese, "x", path("missing.png")));
  EXPECT_FALSE(enroll(siamese, "", colour_image("c.png", 1, 2, 3)));
  EXPECT_FALSE(remove_label(siamese, "nobody"));
  EXPECT_FALSE(save(siamese, nullptr));  // no gallery property, no path
  EXPECT_FALSE(save(siamese, path("no/such/folder/g.gallery").c_str()));
  const auto warnings = problems(matcher, GST_MESSAGE_WARNING);
  ASSERT_EQ(warnings.size(), 5u);
  EXPECT_NE(warnings[0].find("missing.png"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[2].find("nobody"), std::string::npos) << warnings[2];
  EXPECT_NE(warnings[4].find("g.gallery"), std::string::npos) << warnings[4];
  EXPECT_EQ(gallery_message(matcher), nullptr);
  EXPECT_EQ(match_colour(matcher, 255, 0, 0).label, "red");
  EXPECT_TRUE(problems(matcher, GST_MESSAGE_ERROR).empty());
}

// Setting the reference folder while playing reloads in the background; a bad model keeps the old set.
TEST_F(GalleryTest, PropertiesReloadWhilePlaying) {
  fs::create_directories(folder_ / "refs" / "purple");
  colour_image("refs/purple/p.png", 128, 0, 128);
  MatchHarness matcher(element_description(), kCaps);
  GstElement *siamese = element(matcher);
  EXPECT_EQ(match_colour(matcher, 255, 0, 0).label, "red");

  g_object_set(siamese, "reference", path("refs").c_str(), nullptr);
  EXPECT_EQ(action_of(gallery_message(matcher, 30)), "reload");
  EXPECT_EQ(match_colour(matcher, 128, 0, 128).label, "purple");
  EXPECT_EQ(match_colour(matcher, 255, 0, 0).label, "");

  g_object_set(siamese, "model", "/nonexistent/model.onnx", nullptr);
  std::vector<std::string> warnings;
  for (int i = 0; i < 300 && warnings.empty(); ++i) {
    g_usleep(10000);
    warnings = problems(matcher, GST_MESSAGE_WARNING);
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("/nonexistent/model.onnx"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("stays in use"), std::string::npos) << warnings[0];
  EXPECT_EQ(match_colour(matcher, 128, 0, 128).label, "purple");

  g_object_set(siamese, "model", kModel.c_str(), nullptr);
  gboolean started = FALSE;
  g_signal_emit_by_name(siamese, "reload", &started);
  EXPECT_TRUE(started);
  EXPECT_EQ(action_of(gallery_message(matcher, 30)), "reload");
}

// Two instances sharing one network and one set: an enrolment and a model
// reload on one change that one only, and the other matches as before;
// back on the shared files, the reload finds the shared set again.
TEST_F(GalleryTest, ChangesToOneSharingInstanceLeaveTheOther) {
  MatchHarness first(element_description(), kCaps);
  MatchHarness second(element_description(), kCaps);
  GstElement *changed = element(first);
  GstElement *untouched = element(second);
  const auto ids = [](GstElement *siamese) {
    guint64 network = 0, references = 0;
    g_object_get(siamese, "network-id", &network, "reference-set-id", &references, nullptr);
    return std::make_pair(network, references);
  };
  const auto shared = ids(untouched);
  ASSERT_EQ(ids(changed), shared);
  const MatchResult red = match_colour(second, 255, 0, 0);
  const MatchResult purple = match_colour(second, 128, 0, 128);

  ASSERT_TRUE(enroll(changed, "purple", colour_image("purple.png", 128, 0, 128)));
  EXPECT_EQ(action_of(gallery_message(first)), "enroll");
  EXPECT_EQ(ids(changed).first, shared.first);
  EXPECT_NE(ids(changed).second, shared.second);
  EXPECT_EQ(match_colour(first, 128, 0, 128).label, "purple");
  EXPECT_EQ(match_colour(second, 128, 0, 128), purple);

  g_object_set(changed, "model", SIAMESE_FIXTURE_MEAN_COLOUR_HEAD_ONNX, nullptr);
  EXPECT_EQ(action_of(gallery_message(first, 30)), "reload");
  EXPECT_NE(ids(changed).first, shared.first);
  EXPECT_EQ(match_colour(first, 255, 0, 0).label, "red");
  EXPECT_EQ(ids(untouched), shared);
  EXPECT_EQ(match_colour(second, 255, 0, 0), red);

  g_object_set(changed, "model", kModel.c_str(), nullptr);
  EXPECT_EQ(action_of(gallery_message(first, 30)), "reload");
  EXPECT_EQ(ids(changed), shared);
  for (MatchHarness *matcher : {&first, &second}) {
    EXPECT_TRUE(problems(*matcher, GST_MESSAGE_WARNING).empty());
    EXPECT_TRUE(problems(*matcher, GST_MESSAGE_ERROR).empty());
  }
}

// The reference folder enrolled into a gallery file, which a second start loads.
TEST_F(GalleryTest, FolderIsEnrolledIntoTheGalleryFile) {
  const std::string file = path("colours.gallery");
  {
    MatchHarness matcher(element_description("gallery=\"" + file + "\""), kCaps);
    EXPECT_EQ(match_colour(matcher, 0, 255, 0).label, "green");
  }
  const Gallery written = load_gallery(file);
  EXPECT_EQ(written.references.embeddings().rows, 9);
  EXPECT_EQ(written.references.sources().front().path, kReferences + "/blue/blue_0.png");
  MatchHarness from_file("siamesematch model=\"" + kModel + "\" gallery=\"" + file + "\"", kCaps);
  EXPECT_EQ(match_colour(from_file, 0, 255, 0).label, "green");
}

// The aggregate property: a red frame against label a (pure red, pure blue)
// and label b (two oranges either side of red, cosine 0.917 each, prototype
// 0.956).  By its best image a wins (1.0); by prototypes b does (a's
// prototype, halfway to blue, scores 0.707).  Set while playing, it reloads;
// the gallery file made by one rule serves the other, since it holds the
// images' embeddings, not the prototypes.
TEST_F(GalleryTest, AggregateChoosesHowALabelScores) {
  fs::create_directories(folder_ / "refs" / "a");
  fs::create_directories(folder_ / "refs" / "b");
  colour_image("refs/a/red.png", 255, 0, 0);
  colour_image("refs/a/blue.png", 0, 0, 255);
  colour_image("refs/b/orange-green.png", 230, 100, 0);
  colour_image("refs/b/orange-blue.png", 230, 0, 100);
  const std::string file = path("rules.gallery");
  MatchHarness matcher(
      element_description("gallery=\"" + file + "\"", kModel, path("refs")), kCaps);
  GstElement *siamese = element(matcher);
  gint aggregate = -1;
  g_object_get(siamese, "aggregate", &aggregate, nullptr);
  EXPECT_EQ(aggregate, static_cast<gint>(decision_defaults::kAggregate));

  g_object_set(siamese, "aggregate", static_cast<gint>(Aggregate::kBest), nullptr);
  EXPECT_EQ(action_of(gallery_message(matcher, 30)), "reload");
  const MatchResult best = match_colour(matcher, 255, 0, 0);
  EXPECT_EQ(best.label, "a");
  EXPECT_NEAR(best.score, 1.0, 1e-3);

  g_object_set(siamese, "aggregate", static_cast<gint>(Aggregate::kPrototype), nullptr);
  EXPECT_EQ(action_of(gallery_message(matcher, 30)), "reload");
  g_object_get(siamese, "aggregate", &aggregate, nullptr);
  EXPECT_EQ(aggregate, static_cast<gint>(Aggregate::kPrototype));
  const MatchResult prototype = match_colour(matcher, 255, 0, 0);
  EXPECT_TRUE(prototype.matched);
  EXPECT_EQ(prototype.label, "b");
  EXPECT_NEAR(prototype.score, 0.956, 0.005);
  ASSERT_EQ(prototype.top.size(), 2u);
  EXPECT_EQ(prototype.top[1].label, "a");
  EXPECT_NEAR(prototype.top[1].score, std::sqrt(0.5), 0.005);

  EXPECT_EQ(load_gallery(file).references.embeddings().rows, 4);
  MatchHarness from_file("siamesematch aggregate=prototype model=\"" + kModel + "\" gallery=\"" +
                             file + "\"",
                         kCaps);
  EXPECT_EQ(match_colour(from_file, 255, 0, 0).label, "b");
  EXPECT_TRUE(problems(matcher, GST_MESSAGE_WARNING).empty());
}

// An image enrolled while playing joins its label's prototype: a (pure red)
// matches a red frame until a blue image enrolled under a pulls a's
// prototype halfway to blue, and b (orange) takes the frame.
TEST_F(GalleryTest, EnrolmentMovesThePrototype) {
  fs::create_directories(folder_ / "refs" / "a");
  fs::create_directories(folder_ / "refs" / "b");
  colour_image("refs/a/red.png", 255, 0, 0);
  colour_image("refs/b/orange.png", 230, 60, 0);
  MatchHarness matcher(element_description("aggregate=prototype", kModel, path("refs")), kCaps);
  GstElement *siamese = element(matcher);
  EXPECT_EQ(match_colour(matcher, 255, 0, 0).label, "a");

  ASSERT_TRUE(enroll(siamese, "a", colour_image("blue.png", 0, 0, 255)));
  EXPECT_EQ(action_of(gallery_message(matcher)), "enroll");
  const MatchResult after = match_colour(matcher, 255, 0, 0);
  EXPECT_EQ(after.label, "b");
  ASSERT_EQ(after.top.size(), 2u);
  EXPECT_NEAR(after.top[1].score, std::sqrt(0.5), 0.005);  // a's prototype
  EXPECT_TRUE(problems(matcher, GST_MESSAGE_WARNING).empty());
}

// Galleries that cannot be used stop the start with the documented errors.
TEST_F(GalleryTest, BadGalleriesAreStartErrors) {
  const std::string grey_gallery = path("grey.gallery");
  {
    MatchHarness matcher("siamesematch model=\"" SIAMESE_FIXTURE_GREY_ONNX "\" reference=\"" +
                             kReferences + "\" gallery=\"" + grey_gallery + "\"",
                         "video/x-raw,format=BGR,width=32,height=24,framerate=25/1");
  }
  ASSERT_TRUE(fs::exists(grey_gallery));
  const std::string gallery_fingerprint = load_gallery(grey_gallery).fingerprint;
  GError *error = start_error("siamesematch model=\"" + kModel + "\" gallery=\"" + grey_gallery + "\"");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->domain, GST_STREAM_ERROR);
  EXPECT_EQ(error->code, GST_STREAM_ERROR_FORMAT);
  EXPECT_NE(std::string(error->message).find(gallery_fingerprint), std::string::npos) << error->message;
  g_error_free(error);

  error = start_error("siamesematch model=\"" + kModel + "\" gallery=\"" + path("none.gallery") + "\"");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, GST_RESOURCE_ERROR_NOT_FOUND);
  g_error_free(error);

  error = start_error("siamesematch model=\"" + kModel + "\" gallery=\"" + kModel + "\"");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->domain, GST_RESOURCE_ERROR);
  EXPECT_EQ(error->code, GST_RESOURCE_ERROR_OPEN_READ);
  EXPECT_NE(std::string(error->message).find("not an SQLite database"), std::string::npos);
  g_error_free(error);
}

// Frames pushed from one thread while another enrols, removes, saves and
// reloads: every frame comes out tagged, no error or warning is posted.
TEST_F(GalleryTest, EditsWhileFramesFlowFromAnotherThread) {
  const std::string purple = colour_image("purple.png", 128, 0, 128);
  const std::string file = path("busy.gallery");
  MatchHarness matcher(element_description("gallery=\"" + file + "\""), kCaps);
  GstElement *siamese = element(matcher);
  // Frames flow until both enough frames and enough edit rounds have gone
  // by, so a slow (loaded or sanitised) machine still interleaves the two.
  constexpr int kFrames = 400;
  constexpr int kEditRounds = 8;
  std::atomic<int> pulled{0}, tagged{0}, edits{0};
  std::atomic<bool> done{false};
  std::thread frames([&] {
    const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_BGR, kWidth, kHeight);
    for (int i = 0; i < kFrames || edits < kEditRounds; ++i) {
      GstBuffer *out = matcher.push_and_pull(make_frame(solid_bgr(kWidth, kHeight, 128, 0, 128), info));
      if (!out) break;
      ++pulled;
      if (tagged_result(out)) ++tagged;
      gst_buffer_unref(out);
    }
    done = true;
  });
  while (pulled == 0 && !done) g_usleep(1000);  // enroll-frame needs an embedded frame
  while (!done) {
    EXPECT_TRUE(enroll(siamese, "purple", purple));
    EXPECT_TRUE(enroll_frame(siamese, "frame", -1));
    EXPECT_TRUE(remove_label(siamese, "purple"));
    EXPECT_TRUE(save(siamese, nullptr));
    if (edits % 4 == 0) {
      // A reload rebuilds from the files (dropping unsaved changes), so the
      // next round starts once it is done.
      gboolean started = FALSE;
      g_signal_emit_by_name(siamese, "reload", &started);
      EXPECT_TRUE(started);
      std::string action;
      for (int waits = 0; action != "reload" && waits < 100; ++waits)
        action = action_of(gallery_message(matcher, 1));
      EXPECT_EQ(action, "reload");
    }
    g_object_set(siamese, "threshold", edits % 2 ? 0.9 : 0.95, nullptr);
    ++edits;
  }
  frames.join();
  EXPECT_GE(pulled, kFrames);
  EXPECT_EQ(tagged, pulled.load());
  EXPECT_GE(edits, kEditRounds);
  EXPECT_TRUE(problems(matcher, GST_MESSAGE_ERROR).empty());
  EXPECT_TRUE(problems(matcher, GST_MESSAGE_WARNING).empty());
  EXPECT_NO_THROW(load_gallery(file));
}

}  // namespace
}  // namespace siamese::test
