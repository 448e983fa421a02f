// `run`: one inference of a model on real input files (an image, audio, video frames), prepared
// as the model's Hugging Face processor prepares them; prints what each output holds.

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/media_inputs.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

struct RunOptions {
  std::string model;
  harness::MediaFiles files;
  std::vector<std::string> ids;  // NAME=v1,v2,... integer inputs (token ids)
  std::string hardware = "cpu";
  int threads = 0;
  uint64_t seed = 42;
  int top_k = 5;
  std::string save;  // outputs to a safetensors file
  bool json = false;
};

// `--ids NAME=1,2,3`: an int64 input of shape [1, n].
std::map<std::string, core::Tensor> ParseIds(const std::vector<std::string>& specs) {
  std::map<std::string, core::Tensor> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("--ids '{}' is not NAME=v1,v2,... (e.g. input_ids=101,2023,102)", spec));
    std::vector<int64_t> values;
    std::string item;
    std::stringstream ss(spec.substr(eq + 1));
    while (std::getline(ss, item, ',')) {
      try {
        size_t used = 0;
        values.push_back(std::stoll(item, &used));
        if (used != item.size()) throw std::invalid_argument(item);
      } catch (const std::exception&) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("--ids '{}': '{}' is not an integer", spec, item));
      }
    }
    core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {1, int64_t(values.size())});
    std::copy(values.begin(), values.end(), t.values<int64_t>().begin());
    out[spec.substr(0, eq)] = std::move(t);
  }
  return out;
}

struct OutputSummary {
  double min = 0, max = 0, mean = 0;
  std::vector<double> head;                     // the first values
  std::vector<std::pair<int64_t, double>> top;  // largest of the last row, index and value
};

OutputSummary Summarize(const core::Tensor& t, int top_k) {
  OutputSummary s;
  const int64_t n = t.element_count();
  if (n == 0) return s;
  const std::vector<double> v = t.ToDoubles();
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(n);
  s.head.assign(v.begin(), v.begin() + std::min<int64_t>(n, 6));
  const int64_t row = t.shape.empty() ? n : t.shape.back();
  if (row > 1 && top_k > 0) {
    std::vector<int64_t> idx(static_cast<size_t>(row));
    std::iota(idx.begin(), idx.end(), 0);
    const double* last = v.data() + (n - row);
    const int64_t k = std::min<int64_t>(top_k, row);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int64_t a, int64_t b) { return last[a] > last[b]; });
    for (int64_t i = 0; i < k; ++i) s.top.emplace_back(idx[size_t(i)], last[idx[size_t(i)]]);
  }
  return s;
}

int RunOnce(const RunOptions& o) {
  const hw::HardwareReport hardware = hw::Detect();
  const runtime::PlatformStatus status = runtime::CheckPlatform(o.hardware, hardware);
  if (!status.available)
    throw Error(ErrorKind::kUnavailable,
                fmt::format("platform '{}' is unavailable here: {}", o.hardware, status.reason));
  const models::Model model = LoadModelHere(o.model, {.seed = o.seed});
  runtime::SessionOptions options;
  options.platform = o.hardware;
  options.intra_op_threads = o.threads;
  auto session = runtime::OpenSession(model, options);

  const harness::MediaInputs media = harness::MakeMediaInputs(model, session->inputs(), o.files);
  std::map<std::string, core::Tensor> given = media.tensors;
  for (auto& [name, t] : ParseIds(o.ids)) given[name] = std::move(t);  // --ids wins
  std::vector<std::string> generated;
  for (const auto& spec : session->inputs())
    if (!given.count(spec.name)) generated.push_back(spec.name);
  const auto inputs = harness::CompleteInputs(session->inputs(), model, given, o.seed);
  const auto outputs = session->Run(inputs);
  if (!o.save.empty()) models::WriteSafetensors(o.save, outputs);

  if (o.json) {
    nlohmann::json j = {{"model", model.info.name},
                        {"architecture", model.info.architecture},
                        {"hardware", o.hardware},
                        {"processor", media.processor},
                        {"generated_inputs", generated},
                        {"inputs", nlohmann::json::object()},
                        {"outputs", nlohmann::json::array()}};
    for (const auto& [name, t] : inputs) j["inputs"][name] = t.shape;
    for (const auto& [name, t] : outputs) {
      const OutputSummary s = Summarize(t, o.top_k);
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [i, v] : s.top) top.push_back({{"index", i}, {"value", v}});
      j["outputs"].push_back({{"name", name},
                              {"shape", t.shape},
                              {"min", s.min},
                              {"max", s.max},
                              {"mean", s.mean},
                              {"first", s.head},
                              {"top", top}});
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{} ({}) on {}; inputs prepared by {}\n", model.info.name,
                           model.info.architecture, o.hardware, media.processor);
  for (const auto& [name, t] : inputs)
    std::cout << fmt::format("  input  {}{}{}\n", name, core::ShapeToString(t.shape),
                             std::find(generated.begin(), generated.end(), name) != generated.end()
                                 ? " (generated: not given)"
                                 : "");
  Table table{{"output", "shape", "min", "max", "mean", "first values", "top (index:value)"},
              {false, false, true, true, true, false, false},
              {}};
  for (const auto& [name, t] : outputs) {
    const OutputSummary s = Summarize(t, o.top_k);
    std::vector<std::string> top;
    for (const auto& [i, v] : s.top) top.push_back(fmt::format("{}:{:.4g}", i, v));
    table.rows.push_back({name, core::ShapeToString(t.shape), fmt::format("{:.4g}", s.min),
                          fmt::format("{:.4g}", s.max), fmt::format("{:.4g}", s.mean),
                          fmt::format("{:.4g}", fmt::join(s.head, " ")),
                          fmt::format("{}", fmt::join(top, " "))});
  }
  PrintTable(std::cout, table, TableFormat::kText);
  if (!o.save.empty()) std::cout << "outputs written to " << o.save << "\n";
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "run",
      "Run a model once on a real input file: an image (--image), an audio clip (--audio) or\n"
      "video frames (--video), prepared the way the model's Hugging Face processor prepares\n"
      "them (its preprocessor_config.json, or the processor's defaults at the model's sizes).\n"
      "Token ids can be given with --ids; any other input is generated (seeded) and said so.");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option(kModelOptionName, o->model, "catalog name, Hugging Face folder, or .onnx file")
      ->required();
  cmd->add_option("--image", o->files.image, "an image file (PNG or JPEG)");
  cmd->add_option("--audio", o->files.audio, "an audio file (WAV, FLAC, OGG; resampled as needed)");
  cmd->add_option("--video", o->files.video,
                  "video frames: image files in order, or one folder of them (name order)");
  cmd->add_option("--preprocessor", o->files.preprocessor,
                  "preprocessor_config.json (or a folder holding one) to use instead of the "
                  "model's");
  cmd->add_option("--ids", o->ids,
                  "an integer input given as NAME=v1,v2,... (e.g. input_ids=49406,320,49407); "
                  "repeatable");
  cmd->add_option("--hardware", o->hardware, "platform to run on (see `detect`)")
      ->capture_default_str();
  cmd->add_option(kThreadsOptionName, o->threads, "intra-op threads (0: runtime default)")
      ->check(ThreadCount());
  cmd->add_option("--seed", o->seed, "seed of generated inputs and random weights")
      ->check(Seed())
      ->capture_default_str();
  cmd->add_option("--top", o->top_k, "show the K largest values of each output's last row")
      ->check(WholeNumber(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--save", o->save, "write every output to this safetensors file");
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunOnce(*o); }; });
}

}  // namespace ipfs_accel::cli
