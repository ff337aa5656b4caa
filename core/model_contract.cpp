// SPDX-License-Identifier: LGPL-2.1-or-later
#include "model_contract.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace siamese {
namespace {

// The metadata keys.  Version 1 of the contract; bump kVersion when a key
// changes meaning so that old readers can refuse new files.
constexpr const char *kVersionKey = "siamese.contract_version";
constexpr const char *kVersion = "1";
constexpr const char *kWidth = "siamese.input.width";
constexpr const char *kHeight = "siamese.input.height";
constexpr const char *kColor = "siamese.input.color";
constexpr const char *kMean = "siamese.input.mean";
constexpr const char *kScale = "siamese.input.scale";
constexpr const char *kEmbeddingDim = "siamese.embedding.dim";
constexpr const char *kMetric = "siamese.metric";
constexpr const char *kThresholdPrefix = "siamese.threshold.";
constexpr const char *kHeadShape = "siamese.head.shape";
constexpr const char *kHeadWeights = "siamese.head.weights";
constexpr const char *kTraining = "siamese.training";
// The cohort: its row count, and its count x embedding-dim floats as base64
// of little-endian float32 (a third of the size of decimal text).
constexpr const char *kCohortCount = "siamese.cohort.count";
constexpr const char *kCohortEmbeddings = "siamese.cohort.embeddings";
// The background, stored as the cohort is.
constexpr const char *kBackgroundCount = "siamese.background.count";
constexpr const char *kBackgroundEmbeddings = "siamese.background.embeddings";
// Calibrated thresholds, one key per metric, kind and rate:
//   siamese.calibrated.<metric>.raw.<rate>        = "<threshold>"
//   siamese.calibrated.<metric>.normalised.<rate> = "<raw floor>,<normalised threshold>"
// each followed by ",<background margin>" when the point has one.
constexpr const char *kCalibratedPrefix = "siamese.calibrated.";
constexpr const char *kRawKind = "raw";
constexpr const char *kNormalisedKind = "normalised";
// Recommended decision settings.
constexpr const char *kNormalise = "siamese.decision.normalise";  // "on" or "off"
constexpr const char *kCohortTop = "siamese.decision.cohort_top";
constexpr const char *kCohortSides = "siamese.decision.cohort_sides";  // "both" or "query"
constexpr const char *kMargin = "siamese.decision.margin";
constexpr const char *kBackgroundMargin = "siamese.decision.background_margin";
// Not under kCalibratedPrefix: every key there is a calibrated point.
constexpr const char *kCalibrationFrameSize = "siamese.calibration.frame_size";
// A cohort row's L2 norm may differ from 1 by this much (float rounding of
// the trainer's normalisation, far below anything that changes a decision).
constexpr double kUnitNormTolerance = 1e-3;

// %.9g round-trips every float exactly.
std::string format_float(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  return buffer;
}

// The shortest text that reads back as the same double (rates such as 0.01
// stay "0.01" in the key instead of "0.0100000000000000002").
std::string format_rate(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

[[noreturn]] void malformed(const std::string &what, const std::string &value,
                            const std::string &expected) {
  throw std::invalid_argument("invalid " + what + " \"" + value + "\": expected " + expected);
}

float parse_float(const std::string &text, const std::string &what) {
  try {
    std::size_t used = 0;
    const float value = std::stof(text, &used);
    if (text.find_first_not_of(" \t", used) == std::string::npos && std::isfinite(value))
      return value;
  } catch (const std::logic_error &) {
  }
  malformed(what, text, "a finite number");
}

int parse_positive_int(const std::string &text, const std::string &what) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value > 0) return value;
  } catch (const std::logic_error &) {
  }
  malformed(what, text, "a positive integer");
}

std::vector<float> parse_floats(const std::string &text, const std::string &what) {
  std::vector<float> values;
  for (const auto &part : split(text, ',')) values.push_back(parse_float(part, what));
  return values;
}

std::string join_floats(const std::vector<float> &values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) text += ',';
    text += format_float(values[i]);
  }
  return text;
}

float parse_nonnegative_float(const std::string &text, const std::string &what) {
  const float value = parse_float(text, what);
  if (value < 0.f) malformed(what, text, "a number of 0 or more");
  return value;
}

constexpr char kBase64Digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_floats(const std::vector<float> &values) {
  std::vector<unsigned char> bytes;
  bytes.reserve(values.size() * 4);
  for (const float value : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int shift = 0; shift < 32; shift += 8) bytes.push_back((bits >> shift) & 0xffu);
  }
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    const std::uint32_t group = bytes[i] << 16 | (left > 1 ? bytes[i + 1] << 8 : 0) |
                                (left > 2 ? bytes[i + 2] : 0);
    text += kBase64Digits[group >> 18 & 63];
    text += kBase64Digits[group >> 12 & 63];
    text += left > 1 ? kBase64Digits[group >> 6 & 63] : '=';
    text += left > 2 ? kBase64Digits[group & 63] : '=';
  }
  return text;
}

std::vector<float> floats_from_base64(const std::string &text, const std::string &what) {
  if (text.size() % 4 != 0) malformed(what, text.substr(0, 40), "base64 text");
  std::vector<unsigned char> bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      const char *digit = c ? std::strchr(kBase64Digits, c) : nullptr;
      // '=' only as the last one or two characters of the text.
      if (c == '=' && i + 4 == text.size() && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        ++padding;
        group <<= 6;
        continue;
      }
      if (!digit || padding) malformed(what, text.substr(0, 40), "base64 text");
      group = group << 6 | static_cast<std::uint32_t>(digit - kBase64Digits);
    }
    bytes.push_back(group >> 16 & 0xffu);
    if (padding < 2) bytes.push_back(group >> 8 & 0xffu);
    if (padding < 1) bytes.push_back(group & 0xffu);
  }
  if (bytes.size() % 4 != 0)
    malformed(what, std::to_string(bytes.size()) + " bytes", "a whole number of float32 values");
  std::vector<float> values(bytes.size() / 4);
  for (std::size_t v = 0; v < values.size(); ++v) {
    std::uint32_t bits = 0;
    for (int b = 3; b >= 0; --b) bits = bits << 8 | bytes[v * 4 + b];
    std::memcpy(&values[v], &bits, sizeof bits);
  }
  return values;
}

// The metadata keys of one set of embeddings (the cohort, the background).
struct EmbeddingKeys {
  const char *count;
  const char *embeddings;
};
constexpr EmbeddingKeys kCohortKeys{kCohortCount, kCohortEmbeddings};
constexpr EmbeddingKeys kBackgroundKeys{kBackgroundCount, kBackgroundEmbeddings};

Cohort read_embeddings(const EmbeddingKeys &keys, const std::string &count_text,
                       const std::string &embeddings_text, int embedding_dim) {
  Cohort set;
  set.count = parse_positive_int(count_text, keys.count);
  if (embedding_dim <= 0)
    throw std::invalid_argument(std::string("the model has ") + keys.embeddings + " without " +
                                kEmbeddingDim + ", which gives the length of its rows");
  set.embeddings = floats_from_base64(embeddings_text, keys.embeddings);
  const std::size_t expected = static_cast<std::size_t>(set.count) * embedding_dim;
  if (set.embeddings.size() != expected)
    malformed(keys.embeddings, std::to_string(set.embeddings.size()) + " values",
              std::to_string(expected) + " (" + keys.count + " " + count_text + " x " +
                  kEmbeddingDim + " " + std::to_string(embedding_dim) + ")");
  for (int row = 0; row < set.count; ++row) {
    double squared = 0.0;
    for (int k = 0; k < embedding_dim; ++k) {
      const float value = set.embeddings[static_cast<std::size_t>(row) * embedding_dim + k];
      if (!std::isfinite(value))
        malformed(keys.embeddings, "row " + std::to_string(row), "finite values");
      squared += double(value) * value;
    }
    if (std::abs(std::sqrt(squared) - 1.0) > kUnitNormTolerance)
      malformed(keys.embeddings,
                "row " + std::to_string(row) + " of L2 norm " + std::to_string(std::sqrt(squared)),
                "L2-normalised rows");
  }
  return set;
}

// The set under `keys`, empty when neither key is there; both or neither.
Cohort find_embeddings(const std::map<std::string, std::string> &props, const EmbeddingKeys &keys,
                       int embedding_dim) {
  const auto count = props.find(keys.count);
  const auto embeddings = props.find(keys.embeddings);
  const bool has_count = count != props.end(), has_embeddings = embeddings != props.end();
  if (has_count && has_embeddings)
    return read_embeddings(keys, count->second, embeddings->second, embedding_dim);
  if (has_count || has_embeddings)
    throw std::invalid_argument(std::string("the model has ") +
                                (has_count ? keys.count : keys.embeddings) + " without " +
                                (has_count ? keys.embeddings : keys.count));
  return {};
}

void write_embeddings(const Cohort &set, const EmbeddingKeys &keys,
                      std::map<std::string, std::string> &props) {
  if (set.empty()) return;
  props[keys.count] = std::to_string(set.count);
  props[keys.embeddings] = base64_floats(set.embeddings);
}

// A key siamese.calibrated.<metric>.<kind>.<rate> and its value.
CalibratedThreshold read_calibrated(const std::string &key, const std::string &value) {
  const std::string rest = key.substr(std::string(kCalibratedPrefix).size());
  const std::size_t metric_end = rest.find('.');
  const std::size_t kind_end =
      metric_end == std::string::npos ? std::string::npos : rest.find('.', metric_end + 1);
  if (kind_end == std::string::npos)
    malformed("key", key, std::string(kCalibratedPrefix) + "<metric>.raw|normalised.<rate>");
  CalibratedThreshold point;
  point.metric = metric_from_string(rest.substr(0, metric_end));
  const std::string kind = rest.substr(metric_end + 1, kind_end - metric_end - 1);
  if (kind != kRawKind && kind != kNormalisedKind) malformed(key, kind, "raw or normalised");
  point.normalised = kind == kNormalisedKind;
  const std::string rate = rest.substr(kind_end + 1);
  char *end = nullptr;
  point.false_accept_rate = std::strtod(rate.c_str(), &end);
  if (rate.empty() || *end != '\0' || !(point.false_accept_rate > 0.0) ||
      !(point.false_accept_rate < 1.0))
    malformed(key, rate, "a false-accept rate between 0 and 1");
  const std::vector<float> values = parse_floats(value, key);
  const std::size_t thresholds = point.normalised ? 2u : 1u;
  if (values.size() != thresholds && values.size() != thresholds + 1)
    malformed(key, value,
              point.normalised ? "\"raw floor,normalised threshold[,background margin]\""
                               : "\"threshold[,background margin]\"");
  point.threshold = values[0];
  if (point.normalised) point.normalised_threshold = values[1];
  if (values.size() > thresholds) point.background_margin = values[thresholds];
  return point;
}

std::string calibrated_key(const CalibratedThreshold &point) {
  return std::string(kCalibratedPrefix) + to_string(point.metric) + '.' +
         (point.normalised ? kNormalisedKind : kRawKind) + '.' + format_rate(point.false_accept_rate);
}

bool calibrated_order(const CalibratedThreshold &a, const CalibratedThreshold &b) {
  return std::tie(a.metric, a.normalised, a.false_accept_rate) <
         std::tie(b.metric, b.normalised, b.false_accept_rate);
}

const std::string *find(const std::map<std::string, std::string> &props, const char *key) {
  const auto it = props.find(key);
  return it == props.end() ? nullptr : &it->second;
}

// The head travels as its layer widths "in,hidden...,1" plus one flat list of
// every layer's weights followed by its bias, in layer order.
void write_head(const PairHead &head, std::map<std::string, std::string> &props) {
  std::string shape = std::to_string(head.layers.front().in);
  std::vector<float> flat;
  for (const auto &layer : head.layers) {
    shape += ',' + std::to_string(layer.out);
    flat.insert(flat.end(), layer.weight.begin(), layer.weight.end());
    flat.insert(flat.end(), layer.bias.begin(), layer.bias.end());
  }
  props[kHeadShape] = shape;
  props[kHeadWeights] = join_floats(flat);
}

PairHead read_head(const std::string &shape_text, const std::string &weights_text) {
  std::vector<int> widths;
  for (const auto &part : split(shape_text, ','))
    widths.push_back(parse_positive_int(part, kHeadShape));
  if (widths.size() < 2) malformed(kHeadShape, shape_text, "at least two layer widths");
  const std::vector<float> flat = parse_floats(weights_text, kHeadWeights);
  PairHead head;
  std::size_t offset = 0;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    DenseLayer layer;
    layer.in = widths[i];
    layer.out = widths[i + 1];
    const std::size_t needed = static_cast<std::size_t>(layer.in) * layer.out + layer.out;
    if (offset + needed > flat.size())
      malformed(kHeadWeights, std::to_string(flat.size()) + " values",
                "as many values as " + std::string(kHeadShape) + " = " + shape_text + " needs");
    layer.weight.assign(flat.begin() + offset, flat.begin() + offset + layer.in * layer.out);
    offset += layer.weight.size();
    layer.bias.assign(flat.begin() + offset, flat.begin() + offset + layer.out);
    offset += layer.bias.size();
    head.layers.push_back(std::move(layer));
  }
  if (offset != flat.size())
    malformed(kHeadWeights, std::to_string(flat.size()) + " values",
              std::to_string(offset) + " values for " + std::string(kHeadShape) + " = " +
                  shape_text);
  return head;
}

}  // namespace

const char *to_string(ColorOrder order) {
  switch (order) {
    case ColorOrder::kGray: return "GRAY";
    case ColorOrder::kRgb: return "RGB";
    case ColorOrder::kBgr: return "BGR";
  }
  return "?";
}

const char *to_string(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
    case Metric::kEuclidean: return "euclidean";
    case Metric::kLearned: return "learned";
  }
  return "?";
}

const char *to_string(CohortSides sides) {
  switch (sides) {
    case CohortSides::kBoth: return "both";
    case CohortSides::kQuery: return "query";
  }
  return "?";
}

ColorOrder color_order_from_string(const std::string &text) {
  for (auto order : {ColorOrder::kGray, ColorOrder::kRgb, ColorOrder::kBgr})
    if (text == to_string(order)) return order;
  malformed("colour order", text, "GRAY, RGB or BGR");
}

Metric metric_from_string(const std::string &text) {
  for (auto metric : {Metric::kCosine, Metric::kEuclidean, Metric::kLearned})
    if (text == to_string(metric)) return metric;
  malformed("metric", text, "cosine, euclidean or learned");
}

CohortSides cohort_sides_from_string(const std::string &text, const std::string &what) {
  for (auto sides : {CohortSides::kBoth, CohortSides::kQuery})
    if (text == to_string(sides)) return sides;
  malformed(what, text, "both or query");
}

std::array<float, 3> parse_triple(const std::string &text, const std::string &what) {
  const std::vector<float> values = parse_floats(text, what);
  if (values.size() == 1) return {values[0], values[0], values[0]};
  if (values.size() == 3) return {values[0], values[1], values[2]};
  malformed(what, text, "one number or three comma-separated numbers");
}

std::string format_triple(const std::array<float, 3> &values) {
  return join_floats({values.begin(), values.end()});
}

void PairHead::validate(int embedding_dim) const {
  if (layers.empty()) throw std::invalid_argument("the pair head has no layers");
  int expected_in = embedding_dim;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const DenseLayer &layer = layers[i];
    const std::string name = "pair head layer " + std::to_string(i);
    if (expected_in > 0 && layer.in != expected_in)
      throw std::invalid_argument(name + " takes " + std::to_string(layer.in) +
                                  " inputs, expected " + std::to_string(expected_in));
    if (layer.weight.size() != static_cast<std::size_t>(layer.in) * layer.out ||
        layer.bias.size() != static_cast<std::size_t>(layer.out))
      throw std::invalid_argument(name + " has weights of the wrong size");
    expected_in = layer.out;
  }
  if (layers.back().out != 1)
    throw std::invalid_argument("the last pair head layer must have one output");
}

std::map<std::string, std::string> ModelContract::to_metadata() const {
  std::map<std::string, std::string> props;
  props[kVersionKey] = kVersion;
  // An unknown size (0, taken from the graph's input shape) is left out, as
  // from_metadata() reads it: "0" would be refused as not positive.
  if (input.width > 0) props[kWidth] = std::to_string(input.width);
  if (input.height > 0) props[kHeight] = std::to_string(input.height);
  props[kColor] = to_string(input.color);
  props[kMean] = format_triple(input.mean);
  props[kScale] = format_triple(input.scale);
  if (embedding_dim > 0) props[kEmbeddingDim] = std::to_string(embedding_dim);
  props[kMetric] = to_string(metric);
  for (const auto &[which, value] : thresholds)
    props[std::string(kThresholdPrefix) + to_string(which)] = format_float(value);
  if (!head.empty()) write_head(head, props);
  if (!training_summary.empty()) props[kTraining] = training_summary;
  write_embeddings(cohort, kCohortKeys, props);
  write_embeddings(background, kBackgroundKeys, props);
  for (const CalibratedThreshold &point : calibrated) {
    std::string value = format_float(point.threshold);
    if (point.normalised) value += ',' + format_float(point.normalised_threshold);
    if (point.background_margin) value += ',' + format_float(*point.background_margin);
    props[calibrated_key(point)] = value;
  }
  if (recommended.normalise) props[kNormalise] = *recommended.normalise ? "on" : "off";
  if (recommended.cohort_top) props[kCohortTop] = std::to_string(*recommended.cohort_top);
  if (recommended.cohort_sides) props[kCohortSides] = to_string(*recommended.cohort_sides);
  if (recommended.margin) props[kMargin] = format_float(*recommended.margin);
  if (recommended.background_margin)
    props[kBackgroundMargin] = format_float(*recommended.background_margin);
  if (calibration_frame_size > 0)
    props[kCalibrationFrameSize] = std::to_string(calibration_frame_size);
  return props;
}

const CalibratedThreshold *ModelContract::calibrated_at(Metric metric, bool normalised,
                                                        double false_accept_rate) const {
  const CalibratedThreshold *chosen = nullptr;
  for (const CalibratedThreshold &point : calibrated)
    if (point.metric == metric && point.normalised == normalised &&
        point.false_accept_rate <= false_accept_rate &&
        (!chosen || point.false_accept_rate > chosen->false_accept_rate))
      chosen = &point;
  return chosen;
}

bool ModelContract::present_in(const std::map<std::string, std::string> &props) {
  return props.count(kVersionKey) > 0;
}

ModelContract ModelContract::from_metadata(const std::map<std::string, std::string> &props) {
  ModelContract contract;
  if (const auto *version = find(props, kVersionKey); version && *version != kVersion)
    malformed(kVersionKey, *version, std::string("version ") + kVersion +
                                         " (this file was written by a newer trainer)");
  if (const auto *v = find(props, kWidth)) contract.input.width = parse_positive_int(*v, kWidth);
  if (const auto *v = find(props, kHeight)) contract.input.height = parse_positive_int(*v, kHeight);
  if (const auto *v = find(props, kColor)) contract.input.color = color_order_from_string(*v);
  if (const auto *v = find(props, kMean)) contract.input.mean = parse_triple(*v, kMean);
  if (const auto *v = find(props, kScale)) contract.input.scale = parse_triple(*v, kScale);
  if (const auto *v = find(props, kEmbeddingDim))
    contract.embedding_dim = parse_positive_int(*v, kEmbeddingDim);
  if (const auto *v = find(props, kMetric)) contract.metric = metric_from_string(*v);
  for (auto which : {Metric::kCosine, Metric::kEuclidean, Metric::kLearned}) {
    const std::string key = std::string(kThresholdPrefix) + to_string(which);
    if (const auto *v = find(props, key.c_str())) contract.thresholds[which] = parse_float(*v, key);
  }
  const auto *shape = find(props, kHeadShape);
  const auto *weights = find(props, kHeadWeights);
  if (shape && weights) {
    contract.head = read_head(*shape, *weights);
    contract.head.validate(contract.embedding_dim);
  } else if (shape || weights) {
    throw std::invalid_argument(std::string("the model has ") + (shape ? kHeadShape : kHeadWeights) +
                                " without " + (shape ? kHeadWeights : kHeadShape));
  }
  if (const auto *v = find(props, kTraining)) contract.training_summary = *v;

  contract.cohort = find_embeddings(props, kCohortKeys, contract.embedding_dim);
  contract.background = find_embeddings(props, kBackgroundKeys, contract.embedding_dim);
  for (auto it = props.lower_bound(kCalibratedPrefix);
       it != props.end() && it->first.rfind(kCalibratedPrefix, 0) == 0; ++it)
    contract.calibrated.push_back(read_calibrated(it->first, it->second));
  std::sort(contract.calibrated.begin(), contract.calibrated.end(), calibrated_order);
  if (const auto *v = find(props, kNormalise)) {
    if (*v != "on" && *v != "off") malformed(kNormalise, *v, "on or off");
    contract.recommended.normalise = *v == "on";
  }
  if (const auto *v = find(props, kCohortTop))
    contract.recommended.cohort_top = parse_positive_int(*v, kCohortTop);
  if (const auto *v = find(props, kCohortSides))
    contract.recommended.cohort_sides = cohort_sides_from_string(*v, kCohortSides);
  if (const auto *v = find(props, kMargin))
    contract.recommended.margin = parse_nonnegative_float(*v, kMargin);
  if (const auto *v = find(props, kBackgroundMargin))
    contract.recommended.background_margin = parse_float(*v, kBackgroundMargin);
  if (const auto *v = find(props, kCalibrationFrameSize))
    contract.calibration_frame_size = parse_positive_int(*v, kCalibrationFrameSize);
  return contract;
}

}  // namespace siamese
