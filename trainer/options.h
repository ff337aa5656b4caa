// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The trainer's command line: one plain struct per subcommand, filled by
// parse_command_line().  No LibTorch here, so that main.cpp and the parser
// compile in a second.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "decision_defaults.h"

namespace siamese::trainer {

// How pairs or triplets are formed and scored (docs/method.md).
enum class Mode { kPair, kTriplet };
// Pair mode: the founding |h1 - h2| -> dense -> sigmoid head with binary
// cross-entropy, or the margin contrastive loss of Hadsell, Chopra & LeCun.
enum class PairLoss { kBce, kContrastive };
// Triplet mode: random triplets, or online mining over P x K batches.
enum class Mining { kNone, kBatchHard, kSemiHard };
enum class OptimizerKind { kAdam, kSgd };
// What the exported model outputs: the projection the losses train, the
// pooled features under it, or their square roots (power normalisation:
// pooled ReLU features are skewed, with a few large values dominating cosine
// similarity; the square root evens them out).
enum class EmbeddingOutput { kProjection, kPooled, kPooledSqrt };
enum class Schedule { kConstant, kStep, kCosine };

// P of a P x K batch unless --classes-per-batch says otherwise: eight
// classes a step give mining enough negatives without making the batch
// large (8 x 8 images).
constexpr int64_t kDefaultClassesPerBatch = 8;

// Thrown for a malformed command line; main() prints it with the usage and
// exits with status 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Where the images come from and how they are split.
struct DataOptions {
  std::string path;                  // IDX directory (Fashion-MNIST layout) or image folder
  std::vector<int> holdout_classes;  // class indices kept out of training entirely
  // train: seen classes kept out of training as well, for choosing settings
  // only: their training-file images score few-shot after every epoch, and
  // `calibrate --validation-classes` enrols the same ones.  The held-out
  // classes' images (the reported figures) then serve nothing else.
  std::vector<int> validation_classes;
  double validation_fraction = 0.1;  // of the training classes' images, fixed-seed split
  int64_t max_per_class = 0;         // training images per class; 0: all (quick runs, tests)
  int image_size = 64;               // image folders: resize to this square size
  bool grayscale = false;            // image folders: load as one grey channel
};

struct ModelOptions {
  std::vector<int64_t> channels{32, 64, 128};  // one stage per entry, max-pool between stages
  int64_t convs_per_stage = 1;
  int64_t embedding_dim = 64;  // the projection the losses see
  // > 0: a hidden layer (Linear -> BatchNorm -> ReLU) of this width between
  // the pooled features and the projection, meant to absorb the
  // specialisation to the training classes so that the pooled features keep
  // more of what describes unseen ones (on Fashion-MNIST it did not help:
  // models/README.md).
  int64_t projector_hidden = 0;
  // The exported embedding.  Unset: square-rooted pooled features, or the
  // projection when a pair head is trained (the head scores the projection).
  std::optional<EmbeddingOutput> output;
  std::vector<int64_t> head_hidden{32};  // pair head hidden widths (pair mode with BCE)
};

struct TrainOptions {
  DataOptions data;
  ModelOptions model;
  Mode mode = Mode::kTriplet;
  PairLoss pair_loss = PairLoss::kBce;
  bool has_head() const { return mode == Mode::kPair && pair_loss == PairLoss::kBce; }
  // model.output, or its default for this method.
  EmbeddingOutput embedding_output() const {
    return model.output.value_or(has_head() ? EmbeddingOutput::kProjection
                                            : EmbeddingOutput::kPooledSqrt);
  }
  Mining mining = Mining::kBatchHard;
  double margin = 0.2;  // triplet: on squared L2; contrastive: on L2 distance
  bool augment = true;  // random shifts of up to two pixels
  bool flip = false;    // and left-right mirroring (clothes, objects; not digits or text)
  double max_scale = 0.0;     // and a zoom by up to this fraction either way
  double max_rotation = 0.0;  // and a rotation by up to this many degrees either way
  double soften = 0.0;        // and this share enlarged and shrunk back (augment.h)
  // Also train on each class upside down and on its side, as new classes:
  // more classes to separate make features that describe more shapes, so
  // they carry over better to classes never seen in training.
  bool turned_classes = false;
  // And tilted by 45 and by 135 degrees, as two more groups of classes.
  bool tilted_classes = false;
  // Also train on this many generated outliers (outliers.h) as one class of
  // their own, after any turned classes: outlier exposure, which teaches the
  // metric to keep what is no class away from every class.  0: none.
  int64_t outlier_images = 0;
  // The outliers as one class, or as one class per kind (outliers.h).
  bool outlier_class_per_kind = false;
  // > 0: add this weight times the normalised-softmax proxy loss
  // (losses.h) to the mined triplet loss, over the same classes (turned
  // copies and the outlier class included).  0: the triplet loss alone.
  double proxy_weight = 0.0;
  double proxy_temperature = 0.05;
  // After training, subtract the mean output over the (upright) training
  // images from every embedding, in the model itself: cosine then compares
  // what tells images apart rather than what all of them share, which
  // matters most on classes the training never saw.
  bool centre = false;

  int64_t batch_size = 64;        // pairs or triplets per step (random sampling)
  // P of a P x K batch (mining); 0: kDefaultClassesPerBatch, or every
  // training class when the data has fewer (the trainer says so).
  int64_t classes_per_batch = 0;
  int64_t images_per_class = 8;   // K of a P x K batch (mining)
  int64_t epochs = 10;
  int64_t steps = 0;            // > 0: train exactly this many steps in total
  int64_t steps_per_epoch = 0;  // 0: one pass over the training images

  OptimizerKind optimizer = OptimizerKind::kAdam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  // SGD
  double weight_decay = 0.0;
  Schedule schedule = Schedule::kCosine;
  int64_t step_epochs = 5;  // step schedule: multiply by step_gamma every N epochs
  double step_gamma = 0.1;

  uint64_t seed = 1;
  int threads = 1;
  int64_t validation_references = 5000;  // reference images for the per-epoch P@1
  std::string log_path;                  // per-epoch metrics; .csv, or JSON lines otherwise
  std::string checkpoint_path;           // written after every epoch when set
  bool resume = false;                   // continue from checkpoint_path
  std::string output_path;               // the exported ONNX model when set
  bool profile = false;   // print where each epoch's step time went, phase by phase
  bool lockstep = false;  // benchmarks: one step per byte read from stdin (step_timing.h)
  // The train command line this came from (without "train"): checkpoints
  // keep it, so that `export` can rebuild the run from a checkpoint alone.
  std::vector<std::string> arguments;
};

// Exports a checkpoint as the train command that wrote it would have.
struct ExportOptions {
  std::string checkpoint_path;
  std::string output_path;
  std::string data_path;  // set: the training data is here now, not where the run read it
  int threads = 1;
};

// Which images an evaluation (or a calibration) uses.  The open set:
//   kTest:       enrolled = the test images of the held-out classes;
//                non-mated = the test images of the seen classes.
//   kValidation: enrolled = the TRAINING-file images of the validation
//                classes (never trained on: held out); non-mated = the
//                validation part of the seen classes' training images (the
//                same fixed-seed split training made, so never trained on).
//                Settings are chosen here, never on the test images.
// Both add generated impostors (digits, noise, flat frames; a different seed
// per split) and the --impostors folder.  The closed set (evaluate_onnx.h)
// on kValidation: references the seen classes' training part, queries their
// validation part, few-shot episodes on the enrolled classes' training-file
// images.
enum class OpenSetSplit { kTest, kValidation };

struct OpenSetSource {
  OpenSetSplit split = OpenSetSplit::kTest;
  // Validation split: classes whose training images are enrolled; empty:
  // the held-out classes.
  std::vector<int> validation_classes;
  int gallery_size = 3;
  int draws = 5;
  std::size_t generated_impostors = 999;  // a third each of digits, noise, flat frames
  std::string impostors_dir;              // a folder of anything else, or ""
  // > 0: every image reaches the model as an N x N frame that the embedder
  // shrinks, as in the element (embed_set()); 0: as it is.
  int frame_size = 0;
};

enum class Protocol { kClosed, kOpen, kBoth };

struct EvaluateOptions {
  std::string model_path;
  DataOptions data;
  Protocol protocol = Protocol::kBoth;
  int episodes = 2000;  // N-way K-shot episodes on held-out classes
  int queries_per_class = 5;
  // How a class's images score (few-shot episodes and open-set galleries).
  Aggregate aggregate = decision_defaults::kAggregate;
  OpenSetSource open_set;
  std::string curve_path;  // the open-set DIR-vs-FPIR curve as PNG, or ""
  std::string json_path;   // also write the figures as JSON here
  uint64_t seed = 1;
  int threads = 1;
};

// Adds a cohort and thresholds calibrated at false-accept rates to an
// existing model, on the validation split only (OpenSetSplit::kValidation).
struct CalibrateOptions {
  std::string model_path;
  std::string output_path;  // may be the model itself: written atomically
  DataOptions data;
  OpenSetSource open_set;
  int cohort_size = 300;  // training images of the seen classes
  // Generated outliers (outliers.h, another seed than training's) in the
  // cohort beside them: a frame like them then scores high against the
  // cohort, and its normalised score falls.
  int cohort_outliers = 0;
  // Background points per training class of the cohort: 1, its mean
  // embedding; K > 1, K centres of its embeddings (k-means), which follow a
  // class that is not one blob more closely.
  int background_centres = 1;
  // False-accept rates to calibrate, each in (0, 1); empty: calibration's own.
  std::vector<double> rates;
  std::string json_path;
  uint64_t seed = 1;
  int threads = 1;
};

enum class Command { kTrain, kEvaluate, kExport, kCalibrate, kHelp, kVersion };

struct CommandLine {
  Command command = Command::kHelp;
  TrainOptions train;
  EvaluateOptions evaluate;
  ExportOptions export_model;
  CalibrateOptions calibrate;
};

// Parses argv (without the program name).  Throws UsageError naming the
// option and the offending value.
CommandLine parse_command_line(const std::vector<std::string> &args);

// The --help text.
std::string usage();

const char *to_string(Mode mode);
const char *to_string(PairLoss loss);
const char *to_string(Mining mining);
const char *to_string(OptimizerKind optimizer);
const char *to_string(Schedule schedule);
const char *to_string(EmbeddingOutput output);
const char *to_string(OpenSetSplit split);
// --outlier-classes' spelling of TrainOptions::outlier_class_per_kind.
const char *outlier_classes_name(bool per_kind);

}  // namespace siamese::trainer
