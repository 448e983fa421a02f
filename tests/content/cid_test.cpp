// CIDs parsed and printed: the values here are ones IPFS tools printed (the "hello",
// Debian's ipfs_cid for the same DAG in both versions) or the SHA-256 of nothing (FIPS 180-2).

#include <gtest/gtest.h>

#include "ipfs_accel/content/cid.h"
#include "support/catch_error.h"

namespace ipfs_accel::content {
namespace cid_test {

using testing::CatchError;

// `printf hello | ipfs_cid` prints both forms of one dag-pb node.
constexpr const char* kHelloV0 = "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX";
constexpr const char* kHelloV1 = "bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5tq";
// The raw block of zero bytes.
constexpr const char* kEmptyRaw = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

TEST(Cid, ACidv0AndItsCidv1FormNameTheSameDigest) {
  const Cid v0 = ParseCid(kHelloV0);
  const Cid v1 = ParseCid(kHelloV1);
  EXPECT_EQ(v0.version, 0);
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v1.codec, kDagPb);
  EXPECT_EQ(v0.digest, v1.digest);
  EXPECT_EQ((Cid{1, kDagPb, v0.digest}).ToString(), kHelloV1);
  EXPECT_EQ((Cid{0, kDagPb, v1.digest}).ToString(), kHelloV0);
}

TEST(Cid, TheEmptyRawBlockHasTheSha256OfNothing) {
  const Cid cid = Cid::Of(1, kRaw, "");
  EXPECT_EQ(cid.ToString(), kEmptyRaw);
  EXPECT_EQ(cid.digest[0], 0xe3);  // e3b0c442...7852b855
  EXPECT_EQ(cid.digest[31], 0x55);
  EXPECT_EQ(ParseCid(kEmptyRaw), cid);
}

TEST(Cid, BinaryFormsReadBackWithTheirLength) {
  for (const char* text : {kHelloV0, kHelloV1, kEmptyRaw}) {
    const Cid cid = ParseCid(text);
    const std::string bytes = cid.Bytes() + "trailing";
    size_t used = 0;
    EXPECT_EQ(CidFromBytes(bytes, &used), cid) << text;
    EXPECT_EQ(used, bytes.size() - 8) << text;
  }
  EXPECT_EQ(ParseCid(kHelloV0).Bytes().size(), 34u);
  EXPECT_EQ(ParseCid(kHelloV1).Bytes().size(), 36u);
}

TEST(Cid, TextThatIsNotACidIsRefusedNamingIt) {
  for (const std::string& text : std::vector<std::string>{
           "", "hello", "Qm123", "bafy!!", "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaXX",
           std::string("b") + "aaaa", std::string(kHelloV1) + "a"}) {
    const core::Error e = CatchError([&] { ParseCid(text); });
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument) << text;
    EXPECT_NE(std::string(e.what()).find("'" + text + "'"), std::string::npos) << e.what();
  }
}

TEST(Cid, AHashOtherThanSha256IsUnsupported) {
  // CIDv1 raw with an identity multihash (code 0x00) of "hi".
  const std::string bytes{"\x01\x55\x00\x02hi", 6};
  EXPECT_EQ(CatchError([&] { CidFromBytes(bytes); }).kind(), core::ErrorKind::kUnsupported);
}

}  // namespace cid_test
}  // namespace ipfs_accel::content
