#pragma once
// The verbs of the `edgeguard` command line (SPEC section 7). Each takes the words after the
// verb and returns the process exit code.
namespace edgeguard {

int run_serve(int argc, char** argv);
int run_check(int argc, char** argv);
int run_explain(int argc, char** argv);
int run_replay(int argc, char** argv);
int run_bans(int argc, char** argv);

}  // namespace edgeguard
