package io.flinkllm.engine;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.flinkllm.LlmException;
import io.flinkllm.TestSupport;
import io.flinkllm.TinyModelSqlTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.BeforeClass;
import org.junit.Test;

/** The JNI boundary itself: strings in, typed values out, checked handles, typed errors. */
public class EngineBoundaryTest {
    static String task;

    @BeforeClass
    public static void openTinyTask() throws Exception {
        Path dir = Files.createTempDirectory("boundary");
        task = TestSupport.write(dir.resolve("tiny.task.json"), TinyModelSqlTest.taskJson(TestSupport.model("tiny"), 160)).toString();
        NativeLibrary.load();
    }

    @Test
    public void outputTypeComesFromTheSchema() {
        assertEquals(TinyModelSqlTest.ROW_TYPE, Engine.plan(task, null, null, "{}", null));
    }

    @Test
    public void valuesArriveTyped() {
        Object[] row = generateOnce("hello");
        assertEquals(6, row.length);
        assertTrue(row[0] instanceof String);
        assertTrue(row[1] instanceof Long);
        assertTrue(row[2] instanceof Boolean);
        assertTrue(row[3] instanceof Object[]);
        assertTrue(((Object[]) row[4])[0] instanceof Double);
    }

    @Test
    public void nulCharactersArriveIntact() {
        assertNotNull(generateOnce("a\u0000b\u0001c"));
    }

    @Test
    public void loneSurrogatesAreRepairedNotRejected() {
        long handle = Engine.open(task, null, null, "{}", null);
        try {
            for (String input : new String[] {"broken \uD83D text", "\uDE00 at the start", "at the end \uD83D", "\uD83D\uD83D\uDE00"}) {
                long[] stats = new long[Engine.STATS];
                assertNotNull(input, Engine.generate(handle, input, 0, stats));
                assertEquals("repaired: " + input, 1, stats[Engine.STAT_REPAIRED_INPUT]);
            }
            long[] stats = new long[Engine.STATS];
            Engine.generate(handle, "a pair \uD83D\uDE00 is fine", 0, stats);
            assertEquals(0, stats[Engine.STAT_REPAIRED_INPUT]);
        } finally {
            Engine.close(handle);
        }
    }

    @Test
    public void aRepairedInputRunsAsItsReplacementText() {
        // U+FFFD is what the engine sees, so the row's answer is that of the repaired text.
        assertEquals(Arrays.deepToString(generateOnce("x \uFFFD y")), Arrays.deepToString(generateOnce("x \uD800 y")));
    }

    private static Object[] generateOnce(String input) {
        long handle = Engine.open(task, null, null, "{}", null);
        try {
            return Engine.generate(handle, input, 0, null);
        } finally {
            Engine.close(handle);
        }
    }

    @Test
    public void panicInsideTheEngineIsAJavaException() {
        long handle = Engine.open(task, null, null, "{}", null);
        try {
            Engine.generate(handle, "flinkllm: panic on this input", 0, null);
            fail("the hook is armed by build.gradle (FLINKLLM_TEST_PANIC)");
        } catch (LlmException e) {
            assertEquals("Panic", e.kind());
            assertTrue(e.getMessage(), e.getMessage().contains("forced by FLINKLLM_TEST_PANIC"));
        } finally {
            Engine.close(handle);
        }
        assertNotNull("the JVM and the engine keep running", generateOnce("after the panic"));
    }

    @Test
    public void closedAndUnknownHandlesAreExceptions() {
        long handle = Engine.open(task, null, null, "{}", null);
        Engine.close(handle);
        expectInvalidHandle(() -> Engine.generate(handle, "x", 0, null));
        expectInvalidHandle(() -> Engine.close(handle));
        expectInvalidHandle(() -> Engine.generate(987654321L, "x", 0, null));
    }

    @Test
    public void errorKindsMapToExceptionClasses() {
        try {
            Engine.open("/nonexistent/task.json", null, null, "{}", null);
            fail();
        } catch (LlmException e) {
            assertEquals("InvalidTask", e.kind());
            assertTrue(e.getMessage(), e.getMessage().contains("/nonexistent/task.json"));
        }
    }

    private static void expectInvalidHandle(Runnable call) {
        try {
            call.run();
            fail("stale handle accepted");
        } catch (LlmException expected) {
            // the JVM is fine and says why
            assertEquals("InvalidHandle", expected.kind());
        }
    }
}
