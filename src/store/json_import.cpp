#include "ipfs_accel/store/json_import.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"
#include "ipfs_accel/core/mapped_file.h"

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

constexpr const char* kModelSource = "legacy-json";
constexpr const char* kUnknown = "unknown";
constexpr const char* kNotMeasuredNote =
    "the legacy flat files' round figures (e.g. latency 20 ms, throughput 50) came from a run "
    "that did not measure (shared/fixtures/legacy-json/README.md); kept as the file says, not "
    "as measurements";
constexpr const char* kTimezoneNote =
    "the file's timestamps carry no time zone; stored as if they were UTC";

std::string HexSha256(std::string_view bytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// A UUID-shaped id (version 5 layout) from the file's hash and the run's index in it.
std::string DeterministicRunId(const std::string& file_sha256, size_t index) {
  std::string h = HexSha256(fmt::format("{}#{}", file_sha256, index)).substr(0, 32);
  h[12] = '5';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

// "2025-03-05T19:57:13.297083" or "20250303_050235" -> "2025-03-05T19:57:13Z".
std::optional<std::string> IsoUtc(const std::string& text) {
  static const std::regex iso(
      R"(^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:?00)?$)");
  static const std::regex compact(R"(^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$)");
  std::smatch m;
  if (std::regex_match(text, m, iso)) return m[1].str() + "T" + m[2].str() + "Z";
  if (std::regex_match(text, m, compact))
    return fmt::format("{}-{}-{}T{}:{}:{}Z", m[1].str(), m[2].str(), m[3].str(), m[4].str(),
                       m[5].str(), m[6].str());
  return std::nullopt;
}

// The timestamp in a legacy file name ("..._20250305_195714.json").
std::optional<std::string> TimestampFromFileName(const std::string& path) {
  static const std::regex stamp(R"((\d{8}_\d{6}))");
  const std::string name = std::filesystem::path(path).filename().string();
  std::smatch m;
  if (std::regex_search(name, m, stamp)) return IsoUtc(m[1].str());
  return std::nullopt;
}

// Tracks the earliest and latest timestamp a file states.
struct TimeSpan {
  std::string first, last;
  void Add(const json& value) {
    if (!value.is_string()) return;
    const auto iso = IsoUtc(value.get<std::string>());
    if (!iso) return;
    if (first.empty() || *iso < first) first = *iso;
    if (last.empty() || *iso > last) last = *iso;
  }
};

// Collects what a file holds that has no column, each line once.
struct Unmapped {
  std::vector<std::string> lines;
  void Add(const std::string& line) {
    if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
  }
};

// The largest batch size, sequence length or iteration count a result file may state.
constexpr int64_t kMaxCount = INT32_MAX;

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Corrupt(const std::string& field, const std::string& why) const {
    throw Error(ErrorKind::kCorrupt, fmt::format("{}: {} {}; fix or remove that entry and "
                                                 "import again",
                                                 file_, field, why));
  }

  double Number(const json& v, const std::string& field) const {
    if (!v.is_number()) Corrupt(field, fmt::format("is {}, not a number", core::JsonExcerpt(v)));
    return v.get<double>();
  }
  // A non-negative finite number, times `scale` (a unit conversion), still finite.
  double NonNegative(const json& v, const std::string& field, const char* what,
                     double scale = 1.0) const {
    const double x = Number(v, field);
    if (!(x >= 0) || !std::isfinite(x))
      Corrupt(field, fmt::format("is {}; no measurement produces a negative {}", x, what));
    if (!std::isfinite(x * scale))
      Corrupt(field, fmt::format("is {}; no measurement produces a {} that large", x, what));
    return x * scale;
  }
  // A whole number from `min` to `max`: counts and sizes (a double past them would not convert).
  int64_t WholeNumber(const json& v, const std::string& field, int64_t min, int64_t max,
                      const char* what) const {
    const double x = Number(v, field);
    if (!(x >= static_cast<double>(min) && x <= static_cast<double>(max)) || x != std::floor(x))
      Corrupt(field, fmt::format("is {}; {} is a whole number from {} to {}", x, what, min, max));
    return static_cast<int64_t>(x);
  }
  int64_t BatchSize(const json& v, const std::string& field) const {
    return WholeNumber(v, field, 1, kMaxCount, "a batch size");
  }
  // A whole number in a key's text ("batch_<B>_seq_<S>", "batch_sizes": {"4": ...}).
  int64_t KeyNumber(std::string_view text, const std::string& field, int64_t min,
                    const char* what) const {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > kMaxCount)
      Corrupt(field, fmt::format("is not {} (a whole number from {} to {})", what, min, kMaxCount));
    return v;
  }
  int64_t BatchSizeKey(const std::string& key, const std::string& field) const {
    return KeyNumber(key, field, 1, "a batch size");
  }
  // Latencies in `unit_to_ms` units, each checked.
  std::vector<double> Samples(const json& v, const std::string& field, double unit_to_ms) const {
    std::vector<double> out;
    if (v.is_null()) return out;
    if (!v.is_array()) Corrupt(field, "is not a list");
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(NonNegative(v[i], fmt::format("{}[{}]", field, i), "latency", unit_to_ms));
    return out;
  }
  // obj[key] as a flag: true/false, `absent` when there is none (missing: an error).
  bool Flag(const json& obj, const char* key, std::optional<bool> absent,
            const std::string& at) const {
    const auto it = obj.find(key);
    if (it == obj.end() && absent) return *absent;
    if (it == obj.end()) Corrupt(at + "." + key, "is missing");
    if (!it->is_boolean())
      Corrupt(at + "." + key, fmt::format("is {}, not true or false", core::JsonExcerpt(*it)));
    return it->get<bool>();
  }
  // obj[key] as text, `fallback` when absent or null.
  std::string Text(const json& obj, const char* key, const std::string& fallback,
                   const std::string& at) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string())
      Corrupt(at + "." + key, fmt::format("is {}, not text", core::JsonExcerpt(*it)));
    return it->get<std::string>();
  }
  // obj[key] as an object, an empty one when absent.
  const json& Object(const json& obj, const char* key, const std::string& at) const {
    static const json empty = json::object();
    const auto it = obj.find(key);
    if (it == obj.end()) return empty;
    if (!it->is_object())
      Corrupt(at + "." + key, fmt::format("is {}, not an object", core::JsonExcerpt(*it)));
    return *it;
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// Same definitions as harness::Summarize (linear-interpolated percentiles, n-1 stdev); the
// store may not include the harness. The mean is the file's own where it states one.
void FillFromSamples(PerformanceRecord& p) {
  if (p.samples_ms.empty()) return;
  std::vector<double> s = p.samples_ms;
  std::sort(s.begin(), s.end());
  const double n = static_cast<double>(s.size());
  const double mean = std::accumulate(s.begin(), s.end(), 0.0) / n;
  double ss = 0;
  for (double x : s) ss += (x - mean) * (x - mean);
  if (s.size() > 1) p.latency_stdev_ms = std::sqrt(ss / (n - 1));  // one sample has none
  p.latency_min_ms = s.front();
  p.latency_max_ms = s.back();
  auto pct = [&](double q) {
    const double rank = q / 100.0 * (n - 1);
    const size_t lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, s.size() - 1);
    return s[lo] + (rank - static_cast<double>(lo)) * (s[hi] - s[lo]);
  };
  p.latency_p50_ms = pct(50);
  p.latency_p90_ms = pct(90);
  p.latency_p95_ms = pct(95);
  p.latency_p99_ms = pct(99);
  p.iterations = static_cast<int>(s.size());
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string StringOr(const json& obj, const char* key, const std::string& fallback) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_string())
    return obj[key].get<std::string>();
  return fallback;
}

ModelRecord LegacyModel(const std::string& name, const std::string& architecture,
                        const std::optional<std::string>& family) {
  ModelRecord m;
  m.name = name;
  m.architecture = architecture;
  m.modality = kUnknown;
  m.source = kModelSource;
  m.family = family;
  return m;
}

HardwarePlatformRecord LegacyHardware(const std::string& platform, const std::string& device,
                                      const std::string& hostname, json details) {
  HardwarePlatformRecord h;
  h.platform = Lower(platform);
  h.device_name = device;
  h.hostname = hostname;
  h.details_json = details.dump();
  return h;
}

// The legacy system ran PyTorch/transformers, not ONNX Runtime; its rows name no provider.
PerformanceRecord LegacyPerformance(const std::string& platform) {
  PerformanceRecord p;
  p.execution_provider = "legacy:" + Lower(platform);
  p.scenario = "single-stream";
  return p;
}

CompatibilityRecord FailedCompatibility(const Parser& ps, const std::string& platform,
                                        const json& entry, const std::string& at) {
  CompatibilityRecord c;
  c.execution_provider = "legacy:" + Lower(platform);
  c.status = "failed";
  c.error_message = ps.Text(entry, "error", "", at);
  if (c.error_message.empty()) c.error_message = "the legacy run reported it failed (no message)";
  return c;
}

RunRecord LegacyRun(const std::string& path, const TimeSpan& span) {
  RunRecord r;
  const auto from_name = TimestampFromFileName(path);
  // No date is made up: a run must say when it ran.
  if (span.first.empty() && !from_name)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("{}: no timestamp in its contents or its name; add a 'timestamp' "
                            "field (ISO-8601) and import again",
                            path));
  r.started_at = !span.first.empty() ? span.first : *from_name;
  r.finished_at = !span.last.empty() ? span.last : r.started_at;
  r.hostname = kUnknown;
  r.os = kUnknown;
  r.origin = "imported";
  r.imported_from = path;
  return r;
}

const std::vector<std::string> kCommonUnmapped = {
    "tool version, git commit, seed: not in the file (stored empty / 0)",
    "runtime and execution provider: not in the file (the legacy system ran PyTorch; stored "
    "as 'legacy:<hardware>', runtime version empty)",
    "warm-up iterations, threads: not in the file (stored 0); first-inference time, peak RSS: "
    "not in the file (stored empty)",
    "model weights' hash, architecture, modality: not in the file (stored empty / 'unknown')",
};

// --- legacy-flat: one model x one hardware, batch_sizes -> figures --------------------------
void ParseFlat(const Parser& ps, const json& j, ImportResult& out, Unmapped& un) {
  TimeSpan span;
  span.Add(j.value("timestamp", json()));
  RunResults rr;
  rr.run = LegacyRun(out.path, span);
  const std::string platform =
      ps.Text(j, "hardware_key", Lower(ps.Text(j, "hardware", "", "")), "");
  if (platform.empty()) ps.Corrupt("hardware_key", "is missing");
  RunResults::Entry e;
  const std::string name = ps.Text(j, "model_path", ps.Text(j, "model", "", ""), "");
  if (name.empty()) ps.Corrupt("model_path", "is missing");
  std::optional<std::string> family;
  if (j.contains("model_category") && j["model_category"].is_string())
    family = j["model_category"].get<std::string>();
  e.model = LegacyModel(name, ps.Text(j, "model_key", kUnknown, ""), family);
  e.hardware = LegacyHardware(platform, kUnknown, kUnknown, json::object());
  json legacy = {{"model", j.value("model", json())},
                 {"compatible", j.value("compatible", json())},
                 {"batch_sizes", json::object()}};
  const json& batches = j["batch_sizes"];
  for (const auto& [key, b] : batches.items()) {
    const std::string at = "batch_sizes." + key;
    const int64_t batch = ps.BatchSizeKey(key, at);
    if (!b.is_object()) ps.Corrupt(at, "is not an object");
    legacy["batch_sizes"][key] = {{"memory_usage_mb", b.value("memory_usage_mb", json())},
                                  {"command", b.value("command", json())}};
    if (!ps.Flag(b, "success", std::nullopt, at)) {
      CompatibilityRecord c = FailedCompatibility(ps, platform, b, at);
      c.batch_size = batch;
      e.compatibility.push_back(std::move(c));
      continue;
    }
    PerformanceRecord p = LegacyPerformance(platform);
    p.batch_size = batch;
    p.latency_mean_ms =
        ps.NonNegative(b.value("latency_ms", json()), at + ".latency_ms", "latency");
    p.throughput_items_per_s =
        ps.NonNegative(b.value("throughput", json()), at + ".throughput", "throughput");
    if (b.contains("memory_usage_mb"))
      ps.NonNegative(b["memory_usage_mb"], at + ".memory_usage_mb", "memory");
    e.performance.push_back(std::move(p));
  }
  rr.run.metadata_json = json{
      {"import", {{"shape", kShapeLegacyFlat}, {"note", kNotMeasuredNote}}},
      {"timestamps", kTimezoneNote},
      {"legacy", legacy}}.dump();
  rr.entries.push_back(std::move(e));
  out.runs.push_back(std::move(rr));
  un.Add(
      "latency_ms is one figure, the mean: no samples, stdev, min/max or percentiles (stored "
      "empty)");
  un.Add(
      "memory_usage_mb has no column (peak RSS is not the same quantity); kept in the run's "
      "metadata");
  un.Add("sequence length, iterations: not in the file (stored 0); load time: stored empty");
  un.Add(
      "command per batch size and 'compatible' (a claim, not a checked result): kept in the "
      "run's metadata");
  un.Add("device name, hostname, OS: not in the file (stored 'unknown')");
  un.Add("the figures were not measured (README): the run's metadata says so");
}

// --- legacy-batch: one hardware, models -> benchmark_data.batch_results ----------------------
void ParseBatch(const Parser& ps, const json& j, ImportResult& out, Unmapped& un) {
  TimeSpan span;
  span.Add(j.value("timestamp", json()));
  const std::string platform = Lower(ps.Text(j, "hardware", "", ""));
  if (platform.empty()) ps.Corrupt("hardware", "is missing");
  RunResults rr;
  json legacy = json::object();
  for (const auto& [name, m] : j["results"].items()) {
    const std::string at = "results." + name;
    if (!m.is_object()) ps.Corrupt(at, "is not an object");
    span.Add(m.value("timestamp", json()));
    RunResults::Entry e;
    e.model = LegacyModel(ps.Text(m, "model", name, at), kUnknown, std::nullopt);
    e.hardware =
        LegacyHardware(ps.Text(m, "hardware", platform, at), kUnknown, kUnknown, json::object());
    legacy[name] = {{"command", m.value("command", json())},
                    {"output_file", m.value("output_file", json())},
                    {"memory_mb", json::object()}};
    const json& data = ps.Object(m, "benchmark_data", at);
    if (!ps.Flag(m, "success", std::nullopt, at) ||
        !ps.Flag(data, "success", true, at + ".benchmark_data")) {
      e.compatibility.push_back(FailedCompatibility(ps, e.hardware.platform, m, at));
      rr.entries.push_back(std::move(e));
      continue;
    }
    const json& batch_results = ps.Object(data, "batch_results", at + ".benchmark_data");
    for (const auto& [key, b] : batch_results.items()) {
      const std::string bat = at + ".benchmark_data.batch_results." + key;
      if (!b.is_object()) ps.Corrupt(bat, "is not an object");
      span.Add(b.value("timestamp", json()));
      const int64_t batch = b.contains("batch_size")
                                ? ps.BatchSize(b["batch_size"], bat + ".batch_size")
                                : ps.BatchSizeKey(key, bat);
      if (!ps.Flag(b, "success", std::nullopt, bat)) {
        CompatibilityRecord c = FailedCompatibility(ps, e.hardware.platform, b, bat);
        c.batch_size = batch;
        e.compatibility.push_back(std::move(c));
        continue;
      }
      PerformanceRecord p = LegacyPerformance(e.hardware.platform);
      p.batch_size = batch;
      p.samples_ms = ps.Samples(b.value("latencies_ms", json()), bat + ".latencies_ms", 1.0);
      FillFromSamples(p);
      p.latency_mean_ms =
          ps.NonNegative(b.value("avg_latency_ms", json()), bat + ".avg_latency_ms", "latency");
      p.throughput_items_per_s = ps.NonNegative(b.value("throughput_items_per_second", json()),
                                                bat + ".throughput_items_per_second", "throughput");
      if (b.contains("memory_mb")) {
        ps.NonNegative(b["memory_mb"], bat + ".memory_mb", "memory");
        legacy[name]["memory_mb"][key] = b["memory_mb"];
      }
      e.performance.push_back(std::move(p));
    }
    rr.entries.push_back(std::move(e));
  }
  rr.run = LegacyRun(out.path, span);
  rr.run.metadata_json = json{
      {"import", {{"shape", kShapeLegacyBatch}}},
      {"timestamps", kTimezoneNote},
      {"legacy", legacy}}.dump();
  out.runs.push_back(std::move(rr));
  un.Add("stdout/stderr captured per model: not kept");
  un.Add(
      "memory_mb has no column (peak RSS is not the same quantity); kept in the run's "
      "metadata");
  un.Add("sequence length: not in the file (stored 0); load time: stored empty");
  un.Add(
      "command and output_file per model: kept in the run's metadata; 'summary' repeats "
      "batch_results and is not read");
  un.Add("device name, hostname, OS: not in the file (stored 'unknown')");
}

// --- legacy-nested: system_info + benchmarks -> family -> model -> hardware -> results -------
std::string NestedDeviceName(const Parser& ps, const json& j, const std::string& platform) {
  const json& details = ps.Object(j, "hardware_details", "");
  if (platform == "cpu") {
    const json& ov = ps.Object(details, "openvino_device_info", "hardware_details");
    if (ov.contains("CPU") && ov["CPU"].is_string()) return ov["CPU"].get<std::string>();
  }
  if (platform == "cuda") {
    const json devices = details.value("cuda_devices", json::array());
    if (devices.is_array() && !devices.empty()) return StringOr(devices[0], "name", kUnknown);
  }
  return kUnknown;
}

// The legacy runner's audio clips: N seconds of a 16 kHz waveform (hardware_benchmark_runner.py).
constexpr int64_t kLegacySampleRate = 16000;

struct NestedConfiguration {
  int64_t batch_size = 0, seq_len = 0;
  json shapes;
};

// A benchmark_results key of the legacy runner: text "batch_<B>_seq_<S>", audio
// "batch_<B>_audio_<N>s" (sequence length: the clip's samples).
NestedConfiguration ParseNestedKey(const Parser& ps, const std::string& key, const std::string& at,
                                   Unmapped& un) {
  static const std::regex text(R"(^batch_(-?\d+)_seq_(-?\d+)$)");
  static const std::regex audio(R"(^batch_(-?\d+)_audio_(-?\d+)s$)");
  std::smatch m;
  NestedConfiguration c;
  if (std::regex_match(key, m, text)) {
    c.batch_size = ps.BatchSizeKey(m[1].str(), at);
    c.seq_len = ps.KeyNumber(m[2].str(), at, 0, "a sequence length");
    c.shapes = {{"batch_size", c.batch_size}, {"seq_len", c.seq_len}};
  } else if (std::regex_match(key, m, audio)) {
    c.batch_size = ps.BatchSizeKey(m[1].str(), at);
    const int64_t seconds = ps.KeyNumber(m[2].str(), at, 1, "a clip length in seconds");
    c.seq_len = seconds * kLegacySampleRate;
    c.shapes = {
        {"batch_size", c.batch_size}, {"audio_seconds", seconds}, {"audio_samples", c.seq_len}};
    un.Add(
        "batch_<B>_audio_<N>s: seq_len is the clip's samples at 16 kHz (N x 16000, the waveform "
        "the runner made); real_time_factor (derived) and total_time are not kept");
  } else {
    ps.Corrupt(at, "is not named batch_<B>_seq_<S> or batch_<B>_audio_<N>s");
  }
  return c;
}

void ParseNested(const Parser& ps, const json& j, ImportResult& out, Unmapped& un) {
  TimeSpan span;
  const json& sys = ps.Object(j, "system_info", "");
  span.Add(sys.value("timestamp", json()));
  if (span.first.empty()) span.Add(j.value("timestamp", json()));
  const std::string hostname = StringOr(sys, "hostname", kUnknown);
  RunResults rr;
  json legacy = json::object();
  for (const auto& [family, models] : j["benchmarks"].items()) {
    if (!models.is_object()) ps.Corrupt("benchmarks." + family, "is not an object");
    for (const auto& [model_key, hardware] : models.items()) {
      if (!hardware.is_object())
        ps.Corrupt(fmt::format("benchmarks.{}.{}", family, model_key), "is not an object");
      for (const auto& [hw_key, m] : hardware.items()) {
        const std::string at = fmt::format("benchmarks.{}.{}.{}", family, model_key, hw_key);
        if (!m.is_object()) ps.Corrupt(at, "is not an object");
        span.Add(m.value("timestamp", json()));
        const std::string platform = Lower(ps.Text(m, "hardware", hw_key, at));
        RunResults::Entry e;
        e.model = LegacyModel(ps.Text(m, "model_name", model_key, at), kUnknown,
                              ps.Text(m, "family", family, at));
        json details = {{"system_info", sys}};
        if (j.contains("hardware_details")) details["hardware_details"] = j["hardware_details"];
        e.hardware = LegacyHardware(platform, NestedDeviceName(ps, j, platform), hostname, details);
        legacy[at] = {{"model_class", m.value("model_class", json())},
                      {"performance_summary", m.value("performance_summary", json())}};
        if (ps.Text(m, "status", "completed", at) != "completed") {
          e.compatibility.push_back(FailedCompatibility(ps, platform, m, at));
          rr.entries.push_back(std::move(e));
          continue;
        }
        std::optional<double> load_ms;
        if (m.contains("model_load_time"))
          load_ms =
              ps.NonNegative(m["model_load_time"], at + ".model_load_time", "load time", 1000.0);
        const json& results = ps.Object(m, "benchmark_results", at);
        for (const auto& [key, b] : results.items()) {
          const std::string bat = at + ".benchmark_results." + key;
          const NestedConfiguration config = ParseNestedKey(ps, key, bat, un);
          const int64_t batch = config.batch_size, seq = config.seq_len;
          if (!b.is_object()) ps.Corrupt(bat, "is not an object");
          if (ps.Text(b, "status", "completed", bat) != "completed") {
            CompatibilityRecord c = FailedCompatibility(ps, platform, b, bat);
            c.batch_size = batch;
            c.seq_len = seq;
            e.compatibility.push_back(std::move(c));
            continue;
          }
          PerformanceRecord p = LegacyPerformance(platform);
          p.batch_size = batch;
          p.seq_len = seq;
          p.input_shapes_json = config.shapes.dump();
          p.load_ms = load_ms;
          p.samples_ms = ps.Samples(b.value("latencies", json()), bat + ".latencies", 1000.0);
          FillFromSamples(p);
          p.latency_mean_ms = ps.NonNegative(b.value("avg_latency", json()), bat + ".avg_latency",
                                             "latency", 1000.0);
          p.throughput_items_per_s =
              ps.NonNegative(b.value("throughput", json()), bat + ".throughput", "throughput");
          if (b.contains("iterations"))
            p.iterations = static_cast<int>(ps.WholeNumber(b["iterations"], bat + ".iterations", 0,
                                                           kMaxCount, "an iteration count"));
          e.performance.push_back(std::move(p));
        }
        rr.entries.push_back(std::move(e));
      }
    }
  }
  rr.run = LegacyRun(out.path, span);
  rr.run.hostname = hostname;
  const std::string os = StringOr(sys, "os", "");
  if (!os.empty()) rr.run.os = os + " " + StringOr(sys, "os_release", "");
  rr.run.metadata_json = json{
      {"import", {{"shape", kShapeLegacyNested}}},
      {"timestamps", kTimezoneNote},
      {"hardware_info", j.value("hardware_info", json())},
      {"legacy", legacy}}.dump();
  out.runs.push_back(std::move(rr));
  un.Add(
      "model_class and performance_summary (derived from the rows): kept in the run's "
      "metadata");
  un.Add("model_load_time is one load per model x hardware, repeated on each of its rows");
  un.Add("total_time per configuration: not kept (the sum of the latencies)");
  un.Add("system_info and hardware_details: kept whole in the hardware platform's details");
}

// --- legacy-summary: model_families -> hardware_results, lists aligned with models_tested ---
// The runner's summary (hardware_benchmark_runner.py, _generate_summary_report): per family the
// models tested, and per hardware a list of each completed model's mean latency (ms) and mean
// throughput, each a mean over the model's configurations. The writer skipped models that
// failed, so a list is aligned with models_tested only when it has a value for every model.

// `list` as one value per model, or unset values when it is not aligned (nothing to attribute).
std::vector<std::optional<double>> Aligned(const Parser& ps, const json& list, size_t models,
                                           const std::string& at, const char* what) {
  if (!list.is_array()) ps.Corrupt(at, fmt::format("is {}, not a list", core::JsonExcerpt(list)));
  std::vector<std::optional<double>> out(models);
  if (list.size() != models) return out;
  for (size_t i = 0; i < models; ++i)
    out[i] = ps.NonNegative(list[i], fmt::format("{}[{}]", at, i), what);
  return out;
}

std::vector<std::string> ModelsTested(const Parser& ps, const json& family, const std::string& at) {
  const json& tested = family.value("models_tested", json::array());
  if (!tested.is_array()) ps.Corrupt(at + ".models_tested", "is not a list");
  std::vector<std::string> models;
  for (size_t i = 0; i < tested.size(); ++i) {
    if (!tested[i].is_string())
      ps.Corrupt(fmt::format("{}.models_tested[{}]", at, i), "is not a model name");
    models.push_back(tested[i].get<std::string>());
  }
  return models;
}

void ParseSummary(const Parser& ps, const json& j, ImportResult& out, Unmapped& un) {
  TimeSpan span;
  span.Add(j.value("timestamp", json()));
  RunResults rr;
  rr.run = LegacyRun(out.path, span);
  const json details = {{"system_info", j.value("system_info", json())}};
  json unattributed = json::object();
  for (const auto& [family, f] : j["model_families"].items()) {
    const std::string at = "model_families." + family;
    if (!f.is_object()) ps.Corrupt(at, "is not an object");
    const std::vector<std::string> models = ModelsTested(ps, f, at);
    for (const auto& [hw, r] : ps.Object(f, "hardware_results", at).items()) {
      const std::string hat = at + ".hardware_results." + hw;
      if (!r.is_object()) ps.Corrupt(hat, "is not an object");
      const json& latencies = r.value("latency_ms", json::array());
      const json& throughputs = r.value("throughput", json::array());
      const auto latency = Aligned(ps, latencies, models.size(), hat + ".latency_ms", "latency");
      const auto throughput =
          Aligned(ps, throughputs, models.size(), hat + ".throughput", "throughput");
      if (latencies.size() != models.size() || throughputs.size() != models.size())
        unattributed[hat] = r;
      for (size_t i = 0; i < models.size(); ++i) {
        if (!latency[i] && !throughput[i]) continue;
        RunResults::Entry e;
        e.model = LegacyModel(models[i], kUnknown, family);
        e.hardware = LegacyHardware(hw, kUnknown, kUnknown, details);
        PerformanceRecord p = LegacyPerformance(hw);
        p.provider_options_json = json{{"summary", "mean over configurations"}}.dump();
        p.latency_mean_ms = latency[i];
        p.throughput_items_per_s = throughput[i];
        e.performance.push_back(std::move(p));
        rr.entries.push_back(std::move(e));
      }
    }
  }
  rr.run.metadata_json = json{
      {"import", {{"shape", kShapeLegacySummary}}},
      {"timestamps", kTimezoneNote},
      {"legacy",
       {{"hardware_types", j.value("hardware_types", json())},
        {"performance_comparison", j.value("performance_comparison", json())},
        {"unattributed",
         unattributed}}}}.dump();
  out.runs.push_back(std::move(rr));
  un.Add(
      "latency_ms and throughput are each model's means over its configurations (batch sizes, "
      "input sizes), which a summary does not name: stored as batch 1, seq_len 0, with the "
      "provider option summary='mean over configurations'");
  if (!unattributed.empty())
    un.Add(
        "a hardware's lists with fewer values than models_tested (the writer skipped models that "
        "failed) cannot say which model a value is of: kept in the run's metadata, not as "
        "results");
  un.Add("performance_comparison and hardware_types: kept in the run's metadata");
  un.Add("device name, hostname, OS: not in the file (stored 'unknown')");
}

}  // namespace

// --- this tool's export: RunResults field for field ------------------------------------------

namespace {

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
template <typename T>
json Opt(const T& v) {
  return json(v);
}

// An object whose "format" says it is this tool's run export.
bool IsRunExport(const json& j) {
  return j.is_object() && j.value("format", json()) == json(kShapeRunExport);
}

// One lookup per field: an export holds a million records of some 40 fields each.
template <typename T>
void Read(const json& j, const char* key, T& into, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end())
    throw Error(ErrorKind::kCorrupt, fmt::format("{}: field '{}' is missing", where, key));
  // nlohmann converts a float to an integer field with a cast, undefined past the type's range:
  // an integer field takes a JSON integer that fits, nothing else.
  if constexpr (std::is_integral_v<T>) {
    const bool fits = (it->is_number_unsigned() && std::in_range<T>(it->get<uint64_t>())) ||
                      (it->is_number_integer() && !it->is_number_unsigned() &&
                       std::in_range<T>(it->get<int64_t>()));
    if (!fits)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("{}: field '{}' is {}, not a whole number from {} to {}", where, key,
                              core::JsonExcerpt(*it), std::numeric_limits<T>::min(),
                              std::numeric_limits<T>::max()));
  }
  try {
    it->get_to(into);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("{}: field '{}': {}", where, key, core::JsonErrorText(e)));
  }
}

template <typename T>
void Read(const json& j, const char* key, std::optional<T>& into, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    into = std::nullopt;
    return;
  }
  T v{};
  Read(j, key, v, where);
  into = std::move(v);
}

// The array at `key`, or an empty one; by reference (json::value() would copy it whole).
const json& ArrayAt(const json& j, const char* key) {
  static const json empty = json::array();
  const auto it = j.find(key);
  return it == j.end() ? empty : *it;
}

}  // namespace

namespace {

template <typename Record>
json RecordToJson(const Record& record) {
  json j = json::object();
  ForEachField(record, [&](const char* name, const auto& v) { j[name] = Opt(v); });
  return j;
}

template <typename Record>
Record RecordFromJson(const json& j, const std::string& where) {
  Record r;
  ForEachField(r, [&](const char* name, auto& v) { Read(j, name, v, where); });
  return r;
}

}  // namespace

nlohmann::json PerformanceRecordToJson(const PerformanceRecord& record) {
  return RecordToJson(record);
}

PerformanceRecord PerformanceRecordFromJson(const nlohmann::json& j, const std::string& where) {
  return RecordFromJson<PerformanceRecord>(j, where);
}

nlohmann::json RunResultsToJson(const RunResults& results) {
  json out = {{"format", kShapeRunExport}, {"version", 1}, {"run", RecordToJson(results.run)}};
  out["entries"] = json::array();
  for (const auto& e : results.entries) {
    json entry = {{"model", RecordToJson(e.model)},
                  {"hardware", RecordToJson(e.hardware)},
                  {"performance", json::array()},
                  {"compatibility", json::array()}};
    for (const auto& p : e.performance) entry["performance"].push_back(RecordToJson(p));
    for (const auto& c : e.compatibility) entry["compatibility"].push_back(RecordToJson(c));
    out["entries"].push_back(std::move(entry));
  }
  return out;
}

void RunExportWriter::BeginRun() {
  out_ << "{\"entries\":[";
  in_entry_ = false;
  first_entry_ = true;
}

void RunExportWriter::BeginEntry(const ModelRecord& model, const HardwarePlatformRecord& hardware,
                                 const std::vector<CompatibilityRecord>& compatibility) {
  EndEntry();
  json compatible = json::array();
  for (const auto& c : compatibility) compatible.push_back(RecordToJson(c));
  out_ << (first_entry_ ? "" : ",") << "{\"compatibility\":" << compatible.dump()
       << ",\"hardware\":" << RecordToJson(hardware).dump()
       << ",\"model\":" << RecordToJson(model).dump() << ",\"performance\":[";
  first_entry_ = false;
  first_record_ = true;
  in_entry_ = true;
}

void RunExportWriter::Add(const PerformanceRecord& record) {
  out_ << (first_record_ ? "" : ",") << RecordToJson(record).dump();
  first_record_ = false;
}

void RunExportWriter::EndEntry() {
  if (in_entry_) out_ << "]}";
  in_entry_ = false;
}

void RunExportWriter::EndRun(const RunRecord& run) {
  EndEntry();
  out_ << "],\"format\":" << json(kShapeRunExport).dump() << ",\"run\":" << RecordToJson(run).dump()
       << ",\"version\":1}";
}

RunResults RunResultsFromJson(const nlohmann::json& in, const std::string& where) {
  if (!IsRunExport(in))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: not an '{}' export", where, kShapeRunExport));
  if (in.value("version", json()) != json(1))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: export version {} is not 1; use the tool that wrote it", where,
                            in.value("version", json()).dump()));
  RunResults out;
  out.run = RecordFromJson<RunRecord>(in.at("run"), where);
  for (const json& entry : ArrayAt(in, "entries")) {
    RunResults::Entry e;
    e.model = RecordFromJson<ModelRecord>(entry.at("model"), where);
    e.hardware = RecordFromJson<HardwarePlatformRecord>(entry.at("hardware"), where);
    const json& performance = ArrayAt(entry, "performance");
    e.performance.reserve(performance.size());
    for (const json& j : performance)
      e.performance.push_back(RecordFromJson<PerformanceRecord>(j, where));
    for (const json& j : ArrayAt(entry, "compatibility"))
      e.compatibility.push_back(RecordFromJson<CompatibilityRecord>(j, where));
    out.entries.push_back(std::move(e));
  }
  return out;
}

namespace {

// What the schema's CHECKs would refuse, found before anything is written.
void CheckExportedRun(const Parser& ps, const RunResults& r, const std::string& at) {
  if (!IsoUtc(r.run.started_at)) ps.Corrupt(at + ".run.started_at", "is not ISO-8601");
  for (size_t e = 0; e < r.entries.size(); ++e) {
    for (size_t i = 0; i < r.entries[e].performance.size(); ++i) {
      const PerformanceRecord& p = r.entries[e].performance[i];
      const std::string pat = fmt::format("{}.entries[{}].performance[{}]", at, e, i);
      if (p.batch_size < 1) ps.BatchSize(json(p.batch_size), pat + ".batch_size");
      for (const auto& v : {p.latency_mean_ms, p.latency_min_ms, p.latency_max_ms, p.latency_p50_ms,
                            p.latency_p99_ms, p.load_ms})
        if (v) ps.NonNegative(json(*v), pat + " latency or load time", "latency");
      ps.Samples(json(p.samples_ms), pat + ".samples_ms", 1.0);
    }
  }
}

}  // namespace

namespace {

// The run export read straight into records by nlohmann's SAX interface: no document of the
// whole file (a million results: GBs of nodes, most of the import's time). Only a well-formed
// export is read this way; anything else (another shape, a missing or mistyped field, a bad
// format or version) makes Read() return false, and the caller parses the document instead,
// whose errors say what is wrong.
class RunExportReader : public nlohmann::json_sax<json> {
 public:
  // The exports of `text` (one object, or an array of them), or false.
  bool Read(std::string_view text, std::vector<RunResults>& runs) {
    if (!json::sax_parse(text.begin(), text.end(), this) || failed_) return false;
    runs = std::move(runs_);
    return !runs.empty();
  }

 private:
  // A scalar or a list of numbers, as it was in the file.
  struct Slot {
    enum Kind { kAbsent, kNull, kInt, kUInt, kDouble, kString, kDoubles } kind = kAbsent;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    std::string text;
    std::vector<double> list;
  };

  // The fields of one record type, by name, in ForEachField's order.
  template <typename Record>
  static const std::unordered_map<std::string, size_t>& FieldIndex() {
    static const std::unordered_map<std::string, size_t> index = [] {
      std::unordered_map<std::string, size_t> m;
      Record probe;
      ForEachField(probe, [&](const char* name, const auto&) { m.emplace(name, m.size()); });
      return m;
    }();
    return index;
  }

  static bool Assign(const Slot& s, std::string& v) {
    if (s.kind != Slot::kString) return false;
    v = s.text;
    return true;
  }
  static bool Assign(const Slot& s, double& v) {
    if (s.kind == Slot::kDouble)
      v = s.d;
    else if (s.kind == Slot::kInt)
      v = static_cast<double>(s.i);
    else if (s.kind == Slot::kUInt)
      v = static_cast<double>(s.u);
    else
      return false;
    return true;
  }
  template <std::integral T>
  static bool Assign(const Slot& s, T& v) {
    if (s.kind == Slot::kInt && std::in_range<T>(s.i))
      v = static_cast<T>(s.i);
    else if (s.kind == Slot::kUInt && std::in_range<T>(s.u))
      v = static_cast<T>(s.u);
    else
      return false;
    return true;
  }
  static bool Assign(const Slot& s, std::vector<double>& v) {
    if (s.kind != Slot::kDoubles) return false;
    v = s.list;
    return true;
  }
  template <typename T>
  static bool Assign(const Slot& s, std::optional<T>& v) {
    if (s.kind == Slot::kNull || s.kind == Slot::kAbsent) {
      v.reset();
      return true;
    }
    T value{};
    if (!Assign(s, value)) return false;
    v = std::move(value);
    return true;
  }

  template <typename Record>
  bool Build(Record& r) {
    size_t i = 0;
    bool ok = true;
    ForEachField(r, [&](const char*, auto& v) {
      const Slot& s = slots_[i++];
      // A missing non-optional field is for the document parser to name.
      ok = ok && (s.kind != Slot::kAbsent || IsOptional(v)) && Assign(s, v);
    });
    return ok;
  }
  template <typename T>
  static bool IsOptional(const std::optional<T>&) {
    return true;
  }
  template <typename T>
  static bool IsOptional(const T&) {
    return false;
  }

  enum class Frame { kTop, kExports, kExport, kEntries, kEntry, kRecords, kRecord, kList };
  enum class RecordKind { kNone, kRun, kModel, kHardware, kPerformance, kCompatibility };

  bool Fail() {
    failed_ = true;
    return false;  // stops the parse
  }
  void StartRecord(RecordKind kind) {
    record_ = kind;
    for (Slot& s : slots_) s.kind = Slot::kAbsent;
    switch (kind) {
      case RecordKind::kRun:
        index_ = &FieldIndex<RunRecord>();
        break;
      case RecordKind::kModel:
        index_ = &FieldIndex<ModelRecord>();
        break;
      case RecordKind::kHardware:
        index_ = &FieldIndex<HardwarePlatformRecord>();
        break;
      case RecordKind::kPerformance:
        index_ = &FieldIndex<PerformanceRecord>();
        break;
      case RecordKind::kCompatibility:
        index_ = &FieldIndex<CompatibilityRecord>();
        break;
      case RecordKind::kNone:
        return;
    }
    if (slots_.size() < index_->size()) slots_.resize(index_->size());
  }
  bool EndRecord() {
    RunResults& run = runs_.back();
    bool ok = false;
    switch (record_) {
      case RecordKind::kRun:
        ok = Build(run.run);
        break;
      case RecordKind::kModel:
        ok = Build(entry_.model);
        break;
      case RecordKind::kHardware:
        ok = Build(entry_.hardware);
        break;
      case RecordKind::kPerformance:
        ok = Build(entry_.performance.emplace_back());
        break;
      case RecordKind::kCompatibility:
        ok = Build(entry_.compatibility.emplace_back());
        break;
      case RecordKind::kNone:
        break;
    }
    record_ = RecordKind::kNone;
    return ok || Fail();
  }
  // The slot of the current record's field `key_`; null for a field records do not have.
  Slot* Current() {
    const auto it = index_->find(key_);
    return it == index_->end() ? nullptr : &slots_[it->second];
  }
  bool Scalar(Slot::Kind kind, int64_t i, uint64_t u, double d, std::string* text) {
    const Frame top = stack_.back();
    if (top == Frame::kList) {
      if (kind == Slot::kDouble)
        list_.push_back(d);
      else if (kind == Slot::kInt)
        list_.push_back(static_cast<double>(i));
      else if (kind == Slot::kUInt)
        list_.push_back(static_cast<double>(u));
      else
        return Fail();
      return true;
    }
    if (top == Frame::kRecord) {
      if (Slot* s = Current()) {
        s->kind = kind;
        s->i = i;
        s->u = u;
        s->d = d;
        if (text) s->text = std::move(*text);
      }
      return true;
    }
    if (top == Frame::kExport) {
      if (key_ == "format")
        format_ok_ = text && *text == kShapeRunExport;
      else if (key_ == "version")
        version_ok_ = (kind == Slot::kInt && i == 1) || (kind == Slot::kUInt && u == 1);
      return true;
    }
    return Fail();
  }

 public:
  bool null() override { return Scalar(Slot::kNull, 0, 0, 0, nullptr); }
  bool boolean(bool) override { return Fail(); }
  bool number_integer(number_integer_t v) override { return Scalar(Slot::kInt, v, 0, 0, nullptr); }
  bool number_unsigned(number_unsigned_t v) override {
    return Scalar(Slot::kUInt, 0, v, 0, nullptr);
  }
  bool number_float(number_float_t v, const string_t&) override {
    return Scalar(Slot::kDouble, 0, 0, v, nullptr);
  }
  bool string(string_t& v) override { return Scalar(Slot::kString, 0, 0, 0, &v); }
  bool binary(binary_t&) override { return Fail(); }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool start_object(std::size_t) override {
    const Frame top = stack_.back();
    if (top == Frame::kTop || top == Frame::kExports) {
      runs_.emplace_back();
      format_ok_ = version_ok_ = false;
      stack_.push_back(Frame::kExport);
    } else if (top == Frame::kExport && key_ == "run") {
      StartRecord(RecordKind::kRun);
      stack_.push_back(Frame::kRecord);
    } else if (top == Frame::kEntries) {
      entry_ = {};
      stack_.push_back(Frame::kEntry);
    } else if (top == Frame::kEntry && (key_ == "model" || key_ == "hardware")) {
      StartRecord(key_ == "model" ? RecordKind::kModel : RecordKind::kHardware);
      stack_.push_back(Frame::kRecord);
    } else if (top == Frame::kRecords) {
      StartRecord(records_);
      stack_.push_back(Frame::kRecord);
    } else {
      return Fail();  // an object where an export has none (e.g. a JSON-typed field as an object)
    }
    return true;
  }
  bool end_object() override {
    const Frame top = stack_.back();
    stack_.pop_back();
    if (top == Frame::kRecord) return EndRecord();
    if (top == Frame::kEntry) {
      runs_.back().entries.push_back(std::move(entry_));
      return true;
    }
    if (top == Frame::kExport) return (format_ok_ && version_ok_) || Fail();
    return true;
  }
  bool start_array(std::size_t) override {
    const Frame top = stack_.back();
    if (top == Frame::kTop) {
      stack_.push_back(Frame::kExports);
    } else if (top == Frame::kExport && key_ == "entries") {
      stack_.push_back(Frame::kEntries);
    } else if (top == Frame::kEntry && (key_ == "performance" || key_ == "compatibility")) {
      records_ = key_ == "performance" ? RecordKind::kPerformance : RecordKind::kCompatibility;
      stack_.push_back(Frame::kRecords);
    } else if (top == Frame::kRecord && Current() != nullptr) {
      list_.clear();
      stack_.push_back(Frame::kList);
    } else {
      return Fail();
    }
    return true;
  }
  bool end_array() override {
    const Frame top = stack_.back();
    stack_.pop_back();
    if (top == Frame::kList) {
      Slot* s = Current();
      s->kind = Slot::kDoubles;
      s->list.swap(list_);
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return Fail();  // the document parser reports it, with its position
  }

 private:
  std::vector<Frame> stack_{Frame::kTop};
  std::vector<RunResults> runs_;
  RunResults::Entry entry_;
  RecordKind record_ = RecordKind::kNone, records_ = RecordKind::kNone;
  const std::unordered_map<std::string, size_t>* index_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<double> list_;
  std::string key_;
  bool format_ok_ = false, version_ok_ = false, failed_ = false;
};

}  // namespace

namespace {

// `imported`: mark each run as read from `path` (db import); otherwise a run export keeps the
// origin it was written with (a run pushed to a server).
ImportResult ParseText(std::string_view text, const std::string& path, bool imported = true) {
  ImportResult out;
  out.path = path;
  const Parser ps(out.path);
  // This tool's export, the large case, without a document; every other file (and any export
  // the reader refuses) through the document below.
  if (RunExportReader reader; reader.Read(text, out.runs)) {
    out.shape = kShapeRunExport;
    for (size_t i = 0; i < out.runs.size(); ++i) {
      CheckExportedRun(ps, out.runs[i], fmt::format("[{}]", i));
      if (!imported) continue;
      out.runs[i].run.origin = "imported";
      out.runs[i].run.imported_from = out.path;
    }
    return out;
  }
  out.runs.clear();
  const json j = core::ParseJson(text, out.path);
  Unmapped un;
  auto is_object_at = [&](const char* key) { return j.contains(key) && j[key].is_object(); };
  const bool export_array = j.is_array() && !j.empty() && IsRunExport(j[0]);
  if (export_array || IsRunExport(j)) {
    out.shape = kShapeRunExport;
    const size_t count = export_array ? j.size() : 1;  // no copy: an export can be large
    for (size_t i = 0; i < count; ++i) {
      RunResults r =
          RunResultsFromJson(export_array ? j[i] : j, fmt::format("{} run {}", out.path, i));
      CheckExportedRun(ps, r, fmt::format("[{}]", i));
      if (imported) {
        r.run.origin = "imported";
        r.run.imported_from = out.path;
      }
      out.runs.push_back(std::move(r));
    }
  } else if (j.is_object() && is_object_at("benchmarks") && j.contains("system_info")) {
    out.shape = kShapeLegacyNested;
    ParseNested(ps, j, out, un);
  } else if (j.is_object() && is_object_at("model_families")) {
    out.shape = kShapeLegacySummary;
    ParseSummary(ps, j, out, un);
  } else if (j.is_object() && is_object_at("results") && j.contains("models")) {
    out.shape = kShapeLegacyBatch;
    ParseBatch(ps, j, out, un);
  } else if (j.is_object() && is_object_at("batch_sizes") && j.contains("model")) {
    out.shape = kShapeLegacyFlat;
    ParseFlat(ps, j, out, un);
  } else {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: JSON of no known result shape; known: {} (batch_sizes per "
                            "model), {} (results per model), {} (system_info + benchmarks), {} "
                            "(model_families + hardware_results), {} (this tool's run export)",
                            out.path, kShapeLegacyFlat, kShapeLegacyBatch, kShapeLegacyNested,
                            kShapeLegacySummary, kShapeRunExport));
  }
  if (out.shape != kShapeRunExport) {
    const std::string file_sha256 = HexSha256(text);
    for (size_t i = 0; i < out.runs.size(); ++i) {
      out.runs[i].run.run_id = DeterministicRunId(file_sha256, i);
      json meta = json::parse(out.runs[i].run.metadata_json);
      meta["import"]["file_sha256"] = file_sha256;
      out.runs[i].run.metadata_json = meta.dump();
    }
    for (const auto& line : kCommonUnmapped) un.Add(line);
  }
  out.unmapped = std::move(un.lines);
  return out;
}

}  // namespace

ImportResult ParseResultText(std::string_view text, const std::string& path) {
  try {
    return ParseText(text, path);
  } catch (const json::exception& e) {
    // A value of a type the mapping above did not expect: the file's error, never ours.
    throw Error(ErrorKind::kCorrupt, fmt::format("{}: not the structure of a result file ({}); "
                                                 "check that it is one of the known shapes",
                                                 path, core::JsonErrorText(e)));
  }
}

std::vector<RunResults> ParseRunExportText(std::string_view text, const std::string& where) {
  ImportResult parsed;
  try {
    parsed = ParseText(text, where, /*imported=*/false);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kCorrupt, fmt::format("{}: not the structure of a run export ({})",
                                                 where, core::JsonErrorText(e)));
  }
  if (parsed.shape != kShapeRunExport)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{} is a {} result file, not this tool's run export ('{}', what `db "
                            "export --format run-json` writes); import it with `db import`",
                            where, parsed.shape, kShapeRunExport));
  return std::move(parsed.runs);
}

ImportResult ParseResultFile(const std::string& path) {
  std::unique_ptr<core::MappedFile> file;  // mapped, not read: an export can be gigabytes
  try {
    file = std::make_unique<core::MappedFile>(path);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("cannot import: {}", e.what()));
  }
  return ParseResultText(file->text(), std::filesystem::absolute(path).lexically_normal().string());
}

}  // namespace ipfs_accel::store
