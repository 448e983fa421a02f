#include "analysis/model_roofline.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "ipfs_accel/analysis/nonnegative_fit.h"

namespace ipfs_accel::analysis {

namespace {

// A fit of k terms needs k + 1 shapes to be checked by one: fixed and per GFLOP from three
// shapes, per GB from four, per sample from five.
constexpr size_t kMinShapes = 3;
constexpr size_t kTerms = 4;

using Shape = std::pair<int64_t, int64_t>;

Shape ShapeOf(const PredictorRow& r) { return {r.batch_size, r.seq_len}; }

double Gflops(const PredictorRow& r) { return r.cost.flops / 1e9; }

// The fit's columns: 1, GFLOPs, GB moved, samples in the batch.
std::array<double, kTerms> OwnRooflineColumns(const PredictorRow& r) {
  return {1.0, Gflops(r), r.cost.bytes / 1e9, static_cast<double>(r.batch_size)};
}

}  // namespace

double ModelRoofline::Ms(const PredictorRow& row) const {
  const auto c = OwnRooflineColumns(row);
  return std::max(fixed_ms + ms_per_gflop * c[1] + ms_per_gb * c[2] + ms_per_sample * c[3], 1e-6);
}

std::array<double, 2> ModelRoofline::Position(const PredictorRow& row) const {
  const double g = std::max(Gflops(row), 1e-12);
  return {std::log(g / std::max(max_gflops, 1e-12)), std::log(g / std::max(min_gflops, 1e-12))};
}

nlohmann::json ModelRoofline::ToJson() const {
  return {{"fixed_ms", fixed_ms},     {"ms_per_gflop", ms_per_gflop},
          {"ms_per_gb", ms_per_gb},   {"ms_per_sample", ms_per_sample},
          {"min_gflops", min_gflops}, {"max_gflops", max_gflops}};
}

ModelRoofline ModelRoofline::FromJson(const nlohmann::json& j) {
  return {j.at("fixed_ms"),      j.at("ms_per_gflop"), j.at("ms_per_gb"),
          j.at("ms_per_sample"), j.at("min_gflops"),   j.at("max_gflops")};
}

std::string ModelRooflineKey(const PredictorRow& r) {
  return fmt::format("{}|{}|{}|{}|{}", r.hardware, r.model, r.precision,
                     r.fused ? "fused" : "plain", r.threads);
}

std::optional<ModelRoofline> FitModelRoofline(const std::vector<const PredictorRow*>& rows) {
  std::set<Shape> shapes;
  for (const PredictorRow* r : rows) shapes.insert(ShapeOf(*r));
  if (shapes.size() < kMinShapes) return std::nullopt;
  const size_t width = std::min(kTerms, shapes.size() - 1);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  ModelRoofline m{.min_gflops = INFINITY, .max_gflops = 0};
  for (const PredictorRow* r : rows) {
    const auto c = OwnRooflineColumns(*r);
    x.emplace_back(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(width));
    y.push_back(r->latency_ms);
    m.min_gflops = std::min(m.min_gflops, Gflops(*r));
    m.max_gflops = std::max(m.max_gflops, Gflops(*r));
  }
  std::vector<double> b = FitNonNegativeRelative(x, y);
  b.resize(kTerms, 0.0);
  m.fixed_ms = b[0], m.ms_per_gflop = b[1], m.ms_per_gb = b[2], m.ms_per_sample = b[3];
  return m;
}

std::vector<HeldOutShape> LeaveEachShapeOut(const std::vector<const PredictorRow*>& rows) {
  std::set<Shape> shapes;
  for (const PredictorRow* r : rows) shapes.insert(ShapeOf(*r));
  std::vector<HeldOutShape> out;
  if (shapes.size() < kMinShapes + 1) return out;
  for (const Shape& s : shapes) {
    std::vector<const PredictorRow*> rest;
    for (const PredictorRow* r : rows)
      if (ShapeOf(*r) != s) rest.push_back(r);
    const auto fit = FitModelRoofline(rest);
    for (const PredictorRow* r : rows)
      if (ShapeOf(*r) == s) out.push_back({r, *fit});
  }
  return out;
}

}  // namespace ipfs_accel::analysis
