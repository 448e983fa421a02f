// `tokenize`: text to token ids and back with a model's Hugging Face tokenizer.json, as the
// server and `run --text` will use it.

#include <filesystem>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "ipfs_accel/serving/tokenizer.h"

namespace ipfs_accel::cli {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string model;
  std::optional<std::string> text;
  std::string text_file;  // the text from a file (long texts: the command line is limited)
  std::optional<std::string> decode;
  bool no_special = false;
  bool skip_special = false;
  bool json = false;
};

std::string TokenizerPath(const TokenizeOptions& o) {
  if (!o.tokenizer.empty()) return o.tokenizer;
  std::filesystem::path p = std::filesystem::path(o.model) / "tokenizer.json";
  if (!std::filesystem::exists(p)) {
    throw core::Error(
        core::ErrorKind::kNotFound,
        fmt::format("{} has no tokenizer.json; name the file with --tokenizer", o.model));
  }
  return p.string();
}

std::vector<uint32_t> ParseIds(const std::string& list) {
  std::vector<uint32_t> ids;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v > UINT32_MAX) {
      throw core::Error(core::ErrorKind::kInvalidArgument,
                        fmt::format("--decode: '{}' is not a token id; give ids as 1,2,3", item));
    }
    ids.push_back(static_cast<uint32_t>(v));
  }
  return ids;
}

int RunTokenize(TokenizeOptions o) {
  if (!o.text_file.empty()) o.text = core::ReadRegularFile(o.text_file);
  if (o.text.has_value() == o.decode.has_value()) {
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      "give one of --text, --text-file or --decode");
  }
  const std::string path = TokenizerPath(o);
  const serving::Tokenizer tok = serving::Tokenizer::FromFile(path);
  nlohmann::json out = {{"tokenizer", path}};
  if (o.text) {
    serving::Encoding e = tok.Encode(*o.text, !o.no_special);
    out["text"] = *o.text;
    out["ids"] = e.ids;
    out["tokens"] = e.tokens;
  } else {
    std::vector<uint32_t> ids = ParseIds(*o.decode);
    out["ids"] = ids;
    out["text"] = tok.Decode(ids, o.skip_special);
  }
  if (o.json) {
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("tokenizer  {} ({})\n", path, tok.Describe());
  std::cout << fmt::format("ids        {}\n",
                           fmt::join(out["ids"].get<std::vector<uint32_t>>(), " "));
  if (o.text) {
    std::cout << fmt::format(
        "tokens     {}\n",
        out["tokens"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    std::cout << "text       " << out["text"].get<std::string>() << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "tokenize",
      "Turn text into token ids (or ids into text) with a Hugging Face tokenizer.json.");
  auto o = std::make_shared<TokenizeOptions>();
  auto* file = cmd->add_option("--tokenizer", o->tokenizer, "a tokenizer.json file");
  auto* model =
      cmd->add_option(kModelOptionName, o->model, "a Hugging Face folder holding tokenizer.json");
  file->excludes(model);
  auto* text = cmd->add_option("--text", o->text, "the text to encode");
  cmd->add_option("--text-file", o->text_file, "encode the text this file holds")->excludes(text);
  cmd->add_option("--decode", o->decode, "token ids to decode, as 1,2,3");
  cmd->add_flag("--no-special", o->no_special, "encode without the special tokens the model adds");
  cmd->add_flag("--skip-special", o->skip_special, "decode without the special tokens");
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o, file, model] {
    if (file->count() + model->count() == 0) {
      throw CLI::ValidationError("--tokenizer", "give --tokenizer FILE or --model DIR");
    }
    *selected = [o] { return RunTokenize(*o); };
  });
}

}  // namespace ipfs_accel::cli
