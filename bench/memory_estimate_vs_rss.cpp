// memory_estimate_vs_rss: how far analysis::EstimateMemory is from what a benchmark run holds.
// For each model and batch size it prints the estimate (weights, inputs, activation peak) for
// the shapes the CLI's `benchmark` resolves, then runs that command in a child process and
// reads the peak RSS it measured and stored (peak_rss_mb). The child keeps the serialized
// graph it built (printed as `graph`) beside ONNX Runtime's session, so that size is shown too.
//
// Usage: memory_estimate_vs_rss [MODEL...]   (default: bert-base-uncased opt-125m
//        vit-base-patch16-224 whisper-tiny; batch sizes 1 and 8, sequence 128)

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

using namespace ipfs_accel;

namespace {

double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// The peak RSS (MiB) `ipfs-accelerate benchmark` stores for one configuration; < 0 on failure.
double MeasuredPeakRssMib(const std::string& model, int64_t batch, const std::string& db) {
  const std::string command = fmt::format(
      "'{}' benchmark --model '{}' --batch-sizes {} --iterations 3 --min-time 0 --db '{}' "
      "--json 2>/dev/null",
      IPFS_ACCEL_CLI, model, batch, db);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  if (::pclose(pipe) != 0) return -1;
  const auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || j["results"].empty()) return -1;
  return j["results"][0]["peak_rss_mb"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (names.empty())
    names = {"bert-base-uncased", "opt-125m", "vit-base-patch16-224", "whisper-tiny"};
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "memory_estimate_XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) return 1;
  const std::filesystem::path dir = dir_template;

  std::printf("%-22s %5s %9s %9s %9s %9s %9s %9s %9s %7s\n", "model", "batch", "graph", "weights",
              "inputs", "kv", "act_peak", "estimate", "peak_rss", "rss/est");
  for (const auto& name : names) {
    const models::Model model = models::LoadModel(name);
    runtime::SessionOptions probe;  // only for the graph's inputs, as harness::CheckShapes does
    probe.graph_optimization_level = 0;
    probe.intra_op_threads = 1;
    const auto session = runtime::OpenOnnxRuntimeSession(model, probe);
    std::map<int64_t, std::pair<int64_t, double>> by_batch;  // batch -> estimate, measured
    for (const int64_t batch : {1, 8}) {
      const auto shapes =
          harness::ResolveShapes(session->inputs(), model.dim_roles,
                                 {.batch_size = batch, .seq_len = 128, .batch_explicit = true});
      const analysis::MemoryEstimate e = analysis::EstimateMemory(model, shapes);
      const double rss = MeasuredPeakRssMib(name, batch, (dir / "results.duckdb").string());
      by_batch[batch] = {e.total_bytes, rss};
      std::printf(
          "%-22s %5ld %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %7.2f%s\n", name.c_str(),
          static_cast<long>(batch), Mib(static_cast<int64_t>(model.onnx_bytes.size())),
          Mib(e.weights_bytes), Mib(e.inputs_bytes), Mib(e.kv_cache_bytes),
          Mib(e.activation_peak_bytes), Mib(e.total_bytes), rss, rss / Mib(e.total_bytes),
          e.unknown_tensors > 0 ? fmt::format("  ({} unknown)", e.unknown_tensors).c_str() : "");
      std::fflush(stdout);
    }
    const auto& [est1, rss1] = by_batch[1];
    const auto& [est8, rss8] = by_batch[8];
    std::printf("%-22s batch 1 -> 8: estimate +%.1f MiB, peak RSS +%.1f MiB\n", name.c_str(),
                Mib(est8 - est1), rss8 - rss1);
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "(MiB; graph: the serialized model the benchmark process holds; estimate: weights + "
      "inputs + activation peak)\n");
  return 0;
}
