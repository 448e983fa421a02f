# Finds ONNX Runtime: -DONNXRUNTIME_ROOT=<release with include/ and lib/>, else the
# bootstrap prefix. Defines OnnxRuntime::OnnxRuntime and OnnxRuntime_LIBRARY_DIR.
set(_ort_hints ${ONNXRUNTIME_ROOT} $ENV{ONNXRUNTIME_ROOT} ${IPFS_ACCEL_PREFIX})
find_path(OnnxRuntime_INCLUDE_DIR onnxruntime_cxx_api.h
  HINTS ${_ort_hints} PATH_SUFFIXES include/onnxruntime include NO_DEFAULT_PATH)
find_library(OnnxRuntime_LIBRARY NAMES onnxruntime
  HINTS ${_ort_hints} PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OnnxRuntime
  REQUIRED_VARS OnnxRuntime_LIBRARY OnnxRuntime_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "run scripts/bootstrap.sh, or pass -DONNXRUNTIME_ROOT=<ORT release folder>")
if(OnnxRuntime_FOUND AND NOT TARGET OnnxRuntime::OnnxRuntime)
  get_filename_component(OnnxRuntime_LIBRARY_DIR "${OnnxRuntime_LIBRARY}" DIRECTORY)
  add_library(OnnxRuntime::OnnxRuntime SHARED IMPORTED)
  set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES
    IMPORTED_LOCATION "${OnnxRuntime_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OnnxRuntime_INCLUDE_DIR}")
  # The executables find the library where it was found at build time.
  set(CMAKE_BUILD_RPATH "${CMAKE_BUILD_RPATH};${OnnxRuntime_LIBRARY_DIR}")
endif()
