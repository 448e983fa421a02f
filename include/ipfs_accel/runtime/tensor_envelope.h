#pragma once
// The binary framing of named tensors the browser runner and the inference endpoint use: a
// 4-byte little-endian header length, a JSON header object ({..., "tensors": [{name, dtype,
// shape, offset, length}]}), then the tensors' raw little-endian bytes, each at its offset
// from the end of the header.

#include <map>
#include <string>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::runtime {

// REQUIRES: `header_json` is a JSON object (its "tensors" member is replaced).
std::string EncodeEnvelope(const std::string& header_json,
                           const std::map<std::string, core::Tensor>& tensors);

struct Envelope {
  std::string header_json;  // the header as sent, "tensors" list included
  std::map<std::string, core::Tensor> tensors;
};

// Throws core::Error of `kind` saying "<source> is not a tensor envelope: <why>" for a body
// that is cut short, has a header that is not a JSON object, an unknown dtype, a tensor whose
// bytes disagree with its shape or lie outside the body, or a name given twice.
Envelope DecodeEnvelope(const std::string& body,
                        const std::string& source = "the browser page's result",
                        core::ErrorKind kind = core::ErrorKind::kRuntime);

}  // namespace ipfs_accel::runtime
