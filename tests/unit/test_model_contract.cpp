// SPDX-License-Identifier: LGPL-2.1-or-later
// ModelContract: metadata round trip and refusal of malformed values.  The
// tests never spell a metadata key: model_contract.cpp is the only place that does.
#include <gtest/gtest.h>

#include "model_contract.h"

namespace siamese {
namespace {

ModelContract full_contract() {
  ModelContract contract;
  contract.input.width = 28;
  contract.input.height = 32;
  contract.input.color = ColorOrder::kGray;
  contract.input.mean = {0.1f, 0.2f, 0.3f};
  contract.input.scale = {1.f / 255.f, 0.5f, 1.f / 3.f};
  contract.embedding_dim = 3;
  contract.metric = Metric::kLearned;
  contract.thresholds = {{Metric::kCosine, 0.7f}, {Metric::kLearned, 0.5f}};
  contract.head.layers.push_back({3, 2, {1.f, -2.f, 3.5f, 1e-7f, 0.f, -1.f}, {0.25f, -0.125f}});
  contract.head.layers.push_back({2, 1, {0.3f, -0.7f}, {0.1f}});
  contract.training_summary = R"({"mode":"pairs","epochs":3})";
  return contract;
}

void expect_same(const ModelContract &a, const ModelContract &b) {
  EXPECT_EQ(a.input.width, b.input.width);
  EXPECT_EQ(a.input.height, b.input.height);
  EXPECT_EQ(a.input.color, b.input.color);
  EXPECT_EQ(a.input.mean, b.input.mean);
  EXPECT_EQ(a.input.scale, b.input.scale);
  EXPECT_EQ(a.embedding_dim, b.embedding_dim);
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.thresholds, b.thresholds);
  ASSERT_EQ(a.head.layers.size(), b.head.layers.size());
  for (std::size_t i = 0; i < a.head.layers.size(); ++i) {
    EXPECT_EQ(a.head.layers[i].in, b.head.layers[i].in);
    EXPECT_EQ(a.head.layers[i].out, b.head.layers[i].out);
    EXPECT_EQ(a.head.layers[i].weight, b.head.layers[i].weight);
    EXPECT_EQ(a.head.layers[i].bias, b.head.layers[i].bias);
  }
  EXPECT_EQ(a.training_summary, b.training_summary);
}

void expect_rejected(const std::map<std::string, std::string> &props, const std::string &named) {
  try {
    ModelContract::from_metadata(props);
    ADD_FAILURE() << "accepted a malformed value of " << named;
  } catch (const std::invalid_argument &error) {
    EXPECT_NE(std::string(error.what()).find(named), std::string::npos) << error.what();
  }
}

TEST(ModelContract, RoundTripIsExact) {
  // Every field, floats included, survives to_metadata -> from_metadata bit for bit.
  const ModelContract contract = full_contract();
  const auto props = contract.to_metadata();
  EXPECT_TRUE(ModelContract::present_in(props));
  expect_same(ModelContract::from_metadata(props), contract);
}

TEST(ModelContract, AbsentKeysKeepDefaults) {
  // Empty metadata: no contract present, defaults everywhere.
  const std::map<std::string, std::string> none;
  EXPECT_FALSE(ModelContract::present_in(none));
  expect_same(ModelContract::from_metadata(none), ModelContract());
}

TEST(ModelContract, EveryKeyRejectsGarbage) {
  // Each structured key refuses a nonsense value with a message quoting it;
  // only the free-text training summary takes anything.
  const ModelContract contract = full_contract();
  const auto props = contract.to_metadata();
  for (const auto &[key, value] : props) {
    if (value == contract.training_summary) continue;
    auto broken = props;
    broken[key] = "garbage";
    expect_rejected(broken, "garbage");
  }
}

TEST(ModelContract, HeadKeysMustAgree) {
  // The head's shape and weights travel together and must agree in size.
  const auto with_head = full_contract().to_metadata();
  ModelContract headless = full_contract();
  headless.head = {};
  const auto without_head = headless.to_metadata();
  int head_keys = 0;
  for (const auto &[key, value] : with_head) {
    if (without_head.count(key)) continue;
    ++head_keys;
    auto missing = with_head;
    missing.erase(key);
    EXPECT_THROW(ModelContract::from_metadata(missing), std::invalid_argument) << key;
    auto longer = with_head;
    longer[key] = value + ",1";
    EXPECT_THROW(ModelContract::from_metadata(longer), std::invalid_argument) << key;
  }
  EXPECT_EQ(head_keys, 2);
}

TEST(ModelContract, OutOfRangeValues) {
  // Zero or negative sizes and non-finite numbers are malformed too.
  const ModelContract contract = full_contract();
  const auto props = contract.to_metadata();
  for (const auto &[key, value] : props) {
    if (value != "28" && value != "3") continue;  // width and embedding dimension
    for (const char *bad : {"0", "-4", "2.5"}) {
      auto broken = props;
      broken[key] = bad;
      expect_rejected(broken, key);
    }
  }
  for (const auto &[key, value] : props) {
    if (value != "0.699999988") continue;  // the cosine threshold
    auto broken = props;
    broken[key] = "nan";
    expect_rejected(broken, key);
  }
}

TEST(ModelContract, Triples) {
  // One value broadcasts to three; two or four values, or junk, are refused.
  EXPECT_EQ(parse_triple("0.5", "mean"), (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(parse_triple("1,2,3", "mean"), (std::array<float, 3>{1.f, 2.f, 3.f}));
  EXPECT_EQ(parse_triple(format_triple({0.1f, 1e-9f, -3.f}), "mean"),
            (std::array<float, 3>{0.1f, 1e-9f, -3.f}));
  for (const char *bad : {"1,2", "1,2,3,4", "1,x,3", ""}) EXPECT_THROW(parse_triple(bad, "mean"), std::invalid_argument) << bad;
}

TEST(ModelContract, EnumNames) {
  // Names round-trip and unknown names are refused.
  for (auto order : {ColorOrder::kGray, ColorOrder::kRgb, ColorOrder::kBgr})
    EXPECT_EQ(color_order_from_string(to_string(order)), order);
  for (auto metric : {Metric::kCosine, Metric::kEuclidean, Metric::kLearned})
    EXPECT_EQ(metric_from_string(to_string(metric)), metric);
  EXPECT_THROW(color_order_from_string("YUV"), std::invalid_argument);
  EXPECT_THROW(metric_from_string("hamming"), std::invalid_argument);
}

TEST(ModelContract, HeadValidation) {
  // Layers must chain, start at the embedding size and end in one output.
  const PairHead head = full_contract().head;
  EXPECT_NO_THROW(head.validate(3));
  EXPECT_THROW(head.validate(4), std::invalid_argument);
  PairHead two_outputs = head;
  two_outputs.layers.pop_back();
  EXPECT_THROW(two_outputs.validate(3), std::invalid_argument);
  PairHead short_weights = head;
  short_weights.layers[0].weight.pop_back();
  EXPECT_THROW(short_weights.validate(3), std::invalid_argument);
  EXPECT_THROW(PairHead().validate(3), std::invalid_argument);
}

}  // namespace
}  // namespace siamese
