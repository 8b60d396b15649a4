// expect_error(fn, {"part", ...}): fn must throw masklm::Error whose message contains
// every part, so tests check that errors say something a user can act on.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "runtime/error.h"

namespace masklm::testing {

template <typename F> void expect_error(F&& f, std::initializer_list<std::string_view> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (std::string_view part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    return;
  }
  ADD_FAILURE() << "expected a masklm::Error";
}

template <typename F> void expect_error(F&& f, std::string_view part) { expect_error(f, {part}); }

}  // namespace masklm::testing
