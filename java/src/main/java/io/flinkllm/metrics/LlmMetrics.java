package io.flinkllm.metrics;

import io.flinkllm.engine.Engine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;

/**
 * The function's metrics, all under the {@code flinkllm} group of the operator:
 *
 * <ul>
 *   <li>counters {@code rows} (every call, NULL inputs included), {@code nullInputs},
 *       {@code errors} (rows that failed, whatever the policy did with them) and one counter per
 *       kind under {@code errorKind} ({@code errorKind.GenerationLimit}, ...), {@code ignoredRows},
 *       {@code skippedRows}, {@code repairedInputs} (inputs with a lone UTF-16 surrogate, replaced by
 *       U+FFFD before the row ran), {@code promptTokens}, {@code generatedTokens}, {@code forcedTokens}
 *       (the part of generatedTokens jump-forward wrote without a forward pass);
 *   <li>meters {@code rowsPerSecond}, {@code tokensPerSecond} (generated tokens);
 *   <li>histogram {@code latencyMs} (last 1024 rows; p50/p95/p99 through the reporter);
 *   <li>gauges {@code inFlightRows}, {@code nativeMemoryBytes} (model weights + constraint
 *       index + prompt-prefix cache of this task), {@code processRssBytes} (the whole task
 *       manager), {@code modelLoads} (models loaded from disk by this process).
 * </ul>
 *
 * Thread-safe: {@link AsyncLlmFunction} finishes rows on its executor's threads.
 */
public final class LlmMetrics {
    public static final String GROUP = "flinkllm";

    private final MetricGroup group;
    private final MetricGroup errorKinds;
    private final Map<String, Counter> byKind = new ConcurrentHashMap<>();
    private final Counter rows;
    private final Counter nullInputs;
    private final Counter errors;
    private final Counter ignored;
    private final Counter skipped;
    private final Counter promptTokens;
    private final Counter generatedTokens;
    private final Counter forcedTokens;
    private final Counter repairedInputs;
    private final Histogram latencyMs;
    private final AtomicInteger inFlight = new AtomicInteger();

    public LlmMetrics(MetricGroup operator, long nativeMemoryBytes) {
        group = operator.addGroup(GROUP);
        errorKinds = group.addGroup("errorKind");
        rows = counter(group, "rows");
        nullInputs = counter(group, "nullInputs");
        errors = counter(group, "errors");
        ignored = counter(group, "ignoredRows");
        skipped = counter(group, "skippedRows");
        promptTokens = counter(group, "promptTokens");
        generatedTokens = counter(group, "generatedTokens");
        forcedTokens = counter(group, "forcedTokens");
        repairedInputs = counter(group, "repairedInputs");
        group.meter("rowsPerSecond", new MeterView(rows));
        group.meter("tokensPerSecond", new MeterView(generatedTokens));
        latencyMs = group.histogram("latencyMs", new LatencyHistogram(1024));
        group.gauge("inFlightRows", (Gauge<Integer>) inFlight::get);
        group.gauge("nativeMemoryBytes", (Gauge<Long>) () -> nativeMemoryBytes);
        group.gauge("processRssBytes", (Gauge<Long>) LlmMetrics::processRssBytes);
        group.gauge("modelLoads", (Gauge<Long>) Engine::modelLoads);
        // The engine's row-level kinds, registered up front so dashboards see them at 0.
        for (String kind : Engine.rowErrorKinds()) {
            kindCounter(kind);
        }
    }

    public void nullInput() {
        rows.inc();
        nullInputs.inc();
    }

    /** Marks a row as started (in flight until {@link #finished}); returns its start time for that. */
    public long started() {
        rows.inc();
        inFlight.incrementAndGet();
        return System.nanoTime();
    }

    public void finished(long startedNanos) {
        inFlight.decrementAndGet();
        latencyMs.update((System.nanoTime() - startedNanos) / 1_000_000);
    }

    /** A row whose input held ill-formed UTF-16, repaired before it ran (whatever its outcome). */
    public void inputRepaired(long[] stats) {
        if (stats[Engine.STAT_REPAIRED_INPUT] != 0) {
            repairedInputs.inc();
        }
    }

    /** Token counts of a successful row, as {@link Engine#generate} reports them. */
    public void tokens(long[] stats) {
        promptTokens.inc(stats[Engine.STAT_PROMPT_TOKENS]);
        generatedTokens.inc(stats[Engine.STAT_GENERATED_TOKENS]);
        forcedTokens.inc(stats[Engine.STAT_FORCED_TOKENS]);
    }

    /** A row that failed with this kind, whatever the policy then did with it. */
    public void failed(String kind) {
        errors.inc();
        kindCounter(kind).inc();
    }

    /** A failed row that continued with a NULL (or error-column) result: ignored by the strategy, or skipped as too long. */
    public void continued(boolean skipped) {
        (skipped ? this.skipped : ignored).inc();
    }

    private Counter kindCounter(String kind) {
        return byKind.computeIfAbsent(kind, k -> counter(errorKinds, k));
    }

    private static Counter counter(MetricGroup group, String name) {
        return group.counter(name, new ThreadSafeSimpleCounter());
    }

    /** Resident set of this process (Linux; 0 where /proc is absent). */
    public static long processRssBytes() {
        try {
            String[] statm = new String(Files.readAllBytes(Paths.get("/proc/self/statm")), StandardCharsets.US_ASCII).trim().split("\\s+");
            return Long.parseLong(statm[1]) * 4096L;
        } catch (IOException | RuntimeException e) {
            return 0L;
        }
    }
}
