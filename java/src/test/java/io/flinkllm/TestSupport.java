package io.flinkllm;

import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;

/** Paths, models and a local-mode TableEnvironment (embedded MiniCluster) for the tests. */
public final class TestSupport {
    private TestSupport() {}

    public static Path repoRoot() {
        return Paths.get(System.getProperty("flinkllm.repo.dir", ".")).toAbsolutePath().normalize();
    }

    /** ../shared next to the repository (datasets, seed prompts). */
    public static Path sharedDir() {
        return Paths.get(System.getProperty("flinkllm.shared.dir", repoRoot().resolve("../shared").toString())).toAbsolutePath().normalize();
    }

    public static Path modelsDir() {
        String dir = System.getenv("FLINKLLM_MODELS_DIR");
        return dir != null ? Paths.get(dir) : Paths.get(System.getProperty("user.home"), ".cache", "flinkllm", "models");
    }

    /** A prepared model directory, or a failure that says how to make it (never a skip). */
    public static Path model(String name) {
        Path dir = modelsDir().resolve(name);
        if (!Files.isRegularFile(dir.resolve("flinkllm.json"))) {
            String how = name.equals("tiny") ? "tools/prepare-model tiny"
                    : name.startsWith("all-minilm") ? "tools/prepare-model minilm" : "tools/prepare-model default";
            fail("model directory " + dir + " is missing: run `" + how + "` first");
        }
        return dir;
    }

    public static Path requireFile(Path file, String how) {
        if (!Files.isRegularFile(file)) {
            fail(file + " is missing: " + how);
        }
        return file;
    }

    public static Path write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, text.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    public static TableEnvironment tableEnv(int parallelism) {
        return tableEnv(parallelism, new Configuration());
    }

    /** A local-mode environment whose MiniCluster also gets {@code conf} (e.g. a metrics reporter). */
    public static TableEnvironment tableEnv(int parallelism, Configuration conf) {
        conf.setString("parallelism.default", String.valueOf(parallelism));
        return TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
    }

    /**
     * A local-mode environment with {@code llm} ({@link LlmFunction}), {@code llm_async}
     * ({@link AsyncLlmFunction}) and a table {@code messages (id INT, message STRING)} over {@code input}.
     */
    public static TableEnvironment messagesEnv(int parallelism, Configuration conf, Path input) {
        TableEnvironment env = tableEnv(parallelism, conf);
        env.executeSql("CREATE FUNCTION llm AS '" + LlmFunction.class.getName() + "'");
        env.executeSql("CREATE FUNCTION llm_async AS '" + AsyncLlmFunction.class.getName() + "'");
        jsonSource(env, "messages", "id INT, message STRING", input);
        return env;
    }

    public static List<Row> collect(TableEnvironment env, String query) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = env.executeSql(query).collect()) {
            it.forEachRemaining(rows::add);
        }
        return rows;
    }

    /** A filesystem JSON table over a JSON-lines file. */
    public static void jsonSource(TableEnvironment env, String name, String columns, Path file) {
        env.executeSql("CREATE TEMPORARY TABLE " + name + " (" + columns + ") WITH ('connector' = 'filesystem', 'path' = '"
                + file.toAbsolutePath() + "', 'format' = 'json')");
    }

    /** Whether {@code e} or one of its causes is an {@link LlmException} of this engine error kind. */
    public static boolean hasKind(Throwable e, String kind) {
        return ExceptionUtils.findThrowable(e, t -> t instanceof LlmException && kind.equals(((LlmException) t).kind())).isPresent();
    }

    /** {@code s} as a JSON string literal. */
    public static String jsonString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    public static String sqlString(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
