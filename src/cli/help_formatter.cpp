#include "cli/help_formatter.h"

#include <algorithm>
#include <sstream>

#include "cli/terminal.h"

namespace ipfs_accel::cli {

namespace {

class WrappingFormatter : public CLI::Formatter {
 public:
  explicit WrappingFormatter(std::size_t width) : width_(width) {}

  std::string make_option_desc(const CLI::Option* opt) const override {
    return Wrap(CLI::Formatter::make_option_desc(opt), RightColumn());
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             Wrap(sub->get_description(), RightColumn()), get_column_width());
    return out.str();
  }
  std::string make_description(const CLI::App* app) const override {
    return Wrap(CLI::Formatter::make_description(app), width_);
  }
  std::string make_footer(const CLI::App* app) const override {
    return Wrap(CLI::Formatter::make_footer(app), width_);
  }

 private:
  // The width left of the descriptions right of the option names (at least 30).
  std::size_t RightColumn() const {
    if (width_ == kUnlimitedWidth) return width_;
    return std::max<std::size_t>(30, width_ > get_column_width() ? width_ - get_column_width() : 0);
  }
  std::size_t width_;
};

}  // namespace

std::shared_ptr<CLI::Formatter> WrappingHelpFormatter(std::size_t width) {
  return std::make_shared<WrappingFormatter>(width);
}

}  // namespace ipfs_accel::cli
