package io.flinkllm;

import java.io.Serializable;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.util.TimeUtils;

/**
 * Options of one {@code llm(...)} call. Each option can be given, first match wins:
 *
 * <ol>
 *   <li>in the call, as an optional third STRING literal: {@code llm(task, message,
 *       'error-handling-strategy=ignore; max-tokens=64')} (entries separated by {@code ;});
 *   <li>in the job configuration as {@code flinkllm.<option>}, e.g. {@code SET
 *       'flinkllm.error-handling-strategy' = 'ignore';} in the SQL client;
 *   <li>as a JVM system property {@code flinkllm.<option>} of the planning process.
 * </ol>
 *
 * Names follow Flink's own model providers where the meaning is the same.
 *
 * <table>
 *   <caption>options</caption>
 *   <tr><td>{@code error-handling-strategy}</td><td>{@code failover} (default): a failed row fails the
 *       job; {@code ignore}: its result is NULL, the reason is logged and counted</td></tr>
 *   <tr><td>{@code error-column}</td><td>{@code true}: the ROW gets a last nullable {@code error} STRING
 *       field; a failed row that is not failed over gives a ROW with only {@code error} set. It changes
 *       the ROW type, so the planner must see it: give it in the call or as a system property</td></tr>
 *   <tr><td>{@code max-tokens}</td><td>overrides the task file's {@code max_new_tokens}</td></tr>
 *   <tr><td>{@code timeout}</td><td>per-row limit, Flink duration syntax ({@code 500 ms}, {@code 30 s});
 *       a row over it fails with {@link RowTimeoutException}; default none</td></tr>
 *   <tr><td>{@code context-overflow-action}</td><td>input too long for the context window:
 *       {@code truncated-tail} / {@code truncated-head} drop tokens at the end / start of the input;
 *       {@code skipped}: NULL result (or error column) whatever the strategy; {@code failover}: the
 *       job fails whatever the strategy; unset: the task file's {@code context_overflow_action},
 *       else an {@link InputTooLongException} handled by {@code error-handling-strategy}</td></tr>
 *   <tr><td>{@code batch-size}</td><td>most rows of this task that share one forward pass in the engine
 *       (rows running at the same time in the task manager: several slots, or the async function's
 *       concurrent rows); {@code 1}: every row runs alone on its caller's thread; default
 *       {@link #DEFAULT_BATCH_SIZE}</td></tr>
 * </table>
 */
final class LlmOptions implements Serializable {
    private static final long serialVersionUID = 3L;

    static final String PREFIX = "flinkllm.";
    static final String ERROR_HANDLING_STRATEGY = "error-handling-strategy";
    static final String ERROR_COLUMN = "error-column";
    static final String MAX_TOKENS = "max-tokens";
    static final String TIMEOUT = "timeout";
    static final String CONTEXT_OVERFLOW_ACTION = "context-overflow-action";
    static final String BATCH_SIZE = "batch-size";
    static final String TASKS_DIR = "tasks.dir";

    /**
     * Engine rows per forward pass unless {@code batch-size} says otherwise, for both functions:
     * concurrent rows of one task in a task manager (sync calls from several slots, async rows)
     * share forward passes. The one place to change the default; 1 turns batching off. 8, not 16:
     * on 2 cores 16 rows per pass gave 2.5% more rows/s than 8 for 60% more native memory and
     * twice the latency (README, Benchmarks).
     */
    static final int DEFAULT_BATCH_SIZE = 8;

    /** Options a call literal may carry (tasks.dir names a file location, not a row policy). */
    static final List<String> CALL_OPTIONS = Arrays.asList(ERROR_HANDLING_STRATEGY, ERROR_COLUMN, MAX_TOKENS, TIMEOUT, CONTEXT_OVERFLOW_ACTION, BATCH_SIZE);

    enum ErrorHandling {
        /** The job fails with the reason (Flink restarts it per its restart strategy). */
        FAILOVER,
        /** The row's result is NULL (or only its error column is set); the reason is logged and counted. */
        IGNORE
    }

    enum ContextOverflow {
        TRUNCATED_TAIL("truncated-tail"),
        TRUNCATED_HEAD("truncated-head"),
        SKIPPED("skipped"),
        FAILOVER("failover");

        final String text;

        ContextOverflow(String text) {
            this.text = text;
        }

        /** The engine's own setting for this action: it truncates; skip/failover are decided here. */
        String engineSetting() {
            return this == TRUNCATED_TAIL || this == TRUNCATED_HEAD ? text : "error";
        }
    }

    final ErrorHandling errorHandling;
    final boolean errorColumn;
    /** 0 = the task file's max_new_tokens. */
    final long maxTokens;
    /** 0 = no limit. */
    final long timeoutMillis;
    /** null = the task file's context_overflow_action. */
    final ContextOverflow contextOverflow;
    /** Engine rows per forward pass; 1 = no batching. */
    final int batchSize;

    private LlmOptions(ErrorHandling errorHandling, boolean errorColumn, long maxTokens, long timeoutMillis, ContextOverflow contextOverflow,
            int batchSize) {
        this.errorHandling = errorHandling;
        this.errorColumn = errorColumn;
        this.maxTokens = maxTokens;
        this.timeoutMillis = timeoutMillis;
        this.contextOverflow = contextOverflow;
        this.batchSize = batchSize;
    }

    static LlmOptions defaults() {
        return new LlmOptions(ErrorHandling.FAILOVER, false, 0, 0, null, DEFAULT_BATCH_SIZE);
    }

    /** Resolves options from the call literal (may be null), then config (may be null), then system properties. */
    static LlmOptions resolve(String callOptions, ReadableConfig config) {
        Map<String, String> call = parseCallOptions(callOptions);
        String strategy = lookup(ERROR_HANDLING_STRATEGY, call, config);
        String errorColumn = lookup(ERROR_COLUMN, call, config);
        String maxTokens = lookup(MAX_TOKENS, call, config);
        String timeout = lookup(TIMEOUT, call, config);
        String overflow = lookup(CONTEXT_OVERFLOW_ACTION, call, config);
        String batchSize = lookup(BATCH_SIZE, call, config);
        return new LlmOptions(
                strategy == null ? ErrorHandling.FAILOVER : parseEnum(ErrorHandling.class, ERROR_HANDLING_STRATEGY, strategy),
                errorColumn != null && parseBoolean(errorColumn),
                maxTokens == null ? 0 : parsePositive(MAX_TOKENS, maxTokens),
                timeout == null ? 0 : parseTimeout(timeout),
                overflow == null ? null : parseEnum(ContextOverflow.class, CONTEXT_OVERFLOW_ACTION, overflow),
                batchSize == null ? DEFAULT_BATCH_SIZE : (int) Math.min(Integer.MAX_VALUE, parsePositive(BATCH_SIZE, batchSize)));
    }

    /** Options that shape the native task (tasks with different ones are opened separately). */
    String engineKey() {
        return "max-tokens=" + maxTokens + ";context-overflow=" + (contextOverflow == null ? "" : contextOverflow.engineSetting())
                + ";batch-size=" + batchSize;
    }

    static String lookup(String option, Map<String, String> call, ReadableConfig config) {
        if (call != null && call.containsKey(option)) {
            return call.get(option);
        }
        if (config != null) {
            String value = config.get(ConfigOptions.key(PREFIX + option).stringType().noDefaultValue());
            if (value != null) {
                return value;
            }
        }
        return System.getProperty(PREFIX + option);
    }

    static Map<String, String> parseCallOptions(String text) {
        Map<String, String> options = new LinkedHashMap<>();
        if (text == null) {
            return options;
        }
        for (String entry : text.split(";")) {
            if (entry.trim().isEmpty()) {
                continue;
            }
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("llm() options: expected key=value, got '" + entry.trim() + "' in '" + text + "'");
            }
            String key = entry.substring(0, eq).trim();
            if (!CALL_OPTIONS.contains(key)) {
                throw new IllegalArgumentException("llm() options: unknown option '" + key + "' (known: " + String.join(", ", CALL_OPTIONS) + ")");
            }
            options.put(key, entry.substring(eq + 1).trim());
        }
        return options;
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String option, String value) {
        String wanted = value.trim().toLowerCase(Locale.ROOT);
        StringBuilder known = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            String name = e.name().toLowerCase(Locale.ROOT).replace('_', '-');
            if (name.equals(wanted)) {
                return e;
            }
            known.append(known.length() == 0 ? "" : " | ").append(name);
        }
        throw new IllegalArgumentException(option + " must be " + known + ", got '" + value + "'");
    }

    private static boolean parseBoolean(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (!v.equals("true") && !v.equals("false")) {
            throw new IllegalArgumentException(ERROR_COLUMN + " must be true or false, got '" + value + "'");
        }
        return v.equals("true");
    }

    private static long parsePositive(String option, String value) {
        try {
            long n = Long.parseLong(value.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below with the option name
        }
        throw new IllegalArgumentException(option + " must be a whole number >= 1, got '" + value + "'");
    }

    private static long parseTimeout(String value) {
        Duration d;
        try {
            d = TimeUtils.parseDuration(value.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(TIMEOUT + " must be a duration such as '500 ms' or '30 s', got '" + value + "'", e);
        }
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(TIMEOUT + " must be longer than 0, got '" + value + "'");
        }
        return Math.max(1, d.toMillis());
    }
}
