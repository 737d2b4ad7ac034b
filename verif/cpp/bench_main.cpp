// Plain C++ driver of the sense_bench harness (hdl/sense_bench.v), or with SENSE_FEEDER of the
// feeder's (hdl/sense_feeder_bench.v): many jobs per process, no cocotb and no per-cycle
// Python (sense_verif.cpp_harness builds and runs it).
//
//   sense_bench_cpp JOBS_FILE
//
// JOBS_FILE has one job a line, `key=value` words (sense_verif.cpp_harness writes it):
//   dir=D results=R load=0|1 n_weights=N n_pixels=N n_results=N source_stall=S sink_stall=S
//   lfsr_seed=S limit=C settle=C [fault=HEX]
// and for the feeder harness n_table=N n_ifm=N n_passes=N n_stats=N stats=S in place of
// n_pixels (S: where its counter dump goes).
// The harness's $readmemh/$writememh use fixed names relative to the working directory, so
// each job runs in its directory D (where the Python side wrote bench_weights.hex and
// bench_pixels.hex when load=1) and its dump is renamed to R. The sequence of each job is
// the cocotb driver's (sense_verif.harness.BenchHarness.run), edge for edge, so that the two
// agree on cycles, status and extra beats: reset two cycles, pulse load (if asked), pulse
// start, clock until `done` (at most `limit` cycles: a hang is reported, not waited out),
// `settle` more cycles, read status, pulse dump. One line per job on stdout:
//   job=I hung=0|1 cycles=C origin=O extra=0|1 wall_ns=T [status=HEX]
// A malformed job line stops the run with a message naming the line (exit status 2).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include <unistd.h>

#ifdef SENSE_FEEDER
#include "Vsense_feeder_bench.h"
using Harness = Vsense_feeder_bench;
#else
#include "Vsense_bench.h"
using Harness = Vsense_bench;
#endif
#include "verilated.h"

namespace {

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "sense_bench_cpp: %s\n", message.c_str());
    std::exit(2);
}

// Ports of any width, as Verilator types them: up to 64 bits an integer, wider a VlWide.
template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
void set_hex(T& port, const std::string& hex) {
    port = static_cast<T>(std::stoull(hex, nullptr, 16));
}

template <std::size_t N>
void set_hex(VlWide<N>& port, const std::string& hex) {
    for (std::size_t word = 0; word < N; ++word) {
        const std::ptrdiff_t end = static_cast<std::ptrdiff_t>(hex.size()) - 8 * word;
        const std::ptrdiff_t begin = end - 8 > 0 ? end - 8 : 0;
        port[word] = end > 0 ? static_cast<EData>(std::stoul(hex.substr(begin, end - begin),
                                                             nullptr, 16))
                             : 0;
    }
}

template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
std::string to_hex(const T& port) {
    char text[32];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(port));
    return text;
}

template <std::size_t N>
std::string to_hex(const VlWide<N>& port) {
    std::string text;
    char word[16];
    for (std::size_t n = N; n-- > 0;) {
        std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(port[n]));
        text += word;
    }
    return text;
}

struct Job {
    std::map<std::string, std::string> words;

    const std::string& text(const std::string& key, int line) const {
        auto found = words.find(key);
        if (found == words.end()) fail("job line " + std::to_string(line) + ": no " + key);
        return found->second;
    }
    unsigned long long number(const std::string& key, int line) const {
        const std::string& value = text(key, line);
        char* end = nullptr;
        unsigned long long n = std::strtoull(value.c_str(), &end, 10);
        if (value.empty() || *end) fail("job line " + std::to_string(line) + ": " + key +
                                        "=" + value + " is not a non-negative integer");
        return n;
    }
};

Job parse(const std::string& line, int number) {
    static const char* known[] = {"dir", "results", "load", "n_weights", "n_pixels",
                                  "n_results", "source_stall", "sink_stall", "lfsr_seed",
                                  "limit", "settle", "fault", "n_table", "n_ifm",
                                  "n_passes", "n_stats", "stats"};
    Job job;
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
        auto eq = word.find('=');
        std::string key = word.substr(0, eq);
        bool is_known = false;
        for (const char* name : known) is_known |= key == name;
        if (eq == std::string::npos || !is_known)
            fail("job line " + std::to_string(number) + ": unknown word '" + word + "'");
        job.words[key] = word.substr(eq + 1);
    }
    return job;
}

class Bench {
public:
    Bench() : context_(new VerilatedContext), top_(new Harness(context_.get())) {
        top_->clk = 0;
        top_->rst = 0;
        top_->load = top_->start = top_->dump = 0;
        top_->eval();
    }

    ~Bench() { top_->final(); }

    void run(const Job& job, int line, int index) {
        if (chdir(job.text("dir", line).c_str()) != 0)
            fail("job line " + std::to_string(line) + ": cannot enter " + job.text("dir", line));
        const unsigned long long limit = job.number("limit", line);
        const unsigned long long settle = job.number("settle", line);
        top_->n_weights = job.number("n_weights", line);
        top_->n_results = job.number("n_results", line);
#ifdef SENSE_FEEDER
        top_->n_table = job.number("n_table", line);
        top_->n_ifm = job.number("n_ifm", line);
        top_->n_passes = job.number("n_passes", line);
        top_->n_stats = job.number("n_stats", line);
#else
        top_->n_pixels = job.number("n_pixels", line);
#endif
        top_->source_stall = job.number("source_stall", line);
        top_->sink_stall = job.number("sink_stall", line);
        top_->lfsr_seed = job.number("lfsr_seed", line);
#ifdef SENSE_FAULTS
        set_hex(top_->fault, job.text("fault", line));
#endif
        // The harness samples the ports above in the reset (`fault` as `rst` rises).
        top_->rst = 1;
        tick();
        tick();
        top_->rst = 0;
        if (job.number("load", line)) pulse(top_->load);
        const auto started = std::chrono::steady_clock::now();
        pulse(top_->start);
        bool hung = false;
        for (unsigned long long n = 0; !top_->done; ++n) {
            if (n == limit) {
                hung = true;
                break;
            }
            tick();
        }
        const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - started).count();
        const unsigned cycles = top_->cycles;
        for (unsigned long long n = 0; n < settle; ++n) tick();
        std::printf("job=%d hung=%d cycles=%u origin=%u extra=%d wall_ns=%lld", index, hung,
                    cycles, static_cast<unsigned>(top_->origin), top_->extra ? 1 : 0,
                    static_cast<long long>(wall));
#ifdef SENSE_STATUS
        std::printf(" status=%s", to_hex(top_->status).c_str());
#endif
        std::printf("\n");
        pulse(top_->dump);
        const std::string results = job.text("results", line);
        if (std::rename("bench_results.hex", results.c_str()) != 0)
            fail("job line " + std::to_string(line) + ": no dump to move to " + results);
#ifdef SENSE_FEEDER
        const std::string stats = job.text("stats", line);
        if (std::rename("bench_stats.hex", stats.c_str()) != 0)
            fail("job line " + std::to_string(line) + ": no counter dump to move to " + stats);
#endif
    }

private:
    void tick() {
        top_->clk = 0;
        top_->eval();
        top_->clk = 1;
        top_->eval();
    }

    // One cycle high, one low: what BenchHarness._pulse does.
    template <typename T>
    void pulse(T& signal) {
        signal = 1;
        tick();
        signal = 0;
        tick();
    }

    std::unique_ptr<VerilatedContext> context_;
    std::unique_ptr<Harness> top_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) fail("usage: sense_bench_cpp JOBS_FILE");
    std::ifstream jobs(argv[1]);
    if (!jobs) fail(std::string("cannot read ") + argv[1]);
    // Job directories may be relative to the caller's directory, so each job starts there.
    std::string line;
    int number = 0, index = 0;
    Bench bench;
    char here[4096];
    if (!getcwd(here, sizeof here)) fail("cannot read the working directory");
    while (std::getline(jobs, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        if (chdir(here) != 0) fail("cannot return to the working directory");
        bench.run(parse(line, number), number, index++);
        std::fflush(stdout);
    }
    return 0;
}
