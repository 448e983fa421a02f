// Where the dashboard's files are (dashboard.h).

#include "ipfs_accel/server/dashboard.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::server {

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

DashboardFiles FindDashboardFiles() {
  namespace fs = std::filesystem;
  DashboardFiles f{EnvOr("IPFS_ACCEL_WEB_DIR", IPFS_ACCEL_WEB_DIR) + "/dashboard",
                   EnvOr("IPFS_ACCEL_ECHARTS_DIR", IPFS_ACCEL_ECHARTS_DIR)};
  if (!fs::is_regular_file(fs::path(f.page_dir) / "index.html"))
    throw core::Error(core::ErrorKind::kUnavailable,
                      fmt::format("the dashboard page is not at {} (set IPFS_ACCEL_WEB_DIR to "
                                  "the repository's web/ folder)",
                                  f.page_dir));
  if (!fs::is_regular_file(fs::path(f.chart_dir) / "echarts.esm.min.js"))
    throw core::Error(core::ErrorKind::kUnavailable,
                      fmt::format("ECharts is not installed at {} (scripts/bootstrap.sh installs "
                                  "it; IPFS_ACCEL_ECHARTS_DIR points elsewhere)",
                                  f.chart_dir));
  return f;
}

std::vector<std::pair<std::string, std::string>> DashboardMounts(const DashboardFiles& files) {
  return {{kDashboardMount, files.page_dir}, {kChartLibraryMount, files.chart_dir}};
}

}  // namespace ipfs_accel::server
