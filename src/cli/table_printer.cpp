#include "table_printer.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
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
bool IsJson(const Table& t, size_t col) { return col < t.json.size() && t.json[col]; }

}  // namespace

nlohmann::ordered_json TableToJson(const Table& t) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : t.rows) {
    nlohmann::ordered_json obj = nlohmann::ordered_json::object();
    for (size_t c = 0; c < t.headers.size(); ++c) {
      if (c >= row.size() || !row[c]) {
        obj[t.headers[c]] = nullptr;
      } else if (IsNumeric(t, c) || IsJson(t, c)) {
        try {
          obj[t.headers[c]] = nlohmann::ordered_json::parse(*row[c]);
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
    t.json.push_back(type == "JSON");
  }
  return t;
}

namespace {

// A cell as text and Markdown show it: NULL is blank.
std::string Shown(const std::vector<std::optional<std::string>>& row, size_t c) {
  return c < row.size() && row[c] ? *row[c] : std::string();
}

// How soon a narrow terminal hides a column, by its header: the highest rank first, the
// rightmost of a rank first; rank 0 is never hidden. Headers not named here rank 1.
int DropRank(const std::string& header) {
  static const std::map<std::string, int, std::less<>> kRanks = [] {
    // By rank: where and how it ran (6, 5), secondary figures (4, 3), how it was set up (2),
    // and what a row is with its headline figures (0).
    const std::vector<std::pair<int, std::vector<const char*>>> ranked = {
        {6, {"gpu_proc_mb", "gpu_used_mb"}},
        {5, {"run_id", "ep", "device"}},
        {4, {"p90_es_ms", "p99_es_ms", "first_ms", "load_ms", "history", "z_verdict", "u_verdict"}},
        {3, {"peak_rss_mb", "branch", "settings", "p99_ms", "shape_of"}},
        {2, {"shapes", "graph", "precision", "scenario", "u_test_p", "z", "aliases"}},
        {0,
         {"model", "name", "hardware", "batch", "p50_ms", "mean_ms", "items_per_s", "verdict",
          "ratio", "decode_tok_s", "tokens_per_s", "ttft_ms", "decode_p50_ms", "noisy", "fp32_size",
          "step_p50_ms", "samples_per_s", "loss_first", "loss_last"}}};
    std::map<std::string, int, std::less<>> ranks;
    for (const auto& [rank, headers] : ranked)
      for (const char* h : headers) ranks[h] = rank;
    return ranks;
  }();
  const auto it = kRanks.find(header);
  return it == kRanks.end() ? 1 : it->second;
}

// Shorter headers for a table too wide for the terminal.
std::string ShortHeader(const std::string& header) {
  static const std::map<std::string, std::string, std::less<>> kShort = {
      {"baseline_median_ms", "base_ms"},
      {"contender_median_ms", "cont_ms"},
      {"items_per_s", "items/s"},
      {"decode_p50_ms", "dec_p50_ms"},
      {"decode_p90_ms", "dec_p90_ms"},
      {"decode_mean_ms", "dec_mean_ms"},
      {"decode_tok_s", "tok/s"},
      {"tokens_per_s", "tok/s"},
      {"prefill_tok_s", "prefill/s"},
      {"new_tokens", "new"},
      {"peak_rss_mb", "rss_mb"},
      {"samples_per_s", "samples/s"},
      {"step_p50_ms", "step_p50"},
      {"step_mean_ms", "step_mean"},
      {"optimizer", "optim"}};
  const auto it = kShort.find(header);
  return it == kShort.end() ? header : it->second;
}

// `text` cut to `width` columns, the cut marked with an ellipsis.
std::string Abbreviated(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width) return text;
  if (width == 0) return "";
  std::string out;
  size_t shown = 0;
  for (const char c : text) {
    const bool starts_code_point = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_code_point && ++shown > width - 1) break;
    out += c;
  }
  return out + "…";
}

// What a text table shows: which columns, at which width, under which header.
struct TextLayout {
  std::vector<size_t> shown;         // column indices, in order
  std::vector<size_t> width;         // per column of the table
  std::vector<std::string> headers;  // per column of the table
  std::vector<std::string> hidden;   // headers of the columns left out that had values
  std::vector<std::string> blank;    // headers of the columns left out that were blank
};

size_t TotalWidth(const TextLayout& l) {
  size_t total = l.shown.empty() ? 0 : 2 * (l.shown.size() - 1);
  for (size_t c : l.shown) total += l.width[c];
  return total;
}

void MeasureColumns(const Table& t, TextLayout& l) {
  for (size_t c = 0; c < t.headers.size(); ++c) {
    l.width[c] = DisplayWidth(l.headers[c]);
    for (const auto& row : t.rows) l.width[c] = std::max(l.width[c], DisplayWidth(Shown(row, c)));
  }
}

bool IsBlank(const Table& t, size_t c) {
  return std::all_of(t.rows.begin(), t.rows.end(),
                     [c](const auto& row) { return Shown(row, c).empty(); });
}

// Hides shown columns, blank ones first, then from the highest rank down to `min_rank` (the
// rightmost of a rank first), until the table fits.
void HideColumns(const Table& t, TextLayout& l, size_t max_width, int min_rank) {
  while (TotalWidth(l) > max_width) {
    std::optional<size_t> pick;
    int pick_rank = min_rank - 1;
    for (size_t i = 0; i < l.shown.size(); ++i) {
      const size_t c = l.shown[i];
      const int rank = IsBlank(t, c) ? std::numeric_limits<int>::max() : DropRank(t.headers[c]);
      if (rank >= min_rank && rank > 0 && rank >= pick_rank) pick = i, pick_rank = rank;
    }
    if (!pick) return;
    const size_t c = l.shown[*pick];
    (IsBlank(t, c) ? l.blank : l.hidden).push_back(t.headers[c]);
    l.shown.erase(l.shown.begin() + static_cast<std::ptrdiff_t>(*pick));
  }
}

// Columns a cut would make useless (a date without its time, half an id): hidden, never cut.
bool KeptWhole(const std::string& header) {
  static const std::set<std::string, std::less<>> kWhole = {"started_at", "id", "run_id", "commit"};
  return kWhole.count(header) > 0;
}

// Narrows the widest text column (not below its header or `floor`; rank 0 columns only when
// `all`; never one KeptWhole) until the table fits.
void NarrowText(const Table& t, TextLayout& l, size_t max_width, size_t floor, bool all) {
  const auto floor_of = [&](size_t c) {
    return KeptWhole(t.headers[c]) ? l.width[c] : std::max(floor, DisplayWidth(l.headers[c]));
  };
  while (TotalWidth(l) > max_width) {
    std::optional<size_t> widest;
    for (size_t c : l.shown)
      if (!IsNumeric(t, c) && (all || DropRank(t.headers[c]) > 0) && l.width[c] > floor_of(c) &&
          (!widest || l.width[c] > l.width[*widest]))
        widest = c;
    if (!widest) return;
    const size_t excess = TotalWidth(l) - max_width;
    l.width[*widest] = std::max(floor_of(*widest) + excess, l.width[*widest]) - excess;
  }
}

// Past the width: short headers; then the least telling columns hidden; then long text cut,
// and only then the columns that tell more hidden.
TextLayout FitText(const Table& t, size_t max_width) {
  TextLayout l{{}, std::vector<size_t>(t.headers.size()), t.headers, {}, {}};
  for (size_t c = 0; c < t.headers.size(); ++c) l.shown.push_back(c);
  MeasureColumns(t, l);
  if (max_width == kUnlimitedWidth || TotalWidth(l) <= max_width) return l;
  std::transform(t.headers.begin(), t.headers.end(), l.headers.begin(), ShortHeader);
  MeasureColumns(t, l);
  HideColumns(t, l, max_width, 3);
  NarrowText(t, l, max_width, 16, false);
  HideColumns(t, l, max_width, 1);
  NarrowText(t, l, max_width, 6, true);
  return l;
}

// Under a table that hides columns: which, wrapped to the width.
void PrintHiddenNote(std::ostream& out, const TextLayout& l, size_t max_width) {
  if (l.hidden.empty() && l.blank.empty()) return;
  std::string note = "(to fit " + std::to_string(max_width) + " columns";
  if (!l.hidden.empty()) note += fmt::format(", hidden: {}", fmt::join(l.hidden, ", "));
  if (!l.blank.empty()) note += fmt::format("; blank: {}", fmt::join(l.blank, ", "));
  out << Wrap(note + "; --format csv or json shows every column)", max_width) << "\n";
}

void PrintText(std::ostream& out, const Table& t, size_t max_width) {
  const TextLayout l = FitText(t, max_width);
  auto line = [&](auto get) {
    for (size_t i = 0; i < l.shown.size(); ++i) {
      const size_t c = l.shown[i];
      const std::string s = Abbreviated(get(c), l.width[c]);
      const std::string pad(l.width[c] - DisplayWidth(s), ' ');
      out << (i ? "  " : "")
          << (IsNumeric(t, c) ? pad + s : s + (i + 1 < l.shown.size() ? pad : ""));
    }
    out << "\n";
  };
  line([&](size_t c) { return l.headers[c]; });
  line([&](size_t c) { return std::string(l.width[c], '-'); });
  for (const auto& row : t.rows) line([&](size_t c) { return Shown(row, c); });
  PrintHiddenNote(out, l, max_width);
}

void PrintCsv(std::ostream& out, const Table& t) {
  const size_t cols = t.headers.size();
  for (size_t c = 0; c < cols; ++c) out << (c ? "," : "") << CsvCell(t.headers[c]);
  out << "\n";
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < cols; ++c) out << (c ? "," : "") << CsvCell(Shown(row, c));
    out << "\n";
  }
}

void PrintMarkdown(std::ostream& out, const Table& t) {
  out << "|";
  for (const auto& h : t.headers) out << " " << MdCell(h) << " |";
  out << "\n|";
  for (size_t c = 0; c < t.headers.size(); ++c) out << (IsNumeric(t, c) ? " ---: |" : " --- |");
  out << "\n";
  for (const auto& row : t.rows) {
    out << "|";
    for (size_t c = 0; c < t.headers.size(); ++c) out << " " << MdCell(Shown(row, c)) << " |";
    out << "\n";
  }
}

}  // namespace

void PrintTable(std::ostream& out, const Table& t, TableFormat format, size_t width) {
  switch (format) {
    case TableFormat::kJson:
      out << TableToJson(t).dump(2) << "\n";
      return;
    case TableFormat::kCsv:
      return PrintCsv(out, t);
    case TableFormat::kMarkdown:
      return PrintMarkdown(out, t);
    case TableFormat::kText:
      return PrintText(out, t, width);
  }
}

}  // namespace ipfs_accel::cli
