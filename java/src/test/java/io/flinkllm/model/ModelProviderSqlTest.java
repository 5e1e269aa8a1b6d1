package io.flinkllm.model;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.flinkllm.CollectingReporter;
import io.flinkllm.TestSupport;
import io.flinkllm.TinyModelSqlTest;
import io.flinkllm.engine.SharedTasks;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * {@code CREATE MODEL ... WITH ('provider' = 'flinkllm')} and {@code ML_PREDICT} on the embedded
 * MiniCluster with the tiny random model: types, options, planning errors, the error policy,
 * and that sync, async and batched runs (and the {@code llm()} function) give the same rows.
 */
public class ModelProviderSqlTest {
    static Path model;
    static Path dir;
    static Path input;

    /** The tiny model's answers are random words: every string is bounded so rows always finish. */
    static final String CLASSIFY_COLUMNS = "label STRING COMMENT 'spam or ham', score INT, flag BOOLEAN, tags ARRAY<VARCHAR(8)>, ratio DOUBLE, note VARCHAR(12)";
    static final String CLASSIFY_OPTIONS = "'output.label.enum' = 'spam, ham', 'output.score.minimum' = '0', 'output.score.maximum' = '9', "
            + "'output.tags.max-items' = '2', 'output.ratio.minimum' = '0', 'output.ratio.maximum' = '1'";

    @BeforeClass
    public static void writeInput() throws Exception {
        model = TestSupport.model("tiny");
        dir = Files.createTempDirectory("model-provider");
        input = TestSupport.write(dir.resolve("input.jsonl"),
                "{\"id\": 1, \"message\": \"Buy cheap watches now\"}\n"
                        + "{\"id\": 2, \"message\": \"Lunch at noon? 🍜 — ça va\"}\n"
                        + "{\"id\": 3, \"message\": null}\n"
                        + "{\"id\": 4, \"message\": \"Buy cheap watches now\"}\n"
                        + "{\"id\": 5, \"message\": \"The order #1234 never arrived\"}\n");
    }

    static TableEnvironment env() {
        return TestSupport.messagesEnv(1, new Configuration(), input);
    }

    static String createModel(String name, String inputColumns, String outputColumns, String options) {
        return "CREATE TEMPORARY MODEL " + name + " INPUT (" + inputColumns + ") OUTPUT (" + outputColumns + ") WITH ('provider' = 'flinkllm', "
                + "'model' = " + TestSupport.sqlString(model.toString()) + (options.isEmpty() ? "" : ", " + options) + ")";
    }

    static List<Row> predict(TableEnvironment env, String model, String columns, String config) throws Exception {
        List<Row> rows = TestSupport.collect(env, "SELECT id, " + columns + " FROM ML_PREDICT(TABLE messages, MODEL " + model
                + ", DESCRIPTOR(message)" + (config == null ? "" : ", " + config) + ")");
        rows.sort(Comparator.comparing(r -> (Integer) r.getField(0)));
        return rows;
    }

    /** The row's fields after the id. */
    static String answer(Row r) {
        List<String> fields = new ArrayList<>();
        for (int i = 1; i < r.getArity(); i++) {
            Object f = r.getField(i);
            fields.add(f instanceof Object[] ? Arrays.deepToString((Object[]) f) : String.valueOf(f));
        }
        return fields.toString();
    }

    static void assertClassified(Row r) {
        assertTrue(r.toString(), Arrays.asList("spam", "ham").contains((String) r.getField(1)));
        int score = (Integer) r.getField(2);
        assertTrue(r.toString(), score >= 0 && score <= 9);
        assertTrue(r.toString(), r.getField(3) instanceof Boolean);
        String[] tags = (String[]) r.getField(4);
        assertTrue(r.toString(), tags.length <= 2 && Arrays.stream(tags).allMatch(t -> t.length() <= 8));
        double ratio = (Double) r.getField(5);
        assertTrue(r.toString(), ratio >= 0 && ratio <= 1);
        String note = (String) r.getField(6);
        assertTrue(r.toString(), note.length() <= 12);
    }

    @Test
    public void syncAsyncAndBatchedRowsAreIdentical() throws Exception {
        TableEnvironment env = env();
        env.executeSql(createModel("classify", "message STRING", CLASSIFY_COLUMNS, CLASSIFY_OPTIONS));
        env.executeSql(createModel("classify_alone", "message STRING", CLASSIFY_COLUMNS, CLASSIFY_OPTIONS + ", 'batch-size' = '1'"));
        String columns = "label, score, flag, tags, ratio, note";
        List<Row> sync = predict(env, "classify", columns, "MAP['async', 'false']");
        List<Row> async = predict(env, "classify", columns, "MAP['async', 'true', 'max-concurrent-operations', '4']");
        List<Row> byDefault = predict(env, "classify", columns, null);
        List<Row> alone = predict(env, "classify_alone", columns, "MAP['async', 'false']");
        assertEquals("every row comes out once, the NULL one too", 5, sync.size());
        for (Row r : sync) {
            if ((Integer) r.getField(0) == 3) {
                for (int i = 1; i < r.getArity(); i++) {
                    assertNull("NULL input: NULL outputs, row kept: " + r, r.getField(i));
                }
            } else {
                assertClassified(r);
            }
        }
        assertEquals(sync.toString(), async.toString());
        assertEquals(sync.toString(), byDefault.toString());
        assertEquals(sync.toString(), alone.toString());
        assertEquals("same input, same answer", answer(sync.get(0)), answer(sync.get(3)));
        assertEquals(0, SharedTasks.openTasks());
    }

    @Test
    public void everyTypeRoundTripsThroughTheModel() throws Exception {
        TableEnvironment env = env();
        String columns = "s STRING, c CHAR(3), v VARCHAR(5), b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, "
                + "amount DECIMAL(5, 2), dt DATE, ts TIMESTAMP(3), tl TIMESTAMP_LTZ(3), arr ARRAY<INT>, r ROW<x INT, y ARRAY<VARCHAR(4)>>, u STRING";
        env.executeSql(createModel("types", "message STRING", columns, "'output.s.pattern' = '[a-z]{1,6}', 'output.arr.max-items' = '3', "
                + "'output.r.y.max-items' = '2', 'output.bi.minimum' = '-5', 'output.bi.maximum' = '5', 'output.d.maximum' = '2.5', "
                + "'output.i.minimum' = '10', 'output.r.x.maximum' = '3', 'output.v.min-length' = '2', 'output.s.description' = 'one word', "
                + "'output.u.format' = 'uuid', 'output.arr.min-items' = '1'"));
        String names = "s, c, v, b, ti, si, i, bi, f, d, amount, dt, ts, tl, arr, r, u";
        assertEquals("[INT, STRING, CHAR(3), VARCHAR(5), BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(5, 2), DATE, "
                        + "TIMESTAMP(3), TIMESTAMP_LTZ(3), ARRAY<INT>, ROW<`x` INT, `y` ARRAY<VARCHAR(4)>>, STRING]",
                env.sqlQuery("SELECT id, " + names + " FROM ML_PREDICT(TABLE messages, MODEL types, DESCRIPTOR(message))")
                        .getResolvedSchema().getColumnDataTypes().toString());
        for (Row r : predict(env, "types", names, null)) {
            if ((Integer) r.getField(0) == 3) {
                continue;
            }
            assertTrue(r.toString(), ((String) r.getField(1)).matches("[a-z]{1,6}"));
            assertEquals(r.toString(), 3, ((String) r.getField(2)).length());
            String v = (String) r.getField(3);
            assertTrue(r.toString(), v.length() >= 2 && v.length() <= 5);
            assertTrue(r.toString(), r.getField(4) instanceof Boolean);
            assertTrue(r.toString(), r.getField(5) instanceof Byte);
            assertTrue(r.toString(), r.getField(6) instanceof Short);
            assertTrue(r.toString(), (Integer) r.getField(7) >= 10);
            assertTrue(r.toString(), Math.abs((Long) r.getField(8)) <= 5);
            assertTrue(r.toString(), r.getField(9) instanceof Float);
            assertTrue(r.toString(), (Double) r.getField(10) <= 2.5);
            BigDecimal dec = (BigDecimal) r.getField(11);
            assertTrue(r.toString(), dec.abs().compareTo(new BigDecimal("999.99")) <= 0 && dec.scale() == 2);
            assertTrue(r.toString(), r.getField(12) instanceof LocalDate);
            assertTrue(r.toString(), r.getField(13) instanceof LocalDateTime);
            assertNotNull(r.toString(), r.getField(14));
            int items = ((Integer[]) r.getField(15)).length;
            assertTrue(r.toString(), items >= 1 && items <= 3);
            Row nested = (Row) r.getField(16);
            assertTrue(r.toString(), (Integer) nested.getField(0) <= 3 && ((String[]) nested.getField(1)).length <= 2);
            assertEquals(r.toString(), r.getField(17), java.util.UUID.fromString((String) r.getField(17)).toString());
        }
    }

    @Test
    public void sameRowsAsTheFunctionForTheSameTaskFile() throws Exception {
        Path task = TestSupport.write(dir.resolve("tiny.task.json"), TinyModelSqlTest.taskJson(model, 160));
        TableEnvironment env = env();
        env.executeSql("CREATE TEMPORARY MODEL from_file INPUT (message STRING) OUTPUT (label STRING, score BIGINT, flag BOOLEAN, "
                + "tags ARRAY<STRING>, detail ROW<ratio DOUBLE>, note STRING) WITH ('provider' = 'flinkllm', 'task-file' = "
                + TestSupport.sqlString(task.toString()) + ")");
        List<Row> predicted = predict(env, "from_file", "label, score, flag, tags, detail, note", "MAP['async', 'false']");
        List<Row> called = TestSupport.collect(env, "SELECT id, r.label, r.score, r.flag, r.tags, r.detail, r.note FROM (SELECT id, llm("
                + TestSupport.sqlString(task.toString()) + ", message) AS r FROM messages)");
        called.sort(Comparator.comparing(r -> (Integer) r.getField(0)));
        assertEquals(5, predicted.size());
        for (int i = 0; i < predicted.size(); i++) {
            if ((Integer) predicted.get(i).getField(0) != 3) {
                assertEquals(answer(called.get(i)), answer(predicted.get(i)));
            }
        }
    }

    @Test
    public void aStringColumnIsBoundedByMaxStringLength() throws Exception {
        // The tiny model's words are random: unbounded, it fills a string to the engine's bound.
        TableEnvironment env = env();
        env.executeSql(createModel("short_text", "message STRING", "t STRING", "'max-string-length' = '5'"));
        List<Row> rows = predict(env, "short_text", "t", null);
        assertEquals(5, rows.size());
        for (Row r : rows) {
            if ((Integer) r.getField(0) != 3) {
                assertTrue(r.toString(), ((String) r.getField(1)).codePointCount(0, ((String) r.getField(1)).length()) <= 5);
            }
        }
    }

    @Test
    public void ignoreKeepsEveryRowWithItsReason() throws Exception {
        TableEnvironment env = env();
        env.executeSql(createModel("limited", "message STRING", "label STRING, error_message STRING",
                "'output.label.enum' = 'spam, ham', 'max-tokens' = '1', 'error-handling-strategy' = 'ignore', 'error-string-column' = 'error_message'"));
        List<Row> rows = predict(env, "limited", "label, error_message", null);
        assertEquals(5, rows.size());
        for (Row r : rows) {
            assertNull(r.toString(), r.getField(1));
            if ((Integer) r.getField(0) == 3) {
                assertNull("a NULL input is no error", r.getField(2));
            } else {
                assertTrue(r.toString(), ((String) r.getField(2)).startsWith("GenerationLimit: "));
            }
        }
        env.executeSql(createModel("limited_failover", "message STRING", "label STRING", "'output.label.enum' = 'spam, ham', 'max-tokens' = '1'"));
        try {
            // Sync: the row's exception fails the task itself (async, a source event racing the failure can be reported first).
            predict(env, "limited_failover", "label", "MAP['async', 'false']");
            fail("failover (the default) fails the job");
        } catch (Exception e) {
            assertTrue(ExceptionUtils.stringifyException(e), TestSupport.hasKind(e, "GenerationLimit"));
            assertTrue(ExceptionUtils.stringifyException(e), ExceptionUtils.stringifyException(e).contains("ML_PREDICT failed on task model "));
        }
    }

    @Test
    public void promptOptionsAndSeveralInputColumns() throws Exception {
        Path prompt = TestSupport.write(dir.resolve("prompt.txt"), "Summarise the product's reviews.");
        Path examples = TestSupport.write(dir.resolve("examples.jsonl"),
                "{\"input\": \"Lamp (4.5)\\nGreat\", \"output\": {\"verdict\": \"good\", \"stars\": 4}}\n");
        TableEnvironment env = env();
        env.executeSql("CREATE TEMPORARY VIEW products AS SELECT id, 'Lamp' AS product, CAST(4.5 AS DOUBLE) AS rating, message AS reviews FROM messages");
        env.executeSql(createModel("summary", "product STRING, rating DOUBLE, reviews STRING", "verdict STRING, stars INT",
                "'system-prompt-file' = " + TestSupport.sqlString(prompt.toString()) + ", 'examples-file' = " + TestSupport.sqlString(examples.toString())
                        + ", 'input-template' = 'Product: {product} ({rating})\n{reviews}', 'output.verdict.enum' = 'good,bad', "
                        + "'output.stars.minimum' = '1', 'output.stars.maximum' = '5', 'temperature' = '0.7', 'top-p' = '0.9', 'seed' = '7', "
                        + "'threads' = '1', 'timeout' = '60 s', 'batch-size' = '4', 'context-overflow-action' = 'truncated-head', 'max-tokens' = '40'"));
        String query = "SELECT id, verdict, stars FROM ML_PREDICT(TABLE products, MODEL summary, DESCRIPTOR(product, rating, reviews))";
        List<Row> first = TestSupport.collect(env, query);
        List<Row> again = TestSupport.collect(env, query);
        first.sort(Comparator.comparing(r -> (Integer) r.getField(0)));
        again.sort(Comparator.comparing(r -> (Integer) r.getField(0)));
        assertEquals(5, first.size());
        for (Row r : first) {
            assertTrue(r.toString(), Arrays.asList("good", "bad").contains((String) r.getField(1)));
            int stars = (Integer) r.getField(2);
            assertTrue(r.toString(), stars >= 1 && stars <= 5);
        }
        assertEquals("sampling is seeded: a replay gives the same rows", first.toString(), again.toString());

        env.executeSql(createModel("by_schema", "message STRING", "label STRING, n INT",
                "'schema' = '{\"type\": \"object\", \"properties\": {\"label\": {\"enum\": [\"a\", \"b\"]}, \"n\": {\"type\": \"integer\", "
                        + "\"minimum\": 1, \"maximum\": 2}}, \"required\": [\"label\", \"n\"]}', 'system-prompt' = 'Label it.'"));
        for (Row r : predict(env, "by_schema", "label, n", null)) {
            if ((Integer) r.getField(0) != 3) {
                assertTrue(r.toString(), Arrays.asList("a", "b").contains((String) r.getField(1)) && (Integer) r.getField(2) >= 1 && (Integer) r.getField(2) <= 2);
            }
        }
    }

    /**
     * The moderation template's instruction follows the comment; the provider hands it to the
     * engine as the task's template, so a 50 KB comment is cut inside the comment and the row
     * is still answered (the engine's test a_long_input_is_cut_inside_the_template_... shows the
     * prompt it reads).
     */
    @Test
    public void aLongCommentIsAnsweredWithItsInstruction() throws Exception {
        StringBuilder comment = new StringBuilder();
        while (comment.length() < 50_000) {
            comment.append("the intro drags on and the audio is muddy ");
        }
        Path long_ = TestSupport.write(dir.resolve("long.jsonl"), "{\"id\": 1, \"message\": \"" + comment + "\"}\n");
        TableEnvironment env = TestSupport.messagesEnv(1, new Configuration(), long_);
        env.executeSql(createModel("moderation", "message STRING", "verdict STRING",
                "'input-template' = 'Comment: {message}\n\nCriticism of the video, however harsh, is safe. Is a person attacked?', "
                        + "'output.verdict.enum' = 'safe, unsafe', 'max-context-size' = '64'"));
        List<Row> rows = predict(env, "moderation", "verdict", null);
        assertEquals(1, rows.size());
        assertTrue(rows.toString(), Arrays.asList("safe", "unsafe").contains(rows.get(0).getField(1)));
    }

    @Test
    public void metricsUnderTheFlinkllmGroup() throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        TableEnvironment env = TestSupport.messagesEnv(1, conf, input);
        env.executeSql(createModel("classify", "message STRING", CLASSIFY_COLUMNS, CLASSIFY_OPTIONS));
        assertEquals(5, predict(env, "classify", "label", "MAP['async', 'false']").size());
        assertEquals("every input is a row", 5, CollectingReporter.counter("rows"));
        assertEquals(1, CollectingReporter.counter("nullInputs"));
        assertEquals(0, CollectingReporter.counter("errors"));
        assertEquals("one latency per model call", 4, CollectingReporter.histogram("latencyMs").getCount());
        assertTrue(CollectingReporter.counter("generatedTokens") >= 8);
        assertTrue((Long) CollectingReporter.gauge("nativeMemoryBytes") > 16_000_000L);
    }

    /** Each mistake fails at planning, naming what is wrong. */
    @Test
    public void planningErrorsNameTheColumnOrOption() throws Exception {
        Path task = TestSupport.write(dir.resolve("other.task.json"), TinyModelSqlTest.taskJson(model, 160));
        Path badExamples = TestSupport.write(dir.resolve("bad.jsonl"), "{\"input\": \"x\", \"output\": {\"label\": \"neither\"}}\n");
        String[][] cases = {
            {"label STRING", "'modle' = 'x'", "modle"},
            {"m MAP<STRING, STRING>", "", "OUTPUT column 'm' has type MAP<STRING, STRING>, which has no JSON counterpart"},
            {"b BYTES", "", "OUTPUT column 'b' has type BYTES"},
            {"n INT", "'output.n.enum' = 'a,b'", "option 'output.n.enum': applies to string columns, and n is INT"},
            {"n TINYINT", "'output.n.maximum' = '300'", "option 'output.n.maximum': 300 is outside the range of TINYINT"},
            {"n INT", "'output.n.minimum' = '5', 'output.n.maximum' = '2'", "OUTPUT column 'n': minimum 5 is above maximum 2"},
            {"n INT", "'output.n.minimum' = '1.5'", "is not a whole number"},
            {"x DECIMAL(3, 1)", "'output.x.maximum' = '100'", "100 does not fit DECIMAL(3, 1)"},
            {"s VARCHAR(3)", "'output.s.enum' = 'long,b'", "'long' is longer than VARCHAR(3) allows"},
            {"s STRING", "'output.s.format' = 'ipv4'", "'ipv4' is not one of"},
            {"s STRING", "'output.s.colour' = 'red'", "expected output.<column>.<keyword>"},
            {"s STRING", "'output.t.enum' = 'a'", "there is no OUTPUT column or ROW field 't'"},
            {"r ROW<a STRING>", "'output.r.a.minimum' = '1'", "option 'output.r.a.minimum': applies to numeric columns"},
            {"s ARRAY<STRING>", "'output.s.min-items' = '3', 'output.s.max-items' = '1'", "minItems 3 is above maxItems 1"},
            {"label STRING", "'error-handling-strategy' = 'explode'", "Invalid value for option 'error-handling-strategy'"},
            {"label STRING", "'batch-size' = '0'", "batch-size must be a whole number >= 1"},
            {"label STRING", "'task' = 'summarization'", "task \"summarization\": use \"text_generation\""},
            {"label STRING", "'max-string-length' = '0'", "'max-string-length' must be at least 1"},
            {"label STRING", "'top-p' = 'most'", "'top-p' must be a number, got 'most'"},
            {"label STRING", "'system-prompt' = 'a', 'system-prompt-file' = '/tmp/x'", "give 'system-prompt' or 'system-prompt-file', not both"},
            {"label STRING", "'output.label.enum' = 'spam,ham', 'examples-file' = " + TestSupport.sqlString(badExamples.toString()),
                "example 1 does not match the schema"},
            {"label STRING", "'schema' = '{not json'", "'schema' is not JSON"},
            {"label STRING, e INT", "'error-string-column' = 'e'", "'error-string-column' column 'e' must be a nullable STRING, not INT"},
            {"label STRING", "'error-string-column' = 'e'", "'error-string-column' names 'e', which is not an OUTPUT column"},
            // Schemas whose constraint would hang or exhaust a task manager fail here, at submit.
            {"v STRING", "'output.v.pattern' = '^.{0,20000}$'", "#/properties/v/pattern: the pattern needs more than 20000 automaton states"},
            {"v STRING", "'output.v.pattern' = '^(a|b)*a(a|b){20}$'", "#/properties/v/pattern: the pattern needs more than 32 MiB to compile"},
            {"v VARCHAR(100)", "'output.v.pattern' = '^[0-9a-f]{1000}$'",
                "#/properties/v/pattern: no string can match: the pattern's shortest match has 1000 characters, more than maxLength 100"},
        };
        for (String[] c : cases) {
            assertPlanningError(createModel("m", "message STRING", c[0], c[1]), "message", c[2]);
        }
        assertPlanningError("CREATE TEMPORARY MODEL m INPUT (message STRING) OUTPUT (label STRING) WITH ('provider' = 'flinkllm')", "message",
                "give 'model' (a model name or directory) or 'task-file'");
        assertPlanningError(createModel("m", "message STRING, extra STRING", "label VARCHAR(4)", ""), "message, extra",
                "INPUT has 2 columns [message, extra]: give 'input-template'");
        assertPlanningError(createModel("m", "message STRING", "label VARCHAR(4)", "'input-template' = 'Text: {msg}'"), "message",
                "'input-template' names {msg}, which is not an INPUT column");
        assertPlanningError(createModel("m", "tags ARRAY<STRING>", "label VARCHAR(4)", ""), "tags", "INPUT column 'tags' has type ARRAY<STRING>");
        String fromFile = "CREATE TEMPORARY MODEL m INPUT (message STRING) OUTPUT (%s) WITH ('provider' = 'flinkllm', 'task-file' = "
                + TestSupport.sqlString(task.toString()) + "%s)";
        String agreeing = "label STRING, score BIGINT, flag BOOLEAN, tags ARRAY<STRING>, detail ROW<ratio DOUBLE>, note STRING";
        assertPlanningError(String.format(fromFile, "label STRING, score BIGINT", ""), "message", "the task's answer has fields [label, score, flag");
        assertPlanningError(String.format(fromFile, agreeing.replace("flag BOOLEAN", "flag INT"), ""), "message",
                "OUTPUT column 'flag' is INT but the task's schema gives BOOLEAN");
        assertPlanningError(String.format(fromFile, agreeing.replace("note STRING", "note STRING NOT NULL"), ""), "message",
                "the answer may leave it out, the column is NOT NULL");
        assertPlanningError(String.format(fromFile, agreeing, ", 'temperature' = '0.5'"), "message", "give 'temperature' in the task file");
        assertPlanningError(String.format(fromFile, agreeing, ", 'output.label.enum' = 'a'"), "message", "remove the output.* options");
        assertPlanningError(createModel("m", "message STRING", "label STRING", "'model' = '/nonexistent/model'"), "message", "/nonexistent/model");
    }

    static void assertPlanningError(String create, String descriptor, String expected) {
        TableEnvironment env = env();
        env.executeSql("CREATE TEMPORARY VIEW two AS SELECT id, message, message AS extra, ARRAY[message] AS tags FROM messages");
        try {
            env.executeSql(create);
            env.sqlQuery("SELECT * FROM ML_PREDICT(TABLE two, MODEL m, DESCRIPTOR(" + descriptor + "))").explain();
            fail("expected a planning error containing: " + expected + " for " + create);
        } catch (Exception e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue("expected '" + expected + "' in:\n" + all, all.contains(expected));
        }
    }
}
