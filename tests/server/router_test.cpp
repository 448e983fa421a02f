// The route table and Dispatch without sockets: matching, parameter checks, token checks, and
// how what a handler throws becomes a status.

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/server/auth.h"
#include "ipfs_accel/server/router.h"
#include "support/catch_error.h"

namespace ipfs_accel::server {
namespace router_test {

Route Echo(std::string method, std::string path, std::vector<ParamSpec> params = {}) {
  return {.method = std::move(method),
          .path = std::move(path),
          .summary = "echo",
          .params = std::move(params),
          .handler = [](const Request& r) {
            nlohmann::json out = r.params;
            return Response::Json(out);
          }};
}

RawRequest Get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  return {.method = "GET", .path = std::move(path), .query = std::move(query)};
}

nlohmann::json Body(const Response& r) { return nlohmann::json::parse(r.body); }

TEST(RouteTable, RefusesARouteDeclaredTwiceOrWithAnUndeclaredPathParameter) {
  RouteTable table;
  table.Add(Echo("GET", "/a"));
  EXPECT_EQ(testing::CatchError([&] { table.Add(Echo("GET", "/a")); }).kind(),
            core::ErrorKind::kInternal);
  EXPECT_NE(std::string(testing::CatchError([&] { table.Add(Echo("GET", "/b/{id}")); }).what())
                .find("'id' is not declared"),
            std::string::npos);
  EXPECT_EQ(testing::CatchError([&] {
              table.Add(Echo("GET", "/c", {{.name = "id", .in = ParamIn::kPath}}));
            }).kind(),
            core::ErrorKind::kInternal);
}

TEST(RouteTable, ALiteralSegmentWinsOverAParameterAndPathValuesArePercentDecoded) {
  RouteTable table;
  table.Add(Echo("GET", "/t/{name}", {{.name = "name", .in = ParamIn::kPath}}));
  table.Add(Echo("GET", "/t/list"));
  const auto list = table.Find("GET", "/t/list");
  ASSERT_NE(list.route, nullptr);
  EXPECT_EQ(list.route->path, "/t/list");
  const auto named = table.Find("GET", "/t/a%20b");
  ASSERT_NE(named.route, nullptr);
  EXPECT_EQ(named.path_params.at("name"), "a b");
  EXPECT_EQ(table.Find("GET", "/t").route, nullptr);
  EXPECT_EQ(table.Find("GET", "/t/x/y").route, nullptr);
}

TEST(Dispatch, UnknownPathIs404AndAnotherMethodIs405NamingTheAllowedOnes) {
  RouteTable table;
  table.Add(Echo("POST", "/p"));
  const Response missing = Dispatch(table, Get("/nope"), {});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Body(missing)["status"], 404);
  const Response wrong = Dispatch(table, Get("/p"), {});
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at("Allow"), "POST");
}

TEST(Dispatch, ChecksEveryParameterAgainstItsSpecWithOneLine) {
  RouteTable table;
  table.Add(Echo("GET", "/q",
                 {{.name = "n", .type = ParamType::kInteger, .minimum = 1, .maximum = 10},
                  {.name = "x", .type = ParamType::kNumber},
                  {.name = "b", .type = ParamType::kBoolean},
                  {.name = "d", .type = ParamType::kDate},
                  {.name = "k", .allowed = {"a", "b"}},
                  {.name = "r", .required = true}}));
  const auto status = [&](std::vector<std::pair<std::string, std::string>> q) {
    return Dispatch(table, Get("/q", std::move(q)), {}).status;
  };
  EXPECT_EQ(
      status(
          {{"r", "1"}, {"n", "5"}, {"x", "1e-3"}, {"b", "true"}, {"d", "2026-12-01"}, {"k", "a"}}),
      200);
  EXPECT_EQ(status({{"r", "1"}, {"d", "2026-12-01T10:00:00Z"}}), 200);
  EXPECT_EQ(status({}), 400);                          // r missing
  EXPECT_EQ(status({{"r", "1"}, {"n", "11"}}), 400);   // above maximum
  EXPECT_EQ(status({{"r", "1"}, {"n", "5x"}}), 400);   // not a whole number
  EXPECT_EQ(status({{"r", "1"}, {"x", "nan"}}), 400);  // not finite
  EXPECT_EQ(status({{"r", "1"}, {"b", "yes"}}), 400);  // not true/false
  EXPECT_EQ(status({{"r", "1"}, {"d", "12/01/2026"}}), 400);
  EXPECT_EQ(status({{"r", "1"}, {"k", "c"}}), 400);    // not allowed
  EXPECT_EQ(status({{"r", "1"}, {"zzz", "1"}}), 400);  // undeclared
  EXPECT_EQ(status({{"r", "1"}, {"r", "2"}}), 400);    // twice
  const Response bad = Dispatch(table, Get("/q", {{"r", "1"}, {"n", "0"}}), {});
  const std::string message = Body(bad)["error"];
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_NE(message.find("'n'"), std::string::npos);
}

TEST(Dispatch, ARouteNeedingTheTokenAnswers401WithoutOrWithAWrongOneAnd403WhenTheServerHasNone) {
  RouteTable table;
  Route write = Echo("POST", "/w");
  write.requires_token = true;
  table.Add(write);
  const RouterOptions options{.token = "0123456789abcdef-secret"};
  RawRequest request{.method = "POST", .path = "/w"};
  EXPECT_EQ(Dispatch(table, request, options).status, 401);
  EXPECT_EQ(Dispatch(table, request, options).headers.at("WWW-Authenticate"), "Bearer");
  request.headers["authorization"] = "Bearer 0123456789abcdef-secreT";
  EXPECT_EQ(Dispatch(table, request, options).status, 401);
  request.headers["authorization"] = "Basic 0123456789abcdef-secret";
  EXPECT_EQ(Dispatch(table, request, options).status, 401);
  request.headers["authorization"] = "bearer 0123456789abcdef-secret";
  EXPECT_EQ(Dispatch(table, request, options).status, 200);
  EXPECT_EQ(Dispatch(table, request, {}).status, 403);
}

TEST(Dispatch, MapsWhatAHandlerThrowsToAStatus) {
  RouteTable table;
  const auto thrower = [&](std::string path, std::function<void()> f) {
    Route r = Echo("GET", path);
    r.handler = [f](const Request&) -> Response {
      f();
      return Response::Json(nlohmann::json::object());
    };
    table.Add(r);
  };
  thrower("/bad", [] { throw core::Error(core::ErrorKind::kInvalidArgument, "bad ref"); });
  thrower("/none", [] { throw core::Error(core::ErrorKind::kNotFound, "no run"); });
  thrower("/http", [] { throw HttpError(413, "too big"); });
  thrower("/bug", [] { throw std::runtime_error("oops"); });
  EXPECT_EQ(Dispatch(table, Get("/bad"), {}).status, 400);
  EXPECT_EQ(Body(Dispatch(table, Get("/bad"), {}))["error"], "bad ref");
  EXPECT_EQ(Dispatch(table, Get("/none"), {}).status, 404);
  EXPECT_EQ(Dispatch(table, Get("/http"), {}).status, 413);
  EXPECT_EQ(Dispatch(table, Get("/bug"), {}).status, 500);
}

TEST(Auth, TokensMatchOnlyWhenEqual) {
  EXPECT_TRUE(TokenMatches("abc", "abc"));
  EXPECT_FALSE(TokenMatches("abc", "abd"));
  EXPECT_FALSE(TokenMatches("abc", "abcd"));
  EXPECT_FALSE(TokenMatches("", "abc"));
  EXPECT_EQ(BearerToken("Bearer  tok "), "tok");
  EXPECT_EQ(BearerToken("Token tok"), std::nullopt);
}

}  // namespace router_test
}  // namespace ipfs_accel::server
