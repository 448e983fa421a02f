#include "ipfs_accel/analysis/peak_memory_model.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "ipfs_accel/analysis/nonnegative_fit.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

namespace {

constexpr size_t kMinRows = 3;

std::vector<double> MemoryColumns(const PredictorRow& r) {
  return {1.0, static_cast<double>(r.cost.weights_bytes),
          static_cast<double>(r.activation_peak_bytes), static_cast<double>(r.inputs_bytes),
          static_cast<double>(r.serialized_graph_bytes)};
}

}  // namespace

PeakMemoryModel PeakMemoryModel::Train(const std::vector<PredictorRow>& rows) {
  std::map<std::string, std::pair<std::vector<std::vector<double>>, std::vector<double>>> by_hw;
  for (const auto& r : rows) {
    if (!(r.peak_rss_bytes > 0)) continue;
    auto& [x, y] = by_hw[r.hardware];
    x.push_back(MemoryColumns(r));
    y.push_back(r.peak_rss_bytes);
  }
  PeakMemoryModel m;
  for (const auto& [hw, xy] : by_hw)
    if (xy.second.size() >= kMinRows)
      m.coefficients_[hw] = FitNonNegativeRelative(xy.first, xy.second);
  if (m.coefficients_.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("no hardware has {} results with a measured peak RSS to fit "
                                  "the memory model to",
                                  kMinRows));
  return m;
}

std::optional<double> PeakMemoryModel::Predict(const PredictorRow& row) const {
  const auto it = coefficients_.find(row.hardware);
  if (it == coefficients_.end()) return std::nullopt;
  const auto x = MemoryColumns(row);
  double p = 0;
  for (size_t c = 0; c < x.size(); ++c) p += it->second[c] * x[c];
  return p;
}

nlohmann::json PeakMemoryModel::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [hw, b] : coefficients_)
    j[hw] = {{"base_bytes", b[0]},
             {"per_weight_byte", b[1]},
             {"per_activation_byte", b[2]},
             {"per_input_byte", b[3]},
             {"per_serialized_graph_byte", b[4]}};
  return {{"peak_rss", j}};
}

PeakMemoryModel PeakMemoryModel::FromJson(const nlohmann::json& j) {
  PeakMemoryModel m;
  try {
    for (const auto& [hw, b] : j.at("peak_rss").items())
      m.coefficients_[hw] = {b.at("base_bytes"), b.at("per_weight_byte"),
                             b.at("per_activation_byte"), b.at("per_input_byte"),
                             b.at("per_serialized_graph_byte")};
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("the stored memory model cannot be read ({}); train it again "
                                  "with predict --evaluate",
                                  e.what()));
  }
  return m;
}

std::vector<ModelMemoryError> EvaluatePeakMemory(const std::vector<PredictorRow>& rows) {
  std::set<std::pair<std::string, std::string>> models;
  for (const auto& r : rows)
    if (r.peak_rss_bytes > 0) models.insert({r.model, r.hardware});
  std::vector<ModelMemoryError> out;
  for (const auto& [model, hw] : models) {
    std::vector<PredictorRow> train;
    for (const auto& r : rows)
      if (r.model != model) train.push_back(r);
    std::optional<PeakMemoryModel> m;
    try {
      m = PeakMemoryModel::Train(train);
    } catch (const core::Error&) {
      continue;
    }
    ModelMemoryError e{model, hw, 0, 0, 0};
    for (const auto& r : rows) {
      if (r.model != model || r.hardware != hw || !(r.peak_rss_bytes > 0)) continue;
      const auto p = m->Predict(r);
      if (!p) continue;
      const double err = *p / r.peak_rss_bytes - 1;
      e.mean_abs_error += std::abs(err);
      if (std::abs(err) > std::abs(e.worst_error)) e.worst_error = err;
      ++e.rows;
    }
    if (e.rows == 0) continue;
    e.mean_abs_error /= e.rows;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ipfs_accel::analysis
