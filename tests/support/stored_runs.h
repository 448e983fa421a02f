#pragma once
// Test helper: runs written straight into a result store (no model is run), for the tests of
// what reads them back: reports, regression detection, `compare`. Every run is bert-tiny
// (catalog, seed:0) on host "host"; the figures are the caller's.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipfs_accel/store/records.h"

namespace ipfs_accel::testing {

// bert-tiny on `platform` (device `device`) of host "host", with no results yet.
inline store::RunResults::Entry StoredEntry(const std::string& platform = "cpu",
                                            const std::string& device = "Test CPU") {
  store::RunResults::Entry e;
  e.model.name = "bert-tiny";
  e.model.architecture = "bert";
  e.model.modality = "text";
  e.model.source = "catalog";
  e.model.content_hash = "seed:0";
  e.hardware.platform = platform;
  e.hardware.device_name = device;
  e.hardware.hostname = "host";
  return e;
}

// A result of sequence length 8 on ORT 1.29 with these samples (iterations = their count);
// batch, latency summary and throughput are the caller's to set.
inline store::PerformanceRecord StoredPerformance(
    std::vector<double> samples, const std::string& execution_provider = "CPUExecutionProvider") {
  store::PerformanceRecord p;
  p.execution_provider = execution_provider;
  p.runtime_version = "1.29";
  p.seq_len = 8;
  p.iterations = static_cast<int>(samples.size());
  p.samples_ms = std::move(samples);
  return p;
}

// A run started (and finished) at `started` from `commit` on `branch`, with `entries`.
inline store::RunResults StoredRun(const std::string& id, const std::string& started,
                                   const std::string& commit, std::optional<std::string> branch,
                                   std::vector<store::RunResults::Entry> entries = {}) {
  store::RunResults r;
  r.run.run_id = id;
  r.run.started_at = r.run.finished_at = started;
  r.run.tool_version = "0.1.0";
  r.run.git_commit = commit;
  r.run.command_line = "test";
  r.run.hostname = "host";
  r.run.os = "linux";
  r.run.branch = std::move(branch);
  r.entries = std::move(entries);
  return r;
}

// A run with one result on the test CPU: what regression detection and `compare` read.
inline store::RunResults StoredRunWithSamples(const std::string& id, const std::string& started,
                                              const std::string& commit,
                                              std::optional<std::string> branch,
                                              std::vector<double> samples) {
  store::RunResults::Entry e = StoredEntry();
  e.performance.push_back(StoredPerformance(std::move(samples)));
  return StoredRun(id, started, commit, std::move(branch), {std::move(e)});
}

}  // namespace ipfs_accel::testing
