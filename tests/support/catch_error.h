#pragma once
// Test helper: runs code that must throw core::Error and returns the error, so a
// test can assert on its kind and message.

#include <functional>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::testing {

inline core::Error CatchError(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no core::Error was thrown";
  return core::Error(core::ErrorKind::kInternal, "<no error thrown>");
}

}  // namespace ipfs_accel::testing
