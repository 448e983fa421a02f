#include "encoder_fused.h"

#include <limits>

#include "activation.h"

namespace ipfs_accel::models {

namespace {

// Q, K and V stacked along the output axis, as Attention takes them: weight [hidden, 3 hidden],
// bias [3 hidden]. The HF weights stay separate initializers (each counted once); ONNX Runtime
// folds these Concats into one initializer when it loads the graph.
EncoderLinear MergedQkv(GraphBuilder& g, const EncoderLayerWeights& w) {
  return {g.Node("Concat", {w.query.weight, w.key.weight, w.value.weight}, {{"axis", int64_t{1}}}),
          g.Node("Concat", {w.query.bias, w.key.bias, w.value.bias}, {{"axis", int64_t{0}}})};
}

// LayerNorm(x + skip + bias).
std::string SkipNorm(GraphBuilder& g, const std::string& x, const std::string& skip,
                     const EncoderNorm& norm, const std::string& bias, double eps) {
  std::vector<std::string> inputs = {x, skip, norm.gamma, norm.beta};
  if (!bias.empty()) inputs.push_back(bias);
  return g.NodeIn(kContribDomain, "SkipLayerNormalization", inputs,
                  {{"epsilon", static_cast<float>(eps)}});
}

// act(x + bias) for the FFN's first projection.
std::string BiasActivation(GraphBuilder& g, const std::string& x, const std::string& bias,
                           const std::string& act) {
  if (act == "gelu") return g.NodeIn(kContribDomain, "BiasGelu", {x, bias});  // exact erf form
  // FastGelu is the tanh approximation: 0.5 x (1 + tanh(0.7978845608 (x + 0.044715 x^3))).
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
    return g.NodeIn(kContribDomain, "FastGelu", {x, bias});
  return Activation(g, g.Node("Add", {x, bias}), act);
}

}  // namespace

std::string FusedAttentionMask(GraphBuilder& g) {
  return g.Node("Cast", {"attention_mask"}, {{"to", int64_t{onnx::TensorProto::INT32}}});
}

std::string FusedAddNorm(GraphBuilder& g, const std::string& x, const std::string& skip,
                         const EncoderNorm& norm, double eps) {
  return SkipNorm(g, x, skip, norm, "", eps);
}

std::string FusedEncoderLayer(GraphBuilder& g, const EncoderShape& s, const EncoderLayerWeights& w,
                              const std::string& x, const std::string& mask) {
  const EncoderLinear qkv = MergedQkv(g, w);
  // Masked keys get float32's lowest, as HF's additive mask does (the op's default, -10000,
  // differs where a whole row is masked: HF's scores then all tie).
  const std::string ctx = g.NodeIn(
      kContribDomain, "Attention", {x, qkv.weight, qkv.bias, mask},
      {{"num_heads", s.heads}, {"mask_filter_value", std::numeric_limits<float>::lowest()}});
  const std::string attn = SkipNorm(g, g.Node("MatMul", {ctx, w.attention_output.weight}), x,
                                    w.attention_norm, w.attention_output.bias, s.eps);
  const std::string h =
      BiasActivation(g, g.Node("MatMul", {attn, w.ffn_in.weight}), w.ffn_in.bias, s.act);
  return SkipNorm(g, g.Node("MatMul", {h, w.ffn_out.weight}), attn, w.output_norm, w.ffn_out.bias,
                  s.eps);
}

}  // namespace ipfs_accel::models
