// `templates`: validate's JSON and what it stores, add (a failing file refused, nothing copied;
// a good one copied where every command reads it), diff, show, report, and the template a
// benchmark's results record.

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace templates_cli_test {

using nlohmann::json;

class TemplatesCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    user_dir_ = dir_ / "user-templates";
    env_ = "IPFS_ACCEL_TEMPLATE_PATH=" + user_dir_.string() + " ";
  }

  // A template file in the test's folder.
  std::string WriteTemplate(const std::string& name, const json& body) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << body.dump(2);
    return path.string();
  }

  // A llama-like variant: data only.
  static json Variant(const std::string& model_type, int version) {
    return {{"model_type", model_type},
            {"inherits", "llama"},
            {"version", version},
            {"history", json::array({{{"version", version}, {"reason", "a test variant"}}})},
            {"pieces", {{"sliding_window", "all"}}},
            {"defaults", {{"sliding_window", 4096}}}};
  }

  std::string Query(const std::string& sql) {
    auto store = store::ResultStore::Open(db_, {.read_only = true});
    return store->Query(sql).rows.at(0).at(0).value_or("NULL");
  }

  fs::path user_dir_;
};

TEST_F(TemplatesCliTest, ValidateJsonIsOneObjectPerModelTypeAndIsStored) {
  const Result r = Run("templates validate mistral bert encoder-decoder --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const json outcomes = json::parse(r.out);
  ASSERT_TRUE(outcomes.is_array());
  ASSERT_EQ(outcomes.size(), 3u) << r.out;
  for (const json& o : outcomes)
    for (const char* key : {"model_type", "status", "parameters", "expected_parameters", "reason"})
      EXPECT_TRUE(o.contains(key)) << key << " in " << o.dump();
  const auto find = [&](const std::string& type) {
    for (const json& o : outcomes)
      if (o["model_type"] == type) return o;
    return json();
  };
  // MistralForCausalLM's count at MistralConfig's defaults.
  EXPECT_EQ(find("mistral")["status"], "structural") << find("mistral").dump();
  EXPECT_EQ(find("mistral")["parameters"], 7241732096);
  EXPECT_EQ(find("mistral")["expected_parameters"], 7241732096);
  // EncoderDecoderConfig wraps two other configs and has no structure of its own: it stays
  // unsupported whatever templates are added.
  EXPECT_EQ(find("encoder-decoder")["status"], "unsupported");
  EXPECT_TRUE(find("encoder-decoder")["parameters"].is_null());
  EXPECT_FALSE(find("encoder-decoder")["reason"].get<std::string>().empty());
  EXPECT_EQ(Query("SELECT count(*) FROM template_validations"), "3");
  EXPECT_EQ(Query("SELECT count(*) > 30 FROM templates"), "true");
  EXPECT_EQ(Query("SELECT count(*) FROM template_dependencies WHERE model_type = 'mistral' AND "
                  "kind = 'inherits'"),
            "1");
}

TEST_F(TemplatesCliTest, AddingAFailingTemplateFileIsRefusedAndNothingIsCopied) {
  json bad = Variant("my_broken_llama", 1);
  bad["pieces"]["norm"] = "no_such_norm";  // the decoder builder refuses it
  const std::string file = WriteTemplate("bad.json", bad);
  const Result r = Run("templates add " + file + " --db " + db_);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(user_dir_ / "my_broken_llama.json"));
  EXPECT_NE(Run("templates show my_broken_llama").status, 0);
}

TEST_F(TemplatesCliTest, AddingAVariantCopiesItWhereEveryCommandReadsIt) {
  const std::string file = WriteTemplate("v.json", Variant("my_llama", 1));
  const Result r = Run("templates add " + file + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(user_dir_ / "my_llama.json"));
  const Result list = Run("templates list --format csv --db " + db_);
  EXPECT_NE(list.out.find("my_llama,decoder,llama,1,structural"), std::string::npos) << list.out;
  EXPECT_EQ(Query("SELECT count(*) FROM templates WHERE model_type = 'my_llama'"), "1");
}

TEST_F(TemplatesCliTest, WithoutTemplatePathAddCopiesIntoTheXdgDataFolder) {
  env_ = "-u IPFS_ACCEL_TEMPLATE_PATH XDG_DATA_HOME=" + (dir_ / "xdg").string() + " ";
  const std::string file = WriteTemplate("v.json", Variant("my_xdg_llama", 1));
  ASSERT_EQ(Run("templates add " + file + " --db " + db_).status, 0);
  EXPECT_TRUE(fs::exists(dir_ / "xdg/ipfs-accelerate/templates/my_xdg_llama.json"));
  EXPECT_EQ(Run("templates show my_xdg_llama --json").status, 0);
}

TEST_F(TemplatesCliTest, AChangedTemplateUnderAStoredVersionIsRefused) {
  ASSERT_EQ(
      Run("templates validate " + WriteTemplate("a.json", Variant("my_llama", 1)) + " --db " + db_)
          .status,
      0);
  json changed = Variant("my_llama", 1);
  changed["defaults"]["sliding_window"] = 2048;
  const Result r = Run("templates validate " + WriteTemplate("b.json", changed) + " --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("template 'my_llama'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bump its version"), std::string::npos) << r.err;
}

TEST_F(TemplatesCliTest, DiffShowsEveryKeyThatDiffersByName) {
  const Result r = Run("templates diff llama mistral --format csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("key,llama,mistral"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nmodel_type,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\npieces.sliding_window,"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\npieces.norm,"), std::string::npos) << r.out;  // the same in both
}

TEST_F(TemplatesCliTest, DiffComparesAFileAndStoredVersions) {
  const std::string file = WriteTemplate("v.json", Variant("my_llama", 1));
  const Result against_file = Run("templates diff llama " + file + " --json");
  ASSERT_EQ(against_file.status, 0) << against_file.err;
  const json rows = json::parse(against_file.out);
  ASSERT_TRUE(rows.is_array());
  bool window = false;
  for (const json& row : rows) window = window || row["key"] == "defaults.sliding_window";
  EXPECT_TRUE(window) << against_file.out;

  ASSERT_EQ(Run("templates validate llama --db " + db_).status, 0);
  const Result stored = Run("templates diff llama@1 llama --db " + db_);
  EXPECT_EQ(stored.status, 0) << stored.err;
  EXPECT_NE(stored.out.find("resolve to the same template"), std::string::npos) << stored.out;
  const Result missing = Run("templates diff llama@999 llama --db " + db_);
  EXPECT_EQ(missing.status, 3) << missing.err;
  EXPECT_NE(missing.err.find("version 999 is not stored"), std::string::npos) << missing.err;
}

TEST_F(TemplatesCliTest, ShowJsonPrintsTheResolvedTemplate) {
  const Result r = Run("templates show mistral --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json t = json::parse(r.out);
  EXPECT_EQ(t["model_type"], "mistral");
  EXPECT_EQ(t["builder"], "decoder");
  EXPECT_EQ(Run("templates show no_such_type").status, 3);
}

TEST_F(TemplatesCliTest, ReportIsTheStoredOutcomesAsMarkdown) {
  ASSERT_EQ(Run("templates validate mistral encoder-decoder --db " + db_).status, 0);
  const Result r = Run("templates report --format markdown --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("# Template status"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 model types: 0 exact, 1 structural, 0 failed, 1 unsupported"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| mistral "), std::string::npos) << r.out;
}

TEST_F(TemplatesCliTest, ABenchmarkResultRecordsItsTemplateAndVersion) {
  SeedDatabase();
  EXPECT_EQ(Query("SELECT format('{} {}', template_name, template_version > 0) FROM "
                  "performance_results"),
            "bert true");
}

}  // namespace templates_cli_test
}  // namespace ipfs_accel
