// The inference endpoints on the real server on loopback: outputs against Hugging Face
// transformers' own (the hf-tiny BERT fixture's io.safetensors), text through the model's
// tokenizer.json, dynamic batching seen in /api/pool, the refusals (400, 404, 408, 503), the
// /metrics text read by the Prometheus client's parser, and registering models by the API.

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/tensor_envelope.h"
#include "ipfs_accel/serving/metrics_text.h"
#include "serving/tokenizer_files.h"
#include "test_server.h"

namespace ipfs_accel::testing {
namespace inference_test {

using nlohmann::json;

const std::string kBert = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert";

// The fixture's inputs and transformers' outputs, by name ("input." / "output." dropped).
struct Reference {
  std::map<std::string, core::Tensor> inputs, outputs;
};

Reference LoadReference() {
  const auto file = models::SafetensorsFile::Open(kBert + "/io.safetensors");
  Reference r;
  for (const auto& [name, entry] : file->entries()) {
    const size_t dot = name.find('.');
    auto& into = name.substr(0, dot) == "input" ? r.inputs : r.outputs;
    into[name.substr(dot + 1)] = file->Read(name);
  }
  return r;
}

// A tensor as the nested arrays a client sends ([[...], [...]] for two rows).
json Nested(const core::Tensor& t) {
  const std::vector<double> v = t.ToDoubles();
  json rows = json::array();
  const int64_t width = t.shape.at(1);
  for (int64_t i = 0; i < t.shape.at(0); ++i) {
    json row = json::array();
    for (int64_t k = 0; k < width; ++k) row.push_back(static_cast<int64_t>(v[i * width + k]));
    rows.push_back(row);
  }
  return rows;
}

double MaxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

TestServer::Options Serving(std::vector<serving::ModelSource> models,
                            serving::BatcherOptions batching = {}) {
  TestServer::Options o;
  o.models = std::move(models);
  o.batching = batching;
  o.threads = 8;
  return o;
}

Answer PostJson(const TestServer& server, const std::string& path, const json& body,
                const httplib::Headers& headers = {}) {
  return ToAnswer(server.Client().Post(path.c_str(), headers, body.dump(), "application/json"));
}

TEST(Inference, JsonOutputsEqualTransformersOnTheHfTinyBertFixture) {
  TestServer server(Serving({{.name = "bert", .spec = kBert}}));
  const Reference ref = LoadReference();
  json inputs = json::object();
  for (const auto& [name, t] : ref.inputs) inputs[name] = Nested(t);
  const Answer a = PostJson(server, "/api/infer/bert", {{"inputs", inputs}});
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["platform"], "cpu");
  for (const auto& [name, expected] : ref.outputs) {
    const json& out = a.body["outputs"][name];
    ASSERT_TRUE(out.is_object()) << name;
    EXPECT_EQ(out["shape"].get<core::Shape>(), expected.shape) << name;
    EXPECT_EQ(out["dtype"], "float32");
    EXPECT_LT(MaxAbsDiff(out["data"].get<std::vector<double>>(), expected.ToDoubles()), 1e-4)
        << name;
  }
}

TEST(Inference, TheTensorEnvelopeInGivesTheSameOutputsInTheEnvelope) {
  TestServer server(Serving({{.name = "bert", .spec = kBert}}));
  const Reference ref = LoadReference();
  const std::string body = runtime::EncodeEnvelope(R"({"platform": "cpu"})", ref.inputs);
  const auto r = server.Client().Post("/api/infer/bert", body, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
  const runtime::Envelope e = runtime::DecodeEnvelope(r->body);
  EXPECT_EQ(json::parse(e.header_json)["model"], "bert");
  ASSERT_EQ(e.tensors.size(), ref.outputs.size());
  for (const auto& [name, expected] : ref.outputs) {
    EXPECT_EQ(e.tensors.at(name).shape, expected.shape) << name;
    EXPECT_LT(MaxAbsDiff(e.tensors.at(name).ToDoubles(), expected.ToDoubles()), 1e-4) << name;
  }
}

TEST(Inference, TextIsEncodedByTheTokenizerJsonBesideTheModel) {
  TempDir dir;  // the fixture with a BERT-uncased tokenizer.json of 110 entries
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(kBert + "/" + f, dir.File(f));
  json vocab = json::array();
  for (int i = 0; i < 104; ++i) vocab.push_back(fmt::format("[unused{}]", i));
  for (const auto& [id, token] : std::map<int, std::string>{
           {0, "[PAD]"}, {100, "[UNK]"}, {101, "[CLS]"}, {102, "[SEP]"}, {103, "[MASK]"}})
    vocab[id] = token;
  for (const char* word : {"hello", "world", "##s"}) vocab.push_back(word);  // 104, 105, 106
  std::ofstream(dir.File("tokenizer.json")) << BertUncased(vocab).dump();
  TestServer server(Serving({{.name = "tok", .spec = dir.path().string()}}));
  const Answer text = PostJson(server, "/api/infer/tok", {{"text", "Hello WORLDS"}});
  ASSERT_EQ(text.status, 200) << text.body.dump();
  EXPECT_EQ(text.body["text_tokens"], 5);
  const Answer ids = PostJson(server, "/api/infer/tok",
                              {{"inputs", {{"input_ids", {{101, 104, 105, 106, 102}}}}}});
  ASSERT_EQ(ids.status, 200) << ids.body.dump();
  EXPECT_EQ(text.body["outputs"], ids.body["outputs"]);
  // A list of texts is one batch, padded with [PAD] to the longest under an attention mask:
  // each row's unpadded positions are what the text alone gives.
  const Answer batch = PostJson(server, "/api/infer/tok", {{"text", {"Hello WORLDS", "hello"}}});
  ASSERT_EQ(batch.status, 200) << batch.body.dump();
  EXPECT_EQ(batch.body["text_tokens"], json({5, 3}));
  const Answer short_one = PostJson(server, "/api/infer/tok", {{"text", "hello"}});
  ASSERT_EQ(short_one.status, 200) << short_one.body.dump();
  const json& rows = batch.body["outputs"]["last_hidden_state"];
  ASSERT_EQ(rows["shape"][0], 2);
  ASSERT_EQ(rows["shape"][1], 5);
  const int64_t hidden = rows["shape"][2].get<int64_t>();
  const auto& all = rows["data"];
  const auto& long_alone = text.body["outputs"]["last_hidden_state"]["data"];
  const auto& short_alone = short_one.body["outputs"]["last_hidden_state"]["data"];
  double worst = 0;
  for (int64_t i = 0; i < 5 * hidden; ++i)
    worst = std::max(worst, std::abs(all[i].get<double>() - long_alone[i].get<double>()));
  for (int64_t i = 0; i < 3 * hidden; ++i)
    worst =
        std::max(worst, std::abs(all[5 * hidden + i].get<double>() - short_alone[i].get<double>()));
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(PostJson(server, "/api/infer/tok", {{"text", json::array()}}).status, 400);
  EXPECT_EQ(PostJson(server, "/api/infer/tok", {{"text", {"hello", 7}}}).status, 400);
  // A model without a tokenizer.json says so.
  TestServer plain(Serving({{.name = "bert", .spec = kBert}}));
  const Answer none = PostJson(plain, "/api/infer/bert", {{"text", "hello"}});
  EXPECT_EQ(none.status, 400);
  EXPECT_NE(none.body["error"].get<std::string>().find("no tokenizer.json"), std::string::npos);
}

TEST(Inference, ConcurrentRequestsShareOneRunAndThePoolShowsTheBatch) {
  TestServer server(Serving({{.name = "bert", .spec = kBert}},
                            {.max_batch = 4, .max_batch_delay_ms = 5000, .max_queue = 16}));
  std::vector<std::future<Answer>> answers;
  for (int i = 0; i < 4; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      return PostJson(server, "/api/infer/bert",
                      {{"inputs", {{"input_ids", {{101, 7 + i, 8 + i, 102}}}}}});
    }));
  for (auto& f : answers) {
    const Answer a = f.get();
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["batch"]["requests"], 4);
    EXPECT_EQ(a.body["outputs"]["last_hidden_state"]["shape"], json({1, 4, 64}));
  }
  const Answer pool = ToAnswer(server.Client().Get("/api/pool"));
  ASSERT_EQ(pool.status, 200);
  const json& traffic = pool.body["entries"].at(0)["traffic"];
  EXPECT_EQ(traffic["requests"], 4);
  EXPECT_EQ(traffic["batches"], 1);
  EXPECT_EQ(traffic["mean_batch_rows"], 4.0);
  EXPECT_EQ(pool.body["models"].at(0)["name"], "bert");
}

// One request waiting for company (a long batch delay) fills a queue of one.
class QueueOfOne : public ::testing::Test {
 protected:
  QueueOfOne()
      : server_(Serving({{.name = "bert", .spec = kBert}},
                        {.max_batch = 8, .max_batch_delay_ms = 1500, .max_queue = 1})) {}
  TestServer server_;
};

TEST_F(QueueOfOne, ASecondRequestIsRefusedWith503AndRetryAfter) {
  const json body = {{"inputs", {{"input_ids", {{101, 7, 102}}}}}};
  auto first =
      std::async(std::launch::async, [&] { return PostJson(server_, "/api/infer/bert", body); });
  for (int i = 0; i < 500; ++i) {  // until the first is queued
    const Answer pool = ToAnswer(server_.Client().Get("/api/pool"));
    if (pool.body["entries"].at(0)["traffic"]["queued"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto second = server_.Client().Post("/api/infer/bert", body.dump(), "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503) << second->body;
  EXPECT_EQ(second->get_header_value("Retry-After"), "1");
  EXPECT_NE(second->body.find("queue full"), std::string::npos) << second->body;
  EXPECT_EQ(first.get().status, 200);
}

TEST_F(QueueOfOne, ARequestPastItsTimeoutIs408) {
  const Answer a = PostJson(server_, "/api/infer/bert",
                            {{"inputs", {{"input_ids", {{101, 7, 102}}}}}, {"timeout_ms", 50}});
  EXPECT_EQ(a.status, 408) << a.body.dump();
  EXPECT_NE(a.body["error"].get<std::string>().find("deadline"), std::string::npos);
}

TEST(Inference, BadRequestsAreAnsweredWithOneLineNamingTheProblem) {
  TestServer server(Serving({{.name = "bert", .spec = kBert}}));
  const json ids = {{101, 7, 102}};
  const std::vector<std::tuple<std::string, std::string, int, std::string>> cases = {
      {"/api/infer/nope", json({{"inputs", {{"input_ids", ids}}}}).dump(), 404, "not registered"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", {{1, 2}, {3}}}}}}).dump(), 400,
       "not rectangular"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", {{1, "a"}}}}}}).dump(), 400, "string"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", ids}}}, {"batch", 2}}).dump(), 400,
       "unknown field 'batch'"},
      {"/api/infer/bert", json({{"inputs", {{"pixels", ids}}}}).dump(), 400, "pixels"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", ids}}}, {"timeout_ms", -1}}).dump(), 400,
       "timeout_ms"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", ids}}}, {"timeout_ms", 1e300}}).dump(),
       400, "timeout_ms"},
      {"/api/infer/bert", json({{"inputs", {{"input_ids", ids}}}, {"platform", "tpu"}}).dump(), 400,
       "tpu"},
      {"/api/infer/bert", json::object().dump(), 400, "no inputs"},
      {"/api/infer/bert", "{not json", 400, "not valid JSON"}};
  for (const auto& [path, body, status, words] : cases) {
    const Answer a = ToAnswer(server.Client().Post(path.c_str(), body, "application/json"));
    EXPECT_EQ(a.status, status) << body << " -> " << a.body.dump();
    const std::string error = a.body.value("error", "");
    EXPECT_NE(error.find(words), std::string::npos) << body << " -> " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  const auto envelope = server.Client().Post("/api/infer/bert", std::string("\x10\0\0\0{}", 6),
                                             "application/octet-stream");
  ASSERT_TRUE(envelope);
  EXPECT_EQ(envelope->status, 400);
  EXPECT_NE(envelope->body.find("not a tensor envelope"), std::string::npos) << envelope->body;
}

// Every sample the Prometheus client's parser (Debian's python3-prometheus-client) reads.
json ParsedMetrics(const std::string& text) {
  TempDir dir;
  std::ofstream(dir.File("metrics.txt")) << text;
  std::ofstream(dir.File("parse.py")) << R"py(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": s.name, "labels": s.labels, "value": s.value}
                  for f in text_string_to_metric_families(open(sys.argv[1]).read())
                  for s in f.samples]))
)py";
  const std::string cmd =
      "/usr/bin/python3 " + dir.File("parse.py") + " " + dir.File("metrics.txt") + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    output.append(buffer.data(), n);
  EXPECT_EQ(::pclose(pipe.release()), 0) << output;
  return json::parse(output, nullptr, false);
}

TEST(Inference, MetricsAreServedAsPrometheusTextThePrometheusParserReads) {
  TestServer server(Serving({{.name = "bert", .spec = kBert}}));
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(
        PostJson(server, "/api/infer/bert", {{"inputs", {{"input_ids", {{101, 7, 102}}}}}}).status,
        200);
  const auto r = server.Client().Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), serving::kPrometheusContentType);
  const json samples = ParsedMetrics(r->body);
  ASSERT_TRUE(samples.is_array()) << r->body;
  double requests = -1;
  for (const json& s : samples)
    if (s["name"] == "ipfs_accel_pool_requests_total" && s["labels"]["model"] == "bert")
      requests = s["value"].get<double>();
  EXPECT_EQ(requests, 3) << r->body;
}

TEST(Inference, ModelsRegisteredThroughTheApiNeedTheTokenAndThenServe) {
  TestServer server(Serving({}));
  const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  const json bert = {{"spec", kBert}};
  EXPECT_EQ(PostJson(server, "/api/models", bert).status, 401);
  const Answer added = PostJson(server, "/api/models", bert, auth);
  ASSERT_EQ(added.status, 201) << added.body.dump();
  EXPECT_EQ(added.body["name"], "bert");                               // the folder's name
  EXPECT_EQ(PostJson(server, "/api/models", bert, auth).status, 200);  // already there
  const Answer taken =
      PostJson(server, "/api/models", {{"spec", "bert-tiny"}, {"name", "bert"}}, auth);
  EXPECT_EQ(taken.status, 409) << taken.body.dump();
  const Answer missing = PostJson(server, "/api/models", {{"spec", "/no/such/model"}}, auth);
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body["error"].get<std::string>().find("/no/such/model"), std::string::npos)
      << missing.body.dump();
  const Answer run =
      PostJson(server, "/api/infer/bert", {{"inputs", {{"input_ids", {{101, 7, 102}}}}}});
  EXPECT_EQ(run.status, 200) << run.body.dump();
}

}  // namespace inference_test
}  // namespace ipfs_accel::testing
