// Detection architectures and their backbone: HF's ResNet (ResNetModel) and DETR (DetrModel,
// or DetrForObjectDetection when config.json's architectures names it).

#include "architectures.h"
#include "detr_builder.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

void AddDetectionArchitectures(std::vector<Architecture>& out) {
  // Images have no sequence axis: height and width are fixed by a catalog entry's image_size
  // or given with --shape (see ImageDims).
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch"}; };
  out.push_back({"resnet",
                 "vision",
                 {"resnet."},
                 BuildResNet,
                 [](const HfConfig&) { return std::map<std::string, InputHint>{}; },
                 roles});
  out.push_back(
      {"detr",
       "vision",
       {"model."},
       BuildDetr,
       [](const HfConfig&) {
         return std::map<std::string, InputHint>{{"pixel_mask", {InputHint::Kind::kOnes, 0, 0}}};
       },
       roles});
}

}  // namespace ipfs_accel::models
