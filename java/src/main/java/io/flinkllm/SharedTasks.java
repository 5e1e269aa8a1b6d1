package io.flinkllm;

import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open task per task file and engine options ({@link LlmOptions#engineKey}) per class
 * loader, shared by every slot and by every
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
    static synchronized long acquire(String taskPath, LlmOptions options) {
        String key = key(taskPath, options);
        Entry entry = OPEN.get(key);
        if (entry == null) {
            NativeLibrary.load();
            long started = System.nanoTime();
            String overflow = options.contextOverflow == null ? null : options.contextOverflow.engineSetting();
            entry = new Entry(Engine.open(taskPath, options.maxTokens, overflow));
            try {
                Engine.warmUp(entry.handle);
            } catch (RuntimeException e) {
                Engine.close(entry.handle);
                throw e;
            }
            OPEN.put(key, entry);
            LOG.info("flinkllm opened task {} ({}) in {} ms (model loads in this process: {})", taskPath, options.engineKey(),
                    (System.nanoTime() - started) / 1_000_000, Engine.modelLoads());
        }
        entry.users++;
        return entry.handle;
    }

    static synchronized void release(String taskPath, LlmOptions options) {
        String key = key(taskPath, options);
        Entry entry = OPEN.get(key);
        if (entry != null && --entry.users == 0) {
            OPEN.remove(key);
            Engine.close(entry.handle);
            LOG.info("flinkllm closed task {}", taskPath);
        }
    }

    /** Number of slots/operators currently using the task with these options (for tests). */
    static synchronized int users(String taskPath, LlmOptions options) {
        Entry entry = OPEN.get(key(taskPath, options));
        return entry == null ? 0 : entry.users;
    }

    /** Tasks open right now, all options together (for tests: 0 once every job closed). */
    static synchronized int openTasks() {
        return OPEN.size();
    }

    private static String key(String taskPath, LlmOptions options) {
        return taskPath + "\n" + options.engineKey();
    }
}
