package io.flinkllm;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.ConfigOptions;

/**
 * Options of one {@code llm(...)} call. Each option can be given, first match wins:
 *
 * <ol>
 *   <li>in the call, as an optional third STRING literal: {@code llm(task, message,
 *       'error-handling-strategy=ignore')} (entries separated by {@code ;});
 *   <li>in the job configuration as {@code flinkllm.<option>}, e.g. {@code SET
 *       'flinkllm.error-handling-strategy' = 'ignore';} in the SQL client;
 *   <li>as a JVM system property {@code flinkllm.<option>} of the planning process.
 * </ol>
 *
 * Names follow Flink's own model providers where the meaning is the same.
 */
final class LlmOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    static final String PREFIX = "flinkllm.";
    static final String ERROR_HANDLING_STRATEGY = "error-handling-strategy";
    static final String TASKS_DIR = "tasks.dir";

    enum ErrorHandling {
        /** The job fails with the reason (Flink restarts it per its restart strategy). */
        FAILOVER,
        /** The row's result is NULL; the reason is logged and counted. */
        IGNORE
    }

    final ErrorHandling errorHandling;

    private LlmOptions(ErrorHandling errorHandling) {
        this.errorHandling = errorHandling;
    }

    static LlmOptions defaults() {
        return new LlmOptions(ErrorHandling.FAILOVER);
    }

    /** Resolves options from the call literal (may be null), then config (may be null), then system properties. */
    static LlmOptions resolve(String callOptions, ReadableConfig config) {
        Map<String, String> call = parseCallOptions(callOptions);
        String strategy = lookup(ERROR_HANDLING_STRATEGY, call, config);
        return new LlmOptions(parseStrategy(strategy == null ? "failover" : strategy));
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
            if (!key.equals(ERROR_HANDLING_STRATEGY)) {
                throw new IllegalArgumentException("llm() options: unknown option '" + key + "' (known: " + ERROR_HANDLING_STRATEGY + ")");
            }
            options.put(key, entry.substring(eq + 1).trim());
        }
        return options;
    }

    static ErrorHandling parseStrategy(String value) {
        try {
            return ErrorHandling.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(ERROR_HANDLING_STRATEGY + " must be failover or ignore, got '" + value + "'");
        }
    }
}
