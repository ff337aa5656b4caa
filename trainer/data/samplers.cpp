// SPDX-License-Identifier: LGPL-2.1-or-later
#include "samplers.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace siamese::trainer {
namespace {

template <typename T>
const T &pick(const std::vector<T> &values, std::mt19937_64 &rng) {
  return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
}

// Two different elements of `values` (which holds at least two).
std::pair<std::size_t, std::size_t> pick_two(const std::vector<std::size_t> &values,
                                             std::mt19937_64 &rng) {
  const std::size_t first = std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng);
  std::size_t second = std::uniform_int_distribution<std::size_t>(0, values.size() - 2)(rng);
  if (second >= first) ++second;
  return {values[first], values[second]};
}

// A class of `classes` other than `excluded` (which is one of them).
int pick_other(const std::vector<int> &classes, int excluded, std::mt19937_64 &rng) {
  const auto position = std::find(classes.begin(), classes.end(), excluded) - classes.begin();
  auto other = std::uniform_int_distribution<std::ptrdiff_t>(0, classes.size() - 2)(rng);
  if (other >= position) ++other;
  return classes[other];
}

// Pairs and triplets need an anchor class with two images and another class.
void require_pairs_possible(const ClassIndex &index) {
  if (index.pairable_classes().empty() || index.classes().size() < 2) {
    throw Error(
        ErrorKind::kFormat,
        "Sampling pairs needs at least two classes and a class with two images; the data has " +
            std::to_string(index.classes().size()) + " class(es), " +
            std::to_string(index.pairable_classes().size()) + " with two or more images.");
  }
}

}  // namespace

ClassIndex::ClassIndex(const std::vector<int> &labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) members_[labels[i]].push_back(i);
  for (const auto &[label, members] : members_) {
    classes_.push_back(label);
    if (members.size() >= 2) pairable_.push_back(label);
  }
}

const std::vector<std::size_t> &ClassIndex::members(int label) const {
  const auto found = members_.find(label);
  if (found == members_.end()) {
    throw Error(ErrorKind::kSettings, "Class " + std::to_string(label) + " has no images.");
  }
  return found->second;
}

PairSampler::PairSampler(const std::vector<int> &labels, uint64_t seed)
    : index_(labels), rng_(seed) {
  require_pairs_possible(index_);
}

Pair PairSampler::positive() {
  const auto [first, second] =
      pick_two(index_.members(pick(index_.pairable_classes(), rng_)), rng_);
  return {first, second, 1};
}

Pair PairSampler::negative() {
  const int first_class = pick(index_.classes(), rng_);
  const int second_class = pick_other(index_.classes(), first_class, rng_);
  const std::size_t first = pick(index_.members(first_class), rng_);
  return {first, pick(index_.members(second_class), rng_), 0};
}

std::vector<Pair> PairSampler::batch(std::size_t n) {
  std::vector<Pair> pairs;
  pairs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) pairs.push_back(i < (n + 1) / 2 ? positive() : negative());
  std::shuffle(pairs.begin(), pairs.end(), rng_);
  return pairs;
}

TripletSampler::TripletSampler(const std::vector<int> &labels, uint64_t seed)
    : index_(labels), rng_(seed) {
  require_pairs_possible(index_);
}

Triplet TripletSampler::next() {
  const int anchor_class = pick(index_.pairable_classes(), rng_);
  const auto [anchor, positive] = pick_two(index_.members(anchor_class), rng_);
  const int negative_class = pick_other(index_.classes(), anchor_class, rng_);
  return {anchor, positive, pick(index_.members(negative_class), rng_)};
}

std::vector<Triplet> TripletSampler::batch(std::size_t n) {
  std::vector<Triplet> triplets;
  triplets.reserve(n);
  for (std::size_t i = 0; i < n; ++i) triplets.push_back(next());
  return triplets;
}

ClassBatchSampler::ClassBatchSampler(const std::vector<int> &labels, int classes_per_batch,
                                     int images_per_class, uint64_t seed)
    : index_(labels),
      classes_per_batch_(classes_per_batch),
      images_per_class_(images_per_class),
      rng_(seed) {
  if (classes_per_batch < 2 || images_per_class < 2) {
    throw Error(ErrorKind::kSettings,
                "P x K batches need P >= 2 classes and K >= 2 images per class, not " +
                    std::to_string(classes_per_batch) + " x " + std::to_string(images_per_class) +
                    ".");
  }
  if (index_.pairable_classes().size() < static_cast<std::size_t>(classes_per_batch)) {
    throw Error(ErrorKind::kSettings,
                "P x K batches with P = " + std::to_string(classes_per_batch) +
                    " need that many classes with two or more images; the data has " +
                    std::to_string(index_.pairable_classes().size()) + ".");
  }
}

std::vector<std::size_t> ClassBatchSampler::next() {
  const auto k = static_cast<std::size_t>(images_per_class_);
  std::vector<int> classes;
  std::sample(index_.pairable_classes().begin(), index_.pairable_classes().end(),
              std::back_inserter(classes), classes_per_batch_, rng_);
  std::vector<std::size_t> batch;
  batch.reserve(classes.size() * k);
  for (int label : classes) {
    const std::vector<std::size_t> &members = index_.members(label);
    const std::size_t first = batch.size();
    std::sample(members.begin(), members.end(), std::back_inserter(batch), k, rng_);
    // A class with fewer than K images is topped up with repeats.
    while (batch.size() - first < k) batch.push_back(pick(members, rng_));
  }
  return batch;
}

std::vector<Pair> evaluation_pairs(const std::vector<int> &labels, std::size_t count,
                                   uint64_t seed) {
  return PairSampler(labels, seed).batch(count);
}

}  // namespace siamese::trainer
