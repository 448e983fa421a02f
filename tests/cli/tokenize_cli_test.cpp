// `tokenize` and `run --text` end to end: the program's ids are the reference's (Hugging Face
// tokenizers' Node build, run here), decoding gives the text back, and a missing tokenizer is
// one clean error.

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "serving/tokenizer_files.h"

namespace ipfs_accel {
namespace {

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

}  // namespace
}  // namespace ipfs_accel
