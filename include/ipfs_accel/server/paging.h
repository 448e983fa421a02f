#pragma once
// Paging and filters of the list endpoints: `limit` and `offset` parameters, a page as JSON with
// the total, and WHERE clauses whose values are bound parameters (never quoted into SQL).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/server/route.h"
#include "ipfs_accel/store/query.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::server {

inline constexpr int64_t kDefaultPageLimit = 100;
inline constexpr int64_t kMaxPageLimit = 10000;

struct Page {
  int64_t limit = kDefaultPageLimit;
  int64_t offset = 0;
};

// The `limit` (1..kMaxPageLimit, default kDefaultPageLimit) and `offset` (>= 0) parameters.
std::vector<ParamSpec> PagingParams();
Page PageOf(const Request& request);

// {"total": N, "limit": L, "offset": O, "items": [row objects]} (store::QueryRowsToJson).
nlohmann::ordered_json PageJson(const store::QueryResult& rows, int64_t total, const Page& page);
// Its OpenAPI schema, with `item` the schema of one row.
nlohmann::json PageSchema(const nlohmann::json& item);

// Conditions joined with AND, each with `?` placeholders whose values are bound in order.
class SqlFilter {
 public:
  // `condition` holds one `?` per value in `values`, e.g. "h.platform = ?".
  SqlFilter& Add(std::string condition, std::vector<store::QueryParam> values);
  // Add(condition, {value}) when the request has parameter `name`.
  SqlFilter& IfGiven(const Request& request, const std::string& name, const std::string& condition);
  std::string Where() const;  // "WHERE a AND b", or "" with no condition
  const std::vector<store::QueryParam>& params() const { return params_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<store::QueryParam> params_;
};

// " LIMIT n OFFSET m" of `page`, the numbers in the text (parsed integers, not a caller's text):
// DuckDB plans a top-N only for a constant limit, and sorted every matching row for a bound one
// (0.5 s over a million results).
std::string LimitClause(const Page& page);
// SELECT count(*) `count_from` ("FROM ... WHERE ..." with `filter`'s placeholders).
int64_t CountRows(store::ResultStore& store, const std::string& count_from,
                  const SqlFilter& filter);

// `select` (a query whose last clause is its ORDER BY, with `filter`'s placeholders) run twice:
// its count, and the page of it. `count_from` is the part after SELECT ... that the count keeps
// ("FROM ... WHERE ..."), given apart so that the count need not sort or compute columns.
nlohmann::ordered_json PagedQuery(store::ResultStore& store, const std::string& select,
                                  const std::string& count_from, const SqlFilter& filter,
                                  const Page& page);

}  // namespace ipfs_accel::server
