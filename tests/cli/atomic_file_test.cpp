// WriteFileAtomically: the file appears whole, replaces what was there, leaves no temporary
// file, and a failure names the path and leaves the old file as it was.

#include "cli/atomic_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::cli {
namespace atomic_file_test {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(WriteFileAtomically, WritesAndReplacesWithoutLeftovers) {
  testing::TempDir dir;
  const std::string path = dir.File("out.html");
  WriteFileAtomically(path, "first");
  EXPECT_EQ(Read(path), "first");
  const std::string binary("a\0b", 3);
  WriteFileAtomically(path, binary);
  EXPECT_EQ(Read(path), binary);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
  // Not mkstemp's 0600: readable by others as any file this user writes (umask permitting).
  const mode_t mask = ::umask(022);
  ::umask(mask);
  WriteFileAtomically(path, "x");
  EXPECT_EQ(static_cast<unsigned>(fs::status(path).permissions() & fs::perms::all),
            0666u & ~static_cast<unsigned>(mask));
}

TEST(WriteFileAtomically, MissingFolderIsAnIoErrorNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.File("no/such/report.md");
  const core::Error e = testing::CatchError([&] { WriteFileAtomically(path, "x"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kIo);
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST(WriteFileAtomically, TargetThatCannotBeReplacedKeepsItsContents) {
  testing::TempDir dir;
  // A non-empty folder at the path: rename(2) cannot replace it.
  const fs::path target = dir.path() / "taken";
  fs::create_directories(target / "inside");
  const core::Error e = testing::CatchError([&] { WriteFileAtomically(target.string(), "x"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kIo);
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e2 : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);  // the temporary file was removed
}

}  // namespace atomic_file_test
}  // namespace ipfs_accel::cli
