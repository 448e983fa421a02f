#include "cli/configuration_run.h"
#include "cli/commands.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/atomic_file.h"
#include "cli/benchmark_records.h"
#include "cli/self_process.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/removed_at_exit.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/generation.h"
#include "ipfs_accel/harness/given_inputs.h"
#include "ipfs_accel/harness/server_scenario.h"
#include "ipfs_accel/harness/training.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/serving/tokenizer.h"
#include "ipfs_accel/store/json_import.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
namespace fs = std::filesystem;

// Optimizer steps of the model's training graph (harness/training.h), on the same timing
// settings as inference: warm-up steps, then --iterations / --min-time / --max-time.
ConfigurationOutcome MeasureTraining(const Configuration& c, const models::Model& model,
                                     const ConfigurationProgress& progress) {
  harness::TrainingConfig t;
  t.bench = c.bench;
  t.bench.early_stopping = c.early_stopping;
  t.bench.max_time_s = c.max_time_s;
  t.optimizer = harness::ParseOptimizer(c.optimizer);
  t.accumulation_steps = c.grad_accum;
  const harness::TrainingResult r = harness::RunTrainingBenchmark(
      model, t, [&](int runs, double s) { progress ? progress(runs, s) : void(); });
  ConfigurationOutcome out;
  out.records.push_back(ToRecord(r, t.bench));
  out.summary = fmt::format(
      "step p50 {:.1f} ms, {:.2f} samples/s, {:.1f} tokens/s, {} {:.4g} -> {:.4g} over {} steps",
      r.timing.latency.p50, r.timing.throughput_items_per_s, r.tokens_per_s, r.loss, r.loss_first,
      r.loss_last, r.loss_steps);
  return out;
}

// What --prompt's generation said: the generated ids decoded by the prompt's tokenizer, as JSON
// text so that newlines and quotes stay on the progress line.
std::string GeneratedText(const Configuration& c, const std::vector<int64_t>& tokens) {
  const std::vector<uint32_t> ids(tokens.begin(), tokens.end());
  return nlohmann::json(serving::Tokenizer::FromFile(c.tokenizer).Decode(ids)).dump();
}

ConfigurationOutcome Measure(const Configuration& c, const models::Model& model,
                             const ConfigurationProgress& progress) {
  ConfigurationOutcome out;
  if (c.scenario == "training") {
    out = MeasureTraining(c, model, progress);
  } else if (c.scenario == "generate") {
    const harness::GenerationConfig g{.session = c.bench.session,
                                      .batch_size = c.bench.shape.batch_size,
                                      .prompt_len = c.prompt_len,
                                      .new_tokens = c.new_tokens,
                                      .warmup = c.bench.warmup > 0 ? 1 : 0,
                                      .repetitions = c.repetitions,
                                      .seed = c.seed,
                                      .prompt_ids = c.prompt_ids};
    const harness::GenerationResult r = harness::RunGeneration(
        model, g, [&](int steps, double s) { progress ? progress(steps, s) : void(); });
    out.records.push_back(ToRecord(r, g));
    out.summary = fmt::format("TTFT {:.1f} ms, decode p50 {:.2f} ms, {:.1f} tokens/s",
                              r.prefill.p50, r.decode.p50, r.decode_tokens_per_s);
    if (!c.tokenizer.empty()) out.summary += "; generated: " + GeneratedText(c, r.tokens);
  } else if (c.scenario == "server") {
    harness::ServerConfig server;
    server.target_qps = c.target_qps > 0 ? c.target_qps : 1;  // a search sets its own rates
    server.min_duration_s = c.bench.min_time_s;
    server.min_queries = c.bench.iterations;
    server.early_stopping = c.early_stopping;
    if (c.max_time_s > 0) server.max_duration_s = c.max_time_s;
    server.seed = c.seed;
    if (c.latency_bound_ms > 0) {
      const harness::PeakQpsBenchmarkResult p =
          harness::RunPeakQpsBenchmark(model, c.bench, c.latency_bound_ms, server);
      for (const auto& trial : p.search.trials) {
        store::PerformanceRecord r = ToRecord(p.prepared, p.load_ms, trial.result, p.peak_rss_bytes,
                                              p.device_memory, c.bench);
        r.latency_bound_ms = c.latency_bound_ms;
        out.records.push_back(std::move(r));
      }
      out.summary =
          p.search.best
              ? fmt::format("peak {:.1f} queries/s with p99 {:.3f} ms <= {} ms ({} trials)",
                            p.search.trials[*p.search.best].target_qps,
                            p.search.trials[*p.search.best].tail_ms, c.latency_bound_ms,
                            p.search.trials.size())
              : p.search.note;
    } else {
      const harness::ServerBenchmarkResult b = harness::RunServerBenchmark(
          model, c.bench, server,
          [&](int done, double s) { progress ? progress(done, s) : void(); });
      out.records.push_back(
          ToRecord(b.prepared, b.load_ms, b.server, b.peak_rss_bytes, b.device_memory, c.bench));
      out.summary = fmt::format("{:.1f} of {:.1f} queries/s, p99 {:.3f} ms{}",
                                b.server.achieved_qps, b.server.target_qps, b.server.latency.p99,
                                b.server.note.empty() ? "" : "; " + b.server.note);
    }
  } else {
    harness::BenchmarkConfig config = c.bench;
    config.early_stopping = c.early_stopping;
    config.max_time_s = c.max_time_s;
    const harness::BenchmarkResult b = harness::RunBenchmark(
        model, config, [&](int runs, double s) { progress ? progress(runs, s) : void(); });
    store::PerformanceRecord record = ToRecord(b, config);
    record.scenario = c.scenario;
    out.records.push_back(std::move(record));
    out.summary =
        c.scenario == "offline"
            ? fmt::format("{:.1f} items/s at batch {}", b.throughput_items_per_s, b.batch_size)
            : fmt::format("p50 {:.3f} ms, p90 {:.3f} ms (early-stopping {}), {:.1f} items/s",
                          b.latency.p50, b.latency.p90,
                          b.tail.early_stopping_ms
                              ? fmt::format("{:.3f} ms", *b.tail.early_stopping_ms)
                              : "n/a: " + b.tail_note,
                          b.throughput_items_per_s);
  }
  for (auto& r : out.records) {
    r.precision = c.precision;
    r.graph_variant = c.graph;
    r.graph_optimization_level = c.bench.session.graph_optimization_level;
    r.provider_options_json = nlohmann::json(c.bench.session.provider_options).dump();
  }
  return out;
}

}  // namespace

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

namespace {

ConfigurationOutcome Failure(std::string error_class, std::string message) {
  ConfigurationOutcome out;
  out.failed = true;
  out.error_class = std::move(error_class);
  out.error_message = std::move(message);
  return out;
}

}  // namespace

ConfigurationOutcome RunConfiguration(const Configuration& c, const models::Model& variant,
                                      const models::Model& reference, bool compare,
                                      const ConfigurationProgress& progress) {
  ConfigurationOutcome out;
  try {
    out = Measure(c, variant, progress);
    if (compare) {
      runtime::SessionOptions cpu;
      cpu.intra_op_threads = c.bench.session.intra_op_threads;
      out.accuracy =
          harness::CompareModels(reference, cpu, variant, c.bench.session, c.bench.shape, c.seed);
    }
  } catch (const Error& e) {
    out = Failure(std::string(core::ErrorKindName(e.kind())), e.what());
    out.invalid_argument = e.kind() == ErrorKind::kInvalidArgument;
  }
  return out;
}

nlohmann::json OutcomeToJson(const ConfigurationOutcome& o) {
  nlohmann::json records = nlohmann::json::array();
  for (const auto& r : o.records) records.push_back(store::PerformanceRecordToJson(r));
  nlohmann::json j = {{"records", records},           {"summary", o.summary},
                      {"failed", o.failed},           {"invalid_argument", o.invalid_argument},
                      {"error_class", o.error_class}, {"error_message", o.error_message},
                      {"accuracy", nullptr}};
  if (o.accuracy) {
    j["accuracy"] = {{"max_abs_error", o.accuracy->max_abs_error}, {"top1_agreement", nullptr}};
    if (o.accuracy->top1_agreement) j["accuracy"]["top1_agreement"] = *o.accuracy->top1_agreement;
  }
  return j;
}

ConfigurationOutcome OutcomeFromJson(const nlohmann::json& j) {
  ConfigurationOutcome o;
  for (const auto& r : j.at("records"))
    o.records.push_back(store::PerformanceRecordFromJson(r, "worker result"));
  j.at("summary").get_to(o.summary);
  j.at("failed").get_to(o.failed);
  j.at("invalid_argument").get_to(o.invalid_argument);
  j.at("error_class").get_to(o.error_class);
  j.at("error_message").get_to(o.error_message);
  if (const auto& a = j.at("accuracy"); !a.is_null()) {
    harness::AccuracyResult acc;
    a.at("max_abs_error").get_to(acc.max_abs_error);
    if (!a.at("top1_agreement").is_null())
      acc.top1_agreement = a.at("top1_agreement").get<double>();
    o.accuracy = acc;
  }
  return o;
}

int RunConfigurationJob(const std::string& job_path, const std::string& result_path) {
  std::ifstream in(job_path);
  if (!in) throw Error(ErrorKind::kNotFound, fmt::format("no job file '{}'", job_path));
  const nlohmann::json job = nlohmann::json::parse(in);
  const Configuration c = job.at("configuration").get<Configuration>();
  const bool compare = job.at("compare").get<bool>();
  ConfigurationOutcome out;
  try {
    const auto structure = harness::StructureInputsOf(c.bench.given_inputs);
    const models::Model variant =
        LoadModelHere(c.model, {.seed = c.seed,
                                .fused = c.graph == "fused",
                                .precision = models::ParsePrecision(c.precision),
                                .structure_inputs = structure});
    models::Model reference;
    if (compare)
      reference = LoadModelHere(c.model, {.seed = c.seed, .structure_inputs = structure});
    out = RunConfiguration(c, variant, reference, compare, nullptr);
  } catch (const Error& e) {
    out = Failure(std::string(core::ErrorKindName(e.kind())), e.what());
  }
  WriteFileAtomically(result_path, OutcomeToJson(out).dump());
  return 0;
}

ConfigurationOutcome RunConfigurationIsolated(const Configuration& c, int index, bool compare,
                                              double timeout_s,
                                              const std::function<void(double)>& tick) {
  // The job and its result go through files: a long command line would upset ONNX Runtime.
  std::string templ = (fs::temp_directory_path() / "ipfs-accelerate-job-XXXXXX").string();
  if (!mkdtemp(templ.data()))
    throw Error(ErrorKind::kIo,
                fmt::format("cannot create a folder under {} for a worker: {}",
                            fs::temp_directory_path().string(), std::strerror(errno)));
  const core::RemovedAtExit cleanup(templ);
  const fs::path& dir = cleanup.path();
  const fs::path job = dir / fmt::format("configuration-{}.json", index);
  const fs::path result = dir / "result.json";
  WriteFileAtomically(job.string(),
                      nlohmann::json{{"configuration", c}, {"compare", compare}}.dump());

  const SelfExit exit =
      RunSelf({.args = {"_configuration", "--job", job.string(), "--result", result.string()},
               .timeout_s = timeout_s,
               .tick = tick});
  if (exit.timed_out)
    return Failure("timeout", fmt::format("the configuration ran past --config-timeout {} s and "
                                          "its worker process was killed",
                                          timeout_s));
  if (exit.signal != 0)
    return Failure("crash",
                   fmt::format("the configuration's worker process died of {}{}; the sweep went "
                               "on without it",
                               SignalName(exit.signal), exit.core_dumped ? " (core dumped)" : ""));
  std::ifstream in(result);
  if (!in)
    return Failure("crash", fmt::format("the configuration's worker process exited with status "
                                        "{} without a result",
                                        exit.status));
  try {
    return OutcomeFromJson(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    return Failure("crash", fmt::format("the worker's result is unreadable: {}", e.what()));
  }
}

}  // namespace ipfs_accel::cli
