// SPDX-License-Identifier: LGPL-2.1-or-later
// The one way the unit tests check a siamese::Error: its kind, and that its
// message names what is at fault.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "errors.h"

namespace siamese {

// The kind of the siamese::Error `action` throws; a test failure and nullopt
// when it throws none.  The message must contain `named` (a path, a value).
inline std::optional<ErrorKind> thrown_kind(const std::function<void()> &action,
                                            const std::string &named = {}) {
  try {
    action();
  } catch (const Error &error) {
    EXPECT_NE(std::string(error.what()).find(named), std::string::npos) << error.what();
    return error.kind();
  }
  ADD_FAILURE() << "no siamese::Error was thrown";
  return std::nullopt;
}

}  // namespace siamese
