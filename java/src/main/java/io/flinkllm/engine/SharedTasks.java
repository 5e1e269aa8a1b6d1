package io.flinkllm.engine;

import io.flinkllm.config.LlmOptions;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open task per {@link TaskSource} and engine options ({@link LlmOptions#engineKey}: max-tokens,
 * context overflow, batch-size — exactly what makes the engine open a task of its own) per
 * class loader, shared by every slot and by every generated operator of a job (Flink may call {@code open()} several times in one job), so
 * the model, the constraint index and the prompt-prefix cache exist once per task manager.
 * Reference counted: the native handle is closed when the last user releases it.
 *
 * <p>A task opened for {@link io.flinkllm.AsyncLlmFunction} also gets a small executor whose threads
 * ({@code flinkllm-async-*}, daemons) run the blocking native calls, so the task thread never
 * waits on the model; it is shut down with the native handle.
 */
public final class SharedTasks {
    private static final Logger LOG = LoggerFactory.getLogger(SharedTasks.class);

    private static final AtomicInteger ASYNC_THREADS = new AtomicInteger();

    private static final class Entry {
        final long handle;
        int users;
        ThreadPoolExecutor async;

        Entry(long handle) {
            this.handle = handle;
        }
    }

    private static final Map<String, Entry> OPEN = new HashMap<>();

    private SharedTasks() {}

    /** Opens (and warms up) the task on first use; later callers get the same handle. */
    public static synchronized long acquire(TaskSource task, LlmOptions options) {
        String key = key(task, options);
        Entry entry = OPEN.get(key);
        if (entry == null) {
            NativeLibrary.load();
            long started = System.nanoTime();
            entry = new Entry(task.open(options.engineKey(), AllowedPaths.current()));
            try {
                Engine.warmUp(entry.handle);
            } catch (RuntimeException e) {
                Engine.close(entry.handle);
                throw e;
            }
            OPEN.put(key, entry);
            LOG.info("flinkllm opened task {} ({}) in {} ms (model loads in this process: {})", task, options.engineKey(),
                    (System.nanoTime() - started) / 1_000_000, Engine.modelLoads());
        }
        entry.users++;
        return entry.handle;
    }

    public static synchronized void release(TaskSource task, LlmOptions options) {
        String key = key(task, options);
        Entry entry = OPEN.get(key);
        if (entry != null && --entry.users == 0) {
            OPEN.remove(key);
            if (entry.async != null) {
                // Rows still queued then fail fast on the closed handle; running ones finish.
                entry.async.shutdown();
            }
            Engine.close(entry.handle);
            LOG.info("flinkllm closed task {}", task);
        }
    }

    /**
     * The executor for asynchronous rows of a task the caller holds ({@link #acquire}d), with at
     * least {@code threads} threads: created on first use, grown when a later user wants more.
     * Idle threads end after a minute.
     */
    public static synchronized Executor asyncExecutor(TaskSource task, LlmOptions options, int threads) {
        Entry entry = OPEN.get(key(task, options));
        if (entry == null) {
            throw new IllegalStateException("task " + task + " is not open");
        }
        int size = Math.max(1, threads);
        if (entry.async == null) {
            entry.async = new ThreadPoolExecutor(size, size, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), runnable -> {
                Thread t = new Thread(runnable, "flinkllm-async-" + ASYNC_THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            entry.async.allowCoreThreadTimeOut(true);
        } else if (entry.async.getMaximumPoolSize() < size) {
            entry.async.setMaximumPoolSize(size);
            entry.async.setCorePoolSize(size);
        }
        return entry.async;
    }

    /** Threads of the task's async executor right now (0 without one; for tests). */
    public static synchronized int asyncThreads(TaskSource task, LlmOptions options) {
        Entry entry = OPEN.get(key(task, options));
        return entry == null || entry.async == null ? 0 : entry.async.getPoolSize();
    }

    /** Number of slots/operators currently using the task with these options (for tests). */
    public static synchronized int users(TaskSource task, LlmOptions options) {
        Entry entry = OPEN.get(key(task, options));
        return entry == null ? 0 : entry.users;
    }

    /** Tasks open right now, all options together (for tests: 0 once every job closed). */
    public static synchronized int openTasks() {
        return OPEN.size();
    }

    private static String key(TaskSource task, LlmOptions options) {
        return task.label + "\n" + task.document + "\n" + task.base + "\n" + options.engineKey();
    }
}
