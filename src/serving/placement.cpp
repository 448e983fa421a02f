#include "ipfs_accel/serving/placement.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::serving {

namespace {

struct PlacementFigure {
  std::string platform, device, run_id;
  int64_t batch = 0, seq = 0;
  double p50_ms = 0;
};

std::vector<PlacementFigure> StoredFigures(store::ResultStore& store,
                                           const models::ModelInfo& model,
                                           const std::string& precision,
                                           const std::vector<std::string>& candidates,
                                           const std::string& hostname) {
  const store::QueryResult result = store.Query(
      "SELECT lp.platform, lp.device_name, lp.run_id, lp.batch_size, lp.seq_len, "
      "lp.latency_p50_ms FROM latest_performance lp JOIN runs r USING (run_id) "
      "JOIN models m USING (model_id) "
      "WHERE COALESCE(r.origin, 'measured') = 'measured' AND lp.scenario = 'single-stream' "
      "AND lp.latency_p50_ms > 0 AND lp.graph_variant = 'plain' AND lp.model_name = $1 "
      "AND m.content_hash = $2 AND lp.precision = $3 AND lp.hardware_hostname = $4 "
      "AND list_contains($5, lp.platform)",
      {model.name, model.content_hash, precision, hostname, candidates});
  std::vector<PlacementFigure> out;
  for (const auto& r : result.rows)
    out.push_back({.platform = r[0].value_or(""),
                   .device = r[1].value_or(""),
                   .run_id = r[2].value_or(""),
                   .batch = std::stoll(r[3].value_or("0")),
                   .seq = std::stoll(r[4].value_or("0")),
                   .p50_ms = std::stod(r[5].value_or("0"))});
  return out;
}

// The fastest figure of each platform at the configuration most platforms share.
std::map<std::string, PlacementFigure> AtSharedConfiguration(
    const std::vector<PlacementFigure>& figures) {
  std::map<std::pair<int64_t, int64_t>, std::map<std::string, PlacementFigure>> by_config;
  for (const PlacementFigure& f : figures) {
    auto& best = by_config[{f.batch, f.seq}];
    const auto it = best.find(f.platform);
    if (it == best.end() || f.p50_ms < it->second.p50_ms) best[f.platform] = f;
  }
  const std::map<std::string, PlacementFigure>* chosen = nullptr;
  for (const auto& [config, platforms] : by_config)  // smallest batch, then seq, first
    if (chosen == nullptr || platforms.size() > chosen->size()) chosen = &platforms;
  return chosen ? *chosen : std::map<std::string, PlacementFigure>{};
}

}  // namespace

std::vector<std::string> AvailableServingPlatforms() {
  hw::HardwareReport here;
  here.host = hw::DetectHost();
  here.cpu = hw::DetectCpu();
  here.nvidia = hw::DetectNvidia();
  std::vector<std::string> out;
  for (const std::string& platform : runtime::KnownPlatforms())  // browsers are not started
    if (!runtime::IsBrowserPlatform(platform) && runtime::CheckPlatform(platform, here).available)
      out.push_back(platform);
  return out;
}

Placement PlaceByStoredResults(store::ResultStore* store, const models::ModelInfo& model,
                               const std::string& precision,
                               const std::vector<std::string>& candidates,
                               const std::string& hostname) {
  if (store == nullptr) return {"cpu", "cpu by default: no results database to place by"};
  const auto shared =
      AtSharedConfiguration(StoredFigures(*store, model, precision, candidates, hostname));
  if (shared.empty())
    return {"cpu", fmt::format("cpu by default: no stored {} single-stream result for {} on "
                               "host {} (platforms here: {})",
                               precision, model.name, hostname, fmt::join(candidates, ", "))};
  const PlacementFigure* best = nullptr;
  std::vector<std::string> others;
  for (const auto& [platform, f] : shared)
    if (best == nullptr || f.p50_ms < best->p50_ms) best = &f;
  for (const auto& [platform, f] : shared)
    if (&f != best) others.push_back(fmt::format("{} {:.3g} ms", platform, f.p50_ms));
  return {best->platform,
          fmt::format("{}: best stored result, p50 {:.3g} ms on {} at batch {}, seq {} (run {}){}",
                      best->platform, best->p50_ms, best->device, best->batch, best->seq,
                      best->run_id.substr(0, store::kShortRunIdLength),
                      others.empty() ? "" : fmt::format("; against {}", fmt::join(others, ", ")))};
}

}  // namespace ipfs_accel::serving
