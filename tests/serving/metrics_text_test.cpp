// The /metrics text read back by the Prometheus project's own Python client parser
// (Debian's python3-prometheus-client), so the format is checked by an independent reader.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "ipfs_accel/serving/metrics_text.h"
#include "support/temp_dir.h"

namespace ipfs_accel::serving {
namespace metrics_text_test {

constexpr const char* kParser = R"py(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
)py";

// Every sample the reference parser reads from `text`; fails the test when it cannot.
nlohmann::json Parsed(const std::string& text) {
  testing::TempDir dir;
  std::ofstream(dir.File("metrics.txt")) << text;
  std::ofstream(dir.File("parse.py")) << kParser;
  const std::string cmd =
      "/usr/bin/python3 " + dir.File("parse.py") + " " + dir.File("metrics.txt") + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe.release());
  EXPECT_EQ(status, 0) << output;
  return status == 0 ? nlohmann::json::parse(output) : nlohmann::json::array();
}

PoolSnapshot Sample() {
  PoolSnapshot s;
  BatcherStats traffic;
  traffic.requests = 12;
  traffic.batches = 5;
  traffic.rows = 12;
  traffic.deadline_exceeded = 2;
  traffic.queued = 3;
  traffic.run_ms_total = 250;
  s.totals = {{"bert \"tiny\"\\x", "cpu", "fp32", traffic, true},
              {"gone", "cpu", "int8", BatcherStats{.requests = 7}, false}};
  s.entries = {{.model = "bert \"tiny\"\\x",
                .platform = "cpu",
                .precision = "fp32",
                .device = "cpu",
                .estimated_bytes = 21000000,
                .traffic = traffic}};
  s.devices = {{"cpu", 1 << 30, 21000000}, {"gpu", -1, 0}};
  s.evictions = 4;
  s.refused_busy = 1;
  return s;
}

double ValueOf(const nlohmann::json& samples, const std::string& name,
               const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples) {
    if (s["name"] != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) match = match && s["labels"].value(k, "") == v;
    if (match) return s["value"].get<double>();
  }
  ADD_FAILURE() << "no sample " << name;
  return -1;
}

TEST(MetricsText, ThePrometheusParserReadsEveryCounterWithItsLabelsEscapedAndItsValue) {
  const nlohmann::json samples = Parsed(PrometheusText(Sample()));
  const std::string model = "bert \"tiny\"\\x";
  EXPECT_EQ(
      ValueOf(samples, "ipfs_accel_pool_requests_total", {{"model", model}, {"precision", "fp32"}}),
      12);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_requests_total", {{"model", "gone"}}), 7);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_request_errors_total",
                    {{"model", model}, {"reason", "deadline"}}),
            2);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_run_seconds_total", {{"model", model}}), 0.25);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_queue_depth", {{"model", model}}), 3);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_memory_budget_bytes", {{"device", "cpu"}}), 1 << 30);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_evictions_total", {}), 4);
  EXPECT_EQ(ValueOf(samples, "ipfs_accel_pool_refusals_total", {{"reason", "busy"}}), 1);
  for (const auto& s : samples)  // a device without a budget has no budget sample
    EXPECT_FALSE(s["name"] == "ipfs_accel_pool_memory_budget_bytes" &&
                 s["labels"]["device"] == "gpu");
}

}  // namespace metrics_text_test
}  // namespace ipfs_accel::serving
