// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the model contract parser (ModelContract::from_metadata).
// Input: metadata_props as "key\0value\0key\0value..." (seeds: the fixture
// models' metadata).  Every input must give a contract or the documented
// std::invalid_argument; a parsed contract must survive to_metadata() and
// parse again to the same metadata.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

#include "model_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
  const std::string input(reinterpret_cast<const char *>(data), size);
  std::map<std::string, std::string> props;
  std::size_t start = 0;
  while (start < input.size()) {
    const std::size_t key_end = std::min(input.find('\0', start), input.size());
    const std::size_t value_start = std::min(key_end + 1, input.size());
    const std::size_t value_end = std::min(input.find('\0', value_start), input.size());
    props[input.substr(start, key_end - start)] =
        input.substr(value_start, value_end - value_start);
    start = value_end + 1;
  }
  siamese::ModelContract contract;
  try {
    contract = siamese::ModelContract::from_metadata(props);
    if (!contract.head.empty()) contract.head.validate(contract.embedding_dim);
  } catch (const std::invalid_argument &) {
    return 0;
  }
  // What the trainer writes, the element must read back unchanged.
  const auto written = contract.to_metadata();
  if (siamese::ModelContract::from_metadata(written).to_metadata() != written) std::abort();
  return 0;
}
