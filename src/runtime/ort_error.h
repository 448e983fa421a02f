#pragma once
// ONNX Runtime's error messages as one line for a user: ORT prefixes a failing node's message
// with the C++ source location and function signature that raised it ("/onnxruntime_src/...
// reshape_helper.h:91 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&,
// ...)") and ends it with a newline; neither tells the user anything.

#include <string>
#include <string_view>

namespace ipfs_accel::runtime {

// "Non-zero status code returned while running Reshape node. Name:'r' Status Message: <where>
// <signature> <message>\n" -> "Reshape node 'r': <message>"; other text: core::OneLine.
std::string OrtErrorText(std::string_view what);

}  // namespace ipfs_accel::runtime
