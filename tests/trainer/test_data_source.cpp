// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Evaluation and calibration split the data as the model's training did:
// a split drawn by seed with another seed than the one the model recorded
// would score it on its own training images, so it is refused.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "data_source.h"
#include "errors.h"
#include "evaluate_onnx.h"

namespace siamese::trainer {
namespace {

// The bundled triplet model records "seed": 3 in its training summary.
void check(const std::string &model, const std::string &data, OpenSetSplit split, uint64_t seed) {
  DataOptions options;
  options.path = data;
  check_split_seed(model, options, split, seed);
}

TEST(SplitSeed, ValidationSplitWithAnotherSeedIsRefusedNamingBoth) {
  try {
    check(SIAMESE_BUNDLED_MODEL, kFashionMnistDir, OpenSetSplit::kValidation, 2);
    FAIL() << "a validation split by seed 2 of a model trained with seed 3 was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::kSettings);
    const std::string message = e.what();
    EXPECT_NE(message.find("trained with --seed 3"), std::string::npos) << message;
    EXPECT_NE(message.find("--seed 2"), std::string::npos) << message;
  }
}

TEST(SplitSeed, ImageFolderSplitWithAnotherSeedIsRefused) {
  EXPECT_THROW(check(SIAMESE_BUNDLED_MODEL, SIAMESE_FIXTURE_REFERENCES_DIR, OpenSetSplit::kTest, 1),
               Error);
}

TEST(SplitSeed, TheTrainingSeedOrTheSourcesOwnTestFilesPass) {
  EXPECT_NO_THROW(check(SIAMESE_BUNDLED_MODEL, kFashionMnistDir, OpenSetSplit::kValidation, 3));
  EXPECT_NO_THROW(check(SIAMESE_BUNDLED_MODEL, SIAMESE_FIXTURE_REFERENCES_DIR,
                        OpenSetSplit::kTest, 3));
  // Fashion-MNIST's test files are split by nobody.
  EXPECT_NO_THROW(check(SIAMESE_BUNDLED_MODEL, kFashionMnistDir, OpenSetSplit::kTest, 7));
}

TEST(SplitSeed, TrainingSeedIsReadFromTheModel) {
  EXPECT_EQ(training_seed(SIAMESE_BUNDLED_MODEL), std::optional<uint64_t>(3));
  EXPECT_EQ(training_seed(SIAMESE_FIXTURE_NO_METADATA_ONNX), std::nullopt);
}

TEST(SplitSeed, ModelWithoutTrainingSummaryPasses) {
  EXPECT_NO_THROW(check(SIAMESE_FIXTURE_NO_METADATA_ONNX, kFashionMnistDir,
                        OpenSetSplit::kValidation, 2));
  EXPECT_NO_THROW(check(SIAMESE_FIXTURE_MEAN_COLOUR_ONNX, kFashionMnistDir,
                        OpenSetSplit::kValidation, 2));
}

}  // namespace
}  // namespace siamese::trainer
