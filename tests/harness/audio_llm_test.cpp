// The audio-language composites' own step (src/models/audio_llm_builder.h) run by ONNX Runtime:
// each clip's valid audio features kept as HF's get_audio_features keeps them, worked out by hand.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/audio_llm_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/checked_graph.h"
#include "support/reference_forward.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace {

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

}  // namespace
}  // namespace ipfs_accel::testing
