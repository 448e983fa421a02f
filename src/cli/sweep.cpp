#include "cli/sweep.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

const std::vector<std::string> kScenarios = {"single-stream", "offline", "server", "generate",
                                             "training"};

nlohmann::json GivenInputsJson(const std::vector<harness::GivenInput>& given) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : given)
    out.push_back({{"name", g.name}, {"values", g.values}, {"source", g.source}});
  return out;
}

// Training steps are fp32 (or fp64) graphs of standard operators, on native platforms (their
// sessions share weights in place), with a known optimizer and accumulation >= 1.
void CheckTrainingRequest(const SweepRequest& r) {
  for (const auto& p : r.precisions)
    if (p != "fp32")
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--mode training trains fp32 weights; --precision {} is not built "
                              "for training (leave --precision out)",
                              p));
  for (const auto& g : r.graphs)
    if (g != "plain")
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--mode training differentiates the plain graph; --graph {} has "
                              "contrib operators without gradient rules (leave --graph out)",
                              g));
  if (r.optimizer != "adamw" && r.optimizer != "sgd-momentum")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("unknown optimizer '{}'; use adamw or sgd-momentum", r.optimizer));
  for (const int64_t a : r.grad_accum)
    if (a < 1)
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("--grad-accum {}: give micro-batches per optimizer step, 1 or more", a));
}

}  // namespace

std::string Configuration::Describe() const {
  std::string s = fmt::format("{} {} batch {}", platform, variant(), bench.shape.batch_size);
  if (scenario == "generate")
    s += fmt::format(" prompt {} new {}", prompt_len, new_tokens);
  else
    s += fmt::format(" seq {}", bench.shape.seq_len);
  if (bench.session.intra_op_threads)
    s += fmt::format(" threads {}", bench.session.intra_op_threads);
  if (bench.session.graph_optimization_level != 99)
    s += fmt::format(" opt {}", bench.session.graph_optimization_level);
  for (const auto& [k, v] : bench.session.provider_options) s += fmt::format(" {}={}", k, v);
  if (scenario == "training") s += fmt::format(" {} accum {}", optimizer, grad_accum);
  if (latency_bound_ms > 0)
    s += fmt::format(" p99<={}ms", latency_bound_ms);
  else if (target_qps > 0)
    s += fmt::format(" {} qps", target_qps);
  return s;
}

std::vector<std::map<std::string, std::string>> ProviderOptionSets(
    const std::string& platform, const std::vector<std::string>& specs) {
  // Values per key in the order given; a key given again adds a value to sweep.
  std::vector<std::pair<std::string, std::vector<std::string>>> keys;
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
      continue;  // the CPU provider takes no options
    }
    auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.first == key; });
    if (it == keys.end()) {
      keys.push_back({key, {value}});
    } else if (std::find(it->second.begin(), it->second.end(), value) == it->second.end()) {
      it->second.push_back(value);
    }
  }
  std::vector<std::map<std::string, std::string>> sets{{}};
  for (const auto& [key, values] : keys) {
    std::vector<std::map<std::string, std::string>> next;
    for (const auto& set : sets)
      for (const auto& value : values) {
        auto s = set;
        s[key] = value;
        next.push_back(std::move(s));
      }
    sets = std::move(next);
  }
  return sets;
}

SweepPlan PlanSweep(const SweepRequest& r, const std::vector<std::string>& platforms) {
  if (std::find(kScenarios.begin(), kScenarios.end(), r.scenario) == kScenarios.end())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("unknown scenario '{}'; use single-stream, offline, server, generate "
                            "or training (--mode training)",
                            r.scenario));
  for (int level : r.graph_opt_levels)
    if (level != 0 && level != 1 && level != 2 && level != 99)
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("--graph-opt {} is not an ONNX Runtime level; use 0, 1, 2 or 99", level));
  const bool server = r.scenario == "server";
  if (server && r.target_qps.empty() && r.latency_bound_ms <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                "the server scenario needs --target-qps (arrival rates to run) or "
                "--latency-bound-ms (search for the highest rate whose p99 meets it)");
  // A search is one configuration; otherwise each rate is one.
  std::vector<double> rates =
      server && r.latency_bound_ms <= 0 ? r.target_qps : std::vector<double>{0};
  const std::vector<int64_t> seq_lens =
      r.scenario == "generate" ? std::vector<int64_t>{r.prompt_len} : r.seq_lens;
  const bool training = r.scenario == "training";
  if (training) CheckTrainingRequest(r);
  const std::vector<int64_t> accums = training ? r.grad_accum : std::vector<int64_t>{1};

  SweepPlan plan;
  for (const auto& platform : platforms) {
    const bool contrib = runtime::RunsContribOps(platform);
    for (const std::string& asked : r.graphs) {
      if (asked != "plain" && asked != "fused" && asked != "auto")
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("unknown graph variant '{}'; use plain, fused or auto", asked));
      const std::string graph = asked == "auto" ? (contrib ? "fused" : "plain") : asked;
      if (graph == "fused" && !contrib) {
        plan.unrunnable.push_back(
            {platform, fmt::format("the {} runtime has no com.microsoft contrib ops; the plain "
                                   "graph runs there",
                                   platform)});
        continue;
      }
      for (const auto& precision : r.precisions)
        for (int threads : r.threads)
          for (int level : r.graph_opt_levels)
            for (const auto& options : ProviderOptionSets(platform, r.ep_options))
              for (int64_t batch : r.batch_sizes)
                for (int64_t seq : seq_lens)
                  for (int64_t accum : accums)
                    for (double qps : rates) {
                      Configuration c;
                      c.model = r.model;
                      c.seed = r.seed;
                      c.scenario = r.scenario;
                      c.platform = platform;
                      c.graph = graph;
                      c.precision = precision;
                      c.bench.session.platform = platform;
                      c.bench.session.intra_op_threads = threads;
                      c.bench.session.graph_optimization_level = level;
                      c.bench.session.provider_options = options;
                      c.bench.shape = {.batch_size = batch,
                                       .seq_len = seq,
                                       .batch_explicit = r.batch_explicit,
                                       .seq_len_explicit = r.seq_len_explicit,
                                       .overrides = r.shape_overrides};
                      c.bench.warmup = r.warmup;
                      c.bench.iterations = r.iterations;
                      c.bench.min_time_s = r.min_time_s;
                      c.bench.seed = r.seed;
                      c.bench.given_inputs = r.given_inputs;
                      c.max_time_s = r.max_time_s;
                      c.early_stopping =
                          r.early_stopping && (r.scenario == "single-stream" || server);
                      c.target_qps = qps;
                      c.latency_bound_ms = server ? r.latency_bound_ms : 0;
                      c.prompt_len = r.prompt_len;
                      c.new_tokens = r.new_tokens;
                      c.repetitions = r.repetitions;
                      c.prompt_ids = r.prompt_ids;
                      c.tokenizer = r.tokenizer;
                      if (training) {
                        c.optimizer = r.optimizer;
                        c.grad_accum = accum;
                      }
                      plan.configurations.push_back(std::move(c));
                    }
    }
  }
  return plan;
}

void to_json(nlohmann::json& j, const Configuration& c) {
  const auto& s = c.bench.shape;
  j = {{"model", c.model},
       {"seed", c.seed},
       {"scenario", c.scenario},
       {"platform", c.platform},
       {"graph", c.graph},
       {"precision", c.precision},
       {"threads", c.bench.session.intra_op_threads},
       {"inter_op_threads", c.bench.session.inter_op_threads},
       {"graph_optimization_level", c.bench.session.graph_optimization_level},
       {"provider_options", c.bench.session.provider_options},
       {"batch_size", s.batch_size},
       {"seq_len", s.seq_len},
       {"past_len", s.past_len},
       {"decoder_seq_len", s.decoder_seq_len},
       {"batch_explicit", s.batch_explicit},
       {"seq_len_explicit", s.seq_len_explicit},
       {"shape_overrides", s.overrides},
       {"given_inputs", GivenInputsJson(c.bench.given_inputs)},
       {"warmup", c.bench.warmup},
       {"iterations", c.bench.iterations},
       {"min_time_s", c.bench.min_time_s},
       {"max_time_s", c.max_time_s},
       {"early_stopping", c.early_stopping},
       {"target_qps", c.target_qps},
       {"latency_bound_ms", c.latency_bound_ms},
       {"prompt_len", c.prompt_len},
       {"new_tokens", c.new_tokens},
       {"repetitions", c.repetitions},
       {"prompt_ids", c.prompt_ids},
       {"tokenizer", c.tokenizer},
       {"optimizer", c.optimizer},
       {"grad_accum", c.grad_accum}};
}

void from_json(const nlohmann::json& j, Configuration& c) {
  auto& s = c.bench.shape;
  j.at("model").get_to(c.model);
  j.at("seed").get_to(c.seed);
  j.at("scenario").get_to(c.scenario);
  j.at("platform").get_to(c.platform);
  j.at("graph").get_to(c.graph);
  j.at("precision").get_to(c.precision);
  c.bench.session.platform = c.platform;
  j.at("threads").get_to(c.bench.session.intra_op_threads);
  j.at("inter_op_threads").get_to(c.bench.session.inter_op_threads);
  j.at("graph_optimization_level").get_to(c.bench.session.graph_optimization_level);
  j.at("provider_options").get_to(c.bench.session.provider_options);
  j.at("batch_size").get_to(s.batch_size);
  j.at("seq_len").get_to(s.seq_len);
  j.at("past_len").get_to(s.past_len);
  j.at("decoder_seq_len").get_to(s.decoder_seq_len);
  j.at("batch_explicit").get_to(s.batch_explicit);
  j.at("seq_len_explicit").get_to(s.seq_len_explicit);
  j.at("shape_overrides").get_to(s.overrides);
  for (const auto& g : j.at("given_inputs"))
    c.bench.given_inputs.push_back({g.at("name"), g.at("values"), g.at("source")});
  j.at("warmup").get_to(c.bench.warmup);
  j.at("iterations").get_to(c.bench.iterations);
  j.at("min_time_s").get_to(c.bench.min_time_s);
  j.at("max_time_s").get_to(c.max_time_s);
  j.at("early_stopping").get_to(c.early_stopping);
  c.bench.seed = c.seed;
  j.at("target_qps").get_to(c.target_qps);
  j.at("latency_bound_ms").get_to(c.latency_bound_ms);
  j.at("prompt_len").get_to(c.prompt_len);
  j.at("new_tokens").get_to(c.new_tokens);
  j.at("repetitions").get_to(c.repetitions);
  j.at("prompt_ids").get_to(c.prompt_ids);
  j.at("tokenizer").get_to(c.tokenizer);
  j.at("optimizer").get_to(c.optimizer);
  j.at("grad_accum").get_to(c.grad_accum);
}

}  // namespace ipfs_accel::cli
