// A QueryResult as JSON with its numbers as numbers (query.h).

#include <string_view>

#include "ipfs_accel/store/query.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::store {

namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool IsNumericColumnType(std::string_view type) {
  static constexpr std::string_view kNumeric[] = {
      "TINYINT",  "SMALLINT", "INTEGER",  "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
      "UINTEGER", "UBIGINT",  "UHUGEINT", "FLOAT",  "DOUBLE",  "DECIMAL"};
  if (type.find('[') != std::string_view::npos) return false;  // a list of them
  for (std::string_view n : kNumeric)
    if (StartsWith(type, n)) return true;
  return false;
}

nlohmann::ordered_json CellToJson(const std::optional<std::string>& cell, std::string_view type) {
  if (!cell) return nullptr;
  const std::string& text = *cell;
  const size_t bracket = type.find('[');
  const bool number_list = bracket != std::string_view::npos && type.back() == ']' &&
                           type.find('[', bracket + 1) == std::string_view::npos &&
                           IsNumericColumnType(type.substr(0, bracket));
  if (IsNumericColumnType(type) || type == "JSON" || number_list) {
    // DuckDB prints numbers (and lists of them) as JSON does, except inf and nan (kept as text),
    // and a list's NULL as NULL (then the text is kept too).
    nlohmann::ordered_json value = nlohmann::ordered_json::parse(text, nullptr, false);
    return value.is_discarded() ? nlohmann::ordered_json(text) : value;
  }
  if (type == "BOOLEAN") return text == "true";
  return text;
}

nlohmann::ordered_json QueryRowsToJson(const QueryResult& result) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : result.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < result.column_names.size() && c < row.size(); ++c) {
      const std::string_view type =
          c < result.column_types.size() ? std::string_view(result.column_types[c]) : "VARCHAR";
      object[result.column_names[c]] = CellToJson(row[c], type);
    }
    rows.push_back(std::move(object));
  }
  return rows;
}

}  // namespace ipfs_accel::store
