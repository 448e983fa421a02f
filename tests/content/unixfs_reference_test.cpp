// Root CIDs of files and folders against two implementations nobody here wrote: Debian's
// ipfs_cid (package ipfs-cid: the CIDv0 `ipfs add` gives a file) and ipfs-unixfs-importer, the
// reference JavaScript importer, with kubo's default settings (tests/content/
// unixfs_reference.mjs), at CIDv0 and at CIDv1 with raw leaves. Both are installed by
// scripts/bootstrap.sh; a test whose reference is missing is skipped, saying which.

#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "content/content_files.h"
#include "ipfs_accel/content/unixfs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::content {
namespace unixfs_reference_test {

namespace fs = std::filesystem;
using testing::Lines;
using testing::Quoted;
using testing::RunCapture;

const std::string kNodeModules = IPFS_ACCEL_SOURCE_DIR "/third_party/prefix/share/node_modules";
const std::string kScript = IPFS_ACCEL_SOURCE_DIR "/tests/content/unixfs_reference.mjs";

// Sizes around the chunk boundary, one of several chunks, and one of 175 chunks: past the 174
// links of one node, so the DAG needs a second layer of nodes.
const std::vector<uint64_t> kSizes = {
    0, 1, kChunkSize - 1, kChunkSize, kChunkSize + 1, 10000000, kMaxLinks* kChunkSize + 1};

bool Installed(const std::string& program) {
  bool ok = false;
  RunCapture("command -v " + program + " >/dev/null", &ok);
  return ok;
}

class UnixfsReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    for (uint64_t size : kSizes) {
      files_.push_back(dir_->File("size_" + std::to_string(size)));
      testing::WriteDeterministicFile(files_.back(), size, size);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    files_.clear();
  }

  // The JS importer's root CIDs of `paths` at CIDv0, then at CIDv1 (one Node.js run).
  static std::vector<std::string> JsCids(const std::vector<std::string>& paths) {
    std::string cmd = "node " + Quoted(kScript) + " " + Quoted(kNodeModules) + " 0,1";
    for (const auto& p : paths) cmd += " " + Quoted(p);
    bool ok = false;
    std::vector<std::string> cids = Lines(RunCapture(cmd, &ok));
    EXPECT_TRUE(ok) << cmd;
    return cids;
  }

  static bool HaveJs() {
    return Installed("node") && fs::exists(kNodeModules + "/ipfs-unixfs-importer/package.json");
  }

  static std::string Ours(const std::string& path, int version) {
    return ImportPath(path, {.cid_version = version}).root.cid.ToString();
  }

  static testing::TempDir* dir_;
  static std::vector<std::string> files_;
};

testing::TempDir* UnixfsReference::dir_ = nullptr;
std::vector<std::string> UnixfsReference::files_;

#define SKIP_WITHOUT_JS()                                                                   \
  if (!HaveJs())                                                                            \
  GTEST_SKIP() << "the reference importer is not installed (node and ipfs-unixfs-importer " \
                  "under third_party/prefix/share/node_modules): run scripts/bootstrap.sh"

TEST_F(UnixfsReference, FileCidsV0EqualDebiansIpfsCidAtEverySize) {
  if (!Installed("ipfs_cid"))
    GTEST_SKIP() << "ipfs_cid is not installed (Debian package ipfs-cid): run scripts/bootstrap.sh";
  for (const auto& file : files_) {
    bool ok = false;
    const std::string out = RunCapture("ipfs_cid " + Quoted(file) + " 2>/dev/null", &ok);
    ASSERT_TRUE(ok) << out;
    EXPECT_EQ(Ours(file, 0), nlohmann::json::parse(out).at("CIDv0").get<std::string>()) << file;
  }
}

TEST_F(UnixfsReference, FileCidsEqualTheJavaScriptImportersAtBothVersionsAndEverySize) {
  SKIP_WITHOUT_JS();
  const std::vector<std::string> theirs = JsCids(files_);
  ASSERT_EQ(theirs.size(), 2 * files_.size());
  for (int version : {0, 1})
    for (size_t i = 0; i < files_.size(); ++i)
      EXPECT_EQ(Ours(files_[i], version), theirs[version * files_.size() + i])
          << files_[i] << " at CIDv" << version;
}

// A model folder as Hugging Face lays it out, with what tests the directory rules: names whose
// bytewise order is not their case-blind order, an empty file, a nested folder, an empty
// folder, a symlinked shard (read through) and hidden entries (left out).
void WriteModelFolder(const fs::path& root) {
  fs::create_directories(root / "tokenizer");
  fs::create_directories(root / "empty");
  fs::create_directories(root / ".cache" / "huggingface");
  std::ofstream(root / "config.json") << R"({"model_type": "bert", "hidden_size": 8})";
  std::ofstream(root / ".gitattributes") << "*.safetensors filter=lfs\n";
  std::ofstream(root / "README.md") << "# tiny\n";
  std::ofstream(root / "tokenizer" / "vocab.txt") << "[PAD]\n[UNK]\n";
  std::ofstream(root / "added_tokens.json");
  testing::WriteDeterministicFile(root / "model-00001-of-00002.safetensors", 3 * kChunkSize + 5, 7);
  testing::WriteDeterministicFile(root.parent_path() / "blob", kChunkSize + 9, 8);
  fs::create_symlink(root.parent_path() / "blob", root / "model-00002-of-00002.safetensors");
}

TEST_F(UnixfsReference, FolderCidsEqualTheJavaScriptImportersAtBothVersions) {
  SKIP_WITHOUT_JS();
  testing::TempDir tmp;
  const fs::path model = tmp.path() / "model";
  WriteModelFolder(model);
  const fs::path single = tmp.path() / "single";  // a folder of one small file
  fs::create_directories(single);
  std::ofstream(single / "config.json") << "{}";
  const fs::path empty = tmp.path() / "nothing";
  fs::create_directories(empty);
  const std::vector<std::string> folders = {model.string(), single.string(), empty.string()};
  const std::vector<std::string> theirs = JsCids(folders);
  ASSERT_EQ(theirs.size(), 2 * folders.size());
  for (int version : {0, 1})
    for (size_t i = 0; i < folders.size(); ++i)
      EXPECT_EQ(Ours(folders[i], version), theirs[version * folders.size() + i])
          << folders[i] << " at CIDv" << version;
}

}  // namespace unixfs_reference_test
}  // namespace ipfs_accel::content
