package io.flinkllm.engine;

import io.flinkllm.metrics.LlmMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Set;
import java.util.TreeSet;

/**
 * The child JVM of {@link ChildJvmTest} (run with {@code -Xcheck:jni}): five fresh isolated
 * class loaders, each loading its own copy of libflinkllm and running {@link NativeProbe},
 * as five redeploys of a {@code USING JAR} job would. Prints one line per loader with the
 * native threads and RSS before and after, and which ONNX Runtime files the process has
 * mapped, then returns normally: the JVM must exit 0.
 *
 * <p>Usage: {@code ChildJvmMain <task file> <panic input>}
 */
public final class ChildJvmMain {
    private ChildJvmMain() {}

    public static void main(String[] args) throws Exception {
        for (int i = 1; i <= 5; i++) {
            int threadsBefore = nativeThreads();
            long rssBefore = LlmMetrics.processRssBytes();
            ClassLoader loader = IsolatedLoaders.create(true, true);
            Object report = loader.loadClass(NativeProbe.class.getName()).getMethod("run", String.class, String.class).invoke(null, args[0], args[1]);
            System.out.printf("loader %d: %s threadsBefore=%d rssBeforeMiB=%d rssAfterKiB=%d onnxRuntimeFilesMapped=%s%n", i, report, threadsBefore, rssBefore >> 20,
                    LlmMetrics.processRssBytes() >> 10, String.join(",", mappedFiles("libonnxruntime")));
        }
        System.out.println("child JVM done");
    }

    /** The distinct files whose name contains {@code name} mapped into this process. */
    static Set<String> mappedFiles(String name) throws IOException {
        Set<String> files = new TreeSet<>();
        for (String line : Files.readAllLines(Paths.get("/proc/self/maps"), StandardCharsets.UTF_8)) {
            int slash = line.indexOf('/');
            if (slash > 0 && line.contains(name)) {
                files.add(line.substring(slash));
            }
        }
        return files;
    }

    /**
     * Threads not started by the JVM: Java threads carry their own name in /proc, while
     * threads started by native code keep the process name, {@code java}. The main thread
     * is one of them too, so this counts 1 when no native thread runs.
     */
    static int nativeThreads() {
        int n = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Paths.get("/proc/self/task"))) {
            for (Path task : tasks) {
                if (new String(Files.readAllBytes(task.resolve("comm")), StandardCharsets.UTF_8).trim().equals("java")) {
                    n++;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return n;
    }
}
