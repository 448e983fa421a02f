// serve --max-waiting against the real server on loopback: with its one worker held and one
// connection waiting, every further connection is answered 503 with Retry-After at once, the
// held and the waiting ones are answered 200 once the worker is free, and the server serves
// again after the load; a kept-alive connection is closed after its answer while another waits;
// a connection that waited past --max-wait-ms gets 503.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "test_server.h"

namespace ipfs_accel::testing {
namespace waiting_bound_test {

constexpr const char* kHeldQuery = R"({"sql": "SELECT 42 AS answer"})";

// A connection that sends a request's headers and holds back its body: the worker that takes
// it waits for the body (cpp-httplib reads it before the handler), until Release().
class HeldRequest {
 public:
  explicit HeldRequest(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const timeval limit{.tv_sec = 60, .tv_usec = 0};  // never wait forever for the answer
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    Send(fmt::format(
        "POST /api/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        std::string(kHeldQuery).size()));
  }
  ~HeldRequest() { close(fd_); }
  bool connected() const { return connected_; }

  // Sends the body and returns the answer's status line.
  std::string Release() {
    Send(kHeldQuery);
    std::string answer;
    char buf[4096];
    for (ssize_t n; (n = recv(fd_, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
    return answer.substr(0, answer.find("\r\n"));
  }

 private:
  void Send(const std::string& text) {
    if (connected_) connected_ = send(fd_, text.data(), text.size(), MSG_NOSIGNAL) > 0;
  }
  int fd_;
  bool connected_ = false;
};

// Waits (a minute at most, so that a broken server fails instead of hanging) until
// `connections` wait for a worker.
bool WaitingReaches(const TestServer& server, int64_t connections) {
  for (int i = 0; i < 60000 && server.counters().waiting != connections; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server.counters().waiting == connections;
}

struct ClientAnswer {
  Answer answer;
  std::string retry_after;
};

// `count` clients at once, GET /api/health and POST /api/sql in turn; `until_answered` of them
// are awaited before `release` runs, then all.
std::vector<ClientAnswer> ConcurrentClients(const TestServer& server, int count, int until_answered,
                                            const std::function<void()>& release) {
  std::vector<ClientAnswer> answers(count);
  std::mutex mutex;
  std::condition_variable done;
  int answered = 0;
  std::vector<std::thread> clients;
  for (int i = 0; i < count; ++i)
    clients.emplace_back([&, i] {
      httplib::Client client = server.Client();
      const httplib::Result r = i % 2 == 0
                                    ? client.Get("/api/health")
                                    : client.Post("/api/sql", kHeldQuery, "application/json");
      std::lock_guard lock(mutex);
      answers[i] = {ToAnswer(r), r ? r->get_header_value("Retry-After") : ""};
      ++answered;
      done.notify_all();
    });
  {
    std::unique_lock lock(mutex);
    // A bound so that a broken server fails the test instead of hanging it.
    done.wait_for(lock, std::chrono::seconds(60), [&] { return answered >= until_answered; });
  }
  release();
  for (std::thread& t : clients) t.join();
  return answers;
}

TEST(WaitingBound, ConnectionsBeyondTheBoundGet503WithRetryAfterAndTheOthersAreServed) {
  TestServer server({.threads = 1, .max_waiting = 1});
  HeldRequest held(server.port());  // accepted first: the one worker takes it
  ASSERT_TRUE(held.connected());
  constexpr int kClients = 5;  // one waits for the worker, four are shed
  std::string held_status;
  int64_t waiting_while_held = -1;
  const std::vector<ClientAnswer> answers = ConcurrentClients(server, kClients, kClients - 1, [&] {
    waiting_while_held = server.counters().waiting;
    held_status = held.Release();
  });

  EXPECT_EQ(waiting_while_held, 1);
  EXPECT_EQ(held_status, "HTTP/1.1 200 OK");
  int served = 0, shed = 0;
  for (const ClientAnswer& a : answers) {
    if (a.answer.status == 200) ++served;
    if (a.answer.status != 503) continue;
    ++shed;
    EXPECT_EQ(a.retry_after, "1");
    EXPECT_EQ(a.answer.body.value("status", 0), 503);
    EXPECT_NE(a.answer.body.value("error", "").find("--max-waiting"), std::string::npos)
        << a.answer.body.dump();
  }
  EXPECT_EQ(served, 1);
  EXPECT_EQ(shed, kClients - 1);

  httplib::Client after = server.Client();
  EXPECT_EQ(ToAnswer(after.Get("/api/health")).status, 200);
  const httplib::Result metrics = after.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(fmt::format(
                "\nipfs_accel_http_shed_total{{reason=\"queue_full\"}} {}\n", kClients - 1)),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("\nipfs_accel_http_waiting 0\n"), std::string::npos);
}

TEST(WaitingBound, ZeroMeansNoBoundAndEveryWaitingConnectionIsServed) {
  TestServer server({.threads = 1, .max_waiting = 0});
  HeldRequest held(server.port());
  ASSERT_TRUE(held.connected());
  constexpr int kClients = 4;
  std::string held_status;
  bool all_waited = false;
  const std::vector<ClientAnswer> answers = ConcurrentClients(server, kClients, 0, [&] {
    all_waited = WaitingReaches(server, kClients);
    held_status = held.Release();
  });
  EXPECT_TRUE(all_waited);
  EXPECT_EQ(held_status, "HTTP/1.1 200 OK");
  EXPECT_EQ(server.counters().shed_queue_full, 0);
  for (const ClientAnswer& a : answers) EXPECT_EQ(a.answer.status, 200);
}

TEST(WaitingBound, AKeptAliveConnectionIsClosedAfterItsAnswerWhileAnotherWaits) {
  TestServer server({.threads = 1, .max_waiting = 1});
  httplib::Client kept = server.Client();
  kept.set_keep_alive(true);
  const httplib::Result first = kept.Get("/api/health");  // the worker now holds `kept`
  ASSERT_TRUE(first);
  EXPECT_NE(first->get_header_value("Connection"), "close");
  std::thread waiting([&] {
    httplib::Client client = server.Client();
    EXPECT_EQ(ToAnswer(client.Get("/api/health")).status, 200);
  });
  // `kept`'s next request comes while the other connection waits (well within the server's 2 s
  // keep-alive): answered, with the close that frees the worker for the waiting one.
  EXPECT_TRUE(WaitingReaches(server, 1));
  const httplib::Result second = kept.Get("/api/health");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->get_header_value("Connection"), "close");
  waiting.join();
  EXPECT_EQ(server.counters().shed_queue_full, 0);
}

TEST(WaitingBound, AConnectionThatWaitedPastTheTimeLimitGets503WithRetryAfter) {
  // A limit far above a thread's wake-up, so that the held request, taken by an idle worker,
  // is never late itself.
  TestServer server({.threads = 1, .max_waiting = 0, .max_wait_ms = 250});
  ASSERT_EQ(ToAnswer(server.Client().Get("/api/health")).status, 200);  // the worker is up
  HeldRequest held(server.port());
  ASSERT_TRUE(held.connected());
  std::string held_status;
  const std::vector<ClientAnswer> answers = ConcurrentClients(server, 1, 0, [&] {
    const bool waiting = WaitingReaches(server, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(750));  // 3 x the limit, at least
    held_status = held.Release();
    EXPECT_TRUE(waiting);
  });
  EXPECT_EQ(held_status, "HTTP/1.1 200 OK");  // taken at once: it did not wait
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].answer.status, 503);
  EXPECT_EQ(answers[0].retry_after, "1");
  EXPECT_NE(answers[0].answer.body.value("error", "").find("--max-wait-ms"), std::string::npos)
      << answers[0].answer.body.dump();
  EXPECT_EQ(server.counters().shed_waited_too_long, 1);
  httplib::Client after = server.Client();
  EXPECT_EQ(ToAnswer(after.Get("/api/health")).status, 200);  // nothing waits: served
}

}  // namespace waiting_bound_test
}  // namespace ipfs_accel::testing
