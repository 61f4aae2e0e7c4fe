// write_batch <-> bytes, for shipping batches between nodes.
#include <msgpack.hpp>

#include "persistence/errors.hpp"
#include "persistence/write_batch.hpp"

namespace skein::persistence {

std::string write_batch::encode() const {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(2);
  pk.pack_uint32(1);
  pk.pack_array(static_cast<std::uint32_t>(ops_.size()));
  for (auto& o : ops_) {
    pk.pack_array(4);
    pk.pack_uint8(static_cast<std::uint8_t>(o.kind));
    pk.pack_uint8(static_cast<std::uint8_t>(o.column));
    pk.pack_bin(static_cast<std::uint32_t>(o.key.size()));
    pk.pack_bin_body(o.key.data(), static_cast<std::uint32_t>(o.key.size()));
    pk.pack_bin(static_cast<std::uint32_t>(o.value.size()));
    pk.pack_bin_body(o.value.data(), static_cast<std::uint32_t>(o.value.size()));
  }
  return std::string(buf.data(), buf.size());
}

write_batch write_batch::decode(std::string_view bytes, std::string_view what) {
  auto fail = [&](const std::string& why) {
    return record_error("batch", std::string(what), why);
  };
  write_batch out;
  try {
    // The bytes come from a peer (replicate, adopt) or a copy read back:
    // every element takes at least one byte, so no honest count exceeds the
    // input size, and a batch nests three deep ([1, [[k, c, key, value]]]).
    // Without the limits a 5-byte array header claiming 2^32 ops made
    // msgpack allocate for all of them before it read one.
    const std::size_t n = bytes.size();
    msgpack::unpack_limit limit(n, n, n, n, n, 3);
    std::size_t offset = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
    if (offset != bytes.size()) throw fail("trailing bytes");
    const auto& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size != 2) throw fail("not [version, ops]");
    if (root.via.array.ptr[0].as<std::uint32_t>() != 1) throw fail("unsupported batch version");
    const auto& ops = root.via.array.ptr[1];
    if (ops.type != msgpack::type::ARRAY) throw fail("ops is not an array");
    for (std::uint32_t i = 0; i < ops.via.array.size; ++i) {
      const auto& o = ops.via.array.ptr[i];
      if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) throw fail("bad op");
      auto kind = o.via.array.ptr[0].as<std::uint8_t>();
      auto col = o.via.array.ptr[1].as<std::uint8_t>();
      const auto& k = o.via.array.ptr[2];
      const auto& v = o.via.array.ptr[3];
      if (kind > 2 || col > 3 || k.type != msgpack::type::BIN || v.type != msgpack::type::BIN)
        throw fail("bad op fields");
      out.ops_.push_back(op{static_cast<op_kind>(kind), static_cast<column>(col),
                            std::string(k.via.bin.ptr, k.via.bin.size),
                            std::string(v.via.bin.ptr, v.via.bin.size)});
    }
  } catch (const record_error&) {
    throw;
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
  return out;
}

}  // namespace skein::persistence
