// Every architecture template runs: its graph at the template's tiny size, with seeded weights
// and generated inputs, on ONNX Runtime's CPU provider, gives non-empty finite outputs of the
// shapes it declares (harness::ValidateTemplate, as `templates validate` runs it).

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/template_validation.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::harness {
namespace templates_run_test {

TEST(TemplatesRun, EveryTemplateBuildsAndRunsAtItsTinySize) {
  int ran = 0;
  for (const models::ArchitectureTemplate& t : models::Templates()) {
    if (t.abstract) continue;
    const TemplateOutcome out = ValidateTemplate(t, {});
    EXPECT_NE(out.status, "failed") << t.model_type << " (" << t.source << "): " << out.reason;
    ++ran;
  }
  EXPECT_GE(ran, 30);
}

TEST(FirstNonFinite, NamesTheFirstNanOrInfinityAndIsEmptyWhenAllAreFinite) {
  const double finite[] = {1.0, -2.5, 0.0};
  EXPECT_EQ(FirstNonFinite(core::Tensor::FromDoubles(core::DType::kFloat32, {3}, finite)), "");
  const double bad[] = {1.0, std::numeric_limits<double>::infinity(), std::nan("")};
  EXPECT_EQ(FirstNonFinite(core::Tensor::FromDoubles(core::DType::kFloat32, {3}, bad)),
            "inf at element 1 of 3");
}

}  // namespace templates_run_test
}  // namespace ipfs_accel::harness
