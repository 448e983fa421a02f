#include "cli/latency_figures.h"

#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/models/precision.h"

namespace ipfs_accel::cli {

std::unique_ptr<store::ResultStore> OpenMeasuredDatabase(const DatabaseOption& db) {
  if (!std::filesystem::exists(db.Path()))
    throw core::Error(
        core::ErrorKind::kNotFound,
        fmt::format("results database '{}' does not exist, so nothing was measured to "
                    "predict from; measure a sweep first, e.g. `{} --db {}`",
                    db.Path(), kPredictorSweepCommand, db.Path()));
  return db.Open();
}

analysis::SelectionQuery SelectionQueryOf(const ConfigurationQuery& q) {
  return {.model_spec = q.model,
          .batch_size = q.batch_size,
          .seq_len = q.seq_len,
          .precision = q.precision,
          .graph = q.graph,
          .platform = q.platform};
}

analysis::HardwareFigures FigureLatency(store::ResultStore& store, const ConfigurationQuery& q,
                                        const analysis::SelectionQuery& selection) {
  const models::Model m =
      LoadModelHere(q.model, {.seed = q.seed,
                              .fused = q.graph == "fused",
                              .precision = models::ParsePrecision(q.precision)});
  const auto shapes = harness::CheckShapes(
      m, {{.batch_size = q.batch_size, .seq_len = q.seq_len, .batch_explicit = true}});
  return analysis::FigureHardware(store, m, shapes.at(0), selection,
                                  /*record_predictions=*/true);
}

void AddQueryOptions(CLI::App* cmd, ConfigurationQuery& q) {
  cmd->add_option(kModelOptionName, q.model, "catalog name, template:NAME, or Hugging Face folder");
  cmd->add_option("-b,--batch-size", q.batch_size, "batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-s,--seq-len", q.seq_len, "sequence length (text models)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--precision", q.precision, "fp32, fp16, int8 or int4")->capture_default_str();
  cmd->add_option("--graph", q.graph, "plain or fused")->capture_default_str();
  cmd->add_option("--seed", q.seed, "seed of random weights for catalog names")
      ->check(Seed())
      ->capture_default_str();
  cmd->add_option("--hardware", q.platform, "only this platform (cpu, cuda, wasm, ...)");
}

}  // namespace ipfs_accel::cli
