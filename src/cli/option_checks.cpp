#include "cli/option_checks.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

namespace ipfs_accel::cli {

namespace {

// The value as an integer, or nothing when the text is not exactly one.
template <typename T>
std::optional<T> ParseWhole(const std::string& text) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

CLI::Validator WholeNumber(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const auto v = ParseWhole<int64_t>(text);
        if (v && *v >= min && *v <= max) return "";
        return fmt::format("'{}' is not a whole number from {} to {}", text, min, max);
      },
      fmt::format("INT in [{}, {}]", min, max), "WholeNumber");
}

CLI::Validator Seed() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (ParseWhole<uint64_t>(text)) return "";
        return fmt::format("'{}' is not a seed (a whole number from 0 to 2^64-1)", text);
      },
      "UINT64", "Seed");
}

CLI::Validator FiniteNumber(bool positive, const char* unit) {
  return CLI::Validator(
      [positive, unit](std::string& text) -> std::string {
        double v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        const bool number = ec == std::errc() && end == text.data() + text.size();
        if (number && std::isfinite(v) && (positive ? v > 0 : v >= 0)) return "";
        return fmt::format("'{}' is not a finite number of {} {} 0", text, unit,
                           positive ? "above" : "of at least");
      },
      positive ? "NUMBER > 0" : "NUMBER >= 0", "FiniteNumber");
}

CLI::Validator Probability() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec == std::errc() && end == text.data() + text.size() && v > 0 && v < 1) return "";
        return fmt::format("'{}' is not a probability between 0 and 1 (both excluded)", text);
      },
      "0 < P < 1", "Probability");
}

CLI::Validator ThreadCount() {
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  const int64_t max = kThreadsPerCore * cores;
  return CLI::Validator(
      [cores, max](std::string& text) -> std::string {
        const auto v = ParseWhole<int64_t>(text);
        if (v && *v >= 0 && *v <= max) return "";
        return fmt::format(
            "'{}' is not a thread count from 0 (the runtime's default) to {} ({} x the {} "
            "logical cores here)",
            text, max, kThreadsPerCore, cores);
      },
      fmt::format("INT in [0, {}]", max), "ThreadCount");
}

}  // namespace ipfs_accel::cli
