#pragma once
// The dashboard's static files: its page (web/dashboard: HTML, ES modules, CSS) and the chart
// library the bootstrap installs (Apache ECharts' ES module), served at /dashboard and
// /vendor/echarts. The page fetches nothing from anywhere else: its data comes from /api/*.

#include <string>
#include <utility>
#include <vector>

namespace ipfs_accel::server {

inline constexpr const char* kDashboardMount = "/dashboard";
inline constexpr const char* kChartLibraryMount = "/vendor/echarts";

struct DashboardFiles {
  std::string page_dir;   // holds index.html
  std::string chart_dir;  // holds echarts.esm.min.js
};

// IPFS_ACCEL_WEB_DIR/dashboard and IPFS_ACCEL_ECHARTS_DIR when those environment variables are
// set, else the paths this build was configured with (the checkout's web/ and the bootstrap's
// prefix). Throws core::Error(kUnavailable) naming the folder that lacks its file and how to
// get it.
DashboardFiles FindDashboardFiles();

// The (mount point, folder) pairs for ServerOptions::static_dirs.
std::vector<std::pair<std::string, std::string>> DashboardMounts(const DashboardFiles& files);

}  // namespace ipfs_accel::server
