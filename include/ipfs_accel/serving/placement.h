#pragma once
// Where a model runs when a request names no platform: the platform with the best stored
// result for it on this host, else cpu. "Best" compares like with like: among the model's
// latest single-stream results (latest_performance: measured, plain graph, this precision,
// this host, one of the candidate platforms), the configuration (batch, sequence) measured on
// the most candidates (then the smallest batch, then the shortest sequence), and on it the
// lowest median latency. The reason says which figures decided, or why there were none.

#include <string>
#include <vector>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::serving {

struct Placement {
  std::string platform;
  std::string reason;  // one line
};

// Native platforms (no browser: a page per session is no way to serve) that can run here.
std::vector<std::string> AvailableServingPlatforms();

// `store` may be null (no results database): cpu, saying so. Throws core::Error(kDatabase)
// when the query fails.
Placement PlaceByStoredResults(store::ResultStore* store, const models::ModelInfo& model,
                               const std::string& precision,
                               const std::vector<std::string>& candidates,
                               const std::string& hostname);

}  // namespace ipfs_accel::serving
