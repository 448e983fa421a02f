#pragma once
// Result files (JSON) to store records, for `db import`. Reads the four shapes the legacy
// Python system wrote (see shared/fixtures/legacy-json/README.md) and this tool's own export of
// a run (RunResultsToJson). Parsing only: nothing here touches a database.

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/store/records.h"

namespace ipfs_accel::store {

// Names of the shapes ParseResultFile recognises.
inline constexpr const char* kShapeLegacyFlat = "legacy-flat";         // model x hardware x batch
inline constexpr const char* kShapeLegacyBatch = "legacy-batch";       // models x batch_results
inline constexpr const char* kShapeLegacyNested = "legacy-nested";     // family/model/hardware
inline constexpr const char* kShapeLegacySummary = "legacy-summary";   // family/hardware lists
inline constexpr const char* kShapeRunExport = "ipfs-accelerate-run";  // RunResultsToJson

struct ImportResult {
  std::string path;   // absolute
  std::string shape;  // one of the kShape* names
  // Every run has origin "imported", imported_from = path, and a run_id that depends only on
  // the file's bytes and the run's index in it (an export keeps the run_id it was written with),
  // so importing a file twice yields the same ids.
  std::vector<RunResults> runs;
  // What the file holds (or lacks) that the records cannot carry, one line each.
  std::vector<std::string> unmapped;
};

// Reads and maps one file, all of it or nothing: a record that does not fit is an error naming
// it, never a result of another kind. Throws core::Error:
//  kNotFound     no such file;  kInvalidArgument  not a regular file;  kIo  it cannot be read
//  kCorrupt      "'<file>' is not valid JSON: <message>" (syntax, nesting deeper than
//                core::kMaxJsonDepth, a number no double holds), a value of the wrong type, or
//                one no measurement produces (negative latency, batch 0), naming its path in
//                the file
//  kUnsupported  JSON of none of the known shapes (the message lists them)
ImportResult ParseResultFile(const std::string& path);
// The same for a file's bytes; `path` names it in errors and in the result.
ImportResult ParseResultText(std::string_view text, const std::string& path);

// A run export (one run, or an array of runs, as `db export --format run-json` writes and a
// server receives from `benchmark --push`), checked as ParseResultText checks it, each run
// keeping its run_id and the origin it was exported with. Throws what ParseResultText throws,
// and kUnsupported for JSON of another known shape.
std::vector<RunResults> ParseRunExportText(std::string_view text, const std::string& where);

// A run, field for field, as JSON ({"format": "ipfs-accelerate-run", "version": 1, ...});
// RunResultsFromJson(RunResultsToJson(r)) == r. `where` names the source in errors.
nlohmann::json RunResultsToJson(const RunResults& results);
// One performance record, field for field (unset optionals as null); the inverse throws
// core::Error(kCorrupt) naming `where` and the field for a missing or mistyped one.
nlohmann::json PerformanceRecordToJson(const PerformanceRecord& record);
PerformanceRecord PerformanceRecordFromJson(const nlohmann::json& json, const std::string& where);
RunResults RunResultsFromJson(const nlohmann::json& json, const std::string& where);

// A run export written piece by piece, for runs too big to hold as one document: byte for
// byte what RunResultsToJson(r).dump() writes. Call BeginRun(), then per entry BeginEntry()
// and Add() for each of its performance records, then EndRun() (the run record goes last:
// the export's keys are in sorted order). Stream errors are the caller's to check.
class RunExportWriter {
 public:
  explicit RunExportWriter(std::ostream& out) : out_(out) {}
  void BeginRun();
  void BeginEntry(const ModelRecord& model, const HardwarePlatformRecord& hardware,
                  const std::vector<CompatibilityRecord>& compatibility);
  void Add(const PerformanceRecord& record);
  void EndRun(const RunRecord& run);

 private:
  void EndEntry();

  std::ostream& out_;
  bool in_entry_ = false, first_entry_ = true, first_record_ = true;
};

}  // namespace ipfs_accel::store
