package io.flinkllm;

import io.flinkllm.call.RowTypes;
import io.flinkllm.config.LlmOptions;
import io.flinkllm.engine.SharedTasks;
import io.flinkllm.engine.TaskSource;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.types.DataType;
import org.apache.flink.types.Row;

/**
 * The support-ticket SQL on an embedded MiniCluster, parallelism 1, once per function:
 * {@code llm} (sync) and {@code llm_async} (async, N rows in flight), and {@code ml_predict}: the
 * same task written as a {@code CREATE MODEL} without a task file (its keys as {@code WITH}
 * options, its input template as {@code input-template}) through sync {@code ML_PREDICT}. Run by
 * {@code bench/flink} through {@code gradle benchFlink}.
 *
 * <p>The task is opened (model loaded, warmed up) before the jobs and held open between them, so
 * the figures are the rows' own: rows/s and generated tokens/s over the time from the first row
 * starting to the last finishing (sampled from the function's metrics every 2 ms), p50/p99 from
 * its {@code latencyMs} histogram (for async: from the task thread handing the row over to its
 * result), peak RSS of this JVM (MiniCluster and model included) while the job ran. Each run's
 * rows go to {@code <out>/<run>.jsonl} (event_id, output or error) for the caller to validate;
 * one JSON line of figures per run goes to stdout.
 *
 * <pre>
 * FlinkBench --task T --input IN.jsonl --out DIR [--rows 40] [--concurrency 16] [--runs sync,async]
 * </pre>
 */
public final class FlinkBench {
    private FlinkBench() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("rows", "40");
        args.put("concurrency", "16");
        args.put("runs", "sync,async");
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --option value pairs, got " + String.join(" ", argv));
            }
            args.put(argv[i].substring(2), argv[i + 1]);
        }
        Path task = Paths.get(required(args, "task")).toAbsolutePath().normalize();
        Path out = Paths.get(required(args, "out")).toAbsolutePath();
        int rows = Integer.parseInt(args.get("rows"));
        int concurrency = Integer.parseInt(args.get("concurrency"));
        Files.createDirectories(out);
        Path input = firstRows(Paths.get(required(args, "input")), rows, out.resolve("input.jsonl"));

        String options = "error-handling-strategy=ignore; error-column=true";
        LlmOptions held = LlmOptions.resolve(options, null);
        long opened = System.nanoTime();
        SharedTasks.acquire(TaskSource.file(task.toString()), held);
        System.err.printf("task open and warm in %d ms%n", (System.nanoTime() - opened) / 1_000_000);
        try {
            for (String run : args.get("runs").split(",")) {
                Path rowsFile = out.resolve(run.trim() + ".jsonl");
                System.out.println(run.trim().equals("ml_predict") ? runModel(task, input, rows, rowsFile)
                        : run(run.trim().equals("async"), task, input, options, rows, concurrency, rowsFile));
            }
        } finally {
            SharedTasks.release(TaskSource.file(task.toString()), held);
        }
        // The MiniCluster leaves non-daemon threads behind.
        System.exit(0);
    }

    private static String required(Map<String, String> args, String name) {
        String v = args.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }

    private static Path firstRows(Path input, int rows, Path to) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
            for (String line = r.readLine(); line != null && lines.size() < rows; line = r.readLine()) {
                if (!line.trim().isEmpty()) {
                    lines.add(line);
                }
            }
        }
        if (lines.size() < rows) {
            throw new IllegalArgumentException(input + " has only " + lines.size() + " rows, " + rows + " asked for");
        }
        return Files.write(to, lines, StandardCharsets.UTF_8);
    }

    static String run(boolean async, Path task, Path input, String options, int rows, int concurrency, Path rowsFile) throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        conf.setString("table.exec.async-scalar.max-concurrent-operations", String.valueOf(concurrency));
        conf.setString("table.exec.async-scalar.retry-strategy", "NO_RETRY");
        conf.setString("table.exec.async-scalar.timeout", "10 min");
        TableEnvironment env = TestSupport.tableEnv(1, conf);
        env.executeSql("CREATE FUNCTION llm AS '" + (async ? AsyncLlmFunction.class : LlmFunction.class).getName() + "'");
        TestSupport.jsonSource(env, "tickets", "event_id STRING, message STRING", input);

        long started = System.nanoTime();
        List<Row> result;
        RowWindow window = new RowWindow(rows);
        try {
            result = TestSupport.collect(env, "SELECT event_id, llm(" + TestSupport.sqlString(task.toString()) + ", message, "
                    + TestSupport.sqlString(options) + ") AS r FROM tickets");
        } finally {
            window.close();
        }
        double jobSeconds = (System.nanoTime() - started) / 1e9;
        double seconds = window.seconds();
        writeRows(result, rowsFile);
        return figures(async ? "async" : "sync", async ? AsyncLlmFunction.class.getSimpleName() : LlmFunction.class.getSimpleName(),
                rows, result.size(), seconds, jobSeconds, async ? concurrency : 1, window, rowsFile);
    }

    /**
     * The task file as a {@code CREATE MODEL} without one: every key as a {@code WITH} option in
     * kebab-case (files made absolute, the schema as JSON text), {@code {input}} of its template
     * naming the INPUT column, OUTPUT columns from the task's ROW type.
     */
    static String createModel(Path task) throws IOException {
        JsonNode doc = new ObjectMapper().readTree(task.toFile());
        Path dir = task.getParent();
        StringBuilder with = new StringBuilder("'provider' = 'flinkllm'");
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            String value = e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString();
            if (key.equals("name") || key.equals("description")) {
                continue;
            } else if (key.equals("schema_file")) {
                key = "schema";
                value = new String(Files.readAllBytes(dir.resolve(value)), StandardCharsets.UTF_8);
            } else if (key.endsWith("_file")) {
                value = dir.resolve(value).toString();
            } else if (key.equals("input_template")) {
                value = value.replace("{input}", "{message}");
            }
            with.append(", ").append(TestSupport.sqlString(key.replace('_', '-'))).append(" = ").append(TestSupport.sqlString(value));
        }
        DataType row = RowTypes.parse(TaskSource.file(task.toString()).plan("{}", null));
        List<String> columns = new ArrayList<>();
        for (DataTypes.Field f : DataType.getFields(row)) {
            columns.add("`" + f.getName() + "` " + f.getDataType().getLogicalType().asSerializableString());
        }
        return "CREATE TEMPORARY MODEL m INPUT (message STRING) OUTPUT (" + String.join(", ", columns) + ") WITH (" + with + ")";
    }

    /** The task through sync ML_PREDICT over {@link #createModel}, figures as {@link #run}'s. */
    static String runModel(Path task, Path input, int rows, Path rowsFile) throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        TableEnvironment env = TestSupport.tableEnv(1, conf);
        TestSupport.jsonSource(env, "tickets", "event_id STRING, message STRING", input);
        env.executeSql(createModel(task));
        // ML_PREDICT's columns: the input's (event_id, message), then the answer's.
        List<String> columns = env.sqlQuery("SELECT * FROM ML_PREDICT(TABLE tickets, MODEL m, DESCRIPTOR(message))").getResolvedSchema().getColumnNames();
        String answer = String.join(", ", columns.subList(2, columns.size()));
        long started = System.nanoTime();
        List<Row> result;
        RowWindow window = new RowWindow(rows);
        try {
            result = TestSupport.collect(env, "SELECT event_id, ROW(" + answer + ") FROM ML_PREDICT(TABLE tickets, MODEL m, DESCRIPTOR(message), "
                    + "MAP['async', 'false'])");
        } finally {
            window.close();
        }
        double jobSeconds = (System.nanoTime() - started) / 1e9;
        double seconds = window.seconds();
        try (Writer w = Files.newBufferedWriter(rowsFile, StandardCharsets.UTF_8)) {
            List<String> names = new ArrayList<>(Arrays.asList(answer.split(", ")));
            for (Row row : result) {
                Row r = (Row) row.getField(1);
                Row named = Row.withNames();
                for (int i = 0; i < names.size(); i++) {
                    named.setField(names.get(i), r.getField(i));
                }
                w.write("{\"event_id\": " + json(row.getField(0)) + ", \"output\": " + json(named) + "}\n");
            }
        }
        return figures("ml_predict", "ML_PREDICT", rows, result.size(), seconds, jobSeconds, 1, window, rowsFile);
    }

    /** One run's figures as a JSON line, from the function's metrics over the rows' window. */
    private static String figures(String run, String function, int rows, int rowsOut, double seconds, double jobSeconds, int maxConcurrent,
            RowWindow window, Path rowsFile) {
        HistogramStatistics latency = CollectingReporter.histogram("latencyMs").getStatistics();
        long generated = CollectingReporter.counter("generatedTokens");
        return String.format(Locale.ROOT,
                "{\"engine\": \"flink %s\", \"function\": \"%s\", \"rows\": %d, \"rows_out\": %d, \"errors\": %d, \"rows_per_s\": %.3f, "
                        + "\"gen_tokens_per_s\": %.1f, \"gen_tokens_per_row\": %.1f, \"p50_ms\": %.1f, \"p99_ms\": %.1f, "
                        + "\"peak_rss_mb\": %.1f, \"job_s\": %.2f, \"max_concurrent\": %d, \"rows_file\": %s}",
                run, function, rows, rowsOut, CollectingReporter.counter("errors"), rows / seconds, generated / seconds, (double) generated / rows,
                latency.getQuantile(0.5), latency.getQuantile(0.99), window.peakRssBytes() / 1048576.0, jobSeconds, maxConcurrent,
                json(rowsFile.toString()));
    }

    /** One line per row: {"event_id": ..., "output": {...}} or {"event_id": ..., "error": "..."}. */
    private static void writeRows(List<Row> rows, Path file) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Row row : rows) {
                Row r = (Row) row.getField(1);
                Object error = r == null ? "NULL result" : r.getField(RowTypes.ERROR_FIELD);
                if (r != null) {
                    r.setField(RowTypes.ERROR_FIELD, null);
                }
                w.write("{\"event_id\": " + json(row.getField(0)) + (error != null ? ", \"error\": " + json(error) : ", \"output\": " + json(r)) + "}\n");
            }
        }
    }

    /** Minimal JSON for what the function returns: Row (named fields; null ones left out), arrays, strings, numbers, booleans. */
    static String json(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Row) {
            Row row = (Row) v;
            Set<String> names = row.getFieldNames(true);
            StringBuilder sb = new StringBuilder("{");
            for (String name : names) {
                Object field = row.getField(name);
                if (field != null) {
                    sb.append(sb.length() > 1 ? ", " : "").append(json(name)).append(": ").append(json(field));
                }
            }
            return sb.append('}').toString();
        }
        if (v instanceof Object[]) {
            StringBuilder sb = new StringBuilder("[");
            for (Object item : (Object[]) v) {
                sb.append(sb.length() > 1 ? ", " : "").append(json(item));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char c : v.toString().toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }
}
