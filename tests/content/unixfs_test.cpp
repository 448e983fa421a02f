// The importer's own rules: what it refuses, and what must not change a CID. (What the CIDs are
// is checked against reference implementations in unixfs_reference_test.cpp.)

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "content/content_files.h"
#include "ipfs_accel/content/unixfs.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::content {
namespace unixfs_test {

namespace fs = std::filesystem;
using testing::CatchError;

TEST(Unixfs, HelloWithoutANewlineHasTheCidTheIssueQuotes) {
  EXPECT_EQ(ImportBytes("hello").cid.ToString(), "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX");
}

TEST(Unixfs, ACidVersionOtherThanZeroOrOneIsRefused) {
  for (int version : {-1, 2}) {
    const core::Error e = CatchError([&] { ImportBytes("x", {.cid_version = version}); });
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(std::to_string(version)), std::string::npos);
  }
}

TEST(Unixfs, TheNumberOfHashingThreadsDoesNotChangeTheCid) {
  std::string bytes(40 * kChunkSize + 3, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 % 251);
  for (int version : {0, 1}) {
    const Imported one = ImportBytes(bytes, {.cid_version = version, .threads = 1});
    for (unsigned threads : {2u, 3u, 7u}) {
      const Imported many = ImportBytes(bytes, {.cid_version = version, .threads = threads});
      EXPECT_EQ(many.cid, one.cid) << threads << " threads, CIDv" << version;
      EXPECT_EQ(many.dag_size, one.dag_size);
    }
    EXPECT_EQ(one.size, bytes.size());
  }
}

TEST(Unixfs, AMissingPathIsNotFoundNamingIt) {
  testing::TempDir tmp;
  const core::Error e = CatchError([&] { ImportPath(tmp.File("absent")); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kNotFound);
  EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
}

TEST(Unixfs, AFifoInAFolderIsRefusedNamingIt) {
  testing::TempDir tmp;
  std::ofstream(tmp.File("config.json")) << "{}";
  ASSERT_EQ(::mkfifo(tmp.File("pipe").c_str(), 0600), 0);
  const core::Error e = CatchError([&] { ImportPath(tmp.path().string()); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("pipe"), std::string::npos) << e.what();
}

// kubo shards a folder whose links' names and CIDs reach 256 KiB; 960 names of 240 bytes with
// 34-byte CIDv0s are 263 040 bytes.
TEST(Unixfs, AFolderKuboWouldShardIsRefusedNamingIt) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "wide";
  fs::create_directories(dir);
  for (int i = 0; i < 960; ++i) {
    std::string name = std::to_string(i);
    name.insert(0, 240 - name.size(), 'f');
    std::ofstream(dir / name);
  }
  const core::Error e = CatchError([&] { ImportPath(dir.string()); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("wide"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("HAMT"), std::string::npos) << e.what();
}

TEST(Unixfs, AFolderListsEveryEntryBeneathItWithItsOwnCid) {
  testing::TempDir tmp;
  fs::create_directories(tmp.path() / "sub");
  std::ofstream(tmp.File("sub/a")) << "hello";
  std::ofstream(tmp.File(".hidden")) << "x";
  const ImportedPath p = ImportPath(tmp.path().string());
  EXPECT_TRUE(p.directory);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].path, "sub/a");
  EXPECT_EQ(p.entries[0].imported.cid, ImportBytes("hello").cid);
  EXPECT_EQ(p.entries[1].path, "sub");
  EXPECT_TRUE(p.entries[1].directory);
  EXPECT_EQ(p.root.size, 5u);
}

}  // namespace unixfs_test
}  // namespace ipfs_accel::content
