#include "table_printer.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

TableFormat ParseTableFormat(const std::string& name) {
  if (name == "table" || name == "text") return TableFormat::kText;
  if (name == "md" || name == "markdown") return TableFormat::kMarkdown;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "json") return TableFormat::kJson;
  throw core::Error(core::ErrorKind::kInvalidArgument,
                    fmt::format("unknown format '{}'; use table, md, csv or json", name));
}

namespace {

std::string CsvCell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

bool IsNumeric(const Table& t, size_t col) { return col < t.numeric.size() && t.numeric[col]; }

}  // namespace

nlohmann::json TableToJson(const Table& t) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : t.rows) {
    nlohmann::json obj = nlohmann::json::object();
    for (size_t c = 0; c < t.headers.size(); ++c) {
      if (c >= row.size() || !row[c]) {
        obj[t.headers[c]] = nullptr;
      } else if (IsNumeric(t, c)) {
        try {
          obj[t.headers[c]] = nlohmann::json::parse(*row[c]);
        } catch (const nlohmann::json::exception&) {
          obj[t.headers[c]] = *row[c];  // e.g. "inf", "nan"
        }
      } else {
        obj[t.headers[c]] = *row[c];
      }
    }
    rows.push_back(std::move(obj));
  }
  return rows;
}

Table TableFromQuery(const store::QueryResult& result) {
  static const char* kNumeric[] = {"TINYINT", "SMALLINT", "INTEGER",   "BIGINT",
                                   "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                                   "UBIGINT", "FLOAT",    "DOUBLE",    "DECIMAL"};
  Table t{result.column_names, {}, result.rows};
  for (const auto& type : result.column_types) {
    bool numeric = false;
    for (const char* n : kNumeric) numeric = numeric || type.rfind(n, 0) == 0;
    t.numeric.push_back(numeric);
  }
  return t;
}

void PrintTable(std::ostream& out, const Table& t, TableFormat format) {
  const size_t cols = t.headers.size();
  auto cell = [&](const std::vector<std::optional<std::string>>& row, size_t c) {
    return c < row.size() && row[c] ? *row[c] : std::string("NULL");
  };
  switch (format) {
    case TableFormat::kJson:
      out << TableToJson(t).dump(2) << "\n";
      return;
    case TableFormat::kCsv: {
      for (size_t c = 0; c < cols; ++c) out << (c ? "," : "") << CsvCell(t.headers[c]);
      out << "\n";
      for (const auto& row : t.rows) {
        for (size_t c = 0; c < cols; ++c)
          out << (c ? "," : "") << (c < row.size() && row[c] ? CsvCell(*row[c]) : "");
        out << "\n";
      }
      return;
    }
    case TableFormat::kMarkdown: {
      out << "|";
      for (const auto& h : t.headers) out << " " << MdCell(h) << " |";
      out << "\n|";
      for (size_t c = 0; c < cols; ++c) out << (IsNumeric(t, c) ? " ---: |" : " --- |");
      out << "\n";
      for (const auto& row : t.rows) {
        out << "|";
        for (size_t c = 0; c < cols; ++c) out << " " << MdCell(cell(row, c)) << " |";
        out << "\n";
      }
      return;
    }
    case TableFormat::kText: {
      std::vector<size_t> width(cols);
      for (size_t c = 0; c < cols; ++c) width[c] = t.headers[c].size();
      for (const auto& row : t.rows)
        for (size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], cell(row, c).size());
      auto line = [&](auto get) {
        for (size_t c = 0; c < cols; ++c) {
          const std::string s = get(c);
          const std::string pad(width[c] - s.size(), ' ');
          out << (c ? "  " : "") << (IsNumeric(t, c) ? pad + s : s + (c + 1 < cols ? pad : ""));
        }
        out << "\n";
      };
      line([&](size_t c) { return t.headers[c]; });
      line([&](size_t c) { return std::string(width[c], '-'); });
      for (const auto& row : t.rows) line([&](size_t c) { return cell(row, c); });
      return;
    }
  }
}

}  // namespace ipfs_accel::cli
