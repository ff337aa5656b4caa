// SPDX-License-Identifier: LGPL-2.1-or-later
//
// siamese-train: trains a Siamese embedding network on labelled images and
// exports it as ONNX for the siamesematch element; evaluates exported models
// through OpenCV DNN; exports training checkpoints.  Exit status: 0 success, 1 bad data or a runtime
// failure, 2 bad usage.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <opencv2/core/utility.hpp>
#include <optional>
#include <string>
#include <vector>

#include <map>
#include <set>

#include "atomic_file.h"
#include "calibration.h"
#include "decision_defaults.h"
#include "onnx_model.h"
#include "data_source.h"
#include "evaluate_onnx.h"
#include "export.h"
#include "options.h"
#include "outliers.h"
#include "train.h"

namespace {

using namespace siamese::trainer;

constexpr int kUsageError = 2;
constexpr int kFailure = 1;

// Every file the command will write, checked before the work that precedes
// the writing (a training run of hours must not end on "cannot write").
void check_outputs_writable(const std::vector<std::string> &paths) {
  for (const std::string &path : paths)
    if (!path.empty()) siamese::check_writable(path);
}

// The training images of the run, split as `options` says, in a Trainer.
Trainer make_trainer(const TrainOptions &options) {
  const TrainTestSets source = load_source(options.data, options.seed);
  TrainValidationSplit split = training_split(source, options.data, options.seed);
  std::cerr << "siamese-train: " << split.train.size() << " training and "
            << split.validation.size() << " validation images from " << options.data.path << '\n';
  Trainer trainer(options, std::move(split.train), std::move(split.validation));
  if (!options.data.validation_classes.empty())
    trainer.set_validation_classes(
        split_holdout_classes(source.train, options.data.validation_classes).held_out);
  return trainer;
}

// Calibrates on the validation images and writes the ONNX model.
void write_model(Trainer &trainer, const std::string &path) {
  const std::vector<ParityResult> parity =
      export_onnx(trainer.embedding_net(), trainer.contract(trainer.validate()), path);
  std::cerr << "siamese-train: wrote " << path << " (OpenCV DNN parity:";
  for (const ParityResult &result : parity)
    std::cerr << " batch " << result.batch << " max diff " << result.max_abs_difference;
  std::cerr << ")\n";
}

int train_command(const TrainOptions &options) {
  check_outputs_writable({options.output_path, options.checkpoint_path, options.log_path});
  Trainer trainer = make_trainer(options);
  if (options.resume) {
    trainer.load_checkpoint(options.checkpoint_path);
    std::cerr << "siamese-train: resumed from " << options.checkpoint_path << " after epoch "
              << trainer.epochs_done() << " of " << trainer.total_epochs() << '\n';
  }
  trainer.train(std::cerr);
  if (!options.output_path.empty()) write_model(trainer, options.output_path);
  return 0;
}

// Rebuilds the run from the options the checkpoint holds and exports its
// weights as that run's own export would have.
int export_command(const ExportOptions &o) {
  check_outputs_writable({o.output_path});
  std::vector<std::string> arguments{"train"};
  for (std::string &argument : checkpoint_arguments(o.checkpoint_path))
    arguments.push_back(std::move(argument));
  TrainOptions options;
  try {
    options = parse_command_line(arguments).train;
  } catch (const UsageError &e) {
    throw std::runtime_error("checkpoint " + o.checkpoint_path +
                             " holds training options this siamese-train does not accept: " +
                             e.what());
  }
  if (!o.data_path.empty()) options.data.path = o.data_path;
  options.threads = o.threads;
  options.resume = false;
  options.checkpoint_path.clear();
  options.log_path.clear();
  Trainer trainer = make_trainer(options);
  trainer.load_checkpoint(o.checkpoint_path);
  std::cerr << "siamese-train: " << o.checkpoint_path << " after epoch " << trainer.epochs_done()
            << " of " << trainer.total_epochs() << '\n';
  trainer.finish();
  write_model(trainer, o.output_path);
  return 0;
}

OpenSetOptions open_set_options(const OpenSetSource &source, uint64_t seed) {
  OpenSetOptions options;
  options.gallery_size = source.gallery_size;
  options.draws = source.draws;
  options.seed = seed;
  return options;
}

int evaluate_command(const EvaluateOptions &options) {
  check_outputs_writable({options.json_path});
  check_split_seed(options.model_path, options.data, options.open_set.split, options.seed);
  cv::setNumThreads(options.threads);
  const TrainTestSets source = load_source(options.data, options.seed);
  std::cout << "Split: " << to_string(options.open_set.split) << '\n';
  std::string json = "\"split\": \"" + std::string(to_string(options.open_set.split)) + "\"";
  if (options.protocol != Protocol::kOpen) {
    const ClosedSetImages images =
        closed_set_images(source, options.data, options.open_set, options.seed);
    EvaluationOptions evaluation;
    evaluation.holdout_classes = images.holdout_classes;
    evaluation.episodes = options.episodes;
    evaluation.queries_per_class = options.queries_per_class;
    evaluation.seed = options.seed;
    evaluation.aggregate = options.aggregate;
    evaluation.split = to_string(options.open_set.split);
    const EvaluationReport report =
        evaluate_onnx(options.model_path, images.sets.train, images.sets.test, evaluation);
    std::cout << format_table(report);
    json += ", \"closed_set\": " + to_json(report);
  }
  if (options.protocol != Protocol::kClosed) {
    // The element's decisions for the model, under the rule asked for.
    const DecisionsFor decisions = [&options](const siamese::ModelContract &contract) {
      std::vector<Decision> chosen = open_set_decisions(contract);
      for (Decision &decision : chosen) decision.settings.aggregate = options.aggregate;
      return chosen;
    };
    const OpenSetReport report = evaluate_open_set_onnx(
        options.model_path,
        open_set_images(source, options.data, options.open_set, options.seed),
        open_set_options(options.open_set, options.seed), decisions);
    std::cout << format_open_set(report);
    json += ", \"open_set\": " + open_set_json(report);
    if (!options.curve_path.empty()) write_open_set_curve(report, options.curve_path);
  }
  if (!options.json_path.empty())
    siamese::write_file_atomically(options.json_path, "{" + json + "}");
  return 0;
}

// LibTorch's OpenMP threads spin at every barrier for a while before they
// sleep (libgomp's default); on a machine whose cores are shared, a thread
// waiting for one that was descheduled burns its core for nothing (at 2
// threads on 2 busy cores, most of a step's CPU time).  libgomp reads its wait
// policy from the environment once, when it is loaded, so a multi-threaded run
// sets OMP_WAIT_POLICY=passive (unless the user chose a policy) and starts
// itself again; if that fails it goes on as it is.
void wait_passively_between_parallel_regions(int threads, char **argv) {
  if (threads < 2 || std::getenv("OMP_WAIT_POLICY")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
}

// Generated outliers of the cohort are drawn from the run's seed plus this,
// so that they are not the training's own (train --outlier-images draws from
// the seed itself).
constexpr uint64_t kCohortOutlierSeed = 1000003;

// About --cohort-size training images of the seen classes, the same number
// of each (neither held out nor validation classes, nor validation images).
ImageSet cohort_images(const TrainTestSets &source, const CalibrateOptions &options) {
  DataOptions seen = options.data;
  for (int label : options.open_set.validation_classes) seen.holdout_classes.push_back(label);
  const ImageSet train = training_split(source, seen, options.seed).train;
  const std::set<int> classes(train.labels.begin(), train.labels.end());
  const std::size_t per_class = (options.cohort_size + classes.size() - 1) / classes.size();
  return limit_per_class(train, per_class, options.seed);
}

// Rows of L2-normalised embeddings as the contract stores them.
siamese::Cohort embeddings_of(const cv::Mat &rows) {
  siamese::Cohort set;
  set.count = rows.rows;
  const cv::Mat continuous = rows.isContinuous() ? rows : rows.clone();
  set.embeddings.assign(continuous.ptr<float>(), continuous.ptr<float>() + continuous.total());
  return set;
}

// The L2-normalised mean embedding of each class of `labels`, in label order.
cv::Mat class_means(const cv::Mat &embeddings, const std::vector<int> &labels) {
  std::map<int, cv::Mat> sums;
  for (int row = 0; row < embeddings.rows; ++row) {
    cv::Mat &sum = sums[labels[row]];
    if (sum.empty()) sum = cv::Mat::zeros(1, embeddings.cols, CV_32F);
    sum += embeddings.row(row);
  }
  cv::Mat means;
  for (auto &[label, sum] : sums) {
    const double norm = cv::norm(sum);
    if (norm > 0.0) means.push_back(cv::Mat(sum / norm));  // opposite embeddings cancel: no mean
  }
  return means;
}

// K L2-normalised k-means centres of each class of `labels` (all of its
// embeddings when it has no more than K), class by class; K = 1: the class
// means.  Seeded, so that a calibration is repeatable.
cv::Mat class_centres(const cv::Mat &embeddings, const std::vector<int> &labels, int k,
                      uint64_t seed) {
  if (k == 1) return class_means(embeddings, labels);
  std::map<int, cv::Mat> members;
  for (int row = 0; row < embeddings.rows; ++row)
    members[labels[row]].push_back(embeddings.row(row));
  cv::Mat centres;
  for (auto &[label, rows] : members) {
    if (rows.rows <= k) {
      centres.push_back(rows);
      continue;
    }
    cv::theRNG().state = seed + static_cast<uint64_t>(label);
    cv::Mat assignment, found;
    cv::kmeans(rows, k, assignment,
               cv::TermCriteria(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 100, 1e-4), 3,
               cv::KMEANS_PP_CENTERS, found);
    for (int row = 0; row < found.rows; ++row) {
      const double norm = cv::norm(found.row(row));
      if (norm > 0.0) centres.push_back(cv::Mat(found.row(row) / norm));
    }
  }
  return centres;
}

int calibrate_command(const CalibrateOptions &options) {
  check_split_seed(options.model_path, options.data, options.open_set.split, options.seed);
  cv::setNumThreads(options.threads);
  const TrainTestSets source = load_source(options.data, options.seed);
  siamese::Embedder embedder = siamese::Embedder::load(options.model_path);
  siamese::ModelContract contract = embedder.contract();

  // The cohort and the background are embedded the way the evaluated frames
  // are (--frame-size), so that a frame's normalised score compares like
  // with like.
  const int frame_size = options.open_set.frame_size;
  const ImageSet seen = cohort_images(source, options);
  const cv::Mat seen_embeddings = embed_set(embedder, seen, kEmbedBatch, frame_size);
  const cv::Mat outliers =
      options.cohort_outliers > 0
          ? embed_set(embedder,
                      generate_outliers(seen, options.cohort_outliers, 0,
                                        options.seed + kCohortOutlierSeed),
                      kEmbedBatch, frame_size)
          : cv::Mat();
  cv::Mat cohort = seen_embeddings.clone();
  if (!outliers.empty()) cohort.push_back(outliers);
  contract.cohort = embeddings_of(cohort);
  cv::Mat background = class_centres(seen_embeddings, seen.labels, options.background_centres,
                                     options.seed);
  const int class_points = background.rows;
  if (!outliers.empty()) background.push_back(outliers);
  contract.background = embeddings_of(background);
  std::cerr << "siamese-train: cohort of " << seen.size() << " training images and "
            << options.cohort_outliers << " generated outliers; background of " << class_points
            << (options.background_centres == 1 ? " class means" : " class centres")
            << " and the same outliers\n";

  const OpenSetImages images =
      open_set_images(source, options.data, options.open_set, options.seed);
  const OpenSetData data = embed_open_set(embedder, images);
  CalibrationOptions calibration_options;
  calibration_options.open_set = open_set_options(options.open_set, options.seed);
  calibration_options.selection_rate = siamese::decision_defaults::kFalseAcceptRate;
  if (!options.rates.empty()) calibration_options.rates = options.rates;
  const Calibration calibration = calibrate(data, contract, calibration_options);
  std::cout << format_calibration(calibration);

  contract.calibrated = calibration.points;
  contract.recommended = calibration.recommended;
  contract.calibration_frame_size = frame_size;
  siamese::rewrite_onnx_metadata(options.model_path, options.output_path, contract.to_metadata());
  std::cerr << "siamese-train: wrote " << options.output_path << '\n';
  if (!options.json_path.empty())
    siamese::write_file_atomically(options.json_path, calibration_json(calibration));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  CommandLine line;
  try {
    line = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError &e) {
    std::cerr << "siamese-train: " << e.what() << "\n\n" << usage();
    return kUsageError;
  }
  wait_passively_between_parallel_regions(
      line.command == Command::kTrain      ? line.train.threads
      : line.command == Command::kEvaluate ? line.evaluate.threads
      : line.command == Command::kExport   ? line.export_model.threads
                                           : 1,
      argv);
  try {
    switch (line.command) {
      case Command::kHelp: std::cout << usage(); return 0;
      case Command::kTrain: return train_command(line.train);
      case Command::kEvaluate: return evaluate_command(line.evaluate);
      case Command::kExport: return export_command(line.export_model);
      case Command::kVersion: std::cout << "siamese-train " << SIAMESE_VERSION << '\n'; return 0;
      case Command::kCalibrate: return calibrate_command(line.calibrate);
    }
  } catch (const std::exception &e) {
    std::cerr << "siamese-train: " << e.what() << '\n';
  }
  return kFailure;
}
