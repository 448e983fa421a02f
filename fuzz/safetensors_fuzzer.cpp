// safetensors files: the header length, the JSON header and its offsets against the bytes.

#include <span>

#include "fuzz_target.h"
#include "ipfs_accel/models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipfs_accel::fuzz::Expect([&] {
    const auto bytes = std::as_bytes(std::span(data, size));
    const auto layout = ipfs_accel::models::ParseSafetensors(bytes, "fuzz.safetensors");
    // What was accepted must lie inside the input.
    for (const auto& [name, entry] : layout.entries)
      if (layout.data_start + entry.end > size) __builtin_trap();
  });
  return 0;
}
