// msgpack encoding and validated decoding of stored records (persistence/records.hpp).
#include "persistence/records.hpp"

#include <msgpack.hpp>

#include <exception>
#include <limits>

namespace skein::persistence {
namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

std::string to_string(const msgpack::sbuffer& buf) { return {buf.data(), buf.size()}; }

void pack_str(packer& pk, const std::string& s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_bin(packer& pk, const std::string& s) {
  pk.pack_bin(static_cast<std::uint32_t>(s.size()));
  pk.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

// Thrown inside a decoder, turned into record_error by decode().
struct bad_shape {
  std::string reason;
};

std::uint64_t as_uint(const msgpack::object& o, const char* field) {
  if (o.type != msgpack::type::POSITIVE_INTEGER)
    throw bad_shape{std::string(field) + " is not an unsigned integer"};
  return o.via.u64;
}

std::int64_t as_int(const msgpack::object& o, const char* field) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  if (o.type == msgpack::type::POSITIVE_INTEGER &&
      o.via.u64 <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(o.via.u64);
  throw bad_shape{std::string(field) + " is not a 64-bit signed integer"};
}

std::string as_str(const msgpack::object& o, const char* field) {
  if (o.type != msgpack::type::STR) throw bad_shape{std::string(field) + " is not a string"};
  return {o.via.str.ptr, o.via.str.size};
}

std::string as_bin(const msgpack::object& o, const char* field) {
  if (o.type != msgpack::type::BIN) throw bad_shape{std::string(field) + " is not binary"};
  return {o.via.bin.ptr, o.via.bin.size};
}

const msgpack::object_array& as_array(const msgpack::object& o, const char* field) {
  if (o.type != msgpack::type::ARRAY) throw bad_shape{std::string(field) + " is not an array"};
  return o.via.array;
}

// Unpacks bytes as one versioned array of `fields` elements (version
// included; the last `optional` of them may be absent in version 2) and hands
// the elements, the version and the element count to fill. Every failure
// becomes record_error.
template <typename Fill>
void decode(std::string_view bytes, std::string_view printable_key, const char* column,
            std::uint32_t fields_v1, std::uint32_t fields, Fill fill, std::uint32_t optional = 0) {
  auto fail = [&](const std::string& reason) {
    return record_error(column, std::string(printable_key), reason);
  };
  try {
    // Every element takes at least one byte, so no honest count exceeds the
    // input size; the limits stop a corrupt header from allocating gigabytes.
    std::size_t n = bytes.size();
    msgpack::unpack_limit limit(n, n, n, n, n, 4);
    std::size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
    if (offset != bytes.size())
      throw bad_shape{std::to_string(bytes.size() - offset) + " trailing bytes"};
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::ARRAY) throw bad_shape{"not an array"};
    const auto& arr = root.via.array;
    if (arr.size == 0) throw bad_shape{"empty array"};
    std::uint64_t version = as_uint(arr.ptr[0], "format version");
    if (version < oldest_record_format_version || version > record_format_version)
      throw record_error::unsupported_version(column, std::string(printable_key), version,
                                              record_format_version);
    const std::uint32_t expected = version == 1 ? fields_v1 : fields;
    const std::uint32_t fewest = version == 1 ? fields_v1 : fields - optional;
    if (arr.size < fewest || arr.size > expected)
      throw bad_shape{"array has " + std::to_string(arr.size) + " elements, expected " +
                      (fewest == expected ? std::to_string(expected)
                                          : std::to_string(fewest) + ".." + std::to_string(expected))};
    fill(arr.ptr, static_cast<std::uint32_t>(version), arr.size);
  } catch (const record_error&) {
    throw;
  } catch (const bad_shape& e) {
    throw fail(e.reason);
  } catch (const msgpack::insufficient_bytes&) {
    throw fail("truncated");
  } catch (const std::exception& e) {
    throw fail(std::string("invalid msgpack: ") + e.what());
  } catch (...) {
    throw fail("invalid msgpack");
  }
}

}  // namespace

std::string encode(const snapshot_record& r) {
  msgpack::sbuffer buf;
  packer pk(buf);
  const bool has_runtime = !r.runtime.empty();
  const bool has_version = r.state_version > 1 || has_runtime;
  pk.pack_array(7 + (has_version ? 1 : 0) + (has_runtime ? 1 : 0));
  pk.pack(record_format_version);
  pk.pack(r.seq);
  pk.pack(r.journal_seq);
  pk.pack(r.epoch);
  pk.pack(r.time_ms);
  pack_bin(pk, r.state);
  pk.pack_array(static_cast<std::uint32_t>(r.delivery.size()));
  for (const auto& d : r.delivery) {
    pk.pack_array(7);
    pack_str(pk, d.client);
    pk.pack(d.token);
    pk.pack(d.next_cseq);
    pk.pack(d.last_id);
    pk.pack_array(static_cast<std::uint32_t>(d.retired.size()));
    for (std::uint64_t t : d.retired) pk.pack(t);
    pk.pack(d.used_ms);
    pack_str(pk, d.credential);
  }
  if (has_version) pk.pack(r.state_version);
  if (has_runtime) pack_str(pk, r.runtime);
  return to_string(buf);
}

std::string encode(const journal_record& r) {
  msgpack::sbuffer buf;
  packer pk(buf);
  const bool has_hash = r.state_hash != 0;
  const bool has_status = has_hash || r.status != input_status::applied;
  pk.pack_array(has_hash ? 15 : has_status ? 14 : 13);
  pk.pack(record_format_version);
  pack_str(pk, r.client);
  pack_str(pk, r.kind_of_input);
  pack_str(pk, r.payload);
  pk.pack(r.time_ms);
  pk.pack_array(static_cast<std::uint32_t>(r.random.size()));
  for (std::uint64_t v : r.random) pk.pack(v);
  pk.pack(r.epoch);
  pk.pack(r.last_seq);
  pk.pack(r.outputs);
  pk.pack(r.token);
  pk.pack(r.cseq);
  pk.pack(r.msg_id);
  pack_str(pk, r.credential);
  if (has_status) pk.pack(static_cast<std::uint32_t>(r.status));
  if (has_hash) pk.pack(r.state_hash);
  return to_string(buf);
}

std::string encode(const outbox_record& r) {
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(3);
  pk.pack(record_format_version);
  pack_str(pk, r.target);
  pack_str(pk, r.data);
  return to_string(buf);
}

snapshot_record decode_snapshot(std::string_view bytes, std::string_view printable_key) {
  snapshot_record r;
  decode(bytes, printable_key, "snapshots", 6, 9, [&](const msgpack::object* f, std::uint32_t v,
                                                      std::uint32_t n) {
    r.seq = as_uint(f[1], "seq");
    r.journal_seq = as_uint(f[2], "journal_seq");
    r.epoch = as_uint(f[3], "epoch");
    r.time_ms = as_int(f[4], "time_ms");
    r.state = as_bin(f[5], "state");
    if (v == 1) return;
    const auto& list = as_array(f[6], "delivery");
    r.delivery.reserve(list.size);
    for (std::uint32_t i = 0; i < list.size; ++i) {
      const auto& e = as_array(list.ptr[i], "delivery entry");
      if (e.size != 7) throw bad_shape{"delivery entry has " + std::to_string(e.size) + " elements, expected 7"};
      delivery_entry d;
      d.client = as_str(e.ptr[0], "delivery client");
      d.token = as_uint(e.ptr[1], "delivery token");
      d.next_cseq = as_uint(e.ptr[2], "delivery next_cseq");
      d.last_id = as_uint(e.ptr[3], "delivery last_id");
      const auto& retired = as_array(e.ptr[4], "delivery retired");
      d.retired.reserve(retired.size);
      for (std::uint32_t k = 0; k < retired.size; ++k)
        d.retired.push_back(as_uint(retired.ptr[k], "retired token"));
      d.used_ms = as_int(e.ptr[5], "delivery used_ms");
      d.credential = as_str(e.ptr[6], "delivery credential");
      r.delivery.push_back(std::move(d));
    }
    if (n < 8) return;
    auto runtime_at = [&](std::uint32_t i) {
      r.runtime = as_str(f[i], "runtime");
      if (r.runtime.empty()) throw bad_shape{"runtime is present but empty"};
    };
    // [.., delivery, state_version] or [.., delivery, state_version, runtime];
    // an 8-element record whose last element is text holds only the runtime.
    if (n == 8 && f[7].type == msgpack::type::STR) return runtime_at(7);
    const std::uint64_t version = as_uint(f[7], "state_version");
    if (version > std::numeric_limits<std::uint32_t>::max())
      throw bad_shape{"state_version does not fit in 32 bits"};
    r.state_version = static_cast<std::uint32_t>(version);
    if (n == 9) runtime_at(8);
  }, 2);
  return r;
}

journal_record decode_journal(std::string_view bytes, std::string_view printable_key) {
  journal_record r;
  decode(bytes, printable_key, "journal", 9, 15, [&](const msgpack::object* f, std::uint32_t v,
                                                      std::uint32_t n) {
    r.client = as_str(f[1], "client");
    r.kind_of_input = as_str(f[2], "kind_of_input");
    r.payload = as_str(f[3], "payload");
    r.time_ms = as_int(f[4], "time_ms");
    const auto& random = as_array(f[5], "random");
    r.random.reserve(random.size);
    for (std::uint32_t i = 0; i < random.size; ++i)
      r.random.push_back(as_uint(random.ptr[i], "random value"));
    r.epoch = as_uint(f[6], "epoch");
    r.last_seq = as_uint(f[7], "last_seq");
    std::uint64_t outputs = as_uint(f[8], "outputs");
    if (outputs > std::numeric_limits<std::uint32_t>::max())
      throw bad_shape{"outputs does not fit in 32 bits"};
    r.outputs = static_cast<std::uint32_t>(outputs);
    if (v == 1) return;
    r.token = as_uint(f[9], "token");
    r.cseq = as_uint(f[10], "cseq");
    r.msg_id = as_uint(f[11], "msg_id");
    r.credential = as_str(f[12], "credential");
    if (n < 14) return;
    const std::uint64_t status = as_uint(f[13], "status");
    // Written as 0 (applied) only when a state hash follows.
    if ((status != 0 || n < 15) && status != static_cast<std::uint64_t>(input_status::pending)
        && status != static_cast<std::uint64_t>(input_status::quarantined))
      throw bad_shape{"status " + std::to_string(status) + " is not pending (1) or quarantined (2)"};
    r.status = static_cast<input_status>(status);
    if (n < 15) return;
    r.state_hash = as_uint(f[14], "state_hash");
    if (r.state_hash == 0) throw bad_shape{"state_hash 0 is written by omission"};
  }, 2);
  return r;
}

outbox_record decode_outbox(std::string_view bytes, std::string_view printable_key) {
  outbox_record r;
  decode(bytes, printable_key, "outbox", 3, 3, [&](const msgpack::object* f, std::uint32_t, std::uint32_t) {
    r.target = as_str(f[1], "target");
    r.data = as_str(f[2], "data");
  });
  return r;
}

}  // namespace skein::persistence
