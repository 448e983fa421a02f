#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>

namespace ipfs_accel::cli {

namespace {

std::size_t ColumnsVariable() {
  const char* text = std::getenv("COLUMNS");
  if (text == nullptr) return 0;
  const std::string_view s(text);
  std::size_t columns = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), columns);
  return ec == std::errc() && end == s.data() + s.size() ? columns : 0;
}

std::size_t TerminalColumns() {
  winsize size{};
  if (!::isatty(STDOUT_FILENO) || ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

}  // namespace

std::size_t TerminalWidth() {
  if (const std::size_t columns = ColumnsVariable()) return columns;
  if (const std::size_t columns = TerminalColumns()) return columns;
  return kDefaultWidth;
}

std::size_t DisplayWidth(std::string_view text) {
  std::size_t width = 0;
  for (const char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return width;
}

namespace {

// Where a line's continuation lines start: under the second column of a "  term  text" line,
// else under the line's first word.
std::size_t HangingIndent(std::string_view line) {
  const std::size_t first = line.find_first_not_of(' ');
  if (first == std::string_view::npos) return 0;
  const std::size_t gap = line.find("  ", first);
  const std::size_t text = gap == std::string_view::npos ? gap : line.find_first_not_of(' ', gap);
  return text == std::string_view::npos ? first : text;
}

std::string WrapLine(std::string_view line, std::size_t width) {
  if (DisplayWidth(line) <= width) return std::string(line);
  const std::size_t indent = std::min(HangingIndent(line), width / 2);
  std::string out;
  std::size_t column = 0;
  for (std::size_t start = 0; start <= line.size();) {
    const std::size_t end = std::min(line.find(' ', start), line.size());
    const std::string_view word = line.substr(start, end - start);
    if (column > indent && !word.empty() && column + 1 + DisplayWidth(word) > width) {
      out += '\n' + std::string(indent, ' ');
      column = indent;
    } else if (start > 0) {
      out += ' ';
      ++column;
    }
    out.append(word);
    column += DisplayWidth(word);
    start = end + 1;
  }
  return out;
}

// `text` with each line that continues the one before joined to it: a line indented as the
// continuation of the one before (HangingIndent), which did not end a sentence or a heading.
std::string Reflow(std::string_view text) {
  std::string out;
  std::size_t hanging = 0;  // of the line being continued
  char last = '.';          // the last character of the line before
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    const std::size_t indent = line.find_first_not_of(' ');
    const bool continues =
        indent != std::string_view::npos && indent == hanging && last != '.' && last != ':';
    if (continues) {
      out += ' ';
      out.append(line.substr(indent));
    } else {
      if (start > 0) out += '\n';
      out.append(line);
      hanging = HangingIndent(line);
    }
    last = line.empty() ? '.' : line.back();
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string Wrap(std::string_view text, std::size_t width) {
  if (width == kUnlimitedWidth) return std::string(text);
  std::size_t widest = 0;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    widest = std::max(widest, DisplayWidth(text.substr(start, end - start)));
    start = end + 1;
  }
  if (widest <= width) return std::string(text);
  const std::string flowing = Reflow(text);
  std::string out;
  for (std::size_t start = 0; start <= flowing.size();) {
    const std::size_t end = std::min(flowing.find('\n', start), flowing.size());
    out += WrapLine(std::string_view(flowing).substr(start, end - start), width);
    if (end < flowing.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace ipfs_accel::cli
