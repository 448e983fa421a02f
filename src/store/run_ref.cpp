#include "ipfs_accel/store/run_ref.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::store {

namespace {

using core::Error;
using core::ErrorKind;

std::vector<std::string> Ids(ResultStore& store, const std::string& sql,
                             const std::vector<QueryParam>& params = {}) {
  std::vector<std::string> out;
  for (const auto& row : store.Query(sql, params).rows) out.push_back(row.at(0).value_or(""));
  return out;
}

// N of "latest~N" ("latest" is latest~0); nullopt for any other text.
std::optional<int64_t> LatestOffset(const std::string& ref) {
  if (ref == "latest") return 0;
  if (ref.rfind("latest~", 0) != 0) return std::nullopt;
  const char* begin = ref.data() + 7;
  const char* end = ref.data() + ref.size();
  int64_t n = -1;
  const auto [at, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || at != end || begin == end || n < 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is not a run ref; write latest~N with N a whole number "
                            "(latest~1 is the run before the latest)",
                            ref));
  return n;
}

std::string NthLatest(ResultStore& store, int64_t n) {
  const auto ids = Ids(store, fmt::format("SELECT run_id FROM runs ORDER BY started_at DESC, "
                                          "run_id DESC LIMIT 1 OFFSET {}",
                                          n));
  if (!ids.empty()) return ids[0];
  const auto count = Ids(store, "SELECT CAST(count(*) AS VARCHAR) FROM runs").at(0);
  if (count == "0")
    throw Error(ErrorKind::kNotFound,
                "the database holds no runs yet; run `ipfs-accelerate benchmark` first");
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("latest~{} goes back past the first run: the database holds {} "
                          "run(s), latest to latest~{}",
                          n, count, std::stoll(count) - 1));
}

std::string Candidates(ResultStore& store, const std::string& prefix) {
  std::string out;
  for (const auto& row :
       store
           .Query(fmt::format("SELECT run_id, {} FROM runs WHERE starts_with(run_id, $1) "
                              "ORDER BY started_at DESC",
                              DisplayTimestampSql("started_at")),
                  {prefix})
           .rows)
    out +=
        fmt::format("{}{} ({})", out.empty() ? "" : ", ", row[0].value_or(""), row[1].value_or(""));
  return out;
}

}  // namespace

std::optional<std::string> FindRunRef(ResultStore& store, const std::string& ref) {
  if (const auto n = LatestOffset(ref)) return NthLatest(store, *n);
  if (ref.empty()) return std::nullopt;
  const auto exact = Ids(store, "SELECT run_id FROM runs WHERE run_id = $1", {ref});
  if (!exact.empty()) return exact[0];
  if (ref.size() < kMinRunIdPrefix) return std::nullopt;
  const auto matches =
      Ids(store, "SELECT run_id FROM runs WHERE starts_with(run_id, $1) LIMIT 2", {ref});
  if (matches.size() > 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("run id prefix '{}' is ambiguous: it starts {}; give more characters",
                            ref, Candidates(store, ref)));
  if (matches.empty()) return std::nullopt;
  return matches[0];
}

std::string ResolveRunRef(ResultStore& store, const std::string& ref) {
  if (ref.empty())
    throw Error(ErrorKind::kInvalidArgument,
                "an empty run ref names no run; give a run id (or a unique prefix), latest or "
                "latest~N");
  if (auto id = FindRunRef(store, ref)) return *id;
  if (ref.size() < kMinRunIdPrefix)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("run ref '{}' is too short: give at least {} characters of a run "
                            "id, latest or latest~N",
                            ref, kMinRunIdPrefix));
  throw Error(ErrorKind::kNotFound,
              fmt::format("no stored run id is or starts with '{}'; `ipfs-accelerate runs list` "
                          "shows the runs",
                          ref));
}

bool RunIsStored(ResultStore& store, const std::string& run_id) {
  return !Ids(store, "SELECT run_id FROM runs WHERE run_id = $1", {run_id}).empty();
}

}  // namespace ipfs_accel::store
