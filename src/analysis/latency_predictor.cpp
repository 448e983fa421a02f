#include "ipfs_accel/analysis/latency_predictor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include <fmt/format.h>

#include "analysis/model_roofline.h"
#include "ipfs_accel/analysis/nonnegative_fit.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

using core::Error;
using core::ErrorKind;

namespace {

constexpr int kFolds = 5;
constexpr size_t kMinRowsPerHardware = 4;
// Fewer held-out shapes than this teach the correction of models' own rooflines nothing.
constexpr size_t kMinCorrectionRows = 20;
const std::array<const char*, 7> kFlopClasses = {
    "matmul", "conv", "attention", "normalization", "softmax", "elementwise", "reduction"};
const std::array<const char*, 8> kByteClasses = {"matmul",        "conv",         "attention",
                                                 "normalization", "softmax",      "elementwise",
                                                 "reduction",     "data_movement"};

int64_t Nodes(const GraphCost& c) {
  int64_t n = 0;
  for (const auto& [cls, cost] : c.by_class) n += cost.nodes;
  return n;
}

double Share(const GraphCost& c, const char* cls, bool flops) {
  const auto it = c.by_class.find(cls);
  const double total = flops ? c.flops : c.bytes;
  if (it == c.by_class.end() || total <= 0) return 0;
  return (flops ? it->second.flops : it->second.bytes) / total;
}

int PrecisionCode(const std::string& p) {
  return p == "fp16" ? 1 : p == "int8" ? 2 : p == "int4" ? 3 : 0;
}

// The roofline's columns for a row: 1, GFLOPs, GB, thousands of nodes.
std::array<double, 4> RooflineColumns(const PredictorRow& r) {
  return {1.0, r.cost.flops / 1e9, r.cost.bytes / 1e9, static_cast<double>(Nodes(r.cost)) / 1e3};
}

// The roofline's non-negative fit on the relative error over the hardware's rows.
std::array<double, 4> FitRoofline(const std::vector<const PredictorRow*>& rows) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (const PredictorRow* r : rows) {
    const auto c = RooflineColumns(*r);
    x.emplace_back(c.begin(), c.end());
    y.push_back(r->latency_ms);
  }
  const std::vector<double> b = FitNonNegativeRelative(x, y);
  return {b[0], b[1], b[2], b[3]};
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

std::vector<PredictorRow> Pick(const std::vector<PredictorRow>& rows,
                               const std::vector<size_t>& indices) {
  std::vector<PredictorRow> out;
  out.reserve(indices.size());
  for (const size_t i : indices) out.push_back(rows[i]);
  return out;
}

// Fold of each index: a seeded shuffle dealt round-robin.
std::vector<int> Folds(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int> fold(n);
  for (size_t i = 0; i < n; ++i) fold[order[i]] = static_cast<int>(i % kFolds);
  return fold;
}

// What corrects a model's own roofline: the configuration's features, where it lies against the
// measured range (extrapolating past it is where a straight line errs), and the figure itself.
std::vector<float> CorrectionFeatures(const PredictorRow& row, const ModelRoofline& fit,
                                      double ms) {
  std::vector<float> f = LatencyFeatures(row);
  for (const double p : fit.Position(row)) f.push_back(static_cast<float>(p));
  f.push_back(static_cast<float>(std::log10(ms)));
  return f;
}

// Own rooflines' errors at shapes they were not fitted on, with the features that correct
// them and which model's they are.
struct HeldOutErrors {
  std::vector<std::vector<float>> x;
  std::vector<float> y;  // log(measured / own roofline)
  std::vector<size_t> group;
};

// Whether trees learned from some models' held-out errors make the others' smaller (two folds
// by model). Where the own rooflines already fit as well as the measurements repeat, what is
// left is noise, and trees fitted to it make unseen shapes worse: measured on the CPU sweep,
// 83 % within ±10 % of unseen batch sizes with the correction, 88 % without.
bool CorrectionHelps(const HeldOutErrors& e) {
  double plain = 0, corrected = 0;
  for (size_t fold = 0; fold < 2; ++fold) {
    HeldOutErrors train, test;
    for (size_t i = 0; i < e.y.size(); ++i) {
      HeldOutErrors& part = e.group[i] % 2 == fold ? test : train;
      part.x.push_back(e.x[i]);
      part.y.push_back(e.y[i]);
    }
    if (train.y.size() < kMinCorrectionRows || test.y.empty()) return false;
    const std::vector<double> fix = BoostedTrees::Fit(train.x, train.y, {}).Predict(test.x);
    for (size_t i = 0; i < test.y.size(); ++i) {
      plain += std::abs(test.y[i]);
      corrected += std::abs(test.y[i] - fix[i]);
    }
  }
  return corrected < plain;
}

}  // namespace

std::string PredictorModelKey(const std::string& name, const std::string& content_hash) {
  return fmt::format("{} [{}]", name, content_hash);
}

const std::vector<std::string>& LatencyFeatureNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"log10_flops", "log10_bytes", "log10_weights_bytes",
                                  "log10_nodes"};
    for (const char* c : kFlopClasses) n.push_back(fmt::format("flops_share_{}", c));
    for (const char* c : kByteClasses) n.push_back(fmt::format("bytes_share_{}", c));
    for (const char* c : {"log2_batch", "log2_seq_len", "threads", "fused", "precision",
                          "memory_bandwidth_gb_per_s"})
      n.push_back(c);
    return n;
  }();
  return names;
}

std::vector<float> LatencyFeatures(const PredictorRow& r) {
  std::vector<double> f = {std::log10(r.cost.flops + 1), std::log10(r.cost.bytes + 1),
                           std::log10(static_cast<double>(r.cost.weights_bytes) + 1),
                           std::log10(static_cast<double>(Nodes(r.cost)) + 1)};
  for (const char* c : kFlopClasses) f.push_back(Share(r.cost, c, true));
  for (const char* c : kByteClasses) f.push_back(Share(r.cost, c, false));
  f.push_back(std::log2(static_cast<double>(std::max<int64_t>(r.batch_size, 1))));
  f.push_back(std::log2(static_cast<double>(r.seq_len) + 1));
  f.push_back(r.threads);
  f.push_back(r.fused ? 1 : 0);
  f.push_back(PrecisionCode(r.precision));
  // Missing (NaN) where not measured: the trees send it down their default branch.
  f.push_back(r.memory_bandwidth_gb_per_s > 0 ? r.memory_bandwidth_gb_per_s
                                              : std::numeric_limits<double>::quiet_NaN());
  return std::vector<float>(f.begin(), f.end());
}

double LatencyPredictor::RooflineMs(const PredictorRow& row) const {
  const auto it = rooflines_.find(row.hardware);
  if (it == rooflines_.end())
    throw Error(ErrorKind::kNotFound,
                fmt::format("nothing measured on '{}' to predict from; benchmark some models "
                            "there first",
                            row.hardware));
  const Roofline& r = it->second;
  const auto x = RooflineColumns(row);
  const double ms =
      r.fixed_ms * x[0] + r.ms_per_gflop * x[1] + r.ms_per_gb * x[2] + r.ms_per_knode * x[3];
  return std::max(ms, 1e-6);
}

const ModelRoofline* LatencyPredictor::LocalRoofline(const PredictorRow& row) const {
  const auto it = local_.find(ModelRooflineKey(row));
  return it == local_.end() ? nullptr : &it->second;
}

PredictorRow LatencyPredictor::WithBandwidth(const PredictorRow& row) const {
  PredictorRow out = row;
  if (!(row.memory_bandwidth_gb_per_s > 0)) {
    const auto it = bandwidth_.find(row.hardware);
    if (it != bandwidth_.end()) out.memory_bandwidth_gb_per_s = it->second;
  }
  return out;
}

LatencyPredictor LatencyPredictor::Train(const std::vector<PredictorRow>& rows, PredictorKind kind,
                                         bool with_interval) {
  LatencyPredictor p;
  p.kind_ = kind;
  std::map<std::string, std::vector<const PredictorRow*>> by_hardware;
  for (const auto& r : rows) {
    if (!(r.latency_ms > 0))
      throw Error(ErrorKind::kInvalidArgument, "a training row has no measured latency");
    by_hardware[r.hardware].push_back(&r);
  }
  for (const auto& [hw, list] : by_hardware) {
    if (list.size() < kMinRowsPerHardware)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{} measured configurations on '{}': a roofline needs at least {}",
                              list.size(), hw, kMinRowsPerHardware));
    const auto b = FitRoofline(list);
    p.rooflines_[hw] = {b[0], b[1], b[2], b[3]};
    p.hardware_.push_back(hw);
    std::map<int, int> counts;
    for (const PredictorRow* r : list) ++counts[r->threads];
    p.threads_[hw] = std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) {
                       return a.second < b.second;
                     })->first;
    for (const PredictorRow* r : list)
      p.bandwidth_[hw] = std::max(p.bandwidth_[hw], r->memory_bandwidth_gb_per_s);
  }
  p.FitLocalRooflines(rows, kind == PredictorKind::kRooflineAndTrees);
  if (kind == PredictorKind::kRooflineAndTrees) {
    std::vector<std::vector<float>> x;
    std::vector<float> y;
    for (const auto& r : rows) {
      const double base = p.RooflineMs(r);
      auto f = LatencyFeatures(r);
      f.push_back(static_cast<float>(std::log10(base)));
      x.push_back(std::move(f));
      y.push_back(static_cast<float>(std::log(r.latency_ms / base)));
    }
    p.trees_ = BoostedTrees::Fit(x, y, {});
  }
  if (with_interval && rows.size() >= static_cast<size_t>(kFolds) * kMinRowsPerHardware) {
    const auto fold = Folds(rows.size(), 7);
    std::vector<double> log_errors;
    for (int k = 0; k < kFolds; ++k) {
      std::vector<size_t> train, test;
      for (size_t i = 0; i < rows.size(); ++i) (fold[i] == k ? test : train).push_back(i);
      try {
        const LatencyPredictor inner = Train(Pick(rows, train), kind, false);
        for (const size_t i : test)
          log_errors.push_back(std::log(rows[i].latency_ms / inner.Predict(rows[i]).latency_ms));
      } catch (const Error&) {
        continue;  // a fold that leaves some hardware too few rows tells nothing
      }
    }
    p.log_low_ = Quantile(log_errors, 0.10);
    p.log_high_ = Quantile(log_errors, 0.90);
  }
  return p;
}

void LatencyPredictor::FitLocalRooflines(const std::vector<PredictorRow>& rows, bool correct) {
  std::map<std::string, std::vector<const PredictorRow*>> groups;
  for (const auto& r : rows) groups[ModelRooflineKey(r)].push_back(&r);
  HeldOutErrors held_out;
  size_t model = 0;
  for (const auto& [key, list] : groups) {
    ++model;
    if (const auto fit = FitModelRoofline(list)) local_[key] = *fit;
    if (!correct) continue;
    for (const HeldOutShape& h : LeaveEachShapeOut(list)) {
      const double ms = h.fit.Ms(*h.row);
      held_out.x.push_back(CorrectionFeatures(WithBandwidth(*h.row), h.fit, ms));
      held_out.y.push_back(static_cast<float>(std::log(h.row->latency_ms / ms)));
      held_out.group.push_back(model);
    }
  }
  if (held_out.y.size() >= kMinCorrectionRows && CorrectionHelps(held_out))
    model_trees_ = BoostedTrees::Fit(held_out.x, held_out.y, {});
}

LatencyPrediction LatencyPredictor::Predict(const PredictorRow& row) const {
  const double base = RooflineMs(row);
  double ms = base;
  if (const ModelRoofline* local = LocalRoofline(row)) {
    ms = local->Ms(row);
    if (model_trees_)
      ms *= std::exp(
          model_trees_->Predict({CorrectionFeatures(WithBandwidth(row), *local, ms)}).at(0));
  } else if (trees_) {
    auto f = LatencyFeatures(WithBandwidth(row));
    f.push_back(static_cast<float>(std::log10(base)));
    ms = base * std::exp(trees_->Predict({f}).at(0));
  }
  return {ms, ms * std::exp(std::min(log_low_, 0.0)), ms * std::exp(std::max(log_high_, 0.0))};
}

nlohmann::json LatencyPredictor::ToJson() const {
  nlohmann::json roofs = nlohmann::json::object();
  for (const auto& [hw, r] : rooflines_)
    roofs[hw] = {{"threads", TypicalThreads(hw)},
                 {"fixed_ms", r.fixed_ms},
                 {"ms_per_gflop", r.ms_per_gflop},
                 {"ms_per_gb", r.ms_per_gb},
                 {"ms_per_thousand_nodes", r.ms_per_knode},
                 {"memory_bandwidth_gb_per_s", bandwidth_.count(hw) ? bandwidth_.at(hw) : 0.0}};
  nlohmann::json j = {{"kind", PredictorKindName(kind_)},
                      {"rooflines", roofs},
                      {"interval_log_low", log_low_},
                      {"interval_log_high", log_high_},
                      {"features", LatencyFeatureNames()}};
  nlohmann::json local = nlohmann::json::object();
  for (const auto& [key, r] : local_) local[key] = r.ToJson();
  j["model_rooflines"] = std::move(local);
  if (model_trees_) j["model_roofline_trees"] = nlohmann::json::parse(model_trees_->Save());
  if (trees_) j["trees"] = nlohmann::json::parse(trees_->Save());
  return j;
}

LatencyPredictor LatencyPredictor::FromJson(const nlohmann::json& j) {
  LatencyPredictor p;
  try {
    p.kind_ =
        j.at("kind") == "roofline" ? PredictorKind::kRoofline : PredictorKind::kRooflineAndTrees;
    for (const auto& [hw, r] : j.at("rooflines").items()) {
      p.rooflines_[hw] = {r.at("fixed_ms"), r.at("ms_per_gflop"), r.at("ms_per_gb"),
                          r.at("ms_per_thousand_nodes")};
      p.hardware_.push_back(hw);
      p.threads_[hw] = r.at("threads");
      p.bandwidth_[hw] = r.value("memory_bandwidth_gb_per_s", 0.0);
    }
    if (j.contains("model_rooflines"))
      for (const auto& [key, r] : j.at("model_rooflines").items())
        p.local_[key] = ModelRoofline::FromJson(r);
    if (j.contains("model_roofline_trees"))
      p.model_trees_ = BoostedTrees::Load(j.at("model_roofline_trees").dump());
    p.log_low_ = j.at("interval_log_low");
    p.log_high_ = j.at("interval_log_high");
    if (j.at("features") != LatencyFeatureNames())
      throw Error(ErrorKind::kCorrupt,
                  "the stored predictor was trained on other features; train it again with "
                  "predict --train");
    if (j.contains("trees")) p.trees_ = BoostedTrees::Load(j.at("trees").dump());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("the stored predictor cannot be read ({}); train it again with "
                            "predict --train",
                            e.what()));
  }
  return p;
}

int LatencyPredictor::TypicalThreads(const std::string& hardware) const {
  const auto it = threads_.find(hardware);
  return it == threads_.end() ? 0 : it->second;
}

std::string_view PredictorKindName(PredictorKind kind) {
  return kind == PredictorKind::kRoofline ? "roofline" : "roofline+trees";
}

namespace {

struct Pooled {
  std::vector<double> predicted, measured;
  int inside = 0;
};

// Trains on `train`, predicts `test` into `pooled`; rows whose hardware the training part
// lacks are skipped (nothing to predict from).
void TrainAndTest(const std::vector<PredictorRow>& rows, const std::vector<size_t>& train,
                  const std::vector<size_t>& test, PredictorKind kind, bool interval,
                  Pooled& pooled) {
  if (train.empty() || test.empty()) return;
  std::optional<LatencyPredictor> p;
  try {
    p = LatencyPredictor::Train(Pick(rows, train), kind, interval);
  } catch (const Error&) {
    return;
  }
  for (const size_t i : test) {
    try {
      const LatencyPrediction pr = p->Predict(rows[i]);
      pooled.predicted.push_back(pr.latency_ms);
      pooled.measured.push_back(rows[i].latency_ms);
      pooled.inside += rows[i].latency_ms >= pr.low_ms && rows[i].latency_ms <= pr.high_ms;
    } catch (const Error&) {
    }
  }
}

// Holds out each value of `axis` in turn, testing on the model and hardware pairs measured at
// another value too.
template <typename Axis>
Pooled HoldOutEachValue(const std::vector<PredictorRow>& rows, Axis axis, PredictorKind kind) {
  std::set<int64_t> values;
  std::map<std::pair<std::string, std::string>, std::set<int64_t>> seen;
  for (const auto& r : rows) {
    values.insert(axis(r));
    seen[{r.model, r.hardware}].insert(axis(r));
  }
  Pooled pooled;
  for (const int64_t v : values) {
    std::vector<size_t> train, test;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (axis(rows[i]) != v)
        train.push_back(i);
      else if (seen[{rows[i].model, rows[i].hardware}].size() > 1)
        test.push_back(i);
    }
    TrainAndTest(rows, train, test, kind, false, pooled);
  }
  return pooled;
}

}  // namespace

std::vector<SplitEvaluation> EvaluatePredictor(const std::vector<PredictorRow>& rows,
                                               PredictorKind kind, uint64_t seed) {
  std::vector<std::pair<std::string, Pooled>> splits;
  {
    const auto fold = Folds(rows.size(), seed);
    Pooled pooled;
    for (int k = 0; k < kFolds; ++k) {
      std::vector<size_t> train, test;
      for (size_t i = 0; i < rows.size(); ++i) (fold[i] == k ? test : train).push_back(i);
      TrainAndTest(rows, train, test, kind, true, pooled);
    }
    splits.emplace_back("k_fold", std::move(pooled));
  }
  splits.emplace_back("unseen_batch",
                      HoldOutEachValue(
                          rows, [](const PredictorRow& r) { return r.batch_size; }, kind));
  splits.emplace_back("unseen_seq",
                      HoldOutEachValue(
                          rows, [](const PredictorRow& r) { return r.seq_len; }, kind));
  {
    std::vector<std::string> archs;
    for (const auto& r : rows) archs.push_back(r.architecture);
    std::sort(archs.begin(), archs.end());
    archs.erase(std::unique(archs.begin(), archs.end()), archs.end());
    const auto group = Folds(archs.size(), seed);
    Pooled pooled;
    for (int k = 0; k < kFolds; ++k) {
      std::vector<size_t> train, test;
      for (size_t i = 0; i < rows.size(); ++i) {
        const size_t a = static_cast<size_t>(
            std::lower_bound(archs.begin(), archs.end(), rows[i].architecture) - archs.begin());
        (group[a] == k ? test : train).push_back(i);
      }
      TrainAndTest(rows, train, test, kind, false, pooled);
    }
    splits.emplace_back("unseen_architecture", std::move(pooled));
  }
  std::vector<SplitEvaluation> out;
  for (auto& [name, pooled] : splits) {
    if (pooled.measured.empty()) continue;
    SplitEvaluation e{name, std::string(PredictorKindName(kind)),
                      MeasureAccuracy(pooled.predicted, pooled.measured), 0};
    if (name == "k_fold")
      e.interval_coverage =
          static_cast<double>(pooled.inside) / static_cast<double>(pooled.measured.size());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ipfs_accel::analysis
