// GET /openapi.json and /docs: made from the route table when requested, so they describe
// every route added before the server started, whoever added it.

#include "ipfs_accel/server/api.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

void AddDocsRoutes(RouteTable& table, const ApiInfo& info) {
  const RouteTable* routes = &table;
  table.Add({.method = "GET",
             .path = "/openapi.json",
             .summary = "This API as an OpenAPI 3.0.3 document",
             .tag = "meta",
             .response_schema = AnyObjectSchema(),
             .handler = [routes, info](const Request&) {
               return Response::Json(OpenApiDocument(*routes, info));
             }});
  table.Add({.method = "GET",
             .path = "/docs",
             .summary = "A page that renders /openapi.json",
             .tag = "meta",
             .response_schema = {{"type", "string"}},
             .response_content_type = "text/html",
             .handler = [info](const Request&) {
               return Response::Text(DocsPage(info.title), "text/html; charset=utf-8");
             }});
}

void AddCoreRoutes(RouteTable& table, ApiContext& context, const ApiInfo& info) {
  AddResultRoutes(table, context);
  AddAnalysisRoutes(table, context);
  AddCatalogRoutes(table, context);
  AddSelectRoutes(table, context);
  AddSqlRoutes(table, context);
  AddPushRoutes(table, context);
  AddDocsRoutes(table, info);
}

}  // namespace ipfs_accel::server
