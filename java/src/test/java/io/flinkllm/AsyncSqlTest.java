package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import io.flinkllm.engine.SharedTasks;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * {@link AsyncLlmFunction} through SQL on the MiniCluster with the tiny model: the same rows as
 * {@link LlmFunction}, its error policies, rows in flight off the task thread, and the executor
 * gone with the task; plus the sync function with several slots sharing batches.
 */
public class AsyncSqlTest {
    static final String MAX_CONCURRENT = "table.exec.async-scalar.max-concurrent-operations";
    static final int ROWS = 40;
    /** ROWS messages in 4 files (so a parallelism-4 source reads in 4 slots); every 13th is NULL. */
    static Path many;

    @BeforeClass
    public static void setUp() throws Exception {
        PolicySqlTest.setUp();
        String[] words = "offer meeting lunch invoice winner urgent report free call tomorrow cheap watches".split(" ");
        StringBuilder[] parts = {new StringBuilder(), new StringBuilder(), new StringBuilder(), new StringBuilder()};
        for (int i = 1; i <= ROWS; i++) {
            String message = i % 13 == 0 ? "null"
                    : TinyModelSqlTest.quote(words[i % words.length] + " " + words[(i * 7) % words.length] + " #" + (i % 10));
            parts[i % 4].append("{\"id\": ").append(i).append(", \"message\": ").append(message).append("}\n");
        }
        many = TinyModelSqlTest.tasksDir.resolve("many");
        for (int p = 0; p < parts.length; p++) {
            TestSupport.write(many.resolve("part-" + p + ".jsonl"), parts[p].toString());
        }
    }

    static TableEnvironment env(int parallelism, Configuration conf, int maxConcurrent) {
        conf.setString(MAX_CONCURRENT, String.valueOf(maxConcurrent));
        return TestSupport.messagesEnv(parallelism, conf, many);
    }

    static String call(String function, String options) {
        return function + "(" + TestSupport.sqlString(TinyModelSqlTest.task.toString()) + ", message"
                + (options == null ? "" : ", " + TestSupport.sqlString(options)) + ")";
    }

    /** id → result; fails on a missing or repeated id. */
    static Map<Integer, Row> byId(List<Row> rows) {
        Map<Integer, Row> out = new HashMap<>();
        for (Row row : rows) {
            assertFalse("id " + row.getField(0) + " twice", out.containsKey((Integer) row.getField(0)));
            out.put((Integer) row.getField(0), (Row) row.getField(1));
        }
        assertEquals("rows in = rows out", ROWS, out.size());
        return out;
    }

    @Test
    public void plansAnAsyncCalc() {
        String plan = env(1, new Configuration(), 4).explainSql("SELECT id, " + call("llm_async", null) + ".label FROM messages");
        assertTrue(plan, plan.contains("AsyncCalc"));
    }

    /** Every row alone in the engine: the reference batched rows must equal. */
    static final String ALONE = "batch-size=1";

    @Test
    public void sameRowsAsTheSyncFunction() throws Exception {
        // The async rows share batches (default batch-size); the sync rows run alone.
        Map<Integer, Row> sync = byId(TestSupport.collect(env(1, new Configuration(), 8), "SELECT id, " + call("llm", ALONE) + " FROM messages"));
        Map<Integer, Row> async = byId(TestSupport.collect(env(1, new Configuration(), 8), "SELECT id, " + call("llm_async", null) + " FROM messages"));
        int nulls = 0;
        for (int id = 1; id <= ROWS; id++) {
            assertEquals("row " + id, sync.get(id), async.get(id));
            nulls += async.get(id) == null ? 1 : 0;
        }
        assertEquals("only the NULL inputs give NULL", ROWS / 13, nulls);
        assertEquals("every slot released its share", 0, SharedTasks.openTasks());
    }

    @Test
    public void ignoreAndErrorColumnKeepEveryRow() throws Exception {
        Map<Integer, Row> rows = byId(PolicySqlTest.run("llm_async", "short.task.json", "error-handling-strategy=ignore; error-column=true", many));
        for (int id = 1; id <= ROWS; id++) {
            Row r = rows.get(id);
            if (id % 13 == 0) {
                assertNull("a NULL input stays a NULL result", r);
                continue;
            }
            String error = (String) r.getField("error");
            assertTrue(error, error.startsWith("GenerationLimit: max_new_tokens=2"));
            assertNull(r.getField("label"));
        }
        for (Row r : byId(PolicySqlTest.run("llm_async", "short.task.json", "error-handling-strategy=ignore", many)).values()) {
            assertNull("ignore without the error column gives NULL", r);
        }
        List<Row> timedOut = PolicySqlTest.run("llm_async", "tiny.task.json",
                "timeout=1 ms; context-overflow-action=truncated-tail; error-handling-strategy=ignore; error-column=true", PolicySqlTest.longInput);
        assertEquals(2, timedOut.size());
        String error = (String) PolicySqlTest.result(timedOut, 1).getField("error");
        assertTrue(error, error != null && error.startsWith("RowTimeout: "));
    }

    @Test
    public void failoverFailsTheJobWithTheSyncFunctionsException() {
        // Flink retries a failed async row (retry-strategy FIXED_DELAY, 3 attempts by default);
        // the engine is deterministic, so every attempt fails and the job fails with the reason.
        String all = PolicySqlTest.failure("llm_async", "short.task.json", "error-handling-strategy=failover", TinyModelSqlTest.input,
                "GenerationLimit");
        assertTrue(all, all.contains("llm() failed on task "));
        assertTrue(all, all.contains("error-handling-strategy=failover; set it to ignore to emit NULL instead"));
    }

    @Test
    public void rowsRunConcurrentlyOffTheTaskThread() throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        TableEnvironment env = env(1, conf, 6);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger maxThreads = new AtomicInteger();
        Thread sampler = new Thread(() -> {
            while (running.get()) {
                try {
                    maxInFlight.accumulateAndGet((Integer) CollectingReporter.gauge("inFlightRows"), Math::max);
                } catch (AssertionError notYetRegistered) {
                    // the operator has not opened yet
                }
                maxThreads.accumulateAndGet(asyncThreads(), Math::max);
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.start();
        List<Row> rows;
        try {
            rows = TestSupport.collect(env, "SELECT id, " + call("llm_async", null) + " FROM messages");
        } finally {
            running.set(false);
            sampler.join();
        }
        byId(rows);
        System.out.printf("async: most rows in flight %d, most flinkllm-async threads %d%n", maxInFlight.get(), maxThreads.get());
        assertTrue("the task thread hands rows over without waiting for them: at most " + maxInFlight.get() + " in flight",
                maxInFlight.get() > 1);
        assertTrue("at most max-concurrent-operations rows in flight: " + maxInFlight.get(), maxInFlight.get() <= 6);
        assertTrue("executor threads exist while rows run, no more than max-concurrent-operations: " + maxThreads.get(),
                maxThreads.get() >= 1 && maxThreads.get() <= 6);
        assertEquals(0, CollectingReporter.gauge("inFlightRows"));
        assertEquals("rows the function saw (Flink answers NULL inputs itself)", ROWS - ROWS / 13, CollectingReporter.counter("rows"));
        assertEquals(0, SharedTasks.openTasks());
        long deadline = System.currentTimeMillis() + 10_000;
        while (asyncThreads() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertEquals("the executor is shut down with the task", 0, asyncThreads());
    }

    @Test
    public void syncFunctionWithSeveralSlotsSharingBatchesReturnsEveryRow() throws Exception {
        Map<Integer, Row> batched = byId(TestSupport.collect(env(4, new Configuration(), 8), "SELECT id, " + call("llm", "batch-size=16") + " FROM messages"));
        Map<Integer, Row> alone = byId(TestSupport.collect(env(1, new Configuration(), 8), "SELECT id, " + call("llm", ALONE) + " FROM messages"));
        Map<Integer, Row> oneSlot = byId(TestSupport.collect(env(1, new Configuration(), 8), "SELECT id, " + call("llm", null) + " FROM messages"));
        int differ = 0;
        int differOneSlot = 0;
        for (int id = 1; id <= ROWS; id++) {
            if (id % 13 == 0) {
                assertNull(batched.get(id));
            } else {
                assertNotNull("row " + id, batched.get(id));
            }
            differ += Objects.equals(alone.get(id), batched.get(id)) ? 0 : 1;
            differOneSlot += Objects.equals(alone.get(id), oneSlot.get(id)) ? 0 : 1;
        }
        assertEquals("rows of 4 slots sharing batches that differ from the rows run alone", 0, differ);
        assertEquals("rows of 1 slot through the batching worker that differ from the rows run alone", 0, differOneSlot);
        assertEquals(0, SharedTasks.openTasks());
    }

    private static int asyncThreads() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            n += t.getName().startsWith("flinkllm-async-") && t.isAlive() ? 1 : 0;
        }
        return n;
    }
}
