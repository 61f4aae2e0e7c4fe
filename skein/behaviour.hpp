// <skein/behaviour.hpp>: the behaviour API (actors/behaviour.hpp) and the
// per-kind options (actors/options.hpp), under their installed name.
#pragma once

#include "actors/behaviour.hpp"
#include "actors/options.hpp"
