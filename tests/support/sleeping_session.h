#pragma once
// Test helper: a runtime::Session whose RunBound() takes a duration drawn from a known
// distribution, so the harness's latency figures can be checked against the truth. It waits
// with harness::WaitUntil (sleep, then spin to the deadline), so each run lasts the drawn
// time plus a few microseconds -- more only when the machine preempts it.
// It has one input, x: float32 [1, 4]; Run() and the stateful calls are not supported.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/server_scenario.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::testing {

// A uniform double in [0, 1) from the top 53 bits: the same with every standard library.
inline double Uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Returns `ms` milliseconds from now, within microseconds (never earlier).
inline void SleepPreciselyMs(double ms) {
  harness::WaitUntil(std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double, std::milli>(ms)));
}

class SleepingSession : public runtime::Session {
 public:
  using DrawMs = std::function<double(std::mt19937_64&)>;
  SleepingSession(DrawMs draw_ms, uint64_t seed) : draw_ms_(std::move(draw_ms)), rng_(seed) {
    inputs_ = {{.name = "x", .dtype = core::DType::kFloat32, .shape = {1, 4}, .dim_names = {}}};
    outputs_ = {{.name = "y", .dtype = core::DType::kFloat32, .shape = {1, 4}, .dim_names = {}}};
  }

  // Every duration drawn so far, in call order (the first inference and warm-up included).
  const std::vector<double>& drawn_ms() const { return drawn_ms_; }
  int bind_calls() const { return bind_calls_; }

  const std::vector<runtime::TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<runtime::TensorSpec>& outputs() const override { return outputs_; }
  std::string execution_provider() const override { return "SleepingTestProvider"; }
  std::string options_json() const override { return "{}"; }
  std::map<std::string, core::Tensor> Run(const std::map<std::string, core::Tensor>&) override {
    throw Unsupported("Run");
  }
  void Bind(const std::map<std::string, core::Tensor>& inputs) override {
    if (!inputs.contains("x")) throw core::Error(core::ErrorKind::kInvalidArgument, "no x bound");
    ++bind_calls_;
  }
  void RunBound() override {
    const double ms = draw_ms_(rng_);
    drawn_ms_.push_back(ms);
    SleepPreciselyMs(ms);
  }
  void RunBoundKeepOutputs() override { throw Unsupported("RunBoundKeepOutputs"); }
  void SetBoundInput(const std::string&, core::Tensor) override { throw Unsupported("inputs"); }
  void MoveOutputToInput(const std::string&, const std::string&) override {
    throw Unsupported("MoveOutputToInput");
  }
  core::Tensor KeptOutput(const std::string&) const override { throw Unsupported("KeptOutput"); }
  TensorView KeptOutputView(const std::string&) const override {
    throw Unsupported("KeptOutputView");
  }

 private:
  static core::Error Unsupported(const std::string& what) {
    return core::Error(core::ErrorKind::kUnsupported, "SleepingSession has no " + what);
  }
  DrawMs draw_ms_;
  std::mt19937_64 rng_;
  std::vector<runtime::TensorSpec> inputs_, outputs_;
  std::vector<double> drawn_ms_;
  int bind_calls_ = 0;
};

}  // namespace ipfs_accel::testing
