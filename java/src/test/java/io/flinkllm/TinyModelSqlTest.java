package io.flinkllm;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.flinkllm.engine.Engine;
import io.flinkllm.engine.NativeLibrary;
import io.flinkllm.engine.SharedTasks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Real SQL on the embedded MiniCluster with the tiny random model: the function, the
 * native library and the engine end to end, fast. The tiny model's words are random, so
 * the assertions are about types and schema constraints, determinism and the policies.
 */
public class TinyModelSqlTest {
    public static final String SCHEMA = "{\"type\": \"object\", \"properties\": {"
            + "\"label\": {\"enum\": [\"spam\", \"ham\"]},"
            + "\"score\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 9},"
            + "\"flag\": {\"type\": \"boolean\"},"
            + "\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 8}, \"maxItems\": 2},"
            + "\"detail\": {\"type\": \"object\", \"properties\": {\"ratio\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}}, \"required\": [\"ratio\"]},"
            + "\"note\": {\"type\": \"string\", \"maxLength\": 12}},"
            + "\"required\": [\"label\", \"score\", \"flag\", \"tags\", \"detail\"], \"additionalProperties\": false}";
    public static final String ROW_TYPE = "ROW<`label` STRING NOT NULL, `score` BIGINT NOT NULL, `flag` BOOLEAN NOT NULL, "
            + "`tags` ARRAY<STRING> NOT NULL, `detail` ROW<`ratio` DOUBLE NOT NULL> NOT NULL, `note` STRING>";

    public static Path tasksDir;
    public static Path task;
    public static Path input;

    @BeforeClass
    public static void writeTasksAndInput() throws Exception {
        Path model = TestSupport.model("tiny");
        tasksDir = Files.createTempDirectory("tiny-tasks");
        task = TestSupport.write(tasksDir.resolve("tiny.task.json"), taskJson(model, 160));
        TestSupport.write(tasksDir.resolve("short.task.json"), taskJson(model, 2));
        input = TestSupport.write(tasksDir.resolve("input.jsonl"),
                "{\"id\": 1, \"message\": \"Buy cheap watches now\"}\n"
                        + "{\"id\": 2, \"message\": \"Lunch at noon? 🍜 — ça va\"}\n"
                        + "{\"id\": 3, \"message\": null}\n"
                        + "{\"id\": 4, \"message\": \"Buy cheap watches now\"}\n");
    }

    public static String taskJson(Path model, int maxNewTokens) {
        return "{\"model\": " + quote(model.toString()) + ", \"system_prompt\": \"Classify the message.\", "
                + "\"schema\": " + SCHEMA + ", \"max_new_tokens\": " + maxNewTokens + "}";
    }

    /** A result ROW of {@link #SCHEMA}: every constraint the schema states holds. */
    public static void assertSchemaValid(Row r) {
        assertTrue(r.toString(), Arrays.asList("spam", "ham").contains((String) r.getField("label")));
        long score = (Long) r.getField("score");
        assertTrue(r.toString(), score >= 0 && score <= 9);
        assertTrue(r.toString(), r.getField("flag") instanceof Boolean);
        String[] tags = (String[]) r.getField("tags");
        assertTrue(r.toString(), tags.length <= 2 && Arrays.stream(tags).allMatch(t -> t.codePointCount(0, t.length()) <= 8));
        double ratio = (Double) ((Row) r.getField("detail")).getField("ratio");
        assertTrue(r.toString(), ratio >= 0 && ratio <= 1);
        String note = (String) r.getField("note");
        assertTrue(r.toString(), note == null || note.codePointCount(0, note.length()) <= 12);
    }

    public static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static TableEnvironment envWithInput(int parallelism) {
        return TestSupport.messagesEnv(parallelism, new Configuration(), input);
    }

    @Test
    public void declaresTheRowTypeFromTheSchema() {
        TableEnvironment env = envWithInput(1);
        String type = env.sqlQuery("SELECT llm(" + TestSupport.sqlString(task.toString()) + ", message) AS r FROM messages")
                .getResolvedSchema().getColumnDataTypes().get(0).toString();
        assertEquals(ROW_TYPE, type);
    }

    @Test
    public void typedRowsFieldByField() throws Exception {
        List<Row> rows = TestSupport.collect(envWithInput(1),
                "SELECT id, r, r.label, r.score FROM (SELECT id, llm(" + TestSupport.sqlString(task.toString()) + ", message) AS r FROM messages)");
        assertEquals(4, rows.size());
        Map<Integer, Row> byId = new HashMap<>();
        for (Row row : rows) {
            byId.put((Integer) row.getField(0), row);
        }
        assertNull("NULL input gives a NULL result", byId.get(3).getField(1));
        for (int id : new int[] {1, 2, 4}) {
            Row r = (Row) byId.get(id).getField(1);
            assertNotNull(r);
            assertTrue(Arrays.asList("spam", "ham").contains((String) r.getField("label")));
            long score = (Long) r.getField("score");
            assertTrue(score >= 0 && score <= 9);
            assertTrue(r.getField("flag") instanceof Boolean);
            String[] tags = (String[]) r.getField("tags");
            assertTrue(tags.length <= 2);
            for (String tag : tags) {
                assertTrue(tag, tag.codePointCount(0, tag.length()) <= 8);
            }
            double ratio = (Double) ((Row) r.getField("detail")).getField("ratio");
            assertTrue(ratio >= 0 && ratio <= 1);
            String note = (String) r.getField("note");
            assertTrue(note == null || note.codePointCount(0, note.length()) <= 12);
            assertEquals("nested field access in SQL sees the same value", r.getField("label"), byId.get(id).getField(2));
            assertEquals(r.getField("score"), byId.get(id).getField(3));
        }
        Row first = (Row) byId.get(1).getField(1);
        Row again = (Row) byId.get(4).getField(1);
        assertEquals("same input, same output (greedy)", first.getField("label"), again.getField("label"));
        assertArrayEquals((String[]) first.getField("tags"), (String[]) again.getField("tags"));
        assertEquals(first.getField("score"), again.getField("score"));
    }

    /** A task that reports confidence: the ROW gains a {@code confidence} ROW of one DOUBLE per label field. */
    @Test
    public void confidenceFieldsBesideTheAnswer() throws Exception {
        String json = taskJson(TestSupport.model("tiny"), 160);
        Path sure = TestSupport.write(tasksDir.resolve("sure.task.json"),
                json.substring(0, json.length() - 1) + ", \"confidence\": true, \"calibration\": {\"flag\": {\"a\": 0.5, \"b\": 0.1}}}");
        TableEnvironment env = envWithInput(1);
        String call = "llm(" + TestSupport.sqlString(sure.toString()) + ", message)";
        String type = env.sqlQuery("SELECT " + call + " AS r FROM messages").getResolvedSchema().getColumnDataTypes().get(0).toString();
        assertEquals(ROW_TYPE.substring(0, ROW_TYPE.length() - 1) + ", `confidence` ROW<`label` DOUBLE, `flag` DOUBLE>>", type);
        List<Row> rows = TestSupport.collect(env, "SELECT id, r, r.confidence.label, r.confidence.flag FROM (SELECT id, " + call
                + " AS r FROM messages) WHERE id <> 3");
        List<Row> plain = TestSupport.collect(envWithInput(1), "SELECT id, llm(" + TestSupport.sqlString(task.toString())
                + ", message) FROM messages WHERE id <> 3");
        assertEquals(3, rows.size());
        for (Row row : rows) {
            Row r = (Row) row.getField(1);
            assertSchemaValid(r);
            double label = (Double) row.getField(2);
            double flag = (Double) row.getField(3);
            assertTrue(row.toString(), label > 0 && label <= 1 && flag > 0 && flag < 1);
            Row same = (Row) plain.stream().filter(p -> p.getField(0).equals(row.getField(0))).findFirst().get().getField(1);
            assertEquals("confidence never changes the answer", same.getField("label"), r.getField("label"));
            assertEquals(same.getField("score"), r.getField("score"));
            assertEquals(same.getField("note"), r.getField("note"));
        }
    }

    @Test
    public void relativeTaskPathResolvesAgainstTasksDir() throws Exception {
        System.setProperty(LlmFunction.TASKS_DIR_OPTION, tasksDir.toString());
        try {
            List<Row> rows = TestSupport.collect(envWithInput(1), "SELECT llm('tiny.task.json', message).label FROM messages WHERE id = 1");
            assertEquals(1, rows.size());
            assertTrue(Arrays.asList("spam", "ham").contains((String) rows.get(0).getField(0)));
        } finally {
            System.clearProperty(LlmFunction.TASKS_DIR_OPTION);
        }
    }

    @Test
    public void ignoreStrategyGivesNullRows() throws Exception {
        Path shortTask = tasksDir.resolve("short.task.json");
        List<Row> rows = TestSupport.collect(envWithInput(1), "SELECT id, llm(" + TestSupport.sqlString(shortTask.toString())
                + ", message, 'error-handling-strategy=ignore') FROM messages");
        assertEquals(4, rows.size());
        for (Row row : rows) {
            assertNull("max_new_tokens=2 cannot close the JSON: row " + row, row.getField(1));
        }
    }

    @Test
    public void ignoreStrategyFromJobConfiguration() throws Exception {
        TableEnvironment env = envWithInput(1);
        env.getConfig().set("flinkllm.error-handling-strategy", "ignore");
        List<Row> rows = TestSupport.collect(env, "SELECT llm(" + TestSupport.sqlString(tasksDir.resolve("short.task.json").toString())
                + ", message) FROM messages");
        assertEquals(4, rows.size());
        assertNull(rows.get(0).getField(0));
    }

    @Test
    public void failoverStrategyFailsTheJobWithTheReason() {
        try {
            TestSupport.collect(envWithInput(1), "SELECT llm(" + TestSupport.sqlString(tasksDir.resolve("short.task.json").toString())
                    + ", message) FROM messages");
            fail("the job should fail");
        } catch (Exception e) {
            assertTrue(ExceptionUtils.stringifyException(e),
                    TestSupport.hasKind(e, "GenerationLimit"));
        }
    }

    @Test
    public void brokenTaskFailsAtPlanningNamingTheFile() {
        Path missing = tasksDir.resolve("no-such.task.json");
        try {
            envWithInput(1).sqlQuery("SELECT llm(" + TestSupport.sqlString(missing.toString()) + ", message) FROM messages");
            fail("planning should fail");
        } catch (ValidationException e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue(all, all.contains(missing.toString()));
            assertTrue(all, TestSupport.hasKind(e, "InvalidTask"));
        }
    }

    @Test
    public void parallelismFourLoadsTheModelOnce() throws Exception {
        NativeLibrary.load();
        long before = Engine.modelLoads();
        List<Row> rows = TestSupport.collect(envWithInput(4), "SELECT id, llm(" + TestSupport.sqlString(task.toString()) + ", message).label FROM messages");
        long loads = Engine.modelLoads() - before;
        System.out.println("model loads for a parallelism-4 job: " + loads);
        assertEquals(4, rows.size());
        assertEquals("the 4 slots share one model load", 1, loads);
        assertEquals("every slot released its share", 0, SharedTasks.openTasks());
    }

}
