#pragma once
// The width text output fits: tables drop or abbreviate columns past it, --help wraps at it.

#include <cstddef>
#include <string>
#include <string_view>

namespace ipfs_accel::cli {

// No limit: text goes to a file, not a screen.
inline constexpr std::size_t kUnlimitedWidth = 0;
// When neither $COLUMNS nor the terminal says (output piped or redirected).
inline constexpr std::size_t kDefaultWidth = 100;

// $COLUMNS when it is a positive number, else the width of the terminal standard output is
// (TIOCGWINSZ), else kDefaultWidth.
std::size_t TerminalWidth();

// Columns `text` takes on a terminal: its UTF-8 code points (every one counted as one column).
std::size_t DisplayWidth(std::string_view text);

// `text` broken into lines of at most `width` columns at spaces (a word longer than that
// stays whole on its own line); the text's own line breaks are kept. kUnlimitedWidth: as is.
std::string Wrap(std::string_view text, std::size_t width);

}  // namespace ipfs_accel::cli
