// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Index samplers for Siamese training and evaluation: balanced pairs,
// triplets, P classes x K images batches for online mining, and fixed-seed
// evaluation pair sets.  They return indices into a label vector (an
// ImageSet's labels), are seeded explicitly and deterministic.
//
// Classes are drawn uniformly among the classes that can serve the role, so
// large classes do not dominate.  A class with a single image can be a
// negative but never give a positive pair or an anchor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace siamese::trainer {

struct Pair {
  std::size_t first = 0;
  std::size_t second = 0;
  int same = 0;  // 1: same class, different images; 0: different classes
};

struct Triplet {
  std::size_t anchor = 0;
  std::size_t positive = 0;  // same class as the anchor, another image
  std::size_t negative = 0;  // another class
};

// The image indices of each class.
class ClassIndex {
 public:
  explicit ClassIndex(const std::vector<int> &labels);

  // Classes with at least one image, ascending.
  const std::vector<int> &classes() const { return classes_; }
  // Classes with at least two images (those that can give a positive pair).
  const std::vector<int> &pairable_classes() const { return pairable_; }
  const std::vector<std::size_t> &members(int label) const;

 private:
  std::map<int, std::vector<std::size_t>> members_;
  std::vector<int> classes_;
  std::vector<int> pairable_;
};

class PairSampler {
 public:
  // Throws siamese::Error (kFormat) without a pairable class or with fewer
  // than two classes.
  PairSampler(const std::vector<int> &labels, uint64_t seed);

  Pair positive();
  Pair negative();
  // n / 2 positives (rounded up) and the rest negatives, in random order.
  std::vector<Pair> batch(std::size_t n);

 private:
  ClassIndex index_;
  std::mt19937_64 rng_;
};

class TripletSampler {
 public:
  // Same requirements as PairSampler.
  TripletSampler(const std::vector<int> &labels, uint64_t seed);

  Triplet next();
  std::vector<Triplet> batch(std::size_t n);

 private:
  ClassIndex index_;
  std::mt19937_64 rng_;
};

// Batches of P distinct classes x K images each, for batch-hard / semi-hard
// mining.  Images within a class are distinct when the class has at least K;
// smaller classes repeat images (only classes with two or more take part).
class ClassBatchSampler {
 public:
  // Throws siamese::Error (kSettings) when P < 2, K < 2 or fewer than P
  // pairable classes exist.
  ClassBatchSampler(const std::vector<int> &labels, int classes_per_batch, int images_per_class,
                    uint64_t seed);

  // P * K indices, grouped by class (K consecutive indices share a label).
  std::vector<std::size_t> next();

 private:
  ClassIndex index_;
  int classes_per_batch_;
  int images_per_class_;
  std::mt19937_64 rng_;
};

// A fixed, balanced set of `count` pairs for verification metrics: the same
// labels and seed always give the same pairs.
std::vector<Pair> evaluation_pairs(const std::vector<int> &labels, std::size_t count,
                                   uint64_t seed);

}  // namespace siamese::trainer
