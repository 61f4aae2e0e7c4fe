// skein-loadgen command line, /proc sampling and output.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "bench/loadgen/loadgen.hpp"

namespace loadgen {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }

std::vector<proc_sample> sample_procs(const std::vector<int>& pids) {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::vector<proc_sample> out;
  for (int pid : pids) {
    proc_sample s;
    s.pid = pid;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (stat && std::getline(stat, line)) {
      // Fields after the command name "(...)": state is field 3, utime 14, stime 15.
      auto close = line.rfind(')');
      if (close != std::string::npos) {
        std::istringstream rest(line.substr(close + 2));
        std::string f;
        std::vector<std::string> fields;
        while (rest >> f && fields.size() < 13) fields.push_back(f);
        if (fields.size() >= 13 && fields[0] != "Z") {
          s.alive = true;
          s.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
          s.kernel_s = std::stod(fields[12]) / ticks;
        }
      }
    }
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
      std::ifstream ts(task.path() / "status");
      std::string l;
      while (ts && std::getline(ts, l))
        if (l.rfind("voluntary_ctxt_switches:", 0) == 0 || l.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
          s.switches += std::strtoull(l.c_str() + l.find(':') + 1, nullptr, 10);
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    while (status && std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0) {
        s.rss_kb = std::stol(line.substr(6));
        break;
      }
    out.push_back(s);
  }
  return out;
}

double self_cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double machine_busy_s() {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (!(stat >> cpu) || cpu != "cpu") return 0;
  for (double& x : v) stat >> x;
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks;
}

long self_rss_kb() {
  auto s = sample_procs({static_cast<int>(::getpid())});
  return s.empty() ? 0 : s[0].rss_kb;
}

void emit_line(const std::string& json) {
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace loadgen

int main(int argc, char** argv) {
  using namespace loadgen;
  options o;
  CLI::App app{"skein-loadgen: WebSocket chat load for skein and Socket.IO (JSON lines on stdout)"};
  std::string proto = "skein", urls, levels, rates, pids;
  std::vector<std::string> events;
  app.add_option("--proto", proto, "skein | socketio")->check(CLI::IsMember({"skein", "socketio"}));
  app.add_option("--urls", urls, "server nodes, comma separated (http://127.0.0.1:PORT,...)")
    ->required();
  app.add_option("--scenario", o.scenario, "rtt | paced | fanout | idle")
    ->check(CLI::IsMember({"rtt", "paced", "fanout", "idle"}));
  app.add_option("--threads", o.threads, "io_context threads")->check(CLI::Range(1, 64));
  app.add_option("--src-first", o.src_first, "first source address 127.0.0.N")
    ->check(CLI::Range(1, 254));
  app.add_option("--src-count", o.src_count, "number of source addresses")
    ->check(CLI::Range(1, 254));
  app.add_option("--tag", o.tag, "room and user name prefix (unique per run)");
  app.add_option("--connect-concurrency", o.connect_concurrency, "connects in flight");
  app.add_flag("!--no-resume", o.resume, "skein: reconnect as a new client, without ?client=&last_seq=");
  app.add_flag("--ids", o.ids,
               "skein: send messages with ids, re-send the unacknowledged ones after a "
               "reconnect (as @skein/client does)");
  app.add_option("--connect-timeout", o.connect_timeout_s, "seconds to get every client in");
  app.add_option("--placement", o.placement,
                 "rtt: spread (a pair's clients on two nodes, round robin) | owner (both on the "
                 "session's owner, asked of GET /gateway?session=, as @skein/client does; "
                 "socketio: both on one node, as a balancer sticky by room would)")
    ->check(CLI::IsMember({"spread", "owner"}));
  app.add_option("--levels", levels, "rtt: pair counts, comma separated");
  app.add_option("--warmup", o.warmup_s, "rtt, paced: seconds before each measured window");
  app.add_option("--duration", o.duration_s, "rtt, paced: seconds measured per level (pairs or rate)");
  app.add_option("--msg-timeout", o.msg_timeout_s, "rtt, paced: a message is lost after this");
  app.add_option("--event", events,
                 "rtt: 'SECONDS:COMMAND' runs COMMAND (sh -c) that long into the first "
                 "measured window (repeatable)");
  app.add_option("--bucket-ms", o.bucket_ms, "rtt, paced --timeline: timeline bucket");
  app.add_flag("--timeline", o.paced_timeline,
               "paced: per bucket of due time, deliveries and worst latency (µs) in each line");
  app.add_option("--pairs", o.pairs,
                 "paced: pairs (each in its own room, its clients on two nodes as in rtt)")
    ->check(CLI::Range(1, 100000));
  app.add_option("--subscribers", o.subscribers, "fanout: subscribers in the room");
  app.add_option("--rates", rates, "fanout: publish rates (msg/s); paced: offered msg/s of all pairs; comma separated");
  app.add_option("--step", o.step_s, "fanout: seconds per rate");
  app.add_option("--step-warmup", o.step_warmup_s, "fanout: unmeasured seconds per step");
  app.add_option("--min-messages", o.min_messages,
                 "fanout: measured publishes per step at least (longer steps at low rates)");
  app.add_option("--p99-limit-ms", o.p99_limit_ms,
                 "fanout: stop after the step past this; paced: a rate past it is broken (0: none)");
  app.add_flag("--stop-when-broken", o.stop_when_broken,
               "paced: stop after the first rate that breaks (lost, under 99 % delivered, p99 limit)");
  app.add_option("--conns", o.conns, "idle: connections");
  app.add_option("--id-offset", o.id_offset, "idle: first client number");
  app.add_option("--rooms", o.rooms, "idle: rooms shared by the clients (0: one each)");
  app.add_option("--hold", o.hold_s, "idle: seconds to hold (or until SIGTERM)");
  app.add_option("--pids", pids, "server PIDs to sample, comma separated");
  CLI11_PARSE(app, argc, argv);

  o.proto = proto == "socketio" ? protocol::socketio : protocol::skein;
  o.urls = split(urls, ',');
  if (!levels.empty()) {
    o.levels.clear();
    for (auto& l : split(levels, ',')) o.levels.push_back(std::stoi(l));
  }
  if (!rates.empty()) {
    o.rates.clear();
    for (auto& r : split(rates, ',')) o.rates.push_back(std::stod(r));
  }
  for (auto& p : split(pids, ',')) o.pids.push_back(std::stoi(p));
  for (auto& e : events) {
    auto colon = e.find(':');
    if (colon == std::string::npos) {
      std::cerr << "--event wants SECONDS:COMMAND\n";
      return 2;
    }
    o.events.push_back({std::stod(e.substr(0, colon)), e.substr(colon + 1)});
  }
  if (o.urls.empty()) {
    std::cerr << "--urls is empty\n";
    return 2;
  }

  // Use every descriptor the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "skein-loadgen: " << e.what() << '\n';
    return 1;
  }
}
