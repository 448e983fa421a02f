// `run`: one inference of a model on real input files (an image, audio, video frames), prepared
// as the model's Hugging Face processor prepares them; prints what each output holds.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/given_inputs.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/media_inputs.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/serving/tokenizer.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

struct RunOptions {
  std::string model;
  harness::MediaFiles files;
  std::vector<std::string> ids;  // NAME=v1,v2,... integer inputs (token ids)
  std::string text;              // encoded into input_ids by the model's tokenizer.json
  std::string tokenizer;         // that tokenizer.json, when not in the model's folder
  std::string hardware = "cpu";
  int threads = 0;
  uint64_t seed = 42;
  int top_k = 5;
  std::string save;  // outputs to a safetensors file
  bool json = false;
};

// --ids as given, and --text as input_ids through the tokenizer (with its special tokens).
std::vector<harness::GivenInput> ParseIds(const RunOptions& o) {
  std::vector<harness::GivenInput> ids;
  for (const auto& spec : o.ids) ids.push_back(harness::ParseGivenInput(spec, "--ids"));
  if (o.text.empty()) return ids;
  for (const auto& id : ids) {
    if (id.name == "input_ids")
      throw Error(ErrorKind::kInvalidArgument, "give input_ids by --text or by --ids, not both");
  }
  std::string path = o.tokenizer;
  if (path.empty()) {
    path = (std::filesystem::path(o.model) / "tokenizer.json").string();
    if (!std::filesystem::is_regular_file(path))
      throw Error(ErrorKind::kNotFound,
                  fmt::format("--text needs a tokenizer: {} has no tokenizer.json; name one with "
                              "--tokenizer",
                              o.model));
  }
  const serving::Encoding e = serving::Tokenizer::FromFile(path).Encode(o.text);
  ids.push_back({"input_ids", std::vector<double>(e.ids.begin(), e.ids.end()), "--text"});
  std::cerr << fmt::format("ipfs-accelerate: note: --text is {} tokens: {}\n", e.ids.size(),
                           fmt::join(e.ids, " "));
  return ids;
}

// `--ids NAME=1,2,3`: one item of n values, [1, n], in the graph input's dtype; it wins over an
// input made from a file. Those that fixed the graph's structure (image_grid_thw) are left out.
void ApplyIds(const std::vector<harness::GivenInput>& ids, const models::Model& model,
              const std::vector<runtime::TensorSpec>& inputs,
              std::map<std::string, core::Tensor>& given) {
  const std::vector<harness::GivenInput> graph_ids = harness::GraphInputsOf(ids, model);
  std::map<std::string, core::Shape> shapes;
  for (const auto& id : graph_ids) shapes[id.name] = {1, static_cast<int64_t>(id.values.size())};
  harness::ApplyGivenInputs(graph_ids, inputs, shapes, given);
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

// " (generated: not given)", " (default: zeros)", or "" for an input the user gave.
std::string InputOrigin(const harness::FilledInputs& filled, const std::string& name) {
  if (auto it = filled.defaulted.find(name); it != filled.defaulted.end())
    return fmt::format(" (default: {})", it->second);
  const auto& g = filled.generated;
  return std::find(g.begin(), g.end(), name) != g.end() ? " (generated: not given)" : "";
}

int RunOnce(const RunOptions& o) {
  const hw::HardwareReport hardware = hw::Detect();
  const runtime::PlatformStatus status = runtime::CheckPlatform(o.hardware, hardware);
  if (!status.available)
    throw Error(ErrorKind::kUnavailable,
                fmt::format("platform '{}' is unavailable here: {}", o.hardware, status.reason));
  const std::vector<harness::GivenInput> ids = ParseIds(o);
  // A graph whose structure depends on an input (an image grid) is built for the one given.
  const models::Model model =
      LoadModelHere(o.model, {.seed = o.seed, .structure_inputs = harness::StructureInputsOf(ids)});
  runtime::SessionOptions options;
  options.platform = o.hardware;
  options.intra_op_threads = o.threads;
  auto session = runtime::OpenSession(model, options);

  const harness::MediaInputs media = harness::MakeMediaInputs(model, session->inputs(), o.files);
  std::map<std::string, core::Tensor> given = media.tensors;
  ApplyIds(ids, model, session->inputs(), given);
  const harness::CompletedInputs completed =
      harness::FillMissingInputs(session->inputs(), model, given, o.seed);
  for (const auto& line : harness::DescribeFilledInputs(completed.filled))
    std::cerr << "ipfs-accelerate: note: " << line << "\n";
  const auto& inputs = completed.tensors;
  const auto outputs = session->Run(inputs);
  if (!o.save.empty()) models::WriteSafetensors(o.save, outputs);

  if (o.json) {
    nlohmann::json j = {{"model", model.info.name},
                        {"architecture", model.info.architecture},
                        {"hardware", o.hardware},
                        {"processor", media.processor},
                        {"defaulted_inputs", completed.filled.defaulted},
                        {"generated_inputs", completed.filled.generated},
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
  std::cout << fmt::format(
      "{} ({}) on {}{}\n", model.info.name, model.info.architecture, o.hardware,
      media.processor.empty() ? "" : "; inputs prepared by " + media.processor);
  for (const auto& [name, t] : inputs)
    std::cout << fmt::format("  input  {}{}{}\n", name, core::ShapeToString(t.shape),
                             InputOrigin(completed.filled, name));
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
      "Token ids can be given with --ids, alone for a text model, or as --text through the\n"
      "model's tokenizer.json (--tokenizer FILE for another). An input not given takes\n"
      "Hugging Face's default where it has one (attention_mask ones, token_type_ids zeros);\n"
      "any other (pixel_values without --image) is generated (seeded), and stderr says which.");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option(kModelOptionName, o->model,
                  "catalog name, template:NAME, Hugging Face folder, or .onnx file")
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
  cmd->add_option("--text", o->text,
                  "text for a text model: encoded into input_ids by its tokenizer.json");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "the tokenizer.json for --text (default: the model folder's)");
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
