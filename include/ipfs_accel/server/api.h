#pragma once
// The server's own endpoints, each group added to a route table by one function. Another part
// of the program adds its routes the same way (a function taking the RouteTable and what its
// handlers need), before the server starts; /openapi.json and /docs describe whatever the table
// holds when they are requested.

#include <string>

#include "ipfs_accel/server/openapi.h"
#include "ipfs_accel/server/route.h"
#include "ipfs_accel/server/store_pool.h"
#include "ipfs_accel/store/query.h"

namespace ipfs_accel::server {

struct ApiContext {
  StorePool* stores = nullptr;
  store::QueryLimits sql_limits;  // the most POST /api/sql may ask for
};

// GET /api/health, /api/runs, /api/results, /api/models, /api/hardware (routes_results.cpp).
void AddResultRoutes(RouteTable& table, ApiContext& context);
// GET /api/matrix, /api/reports/{kind}, /api/compare (routes_analysis.cpp), /api/templates,
// /api/predictions (routes_catalog.cpp).
void AddAnalysisRoutes(RouteTable& table, ApiContext& context);
void AddCatalogRoutes(RouteTable& table, ApiContext& context);
// GET /api/select: the hardware ranked for one configuration (routes_select.cpp).
void AddSelectRoutes(RouteTable& table, ApiContext& context);
// POST /api/sql (routes_sql.cpp).
void AddSqlRoutes(RouteTable& table, ApiContext& context);
// POST /api/runs, bearer token required (routes_push.cpp).
void AddPushRoutes(RouteTable& table, ApiContext& context);
// GET /openapi.json and /docs (routes_docs.cpp); `table` must outlive the server.
void AddDocsRoutes(RouteTable& table, const ApiInfo& info);

// Everything above.
void AddCoreRoutes(RouteTable& table, ApiContext& context, const ApiInfo& info);

}  // namespace ipfs_accel::server
