#include "activation.h"

#include <cmath>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

std::string Activation(GraphBuilder& g, const std::string& x, const std::string& hf_name) {
  if (hf_name == "gelu" || hf_name == "gelu_python") {  // 0.5 x (1 + erf(x / sqrt 2))
    const std::string erf = g.Node("Erf", {g.Node("Div", {x, g.ConstFloat(std::sqrt(2.0f))})});
    const std::string one_plus = g.Node("Add", {erf, g.ConstFloat(1.0f)});
    return g.Node("Mul", {g.Node("Mul", {x, one_plus}), g.ConstFloat(0.5f)});
  }
  if (hf_name == "gelu_new" || hf_name == "gelu_pytorch_tanh" || hf_name == "gelu_fast") {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const std::string x3 = g.Node("Mul", {g.Node("Mul", {x, x}), x});
    const std::string inner = g.Node("Add", {x, g.Node("Mul", {x3, g.ConstFloat(0.044715f)})});
    const std::string t = g.Node(
        "Tanh", {g.Node("Mul", {inner, g.ConstFloat(static_cast<float>(std::sqrt(2.0 / M_PI)))})});
    const std::string one_plus = g.Node("Add", {t, g.ConstFloat(1.0f)});
    return g.Node("Mul", {g.Node("Mul", {x, one_plus}), g.ConstFloat(0.5f)});
  }
  if (hf_name == "quick_gelu")  // CLIP: x * sigmoid(1.702 x)
    return g.Node("Mul", {x, g.Node("Sigmoid", {g.Node("Mul", {x, g.ConstFloat(1.702f)})})});
  if (hf_name == "relu") return g.Node("Relu", {x});
  if (hf_name == "relu2") {  // Persimmon, Nemotron, Jais2: relu(x)^2
    const std::string r = g.Node("Relu", {x});
    return g.Node("Mul", {r, r});
  }
  if (hf_name == "silu" || hf_name == "swish") return g.Node("Mul", {x, g.Node("Sigmoid", {x})});
  if (hf_name == "tanh") return g.Node("Tanh", {x});
  if (hf_name == "hardswish") return g.Node("HardSwish", {x});  // x relu6(x + 3) / 6
  throw core::Error(
      core::ErrorKind::kUnsupported,
      fmt::format("activation '{}' is not supported (supported: gelu, gelu_python, gelu_new, "
                  "gelu_pytorch_tanh, quick_gelu, relu, relu2, silu, tanh, hardswish)",
                  hf_name));
}

namespace {

// xIELU (arXiv 2411.13010) as HF's XIELUActivation computes it: with a_p = softplus(alpha_p)
// and a_n = beta + softplus(alpha_n), a_p x^2 + beta x for x > 0, else
// (expm1(min(x, eps)) - x) a_n + beta x; beta 0.5 and eps -1e-6 are fixed buffers.
std::string Xielu(GraphBuilder& g, const std::string& x, const std::string& prefix) {
  const std::string beta = g.ConstFloat(0.5f);
  const std::string alpha_p =
      g.Node("Softplus", {g.Weight(prefix + ".alpha_p", {1}, WeightInit::kZeros)});
  const std::string alpha_n = g.Node(
      "Add", {beta, g.Node("Softplus", {g.Weight(prefix + ".alpha_n", {1}, WeightInit::kZeros)})});
  const std::string linear = g.Node("Mul", {x, beta});
  const std::string positive =
      g.Node("Add", {g.Node("Mul", {g.Node("Mul", {x, x}), alpha_p}), linear});
  const std::string expm1 = g.Node(
      "Sub", {g.Node("Exp", {g.Node("Min", {x, g.ConstFloat(-1e-6f)})}), g.ConstFloat(1.0f)});
  const std::string negative =
      g.Node("Add", {g.Node("Mul", {g.Node("Sub", {expm1, x}), alpha_n}), linear});
  return g.Node("Where", {g.Node("Greater", {x, g.ConstFloat(0.0f)}), positive, negative});
}

}  // namespace

std::string ActivationWithParameters(GraphBuilder& g, const std::string& x,
                                     const std::string& hf_name, const std::string& prefix) {
  if (hf_name == "xielu") return Xielu(g, x, prefix);
  return Activation(g, x, hf_name);
}

}  // namespace ipfs_accel::models
