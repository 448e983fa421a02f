// Audio files (WAV, FLAC, anything libsndfile reads) for `run --audio`, mixed down to mono.

#include <span>

#include "fuzz_target.h"
#include "ipfs_accel/preprocess/audio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipfs_accel::fuzz::Expect(
      [&] { ipfs_accel::preprocess::DecodeAudio(std::span(data, size), "fuzz.audio"); });
  return 0;
}
