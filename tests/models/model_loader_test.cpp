// Tests for models::LoadModel / LoadHfFolder on Hugging Face folders and .onnx
// files. Each test copies the hf-tiny BERT fixture (saved by transformers) into a
// temporary folder and changes it the way real checkpoints differ or break.
// Content hashes are checked against /usr/bin/sha256sum.

#include <stdio.h>
#include <stdlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "models/onnx_file.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace model_loader_test {

namespace fs = std::filesystem;
using core::DType;
using core::Error;
using core::ErrorKind;
using core::Tensor;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const fs::path kBertFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/bert";

using ipfs_accel::testing::TempDir;

using ipfs_accel::testing::CatchError;

// Copies config.json and model.safetensors of the fixture into `parent`/`name`.
fs::path CopyBert(const fs::path& parent, const std::string& name = "bert") {
  const fs::path dir = parent / name;
  fs::create_directories(dir);
  fs::copy_file(kBertFixture / "config.json", dir / "config.json");
  fs::copy_file(kBertFixture / "model.safetensors", dir / "model.safetensors");
  return dir;
}

// "sha256:<hex>" of the files' concatenated contents, by the sha256sum program.
std::string Sha256Sum(const std::vector<fs::path>& files) {
  std::string cmd = "cat";
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  cmd += " | /usr/bin/sha256sum";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::array<char, 65> hex{};
  const size_t n = fread(hex.data(), 1, 64, pipe);
  ::pclose(pipe);
  return "sha256:" + std::string(hex.data(), n);
}

std::map<std::string, Tensor> ReadAllTensors(const fs::path& file) {
  auto f = SafetensorsFile::Open(file.string());
  std::map<std::string, Tensor> out;
  for (const auto& [name, entry] : f->entries()) out[name] = f->Read(name);
  return out;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The bytes of a folder model whose folder is called "bert", loaded once.
const std::string& ReferenceBytes() {
  static const std::string bytes = [] {
    TempDir tmp;
    return LoadHfFolder(CopyBert(tmp.path()).string()).onnx_bytes;
  }();
  return bytes;
}

TEST(HfFolderTest, LoadsTransformersCheckpoint) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const Model m = LoadHfFolder(dir.string());
  const nlohmann::json fixture = nlohmann::json::parse(ReadText(kBertFixture / "fixture.json"));
  EXPECT_EQ(m.info.parameters, fixture.at("params").get<int64_t>());
  EXPECT_EQ(m.info.name, "bert");
  EXPECT_EQ(m.info.architecture, "bert");
  EXPECT_EQ(m.info.modality, "text");
  EXPECT_EQ(m.info.source, "hf-folder");
  EXPECT_EQ(m.info.source_path, fs::absolute(dir).string());
  EXPECT_THAT(m.info.content_hash, StartsWith("sha256:"));
  EXPECT_EQ(m.info.content_hash, Sha256Sum({dir / "model.safetensors"}));
  EXPECT_FALSE(m.onnx_bytes.empty());
  EXPECT_TRUE(m.onnx_path.empty());
  EXPECT_EQ(m.dim_roles.batch, "batch");
  EXPECT_EQ(m.dim_roles.sequence, "sequence");
  EXPECT_EQ(m.dim_roles.max_sequence, 128);  // config.json max_position_embeddings
  EXPECT_EQ(m.input_hints.at("input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(m.input_hints.at("input_ids").high, 1000);  // config.json vocab_size
  EXPECT_EQ(m.input_hints.at("token_type_ids").high, 2);
  EXPECT_EQ(m.input_hints.at("attention_mask").kind, InputHint::Kind::kOnes);
}

TEST(HfFolderTest, GraphHoldsTheCheckpointWeights) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(LoadHfFolder(dir.string()).onnx_bytes));
  const std::map<std::string, Tensor> checkpoint = ReadAllTensors(dir / "model.safetensors");

  std::set<std::string> graph_names;
  for (const auto& init : proto.graph().initializer()) {
    if (init.name().rfind("const_", 0) == 0) continue;
    SCOPED_TRACE(init.name());
    graph_names.insert(init.name());
    auto it = checkpoint.find(init.name());
    ASSERT_NE(it, checkpoint.end());
    const Tensor& t = it->second;
    ASSERT_EQ(t.dtype, DType::kFloat32);
    ASSERT_EQ(init.raw_data().size(), t.bytes.size());
    const bool linear = t.shape.size() == 2 && init.name().rfind("embeddings.", 0) != 0;
    if (!linear) {
      EXPECT_EQ(std::vector<int64_t>(init.dims().begin(), init.dims().end()), t.shape);
      EXPECT_EQ(0, std::memcmp(init.raw_data().data(), t.bytes.data(), t.bytes.size()));
      continue;
    }
    // PyTorch's Linear weight [out, in], stored transposed as [in, out] for MatMul.
    const int64_t rows = t.shape[0], cols = t.shape[1];
    ASSERT_EQ(std::vector<int64_t>(init.dims().begin(), init.dims().end()),
              (std::vector<int64_t>{cols, rows}));
    std::vector<float> stored(static_cast<size_t>(rows * cols));
    std::memcpy(stored.data(), init.raw_data().data(), t.bytes.size());
    const auto src = t.values<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(stored[c * rows + r], src[r * cols + c]) << "at [" << r << "," << c << "]";
  }
  std::set<std::string> checkpoint_names;
  for (const auto& [name, t] : checkpoint) checkpoint_names.insert(name);
  EXPECT_EQ(graph_names, checkpoint_names);
}

TEST(HfFolderTest, LoadModelOnAFolderAndTrailingSlash) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const Model m = LoadModel(dir.string());
  EXPECT_EQ(m.info.source, "hf-folder");
  EXPECT_TRUE(m.onnx_bytes == ReferenceBytes());
  const Model slash = LoadHfFolder(dir.string() + "/");
  EXPECT_EQ(slash.info.name, "bert");
  EXPECT_TRUE(slash.onnx_bytes == ReferenceBytes());
}

TEST(HfFolderTest, UnknownArchitectureIsUnsupported) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  nlohmann::json config = nlohmann::json::parse(ReadText(dir / "config.json"));
  config["model_type"] = "foo";
  WriteText(dir / "config.json", config.dump());
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("'foo'"));
  EXPECT_THAT(e.what(), HasSubstr("config.json"));
}

TEST(HfFolderTest, MissingConfigIsNotFound) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  fs::remove(dir / "config.json");
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("config.json"));
  EXPECT_THAT(e.what(), HasSubstr(dir.string()));
}

TEST(HfFolderTest, BrokenConfigIsCorrupt) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const std::vector<std::string> texts = {
      R"({"model_type": "bert", "hidden_size": )",  // cut short
      "",                                           // empty
      R"(["model_type", "bert"])",                  // not an object
      R"({"hidden_size": 64})",                     // no model_type
  };
  for (const auto& text : texts) {
    SCOPED_TRACE(text);
    WriteText(dir / "config.json", text);
    const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_THAT(e.what(), HasSubstr((dir / "config.json").string()));
  }
}

TEST(HfFolderTest, MissingWeightsAreNotFound) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  fs::remove(dir / "model.safetensors");
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("model.safetensors"));
}

TEST(HfFolderTest, WeightOfWrongShapeIsCorrupt) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  std::map<std::string, Tensor> tensors = ReadAllTensors(dir / "model.safetensors");
  const std::string name = "encoder.layer.1.attention.self.key.weight";
  ASSERT_EQ(tensors.at(name).shape, (core::Shape{64, 64}));
  tensors.at(name).shape = {128, 32};  // same byte count, other shape: a valid file
  WriteSafetensors((dir / "model.safetensors").string(), tensors);
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(name));
  EXPECT_THAT(e.what(), HasSubstr("[128,32]"));
  EXPECT_THAT(e.what(), HasSubstr("[64,64]"));
}

TEST(HfFolderTest, MissingWeightIsCorrupt) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  std::map<std::string, Tensor> tensors = ReadAllTensors(dir / "model.safetensors");
  ASSERT_EQ(tensors.erase("encoder.layer.0.output.LayerNorm.bias"), 1u);
  WriteSafetensors((dir / "model.safetensors").string(), tensors);
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("encoder.layer.0.output.LayerNorm.bias"));
}

TEST(HfFolderTest, TruncatedWeightsAreCorrupt) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const fs::path file = dir / "model.safetensors";
  fs::resize_file(file, fs::file_size(file) - 100);
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(file.string()));
}

// Splits the fixture into two shards with an index, as save_pretrained does for
// large models, and removes model.safetensors. Returns the shard paths in order.
std::vector<fs::path> Shard(const fs::path& dir) {
  const std::map<std::string, Tensor> tensors = ReadAllTensors(dir / "model.safetensors");
  std::map<std::string, Tensor> shards[2];
  const std::string files[2] = {"model-00001-of-00002.safetensors",
                                "model-00002-of-00002.safetensors"};
  nlohmann::json index = {{"metadata", nlohmann::json::object()},
                          {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (const auto& [name, t] : tensors) {
    const int shard = (i++ < static_cast<int>(tensors.size()) / 2) ? 0 : 1;
    shards[shard][name] = t;
    index["weight_map"][name] = files[shard];
  }
  for (int s = 0; s < 2; ++s) WriteSafetensors((dir / files[s]).string(), shards[s]);
  WriteText(dir / "model.safetensors.index.json", index.dump(2));
  fs::remove(dir / "model.safetensors");
  return {dir / files[0], dir / files[1]};
}

TEST(HfFolderTest, ShardedCheckpointGivesTheSameGraph) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const std::vector<fs::path> shards = Shard(dir);
  const Model m = LoadHfFolder(dir.string());
  EXPECT_EQ(m.info.parameters, 143552);
  EXPECT_TRUE(m.onnx_bytes == ReferenceBytes());
  EXPECT_EQ(m.info.content_hash, Sha256Sum(shards));
}

TEST(HfFolderTest, ShardedCheckpointErrors) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const std::vector<fs::path> shards = Shard(dir);
  const fs::path index = dir / "model.safetensors.index.json";
  const std::string good_index = ReadText(index);

  fs::rename(shards[1], dir / "elsewhere");
  Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(shards[1].filename().string()));
  fs::rename(dir / "elsewhere", shards[1]);

  WriteText(index, "{\"weight_map\": ");
  e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(index.string()));

  WriteText(index, R"({"metadata": {}})");
  e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("weight_map"));

  WriteText(index, good_index);
  EXPECT_NO_THROW(LoadHfFolder(dir.string()));
}

TEST(HfFolderTest, PrefixedCheckpointGivesTheSameGraph) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  std::map<std::string, Tensor> prefixed;
  for (auto& [name, t] : ReadAllTensors(dir / "model.safetensors")) prefixed["bert." + name] = t;
  // BertForMaskedLM also saves its head, which BertModel does not use.
  prefixed["cls.predictions.bias"] = Tensor::Zeros(DType::kFloat32, {1000});
  prefixed["cls.predictions.transform.dense.weight"] = Tensor::Zeros(DType::kFloat32, {64, 64});
  WriteSafetensors((dir / "model.safetensors").string(), prefixed);
  const Model m = LoadHfFolder(dir.string());
  EXPECT_EQ(m.info.parameters, 143552);
  EXPECT_TRUE(m.onnx_bytes == ReferenceBytes());
}

TEST(HfFolderTest, Float64CheckpointGivesTheSameGraph) {
  // float32 -> float64 -> float32 is exact, so the graph must not change.
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  std::map<std::string, Tensor> wide;
  for (const auto& [name, t] : ReadAllTensors(dir / "model.safetensors")) {
    Tensor d = Tensor::Zeros(DType::kFloat64, t.shape);
    const auto src = t.values<float>();
    auto dst = d.values<double>();
    for (size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
    wide[name] = std::move(d);
  }
  WriteSafetensors((dir / "model.safetensors").string(), wide);
  EXPECT_TRUE(LoadHfFolder(dir.string()).onnx_bytes == ReferenceBytes());
}

TEST(HfFolderTest, IntegerWeightsAreUnsupported) {
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  std::map<std::string, Tensor> tensors = ReadAllTensors(dir / "model.safetensors");
  tensors["pooler.dense.bias"] = Tensor::Zeros(DType::kInt32, {64});
  WriteSafetensors((dir / "model.safetensors").string(), tensors);
  const Error e = CatchError([&] { LoadHfFolder(dir.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
}

TEST(LoadModelTest, UnknownNameIsNotFound) {
  const std::string spec = "no-such-model-xyz";
  const Error e = CatchError([&] { LoadModel(spec); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(spec));
  // Points at the catalog listing rather than printing all of it.
  EXPECT_THAT(e.what(), HasSubstr("`ipfs-accelerate models` lists the catalog"));
  EXPECT_THAT(e.what(), Not(HasSubstr("bert-base-uncased")));
  EXPECT_THAT(CatchError([] { LoadModel("bert-tny"); }).what(),
              HasSubstr("did you mean bert-tiny?"));
}

TEST(LoadModelTest, NonOnnxFileIsUnsupported) {
  TempDir tmp;
  const fs::path file = tmp.path() / "notes.txt";
  WriteText(file, "hello");
  const Error e = CatchError([&] { LoadModel(file.string()); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(file.string()));
}

TEST(LoadModelTest, GarbageOnnxFileIsCorrupt) {
  TempDir tmp;
  for (const std::string& content : {std::string("this is not a protobuf at all\n"), std::string(),
                                     std::string("\xff\xff\xff\xff", 4)}) {
    SCOPED_TRACE(content.size());
    const fs::path file = tmp.path() / "garbage.onnx";
    WriteText(file, content);
    const Error e = CatchError([&] { LoadModel(file.string()); });
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
  }
}

TEST(LoadModelTest, OnnxFileFromTheCatalog) {
  TempDir tmp;
  const Model catalog = LoadModel("bert-tiny");
  const fs::path file = tmp.path() / "bert-tiny.onnx";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(catalog.onnx_bytes.data(), static_cast<std::streamsize>(catalog.onnx_bytes.size()));
    ASSERT_TRUE(out.good());
  }
  const Model m = LoadModel(file.string());
  EXPECT_EQ(m.info.source, "onnx-file");
  EXPECT_EQ(m.info.architecture, "onnx");
  EXPECT_EQ(m.info.name, "bert-tiny.onnx");
  EXPECT_EQ(m.info.source_path, fs::absolute(file).string());
  EXPECT_EQ(m.onnx_path, fs::absolute(file).string());
  EXPECT_TRUE(m.onnx_bytes.empty());
  EXPECT_EQ(m.info.content_hash, Sha256Sum({file}));
  EXPECT_EQ(m.info.parameters, catalog.info.parameters);

  ASSERT_EQ(m.input_hints.size(), 3u);
  const InputHint ids = m.input_hints.at("input_ids");
  EXPECT_EQ(ids.kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(ids.low, 0);
  EXPECT_EQ(ids.high, 30522);  // rows of embeddings.word_embeddings.weight
  const InputHint types = m.input_hints.at("token_type_ids");
  EXPECT_EQ(types.kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(types.low, 0);
  EXPECT_EQ(types.high, 2);
  EXPECT_EQ(m.input_hints.at("attention_mask").kind, InputHint::Kind::kOnes);
}

TEST(LoadModelTest, OnnxFileHintsComeFromTheGraphNotTheName) {
  // The hf-tiny checkpoint's vocabulary is 1000: the bound must follow the table.
  TempDir tmp;
  const fs::path dir = CopyBert(tmp.path());
  const fs::path file = tmp.path() / "tiny.onnx";
  {
    const std::string bytes = LoadHfFolder(dir.string()).onnx_bytes;
    std::ofstream out(file, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const Model m = LoadModel(file.string());
  EXPECT_EQ(m.input_hints.at("input_ids").high, 1000);
  EXPECT_EQ(m.input_hints.at("token_type_ids").high, 2);
}

// x [1, 4] times a [4, 4] weight held by a Constant node (no initializers), plus a Constant
// shape and a scalar, which are not weights.
std::string GraphWithConstantWeights() {
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.add_opset_import()->set_version(17);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("constant_weights");
  auto constant = [&](const std::string& name, int32_t type, std::vector<int64_t> dims) {
    onnx::NodeProto* node = g->add_node();
    node->set_op_type("Constant");
    node->add_output(name);
    onnx::AttributeProto* value = node->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    onnx::TensorProto* t = value->mutable_t();
    t->set_data_type(type);
    int64_t n = 1;
    for (int64_t d : dims) t->add_dims(d), n *= d;
    for (int64_t i = 0; i < n; ++i)
      type == onnx::TensorProto::FLOAT ? t->add_float_data(0.5f) : t->add_int64_data(1);
  };
  constant("w", onnx::TensorProto::FLOAT, {4, 4});
  constant("shape", onnx::TensorProto::INT64, {2});
  constant("scale", onnx::TensorProto::FLOAT, {});
  onnx::NodeProto* matmul = g->add_node();
  matmul->set_op_type("MatMul");
  matmul->add_input("x");
  matmul->add_input("w");
  matmul->add_output("y");
  auto float_1x4 = [](onnx::ValueInfoProto* io, const std::string& name) {
    io->set_name(name);
    auto* tensor = io->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    tensor->mutable_shape()->add_dim()->set_dim_value(1);
    tensor->mutable_shape()->add_dim()->set_dim_value(4);
  };
  float_1x4(g->add_input(), "x");
  float_1x4(g->add_output(), "y");
  return proto.SerializeAsString();
}

TEST(LoadModelTest, OnnxFileCountsWeightsHeldByConstantNodes) {
  const Model m = DescribeOnnx(GraphWithConstantWeights(), "constant_weights.onnx");
  EXPECT_EQ(m.info.parameters, 16);  // the [4, 4] weight; not the int64 shape nor the scalar
}

}  // namespace model_loader_test
}  // namespace ipfs_accel::models
