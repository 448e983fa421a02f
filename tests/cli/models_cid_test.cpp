// `models cid`: the program's output for a file and a folder, and its refusals, one line each.

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace models_cid_test {

class ModelsCidTest : public CliTest {};

// "hello" without a newline: the CID the issue quotes (and ipfs_cid prints).
TEST_F(ModelsCidTest, AFileGetsTheCidIpfsAddGivesIt) {
  std::ofstream(dir_ / "hello.txt") << "hello";
  const Result r = Run("models cid " + (dir_ / "hello.txt").string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX  hello.txt\n");
}

TEST_F(ModelsCidTest, AFolderListsItsEntriesThenItsRootAsJson) {
  const fs::path model = CopyFixture();
  const Result r = Run("models cid --cid-version 1 --json " + model.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["directory"].get<bool>());
  EXPECT_EQ(j["cid_version"], 1);
  EXPECT_EQ(j["cid"].get<std::string>().rfind("bafybei", 0), 0u) << j.dump();
  uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(model)) bytes += fs::file_size(e.path());
  EXPECT_EQ(j["size"].get<uint64_t>(), bytes);
  EXPECT_FALSE(j["entries"].empty());
  for (const auto& e : j["entries"]) EXPECT_TRUE(fs::exists(model / e["path"].get<std::string>()));
}

TEST_F(ModelsCidTest, BadInputIsOneLineAndANonZeroStatus) {
  const Result missing = Run("models cid " + (dir_ / "absent").string());
  EXPECT_EQ(missing.status, 3);
  ASSERT_EQ(missing.ErrorLines().size(), 1u) << missing.err;
  EXPECT_NE(missing.err.find("absent"), std::string::npos);
  const Result version = Run("models cid --cid-version 2 " + dir_.string());
  EXPECT_EQ(version.status, 2);
  EXPECT_EQ(version.ErrorLines().size(), 1u) << version.err;
}

}  // namespace models_cid_test
}  // namespace ipfs_accel
