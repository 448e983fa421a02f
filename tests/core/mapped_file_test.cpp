#include "ipfs_accel/core/mapped_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::core {
namespace mapped_file_test {

TEST(MappedFile, ReadsTheBytesOfAFileAsTheyAre) {
  testing::TempDir dir;
  const std::string path = dir.File("bytes.bin");
  const std::string bytes("{\"a\": 1}\n\0\xff", 11);
  std::ofstream(path, std::ios::binary) << bytes;
  const MappedFile file(path);
  EXPECT_EQ(file.size(), bytes.size());
  EXPECT_EQ(file.text(), bytes);
}

TEST(MappedFile, AnEmptyFileIsEmpty) {
  testing::TempDir dir;
  const std::string path = dir.File("empty");
  std::ofstream(path).close();
  const MappedFile file(path);
  EXPECT_EQ(file.size(), 0u);
  EXPECT_TRUE(file.text().empty());
}

TEST(MappedFile, AMissingFileIsNotFoundAndAFolderCannotBeMapped) {
  testing::TempDir dir;
  const Error missing = testing::CatchError([&] { MappedFile file(dir.File("nope")); });
  EXPECT_EQ(missing.kind(), ErrorKind::kNotFound);
  EXPECT_NE(std::string(missing.what()).find("nope"), std::string::npos) << missing.what();
  const Error folder = testing::CatchError([&] { MappedFile file(dir.path().string()); });
  EXPECT_EQ(folder.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(folder.what()).find("is a directory, not a file"), std::string::npos)
      << folder.what();
}

}  // namespace mapped_file_test
}  // namespace ipfs_accel::core
