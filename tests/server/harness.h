#pragma once
// The harness moved to tests/support (library edgeguard_test_harness) so other black-box suites
// share it; this keeps the server tests' include working.
#include "tests/support/harness.h"
