package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * No poison rows: a streaming job with a fixed-delay restart strategy and the function as a
 * user writes it (no options), over every hostile input of {@link BadInputSqlTest} plus lone
 * UTF-16 surrogates at the start, in the middle and at the end of a message, finishes without
 * a single restart, with one output row per input row. A row that failed the job would be
 * replayed after every restart until the attempts run out.
 */
public class PoisonRowTest {
    /** Lone surrogates as a browser or a cut string sends them (JSON escapes, as on a topic). */
    static final String[] SURROGATE_INPUTS = {
        "\\ud83d my order never arrived",
        "charged twice \\ud83d\\ud83d for one order \\ude00",
        "please refund me \\udc00",
    };

    static Path task;
    static Path input;
    static final Map<Integer, String> INPUTS = new LinkedHashMap<>();

    @BeforeClass
    public static void writeTaskAndInput() throws Exception {
        BadInputSqlTest.writeInput();
        Path dir = Files.createTempDirectory("poison-rows");
        // No max_new_tokens: the cap comes from the (bounded) schema, as in the seed tasks.
        task = TestSupport.write(dir.resolve("tiny.task.json"), "{\"model\": " + TinyModelSqlTest.quote(TestSupport.model("tiny").toString())
                + ", \"system_prompt\": \"Classify the message.\", \"schema\": " + TinyModelSqlTest.SCHEMA + "}");
        INPUTS.putAll(BadInputSqlTest.INPUTS);
        for (String s : SURROGATE_INPUTS) {
            INPUTS.put(INPUTS.size() + 1, s);
        }
        StringBuilder lines = new StringBuilder();
        for (Map.Entry<Integer, String> e : INPUTS.entrySet()) {
            lines.append("{\"id\": ").append(e.getKey()).append(", \"message\": ").append(e.getValue() == null ? "null" : "\"" + e.getValue() + "\"").append("}\n");
        }
        input = TestSupport.write(dir.resolve("hostile.jsonl"), lines.toString());
    }

    @Test
    public void aStreamingJobWithARestartStrategyNeverRestartsOnContent() throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        conf.setString("restart-strategy.type", "fixed-delay");
        conf.setString("restart-strategy.fixed-delay.attempts", "3");
        conf.setString("restart-strategy.fixed-delay.delay", "100 ms");
        TableEnvironment env = TestSupport.messagesEnv(2, conf, input);
        List<Row> rows = TestSupport.collect(env, "SELECT id, llm(" + TestSupport.sqlString(task.toString()) + ", message) FROM messages");

        assertEquals("rows in = rows out", INPUTS.size(), rows.size());
        assertEquals("no restart", 0, CollectingReporter.jobRestarts());
        for (Row row : rows) {
            int id = (Integer) row.getField(0);
            Row r = (Row) row.getField(1);
            if (INPUTS.get(id) == null) {
                assertNull("NULL in, NULL out", r);
                continue;
            }
            assertTrue("input " + id + " gets an answer", r != null);
            TinyModelSqlTest.assertSchemaValid(r);
        }
        assertEquals("no row failed", 0, CollectingReporter.counter("errors"));
        System.out.println("repaired inputs: " + CollectingReporter.counter("repairedInputs"));
        assertTrue("the lone surrogates reach the function and are repaired there", CollectingReporter.counter("repairedInputs") >= 1);
    }
}
