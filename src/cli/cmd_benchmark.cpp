// `benchmark`: measure a model on this machine's platforms and store the results.

#include <chrono>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/benchmark_records.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/table_printer.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/generation.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

struct BenchmarkOptions {
  std::string model;
  bool key_models = false;
  std::vector<std::string> hardware{"cpu"};
  std::vector<int64_t> batch_sizes{1};
  int64_t seq_len = 128;
  std::vector<std::string> shapes;      // NAME=d0,d1,...
  std::vector<std::string> ep_options;  // [platform:]key=value
  int threads = 0;
  int warmup = 5;
  int iterations = 20;
  double min_time_s = 1.0;
  uint64_t seed = 42;
  std::vector<std::string> precisions{"fp32"};
  std::vector<std::string> graphs{"plain"};
  std::string scenario = "single-stream";
  int64_t prompt_len = 128;
  int64_t new_tokens = 128;
  int repetitions = 1;
  bool batch_sizes_given = false, seq_len_given = false, timing_given = false;
  DatabaseOption db;
  bool json = false;
};

// `--ep-option [platform:]key=value`: provider options for one platform, or for every
// platform but cpu (whose provider takes none) when no platform is named.
std::map<std::string, std::string> ProviderOptionsFor(const std::string& platform,
                                                      const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--ep-option '{}' is not [platform:]key=value", spec));
    std::string key = spec.substr(0, eq);
    const std::string value = spec.substr(eq + 1);
    const auto colon = key.find(':');
    if (colon != std::string::npos) {
      if (key.substr(0, colon) != platform) continue;
      key = key.substr(colon + 1);
    } else if (platform == "cpu") {
      continue;
    }
    out[key] = value;
  }
  return out;
}

std::map<std::string, std::vector<int64_t>> ParseShapes(const std::vector<std::string>& specs) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--shape '{}' is not NAME=d0,d1,...", spec));
    std::vector<int64_t> dims;
    std::stringstream ss(spec.substr(eq + 1));
    std::string item;
    while (std::getline(ss, item, ',')) {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || item.empty() || v <= 0)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("--shape '{}': '{}' is not a positive size", spec, item));
      dims.push_back(v);
    }
    out[spec.substr(0, eq)] = dims;
  }
  return out;
}

std::string Ms(double v) { return fmt::format("{:.3f}", v); }

// One configuration's measurement: its stored record, its table row, its headline figure.
struct Outcome {
  store::PerformanceRecord record;
  std::vector<std::optional<std::string>> row;
  double throughput = 0;
  std::string summary;
};

// Device memory in MiB; empty (null in JSON) where not measured or unknown.
std::optional<std::string> Mb(int64_t bytes) {
  if (bytes < 0) return std::nullopt;
  return fmt::format("{:.1f}", bytes / 1048576.0);
}

Table SingleStreamTable() {
  return {{"hardware", "variant", "batch", "shapes", "load_ms", "first_ms", "mean_ms", "p50_ms",
           "p90_ms", "p99_ms", "items_per_s", "peak_rss_mb", "gpu_proc_mb", "gpu_used_mb"},
          {false, false, true, false, true, true, true, true, true, true, true, true, true, true},
          {}};
}

Table GenerateTable() {
  return {{"hardware", "variant", "batch", "prompt", "new_tokens", "load_ms", "ttft_ms",
           "prefill_tok_s", "decode_p50_ms", "decode_p90_ms", "decode_tok_s", "peak_rss_mb"},
          {false, false, true, true, true, true, true, true, true, true, true, true},
          {}};
}

// One planned configuration of the sweep.
struct Planned {
  std::string platform;
  std::string graph;  // "plain" or "fused"
  std::string precision;
  harness::BenchmarkConfig config;
  std::string variant() const { return graph + "/" + precision; }
};

Outcome MeasureSingleStream(const models::Model& model, const Planned& plan, Progress& progress) {
  const harness::BenchmarkConfig& c = plan.config;
  const std::string& platform = plan.platform;
  const harness::BenchmarkResult b =
      harness::RunBenchmark(model, c, [&](int runs, double s) { progress.Update(runs, s); });
  std::string shapes;
  for (const auto& [name, shape] : b.input_shapes)
    shapes += (shapes.empty() ? "" : " ") + name + core::ShapeToString(shape);
  store::PerformanceRecord record = ToRecord(b, c);
  record.precision = plan.precision;
  record.graph_variant = plan.graph;
  return {std::move(record),
          {platform, plan.variant(), std::to_string(b.batch_size), shapes, Ms(b.load_ms),
           Ms(b.first_inference_ms), Ms(b.latency.mean), Ms(b.latency.p50), Ms(b.latency.p90),
           Ms(b.latency.p99), fmt::format("{:.2f}", b.throughput_items_per_s),
           fmt::format("{:.1f}", b.peak_rss_bytes / 1048576.0), Mb(b.device_memory_process_bytes),
           Mb(b.device_memory_gpu_used_bytes)},
          b.throughput_items_per_s,
          fmt::format("p50 {:.3f} ms, {:.1f} items/s", b.latency.p50, b.throughput_items_per_s)};
}

Outcome MeasureGenerate(const models::Model& model, const Planned& plan, const BenchmarkOptions& o,
                        Progress& progress) {
  const harness::BenchmarkConfig& c = plan.config;
  const std::string& platform = plan.platform;
  harness::GenerationConfig g{.session = c.session,
                              .batch_size = c.shape.batch_size,
                              .prompt_len = o.prompt_len,
                              .new_tokens = o.new_tokens,
                              .warmup = o.warmup > 0 ? 1 : 0,
                              .repetitions = o.repetitions,
                              .seed = o.seed};
  const harness::GenerationResult r =
      harness::RunGeneration(model, g, [&](int steps, double) { progress.Update(steps, 0.0); });
  store::PerformanceRecord record = ToRecord(r, g);
  record.precision = plan.precision;
  record.graph_variant = plan.graph;
  return {std::move(record),
          {platform, plan.variant(), std::to_string(g.batch_size), std::to_string(g.prompt_len),
           std::to_string(g.new_tokens), Ms(r.load_ms), Ms(r.prefill.p50),
           fmt::format("{:.1f}", r.prefill_tokens_per_s), Ms(r.decode.p50), Ms(r.decode.p90),
           fmt::format("{:.2f}", r.decode_tokens_per_s),
           fmt::format("{:.1f}", r.peak_rss_bytes / 1048576.0)},
          r.decode_tokens_per_s,
          fmt::format("TTFT {:.1f} ms, decode p50 {:.2f} ms, {:.1f} tokens/s", r.prefill.p50,
                      r.decode.p50, r.decode_tokens_per_s)};
}

int RunBenchmarkCommand(const BenchmarkOptions& o) {
  if (o.warmup < 0 || o.iterations < 1 || o.min_time_s < 0 || o.repetitions < 1)
    throw Error(ErrorKind::kInvalidArgument,
                "--warmup must be >= 0, --iterations >= 1, --repetitions >= 1 and --min-time >= 0");
  const bool generate = o.scenario == "generate";
  if (!generate && o.scenario != "single-stream")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("unknown scenario '{}'; use single-stream or generate", o.scenario));
  const auto shape_overrides = ParseShapes(o.shapes);

  // Everything that can be checked is checked before anything runs or is written.
  const hw::HardwareReport hardware = hw::Detect();
  std::vector<std::string> platforms = o.hardware;
  if (platforms == std::vector<std::string>{"all"}) {
    platforms.clear();
    for (const auto& p : runtime::PlatformAvailability(hardware))
      if (p.available) platforms.push_back(p.platform);
  }
  for (const auto& platform : platforms) {
    const runtime::PlatformStatus status = runtime::CheckPlatform(platform, hardware);
    if (!status.available)
      throw Error(ErrorKind::kUnavailable,
                  fmt::format("platform '{}' is unavailable here: {}; `ipfs-accelerate detect` "
                              "lists what this machine can run",
                              platform, status.reason));
  }
  store::RunResults results;
  results.run.run_id = store::NewRunId();
  results.run.started_at = store::UtcNow();
  const models::Model model = models::LoadModel(o.model, {.seed = o.seed});

  // The plan: platform x graph x precision x batch. "auto" is the fused graph where the
  // platform's runtime has ONNX Runtime's contrib ops and the plain graph elsewhere; an
  // explicit "fused" where it has none is recorded as unavailable, not run.
  std::vector<Planned> plan;
  std::vector<store::CompatibilityRecord> unavailable_fused;
  std::vector<std::string> unavailable_platforms;
  for (const auto& platform : platforms) {
    for (const std::string& asked : o.graphs) {
      if (asked != "plain" && asked != "fused" && asked != "auto")
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("unknown graph variant '{}'; use plain, fused or auto", asked));
      const bool contrib = runtime::RunsContribOps(platform);
      const std::string graph = asked == "auto" ? (contrib ? "fused" : "plain") : asked;
      if (graph == "fused" && !contrib) {
        unavailable_platforms.push_back(platform);
        unavailable_fused.push_back(
            {.execution_provider = "",
             .status = "unavailable",
             .error_class = core::ErrorKindName(ErrorKind::kUnavailable),
             .error_message = fmt::format("the {} runtime has no com.microsoft contrib ops; the "
                                          "plain graph runs there",
                                          platform),
             .max_abs_error = std::nullopt,
             .precision = "fp32",
             .graph_variant = "fused"});
        continue;
      }
      for (const auto& precision : o.precisions) {
        for (int64_t batch : o.batch_sizes) {
          harness::BenchmarkConfig c;
          c.session.platform = platform;
          c.session.intra_op_threads = o.threads;
          c.session.provider_options = ProviderOptionsFor(platform, o.ep_options);
          c.shape = {.batch_size = batch,
                     .seq_len = o.seq_len,
                     .batch_explicit = o.batch_sizes_given,
                     .seq_len_explicit = o.seq_len_given,
                     .overrides = shape_overrides};
          c.warmup = o.warmup;
          c.iterations = o.iterations;
          c.min_time_s = o.min_time_s;
          c.seed = o.seed;
          plan.push_back({platform, graph, precision, c});
        }
      }
    }
  }

  // Graph and precision variants are made up front: one that fails stops before anything runs.
  // The plain fp32 variant is `model` itself, not a copy (a graph can be gigabytes).
  std::map<std::string, models::Model> built;            // the other variants
  std::map<std::string, const models::Model*> variants;  // by Planned::variant()
  for (const Planned& p : plan) {
    if (variants.count(p.variant())) continue;
    const models::Precision precision = models::ParsePrecision(p.precision);
    if (p.graph == "plain" && precision == models::Precision::kFp32) {
      variants[p.variant()] = &model;
      continue;
    }
    models::Model& variant = built[p.variant()];
    variant = models::LoadModel(
        o.model, {.seed = o.seed, .fused = p.graph == "fused", .precision = precision});
    variants[p.variant()] = &variant;
  }
  if (generate) {
    for (int64_t batch : o.batch_sizes)
      harness::CheckGeneration(model, {.batch_size = batch,
                                       .prompt_len = o.prompt_len,
                                       .new_tokens = o.new_tokens,
                                       .repetitions = o.repetitions});
  } else {
    std::vector<harness::BenchmarkConfig> configs;
    for (const auto& p : plan) configs.push_back(p.config);
    harness::CheckShapes(model, configs);
  }
  const std::string db_path = store::ResolveDatabasePath(o.db.path);
  auto store = store::ResultStore::Open(db_path);

  Progress progress;
  Table table = generate ? GenerateTable() : SingleStreamTable();
  std::map<std::string, store::RunResults::Entry> entries;  // by platform
  // The first successful configuration of each platform x precision, for its compatibility row.
  std::map<std::pair<std::string, std::string>, const Planned*> worked;  // platform, variant
  std::map<std::pair<std::string, std::string>, std::string> providers;
  int failures = 0;
  double best_throughput = 0;
  std::string best_label;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    auto& entry = entries[p.platform];
    if (entry.hardware.platform.empty()) {
      entry.hardware = HardwareRecord(p.platform, hardware);
      entry.model = {model.info.name,        model.info.architecture, model.info.modality,
                     model.info.source,      model.info.source_path,  model.info.parameters,
                     model.info.content_hash};
    }
    progress.Begin(static_cast<int>(i + 1), static_cast<int>(plan.size()),
                   fmt::format("{} on {} {} {} batch {}", model.info.name, p.platform, p.graph,
                               p.precision, p.config.shape.batch_size));
    const models::Model& variant = *variants.at(p.variant());
    try {
      Outcome out = generate ? MeasureGenerate(variant, p, o, progress)
                             : MeasureSingleStream(variant, p, progress);
      progress.End(out.summary);
      providers[{p.platform, p.variant()}] = out.record.execution_provider;
      entry.performance.push_back(std::move(out.record));
      table.rows.push_back(std::move(out.row));
      worked.emplace(std::make_pair(p.platform, p.variant()), &p);
      if (out.throughput > best_throughput) {
        best_throughput = out.throughput;
        best_label =
            fmt::format("{} {} batch {}", p.platform, p.precision, p.config.shape.batch_size);
      }
    } catch (const Error& e) {
      // A shape the user asked for that cannot fit is their error: stop, store nothing.
      if (e.kind() == ErrorKind::kInvalidArgument) {
        progress.End("invalid");
        throw;
      }
      progress.End(fmt::format("failed: {}", e.what()));
      ++failures;
      entry.compatibility.push_back({.execution_provider = "",
                                     .status = "failed",
                                     .error_class = core::ErrorKindName(e.kind()),
                                     .error_message = e.what(),
                                     .max_abs_error = std::nullopt,
                                     .precision = p.precision,
                                     .graph_variant = p.graph});
    }
  }
  // A variant that ran is compared with the plain fp32 graph on the same inputs: its accuracy
  // is stored with it.
  for (const auto& [key, p] : worked) {
    store::CompatibilityRecord ok{.execution_provider = providers[key],
                                  .status = "ok",
                                  .error_class = "",
                                  .error_message = "",
                                  .max_abs_error = std::nullopt,
                                  .precision = p->precision,
                                  .graph_variant = p->graph};
    // Every variant, and every platform's fp32, against the plain fp32 graph on the CPU.
    if (p->variant() != "plain/fp32" || p->platform != "cpu") {
      harness::ShapeRequest shape = p->config.shape;
      if (generate) shape.seq_len = o.prompt_len;
      runtime::SessionOptions cpu;
      cpu.intra_op_threads = o.threads;
      const harness::AccuracyResult a = harness::CompareModels(
          model, cpu, *variants.at(p->variant()), p->config.session, shape, o.seed);
      ok.max_abs_error = a.max_abs_error;
      ok.top1_agreement = a.top1_agreement;
    }
    entries[p->platform].compatibility.push_back(ok);
  }
  for (size_t i = 0; i < unavailable_fused.size(); ++i) {
    auto& entry = entries[unavailable_platforms[i]];
    if (entry.hardware.platform.empty()) {
      entry.hardware = HardwareRecord(unavailable_platforms[i], hardware);
      entry.model = {model.info.name,        model.info.architecture, model.info.modality,
                     model.info.source,      model.info.source_path,  model.info.parameters,
                     model.info.content_hash};
    }
    entry.compatibility.push_back(unavailable_fused[i]);
  }
  for (auto& [platform, entry] : entries) results.entries.push_back(std::move(entry));
  results.run.finished_at = store::UtcNow();
  results.run.tool_version = build_info::kToolVersion;
  results.run.git_commit = build_info::kGitCommit;
  results.run.command_line = CommandLine();
  results.run.hostname = hardware.host.hostname;
  results.run.os = hardware.host.os;
  results.run.seed = o.seed;
  results.run.metadata_json = nlohmann::json{
      {"onnxruntime_version", runtime::OnnxRuntimeVersion()},
      {"build_type", build_info::kBuildType},
      {"hardware", hardware}}.dump();
  store->WriteRun(results);

  if (o.json) {
    nlohmann::json j = {{"run_id", results.run.run_id},
                        {"database", db_path},
                        {"model",
                         {{"name", model.info.name},
                          {"architecture", model.info.architecture},
                          {"parameters", model.info.parameters},
                          {"content_hash", model.info.content_hash}}},
                        {"failures", failures},
                        {"results", TableToJson(table)}};
    std::cout << j.dump(2) << "\n";
  } else {
    PrintTable(std::cout, table, TableFormat::kText);
    std::cout << fmt::format(
        "{} ({} parameters) on {}: {} of {} configurations measured{}; run {} stored in {}\n",
        model.info.name, model.info.parameters, hardware.cpu.model_name, plan.size() - failures,
        plan.size(),
        best_label.empty() ? ""
                           : fmt::format(", best {:.2f} {}/s at {}", best_throughput,
                                         generate ? "tokens" : "items", best_label),
        results.run.run_id, db_path);
  }
  return failures == 0 ? kExitOk : kExitCheckFailed;
}

// `--key-models`: each key class's model in turn, each its own run, so one model that cannot
// be built or run is reported and the others still are. Per-model input sizes from the
// catalog come first; the user's --shape values override them.
int RunKeyModels(const BenchmarkOptions& o) {
  using Clock = std::chrono::steady_clock;
  Table summary{
      {"class", "model", "status", "seconds", "detail"}, {false, false, false, true, false}, {}};
  int failed = 0;
  for (const models::KeyModel& key : models::KeyModels()) {
    BenchmarkOptions one = o;
    one.key_models = false;
    if (!o.timing_given) {  // 14 models, up to 2B parameters: keep the set within minutes
      one.warmup = 2;
      one.iterations = 10;
      one.min_time_s = 0;
    }
    one.model = key.model;
    one.shapes.clear();
    for (const auto& [name, dims] : key.shapes)
      one.shapes.push_back(fmt::format("{}={}", name, fmt::join(dims, ",")));
    one.shapes.insert(one.shapes.end(), o.shapes.begin(), o.shapes.end());
    std::cerr << fmt::format("== {} ({})\n", key.key_class, key.model);
    const auto t0 = Clock::now();
    std::string status = "ok", detail;
    try {
      if (RunBenchmarkCommand(one) != kExitOk) {
        status = "failed";
        detail = "some configurations failed (stored as failed compatibility results)";
      }
    } catch (const core::Error& e) {
      status = "failed";
      detail = fmt::format("{}: {}", core::ErrorKindName(e.kind()), e.what());
      if (detail.size() > 100) detail = detail.substr(0, 97) + "...";  // whole line printed above
      std::cerr << fmt::format("ipfs-accelerate: {}: error: {}\n", key.model, e.what());
    }
    if (status != "ok") ++failed;
    summary.rows.push_back(
        {key.key_class, key.model, status,
         fmt::format("{:.1f}", std::chrono::duration<double>(Clock::now() - t0).count()), detail});
  }
  std::cerr << "\n";
  PrintTable(std::cerr, summary, TableFormat::kText);
  std::cerr << fmt::format("{} of {} key models measured\n", summary.rows.size() - failed,
                           summary.rows.size());
  return failed == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddBenchmarkCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "benchmark",
      "Measure a model on this machine: load time, first inference, latency mean/stdev/p50/p90/\n"
      "p95/p99, throughput and peak RSS for each platform x batch size, stored in the results\n"
      "database with the run's metadata. MODEL is a catalog name (`ipfs-accelerate models`), a\n"
      "Hugging Face folder (config.json + model.safetensors), or an .onnx file.");
  auto o = std::make_shared<BenchmarkOptions>();
  auto* model =
      cmd->add_option("--model,-m", o->model, "catalog name, Hugging Face folder, or .onnx file");
  auto* keys = cmd->add_flag("--key-models", o->key_models,
                             "benchmark each of the key model classes at its small real size "
                             "(data/catalog/key_models.json), one run each; unless --warmup, "
                             "--iterations or --min-time is given, each takes 2 warm-up and 10 "
                             "timed runs");
  model->excludes(keys);
  cmd->add_option("--hardware", o->hardware,
                  "platforms, comma-separated (see `detect`), or 'all' available here")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--batch-sizes,-b", o->batch_sizes, "batch sizes, comma-separated")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seq-len,-s", o->seq_len, "sequence length for text models")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--shape", o->shapes,
                  "NAME=d0,d1,... for an input's whole shape, or DIM=n for a symbolic dimension "
                  "(repeatable)");
  cmd->add_option("--ep-option", o->ep_options,
                  "execution provider option, [platform:]key=value (e.g. cuda:device_id=1); "
                  "repeat it for several; without a platform it applies to every platform but "
                  "cpu");
  cmd->add_option("--threads,-t", o->threads, "intra-op threads (0: runtime default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed runs after the first inference")
      ->capture_default_str();
  cmd->add_option("--iterations,-n", o->iterations, "at least this many timed runs")
      ->capture_default_str();
  cmd->add_option("--min-time", o->min_time_s, "and at least this many seconds of timed runs")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of generated inputs and random weights")
      ->capture_default_str();
  cmd->add_option(
         "--precision", o->precisions,
         "precisions, comma-separated: fp32, fp16 (fp32 islands where accuracy needs it), int8 "
         "(dynamic quantization of MatMul "
         "weights), int4 (block-wise 4-bit weights); each variant's error against fp32 "
         "is stored with its results")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--graph", o->graphs,
                  "graph variants, comma-separated: plain (standard ONNX, runs anywhere), fused "
                  "(ONNX Runtime contrib operators where the architecture has them), auto "
                  "(fused where the platform's runtime has contrib ops, else plain)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--scenario", o->scenario,
                  "single-stream (one query at a time), or generate (decoders with a KV cache: "
                  "prefill a prompt, then greedy decoding token by token)")
      ->capture_default_str();
  cmd->add_option("--prompt-len", o->prompt_len, "generate: prompt tokens")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--new-tokens", o->new_tokens,
                  "generate: tokens to generate, the first (from the prefill) included")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--repetitions", o->repetitions,
                  "generate: measured generations (after one warm-up generation unless "
                  "--warmup 0)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  o->db.Add(cmd);
  cmd->add_flag("--json", o->json, "print the results as JSON instead of a table");
  cmd->callback([selected, o, cmd] {
    o->batch_sizes_given = cmd->count("--batch-sizes") > 0;
    o->seq_len_given = cmd->count("--seq-len") > 0;
    o->timing_given =
        cmd->count("--warmup") + cmd->count("--iterations") + cmd->count("--min-time") > 0;
    if (o->model.empty() && !o->key_models)
      throw CLI::ValidationError("--model", "give --model or --key-models");
    *selected = [o] { return o->key_models ? RunKeyModels(*o) : RunBenchmarkCommand(*o); };
  });
}

}  // namespace ipfs_accel::cli
