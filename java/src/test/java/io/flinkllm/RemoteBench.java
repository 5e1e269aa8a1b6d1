package io.flinkllm;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;

/**
 * The support-ticket job as users write it today — Flink's own {@code openai} model provider
 * against a local OpenAI-compatible server, the answer parsed with {@code JSON_VALUE} — and the
 * same job with the {@code flinkllm} provider (async {@code ML_PREDICT} with the same rows in
 * flight) and with the {@code LlmFunction} and {@code AsyncLlmFunction} UDFs, each on an embedded
 * MiniCluster, parallelism 1. Run by {@code bench/remote} (which starts the
 * server and times its requests) through {@code gradle benchRemote}.
 *
 * <pre>
 * RemoteBench --input IN.jsonl --out DIR --endpoint URL --remote-model NAME --model DIR
 *             --system-prompt-file F --task-file T [--rows 40] [--concurrency 16] [--threads 2]
 *             [--runs remote,flinkllm,udf,async-udf]
 * </pre>
 *
 * Each run's rows go to {@code <out>/<run>.jsonl} (event_id and the four fields, plus the raw
 * response on the remote path; the UDF runs write FlinkBench's rows); one JSON line of figures
 * per run goes to stdout.
 */
public final class RemoteBench {
    private RemoteBench() {}

    static final String ENUMS = "'output.category.enum' = 'auth, billing, product-bug, feature-request, other', "
            + "'output.severity.enum' = 'P1, P2, P3', 'output.sentiment.enum' = 'positive, neutral, frustrated'";

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("rows", "40");
        args.put("concurrency", "16");
        args.put("threads", "2");
        args.put("runs", "remote,flinkllm,udf,async-udf");
        for (int i = 0; i + 1 < argv.length; i += 2) {
            args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        Path out = Files.createDirectories(Paths.get(args.get("out")).toAbsolutePath());
        for (String run : args.get("runs").split(",")) {
            System.out.println(run(run.trim(), args, out));
        }
        // The MiniCluster leaves non-daemon threads behind.
        System.exit(0);
    }

    private static String run(String run, Map<String, String> args, Path out) throws Exception {
        switch (run) {
            case "remote":
                return remote(args, out);
            case "flinkllm":
                return flinkllm(args, out);
            case "udf":
            case "async-udf":
                return udf(run, args, out);
            default:
                throw new IllegalArgumentException("unknown run '" + run + "': remote, flinkllm, udf or async-udf");
        }
    }

    private static TableEnvironment env(Map<String, String> args, Configuration conf) {
        TableEnvironment env = TestSupport.tableEnv(1, conf);
        TestSupport.jsonSource(env, "tickets", "event_id STRING, message STRING", Paths.get(args.get("input")));
        return env;
    }

    private static String predict(String model, Map<String, String> args) {
        return "FROM ML_PREDICT(TABLE tickets, MODEL " + model + ", DESCRIPTOR(message), MAP['async', 'true', "
                + "'max-concurrent-operations', '" + args.get("concurrency") + "', 'timeout', '30 min'])";
    }

    private static String remote(Map<String, String> args, Path out) throws Exception {
        TableEnvironment env = env(args, new Configuration());
        String prompt = new String(Files.readAllBytes(Paths.get(args.get("system-prompt-file"))), StandardCharsets.UTF_8);
        env.executeSql("CREATE TEMPORARY MODEL remote INPUT (message STRING) OUTPUT (response STRING) WITH ('provider' = 'openai', "
                + "'endpoint' = " + TestSupport.sqlString(args.get("endpoint")) + ", 'api-key' = 'local', 'model' = "
                + TestSupport.sqlString(args.get("remote-model")) + ", 'system-prompt' = " + TestSupport.sqlString(prompt)
                + ", 'temperature' = '0', 'response-format' = 'json_object', 'max-tokens' = '256', 'error-handling-strategy' = 'ignore')");
        long started = System.nanoTime();
        List<Row> rows = TestSupport.collect(env, "SELECT event_id, JSON_VALUE(response, '$.category'), JSON_VALUE(response, '$.severity'), "
                + "JSON_VALUE(response, '$.sentiment'), JSON_VALUE(response, '$.explanation'), response " + predict("remote", args));
        double jobSeconds = (System.nanoTime() - started) / 1e9;
        Path file = writeRows(rows, out.resolve("remote.jsonl"));
        return String.format(Locale.ROOT, "{\"run\": \"remote\", \"rows_out\": %d, \"job_s\": %.2f, \"rows_file\": %s}",
                rows.size(), jobSeconds, FlinkBench.json(file.toString()));
    }

    private static String flinkllm(Map<String, String> args, Path out) throws Exception {
        CollectingReporter.clear();
        Configuration conf = new Configuration();
        CollectingReporter.install(conf);
        TableEnvironment env = env(args, conf);
        env.executeSql("CREATE TEMPORARY MODEL triage INPUT (message STRING) OUTPUT (category STRING, severity STRING, sentiment STRING, "
                + "explanation VARCHAR(200)) WITH ('provider' = 'flinkllm', 'model' = " + TestSupport.sqlString(args.get("model"))
                + ", 'system-prompt-file' = " + TestSupport.sqlString(Paths.get(args.get("system-prompt-file")).toAbsolutePath().toString())
                + ", 'threads' = '" + args.get("threads") + "', " + ENUMS + ")");
        long started = System.nanoTime();
        List<Row> rows;
        RowWindow window = new RowWindow(Integer.parseInt(args.get("rows")));
        try {
            rows = TestSupport.collect(env, "SELECT event_id, category, severity, sentiment, explanation " + predict("triage", args));
        } finally {
            window.close();
        }
        double jobSeconds = (System.nanoTime() - started) / 1e9;
        Path file = writeRows(rows, out.resolve("flinkllm.jsonl"));
        HistogramStatistics latency = CollectingReporter.histogram("latencyMs").getStatistics();
        return String.format(Locale.ROOT, "{\"run\": \"flinkllm\", \"rows_out\": %d, \"rows_per_s\": %.3f, \"p50_ms\": %.1f, \"p99_ms\": %.1f, "
                        + "\"peak_rss_mb\": %.1f, \"job_s\": %.2f, \"rows_file\": %s}",
                rows.size(), rows.size() / window.seconds(), latency.getQuantile(0.5), latency.getQuantile(0.99),
                window.peakRssBytes() / 1048576.0, jobSeconds, FlinkBench.json(file.toString()));
    }

    /**
     * The same job through {@code LlmFunction} ({@code udf}) or {@code AsyncLlmFunction}
     * ({@code async-udf}, the same rows in flight) with their default options, on a task file
     * holding the same system prompt and schema ({@code --task-file}, written by bench/remote).
     */
    private static String udf(String run, Map<String, String> args, Path out) throws Exception {
        Path task = Paths.get(args.get("task-file")).toAbsolutePath();
        String figures = FlinkBench.run(run.equals("async-udf"), task, Paths.get(args.get("input")), "error-handling-strategy=ignore; error-column=true",
                Integer.parseInt(args.get("rows")), Integer.parseInt(args.get("concurrency")), out.resolve(run + ".jsonl"));
        return "{\"run\": " + FlinkBench.json(run) + ", " + figures.substring(1);
    }

    private static Path writeRows(List<Row> rows, Path file) throws IOException {
        String[] names = {"event_id", "category", "severity", "sentiment", "explanation", "response"};
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Row row : rows) {
                StringBuilder line = new StringBuilder("{");
                for (int i = 0; i < row.getArity(); i++) {
                    line.append(i > 0 ? ", " : "").append(FlinkBench.json(names[i])).append(": ").append(FlinkBench.json(row.getField(i)));
                }
                w.write(line.append("}\n").toString());
            }
        }
        return file;
    }
}
