package io.flinkllm.metrics;

import java.util.Arrays;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.HistogramStatistics;

/**
 * Row latency in milliseconds over the last {@code capacity} rows (a sliding window, so
 * p50/p95/p99 follow the current load instead of the job's whole history). Flink's own
 * window histogram lives in flink-runtime, which a UDF should not compile against.
 */
final class LatencyHistogram implements Histogram {
    private final long[] window;
    private long count;

    LatencyHistogram(int capacity) {
        this.window = new long[capacity];
    }

    @Override
    public synchronized void update(long value) {
        window[(int) (count % window.length)] = value;
        count++;
    }

    @Override
    public synchronized long getCount() {
        return count;
    }

    @Override
    public synchronized HistogramStatistics getStatistics() {
        long[] values = Arrays.copyOf(window, (int) Math.min(count, window.length));
        Arrays.sort(values);
        return new Snapshot(values);
    }

    /** Statistics of one sorted copy of the window. */
    private static final class Snapshot extends HistogramStatistics {
        private final long[] sorted;

        Snapshot(long[] sorted) {
            this.sorted = sorted;
        }

        @Override
        public double getQuantile(double quantile) {
            if (sorted.length == 0) {
                return 0;
            }
            // Nearest rank: the smallest value with at least `quantile` of the values at or below it.
            int rank = (int) Math.ceil(quantile * sorted.length);
            return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
        }

        @Override
        public long[] getValues() {
            return sorted.clone();
        }

        @Override
        public int size() {
            return sorted.length;
        }

        @Override
        public double getMean() {
            return sorted.length == 0 ? 0 : Arrays.stream(sorted).average().getAsDouble();
        }

        @Override
        public double getStdDev() {
            if (sorted.length < 2) {
                return 0;
            }
            double mean = getMean();
            double sum = 0;
            for (long v : sorted) {
                sum += (v - mean) * (v - mean);
            }
            return Math.sqrt(sum / (sorted.length - 1));
        }

        @Override
        public long getMax() {
            return sorted.length == 0 ? 0 : sorted[sorted.length - 1];
        }

        @Override
        public long getMin() {
            return sorted.length == 0 ? 0 : sorted[0];
        }
    }
}
