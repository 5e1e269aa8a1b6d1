package io.flinkllm.engine;

import io.flinkllm.LlmException;
import io.flinkllm.metrics.LlmMetrics;

/**
 * Runs inside one isolated class loader of {@link ChildJvmMain}: loads the libraries, then
 * twice opens a task, runs a row, forces a panic (it must come back as
 * a kind {@code Panic} {@link LlmException}), runs a row again and closes; reports what each close left.
 */
public final class NativeProbe {
    private NativeProbe() {}

    /**
     * Returns {@code library=<path> onnxruntime=<path> panic=<message> liveModelsAfterClose=<n>
     * threadsOpen=<n> threadsAfterClose1=<n> rssAfterClose1MiB=<n> threadsAfterClose2=<n>
     * rssAfterClose2MiB=<n>}.
     */
    public static String run(String task, String panicInput) {
        NativeLibrary.Loaded loaded = NativeLibrary.load();
        StringBuilder report = new StringBuilder("library=" + loaded.flinkllm + " onnxruntime=" + loaded.onnxRuntime);
        int threadsOpen = 0;
        String afterClose = "";
        for (int cycle = 1; cycle <= 2; cycle++) {
            long handle = Engine.open(task, null, null, "{}", null);
            threadsOpen = ChildJvmMain.nativeThreads();
            String panic;
            try {
                Engine.generate(handle, "first row", 0, new long[Engine.STATS]);
                try {
                    Engine.generate(handle, panicInput, 0, null);
                    panic = "none";
                } catch (LlmException e) {
                    panic = e.getMessage();
                }
                // The task is still usable after the panic.
                Engine.generate(handle, "after the panic", 0, null);
            } finally {
                Engine.close(handle);
            }
            if (cycle == 1) {
                report.append(" panic=").append(panic);
            }
            afterClose += " threadsAfterClose" + cycle + "=" + ChildJvmMain.nativeThreads() + " rssAfterClose" + cycle + "MiB=" + (LlmMetrics.processRssBytes() >> 20);
        }
        return report + " liveModelsAfterClose=" + Engine.liveModels() + " threadsOpen=" + threadsOpen + afterClose;
    }
}
