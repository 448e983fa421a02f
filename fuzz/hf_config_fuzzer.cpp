// config.json: parsed, then built by its architecture's builder on shapes alone (no weights
// are made), which reads every key the builder uses and sizes every tensor from them.

#include "fuzz_target.h"
#include "ipfs_accel/core/json.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace models = ipfs_accel::models;
  ipfs_accel::fuzz::Expect([&] {
    nlohmann::json json =
        ipfs_accel::core::ParseJson(ipfs_accel::fuzz::AsText(data, size), "config.json");
    if (!json.is_object()) return;
    models::CountParameters(models::HfConfig(std::move(json), "config.json"));
  });
  return 0;
}
