package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.flinkllm.config.LlmOptions;
import io.flinkllm.engine.AllowedPaths;
import io.flinkllm.engine.NativeLibrary;
import io.flinkllm.engine.SharedTasks;
import io.flinkllm.engine.TaskSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * With the operator's {@code flinkllm.allowed-paths}, every file a job makes flinkllm read —
 * the task file, the files it names, the model — must lie inside an allowed directory, after
 * resolving {@code ..} and symlinks; anything else is refused at planning, naming the setting.
 * A job's {@code SET} cannot widen it. Unset, nothing changes.
 */
public class AllowedPathsSqlTest {
    Path allowed;
    Path outside;

    @Before
    public void writeTasks() throws Exception {
        TinyModelSqlTest.writeTasksAndInput();
        Path root = Files.createTempDirectory("allowed-paths");
        allowed = Files.createDirectories(root.resolve("allowed"));
        outside = Files.createDirectories(root.resolve("outside"));
        String task = TinyModelSqlTest.taskJson(TestSupport.model("tiny"), 160);
        TestSupport.write(allowed.resolve("ok.task.json"), task);
        TestSupport.write(outside.resolve("elsewhere.task.json"), task);
        TestSupport.write(outside.resolve("secret.txt"), "not for the prompt");
        // Inside the allowed folder, naming a file outside it (the motivating case: /etc/hostname).
        TestSupport.write(allowed.resolve("reads-outside.task.json"), "{\"model\": " + TinyModelSqlTest.quote(TestSupport.model("tiny").toString())
                + ", \"system_prompt_file\": " + TinyModelSqlTest.quote(outside.resolve("secret.txt").toString()) + ", \"schema\": " + TinyModelSqlTest.SCHEMA
                + ", \"max_new_tokens\": 160}");
        Files.createSymbolicLink(allowed.resolve("link.task.json"), outside.resolve("elsewhere.task.json"));
        // The model directory must be allowed too.
        System.setProperty(AllowedPaths.PROPERTY, allowed + ":" + TestSupport.model("tiny"));
    }

    @After
    public void clearSetting() {
        System.clearProperty(AllowedPaths.PROPERTY);
    }

    private static List<Row> run(Path task, String... settings) throws Exception {
        TableEnvironment env = TinyModelSqlTest.envWithInput(1);
        for (int i = 0; i < settings.length; i += 2) {
            env.getConfig().set(settings[i], settings[i + 1]);
        }
        return TestSupport.collect(env, "SELECT id, llm(" + TestSupport.sqlString(task.toString()) + ", message) FROM messages");
    }

    private static void refused(Path task, String... settings) throws Exception {
        try {
            run(task, settings);
            fail("planning accepted " + task);
        } catch (ValidationException e) {
            String all = ExceptionUtils.stringifyException(e);
            assertTrue(all, all.contains("flinkllm.allowed-paths"));
            assertTrue("the refusal never quotes the file", !all.contains("not for the prompt"));
        }
    }

    @Test
    public void aTaskInsideAnAllowedDirectoryRuns() throws Exception {
        assertEquals(4, run(allowed.resolve("ok.task.json")).size());
    }

    @Test
    public void absolutePathsEscapesAndSymlinksOutsideAreRefusedAtPlanning() throws Exception {
        refused(outside.resolve("elsewhere.task.json"));
        refused(allowed.resolve("../outside/elsewhere.task.json"));
        refused(allowed.resolve("link.task.json"));
        refused(allowed.resolve("reads-outside.task.json"));
    }

    @Test
    public void theTaskManagerEnforcesItWhenATaskOpens() {
        // A plan made elsewhere (or before the setting) still cannot open the task here.
        NativeLibrary.load();
        try {
            SharedTasks.acquire(TaskSource.file(outside.resolve("elsewhere.task.json").toString()), LlmOptions.defaults());
            fail("opened a task outside the allowed directories");
        } catch (LlmException e) {
            assertEquals("InvalidTask", e.kind());
            assertTrue(e.getMessage(), e.getMessage().contains("flinkllm.allowed-paths"));
        }
        assertEquals(0, SharedTasks.openTasks());
    }

    @Test
    public void aSetInTheJobCannotWidenIt() throws Exception {
        refused(outside.resolve("elsewhere.task.json"), "flinkllm.allowed-paths", "/", "flinkllm.allowed_paths", "/");
    }

    @Test
    public void unsetEverythingReadableWorksAsBefore() throws Exception {
        System.clearProperty(AllowedPaths.PROPERTY);
        assertEquals(4, run(outside.resolve("elsewhere.task.json")).size());
        assertEquals(4, run(allowed.resolve("reads-outside.task.json")).size());
    }
}
