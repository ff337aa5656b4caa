// SPDX-License-Identifier: LGPL-2.1-or-later
#include "train.h"

#include <ATen/Context.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <opencv2/core/utility.hpp>
#include <random>
#include <set>
#include <sstream>

#include "atomic_file.h"
#include "augment.h"
#include "errors.h"
#include "export.h"
#include "losses.h"
#include "outliers.h"
#include "plots.h"
#include "progress.h"
#include "samplers.h"
#include "step_timing.h"

namespace siamese::trainer {
namespace {

// Images per forward pass when embedding whole sets (no gradient kept).
constexpr int64_t kEmbedBatch = 512;
// Fixed-seed validation pairs for the verification metrics and calibration.
constexpr std::size_t kValidationPairs = 4000;
constexpr double kPi = 3.14159265358979323846;

// Epoch e's samplers and augmentation draw from seeds that depend only on
// the run's seed and e, which is what makes a resumed run exact.
uint64_t epoch_seed(uint64_t seed, int64_t epoch, uint64_t stream) {
  std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                         static_cast<uint32_t>(epoch), static_cast<uint32_t>(stream)};
  uint64_t value[1];
  sequence.generate(reinterpret_cast<uint32_t *>(value), reinterpret_cast<uint32_t *>(value + 1));
  return value[0];
}
enum Stream : uint64_t { kSamplerStream = 1, kAugmentStream = 2 };

// Normalised float batches gathered from the 8-bit buffer: one copy (or
// augmented copy) per image into a reused buffer, then one conversion, in
// the channels-last layout the network's weights use.
class BatchBuilder {
 public:
  BatchBuilder(const ImageSet &set, const Normalisation &normalisation, AugmentOptions augment)
      : set_(set), augment_(augment) {
    const int64_t c = set.channels;
    mean_ = torch::from_blob(const_cast<float *>(normalisation.mean.data()), {1, c, 1, 1}).clone();
    scale_ =
        torch::from_blob(const_cast<float *>(normalisation.scale.data()), {1, c, 1, 1}).clone();
  }

  // augment_rng == nullptr: the images as they are.
  torch::Tensor images(const std::vector<std::size_t> &indices, std::mt19937_64 *augment_rng) {
    const std::size_t bytes = set_.image_bytes();
    buffer_.resize(indices.size() * bytes);
    for (std::size_t i = 0; i < indices.size(); ++i) {
      uint8_t *out = buffer_.data() + i * bytes;
      if (augment_rng)
        augment_image(set_, indices[i], augment_, *augment_rng, out);
      else
        std::memcpy(out, set_.image(indices[i]), bytes);
    }
    const auto raw = torch::from_blob(
        buffer_.data(),
        {static_cast<int64_t>(indices.size()), set_.channels, set_.height, set_.width},
        torch::kUInt8);
    return raw.to(torch::kFloat)
        .sub_(mean_)
        .mul_(scale_)
        .contiguous(torch::MemoryFormat::ChannelsLast);
  }

  torch::Tensor labels(const std::vector<std::size_t> &indices) const {
    std::vector<int64_t> labels(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) labels[i] = set_.labels[indices[i]];
    return torch::tensor(labels);
  }

 private:
  const ImageSet &set_;
  AugmentOptions augment_;
  torch::Tensor mean_, scale_;
  std::vector<uint8_t> buffer_;
};

// One way of turning sampled images into a loss.
class Objective {
 public:
  virtual ~Objective() = default;
  // Images one step feeds through the embedding net.
  virtual int64_t images_per_step() const = 0;
  // A new sampler for the epoch.
  virtual void start_epoch(uint64_t seed) = 0;
  // The step's loss; `timer` is charged for sampling, batch, forward and loss.
  virtual torch::Tensor step_loss(BatchBuilder &batches, std::mt19937_64 *augment_rng,
                                  PhaseTimer &timer) = 0;
};

class PairObjective : public Objective {
 public:
  PairObjective(SiameseNet net, const TrainOptions &options, const std::vector<int> &labels)
      : net_(std::move(net)),
        loss_(options.pair_loss),
        margin_(options.margin),
        batch_size_(options.batch_size),
        labels_(labels) {}
  int64_t images_per_step() const override { return 2 * batch_size_; }
  void start_epoch(uint64_t seed) override { sampler_.emplace(labels_, seed); }
  torch::Tensor step_loss(BatchBuilder &batches, std::mt19937_64 *augment_rng,
                          PhaseTimer &timer) override {
    std::vector<std::size_t> first, second;
    std::vector<int64_t> same;
    PhaseTimer::Scope sampling(timer, Phase::kSampling);
    for (const Pair &pair : sampler_->batch(static_cast<std::size_t>(batch_size_))) {
      first.push_back(pair.first);
      second.push_back(pair.second);
      same.push_back(pair.same);
    }
    sampling.stop();
    PhaseTimer::Scope batch(timer, Phase::kBatch);
    const auto x1 = batches.images(first, augment_rng);
    const auto x2 = batches.images(second, augment_rng);
    const auto targets = torch::tensor(same);
    batch.stop();
    PhaseTimer::Scope forward(timer, Phase::kForward);  // the head included
    if (loss_ == PairLoss::kBce) {
      const auto logits = net_->match_logits(x1, x2);
      forward.stop();
      PhaseTimer::Scope loss(timer, Phase::kLoss);
      return pair_bce_loss(logits, targets);
    }
    const auto [h1, h2] = net_->forward(x1, x2);
    forward.stop();
    PhaseTimer::Scope loss(timer, Phase::kLoss);
    return contrastive_loss(h1, h2, targets, ContrastiveLossOptions().margin(margin_));
  }

 private:
  SiameseNet net_;
  PairLoss loss_;
  double margin_;
  int64_t batch_size_;
  const std::vector<int> &labels_;
  std::optional<PairSampler> sampler_;
};

class RandomTripletObjective : public Objective {
 public:
  RandomTripletObjective(TripletNet net, const TrainOptions &options,
                         const std::vector<int> &labels)
      : net_(std::move(net)),
        margin_(options.margin),
        batch_size_(options.batch_size),
        labels_(labels) {}
  int64_t images_per_step() const override { return 3 * batch_size_; }
  void start_epoch(uint64_t seed) override { sampler_.emplace(labels_, seed); }
  torch::Tensor step_loss(BatchBuilder &batches, std::mt19937_64 *augment_rng,
                          PhaseTimer &timer) override {
    std::vector<std::size_t> anchors, positives, negatives;
    PhaseTimer::Scope sampling(timer, Phase::kSampling);
    for (const Triplet &t : sampler_->batch(static_cast<std::size_t>(batch_size_))) {
      anchors.push_back(t.anchor);
      positives.push_back(t.positive);
      negatives.push_back(t.negative);
    }
    sampling.stop();
    PhaseTimer::Scope batch(timer, Phase::kBatch);
    const auto a = batches.images(anchors, augment_rng);
    const auto p = batches.images(positives, augment_rng);
    const auto n = batches.images(negatives, augment_rng);
    batch.stop();
    PhaseTimer::Scope forward(timer, Phase::kForward);
    const TripletEmbeddings e = net_->forward(a, p, n);
    forward.stop();
    PhaseTimer::Scope loss(timer, Phase::kLoss);
    return triplet_loss(e.anchor, e.positive, e.negative, TripletLossOptions().margin(margin_));
  }

 private:
  TripletNet net_;
  double margin_;
  int64_t batch_size_;
  const std::vector<int> &labels_;
  std::optional<TripletSampler> sampler_;
};

// The learned proxies of proxy_softmax_loss(), one row per training class.
class ClassProxies {
 public:
  ClassProxies(const std::vector<int> &labels, int64_t dim) {
    const std::vector<int> classes = ClassIndex(labels).classes();
    std::vector<int64_t> row_of_label(static_cast<std::size_t>(classes.back()) + 1, -1);
    for (std::size_t row = 0; row < classes.size(); ++row)
      row_of_label[static_cast<std::size_t>(classes[row])] = static_cast<int64_t>(row);
    row_of_label_ = torch::tensor(row_of_label);
    weights_ = torch::randn({static_cast<int64_t>(classes.size()), dim}).requires_grad_();
  }
  // The trained parameters, [classes, dim].
  const torch::Tensor &weights() const { return weights_; }
  // Each label's row of weights().
  torch::Tensor rows(const torch::Tensor &labels) const {
    return row_of_label_.index_select(0, labels);
  }

 private:
  torch::Tensor row_of_label_, weights_;
};

class MinedTripletObjective : public Objective {
 public:
  // `proxies` == nullptr: the triplet loss alone.
  MinedTripletObjective(EmbeddingNet net, const TrainOptions &options,
                        const std::vector<int> &labels, const ClassProxies *proxies)
      : net_(std::move(net)),
        loss_options_(MinedTripletLossOptions().mining(options.mining).margin(options.margin)),
        proxies_(proxies),
        proxy_weight_(options.proxy_weight),
        proxy_options_(ProxySoftmaxLossOptions().temperature(options.proxy_temperature)),
        classes_(static_cast<int>(options.classes_per_batch)),
        images_(static_cast<int>(options.images_per_class)),
        labels_(labels) {}
  int64_t images_per_step() const override { return int64_t{classes_} * images_; }
  void start_epoch(uint64_t seed) override { sampler_.emplace(labels_, classes_, images_, seed); }
  torch::Tensor step_loss(BatchBuilder &batches, std::mt19937_64 *augment_rng,
                          PhaseTimer &timer) override {
    PhaseTimer::Scope sampling(timer, Phase::kSampling);
    const std::vector<std::size_t> indices = sampler_->next();
    sampling.stop();
    PhaseTimer::Scope batch(timer, Phase::kBatch);
    const torch::Tensor images = batches.images(indices, augment_rng);
    const torch::Tensor labels = batches.labels(indices);
    batch.stop();
    PhaseTimer::Scope forward(timer, Phase::kForward);
    const torch::Tensor embeddings = net_->project(images);
    forward.stop();
    PhaseTimer::Scope loss(timer, Phase::kLoss);
    const torch::Tensor triplet = mined_triplet_loss(embeddings, labels, loss_options_);
    if (!proxies_) return triplet;
    return triplet + proxy_weight_ * proxy_softmax_loss(embeddings, proxies_->weights(),
                                                        proxies_->rows(labels), proxy_options_);
  }

 private:
  EmbeddingNet net_;
  MinedTripletLossOptions loss_options_;
  const ClassProxies *proxies_;
  double proxy_weight_;
  ProxySoftmaxLossOptions proxy_options_;
  int classes_;
  int images_;
  const std::vector<int> &labels_;
  std::optional<ClassBatchSampler> sampler_;
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const TrainOptions &o) {
  if (o.optimizer == OptimizerKind::kSgd)
    return std::make_unique<torch::optim::SGD>(parameters, torch::optim::SGDOptions(o.learning_rate)
                                                               .momentum(o.momentum)
                                                               .weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::Adam>(
      parameters, torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
}

// step and epoch count from 0.
double scheduled_learning_rate(const TrainOptions &o, int64_t step, int64_t epoch,
                               int64_t total_steps) {
  switch (o.schedule) {
    case Schedule::kConstant: return o.learning_rate;
    case Schedule::kStep:
      return o.learning_rate * std::pow(o.step_gamma, static_cast<double>(epoch / o.step_epochs));
    case Schedule::kCosine:
      return 0.5 * o.learning_rate *
             (1 + std::cos(kPi * static_cast<double>(step) / static_cast<double>(total_steps)));
  }
  return o.learning_rate;
}

// P of the mining batches: the one asked for, or the default capped at the
// classes that can give a positive pair, so that the defaults serve any data
// with two or more training classes.  An explicit P the data cannot serve
// stays the sampler's error to report.
int64_t fitted_classes_per_batch(const TrainOptions &o, const std::vector<int> &labels,
                                 std::vector<std::string> &notes) {
  if (o.classes_per_batch > 0) return o.classes_per_batch;
  const auto classes = static_cast<int64_t>(ClassIndex(labels).pairable_classes().size());
  if (classes >= kDefaultClassesPerBatch) return kDefaultClassesPerBatch;
  if (classes < 2) return 2;
  notes.push_back("note: the training data has " + std::to_string(classes) +
                  " classes, so each mining batch takes all of them (P = " +
                  std::to_string(classes) + " instead of " +
                  std::to_string(kDefaultClassesPerBatch) + "; --classes-per-batch sets P)");
  return classes;
}

std::string json_escape(const std::string &text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

template <typename Number>
std::string json_list(const std::vector<Number> &values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i)
    text += (i ? "," : "") + std::to_string(values[i]);
  return text + "]";
}

}  // namespace

Normalisation compute_normalisation(const ImageSet &set) {
  Normalisation normalisation;
  const std::size_t plane = static_cast<std::size_t>(set.height) * set.width;
  for (int c = 0; c < set.channels; ++c) {
    double sum = 0.0, squares = 0.0;
    for (std::size_t i = 0; i < set.size(); ++i) {
      const uint8_t *p = set.image(i) + c * plane;
      for (std::size_t k = 0; k < plane; ++k) {
        sum += p[k];
        squares += static_cast<double>(p[k]) * p[k];
      }
    }
    const double count = static_cast<double>(plane * set.size());
    const double mean = count > 0 ? sum / count : 0.0;
    const double deviation = std::sqrt(std::max(squares / std::max(count, 1.0) - mean * mean, 0.0));
    normalisation.mean[c] = static_cast<float>(mean);
    // A constant channel carries no information; keep it finite.
    normalisation.scale[c] = static_cast<float>(deviation > 1e-3 ? 1.0 / deviation : 1.0);
  }
  // Grey models read the first entry; repeating it keeps the triple uniform.
  for (int c = set.channels; c < 3; ++c) {
    normalisation.mean[c] = normalisation.mean[0];
    normalisation.scale[c] = normalisation.scale[0];
  }
  return normalisation;
}

struct Trainer::Impl {
  TrainOptions options;
  ImageSet train;          // with its turned copies after the originals
  std::size_t upright = 0;  // the number of original images at the front of `train`
  ImageSet validation;
  ImageSet references;  // training images the validation images are matched against
  std::vector<Pair> validation_pairs;
  ImageSet validation_classes;       // set_validation_classes(), at most kPerValidationClass each
  FewShotOptions validation_episodes;
  Normalisation normalisation;
  // What the trainer changed of the options to fit the data, one sentence
  // each; train() prints them first.
  std::vector<std::string> notes;

  EmbeddingNet net{nullptr};
  PairHead head{nullptr};
  std::optional<ClassProxies> proxies;  // --proxy-weight
  std::unique_ptr<Objective> objective;
  std::unique_ptr<torch::optim::Optimizer> optimizer;

  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  int64_t total_epochs = 0;
  int64_t epochs_done = 0;

  // Everything a checkpoint must agree on to be resumable.
  std::string configuration() const {
    std::ostringstream text;
    text << "input=" << train.channels << 'x' << train.height << 'x' << train.width
         << " channels=" << json_list(options.model.channels)
         << " convs=" << options.model.convs_per_stage << " dim=" << options.model.embedding_dim
         << " projector=" << options.model.projector_hidden << " mode=" << to_string(options.mode);
    if (head) text << " head=" << json_list(options.model.head_hidden);
    if (proxies) text << " proxies=" << proxies->weights().size(0);
    text << " optimizer=" << to_string(options.optimizer);
    return text.str();
  }

  std::vector<torch::nn::Module *> modules() {
    std::vector<torch::nn::Module *> all{net.ptr().get()};
    if (head) all.push_back(head.ptr().get());
    return all;
  }

  EpochMetrics run_epoch(int64_t epoch, std::ostream &progress_out, bool interactive);
  ValidationMetrics validate();
  // net->forward() (or, normalised, net->embed()) of the first `count`
  // images of `set`, one row each.
  cv::Mat outputs(const ImageSet &set, std::size_t count, bool normalised);
  cv::Mat embed(const ImageSet &set) { return outputs(set, set.size(), true); }
  void centre_output();
  void log_epoch(const EpochMetrics &metrics) const;
  // The run's figures as PNG images beside the log (plots.h).
  void plot_run(const EpochMetrics &latest) const;
  std::string summary_json(const std::optional<ValidationMetrics> &calibration) const;
};

Trainer::Trainer(const TrainOptions &options, ImageSet train, ImageSet validation)
    : impl_(std::make_unique<Impl>()) {
  Impl &d = *impl_;
  d.options = options;
  d.train = std::move(train);
  d.validation = std::move(validation);
  if (d.train.size() == 0)
    throw Error(ErrorKind::kSettings, "No training images in " + options.data.path + ".");

  torch::set_num_threads(options.threads);
  cv::setNumThreads(options.threads);
  // Late in training, Adam's second-moment estimates and many gradients are
  // denormal floats, which x86 CPUs compute many times slower; flushing them
  // to zero changes no result that matters.
  at::globalContext().setFlushDenormal(true);
  torch::manual_seed(options.seed);

  d.normalisation = compute_normalisation(d.train);
  // Validation measures the classes as they are: its references are taken
  // before any turned copies join the training set.
  if (d.validation.size() > 0) {
    const std::size_t classes = ClassIndex(d.train.labels).classes().size();
    d.references = limit_per_class(
        d.train, std::max<std::size_t>(1, options.validation_references / classes), options.seed);
    d.validation_pairs = evaluation_pairs(d.validation.labels, kValidationPairs, options.seed);
  }
  d.upright = d.train.size();
  if (options.turned_classes || options.tilted_classes)
    d.train = with_turned_classes(d.train, {options.turned_classes, options.tilted_classes});
  d.train = with_outlier_class(d.train, static_cast<std::size_t>(options.outlier_images),
                               options.seed,
                               options.outlier_class_per_kind ? OutlierClasses::kPerKind
                                                              : OutlierClasses::kOne);
  d.net = EmbeddingNet(EmbeddingNetOptions()
                           .in_channels(d.train.channels)
                           .channels(options.model.channels)
                           .convs_per_stage(options.model.convs_per_stage)
                           .embedding_dim(options.model.embedding_dim)
                           .projector_hidden(options.model.projector_hidden)
                           .output(options.embedding_output()));
  use_channels_last(*d.net);
  std::vector<torch::Tensor> parameters = d.net->parameters();
  const std::vector<int> &labels = d.train.labels;
  if (options.mode == Mode::kPair) {
    if (options.has_head()) {
      d.head = PairHead(PairHeadOptions()
                            .embedding_dim(options.model.embedding_dim)
                            .hidden(options.model.head_hidden));
      for (const auto &p : d.head->parameters()) parameters.push_back(p);
    }
    d.objective = std::make_unique<PairObjective>(SiameseNet(d.net, d.head), options, labels);
  } else if (options.mining == Mining::kNone) {
    d.objective = std::make_unique<RandomTripletObjective>(TripletNet(d.net), options, labels);
  } else {
    d.options.classes_per_batch = fitted_classes_per_batch(options, labels, d.notes);
    if (options.proxy_weight > 0.0) {
      // Drawn after the net's weights, so that those do not depend on it.
      d.proxies.emplace(labels, options.model.embedding_dim);
      parameters.push_back(d.proxies->weights());
    }
    d.objective = std::make_unique<MinedTripletObjective>(
        d.net, d.options, labels, d.proxies ? &*d.proxies : nullptr);
  }
  // Constructing the first epoch's sampler checks that the data can serve it.
  d.objective->start_epoch(epoch_seed(options.seed, 0, kSamplerStream));
  d.optimizer = make_optimizer(parameters, options);

  const int64_t per_step = d.objective->images_per_step();
  d.steps_per_epoch = options.steps_per_epoch > 0
                          ? options.steps_per_epoch
                          : std::max<int64_t>(1, static_cast<int64_t>(d.train.size()) / per_step);
  d.total_steps = options.steps > 0 ? options.steps : options.epochs * d.steps_per_epoch;
  d.total_epochs = (d.total_steps + d.steps_per_epoch - 1) / d.steps_per_epoch;
}

Trainer::~Trainer() = default;
Trainer::Trainer(Trainer &&) noexcept = default;

// Validation classes: this many images of each, and episodes, keep the
// per-epoch few-shot score to a few seconds.
constexpr std::size_t kPerValidationClass = 300;
constexpr int kValidationEpisodes = 500;

void Trainer::set_validation_classes(const ImageSet &images) {
  Impl &d = *impl_;
  d.validation_classes = limit_per_class(images, kPerValidationClass, d.options.seed);
  const std::set<int> classes(d.validation_classes.labels.begin(),
                              d.validation_classes.labels.end());
  FewShotOptions episodes;
  episodes.ways = static_cast<int>(std::min<std::size_t>(3, classes.size()));
  episodes.shots = 1;
  episodes.episodes = kValidationEpisodes;
  episodes.seed = d.options.seed;
  if (classes.size() < 2 || !few_shot_possible(d.validation_classes.labels, episodes))
    throw Error(ErrorKind::kSettings,
                "--validation-classes needs two or more classes with images in " +
                    d.options.data.path + " to score few-shot on.");
  d.validation_episodes = episodes;
}

int64_t Trainer::epochs_done() const { return impl_->epochs_done; }
int64_t Trainer::total_epochs() const { return impl_->total_epochs; }
EmbeddingNet Trainer::embedding_net() const { return impl_->net; }

std::vector<EpochMetrics> Trainer::train(std::ostream &progress) {
  std::vector<EpochMetrics> history;
  const bool interactive = Progress::stderr_is_terminal();
  for (const std::string &note : impl_->notes) progress << note << '\n';
  while (impl_->epochs_done < impl_->total_epochs) {
    history.push_back(impl_->run_epoch(impl_->epochs_done, progress, interactive));
    ++impl_->epochs_done;
    impl_->log_epoch(history.back());
    impl_->plot_run(history.back());
    if (!impl_->options.checkpoint_path.empty()) save_checkpoint(impl_->options.checkpoint_path);
  }
  finish();
  return history;
}

void Trainer::finish() {
  if (impl_->options.centre) impl_->centre_output();
}

EpochMetrics Trainer::Impl::run_epoch(int64_t epoch, std::ostream &progress_out, bool interactive) {
  const int64_t first_step = epoch * steps_per_epoch;
  const int64_t end_step = std::min(total_steps, first_step + steps_per_epoch);
  objective->start_epoch(epoch_seed(options.seed, epoch, kSamplerStream));
  std::mt19937_64 augment_rng(epoch_seed(options.seed, epoch, kAugmentStream));
  AugmentOptions augment;
  augment.horizontal_flip = options.flip;
  augment.max_scale = options.max_scale;
  augment.max_rotation = options.max_rotation;
  augment.soften = options.soften;
  BatchBuilder batches(train, normalisation, augment);
  std::mt19937_64 *augment_source = options.augment ? &augment_rng : nullptr;

  EpochMetrics metrics;
  metrics.epoch = epoch + 1;
  Progress progress(progress_out,
                    "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(total_epochs),
                    end_step - first_step, interactive);
  PhaseTimer timer(options.profile);
  StepGate gate(options.lockstep ? stdin : nullptr, stdout);
  const auto start = std::chrono::steady_clock::now();
  double loss_sum = 0.0;
  for (int64_t step = first_step; step < end_step; ++step) {
    gate.wait();
    PhaseTimer::Scope zeroing(timer, Phase::kOptimizer);
    metrics.learning_rate = scheduled_learning_rate(options, step, epoch, total_steps);
    for (auto &group : optimizer->param_groups()) group.options().set_lr(metrics.learning_rate);
    optimizer->zero_grad();
    zeroing.stop();
    const torch::Tensor loss = objective->step_loss(batches, augment_source, timer);
    PhaseTimer::Scope loss_value(timer, Phase::kLoss);
    const double value = loss.item<double>();
    loss_value.stop();
    if (!std::isfinite(value)) {
      std::ostringstream message;
      message << "training stopped: the loss became " << value << " at epoch " << epoch + 1
              << ", step " << step + 1 << " (learning rate " << metrics.learning_rate
              << "); try a lower --lr";
      throw std::runtime_error(message.str());
    }
    PhaseTimer::Scope backward(timer, Phase::kBackward);
    loss.backward();
    backward.stop();
    PhaseTimer::Scope optimizing(timer, Phase::kOptimizer);
    optimizer->step();
    optimizing.stop();
    gate.done();
    loss_sum += value;
    progress.step(step - first_step + 1, objective->images_per_step(), value);
  }
  progress.finish();
  if (timer.enabled())
    progress_out << "epoch " << epoch + 1 << "/" << total_epochs << ": "
                 << timer.summary(end_step - first_step) << '\n';
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.step = end_step;
  metrics.loss = loss_sum / static_cast<double>(end_step - first_step);
  metrics.images_per_second =
      static_cast<double>(objective->images_per_step() * (end_step - first_step)) / train_seconds;
  std::ostringstream line;
  line << "epoch " << metrics.epoch << "/" << total_epochs << ": loss " << std::setprecision(4)
       << metrics.loss << ", " << std::lround(metrics.images_per_second) << " img/s";
  if (validation.size() > 0) {
    metrics.validation = validate();
    line << ", validation P@1 " << metrics.validation->precision_at_1 << ", ROC AUC "
         << metrics.validation->cosine.roc_auc << ", EER " << metrics.validation->cosine.eer;
    if (metrics.validation->head) line << ", head EER " << metrics.validation->head->eer;
    if (metrics.validation->validation_classes_1shot)
      line << ", validation classes " << validation_episodes.ways << "-way 1-shot "
           << metrics.validation->validation_classes_1shot->accuracy;
  }
  metrics.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress_out << line.str() << '\n' << std::flush;
  return metrics;
}

cv::Mat Trainer::Impl::outputs(const ImageSet &set, std::size_t count, bool normalised) {
  torch::NoGradGuard no_grad;
  EvalScope eval(modules());
  BatchBuilder batches(set, normalisation, {});
  cv::Mat embeddings(static_cast<int>(count), static_cast<int>(net->output_dim()), CV_32F);
  std::vector<std::size_t> indices;
  for (std::size_t start = 0; start < count; start += kEmbedBatch) {
    indices.resize(std::min<std::size_t>(kEmbedBatch, count - start));
    std::iota(indices.begin(), indices.end(), start);
    const torch::Tensor images = batches.images(indices, nullptr);
    const torch::Tensor rows = (normalised ? net->embed(images) : net->forward(images)).contiguous();
    std::memcpy(embeddings.ptr<float>(static_cast<int>(start)), rows.data_ptr<float>(),
                rows.numel() * sizeof(float));
  }
  return embeddings;
}

void Trainer::Impl::centre_output() {
  const int dim = static_cast<int>(net->output_dim());
  // Average what the net gives with no centre (a rerun must not average
  // outputs the previous centre has already shifted).
  net->set_centre(torch::zeros({dim}));
  cv::Mat mean;
  cv::reduce(outputs(train, upright, false), mean, 0, cv::REDUCE_AVG);
  net->set_centre(torch::from_blob(mean.ptr<float>(), {dim}).clone());
}

ValidationMetrics Trainer::Impl::validate() {
  const cv::Mat queries = embed(validation);
  ValidationMetrics metrics;
  metrics.precision_at_1 =
      precision_at_1(queries, validation.labels, embed(references), references.labels);
  metrics.cosine = verify_pairs(queries, validation_pairs);
  if (validation_classes.size() > 0)
    metrics.validation_classes_1shot = few_shot_accuracy(
        embed(validation_classes), validation_classes.labels, validation_episodes);
  if (head) {
    torch::NoGradGuard no_grad;
    EvalScope eval(modules());
    std::vector<int64_t> first, second;
    std::vector<int> same;
    for (const Pair &pair : validation_pairs) {
      first.push_back(static_cast<int64_t>(pair.first));
      second.push_back(static_cast<int64_t>(pair.second));
      same.push_back(pair.same);
    }
    const auto all =
        torch::from_blob(const_cast<float *>(queries.ptr<float>()), {queries.rows, queries.cols});
    const auto probabilities =
        torch::sigmoid(head->forward(all.index_select(0, torch::tensor(first)),
                                     all.index_select(0, torch::tensor(second))))
            .contiguous();
    const float *p = probabilities.data_ptr<float>();
    metrics.head = verification(std::vector<float>(p, p + probabilities.numel()), same);
  }
  return metrics;
}

std::optional<ValidationMetrics> Trainer::validate() {
  if (impl_->validation.size() == 0) return std::nullopt;
  return impl_->validate();
}

cv::Mat Trainer::embed(const ImageSet &set) { return impl_->embed(set); }
cv::Mat Trainer::outputs(const ImageSet &set) { return impl_->outputs(set, set.size(), false); }

void Trainer::Impl::log_epoch(const EpochMetrics &m) const {
  if (options.log_path.empty()) return;
  MetricsLog::Row row{{"epoch", static_cast<double>(m.epoch)},
                      {"step", static_cast<double>(m.step)},
                      {"loss", m.loss},
                      {"learning_rate", m.learning_rate},
                      {"seconds", m.seconds},
                      {"images_per_second", m.images_per_second}};
  const double none = std::nan("");
  const ValidationMetrics *v = m.validation ? &*m.validation : nullptr;
  row.emplace_back("precision_at_1", v ? v->precision_at_1 : none);
  row.emplace_back("roc_auc", v ? v->cosine.roc_auc : none);
  row.emplace_back("eer", v ? v->cosine.eer : none);
  row.emplace_back("cosine_threshold", v ? v->cosine.threshold : none);
  if (validation_classes.size() > 0)
    row.emplace_back("validation_classes_1shot",
                     v && v->validation_classes_1shot ? v->validation_classes_1shot->accuracy : none);
  if (head) {
    row.emplace_back("head_roc_auc", v && v->head ? v->head->roc_auc : none);
    row.emplace_back("head_eer", v && v->head ? v->head->eer : none);
  }
  MetricsLog(options.log_path).append(row);
}

void Trainer::Impl::plot_run(const EpochMetrics &latest) const {
  if (options.log_path.empty()) return;
  std::vector<Curve> roc;
  if (latest.validation) {
    roc.push_back(roc_curve("cosine", latest.validation->cosine));
    if (latest.validation->head) roc.push_back(roc_curve("pair head", *latest.validation->head));
  }
  write_run_plots(options.log_path, MetricsLog(options.log_path).read(), roc);
}

void Trainer::save_checkpoint(const std::string &path) const {
  const Impl &d = *impl_;
  torch::serialize::OutputArchive archive, model, optimizer;
  d.net->save(model);
  archive.write("embedding", model);
  if (d.head) {
    torch::serialize::OutputArchive head;
    d.head->save(head);
    archive.write("head", head);
  }
  if (d.proxies) archive.write("proxies", d.proxies->weights());
  d.optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  archive.write("epochs_done", c10::IValue(d.epochs_done));
  archive.write("configuration", c10::IValue(d.configuration()));
  c10::List<std::string> arguments;
  for (const std::string &argument : d.options.arguments) arguments.push_back(argument);
  archive.write("arguments", c10::IValue(std::move(arguments)));
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(path, bytes.str());
}

namespace {

void open_checkpoint(const std::string &path, torch::serialize::InputArchive &archive) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, "Checkpoint " + path + " cannot be opened.");
  try {
    archive.load_from(in);
  } catch (const c10::Error &) {
    throw Error(ErrorKind::kOpenRead, "Checkpoint " + path + " is not a siamese-train checkpoint.");
  }
}

}  // namespace

std::vector<std::string> checkpoint_arguments(const std::string &path) {
  torch::serialize::InputArchive archive;
  open_checkpoint(path, archive);
  c10::IValue list;
  if (!archive.try_read("arguments", list) || !list.isList())
    throw Error(ErrorKind::kFormat, "Checkpoint " + path +
                                        " does not hold its training options (written by an " +
                                        "older siamese-train): export needs a newer checkpoint.");
  std::vector<std::string> arguments;
  for (const c10::IValue &item : list.toListRef()) {
    if (!item.isString())
      throw Error(ErrorKind::kFormat, "Checkpoint " + path + " holds malformed training options.");
    arguments.push_back(item.toStringRef());
  }
  return arguments;
}

void Trainer::load_checkpoint(const std::string &path) {
  Impl &d = *impl_;
  torch::serialize::InputArchive archive;
  open_checkpoint(path, archive);
  c10::IValue configuration, epochs;
  if (!archive.try_read("configuration", configuration) || !configuration.isString() ||
      !archive.try_read("epochs_done", epochs) || !epochs.isInt())
    throw Error(ErrorKind::kOpenRead, "Checkpoint " + path + " is not a siamese-train checkpoint.");
  if (configuration.toStringRef() != d.configuration())
    throw Error(ErrorKind::kFormat, "Checkpoint " + path + " was written for \"" +
                                        configuration.toStringRef() + "\", not \"" +
                                        d.configuration() + "\": use the same options to resume.");
  try {
    torch::serialize::InputArchive model, optimizer;
    archive.read("embedding", model);
    d.net->load(model);
    use_channels_last(*d.net);  // loading replaced the weights' storage
    if (d.head) {
      torch::serialize::InputArchive head;
      archive.read("head", head);
      d.head->load(head);
    }
    if (d.proxies) {
      torch::Tensor proxies;
      archive.read("proxies", proxies);
      torch::NoGradGuard no_grad;
      // In place: the optimizer holds this very tensor.
      d.proxies->weights().copy_(proxies);
    }
    archive.read("optimizer", optimizer);
    d.optimizer->load(optimizer);
  } catch (const c10::Error &e) {
    throw Error(ErrorKind::kOpenRead,
                "Checkpoint " + path + " cannot be read (damaged, or written by an older " +
                    "siamese-train with another network layout): " + e.what_without_backtrace());
  }
  d.epochs_done = std::min(epochs.toInt(), d.total_epochs);
}

std::string Trainer::Impl::summary_json(const std::optional<ValidationMetrics> &calibration) const {
  const TrainOptions &o = options;
  std::ostringstream json;
  json << std::setprecision(6) << "{\"trainer\": \"siamese-train\", \"data\": \""
       << json_escape(o.data.path)
       << "\", \"holdout_classes\": " << json_list(o.data.holdout_classes)
       << ", \"validation_classes\": " << json_list(o.data.validation_classes)
       << ", \"train_images\": " << train.size() << ", \"validation_images\": " << validation.size()
       << ", \"mode\": \"" << to_string(o.mode) << "\"";
  if (o.mode == Mode::kPair)
    json << ", \"pair_loss\": \"" << to_string(o.pair_loss) << "\"";
  else
    json << ", \"mining\": \"" << to_string(o.mining) << "\"";
  if (proxies)
    json << ", \"proxy_weight\": " << o.proxy_weight
         << ", \"proxy_temperature\": " << o.proxy_temperature;
  json << ", \"margin\": " << o.margin << ", \"channels\": " << json_list(o.model.channels)
       << ", \"convs_per_stage\": " << o.model.convs_per_stage
       << ", \"embedding_dim\": " << o.model.embedding_dim
       << ", \"projector_hidden\": " << o.model.projector_hidden << ", \"embedding_output\": \""
       << to_string(net->options().output()) << "\", \"optimizer\": \""
       << to_string(o.optimizer) << "\", \"learning_rate\": " << o.learning_rate
       << ", \"schedule\": \"" << to_string(o.schedule) << "\", \"steps\": " << total_steps
       << ", \"epochs\": " << total_epochs
       << ", \"images_per_step\": " << objective->images_per_step()
       << ", \"augment\": " << (o.augment ? "true" : "false")
       << ", \"flip\": " << (o.flip ? "true" : "false")
       << ", \"turned_classes\": " << (o.turned_classes ? "true" : "false")
       << ", \"tilted_classes\": " << (o.tilted_classes ? "true" : "false")
       << ", \"outlier_images\": " << o.outlier_images
       << ", \"outlier_classes\": \"" << outlier_classes_name(o.outlier_class_per_kind)
       << "\""
       << ", \"centre\": " << (o.centre ? "true" : "false")
       << ", \"scale\": " << o.max_scale
       << ", \"rotate\": " << o.max_rotation << ", \"soften\": " << o.soften
       << ", \"seed\": " << o.seed
       << ", \"threads\": " << o.threads;
  if (calibration)
    json << ", \"validation\": {\"precision_at_1\": " << calibration->precision_at_1
         << ", \"roc_auc\": " << calibration->cosine.roc_auc
         << ", \"eer\": " << calibration->cosine.eer << "}";
  json << "}";
  return json.str();
}

ModelContract Trainer::contract(const std::optional<ValidationMetrics> &calibration) const {
  const Impl &d = *impl_;
  ModelContract contract;
  contract.input.width = d.train.width;
  contract.input.height = d.train.height;
  contract.input.color = d.train.channels == 1 ? ColorOrder::kGray : ColorOrder::kRgb;
  contract.input.mean = d.normalisation.mean;
  contract.input.scale = d.normalisation.scale;
  contract.embedding_dim = static_cast<int>(d.net->output_dim());
  contract.metric = d.head ? Metric::kLearned : Metric::kCosine;
  if (calibration) {
    const float cosine = static_cast<float>(calibration->cosine.threshold);
    contract.thresholds[Metric::kCosine] = cosine;
    // On unit vectors ||a - b||^2 = 2 - 2 cos(a, b).
    contract.thresholds[Metric::kEuclidean] = std::sqrt(std::max(0.f, 2.f - 2.f * cosine));
    if (calibration->head)
      contract.thresholds[Metric::kLearned] = static_cast<float>(calibration->head->threshold);
  }
  if (d.head) contract.head = head_weights(d.head);
  contract.training_summary = d.summary_json(calibration);
  return contract;
}

}  // namespace siamese::trainer
