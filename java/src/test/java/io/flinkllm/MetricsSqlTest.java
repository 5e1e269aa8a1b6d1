package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;

/**
 * The flinkllm metric group, read back through a metrics reporter of the MiniCluster, for the
 * sync and the async function (whose rows finish on other threads than the task thread).
 */
@RunWith(Parameterized.class)
public class MetricsSqlTest {
    @Parameterized.Parameters(name = "{0}")
    public static Collection<Object[]> functions() {
        return Arrays.asList(new Object[][] {{"llm"}, {"llm_async"}});
    }

    @Parameterized.Parameter
    public String function;

    @Before
    public void clear() throws Exception {
        TinyModelSqlTest.writeTasksAndInput();
        CollectingReporter.clear();
    }

    /**
     * NULL inputs the function sees: Flink's async calc answers a NULL argument with NULL without
     * calling the async function, so llm_async never counts one.
     */
    private long nullCalls(long nullInputs) {
        return function.equals("llm_async") ? 0 : nullInputs;
    }

    static TableEnvironment env() {
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        return TestSupport.messagesEnv(1, conf, TinyModelSqlTest.input);
    }

    @Test
    public void countsMatchTheRowsProcessed() throws Exception {
        List<Row> rows = TestSupport.collect(env(), "SELECT id, " + function + "(" + TestSupport.sqlString(TinyModelSqlTest.task.toString()) + ", message) FROM messages");
        assertEquals(4, rows.size());
        long nonNull = rows.stream().filter(r -> r.getField(1) != null).count();
        assertEquals(3, nonNull);

        assertEquals("every call is a row", nonNull + nullCalls(1), CollectingReporter.counter("rows"));
        assertEquals(nullCalls(1), CollectingReporter.counter("nullInputs"));
        assertEquals(0, CollectingReporter.counter("errors"));
        assertEquals(0, CollectingReporter.counter("errorKind.GenerationLimit"));
        long generated = CollectingReporter.counter("generatedTokens");
        long forced = CollectingReporter.counter("forcedTokens");
        long prompt = CollectingReporter.counter("promptTokens");
        System.out.printf(function + " metrics: rows=%d prompt=%d generated=%d forced=%d%n", CollectingReporter.counter("rows"), prompt, generated, forced);
        assertTrue("each row writes at least the JSON braces", generated >= 2 * nonNull);
        assertTrue("forced tokens are part of the generated ones", forced > 0 && forced <= generated);
        assertTrue(prompt >= nonNull);

        Histogram latency = CollectingReporter.histogram("latencyMs");
        assertEquals("one latency per model call", nonNull, latency.getCount());
        assertTrue(latency.getStatistics().getQuantile(0.99) >= latency.getStatistics().getQuantile(0.5));
        assertEquals(0, CollectingReporter.gauge("inFlightRows"));
        assertTrue("the tiny model's files alone are ~16 MB", (Long) CollectingReporter.gauge("nativeMemoryBytes") > 16_000_000L);
        assertTrue((Long) CollectingReporter.gauge("modelLoads") >= 1);
        assertTrue((Long) CollectingReporter.gauge("processRssBytes") > 0);
    }

    @Test
    public void errorsCountedByKind() throws Exception {
        List<Row> rows = TestSupport.collect(env(), "SELECT id, " + function + "(" + TestSupport.sqlString(TinyModelSqlTest.tasksDir.resolve("short.task.json").toString())
                + ", message, 'error-handling-strategy=ignore') FROM messages");
        assertEquals(4, rows.size());
        assertEquals(3 + nullCalls(1), CollectingReporter.counter("rows"));
        assertEquals(3, CollectingReporter.counter("errors"));
        assertEquals(3, CollectingReporter.counter("errorKind.GenerationLimit"));
        assertEquals(3, CollectingReporter.counter("ignoredRows"));
        assertEquals(0, CollectingReporter.counter("skippedRows"));
        assertEquals(0, CollectingReporter.counter("generatedTokens"));
    }
}
