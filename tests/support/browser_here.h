#pragma once
// Whether the browser tests can run here: Chromium installed, and the runner page and
// onnxruntime-web's files where the build expects them. SKIP_WITHOUT_BROWSER() skips a test
// saying which is missing.

#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/hw/hardware.h"
#include "runtime/browser_session.h"

namespace ipfs_accel::testing {

inline bool BrowserHere(std::string* why) {
  if (!hw::DetectChromium(why)) return false;
  try {
    runtime::FindBrowserFiles();
  } catch (const core::Error& e) {
    *why = e.what();
    return false;
  }
  return true;
}

}  // namespace ipfs_accel::testing

#define SKIP_WITHOUT_BROWSER()                                          \
  do {                                                                  \
    std::string why;                                                    \
    if (!::ipfs_accel::testing::BrowserHere(&why)) GTEST_SKIP() << why; \
  } while (0)
