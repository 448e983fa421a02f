#include "cli/commands.h"
#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::cli {

models::LoadOptions WithMemoryLimit(models::LoadOptions options) {
  options.max_weight_bytes = hw::AvailableHostMemoryBytes();
  return options;
}

models::Model LoadModelHere(const std::string& spec, models::LoadOptions options) {
  return models::LoadModel(spec, WithMemoryLimit(options));
}

}  // namespace ipfs_accel::cli
