// The key model set (`benchmark --key-models`): the 13 classes of the system we rebuild (with
// Qwen2 and its VL variant apart), each a catalog name whose architecture this build makes.

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {
namespace key_models_test {

TEST(KeyModels, EveryClassHasABuildableCatalogModel) {
  const std::set<std::string> want = {"BERT",  "T5",      "LLaMA",    "CLIP",  "ViT",
                                      "CLAP",  "Whisper", "Wav2Vec2", "LLaVA", "LLaVA-Next",
                                      "XCLIP", "Qwen2",   "Qwen2-VL", "DETR"};
  std::set<std::string> classes;
  for (const KeyModel& k : KeyModels()) {
    EXPECT_TRUE(classes.insert(k.key_class).second) << k.key_class << " twice";
    ASSERT_TRUE(FindInCatalog(k.model)) << k.model;
    // Structure only (no weights): the architecture is registered and builds at this size.
    EXPECT_GT(CountParameters(k.model), 0) << k.model;
  }
  EXPECT_EQ(classes, want);
}

}  // namespace key_models_test
}  // namespace ipfs_accel::models
