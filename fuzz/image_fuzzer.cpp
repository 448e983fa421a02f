// PNG and JPEG files for `run --image`, decoded as Hugging Face pipelines load them.

#include <span>

#include "fuzz_target.h"
#include "ipfs_accel/preprocess/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipfs_accel::fuzz::Expect(
      [&] { ipfs_accel::preprocess::DecodeImage(std::span(data, size), "fuzz.image"); });
  return 0;
}
