// The table printer: text that fits the width, NULL shown blank, every column kept in CSV and
// JSON; and the benchmark table's input shape summary.

#include <sstream>

#include <gtest/gtest.h>

#include "cli/benchmark_table.h"
#include "cli/table_printer.h"
#include "cli/terminal.h"

namespace ipfs_accel::cli {
namespace table_printer_test {

// A table as wide as `benchmark`'s: 16 columns, some blank, one long text column.
Table WideTable() {
  Table t{{"hardware", "variant", "settings", "batch", "shapes", "load_ms", "first_ms", "p50_ms",
           "mean_ms", "p90_ms", "noisy", "p90_es_ms", "p99_ms", "items_per_s", "peak_rss_mb",
           "gpu_used_mb"},
          {false, false, false, true, false, true, true, true, true, true, false, true, true, true,
           true, true},
          {}};
  t.rows.push_back({"cpu", "plain/fp32", "-", "1",
                    "1x128 attention_mask,input_ids,token_type_ids (+24 past_key_values)", "32.304",
                    "0.603", "0.162", "0.185", "0.217", std::nullopt, std::nullopt, "0.229",
                    "5416.86", "134.8", std::nullopt});
  return t;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string Printed(const Table& t, TableFormat format, size_t width) {
  std::ostringstream out;
  PrintTable(out, t, format, width);
  return out.str();
}

TEST(TablePrinter, TextFitsTheWidthAndSaysWhichColumnsItHid) {
  for (size_t width : {60, 80, 100, 120}) {
    const std::string text = Printed(WideTable(), TableFormat::kText, width);
    for (const auto& line : Lines(text)) EXPECT_LE(DisplayWidth(line), width) << line;
    EXPECT_NE(text.find("p50_ms"), std::string::npos) << text;
    EXPECT_NE(text.find("--format csv or json shows every column"), std::string::npos) << text;
  }
}

TEST(TablePrinter, TextKeepsEveryColumnWhenTheWidthAllows) {
  const std::string text = Printed(WideTable(), TableFormat::kText, kUnlimitedWidth);
  EXPECT_NE(text.find("gpu_used_mb"), std::string::npos);
  EXPECT_EQ(text.find("hidden"), std::string::npos);
}

TEST(TablePrinter, ShowsBlankWhereTheValueIsNull) {
  Table t{{"a", "b"}, {true, true}, {{"1", std::nullopt}}};
  EXPECT_EQ(Printed(t, TableFormat::kText, 80).find("NULL"), std::string::npos);
  EXPECT_EQ(Printed(t, TableFormat::kMarkdown, 80), "| a | b |\n| ---: | ---: |\n| 1 |  |\n");
  EXPECT_EQ(Printed(t, TableFormat::kCsv, 80), "a,b\n1,\n");
  EXPECT_EQ(Printed(t, TableFormat::kJson, 80), "[\n  {\n    \"a\": 1,\n    \"b\": null\n  }\n]\n");
}

TEST(TablePrinter, CsvAndJsonKeepEveryColumnAtAnyWidth) {
  const Table t = WideTable();
  const auto csv = Lines(Printed(t, TableFormat::kCsv, 40));
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(std::count(csv[0].begin(), csv[0].end(), ','), 15);
  EXPECT_EQ(TableToJson(t)[0].size(), 16u);
}

TEST(TablePrinter, JsonKeepsTheColumnOrder) {
  Table t{{"zeta", "alpha"}, {true, false}, {{"1", "x"}}};
  EXPECT_EQ(TableToJson(t).dump(), R"([{"zeta":1,"alpha":"x"}])");
}

TEST(TablePrinter, JsonColumnsAreWrittenAsValues) {
  Table t{{"aliases"}, {false}, {{R"(["bert","bert-base"])"}}, {true}};
  EXPECT_EQ(TableToJson(t).dump(), R"([{"aliases":["bert","bert-base"]}])");
}

TEST(BenchmarkTable, ShapesSummaryCountsAFamilyOfInputs) {
  std::string shapes = R"({"attention_mask":[1,8],"input_ids":[1,8])";
  for (int i = 0; i < 12; ++i)
    shapes += ",\"past_key_values." + std::to_string(i) + ".key\":[1,12,0,64],\"past_key_values." +
              std::to_string(i) + ".value\":[1,12,0,64]";
  shapes += "}";
  EXPECT_EQ(ShapesSummary(shapes), "1x8 attention_mask,input_ids (+24 past_key_values)");
  EXPECT_EQ(ShapesSummary(R"({"input_values":[2,16000],"mask":[2,10]})"),
            "2x16000 input_values, 2x10 mask");
}

TEST(BenchmarkTable, FlagsSamplesWhoseP90IsOverThreeTimesTheirP50) {
  store::PerformanceRecord r;
  r.latency_p50_ms = 1;
  r.latency_p90_ms = 3;
  EXPECT_FALSE(IsUnstable(r));
  r.latency_p90_ms = 3.5;
  EXPECT_TRUE(IsUnstable(r));
}

TEST(Terminal, WrapKeepsLinesWithinTheWidthAndHangsIndentedText) {
  const std::string text =
      "Scenarios:\n  single-stream  one query at a time until both counts and the minimum time "
      "are met, then the percentiles";
  const std::string wrapped = Wrap(text, 40);
  for (const auto& line : Lines(wrapped)) EXPECT_LE(DisplayWidth(line), 40u) << line;
  EXPECT_NE(wrapped.find("\n                 "), std::string::npos) << wrapped;
  EXPECT_EQ(Wrap(text, kUnlimitedWidth), text);
}

}  // namespace table_printer_test
}  // namespace ipfs_accel::cli
