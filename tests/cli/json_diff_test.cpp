// DiffJson, the key-by-key difference `templates diff` prints.

#include "cli/json_diff.h"

#include <gtest/gtest.h>

namespace ipfs_accel::cli {
namespace json_diff_test {

using nlohmann::json;

TEST(JsonDiff, ObjectsAreWalkedKeyByKeyAndListsComparedWhole) {
  const json a = {{"model_type", "llama"},
                  {"pieces", {{"norm", "rms"}, {"sliding_window", "none"}}},
                  {"checkpoint_prefixes", {"model."}}};
  const json b = {{"model_type", "mistral"},
                  {"pieces", {{"norm", "rms"}, {"sliding_window", "all"}, {"qk_norm", "none"}}},
                  {"checkpoint_prefixes", {"model.", "x."}}};
  const auto d = DiffJson(a, b);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].key, "checkpoint_prefixes");
  EXPECT_EQ(d[1].key, "model_type");
  EXPECT_EQ(d[2].key, "pieces.qk_norm");
  EXPECT_FALSE(d[2].a.has_value());
  EXPECT_EQ(d[2].b, json("none"));
  EXPECT_EQ(d[3].key, "pieces.sliding_window");
  EXPECT_EQ(d[3].a, json("none"));
}

TEST(JsonDiff, EqualDocumentsHaveNoDifference) {
  const json a = {{"x", {{"y", 1}}}, {"empty", json::object()}};
  EXPECT_TRUE(DiffJson(a, a).empty());
  EXPECT_EQ(DiffJson(a, {{"x", {{"y", 1}}}}).size(), 1u);  // the empty object went away
}

}  // namespace json_diff_test
}  // namespace ipfs_accel::cli
