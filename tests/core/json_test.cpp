// JSON from outside: hostile nesting and numbers end as one kCorrupt error naming the source.

#include "ipfs_accel/core/json.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"

namespace ipfs_accel::core {
namespace json_test {

using testing::CatchError;
using ::testing::HasSubstr;

std::string Nested(int depth, char open, char close) {
  return std::string(static_cast<size_t>(depth), open) +
         std::string(static_cast<size_t>(depth), close);
}

TEST(ParseJson, ReadsOrdinaryDocuments) {
  const nlohmann::json j = ParseJson(R"({"a": [1, 2.5, "x", null, {"b": true}]})", "doc");
  EXPECT_EQ(j["a"][1].get<double>(), 2.5);
  EXPECT_EQ(j["a"][4]["b"].get<bool>(), true);
}

TEST(ParseJson, NestingUpToTheLimitIsRead) {
  EXPECT_NO_THROW(ParseJson(Nested(kMaxJsonDepth, '[', ']'), "deep"));
}

TEST(ParseJson, NestingAHundredThousandDeepIsRefusedNotACrash) {
  for (const auto& [open, close] : {std::pair{'[', ']'}, std::pair{'{', '}'}}) {
    std::string text;
    if (open == '[') {
      text = Nested(100000, '[', ']');
    } else {
      for (int i = 0; i < 100000; ++i) text += "{\"a\":";
      text += "1" + std::string(100000, '}');
    }
    const Error e = CatchError([&] { ParseJson(text, "config.json"); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_THAT(e.what(), HasSubstr("'config.json'"));
    EXPECT_THAT(e.what(), HasSubstr("nests more than"));
  }
  EXPECT_EQ(CatchError([&] { ParseJson(Nested(kMaxJsonDepth + 1, '[', ']'), "x"); }).kind(),
            ErrorKind::kCorrupt);
}

TEST(ParseJson, ANumberNoDoubleHoldsIsCorrupt) {
  const Error e = CatchError([&] { ParseJson(R"({"latency": 1e400})", "results.json"); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("'results.json' is not valid JSON: number overflow"));
}

TEST(ParseJson, ASyntaxErrorNamesTheSourceOnOneShortLine) {
  const std::string text = "{\"a\": \"" + std::string(100000, 'x');  // unterminated string
  const Error e = CatchError([&] { ParseJson(text, "big.json"); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("'big.json' is not valid JSON: "));
  EXPECT_LT(std::string(e.what()).size(), 400u);
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos);
}

TEST(ParseJson, EmptyTextAndTrailingGarbageAreCorrupt) {
  EXPECT_EQ(CatchError([&] { ParseJson("", "e"); }).kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([&] { ParseJson("{} x", "e"); }).kind(), ErrorKind::kCorrupt);
}

}  // namespace json_test
}  // namespace ipfs_accel::core
