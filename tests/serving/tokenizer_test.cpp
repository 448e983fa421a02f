// What the tokenizer refuses, and how it says so: the component and the file are named.

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/serving/tokenizer.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::serving {
namespace tokenizer_test {

using core::ErrorKind;
using testing::CatchError;

// A minimal byte-level BPE file; `patch` replaces top-level parts.
std::string MinimalBpe(const nlohmann::json& patch = nlohmann::json::object()) {
  nlohmann::json j = {
      {"added_tokens", nlohmann::json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}},
  };
  j.update(patch);
  return j.dump();
}

TEST(Tokenizer, AnUnsupportedNormalizerIsRefusedNamingItAndTheFile) {
  core::Error e = CatchError([] {
    Tokenizer::FromJson(
        MinimalBpe({{"normalizer", {{"type", "Precompiled"}, {"precompiled_charsmap", ""}}}}),
        "some/tokenizer.json");
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("some/tokenizer.json"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("Precompiled"), std::string::npos) << e.what();
}

TEST(Tokenizer, AnUnknownModelTypeIsRefusedNamingIt) {
  core::Error e = CatchError([] {
    Tokenizer::FromJson(
        MinimalBpe({{"model", {{"type", "WordLevel"}, {"vocab", nlohmann::json::object()}}}}),
        "x.json");
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("WordLevel"), std::string::npos) << e.what();
}

TEST(Tokenizer, AMergeOfUnknownTokensIsReportedAsCorrupt) {
  core::Error e = CatchError([] {
    Tokenizer::FromJson(
        MinimalBpe({{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", {"a q"}}}}}));
  });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
}

TEST(Tokenizer, TextThatIsNotJsonIsReportedAsCorrupt) {
  EXPECT_EQ(CatchError([] { Tokenizer::FromJson("{not json", "t.json"); }).kind(),
            ErrorKind::kCorrupt);
}

TEST(Tokenizer, AMissingFileIsNotFound) {
  EXPECT_EQ(CatchError([] { Tokenizer::FromFile("/nonexistent/tokenizer.json"); }).kind(),
            ErrorKind::kNotFound);
}

TEST(Tokenizer, InvalidUtf8TextIsRefused) {
  Tokenizer t = Tokenizer::FromJson(MinimalBpe());
  EXPECT_EQ(CatchError([&] { t.Encode("a\xff"); }).kind(), ErrorKind::kInvalidArgument);
}

TEST(Tokenizer, ARegexThatDoesNotCompileIsRefusedNamingTheComponent) {
  core::Error e = CatchError([] {
    Tokenizer::FromJson(MinimalBpe({{"pre_tokenizer",
                                     {{"type", "Split"},
                                      {"pattern", {{"Regex", "(unclosed"}}},
                                      {"behavior", "Isolated"},
                                      {"invert", false}}}}),
                        "r.json");
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("pre_tokenizer Split"), std::string::npos) << e.what();
}

}  // namespace tokenizer_test
}  // namespace ipfs_accel::serving
