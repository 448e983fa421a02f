// The pieces the dedup round made of code that builders wrote twice: the positive-size check
// every config reader shares (RequirePositive), the decoder's dim roles (DecoderDimRoles), and
// the BERT-like entry (BertLikeEncoder) behind convbert, mobilebert and nystromformer. The graphs
// they build are checked byte for byte by the lead's graph sums; these pin the contracts.

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"

namespace ipfs_accel::models {
namespace dedup_templates_test {

using nlohmann::json;

TEST(DedupTemplates, RequirePositiveNamesTheFirstSizeThatIsNotPositive) {
  const HfConfig c(json::object(), "test:sizes");
  EXPECT_NO_THROW(RequirePositive(c, {{"hidden_size", 8}, {"num_groups", 1}}));
  try {
    RequirePositive(c, {{"hidden_size", 8}, {"num_groups", 0}, {"vocab_size", -1}});
    FAIL() << "num_groups 0 passed";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
    EXPECT_STREQ(e.what(), "'test:sizes': num_groups is 0; it must be positive");
  }
}

TEST(DedupTemplates, ConvBertStillRefusesAZeroGroupCountByName) {
  json config = TinyConfig(*FindTemplate("convbert")).json();
  config["num_groups"] = 0;
  try {
    LoadConfig(HfConfig(config, "test:convbert"), "template:convbert");
    FAIL() << "num_groups 0 built";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_groups is 0; it must be positive"), std::string::npos)
        << e.what();
  }
}

TEST(DedupTemplates, DecoderDimRolesNameTheCacheAxesAndTheShortestPrompt) {
  const DimRoles r = DecoderDimRoles(2048, 577);
  EXPECT_EQ(r.batch, "batch");
  EXPECT_EQ(r.sequence, "sequence");
  EXPECT_EQ(r.past_sequence, "past_sequence");
  EXPECT_EQ(r.total_sequence, "total_sequence");
  EXPECT_EQ(r.max_sequence, 2048);
  EXPECT_EQ(r.min_sequence, 577);
  EXPECT_EQ(DecoderDimRoles(0).min_sequence, 0);
  EXPECT_EQ(DecoderDimRoles(0).decoder_sequence, "");
}

TEST(DedupTemplates, BertLikeEntryTakesThreeTokenInputsAndGivesLastHiddenState) {
  for (const char* type : {"convbert", "mobilebert", "nystromformer"}) {
    const std::string graph =
        LoadConfig(TinyConfig(*FindTemplate(type)), std::string("template:") + type).onnx_bytes;
    for (const char* name : {"input_ids", "attention_mask", "token_type_ids", "last_hidden_state"})
      EXPECT_NE(graph.find(name), std::string::npos) << type << " lacks " << name;
  }
}

}  // namespace dedup_templates_test
}  // namespace ipfs_accel::models
