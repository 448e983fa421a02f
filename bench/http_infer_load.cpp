// http_infer_load: requests/s and latency of a running `serve`'s POST /api/infer/MODEL under N
// closed-loop clients (each sends its next request when the last is answered, on a keep-alive
// connection of its own). Every request is one row of SEQ token ids, as JSON or as the tensor
// envelope. Prints one line per client count: requests/s, p50 and p99 in ms, and the mean number
// of requests that shared a run, as the server reported. A load generator for loopback (wrk is
// not installed here); it shares the machine with the server, so figures are indicative.
//
// Usage: http_infer_load PORT MODEL [CLIENTS=1,8,32] [SECONDS=3] [SEQ=16] [json|envelope]

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/runtime/tensor_envelope.h"

using namespace ipfs_accel;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int port = 0;
  std::string model;
  std::vector<int> clients = {1, 8, 32};
  double seconds = 3;
  int64_t seq = 16;
  bool envelope = false;
};

std::string Body(const Options& o, int client, std::string* type) {
  core::Tensor ids = core::Tensor::Zeros(core::DType::kInt64, {1, o.seq});
  for (int64_t k = 0; k < o.seq; ++k) ids.values<int64_t>()[k] = 100 + (client * 31 + k * 7) % 800;
  if (o.envelope) {
    *type = "application/octet-stream";
    return runtime::EncodeEnvelope("{}", {{"input_ids", ids}});
  }
  *type = "application/json";
  nlohmann::json row = nlohmann::json::array();
  for (int64_t id : ids.values<int64_t>()) row.push_back(id);
  return nlohmann::json({{"inputs", {{"input_ids", {row}}}}}).dump();
}

// Requests answered (latencies in ms) and the batch sizes the server reported (JSON only).
struct Measured {
  std::vector<double> latencies_ms;
  double batch_requests = 0;
  int errors = 0;
};

// Connects and sends one untimed request, waits for every client to have done so (a burst of
// connections overflows cpp-httplib's listen backlog of 5, and a dropped SYN costs a second:
// a start-up effect, not the endpoint's), then sends requests on that connection until
// `seconds` have passed.
Measured Client(const Options& o, int client, std::atomic<int>* ready, int clients) {
  httplib::Client http("127.0.0.1", o.port);
  http.set_read_timeout(30, 0);
  http.set_keep_alive(true);   // cpp-httplib clients close after each request by default
  http.set_tcp_nodelay(true);  // headers and body are two writes: Nagle would hold the body
  std::string type;
  const std::string body = Body(o, client, &type);
  const std::string path = "/api/infer/" + o.model;
  Measured m;
  http.Post(path.c_str(), body, type.c_str());
  ++*ready;
  while (*ready < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.seconds));
  while (Clock::now() < until) {
    const auto start = Clock::now();
    const auto r = http.Post(path.c_str(), body, type.c_str());
    if (!r || r->status != 200) {
      if (m.errors++ == 0)
        std::fprintf(stderr, "client %d: %s\n", client,
                     r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
      continue;
    }
    m.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    const std::string header =
        o.envelope ? runtime::DecodeEnvelope(r->body, "the answer").header_json : r->body;
    m.batch_requests += nlohmann::json::parse(header)["batch"]["requests"].get<double>();
  }
  return m;
}

void RunLevel(const Options& o, int clients) {
  std::vector<Measured> per(clients);
  std::vector<std::thread> threads;
  std::atomic<int> ready = 0;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] { per[c] = Client(o, c, &ready, clients); });
  for (auto& t : threads) t.join();
  const double elapsed = o.seconds;
  std::vector<double> all;
  double batch = 0;
  int errors = 0;
  for (const auto& m : per) {
    all.insert(all.end(), m.latencies_ms.begin(), m.latencies_ms.end());
    batch += m.batch_requests;
    errors += m.errors;
  }
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf("clients %3d  %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  mean batch %5.2f  errors %d\n",
              clients, all.size() / elapsed, pct(0.5), pct(0.99),
              all.empty() ? 0.0 : batch / all.size(), errors);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: http_infer_load PORT MODEL [CLIENTS=1,8,32] [SECONDS=3] [SEQ=16] "
                 "[json|envelope]\n");
    return 2;
  }
  Options o;
  o.port = std::atoi(argv[1]);
  o.model = argv[2];
  if (argc > 3) {
    o.clients.clear();
    std::stringstream list(argv[3]);
    for (std::string n; std::getline(list, n, ',');) o.clients.push_back(std::stoi(n));
  }
  if (argc > 4) o.seconds = std::atof(argv[4]);
  if (argc > 5) o.seq = std::atoll(argv[5]);
  if (argc > 6) o.envelope = std::string(argv[6]) == "envelope";
  for (int clients : o.clients) RunLevel(o, clients);
  return 0;
}
