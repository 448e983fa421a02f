// /openapi.json: valid OpenAPI by an independent validator (npm's
// @seriousme/openapi-schema-validator, installed by scripts/bootstrap.sh), and the same routes
// the server dispatches.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_server.h"

namespace ipfs_accel::testing {
namespace openapi_test {

TEST(OpenApi, TheDocumentIsValidOpenApiByAnIndependentValidator) {
  if (!std::filesystem::exists(IPFS_ACCEL_OPENAPI_VALIDATOR))
    GTEST_SKIP() << "run scripts/bootstrap.sh: no " << IPFS_ACCEL_OPENAPI_VALIDATOR;
  TestServer server;
  const auto r = server.Client().Get("/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  TempDir dir;
  const std::string file = dir.File("openapi.json");
  std::ofstream(file) << r->body;
  const std::string command = std::string("node ") + IPFS_ACCEL_SOURCE_DIR +
                              "/tests/server/validate_openapi.mjs " + IPFS_ACCEL_OPENAPI_VALIDATOR +
                              " " + file + " > " + dir.File("out.txt") + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(dir.File("out.txt"));
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("valid OpenAPI 3.0"), std::string::npos) << output;
}

TEST(OpenApi, EveryDocumentedOperationIsARouteTheServerDispatches) {
  TestServer server;
  const nlohmann::json doc = nlohmann::json::parse(server.Client().Get("/openapi.json")->body);
  size_t operations = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      ++operations;
      std::string concrete = path;  // a value for each path parameter
      for (size_t at; (at = concrete.find('{')) != std::string::npos;)
        concrete.replace(at, concrete.find('}', at) - at + 1, "performance");
      httplib::Client client = server.Client();
      const auto r = method == "get" ? client.Get(concrete.c_str())
                                     : client.Post(concrete.c_str(), "{}", "application/json");
      ASSERT_TRUE(r) << method << " " << path;
      EXPECT_NE(r->status, 404 * (path.find('{') == std::string::npos)) << method << " " << path;
      EXPECT_NE(r->status, 405) << method << " " << path;
    }
  }
  EXPECT_EQ(operations, server.routes().routes().size());
}

}  // namespace openapi_test
}  // namespace ipfs_accel::testing
