// The resource pool on tiny real models (bert-tiny from the catalog, tiny templates): batched
// outputs against a session of the models layer run on each request alone, and the memory
// budget against the analysis layer's estimate of each model.

#include <gtest/gtest.h>

#include <cctype>
#include <future>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/serving/resource_pool.h"
#include "ipfs_accel/serving/serving_error.h"
#include "support/catch_error.h"
#include "support/tensors.h"

namespace ipfs_accel::serving {
namespace resource_pool_test {

using testing::CatchError;
using testing::Int64Tensor;
using testing::MaxAbsDiff;

constexpr int64_t kSeq = 8;

// Token ids of request `i`: distinct rows inside every tiny vocabulary.
core::Tensor Ids(int i) {
  std::vector<int64_t> ids;
  for (int64_t k = 0; k < kSeq; ++k) ids.push_back(3 + (i * 7 + k * 5) % 90);
  return Int64Tensor({1, kSeq}, ids);
}

// The model run on one request alone by a session of its own, the inputs Hugging Face
// defaults made here by hand: attention_mask ones, token_type_ids zeros.
std::map<std::string, core::Tensor> RunAlone(const std::string& spec, const core::Tensor& ids) {
  const models::Model m = models::LoadModel(spec);
  const auto session = runtime::OpenSession(m, runtime::SessionOptions());
  std::map<std::string, core::Tensor> in;
  for (const auto& s : session->inputs()) {
    if (s.name == "input_ids") {
      in[s.name] = ids;
    } else {
      EXPECT_TRUE(s.name == "attention_mask" || s.name == "token_type_ids") << s.name;
      in[s.name] = core::Tensor::Zeros(s.dtype, ids.shape);
      if (s.name == "attention_mask")
        for (auto& v : in[s.name].values<int64_t>()) v = 1;
    }
  }
  return session->Run(in);
}

// The analysis layer's figure for `spec` at the pool's planning shape.
int64_t EstimatedBytes(const std::string& spec, int64_t max_batch, int64_t seq) {
  const models::Model m = models::LoadModel(spec);
  const auto shapes = harness::CheckShapes(m, {{.batch_size = max_batch, .seq_len = seq}});
  return analysis::EstimateMemory(m, shapes.at(0)).total_bytes;
}

PoolOptions CpuOnly(int64_t budget, BatcherOptions batching) {
  PoolOptions o;
  o.memory_budget_bytes = {{"cpu", budget}};
  o.batching = batching;
  o.planning_seq_len = kSeq;
  o.session.intra_op_threads = 1;
  o.platforms = {"cpu"};
  return o;
}

class BatchedEqualsAlone : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchedEqualsAlone, FourConcurrentRequestsRunAsOneBatchWithEachRequestsOwnOutputs) {
  ModelRegistry registry;
  registry.Register({.name = "m", .spec = GetParam()});
  ResourcePool pool(
      registry,
      CpuOnly(int64_t{1} << 34, {.max_batch = 4, .max_batch_delay_ms = 60000, .max_queue = 8}));
  pool.Load("m");
  std::vector<std::future<InferResult>> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(std::async(std::launch::async, [&pool, i] {
      return pool.Infer({.model = "m", .inputs = {{"input_ids", Ids(i)}}});
    }));
  for (int i = 0; i < 4; ++i) {
    const InferResult r = results[i].get();
    EXPECT_EQ(r.batch_requests, 4);
    EXPECT_EQ(r.platform, "cpu");
    const auto alone = RunAlone(GetParam(), Ids(i));
    ASSERT_EQ(r.outputs.size(), alone.size());
    for (const auto& [name, t] : alone) {
      ASSERT_TRUE(r.outputs.count(name)) << name;
      EXPECT_LE(MaxAbsDiff(r.outputs.at(name), t), 1e-5) << GetParam() << " " << name;
    }
  }
  const PoolSnapshot s = pool.Snapshot();
  ASSERT_EQ(s.entries.size(), 1u);
  EXPECT_EQ(s.entries[0].traffic.batches, 1);
  EXPECT_EQ(s.entries[0].traffic.requests, 4);
}

INSTANTIATE_TEST_SUITE_P(TinyTextModels, BatchedEqualsAlone,
                         ::testing::Values("bert-tiny", "template:distilbert", "template:roberta"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ResourcePool, NeverExceedsItsBudgetEvictsTheLeastRecentlyUsedAndRefusesWhatCannotFitAlone) {
  const int64_t tiny = EstimatedBytes("template:bert", 2, kSeq);
  const int64_t budget = 2 * tiny + tiny / 2;  // two tiny BERT sessions fit, three do not
  ModelRegistry registry;
  for (const char* name : {"a", "b", "c"})
    registry.Register({.name = name, .spec = "template:bert"});
  ResourcePool pool(registry, CpuOnly(budget, {.max_batch = 2, .max_batch_delay_ms = 0}));
  auto loaded = [&] {
    std::vector<std::string> names;
    const PoolSnapshot s = pool.Snapshot();
    for (const auto& e : s.entries) names.push_back(e.model);
    EXPECT_LE(s.devices.at(0).used_bytes, budget);
    EXPECT_EQ(s.devices.at(0).used_bytes, tiny * static_cast<int64_t>(names.size()));
    return names;
  };
  auto infer = [&](const std::string& m) {
    pool.Infer({.model = m, .inputs = {{"input_ids", Ids(0)}}});
  };
  infer("a");
  infer("b");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "b"}));
  infer("a");  // b is now the least recently used
  infer("c");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "c"}));
  infer("b");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(pool.Snapshot().evictions, 2);
  const nlohmann::json shown = ToJson(pool.Snapshot());  // what /api/pool answers
  EXPECT_EQ(shown["entries"][0]["model"], "b");
  EXPECT_EQ(shown["entries"][0]["estimated_memory"]["bytes"], tiny);
  EXPECT_EQ(shown["entries"][0]["traffic"]["requests"], 1);
  EXPECT_EQ(shown["devices"][0]["budget"]["bytes"], budget);

  registry.Register({.name = "big", .spec = "bert-tiny"});
  const int64_t big = EstimatedBytes("bert-tiny", 2, kSeq);
  ASSERT_GT(big, budget);
  const core::Error e = CatchError([&] { infer("big"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnavailable);
  for (const std::string& part :
       {std::string("'big'"), analysis::DescribeBytes(big), analysis::DescribeBytes(budget)})
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what() << " / " << part;
  EXPECT_EQ(loaded(), (std::vector<std::string>{"b", "c"}));  // refusing evicted nothing
  EXPECT_EQ(pool.Snapshot().refused_too_large, 1);
}

TEST(ResourcePool, ASessionWithARequestInFlightIsNeverEvictedTheNewModelIsRefusedAsBusy) {
  const int64_t tiny = EstimatedBytes("template:bert", 4, kSeq);
  ModelRegistry registry;
  for (const char* name : {"a", "b"}) registry.Register({.name = name, .spec = "template:bert"});
  // One session fits; a's request waits in its queue for company that never comes.
  ResourcePool pool(
      registry,
      CpuOnly(tiny + tiny / 2, {.max_batch = 4, .max_batch_delay_ms = 600000, .max_queue = 4}));
  auto waiting = std::async(std::launch::async, [&] {
    pool.Infer({.model = "a", .inputs = {{"input_ids", Ids(0)}}});
  });
  for (;;) {
    const PoolSnapshot s = pool.Snapshot();
    if (!s.entries.empty() && s.entries[0].traffic.queued == 1) break;
    std::this_thread::yield();
  }
  try {
    pool.Infer({.model = "b", .inputs = {{"input_ids", Ids(0)}}});
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kBusy);
    EXPECT_NE(std::string(e.what()).find("a on cpu"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool.Snapshot().entries.at(0).model, "a");
  pool.Stop(StopMode::kFail);  // a's request ends with kStopped
  try {
    waiting.get();
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kStopped);
  }
}

TEST(ResourcePool, ARequestWithTokenIdsOutsideTheVocabularyIsRefusedAlone) {
  ModelRegistry registry;
  registry.Register({.name = "m", .spec = "bert-tiny"});
  ResourcePool pool(registry, CpuOnly(int64_t{1} << 34, {}));
  const core::Error e = CatchError([&] {
    pool.Infer({.model = "m", .inputs = {{"input_ids", Int64Tensor({1, 2}, {101, 30522})}}});
  });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("30522"), std::string::npos) << e.what();
  const core::Error unknown = CatchError([&] {
    pool.Infer({.model = "m", .inputs = {{"pixel_values", Int64Tensor({1, 2}, {1, 2})}}});
  });
  EXPECT_NE(std::string(unknown.what()).find("input_ids"), std::string::npos) << unknown.what();
  EXPECT_EQ(CatchError([&] { pool.Infer({.model = "nope"}); }).kind(), core::ErrorKind::kNotFound);
}

TEST(ResourcePool, FloatTokenIdsAreConvertedToTheGraphsIntegersAndDefaultsAreReported) {
  ModelRegistry registry;
  registry.Register({.name = "m", .spec = "bert-tiny"});
  ResourcePool pool(registry, CpuOnly(int64_t{1} << 34, {}));
  const core::Tensor ids = Ids(1);
  std::vector<double> as_doubles = ids.ToDoubles();
  const InferResult r =
      pool.Infer({.model = "m",
                  .inputs = {{"input_ids", core::Tensor::FromDoubles(core::DType::kFloat64,
                                                                     ids.shape, as_doubles)}}});
  const auto alone = RunAlone("bert-tiny", ids);
  for (const auto& [name, t] : alone) EXPECT_LE(MaxAbsDiff(r.outputs.at(name), t), 1e-5);
  EXPECT_EQ(r.defaulted_inputs.size(), 2u);  // attention_mask and token_type_ids
  EXPECT_EQ(r.placement, "cpu by default: no results database to place by");
}

TEST(ResourcePool, AfterStopRequestsAreRefusedWithStopped) {
  ModelRegistry registry;
  registry.Register({.name = "m", .spec = "bert-tiny"});
  ResourcePool pool(registry, CpuOnly(int64_t{1} << 34, {}));
  pool.Load("m");
  pool.Stop(StopMode::kDrain);
  try {
    pool.Infer({.model = "m", .inputs = {{"input_ids", Ids(0)}}});
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kStopped);
  }
}

}  // namespace resource_pool_test
}  // namespace ipfs_accel::serving
