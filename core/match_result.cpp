// SPDX-License-Identifier: LGPL-2.1-or-later
#include "match_result.h"

#include <stdexcept>

namespace siamese {
namespace {

constexpr Reason kReasons[] = {Reason::kMatched, Reason::kBelowThreshold, Reason::kAmbiguous,
                               Reason::kBackground, Reason::kUnconfirmed};

}  // namespace

const char *to_string(Reason reason) {
  switch (reason) {
    case Reason::kMatched: return "matched";
    case Reason::kBelowThreshold: return "below-threshold";
    case Reason::kAmbiguous: return "ambiguous";
    case Reason::kBackground: return "background";
    case Reason::kUnconfirmed: return "unconfirmed";
  }
  return "?";
}

Reason reason_from_string(const std::string &text) {
  for (const Reason reason : kReasons)
    if (text == to_string(reason)) return reason;
  throw std::invalid_argument("invalid reason \"" + text +
                              "\": expected matched, below-threshold, ambiguous, background or "
                              "unconfirmed");
}

}  // namespace siamese
