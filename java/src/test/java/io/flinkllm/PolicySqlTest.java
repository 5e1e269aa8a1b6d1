package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * One test per row policy, through SQL on the MiniCluster with the tiny model:
 * error-column, max-tokens, timeout and each context-overflow-action.
 */
public class PolicySqlTest {
    static Path longInput;

    @BeforeClass
    public static void setUp() throws Exception {
        TinyModelSqlTest.writeTasksAndInput();
        // ~4000 tokens: more than the tiny model's 2048-token context leaves for the input.
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 800; i++) {
            text.append("alpha beta gamma delta ").append(i).append(' ');
        }
        longInput = TestSupport.write(TinyModelSqlTest.tasksDir.resolve("long.jsonl"),
                "{\"id\": 1, \"message\": \"" + text + "\"}\n{\"id\": 2, \"message\": \"short one\"}\n");
    }

    static List<Row> run(String taskFile, String options) throws Exception {
        return run(taskFile, options, TinyModelSqlTest.input);
    }

    static List<Row> run(String taskFile, String options, Path input) throws Exception {
        return run("llm", taskFile, options, input);
    }

    /** {@code SELECT id, <function>(task, message, options) FROM messages} over {@code input}. */
    static List<Row> run(String function, String taskFile, String options, Path input) throws Exception {
        TableEnvironment env = TestSupport.messagesEnv(1, new Configuration(), input);
        String task = TestSupport.sqlString(TinyModelSqlTest.tasksDir.resolve(taskFile).toString());
        return TestSupport.collect(env, "SELECT id, " + function + "(" + task + ", message, " + TestSupport.sqlString(options) + ") FROM messages");
    }

    static String failure(String taskFile, String options, Path input, Class<? extends Throwable> expected) {
        return failure("llm", taskFile, options, input, expected);
    }

    static String failure(String taskFile, String options, Path input, String kind) {
        return failure("llm", taskFile, options, input, kind);
    }

    /** Runs a job that must fail with an error of this engine kind; returns the whole failure text. */
    static String failure(String function, String taskFile, String options, Path input, String kind) {
        try {
            run(function, taskFile, options, input);
        } catch (Exception e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue(all, TestSupport.hasKind(e, kind));
            return all;
        }
        throw new AssertionError("the job should have failed with kind " + kind);
    }

    /** Runs a job that must fail; returns the whole failure text. */
    static String failure(String function, String taskFile, String options, Path input, Class<? extends Throwable> expected) {
        try {
            run(function, taskFile, options, input);
        } catch (Exception e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue(all, ExceptionUtils.findThrowable(e, expected).isPresent());
            return all;
        }
        throw new AssertionError("the job should have failed with " + expected.getSimpleName());
    }

    static Row result(List<Row> rows, int id) {
        for (Row row : rows) {
            if ((Integer) row.getField(0) == id) {
                return (Row) row.getField(1);
            }
        }
        throw new AssertionError("no row with id " + id + " in " + rows);
    }

    @Test
    public void errorColumnCarriesTheReason() throws Exception {
        List<Row> rows = run("short.task.json", "error-handling-strategy=ignore; error-column=true");
        assertEquals(4, rows.size());
        assertNull("a NULL input stays a NULL result", result(rows, 3));
        for (int id : new int[] {1, 2, 4}) {
            Row r = result(rows, id);
            assertEquals(7, r.getArity());
            String error = (String) r.getField("error");
            assertTrue(error, error.startsWith("GenerationLimit: max_new_tokens=2"));
            for (int i = 0; i < 6; i++) {
                assertNull(r.getField(i));
            }
        }
        List<Row> ok = run("tiny.task.json", "error-column=true");
        Row r = result(ok, 1);
        assertNull("no error on a good row", r.getField("error"));
        assertTrue(r.getField("label") instanceof String);
    }

    @Test
    public void errorColumnChangesTheDeclaredType() {
        TableEnvironment env = TestSupport.tableEnv(1);
        env.executeSql("CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction'");
        TestSupport.jsonSource(env, "messages", "id INT, message STRING", TinyModelSqlTest.input);
        String type = env.sqlQuery("SELECT llm(" + TestSupport.sqlString(TinyModelSqlTest.task.toString()) + ", message, 'error-column=true') FROM messages")
                .getResolvedSchema().getColumnDataTypes().get(0).toString();
        assertEquals("ROW<`label` STRING, `score` BIGINT, `flag` BOOLEAN, `tags` ARRAY<STRING>, `detail` ROW<`ratio` DOUBLE NOT NULL>, `note` STRING, `error` STRING>", type);
    }

    @Test
    public void errorColumnOnlyInTheJobConfigurationIsAPlanningError() {
        TableEnvironment env = TestSupport.tableEnv(1);
        env.getConfig().set("flinkllm.error-column", "true");
        env.executeSql("CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction'");
        TestSupport.jsonSource(env, "messages", "id INT, message STRING", TinyModelSqlTest.input);
        try {
            TestSupport.collect(env, "SELECT llm(" + TestSupport.sqlString(TinyModelSqlTest.task.toString()) + ", message) FROM messages");
            fail("planned with one type, ran with another");
        } catch (Exception e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue(all, all.contains("flinkllm.error-column set in the job configuration only"));
        }
    }

    @Test
    public void maxTokensOverridesTheTaskFile() throws Exception {
        for (Row row : run("tiny.task.json", "max-tokens=2; error-handling-strategy=ignore")) {
            assertNull("2 tokens cannot close the JSON: " + row, row.getField(1));
        }
        for (int id : new int[] {1, 2, 4}) {
            assertNotNull("the task's 2 raised to 160", result(run("short.task.json", "max-tokens=160"), id));
        }
    }

    @Test
    public void timeoutStopsTheRow() throws Exception {
        // 1 ms cannot hold the ~2000-token prompt pass of the truncated long input, let alone decoding.
        List<Row> rows = run("tiny.task.json", "timeout=1 ms; context-overflow-action=truncated-tail; error-handling-strategy=ignore; error-column=true", longInput);
        String error = (String) result(rows, 1).getField("error");
        assertTrue(error, error != null && error.startsWith("RowTimeout: "));
        assertNull("a generous timeout leaves rows alone", result(run("tiny.task.json", "timeout=10 min; error-column=true"), 1).getField("error"));
        failure("tiny.task.json", "timeout=1 ms; context-overflow-action=truncated-tail", longInput, "RowTimeout");
    }

    @Test
    public void contextOverflowTruncatedTailAndHead() throws Exception {
        for (String action : new String[] {"truncated-tail", "truncated-head"}) {
            List<Row> rows = run("tiny.task.json", "context-overflow-action=" + action, longInput);
            assertEquals(2, rows.size());
            assertNotNull(action + " keeps the row", result(rows, 1));
        }
    }

    @Test
    public void contextOverflowSkippedEvenUnderFailover() throws Exception {
        List<Row> rows = run("tiny.task.json", "context-overflow-action=skipped; error-handling-strategy=failover; error-column=true", longInput);
        assertEquals(2, rows.size());
        String error = (String) result(rows, 1).getField("error");
        assertTrue(error, error.startsWith("skipped: InputTooLong: input is "));
        assertNull(result(rows, 2).getField("error"));
        assertNull("without the error column a skipped row is NULL",
                result(run("tiny.task.json", "context-overflow-action=skipped", longInput), 1));
    }

    @Test
    public void contextOverflowFailoverEvenUnderIgnore() {
        String all = failure("tiny.task.json", "context-overflow-action=failover; error-handling-strategy=ignore", longInput, InputTooLongException.class);
        assertTrue(all, all.contains("context-overflow-action=failover"));
    }

    @Test
    public void contextOverflowUnsetTruncatesTheTail() throws Exception {
        // Flink's model providers' default: an input's length alone never fails a row, so a
        // restarted job cannot fail on the same event again.
        List<Row> byDefault = run("tiny.task.json", "error-handling-strategy=failover", longInput);
        assertNotNull("the long row gets an answer", result(byDefault, 1));
        assertEquals(result(run("tiny.task.json", "context-overflow-action=truncated-tail", longInput), 1), result(byDefault, 1));
    }

    @Test
    public void aFailedJobNamesTheRowAndTheOption() {
        String all = failure("short.task.json", "error-handling-strategy=failover", TinyModelSqlTest.input, "GenerationLimit");
        assertTrue(all, all.contains("for the row whose input starts \"Buy cheap watches now\""));
        assertTrue(all, all.contains("set it to ignore to emit NULL instead"));
        assertTrue(all, all.contains("a schema whose arrays are all bounded"));
    }

    @Test
    public void theModelOptionReplacesTheTasksModel() throws Exception {
        // The task's own model does not exist: planning checks, and rows run on, the one the call names.
        TestSupport.write(TinyModelSqlTest.tasksDir.resolve("no-model.task.json"), "{\"model\": \"no-such-model\", "
                + "\"system_prompt\": \"Classify the message.\", \"schema\": " + TinyModelSqlTest.SCHEMA + ", \"max_new_tokens\": 160}");
        String tiny = TestSupport.model("tiny").toString();
        List<Row> rows = run("no-model.task.json", "model=" + tiny);
        assertEquals(4, rows.size());
        for (int id : new int[] {1, 2, 4}) {
            assertEquals("the same model gives the same answer", result(run("tiny.task.json", ""), id), result(rows, id));
        }
        try {
            run("no-model.task.json", "");
            fail("planned a task whose model does not exist");
        } catch (ValidationException e) {
            assertTrue(ExceptionUtils.stringifyException(e), ExceptionUtils.stringifyException(e).contains("no-such-model"));
        }
    }
}
