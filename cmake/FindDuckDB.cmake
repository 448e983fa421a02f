# Finds DuckDB's C API: -DDUCKDB_ROOT=<folder with include/duckdb.h and lib/libduckdb.so>,
# else the bootstrap prefix. Defines DuckDB::DuckDB.
set(_duckdb_hints ${DUCKDB_ROOT} $ENV{DUCKDB_ROOT} ${IPFS_ACCEL_PREFIX})
find_path(DuckDB_INCLUDE_DIR duckdb.h HINTS ${_duckdb_hints} PATH_SUFFIXES include NO_DEFAULT_PATH)
find_library(DuckDB_LIBRARY NAMES duckdb HINTS ${_duckdb_hints} PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DuckDB
  REQUIRED_VARS DuckDB_LIBRARY DuckDB_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "run scripts/bootstrap.sh, or pass -DDUCKDB_ROOT=<folder with include/duckdb.h, lib/libduckdb.so>")
if(DuckDB_FOUND AND NOT TARGET DuckDB::DuckDB)
  get_filename_component(DuckDB_LIBRARY_DIR "${DuckDB_LIBRARY}" DIRECTORY)
  add_library(DuckDB::DuckDB SHARED IMPORTED)
  set_target_properties(DuckDB::DuckDB PROPERTIES
    IMPORTED_LOCATION "${DuckDB_LIBRARY}"
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${DuckDB_INCLUDE_DIR}")
  set(CMAKE_BUILD_RPATH "${CMAKE_BUILD_RPATH};${DuckDB_LIBRARY_DIR}")
endif()
