package io.flinkllm.engine;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import io.flinkllm.TestSupport;
import io.flinkllm.TinyModelSqlTest;
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
import java.util.stream.Collectors;
import org.junit.Test;

/**
 * A child JVM with {@code -Xcheck:jni} loads the library through 5 fresh isolated class
 * loaders (Flink redeploying a {@code USING JAR} job), forces a panic inside the native code
 * in each, and exits cleanly. Checked: no UnsatisfiedLinkError, each loader its own
 * libflinkllm file but one ONNX Runtime file mapped in the whole process, each panic a
 * a kind {@code Panic} {@link io.flinkllm.LlmException}, no model left loaded, the native threads back to the count
 * before the first load after every {@code close()}, RSS growth over redeploys 2..5 bounded,
 * no JNI warning, exit code 0. Figures are printed.
 */
public class ChildJvmTest {
    private static final String PANIC_INPUT = "please panic now";
    private static final Pattern LINE = Pattern.compile("loader (\\d): library=(\\S+) onnxruntime=(\\S+) panic=(.*) liveModelsAfterClose=(\\d+) threadsOpen=(\\d+) "
            + "threadsAfterClose1=(\\d+) rssAfterClose1MiB=\\d+ threadsAfterClose2=(\\d+) rssAfterClose2MiB=\\d+ threadsBefore=(\\d+) rssBeforeMiB=\\d+ "
            + "rssAfterKiB=(\\d+) onnxRuntimeFilesMapped=(\\S*)");

    /**
     * RSS the child may grow by over loaders 2..5 (4 redeploys, each opening and closing the
     * task twice), measured after each loader's last close(), with glibc limited to 2 malloc
     * arenas (below). Measured on the 2-core CI machine: 24-33 MiB, i.e. 6-8 MiB per
     * redeploy, of which ~7 MiB is the loader's own libflinkllm copy (mapped code and data,
     * kept while its class loader lives) and ~1 MiB allocations that stay with it.
     * Before ONNX Runtime was shared, its telemetry thread avoided and free memory handed
     * back on close(), every redeploy mapped a new 18 MiB ONNX Runtime with its own globals
     * and one more thread: the same 4 redeploys grew RSS by 488 MiB. On the AMD EPYC (Zen 5)
     * CI machine the same code measured 32-60 MiB (4 runs of 889f78d: 59.6, 32.1, 37.6 MiB;
     * later ones 34-54 MiB), so 12 MiB per redeploy failed about one run in four with nothing
     * left behind. 20 MiB per redeploy (80 MiB) still fails a leak a sixth the size of that
     * 488 MiB one.
     *
     * <p>With glibc's default of 8 arenas per core the growth is 66-140 MiB (17-35 MiB per
     * redeploy, noisy): freed memory that glibc keeps at the top of the per-thread arenas
     * that ONNX Runtime's short-lived session threads used, which {@code malloc_trim} does not
     * return. That is the allocator's policy, not memory flinkllm holds, so the test pins the
     * arena count to measure the latter; the README tells operators the same setting.
     */
    static final long MAX_RSS_GROWTH_LOADERS_2_TO_5_KIB = 4 * 20 * 1024;

    @Test
    public void fiveIsolatedClassLoadersPanicsAndCleanExit() throws Exception {
        Path dir = Files.createTempDirectory("childjvm");
        Path task = TestSupport.write(dir.resolve("tiny.task.json"), TinyModelSqlTest.taskJson(TestSupport.model("tiny"), 160));
        Path log = dir.resolve("child.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xcheck:jni");
        // A fixed, pre-touched heap: RSS growth is then native memory, not the heap filling up.
        cmd.add("-Xms64m");
        cmd.add("-Xmx64m");
        cmd.add("-XX:+AlwaysPreTouch");
        cmd.add("-Dflinkllm.native.root=" + System.getProperty("flinkllm.native.root"));
        cmd.add("-Djava.io.tmpdir=" + dir);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ChildJvmMain.class.getName());
        cmd.add(task.toString());
        cmd.add(PANIC_INPUT);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("FLINKLLM_TEST_PANIC", PANIC_INPUT);
        // See MAX_RSS_GROWTH_LOADERS_2_TO_5_KIB.
        pb.environment().put("MALLOC_ARENA_MAX", "2");
        // The defaults a task manager has: bundled libraries, ONNX Runtime telemetry not configured.
        for (String variable : new String[] {"ORT_DYLIB_PATH", "FLINKLLM_LIBRARY_PATH", "FLINKLLM_NATIVE_DIR", "ORT_DISABLE_TELEMETRY"}) {
            pb.environment().remove(variable);
        }
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
        Set<String> onnxRuntimes = new HashSet<>();
        List<Long> rssAfterKiB = new ArrayList<>();
        int baselineThreads = -1;
        for (String line : out.split("\n")) {
            Matcher m = LINE.matcher(line.trim());
            if (!m.matches()) {
                continue;
            }
            libraries.add(m.group(2));
            onnxRuntimes.add(m.group(3));
            assertTrue(line, m.group(4).contains("panic in libflinkllm: forced by FLINKLLM_TEST_PANIC"));
            assertEquals("model memory released on close: " + line, "0", m.group(5));
            int open = Integer.parseInt(m.group(6));
            int afterFirstClose = Integer.parseInt(m.group(7));
            int afterSecondClose = Integer.parseInt(m.group(8));
            int before = Integer.parseInt(m.group(9));
            if (baselineThreads < 0) {
                baselineThreads = before;
            }
            assertTrue("the open task runs native threads: " + line, open > afterFirstClose);
            // No thread outlives close(): not the session's, not one of ONNX Runtime's own
            // (its telemetry dispatcher is not started), not one per loaded library copy.
            assertEquals("native threads after the first close() = before the first load: " + line, baselineThreads, afterFirstClose);
            assertEquals("native threads after the second close() = before the first load: " + line, baselineThreads, afterSecondClose);
            assertEquals("one ONNX Runtime file mapped in the process, the one this loader bound: " + line, m.group(3), m.group(11));
            rssAfterKiB.add(Long.parseLong(m.group(10)));
        }
        assertEquals(out, 5, rssAfterKiB.size());
        assertEquals("each class loader loads its own copy of libflinkllm", 5, libraries.size());
        assertEquals("every class loader binds the same ONNX Runtime file: " + onnxRuntimes, 1, onnxRuntimes.size());
        long growth = rssAfterKiB.get(4) - rssAfterKiB.get(0);
        System.out.printf("RSS after each loader's close() (MiB): %s; growth over loaders 2..5: %.1f MiB (bound %d MiB)%n",
                rssAfterKiB.stream().map(k -> String.format("%.1f", k / 1024.0)).collect(Collectors.joining(", ")), growth / 1024.0, MAX_RSS_GROWTH_LOADERS_2_TO_5_KIB / 1024);
        assertTrue("RSS grew by " + growth / 1024 + " MiB over loaders 2..5 (bound " + MAX_RSS_GROWTH_LOADERS_2_TO_5_KIB / 1024 + " MiB): " + rssAfterKiB,
                growth <= MAX_RSS_GROWTH_LOADERS_2_TO_5_KIB);
    }
}
