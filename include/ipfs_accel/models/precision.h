#pragma once
// Precision variants of a graph, made by rewriting it (the fp32 graph is the
// reference every variant's accuracy is measured against):
//   fp32  unchanged;
//   fp16  weights and activations in float16, with fp32 islands for normalisations,
//         softmax and transcendental functions; graph inputs/outputs stay fp32;
//   int8  dynamic quantization of MatMul weights: weights int8 per output column,
//         activations quantized at run time (DynamicQuantizeLinear + MatMulInteger);
//   int4  weight-only block-wise 4-bit quantization (com.microsoft MatMulNBits,
//         blocks of 32 along K, symmetric, default zero point 8; accuracy_level 4 lets
//         the CPU kernel compute with int8 activations).
// Only MatMuls whose weight is a 2-D float initializer are rewritten; everything
// else stays fp32.

#include <string>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// "fp32", "fp16", "int8", "int4"; throws core::Error(kInvalidArgument) for others.
Precision ParsePrecision(const std::string& name);
const char* PrecisionName(Precision precision);

// A copy of `model` at `precision`: same inputs, outputs and info (the precision is
// recorded beside results, not in the model's identity). Throws core::Error(kUnsupported) for a
// model loaded from a path (an .onnx file; may have external data) and kInternal if the rewritten
// graph fails the ONNX checker.
Model ConvertPrecision(const Model& model, Precision precision);

// How many MatMuls the conversion rewrote (for tests and reports).
int CountQuantizedMatMuls(const Model& model);

}  // namespace ipfs_accel::models
