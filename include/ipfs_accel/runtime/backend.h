#pragma once
// Opens a session on whichever backend serves the options' platform: ONNX Runtime for the
// native platforms, a headless Chromium page (onnxruntime-web) for wasm, webgpu and webnn.

#include <memory>
#include <string>
#include <vector>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

// Whether the platform runs in a browser page ("wasm", "webgpu", "webnn").
bool IsBrowserPlatform(const std::string& platform);

// Throws core::Error as OpenOnnxRuntimeSession does, and for browser platforms: kUnsupported
// (a graph with external data), kUnavailable (no Chromium or onnxruntime-web, or the browser
// lacks the platform), kRuntime (the page failed or did not answer; the browser is killed).
std::unique_ptr<Session> OpenSession(const models::Model& model, const SessionOptions& options);

// Loading a composite model's parts in the browser one after the other against all at once.
struct LoadTiming {
  std::vector<double> sequential_ms, concurrent_ms;  // the page's figures, one per repetition
  std::string execution_provider;
  std::string options_json;  // the page session's (browser, EP, adapter, threads, ...)
};
// Opens a page on the options' browser platform (its runtime started by opening parts[0],
// untimed), then `repetitions` times creates a session for every part, fetching its bytes, one
// after the other and all at once (alternating which goes first), releasing them after each.
// Throws like OpenSession, and kInvalidArgument for a native platform or fewer than two parts.
LoadTiming TimeBrowserLoading(const std::vector<const models::Model*>& parts,
                              const SessionOptions& options, int repetitions);

}  // namespace ipfs_accel::runtime
