// <skein/registry.hpp>: skein::behaviour_registry (actors/registry.hpp),
// under its installed name.
#pragma once

#include "actors/registry.hpp"
