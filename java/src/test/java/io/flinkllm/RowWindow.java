package io.flinkllm;

import io.flinkllm.metrics.LlmMetrics;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The time a job's flinkllm rows took, from its metrics ({@link CollectingReporter}), sampled
 * every 2 ms while the job runs: from the first row starting to the last of {@code rows}
 * finishing, so model loading and job start-up are not counted. Also the JVM's peak RSS. For the
 * benchmarks ({@link FlinkBench}, {@link RemoteBench}).
 */
final class RowWindow implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong firstStarted = new AtomicLong();
    private final AtomicLong lastFinished = new AtomicLong();
    private final AtomicLong peakRss = new AtomicLong();
    private final Thread sampler;
    private final int rows;

    RowWindow(int rows) {
        this.rows = rows;
        sampler = new Thread(() -> {
            while (running.get()) {
                long now = System.nanoTime();
                peakRss.accumulateAndGet(LlmMetrics.processRssBytes(), Math::max);
                if (CollectingReporter.counter("rows") > 0) {
                    firstStarted.compareAndSet(0, now);
                    if (lastFinished.get() == 0 && CollectingReporter.histogram("latencyMs").getCount() >= rows) {
                        lastFinished.set(now);
                    }
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "row-window-sampler");
        sampler.start();
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        sampler.join();
    }

    /** Seconds from the first row starting to the last finishing (after {@link #close}). */
    double seconds() {
        if (lastFinished.get() == 0) {
            throw new IllegalStateException("the job ended before all " + rows + " rows were counted finished ("
                    + CollectingReporter.counter("rows") + " started)");
        }
        return (lastFinished.get() - firstStarted.get()) / 1e9;
    }

    long peakRssBytes() {
        return peakRss.get();
    }
}
