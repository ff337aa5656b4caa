// SPDX-License-Identifier: LGPL-2.1-or-later
// ModelContract: metadata round trip and refusal of malformed values.  The
// tests never spell a metadata key: model_contract.cpp is the only place that does.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
  contract.cohort.count = 2;
  contract.cohort.embeddings = {0.6f, 0.f, -0.8f, 0.f, 1.f, 0.f};
  contract.background.count = 2;
  contract.background.embeddings = {0.f, 0.f, 1.f, 0.8f, 0.6f, 0.f};
  // Sorted as from_metadata() sorts them: metric, raw before normalised, rate.
  contract.calibrated = {{Metric::kCosine, false, 0.001, 0.9f, 0.f},
                         {Metric::kCosine, false, 0.01, 0.8f, 0.f},
                         {Metric::kCosine, true, 0.01, 0.4f, 2.75f, -0.08f},
                         {Metric::kLearned, false, 0.1, 0.25f, 0.f}};
  contract.recommended.normalise = true;
  contract.recommended.cohort_top = 5;
  contract.recommended.cohort_sides = CohortSides::kQuery;
  contract.recommended.margin = 0.05f;
  contract.recommended.background_margin = -0.08f;
  contract.calibration_frame_size = 224;
  return contract;
}

// The metadata entries `contract` has and `without` lacks (the keys of one part).
std::map<std::string, std::string> entries_of(const ModelContract &contract,
                                              const ModelContract &without) {
  std::map<std::string, std::string> part;
  const auto other = without.to_metadata();
  for (const auto &[key, value] : contract.to_metadata())
    if (!other.count(key)) part[key] = value;
  return part;
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
  EXPECT_EQ(a.cohort.count, b.cohort.count);
  EXPECT_EQ(a.cohort.embeddings, b.cohort.embeddings);
  EXPECT_EQ(a.background.count, b.background.count);
  EXPECT_EQ(a.background.embeddings, b.background.embeddings);
  EXPECT_EQ(a.calibrated, b.calibrated);
  EXPECT_EQ(a.recommended, b.recommended);
  EXPECT_EQ(a.calibration_frame_size, b.calibration_frame_size);
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

TEST(ModelContract, UnknownInputSizeRoundTrips) {
  // A contract whose input size comes from the graph (0: unknown) writes no
  // size keys and reads back unknown; it used to write "0", which
  // from_metadata() refuses (found by tests/fuzz/fuzz_model_contract.cpp).
  ModelContract contract = full_contract();
  contract.input.width = 0;
  contract.input.height = 0;
  const auto props = contract.to_metadata();
  EXPECT_EQ(props.count("siamese.input.width"), 0u);
  EXPECT_EQ(props.count("siamese.input.height"), 0u);
  expect_same(ModelContract::from_metadata(props), contract);
  expect_same(ModelContract::from_metadata(ModelContract().to_metadata()), ModelContract());
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
    // width, dimension, cohort size, calibration frame size
    if (value != "28" && value != "3" && value != "2" && value != "224") continue;
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

TEST(ModelContract, WithoutOpenSetParts) {
  // A model without cohort, background, calibrated points, recommendations
  // or calibration frame size (every model before them) reads back with all
  // empty.
  ModelContract contract = full_contract();
  contract.cohort = {};
  contract.background = {};
  contract.calibrated.clear();
  contract.recommended = {};
  contract.calibration_frame_size = 0;
  const auto props = contract.to_metadata();
  EXPECT_EQ(props.size(), full_contract().to_metadata().size() - 2 - 2 - 4 - 5 - 1);
  const ModelContract read = ModelContract::from_metadata(props);
  expect_same(read, contract);
  EXPECT_TRUE(read.cohort.empty());
  EXPECT_TRUE(read.background.empty());
  EXPECT_EQ(read.calibrated_at(Metric::kCosine, false, 0.5), nullptr);
}

TEST(ModelContract, CohortIsCompact) {
  // The cohort travels as base64 float32: 4 characters per 3 bytes, not decimal text.
  ModelContract contract = full_contract();
  contract.cohort.count = 100;
  contract.cohort.embeddings.clear();
  for (int row = 0; row < 100; ++row) {
    const float angle = 0.01f * row;
    contract.cohort.embeddings.insert(contract.cohort.embeddings.end(),
                                      {std::cos(angle), std::sin(angle), 0.f});
  }
  ModelContract without = contract;
  without.cohort = {};
  const auto part = entries_of(contract, without);
  ASSERT_EQ(part.size(), 2u);
  std::size_t longest = 0;
  for (const auto &[key, value] : part) longest = std::max(longest, value.size());
  EXPECT_EQ(longest, (100u * 3 * 4 + 2) / 3 * 4);
  expect_same(ModelContract::from_metadata(contract.to_metadata()), contract);
}

// A set of embeddings (a cohort, a background) is two entries, its count and
// its values: `contract` has them, `without` not.  Either one alone is
// refused with a message naming `named`.
void expect_both_entries_needed(const ModelContract &contract, const ModelContract &without,
                                const std::string &named) {
  const auto part = entries_of(contract, without);
  ASSERT_EQ(part.size(), 2u);
  for (const auto &[key, value] : part) {
    auto missing = contract.to_metadata();
    missing.erase(key);
    expect_rejected(missing, named);
  }
}

TEST(ModelContract, CohortMustMatchItsSize) {
  // A cohort whose values are not count x dimension, or whose two entries
  // come apart, is refused with a message naming the cohort.
  const ModelContract contract = full_contract();
  ModelContract without = contract;
  without.cohort = {};
  expect_both_entries_needed(contract, without, "cohort");
  const auto part = entries_of(contract, without);
  const auto props = contract.to_metadata();
  ModelContract longer = contract;
  longer.cohort.count = 3;  // 6 values are two rows of 3, not three
  expect_rejected(longer.to_metadata(), "cohort");
  ModelContract other_dim = contract;
  other_dim.head = {};          // takes 3 inputs
  other_dim.embedding_dim = 2;  // 6 values would be three rows of 2
  expect_rejected(other_dim.to_metadata(), "cohort");
  ModelContract no_dim = contract;
  no_dim.embedding_dim = 0;
  expect_rejected(no_dim.to_metadata(), "cohort");
  for (const auto &[key, value] : part) {
    if (value == "2") continue;  // the count; the other entry holds the values
    for (const char *bad : {"AAAA=AAA", "AAA", "AAA*", "AA=A", "AA=="}) {
      auto broken = props;
      broken[key] = bad;
      expect_rejected(broken, "cohort");
    }
  }
}

TEST(ModelContract, BackgroundIsCheckedAsTheCohortIs) {
  // The background travels as the cohort does, and a broken one is refused
  // with a message naming it.
  const ModelContract contract = full_contract();
  ModelContract without = contract;
  without.background = {};
  expect_both_entries_needed(contract, without, "background");
  ModelContract longer = contract;
  longer.background.count = 3;
  expect_rejected(longer.to_metadata(), "background");
  ModelContract unnormalised = contract;
  unnormalised.background.embeddings[2] = 0.5f;
  expect_rejected(unnormalised.to_metadata(), "background");
  auto bad_margin = contract.to_metadata();
  bad_margin["siamese.decision.background_margin"] = "nan";
  expect_rejected(bad_margin, "siamese.decision.background_margin");
}

TEST(ModelContract, CohortRowsMustBeFiniteAndNormalised) {
  // A NaN or a row that is not of unit length is refused, naming the cohort and the row.
  ModelContract nan = full_contract();
  nan.cohort.embeddings[4] = std::numeric_limits<float>::quiet_NaN();
  expect_rejected(nan.to_metadata(), "row 1");
  ModelContract infinite = full_contract();
  infinite.cohort.embeddings[0] = std::numeric_limits<float>::infinity();
  expect_rejected(infinite.to_metadata(), "row 0");
  ModelContract unnormalised = full_contract();
  unnormalised.cohort.embeddings[4] = 0.9f;
  expect_rejected(unnormalised.to_metadata(), "row 1");
  ModelContract close_enough = full_contract();
  close_enough.cohort.embeddings[4] = 1.0001f;
  EXPECT_NO_THROW(ModelContract::from_metadata(close_enough.to_metadata()));
}

TEST(ModelContract, CalibratedPointsAreChecked) {
  // A calibrated point needs a known metric, kind and a rate in (0, 1), and
  // as many thresholds as its kind has.
  const ModelContract contract = full_contract();
  ModelContract without = contract;
  without.calibrated.clear();
  const auto part = entries_of(contract, without);
  ASSERT_EQ(part.size(), 4u);
  const auto props = contract.to_metadata();
  for (const auto &[key, value] : part) {
    const std::string stem = key.substr(0, key.find(".0"));  // up to the rate
    for (const std::string rate : {"1.5", "0", "-0.1", "x", ""}) {
      auto broken = props;
      broken.erase(key);
      broken[stem + "." + rate] = value;
      EXPECT_THROW(ModelContract::from_metadata(broken), std::invalid_argument) << rate;
    }
    // One value more than the thresholds is the point's background margin; two are too many.
    auto extra = props;
    extra[key] = value + ",1,1";
    expect_rejected(extra, key);
  }
  auto with_margin = props;
  const std::string raw_key = "siamese.calibrated.cosine.raw.0.001";  // no background margin
  ASSERT_EQ(part.count(raw_key), 1u);
  with_margin[raw_key] += ",-0.05";
  const ModelContract read = ModelContract::from_metadata(with_margin);
  EXPECT_EQ(read.calibrated.front().background_margin, -0.05f);
  EXPECT_EQ(read.calibrated.front().threshold, contract.calibrated.front().threshold);
  auto unknown_metric = props;
  const std::string some_key = part.begin()->first;
  const std::string metric = to_string(contract.calibrated.front().metric);
  std::string renamed = some_key;
  renamed.replace(renamed.find(metric), metric.size(), "hamming");
  unknown_metric[renamed] = "0.5";
  expect_rejected(unknown_metric, "hamming");
}

TEST(ModelContract, CalibratedAtNeverLooserThanAsked) {
  // The point in force is the one at the largest calibrated rate not above
  // the asked rate, of the asked metric and kind.
  const ModelContract contract = full_contract();
  const auto at = [&](Metric metric, bool normalised, double rate) {
    const CalibratedThreshold *point = contract.calibrated_at(metric, normalised, rate);
    return point ? point->threshold : -1.f;
  };
  EXPECT_EQ(at(Metric::kCosine, false, 0.01), 0.8f);
  EXPECT_EQ(at(Metric::kCosine, false, 0.05), 0.8f);
  EXPECT_EQ(at(Metric::kCosine, false, 0.005), 0.9f);
  EXPECT_EQ(at(Metric::kCosine, false, 0.0005), -1.f);
  EXPECT_EQ(at(Metric::kCosine, true, 0.01), 0.4f);
  EXPECT_EQ(contract.calibrated_at(Metric::kCosine, true, 0.01)->normalised_threshold, 2.75f);
  EXPECT_EQ(at(Metric::kCosine, true, 0.001), -1.f);
  EXPECT_EQ(at(Metric::kEuclidean, false, 0.5), -1.f);
  EXPECT_EQ(at(Metric::kLearned, false, 0.1), 0.25f);
}

TEST(ModelContract, Recommendations) {
  // Normalisation is on or off, the cohort size positive, the sides both or
  // query, the margin not negative; the background margin may be negative
  // (it is read as any number).
  const ModelContract contract = full_contract();
  ModelContract without = contract;
  without.recommended = {};
  const auto part = entries_of(contract, without);
  ASSERT_EQ(part.size(), 5u);
  const auto props = contract.to_metadata();
  for (const auto &[key, value] : part) {
    if (key == "siamese.decision.background_margin") continue;
    auto broken = props;
    broken[key] = "-1";
    expect_rejected(broken, key);
  }
  ModelContract off = contract;
  off.recommended.normalise = false;
  EXPECT_EQ(ModelContract::from_metadata(off.to_metadata()).recommended.normalise, false);
  ModelContract both = contract;
  both.recommended.cohort_sides = CohortSides::kBoth;
  EXPECT_EQ(ModelContract::from_metadata(both.to_metadata()).recommended.cohort_sides,
            CohortSides::kBoth);
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
