#include "ipfs_accel/analysis/compatibility_matrix.h"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/analysis/svg_chart.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/store/display_time.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::analysis {

namespace {

// The fixed columns, in order, and the stored platform names each gathers.
const std::vector<MatrixColumn>& FixedColumns() {
  static const std::vector<MatrixColumn> columns = {
      {"CUDA", {"cuda"}},
      {"ROCm", {"rocm"}},
      {"MPS", {"mps", "coreml"}},
      {"OpenVINO", {"openvino"}},
      {"Qualcomm", {"qnn", "qualcomm"}},
      {"WebNN", {"webnn"}},
      {"WebGPU", {"webgpu"}},
      {"CPU", {"cpu"}},
  };
  return columns;
}

// Lower is better: the headline of a cell is its best status.
int StatusRank(const std::string& status) {
  if (status == "ok") return 0;
  if (status == "failed") return 1;
  if (status == "skipped") return 2;
  if (status == "unavailable") return 4;
  if (status == kNeverTried) return 5;
  return 3;  // a status this build does not know: shown, but below what was tried
}

int PrecisionRank(const std::string& precision) {
  static const std::vector<std::string> order = {"fp32", "fp16", "int8", "int4"};
  const auto it = std::find(order.begin(), order.end(), precision);
  return static_cast<int>(it - order.begin());
}

int ModalityRank(const std::string& modality) {
  static const std::vector<std::string> order = {"text", "vision", "audio", "multimodal",
                                                 "unknown"};
  const auto it = std::find(order.begin(), order.end(), modality);
  return static_cast<int>(it - order.begin());
}

std::string ModelKey(const MatrixResult& r) { return std::to_string(r.model_id); }

const std::string& Text(const std::optional<std::string>& cell) {
  static const std::string empty;
  return cell ? *cell : empty;
}

std::optional<double> Number(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return std::stod(*cell);
}

// Every stored result, newest first: for each model x platform x precision x graph, the results
// of the latest run that has one.
std::vector<MatrixResult> LatestResults(store::ResultStore& store, const MatrixFilter& filter) {
  const store::QueryResult q = store.Query(fmt::format(
      "SELECT m.name, m.source, m.source_path, m.modality, h.platform, h.device_name, "
      "h.hostname, c.precision, c.graph_variant, c.status, c.execution_provider, c.error_class, "
      "c.error_message, c.max_abs_error, c.top1_agreement, c.run_id, {}, m.model_id, {} "
      "FROM compatibility_results c JOIN runs r ON r.run_id = c.run_id "
      "JOIN models m ON m.model_id = c.model_id "
      "JOIN hardware_platforms h ON h.hardware_id = c.hardware_id "
      "ORDER BY r.started_at DESC, c.id DESC",
      store::DisplayTimestampSql("r.started_at"), ModelLabelSql("m")));
  std::vector<MatrixResult> latest;
  std::map<std::string, std::string> latest_run;  // key -> run_id of its newest result
  for (const auto& row : q.rows) {
    MatrixResult r{.model = Text(row[0]),
                   .model_id = std::stoll(Text(row[17])),
                   .model_label = Text(row[18]),
                   .model_source = Text(row[1]),
                   .model_source_path = Text(row[2]),
                   .modality = Text(row[3]),
                   .platform = Text(row[4]),
                   .device_name = Text(row[5]),
                   .hostname = Text(row[6]),
                   .precision = Text(row[7]),
                   .graph_variant = Text(row[8]),
                   .status = Text(row[9]),
                   .execution_provider = Text(row[10]),
                   .error_class = Text(row[11]),
                   .error_message = Text(row[12]),
                   .max_abs_error = Number(row[13]),
                   .top1_agreement = Number(row[14]),
                   .reference = false,
                   .run_id = Text(row[15]),
                   .run_started_at = Text(row[16])};
    // The host filter goes before "latest": another host's newer result must not hide this one.
    if (filter.hostname && r.hostname != *filter.hostname) continue;
    // A run stores one result per configuration that failed or was skipped beside the one
    // "ok" of those that ran: the latest run's results for the key are kept together.
    const std::string key =
        fmt::format("{}\n{}\n{}\n{}", ModelKey(r), r.platform, r.precision, r.graph_variant);
    const auto [it, first] = latest_run.emplace(key, r.run_id);
    if (!first && it->second != r.run_id) continue;
    r.reference = r.status == "ok" && r.platform == "cpu" && r.precision == "fp32" &&
                  r.graph_variant == "plain" && !r.max_abs_error;
    latest.push_back(std::move(r));
  }
  return latest;
}

MatrixCell MakeCell(std::vector<MatrixResult> results) {
  MatrixCell cell;
  std::sort(results.begin(), results.end(), [](const MatrixResult& a, const MatrixResult& b) {
    return std::make_tuple(a.model_label, a.model_id, PrecisionRank(a.precision), a.precision,
                           a.graph_variant != "plain", a.graph_variant, a.platform) <
           std::make_tuple(b.model_label, b.model_id, PrecisionRank(b.precision), b.precision,
                           b.graph_variant != "plain", b.graph_variant, b.platform);
  });
  std::map<std::string, std::string> best_of_model;
  for (const MatrixResult& r : results) {
    if (StatusRank(r.status) < StatusRank(cell.status)) cell.status = r.status;
    std::string& best = best_of_model.try_emplace(ModelKey(r), kNeverTried).first->second;
    if (StatusRank(r.status) < StatusRank(best)) best = r.status;
    if (r.status != "ok") continue;
    cell.has_reference = cell.has_reference || r.reference;
    if (r.precision == "fp32" && r.max_abs_error)
      cell.fp32_error = std::max(cell.fp32_error.value_or(0.0), *r.max_abs_error);
  }
  for (const auto& [model, status] : best_of_model) ++cell.model_counts[status];
  cell.results = std::move(results);
  return cell;
}

std::string FormatError(double e) { return e == 0 ? "0" : fmt::format("{:.1e}", e); }

// "ok 2.4e-06", "ok (reference)", or "ok" when no fp32 result was compared.
std::string OkText(const MatrixCell& cell) {
  if (cell.fp32_error) return "ok " + FormatError(*cell.fp32_error);
  return cell.has_reference ? "ok (reference)" : "ok";
}

const MatrixResult* Headline(const MatrixCell& cell) {
  for (const MatrixResult& r : cell.results)
    if (r.status == cell.status) return &r;
  return nullptr;
}

// One line per result for details: which model ran where, and how it ended.
std::string ResultLine(const MatrixResult& r) {
  std::string line = r.model_label + " ";
  if (!r.model_source_path.empty()) line += "[" + r.model_source_path + "] ";
  line += fmt::format("{} {} on {}", r.precision, r.graph_variant, r.platform);
  if (!r.hostname.empty()) line += fmt::format(" ({})", r.hostname);
  line += ": " + r.status;
  if (r.status == "ok") {
    if (r.reference) line += ", the fp32 reference";
    if (r.max_abs_error) line += ", max abs error " + FormatError(*r.max_abs_error);
    if (r.top1_agreement) line += fmt::format(", top-1 agreement {:.1f}%", *r.top1_agreement * 100);
    if (!r.execution_provider.empty()) line += ", " + r.execution_provider;
  } else {
    if (!r.error_class.empty()) line += " (" + r.error_class + ")";
    if (!r.error_message.empty()) line += ": " + r.error_message;
  }
  return line + fmt::format("; run {} at {}", r.run_id, r.run_started_at);
}

// A footnote for a result that is not ok: the variant and what happened, no run or host, so
// the same reason met on many models and runs is one note.
// A platform that is not here is so for every variant: its note names none.
std::string FootnoteText(const MatrixResult& r) {
  std::string text = r.status == "unavailable"
                         ? r.status
                         : fmt::format("{} {} {}", r.precision, r.graph_variant, r.status);
  if (!r.error_class.empty() && r.error_class != r.status) text += " (" + r.error_class + ")";
  if (!r.error_message.empty()) text += ": " + r.error_message;
  return text;
}

std::string DataLine(const CompatibilityMatrix& m) {
  std::string hosts;
  for (const std::string& h : m.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
  if (m.result_count == 0)
    return fmt::format("Data: {}{}: no compatibility results yet; generated {}.", m.database,
                       m.host_filter ? " (host " + *m.host_filter + ")" : "", m.generated_at);
  return fmt::format("Data: {}, host{} {}; {} results from runs started {} to {}; generated {}.",
                     m.database, m.hosts.size() == 1 ? "" : "s", hosts, m.result_count,
                     m.first_run_at, m.last_run_at, m.generated_at);
}

const char* kLegend =
    "ok E: ran; E is the worst max abs error of its fp32 results against the CPU fp32 plain "
    "reference. ok (reference): the reference itself. failed: KIND: ran and failed. skipped: not "
    "run (estimated memory does not fit). unavailable: the platform or provider is not there. "
    "—: never tried.";

std::string RowLabel(const MatrixRow& row) {
  if (row.section == MatrixSection::kKeyModel)
    return fmt::format("{} ({})", row.label, row.models.empty() ? "" : row.models[0]);
  return fmt::format("{} ({} model{})", row.label, row.models.size(),
                     row.models.size() == 1 ? "" : "s");
}

// Stored text inside a Markdown table: no line breaks, no cell breaks, no HTML or links.
std::string MarkdownText(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\|<>[]`*").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Under the family table: which models each family row counts, by label (two models of one
// name are two).
std::string FamilyModels(const CompatibilityMatrix& m) {
  std::string out = "\n";
  for (const MatrixRow& row : m.rows) {
    if (row.section != MatrixSection::kFamily) continue;
    std::string names;
    for (const auto& label : row.models) names += (names.empty() ? "" : ", ") + label;
    out += "- " + MarkdownText(row.label + ": " + names) + "\n";
  }
  return out;
}

// Known statuses by name; anything else shares one class (its text is shown as stored).
std::string CssClass(const std::string& status) {
  for (const char* known : {"ok", "failed", "skipped", "unavailable", kNeverTried})
    if (status == known) return std::string("state-") + known;
  return "state-other";
}

nlohmann::json Optional(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

CompatibilityMatrix BuildCompatibilityMatrix(store::ResultStore& store,
                                             const MatrixFilter& filter) {
  CompatibilityMatrix m;
  m.host_filter = filter.hostname;
  m.generated_at = DisplayTimestamp(store::UtcNow());
  const std::vector<MatrixResult> latest = LatestResults(store, filter);
  m.result_count = latest.size();

  std::set<std::string> hosts, extra_platforms;
  for (const MatrixResult& r : latest) {
    hosts.insert(r.hostname);
    if (m.first_run_at.empty() || r.run_started_at < m.first_run_at)
      m.first_run_at = r.run_started_at;
    m.last_run_at = std::max(m.last_run_at, r.run_started_at);
    extra_platforms.insert(r.platform);
  }
  m.hosts.assign(hosts.begin(), hosts.end());
  m.columns = FixedColumns();
  for (const MatrixColumn& c : FixedColumns())
    for (const std::string& p : c.platforms) extra_platforms.erase(p);
  for (const std::string& p : extra_platforms) m.columns.push_back({p, {p}});

  // The cells of one row: of the results `belongs` accepts, those on each column's platforms.
  auto cells = [&](const auto& belongs) {
    std::vector<MatrixCell> out;
    for (const MatrixColumn& column : m.columns) {
      std::vector<MatrixResult> in_cell;
      for (const MatrixResult& r : latest) {
        if (belongs(r) && std::find(column.platforms.begin(), column.platforms.end(), r.platform) !=
                              column.platforms.end())
          in_cell.push_back(r);
      }
      out.push_back(MakeCell(std::move(in_cell)));
    }
    return out;
  };

  for (const models::KeyModel& key : models::KeyModels()) {
    m.rows.push_back(
        {MatrixSection::kKeyModel, key.key_class, {key.model}, cells([&](const MatrixResult& r) {
           return r.model == key.model;
         })});
  }

  std::map<std::string, std::map<int64_t, std::string>> models_of_modality;  // id -> label
  for (const MatrixResult& r : latest) models_of_modality[r.modality][r.model_id] = r.model_label;
  std::vector<std::string> modalities;
  for (const auto& [modality, names] : models_of_modality) modalities.push_back(modality);
  std::stable_sort(modalities.begin(), modalities.end(),
                   [](const auto& a, const auto& b) { return ModalityRank(a) < ModalityRank(b); });
  for (const std::string& modality : modalities) {
    std::vector<std::string> names;
    for (const auto& [id, label] : models_of_modality[modality]) names.push_back(label);
    std::sort(names.begin(), names.end());
    m.rows.push_back({MatrixSection::kFamily, modality, names,
                      cells([&](const MatrixResult& r) { return r.modality == modality; })});
  }
  return m;
}

std::string CellSummary(const MatrixRow& row, const MatrixCell& cell) {
  if (cell.results.empty()) return "—";
  if (row.section == MatrixSection::kFamily) {
    std::vector<std::pair<std::string, int>> counts(cell.model_counts.begin(),
                                                    cell.model_counts.end());
    std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
      return StatusRank(a.first) < StatusRank(b.first);
    });
    std::string text;
    for (const auto& [status, n] : counts) {
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", n, status);
      if (status != "ok") continue;
      if (cell.fp32_error)
        text += " ≤ " + FormatError(*cell.fp32_error);
      else if (cell.has_reference)
        text += " (reference)";
    }
    return text;
  }
  if (cell.status == "ok") return OkText(cell);
  const MatrixResult* headline = Headline(cell);
  if (cell.status == "failed" && headline && !headline->error_class.empty())
    return "failed: " + headline->error_class;
  return cell.status;
}

std::string RenderMatrixMarkdown(const CompatibilityMatrix& m) {
  std::vector<std::string> notes;  // footnote texts, numbered from 1 in first-use order
  auto note_refs = [&](const MatrixCell& cell) {
    std::set<size_t> used;
    for (const MatrixResult& r : cell.results) {
      if (r.status == "ok") continue;
      const std::string text = FootnoteText(r);
      auto it = std::find(notes.begin(), notes.end(), text);
      if (it == notes.end()) it = notes.insert(notes.end(), text);
      used.insert(static_cast<size_t>(it - notes.begin()) + 1);
    }
    std::string refs;
    for (size_t n : used) refs += fmt::format("[{}]", n);
    return refs;
  };

  std::string out = "# Model × hardware compatibility\n\n";
  out += MarkdownText(DataLine(m)) + "\n\n";
  out += std::string("Legend: ") + kLegend +
         " [n]: the footnote with the reason or message. Family rows count models by their "
         "best result.\n";
  for (MatrixSection section : {MatrixSection::kKeyModel, MatrixSection::kFamily}) {
    const bool key = section == MatrixSection::kKeyModel;
    bool any = false;
    for (const MatrixRow& row : m.rows) any = any || row.section == section;
    if (!any) continue;
    out += key ? "\n## Key model classes\n\n| Model |" : "\n## Model families\n\n| Family |";
    for (const MatrixColumn& c : m.columns) out += " " + MarkdownText(c.title) + " |";
    out += "\n| --- |";
    for (size_t i = 0; i < m.columns.size(); ++i) out += " --- |";
    out += "\n";
    for (const MatrixRow& row : m.rows) {
      if (row.section != section) continue;
      out += "| " + MarkdownText(RowLabel(row)) + " |";
      for (const MatrixCell& cell : row.cells) {
        const std::string refs = note_refs(cell);
        out += " " + MarkdownText(CellSummary(row, cell)) + (refs.empty() ? "" : " " + refs) + " |";
      }
      out += "\n";
    }
    if (!key) out += FamilyModels(m);
  }
  if (!notes.empty()) {
    out += "\n";
    for (size_t i = 0; i < notes.size(); ++i)
      out += fmt::format("[{}] {}  \n", i + 1, MarkdownText(notes[i]));
  }
  return out;
}

std::string RenderMatrixHtml(const CompatibilityMatrix& m) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>Model × hardware compatibility</title>\n<style>\n"
      "body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }\n"
      "table { border-collapse: collapse; margin-bottom: 2em; }\n"
      "th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; "
      "white-space: nowrap; }\n"
      "td[title] { cursor: help; }\n"
      ".state-ok { background: #d8f0d8; }\n"
      ".state-failed { background: #f6d2d2; }\n"
      ".state-skipped { background: #f6ecc8; }\n"
      ".state-unavailable { background: #e6e6e6; color: #555; }\n"
      ".state-never-tried { background: #fff; color: #999; }\n"
      ".state-other { background: #dde4f6; }\n"
      ".mixed { font-style: italic; }\n"
      "</style>\n</head>\n<body>\n<h1>Model × hardware compatibility</h1>\n";
  out += "<p>" + XmlEscape(DataLine(m)) + "</p>\n";
  out += "<p>" + XmlEscape(kLegend) +
         " Point at a cell for every result in it. Family rows count models by their best "
         "result; italic cells hold more than one outcome.</p>\n";
  for (MatrixSection section : {MatrixSection::kKeyModel, MatrixSection::kFamily}) {
    const bool key = section == MatrixSection::kKeyModel;
    bool any = false;
    for (const MatrixRow& row : m.rows) any = any || row.section == section;
    if (!any) continue;
    out += key ? "<h2>Key model classes</h2>\n<table>\n<tr><th>Model</th>"
               : "<h2>Model families</h2>\n<table>\n<tr><th>Family</th>";
    for (const MatrixColumn& c : m.columns) out += "<th>" + XmlEscape(c.title) + "</th>";
    out += "</tr>\n";
    for (const MatrixRow& row : m.rows) {
      if (row.section != section) continue;
      out += "<tr><th>" + XmlEscape(RowLabel(row)) + "</th>";
      for (const MatrixCell& cell : row.cells) {
        std::set<std::string> statuses;
        std::string title;
        for (const MatrixResult& r : cell.results) {
          statuses.insert(r.status);
          if (!title.empty()) title += '\n';
          title += ResultLine(r);
        }
        out +=
            "<td class=\"" + CssClass(cell.status) + (statuses.size() > 1 ? " mixed" : "") + "\"";
        if (!title.empty()) out += " title=\"" + XmlEscape(title) + "\"";
        out += ">" + XmlEscape(CellSummary(row, cell)) + "</td>";
      }
      out += "</tr>\n";
    }
    out += "</table>\n";
  }
  return out + "</body>\n</html>\n";
}

nlohmann::json MatrixToJson(const CompatibilityMatrix& m) {
  nlohmann::json j = {
      {"database", m.database},
      {"host_filter", m.host_filter ? nlohmann::json(*m.host_filter) : nlohmann::json(nullptr)},
      {"generated_at", m.generated_at},
      {"hosts", m.hosts},
      {"first_run_at", m.first_run_at},
      {"last_run_at", m.last_run_at},
      {"result_count", m.result_count},
      {"columns", nlohmann::json::array()},
      {"rows", nlohmann::json::array()}};
  for (const MatrixColumn& c : m.columns)
    j["columns"].push_back({{"title", c.title}, {"platforms", c.platforms}});
  for (const MatrixRow& row : m.rows) {
    nlohmann::json cells = nlohmann::json::object();
    for (size_t i = 0; i < row.cells.size() && i < m.columns.size(); ++i) {
      const MatrixCell& cell = row.cells[i];
      nlohmann::json results = nlohmann::json::array();
      for (const MatrixResult& r : cell.results) {
        results.push_back({{"model", r.model},
                           {"model_id", r.model_id},
                           {"model_label", r.model_label},
                           {"model_source", r.model_source},
                           {"model_source_path", r.model_source_path},
                           {"modality", r.modality},
                           {"platform", r.platform},
                           {"device_name", r.device_name},
                           {"hostname", r.hostname},
                           {"precision", r.precision},
                           {"graph_variant", r.graph_variant},
                           {"status", r.status},
                           {"execution_provider", r.execution_provider},
                           {"error_class", r.error_class},
                           {"error_message", r.error_message},
                           {"max_abs_error", Optional(r.max_abs_error)},
                           {"top1_agreement", Optional(r.top1_agreement)},
                           {"reference", r.reference},
                           {"run_id", r.run_id},
                           {"run_started_at", r.run_started_at}});
      }
      cells[m.columns[i].title] = {{"status", cell.status},
                                   {"summary", CellSummary(row, cell)},
                                   {"fp32_error", Optional(cell.fp32_error)},
                                   {"has_reference", cell.has_reference},
                                   {"model_counts", cell.model_counts},
                                   {"results", std::move(results)}};
    }
    j["rows"].push_back(
        {{"section", row.section == MatrixSection::kKeyModel ? "key-model" : "family"},
         {"label", row.label},
         {"models", row.models},
         {"cells", std::move(cells)}});
  }
  return j;
}

}  // namespace ipfs_accel::analysis
