// The architecture templates (data/templates, docs/templates.md): every template is checked
// against Hugging Face's parameter count at its config class's defaults (catalog_truth.json,
// written by transformers itself), the loader's inheritance and refusals, and the registry made
// from them.

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"

namespace ipfs_accel::models {
namespace templates_test {

using ::testing::HasSubstr;

const nlohmann::json& CatalogTruth() {
  static const nlohmann::json truth = [] {
    std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) +
                     "/fixtures/hf-catalog/catalog_truth.json");
    return in.good() ? nlohmann::json::parse(in)["models"] : nlohmann::json::object();
  }();
  return truth;
}

std::string Message(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Templates, EveryTemplateCountsHfParametersAtItsDefaultConfig) {
  ASSERT_FALSE(CatalogTruth().empty()) << "catalog_truth.json is missing";
  int compared = 0;
  for (const ArchitectureTemplate& t : Templates()) {
    if (t.abstract || !t.parameters_differ.empty() || !CatalogTruth().contains(t.model_type))
      continue;
    const nlohmann::json& row = CatalogTruth()[t.model_type];
    const std::string key = t.parameters_class == "causal_lm" ? "causal_lm_params" : "base_params";
    if (!row.contains(key)) continue;
    int64_t counted = -1;
    const std::string error = Message([&] { counted = CountParameters(DefaultConfig(t)); });
    EXPECT_EQ(counted, row[key].get<int64_t>())
        << t.model_type << " (" << t.source << ") " << error;
    ++compared;
  }
  EXPECT_GE(compared, 20);
}

TEST(Templates, EveryTemplateBuildsAtItsTinySize) {
  for (const ArchitectureTemplate& t : Templates()) {
    if (t.abstract) continue;
    const std::string error = Message([&] {
      const Model m = LoadConfig(TinyConfig(t), "template:" + t.model_type);
      EXPECT_LT(m.info.parameters, 5'000'000) << t.model_type << " is not tiny";
      EXPECT_EQ(m.info.template_name, t.model_type);
      EXPECT_EQ(m.info.template_version, t.version);
    });
    EXPECT_EQ(error, "") << t.model_type;
  }
}

TEST(Templates, EveryConcreteTemplateIsARegisteredArchitecture) {
  std::set<std::string> registered;
  for (const Architecture& a : Architectures()) registered.insert(a.model_type);
  for (const ArchitectureTemplate& t : Templates())
    EXPECT_EQ(registered.count(t.model_type), t.abstract ? 0u : 1u) << t.model_type;
}

TEST(Templates, AChildInheritsItsParentsDefaultsAndPiecesAndOverridesSome) {
  const ArchitectureTemplate* mistral = FindTemplate("mistral");
  ASSERT_NE(mistral, nullptr);
  EXPECT_EQ(mistral->builder, "decoder");  // from _decoder, through llama
  EXPECT_EQ(mistral->lineage, (std::vector<std::string>{"llama", "_decoder"}));
  EXPECT_EQ(mistral->defaults["rms_norm_eps"], 1e-6);        // llama's
  EXPECT_EQ(mistral->defaults["intermediate_size"], 14336);  // its own
  EXPECT_EQ(mistral->pieces["sliding_window"], "all");       // its own
  EXPECT_EQ(mistral->pieces["norm"], "rms");                 // llama's
  EXPECT_EQ(mistral->tiny["hidden_size"], 32);               // _decoder's
  EXPECT_THAT(mistral->content_hash, ::testing::StartsWith("sha256:"));
}

TEST(Templates, AConfigThatSetsARequiredKeyOtherwiseIsRefusedNamingTheKey) {
  const ArchitectureTemplate& gemma = *FindTemplate("gemma");
  const HfConfig config({{"model_type", "gemma"}, {"use_bidirectional_attention", true}}, "c.json");
  const std::string error = Message([&] { ApplyTemplate(gemma, config); });
  EXPECT_THAT(error, HasSubstr("use_bidirectional_attention"));
  EXPECT_THAT(error, HasSubstr("c.json"));
}

TEST(Templates, AStructuralKeyTheTemplateDoesNotKnowIsRefusedNotIgnored) {
  // A LLaMA config with experts is a mixture of experts: building it dense would be wrong.
  const HfConfig config({{"model_type", "llama"}, {"num_local_experts", 8}}, "moe.json");
  const std::string error = Message([&] { ApplyTemplate(*FindTemplate("llama"), config); });
  EXPECT_THAT(error, HasSubstr("'num_local_experts'"));
  EXPECT_THAT(error, HasSubstr("moe.json"));
}

TEST(Templates, AStructuralKeyThatTurnsItsFeatureOffIsAccepted) {
  for (const nlohmann::json& off :
       {nlohmann::json(nullptr), nlohmann::json(false), nlohmann::json(0)}) {
    const HfConfig config({{"model_type", "llama"}, {"num_local_experts", off}}, "c.json");
    EXPECT_NO_THROW(ApplyTemplate(*FindTemplate("llama"), config)) << off;
  }
}

TEST(Templates, AttributeMapAliasesFillTheCanonicalKeysEitherWay) {
  const ArchitectureTemplate& gpt2 = *FindTemplate("gpt2");
  const HfConfig given({{"model_type", "gpt2"}, {"hidden_size", 64}}, "c");
  EXPECT_EQ(ApplyTemplate(gpt2, given).Int("n_embd"), 64);
  const HfConfig aliased({{"model_type", "gpt2"}, {"n_embd", 48}}, "c");
  EXPECT_EQ(ApplyTemplate(gpt2, aliased).Int("hidden_size"), 48);
  EXPECT_EQ(ApplyTemplate(gpt2, HfConfig({{"model_type", "gpt2"}}, "c")).Int("hidden_size"), 768);
}

TEST(Templates, AMalformedTemplateIsRefusedNamingTheFileAndField) {
  const nlohmann::json bad = {{"model_type", "x"},
                              {"inherits", "llama"},
                              {"version", 1},
                              {"history", {{{"version", 1}, {"reason", "r"}}}},
                              {"pices", nlohmann::json::object()}};
  EXPECT_THAT(Message([&] { ResolveTemplate(bad, "x.json"); }), HasSubstr("unknown field 'pices'"));
  nlohmann::json cycle = bad;
  cycle.erase("pices");
  cycle["inherits"] = "nothing-here";
  EXPECT_THAT(Message([&] { ResolveTemplate(cycle, "x.json"); }), HasSubstr("'nothing-here'"));
  nlohmann::json version = cycle;
  version["inherits"] = "llama";
  version["version"] = 2;
  EXPECT_THAT(Message([&] { ResolveTemplate(version, "x.json"); }),
              HasSubstr("last 'history' entry is version 1"));
}

}  // namespace templates_test
}  // namespace ipfs_accel::models
