// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Training runs on small Fashion-MNIST subsets (fixed seeds, one thread):
// learning improves Precision@1, checkpoints resume exactly, divergence stops
// with a clear message, and an exported model gives the element's embedder
// the trainer's own embeddings (the preprocessing contract holds).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "data_source.h"
#include "embedder.h"
#include "errors.h"
#include "export.h"
#include "train.h"

namespace siamese::trainer {
namespace {

const TrainTestSets &fashion_mnist() {
  static const TrainTestSets sets = load_fashion_mnist(kFashionMnistDir);
  return sets;
}

TrainOptions small_run(int64_t per_class, int64_t steps_per_epoch, int64_t epochs) {
  TrainOptions o;
  o.data.path = kFashionMnistDir;
  o.data.max_per_class = per_class;
  o.data.validation_fraction = 0.2;
  o.model.channels = {16, 32};
  o.model.embedding_dim = 32;
  o.steps_per_epoch = steps_per_epoch;
  o.epochs = epochs;
  o.threads = 1;
  o.seed = 7;
  return o;
}

Trainer make_trainer(const TrainOptions &options) {
  TrainValidationSplit split = training_split(fashion_mnist(), options.data, options.seed);
  return Trainer(options, std::move(split.train), std::move(split.validation));
}

std::string temp_path(const std::string &name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::remove(path.c_str());
  return path;
}

void expect_same_weights(Trainer &a, Trainer &b) {
  const auto pa = a.embedding_net()->named_parameters();
  const auto pb = b.embedding_net()->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto &item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  const auto ba = a.embedding_net()->named_buffers();
  const auto bb = b.embedding_net()->named_buffers();
  for (const auto &item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

// 2,000 images, two short epochs of batch-hard mining: Precision@1 on the
// validation images rises well above chance (0.1) and above where it started.
TEST(Training, BatchHardRunImprovesPrecisionAtOne) {
  TrainOptions options = small_run(200, 25, 2);
  options.mining = Mining::kBatchHard;
  Trainer trainer = make_trainer(options);
  const double before = trainer.validate()->precision_at_1;
  std::ostringstream progress;
  const auto history = trainer.train(progress);
  ASSERT_EQ(history.size(), 2u);
  const double after = history.back().validation->precision_at_1;
  std::cout << "validation P@1 before " << before << ", after " << after << '\n';
  EXPECT_GT(after, 0.6);
  EXPECT_GT(after, before + 0.03);
  EXPECT_NE(progress.str().find("validation P@1"), std::string::npos);
}

// Outlier exposure: the generated outliers are one more class that the
// mining batches draw (11 classes a batch exist only with them, beside the
// 10 Fashion-MNIST classes), the run trains, and its summary says how many
// outliers it trained on.  (What they do to a full run's open-set figures is
// measured in models/README.md.)
TEST(Training, OutliersAreAClassOfTheirOwn) {
  TrainOptions options = small_run(50, 5, 1);
  options.mining = Mining::kSemiHard;
  options.classes_per_batch = 11;
  options.images_per_class = 4;
  EXPECT_THROW(make_trainer(options), std::exception);
  options.outlier_images = 60;
  Trainer trainer = make_trainer(options);
  std::ostringstream progress;
  EXPECT_TRUE(std::isfinite(trainer.train(progress).back().loss));
  EXPECT_NE(trainer.contract(std::nullopt).training_summary.find("\"outlier_images\": 60"),
            std::string::npos);
}

// The founding pair method trains too: its head learns to separate the pairs.
TEST(Training, PairHeadRunLearnsToVerify) {
  TrainOptions options = small_run(100, 40, 1);
  options.mode = Mode::kPair;
  options.pair_loss = PairLoss::kBce;
  options.batch_size = 32;
  Trainer trainer = make_trainer(options);
  const double before = trainer.validate()->head->roc_auc;
  std::ostringstream progress;
  const auto history = trainer.train(progress);
  ASSERT_TRUE(history.back().validation->head.has_value());
  const double after = history.back().validation->head->roc_auc;
  EXPECT_GT(after, 0.7);
  EXPECT_GT(after, before + 0.05);
  const ModelContract contract = trainer.contract(history.back().validation);
  EXPECT_EQ(contract.metric, Metric::kLearned);
  EXPECT_EQ(contract.thresholds.count(Metric::kLearned), 1u);
  EXPECT_NO_THROW(contract.head.validate(contract.embedding_dim));
}

// Turned classes triple the classes the sampler draws from: 14 classes per
// mining batch exist only with them (7 Fashion-MNIST classes are left after
// the holdout).  Validation still measures the upright classes and rises.
TEST(Training, TurnedClassesAreClassesOfTheirOwn) {
  TrainOptions options = small_run(100, 20, 1);
  options.data.holdout_classes = {2, 5, 8};
  options.mining = Mining::kSemiHard;
  options.classes_per_batch = 14;
  options.images_per_class = 4;
  EXPECT_THROW(make_trainer(options), std::exception);
  options.turned_classes = true;
  Trainer trainer = make_trainer(options);
  const double before = trainer.validate()->precision_at_1;
  std::ostringstream progress;
  const double after = trainer.train(progress).back().validation->precision_at_1;
  std::cout << "validation P@1 before " << before << ", after " << after << '\n';
  EXPECT_GT(after, before + 0.03);
  EXPECT_NE(trainer.contract(std::nullopt).training_summary.find("\"turned_classes\": true"),
            std::string::npos);
}

// The default mining batch serves any data with two or more training
// classes: with 2 or 7 classes left after the holdout (the README's
// command), P becomes that number and a note says so; with all 10 the
// default 8 stands, silently.
TEST(Training, DefaultBatchFitsTheClassesThereAre) {
  const std::vector<std::pair<std::vector<int>, std::string>> cases{
      {{0, 1, 2, 3, 4, 5, 6, 7}, "P = 2 instead of 8"}, {{2, 5, 8}, "P = 7 instead of 8"}};
  for (const auto &[holdout, note] : cases) {
    TrainOptions options = small_run(40, 3, 1);
    options.data.holdout_classes = holdout;
    options.mining = Mining::kSemiHard;
    Trainer trainer = make_trainer(options);
    std::ostringstream progress;
    const auto history = trainer.train(progress);
    ASSERT_EQ(history.size(), 1u);
    EXPECT_TRUE(std::isfinite(history.back().loss));
    EXPECT_NE(progress.str().find(note), std::string::npos) << progress.str();
    EXPECT_NE(trainer.contract(std::nullopt)
                  .training_summary.find("\"images_per_step\": " +
                                         std::to_string(8 * (10 - holdout.size()))),
              std::string::npos);
  }
  Trainer all_classes = make_trainer(small_run(40, 3, 1));
  std::ostringstream progress;
  all_classes.train(progress);
  EXPECT_EQ(progress.str().find("note:"), std::string::npos) << progress.str();
}

// --centre: after training the net subtracts the mean of its outputs over the
// training images, so their embeddings (before normalisation) average to zero.
TEST(Training, CentredRunAveragesToZeroOnItsTrainingImages) {
  TrainOptions options = small_run(50, 5, 1);
  options.centre = true;
  TrainValidationSplit split = training_split(fashion_mnist(), options.data, options.seed);
  const ImageSet train = split.train;
  Trainer trainer(options, std::move(split.train), std::move(split.validation));
  EXPECT_FALSE(trainer.embedding_net()->centre().defined());
  std::ostringstream progress;
  trainer.train(progress);
  const torch::Tensor centre = trainer.embedding_net()->centre();
  ASSERT_TRUE(centre.defined());
  EXPECT_GT(centre.abs().max().item<float>(), 0.01f);
  const cv::Mat outputs = trainer.outputs(train);
  cv::Mat mean;
  cv::reduce(outputs, mean, 0, cv::REDUCE_AVG);
  EXPECT_LT(cv::norm(mean, cv::NORM_INF), 1e-4);
  EXPECT_NE(trainer.contract(std::nullopt).training_summary.find("\"centre\": true"),
            std::string::npos);
}

// The proxy loss beside the triplet loss: the run learns (Precision@1 well
// above chance), its summary records the weight, its checkpoint carries the
// proxies so that a resumed run ends where an uninterrupted one does, and a
// run without proxies refuses that checkpoint.
TEST(Training, ProxyLossTrainsAndResumesExactly) {
  TrainOptions options = small_run(60, 10, 2);
  options.mining = Mining::kSemiHard;
  options.proxy_weight = 1.0;
  options.schedule = Schedule::kStep;  // as CheckpointResumesExactly, below
  std::ostringstream progress;
  Trainer uninterrupted = make_trainer(options);
  const auto history = uninterrupted.train(progress);
  EXPECT_GT(history.back().validation->precision_at_1, 0.5);
  EXPECT_NE(uninterrupted.contract(std::nullopt).training_summary.find("\"proxy_weight\": 1"),
            std::string::npos);

  TrainOptions first_half = options;
  first_half.epochs = 1;
  first_half.checkpoint_path = temp_path("proxies.ckpt");
  make_trainer(first_half).train(progress);
  Trainer resumed = make_trainer(options);
  resumed.load_checkpoint(first_half.checkpoint_path);
  resumed.train(progress);
  expect_same_weights(uninterrupted, resumed);

  TrainOptions without = options;
  without.proxy_weight = 0.0;
  Trainer plain = make_trainer(without);
  EXPECT_THROW(plain.load_checkpoint(first_half.checkpoint_path), Error);
  std::remove(first_half.checkpoint_path.c_str());
}

// Loading a checkpoint restores the weights; the resumed run then ends
// exactly where the uninterrupted run with the same seed ends (which needs
// the optimizer state and the per-epoch sampling seeds as well).
TEST(Training, CheckpointResumesExactly) {
  TrainOptions options = small_run(30, 3, 2);
  options.schedule = Schedule::kStep;  // a rate that depends on the epoch, not the run length
  options.step_epochs = 1;
  options.step_gamma = 0.5;
  std::ostringstream progress;

  Trainer uninterrupted = make_trainer(options);
  uninterrupted.train(progress);

  TrainOptions first_half = options;
  first_half.epochs = 1;
  first_half.checkpoint_path = temp_path("resume.ckpt");
  Trainer interrupted = make_trainer(first_half);
  interrupted.train(progress);

  Trainer resumed = make_trainer(options);
  resumed.load_checkpoint(first_half.checkpoint_path);
  EXPECT_EQ(resumed.epochs_done(), 1);
  expect_same_weights(interrupted, resumed);
  resumed.train(progress);
  EXPECT_EQ(resumed.epochs_done(), 2);
  expect_same_weights(uninterrupted, resumed);
  std::remove(first_half.checkpoint_path.c_str());
}

// --profile times each phase of a step and changes nothing it computes: the
// same seed gives bit-identical weights with and without it, for the mined
// triplet and the pair objectives, and the epoch prints one phase line.
TEST(Training, ProfilingLeavesWhatIsLearntUnchanged) {
  for (const Mode mode : {Mode::kTriplet, Mode::kPair}) {
    TrainOptions options = small_run(20, 3, 1);
    options.mode = mode;
    options.batch_size = 16;
    options.data.validation_fraction = 0.0;
    std::ostringstream plain_progress, profiled_progress;
    Trainer plain = make_trainer(options);
    plain.train(plain_progress);
    options.profile = true;
    Trainer profiled = make_trainer(options);
    profiled.train(profiled_progress);
    expect_same_weights(plain, profiled);
    EXPECT_EQ(plain_progress.str().find("phases"), std::string::npos);
    const std::string text = profiled_progress.str();
    for (const char *phase : {"sampling", "batch", "forward", "loss", "backward", "optimizer"})
      EXPECT_NE(text.find(phase), std::string::npos) << text;
  }
}

TEST(Training, CheckpointOfAnotherArchitectureIsRefused) {
  TrainOptions options = small_run(30, 1, 1);
  options.checkpoint_path = temp_path("other.ckpt");
  std::ostringstream progress;
  make_trainer(options).train(progress);
  TrainOptions wider = options;
  wider.model.embedding_dim = 8;
  Trainer trainer = make_trainer(wider);
  try {
    trainer.load_checkpoint(options.checkpoint_path);
    FAIL() << "a checkpoint of another architecture was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFormat);
    EXPECT_NE(std::string(e.what()).find(options.checkpoint_path), std::string::npos);
  }
  EXPECT_THROW(trainer.load_checkpoint(temp_path("missing.ckpt")), Error);
  std::remove(options.checkpoint_path.c_str());
}

TEST(Training, DivergenceStopsWithAClearMessage) {
  TrainOptions options = small_run(30, 20, 1);
  options.optimizer = OptimizerKind::kSgd;
  options.learning_rate = 1e30;
  options.schedule = Schedule::kConstant;
  Trainer trainer = make_trainer(options);
  std::ostringstream progress;
  try {
    trainer.train(progress);
    FAIL() << "training at learning rate 1e30 did not stop";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("the loss became"), std::string::npos) << e.what();
  }
}

// The exported contract (size, colour, mean, scale) makes the element's
// Embedder reproduce the trainer's embeddings of the same 8-bit images.
TEST(Training, ExportedModelEmbedsLikeTheTrainer) {
  TrainOptions options = small_run(30, 2, 1);
  Trainer trainer = make_trainer(options);
  std::ostringstream progress;
  trainer.train(progress);
  const std::string path = temp_path("trained.onnx");
  export_onnx(trainer.embedding_net(), trainer.contract(trainer.validate()), path);

  const ImageSet &test = fashion_mnist().test;
  ImageSet sample = subset(test, {0, 1, 2, 3, 4, 5, 6, 7});
  std::vector<cv::Mat> images;
  for (std::size_t i = 0; i < sample.size(); ++i) images.push_back(sample.to_mat(i));
  Embedder embedder = Embedder::load(path);
  const cv::Mat from_element = embedder.embed(images);
  const cv::Mat from_trainer = trainer.embed(sample);
  EXPECT_LE(cv::norm(from_element, from_trainer, cv::NORM_INF), kParityTolerance);
  EXPECT_EQ(embedder.contract().thresholds.count(Metric::kEuclidean), 1u);
  std::remove(path.c_str());
}

// --validation-classes: seen classes kept out of training as the held-out
// ones are, scored few-shot on their training-file images after each epoch
// (what settings are chosen on), and named in the model's summary.
TEST(Training, ValidationClassesStayOutOfTrainingAndScoreFewShot) {
  TrainOptions options = small_run(60, 10, 1);
  options.data.holdout_classes = {2, 5, 8};
  options.data.validation_classes = {0, 1, 7};
  const TrainValidationSplit split = training_split(fashion_mnist(), options.data, options.seed);
  for (const ImageSet *set : {&split.train, &split.validation})
    for (const int label : set->labels)
      for (const int kept_out : {0, 1, 2, 5, 7, 8}) ASSERT_NE(label, kept_out);

  Trainer trainer(options, split.train, split.validation);
  EXPECT_FALSE(trainer.validate()->validation_classes_1shot);
  const ImageSet validation_classes =
      split_holdout_classes(fashion_mnist().train, options.data.validation_classes).held_out;
  trainer.set_validation_classes(validation_classes);
  std::ostringstream progress;
  const std::vector<EpochMetrics> history = trainer.train(progress);
  const auto &score = history.back().validation->validation_classes_1shot;
  ASSERT_TRUE(score);
  std::cout << progress.str();
  // 3-way: chance is 1/3; T-shirts, trousers and sneakers look nothing
  // alike, so even a barely trained net tells them apart well above it.
  EXPECT_GT(score->accuracy, 0.6);
  EXPECT_LT(score->accuracy, 1.0);
  EXPECT_NE(progress.str().find("validation classes 3-way 1-shot"), std::string::npos);
  EXPECT_NE(trainer.contract(std::nullopt).training_summary.find(
                "\"validation_classes\": [0,1,7]"),
            std::string::npos);

  ImageSet one_class = split_holdout_classes(fashion_mnist().train, {0}).held_out;
  EXPECT_THROW(trainer.set_validation_classes(one_class), Error);
}

}  // namespace
}  // namespace siamese::trainer
