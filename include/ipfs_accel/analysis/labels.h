#pragma once
// How reports name what they show, written once: a model's distinguishing label (two models
// of one name are two rows, never merged) and the one timestamp format of every report,
// matrix, compare and runs output.

#include <string>
#include <string_view>

#include "ipfs_accel/store/query.h"

namespace ipfs_accel::analysis {

// SQL for a model's label over the models table aliased `alias` ("m"): its name and what tells
// models of that name apart: the weights' short content hash ("gpt2 @321019a3"), the seed of
// a catalog model's random weights ("gpt2 (seed 42)"), or the source where neither says it
// ("gpt2 (legacy-json)"), and its config's short hash where another model has the same name and
// weights ("bert @c6dd67ab cfg 0c25ab8c"). Group by model_id, show this.
std::string ModelLabelSql(std::string_view alias);

// SQL condition: the model aliased `alias` is named `model` (every model of that name), labelled
// so (that one), or has that content CID; `model` is bound in `params`.
std::string ModelFilterSql(const std::string& model, std::string_view alias,
                           store::QueryParams& params);

// SQL for where a model came from: its folder or file, else its source ("catalog").
std::string ModelSourceSql(std::string_view alias);

// SQL for the noise flag of a result over performance_results aliased `alias`: "unstable: p90
// 4.2x p50" where p90 exceeds harness::kUnstableTailRatio times p50 (its samples are too
// spread for p50 alone to describe them), else NULL.
std::string NoiseSql(std::string_view alias);

// An ISO-8601 UTC text as store::UtcNow writes it ("2026-12-06T19:57:36Z") in the same format.
std::string DisplayTimestamp(std::string_view iso);

}  // namespace ipfs_accel::analysis
