// Adding a LLaMA-like architecture is data only: a template file in IPFS_ACCEL_TEMPLATE_PATH and
// a fixture, no C++. The fixture is the hf-tiny LLaMA (weights and HF's outputs) under a model
// type no build knows; the template says it is LLaMA with another config class's defaults.

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace template_variant_test {

class TemplateVariant : public CliTest {
 protected:
  // The hf-tiny LLaMA fixture, its config.json saying `model_type`.
  fs::path VariantFixture(const std::string& model_type) {
    const fs::path from = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/llama";
    const fs::path to = dir_ / "fixture";
    fs::create_directories(to);
    for (const char* f : {"model.safetensors", "io.safetensors"}) fs::copy(from / f, to / f);
    nlohmann::json config = nlohmann::json::parse(ReadFile(from / "config.json"));
    config["model_type"] = model_type;
    std::ofstream(to / "config.json") << config.dump(2);
    return to;
  }
  void WriteTemplate(const nlohmann::json& t) {
    fs::create_directories(dir_ / "templates");
    std::ofstream(dir_ / "templates" / "variant.json") << t.dump(2);
    env_ = "IPFS_ACCEL_TEMPLATE_PATH=" + (dir_ / "templates").string() + " ";
  }
};

TEST_F(TemplateVariant, AModelTypeNoBuildKnowsIsRefusedAsUnsupported) {
  const fs::path fixture = VariantFixture("my_llama");
  const Result r = Run("verify --model-dir " + fixture.string());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("'my_llama'"), std::string::npos) << r.err;
}

TEST_F(TemplateVariant, ALlamaLikeTemplateFileMakesItVerifyAgainstHfOutputs) {
  const fs::path fixture = VariantFixture("my_llama");
  WriteTemplate({{"model_type", "my_llama"},
                 {"inherits", "llama"},
                 {"version", 1},
                 {"history", {{{"version", 1}, {"reason", "LLaMA under another name"}}}},
                 {"hf_config_class", "MyLlamaConfig"},
                 {"defaults", {{"max_position_embeddings", 4096}}}});
  const Result r = Run("verify --model-dir " + fixture.string());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST_F(TemplateVariant, AVariantWhosePiecesDifferFromTheCheckpointFailsVerification) {
  // The same weights read as Gemma-style norms (scale 1 + weight): outputs must differ, so the
  // passing test above shows the template decides the graph.
  const fs::path fixture = VariantFixture("my_llama");
  WriteTemplate({{"model_type", "my_llama"},
                 {"inherits", "llama"},
                 {"version", 1},
                 {"history", {{{"version", 1}, {"reason", "wrong on purpose"}}}},
                 {"pieces", {{"norm", "rms_plus_one"}}}});
  const Result r = Run("verify --model-dir " + fixture.string());
  EXPECT_EQ(r.status, 1) << r.out << r.err;
}

}  // namespace template_variant_test
}  // namespace ipfs_accel
