// SPDX-License-Identifier: LGPL-2.1-or-later
#include "options.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <utility>

namespace siamese::trainer {
namespace {

// The spelling of every enumerated value, shared by the parser and to_string().
template <typename Enum>
using Choices = std::vector<std::pair<const char *, Enum>>;
const Choices<Mode> kModes{{"pair", Mode::kPair}, {"triplet", Mode::kTriplet}};
const Choices<PairLoss> kPairLosses{{"bce", PairLoss::kBce},
                                    {"contrastive", PairLoss::kContrastive}};
const Choices<Mining> kMinings{
    {"none", Mining::kNone}, {"batch-hard", Mining::kBatchHard}, {"semi-hard", Mining::kSemiHard}};
const Choices<OptimizerKind> kOptimizers{{"adam", OptimizerKind::kAdam},
                                         {"sgd", OptimizerKind::kSgd}};
const Choices<EmbeddingOutput> kEmbeddingOutputs{{"projection", EmbeddingOutput::kProjection},
                                                 {"pooled", EmbeddingOutput::kPooled},
                                                 {"pooled-sqrt", EmbeddingOutput::kPooledSqrt}};
const Choices<OpenSetSplit> kOpenSetSplits{{"test", OpenSetSplit::kTest},
                                           {"validation", OpenSetSplit::kValidation}};
const Choices<Protocol> kProtocols{
    {"closed", Protocol::kClosed}, {"open", Protocol::kOpen}, {"both", Protocol::kBoth}};
const Choices<bool> kOutlierClassPerKind{{"one", false}, {"per-kind", true}};
const Choices<Schedule> kSchedules{
    {"constant", Schedule::kConstant}, {"step", Schedule::kStep}, {"cosine", Schedule::kCosine}};

template <typename Enum>
const char *spelling(Enum value, const Choices<Enum> &choices) {
  for (const auto &[text, choice] : choices)
    if (choice == value) return text;
  return "?";
}

// Each option consumes one value (flags take none) and stores it.
struct OptionSpec {
  bool takes_value = true;
  std::function<void(const std::string &name, const std::string &value)> store;
};
using OptionTable = std::map<std::string, OptionSpec>;

[[noreturn]] void bad_value(const std::string &name, const std::string &value,
                            const std::string &expected) {
  throw UsageError("invalid value \"" + value + "\" for --" + name + ": expected " + expected);
}

int64_t parse_integer(const std::string &name, const std::string &value, int64_t minimum) {
  try {
    std::size_t used = 0;
    const long long parsed = std::stoll(value, &used);
    if (used == value.size() && parsed >= minimum) return parsed;
  } catch (const std::logic_error &) {
  }
  bad_value(name, value, "an integer >= " + std::to_string(minimum));
}

double parse_number(const std::string &name, const std::string &value, double minimum) {
  try {
    std::size_t used = 0;
    const double parsed = std::stod(value, &used);
    if (used == value.size() && std::isfinite(parsed) && parsed >= minimum) return parsed;
  } catch (const std::logic_error &) {
  }
  std::ostringstream expected;
  expected << "a number >= " << minimum;
  bad_value(name, value, expected.str());
}

// "a,b,c" as its comma-separated items, each parsed by `parse`.
template <typename Parse>
auto parse_items(const std::string &value, Parse parse) {
  std::vector<decltype(parse(std::string()))> items;
  std::istringstream stream(value);
  std::string item;
  while (std::getline(stream, item, ',')) items.push_back(parse(item));
  return items;
}

std::vector<int64_t> parse_list(const std::string &name, const std::string &value,
                                int64_t minimum) {
  return parse_items(value, [&](const std::string &item) {
    return parse_integer(name, item, minimum);
  });
}

// False-accept rates, each strictly between 0 and 1; at least one.
std::vector<double> parse_rates(const std::string &name, const std::string &value) {
  std::vector<double> rates = parse_items(value, [&](const std::string &item) {
    const double rate = parse_number(name, item, 0.0);
    if (rate <= 0.0 || rate >= 1.0) bad_value(name, item, "a false-accept rate between 0 and 1");
    return rate;
  });
  if (rates.empty()) bad_value(name, value, "a comma-separated list of rates");
  return rates;
}

template <typename Enum>
Enum parse_choice(const std::string &name, const std::string &value, const Choices<Enum> &choices) {
  std::string accepted;
  for (const auto &[text, choice] : choices) {
    if (value == text) return choice;
    accepted += (accepted.empty() ? "" : " | ") + std::string(text);
  }
  bad_value(name, value, "one of " + accepted);
}

// Option setters bound to a field.
OptionSpec integer(int64_t &field, int64_t minimum) {
  return {true, [&field, minimum](const std::string &n, const std::string &v) {
            field = parse_integer(n, v, minimum);
          }};
}
OptionSpec small_integer(int &field, int minimum) {
  return {true, [&field, minimum](const std::string &n, const std::string &v) {
            field = static_cast<int>(parse_integer(n, v, minimum));
          }};
}
OptionSpec seed(uint64_t &field) {
  return {true, [&field](const std::string &n, const std::string &v) {
            field = static_cast<uint64_t>(parse_integer(n, v, 0));
          }};
}
OptionSpec number(double &field, double minimum) {
  return {true, [&field, minimum](const std::string &n, const std::string &v) {
            field = parse_number(n, v, minimum);
          }};
}
OptionSpec text(std::string &field) {
  return {true, [&field](const std::string &n, const std::string &v) {
            if (v.empty()) bad_value(n, v, "a non-empty path");
            field = v;
          }};
}
OptionSpec list(std::vector<int64_t> &field, int64_t minimum) {
  return {true, [&field, minimum](const std::string &n, const std::string &v) {
            field = parse_list(n, v, minimum);
          }};
}
OptionSpec flag(bool &field, bool value) {
  return {false, [&field, value](const std::string &, const std::string &) { field = value; }};
}
template <typename Enum>
OptionSpec choice(Enum &field, const Choices<Enum> &choices) {
  return {true, [&field, &choices](const std::string &n, const std::string &v) {
            field = parse_choice(n, v, choices);
          }};
}

OptionSpec class_list(std::vector<int> &field) {
  return {true, [&field](const std::string &n, const std::string &v) {
            field.clear();
            for (const int64_t c : parse_list(n, v, 0)) field.push_back(static_cast<int>(c));
          }};
}

void add_data_options(OptionTable &table, DataOptions &data) {
  table["data"] = text(data.path);
  table["holdout-classes"] = class_list(data.holdout_classes);
  table["image-size"] = small_integer(data.image_size, 4);
  table["grayscale"] = flag(data.grayscale, true);
}

void add_open_set_options(OptionTable &table, OpenSetSource &o, DataOptions &data) {
  table["split"] = choice(o.split, kOpenSetSplits);
  table["validation-classes"] = class_list(o.validation_classes);
  table["validation-fraction"] = number(data.validation_fraction, 0.0);
  table["gallery-size"] = small_integer(o.gallery_size, 1);
  table["draws"] = small_integer(o.draws, 1);
  table["generated-impostors"] = {true, [&o](const std::string &n, const std::string &v) {
                                    o.generated_impostors =
                                        static_cast<std::size_t>(parse_integer(n, v, 0));
                                  }};
  table["impostors"] = text(o.impostors_dir);
  table["frame-size"] = small_integer(o.frame_size, 0);
}

OptionTable train_table(TrainOptions &o) {
  OptionTable table;
  add_data_options(table, o.data);
  table["validation-fraction"] = number(o.data.validation_fraction, 0.0);
  table["validation-classes"] = class_list(o.data.validation_classes);
  table["max-per-class"] = integer(o.data.max_per_class, 0);
  table["channels"] = list(o.model.channels, 1);
  table["convs-per-stage"] = integer(o.model.convs_per_stage, 1);
  table["embedding-dim"] = integer(o.model.embedding_dim, 1);
  table["projector-hidden"] = integer(o.model.projector_hidden, 0);
  table["embedding-output"] = {true, [&o](const std::string &n, const std::string &v) {
                                 o.model.output = parse_choice(n, v, kEmbeddingOutputs);
                               }};
  table["head-hidden"] = {true, [&o](const std::string &n, const std::string &v) {
                            o.model.head_hidden =
                                v == "none" ? std::vector<int64_t>{} : parse_list(n, v, 1);
                          }};
  table["mode"] = choice(o.mode, kModes);
  table["pair-loss"] = choice(o.pair_loss, kPairLosses);
  table["mining"] = choice(o.mining, kMinings);
  table["margin"] = number(o.margin, 0.0);
  table["augment"] = flag(o.augment, true);
  table["no-augment"] = flag(o.augment, false);
  table["flip"] = flag(o.flip, true);
  table["turned-classes"] = flag(o.turned_classes, true);
  table["tilted-classes"] = flag(o.tilted_classes, true);
  table["outlier-images"] = integer(o.outlier_images, 0);
  table["outlier-classes"] = choice(o.outlier_class_per_kind, kOutlierClassPerKind);
  table["proxy-weight"] = number(o.proxy_weight, 0.0);
  table["proxy-temperature"] = number(o.proxy_temperature, 0.0);
  table["centre"] = flag(o.centre, true);
  table["scale"] = number(o.max_scale, 0.0);
  table["rotate"] = number(o.max_rotation, 0.0);
  table["soften"] = number(o.soften, 0.0);
  table["batch-size"] = integer(o.batch_size, 2);
  table["classes-per-batch"] = integer(o.classes_per_batch, 2);
  table["images-per-class"] = integer(o.images_per_class, 2);
  table["epochs"] = integer(o.epochs, 1);
  table["steps"] = integer(o.steps, 0);
  table["steps-per-epoch"] = integer(o.steps_per_epoch, 0);
  table["optimizer"] = choice(o.optimizer, kOptimizers);
  table["lr"] = number(o.learning_rate, 0.0);
  table["momentum"] = number(o.momentum, 0.0);
  table["weight-decay"] = number(o.weight_decay, 0.0);
  table["lr-schedule"] = choice(o.schedule, kSchedules);
  table["lr-step-epochs"] = integer(o.step_epochs, 1);
  table["lr-gamma"] = number(o.step_gamma, 0.0);
  table["seed"] = seed(o.seed);
  table["threads"] = small_integer(o.threads, 1);
  table["validation-references"] = integer(o.validation_references, 1);
  table["log"] = text(o.log_path);
  table["checkpoint"] = text(o.checkpoint_path);
  table["resume"] = flag(o.resume, true);
  table["output"] = text(o.output_path);
  table["profile"] = flag(o.profile, true);
  table["lockstep"] = flag(o.lockstep, true);
  return table;
}

OptionTable evaluate_table(EvaluateOptions &o) {
  OptionTable table;
  add_data_options(table, o.data);
  add_open_set_options(table, o.open_set, o.data);
  table["model"] = text(o.model_path);
  table["protocol"] = choice(o.protocol, kProtocols);
  table["curve"] = text(o.curve_path);
  table["episodes"] = small_integer(o.episodes, 1);
  table["queries-per-class"] = small_integer(o.queries_per_class, 1);
  table["aggregate"] = {true, [&o](const std::string &n, const std::string &v) {
                          try {
                            o.aggregate = aggregate_from_string(v);
                          } catch (const std::invalid_argument &) {
                            bad_value(n, v, "best or prototype");
                          }
                        }};
  table["json"] = text(o.json_path);
  table["seed"] = seed(o.seed);
  table["threads"] = small_integer(o.threads, 1);
  return table;
}

OptionTable export_table(ExportOptions &o) {
  OptionTable table;
  table["checkpoint"] = text(o.checkpoint_path);
  table["output"] = text(o.output_path);
  table["data"] = text(o.data_path);
  table["threads"] = small_integer(o.threads, 1);
  return table;
}

OptionTable calibrate_table(CalibrateOptions &o) {
  OptionTable table;
  add_data_options(table, o.data);
  add_open_set_options(table, o.open_set, o.data);
  table.erase("split");  // always the validation split
  table["model"] = text(o.model_path);
  table["output"] = text(o.output_path);
  table["cohort-size"] = small_integer(o.cohort_size, 1);
  table["cohort-outliers"] = small_integer(o.cohort_outliers, 0);
  table["background-centres"] = small_integer(o.background_centres, 1);
  table["rates"] = {true, [&o](const std::string &n, const std::string &v) {
                      o.rates = parse_rates(n, v);
                    }};
  table["json"] = text(o.json_path);
  table["seed"] = seed(o.seed);
  table["threads"] = small_integer(o.threads, 1);
  return table;
}

// Accepts "--name value" and "--name=value".
void parse_options(const OptionTable &table, const std::vector<std::string> &args,
                   std::size_t first) {
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument \"" + arg + "\"");
    const std::size_t equals = arg.find('=');
    const std::string name =
        arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const auto spec = table.find(name);
    if (spec == table.end()) throw UsageError("unknown option --" + name);
    std::string value;
    if (equals != std::string::npos) {
      if (!spec->second.takes_value) throw UsageError("--" + name + " takes no value");
      value = arg.substr(equals + 1);
    } else if (spec->second.takes_value) {
      if (++i == args.size()) throw UsageError("--" + name + " needs a value");
      value = args[i];
    }
    spec->second.store(name, value);
  }
}

void check_train(const TrainOptions &o) {
  if (o.data.path.empty()) throw UsageError("train needs --data");
  if (o.resume && o.checkpoint_path.empty()) throw UsageError("--resume needs --checkpoint");
  if (o.model.channels.empty()) throw UsageError("--channels needs at least one stage");
  if (o.data.validation_fraction >= 1.0) throw UsageError("--validation-fraction must be below 1");
  for (const int label : o.data.validation_classes)
    if (std::find(o.data.holdout_classes.begin(), o.data.holdout_classes.end(), label) !=
        o.data.holdout_classes.end())
      throw UsageError("--validation-classes: class " + std::to_string(label) +
                       " is a held-out class; validation classes must be seen ones");
  if (o.max_scale >= 1.0)
    throw UsageError("--scale must be below 1 (a zoom by up to this fraction)");
  if (o.max_rotation > 180.0) throw UsageError("--rotate must be at most 180 (degrees)");
  if (o.soften > 1.0) throw UsageError("--soften must be at most 1 (a probability)");
  if (o.margin <= 0.0 && !o.has_head())
    throw UsageError("--margin must be positive: without it the embeddings can collapse");
  if (o.proxy_weight > 0.0 && (o.mode != Mode::kTriplet || o.mining == Mining::kNone))
    throw UsageError("--proxy-weight needs --mode triplet with batch-hard or semi-hard mining: "
                     "the proxy loss reads the classes of a P x K batch");
  if (o.proxy_temperature <= 0.0) throw UsageError("--proxy-temperature must be positive");
  if (o.outlier_class_per_kind && o.outlier_images == 0)
    throw UsageError("--outlier-classes per-kind needs --outlier-images N: it says how the "
                     "generated outliers are labelled");
  if (o.has_head() && o.model.output && *o.model.output != EmbeddingOutput::kProjection)
    throw UsageError("--embedding-output " + std::string(to_string(*o.model.output)) +
                     " cannot go with --pair-loss bce: the head scores the projection");
  if (o.has_head() && o.centre)
    throw UsageError("--centre cannot go with --pair-loss bce: the head scores the projection");
}

void check_export(const ExportOptions &o) {
  if (o.checkpoint_path.empty()) throw UsageError("export needs --checkpoint");
  if (o.output_path.empty()) throw UsageError("export needs --output");
}

void check_evaluate(const EvaluateOptions &o) {
  if (o.model_path.empty()) throw UsageError("evaluate needs --model");
  if (o.data.path.empty()) throw UsageError("evaluate needs --data");
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string> &args) {
  CommandLine line;
  if (args.empty()) throw UsageError("no command given: expected train, evaluate or export");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") return line;
  if (args[0] == "--version") {
    line.command = Command::kVersion;
  } else if (args[0] == "train") {
    line.command = Command::kTrain;
    parse_options(train_table(line.train), args, 1);
    check_train(line.train);
    line.train.arguments.assign(args.begin() + 1, args.end());
  } else if (args[0] == "evaluate") {
    line.command = Command::kEvaluate;
    parse_options(evaluate_table(line.evaluate), args, 1);
    check_evaluate(line.evaluate);
  } else if (args[0] == "export") {
    line.command = Command::kExport;
    parse_options(export_table(line.export_model), args, 1);
    check_export(line.export_model);
  } else if (args[0] == "calibrate") {
    line.command = Command::kCalibrate;
    line.calibrate.open_set.split = OpenSetSplit::kValidation;
    parse_options(calibrate_table(line.calibrate), args, 1);
    if (line.calibrate.model_path.empty()) throw UsageError("calibrate needs --model");
    if (line.calibrate.data.path.empty()) throw UsageError("calibrate needs --data");
    if (line.calibrate.output_path.empty()) throw UsageError("calibrate needs --output");
  } else {
    throw UsageError("unknown command \"" + args[0] +
                     "\": expected train, evaluate, export or calibrate");
  }
  return line;
}

std::string usage() {
  return R"(Usage:
  siamese-train train --data PATH [options]     train a Siamese embedding network, export ONNX
  siamese-train evaluate --model M.onnx --data PATH [options]
                                                evaluate an exported model through OpenCV DNN
  siamese-train export --checkpoint C --output M.onnx [--data PATH] [--threads N]
                                                export a training checkpoint as ONNX
  siamese-train --version
  siamese-train calibrate --model M.onnx --data PATH --output OUT.onnx [options]
                                                add a cohort and thresholds calibrated at
                                                false-accept rates 0.1, 1, 10 % (validation split)

Data (both commands):
  --data PATH                 IDX directory (Fashion-MNIST layout) or folder <root>/<class>/*.png
  --holdout-classes LIST      class indices kept out of training, e.g. 2,5,8
  --image-size N              image folders: resize to N x N (64)
  --grayscale                 image folders: load grey images
Train:
  --mode pair|triplet         (triplet)
  --pair-loss bce|contrastive pair mode: |h1-h2| head with BCE, or margin contrastive (bce)
  --mining none|batch-hard|semi-hard   triplet mode: random triplets or P x K mining (batch-hard)
  --margin M                  triplet (squared L2) / contrastive (L2) margin (0.2)
  --channels LIST             conv stage widths (32,64,128); --convs-per-stage N (1)
  --embedding-dim D           projection size, what the losses see (64)
  --projector-hidden N        a Linear-BatchNorm-ReLU layer of N units before the projection (0: none)
  --embedding-output projection|pooled|pooled-sqrt   what the model outputs: the projection,
                              the pooled features under it, or their square roots (default;
                              projection with --pair-loss bce)
  --head-hidden LIST|none     pair head widths (32)
  --batch-size N              pairs or triplets per step (64)
  --classes-per-batch P --images-per-class K   mining batches (8 x 8; P is the number
                              of training classes when there are fewer than 8)
  --epochs N (10) | --steps N; --steps-per-epoch N (one pass over the images)
  --optimizer adam|sgd (adam) --lr X (0.001) --momentum X (0.9) --weight-decay X (0)
  --lr-schedule constant|step|cosine (cosine) --lr-step-epochs N (5) --lr-gamma X (0.1)
  --augment | --no-augment    random shifts (on); --flip  also mirror left-right
  --scale S --rotate DEG      also zoom by up to S either way, rotate by up to DEG (0, 0)
  --soften P                  also enlarge this share of the images by 1.5 to 8 times and shrink
                              them back, the softening of a small item in a larger frame (0)
  --turned-classes            also train on each class upside down and on its side as new classes
  --tilted-classes            also train on each class tilted by 45 and by 135 degrees as new
                              classes
  --outlier-images N          also train on N generated outliers (shapes, strokes, stripes, ramps,
                              shuffled and inverted training images) as one class of their own,
                              kept away from every class (outlier exposure; default 0)
  --outlier-classes one|per-kind   the outliers as one class, or one class per kind (one)
  --proxy-weight W            triplet mode with mining: add W x a normalised-softmax loss
                              over learned class proxies (proxy-based; 0: none)
  --proxy-temperature T       its softmax temperature, cosine / T are the logits (0.05)
  --centre                    subtract the mean training embedding in the exported model
  --validation-classes LIST   seen classes also kept out of training, to choose settings on:
                              few-shot on their training images after each epoch (none)
  --validation-fraction F (0.1) --max-per-class N (all) --validation-references N (5000)
  --seed N (1) --threads N (1)
  --log FILE                  per-epoch metrics: FILE.csv, or JSON lines
  --checkpoint FILE [--resume]   model + optimizer after every epoch; continue from it
  --output MODEL.onnx         export with the model contract after training
  --profile                   print each epoch's CPU and wall time per step, phase by phase
  --lockstep                  (benchmarks) run a step per byte read from standard input and
                              write "step CPU_SECONDS WALL_SECONDS" after it to standard output
Evaluate:
  --protocol closed|open|both the closed-set figures, the open-set ones, or both (both)
  --aggregate best|prototype  how a class's images score a query: its best image, or the
                              normalised mean of their embeddings (best, as the element)
  --split test|validation     as below, and the closed set too: validation takes P@1 on the
                              seen classes' validation images, few-shot on the held-out (or
                              validation) classes' training images (test)
  --episodes N (2000) --queries-per-class N (5) --seed N (1) --threads N (1)
                              a split drawn by seed (validation, an image folder's test part)
                              needs the model's training seed, or it is refused
  --json FILE                 also write the figures as one JSON object
  --curve FILE.png            the open-set DIR-vs-FPIR curve
Open set (evaluate; calibrate): the held-out classes are enrolled, everything else must be unknown
  --split test|validation     test: test images; validation: the held-out (or validation)
                              classes' training images, the seen classes' validation images (test)
  --validation-classes LIST   validation split: classes to enrol (the held-out classes)
  --validation-fraction F     the seen classes' validation share, as in training (0.1)
  --gallery-size K (3) --draws N (5)   images per enrolled class; random galleries
  --generated-impostors N     drawn digits, noise and flat grey frames, a third each (999)
  --impostors DIR             also a folder of any other images (all files under it)
  --frame-size N              show every image as an N x N frame that the model's input
                              shrinks, as the element does with video (0: as it is; 0)
Export:
  --checkpoint C              a checkpoint written by train --checkpoint; it holds the run's
                              options, and the run's data (normalisation and threshold
                              calibration are measured on it) must still be at its path
  --data PATH                 or here instead
Calibrate: the open-set options above (always the validation split), and
  --cohort-size N             training images of the seen classes in the cohort (300)
  --cohort-outliers N         and generated outliers, as train --outlier-images draws them (0)
  --background-centres K      background points per training class: its mean (1), or K k-means
                              centres of its cohort embeddings (1)
  --rates LIST                false-accept rates to calibrate, each in (0, 1) (0.001,0.01,0.1)
  --output OUT.onnx           the model with cohort, calibrated points and recommended decision
  --json FILE                 the candidates and points as JSON
Exit status: 0 success, 1 bad data or runtime failure, 2 bad usage.
)";
}

const char *to_string(Mode mode) { return spelling(mode, kModes); }
const char *to_string(PairLoss loss) { return spelling(loss, kPairLosses); }
const char *to_string(Mining mining) { return spelling(mining, kMinings); }
const char *to_string(OptimizerKind optimizer) { return spelling(optimizer, kOptimizers); }
const char *to_string(Schedule schedule) { return spelling(schedule, kSchedules); }
const char *to_string(EmbeddingOutput output) { return spelling(output, kEmbeddingOutputs); }
const char *to_string(OpenSetSplit split) { return spelling(split, kOpenSetSplits); }
const char *outlier_classes_name(bool per_kind) {
  return spelling(per_kind, kOutlierClassPerKind);
}

}  // namespace siamese::trainer
