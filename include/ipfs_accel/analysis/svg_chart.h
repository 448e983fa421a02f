#pragma once
// Small inline-SVG charts for the HTML reports: a line chart and a bar chart with axes, ticks,
// axis labels and a legend. Values are scaled into a fixed viewBox (kChartWidth x
// kChartHeight); every text is XML-escaped. The output is one <svg> element, no script, no
// external reference.

#include <string>
#include <vector>

namespace ipfs_accel::analysis {

inline constexpr double kChartWidth = 860, kChartHeight = 450;
// The plot area inside the viewBox: what data is scaled into (axes and labels lie outside).
inline constexpr double kPlotLeft = 70, kPlotRight = 520, kPlotTop = 40, kPlotBottom = 340;

struct ChartPoint {
  double x = 0, y = 0;
};

struct ChartSeries {
  std::string name;  // the legend entry
  std::vector<ChartPoint> points;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;  // each one <polyline class="chart-series">; empty ones are
                                    // listed in the legend only. Name parts (" · ") that every
                                    // series shares are said once above the legend.
  // When set: x values are indexes 0..n-1 and these are their tick labels (e.g. commits);
  // otherwise numeric ticks.
  std::vector<std::string> x_categories;
  // The x values are counts (batch sizes): ticks only at whole numbers.
  bool integer_x = false;
};

struct ChartBar {
  std::string label;
  double value = 0;
};

struct BarChart {
  std::string title, y_label;
  std::vector<ChartBar> bars;  // each one <rect class="chart-bar">, from 0 to its value
};

// One <svg class="chart"> element; a chart without points says "no data" in its plot area.
std::string RenderLineChart(const LineChart& chart);
std::string RenderBarChart(const BarChart& chart);

// Text for HTML or XML: & < > " ' and line breaks as entities.
std::string XmlEscape(const std::string& text);

// Round tick values covering [lo, hi] (about `count` of them, steps of 1, 2 or 5 x 10^k).
std::vector<double> NiceTicks(double lo, double hi, int count);
// NiceTicks with a step of at least 1: whole numbers only (a batch of 1.5 does not exist).
std::vector<double> IntegerTicks(double lo, double hi, int count);

// A series name as legend lines: the " · "-separated parts packed into lines of at most
// `width` characters, never cutting a part (a part longer than `width` is a line of its own).
std::vector<std::string> LegendLines(const std::string& name, size_t width);

}  // namespace ipfs_accel::analysis
