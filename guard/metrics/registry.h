#pragma once
// Metrics in Prometheus text format, rendered from the components that own them. A component
// keeps its counters next to its code (atomics, per-thread cells where the request path writes
// them) and registers a source that writes them; /metrics renders every registered source in
// registration order, then the process metrics. Label values are names from the policy, never
// client data: cardinality is bounded by the configuration.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard {

// Writes metric families: family() once, then its samples.
class MetricsWriter {
 public:
  explicit MetricsWriter(std::string& out) : out_(out) {}

  // `type`: counter | gauge | histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the current family; `labels` without braces (`route="a",verdict="allow"`).
  void sample(double value, std::string_view labels = {});
  // A sample whose name extends the family's (histograms: _bucket, _sum, _count).
  void sample_suffixed(std::string_view suffix, double value, std::string_view labels = {});

  // One-sample families.
  void counter(std::string_view name, std::string_view help, double value) {
    family(name, "counter", help);
    sample(value);
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(value);
  }

 private:
  std::string& out_;
  std::string name_;
};

class MetricsRegistry {
 public:
  using Source = std::function<void(MetricsWriter&)>;

  // Unregisters its source when destroyed: hold it as long as what the source reads lives.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&&) noexcept = default;
    Registration& operator=(Registration&&) noexcept = default;
    ~Registration();

   private:
    friend class MetricsRegistry;
    struct Token;
    std::shared_ptr<Token> token_;
  };

  MetricsRegistry();
  [[nodiscard]] Registration add(Source source);
  std::string render() const;

 private:
  struct Entry {
    std::uint64_t id;
    Source source;
  };
  struct State {
    std::mutex mu;
    std::vector<Entry> entries;
    std::uint64_t next_id = 0;
  };
  std::shared_ptr<State> state_;
  double start_time_;
};

}  // namespace edgeguard
