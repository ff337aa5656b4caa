// SPDX-License-Identifier: LGPL-2.1-or-later
#include "model_contract.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

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

// %.9g round-trips every float exactly.
std::string format_float(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
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
  props[kWidth] = std::to_string(input.width);
  props[kHeight] = std::to_string(input.height);
  props[kColor] = to_string(input.color);
  props[kMean] = format_triple(input.mean);
  props[kScale] = format_triple(input.scale);
  if (embedding_dim > 0) props[kEmbeddingDim] = std::to_string(embedding_dim);
  props[kMetric] = to_string(metric);
  for (const auto &[which, value] : thresholds)
    props[std::string(kThresholdPrefix) + to_string(which)] = format_float(value);
  if (!head.empty()) write_head(head, props);
  if (!training_summary.empty()) props[kTraining] = training_summary;
  return props;
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
  return contract;
}

}  // namespace siamese
