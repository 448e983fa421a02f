// .onnx files as this tool reads them before handing them to ONNX Runtime: the protobuf, the
// parameter count and the input hints.

#include "fuzz_target.h"
#include "models/onnx_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipfs_accel::fuzz::Expect(
      [&] { ipfs_accel::models::DescribeOnnx(ipfs_accel::fuzz::AsText(data, size), "fuzz.onnx"); });
  return 0;
}
