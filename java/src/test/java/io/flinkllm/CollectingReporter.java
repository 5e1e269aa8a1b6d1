package io.flinkllm;

import io.flinkllm.metrics.LlmMetrics;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A metrics reporter for tests: keeps every {@code flinkllm} metric the MiniCluster
 * registers (and each job's {@code numRestarts}), also after the job ended (counters keep their final values), summed over
 * subtasks and operators by the name below the {@code flinkllm} group.
 */
public class CollectingReporter implements MetricReporter {
    /** Full metric identifier → metric. */
    private static final Map<String, Metric> SEEN = new ConcurrentHashMap<>();

    /** Registers this reporter on a MiniCluster configuration. */
    public static void install(Configuration conf) {
        conf.setString("metrics.reporters", "collect");
        conf.setString("metrics.reporter.collect.factory.class", Factory.class.getName());
    }

    public static void clear() {
        SEEN.clear();
    }

    /** Sum of the counters named {@code flinkllm.<name>} over all subtasks; -1 if none is registered. */
    public static long counter(String name) {
        long sum = -1;
        for (Map.Entry<String, Metric> e : SEEN.entrySet()) {
            if (e.getKey().endsWith("." + LlmMetrics.GROUP + "." + name) && e.getValue() instanceof Counter) {
                sum = Math.max(sum, 0) + ((Counter) e.getValue()).getCount();
            }
        }
        return sum;
    }

    public static Object gauge(String name) {
        return find(name, Gauge.class).getValue();
    }

    public static Histogram histogram(String name) {
        return find(name, Histogram.class);
    }

    private static <T> T find(String name, Class<T> type) {
        for (Map.Entry<String, Metric> e : SEEN.entrySet()) {
            if (e.getKey().endsWith("." + LlmMetrics.GROUP + "." + name) && type.isInstance(e.getValue())) {
                return type.cast(e.getValue());
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " flinkllm." + name + " was registered; seen: " + SEEN.keySet());
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    /** The largest {@code numRestarts} of any job the MiniCluster ran since {@link #clear}; -1 if none was registered. */
    public static long jobRestarts() {
        long most = -1;
        for (Map.Entry<String, Metric> e : SEEN.entrySet()) {
            if (e.getKey().endsWith("." + RESTARTS) && e.getValue() instanceof Gauge) {
                most = Math.max(most, ((Number) ((Gauge<?>) e.getValue()).getValue()).longValue());
            }
        }
        return most;
    }

    /** Flink's job-level restart count (JobManager job group). */
    private static final String RESTARTS = "numRestarts";

    @Override
    public void notifyOfAddedMetric(Metric metric, String metricName, MetricGroup group) {
        String id = group.getMetricIdentifier(metricName);
        if (id.contains("." + LlmMetrics.GROUP + ".") || metricName.equals(RESTARTS)) {
            SEEN.put(id, metric);
        }
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String metricName, MetricGroup group) {
        // Kept on purpose: the test reads the final values after the job has finished.
    }

    /** Found through META-INF/services by Flink's reporter setup. */
    public static class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new CollectingReporter();
        }
    }
}
