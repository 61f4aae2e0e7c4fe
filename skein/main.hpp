// <skein/main.hpp>: skein::main, the command line every application binary
// shares (cli/main.hpp), under its installed name.
#pragma once

#include "cli/main.hpp"
