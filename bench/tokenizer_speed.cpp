// Tokenizer speed: this project's C++ tokenizer against Hugging Face tokenizers' native Node
// build on the same strings (tests/serving/tokenizer_corpus.json), one string per call.
//   tokenizer_speed [ROUNDS]   (the tokenizer files and the reference come from the bootstrap)
// The reference's figure includes its Node call overhead (each encode is an async task); its
// batch figure (encodeBatch, threads on) is printed beside it for that reason.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/serving/tokenizer.h"

namespace {

const std::string kPrefix = IPFS_ACCEL_SOURCE_DIR "/third_party/prefix";
const std::string kCorpus = IPFS_ACCEL_SOURCE_DIR "/tests/serving/tokenizer_corpus.json";

std::string RunCommand(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  for (size_t n; pipe && (n = fread(buf, 1, sizeof buf, pipe.get())) > 0;) out.append(buf, n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  std::ifstream in(kCorpus);
  std::vector<std::string> corpus = nlohmann::json::parse(in).get<std::vector<std::string>>();
  size_t bytes = 0;
  for (const auto& s : corpus) bytes += s.size();
  std::cout << fmt::format("{} strings, {} bytes, {} rounds; microseconds per string (mean)\n",
                           corpus.size(), bytes, rounds);
  std::cout << fmt::format("{:<12} {:>9} {:>11} {:>14} {:>9} {:>11}\n", "tokenizer", "C++ us",
                           "ref us", "ref batch us", "speed-up", "C++ load s");
  for (const char* name : {"llama2", "llama3", "qwen3", "gemma3", "deepseek_v3"}) {
    std::string path = kPrefix + "/share/tokenizers/" + name + "/tokenizer.json";
    if (!std::filesystem::exists(path)) continue;
    auto t0 = std::chrono::steady_clock::now();
    auto tok = ipfs_accel::serving::Tokenizer::FromFile(path);
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t sink = 0;
    for (const auto& s : corpus) sink += tok.Encode(s).ids.size();  // warm-up
    t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r) {
      for (const auto& s : corpus) sink += tok.Encode(s).ids.size();
    }
    double cpp_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        (double(rounds) * corpus.size());
    nlohmann::json ref = nlohmann::json::parse(
        RunCommand(fmt::format(
            "node '{}/tests/serving/tokenizer_reference.js' '{}' '{}' '{}' --time {}",
            IPFS_ACCEL_SOURCE_DIR, kPrefix + "/share/tokenizers-ref", path, kCorpus, rounds)),
        nullptr, false);
    double ref_us = ref.is_object() ? ref.value("per_string_us", 0.0) : 0.0;
    double ref_batch = ref.is_object() ? ref.value("batch_per_string_us", 0.0) : 0.0;
    std::cout << fmt::format("{:<12} {:>9.1f} {:>11.1f} {:>14.1f} {:>8.2f}x {:>11.2f}\n", name,
                             cpp_us, ref_us, ref_batch, ref_us > 0 ? ref_us / cpp_us : 0.0, load_s);
    if (sink == 0) std::cout << "";
  }
  return 0;
}
