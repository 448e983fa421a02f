// Tests for the LLaMA-like layer pieces that only some templates name (decoder_layer_pieces.h):
// the per-layer attention types HF derives from layer_types or a repeating pattern, and the
// layers that skip rotary embeddings.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "models/decoder_layer_pieces.h"
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace decoder_pieces_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using nlohmann::json;

HfConfig Config(json j) { return HfConfig(std::move(j), "test"); }

TEST(DecoderLayerPieces, SlidingLayersFollowHfDefaultPatterns) {
  const HfConfig c = Config(json::object());
  // OLMo 3, Gemma 2/3, EXAONE 4: the last layer of each group attends fully.
  EXPECT_EQ(SlidingLayers(c, 8, 4, false),
            (std::vector<bool>{true, true, true, false, true, true, true, false}));
  EXPECT_EQ(SlidingLayers(c, 4, 2, false), (std::vector<bool>{true, false, true, false}));
  // CWM, GraniteSWA: the first layer of each group attends fully.
  EXPECT_EQ(SlidingLayers(c, 6, 4, true),
            (std::vector<bool>{false, true, true, true, false, true}));
  EXPECT_EQ(SlidingLayers(c, 3, 0, false), (std::vector<bool>{false, false, false}));
}

TEST(DecoderLayerPieces, LayerTypesListWinsOverThePattern) {
  const HfConfig c =
      Config({{"layer_types", {"full_attention", "sliding_attention", "sliding_attention"}}});
  EXPECT_EQ(SlidingLayers(c, 3, 2, false), (std::vector<bool>{false, true, true}));
  const auto wrong_length = CatchError([&] { SlidingLayers(c, 4, 2, false); });
  EXPECT_EQ(wrong_length.kind(), ErrorKind::kCorrupt);
  const auto unknown = CatchError([&] {
    SlidingLayers(Config({{"layer_types", {"chunked_attention"}}}), 1, 2, false);
  });
  EXPECT_EQ(unknown.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(unknown.what()).find("chunked_attention"), std::string::npos);
}

TEST(DecoderLayerPieces, SmolLm3SkipsRotaryEveryFourthLayerUnlessListed) {
  EXPECT_EQ(NoRopeLayers(Config(json::object()), 8),
            (std::vector<bool>{true, true, true, false, true, true, true, false}));
  EXPECT_EQ(NoRopeLayers(Config({{"no_rope_layer_interval", 2}}), 4),
            (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(NoRopeLayers(Config({{"no_rope_layers", {0, 1, 1}}}), 3),
            (std::vector<bool>{false, true, true}));
  EXPECT_EQ(CatchError([] {
              NoRopeLayers(Config({{"no_rope_layers", {1}}}), 2);
            }).kind(),
            ErrorKind::kCorrupt);
}

}  // namespace decoder_pieces_test
}  // namespace ipfs_accel::models
