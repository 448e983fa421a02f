// The template database (schema v9): templates stored once per version with their history,
// variables, pieces and dependencies; a changed template under a stored version refused; the
// latest validation of each model type read back.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/result_store.h"
#include "ipfs_accel/store/template_records.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace template_store_test {

using ::testing::HasSubstr;

TemplateRecord Mistral(int64_t version, const std::string& resolved) {
  TemplateRecord t;
  t.model_type = "mistral";
  t.version = version;
  t.builder = "decoder";
  t.inherits = "llama";
  t.hf_config_class = "MistralConfig";
  t.source = "data/templates/decoder/mistral.json";
  t.content_hash = "sha256:" + std::to_string(std::hash<std::string>{}(resolved));
  t.resolved_json = resolved;
  for (int64_t v = 1; v <= version; ++v) t.history.push_back({v, "version " + std::to_string(v)});
  t.variables = {{"sliding_window", "sliding_window", "4096"}, {"n_embd", "hidden_size", "null"}};
  t.pieces = {{"sliding_window", R"("all")"}, {"norm", R"("rms")"}};
  t.dependencies = {{"llama", "inherits"}, {"decoder", "builder"}};
  return t;
}

std::string Cell(ResultStore& store, const std::string& sql) {
  const QueryResult r = store.Query(sql);
  if (r.rows.size() != 1 || r.rows[0].empty()) return "<" + std::to_string(r.rows.size()) + ">";
  return r.rows[0][0].value_or("NULL");
}

class TemplateStoreTest : public ::testing::Test {
 protected:
  ipfs_accel::testing::TempDir dir_;
  std::string db_ = dir_.File("t.duckdb");
};

TEST_F(TemplateStoreTest, StoresATemplateWithItsHistoryVariablesPiecesAndDependencies) {
  auto store = ResultStore::Open(db_);
  store->WriteTemplates({Mistral(2, R"({"model_type":"mistral"})")}, "abc123");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{} {} {} {} {}', model_type, version, builder, inherits, "
                 "git_commit) FROM templates"),
            "mistral 2 decoder llama abc123");
  EXPECT_EQ(Cell(*store,
                 "SELECT string_agg(format('{}:{}:{}', version, reason, content_hash IS NOT NULL), "
                 "' ' ORDER BY version) FROM template_versions"),
            "1:version 1:false 2:version 2:true");
  EXPECT_EQ(Cell(*store,
                 "SELECT format('{}={}', canonical_name, hf_default) FROM template_variables "
                 "WHERE key = 'n_embd'"),
            "hidden_size=null");
  EXPECT_EQ(Cell(*store, "SELECT count(*) FROM template_helpers"), "2");
  EXPECT_EQ(Cell(*store,
                 "SELECT string_agg(kind || ':' || depends_on, ' ' ORDER BY kind) FROM "
                 "template_dependencies"),
            "builder:decoder inherits:llama");
  ASSERT_TRUE(FindStoredTemplate(*store, "mistral").has_value());
  EXPECT_EQ(FindStoredTemplate(*store, "mistral")->resolved_json, R"({"model_type":"mistral"})");
  EXPECT_FALSE(FindStoredTemplate(*store, "mistral", 1).has_value());
}

TEST_F(TemplateStoreTest, TheSameVersionWithTheSameContentIsStoredOnce) {
  auto store = ResultStore::Open(db_);
  store->WriteTemplates({Mistral(1, "{}")}, "a");
  store->WriteTemplates({Mistral(1, "{}")}, "b");
  EXPECT_EQ(Cell(*store, "SELECT count(*) || ' ' || max(git_commit) FROM templates"), "1 a");
}

TEST_F(TemplateStoreTest, AChangedTemplateWithoutANewVersionIsRefusedAndNothingIsWritten) {
  auto store = ResultStore::Open(db_);
  store->WriteTemplates({Mistral(1, R"({"a":1})")}, "a");
  TemplateRecord other = Mistral(1, R"({"model_type":"other"})");
  other.model_type = "other";
  try {
    store->WriteTemplates({other, Mistral(1, R"({"a":2})")}, "b");
    ADD_FAILURE() << "a changed template under a stored version was stored";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("template 'mistral'"));
    EXPECT_THAT(e.what(), HasSubstr("version 1"));
    EXPECT_THAT(e.what(), HasSubstr("bump its version"));
  }
  EXPECT_EQ(Cell(*store, "SELECT string_agg(model_type, ' ') FROM templates"), "mistral");
  // A new version of the changed content is fine, and the old one stays.
  store->WriteTemplates({Mistral(2, R"({"a":2})")}, "c");
  EXPECT_EQ(
      Cell(*store, "SELECT string_agg(version::VARCHAR, ' ' ORDER BY version) FROM templates"),
      "1 2");
  EXPECT_EQ(FindStoredTemplate(*store, "mistral", 1)->resolved_json, R"({"a":1})");
}

TEST_F(TemplateStoreTest, LatestValidationOfEachModelTypeIsTheLastWritten) {
  auto store = ResultStore::Open(db_);
  store->WriteTemplateValidations(
      {{"llama", 1, "failed", 10, 12, "count differs", 0.5, "2026-12-01T00:00:00Z", "a"},
       {"falcon", std::nullopt, "unsupported", std::nullopt, 7, "ALiBi", std::nullopt,
        "2026-12-01T00:00:00Z", "a"}});
  store->WriteTemplateValidations(
      {{"llama", 2, "structural", 12, 12, "", 0.25, "2026-12-02T00:00:00Z", "b"}});
  const auto latest = LatestTemplateValidations(*store);
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest.at("llama").status, "structural");
  EXPECT_EQ(latest.at("llama").version, 2);
  EXPECT_EQ(latest.at("llama").parameters, 12);
  EXPECT_EQ(latest.at("falcon").status, "unsupported");
  EXPECT_FALSE(latest.at("falcon").version.has_value());
  EXPECT_EQ(latest.at("falcon").expected_parameters, 7);
}

}  // namespace template_store_test
}  // namespace ipfs_accel::store
