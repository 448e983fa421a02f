// Templates added for issue 16's encoder types (DeBERTa, DeBERTa-v2, SEW-D, MarkupLM, the BLIP-2
// and InstructBLIP Q-Formers, MobileBERT, LUKE, ConvBERT, Nystromformer, ViLT): parameter counts
// with the options HF's default configs leave off (relative attention, shared keys, buckets, the
// conv layer, XPath tables, cross-attention layers), each worked out by hand from HF's module
// definitions. The counts at HF's defaults are templates_test.cpp's (catalog_truth.json) where it
// has one.

#include <cstdint>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {
namespace enc_templates_test {

// A DeBERTa config of width 8 in 2 heads, one layer, an FFN of 6, 10 words, 16 positions.
nlohmann::json TinyDeberta(const std::string& model_type) {
  return {{"model_type", model_type},      {"vocab_size", 10},         {"hidden_size", 8},
          {"num_hidden_layers", 1},        {"num_attention_heads", 2}, {"intermediate_size", 6},
          {"max_position_embeddings", 16}, {"type_vocab_size", 0}};
}

int64_t Count(const nlohmann::json& config) { return CountParameters(HfConfig(config, "test")); }

TEST(DebertaTemplate, CountsTheFusedInProjectionAndBothRelativeProjectionsAsHfBuildsThem) {
  nlohmann::json c = TinyDeberta("deberta");
  c["relative_attention"] = true;
  c["pos_att_type"] = "c2p|p2c";  // the legacy string form
  c["position_biased_input"] = false;
  // word 10x8 + embeddings LayerNorm 16; rel_embeddings 2 x 16 rows x 8; the layer: in_proj
  // 24x8, q_bias 8, v_bias 8, pos_proj 8x8 (no bias), pos_q_proj 8x8+8, attention output
  // 8x8+8 + LayerNorm 16, intermediate 8x6+6, output 6x8+8 + LayerNorm 16.
  const int64_t embeddings = 80 + 16, table = 256;
  const int64_t layer = 192 + 8 + 8 + 64 + 72 + 72 + 16 + 54 + 56 + 16;
  EXPECT_EQ(Count(c), embeddings + table + layer);
  // Without relative attention neither the table nor the position projections exist, and the
  // absolute position table (16x8) is back.
  c["relative_attention"] = false;
  c["position_biased_input"] = true;
  EXPECT_EQ(Count(c), embeddings + 128 + (layer - 64 - 72));
}

TEST(DebertaV2Template, CountsSharedKeysBucketsTheTableNormAndTheConvLayerAsHfBuildsThem) {
  nlohmann::json c = TinyDeberta("deberta-v2");
  c.update({{"relative_attention", true},
            {"pos_att_type", {"p2c", "c2p"}},
            {"position_buckets", 4},
            {"share_att_key", true},
            {"norm_rel_ebd", "layer_norm"},
            {"conv_kernel_size", 3},
            {"conv_groups", 2},
            {"type_vocab_size", 2},
            {"embedding_size", 4}});
  // word 10x4, positions 16x4, token types 2x4, embed_proj 4x8 (no bias), LayerNorm 16;
  // rel_embeddings 2 x 4 buckets x 8 + encoder.LayerNorm 16; conv 8 x 8/2 x 3 + 8 + LayerNorm
  // 16; the layer: query/key/value_proj 3 x (8x8+8), no position projections (shared),
  // attention output 72 + 16, intermediate 54, output 56 + 16.
  const int64_t embeddings = 40 + 64 + 8 + 32 + 16, table = 64 + 16, conv = 96 + 8 + 16;
  const int64_t layer = 216 + 72 + 16 + 54 + 56 + 16;
  EXPECT_EQ(Count(c), embeddings + table + conv + layer);
  // Unshared: pos_key_proj and pos_query_proj, 8x8+8 each, for c2p and p2c.
  c["share_att_key"] = false;
  EXPECT_EQ(Count(c), embeddings + table + conv + layer + 2 * 72);
  c["pos_att_type"] = {"c2p"};
  EXPECT_EQ(Count(c), embeddings + table + conv + layer + 72);
}

TEST(DebertaV2Template, RefusesAPositionAttentionTypeItDoesNotBuild) {
  nlohmann::json c = TinyDeberta("deberta-v2");
  c["relative_attention"] = true;
  c["pos_att_type"] = {"p2c", "p2p"};
  try {
    Count(c);
    FAIL() << "p2p was accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("p2p"));
  }
}

TEST(MarkupLmTemplate, CountsBertPlusTheXPathTablesAndItsUnreadProjectionAsHfBuildsThem) {
  const nlohmann::json c = {{"model_type", "markuplm"},
                            {"vocab_size", 10},
                            {"hidden_size", 8},
                            {"num_hidden_layers", 1},
                            {"num_attention_heads", 2},
                            {"intermediate_size", 6},
                            {"max_position_embeddings", 16},
                            {"type_vocab_size", 2},
                            {"max_depth", 2},
                            {"xpath_unit_hidden_size", 4},
                            {"max_xpath_tag_unit_embeddings", 5},
                            {"max_xpath_subs_unit_embeddings", 7}};
  // BERT: word 10x8, positions 16x8, token types 2x8, LayerNorm 16; the layer: query, key,
  // value, attention output 4 x (8x8+8) + LayerNorm 16, intermediate 8x6+6, output 6x8+8 +
  // LayerNorm 16; pooler 8x8+8. XPathEmbeddings: xpath_unitseq2_embeddings (2x4)x8+8 (never
  // read, still a parameter), xpath_unitseq2_inner 8x32+32, inner2emb 32x8+8, tag tables 2 x 5x4,
  // subscript tables 2 x 7x4.
  const int64_t bert = (80 + 128 + 16 + 16) + (288 + 16 + 54 + 56 + 16) + 72;
  const int64_t xpath = 72 + 288 + 264 + 40 + 56;
  EXPECT_EQ(Count(c), bert + xpath);
}

// A Q-Former of width 8 in 2 heads, 3 layers (cross-attention on 0 and 2 at frequency 2), an FFN
// of 6, image features of 5.
nlohmann::json TinyQFormer(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 8},       {"num_hidden_layers", 3},
          {"num_attention_heads", 2}, {"intermediate_size", 6}, {"cross_attention_frequency", 2},
          {"encoder_hidden_size", 5}, {"vocab_size", 10},       {"max_position_embeddings", 16}};
}

TEST(QFormerTemplate, Blip2CountsQueryLayersAndCrossAttentionEveryFrequencyLayers) {
  // layernorm 16; per layer: self-attention 4 x (8x8+8) + LayerNorm 16, query FFN 8x6+6 + 6x8+8
  // + LayerNorm 16; cross-attention (layers 0 and 2): query 8x8+8, key and value 5x8+8 each,
  // output 8x8+8 + LayerNorm 16. No word embeddings and no text FFN without text input.
  const int64_t self = 288 + 16, query_ffn = 54 + 56 + 16, cross = 72 + 48 + 48 + 72 + 16;
  EXPECT_EQ(Count(TinyQFormer("blip_2_qformer")), 16 + 3 * (self + query_ffn) + 2 * cross);
}

TEST(QFormerTemplate, InstructBlipAddsTextEmbeddingsAndTheTextFeedForward) {
  // embeddings: word 10x8, positions 16x8, layernorm 16 (no top-level layernorm); each layer
  // also has the text FFN, 8x6+6 + 6x8+8 + LayerNorm 16.
  const int64_t self = 288 + 16, ffn = 54 + 56 + 16, cross = 72 + 48 + 48 + 72 + 16;
  EXPECT_EQ(Count(TinyQFormer("instructblip_qformer")),
            (80 + 128 + 16) + 3 * (self + 2 * ffn) + 2 * cross);
  // At InstructBlipQFormerConfig's defaults (catalog_truth.json has no count): word 30522x768,
  // positions 512x768, layernorm 1536; 12 layers of self-attention 4 x (768x768+768) + 1536 and
  // two FFNs of 768x3072+3072 + 3072x768+768 + 1536; cross-attention on 6 layers: query and
  // output 768x768+768, key and value 1408x768+768, LayerNorm 1536.
  const int64_t embeddings = 30522 * 768 + 512 * 768 + 1536;
  const int64_t layer =
      (4 * (768 * 768 + 768) + 1536) + 2 * (768 * 3072 + 3072 + 3072 * 768 + 768 + 1536);
  const int64_t cross_default = 2 * (768 * 768 + 768) + 2 * (1408 * 768 + 768) + 1536;
  EXPECT_EQ(Count({{"model_type", "instructblip_qformer"}}),
            embeddings + 12 * layer + 6 * cross_default);
  EXPECT_EQ(embeddings + 12 * layer + 6 * cross_default, 185659392);
}

nlohmann::json TinyMobileBert() {
  return {{"model_type", "mobilebert"}, {"vocab_size", 10},
          {"hidden_size", 8},           {"embedding_size", 2},
          {"num_attention_heads", 2},   {"num_hidden_layers", 1},
          {"intermediate_size", 6},     {"max_position_embeddings", 16},
          {"intra_bottleneck_size", 4}, {"num_feedforward_networks", 2}};
}

TEST(MobileBertTemplate, CountsTrigramEmbeddingsBottlenecksAndStackedFeedForwards) {
  // embeddings: word 10x2, embedding_transformation (3x2)x8+8, positions 16x8, token types 2x8,
  // NoNorm 16; the layer: bottleneck.input and bottleneck.attention 8x4+4 + NoNorm 8 each,
  // query and key 4x4+4, value 8x4+4, attention output 4x4+4 + 8, one stacked FFN and the last
  // FFN 4x6+6 + 6x4+4 + 8 each, output.bottleneck 4x8+8 + 16; pooler 8x8+8.
  const int64_t embeddings = 20 + 56 + 128 + 16 + 16;
  const int64_t layer = 44 + 44 + 20 + 20 + 36 + 28 + 2 * 66 + 56;
  EXPECT_EQ(Count(TinyMobileBert()), embeddings + layer + 72);
}

TEST(MobileBertTemplate, CountsTheUnreadEmbeddingTransformationWithoutTrigramsOrBottleneck) {
  nlohmann::json c = TinyMobileBert();
  c.update({{"embedding_size", 8},
            {"trigram_input", false},
            {"use_bottleneck", false},
            {"normalization_type", "layer_norm"},
            {"classifier_activation", false}});
  // embeddings: word 10x8, embedding_transformation 8x8+8 (built, never read), positions 16x8,
  // token types 2x8, LayerNorm 16; the layer at width 8: query, key, value 3 x (8x8+8), output
  // 72 + 16, two FFNs of 8x6+6 + 6x8+8 + 16; no pooler dense.
  EXPECT_EQ(Count(c), (80 + 72 + 128 + 16 + 16) + (216 + 88 + 2 * 126));
}

TEST(LukeTemplate, CountsTheEntityModulesWordOnlyInputNeverReads) {
  nlohmann::json c = {
      {"model_type", "luke"},          {"vocab_size", 10},         {"hidden_size", 8},
      {"num_hidden_layers", 1},        {"num_attention_heads", 2}, {"intermediate_size", 6},
      {"max_position_embeddings", 16}, {"type_vocab_size", 2},     {"entity_vocab_size", 5},
      {"entity_emb_size", 4}};
  // RoBERTa: word 10x8, positions 16x8, token types 2x8, LayerNorm 16; the layer 4 x (8x8+8) +
  // 16 + 8x6+6 + 6x8+8 + 16; pooler 8x8+8. Entities: table 5x4, entity_embedding_dense 4x8 (no
  // bias), positions 16x8, token types 2x8, LayerNorm 16; entity-aware queries 3 x (8x8+8).
  const int64_t words = (80 + 128 + 16 + 16) + 430 + 72;
  const int64_t entities = 20 + 32 + 128 + 16 + 16, queries = 216;
  EXPECT_EQ(Count(c), words + entities + queries);
  c["use_entity_aware_attention"] = false;
  EXPECT_EQ(Count(c), words + entities);
  c["entity_emb_size"] = 8;  // as wide as the words: no dense
  EXPECT_EQ(Count(c), words + 40 + 128 + 16 + 16);
}

TEST(ConvBertTemplate, CountsMixedAttentionHalvesAndGroupedFeedForwardAsHfBuildsThem) {
  const nlohmann::json c = {{"model_type", "convbert"}, {"vocab_size", 10},
                            {"hidden_size", 8},         {"embedding_size", 4},
                            {"num_hidden_layers", 1},   {"num_attention_heads", 4},
                            {"intermediate_size", 6},   {"max_position_embeddings", 16},
                            {"conv_kernel_size", 3},    {"num_groups", 2}};
  // 4 heads / head_ratio 2 = 2 heads of 8 / 2 / 2 = 2 features: width 4. Embeddings: word 10x4,
  // positions 16x4, token types 2x4, LayerNorm 8, embeddings_project 4x8+8. The layer: query,
  // key, value 3 x (8x4+4); key_conv_attn_layer depthwise 8x1x3, pointwise 4x8x1, bias 4;
  // conv_kernel_layer 4x(2x3)+6; conv_out_layer 8x4+4; attention output 8x8+8 + LayerNorm 16;
  // grouped intermediate 2x4x3 + 6 and output 2x3x4 + 8; LayerNorm 16. No pooler.
  const int64_t embeddings = 40 + 64 + 8 + 8 + 40;
  const int64_t layer = 108 + (24 + 32 + 4) + 30 + 36 + (72 + 16) + (24 + 6) + (24 + 8) + 16;
  EXPECT_EQ(Count(c), embeddings + layer);
}

TEST(NystromformerTemplate, CountsTwoExtraPositionRowsAndTheDepthwiseValueConvolution) {
  nlohmann::json c = {{"model_type", "nystromformer"},
                      {"vocab_size", 10},
                      {"hidden_size", 8},
                      {"num_hidden_layers", 1},
                      {"num_attention_heads", 2},
                      {"intermediate_size", 6},
                      {"max_position_embeddings", 16},
                      {"conv_kernel_size", 3},
                      {"segment_means_seq_len", 8},
                      {"num_landmarks", 4}};
  // word 10x8, positions (16 + 2)x8, token types 2x8, LayerNorm 16; the layer: query, key,
  // value, attention output 4 x (8x8+8) + LayerNorm 16, conv 2 heads x 1 x 3 x 1 (no bias),
  // intermediate 8x6+6, output 6x8+8 + LayerNorm 16. Landmarks add no parameters.
  const int64_t embeddings = 80 + 144 + 16 + 16, layer = 288 + 16 + 54 + 56 + 16;
  EXPECT_EQ(Count(c), embeddings + layer + 6);
  c["conv_kernel_size"] = nullptr;
  EXPECT_EQ(Count(c), embeddings + layer);
}

TEST(ViltTemplate, CountsTextAndPatchEmbeddingsModalityTypesAndPreNormLayers) {
  const nlohmann::json c = {
      {"model_type", "vilt"},          {"vocab_size", 10},         {"hidden_size", 8},
      {"num_hidden_layers", 1},        {"num_attention_heads", 2}, {"intermediate_size", 6},
      {"max_position_embeddings", 16}, {"image_size", 16},         {"patch_size", 8}};
  // text: word 10x8, positions 16x8, token types 2x8, LayerNorm 16; image: patch conv 8x3x8x8
  // + 8, cls_token 8, positions (2x2 patches + 1)x8; modality types 2x8; the layer: 4 x (8x8+8)
  // + 2 LayerNorms of 16 + 8x6+6 + 6x8+8; final layernorm 16; pooler 8x8+8.
  const int64_t text = 80 + 128 + 16 + 16, image = 1544 + 8 + 40;
  EXPECT_EQ(Count(c), text + image + 16 + (288 + 32 + 54 + 56) + 16 + 72);
}

}  // namespace enc_templates_test
}  // namespace ipfs_accel::models
