// Graphs whose structure depends on an input's size (Qwen2-VL's image grid) are built for the
// size the inputs have, in verify, run and benchmark alike. The tiny Qwen2-VL here has 14-pixel
// patches: its default graph is for a 224 x 224 image, 16 x 16 patches; the references are for
// other grids, in Hugging Face's layout (pixel_values [patches, features], image_grid_thw,
// position_ids left to get_rope_index).

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/qwen2_vl_positions.h"
#include "support/kv_cache_check.h"
#include "support/qwen2_vl_checkpoint.h"
#include "support/tensors.h"

namespace ipfs_accel {
namespace dynamic_inputs_test {

using core::DType;
using core::Tensor;
using models::Qwen2VlGrid;
using testing::Int64Tensor;
namespace vl = testing::qwen2_vl;

constexpr int64_t kPatch = 14;
constexpr int64_t kFeatures = vl::kChannels * vl::kFrames * kPatch * kPatch;

// Text ids, then <|vision_start|>, the grid's image tokens, <|vision_end|>, more text.
Tensor PromptIds(const Qwen2VlGrid& grid) {
  std::vector<int64_t> ids = {5, 17, 3, vl::kStart};
  for (int64_t i = 0; i < grid.t * grid.h * grid.w / 4; ++i) ids.push_back(vl::kImage);
  for (int64_t id : {vl::kEnd, int64_t{42}, int64_t{7}, int64_t{99}}) ids.push_back(id);
  return Int64Tensor({1, static_cast<int64_t>(ids.size())}, ids);
}

Tensor Pixels(int64_t patches, uint64_t seed) {
  Tensor t = vl::Seeded({{"p", {patches, kFeatures}}}, seed).at("p");
  for (float& v : t.values<float>()) v *= 10.0f;  // N(0, 1), as a processor's normalised pixels
  return t;
}

// The logits of the graph built for `grid` (the model API's own road: LoadOptions and the
// graph's inputs in its layout, positions from get_rope_index), as the reference.
Tensor ReferenceLogits(const fs::path& dir, const Qwen2VlGrid& grid, const Tensor& ids,
                       const Tensor& pixels) {
  const models::Model model = models::LoadHfFolder(
      dir.string(), {.structure_inputs = {{"image_grid_thw", {grid.t, grid.h, grid.w}}}});
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  std::map<std::string, Tensor> in = testing::EmptyCache(*session, 1);
  const Tensor mask = Int64Tensor(ids.shape, std::vector<int64_t>(ids.element_count(), 1));
  in["input_ids"] = ids;
  in["attention_mask"] = mask;
  Tensor per_row = pixels;
  per_row.shape = {1, pixels.shape[0], pixels.shape[1]};
  in["pixel_values"] = per_row;
  in["position_ids"] = models::ComputeQwen2VlRopeIndex(ids, &mask, {grid}, {},
                                                       {.image = vl::kImage,
                                                        .video = vl::kVideo,
                                                        .vision_start = vl::kStart,
                                                        .vision_end = vl::kEnd})
                           .position_ids;
  return session->Run(in).at("logits");
}

class DynamicInputsTest : public CliTest {
 protected:
  // The tiny checkpoint in `name`, with an io.safetensors for one image of `grid` in HF's layout.
  fs::path WriteFixture(const std::string& name, const Qwen2VlGrid& grid) {
    const fs::path dir = dir_ / name;
    vl::WriteFolder(
        dir, vl::TinyConfig(kPatch, 1),
        vl::Seeded(vl::Merge(vl::LanguageNames("model."), vl::VisionNames("visual.", kPatch, 1)),
                   17));
    const Tensor ids = PromptIds(grid);
    const Tensor pixels = Pixels(grid.t * grid.h * grid.w, 3);
    models::WriteSafetensors(
        (dir / "io.safetensors").string(),
        {{"input.input_ids", ids},
         {"input.attention_mask",
          Int64Tensor(ids.shape, std::vector<int64_t>(ids.element_count(), 1))},
         {"input.pixel_values", pixels},
         {"input.image_grid_thw", Int64Tensor({1, 3}, {grid.t, grid.h, grid.w})},
         {"output.logits", ReferenceLogits(dir, grid, ids, pixels)}});
    return dir;
  }
};

TEST_F(DynamicInputsTest, VerifyBuildsQwen2VlForTheImageGridOfItsReferenceInputs) {
  // Neither grid is the default graph's 16 x 16; the second is not square (h before w).
  for (const Qwen2VlGrid grid : {Qwen2VlGrid{1, 4, 4}, Qwen2VlGrid{1, 8, 4}}) {
    const std::string name = "qwen2vl_" + std::to_string(grid.h) + "x" + std::to_string(grid.w);
    const fs::path fixture = WriteFixture(name, grid);
    const Result r = Run("verify --json -m " + fixture.string());
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j.at("passed").get<bool>());
    const auto logits = j.at("outputs").at(0);
    EXPECT_EQ(logits.at("name"), "logits");
    EXPECT_LT(logits.at("max_abs_error").get<double>(), 1e-4);
    // position_ids were HF's get_rope_index of the inputs, not generated.
    EXPECT_TRUE(j.at("defaulted_inputs").contains("position_ids")) << r.out;
    EXPECT_TRUE(j.at("generated_inputs").empty()) << r.out;
  }
}

TEST_F(DynamicInputsTest, RunAndBenchmarkBuildQwen2VlForTheImageGridGiven) {
  const fs::path fixture = WriteFixture("qwen2vl", {1, 4, 4});
  const Result run = Run("run --json -m " + fixture.string() + " --ids image_grid_thw=1,4,4");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j.at("inputs").at("pixel_values"), nlohmann::json({1, 16, kFeatures}));
  EXPECT_FALSE(j.at("inputs").contains("image_grid_thw"));

  const Result bench = Run("benchmark -m " + fixture.string() +
                           " --input image_grid_thw=1,8,4 --seq-len 24 --iterations 2 "
                           "--min-time 0 --warmup 0 --db " +
                           db_);
  ASSERT_EQ(bench.status, 0) << bench.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto shapes = store->Query("SELECT input_shapes_json FROM performance_results").rows;
  ASSERT_EQ(shapes.size(), 1u);
  EXPECT_NE(shapes[0][0]->find("1,32," + std::to_string(kFeatures)), std::string::npos)
      << *shapes[0][0];
}

TEST_F(DynamicInputsTest, ImagesOfDifferentGridsInOneBatchAreRefusedNamingBoth) {
  const fs::path fixture = WriteFixture("qwen2vl", {1, 4, 4});
  const Result r = Run("run -m " + fixture.string() + " --ids image_grid_thw=1,4,4,1,8,4");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("1x4x4 and 1x8x4"), std::string::npos) << r.err;
}

}  // namespace dynamic_inputs_test
}  // namespace ipfs_accel
