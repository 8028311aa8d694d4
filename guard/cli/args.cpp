#include "guard/cli/args.h"

namespace edgeguard {

std::optional<Args> Args::parse(int argc, char** argv, const std::set<std::string>& options,
                                const std::set<std::string>& flags, std::string* error) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string word = argv[i];
    if (!word.starts_with("--")) {
      a.positional_.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name)) {
      a.flags_.insert(name);
    } else if (options.count(name)) {
      if (inline_value) {
        a.values_.emplace(name, *inline_value);
      } else if (i + 1 < argc) {
        a.values_.emplace(name, argv[++i]);
      } else {
        *error = "--" + name + " needs a value";
        return std::nullopt;
      }
    } else {
      *error = "unknown option --" + name;
      return std::nullopt;
    }
  }
  return a;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = values_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

}  // namespace edgeguard
