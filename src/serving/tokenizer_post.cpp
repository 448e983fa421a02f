#include "serving/tokenizer_post.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

// One step of a template: the sequence itself, or a special token's ids and strings.
struct Step {
  bool sequence = false;
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;
};

class Template : public PostProcessor {
 public:
  explicit Template(std::vector<Step> steps) : steps_(std::move(steps)) {}
  void Process(Encoding& e, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    Encoding out;
    for (const Step& s : steps_) {
      const auto& ids = s.sequence ? e.ids : s.ids;
      const auto& tokens = s.sequence ? e.tokens : s.tokens;
      out.ids.insert(out.ids.end(), ids.begin(), ids.end());
      out.tokens.insert(out.tokens.end(), tokens.begin(), tokens.end());
    }
    e = std::move(out);
  }
  size_t Added() const override {
    size_t n = 0;
    for (const Step& s : steps_) n += s.ids.size();
    return n;
  }

 private:
  std::vector<Step> steps_;
};

class NoOp : public PostProcessor {
 public:
  void Process(Encoding&, bool) const override {}
  size_t Added() const override { return 0; }
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts)
      : parts_(std::move(parts)) {}
  void Process(Encoding& e, bool add_special_tokens) const override {
    for (const auto& p : parts_) p->Process(e, add_special_tokens);
  }
  size_t Added() const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->Added();
    return n;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

// TemplateProcessing's "single" template; its pieces are {"Sequence": {"id": "A"}} or
// {"SpecialToken": {"id": name}} with the name looked up in "special_tokens".
std::unique_ptr<PostProcessor> MakeTemplate(const nlohmann::json& j, const std::string& what) {
  std::vector<Step> steps;
  const auto& specials = j.at("special_tokens");
  for (const auto& piece : j.at("single")) {
    if (piece.contains("Sequence")) {
      if (piece["Sequence"].value("id", "A") != "A") {
        throw Error(ErrorKind::kUnsupported, what + ": the single template names sequence B");
      }
      steps.push_back({true, {}, {}});
    } else if (piece.contains("SpecialToken")) {
      std::string name = piece["SpecialToken"].at("id").get<std::string>();
      if (!specials.contains(name)) {
        throw Error(ErrorKind::kCorrupt,
                    what + ": special token " + name + " is not in special_tokens");
      }
      const auto& s = specials[name];
      steps.push_back({false, s.at("ids").get<std::vector<uint32_t>>(),
                       s.at("tokens").get<std::vector<std::string>>()});
    } else {
      throw Error(ErrorKind::kUnsupported, what + ": template piece " + piece.dump());
    }
  }
  return std::make_unique<Template>(std::move(steps));
}

// BertProcessing and RobertaProcessing on one sequence: cls, the sequence, sep.
std::unique_ptr<PostProcessor> MakeClsSep(const nlohmann::json& j) {
  auto cls = j.at("cls"), sep = j.at("sep");
  std::vector<Step> steps;
  steps.push_back({false, {cls.at(1).get<uint32_t>()}, {cls.at(0).get<std::string>()}});
  steps.push_back({true, {}, {}});
  steps.push_back({false, {sep.at(1).get<uint32_t>()}, {sep.at(0).get<std::string>()}});
  return std::make_unique<Template>(std::move(steps));
}

}  // namespace

std::unique_ptr<PostProcessor> MakePostProcessor(const nlohmann::json& j,
                                                 const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  const std::string what = origin + ": post_processor " + type;
  if (type == "TemplateProcessing") return MakeTemplate(j, what);
  if (type == "BertProcessing" || type == "RobertaProcessing") return MakeClsSep(j);
  if (type == "ByteLevel") return std::make_unique<NoOp>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (const auto& p : j.at("processors")) {
      if (auto q = MakePostProcessor(p, origin)) parts.push_back(std::move(q));
    }
    return std::make_unique<SequencePostProcessor>(std::move(parts));
  }
  throw Error(ErrorKind::kUnsupported,
              what +
                  " is not supported by this reader (supported: TemplateProcessing, "
                  "BertProcessing, RobertaProcessing, ByteLevel, Sequence)");
}

}  // namespace ipfs_accel::serving
