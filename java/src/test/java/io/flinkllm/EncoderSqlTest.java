package io.flinkllm;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The encoder path on the embedded MiniCluster with all-MiniLM-L6-v2 int8: {@code CREATE MODEL}
 * with {@code 'task' = 'embedding'} and {@code 'classification'} through {@code ML_PREDICT}, the
 * {@code embed()} scalar function, the hostile inputs of {@link BadInputSqlTest}, and planning
 * errors.
 */
public class EncoderSqlTest {
    static final String LABELS = "auth, billing, product-bug, feature-request, other";
    static Path encoder;
    static Path tickets;

    @BeforeClass
    public static void writeInput() throws Exception {
        encoder = TestSupport.model("all-minilm-l6-v2-int8");
        BadInputSqlTest.writeInput();
        tickets = TestSupport.write(TinyModelSqlTest.tasksDir.resolve("encoder-tickets.jsonl"),
                "{\"id\": 1, \"message\": \"I was charged twice for my subscription this month.\"}\n"
                        + "{\"id\": 2, \"message\": \"The app crashes every time I open the settings page.\"}\n"
                        + "{\"id\": 3, \"message\": \"My two-factor code is never accepted at login.\"}\n"
                        + "{\"id\": 4, \"message\": null}\n"
                        + "{\"id\": 5, \"message\": \"Please add a dark theme to the editor.\"}\n");
    }

    static TableEnvironment env(Path input) {
        TableEnvironment env = TestSupport.tableEnv(2);
        env.executeSql("CREATE FUNCTION embed AS '" + EmbedFunction.class.getName() + "'");
        TestSupport.jsonSource(env, "messages", "id INT, message STRING", input);
        return env;
    }

    static String createModel(String name, String output, String options) {
        return "CREATE TEMPORARY MODEL " + name + " INPUT (message STRING) OUTPUT (" + output + ") WITH ('provider' = 'flinkllm', "
                + "'model' = " + TestSupport.sqlString(encoder.toString()) + ", " + options + ")";
    }

    static Map<Integer, Float[]> byId(List<Row> rows) {
        Map<Integer, Float[]> out = new HashMap<>();
        for (Row r : rows) {
            out.put((Integer) r.getField(0), (Float[]) r.getField(1));
        }
        return out;
    }

    static void assertUnitVector(Float[] v) {
        assertEquals(384, v.length);
        double norm = 0;
        for (Float x : v) {
            norm += x * x;
        }
        assertEquals(1.0, Math.sqrt(norm), 1e-4);
    }

    @Test
    public void mlPredictAndEmbedGiveTheSameVectors() throws Exception {
        TableEnvironment env = env(tickets);
        env.executeSql(createModel("emb", "embedding ARRAY<FLOAT>", "'task' = 'embedding'"));
        Map<Integer, Float[]> predicted = byId(TestSupport.collect(env,
                "SELECT id, embedding FROM ML_PREDICT(TABLE messages, MODEL emb, DESCRIPTOR(message))"));
        Map<Integer, Float[]> scalar = byId(TestSupport.collect(env,
                "SELECT id, embed(" + TestSupport.sqlString(encoder.toString()) + ", message) FROM messages"));
        Map<Integer, Float[]> async = byId(TestSupport.collect(env, "SELECT id, embedding FROM ML_PREDICT(TABLE messages, MODEL emb, "
                + "DESCRIPTOR(message), MAP['async', 'true', 'max-concurrent-operations', '8'])"));
        assertEquals("one row out per row in", 5, predicted.size());
        assertEquals(5, async.size());
        assertEquals(5, scalar.size());
        assertNull("NULL text, NULL vector", scalar.get(4));
        assertNull(predicted.get(4));
        for (int id : new int[] {1, 2, 3, 5}) {
            assertUnitVector(predicted.get(id));
            assertArrayEquals("ML_PREDICT and embed() agree on row " + id, predicted.get(id), scalar.get(id));
            assertArrayEquals("sync and async ML_PREDICT agree on row " + id, predicted.get(id), async.get(id));
        }
    }

    @Test
    public void classificationAnswersTheNearestLabelAndAScore() throws Exception {
        TableEnvironment env = env(tickets);
        Path examples = TestSupport.repoRoot().resolve("tasks/ticket_labels.examples.jsonl");
        env.executeSql(createModel("triage", "category STRING, score DOUBLE", "'task' = 'classification', 'examples-file' = "
                + TestSupport.sqlString(examples.toString()) + ", 'output.category.enum' = '" + LABELS + "'"));
        Map<Integer, String> labels = new HashMap<>();
        for (Row r : TestSupport.collect(env, "SELECT id, category, score FROM ML_PREDICT(TABLE messages, MODEL triage, DESCRIPTOR(message))")) {
            labels.put((Integer) r.getField(0), (String) r.getField(1));
            if (r.getField(1) != null) {
                double score = (Double) r.getField(2);
                assertTrue("cosine score " + score, score > -1 && score <= 1);
            }
        }
        assertEquals("billing", labels.get(1));
        assertEquals("product-bug", labels.get(2));
        assertEquals("auth", labels.get(3));
        assertNull(labels.get(4));
        assertEquals("feature-request", labels.get(5));
    }

    @Test
    public void hostileTextsGetVectorsAndNullStaysNull() throws Exception {
        TableEnvironment env = env(BadInputSqlTest.input);
        env.executeSql(createModel("emb", "embedding ARRAY<FLOAT>", "'task' = 'embedding'"));
        List<Row> predicted = TestSupport.collect(env, "SELECT id, embedding FROM ML_PREDICT(TABLE messages, MODEL emb, DESCRIPTOR(message))");
        Map<Integer, Float[]> scalar = byId(TestSupport.collect(env,
                "SELECT id, embed(" + TestSupport.sqlString(encoder.toString()) + ", message) FROM messages"));
        assertEquals("every row in gives one row out", BadInputSqlTest.INPUTS.size(), predicted.size());
        assertEquals(BadInputSqlTest.INPUTS.size(), scalar.size());
        for (Map.Entry<Integer, String> in : BadInputSqlTest.INPUTS.entrySet()) {
            Float[] v = scalar.get(in.getKey());
            if (in.getValue() == null) {
                assertNull(v);
            } else {
                assertUnitVector(v);
            }
        }
    }

    @Test
    public void aTooLongRowIsSkippedOrFailsTheJobAsConfigured() throws Exception {
        TableEnvironment env = env(BadInputSqlTest.input);
        List<Row> rows = TestSupport.collect(env, "SELECT id, embed(" + TestSupport.sqlString(encoder.toString())
                + ", message, 'context-overflow-action=skipped') FROM messages");
        int nulls = 0;
        for (Row r : rows) {
            nulls += r.getField(1) == null ? 1 : 0;
        }
        assertEquals(BadInputSqlTest.INPUTS.size(), rows.size());
        assertEquals("the NULL input and the 50 KB text", 2, nulls);
        try {
            TestSupport.collect(env, "SELECT id, embed(" + TestSupport.sqlString(encoder.toString())
                    + ", message, 'context-overflow-action=failover') FROM messages");
            fail("a too-long row under context-overflow-action=failover fails the job");
        } catch (Exception e) {
            assertTrue(ExceptionUtils.stringifyException(e), TestSupport.hasKind(e, "InputTooLong"));
        }
    }

    @Test
    public void planningErrorsNameTheProblem() {
        String[][] cases = {
            {createModel("m", "embedding STRING", "'task' = 'embedding'"), "array of numbers"},
            {createModel("m", "category STRING", "'task' = 'classification', 'output.category.enum' = 'a, b'"), "has no example"},
            {createModel("m", "embedding ARRAY<FLOAT>", "'task' = 'embedding', 'temperature' = '0.5'"), "'temperature' does not apply"},
            {createModel("m", "answer STRING", "'normalize' = 'false'"), "'normalize' does not apply"},
            {createModel("m", "embedding ARRAY<FLOAT>", "'task' = 'translation'"), "use \"text_generation\", \"embedding\" or \"classification\""},
            {"CREATE TEMPORARY MODEL m INPUT (message STRING) OUTPUT (embedding ARRAY<FLOAT>) WITH ('provider' = 'flinkllm', 'model' = "
                    + TestSupport.sqlString(TestSupport.model("tiny").toString()) + ", 'task' = 'embedding')", "need a sentence encoder"},
        };
        for (String[] c : cases) {
            TableEnvironment env = env(tickets);
            try {
                env.executeSql(c[0]);
                TestSupport.collect(env, "SELECT * FROM ML_PREDICT(TABLE messages, MODEL m, DESCRIPTOR(message))");
                fail("planning should fail: " + c[0]);
            } catch (Exception e) {
                String text = ExceptionUtils.stringifyException(e);
                assertTrue(c[1] + " in:\n" + text, text.contains(c[1]));
            }
        }
        TableEnvironment env = env(tickets);
        try {
            TestSupport.collect(env, "SELECT embed(" + TestSupport.sqlString(TestSupport.model("tiny").toString()) + ", message) FROM messages");
            fail("embed() over a generative model is refused at planning");
        } catch (Exception e) {
            assertTrue(ExceptionUtils.stringifyException(e), ExceptionUtils.stringifyException(e).contains("need a sentence encoder"));
        }
    }

    /**
     * One owner of the task contract: a task file and the equivalent {@code CREATE MODEL} are
     * checked by the engine's rules, and refused with the same message naming the key as each
     * wrote it (snake_case in a file, kebab-case in SQL).
     */
    @Test
    public void aTaskFileAndItsCreateModelAreRefusedAlike() throws Exception {
        String[][] cases = {
            // {task file keys, WITH options, what both messages must say}
            {"\"temperature\": 0.7", "'temperature' = '0.7'", "'temperature' does not apply to task 'embedding' (only to text_generation)"},
            {"\"max-context-size\": 10", "'max-context-size' = '10'", "'max-context-size' does not apply to task 'embedding'"},
            {"\"max_length\": 0", "'max-length' = '0'", "must be at least 1"},
        };
        for (String[] c : cases) {
            Path task = TestSupport.write(TinyModelSqlTest.tasksDir.resolve("contract.task.json"),
                    "{\"task\": \"embedding\", \"model\": " + TestSupport.jsonString(encoder.toString()) + ", " + c[0] + "}");
            String fromFile = planningError(env(tickets), "SELECT llm(" + TestSupport.sqlString(task.toString()) + ", message) FROM messages", true);
            String fromModel = planningError(env(tickets), createModel("m", "embedding ARRAY<FLOAT>", "'task' = 'embedding', " + c[1]), false);
            assertTrue(c[2] + " in:\n" + fromFile, fromFile.contains(c[2]));
            assertTrue(c[2] + " in:\n" + fromModel, fromModel.contains(c[2]));
        }
        String wrongCase = planningError(env(tickets), createModel("m", "embedding ARRAY<FLOAT>", "'task' = 'embedding', 'max-length' = '0'"), false);
        assertTrue(wrongCase, wrongCase.contains("'max-length' must be at least 1"));
    }

    private static String planningError(TableEnvironment env, String sql, boolean query) {
        try {
            if (query) {
                env.executeSql("CREATE FUNCTION llm AS '" + LlmFunction.class.getName() + "'");
                env.sqlQuery(sql).explain();
            } else {
                env.executeSql(sql);
                env.sqlQuery("SELECT * FROM ML_PREDICT(TABLE messages, MODEL m, DESCRIPTOR(message))").explain();
            }
        } catch (Exception e) {
            return ExceptionUtils.stringifyException(e);
        }
        fail("planning should fail: " + sql);
        return null;
    }
}
