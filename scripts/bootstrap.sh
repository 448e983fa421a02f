#!/usr/bin/env bash
# Installs everything the project builds and tests with. Idempotent: each
# step leaves a stamp and is skipped when its stamp is present and current.
# This script is the only place that knows where dependencies come from.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${IPFS_ACCEL_PREFIX:-$root/third_party/prefix}"
cache="$root/third_party/cache"
stamps="$prefix/.stamps"
mkdir -p "$prefix/include" "$prefix/lib" "$cache" "$stamps"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
debian_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libonnx-dev libprotobuf-dev protobuf-compiler libssl-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libonnx-testdata clang-14 libfuzzer-14-dev
  libpng-dev libjpeg62-turbo-dev libsndfile1-dev libsoxr-dev libfftw3-dev libxgboost-dev
  chromium firefox-esr
)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# --- npm packages (prebuilt libraries), checked by sha256 --------------------
# name@version  sha256-of-tarball
npm_fetch() {  # $1 spec, $2 sha256 -> prints path of the verified tarball
  local spec="$1" sum="$2" file
  file="$cache/$(printf '%s' "$spec" | tr '/@' '__').tgz"
  if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum -c --status; then
    log "fetching npm package $spec"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
    mv "$tmp"/*.tgz "$file"; rm -rf "$tmp"
    if ! echo "$sum  $file" | sha256sum -c --status; then
      log "checksum mismatch for $spec ($file): expected $sum"; rm -f "$file"; exit 1
    fi
  fi
  printf '%s\n' "$file"
}

stamp_ok() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }

# ONNX Runtime 1.29.0: the C/C++ headers and libonnxruntime_providers_shared.so from the asus4
# package; the library itself from onnxruntime-node, whose Linux x64 build is Microsoft's own with
# the CUDA, TensorRT and WebGPU provider interfaces compiled in. The asus4 library is a CPU-only
# build: with it the separately shipped CUDA provider attaches only through the plugin route and
# crashes in the first run (measured on an H100, docs/design.md). On the CPU both behave the same.
ORT_SPEC="com.github.asus4.onnxruntime@0.4.9"
ORT_SUM="e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d"
ORT_LIB_SPEC="onnxruntime-node@1.29.0"
ORT_LIB_SUM="cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037"
if ! stamp_ok onnxruntime "$ORT_SUM $ORT_LIB_SUM"; then
  tgz="$(npm_fetch "$ORT_SPEC" "$ORT_SUM")"
  lib_tgz="$(npm_fetch "$ORT_LIB_SPEC" "$ORT_LIB_SUM")"
  tmp="$(mktemp -d)"
  hdr='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'
  tar -xzf "$tgz" -C "$tmp" "$hdr" package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
  mkdir -p "$prefix/include/onnxruntime"
  cp "$tmp/$hdr"/*.h "$prefix/include/onnxruntime/"
  cp "$tmp"/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so "$prefix/lib/"
  rm -rf "$tmp/package"
  tar -xzf "$lib_tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  rm -f "$prefix/lib/libonnxruntime.so" "$prefix/lib/libonnxruntime.so.1"
  cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$prefix/lib/"
  ln -s libonnxruntime.so.1 "$prefix/lib/libonnxruntime.so"
  rm -rf "$tmp"
  echo "$ORT_SUM $ORT_LIB_SUM" > "$stamps/onnxruntime"
  log "onnxruntime installed into $prefix"
fi

DUCKDB_LIB_SPEC="@duckdb/node-bindings-linux-x64@1.5.6-r.1"
DUCKDB_LIB_SUM="1b9f82478539bb9a1d1df44bd103121a12ae52142c07158dc52b97d2ec1d69ff"
DUCKDB_HDR_SPEC="duckdb@1.4.4"
DUCKDB_HDR_SUM="5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed"
if ! stamp_ok duckdb "$DUCKDB_LIB_SUM $DUCKDB_HDR_SUM"; then
  lib_tgz="$(npm_fetch "$DUCKDB_LIB_SPEC" "$DUCKDB_LIB_SUM")"
  hdr_tgz="$(npm_fetch "$DUCKDB_HDR_SPEC" "$DUCKDB_HDR_SUM")"
  tmp="$(mktemp -d)"
  tar -xzf "$lib_tgz" -C "$tmp" package/libduckdb.so
  cp "$tmp/package/libduckdb.so" "$prefix/lib/"
  rm -rf "$tmp/package"
  tar -xzf "$hdr_tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  cp "$tmp/package/src/duckdb/src/include/duckdb.h" "$prefix/include/"
  rm -rf "$tmp"
  echo "$DUCKDB_LIB_SUM $DUCKDB_HDR_SUM" > "$stamps/duckdb"
  log "duckdb installed into $prefix"
fi

# onnxruntime-web for the browser platforms (wasm, webgpu, webnn): the ESM build without WebGL
# and the threaded SIMD wasm it loads (JSEP: wasm + WebGPU + WebNN in one binary).
ORT_WEB_SPEC="onnxruntime-web@1.30.0"
ORT_WEB_SUM="d2228df7e4616bc3348bf504ee888f3bec43789a273f0a63f3e68d203ce3bf71"
if ! stamp_ok onnxruntime-web "$ORT_WEB_SUM"; then
  tgz="$(npm_fetch "$ORT_WEB_SPEC" "$ORT_WEB_SUM")"
  tmp="$(mktemp -d)"
  tar -xzf "$tgz" -C "$tmp" package/dist/ort.min.mjs \
      package/dist/ort-wasm-simd-threaded.jsep.mjs package/dist/ort-wasm-simd-threaded.jsep.wasm
  rm -rf "$prefix/share/onnxruntime-web"
  mkdir -p "$prefix/share/onnxruntime-web"
  cp "$tmp"/package/dist/* "$prefix/share/onnxruntime-web/"
  rm -rf "$tmp"
  echo "$ORT_WEB_SUM" > "$stamps/onnxruntime-web"
  log "onnxruntime-web installed into $prefix/share/onnxruntime-web"
fi

# The OpenAPI validator the server's tests check /openapi.json with: @seriousme/openapi-schema-
# validator (the official OpenAPI 3.0/3.1 JSON Schemas, checked by Ajv) and its dependency tree,
# each package pinned and checksummed, unpacked as a node_modules folder (test-only, run by node).
OPENAPI_VALIDATOR_PACKAGES=(
  "@seriousme/openapi-schema-validator@2.11.0 70f69d93ee8a9fd7ac0dbbef98288a49c3120ce7076006e5ff336e131266cd2e"
  "ajv@8.20.0 b2f0b3a893bbb8cc5efb6814f08b1499e19e31d5dd73683f5893382f48f6e7b3"
  "ajv-formats@3.0.1 f4d6980fd367381fd29199066911e863db8d97496613b6c2c5b91563a150acc5"
  "ajv-draft-04@1.0.0 b2328acf9b3a5b1b3a098789770c2dd34ed86b5913c904c056091ec10319c2e7"
  "yaml@2.9.1 4ef6c54cf559b8a207b7b518378230805a1c84af239b14960e8c67c7d59de5d3"
  "fast-deep-equal@3.1.3 b019a0980f27638dc3f85836b0e478f188e00d7a6e5852c0819fa86f56e47b8f"
  "fast-uri@3.1.9 4f5a67f7b61110aae7b3ad38e806627f5712f4c150bd38eb804a562e69a9ee5e"
  "json-schema-traverse@1.0.0 023222622df29fc274bde5d3590e47aa1d4a8e3c1d6e2aba029948ed79799b21"
  "require-from-string@2.0.2 cb694a4965908f7775a0c757f00cf4e624d193cd71d77988fbcca0f597b88d82"
)
if ! stamp_ok openapi-validator "${OPENAPI_VALIDATOR_PACKAGES[*]}"; then
  modules="$prefix/share/openapi-validator/node_modules"
  rm -rf "$prefix/share/openapi-validator"
  for entry in "${OPENAPI_VALIDATOR_PACKAGES[@]}"; do
    spec="${entry% *}"; sum="${entry#* }"
    tgz="$(npm_fetch "$spec" "$sum")"
    dest="$modules/${spec%@*}"
    mkdir -p "$dest"
    tar -xzf "$tgz" -C "$dest" --strip-components=1
  done
  echo "${OPENAPI_VALIDATOR_PACKAGES[*]}" > "$stamps/openapi-validator"
  log "OpenAPI validator installed into $prefix/share/openapi-validator"
fi

# Apache ECharts for the dashboard's charts (web/dashboard): only its prebuilt ES module and its
# licence files; `serve` hands them out under /vendor/echarts/.
ECHARTS_SPEC="echarts@6.1.0"
ECHARTS_SUM="681aff88cc1038c3fa941a3a53d1b177a52250b05335efc607d6105ae13be481"
if ! stamp_ok echarts "$ECHARTS_SUM"; then
  tgz="$(npm_fetch "$ECHARTS_SPEC" "$ECHARTS_SUM")"
  tmp="$(mktemp -d)"
  tar -xzf "$tgz" -C "$tmp" package/dist/echarts.esm.min.js package/LICENSE package/NOTICE
  rm -rf "$prefix/share/echarts"
  mkdir -p "$prefix/share/echarts"
  cp "$tmp"/package/dist/echarts.esm.min.js "$tmp"/package/LICENSE "$tmp"/package/NOTICE \
     "$prefix/share/echarts/"
  rm -rf "$tmp"
  echo "$ECHARTS_SUM" > "$stamps/echarts"
  log "echarts installed into $prefix/share/echarts"
fi

# Playwright's core library (no npm dependencies, no bundled browser) for the dashboard test: it
# drives Debian's Chromium by path. Unpacked as a node_modules folder; test-only, run by node.
PLAYWRIGHT_SPEC="playwright-core@1.65.2"
PLAYWRIGHT_SUM="7430e43aaff66666975cef27e2268c670d79ad35da50215e654d9cb7be53643e"
if ! stamp_ok playwright "$PLAYWRIGHT_SUM"; then
  tgz="$(npm_fetch "$PLAYWRIGHT_SPEC" "$PLAYWRIGHT_SUM")"
  dest="$prefix/share/playwright/node_modules/playwright-core"
  rm -rf "$prefix/share/playwright"
  mkdir -p "$dest"
  tar -xzf "$tgz" -C "$dest" --strip-components=1
  echo "$PLAYWRIGHT_SUM" > "$stamps/playwright"
  log "playwright-core installed into $prefix/share/playwright"
fi

log "ready: prefix $prefix"
