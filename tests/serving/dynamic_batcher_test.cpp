// The dynamic batcher on a run function of known behaviour (each output row is its input row
// doubled, plus the row count of the run), so batching, splitting and every refusal can be
// checked exactly. No test depends on timing: requests wait behind a run held on a gate.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "ipfs_accel/serving/dynamic_batcher.h"
#include "ipfs_accel/serving/serving_error.h"
#include "support/catch_error.h"

namespace ipfs_accel::serving {
namespace dynamic_batcher_test {

using testing::CatchError;

// A float32 [rows, width] tensor whose row r holds first + r in every column.
core::Tensor Rows(int64_t rows, int64_t width, float first) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, {rows, width});
  auto v = t.values<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < width; ++c) v[r * width + c] = first + static_cast<float>(r);
  return t;
}

// Doubles x; records each run's rows; blocks every run while the gate is closed.
class GatedModel {
 public:
  TensorMap operator()(const TensorMap& in) {
    {
      std::unique_lock lock(mutex_);
      ++runs_started_;
      started_.notify_all();
      opened_.wait(lock, [&] { return open_; });
      run_rows_.push_back(in.at("x").shape[0]);
    }
    core::Tensor y = in.at("x");
    for (float& v : y.values<float>()) v *= 2;
    return {{"y", y}};
  }
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  void WaitForRuns(int n) {
    std::unique_lock lock(mutex_);
    started_.wait(lock, [&] { return runs_started_ >= n; });
  }
  std::vector<int64_t> run_rows() {
    std::lock_guard lock(mutex_);
    return run_rows_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_, started_;
  bool open_ = false;
  int runs_started_ = 0;
  std::vector<int64_t> run_rows_;
};

DynamicBatcher::RunFn Calls(GatedModel& m) {
  return [&m](const TensorMap& in) { return m(in); };
}

void WaitForQueued(const DynamicBatcher& b, size_t n) {
  while (b.Stats().queued < n) std::this_thread::yield();
}

std::future<BatchedResult> Submit(DynamicBatcher& b, core::Tensor x,
                                  std::optional<Clock::time_point> deadline = std::nullopt) {
  return std::async(std::launch::async, [&b, x = std::move(x), deadline] {
    return b.Run({{"x", x}}, deadline);
  });
}

TEST(DynamicBatcher, RequestsQueuedBehindARunShareTheNextRunAndGetTheirOwnRowsBack) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 8, .max_batch_delay_ms = 0, .max_queue = 16});
  auto first = Submit(b, Rows(1, 3, 100));
  model.WaitForRuns(1);
  std::vector<std::future<BatchedResult>> rest;
  for (int i = 0; i < 4; ++i) {
    rest.push_back(Submit(b, Rows(i == 2 ? 2 : 1, 3, static_cast<float>(10 * i))));
    WaitForQueued(b, rest.size());
  }
  model.Open();
  EXPECT_EQ(first.get().batch_requests, 1);
  for (int i = 0; i < 4; ++i) {
    const BatchedResult r = rest[i].get();
    EXPECT_EQ(r.batch_requests, 4);
    EXPECT_EQ(r.batch_rows, 5);
    const core::Tensor expected = Rows(i == 2 ? 2 : 1, 3, static_cast<float>(10 * i));
    const core::Tensor& y = r.outputs.at("y");
    ASSERT_EQ(y.shape, expected.shape);
    for (int64_t k = 0; k < expected.element_count(); ++k)
      EXPECT_EQ(y.values<float>()[k], 2 * expected.values<float>()[k]);
  }
  EXPECT_EQ(model.run_rows(), (std::vector<int64_t>{1, 5}));
  const BatcherStats s = b.Stats();
  EXPECT_EQ(s.requests, 5);
  EXPECT_EQ(s.batches, 2);
  EXPECT_EQ(s.rows, 6);
}

TEST(DynamicBatcher, RequestsOfDifferentSequenceLengthsAreNeverMixedAndBatchesStopAtMaxBatch) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 2, .max_batch_delay_ms = 0, .max_queue = 16});
  auto first = Submit(b, Rows(1, 3, 0));
  model.WaitForRuns(1);
  std::vector<std::future<BatchedResult>> queued;
  const int widths[] = {3, 5, 3, 5, 3};  // three of width 3: two runs of them at max_batch 2
  for (int w : widths) {
    queued.push_back(Submit(b, Rows(1, w, 1)));
    WaitForQueued(b, queued.size());
  }
  model.Open();
  first.get();
  for (size_t i = 0; i < queued.size(); ++i) {
    const BatchedResult r = queued[i].get();
    EXPECT_EQ(r.outputs.at("y").shape, (core::Shape{1, widths[i]}));
  }
  // The head (width 3) takes the next width-3 request; then width 5 takes the other 5; the
  // last width-3 runs alone.
  EXPECT_EQ(model.run_rows(), (std::vector<int64_t>{1, 2, 2, 1}));
}

TEST(DynamicBatcher, ConcurrentRequestsWithinTheDelayRunAsOneBatchOnceItIsFull) {
  GatedModel model;
  model.Open();
  // A long delay: the batch runs when its 4 rows are there, not when the delay ends.
  DynamicBatcher b(Calls(model), {.max_batch = 4, .max_batch_delay_ms = 60000, .max_queue = 16});
  std::vector<std::future<BatchedResult>> f;
  for (int i = 0; i < 4; ++i) f.push_back(Submit(b, Rows(1, 3, static_cast<float>(i))));
  for (auto& r : f) EXPECT_EQ(r.get().batch_requests, 4);
  EXPECT_EQ(b.Stats().batches, 1);
}

TEST(DynamicBatcher, AFullQueueRefusesAtOnceWithQueueFull) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 1, .max_batch_delay_ms = 0, .max_queue = 2});
  auto running = Submit(b, Rows(1, 3, 0));
  model.WaitForRuns(1);
  auto q1 = Submit(b, Rows(1, 3, 1));
  WaitForQueued(b, 1);
  auto q2 = Submit(b, Rows(1, 3, 2));
  WaitForQueued(b, 2);
  try {
    b.Run({{"x", Rows(1, 3, 3)}});
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kQueueFull);
    EXPECT_NE(std::string(e.what()).find("queue full"), std::string::npos) << e.what();
  }
  model.Open();
  running.get();
  q1.get();
  q2.get();
  EXPECT_EQ(b.Stats().queue_full, 1);
  EXPECT_EQ(model.run_rows().size(), 3u);
}

TEST(DynamicBatcher, ARequestPastItsDeadlineInTheQueueFailsWithDeadlineAndIsNeverRun) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 4, .max_batch_delay_ms = 0, .max_queue = 4});
  auto running = Submit(b, Rows(1, 3, 0));
  model.WaitForRuns(1);
  auto late = Submit(b, Rows(1, 3, 1), Clock::now() + std::chrono::milliseconds(20));
  try {
    late.get();
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kDeadline);
    EXPECT_NE(std::string(e.what()).find("not run"), std::string::npos) << e.what();
  }
  model.Open();
  running.get();
  b.Stop(StopMode::kDrain);
  EXPECT_EQ(model.run_rows(), (std::vector<int64_t>{1}));
  EXPECT_EQ(b.Stats().deadline_exceeded, 1);
}

TEST(DynamicBatcher, StopFailsQueuedRequestsWithStoppedAndRefusesNewOnes) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 1, .max_batch_delay_ms = 0, .max_queue = 4});
  auto running = Submit(b, Rows(1, 3, 0));
  model.WaitForRuns(1);
  auto queued = Submit(b, Rows(1, 3, 1));
  WaitForQueued(b, 1);
  auto stopping = std::async(std::launch::async, [&] { b.Stop(StopMode::kFail); });
  try {
    queued.get();
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kStopped);
  }
  model.Open();
  stopping.get();
  EXPECT_EQ(running.get().outputs.at("y").values<float>()[0], 0.0f);  // the run in progress ends
  try {
    b.Run({{"x", Rows(1, 3, 2)}});
    ADD_FAILURE() << "no error";
  } catch (const ServingError& e) {
    EXPECT_EQ(e.reason(), RefusalReason::kStopped);
  }
}

TEST(DynamicBatcher, StopWithDrainRunsWhatIsQueued) {
  GatedModel model;
  DynamicBatcher b(Calls(model), {.max_batch = 1, .max_batch_delay_ms = 0, .max_queue = 4});
  auto running = Submit(b, Rows(1, 3, 0));
  model.WaitForRuns(1);
  auto queued = Submit(b, Rows(1, 3, 7));
  WaitForQueued(b, 1);
  auto stopping = std::async(std::launch::async, [&] { b.Stop(StopMode::kDrain); });
  model.Open();
  stopping.get();
  EXPECT_EQ(queued.get().outputs.at("y").values<float>()[0], 14.0f);
}

TEST(DynamicBatcher, ABatchThatFailsIsRunAgainOneRequestAtATimeSoOnlyTheBadOneFails) {
  std::atomic<int> runs = 0;
  GatedModel gate;
  DynamicBatcher b(
      [&](const TensorMap& in) -> TensorMap {
        if (++runs == 1) return gate(in);
        for (float v : in.at("x").values<float>())
          if (v < 0) throw core::Error(core::ErrorKind::kRuntime, "negative input");
        return {{"y", in.at("x")}};
      },
      {.max_batch = 4, .max_batch_delay_ms = 0, .max_queue = 4});
  auto first = Submit(b, Rows(1, 3, 0));
  gate.WaitForRuns(1);
  auto good = Submit(b, Rows(1, 3, 5));
  WaitForQueued(b, 1);
  auto bad = Submit(b, Rows(1, 3, -5));
  WaitForQueued(b, 2);
  gate.Open();
  first.get();
  EXPECT_EQ(good.get().outputs.at("y").values<float>()[0], 5.0f);
  const core::Error e = CatchError([&] { bad.get(); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
  EXPECT_EQ(b.Stats().failed, 1);
}

TEST(DynamicBatcher, ManyThreadsWithMixedShapesEachGetExactlyTheirOwnRowsBack) {
  DynamicBatcher b(
      [](const TensorMap& in) {
        core::Tensor y = in.at("x");
        for (float& v : y.values<float>()) v *= 2;
        return TensorMap{{"y", y}};
      },
      {.max_batch = 8, .max_batch_delay_ms = 0.5, .max_queue = 64});
  std::vector<std::future<int>> threads;
  for (int t = 0; t < 16; ++t)
    threads.push_back(std::async(std::launch::async, [&b, t] {
      int wrong = 0;
      for (int i = 0; i < 50; ++i) {
        const int64_t rows = 1 + (t + i) % 2, width = (t * i) % 2 ? 3 : 5;
        const float first = static_cast<float>(1000 * t + 10 * i);
        const core::Tensor y = b.Run({{"x", Rows(rows, width, first)}}).outputs.at("y");
        const core::Tensor x = Rows(rows, width, first);
        wrong += y.shape != x.shape;
        for (int64_t k = 0; y.shape == x.shape && k < x.element_count(); ++k)
          wrong += y.values<float>()[k] != 2 * x.values<float>()[k];
      }
      return wrong;
    }));
  for (auto& t : threads) EXPECT_EQ(t.get(), 0);
  const BatcherStats s = b.Stats();
  EXPECT_EQ(s.requests, 16 * 50);
  EXPECT_EQ(s.rows, 16 * 50 * 3 / 2);
}

TEST(DynamicBatcher, InputsThatDisagreeOnTheBatchSizeAreRefused) {
  DynamicBatcher b([](const TensorMap& in) { return in; }, {});
  const core::Error e = CatchError([&] { b.Run({{"a", Rows(1, 3, 0)}, {"b", Rows(2, 3, 0)}}); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("disagree"), std::string::npos) << e.what();
}

}  // namespace dynamic_batcher_test
}  // namespace ipfs_accel::serving
