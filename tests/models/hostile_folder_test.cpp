// Hostile model folders, as an attacker would publish them: a shard index that names files
// outside the folder, links that lead out or loop, FIFOs, folders where files belong, values
// of the wrong type, nesting that would overflow a stack. Each ends in one core::Error of a
// documented kind that names the thing; nothing outside the folder is read.

#include <sys/stat.h>

#include <climits>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace hostile_folder_test {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;
using testing::CatchError;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

const fs::path kBert = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/bert";

// A sharded checkpoint folder whose index maps every weight to `shard`.
void WriteIndex(const fs::path& dir, const nlohmann::json& shard) {
  nlohmann::json map = nlohmann::json::object();
  map["bert.embeddings.word_embeddings.weight"] = shard;
  std::ofstream(dir / "model.safetensors.index.json")
      << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", map}}.dump();
}

Error OpenWeights(const fs::path& dir) {
  return CatchError([&] { SafetensorsWeights weights(dir.string(), {}); });
}

TEST(HostileFolder, AShardIndexNamingAPathOutsideTheFolderIsRefusedUnread) {
  TempDir dir;
  for (const std::string shard : {"../../../../../../etc/passwd", "/etc/passwd"}) {
    WriteIndex(dir.path(), shard);
    const Error e = OpenWeights(dir.path());
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(shard));
    EXPECT_THAT(e.what(), HasSubstr("model folder"));
    EXPECT_THAT(e.what(), Not(HasSubstr("root:")));  // no byte of the file is quoted
  }
}

TEST(HostileFolder, AValidShardOutsideTheFolderIsNotLoaded) {
  TempDir root;
  fs::create_directories(root.path() / "model");
  fs::copy_file(kBert / "model.safetensors", root.path() / "elsewhere.safetensors");
  WriteIndex(root.path() / "model", "../elsewhere.safetensors");
  const Error e = OpenWeights(root.path() / "model");
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("outside the model folder"));
}

TEST(HostileFolder, AShardLinkInsideTheFolderThatLeadsOutIsRefused) {
  TempDir root;
  fs::create_directories(root.path() / "model");
  fs::create_symlink(kBert / "model.safetensors", root.path() / "model/model-00001.safetensors");
  WriteIndex(root.path() / "model", "model-00001.safetensors");
  EXPECT_THAT(OpenWeights(root.path() / "model").what(), HasSubstr("outside the model folder"));
  // The same for an unsharded checkpoint's own file.
  TempDir single;
  fs::create_symlink(kBert / "model.safetensors", single.path() / "model.safetensors");
  EXPECT_THAT(OpenWeights(single.path()).what(), HasSubstr("outside the model folder"));
}

TEST(HostileFolder, TheHubCacheLayoutOfSnapshotsLinkingToBlobsIsAccepted) {
  TempDir cache;
  const fs::path repo = cache.path() / "models--prajjwal1--bert-tiny";
  const fs::path snapshot = repo / "snapshots/0123abcd";
  fs::create_directories(snapshot);
  fs::create_directories(repo / "blobs");
  fs::copy_file(kBert / "model.safetensors", repo / "blobs/5e2f");
  fs::copy_file(kBert / "config.json", repo / "blobs/c0f1");
  fs::create_symlink("../../blobs/5e2f", snapshot / "model.safetensors");
  fs::create_symlink("../../blobs/c0f1", snapshot / "config.json");
  EXPECT_NO_THROW(HfConfig::Load(snapshot.string()));
  SafetensorsWeights weights(snapshot.string(), {});
  EXPECT_EQ(weights.files().size(), 1u);
}

TEST(HostileFolder, AWeightMapValueOfTheWrongTypeIsCorruptNotAnInternalError) {
  TempDir dir;
  for (const nlohmann::json& value :
       {nlohmann::json(5), nlohmann::json::array({"a"}), nlohmann::json(nullptr)}) {
    WriteIndex(dir.path(), value);
    const Error e = OpenWeights(dir.path());
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("bert.embeddings.word_embeddings.weight"));
  }
  std::ofstream(dir.File("model.safetensors.index.json")) << R"({"weight_map": []})";
  EXPECT_EQ(OpenWeights(dir.path()).kind(), ErrorKind::kCorrupt);
  std::ofstream(dir.File("model.safetensors.index.json")) << R"({"weight_map": {}})";
  EXPECT_THAT(OpenWeights(dir.path()).what(), HasSubstr("empty weight_map"));
}

TEST(HostileFolder, AShardThatIsAFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.File("model-00001.safetensors").c_str(), 0600), 0);
  WriteIndex(dir.path(), "model-00001.safetensors");
  const Error e = OpenWeights(dir.path());
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("FIFO"));
}

TEST(HostileFolder, ASafetensorsPathThatIsADirectorySaysSo) {
  TempDir dir;
  fs::create_directories(dir.path() / "model.safetensors");
  const Error e = OpenWeights(dir.path());
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("is a directory, not a file"));
}

TEST(HostileFolder, AConfigThatIsADirectoryALoopOrTooDeepEndsInItsOwnError) {
  TempDir dir;
  fs::create_directories(dir.path() / "config.json");
  Error e = CatchError([&] { HfConfig::Load(dir.path().string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("is a directory"));

  TempDir loop;
  fs::create_symlink("config.json", loop.path() / "config.json");
  e = CatchError([&] { HfConfig::Load(loop.path().string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("loop"));

  TempDir deep;
  std::ofstream(deep.File("config.json"))
      << "{\"model_type\": \"bert\", \"x\": " << std::string(100000, '[')
      << std::string(100000, ']') << "}";
  e = CatchError([&] { HfConfig::Load(deep.path().string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("nests more than"));
}

TEST(HostileFolder, LoadingAFolderWithAnEscapingIndexFailsBeforeAnyWeightIsRead) {
  TempDir dir;
  fs::copy_file(kBert / "config.json", dir.path() / "config.json");
  WriteIndex(dir.path(), "../../../../../../etc/passwd");
  const Error e = CatchError([&] { LoadModel(dir.path().string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("outside the model folder"));
}

}  // namespace hostile_folder_test
}  // namespace ipfs_accel::models

namespace ipfs_accel::models {
namespace hostile_folder_test {

// A copy of the BERT fixture whose config.json has `key` set to `value`.
fs::path FolderWith(const TempDir& dir, const std::string& key, const nlohmann::json& value) {
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kBert / "config.json"));
  config[key] = value;
  std::ofstream(dir.path() / "config.json") << config.dump();
  fs::copy_file(kBert / "model.safetensors", dir.path() / "model.safetensors");
  return dir.path();
}

TEST(LimitsBeforeAllocation, AConfigOfAbsurdSizesIsRefusedBeforeAnyWeightIsMade) {
  TempDir dir;
  const fs::path folder = FolderWith(dir, "vocab_size", int64_t{INT32_MAX});
  const Error e =
      CatchError([&] { LoadModel(folder.string(), {.max_weight_bytes = int64_t{64} << 30}); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("parameters: its float32 weights need"));
}

TEST(LimitsBeforeAllocation, ASizeThatIsNegativeOrPastTwoToThe31IsCorruptNamingTheKey) {
  for (const int64_t value : {int64_t{-26}, int64_t{1} << 50}) {
    TempDir dir;
    const fs::path folder = FolderWith(dir, "num_hidden_layers", value);
    const Error e = CatchError([&] { CountParameters(folder.string()); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("'num_hidden_layers' is " + std::to_string(value)));
  }
}

TEST(LimitsBeforeAllocation, AbsurdLayerCountsAreRefusedBeforeTheGraphExhaustsMemory) {
  TempDir dir;
  const fs::path folder = FolderWith(dir, "num_hidden_layers", 751654);  // found by fuzzing
  const Error e = CatchError([&] { CountParameters(folder.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("a graph of more than 500000 nodes"));
}

TEST(LimitsBeforeAllocation, SizesWhoseProductOverflowsAreRefusedNotWrappedAround) {
  TempDir dir;
  const fs::path folder = FolderWith(dir, "vocab_size", int64_t{INT32_MAX});
  nlohmann::json config = nlohmann::json::parse(std::ifstream(folder / "config.json"));
  config["hidden_size"] = INT32_MAX;
  config["intermediate_size"] = INT32_MAX;
  config["num_attention_heads"] = 1;
  std::ofstream(folder / "config.json") << config.dump();
  const Error e = CatchError([&] { CountParameters(folder.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("64 bits"));
}

TEST(LimitsBeforeAllocation, AModelBiggerThanTheMemoryGivenIsRefusedAndAFittingOneLoads) {
  EXPECT_EQ(CatchError([&] { LoadModel(kBert.string(), {.max_weight_bytes = 1000}); }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([&] { LoadModel("bert-base-uncased", {.max_weight_bytes = 1000}); }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_NO_THROW(LoadModel(kBert.string(), {.max_weight_bytes = int64_t{1} << 30}));
}

}  // namespace hostile_folder_test
}  // namespace ipfs_accel::models
