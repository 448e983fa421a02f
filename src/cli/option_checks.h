#pragma once
// Checks of option values, applied while the command line is parsed, so a bad value ends the
// command before anything is detected, built, created or written. Each names the accepted
// range in words (CLI11's own range checks print the largest double in 300 digits).

#include <cstdint>

#include <CLI/CLI.hpp>

namespace ipfs_accel::cli {

// A whole number from `min` to `max` (both included).
CLI::Validator WholeNumber(int64_t min, int64_t max);
// A seed: a whole number from 0 to 2^64-1 (CLI11 would read -1 as 2^64-1).
CLI::Validator Seed();
// A finite number of `unit` (seconds, ms, ...) that is at least 0, or above 0 if `positive`.
CLI::Validator FiniteNumber(bool positive, const char* unit);
// A probability strictly between 0 and 1 (a significance level).
CLI::Validator Probability();
// A thread count: 0 (the runtime's default) up to kThreadsPerCore times the logical cores
// (oversubscription is a fair question; 100000 threads is not).
inline constexpr int kThreadsPerCore = 4;
CLI::Validator ThreadCount();

}  // namespace ipfs_accel::cli
