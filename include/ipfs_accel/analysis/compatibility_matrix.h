#pragma once
// The model-family x hardware compatibility matrix, built only from stored compatibility
// results: a cell that nothing measured says "never tried"; no cell is filled by assumption.
// Building (store -> CompatibilityMatrix) is apart from rendering (CompatibilityMatrix -> text):
// the renderers read only the plain structure below.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::analysis {

// The status of a cell nothing was stored for. Stored statuses are "ok", "failed",
// "unavailable", "skipped"; any other stored status is kept and shown as it is.
inline constexpr const char* kNeverTried = "never-tried";

// A stored result from the latest run of one model x platform x precision x graph variant (a
// run may hold several: one per configuration that failed or was skipped, beside its "ok").
struct MatrixResult {
  std::string model;        // models.name
  int64_t model_id = 0;     // the model's identity: two models of one name are two
  std::string model_label;  // ModelLabelSql: the name and what tells it apart
  std::string model_source;
  std::string model_source_path;
  std::string modality;
  std::string platform;  // as stored: "cuda", "coreml", "qnn", ...
  std::string device_name;
  std::string hostname;
  std::string precision;      // "fp32", "fp16", "int8", "int4"
  std::string graph_variant;  // "plain", "fused"
  std::string status;         // "ok", "failed", "unavailable", "skipped", or as stored
  std::string execution_provider;
  std::string error_class;              // failed: the error kind ("runtime", ...)
  std::string error_message;            // failed: the error; unavailable, skipped: the reason
  std::optional<double> max_abs_error;  // ok: against the CPU fp32 plain reference
  std::optional<double> top1_agreement;
  bool reference = false;  // the CPU fp32 plain result the others are compared with
  std::string run_id;
  std::string run_started_at;  // store::kDisplayTimestampFormat
};

struct MatrixColumn {
  std::string title;                   // "CUDA", ..., "CPU", or the platform of an extra column
  std::vector<std::string> platforms;  // the stored platform names it gathers ("mps", "coreml")
};

struct MatrixCell {
  // The best status among `results`: ok > failed > skipped > any other > unavailable;
  // kNeverTried when `results` is empty.
  std::string status = kNeverTried;
  // The worst max_abs_error of the ok fp32 results; unset when none of them was compared.
  std::optional<double> fp32_error;
  bool has_reference = false;  // one of the results is the reference itself
  // Models per status, each model counted once under the best status of its results.
  std::map<std::string, int> model_counts;
  // Every result, ordered by model, precision (fp32 first), graph (plain first), platform.
  std::vector<MatrixResult> results;
};

enum class MatrixSection { kKeyModel, kFamily };

struct MatrixRow {
  MatrixSection section = MatrixSection::kKeyModel;
  std::string label;  // key model class ("BERT") or modality ("text")
  // Key-model rows: the catalog name; families: the labels of the models stored.
  std::vector<std::string> models;
  std::vector<MatrixCell> cells;  // one per column, in column order
};

struct CompatibilityMatrix {
  std::string database;  // where the data came from; set by the caller
  std::optional<std::string> host_filter;
  std::string generated_at;               // store::kDisplayTimestampFormat
  std::vector<std::string> hosts;         // hostnames of the results shown, sorted
  std::string first_run_at, last_run_at;  // start times of the oldest and newest run shown
  size_t result_count = 0;                // results shown (latest per configuration)
  std::vector<MatrixColumn> columns;      // CUDA ROCm MPS OpenVINO Qualcomm WebNN WebGPU
                                          // CPU, then other stored platforms by name
  std::vector<MatrixRow> rows;            // key model classes, then families
};

struct MatrixFilter {
  std::optional<std::string> hostname;  // only results of platforms on this host
};

// Rows: every key model class (models::KeyModels(), in order, with or without data), then one
// row per stored modality (text, vision, audio, multimodal, unknown, then others by name).
// A configuration's result is its latest (run start, then row id). Throws core::Error from
// the store's query.
CompatibilityMatrix BuildCompatibilityMatrix(store::ResultStore& store, const MatrixFilter& filter);

// A cell's headline, short: "ok 2.4e-06", "ok (reference)", "failed: runtime", "unavailable",
// "—" for never tried; family rows count models: "2 ok ≤ 2.4e-06, 1 failed".
std::string CellSummary(const MatrixRow& row, const MatrixCell& cell);

// Markdown: a header line (database, hosts, when), a legend, one table per section, and the
// reasons and messages of every result that is not ok as numbered footnotes.
std::string RenderMatrixMarkdown(const CompatibilityMatrix& matrix);
// One self-contained HTML page: a CSS class per status ("state-ok", ...), each result's
// details in the cell's title attribute; every stored text is HTML-escaped.
std::string RenderMatrixHtml(const CompatibilityMatrix& matrix);
// Everything in the structure; cells keyed by column title.
nlohmann::json MatrixToJson(const CompatibilityMatrix& matrix);

}  // namespace ipfs_accel::analysis
