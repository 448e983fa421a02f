#pragma once
// Fitting models' own rooflines (ModelRoofline, latency_predictor.h).

#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/analysis/latency_predictor.h"

namespace ipfs_accel::analysis {

// Which rows share one: hardware, model, precision, graph variant, threads.
std::string ModelRooflineKey(const PredictorRow& row);

// The fit over `rows` (one key's), or nullopt with fewer than three distinct shapes.
std::optional<ModelRoofline> FitModelRoofline(const std::vector<const PredictorRow*>& rows);

// For a key's rows with four or more shapes: each shape held out in turn, the fit over the
// rest beside each held-out row (what the roofline's errors look like where it was not fitted).
struct HeldOutShape {
  const PredictorRow* row;
  ModelRoofline fit;
};
std::vector<HeldOutShape> LeaveEachShapeOut(const std::vector<const PredictorRow*>& rows);

}  // namespace ipfs_accel::analysis
