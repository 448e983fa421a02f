// `benchmark`: measure a model on this machine's platforms and store the results.
// The sweep is planned (sweep.h), checked, run configuration by configuration (in this
// process or, with --isolate, one worker process each), then written as one run.

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/benchmark_records.h"
#include "cli/benchmark_table.h"
#include "cli/commands.h"
#include "cli/configuration_run.h"
#include "cli/content_ids.h"
#include "cli/exit_codes.h"
#include "cli/interrupt.h"
#include "cli/memory_bandwidth_probe.h"
#include "cli/option_checks.h"
#include "cli/progress.h"
#include "cli/run_push.h"
#include "cli/spec_file.h"
#include "cli/stored_run.h"
#include "cli/sweep.h"
#include "cli/table_printer.h"
#include "cli/template_selection.h"
#include "cli/terminal.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/generation.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/harness/training.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/serving/tokenizer.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

// Upper bounds of the size options: far past any real input, and low enough that no product
// of them with a model's sizes overflows 64 bits.
constexpr int64_t kMaxBatch = int64_t{1} << 20;
constexpr int64_t kMaxSequence = int64_t{1} << 24;

struct BenchmarkOptions {
  SweepRequest sweep;
  std::string spec;  // a spec file (spec_file.h) giving the options below
  bool key_models = false;
  bool all_models = false;
  std::string family;  // --all-models: only this family's or builder's templates
  std::vector<std::string> hardware{"cpu"};
  std::vector<std::string> shapes;        // NAME=d0,d1,...
  std::vector<std::string> input_values;  // --input NAME=v1,v2,...
  std::string inputs_file;                // --inputs FILE.safetensors
  std::string prompt;                     // generate: a text, encoded by the tokenizer below
  std::string tokenizer;                  // its tokenizer.json (default: the model folder's)
  bool isolate = false;
  double config_timeout_s = 0;
  bool timing_given = false, iterations_given = false;
  DatabaseOption db;
  std::string format = "table";
  std::string push_url, token_file;  // --push: where the finished run is sent
  std::string mode = "inference";    // or "training" (scenario training)
  int rounds = 1;  // single-stream: passes over each model's configurations, samples pooled
};

// --push: the finished run sent to a server's POST /api/runs; a note on stderr (stdout may be
// JSON). Throws what PushStoredRun throws (the run stays stored here).
void PushIfAsked(const BenchmarkOptions& o, const std::string& run_id) {
  if (o.push_url.empty()) return;
  const PushTarget target = ParsePushTarget(o.push_url, o.token_file);
  const PushOutcome pushed = PushStoredRun(o.db, run_id, target);
  std::cerr << fmt::format("ipfs-accelerate: run {} pushed to {}: {}\n", run_id, o.push_url,
                           pushed.stored > 0 ? "stored" : "the server had it already");
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
    int64_t bytes = 8;  // the widest element a generated input has
    for (const int64_t d : dims)
      if (__builtin_mul_overflow(bytes, d, &bytes))
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("--shape '{}' has more elements than 64-bit sizes can count; "
                                "give sizes a machine can hold",
                                spec));
    out[spec.substr(0, eq)] = dims;
  }
  return out;
}

// --inputs FILE's tensors, then each --input (which wins for a name in both).
std::vector<harness::GivenInput> GivenInputs(const BenchmarkOptions& o) {
  std::vector<harness::GivenInput> out;
  if (!o.inputs_file.empty()) out = harness::LoadGivenInputs(o.inputs_file);
  for (const auto& spec : o.input_values) {
    harness::GivenInput g = harness::ParseGivenInput(spec, "--input");
    std::erase_if(out, [&](const auto& other) { return other.name == g.name; });
    out.push_back(std::move(g));
  }
  if (!out.empty() && o.sweep.scenario == "generate")
    throw Error(ErrorKind::kInvalidArgument,
                "--input and --inputs give single-stream, offline and server inputs; generate "
                "makes its own prompt, so leave them out");
  return out;
}

// `content_cid`: ModelContentCid(model.info), computed once per run.
store::ModelRecord ModelRecordOf(const models::Model& model,
                                 const std::optional<std::string>& content_cid) {
  store::ModelRecord r{model.info.name,        model.info.architecture, model.info.modality,
                       model.info.source,      model.info.source_path,  model.info.parameters,
                       model.info.content_hash};
  if (!model.info.family.empty()) r.family = model.info.family;
  if (!model.info.config_hash.empty()) r.config_hash = model.info.config_hash;
  r.content_cid = content_cid;
  return r;
}

// Which inputs the user gave values for, and where from ("--input" or the file): stored with
// each configuration's result, since the figures were measured on those values.
std::map<std::string, std::string> GivenInputSources(const std::vector<harness::GivenInput>& g) {
  std::map<std::string, std::string> out;
  for (const auto& input : g) out[input.name] = input.source;
  return out;
}

std::string ConfigurationJson(const Configuration& c) {
  return nlohmann::json{{"threads", c.bench.session.intra_op_threads},
                        {"graph_optimization_level", c.bench.session.graph_optimization_level},
                        {"provider_options", c.bench.session.provider_options},
                        {"shape_overrides", c.bench.shape.overrides},
                        {"given_inputs", GivenInputSources(c.bench.given_inputs)},
                        {"target_qps", c.target_qps},
                        {"latency_bound_ms", c.latency_bound_ms}}
      .dump();
}

// A compatibility record that belongs to one configuration.
store::CompatibilityRecord ConfigurationResult(const Configuration& c, std::string status,
                                               std::string error_class, std::string error_message) {
  store::CompatibilityRecord r{.execution_provider = "",
                               .status = std::move(status),
                               .error_class = std::move(error_class),
                               .error_message = std::move(error_message),
                               .max_abs_error = std::nullopt,
                               .precision = c.precision,
                               .graph_variant = c.graph};
  r.scenario = c.scenario;
  r.batch_size = c.bench.shape.batch_size;
  r.seq_len = c.scenario == "generate" ? c.prompt_len : c.bench.shape.seq_len;
  r.configuration_json = ConfigurationJson(c);
  return r;
}

// Platforms to sweep, and those asked for (or, for "all", known) that are not here.
struct PlatformSelection {
  std::vector<std::string> run;
  std::vector<runtime::PlatformStatus> unavailable;
  // "all" only: platforms here that are not run unless named (a software WebGPU adapter).
  std::vector<runtime::PlatformStatus> skipped;
  bool named_unavailable = false;  // the user named a platform that is not here
};

PlatformSelection SelectPlatforms(const std::vector<std::string>& asked,
                                  const hw::HardwareReport& hardware) {
  PlatformSelection s;
  const bool all = asked == std::vector<std::string>{"all"};
  std::vector<runtime::PlatformStatus> statuses;
  if (all) {
    statuses = runtime::PlatformAvailability(hardware);
  } else {
    for (const auto& p : asked) statuses.push_back(runtime::CheckPlatform(p, hardware));
  }
  std::set<std::string> seen;
  for (const auto& st : statuses) {
    if (!seen.insert(st.platform).second) continue;
    // A WebGPU adapter that renders in software: a correctness path 50-600x slower than wasm
    // (one bert-base run took 85 s here), so "all" does not spend hours on it.
    if (all && st.available && st.software_renderer) {
      runtime::PlatformStatus skip = st;
      skip.reason = fmt::format(
          "not run by --hardware all: {}; name --hardware webgpu to run it anyway", st.reason);
      s.skipped.push_back(skip);
    } else if (st.available) {
      s.run.push_back(st.platform);
    } else {
      s.unavailable.push_back(st);
      s.named_unavailable = s.named_unavailable || !all;
    }
  }
  if (s.run.empty() && !s.unavailable.empty()) {
    const auto& st = s.unavailable.front();
    throw Error(ErrorKind::kUnavailable,
                fmt::format("platform '{}' is unavailable here: {}; `ipfs-accelerate detect` "
                            "lists what this machine can run",
                            st.platform, st.reason));
  }
  return s;
}

// Why a configuration cannot fit, when its estimate (a lower bound: weights + inputs + the
// peak of live intermediates) exceeds the memory free where it would run: the GPU's for CUDA
// and TensorRT, MemAvailable otherwise. Nothing when it fits or either side is unknown.
std::optional<std::string> DoesNotFit(const std::optional<analysis::MemoryEstimate>& e,
                                      const runtime::SessionOptions& session) {
  if (!e) return std::nullopt;
  int64_t free_bytes = 0;
  std::string where = "host memory available (MemAvailable)";
  if (const harness::DeviceMemory m = harness::SampleDeviceMemory(session); !m.device.empty()) {
    if (m.gpu_total_bytes < 0 || m.gpu_used_bytes < 0) return std::nullopt;
    free_bytes = m.gpu_total_bytes - m.gpu_used_bytes;
    where = "free on " + m.device;
  } else {
    free_bytes = hw::AvailableHostMemoryBytes();
  }
  if (free_bytes <= 0 || e->total_bytes <= free_bytes) return std::nullopt;
  return fmt::format(
      "estimated {} (weights {}, inputs {}, activations {}) is more than the {} {}; use smaller "
      "batch or sequence sizes, or a lower precision",
      analysis::DescribeBytes(e->total_bytes), analysis::DescribeBytes(e->weights_bytes),
      analysis::DescribeBytes(e->inputs_bytes), analysis::DescribeBytes(e->activation_peak_bytes),
      analysis::DescribeBytes(free_bytes), where);
}

// A platform that is not here, as its compatibility row (with the reason).
store::CompatibilityRecord UnavailableRecord(const runtime::PlatformStatus& st) {
  return {.execution_provider = st.execution_provider,
          .status = "unavailable",
          .error_class = core::ErrorKindName(ErrorKind::kUnavailable),
          .error_message = st.reason,
          .max_abs_error = std::nullopt};
}

// What every run stores about itself: started now, finished when its writer says so.
store::RunRecord NewRunRecord(const hw::HardwareReport& hardware, uint64_t seed, bool isolated) {
  store::RunRecord run;
  run.run_id = store::NewRunId();
  run.started_at = store::UtcNow();
  run.tool_version = build_info::kToolVersion;
  run.git_commit = build_info::kGitCommit;
  if (*build_info::kGitBranch) run.branch = build_info::kGitBranch;
  run.command_line = CommandLine();
  run.hostname = hardware.host.hostname;
  run.os = hardware.host.os;
  run.seed = seed;
  run.metadata_json = nlohmann::json{
      {"onnxruntime_version", runtime::OnnxRuntimeVersion()},
      {"build_type", build_info::kBuildType},
      {"isolated", isolated},
      {"hardware",
       hardware}}.dump();
  return run;
}

// `--scenario load`: a composite model's parts (CLIP's text and vision towers) loaded in the
// browser one after the other and all at once; one stored result per platform and way, whose
// latencies are the page's load times of all parts together.
int RunLoadScenario(const BenchmarkOptions& o, const SweepRequest& req) {
  const std::vector<std::string> parts = models::ComponentsOf(req.model);
  if (parts.size() < 2)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--scenario load times loading a composite model's parts together "
                            "(e.g. clip-vit-base-patch32: text_model, vision_model); '{}' has "
                            "{} parts",
                            req.model, parts.size()));
  for (const auto& p : o.hardware)
    if (!runtime::IsBrowserPlatform(p))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--scenario load is measured in the browser; '{}' is not a browser "
                              "platform (use --hardware wasm,webgpu)",
                              p));
  const int repetitions = o.timing_given ? req.iterations : 5;
  const hw::HardwareReport hardware = hw::Detect();
  const PlatformSelection platforms = SelectPlatforms(o.hardware, hardware);
  const models::Model model = LoadModelHere(req.model, {.seed = req.seed});
  const std::optional<std::string> model_cid = ModelContentCid(model.info);
  std::vector<models::Model> built;
  for (const auto& part : parts)
    built.push_back(LoadModelHere(req.model + ":" + part, {.seed = req.seed}));
  std::vector<const models::Model*> part_models;
  for (const auto& m : built) part_models.push_back(&m);
  const std::string db_path = o.db.Path();

  store::RunResults results;
  results.run = NewRunRecord(hardware, req.seed, false);
  Table table{{"hardware", "loading", "threads", "parts", "p50_ms", "mean_ms", "min_ms", "runs"},
              {false, false, true, false, true, true, true, true},
              {}};
  for (const auto& st : platforms.unavailable) {
    store::RunResults::Entry e;
    e.hardware = HardwareRecord(st.platform, hardware);
    e.model = ModelRecordOf(model, model_cid);
    e.compatibility.push_back(UnavailableRecord(st));
    results.entries.push_back(std::move(e));
  }
  for (const auto& platform : platforms.run) {
    for (const auto& provider_options : ProviderOptionSets(platform, req.ep_options))
      for (const int threads : req.threads) {
        runtime::SessionOptions options;
        options.platform = platform;
        options.intra_op_threads = threads;
        options.provider_options = provider_options;
        std::cerr << fmt::format("{}: loading {} ({}) {} times each way\n", platform, req.model,
                                 fmt::join(parts, " + "), repetitions);
        const runtime::LoadTiming t =
            runtime::TimeBrowserLoading(part_models, options, repetitions);
        store::RunResults::Entry e;
        e.hardware = HardwareRecord(platform, hardware);
        e.model = ModelRecordOf(model, model_cid);
        for (const bool concurrent : {false, true}) {
          store::PerformanceRecord r = ToRecord(t, concurrent, parts, options);
          SetTemplate(r, model.info);
          table.rows.push_back({platform, concurrent ? "concurrent" : "sequential",
                                std::to_string(threads), fmt::format("{}", fmt::join(parts, "+")),
                                fmt::format("{:.1f}", r.latency_p50_ms.value_or(0)),
                                fmt::format("{:.1f}", r.latency_mean_ms.value_or(0)),
                                fmt::format("{:.1f}", r.latency_min_ms.value_or(0)),
                                std::to_string(r.iterations)});
          e.performance.push_back(r);
        }
        e.compatibility.push_back({.execution_provider = t.execution_provider,
                                   .status = "ok",
                                   .error_class = "",
                                   .error_message = "",
                                   .max_abs_error = std::nullopt});
        results.entries.push_back(std::move(e));
      }
  }
  results.run.finished_at = store::UtcNow();
  o.db.Open()->WriteRun(results);
  if (o.format == "json") {
    std::cout << nlohmann::json{{"run_id", results.run.run_id},
                                {"database", db_path},
                                {"scenario", "load"},
                                {"results", TableToJson(table)}}
                     .dump(2)
              << "\n";
  } else {
    PrintTable(std::cout, table, ParseTableFormat(o.format));
    std::cout << fmt::format(
        "{}: parts {} loaded one after the other and all at once; run {} "
        "stored in {}\n",
        model.info.name, fmt::join(parts, ", "), results.run.run_id, db_path);
  }
  PushIfAsked(o, results.run.run_id);
  return platforms.named_unavailable ? kExitUnavailable : kExitOk;
}

// Everything a sweep needs, checked before anything runs or is written: the platforms, the
// plan, the model and its variants, every configuration's shapes and memory estimate.
// Filled in place: `variants` points into `model` and `built`.
struct PreparedSweep {
  SweepRequest req;
  hw::HardwareReport hardware;
  PlatformSelection platforms;
  SweepPlan plan;
  models::Model model;
  std::map<std::string, models::Model> built;                      // variants other than plain fp32
  std::map<std::string, const models::Model*> variants;            // by Configuration::variant()
  std::vector<std::optional<analysis::MemoryEstimate>> estimates;  // per configuration
  std::optional<std::string> model_cid;                            // ModelContentCid, once per run
  std::map<std::string, std::string> graph_cids;                   // GraphCid of each variant
};

// Graph and precision variants are made up front: one that fails stops before anything runs.
// The plain fp32 variant is the model itself, not a copy (a graph can be gigabytes).
void BuildVariants(PreparedSweep& s) {
  for (const Configuration& c : s.plan.configurations) {
    if (s.variants.count(c.variant())) continue;
    const models::Precision precision = models::ParsePrecision(c.precision);
    if (c.graph == "plain" && precision == models::Precision::kFp32) {
      s.variants[c.variant()] = &s.model;
      continue;
    }
    models::Model& variant = s.built[c.variant()];
    variant = LoadModelHere(s.req.model,
                            {.seed = s.req.seed,
                             .fused = c.graph == "fused",
                             .precision = precision,
                             .structure_inputs = harness::StructureInputsOf(s.req.given_inputs)});
    s.variants[c.variant()] = &variant;
  }
  for (const auto& [name, variant] : s.variants) s.graph_cids[name] = GraphCid(*variant);
}

// Every configuration's shapes, checked before anything runs, and its memory estimate (a
// generation's at its prefill and at its last decode step, the KV cache at its longest).
void EstimateMemory(PreparedSweep& s) {
  const bool generate = s.req.scenario == "generate";
  std::vector<harness::ShapeRequest> requests;
  for (const auto& c : s.plan.configurations) {
    if (generate) {
      harness::CheckGeneration(s.model, {.batch_size = c.bench.shape.batch_size,
                                         .prompt_len = c.prompt_len,
                                         .new_tokens = c.new_tokens,
                                         .repetitions = c.repetitions});
      requests.push_back({.batch_size = c.bench.shape.batch_size, .seq_len = c.prompt_len});
      requests.push_back({.batch_size = c.bench.shape.batch_size,
                          .seq_len = 1,
                          .past_len = c.prompt_len + c.new_tokens - 2});
    } else {
      requests.push_back(c.bench.shape);
    }
  }
  const auto shapes = harness::CheckShapes(s.model, requests, s.req.given_inputs);
  for (size_t i = 0; i < s.plan.configurations.size(); ++i) {
    const Configuration& c = s.plan.configurations[i];
    std::optional<analysis::MemoryEstimate> e;
    // A training step's memory is not the forward graph's: no estimate rather than a wrong one.
    for (size_t k = generate ? 2 * i : i;
         c.scenario != "training" && k <= (generate ? 2 * i + 1 : i); ++k) {
      try {
        analysis::MemoryEstimate one =
            analysis::EstimateMemory(*s.variants.at(c.variant()), shapes[k]);
        if (!e || one.total_bytes > e->total_bytes) e = one;
      } catch (const Error& error) {
        std::cerr << fmt::format("ipfs-accelerate: warning: no memory estimate for {}: {}\n",
                                 c.Describe(), error.what());
      }
    }
    s.estimates.push_back(e);
  }
}

// The model's part of a sweep on platforms already chosen (s.hardware, s.platforms).
void PrepareModelSweep(const BenchmarkOptions& o, PreparedSweep& s) {
  s.req = o.sweep;
  s.req.shape_overrides = ParseShapes(o.shapes);
  s.req.given_inputs = GivenInputs(o);
  s.plan = PlanSweep(s.req, s.platforms.run);
  // A graph whose structure depends on an input (an image grid) is built for the one given.
  s.model = LoadModelHere(
      s.req.model,
      {.seed = s.req.seed, .structure_inputs = harness::StructureInputsOf(s.req.given_inputs)});
  BuildVariants(s);
  EstimateMemory(s);
  // An operator without a gradient rule stops the sweep here, before its run is stored.
  if (s.req.scenario == "training") harness::CheckTrainable(s.model);
  s.model_cid = ModelContentCid(s.model.info);
}

void PrepareSweep(const BenchmarkOptions& o, PreparedSweep& s) {
  s.hardware = hw::Detect();
  s.platforms = SelectPlatforms(o.hardware, s.hardware);
  PrepareModelSweep(o, s);
  RecallOrMeasureMemoryBandwidth(o.db, s.platforms.run, s.hardware);
}

// The rows a run holds before any configuration runs: platforms that are not here, those
// "all" skips, and variants a platform cannot run.
std::map<std::string, store::RunResults::Entry> PlatformEntries(const PreparedSweep& s) {
  std::map<std::string, store::RunResults::Entry> entries;
  auto entry_for = [&](const std::string& platform) -> store::RunResults::Entry& {
    auto& entry = entries[platform];
    if (entry.hardware.platform.empty()) {
      entry.hardware = HardwareRecord(platform, s.hardware);
      entry.model = ModelRecordOf(s.model, s.model_cid);
    }
    return entry;
  };
  for (const auto& st : s.platforms.unavailable)
    entry_for(st.platform).compatibility.push_back(UnavailableRecord(st));
  for (const auto& st : s.platforms.skipped) {
    store::CompatibilityRecord r = UnavailableRecord(st);
    r.status = "skipped";
    r.error_class = "software_adapter";
    entry_for(st.platform).compatibility.push_back(r);
    std::cerr << fmt::format("{}: {}\n", st.platform, st.reason);
  }
  for (const auto& u : s.plan.unrunnable) {
    store::CompatibilityRecord r{.execution_provider = "",
                                 .status = "unavailable",
                                 .error_class = core::ErrorKindName(ErrorKind::kUnavailable),
                                 .error_message = u.reason,
                                 .max_abs_error = std::nullopt,
                                 .precision = "fp32",
                                 .graph_variant = "fused"};
    entry_for(u.platform).compatibility.push_back(r);
  }
  return entries;
}

// What a sweep has done so far.
struct SweepTally {
  struct Done {
    const Configuration* c;
    store::PerformanceRecord record;
  };
  std::vector<Done> done;
  int failures = 0, skipped = 0, stored = 0;
  // Each platform x variant gets one "ok" compatibility row, from its first configuration that
  // ran: compared with the plain fp32 graph on the CPU (except that graph on the CPU itself).
  std::set<std::pair<std::string, std::string>> compared;
};

// One configuration's outcome: the entry that holds its results (performance records, and a
// compatibility row when it failed, was skipped, or is its variant's first), and its headline.
struct ConfigurationDone {
  store::RunResults::Entry entry;
  std::string summary;
};

// Runs configuration `i` in pass `pass` (0-based) of --rounds; progress counts every pass's.
ConfigurationDone RunOneConfiguration(const BenchmarkOptions& o, const PreparedSweep& s, size_t i,
                                      int pass, Progress& progress, SweepTally& tally) {
  const Configuration& c = s.plan.configurations[i];
  const int per_pass = static_cast<int>(s.plan.configurations.size());
  const int total = per_pass * o.rounds;
  const auto key = std::make_pair(c.platform, c.variant());
  const bool first = !tally.compared.count(key);
  const bool compare = first && !(c.platform == "cpu" && c.variant() == "plain/fp32");
  progress.Begin(pass * per_pass + static_cast<int>(i) + 1, total,
                 fmt::format("{} on {}", s.model.info.name, c.Describe()));
  store::RunResults::Entry entry;
  entry.hardware = HardwareRecord(c.platform, s.hardware);
  entry.model = ModelRecordOf(s.model, s.model_cid);
  if (const auto why = DoesNotFit(s.estimates[i], c.bench.session)) {
    ++tally.skipped;
    entry.compatibility.push_back(ConfigurationResult(c, "skipped", "insufficient_memory", *why));
    return {entry, "skipped: " + *why};
  }
  const ConfigurationOutcome out =
      o.isolate ? RunConfigurationIsolated(c, static_cast<int>(i) + 1, compare, o.config_timeout_s,
                                           [&](double waited) {
                                             ThrowIfInterrupted();
                                             progress.Waiting(waited);
                                           })
                : RunConfiguration(c, *s.variants.at(c.variant()), s.model, compare,
                                   [&](int runs, double elapsed) {
                                     ThrowIfInterrupted();
                                     progress.Update(runs, elapsed);
                                   });
  ThrowIfInterrupted();  // a worker that died of the user's Ctrl-C is not a crash
  if (out.failed) {
    // A shape the user asked for that cannot fit is their error: stop the sweep.
    if (out.invalid_argument) {
      progress.End("invalid");
      throw Error(ErrorKind::kInvalidArgument, out.error_message);
    }
    ++tally.failures;
    entry.compatibility.push_back(
        ConfigurationResult(c, "failed", out.error_class, out.error_message));
    return {entry, fmt::format("failed: {}", out.error_message)};
  }
  for (auto r : out.records) {
    if (s.estimates[i]) r.memory_estimate_bytes = s.estimates[i]->total_bytes;
    SetTemplate(r, s.model.info);
    r.graph_cid = s.graph_cids.at(c.variant());
    entry.performance.push_back(r);
    tally.done.push_back({&c, r});
  }
  if (first) {
    tally.compared.insert(key);
    store::CompatibilityRecord ok = ConfigurationResult(c, "ok", "", "");
    ok.execution_provider = out.records.empty() ? "" : out.records.front().execution_provider;
    if (out.accuracy) {
      ok.max_abs_error = out.accuracy->max_abs_error;
      ok.top1_agreement = out.accuracy->top1_agreement;
    }
    entry.compatibility.push_back(ok);
  }
  return {entry, out.summary};
}

// The results table, the best offline batch of each group marked, and the headline figure.
struct SweepSummary {
  Table table;   // for CSV, Markdown and JSON
  Table screen;  // the same rows for a terminal (ResultRow's for_terminal)
  double best_throughput = 0;
  std::string best_label;
  std::vector<std::string> unstable;  // labels of the configurations IsUnstable flags
};

SweepSummary Summarize(const SweepRequest& req, const SweepTally& tally) {
  const auto& done = tally.done;
  SweepSummary out{.table = ResultsTable(req.scenario),
                   .screen = ResultsTable(req.scenario),
                   .best_throughput = 0,
                   .best_label = "",
                   .unstable = {}};
  // Offline: the best batch of each platform x variant x settings is the scenario's result.
  std::map<std::string, size_t> best;  // group -> index into done
  if (req.scenario == "offline")
    for (size_t i = 0; i < done.size(); ++i) {
      const std::string group =
          done[i].c->platform + " " + done[i].c->variant() + " " + SettingsText(*done[i].c);
      auto it = best.find(group);
      if (it == best.end() ||
          done[i].record.throughput_items_per_s > done[it->second].record.throughput_items_per_s)
        best[group] = i;
    }
  std::set<size_t> best_rows;
  for (const auto& [g, i] : best) best_rows.insert(i);
  for (size_t i = 0; i < done.size(); ++i) {
    const auto& [c, r] = done[i];
    std::string note;
    if (best_rows.count(i)) note = "best batch";
    if (r.latency_bound_ms)
      note = r.tail_early_stopping_ms.value_or(r.latency_p99_ms.value_or(0)) <= *r.latency_bound_ms
                 ? "meets bound"
                 : "misses bound";
    out.table.rows.push_back(ResultRow(*c, r, note));
    out.screen.rows.push_back(ResultRow(*c, r, note, /*for_terminal=*/true));
    if (IsUnstable(r)) out.unstable.push_back(c->Describe());
    const double headline =
        r.scenario == "server" ? r.achieved_qps.value_or(0) : r.throughput_items_per_s.value_or(0);
    const bool eligible = r.scenario != "server" || note != "misses bound";
    if (eligible && headline > out.best_throughput) {
      out.best_throughput = headline;
      out.best_label = fmt::format("{} {} batch {}", c->platform, c->precision, r.batch_size);
    }
  }
  return out;
}

// Under the table: what its figures are made of, and which of them to doubt (hyperfine warns
// about outliers the same way).
void PrintTableNotes(const std::string& scenario, const SweepSummary& summary) {
  std::string notes;
  if (scenario == "training")
    notes +=
        "step_*_ms are whole optimizer steps (accum micro-batches, then the update); "
        "samples_per_s is batch x accum x 1000 / step_mean_ms; loss_first is the fixed batch's "
        "loss at the first step, loss_last after loss_steps optimizer steps: a working gradient "
        "makes it fall.\n";
  if (scenario == "generate")
    notes +=
        "decode_tok_s is batch x 1000 / decode_mean_ms (the mean decode step, not the "
        "median).\n";
  if (!summary.unstable.empty())
    notes += fmt::format(
        "! noisy: p90 is over {:g} x p50 in {} ({}); rerun with more --iterations or "
        "--min-time on a quieter machine before trusting one figure.\n",
        harness::kUnstableTailRatio, fmt::join(summary.unstable, "; "),
        summary.unstable.size() == 1 ? "1 configuration"
                                     : fmt::format("{} configurations", summary.unstable.size()));
  std::cout << Wrap(notes, TerminalWidth());
}

void PrintSweep(const BenchmarkOptions& o, const PreparedSweep& s, const StoredRun& run,
                const SweepTally& tally, const SweepSummary& summary) {
  const int total = static_cast<int>(s.plan.configurations.size());
  std::vector<std::string> unavailable_names;
  for (const auto& st : s.platforms.unavailable) unavailable_names.push_back(st.platform);
  const std::string unit =
      s.req.scenario == "generate"
          ? "tokens/s"
          : (s.req.scenario == "server" ? "queries/s"
                                        : (s.req.scenario == "training" ? "samples/s" : "items/s"));
  if (o.format == "json") {
    nlohmann::json j = {{"run_id", run.run_id()},
                        {"database", run.path()},
                        {"scenario", s.req.scenario},
                        {"model",
                         {{"name", s.model.info.name},
                          {"architecture", s.model.info.architecture},
                          {"parameters", s.model.info.parameters},
                          {"content_hash", s.model.info.content_hash},
                          {"config_hash", s.model.info.config_hash}}},
                        {"configurations", total},
                        {"failures", tally.failures},
                        {"skipped", tally.skipped},
                        {"unavailable", unavailable_names},
                        {"results", TableToJson(summary.table)}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (o.format != "table") {
    PrintTable(std::cout, summary.table, ParseTableFormat(o.format));
    return;
  }
  PrintTable(std::cout, summary.screen, TableFormat::kText);
  PrintTableNotes(s.req.scenario, summary);
  std::cout << Wrap(fmt::format(
                        "{} ({} parameters) on {}: {} of {} configurations measured{}{}{}; run {} "
                        "stored in {}\n",
                        s.model.info.name, s.model.info.parameters, s.hardware.cpu.model_name,
                        total - tally.failures - tally.skipped, total,
                        tally.skipped
                            ? fmt::format(" ({} skipped: cannot fit in memory)", tally.skipped)
                            : "",
                        summary.best_label.empty()
                            ? ""
                            : fmt::format(", best {:.2f} {} at {}", summary.best_throughput, unit,
                                          summary.best_label),
                        unavailable_names.empty() ? ""
                                                  : fmt::format("; unavailable here (recorded): {}",
                                                                fmt::join(unavailable_names, ", ")),
                        run.run_id(), run.path()),
                    TerminalWidth())
            << "\n";
}

// A sweep stopped by a signal: its run is marked interrupted with what it finished, and the
// process exits as the signal asked (128 + its number).
int StopInterrupted(StoredRun& run, int signal, int total) {
  run.Finish("interrupted");
  std::cerr << fmt::format(
      "ipfs-accelerate: stopped by {}: {} of {} configurations finished and kept in run {} ({}); "
      "the run is marked interrupted\n",
      SignalName(signal), run.configurations(), total, run.run_id(), run.path());
  return 128 + signal;
}

// --rounds N: the timed samples of the first N - 1 passes over the model's configurations, by
// configuration. Nothing of them is stored until the last pass pools them.
std::vector<std::vector<double>> EarlierRounds(const BenchmarkOptions& o, const PreparedSweep& s,
                                               Progress& progress) {
  std::vector<std::vector<double>> samples(s.plan.configurations.size());
  SweepTally scratch;  // the last pass's tally is the sweep's
  for (int round = 1; round < o.rounds; ++round)
    for (size_t i = 0; i < samples.size(); ++i) {
      ThrowIfInterrupted();
      const ConfigurationDone done = RunOneConfiguration(o, s, i, round - 1, progress, scratch);
      progress.End(fmt::format("round {} of {}: {}", round, o.rounds, done.summary));
      for (const auto& r : done.entry.performance)
        samples[i].insert(samples[i].end(), r.samples_ms.begin(), r.samples_ms.end());
    }
  return samples;
}

// One model's sweep stored into `run`: the rows about its platforms, then each configuration as
// it finishes (with --rounds, as the last pass finishes it, its earlier passes' samples pooled).
void SweepInto(const BenchmarkOptions& o, const PreparedSweep& s, StoredRun& run,
               Progress& progress, SweepTally& tally) {
  for (auto& [platform, entry] : PlatformEntries(s)) run.Store(std::move(entry), false);
  const auto earlier = EarlierRounds(o, s, progress);
  for (size_t i = 0; i < s.plan.configurations.size(); ++i) {
    ThrowIfInterrupted();
    ConfigurationDone done = RunOneConfiguration(o, s, i, o.rounds - 1, progress, tally);
    if (!earlier[i].empty() && done.entry.performance.size() == 1) {
      PoolEarlierSamples(done.entry.performance[0], earlier[i]);
      tally.done.back().record = done.entry.performance[0];
      done.summary += fmt::format("; p50 of {} rounds {:.3f} ms", o.rounds,
                                  *done.entry.performance[0].latency_p50_ms);
    }
    run.Store(std::move(done.entry), true);
    progress.End(done.summary + "; stored");
  }
}

int RunBenchmarkCommand(const BenchmarkOptions& o) {
  if (o.sweep.scenario == "load") return RunLoadScenario(o, o.sweep);
  PreparedSweep s;
  PrepareSweep(o, s);  // nothing is written before this succeeds

  InterruptGuard interrupts;
  store::RunRecord record = NewRunRecord(s.hardware, s.req.seed, o.isolate);
  StoredRun run(o.db, record);
  Progress progress;
  SweepTally tally;
  const int total = static_cast<int>(s.plan.configurations.size());
  try {
    SweepInto(o, s, run, progress, tally);
  } catch (const Interrupted& stop) {
    return StopInterrupted(run, stop.signal, total);
  } catch (const Error&) {
    run.Finish("interrupted");  // a sweep that ends early keeps what it finished, marked so
    throw;
  }
  run.Finish("complete");
  PrintSweep(o, s, run, tally, Summarize(s.req, tally));
  PushIfAsked(o, run.run_id());
  if (tally.failures > 0) return kExitCheckFailed;
  return s.platforms.named_unavailable ? kExitUnavailable : kExitOk;
}

// `--all-models`: one model type's options, its template at its tiny size measured briefly
// unless the user gave timing options, at the template's tiny input sizes (tiny_inputs) unless
// the user gave sizes.
BenchmarkOptions TemplateOptions(const BenchmarkOptions& o, const models::ArchitectureTemplate& t) {
  BenchmarkOptions one = o;
  one.all_models = false;
  one.sweep.model = std::string(models::kTemplateSpecPrefix) + t.model_type;
  const bool sizes_given = !o.shapes.empty() || o.sweep.seq_lens != std::vector<int64_t>{128};
  if (!sizes_given && t.tiny_inputs.contains("sequence"))
    one.sweep.seq_lens = {t.tiny_inputs["sequence"].get<int64_t>()};
  const nlohmann::json shapes = t.tiny_inputs.value("shapes", nlohmann::json::object());
  if (!sizes_given)
    for (const auto& [name, dims] : shapes.items())
      one.shapes.push_back(
          fmt::format("{}={}", name, fmt::join(dims.get<std::vector<int64_t>>(), ",")));
  if (!o.timing_given) {
    one.sweep.warmup = 1;
    one.sweep.iterations = 5;
    one.sweep.min_time_s = 0;
    one.sweep.early_stopping = false;
  }
  return one;
}

// A model type that could not be prepared (built, its shapes checked): one failed row per
// platform it was to run on, so the compatibility matrix shows it.
void StoreModelFailure(StoredRun& run, const PreparedSweep& s,
                       const models::ArchitectureTemplate& t, const Error& e) {
  const std::string name = std::string(models::kTemplateSpecPrefix) + t.model_type;
  int64_t parameters = 0;
  try {
    parameters = models::CountParameters(name);
  } catch (const Error&) {  // the structure itself fails: no count to store
  }
  for (const auto& platform : s.platforms.run) {
    store::RunResults::Entry entry;
    entry.hardware = HardwareRecord(platform, s.hardware);
    entry.model = {.name = name,
                   .architecture = t.model_type,
                   .modality = t.modality,
                   .source = "template",
                   .source_path = "",
                   .parameters = parameters,
                   .content_hash = fmt::format("seed:{}", s.req.seed),
                   .family = t.family};
    entry.compatibility.push_back({.execution_provider = "",
                                   .status = "failed",
                                   .error_class = core::ErrorKindName(e.kind()),
                                   .error_message = e.what(),
                                   .max_abs_error = std::nullopt,
                                   .precision = "fp32",
                                   .graph_variant = "plain"});
    run.Store(std::move(entry), true);
  }
}

// `--all-models`: every template at its tiny size on the chosen platforms, as one run; a model
// type that fails is stored as a failed configuration and the others still run.
int RunAllModels(const BenchmarkOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto templates = SelectTemplates(o.family);
  PreparedSweep base;
  base.hardware = hw::Detect();
  base.platforms = SelectPlatforms(o.hardware, base.hardware);
  RecallOrMeasureMemoryBandwidth(o.db, base.platforms.run, base.hardware);
  base.req = o.sweep;
  InterruptGuard interrupts;
  StoredRun run(o.db, NewRunRecord(base.hardware, o.sweep.seed, o.isolate));
  Progress progress;
  int succeeded = 0;
  const int total = static_cast<int>(templates.size());
  try {
    for (int i = 0; i < total; ++i) {
      ThrowIfInterrupted();
      const models::ArchitectureTemplate& t = *templates[static_cast<size_t>(i)];
      std::cerr << fmt::format("[{}/{}] template:{}\n", i + 1, total, t.model_type);
      PreparedSweep s;
      s.req = o.sweep;
      s.hardware = base.hardware;
      s.platforms = base.platforms;
      SweepTally tally;
      try {
        const BenchmarkOptions one = TemplateOptions(o, t);
        PrepareModelSweep(one, s);
        SweepInto(one, s, run, progress, tally);
        succeeded += tally.failures == 0;
      } catch (const Error& e) {
        std::cerr << fmt::format("ipfs-accelerate: template:{}: failed: {}\n", t.model_type,
                                 e.what());
        StoreModelFailure(run, s, t, e);
      }
    }
  } catch (const Interrupted& stop) {
    return StopInterrupted(run, stop.signal, total);
  }
  run.Finish("complete");
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << fmt::format(
      "all models: {} of {} model types succeeded, {} failed, on {} in {:.1f} s; run {} stored in "
      "{}\n",
      succeeded, total, total - succeeded, fmt::join(base.platforms.run, ","), seconds,
      run.run_id(), run.path());
  PushIfAsked(o, run.run_id());
  return succeeded == total ? kExitOk : kExitCheckFailed;
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
      one.sweep.warmup = 2;
      one.sweep.iterations = 10;
      one.sweep.min_time_s = 0;
      one.sweep.early_stopping = false;
    }
    one.sweep.model = key.model;
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

// Options that do something only in some settings; given elsewhere they are refused (a silent
// no-op would leave the user believing a setting was measured).
struct OptionScope {
  const char* option;
  const char* applies;  // a scenario, or "--isolate"
};
constexpr OptionScope kOptionScopes[] = {
    {"--prompt-len", "generate"},     {"--new-tokens", "generate"},
    {"--prompt", "generate"},         {"--tokenizer", "generate"},
    {"--repetitions", "generate"},    {"--target-qps", "server"},
    {"--latency-bound-ms", "server"}, {"--config-timeout", "--isolate"},
    {"--optimizer", "training"},      {"--grad-accum", "training"},
    {"--rounds", "single-stream"}};

void RefuseOptionsWithoutEffect(const CLI::App& cmd, const BenchmarkOptions& o) {
  for (const auto& [option, applies] : kOptionScopes) {
    if (cmd.count(option) == 0) continue;
    if (std::string(applies) == "--isolate") {
      if (!o.isolate) throw CLI::ValidationError(option, "does nothing without --isolate");
    } else if (o.sweep.scenario != applies) {
      throw CLI::ValidationError(
          option,
          fmt::format("does nothing in the {} scenario; it applies to {} only", o.sweep.scenario,
                      std::string(applies) == "training" ? std::string("--mode training")
                                                         : fmt::format("--scenario {}", applies)));
    }
  }
  if (o.sweep.scenario == "generate" && cmd.count("--seq-lens") > 0)
    throw CLI::ValidationError(
        "--seq-lens", "does nothing in the generate scenario; its prompt length is --prompt-len");
}

// --prompt: the text's ids by the model folder's tokenizer.json (or --tokenizer), its special
// tokens included as the tokenizer adds them; the prompt length is their count.
void ApplyPrompt(const CLI::App& cmd, BenchmarkOptions& o) {
  if (cmd.count("--tokenizer") > 0 && o.prompt.empty())
    throw CLI::ValidationError("--tokenizer", "encodes --prompt; give --prompt too");
  if (o.prompt.empty()) return;
  if (cmd.count("--prompt-len") > 0)
    throw CLI::ValidationError("--prompt-len", "the prompt's length is that of --prompt's ids");
  std::string path = o.tokenizer;
  if (path.empty()) path = (std::filesystem::path(o.sweep.model) / "tokenizer.json").string();
  if (!std::filesystem::is_regular_file(path))
    throw CLI::ValidationError(
        "--prompt",
        fmt::format("needs a tokenizer: {} does not exist; name one with --tokenizer", path));
  try {
    const serving::Encoding e = serving::Tokenizer::FromFile(path).Encode(o.prompt);
    o.sweep.prompt_ids.assign(e.ids.begin(), e.ids.end());
  } catch (const Error& e) {
    throw CLI::ValidationError("--tokenizer", e.what());
  }
  if (o.sweep.prompt_ids.empty())
    throw CLI::ValidationError("--prompt", "encodes to no tokens; give some text");
  o.sweep.prompt_len = static_cast<int64_t>(o.sweep.prompt_ids.size());
  o.sweep.tokenizer = path;
}

// --mode training: the training scenario, and unless timing options are given 2 warm-up and 10
// timed optimizer steps (a step of a base-sized model takes seconds on a CPU).
void ApplyTrainingMode(const CLI::App& cmd, BenchmarkOptions& o) {
  if (cmd.count("--scenario") > 0)
    throw CLI::ValidationError("--scenario",
                               "--mode training has its own scenario (training); leave --scenario "
                               "out");
  if (o.key_models || o.all_models)
    throw CLI::ValidationError("--mode", "training runs one --model at a time");
  o.sweep.scenario = "training";
  if (o.timing_given) return;
  o.sweep.warmup = 2;
  o.sweep.iterations = 10;
  o.sweep.min_time_s = 0;
}

}  // namespace

void AddBenchmarkCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "benchmark",
      "Measure a model on this machine and store every result in the results database with the\n"
      "run's metadata. Every list-valued option is a sweep axis (llama-bench style): each point\n"
      "of their cross product is one configuration, with a fresh session and its own warm-up.\n"
      "Scenarios (MLPerf LoadGen's method):\n"
      "  single-stream  one query at a time until both --iterations and --min-time are met (by\n"
      "                 default also enough queries for LoadGen's early-stopping p90 estimate at\n"
      "                 99% confidence, p90_es_ms); latency mean/p50/p90/p99, throughput\n"
      "  offline        throughput at each batch size; the best batch is marked\n"
      "  server         Poisson arrivals (seeded) at --target-qps, one query in flight; p99\n"
      "                 latency from arrival and achieved QPS; with --latency-bound-ms, a search\n"
      "                 for the highest QPS whose p99 meets the bound\n"
      "  generate       decoders with a KV cache: prefill a prompt, then greedy decoding\n"
      "Memory: peak RSS per configuration; on CUDA also the process's and the GPU's device memory\n"
      "(NVML). MODEL is a catalog name (`ipfs-accelerate models`), template:NAME (an\n"
      "architecture template at its tiny size, seeded weights), a Hugging Face folder\n"
      "(config.json + model.safetensors), or an .onnx file.");
  auto o = std::make_shared<BenchmarkOptions>();
  SweepRequest& r = o->sweep;
  auto* model =
      cmd->add_option(kModelOptionName, r.model,
                      "catalog name, template:NAME (a template at its tiny size), Hugging Face "
                      "folder, or .onnx file; NAME:PART builds one part "
                      "of a composite alone (clip/siglip: text_model, vision_model)");
  auto* keys = cmd->add_flag("--key-models", o->key_models,
                             "benchmark each of the key model classes at its small real size "
                             "(data/catalog/key_models.json), one run each; unless --warmup, "
                             "--iterations or --min-time is given, each takes 2 warm-up and 10 "
                             "timed runs");
  model->excludes(keys);
  auto* all = cmd->add_flag("--all-models", o->all_models,
                            "every architecture template at its tiny size (template:NAME) on the "
                            "chosen platforms, stored as one run; a model type that fails is "
                            "stored as a failed configuration and the rest still run; unless "
                            "--warmup, --iterations or --min-time is given, each takes 1 warm-up "
                            "and 5 timed runs");
  all->excludes(model)->excludes(keys);
  cmd->add_option("--family", o->family,
                  "with --all-models: only the templates of a model family (text_generation, "
                  "embedding, vision, audio, multimodal) or of a builder (decoder, bert, ...)")
      ->needs(all);
  cmd->add_option("--spec", o->spec,
                  "a benchmark spec (JSON, as `generate` writes) giving these options; options "
                  "typed here win");
  cmd->add_option("--scenario", r.scenario,
                  "single-stream, offline, server, generate, or load (a composite model's parts "
                  "loaded in the browser one after the other vs all at once)")
      ->capture_default_str();
  cmd->add_option("--mode", o->mode,
                  "inference (the --scenario's) or training: time optimizer steps of the model's "
                  "training graph (forward + loss + backward + update as one ONNX graph) on a "
                  "fixed batch, storing scenario 'training' with the loss at the first step and "
                  "after the last")
      ->check(CLI::IsMember({"inference", "training"}))
      ->capture_default_str();
  cmd->add_option("--optimizer", r.optimizer, "training: adamw or sgd-momentum")
      ->check(CLI::IsMember({"adamw", "sgd-momentum"}))
      ->capture_default_str();
  cmd->add_option("--grad-accum", r.grad_accum,
                  "training: micro-batches (of --batch-sizes each) per optimizer step, "
                  "comma-separated (a sweep axis)")
      ->delimiter(',')
      ->check(WholeNumber(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--hardware", o->hardware,
                  "platforms, comma-separated (see `detect`), or 'all': every known platform, "
                  "those not here recorded as unavailable with the reason")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--batch-sizes,--batch-size,-b", r.batch_sizes, "batch sizes, comma-separated")
      ->delimiter(',')
      ->check(WholeNumber(1, kMaxBatch))
      ->capture_default_str();
  cmd->add_option("--seq-lens,--seq-len,-s", r.seq_lens,
                  "sequence lengths for text models, comma-separated (cut to the model's "
                  "positions unless given)")
      ->delimiter(',')
      ->check(WholeNumber(1, kMaxSequence))
      ->capture_default_str();
  cmd->add_option("--input", o->input_values,
                  "NAME=v1,v2,...: an input's values instead of generated ones (e.g. sr=16000), "
                  "filling its shape at each batch size and sequence length in row-major order, "
                  "or one item's values repeated along the batch; repeatable");
  cmd->add_option("--inputs", o->inputs_file,
                  "a safetensors file of input values (tensors named NAME or input.NAME, as in an "
                  "io.safetensors), used as --input uses its values");

  cmd->add_option("--shape,--shapes", o->shapes,
                  "NAME=d0,d1,... for an input's whole shape, or DIM=n for a symbolic dimension "
                  "(repeatable)");
  cmd->add_option(
         "--precision,--precisions", r.precisions,
         "precisions, comma-separated: fp32, fp16 (fp32 islands where accuracy needs it), int8 "
         "(dynamic quantization of MatMul weights), int4 (block-wise 4-bit weights); each "
         "variant's error against fp32 is stored with its results")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--graph,--graphs", r.graphs,
                  "graph variants, comma-separated: plain (standard ONNX, runs anywhere), fused "
                  "(ONNX Runtime contrib operators where the architecture has them), auto "
                  "(fused where the platform's runtime has contrib ops, else plain)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option(kThreadsOptionName, r.threads,
                  "intra-op thread counts, comma-separated (0: the runtime's default)")
      ->delimiter(',')
      ->check(ThreadCount())
      ->capture_default_str();
  cmd->add_option("--graph-opt", r.graph_opt_levels,
                  "ONNX Runtime graph optimisation levels, comma-separated: 0 (none), 1 (basic), "
                  "2 (extended), 99 (all)")
      ->delimiter(',')
      ->check(CLI::IsMember({0, 1, 2, 99}))
      ->capture_default_str();
  cmd->add_option("--ep-option,--ep-options", r.ep_options,
                  "execution provider option, [platform:]key=value (e.g. cuda:device_id=1); "
                  "repeatable; the same key given again with another value is swept; without a "
                  "platform it applies to every platform but cpu; ours: outputs=host|device, "
                  "cpu:cpu_arena=on|off (ONNX Runtime's CPU arena; off holds less memory for "
                  "training, costs step time)");
  cmd->add_option("--warmup", r.warmup, "untimed runs after the first inference, per configuration")
      ->check(WholeNumber(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--iterations,-n", r.iterations,
                  "at least this many timed runs (queries); an explicit value below 44 leaves "
                  "single-stream without its early-stopping p90 estimate")
      ->check(WholeNumber(1, 1000000000))
      ->capture_default_str();
  cmd->add_option("--min-time", r.min_time_s, "and at least this many seconds of timed runs")
      ->check(FiniteNumber(false, "seconds"))
      ->capture_default_str();
  cmd->add_option("--rounds", o->rounds,
                  "single-stream: measure each model's configurations in this many passes over "
                  "them (a fresh session each pass) and store each once with every pass's "
                  "samples pooled, so its figure is not one session's or one moment's")
      ->check(WholeNumber(1, 1000))
      ->capture_default_str();
  cmd->add_option("--max-time", r.max_time_s,
                  "stop a configuration's timed runs after this many seconds even if the counts "
                  "are not met (0: no cap)")
      ->check(FiniteNumber(false, "seconds"))
      ->capture_default_str();
  cmd->add_option("--target-qps", r.target_qps,
                  "server: arrival rates in queries/s, comma-separated (each a configuration)")
      ->delimiter(',')
      ->check(FiniteNumber(true, "queries/s"));
  cmd->add_option("--latency-bound-ms", r.latency_bound_ms,
                  "server: search for the highest QPS whose p99 latency meets this bound")
      ->check(FiniteNumber(true, "ms"));
  cmd->add_option("--seed", r.seed, "seed of generated inputs, random weights and arrivals")
      ->check(Seed())
      ->capture_default_str();
  cmd->add_option("--prompt-len", r.prompt_len, "generate: prompt tokens")
      ->check(WholeNumber(1, kMaxSequence))
      ->capture_default_str();
  cmd->add_option("--prompt", o->prompt,
                  "generate: a text prompt, encoded by the model folder's tokenizer.json (or "
                  "--tokenizer); the progress line shows the generated text");
  cmd->add_option("--tokenizer", o->tokenizer, "generate: the tokenizer.json for --prompt");
  cmd->add_option("--new-tokens", r.new_tokens,
                  "generate: tokens to generate, the first (from the prefill) included")
      ->check(WholeNumber(2, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--repetitions", r.repetitions,
                  "generate: measured generations (after one warm-up generation unless "
                  "--warmup 0)")
      ->check(WholeNumber(1, 1000000))
      ->capture_default_str();
  cmd->add_flag("--isolate", o->isolate,
                "run each configuration in its own worker process: one that crashes (or runs "
                "past --config-timeout) is recorded as failed and the sweep goes on");
  cmd->add_option("--config-timeout", o->config_timeout_s,
                  "with --isolate: seconds after which a configuration's worker is killed "
                  "(0: no limit)")
      ->check(FiniteNumber(false, "seconds"))
      ->capture_default_str();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, {"table", "md", "csv", "json"});
  auto* push = cmd->add_option("--push", o->push_url,
                               "send the finished run to a server's POST /api/runs "
                               "(http://HOST:PORT as `serve` prints it); it is stored here too");
  cmd->add_option("--token-file", o->token_file,
                  "with --push: file whose first line is the server's bearer token")
      ->needs(push);
  push->needs("--token-file");
  cmd->callback([selected, o, cmd] {
    // Checked before anything runs: a bad URL or token file is found before a long sweep.
    if (!o->push_url.empty()) {
      try {
        ParsePushTarget(o->push_url, o->token_file);
      } catch (const Error& e) {
        throw CLI::ValidationError("--push", e.what());
      }
    }
    if (!o->spec.empty()) ApplySpecFile(cmd, o->spec);
    o->sweep.batch_explicit = cmd->count("--batch-sizes") > 0;
    o->sweep.seq_len_explicit = cmd->count("--seq-lens") > 0;
    o->iterations_given = cmd->count("--iterations") > 0;
    o->timing_given =
        cmd->count("--warmup") + cmd->count("--iterations") + cmd->count("--min-time") > 0;
    // The early-stopping estimate needs a minimum count; an explicit --iterations is the
    // user's own choice and is honoured as given.
    o->sweep.early_stopping = !o->iterations_given;
    if (o->mode == "training") ApplyTrainingMode(*cmd, *o);
    if (o->sweep.model.empty() && !o->key_models && !o->all_models)
      throw CLI::ValidationError("--model", "give --model, --key-models or --all-models");
    RefuseOptionsWithoutEffect(*cmd, *o);
    ApplyPrompt(*cmd, *o);
    *selected = [o] {
      if (o->all_models) return RunAllModels(*o);
      return o->key_models ? RunKeyModels(*o) : RunBenchmarkCommand(*o);
    };
  });
}

}  // namespace ipfs_accel::cli
