package io.flinkllm.engine;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;

import io.flinkllm.TestSupport;
import io.flinkllm.TinyModelSqlTest;
import io.flinkllm.config.LlmOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.Test;

/**
 * The sharing rule, the same in Java and in the engine: calls of one task file share an open
 * task when their engine options (max-tokens, context overflow, batch-size) are equal; calls
 * that differ only in batch-size get a task of their own, with the batch size they asked for,
 * over the one model (the engine side: {@code rust/engine/tests/shared.rs}).
 */
public class SharedTasksTest {
    @Test
    public void callsDifferingOnlyInBatchSizeGetTasksOfTheirOwn() throws Exception {
        Path dir = Files.createTempDirectory("shared-tasks");
        TaskSource task = TaskSource.file(TestSupport.write(dir.resolve("tiny.task.json"), TinyModelSqlTest.taskJson(TestSupport.model("tiny"), 16)).toString());
        NativeLibrary.load();
        LlmOptions one = LlmOptions.resolve("batch-size=1", null);
        LlmOptions four = LlmOptions.resolve("batch-size=4", null);
        LlmOptions fourIgnoring = LlmOptions.resolve("batch-size=4; error-handling-strategy=ignore", null);
        long loadsBefore = Engine.modelLoads();
        long h1 = SharedTasks.acquire(task, one);
        long h4 = SharedTasks.acquire(task, four);
        long h4b = SharedTasks.acquire(task, fourIgnoring);
        try {
            assertNotEquals("batch-size is part of the key", h1, h4);
            assertEquals("row policies are not", h4, h4b);
            assertEquals(1, SharedTasks.users(task, one));
            assertEquals(2, SharedTasks.users(task, four));
            assertEquals(2, SharedTasks.openTasks());
            assertEquals("one model for every task", 1, Engine.modelLoads() - loadsBefore);
        } finally {
            SharedTasks.release(task, one);
            SharedTasks.release(task, four);
            SharedTasks.release(task, fourIgnoring);
        }
        assertEquals(0, SharedTasks.openTasks());
    }
}
