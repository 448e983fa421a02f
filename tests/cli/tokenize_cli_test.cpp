// `tokenize` and `run --text` end to end: the program's ids are the reference's (Hugging Face
// tokenizers' Node build, run here), decoding gives the text back, and a missing tokenizer is
// one clean error.

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "serving/tokenizer_files.h"

namespace ipfs_accel {
namespace tokenize_cli_test {

class TokenizeCliTest : public CliTest {};

TEST_F(TokenizeCliTest, PrintsTheReferenceIdsAndDecodesThemBackToTheText) {
  const std::string file = testing::PackagedTokenizer("llama3");
  if (std::string why = testing::ReferenceMissing(); !why.empty()) GTEST_SKIP() << why;
  if (!fs::exists(file)) GTEST_SKIP() << file << " is missing; run scripts/bootstrap.sh";
  const std::string text = "Tokenize me: 你好, 🤗 and  spaces";
  std::ofstream((dir_ / "corpus.json").string()) << nlohmann::json::array({text}).dump();
  std::string error;
  nlohmann::json ref = testing::RunReference(file, (dir_ / "corpus.json").string(), &error);
  ASSERT_FALSE(ref.is_null()) << error;

  Result r = Run("tokenize --tokenizer " + file + " --text '" + text + "' --json");
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["ids"], ref[0]["ids"]);
  EXPECT_EQ(out["tokens"], ref[0]["tokens"]);

  std::string ids;
  for (const auto& id : out["ids"]) ids += (ids.empty() ? "" : ",") + id.dump();
  r = Run("tokenize --tokenizer " + file + " --decode " + ids + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["text"], ref[0]["decoded"]);
}

// `run --text` on the hf-tiny BERT fixture (vocabulary of 1000) with a BERT tokenizer.json cut
// to the first 1000 entries of the packaged BERT vocabulary: input_ids are the reference's.
TEST_F(TokenizeCliTest, RunTextFeedsTheReferenceIdsAsInputIds) {
  const std::string vocab_file =
      testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased/vocab.json";
  if (std::string why = testing::ReferenceMissing(); !why.empty()) GTEST_SKIP() << why;
  if (!fs::exists(vocab_file))
    GTEST_SKIP() << vocab_file << " is missing; run scripts/bootstrap.sh";
  nlohmann::json vocab = nlohmann::json::parse(testing::ReadText(vocab_file));
  vocab.erase(vocab.begin() + 1000, vocab.end());
  const fs::path model = CopyFixture();
  std::ofstream((model / "tokenizer.json").string()) << testing::BertUncased(vocab).dump();
  const std::string text = "a b ! ? x";
  std::ofstream((dir_ / "corpus.json").string()) << nlohmann::json::array({text}).dump();
  std::string error;
  nlohmann::json ref = testing::RunReference((model / "tokenizer.json").string(),
                                             (dir_ / "corpus.json").string(), &error);
  ASSERT_FALSE(ref.is_null()) << error;

  Result r = Run("run --model " + model.string() + " --text '" + text + "' --json");
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["inputs"]["input_ids"], nlohmann::json({1, ref[0]["ids"].size()}));
  std::string ids;
  for (const auto& id : ref[0]["ids"]) ids += " " + id.dump();
  EXPECT_NE(r.err.find("tokens:" + ids), std::string::npos) << r.err;
}

TEST_F(TokenizeCliTest, AFolderWithoutTokenizerJsonIsNotFound) {
  Result r = Run("tokenize --model " + kBertFixture + " --text hello");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  r = Run("run --model " + kBertFixture + " --text hello");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
}

TEST_F(TokenizeCliTest, IdsThatAreNotNumbersAreAUsageError) {
  const std::string file = testing::PackagedTokenizer("llama3");
  if (!fs::exists(file)) GTEST_SKIP() << file << " is missing; run scripts/bootstrap.sh";
  Result r = Run("tokenize --tokenizer " + file + " --decode 1,x,3");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("'x'"), std::string::npos) << r.err;
}

}  // namespace tokenize_cli_test
}  // namespace ipfs_accel
