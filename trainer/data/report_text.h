// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Small text helpers the evaluation reports share: numbers with a printf
// pattern, JSON strings, joined lists.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace siamese::trainer {

inline std::string format(const char *pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

inline std::string json_string(const std::string &text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

inline std::string join(const std::vector<int> &values) {
  std::string text;
  for (int value : values) text += (text.empty() ? "" : ", ") + std::to_string(value);
  return text;
}

}  // namespace siamese::trainer
