// edgeguard: a ForwardAuth guard for Traefik, Caddy and nginx. main only dispatches the verb.
#include <cstdio>
#include <cstring>

#include "guard/cli/commands.h"

namespace {

int usage(FILE* out) {
  std::fputs(
      "usage: edgeguard VERB [options]\n"
      "  serve   --config FILE              run the service\n"
      "  check   --config FILE              validate the policy and print its routes\n"
      "  explain --config FILE --method M --host H --uri U --ip IP [--json]\n"
      "                                     the decision for one request, with its trace\n"
      "  replay  --config FILE LOG...       run Traefik access logs through the policy\n"
      "  bans    list|add|delete [--admin URL] [--token-file F] [--json]\n"
      "                                     see, make and lift bans through the admin API\n"
      "  version                            print the version\n",
      out);
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  const char* verb = argv[1];
  if (!std::strcmp(verb, "serve")) return edgeguard::run_serve(argc - 2, argv + 2);
  if (!std::strcmp(verb, "check")) return edgeguard::run_check(argc - 2, argv + 2);
  if (!std::strcmp(verb, "explain")) return edgeguard::run_explain(argc - 2, argv + 2);
  if (!std::strcmp(verb, "replay")) return edgeguard::run_replay(argc - 2, argv + 2);
  if (!std::strcmp(verb, "bans")) return edgeguard::run_bans(argc - 2, argv + 2);
  if (!std::strcmp(verb, "version") || !std::strcmp(verb, "--version")) {
    std::printf("edgeguard %s\n", EDGEGUARD_VERSION);
    return 0;
  }
  if (!std::strcmp(verb, "help") || !std::strcmp(verb, "--help")) return usage(stdout);
  std::fprintf(stderr, "edgeguard: unknown verb '%s'\n", verb);
  return usage(stderr);
}
