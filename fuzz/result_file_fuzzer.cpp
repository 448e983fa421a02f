// Result files for `db import`: the legacy system's three shapes and this tool's run export
// (its streaming reader first, then the document parser for everything it refuses).

#include "fuzz_target.h"
#include "ipfs_accel/store/json_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipfs_accel::fuzz::Expect([&] {
    ipfs_accel::store::ParseResultText(ipfs_accel::fuzz::AsText(data, size),
                                       "/fuzz/benchmark_cpu_20250305_195714.json");
  });
  return 0;
}
