#include "ipfs_accel/analysis/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace ipfs_accel::analysis {

namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
const char* Colour(size_t i) { return kPalette[i % std::size(kPalette)]; }

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool Empty() const { return lo > hi; }
};

// Maps v in [lo, hi] onto [out_lo, out_hi]; a range of one value maps to the middle.
double Scale(double v, double lo, double hi, double out_lo, double out_hi) {
  if (hi <= lo) return (out_lo + out_hi) / 2;
  return out_lo + (v - lo) / (hi - lo) * (out_hi - out_lo);
}

std::string Num(double v) { return fmt::format("{:.2f}", v); }

std::string TickLabel(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e6 || a < 1e-3) return fmt::format("{:.1e}", v);
  return fmt::format("{:g}", v);
}

std::string Open(const std::string& title, const std::string& kind) {
  return fmt::format(
      "<svg class=\"chart {}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "width=\"{}\" height=\"{}\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>{}</title>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
      "font-weight=\"bold\">{}</text>\n",
      kind, kChartWidth, kChartHeight, kChartWidth, kChartHeight, XmlEscape(title),
      Num((kPlotLeft + kPlotRight) / 2), XmlEscape(title));
}

std::string Axes(const std::string& x_label, const std::string& y_label) {
  std::string out = fmt::format(
      "<g class=\"chart-axes\" stroke=\"#333\"><line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\"/>"
      "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{2}\"/></g>\n",
      Num(kPlotLeft), Num(kPlotRight), Num(kPlotBottom), Num(kPlotTop));
  if (!x_label.empty())
    out +=
        fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                    Num((kPlotLeft + kPlotRight) / 2), Num(kChartHeight - 8), XmlEscape(x_label));
  if (!y_label.empty())
    out += fmt::format(
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        Num((kPlotTop + kPlotBottom) / 2), XmlEscape(y_label));
  return out;
}

std::string YTicks(const std::vector<double>& ticks, double lo, double hi) {
  std::string out = "<g class=\"chart-yticks\">";
  for (double t : ticks) {
    const double y = Scale(t, lo, hi, kPlotBottom, kPlotTop);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>",
        Num(kPlotLeft), Num(kPlotRight), Num(y), Num(kPlotLeft - 6), Num(y + 4), TickLabel(t));
  }
  return out + "</g>\n";
}

// The y range [lo, hi] widened to whole ticks, and its ticks.
std::vector<double> YRange(double& lo, double& hi) {
  std::vector<double> ticks = NiceTicks(lo, hi, 5);
  if (ticks.size() >= 2) {
    const double step = ticks[1] - ticks[0];
    hi = std::ceil(hi / step - 1e-9) * step;
    lo = std::floor(lo / step + 1e-9) * step;
    ticks = NiceTicks(lo, hi, 5);
  }
  return ticks;
}

constexpr const char* kPartSeparator = " · ";
constexpr size_t kLegendWidth = 50;    // characters of 10px text beside the plot
constexpr size_t kBarLabelWidth = 24;  // characters of a line under a bar

std::vector<std::string> Parts(const std::string& name) {
  std::vector<std::string> parts;
  const std::string sep = kPartSeparator;
  size_t at = 0;
  for (size_t next; (next = name.find(sep, at)) != std::string::npos; at = next + sep.size())
    parts.push_back(name.substr(at, next - at));
  parts.push_back(name.substr(at));
  return parts;
}

std::string JoinParts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : kPartSeparator) + p;
  return out;
}

// The name parts every name has (in the first name's order); none for a single name.
std::vector<std::string> SharedParts(const std::vector<std::string>& names) {
  if (names.size() < 2) return {};
  std::vector<std::string> shared;
  for (const auto& part : Parts(names[0])) {
    const bool everywhere = std::all_of(names.begin(), names.end(), [&](const std::string& n) {
      const auto parts = Parts(n);
      return std::find(parts.begin(), parts.end(), part) != parts.end();
    });
    if (everywhere) shared.push_back(part);
  }
  return shared;
}

std::string Unshared(const std::string& name, const std::vector<std::string>& shared) {
  std::vector<std::string> own;
  for (const auto& part : Parts(name))
    if (std::find(shared.begin(), shared.end(), part) == shared.end()) own.push_back(part);
  return own.empty() ? name : JoinParts(own);
}

// Lines of legend text from y on; returns the y below them.
double LegendText(std::string& out, const std::vector<std::string>& lines, double y,
                  const char* extra = "") {
  for (const auto& line : lines) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\"{}>{}</text>", Num(kPlotRight + 28),
                       Num(y + 1), extra, XmlEscape(line));
    y += 12;
  }
  return y;
}

// "all: ..." right of the plot for the parts every name shares; returns the y below it.
double SharedLegend(std::string& out, const std::vector<std::string>& shared) {
  const double top = kPlotTop + 8;
  if (shared.empty()) return top;
  return LegendText(out, LegendLines("all: " + JoinParts(shared), kLegendWidth), top,
                    " fill=\"#555\"") +
         6;
}

// A bar's label under it, turned 30 degrees, on as many lines as its parts need.
std::string BarLabel(const std::string& label, double x) {
  std::string out = fmt::format("<text transform=\"translate({} {}) rotate(30)\" font-size=\"10\">",
                                Num(x), Num(kPlotBottom + 14));
  const auto lines = LegendLines(label, kBarLabelWidth);
  for (size_t i = 0; i < lines.size(); ++i)
    out += fmt::format("<tspan x=\"0\" dy=\"{}\">{}</tspan>", i ? 11 : 0, XmlEscape(lines[i]));
  return out + "</text>\n";
}

// The legend right of the plot: what every series shares once, then one entry per series
// (its colour, its own name parts on as many lines as they need).
std::string Legend(const std::vector<ChartSeries>& series) {
  std::string out = "<g class=\"chart-legend\">";
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(s.name);
  const auto shared = SharedParts(names);
  double y = SharedLegend(out, shared);
  for (size_t i = 0; i < series.size(); ++i) {
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/>",
                       Num(kPlotRight + 12), Num(y - 4), Colour(i));
    const std::string name =
        Unshared(series[i].name, shared) + (series[i].points.empty() ? " (no data)" : "");
    y = LegendText(out, LegendLines(name, kLegendWidth), y) + 6;
  }
  return out + "</g>\n";
}

}  // namespace

std::vector<std::string> LegendLines(const std::string& name, size_t width) {
  std::vector<std::string> lines;
  for (const auto& part : Parts(name)) {
    if (!lines.empty() &&
        lines.back().size() + std::string(kPartSeparator).size() + part.size() <= width)
      lines.back() += kPartSeparator + part;
    else
      lines.push_back(part);
  }
  return lines;
}

namespace {

std::string NoData() {
  return fmt::format(
      "<text class=\"chart-empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">no "
      "data</text>\n",
      Num((kPlotLeft + kPlotRight) / 2), Num((kPlotTop + kPlotBottom) / 2));
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\n':  // kept as a line break inside attribute values (multi-line titles)
        out += "&#10;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || count < 1) return {};
  if (hi <= lo) return {lo};
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  // Each tick a multiple of the step (no summed rounding error).
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; ++k)
    ticks.push_back(k == 0 ? 0 : k * step);
  return ticks;
}

std::vector<double> IntegerTicks(double lo, double hi, int count) {
  std::vector<double> ticks = NiceTicks(lo, hi, count);
  if (ticks.size() >= 2 && ticks[1] - ticks[0] >= 1) return ticks;
  ticks.clear();
  for (double k = std::ceil(lo - 1e-9); k <= hi + 1e-9; ++k) ticks.push_back(k);
  return ticks;
}

std::string RenderLineChart(const LineChart& chart) {
  Range xr, yr;
  for (const auto& s : chart.series)
    for (const auto& p : s.points) {
      xr.Add(p.x);
      yr.Add(p.y);
    }
  std::string out = Open(chart.title, "line-chart");
  out += Axes(chart.x_label, chart.y_label);
  if (!xr.Empty()) {
    // The y axis starts at 0 for non-negative data so that differences are not exaggerated.
    double ylo = std::min(0.0, yr.lo), yhi = yr.hi;
    const std::vector<double> yticks = YRange(ylo, yhi);
    out += YTicks(yticks, ylo, yhi);
    double xlo = xr.lo, xhi = xr.hi;
    out += "<g class=\"chart-xticks\">";
    if (!chart.x_categories.empty()) {
      xlo = 0;
      xhi = static_cast<double>(chart.x_categories.size() - 1);
      for (size_t i = 0; i < chart.x_categories.size(); ++i) {
        const double x = Scale(static_cast<double>(i), xlo, xhi, kPlotLeft + 10, kPlotRight - 10);
        out += fmt::format(
            "<text transform=\"translate({} {}) rotate(30)\" font-size=\"10\">{}</text>", Num(x),
            Num(kPlotBottom + 14), XmlEscape(chart.x_categories[i]));
      }
    } else {
      for (double t : chart.integer_x ? IntegerTicks(xlo, xhi, 6) : NiceTicks(xlo, xhi, 6))
        out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                           Num(Scale(t, xlo, xhi, kPlotLeft + 10, kPlotRight - 10)),
                           Num(kPlotBottom + 16), TickLabel(t));
    }
    out += "</g>\n";
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const auto& s = chart.series[i];
      if (s.points.empty()) continue;
      std::string pts, dots;
      for (const auto& p : s.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        const double x = Scale(p.x, xlo, xhi, kPlotLeft + 10, kPlotRight - 10);
        const double y = Scale(p.y, ylo, yhi, kPlotBottom, kPlotTop);
        if (!pts.empty()) pts += ' ';
        pts += Num(x);
        pts += ',';
        pts += Num(y);
        dots += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>", Num(x), Num(y));
      }
      out += fmt::format(
          "<polyline class=\"chart-series\" data-series=\"{0}\" fill=\"none\" stroke=\"{1}\" "
          "stroke-width=\"2\" points=\"{2}\"><title>{0}</title></polyline><g "
          "fill=\"{1}\">{3}</g>\n",
          XmlEscape(s.name), Colour(i), pts, dots);
    }
  } else {
    out += NoData();
  }
  return out + Legend(chart.series) + "</svg>\n";
}

std::string RenderBarChart(const BarChart& chart) {
  Range yr;
  for (const auto& b : chart.bars) yr.Add(b.value);
  std::string out = Open(chart.title, "bar-chart");
  out += Axes("", chart.y_label);
  if (yr.Empty()) return out + NoData() + "</svg>\n";
  double ylo = std::min(0.0, yr.lo), yhi = std::max(0.0, yr.hi);
  const std::vector<double> yticks = YRange(ylo, yhi);
  out += YTicks(yticks, ylo, yhi);
  const double slot = (kPlotRight - kPlotLeft) / static_cast<double>(chart.bars.size());
  const double zero = Scale(0, ylo, yhi, kPlotBottom, kPlotTop);
  std::vector<std::string> names;
  for (const auto& b : chart.bars) names.push_back(b.label);
  const auto shared = SharedParts(names);
  out += "<g class=\"chart-legend\">";
  SharedLegend(out, shared);
  out += "</g>\n";
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const auto& b = chart.bars[i];
    if (!std::isfinite(b.value)) continue;
    const double width = std::min(slot * 0.7, 60.0);
    const double x = kPlotLeft + slot * (static_cast<double>(i) + 0.5) - width / 2;
    const double y = Scale(b.value, ylo, yhi, kPlotBottom, kPlotTop);
    out += fmt::format(
        "<rect class=\"chart-bar\" data-label=\"{0}\" x=\"{1}\" y=\"{2}\" width=\"{3}\" "
        "height=\"{4}\" fill=\"{5}\"><title>{0}: {6}</title></rect>",
        XmlEscape(b.label), Num(x), Num(std::min(y, zero)), Num(width), Num(std::abs(zero - y)),
        Colour(i), TickLabel(b.value));
    out += BarLabel(Unshared(b.label, shared), x + width / 2);
  }
  return out + "</svg>\n";
}

}  // namespace ipfs_accel::analysis
