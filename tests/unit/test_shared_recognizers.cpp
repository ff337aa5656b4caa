// SPDX-License-Identifier: LGPL-2.1-or-later
// The process-wide registry: users of the same files share one network and
// one reference set; anything different, or changed on disk, is its own.
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "shared_recognizers.h"
#include "thrown_kind.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

class SharedRecognizersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::path(::testing::TempDir()) /
              ("shared-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
    // Nothing of an earlier test may still be alive: the registry holds weak references.
    ASSERT_EQ(shared_counts().models, 0u);
    ASSERT_EQ(shared_counts().recognizers, 0u);
  }
  void TearDown() override { fs::remove_all(folder_); }

  static RecognizerSpec spec(const std::string &reference = SIAMESE_FIXTURE_REFERENCES_DIR) {
    RecognizerSpec spec;
    spec.model = SIAMESE_FIXTURE_MEAN_COLOUR_ONNX;
    spec.reference = reference;
    return spec;
  }

  // A copy of the fixture reference folder that the test may change.
  std::string own_references() const {
    const fs::path copy = folder_ / "references";
    fs::copy(SIAMESE_FIXTURE_REFERENCES_DIR, copy, fs::copy_options::recursive);
    return copy.string();
  }

  fs::path folder_;
};

TEST_F(SharedRecognizersTest, SameModelLoadsOneNetwork) {
  // Two users of one model file get one network; another model is its own.
  const auto first = shared_model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, {});
  const auto second = shared_model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, {});
  const auto grey = shared_model(SIAMESE_FIXTURE_GREY_ONNX, {});
  EXPECT_EQ(first, second);
  EXPECT_EQ(first->id(), second->id());
  EXPECT_NE(first, grey);
  EXPECT_EQ(shared_counts().models, 2u);
}

TEST_F(SharedRecognizersTest, OtherPreprocessingIsAnotherNetwork) {
  // The same file with a different input size embeds differently: not shared.
  ContractOverrides larger;
  larger.width = 16;
  larger.height = 16;
  EXPECT_NE(shared_model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, {}),
            shared_model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, larger));
}

TEST_F(SharedRecognizersTest, ReleasedByEveryUserIsFreed) {
  // The registry keeps nothing alive: once the last user lets go, it is gone.
  auto first = shared_recognizer(spec());
  auto second = shared_recognizer(spec());
  EXPECT_EQ(shared_counts().recognizers, 1u);
  first.reset();
  EXPECT_EQ(shared_counts().recognizers, 1u);
  EXPECT_EQ(shared_counts().models, 1u);
  second.reset();
  EXPECT_EQ(shared_counts().recognizers, 0u);
  EXPECT_EQ(shared_counts().models, 0u);
}

TEST_F(SharedRecognizersTest, SameFilesAndSettingsShareOneSet) {
  // Same model, folder and search: one Recognizer, its report handed to both.
  Recognizer::Report first_report, second_report;
  const auto first = shared_recognizer(spec(), &first_report);
  const auto second = shared_recognizer(spec(), &second_report);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first->id(), second->id());
  EXPECT_GT(first_report.enrolled, 0u);
  EXPECT_EQ(second_report.enrolled, first_report.enrolled);
}

TEST_F(SharedRecognizersTest, OtherSearchSharesTheNetworkOnly) {
  // Another metric or index is another search over another set, on the same network.
  RecognizerSpec euclidean = spec();
  euclidean.matcher.metric = Metric::kEuclidean;
  RecognizerSpec flat = spec();
  flat.matcher.index = SearchIndex::kFaissFlat;
  const auto cosine = shared_recognizer(spec());
  const auto other_metric = shared_recognizer(euclidean);
  const auto other_index = shared_recognizer(flat);
  EXPECT_NE(cosine, other_metric);
  EXPECT_NE(cosine, other_index);
  EXPECT_EQ(&cosine->model(), &other_metric->model());
  EXPECT_EQ(&cosine->model(), &other_index->model());
  EXPECT_EQ(shared_counts().models, 1u);
  EXPECT_EQ(shared_counts().recognizers, 3u);
}

TEST_F(SharedRecognizersTest, ChangedFolderIsEnrolledAgain) {
  // An image added to the folder since another user built from it is seen.
  const std::string references = own_references();
  const auto before = shared_recognizer(spec(references));
  ASSERT_TRUE(cv::imwrite((fs::path(references) / "red" / "added.png").string(),
                          cv::Mat(8, 8, CV_8UC3, cv::Scalar(10, 20, 170))));
  const auto after = shared_recognizer(spec(references));
  EXPECT_NE(before, after);
  EXPECT_EQ(after->references().embeddings().rows, before->references().embeddings().rows + 1);
  EXPECT_EQ(&before->model(), &after->model());
}

TEST_F(SharedRecognizersTest, GalleryWrittenByTheFirstIsSharedByTheNext) {
  // Folder + gallery: the first user writes the gallery file; the next, who
  // finds the file as the first left it, shares the first's set.
  RecognizerSpec both = spec();
  both.gallery = (folder_ / "watch-list.gallery").string();
  Recognizer::Report report;
  const auto first = shared_recognizer(both, &report);
  ASSERT_TRUE(report.gallery_written);
  EXPECT_EQ(first, shared_recognizer(both));
}

TEST_F(SharedRecognizersTest, AnEditStaysWithItsUser) {
  // A user enrolling gets a set of its own; the shared one is unchanged.
  const auto shared = shared_recognizer(spec());
  ReferenceSet edited = shared->references();
  edited.add("extra", shared->references().embeddings().row(0));
  const auto own = shared->with_references(std::move(edited));
  EXPECT_NE(own->id(), shared->id());
  EXPECT_EQ(shared_recognizer(spec()), shared);
  EXPECT_EQ(shared->references().labels().size() + 1, own->references().labels().size());
}

TEST_F(SharedRecognizersTest, SharedNetworkEmbedsFromManyThreads) {
  // Users on several threads at once get what one user alone gets.
  const auto model = shared_model(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, {});
  std::vector<cv::Mat> images;
  for (int i = 0; i < 4; ++i) images.emplace_back(8, 8, CV_8UC3, cv::Scalar(40 * i, 200 - 30 * i, 90));
  const cv::Mat expected = model->embed(images);
  std::vector<std::thread> users;
  std::vector<double> worst(4, 0.0);
  for (int user = 0; user < 4; ++user)
    users.emplace_back([&, user] {
      for (int round = 0; round < 200; ++round)
        worst[user] = std::max(worst[user], cv::norm(model->embed(images), expected, cv::NORM_INF));
    });
  for (std::thread &user : users) user.join();
  for (const double difference : worst) EXPECT_EQ(difference, 0.0);
}

TEST_F(SharedRecognizersTest, ErrorsAreThoseOfBuilding) {
  // Nothing to share yet: a missing model or folder fails as building does.
  RecognizerSpec no_model = spec();
  no_model.model.clear();
  EXPECT_EQ(thrown_kind([&] { shared_recognizer(no_model); }), ErrorKind::kNotFound);
  RecognizerSpec missing_model = spec();
  missing_model.model = (folder_ / "missing.onnx").string();
  EXPECT_EQ(thrown_kind([&] { shared_recognizer(missing_model); }, missing_model.model),
            ErrorKind::kNotFound);
  const std::string missing_folder = (folder_ / "missing").string();
  EXPECT_EQ(thrown_kind([&] { shared_recognizer(spec(missing_folder)); }, missing_folder),
            ErrorKind::kNotFound);
  EXPECT_EQ(shared_counts().recognizers, 0u);
}

}  // namespace
}  // namespace siamese
