#pragma once
// What every fuzz target shares. A target feeds the bytes to one reader of input from outside
// and lets core::Error pass: that is the documented way to refuse input. Anything else that
// escapes (another exception, a crash, a sanitizer report, a hang, memory past the fuzzer's
// limit) is a bug, which libFuzzer reports with the input that caused it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `read` on the input; a core::Error is an answer, not a finding.
template <typename F>
void Expect(F&& read) {
  try {
    read();
  } catch (const core::Error&) {
  }
}

}  // namespace ipfs_accel::fuzz
