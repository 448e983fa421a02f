#pragma once
// DetectChromium() with the binary's path as a parameter, so tests can point it at a missing
// or wrong binary.

#include <optional>
#include <string>

#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::hw::detail {

// Debian's real binary; the /usr/bin/chromium wrapper script misbehaves.
inline constexpr char kChromiumPath[] = "/usr/lib/chromium/chromium";

std::optional<BrowserInfo> DetectChromiumAt(const std::string& path, std::string* missing_reason);

// Debian's Firefox ESR binary (/usr/bin/firefox-esr links to it).
inline constexpr char kFirefoxPath[] = "/usr/lib/firefox-esr/firefox-esr";

std::optional<BrowserInfo> DetectFirefoxAt(const std::string& path, std::string* missing_reason);

}  // namespace ipfs_accel::hw::detail
