/*
 * The C interface to Google Benchmark declared in gbench.h, and the
 * reporters behind it. This is the project's only C++ file; no C++
 * exception crosses into C.
 *
 * Reporting: the display reporter here forwards every report to Google
 * Benchmark's default display reporter (so --benchmark_format and
 * --benchmark_color work) and to a JSONReporter that writes into a string.
 * After each report the string, closed with the JSON reporter's own
 * trailer, is written to a temporary file that is then renamed over the
 * results file. A --benchmark_out file, when asked for, is written by
 * Google Benchmark as usual, only once at the end, through a reporter that
 * removes the same name suffixes.
 */
#include "harness/gbench/gbench.h"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

/* Runs that a stop request skipped carry this message; reporters drop them. */
const char kStoppedMessage[] = "not run: attnbench was asked to stop";

volatile std::sig_atomic_t g_stop_requested = 0;

/* Registration number of the benchmark that ran last: after a stop request
   its further calls (Google Benchmark calls a function several times while
   it sizes the iteration count, and once per repetition) still run, so the
   benchmark in progress finishes. */
int g_current_benchmark = -1;
int g_n_registered = 0;

/* The temporary results file while it exists, for a signal handler. */
char g_temp_path[4096];

/* --benchmark_filter and --benchmark_list_tests, applied by the wrapper to
   the registered names (Google Benchmark would match and list the names
   with their suffixes). */
std::string g_filter;
bool g_filter_negative = false;
std::regex g_filter_regex;
bool g_list_only = false;
std::vector<std::string> g_registered_names;

/* Values of --benchmark_out and --benchmark_out_format seen by initialize. */
std::string g_benchmark_out;
std::string g_benchmark_out_format = "json";

/* Replaces what Google Benchmark would write into JSON unescaped. */
std::string sanitize(const char *text)
{
    std::string s = text ? text : "";
    for (char &c : s) {
        if (c == '"')
            c = '\'';
        else if (c == '\\')
            c = '/';
        else if (static_cast<unsigned char>(c) < 0x20)
            c = ' ';
    }
    return s;
}

benchmark::State &state_of(atb_gb_state *state)
{
    return *reinterpret_cast<benchmark::State *>(state);
}

const benchmark::State &state_of(const atb_gb_state *state)
{
    return *reinterpret_cast<const benchmark::State *>(state);
}

void copy_message(char *err, size_t err_len, const std::string &message)
{
    if (err && err_len > 0)
        std::snprintf(err, err_len, "%s", message.c_str());
}

/* Copies the runs worth reporting: without those a stop request skipped,
   and with the registered name only (no min_time or time type suffix). */
std::vector<benchmark::BenchmarkReporter::Run>
clean_runs(const std::vector<benchmark::BenchmarkReporter::Run> &runs)
{
    std::vector<benchmark::BenchmarkReporter::Run> kept;
    for (const auto &run : runs) {
        if (run.error_occurred && run.error_message == kStoppedMessage)
            continue;
        kept.push_back(run);
        kept.back().run_name.min_time.clear();
        kept.back().run_name.min_warmup_time.clear();
        kept.back().run_name.time_type.clear();
    }
    return kept;
}

/* === Reporters === */

/* Wraps a reporter for --benchmark_out. Google Benchmark sets the output
   stream of this wrapper; the inner reporter gets the same stream. */
class CleaningFileReporter : public benchmark::BenchmarkReporter {
public:
    explicit CleaningFileReporter(std::unique_ptr<benchmark::BenchmarkReporter> inner)
        : inner_(std::move(inner))
    {
    }

    bool ReportContext(const Context &context) override
    {
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(context);
    }

    void ReportRuns(const std::vector<Run> &runs) override
    {
        const std::vector<Run> kept = clean_runs(runs);
        if (!kept.empty())
            inner_->ReportRuns(kept);
    }

    void Finalize() override { inner_->Finalize(); }

private:
    std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};

class RecordingReporter : public benchmark::BenchmarkReporter {
public:
    RecordingReporter(benchmark::BenchmarkReporter *display, const atb_gb_run_config *config)
        : display_(display), config_(*config)
    {
        if (config_.out_path)
            out_path_ = config_.out_path;
    }

    bool ReportContext(const Context &context) override
    {
        const bool go_on = display_->ReportContext(context);
        if (!out_path_.empty()) {
            json_.SetOutputStream(&json_text_);
            json_.SetErrorStream(&json_text_);
            json_.ReportContext(context);
            write_file(json_text_.str() + "\n  ]\n}\n");
        }
        return go_on;
    }

    void ReportRuns(const std::vector<Run> &runs) override
    {
        const std::vector<Run> kept = clean_runs(runs);
        if (kept.empty())
            return;
        display_->ReportRuns(kept);
        if (!out_path_.empty()) {
            json_.ReportRuns(kept);
            write_file(json_text_.str() + "\n  ]\n}\n");
        }
        notify(kept);
    }

    void Finalize() override
    {
        display_->Finalize();
        if (!out_path_.empty()) {
            json_.Finalize();
            write_file(json_text_.str());
        }
    }

    bool write_failed() const { return write_failed_; }
    const std::string &write_error() const { return write_error_; }

private:
    /* Writes text to a temporary file beside the results file, then renames
       it over the results file, so readers never see a partial file. */
    void write_file(const std::string &text)
    {
        if (write_failed_)
            return;
        const std::string temp = out_path_ + ".tmp-" + std::to_string(getpid());
        std::snprintf(g_temp_path, sizeof(g_temp_path), "%s", temp.c_str());

        FILE *f = std::fopen(temp.c_str(), "w");
        bool ok = f != nullptr;
        if (ok)
            ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
        if (f && std::fclose(f) != 0)
            ok = false;
        if (ok && std::rename(temp.c_str(), out_path_.c_str()) != 0)
            ok = false;

        if (!ok) {
            write_failed_ = true;
            write_error_ = "cannot write results file '" + out_path_ + "': " + std::strerror(errno);
            std::fprintf(stderr, "attnbench: error: %s\n", write_error_.c_str());
            std::remove(temp.c_str());
        }
        g_temp_path[0] = '\0';
    }

    /* Summarizes one group of runs for the on_result callback. A group of
       aggregates that follows the iteration runs of the same benchmark was
       summarized already. */
    void notify(const std::vector<Run> &runs)
    {
        if (!config_.on_result)
            return;
        std::vector<double> times_s;
        const Run *first_iteration = nullptr;
        double aggregate_mean_s = -1.0, aggregate_cv = -1.0;
        for (const auto &run : runs) {
            if (run.run_type == Run::RT_Iteration) {
                if (!first_iteration)
                    first_iteration = &run;
                if (!run.error_occurred && run.iterations > 0)
                    times_s.push_back(run.real_accumulated_time
                                      / static_cast<double>(run.iterations));
            } else if (run.aggregate_name == "mean" && run.iterations > 0) {
                aggregate_mean_s = run.real_accumulated_time / static_cast<double>(run.iterations);
            } else if (run.aggregate_name == "cv") {
                aggregate_cv = run.real_accumulated_time;
            }
        }

        const std::string name = runs.front().run_name.str();
        if (!first_iteration && name == last_iteration_name_)
            return;
        if (first_iteration)
            last_iteration_name_ = name;

        atb_gb_result result{};
        result.name = name.c_str();
        result.error_occurred = first_iteration && first_iteration->error_occurred;
        result.error_message = result.error_occurred ? first_iteration->error_message.c_str() : "";
        result.n_repetitions = static_cast<int64_t>(times_s.size());
        result.real_time_cv = -1.0;
        if (!times_s.empty()) {
            double sum = 0.0;
            for (double t : times_s)
                sum += t;
            const double mean = sum / static_cast<double>(times_s.size());
            result.real_time_per_iteration_s = mean;
            if (times_s.size() >= 2 && mean > 0.0) {
                double ss = 0.0;
                for (double t : times_s)
                    ss += (t - mean) * (t - mean);
                result.real_time_cv = std::sqrt(ss / static_cast<double>(times_s.size() - 1)) / mean;
            }
        } else if (!first_iteration) {
            result.real_time_per_iteration_s = aggregate_mean_s;
            result.real_time_cv = aggregate_cv;
        }
        config_.on_result(&result, config_.user);
    }

    benchmark::BenchmarkReporter *display_;
    atb_gb_run_config config_;
    std::string out_path_;
    benchmark::JSONReporter json_;
    std::ostringstream json_text_;
    bool write_failed_ = false;
    std::string write_error_;
    std::string last_iteration_name_;
};

std::unique_ptr<benchmark::BenchmarkReporter> make_file_reporter(const std::string &format)
{
    if (format == "console")
        return std::unique_ptr<benchmark::BenchmarkReporter>(
            new benchmark::ConsoleReporter(benchmark::ConsoleReporter::OO_None));
    if (format == "csv") {
        /* Google Benchmark marks its CSV reporter deprecated but still offers
           it through --benchmark_out_format=csv. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::CSVReporter());
#pragma GCC diagnostic pop
    }
    return std::unique_ptr<benchmark::BenchmarkReporter>(new benchmark::JSONReporter());
}

/* Returns the value of --NAME=VALUE in arg, or nullptr when arg is another flag. */
const char *flag_value(const char *arg, const char *name)
{
    const size_t n = std::strlen(name);
    if (std::strncmp(arg, "--", 2) != 0 || std::strncmp(arg + 2, name, n) != 0
        || arg[2 + n] != '=')
        return nullptr;
    return arg + 3 + n;
}

} // namespace

/* === Registration and the timing loop === */

extern "C" int atb_gb_filter_matches(const char *name)
{
    if (g_filter.empty() || g_filter == "all")
        return 1;
    const bool found = std::regex_search(name, g_filter_regex);
    return found != g_filter_negative ? 1 : 0;
}

extern "C" atb_status atb_gb_register(const char *name, atb_gb_function fn, void *user,
                                      const atb_gb_options *options, char *err,
                                      size_t err_len)
{
    try {
        if (!atb_gb_filter_matches(name))
            return ATB_OK;
        g_registered_names.push_back(name);
        const int id = g_n_registered++;
        benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
            name, [fn, user, id](benchmark::State &st) {
                if (g_stop_requested && g_current_benchmark != id) {
                    st.SkipWithError(kStoppedMessage);
                    return;
                }
                g_current_benchmark = id;
                fn(reinterpret_cast<atb_gb_state *>(&st), user);
                /* Google Benchmark aborts the process when a function
                   returns before its loop ended without an error. */
                if (!st.error_occurred() && st.iterations() < st.max_iterations)
                    st.SkipWithError("the benchmark function returned before its timing loop ended");
            });
        if (options) {
            if (options->min_time_s > 0.0)
                b->MinTime(options->min_time_s);
            if (options->use_real_time)
                b->UseRealTime();
            if (options->measure_process_cpu_time)
                b->MeasureProcessCPUTime();
            switch (options->time_unit) {
            case ATB_GB_UNIT_DEFAULT: break;
            case ATB_GB_UNIT_NANOSECOND: b->Unit(benchmark::kNanosecond); break;
            case ATB_GB_UNIT_MICROSECOND: b->Unit(benchmark::kMicrosecond); break;
            case ATB_GB_UNIT_MILLISECOND: b->Unit(benchmark::kMillisecond); break;
            case ATB_GB_UNIT_SECOND: b->Unit(benchmark::kSecond); break;
            }
        }
        return ATB_OK;
    } catch (const std::bad_alloc &) {
        copy_message(err, err_len, std::string("cannot register benchmark '") + name
                                       + "': out of memory");
        return ATB_ERR_NOMEM;
    } catch (const std::exception &e) {
        copy_message(err, err_len,
                     std::string("cannot register benchmark '") + name + "': " + e.what());
        return ATB_ERR_INTERNAL;
    }
}

extern "C" int atb_gb_keep_running(atb_gb_state *state)
{
    return state_of(state).KeepRunning() ? 1 : 0;
}

extern "C" void atb_gb_pause_timing(atb_gb_state *state)
{
    state_of(state).PauseTiming();
}

extern "C" void atb_gb_resume_timing(atb_gb_state *state)
{
    state_of(state).ResumeTiming();
}

extern "C" void atb_gb_skip_with_error(atb_gb_state *state, const char *message)
{
    /* Google Benchmark copies the message into its results. */
    const std::string text = sanitize(message);
    state_of(state).SkipWithError(text.c_str());
}

extern "C" int atb_gb_error_occurred(const atb_gb_state *state)
{
    return state_of(state).error_occurred() ? 1 : 0;
}

extern "C" int64_t atb_gb_max_iterations(const atb_gb_state *state)
{
    return static_cast<int64_t>(state_of(state).max_iterations);
}

extern "C" void atb_gb_set_counter(atb_gb_state *state, const char *name, double value,
                                   atb_gb_counter_kind kind)
{
    benchmark::Counter::Flags flags = benchmark::Counter::kDefaults;
    if (kind == ATB_GB_COUNTER_RATE)
        flags = benchmark::Counter::kIsRate;
    else if (kind == ATB_GB_COUNTER_PER_ITERATION_RATE)
        flags = benchmark::Counter::kIsIterationInvariantRate;
    state_of(state).counters[sanitize(name)] = benchmark::Counter(value, flags);
}

extern "C" void atb_gb_set_items_processed(atb_gb_state *state, int64_t items)
{
    state_of(state).SetItemsProcessed(items);
}

extern "C" void atb_gb_set_bytes_processed(atb_gb_state *state, int64_t bytes)
{
    state_of(state).SetBytesProcessed(bytes);
}

extern "C" void atb_gb_set_label(atb_gb_state *state, const char *label)
{
    state_of(state).SetLabel(sanitize(label));
}

extern "C" void atb_gb_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(sanitize(key), sanitize(value));
}

/* === Running === */

extern "C" atb_status atb_gb_initialize(int *argc, char **argv, char *err, size_t err_len)
{
    /* Google Benchmark exits the process on a bad format name, so the two
       format flags are checked here first. The output file flags are kept
       because the file reporter is chosen by atb_gb_run. */
    for (int i = 1; i < *argc; i++) {
        const char *formats[] = {"benchmark_format", "benchmark_out_format"};
        for (const char *flag : formats) {
            const char *value = flag_value(argv[i], flag);
            if (value && std::strcmp(value, "console") != 0 && std::strcmp(value, "json") != 0
                && std::strcmp(value, "csv") != 0) {
                copy_message(err, err_len, std::string("invalid value '") + value + "' for --"
                                               + flag + " (expected console, json or csv)");
                return ATB_ERR_INVALID;
            }
        }
        if (const char *value = flag_value(argv[i], "benchmark_out"))
            g_benchmark_out = value;
        if (const char *value = flag_value(argv[i], "benchmark_out_format"))
            g_benchmark_out_format = value;
        if (const char *value = flag_value(argv[i], "benchmark_filter"))
            g_filter = value;
    }

    /* The wrapper lists the names itself, so the flag is taken out. */
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        if (std::strcmp(argv[i], "--benchmark_list_tests") == 0
            || std::strcmp(argv[i], "--benchmark_list_tests=true") == 0) {
            g_list_only = true;
            continue;
        }
        argv[kept++] = argv[i];
    }
    *argc = kept;

    if (!g_filter.empty() && g_filter != "all") {
        g_filter_negative = g_filter[0] == '-';
        try {
            g_filter_regex = std::regex(g_filter_negative ? g_filter.substr(1) : g_filter,
                                        std::regex::extended);
        } catch (const std::regex_error &e) {
            copy_message(err, err_len, "invalid value '" + g_filter
                                           + "' for --benchmark_filter: " + e.what());
            return ATB_ERR_INVALID;
        }
    }

    try {
        benchmark::Initialize(argc, argv);
    } catch (const std::exception &e) {
        copy_message(err, err_len, std::string("Google Benchmark rejected the flags: ") + e.what());
        return ATB_ERR_INVALID;
    }
    if (*argc > 1 && benchmark::ReportUnrecognizedArguments(*argc, argv)) {
        copy_message(err, err_len, std::string("unknown option '") + argv[1] + "'");
        return ATB_ERR_INVALID;
    }

    /* Registration already dropped the benchmarks the filter excludes. */
    benchmark::SetBenchmarkFilter("all");
    return ATB_OK;
}

extern "C" atb_status atb_gb_run(const atb_gb_run_config *config, size_t *n_matched,
                                 char *err, size_t err_len)
{
    if (g_list_only) {
        for (const std::string &name : g_registered_names)
            std::printf("%s\n", name.c_str());
        if (n_matched)
            *n_matched = g_registered_names.size();
        return ATB_OK;
    }
    try {
        RecordingReporter display(benchmark::CreateDefaultDisplayReporter(), config);
        std::unique_ptr<CleaningFileReporter> file;
        if (!g_benchmark_out.empty())
            file.reset(new CleaningFileReporter(make_file_reporter(g_benchmark_out_format)));

        const size_t n = file ? benchmark::RunSpecifiedBenchmarks(&display, file.get())
                              : benchmark::RunSpecifiedBenchmarks(&display);
        if (n_matched)
            *n_matched = n;
        if (display.write_failed()) {
            copy_message(err, err_len, display.write_error());
            return ATB_ERR_IO;
        }
        return ATB_OK;
    } catch (const std::bad_alloc &) {
        copy_message(err, err_len, "out of memory while running the benchmarks");
        return ATB_ERR_NOMEM;
    } catch (const std::exception &e) {
        copy_message(err, err_len, std::string("benchmark run failed: ") + e.what());
        return ATB_ERR_INTERNAL;
    }
}

extern "C" void atb_gb_request_stop(void)
{
    g_stop_requested = 1;
}

extern "C" int atb_gb_stop_requested(void)
{
    return g_stop_requested ? 1 : 0;
}

extern "C" const char *atb_gb_temp_path(void)
{
    return g_temp_path;
}

extern "C" const char *atb_gb_version(void)
{
    return ATB_BENCHMARK_VERSION;
}
