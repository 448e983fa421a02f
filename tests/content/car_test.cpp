// CARv1 files: ours read by @ipld/car (the reference JavaScript implementation, which also walks
// every dag-pb link from the root) and @ipld/car's read and extracted to files by ours, every
// block's hash checked; a tampered or missing block refused naming it. And the same over HTTP:
// `FetchFromGateway` against a trustless gateway serving ipfs-unixfs-importer's DAG as
// @ipld/car writes it (car_reference.mjs serve). @ipld/car is installed by
// scripts/bootstrap.sh; the tests that need it are skipped, saying so, without it.

#include <signal.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "content/content_files.h"
#include "ipfs_accel/content/car.h"
#include "ipfs_accel/content/gateway.h"
#include "ipfs_accel/content/unixfs_extract.h"
#include "ipfs_accel/core/mapped_file.h"
#include "support/catch_error.h"
#include "support/child_process.h"
#include "support/reference_gateway.h"
#include "support/temp_dir.h"

namespace ipfs_accel::content {
namespace car_test {

namespace fs = std::filesystem;
using testing::CatchError;
using testing::Lines;
using testing::Quoted;
using testing::RunCapture;

const std::string kNodeModules = testing::ReferenceGateway::kNodeModules;
const std::string kScript = testing::ReferenceGateway::kScript;

bool HaveJs() {
  bool ok = false;
  RunCapture("command -v node >/dev/null", &ok);
  return ok && fs::exists(kNodeModules + "/@ipld/car/package.json") &&
         fs::exists(kNodeModules + "/ipfs-unixfs-importer/package.json");
}

std::vector<std::string> Js(const std::string& args) {
  bool ok = false;
  const std::string cmd = "node " + Quoted(kScript) + " " + Quoted(kNodeModules) + " " + args;
  std::vector<std::string> lines = Lines(RunCapture(cmd, &ok));
  EXPECT_TRUE(ok) << cmd;
  return lines;
}

struct ReadBack {
  std::vector<Cid> roots;
  std::set<std::string> cids;
};

ReadBack ReadCar(const std::string& path) {
  const core::MappedFile file(path);
  CarReader reader(file.text(), path);
  ReadBack r{reader.roots(), {}};
  while (auto block = reader.Next()) r.cids.insert(block->cid.ToString());
  return r;
}

void WriteFolder(const fs::path& dir) {
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "config.json") << R"({"model_type": "bert"})";
  testing::WriteDeterministicFile(dir / "model.safetensors", 2 * kChunkSize + 17, 3);
  testing::WriteDeterministicFile(dir / "sub" / "same.bin", kChunkSize, 5);
  testing::WriteDeterministicFile(dir / "sub" / "again.bin", kChunkSize, 5);  // a repeated block
}

std::string Contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Every visible file under `a` has the same bytes under `b`, and `b` has nothing else.
void ExpectSameTree(const fs::path& a, const fs::path& b) {
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    const fs::path rel = fs::relative(e.path(), a);
    if (rel.string().find('.') == 0 || e.is_directory()) continue;
    ++files;
    EXPECT_EQ(Contents(e.path()), Contents(b / rel)) << rel;
  }
  size_t extracted = 0;
  for (const auto& e : fs::recursive_directory_iterator(b)) extracted += !e.is_directory();
  EXPECT_EQ(extracted, files);
}

TEST(Car, OursAndTheReferenceReadEachOthersCarsWithTheSameRootBlocksAndFiles) {
  if (!HaveJs())
    GTEST_SKIP() << "@ipld/car or ipfs-unixfs-importer is not installed under "
                    "third_party/prefix/share/node_modules: run scripts/bootstrap.sh";
  testing::TempDir tmp;
  const fs::path folder = tmp.path() / "model";
  WriteFolder(folder);
  for (int version : {0, 1}) {
    const std::string ours = tmp.File("ours.car"), theirs = tmp.File("theirs.car");
    const ImportedPath imported = WriteCarFile(folder.string(), ours, {.cid_version = version});
    const std::vector<std::string> their_root =
        Js(fmt::format("write {} {} {}", version, Quoted(folder.string()), Quoted(theirs)));
    ASSERT_EQ(their_root.size(), 1u);
    EXPECT_EQ(imported.root.cid.ToString(), their_root[0]);

    // Theirs reads ours: root, every block hashed, every linked block present and no other.
    const std::vector<std::string> read = Js("read " + Quoted(ours));
    ASSERT_FALSE(read.empty());
    EXPECT_EQ(read[0], imported.root.cid.ToString());
    const ReadBack ours_back = ReadCar(ours);
    EXPECT_EQ(std::set<std::string>(read.begin() + 1, read.end()), ours_back.cids);

    // Ours reads theirs, checking every block; it holds every block of the DAG, and the files
    // extracted from it are the folder's.
    const ReadBack theirs_back = ReadCar(theirs);
    ASSERT_EQ(theirs_back.roots.size(), 1u);
    EXPECT_EQ(theirs_back.roots[0], imported.root.cid);
    for (const auto& cid : ours_back.cids) EXPECT_TRUE(theirs_back.cids.count(cid)) << cid;
    const core::MappedFile file(theirs);
    CarReader reader(file.text(), theirs);
    const fs::path out = tmp.path() / fmt::format("out{}", version);
    ExtractUnixfs(BlockSet::FromCar(reader), reader.roots().at(0), out.string());
    ExpectSameTree(folder, out);
  }
}

TEST(Car, AFileWithABlockMissingIsRefusedNamingItAndNothingIsWritten) {
  testing::TempDir tmp;
  testing::WriteDeterministicFile(tmp.path() / "file", 3 * kChunkSize, 9);
  BlockSet blocks;
  std::deque<std::string> kept;  // the blocks the set views
  std::optional<Cid> dropped;
  ImportOptions options;
  options.on_block = [&](const Cid& cid, std::string_view block) {
    if (!dropped) {
      dropped = cid;  // the first leaf
      return;
    }
    kept.emplace_back(block);
    blocks.Add({cid, kept.back()});
  };
  const Cid root = ImportPath(tmp.File("file"), options).root.cid;
  const core::Error e = CatchError([&] { ExtractUnixfs(blocks, root, tmp.File("out")); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find(dropped->ToString()), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(tmp.File("out")));
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(entry.path().filename(), "file");
}

TEST(Car, ATamperedBlockIsRefusedNamingItsCid) {
  testing::TempDir tmp;
  const std::string chunk(kChunkSize, 'A');
  std::ofstream(tmp.File("file")) << chunk << "tail";
  const std::string car = tmp.File("file.car");
  WriteCarFile(tmp.File("file"), car, {.cid_version = 1});
  std::string bytes;
  {
    std::ifstream in(car, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.find("AAAA") + 1000] = 'B';
  const core::Error e = CatchError([&] {
    CarReader reader(bytes, "file.car");
    while (reader.Next()) {
    }
  });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  const std::string leaf = Cid::Of(1, kRaw, chunk).ToString();  // the block that was changed
  EXPECT_NE(std::string(e.what()).find(leaf), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("file.car"), std::string::npos) << e.what();
}

TEST(Car, AFailedWriteLeavesNoCarBehind) {
  testing::TempDir tmp;
  const std::string car = tmp.File("out.car");
  EXPECT_EQ(CatchError([&] { WriteCarFile(tmp.File("absent"), car); }).kind(),
            core::ErrorKind::kNotFound);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Car, WhatIsNotACarv1IsRefused) {
  EXPECT_EQ(CatchError([] { CarReader("", "empty.car"); }).kind(), core::ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([] { CarReader("\x05hello", "text.car"); }).kind(),
            core::ErrorKind::kCorrupt);
  // A CARv2 file starts with this pragma (the CARv2 spec): {version: 2}.
  const std::string v2_pragma = "\x0a\xa1\x67version\x02";
  const core::Error e = CatchError([&] { CarReader(v2_pragma, "v2.car"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("v2.car"), std::string::npos) << e.what();
}

TEST(Car, ASectionCutShortIsRefusedWithItsOffset) {
  const Cid cid = Cid::Of(1, kRaw, "hello");
  const std::string header = CarHeader({cid});
  std::string car = header + CarSection(cid, "hello");
  car.pop_back();
  CarReader reader(car, "cut.car");
  const core::Error e = CatchError([&] { reader.Next(); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("byte " + std::to_string(header.size())), std::string::npos)
      << e.what();
}

using testing::ReferenceGateway;

// Nothing but `keep` is left in `dir`: no output, no partial answer.
void ExpectOnly(const fs::path& dir, const std::string& keep) {
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename(), keep) << "left behind";
}

TEST(GatewayFetch, AFolderFetchedByCidFromAReferenceGatewayIsTheFolder) {
  if (!HaveJs()) GTEST_SKIP() << "@ipld/car or ipfs-unixfs-importer is not installed";
  testing::TempDir tmp;
  const fs::path folder = tmp.path() / "model";
  WriteFolder(folder);
  for (int version : {0, 1}) {
    const ReferenceGateway gateway(version, folder);
    ASSERT_TRUE(gateway.listening());
    EXPECT_EQ(gateway.root(), ImportPath(folder.string(), {.cid_version = version}).root.cid);
    const fs::path out = tmp.path() / fmt::format("fetched{}", version);
    const GatewayFetched fetched = FetchFromGateway(gateway.url(), gateway.root(), out.string());
    ExpectSameTree(folder, out);
    EXPECT_GT(fetched.blocks, 5u);  // root, sub, files, chunks (the repeated block once)
    EXPECT_GT(fetched.car_bytes, static_cast<int64_t>(3 * kChunkSize));  // each block once
  }
}

TEST(GatewayFetch, ATamperedBlockIsRefusedNamingItsCidAndNothingIsLeftBehind) {
  if (!HaveJs()) GTEST_SKIP() << "@ipld/car or ipfs-unixfs-importer is not installed";
  testing::TempDir tmp;
  WriteFolder(tmp.path() / "model");
  const ReferenceGateway gateway(1, tmp.path() / "model", "tamper");
  ASSERT_TRUE(gateway.listening());
  ASSERT_FALSE(gateway.tampered().empty());
  const core::Error e =
      CatchError([&] { FetchFromGateway(gateway.url(), gateway.root(), tmp.File("fetched")); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find(gateway.tampered()), std::string::npos) << e.what();
  ExpectOnly(tmp.path(), "model");
}

TEST(GatewayFetch, AnotherRootAMissingDagOrNoGatewayIsRefusedWithTheReason) {
  if (!HaveJs()) GTEST_SKIP() << "@ipld/car or ipfs-unixfs-importer is not installed";
  testing::TempDir tmp;
  WriteFolder(tmp.path() / "model");
  {
    const ReferenceGateway gateway(0, tmp.path() / "model", "wrong-root");
    ASSERT_TRUE(gateway.listening());
    const core::Error e =
        CatchError([&] { FetchFromGateway(gateway.url(), gateway.root(), tmp.File("fetched")); });
    EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("not the CID asked for"), std::string::npos) << e.what();
  }
  const ReferenceGateway gateway(0, tmp.path() / "model");
  ASSERT_TRUE(gateway.listening());
  const Cid other = Cid::Of(1, kRaw, "not in this gateway");
  core::Error e = CatchError([&] { FetchFromGateway(gateway.url(), other, tmp.File("fetched")); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("404"), std::string::npos) << e.what();
  core::HttpUrl nobody = gateway.url();
  nobody.port = 9;  // discard: nothing listens there
  e = CatchError([&] { FetchFromGateway(nobody, gateway.root(), tmp.File("fetched")); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnavailable);
  ExpectOnly(tmp.path(), "model");
}

}  // namespace car_test
}  // namespace ipfs_accel::content
