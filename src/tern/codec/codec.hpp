// tern/codec/codec.hpp: the whole codec in one include: packets, properties,
// the incremental decoder and the encoder.
#pragma once

#include "tern/codec/decoder.hpp"
#include "tern/codec/encoder.hpp"
#include "tern/codec/packet.hpp"
#include "tern/codec/properties.hpp"
