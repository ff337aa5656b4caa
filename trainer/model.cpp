// SPDX-License-Identifier: LGPL-2.1-or-later
#include "model.h"

#include <torch/nn/functional/normalization.h>

#include <stdexcept>

namespace siamese::trainer {
namespace {

namespace F = torch::nn::functional;

constexpr int64_t kKernel = 3;
constexpr int64_t kPool = 2;

torch::Tensor l2_normalise(const torch::Tensor &x) {
  return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(1));
}

}  // namespace

EmbeddingNetImpl::EmbeddingNetImpl(const EmbeddingNetOptions &options) : options_(options) {
  if (options.channels().empty() || options.convs_per_stage() < 1 || options.embedding_dim() < 1 ||
      options.in_channels() < 1 || options.projector_hidden() < 0)
    throw std::invalid_argument("embedding net: empty stage list or non-positive size");
  int64_t width = options.in_channels();
  for (std::size_t stage = 0; stage < options.channels().size(); ++stage) {
    if (stage > 0) backbone_->push_back(torch::nn::MaxPool2d(kPool));
    for (int64_t i = 0; i < options.convs_per_stage(); ++i) {
      const int64_t out = options.channels()[stage];
      backbone_->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(width, out, kKernel).padding(kKernel / 2).bias(false)));
      backbone_->push_back(torch::nn::BatchNorm2d(out));
      backbone_->push_back(torch::nn::ReLU());
      width = out;
    }
  }
  backbone_->push_back(torch::nn::AdaptiveAvgPool2d(1));
  backbone_->push_back(torch::nn::Flatten());
  register_module("backbone", backbone_);
  if (options.projector_hidden() > 0) {
    projector_->push_back(torch::nn::Linear(width, options.projector_hidden()));
    projector_->push_back(torch::nn::BatchNorm1d(options.projector_hidden()));
    projector_->push_back(torch::nn::ReLU());
    width = options.projector_hidden();
  }
  register_module("projector", projector_);
  projection_ = register_module("projection", torch::nn::Linear(width, options.embedding_dim()));
}

torch::Tensor EmbeddingNetImpl::head_of(const torch::Tensor &pooled) {
  return projection_->forward(projector_->is_empty() ? pooled : projector_->forward(pooled));
}

torch::Tensor EmbeddingNetImpl::forward(const torch::Tensor &images) {
  const torch::Tensor output = uncentred(backbone_->forward(images));
  return centre_.defined() ? output - centre_ : output;
}

torch::Tensor EmbeddingNetImpl::uncentred(const torch::Tensor &pooled) {
  switch (options_.output()) {
    case EmbeddingOutput::kProjection: return head_of(pooled);
    case EmbeddingOutput::kPooled: return pooled;
    case EmbeddingOutput::kPooledSqrt: return pooled.sqrt();  // >= 0: ReLU, then averaging
  }
  throw std::logic_error("unknown embedding output");
}

torch::Tensor EmbeddingNetImpl::embed(const torch::Tensor &images) {
  return l2_normalise(forward(images));
}

torch::Tensor EmbeddingNetImpl::project(const torch::Tensor &images) {
  return l2_normalise(head_of(backbone_->forward(images)));
}

void EmbeddingNetImpl::set_centre(const torch::Tensor &centre) {
  if (centre.dim() != 1 || centre.size(0) != output_dim())
    throw std::invalid_argument("embedding net: the centre must have one value per output");
  torch::NoGradGuard no_grad;
  if (centre_.defined())
    centre_.copy_(centre);
  else
    centre_ = register_buffer("centre", centre.detach().clone());
}

int64_t EmbeddingNetImpl::output_dim() const {
  return options_.output() == EmbeddingOutput::kProjection ? options_.embedding_dim()
                                                          : options_.channels().back();
}

PairHeadImpl::PairHeadImpl(const PairHeadOptions &options) {
  int64_t width = options.embedding_dim();
  for (const int64_t hidden : options.hidden()) {
    layers_->push_back(torch::nn::Linear(width, hidden));
    layers_->push_back(torch::nn::ReLU());
    width = hidden;
  }
  layers_->push_back(torch::nn::Linear(width, 1));
  register_module("layers", layers_);
}

torch::Tensor PairHeadImpl::forward(const torch::Tensor &h1, const torch::Tensor &h2) {
  return layers_->forward((h1 - h2).abs()).squeeze(1);
}

std::vector<torch::nn::Linear> PairHeadImpl::dense_layers() const {
  std::vector<torch::nn::Linear> dense;
  for (const auto &layer : *layers_)
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer.ptr()))
      dense.emplace_back(linear);
  return dense;
}

SiameseNetImpl::SiameseNetImpl(EmbeddingNet embedding, PairHead head)
    : embedding_(register_module("embedding", std::move(embedding))) {
  if (head) head_ = register_module("head", std::move(head));
}

std::pair<torch::Tensor, torch::Tensor> SiameseNetImpl::forward(const torch::Tensor &x1,
                                                                const torch::Tensor &x2) {
  const auto both = embedding_->project(torch::cat({x1, x2})).chunk(2);
  return {both[0], both[1]};
}

torch::Tensor SiameseNetImpl::match_logits(const torch::Tensor &x1, const torch::Tensor &x2) {
  if (!head_) throw std::logic_error("match_logits() on a Siamese net without a head");
  const auto [h1, h2] = forward(x1, x2);
  return head_->forward(h1, h2);
}

TripletNetImpl::TripletNetImpl(EmbeddingNet embedding)
    : embedding_(register_module("embedding", std::move(embedding))) {}

TripletEmbeddings TripletNetImpl::forward(const torch::Tensor &anchor,
                                          const torch::Tensor &positive,
                                          const torch::Tensor &negative) {
  const auto all = embedding_->project(torch::cat({anchor, positive, negative})).chunk(3);
  return {all[0], all[1], all[2]};
}

void use_channels_last(torch::nn::Module &module) {
  torch::NoGradGuard no_grad;
  for (auto &parameter : module.parameters())
    if (parameter.dim() == 4)
      parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast));
}

EvalScope::EvalScope(std::vector<torch::nn::Module *> modules) {
  for (auto *module : modules) {
    modes_.emplace_back(module, module->is_training());
    module->eval();
  }
}

EvalScope::~EvalScope() {
  for (const auto &[module, training] : modes_) module->train(training);
}

}  // namespace siamese::trainer
