// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every bad input gets a bus error with the domain and code of the table in
// docs/errors.md (never a crash), and an unreadable reference image a
// warning naming it.
#include <filesystem>

#include <sys/stat.h>

#include "element_harness.h"

namespace siamese::test {
namespace {

struct ExpectedError {
  const char *what;
  std::string description;
  GQuark domain;
  gint code;
};

class ErrorsTest : public ElementTest {
 protected:
  static void expect_start_error(const ExpectedError &expected) {
    GError *error = start_error(expected.description);
    ASSERT_NE(error, nullptr) << expected.what;
    EXPECT_EQ(error->domain, expected.domain) << expected.what << ": " << error->message;
    EXPECT_EQ(error->code, expected.code) << expected.what << ": " << error->message;
    EXPECT_GT(strlen(error->message), 10u) << expected.what;
    g_error_free(error);
  }
};

const std::string kReferences = SIAMESE_FIXTURE_REFERENCES_DIR;
const std::string kModel = SIAMESE_FIXTURE_MEAN_COLOUR_ONNX;

// Missing settings and paths: RESOURCE NOT_FOUND.
TEST_F(ErrorsTest, MissingThingsAreNotFound) {
  for (const ExpectedError &expected : std::vector<ExpectedError>{
           {"no model", "siamesematch reference=" + kReferences, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_NOT_FOUND},
           {"no reference", "siamesematch model=" + kModel, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_NOT_FOUND},
           {"missing model file", element_description("", "/nonexistent/model.onnx"),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND},
           {"missing reference folder", element_description("", kModel, "/nonexistent/refs"),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND},
       })
    expect_start_error(expected);
}

// A model path that cannot be read as a file: RESOURCE OPEN_READ.
TEST_F(ErrorsTest, UnreadableModelIsOpenRead) {
  expect_start_error({"model is a folder", element_description("", kReferences), GST_RESOURCE_ERROR,
                      GST_RESOURCE_ERROR_OPEN_READ});
}

// A FIFO or an endless device as the model is refused at once (it used to
// block the state change, or read until memory ran out), naming the path.
TEST_F(ErrorsTest, PipesAndDevicesAsModelAreOpenRead) {
  const auto folder = std::filesystem::path(testing::TempDir()) / "siamese-element-fifo";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  const std::string fifo = (folder / "f.onnx").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string &model : {fifo, std::string("/dev/zero")}) {
    GError *error = start_error(element_description("", model));
    ASSERT_NE(error, nullptr) << model;
    EXPECT_EQ(error->domain, GST_RESOURCE_ERROR) << error->message;
    EXPECT_EQ(error->code, GST_RESOURCE_ERROR_OPEN_READ) << error->message;
    EXPECT_NE(std::string(error->message).find(model + " is not a regular file"),
              std::string::npos)
        << error->message;
    g_error_free(error);
  }
}

// Files that are not ONNX, or that OpenCV cannot run, or that give no vector: LIBRARY INIT.
TEST_F(ErrorsTest, BadModelsAreLibraryInit) {
  for (const char *model : {SIAMESE_FIXTURE_NOT_ONNX_ONNX, SIAMESE_FIXTURE_TRUNCATED_ONNX,
                            SIAMESE_FIXTURE_UNSUPPORTED_ONNX, SIAMESE_FIXTURE_FEATURE_MAP_ONNX})
    expect_start_error(
        {model, element_description("", model), GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT});
}

// Settings that cannot work: RESOURCE SETTINGS.
TEST_F(ErrorsTest, BadSettingsAreResourceSettings) {
  for (const ExpectedError &expected : std::vector<ExpectedError>{
           {"empty reference folder",
            element_description("", kModel, SIAMESE_FIXTURE_REFERENCES_EMPTY_DIR),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS},
           {"learned metric without a head", element_description("metric=learned"),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS},
           {"unknown input size", element_description("", SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS},
           {"malformed mean", element_description("mean=1,2"), GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS},
           {"grey colour order for an RGB model", element_description("color-order=gray"),
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS},
           {"malformed scale", element_description("scale=abc"), GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS},
       })
    expect_start_error(expected);
}

// The size overrides make a model without a known input size usable.
TEST_F(ErrorsTest, SizeOverridesRescueUnknownSize) {
  GError *error = start_error(
      element_description("input-width=8 input-height=8", SIAMESE_FIXTURE_UNKNOWN_SIZE_ONNX));
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  if (error) g_error_free(error);
}

// An undecodable reference image is skipped with a warning naming it; the element runs.
TEST_F(ErrorsTest, CorruptReferenceImageIsSkippedWithWarning) {
  std::vector<std::string> warnings;
  GError *error = start_error(
      element_description("", kModel, SIAMESE_FIXTURE_REFERENCES_WITH_CORRUPT_DIR), &warnings);
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  if (error) g_error_free(error);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("corrupt.png"), std::string::npos) << warnings[0];
}

// A looping symbolic link in a label folder is skipped with a warning naming
// it, and a label folder without any usable image gets a warning; the rest
// of the reference set is used.
TEST_F(ErrorsTest, BadEntriesAndEmptyLabelsAreWarnings) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(testing::TempDir()) / "siamese-element-bad-entries";
  fs::remove_all(root);
  fs::copy(kReferences, root, fs::copy_options::recursive);
  fs::create_symlink("loop.png", root / "red" / "loop.png");
  fs::create_directories(root / "empty");
  std::vector<std::string> warnings;
  GError *error = start_error(element_description("", kModel, root.string()), &warnings);
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  if (error) g_error_free(error);
  std::string all;
  for (const std::string &warning : warnings) all += warning + "\n";
  ASSERT_EQ(warnings.size(), 2u) << all;
  EXPECT_NE(all.find("red/loop.png: Too many levels of symbolic links"), std::string::npos) << all;
  EXPECT_NE(all.find("The label folder " + (root / "empty").string() + " holds no usable image"),
            std::string::npos)
      << all;
}

// A frame that cannot be processed (a buffer too small for its caps) is STREAM FAILED
// and GST_FLOW_ERROR.
TEST_F(ErrorsTest, FrameFailureIsStreamFailed) {
  MatchHarness matcher(element_description(),
                       "video/x-raw,format=BGR,width=64,height=48,framerate=25/1");
  EXPECT_EQ(gst_harness_push(matcher.harness, gst_buffer_new_allocate(nullptr, 10, nullptr)),
            GST_FLOW_ERROR);
  GstMessage *message = gst_bus_pop_filtered(matcher.bus, GST_MESSAGE_ERROR);
  ASSERT_NE(message, nullptr);
  GError *error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  EXPECT_EQ(error->domain, GST_STREAM_ERROR);
  EXPECT_EQ(error->code, GST_STREAM_ERROR_FAILED);
  g_error_free(error);
  gst_message_unref(message);
}

}  // namespace
}  // namespace siamese::test
