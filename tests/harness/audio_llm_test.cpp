// The audio-language composites' own step (src/models/audio_llm_builder.h) run by ONNX Runtime:
// each clip's valid audio features kept as HF's get_audio_features keeps them, worked out by hand;
// and Qwen2.5-Omni's chunked audio encoder (whisper_audio_encoder chunks n_window), whose
// chunks must each come out as that chunk encoded alone.

#include <cstdint>
#include <string>
#include <vector>

#include <random>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"

#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/audio_llm_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/checked_graph.h"
#include "support/reference_forward.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace audio_llm_test {

// features [2 clips, 4 positions, 2] holding 0..15 in order; frames [2] int64 per clip.
std::vector<double> KeptRows(const std::vector<int64_t>& frames) {
  models::SeededRandomWeights weights(1, 0.02);
  const models::Model m = CheckedGraph(weights, "keep", [&](models::GraphBuilder& g) {
    g.Input("features", onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{4}, int64_t{2}});
    g.Input("frames", onnx::TensorProto::INT64, {int64_t{2}});
    g.Node("Identity", {models::KeepValidAudioRows(g, "features", "frames", 4, 2)}, {}, "kept");
    g.Output("kept", onnx::TensorProto::FLOAT, {std::string("rows"), int64_t{2}});
  });
  Vec features(16);
  for (int i = 0; i < 16; ++i) features[i] = i;
  auto session = runtime::OpenOnnxRuntimeSession(m, {});
  const core::Tensor kept = session
                                ->Run({{"features", FloatTensor({2, 4, 2}, features)},
                                       {"frames", Int64Tensor({2}, frames)}})
                                .at("kept");
  return kept.ToDoubles();
}

TEST(KeepValidAudioRows, KeepsEachClipsRowsBelowItsLengthAfterConvAndPooling) {
  // Clip 0: 16 frames -> conv2 (16 - 1) / 2 + 1 = 8 -> pooling (8 - 2) / 2 + 1 = 4: all 4 rows.
  // Clip 1: 6 frames -> (6 - 1) / 2 + 1 = 3 -> (3 - 2) / 2 + 1 = 1: its first row only.
  EXPECT_EQ(KeptRows({16, 6}), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // Clip 0: 9 frames -> 5 -> 2 rows; clip 1: 12 frames -> 6 -> 3 rows.
  EXPECT_EQ(KeptRows({9, 12}), (std::vector<double>{0, 1, 2, 3, 8, 9, 10, 11, 12, 13}));
}

// last_hidden_state of the tiny qwen2_5_omni_audio_encoder (16 mel bins, n_window 8) built for
// `positions` (frames = 2 * positions) on `features` [1, 16, 2 * positions].
core::Tensor OmniEncoder(int64_t positions, const Vec& features) {
  const models::ArchitectureTemplate* t = models::FindTemplate("qwen2_5_omni_audio_encoder");
  EXPECT_NE(t, nullptr);
  const models::HfConfig config = models::TinyConfig(*t).With("max_source_positions", positions);
  auto session = runtime::OpenOnnxRuntimeSession(models::BuildTemplate(*t, config), {});
  return session->Run({{"input_features", FloatTensor({1, 16, 2 * positions}, features)}})
      .at("last_hidden_state");
}

TEST(Qwen25OmniAudioEncoder, EachChunkComesOutAsThatChunkEncodedAlone) {
  // 64 frames are 4 chunks of 16; each gives 16 / 2 / 2 = 4 pooled rows of output_dim 48.
  Vec features(16 * 64);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& v : features) v = normal(rng);
  const std::vector<double> whole = OmniEncoder(32, features).ToDoubles();
  ASSERT_EQ(whole.size(), 16u * 48u);
  for (int64_t c = 0; c < 4; ++c) {
    Vec chunk(16 * 16);
    for (int64_t m = 0; m < 16; ++m)
      for (int64_t f = 0; f < 16; ++f) chunk[m * 16 + f] = features[m * 64 + c * 16 + f];
    const std::vector<double> alone = OmniEncoder(8, chunk).ToDoubles();
    ASSERT_EQ(alone.size(), 4u * 48u);
    for (size_t k = 0; k < alone.size(); ++k)
      EXPECT_NEAR(whole[c * 4 * 48 + k], alone[k], 1e-4) << "chunk " << c << " element " << k;
  }
}

}  // namespace audio_llm_test
}  // namespace ipfs_accel::testing
