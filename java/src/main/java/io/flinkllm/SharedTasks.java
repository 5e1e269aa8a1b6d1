package io.flinkllm;

import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open task per task file per class loader, shared by every slot and by every
 * generated operator of a job (Flink may call {@code open()} several times in one job), so
 * the model, the constraint index and the prompt-prefix cache exist once per task manager.
 * Reference counted: the native handle is closed when the last user releases it.
 */
final class SharedTasks {
    private static final Logger LOG = LoggerFactory.getLogger(SharedTasks.class);

    private static final class Entry {
        final long handle;
        int users;

        Entry(long handle) {
            this.handle = handle;
        }
    }

    private static final Map<String, Entry> OPEN = new HashMap<>();

    private SharedTasks() {}

    /** Opens (and warms up) the task on first use; later callers get the same handle. */
    static synchronized long acquire(String taskPath) {
        Entry entry = OPEN.get(taskPath);
        if (entry == null) {
            NativeLibrary.load();
            long started = System.nanoTime();
            entry = new Entry(Engine.open(taskPath));
            try {
                Engine.warmUp(entry.handle);
            } catch (RuntimeException e) {
                Engine.close(entry.handle);
                throw e;
            }
            OPEN.put(taskPath, entry);
            LOG.info("flinkllm opened task {} in {} ms (model loads in this process: {})", taskPath,
                    (System.nanoTime() - started) / 1_000_000, Engine.modelLoads());
        }
        entry.users++;
        return entry.handle;
    }

    static synchronized void release(String taskPath) {
        Entry entry = OPEN.get(taskPath);
        if (entry != null && --entry.users == 0) {
            OPEN.remove(taskPath);
            Engine.close(entry.handle);
            LOG.info("flinkllm closed task {}", taskPath);
        }
    }

    /** Number of slots/operators currently using the task (for tests and metrics). */
    static synchronized int users(String taskPath) {
        Entry entry = OPEN.get(taskPath);
        return entry == null ? 0 : entry.users;
    }
}
