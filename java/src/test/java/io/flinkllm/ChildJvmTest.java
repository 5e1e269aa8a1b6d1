package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Test;

/**
 * A child JVM with {@code -Xcheck:jni} loads the library through 5 fresh isolated class
 * loaders (Flink redeploying a {@code USING JAR} job), forces a panic inside the native code
 * in each, and exits cleanly. Checked: no UnsatisfiedLinkError, each loader its own library
 * file, each panic a {@link NativePanicException}, no model left loaded and no session thread
 * left running after {@code close()} (a second open/close adds none; one thread stays per
 * library copy), no JNI warning, exit code 0. RSS figures are printed, not asserted.
 */
public class ChildJvmTest {
    private static final String PANIC_INPUT = "please panic now";
    private static final Pattern LINE = Pattern.compile("loader (\\d): library=(\\S+) panic=(.*) liveModelsAfterClose=(\\d+) threadsOpen=(\\d+) "
            + "threadsAfterClose1=(\\d+) rssAfterClose1MiB=\\d+ threadsAfterClose2=(\\d+) rssAfterClose2MiB=\\d+ threadsBefore=(\\d+) .*");

    @Test
    public void fiveIsolatedClassLoadersPanicsAndCleanExit() throws Exception {
        Path dir = Files.createTempDirectory("childjvm");
        Path task = TestSupport.write(dir.resolve("tiny.task.json"), TinyModelSqlTest.taskJson(TestSupport.model("tiny"), 160));
        Path log = dir.resolve("child.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xcheck:jni");
        cmd.add("-Dflinkllm.native.root=" + System.getProperty("flinkllm.native.root"));
        cmd.add("-Djava.io.tmpdir=" + dir);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ChildJvmMain.class.getName());
        cmd.add(task.toString());
        cmd.add(PANIC_INPUT);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("FLINKLLM_TEST_PANIC", PANIC_INPUT);
        Process child = pb.start();
        assertTrue("child JVM did not exit within 5 minutes", child.waitFor(5, TimeUnit.MINUTES));
        String out = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
        System.out.println(out);

        assertEquals("child JVM exit code\n" + out, 0, child.exitValue());
        assertTrue(out, out.contains("child JVM done"));
        for (String bad : new String[] {"UnsatisfiedLinkError", "WARNING in native method", "FATAL ERROR", "JNI call made with exception pending", "Exception in thread"}) {
            assertFalse("child output has '" + bad + "'", out.contains(bad));
        }
        Set<String> libraries = new HashSet<>();
        int loaders = 0;
        for (String line : out.split("\n")) {
            Matcher m = LINE.matcher(line.trim());
            if (!m.matches()) {
                continue;
            }
            loaders++;
            libraries.add(m.group(2));
            assertTrue(line, m.group(3).contains("panic in libflinkllm: forced by FLINKLLM_TEST_PANIC"));
            assertEquals("model memory released on close: " + line, "0", m.group(4));
            int open = Integer.parseInt(m.group(5));
            int afterFirstClose = Integer.parseInt(m.group(6));
            int afterSecondClose = Integer.parseInt(m.group(7));
            int before = Integer.parseInt(m.group(8));
            assertTrue("the open task runs native threads: " + line, open > afterFirstClose);
            assertEquals("a second open/close leaves no thread behind: " + line, afterFirstClose, afterSecondClose);
            // ONNX Runtime keeps one thread per loaded copy of the library, for the process lifetime.
            assertTrue("at most one thread stays per library copy: " + line, afterFirstClose <= before + 1);
        }
        assertEquals(out, 5, loaders);
        assertEquals("each class loader loads its own copy of the library", 5, libraries.size());
    }
}
