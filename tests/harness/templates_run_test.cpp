// Every architecture template runs: its graph at the template's tiny size, with seeded weights
// and generated inputs, on ONNX Runtime's CPU provider, gives finite outputs of non-zero size.

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/backend.h"

namespace ipfs_accel::harness {
namespace {

// "" when every float output is finite and none is empty, else what is wrong.
std::string RunTiny(const models::ArchitectureTemplate& t) {
  const models::Model model = models::LoadConfig(models::TinyConfig(t), "template:" + t.model_type);
  auto session = runtime::OpenSession(model, {});
  ShapeRequest request;
  request.seq_len = t.tiny_inputs.value("sequence", request.seq_len);
  request.overrides = t.tiny_inputs.value("shapes", request.overrides);
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, request);
  const auto in = GenerateInputs(session->inputs(), shapes, model.input_hints, 42);
  for (const auto& [name, tensor] : session->Run(in)) {
    if (tensor.element_count() == 0) return name + " is empty";
    if (tensor.dtype != core::DType::kFloat32) continue;
    for (float v : tensor.values<float>())
      if (!std::isfinite(v)) return name + " has a value that is not finite";
  }
  return "";
}

TEST(TemplatesRun, EveryTemplateBuildsAndRunsAtItsTinySize) {
  int ran = 0;
  for (const models::ArchitectureTemplate& t : models::Templates()) {
    if (t.abstract) continue;
    std::string problem;
    try {
      problem = RunTiny(t);
    } catch (const core::Error& e) {
      problem = e.what();
    }
    EXPECT_EQ(problem, "") << t.model_type << " (" << t.source << ")";
    ++ran;
  }
  EXPECT_GE(ran, 30);
}

}  // namespace
}  // namespace ipfs_accel::harness
