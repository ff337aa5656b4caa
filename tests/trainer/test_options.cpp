// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The trainer's command line: values land in the right fields, and every
// malformed line is refused with a message naming the option and value.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "options.h"

namespace siamese::trainer {
namespace {

std::string usage_error(const std::vector<std::string> &args) {
  try {
    parse_command_line(args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "";
}

// The shortest valid calibrate line, then `extra`.
std::vector<std::string> calibrate_line(const std::vector<std::string> &extra = {}) {
  std::vector<std::string> args{"calibrate", "--model", "m", "--data", "d", "--output", "o"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(Options, ParsesATrainingLine) {
  const CommandLine line = parse_command_line({"train",
                                               "--data",
                                               "/data",
                                               "--holdout-classes=2,5,8",
                                               "--validation-classes",
                                               "0,4",
                                               "--mode",
                                               "pair",
                                               "--pair-loss",
                                               "contrastive",
                                               "--channels",
                                               "8,16",
                                               "--embedding-dim",
                                               "32",
                                               "--projector-hidden",
                                               "256",
                                               "--lr",
                                               "0.01",
                                               "--optimizer",
                                               "sgd",
                                               "--lr-schedule",
                                               "step",
                                               "--steps",
                                               "100",
                                               "--no-augment",
                                               "--centre",
                                               "--outlier-images",
                                               "700",
                                               "--outlier-classes",
                                               "per-kind",
                                               "--tilted-classes",
                                               "--soften",
                                               "0.25",
                                               "--checkpoint",
                                               "c.pt",
                                               "--resume",
                                               "--threads",
                                               "2",
                                               "--seed",
                                               "9"});
  ASSERT_EQ(line.command, Command::kTrain);
  const TrainOptions &o = line.train;
  EXPECT_EQ(o.data.path, "/data");
  EXPECT_EQ(o.data.holdout_classes, (std::vector<int>{2, 5, 8}));
  EXPECT_EQ(o.data.validation_classes, (std::vector<int>{0, 4}));
  EXPECT_EQ(o.mode, Mode::kPair);
  EXPECT_EQ(o.pair_loss, PairLoss::kContrastive);
  EXPECT_EQ(o.model.channels, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(o.model.embedding_dim, 32);
  EXPECT_EQ(o.model.projector_hidden, 256);
  EXPECT_DOUBLE_EQ(o.learning_rate, 0.01);
  EXPECT_EQ(o.optimizer, OptimizerKind::kSgd);
  EXPECT_EQ(o.schedule, Schedule::kStep);
  EXPECT_EQ(o.steps, 100);
  EXPECT_FALSE(o.augment);
  EXPECT_TRUE(o.centre);
  EXPECT_EQ(o.outlier_images, 700);
  EXPECT_TRUE(o.outlier_class_per_kind);
  EXPECT_TRUE(o.tilted_classes);
  EXPECT_FALSE(o.turned_classes);  // tilts do not bring the right angles with them
  EXPECT_DOUBLE_EQ(o.proxy_weight, 0.0);  // the triplet loss alone unless asked
  EXPECT_DOUBLE_EQ(o.soften, 0.25);
  EXPECT_TRUE(o.resume);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.seed, 9u);
}

TEST(Options, ParsesAnEvaluationLine) {
  const CommandLine line = parse_command_line(
      {"evaluate", "--model", "m.onnx", "--data", "/d", "--episodes", "10", "--json", "r.json"});
  ASSERT_EQ(line.command, Command::kEvaluate);
  EXPECT_EQ(line.evaluate.model_path, "m.onnx");
  EXPECT_EQ(line.evaluate.episodes, 10);
  EXPECT_EQ(line.evaluate.json_path, "r.json");
}

TEST(Options, ParsesTheAggregateRule) {
  // --aggregate names the element's rules; the default is the element's own.
  EXPECT_EQ(parse_command_line({"evaluate", "--model", "m", "--data", "d"}).evaluate.aggregate,
            decision_defaults::kAggregate);
  for (const Aggregate aggregate : {Aggregate::kBest, Aggregate::kPrototype})
    EXPECT_EQ(parse_command_line({"evaluate", "--model", "m", "--data", "d", "--aggregate",
                                  to_string(aggregate)})
                  .evaluate.aggregate,
              aggregate);
  const std::string error =
      usage_error({"evaluate", "--model", "m", "--data", "d", "--aggregate", "mean"});
  EXPECT_NE(error.find("--aggregate"), std::string::npos) << error;
  EXPECT_NE(error.find("best or prototype"), std::string::npos) << error;
}

TEST(Options, ParsesTheOpenSetOptions) {
  // The open-set protocol's gallery, split, impostors and curve.
  const EvaluateOptions o =
      parse_command_line({"evaluate", "--model", "m.onnx", "--data", "/d", "--protocol", "open",
                          "--split", "validation", "--validation-classes", "2,5", "--gallery-size",
                          "5", "--draws", "2", "--generated-impostors", "30", "--impostors",
                          "/imp", "--curve", "c.png"})
          .evaluate;
  EXPECT_EQ(o.protocol, Protocol::kOpen);
  EXPECT_EQ(o.open_set.split, OpenSetSplit::kValidation);
  EXPECT_EQ(o.open_set.validation_classes, (std::vector<int>{2, 5}));
  EXPECT_EQ(o.open_set.gallery_size, 5);
  EXPECT_EQ(o.open_set.draws, 2);
  EXPECT_EQ(o.open_set.generated_impostors, 30u);
  EXPECT_EQ(o.open_set.impostors_dir, "/imp");
  EXPECT_EQ(o.curve_path, "c.png");
  EXPECT_NE(usage_error({"evaluate", "--model", "m", "--data", "d", "--split", "train"})
                .find("--split"),
            std::string::npos);
  EXPECT_NE(usage_error({"evaluate", "--model", "m", "--data", "d", "--gallery-size", "0"})
                .find("--gallery-size"),
            std::string::npos);
}

TEST(Options, ParsesACalibrationLine) {
  const CommandLine line =
      parse_command_line({"calibrate", "--model", "m.onnx", "--data", "/data", "--output",
                          "out.onnx", "--cohort-size", "200", "--cohort-outliers", "70"});
  ASSERT_EQ(line.command, Command::kCalibrate);
  EXPECT_EQ(line.calibrate.cohort_size, 200);
  EXPECT_EQ(line.calibrate.cohort_outliers, 70);
  EXPECT_EQ(parse_command_line(calibrate_line()).calibrate.cohort_outliers, 0);
  EXPECT_NE(usage_error(calibrate_line({"--cohort-outliers", "-1"})).find("--cohort-outliers"),
            std::string::npos);
  // --background-centres: at least one per class; unset, the class means.
  EXPECT_EQ(line.calibrate.background_centres, 1);
  EXPECT_EQ(parse_command_line(calibrate_line({"--background-centres", "8"}))
                .calibrate.background_centres,
            8);
  EXPECT_NE(usage_error(calibrate_line({"--background-centres", "0"})).find("--background-centres"),
            std::string::npos);
  // --frame-size: images as they are unless asked; for calibrate and evaluate alike.
  EXPECT_EQ(line.calibrate.open_set.frame_size, 0);
  EXPECT_EQ(
      parse_command_line(calibrate_line({"--frame-size", "224"})).calibrate.open_set.frame_size,
      224);
  EXPECT_EQ(parse_command_line({"evaluate", "--model", "m", "--data", "d", "--frame-size", "56"})
                .evaluate.open_set.frame_size,
            56);
  EXPECT_NE(usage_error(calibrate_line({"--frame-size", "-1"})).find("--frame-size"),
            std::string::npos);
  // --rates: rates strictly between 0 and 1; unset, calibration's own.
  EXPECT_TRUE(line.calibrate.rates.empty());
  EXPECT_EQ(parse_command_line(calibrate_line({"--rates", "0.01,0.05,0.1"})).calibrate.rates,
            (std::vector<double>{0.01, 0.05, 0.1}));
  for (const char *bad : {"0", "1", "0.5,1.5", "x", ""})
    EXPECT_NE(usage_error(calibrate_line({"--rates", bad})).find("--rates"), std::string::npos)
        << bad;
}

TEST(Options, HelpOnRequestAndAUsageErrorWithoutACommand) {
  EXPECT_EQ(parse_command_line({"--help"}).command, Command::kHelp);
  EXPECT_EQ(parse_command_line({"--version"}).command, Command::kVersion);
  EXPECT_NE(usage().find("siamese-train train"), std::string::npos);
  EXPECT_NE(usage().find("siamese-train export"), std::string::npos);
  EXPECT_NE(usage_error({}).find("train, evaluate or export"), std::string::npos);
}

// A train line keeps its arguments (checkpoints store them for export); an
// export line needs a checkpoint and an output.
TEST(Options, ExportLinesAndTheArgumentsTrainKeeps) {
  const CommandLine train = parse_command_line({"train", "--data", "d", "--epochs", "3"});
  EXPECT_EQ(train.train.arguments, (std::vector<std::string>{"--data", "d", "--epochs", "3"}));
  EXPECT_EQ(train.train.classes_per_batch, 0);  // fitted to the data's classes
  const CommandLine line = parse_command_line(
      {"export", "--checkpoint", "c.ckpt", "--output", "m.onnx", "--data", "/d", "--threads", "2"});
  ASSERT_EQ(line.command, Command::kExport);
  EXPECT_EQ(line.export_model.checkpoint_path, "c.ckpt");
  EXPECT_EQ(line.export_model.output_path, "m.onnx");
  EXPECT_EQ(line.export_model.data_path, "/d");
  EXPECT_EQ(line.export_model.threads, 2);
  EXPECT_NE(usage_error({"export", "--output", "m.onnx"}).find("--checkpoint"), std::string::npos);
  EXPECT_NE(usage_error({"export", "--checkpoint", "c"}).find("--output"), std::string::npos);
}

// The deployed embedding defaults to the square-rooted pooled features,
// except under a pair head, which can only score the projection it was
// trained on.
TEST(Options, EmbeddingOutputDefaultsByMethod) {
  const TrainOptions triplet = parse_command_line({"train", "--data", "d"}).train;
  EXPECT_EQ(triplet.embedding_output(), EmbeddingOutput::kPooledSqrt);
  const TrainOptions bce = parse_command_line({"train", "--data", "d", "--mode", "pair"}).train;
  EXPECT_EQ(bce.embedding_output(), EmbeddingOutput::kProjection);
  const TrainOptions chosen =
      parse_command_line({"train", "--data", "d", "--embedding-output", "projection"}).train;
  EXPECT_EQ(chosen.embedding_output(), EmbeddingOutput::kProjection);
  EXPECT_NE(usage_error({"train", "--data", "d", "--mode", "pair", "--embedding-output", "pooled"})
                .find("--pair-loss bce"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--embedding-output", "fc"}).find("pooled"),
            std::string::npos);
}

TEST(Options, RefusesMalformedLinesNamingTheCulprit) {
  EXPECT_NE(usage_error({"train", "--data", "d", "--lr", "fast"}).find("--lr"), std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--mining", "hardest"}).find("batch-hard"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--epochs", "0"}).find("\"0\""),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--bogus"}).find("--bogus"), std::string::npos);
  EXPECT_NE(usage_error({"train", "--data"}).find("needs a value"), std::string::npos);
  EXPECT_NE(usage_error({"train"}).find("--data"), std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--resume"}).find("--checkpoint"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--margin", "0"}).find("--margin"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--projector-hidden", "-1"}).find("\"-1\""),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--outlier-images", "-5"}).find("--outlier-images"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--soften", "1.5"}).find("--soften"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--soften", "-0.1"}).find("\"-0.1\""),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--outlier-classes", "many"}).find("\"many\""),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--outlier-classes", "per-kind"})
                .find("--outlier-classes per-kind needs --outlier-images"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--mode", "pair", "--centre"}).find("--centre"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--holdout-classes", "2,5,8",
                         "--validation-classes", "0,5"})
                .find("class 5 is a held-out class"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--mode", "pair", "--proxy-weight", "1"})
                .find("--proxy-weight needs --mode triplet"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--mining", "none", "--proxy-weight", "1"})
                .find("--proxy-weight needs --mode triplet"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--proxy-weight", "-1"}).find("--proxy-weight"),
            std::string::npos);
  EXPECT_NE(usage_error({"train", "--data", "d", "--proxy-temperature", "0"})
                .find("--proxy-temperature must be positive"),
            std::string::npos);
  EXPECT_NE(usage_error({"fit"}).find("\"fit\""), std::string::npos);
  EXPECT_NE(usage_error({"evaluate", "--data", "d"}).find("--model"), std::string::npos);
}

TEST(Options, EnumSpellingsRoundTrip) {
  EXPECT_STREQ(to_string(Mining::kSemiHard), "semi-hard");
  EXPECT_EQ(parse_command_line({"train", "--data", "d", "--mining", to_string(Mining::kSemiHard)})
                .train.mining,
            Mining::kSemiHard);
}

}  // namespace
}  // namespace siamese::trainer
