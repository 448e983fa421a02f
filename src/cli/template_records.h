#pragma once
// The one place that maps architecture templates and their validation outcomes onto the
// store's plain records (as benchmark_records.h does for measurements).

#include <string>
#include <vector>

#include "ipfs_accel/harness/template_validation.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/store/template_records.h"

namespace ipfs_accel::cli {

// The template as stored: its resolved JSON and hash, history, variables (every config key it
// reads: HF's defaults and attribute_map's aliases, under their canonical names), the builder
// pieces it sets, and what it depends on (its parent, its builder).
store::TemplateRecord TemplateRecordOf(const models::ArchitectureTemplate& t);

// Every template this tool has (compiled in and from IPFS_ACCEL_TEMPLATE_PATH).
std::vector<store::TemplateRecord> AllTemplateRecords();

// An outcome as stored, validated at `validated_at` by the tool at `git_commit`.
store::TemplateValidationRecord ValidationRecordOf(const harness::TemplateOutcome& o,
                                                   const std::string& validated_at,
                                                   const std::string& git_commit);

}  // namespace ipfs_accel::cli
