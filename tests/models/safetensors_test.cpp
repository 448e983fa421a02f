// Tests for models::SafetensorsFile and models::WriteSafetensors. Files are
// written byte by byte here (8-byte little-endian header length, JSON header,
// data) following https://huggingface.co/docs/safetensors, so the reader is
// checked against the format, not against its own writer only.

#include "ipfs_accel/models/safetensors.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {
namespace safetensors_test {

namespace fs = std::filesystem;
using core::DType;
using core::Error;
using core::ErrorKind;
using core::Tensor;
using ::testing::HasSubstr;

const std::string kBertFixture =
    std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert/model.safetensors";

using ipfs_accel::testing::TempDir;

using ipfs_accel::testing::CatchError;

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The 8-byte little-endian length of `header_len`, built byte by byte.
std::string LengthPrefix(uint64_t header_len) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header_len >> (8 * i)) & 0xff);
  return out;
}

// A safetensors file from a header text and a data section.
std::string RawFile(const std::string& header, const std::string& data) {
  return LengthPrefix(header.size()) + header + data;
}

// The header JSON of a safetensors file, parsed here without the reader.
nlohmann::json ParseHeader(const std::string& file_bytes, uint64_t* header_len) {
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(file_bytes[i]);
  *header_len = len;
  return nlohmann::json::parse(file_bytes.substr(8, len));
}

template <typename T>
Tensor MakeTensor(DType dtype, core::Shape shape, const std::vector<T>& values) {
  Tensor t = Tensor::Zeros(dtype, std::move(shape));
  EXPECT_EQ(t.bytes.size(), values.size() * sizeof(T));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

TEST(SafetensorsTest, RoundTripsEveryDtype) {
  TempDir dir;
  const std::string path = dir.File("all.safetensors");
  std::map<std::string, Tensor> tensors;
  tensors["f32"] = MakeTensor<float>(DType::kFloat32, {2, 3}, {1.5f, -2, 3, 4, 5, -6.25f});
  tensors["f16"] = MakeTensor<uint16_t>(DType::kFloat16, {3}, {0x3c00, 0xc000, 0x7bff});
  tensors["bf16"] = MakeTensor<uint16_t>(DType::kBFloat16, {2}, {0x3f80, 0xbf80});
  tensors["f64"] = MakeTensor<double>(DType::kFloat64, {1, 2}, {3.141592653589793, -1e300});
  tensors["i64"] = MakeTensor<int64_t>(DType::kInt64, {2}, {INT64_MIN, INT64_MAX});
  tensors["i32"] = MakeTensor<int32_t>(DType::kInt32, {2, 2}, {-1, 0, 1, 2147483647});
  tensors["i16"] = MakeTensor<int16_t>(DType::kInt16, {3}, {-32768, 7, 32767});
  tensors["i8"] = MakeTensor<int8_t>(DType::kInt8, {3}, {-128, 0, 127});
  tensors["u8"] = MakeTensor<uint8_t>(DType::kUInt8, {4}, {0, 1, 128, 255});
  tensors["bool"] = MakeTensor<uint8_t>(DType::kBool, {2}, {1, 0});
  tensors["scalar"] = MakeTensor<float>(DType::kFloat32, {}, {42.0f});
  tensors["empty"] = Tensor::Zeros(DType::kFloat32, {0, 5});
  WriteSafetensors(path, tensors);

  auto file = SafetensorsFile::Open(path);
  EXPECT_EQ(file->path(), path);
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file->Has(name));
    const Tensor actual = file->Read(name);
    EXPECT_EQ(actual.dtype, expected.dtype);
    EXPECT_EQ(actual.shape, expected.shape);
    EXPECT_EQ(actual.bytes, expected.bytes);
  }
  EXPECT_FALSE(file->Has("missing"));
}

TEST(SafetensorsTest, WrittenFileFollowsTheFormat) {
  TempDir dir;
  const std::string path = dir.File("layout.safetensors");
  std::map<std::string, Tensor> tensors;
  tensors["a"] = MakeTensor<float>(DType::kFloat32, {3}, {1, 2, 3});   // 12 bytes
  tensors["b"] = MakeTensor<int64_t>(DType::kInt64, {1, 2}, {7, -7});  // 16 bytes
  tensors["c"] = MakeTensor<uint16_t>(DType::kBFloat16, {1}, {0x4000});
  WriteSafetensors(path, tensors);

  const std::string bytes = ReadBytes(path);
  uint64_t header_len = 0;
  const nlohmann::json header = ParseHeader(bytes, &header_len);
  EXPECT_EQ(header_len % 8, 0u) << "the data section should start 8-byte aligned";
  const std::map<std::string, std::string> codes = {{"a", "F32"}, {"b", "I64"}, {"c", "BF16"}};
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(header.contains(name));
    EXPECT_EQ(header[name]["dtype"], codes.at(name));
    EXPECT_EQ(header[name]["shape"].get<core::Shape>(), t.shape);
    const auto offsets = header[name]["data_offsets"].get<std::vector<uint64_t>>();
    ASSERT_EQ(offsets.size(), 2u);
    ASSERT_EQ(offsets[1] - offsets[0], t.bytes.size());
    const std::string stored = bytes.substr(8 + header_len + offsets[0], t.bytes.size());
    EXPECT_EQ(0, std::memcmp(stored.data(), t.bytes.data(), t.bytes.size()));
    total += t.bytes.size();
  }
  EXPECT_EQ(bytes.size(), 8 + header_len + total) << "no bytes beyond the last tensor";
}

TEST(SafetensorsTest, ReadsHandWrittenFileWithMetadata) {
  TempDir dir;
  const std::string path = dir.File("hand.safetensors");
  // Two int32 tensors, stored in the opposite order to their names.
  std::string data(12, '\0');
  const int32_t second[] = {10, 20};
  const int32_t first[] = {-5};
  std::memcpy(data.data(), second, 8);
  std::memcpy(data.data() + 8, first, 4);
  const std::string header = R"({"__metadata__":{"format":"pt","note":"x"},)"
                             R"("z":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
                             R"("a":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}})";
  WriteBytes(path, RawFile(header, data));

  auto file = SafetensorsFile::Open(path);
  EXPECT_EQ(file->entries().size(), 2u);
  EXPECT_FALSE(file->Has("__metadata__"));
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "x");
  const Tensor z = file->Read("z");
  EXPECT_EQ(z.shape, (core::Shape{2}));
  EXPECT_THAT(z.values<int32_t>(), ::testing::ElementsAre(10, 20));
  const Tensor a = file->Read("a");
  EXPECT_EQ(a.shape, (core::Shape{1, 1}));
  EXPECT_THAT(a.values<int32_t>(), ::testing::ElementsAre(-5));
  EXPECT_EQ(file->entries().at("a").begin, 8u);
  EXPECT_EQ(file->entries().at("a").end, 12u);
}

TEST(SafetensorsTest, ReadingAnAbsentTensorIsNotFound) {
  TempDir dir;
  const std::string path = dir.File("one.safetensors");
  WriteSafetensors(path, {{"x", Tensor::Zeros(DType::kFloat32, {2})}});
  auto file = SafetensorsFile::Open(path);
  const Error e = CatchError([&] { file->Read("y"); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("'y'"));
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  TempDir dir;
  const std::string path = dir.File("absent.safetensors");
  const Error e = CatchError([&] { SafetensorsFile::Open(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(path));
}

// Each corrupt file must fail on Open() with kCorrupt naming the file.
struct CorruptCase {
  std::string label;
  std::function<std::string(const std::string& dir)> make;  // returns the file's path
  std::string detail;                                       // a phrase the message must hold
};

void PrintTo(const CorruptCase& c, std::ostream* os) { *os << c.label; }

class SafetensorsCorruptTest : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(SafetensorsCorruptTest, IsCorruptAndNamesTheFile) {
  TempDir dir;
  const std::string path = GetParam().make(dir.File(""));
  const Error e = CatchError([&] { SafetensorsFile::Open(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(path));
  EXPECT_THAT(e.what(), HasSubstr(GetParam().detail));
}

std::string Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + name;
  WriteBytes(path, bytes);
  return path;
}

const std::string kGoodHeader = R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";

INSTANTIATE_TEST_SUITE_P(
    Files, SafetensorsCorruptTest,
    ::testing::Values(
        CorruptCase{"Empty", [](const std::string& d) { return Write(d, "empty.st", ""); },
                    "0 bytes"},
        CorruptCase{"ShorterThanLength",
                    [](const std::string& d) {
                      return Write(d, "short.st", std::string("\x10\0\0\0\0", 5));
                    },
                    "5 bytes"},
        CorruptCase{"HeaderLongerThanFile",
                    [](const std::string& d) {
                      return Write(d, "long.st", LengthPrefix(1000) + kGoodHeader);
                    },
                    "1000"},
        CorruptCase{"HugeHeaderLength",
                    [](const std::string& d) {
                      return Write(d, "huge.st", LengthPrefix(~uint64_t{0}) + kGoodHeader);
                    },
                    "header length"},
        CorruptCase{"HeaderNotJson",
                    [](const std::string& d) {
                      return Write(d, "notjson.st", RawFile("{\"t\": [oops", std::string(16, 0)));
                    },
                    "JSON"},
        CorruptCase{"HeaderNotObject",
                    [](const std::string& d) {
                      return Write(d, "array.st", RawFile("[1, 2, 3]", std::string(16, 0)));
                    },
                    "object"},
        CorruptCase{"EntryMissingShape",
                    [](const std::string& d) {
                      return Write(d, "noshape.st",
                                   RawFile(R"({"t":{"dtype":"F32","data_offsets":[0,16]}})",
                                           std::string(16, 0)));
                    },
                    "malformed"},
        CorruptCase{"OffsetsOfThreeNumbers",
                    [](const std::string& d) {
                      return Write(
                          d, "three.st",
                          RawFile(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8,16]}})",
                                  std::string(16, 0)));
                    },
                    "'t'"},
        CorruptCase{"SizeDisagreesWithShape",
                    [](const std::string& d) {
                      // [2,2] float32 needs 16 bytes; the offsets give 12.
                      return Write(
                          d, "size.st",
                          RawFile(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                                  std::string(16, 0)));
                    },
                    "'t'"},
        CorruptCase{"EndBeforeBegin",
                    [](const std::string& d) {
                      return Write(
                          d, "reversed.st",
                          RawFile(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}})",
                                  std::string(16, 0)));
                    },
                    "'t'"},
        CorruptCase{"OffsetsBeyondData",
                    [](const std::string& d) {
                      return Write(
                          d, "beyond.st",
                          RawFile(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})",
                                  std::string(16, 0)));
                    },
                    "'t'"},
        CorruptCase{"Truncated",
                    [](const std::string& d) {
                      const std::string path = d + "truncated.st";
                      std::map<std::string, Tensor> tensors;
                      tensors["a"] = Tensor::Zeros(DType::kFloat32, {4, 4});
                      tensors["b"] = Tensor::Zeros(DType::kInt64, {3});
                      WriteSafetensors(path, tensors);
                      fs::resize_file(path, fs::file_size(path) - 5);
                      return path;
                    },
                    "'b'"},
        CorruptCase{
            "OverlappingTensors",
            [](const std::string& d) {
              return Write(
                  d, "overlap.st",
                  RawFile(
                      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      std::string(12, 0)));
            },
            "'b' begins at byte 4"},
        CorruptCase{
            "GapBetweenTensors",
            [](const std::string& d) {
              return Write(
                  d, "gap.st",
                  RawFile(
                      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                      std::string(12, 0)));
            },
            "'b' begins at byte 8"},
        CorruptCase{"FirstTensorNotAtZero",
                    [](const std::string& d) {
                      return Write(
                          d, "late.st",
                          RawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                  std::string(8, 0)));
                    },
                    "must begin at 0"},
        CorruptCase{
            "SameBytesForTwoTensors",
            [](const std::string& d) {
              return Write(
                  d, "alias.st",
                  RawFile(
                      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                      std::string(8, 0)));
            },
            "begins at byte 0"},
        CorruptCase{"TrailingBytes",
                    [](const std::string& d) {
                      return Write(
                          d, "trailing.st",
                          RawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                  std::string(8, 0)));
                    },
                    "belong to no tensor"},
        CorruptCase{
            "ElementCountOverflows",
            [](const std::string& d) {
              return Write(
                  d, "overflow.st",
                  RawFile(
                      R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
                      std::string(0, 0)));
            },
            "overflows 64 bits"},
        CorruptCase{
            "ByteCountOverflows",
            [](const std::string& d) {
              return Write(
                  d, "overflow2.st",
                  RawFile(
                      R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})",
                      std::string(0, 0)));
            },
            "overflows 64 bits"},
        CorruptCase{"FractionalDimension",
                    [](const std::string& d) {
                      return Write(
                          d, "fraction.st",
                          RawFile(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,10]}})",
                                  std::string(10, 0)));
                    },
                    "2.5, not a non-negative integer"},
        CorruptCase{"NegativeDimension",
                    [](const std::string& d) {
                      return Write(
                          d, "negdim.st",
                          RawFile(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})",
                                  std::string(0, 0)));
                    },
                    "-1, not a non-negative integer"},
        CorruptCase{"NegativeOffset",
                    [](const std::string& d) {
                      return Write(
                          d, "negoff.st",
                          RawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
                                  std::string(4, 0)));
                    },
                    "-4, not a non-negative integer"},
        CorruptCase{"DtypeNotAName",
                    [](const std::string& d) {
                      return Write(d, "dtype.st",
                                   RawFile(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})",
                                           std::string(4, 0)));
                    },
                    "not a name"},
        CorruptCase{
            "MetadataNotText",
            [](const std::string& d) {
              return Write(
                  d, "meta.st",
                  RawFile(
                      R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                      std::string(4, 0)));
            },
            "not a string"},
        CorruptCase{"EntryNotAnObject",
                    [](const std::string& d) {
                      return Write(d, "entry.st", RawFile(R"({"a":[1,2,3]})", std::string(0, 0)));
                    },
                    "malformed"},
        CorruptCase{"DeeplyNestedHeader",
                    [](const std::string& d) {
                      const std::string deep(5000, '[');
                      return Write(d, "deep.st",
                                   RawFile("{\"a\":" + deep + std::string(5000, ']') + "}", ""));
                    },
                    "nests more than"}),
    [](const ::testing::TestParamInfo<CorruptCase>& info) { return info.param.label; });

TEST(SafetensorsTest, TruncationDetectedForEveryCutLength) {
  TempDir dir;
  const std::string good = dir.File("good.safetensors");
  WriteSafetensors(good, {{"w", MakeTensor<float>(DType::kFloat32, {3}, {1, 2, 3})}});
  const std::string bytes = ReadBytes(good);
  // Every proper prefix of the file is corrupt (the last tensor ends at the last byte).
  for (size_t len = 0; len < bytes.size(); ++len) {
    SCOPED_TRACE(len);
    const std::string path = dir.File("cut.safetensors");
    WriteBytes(path, bytes.substr(0, len));
    const Error e = CatchError([&] { SafetensorsFile::Open(path); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  }
  EXPECT_NO_THROW(SafetensorsFile::Open(good));
}

TEST(SafetensorsTest, UnsupportedDtypeIsUnsupportedAndNamesTheFile) {
  TempDir dir;
  const std::string path = dir.File("fp8.safetensors");
  WriteBytes(path, RawFile(R"({"t":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})",
                           std::string(4, 0)));
  const Error e = CatchError([&] { SafetensorsFile::Open(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("F8_E4M3"));
  // A user with several shards must learn which file holds the tensor.
  EXPECT_THAT(e.what(), HasSubstr(path));
}

// The Hugging Face fixture, checked against its header parsed here independently.
TEST(SafetensorsTest, ReadsHfTinyBertCheckpoint) {
  const std::string bytes = ReadBytes(kBertFixture);
  ASSERT_GT(bytes.size(), 8u) << kBertFixture;
  uint64_t header_len = 0;
  const nlohmann::json header = ParseHeader(bytes, &header_len);
  size_t tensor_count = 0;
  for (const auto& [name, value] : header.items())
    if (name != "__metadata__") ++tensor_count;
  // BertModel: 5 embedding tensors, 16 per layer x 2 layers, 2 pooler tensors.
  EXPECT_EQ(tensor_count, 39u);

  auto file = SafetensorsFile::Open(kBertFixture);
  ASSERT_EQ(file->entries().size(), tensor_count);
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : value.items())
        EXPECT_EQ(file->metadata().at(k), v.get<std::string>());
      continue;
    }
    SCOPED_TRACE(name);
    ASSERT_TRUE(file->Has(name));
    const TensorEntry& entry = file->entries().at(name);
    EXPECT_EQ(core::DTypeToSafetensors(entry.dtype), value["dtype"].get<std::string>());
    EXPECT_EQ(entry.shape, value["shape"].get<core::Shape>());
    EXPECT_EQ(entry.begin, value["data_offsets"][0].get<uint64_t>());
    EXPECT_EQ(entry.end, value["data_offsets"][1].get<uint64_t>());
  }

  const auto& word = file->entries().at("embeddings.word_embeddings.weight");
  EXPECT_EQ(word.dtype, DType::kFloat32);
  EXPECT_EQ(word.shape, (core::Shape{1000, 64}));
  EXPECT_EQ(file->entries().at("encoder.layer.1.intermediate.dense.weight").shape,
            (core::Shape{128, 64}));
  EXPECT_EQ(file->entries().at("pooler.dense.bias").shape, (core::Shape{64}));

  // Read() returns exactly the bytes at the tensor's offsets in the file.
  const Tensor t = file->Read("embeddings.position_embeddings.weight");
  EXPECT_EQ(t.shape, (core::Shape{128, 64}));
  const auto offsets =
      header["embeddings.position_embeddings.weight"]["data_offsets"].get<std::vector<uint64_t>>();
  ASSERT_EQ(t.bytes.size(), offsets[1] - offsets[0]);
  EXPECT_EQ(
      0, std::memcmp(t.bytes.data(), bytes.data() + 8 + header_len + offsets[0], t.bytes.size()));
}

}  // namespace safetensors_test
}  // namespace ipfs_accel::models
