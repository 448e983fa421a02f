#include "ipfs_accel/server/paging.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ipfs_accel::server {

std::vector<ParamSpec> PagingParams() {
  return {{.name = "limit",
           .type = ParamType::kInteger,
           .description = "rows per page",
           .minimum = 1,
           .maximum = kMaxPageLimit,
           .default_value = std::to_string(kDefaultPageLimit)},
          {.name = "offset",
           .type = ParamType::kInteger,
           .description = "rows to skip",
           .minimum = 0,
           .default_value = "0"}};
}

Page PageOf(const Request& request) {
  return {request.Int("limit", kDefaultPageLimit), request.Int("offset", 0)};
}

nlohmann::ordered_json PageJson(const store::QueryResult& rows, int64_t total, const Page& page) {
  nlohmann::ordered_json out;
  out["total"] = total;
  out["limit"] = page.limit;
  out["offset"] = page.offset;
  out["items"] = store::QueryRowsToJson(rows);
  return out;
}

nlohmann::json PageSchema(const nlohmann::json& item) {
  return {{"type", "object"},
          {"required", {"total", "limit", "offset", "items"}},
          {"properties",
           {{"total", {{"type", "integer"}, {"description", "rows matching the filters"}}},
            {"limit", {{"type", "integer"}}},
            {"offset", {{"type", "integer"}}},
            {"items", {{"type", "array"}, {"items", item}}}}}};
}

SqlFilter& SqlFilter::Add(std::string condition, std::vector<store::QueryParam> values) {
  conditions_.push_back(std::move(condition));
  for (auto& v : values) params_.push_back(std::move(v));
  return *this;
}

SqlFilter& SqlFilter::IfGiven(const Request& request, const std::string& name,
                              const std::string& condition) {
  if (const auto value = request.Get(name)) Add(condition, {*value});
  return *this;
}

std::string SqlFilter::Where() const {
  return conditions_.empty() ? "" : fmt::format("WHERE {}", fmt::join(conditions_, " AND "));
}

std::string LimitClause(const Page& page) {
  return fmt::format(" LIMIT {} OFFSET {}", page.limit, page.offset);
}

int64_t CountRows(store::ResultStore& store, const std::string& count_from,
                  const SqlFilter& filter) {
  const store::QueryResult count = store.Query("SELECT count(*) " + count_from, filter.params());
  return std::stoll(count.rows.at(0).at(0).value_or("0"));
}

nlohmann::ordered_json PagedQuery(store::ResultStore& store, const std::string& select,
                                  const std::string& count_from, const SqlFilter& filter,
                                  const Page& page) {
  const int64_t total = CountRows(store, count_from, filter);
  return PageJson(store.Query(select + LimitClause(page), filter.params()), total, page);
}

}  // namespace ipfs_accel::server
