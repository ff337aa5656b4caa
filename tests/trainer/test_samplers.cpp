// SPDX-License-Identifier: LGPL-2.1-or-later
// Samplers: pair, triplet and P x K invariants, balance and determinism.
#include <set>

#include <gtest/gtest.h>

#include "samplers.h"
#include "thrown_kind.h"

namespace siamese::trainer {
namespace {

// Class 0: 1 image, class 1: 2, class 2: 5, class 3: 30 (interleaved).
std::vector<int> uneven_labels() {
  std::vector<int> labels;
  for (int round = 0; round < 30; ++round) {
    for (int label : {0, 1, 2, 3}) {
      if (round < std::vector<int>{1, 2, 5, 30}[label]) labels.push_back(label);
    }
  }
  return labels;
}

TEST(PairSampler, PairsObeyTheirLabelsAndAreBalanced) {
  // Positives: same class, different images; negatives: different classes;
  // half of each batch is positive; the single-image class never gives a positive.
  const std::vector<int> labels = uneven_labels();
  PairSampler sampler(labels, 11);
  std::size_t positives = 0;
  std::set<int> positive_classes;
  for (int batch = 0; batch < 20; ++batch) {
    const std::vector<Pair> pairs = sampler.batch(63);
    ASSERT_EQ(pairs.size(), 63u);
    for (const Pair &pair : pairs) {
      ASSERT_LT(std::max(pair.first, pair.second), labels.size());
      if (pair.same) {
        ++positives;
        EXPECT_NE(pair.first, pair.second);
        EXPECT_EQ(labels[pair.first], labels[pair.second]);
        positive_classes.insert(labels[pair.first]);
      } else {
        EXPECT_NE(labels[pair.first], labels[pair.second]);
      }
    }
  }
  EXPECT_EQ(positives, 20u * 32);
  EXPECT_EQ(positive_classes, (std::set<int>{1, 2, 3}));
}

TEST(PairSampler, SameSeedSamePairs) {
  // Determinism, and a different seed gives different pairs.
  const std::vector<int> labels = uneven_labels();
  const auto key = [](const std::vector<Pair> &pairs) {
    std::vector<std::size_t> flat;
    for (const Pair &p : pairs) flat.insert(flat.end(), {p.first, p.second, std::size_t(p.same)});
    return flat;
  };
  EXPECT_EQ(key(evaluation_pairs(labels, 100, 3)), key(evaluation_pairs(labels, 100, 3)));
  EXPECT_NE(key(evaluation_pairs(labels, 100, 3)), key(evaluation_pairs(labels, 100, 4)));
}

TEST(PairSampler, RejectsDataWithoutPairs) {
  // One class, or only single-image classes, give no balanced pairs.
  EXPECT_EQ(thrown_kind([] { PairSampler({2, 2, 2}, 0); }, "1 class(es)"), ErrorKind::kFormat);
  EXPECT_EQ(thrown_kind(
                [] {
                  TripletSampler({0, 1, 2}, 0);
                },
                "0 with two or more"),
            ErrorKind::kFormat);
}

TEST(TripletSampler, TripletsObeyTheirRoles) {
  // Anchor and positive: same class, different images; negative: another class.
  const std::vector<int> labels = uneven_labels();
  TripletSampler sampler(labels, 5);
  std::set<int> negative_classes;
  for (const Triplet &t : sampler.batch(2000)) {
    EXPECT_NE(t.anchor, t.positive);
    EXPECT_EQ(labels[t.anchor], labels[t.positive]);
    EXPECT_NE(labels[t.anchor], labels[t.negative]);
    negative_classes.insert(labels[t.negative]);
  }
  EXPECT_EQ(negative_classes.size(), 4u);  // the single-image class serves as a negative
}

TEST(ClassBatchSampler, BatchesArePClassesOfKImages) {
  // P = 3 distinct classes, K = 4 consecutive indices each; distinct images
  // where the class has K, repeats only in the 2-image class.
  const std::vector<int> labels = uneven_labels();
  ClassBatchSampler sampler(labels, 3, 4, 9);
  for (int batch = 0; batch < 50; ++batch) {
    const std::vector<std::size_t> indices = sampler.next();
    ASSERT_EQ(indices.size(), 12u);
    std::set<int> classes;
    for (int p = 0; p < 3; ++p) {
      const int label = labels[indices[p * 4]];
      classes.insert(label);
      std::set<std::size_t> distinct;
      for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(labels[indices[p * 4 + k]], label);
        distinct.insert(indices[p * 4 + k]);
      }
      EXPECT_EQ(distinct.size(), label == 1 ? 2u : 4u);
    }
    EXPECT_EQ(classes.size(), 3u);
    EXPECT_EQ(classes.count(0), 0u);  // a single image cannot be a positive
  }
}

TEST(ClassBatchSampler, RejectsImpossibleShapes) {
  // Four pairable classes do not exist (class 0 has one image); K = 1 has no positives.
  EXPECT_EQ(thrown_kind([] { ClassBatchSampler(uneven_labels(), 4, 2, 0); }, "P = 4"),
            ErrorKind::kSettings);
  EXPECT_EQ(thrown_kind([] { ClassBatchSampler(uneven_labels(), 2, 1, 0); }, "2 x 1"),
            ErrorKind::kSettings);
}

}  // namespace
}  // namespace siamese::trainer
