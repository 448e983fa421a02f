// Hostile paths: what is not a regular file is refused by what it is, without being opened
// (a FIFO would block the test forever if it were).

#include "ipfs_accel/core/file_access.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::core {
namespace file_access_test {

namespace fs = std::filesystem;
using testing::CatchError;
using ::testing::HasSubstr;

TEST(OpenRegularFile, ReadsARegularFileThroughASymlink) {
  testing::TempDir dir;
  std::ofstream(dir.File("real")) << "bytes";
  fs::create_symlink(dir.File("real"), dir.File("link"));
  EXPECT_EQ(ReadRegularFile(dir.File("link")), "bytes");
}

TEST(OpenRegularFile, AFifoIsRefusedWithoutBlocking) {
  testing::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.File("pipe").c_str(), 0600), 0);
  const Error e = CatchError([&] { OpenRegularFile(dir.File("pipe")); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("is a FIFO (named pipe), not a file"));
  EXPECT_THAT(e.what(), HasSubstr(dir.File("pipe")));
}

TEST(OpenRegularFile, ADirectoryIsRefusedAsADirectory) {
  testing::TempDir dir;
  const Error e = CatchError([&] { ReadRegularFile(dir.path().string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("is a directory, not a file"));
}

TEST(OpenRegularFile, ADeviceIsRefusedAsADevice) {
  const Error e = CatchError([&] { ReadRegularFile("/dev/zero"); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("character device"));
}

TEST(OpenRegularFile, ASymlinkLoopIsRefusedAsALoop) {
  testing::TempDir dir;
  fs::create_symlink(dir.File("b"), dir.File("a"));
  fs::create_symlink(dir.File("a"), dir.File("b"));
  const Error e = CatchError([&] { OpenRegularFile(dir.File("a")); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("symbolic link loop"));
}

TEST(OpenRegularFile, ADanglingSymlinkIsNotFoundAndSaysSo) {
  testing::TempDir dir;
  fs::create_symlink(dir.File("gone"), dir.File("link"));
  const Error e = CatchError([&] { OpenRegularFile(dir.File("link")); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_THAT(e.what(), HasSubstr("symbolic link to nothing"));
}

TEST(OpenRegularFile, AMissingFileAndAFileUsedAsAFolderAreNotFound) {
  testing::TempDir dir;
  std::ofstream(dir.File("plain")) << "x";
  EXPECT_EQ(CatchError([&] { OpenRegularFile(dir.File("none")); }).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(CatchError([&] { OpenRegularFile(dir.File("plain") + "/inside"); }).kind(),
            ErrorKind::kNotFound);
  EXPECT_EQ(CatchError([&] { OpenRegularFile(""); }).kind(), ErrorKind::kInvalidArgument);
}

TEST(OpenRegularFile, AnUnreadableFileIsAnIoErrorThatSaysPermission) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  testing::TempDir dir;
  std::ofstream(dir.File("secret")) << "x";
  fs::permissions(dir.File("secret"), fs::perms::none);
  const Error e = CatchError([&] { OpenRegularFile(dir.File("secret")); });
  EXPECT_EQ(e.kind(), ErrorKind::kIo);
  EXPECT_THAT(e.what(), HasSubstr("permission denied"));
}

TEST(ReadRegularFile, AFileOverItsLimitIsRefusedBeforeItIsRead) {
  testing::TempDir dir;
  std::ofstream(dir.File("big")) << std::string(100, 'x');
  EXPECT_EQ(ReadRegularFile(dir.File("big"), 100).size(), 100u);
  const Error e = CatchError([&] { ReadRegularFile(dir.File("big"), 99); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("100 bytes"));
}

}  // namespace file_access_test
}  // namespace ipfs_accel::core
