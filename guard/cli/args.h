#pragma once
// The command line of one verb: "--name value" options, "--flag" switches, positional words.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace edgeguard {

class Args {
 public:
  // `flags` are the options that take no value. Returns nullopt (with `error`) on an unknown or
  // incomplete option.
  static std::optional<Args> parse(int argc, char** argv, const std::set<std::string>& options,
                                   const std::set<std::string>& flags, std::string* error);
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace edgeguard
